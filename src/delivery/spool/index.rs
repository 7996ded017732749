//! What a `Spool` knows of its directory, kept in memory so that storing an envelope does not list the directory:
//! the envelopes in queue order with their sizes, their total, and which are claimed.
//!
//! # Keeping up with other processes
//!
//! Other processes (and other `Spool`s of this one) add, claim and delete files at any time, so the index is
//! trusted only while the directory's modification time is the one it last matched. Every change this process
//! makes goes through [`Index::own_change`], which looks at that time right before the change (a different time
//! means someone else changed the directory meanwhile, and the index is stale) and right after it (the time this
//! change gave the directory, which the index now matches). Before a store or a claim decides anything,
//! [`Index::refresh`] looks once more and, if the index is stale, lists the directory again. A store into a
//! spool that only this process changes thus costs a few `stat`s of the directory on top of its own writes,
//! however many files the spool holds.
//!
//! A listing is trusted only if the directory's time did not move while it ran, and reads sizes only for files
//! the index does not know yet: a file's bytes never change under one name (it is written whole under a temporary
//! name, then renamed), so known sizes are reused and a listing `stat`s only the files that are new to it.
//!
//! # What the time cannot tell
//!
//! The time says that the directory changed, not how often, so a change by someone else is missed when it falls
//! between the look before one of this process's changes and that change: the change that follows hides it. One
//! that falls between the change and the look after it is caught, because the time the look finds is later than
//! the clock read when the change returned. Both rest on a file system that stamps each change with the time it
//! happened: Linux did so only to the clock tick (1 to 10 ms) before 6.13, and since then ext4, xfs, btrfs and
//! tmpfs hand out a finer time to a change made after someone looked at the last one. On a coarse clock, a change
//! in the same tick as one of ours is missed too. (A file system whose clock runs ahead of this machine's, as a
//! network share's may, makes every change look like someone else's: the index is then rebuilt at every store,
//! which is slow but right.)
//!
//! A missed file that has gone is found when it is evicted or claimed (`NotFound`), and the index is rebuilt. A
//! missed new file is counted at the next listing: when someone else's next change shows, or at the latest
//! [`RESCAN_INTERVAL`] after the last listing. Until then the spool may hold that many envelopes more than its
//! budgets.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use super::names::waiting_name;

/// The index is rebuilt from a listing at least this often, however unchanged the directory looks: 1 second. This
/// bounds how long a change the directory's time did not reveal can go uncounted, at the cost of one listing a
/// second while envelopes are being stored.
pub(super) const RESCAN_INTERVAL: Duration = Duration::from_secs(1);

/// How many times a refresh lists a directory that keeps changing while it is listed.
const LISTINGS_PER_REFRESH: usize = 3;

thread_local! {
    /// Whether this thread holds an index lock (see [`Index::lock`]).
    static HELD: Cell<bool> = const { Cell::new(false) };
}

/// A locked index; unlocking clears this thread's mark.
pub(super) struct IndexGuard<'a>(MutexGuard<'a, Index>);

impl std::ops::Deref for IndexGuard<'_> {
    type Target = Index;

    fn deref(&self) -> &Index {
        &self.0
    }
}

impl std::ops::DerefMut for IndexGuard<'_> {
    fn deref_mut(&mut self) -> &mut Index {
        &mut self.0
    }
}

impl Drop for IndexGuard<'_> {
    fn drop(&mut self) {
        HELD.with(|held| held.set(false));
    }
}

/// The envelopes of one spool directory, waiting and claimed, as this process last saw them.
pub(super) struct Index {
    dir: PathBuf,
    /// Waiting files by name, so in queue order, with their sizes.
    waiting: BTreeMap<String, u64>,
    /// Claimed files (by anyone), by their waiting name, with their sizes.
    claimed: BTreeMap<String, u64>,
    /// The sum of all the sizes.
    bytes: u64,
    /// The directory's modification time when the index last matched it; `None` when the index is stale (or the
    /// file system keeps no such time) and must be rebuilt before it is used.
    seen: Option<SystemTime>,
    /// When the index was last rebuilt from a listing.
    listed_at: Instant,
    /// [`RESCAN_INTERVAL`], except in tests.
    rescan_every: Duration,
    /// How many listings built it, for tests that count them.
    #[cfg(test)]
    listings: u64,
}

