//! End to end: faultline reports an error chain, a message and a panic to a real Sentry-compatible server (Bugsink,
//! from PyPI, on 127.0.0.1), and this test reads back what the server stored through its REST API.
//!
//! `scripts/test` runs it (it starts and stops the server). By hand:
//!
//! ```text
//! scripts/bugsink start && source target/bugsink/env
//! cargo test --all-features --test e2e_bugsink -- --nocapture
//! scripts/bugsink stop
//! ```
//!
//! Without `FAULTLINE_E2E_DSN` the test prints a line and passes, unless `FAULTLINE_E2E_REQUIRED` is set: then it
//! fails. It needs `FAULTLINE_E2E_API` (`http://127.0.0.1:PORT/api/canonical/0`) and `FAULTLINE_E2E_TOKEN` too.
//!
//! The binary installs a global client and a panic hook, so it holds a single test function.
//!
//! # What Bugsink 2.6.1 returns (checked by posting hand-written envelopes and `sentry-sdk` events to it)
//!
//! - `GET {API}/issues/?project=P` → `{"next": URL or null, "previous": ..., "results": [{"id": UUID,
//!   "friendly_id", "calculated_type", "calculated_value", "digested_event_count", ...}]}`. One issue per last
//!   exception (type, value); message events become issues of `calculated_type` `"Log Message"`.
//! - `GET {API}/events/?issue=ISSUE_UUID` → `{"next", "results": [{"id": Bugsink's own UUID, "event_id": the
//!   SDK's id as a dashed UUID ("fcb12df0-9196-48cb-..."), "issue", "timestamp", "ingested_at", ...}]}`, newest
//!   first, 250 a page, no `data`. Events can only be listed per issue: there is no filter by project or event id.
//! - `GET {API}/events/{id}/` takes Bugsink's own `id` only (the SDK's event id, dashed or not, gets 404); it returns
//!   the list fields plus `data`, a JSON object (not a string), and `stacktrace_md` (Markdown).
//! - `data` is the event exactly as the SDK sent it, not normalised: `data.event_id` is the 32-hex id as sent,
//!   `data.tags` stays a map (a list of pairs would stay a list), `data.message` stays a plain string, an unknown
//!   `platform` or a level `warn` are kept as they are, `timestamp` stays a number. So this test checks what faultline
//!   sent, not what Sentry would make of it.
//! - An event posted twice with the same event id is stored once (both POSTs get 200).
//!
//! Paths relied on: `results[].event_id` (dashes removed) and `results[].id` in the event list;
//! `data.exception.values[].{type, value, mechanism.type, mechanism.handled, stacktrace.frames[].{function,
//! filename, lineno, in_app}}`, `data.{level, platform, release, environment, tags.suite, message}`,
//! `data.threads.values[].{name, stacktrace.frames[]}` (the thread name may also sit in `contexts` or `extra`).
#![cfg(all(feature = "http", feature = "panic"))]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::fmt;
use std::time::{Duration, Instant};

use serde_json::Value;

const THIS_FILE: &str = "tests/e2e_bugsink.rs";
const READ_BACK_TIMEOUT: Duration = Duration::from_secs(20);

// ---- The error chain: ConfigError → ParseError → ParseIntError -------------------------------------------------

/// The middle of the chain. `Debug` is derived: an SDK that names `dyn Error` sources by their `Debug` output finds
/// `ParseError` there.
#[derive(Debug)]
struct ParseError {
    source: std::num::ParseIntError,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot parse the port number")
    }
}

impl Error for ParseError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

/// The error that is captured.
#[derive(Debug)]
struct ConfigError {
    source: ParseError,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid configuration in e2e.toml")
    }
}

impl Error for ConfigError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

