//! Attachments against a loopback server: an event with two attachments arrives with their exact bytes and
//! headers; one past `max_attachment_bytes` is counted (client reports, by bytes) and not sent; a server's
//! `attachment` rate limit drops them counted while the event goes.
#![cfg(feature = "http")]

mod support;

use std::time::Duration;

use faultline::ClientOptions;
use faultline::protocol::Attachment;
use serde_json::Value;
use support::{Reply, TestServer, discarded, serial};

/// Each attachment the server received: its item header and its bytes, with the event id of its envelope.
fn attachments(server: &TestServer) -> Vec<(Value, Vec<u8>, Value)> {
    let mut found = Vec::new();
    for request in server.requests() {
        let envelope = request.envelope();
        for (header, payload) in &envelope.items {
            if header["type"] == "attachment" {
                found.push((
                    header.clone(),
                    payload.clone(),
                    envelope.headers["event_id"].clone(),
                ));
            }
        }
    }
    found
}

#[test]
fn an_events_attachments_arrive_byte_for_byte_and_past_the_cap_are_counted() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(
        ClientOptions::new()
            .dsn(server.dsn("k", 1))
            .spool_dir(None)
            .auto_session_tracking(false)
            .max_attachment_bytes(4096),
    )
    .unwrap();
    // Bytes that are not UTF-8, and a newline, must survive as they are.
    let binary: Vec<u8> = (0..=255).chain(b"\n\n".iter().copied()).collect();
    let id = faultline::with_scope(
        |scope| {
            scope.add_attachment(
                Attachment::new("config.toml", b"port = 80\n".to_vec())
                    .with_content_type("text/plain"),
            );
            scope.add_attachment(Attachment::new("dump.bin", binary.clone()));
            scope.add_attachment(Attachment::new("too-big.log", vec![b'x'; 5000]));
        },
        || faultline::capture_error(&std::io::Error::other("bad config")),
    );
    faultline::capture_message("outside the scope: no attachments", faultline::Level::Error);
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let found = attachments(&server);
    assert_eq!(found.len(), 2, "{found:?}");
    let (header, bytes, event_id) = &found[0];
    assert_eq!(header["filename"], "config.toml");
    assert_eq!(header["content_type"], "text/plain");
    assert_eq!(header["attachment_type"], "event.attachment");
    assert_eq!(header["length"], 10);
    assert_eq!(bytes, b"port = 80\n");
    assert_eq!(
        *event_id,
        Value::String(id.to_string()),
        "in the event's envelope"
    );
    let (header, bytes, _) = &found[1];
    assert_eq!(header["filename"], "dump.bin");
    assert_eq!(header["content_type"], "application/octet-stream");
    assert_eq!(bytes, &binary);
    assert_eq!(discarded(&server, "buffer_overflow", "attachment"), 5000);
}

/// Two errors captured, each flushed, in a scope with one attachment of `bytes`, against a server that answers every
/// request with a rate limit on `category`; returns the server once the client is gone.
fn two_errors_with_an_attachment(category: &str, bytes: &[u8]) -> TestServer {
    let limit = format!("60:{category}:organization");
    let server = TestServer::start(move |_, _| Reply::ok().header("X-Sentry-Rate-Limits", &limit));
    let guard = faultline::try_init(
        ClientOptions::new()
            .dsn(server.dsn("k", 1))
            .spool_dir(None)
            .auto_session_tracking(false),
    )
    .unwrap();
    faultline::configure_scope(|scope| {
        scope.add_attachment(Attachment::new("a.txt", bytes.to_vec()))
    });
    for i in 0..2 {
        faultline::capture_error(&std::io::Error::other(format!("error {i}")));
        assert!(faultline::flush(Duration::from_secs(10)));
    }
    drop(guard);
    server
}

#[test]
fn a_rate_limit_on_attachments_drops_them_counted_and_keeps_the_event() {
    let _serial = serial();
    let server = two_errors_with_an_attachment("attachment", b"abc");
    let events = server
        .requests()
        .iter()
        .filter(|r| r.envelope().event().is_some())
        .count();
    assert_eq!(events, 2);
    assert_eq!(
        attachments(&server).len(),
        1,
        "the first went before the limit was known"
    );
    assert_eq!(
        discarded(&server, "ratelimit_backoff", "attachment"),
        3,
        "by bytes"
    );
}

#[test]
fn a_rate_limit_on_errors_takes_the_attachments_with_their_event() {
    let _serial = serial();
    let server = two_errors_with_an_attachment("error", b"abcd");
    for request in server.requests() {
        let envelope = request.envelope();
        if envelope.item("attachment").is_some() {
            assert!(
                envelope.event().is_some(),
                "never an attachment without its event"
            );
        }
    }
    assert_eq!(attachments(&server).len(), 1);
    assert_eq!(discarded(&server, "ratelimit_backoff", "error"), 1);
    assert_eq!(discarded(&server, "ratelimit_backoff", "attachment"), 4);
}

#[test]
fn the_attachments_of_an_event_that_before_send_drops_are_counted() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(
        ClientOptions::new()
            .dsn(server.dsn("k", 1))
            .spool_dir(None)
            .auto_session_tracking(false)
            .before_send(|event| event.message.is_none().then_some(event)),
    )
    .unwrap();
    faultline::configure_scope(|scope| {
        scope.add_attachment(Attachment::new("a.txt", b"abcdef".to_vec()))
    });
    faultline::capture_message("dropped with its attachment", faultline::Level::Error);
    faultline::capture_error(&std::io::Error::other("kept"));
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    assert_eq!(attachments(&server).len(), 1, "the kept event's");
    assert_eq!(discarded(&server, "before_send", "attachment"), 6);
    assert_eq!(discarded(&server, "before_send", "error"), 1);
}
