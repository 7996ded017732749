//! Performance monitoring against a loopback server: transactions with nested spans, their sampling and its client
//! reports, errors that point at the span they were captured in, and the trace context every error carries.
//!
//! Every transaction the server receives is held to Relay's rules for transactions (`relay_rules`): one per
//! envelope and never beside an event, the header's `event_id` equal to the payload's, ids of the right form, and
//! every start no later than its end.
//!
//! Every test installs the process-wide client, so they take turns through `serial()`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use faultline::{ClientOptions, Level, SpanStatus};
use serde_json::Value;
use support::{Request, TestServer, serial};

fn options(server: &TestServer) -> ClientOptions {
    ClientOptions::new()
        .dsn(server.dsn("public", 1))
        .spool_dir(None)
        .release("shop@1.2.3")
        .environment("staging")
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len
        && text
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && text.bytes().any(|b| b != b'0')
}

/// Checks one envelope against Relay's rules for transactions; returns its transaction payload, if it has one.
fn relay_rules(request: &Request) -> Option<Value> {
    let envelope = request.envelope();
    let transactions: Vec<&(Value, Vec<u8>)> = envelope
        .items
        .iter()
        .filter(|(h, _)| h["type"] == "transaction")
        .collect();
    if transactions.is_empty() {
        return None;
    }
    assert_eq!(transactions.len(), 1, "one transaction per envelope");
    assert!(
        envelope.item("event").is_none(),
        "a transaction never shares an envelope with an event"
    );
    let (header, payload) = transactions[0];
    assert_eq!(header["length"].as_u64(), Some(payload.len() as u64));
    let t: Value = serde_json::from_slice(payload).expect("a JSON transaction");
    assert_eq!(t["type"], "transaction");
    assert_eq!(
        envelope.headers["event_id"], t["event_id"],
        "header and payload ids"
    );
    assert!(is_hex(t["event_id"].as_str().unwrap(), 32));
    assert!(t["transaction"].as_str().is_some_and(|n| !n.is_empty()));
    let start = t["start_timestamp"].as_f64().expect("a start");
    let end = t["timestamp"].as_f64().expect("an end");
    assert!(start <= end, "the transaction starts before it ends");
    let trace = &t["contexts"]["trace"];
    let trace_id = trace["trace_id"].as_str().unwrap();
    assert!(is_hex(trace_id, 32), "{trace}");
    assert!(is_hex(trace["span_id"].as_str().unwrap(), 16), "{trace}");
    for span in t["spans"].as_array().map_or(&[][..], Vec::as_slice) {
        assert_eq!(span["trace_id"], trace_id, "{span}");
        assert!(is_hex(span["span_id"].as_str().unwrap(), 16), "{span}");
        assert!(
            is_hex(span["parent_span_id"].as_str().unwrap(), 16),
            "{span}"
        );
        let (s, e) = (
            span["start_timestamp"].as_f64().unwrap(),
            span["timestamp"].as_f64().unwrap(),
        );
        assert!(s <= e, "the span starts before it ends: {span}");
        assert!(
            start <= s && e <= end,
            "the span lies within its transaction: {span}"
        );
    }
    Some(t)
}

/// The transactions the server received, each checked by `relay_rules`.
fn transactions(server: &TestServer) -> Vec<Value> {
    server.requests().iter().filter_map(relay_rules).collect()
}

/// The `(reason, category) → quantity` counts in the client reports the server received.
fn reported(server: &TestServer) -> BTreeMap<(String, String), u64> {
    let mut counts = BTreeMap::new();
    for request in server.requests() {
        let envelope = request.envelope();
        if let Some((_, payload)) = envelope.item("client_report") {
            let report: Value = serde_json::from_slice(payload).unwrap();
            for d in report["discarded_events"].as_array().unwrap() {
                let key = (
                    d["reason"].as_str().unwrap().to_owned(),
                    d["category"].as_str().unwrap().to_owned(),
                );
                *counts.entry(key).or_default() += d["quantity"].as_u64().unwrap();
            }
        }
    }
    counts
}

