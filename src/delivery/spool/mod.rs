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
//! sessions/4242-….session                                                   process 4242's running session
//! ```
//!
//! A waiting file is named `{unix_nanos:020}-{pid:010}-{seq:010}.envelope`, so the lexical order of names is the
//! order in which they were written (strictly so within one process, whose names never repeat; across processes as
//! far as their clocks agree). [`names`] has every name's format.
//!
//! # Invariants
//!
//! - **A file appears whole or not at all.** It is written to a dot-prefixed temporary name in the same directory,
//!   synced, and renamed into place; a crash leaves at most a temporary file, removed when its owner is gone.
//! - **One sender per file.** A sender claims a file by renaming it to a name that records its pid, a token that
//!   tells this process apart from an earlier one with the same pid, and the claim time. `rename` either moves the
//!   file or finds it gone, so two processes (or two threads) sharing the directory never claim the same file.
//!   Completing a claim deletes the file; releasing renames it back. See [`claim`].
//! - **A crashed sender loses nothing.** Opening the spool renames a claim back when its owner is gone: the same pid
//!   with another token (an earlier process, as when a container's main process is always pid 1), a pid that does
//!   not exist (Linux, through `/proc`), or, where liveness cannot be checked or a pid may have been reused, a claim
//!   older than [`STALE_CLAIM_AGE`](owner::STALE_CLAIM_AGE). A sender holds a claim for one send and its retries,
//!   so far less than that.
//! - **Bounded.** Storing past [`SpoolLimits::max_files`] or [`SpoolLimits::max_bytes`] deletes the oldest waiting
//!   files first and reports how many (the caller counts them as `cache_overflow`). Claimed files count towards the
//!   budgets but are never evicted: someone is sending them. A file older than [`SpoolLimits::max_age`] is deleted
//!   unsent when its turn comes, and reported the same way. See [`budget`], and below for several processes.
//! - **Corruption never blocks the queue.** A file that cannot be read or parsed is moved into `corrupt/` (which
//!   keeps the newest [`MAX_CORRUPT_FILES`](corrupt::MAX_CORRUPT_FILES)), counted, and the next file is tried.
//! - **Private.** On Unix, files are created with mode 0600 and the directories the spool creates with mode 0700:
//!   events may hold personal data.
//!
//! # The same cost at every size
//!
//! A store must not cost more because the spool is full: during a long outage the worker stores every event into
//! a spool at its budget, each store evicting the oldest. So the spool does not list its directory to decide what
//! to evict. It keeps an [`Index`] in memory (the envelopes in queue order, their sizes and total, and which are
//! claimed), updates it with each change it makes, and evicts the oldest waiting envelopes it lists. A store then
//! costs its own write, rename and eviction and a few `stat`s of the directory, whatever the spool holds; a claim
//! costs a rename and a read.
//!
//! Other processes share the directory, and the budgets hold for all of them together, so the index is checked
//! against the directory's modification time, which every change to the directory moves. This process looks at
//! it right before and right after each change of its own, and once more before a store or a claim decides
//! anything; it lists the directory again only when the time moved for a change that was not its own (and, as a
//! backstop, once every [`RESCAN_INTERVAL`](index::RESCAN_INTERVAL)). A file the index lists that another process
//! has since claimed or deleted is met as `NotFound` when it is evicted or claimed: the index is rebuilt, and a
//! store that was counting on the room evicts again.
//!
//! **The limit.** Stores in several processes at the same instant each decide from the directory as they found
//! it, without the others' new files: a spool one short of its budget can end one envelope over it for each other
//! process that stored at that instant, until the next store lists the changed directory and evicts down to the
//! budget. And a store puts its file in place before it evicts, so for that instant the spool holds one more per
//! store in progress. Two processes storing flat out thus keep the spool within its budget plus three, and back
//! within its budget at the next store; listing the directory at every store, as the spool did before it kept an
//! index, did no better. Beyond that, the directory's time cannot reveal a change another process makes in the
//! instant before one of this process's own, nor, on file systems with a coarse clock, in the same clock tick
//! (see [`index`]); such a change is counted at the next listing, one second later at the latest.
//!
//! Only `std` is used; the files are plain, so `cat` shows what is waiting.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::protocol::Envelope;

