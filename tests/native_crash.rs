//! Native crashes, each in a child process built from tests/fixtures/crash-app: a null-pointer write, a stack
//! overflow, `libc::abort()`, a SIGBUS from a file mapped past its end, a segfault on a thread made with
//! `pthread_create`, and a call through a function pointer to no code. Each child must end exactly as the same
//! program ends without the crash handler, and the next start must send exactly one fatal event for it, with the
//! signal, a symbolicated frame in the fixture's own function, and the scope set before the crash. A fault inside
//! the handler ends the process at once. Twenty crashes in a row, each reported by the next start while it is itself
//! about to crash, must give twenty reports, none twice.
#![cfg(all(
    feature = "http",
    feature = "panic",
    feature = "native-crash",
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

use serde_json::Value;
use support::TestServer;

/// The fixture, set to run in `mode` against `dsn` with `spool`, its `run` tag set, its output discarded.
fn fixture(dsn: &str, spool: &Path, mode: &str, run: usize) -> Command {
    let mut command = Command::new(support::fixture("crash-app"));
    command
        .env("CRASH_APP_DSN", dsn)
        .env("CRASH_APP_SPOOL", spool)
        .env("CRASH_APP_MODE", mode)
        .env("CRASH_APP_RUN", run.to_string())
        .env_remove("SENTRY_DSN")
        .env_remove("SENTRY_RELEASE")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn run(dsn: &str, spool: &Path, mode: &str, run: usize, handler: bool) -> ExitStatus {
    let mut command = fixture(dsn, spool, mode, run);
    if run == 0 {
        // The first run of each case settles first, so that its session has a file to end.
        command.env("CRASH_APP_SETTLE", "1");
    }
    command
        .env("CRASH_APP_HANDLER", if handler { "on" } else { "off" })
        .status()
        .unwrap()
}

/// The fatal events with a `signal` mechanism that the server received, in order.
fn crash_events(server: &TestServer) -> Vec<Value> {
    server
        .requests()
        .iter()
        .filter_map(|r| r.envelope().event())
        .filter(|e| e["exception"]["values"][0]["mechanism"]["type"] == "signal")
        .collect()
}

/// A loopback server, its DSN, and a spool in which the fixture crashed once in `mode` (as run 0).
fn after_a_crash(mode: &str) -> (TestServer, String, tempfile::TempDir) {
    let server = TestServer::ok();
    let dsn = server.dsn("k", 1);
    let spool = tempfile::tempdir().unwrap();
    let status = run(&dsn, spool.path(), mode, 0, true);
    assert!(status.signal().is_some(), "{mode}: {status:?}");
    (server, dsn, spool)
}

/// The statuses of the last `session` update of each session the server heard of, by session id.
fn session_ends(server: &TestServer) -> BTreeMap<String, (String, u64)> {
    let mut ends = BTreeMap::new();
    for request in server.requests() {
        for (header, payload) in &request.envelope().items {
            if header["type"] == "session" {
                let update: Value = serde_json::from_slice(payload).unwrap();
                ends.insert(
                    update["sid"].as_str().unwrap().to_owned(),
                    (
                        update["status"].as_str().unwrap().to_owned(),
                        update["errors"].as_u64().unwrap(),
                    ),
                );
            }
        }
    }
    ends
}

/// Checks the event of one crash of `mode`, which the program ended with `signal` named `name`, in the fixture's
/// function `function`.
fn assert_crash_event(event: &Value, mode: &str, name: &str, number: i32, function: &str) {
    assert_eq!(event["level"], "fatal", "{event:#}");
    assert_eq!(event["release"], "crash-app@1.0.0");
    assert_eq!(event["environment"], "test");
    let exception = &event["exception"]["values"][0];
    assert_eq!(exception["type"], name, "{exception:#}");
    let mechanism = &exception["mechanism"];
    assert_eq!(mechanism["handled"], false);
    assert_eq!(mechanism["meta"]["signal"]["number"], number);
    assert_eq!(mechanism["meta"]["signal"]["name"], name);
    let frames = exception["stacktrace"]["frames"]
        .as_array()
        .unwrap_or_else(|| panic!("no frames: {exception:#}"));
    let own = frames
        .iter()
        .find(|f| {
            f["function"]
                .as_str()
                .is_some_and(|s| s.ends_with(&format!("crash_app::{function}")))
        })
        .unwrap_or_else(|| panic!("no frame in crash_app::{function}: {frames:#?}"));
    assert!(
        own["abs_path"]
            .as_str()
            .unwrap()
            .ends_with("crash-app/src/main.rs"),
        "{own:#}"
    );
    assert!(own["lineno"].as_u64().unwrap() > 0, "{own:#}");
    assert_eq!(own["in_app"], true, "{own:#}");
    assert!(own["instruction_addr"].as_str().unwrap().starts_with("0x"));
    if mode == "abort" {
        // Frames in a shared library too: libc's `abort`, newer than the fixture's frame.
        let libc_abort = frames.iter().position(|f| {
            f["function"]
                .as_str()
                .is_some_and(|s| s.contains("abort") && !s.contains("crash_app"))
        });
        let own_at = frames.iter().position(|f| f == own).unwrap();
        assert!(
            libc_abort.is_some_and(|at| at > own_at),
            "no libc abort frame after crash_app::crash_abort: {frames:#?}"
        );
    }
    // The scope set before the crash.
    assert_eq!(event["tags"]["fixture"], "crash-app", "{event:#}");
    assert_eq!(event["tags"]["mode"], mode);
    assert_eq!(event["user"]["id"], "user-7");
    let crumbs = event["breadcrumbs"]["values"].as_array().unwrap();
    assert!(
        crumbs
            .iter()
            .any(|c| c["message"] == format!("about to {mode}")),
        "{crumbs:#?}"
    );
    let thread = &event["threads"]["values"][0];
    assert_eq!(thread["crashed"], true);
    assert_eq!(thread["id"], exception["thread_id"]);
    assert_eq!(thread["main"], mode != "thread", "{thread:#}");
    let images = event["debug_meta"]["images"].as_array().unwrap();
    assert!(
        images
            .iter()
            .any(|i| i["code_file"].as_str().unwrap().ends_with("/crash-app")),
        "{images:#?}"
    );
    assert!(
        event["contexts"]["trace"]["trace_id"]
            .as_str()
            .unwrap()
            .len()
            == 32,
        "{event:#}"
    );
}

#[test]
fn each_kind_of_crash_ends_the_process_as_before_and_is_reported_once_at_the_next_start() {
    let cases = [
        ("segfault", "SIGSEGV", libc::SIGSEGV, "crash_segfault"),
        ("overflow", "SIGSEGV", libc::SIGSEGV, "crash_overflow"),
        ("abort", "SIGABRT", libc::SIGABRT, "crash_abort"),
        ("sigbus", "SIGBUS", libc::SIGBUS, "crash_sigbus"),
        ("thread", "SIGSEGV", libc::SIGSEGV, "crash_segfault"),
        ("bad-call", "SIGSEGV", libc::SIGSEGV, "crash_bad_call"),
    ];
    for (mode, name, number, function) in cases {
        let server = TestServer::ok();
        let dsn = server.dsn("k", 1);
        let spool = tempfile::tempdir().unwrap();

        let without = run(&dsn, spool.path(), mode, 0, false);
        let with = run(&dsn, spool.path(), mode, 0, true);
        assert!(without.signal().is_some(), "{mode}: {without:?}");
        assert_eq!(
            with.signal(),
            without.signal(),
            "{mode}: the handler must not change how the process ends"
        );
        assert_eq!(with.core_dumped(), without.core_dumped(), "{mode}");
        // A stack overflow ends as Rust's own handler, chained after faultline's, ends it: with SIGABRT.
        let expected = if mode == "overflow" {
            libc::SIGABRT
        } else {
            number
        };
        assert_eq!(with.signal(), Some(expected), "{mode}");
        assert!(
            crash_events(&server).is_empty(),
            "{mode}: nothing is sent by the dying process"
        );

        assert!(run(&dsn, spool.path(), "report", 1, true).success());
        let events = crash_events(&server);
        assert_eq!(events.len(), 1, "{mode}: {events:#?}");
        assert_crash_event(&events[0], mode, name, number, function);
        // Release health: the crashed run's session ends `crashed`; the run without the handler left one that
        // can only be `abnormal`; the report run's own ends `exited`.
        let mut statuses: Vec<(String, u64)> = session_ends(&server).into_values().collect();
        statuses.sort();
        assert_eq!(
            statuses.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
            ["abnormal", "crashed", "exited"],
            "{mode}: {statuses:?}"
        );
        assert!(statuses[1].1 >= 1, "{mode}: a crashed session has an error");

        // A third start finds nothing left to report.
        assert!(run(&dsn, spool.path(), "report", 2, true).success());
        assert_eq!(crash_events(&server).len(), 1, "{mode}: reported twice");
        let crashes = spool.path().join("crashes");
        assert_eq!(std::fs::read_dir(&crashes).unwrap().count(), 0, "{mode}");
    }
}

#[test]
fn a_fault_inside_the_handler_ends_the_process_at_once_and_the_record_so_far_is_reported() {
    let server = TestServer::ok();
    let dsn = server.dsn("k", 1);
    let spool = tempfile::tempdir().unwrap();
    let status = run(&dsn, spool.path(), "fault-in-handler", 0, true);
    // The second SIGSEGV comes while the handler blocks it: the kernel ends the process with it, and nothing runs
    // after it (no previous handler, no second record).
    assert_eq!(status.signal(), Some(libc::SIGSEGV), "{status:?}");
    let records: Vec<_> = std::fs::read_dir(spool.path().join("crashes"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(records.len(), 1, "one record: {records:?}");

    assert!(run(&dsn, spool.path(), "report", 1, true).success());
    let events = crash_events(&server);
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    let exception = &event["exception"]["values"][0];
    assert_eq!(exception["type"], "SIGSEGV");
    let frames = exception["stacktrace"]["frames"].as_array().unwrap();
    assert!(
        frames.iter().any(|f| f["function"]
            .as_str()
            .is_some_and(|s| s.ends_with("crash_app::crash_segfault"))),
        "{frames:#?}"
    );
    // The scope is the part the handler could not write: the record has none, and the event no scope data.
    assert!(event.get("user").is_none(), "{event:#}");
    assert!(event["tags"].get("fixture").is_none(), "{event:#}");
}

#[test]
fn a_crash_while_the_next_start_reports_the_last_one_loses_neither() {
    let (server, dsn, spool) = after_a_crash("segfault");
    let output = fixture(&dsn, spool.path(), "crash-while-reporting", 1)
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.signal(), Some(libc::SIGSEGV));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "taken",
        "the second run crashed while it held the first run's record"
    );
    assert!(run(&dsn, spool.path(), "report", 2, true).success());
    let mut runs: Vec<String> = crash_events(&server)
        .iter()
        .map(|e| e["tags"]["run"].as_str().unwrap().to_owned())
        .collect();
    runs.sort();
    assert_eq!(runs, ["0", "1"], "each crash reported once");
}

#[test]
fn the_crashed_session_ends_crashed_whoever_reports_the_crash() {
    let (server, dsn, spool) = after_a_crash("segfault");
    let sessions = spool.path().join("sessions");
    let marked: Vec<String> = std::fs::read_dir(&sessions)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".session.crashed"))
        .collect();
    assert_eq!(marked.len(), 1, "the handler marked the session's file");
    // Another process reported the crash itself: its record is gone.
    for record in std::fs::read_dir(spool.path().join("crashes")).unwrap() {
        std::fs::remove_file(record.unwrap().path()).unwrap();
    }
    assert!(run(&dsn, spool.path(), "report", 1, true).success());
    assert!(crash_events(&server).is_empty());
    let mut statuses: Vec<String> = session_ends(&server)
        .into_values()
        .map(|(status, _)| status)
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["crashed", "exited"]);
}

