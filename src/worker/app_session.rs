//! The worker's share of application-mode release health: the session's updates beside events, its file in the
//! spool (written at start, when its state changes and every [`HEARTBEAT`]), its last update at shutdown, and the
//! sessions that earlier processes left running, reported `abnormal` at start.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::delivery::spool::Spool;
use crate::diagnostics::sdk_debug;
use crate::protocol::envelope::{Envelope, EnvelopeItem};
use crate::protocol::{SessionStatus, SessionUpdate};
use crate::release_health::app_session::{AppSession, abandoned};
use crate::release_health::distinct_id;

/// How often the running session's file is written again, so its time tells when the process was last alive (and
/// an abnormal session's duration ends there). Well under the ten minutes after which a file whose owner cannot be
/// checked is taken as abandoned.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(60);

/// How old a session update may be: Relay drops one whose timestamp is further back (`max_session_secs_in_past`).
const MAX_AGE: Duration = Duration::from_secs(5 * 24 * 60 * 60);

/// The session of this process, if it tracks one, and where its file goes.
pub(crate) struct AppSessionKeeper {
    session: Option<Arc<AppSession>>,
    spool: Option<Arc<Spool>>,
    next_beat: Instant,
}

impl AppSessionKeeper {
    pub(crate) fn new(session: Option<Arc<AppSession>>, spool: Option<Arc<Spool>>) -> Self {
        AppSessionKeeper {
            session,
            spool,
            next_beat: Instant::now(),
        }
    }

    /// At start: writes this process's session file, and returns the envelopes of the sessions that processes now
    /// gone left running, each `abnormal` (whether or not this process tracks sessions: they were recorded under
    /// the options of their own process).
    pub(crate) fn start(&mut self) -> Vec<Envelope> {
        self.beat(Instant::now());
        let Some(spool) = &self.spool else {
            return Vec::new();
        };
        let now = SystemTime::now();
        let mut envelopes = Vec::new();
        for found in spool.take_abandoned_sessions() {
            let running = match serde_json::from_slice::<SessionUpdate>(&found.bytes) {
                Ok(running) if !running.status.is_terminal() => running,
                Ok(_) => continue,
                Err(e) => {
                    sdk_debug!("an abandoned session file does not parse ({e}); deleted");
                    continue;
                }
            };
            let update = abandoned(running, found.written);
            if now
                .duration_since(update.timestamp)
                .is_ok_and(|age| age >= MAX_AGE)
            {
                sdk_debug!("an abandoned session older than the server takes; deleted");
                continue;
            }
            envelopes.push(envelope(update));
        }
        envelopes
    }

    /// Adds the session's update to an envelope with an event, when errors were counted since the last one. Until
    /// the first update goes, the event's user becomes the session's.
    pub(crate) fn attach(&self, envelope: &mut Envelope) {
        let Some(session) = &self.session else {
            return;
        };
        let Some(event) = envelope.items.iter().find_map(|item| match item {
            EnvelopeItem::Event(event) => Some(event),
            _ => None,
        }) else {
            return;
        };
        session.note_user(|| event.user.as_ref().and_then(distinct_id));
        if let Some(update) = session.update_if_changed(SystemTime::now(), |running| {
            write(self.spool.as_deref(), session, running);
        }) {
            envelope.items.push(EnvelopeItem::Session(Box::new(update)));
        }
    }

    /// When the next heartbeat is due, if there is a file to keep.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        (self.session.is_some() && self.spool.is_some()).then_some(self.next_beat)
    }

    /// Writes the session's file again if its heartbeat is due.
    pub(crate) fn tick(&mut self, now: Instant) {
        if now >= self.next_beat {
            self.beat(now);
        }
    }

    fn beat(&mut self, now: Instant) {
        self.next_beat = now + HEARTBEAT;
        if let (Some(session), Some(spool)) = (&self.session, &self.spool) {
            session.persist(SystemTime::now(), |running| {
                write(Some(spool), session, running);
            });
        }
    }

    /// Ends the session `exited` (unless a panic ended it already) and returns the envelope of its last update.
    pub(crate) fn end(&self) -> Option<Envelope> {
        let session = self.session.as_ref()?;
        let update = session.end(SystemTime::now(), SessionStatus::Exited, || {
            if let Some(spool) = &self.spool {
                spool.remove_live_session(&file_id(session));
            }
        })?;
        Some(envelope(update))
    }
}

/// What tells `session`'s file from those of other sessions of this process.
pub(crate) fn file_id(session: &AppSession) -> String {
    session.sid().simple().to_string()
}

/// Writes the running session's file, if there is a spool.
fn write(spool: Option<&Spool>, session: &AppSession, running: &SessionUpdate) {
    let Some(spool) = spool else { return };
    let written = serde_json::to_vec(running)
        .map_err(std::io::Error::other)
        .and_then(|bytes| spool.write_live_session(&file_id(session), &bytes));
    if let Err(e) = written {
        sdk_debug!("could not write the session's file: {e}");
    }
}

/// An envelope of one session update.
pub(crate) fn envelope(update: SessionUpdate) -> Envelope {
    Envelope {
        items: vec![EnvelopeItem::Session(Box::new(update))],
        ..Envelope::default()
    }
}
