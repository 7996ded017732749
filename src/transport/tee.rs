//! [`Tee`]: one envelope to several transports, the first one's outcome deciding delivery.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::interface::{Outcome, Transport};
use crate::protocol::{Envelope, EventId};

/// How many event ids a [`Tee`] remembers to avoid handing a retried envelope to its secondaries again.
const RECENT_IDS: usize = 64;

/// A transport that sends each envelope to a primary transport and to any number of secondary ones, such as the
/// HTTP transport plus a [`JsonLinesSink`](crate::sink::JsonLinesSink) that keeps a local copy of every event.
///
/// The worker sees only the primary's [`Outcome`], so the primary alone decides retries, rate limits and the spool.
/// Secondaries are best effort: their outcomes are ignored and a panic in one is caught, so a full disk cannot
/// cost an event its delivery to the server. Each envelope goes to the secondaries first, then to the primary.
///
/// When the primary fails and the worker sends the envelope again, the secondaries do not get it a second time: the
/// tee remembers the ids of the last 64 events it passed on. An envelope replayed from the spool by a later process
/// does reach them again; its `event.id` tells the copies apart.
///
/// [`Transport::flush`] and [`Transport::shutdown`] go to every transport, each with what remains of the timeout,
/// and return whether all of them finished.
///
/// ```no_run
/// use faultline::ClientOptions;
/// use faultline::sink::JsonLinesSink;
/// use faultline::transport::{HttpTransport, Tee, TransportOptions};
///
/// let dsn = "https://public_key@errors.example.com/42";
/// let http = HttpTransport::new(&TransportOptions::new(dsn.parse()?));
/// let sink = JsonLinesSink::builder("/var/log/billing/app.log").build()?;
/// // The DSN is still set: it enables the SDK and names the release's project.
/// let _guard = faultline::init(ClientOptions::new().dsn(dsn).transport(Tee::new(http).with(sink)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Both transports receive the envelope:
///
/// ```
/// use faultline::test::TestTransport;
/// use faultline::transport::Tee;
///
/// let (primary, copy) = (TestTransport::new(), TestTransport::new());
/// let guard = faultline::init(
///     faultline::ClientOptions::new().transport(Tee::new(primary.clone()).with(copy.clone())),
/// );
/// faultline::capture_message("disk almost full", faultline::Level::Warning);
/// assert!(faultline::flush(std::time::Duration::from_secs(5)));
///
/// let (sent, copied) = (primary.take_events(), copy.take_events());
/// assert_eq!(sent.len(), 1);
/// assert_eq!(copied.len(), 1);
/// assert_eq!(sent[0].event_id, copied[0].event_id);
/// assert_eq!(copied[0].message.as_deref(), Some("disk almost full"));
/// # drop(guard);
/// ```
pub struct Tee {
    primary: Box<dyn Transport>,
    secondaries: Vec<Box<dyn Transport>>,
    /// Event ids already handed to the secondaries, oldest first.
    recent: Mutex<VecDeque<EventId>>,
}

impl Tee {
    /// A tee whose outcomes are `primary`'s, with no secondaries yet.
    pub fn new(primary: impl Transport) -> Self {
        Tee {
            primary: Box::new(primary),
            secondaries: Vec::new(),
            recent: Mutex::new(VecDeque::with_capacity(RECENT_IDS)),
        }
    }

    /// Adds a secondary transport, which gets every envelope on a best-effort basis.
    #[must_use]
    pub fn with(mut self, secondary: impl Transport) -> Self {
        self.secondaries.push(Box::new(secondary));
        self
    }

    /// Whether the secondaries should get `envelope`: not when they already got an envelope with its event id.
    fn first_time(&self, envelope: &Envelope) -> bool {
        let Some(id) = envelope.event_id else {
            return true;
        };
        // A poisoned lock only means a panic elsewhere while holding it; the ids are still usable.
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if recent.contains(&id) {
            return false;
        }
        if recent.len() == RECENT_IDS {
            recent.pop_front();
        }
        recent.push_back(id);
        true
    }
}

impl std::fmt::Debug for Tee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tee")
            .field("secondaries", &self.secondaries.len())
            .finish_non_exhaustive()
    }
}

