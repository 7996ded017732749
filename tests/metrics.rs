//! Sentry Metrics against a loopback server: `trace_metric` containers of at most 100 with the right headers, the
//! SDK's attributes, trace and span ids from the current span, `before_send_metric`, a rate limit on the
//! `trace_metric` category that stops metric requests only, and nothing at all while metrics are off.
#![cfg(feature = "http")]

mod support;

use std::time::Duration;

use faultline::ClientOptions;
use serde_json::Value;
use support::{Reply, TestServer, discarded, serial};

fn options(server: &TestServer) -> ClientOptions {
    ClientOptions::new()
        .dsn(server.dsn("k", 1))
        .spool_dir(None)
        .release("shop@3.1.0")
        .environment("test")
        .auto_session_tracking(false)
        .enable_metrics(true)
}

fn containers(server: &TestServer) -> Vec<(Value, Vec<Value>)> {
    support::containers(server, "trace_metric")
}

fn metrics(server: &TestServer) -> Vec<Value> {
    support::container_items(server, "trace_metric")
}

#[test]
fn two_hundred_and_fifty_measurements_go_in_containers_of_a_hundred() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).server_name("web-7")).unwrap();
    for i in 0..250_u32 {
        match i % 3 {
            0 => faultline::metrics::counter("orders.placed", 1)
                .attribute("region", "eu")
                .capture(),
            1 => faultline::metrics::gauge("queue.depth", i)
                .unit("item")
                .capture(),
            _ => faultline::metrics::distribution("checkout.duration", 12.5 + f64::from(i))
                .unit("millisecond")
                .attribute("vip", i % 2 == 0)
                .capture(),
        }
    }
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let containers = containers(&server);
    let sizes: Vec<usize> = containers.iter().map(|(_, items)| items.len()).collect();
    assert_eq!(sizes, [100, 100, 50]);
    for (header, items) in &containers {
        assert_eq!(header["item_count"], items.len());
        assert_eq!(
            header["content_type"],
            "application/vnd.sentry.items.trace-metric+json"
        );
    }
    for request in server.requests() {
        let envelope = request.envelope();
        if envelope.item("trace_metric").is_some() {
            let others = envelope
                .items
                .iter()
                .filter(|(h, _)| {
                    !matches!(h["type"].as_str(), Some("trace_metric" | "client_report"))
                })
                .count();
            assert_eq!(others, 0, "alone in its envelope");
            assert!(envelope.headers.get("trace").is_none(), "no DSC");
        }
    }
    let metrics = metrics(&server);
    let counter = &metrics[0];
    assert_eq!(counter["type"], "counter");
    assert_eq!(counter["name"], "orders.placed");
    assert_eq!(counter["value"], 1.0);
    assert!(counter.get("unit").is_none());
    assert_eq!(counter["trace_id"].as_str().unwrap().len(), 32);
    assert!(counter.get("span_id").is_none());
    let attributes = &counter["attributes"];
    assert_eq!(attributes["region"]["value"], "eu");
    assert_eq!(attributes["sentry.release"]["value"], "shop@3.1.0");
    assert_eq!(attributes["sentry.environment"]["value"], "test");
    assert_eq!(attributes["sentry.sdk.name"]["value"], "faultline");
    assert_eq!(attributes["server.address"]["value"], "web-7");
    let gauge = &metrics[1];
    assert_eq!(
        (gauge["type"].as_str(), gauge["unit"].as_str()),
        (Some("gauge"), Some("item"))
    );
    assert_eq!(gauge["value"], 1.0);
    let distribution = &metrics[2];
    assert_eq!(distribution["type"], "distribution");
    assert_eq!(distribution["value"], 14.5);
    assert_eq!(distribution["attributes"]["vip"]["type"], "boolean");
}

#[test]
fn a_measurement_inside_a_span_carries_its_trace_and_span() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).traces_sample_rate(1.0)).unwrap();
    let transaction = faultline::start_transaction("import", "task");
    faultline::configure_scope(|scope| scope.set_span(Some(transaction.clone().into())));
    faultline::metrics::distribution("rows.imported", 12).capture();
    faultline::configure_scope(|scope| scope.set_span(None));
    transaction.finish();
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let metrics = metrics(&server);
    assert_eq!(metrics.len(), 1);
    assert_eq!(metrics[0]["trace_id"], transaction.trace_id().to_string());
    assert_eq!(metrics[0]["span_id"], transaction.span_id().to_string());
}

#[test]
fn before_send_metric_changes_or_drops_one() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).before_send_metric(|mut metric| {
        if metric.name == "noise" {
            return None;
        }
        metric.value *= 2.0;
        Some(metric)
    }))
    .unwrap();
    faultline::metrics::counter("noise", 1).capture();
    faultline::metrics::counter("kept", 3).capture();
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let metrics = metrics(&server);
    assert_eq!(metrics.len(), 1);
    assert_eq!(metrics[0]["name"], "kept");
    assert_eq!(metrics[0]["value"], 6.0);
    assert_eq!(discarded(&server, "before_send", "trace_metric"), 1);
}

#[test]
fn a_rate_limit_on_metrics_stops_metric_requests_only() {
    let _serial = serial();
    let server = TestServer::start(|request, _| {
        if request.envelope().item("trace_metric").is_some() {
            Reply::status(429).header("X-Sentry-Rate-Limits", "60:trace_metric:organization")
        } else {
            Reply::ok()
        }
    });
    let guard = faultline::try_init(options(&server)).unwrap();
    for _ in 0..3 {
        faultline::metrics::counter("limited", 1).capture();
        assert!(faultline::flush(Duration::from_secs(10)));
        faultline::capture_message("still sent", faultline::Level::Error);
        assert!(faultline::flush(Duration::from_secs(10)));
    }
    drop(guard);
    let requests = server.requests();
    let with_metrics = requests
        .iter()
        .filter(|r| r.envelope().item("trace_metric").is_some())
        .count();
    let events = requests
        .iter()
        .filter(|r| r.envelope().event().is_some())
        .count();
    assert_eq!(with_metrics, 1, "after the 429 no metric request is made");
    assert_eq!(events, 3);
    assert_eq!(discarded(&server, "ratelimit_backoff", "trace_metric"), 2);
}

#[test]
fn with_metrics_off_nothing_is_sent() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).enable_metrics(false)).unwrap();
    assert!(!faultline::metrics::enabled());
    faultline::metrics::counter("ignored", 1).capture();
    faultline::capture_message("an event", faultline::Level::Error);
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    assert!(!server.requests().is_empty());
    assert!(metrics(&server).is_empty());
}

#[test]
fn metric_attributes_are_scrubbed_like_log_attributes() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server)).unwrap();
    faultline::metrics::counter("logins", 1)
        .attribute("api_key", "k-123")
        .attribute("note", "password=hunter2")
        .capture();
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let metrics = metrics(&server);
    assert_eq!(metrics[0]["attributes"]["api_key"]["value"], "[Filtered]");
    let note = metrics[0]["attributes"]["note"]["value"].as_str().unwrap();
    assert!(!note.contains("hunter2"), "{note}");
}
