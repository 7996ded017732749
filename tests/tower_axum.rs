//! The tower layer on a real axum server (127.0.0.1, a multi-threaded tokio runtime), called by a real HTTP client
//! (ureq): 200 concurrent requests that each set their own tag and user and raise an error, a handler that panics,
//! and personal headers, which go in only with `send_default_pii`. Events and transactions go to a loopback server.
#![cfg(all(feature = "axum", feature = "http"))]

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use faultline::{ClientOptions, User};
use serde_json::Value;
use support::{TestServer, serial};

const REQUESTS: usize = 200;

async fn fail(Path(id): Path<u64>) -> StatusCode {
    faultline::configure_scope(|scope| {
        scope.set_tag("id", id);
        scope.set_user(Some(User {
            id: Some(id.to_string()),
            ..User::default()
        }));
    });
    faultline::add_breadcrumb(faultline::Breadcrumb::new("order", format!("order {id}")));
    tokio::time::sleep(Duration::from_millis(1 + id % 5)).await;
    let err = format!("order {id}").parse::<u32>().unwrap_err();
    faultline::capture_error(&err);
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn panics() -> &'static str {
    panic!("the handler panicked")
}

/// Serves the app on 127.0.0.1 (a free port) in `runtime`; returns its address.
fn serve(runtime: &tokio::runtime::Runtime) -> SocketAddr {
    serve_with(runtime, faultline::integrations::tower::layer())
}

