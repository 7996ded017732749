//! The HTTP transport: one keep-alive `ureq::Agent` posting envelopes to the DSN's envelope endpoint.
//!
//! It maps each response to an [`Outcome`] and does nothing else: no sleeping, no queueing. Those belong to the
//! worker, which owns the thread.

use std::sync::{Mutex, TryLockError};
use std::time::SystemTime;

use super::compress;
use super::interface::{Outcome, Response, Transport, TransportOptions};
use crate::diagnostics::sdk_debug;
use crate::protocol::Envelope;

/// Sends envelopes to a Sentry-compatible server over HTTP, or HTTPS with the `rustls` feature.
///
/// Requests carry `Content-Type: application/x-sentry-envelope`, the `X-Sentry-Auth` header built from the DSN,
/// and a `User-Agent` of `faultline/{version}`. Bodies of 1 KiB and more are gzip-compressed
/// (`Content-Encoding: gzip`), which every Sentry-compatible server accepts. The agent keeps connections alive between envelopes.
pub struct HttpTransport {
    agent: ureq::Agent,
    url: String,
    auth: String,
    host: String,
    gzip: compress::Gzip,
    /// The buffers of the last request, kept for the next one (see [`Buffers`]).
    buffers: Mutex<Buffers>,
}

/// A request body's two buffers: the envelope as serialised, and its gzip form.
///
/// They are kept from one request to the next, so that sending an event allocates neither. Freeing and allocating
/// two buffers of several KiB per event, and growing the first one by doubling, took about a tenth of the worker's
/// time per event under `perf` (`cargo bench --bench capture`, scenario g): glibc's allocator merges its free
/// lists before each allocation that large.
#[derive(Default)]
struct Buffers {
    envelope: Vec<u8>,
    gzip: Vec<u8>,
}

impl Buffers {
    /// The most capacity a buffer keeps between requests (256 KiB): an envelope with a large attachment does not
    /// leave its size behind.
    const KEEP: usize = 256 * 1024;

    /// Empties both buffers, giving back those that grew past [`Buffers::KEEP`].
    fn reset(&mut self) {
        for buffer in [&mut self.envelope, &mut self.gzip] {
            if buffer.capacity() > Self::KEEP {
                *buffer = Vec::new();
            } else {
                buffer.clear();
            }
        }
    }
}

impl HttpTransport {
    /// A transport for `options.dsn` with the given timeouts.
    pub fn new(options: &TransportOptions) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(options.connect_timeout))
            // Per-phase timeouts rather than `timeout_global`: with a global timeout ureq resolves the host name on
            // a new thread for every request, which cost a thread spawn per envelope. Each phase is bounded, so a
            // server that accepts and never answers still cannot hold the worker forever; the caller's flush and
            // shutdown are bounded by their own timeouts whatever this is.
            .timeout_send_request(Some(options.timeout))
            .timeout_send_body(Some(options.timeout))
            .timeout_recv_response(Some(options.timeout))
            .timeout_recv_body(Some(options.timeout))
            .user_agent(options.user_agent.as_str())
            .max_idle_connections_per_host(2)
            .build()
            .into();
        if !cfg!(feature = "rustls") && matches!(options.dsn.scheme(), crate::dsn::Scheme::Https) {
            // `init` refuses such a DSN for its own transport; one built by hand gets this line, once, at set-up.
            eprintln!(
                "faultline: {} needs TLS, but faultline was built without its `rustls` feature: every request to it \
                 will fail",
                options.dsn.envelope_url()
            );
        }
        HttpTransport {
            agent,
            url: options.dsn.envelope_url(),
            auth: options.dsn.auth_header(&options.user_agent),
            host: options.dsn.host().to_owned(),
            gzip: compress::Gzip::default(),
            buffers: Mutex::new(Buffers::default()),
        }
    }
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL and host hold no key; the auth header does, so it is left out.
        f.debug_struct("HttpTransport")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Transport for HttpTransport {
    fn send_envelope(&self, envelope: &Envelope) -> Outcome {
        // The worker is the only caller in practice; another thread sending through the same transport at the
        // same time gets buffers of its own.
        let mut own = Buffers::default();
        let mut kept = match self.buffers.try_lock() {
            Ok(kept) => Some(kept),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        let buffers = kept.as_deref_mut().unwrap_or(&mut own);
        // Empty also before: a panic during the last request (caught by delivery) left them as they were.
        buffers.reset();
        let outcome = self.send_with(envelope, buffers);
        buffers.reset();
        outcome
    }
}

impl HttpTransport {
    /// One request for `envelope`, its body built in `buffers`.
    fn send_with(&self, envelope: &Envelope, buffers: &mut Buffers) -> Outcome {
        envelope.append_to(&mut buffers.envelope, Some(SystemTime::now()));
        let gzipped = self.gzip.encode_into(&buffers.envelope, &mut buffers.gzip);
        let body: &[u8] = if gzipped {
            &buffers.gzip
        } else {
            &buffers.envelope
        };
        let mut request = self
            .agent
            .post(&self.url)
            .header("X-Sentry-Auth", &self.auth)
            .header("Content-Type", "application/x-sentry-envelope");
        if gzipped {
            request = request.header("Content-Encoding", "gzip");
        }
        let result = request.send(body);
        let mut response = match result {
            Ok(response) => response,
            Err(e) => {
                // ureq's error text names the host and the failure, never our headers.
                sdk_debug!("sending to {} failed: {e}", self.host);
                return Outcome::NetworkError;
            }
        };
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let answer = Response {
            status: response.status().as_u16(),
            retry_after: header("retry-after"),
            rate_limits: header("x-sentry-rate-limits"),
        };
        // Read (a bounded amount of) the body so the connection can go back to the pool for the next envelope.
        let _ = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_vec();
        match answer.status {
            200..=299 => {}
            413 => sdk_debug!(
                "{} rejected envelope {:?} of {} bytes as too large (413)",
                self.host,
                envelope.event_id,
                body.len()
            ),
            status => sdk_debug!(
                "{} answered {status} to envelope {:?}",
                self.host,
                envelope.event_id
            ),
        }
        Outcome::Response(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_emptied_and_only_large_ones_given_back() {
        let mut buffers = Buffers {
            envelope: Vec::with_capacity(64 * 1024),
            gzip: Vec::with_capacity(Buffers::KEEP + 1),
        };
        buffers.envelope.extend_from_slice(b"an envelope");
        buffers.gzip.extend_from_slice(b"its gzip form");
        buffers.reset();
        assert!(buffers.envelope.is_empty() && buffers.gzip.is_empty());
        assert!(
            buffers.envelope.capacity() >= 64 * 1024,
            "kept for the next request"
        );
        assert_eq!(buffers.gzip.capacity(), 0, "larger than KEEP: given back");
    }
}
