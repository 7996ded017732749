//! Distributed traces across services: the headers faultline writes for an outgoing request, read back by
//! `continue_from_headers` in a second client; the continued trace's sampling decision and dynamic sampling context;
//! W3C `traceparent`; strict continuation by organisation; and malformed headers, which start fresh traces.
//!
//! Every test installs the process-wide client, so they take turns through `serial()`.

mod support;

use std::time::Duration;

use faultline::{ClientOptions, TraceId};
use serde_json::Value;
use support::{TestServer, serial};

fn options(server: &TestServer, key: &str) -> ClientOptions {
    ClientOptions::new()
        .dsn(server.dsn(key, 1))
        .spool_dir(None)
        .release("svc@1")
        .environment("prod")
}

/// The headers of one outgoing request as owned pairs.
fn pairs(headers: &faultline::TraceHeaders) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

fn borrowed(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

/// The transaction payloads and envelope headers the server received.
fn transactions(server: &TestServer) -> Vec<(Value, Value)> {
    server
        .requests()
        .iter()
        .filter_map(|r| {
            let envelope = r.envelope();
            let (_, payload) = envelope.item("transaction")?;
            Some((
                envelope.headers.clone(),
                serde_json::from_slice(payload).unwrap(),
            ))
        })
        .collect()
}

#[test]
fn outgoing_headers_continue_in_a_second_client() {
    let _serial = serial();
    // Service A: a sampled transaction makes a request from inside a span.
    let server_a = TestServer::ok();
    let guard = faultline::try_init(options(&server_a, "keyofa").traces_sample_rate(1.0)).unwrap();
    let transaction = faultline::start_transaction("checkout", "http.server");
    let call = transaction.start_child("http.client", "POST /charge");
    let headers = pairs(&call.trace_headers());
    call.finish();
    transaction.finish();
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["sentry-trace", "baggage"],
        "no traceparent unless asked"
    );
    let sentry_trace = &headers[0].1;
    assert_eq!(
        sentry_trace,
        &format!("{}-{}-1", transaction.trace_id(), call.span_id())
    );
    let baggage = &headers[1].1;
    for entry in [
        format!("sentry-trace_id={}", transaction.trace_id()),
        "sentry-public_key=keyofa".into(),
        "sentry-release=svc%401".into(),
        "sentry-environment=prod".into(),
        "sentry-transaction=checkout".into(),
        "sentry-sampled=true".into(),
        "sentry-sample_rate=1".into(),
    ] {
        assert!(
            baggage.split(',').any(|e| e == entry),
            "{entry} in {baggage}"
        );
    }
    // A's own envelope carries the same context in its `trace` header.
    let (header_a, _) = &transactions(&server_a)[0];
    assert_eq!(header_a["trace"]["public_key"], "keyofa");
    assert_eq!(header_a["trace"]["sampled"], "true");
    assert_eq!(
        header_a["trace"]["trace_id"],
        transaction.trace_id().to_string()
    );

    // Service B: another client, which would sample nothing by itself, continues the trace.
    let server_b = TestServer::ok();
    let guard = faultline::try_init(options(&server_b, "keyofb").traces_sample_rate(0.0)).unwrap();
    let continued = faultline::continue_from_headers("charge", "http.server", borrowed(&headers));
    assert_eq!(continued.trace_id(), transaction.trace_id());
    assert_eq!(continued.parent_span_id(), Some(call.span_id()));
    assert!(
        continued.is_sampled(),
        "the parent's decision wins over 0.0"
    );
    continued.finish();
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let sent = transactions(&server_b);
    assert_eq!(sent.len(), 1);
    let (header_b, payload_b) = &sent[0];
    assert_eq!(
        payload_b["contexts"]["trace"]["parent_span_id"],
        call.span_id().to_string()
    );
    assert_eq!(
        payload_b["contexts"]["trace"]["trace_id"],
        transaction.trace_id().to_string()
    );
    // The DSC is frozen: B passes on A's, its public key and transaction name included.
    assert_eq!(header_b["trace"]["public_key"], "keyofa");
    assert_eq!(header_b["trace"]["transaction"], "checkout");
    assert_eq!(header_b["trace"], header_a["trace"]);
}

#[test]
fn a_continued_unsampled_trace_stays_unsampled() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server, "k").traces_sample_rate(1.0)).unwrap();
    let headers = [(
        "sentry-trace",
        "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-0",
    )];
    let continued = faultline::continue_from_headers("job", "task", headers);
    assert!(
        !continued.is_sampled(),
        "the parent's decision wins over 1.0"
    );
    assert_eq!(
        continued.trace_id().to_string(),
        "771a43a4192642f0b136d5159a501700"
    );
    // An undecided parent: this service decides.
    let undecided = faultline::continue_from_headers(
        "job",
        "task",
        [(
            "sentry-trace",
            "771a43a4192642f0b136d5159a501700-b7ad6b7169203331",
        )],
    );
    assert!(undecided.is_sampled());
    assert!(
        undecided.trace_headers().sentry_trace.ends_with("-1"),
        "and passes its own decision on"
    );
    drop(guard);
}

