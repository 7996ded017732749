//! Structured logs on the caller, faultline next to sentry, each with logs on and a transport that discards: one
//! record at level info with three attributes and a template with one parameter, the same data through each SDK's
//! macro.
//!
//! faultline's caller copies the record onto a queue of at most 1,000 that its worker takes by the hundred, making
//! and sending the records there; sentry makes the record on the caller (body, template, parameters and its default
//! attributes) and keeps it in a batch that the caller itself hands to the transport every 100 records. Both SDKs
//! are flushed every [`PACE`] calls, untimed, so faultline's queue never fills whatever the machine's load, and at
//! the end of each turn; every record must then have reached the transport.
//!
//! In rounds, like the other scenarios: in every round faultline and sentry each take a turn, and each figure is the
//! median of its rounds.

use std::sync::atomic::Ordering;

use crate::faultline_sdk::{self, faultline_logs};
use crate::harness::{self, FLUSH, Summary};
use crate::sentry_sdk::{self, sentry_flush, sentry_logs};

/// Timed calls per SDK, split evenly over the rounds.
pub(crate) const LOGS_N: usize = 100_000;

/// Calls between two untimed flushes: half of faultline's queue of 1,000 records, and a whole number of sentry's
/// batches of 100, so that sentry's batching on the caller goes on as without the flushes.
pub(crate) const PACE: usize = 500;

/// Untimed calls at the start of each turn, after `init`: the thread's hub and scope, the allocator's free lists and
/// the caches are then as they are in a program that has been running.
const WARM_UP: usize = 2 * PACE;

/// Each round's figures, in the order the rounds ran, and what reached each SDK's transport.
#[derive(Default)]
pub(crate) struct LogRounds {
    pub(crate) faultline: Vec<Summary>,
    pub(crate) sentry: Vec<Summary>,
    /// Records captured per SDK, warm-up included.
    pub(crate) captured: u64,
    pub(crate) faultline_delivered: u64,
    /// Records faultline's client reports counted as dropped (`log_item`).
    pub(crate) faultline_reported_dropped: u64,
    pub(crate) sentry_delivered: u64,
}

/// Runs `rounds` rounds, `LOGS_N / rounds` timed calls per SDK in each, and checks that every record reached each
/// SDK's transport.
pub(crate) fn measure(rounds: usize) -> LogRounds {
    let n = LOGS_N / rounds;
    let mut out = LogRounds::default();
    for _ in 0..rounds {
        let guard = faultline_logs();
        assert!(faultline::logs::enabled(), "faultline's logs are off");
        let (before, dropped_before) = (
            faultline_sdk::LOGS.load(Ordering::Relaxed),
            faultline_sdk::LOGS_REPORTED_DROPPED.load(Ordering::Relaxed),
        );
        let log = |_| {
            faultline::logs::info!(
                user.id = 42,
                "cart.items" = 3,
                vip = true,
                "checkout for {}",
                "alice"
            )
        };
        let pace = |i| {
            if i % PACE == PACE - 1 {
                faultline::flush(FLUSH);
            }
        };
        harness::time_each(WARM_UP, log, pace);
        out.faultline.push(harness::time_each(n, log, pace));
        faultline::flush(FLUSH);
        // Closing the client sends the last client report, if any.
        drop(guard);
        out.faultline_delivered += faultline_sdk::LOGS.load(Ordering::Relaxed) - before;
        out.faultline_reported_dropped +=
            faultline_sdk::LOGS_REPORTED_DROPPED.load(Ordering::Relaxed) - dropped_before;

        let guard = sentry_logs();
        let before = sentry_sdk::LOGS.load(Ordering::Relaxed);
        let log = |_| {
            sentry::logger_info!(
                user.id = 42,
                cart.items = 3,
                vip = true,
                "checkout for {}",
                "alice"
            )
        };
        let pace = |i| {
            if i % PACE == PACE - 1 {
                sentry_flush(FLUSH);
            }
        };
        harness::time_each(WARM_UP, log, pace);
        out.sentry.push(harness::time_each(n, log, pace));
        sentry_flush(FLUSH);
        drop(guard);
        out.sentry_delivered += sentry_sdk::LOGS.load(Ordering::Relaxed) - before;

        out.captured += (WARM_UP + n) as u64;
    }
    for (sdk, delivered) in [
        ("faultline", out.faultline_delivered),
        ("sentry", out.sentry_delivered),
    ] {
        assert_eq!(
            delivered, out.captured,
            "{sdk}'s transport got {delivered} of the {} records captured",
            out.captured
        );
    }
    out
}
