//! The [`Transport`] trait every transport implements, what it answers ([`Outcome`], [`Response`]), the options
//! it is built from ([`TransportOptions`]), and [`NoopTransport`].

use std::time::Duration;

use crate::dsn::Dsn;
use crate::protocol::Envelope;

/// What became of one envelope.
///
/// Custom transports usually return [`Outcome::Sent`] or [`Outcome::NetworkError`]; the HTTP transport returns
/// the server's [`Response`], from which the worker decides what to do: a 2xx is delivered, `429` and
/// `X-Sentry-Rate-Limits` pause sending, `408` and 5xx are retried with backoff, other 4xx drop the envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Delivered (a 2xx without rate-limit headers).
    Sent,
    /// The server answered.
    Response(Response),
    /// There was no usable answer: the connection failed or was reset, a timeout passed, or the reply was not HTTP.
    /// The envelope is kept (spooled) and sent again later.
    NetworkError,
}

/// A server's answer, with the headers that steer delivery.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
    /// The `X-Sentry-Rate-Limits` header, if any.
    pub rate_limits: Option<String>,
}

impl Response {
    /// A response with this status and no headers.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            ..Response::default()
        }
    }
}

/// Delivers envelopes.
///
/// Implement it to send events somewhere else, or to collect them in tests (see `faultline::test`, feature `test`).
/// Every method is called on the SDK's worker thread.
///
/// Envelopes replayed from the spool (events that could not be sent before, by this process or an earlier one)
/// carry their items as the bytes that were stored, [`EnvelopeItem::Raw`](crate::protocol::EnvelopeItem::Raw) with
/// their type; [`Envelope::to_event`] (or [`EnvelopeItem::to_event`](crate::protocol::EnvelopeItem::to_event) for one
/// item) gives the event either way, and [`Envelope::to_writer`] writes both forms the same.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use faultline::protocol::Envelope;
/// use faultline::transport::{Outcome, Transport};
///
/// #[derive(Default)]
/// struct Collect(Mutex<Vec<Envelope>>);
///
/// impl Transport for Collect {
///     fn send_envelope(&self, envelope: &Envelope) -> Outcome {
///         self.0.lock().unwrap().push(envelope.clone());
///         Outcome::Sent
///     }
/// }
///
/// let sink = Arc::new(Collect::default());
/// let guard = faultline::init(faultline::ClientOptions::new().transport(sink.clone()));
/// faultline::capture_message("hello", faultline::Level::Info);
/// assert!(faultline::flush(std::time::Duration::from_secs(5)));
/// assert_eq!(sink.0.lock().unwrap().len(), 1);
/// # drop(guard);
/// ```
pub trait Transport: Send + Sync + 'static {
    /// Delivers one envelope and says what became of it.
    fn send_envelope(&self, envelope: &Envelope) -> Outcome;

    /// Writes out anything buffered, within `timeout`; returns whether everything was written. Defaults to `true`.
    fn flush(&self, timeout: Duration) -> bool {
        let _ = timeout;
        true
    }

    /// Flushes and releases resources, within `timeout`. Defaults to [`Transport::flush`].
    fn shutdown(&self, timeout: Duration) -> bool {
        self.flush(timeout)
    }
}

impl<T: Transport + ?Sized> Transport for std::sync::Arc<T> {
    fn send_envelope(&self, envelope: &Envelope) -> Outcome {
        (**self).send_envelope(envelope)
    }

    fn flush(&self, timeout: Duration) -> bool {
        (**self).flush(timeout)
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        (**self).shutdown(timeout)
    }
}

/// The few settings a transport needs: a subset of the client options, so transports never see callbacks or scopes.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TransportOptions {
    /// Where to send.
    pub dsn: Dsn,
    /// The `User-Agent` and `sentry_client` value, `faultline/{version}`.
    pub user_agent: String,
    /// How long opening a connection may take.
    pub connect_timeout: Duration,
    /// How long one request may take in all.
    pub timeout: Duration,
}

impl TransportOptions {
    /// Options for `dsn` with the default timeouts (5 s to connect, 30 s per request).
    pub fn new(dsn: Dsn) -> Self {
        TransportOptions {
            dsn,
            user_agent: concat!("faultline/", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
        }
    }
}

/// A transport that drops everything; used when the SDK is enabled without anywhere to send.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopTransport;

impl Transport for NoopTransport {
    fn send_envelope(&self, _envelope: &Envelope) -> Outcome {
        Outcome::Sent
    }
}
