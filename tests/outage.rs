//! Delivery through outages, against a loopback server that fails on purpose: a 5xx outage while the program
//! flushes in a loop, a server that cannot be reached for longer than the whole retry schedule, and poison
//! envelopes that the server refuses while it accepts the others. Nothing is given up because the server is down;
//! only an envelope the server refuses is.
//!
//! Every test installs the process-wide client, so they take turns through `serial()`. The shutdown diagnostics
//! are read from a child process (this binary again, `child_*` tests do nothing unless started so).

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use faultline::{ClientOptions, Level};
use support::{Reply, Request, TestServer, serial, unused_addr};

fn options(dsn: &str, spool: &std::path::Path) -> ClientOptions {
    ClientOptions::new()
        .dsn(dsn)
        .spool_dir(Some(spool.to_path_buf()))
        .shutdown_timeout(Duration::from_secs(2))
        .http_timeout(Duration::from_secs(2))
}

/// The message of the event in `request`, if it carries one.
fn message(request: &Request) -> Option<String> {
    let event = request.envelope().event()?;
    let message = event["logentry"]["formatted"]
        .as_str()
        .or_else(|| event["message"].as_str())?;
    Some(message.to_owned())
}

/// The messages of the events that the server accepted (answered with `accepted`), without repeats.
fn messages(requests: &[Request]) -> BTreeSet<String> {
    requests.iter().filter_map(message).collect()
}

#[test]
fn a_5xx_outage_with_a_flush_loop_loses_nothing() {
    let _serial = serial();
    let spool = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let during_outage = Arc::new(AtomicUsize::new(0));
    let server = {
        let during_outage = Arc::clone(&during_outage);
        TestServer::start(move |_, _| {
            if started.elapsed() < Duration::from_secs(10) {
                during_outage.fetch_add(1, Ordering::Relaxed);
                Reply::status(503)
            } else {
                Reply::ok()
            }
        })
    };
    let guard = faultline::try_init(options(&server.dsn("k", 1), spool.path())).unwrap();
    let mut want = BTreeSet::new();
    let deadline = started + Duration::from_secs(60);
    let mut i = 0;
    // Capture 50 events, one per flush, then keep flushing until the server has them all.
    while Instant::now() < deadline {
        if i < 50 {
            let text = format!("outage {i}");
            faultline::capture_message(&text, Level::Error);
            want.insert(text);
            i += 1;
        }
        if faultline::flush(Duration::from_millis(50)) && i == 50 {
            break;
        }
    }
    let received = messages(&server.requests());
    assert_eq!(received, want, "every event arrived after the recovery");
    let stats = faultline::stats();
    assert_eq!(
        (stats.send_error, stats.cache_overflow, stats.sent),
        (0, 0, 50),
        "none given up: {stats:?}"
    );
    let during_outage = during_outage.load(Ordering::Relaxed);
    println!("{during_outage} requests during the 10 s outage");
    assert!(
        (1..=20).contains(&during_outage),
        "{during_outage} requests during the 10 s outage"
    );
    drop(guard);
}

#[test]
fn a_server_unreachable_for_longer_than_the_retry_schedule_gets_everything_when_it_opens() {
    let _serial = serial();
    let spool = tempfile::tempdir().unwrap();
    // Nothing listens here until the server starts: every connection is refused.
    let addr = unused_addr();
    let dsn = format!("http://k@{addr}/1");
    // Pauses of at most 200 ms: in 3 s closed, at least 15 failed probes in a row, past the 8 attempts that the
    // schedule once allowed an envelope.
    let guard = faultline::try_init(
        options(&dsn, spool.path()).max_retry_delay(Duration::from_millis(200)),
    )
    .unwrap();
    let mut want = BTreeSet::new();
    for i in 0..50 {
        let text = format!("closed {i}");
        faultline::capture_message(&text, Level::Error);
        want.insert(text);
    }
    let closed_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < closed_until {
        assert!(!faultline::flush(Duration::from_millis(50)));
    }
    assert_eq!(faultline::stats().send_error, 0);
    let server = TestServer::start_at(addr, |_, _| Reply::ok());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !faultline::flush(Duration::from_millis(50)) && Instant::now() < deadline {}
    assert_eq!(messages(&server.requests()), want, "every event arrived");
    let stats = faultline::stats();
    assert_eq!(
        (
            stats.send_error,
            stats.cache_overflow,
            stats.network_error,
            stats.sent
        ),
        (0, 0, 0, 50),
        "{stats:?}"
    );
    drop(guard);
}

