//! Sentry Logs against a loopback server: containers of at most 100 with the right headers, typed attributes and
//! the SDK's own; the 1,001st waiting record counted rather than queued; a `log_item` rate limit that stops logs
//! only; trace and span ids from the current span; `before_send_log`; and nothing at all while logs are off.
#![cfg(feature = "http")]

mod support;

use std::time::Duration;

use faultline::ClientOptions;
use faultline::logs::{LogLevel, Record};
use serde_json::Value;
use support::{Reply, TestServer, discarded, serial};

fn options(server: &TestServer) -> ClientOptions {
    ClientOptions::new()
        .dsn(server.dsn("k", 1))
        .spool_dir(None)
        .release("shop@3.1.0")
        .environment("test")
        .auto_session_tracking(false)
        .enable_logs(true)
}

fn containers(server: &TestServer) -> Vec<(Value, Vec<Value>)> {
    support::containers(server, "log")
}

fn logs(server: &TestServer) -> Vec<Value> {
    support::container_items(server, "log")
}

#[test]
fn a_burst_of_250_goes_in_three_containers_with_typed_attributes() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).server_name("web-7")).unwrap();
    for i in 0..250_u32 {
        faultline::logs::warn!(
            order.id = i,
            vip = i % 2 == 0,
            "order.total" = 12.5,
            "order {} is {} days late",
            i,
            "three"
        );
    }
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let containers = containers(&server);
    let sizes: Vec<usize> = containers.iter().map(|(_, items)| items.len()).collect();
    assert_eq!(sizes, [100, 100, 50]);
    for (header, items) in &containers {
        assert_eq!(header["item_count"], items.len(), "{header}");
        assert_eq!(
            header["content_type"],
            "application/vnd.sentry.items.log+json"
        );
    }
    for request in server.requests() {
        let envelope = request.envelope();
        if envelope.item("log").is_some() {
            let types: Vec<&str> = envelope
                .items
                .iter()
                .map(|(h, _)| h["type"].as_str().unwrap())
                .filter(|t| *t != "client_report")
                .collect();
            assert_eq!(types, ["log"], "one container an envelope");
            assert!(
                envelope.headers.get("trace").is_none(),
                "no DSC on a log envelope"
            );
        }
    }
    let logs = logs(&server);
    let bodies: Vec<&str> = logs.iter().map(|l| l["body"].as_str().unwrap()).collect();
    assert_eq!(bodies[0], "order 0 is three days late");
    assert_eq!(bodies[249], "order 249 is three days late");
    let log = &logs[7];
    assert_eq!(log["level"], "warn");
    assert_eq!(log["severity_number"], 13);
    assert!(log["timestamp"].as_f64().unwrap() > 1.7e9);
    assert_eq!(log["trace_id"].as_str().unwrap().len(), 32);
    assert!(log.get("span_id").is_none(), "no span was current");
    let attributes = &log["attributes"];
    let typed = |key: &str| {
        (
            attributes[key]["type"].clone(),
            attributes[key]["value"].clone(),
        )
    };
    assert_eq!(typed("order.id"), ("integer".into(), 7.into()));
    assert_eq!(typed("vip"), ("boolean".into(), false.into()));
    assert_eq!(typed("order.total"), ("double".into(), 12.5.into()));
    assert_eq!(
        typed("sentry.message.template"),
        ("string".into(), "order {} is {} days late".into())
    );
    assert_eq!(
        typed("sentry.message.parameter.0"),
        ("integer".into(), 7.into())
    );
    assert_eq!(
        typed("sentry.message.parameter.1"),
        ("string".into(), "three".into())
    );
    assert_eq!(
        typed("sentry.release"),
        ("string".into(), "shop@3.1.0".into())
    );
    assert_eq!(
        typed("sentry.environment"),
        ("string".into(), "test".into())
    );
    assert_eq!(
        typed("sentry.sdk.name"),
        ("string".into(), "faultline".into())
    );
    assert_eq!(typed("server.address"), ("string".into(), "web-7".into()));
    assert!(
        attributes.get("sentry.origin").is_none(),
        "the API has no origin"
    );
    assert!(attributes.get("user.id").is_none());
}

#[test]
fn a_plain_message_has_no_template_and_secrets_are_scrubbed() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server)).unwrap();
    faultline::configure_scope(|scope| {
        scope.set_user(Some(faultline::User {
            id: Some("u-1".into()),
            ..Default::default()
        }));
    });
    faultline::logs::info!("cache warmed");
    faultline::logs::error!(
        api_key = "k-123",
        "login failed with password=hunter2 for {}",
        "alice"
    );
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let logs = logs(&server);
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0]["body"], "cache warmed");
    assert!(
        logs[0]["attributes"]
            .get("sentry.message.template")
            .is_none()
    );
    assert_eq!(logs[1]["level"], "error");
    assert_eq!(logs[1]["attributes"]["api_key"]["value"], "[Filtered]");
    let body = logs[1]["body"].as_str().unwrap();
    assert!(!body.contains("hunter2"), "{body}");
    assert!(body.ends_with("for alice"), "{body}");
    assert!(
        logs[1]["attributes"].get("user.id").is_none(),
        "no user without send_default_pii"
    );
}

