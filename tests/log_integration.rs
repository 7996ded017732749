//! The `log` integration, in a test binary of its own because it installs the process's one global logger: a
//! `faultline` logger around a recording one. Each test captures with a client of its own thread
//! (`with_captured_events`), so tests running in parallel see only their own events; records are told apart by
//! target.
#![cfg(feature = "log")]

mod support;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

use faultline::integrations::log::Logger;
use faultline::test::{with_captured_events, with_captured_events_options};
use faultline::{ClientOptions, Level};
use log::{LevelFilter, Log, Metadata, Record};
use support::ConfigError;

/// The application's own logger: wants `Warn` and up (like `RUST_LOG=warn`), records every record it is given.
#[derive(Default)]
struct Recording {
    records: Mutex<Vec<(String, log::Level, String)>>,
    flushes: AtomicUsize,
}

impl Recording {
    const fn new() -> Self {
        Recording {
            records: Mutex::new(Vec::new()),
            flushes: AtomicUsize::new(0),
        }
    }

    /// The records it received for `target`, as (level, message).
    fn received(&self, target: &str) -> Vec<(log::Level, String)> {
        self.records
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _, _)| t == target)
            .map(|(_, level, message)| (*level, message.clone()))
            .collect()
    }
}

impl Log for Recording {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &Record<'_>) {
        // Kept whatever its level: the test checks that the wrapper hands on every record.
        self.records.lock().unwrap().push((
            record.target().to_owned(),
            record.level(),
            record.args().to_string(),
        ));
    }

    fn flush(&self) {
        self.flushes.fetch_add(1, Ordering::SeqCst);
    }
}

static INNER: Recording = Recording::new();

fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        log::set_logger(Box::leak(Box::new(Logger::new(&INNER)))).unwrap();
        log::set_max_level(LevelFilter::Trace);
    });
}

#[test]
fn records_become_breadcrumbs_from_info_and_events_from_error() {
    install();
    let events = with_captured_events(|| {
        log::trace!(target: "thresholds", "t");
        log::debug!(target: "thresholds", "d");
        log::info!(target: "thresholds", "i {}", 1);
        log::warn!(target: "thresholds", "w");
        log::error!(target: "thresholds", "e");
        faultline::capture_message("after", Level::Info);
    });
    assert_eq!(events.len(), 2, "{events:#?}");
    let error = &events[0];
    assert_eq!(error.message.as_deref(), Some("e"));
    assert_eq!(error.level, Level::Error);
    assert_eq!(error.logger.as_deref(), Some("thresholds"));
    let context = &error.contexts["log"];
    assert_eq!(context["module_path"], "log_integration");
    assert_eq!(context["file"], "tests/log_integration.rs");
    assert!(context["line"].as_u64().unwrap() > 0);

    let crumbs: Vec<_> = error
        .breadcrumbs
        .iter()
        .map(|c| (c.message.as_deref().unwrap(), c.level))
        .collect();
    assert_eq!(crumbs, [("i 1", Level::Info), ("w", Level::Warning)]);
    let warn = &error.breadcrumbs[1];
    assert_eq!(warn.category.as_deref(), Some("thresholds"));
    assert_eq!(warn.data["module_path"], "log_integration");
    assert_eq!(warn.data["file"], "tests/log_integration.rs");
    assert!(warn.data["line"].as_u64().unwrap() > 0);
    let json = serde_json::to_value(warn).unwrap();
    assert_eq!(json["level"], "warning");

    // The error record is a breadcrumb too, for the events that come after it (not inside its own event).
    let later: Vec<_> = events[1]
        .breadcrumbs
        .iter()
        .filter_map(|c| c.message.as_deref())
        .collect();
    assert_eq!(later, ["i 1", "w", "e"]);
}

#[test]
fn the_wrapped_logger_receives_every_record() {
    install();
    with_captured_events(|| {
        log::trace!(target: "every_record", "t");
        log::debug!(target: "every_record", "d");
        log::info!(target: "every_record", "i");
        log::warn!(target: "every_record", "w");
        log::error!(target: "every_record", "e");
    });
    // And with the SDK disabled.
    log::error!(target: "every_record", "disabled");
    let messages: Vec<_> = INNER
        .received("every_record")
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    assert_eq!(messages, ["t", "d", "i", "w", "e", "disabled"]);
}

#[test]
fn the_sdks_own_and_the_http_stacks_records_do_not_feed_back() {
    install();
    let events = with_captured_events(|| {
        log::error!(target: "ureq::pool", "connection reset");
        log::error!(target: "faultline::worker", "sending failed");
        log::warn!(target: "rustls::conn", "close notify");
        log::error!(target: "ureq_proto::client", "bad status line");
        faultline::capture_message("after", Level::Info);
    });
    assert_eq!(events.len(), 1, "{events:#?}");
    assert!(
        events[0].breadcrumbs.is_empty(),
        "{:#?}",
        events[0].breadcrumbs
    );
    for target in [
        "ureq::pool",
        "faultline::worker",
        "rustls::conn",
        "ureq_proto::client",
    ] {
        assert_eq!(
            INNER.received(target).len(),
            1,
            "{target} reaches the wrapped logger"
        );
    }
}

