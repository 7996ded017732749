//! OTLP/HTTP export of log records and error events to a loopback collector. Every request body is checked against
//! the official OpenTelemetry protobuf definitions: `scripts/otlp-validate.py` parses it strictly into an
//! `ExportLogsServiceRequest` with the `opentelemetry-proto` package, which `scripts/otlp-proto` installs into a
//! virtualenv under `target/` on first use.
#![cfg(feature = "otlp")]

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use faultline::ClientOptions;
use faultline::transport::{OtlpOptions, OtlpTransport};
use serde_json::Value;
use support::{Reply, TestServer, serial};

/// The virtualenv's python with `opentelemetry-proto`, installed once by the project's script.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let output = Command::new(root.join("scripts/otlp-proto"))
            .arg("python")
            .output()
            .expect("run scripts/otlp-proto");
        assert!(
            output.status.success(),
            "scripts/otlp-proto python failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
    })
}

/// Validates an OTLP/JSON body of `kind` with the official definitions: the summary, or the validator's complaint.
fn validate(kind: &str, body: &[u8]) -> Result<Value, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/otlp-validate.py");
    let mut child = Command::new(python())
        .arg(script)
        .args(["--kind", kind])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let output = child.wait_with_output().unwrap();
    if output.status.success() {
        Ok(serde_json::from_slice(&output.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// The log records of every request the collector received at `/v1/logs`, each body checked first.
fn received_records(server: &TestServer) -> Vec<Value> {
    records_of(&server.requests())
}

/// The log records of `requests` to `/v1/logs`, each body checked first.
fn records_of(requests: &[support::Request]) -> Vec<Value> {
    let mut records = Vec::new();
    for request in requests {
        if request.path != "/v1/logs" {
            assert!(matches!(
                request.path.as_str(),
                "/v1/traces" | "/v1/metrics"
            ));
            continue;
        }
        assert_eq!(request.header("content-type"), Some("application/json"));
        let body = request.decoded_body();
        let summary = validate("logs", &body)
            .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&body)));
        assert_eq!(summary["ok"], true);
        let json: Value = serde_json::from_slice(&body).unwrap();
        for resource in json["resourceLogs"].as_array().unwrap() {
            for scope in resource["scopeLogs"].as_array().unwrap() {
                records.extend(scope["logRecords"].as_array().unwrap().iter().cloned());
            }
        }
    }
    records
}

fn attribute<'a>(record: &'a Value, key: &str) -> &'a Value {
    record["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv["key"] == key)
        .map_or(&Value::Null, |kv| &kv["value"])
}

fn exporter(server: &TestServer) -> Arc<OtlpTransport> {
    let mut options = OtlpOptions::new(&server.url());
    options.service_name = Some("shop".into());
    options.service_version = Some("3.1.0".into());
    options.environment = Some("test".into());
    options.headers = vec![("x-api-key".into(), "secret".into())];
    Arc::new(OtlpTransport::new(options))
}

#[test]
fn the_validator_refuses_what_the_definitions_refuse() {
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/otlp/logs-valid.json"
    ))
    .unwrap();
    assert!(validate("logs", &fixture).is_ok());
    let text = String::from_utf8(fixture).unwrap();
    let unknown = text.replacen("\"severityNumber\"", "\"severityNumbr\"", 1);
    assert!(validate("logs", unknown.as_bytes()).is_err());
    let short_id = text.replacen("\"traceId\": \"", "\"traceId\": \"0", 1);
    assert!(validate("logs", short_id.as_bytes()).is_err());
}

