//! The headers that carry the current trace to the next service: `sentry-trace` and `baggage`, and W3C
//! `traceparent` (with `propagate_traceparent`) and `tracestate` (when one came in).

use super::handles::{Span, Transaction, TransactionOrSpan};
use super::propagation_context::PropagationContext;
use super::records::TransactionRecord;
use crate::hub::{self, Hub};
use crate::protocol::propagation::{
    Baggage, DynamicSamplingContext, SentryTrace, TraceParent, TraceState,
};
use crate::protocol::{SpanId, TraceId};
use crate::sync::lock;

/// The trace headers for an outgoing request: see [`trace_headers`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraceHeaders {
    /// `sentry-trace`: the trace, the span the request is made in, and the sampling decision if one was made.
    pub sentry_trace: String,
    /// `baggage` with the trace's dynamic sampling context as `sentry-` entries; `None` when there is none.
    pub baggage: Option<String>,
    /// `traceparent`, with [`propagate_traceparent`](crate::ClientOptions::propagate_traceparent).
    pub traceparent: Option<String>,
    /// `tracestate`, as it came with the continued trace, when it came with one and `traceparent` goes out.
    pub tracestate: Option<String>,
}

impl TraceHeaders {
    /// The headers as `(name, value)` pairs, to add to a request.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            Some(("sentry-trace", self.sentry_trace.as_str())),
            self.baggage.as_deref().map(|b| ("baggage", b)),
            self.traceparent.as_deref().map(|t| ("traceparent", t)),
            self.tracestate.as_deref().map(|t| ("tracestate", t)),
        ]
        .into_iter()
        .flatten()
    }

    /// The `baggage` for a request that already has one (`existing`): its own members are kept as they are, its
    /// `sentry-` entries are replaced by this trace's, and the whole stays within W3C Baggage's limits (64
    /// members, 8192 bytes), the `sentry-` entries first.
    pub fn baggage_with(&self, existing: &str) -> String {
        let mut merged = Baggage::parse(existing);
        merged.sentry = self
            .baggage
            .as_deref()
            .and_then(|own| Baggage::parse(own).sentry);
        merged.to_string()
    }
}

/// The trace headers for an outgoing request made now: those of the current scope's span, or, when none is
/// current, of the scope's trace ("tracing without performance"), so that the next service's errors and
/// transactions join this trace.
///
/// ```
/// # faultline::test::with_captured_events(|| {
/// let headers = faultline::trace_headers();
/// for (name, value) in headers.iter() {
///     // request.header(name, value)
/// #   assert!(!value.is_empty(), "{name}");
/// }
/// # });
/// ```
///
/// Per Sentry's rules, members of an incoming request's `baggage` that are not Sentry's are not passed on; to keep
/// the members an outgoing request already has, use [`TraceHeaders::baggage_with`].
pub fn trace_headers() -> TraceHeaders {
    let scope = Hub::with_current(|hub| hub.top());
    match scope.span() {
        Some(TransactionOrSpan::Transaction(t)) => t.trace_headers(),
        Some(TransactionOrSpan::Span(s)) => s.trace_headers(),
        None => of_context(scope.propagation_context()),
    }
}

impl Transaction {
    /// The trace headers for an outgoing request made as part of this transaction (see [`trace_headers`]).
    pub fn trace_headers(&self) -> TraceHeaders {
        of_span(&self.record, self.record.span_id)
    }
}

impl Span {
    /// The trace headers for an outgoing request made as part of this span (see [`trace_headers`]).
    pub fn trace_headers(&self) -> TraceHeaders {
        of_span(&self.record.transaction, self.record.span_id)
    }
}

/// The headers for span `span_id` of `transaction`.
fn of_span(transaction: &TransactionRecord, span_id: SpanId) -> TraceHeaders {
    let dsc = match &transaction.incoming_dsc {
        Some(dsc) => Some((**dsc).clone()),
        // Made once, when it first leaves, and frozen from then on.
        None => match transaction.head_dsc.get() {
            Some(dsc) => Some(dsc.clone()),
            None => hub::with_client(|client| {
                let (name, source) = {
                    let state = lock(&transaction.state);
                    (state.name.to_string(), state.source)
                };
                client.trace_origin.transaction_context(
                    transaction.trace_id,
                    transaction.sample_rand,
                    transaction
                        .propagated_sampled
                        .map(|sampled| (sampled, transaction.sample_rate)),
                    &name,
                    source,
                )
            })
            .map(|dsc| transaction.head_dsc.get_or_init(|| dsc).clone()),
        },
    };
    headers(
        transaction.trace_id,
        span_id,
        transaction.propagated_sampled,
        dsc,
        None,
    )
}

/// The headers of a scope's trace when no span is current.
fn of_context(context: &PropagationContext) -> TraceHeaders {
    let dsc = match &context.dynamic_sampling_context {
        Some(dsc) => Some(dsc.clone()),
        None => head_dsc(context.trace_id, context.sample_rand),
    };
    headers(
        context.trace_id,
        context.span_id,
        context.sampled,
        dsc,
        context.tracestate.as_ref(),
    )
}

/// The dynamic sampling context of a trace that starts here, from the current client; `None` without a client.
fn head_dsc(trace_id: TraceId, sample_rand: f64) -> Option<DynamicSamplingContext> {
    hub::with_client(|client| client.trace_origin.context(trace_id, sample_rand))
}

fn headers(
    trace_id: TraceId,
    span_id: SpanId,
    sampled: Option<bool>,
    dsc: Option<DynamicSamplingContext>,
    tracestate: Option<&TraceState>,
) -> TraceHeaders {
    let traceparent = hub::with_client(|client| client.options.propagate_traceparent)
        .unwrap_or(false)
        .then(|| TraceParent::new(trace_id, span_id, sampled == Some(true)).to_string());
    let baggage = dsc.map(|dsc| {
        Baggage {
            sentry: Some(dsc),
            foreign: Vec::new(),
        }
        .to_string()
    });
    TraceHeaders {
        sentry_trace: SentryTrace::new(trace_id, span_id, sampled).to_string(),
        baggage: baggage.filter(|b| !b.is_empty()),
        tracestate: traceparent
            .as_ref()
            .and(tracestate)
            .map(ToString::to_string),
        traceparent,
    }
}
