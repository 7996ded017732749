//! Delivery that loses nothing, against a fault-injecting loopback server: outages, restarts, SIGKILL, rate
//! limits, bounded shutdown, and a spool that is corrupt, full or unusable.
//!
//! Every test here installs the process-wide client, so they take turns through `serial()`. Tests that need a
//! process to die or restart run this binary again as a child (`child_*` tests do nothing unless started so).

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use faultline::{ClientOptions, Level};
use support::{Reply, Request, TestServer, dsn_at, serial, unused_addr};

fn options(dsn: &str, spool: &Path) -> ClientOptions {
    ClientOptions::new()
        .dsn(dsn)
        .spool_dir(Some(spool.to_path_buf()))
        .shutdown_timeout(Duration::from_secs(2))
        .http_timeout(Duration::from_secs(2))
}

/// The event ids in the requests' event items.
fn event_ids(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .filter_map(|r| r.envelope().event())
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect()
}

/// How many envelopes the spool directory holds, waiting or claimed (`*.envelope`, `*.envelope.claimed-…`); a
/// temporary file that is still being written is not one yet.
fn spool_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter(|e| e.file_name().to_string_lossy().contains(".envelope"))
                .count()
        })
        .unwrap_or(0)
}

/// Runs the `child_*` test `name` of this binary in a new process with `env`.
fn child(name: &str, env: &[(&str, String)]) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("FAULTLINE_DELIVERY_CHILD", name)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        command.env(k, v);
    }
    command.spawn().unwrap()
}

fn is_child(name: &str) -> bool {
    std::env::var("FAULTLINE_DELIVERY_CHILD").as_deref() == Ok(name)
}

#[test]
fn an_outage_loses_nothing_and_duplicates_nothing() {
    let _serial = serial();
    let spool = tempfile::tempdir().unwrap();
    let addr = unused_addr();
    let guard =
        faultline::try_init(options(&dsn_at(addr, "k", 1), spool.path()).queue_size(1000)).unwrap();
    let mut captured = BTreeSet::new();
    for i in 0..1000 {
        let id = faultline::capture_message(&format!("during the outage {i}"), Level::Error);
        assert!(!id.is_nil(), "event {i} was dropped");
        captured.insert(id.to_string());
    }
    // Nothing can be delivered while the server is down; everything waits on disk.
    assert!(!faultline::flush(Duration::from_secs(2)));
    let deadline = Instant::now() + Duration::from_secs(60);
    while spool_files(spool.path()) < 1000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(spool_files(spool.path()), 1000);

    let server = TestServer::start_at(addr, |_, _| Reply::ok());
    let deadline = Instant::now() + Duration::from_secs(120);
    while !faultline::flush(Duration::from_secs(5)) && Instant::now() < deadline {}
    let received = event_ids(&server.requests());
    let unique: BTreeSet<_> = received.iter().cloned().collect();
    println!(
        "outage: captured {}, received {}, unique {}, duplicates {}",
        captured.len(),
        received.len(),
        unique.len(),
        received.len() - unique.len()
    );
    assert_eq!(unique, captured);
    assert_eq!(received.len(), 1000, "no duplicates");
    assert_eq!(faultline::stats().sent, 1000);
    assert_eq!(spool_files(spool.path()), 0);
    drop(guard);
}

#[test]
fn child_capture_while_down() {
    if !is_child("child_capture_while_down") {
        return;
    }
    let dsn = std::env::var("DSN").unwrap();
    let spool = std::env::var("SPOOL").unwrap();
    let n: usize = std::env::var("N").unwrap().parse().unwrap();
    let guard = faultline::try_init(
        options(&dsn, Path::new(&spool)).shutdown_timeout(Duration::from_millis(500)),
    )
    .unwrap();
    for i in 0..n {
        let id = faultline::capture_message(&format!("from the first process {i}"), Level::Error);
        println!("{id}");
    }
    if std::env::var("HANG").is_ok() {
        // Wait until everything is on disk, say so, and wait to be killed.
        while spool_files(Path::new(&spool)) < n {
            std::thread::sleep(Duration::from_millis(10));
        }
        println!("spooled");
        std::thread::sleep(Duration::from_secs(600));
    }
    drop(guard);
}

