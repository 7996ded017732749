//! The running session's file: what a process that is killed leaves behind, so that the next start can report its
//! session as `abnormal`.
//!
//! Each process that tracks a session keeps one file, `sessions/{pid}-{token}-{id}.session`, with the session's state
//! as it would be reported if the process died now, rewritten when that state changes and at least every minute (a
//! heartbeat, so the file's time tells when the process was last alive). A process that ends its session deletes
//! the file. A file whose owner is gone was left by a process that died without ending its session;
//! [`Spool::take_abandoned_sessions`] hands it over once and deletes it.
//!
//! The owner is gone when its pid is not a process (Linux, through `/proc`), or when the file missed three
//! heartbeats ([`ABANDONED_AFTER`]): that covers systems where a pid cannot be checked, a pid reused by another
//! process, and an earlier process with this process's pid (a container's main process is always pid 1, and two
//! containers may share a spool volume). Unlike a claim's, a session file's owner is never taken for gone only
//! because the pid is ours.
//!
//! The spool sees only bytes here: what the state means is the worker's business.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use super::Spool;
use super::files::{create_private_dir, create_private_file};
use super::names::{
    CRASHED_MARK, SESSIONS_DIR, TEMP_PREFIX, live_session_name, parse_live_session_name,
    parse_temp_name, temp_name,
};
use super::owner::{Owner, pid_is_alive};

/// How long a session file may go without a heartbeat before its owner is taken for gone, whatever its pid.
pub(crate) const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(3 * 60);

/// Whether the owner of a session file last written `age` ago is gone.
fn is_gone(owner: Owner, age: std::time::Duration) -> bool {
    let me = Owner::this_process();
    if owner == me {
        return false;
    }
    age >= ABANDONED_AFTER || (owner.pid != me.pid && pid_is_alive(owner.pid) == Some(false))
}

/// A session file found with its owner gone.
#[derive(Debug)]
pub(crate) struct AbandonedSession {
    /// What the file held.
    pub(crate) bytes: Vec<u8>,
    /// The pid of the process that left it.
    pub(crate) pid: u32,
    /// When the process died of a native crash, if the crash handler marked the file.
    pub(crate) crashed: Option<SystemTime>,
    /// When it was last written: the owner was alive then.
    pub(crate) written: SystemTime,
}

impl Spool {
    fn sessions_dir(&self) -> PathBuf {
        self.dir.join(SESSIONS_DIR)
    }

    /// Writes this process's running session `id` (hex digits): to a temporary file, synced, then renamed over the
    /// last one, so the file is always whole.
    ///
    /// # Errors
    ///
    /// When the directory or the file cannot be written; the last whole file, if any, stays in place.
    pub(crate) fn write_live_session(&self, id: &str, bytes: &[u8]) -> io::Result<()> {
        let dir = self.sessions_dir();
        create_private_dir(&dir)?;
        let temp = dir.join(temp_name());
        let written = create_private_file(&temp).and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_data()
        });
        let placed = written.and_then(|()| {
            fs::rename(
                &temp,
                dir.join(live_session_name(Owner::this_process(), id)),
            )
        });
        if placed.is_err() {
            let _ = fs::remove_file(&temp);
        }
        placed
    }

    /// Where this process's running session `id` has its file.
    #[cfg_attr(
        not(faultline_native_crash),
        expect(dead_code, reason = "only the native crash handler needs the path")
    )]
    pub(crate) fn live_session_path(&self, id: &str) -> PathBuf {
        self.sessions_dir()
            .join(live_session_name(Owner::this_process(), id))
    }

    /// Whether this process's running session `id` still has its file (another process may have taken it).
    pub(crate) fn has_live_session(&self, id: &str) -> bool {
        self.sessions_dir()
            .join(live_session_name(Owner::this_process(), id))
            .exists()
    }

    /// Deletes this process's running session `id`, which has ended.
    pub(crate) fn remove_live_session(&self, id: &str) {
        let path = self
            .sessions_dir()
            .join(live_session_name(Owner::this_process(), id));
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => crate::diagnostics::sdk_debug!("could not delete {}: {e}", path.display()),
        }
    }

    /// Takes the sessions that processes now gone left running: each is read, deleted, and returned once, so two
    /// processes starting together never both report one. Temporary files those processes left are deleted.
    pub(crate) fn take_abandoned_sessions(&self) -> Vec<AbandonedSession> {
        let dir = self.sessions_dir();
        let Ok(entries) = fs::read_dir(&dir) else {
            return Vec::new();
        };
        let now = SystemTime::now();
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Ok(written) = entry.metadata().and_then(|m| m.modified()) else {
                continue;
            };
            let age = now.duration_since(written).unwrap_or_default();
            if name.starts_with(TEMP_PREFIX) {
                if parse_temp_name(name).is_some_and(|owner| is_gone(owner, age)) {
                    let _ = fs::remove_file(entry.path());
                }
                continue;
            }
            // A native crash marks the file it left (see `native_crash::handler`); the rename sets the file's
            // change time, which is when the crash came.
            let (name, crashed) = match name.strip_suffix(CRASHED_MARK) {
                Some(name) => (name, Some(changed_at(&entry).unwrap_or(written))),
                None => (name, None),
            };
            let Some(owner) = parse_live_session_name(name) else {
                continue;
            };
            if !is_gone(owner, age) {
                continue;
            }
            // A heartbeat that was under way when the process crashed may have put the file back beside the
            // marked one: the marked one speaks for the session, and the other goes with it.
            if crashed.is_none() && dir.join(format!("{name}{CRASHED_MARK}")).exists() {
                continue;
            }
            if crashed.is_some() {
                let _ = fs::remove_file(dir.join(name));
            }
            // Renamed first, so that of two processes starting at once only one takes it.
            let taken = dir.join(temp_name());
            if fs::rename(entry.path(), &taken).is_err() {
                continue;
            }
            let bytes = fs::read(&taken);
            let _ = fs::remove_file(&taken);
            if let Ok(bytes) = bytes {
                found.push(AbandonedSession {
                    bytes,
                    pid: owner.pid,
                    written,
                    crashed,
                });
            }
        }
        found
    }
}

