//! [`tower`](https://docs.rs/tower): a layer for HTTP services (feature `tower`), such as an axum router.
//!
//! ```no_run
//! # async fn run() {
//! let app = axum::Router::new()
//!     .route("/", axum::routing::get(|| async { "hello" }))
//!     .layer(faultline::integrations::tower::layer());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```
//!
//! For each request the layer:
//!
//! - gives the handler a **scope of its own** (see [`crate::FutureExt::bind_scope`]), so
//!   concurrent requests never see each other's tags, user or breadcrumbs;
//! - sets the scope's **request data**: method, URL, query string and headers. `Cookie`, `Authorization`,
//!   `Proxy-Authorization`, `X-Forwarded-For`, `X-Real-IP` and `Forwarded`, and the client's address (axum's
//!   `ConnectInfo`, feature `axum`) go in only with `send_default_pii`; a body never does;
//! - starts a **transaction** (op `http.server`) continuing the incoming `sentry-trace`/`baggage` (or
//!   `traceparent`), named `METHOD route` by axum's `MatchedPath` (feature `axum`) or else `METHOD path`, made the
//!   scope's current span and finished with the response's status mapped to a span status;
//! - turns a **panic** in the handler into a `500 Internal Server Error` (the panic hook has reported it, with the
//!   request attached, as an unhandled fatal event), also when the SDK is disabled;
//! - with [`Layer::capture_server_errors`], captures a message for each 5xx response;
//! - in [`SessionMode::Request`](crate::SessionMode::Request) (with a release set), counts each request as a
//!   **session**: `exited`, `errored` when an error was captured in its scope, `crashed` when the handler
//!   panicked, for the user the handler set; the worker sends the counts per minute;
//! - with [`ClientOptions::enable_metrics`](crate::ClientOptions::enable_metrics), records each request's duration
//!   as the distribution `http.server.request.duration` (unit `second`), with `http.request.method`, `http.route` (axum's
//!   `MatchedPath`), `http.response.status_code` and, for a 5xx, `error.type`, as OpenTelemetry's HTTP semantic
//!   conventions name them: the request count per route and status is its count.

mod catch_panic;
mod request_data;

use std::borrow::Cow;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use catch_panic::CatchPanic;

use crate::future::BoundFuture;
use crate::hub::{self, Hub};
use crate::performance::incoming::continue_with_source;
use crate::protocol::{Level, SpanStatus};
use crate::release_health::distinct_id;
use crate::release_health::request_session::RequestSession;

/// A layer with the defaults: no message for 5xx responses.
pub fn layer() -> Layer {
    Layer::default()
}

/// The tower layer; built by [`layer()`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Layer {
    capture_server_errors: bool,
}

impl Layer {
    /// Also captures a message (level `error`) for each response with a 5xx status, such as a handler that returns
    /// 500 without reporting why. Defaults to off.
    #[must_use]
    pub fn capture_server_errors(mut self, on: bool) -> Self {
        self.capture_server_errors = on;
        self
    }
}

impl<S> tower_layer::Layer<S> for Layer {
    type Service = Service<S>;

    fn layer(&self, inner: S) -> Service<S> {
        Service {
            inner,
            capture_server_errors: self.capture_server_errors,
        }
    }
}

/// The service the [`Layer`] wraps around an HTTP service.
#[derive(Clone, Debug)]
pub struct Service<S> {
    inner: S,
    capture_server_errors: bool,
}

/// The future of a request through the layer.
pub type ResponseFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

