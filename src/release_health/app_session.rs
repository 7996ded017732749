//! [`AppSession`]: the one session of application mode, from `init` to the guard's drop.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use uuid::Uuid;

use crate::protocol::{EventId, SessionAttributes, SessionStatus, SessionUpdate};
use crate::sync::lock;

/// The session of the whole process. Capturing threads count errors with an atomic add; everything else happens
/// under one lock, held by the worker (sending an update, writing the session's file) or the panic hook (ending it
/// `crashed`), so that an ended session is never written back to disk as running.
#[derive(Debug)]
pub(crate) struct AppSession {
    sid: Uuid,
    started: SystemTime,
    attrs: SessionAttributes,
    /// Handled errors so far.
    errors: AtomicU64,
    reported: Mutex<Reported>,
}

/// What the server was told so far.
#[derive(Debug, Default)]
struct Reported {
    /// Whether an update went out (the next one is not `init`).
    sent: bool,
    /// The error count of the last update.
    errors: u64,
    /// Whether the session has ended: nothing follows.
    ended: bool,
    /// The distinct id of the user, taken from the first event that names one before the first update.
    did: Option<String>,
}

impl AppSession {
    /// A session starting now.
    pub(crate) fn start(attrs: SessionAttributes) -> Self {
        AppSession {
            sid: EventId::new().0,
            started: SystemTime::now(),
            attrs,
            errors: AtomicU64::new(0),
            reported: Mutex::new(Reported::default()),
        }
    }

    /// The session's id.
    pub(crate) fn sid(&self) -> Uuid {
        self.sid
    }

    /// Takes `did` as the session's user, if it has none and no update went out yet (the attributes of a session
    /// never change once sent). The worker passes the user of each event.
    pub(crate) fn note_user(&self, did: impl FnOnce() -> Option<String>) {
        let mut reported = lock(&self.reported);
        if !reported.sent && reported.did.is_none() {
            reported.did = did();
        }
    }

    /// Counts a handled error (the caller's side: one atomic add).
    pub(crate) fn record_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    fn update(
        &self,
        reported: &mut Reported,
        now: SystemTime,
        status: SessionStatus,
    ) -> SessionUpdate {
        let mut errors = self.errors.load(Ordering::Relaxed);
        if status == SessionStatus::Crashed {
            errors = errors.max(1);
        }
        let update = SessionUpdate {
            sid: self.sid,
            did: reported.did.clone(),
            init: !reported.sent,
            started: self.started,
            timestamp: now.max(self.started),
            duration: status.is_terminal().then(|| {
                now.duration_since(self.started)
                    .unwrap_or_default()
                    .as_secs_f64()
            }),
            status,
            errors,
            attrs: self.attrs.clone(),
        };
        reported.sent = true;
        reported.errors = errors;
        reported.ended = status.is_terminal();
        update
    }

    /// The update to send beside an event: `Some` when errors were counted since the last update, and the session
    /// is still running. `persist` then writes the new state to disk (under the session's lock).
    pub(crate) fn update_if_changed(
        &self,
        now: SystemTime,
        persist: impl FnOnce(&SessionUpdate),
    ) -> Option<SessionUpdate> {
        let mut reported = lock(&self.reported);
        if reported.ended || self.errors.load(Ordering::Relaxed) == reported.errors {
            return None;
        }
        let update = self.update(&mut reported, now, SessionStatus::Ok);
        persist(&self.running(&reported, now));
        Some(update)
    }

    /// Ends the session with `status` (`exited` or `crashed`) and returns its last update, once; `forget` deletes
    /// its file (under the session's lock, so no write of the running state can follow).
    pub(crate) fn end(
        &self,
        now: SystemTime,
        status: SessionStatus,
        forget: impl FnOnce(),
    ) -> Option<SessionUpdate> {
        let mut reported = lock(&self.reported);
        if reported.ended {
            return None;
        }
        let update = self.update(&mut reported, now, status);
        forget();
        Some(update)
    }

    /// Ends the session without an update: another process reported it already (as `abandoned`).
    pub(crate) fn abandon(&self) {
        lock(&self.reported).ended = true;
    }

    /// Writes the running state with `persist` (the heartbeat), unless the session has ended.
    pub(crate) fn persist(&self, now: SystemTime, persist: impl FnOnce(&SessionUpdate)) {
        let reported = lock(&self.reported);
        if !reported.ended {
            persist(&self.running(&reported, now));
        }
    }

