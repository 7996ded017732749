//! OpenTelemetry's OTLP/HTTP JSON encoding of logs, traces and metrics: the `ExportLogsServiceRequest` a collector
//! takes at `/v1/logs`, the `ExportTraceServiceRequest` at `/v1/traces`, the `ExportMetricsServiceRequest` at
//! `/v1/metrics`, and their answers. Field names are lowerCamelCase, 64-bit integers are strings, enums are numbers, and
//! trace and span ids are hex strings, as the OTLP specification's JSON encoding says.

use serde::{Deserialize, Serialize};

use super::log::LogValue;
use super::time::Timestamp;

/// The body of a request to `/v1/logs`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportLogsServiceRequest {
    /// Records, grouped by the resource (service) that made them.
    pub resource_logs: Vec<ResourceLogs>,
}

/// The records of one resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceLogs {
    /// What made them: `service.name`, `service.version`, `deployment.environment.name`, the SDK.
    pub resource: Resource,
    /// Records, grouped by instrumentation scope.
    pub scope_logs: Vec<ScopeLogs>,
}

/// A resource: attributes that describe the service.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// Its attributes.
    pub attributes: Vec<KeyValue>,
}

/// The records of one instrumentation scope.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeLogs {
    /// The library that recorded them.
    pub scope: InstrumentationScope,
    /// The records.
    pub log_records: Vec<LogRecord>,
}

/// The library that recorded some telemetry.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstrumentationScope {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// One log record.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogRecord {
    /// When it happened, in nanoseconds since the Unix epoch (a decimal string).
    pub time_unix_nano: String,
    /// When the SDK saw it, likewise.
    pub observed_time_unix_nano: String,
    /// 1 (trace) to 24 (fatal): 1, 5, 9, 13, 17, 21 for trace, debug, info, warn, error, fatal.
    pub severity_number: u8,
    /// The level's name (`INFO`, `WARN`, …).
    pub severity_text: String,
    /// The message.
    pub body: AnyValue,
    /// Typed attributes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue>,
    /// The trace, as 32 hex digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The span, as 16 hex digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
}

/// An attribute.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeyValue {
    /// Its name.
    pub key: String,
    /// Its value.
    pub value: AnyValue,
}

impl KeyValue {
    /// An attribute `key` with `value`.
    pub fn new(key: impl Into<String>, value: AnyValue) -> Self {
        KeyValue {
            key: key.into(),
            value,
        }
    }
}

/// A typed value: `{"stringValue": "…"}`, `{"boolValue": true}`, `{"intValue": "42"}` or `{"doubleValue": 1.5}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AnyValue {
    /// Text.
    StringValue(String),
    /// A boolean.
    BoolValue(bool),
    /// A 64-bit integer, written as a decimal string.
    IntValue(String),
    /// A finite float (others are written as text: JSON has no NaN).
    DoubleValue(f64),
}

impl AnyValue {
    /// A float, or its text when it is not finite.
    pub fn double(x: f64) -> Self {
        if x.is_finite() {
            AnyValue::DoubleValue(x)
        } else {
            AnyValue::StringValue(x.to_string())
        }
    }

    /// An integer.
    pub fn int(n: i64) -> Self {
        AnyValue::IntValue(n.to_string())
    }
}

impl From<LogValue> for AnyValue {
    fn from(value: LogValue) -> Self {
        match value {
            LogValue::String(s) => AnyValue::StringValue(s.into_owned()),
            LogValue::Bool(b) => AnyValue::BoolValue(b),
            LogValue::Integer(n) => AnyValue::int(n),
            LogValue::Double(x) => AnyValue::double(x),
        }
    }
}

/// A time as OTLP writes it: nanoseconds since the Unix epoch, as a decimal string (`0` before the epoch).
pub fn unix_nanos(time: Timestamp) -> String {
    time.0
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        .to_string()
}

