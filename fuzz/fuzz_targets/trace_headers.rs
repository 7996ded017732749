//! The trace propagation headers (`sentry-trace`, `baggage`, `traceparent`, `tracestate`), from any UTF-8 text
//! split into their four values at newlines: no panic; what parses writes back to text that parses to the same
//! value; what is written stays within the W3C limits; and continuing a trace from them never fails.

#![no_main]

use faultline::PropagationContext;
use faultline::protocol::propagation::{Baggage, SentryTrace, TraceParent, TraceState};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(4, '\n');
    let sentry_trace = parts.next().unwrap_or_default();
    let baggage = parts.next().unwrap_or_default();
    let traceparent = parts.next().unwrap_or_default();
    let tracestate = parts.next().unwrap_or_default();

    if let Some(parsed) = SentryTrace::parse(sentry_trace) {
        assert_eq!(SentryTrace::parse(&parsed.to_string()), Some(parsed));
    }
    if let Some(parsed) = TraceParent::parse(traceparent) {
        let written = parsed.to_string();
        let again = TraceParent::parse(&written).expect("what is written parses");
        assert_eq!(
            (again.trace_id, again.parent_id, again.sampled),
            (parsed.trace_id, parsed.parent_id, parsed.sampled)
        );
    }
    let state = TraceState::parse(tracestate);
    assert!(state.as_str().len() <= TraceState::MAX_BYTES);
    let parsed = Baggage::parse(baggage);
    let written = parsed.to_string();
    assert!(
        written.len() <= Baggage::MAX_BYTES,
        "{} bytes",
        written.len()
    );
    assert!(written.split(',').count() <= Baggage::MAX_MEMBERS);
    assert_eq!(Baggage::parse(&written).sentry, parsed.sentry);

    let headers = [
        ("sentry-trace", sentry_trace),
        ("baggage", baggage),
        ("traceparent", traceparent),
        ("tracestate", tracestate),
    ];
    if let Some(context) = PropagationContext::from_headers(headers) {
        assert!(context.sample_rand >= 0.0 && context.sample_rand < 1.0);
    }
});
