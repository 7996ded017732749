//! The offline spool: envelopes kept on disk until they can be delivered, across restarts.
//!
//! # Layout
//!
//! One directory per project (see [`default_dir`]) with one file per envelope, holding the envelope's wire bytes
//! without `sent_at` ([`Envelope::to_vec`] with `None`; the sender stamps the time of sending):
//!
//! ```text
//! 01764077696125000000-0000004242-0000000007.envelope                       waiting
//! 01764077696125000001-0000004242-0000000008.envelope.claimed-4242-…-1764…  being sent by process 4242
//! .tmp-4242-…-9                                                              being written
//! corrupt/01764077690000000000-0000001234-0000000001.envelope               did not parse; kept for a look
//! ```
//!
//! A waiting file is named `{unix_nanos:020}-{pid:010}-{seq:010}.envelope`, so the lexical order of names is the
//! order in which they were written (strictly so within one process, whose names never repeat; across processes as
//! far as their clocks agree).
//!
//! # Invariants
//!
//! - **A file appears whole or not at all.** It is written to a dot-prefixed temporary name in the same directory,
//!   synced, and renamed into place; a crash leaves at most a temporary file, removed when its owner is gone.
//! - **One sender per file.** A sender claims a file by renaming it to a name that records its pid, a token that
//!   tells this process apart from an earlier one with the same pid, and the claim time. `rename` either moves the
//!   file or finds it gone, so two processes (or two threads) sharing the directory never claim the same file.
//!   Completing a claim deletes the file; releasing renames it back.
//! - **A crashed sender loses nothing.** Opening the spool renames a claim back when its owner is gone: the same pid
//!   with another token (an earlier process, as when a container's main process is always pid 1), a pid that does
//!   not exist (Linux, through `/proc`), or, where liveness cannot be checked or a pid may have been reused, a claim
//!   older than [`STALE_CLAIM_AGE`](owner::STALE_CLAIM_AGE). A sender holds a claim for one send and its retries, so far less than that.
//! - **Bounded.** Storing past [`SpoolLimits::max_files`] or [`SpoolLimits::max_bytes`] deletes the oldest waiting
//!   files first and reports how many (the caller counts them as `cache_overflow`). Claimed files count towards the
//!   budgets but are never evicted: someone is sending them. Budgets are enforced at each store; two processes
//!   storing at once may briefly overshoot them.
//! - **Corruption never blocks the queue.** A file that cannot be read or parsed is moved into `corrupt/` (which
//!   keeps the newest [`MAX_CORRUPT_FILES`](corrupt::MAX_CORRUPT_FILES)), counted, and the next file is tried.
//! - **Private.** On Unix, files are created with mode 0600 and the directories the spool creates with mode 0700:
//!   events may hold personal data.
//!
//! Only `std` is used; the files are plain, so `cat` shows what is waiting.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::protocol::Envelope;

mod budget;
mod claim;
mod corrupt;
mod files;
mod location;
mod names;
mod owner;

pub(crate) use budget::SpoolLimits;
pub(crate) use claim::Claim;
pub(crate) use location::default_dir;

use files::{create_private_dir, create_private_file};
use names::{claim_name, envelope_name, now_secs, temp_name, waiting_name};
use owner::Owner;

/// What [`Spool::store`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stored {
    /// Whether the new envelope was written. `false` when it alone exceeds the byte budget, a budget is zero, or
    /// claimed files fill the budgets; the caller counts it as `cache_overflow` too.
    pub(crate) stored: bool,
    /// How many older envelopes were deleted to make room (`cache_overflow`).
    pub(crate) evicted: u64,
}

/// What [`Spool::claim_oldest`] found.
#[derive(Debug)]
pub(crate) struct Claimed {
    /// The oldest waiting envelope, now claimed by this process; `None` when nothing is waiting.
    pub(crate) claim: Option<Claim>,
    /// How many unreadable or unparsable files were moved into `corrupt/` on the way.
    pub(crate) corrupt: u64,
}

/// A directory of envelopes waiting to be sent. See the [module documentation](self) for the layout and the
/// guarantees.
///
/// Every method takes `&self`; several `Spool`s (in one process or several) may share a directory.
#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    limits: SpoolLimits,
}

