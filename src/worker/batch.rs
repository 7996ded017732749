//! How each kind of item is shipped, and the batches that hold the kinds that wait for company.
//!
//! Events, transactions, check-ins and feedback go at once, one envelope each. Logs, metrics and session aggregates
//! are many small records: they wait in a [`Batches`] until their kind's batch is full or its oldest record has
//! waited its time, then go as one envelope; a flush and a shutdown send every batch. The client report is made by
//! delivery itself and rides along (see `delivery::may_carry_report`).

use std::time::{Duration, Instant};

use crate::protocol::SessionAttributes;
use crate::protocol::envelope::{Envelope, EnvelopeItem};
use crate::protocol::item_kind::ItemKind;
use crate::release_health::aggregates::{Aggregator, MAX_BUCKETS};
use crate::release_health::request_session::RequestOutcome;

/// How long the counts of request sessions wait: a minute, as Sentry's SDKs do.
const SESSIONS_WAIT: Duration = Duration::from_secs(60);

/// How the worker ships an item of a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shipping {
    /// In an envelope of its own, as soon as it is finished.
    AtOnce,
    /// With others of its kind: when `max_items` wait, or when the oldest has waited `max_wait`.
    Batched {
        max_items: usize,
        max_wait: Duration,
    },
    /// Never queued by itself: delivery adds it to an envelope that is going anyway, or sends it alone when none
    /// came for a while (the client report).
    RidesAlong,
}

/// The shipping of each kind: the one table the worker follows.
pub(crate) fn shipping(kind: ItemKind) -> Shipping {
    match kind {
        ItemKind::Event
        | ItemKind::Transaction
        | ItemKind::Session
        | ItemKind::CheckIn
        | ItemKind::Feedback
        | ItemKind::Attachment => Shipping::AtOnce,
        // Sentry's limits for one log or metric container, and the wait its SDKs use.
        ItemKind::Log | ItemKind::TraceMetric => Shipping::Batched {
            max_items: 100,
            max_wait: Duration::from_secs(5),
        },
        ItemKind::Sessions => Shipping::Batched {
            max_items: MAX_BUCKETS,
            max_wait: SESSIONS_WAIT,
        },
        ItemKind::ClientReport => Shipping::RidesAlong,
    }
}

/// The batches of the kinds that wait, each at most its kind's `max_items` long, and the per-minute counts of
/// request sessions, which wait the same way but are merged rather than listed.
#[derive(Default)]
pub(crate) struct Batches {
    open: Vec<Batch>,
    /// The counts of ended request sessions, and when they must go; `None` without request-mode sessions.
    sessions: Option<(Aggregator, Option<Instant>)>,
}

struct Batch {
    kind: ItemKind,
    items: Vec<EnvelopeItem>,
    /// When the oldest item must go.
    due: Instant,
}

impl Batches {
    /// Batches that also count request sessions, of the release and environment `attrs`.
    pub(crate) fn with_sessions(attrs: Option<SessionAttributes>) -> Self {
        Batches {
            open: Vec::new(),
            sessions: attrs.map(|attrs| (Aggregator::new(attrs), None)),
        }
    }

    /// Counts an ended request session; returns the envelope to send when the counts reach an item's limit of
    /// buckets. Without request-mode sessions it is dropped.
    pub(crate) fn count_session(
        &mut self,
        outcome: RequestOutcome,
        now: Instant,
    ) -> Option<Envelope> {
        let (aggregator, due) = self.sessions.as_mut()?;
        aggregator.count(outcome);
        due.get_or_insert(now + SESSIONS_WAIT);
        if aggregator.len() >= MAX_BUCKETS {
            return self.take_sessions().pop();
        }
        None
    }

    /// Takes the session counts, as envelopes.
    fn take_sessions(&mut self) -> Vec<Envelope> {
        let Some((aggregator, due)) = self.sessions.as_mut() else {
            return Vec::new();
        };
        *due = None;
        aggregator
            .take()
            .into_iter()
            .map(|item| envelope(vec![EnvelopeItem::Sessions(item)]))
            .collect()
    }

