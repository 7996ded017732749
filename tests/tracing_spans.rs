//! `tracing` spans as faultline spans, against a loopback server: nested `#[instrument]` functions give one
//! transaction with the parent links of the call tree, fields become data, `sentry.*` fields override, and an error
//! captured inside a span points at it.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use faultline::ClientOptions;
use serde_json::Value;
use support::{TestServer, serial};
use tracing::instrument;
use tracing_subscriber::prelude::*;

/// The SDK sending to `server` at `traces_sample_rate` `rate`.
fn init(server: &TestServer, rate: f64) -> faultline::InitGuard {
    faultline::try_init(
        ClientOptions::new()
            .dsn(server.dsn("k", 1))
            .spool_dir(None)
            .traces_sample_rate(rate),
    )
    .unwrap()
}

fn subscriber() -> impl tracing::Subscriber {
    tracing_subscriber::registry().with(faultline::integrations::tracing::layer())
}

#[instrument(fields(sentry.op = "http.server", sentry.name = "GET /orders/{id}"))]
fn handle(id: u64) {
    load(id);
    render(id);
}

#[instrument]
fn load(id: u64) {
    query("SELECT * FROM orders WHERE id = ?");
}

#[instrument(fields(sentry.op = "db.query", rows = tracing::field::Empty))]
fn query(sql: &str) {
    tracing::Span::current().record("rows", 1);
}

#[instrument]
fn render(id: u64) {
    let err = "x".parse::<u16>().unwrap_err();
    tracing::error!(error = &err as &dyn std::error::Error, "template failed");
}

#[test]
fn nested_instrumented_functions_give_one_transaction() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = init(&server, 1.0);
    tracing::subscriber::with_default(subscriber(), || handle(7));
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);

    let requests = server.requests();
    let transactions: Vec<Value> = requests
        .iter()
        .filter_map(|r| {
            let envelope = r.envelope();
            envelope
                .item("transaction")
                .map(|(_, p)| serde_json::from_slice(p).unwrap())
        })
        .collect();
    assert_eq!(transactions.len(), 1, "one transaction for the whole call");
    let t = &transactions[0];
    assert_eq!(t["transaction"], "GET /orders/{id}");
    let trace = &t["contexts"]["trace"];
    assert_eq!(trace["op"], "http.server");
    assert_eq!(trace["data"]["id"], 7);
    let spans: BTreeMap<&str, &Value> = t["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["description"].as_str().unwrap(), s))
        .collect();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    assert_eq!(spans["load"]["parent_span_id"], trace["span_id"]);
    assert_eq!(spans["render"]["parent_span_id"], trace["span_id"]);
    assert_eq!(spans["query"]["parent_span_id"], spans["load"]["span_id"]);
    assert_eq!(spans["query"]["op"], "db.query");
    assert_eq!(spans["load"]["op"], "load");
    assert_eq!(spans["query"]["data"]["rows"], 1, "recorded later");
    assert_eq!(
        spans["query"]["data"]["sql"],
        "SELECT * FROM orders WHERE id = ?"
    );

    let event = requests
        .iter()
        .find_map(|r| r.envelope().event())
        .expect("the error event");
    assert_eq!(event["contexts"]["trace"]["trace_id"], trace["trace_id"]);
    assert_eq!(
        event["contexts"]["trace"]["span_id"], spans["render"]["span_id"],
        "the error points at the span it happened in"
    );
}

#[test]
fn a_sentry_trace_field_continues_a_trace() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = init(&server, 0.0);
    tracing::subscriber::with_default(subscriber(), || {
        let span = tracing::info_span!(
            "request",
            sentry.trace = "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-1"
        );
        let _entered = span.enter();
        let headers = faultline::trace_headers();
        assert!(
            headers
                .sentry_trace
                .starts_with("771a43a4192642f0b136d5159a501700-"),
            "{headers:?}"
        );
    });
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let continued = server
        .requests()
        .iter()
        .find_map(|r| {
            r.envelope()
                .item("transaction")
                .map(|(_, p)| serde_json::from_slice::<Value>(p).unwrap())
        })
        .expect("sampled by the parent's decision, though the rate is 0");
    assert_eq!(
        continued["contexts"]["trace"]["parent_span_id"],
        "b7ad6b7169203331"
    );
}
