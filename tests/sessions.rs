//! Release health in application mode: a child process (tests/fixtures/session-app) that exits cleanly, one that
//! panics and one that is killed with SIGKILL give `exited`, `crashed` and, at the next start, `abnormal`; every
//! update is checked against the session rules of the protocol. In-process tests check which captures count as
//! errors, and that a rate limit on sessions drops them counted.
#![cfg(all(feature = "http", feature = "panic"))]

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use support::{Reply, TestServer, dsn_at, serial, unused_addr};

fn child(dsn: &str, spool: &Path, end: &str) -> Command {
    let mut command = Command::new(support::fixture("session-app"));
    command
        .env("SESSION_APP_DSN", dsn)
        .env("SESSION_APP_SPOOL", spool)
        .env("SESSION_APP_END", end)
        .env_remove("SENTRY_RELEASE")
        .env_remove("SENTRY_DSN");
    command
}

/// Runs the fixture to its end; returns its exit status and the id of the error it captured.
fn run(dsn: &str, spool: &Path, end: &str) -> (std::process::ExitStatus, String) {
    let output = child(dsn, spool, end).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let id = stdout.lines().next().unwrap_or_default().to_owned();
    (output.status, id)
}

/// The `session` items the server received, in order, each with the event ids of its envelope.
fn session_updates(server: &TestServer) -> Vec<(Value, Vec<String>)> {
    let mut updates = Vec::new();
    for request in server.requests() {
        let envelope = request.envelope();
        let events: Vec<String> = envelope
            .event()
            .map(|e| e["event_id"].as_str().unwrap().to_owned())
            .into_iter()
            .collect();
        for (header, payload) in &envelope.items {
            if header["type"] == "session" {
                updates.push((serde_json::from_slice(payload).unwrap(), events.clone()));
            }
        }
    }
    updates
}

/// Parses RFC 3339 UTC text as written by the SDK or Relay (`2026-11-23T10:05:00.000000Z`) into Unix seconds.
fn rfc3339_secs(text: &str) -> f64 {
    let b = text.as_bytes();
    assert!(
        text.ends_with('Z') && b.len() >= 20 && b[10] == b'T',
        "not RFC 3339 UTC: {text}"
    );
    let num = |r: std::ops::Range<usize>| text[r].parse::<i64>().unwrap();
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    // Days from civil (Howard Hinnant), independent of the SDK's own code.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let frac: f64 = text[19..text.len() - 1]
        .strip_prefix('.')
        .map_or(0.0, |f| format!("0.{f}").parse().unwrap());
    (days * 86_400 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19)) as f64 + frac
}

/// Checks one `session` payload against the rules of `protocol-details.md` section 6 (Relay's session schema):
/// the known fields only, a dashed UUID `sid`, `started` and `timestamp` as RFC 3339 strings (numbers are
/// rejected), `timestamp >= started` and not in the future, a known status, `errors >= 1` once crashed, a
/// non-negative duration, and a release.
fn assert_valid_session(update: &Value) {
    let object = update.as_object().expect("an object");
    for key in object.keys() {
        assert!(
            [
                "sid",
                "did",
                "seq",
                "init",
                "started",
                "timestamp",
                "duration",
                "status",
                "errors",
                "attrs",
                "abnormal_mechanism"
            ]
            .contains(&key.as_str()),
            "unknown field {key}: {update}"
        );
    }
    let sid = update["sid"].as_str().expect("sid");
    assert_eq!(sid.len(), 36, "{sid}");
    assert!(
        sid.chars()
            .enumerate()
            .all(|(i, c)| if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }),
        "{sid}"
    );
    assert!(update["init"].is_boolean(), "{update}");
    let started = rfc3339_secs(update["started"].as_str().expect("started is a string"));
    let timestamp = rfc3339_secs(update["timestamp"].as_str().expect("timestamp is a string"));
    assert!(timestamp >= started, "{update}");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(timestamp <= now + 60.0, "not in the future: {update}");
    assert!(
        now - started < 5.0 * 86_400.0,
        "within Relay's five days: {update}"
    );
    let status = update["status"].as_str().unwrap();
    assert!(
        ["ok", "exited", "crashed", "abnormal"].contains(&status),
        "{update}"
    );
    let errors = update["errors"].as_u64().expect("errors");
    if status == "crashed" {
        assert!(errors >= 1, "{update}");
    }
    if let Some(duration) = update.get("duration") {
        assert!(duration.as_f64().unwrap() >= 0.0, "{update}");
    }
    assert_eq!(update["attrs"]["release"], "session-app@1.0.0");
    assert_eq!(update["attrs"]["environment"], "test");
    assert_eq!(update["did"], "user-7");
}

