//! A program built with `panic = "abort"` (tests/fixtures/abort-app) reports its panic before it dies, or, when
//! the server is down, leaves it in the spool for the next process to send.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{Reply, TestServer, dsn_at, unused_addr};

fn run(dsn: &str, spool: &Path) -> (std::process::ExitStatus, String) {
    let output = Command::new(support::fixture("abort-app"))
        .env("ABORT_APP_DSN", dsn)
        .env("ABORT_APP_SPOOL", spool)
        .output()
        .unwrap();
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn panic_events(server: &TestServer) -> Vec<serde_json::Value> {
    server
        .requests()
        .iter()
        .filter_map(|r| r.envelope().event())
        .filter(|e| e["level"] == "fatal")
        .collect()
}

fn assert_is_the_abort_panic(event: &serde_json::Value) {
    let exception = &event["exception"]["values"][0];
    assert_eq!(exception["value"], "the settings have no port");
    assert_eq!(exception["mechanism"]["handled"], false);
    let frames = exception["stacktrace"]["frames"].as_array().unwrap();
    assert!(
        frames
            .iter()
            .any(|f| f["function"] == "abort_app::load_settings" && f["in_app"] == true),
        "{frames:#?}"
    );
}

#[test]
fn the_panic_arrives_before_the_process_aborts() {
    let server = TestServer::ok();
    let spool = tempfile::tempdir().unwrap();
    let (status, _) = run(&server.dsn("k", 1), spool.path());
    assert!(!status.success(), "the fixture aborts");
    let events = panic_events(&server);
    assert_eq!(events.len(), 1, "{:?}", server.requests());
    assert_is_the_abort_panic(&events[0]);
}

#[test]
fn with_the_server_down_the_next_start_sends_it() {
    let addr = unused_addr();
    let dsn = dsn_at(addr, "k", 1);
    let spool = tempfile::tempdir().unwrap();
    let (status, stdout) = run(&dsn, spool.path());
    assert!(!status.success(), "the fixture aborts");
    let first_id = stdout.trim().to_owned();
    assert_eq!(first_id.len(), 32, "{stdout}");

    let server = TestServer::start_at(addr, |_, _| Reply::ok());
    let guard = faultline::try_init(
        faultline::ClientOptions::new()
            .dsn(dsn.as_str())
            .spool_dir(Some(spool.path().to_path_buf())),
    )
    .unwrap();
    assert!(faultline::flush(Duration::from_secs(30)));
    let events = panic_events(&server);
    assert_eq!(events.len(), 1, "{:?}", server.requests());
    assert_is_the_abort_panic(&events[0]);
    let all: Vec<_> = server
        .requests()
        .iter()
        .filter_map(|r| r.envelope().event())
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        all.contains(&first_id),
        "the message captured before the crash was kept too"
    );
    drop(guard);
}