/// Writes an envelope's bytes into a freshly created temporary file; tests pass one that fails.
type WriteFn<'a> = &'a dyn Fn(&mut fs::File, &[u8]) -> io::Result<()>;

// === impl Spool ===

impl Spool {
    /// Opens (creating it, mode 0700 on Unix) the spool directory `dir`, checks that files can be created in it,
    /// and recovers what crashed processes left: their claims go back to the queue, their temporary files are
    /// deleted.
    ///
    /// # Errors
    ///
    /// An `io::Error` of the underlying kind (`PermissionDenied`, `AlreadyExists` for a file in the way, …) whose
    /// message says what failed and names the directory, when the directory cannot be created, written or listed.
    /// The caller logs it and runs without a spool.
    pub(crate) fn open(dir: impl Into<PathBuf>, limits: SpoolLimits) -> io::Result<Spool> {
        let dir = dir.into();
        create_private_dir(&dir)
            .map_err(|e| context(e, "cannot create the spool directory", &dir))?;
        // Fail now rather than at the first store, when the event is already at stake: a read-only directory, or
        // one that belongs to another user, is found here.
        let probe = dir.join(temp_name());
        create_private_file(&probe)
            .map_err(|e| context(e, "cannot create files in the spool directory", &dir))?;
        // A probe that cannot be removed stays as a temporary file of this process; a later process removes it.
        let _ = fs::remove_file(&probe);
        claim::recover(&dir).map_err(|e| context(e, "cannot list the spool directory", &dir))?;
        Ok(Spool { dir, limits })
    }

    /// The directory.
    #[cfg(test)]
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `envelope` as the newest file and then deletes the oldest waiting files as far as needed to stay
    /// within the budgets.
    ///
    /// The envelope is not written (`stored: false`) when it alone exceeds the byte budget, a budget is zero, or
    /// the room could only be made by evicting claimed files. An old file that cannot be deleted is left in place
    /// and not counted; the next store tries again.
    ///
    /// # Errors
    ///
    /// When the directory cannot be listed or the file cannot be written or renamed into place (the disk is full,
    /// the directory was removed, …). Nothing has been evicted then; the caller counts the envelope as lost.
    pub(crate) fn store(&self, envelope: &Envelope) -> io::Result<Stored> {
        self.store_bytes(&envelope.to_vec(None))
    }

    /// [`Spool::store`] for the envelope of a request that may still reach the server (a shutdown that ran out of
    /// time takes it from the in-flight slot): without its client reports, whose counts would otherwise arrive twice.
    pub(crate) fn store_in_flight(&self, envelope: &Envelope) -> io::Result<Stored> {
        self.store_bytes(&envelope.to_vec_without_reports())
    }

    /// Stores an envelope's wire bytes, synced, under a waiting name.
    fn store_bytes(&self, bytes: &[u8]) -> io::Result<Stored> {
        self.store_with(bytes, |file, bytes| {
            file.write_all(bytes)?;
            file.sync_all()
        })
    }

    /// Writes `envelope` like [`Spool::store`], but already claimed by this process, for an envelope that is
    /// about to be sent: it is on disk before the request starts, so a crash or a request that outlives the
    /// shutdown timeout loses nothing, and no other process can take it meanwhile. The file is not synced (it
    /// survives the process, not the machine), which keeps the cost on the worker to a write and two renames.
    ///
    /// Returns the claim when the envelope was stored.
    ///
    /// # Errors
    ///
    /// As [`Spool::store`].
    pub(crate) fn store_claimed(&self, envelope: &Envelope) -> io::Result<(Option<Claim>, Stored)> {
        let bytes = envelope.to_vec(None);
        let mut claimed_as = None;
        let stored =
            self.store_inner(&bytes, &|file, bytes| file.write_all(bytes), &mut |name| {
                let claimed = claim_name(name, Owner::this_process(), now_secs());
                claimed_as = Some((name.to_owned(), claimed.clone()));
                claimed
            })?;
        let claim = claimed_as.filter(|_| stored.stored).map(|(name, claimed)| {
            Claim::new(self.dir.join(claimed), self.dir.join(name), bytes, None)
        });
        Ok((claim, stored))
    }