#[test]
fn a_transaction_with_nested_spans_reaches_the_server() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).traces_sample_rate(1.0)).unwrap();
    faultline::configure_scope(|scope| scope.set_tag("region", "eu"));
    let transaction = faultline::start_transaction("GET /orders", "http.server");
    transaction.set_tag("route", "/orders");
    transaction.set_data("items", 3);
    let query = transaction.start_child("db.query", "SELECT * FROM orders");
    let fetch = query.start_child("db.fetch", "rows");
    fetch.set_data("rows", 3);
    fetch.finish();
    query.set_status(SpanStatus::Ok);
    query.finish();
    let render = transaction.start_child("template.render", "orders.html");
    render.set_status(SpanStatus::InternalError);
    render.finish();
    transaction.set_status(SpanStatus::Ok);
    transaction.finish();
    transaction.finish(); // Only the first counts.
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);

    let sent = transactions(&server);
    assert_eq!(sent.len(), 1, "sent once");
    let t = &sent[0];
    assert_eq!(t["transaction"], "GET /orders");
    assert_eq!(t["transaction_info"]["source"], "custom");
    assert_eq!(t["release"], "shop@1.2.3");
    assert_eq!(t["environment"], "staging");
    assert_eq!(t["tags"]["route"], "/orders");
    assert_eq!(t["tags"]["region"], "eu", "the scope's tags");
    let trace = &t["contexts"]["trace"];
    assert_eq!(trace["op"], "http.server");
    assert_eq!(trace["status"], "ok");
    assert_eq!(trace["data"]["items"], 3);
    assert!(trace.get("parent_span_id").is_none(), "a new trace");
    let spans: BTreeMap<&str, &Value> = t["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["op"].as_str().unwrap(), s))
        .collect();
    assert_eq!(spans.len(), 3);
    assert_eq!(spans["db.query"]["parent_span_id"], trace["span_id"]);
    assert_eq!(
        spans["db.fetch"]["parent_span_id"],
        spans["db.query"]["span_id"]
    );
    assert_eq!(spans["template.render"]["parent_span_id"], trace["span_id"]);
    assert_eq!(spans["db.query"]["description"], "SELECT * FROM orders");
    assert_eq!(spans["db.fetch"]["data"]["rows"], 3);
    assert_eq!(spans["template.render"]["status"], "internal_error");
    assert_eq!(spans["db.fetch"]["status"], "ok");
}

#[test]
fn a_transaction_with_a_hundred_spans_reaches_the_server() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).traces_sample_rate(1.0)).unwrap();
    let transaction = faultline::start_transaction("batch", "task");
    for i in 0..100 {
        transaction
            .start_child("step", format!("step {i}"))
            .finish();
    }
    transaction.finish();
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let sent = transactions(&server);
    assert_eq!(sent.len(), 1);
    let descriptions: BTreeSet<&str> = sent[0]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["description"].as_str().unwrap())
        .collect();
    assert_eq!(descriptions.len(), 100);
    assert!(descriptions.contains("step 99"));
}

#[test]
fn unfinished_spans_and_transactions_end_as_the_protocol_says() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).traces_sample_rate(1.0)).unwrap();
    // A child still open when its transaction finishes ends with it, as `deadline_exceeded`.
    let transaction = faultline::start_transaction("finished", "task");
    let open = transaction.start_child("slow", "never finished");
    transaction.finish();
    drop(open);
    // A transaction whose handles all go without a finish is sent as `cancelled`, and so is a span.
    {
        let dropped = faultline::start_transaction("dropped", "task");
        let _child = dropped.start_child("child", "dropped too");
        let grandchild = _child.start_child("grandchild", "finished");
        grandchild.finish();
    }
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let sent: BTreeMap<String, Value> = transactions(&server)
        .into_iter()
        .map(|t| (t["transaction"].as_str().unwrap().to_owned(), t))
        .collect();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let finished = &sent["finished"];
    assert_eq!(finished["contexts"]["trace"]["status"], "ok");
    assert_eq!(finished["spans"][0]["status"], "deadline_exceeded");
    assert_eq!(finished["spans"][0]["timestamp"], finished["timestamp"]);
    let dropped = &sent["dropped"];
    assert_eq!(dropped["contexts"]["trace"]["status"], "cancelled");
    let statuses: BTreeMap<&str, &str> = dropped["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["op"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        BTreeMap::from([("child", "cancelled"), ("grandchild", "ok")])
    );
}