#[test]
fn traceparent_is_read_when_no_sentry_trace_came_and_written_when_asked() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(
        options(&server, "k")
            .traces_sample_rate(0.0)
            .propagate_traceparent(true),
    )
    .unwrap();
    let incoming = [
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        ("tracestate", "congo=t61rcWkgMzE"),
    ];
    let continued = faultline::continue_from_headers("GET /", "http.server", incoming);
    assert_eq!(
        continued.trace_id().to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert!(continued.is_sampled(), "flags 01");
    let out = continued.trace_headers();
    assert_eq!(
        out.traceparent.as_deref(),
        Some(
            format!(
                "00-0af7651916cd43dd8448eb211c80319c-{}-01",
                continued.span_id()
            )
            .as_str()
        )
    );
    assert!(
        out.sentry_trace
            .starts_with("0af7651916cd43dd8448eb211c80319c-")
    );
    // sentry-trace wins over traceparent when both came.
    let both = faultline::continue_from_headers(
        "GET /",
        "http.server",
        [
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
            (
                "Sentry-Trace",
                "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-0",
            ),
        ],
    );
    assert_eq!(
        both.trace_id().to_string(),
        "771a43a4192642f0b136d5159a501700"
    );
    drop(guard);
}

#[test]
fn strict_continuation_keeps_other_organisations_out() {
    let _serial = serial();
    let server = TestServer::ok();
    let trace = "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-1";
    // (own org, strict, incoming org) → continued
    let cases: &[(Option<u64>, bool, Option<&str>, bool)] = &[
        (Some(1), false, Some("1"), true),
        (Some(1), false, Some("2"), false),
        (Some(1), false, None, true),
        (None, false, Some("2"), true),
        (None, false, None, true),
        (Some(1), true, Some("1"), true),
        (Some(1), true, Some("2"), false),
        (Some(1), true, None, false),
        (None, true, Some("2"), false),
        (None, true, None, true),
    ];
    for &(own, strict, incoming, continued) in cases {
        let mut options = options(&server, "k")
            .traces_sample_rate(1.0)
            .strict_trace_continuation(strict);
        if let Some(own) = own {
            options = options.org_id(own);
        }
        let guard = faultline::try_init(options).unwrap();
        let baggage = incoming.map_or_else(String::new, |org| format!("sentry-org_id={org}"));
        let t = faultline::continue_from_headers(
            "GET /",
            "http.server",
            [("sentry-trace", trace), ("baggage", baggage.as_str())],
        );
        let same = t.trace_id().to_string() == "771a43a4192642f0b136d5159a501700";
        assert_eq!(same, continued, "{own:?} {strict} {incoming:?}");
        drop(guard);
    }
}

#[test]
fn malformed_headers_start_fresh_traces() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server, "k").traces_sample_rate(1.0)).unwrap();
    let long = "a".repeat(100_000);
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("sentry-trace", "")],
        vec![("sentry-trace", "not a header")],
        vec![(
            "sentry-trace",
            "771a43a4192642f0b136d5159a50170-b7ad6b7169203331-1",
        )],
        vec![(
            "sentry-trace",
            "771a43a4192642f0b136d5159a5017000-b7ad6b7169203331-1",
        )],
        vec![(
            "sentry-trace",
            "00000000000000000000000000000000-b7ad6b7169203331-1",
        )],
        vec![(
            "sentry-trace",
            "771a43a4192642f0b136d5159a501700-0000000000000000-1",
        )],
        vec![(
            "sentry-trace",
            "771a43a4192642f0b136d5159a501700-b7ad6b716920333-1",
        )],
        vec![(
            "sentry-trace",
            "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-2",
        )],
        vec![(
            "sentry-trace",
            "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-1-1",
        )],
        vec![(
            "sentry-trace",
            "771a43a4192642f0b136d5159a50170g-b7ad6b7169203331-1",
        )],
        vec![(
            "sentry-trace",
            "771a43a4192642f0b136d5159a501700_b7ad6b7169203331_1",
        )],
        vec![(
            "sentry-trace",
            "ä71a43a4192642f0b136d5159a50170-b7ad6b7169203331-1",
        )],
        vec![("sentry-trace", long.as_str())],
        vec![(
            "traceparent",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )],
        vec![(
            "traceparent",
            "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
        )],
        vec![(
            "traceparent",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        )],
        vec![(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        )],
        vec![(
            "traceparent",
            "0-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )],
        vec![(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
        )],
        vec![(
            "baggage",
            "sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-sampled=true",
        )],
        vec![("baggage", long.as_str()), ("tracestate", long.as_str())],
        vec![(
            "x-sentry-trace",
            "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-1",
        )],
    ];
    assert!(cases.len() >= 20);
    let mut seen = std::collections::BTreeSet::new();
    for headers in &cases {
        let t = faultline::continue_from_headers("GET /", "http.server", headers.iter().copied());
        assert_eq!(t.parent_span_id(), None, "{headers:?}");
        assert!(t.is_sampled(), "decided here, at 1.0: {headers:?}");
        let id = t.trace_id();
        assert_ne!(
            id.to_string(),
            "771a43a4192642f0b136d5159a501700",
            "{headers:?}"
        );
        assert_ne!(
            id.to_string(),
            "0af7651916cd43dd8448eb211c80319c",
            "{headers:?}"
        );
        assert!(seen.insert(id), "a fresh trace each time");
        let _ = id.to_string().parse::<TraceId>().unwrap();
    }
    drop(guard);
}

