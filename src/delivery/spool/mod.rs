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
//!   older than [`STALE_CLAIM_AGE`]. A sender holds a claim for one send and its retries, so far less than that.
//! - **Bounded.** Storing past [`SpoolLimits::max_files`] or [`SpoolLimits::max_bytes`] deletes the oldest waiting
//!   files first and reports how many (the caller counts them as `cache_overflow`). Claimed files count towards the
//!   budgets but are never evicted: someone is sending them. Budgets are enforced at each store; two processes
//!   storing at once may briefly overshoot them.
//! - **Corruption never blocks the queue.** A file that cannot be read or parsed is moved into `corrupt/` (which
//!   keeps the newest [`MAX_CORRUPT_FILES`]), counted, and the next file is tried.
//! - **Private.** On Unix, files are created with mode 0600 and the directories the spool creates with mode 0700:
//!   events may hold personal data.
//!
//! Only `std` is used; the files are plain, so `cat` shows what is waiting.

use std::collections::hash_map::RandomState;
use std::ffi::OsString;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::dsn::Dsn;
use crate::protocol::Envelope;

/// The default file budget: 100 envelopes, a long outage's worth of errors for most programs.
pub(crate) const DEFAULT_MAX_FILES: usize = 100;

/// The default byte budget: 16 MiB. An event is typically a few KiB to a few tens of KiB (the server accepts at
/// most 1 MiB), so the file budget usually binds first; this one bounds a run of unusually large events.
pub(crate) const DEFAULT_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// How many files `corrupt/` keeps (the newest), so a bug that writes bad files cannot fill the disk.
pub(crate) const MAX_CORRUPT_FILES: usize = 10;

/// A claim (or temporary file) older than this is taken as abandoned whoever owns it: 10 minutes. Where the
/// owner's liveness can be checked (Linux) a dead owner's claims are recovered at once; this age covers the other
/// systems, and a pid reused by an unrelated process.
pub(crate) const STALE_CLAIM_AGE: Duration = Duration::from_secs(10 * 60);

/// Waiting files end with this.
const SUFFIX: &str = ".envelope";
/// A claimed file is `{waiting name}{CLAIM_MARK}{pid}-{token:016x}-{unix_secs}`.
const CLAIM_MARK: &str = ".claimed-";
/// A file being written is `{TEMP_PREFIX}{pid}-{token:016x}-{seq}`.
const TEMP_PREFIX: &str = ".tmp-";
/// Where unreadable files go.
const CORRUPT_DIR: &str = "corrupt";

/// The budgets of a [`Spool`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpoolLimits {
    /// At most this many envelopes, claimed ones included. Defaults to [`DEFAULT_MAX_FILES`].
    pub(crate) max_files: usize,
    /// At most this many bytes of envelopes, claimed ones included. Defaults to [`DEFAULT_MAX_BYTES`].
    pub(crate) max_bytes: u64,
}

