//! The HTTP transport: one keep-alive `ureq::Agent` posting envelopes to the DSN's envelope endpoint.
//!
//! It maps each response to an [`Outcome`] and does nothing else: no sleeping, no queueing. Those belong to the
//! worker, which owns the thread.

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
        let body = self
            .gzip
            .encode_body(envelope.to_vec(Some(SystemTime::now())));
        let mut request = self
            .agent
            .post(&self.url)
            .header("X-Sentry-Auth", &self.auth)
            .header("Content-Type", "application/x-sentry-envelope");
        if let Some(encoding) = body.content_encoding {
            request = request.header("Content-Encoding", encoding);
        }
        let result = request.send(&body.bytes[..]);
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
                body.bytes.len()
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
