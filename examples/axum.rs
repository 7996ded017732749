//! An axum service with the tower layer: each request has a scope of its own, its request data, a transaction and
//! a release-health session, and a handler's panic becomes a 500. Listens on 127.0.0.1 at the port in `PORT` (default 3000); sends to
//! `SENTRY_DSN` when it is set (and does nothing but serve without it):
//!
//! ```text
//! SENTRY_DSN=… cargo run --example axum --features axum
//! curl 127.0.0.1:3000/            # 200
//! curl 127.0.0.1:3000/fail/7      # 500, and an error tagged id=7, user 7, with its request and trace
//! curl 127.0.0.1:3000/panic       # 500, and a fatal event with its request
//! ```

use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use faultline::{ClientOptions, User};

async fn fail(Path(id): Path<u64>) -> StatusCode {
    faultline::configure_scope(|scope| {
        scope.set_tag("id", id);
        scope.set_user(Some(User {
            id: Some(id.to_string()),
            ..User::default()
        }));
    });
    faultline::add_breadcrumb(faultline::Breadcrumb::new(
        "order",
        format!("loading order {id}"),
    ));
    // Other requests run meanwhile, on this thread and others; this one's scope stays its own.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let err = format!("order-{id}").parse::<u32>().unwrap_err();
    faultline::capture_error(&err);
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn panics() -> &'static str {
    panic!("the handler panicked")
}

#[tokio::main]
async fn main() {
    let _guard = faultline::init(
        ClientOptions::new()
            .release(faultline::release_name!())
            .traces_sample_rate(1.0)
            // Each request is a release-health session: exited, errored (an error was captured) or crashed (a
            // panic), sent as per-minute counts.
            .session_mode(faultline::SessionMode::Request),
    );
    let app = Router::new()
        .route("/", get(|| async { "ok\n" }))
        .route("/fail/{id}", get(fail))
        .route("/panic", get(panics))
        .layer(faultline::integrations::tower::layer());
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .expect("bind 127.0.0.1");
    println!("listening on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}
