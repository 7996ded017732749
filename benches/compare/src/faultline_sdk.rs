//! faultline's side of the comparison: its configurations and its part of the peak-memory burst. Compiled into the
//! comparison binary and, alone, into `burst-faultline`, a program that links faultline and not sentry.

use crate::burst;
use crate::harness::{self, DEPTH, FLUSH, deep};
use crate::pacing;

pub(crate) struct FaultlineDiscard;

impl faultline::transport::Transport for FaultlineDiscard {
    fn send_envelope(
        &self,
        _envelope: &faultline::protocol::Envelope,
    ) -> faultline::transport::Outcome {
        faultline::transport::Outcome::Sent
    }
}

pub(crate) fn faultline_discarding() -> faultline::InitGuard {
    faultline::init(
        faultline::ClientOptions::new()
            .transport(FaultlineDiscard)
            .queue_size(1 << 16),
    )
}

pub(crate) fn faultline_http(dsn: String, queue: usize) -> faultline::InitGuard {
    // The default delivery path (the spool on), in a directory of the run's own rather than the user's cache.
    let spool =
        std::env::temp_dir().join(format!("faultline-compare-spool-{}", std::process::id()));
    faultline::init(
        faultline::ClientOptions::new()
            .dsn(dsn)
            .spool_dir(Some(spool))
            .queue_size(queue),
    )
}

/// The burst of [`burst::BURST_N`] errors to the server at `dsn`, reporting resident memory at each stage.
pub(crate) fn burst(dsn: String, queue: usize) {
    let err = harness::sample_error();
    let guard = burst::measure(
        || faultline_http(dsn, queue),
        || {
            deep(DEPTH, &mut || faultline::capture_error(&err));
        },
        || {
            faultline::flush(FLUSH);
        },
    );
    harness::child_result("dropped", pacing::dropped(&faultline::stats()));
    drop(guard);
}