fn read_ids(child: Child) -> BTreeSet<String> {
    let output = child.wait_with_output().unwrap();
    ids_in(&String::from_utf8(output.stdout).unwrap())
}

/// Brings the server at `addr` back up, starts a client on the same spool as the next process would, and returns
/// the event ids the server received once everything was flushed (with the client still running).
fn restart_and_collect(
    addr: std::net::SocketAddr,
    dsn: &str,
    spool: &Path,
) -> (Vec<String>, faultline::InitGuard) {
    let server = TestServer::start_at(addr, |_, _| Reply::ok());
    let guard = faultline::try_init(options(dsn, spool)).unwrap();
    assert!(faultline::flush(Duration::from_secs(30)));
    (event_ids(&server.requests()), guard)
}

/// The event ids in a child's output (the test harness may print on the same line, so look at every word).
fn ids_in(text: &str) -> BTreeSet<String> {
    text.split_whitespace()
        .filter(|w| w.len() == 32 && w.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
        .collect()
}

#[test]
fn events_spooled_by_one_process_are_sent_by_the_next() {
    let _serial = serial();
    let spool = tempfile::tempdir().unwrap();
    let addr = unused_addr();
    let dsn = dsn_at(addr, "k", 1);
    let env = [
        ("DSN", dsn.clone()),
        ("SPOOL", spool.path().display().to_string()),
        ("N", "25".to_owned()),
    ];
    let first = child("child_capture_while_down", &env);
    let captured = read_ids(first);
    assert_eq!(captured.len(), 25);
    assert_eq!(
        spool_files(spool.path()),
        25,
        "the first process left its events on disk"
    );

    let (received, guard) = restart_and_collect(addr, &dsn, spool.path());
    println!(
        "restart: captured {}, received {}",
        captured.len(),
        received.len()
    );
    assert_eq!(received.iter().cloned().collect::<BTreeSet<_>>(), captured);
    assert_eq!(received.len(), 25, "each once");
    drop(guard);
}

#[test]
fn sigkill_with_a_full_spool_loses_nothing() {
    let _serial = serial();
    let spool = tempfile::tempdir().unwrap();
    let addr = unused_addr();
    let dsn = dsn_at(addr, "k", 1);
    let env = [
        ("DSN", dsn.clone()),
        ("SPOOL", spool.path().display().to_string()),
        ("N", "40".to_owned()),
        ("HANG", "1".to_owned()),
    ];
    let mut victim = child("child_capture_while_down", &env);
    // Read the ids and the "spooled" line, then kill it without any chance to clean up.
    let mut out = String::new();
    {
        use std::io::BufRead;
        let stdout = victim.stdout.take().unwrap();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if line.ends_with("spooled") {
                break;
            }
            out.push_str(&line);
            out.push('\n');
        }
    }
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();
    let captured = ids_in(&out);
    assert_eq!(captured.len(), 40);

    let (received, guard) = restart_and_collect(addr, &dsn, spool.path());
    assert_eq!(received.iter().cloned().collect::<BTreeSet<_>>(), captured);
    assert_eq!(received.len(), 40);
    drop(guard);
}

