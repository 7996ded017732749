//! What a transaction and its spans record while they run, shared between their handles: the ids, the sampling
//! decision, and the data behind the transaction's own lock (never a global one). The handles are in `handles.rs`.
//!
//! A transaction keeps its spans' data itself, one slot each, so that starting a span takes its lock once to add a
//! slot and finishing one takes it once to close the slot; the transaction closes the slots still open when it
//! finishes. A record ends when it is finished, or when its last reference goes: a span's references are its
//! handles (and the scopes it is current in); a transaction's are its handles, scopes, and its spans. One that
//! ends that way ends as `cancelled`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::protocol::propagation::DynamicSamplingContext;
use crate::protocol::{SpanId, SpanStatus, Timestamp, TraceContext, TraceId};
use crate::sync::lock;

/// The most spans a transaction records; later ones are dropped and counted (as Sentry's SDKs do, at 1000).
pub(crate) const MAX_SPANS: usize = 1000;

/// Where a finished transaction goes: the client that started it, which queues it for the worker with the scope of
/// the thread that finished it (implemented in `hub.rs`, so that this module never sees the client).
pub(crate) trait TransactionSink: Send + Sync {
    /// Takes a sampled transaction that has ended.
    fn send(&self, transaction: FinishedTransaction);
}

/// A transaction being recorded.
pub(crate) struct TransactionRecord {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: Option<SpanId>,
    /// The operation, fixed at the start.
    pub(crate) op: Cow<'static, str>,
    /// Whether it is recorded and sent; an unsampled transaction records nothing.
    pub(crate) sampled: bool,
    /// The decision outgoing trace headers carry: this one's, when one was made (performance monitoring is on);
    /// else that of the trace it continues, if known; else none, and the next service decides for itself.
    pub(crate) propagated_sampled: Option<bool>,
    /// The rate it was sampled at, and the trace's random number, for the dynamic sampling context.
    pub(crate) sample_rate: f64,
    pub(crate) sample_rand: f64,
    /// The dynamic sampling context that came with the trace it continues, frozen.
    pub(crate) incoming_dsc: Option<Box<DynamicSamplingContext>>,
    /// The dynamic sampling context this transaction made as the head of its trace, frozen when it first left
    /// (in an outgoing request's `baggage`), so the envelope header carries the same even after a `set_name`.
    pub(crate) head_dsc: OnceLock<DynamicSamplingContext>,
    /// Spans it could not record (past [`MAX_SPANS`]): counted when it finishes.
    pub(crate) dropped_spans: AtomicU64,
    /// Where it goes when it ends; `None` when it is not sampled.
    pub(crate) sink: Option<Arc<dyn TransactionSink>>,
    pub(crate) state: Mutex<TransactionState>,
}

/// A transaction's data, behind its lock.
#[derive(Debug)]
pub(crate) struct TransactionState {
    pub(crate) name: Cow<'static, str>,
    /// How the name was chosen (`custom`, `route`, `url`, `task`, …), for the server's grouping and sampling.
    pub(crate) source: &'static str,
    pub(crate) status: Option<SpanStatus>,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) data: serde_json::Map<String, serde_json::Value>,
    pub(crate) start: Timestamp,
    pub(crate) finished: bool,
    /// Its spans, in the order they started.
    pub(crate) spans: Vec<SpanSlot>,
}

/// One span's data, kept by its transaction.
#[derive(Clone, Debug)]
pub(crate) struct SpanSlot {
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    pub(crate) op: Cow<'static, str>,
    pub(crate) description: Option<Cow<'static, str>>,
    pub(crate) status: Option<SpanStatus>,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) data: serde_json::Map<String, serde_json::Value>,
    pub(crate) start: Timestamp,
    /// When it ended; `None` while it runs.
    pub(crate) end: Option<Timestamp>,
}

/// A span being recorded, inside a transaction.
#[derive(Debug)]
pub(crate) struct SpanRecord {
    pub(crate) transaction: Arc<TransactionRecord>,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    /// The operation, fixed at the start; events captured while the span is current name it.
    pub(crate) op: Cow<'static, str>,
    /// Its slot in the transaction; `None` when it is not recorded (its transaction is not sampled, or was full
    /// or finished when it started).
    pub(crate) slot: Option<usize>,
    /// Whether it has ended, so that dropping a finished span's last handle takes no lock.
    pub(crate) ended: AtomicBool,
}

/// A transaction as it ended, on its way to the worker.
#[derive(Debug)]
pub(crate) struct FinishedTransaction {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: Option<SpanId>,
    pub(crate) sample_rate: f64,
    pub(crate) sample_rand: f64,
    /// The dynamic sampling context that came with the trace it continues, or that it made as the head of its
    /// trace and passed on, frozen.
    pub(crate) incoming_dsc: Option<Box<DynamicSamplingContext>>,
    pub(crate) name: Cow<'static, str>,
    pub(crate) op: Cow<'static, str>,
    pub(crate) source: &'static str,
    pub(crate) status: SpanStatus,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) data: serde_json::Map<String, serde_json::Value>,
    pub(crate) start: Timestamp,
    pub(crate) end: Timestamp,
    /// Its spans, every one ended.
    pub(crate) spans: Vec<SpanSlot>,
    /// Spans it could not record (past [`MAX_SPANS`]).
    pub(crate) dropped_spans: u64,
}

