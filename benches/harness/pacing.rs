//! How the benchmarks pace faultline's captures, shared by `capture.rs` and `compare/`. It uses faultline, so it sits
//! beside the SDK-neutral harness rather than in it: `alone-sentry` includes the harness and must not link faultline.

use crate::harness::{self, FLUSH, IDLE, Summary};

/// How many captures go between two (untimed) flushes in a paced loop, keeping the queue short.
pub const PACE: usize = 64;

/// Times `call` `n` times, with a flush after every [`PACE`] calls that is not timed.
pub fn paced(n: usize, mut call: impl FnMut()) -> Summary {
    harness::time_each(
        n,
        |_| call(),
        |i| {
            if i % PACE == PACE - 1 {
                faultline::flush(FLUSH);
            }
        },
    )
}

/// Times `call` `n` times with the worker asleep before each: a flush and then [`IDLE`] of quiet, neither timed.
pub fn isolated(n: usize, mut call: impl FnMut()) -> Summary {
    harness::time_each(
        n,
        |_| call(),
        |_| {
            faultline::flush(FLUSH);
            std::thread::sleep(IDLE);
        },
    )
}

/// Events that did not reach the transport, whatever the reason.
pub fn dropped(stats: &faultline::Stats) -> u64 {
    stats.queue_overflow
        + stats.sample_rate
        + stats.before_send
        + stats.network_error
        + stats.send_error
        + stats.ratelimit_backoff
}