/// Serves an axum app behind the tower layer on 127.0.0.1 and calls `GET /fail/9`, whose handler tags its scope,
/// captures an error and answers 500; returns that error's id. `None` without the `axum` feature.
fn axum_request() -> Option<faultline::EventId> {
    #[cfg(feature = "axum")]
    {
        use std::sync::Mutex;
        static CAPTURED: Mutex<Option<faultline::EventId>> = Mutex::new(None);
        async fn fail(axum::extract::Path(id): axum::extract::Path<u64>) -> axum::http::StatusCode {
            faultline::configure_scope(|scope| scope.set_tag("id", id));
            let err = "nine".parse::<u32>().unwrap_err();
            *CAPTURED.lock().unwrap() = Some(faultline::capture_error(&err));
            axum::http::StatusCode::INTERNAL_SERVER_ERROR
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let app = axum::Router::new()
            .route("/fail/{id}", axum::routing::get(fail))
            .layer(faultline::integrations::tower::layer());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("the address");
        runtime.spawn(async move { axum::serve(listener, app).await });
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build(),
        );
        let response = agent
            .get(format!("http://{addr}/fail/9"))
            .call()
            .expect("the axum server answers");
        assert_eq!(response.status(), 500);
        drop(runtime);
        let id = CAPTURED.lock().unwrap().take();
        assert!(id.is_some(), "the handler captured its error");
        id
    }
    #[cfg(not(feature = "axum"))]
    None
}

fn load_port(text: &str) -> Result<u16, ConfigError> {
    text.parse::<u16>().map_err(|source| ConfigError {
        source: ParseError { source },
    })
}

/// Captures the error chain. Returns the event id, the line of the capture call and the chain's `Display` strings,
/// root cause first.
#[inline(never)]
fn report_config_error() -> (faultline::EventId, u32, Vec<String>) {
    let err = load_port("80x").expect_err("80x is not a port number");
    let chain = vec![
        err.source.source.to_string(),
        err.source.to_string(),
        err.to_string(),
    ];
    let (id, line) = (faultline::capture_error(&err), line!());
    (id, line, chain)
}

// ---- The test ----------------------------------------------------------------------------------------------------

