//! faultline in a program that links it and not sentry, configured and measured with the same code as in
//! `faultline-compare`, which builds this package (with `--features defaults` and with `--features http`) and runs
//! it with `FAULTLINE_BENCH_CHILD` set to a role of `../src/alone.rs`: `burst` (peak memory), `capture` (per-call
//! cost) or `end-to-end` (events per second).

#![allow(dead_code)] // The shared modules serve the comparison binary too.

#[path = "../../../harness/mod.rs"]
mod harness;
#[path = "../../../harness/pacing.rs"]
mod pacing;

#[path = "../../src/alone.rs"]
mod alone;
#[path = "../../src/burst.rs"]
mod burst;
#[path = "../../src/faultline_sdk.rs"]
mod faultline_sdk;
#[path = "../../src/tally.rs"]
mod tally;

fn main() {
    let err = harness::sample_error();
    alone::main(
        |dsn, queue| faultline_sdk::burst(dsn, queue.parse().expect("a queue size")),
        |n| {
            let guard = faultline_sdk::faultline_discarding();
            let summary = faultline_sdk::capture_errors(n, &err);
            faultline::flush(harness::FLUSH);
            let stats = faultline::stats();
            drop(guard);
            alone::report_summary(&summary);
            harness::child_result("sent", stats.sent);
            harness::child_result("dropped", pacing::dropped(&stats));
        },
        |dsn, n| {
            let (delivery, ()) = faultline_sdk::end_to_end(dsn, n, &err, || ());
            alone::report_end_to_end(n, delivery.elapsed, delivery.warm_up_sent);
            harness::child_result("sent", delivery.sent);
            harness::child_result("dropped", delivery.dropped);
        },
    );
}
