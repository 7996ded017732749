//! sentry's side of the comparison: its configurations and its part of the peak-memory burst. Compiled into the
//! comparison binary and, alone, into `burst-sentry`, a program that links sentry and not faultline.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use crate::burst;
use crate::harness::{self, DEPTH, FLUSH, deep};

/// sentry calls a custom transport on the capturing thread; this one drops the envelope, so only the capture is
/// timed.
pub(crate) struct SentryDiscard;

impl sentry::Transport for SentryDiscard {
    fn send_envelope(&self, envelope: sentry::Envelope) {
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
    let mut options = sentry_options();
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
