//! [`RequestSession`]: one request's session in request mode, kept on the request's scope so that whatever is
//! captured while the request is handled counts in it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

/// A request being handled: when it started, and what was captured while it ran.
#[derive(Debug)]
pub(crate) struct RequestSession {
    started: SystemTime,
    errors: AtomicU64,
    crashed: AtomicBool,
}

/// How a request's session ended, for the per-minute counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Without an error.
    Exited,
    /// After one or more handled errors.
    Errored,
    /// By an unhandled error (a panic in the handler).
    Crashed,
}

/// An ended request session, on its way to the worker's counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequestOutcome {
    pub(crate) started: SystemTime,
    /// The user the request was handled for, if the handler set one.
    pub(crate) did: Option<String>,
    pub(crate) ended: Ended,
}

impl RequestSession {
    /// A request starting now.
    pub(crate) fn start() -> Self {
        RequestSession {
            started: SystemTime::now(),
            errors: AtomicU64::new(0),
            crashed: AtomicBool::new(false),
        }
    }

    /// Counts a handled error.
    pub(crate) fn record_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Records an unhandled error: the request ends `crashed`.
    #[cfg_attr(
        not(feature = "panic"),
        expect(dead_code, reason = "only the panic hook records a crash")
    )]
    pub(crate) fn record_crash(&self) {
        self.crashed.store(true, Ordering::Relaxed);
    }

    /// How the request ended, for the user `did`.
    pub(crate) fn outcome(&self, did: Option<String>) -> RequestOutcome {
        let ended = if self.crashed.load(Ordering::Relaxed) {
            Ended::Crashed
        } else if self.errors.load(Ordering::Relaxed) > 0 {
            Ended::Errored
        } else {
            Ended::Exited
        };
        RequestOutcome {
            started: self.started,
            did,
            ended,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_wins_over_errors_and_errors_over_a_clean_end() {
        let s = RequestSession::start();
        assert_eq!(s.outcome(None).ended, Ended::Exited);
        s.record_error();
        assert_eq!(s.outcome(None).ended, Ended::Errored);
        s.record_crash();
        let outcome = s.outcome(Some("u".into()));
        assert_eq!(outcome.ended, Ended::Crashed);
        assert_eq!(outcome.did.as_deref(), Some("u"));
        assert!(outcome.started <= SystemTime::now());
    }
}