    /// [`Spool::store`] with the writing of the temporary file passed in, so tests can make it fail.
    fn store_with(
        &self,
        bytes: &[u8],
        write: impl Fn(&mut fs::File, &[u8]) -> io::Result<()>,
    ) -> io::Result<Stored> {
        self.store_inner(bytes, &write, &mut str::to_owned)
    }

    /// Stores `bytes` under the name that `final_name` makes of a fresh envelope name. Not generic, so that its
    /// one copy serves both kinds of store.
    fn store_inner(
        &self,
        bytes: &[u8],
        write: WriteFn<'_>,
        final_name: &mut dyn FnMut(&str) -> String,
    ) -> io::Result<Stored> {
        if bytes.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the envelope could not be serialised",
            ));
        }
        let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        let mut stored = Stored {
            stored: false,
            evicted: 0,
        };
        if self.limits.max_files == 0 || len > self.limits.max_bytes {
            return Ok(stored);
        }
        // Choose the victims first and delete them only once the new file is in place, so a failed write costs
        // nothing and every eviction is reported.
        let entries = self.scan()?;
        let waiting = || entries.iter().filter(|e| !e.claimed);
        let total = entries.iter().map(|e| e.size).sum();
        let Some(evict) =
            self.limits
                .evictions(entries.len(), total, Some(len), waiting().map(|e| e.size))
        else {
            // Only claimed files would be left, and they fill the budget.
            return Ok(stored);
        };
        let (name, temp) = (envelope_name(), self.dir.join(temp_name()));
        let target = self.dir.join(final_name(&name));
        let written = create_private_file(&temp)
            .and_then(|mut file| write(&mut file, bytes))
            .and_then(|()| fs::rename(&temp, target));
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        stored.stored = true;
        for victim in waiting().take(evict) {
            // A victim that is gone was claimed by another sender since the scan: it is being sent, not lost.
            if fs::remove_file(self.dir.join(&victim.name)).is_ok() {
                stored.evicted += 1;
            }
        }
        Ok(stored)
    }

    /// Claims the oldest waiting envelope for this process, moving unreadable files aside on the way.
    ///
    /// The file stays on disk, renamed, until [`Claim::complete`] deletes it or [`Claim::release`] (or dropping
    /// the claim) puts it back; if the process dies first, the next [`Spool::open`] puts it back.
    ///
    /// # Errors
    ///
    /// When the directory cannot be listed or a file cannot be renamed for a reason other than another sender
    /// having claimed it first.
    pub(crate) fn claim_oldest(&self) -> io::Result<Claimed> {
        let mut corrupt = 0;
        // `scan` lists oldest first.
        let waiting = self.scan()?.into_iter().filter(|e| !e.claimed);
        for Entry { name, .. } in waiting {
            let original = self.dir.join(&name);
            let claimed = self
                .dir
                .join(claim_name(&name, Owner::this_process(), now_secs()));
            match fs::rename(&original, &claimed) {
                Ok(()) => {}
                // Another sender was faster.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
            let parsed = match fs::read(&claimed) {
                Ok(bytes) => Envelope::from_slice_raw(&bytes)
                    .ok()
                    .map(|envelope| (bytes, envelope)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(_) => None,
            };
            match parsed {
                Some((bytes, envelope)) => {
                    let claim = Claim::new(claimed, original, bytes, Some(envelope));
                    return Ok(Claimed {
                        claim: Some(claim),
                        corrupt,
                    });
                }
                None => {
                    corrupt::move_aside(&self.dir, &claimed, &name);
                    corrupt += 1;
                }
            }
        }
        Ok(Claimed {
            claim: None,
            corrupt,
        })
    }

    /// The spool's files (waiting and claimed, not temporary or corrupt ones), oldest first.
    fn scan(&self) -> io::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for dirent in fs::read_dir(&self.dir)? {
            let dirent = dirent?;
            let Ok(name) = dirent.file_name().into_string() else {
                continue;
            };
            let Some(original_len) = waiting_name(&name).map(str::len) else {
                continue;
            };
            let claimed = original_len < name.len();
            let size = match dirent.metadata() {
                Ok(metadata) if metadata.is_file() => metadata.len(),
                Ok(_) => continue,
                // Claimed, completed or evicted since the listing.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            entries.push(Entry {
                name,
                original_len,
                size,
                claimed,
            });
        }
        entries.sort_unstable_by(|a, b| a.original().cmp(b.original()));
        Ok(entries)
    }
}

