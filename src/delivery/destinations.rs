//! [`Destinations`]: the server the DSN names and, beside it, an OpenTelemetry collector, each with a [`Delivery`]
//! of its own: its own retries, pauses, rate limits and spool, so that one being down never loses the other's
//! envelopes.
//!
//! The collector's delivery runs on a thread of its own (`faultline-collector`), fed by a bounded channel: a slow
//! or hanging collector never holds up the worker or the server's delivery, and when it falls more than
//! [`COLLECTOR_BACKLOG`] envelopes behind, the newest are dropped and counted in its own counters. The collector
//! gets a copy of the envelopes it takes (log records, metric measurements, events and transactions); the server
//! gets everything. Client reports are the server's: the collector's losses are counted apart, and its transport
//! sends no reports.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};

use super::Delivery;
use super::spool::Claim;
use crate::diagnostics::sdk_debug;
use crate::protocol::envelope::{Envelope, EnvelopeItem};
use crate::stats::{Counters, Reason};

/// How many envelopes may wait for the collector's thread.
pub(crate) const COLLECTOR_BACKLOG: usize = 100;

/// The name of the collector's thread.
pub(crate) const COLLECTOR_THREAD_NAME: &str = "faultline-collector";

/// How often the collector's thread looks at its delivery's timers when nothing comes.
const POLL: Duration = Duration::from_millis(100);

/// Where envelopes go.
pub(crate) struct Destinations {
    primary: Delivery,
    collector: Option<Collector>,
}

/// The collector's delivery, on its own thread.
struct Collector {
    mailbox: Sender<ToCollector>,
    thread: Option<JoinHandle<()>>,
    /// The collector's own counters, for what its channel drops.
    counters: Arc<Counters>,
}

/// What the worker tells the collector's thread.
enum ToCollector {
    Ship(Box<Envelope>),
    Flush {
        deadline: Instant,
        ack: Sender<bool>,
    },
    Shutdown {
        deadline: Instant,
        ack: Sender<()>,
    },
}

/// Whether the collector takes an envelope: one with log records, metric measurements, an event or a transaction.
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
    /// The server's delivery, and the collector's (with the counters it counts its losses in) on a thread of its
    /// own. Without a thread (it cannot be started), the collector is left out, and said so.
    pub(crate) fn new(primary: Delivery, collector: Option<(Delivery, Arc<Counters>)>) -> Self {
        let collector = collector.and_then(|(delivery, counters)| {
            let (mailbox, inbox) = crossbeam_channel::bounded(COLLECTOR_BACKLOG);
            match std::thread::Builder::new()
                .name(COLLECTOR_THREAD_NAME.into())
                .spawn(move || run(delivery, &inbox))
            {
                Ok(thread) => Some(Collector {
                    mailbox,
                    thread: Some(thread),
                    counters,
                }),
                Err(e) => {
                    sdk_debug!(
                        "the collector's thread could not start ({e}); nothing is exported to it"
                    );
                    None
                }
            }
        });
        Destinations { primary, collector }
    }

    /// Hands the collector its copy of `envelope`, if it takes it, without waiting.
    fn to_collector(&self, envelope: &Envelope) {
        let Some(collector) = self.collector.as_ref().filter(|_| for_collector(envelope)) else {
            return;
        };
        match collector
            .mailbox
            .try_send(ToCollector::Ship(Box::new(envelope.clone())))
        {
            Ok(()) => {}
            Err(TrySendError::Full(ToCollector::Ship(lost)))
            | Err(TrySendError::Disconnected(ToCollector::Ship(lost))) => {
                collector
                    .counters
                    .discard_items(Reason::QueueOverflow, &lost);
                sdk_debug!("the collector is {COLLECTOR_BACKLOG} envelopes behind: one dropped");
            }
            Err(_) => {}
        }
    }

    /// Each destination's copy of `envelope`: the server's sent now (`send_now`, unless it is paused) or kept for
    /// later; the collector's handed to its thread.
    pub(crate) fn ship(&mut self, envelope: Envelope, send_now: bool) {
        self.to_collector(&envelope);
        if send_now && !self.primary.is_paused(Instant::now()) {
            self.primary.deliver_fresh(envelope);
        } else {
            self.primary.park(envelope);
        }
    }

    /// An envelope the panic hook finished: sent now to each destination (the server's copy is on disk already,
    /// claimed).
    pub(crate) fn deliver_claimed(&mut self, claim: Claim, envelope: Envelope) {
        self.to_collector(&envelope);
        self.primary.deliver_claimed(claim, envelope);
    }

    /// Whether the server's delivery has something waiting to be replayed (the collector's thread minds its own).
    pub(crate) fn has_waiting(&self) -> bool {
        self.primary.has_waiting()
    }

    /// The earliest moment the server's delivery needs the worker.
    pub(crate) fn next_wake(&self, now: Instant) -> Instant {
        self.primary.next_wake(now)
    }

    /// The server's delivery's timed work (replays after a pause, the report interval).
    pub(crate) fn tick(&mut self, now: Instant) {
        self.primary.tick(now);
    }

    /// Flushes both until `deadline`, side by side; whether nothing is left waiting at either.
    pub(crate) fn flush(&mut self, deadline: Instant) -> bool {
        let answer = self.collector.as_ref().map(|collector| {
            let (ack, answer) = crossbeam_channel::bounded(1);
            let asked = collector
                .mailbox
                .try_send(ToCollector::Flush { deadline, ack })
                .is_ok();
            (asked, answer)
        });
        let primary = self.primary.flush(deadline);
        let collector = match answer {
            None => true,
            Some((asked, answer)) => asked && answer.recv_deadline(deadline).unwrap_or(false),
        };
        primary && collector
    }

    /// Shuts both down by `deadline`. A collector's thread still in a request then is left to finish it alone.
    pub(crate) fn shut_down(&mut self, deadline: Instant) {
        let answer = self.collector.as_ref().map(|collector| {
            let (ack, answer) = crossbeam_channel::bounded(1);
            // `send`, not `try_send`: the backlog may be full, and the shutdown must reach the thread. It waits at
            // most for the thread to take one envelope.
            let _ = collector.mailbox.send_timeout(
                ToCollector::Shutdown { deadline, ack },
                deadline.saturating_duration_since(Instant::now()),
            );
            answer
        });
        self.primary.shut_down(deadline);
        if let Some(answer) = answer {
            let done = answer.recv_deadline(deadline).is_ok();
            if let Some(collector) = &mut self.collector {
                if let Some(thread) = collector.thread.take().filter(|_| done) {
                    let _ = thread.join();
                }
            }
        }
    }
}

/// The collector's thread: delivers what it is handed, minds its delivery's timers, flushes and stops when told.
fn run(mut delivery: Delivery, inbox: &Receiver<ToCollector>) {
    loop {
        let now = Instant::now();
        let timeout = delivery
            .next_wake(now)
            .saturating_duration_since(now)
            .min(POLL);
        match inbox.recv_timeout(timeout) {
            Ok(ToCollector::Ship(envelope)) => {
                if delivery.is_paused(Instant::now()) {
                    delivery.park(*envelope);
                } else {
                    delivery.deliver_fresh(*envelope);
                }
            }
            Ok(ToCollector::Flush { deadline, ack }) => {
                let _ = ack.try_send(delivery.flush(deadline));
            }
            Ok(ToCollector::Shutdown { deadline, ack }) => {
                delivery.flush(deadline);
                delivery.shut_down(deadline);
                let _ = ack.try_send(());
                return;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                delivery.shut_down(Instant::now());
                return;
            }
        }
        delivery.tick(Instant::now());
    }
}