    /// The session as it stands, for its file: what the next start reports, as `abnormal`, if this process dies
    /// now.
    fn running(&self, reported: &Reported, now: SystemTime) -> SessionUpdate {
        SessionUpdate {
            sid: self.sid,
            did: reported.did.clone(),
            init: !reported.sent,
            started: self.started,
            timestamp: now.max(self.started),
            duration: None,
            status: SessionStatus::Ok,
            errors: self.errors.load(Ordering::Relaxed),
            attrs: self.attrs.clone(),
        }
    }
}

/// The update to send for a session a process left running: `abnormal`, as of the last time it was written
/// (`written`, the file's time, when that is later than the time inside), with its duration up to then.
pub(crate) fn abandoned(running: SessionUpdate, written: SystemTime) -> SessionUpdate {
    let at = running.timestamp.max(written);
    ended_at(running, at, SessionStatus::Abnormal)
}

/// The update to send for a session whose process died of a native crash at `crashed_at` (its record says so):
/// `crashed`, with at least one error, as of the crash.
pub(crate) fn crashed_natively(running: SessionUpdate, crashed_at: SystemTime) -> SessionUpdate {
    let mut update = ended_at(running, crashed_at, SessionStatus::Crashed);
    update.errors = update.errors.max(1);
    update
}

/// `running` ended with `status` at `at` (never before it started), with its duration up to then.
fn ended_at(mut running: SessionUpdate, at: SystemTime, status: SessionStatus) -> SessionUpdate {
    running.timestamp = at.max(running.started);
    running.duration = Some(
        running
            .timestamp
            .duration_since(running.started)
            .unwrap_or_default()
            .as_secs_f64(),
    );
    running.status = status;
    running
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn session() -> AppSession {
        let session = AppSession::start(SessionAttributes {
            release: "app@1".into(),
            environment: Some("test".into()),
        });
        session.note_user(|| None);
        session.note_user(|| Some("u1".into()));
        session.note_user(|| Some("u2".into()));
        session
    }

    #[test]
    fn updates_go_when_errors_change_and_the_end_comes_once() {
        let s = session();
        let now = SystemTime::now() + Duration::from_secs(1);
        let mut written = Vec::new();
        assert!(
            s.update_if_changed(now, |u| written.push(u.clone()))
                .is_none()
        );
        s.record_error();
        s.record_error();
        let first = s
            .update_if_changed(now, |u| written.push(u.clone()))
            .unwrap();
        assert!(first.init);
        assert_eq!((first.status, first.errors), (SessionStatus::Ok, 2));
        assert_eq!(first.duration, None);
        assert_eq!(first.sid, s.sid());
        assert_eq!(first.did.as_deref(), Some("u1"));
        assert_eq!(written.len(), 1);
        assert!(!written[0].init, "the file's state follows what was sent");
        assert!(
            s.update_if_changed(now, |_| panic!("nothing changed"))
                .is_none()
        );

        let mut forgotten = false;
        let last = s
            .end(now, SessionStatus::Exited, || forgotten = true)
            .unwrap();
        assert!(forgotten);
        assert!(!last.init);
        assert_eq!((last.status, last.errors), (SessionStatus::Exited, 2));
        assert!(last.duration.unwrap() >= 1.0);
        assert!(
            s.end(now, SessionStatus::Crashed, || panic!("ended"))
                .is_none()
        );
        s.record_error();
        assert!(s.update_if_changed(now, |_| panic!("ended")).is_none());
        s.persist(now, |_| panic!("an ended session is not written back"));
    }

    #[test]
    fn a_crash_counts_one_error_at_least_and_an_abandoned_session_is_abnormal() {
        let s = session();
        let now = SystemTime::now();
        let crashed = s.end(now, SessionStatus::Crashed, || {}).unwrap();
        assert!(crashed.init);
        assert_eq!(
            (crashed.status, crashed.errors),
            (SessionStatus::Crashed, 1)
        );

        let s = session();
        let now = SystemTime::now();
        let mut file = None;
        s.persist(now, |u| file = Some(u.clone()));
        let file = file.unwrap();
        assert_eq!((file.status, file.init), (SessionStatus::Ok, true));
        let later = now + Duration::from_secs(90);
        let update = abandoned(file, later);
        assert_eq!(update.status, SessionStatus::Abnormal);
        assert_eq!(update.timestamp, later);
        assert!(update.duration.unwrap() >= 90.0);
    }
}