impl<S, ReqBody, ResBody> tower_service::Service<http::Request<ReqBody>> for Service<S>
where
    S: tower_service::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let settings = hub::with_client(|client| {
            (
                client.options.send_default_pii,
                client.tracks_request_sessions(),
            )
        });
        let Some((send_default_pii, request_sessions)) = settings else {
            // Disabled: nothing to record, but a panic still becomes a 500.
            let response = catch_unwind(AssertUnwindSafe(|| self.inner.call(request)));
            return Box::pin(async move {
                match response {
                    Ok(response) => CatchPanic::new(response)
                        .await
                        .unwrap_or_else(|_| Ok(server_error())),
                    Err(_) => Ok(server_error()),
                }
            });
        };
        let data = request_data::request_data(&request, send_default_pii);
        // With metrics on, the request's duration, by method, route and status (OpenTelemetry's HTTP semantic
        // conventions); its count is the number of requests.
        let timing = crate::metrics::enabled().then(|| {
            (
                Instant::now(),
                request.method().as_str().to_owned(),
                route(&request),
            )
        });
        let (name, source) = transaction_name(&request);
        let headers: Vec<(String, String)> =
            ["sentry-trace", "baggage", "traceparent", "tracestate"]
                .iter()
                .flat_map(|name| {
                    request
                        .headers()
                        .get_all(*name)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .map(|v| ((*name).to_owned(), v.to_owned()))
                })
                .collect();
        let transaction = continue_with_source(
            Cow::Owned(name),
            Cow::Borrowed("http.server"),
            source,
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        );
        let capture_server_errors = self.capture_server_errors;
        let session = request_sessions.then(|| Arc::new(RequestSession::start()));
        // The call itself runs in the request's own scope, with its data set, and a panic in it becomes a 500 as
        // one in the handler's future does.
        let (called, hub) = crate::future::in_own_scope(|| {
            crate::configure_scope(|scope| {
                scope.set_request(Some(data));
                scope.set_span(Some(transaction.clone().into()));
                scope.set_request_session(session.clone());
            });
            catch_unwind(AssertUnwindSafe(|| self.inner.call(request)))
        });
        let response = called.map(CatchPanic::new);
        // Counted when the request's future ends, however it ends: finished, or dropped (a client that went
        // away, a timeout, a shutdown), inside the request's scope either way.
        let session = session.map(SessionEnd);
        let finishing = async move {
            let _session = session;
            let outcome = match response {
                Ok(response) => response.await,
                Err(panic) => Err(panic),
            };
            let status = match &outcome {
                Ok(Ok(response)) => response.status().as_u16(),
                Ok(Err(_)) | Err(_) => 500,
            };
            transaction.set_data("http.response.status_code", status);
            if let Some((started, method, route)) = timing {
                let mut duration = crate::metrics::distribution(
                    "http.server.request.duration",
                    started.elapsed().as_secs_f64(),
                )
                .unit("second")
                .attribute("http.request.method", method)
                .attribute("http.response.status_code", status);
                if let Some(route) = route {
                    duration = duration.attribute("http.route", route);
                }
                if status >= 500 {
                    duration = duration.attribute("error.type", status.to_string());
                }
                duration.capture();
            }
            transaction.set_status(
                SpanStatus::from_http_status(status).unwrap_or(SpanStatus::UnknownError),
            );
            if capture_server_errors && status >= 500 && outcome.as_ref().is_ok_and(Result::is_ok) {
                crate::capture_message(&format!("HTTP {status} response"), Level::Error);
            }
            crate::configure_scope(|scope| scope.set_span(None));
            transaction.finish();
            match outcome {
                Ok(result) => result,
                Err(_panic) => Ok(server_error()),
            }
        };
        Box::pin(BoundFuture::with_hub(finishing, hub))
    }
}

/// Counts a request's session when dropped: `crashed` if its handler panicked, `errored` if an error was captured
/// in its scope, else `exited`, for the user the handler set. It lives in the request's future, so it is dropped in
/// the request's scope, whether the future finished or was dropped before.
struct SessionEnd(Arc<RequestSession>);

impl Drop for SessionEnd {
    fn drop(&mut self) {
        let did = Hub::with_current(|hub| {
            hub.try_top()
                .and_then(|scope| scope.user().and_then(distinct_id))
        });
        if let Some(client) = hub::client() {
            client.record_request_session(self.0.outcome(did));
        }
    }
}

/// The response a handler's panic becomes: `500 Internal Server Error`, with an empty body.
fn server_error<B: Default>() -> http::Response<B> {
    let mut response = http::Response::new(B::default());
    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// The route the request matched (axum's `MatchedPath`, feature `axum`): a template such as `/orders/{id}`, never
/// the raw path, whose ids would split the metric into a series per value.
fn route<B>(request: &http::Request<B>) -> Option<String> {
    #[cfg(feature = "axum")]
    if let Some(path) = request.extensions().get::<axum::extract::MatchedPath>() {
        return Some(path.as_str().to_owned());
    }
    let _ = request;
    None
}

/// The transaction's name and how it was chosen: `METHOD route` by axum's `MatchedPath` (feature `axum`), else
/// `METHOD path`.
fn transaction_name<B>(request: &http::Request<B>) -> (String, &'static str) {
    let method = request.method().as_str();
    #[cfg(feature = "axum")]
    if let Some(path) = request.extensions().get::<axum::extract::MatchedPath>() {
        return (format!("{method} {}", path.as_str()), "route");
    }
    (format!("{method} {}", request.uri().path()), "url")
}