#[test]
fn an_error_key_value_becomes_an_exception_chain() {
    install();
    let events = with_captured_events(|| {
        let err = ConfigError("x".parse::<u16>().unwrap_err());
        log::error!(target: "kv", error:err = err, attempt = 3, host = "db1"; "loading failed");
        faultline::capture_message("after", Level::Info);
    });
    let event = &events[0];
    let types: Vec<_> = event.exception.iter().map(|e| e.ty.as_str()).collect();
    assert_eq!(types, ["ParseIntError", "ConfigError"]);
    assert_eq!(event.exception[1].value.as_deref(), Some("bad config"));
    let mechanism = event.exception[1].mechanism.as_ref().unwrap();
    assert_eq!(
        (mechanism.ty.as_str(), mechanism.handled),
        ("log", Some(true))
    );
    assert!(
        event.exception[1].stacktrace.is_some(),
        "the logging thread's stack"
    );
    assert_eq!(event.message.as_deref(), Some("loading failed"));
    assert_eq!(event.extra["attempt"], 3);
    assert_eq!(event.extra["host"], "db1");
    assert!(
        !event.extra.contains_key("error"),
        "the error is in the exceptions"
    );

    let crumb = &events[1].breadcrumbs[0];
    assert_eq!(crumb.data["error"], "bad config");
    assert_eq!(crumb.data["attempt"], 3);
}

#[test]
fn thresholds_and_the_ignore_list_are_configurable() {
    let logger = Logger::standalone()
        .breadcrumb_level(LevelFilter::Debug)
        .event_level(LevelFilter::Warn)
        .ignore_target("noisy");
    let record = |level, target: &'static str, message: &'static str| {
        logger.log(
            &Record::builder()
                .level(level)
                .target(target)
                .args(format_args!("{message}"))
                .build(),
        );
    };
    let events = with_captured_events(|| {
        record(log::Level::Trace, "app", "trace");
        record(log::Level::Debug, "app", "debug");
        record(log::Level::Warn, "app", "careful");
        record(log::Level::Error, "noisy::db", "ignored");
        record(log::Level::Error, "noisy_neighbour", "not ignored");
    });
    let messages: Vec<_> = events
        .iter()
        .map(|e| e.message.as_deref().unwrap())
        .collect();
    assert_eq!(messages, ["careful", "not ignored"]);
    assert_eq!(
        serde_json::to_value(&events[0]).unwrap()["level"],
        "warning"
    );
    let crumbs: Vec<_> = events[0]
        .breadcrumbs
        .iter()
        .map(|c| (c.message.as_deref().unwrap(), c.level))
        .collect();
    assert_eq!(crumbs, [("debug", Level::Debug)]);

    let quiet = Logger::standalone()
        .breadcrumb_level(LevelFilter::Off)
        .event_level(LevelFilter::Off);
    let events = with_captured_events(|| {
        quiet.log(
            &Record::builder()
                .level(log::Level::Error)
                .args(format_args!("x"))
                .build(),
        );
        faultline::capture_message("after", Level::Info);
    });
    assert_eq!(events.len(), 1);
    assert!(events[0].breadcrumbs.is_empty());
}

#[test]
fn enabled_when_either_logger_wants_the_record() {
    let logger = Logger::new(Recording::default());
    let metadata = |level, target| Metadata::builder().level(level).target(target).build();
    // SDK disabled: only the wrapped logger's filter counts.
    assert!(logger.enabled(&metadata(log::Level::Warn, "app")));
    assert!(!logger.enabled(&metadata(log::Level::Info, "app")));
    with_captured_events(|| {
        assert!(
            logger.enabled(&metadata(log::Level::Info, "app")),
            "a breadcrumb"
        );
        assert!(
            !logger.enabled(&metadata(log::Level::Debug, "app")),
            "nobody wants it"
        );
        assert!(
            !logger.enabled(&metadata(log::Level::Info, "ureq::pool")),
            "ignored"
        );
        assert!(
            logger.enabled(&metadata(log::Level::Warn, "ureq::pool")),
            "the inner logger"
        );
    });
}

#[test]
fn flush_reaches_the_wrapped_logger() {
    install();
    let before = INNER.flushes.load(Ordering::SeqCst);
    log::logger().flush();
    assert!(INNER.flushes.load(Ordering::SeqCst) > before);
    let own = Logger::new(Recording::default());
    own.flush();
    assert_eq!(own.inner().flushes.load(Ordering::SeqCst), 1);
    Logger::standalone().flush();
}

/// A message argument that counts how often it is formatted.
struct Probe<'a>(&'a AtomicUsize);

impl fmt::Display for Probe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fetch_add(1, Ordering::SeqCst);
        f.write_str("probe")
    }
}

#[test]
fn records_are_not_even_formatted_while_the_sdk_is_disabled() {
    // A wrapped logger that never formats, so every formatting is the integration's.
    let logger = Logger::standalone();
    let formatted = AtomicUsize::new(0);
    let log_error = || {
        logger.log(
            &Record::builder()
                .level(log::Level::Error)
                .args(format_args!("{}", Probe(&formatted)))
                .build(),
        )
    };
    log_error();
    assert_eq!(formatted.load(Ordering::SeqCst), 0);
    let events = with_captured_events(log_error);
    assert_eq!(events[0].message.as_deref(), Some("probe"));
    assert_eq!(
        formatted.load(Ordering::SeqCst),
        1,
        "formatted once for event and breadcrumb"
    );
}

#[test]
fn records_logged_by_a_callback_are_not_reported_again() {
    install();
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let options = ClientOptions::new().before_breadcrumb(|crumb| {
        // Without the guard this would recurse: stop after a few rounds so a regression fails rather than hangs.
        if CALLS.fetch_add(1, Ordering::SeqCst) < 3 {
            log::warn!(target: "callback", "seen {:?}", crumb.message);
        }
        Some(crumb)
    });
    let events = with_captured_events_options(options, || {
        log::info!(target: "callback_source", "hello");
        faultline::capture_message("after", Level::Info);
    });
    let crumbs: Vec<_> = events[0]
        .breadcrumbs
        .iter()
        .filter_map(|c| c.message.as_deref())
        .collect();
    assert_eq!(crumbs, ["hello"]);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(INNER.received("callback").len(), 1, "still logged");
}