#[test]
fn a_log_written_inside_a_span_carries_its_trace_and_span() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).traces_sample_rate(1.0)).unwrap();
    let transaction = faultline::start_transaction("import", "task");
    let span = transaction.start_child("db.query", "SELECT 1");
    faultline::configure_scope(|scope| scope.set_span(Some(span.clone().into())));
    faultline::logs::info!(rows = 3, "query returned {} rows", 3);
    faultline::configure_scope(|scope| scope.set_span(None));
    faultline::logs::info!("outside");
    span.finish();
    transaction.finish();
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let logs = logs(&server);
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0]["trace_id"], transaction.trace_id().to_string());
    assert_eq!(logs[0]["span_id"], span.span_id().to_string());
    assert!(logs[1].get("span_id").is_none());
}

#[test]
fn the_1001st_waiting_record_is_counted_not_queued() {
    let _serial = serial();
    // The first request hangs past the HTTP timeout, holding the worker while the records pile up.
    let server = TestServer::start(|_, i| if i == 0 { Reply::Hang } else { Reply::ok() });
    let guard = faultline::try_init(
        options(&server)
            .http_timeout(Duration::from_secs(3))
            .max_retry_delay(Duration::from_millis(200)),
    )
    .unwrap();
    faultline::capture_message("hold the worker", faultline::Level::Error);
    server.wait_for_requests(1, Duration::from_secs(10));
    for i in 0..1001 {
        faultline::logs::info!("record {}", i);
    }
    assert!(faultline::flush(Duration::from_secs(30)));
    drop(guard);
    assert_eq!(logs(&server).len(), 1000);
    assert_eq!(discarded(&server, "buffer_overflow", "log_item"), 1);
    assert!(discarded(&server, "buffer_overflow", "log_byte") > 10);
}

#[test]
fn a_rate_limit_on_log_items_stops_log_requests_only() {
    let _serial = serial();
    let server = TestServer::start(|request, _| {
        if request.envelope().item("log").is_some() {
            Reply::status(429).header("X-Sentry-Rate-Limits", "60:log_item:organization")
        } else {
            Reply::ok()
        }
    });
    let guard = faultline::try_init(options(&server)).unwrap();
    for _ in 0..3 {
        faultline::logs::info!("limited");
        assert!(faultline::flush(Duration::from_secs(10)));
        faultline::capture_message("still sent", faultline::Level::Error);
        assert!(faultline::flush(Duration::from_secs(10)));
    }
    drop(guard);
    let requests = server.requests();
    let with_logs = requests
        .iter()
        .filter(|r| r.envelope().item("log").is_some())
        .count();
    let events = requests
        .iter()
        .filter(|r| r.envelope().event().is_some())
        .count();
    assert_eq!(with_logs, 1, "after the 429 no log request is made");
    assert_eq!(events, 3);
    assert_eq!(discarded(&server, "ratelimit_backoff", "log_item"), 2);
    assert!(discarded(&server, "ratelimit_backoff", "log_byte") > 0);
}

#[test]
fn before_send_log_changes_or_drops_records() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).before_send_log(|mut log| {
        if log.body.contains("noise") {
            return None;
        }
        log.attributes
            .insert("checked".into(), faultline::logs::LogValue::Bool(true));
        Some(log)
    }))
    .unwrap();
    faultline::logs::debug!("noise");
    Record::new(LogLevel::Fatal, "kept").capture();
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let logs = logs(&server);
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["level"], "fatal");
    assert_eq!(logs[0]["attributes"]["checked"]["value"], true);
    assert_eq!(discarded(&server, "before_send", "log_item"), 1);
}

#[test]
fn with_logs_off_nothing_is_sent_and_arguments_are_not_evaluated() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).enable_logs(false)).unwrap();
    let mut evaluated = false;
    faultline::logs::info!("{}", {
        evaluated = true;
        1
    });
    assert!(!evaluated);
    assert!(!faultline::logs::enabled());
    faultline::capture_message("an event", faultline::Level::Error);
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    assert!(!server.requests().is_empty());
    assert!(logs(&server).is_empty());
}