impl Default for SpoolLimits {
    fn default() -> Self {
        SpoolLimits {
            max_files: DEFAULT_MAX_FILES,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
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
        write_new(&probe, b"", false)
            .map_err(|e| context(e, "cannot create files in the spool directory", &dir))?;
        // A probe that cannot be removed stays as a temporary file of this process; a later process removes it.
        let _ = fs::remove_file(&probe);
        let spool = Spool { dir, limits };
        spool
            .recover()
            .map_err(|e| context(e, "cannot list the spool directory", &spool.dir))?;
        Ok(spool)
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
        self.store_with(bytes, |path, bytes| write_new(path, bytes, true))
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
        let stored = self.store_inner(
            &bytes,
            &|path, bytes| write_new(path, bytes, false),
            &mut |name| {
                let claimed = claim_name(name, Owner::this_process(), now_secs());
                claimed_as = Some((name.to_owned(), claimed.clone()));
                claimed
            },
        )?;
        let claim = claimed_as
            .filter(|_| stored.stored)
            .map(|(name, claimed)| Claim {
                claimed: self.dir.join(claimed),
                original: self.dir.join(name),
                bytes,
                envelope: None,
                settled: false,
            });
        Ok((claim, stored))
    }

    /// [`Spool::store`] with the writing of the temporary file passed in, so tests can make it fail.
    fn store_with(
        &self,
        bytes: &[u8],
        write: impl Fn(&Path, &[u8]) -> io::Result<()>,
    ) -> io::Result<Stored> {
        self.store_inner(bytes, &write, &mut str::to_owned)
    }

    /// Stores `bytes` under the name that `final_name` makes of a fresh envelope name. Not generic, so that its
    /// one copy serves both kinds of store.
    fn store_inner(
        &self,
        bytes: &[u8],
        write: &dyn Fn(&Path, &[u8]) -> io::Result<()>,
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
        let mut files = entries.len();
        let mut total: u64 = entries.iter().map(|e| e.size).sum();
        let fits = |files: usize, total: u64| {
            files < self.limits.max_files && total.saturating_add(len) <= self.limits.max_bytes
        };
        let mut victims = Vec::new();
        for entry in entries.iter().filter(|e| e.claim.is_none()) {
            if fits(files, total) {
                break;
            }
            victims.push(entry);
            files -= 1;
            total = total.saturating_sub(entry.size);
        }
        if !fits(files, total) {
            // Only claimed files would be left, and they fill the budget.
            return Ok(stored);
        }
        let (name, temp) = (envelope_name(), self.dir.join(temp_name()));
        let target = self.dir.join(final_name(&name));
        let written = write(&temp, bytes).and_then(|()| fs::rename(&temp, target));
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        stored.stored = true;
        for victim in victims {
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
        let waiting = self.scan()?.into_iter().filter(|e| e.claim.is_none());
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
                    let claim = Claim {
                        claimed,
                        original,
                        bytes,
                        envelope: Some(envelope),
                        settled: false,
                    };
                    return Ok(Claimed {
                        claim: Some(claim),
                        corrupt,
                    });
                }
                None => {
                    self.move_aside(&claimed, &name);
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
            let (claim, original_len) = match parse_claim_name(&name) {
                Some((original, claim)) => (Some(claim), original.len()),
                None if is_envelope_name(&name) => (None, name.len()),
                None => continue,
            };
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
                claim,
            });
        }
        entries.sort_unstable_by(|a, b| a.original().cmp(b.original()));
        Ok(entries)
    }

    /// Puts back the claims of processes that are gone and deletes their temporary files. Individual failures are
    /// skipped (another process may be recovering the same files); only a failure to list is an error.
    fn recover(&self) -> io::Result<()> {
        let now = now_secs();
        for dirent in fs::read_dir(&self.dir)? {
            let dirent = dirent?;
            let Ok(name) = dirent.file_name().into_string() else {
                continue;
            };
            if let Some((original, claim)) = parse_claim_name(&name) {
                if claim
                    .owner
                    .is_gone(Duration::from_secs(now.saturating_sub(claim.secs)))
                {
                    let _ = fs::rename(self.dir.join(&name), self.dir.join(original));
                }
            } else if let Some(owner) = parse_temp_name(&name) {
                let age = dirent
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|modified| SystemTime::now().duration_since(modified).ok())
                    .unwrap_or_default();
                if owner.is_gone(age) {
                    let _ = fs::remove_file(self.dir.join(&name));
                }
            }
        }
        Ok(())
    }

    /// Moves a claimed file that did not parse into `corrupt/` under its waiting name, keeping that directory within
    /// [`MAX_CORRUPT_FILES`]. Best effort: if it can be neither moved nor deleted it stays claimed, so this process
    /// does not try it again, and a later open puts it back.
    fn move_aside(&self, claimed: &Path, name: &str) {
        let corrupt_dir = self.dir.join(CORRUPT_DIR);
        let moved = create_private_dir(&corrupt_dir)
            .and_then(|()| fs::rename(claimed, corrupt_dir.join(name)));
        if moved.is_err() {
            let _ = fs::remove_file(claimed);
            return;
        }
        let Ok(listing) = fs::read_dir(&corrupt_dir) else {
            return;
        };
        let mut names: Vec<OsString> = listing.filter_map(|e| Some(e.ok()?.file_name())).collect();
        // The names start with their time, so the smallest is the oldest. One over the limit is the usual case,
        // and a few minimum searches cost less code than another sort.
        while names.len() > MAX_CORRUPT_FILES {
            let Some((oldest, _)) = names.iter().enumerate().min_by(|a, b| a.1.cmp(b.1)) else {
                break;
            };
            let _ = fs::remove_file(corrupt_dir.join(names.swap_remove(oldest)));
        }
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
    /// Who claimed it, if anyone.
    claim: Option<ClaimTag>,
}

impl Entry {
    /// The waiting name: the order of the queue.
    fn original(&self) -> &str {
        self.name.get(..self.original_len).unwrap_or(&self.name)
    }
}

// === impl Claim ===

