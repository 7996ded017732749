//! [`Offline`]: the worker's view of whether the server can be reached, and when to try it again.

use std::time::{Duration, Instant};

use super::retry;

/// The shortest pause after a failure, so a flapping server is not hammered when the jitter rolls near zero.
const MIN_PROBE_DELAY: Duration = Duration::from_millis(100);

/// Failed attempts in a row, and the pause they earned.
#[derive(Debug, Default)]
pub(crate) struct Offline {
    /// Failed attempts in a row.
    failures: u32,
    /// No attempt before this instant.
    until: Option<Instant>,
}

impl Offline {
    pub(crate) fn is_offline(&self, now: Instant) -> bool {
        self.until.is_some_and(|until| now < until)
    }

    /// When the current pause ends, if there is one.
    pub(crate) fn until(&self) -> Option<Instant> {
        self.until
    }

    /// An attempt failed: pause for the next delay of the retry schedule, with `roll` (in `[0, 1)`) as its jitter.
    pub(crate) fn failed(&mut self, now: Instant, roll: f64) {
        self.failures = self.failures.saturating_add(1);
        // Past the retry schedule's last attempt, keep probing at the longest delay: the data is kept, not dropped.
        let attempt = self.failures.min(retry::MAX_ATTEMPTS - 1);
        let delay = retry::next_delay(attempt, roll).unwrap_or(retry::MAX_DELAY);
        self.until = now.checked_add(delay.max(MIN_PROBE_DELAY));
    }

    /// The server answered.
    pub(crate) fn recovered(&mut self) {
        self.failures = 0;
        self.until = None;
    }

    /// Ends the pause now (a flush is a good moment to find out whether the server is back), keeping the count.
    pub(crate) fn probe_now(&mut self) {
        self.until = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_pause_and_an_answer_lifts_the_pause() {
        let now = Instant::now();
        let mut offline = Offline::default();
        assert!(!offline.is_offline(now));
        offline.failed(now, 0.0);
        assert!(offline.is_offline(now), "at least the minimum probe delay");
        assert!(!offline.is_offline(now + retry::MAX_DELAY + MIN_PROBE_DELAY));
        offline.probe_now();
        assert!(!offline.is_offline(now));
        offline.failed(now, 0.99);
        offline.recovered();
        assert_eq!(offline.until(), None);
    }
}
