//! Delivery: what the worker does with a finished envelope so that nothing is lost. The offline spool on disk, the
//! retry schedule, and the server's rate limits; `docs/delivery.md` states the guarantees.
//!
//! Delivery sees envelopes, the [`Transport`](crate::transport::Transport) and the counters, never scopes, options
//! or callbacks.

pub(crate) mod rate_limit;
pub(crate) mod retry;
pub(crate) mod spool;
