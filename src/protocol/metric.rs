//! Sentry Metrics on the wire: one measurement ([`Metric`]) of a counter, a gauge or a distribution, in a
//! `trace_metric` item, a container of at most 100 (`{"items": [...]}`) whose header names how many it holds
//! (`item_count`) and its content type.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::log::LogValue;
use super::time::Timestamp;
use super::trace::{SpanId, TraceId};

/// The `content_type` of a `trace_metric` item, as the Metrics specification (2.x) writes it.
pub const TRACE_METRIC_CONTENT_TYPE: &str = "application/vnd.sentry.items.trace-metric+json";

/// The most measurements in one `trace_metric` item.
pub const MAX_METRICS_PER_ITEM: usize = 100;

/// What a metric measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    /// A count of occurrences: each measurement adds its value.
    Counter,
    /// A value that goes up and down: each measurement is the current value.
    Gauge,
    /// One value of many whose spread matters (durations, sizes).
    Distribution,
}

impl MetricType {
    /// The type's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Distribution => "distribution",
        }
    }
}

/// One measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// When it was recorded.
    pub timestamp: Timestamp,
    /// The trace it was recorded in: the current span's, or the scope's.
    pub trace_id: TraceId,
    /// The span it was recorded in, if one was current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<SpanId>,
    /// Its name, in dot notation (`http.server.request.duration`).
    pub name: String,
    /// Counter, gauge or distribution.
    #[serde(rename = "type")]
    pub ty: MetricType,
    /// The value: the increment, the current value, or one measured value.
    pub value: f64,
    /// The unit (`millisecond`, `byte`, …), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Typed attributes: the program's, then the SDK's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, LogValue>,
}

/// The payload of a `trace_metric` item: `{"items": [...]}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricContainer {
    /// At most [`MAX_METRICS_PER_ITEM`].
    pub items: Vec<Metric>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_is_written_as_the_spec_shows_it() {
        let mut attributes = BTreeMap::new();
        attributes.insert("endpoint".to_owned(), LogValue::from("/api/users"));
        attributes.insert("status_code".to_owned(), LogValue::from(200_u16));
        let metric = Metric {
            timestamp: Timestamp::from_secs_f64(1_544_719_860.0).unwrap(),
            trace_id: "5b8efff798038103d269b633813fc60c".parse().unwrap(),
            span_id: Some("b0e6f15b45c36b12".parse().unwrap()),
            name: "http.request.duration".into(),
            ty: MetricType::Distribution,
            value: 245.3,
            unit: Some("millisecond".into()),
            attributes,
        };
        let json = serde_json::to_value(&metric).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "timestamp": 1_544_719_860.0,
                "trace_id": "5b8efff798038103d269b633813fc60c",
                "span_id": "b0e6f15b45c36b12",
                "name": "http.request.duration",
                "type": "distribution",
                "value": 245.3,
                "unit": "millisecond",
                "attributes": {
                    "endpoint": {"value": "/api/users", "type": "string"},
                    "status_code": {"value": 200, "type": "integer"}
                }
            })
        );
        assert_eq!(serde_json::from_value::<Metric>(json).unwrap(), metric);
    }
}
