//! Performance monitoring: transactions and spans, their sampling, and the trace context that errors carry.
//!
//! - `propagation_context.rs`: the trace of a scope when no span is current.
//! - `records.rs`: what a transaction and its spans record while they run, shared by their handles.
//! - `handles.rs`: [`Transaction`], [`Span`] and [`TransactionOrSpan`], what the program holds.
//! - `sampler.rs`: the sampling decision of a new transaction.
//! - `start.rs`: starting transactions, on the client and scope of the calling thread.

pub(crate) mod handles;
pub(crate) mod propagation_context;
pub(crate) mod records;
pub(crate) mod sampler;
pub(crate) mod start;

pub use handles::{Span, Transaction, TransactionOrSpan};
pub use propagation_context::PropagationContext;
pub use sampler::SamplingContext;
pub use start::start_transaction;