/// One file of the spool as [`Spool::scan`] sees it.
#[derive(Debug)]
struct Entry {
    /// The file name as it is now.
    name: String,
    /// The length of the waiting name at the start of `name`.
    original_len: usize,
    size: u64,
    /// Whether a sender holds it.
    claimed: bool,
}

impl Entry {
    /// The waiting name: the order of the queue.
    fn original(&self) -> &str {
        self.name.get(..self.original_len).unwrap_or(&self.name)
    }
}

/// The same error kind, with a message that says what failed where.
fn context(error: io::Error, what: &str, dir: &Path) -> io::Error {
    io::Error::new(error.kind(), format!("{what} {}: {error}", dir.display()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::{Arc, Barrier};

    use super::corrupt::MAX_CORRUPT_FILES;
    use super::names::{CLAIM_MARK, CORRUPT_DIR, TEMP_PREFIX};
    use super::*;
    use crate::protocol::{Event, EventId};

    fn envelope() -> Envelope {
        Envelope::from_event(Event::default())
    }

    fn id(envelope: &Envelope) -> EventId {
        envelope.event_id.expect("an event envelope")
    }

    fn limits(max_files: usize, max_bytes: u64) -> SpoolLimits {
        SpoolLimits {
            max_files,
            max_bytes,
        }
    }

    fn open(dir: &Path) -> Spool {
        Spool::open(dir, SpoolLimits::default()).unwrap()
    }

    /// Stores `n` fresh envelopes and returns their ids, oldest first.
    fn store_n(spool: &Spool, n: usize) -> Vec<EventId> {
        (0..n)
            .map(|_| {
                let envelope = envelope();
                let stored = spool.store(&envelope).unwrap();
                assert!(stored.stored);
                id(&envelope)
            })
            .collect()
    }

    /// Claims and completes everything, returning the ids in claim order.
    fn drain(spool: &Spool) -> Vec<EventId> {
        let mut ids = Vec::new();
        while let Some(claim) = spool.claim_oldest().unwrap().claim {
            ids.push(id(claim.envelope()));
            claim.complete().unwrap();
        }
        ids
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    /// Whether this process ignores file permissions (root, or a capability like `CAP_DAC_OVERRIDE`): it can
    /// create a file in a directory of mode 0500.
    #[cfg(unix)]
    fn ignores_permissions(scratch: &Path) -> bool {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch.join("permission-probe");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o500)).unwrap();
        let writable = fs::write(dir.join("x"), b"").is_ok();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        writable
    }

    #[test]
    fn store_claim_complete_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = open(tmp.path());
        let ids = store_n(&spool, 5);

        let first = spool.claim_oldest().unwrap();
        assert_eq!(first.corrupt, 0);
        let first = first.claim.unwrap();
        assert_eq!(id(first.envelope()), ids[0]);
        assert_eq!(first.bytes(), first.envelope().to_vec(None));
        assert!(
            !first.bytes().windows(9).any(|w| w == b"\"sent_at\""),
            "no sent_at on disk"
        );

        // While the first is claimed, the next claim takes the second.
        let second = spool.claim_oldest().unwrap().claim.unwrap();
        assert_eq!(id(second.envelope()), ids[1]);
        // A released claim keeps its place at the front.
        second.release().unwrap();
        first.complete().unwrap();
        assert_eq!(drain(&spool), ids[1..]);
        assert!(spool.claim_oldest().unwrap().claim.is_none());
        assert!(names(tmp.path()).is_empty(), "{:?}", names(tmp.path()));
    }

    #[test]
    fn file_budget_evicts_the_oldest() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = Spool::open(tmp.path(), limits(3, u64::MAX)).unwrap();
        let mut ids = Vec::new();
        let mut evicted = Vec::new();
        for _ in 0..6 {
            let envelope = envelope();
            let stored = spool.store(&envelope).unwrap();
            assert!(stored.stored);
            evicted.push(stored.evicted);
            ids.push(id(&envelope));
        }
        assert_eq!(evicted, [0, 0, 0, 1, 1, 1]);
        assert_eq!(drain(&spool), ids[3..]);
    }

    #[test]
    fn byte_budget_evicts_the_oldest() {
        let tmp = tempfile::tempdir().unwrap();
        let size = envelope().to_vec(None).len() as u64;
        // Room for two and a half envelopes of the usual size (they differ by a byte or so at most).
        let spool = Spool::open(tmp.path(), limits(100, size * 5 / 2)).unwrap();
        let mut ids = Vec::new();
        let mut evicted = Vec::new();
        for _ in 0..5 {
            let envelope = envelope();
            let stored = spool.store(&envelope).unwrap();
            assert!(stored.stored);
            evicted.push(stored.evicted);
            ids.push(id(&envelope));
        }
        assert_eq!(evicted, [0, 0, 1, 1, 1]);

        // One envelope bigger than the whole budget is refused and evicts nothing.
        let big = Event {
            message: Some("x".repeat(size as usize * 3)),
            ..Event::default()
        };
        let stored = spool.store(&Envelope::from_event(big)).unwrap();
        assert_eq!(
            stored,
            Stored {
                stored: false,
                evicted: 0
            }
        );
        // One that needs the room of both waiting envelopes evicts both.
        let wide = Envelope::from_event(Event {
            message: Some("x".repeat(size as usize)),
            ..Event::default()
        });
        let stored = spool.store(&wide).unwrap();
        assert_eq!(
            stored,
            Stored {
                stored: true,
                evicted: 2
            }
        );
        assert_eq!(drain(&spool), [id(&wide)]);
    }

    #[test]
    fn claimed_files_count_but_are_not_evicted() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = Spool::open(tmp.path(), limits(2, u64::MAX)).unwrap();
        let ids = store_n(&spool, 2);
        let held = spool.claim_oldest().unwrap().claim.unwrap();
        assert_eq!(id(held.envelope()), ids[0]);

        let newer = envelope();
        let stored = spool.store(&newer).unwrap();
        assert_eq!(
            stored,
            Stored {
                stored: true,
                evicted: 1
            },
            "the waiting one goes, not the claimed one"
        );
        // With both slots claimed, a new envelope is refused rather than evicting work in flight.
        let also_held = spool.claim_oldest().unwrap().claim.unwrap();
        let stored = spool.store(&envelope()).unwrap();
        assert_eq!(
            stored,
            Stored {
                stored: false,
                evicted: 0
            }
        );
        drop(also_held); // released by drop
        held.release().unwrap();
        assert_eq!(drain(&spool), [ids[0], id(&newer)]);
    }

    #[test]
    fn zero_budgets_store_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        for limits in [limits(0, u64::MAX), limits(10, 0)] {
            let spool = Spool::open(tmp.path(), limits).unwrap();
            let stored = spool.store(&envelope()).unwrap();
            assert!(!stored.stored, "{limits:?}");
        }
        assert!(names(tmp.path()).is_empty());
    }

    #[test]
    fn two_spools_never_claim_the_same_file() {
        const FILES: usize = 300;
        let tmp = tempfile::tempdir().unwrap();
        let big = limits(FILES, u64::MAX);
        let writer = Spool::open(tmp.path(), big).unwrap();
        let stored: HashSet<EventId> = store_n(&writer, FILES).into_iter().collect();

        let start = Arc::new(Barrier::new(2));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let spool = Spool::open(tmp.path(), big).unwrap();
                let start = Arc::clone(&start);
                std::thread::spawn(move || {
                    start.wait();
                    let mut ids = Vec::new();
                    while let Some(claim) = spool.claim_oldest().unwrap().claim {
                        ids.push(id(claim.envelope()));
                        claim.complete().unwrap();
                    }
                    ids
                })
            })
            .collect();
        let results: Vec<Vec<EventId>> = threads.into_iter().map(|t| t.join().unwrap()).collect();

        let mut seen = HashSet::new();
        for ids in &results {
            for id in ids {
                assert!(seen.insert(*id), "{id:?} was claimed twice");
            }
        }
        assert_eq!(seen, stored, "every file was claimed once");
        assert!(names(tmp.path()).is_empty());
    }

    #[test]
    fn stale_claims_are_recovered_at_open() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = open(tmp.path());
        let ids = store_n(&spool, 3);
        let mut waiting = names(tmp.path());
        assert_eq!(waiting.len(), 3);

        // The oldest was claimed by a process that is gone: a pid no system hands out, and long ago, so both the
        // liveness check and the age rule call it stale. The second was claimed by an earlier process that had
        // our pid. The third is claimed by this process, now: live.
        let dead = Owner {
            pid: u32::MAX,
            token: 1,
        };
        let earlier = Owner {
            pid: std::process::id(),
            token: Owner::this_process().token ^ 1,
        };
        let tags = [
            (dead, 0),
            (earlier, now_secs()),
            (Owner::this_process(), now_secs()),
        ];
        for (name, (owner, secs)) in waiting.iter().zip(tags) {
            fs::rename(
                tmp.path().join(name),
                tmp.path().join(claim_name(name, owner, secs)),
            )
            .unwrap();
        }
        // A temporary file a dead writer left behind.
        let temp = format!("{TEMP_PREFIX}{}-{:016x}-9", u32::MAX, 1);
        fs::write(tmp.path().join(&temp), b"partial").unwrap();
        assert!(spool.claim_oldest().unwrap().claim.is_none(), "all claimed");

        let reopened = open(tmp.path());
        let now = names(tmp.path());
        waiting.truncate(2);
        assert_eq!(
            now[..2],
            waiting[..],
            "the two stale claims are waiting again"
        );
        assert!(now[2].contains(CLAIM_MARK), "the live claim is left alone");
        assert!(
            !now.contains(&temp),
            "the dead writer's temporary file is gone"
        );
        assert_eq!(drain(&reopened), ids[..2]);
    }

    #[test]
    fn corrupt_and_truncated_files_are_moved_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = open(tmp.path());
        let good = store_n(&spool, 1);
        let bytes = envelope().to_vec(None);
        // Older than the good one, so they are met first.
        let bad: [(&str, &[u8]); 4] = [
            (
                "00000000000000000001-0000000001-0000000001.envelope",
                b"not an envelope",
            ),
            (
                "00000000000000000002-0000000001-0000000002.envelope",
                &bytes[..bytes.len() - 10],
            ),
            ("00000000000000000003-0000000001-0000000003.envelope", b""),
            (
                "00000000000000000004-0000000001-0000000004.envelope",
                b"{}\n{\"type\":\"event\",\"length\":1000}\n{}",
            ),
        ];
        for (name, contents) in bad {
            fs::write(tmp.path().join(name), contents).unwrap();
        }
        let claimed = spool.claim_oldest().unwrap();
        assert_eq!(claimed.corrupt, 4);
        assert_eq!(id(claimed.claim.unwrap().envelope()), good[0]);
        let corrupt: Vec<String> = bad.iter().map(|(name, _)| (*name).to_owned()).collect();
        assert_eq!(names(&tmp.path().join(CORRUPT_DIR)), corrupt);
    }

    #[test]
    fn the_corrupt_directory_is_bounded() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = open(tmp.path());
        let total = MAX_CORRUPT_FILES + 5;
        let all: Vec<String> = (0..total)
            .map(|i| format!("{i:020}-0000000001-0000000001.envelope"))
            .collect();
        for name in &all {
            fs::write(tmp.path().join(name), b"garbage").unwrap();
        }
        let claimed = spool.claim_oldest().unwrap();
        assert!(claimed.claim.is_none());
        assert_eq!(claimed.corrupt, total as u64);
        assert_eq!(
            names(&tmp.path().join(CORRUPT_DIR)),
            all[5..],
            "the newest are kept"
        );
    }

    #[test]
    fn foreign_files_are_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("README"), b"mine").unwrap();
        fs::write(tmp.path().join("1-2-3.envelope.bak"), b"mine").unwrap();
        let spool = Spool::open(tmp.path(), limits(1, u64::MAX)).unwrap();
        store_n(&spool, 3);
        assert_eq!(drain(&spool).len(), 1);
        assert_eq!(names(tmp.path()), ["1-2-3.envelope.bak", "README"]);
    }

    #[test]
    fn dropping_a_claim_releases_it() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = open(tmp.path());
        let ids = store_n(&spool, 1);
        drop(spool.claim_oldest().unwrap().claim);
        assert_eq!(drain(&spool), ids);
    }

    #[test]
    fn open_creates_missing_parents() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a").join("b");
        let spool = open(&dir);
        assert_eq!(spool.dir(), dir);
        assert!(names(&dir).is_empty(), "the probe file is removed");
    }

    #[test]
    fn open_fails_clearly_where_it_cannot_write() {
        let tmp = tempfile::tempdir().unwrap();
        // A file where the directory should be.
        let file = tmp.path().join("file");
        fs::write(&file, b"").unwrap();
        let error = Spool::open(&file, SpoolLimits::default()).unwrap_err();
        assert!(error.to_string().contains("spool directory"), "{error}");
        assert!(
            error.to_string().contains(&file.display().to_string()),
            "{error}"
        );
        let error = Spool::open(file.join("below"), SpoolLimits::default()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("cannot create the spool directory"),
            "{error}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn open_fails_clearly_on_a_read_only_directory() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        if ignores_permissions(tmp.path()) {
            eprintln!("skipped: this process ignores file permissions (root?)");
            return;
        }
        let read_only = tmp.path().join("ro");
        fs::create_dir(&read_only).unwrap();
        fs::set_permissions(&read_only, fs::Permissions::from_mode(0o500)).unwrap();
        let inside = Spool::open(&read_only, SpoolLimits::default()).unwrap_err();
        let below = Spool::open(read_only.join("spool"), SpoolLimits::default()).unwrap_err();
        fs::set_permissions(&read_only, fs::Permissions::from_mode(0o700)).unwrap();

        assert_eq!(inside.kind(), io::ErrorKind::PermissionDenied);
        let message = inside.to_string();
        assert!(
            message.starts_with("cannot create files in the spool directory"),
            "{message}"
        );
        assert!(
            message.contains(&read_only.display().to_string()),
            "{message}"
        );
        assert_eq!(below.kind(), io::ErrorKind::PermissionDenied);
        assert!(
            below
                .to_string()
                .starts_with("cannot create the spool directory"),
            "{below}"
        );
    }

    #[test]
    fn a_failed_store_evicts_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = Spool::open(tmp.path(), limits(1, u64::MAX)).unwrap();
        let ids = store_n(&spool, 1);
        let bytes = envelope().to_vec(None);
        let result = spool.store_with(&bytes, |file, bytes| {
            // Half a file, then the disk is full.
            file.write_all(&bytes[..bytes.len() / 2])?;
            Err(io::Error::other("disk full"))
        });
        assert_eq!(result.unwrap_err().to_string(), "disk full");
        assert_eq!(drain(&spool), ids, "the old envelope is still there");
        assert!(names(tmp.path()).is_empty(), "no temporary file is left");
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("spool");
        let spool = open(&dir);
        store_n(&spool, 1);
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        let name = &names(&dir)[0];
        assert_eq!(mode(&dir.join(name)), 0o600);
        // A claimed file keeps its mode; so does one moved aside.
        fs::write(
            dir.join("00000000000000000001-0000000001-0000000001.envelope"),
            b"x",
        )
        .unwrap();
        let claimed = spool.claim_oldest().unwrap();
        assert_eq!(mode(&dir.join(CORRUPT_DIR)), 0o700);
        let claim = claimed.claim.unwrap();
        assert_eq!(mode(claim.path()), 0o600);
    }
}