#[test]
fn without_a_span_headers_carry_the_scope_trace_and_errors_share_it() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server, "k")).unwrap();
    // An incoming request continued without performance monitoring: errors join its trace.
    let incoming = [(
        "sentry-trace",
        "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-1",
    )];
    let context = faultline::PropagationContext::from_headers(incoming).expect("continued");
    faultline::configure_scope(|scope| scope.set_propagation_context(context.clone()));
    let out = faultline::trace_headers();
    assert_eq!(
        out.sentry_trace,
        format!("771a43a4192642f0b136d5159a501700-{}-1", context.span_id)
    );
    faultline::capture_message("in the request", faultline::Level::Error);
    assert!(faultline::flush(Duration::from_secs(10)));
    faultline::configure_scope(|scope| scope.start_new_trace());
    assert!(
        !faultline::trace_headers()
            .sentry_trace
            .starts_with("771a43a4192642f0b136d5159a501700")
    );
    // An outgoing request's own baggage keeps its members; the sentry- entries are this trace's.
    let merged = out.baggage_with("vendor=x,sentry-trace_id=ffffffffffffffffffffffffffffffff");
    assert!(merged.contains("vendor=x"), "{merged}");
    assert!(merged.contains("sentry-public_key=k"), "{merged}");
    assert!(!merged.contains("ffffffff"), "{merged}");
    drop(guard);
    let event = server
        .requests()
        .iter()
        .find_map(|r| r.envelope().event())
        .expect("the error");
    assert_eq!(
        event["contexts"]["trace"]["trace_id"],
        "771a43a4192642f0b136d5159a501700"
    );
    assert_eq!(
        event["contexts"]["trace"]["parent_span_id"],
        "b7ad6b7169203331"
    );
}

#[test]
fn the_dynamic_sampling_context_is_frozen_and_gets_a_sample_rand() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(options(&server, "k").traces_sample_rate(1.0)).unwrap();
    // An older head SDK sent no sample_rand: the one chosen here goes on with the context.
    let continued = faultline::continue_from_headers(
        "GET /",
        "http.server",
        [
            (
                "sentry-trace",
                "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-1",
            ),
            (
                "baggage",
                "sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-sample_rate=0.5,sentry-sampled=true",
            ),
        ],
    );
    let out = continued.trace_headers().baggage.expect("a baggage");
    let rand: f64 = out
        .split(',')
        .find_map(|e| e.strip_prefix("sentry-sample_rand="))
        .expect("a sample_rand")
        .parse()
        .unwrap();
    assert!(
        rand < 0.5,
        "consistent with the sampled decision at 0.5: {rand}"
    );
    continued.finish();
    // A head transaction's context is frozen when it first leaves: a later rename changes neither.
    let head = faultline::start_transaction("GET /orders/{id}", "http.server");
    let first = head.trace_headers().baggage.unwrap();
    head.set_name("renamed later");
    assert_eq!(head.trace_headers().baggage.unwrap(), first);
    head.finish();
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let sent = transactions(&server);
    let by_name: std::collections::BTreeMap<&str, &Value> = sent
        .iter()
        .map(|(header, t)| (t["transaction"].as_str().unwrap(), header))
        .collect();
    assert_eq!(
        by_name["GET /"]["trace"]["sample_rand"]
            .as_str()
            .map(|r| r.parse::<f64>().unwrap()),
        Some(rand)
    );
    assert_eq!(
        by_name["renamed later"]["trace"]["transaction"], "GET /orders/{id}",
        "the envelope carries the context as it left"
    );
}