    /// Adds a finished item of a batched `kind`; returns the envelope to send when this item fills the batch.
    /// An item of a kind that is not batched comes back at once, in an envelope of its own.
    pub(crate) fn push(
        &mut self,
        kind: ItemKind,
        item: EnvelopeItem,
        now: Instant,
    ) -> Option<Envelope> {
        let Shipping::Batched {
            max_items,
            max_wait,
        } = shipping(kind)
        else {
            return Some(envelope(vec![item]));
        };
        let at = match self.open.iter().position(|b| b.kind == kind) {
            Some(at) => at,
            None => {
                self.open.push(Batch {
                    kind,
                    items: Vec::new(),
                    due: now + max_wait,
                });
                self.open.len() - 1
            }
        };
        self.open[at].items.push(item);
        if self.open[at].items.len() >= max_items.max(1) {
            let batch = self.open.swap_remove(at);
            return Some(envelope(batch.items));
        }
        None
    }

    /// When the next batch is due, if any waits.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        let sessions = self.sessions.as_ref().and_then(|(_, due)| *due);
        self.open.iter().map(|b| b.due).chain(sessions).min()
    }

    /// Takes the batches due at `now`, as envelopes.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<Envelope> {
        let mut due = Vec::new();
        self.open.retain_mut(|batch| {
            if batch.due > now {
                return true;
            }
            due.push(envelope(std::mem::take(&mut batch.items)));
            false
        });
        if self
            .sessions
            .as_ref()
            .is_some_and(|(_, at)| at.is_some_and(|at| at <= now))
        {
            due.extend(self.take_sessions());
        }
        due
    }

    /// Takes every batch, due or not (a flush or a shutdown).
    pub(crate) fn take_all(&mut self) -> Vec<Envelope> {
        let mut all: Vec<Envelope> = self
            .open
            .drain(..)
            .map(|batch| envelope(batch.items))
            .collect();
        all.extend(self.take_sessions());
        all
    }
}

