//! Native crash records: the files the signal handler leaves in `crashes/`, taken once at the next start.
//!
//! ```text
//! written by the handler   crashes/{pid}-{tid}-{unix_secs}-{nanos}.crash
//! taken                    crashes/{record name}.taken-{pid}-{token:016x}-{unix_secs}-{takes}
//! ```
//!
//! A record's process is gone once the record can be read: it crashed. A record is taken when its pid is not a
//! process (Linux, through `/proc`), when the pid is ours (an earlier process's, since this one has not crashed),
//! or when it is older than [`WRITTEN_WITHIN`], which no handler takes. Taking renames the record, so of two
//! processes starting together only one reports it; the taker deletes it once the crash's envelope is stored in the
//! spool. A taken record whose taker died before that is taken again: at once where the taker's pid can be checked,
//! else once the time of the take in its name is ten minutes old, as for a spool claim; however often that happens
//! (a program in a crash loop may die before its worker reports anything, time after time), each report must still
//! arrive. The name counts the takes, for diagnostics. At most [`MAX_RECORDS`] records are kept, the newest: a
//! program that crashes at every start before its worker runs would otherwise fill the disk.
//!
//! The spool sees only bytes here: what a record means is `native_crash`'s business.

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Spool;
use super::owner::{Owner, pid_is_alive};
use crate::diagnostics::sdk_debug;

/// The subdirectory of crash records.
const CRASHES_DIR: &str = "crashes";
/// A record's name ends with this; the handler writes it.
pub(crate) const CRASH_RECORD_SUFFIX: &str = ".crash";
/// What a taken record's name adds to the record's.
const TAKEN_MARK: &str = ".taken-";
/// The most records kept; older ones are deleted, unreported, when records are taken.
const MAX_RECORDS: usize = 32;
/// A record older than this is taken even if a process with its pid exists (the pid was reused).
const WRITTEN_WITHIN: Duration = Duration::from_secs(60);

/// When this process first used the records' directory: a record with our pid written before then is an earlier
/// process's, and one written since is our own, perhaps being written right now.
static FIRST_USE: OnceLock<SystemTime> = OnceLock::new();

/// A crash record taken from the spool: its bytes, and the file to delete once its report is stored.
#[derive(Debug)]
pub(crate) struct TakenCrashRecord {
    pub(crate) bytes: Vec<u8>,
    /// The record's own name, the same whoever takes it.
    pub(crate) name: String,
    path: PathBuf,
}

impl TakenCrashRecord {
    /// Deletes the record: its report is stored.
    pub(crate) fn done(self) {
        let _ = fs::remove_file(&self.path);
    }
}

impl Spool {
    /// The directory the native crash handler writes into. It is not created here: the handler creates it when it
    /// first needs it (`mkdir` is safe in a signal handler), so that `init` spends no file-system call on it.
    pub(crate) fn crash_records_dir(&self) -> PathBuf {
        FIRST_USE.get_or_init(SystemTime::now);
        self.dir.join(CRASHES_DIR)
    }

