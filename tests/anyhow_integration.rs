//! `capture_anyhow`, in a test binary of its own because it turns on std's error backtraces for the process
//! (`RUST_LIB_BACKTRACE=1`, read once by std at the first capture).
#![cfg(feature = "anyhow")]

use std::sync::Once;

use anyhow::Context;
use faultline::test::{with_captured_events, with_captured_events_options};
use faultline::{ClientOptions, Level};

fn enable_backtraces() {
    static ENABLE: Once = Once::new();
    ENABLE.call_once(|| {
        // SAFETY: every test of this binary calls this first, before it starts a thread or captures a backtrace,
        // and the other tests wait in `call_once` meanwhile, so no thread reads the environment during the write.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "1") };
    });
}

#[inline(never)]
fn read_port(text: &str) -> anyhow::Result<u16> {
    let port = text.parse::<u16>().context("reading the port")?;
    Ok(port)
}

#[inline(never)]
fn load_config() -> anyhow::Result<u16> {
    read_port("x").context("loading config")
}

#[test]
fn the_whole_chain_is_captured_with_names() {
    enable_backtraces();
    let events = with_captured_events(|| {
        let err = load_config().unwrap_err();
        assert!(!faultline::capture_anyhow(&err).is_nil());
        faultline::capture_anyhow(&anyhow::anyhow!("no {} found", "user"));
        faultline::capture_anyhow(&anyhow::Error::new(std::io::Error::other("disk on fire")));
    });
    let chain: Vec<_> = events[0]
        .exception
        .iter()
        .map(|e| (e.ty.as_str(), e.value.as_deref().unwrap()))
        .collect();
    assert_eq!(
        chain,
        [
            ("ParseIntError", "invalid digit found in string"),
            ("anyhow::Error", "reading the port"),
            ("anyhow::Error", "loading config"),
        ]
    );
    assert_eq!(events[0].level, Level::Error);
    let mechanism = events[0].exception[2].mechanism.as_ref().unwrap();
    assert_eq!(
        (mechanism.ty.as_str(), mechanism.handled),
        ("generic", Some(true))
    );
    assert_eq!(events[1].exception[0].ty, "anyhow::Error");
    assert_eq!(
        events[1].exception[0].value.as_deref(),
        Some("no user found")
    );
    assert_eq!(events[2].exception[0].ty, "io::Error");
}

#[test]
fn a_captured_backtrace_becomes_the_stack_trace() {
    enable_backtraces();
    let events = with_captured_events(|| {
        let err = load_config().unwrap_err();
        assert_eq!(
            err.backtrace().status(),
            std::backtrace::BacktraceStatus::Captured
        );
        report_elsewhere(&err);
    });
    let frames = &events[0].exception[2].stacktrace.as_ref().unwrap().frames;
    let names: Vec<_> = frames
        .iter()
        .filter_map(|f| f.function.as_deref())
        .collect();
    // Where the error was made, not where it was reported; anyhow's and std's capture frames are trimmed.
    let last = frames.last().unwrap();
    assert_eq!(
        last.function.as_deref(),
        Some("anyhow_integration::read_port"),
        "{names:#?}"
    );
    assert_eq!(last.module.as_deref(), Some("anyhow_integration"));
    assert_eq!(
        last.filename.as_deref(),
        Some("tests/anyhow_integration.rs")
    );
    assert!(last.lineno.is_some_and(|line| line > 0));
    assert!(last.instruction_addr.is_some());
    assert_eq!(last.in_app, Some(true));
    assert!(names.contains(&"anyhow_integration::load_config"));
    assert!(
        !names.iter().any(|n| n.contains("report_elsewhere")),
        "{names:#?}"
    );
    assert!(
        frames
            .iter()
            .filter(|f| f
                .function
                .as_deref()
                .is_some_and(|n| n.starts_with("std::")))
            .all(|f| f.in_app == Some(false)),
        "std frames are not the application's"
    );
}

#[inline(never)]
fn report_elsewhere(err: &anyhow::Error) {
    faultline::capture_anyhow(err);
}

#[test]
fn ignore_errors_and_sampling_apply() {
    enable_backtraces();
    let events =
        with_captured_events_options(ClientOptions::new().ignore_error("io::Error"), || {
            assert!(
                faultline::capture_anyhow(&anyhow::Error::new(std::io::Error::other("x"))).is_nil()
            );
        });
    assert!(events.is_empty());
    let events = with_captured_events_options(ClientOptions::new().sample_rate(0.0), || {
        assert!(faultline::capture_anyhow(&load_config().unwrap_err()).is_nil());
    });
    assert!(events.is_empty());
}