/// The body of a request to `/v1/traces`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportTraceServiceRequest {
    /// Spans, grouped by the resource (service) that made them.
    pub resource_spans: Vec<ResourceSpans>,
}

/// The spans of one resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSpans {
    /// What made them.
    pub resource: Resource,
    /// Spans, grouped by instrumentation scope.
    pub scope_spans: Vec<ScopeSpans>,
}

/// The spans of one instrumentation scope.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeSpans {
    /// The library that recorded them.
    pub scope: InstrumentationScope,
    /// The spans.
    pub spans: Vec<Span>,
}

/// One span.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    /// The trace, as 32 hex digits.
    pub trace_id: String,
    /// The span, as 16 hex digits.
    pub span_id: String,
    /// The parent span, as 16 hex digits; absent for a root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    /// What it did.
    pub name: String,
    /// 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
    pub kind: u8,
    /// When it started, in nanoseconds since the Unix epoch (a decimal string).
    pub start_time_unix_nano: String,
    /// When it ended, likewise.
    pub end_time_unix_nano: String,
    /// Typed attributes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue>,
    /// How it ended.
    pub status: Status,
}

/// A span's status: code 0 unset, 1 ok, 2 error, with a message for an error.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Why it failed, for an error.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// 0 unset, 1 ok, 2 error.
    pub code: u8,
}

/// The body of a request to `/v1/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportMetricsServiceRequest {
    /// Metrics, grouped by the resource (service) that made them.
    pub resource_metrics: Vec<ResourceMetrics>,
}

/// The metrics of one resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceMetrics {
    /// What made them.
    pub resource: Resource,
    /// Metrics, grouped by instrumentation scope.
    pub scope_metrics: Vec<ScopeMetrics>,
}

/// The metrics of one instrumentation scope.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeMetrics {
    /// The library that recorded them.
    pub scope: InstrumentationScope,
    /// The metrics.
    pub metrics: Vec<OtlpMetric>,
}

/// One metric: a name, a unit, and its data points of one kind.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OtlpMetric {
    /// Its name.
    pub name: String,
    /// Its unit (UCUM or free text), if any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub unit: String,
    /// A sum, a gauge or a histogram.
    #[serde(flatten)]
    pub data: MetricData,
}

/// The data of a metric: `{"sum": …}`, `{"gauge": …}` or `{"histogram": …}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MetricData {
    /// A sum of measurements (a counter).
    Sum(Sum),
    /// The last measured value.
    Gauge(Gauge),
    /// The distribution of measured values in buckets.
    Histogram(Histogram),
}

/// A sum's data points.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sum {
    /// The points, one per attribute set.
    pub data_points: Vec<NumberDataPoint>,
    /// 1 delta, 2 cumulative.
    pub aggregation_temporality: u8,
    /// Whether it only grows (a counter).
    pub is_monotonic: bool,
}

/// A gauge's data points.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Gauge {
    /// The points, one per attribute set.
    pub data_points: Vec<NumberDataPoint>,
}

/// A histogram's data points.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Histogram {
    /// The points, one per attribute set.
    pub data_points: Vec<HistogramDataPoint>,
    /// 1 delta, 2 cumulative.
    pub aggregation_temporality: u8,
}

/// One value of a sum or a gauge, for one attribute set.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberDataPoint {
    /// The attribute set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue>,
    /// When the interval it covers started (sums), in nanoseconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time_unix_nano: Option<String>,
    /// When it was measured or the interval ended.
    pub time_unix_nano: String,
    /// The value.
    pub as_double: f64,
    /// Measurements taken inside spans, with their trace and span ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exemplars: Vec<Exemplar>,
}