    /// Takes the records of processes that crashed, oldest first; each is taken by one process only.
    pub(crate) fn take_crash_records(&self) -> Vec<TakenCrashRecord> {
        let dir = self.dir.join(CRASHES_DIR);
        let Ok(entries) = fs::read_dir(&dir) else {
            return Vec::new();
        };
        let now = SystemTime::now();
        let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let first_use = *FIRST_USE.get_or_init(|| now);
        let me = Owner::this_process();
        let mut takeable = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let (record, gone, takes) = match name.split_once(TAKEN_MARK) {
                Some((record, taker)) => {
                    let (gone, takes) = taker_is_gone(taker, now_secs);
                    (record, gone, takes)
                }
                None => {
                    let age = entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .map(|written| now.duration_since(written).unwrap_or_default())
                        .unwrap_or_default();
                    (name, writer_is_gone(name, age, me, first_use), 0)
                }
            };
            if gone && record.ends_with(CRASH_RECORD_SUFFIX) {
                if takes > 0 {
                    sdk_debug!(
                        "native crash record {record} is taken again (take {})",
                        takes + 1
                    );
                }
                takeable.push((
                    written_at(record),
                    record.to_owned(),
                    entry.path(),
                    takes + 1,
                ));
            }
        }
        // Names start with the pid, not the time: order by the time in the name, and keep the newest.
        takeable.sort();
        let excess = takeable.len().saturating_sub(MAX_RECORDS);
        let mut taken = Vec::new();
        for (i, (_, record, found, takes)) in takeable.into_iter().enumerate() {
            let path = dir.join(format!(
                "{record}{TAKEN_MARK}{}-{:016x}-{now_secs}-{takes}",
                me.pid, me.token
            ));
            // Renamed first, so that of two processes starting at once only one takes it.
            if fs::rename(&found, &path).is_err() {
                continue;
            }
            if i < excess {
                sdk_debug!(
                    "more than {MAX_RECORDS} native crash records: {record} is deleted unreported"
                );
                let _ = fs::remove_file(&path);
                continue;
            }
            match fs::read(&path) {
                Ok(bytes) => taken.push(TakenCrashRecord {
                    bytes,
                    name: record,
                    path,
                }),
                Err(_) => {
                    let _ = fs::remove_file(&path);
                }
            }
        }
        taken
    }
}

/// Whether the process that wrote record `name` is gone.
fn writer_is_gone(name: &str, age: Duration, me: Owner, first_use: SystemTime) -> bool {
    let Some(pid) = name
        .split('-')
        .next()
        .and_then(|pid| pid.parse::<u32>().ok())
    else {
        return false;
    };
    if pid == me.pid {
        let (secs, nanos) = written_at(name);
        let nanos = u32::try_from(nanos).unwrap_or(0).min(999_999_999);
        return UNIX_EPOCH
            .checked_add(Duration::new(secs, nanos))
            .is_some_and(|written| written < first_use);
    }
    age >= WRITTEN_WITHIN || pid_is_alive(pid) == Some(false)
}

/// Whether the process that took a record (`{pid}-{token}-{secs}-{takes}`, at `secs`, the record's `takes`-th take)
/// is gone without reporting it, and how often the record was taken.
fn taker_is_gone(taker: &str, now_secs: u64) -> (bool, u32) {
    let mut fields = taker.split('-');
    let (Some(pid), Some(token), Some(secs), takes, None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return (false, 0);
    };
    let (Ok(pid), Ok(token), Ok(secs)) = (
        pid.parse(),
        u64::from_str_radix(token, 16),
        secs.parse::<u64>(),
    ) else {
        return (false, 0);
    };
    let takes = takes.and_then(|n| n.parse().ok()).unwrap_or(1);
    let gone = Owner { pid, token }.is_gone(Duration::from_secs(now_secs.saturating_sub(secs)));
    (gone, takes)
}