impl Index {
    /// The index of spool directory `dir`, from a listing.
    ///
    /// # Errors
    ///
    /// When the directory cannot be listed.
    pub(super) fn open(dir: &Path) -> io::Result<Index> {
        let mut index = Index {
            dir: dir.to_owned(),
            waiting: BTreeMap::new(),
            claimed: BTreeMap::new(),
            bytes: 0,
            seen: None,
            listed_at: Instant::now(),
            rescan_every: RESCAN_INTERVAL,
            #[cfg(test)]
            listings: 0,
        };
        index.rebuild()?;
        Ok(index)
    }

    /// Locks a shared index. A panic while it was held may have left it half updated, so a poisoned index is
    /// marked stale: the next refresh rebuilds it.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when this thread holds an index lock already. That happens only when spool code panics while
    /// holding it and the panic hook, on the same thread, turns to the spool for the panic's own event: waiting
    /// would be waiting for itself, so the hook is told at once and hands the event to the worker instead.
    pub(super) fn lock(index: &Mutex<Index>) -> io::Result<IndexGuard<'_>> {
        if HELD.with(Cell::get) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the spool is already in use on this thread",
            ));
        }
        let guard = index.lock().unwrap_or_else(|poisoned| {
            let mut index = poisoned.into_inner();
            index.seen = None;
            index
        });
        HELD.with(|held| held.set(true));
        Ok(IndexGuard(guard))
    }

    // === keeping up with the directory ===

    /// Makes the index match the directory before a decision: one look at the directory's time, and a listing
    /// only if someone else changed it since this process last did, the index is stale, or the last listing is
    /// older than [`RESCAN_INTERVAL`].
    ///
    /// # Errors
    ///
    /// When the directory cannot be listed.
    pub(super) fn refresh(&mut self) -> io::Result<()> {
        self.check();
        if self.seen.is_none() || self.listed_at.elapsed() >= self.rescan_every {
            self.rebuild()?;
        }
        Ok(())
    }

    /// Makes `change`, a change of this process's own to the directory, which also updates the index to match.
    ///
    /// The directory's time is looked at right before (if it moved, someone else changed the directory since the
    /// index last matched it: the index is stale, and the next refresh lists again) and right after (the time this
    /// change gave it, which the index then matches). The change is therefore never taken for someone else's,
    /// and someone else's is only taken for it if it falls between the two looks.
    pub(super) fn own_change<T>(&mut self, change: impl FnOnce(&mut Index) -> T) -> T {
        self.check();
        let result = change(self);
        let done = SystemTime::now();
        if self.seen.is_some() {
            self.seen = dir_time(&self.dir).filter(|&time| time <= done);
        }
        result
    }

    /// Marks the index stale if the directory's time is not the one it matched.
    fn check(&mut self) {
        if self.seen.is_some() && self.seen != dir_time(&self.dir) {
            self.seen = None;
        }
    }

    /// Marks the index stale: a file it listed turned out to be gone, so it is behind the directory.
    pub(super) fn invalidate(&mut self) {
        self.seen = None;
    }

    /// Builds the index anew from a listing. A listing during which the directory changed may have seen some of
    /// the change and not the rest; it is tried again, a few times at most, so that a steady stream of changes by
    /// other processes cannot keep a store listing forever. (The index is then left stale and the next refresh
    /// lists again.)
    fn rebuild(&mut self) -> io::Result<()> {
        for _ in 0..LISTINGS_PER_REFRESH {
            let before = dir_time(&self.dir);
            self.list()?;
            self.seen = before.filter(|&before| dir_time(&self.dir) == Some(before));
            if self.seen.is_some() || before.is_none() {
                break;
            }
        }
        Ok(())
    }

    /// Lists the directory into the index.
    fn list(&mut self) -> io::Result<()> {
        let mut waiting = BTreeMap::new();
        let mut claimed = BTreeMap::new();
        let mut bytes: u64 = 0;
        for dirent in fs::read_dir(&self.dir)? {
            let dirent = dirent?;
            let Ok(name) = dirent.file_name().into_string() else {
                continue;
            };
            let Some(original) = waiting_name(&name) else {
                continue;
            };
            if waiting.contains_key(original) || claimed.contains_key(original) {
                // Seen under both names, claimed or released while the listing ran: it is one envelope.
                continue;
            }
            let known = self.waiting.get(original).or(self.claimed.get(original));
            let size = match known {
                Some(&size) => size,
                None => match dirent.metadata() {
                    Ok(metadata) if metadata.is_file() => metadata.len(),
                    Ok(_) => continue,
                    // Claimed, completed or evicted since the listing.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                },
            };
            let into = if original.len() < name.len() {
                &mut claimed
            } else {
                &mut waiting
            };
            into.insert(original.to_owned(), size);
            bytes = bytes.saturating_add(size);
        }
        self.waiting = waiting;
        self.claimed = claimed;
        self.bytes = bytes;
        self.listed_at = Instant::now();
        #[cfg(test)]
        {
            self.listings += 1;
        }
        Ok(())
    }

    // === reading ===

    /// How many envelopes the spool holds, waiting or claimed.
    pub(super) fn files(&self) -> usize {
        self.waiting.len() + self.claimed.len()
    }

    /// How many bytes of envelopes the spool holds, waiting or claimed.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The waiting files' names, oldest first.
    pub(super) fn oldest_waiting(&self) -> impl Iterator<Item = &str> {
        self.waiting.keys().map(String::as_str)
    }

    /// The waiting files' sizes, oldest first.
    pub(super) fn waiting_sizes(&self) -> impl Iterator<Item = u64> + '_ {
        self.waiting.values().copied()
    }

    // === this process's own changes ===

    /// A new file, waiting or claimed, of `size` bytes, under waiting name `name`.
    pub(super) fn insert(&mut self, name: String, size: u64, claimed: bool) {
        self.forget(&name);
        let into = if claimed {
            &mut self.claimed
        } else {
            &mut self.waiting
        };
        into.insert(name, size);
        self.bytes = self.bytes.saturating_add(size);
    }

    /// Waiting file `name` is now claimed.
    pub(super) fn mark_claimed(&mut self, name: &str) {
        if let Some((name, size)) = self.waiting.remove_entry(name) {
            self.claimed.insert(name, size);
        }
    }

    /// Claimed file `name` is waiting again.
    pub(super) fn mark_waiting(&mut self, name: &str) {
        if let Some((name, size)) = self.claimed.remove_entry(name) {
            self.waiting.insert(name, size);
        }
    }

    /// File `name`, waiting or claimed, is gone.
    pub(super) fn forget(&mut self, name: &str) {
        if let Some(size) = self
            .waiting
            .remove(name)
            .or_else(|| self.claimed.remove(name))
        {
            self.bytes = self.bytes.saturating_sub(size);
        }
    }

    // === for tests ===

    /// How many listings have built this index.
    #[cfg(test)]
    pub(super) fn listings(&self) -> u64 {
        self.listings
    }

    /// Rebuilds at least every `every` rather than [`RESCAN_INTERVAL`].
    #[cfg(test)]
    pub(super) fn set_rescan_every(&mut self, every: Duration) {
        self.rescan_every = every;
    }

    /// Takes the directory as it is now for what the index holds, whatever changed: as if a change by someone
    /// else had gone unnoticed.
    #[cfg(test)]
    pub(super) fn overlook_changes(&mut self) {
        self.seen = dir_time(&self.dir);
    }
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The names are many and say nothing to a reader; the counts do.
        f.debug_struct("Index")
            .field("waiting", &self.waiting.len())
            .field("claimed", &self.claimed.len())
            .field("bytes", &self.bytes)
            .field("stale", &self.seen.is_none())
            .finish_non_exhaustive()
    }
}

