//! The sampling decision of a new transaction: `traces_sampler`, else the continued trace's decision, else
//! `traces_sample_rate`, applied to the trace's random number.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// Decides the sample rate of each new transaction from what is known of it; see
/// [`ClientOptions::traces_sampler`](crate::ClientOptions::traces_sampler).
pub type TracesSampler = Arc<dyn Fn(&SamplingContext<'_>) -> f64 + Send + Sync>;

/// What a [`traces_sampler`](crate::ClientOptions::traces_sampler) knows of the transaction it decides.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct SamplingContext<'a> {
    /// The transaction's name.
    pub name: &'a str,
    /// Its operation, e.g. `http.server`.
    pub op: &'a str,
    /// The decision of the trace it continues, if it continues one that was decided.
    pub parent_sampled: Option<bool>,
}

/// A transaction's sampling decision, and the rate it was made at (for the dynamic sampling context).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Decision {
    pub(crate) sampled: bool,
    pub(crate) rate: f64,
}

/// Decides a transaction: with `sampler` if there is one; else by the parent's decision; else at `rate`; else (no
/// rate: performance monitoring is off) not sampled. `rand` is the trace's random number in `[0, 1)`: a
/// transaction is sampled when it is below the rate.
pub(crate) fn decide(
    rate: Option<f64>,
    sampler: Option<&TracesSampler>,
    context: &SamplingContext<'_>,
    rand: f64,
) -> Decision {
    let rate = match (sampler, context.parent_sampled, rate) {
        (Some(sampler), _, _) => {
            let rate = catch_unwind(AssertUnwindSafe(|| sampler(context))).unwrap_or(0.0);
            if rate.is_nan() {
                0.0
            } else {
                rate.clamp(0.0, 1.0)
            }
        }
        (None, Some(parent), _) => {
            return Decision {
                sampled: parent,
                rate: if parent { 1.0 } else { 0.0 },
            };
        }
        (None, None, Some(rate)) => rate,
        (None, None, None) => 0.0,
    };
    Decision {
        sampled: rand < rate,
        rate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(parent: Option<bool>) -> SamplingContext<'static> {
        SamplingContext {
            name: "GET /",
            op: "http.server",
            parent_sampled: parent,
        }
    }

    #[test]
    fn the_order_of_precedence() {
        let half: TracesSampler = Arc::new(|_| 0.5);
        let follow: TracesSampler = Arc::new(|c| match c.parent_sampled {
            Some(true) => 1.0,
            _ => 0.0,
        });
        // (traces_sample_rate, traces_sampler, parent's decision, the trace's random number) → sampled
        type Case<'a> = (
            Option<f64>,
            Option<&'a TracesSampler>,
            Option<bool>,
            f64,
            bool,
        );
        let cases: &[Case<'_>] = &[
            // Off: nothing sampled.
            (None, None, None, 0.0, false),
            // The rate.
            (Some(1.0), None, None, 0.999, true),
            (Some(0.0), None, None, 0.0, false),
            (Some(0.3), None, None, 0.29, true),
            (Some(0.3), None, None, 0.3, false),
            // The parent's decision wins over the rate, either way, and even with performance off.
            (Some(0.0), None, Some(true), 0.5, true),
            (Some(1.0), None, Some(false), 0.5, false),
            (None, None, Some(true), 0.5, true),
            // The sampler decides, seeing the parent's decision.
            (Some(1.0), Some(&half), None, 0.6, false),
            (Some(0.0), Some(&half), None, 0.4, true),
            (None, Some(&follow), Some(true), 0.9, true),
            (None, Some(&follow), Some(false), 0.0, false),
        ];
        for &(rate, sampler, parent, rand, want) in cases {
            let got = decide(rate, sampler, &context(parent), rand).sampled;
            assert_eq!(got, want, "{rate:?} {parent:?} {rand}");
        }
    }

    #[test]
    fn odd_sampler_answers_are_tamed() {
        let cases: &[(f64, f64)] = &[(f64::NAN, 0.0), (-1.0, 0.0), (7.0, 1.0), (0.25, 0.25)];
        for &(answer, want) in cases {
            let sampler: TracesSampler = Arc::new(move |_| answer);
            assert_eq!(decide(None, Some(&sampler), &context(None), 0.5).rate, want);
        }
        let panics: TracesSampler = Arc::new(|_| panic!("sampler bug"));
        let decision = decide(Some(1.0), Some(&panics), &context(None), 0.0);
        assert!(!decision.sampled);
    }

    #[test]
    fn a_rate_samples_its_share() {
        let mut rng = fastrand::Rng::with_seed(7);
        let n = 100_000;
        for rate in [0.01, 0.25, 0.5, 0.9] {
            let kept = (0..n)
                .filter(|_| decide(Some(rate), None, &context(None), rng.f64()).sampled)
                .count();
            let share = kept as f64 / n as f64;
            assert!((share - rate).abs() < 0.01, "rate {rate}: {share}");
        }
    }
}