#[test]
fn errors_point_at_the_current_span_and_otherwise_share_the_scope_trace() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).traces_sample_rate(1.0)).unwrap();
    // No span: two errors share the scope's trace, whatever their threads.
    faultline::capture_message("before", Level::Error);
    std::thread::spawn(|| faultline::capture_message("elsewhere", Level::Error))
        .join()
        .unwrap();
    let transaction = faultline::start_transaction("job", "task");
    let span = transaction.start_child("step", "one");
    faultline::configure_scope(|scope| scope.set_span(Some(span.clone().into())));
    faultline::capture_message("inside", Level::Error);
    faultline::configure_scope(|scope| scope.set_span(None));
    span.finish();
    transaction.finish();
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let events: BTreeMap<String, Value> = server
        .requests()
        .iter()
        .filter_map(|r| r.envelope().event())
        .map(|e| (e["message"].as_str().unwrap().to_owned(), e))
        .collect();
    let trace = |name: &str| events[name]["contexts"]["trace"].clone();
    assert!(is_hex(trace("before")["trace_id"].as_str().unwrap(), 32));
    assert_eq!(trace("before")["trace_id"], trace("elsewhere")["trace_id"]);
    assert_eq!(
        trace("inside")["trace_id"],
        transaction.trace_id().to_string()
    );
    assert_eq!(trace("inside")["span_id"], span.span_id().to_string());
    assert_eq!(
        trace("inside")["parent_span_id"],
        transaction.span_id().to_string()
    );
    assert_eq!(trace("inside")["op"], "step");
    assert_ne!(trace("inside")["trace_id"], trace("before")["trace_id"]);
}

#[test]
fn unsampled_transactions_send_nothing_and_are_counted() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(
        options(&server)
            .traces_sample_rate(0.0)
            .client_report_interval(Duration::from_millis(100)),
    )
    .unwrap();
    for _ in 0..3 {
        let transaction = faultline::start_transaction("ignored", "task");
        assert!(!transaction.is_sampled());
        let child = transaction.start_child("step", "one");
        assert!(!child.is_sampled());
        child.finish();
        transaction.finish();
    }
    // Without a rate, transactions are off: not counted either.
    std::thread::sleep(Duration::from_millis(300));
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    assert!(transactions(&server).is_empty());
    let counts = reported(&server);
    let count = |category: &str| {
        counts
            .get(&("sample_rate".into(), category.into()))
            .copied()
    };
    assert_eq!(count("transaction"), Some(3), "{counts:?}");
    assert_eq!(
        count("span"),
        Some(3),
        "the transactions' own spans: {counts:?}"
    );
}

#[test]
fn without_a_rate_or_with_errors_only_nothing_is_recorded_or_counted() {
    let _serial = serial();
    for options in [
        options(&TestServer::ok()),
        options(&TestServer::ok())
            .traces_sample_rate(1.0)
            .errors_only(true),
    ] {
        let server = TestServer::ok();
        let guard = faultline::try_init(
            options
                .dsn(server.dsn("public", 1))
                .client_report_interval(Duration::from_millis(50)),
        )
        .unwrap();
        let transaction = faultline::start_transaction("off", "task");
        assert!(!transaction.is_sampled());
        transaction.finish();
        faultline::capture_message("still linked", Level::Error);
        std::thread::sleep(Duration::from_millis(200));
        assert!(faultline::flush(Duration::from_secs(10)));
        drop(guard);
        assert!(transactions(&server).is_empty());
        assert!(reported(&server).is_empty(), "{:?}", reported(&server));
        let event = server
            .requests()
            .iter()
            .find_map(|r| r.envelope().event())
            .expect("the error");
        assert!(is_hex(
            event["contexts"]["trace"]["trace_id"].as_str().unwrap(),
            32
        ));
    }
}

#[test]
fn an_invalid_traces_sample_rate_is_refused() {
    for rate in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
        let err = faultline::try_init(
            ClientOptions::new()
                .dsn("http://k@127.0.0.1:9/1")
                .traces_sample_rate(rate),
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("invalid traces_sample_rate"),
            "{err}"
        );
    }
}

