//! Which process made a claimed or temporary file, and whether that process is gone, so that what it left may be
//! taken back.
//!
//! A process is told apart by its pid and a random token: pids are reused (a container's main process is always
//! pid 1), so the pid alone would take an earlier process's claims for this one's.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A claim (or temporary file) older than this is taken as abandoned whoever owns it: 10 minutes. Where the
/// owner's liveness can be checked (Linux) a dead owner's claims are recovered at once; this age covers the other
/// systems, and a pid reused by an unrelated process.
pub(super) const STALE_CLAIM_AGE: Duration = Duration::from_secs(10 * 60);

/// Which process made a claim or temporary file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Owner {
    pub(super) pid: u32,
    /// Random per process, so a later process that gets the same pid is not mistaken for this one.
    pub(super) token: u64,
}

impl Owner {
    /// This process.
    pub(super) fn this_process() -> Owner {
        static TOKEN: OnceLock<u64> = OnceLock::new();
        let token = *TOKEN.get_or_init(|| {
            // std's hasher keys are random per process; hashing the time as well costs nothing.
            let mut hasher = RandomState::new().build_hasher();
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            hasher.write_u128(nanos);
            hasher.finish()
        });
        Owner {
            pid: std::process::id(),
            token,
        }
    }

    /// Whether what this owner left `age` ago may be taken back: never this process's own; always an earlier
    /// process's with our pid; otherwise when it is older than [`STALE_CLAIM_AGE`] or its process does not exist.
    pub(super) fn is_gone(self, age: Duration) -> bool {
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
pub(super) fn pid_is_alive(pid: u32) -> Option<bool> {
    if cfg!(target_os = "linux") && Path::new("/proc/self").exists() {
        Some(Path::new("/proc").join(pid.to_string()).exists())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn an_earlier_process_with_our_pid_is_gone() {
        let earlier = Owner {
            pid: std::process::id(),
            token: Owner::this_process().token ^ 1,
        };
        assert!(earlier.is_gone(Duration::ZERO));
    }
}
