//! Metrics, sent to Sentry Metrics (with [`ClientOptions::enable_metrics`](crate::ClientOptions::enable_metrics),
//! off by default) and to an OpenTelemetry collector (feature `otlp`).
//!
//! A counter counts occurrences, a gauge tracks a value that goes up and down, a distribution records values whose
//! spread matters. Each takes a unit and typed attributes, then [`MetricBuilder::capture`] sends it:
//!
//! ```
//! # faultline::test::with_captured_events(|| {
//! faultline::metrics::counter("orders.placed", 1).attribute("region", "eu").capture();
//! faultline::metrics::gauge("queue.depth", 42).unit("item").capture();
//! faultline::metrics::distribution("checkout.duration", 187.5)
//!     .unit("millisecond")
//!     .attribute("vip", true)
//!     .capture();
//! # });
//! ```
//!
//! Each measurement carries the trace id of the current span or scope, and the span id when a span is current, so
//! a spike leads to the traces, logs and errors behind it. The caller copies the name, value, unit and attributes
//! and pushes them onto a lane of their own; the worker adds the SDK's attributes (release, environment, SDK,
//! server; the user with `send_default_pii`), runs `before_send_metric` and sends containers of up to 100. While
//! metrics are off, a measurement costs one check when it is made: the builder then records nothing.

use std::borrow::Cow;

pub use crate::protocol::log::LogValue;
pub use crate::protocol::metric::MetricType;

use crate::hub::{self, Hub};
use crate::message::PendingMetric;
use crate::protocol::time::Timestamp;

/// A measurement being built; [`MetricBuilder::capture`] sends it.
#[derive(Clone, Debug)]
#[must_use = "a measurement is sent by `capture`"]
pub struct MetricBuilder {
    /// Whether metrics were on when it was made; off, it records nothing.
    on: bool,
    ty: MetricType,
    name: Cow<'static, str>,
    value: f64,
    unit: Option<Cow<'static, str>>,
    attributes: Vec<(Cow<'static, str>, LogValue)>,
}

/// A counter: adds `value` (usually 1) to the count named `name` (dot notation: `http.requests`).
pub fn counter(name: impl Into<Cow<'static, str>>, value: impl Into<f64>) -> MetricBuilder {
    MetricBuilder::new(MetricType::Counter, name, value.into())
}

/// A gauge: `value` is the current value of `name` (a queue's depth, connections in use).
pub fn gauge(name: impl Into<Cow<'static, str>>, value: impl Into<f64>) -> MetricBuilder {
    MetricBuilder::new(MetricType::Gauge, name, value.into())
}

/// A distribution: `value` is one measured value of `name` (a duration, a size), whose spread is what matters.
pub fn distribution(name: impl Into<Cow<'static, str>>, value: impl Into<f64>) -> MetricBuilder {
    MetricBuilder::new(MetricType::Distribution, name, value.into())
}

/// Whether metrics are sent now: the SDK is enabled with [`enable_metrics`](crate::ClientOptions::enable_metrics).
pub fn enabled() -> bool {
    hub::with_client(|client| client.options.sends_metrics()).unwrap_or(false)
}

impl MetricBuilder {
    /// A measurement of type `ty`.
    pub fn new(ty: MetricType, name: impl Into<Cow<'static, str>>, value: f64) -> Self {
        MetricBuilder {
            on: enabled(),
            ty,
            name: name.into(),
            value,
            unit: None,
            attributes: Vec::new(),
        }
    }

    /// Sets the unit (`millisecond`, `byte`, `percent`, …; any text goes).
    pub fn unit(mut self, unit: impl Into<Cow<'static, str>>) -> Self {
        if self.on {
            self.unit = Some(unit.into());
        }
        self
    }

    /// Adds an attribute; a later one with the same key wins.
    pub fn attribute(
        mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<LogValue>,
    ) -> Self {
        if self.on {
            self.attributes.push((key.into(), value.into()));
        }
        self
    }

    /// Sends the measurement: it waits with the others for the worker, which sends them by the hundred. Does
    /// nothing while metrics are off.
    pub fn capture(self) {
        if !self.on {
            return;
        }
        let Some(client) = hub::client().filter(|c| c.options.sends_metrics()) else {
            return;
        };
        let timestamp = Timestamp::now();
        let with_user = client.options.send_default_pii;
        let (trace_id, span_id, user) =
            Hub::with_current(|hub| hub.top().record_context(with_user));
        client.capture_metric(PendingMetric {
            timestamp,
            ty: self.ty,
            name: self.name,
            value: self.value,
            unit: self.unit,
            attributes: self.attributes,
            trace_id,
            span_id,
            user,
        });
    }
}
