//! [`Aggregator`]: the worker's per-minute counts of ended request sessions, sent as `sessions` items.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use super::request_session::{Ended, RequestOutcome};
use crate::protocol::{SessionAggregate, SessionAggregates, SessionAttributes};

/// The most buckets in one `sessions` item.
pub(crate) const MAX_BUCKETS: usize = 100;

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
        let minute = outcome
            .started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 60 * 60);
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
}