#[cfg(feature = "log")]
#[test]
fn log_records_become_logs_with_their_key_values() {
    use log::Log as _;
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server)).unwrap();
    let logger = faultline::integrations::log::Logger::standalone()
        .breadcrumb_level(log::LevelFilter::Off)
        .event_level(log::LevelFilter::Off);
    let emit = |level: log::Level, text: &str| {
        logger.log(
            &log::Record::builder()
                .level(level)
                .target("shop::cart")
                .file(Some("src/cart.rs"))
                .line(Some(42))
                .args(format_args!("{text}"))
                .key_values(&[("items", 3_i64)])
                .build(),
        );
    };
    emit(log::Level::Warn, "cart is big");
    emit(log::Level::Debug, "below the log level");
    // The SDK's own targets are never reported.
    logger.log(
        &log::Record::builder()
            .level(log::Level::Error)
            .target("ureq::pool")
            .args(format_args!("connection reset"))
            .build(),
    );
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let logs = logs(&server);
    assert_eq!(logs.len(), 1, "{logs:#?}");
    let log = &logs[0];
    assert_eq!(log["level"], "warn");
    assert_eq!(log["body"], "cart is big");
    let attributes = &log["attributes"];
    assert_eq!(attributes["sentry.origin"]["value"], "auto.log.log");
    assert_eq!(attributes["logger.name"]["value"], "shop::cart");
    assert_eq!(attributes["code.file.path"]["value"], "src/cart.rs");
    assert_eq!(attributes["code.line.number"]["type"], "integer");
    assert_eq!(attributes["items"]["type"], "integer");
    assert_eq!(attributes["items"]["value"], 3);
}

#[cfg(feature = "tracing")]
#[test]
fn tracing_events_become_logs_with_the_span_they_happened_in() {
    use tracing_subscriber::prelude::*;
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).traces_sample_rate(1.0)).unwrap();
    let subscriber = tracing_subscriber::registry().with(
        faultline::integrations::tracing::layer()
            .breadcrumb_level(tracing::Level::ERROR)
            .event_level(tracing_subscriber::filter::LevelFilter::OFF),
    );
    let mut sentry_trace = String::new();
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("import").entered();
        tracing::info!(rows = 12_u64, ratio = 0.5, ok = true, "imported the file");
        // `trace-span-sampled` of the entered span.
        sentry_trace = faultline::trace_headers().sentry_trace;
        drop(span);
        tracing::debug!("below the log level");
    });
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let logs = logs(&server);
    assert_eq!(logs.len(), 1, "{logs:#?}");
    let log = &logs[0];
    assert_eq!(log["level"], "info");
    assert_eq!(log["body"], "imported the file");
    let attributes = &log["attributes"];
    assert_eq!(attributes["sentry.origin"]["value"], "auto.log.tracing");
    assert_eq!(attributes["rows"]["type"], "integer");
    assert_eq!(attributes["ratio"]["type"], "double");
    assert_eq!(attributes["ok"]["type"], "boolean");
    let mut parts = sentry_trace.split('-');
    assert_eq!(log["trace_id"], parts.next().unwrap());
    assert_eq!(log["span_id"], parts.next().unwrap(), "the entered span");
}

#[cfg(feature = "log")]
#[test]
fn json_lines_carry_the_trace_and_span_of_the_error_they_belong_with() {
    use log::Log as _;
    let _serial = serial();
    let server = TestServer::ok();
    let dir = tempfile::tempdir().unwrap();
    let sink = std::sync::Arc::new(
        faultline::sink::JsonLinesSink::builder(dir.path().join("app.log"))
            .build()
            .unwrap(),
    );
    let guard = faultline::try_init(options(&server).traces_sample_rate(1.0)).unwrap();
    let logger = faultline::integrations::log::Logger::standalone()
        .json_lines(sink.clone(), log::LevelFilter::Info);
    let transaction = faultline::start_transaction("checkout", "http.server");
    faultline::configure_scope(|scope| scope.set_span(Some(transaction.clone().into())));
    logger.log(
        &log::Record::builder()
            .level(log::Level::Warn)
            .target("shop::pay")
            .args(format_args!("card declined"))
            .build(),
    );
    faultline::capture_error(&std::io::Error::other("payment failed"));
    faultline::configure_scope(|scope| scope.set_span(None));
    transaction.finish();
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let text = std::fs::read_to_string(sink.path()).unwrap();
    let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["trace.id"], transaction.trace_id().to_string());
    assert_eq!(line["span.id"], transaction.span_id().to_string());
    let event = server
        .requests()
        .iter()
        .find_map(|r| r.envelope().event())
        .unwrap();
    assert_eq!(event["contexts"]["trace"]["trace_id"], line["trace.id"]);
    assert_eq!(event["contexts"]["trace"]["span_id"], line["span.id"]);
}
