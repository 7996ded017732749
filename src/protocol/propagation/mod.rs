//! The headers that carry a distributed trace from one service to the next, as values to read and write.
//!
//! Each parser is a plain function on `&str` that never panics: a header it cannot read is `None`. What the types
//! write reads back to the same value. Nothing here decides what to propagate; an integration reads the incoming
//! headers with these types and writes the outgoing ones.

mod sentry_trace;

pub use sentry_trace::SentryTrace;
