//! The peak-memory burst in a program that links faultline and not sentry, as a program using faultline would be.
//! `faultline-compare` runs it (with `BENCH_DSN` and `BENCH_QUEUE` set) next to `burst-sentry`.

#![allow(dead_code)] // The shared modules serve the comparison binary too.

#[path = "../../../harness/mod.rs"]
mod harness;
#[path = "../../../harness/pacing.rs"]
mod pacing;

#[path = "../burst.rs"]
mod burst;
#[path = "../faultline_sdk.rs"]
mod faultline_sdk;
#[path = "../tally.rs"]
mod tally;

fn main() {
    let dsn = std::env::var("BENCH_DSN").expect("BENCH_DSN");
    let queue = std::env::var("BENCH_QUEUE").expect("BENCH_QUEUE");
    faultline_sdk::burst(dsn, queue.parse().expect("a queue size"));
}
