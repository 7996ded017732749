//! Continuing a trace that came in with a request: `sentry-trace` and `baggage`, or W3C `traceparent` and
//! `tracestate` when no `sentry-trace` came.

use std::borrow::Cow;

use super::handles::Transaction;
use super::propagation_context::PropagationContext;
use super::start::{Parent, start};
use crate::hub;
use crate::protocol::propagation::{Baggage, SentryTrace, TraceParent, TraceState};
use crate::protocol::{SpanId, TraceId};

/// Starts a transaction that continues the trace of an incoming request, read from its headers (`(name, value)`
/// pairs, names in any case): `sentry-trace` and `baggage`, or W3C `traceparent` and `tracestate` when no
/// `sentry-trace` came.
///
/// The continued trace's sampling decision wins (unless a `traces_sampler` decides otherwise), and its dynamic
/// sampling context, if it came in `baggage`, goes on unchanged. Headers that are missing or malformed start a
/// new trace; they never fail. With [`strict_trace_continuation`](crate::ClientOptions::strict_trace_continuation),
/// a trace from another Sentry organisation (by `sentry-org_id`) starts a new one too.
///
/// ```
/// # faultline::test::with_captured_events(|| {
/// let headers = [
///     ("sentry-trace", "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-1"),
///     ("baggage", "sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-sample_rate=1,other=kept"),
/// ];
/// let transaction = faultline::continue_from_headers("GET /orders", "http.server", headers);
/// assert_eq!(transaction.trace_id().to_string(), "771a43a4192642f0b136d5159a501700");
/// transaction.finish();
/// # });
/// ```
pub fn continue_from_headers<'a>(
    name: impl Into<Cow<'static, str>>,
    op: impl Into<Cow<'static, str>>,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Transaction {
    continue_with_source(name.into(), op.into(), "custom", headers)
}

/// [`continue_from_headers`] for a transaction whose name was chosen by `source` (`route`, `url`, …).
pub(crate) fn continue_with_source<'a>(
    name: Cow<'static, str>,
    op: Cow<'static, str>,
    source: &'static str,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Transaction {
    let parent = match PropagationContext::from_headers(headers) {
        Some(context) => Parent {
            trace_id: Some(context.trace_id),
            span_id: context.parent_span_id,
            sampled: context.sampled,
            sample_rand: Some(context.sample_rand),
            dsc: context.dynamic_sampling_context,
        },
        None => Parent::default(),
    };
    start(name, op, source, parent)
}

impl PropagationContext {
    /// The context of the trace an incoming request continues, from its headers (see
    /// [`continue_from_headers`]); `None` when they continue none, or one this SDK must not continue
    /// (`strict_trace_continuation`). Put it in a scope with
    /// [`Scope::set_propagation_context`](crate::Scope::set_propagation_context) so that errors captured while
    /// handling the request carry the trace even when no transaction is recorded.
    pub fn from_headers<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Self> {
        let mut sentry_trace = None;
        let mut traceparent = None;
        let mut baggage = Vec::new();
        let mut tracestate = Vec::new();
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("sentry-trace") {
                sentry_trace = sentry_trace.or_else(|| SentryTrace::parse(value));
            } else if name.eq_ignore_ascii_case("baggage") {
                baggage.push(value);
            } else if name.eq_ignore_ascii_case("traceparent") {
                traceparent = traceparent.or_else(|| TraceParent::parse(value));
            } else if name.eq_ignore_ascii_case("tracestate") {
                tracestate.push(value);
            }
        }
        let (trace_id, parent_span_id, sampled, w3c): (TraceId, SpanId, Option<bool>, bool) =
            match (sentry_trace, traceparent) {
                (Some(s), _) => (s.trace_id, s.parent_span_id, s.sampled, false),
                (None, Some(t)) => (t.trace_id, t.parent_id, Some(t.sampled), true),
                (None, None) => return None,
            };
        // A DSC of another trace is not this one's.
        let dsc = Baggage::parse_all(baggage)
            .sentry
            .filter(|dsc| dsc.trace_id.is_none_or(|id| id == trace_id));
        let incoming_org = dsc
            .as_ref()
            .and_then(|dsc| dsc.org_id.as_deref())
            .and_then(|id| id.parse::<u64>().ok());
        if !may_continue(incoming_org) {
            return None;
        }
        let mut dsc = dsc;
        let sample_rate = dsc.as_ref().and_then(|dsc| dsc.sample_rate);
        let sample_rand = dsc
            .as_ref()
            .and_then(|dsc| dsc.sample_rand)
            .unwrap_or_else(|| sample_rand_for(sampled, sample_rate, fastrand::f64()));
        // A context from an SDK that predates `sample_rand` gets the one chosen here, so that every later service
        // decides by the same number (Sentry's SDKs add it to an incoming context the same way).
        if let Some(dsc) = &mut dsc {
            dsc.sample_rand.get_or_insert(sample_rand);
        }
        let tracestate = (w3c && !tracestate.is_empty())
            .then(|| TraceState::parse_all(tracestate))
            .filter(|state| !state.is_empty());
        Some(PropagationContext {
            trace_id,
            span_id: SpanId::new(),
            parent_span_id: Some(parent_span_id),
            sampled,
            sample_rand,
            dynamic_sampling_context: dsc,
            tracestate,
        })
    }
}

/// Whether a trace from organisation `incoming` may be continued by the current client: never when both
/// organisations are known and differ; with `strict_trace_continuation`, only when both are known and equal or
/// both unknown.
fn may_continue(incoming: Option<u64>) -> bool {
    let (own, strict) = hub::with_client(|client| {
        (
            client.trace_origin.org_id,
            client.options.strict_trace_continuation,
        )
    })
    .unwrap_or((None, false));
    match (own, incoming) {
        (Some(own), Some(incoming)) => own == incoming,
        (None, None) => true,
        _ => !strict,
    }
}

/// A random number for a continued trace that came without one, consistent with its decision (Sentry's "Propagated
/// Random Value"): below the rate when it was sampled, at or above it when not, anywhere when either is unknown.
fn sample_rand_for(sampled: Option<bool>, rate: Option<f64>, rand: f64) -> f64 {
    match (sampled, rate) {
        (Some(true), Some(rate)) => rand * rate,
        (Some(false), Some(rate)) => rate + rand * (1.0 - rate),
        _ => rand,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_sample_rand_agrees_with_the_decision() {
        for rand in [0.0, 0.3, 0.999] {
            assert!(sample_rand_for(Some(true), Some(0.25), rand) < 0.25);
            assert!(sample_rand_for(Some(false), Some(0.25), rand) >= 0.25);
            assert_eq!(sample_rand_for(None, Some(0.25), rand), rand);
            assert_eq!(sample_rand_for(Some(true), None, rand), rand);
        }
    }
}
