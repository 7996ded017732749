//! Performance monitoring: transactions and spans, their sampling, and the trace context that errors carry.
//!
//! - `propagation_context.rs`: the trace of a scope when no span is current.
//! - `records.rs`: what a transaction and its spans record while they run, shared by their handles.
//! - `ticks.rs`: the cheap clock that spans read, which their transaction turns into times.
//! - `handles.rs`: [`Transaction`], [`Span`] and [`TransactionOrSpan`], what the program holds.
//! - `sampler.rs`: the sampling decision of a new transaction.
//! - `start.rs`: starting transactions, on the client and scope of the calling thread.
//! - `trace_origin.rs`: the dynamic sampling context of a trace that starts here.
//! - `incoming.rs`: continuing the trace of an incoming request from its headers.
//! - `outgoing.rs`: the trace headers for an outgoing request.

pub(crate) mod handles;
pub(crate) mod incoming;
pub(crate) mod outgoing;
pub(crate) mod propagation_context;
pub(crate) mod records;
pub(crate) mod sampler;
pub(crate) mod start;
pub(crate) mod ticks;
pub(crate) mod trace_origin;

pub use handles::{Span, Transaction, TransactionOrSpan};
pub use incoming::continue_from_headers;
pub use outgoing::{TraceHeaders, trace_headers};
pub use propagation_context::PropagationContext;
pub use sampler::SamplingContext;
pub use start::start_transaction;
