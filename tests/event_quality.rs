//! What reaches the server is what users expect: breadcrumbs filtered, noise ignored, repeats dropped, secrets
//! scrubbed, sizes bounded.

use faultline::test::{with_captured_events, with_captured_events_options};
use faultline::{Breadcrumb, ClientOptions, Level};
use serde_json::json;

#[test]
fn before_breadcrumb_can_change_or_drop_breadcrumbs_and_its_panics_are_contained() {
    let options = ClientOptions::new().before_breadcrumb(|crumb| match crumb.category.as_deref() {
        Some("noise") => None,
        Some("boom") => panic!("callback bug"),
        _ => Some(crumb.data("checked", true)),
    });
    let events = with_captured_events_options(options, || {
        faultline::add_breadcrumb(Breadcrumb::new("noise", "tick"));
        faultline::add_breadcrumb(Breadcrumb::new("boom", "x"));
        faultline::add_breadcrumb(Breadcrumb::new("db", "query"));
        faultline::capture_message("m", Level::Info);
    });
    let crumbs = &events[0].breadcrumbs;
    assert_eq!(crumbs.len(), 1);
    assert_eq!(crumbs[0].category.as_deref(), Some("db"));
    assert_eq!(crumbs[0].data["checked"], true);
}

#[test]
fn ignored_error_types_are_dropped_and_counted() {
    let options = ClientOptions::new()
        .ignore_error("ParseIntError")
        .ignore_error("std::io::NotThere");
    let events = with_captured_events_options(options, || {
        let ignored = "x".parse::<u8>().unwrap_err();
        assert!(faultline::capture_error(&ignored).is_nil());
        let kept = "x".parse::<f64>().unwrap_err();
        assert!(!faultline::capture_error(&kept).is_nil());
        assert_eq!(faultline::stats().event_processor, 1);
    });
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].exception[0].ty, "ParseFloatError");
}

#[test]
fn ignoring_by_full_path_works_too() {
    let options = ClientOptions::new().ignore_error("core::num::error::ParseIntError");
    let events = with_captured_events_options(options, || {
        faultline::capture_error(&"x".parse::<u8>().unwrap_err());
    });
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn the_same_error_captured_twice_in_a_row_is_sent_once() {
    let events = with_captured_events(|| {
        let err = std::io::Error::other("disk full");
        // Logged where it happened, then reported again by the caller it was returned to.
        assert!(!faultline::capture_error(&err).is_nil());
        assert!(faultline::capture_error(&err).is_nil());
        // A different error in between makes the next one new again.
        faultline::capture_error(&std::io::Error::other("other"));
        assert!(!faultline::capture_error(&err).is_nil());
        assert_eq!(faultline::stats().event_processor, 1);
    });
    assert_eq!(events.len(), 3);
}

#[test]
fn secrets_are_scrubbed_unless_pii_is_allowed() {
    let capture = || {
        faultline::configure_scope(|scope| {
            scope.set_extra("password", "hunter2");
            scope.set_extra(
                "request",
                json!({"headers": {"Authorization": "Bearer abc"}, "path": "/login"}),
            );
            scope.set_context("db", json!({"connection_secret": "s", "host": "db1"}));
            scope.set_user(Some(faultline::User {
                id: Some("7".into()),
                data: [("session_token".to_owned(), json!("t"))].into(),
                ..Default::default()
            }));
        });
        faultline::add_breadcrumb(Breadcrumb::new("http", "POST /login").data("cookie", "sid=1"));
        faultline::capture_message("login failed", Level::Error);
    };
    let scrubbed = &with_captured_events(capture)[0];
    assert_eq!(scrubbed.extra["password"], "[Filtered]");
    assert_eq!(
        scrubbed.extra["request"]["headers"]["Authorization"],
        "[Filtered]"
    );
    assert_eq!(scrubbed.extra["request"]["path"], "/login");
    assert_eq!(scrubbed.contexts["db"]["connection_secret"], "[Filtered]");
    assert_eq!(scrubbed.contexts["db"]["host"], "db1");
    let user = scrubbed.user.as_ref().unwrap();
    assert_eq!(user.data["session_token"], "[Filtered]");
    assert_eq!(
        user.ip_address, None,
        "no IP address without send_default_pii"
    );
    assert_eq!(scrubbed.breadcrumbs[0].data["cookie"], "[Filtered]");

    let raw =
        &with_captured_events_options(ClientOptions::new().send_default_pii(true), capture)[0];
    assert_eq!(raw.extra["password"], "hunter2");
    assert_eq!(
        raw.user.as_ref().unwrap().ip_address.as_deref(),
        Some("{{auto}}")
    );
}

#[test]
fn extra_scrub_keys_extend_the_denylist() {
    let options = ClientOptions::new().scrub_key("iban");
    let events = with_captured_events_options(options, || {
        faultline::configure_scope(|scope| scope.set_extra("customer_iban", "DE00 1234"));
        faultline::capture_message("payment failed", Level::Error);
    });
    assert_eq!(events[0].extra["customer_iban"], "[Filtered]");
}

#[test]
fn oversized_values_are_bounded_before_sending() {
    let events = with_captured_events(|| {
        faultline::configure_scope(|scope| {
            scope.set_tag("long", "v".repeat(1000));
            scope.set_tag("k".repeat(300), "key too long");
        });
        faultline::capture_message(&"m".repeat(100_000), Level::Error);
        faultline::capture_error(&std::io::Error::other("e".repeat(100_000)));
    });
    assert!(events[0].message.as_ref().unwrap().len() <= 8192);
    assert_eq!(events[0].tags["long"].chars().count(), 200);
    assert_eq!(events[0].tags.len(), 1, "an over-long tag key is dropped");
    assert!(events[1].exception[0].value.as_ref().unwrap().len() <= 8192);
}

#[test]
fn release_name_is_the_calling_crates() {
    assert_eq!(
        faultline::release_name!(),
        concat!("faultline@", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn breadcrumb_code_may_use_the_sdk_itself() {
    let options = ClientOptions::new().before_breadcrumb(|crumb| {
        // A callback that touches the scope must not deadlock on it.
        faultline::configure_scope(|scope| scope.set_tag("filtered", "yes"));
        Some(crumb)
    });
    let events = with_captured_events_options(options, || {
        faultline::add_breadcrumb(|| {
            faultline::configure_scope(|scope| scope.set_tag("built", "yes"));
            Breadcrumb::new("job", "step 1")
        });
        faultline::capture_message("done", Level::Info);
    });
    assert_eq!(events[0].tags["built"], "yes");
    assert_eq!(events[0].tags["filtered"], "yes");
    assert_eq!(events[0].breadcrumbs[0].message.as_deref(), Some("step 1"));
}