/// Checks a process's updates: all valid, one session id, `init` on the first only, and exactly one terminal
/// update, the last, with `status`.
fn assert_one_session_ending(updates: &[Value], status: &str) {
    assert!(!updates.is_empty());
    for update in updates {
        assert_valid_session(update);
        assert_eq!(update["sid"], updates[0]["sid"], "{updates:#?}");
    }
    let inits: Vec<bool> = updates.iter().map(|u| u["init"] == true).collect();
    assert!(inits[0], "{updates:#?}");
    assert!(!inits[1..].iter().any(|i| *i), "{updates:#?}");
    let (last, before) = updates.split_last().unwrap();
    assert_eq!(last["status"], status, "{updates:#?}");
    assert!(before.iter().all(|u| u["status"] == "ok"), "{updates:#?}");
}

#[test]
fn a_clean_exit_sends_the_error_with_an_update_and_ends_exited() {
    let server = TestServer::ok();
    let spool = tempfile::tempdir().unwrap();
    let (status, error_id) = run(&server.dsn("k", 1), spool.path(), "exit");
    assert!(status.success(), "{status:?}");
    let updates = session_updates(&server);
    let (payloads, envelopes): (Vec<Value>, Vec<Vec<String>>) = updates.into_iter().unzip();
    assert_eq!(payloads.len(), 2, "{payloads:#?}");
    assert_one_session_ending(&payloads, "exited");
    // The first update, counting the handled error, rode with the error's event.
    assert_eq!(payloads[0]["errors"], 1);
    assert_eq!(envelopes[0], [error_id]);
    assert_eq!(payloads[1]["errors"], 1);
    assert!(payloads[1]["duration"].as_f64().is_some());
    assert!(envelopes[1].is_empty(), "the last update goes alone");
    assert_no_running_session_left(spool.path());
}

#[test]
fn a_panic_ends_the_session_crashed_in_the_panic_events_envelope() {
    let server = TestServer::ok();
    let spool = tempfile::tempdir().unwrap();
    let (status, _) = run(&server.dsn("k", 1), spool.path(), "panic");
    assert_eq!(status.code(), Some(101), "the panic unwinds out of main");
    let updates = session_updates(&server);
    let payloads: Vec<Value> = updates.iter().map(|(u, _)| u.clone()).collect();
    assert_one_session_ending(&payloads, "crashed");
    assert_eq!(payloads.last().unwrap()["errors"], 1, "the handled error");
    let fatal: Vec<String> = server
        .requests()
        .iter()
        .filter_map(|r| r.envelope().event())
        .filter(|e| e["level"] == "fatal")
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fatal.len(), 1);
    assert_eq!(updates.last().unwrap().1, fatal, "in the panic's envelope");
    assert_no_running_session_left(spool.path());
}

