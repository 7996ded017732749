//! The clock that spans read at their start and end: the CPU's time-stamp counter where the kernel keeps time by it
//! too, else the monotonic clock. Ticks mean nothing alone; a transaction turns its spans' ticks into times by
//! the ticks and the monotonic clock it reads at its own start and finish (`records.rs`), so the counter needs no
//! calibration and no known frequency.
//!
//! Why: on Linux x86_64, reading the time-stamp counter costs 7.5 ns and `Instant::now()` 17 ns (the vDSO reads the
//! same counter, then scales it and checks for a concurrent update), and a span reads the clock twice. The
//! `quanta` and `minstant` crates offer the same counter, but both calibrate it against the system clock for the
//! whole process first, quanta at first use and minstant in a constructor that runs before `main` in every program
//! that links it; a transaction already reads the monotonic clock at both ends, which is all the interpolation
//! needs.
//!
//! The counter is used only where the kernel's own clock source is `tsc`: the kernel then found it invariant and
//! in step across CPUs, which is what makes ticks read on different threads comparable. Elsewhere (other clock
//! sources, other systems and architectures) a tick is a nanosecond of the monotonic clock. The choice is made
//! once per process; should the kernel later give up the counter (its watchdog finding it unstable), spans keep
//! reading it, and their transaction clamps every time it makes of them to lie within its own start and end.

use std::sync::OnceLock;
use std::time::Instant;

/// Where ticks come from, decided once per process.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// The time-stamp counter.
    Counter,
    /// Nanoseconds of the monotonic clock since this instant.
    Monotonic(Instant),
}

static SOURCE: OnceLock<Source> = OnceLock::new();

/// Decides where ticks come from now (reading one small file), so that the first span does not.
pub(crate) fn warm_up() {
    source();
}

/// The ticks now: comparable across threads, never less than an earlier reading on the same thread.
pub(crate) fn now() -> u64 {
    read(source())
}

fn read(source: Source) -> u64 {
    match source {
        Source::Counter => counter(),
        Source::Monotonic(anchor) => u64::try_from(anchor.elapsed().as_nanos()).unwrap_or(u64::MAX),
    }
}

fn source() -> Source {
    *SOURCE.get_or_init(|| {
        if kernel_keeps_time_by_counter() {
            Source::Counter
        } else {
            Source::Monotonic(Instant::now())
        }
    })
}

/// Whether the kernel's clock source is the time-stamp counter.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn kernel_keeps_time_by_counter() -> bool {
    std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
        .is_ok_and(|source| source.trim() == "tsc")
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn kernel_keeps_time_by_counter() -> bool {
    false
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[expect(
    unsafe_code,
    reason = "reading the time-stamp counter; see the safety comment"
)]
fn counter() -> u64 {
    // SAFETY: `_rdtsc` has no memory-safety preconditions; it is `unsafe` only as the `core::arch` intrinsics
    // are, and every x86_64 CPU has the instruction. (A thread that disabled it with `prctl(PR_SET_TSC)` would
    // get SIGSEGV, not undefined behaviour; the kernel's clock source being `tsc` makes that unlikely.)
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn counter() -> u64 {
    // Never called: `source` is `Monotonic` here.
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both sources, whichever this machine uses: readings on one thread never go back, and time moves them on.
    #[test]
    fn ticks_never_go_back_on_a_thread_and_advance_with_time() {
        let mut sources = vec![Source::Monotonic(Instant::now())];
        if kernel_keeps_time_by_counter() {
            sources.push(Source::Counter);
        }
        for source in sources {
            let first = read(source);
            let mut last = first;
            for _ in 0..10_000 {
                let next = read(source);
                assert!(next >= last, "{source:?}: {next} after {last}");
                last = next;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
            assert!(read(source) > first, "{source:?}");
        }
        assert!(now() <= now());
    }
}