mod budget;
mod claim;
mod corrupt;
#[cfg(faultline_native_crash)]
pub(crate) mod crash_records;
mod files;
mod index;
mod live_session;
mod location;
pub(crate) mod names;
mod owner;

pub(crate) use budget::SpoolLimits;
pub(crate) use claim::Claim;
pub(crate) use location::default_dir;

use files::{create_private_dir, create_private_file};
use index::Index;
use names::{claim_name, envelope_name, now_secs, temp_name};
use owner::Owner;

/// A spool in `dir` with small budgets (10 files, 1 MiB, an hour), for the tests of the spool's own files.
#[cfg(test)]
pub(super) fn open_for_tests(dir: &Path) -> Spool {
    let limits = SpoolLimits {
        max_files: 10,
        max_bytes: 1 << 20,
        max_age: std::time::Duration::from_secs(3600),
    };
    Spool::open(dir, limits).unwrap()
}

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
    /// How many files older than the age budget were deleted on the way (`cache_overflow`).
    pub(crate) expired: u64,
}

/// A directory of envelopes waiting to be sent. See the [module documentation](self) for the layout and the
/// guarantees.
///
/// Every method takes `&self`; several `Spool`s (in one process or several) may share a directory.
#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    limits: SpoolLimits,
    /// What the directory holds. Every change this `Spool` makes to the directory is made under its lock, so that
    /// each is known as its own (see [`Index::own_change`]); writing and syncing a new file are not. Claims share
    /// it, to report what becomes of their files.
    index: Arc<Mutex<Index>>,
}

/// Writes an envelope's bytes into a freshly created temporary file; tests pass one that fails.
type WriteFn<'a> = &'a dyn Fn(&mut fs::File, &[u8]) -> io::Result<()>;

// === impl Spool ===