#[test]
fn a_crash_without_a_release_is_not_given_the_next_starts() {
    let server = TestServer::ok();
    let dsn = server.dsn("k", 1);
    let spool = tempfile::tempdir().unwrap();
    let status = fixture(&dsn, spool.path(), "segfault", 0)
        .env("CRASH_APP_RELEASE", "none")
        .status()
        .unwrap();
    assert_eq!(status.signal(), Some(libc::SIGSEGV));
    // The next start has a release (crash-app@1.0.0); the crashed process had none.
    assert!(run(&dsn, spool.path(), "report", 1, true).success());
    let events = crash_events(&server);
    assert_eq!(events.len(), 1);
    assert!(events[0].get("release").is_none(), "{:#}", events[0]);
    assert_eq!(events[0]["environment"], "test");
}

#[test]
fn twenty_crashes_in_a_row_are_each_reported_once() {
    let server = TestServer::ok();
    let dsn = server.dsn("k", 1);
    let spool = tempfile::tempdir().unwrap();
    let modes = ["segfault", "abort", "thread", "sigbus"];
    // Each run reports the crash before it from its worker thread while its own main thread crashes at once:
    // the report is stored, claimed or taken when the process dies, and the next start must finish the job.
    for run_number in 0..20 {
        let status = run(&dsn, spool.path(), modes[run_number % 4], run_number, true);
        assert!(status.signal().is_some(), "run {run_number}: {status:?}");
    }
    assert!(run(&dsn, spool.path(), "report", 20, true).success());
    // Whatever a dying run left half sent goes at the next start; give a last one the chance.
    assert!(run(&dsn, spool.path(), "report", 21, true).success());
    let mut ids_by_run: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for event in crash_events(&server) {
        ids_by_run
            .entry(event["tags"]["run"].as_str().unwrap().to_owned())
            .or_default()
            .insert(event["event_id"].as_str().unwrap().to_owned());
    }
    let runs: BTreeSet<usize> = ids_by_run.keys().map(|r| r.parse().unwrap()).collect();
    assert_eq!(
        runs,
        (0..20).collect(),
        "every crash reported: {ids_by_run:#?}"
    );
    assert!(
        ids_by_run.values().all(|ids| ids.len() == 1),
        "one event per crash (a report sent twice keeps its event id): {ids_by_run:#?}"
    );
}