fn serve_with(
    runtime: &tokio::runtime::Runtime,
    layer: faultline::integrations::tower::Layer,
) -> SocketAddr {
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/fail/{id}", get(fail))
        .route("/panic", get(panics))
        .route(
            "/unavailable",
            get(|| async { StatusCode::SERVICE_UNAVAILABLE }),
        )
        .layer(layer);
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn client() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build(),
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// The events and transactions the server received.
fn received(server: &TestServer) -> (Vec<Value>, Vec<Value>) {
    let (mut events, mut transactions) = (Vec::new(), Vec::new());
    for request in server.requests() {
        let envelope = request.envelope();
        if let Some(event) = envelope.event() {
            events.push(event);
        }
        if let Some((_, payload)) = envelope.item("transaction") {
            transactions.push(serde_json::from_slice(payload).unwrap());
        }
    }
    (events, transactions)
}

#[test]
fn concurrent_requests_keep_their_own_scopes_and_requests() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(
        ClientOptions::new()
            .dsn(server.dsn("k", 1))
            .spool_dir(None)
            .queue_size(2 * REQUESTS + 10)
            .traces_sample_rate(1.0),
    )
    .unwrap();
    let runtime = runtime();
    let addr = serve(&runtime);
    let threads: Vec<_> = (0..REQUESTS)
        .map(|i| {
            std::thread::spawn(move || {
                let response = client()
                    .get(format!("http://{addr}/fail/{i}?attempt=1"))
                    .header("Cookie", "session=secret")
                    .call()
                    .unwrap();
                assert_eq!(response.status(), 500);
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let ok = client().get(format!("http://{addr}/")).call().unwrap();
    assert_eq!(ok.status(), 200);
    assert!(faultline::flush(Duration::from_secs(20)));
    drop(guard);
    drop(runtime);

    let (events, transactions) = received(&server);
    assert_eq!(events.len(), REQUESTS, "one error per request");
    let traces: BTreeMap<String, &Value> = transactions
        .iter()
        .map(|t| {
            (
                t["contexts"]["trace"]["trace_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                t,
            )
        })
        .collect();
    assert_eq!(
        transactions.len(),
        REQUESTS + 1,
        "a transaction per request"
    );
    for event in &events {
        let id = event["tags"]["id"].as_str().expect("its request's tag");
        assert_eq!(event["user"]["id"], id, "{event}");
        let url = event["request"]["url"].as_str().unwrap();
        assert_eq!(url, format!("http://{addr}/fail/{id}"), "{event}");
        assert_eq!(event["request"]["method"], "GET");
        assert_eq!(event["request"]["query_string"], "attempt=1");
        assert!(
            event["request"]["headers"].get("Cookie").is_none(),
            "no cookie without send_default_pii: {event}"
        );
        let crumbs: Vec<&str> = event["breadcrumbs"]["values"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b["message"].as_str())
            .collect();
        assert_eq!(crumbs, [format!("order {id}")]);
        // The error belongs to its own request's transaction.
        let trace = event["contexts"]["trace"]["trace_id"].as_str().unwrap();
        let transaction = traces[trace];
        assert_eq!(transaction["request"]["url"], url);
        assert_eq!(transaction["transaction"], "GET /fail/{id}");
        assert_eq!(transaction["transaction_info"]["source"], "route");
        assert_eq!(transaction["contexts"]["trace"]["status"], "internal_error");
    }
    let root = transactions
        .iter()
        .find(|t| t["transaction"] == "GET /")
        .expect("the 200's transaction");
    assert_eq!(root["contexts"]["trace"]["status"], "ok");
}

#[test]
fn a_panicking_handler_gives_a_500_and_one_fatal_event_with_the_request() {
    let _serial = serial();
    for pii in [false, true] {
        let server = TestServer::ok();
        let guard = faultline::try_init(
            ClientOptions::new()
                .dsn(server.dsn("k", 1))
                .spool_dir(None)
                .send_default_pii(pii),
        )
        .unwrap();
        let runtime = runtime();
        let addr = serve(&runtime);
        let response = client()
            .get(format!("http://{addr}/panic"))
            .header("Authorization", "Bearer t0k3n")
            .header("Cookie", "session=abc")
            .call()
            .unwrap();
        assert_eq!(response.status(), 500);
        // The server still serves.
        let ok = client().get(format!("http://{addr}/")).call().unwrap();
        assert_eq!(ok.status(), 200);
        assert!(faultline::flush(Duration::from_secs(10)));
        drop(guard);
        drop(runtime);
        let (events, _) = received(&server);
        assert_eq!(events.len(), 1, "one event for the panic");
        let event = &events[0];
        assert_eq!(event["level"], "fatal");
        assert_eq!(
            event["exception"]["values"][0]["mechanism"]["handled"],
            false
        );
        assert_eq!(event["request"]["url"], format!("http://{addr}/panic"));
        let headers = &event["request"]["headers"];
        if pii {
            assert_eq!(headers["Cookie"], "session=abc");
            assert_eq!(headers["Authorization"], "Bearer t0k3n");
        } else {
            assert!(headers.get("Cookie").is_none(), "{headers}");
            assert!(headers.get("Authorization").is_none(), "{headers}");
        }
    }
}

#[test]
fn request_secrets_are_scrubbed_without_send_default_pii() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(
        ClientOptions::new()
            .dsn(server.dsn("k", 1))
            .spool_dir(None)
            .traces_sample_rate(1.0),
    )
    .unwrap();
    let runtime = runtime();
    let addr = serve(&runtime);
    let response = client()
        .get(format!("http://{addr}/fail/3?token=abc123&page=2"))
        .header("X-Api-Key", "k-42")
        .call()
        .unwrap();
    assert_eq!(response.status(), 500);
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    drop(runtime);
    let (events, transactions) = received(&server);
    for request in [&events[0]["request"], &transactions[0]["request"]] {
        assert_eq!(request["query_string"], "token=[Filtered]&page=2");
        assert_eq!(request["headers"]["X-Api-Key"], "[Filtered]");
    }
}

#[test]
fn server_errors_are_captured_when_asked() {
    let _serial = serial();
    for capture in [false, true] {
        let server = TestServer::ok();
        let guard =
            faultline::try_init(ClientOptions::new().dsn(server.dsn("k", 1)).spool_dir(None))
                .unwrap();
        let runtime = runtime();
        let layer = faultline::integrations::tower::layer().capture_server_errors(capture);
        let addr = serve_with(&runtime, layer);
        let response = client()
            .get(format!("http://{addr}/unavailable"))
            .call()
            .unwrap();
        assert_eq!(response.status(), 503);
        assert!(faultline::flush(Duration::from_secs(10)));
        drop(guard);
        drop(runtime);
        let (events, _) = received(&server);
        if capture {
            assert_eq!(events.len(), 1);
            assert_eq!(events[0]["message"], "HTTP 503 response");
            assert_eq!(
                events[0]["request"]["url"],
                format!("http://{addr}/unavailable")
            );
        } else {
            assert!(events.is_empty());
        }
    }
}

/// A service whose `call` panics at once, before any future exists.
#[derive(Clone)]
struct PanicsInCall;

impl tower_service::Service<axum::http::Request<axum::body::Body>> for PanicsInCall {
    type Response = axum::http::Response<axum::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: axum::http::Request<axum::body::Body>) -> Self::Future {
        faultline::configure_scope(|scope| scope.set_tag("in_call", "yes"));
        panic!("call panicked");
    }
}

#[test]
fn a_service_that_panics_in_call_gives_a_500_in_the_request_scope() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard =
        faultline::try_init(ClientOptions::new().dsn(server.dsn("k", 1)).spool_dir(None)).unwrap();
    let mut service =
        tower_layer::Layer::layer(&faultline::integrations::tower::layer(), PanicsInCall);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let request = axum::http::Request::get("http://svc/boom")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = runtime
        .block_on(tower_service::Service::call(&mut service, request))
        .unwrap();
    assert_eq!(response.status(), 500);
    // The tag set in `call` stayed in the request's scope.
    faultline::capture_message("afterwards", faultline::Level::Info);
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let (events, _) = received(&server);
    let panic = events
        .iter()
        .find(|e| e["level"] == "fatal")
        .expect("the panic's event");
    assert_eq!(panic["tags"]["in_call"], "yes");
    assert_eq!(panic["request"]["url"], "http://svc/boom");
    let after = events
        .iter()
        .find(|e| e["message"] == "afterwards")
        .unwrap();
    assert!(after["tags"].get("in_call").is_none(), "{after}");
}

/// The `sessions` items the server received.
fn session_aggregates(server: &TestServer) -> Vec<Value> {
    server
        .requests()
        .iter()
        .flat_map(|request| request.envelope().items)
        .filter(|(header, _)| header["type"] == "sessions")
        .map(|(_, payload)| serde_json::from_slice(&payload).unwrap())
        .collect()
}

#[test]
fn request_mode_counts_each_request_as_a_session() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(
        ClientOptions::new()
            .dsn(server.dsn("k", 1))
            .spool_dir(None)
            .queue_size(500)
            .release("shop@2.0.0")
            .environment("test")
            .session_mode(faultline::SessionMode::Request),
    )
    .unwrap();
    let runtime = runtime();
    let addr = serve(&runtime);
    let paths: Vec<String> = (0..60)
        .map(|i| match i % 6 {
            0 | 2 | 4 => "/".to_owned(),
            1 | 3 => format!("/fail/{}", i % 4),
            _ => "/panic".to_owned(),
        })
        .collect();
    let threads: Vec<_> = paths
        .iter()
        .cloned()
        .map(|path| {
            std::thread::spawn(move || {
                let status = client()
                    .get(format!("http://{addr}{path}"))
                    .call()
                    .unwrap()
                    .status();
                assert_eq!(status, if path == "/" { 200 } else { 500 }, "{path}");
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(faultline::flush(Duration::from_secs(20)));
    let items = session_aggregates(&server);
    assert!(!items.is_empty(), "{:?}", server.requests());
    let mut totals = BTreeMap::<(&str, Option<String>), u64>::new();
    for item in &items {
        assert_eq!(item["attrs"]["release"], "shop@2.0.0");
        assert_eq!(item["attrs"]["environment"], "test");
        for bucket in item["aggregates"].as_array().unwrap() {
            let started = bucket["started"].as_str().expect("an RFC 3339 string");
            assert!(
                started.ends_with(":00.000000Z"),
                "a whole minute: {started}"
            );
            let did = bucket["did"].as_str().map(str::to_owned);
            for status in ["exited", "errored", "crashed", "abnormal"] {
                if let Some(n) = bucket.get(status) {
                    let n = n.as_u64().unwrap();
                    assert!(n > 0, "empty counts are left out: {bucket}");
                    *totals.entry((status, did.clone())).or_default() += n;
                }
            }
        }
    }
    let count = |status: &str| -> u64 {
        totals
            .iter()
            .filter(|((s, _), _)| *s == status)
            .map(|(_, n)| n)
            .sum()
    };
    assert_eq!(count("exited"), 30, "{totals:?}");
    assert_eq!(count("errored"), 20, "{totals:?}");
    assert_eq!(count("crashed"), 10, "{totals:?}");
    assert_eq!(count("abnormal"), 0);
    assert_eq!(
        count("exited") + count("errored") + count("crashed"),
        paths.len() as u64
    );
    // Each failed request counted for the user its handler set.
    for user in 0..4 {
        let want = paths
            .iter()
            .filter(|path| **path == format!("/fail/{user}"))
            .count() as u64;
        let got = totals
            .get(&("errored", Some(user.to_string())))
            .copied()
            .unwrap_or(0);
        assert_eq!(got, want, "user {user}: {totals:?}");
    }
    // Request mode sends no session of the whole process.
    let singles = server
        .requests()
        .iter()
        .flat_map(|request| request.envelope().items)
        .filter(|(header, _)| header["type"] == "session")
        .count();
    drop(guard);
    assert_eq!(singles, 0);
    assert!(
        session_aggregates(&server).len() == items.len(),
        "nothing was left for the shutdown"
    );
}

#[test]
fn request_sessions_never_take_the_room_of_errors_and_dropped_requests_count() {
    let _serial = serial();
    // The first envelope is answered slowly, holding the worker while requests end.
    let server = TestServer::start(|_, i| {
        if i == 0 {
            support::Reply::Trickle {
                per_byte: Duration::from_millis(10),
            }
        } else {
            support::Reply::ok()
        }
    });
    let guard = faultline::try_init(
        ClientOptions::new()
            .dsn(server.dsn("k", 1))
            .spool_dir(None)
            .release("shop@2.0.0")
            .session_mode(faultline::SessionMode::Request),
    )
    .unwrap();
    faultline::capture_message("hold the worker", faultline::Level::Error);
    server.wait_for_requests(1, Duration::from_secs(10));
    let runtime = runtime();
    let addr = serve(&runtime);
    let threads: Vec<_> = (0..200)
        .map(|_| {
            std::thread::spawn(move || {
                client()
                    .get(format!("http://{addr}/"))
                    .call()
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), 200);
    }
    // The default queue (100) still has room for errors: sessions are counted without it.
    for i in 0..10 {
        let err = std::io::Error::other(format!("after the burst {i}"));
        assert!(!faultline::capture_error(&err).is_nil(), "{i}");
    }

    // A request whose future is dropped before it ends (a client gone, a timeout) is counted too.
    async fn stuck() -> &'static str {
        faultline::capture_error(&std::io::Error::other("then stuck"));
        std::future::pending::<()>().await;
        "never"
    }
    let mut service = Router::new()
        .route("/stuck", get(stuck))
        .layer(faultline::integrations::tower::layer());
    let local = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for _ in 0..5 {
        let request = axum::http::Request::get("/stuck")
            .body(axum::body::Body::empty())
            .unwrap();
        let call = tower_service::Service::call(&mut service, request);
        let timed_out =
            local.block_on(async { tokio::time::timeout(Duration::from_millis(20), call).await });
        assert!(timed_out.is_err());
    }
    assert!(faultline::flush(Duration::from_secs(20)));
    drop(guard);
    drop(runtime);
    let mut exited = 0;
    let mut errored = 0;
    for item in session_aggregates(&server) {
        for bucket in item["aggregates"].as_array().unwrap() {
            exited += bucket.get("exited").map_or(0, |n| n.as_u64().unwrap());
            errored += bucket.get("errored").map_or(0, |n| n.as_u64().unwrap());
        }
    }
    assert_eq!(exited, 200);
    assert_eq!(errored, 5, "the dropped requests, each with its error");
}

#[test]
fn with_metrics_on_each_request_records_its_duration_by_route_and_status() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(
        ClientOptions::new()
            .dsn(server.dsn("k", 1))
            .spool_dir(None)
            .auto_session_tracking(false)
            .enable_metrics(true),
    )
    .unwrap();
    let runtime = runtime();
    let addr = serve(&runtime);
    for path in ["/", "/", "/fail/1", "/fail/2", "/unavailable"] {
        client().get(format!("http://{addr}{path}")).call().unwrap();
    }
    assert!(faultline::flush(Duration::from_secs(20)));
    drop(guard);
    drop(runtime);
    let measurements: Vec<Value> = server
        .requests()
        .iter()
        .flat_map(|request| request.envelope().items)
        .filter(|(header, _)| header["type"] == "trace_metric")
        .flat_map(|(_, payload)| {
            let payload: Value = serde_json::from_slice(&payload).unwrap();
            payload["items"].as_array().unwrap().clone()
        })
        .filter(|m| m["name"] == "http.server.request.duration")
        .collect();
    assert_eq!(measurements.len(), 5, "one per request");
    let mut by_route = BTreeMap::<(String, i64), usize>::new();
    for m in &measurements {
        assert_eq!(m["type"], "distribution");
        assert_eq!(m["unit"], "second");
        assert!(m["value"].as_f64().unwrap() > 0.0);
        assert_eq!(m["attributes"]["http.request.method"]["value"], "GET");
        let route = m["attributes"]["http.route"]["value"]
            .as_str()
            .unwrap()
            .to_owned();
        let status = m["attributes"]["http.response.status_code"]["value"]
            .as_i64()
            .unwrap();
        if status >= 500 {
            assert_eq!(m["attributes"]["error.type"]["value"], status.to_string());
        }
        assert_eq!(m["trace_id"].as_str().unwrap().len(), 32);
        *by_route.entry((route, status)).or_default() += 1;
    }
    let want: BTreeMap<(String, i64), usize> = [
        (("/".to_owned(), 200), 2),
        (("/fail/{id}".to_owned(), 500), 2),
        (("/unavailable".to_owned(), 503), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(by_route, want);
}