/// When a directory entry's file last changed name or metadata (its ctime), on Unix.
fn changed_at(entry: &fs::DirEntry) -> Option<SystemTime> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let metadata = entry.metadata().ok()?;
        let secs = u64::try_from(metadata.ctime()).ok()?;
        let nanos = u32::try_from(metadata.ctime_nsec()).ok()?;
        std::time::UNIX_EPOCH.checked_add(std::time::Duration::new(secs, nanos.min(999_999_999)))
    }
    #[cfg(not(unix))]
    {
        let _ = entry;
        None
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn open(dir: &std::path::Path) -> Spool {
        super::super::open_for_tests(dir)
    }

    #[test]
    fn a_crashed_session_and_a_copy_put_back_beside_it_are_one_crashed_session() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = open(tmp.path());
        let dir = tmp.path().join(SESSIONS_DIR);
        fs::create_dir_all(&dir).unwrap();
        // A pid past the kernel's maximum: a process that is gone.
        let dead = Owner {
            pid: 4_194_305,
            token: 7,
        };
        let name = live_session_name(dead, "c3");
        fs::write(dir.join(format!("{name}{CRASHED_MARK}")), b"marked").unwrap();
        fs::write(dir.join(&name), b"put back by a late heartbeat").unwrap();
        let taken = spool.take_abandoned_sessions();
        assert_eq!(taken.len(), 1, "{taken:?}");
        assert_eq!(taken[0].bytes, b"marked");
        assert!(taken[0].crashed.is_some());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
    }

    #[test]
    fn our_own_session_is_never_abandoned_and_a_dead_owners_is_taken_once() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = open(tmp.path());
        spool.write_live_session("a1", b"first").unwrap();
        spool.write_live_session("a1", b"second").unwrap();
        assert!(spool.take_abandoned_sessions().is_empty(), "ours is alive");
        let ours = tmp
            .path()
            .join(SESSIONS_DIR)
            .join(live_session_name(Owner::this_process(), "a1"));
        assert_eq!(fs::read(&ours).unwrap(), b"second");

        // Another process with our pid (an earlier one, or one in another container) is gone only once its file
        // missed its heartbeats; so is the owner of a temporary file.
        let me = Owner::this_process();
        let earlier = Owner {
            pid: me.pid,
            token: me.token ^ 1,
        };
        let dir = tmp.path().join(SESSIONS_DIR);
        let theirs = dir.join(live_session_name(earlier, "b2"));
        let half = dir.join(format!(
            "{TEMP_PREFIX}{}-{:016x}-9",
            earlier.pid, earlier.token
        ));
        fs::write(&theirs, b"left running").unwrap();
        fs::write(&half, b"half").unwrap();
        assert!(
            spool.take_abandoned_sessions().is_empty(),
            "heartbeats still fresh"
        );
        let old = SystemTime::now() - ABANDONED_AFTER - Duration::from_secs(1);
        for path in [&theirs, &half] {
            let file = fs::File::options().write(true).open(path).unwrap();
            file.set_modified(old).unwrap();
        }
        let taken = spool.take_abandoned_sessions();
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].bytes, b"left running");
        assert!(taken[0].written <= old + Duration::from_secs(1));
        assert!(spool.has_live_session("a1"));
        assert!(!spool.has_live_session("b2"));
        assert!(spool.take_abandoned_sessions().is_empty(), "taken once");
        let mut left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [live_session_name(me, "a1")]);

        spool.remove_live_session("a1");
        spool.remove_live_session("a1");
        assert!(fs::read_dir(&dir).unwrap().next().is_none());
    }
}
