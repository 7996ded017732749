//! The programs built alone, `alone-faultline/` and `alone-sentry/`: each a package of its own (its own workspace
//! and lock file) that links one SDK, so Cargo resolves that SDK's dependencies with its own features only, as in a
//! program that uses it; in `faultline-compare`, which links both, Cargo unifies the two SDKs' features (sentry's
//! regexes get faultline's `regex` engines, its ureq faultline's TLS code). `faultline-compare` builds them and runs
//! them as child processes. This file is the contract between the two sides, compiled into all three programs: the
//! roles, the environment a child reads and the `result key value` lines it prints.

use std::path::Path;
use std::time::Duration;

use crate::harness::{self, Summary};

/// The peak-memory burst of `burst.rs` to the server whose DSN is in `BENCH_DSN`, with the queue size in
/// `BENCH_QUEUE` (`default`: the SDK's own). Prints what `burst::measure` prints.
pub(crate) const BURST: &str = "burst";

/// `BENCH_N` `capture_error` calls from the benchmark's deep stack, each timed, with the SDK sending to a discarding
/// transport as in the comparison binary's capture rounds. Prints [`report_summary`]'s lines.
pub(crate) const CAPTURE: &str = "capture";

/// One end-to-end run of `BENCH_N` `capture_error` calls to the server whose DSN is in `BENCH_DSN` (the parent hosts
/// it and counts what arrives). Prints [`report_end_to_end`]'s lines.
pub(crate) const END_TO_END: &str = "end-to-end";

/// Runs `program`, built alone, for `role` with `vars` in its environment; returns its results (the parent's side).
pub(crate) fn run(program: &Path, role: &str, vars: &[(&str, String)]) -> Vec<(String, String)> {
    let mut env = vec![(harness::CHILD_VAR, role.to_owned())];
    env.extend(vars.iter().cloned());
    harness::run_program(program, &env)
}

/// Runs the role named in `FAULTLINE_BENCH_CHILD` with what it reads from the environment: `burst` with the DSN
/// and the queue size as given, `capture` with the number of calls, `end-to-end` with the DSN and the number of
/// calls. Each prints its own results.
pub(crate) fn main(
    burst: impl FnOnce(String, String),
    capture: impl FnOnce(usize),
    end_to_end: impl FnOnce(String, usize),
) {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            eprintln!("{name} is not set");
            std::process::exit(2)
        })
    };
    let n = || -> usize {
        var("BENCH_N").parse().unwrap_or_else(|_| {
            eprintln!("BENCH_N is not a number of calls");
            std::process::exit(2)
        })
    };
    match harness::child_role().as_deref() {
        Some(BURST) => burst(var("BENCH_DSN"), var("BENCH_QUEUE")),
        Some(CAPTURE) => capture(n()),
        Some(END_TO_END) => end_to_end(var("BENCH_DSN"), n()),
        role => {
            eprintln!(
                "unknown role {role:?}; set {}={BURST} (with BENCH_DSN, BENCH_QUEUE), {CAPTURE} (with BENCH_N) or \
                 {END_TO_END} (with BENCH_DSN, BENCH_N); faultline-compare runs this program",
                harness::CHILD_VAR
            );
            std::process::exit(2);
        }
    }
}

/// Prints a capture round's figures for the parent.
pub(crate) fn report_summary(summary: &Summary) {
    harness::child_result("n", summary.n);
    harness::child_result("median_ns", summary.median.as_nanos());
    harness::child_result("p99_ns", summary.p99.as_nanos());
    harness::child_result("p999_ns", summary.p999.as_nanos());
    harness::child_result("max_ns", summary.max.as_nanos());
}

/// The figures of [`report_summary`], read back by the parent.
pub(crate) fn summary(results: &[(String, String)]) -> Summary {
    let ns = |key| Duration::from_nanos(harness::get(results, key).parse().expect("nanoseconds"));
    Summary {
        n: harness::get(results, "n")
            .parse()
            .expect("a number of calls"),
        median: ns("median_ns"),
        p99: ns("p99_ns"),
        p999: ns("p999_ns"),
        max: ns("max_ns"),
    }
}

/// Prints an end-to-end run's figures for the parent: the calls made, the time from the first of them to the end of
/// the flush after the last, the events the SDK delivered before the clock started (the server counts them too),
/// and the calls per second through that flush, whatever became of them. The parent's rate is the server's count,
/// less the warm-up events, over the elapsed time; each SDK adds its own counts.
pub(crate) fn report_end_to_end(captured: usize, elapsed: Duration, warm_up_events: u64) {
    harness::child_result("captured", captured);
    harness::child_result("elapsed_ns", elapsed.as_nanos());
    harness::child_result("warm_up_events", warm_up_events);
    harness::child_result(
        "rate",
        format!("{:.0}", captured as f64 / elapsed.as_secs_f64()),
    );
}