impl Spool {
    /// Opens (creating it, mode 0700 on Unix) the spool directory `dir`, checks that files can be created in it,
    /// recovers what crashed processes left (their claims go back to the queue, their temporary files are
    /// deleted), and lists it.
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
        let listed = claim::recover(&dir).and_then(|()| Index::open(&dir));
        let index = listed.map_err(|e| context(e, "cannot list the spool directory", &dir))?;
        Ok(Spool {
            dir,
            limits,
            index: Arc::new(Mutex::new(index)),
        })
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
        // Made once the index is unlocked: a claim locks it when it is settled or dropped.
        let claim = claimed_as.filter(|_| stored.stored).map(|(name, claimed)| {
            let index = Arc::clone(&self.index);
            Claim::new(index, &self.dir, &name, &claimed, bytes, None)
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
        let (name, temp) = (envelope_name(), self.dir.join(temp_name()));
        let created = {
            let mut index = Index::lock(&self.index)?;
            index.refresh()?;
            // A first look, so that an envelope there is no room for is not written at all.
            if self.evictions(&index, Some(len)).is_none() {
                return Ok(stored);
            }
            index.own_change(|_| create_private_file(&temp))
        };
        // Writing and syncing, the slow part, happen unlocked, so that a store on another thread (a shutdown that
        // ran out of time) never waits for this one's disk.
        let written = created.and_then(|mut file| write(&mut file, bytes));
        let mut index = Index::lock(&self.index)?;
        // Long enough for other processes to change the directory meanwhile: look again.
        let written = written.and_then(|()| index.refresh());
        if let Err(e) = written {
            remove_temp(&mut index, &temp);
            return Err(e);
        }
        let Some(evict) = self.evictions(&index, Some(len)) else {
            // Claimed files took the room meanwhile.
            remove_temp(&mut index, &temp);
            return Ok(stored);
        };
        // Choose the victims first and delete them only once the new file is in place, so a failed write costs
        // nothing and every eviction is reported.
        let victims = oldest(&index, evict);
        let target = final_name(&name);
        let claimed = target != name;
        let placed: io::Result<bool> = index.own_change(|index| {
            fs::rename(&temp, self.dir.join(&target))?;
            index.insert(name, len, claimed);
            Ok(self.evict(index, &victims, &mut stored.evicted))
        });
        let missed = match placed {
            Ok(missed) => missed,
            Err(e) => {
                remove_temp(&mut index, &temp);
                return Err(e);
            }
        };
        stored.stored = true;
        if missed {
            // A victim was gone: another process claimed or deleted it since the index last matched, so the index
            // was behind and the room it promised may be taken. Catch up, and evict what the budgets now need.
            // The envelope is stored whatever happens now: a directory that cannot be listed only ends this.
            index.invalidate();
            if index.refresh().is_ok() {
                let evict = self.evictions(&index, None).unwrap_or(0);
                if evict > 0 {
                    let victims = oldest(&index, evict);
                    index.own_change(|index| self.evict(index, &victims, &mut stored.evicted));
                }
            }
        }
        Ok(stored)
    }

    /// How many of the oldest waiting files to evict so that the index's envelopes, plus one of `incoming` bytes,
    /// fit the budgets; `None` when no eviction of waiting files would do.
    fn evictions(&self, index: &Index, incoming: Option<u64>) -> Option<usize> {
        self.limits.evictions(
            index.files(),
            index.bytes(),
            incoming,
            index.waiting_sizes(),
        )
    }

    /// Deletes waiting files `victims`, counting in `evicted` those it deleted. Returns whether one was gone
    /// already. A file that cannot be deleted is left in place and in the index, for the next store to try again.
    fn evict(&self, index: &mut Index, victims: &[String], evicted: &mut u64) -> bool {
        let mut missed = false;
        for victim in victims {
            match fs::remove_file(self.dir.join(victim)) {
                Ok(()) => *evicted += 1,
                // Claimed or deleted by another process: being sent, or evicted by someone else; not lost here.
                Err(e) if e.kind() == io::ErrorKind::NotFound => missed = true,
                Err(_) => continue,
            }
            index.forget(victim);
        }
        missed
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
        let (mut corrupt, mut expired) = (0, 0);
        let mut index = Index::lock(&self.index)?;
        loop {
            index.refresh()?;
            let Some(name) = index.oldest_waiting().next().map(str::to_owned) else {
                return Ok(Claimed {
                    claim: None,
                    corrupt,
                    expired,
                });
            };
            let claimed_name = claim_name(&name, Owner::this_process(), now_secs());
            let claimed = self.dir.join(&claimed_name);
            match index.own_change(|_| fs::rename(self.dir.join(&name), &claimed)) {
                Ok(()) => index.mark_claimed(&name),
                // Another sender was faster, or the file was evicted: the index was behind.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    index.forget(&name);
                    index.invalidate();
                    continue;
                }
                Err(e) => return Err(e),
            }
            let parsed = match fs::read(&claimed) {
                Ok(bytes) => Envelope::from_slice_raw(&bytes)
                    .ok()
                    .map(|envelope| (bytes, envelope)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    index.forget(&name);
                    index.invalidate();
                    continue;
                }
                Err(_) => None,
            };
            let Some((bytes, envelope)) = parsed else {
                if index.own_change(|_| corrupt::move_aside(&self.dir, &claimed, &name)) {
                    index.forget(&name);
                }
                corrupt += 1;
                continue;
            };
            if is_expired(&claimed, self.limits.max_age) {
                // Deleted unsent; if it cannot be, the claim is left for a later open to put back.
                if index.own_change(|_| fs::remove_file(&claimed)).is_ok() {
                    index.forget(&name);
                    expired += 1;
                }
                continue;
            }
            // Made once the index is unlocked: a claim locks it when it is settled or dropped.
            drop(index);
            let index = Arc::clone(&self.index);
            let claim = Claim::new(
                index,
                &self.dir,
                &name,
                &claimed_name,
                bytes,
                Some(envelope),
            );
            return Ok(Claimed {
                claim: Some(claim),
                corrupt,
                expired,
            });
        }
    }
}