#[test]
fn rate_limited_categories_get_no_requests_and_are_reported() {
    let _serial = serial();
    let spool = tempfile::tempdir().unwrap();
    let server = TestServer::start(|_, i| {
        if i == 0 {
            Reply::ok().header(
                "X-Sentry-Rate-Limits",
                "60:error;default:organization:quota",
            )
        } else {
            Reply::ok()
        }
    });
    let guard = faultline::try_init(
        options(&server.dsn("k", 1), spool.path())
            .client_report_interval(Duration::from_millis(300)),
    )
    .unwrap();
    faultline::capture_message("first", Level::Error);
    assert!(faultline::flush(Duration::from_secs(10)));
    for i in 0..7 {
        faultline::capture_message(&format!("limited {i}"), Level::Error);
    }
    assert!(faultline::flush(Duration::from_secs(10)));
    assert_eq!(faultline::stats().ratelimit_backoff, 7);
    // The report goes out on its own after the interval; client reports are never rate limited.
    let requests = server.wait_for_requests(2, Duration::from_secs(10));
    assert_eq!(
        event_ids(&requests).len(),
        1,
        "no request carried a limited event"
    );
    let report = requests[1]
        .envelope()
        .items
        .iter()
        .find(|(h, _)| h["type"] == "client_report")
        .map(|(_, p)| serde_json::from_slice::<serde_json::Value>(p).unwrap())
        .expect("a client report");
    let entry = report["discarded_events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["reason"] == "ratelimit_backoff")
        .unwrap();
    assert_eq!(entry["quantity"], 7);
    assert_eq!(entry["category"], "error");
    drop(guard);
}

/// The `(reason, quantity)` pairs in the client reports of `requests`.
fn reported(requests: &[Request]) -> Vec<(String, u64)> {
    let mut counts = Vec::new();
    for request in requests {
        let envelope = request.envelope();
        for (_, payload) in envelope
            .items
            .iter()
            .filter(|(h, _)| h["type"] == "client_report")
        {
            let report: serde_json::Value = serde_json::from_slice(payload).unwrap();
            for d in report["discarded_events"].as_array().unwrap() {
                let reason = d["reason"].as_str().unwrap().to_owned();
                counts.push((reason, d["quantity"].as_u64().unwrap()));
            }
        }
    }
    counts
}

#[test]
fn counts_riding_on_an_envelope_that_fails_reach_the_server_later() {
    for spooled in [true, false] {
        let _serial = serial();
        let spool = tempfile::tempdir().unwrap();
        // The first request fails with a retryable 503; everything after it is accepted.
        let server = TestServer::start(|_, i| {
            if i == 0 {
                Reply::status(503)
            } else {
                Reply::ok()
            }
        });
        let mut options = options(&server.dsn("k", 1), spool.path())
            .client_report_interval(Duration::from_secs(3600))
            .before_send(|event| (event.message.as_deref() != Some("dropped")).then_some(event));
        if !spooled {
            options = options.spool_dir(None);
        }
        let guard = faultline::try_init(options).unwrap();
        faultline::capture_message("dropped", Level::Error);
        // Dropped by before_send (counted) before the next event is even captured: its count rides on that one.
        assert!(faultline::flush(Duration::from_secs(10)));
        faultline::capture_message("kept", Level::Error);
        assert!(
            faultline::flush(Duration::from_secs(10)),
            "spooled: {spooled}"
        );
        drop(guard);
        let requests = server.requests();
        assert!(
            requests.len() >= 2,
            "spooled: {spooled}: {} requests",
            requests.len()
        );
        assert!(
            requests[0].envelope().item("client_report").is_some(),
            "spooled: {spooled}: the failed request carried the report"
        );
        assert_eq!(
            event_ids(&requests[1..]).len(),
            1,
            "spooled: {spooled}: the event went out again"
        );
        assert_eq!(
            reported(&requests[1..]),
            [("before_send".to_owned(), 1)],
            "spooled: {spooled}: the count reached the server once"
        );
    }
}

#[test]
fn a_429_holds_everything_back_for_its_retry_after_and_loses_nothing() {
    let _serial = serial();
    let spool = tempfile::tempdir().unwrap();
    let server = TestServer::start(|_, i| {
        if i == 0 {
            Reply::status(429).header("Retry-After", "2")
        } else {
            Reply::ok()
        }
    });
    let guard = faultline::try_init(options(&server.dsn("k", 1), spool.path())).unwrap();
    let mut ids: Vec<String> = (0..5)
        .map(|i| faultline::capture_message(&format!("m{i}"), Level::Error).to_string())
        .collect();
    for _ in 0..20 {
        assert!(!faultline::flush(Duration::from_millis(50)));
    }
    assert_eq!(
        server.requests().len(),
        1,
        "no request, flush or not, before Retry-After"
    );
    assert_eq!(spool_files(spool.path()), 5, "the events wait on disk");
    let requests = server.wait_for_requests(6, Duration::from_secs(10));
    let mut received = event_ids(&requests[1..]);
    received.sort();
    ids.sort();
    assert_eq!(received, ids, "all five arrive once the limit ends");
    assert!(faultline::flush(Duration::from_secs(10)));
    let stats = faultline::stats();
    assert_eq!(
        (stats.rate_limited, stats.ratelimit_backoff, stats.sent),
        (0, 0, 5),
        "{stats:?}"
    );
    drop(guard);
}

#[test]
fn server_errors_are_retried_until_they_succeed() {
    let _serial = serial();
    let spool = tempfile::tempdir().unwrap();
    let server = TestServer::start(|_, i| match i {
        0 => Reply::status(503),
        1 => Reply::Close,
        2 => Reply::status(500),
        3 => Reply::Garbage,
        4 => Reply::status(408),
        _ => Reply::ok(),
    });
    let guard = faultline::try_init(options(&server.dsn("k", 1), spool.path())).unwrap();
    let id = faultline::capture_message("persistent", Level::Error);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !faultline::flush(Duration::from_secs(2)) && Instant::now() < deadline {}
    let received = event_ids(&server.requests());
    assert_eq!(
        received,
        vec![id.to_string(); 6],
        "five failures (503, no answer, 500, garbage, 408), then delivered once"
    );
    assert_eq!(faultline::stats().sent, 1);
    drop(guard);
}

#[test]
fn permanent_rejections_are_dropped_and_counted() {
    let _serial = serial();
    let spool = tempfile::tempdir().unwrap();
    let server = TestServer::start(|_, i| match i {
        0 => Reply::status(400),
        1 => Reply::status(413),
        _ => Reply::ok(),
    });
    let guard = faultline::try_init(options(&server.dsn("k", 1), spool.path())).unwrap();
    for i in 0..3 {
        faultline::capture_message(&format!("m{i}"), Level::Error);
        assert!(faultline::flush(Duration::from_secs(10)));
    }
    let stats = faultline::stats();
    assert_eq!((stats.send_error, stats.sent), (2, 1), "{stats:?}");
    assert_eq!(
        server.requests().len(),
        3,
        "a rejected envelope is not sent again"
    );
    assert_eq!(spool_files(spool.path()), 0);
    drop(guard);
}

#[test]
fn shutdown_is_bounded_against_servers_that_hang_or_trickle_and_keeps_what_it_could_not_send() {
    let _serial = serial();
    for (name, reply) in [
        ("hang", Reply::Hang),
        (
            "trickle",
            Reply::Trickle {
                per_byte: Duration::from_millis(500),
            },
        ),
    ] {
        let spool = tempfile::tempdir().unwrap();
        // The first request is answered, so that the worker knows the spool is empty and the server up, and sends the
        // next envelope straight away with its copy in the in-flight slot; that one hangs or trickles.
        let reply = std::sync::Arc::new(Mutex::new(Some(reply)));
        let server = TestServer::start(move |_, i| match i {
            0 => Reply::ok(),
            _ => reply.lock().unwrap().take().unwrap_or(Reply::Hang),
        });
        let guard = faultline::try_init(
            options(&server.dsn("k", 1), spool.path())
                .shutdown_timeout(Duration::from_millis(800))
                .http_timeout(Duration::from_secs(30))
                .before_send(|event| {
                    (event.message.as_deref() != Some("dropped")).then_some(event)
                }),
        )
        .unwrap();
        faultline::capture_message("answered", Level::Error);
        assert!(faultline::flush(Duration::from_secs(10)), "{name}");
        // A discard, so that the request that hangs carries a client report.
        faultline::capture_message("dropped", Level::Error);
        for i in 0..20 {
            faultline::capture_message(&format!("{name} {i}"), Level::Error);
        }
        server.wait_for_requests(2, Duration::from_secs(10));
        let started = Instant::now();
        assert!(!faultline::flush(Duration::from_millis(500)));
        let flush_took = started.elapsed();
        let started = Instant::now();
        drop(guard);
        let drop_took = started.elapsed();
        println!("{name}: flush returned after {flush_took:?}, drop after {drop_took:?}");
        assert!(
            flush_took < Duration::from_millis(500 + 1000),
            "{name}: flush took {flush_took:?}"
        );
        assert!(
            drop_took < Duration::from_millis(800 + 1000),
            "{name}: drop took {drop_took:?}"
        );
        // Everything that was not sent is on disk, the request in flight included.
        assert_eq!(spool_files(spool.path()), 20, "{name}");
        let hung = &server.requests()[1];
        assert!(
            hung.envelope().item("client_report").is_some(),
            "{name}: the request in flight carried the report"
        );
        // But not its client report: that request may still reach the server, and the report's counts must not
        // arrive a second time from the file.
        for file in std::fs::read_dir(spool.path()).unwrap() {
            let path = file.unwrap().path();
            if path.is_dir() {
                // `crashes/` and the like: not envelopes.
                continue;
            }
            let bytes = std::fs::read(path).unwrap();
            let envelope = support::Envelope::parse(&bytes).unwrap();
            assert!(envelope.item("client_report").is_none(), "{name}");
        }
    }
}

#[test]
fn corrupt_spool_files_are_moved_aside_and_the_rest_is_sent() {
    let _serial = serial();
    let spool = tempfile::tempdir().unwrap();
    let addr = unused_addr();
    let dsn = dsn_at(addr, "k", 1);
    // Two good envelopes from an earlier process.
    let env = [
        ("DSN", dsn.clone()),
        ("SPOOL", spool.path().display().to_string()),
        ("N", "2".to_owned()),
    ];
    let captured = read_ids(child("child_capture_while_down", &env));
    // And damage: garbage, a truncated copy of a good file, and a copy whose event is damaged inside intact framing,
    // named like spool files older than the rest.
    let good = std::fs::read_dir(spool.path())
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.file_type().unwrap().is_file())
        .unwrap()
        .path();
    let bytes = std::fs::read(&good).unwrap();
    let old_name = |n: u32| format!("{n:020}-{:010}-{:010}.envelope", 1, n);
    std::fs::write(spool.path().join(old_name(1)), b"not an envelope\n").unwrap();
    std::fs::write(spool.path().join(old_name(2)), &bytes[..bytes.len() / 2]).unwrap();
    let mut damaged = bytes.clone();
    let end = damaged.len() - 1; // the payload's closing brace, before the last newline
    damaged[end - 10..end].fill(b'@');
    std::fs::write(spool.path().join(old_name(3)), &damaged).unwrap();
    assert_eq!(spool_files(spool.path()), 5);

    let (received, guard) = restart_and_collect(addr, &dsn, spool.path());
    let received: BTreeSet<_> = received.into_iter().collect();
    assert_eq!(received, captured);
    assert_eq!(faultline::stats().spool_corrupt, 3);
    assert_eq!(
        spool_files(spool.path()),
        0,
        "the damaged files left the spool"
    );
    assert_eq!(
        spool_files(&spool.path().join("corrupt")),
        3,
        "and were kept aside"
    );
    drop(guard);
}

