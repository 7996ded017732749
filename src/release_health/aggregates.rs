//! The per-minute counts of ended request sessions, sent as `sessions` items: [`RequestCounts`], shared by the
//! threads that end requests (they count) and the worker (it sends), around an [`Aggregator`].
//!
//! Counting on the requests' threads costs one short lock and never a queue slot, so a busy server's sessions never
//! take the room of its errors in the data queue, however slow the server is.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, UNIX_EPOCH};

use super::request_session::{Ended, RequestOutcome};
use crate::protocol::{SessionAggregate, SessionAggregates, SessionAttributes};
use crate::sync::lock;

/// The most buckets in one `sessions` item.
pub(crate) const MAX_BUCKETS: usize = 100;

/// The most buckets that wait (ten items' worth, each a minute and a user); a session that would need one more is
/// dropped and counted.
pub(crate) const MAX_WAITING_BUCKETS: usize = 1000;

/// How long counts wait before they go: a minute, as Sentry's SDKs do.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(60);

/// What [`RequestCounts::count`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counted {
    /// Counted.
    Kept,
    /// Counted, and an item's worth of buckets waits: time to wake the worker.
    Full,
    /// Not counted: [`MAX_WAITING_BUCKETS`] wait already.
    Dropped,
}

/// The counts waiting for the worker, and since when.
#[derive(Debug)]
pub(crate) struct RequestCounts {
    waiting: Mutex<(Aggregator, Option<Instant>)>,
}

impl RequestCounts {
    pub(crate) fn new(attrs: SessionAttributes) -> Self {
        RequestCounts {
            waiting: Mutex::new((Aggregator::new(attrs), None)),
        }
    }

    /// Counts one ended request.
    pub(crate) fn count(&self, outcome: RequestOutcome, now: Instant) -> Counted {
        let mut waiting = lock(&self.waiting);
        let (aggregator, since) = &mut *waiting;
        if aggregator.len() >= MAX_WAITING_BUCKETS && !aggregator.has_bucket(&outcome) {
            return Counted::Dropped;
        }
        aggregator.count(outcome);
        since.get_or_insert(now);
        if aggregator.len() >= MAX_BUCKETS {
            Counted::Full
        } else {
            Counted::Kept
        }
    }

    /// When the waiting counts must go, if any wait.
    pub(crate) fn due(&self) -> Option<Instant> {
        let waiting = lock(&self.waiting);
        waiting.1.map(|since| since + MAX_WAIT)
    }

    /// Takes the counts if they are due at `now` or fill an item (every count with `all`), as items of at most
    /// [`MAX_BUCKETS`] buckets.
    pub(crate) fn take(&self, now: Instant, all: bool) -> Vec<SessionAggregates> {
        let mut waiting = lock(&self.waiting);
        let (aggregator, since) = &mut *waiting;
        let due = since.is_some_and(|since| now >= since + MAX_WAIT);
        if !(all || due || aggregator.len() >= MAX_BUCKETS) {
            return Vec::new();
        }
        *since = None;
        aggregator.take()
    }
}

/// Counts by the minute a session started in and its user.
#[derive(Debug)]
pub(crate) struct Aggregator {
    attrs: SessionAttributes,
    buckets: BTreeMap<(u64, Option<String>), SessionAggregate>,
}

impl Aggregator {
    pub(crate) fn new(attrs: SessionAttributes) -> Self {
        Aggregator {
            attrs,
            buckets: BTreeMap::new(),
        }
    }

    /// Counts one ended session.
    pub(crate) fn count(&mut self, outcome: RequestOutcome) {
        let minute = minute_of(&outcome);
        let bucket = self
            .buckets
            .entry((minute, outcome.did.clone()))
            .or_insert_with(|| SessionAggregate {
                started: UNIX_EPOCH + Duration::from_secs(minute),
                did: outcome.did,
                exited: 0,
                errored: 0,
                abnormal: 0,
                crashed: 0,
            });
        let count = match outcome.ended {
            Ended::Exited => &mut bucket.exited,
            Ended::Errored => &mut bucket.errored,
            Ended::Crashed => &mut bucket.crashed,
        };
        *count = count.saturating_add(1);
    }

    /// How many buckets wait.
    pub(crate) fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether `outcome` would go in a bucket that exists already.
    fn has_bucket(&self, outcome: &RequestOutcome) -> bool {
        self.buckets
            .contains_key(&(minute_of(outcome), outcome.did.clone()))
    }