#[test]
fn transactions_are_scrubbed_like_events() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).traces_sample_rate(1.0)).unwrap();
    let transaction = faultline::start_transaction("login", "http.server");
    transaction.set_tag("auth_token", "t-123");
    transaction.set_data("password", "hunter4");
    let span = transaction.start_child(
        "http.client",
        "GET https://api:s3cret@example.com/v1?password=hunter4",
    );
    span.set_data("api_key", "k-1");
    span.set_data("rows", 3);
    span.finish();
    transaction.finish();
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let sent = transactions(&server);
    let t = &sent[0];
    let text = serde_json::to_string(t).unwrap();
    for secret in ["t-123", "hunter4", "s3cret", "k-1"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(t["tags"]["auth_token"], "[Filtered]");
    assert_eq!(t["contexts"]["trace"]["data"]["password"], "[Filtered]");
    assert_eq!(t["spans"][0]["data"]["rows"], 3, "the rest stays");
    assert_eq!(
        t["spans"][0]["description"],
        "GET https://api:[Filtered]@example.com/v1?password=[Filtered]"
    );
}

/// Accepts every envelope and keeps nothing.
struct Discard;

impl faultline::transport::Transport for Discard {
    fn send_envelope(&self, _: &faultline::protocol::Envelope) -> faultline::transport::Outcome {
        faultline::transport::Outcome::Sent
    }
}

#[test]
fn traces_sample_rate_samples_its_share_of_transactions() {
    let _serial = serial();
    for rate in [0.0, 0.3, 1.0] {
        let guard = faultline::try_init(
            ClientOptions::new()
                .transport(Discard)
                .spool_dir(None)
                .traces_sample_rate(rate),
        )
        .unwrap();
        let n = 100_000;
        let sampled = (0..n)
            .filter(|_| {
                let transaction = faultline::start_transaction("share", "test");
                let sampled = transaction.is_sampled();
                transaction.finish();
                sampled
            })
            .count();
        drop(guard);
        let share = sampled as f64 / n as f64;
        assert!((share - rate).abs() <= 0.01, "rate {rate}: {share}");
        if rate == 0.0 || rate == 1.0 {
            assert_eq!(share, rate);
        }
    }
}

#[test]
fn a_transaction_whose_last_handle_goes_while_the_scope_changes_does_not_hang() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).traces_sample_rate(1.0)).unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // The scope holds the only handle; replacing it drops the transaction inside the scope's change.
        let transaction = faultline::start_transaction("replaced", "task");
        faultline::configure_scope(|scope| scope.set_span(Some(transaction.into())));
        faultline::configure_scope(|scope| scope.set_span(None));
        // The same through a pushed scope that is popped, and a `finish` from inside a scope callback.
        {
            let _pushed = faultline::push_scope();
            let popped = faultline::start_transaction("popped", "task");
            faultline::configure_scope(|scope| scope.set_span(Some(popped.into())));
        }
        let inside = faultline::start_transaction("inside", "task");
        faultline::configure_scope(|_| inside.finish());
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(Duration::from_secs(10))
        .expect("no deadlock");
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let names: BTreeSet<String> = transactions(&server)
        .iter()
        .map(|t| t["transaction"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["replaced".into(), "popped".into(), "inside".into()])
    );
}

