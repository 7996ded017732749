//! `debug: true` diagnostics: they are written to stderr, and never contain the DSN's keys or event contents.
//! The SDK runs in a child process (this test binary, re-run with an environment variable) so its stderr can be read.

mod support;

use std::process::Command;
use std::time::Duration;

use faultline::{ClientOptions, Level};
use support::{Reply, TestServer};

const CHILD: &str = "FAULTLINE_DEBUG_CHILD_DSN";

#[test]
fn child_process() {
    let Ok(dsn) = std::env::var(CHILD) else {
        return; // Only meaningful when started by the test below.
    };
    // A spool directory that cannot exist (under a regular file): reported at start-up, whatever `debug` says.
    let blocker =
        std::env::temp_dir().join(format!("faultline-debug-output-{}", std::process::id()));
    std::fs::write(&blocker, b"x").unwrap();
    let guard = faultline::try_init(
        ClientOptions::new()
            .spool_dir(Some(blocker.join("spool")))
            .dsn(dsn)
            .debug(true)
            .queue_size(1)
            .shutdown_timeout(Duration::from_millis(300))
            .http_timeout(Duration::from_secs(1)),
    )
    .unwrap();
    faultline::capture_message("payload-marker-1", Level::Error);
    faultline::flush(Duration::from_secs(5));
    faultline::capture_message("payload-marker-2", Level::Error);
    faultline::flush(Duration::from_secs(5));
    for i in 0..20 {
        faultline::capture_message(&format!("payload-marker-burst-{i}"), Level::Error);
    }
    drop(guard);
    let _ = std::fs::remove_file(&blocker);
    drop(faultline::init(
        "https://pubkey0123456789:topsecret99@host/not-a-number",
    ));
}

#[test]
fn diagnostics_never_contain_keys_or_payloads() {
    let server = TestServer::start(|_, i| match i {
        0 => Reply::status(500),
        1 => Reply::status(429).header("Retry-After", "30"),
        _ => Reply::Hang,
    });
    let dsn = server.dsn("pubkey0123456789", 3).replacen(
        "pubkey0123456789@",
        "pubkey0123456789:topsecret99@",
        1,
    );
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &dsn)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let lines: Vec<_> = stderr
        .lines()
        .filter(|l| l.starts_with("[faultline]"))
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("500")),
        "the rejected request is reported: {stderr}"
    );
    assert!(lines.iter().any(|l| l.contains("rate limited")), "{stderr}");
    assert!(lines.iter().any(|l| l.contains("queue full")), "{stderr}");
    assert!(
        stderr.contains("faultline: invalid DSN: project id is not a number"),
        "{stderr}"
    );
    for secret in ["topsecret99", "pubkey0123456789", "payload-marker"] {
        assert!(!stderr.contains(secret), "{secret} leaked into: {stderr}");
    }
}