    /// Takes every count, as items of at most [`MAX_BUCKETS`] buckets each.
    pub(crate) fn take(&mut self) -> Vec<SessionAggregates> {
        let buckets: Vec<SessionAggregate> =
            std::mem::take(&mut self.buckets).into_values().collect();
        buckets
            .chunks(MAX_BUCKETS)
            .map(|chunk| SessionAggregates {
                aggregates: chunk.to_vec(),
                attrs: self.attrs.clone(),
            })
            .collect()
    }
}

/// The start of the minute the session started in, in Unix seconds.
fn minute_of(outcome: &RequestOutcome) -> u64 {
    outcome
        .started
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60 * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(secs: u64, did: Option<&str>, ended: Ended) -> RequestOutcome {
        RequestOutcome {
            started: UNIX_EPOCH + Duration::from_secs(secs),
            did: did.map(str::to_owned),
            ended,
        }
    }

    #[test]
    fn sessions_are_counted_per_minute_and_user() {
        let mut agg = Aggregator::new(SessionAttributes {
            release: "r@1".into(),
            environment: None,
        });
        let base = 1_795_428_000; // a whole minute
        for (secs, did, ended) in [
            (base, None, Ended::Exited),
            (base + 59, None, Ended::Exited),
            (base + 30, None, Ended::Errored),
            (base + 30, Some("u1"), Ended::Crashed),
            (base + 60, None, Ended::Exited),
        ] {
            agg.count(outcome(secs, did, ended));
        }
        assert_eq!(agg.len(), 3);
        let items = agg.take();
        assert_eq!(agg.len(), 0);
        assert_eq!(items.len(), 1);
        let got: Vec<_> = items[0]
            .aggregates
            .iter()
            .map(|b| {
                (
                    b.started.duration_since(UNIX_EPOCH).unwrap().as_secs() - base,
                    b.did.clone(),
                    b.exited,
                    b.errored,
                    b.crashed,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (0, None, 2, 1, 0),
                (0, Some("u1".to_owned()), 0, 0, 1),
                (60, None, 1, 0, 0),
            ]
        );
        assert_eq!(items[0].attrs.release, "r@1");
    }

    #[test]
    fn many_buckets_go_as_several_items() {
        let mut agg = Aggregator::new(SessionAttributes::default());
        for n in 0..250 {
            agg.count(outcome(0, Some(&format!("u{n}")), Ended::Exited));
        }
        let sizes: Vec<usize> = agg.take().iter().map(|i| i.aggregates.len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
    }

    #[test]
    fn shared_counts_go_when_due_or_full_and_are_bounded() {
        let counts = RequestCounts::new(SessionAttributes::default());
        let now = Instant::now();
        assert_eq!(counts.due(), None);
        assert!(counts.take(now, true).is_empty());
        assert_eq!(
            counts.count(outcome(0, None, Ended::Exited), now),
            Counted::Kept
        );
        assert_eq!(counts.due(), Some(now + MAX_WAIT));
        assert!(counts.take(now + Duration::from_secs(59), false).is_empty());
        assert_eq!(counts.take(now + MAX_WAIT, false).len(), 1);
        assert_eq!(counts.due(), None);

        for n in 0..99 {
            let user = format!("u{n}");
            assert_eq!(
                counts.count(outcome(0, Some(&user), Ended::Exited), now),
                Counted::Kept
            );
        }
        assert_eq!(
            counts.count(outcome(0, Some("u99"), Ended::Exited), now),
            Counted::Full
        );
        assert_eq!(
            counts.take(now, false).len(),
            1,
            "full: goes before it is due"
        );

        for n in 0..MAX_WAITING_BUCKETS {
            counts.count(outcome(0, Some(&format!("v{n}")), Ended::Exited), now);
        }
        let one_more = outcome(0, Some("w"), Ended::Exited);
        assert_eq!(counts.count(one_more, now), Counted::Dropped);
        let existing = outcome(0, Some("v0"), Ended::Errored);
        assert_eq!(
            counts.count(existing, now),
            Counted::Full,
            "an existing bucket still counts"
        );
        let items = counts.take(now, true);
        assert_eq!(items.len(), MAX_WAITING_BUCKETS / MAX_BUCKETS);
    }
}
