//! [`Destinations`]: the server the DSN names and, beside it, an OpenTelemetry collector, each with a [`Delivery`]
//! of its own: its own retries, pauses, rate limits and spool, so that one being down never holds up or loses the
//! other's envelopes.
//!
//! The collector gets a copy of the envelopes it takes (log records, events and transactions); the server gets
//! everything. Client reports are the server's: the collector's delivery counts its own losses apart, and its
//! transport sends no reports.

use std::time::Instant;

use super::Delivery;
use super::spool::Claim;
use crate::protocol::envelope::{Envelope, EnvelopeItem};

/// Where envelopes go.
pub(crate) struct Destinations {
    primary: Delivery,
    collector: Option<Delivery>,
}

/// Whether the collector takes an envelope: one with log records, an event or a transaction.
fn for_collector(envelope: &Envelope) -> bool {
    envelope.items.iter().any(|item| match item {
        EnvelopeItem::Logs(_)
        | EnvelopeItem::Metrics(_)
        | EnvelopeItem::Event(_)
        | EnvelopeItem::Transaction(_) => true,
        EnvelopeItem::Raw { ty, .. } => {
            matches!(
                ty.as_str(),
                "event" | "transaction" | "log" | "trace_metric"
            )
        }
        _ => false,
    })
}

impl Destinations {
    /// The server's delivery, and the collector's if there is one.
    pub(crate) fn new(primary: Delivery, collector: Option<Delivery>) -> Self {
        Destinations { primary, collector }
    }

    /// Each destination's copy of `envelope`: sent now (`send_now`, unless that destination is paused), or kept
    /// for later.
    pub(crate) fn ship(&mut self, envelope: Envelope, send_now: bool) {
        let now = Instant::now();
        if let Some(collector) = self.collector.as_mut().filter(|_| for_collector(&envelope)) {
            let copy = envelope.clone();
            if send_now && !collector.is_paused(now) {
                collector.deliver_fresh(copy);
            } else {
                collector.park(copy);
            }
        }
        if send_now && !self.primary.is_paused(now) {
            self.primary.deliver_fresh(envelope);
        } else {
            self.primary.park(envelope);
        }
    }

    /// An envelope the panic hook finished: sent now to each destination (the server's copy is on disk already,
    /// claimed).
    pub(crate) fn deliver_claimed(&mut self, claim: Claim, envelope: Envelope) {
        if let Some(collector) = self.collector.as_mut().filter(|_| for_collector(&envelope)) {
            collector.deliver_fresh(envelope.clone());
        }
        self.primary.deliver_claimed(claim, envelope);
    }

    /// Whether either destination has something waiting to be replayed.
    pub(crate) fn has_waiting(&self) -> bool {
        self.primary.has_waiting() || self.collector.as_ref().is_some_and(Delivery::has_waiting)
    }

    /// The earliest moment either destination needs the worker.
    pub(crate) fn next_wake(&self, now: Instant) -> Instant {
        let primary = self.primary.next_wake(now);
        self.collector
            .as_ref()
            .map_or(primary, |c| primary.min(c.next_wake(now)))
    }

    /// Each destination's timed work (replays after a pause, the report interval).
    pub(crate) fn tick(&mut self, now: Instant) {
        self.primary.tick(now);
        if let Some(collector) = &mut self.collector {
            collector.tick(now);
        }
    }

    /// Flushes both until `deadline`, the server first; whether nothing is left waiting at either.
    pub(crate) fn flush(&mut self, deadline: Instant) -> bool {
        let primary = self.primary.flush(deadline);
        let collector = self.collector.as_mut().is_none_or(|c| c.flush(deadline));
        primary && collector
    }

    /// Shuts both down by `deadline`.
    pub(crate) fn shut_down(&mut self, deadline: Instant) {
        if let Some(collector) = &mut self.collector {
            collector.shut_down(deadline);
        }
        self.primary.shut_down(deadline);
    }
}
