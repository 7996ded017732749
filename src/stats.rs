//! Counters of what happened to events: sent, or discarded and why; and the client reports made from them.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::protocol::data_category::DataCategory;
use crate::protocol::envelope::{ClientReport, DiscardedEvent, Envelope, EnvelopeItem};
use crate::protocol::time::Timestamp;

/// Why an event was not delivered. The names are the protocol's client-report reasons, except
/// `RateLimited`, which the server counted itself (it answered 429) and so is left out of client reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Reason {
    QueueOverflow,
    CacheOverflow,
    BufferOverflow,
    SampleRate,
    BeforeSend,
    EventProcessor,
    NetworkError,
    SendError,
    RateLimitBackoff,
    RateLimited,
}

impl Reason {
    const ALL: [Reason; 10] = [
        Reason::QueueOverflow,
        Reason::CacheOverflow,
        Reason::BufferOverflow,
        Reason::SampleRate,
        Reason::BeforeSend,
        Reason::EventProcessor,
        Reason::NetworkError,
        Reason::SendError,
        Reason::RateLimitBackoff,
        Reason::RateLimited,
    ];

    /// The client-report reason, or `None` for what must not be reported.
    fn report_name(self) -> Option<&'static str> {
        Some(match self {
            Reason::QueueOverflow => "queue_overflow",
            Reason::CacheOverflow => "cache_overflow",
            Reason::BufferOverflow => "buffer_overflow",
            Reason::SampleRate => "sample_rate",
            Reason::BeforeSend => "before_send",
            Reason::EventProcessor => "event_processor",
            Reason::NetworkError => "network_error",
            Reason::SendError => "send_error",
            Reason::RateLimitBackoff => "ratelimit_backoff",
            Reason::RateLimited => return None,
        })
    }
}

/// How many categories the counters keep apart.
const CATEGORIES: usize = DataCategory::ALL.len();

/// The live counters, shared by the callers and the worker; lock-free so counting never blocks. Discards are kept
/// per reason and per data category, so each kind of item is reported in its own category.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Events (the `error` category) the server accepted.
    sent: AtomicU64,
    discarded: [[AtomicU64; CATEGORIES]; Reason::ALL.len()],
    /// What the last client report covered, per reason and category (only the worker touches it, through `&self`).
    reported: [[AtomicU64; CATEGORIES]; Reason::ALL.len()],
    spool_corrupt: AtomicU64,
}

impl Counters {
    /// Counts one event accepted by the server.
    pub(crate) fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn discard(&self, reason: Reason, category: DataCategory) {
        self.discard_n(reason, category, 1);
    }