impl TransactionRecord {
    /// Starts a child span of this transaction under `parent`; it is recorded if the transaction is sampled and
    /// has room.
    pub(crate) fn start_child(
        self: &Arc<Self>,
        parent: SpanId,
        op: Cow<'static, str>,
        description: Option<Cow<'static, str>>,
    ) -> SpanRecord {
        let span_id = SpanId::new();
        let mut slot = None;
        if self.sampled {
            let start = Timestamp::now();
            let mut state = lock(&self.state);
            if !state.finished && state.spans.len() < MAX_SPANS {
                slot = Some(state.spans.len());
                state.spans.push(SpanSlot {
                    span_id,
                    parent_span_id: parent,
                    op: op.clone(),
                    description,
                    status: None,
                    tags: BTreeMap::new(),
                    data: serde_json::Map::new(),
                    start,
                    end: None,
                });
            } else {
                drop(state);
                self.dropped_spans.fetch_add(1, Ordering::Relaxed);
            }
        }
        SpanRecord {
            transaction: Arc::clone(self),
            span_id,
            parent_span_id: parent,
            op,
            slot,
            ended: AtomicBool::new(false),
        }
    }

    /// Ends the transaction now, with `status` unless one was set, and hands it to its sink to be sent. Does
    /// nothing if it had ended already, or is not sampled (it was counted when it started).
    pub(crate) fn end(&self, status: SpanStatus) {
        let Some(sink) = &self.sink else {
            return;
        };
        if let Some(finished) = self.take(Timestamp::now(), status) {
            sink.send(finished);
        }
    }

    /// Ends the transaction at `end`, with `status` unless one was set: closes the spans still open (status
    /// `deadline_exceeded`, ending with it) and takes what it recorded. `None` when it had ended already.
    fn take(&self, end: Timestamp, status: SpanStatus) -> Option<FinishedTransaction> {
        let mut state = lock(&self.state);
        if state.finished {
            return None;
        }
        state.finished = true;
        let end = end.max(state.start);
        let mut spans = std::mem::take(&mut state.spans);
        for span in &mut spans {
            if span.end.is_none() {
                span.end = Some(end.max(span.start));
                span.status.get_or_insert(SpanStatus::DeadlineExceeded);
            }
        }
        Some(FinishedTransaction {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            sample_rate: self.sample_rate,
            sample_rand: self.sample_rand,
            incoming_dsc: self
                .incoming_dsc
                .clone()
                .or_else(|| self.head_dsc.get().cloned().map(Box::new)),
            name: std::mem::take(&mut state.name),
            op: self.op.clone(),
            source: state.source,
            status: state.status.unwrap_or(status),
            tags: std::mem::take(&mut state.tags),
            data: std::mem::take(&mut state.data),
            start: state.start,
            end,
            spans,
            dropped_spans: self.dropped_spans.load(Ordering::Relaxed),
        })
    }

    /// The trace context of the transaction's own span.
    pub(crate) fn trace_context(&self) -> TraceContext {
        let mut context = TraceContext::new(self.trace_id, self.span_id);
        context.parent_span_id = self.parent_span_id;
        context.op = Some(self.op.to_string());
        context
    }
}

impl SpanRecord {
    /// Changes the span's data in its slot, while it runs and is recorded.
    pub(crate) fn update(&self, change: impl FnOnce(&mut SpanSlot)) {
        let Some(slot) = self.slot else {
            return;
        };
        let mut state = lock(&self.transaction.state);
        if let Some(span) = state.spans.get_mut(slot).filter(|span| span.end.is_none()) {
            change(span);
        }
    }

    /// Ends the span now, with `status` unless one was set. Does nothing if it had ended already, or is not
    /// recorded, or its transaction has ended (which closed it).
    pub(crate) fn end(&self, status: SpanStatus) {
        if self.ended.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(slot) = self.slot else {
            return;
        };
        let end = Timestamp::now();
        let mut state = lock(&self.transaction.state);
        if let Some(span) = state.spans.get_mut(slot).filter(|span| span.end.is_none()) {
            span.end = Some(end.max(span.start));
            span.status.get_or_insert(status);
        }
    }

    /// The trace context of this span.
    pub(crate) fn trace_context(&self) -> TraceContext {
        let mut context = TraceContext::new(self.transaction.trace_id, self.span_id);
        context.parent_span_id = Some(self.parent_span_id);
        context.op = Some(self.op.to_string());
        context
    }
}

impl std::fmt::Debug for TransactionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionRecord")
            .field("trace_id", &self.trace_id)
            .field("span_id", &self.span_id)
            .field("sampled", &self.sampled)
            .finish_non_exhaustive()
    }
}

impl Drop for TransactionRecord {
    fn drop(&mut self) {
        let finished = self.state.get_mut().map_or(true, |state| state.finished);
        if !finished {
            self.end(SpanStatus::Cancelled);
        }
    }
}

impl Drop for SpanRecord {
    fn drop(&mut self) {
        if !*self.ended.get_mut() {
            self.end(SpanStatus::Cancelled);
        }
    }
}
