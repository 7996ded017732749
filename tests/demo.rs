//! `cargo run --example demo` without `SENTRY_DSN`: the demo exits cleanly although a thread panicked, writes its
//! three events to `events.jsonl` and the events plus its `log` records as ECS lines to `app.log`.
#![cfg(all(feature = "http", feature = "log", feature = "panic"))]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Builds the demo in its own target directory, so the nested cargo never waits on this test's build lock.
fn demo() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target/fixtures");
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--locked",
            "--example",
            "demo",
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the demo failed");
    target.join("debug/examples/demo")
}

fn json_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

#[test]
fn the_demo_writes_its_events_and_log_records() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(demo())
        .env_remove("SENTRY_DSN")
        .env("FAULTLINE_DEMO_DIR", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{:?}\n{stdout}\n{stderr}",
        output.status
    );
    let events_path = dir.path().join("events.jsonl");
    let app_log_path = dir.path().join("app.log");
    for path in [&events_path, &app_log_path] {
        assert!(
            stdout.contains(&*path.to_string_lossy()),
            "stdout names {}:\n{stdout}",
            path.display()
        );
    }

    let events = json_lines(&events_path);
    assert_eq!(events.len(), 3, "{events:#?}");
    let (error, message, panic) = (&events[0], &events[1], &events[2]);

    assert_eq!(error["level"], "error");
    let types: Vec<_> = error["exception"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["ParseIntError", "PortError", "ConfigError"]);

    assert_eq!(message["level"], "warning");
    assert_eq!(message["message"], "invoice run took longer than expected");
    assert_eq!(message["tags"]["component"], "billing");
    assert_eq!(message["tags"]["customer_tier"], "gold");

    assert_eq!(panic["level"], "fatal");
    assert_eq!(
        panic["exception"]["values"][0]["value"],
        "invoice 1042 has no line items"
    );
    assert_eq!(
        panic["exception"]["values"][0]["mechanism"]["handled"],
        false
    );
    assert!(
        panic["threads"]["values"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "invoice-worker" && t["current"] == true),
        "{panic:#}"
    );

    let lines = json_lines(&app_log_path);
    for line in &lines {
        for key in ["@timestamp", "log.level", "message", "ecs.version"] {
            assert!(line[key].is_string(), "{key} in {line}");
        }
        assert_eq!(line["service.name"], "demo", "{line}");
        assert!(line["process.pid"].is_u64(), "{line}");
    }
    // The three events, each once, in order.
    let event_lines: Vec<_> = lines
        .iter()
        .filter(|l| l.get("event.id").is_some())
        .collect();
    let logged: Vec<_> = event_lines
        .iter()
        .map(|l| (&l["event.id"], &l["log.level"]))
        .collect();
    let captured: Vec<_> = events
        .iter()
        .map(|e| (&e["event_id"], &e["level"]))
        .collect();
    assert_eq!(logged, captured);
    assert_eq!(event_lines[0]["error.type"], "ConfigError");
    assert_eq!(event_lines[1]["labels"]["component"], "billing");
    assert_eq!(event_lines[2]["process.thread.name"], "invoice-worker");

    // The `log` records: no event id, the target as the logger, key-values as labels, an error as `error.*`.
    let log_lines: Vec<_> = lines
        .iter()
        .filter(|l| l.get("event.id").is_none())
        .collect();
    assert!(!log_lines.is_empty(), "{lines:#?}");
    for line in &log_lines {
        assert_eq!(line["log.logger"], "demo", "{line}");
        assert!(line["log.origin.file.line"].is_u64(), "{line}");
    }
    let warning = log_lines
        .iter()
        .find(|l| l["log.level"] == "warning")
        .expect("the demo's log::warn! line");
    assert_eq!(warning["error.type"], "ConfigError");
    assert_eq!(
        warning["error.chain"][1],
        "ParseIntError: invalid digit found in string"
    );
    assert!(
        log_lines
            .iter()
            .any(|l| l["log.level"] == "info" && l["labels"]["path"] == "settings.toml"),
        "{log_lines:#?}"
    );
}
