//! Structured logs: 250 records with attributes, through `log`, `tracing` and the `faultline::logs` API, some inside
//! a span, and one error in the same trace; then it flushes and exits.
//!
//! With `SENTRY_DSN` set they go to Sentry Logs (and the error to Issues). Built with the `otlp` feature and with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set (e.g. `http://127.0.0.1:4318`), the records and the error also go to that
//! OpenTelemetry collector. Without a DSN, each envelope is summed up on stdout instead of sent to Sentry: how many
//! records each `log` container holds, and the error's trace id, which its logs share.
//!
//! ```text
//! cargo run --example logs --features log,tracing,otlp
//! ```

use std::time::Duration;

use faultline::ClientOptions;
use faultline::protocol::{Envelope, EnvelopeItem};
use faultline::transport::{Outcome, Transport};
use tracing_subscriber::prelude::*;

/// Sums up what would be sent, when there is no DSN.
struct Print;

impl Transport for Print {
    fn send_envelope(&self, envelope: &Envelope) -> Outcome {
        for item in &envelope.items {
            match item {
                EnvelopeItem::Logs(logs) => {
                    let first = &logs.items[0];
                    println!(
                        "log container: {} records, the first {} {:?} in trace {}",
                        logs.items.len(),
                        first.level,
                        first.body,
                        first.trace_id
                    );
                }
                EnvelopeItem::Event(event) => println!(
                    "error {:?} in trace {}",
                    event.exception.last().and_then(|e| e.value.as_deref()),
                    event.contexts["trace"]["trace_id"]
                ),
                _ => {}
            }
        }
        Outcome::Sent
    }
}

fn main() {
    let mut options = ClientOptions::new()
        .release(faultline::release_name!())
        .environment("example")
        .enable_logs(true)
        .traces_sample_rate(1.0);
    if std::env::var_os("SENTRY_DSN").is_none() {
        options = options.transport(Print);
    }
    let _guard = faultline::init(options);
    log::set_boxed_logger(Box::new(faultline::integrations::log::Logger::standalone()))
        .expect("no other logger");
    log::set_max_level(log::LevelFilter::Info);
    tracing_subscriber::registry()
        .with(faultline::integrations::tracing::layer())
        .init();

    // 100 through the `logs` API, outside any span.
    for i in 0..100 {
        faultline::logs::info!(
            batch = i / 10,
            "cache.hit" = i % 3 == 0,
            "warmed entry {}",
            i
        );
    }
    // 100 through `log`, with key-values.
    for i in 0..100 {
        log::info!(shard = i % 4, lag_ms = 12.5; "replica {} caught up", i);
    }
    // 50 through `tracing`, inside a span, with the error that explains them.
    {
        let _import = tracing::info_span!("import", sentry.op = "task").entered();
        for row in 0..49 {
            tracing::warn!(row, column = "price", "cell {} is empty", row);
        }
        let err = "4x2".parse::<u32>().unwrap_err();
        faultline::logs::error!(file = "prices.csv", "import failed: {}", err.to_string());
        faultline::capture_error(&err);
    }
    faultline::flush(Duration::from_secs(5));
}