/// The buckets of a histogram, for one attribute set.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistogramDataPoint {
    /// The attribute set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue>,
    /// When the interval it covers started.
    pub start_time_unix_nano: String,
    /// When it ended.
    pub time_unix_nano: String,
    /// How many values (a decimal string).
    pub count: String,
    /// Their sum.
    pub sum: f64,
    /// How many fell in each bucket (decimal strings): one more than there are bounds.
    pub bucket_counts: Vec<String>,
    /// The buckets' upper bounds, ascending.
    pub explicit_bounds: Vec<f64>,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// Measurements taken inside spans, with their trace and span ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exemplars: Vec<Exemplar>,
}

/// A measurement taken inside a span, kept with a data point so a spike leads to its trace.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exemplar {
    /// When it was taken.
    pub time_unix_nano: String,
    /// Its value.
    pub as_double: f64,
    /// The span, as 16 hex digits.
    pub span_id: String,
    /// The trace, as 32 hex digits.
    pub trace_id: String,
}

/// A collector's answer to an export: a partial success names how many records it rejected, and why.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportLogsServiceResponse {
    /// Present when some records were rejected.
    #[serde(default)]
    pub partial_success: Option<ExportLogsPartialSuccess>,
}

/// The rejected part of an export (of logs, or of spans: the same answer with another field).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportLogsPartialSuccess {
    /// How many records were rejected (a decimal string or a number).
    #[serde(default, deserialize_with = "int64")]
    pub rejected_log_records: i64,
    /// How many spans were rejected, in an answer to a trace export.
    #[serde(default, deserialize_with = "int64")]
    pub rejected_spans: i64,
    /// How many data points were rejected, in an answer to a metrics export.
    #[serde(default, deserialize_with = "int64")]
    pub rejected_data_points: i64,
    /// Why.
    #[serde(default)]
    pub error_message: String,
}

/// An int64 written either way the JSON encoding allows: a number or a decimal string.
fn int64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int {
        Number(i64),
        Text(String),
    }
    match Int::deserialize(d)? {
        Int::Number(n) => Ok(n),
        Int::Text(text) => text.parse().map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_as_the_json_encoding_says() {
        let record = LogRecord {
            time_unix_nano: "1795428000250000000".into(),
            observed_time_unix_nano: "1795428000250000000".into(),
            severity_number: 13,
            severity_text: "WARN".into(),
            body: AnyValue::StringValue("late".into()),
            attributes: vec![
                KeyValue::new("n", AnyValue::int(42)),
                KeyValue::new("ok", AnyValue::BoolValue(true)),
                KeyValue::new("x", AnyValue::double(1.5)),
                KeyValue::new("nan", AnyValue::double(f64::NAN)),
            ],
            trace_id: Some("0af7651916cd43dd8448eb211c80319c".into()),
            span_id: None,
        };
        assert_eq!(
            serde_json::to_value(&record).unwrap(),
            serde_json::json!({
                "timeUnixNano": "1795428000250000000",
                "observedTimeUnixNano": "1795428000250000000",
                "severityNumber": 13,
                "severityText": "WARN",
                "body": {"stringValue": "late"},
                "attributes": [
                    {"key": "n", "value": {"intValue": "42"}},
                    {"key": "ok", "value": {"boolValue": true}},
                    {"key": "x", "value": {"doubleValue": 1.5}},
                    {"key": "nan", "value": {"stringValue": "NaN"}}
                ],
                "traceId": "0af7651916cd43dd8448eb211c80319c"
            })
        );
    }

    #[test]
    fn a_partial_success_is_read_either_way() {
        for body in [
            r#"{"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"too big"}}"#,
            r#"{"partialSuccess":{"rejectedLogRecords":3,"errorMessage":"too big"}}"#,
        ] {
            let answer: ExportLogsServiceResponse = serde_json::from_str(body).unwrap();
            let partial = answer.partial_success.unwrap();
            assert_eq!(partial.rejected_log_records, 3);
            assert_eq!(partial.error_message, "too big");
        }
        let answer: ExportLogsServiceResponse = serde_json::from_str("{}").unwrap();
        assert!(answer.partial_success.is_none());
    }
}