#[test]
fn span_times_follow_the_program_in_order_and_length() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).traces_sample_rate(1.0)).unwrap();
    let before = std::time::SystemTime::now();
    let transaction = faultline::start_transaction("timed", "task");
    let first = transaction.start_child("sleep", "first");
    std::thread::sleep(Duration::from_millis(30));
    first.finish();
    // A span ended on another thread, as a span handed to a worker pool is.
    let second = transaction.start_child("sleep", "second");
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        second.finish();
    })
    .join()
    .unwrap();
    transaction.finish();
    let after = std::time::SystemTime::now();
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let sent = transactions(&server);
    assert_eq!(sent.len(), 1);
    let t = &sent[0];
    let secs = |time: std::time::SystemTime| {
        time.duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    // Times are wall-clock times, rounded to the microsecond on the wire.
    let (start, end) = (
        t["start_timestamp"].as_f64().unwrap(),
        t["timestamp"].as_f64().unwrap(),
    );
    assert!(
        secs(before) - 1e-6 <= start && end <= secs(after) + 1e-6,
        "{t}"
    );
    let span = |description: &str| {
        let span = t["spans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["description"] == description)
            .unwrap_or_else(|| panic!("no span {description}: {t}"));
        (
            span["start_timestamp"].as_f64().unwrap(),
            span["timestamp"].as_f64().unwrap(),
        )
    };
    let (first, second) = (span("first"), span("second"));
    assert!(first.1 - first.0 >= 0.030 - 2e-6, "{first:?}");
    assert!(second.1 - second.0 >= 0.010 - 2e-6, "{second:?}");
    assert!(
        first.1 <= second.0 + 2e-6,
        "the second starts after the first ends: {t}"
    );
    assert!(end - start >= 0.040 - 2e-6, "{t}");
}

#[test]
fn a_transaction_keeps_its_first_thousand_spans_and_counts_the_rest_every_time() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).traces_sample_rate(1.0)).unwrap();
    // Three in a row: the later ones fill slots that the worker emptied and handed back.
    for round in 0..3 {
        let transaction = faultline::start_transaction(format!("batch {round}"), "task");
        for i in 0..1_100 {
            let span = transaction.start_child("step", format!("{round}/{i}"));
            span.set_data("i", i);
            span.finish();
        }
        transaction.finish();
        assert!(faultline::flush(Duration::from_secs(10)));
    }
    drop(guard);
    let sent = transactions(&server);
    assert_eq!(sent.len(), 3);
    for t in &sent {
        let round = t["transaction"]
            .as_str()
            .unwrap()
            .trim_start_matches("batch ");
        let spans = t["spans"].as_array().unwrap();
        assert_eq!(spans.len(), 1_000, "{round}");
        for (i, span) in spans.iter().enumerate() {
            assert_eq!(span["description"], format!("{round}/{i}"));
            assert_eq!(span["data"]["i"], i);
            assert_eq!(span["status"], "ok");
        }
    }
    assert_eq!(
        reported(&server).get(&("buffer_overflow".to_owned(), "span".to_owned())),
        Some(&300)
    );
}

#[test]
fn a_span_handed_to_other_threads_ends_once_when_its_last_handle_goes() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server).traces_sample_rate(1.0)).unwrap();
    let transaction = faultline::start_transaction("threads", "task");
    // Eight threads each drop a clone of two spans. The first span is still open after that, and its finish
    // makes it `ok`; the second ends as `cancelled` when its last handle goes. Eight other spans are finished by
    // two threads at once and end once, as `ok`.
    let kept = transaction.start_child("shared", "finished after its clones went");
    let dropped = transaction.start_child("shared", "cancelled");
    let finished: Vec<faultline::Span> = (0..8)
        .map(|i| transaction.start_child("raced", format!("finished {i}")))
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..8 {
            let clones = (kept.clone(), dropped.clone());
            scope.spawn(move || drop(clones));
        }
        for _ in 0..2 {
            let finished = finished.clone();
            scope.spawn(move || finished.iter().for_each(faultline::Span::finish));
        }
    });
    kept.finish();
    drop((kept, dropped, finished));
    // A clone outlives its transaction: it changes nothing once the transaction has finished.
    let late = transaction.start_child("late", "closed by its transaction");
    let late_clone = late.clone();
    transaction.finish();
    late.set_status(SpanStatus::InternalError);
    late.finish();
    drop(late_clone);
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let sent = transactions(&server);
    assert_eq!(sent.len(), 1);
    let statuses: BTreeMap<&str, &str> = sent[0]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["description"].as_str().unwrap(),
                s["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(statuses.len(), 11, "{statuses:?}");
    assert_eq!(statuses["finished after its clones went"], "ok");
    assert_eq!(statuses["cancelled"], "cancelled");
    assert_eq!(statuses["closed by its transaction"], "deadline_exceeded");
    for i in 0..8 {
        assert_eq!(statuses[format!("finished {i}").as_str()], "ok");
    }
}
