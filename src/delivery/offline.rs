//! [`Offline`]: the worker's view of whether the server can be reached, and when to try it again.
//!
//! After a failure (see `retry.rs`) delivery pauses for the next delay of the schedule: a *step*. When a step ends,
//! one waiting envelope is tried (the probe); if it fails, the next, longer step begins. A `flush` during a step may
//! try one probe early, so a program that flushes before it exits learns at once that the server is back; that
//! probe's failure leaves the step as it was, so flushing in a loop makes at most one request more per step, and
//! no envelope is charged for it. A `Retry-After` on the failed response is the server's own request to wait: the
//! step lasts at least that long and no early probe is made before it ends.

use std::time::{Duration, Instant};

use super::retry;

/// The shortest pause after a failure, so a flapping server is not hammered when the jitter rolls near zero, nor
/// probed in a busy loop with a `max_retry_delay` of zero.
const MIN_PROBE_DELAY: Duration = Duration::from_millis(100);

/// Failed attempts in a row, and the pause they earned.
#[derive(Debug)]
pub(crate) struct Offline {
    /// Failed attempts in a row; each one started a step.
    failures: u32,
    /// No attempt before this instant, but an early probe.
    until: Option<Instant>,
    /// No attempt at all before this instant: the server's `Retry-After`.
    asked_until: Option<Instant>,
    /// Whether this step's early probe has been made.
    probed_early: bool,
    /// Whether the request under way is an early probe.
    probing: bool,
    /// The cap on the delays.
    max_delay: Duration,
}

impl Offline {
    /// Reachable, with delays capped at `max_delay`.
    pub(crate) fn new(max_delay: Duration) -> Self {
        Offline {
            failures: 0,
            until: None,
            asked_until: None,
            probed_early: false,
            probing: false,
            max_delay,
        }
    }

    /// Whether `now` falls in a step (a pause after a failure).
    pub(crate) fn is_offline(&self, now: Instant) -> bool {
        self.until.is_some_and(|until| now < until)
    }

    /// When the current step ends, if there is one.
    pub(crate) fn until(&self) -> Option<Instant> {
        self.until
    }

    /// Whether an early probe is under way (see [`Offline::start_early_probe`]).
    pub(crate) fn is_probing(&self) -> bool {
        self.probing
    }

    /// Starts this step's early probe, if it has not been made and the server did not ask to wait longer; returns
    /// whether it started. End it with [`Offline::end_early_probe`] once the request is done.
    pub(crate) fn start_early_probe(&mut self, now: Instant) -> bool {
        let asked = self.asked_until.is_some_and(|until| now < until);
        if !self.is_offline(now) || self.probed_early || asked {
            return false;
        }
        self.probed_early = true;
        self.probing = true;
        true
    }

    /// The early probe is done, whatever its answer.
    pub(crate) fn end_early_probe(&mut self) {
        self.probing = false;
    }

    /// An attempt failed at `now`, with `roll` (in `[0, 1)`) for the jitter and the server's `Retry-After`, if it
    /// sent one. After an early probe the step stands (lengthened to the server's `Retry-After`, if any);
    /// otherwise the next step begins.
    pub(crate) fn failed(&mut self, now: Instant, roll: f64, asked: Option<Duration>) {
        let asked_until = asked.and_then(|asked| now.checked_add(asked));
        if self.probing && self.is_offline(now) {
            self.until = self.until.max(asked_until);
            self.asked_until = self.asked_until.max(asked_until);
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let delay = retry::next_delay(self.failures, roll, self.max_delay).max(MIN_PROBE_DELAY);
        self.until = now.checked_add(delay).max(asked_until);
        self.asked_until = asked_until;
        self.probed_early = false;
    }

    /// The server answered.
    pub(crate) fn recovered(&mut self) {
        self.failures = 0;
        self.until = None;
        self.asked_until = None;
        self.probed_early = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = retry::DEFAULT_MAX_DELAY;

    #[test]
    fn failures_pause_and_an_answer_lifts_the_pause() {
        let now = Instant::now();
        let mut offline = Offline::new(MAX);
        assert!(!offline.is_offline(now));
        offline.failed(now, 0.0, None);
        assert!(offline.is_offline(now), "at least the minimum probe delay");
        assert!(!offline.is_offline(now + MIN_PROBE_DELAY));
        offline.failed(now, 0.99, None);
        offline.recovered();
        assert_eq!(offline.until(), None);
        assert!(!offline.is_offline(now));
    }

    #[test]
    fn one_early_probe_per_step_and_its_failure_keeps_the_step() {
        let now = Instant::now();
        let mut offline = Offline::new(MAX);
        assert!(!offline.start_early_probe(now), "nothing to probe early");
        offline.failed(now, 0.5, None);
        let step = offline.until().unwrap();
        assert!(offline.start_early_probe(now));
        assert!(offline.is_probing());
        offline.failed(now + Duration::from_millis(10), 0.0, None);
        offline.end_early_probe();
        assert_eq!(offline.until(), Some(step), "the step stands");
        assert_eq!(offline.failures, 1, "and the count with it");
        for _ in 0..100 {
            assert!(!offline.start_early_probe(now), "one per step");
        }
        // The step's own probe fails: a new, longer step, with an early probe of its own.
        offline.failed(step, 0.5, None);
        assert_eq!(offline.failures, 2);
        assert!(offline.until().unwrap() > step);
        assert!(offline.start_early_probe(step));
    }

    #[test]
    fn retry_after_lengthens_the_step_and_forbids_early_probes() {
        let now = Instant::now();
        let mut offline = Offline::new(MAX);
        offline.failed(now, 0.0, Some(Duration::from_secs(30)));
        assert_eq!(offline.until(), Some(now + Duration::from_secs(30)));
        assert!(!offline.start_early_probe(now + Duration::from_secs(29)));
        assert!(!offline.is_offline(now + Duration::from_secs(30)));
        // An early probe's failure with a `Retry-After` lengthens the step it is in.
        offline.failed(now + Duration::from_secs(30), 0.0, None);
        let at = now + Duration::from_secs(30);
        assert!(offline.start_early_probe(at));
        offline.failed(at, 0.0, Some(Duration::from_secs(90)));
        offline.end_early_probe();
        assert_eq!(offline.until(), Some(at + Duration::from_secs(90)));
    }

    #[test]
    fn the_cap_bounds_every_step_and_the_floor_holds_under_it() {
        let cap = Duration::from_millis(300);
        let now = Instant::now();
        let mut offline = Offline::new(cap);
        for _ in 0..20 {
            offline.failed(now, 0.999, None);
            assert!(offline.until().unwrap() <= now + cap);
        }
        // A cap of zero would make a busy loop of probes: the floor still holds.
        let mut zero = Offline::new(Duration::ZERO);
        zero.failed(now, 0.5, None);
        assert_eq!(zero.until(), Some(now + MIN_PROBE_DELAY));
        assert!(zero.is_offline(now));
    }
}
