//! Secrets written into text are filtered on the worker, before any transport sees the event: checked at a loopback
//! server and in the JSON-lines file that the same client writes through a `Tee`, for event messages, exception
//! values (the whole chain) and breadcrumb messages; and checked to arrive unchanged when scrubbing is off, and
//! filtered by a pattern of the program's own.
//!
//! Every test installs the process-wide client, so they take turns through `serial()`.

#![cfg(feature = "http")]

mod support;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use faultline::sink::JsonLinesSink;
use faultline::transport::{HttpTransport, Tee, TransportOptions};
use faultline::{Breadcrumb, ClientOptions, InitErrorKind, Level};
use serde_json::Value;
use support::{TestServer, serial};

/// Text as the program writes it, and as it must arrive.
const CASES: &[(&str, &str)] = &[
    (
        "password=hunter4 Authorization: Bearer xyz",
        "password=[Filtered] Authorization: [Filtered]",
    ),
    (
        r#"login failed for {"user": "ada", "api_key": "k-9f8e7d6c"}"#,
        r#"login failed for {"user": "ada", "api_key": "[Filtered]"}"#,
    ),
    (
        "cannot reach postgres://app:s3cr3t-pw@db.internal:5432/app",
        "cannot reach postgres://app:[Filtered]@db.internal:5432/app",
    ),
    (
        "bad key -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END PRIVATE KEY-----",
        "bad key -----BEGIN PRIVATE KEY-----\n[Filtered]\n-----END PRIVATE KEY-----",
    ),
    (
        "card 4111 1111 1111 1111 declined",
        "card [Filtered] declined",
    ),
    (
        "upstream said 401 to Basic dXNlcjpwYXNz",
        "upstream said 401 to Basic [Filtered]",
    ),
    // Looks close, holds no secret: arrives as it is.
    (
        "password reset requested for order 4111111111111112 (Bearer) via https://example.com:8443/x",
        "password reset requested for order 4111111111111112 (Bearer) via https://example.com:8443/x",
    ),
];

/// Parts of [`CASES`] that are secrets: none may appear anywhere in what is sent or written.
const SECRETS: &[&str] = &[
    "hunter4",
    "Bearer xyz",
    "k-9f8e7d6c",
    "s3cr3t-pw",
    "MIIEvQIBADANBgkqhkiG9w0B",
    "4111 1111 1111 1111",
    "dXNlcjpwYXNz",
    "tok_7Hq2Lx9",
];

/// An error whose `Display` is any text, with an optional cause.
#[derive(Debug)]
struct Leak {
    text: String,
    cause: Option<Box<Leak>>,
}

impl Leak {
    fn new(text: &str) -> Leak {
        Leak {
            text: text.to_owned(),
            cause: None,
        }
    }
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Leak {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.as_deref().map(|c| c as _)
    }
}

/// A started client that posts to a loopback server and writes the same events to a JSON-lines file.
struct Reporting {
    server: TestServer,
    log: PathBuf,
    _dir: tempfile::TempDir,
    guard: Option<faultline::InitGuard>,
}

impl Reporting {
    fn start(options: ClientOptions) -> Reporting {
        let server = TestServer::ok();
        let dir = tempfile::tempdir().unwrap();
        let sink = Arc::new(
            JsonLinesSink::builder(dir.path().join("app.log"))
                .build()
                .unwrap(),
        );
        let dsn = server.dsn("key", 7);
        let http = HttpTransport::new(&TransportOptions::new(dsn.parse().unwrap()));
        let guard = faultline::try_init(
            options
                .dsn(dsn)
                .transport(Tee::new(http).with(sink.clone()))
                .spool_dir(None)
                .shutdown_timeout(Duration::from_secs(10)),
        )
        .unwrap();
        Reporting {
            server,
            log: sink.path().to_owned(),
            _dir: dir,
            guard: Some(guard),
        }
    }

    /// Stops the client (delivering everything) and returns the events the server got, in order, with the raw
    /// bodies, and the file's lines with its raw text.
    fn finish(mut self) -> (Vec<Value>, String, Vec<Value>, String) {
        drop(self.guard.take());
        let requests = self.server.requests();
        let bodies: String = requests
            .iter()
            .map(|r| String::from_utf8_lossy(&r.decoded_body()).into_owned())
            .collect();
        let events = requests
            .iter()
            .filter_map(|r| r.envelope().event())
            .collect();
        let text = std::fs::read_to_string(&self.log).unwrap();
        let lines = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (events, bodies, lines, text)
    }
}

/// The event or line whose `case` tag (a label in the file) is `case`.
fn by_case<'a>(items: &'a [Value], tags: &str, case: &str) -> &'a Value {
    items
        .iter()
        .find(|item| item[tags]["case"] == case)
        .unwrap_or_else(|| panic!("no {case} in {items:#?}"))
}

