//! What a transaction and its spans record while they run, shared between their handles: the ids, the sampling
//! decision, and the data behind a lock of their own (never a global one). The handles are in `handles.rs`.
//!
//! A record ends when it is finished, or when its last reference goes: a span's references are its handles (and
//! the scopes it is current in); a transaction's are its handles, scopes, and its spans. One that ends that way
//! ends as `cancelled`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

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
    /// Spans it could not record (past [`MAX_SPANS`], or ending after it): counted when it finishes.
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
    /// Its finished spans, in the order they finished.
    pub(crate) spans: Vec<FinishedSpan>,
    /// Its spans, finished or not, so that those still open when it finishes can be closed.
    pub(crate) open: Vec<Weak<SpanRecord>>,
}

/// A span being recorded, inside a transaction.
#[derive(Debug)]
pub(crate) struct SpanRecord {
    pub(crate) transaction: Arc<TransactionRecord>,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    /// The operation, fixed at the start; events captured while the span is current name it.
    pub(crate) op: Cow<'static, str>,
    /// Whether it is recorded: its transaction is sampled and had room for it.
    pub(crate) recorded: bool,
    pub(crate) state: Mutex<SpanState>,
}

/// A span's data, behind its lock.
#[derive(Debug)]
pub(crate) struct SpanState {
    pub(crate) description: Option<String>,
    pub(crate) status: Option<SpanStatus>,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) data: serde_json::Map<String, serde_json::Value>,
    pub(crate) start: Timestamp,
    pub(crate) finished: bool,
}

/// A span as it ended.
#[derive(Clone, Debug)]
pub(crate) struct FinishedSpan {
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    pub(crate) op: Cow<'static, str>,
    pub(crate) description: Option<String>,
    pub(crate) status: Option<SpanStatus>,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) data: serde_json::Map<String, serde_json::Value>,
    pub(crate) start: Timestamp,
    pub(crate) end: Timestamp,
}

/// A transaction as it ended, on its way to the worker.
#[derive(Debug)]
pub(crate) struct FinishedTransaction {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: Option<SpanId>,
    pub(crate) sample_rate: f64,
    pub(crate) sample_rand: f64,
    /// The dynamic sampling context that came with the trace it continues, frozen.
    pub(crate) incoming_dsc: Option<Box<DynamicSamplingContext>>,
    pub(crate) name: Cow<'static, str>,
    pub(crate) op: Cow<'static, str>,
    pub(crate) source: &'static str,
    pub(crate) status: SpanStatus,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) data: serde_json::Map<String, serde_json::Value>,
    pub(crate) start: Timestamp,
    pub(crate) end: Timestamp,
    pub(crate) spans: Vec<FinishedSpan>,
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
        description: Option<String>,
    ) -> Arc<SpanRecord> {
        let mut recorded = false;
        let span = Arc::new_cyclic(|weak| {
            if self.sampled {
                let mut state = lock(&self.state);
                if !state.finished && state.open.len() < MAX_SPANS {
                    state.open.push(weak.clone());
                    recorded = true;
                }
            }
            SpanRecord {
                transaction: Arc::clone(self),
                span_id: SpanId::new(),
                parent_span_id: parent,
                op,
                recorded,
                state: Mutex::new(SpanState {
                    description,
                    status: None,
                    tags: BTreeMap::new(),
                    data: serde_json::Map::new(),
                    start: Timestamp::now(),
                    finished: false,
                }),
            }
        });
        if self.sampled && !span.recorded {
            self.dropped_spans.fetch_add(1, Ordering::Relaxed);
        }
        span
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
        let open = std::mem::take(&mut state.open);
        for span in open.iter().filter_map(Weak::upgrade) {
            let mut span_state = lock(&span.state);
            if !span_state.finished {
                span_state.finished = true;
                let finished = span.finished(&mut span_state, end, SpanStatus::DeadlineExceeded);
                state.spans.push(finished);
            }
        }
        Some(FinishedTransaction {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            sample_rate: self.sample_rate,
            sample_rand: self.sample_rand,
            incoming_dsc: self.incoming_dsc.clone(),
            name: std::mem::take(&mut state.name),
            op: self.op.clone(),
            source: state.source,
            status: state.status.unwrap_or(status),
            tags: std::mem::take(&mut state.tags),
            data: std::mem::take(&mut state.data),
            start: state.start,
            end: end.max(state.start),
            spans: std::mem::take(&mut state.spans),
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
    /// Ends the span now, with `status` unless one was set, and hands it to its transaction. Does nothing if it had
    /// ended already, or is not recorded.
    pub(crate) fn end(&self, status: SpanStatus) {
        if !self.recorded {
            return;
        }
        let finished = {
            let mut state = lock(&self.state);
            if state.finished {
                return;
            }
            state.finished = true;
            self.finished(&mut state, Timestamp::now(), status)
        };
        let mut transaction = lock(&self.transaction.state);
        if transaction.finished {
            // Only a span whose last handle went while its transaction was ending gets here: the transaction could
            // no longer reach it to close it.
            drop(transaction);
            self.transaction
                .dropped_spans
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        transaction.spans.push(finished);
    }

    /// The finished form of this span, taking its data out of `state`.
    fn finished(&self, state: &mut SpanState, end: Timestamp, status: SpanStatus) -> FinishedSpan {
        FinishedSpan {
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            op: self.op.clone(),
            description: state.description.take(),
            status: Some(state.status.unwrap_or(status)),
            tags: std::mem::take(&mut state.tags),
            data: std::mem::take(&mut state.data),
            start: state.start,
            end: end.max(state.start),
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
        self.end(SpanStatus::Cancelled);
    }
}

impl Drop for SpanRecord {
    fn drop(&mut self) {
        self.end(SpanStatus::Cancelled);
    }
}
