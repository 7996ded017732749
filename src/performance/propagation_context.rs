//! [`PropagationContext`]: the trace a scope belongs to when no span is current.

use crate::protocol::propagation::{DynamicSamplingContext, TraceState};
use crate::protocol::{SpanId, TraceId};

/// The trace that errors captured in a scope belong to, and that outgoing requests continue, when no transaction or
/// span is current ("tracing without performance").
///
/// Every scope has one: a fresh one at `init`, and one per request or task where an integration (or the program,
/// with [`Scope::start_new_trace`](crate::Scope::start_new_trace)) starts one. Threads start with the main
/// thread's, so errors anywhere in a program that does no tracing share one trace id per run.
#[derive(Clone, Debug, PartialEq)]
pub struct PropagationContext {
    /// The trace.
    pub trace_id: TraceId,
    /// A span id of this context's own, which errors point at and outgoing requests give as their parent.
    pub span_id: SpanId,
    /// The span of the incoming request this context continues, if it continues one.
    pub parent_span_id: Option<SpanId>,
    /// The sampling decision that came with the continued trace, if any.
    pub sampled: Option<bool>,
    /// The random number in `[0, 1)` that decides the sampling of every transaction in this trace, so that every
    /// service of one trace decides alike (`sample_rand` in the dynamic sampling context).
    pub sample_rand: f64,
    /// The dynamic sampling context that came with the continued trace, frozen: outgoing `baggage` and the
    /// envelopes of this trace carry it as it came.
    pub dynamic_sampling_context: Option<DynamicSamplingContext>,
    /// The W3C `tracestate` that came with the continued trace, passed on as it came.
    pub tracestate: Option<TraceState>,
}

impl PropagationContext {
    /// A new trace.
    pub fn new() -> Self {
        PropagationContext {
            trace_id: TraceId::new(),
            span_id: SpanId::new(),
            parent_span_id: None,
            sampled: None,
            sample_rand: fastrand::f64(),
            dynamic_sampling_context: None,
            tracestate: None,
        }
    }
}

impl Default for PropagationContext {
    fn default() -> Self {
        PropagationContext::new()
    }
}
