//! sentry 0.49.5 in a program that links it and not faultline, configured and measured with the same code as in
//! `faultline-compare`, which builds this package and runs it with `FAULTLINE_BENCH_CHILD` set to a role of
//! `../src/alone.rs`: `burst` (peak memory), `capture` (per-call cost) or `end-to-end` (events per second).

#![allow(dead_code)] // The shared modules serve the comparison binary too.

#[path = "../../../harness/mod.rs"]
mod harness;

#[path = "../../src/alone.rs"]
mod alone;
#[path = "../../src/burst.rs"]
mod burst;
#[path = "../../src/sentry_sdk.rs"]
mod sentry_sdk;
#[path = "../../src/tally.rs"]
mod tally;

fn main() {
    let err = harness::sample_error();
    alone::main(
        // sentry's own default queue when the parent passes "default".
        |dsn, queue| sentry_sdk::burst(&dsn, queue.parse().ok()),
        |n| {
            let guard = sentry_sdk::sentry_discarding();
            let summary = sentry_sdk::capture_errors(n, &err);
            drop(guard);
            alone::report_summary(&summary);
        },
        |dsn, n| {
            // What sentry drops it reports in client reports, which the parent's server counts.
            let (elapsed, (), ()) = sentry_sdk::end_to_end(&dsn, n, &err, || (), || ());
            alone::report_end_to_end(n, elapsed, 1);
        },
    );
}
