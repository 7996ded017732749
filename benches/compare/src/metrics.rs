//! Metrics on the caller, faultline next to sentry, each with metrics on and a transport that discards: a counter
//! with two attributes, and a distribution with two attributes and a unit, the same data through each SDK's builder.
//!
//! faultline's caller copies the measurement onto a lane of at most 1,000 that its worker takes by the hundred,
//! adding the SDK's attributes and sending the measurements there; sentry makes the measurement on the caller (trace
//! id, timestamp, its default attributes) and keeps it in a batch that the caller itself hands to the transport
//! every 100 measurements. Both SDKs are flushed every [`PACE`] calls, untimed, so faultline's lane never fills
//! whatever the machine's load, and at the end of each call's series; every measurement must then have reached the
//! transport.
//!
//! In rounds, like the other scenarios: in every round faultline and sentry each take a turn (the counter, then the
//! distribution), and each figure is the median of its rounds.

use std::sync::atomic::Ordering;

use crate::faultline_sdk::{self, faultline_metrics};
use crate::harness::{self, FLUSH, Summary};
use crate::sentry_sdk::{self, sentry_flush, sentry_metrics};

/// Timed calls per SDK and per call (counter, distribution), split evenly over the rounds.
pub(crate) const METRICS_N: usize = 100_000;

/// Calls between two untimed flushes: half of faultline's lane of 1,000 measurements, and a whole number of sentry's
/// batches of 100, so that sentry's batching on the caller goes on as without the flushes.
pub(crate) const PACE: usize = 500;

/// Untimed calls at the start of each series, after `init`: the thread's hub and scope, the allocator's free lists
/// and the caches are then as they are in a program that has been running.
const WARM_UP: usize = 2 * PACE;

/// The two calls measured, in the order of the figures' arrays and of the transports' counts.
pub(crate) const CALLS: [&str; 2] = ["counter, 2 attributes", "distribution, 2 attributes + unit"];

/// Each round's figures, in the order the rounds ran, per call ([`CALLS`]), and what reached each SDK's transport.
#[derive(Default)]
pub(crate) struct MetricRounds {
    pub(crate) faultline: [Vec<Summary>; 2],
    pub(crate) sentry: [Vec<Summary>; 2],
    /// Measurements captured per SDK and per call, warm-up included.
    pub(crate) captured: u64,
    pub(crate) faultline_delivered: [u64; 2],
    /// Measurements faultline's client reports counted as dropped (`trace_metric`).
    pub(crate) faultline_reported_dropped: u64,
    pub(crate) sentry_delivered: [u64; 2],
}

/// The warm-up and then `n` timed calls, flushing every [`PACE`] calls (untimed).
fn series(n: usize, call: impl Fn(usize), flush: impl Fn()) -> Summary {
    let pace = |i| {
        if i % PACE == PACE - 1 {
            flush();
        }
    };
    harness::time_each(WARM_UP, &call, pace);
    let summary = harness::time_each(n, &call, pace);
    flush();
    summary
}

/// Runs `rounds` rounds, `METRICS_N / rounds` timed calls per SDK and call in each, and checks that every measurement
/// reached each SDK's transport.
pub(crate) fn measure(rounds: usize) -> MetricRounds {
    let n = METRICS_N / rounds;
    let mut out = MetricRounds::default();
    let delivered = |counts: &[std::sync::atomic::AtomicU64; 2]| {
        [0, 1].map(|i| counts[i].load(Ordering::Relaxed))
    };
    for _ in 0..rounds {
        let guard = faultline_metrics();
        assert!(faultline::metrics::enabled(), "faultline's metrics are off");
        let (before, dropped_before) = (
            delivered(&faultline_sdk::METRICS),
            faultline_sdk::METRICS_REPORTED_DROPPED.load(Ordering::Relaxed),
        );
        let flush = || {
            faultline::flush(FLUSH);
        };
        out.faultline[0].push(series(
            n,
            |_| {
                faultline::metrics::counter("orders.placed", 1)
                    .attribute("region", "eu")
                    .attribute("vip", true)
                    .capture()
            },
            flush,
        ));
        out.faultline[1].push(series(
            n,
            |_| {
                faultline::metrics::distribution("checkout.duration", 187.5)
                    .unit("millisecond")
                    .attribute("region", "eu")
                    .attribute("vip", true)
                    .capture()
            },
            flush,
        ));
        // Closing the client sends the last client report, if any.
        drop(guard);
        let after = delivered(&faultline_sdk::METRICS);
        for i in 0..2 {
            out.faultline_delivered[i] += after[i] - before[i];
        }
        out.faultline_reported_dropped +=
            faultline_sdk::METRICS_REPORTED_DROPPED.load(Ordering::Relaxed) - dropped_before;

        let guard = sentry_metrics();
        let before = delivered(&sentry_sdk::METRICS);
        let flush = || {
            sentry_flush(FLUSH);
        };
        out.sentry[0].push(series(
            n,
            |_| {
                sentry::metrics::counter("orders.placed", 1)
                    .attribute("region", "eu")
                    .attribute("vip", true)
                    .capture()
            },
            flush,
        ));
        out.sentry[1].push(series(
            n,
            |_| {
                sentry::metrics::distribution("checkout.duration", 187.5)
                    .unit(sentry::protocol::Unit::Millisecond)
                    .attribute("region", "eu")
                    .attribute("vip", true)
                    .capture()
            },
            flush,
        ));
        drop(guard);
        let after = delivered(&sentry_sdk::METRICS);
        for i in 0..2 {
            out.sentry_delivered[i] += after[i] - before[i];
        }

        out.captured += (WARM_UP + n) as u64;
    }
    for (sdk, delivered) in [
        ("faultline", out.faultline_delivered),
        ("sentry", out.sentry_delivered),
    ] {
        for (call, delivered) in CALLS.iter().zip(delivered) {
            assert_eq!(
                delivered, out.captured,
                "{sdk}'s transport got {delivered} of the {} measurements captured ({call})",
                out.captured
            );
        }
    }
    out
}
