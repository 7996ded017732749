//! A program built optimised with line tables only (tests/fixtures/optimized-app), as a release build that wants
//! file and line in its reports is. There the SDK's generic functions are inlined into the caller, and the debug
//! information names inlined functions without their path (`capture_error<E>`, `panic_fmt`): the SDK's, anyhow's
//! and the panic runtime's frames must still be trimmed from the top of the stack, which must start at the code that
//! failed.

mod support;

use std::process::Command;

use support::TestServer;

/// This crate's source directory, where no reported frame may come from.
const SDK_SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");

fn frames(event: &serde_json::Value) -> Vec<serde_json::Value> {
    let exception = event["exception"]["values"]
        .as_array()
        .unwrap()
        .last()
        .unwrap();
    exception["stacktrace"]["frames"]
        .as_array()
        .unwrap()
        .clone()
}

fn describe(frames: &[serde_json::Value]) -> String {
    frames
        .iter()
        .map(|f| format!("{} ({}:{})\n", f["function"], f["abs_path"], f["lineno"]))
        .collect()
}

/// The most recent frame is `function`, in the fixture's own source and `in_app`, and no frame is the SDK's or backtrace's (the
/// panic runtime's frames below the thread's closure stay: they are where the thread started).
fn assert_starts_at(event: &serde_json::Value, function: &str) {
    let frames = frames(event);
    let top = frames.last().unwrap();
    assert!(
        top["function"].as_str().unwrap().contains(function)
            && top["abs_path"]
                .as_str()
                .unwrap()
                .ends_with("optimized-app/src/main.rs"),
        "the top frame is not `{function}`:\n{}",
        describe(&frames)
    );
    // Started from another directory, as a service is, the program's own frames are still the application's.
    assert_eq!(
        top["in_app"],
        true,
        "the top frame is not in_app:\n{}",
        describe(&frames)
    );
    for frame in &frames {
        let path = frame["abs_path"].as_str().unwrap_or("");
        assert!(
            !path.starts_with(SDK_SOURCE) && !path.contains("/backtrace-0."),
            "a machinery frame was kept:\n{}",
            describe(&frames)
        );
        if path.starts_with("/rustc/") || path.contains("/.cargo/registry/") {
            assert_ne!(
                frame["in_app"],
                true,
                "a library frame is in_app:\n{}",
                describe(&frames)
            );
        }
    }
}

#[test]
fn errors_and_panics_start_at_the_code_that_failed() {
    let server = TestServer::ok();
    let output = Command::new(support::fixture("optimized-app"))
        .env("OPTIMIZED_APP_DSN", server.dsn("k", 1))
        // anyhow captures a backtrace for each error made, which `capture_anyhow` sends as the stack trace.
        .env("RUST_LIB_BACKTRACE", "1")
        // Not the project's directory: in_app must not depend on where the program was started.
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events: Vec<serde_json::Value> = server
        .requests()
        .iter()
        .filter_map(|r| r.envelope().event())
        .collect();
    let error = events
        .iter()
        .find(|e| e["exception"]["values"][0]["value"] == "the order could not be placed")
        .expect("the error's event");
    assert_starts_at(error, "report_failure");
    let anyhow = events
        .iter()
        .find(|e| e["exception"]["values"][1]["value"] == "reading the port")
        .unwrap_or_else(|| panic!("the anyhow error's event in {events:#?}"));
    assert_starts_at(anyhow, "load_config");
    let panic = events
        .iter()
        .find(|e| e["exception"]["values"][0]["mechanism"]["type"] == "panic")
        .unwrap_or_else(|| panic!("the panic's event in {events:#?}"));
    assert_starts_at(panic, "parse_port");
}
