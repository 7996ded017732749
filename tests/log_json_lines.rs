//! `Logger::json_lines`: `log` records as ECS JSON lines, in a test binary of its own because it installs the
//! process's one global logger: a `faultline` logger around a recording one, writing `Info` and up to a sink in a
//! temporary directory. No test initialises the SDK: the lines must not need it. Records are told apart by target.
#![cfg(feature = "log")]

mod support;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use faultline::integrations::log::Logger;
use faultline::sink::JsonLinesSink;
use log::{LevelFilter, Log, Metadata, Record};
use serde_json::Value;
use support::ConfigError;

/// The application's own logger: wants `Warn` and up, records every record it is given.
struct Recording(Mutex<Vec<(String, String)>>);

impl Log for Recording {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &Record<'_>) {
        self.0
            .lock()
            .unwrap()
            .push((record.target().to_owned(), record.args().to_string()));
    }

    fn flush(&self) {}
}

static INNER: Recording = Recording(Mutex::new(Vec::new()));

/// Installs the logger once; returns the sink's file.
fn install() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let sink = JsonLinesSink::builder(dir.join("app.log"))
            .service("jsonlog-test", "1.0.0", "test")
            .build()
            .unwrap();
        let path = sink.path().to_path_buf();
        let logger = Logger::new(&INNER).json_lines(Arc::new(sink), LevelFilter::Info);
        log::set_logger(Box::leak(Box::new(logger))).unwrap();
        log::set_max_level(LevelFilter::Trace);
        path
    })
}

/// The lines written for `target`, each parsed; fails on a line that is not JSON.
fn lines(target: &str) -> Vec<Value> {
    std::fs::read_to_string(install())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .filter(|line| line["log.logger"] == target)
        .collect()
}

fn received(target: &str) -> Vec<String> {
    INNER
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| t == target)
        .map(|(_, m)| m.clone())
        .collect()
}

#[test]
fn records_at_or_above_the_level_become_ecs_lines() {
    install();
    log::trace!(target: "levels", "t");
    log::debug!(target: "levels", "d");
    log::info!(target: "levels", "i {}", 1);
    log::warn!(target: "levels", "w");
    log::error!(target: "levels", "e");

    let lines = lines("levels");
    let written: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l["log.level"].as_str().unwrap(),
                l["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(written, [("info", "i 1"), ("warning", "w"), ("error", "e")]);
    for line in &lines {
        assert!(
            line["@timestamp"].as_str().unwrap().ends_with('Z'),
            "{line}"
        );
        assert_eq!(line["ecs.version"], "8.11.0");
        assert_eq!(line["log.origin.file.name"], "tests/log_json_lines.rs");
        assert!(line["log.origin.file.line"].as_u64().unwrap() > 0);
        assert_eq!(line["service.name"], "jsonlog-test");
        assert_eq!(line["process.pid"], std::process::id());
        assert!(line.get("event.id").is_none(), "a log line is not an event");
        assert!(line.get("labels").is_none(), "no key-values");
    }
    assert_eq!(
        received("levels"),
        ["t", "d", "i 1", "w", "e"],
        "the wrapped logger gets every record"
    );
}

#[test]
fn key_values_become_labels_and_an_error_the_error_fields() {
    install();
    let err = ConfigError("x".parse::<u16>().unwrap_err());
    log::warn!(target: "kv", error:err = err, attempt = 3, host = "db1", ratio = 0.5; "loading failed");
    std::thread::Builder::new()
        .name("loader".into())
        .spawn(|| log::info!(target: "kv", "from a thread"))
        .unwrap()
        .join()
        .unwrap();

    let lines = lines("kv");
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let line = &lines[0];
    assert_eq!(line["message"], "loading failed");
    assert_eq!(line["error.type"], "ConfigError");
    assert_eq!(line["error.message"], "bad config");
    assert_eq!(
        line["error.chain"],
        serde_json::json!(["ParseIntError: invalid digit found in string"])
    );
    assert_eq!(
        line["labels"],
        serde_json::json!({"attempt": "3", "host": "db1", "ratio": "0.5"}),
        "stringified, without the error"
    );
    assert_eq!(lines[1]["process.thread.name"], "loader");
    assert_eq!(received("kv"), ["loading failed", "from a thread"]);
}

#[test]
fn the_sdks_own_and_the_http_stacks_records_are_not_written() {
    install();
    log::warn!(target: "ureq::pool", "connection reset");
    log::error!(target: "faultline::worker", "sending failed");
    log::warn!(target: "rustls::conn", "close notify");
    for target in ["ureq::pool", "faultline::worker", "rustls::conn"] {
        assert!(lines(target).is_empty(), "{target}");
        assert_eq!(
            received(target).len(),
            1,
            "{target} reaches the wrapped logger"
        );
    }
}

#[test]
fn enabled_accounts_for_the_json_level() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(
        JsonLinesSink::builder(dir.path().join("app.log"))
            .build()
            .unwrap(),
    );
    let metadata = |level, target| Metadata::builder().level(level).target(target).build();
    // The SDK is not initialised and the wrapped logger wants nothing: only the JSON level counts.
    let logger = Logger::standalone()
        .breadcrumb_level(LevelFilter::Off)
        .event_level(LevelFilter::Off)
        .json_lines(sink, LevelFilter::Info);
    assert!(logger.enabled(&metadata(log::Level::Info, "app")));
    assert!(logger.enabled(&metadata(log::Level::Error, "app")));
    assert!(!logger.enabled(&metadata(log::Level::Debug, "app")));
    assert!(!logger.enabled(&metadata(log::Level::Error, "ureq::pool")));
    let without = Logger::standalone()
        .breadcrumb_level(LevelFilter::Off)
        .event_level(LevelFilter::Off);
    assert!(!without.enabled(&metadata(log::Level::Error, "app")));
}