/// The directory's modification time: nanoseconds on Linux, macOS and Windows file systems. `None` where it cannot
/// be read, which keeps the index stale, so every store lists the directory, as it would without an index.
fn dir_time(dir: &Path) -> Option<SystemTime> {
    fs::metadata(dir).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "00000000000000000001-0000000001-0000000001.envelope";
    const B: &str = "00000000000000000002-0000000001-0000000002.envelope";
    const C: &str = "00000000000000000003-0000000001-0000000003.envelope";

    /// Waits out the directory clock's tick, so that a change made next gets a time of its own even where the
    /// file system stamps directories from a coarse clock (Linux before 6.13 ticks every 1 to 10 ms).
    fn next_tick() {
        std::thread::sleep(Duration::from_millis(20));
    }

    fn index_of(dir: &Path) -> Index {
        Index::open(dir).unwrap()
    }

    #[test]
    fn a_listing_finds_waiting_and_claimed_files_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(C), b"ccc").unwrap();
        fs::write(tmp.path().join(A), b"a").unwrap();
        fs::write(
            tmp.path().join(format!("{B}.claimed-7-00000000000000ff-1")),
            b"bb",
        )
        .unwrap();
        for other in ["README", ".tmp-7-00000000000000ff-1", "1-2-3.envelope.bak"] {
            fs::write(tmp.path().join(other), b"not an envelope").unwrap();
        }
        fs::create_dir(tmp.path().join("corrupt")).unwrap();
        let index = index_of(tmp.path());
        assert_eq!(index.files(), 3);
        assert_eq!(index.bytes(), 6);
        assert_eq!(index.oldest_waiting().collect::<Vec<_>>(), [A, C]);
        assert_eq!(index.waiting_sizes().collect::<Vec<_>>(), [1, 3]);
    }

    #[test]
    fn own_changes_keep_it_fresh_and_foreign_ones_make_it_list_again() {
        let tmp = tempfile::tempdir().unwrap();
        let mut index = index_of(tmp.path());
        index.set_rescan_every(Duration::from_secs(3600));
        for (i, name) in [A, B].into_iter().enumerate() {
            index.own_change(|index| {
                fs::write(tmp.path().join(name), b"x").unwrap();
                index.insert(name.to_owned(), 1, false);
            });
            index.refresh().unwrap();
            assert_eq!(index.listings(), 1, "after own change {i}");
        }
        // Someone else adds a file: the next refresh lists, and counts it.
        next_tick();
        fs::write(tmp.path().join(C), b"xyz").unwrap();
        index.refresh().unwrap();
        assert_eq!(index.listings(), 2);
        assert_eq!((index.files(), index.bytes()), (3, 5));
        // Someone else deletes one while this process makes a change: the change is recorded, but the index
        // stays stale until the next refresh lists again.
        next_tick();
        fs::remove_file(tmp.path().join(A)).unwrap();
        index.own_change(|index| {
            fs::remove_file(tmp.path().join(B)).unwrap();
            index.forget(B);
        });
        index.refresh().unwrap();
        assert_eq!(index.listings(), 3);
        assert_eq!(index.oldest_waiting().collect::<Vec<_>>(), [C]);
    }

    #[test]
    fn it_lists_again_after_the_rescan_interval_whatever_the_time_says() {
        let tmp = tempfile::tempdir().unwrap();
        let mut index = index_of(tmp.path());
        index.set_rescan_every(Duration::ZERO);
        fs::write(tmp.path().join(A), b"x").unwrap();
        index.overlook_changes();
        index.refresh().unwrap();
        assert_eq!(index.files(), 1, "found by the periodic listing");
    }

    #[test]
    fn known_sizes_are_not_looked_up_again() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(A), b"x").unwrap();
        let mut index = index_of(tmp.path());
        // The same name with other bytes cannot happen in a spool (a name is written once); here it shows that the
        // rebuild took the size it knew rather than asking the file system.
        fs::write(tmp.path().join(A), b"xxxx").unwrap();
        fs::write(tmp.path().join(B), b"yy").unwrap();
        index.invalidate();
        index.refresh().unwrap();
        assert_eq!(index.bytes(), 1 + 2);
    }

    #[test]
    fn claims_and_releases_move_files_between_waiting_and_claimed() {
        let tmp = tempfile::tempdir().unwrap();
        let mut index = index_of(tmp.path());
        index.insert(A.to_owned(), 1, false);
        index.insert(B.to_owned(), 2, true);
        index.insert(C.to_owned(), 4, false);
        assert_eq!(index.oldest_waiting().collect::<Vec<_>>(), [A, C]);
        index.mark_claimed(A);
        index.mark_waiting(B);
        assert_eq!(index.oldest_waiting().collect::<Vec<_>>(), [B, C]);
        assert_eq!((index.files(), index.bytes()), (3, 7));
        index.forget(A);
        index.forget(C);
        index.forget("not there");
        assert_eq!((index.files(), index.bytes()), (1, 2));
    }

    #[test]
    fn a_poisoned_index_is_rebuilt() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = Mutex::new(index_of(tmp.path()));
        let _ = std::panic::catch_unwind(|| {
            let _held = Index::lock(&shared).unwrap();
            panic!("while holding the index");
        });
        let mut index = Index::lock(&shared).unwrap();
        let before = index.listings();
        index.refresh().unwrap();
        assert_eq!(index.listings(), before + 1);
    }

    #[test]
    fn a_thread_that_holds_the_lock_is_refused_at_once_and_others_wait() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = Mutex::new(index_of(tmp.path()));
        let held = Index::lock(&shared).unwrap();
        let again = Index::lock(&shared).err().expect("refused on this thread");
        assert_eq!(again.kind(), io::ErrorKind::WouldBlock);
        drop(held);
        // Unlocked, the same thread locks again; and another thread is never refused.
        drop(Index::lock(&shared).unwrap());
        let held = Index::lock(&shared).unwrap();
        std::thread::scope(|s| {
            let other = s.spawn(|| Index::lock(&shared).map(|_| ()));
            std::thread::sleep(Duration::from_millis(20));
            drop(held);
            other.join().unwrap().unwrap();
        });
    }
}