/// An envelope claimed from the spool by this process.
///
/// Settle it with [`Claim::complete`] once it needs no more sending, or [`Claim::release`] to try again later.
/// Dropping it unsettled releases it.
pub(crate) struct Claim {
    claimed: PathBuf,
    original: PathBuf,
    bytes: Vec<u8>,
    /// The envelope read from the file, for a claim made by [`Spool::claim_oldest`]; a claim made by
    /// [`Spool::store_claimed`] leaves the envelope with the caller, who has it already.
    envelope: Option<Envelope>,
    settled: bool,
}

impl Claim {
    /// The file's bytes: the envelope's wire form without `sent_at`.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The envelope read from the file (see the field).
    #[cfg(test)]
    pub(crate) fn envelope(&self) -> &Envelope {
        self.envelope.as_ref().expect("a claim read from a file")
    }

    /// Takes the envelope read from the file (see the field).
    pub(crate) fn take_envelope(&mut self) -> Option<Envelope> {
        self.envelope.take()
    }

    /// Deletes the file: the server accepted the envelope (2xx), or rejected it for good (a 4xx other than 429,
    /// or retries ran out).
    ///
    /// # Errors
    ///
    /// When the file exists but cannot be deleted; it stays claimed and a later open puts it back, so it may be
    /// sent twice (the server drops the duplicate event id).
    pub(crate) fn complete(mut self) -> io::Result<()> {
        self.settled = true;
        match fs::remove_file(&self.claimed) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Puts the file back in the queue under its original name, so it keeps its place (for instance after a
    /// network error or while its category is rate limited).
    ///
    /// # Errors
    ///
    /// When the file cannot be renamed back; it stays claimed until a later open puts it back.
    pub(crate) fn release(mut self) -> io::Result<()> {
        self.settled = true;
        self.put_back()
    }

    fn put_back(&self) -> io::Result<()> {
        match fs::rename(&self.claimed, &self.original) {
            // Already put back by an open that took this claim for stale.
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.settled {
            let _ = self.put_back();
        }
    }
}

impl fmt::Debug for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The bytes are an event, possibly with personal data: leave them out.
        f.debug_struct("Claim")
            .field("path", &self.claimed)
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

// === names ===

/// Which process made a claim or temporary file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Owner {
    pid: u32,
    /// Random per process, so a later process that gets the same pid is not mistaken for this one.
    token: u64,
}

impl Owner {
    fn this_process() -> Owner {
        static TOKEN: OnceLock<u64> = OnceLock::new();
        let token = *TOKEN.get_or_init(|| {
            // std's hasher keys are random per process; hashing the time as well costs nothing.
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u128(unix_nanos());
            hasher.finish()
        });
        Owner {
            pid: std::process::id(),
            token,
        }
    }

    /// Whether what this owner left `age` ago may be taken back.
    fn is_gone(self, age: Duration) -> bool {
        let me = Owner::this_process();
        if self == me {
            return false;
        }
        if self.pid == me.pid || age >= STALE_CLAIM_AGE {
            return true;
        }
        pid_is_alive(self.pid) == Some(false)
    }
}

/// Whether a process with this pid exists, where that can be told (Linux with `/proc` mounted).
fn pid_is_alive(pid: u32) -> Option<bool> {
    if cfg!(target_os = "linux") && Path::new("/proc/self").exists() {
        Some(Path::new("/proc").join(pid.to_string()).exists())
    } else {
        None
    }
}

/// The claim part of a claimed file's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ClaimTag {
    owner: Owner,
    /// When it was claimed, in Unix seconds.
    secs: u64,
}

/// A fresh waiting name, later than every name this process made before.
fn envelope_name() -> String {
    static LAST_NANOS: AtomicU64 = AtomicU64::new(0);
    let now = u64::try_from(unix_nanos()).unwrap_or(u64::MAX);
    let nanos = monotonic(&LAST_NANOS, now);
    format!(
        "{nanos:020}-{:010}-{:010}{SUFFIX}",
        std::process::id(),
        next_seq()
    )
}

/// `now`, or one more than the last value returned if that is not earlier: the wall clock may stand still or step
/// back, and the queue order within the process must not.
fn monotonic(last: &AtomicU64, now: u64) -> u64 {
    let next = |last: u64| now.max(last.saturating_add(1));
    let previous = last
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(next(last))
        })
        .unwrap_or(now);
    next(previous)
}

/// A fresh temporary name.
fn temp_name() -> String {
    let me = Owner::this_process();
    format!("{TEMP_PREFIX}{}-{:016x}-{}", me.pid, me.token, next_seq())
}

