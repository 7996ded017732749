//! faultline's side of the comparison: its configurations and its part of the peak-memory burst. Compiled into the
//! comparison binary and, alone, into `burst-faultline`, a program that links faultline and not sentry.

use crate::burst;
use crate::harness::{self, DEPTH, FLUSH, deep};
use crate::pacing;
use crate::tally::Tally;

/// Drops every envelope (on faultline's worker), counting the transactions and spans in them.
pub(crate) struct FaultlineDiscard;

/// Transactions and their spans that [`FaultlineDiscard`] has dropped, so a run can check that each SDK recorded
/// the same.
pub(crate) static TALLY: Tally = Tally::new();

impl faultline::transport::Transport for FaultlineDiscard {
    fn send_envelope(
        &self,
        envelope: &faultline::protocol::Envelope,
    ) -> faultline::transport::Outcome {
        for item in &envelope.items {
            if let faultline::protocol::EnvelopeItem::Transaction(transaction) = item {
                TALLY.add(transaction.spans.len());
            }
        }
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

/// faultline with performance monitoring at `traces_sample_rate`, discarding what it sends.
pub(crate) fn faultline_tracing(traces_sample_rate: f64) -> faultline::InitGuard {
    faultline::init(
        faultline::ClientOptions::new()
            .transport(FaultlineDiscard)
            .queue_size(1 << 16)
            .traces_sample_rate(traces_sample_rate),
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
