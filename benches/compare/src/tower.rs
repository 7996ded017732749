//! What each SDK's tower layer adds to a request, faultline's next to sentry's `NewSentryLayer` (a hub bound per
//! request, `bind_hub`) with `SentryHttpLayer` (request data and a transaction): a hello-world axum handler called in
//! process, the router driven as a tower service by a current-thread runtime, so that no network noise hides the
//! layers' cost. Performance monitoring is on at `traces_sample_rate` 0.0 (a transaction per request, unsampled) and
//! 1.0 (every transaction recorded), with discarding transports.
//!
//! In rounds, like the other scenarios: in every round the bare router, faultline's and sentry's each take a turn at
//! both rates, and each figure is the median of its rounds.

use std::hint::black_box;

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use tower_service::Service;

use crate::faultline_sdk::faultline_tracing;
use crate::harness::{self, Summary};
use crate::sentry_sdk::sentry_tracing;

/// Timed requests per layer and rate, split evenly over the rounds.
pub(crate) const REQUESTS: usize = 50_000;

/// Each round's figures, in the order the rounds ran: the bare router, then each SDK at rate 0.0 and 1.0.
#[derive(Default)]
pub(crate) struct TowerRounds {
    pub(crate) bare: Vec<Summary>,
    pub(crate) faultline_unsampled: Vec<Summary>,
    pub(crate) sentry_unsampled: Vec<Summary>,
    pub(crate) faultline_sampled: Vec<Summary>,
    pub(crate) sentry_sampled: Vec<Summary>,
}

fn router() -> axum::Router {
    axum::Router::new().route("/", get(|| async { "ok" }))
}

/// Times `n` requests through `service`.
fn time_requests(
    runtime: &tokio::runtime::Runtime,
    service: &mut axum::Router,
    n: usize,
) -> Summary {
    for _ in 0..1_000 {
        request(runtime, service);
    }
    harness::time_each(n, |_| request(runtime, service), |_| {})
}

fn request(runtime: &tokio::runtime::Runtime, service: &mut axum::Router) {
    let request = Request::get("/").body(Body::empty()).expect("a request");
    let response = runtime.block_on(Service::call(service, request));
    black_box(response.expect("a response").status());
}

pub(crate) fn measure(rounds: usize) -> TowerRounds {
    let n = REQUESTS / rounds;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let mut out = TowerRounds::default();
    for _ in 0..rounds {
        out.bare.push(time_requests(&runtime, &mut router(), n));
        for (rate, faultline_out, sentry_out) in [
            (0.0, &mut out.faultline_unsampled, &mut out.sentry_unsampled),
            (1.0, &mut out.faultline_sampled, &mut out.sentry_sampled),
        ] {
            let guard = faultline_tracing(rate);
            let mut service = router().layer(faultline::integrations::tower::layer());
            faultline_out.push(time_requests(&runtime, &mut service, n));
            faultline::flush(crate::harness::FLUSH);
            drop(guard);

            let guard = sentry_tracing(rate as f32);
            let mut service = router()
                .layer(sentry::integrations::tower::SentryHttpLayer::new().enable_transaction())
                .layer(
                    sentry::integrations::tower::NewSentryLayer::<Request<Body>>::new_from_top(),
                );
            sentry_out.push(time_requests(&runtime, &mut service, n));
            drop(guard);
        }
    }
    out
}
