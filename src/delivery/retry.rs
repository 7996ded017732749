//! The retry policy: which failures mean "wait", how long to wait, and when an envelope is given up.
//!
//! **Waiting.** A request that gets no answer (connection refused or reset, a timeout, a garbled response), a 408
//! or a 5xx says the server cannot take anything now, not that it refuses this envelope. Delivery then pauses
//! (`offline.rs`) for a delay that grows with each failure in a row, and nothing that waits loses anything by it:
//! envelopes stay in the spool (or the backlog) within its budgets, however long the outage lasts.
//!
//! The delays grow exponentially from [`BASE_DELAY`] and are capped at a maximum ([`DEFAULT_MAX_DELAY`] unless
//! `ClientOptions::max_retry_delay` says otherwise), with "full jitter": the delay is drawn uniformly from
//! `[0, ceiling]`, where `ceiling = min(max, BASE_DELAY * 2^(failures - 1))`. Full jitter spreads the retries of
//! many clients that failed together (a server restart, a network blip) instead of bringing them back in waves
//! (Marc Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015).
//!
//! **Giving up.** Only the server's refusal of an envelope gives it up: a 4xx other than 408 and 429 at once (the
//! same bytes would get the same answer), and an envelope that keeps failing while others are accepted (a poison
//! envelope: too large for a proxy, say, or one that crashes the server) after [`MAX_STRIKES`] strikes. A failure
//! is a strike against an envelope only when the server accepted another envelope since that envelope's previous
//! failure, so an outage, however long, costs no envelope a strike.
//!
//! The policy is pure: the random roll is passed in, as for sampling, so the schedule is reproducible in tests.
//! Rate limits (429 and `X-Sentry-Rate-Limits`) are not failures: the rate limiter owns them.

use std::time::Duration;

/// The ceiling of the first delay: 1 s.
pub(crate) const BASE_DELAY: Duration = Duration::from_secs(1);

/// The largest ceiling by default: 60 s, reached at the 7th failure in a row (1, 2, 4, 8, 16, 32, then 60 s).
pub(crate) const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(60);

/// How many strikes give an envelope up: 5. With the failure that started its count, a poison envelope is tried
/// six times, each time after another envelope got through.
pub(crate) const MAX_STRIKES: u32 = 5;

/// How long to wait after `failures` failures in a row (1 after the first), with delays capped at `max`.
///
/// `roll` is a uniform random number in `[0, 1)` and picks the delay within `[0, ceiling]` (full jitter). A roll
/// outside that range is clamped into it and `NaN` counts as 0, so this never panics. `failures` 0 is treated
/// like 1.
pub(crate) fn next_delay(failures: u32, roll: f64, max: Duration) -> Duration {
    let roll = if roll.is_nan() {
        0.0
    } else {
        roll.clamp(0.0, 1.0)
    };
    ceiling(failures, max).mul_f64(roll)
}

/// The upper bound of the delay after `failures` failures: `min(max, BASE_DELAY * 2^(failures - 1))`.
fn ceiling(failures: u32, max: Duration) -> Duration {
    // 2^31 s is past any sensible cap; the shift cannot overflow and the product saturates.
    let exponent = failures.saturating_sub(1).min(31);
    BASE_DELAY.saturating_mul(1 << exponent).min(max)
}

/// Whether a failed request means "wait and try again" rather than "the server refuses this envelope".
///
/// `status` is `None` when no response arrived (the connection failed or timed out). That, a 408 (the server
/// timed out waiting for the request) and every 5xx but 501 mean wait. 429 is not a failure: the rate limiter
/// decides when the categories may be sent again. Any other status (2xx, 3xx, the other 4xx such as 400 or 413) is
/// final: sending the same bytes again would get the same answer. So is 501 Not Implemented, which older GlitchTip
/// servers answer to item kinds they do not take: waiting would not change it.
pub(crate) fn is_retryable(status: Option<u16>) -> bool {
    match status {
        None => true,
        Some(408) => true,
        Some(501) => false,
        Some(status) => (500..=599).contains(&status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn ceilings_grow_then_cap() {
        let cases: &[(u32, Duration)] = &[
            (0, secs(1)),
            (1, secs(1)),
            (2, secs(2)),
            (3, secs(4)),
            (4, secs(8)),
            (5, secs(16)),
            (6, secs(32)),
            (7, secs(60)),
            (8, secs(60)),
            (1000, secs(60)),
        ];
        for &(failures, want) in cases {
            assert_eq!(ceiling(failures, DEFAULT_MAX_DELAY), want, "{failures}");
            // A roll just under 1 lands just under the ceiling, never above it.
            let top = next_delay(failures, 0.999_999, DEFAULT_MAX_DELAY);
            assert!(
                top <= want && top > want.mul_f64(0.99),
                "failures {failures}: {top:?}"
            );
        }
        assert_eq!(ceiling(u32::MAX, DEFAULT_MAX_DELAY), DEFAULT_MAX_DELAY);
        assert_eq!(ceiling(u32::MAX, Duration::MAX), secs(1 << 31));
    }

    #[test]
    fn a_smaller_cap_shortens_the_schedule() {
        let cap = Duration::from_millis(200);
        assert_eq!(ceiling(1, cap), cap);
        assert_eq!(ceiling(9, cap), cap);
        assert_eq!(next_delay(3, 0.5, cap), Duration::from_millis(100));
        assert_eq!(ceiling(1, Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn jitter_picks_within_the_ceiling() {
        let cases: &[(u32, f64, Duration)] = &[
            (1, 0.0, Duration::ZERO),
            (1, 0.5, Duration::from_millis(500)),
            (3, 0.25, secs(1)),
            (4, 0.5, secs(4)),
            (7, 0.5, secs(30)),
            (7, 0.0, Duration::ZERO),
            (70, 0.5, secs(30)),
        ];
        for &(failures, roll, want) in cases {
            assert_eq!(
                next_delay(failures, roll, DEFAULT_MAX_DELAY),
                want,
                "{failures} {roll}"
            );
        }
    }

    #[test]
    fn rolls_out_of_range_are_clamped() {
        let cases: &[(f64, Duration)] = &[
            (-1.0, Duration::ZERO),
            (f64::NEG_INFINITY, Duration::ZERO),
            (f64::NAN, Duration::ZERO),
            (1.0, secs(4)),
            (7.5, secs(4)),
            (f64::INFINITY, secs(4)),
        ];
        for &(roll, want) in cases {
            assert_eq!(next_delay(3, roll, DEFAULT_MAX_DELAY), want, "{roll}");
        }
    }

    #[test]
    fn retryable_statuses() {
        let cases: &[(Option<u16>, bool)] = &[
            (None, true),
            (Some(408), true),
            (Some(500), true),
            (Some(501), false),
            (Some(502), true),
            (Some(503), true),
            (Some(504), true),
            (Some(599), true),
            (Some(429), false),
            (Some(400), false),
            (Some(401), false),
            (Some(403), false),
            (Some(404), false),
            (Some(413), false),
            (Some(200), false),
            (Some(204), false),
            (Some(301), false),
            (Some(600), false),
            (Some(0), false),
        ];
        for &(status, want) in cases {
            assert_eq!(is_retryable(status), want, "{status:?}");
        }
    }
}