#[cfg(target_os = "linux")]
#[test]
fn a_killed_process_is_reported_abnormal_at_the_next_start() {
    let addr = unused_addr();
    let dsn = dsn_at(addr, "k", 1);
    let server = TestServer::start_at(addr, |_, _| Reply::ok());
    let spool = tempfile::tempdir().unwrap();
    let mut hung = child(&dsn, spool.path(), "hang")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(hung.stdout.take().unwrap()).lines();
    let error_id = lines.next().unwrap().unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    hung.kill().unwrap(); // SIGKILL
    let status = hung.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    let first = session_updates(&server);
    assert_eq!(first.len(), 1, "the update with the error: {first:#?}");
    assert_eq!(first[0].1, [error_id]);
    let sid = first[0].0["sid"].clone();

    let (status, _) = run(&dsn, spool.path(), "exit");
    assert!(status.success());
    let updates = session_updates(&server);
    let killed: Vec<Value> = updates
        .iter()
        .map(|(u, _)| u.clone())
        .filter(|u| u["sid"] == sid)
        .collect();
    assert_one_session_ending(&killed, "abnormal");
    let abnormal = killed.last().unwrap();
    assert_eq!(abnormal["errors"], 1, "{abnormal}");
    assert!(abnormal["duration"].as_f64().unwrap() >= 0.0);
    let next: Vec<Value> = updates
        .iter()
        .map(|(u, _)| u.clone())
        .filter(|u| u["sid"] != sid)
        .collect();
    assert_one_session_ending(&next, "exited");
    assert_eq!(
        updates
            .iter()
            .filter(|(u, _)| u["status"] == "abnormal")
            .count(),
        1,
        "reported once"
    );
    assert_no_running_session_left(spool.path());
}