#[test]
fn error_message_and_panic_reach_bugsink() {
    let started = Instant::now();
    let Some(dsn) = env_var("FAULTLINE_E2E_DSN") else {
        if env_var("FAULTLINE_E2E_REQUIRED").is_some() {
            panic!(
                "FAULTLINE_E2E_REQUIRED is set but FAULTLINE_E2E_DSN is not: start a server with \
                 `scripts/bugsink start && source target/bugsink/env`, or run `scripts/test`"
            );
        }
        println!(
            "e2e_bugsink: skipped: FAULTLINE_E2E_DSN is not set. This end-to-end test needs a Bugsink server: \
             `scripts/bugsink start && source target/bugsink/env` (or run `scripts/test`, which does it all)"
        );
        return;
    };
    let api = Api::from_env(&dsn);
    // Events already on the server (from an earlier run against the same server) are not ours.
    let before: BTreeSet<String> = api
        .event_ids()
        .unwrap_or_else(|e| {
            panic!(
                "cannot read Bugsink's API at {} (is the server running?): {e}",
                api.base
            )
        })
        .into_keys()
        .collect();

    // ---- A native crash: the fixture program dies of SIGSEGV, and its next start reports it.
    let crashed = native_crash(&dsn);

    // ---- Report, through the public API only.
    let guard = faultline::try_init(
        faultline::ClientOptions::new()
            .spool_dir(None)
            .dsn(dsn.as_str())
            .release("e2e@1.0.0")
            .environment("e2e")
            // Performance monitoring on: Bugsink answers 200 to transactions and drops them (and asks, in
            // `X-Sentry-Rate-Limits`, for no more for a day), which must cost the errors nothing.
            .traces_sample_rate(1.0),
    )
    .expect("init");
    faultline::configure_scope(|scope| {
        scope.set_tag("suite", "e2e");
    });
    let transaction = faultline::start_transaction("e2e run", "test");
    let span = transaction.start_child("config.load", "load_port");
    faultline::configure_scope(|scope| scope.set_span(Some(span.clone().into())));
    let (error_id, capture_line, chain) = report_config_error();
    faultline::configure_scope(|scope| scope.set_span(None));
    span.finish();
    transaction.finish();
    let message_id = faultline::capture_message("e2e message", faultline::Level::Warning);
    let last_id = faultline::last_event_id();
    let joined = std::thread::Builder::new()
        .name("e2e-worker".into())
        .spawn(|| panic!("e2e panic {}", 42))
        .expect("spawn the e2e-worker thread")
        .join();
    // Log records through the `log` integration: info and warn become breadcrumbs, error becomes an event.
    log::set_boxed_logger(Box::new(faultline::integrations::log::Logger::standalone()))
        .expect("install the log integration");
    log::set_max_level(log::LevelFilter::Info);
    log::info!(target: "e2e::orders", "loading order 7");
    log::warn!(target: "e2e::orders", "payment provider slow");
    log::error!(target: "e2e::orders", "payment declined for order {}", 7);
    let log_id = faultline::last_event_id().expect("the logged error was captured");
    // An error from an axum handler behind the tower layer: its tag and request data must be stored.
    let axum_hex: Option<String> = axum_request().map(|id| id.to_string());
    let flushed = faultline::flush(Duration::from_secs(10));
    let stats = faultline::stats();
    drop(guard);
    assert_eq!(
        (stats.send_error, stats.queue_overflow, stats.cache_overflow),
        (0, 0, 0),
        "the transaction cost the errors nothing: {stats:?}"
    );
    let sent_in = started.elapsed();

    assert!(
        joined.is_err(),
        "the e2e-worker thread should have panicked"
    );
    assert!(
        flushed,
        "faultline::flush(10 s) returned false: events were still queued"
    );
    let error_hex = error_id.to_string();
    let message_hex = message_id.to_string();
    let log_hex = log_id.to_string();
    for (what, id) in [("capture_error", error_id), ("capture_message", message_id)] {
        assert!(
            !id.is_nil(),
            "{what} returned the nil id: the event was dropped"
        );
        assert!(
            is_hex32(&id.to_string()),
            "{what} returned {id}, not 32 lowercase hex digits"
        );
    }
    assert_ne!(error_hex, message_hex, "two captures returned the same id");
    assert_eq!(
        last_id.map(|id| id.to_string()),
        Some(message_hex.clone()),
        "last_event_id() right after capture_message"
    );

    // ---- Read back. Bugsink digests events inside the ingest request, so they should be there already; poll anyway.
    let read_started = Instant::now();
    let deadline = read_started + READ_BACK_TIMEOUT;
    let expected_events = 4 + usize::from(axum_hex.is_some()) + usize::from(crashed);
    let new_events: BTreeMap<String, String> = loop {
        let seen = match api.event_ids() {
            Ok(all) => {
                let new: BTreeMap<String, String> = all
                    .into_iter()
                    .filter(|(hex, _)| !before.contains(hex))
                    .collect();
                if new.contains_key(&error_hex)
                    && new.contains_key(&message_hex)
                    && new.contains_key(&log_hex)
                    && axum_hex.as_ref().is_none_or(|hex| new.contains_key(hex))
                    && new.len() >= expected_events
                {
                    break new;
                }
                format!("new events so far: {:?}", new.keys().collect::<Vec<_>>())
            }
            Err(e) => format!("last API error: {e}"),
        };
        if Instant::now() > deadline {
            panic!(
                "after {READ_BACK_TIMEOUT:?} Bugsink does not hold the four events (error {error_hex}, message \
                 {message_hex}, log {log_hex}, and a panic); {seen}. The server's log is target/bugsink/server.log"
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let mut events: BTreeMap<String, Value> = BTreeMap::new();
    for (hex, bugsink_id) in &new_events {
        let detail = api
            .get(&format!("events/{bugsink_id}/"))
            .unwrap_or_else(|e| panic!("reading event {hex} back: {e}"));
        events.insert(hex.clone(), detail);
    }
    let read_in = read_started.elapsed();

    let mut checks = Checks::default();
    checks.check(
        new_events.len() == expected_events,
        format!(
            "expected exactly {expected_events} new events, Bugsink holds {}: {:?}",
            new_events.len(),
            new_events.keys()
        ),
    );
    if let Some(hex) = &axum_hex {
        let label = format!("axum {hex}");
        let data = &events[hex]["data"];
        checks.eq(&label, "tags.id", &tag(data, "id"), "9");
        checks.eq(&label, "request.method", &data["request"]["method"], "GET");
        checks.check(
            data["request"]["url"]
                .as_str()
                .is_some_and(|url| url.ends_with("/fail/9")),
            format!("{label}: request.url is {}", data["request"]["url"]),
        );
    }
    for (hex, detail) in &events {
        let data = &detail["data"];
        checks.check(
            data.is_object(),
            format!("event {hex}: `data` is not a JSON object: {data}"),
        );
        checks.check(
            str_of(&data["event_id"])
                .map(|s| s.replace('-', "").to_ascii_lowercase())
                .as_deref()
                == Some(hex.as_str()),
            format!("event {hex}: data.event_id is {}", data["event_id"]),
        );
        check_common(&mut checks, &format!("event {hex}"), data);
    }

    // The native crash, sent by the fixture's second start.
    let mut crash_summary = None;
    if crashed {
        let crash = events
            .values()
            .map(|detail| &detail["data"])
            .find(|data| data["exception"]["values"][0]["mechanism"]["type"] == "signal");
        checks.check(
            crash.is_some(),
            "no event with a `signal` mechanism: the native crash is missing".to_owned(),
        );
        if let Some(crash) = crash {
            let label = "native crash";
            let exception = &crash["exception"]["values"][0];
            checks.eq(label, "level", &crash["level"], "fatal");
            checks.eq(label, "exception type", &exception["type"], "SIGSEGV");
            checks.eq(label, "tags.mode", &tag(crash, "mode"), "segfault");
            let crash_frames = frames(&exception["stacktrace"]);
            let crash_frame = crash_frames.iter().find(|f| {
                f["in_app"] == true
                    && str_of(&f["function"])
                        .is_some_and(|s| s.ends_with("crash_app::crash_segfault"))
                    && str_of(&f["abs_path"]).is_some_and(|p| p.ends_with("crash-app/src/main.rs"))
                    && f["lineno"].as_u64().is_some_and(|n| n > 0)
            });
            crash_summary = crash_frame.map(|f| {
                format!(
                    "{} {}: {}, frame {}",
                    crash["event_id"],
                    exception["type"],
                    exception["value"],
                    describe_frame(f)
                )
            });
            checks.check(
                crash_frame.is_some(),
                format!(
                    "{label}: no in-app frame `crash_app::crash_segfault` with its file and line; frames (oldest \
                     first):\n{}",
                    describe_frames(&crash_frames)
                ),
            );
        }
    }

    // The error event.
    let error_label = format!("error {error_hex}");
    let message_label = format!("message {message_hex}");
    let error = &events[&error_hex]["data"];
    checks.eq(&error_label, "level", &error["level"], "error");
    checks.eq(&error_label, "tags.suite", &tag(error, "suite"), "e2e");
    // Captured inside a span: the stored error points at it, though Bugsink keeps no transactions.
    checks.eq(
        &error_label,
        "contexts.trace.trace_id",
        &error["contexts"]["trace"]["trace_id"],
        &transaction.trace_id().to_string(),
    );
    checks.eq(
        &error_label,
        "contexts.trace.span_id",
        &error["contexts"]["trace"]["span_id"],
        &span.span_id().to_string(),
    );
    let exceptions = values(error, "exception");
    let types: Vec<Option<&str>> = exceptions.iter().map(|e| str_of(&e["type"])).collect();
    checks.check(
        types == [Some("ParseIntError"), Some("ParseError"), Some("ConfigError")],
        format!(
            "error {error_hex}: exception.values[].type should be ParseIntError, ParseError, ConfigError (root \
             cause first), got {types:?}"
        ),
    );
    let texts: Vec<Option<&str>> = exceptions.iter().map(|e| str_of(&e["value"])).collect();
    let expected: Vec<Option<&str>> = chain.iter().map(|s| Some(s.as_str())).collect();
    checks.check(
        texts == expected,
        format!(
            "error {error_hex}: exception.values[].value should be {expected:?}, got {texts:?}"
        ),
    );
    let capture_frames = exceptions
        .last()
        .map(|e| frames(&e["stacktrace"]))
        .unwrap_or_default();
    let capture_frame = capture_frames.iter().find(|f| {
        f["in_app"] == true
            && str_of(&f["function"]).is_some_and(|s| s.ends_with("report_config_error"))
            && is_this_file(&f["filename"])
            && f["lineno"].as_u64() == Some(u64::from(capture_line))
    });
    checks.check(
        capture_frame.is_some(),
        format!(
            "error {error_hex}: the last exception's stack trace has no in-app frame `…report_config_error` at \
             {THIS_FILE}:{capture_line}; frames (oldest first):\n{}",
            describe_frames(&capture_frames)
        ),
    );

    // The message event.
    let message = &events[&message_hex]["data"];
    checks.eq(&message_label, "level", &message["level"], "warning");
    checks.eq(&message_label, "tags.suite", &tag(message, "suite"), "e2e");
    checks.check(
        message_text(message) == Some("e2e message"),
        format!(
            "message {message_hex}: expected the text \"e2e message\" in `message` or `logentry`, got message={} \
             logentry={}",
            message["message"], message["logentry"]
        ),
    );

    // The event from `log::error!`, with the records before it as breadcrumbs.
    let log_label = format!("log {log_hex}");
    let logged = &events[&log_hex]["data"];
    checks.eq(&log_label, "level", &logged["level"], "error");
    checks.eq(&log_label, "logger", &logged["logger"], "e2e::orders");
    checks.check(
        message_text(logged) == Some("payment declined for order 7"),
        format!(
            "{log_label}: message is {} / {}",
            logged["message"], logged["logentry"]
        ),
    );
    let crumbs: Vec<&str> = values(logged, "breadcrumbs")
        .iter()
        .filter_map(|b| str_of(&b["message"]))
        .collect();
    checks.check(
        crumbs.contains(&"loading order 7") && crumbs.contains(&"payment provider slow"),
        format!("{log_label}: breadcrumbs should hold the info and warn records, got {crumbs:?}"),
    );

    // The panic event: the new event that is none of the three above and carries a panic mechanism.
    let panic_event = events.iter().find(|(hex, detail)| {
        **hex != error_hex
            && **hex != message_hex
            && **hex != log_hex
            && axum_hex.as_ref() != Some(*hex)
            && values(&detail["data"], "exception")
                .iter()
                .any(|e| e["mechanism"]["type"] == "panic")
    });
    let mut panic_summary = String::from("missing");
    match panic_event {
        None => checks.fail(format!(
            "no event with an exception whose mechanism.type is \"panic\" among the new events {:?}",
            events.keys()
        )),
        Some((panic_hex, detail)) => {
            let data = &detail["data"];
            checks.eq(&format!("panic {panic_hex}"), "level", &data["level"], "fatal");
            let exceptions = values(data, "exception");
            let exception = exceptions
                .iter()
                .find(|e| e["mechanism"]["type"] == "panic")
                .expect("found above");
            checks.check(
                exception["mechanism"]["handled"] == false,
                format!(
                    "panic {panic_hex}: mechanism.handled should be false, got {}",
                    exception["mechanism"]["handled"]
                ),
            );
            checks.check(
                str_of(&exception["value"]).is_some_and(|v| v.contains("e2e panic 42")),
                format!("panic {panic_hex}: the exception value should contain \"e2e panic 42\", got {}", exception["value"]),
            );
            let thread_place = thread_name_location(data, "e2e-worker");
            checks.check(
                thread_place.is_some(),
                format!(
                    "panic {panic_hex}: the thread name \"e2e-worker\" is in none of threads.values[].name, \
                     contexts, extra; threads={} contexts={} extra={}",
                    data["threads"], data["contexts"], data["extra"]
                ),
            );
            // The stack may be on the exception or on the thread that panicked.
            let mut panic_frames = frames(&exception["stacktrace"]);
            for thread in values(data, "threads") {
                panic_frames.extend(frames(&thread["stacktrace"]));
            }
            let in_app = panic_frames.iter().find(|f| f["in_app"] == true && is_this_file(&f["filename"]));
            checks.check(
                in_app.is_some(),
                format!(
                    "panic {panic_hex}: no in-app frame from {THIS_FILE} in the exception's or the threads' stack \
                     traces; frames:\n{}",
                    describe_frames(&panic_frames)
                ),
            );
            panic_summary = format!(
                "{panic_hex} level {}, thread name found in {}, in-app frame {}",
                data["level"],
                thread_place.unwrap_or("nowhere"),
                in_app.map(describe_frame).unwrap_or_else(|| "missing".into())
            );
        }
    }

    if !checks.failures.is_empty() {
        let mut dump = String::new();
        for (hex, detail) in &events {
            let pretty = serde_json::to_string_pretty(&detail["data"]).unwrap_or_default();
            dump.push_str(&format!(
                "\n--- event {hex} (data) ---\n{}\n",
                truncate(&pretty, 12_000)
            ));
        }
        panic!(
            "{} end-to-end check(s) failed:\n- {}\n{dump}",
            checks.failures.len(),
            checks.failures.join("\n- ")
        );
    }

    println!(
        "e2e_bugsink: ok: faultline's events read back from Bugsink at {}",
        api.base
    );
    println!(
        "  error   {error_hex}: {} ← {} ← {}, captured at {}",
        chain[2],
        chain[1],
        chain[0],
        capture_frame.map(describe_frame).unwrap_or_default()
    );
    println!("  message {message_hex}: level warning, \"e2e message\"");
    println!("  log     {log_hex}: level error from log::error!, breadcrumbs {crumbs:?}");
    println!("  panic   {panic_summary}");
    if let Some(crash) = crash_summary {
        println!("  native crash {crash}");
    }
    println!(
        "  sent and flushed in {} ms, read back in {} ms, {} ms in all",
        sent_in.as_millis(),
        read_in.as_millis(),
        started.elapsed().as_millis()
    );
}

/// Runs tests/fixtures/crash-app twice against the server: once to die of a null-pointer write, once to report it.
/// `false` where native crashes are not recorded (the feature is off, or not Linux).
fn native_crash(dsn: &str) -> bool {
    if !cfg!(all(
        feature = "native-crash",
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )) {
        return false;
    }
    let spool = tempfile::tempdir().expect("a spool directory");
    let run = |mode: &str| {
        std::process::Command::new(support::fixture("crash-app"))
            .env("CRASH_APP_DSN", dsn)
            .env("CRASH_APP_SPOOL", spool.path())
            .env("CRASH_APP_MODE", mode)
            .env("CRASH_APP_RELEASE", "e2e@1.0.0")
            .env("CRASH_APP_ENVIRONMENT", "e2e")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("run the crash-app fixture")
    };
    let crashed = run("segfault");
    assert!(
        !crashed.success(),
        "the crash-app fixture did not crash: {crashed:?}"
    );
    let reported = run("report");
    assert!(
        reported.success(),
        "the crash-app fixture's report run failed: {reported:?}"
    );
    true
}

/// Checks every event shares: what the client options and the SDK set.
fn check_common(checks: &mut Checks, event: &str, data: &Value) {
    checks.eq(event, "release", &data["release"], "e2e@1.0.0");
    checks.eq(event, "environment", &data["environment"], "e2e");
    checks.eq(event, "platform", &data["platform"], "native");
}

// ---- Bugsink's REST API ------------------------------------------------------------------------------------------

struct Api {
    agent: ureq::Agent,
    /// `http://127.0.0.1:PORT/api/canonical/0`
    base: String,
    auth: String,
    /// The project id: the DSN's last path segment.
    project: String,
}

impl Api {
    fn from_env(dsn: &str) -> Api {
        let base = env_var("FAULTLINE_E2E_API").expect(
            "FAULTLINE_E2E_API must be set with FAULTLINE_E2E_DSN (source target/bugsink/env)",
        );
        let token = env_var("FAULTLINE_E2E_TOKEN").expect(
            "FAULTLINE_E2E_TOKEN must be set with FAULTLINE_E2E_DSN (source target/bugsink/env)",
        );
        let project = dsn
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        assert!(
            !project.is_empty() && project.bytes().all(|b| b.is_ascii_digit()),
            "cannot find a numeric project id at the end of the DSN {dsn}"
        );
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            // Statuses are checked below, with the body in the message.
            .http_status_as_error(false)
            // The server is on loopback: an http_proxy in the environment must not capture these requests.
            .proxy(None)
            .build();
        Api {
            agent: ureq::Agent::new_with_config(config),
            base: base.trim_end_matches('/').to_owned(),
            auth: format!("Bearer {token}"),
            project,
        }
    }

    /// GET a path under the API base (or an absolute URL, as in `next` links) and parse the JSON answer.
    fn get(&self, path_or_url: &str) -> Result<Value, String> {
        let url = if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_owned()
        } else {
            format!("{}/{path_or_url}", self.base)
        };
        let mut response = self
            .agent
            .get(url.as_str())
            .header("Authorization", &self.auth)
            .call()
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("GET {url}: reading the answer: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "GET {url}: HTTP {status}: {}",
                truncate(&body, 500)
            ));
        }
        serde_json::from_str(&body)
            .map_err(|e| format!("GET {url}: not JSON ({e}): {}", truncate(&body, 500)))
    }

    /// All `results` of a paginated listing, following `next`.
    fn all_pages(&self, first: &str) -> Result<Vec<Value>, String> {
        let mut results = Vec::new();
        let mut next = Some(first.to_owned());
        while let Some(url) = next {
            let page = self.get(&url)?;
            match page["results"].as_array() {
                Some(items) => results.extend(items.iter().cloned()),
                None => return Err(format!("GET {url}: no `results` array in {page}")),
            }
            next = str_of(&page["next"]).map(str::to_owned);
        }
        Ok(results)
    }

    /// Every event of the project: the SDK's event id (32 hex, as `capture_*` returned it) → Bugsink's own id.
    /// Bugsink lists events per issue only, so this walks the issues.
    fn event_ids(&self) -> Result<BTreeMap<String, String>, String> {
        let mut ids = BTreeMap::new();
        for issue in self.all_pages(&format!("issues/?project={}", self.project))? {
            let issue_id =
                str_of(&issue["id"]).ok_or_else(|| format!("an issue without an id: {issue}"))?;
            for event in self.all_pages(&format!("events/?issue={issue_id}"))? {
                // `event_id` comes as a dashed UUID; `id` is Bugsink's own UUID, the key of `events/{id}/`.
                match (str_of(&event["event_id"]), str_of(&event["id"])) {
                    (Some(event_id), Some(id)) => {
                        ids.insert(
                            event_id.replace('-', "").to_ascii_lowercase(),
                            id.to_owned(),
                        );
                    }
                    _ => return Err(format!("an event without `event_id` or `id`: {event}")),
                }
            }
        }
        Ok(ids)
    }
}

