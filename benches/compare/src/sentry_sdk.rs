//! sentry's side of the comparison: its configurations and its part of the peak-memory burst. Compiled into the
//! comparison binary and, alone, into `burst-sentry`, a program that links sentry and not faultline.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use crate::burst;
use crate::harness::{self, DEPTH, FLUSH, deep};
use crate::tally::Tally;

/// sentry calls a custom transport on the capturing thread; this one drops the envelope, so only the capture is
/// timed. It counts the transactions and spans in it.
pub(crate) struct SentryDiscard;

/// Transactions and their spans that [`SentryDiscard`] has dropped, so a run can check that each SDK recorded the
/// same.
pub(crate) static TALLY: Tally = Tally::new();

impl sentry::Transport for SentryDiscard {
    fn send_envelope(&self, envelope: sentry::Envelope) {
        for item in envelope.items() {
            if let sentry::protocol::EnvelopeItem::Transaction(transaction) = item {
                TALLY.add(transaction.spans.len());
            }
        }
        black_box(envelope);
    }
}

pub(crate) fn sentry_options() -> sentry::ClientOptions {
    // `ClientOptions` is non-exhaustive: start from the defaults and set fields.
    let mut options = sentry::ClientOptions::default();
    options.attach_stacktrace = true;
    options
}

pub(crate) fn sentry_discarding() -> sentry::ClientInitGuard {
    discarding(sentry_options())
}

/// sentry with performance monitoring at `traces_sample_rate`, discarding what it sends.
pub(crate) fn sentry_tracing(traces_sample_rate: f32) -> sentry::ClientInitGuard {
    discarding(sentry_options().traces_sample_rate(traces_sample_rate))
}

fn discarding(mut options: sentry::ClientOptions) -> sentry::ClientInitGuard {
    // sentry is enabled only with a DSN, even with a custom transport; nothing is sent to it.
    options.dsn = Some("http://bench@127.0.0.1:9/1".parse().expect("a DSN"));
    options.transport = Some(Arc::new(Arc::new(SentryDiscard)));
    sentry::init(options)
}

/// sentry with its ureq transport (a background thread behind a bounded channel of `queue` envelopes).
pub(crate) fn sentry_http(dsn: &str, queue: Option<usize>) -> sentry::ClientInitGuard {
    let mut options = sentry_options();
    options.dsn = Some(dsn.parse().expect("a DSN"));
    options.transport_channel_capacity = queue.and_then(std::num::NonZeroUsize::new);
    sentry::init(options)
}

/// Waits until sentry's transport has sent what is queued (sentry has no free `flush` function).
pub(crate) fn sentry_flush(timeout: Duration) -> bool {
    sentry::Hub::current()
        .client()
        .is_none_or(|client| client.flush(Some(timeout)))
}

/// The burst of [`burst::BURST_N`] errors to the server at `dsn`, reporting resident memory at each stage.
pub(crate) fn burst(dsn: &str, queue: Option<usize>) {
    let err = harness::sample_error();
    let guard = burst::measure(
        || sentry_http(dsn, queue),
        || {
            deep(DEPTH, &mut || sentry::capture_error(&err));
        },
        || {
            sentry_flush(FLUSH);
        },
    );
    drop(guard);
}
