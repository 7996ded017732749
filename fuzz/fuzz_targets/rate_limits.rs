//! A rate limiter fed one response: the first two bytes are the status, the rest is `Retry-After` and
//! `X-Sentry-Rate-Limits` separated by the first newline. It never panics, never limits for longer than a day,
//! and never limits client reports.

#![no_main]

use std::time::Duration;

use faultline::fuzzing::rate_limits_after;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (status, rest) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => return,
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (retry_after, rate_limits) = text.split_once('\n').unwrap_or((text, ""));
    for (status, retry_after, rate_limits) in [
        (status, Some(retry_after), Some(rate_limits)),
        (429, Some(retry_after), None),
        (status, None, Some(text)),
    ] {
        for (category, delay) in rate_limits_after(status, retry_after, rate_limits) {
            assert_ne!(category, "client_report");
            assert!(
                delay <= Duration::from_secs(24 * 60 * 60),
                "{category}: {delay:?}"
            );
        }
    }
});
