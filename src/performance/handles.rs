//! The handles a program holds: [`Transaction`] and [`Span`]. Starting a child and setting data take the
//! transaction's own lock for a moment, finishing a span takes none, and none of them does I/O; a finished
//! transaction is queued for the worker, which serialises and sends it. A span handle is its transaction's
//! reference and its slot's number: starting a span allocates nothing of its own.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use super::records::{SpanRecord, TransactionRecord};
use crate::protocol::{SpanId, SpanStatus, TraceContext, TraceId};
use crate::sync::lock;

/// A transaction: one unit of work (a request, a job, a command) measured from start to finish, with child spans
/// for its parts. Start one with [`start_transaction`](crate::start_transaction) or
/// [`continue_from_headers`](crate::continue_from_headers).
///
/// ```
/// # faultline::test::with_captured_events(|| {
/// let transaction = faultline::start_transaction("nightly-report", "task");
/// let span = transaction.start_child("db.query", "SELECT * FROM orders");
/// span.set_data("rows", 42);
/// span.finish();
/// transaction.set_status(faultline::SpanStatus::Ok);
/// transaction.finish();
/// # });
/// ```
///
/// Clones are handles to the same transaction. It is sent once, when [`Transaction::finish`] is first called; one
/// that is never finished is sent as `cancelled` when the last of its handles, its spans and the scopes it is
/// current in goes. Spans still open when it finishes
/// are closed with it, as `deadline_exceeded`. Whether it is recorded at all was decided when it started
/// (`traces_sample_rate`, `traces_sampler`, or the decision of the trace it continues); an unsampled one records
/// nothing, costs next to nothing, and is counted in client reports.
#[derive(Clone)]
pub struct Transaction {
    pub(crate) record: Arc<TransactionRecord>,
}

/// A part of a transaction: a query, a call, a step. Start one with [`Transaction::start_child`] or
/// [`Span::start_child`]. Clones are handles to the same span; it ends when [`Span::finish`] is first called, or
/// as `cancelled` when the last of its handles (and of the scopes it is current in) goes.
#[derive(Clone)]
pub struct Span {
    pub(crate) record: SpanRecord,
}

/// A transaction or a span: what a scope can have as its current span (see
/// [`Scope::set_span`](crate::Scope::set_span)).
#[derive(Clone, Debug)]
pub enum TransactionOrSpan {
    /// A transaction.
    Transaction(Transaction),
    /// A span.
    Span(Span),
}

impl Transaction {
    /// The trace it belongs to.
    pub fn trace_id(&self) -> TraceId {
        self.record.trace_id
    }

    /// Its own span id.
    pub fn span_id(&self) -> SpanId {
        self.record.span_id
    }

    /// The span it continues, in another service, when it continues a trace.
    pub fn parent_span_id(&self) -> Option<SpanId> {
        self.record.parent_span_id
    }

    /// Whether it is recorded and will be sent.
    pub fn is_sampled(&self) -> bool {
        self.record.sampled
    }

    /// Starts a child span, e.g. `start_child("db.query", "SELECT …")`. A `&'static str` op or description costs
    /// no allocation.
    pub fn start_child(
        &self,
        op: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Span {
        child(
            &self.record,
            self.record.span_id,
            op.into(),
            description.into(),
        )
    }

    /// Sets how it ended (default: `ok`).
    pub fn set_status(&self, status: SpanStatus) {
        lock(&self.record.state).status = Some(status);
    }

    /// Sets a tag, replacing one with the same key.
    pub fn set_tag(&self, key: impl Into<String>, value: impl ToString) {
        if self.record.sampled {
            lock(&self.record.state)
                .tags
                .insert(key.into(), value.to_string());
        }
    }

    /// Sets a data value, replacing one with the same key.
    pub fn set_data(&self, key: impl Into<String>, value: impl Into<serde_json::Value>) {
        if self.record.sampled {
            lock(&self.record.state)
                .data
                .insert(key.into(), value.into());
        }
    }

    /// Renames it, e.g. once the route that a request matched is known.
    pub fn set_name(&self, name: impl Into<Cow<'static, str>>) {
        lock(&self.record.state).name = name.into();
    }

    /// Ends it now and queues it to be sent, with status `ok` unless another was set. Later calls do nothing.
    pub fn finish(&self) {
        self.record.end(SpanStatus::Ok);
    }
}

impl Span {
    /// The trace it belongs to.
    pub fn trace_id(&self) -> TraceId {
        self.record.transaction.trace_id
    }