/// The time in a record's name, `{pid}-{tid}-{secs}-{nanos}.crash`, for ordering.
fn written_at(name: &str) -> (u64, u64) {
    let stem = name.strip_suffix(CRASH_RECORD_SUFFIX).unwrap_or(name);
    let mut parts = stem.split('-').skip(2).map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Whether `dir` holds a record that is not taken yet.
#[cfg(test)]
fn has_untaken(dir: &std::path::Path) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with(CRASH_RECORD_SUFFIX)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &std::path::Path) -> Spool {
        super::super::open_for_tests(dir)
    }

    /// A pid that is not a process: past the kernel's maximum.
    const DEAD_PID: u32 = 4_194_305;

    #[test]
    fn records_of_dead_processes_are_taken_once_in_order_and_live_ones_wait() {
        let scratch = tempfile::tempdir().unwrap();
        let spool = open(scratch.path());
        let dir = spool.crash_records_dir();
        fs::create_dir(&dir).unwrap();
        fs::write(
            dir.join(format!("{DEAD_PID}-1-1800000002-5.crash")),
            b"second",
        )
        .unwrap();
        fs::write(
            dir.join(format!("{DEAD_PID}-1-1800000001-9.crash")),
            b"first",
        )
        .unwrap();
        // A process that is alive (the test runner's parent, or init) may still be writing its record.
        let live = std::os::unix::process::parent_id();
        fs::write(dir.join(format!("{live}-1-1800000000-0.crash")), b"live").unwrap();
        fs::write(dir.join("unrelated.txt"), b"x").unwrap();

        let taken = open(scratch.path()).take_crash_records();
        let bytes: Vec<&[u8]> = taken.iter().map(|t| &t.bytes[..]).collect();
        if pid_is_alive(live) == Some(true) {
            assert_eq!(bytes, [&b"first"[..], &b"second"[..]]);
        }
        assert!(spool.take_crash_records().is_empty(), "taken once");
        for record in taken {
            record.done();
        }
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!left.iter().any(|n| n.contains("taken")), "{left:?}");
        assert!(has_untaken(&dir) == (pid_is_alive(live) == Some(true)));
    }

    #[test]
    fn a_record_whose_taker_died_is_taken_again() {
        let scratch = tempfile::tempdir().unwrap();
        let spool = open(scratch.path());
        let dir = spool.crash_records_dir();
        fs::create_dir(&dir).unwrap();
        let record = format!("{DEAD_PID}-1-1800000001-9.crash");
        fs::write(
            dir.join(format!(
                "{record}{TAKEN_MARK}{DEAD_PID}-00000000000000ab-1800000000"
            )),
            b"again",
        )
        .unwrap();
        let taken = spool.take_crash_records();
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].name, record);
        assert_eq!(taken[0].bytes, b"again");
        // Our own taken record is ours to finish, not to take again.
        assert!(spool.take_crash_records().is_empty());
    }

    #[test]
    fn a_record_a_live_process_took_is_left_to_it_until_its_take_is_stale() {
        let scratch = tempfile::tempdir().unwrap();
        let spool = open(scratch.path());
        let dir = spool.crash_records_dir();
        fs::create_dir(&dir).unwrap();
        let live = std::os::unix::process::parent_id();
        if pid_is_alive(live) != Some(true) {
            return;
        }
        let now = super::super::names::now_secs();
        let record = format!("{DEAD_PID}-1-1700000000-0.crash");
        let taken = dir.join(format!("{record}{TAKEN_MARK}{live}-00000000000000cd-{now}"));
        fs::write(&taken, b"being reported").unwrap();
        // However old the record itself (its time stays through the rename), a fresh take stands.
        let old = SystemTime::now() - Duration::from_secs(3600);
        fs::File::options()
            .write(true)
            .open(&taken)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(spool.take_crash_records().is_empty());
        // A take ten minutes old is stale whoever holds it.
        let stale = dir.join(format!(
            "{record}{TAKEN_MARK}{live}-00000000000000cd-{}",
            now - 11 * 60
        ));
        fs::rename(&taken, &stale).unwrap();
        assert_eq!(spool.take_crash_records().len(), 1);
    }

    #[test]
    fn each_take_is_counted_in_the_name() {
        let scratch = tempfile::tempdir().unwrap();
        let spool = open(scratch.path());
        let dir = spool.crash_records_dir();
        fs::create_dir(&dir).unwrap();
        let record = format!("{DEAD_PID}-1-1800000001-9.crash");
        let taken = format!("{record}{TAKEN_MARK}{DEAD_PID}-00000000000000ab-1800000000-7");
        fs::write(dir.join(taken), b"again").unwrap();
        let again = spool.take_crash_records();
        assert_eq!(again.len(), 1, "taken again, however often its takers died");
        let name = again[0]
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(name.ends_with("-8"), "{name}");
    }

    #[test]
    fn only_the_newest_records_are_kept() {
        let scratch = tempfile::tempdir().unwrap();
        let spool = open(scratch.path());
        let dir = spool.crash_records_dir();
        fs::create_dir(&dir).unwrap();
        for i in 0..MAX_RECORDS + 8 {
            fs::write(
                dir.join(format!("{DEAD_PID}-1-{}-0.crash", 1_800_000_000 + i)),
                i.to_string(),
            )
            .unwrap();
        }
        let taken = spool.take_crash_records();
        assert_eq!(taken.len(), MAX_RECORDS);
        assert_eq!(taken[0].bytes, b"8", "the oldest eight are gone");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), MAX_RECORDS);
    }
}
