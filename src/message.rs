//! The messages that travel from the capturing threads to the worker: units of work on the data queue ([`Task`]),
//! orders on the control queue ([`Control`]), and the one-shot [`Reply`] the worker answers a flush or a shutdown
//! with.
//!
//! This module depends on nothing above it: the caller's side (`client.rs`, `hub.rs`) and the worker both use it,
//! and neither is seen from here.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use crate::chain::Links;
use crate::delivery::spool::Claim;
use crate::performance::records::FinishedTransaction;
use crate::protocol::attachment::Attachment;
use crate::protocol::check_in::CheckIn;
use crate::protocol::envelope::Envelope;
use crate::protocol::event::{Event, EventId, User};
use crate::protocol::item_kind::ItemKind;
use crate::protocol::log::{LogLevel, LogValue};
use crate::protocol::metric::MetricType;
use crate::protocol::session::SessionUpdate;
use crate::protocol::time::Timestamp;
use crate::protocol::trace::{SpanId, TraceId};
use crate::scope::Scope;
use crate::stacktrace::RawTrace;

/// An event on its way to the worker, with what the worker needs to finish it.
pub(crate) struct PendingEvent {
    pub(crate) event: Event,
    /// The capturing thread's stack, unresolved; it goes to the last exception, or to the current thread's entry.
    pub(crate) trace: Option<RawTrace>,
    /// The scope at capture time (a shared snapshot).
    pub(crate) scope: Arc<Scope>,
}

/// An error captured with `capture_error`, in the compact form it waits in the queue: the chain's names and
/// messages, not yet protocol exceptions, and no event yet. The worker builds the event (`worker/finish.rs`). A
/// queue of 10,000 of these holds less than half the memory that as many finished events would.
pub(crate) struct PendingError {
    pub(crate) event_id: EventId,
    pub(crate) timestamp: Timestamp,
    /// Root cause first, the captured error last.
    pub(crate) chain: Links,
    /// The capturing thread's stack, unresolved; it goes to the last exception.
    pub(crate) trace: Option<RawTrace>,
    /// The scope at capture time (a shared snapshot).
    pub(crate) scope: Arc<Scope>,
}

/// A finished transaction on its way to the worker, with the scope of the thread that finished it (its tags,
/// user and contexts go with it).
pub(crate) struct PendingTransaction {
    pub(crate) transaction: FinishedTransaction,
    pub(crate) scope: Arc<Scope>,
}

/// A log record on its way to the worker, as the caller left it: the template and its parameters unformatted, the
/// attributes as given. The worker formats the body and adds the SDK's attributes (`worker/processor.rs`).
pub(crate) struct PendingLog {
    pub(crate) timestamp: Timestamp,
    pub(crate) level: LogLevel,
    /// The message, with `{}` where each parameter goes.
    pub(crate) template: Cow<'static, str>,
    pub(crate) params: Vec<LogValue>,
    pub(crate) attributes: Vec<(Cow<'static, str>, LogValue)>,
    pub(crate) trace_id: TraceId,
    /// The current span, if one is.
    pub(crate) span_id: Option<SpanId>,
    /// `sentry.origin` for a record from an integration (`auto.log.log`, …); none for the `logs` API.
    pub(crate) origin: Option<&'static str>,
    /// The scope's user, taken only with `send_default_pii`.
    pub(crate) user: Option<Box<User>>,
}

impl PendingLog {
    /// About how many bytes the record takes as JSON, for the `log_byte` count of a record dropped before the
    /// worker made it.
    pub(crate) fn approximate_size(&self) -> u64 {
        let value = |v: &LogValue| match v {
            LogValue::String(s) => s.len() + 30,
            _ => 40,
        };
        let attributes: usize = self
            .attributes
            .iter()
            .map(|(key, v)| key.len() + 4 + value(v))
            .sum();
        let params: usize = self.params.iter().map(|v| value(v) * 2 + 30).sum();
        (150 + self.template.len() * 2 + attributes + params) as u64
    }
}

/// A metric measurement on its way to the worker, as the caller left it; the worker adds the SDK's attributes.
pub(crate) struct PendingMetric {
    pub(crate) timestamp: Timestamp,
    pub(crate) ty: MetricType,
    pub(crate) name: Cow<'static, str>,
    pub(crate) value: f64,
    pub(crate) unit: Option<Cow<'static, str>>,
    pub(crate) attributes: Vec<(Cow<'static, str>, LogValue)>,
    pub(crate) trace_id: TraceId,
    /// The current span, if one is.
    pub(crate) span_id: Option<SpanId>,
    /// The scope's user, taken only with `send_default_pii`.
    pub(crate) user: Option<Box<User>>,
}

/// A panic's event with the last update of the process's session, which the panic ended: both go in one envelope.
pub(crate) struct PendingCrash {
    pub(crate) event: PendingEvent,
    pub(crate) session: SessionUpdate,
}

/// A unit of work on the bounded data queue: the makings of one envelope item, of one kind. The worker finishes
/// each by its kind (see `worker/finish.rs`) and ships it by its kind (see `worker/batch.rs`).
///
/// A new kind of telemetry adds a variant here, a finishing step, and a row in
/// [`ItemKind`]'s table; the queue, delivery, the spool, rate limits and
/// client reports then carry it like the others.
pub(crate) enum Task {
    /// An error, message or panic event: symbolicated, merged with its scope and serialised on the worker.
    Event(Box<PendingEvent>),
    /// An error from `capture_error`, whose event the worker builds before it finishes it like any other.
    Error(Box<PendingError>),
    /// A panic that ended the process's session (see [`PendingCrash`]).
    #[cfg_attr(
        not(feature = "panic"),
        expect(dead_code, reason = "only the panic hook ends a session crashed")
    )]
    Crash(Box<PendingCrash>),
    /// A sampled transaction that has ended, with its spans: serialised on the worker.
    Transaction(Box<PendingTransaction>),
    /// A cron monitor's check-in: the release and environment are added on the worker, nothing else.
    CheckIn(Box<CheckIn>),
    /// User feedback, as its event: the release, environment and SDK are added on the worker; never scrubbed
    /// (what the user wrote is theirs to send) nor passed to `before_send`.
    Feedback(Box<Event>),
}

