//! Integrations: pieces that feed events into the SDK from elsewhere (the panic hook, …).
//!
//! They use the crate's capture machinery the way a separate crate would use the public API; `init` wires the
//! defaults, and nothing in `hub` or `client` names an integration.

#[cfg(feature = "panic")]
pub(crate) mod panic;