/// Runs `f` for each transport with what is left of `timeout`; true when every call returned true.
fn each_within<'a>(
    transports: impl Iterator<Item = (bool, &'a dyn Transport)>,
    timeout: Duration,
    f: impl Fn(&dyn Transport, Duration) -> bool,
) -> bool {
    let start = Instant::now();
    let mut all = true;
    for (primary, transport) in transports {
        let left = timeout.saturating_sub(start.elapsed());
        let done = if primary {
            f(transport, left)
        } else {
            catch_unwind(AssertUnwindSafe(|| f(transport, left))).unwrap_or(false)
        };
        all &= done;
    }
    all
}

impl Tee {
    fn all(&self) -> impl Iterator<Item = (bool, &dyn Transport)> {
        self.secondaries
            .iter()
            .map(|t| (false, t.as_ref()))
            .chain(std::iter::once((true, self.primary.as_ref())))
    }
}

impl Transport for Tee {
    fn send_envelope(&self, envelope: &Envelope) -> Outcome {
        // Secondaries first, so a panicking primary (which the worker catches) does not cost them the envelope.
        if !self.secondaries.is_empty() && self.first_time(envelope) {
            for secondary in &self.secondaries {
                let _ = catch_unwind(AssertUnwindSafe(|| secondary.send_envelope(envelope)));
            }
        }
        self.primary.send_envelope(envelope)
    }

    fn flush(&self, timeout: Duration) -> bool {
        each_within(self.all(), timeout, |t, left| t.flush(left))
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        each_within(self.all(), timeout, |t, left| t.shutdown(left))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::protocol::Event;

    #[derive(Default)]
    struct Count {
        sends: AtomicUsize,
        flushes: AtomicUsize,
        shutdowns: AtomicUsize,
        panics: bool,
    }

    impl Transport for Count {
        fn send_envelope(&self, _: &Envelope) -> Outcome {
            self.sends.fetch_add(1, Ordering::SeqCst);
            if self.panics {
                panic!("secondary failed");
            }
            Outcome::NetworkError
        }

        fn flush(&self, _: Duration) -> bool {
            self.flushes.fetch_add(1, Ordering::SeqCst);
            !self.panics
        }

        fn shutdown(&self, _: Duration) -> bool {
            self.shutdowns.fetch_add(1, Ordering::SeqCst);
            true
        }
    }

    #[test]
    fn the_primary_decides_and_secondaries_get_each_event_once() {
        let primary = Arc::new(Count::default());
        let broken = Arc::new(Count {
            panics: true,
            ..Count::default()
        });
        let copy = Arc::new(Count::default());
        let tee = Tee::new(primary.clone())
            .with(broken.clone())
            .with(copy.clone());
        let envelope = Envelope::from_event(Event::new());
        assert_eq!(tee.send_envelope(&envelope), Outcome::NetworkError);
        // The worker retries after the network error: only the primary sees it again.
        assert_eq!(tee.send_envelope(&envelope), Outcome::NetworkError);
        assert_eq!(primary.sends.load(Ordering::SeqCst), 2);
        assert_eq!(broken.sends.load(Ordering::SeqCst), 1);
        assert_eq!(copy.sends.load(Ordering::SeqCst), 1);
        tee.send_envelope(&Envelope::from_event(Event::new()));
        assert_eq!(copy.sends.load(Ordering::SeqCst), 2);

        assert!(!tee.flush(Duration::from_secs(1)), "one secondary failed");
        assert!(tee.shutdown(Duration::from_secs(1)));
        for t in [&primary, &broken, &copy] {
            assert_eq!(t.flushes.load(Ordering::SeqCst), 1);
            assert_eq!(t.shutdowns.load(Ordering::SeqCst), 1);
        }
    }

    #[test]
    fn old_ids_are_forgotten() {
        let tee = Tee::new(Count::default()).with(Count::default());
        let first = Envelope::from_event(Event::new());
        assert!(tee.first_time(&first));
        for _ in 0..RECENT_IDS {
            assert!(tee.first_time(&Envelope::from_event(Event::new())));
        }
        assert!(tee.first_time(&first), "pushed out by newer ids");
    }
}