#[test]
fn an_envelope_the_server_refuses_is_given_up_and_the_others_arrive() {
    let _serial = serial();
    let spool = tempfile::tempdir().unwrap();
    let server = TestServer::start(|request, _| {
        if message(request).as_deref() == Some("poison") {
            Reply::status(400)
        } else {
            Reply::ok()
        }
    });
    let guard = faultline::try_init(options(&server.dsn("k", 1), spool.path())).unwrap();
    let mut want = BTreeSet::new();
    for i in 0..10 {
        if i == 5 {
            faultline::capture_message("poison", Level::Error);
        }
        let text = format!("fine {i}");
        faultline::capture_message(&text, Level::Error);
        want.insert(text);
    }
    assert!(faultline::flush(Duration::from_secs(10)));
    let requests = server.requests();
    let poison = requests
        .iter()
        .filter(|r| message(r).as_deref() == Some("poison"))
        .count();
    assert_eq!(poison, 1, "a refused envelope is not sent again");
    want.insert("poison".to_owned());
    assert_eq!(messages(&requests), want);
    let stats = faultline::stats();
    assert_eq!((stats.send_error, stats.sent), (1, 10), "{stats:?}");
    drop(guard);
}

#[test]
fn an_envelope_that_keeps_failing_while_others_are_accepted_is_given_up() {
    let _serial = serial();
    let spool = tempfile::tempdir().unwrap();
    let server = TestServer::start(|request, _| {
        if message(request).as_deref() == Some("poison") {
            Reply::status(500)
        } else {
            Reply::ok()
        }
    });
    let guard = faultline::try_init(options(&server.dsn("k", 1), spool.path())).unwrap();
    faultline::capture_message("poison", Level::Error);
    // A steady trickle of good events, as in a live program: each one the server accepts between two failures of
    // the poison envelope is what makes that failure a strike.
    let mut want = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut i = 0;
    while faultline::stats().send_error == 0 && Instant::now() < deadline {
        let text = format!("fine {i}");
        faultline::capture_message(&text, Level::Error);
        want.insert(text);
        i += 1;
        faultline::flush(Duration::from_millis(100));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while !faultline::flush(Duration::from_millis(100)) && Instant::now() < deadline {}
    let requests = server.requests();
    let poison = requests
        .iter()
        .filter(|r| message(r).as_deref() == Some("poison"))
        .count();
    println!("the poison envelope was tried {poison} times, beside {i} good events");
    // Five strikes after the first failure; early probes by `flush` are free, so there may be a few more.
    assert!(
        (6..=12).contains(&poison),
        "the poison envelope was tried {poison} times"
    );
    want.insert("poison".to_owned());
    assert_eq!(messages(&requests), want, "every other event arrived");
    let stats = faultline::stats();
    assert_eq!(stats.send_error, 1, "{stats:?}");
    assert_eq!(stats.sent, i, "{stats:?}");
    drop(guard);
}

const CHILD: &str = "FAULTLINE_OUTAGE_CHILD_DSN";

#[test]
fn child_shutdown() {
    let Ok(dsn) = std::env::var(CHILD) else {
        return; // Only meaningful when started by the test below.
    };
    let guard = faultline::try_init(
        ClientOptions::new()
            .dsn(dsn)
            .spool_dir(None)
            .debug(true)
            .shutdown_timeout(Duration::from_millis(500))
            .http_timeout(Duration::from_secs(30)),
    )
    .unwrap();
    faultline::capture_message("m", Level::Error);
    drop(guard);
}

/// The SDK's diagnostic lines when a child process captures one event and shuts down against `dsn`.
fn shutdown_diagnostics(dsn: &str) -> Vec<String> {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_shutdown",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, dsn)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    stderr
        .lines()
        .filter(|l| l.starts_with("[faultline]"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn shutdown_says_timed_out_only_when_the_timeout_ran_out() {
    // Down: the worker gives up on the request at once and answers the shutdown in time. The worker ends a moment
    // after it answers, and the wrong message came from looking in that moment, so look several times.
    let dsn = format!("http://k@{}/1", unused_addr());
    for _ in 0..10 {
        let down = shutdown_diagnostics(&dsn);
        assert!(
            !down.iter().any(|l| l.contains("timed out")),
            "{dsn}: {down:#?}"
        );
        assert!(
            down.iter()
                .any(|l| l.contains("not everything could be sent")),
            "{dsn}: {down:#?}"
        );
    }
    // Hanging: the request outlives the shutdown timeout.
    let server = TestServer::start(|_, _| Reply::Hang);
    let hanging = shutdown_diagnostics(&server.dsn("k", 1));
    assert!(
        hanging.iter().any(|l| l.contains("timed out")),
        "server hangs: {hanging:#?}"
    );
}
