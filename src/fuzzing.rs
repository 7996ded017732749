//! Not API: the crate-private parsers of untrusted input, reachable from the fuzz targets under `fuzz/` (feature
//! `fuzzing`).
//!
//! Each function is a thin wrapper that calls one parser as the SDK does; none of this is covered by semantic
//! versioning. The DSN parser needs no wrapper: it is [`Dsn`](crate::Dsn)'s public `FromStr`.

use std::time::{Duration, Instant};

use crate::delivery::rate_limit::{self, RateLimiter};
use crate::protocol::Envelope;
use crate::protocol::data_category::DataCategory;
use crate::protocol::envelope::ParseEnvelopeError;

/// A `Retry-After` value read as the rate limiter reads it: delta-seconds, rounded up and capped at one day, or
/// `None` for anything else (an HTTP date included).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    rate_limit::parse_seconds(value)
}

/// The limits a fresh rate limiter holds after one response with `status` and these `Retry-After` and
/// `X-Sentry-Rate-Limits` values: each limited category's name and how long it is limited for, from the moment of
/// the response.
pub fn rate_limits_after(
    status: u16,
    retry_after: Option<&str>,
    rate_limits: Option<&str>,
) -> Vec<(&'static str, Duration)> {
    let now = Instant::now();
    let mut limiter = RateLimiter::new();
    limiter.update(status, retry_after, rate_limits, now);
    DataCategory::ALL
        .into_iter()
        .filter_map(|category| {
            let until = limiter.limited_until(category)?;
            Some((category.as_str(), until.saturating_duration_since(now)))
        })
        .collect()
}

/// An envelope read back from the bytes of a spool file, as the spool reads it before replaying them.
pub fn read_spooled_envelope(bytes: &[u8]) -> Result<Envelope, ParseEnvelopeError> {
    Envelope::from_slice_raw(bytes)
}
