//! faultline's side of the comparison: its configurations, its capture rounds, its end-to-end run and its part of the
//! peak-memory burst. Compiled into the comparison binary and into `alone-faultline`, a program in a package of its
//! own that links faultline and not sentry.

use std::hint::black_box;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::burst;
use crate::harness::{self, DEPTH, FLUSH, deep};
use crate::pacing;
use crate::tally::Tally;

/// Drops every envelope (on faultline's worker), counting the transactions and spans in them, the log records and
/// the metric measurements.
pub(crate) struct FaultlineDiscard;

/// Transactions and their spans that [`FaultlineDiscard`] has dropped, so a run can check that each SDK recorded
/// the same.
pub(crate) static TALLY: Tally = Tally::new();

/// Log records that reached [`FaultlineDiscard`].
pub(crate) static LOGS: AtomicU64 = AtomicU64::new(0);

/// Log records that client reports, on the envelopes [`FaultlineDiscard`] was handed, count as dropped (`log_item`).
pub(crate) static LOGS_REPORTED_DROPPED: AtomicU64 = AtomicU64::new(0);

/// The first log record [`FaultlineDiscard`] was handed, as text: its body and its attributes, sorted.
pub(crate) static FIRST_LOG: OnceLock<String> = OnceLock::new();

/// Metric measurements that reached [`FaultlineDiscard`]: counters, distributions (gauges are not counted).
pub(crate) static METRICS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Metric measurements that client reports, on the envelopes [`FaultlineDiscard`] was handed, count as dropped
/// (`trace_metric`).
pub(crate) static METRICS_REPORTED_DROPPED: AtomicU64 = AtomicU64::new(0);

/// The first counter and the first distribution [`FaultlineDiscard`] was handed, as text: name, value, unit and
/// attributes, sorted.
pub(crate) static FIRST_METRIC: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];

impl faultline::transport::Transport for FaultlineDiscard {
    fn send_envelope(
        &self,
        envelope: &faultline::protocol::Envelope,
    ) -> faultline::transport::Outcome {
        use faultline::protocol::EnvelopeItem;
        for item in &envelope.items {
            match item {
                EnvelopeItem::Transaction(transaction) => TALLY.add(transaction.spans.len()),
                EnvelopeItem::Logs(container) => {
                    LOGS.fetch_add(container.items.len() as u64, Ordering::Relaxed);
                    if let Some(log) = container.items.first() {
                        FIRST_LOG.get_or_init(|| describe_log(log));
                    }
                }
                EnvelopeItem::Metrics(container) => {
                    use faultline::protocol::MetricType;
                    for metric in &container.items {
                        let slot = match metric.ty {
                            MetricType::Counter => 0,
                            MetricType::Distribution => 1,
                            MetricType::Gauge => continue,
                        };
                        METRICS[slot].fetch_add(1, Ordering::Relaxed);
                        if FIRST_METRIC[slot].get().is_none() {
                            FIRST_METRIC[slot].get_or_init(|| describe_metric(metric));
                        }
                    }
                }
                EnvelopeItem::ClientReport(report) => {
                    let dropped = || report.discarded_events.iter();
                    let logs = dropped()
                        .filter(|d| d.category == "log_item")
                        .map(|d| d.quantity);
                    LOGS_REPORTED_DROPPED.fetch_add(logs.sum(), Ordering::Relaxed);
                    let metrics = dropped()
                        .filter(|d| d.category == "trace_metric")
                        .map(|d| d.quantity);
                    METRICS_REPORTED_DROPPED.fetch_add(metrics.sum(), Ordering::Relaxed);
                }
                _ => {}
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

/// faultline with structured logs on, discarding what it sends.
pub(crate) fn faultline_logs() -> faultline::InitGuard {
    faultline::init(
        faultline::ClientOptions::new()
            .transport(FaultlineDiscard)
            .enable_logs(true),
    )
}

/// faultline with metrics on, discarding what it sends.
pub(crate) fn faultline_metrics() -> faultline::InitGuard {
    faultline::init(
        faultline::ClientOptions::new()
            .transport(FaultlineDiscard)
            .enable_metrics(true),
    )
}

/// `key=value, …` in key order (the attributes are kept sorted).
fn describe_attributes<'a>(
    attributes: impl IntoIterator<Item = (&'a String, &'a faultline::protocol::LogValue)>,
) -> String {
    use faultline::protocol::LogValue;
    let attributes: Vec<String> = attributes
        .into_iter()
        .map(|(key, value)| match value {
            LogValue::String(s) => format!("{key}={s:?}"),
            LogValue::Bool(b) => format!("{key}={b}"),
            LogValue::Integer(i) => format!("{key}={i}"),
            LogValue::Double(x) => format!("{key}={x}"),
        })
        .collect();
    attributes.join(", ")
}

/// `body; key=value, …` with the attributes in key order.
fn describe_log(log: &faultline::protocol::Log) -> String {
    format!("{:?}; {}", log.body, describe_attributes(&log.attributes))
}

/// `type name = value unit; key=value, …` with the attributes in key order.
fn describe_metric(metric: &faultline::protocol::Metric) -> String {
    format!(
        "{} {:?} = {} {}; {}",
        metric.ty.as_str(),
        metric.name,
        metric.value,
        metric.unit.as_deref().unwrap_or("(no unit)"),
        describe_attributes(&metric.attributes)
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

/// One capture round: `n` `capture_error` calls from the benchmark's deep stack, each timed, faultline flushing every
/// [`pacing::PACE`] calls (untimed) so the queue stays short.
pub(crate) fn capture_errors(n: usize, err: &harness::RequestFailed) -> harness::Summary {
    deep(DEPTH, &mut || {
        pacing::paced(n, || {
            black_box(faultline::capture_error(err));
        })
    })
}

/// What faultline counted in one end-to-end run.
pub(crate) struct Delivery {
    /// From the first of the `n` calls to the end of the flush after the last.
    pub(crate) elapsed: Duration,
    /// Events faultline counted as sent, and as dropped whatever the reason, during those calls and that flush.
    pub(crate) sent: u64,
    pub(crate) dropped: u64,
    /// Events faultline counted as sent before the clock started: the warm-up event.
    #[allow(
        dead_code,
        reason = "read by alone-faultline, whose parent counts the warm-up at its server"
    )]
    pub(crate) warm_up_sent: u64,
}

/// One end-to-end run: faultline with its HTTP transport and a queue of `n` to the server at `dsn`, one event first
/// (the connection is open and the address cache warm when the clock starts), then `n` `capture_error` calls from
/// the benchmark's deep stack and a flush, timed. `warm` runs once the first event is delivered, before the clock
/// starts (a server in the same process reads its counters there); faultline is stopped before this returns.
pub(crate) fn end_to_end<W>(
    dsn: String,
    n: usize,
    err: &harness::RequestFailed,
    warm: impl FnOnce() -> W,
) -> (Delivery, W) {
    let guard = faultline_http(dsn, n);
    deep(DEPTH, &mut || faultline::capture_error(err));
    faultline::flush(FLUSH);
    let before = faultline::stats();
    let warm = warm();
    let start = Instant::now();
    deep(DEPTH, &mut || {
        for _ in 0..n {
            faultline::capture_error(err);
        }
        faultline::flush(FLUSH)
    });
    let elapsed = start.elapsed();
    let after = faultline::stats();
    drop(guard);
    let delivery = Delivery {
        elapsed,
        sent: after.sent - before.sent,
        dropped: pacing::dropped(&after) - pacing::dropped(&before),
        warm_up_sent: before.sent,
    };
    (delivery, warm)
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
