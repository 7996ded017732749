//! Sampling: a pure decision from a rate and a roll, with the roll taken from the event id.
//!
//! Deriving the roll from the event id costs nothing (the id is random already) and makes each decision
//! reproducible from the event itself.

use crate::protocol::EventId;

/// The roll in `[0, 1)` for an event: 53 bits from the id's last 7 bytes (random in a UUID v4; the version and
/// variant bits sit in bytes 6 and 8) scaled to the unit interval. 53 bits, because that is what an `f64` holds
/// exactly; with more, the largest values would round up to 1.0.
pub(crate) fn roll_from(id: EventId) -> f64 {
    let bytes = id.0.as_bytes();
    let mut n: u64 = 0;
    for &b in &bytes[9..16] {
        n = (n << 8) | u64::from(b);
    }
    (n >> 3) as f64 / (1u64 << 53) as f64
}

/// Whether an event with this roll is kept at `rate` (validated to 0.0..=1.0 at init).
pub(crate) fn should_keep(rate: f64, roll: f64) -> bool {
    rate >= 1.0 || roll < rate
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn edges() {
        assert!(should_keep(1.0, 0.999_999));
        assert!(should_keep(1.0, 0.0));
        assert!(!should_keep(0.0, 0.0));
        assert!(!should_keep(0.0, 0.5));
        assert!(should_keep(0.5, 0.25));
        assert!(!should_keep(0.5, 0.5));
    }

    #[test]
    fn roll_spans_the_unit_interval() {
        let lo = EventId(Uuid::from_bytes([0; 16]));
        let hi = EventId(Uuid::from_bytes([0xff; 16]));
        assert_eq!(roll_from(lo), 0.0);
        assert!(roll_from(hi) < 1.0 && roll_from(hi) > 0.999_999);
    }

    #[test]
    fn a_large_sample_keeps_about_the_rate() {
        for rate in [0.1, 0.25, 0.5, 0.9] {
            let n = 100_000;
            let kept = (0..n)
                .filter(|_| should_keep(rate, roll_from(EventId::new())))
                .count();
            let share = kept as f64 / n as f64;
            // Binomial standard deviation at n = 100k is at most 0.0016; 0.01 is over six of them.
            assert!((share - rate).abs() < 0.01, "rate {rate}: kept {share}");
        }
    }

    #[test]
    fn the_decision_is_reproducible_from_the_id() {
        let id = EventId::new();
        assert_eq!(
            should_keep(0.3, roll_from(id)),
            should_keep(0.3, roll_from(id))
        );
    }
}