#[test]
fn logs_and_an_error_reach_the_collector_in_the_official_schema() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(
        ClientOptions::new()
            .transport(exporter(&server))
            .release("shop@3.1.0")
            .auto_session_tracking(false)
            .traces_sample_rate(1.0)
            .enable_logs(true),
    )
    .unwrap();
    faultline::logs::info!(
        order.id = 7,
        vip = true,
        ratio = 0.25,
        "order {} shipped",
        7
    );
    let transaction = faultline::start_transaction("checkout", "task");
    faultline::configure_scope(|scope| scope.set_span(Some(transaction.clone().into())));
    faultline::logs::warn!("card declined");
    let err = "x1".parse::<u8>().unwrap_err();
    faultline::capture_error(&err);
    faultline::configure_scope(|scope| scope.set_span(None));
    transaction.finish();
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);

    let requests = server.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.header("x-api-key") == Some("secret"))
    );
    let body: Value = serde_json::from_slice(&requests[0].decoded_body()).unwrap();
    let resource = &body["resourceLogs"][0]["resource"]["attributes"];
    let resource_attribute = |key: &str| {
        resource
            .as_array()
            .unwrap()
            .iter()
            .find(|kv| kv["key"] == key)
            .map(|kv| kv["value"]["stringValue"].clone())
    };
    assert_eq!(resource_attribute("service.name"), Some("shop".into()));
    assert_eq!(resource_attribute("service.version"), Some("3.1.0".into()));
    assert_eq!(
        resource_attribute("deployment.environment.name"),
        Some("test".into())
    );

    let records = received_records(&server);
    assert_eq!(records.len(), 3, "{records:#?}");
    let shipped = records
        .iter()
        .find(|r| r["body"]["stringValue"] == "order 7 shipped")
        .unwrap();
    assert_eq!(shipped["severityNumber"], 9);
    assert_eq!(attribute(shipped, "order.id")["intValue"], "7");
    assert_eq!(attribute(shipped, "vip")["boolValue"], true);
    assert_eq!(attribute(shipped, "ratio")["doubleValue"], 0.25);
    assert!(shipped.get("spanId").is_none());
    let declined = records
        .iter()
        .find(|r| r["body"]["stringValue"] == "card declined")
        .unwrap();
    assert_eq!(declined["severityNumber"], 13);
    assert_eq!(declined["traceId"], transaction.trace_id().to_string());
    assert_eq!(declined["spanId"], transaction.span_id().to_string());
    let error = records
        .iter()
        .find(|r| attribute(r, "exception.type") != &Value::Null)
        .unwrap();
    assert_eq!(error["severityNumber"], 17);
    assert_eq!(
        attribute(error, "exception.type")["stringValue"],
        "ParseIntError"
    );
    assert_eq!(
        attribute(error, "exception.message")["stringValue"],
        "invalid digit found in string"
    );
    let stack = attribute(error, "exception.stacktrace")["stringValue"]
        .as_str()
        .unwrap();
    assert!(
        stack.contains("otlp::logs_and_an_error_reach_the_collector"),
        "{stack}"
    );
    assert_eq!(
        error["traceId"], declined["traceId"],
        "the error and the log share the trace"
    );
}

#[test]
fn retryable_answers_are_retried_final_ones_are_not_and_partial_successes_counted() {
    let _serial = serial();
    // 503 with Retry-After, then a partial success; a 400 for the record marked "bad".
    let server = TestServer::start(|request, i| {
        if String::from_utf8_lossy(&request.decoded_body()).contains("bad record") {
            Reply::status(400)
        } else if i == 0 {
            Reply::status(503).header("Retry-After", "1")
        } else {
            Reply::ok()
                .body(r#"{"partialSuccess":{"rejectedLogRecords":"1","errorMessage":"too old"}}"#)
        }
    });
    let exporter = exporter(&server);
    let guard = faultline::try_init(
        ClientOptions::new()
            .transport(exporter.clone())
            .auto_session_tracking(false)
            .enable_logs(true),
    )
    .unwrap();
    faultline::logs::info!("good record");
    // A flush does not knock while the server's Retry-After runs: keep flushing until it has gone.
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while !faultline::flush(Duration::from_millis(500)) {
        assert!(std::time::Instant::now() < until, "never delivered");
        std::thread::sleep(Duration::from_millis(100));
    }
    faultline::logs::info!("bad record");
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let bodies: Vec<String> = server
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.decoded_body()).into_owned())
        .collect();
    let good = bodies.iter().filter(|b| b.contains("good record")).count();
    let bad = bodies.iter().filter(|b| b.contains("bad record")).count();
    assert_eq!(good, 2, "the 503 was retried once");
    assert_eq!(bad, 1, "a 400 is final");
    assert_eq!(exporter.rejected_records(), 1);
}

#[test]
fn init_exports_to_the_endpoint_the_environment_names() {
    let _serial = serial();
    let server = TestServer::ok();
    // SAFETY: every test of this binary holds the serial lock, and none reads the environment meanwhile but init.
    unsafe {
        std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", server.url());
        std::env::set_var("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20t0k");
        std::env::set_var("OTEL_RESOURCE_ATTRIBUTES", "k8s.pod.name=shop-7f9c");
    }
    let guard = faultline::try_init(
        ClientOptions::new()
            .release("shop@3.1.0")
            .environment("test")
            .auto_session_tracking(false)
            .enable_logs(true),
    );
    // SAFETY: as above.
    unsafe {
        std::env::remove_var("OTEL_EXPORTER_OTLP_ENDPOINT");
        std::env::remove_var("OTEL_EXPORTER_OTLP_HEADERS");
        std::env::remove_var("OTEL_RESOURCE_ATTRIBUTES");
    }
    let guard = guard.unwrap();
    assert!(
        faultline::is_enabled(),
        "an OTLP endpoint alone enables the SDK"
    );
    faultline::logs::info!("from the environment");
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let requests = server.requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|r| r.header("authorization") == Some("Bearer t0k"))
    );
    let records = received_records(&server);
    assert_eq!(records[0]["body"]["stringValue"], "from the environment");
    let body: Value = serde_json::from_slice(&requests[0].decoded_body()).unwrap();
    let resource = body["resourceLogs"][0]["resource"]["attributes"]
        .as_array()
        .unwrap();
    let value_of = |key: &str| {
        resource
            .iter()
            .find(|kv| kv["key"] == key)
            .map(|kv| kv["value"]["stringValue"].clone())
    };
    assert_eq!(value_of("k8s.pod.name"), Some("shop-7f9c".into()));
    assert_eq!(
        value_of("service.name"),
        Some("shop".into()),
        "from the release"
    );
    assert_eq!(value_of("service.version"), Some("3.1.0".into()));
}