/// Whether the file at `path` was written longer ago than `max_age`. A time that cannot be read, or that lies in
/// the future, is taken as young: the file is sent rather than lost.
fn is_expired(path: &Path, max_age: std::time::Duration) -> bool {
    fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
        .and_then(|written| written.elapsed().ok())
        .is_some_and(|age| age > max_age)
}

/// The names of the `n` oldest waiting files.
fn oldest(index: &Index, n: usize) -> Vec<String> {
    index.oldest_waiting().take(n).map(str::to_owned).collect()
}

/// Deletes a temporary file that will not be renamed into place; best effort, since a later open deletes what is
/// left once this process is gone.
fn remove_temp(index: &mut Index, temp: &Path) {
    index.own_change(|_| {
        let _ = fs::remove_file(temp);
    });
}

/// The same error kind, with a message that says what failed where.
fn context(error: io::Error, what: &str, dir: &Path) -> io::Error {
    io::Error::new(error.kind(), format!("{what} {}: {error}", dir.display()))
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::sync::Barrier;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, SystemTime};

    use super::corrupt::MAX_CORRUPT_FILES;
    use super::index::{IndexGuard, RESCAN_INTERVAL};
    use super::names::{CLAIM_MARK, CORRUPT_DIR, TEMP_PREFIX, waiting_name};
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
            ..SpoolLimits::default()
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

    fn index(spool: &Spool) -> IndexGuard<'_> {
        Index::lock(&spool.index).unwrap()
    }

    /// How many envelopes the directory holds, waiting or claimed, by the waiting names of one listing.
    fn envelopes_in(dir: &Path) -> usize {
        let Ok(listing) = fs::read_dir(dir) else {
            return 0;
        };
        let names: HashSet<String> = listing
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|name| waiting_name(&name).map(str::to_owned))
            .collect();
        names.len()
    }

    /// Waits out the directory clock's tick, so that the next change gets a time of its own even where the file
    /// system stamps directories from a coarse clock (Linux before 6.13 ticks every 1 to 10 ms).
    fn next_tick() {
        std::thread::sleep(Duration::from_millis(20));
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
    fn files_older_than_the_age_budget_are_deleted_unsent_and_counted() {
        let tmp = tempfile::tempdir().unwrap();
        let limits = SpoolLimits {
            max_age: Duration::from_secs(3600),
            ..SpoolLimits::default()
        };
        let spool = Spool::open(tmp.path(), limits).unwrap();
        let ids = store_n(&spool, 3);
        // The two oldest were written two hours ago.
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        for name in &names(tmp.path())[..2] {
            let file = fs::File::options()
                .write(true)
                .open(tmp.path().join(name))
                .unwrap();
            file.set_modified(two_hours_ago).unwrap();
        }
        let claimed = spool.claim_oldest().unwrap();
        assert_eq!(claimed.expired, 2);
        let claim = claimed.claim.expect("the young one");
        assert_eq!(id(claim.envelope()), ids[2]);
        claim.complete().unwrap();
        assert!(names(tmp.path()).is_empty(), "{:?}", names(tmp.path()));
    }

    #[test]
    fn a_requeued_file_goes_to_the_end_of_the_queue() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = open(tmp.path());
        let ids = store_n(&spool, 3);
        let claim = spool.claim_oldest().unwrap().claim.unwrap();
        assert_eq!(id(claim.envelope()), ids[0]);
        claim.requeue().unwrap();
        assert_eq!(drain(&spool), [ids[1], ids[2], ids[0]]);
        assert_eq!(index(&spool).files(), 0);
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

    #[test]
    fn a_full_spool_stores_without_listing_its_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = Spool::open(tmp.path(), limits(50, u64::MAX)).unwrap();
        index(&spool).set_rescan_every(Duration::from_secs(3600));
        store_n(&spool, 50);
        for _ in 0..200 {
            let stored = spool.store(&envelope()).unwrap();
            assert_eq!(stored.evicted, 1);
        }
        let (claim, _) = spool.store_claimed(&envelope()).unwrap();
        claim.unwrap().release().unwrap();
        spool
            .claim_oldest()
            .unwrap()
            .claim
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(index(&spool).listings(), 1, "only the listing at open");
        assert_eq!(envelopes_in(tmp.path()), 49);
    }

    #[test]
    fn another_spools_files_count_towards_the_budgets() {
        let tmp = tempfile::tempdir().unwrap();
        let budget = limits(5, u64::MAX);
        let (a, b) = (
            Spool::open(tmp.path(), budget).unwrap(),
            Spool::open(tmp.path(), budget).unwrap(),
        );
        let mut ids = Vec::new();
        for round in 0..6 {
            for spool in [&a, &b] {
                next_tick();
                ids.extend(store_n(spool, 1));
                assert!(envelopes_in(tmp.path()) <= 5, "round {round}");
            }
        }
        // Whoever stored them, the oldest went first.
        next_tick();
        assert_eq!(drain(&a), ids[ids.len() - 5..]);
    }

    #[test]
    fn files_that_vanish_under_the_index_are_passed_over() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = Spool::open(tmp.path(), limits(3, u64::MAX)).unwrap();
        let ids = store_n(&spool, 3);
        // Another process takes the two oldest, and this one does not notice.
        let listed = names(tmp.path());
        fs::remove_file(tmp.path().join(&listed[0])).unwrap();
        fs::remove_file(tmp.path().join(&listed[1])).unwrap();
        index(&spool).overlook_changes();

        // The store meant to evict the oldest, found it gone, and caught up: nothing was lost to make room.
        let newer = envelope();
        let stored = spool.store(&newer).unwrap();
        assert_eq!(
            stored,
            Stored {
                stored: true,
                evicted: 0
            }
        );
        fs::remove_file(tmp.path().join(&names(tmp.path())[0])).unwrap();
        index(&spool).overlook_changes();
        // A claim passes over the vanished file too.
        assert_eq!(drain(&spool), [id(&newer)]);
        assert!(!ids.contains(&id(&newer)));
    }

    #[test]
    fn a_file_the_index_missed_is_counted_at_the_next_listing() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = Spool::open(tmp.path(), limits(3, u64::MAX)).unwrap();
        let mut ids = store_n(&spool, 2);
        // Another process adds a file at the instant this one cannot tell (see the module documentation).
        let other = Spool::open(tmp.path(), limits(3, u64::MAX)).unwrap();
        ids.extend(store_n(&other, 1));
        index(&spool).overlook_changes();
        index(&spool).set_rescan_every(Duration::from_secs(3600));
        ids.extend(store_n(&spool, 1));
        let over = envelopes_in(tmp.path());
        assert_eq!(over, 4, "over the budget by the missed file");
        // The periodic listing counts it, and the next store evicts down to the budget, oldest first.
        index(&spool).set_rescan_every(Duration::ZERO);
        let last = envelope();
        let stored = spool.store(&last).unwrap();
        assert_eq!(stored.evicted, 2);
        ids.push(id(&last));
        assert_eq!(drain(&spool), ids[2..]);
    }

    #[test]
    fn a_store_does_not_wait_for_another_threads_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = Arc::new(open(tmp.path()));
        let bytes = envelope().to_vec(None);
        let other = Arc::clone(&spool);
        let stored = spool.store_with(&bytes, move |file, bytes| {
            // This disk is slow: it finishes the write only once another thread has stored an envelope.
            let (done, finished) = std::sync::mpsc::channel();
            let spool = Arc::clone(&other);
            std::thread::spawn(move || done.send(spool.store(&envelope()).ok()));
            let other = finished.recv_timeout(Duration::from_secs(10));
            assert!(
                matches!(other, Ok(Some(Stored { stored: true, .. }))),
                "the other store waited: {other:?}"
            );
            file.write_all(bytes)
        });
        assert!(stored.unwrap().stored);
        assert_eq!(drain(&spool).len(), 2);
    }

    /// Set in the child process of [`two_processes_keep_the_budgets`]: the spool directory the two share.
    const SHARED_SPOOL_VAR: &str = "FAULTLINE_SHARED_SPOOL_CHILD";
    /// The file budget of the shared spool: small, so both processes spend most of the run evicting.
    const SHARED_MAX_FILES: usize = 20;

    /// Stores 400 envelopes into `spool`, claiming and completing the oldest after every third store, and returns
    /// the ids of the envelopes it claimed.
    fn store_and_claim(spool: &Spool) -> Vec<EventId> {
        let mut claimed = Vec::new();
        for i in 0..400 {
            assert!(spool.store(&envelope()).unwrap().stored);
            if i % 3 == 2 {
                if let Some(claim) = spool.claim_oldest().unwrap().claim {
                    claimed.push(id(claim.envelope()));
                    claim.complete().unwrap();
                }
            }
        }
        claimed
    }

    /// The other process of [`two_processes_keep_the_budgets`]; does nothing unless started by it.
    #[test]
    fn child_shares_a_spool() {
        let Some(dir) = std::env::var_os(SHARED_SPOOL_VAR) else {
            return;
        };
        let spool = Spool::open(PathBuf::from(dir), limits(SHARED_MAX_FILES, u64::MAX)).unwrap();
        println!("ready");
        for id in store_and_claim(&spool) {
            println!("claimed {id}");
        }
    }

    /// Two processes store into one spool and claim from it at once, while a thread lists the directory
    /// throughout. No envelope is claimed twice, and the spool never holds more than its budget and the overshoot
    /// the module documentation allows two processes (see "The limit"): one envelope for the other process's
    /// store at the same instant, and one for each of the two stores in progress. Once the last changes have been
    /// counted, a rescan interval later, it is back within its budget.
    ///
    /// Were the index blind to the other process's files, each process would keep a budget's worth of its own and
    /// the spool would hold nearly twice its budget.
    #[test]
    fn two_processes_keep_the_budgets() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("spool");
        let spool = Spool::open(&dir, limits(SHARED_MAX_FILES, u64::MAX)).unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "delivery::spool::tests::child_shares_a_spool"])
            .args(["--nocapture", "--test-threads=1"])
            .env(SHARED_SPOOL_VAR, &dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert!(
            // After the test harness's `test … ` on the same line.
            lines
                .by_ref()
                .map_while(Result::ok)
                .any(|l| l.ends_with("ready")),
            "the child did not start"
        );

        let done = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (dir, done) = (dir.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                let (mut most, mut both) = (0, false);
                while !done.load(Ordering::Relaxed) {
                    let Ok(listing) = fs::read_dir(&dir) else {
                        continue;
                    };
                    // Waiting names by the pid in them: `{nanos}-{pid}-{seq}.envelope`.
                    let mut by_pid: HashMap<String, HashSet<String>> = HashMap::new();
                    for name in listing.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
                        if let Some(waiting) = waiting_name(&name) {
                            let pid = waiting.split('-').nth(1).unwrap_or_default().to_owned();
                            by_pid.entry(pid).or_default().insert(waiting.to_owned());
                        }
                    }
                    let n = by_pid.values().map(HashSet::len).sum::<usize>();
                    most = most.max(n);
                    both |= by_pid.len() == 2;
                    std::thread::yield_now();
                }
                (most, both)
            })
        };
        let ours = store_and_claim(&spool);
        let theirs: Vec<String> = lines
            .map_while(Result::ok)
            .filter_map(|l| l.strip_prefix("claimed ").map(str::to_owned))
            .collect();
        assert!(child.wait().unwrap().success(), "the child failed");
        done.store(true, Ordering::Relaxed);
        let (most, both) = watcher.join().unwrap();

        assert!(
            both,
            "the two processes' files were never in the spool together"
        );
        let overshoot = 1 + 2;
        assert!(
            most <= SHARED_MAX_FILES + overshoot,
            "the spool held {most} envelopes; budget {SHARED_MAX_FILES}, overshoot {overshoot}"
        );
        let mut claimed: HashSet<String> = HashSet::new();
        for id in ours.iter().map(EventId::to_string).chain(theirs) {
            assert!(claimed.insert(id.clone()), "{id} was claimed twice");
        }
        assert!(claimed.len() > 100, "{} claims", claimed.len());
        // Whatever either process missed is counted at the next listing, at the latest a rescan interval on.
        std::thread::sleep(RESCAN_INTERVAL);
        store_n(&spool, 1);
        assert!(envelopes_in(&dir) <= SHARED_MAX_FILES);
    }

    mod properties {
        use std::time::UNIX_EPOCH;

        use proptest::collection::{btree_map, vec};
        use proptest::prelude::*;

        use super::*;
        use crate::protocol::time::Timestamp;

        proptest! {
            // Each case opens a spool in a directory of its own and writes to disk: few cases.
            #![proptest_config(ProptestConfig::with_cases(24))]

            /// Whatever a waiting file holds, claiming it never panics: it is claimed with the bytes as stored
            /// and the envelope they hold, or moved into `corrupt/` and counted, as its bytes parse or not.
            #[test]
            fn any_file_is_claimed_or_moved_aside(
                framed in any::<bool>(),
                tail in vec(any::<u8>(), 0..512),
            ) {
                // Half the files start with a valid header line, so that the framing after it is what is tried.
                let mut bytes = if framed { b"{}\n".to_vec() } else { Vec::new() };
                bytes.extend(tail);
                let tmp = tempfile::tempdir().unwrap();
                let spool = open(tmp.path());
                let name = "00000000000000000001-0000000001-0000000001.envelope";
                fs::write(tmp.path().join(name), &bytes).unwrap();
                let claimed = spool.claim_oldest().unwrap();
                match (claimed.claim, Envelope::from_slice_raw(&bytes)) {
                    (Some(claim), Ok(envelope)) => {
                        prop_assert_eq!(claimed.corrupt, 0);
                        prop_assert_eq!(claim.bytes(), &bytes[..]);
                        prop_assert_eq!(claim.envelope(), &envelope);
                    }
                    (None, Err(_)) => {
                        prop_assert_eq!(claimed.corrupt, 1);
                        prop_assert_eq!(names(&tmp.path().join(CORRUPT_DIR)), [name]);
                    }
                    (claim, parsed) => {
                        prop_assert!(false, "claimed {:?}, parsed {:?}", claim.is_some(), parsed);
                    }
                }
            }

            /// An envelope the spool stores is claimed back as the same bytes, holding the same event.
            #[test]
            fn a_stored_envelope_is_claimed_back_the_same(
                message in proptest::option::of(any::<String>()),
                tags in btree_map(".{0,8}", ".{0,8}", 0..4),
                attachment in proptest::option::of(vec(any::<u8>(), 0..128)),
            ) {
                let event = Event {
                    // Whole seconds: the wire form keeps microseconds, so `now` would not read back equal.
                    timestamp: Timestamp(UNIX_EPOCH + Duration::from_secs(1_764_077_696)),
                    message,
                    tags,
                    ..Event::default()
                };
                let mut envelope = Envelope::from_event(event);
                if let Some(payload) = attachment {
                    envelope.items.push(crate::protocol::EnvelopeItem::Attachment(
                        crate::protocol::Attachment::new("data.bin", payload),
                    ));
                }
                let tmp = tempfile::tempdir().unwrap();
                let spool = open(tmp.path());
                prop_assert!(spool.store(&envelope).unwrap().stored);
                let claimed = spool.claim_oldest().unwrap();
                let claim = claimed.claim.expect("the stored envelope");
                prop_assert_eq!(claimed.corrupt, 0);
                prop_assert_eq!(claim.bytes(), &envelope.to_vec(None)[..]);
                prop_assert_eq!(claim.envelope().to_vec(None), envelope.to_vec(None));
                let read = claim.envelope().to_event().map(std::borrow::Cow::into_owned);
                prop_assert_eq!(read.as_ref(), envelope.event());
            }
        }
    }
}