    /// Its own span id.
    pub fn span_id(&self) -> SpanId {
        self.record.span_id
    }

    /// Whether it is recorded: its transaction is sampled and had room for it.
    pub fn is_sampled(&self) -> bool {
        self.record.slot.is_some()
    }

    /// Starts a child span of this one.
    pub fn start_child(
        &self,
        op: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Span {
        child(
            &self.record.transaction,
            self.record.span_id,
            op.into(),
            description.into(),
        )
    }

    /// Sets how it ended (default: `ok`).
    pub fn set_status(&self, status: SpanStatus) {
        self.record.update(|span| span.status = Some(status));
    }

    /// Sets a tag, replacing one with the same key.
    pub fn set_tag(&self, key: impl Into<String>, value: impl ToString) {
        if self.is_sampled() {
            let (key, value) = (key.into(), value.to_string());
            self.record.update(|span| {
                span.tags.insert(key, value);
            });
        }
    }

    /// Sets a data value, replacing one with the same key.
    pub fn set_data(&self, key: impl Into<String>, value: impl Into<serde_json::Value>) {
        if self.is_sampled() {
            let (key, value) = (key.into(), value.into());
            self.record.update(|span| {
                span.data.insert(key, value);
            });
        }
    }

    /// Ends it now, with status `ok` unless another was set. Later calls do nothing.
    pub fn finish(&self) {
        self.record.finish();
    }
}

/// A new span of `transaction`, under span `parent`.
fn child(
    transaction: &Arc<TransactionRecord>,
    parent: SpanId,
    op: Cow<'static, str>,
    description: Cow<'static, str>,
) -> Span {
    Span {
        record: transaction.start_child(parent, op, Some(description)),
    }
}

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("trace_id", &self.record.trace_id)
            .field("span_id", &self.record.span_id)
            .field("sampled", &self.record.sampled)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Span")
            .field("trace_id", &self.record.transaction.trace_id)
            .field("span_id", &self.record.span_id)
            .field("recorded", &self.record.slot.is_some())
            .finish_non_exhaustive()
    }
}

impl From<Transaction> for TransactionOrSpan {
    fn from(transaction: Transaction) -> Self {
        TransactionOrSpan::Transaction(transaction)
    }
}

impl From<Span> for TransactionOrSpan {
    fn from(span: Span) -> Self {
        TransactionOrSpan::Span(span)
    }
}

impl TransactionOrSpan {
    /// The trace it belongs to.
    pub fn trace_id(&self) -> TraceId {
        match self {
            TransactionOrSpan::Transaction(t) => t.trace_id(),
            TransactionOrSpan::Span(s) => s.trace_id(),
        }
    }

    /// Its own span id.
    pub fn span_id(&self) -> SpanId {
        match self {
            TransactionOrSpan::Transaction(t) => t.span_id(),
            TransactionOrSpan::Span(s) => s.span_id(),
        }
    }

    /// Whether its transaction is sampled (for a span: whether the span is recorded).
    pub fn is_sampled(&self) -> bool {
        match self {
            TransactionOrSpan::Transaction(t) => t.is_sampled(),
            TransactionOrSpan::Span(s) => s.is_sampled(),
        }
    }

    /// The trace context that an event captured while it is current carries.
    pub(crate) fn trace_context(&self) -> TraceContext {
        match self {
            TransactionOrSpan::Transaction(t) => t.record.trace_context(),
            TransactionOrSpan::Span(s) => s.record.trace_context(),
        }
    }

    /// Starts a child span of it.
    pub fn start_child(
        &self,
        op: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Span {
        match self {
            TransactionOrSpan::Transaction(t) => t.start_child(op, description),
            TransactionOrSpan::Span(s) => s.start_child(op, description),
        }
    }
}