/// A number that never repeats within the process, shared by every `Spool` so their names cannot collide.
fn next_seq() -> u64 {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

fn claim_name(name: &str, owner: Owner, secs: u64) -> String {
    format!(
        "{name}{CLAIM_MARK}{}-{:016x}-{secs}",
        owner.pid, owner.token
    )
}

/// `{digits}-{digits}-{digits}.envelope`: only files named like that are the spool's to send or evict.
fn is_envelope_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(SUFFIX) else {
        return false;
    };
    let mut parts = 0;
    for part in stem.split('-') {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        parts += 1;
    }
    parts == 3
}

/// Splits a claimed file's name into the waiting name and the claim.
fn parse_claim_name(name: &str) -> Option<(&str, ClaimTag)> {
    let (original, tag) = name.split_once(CLAIM_MARK)?;
    if !is_envelope_name(original) {
        return None;
    }
    let mut fields = tag.split('-');
    let pid = fields.next()?.parse().ok()?;
    let token = u64::from_str_radix(fields.next()?, 16).ok()?;
    let secs = fields.next()?.parse().ok()?;
    if fields.next().is_some() {
        return None;
    }
    Some((
        original,
        ClaimTag {
            owner: Owner { pid, token },
            secs,
        },
    ))
}

/// The owner of a temporary file.
fn parse_temp_name(name: &str) -> Option<Owner> {
    let mut fields = name.strip_prefix(TEMP_PREFIX)?.split('-');
    let pid = fields.next()?.parse().ok()?;
    let token = u64::from_str_radix(fields.next()?, 16).ok()?;
    let _seq: u64 = fields.next()?.parse().ok()?;
    fields.next().is_none().then_some(Owner { pid, token })
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// === files ===

/// Creates `dir` and its missing parents, mode 0700 on Unix; an existing directory is left as it is.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates `path` (it must not exist), mode 0600 on Unix, and writes `bytes`, syncing them to disk if `sync`.
fn write_new(path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    if sync {
        file.sync_all()?;
    }
    Ok(())
}

/// The same error kind, with a message that says what failed where.
fn context(error: io::Error, what: &str, dir: &Path) -> io::Error {
    io::Error::new(error.kind(), format!("{what} {}: {error}", dir.display()))
}

// === default directory ===

/// The default spool directory for `dsn`: `faultline/{host}-{port}-{project_id}` under the user's cache directory
/// (`$XDG_CACHE_HOME`, else `$HOME/.cache` on Linux and other Unix systems; `$HOME/Library/Caches` on macOS;
/// `%LOCALAPPDATA%` on Windows). The DSN's key is not part of the path. `None` when the environment names no
/// (absolute) cache directory.
pub(crate) fn default_dir(dsn: &Dsn) -> Option<PathBuf> {
    let base = cache_dir(|key| std::env::var_os(key))?;
    Some(base.join("faultline").join(project_dir_name(dsn)))
}

/// The user's cache directory, reading the environment through `var` (so tests need not change the real one).
/// Relative values are ignored, as the XDG base directory specification asks.
fn cache_dir(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let absolute = |key: &str| {
        var(key)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    if cfg!(windows) {
        absolute("LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        absolute("HOME").map(|home| home.join("Library").join("Caches"))
    } else {
        absolute("XDG_CACHE_HOME").or_else(|| absolute("HOME").map(|home| home.join(".cache")))
    }
}

/// `{host}-{port}-{project_id}`, with the host lowercased and every character other than ASCII letters, digits,
/// `.`, `-` and `_` replaced by `_` (an IPv6 host's brackets and colons are not allowed in Windows file names).
fn project_dir_name(dsn: &Dsn) -> String {
    let mut name = String::with_capacity(dsn.host().len() + 16);
    for c in dsn.host().chars() {
        name.push(match c {
            'a'..='z' | '0'..='9' | '.' | '-' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        });
    }
    format!("{name}-{}-{}", dsn.port(), dsn.project_id())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::{Arc, Barrier};

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
    fn names_sort_in_creation_order() {
        let names: Vec<String> = (0..1000).map(|_| envelope_name()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(names.iter().all(|n| is_envelope_name(n)));
        assert_eq!(names.iter().collect::<HashSet<_>>().len(), names.len());
    }

    #[test]
    fn the_name_clock_never_goes_back() {
        let last = AtomicU64::new(0);
        let cases = [
            (100, 100),
            (100, 101),
            (50, 102),
            (200, 200),
            (u64::MAX, u64::MAX),
            (5, u64::MAX),
        ];
        for (now, want) in cases {
            assert_eq!(monotonic(&last, now), want, "now = {now}");
        }
    }

    #[test]
    fn name_parsers() {
        let owner = Owner {
            pid: 42,
            token: 0xfeed,
        };
        let name = "00000000000000000001-0000000042-0000000000.envelope";
        assert!(is_envelope_name(name));
        for bad in [
            "",
            ".envelope",
            "1-2.envelope",
            "1-2-3-4.envelope",
            "1--3.envelope",
            "a-2-3.envelope",
            "1-2-3.envelope.tmp",
            "corrupt",
        ] {
            assert!(!is_envelope_name(bad), "{bad:?}");
        }
        let claimed = claim_name(name, owner, 7);
        assert_eq!(
            parse_claim_name(&claimed),
            Some((name, ClaimTag { owner, secs: 7 }))
        );
        for bad in [
            format!("{name}.claimed-42-feed"),
            format!("{name}.claimed-42-feed-7-8"),
            format!("{name}.claimed-x-feed-7"),
            "junk.claimed-42-feed-7".to_owned(),
        ] {
            assert_eq!(parse_claim_name(&bad), None, "{bad:?}");
        }
        assert_eq!(parse_temp_name(".tmp-42-feed-3"), Some(owner));
        assert_eq!(parse_temp_name(".tmp-42-feed"), None);
        assert_eq!(parse_temp_name(&temp_name()), Some(Owner::this_process()));
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
    fn a_live_foreign_claim_is_kept_until_it_is_old() {
        let owner = Owner {
            pid: std::process::id(),
            token: Owner::this_process().token,
        };
        assert!(!owner.is_gone(STALE_CLAIM_AGE * 100), "never our own");
        if std::process::id() != 1 && pid_is_alive(1) == Some(true) {
            let init = Owner { pid: 1, token: 7 };
            assert!(!init.is_gone(Duration::from_secs(1)));
            assert!(init.is_gone(STALE_CLAIM_AGE));
        }
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
        let result = spool.store_with(&bytes, |path, bytes| {
            // Half a file, then the disk is full.
            fs::write(path, &bytes[..bytes.len() / 2])?;
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
        assert_eq!(mode(&claim.claimed), 0o600);
    }

    #[test]
    fn cache_dir_from_the_environment() {
        type Vars = &'static [(&'static str, &'static str)];
        let env = |vars: Vars| {
            move |key: &str| {
                vars.iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        if cfg!(windows) {
            assert_eq!(
                cache_dir(env(&[("LOCALAPPDATA", r"C:\Users\u\AppData\Local")])),
                Some(PathBuf::from(r"C:\Users\u\AppData\Local"))
            );
            assert_eq!(cache_dir(env(&[("HOME", r"C:\Users\u")])), None);
        } else if cfg!(target_os = "macos") {
            assert_eq!(
                cache_dir(env(&[("HOME", "/Users/u"), ("XDG_CACHE_HOME", "/x")])),
                Some(PathBuf::from("/Users/u/Library/Caches"))
            );
        } else {
            let cases: &[(Vars, Option<&str>)] = &[
                (
                    &[("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/u")],
                    Some("/xdg"),
                ),
                (&[("HOME", "/home/u")], Some("/home/u/.cache")),
                (
                    &[("XDG_CACHE_HOME", "relative"), ("HOME", "/home/u")],
                    Some("/home/u/.cache"),
                ),
                (
                    &[("XDG_CACHE_HOME", ""), ("HOME", "/home/u")],
                    Some("/home/u/.cache"),
                ),
                (&[("HOME", "")], None),
                (&[], None),
            ];
            for &(vars, want) in cases {
                assert_eq!(cache_dir(env(vars)), want.map(PathBuf::from), "{vars:?}");
            }
        }
        assert_eq!(cache_dir(env(&[])), None);
    }

    #[test]
    fn project_directory_names() {
        let cases = [
            (
                "https://secretkey@o1.ingest.Example.com/42",
                "o1.ingest.example.com-443-42",
            ),
            (
                "http://secretkey@localhost:8000/prefix/7",
                "localhost-8000-7",
            ),
            ("https://secretkey:legacy@[::1]:9000/3", "___1_-9000-3"),
        ];
        for (dsn, want) in cases {
            let dsn: Dsn = dsn.parse().unwrap();
            assert_eq!(project_dir_name(&dsn), want);
        }
        let dsn: Dsn = "https://secretkey@sentry.example.com/42".parse().unwrap();
        if let Some(dir) = default_dir(&dsn) {
            assert!(dir.ends_with(Path::new("faultline").join("sentry.example.com-443-42")));
            assert!(!dir.to_string_lossy().contains("secretkey"));
        }
    }
}
