//! Metrics: counters, gauges and distributions, some inside a span, then a flush.
//!
//! With `SENTRY_DSN` set they go to Sentry Metrics. Built with the `otlp` feature and with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set (e.g. `http://127.0.0.1:4318`), they also go to that OpenTelemetry collector
//! as sums, gauges and histograms. Without a DSN, each container is summed up on stdout instead of sent to Sentry.
//!
//! ```text
//! cargo run --example metrics --features otlp
//! ```

use std::time::Duration;

use faultline::ClientOptions;
use faultline::protocol::{Envelope, EnvelopeItem};
use faultline::transport::{Outcome, Transport};

/// Sums up what would be sent, when there is no DSN.
struct Print;

impl Transport for Print {
    fn send_envelope(&self, envelope: &Envelope) -> Outcome {
        for item in &envelope.items {
            if let EnvelopeItem::Metrics(metrics) = item {
                println!("metric container: {} measurements", metrics.items.len());
                for metric in metrics.items.iter().take(3) {
                    println!(
                        "  {} {} = {} {} (span {})",
                        metric.ty.as_str(),
                        metric.name,
                        metric.value,
                        metric.unit.as_deref().unwrap_or(""),
                        metric
                            .span_id
                            .map(|id| id.to_string())
                            .unwrap_or_else(|| "-".into())
                    );
                }
            }
        }
        Outcome::Sent
    }
}

fn main() {
    let mut options = ClientOptions::new()
        .release(faultline::release_name!())
        .environment("example")
        .enable_metrics(true)
        .traces_sample_rate(1.0);
    if std::env::var_os("SENTRY_DSN").is_none() {
        options = options.transport(Print);
    }
    let _guard = faultline::init(options);

    for region in ["eu", "us", "eu"] {
        faultline::metrics::counter("orders.placed", 1)
            .attribute("region", region)
            .capture();
    }
    faultline::metrics::gauge("queue.depth", 42)
        .unit("item")
        .capture();

    // Measurements inside a span carry its trace and span ids (exemplars over OTLP).
    let transaction = faultline::start_transaction("checkout", "task");
    faultline::configure_scope(|scope| scope.set_span(Some(transaction.clone().into())));
    for ms in [12.5, 80.0, 240.0, 1200.0] {
        faultline::metrics::distribution("checkout.duration", ms)
            .unit("millisecond")
            .attribute("vip", ms > 100.0)
            .capture();
    }
    faultline::configure_scope(|scope| scope.set_span(None));
    transaction.finish();

    faultline::flush(Duration::from_secs(5));
}
