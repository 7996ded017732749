//! How each kind of item is shipped, and the batches that hold the kinds that wait for company.
//!
//! Events, transactions, check-ins and feedback go at once, one envelope each. Logs, metrics and session aggregates
//! are many small records: they wait in a [`Batches`] until their kind's batch is full or its oldest record has
//! waited its time, then go as one envelope; a flush and a shutdown send every batch. The client report is made by
//! delivery itself and rides along (see `delivery::may_carry_report`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::protocol::envelope::{Envelope, EnvelopeItem};
use crate::protocol::item_kind::ItemKind;
use crate::release_health::aggregates::{MAX_BUCKETS, MAX_WAIT as SESSIONS_WAIT, RequestCounts};

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
/// request sessions, which wait the same way but are counted on the requests' threads rather than queued.
#[derive(Default)]
pub(crate) struct Batches {
    open: Vec<Batch>,
    /// The counts of ended request sessions; `None` without request-mode sessions.
    sessions: Option<Arc<RequestCounts>>,
}

struct Batch {
    kind: ItemKind,
    items: Vec<EnvelopeItem>,
    /// When the oldest item must go.
    due: Instant,
}

impl Batches {
    /// Batches that also send the counts of request sessions that the requests' threads keep in `counts`.
    pub(crate) fn with_sessions(counts: Option<Arc<RequestCounts>>) -> Self {
        Batches {
            open: Vec::new(),
            sessions: counts,
        }
    }

    /// Takes the session counts (all of them, or those due or filling an item at `now`), as envelopes.
    fn take_sessions(&mut self, now: Instant, all: bool) -> Vec<Envelope> {
        let Some(counts) = &self.sessions else {
            return Vec::new();
        };
        counts
            .take(now, all)
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
        let sessions = self.sessions.as_ref().and_then(|counts| counts.due());
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
        due.extend(self.take_sessions(now, false));
        due
    }

    /// Takes every batch, due or not (a flush or a shutdown).
    pub(crate) fn take_all(&mut self) -> Vec<Envelope> {
        let mut all: Vec<Envelope> = self
            .open
            .drain(..)
            .map(|batch| envelope(batch.items))
            .collect();
        all.extend(self.take_sessions(Instant::now(), true));
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
            EnvelopeItem::Event(event) | EnvelopeItem::Feedback(event) => {
                Some((event.event_id, event.sdk.clone()))
            }
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
    fn request_session_counts_go_a_minute_after_the_first_or_when_full() {
        use crate::protocol::SessionAttributes;
        use crate::release_health::request_session::{Ended, RequestOutcome};
        use std::time::SystemTime;

        let outcome = |did: usize| RequestOutcome {
            started: SystemTime::now(),
            did: Some(format!("u{did}")),
            ended: Ended::Exited,
        };
        let now = Instant::now();
        let counts = Arc::new(RequestCounts::new(SessionAttributes {
            release: "r@1".into(),
            environment: None,
        }));
        let mut batches = Batches::with_sessions(Some(counts.clone()));
        assert_eq!(batches.next_due(), None);
        counts.count(outcome(0), now);
        counts.count(outcome(0), now + Duration::from_secs(30));
        assert_eq!(batches.next_due(), Some(now + Duration::from_secs(60)));
        assert!(batches.take_due(now + Duration::from_secs(59)).is_empty());
        let due = batches.take_due(now + Duration::from_secs(60));
        assert_eq!(due.len(), 1);
        let EnvelopeItem::Sessions(item) = &due[0].items[0] else {
            panic!("{:?}", due[0]);
        };
        assert_eq!(item.aggregates.len(), 1);
        assert_eq!(item.aggregates[0].exited, 2);
        assert_eq!(batches.next_due(), None);

        // 100 buckets (one per user) fill an item, which goes at the next look, due or not.
        for did in 0..100 {
            counts.count(outcome(did), now);
        }
        let full = batches.take_due(now);
        assert_eq!(full.len(), 1);
        assert_eq!(types(&full[0]), ["sessions"]);
        counts.count(outcome(0), now);
        assert_eq!(types(&batches.take_all()[0]), ["sessions"]);
        assert!(batches.take_all().is_empty());
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