fn assert_no_running_session_left(spool: &Path) {
    let left: Vec<_> = std::fs::read_dir(spool.join("sessions"))
        .map(|dir| dir.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

/// The last `session` update the server got, after the client is dropped.
fn last_update(server: &TestServer) -> Value {
    session_updates(server)
        .pop()
        .map(|(update, _)| update)
        .expect("a session update")
}

#[test]
fn handled_errors_count_and_messages_do_not() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(
        faultline::ClientOptions::new()
            .dsn(server.dsn("k", 1))
            .spool_dir(None)
            .release("session-app@1.0.0")
            .environment("test"),
    )
    .unwrap();
    faultline::capture_message("just saying", faultline::Level::Error);
    faultline::capture_error(&std::io::Error::other("one"));
    let mut event = faultline::protocol::Event::new();
    event.level = faultline::Level::Error;
    event.message = Some("an error event".into());
    faultline::capture_event(event);
    let mut event = faultline::protocol::Event::new();
    event.level = faultline::Level::Warning;
    faultline::capture_event(event);
    drop(guard);
    let update = last_update(&server);
    assert_eq!(update["status"], "exited");
    assert_eq!(update["errors"], 2, "{update}");
    assert!(update.get("did").is_none());

    // An error sampled out still counts: the session saw it.
    let server = TestServer::ok();
    let guard = faultline::try_init(
        faultline::ClientOptions::new()
            .dsn(server.dsn("k", 1))
            .spool_dir(None)
            .release("session-app@1.0.0")
            .sample_rate(0.0),
    )
    .unwrap();
    for _ in 0..3 {
        assert!(faultline::capture_error(&std::io::Error::other("sampled out")).is_nil());
    }
    drop(guard);
    let update = last_update(&server);
    assert_eq!(
        (update["status"].as_str(), update["errors"].as_u64()),
        (Some("exited"), Some(3))
    );
    assert_eq!(update["init"], true, "no event carried an update before");
}

#[test]
fn without_a_release_or_with_tracking_off_no_session_is_sent() {
    let _serial = serial();
    for options in [
        faultline::ClientOptions::new(),
        faultline::ClientOptions::new()
            .release("session-app@1.0.0")
            .auto_session_tracking(false),
        faultline::ClientOptions::new()
            .release("session-app@1.0.0")
            .errors_only(true),
    ] {
        let server = TestServer::ok();
        let guard = faultline::try_init(
            options
                .dsn(server.dsn("k", 1))
                .spool_dir(None)
                .client_report_interval(Duration::from_secs(3600)),
        )
        .unwrap();
        faultline::capture_error(&std::io::Error::other("one"));
        drop(guard);
        assert!(!server.requests().is_empty());
        assert!(session_updates(&server).is_empty());
    }
}

#[test]
fn a_rate_limit_on_sessions_drops_them_counted_and_keeps_the_events() {
    let _serial = serial();
    let server = TestServer::start(|_, _| {
        Reply::ok().header("X-Sentry-Rate-Limits", "3600:session:organization")
    });
    let guard = faultline::try_init(
        faultline::ClientOptions::new()
            .dsn(server.dsn("k", 1))
            .spool_dir(None)
            .release("session-app@1.0.0"),
    )
    .unwrap();
    faultline::capture_error(&std::io::Error::other("first"));
    assert!(faultline::flush(Duration::from_secs(10)));
    faultline::capture_error(&std::io::Error::other("second"));
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let requests = server.requests();
    let events = requests
        .iter()
        .filter(|r| r.envelope().event().is_some())
        .count();
    assert_eq!(events, 2, "events are not limited");
    // The first update went before the limit was known; the second and the last were dropped.
    assert_eq!(session_updates(&server).len(), 1);
    let dropped = support::discarded(&server, "ratelimit_backoff", "session");
    assert_eq!(dropped, 2, "{requests:?}");
}

#[test]
fn a_second_init_ends_the_first_session_and_starts_its_own() {
    let _serial = serial();
    let server = TestServer::ok();
    let spool = tempfile::tempdir().unwrap();
    let options = || {
        faultline::ClientOptions::new()
            .dsn(server.dsn("k", 1))
            .spool_dir(Some(spool.path().to_path_buf()))
            .release("session-app@1.0.0")
    };
    let first = faultline::try_init(options()).unwrap();
    faultline::capture_error(&std::io::Error::other("in the first"));
    assert!(faultline::flush(Duration::from_secs(10)));
    let second = faultline::try_init(options()).unwrap();
    assert!(faultline::flush(Duration::from_secs(10)));
    let running: Vec<_> = std::fs::read_dir(spool.path().join("sessions"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".session"))
        .collect();
    assert_eq!(running.len(), 1, "the second's file, kept: {running:?}");
    drop(first);
    drop(second);
    let updates: Vec<Value> = session_updates(&server)
        .into_iter()
        .map(|(u, _)| u)
        .collect();
    let sids: std::collections::BTreeSet<String> = updates
        .iter()
        .map(|u| u["sid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sids.len(), 2, "{updates:#?}");
    for sid in sids {
        let of_one: Vec<Value> = updates
            .iter()
            .filter(|u| u["sid"] == sid)
            .cloned()
            .collect();
        assert_eq!(of_one.last().unwrap()["status"], "exited", "{of_one:#?}");
    }
    assert_no_running_session_left(spool.path());
}

#[test]
fn a_shutdown_that_runs_out_of_time_still_ends_the_session_in_the_spool() {
    let _serial = serial();
    // The server never answers: the worker is stuck in its first request when the shutdown's time runs out.
    let server = TestServer::start(|_, _| Reply::Hang);
    let spool = tempfile::tempdir().unwrap();
    let guard = faultline::try_init(
        faultline::ClientOptions::new()
            .dsn(server.dsn("k", 1))
            .spool_dir(Some(spool.path().to_path_buf()))
            .release("session-app@1.0.0")
            .http_timeout(Duration::from_secs(30))
            .shutdown_timeout(Duration::from_millis(500)),
    )
    .unwrap();
    faultline::capture_error(&std::io::Error::other("sent into the void"));
    server.wait_for_requests(1, Duration::from_secs(10));
    drop(guard);
    assert_no_running_session_left(spool.path());
    let mut statuses = Vec::new();
    for entry in std::fs::read_dir(spool.path()).unwrap().flatten() {
        let name = entry.file_name().into_string().unwrap();
        if !name.contains(".envelope") {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap();
        let envelope = support::Envelope::parse(&bytes).unwrap();
        for (header, payload) in &envelope.items {
            if header["type"] == "session" {
                let update: Value = serde_json::from_slice(payload).unwrap();
                statuses.push(update["status"].as_str().unwrap().to_owned());
            }
        }
    }
    statuses.sort();
    assert!(statuses.contains(&"exited".to_owned()), "{statuses:?}");
    assert!(!statuses.contains(&"abnormal".to_owned()));
}