    pub(crate) fn discard_n(&self, reason: Reason, category: DataCategory, n: u64) {
        if n > 0 {
            self.discarded[reason as usize][category as usize].fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Counts spool files evicted to make room (`cache_overflow`). The spool deletes them unread, so their kinds
    /// are not known; each counts as one event, which every file held before other kinds were spooled.
    pub(crate) fn evicted(&self, n: u64) {
        self.discard_n(Reason::CacheOverflow, DataCategory::Error, n);
    }

    /// Counts each item of `envelope` as discarded for `reason`, in the item's own category; a transaction's spans
    /// (its own included) count as `span` too, when the transaction is parsed.
    pub(crate) fn discard_items(&self, reason: Reason, envelope: &Envelope) {
        for item in &envelope.items {
            match item {
                EnvelopeItem::Transaction(transaction) => {
                    self.discard(reason, DataCategory::Transaction);
                    let spans = 1 + transaction.spans.len() as u64;
                    self.discard_n(reason, DataCategory::Span, spans);
                }
                // Containers count their records, attachments their bytes.
                EnvelopeItem::Logs(logs) => {
                    self.discard_n(reason, DataCategory::LogItem, logs.items.len() as u64);
                    self.discard_n(reason, DataCategory::LogByte, logs.record_bytes());
                }
                EnvelopeItem::Metrics(metrics) => {
                    self.discard_n(
                        reason,
                        DataCategory::TraceMetric,
                        metrics.items.len() as u64,
                    );
                }
                EnvelopeItem::Attachment(attachment) => {
                    self.discard_n(
                        reason,
                        DataCategory::Attachment,
                        attachment.bytes.len() as u64,
                    );
                }
                item => {
                    let category = DataCategory::from_item_type(item.ty());
                    // A lost report's counts go back to the counters instead (see `return_report`).
                    if category != DataCategory::ClientReport {
                        self.discard(reason, category);
                    }
                }
            }
        }
    }

    pub(crate) fn spool_corrupt(&self, n: u64) {
        self.spool_corrupt.fetch_add(n, Ordering::Relaxed);
    }

    /// A client report of what was discarded since the last one, or `None` when nothing was.
    pub(crate) fn take_report(&self) -> Option<ClientReport> {
        let mut discarded = Vec::new();
        for reason in Reason::ALL {
            let Some(name) = reason.report_name() else {
                continue;
            };
            for category in DataCategory::ALL {
                let (r, c) = (reason as usize, category as usize);
                let now = self.discarded[r][c].load(Ordering::Relaxed);
                let before = self.reported[r][c].swap(now, Ordering::Relaxed);
                if now > before {
                    discarded.push(DiscardedEvent {
                        reason: name.to_owned(),
                        category: category.as_str().to_owned(),
                        quantity: now - before,
                    });
                }
            }
        }
        (!discarded.is_empty()).then(|| ClientReport {
            timestamp: Some(Timestamp::now()),
            discarded_events: discarded,
        })
    }

    /// Puts a report's counts back, so they go out with a later one (its envelope could not be kept).
    pub(crate) fn return_report(&self, report: &ClientReport) {
        for entry in &report.discarded_events {
            let reason = Reason::ALL
                .into_iter()
                .find(|r| r.report_name() == Some(entry.reason.as_str()));
            if let (Some(reason), Some(category)) =
                (reason, DataCategory::from_name(&entry.category))
            {
                self.reported[reason as usize][category as usize]
                    .fetch_sub(entry.quantity, Ordering::Relaxed);
            }
        }
    }

    /// The counts of events (the `error` category), for [`crate::stats()`].
    pub(crate) fn snapshot(&self) -> Stats {
        let get = |r: Reason| {
            self.discarded[r as usize][DataCategory::Error as usize].load(Ordering::Relaxed)
        };
        Stats {
            sent: self.sent.load(Ordering::Relaxed),
            queue_overflow: get(Reason::QueueOverflow),
            cache_overflow: get(Reason::CacheOverflow),
            sample_rate: get(Reason::SampleRate),
            before_send: get(Reason::BeforeSend),
            event_processor: get(Reason::EventProcessor),
            network_error: get(Reason::NetworkError),
            send_error: get(Reason::SendError),
            ratelimit_backoff: get(Reason::RateLimitBackoff),
            rate_limited: get(Reason::RateLimited),
            spool_corrupt: self.spool_corrupt.load(Ordering::Relaxed),
        }
    }
}

/// What happened to the events of the current client so far, from [`crate::stats()`].
///
/// Every event captured while the SDK was enabled ends up in exactly one of these counters, or is still
/// queued or spooled. The discard reasons are the ones sent to the server in client reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Accepted by the server (including events from the spool of an earlier run).
    pub sent: u64,
    /// Dropped because the queue to the worker was full.
    pub queue_overflow: u64,
    /// Dropped from the disk spool (or the in-memory backlog) because its budget was full; the oldest go first.
    pub cache_overflow: u64,
    /// Dropped by sampling.
    pub sample_rate: u64,
    /// Dropped by `before_send` (it returned `None` or panicked).
    pub before_send: u64,
    /// Dropped by `ignore_errors` or as a duplicate of the error captured just before.
    pub event_processor: u64,
    /// Dropped after the server could not be reached and there was nowhere to keep them.
    pub network_error: u64,
    /// Refused by the server (a 4xx other than 408 and 429), or given up after failing again and again while the
    /// server accepted other envelopes.
    pub send_error: u64,
    /// Not sent because the server limited their category (alone, while others flow) at the time. A limit on
    /// every category drops nothing: everything waits for it to end.
    pub ratelimit_backoff: u64,
    /// Answered with 429 for a limited category by the server, which counts these itself.
    pub rate_limited: u64,
    /// Spool files that could not be read and were moved aside.
    pub spool_corrupt: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_cover_each_discard_once_and_skip_server_counted_ones() {
        let counters = Counters::default();
        assert!(counters.take_report().is_none());
        counters.discard_n(Reason::QueueOverflow, DataCategory::Error, 3);
        counters.discard(Reason::RateLimited, DataCategory::Error);
        counters.discard(Reason::SampleRate, DataCategory::Error);
        counters.discard_n(Reason::SampleRate, DataCategory::Transaction, 2);
        let report = counters.take_report().unwrap();
        let got: Vec<_> = report
            .discarded_events
            .iter()
            .map(|d| (d.reason.as_str(), d.category.as_str(), d.quantity))
            .collect();
        assert_eq!(
            got,
            [
                ("queue_overflow", "error", 3),
                ("sample_rate", "error", 1),
                ("sample_rate", "transaction", 2)
            ]
        );
        assert!(counters.take_report().is_none(), "already reported");
        counters.return_report(&report);
        assert_eq!(counters.take_report().unwrap().discarded_events.len(), 3);
        let stats = counters.snapshot();
        assert_eq!(stats.rate_limited, 1);
        assert_eq!(stats.sample_rate, 1, "stats count events only");
    }
}