// ---- Reading the stored event JSON -------------------------------------------------------------------------------

#[derive(Default)]
struct Checks {
    failures: Vec<String>,
}

impl Checks {
    fn check(&mut self, ok: bool, failure: String) {
        if !ok {
            self.failures.push(failure);
        }
    }

    fn fail(&mut self, failure: String) {
        self.failures.push(failure);
    }

    fn eq(&mut self, event: &str, field: &str, actual: &Value, expected: &str) {
        self.check(
            actual.as_str() == Some(expected),
            format!("{event}: {field} should be {expected:?}, got {actual}"),
        );
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn str_of(v: &Value) -> Option<&str> {
    v.as_str()
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// An interface list: `{"values": [...]}` (what SDKs send) or a bare array.
fn values<'a>(data: &'a Value, key: &str) -> Vec<&'a Value> {
    let list = match &data[key] {
        Value::Object(o) => o.get("values").and_then(Value::as_array),
        Value::Array(a) => Some(a),
        _ => None,
    };
    list.map(|l| l.iter().collect()).unwrap_or_default()
}

/// `stacktrace.frames`, oldest first.
fn frames(stacktrace: &Value) -> Vec<&Value> {
    stacktrace["frames"]
        .as_array()
        .map(|f| f.iter().collect())
        .unwrap_or_default()
}

fn is_this_file(filename: &Value) -> bool {
    str_of(filename).is_some_and(|f| f.replace('\\', "/").ends_with(THIS_FILE))
}

fn describe_frame(f: &&Value) -> String {
    format!(
        "{} at {}:{} (in_app: {})",
        str_of(&f["function"]).unwrap_or("?"),
        str_of(&f["filename"]).unwrap_or("?"),
        f["lineno"],
        f["in_app"]
    )
}

/// The innermost frames, one a line (the list is oldest first).
fn describe_frames(frames: &[&Value]) -> String {
    const SHOWN: usize = 12;
    if frames.is_empty() {
        return "  (none)".into();
    }
    let skipped = frames.len().saturating_sub(SHOWN);
    let mut lines: Vec<String> = Vec::new();
    if skipped > 0 {
        lines.push(format!("  ... {skipped} older frames"));
    }
    lines.extend(
        frames[skipped..]
            .iter()
            .map(|f| format!("  {}", describe_frame(f))),
    );
    lines.join("\n")
}

/// A tag's value as a JSON string, whether `tags` is a map (what faultline sends and Bugsink keeps), a list of
/// `[key, value]` pairs or a list of `{"key", "value"}` objects; `null` when absent.
fn tag(data: &Value, key: &str) -> Value {
    let found = match &data["tags"] {
        Value::Object(map) => map.get(key).cloned(),
        Value::Array(list) => list.iter().find_map(|t| match t {
            Value::Array(pair) if pair.len() == 2 && pair[0] == key => Some(pair[1].clone()),
            Value::Object(o) if o.get("key").and_then(Value::as_str) == Some(key) => {
                o.get("value").cloned()
            }
            _ => None,
        }),
        _ => None,
    };
    found.unwrap_or(Value::Null)
}

/// The text of a message event: `message` as a string (what faultline and sentry-sdk send), or the `formatted` /
/// `message` of a `message` or `logentry` object.
fn message_text(data: &Value) -> Option<&str> {
    if let Some(s) = data["message"].as_str() {
        return Some(s);
    }
    ["message", "logentry"]
        .iter()
        .flat_map(|k| [&data[*k]["formatted"], &data[*k]["message"]])
        .find_map(Value::as_str)
}

/// Where the thread name appears: `threads.values[].name`, or anywhere in `contexts` or `extra`.
fn thread_name_location(data: &Value, name: &str) -> Option<&'static str> {
    if values(data, "threads").iter().any(|t| t["name"] == name) {
        return Some("threads.values[].name");
    }
    [("contexts", "contexts"), ("extra", "extra")]
        .into_iter()
        .find(|(key, _)| contains_str(&data[*key], name))
        .map(|(_, place)| place)
}

fn contains_str(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s.contains(needle),
        Value::Array(a) => a.iter().any(|x| contains_str(x, needle)),
        Value::Object(o) => o.values().any(|x| contains_str(x, needle)),
        _ => false,
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