#[test]
fn a_full_spool_evicts_the_oldest_and_counts_them() {
    let _serial = serial();
    let spool = tempfile::tempdir().unwrap();
    let addr = unused_addr();
    let guard =
        faultline::try_init(options(&dsn_at(addr, "k", 1), spool.path()).spool_max_files(10))
            .unwrap();
    let ids: Vec<_> = (0..30)
        .map(|i| faultline::capture_message(&format!("m{i}"), Level::Error).to_string())
        .collect();
    faultline::flush(Duration::from_secs(2));
    assert_eq!(spool_files(spool.path()), 10);
    assert_eq!(faultline::stats().cache_overflow, 20);
    let server = TestServer::start_at(addr, |_, _| Reply::ok());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !faultline::flush(Duration::from_secs(2)) && Instant::now() < deadline {}
    let received: BTreeSet<_> = event_ids(&server.requests()).into_iter().collect();
    let newest: BTreeSet<_> = ids[20..].iter().cloned().collect();
    assert_eq!(received, newest, "the newest ten survive");
    drop(guard);
}

#[test]
fn an_unusable_spool_directory_is_reported_and_events_still_go_out() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let server = TestServer::ok();
    // A directory cannot be created under a regular file, whoever runs the test.
    let guard = faultline::try_init(options(&server.dsn("k", 1), &file.join("spool"))).unwrap();
    faultline::capture_message("still delivered", Level::Error);
    assert!(faultline::flush(Duration::from_secs(10)));
    assert_eq!(event_ids(&server.requests()).len(), 1);
    drop(guard);
}
