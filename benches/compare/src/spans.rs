//! Performance monitoring on the calling thread, faultline next to sentry, each with a transport that discards: a
//! sampled child span's start and finish, and an unsampled transaction's start and finish. An `Arc::new(0u64)` and
//! its drop, the smallest thing a span handle could cost, is the floor (as in `capture.rs`'s scenario (k)).
//!
//! Like the stack-walking scenarios, these run in rounds: in every round the floor, faultline and sentry each take a
//! turn at both scenarios, and each figure is the median of its rounds.

use std::cell::RefCell;
use std::hint::black_box;
use std::sync::Arc;

use crate::faultline_sdk::{self, faultline_tracing};
use crate::harness::{self, FLUSH, Summary};
use crate::sentry_sdk::{self, sentry_flush, sentry_tracing};

/// Timed calls per SDK and scenario, split evenly over the rounds.
pub(crate) const SPANS_N: usize = 100_000;

/// faultline records at most 1000 spans a transaction, so the span scenario finishes its transaction and starts
/// another every 500 spans, untimed; sentry's turn does the same, so both record the same spans in the same
/// transactions.
pub(crate) const SPANS_PER_TRANSACTION: usize = 500;

/// Untimed calls at the start of each turn, after `init`: the thread's hub and scope, the allocator's free lists
/// and the caches are then as they are in a program that has been running.
const WARM_UP: usize = 2 * SPANS_PER_TRANSACTION;

/// Each round's figures, in the order the rounds ran.
#[derive(Default)]
pub(crate) struct SpanRounds {
    pub(crate) floor: Vec<Summary>,
    pub(crate) faultline_span: Vec<Summary>,
    pub(crate) sentry_span: Vec<Summary>,
    pub(crate) faultline_unsampled: Vec<Summary>,
    pub(crate) sentry_unsampled: Vec<Summary>,
}

/// Runs `rounds` rounds of both scenarios, `SPANS_N / rounds` timed calls per SDK and scenario in each, and checks
/// that both SDKs sent the same transactions and spans: every span in the sampled scenario, nothing in the other.
pub(crate) fn measure(rounds: usize) -> SpanRounds {
    let n = SPANS_N / rounds;
    let mut out = SpanRounds::default();
    for _ in 0..rounds {
        out.floor.push(harness::time_each(
            n,
            |_| {
                black_box(Arc::new(black_box(0u64)));
            },
            |_| {},
        ));

        let guard = faultline_tracing(1.0);
        let before = faultline_sdk::TALLY.get();
        let start = || faultline::start_transaction("bench", "task");
        let span = |t: &faultline::Transaction| t.start_child("db.query", "SELECT 1").finish();
        let finish = |t: faultline::Transaction| t.finish();
        time_spans(WARM_UP, start, span, finish);
        out.faultline_span.push(time_spans(n, start, span, finish));
        // What the worker still has to send goes before the next turn, so that it does not run alongside.
        faultline::flush(FLUSH);
        check("faultline", before, faultline_sdk::TALLY.get(), WARM_UP + n);
        drop(guard);

        let guard = faultline_tracing(0.0);
        let before = faultline_sdk::TALLY.get();
        let transaction = || faultline::start_transaction("bench", "task").finish();
        harness::time_each(WARM_UP, |_| transaction(), |_| {});
        out.faultline_unsampled
            .push(harness::time_each(n, |_| transaction(), |_| {}));
        faultline::flush(FLUSH);
        check("faultline", before, faultline_sdk::TALLY.get(), 0);
        drop(guard);

        let guard = sentry_tracing(1.0);
        let before = sentry_sdk::TALLY.get();
        let start = || sentry::start_transaction(sentry::TransactionContext::new("bench", "task"));
        let span = |t: &sentry::Transaction| t.start_child("db.query", "SELECT 1").finish();
        let finish = |t: sentry::Transaction| t.finish();
        time_spans(WARM_UP, start, span, finish);
        out.sentry_span.push(time_spans(n, start, span, finish));
        sentry_flush(FLUSH);
        check("sentry", before, sentry_sdk::TALLY.get(), WARM_UP + n);
        drop(guard);

        let guard = sentry_tracing(0.0);
        let before = sentry_sdk::TALLY.get();
        let transaction =
            || sentry::start_transaction(sentry::TransactionContext::new("bench", "task")).finish();
        harness::time_each(WARM_UP, |_| transaction(), |_| {});
        out.sentry_unsampled
            .push(harness::time_each(n, |_| transaction(), |_| {}));
        sentry_flush(FLUSH);
        check("sentry", before, sentry_sdk::TALLY.get(), 0);
        drop(guard);
    }
    out
}

/// Asserts that `sdk`'s transport received `spans` spans, [`SPANS_PER_TRANSACTION`] a transaction, between the
/// tallies `before` and `after`.
fn check(sdk: &str, before: (u64, u64), after: (u64, u64), spans: usize) {
    let got = (after.0 - before.0, after.1 - before.1);
    let want = ((spans / SPANS_PER_TRANSACTION) as u64, spans as u64);
    assert_eq!(
        got, want,
        "{sdk} sent (transactions, spans) {got:?}, not {want:?}"
    );
}

/// Times `span` `n` times, each on the current transaction from `start`, which `finish` ends and `start` replaces
/// every [`SPANS_PER_TRANSACTION`] spans, untimed.
fn time_spans<T>(
    n: usize,
    start: impl Fn() -> T,
    span: impl Fn(&T),
    finish: impl Fn(T),
) -> Summary {
    let transaction = RefCell::new(start());
    let summary = harness::time_each(
        n,
        |_| span(&transaction.borrow()),
        |i| {
            // After the last span, the transaction is finished below, not replaced.
            if (i + 1) % SPANS_PER_TRANSACTION == 0 && i + 1 < n {
                finish(transaction.replace(start()));
            }
        },
    );
    finish(transaction.into_inner());
    summary
}
