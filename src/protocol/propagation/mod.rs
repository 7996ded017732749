//! The headers that carry a distributed trace from one service to the next, as values to read and write: Sentry's
//! `sentry-trace` and `baggage` (with the dynamic sampling context in it), and W3C Trace Context's `traceparent`
//! and `tracestate`.
//!
//! Each parser is a plain function on `&str` that never panics and never fails loudly: a header it cannot read is
//! `None`, or, for the list headers, loses only the members it cannot read. What the types write reads back to the
//! same value. Nothing here decides what to propagate; an integration reads the incoming headers with these types
//! and writes the outgoing ones.

mod baggage;
mod dynamic_sampling_context;
mod percent;
mod sentry_trace;
mod traceparent;
mod tracestate;

pub use baggage::{Baggage, BaggageMember};
pub use dynamic_sampling_context::DynamicSamplingContext;
pub use sentry_trace::SentryTrace;
pub use traceparent::TraceParent;
pub use tracestate::TraceState;
