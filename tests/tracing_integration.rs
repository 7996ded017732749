//! The `tracing` integration. Each test sets its subscriber for its own thread only
//! (`tracing::subscriber::with_default`) and captures with a client of its own thread (`with_captured_events`), so
//! nothing global is installed and tests run in parallel.
#![cfg(feature = "tracing")]

mod support;

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use faultline::integrations::tracing::{Layer, layer};
use faultline::test::with_captured_events;
use faultline::{Level, protocol::Event};
use support::ConfigError;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::prelude::*;

/// Runs `f` with a registry and `layer` as this thread's subscriber, capturing what faultline reports.
fn capture_with(layer: Layer, f: impl FnOnce()) -> Vec<Event> {
    let subscriber = tracing_subscriber::registry().with(layer);
    with_captured_events(|| tracing::subscriber::with_default(subscriber, f))
}

fn messages(event: &Event) -> Vec<(&str, Level)> {
    event
        .breadcrumbs
        .iter()
        .map(|c| (c.message.as_deref().unwrap_or(""), c.level))
        .collect()
}

#[test]
fn events_become_breadcrumbs_from_info_and_events_from_error() {
    let events = capture_with(layer(), || {
        tracing::trace!("t");
        tracing::debug!("d");
        tracing::info!(user = 42, ratio = 0.5, admin = false, name = "ada", "i");
        tracing::warn!("w");
        tracing::error!(code = -3, "e {}", 1);
        faultline::capture_message("after", Level::Info);
    });
    assert_eq!(events.len(), 2, "{events:#?}");
    let error = &events[0];
    assert_eq!(error.message.as_deref(), Some("e 1"));
    assert_eq!(error.level, Level::Error);
    assert_eq!(error.logger.as_deref(), Some("tracing_integration"));
    assert_eq!(error.extra["code"], -3);
    assert!(!error.extra.contains_key("message"));
    let context = &error.contexts["tracing"];
    assert_eq!(context["module_path"], "tracing_integration");
    assert_eq!(context["file"], "tests/tracing_integration.rs");
    assert!(context["line"].as_u64().unwrap() > 0);
    assert_eq!(context["spans"], serde_json::json!([]));
    assert_eq!(error.transaction, None, "no span, no transaction");

    assert_eq!(messages(error), [("i", Level::Info), ("w", Level::Warning)]);
    let info = &error.breadcrumbs[0];
    assert_eq!(info.category.as_deref(), Some("tracing_integration"));
    assert_eq!(info.data["user"], 42);
    assert_eq!(info.data["ratio"], 0.5);
    assert_eq!(info.data["admin"], false);
    assert_eq!(info.data["name"], "ada");
    assert_eq!(info.data["file"], "tests/tracing_integration.rs");
    assert_eq!(
        serde_json::to_value(&error.breadcrumbs[1]).unwrap()["level"],
        "warning"
    );
    assert_eq!(
        messages(&events[1]),
        [
            ("i", Level::Info),
            ("w", Level::Warning),
            ("e 1", Level::Error)
        ]
    );
}

#[test]
fn an_error_field_becomes_an_exception_chain() {
    let events = capture_with(layer(), || {
        let err = ConfigError("x".parse::<u16>().unwrap_err());
        tracing::error!(error = &err as &dyn Error, attempt = 3, "loading failed");
        faultline::capture_message("after", Level::Info);
    });
    let event = &events[0];
    let types: Vec<_> = event.exception.iter().map(|e| e.ty.as_str()).collect();
    assert_eq!(types, ["ParseIntError", "ConfigError"]);
    let mechanism = event.exception[1].mechanism.as_ref().unwrap();
    assert_eq!(
        (mechanism.ty.as_str(), mechanism.handled),
        ("tracing", Some(true))
    );
    assert!(event.exception[1].stacktrace.is_some());
    assert_eq!(event.message.as_deref(), Some("loading failed"));
    assert_eq!(event.extra["attempt"], 3);
    assert!(!event.extra.contains_key("error"));
    assert_eq!(events[1].breadcrumbs[0].data["error"], "bad config");
}