#[test]
fn a_transaction_with_nested_spans_keeps_every_parent_link() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(
        ClientOptions::new()
            .transport(exporter(&server))
            .release("shop@3.1.0")
            .auto_session_tracking(false)
            .traces_sample_rate(1.0),
    )
    .unwrap();
    let transaction = faultline::start_transaction("GET /orders/{id}", "http.server");
    transaction.set_tag("region", "eu");
    let load = transaction.start_child("db.query", "SELECT * FROM orders");
    load.set_data("rows", 3);
    let decode = load.start_child("serialize", "decode rows");
    decode.finish();
    load.finish();
    let fetch = transaction.start_child("http.client", "GET https://pay.example/status");
    fetch.set_status(faultline::SpanStatus::DeadlineExceeded);
    fetch.finish();
    transaction.set_status(faultline::SpanStatus::Ok);
    transaction.finish();
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);

    let traces: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/traces")
        .collect();
    assert_eq!(traces.len(), 1, "{:?}", server.requests());
    let body = traces[0].decoded_body();
    let summary = validate("traces", &body)
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&body)));
    assert_eq!(summary["spans"], 4);
    assert_eq!(summary["root_spans"], 1);
    assert_eq!(summary["parent_links"], 3, "{summary}");
    assert_eq!(summary["broken_parent_links"], serde_json::json!([]));
    let json: Value = serde_json::from_slice(&body).unwrap();
    let spans = json["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .unwrap();
    let by_name = |name: &str| spans.iter().find(|s| s["name"] == name).unwrap();
    let root = by_name("GET /orders/{id}");
    assert_eq!(root["kind"], 2, "server");
    assert_eq!(root["status"]["code"], 1);
    assert_eq!(root["spanId"], transaction.span_id().to_string());
    assert_eq!(root["traceId"], transaction.trace_id().to_string());
    assert!(root.get("parentSpanId").is_none());
    assert_eq!(attribute(root, "region")["stringValue"], "eu");
    let query = by_name("SELECT * FROM orders");
    assert_eq!(query["kind"], 3, "client");
    assert_eq!(query["parentSpanId"], root["spanId"]);
    assert_eq!(attribute(query, "rows")["intValue"], "3");
    assert_eq!(by_name("decode rows")["parentSpanId"], query["spanId"]);
    let slow = by_name("GET https://pay.example/status");
    assert_eq!(slow["status"]["code"], 2);
    assert_eq!(slow["status"]["message"], "deadline_exceeded");
}

