//! The retry policy: which failures are worth another attempt, and how long to wait before it.
//!
//! Delays grow exponentially from [`BASE_DELAY`] and are capped at [`MAX_DELAY`], with "full jitter": the delay is
//! drawn uniformly from `[0, ceiling]`, where `ceiling = min(MAX_DELAY, BASE_DELAY * 2^(attempt - 1))`. Full jitter
//! spreads the retries of many clients that failed together (a server restart, a network blip) instead of
//! bringing them back in waves (Marc Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015).
//!
//! The policy is pure: the random roll is passed in, as for sampling, so the schedule is reproducible in tests.
//! Rate limits (429) are not retries: the rate limiter owns them.

use std::time::Duration;

/// The ceiling of the first retry's delay: 1 s.
pub(crate) const BASE_DELAY: Duration = Duration::from_secs(1);

/// The largest ceiling: 60 s. Reached at the 7th failed attempt (1, 2, 4, 8, 16, 32, then 60 s).
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(60);

/// How many attempts an envelope gets in all, the first one included: 8. After the 8th failure
/// [`next_delay`] returns `None` and the envelope is given up (or left in the spool for the next start). The seven
/// waits add up to at most 123 s, so an envelope is abandoned within about two minutes of a lasting outage.
pub(crate) const MAX_ATTEMPTS: u32 = 8;

/// How long to wait before the next attempt, after `attempt` attempts have failed (1 after the first failure), or
/// `None` when `attempt` has reached [`MAX_ATTEMPTS`].
///
/// `roll` is a uniform random number in `[0, 1)` and picks the delay within `[0, ceiling]` (full jitter). A roll
/// outside that range is clamped into it and `NaN` counts as 0, so this never panics. `attempt` 0 (nothing has
/// failed yet) is treated like 1.
pub(crate) fn next_delay(attempt: u32, roll: f64) -> Option<Duration> {
    if attempt >= MAX_ATTEMPTS {
        return None;
    }
    let roll = if roll.is_nan() {
        0.0
    } else {
        roll.clamp(0.0, 1.0)
    };
    Some(ceiling(attempt).mul_f64(roll))
}

/// The upper bound of the delay after `attempt` failures: `min(MAX_DELAY, BASE_DELAY * 2^(attempt - 1))`.
fn ceiling(attempt: u32) -> Duration {
    // 2^6 * 1 s = 64 s is already past the cap, so larger exponents need not be computed (and cannot overflow).
    let exponent = attempt.saturating_sub(1).min(6);
    BASE_DELAY.saturating_mul(1 << exponent).min(MAX_DELAY)
}

/// Whether a failed request is worth another attempt.
///
/// `status` is `None` when no response arrived (the connection failed or timed out): retryable. 408 (the server
/// timed out waiting for the request) and every 5xx are retryable. 429 is not: the rate limiter decides when that
/// category may be sent again. Any other status (2xx, 3xx, the other 4xx such as 400 or 413) is final: sending the
/// same bytes again would get the same answer.
pub(crate) fn is_retryable(status: Option<u16>) -> bool {
    match status {
        None => true,
        Some(408) => true,
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
        ];
        for &(attempt, want) in cases {
            assert_eq!(ceiling(attempt), want, "attempt {attempt}");
            // A roll just under 1 lands just under the ceiling, never above it.
            let top = next_delay(attempt, 0.999_999).expect("within the attempt budget");
            assert!(
                top <= want && top > want.mul_f64(0.99),
                "attempt {attempt}: {top:?}"
            );
        }
        assert_eq!(ceiling(u32::MAX), MAX_DELAY);
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
        ];
        for &(attempt, roll, want) in cases {
            assert_eq!(next_delay(attempt, roll), Some(want), "{attempt} {roll}");
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
            assert_eq!(next_delay(3, roll), Some(want), "{roll}");
        }
    }

    #[test]
    fn gives_up_after_max_attempts() {
        assert!(next_delay(MAX_ATTEMPTS - 1, 0.5).is_some());
        assert_eq!(next_delay(MAX_ATTEMPTS, 0.5), None);
        assert_eq!(next_delay(u32::MAX, 0.5), None);
        let worst: Duration = (1..MAX_ATTEMPTS).map(ceiling).sum();
        assert_eq!(worst, secs(123), "the documented worst case");
    }

    #[test]
    fn retryable_statuses() {
        let cases: &[(Option<u16>, bool)] = &[
            (None, true),
            (Some(408), true),
            (Some(500), true),
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