#[test]
fn span_names_appear_outermost_first() {
    let events = capture_with(layer(), || {
        let _request = tracing::info_span!("request", id = 7).entered();
        let _db = tracing::debug_span!("db_query").entered();
        tracing::error!("timed out");
        faultline::configure_scope(|scope| scope.set_transaction(Some("GET /users")));
        tracing::error!("timed out again");
    });
    assert_eq!(
        events[0].contexts["tracing"]["spans"],
        serde_json::json!(["request", "db_query"])
    );
    assert_eq!(events[0].transaction.as_deref(), Some("db_query"));
    assert_eq!(
        events[1].transaction.as_deref(),
        Some("GET /users"),
        "the scope's transaction wins"
    );
}

#[test]
fn the_sdks_own_and_the_http_stacks_events_do_not_feed_back() {
    let events = capture_with(layer(), || {
        tracing::error!(target: "ureq::pool", "connection reset");
        tracing::error!(target: "faultline::worker", "sending failed");
        tracing::warn!(target: "rustls::conn", "close notify");
        tracing::error!(target: "ureq_proto", "bad status line");
        faultline::capture_message("after", Level::Info);
    });
    assert_eq!(events.len(), 1, "{events:#?}");
    assert!(events[0].breadcrumbs.is_empty());
}

/// A layer that counts the events it sees, to check faultline's layer filters nothing for the others.
struct Counting(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Counting {
    fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn thresholds_and_ignores_are_configurable_and_other_layers_see_everything() {
    let seen = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry()
        .with(
            layer()
                .breadcrumb_level(LevelFilter::OFF)
                .event_level(tracing::Level::WARN)
                .ignore_target("noisy"),
        )
        .with(Counting(seen.clone()));
    let events = with_captured_events(|| {
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("quiet");
            tracing::warn!("careful");
            tracing::error!(target: "noisy::db", "ignored");
            tracing::error!(target: "ureq::pool", "ignored");
            tracing::error!(target: "noisy_neighbour", "kept");
        })
    });
    let reported: Vec<_> = events
        .iter()
        .map(|e| e.message.as_deref().unwrap())
        .collect();
    assert_eq!(reported, ["careful", "kept"]);
    assert_eq!(
        serde_json::to_value(&events[0]).unwrap()["level"],
        "warning"
    );
    assert!(events.iter().all(|e| e.breadcrumbs.is_empty()));
    assert_eq!(seen.load(Ordering::SeqCst), 5);
}

#[test]
fn fields_of_the_log_bridge_are_left_out_of_the_data() {
    // `tracing-log` passes a `log` record's location as `log.*` fields; the metadata has the location already.
    let events = capture_with(layer(), || {
        tracing::error!(
            log.target = "app",
            log.module_path = "app::db",
            log.line = 7u64,
            id = 1,
            "bridged"
        );
    });
    let keys: Vec<_> = events[0].extra.keys().map(String::as_str).collect();
    assert_eq!(keys, ["id"]);
}

/// A field value that counts how often it is formatted.
struct Probe<'a>(&'a AtomicUsize);

impl fmt::Debug for Probe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fetch_add(1, Ordering::SeqCst);
        f.write_str("probe")
    }
}

#[test]
fn fields_are_not_even_formatted_while_the_sdk_is_disabled() {
    let formatted = AtomicUsize::new(0);
    let emit = || {
        let subscriber = tracing_subscriber::registry().with(layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(probe = ?Probe(&formatted), "failed");
        });
    };
    emit();
    assert_eq!(formatted.load(Ordering::SeqCst), 0);
    let events = with_captured_events(emit);
    assert_eq!(events[0].extra["probe"], "probe");
    assert_eq!(formatted.load(Ordering::SeqCst), 1);
}
