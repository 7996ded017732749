//! Performance monitoring: one transaction with nested spans, some from `tracing` spans, and an error captured
//! inside a span, which points at it.
//!
//! With `SENTRY_DSN` set it sends there, at `traces_sample_rate` 1.0, then flushes and exits. Without it, each
//! envelope is printed instead of sent (its items' types, the transaction's spans, the error's trace context):
//!
//! ```text
//! cargo run --example tracing --features tracing
//! ```

use std::time::Duration;

use faultline::protocol::{Envelope, EnvelopeItem};
use faultline::transport::{Outcome, Transport};
use faultline::{ClientOptions, SpanStatus};
use tracing::instrument;
use tracing_subscriber::prelude::*;

/// Prints what would be sent, when there is no DSN.
struct Print;

impl Transport for Print {
    fn send_envelope(&self, envelope: &Envelope) -> Outcome {
        for item in &envelope.items {
            match item {
                EnvelopeItem::Transaction(t) => {
                    println!(
                        "transaction {:?} ({}), trace {}",
                        t.transaction, t.contexts["trace"]["op"], t.contexts["trace"]["trace_id"]
                    );
                    for span in &t.spans {
                        println!(
                            "  span {} {:?} parent {}",
                            span.op.as_deref().unwrap_or("-"),
                            span.description.as_deref().unwrap_or("-"),
                            span.parent_span_id
                                .map(|id| id.to_string())
                                .unwrap_or_default()
                        );
                    }
                }
                EnvelopeItem::Event(e) => println!(
                    "error {:?}, trace {}, span {}",
                    e.exception.last().and_then(|x| x.value.as_deref()),
                    e.contexts["trace"]["trace_id"],
                    e.contexts["trace"]["span_id"]
                ),
                other => println!("{} item", other.ty()),
            }
        }
        Outcome::Sent
    }
}

#[instrument(fields(sentry.op = "db.query"))]
fn load_order(id: u64) -> Result<u32, std::num::ParseIntError> {
    tracing::info!(id, "loading the order");
    // A malformed quantity in the stored order: the error is captured inside this span.
    "four".parse::<u32>()
}

#[instrument]
fn price(quantity: u32) -> u32 {
    quantity * 250
}

fn main() {
    let mut options = ClientOptions::new().traces_sample_rate(1.0);
    if std::env::var_os("SENTRY_DSN").is_none() {
        options = options.transport(Print);
    }
    let guard = faultline::init(options);
    tracing_subscriber::registry()
        .with(faultline::integrations::tracing::layer())
        .init();

    let transaction = faultline::start_transaction("checkout", "task");
    faultline::configure_scope(|scope| scope.set_span(Some(transaction.clone().into())));
    let validate = transaction.start_child("validate", "cart");
    validate.finish();
    match load_order(7) {
        Ok(quantity) => {
            price(quantity);
        }
        Err(err) => {
            // Captured outside the span it came from, so point at the transaction explicitly; inside
            // `load_order`, the `tracing` span would be current.
            faultline::capture_error(&err);
            transaction.set_status(SpanStatus::InvalidArgument);
        }
    }
    faultline::configure_scope(|scope| scope.set_span(None));
    transaction.finish();
    faultline::flush(Duration::from_secs(5));
    drop(guard);
}