/// Captures, for each of [`CASES`]: a breadcrumb, a message and an error (whose cause holds a secret too).
fn capture_every_case() {
    for (text, _) in CASES {
        faultline::add_breadcrumb(Breadcrumb::new("case", *text));
    }
    for (i, (text, _)) in CASES.iter().enumerate() {
        faultline::with_scope(
            |scope| scope.set_tag("case", format!("message {i}")),
            || faultline::capture_message(text, Level::Warning),
        );
        let err = Leak {
            text: (*text).to_owned(),
            cause: Some(Box::new(Leak::new("refused token=tok_7Hq2Lx9"))),
        };
        faultline::with_scope(
            |scope| scope.set_tag("case", format!("error {i}")),
            || faultline::capture_error(&err),
        );
    }
}

#[test]
fn secrets_arrive_filtered_at_the_server_and_in_the_file() {
    let _serial = serial();
    let reporting = Reporting::start(ClientOptions::new());
    capture_every_case();
    let (events, bodies, lines, text) = reporting.finish();

    assert_eq!(events.len(), 2 * CASES.len(), "{events:#?}");
    assert_eq!(lines.len(), 2 * CASES.len(), "{text}");
    let expected_crumbs: Vec<&str> = CASES.iter().map(|(_, filtered)| *filtered).collect();
    for (i, (_, filtered)) in CASES.iter().enumerate() {
        let message = by_case(&events, "tags", &format!("message {i}"));
        assert_eq!(message["message"], *filtered);
        let crumbs: Vec<&str> = message["breadcrumbs"]["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["message"].as_str().unwrap())
            .collect();
        assert_eq!(crumbs, expected_crumbs);

        let error = by_case(&events, "tags", &format!("error {i}"));
        let values: Vec<&str> = error["exception"]["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["value"].as_str().unwrap())
            .collect();
        assert_eq!(values, ["refused token=[Filtered]", *filtered]);

        let line = by_case(&lines, "labels", &format!("message {i}"));
        assert_eq!(line["message"], *filtered);
        let line = by_case(&lines, "labels", &format!("error {i}"));
        assert_eq!(line["message"], *filtered);
        assert_eq!(line["error.message"], *filtered);
        assert_eq!(
            line["error.chain"][0].as_str().unwrap(),
            "Leak: refused token=[Filtered]"
        );
    }
    for secret in SECRETS {
        assert!(!bodies.contains(secret), "{secret} reached the server");
        assert!(!text.contains(secret), "{secret} reached the file");
    }
}

/// Captures the first case as a breadcrumb and a message, and returns what reached the server and the file.
fn first_case_with(options: ClientOptions) -> (Value, Value) {
    let reporting = Reporting::start(options);
    faultline::add_breadcrumb(Breadcrumb::new("case", CASES[0].0));
    faultline::capture_message(CASES[0].0, Level::Warning);
    let (events, _, lines, _) = reporting.finish();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    (events[0].clone(), lines[0].clone())
}

#[test]
fn with_send_default_pii_text_arrives_unchanged() {
    let _serial = serial();
    let (event, line) = first_case_with(ClientOptions::new().send_default_pii(true));
    assert_eq!(event["message"], CASES[0].0);
    assert_eq!(event["breadcrumbs"]["values"][0]["message"], CASES[0].0);
    assert_eq!(line["message"], CASES[0].0);
}

#[test]
fn with_scrub_values_off_text_arrives_unchanged() {
    let _serial = serial();
    let (event, line) = first_case_with(ClientOptions::new().scrub_values(false));
    assert_eq!(event["message"], CASES[0].0);
    assert_eq!(event["breadcrumbs"]["values"][0]["message"], CASES[0].0);
    assert_eq!(line["message"], CASES[0].0);
}

#[test]
fn a_pattern_of_the_program_filters_its_matches() {
    let _serial = serial();
    // With the built-in rules off, only the pattern filters; its group keeps the rest of the match.
    let options = ClientOptions::new()
        .scrub_values(false)
        .scrub_pattern(r"hunter[0-9]")
        .scrub_pattern(r"Bearer (\w+)");
    let (event, line) = first_case_with(options);
    let expected = "password=[Filtered] Authorization: Bearer [Filtered]";
    assert_eq!(event["message"], expected);
    assert_eq!(event["breadcrumbs"]["values"][0]["message"], expected);
    assert_eq!(line["message"], expected);
}

#[test]
fn a_pattern_that_does_not_compile_is_refused_at_init() {
    let _serial = serial();
    let err = faultline::try_init(
        ClientOptions::new()
            .transport(faultline::test::TestTransport::new())
            .scrub_pattern(r"sk_live_\w+")
            .scrub_pattern(r"order-[0-9"),
    )
    .unwrap_err();
    let InitErrorKind::InvalidScrubPattern(pattern) = err.kind() else {
        panic!("{err:?}");
    };
    assert_eq!(pattern.pattern(), "order-[0-9");
    assert_eq!(
        err.to_string(),
        "invalid scrub pattern `order-[0-9`: unclosed character class"
    );
    assert!(std::error::Error::source(&err).is_some());
    assert!(!faultline::is_enabled());
}
