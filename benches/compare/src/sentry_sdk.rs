//! sentry's side of the comparison: its configurations, its capture rounds, its end-to-end run and its part of the
//! peak-memory burst. Compiled into the comparison binary and into `alone-sentry`, a program in a package of its own
//! that links sentry and not faultline (and so builds sentry's dependencies with sentry's features only).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::burst;
use crate::harness::{self, DEPTH, FLUSH, deep};
use crate::tally::Tally;

/// sentry calls a custom transport on the capturing thread; this one drops the envelope, so only the capture is
/// timed. It counts the transactions and spans in it, the log records and the metric measurements. An envelope of
/// log records or measurements is dropped on a thread of its own, as sentry's HTTP transports hand every envelope to
/// theirs: the caller that completes a batch of 100 pays for the envelope and the hand-over, not for freeing the
/// records.
pub(crate) struct SentryDiscard;

/// Transactions and their spans that [`SentryDiscard`] has dropped, so a run can check that each SDK recorded the
/// same.
pub(crate) static TALLY: Tally = Tally::new();

/// Log records that reached [`SentryDiscard`].
pub(crate) static LOGS: AtomicU64 = AtomicU64::new(0);

/// The first log record [`SentryDiscard`] was handed, as text: its body and its attributes, sorted.
pub(crate) static FIRST_LOG: OnceLock<String> = OnceLock::new();

/// Metric measurements that reached [`SentryDiscard`]: counters, distributions (gauges are not counted).
pub(crate) static METRICS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// The first counter and the first distribution [`SentryDiscard`] was handed, as text: name, value, unit and
/// attributes, sorted.
pub(crate) static FIRST_METRIC: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];

impl sentry::Transport for SentryDiscard {
    fn send_envelope(&self, envelope: sentry::Envelope) {
        use sentry::protocol::{EnvelopeItem, ItemContainer};
        let mut records_in_it = false;
        for item in envelope.items() {
            match item {
                EnvelopeItem::Transaction(transaction) => TALLY.add(transaction.spans.len()),
                EnvelopeItem::ItemContainer(ItemContainer::Logs(logs)) => {
                    records_in_it = true;
                    LOGS.fetch_add(logs.len() as u64, Ordering::Relaxed);
                    if let Some(log) = logs.first() {
                        FIRST_LOG.get_or_init(|| describe_log(log));
                    }
                }
                EnvelopeItem::ItemContainer(ItemContainer::Metrics(metrics)) => {
                    use sentry::protocol::MetricType;
                    records_in_it = true;
                    for metric in metrics {
                        let slot = match metric.r#type {
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
                _ => {}
            }
        }
        if records_in_it {
            let _ = dropper().send(envelope);
        } else {
            black_box(envelope);
        }
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

/// The sending end of the thread that drops envelopes of log records, started on first use.
fn dropper() -> &'static Sender<sentry::Envelope> {
    static DROPPER: OnceLock<Sender<sentry::Envelope>> = OnceLock::new();
    DROPPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<sentry::Envelope>();
        std::thread::Builder::new()
            .name("sentry-discard".into())
            .spawn(move || rx.into_iter().for_each(drop))
            .expect("the discarding thread");
        tx
    })
}

/// sentry with structured logs on (`enable_logs`, the default in 0.49, set all the same), discarding what it sends.
pub(crate) fn sentry_logs() -> sentry::ClientInitGuard {
    let mut options = sentry_options();
    #[expect(deprecated, reason = "0.49 deprecates the option: logs are always on")]
    {
        options.enable_logs = true;
    }
    discarding(options)
}

/// sentry with metrics on, discarding what it sends. Metrics are always on in 0.49 (`enable_metrics` is a deprecated
/// no-op); the option is set all the same.
pub(crate) fn sentry_metrics() -> sentry::ClientInitGuard {
    let mut options = sentry_options();
    #[expect(
        deprecated,
        reason = "0.49 deprecates the option: metrics are always on"
    )]
    {
        options.enable_metrics = true;
    }
    discarding(options)
}

/// `key=value, …` in key order.
fn describe_attributes<'a, K: std::fmt::Display + 'a>(
    attributes: impl IntoIterator<Item = (&'a K, &'a sentry::protocol::LogAttribute)>,
) -> String {
    let mut attributes: Vec<String> = attributes
        .into_iter()
        .map(|(key, value)| format!("{key}={}", value.0))
        .collect();
    attributes.sort();
    attributes.join(", ")
}

/// `body; key=value, …` with the attributes in key order.
fn describe_log(log: &sentry::protocol::Log) -> String {
    format!("{:?}; {}", log.body, describe_attributes(&log.attributes))
}

/// `type name = value unit; key=value, …` with the attributes in key order; the type and unit as on the wire.
fn describe_metric(metric: &sentry::protocol::Metric) -> String {
    use sentry::protocol::{MetricType, Unit};
    let ty = match metric.r#type {
        MetricType::Counter => "counter",
        MetricType::Gauge => "gauge",
        MetricType::Distribution => "distribution",
    };
    let unit = match &metric.unit {
        None => "(no unit)".to_owned(),
        Some(Unit::Other(unit)) => unit.to_string(),
        // The known units go on the wire as their names in lower case.
        Some(unit) => format!("{unit:?}").to_lowercase(),
    };
    format!(
        "{ty} {:?} = {} {unit}; {}",
        metric.name,
        metric.value,
        describe_attributes(&metric.attributes)
    )
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

/// One capture round: `n` `capture_error` calls from the benchmark's deep stack, each timed (a discarding transport
/// runs inline, so nothing queues up).
pub(crate) fn capture_errors(n: usize, err: &harness::RequestFailed) -> harness::Summary {
    deep(DEPTH, &mut || {
        harness::time_each(
            n,
            |_| {
                black_box(sentry::capture_error(err));
            },
            |_| {},
        )
    })
}

/// One end-to-end run: sentry with its ureq transport and a queue of `n` to the server at `dsn`, one event first
/// (the connection is open when the clock starts), then `n` `capture_error` calls from the benchmark's deep stack
/// and a flush, timed; returns the time with what `warm` and `done` returned. `warm` runs once the first event is
/// delivered, before the clock starts, and `done` after the flush, before the client closes: closing sends the
/// client reports of what sentry dropped, after `done` and before this returns.
pub(crate) fn end_to_end<W, D>(
    dsn: &str,
    n: usize,
    err: &harness::RequestFailed,
    warm: impl FnOnce() -> W,
    done: impl FnOnce() -> D,
) -> (Duration, W, D) {
    let guard = sentry_http(dsn, Some(n));
    deep(DEPTH, &mut || sentry::capture_error(err));
    sentry_flush(FLUSH);
    let warm = warm();
    let start = Instant::now();
    deep(DEPTH, &mut || {
        for _ in 0..n {
            sentry::capture_error(err);
        }
        sentry_flush(FLUSH)
    });
    let elapsed = start.elapsed();
    let done = done();
    drop(guard);
    (elapsed, warm, done)
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
