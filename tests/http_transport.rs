//! The HTTP path end to end against a loopback server: what is posted, and how the SDK behaves when the server
//! misbehaves. Each test installs the process-wide client, so they take turns through `serial()`.

mod support;

use std::fmt;
use std::time::{Duration, Instant};

use faultline::{ClientOptions, Level};
use support::{Reply, TestServer, serial};

#[derive(Debug)]
struct LoadError {
    source: std::num::ParseIntError,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not load the port")
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn load_error() -> LoadError {
    LoadError {
        source: "80a".parse::<u16>().unwrap_err(),
    }
}

/// Captures from a function of this file, returning the id and the line of the capture call.
#[inline(never)]
fn report_load_error() -> (faultline::EventId, u32) {
    let err = load_error();
    let line = line!() + 1;
    let id = faultline::capture_error(&err);
    (id, line)
}

#[test]
fn posts_an_envelope_with_auth_and_event_fields() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(
        ClientOptions::new()
            .spool_dir(None)
            .dsn(server.dsn("publickey123", 42))
            .release("app@1.0.0")
            .environment("test")
            .server_name("host-1"),
    )
    .unwrap();
    faultline::configure_scope(|scope| scope.set_tag("tenant", "acme"));
    faultline::add_breadcrumb(faultline::Breadcrumb::new("boot", "config read"));
    let (id, line) = report_load_error();
    assert!(!id.is_nil());
    assert_eq!(faultline::last_event_id(), Some(id));
    assert!(faultline::flush(Duration::from_secs(10)));

