//! Transports: where finished envelopes go.
//!
//! A [`Transport`] receives envelopes on the SDK's worker thread, never on the thread that captured the event, so
//! it may block on I/O within its own timeouts. It sees only the envelope and the narrow [`TransportOptions`]: no
//! scope, no client options, no callbacks.
//!
//! [`Tee`] sends each envelope to several transports, e.g. the HTTP transport and a
//! [`JsonLinesSink`](crate::sink::JsonLinesSink), with the first one deciding delivery.

#[cfg(feature = "http")]
mod compress;
#[cfg(feature = "http")]
mod http;
mod interface;
#[cfg(feature = "otlp")]
mod otlp;
#[cfg(feature = "otlp")]
mod otlp_metrics;
mod tee;

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use http::HttpTransport;
pub use interface::{NoopTransport, Outcome, Response, Transport, TransportOptions};
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub use otlp::{OtlpOptions, OtlpTransport};
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub use otlp_metrics::{
    DEFAULT_HISTOGRAM_BOUNDS, MAX_CUMULATIVE_SERIES, SECONDS_HISTOGRAM_BOUNDS, Temporality,
};
pub use tee::Tee;