impl Task {
    /// The attachments of the event this task becomes (none for other kinds), from its scope.
    pub(crate) fn attachments(&self) -> Vec<Arc<Attachment>> {
        match self {
            Task::Event(pending) => pending.scope.shared_attachments(),
            Task::Error(error) => error.scope.shared_attachments(),
            Task::Crash(crash) => crash.event.scope.shared_attachments(),
            _ => Vec::new(),
        }
    }

    /// The kind of envelope item this task becomes.
    pub(crate) fn kind(&self) -> ItemKind {
        match self {
            Task::Event(_) | Task::Error(_) | Task::Crash(_) => ItemKind::Event,
            Task::Transaction(_) => ItemKind::Transaction,
            Task::CheckIn(_) => ItemKind::CheckIn,
            Task::Feedback(_) => ItemKind::Feedback,
        }
    }
}

/// Messages on the unbounded control queue, which is separate so that a full data queue can never hold up a flush
/// or a shutdown. The worker looks at it before each next task.
pub(crate) enum Control {
    /// Deliver what was queued before this message, until `deadline`, then answer whether all of it went.
    Flush { deadline: Instant, ack: Reply },
    /// Deliver what is queued until `deadline`, keep the rest, answer, and stop.
    Shutdown { deadline: Instant, ack: Reply },
    /// The data queue reached half full while the worker slept: drain it now, so that it cannot overflow before
    /// the next poll.
    Drain,
    /// An envelope that the panic hook finished but could not write to the spool.
    #[cfg_attr(
        not(feature = "panic"),
        expect(dead_code, reason = "only the panic hook sends envelopes")
    )]
    Envelope(Envelope),
    /// An envelope that the panic hook already finished and wrote to the spool, claimed, for the worker to send.
    #[cfg_attr(
        not(feature = "panic"),
        expect(dead_code, reason = "only the panic hook stores envelopes")
    )]
    Stored { claim: Claim, envelope: Envelope },
}

/// Creates a one-shot reply: the worker answers a flush or shutdown through the [`Reply`], the waiting thread reads
/// it from the [`Answer`]. A reply dropped unanswered (the worker is gone) ends the wait at once.
pub(crate) fn reply() -> (Reply, Answer) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    (Reply(tx), Answer(rx))
}

/// The sending half of [`reply`].
pub(crate) struct Reply(Sender<bool>);

impl Reply {
    pub(crate) fn send(self, value: bool) {
        // The waiting thread may have given up already; nobody is left to tell.
        let _ = self.0.try_send(value);
    }
}

/// The receiving half of [`reply`].
pub(crate) struct Answer(Receiver<bool>);

impl Answer {
    /// The answer, or `None` if there was none by `deadline` or the reply was dropped unanswered.
    pub(crate) fn wait_until(self, deadline: Instant) -> Option<bool> {
        self.0.recv_deadline(deadline).ok()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_reply_carries_its_answer_and_an_unanswered_one_ends_the_wait() {
        let (ack, answer) = reply();
        ack.send(true);
        assert_eq!(
            answer.wait_until(Instant::now() + Duration::from_secs(5)),
            Some(true)
        );

        let (ack, answer) = reply();
        let started = Instant::now();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(ack);
        });
        assert_eq!(answer.wait_until(started + Duration::from_secs(30)), None);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "woken by the drop"
        );

        let (_ack, answer) = reply();
        assert_eq!(
            answer.wait_until(Instant::now() + Duration::from_millis(10)),
            None
        );
    }
}
