//! Counters of what happened to events: sent, or discarded and why.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why an event was not delivered. The names are the protocol's client-report reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Reason {
    QueueOverflow,
    SampleRate,
    BeforeSend,
    NetworkError,
    SendError,
    RateLimitBackoff,
    EventProcessor,
}

impl Reason {
    const ALL: [Reason; 7] = [
        Reason::QueueOverflow,
        Reason::SampleRate,
        Reason::BeforeSend,
        Reason::NetworkError,
        Reason::SendError,
        Reason::RateLimitBackoff,
        Reason::EventProcessor,
    ];
}

/// The live counters, shared by the callers and the worker; lock-free so counting never blocks.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    sent: AtomicU64,
    discarded: [AtomicU64; Reason::ALL.len()],
}

impl Counters {
    pub(crate) fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn discard(&self, reason: Reason) {
        self.discarded[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let get = |r: Reason| self.discarded[r as usize].load(Ordering::Relaxed);
        Stats {
            sent: self.sent.load(Ordering::Relaxed),
            queue_overflow: get(Reason::QueueOverflow),
            sample_rate: get(Reason::SampleRate),
            before_send: get(Reason::BeforeSend),
            network_error: get(Reason::NetworkError),
            send_error: get(Reason::SendError),
            ratelimit_backoff: get(Reason::RateLimitBackoff),
            event_processor: get(Reason::EventProcessor),
        }
    }
}

/// What happened to the events of the current client so far, from [`crate::stats`].
///
/// Every event that was captured while the SDK was enabled ends up in exactly one of these counters (or is still
/// queued).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Accepted by the transport.
    pub sent: u64,
    /// Dropped because the queue to the worker was full.
    pub queue_overflow: u64,
    /// Dropped by sampling.
    pub sample_rate: u64,
    /// Dropped by `before_send` (it returned `None` or panicked).
    pub before_send: u64,
    /// Not delivered because the server could not be reached.
    pub network_error: u64,
    /// Rejected by the server.
    pub send_error: u64,
    /// Not delivered because the server was rate limiting.
    pub ratelimit_backoff: u64,
    /// Dropped by `ignore_errors` or as a duplicate of the error captured just before.
    pub event_processor: u64,
}