    let requests = server.wait_for_requests(1, Duration::from_secs(10));
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/api/42/envelope/");
    let auth = request.header("x-sentry-auth").unwrap();
    assert_eq!(
        auth,
        format!(
            "Sentry sentry_version=7, sentry_client=faultline/{}, sentry_key=publickey123",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-sentry-envelope")
    );
    // An event with a stack trace is well over the 1 KiB threshold: it travels gzip-compressed (and
    // `envelope()` below decodes it with the test's own gunzip, checking CRC and length).
    assert!(request.is_gzip(), "{:?}", request.headers);
    assert!(
        request
            .header("user-agent")
            .unwrap()
            .starts_with("faultline/")
    );

    let envelope = request.envelope();
    assert_eq!(envelope.headers["event_id"], id.to_string());
    assert!(envelope.headers["sent_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(envelope.headers["sdk"]["name"], "faultline");
    let event = envelope.event().expect("an event item");
    assert_eq!(event["event_id"], id.to_string());
    assert_eq!(event["platform"], "native");
    assert_eq!(event["level"], "error");
    assert_eq!(event["release"], "app@1.0.0");
    assert_eq!(event["environment"], "test");
    assert_eq!(event["server_name"], "host-1");
    assert_eq!(event["tags"]["tenant"], "acme");
    assert_eq!(event["breadcrumbs"]["values"][0]["message"], "config read");
    assert_eq!(event["contexts"]["os"]["type"], "os");
    assert_eq!(event["contexts"]["rust"]["name"], "rustc");
    assert!(event["timestamp"].as_f64().unwrap() > 1.7e9);

    let values = event["exception"]["values"].as_array().unwrap();
    let types: Vec<_> = values.iter().map(|v| v["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ParseIntError", "LoadError"]);
    assert_eq!(values[1]["value"], "could not load the port");
    assert_eq!(values[1]["mechanism"]["type"], "generic");
    assert_eq!(values[1]["mechanism"]["handled"], true);

    let frames = values[1]["stacktrace"]["frames"]
        .as_array()
        .expect("frames");
    assert!(
        frames
            .iter()
            .all(|f| f["instruction_addr"].as_str().unwrap().starts_with("0x"))
    );
    let own = frames
        .iter()
        .find(|f| {
            f["function"]
                .as_str()
                .is_some_and(|n| n.ends_with("report_load_error"))
        })
        .unwrap_or_else(|| panic!("no frame for report_load_error in {frames:#?}"));
    assert!(
        own["filename"]
            .as_str()
            .unwrap()
            .ends_with("tests/http_transport.rs"),
        "{own}"
    );
    assert_eq!(own["lineno"], line, "{own}");
    assert_eq!(own["in_app"], true, "{own}");
    // Oldest call first: the test function calls report_load_error, so it comes before it.
    let pos = |name: &str| {
        frames
            .iter()
            .position(|f| f["function"].as_str().is_some_and(|n| n.ends_with(name)))
    };
    assert!(pos("posts_an_envelope_with_auth_and_event_fields") < pos("report_load_error"));
    // The oldest frame is the thread's entry point in std; the C runtime's frames below it are not resolved.
    let oldest = frames[0]["function"].as_str().unwrap_or_default();
    assert!(oldest.contains("thread_start"), "{oldest}: {frames:#?}");
    assert!(
        !frames
            .iter()
            .any(|f| f["function"].as_str().is_some_and(|n| [
                "start_thread",
                "clone3",
                "__clone3",
                "clone"
            ]
            .contains(&n))),
        "no libc frames: {frames:#?}"
    );
    // The SDK's own frames (and anything between them and the caller) are trimmed: the capturing function is on top.
    let top = frames.last().unwrap();
    assert!(
        top["function"]
            .as_str()
            .is_some_and(|f| f.ends_with("report_load_error")),
        "the SDK's own frames are trimmed, so the caller is on top: {top}"
    );
    // The images frames are symbolicated against, so release builds without debug info still symbolicate.
    let exe = std::env::current_exe().unwrap();
    let images = event["debug_meta"]["images"]
        .as_array()
        .expect("debug_meta images");
    let own = images
        .iter()
        .find(|i| i["code_file"] == exe.to_str().unwrap())
        .unwrap_or_else(|| panic!("no image for {exe:?} in {images:#?}"));
    assert_eq!(own["type"], "elf");
    assert!(
        own["code_id"].as_str().is_some_and(|id| id.len() >= 32),
        "{own}"
    );
    assert_eq!(faultline::stats().sent, 1);
    drop(guard);
}

#[test]
fn a_full_queue_drops_and_counts_without_blocking() {
    let _serial = serial();
    // The server never answers, so the worker is stuck on the first request and the queue fills up.
    let server = TestServer::start(|_, _| Reply::Hang);
    let guard = faultline::try_init(
        ClientOptions::new()
            .spool_dir(None)
            .dsn(server.dsn("k", 1))
            .queue_size(4)
            .shutdown_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    server.wait_for_requests(0, Duration::ZERO);
    let started = Instant::now();
    let ids: Vec<_> = (0..200)
        .map(|i| faultline::capture_message(&format!("message {i}"), Level::Info))
        .collect();
    let elapsed = started.elapsed();
    let dropped = ids.iter().filter(|id| id.is_nil()).count();
    // At most the queue plus the one the worker holds can be accepted.
    assert!(dropped >= 200 - 5, "dropped {dropped}");
    assert_eq!(faultline::stats().queue_overflow, dropped as u64);
    // A bound, not a speed: 200 captures that blocked on the hung server would take forever.
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    let started = Instant::now();
    drop(guard);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn flush_returns_within_its_timeout_when_the_server_never_answers() {
    let _serial = serial();
    let server = TestServer::start(|_, _| Reply::Hang);
    let guard = faultline::try_init(
        ClientOptions::new()
            .spool_dir(None)
            .dsn(server.dsn("k", 1))
            .shutdown_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    faultline::capture_message("into the void", Level::Error);
    assert_eq!(
        server.wait_for_requests(1, Duration::from_secs(10)).len(),
        1
    );
    let started = Instant::now();
    assert!(!faultline::flush(Duration::from_millis(500)));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(450), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    let started = Instant::now();
    drop(guard);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn rate_limited_server_gets_no_requests_during_the_window() {
    let _serial = serial();
    let server = TestServer::start(|_, _| Reply::status(429).header("Retry-After", "60"));
    let guard =
        faultline::try_init(ClientOptions::new().spool_dir(None).dsn(server.dsn("k", 1))).unwrap();
    for i in 0..5 {
        faultline::capture_message(&format!("limited {i}"), Level::Error);
    }
    // The events wait in memory for the limit to end, so a flush cannot finish: it returns within its timeout.
    assert!(!faultline::flush(Duration::from_millis(200)));
    assert!(!faultline::flush(Duration::from_millis(200)));
    assert_eq!(server.requests().len(), 1, "only the first request is made");
    let stats = faultline::stats();
    assert_eq!(
        (stats.rate_limited, stats.ratelimit_backoff, stats.sent),
        (0, 0, 0),
        "nothing dropped: {stats:?}"
    );
    drop(guard);
}

#[test]
fn without_a_spool_failed_envelopes_wait_in_memory_and_are_retried() {
    let _serial = serial();
    let server = TestServer::start(|_, i| match i {
        0 => Reply::status(500),
        1 => Reply::Garbage,
        _ => Reply::ok(),
    });
    let guard =
        faultline::try_init(ClientOptions::new().spool_dir(None).dsn(server.dsn("k", 1))).unwrap();
    let id = faultline::capture_message("kept in memory", Level::Error);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !faultline::flush(Duration::from_secs(2)) && Instant::now() < deadline {}
    let ids: Vec<_> = server
        .requests()
        .iter()
        .filter_map(|r| r.envelope().event())
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, vec![id.to_string(); 3], "500, garbage, then delivered");
    let stats = faultline::stats();
    assert_eq!(
        (stats.sent, stats.send_error, stats.network_error),
        (1, 0, 0),
        "{stats:?}"
    );
    drop(guard);
}

#[test]
fn sampling_and_before_send_are_applied_and_counted() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(
        ClientOptions::new()
            .spool_dir(None)
            .dsn(server.dsn("k", 1))
            .sample_rate(0.0),
    )
    .unwrap();
    assert!(faultline::capture_message("never", Level::Error).is_nil());
    assert_eq!(faultline::stats().sample_rate, 1);
    drop(guard);

    let guard = faultline::try_init(
        ClientOptions::new()
            .spool_dir(None)
            .dsn(server.dsn("k", 1))
            .before_send(|mut event| {
                if event.message.as_deref() == Some("drop me") {
                    return None;
                }
                if event.message.as_deref() == Some("explode") {
                    panic!("before_send bug");
                }
                event.tags.insert("seen".into(), "yes".into());
                Some(event)
            }),
    )
    .unwrap();
    faultline::capture_message("drop me", Level::Error);
    faultline::capture_message("explode", Level::Error);
    faultline::capture_message("keep me", Level::Error);
    assert!(faultline::flush(Duration::from_secs(10)));
    let stats = faultline::stats();
    assert_eq!((stats.before_send, stats.sent), (2, 1), "{stats:?}");
    // The first client's shutdown sent a client report (one event sampled out); only one request carries an event.
    let events: Vec<_> = server
        .requests()
        .iter()
        .filter_map(|r| r.envelope().event())
        .collect();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event["message"], "keep me");
    assert_eq!(event["tags"]["seen"], "yes");
    drop(guard);
}

#[test]
fn a_lone_event_goes_out_without_a_flush_while_the_worker_sleeps() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard =
        faultline::try_init(ClientOptions::new().spool_dir(None).dsn(server.dsn("k", 7))).unwrap();
    // Captures do not wake the worker; it finds events by looking at the queue while it sleeps, so each of these
    // must arrive with no flush and nothing else happening.
    for n in 1..=3 {
        std::thread::sleep(Duration::from_millis(300));
        faultline::capture_message(&format!("lone event {n}"), Level::Warning);
        let requests = server.wait_for_requests(n, Duration::from_secs(10));
        assert_eq!(
            requests.len(),
            n,
            "event {n} was not delivered without a flush"
        );
        let event = requests[n - 1].envelope().event().expect("an event item");
        assert_eq!(event["message"], format!("lone event {n}"));
    }
    drop(guard);
}

#[test]
fn a_steady_stream_slower_than_a_burst_does_not_overflow_a_small_queue() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(
        ClientOptions::new()
            .spool_dir(None)
            .dsn(server.dsn("k", 8))
            .queue_size(20),
    )
    .unwrap();
    // One event every 2 ms: each comes after the worker has stopped looking for the next one and gone back to
    // sleep, and by itself the worker looks at the queue only every 100 ms, when 50 events would have come for a
    // queue of 20. A capture that finds the queue half full must wake it.
    // The worker's first event sets up what every later one reuses; that is not what this is about.
    faultline::capture_message("warm-up", Level::Info);
    assert!(faultline::flush(Duration::from_secs(30)));
    let n = 200;
    for i in 0..n {
        faultline::capture_message(&format!("tick {i}"), Level::Info);
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(faultline::flush(Duration::from_secs(30)));
    let stats = faultline::stats();
    assert_eq!(stats.queue_overflow, 0, "{stats:?}");
    assert_eq!(stats.sent, n + 1, "{stats:?}");
    let received = server.wait_for_requests(n as usize + 1, Duration::from_secs(10));
    assert_eq!(received.len(), n as usize + 1);
    drop(guard);
}

#[test]
fn a_flush_amid_a_steady_stream_returns_once_what_came_before_it_is_sent() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(
        ClientOptions::new()
            .spool_dir(None)
            .dsn(server.dsn("k", 9))
            .queue_size(200),
    )
    .unwrap();
    faultline::capture_message("warm-up", Level::Info);
    assert!(faultline::flush(Duration::from_secs(30)));
    // Another thread captures faster than the worker delivers, so the queue is never empty. The flush owes only
    // what was queued when it started; waiting for the queue to run dry would wait for ever.
    let stop = Arc::new(AtomicBool::new(false));
    let stream = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                faultline::capture_message(&format!("stream {n}"), Level::Info);
                n += 1;
                std::thread::sleep(Duration::from_micros(50));
            }
            n
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let flushed = faultline::flush(Duration::from_secs(20));
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let captured = stream.join().unwrap();
    assert!(
        flushed,
        "the flush gave up after {took:?}, with {captured} captures streaming in"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    drop(guard);
}

#[test]
fn a_second_init_replaces_the_first_after_flushing_it() {
    let _serial = serial();
    let first = TestServer::ok();
    let second = TestServer::ok();
    let guard1 =
        faultline::try_init(ClientOptions::new().spool_dir(None).dsn(first.dsn("k", 1))).unwrap();
    faultline::capture_message("to the first", Level::Info);
    let guard2 =
        faultline::try_init(ClientOptions::new().spool_dir(None).dsn(second.dsn("k", 2))).unwrap();
    // The first client was flushed during the second init.
    assert_eq!(first.requests().len(), 1);
    faultline::capture_message("to the second", Level::Info);
    // Dropping the old guard must not disable its successor.
    drop(guard1);
    assert!(faultline::is_enabled());
    assert!(faultline::flush(Duration::from_secs(10)));
    assert_eq!(second.requests().len(), 1);
    assert_eq!(second.requests()[0].path, "/api/2/envelope/");
    drop(guard2);
    assert!(!faultline::is_enabled());
}

#[test]
fn invalid_configuration_is_an_error_and_init_stays_disabled() {
    let _serial = serial();
    let err = faultline::try_init("https://key@host/not-a-number").unwrap_err();
    assert_eq!(err.to_string(), "invalid DSN: project id is not a number");
    let err = faultline::try_init(
        ClientOptions::new()
            .spool_dir(None)
            .dsn("https://k@h/1")
            .sample_rate(2.0),
    )
    .unwrap_err();
    assert!(err.to_string().contains("sample_rate"), "{err}");
    let guard = faultline::init("not a dsn");
    assert!(!guard.is_enabled());
    assert!(!faultline::is_enabled());
    assert!(faultline::capture_message("nothing", Level::Error).is_nil());
}
