//! The peak-memory burst, the same for both SDKs: start the SDK, report one error, then [`BURST_N`] in a row, and
//! report the process's peak resident memory (VmHWM) after each stage as `key value` lines for the parent.

use crate::harness;

/// Errors in the burst.
pub(crate) const BURST_N: usize = 10_000;

/// Runs the burst: `init` starts the SDK, `capture_deep` reports one error from the benchmark's deep stack, `flush`
/// waits for delivery. Returns the SDK's guard, so the caller can read the SDK's counters before stopping it.
pub(crate) fn measure<G>(init: impl FnOnce() -> G, capture_deep: impl Fn(), flush: impl Fn()) -> G {
    harness::child_result("hwm_start_kib", harness::rss_kib().0);
    let guard = init();
    harness::child_result("hwm_init_kib", harness::rss_kib().0);
    capture_deep();
    flush();
    harness::child_result("hwm_first_kib", harness::rss_kib().0);
    for _ in 1..BURST_N {
        capture_deep();
    }
    flush();
    harness::child_result("hwm_peak_kib", harness::rss_kib().0);
    guard
}
