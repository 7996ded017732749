//! The worker's share of application-mode release health: the session's updates beside events, its file in the
//! spool (written at start, when its state changes and every [`HEARTBEAT`]), its last update at shutdown, and the
//! sessions that other processes left running, reported `abnormal` (looked for at start and at every heartbeat).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::delivery::spool::Spool;
use crate::diagnostics::sdk_debug;
use crate::protocol::envelope::{Envelope, EnvelopeItem};
use crate::protocol::{SessionStatus, SessionUpdate};
use crate::release_health::app_session::{AppSession, abandoned, crashed_natively};
use crate::release_health::distinct_id;

/// How often the running session's file is written again, so its time tells when the process was last alive (and
/// an abnormal session's duration ends there). Well under the three minutes after which the spool takes a file
/// whose owner cannot be told dead as abandoned.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(60);

/// How old a session update may be: Relay drops one whose timestamp is further back (`max_session_secs_in_past`).
const MAX_AGE: Duration = Duration::from_secs(5 * 24 * 60 * 60);

/// The session of this process, if it tracks one, and where its file goes.
pub(crate) struct AppSessionKeeper {
    session: Option<Arc<AppSession>>,
    spool: Option<Arc<Spool>>,
    next_beat: Instant,
    /// Whether the session's file was written once: if it is gone after that, another process took it.
    file_written: bool,
    /// The processes whose native crashes this start reported, and when each crashed: their sessions end
    /// `crashed`, not `abnormal`.
    native_crashes: Vec<(u32, SystemTime)>,
}

impl AppSessionKeeper {
    pub(crate) fn new(session: Option<Arc<AppSession>>, spool: Option<Arc<Spool>>) -> Self {
        AppSessionKeeper {
            session,
            spool,
            next_beat: Instant::now(),
            file_written: false,
            native_crashes: Vec::new(),
        }
    }

    /// At start: writes this process's session file, and returns the envelopes of the sessions that processes now
    /// gone left running, each `abnormal` (whether or not this process tracks sessions: they were recorded under
    /// the options of their own process).
    pub(crate) fn start(&mut self) -> Vec<Envelope> {
        self.beat(Instant::now())
    }

    /// Notes that process `pid` died of a native crash at `at`, before `start` looks for the session it left.
    #[cfg_attr(
        not(faultline_native_crash),
        expect(dead_code, reason = "only native crash records tell of such deaths")
    )]
    pub(crate) fn note_native_crash(&mut self, pid: u32, at: SystemTime) {
        self.native_crashes.push((pid, at));
    }

    /// The sessions other processes left running, as `abnormal` updates (`crashed` for a native crash).
    fn abandoned(&self) -> Vec<Envelope> {
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
            // The crash came after the session started and before its file was last written, if the pid was not
            // reused in between.
            let crash = self.native_crashes.iter().find(|(pid, at)| {
                *pid == found.pid && *at >= running.started && *at + HEARTBEAT * 3 >= found.written
            });
            let update = match (crash, found.crashed) {
                (Some(&(_, at)), _) => crashed_natively(running, at),
                // Marked by the handler, but its record was reported by another process (or not at all).
                (None, Some(at)) => crashed_natively(running, at),
                (None, None) => abandoned(running, found.written),
            };
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
            let _ = write(self.spool.as_deref(), session, running);
        }) {
            envelope.items.push(EnvelopeItem::Session(Box::new(update)));
        }
    }

    /// When the next heartbeat is due, if there is a spool to keep the file in and look for abandoned ones.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        self.spool.is_some().then_some(self.next_beat)
    }

    /// The heartbeat, if due: see [`AppSessionKeeper::beat`].
    pub(crate) fn tick(&mut self, now: Instant) -> Vec<Envelope> {
        if now >= self.next_beat {
            self.beat(now)
        } else {
            Vec::new()
        }
    }

    /// Writes the session's file again, unless another process took it meanwhile (it took this process for dead,
    /// after a long suspend, and reported the session `abnormal`: then the session ends here without another
    /// word); returns the sessions other processes left running.
    fn beat(&mut self, now: Instant) -> Vec<Envelope> {
        self.next_beat = now + HEARTBEAT;
        if let (Some(session), Some(spool)) = (&self.session, &self.spool) {
            let id = file_id(session);
            if self.file_written && !spool.has_live_session(&id) {
                sdk_debug!("another process reported this session as abandoned; it ends here");
                session.abandon();
            } else {
                let mut written = false;
                session.persist(SystemTime::now(), |running| {
                    written = write(Some(spool), session, running);
                });
                #[cfg(faultline_native_crash)]
                if written && !self.file_written {
                    crate::native_crash::handler::note_session_file(&spool.live_session_path(&id));
                }
                self.file_written |= written;
            }
        }
        self.abandoned()
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

/// Writes the running session's file, if there is a spool; returns whether it was written.
fn write(spool: Option<&Spool>, session: &AppSession, running: &SessionUpdate) -> bool {
    let Some(spool) = spool else { return false };
    let written = serde_json::to_vec(running)
        .map_err(std::io::Error::other)
        .and_then(|bytes| spool.write_live_session(&file_id(session), &bytes));
    if let Err(e) = &written {
        sdk_debug!("could not write the session's file: {e}");
    }
    written.is_ok()
}

/// An envelope of one session update.
pub(crate) fn envelope(update: SessionUpdate) -> Envelope {
    Envelope {
        items: vec![EnvelopeItem::Session(Box::new(update))],
        ..Envelope::default()
    }
}
