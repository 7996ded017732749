//! `Retry-After`, on any UTF-8 text: it never panics, and what it accepts is a whole number of seconds, at most a
//! day, from a value of digits and at most one dot.

#![no_main]

use std::time::Duration;

use faultline::fuzzing::parse_retry_after;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(delay) = parse_retry_after(text) {
        assert!(delay <= Duration::from_secs(24 * 60 * 60), "{delay:?}");
        assert_eq!(delay.subsec_nanos(), 0);
        let value = text.trim();
        assert!(
            value.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
            "{text:?}"
        );
        assert!(
            value.bytes().filter(|&b| b == b'.').count() <= 1,
            "{text:?}"
        );
    }
});
