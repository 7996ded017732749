//! Cron check-ins and user feedback against a loopback server: the wrapped job's `in_progress` and its end (`ok`,
//! `error`, `error` on a panic) with one `check_in_id` and a duration, each alone in its envelope and never through
//! `before_send`; feedback as a `feedback` item whose payload has the shape the protocol notes give.
#![cfg(feature = "http")]

mod support;

use std::time::Duration;

use faultline::ClientOptions;
use faultline::protocol::{Feedback, MonitorConfig, MonitorIntervalUnit, MonitorSchedule};
use serde_json::Value;
use support::{TestServer, serial};

fn init(server: &TestServer) -> faultline::InitGuard {
    faultline::try_init(
        ClientOptions::new()
            .dsn(server.dsn("k", 1))
            .spool_dir(None)
            .release("jobs@2.0.0")
            .environment("test")
            .auto_session_tracking(false)
            // Check-ins and feedback skip it: it would drop them all.
            .before_send(|_| None),
    )
    .unwrap()
}

/// The items of `ty` the server received, each with the types of the other items in its envelope.
fn items(server: &TestServer, ty: &str) -> Vec<(Value, Vec<String>)> {
    let mut found = Vec::new();
    for request in server.requests() {
        let envelope = request.envelope();
        let types: Vec<String> = envelope
            .items
            .iter()
            .map(|(h, _)| h["type"].as_str().unwrap().to_owned())
            .collect();
        for (header, payload) in &envelope.items {
            if header["type"] == ty {
                found.push((serde_json::from_slice(payload).unwrap(), types.clone()));
            }
        }
    }
    found
}

#[test]
fn a_monitored_job_checks_in_and_out_with_one_id_and_a_duration() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = init(&server);
    let mut config = MonitorConfig::new(MonitorSchedule::Interval {
        value: 10,
        unit: MonitorIntervalUnit::Minute,
    });
    config.max_runtime = Some(5);
    let ok = faultline::check_ins::monitored("ok-job", Some(config.clone()), || {
        std::thread::sleep(Duration::from_millis(20));
        Ok::<_, std::io::Error>(7)
    });
    assert_eq!(ok.unwrap(), 7);
    let failed = faultline::check_ins::monitored("failing-job", None, || {
        Err::<(), _>(std::io::Error::other("no input"))
    });
    assert!(failed.is_err());
    let panicked = std::panic::catch_unwind(|| {
        faultline::check_ins::monitored("panicking-job", None, || -> Result<(), ()> {
            panic!("the job panicked")
        })
    });
    assert!(panicked.is_err(), "the panic goes on");
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);

    let check_ins = items(&server, "check_in");
    for (_, types) in &check_ins {
        let others: Vec<&String> = types
            .iter()
            .filter(|t| *t != "check_in" && *t != "client_report")
            .collect();
        assert!(others.is_empty(), "alone in its envelope: {types:?}");
    }
    let of = |slug: &str| -> Vec<Value> {
        check_ins
            .iter()
            .map(|(c, _)| c.clone())
            .filter(|c| c["monitor_slug"] == slug)
            .collect()
    };
    for (slug, end) in [
        ("ok-job", "ok"),
        ("failing-job", "error"),
        ("panicking-job", "error"),
    ] {
        let runs = of(slug);
        assert_eq!(runs.len(), 2, "{slug}: {runs:#?}");
        assert_eq!(runs[0]["status"], "in_progress");
        assert_eq!(runs[1]["status"], end, "{slug}");
        assert_eq!(runs[0]["check_in_id"], runs[1]["check_in_id"]);
        let id = runs[0]["check_in_id"].as_str().unwrap();
        assert_eq!(id.len(), 32, "{id}");
        assert!(runs[0].get("duration").is_none());
        assert!(runs[1]["duration"].as_f64().unwrap() >= 0.0);
        assert_eq!(runs[1]["release"], "jobs@2.0.0");
        assert_eq!(runs[1]["environment"], "test");
        assert_eq!(
            runs[1]["contexts"]["trace"]["trace_id"]
                .as_str()
                .unwrap()
                .len(),
            32
        );
    }
    let ok_runs = of("ok-job");
    assert!(ok_runs[1]["duration"].as_f64().unwrap() >= 0.02);
    assert_eq!(
        ok_runs[0]["monitor_config"],
        serde_json::json!({"schedule": {"type": "interval", "value": 10, "unit": "minute"}, "max_runtime": 5})
    );
    // The panic's own event went to before_send, which dropped it; the check-ins did not.
    assert!(items(&server, "event").is_empty());
}

#[test]
fn feedback_goes_as_a_feedback_item_with_its_context() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = init(&server);
    let mut feedback = Feedback::new("The pay button did nothing. My card is 4111 1111 1111 1111");
    feedback.name = Some("Ada".into());
    feedback.email = Some("ada@example.com".into());
    feedback.associated_event_id = Some("9ec79c33ec9942ab8353589fcb2e04dc".parse().unwrap());
    let id = faultline::capture_feedback(feedback);
    assert!(!id.is_nil());
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);
    let found = items(&server, "feedback");
    assert_eq!(found.len(), 1, "before_send does not see it");
    let (payload, types) = &found[0];
    assert!(
        types
            .iter()
            .all(|t| t == "feedback" || t == "client_report")
    );
    assert_eq!(payload["type"], "feedback");
    assert_eq!(payload["event_id"], id.to_string());
    assert_eq!(payload["level"], "info");
    assert_eq!(payload["release"], "jobs@2.0.0");
    let context = &payload["contexts"]["feedback"];
    assert_eq!(
        context["message"], "The pay button did nothing. My card is 4111 1111 1111 1111",
        "the user's own words are not scrubbed"
    );
    assert_eq!(context["name"], "Ada");
    assert_eq!(context["contact_email"], "ada@example.com");
    assert_eq!(
        context["associated_event_id"],
        "9ec79c33ec9942ab8353589fcb2e04dc"
    );
    assert_eq!(context["source"], "api");
    assert_eq!(
        payload["contexts"]["trace"]["trace_id"]
            .as_str()
            .unwrap()
            .len(),
        32
    );
    let request = server
        .requests()
        .into_iter()
        .find(|r| r.envelope().item("feedback").is_some())
        .unwrap();
    assert_eq!(request.envelope().headers["event_id"], id.to_string());
}
