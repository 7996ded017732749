//! The peak-memory burst in a program that links sentry and not faultline, as a program using sentry would be.
//! `faultline-compare` runs it (with `BENCH_DSN` and `BENCH_QUEUE` set) next to `burst-faultline`.

#![allow(dead_code)] // The shared modules serve the comparison binary too.

#[path = "../../../harness/mod.rs"]
mod harness;

#[path = "../burst.rs"]
mod burst;
#[path = "../sentry_sdk.rs"]
mod sentry_sdk;
#[path = "../tally.rs"]
mod tally;

fn main() {
    let dsn = std::env::var("BENCH_DSN").expect("BENCH_DSN");
    let queue = std::env::var("BENCH_QUEUE").expect("BENCH_QUEUE");
    // sentry's own default queue when the parent passes "default".
    sentry_sdk::burst(&dsn, queue.parse().ok());
}