/// One envelope for items that may share it (the caller's concern: a batch holds one kind), with the id and SDK of
/// its event or transaction in the header.
pub(crate) fn envelope(mut items: Vec<EnvelopeItem>) -> Envelope {
    let mut trace = None;
    let (event_id, sdk) = items
        .iter_mut()
        .find_map(|item| match item {
            EnvelopeItem::Event(event) => Some((event.event_id, event.sdk.clone())),
            EnvelopeItem::Transaction(t) => {
                trace = t.dynamic_sampling_context.take();
                Some((t.event_id, t.sdk.clone()))
            }
            _ => None,
        })
        .unzip();
    Envelope {
        event_id,
        sdk: sdk.flatten(),
        trace,
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(n: usize) -> EnvelopeItem {
        EnvelopeItem::Raw {
            ty: "log".into(),
            payload: format!("{{\"items\":[{{\"body\":\"record {n}\"}}]}}").into_bytes(),
        }
    }

    fn types(envelope: &Envelope) -> Vec<&str> {
        envelope.items.iter().map(EnvelopeItem::ty).collect()
    }

    #[test]
    fn every_kind_has_a_shipping_that_fits_the_sharing_table() {
        for kind in ItemKind::ALL {
            match shipping(kind) {
                // A batch is one envelope of one kind: only kinds that may not share with themselves are batched
                // as one container each.
                Shipping::Batched { max_items, .. } => assert!(max_items >= 1, "{kind:?}"),
                Shipping::RidesAlong => assert_eq!(kind, ItemKind::ClientReport),
                Shipping::AtOnce => {}
            }
        }
        assert_eq!(shipping(ItemKind::Event), Shipping::AtOnce);
        assert_eq!(shipping(ItemKind::Transaction), Shipping::AtOnce);
        assert!(matches!(shipping(ItemKind::Log), Shipping::Batched { .. }));
    }

    #[test]
    fn an_event_goes_at_once_in_its_own_envelope() {
        let mut batches = Batches::default();
        let event = crate::protocol::event::Event::new();
        let id = event.event_id;
        let envelope = batches
            .push(
                ItemKind::Event,
                EnvelopeItem::Event(Box::new(event)),
                Instant::now(),
            )
            .expect("at once");
        assert_eq!(envelope.event_id, Some(id));
        assert_eq!(types(&envelope), ["event"]);
        assert_eq!(batches.next_due(), None);
    }

    #[test]
    fn request_sessions_are_counted_and_go_a_minute_after_the_first_or_when_full() {
        use crate::release_health::request_session::{Ended, RequestOutcome};
        use std::time::{SystemTime, UNIX_EPOCH};

        let outcome = |did: usize| RequestOutcome {
            started: SystemTime::now(),
            did: Some(format!("u{did}")),
            ended: Ended::Exited,
        };
        let now = Instant::now();
        let mut without = Batches::default();
        assert!(without.count_session(outcome(0), now).is_none());
        assert_eq!(without.next_due(), None, "not tracked: dropped");

        let mut batches = Batches::with_sessions(Some(SessionAttributes {
            release: "r@1".into(),
            environment: None,
        }));
        assert_eq!(batches.next_due(), None);
        assert!(batches.count_session(outcome(0), now).is_none());
        assert!(
            batches
                .count_session(outcome(0), now + Duration::from_secs(30))
                .is_none()
        );
        assert_eq!(batches.next_due(), Some(now + Duration::from_secs(60)));
        assert!(batches.take_due(now + Duration::from_secs(59)).is_empty());
        let due = batches.take_due(now + Duration::from_secs(60));
        assert_eq!(due.len(), 1);
        let EnvelopeItem::Sessions(item) = &due[0].items[0] else {
            panic!("{:?}", due[0]);
        };
        assert_eq!(item.aggregates.len(), 1);
        assert_eq!(item.aggregates[0].exited, 2);
        assert!(
            item.aggregates[0]
                .started
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
                % 60
                == 0
        );
        assert_eq!(batches.next_due(), None);

        // 100 buckets (one per user) fill an item, which goes at once.
        for did in 0..99 {
            assert!(batches.count_session(outcome(did), now).is_none(), "{did}");
        }
        let full = batches.count_session(outcome(99), now).expect("full");
        assert_eq!(types(&full), ["sessions"]);
        assert_eq!(batches.next_due(), None);
        batches.count_session(outcome(0), now);
        assert_eq!(types(&batches.take_all()[0]), ["sessions"]);
    }

    #[test]
    fn a_batch_goes_when_full_or_when_due() {
        let now = Instant::now();
        let mut batches = Batches::default();
        for n in 0..99 {
            assert!(batches.push(ItemKind::Log, log(n), now).is_none(), "{n}");
        }
        assert_eq!(batches.next_due(), Some(now + Duration::from_secs(5)));
        let full = batches
            .push(ItemKind::Log, log(99), now)
            .expect("the 100th fills it");
        assert_eq!(full.items.len(), 100);
        assert_eq!(full.event_id, None);
        assert_eq!(batches.next_due(), None);

        batches.push(ItemKind::Log, log(0), now);
        batches.push(
            ItemKind::Sessions,
            EnvelopeItem::Raw {
                ty: "sessions".into(),
                payload: b"{}".to_vec(),
            },
            now,
        );
        assert!(
            batches
                .take_due(now + Duration::from_millis(4999))
                .is_empty()
        );
        let due = batches.take_due(now + Duration::from_secs(5));
        assert_eq!(due.len(), 1, "only the logs are due");
        assert_eq!(types(&due[0]), ["log"]);
        assert_eq!(batches.next_due(), Some(now + Duration::from_secs(60)));
        let rest = batches.take_all();
        assert_eq!(rest.len(), 1);
        assert_eq!(types(&rest[0]), ["sessions"]);
        assert!(batches.take_all().is_empty());
    }
}