#[test]
fn beside_a_server_the_collector_has_its_own_retries_and_loses_nothing() {
    let _serial = serial();
    let sentry = TestServer::ok();
    // The collector is unavailable for its first two requests.
    let collector = TestServer::start(|_, i| {
        if i < 2 {
            Reply::status(503).header("Retry-After", "1")
        } else {
            Reply::ok()
        }
    });
    let spool = tempfile::tempdir().unwrap();
    let guard = faultline::try_init(
        ClientOptions::new()
            .dsn(sentry.dsn("k", 1))
            .otlp(OtlpOptions::new(&collector.url()))
            .spool_dir(Some(spool.path().to_path_buf()))
            .auto_session_tracking(false)
            .enable_logs(true),
    )
    .unwrap();
    faultline::logs::info!("first record");
    faultline::capture_error(&std::io::Error::other("first error"));
    assert!(
        sentry.wait_for_requests(2, Duration::from_secs(10)).len() >= 2,
        "the server is not held up by the collector"
    );
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while !faultline::flush(Duration::from_millis(500)) {
        assert!(std::time::Instant::now() < until, "never delivered");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(guard);
    let at_sentry = sentry.requests();
    assert!(at_sentry.iter().any(|r| r.envelope().event().is_some()));
    assert!(at_sentry.iter().any(|r| r.envelope().item("log").is_some()));
    let requests = collector.requests();
    assert!(requests.len() >= 3, "retried after the 503s");
    let records = records_of(&requests[2..]);
    let bodies: Vec<&str> = records
        .iter()
        .filter_map(|r| r["body"]["stringValue"].as_str())
        .collect();
    assert!(bodies.contains(&"first record"), "{bodies:?}");
    assert!(bodies.contains(&"first error"), "{bodies:?}");
    assert_eq!(records.len(), 2, "each once: {bodies:?}");
    assert!(
        spool.path().join("otlp").is_dir(),
        "the collector's own spool"
    );
}

#[test]
fn metrics_become_sums_gauges_and_histograms_with_exemplars() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(
        ClientOptions::new()
            .transport(exporter(&server))
            .release("shop@3.1.0")
            .auto_session_tracking(false)
            .traces_sample_rate(1.0)
            .enable_metrics(true),
    )
    .unwrap();
    for n in [2, 3, 5] {
        faultline::metrics::counter("orders.placed", n)
            .attribute("region", "eu")
            .capture();
    }
    faultline::metrics::counter("orders.placed", 7)
        .attribute("region", "us")
        .capture();
    faultline::metrics::gauge("queue.depth", 9)
        .unit("item")
        .capture();
    faultline::metrics::gauge("queue.depth", 4)
        .unit("item")
        .capture();
    let transaction = faultline::start_transaction("checkout", "task");
    faultline::configure_scope(|scope| scope.set_span(Some(transaction.clone().into())));
    let durations = [3.0, 12.0, 12.0, 80.0, 400.0, 20000.0];
    for d in durations {
        faultline::metrics::distribution("checkout.duration", d)
            .unit("ms")
            .capture();
    }
    faultline::configure_scope(|scope| scope.set_span(None));
    transaction.finish();
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);

    let exports: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/metrics")
        .collect();
    assert_eq!(exports.len(), 1, "one container, one export");
    let body = exports[0].decoded_body();
    let summary = validate("metrics", &body)
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&body)));
    assert_eq!(summary["metrics"], 3, "{summary}");
    let json: Value = serde_json::from_slice(&body).unwrap();
    let metrics = json["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
        .as_array()
        .unwrap();
    let named = |name: &str| metrics.iter().find(|m| m["name"] == name).unwrap();

    let orders = &named("orders.placed")["sum"];
    assert_eq!(orders["aggregationTemporality"], 1, "delta");
    assert_eq!(orders["isMonotonic"], true);
    let points = orders["dataPoints"].as_array().unwrap();
    let by_region = |region: &str| {
        points
            .iter()
            .find(|p| attribute(p, "region")["stringValue"] == region)
            .unwrap()["asDouble"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(by_region("eu"), 10.0, "2 + 3 + 5");
    assert_eq!(by_region("us"), 7.0);

    let depth = named("queue.depth");
    assert_eq!(depth["unit"], "item");
    assert_eq!(
        depth["gauge"]["dataPoints"][0]["asDouble"], 4.0,
        "the last value"
    );

    let histogram = &named("checkout.duration")["histogram"]["dataPoints"][0];
    let count: u64 = histogram["count"].as_str().unwrap().parse().unwrap();
    assert_eq!(count, durations.len() as u64);
    let buckets: u64 = histogram["bucketCounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(buckets, count, "bucket counts sum to the count");
    assert_eq!(
        histogram["sum"].as_f64().unwrap(),
        durations.iter().sum::<f64>()
    );
    assert_eq!(histogram["max"], 20000.0);
    let exemplars = histogram["exemplars"].as_array().unwrap();
    assert!(!exemplars.is_empty());
    for exemplar in exemplars {
        assert_eq!(exemplar["traceId"], transaction.trace_id().to_string());
        assert_eq!(exemplar["spanId"], transaction.span_id().to_string());
    }
}

#[test]
fn a_slow_collector_does_not_hold_up_the_server() {
    let _serial = serial();
    let sentry = TestServer::ok();
    // Every answer takes about two seconds, a byte at a time.
    let collector = TestServer::start(|_, _| Reply::Trickle {
        per_byte: Duration::from_millis(25),
    });
    let guard = faultline::try_init(
        ClientOptions::new()
            .dsn(sentry.dsn("k", 1))
            .otlp(OtlpOptions::new(&collector.url()))
            .spool_dir(None)
            .auto_session_tracking(false)
            .shutdown_timeout(Duration::from_secs(1)),
    )
    .unwrap();
    for i in 0..5 {
        faultline::capture_error(&std::io::Error::other(format!("error {i}")));
    }
    // Five answers in a row from the collector take about ten seconds; the server's five come well before.
    let at_sentry = sentry.wait_for_requests(5, Duration::from_secs(5));
    let events = at_sentry
        .iter()
        .filter(|r| r.envelope().event().is_some())
        .count();
    assert_eq!(
        events, 5,
        "the server's deliveries do not wait for the collector"
    );
    drop(guard);
}
