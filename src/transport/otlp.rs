//! [`OtlpTransport`]: log records, error events and traces to an OpenTelemetry collector over OTLP/HTTP, in the
//! JSON encoding (feature `otlp`).
//!
//! Each envelope with log records or an event becomes one `ExportLogsServiceRequest` to `/v1/logs`: a Sentry log
//! keeps its level, body, attributes and trace and span ids; an error event becomes a record at its level with the
//! `exception.type`, `exception.message` and `exception.stacktrace` attributes of the OpenTelemetry semantic
//! conventions. Each transaction becomes one `ExportTraceServiceRequest` to `/v1/traces`: its root span and every
//! child span, with their parent links, kinds, statuses and attributes. Each container of metric measurements
//! becomes one `ExportMetricsServiceRequest` to `/v1/metrics` (see `otlp_metrics.rs`). Other items (sessions,
//! client reports) are not sent here.
//!
//! Like the HTTP transport it maps the answer to an [`Outcome`] and leaves retrying to the worker: a `429`, `502`,
//! `503` or `504` (with its `Retry-After`) and no answer at all are retried with backoff, other statuses are final,
//! as the OTLP specification says. A partial success is logged (`debug`) and counted
//! ([`OtlpTransport::rejected_records`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::interface::{Outcome, Response, Transport};
use super::otlp_metrics::{DEFAULT_HISTOGRAM_BOUNDS, MetricsAggregator, Pending, Temporality};
use crate::diagnostics::sdk_debug;
use crate::protocol::otlp::{
    AnyValue, ExportLogsServiceRequest, ExportLogsServiceResponse, ExportMetricsServiceRequest,
    ExportTraceServiceRequest, InstrumentationScope, KeyValue, LogRecord, Resource, ResourceLogs,
    ResourceMetrics, ResourceSpans, ScopeLogs, ScopeMetrics, ScopeSpans, Span as OtlpSpan, Status,
    unix_nanos,
};
use crate::protocol::{
    Envelope, EnvelopeItem, Event, Level, Log, LogValue, SpanStatus, Timestamp, TransactionEvent,
};

/// Where and how to export: the endpoints, extra headers, and the resource that describes the service.
#[derive(Clone, Default, PartialEq)]
pub struct OtlpOptions {
    /// The full URL of the logs endpoint, e.g. `http://127.0.0.1:4318/v1/logs`; `None` exports no logs.
    pub logs_endpoint: Option<String>,
    /// The full URL of the traces endpoint, e.g. `http://127.0.0.1:4318/v1/traces`; `None` exports no traces.
    pub traces_endpoint: Option<String>,
    /// The full URL of the metrics endpoint, e.g. `http://127.0.0.1:4318/v1/metrics`; `None` exports no metrics.
    pub metrics_endpoint: Option<String>,
    /// Whether sums and histograms report each export's measurements (delta, the default) or running totals.
    ///
    /// Delta by default: each export then stands on its own, the exporter keeps no state per series (its memory
    /// does not grow with the number of series, and a restart loses no totals), and it matches how the
    /// measurements are recorded. Choose cumulative for a backend that wants it, such as Prometheus.
    pub temporality: Temporality,
    /// The upper bounds of the histograms' buckets (distributions); [`DEFAULT_HISTOGRAM_BOUNDS`] by default.
    pub histogram_bounds: Vec<f64>,
    /// More resource attributes (`OTEL_RESOURCE_ATTRIBUTES`), after the service's and the SDK's, which win.
    pub resource_attributes: Vec<(String, String)>,
    /// Headers sent with every request (e.g. an API key).
    pub headers: Vec<(String, String)>,
    /// `service.name`.
    pub service_name: Option<String>,
    /// `service.version`.
    pub service_version: Option<String>,
    /// `deployment.environment.name`.
    pub environment: Option<String>,
    /// How long one request may take.
    pub timeout: Duration,
}

impl fmt::Debug for OtlpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values are often credentials: names only.
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OtlpOptions")
            .field("logs_endpoint", &self.logs_endpoint)
            .field("traces_endpoint", &self.traces_endpoint)
            .field("metrics_endpoint", &self.metrics_endpoint)
            .field("temporality", &self.temporality)
            .field("resource_attributes", &self.resource_attributes)
            .field("headers", &names)
            .field("service_name", &self.service_name)
            .field("service_version", &self.service_version)
            .field("environment", &self.environment)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl OtlpOptions {
    /// Options for the collector at `endpoint` (e.g. `http://127.0.0.1:4318`): logs to `{endpoint}/v1/logs`,
    /// traces to `{endpoint}/v1/traces`, no headers, a 10 s timeout.
    pub fn new(endpoint: &str) -> Self {
        let base = endpoint.trim_end_matches('/');
        OtlpOptions {
            logs_endpoint: Some(format!("{base}/v1/logs")),
            traces_endpoint: Some(format!("{base}/v1/traces")),
            metrics_endpoint: Some(format!("{base}/v1/metrics")),
            timeout: Duration::from_secs(10),
            histogram_bounds: DEFAULT_HISTOGRAM_BOUNDS.to_vec(),
            ..OtlpOptions::default()
        }
    }

    /// The options the OpenTelemetry environment variables give, or `None` when they name no endpoint:
    /// `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` and `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (each used as it is), else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/logs` and `/v1/traces` appended; `OTEL_EXPORTER_OTLP_HEADERS`, then
    /// `OTEL_EXPORTER_OTLP_LOGS_HEADERS` and `OTEL_EXPORTER_OTLP_TRACES_HEADERS` (`key=value` pairs separated by
    /// commas, values percent-decoded; a later list wins for a key, and the signal-specific ones apply to both
    /// signals here); `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds); `OTEL_SERVICE_NAME`, else `service.name` in
    /// `OTEL_RESOURCE_ATTRIBUTES` (`key=value` pairs like the headers), whose other attributes join the resource.
    pub fn from_env() -> Option<Self> {
        Self::from_vars(|key| std::env::var(key).ok())
    }

    /// [`OtlpOptions::from_env`] reading the variables through `var`.
    pub(crate) fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let var = |key: &str| {
            var(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let base = var("OTEL_EXPORTER_OTLP_ENDPOINT");
        let signal = |key: &str, path: &str| {
            var(key).or_else(|| {
                base.as_ref()
                    .map(|base| format!("{}{path}", base.trim_end_matches('/')))
            })
        };
        let logs_endpoint = signal("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "/v1/logs");
        let traces_endpoint = signal("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/v1/traces");
        let metrics_endpoint = signal("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "/v1/metrics");
        if logs_endpoint.is_none() && traces_endpoint.is_none() && metrics_endpoint.is_none() {
            return None;
        }
        let temporality = match var("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            Some("cumulative") => Temporality::Cumulative,
            _ => Temporality::Delta,
        };
        let mut options = OtlpOptions {
            logs_endpoint,
            traces_endpoint,
            metrics_endpoint,
            temporality,
            timeout: Duration::from_secs(10),
            histogram_bounds: DEFAULT_HISTOGRAM_BOUNDS.to_vec(),
            ..OtlpOptions::default()
        };
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for key in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        ] {
            if let Some(list) = var(key) {
                headers.extend(parse_headers(&list));
            }
        }
        options.headers = headers.into_iter().collect();
        if let Some(millis) = var("OTEL_EXPORTER_OTLP_TIMEOUT").and_then(|v| v.parse::<u64>().ok())
        {
            options.timeout = Duration::from_millis(millis.max(1));
        }
        let mut resource: Vec<(String, String)> = var("OTEL_RESOURCE_ATTRIBUTES")
            .map(|list| {
                list.split(',')
                    .filter_map(|pair| {
                        let (key, value) = pair.split_once('=')?;
                        let key = key.trim();
                        (!key.is_empty()).then(|| (key.to_owned(), percent_decode(value.trim())))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let from_resource = resource
            .iter()
            .position(|(key, _)| key == "service.name")
            .map(|at| resource.remove(at).1);
        options.service_name = var("OTEL_SERVICE_NAME").or(from_resource);
        options.resource_attributes = resource;
        Some(options)
    }
}

/// `key=value` pairs separated by commas, as `OTEL_EXPORTER_OTLP_HEADERS` holds them: names trimmed and
/// lowercased, values trimmed and percent-decoded; a pair without `=` or with an empty name is skipped.
fn parse_headers(list: &str) -> Vec<(String, String)> {
    list.split(',')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let name = name.trim();
            if name.is_empty() {
                return None;
            }
            Some((name.to_ascii_lowercase(), percent_decode(value.trim())))
        })
        .collect()
}

/// `%XX` escapes decoded (invalid ones kept as they are); the result is read as UTF-8, lossily.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Exports log records and error events to an OpenTelemetry collector over OTLP/HTTP, in the JSON encoding.
///
/// Each envelope with log records or an event becomes one request to the logs endpoint: a log keeps its level,
/// body, attributes and trace and span ids; an error event becomes a record at its level with the
/// `exception.type`, `exception.message` and `exception.stacktrace` attributes. Other items are not sent here. A
/// `429`, `502`, `503` or `504` (with its `Retry-After`) and no answer are retried by the worker; other statuses
/// are final. A partial success is logged (`debug`) and counted ([`OtlpTransport::rejected_records`]).
pub struct OtlpTransport {
    agent: ureq::Agent,
    options: OtlpOptions,
    resource: Resource,
    rejected: AtomicU64,
    metrics: MetricsAggregator,
}

impl fmt::Debug for OtlpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpTransport")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl OtlpTransport {
    /// A transport for `options`.
    pub fn new(options: OtlpOptions) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(options.timeout))
            .timeout_send_request(Some(options.timeout))
            .timeout_send_body(Some(options.timeout))
            .timeout_recv_response(Some(options.timeout))
            .timeout_recv_body(Some(options.timeout))
            .user_agent(concat!("faultline/", env!("CARGO_PKG_VERSION")))
            .max_idle_connections_per_host(2)
            .build()
            .into();
        let mut attributes = vec![KeyValue::new(
            "service.name",
            AnyValue::StringValue(
                options
                    .service_name
                    .clone()
                    .unwrap_or_else(|| "unknown_service".into()),
            ),
        )];
        if let Some(version) = &options.service_version {
            attributes.push(KeyValue::new(
                "service.version",
                AnyValue::StringValue(version.clone()),
            ));
        }
        if let Some(environment) = &options.environment {
            attributes.push(KeyValue::new(
                "deployment.environment.name",
                AnyValue::StringValue(environment.clone()),
            ));
        }
        for (key, value) in [
            ("telemetry.sdk.name", "faultline"),
            ("telemetry.sdk.language", "rust"),
            ("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
        ] {
            attributes.push(KeyValue::new(key, AnyValue::StringValue(value.into())));
        }
        for (key, value) in &options.resource_attributes {
            if !attributes.iter().any(|kv| &kv.key == key) {
                attributes.push(KeyValue::new(
                    key.clone(),
                    AnyValue::StringValue(value.clone()),
                ));
            }
        }
        OtlpTransport {
            agent,
            metrics: MetricsAggregator::new(options.temporality, options.histogram_bounds.clone()),
            options,
            resource: Resource { attributes },
            rejected: AtomicU64::new(0),
        }
    }

    /// How many records collectors rejected in partial successes so far.
    pub fn rejected_records(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// The request for an envelope's log records and event, or `None` when it has neither.
    pub fn request(&self, envelope: &Envelope) -> Option<ExportLogsServiceRequest> {
        let observed = unix_nanos(Timestamp::now());
        let mut records = Vec::new();
        for item in &envelope.items {
            match item {
                EnvelopeItem::Logs(logs) => {
                    records.extend(logs.items.iter().map(|log| log_record(log, &observed)));
                }
                other => {
                    if let Some(event) = other.to_event() {
                        records.push(event_record(&event, &observed));
                    }
                }
            }
        }
        if records.is_empty() {
            return None;
        }
        Some(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: self.resource.clone(),
                scope_logs: vec![ScopeLogs {
                    scope: InstrumentationScope {
                        name: "faultline".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                    },
                    log_records: records,
                }],
            }],
        })
    }
}

impl Transport for OtlpTransport {
    fn send_envelope(&self, envelope: &Envelope) -> Outcome {
        // A transaction or a metric container never shares its envelope with an event or logs: one export a
        // request.
        let (endpoint, body) = if let Some(request) = self.trace_request(envelope) {
            (&self.options.traces_endpoint, serde_json::to_vec(&request))
        } else if let Some((request, pending)) = self.metrics_request(envelope) {
            let Some(endpoint) = &self.options.metrics_endpoint else {
                return Outcome::Sent;
            };
            let Ok(body) = serde_json::to_vec(&request) else {
                return Outcome::Sent;
            };
            let outcome = self.post(endpoint, &body);
            // Cumulative totals move only once the collector took the export, so a retry is not counted twice.
            if outcome == Outcome::Sent {
                self.metrics.commit(pending);
            }
            return outcome;
        } else if let Some(request) = self.request(envelope) {
            (&self.options.logs_endpoint, serde_json::to_vec(&request))
        } else {
            return Outcome::Sent;
        };
        match (endpoint, body) {
            (Some(endpoint), Ok(body)) => self.post(endpoint, &body),
            _ => Outcome::Sent,
        }
    }
}

impl OtlpTransport {
    /// Posts one export to `endpoint` and maps the answer: 2xx is sent (a partial success counted), `429`, `502`,
    /// `503` and `504` are retried (with their `Retry-After`), anything else is final.
    fn post(&self, endpoint: &str, body: &[u8]) -> Outcome {
        let mut post = self
            .agent
            .post(endpoint)
            .header("Content-Type", "application/json");
        for (name, value) in &self.options.headers {
            post = post.header(name, value);
        }
        let mut response = match post.send(body) {
            Ok(response) => response,
            Err(e) => {
                sdk_debug!("exporting to {endpoint} failed: {e}");
                return Outcome::NetworkError;
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let answer = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_vec()
            .unwrap_or_default();
        match status {
            200..=299 => {
                let partial = serde_json::from_slice::<ExportLogsServiceResponse>(&answer)
                    .ok()
                    .and_then(|r| r.partial_success);
                if let Some(partial) = partial {
                    let rejected = partial.rejected_log_records.max(0)
                        + partial.rejected_spans.max(0)
                        + partial.rejected_data_points.max(0);
                    if rejected > 0 || !partial.error_message.is_empty() {
                        self.rejected.fetch_add(rejected as u64, Ordering::Relaxed);
                        sdk_debug!(
                            "{endpoint} rejected {rejected} of an export: {}",
                            partial.error_message
                        );
                    }
                }
                Outcome::Sent
            }
            // Retryable, as the OTLP specification lists them (408 is not among them).
            429 | 502 | 503 | 504 => {
                let mut response = Response::new(status);
                response.retry_after = retry_after;
                Outcome::Response(response)
            }
            other => {
                sdk_debug!("{endpoint} answered {other} to an export; it is dropped");
                // Final: a status the worker does not retry.
                Outcome::Response(Response::new(if other >= 500 || other == 408 {
                    400
                } else {
                    other
                }))
            }
        }
    }

    /// The metrics export of an envelope's metric measurements, aggregated (see `otlp_metrics.rs`), or `None` when
    /// it has none.
    fn metrics_request(
        &self,
        envelope: &Envelope,
    ) -> Option<(ExportMetricsServiceRequest, Pending)> {
        let measurements: Vec<crate::protocol::Metric> = envelope
            .items
            .iter()
            .flat_map(|item| match item {
                EnvelopeItem::Metrics(container) => container.items.clone(),
                EnvelopeItem::Raw { ty, payload } if ty == "trace_metric" => {
                    serde_json::from_slice::<crate::protocol::MetricContainer>(payload)
                        .map(|c| c.items)
                        .unwrap_or_default()
                }
                _ => Vec::new(),
            })
            .collect();
        if measurements.is_empty() {
            return None;
        }
        let (metrics, pending) = self.metrics.metrics(&measurements);
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: self.resource.clone(),
                scope_metrics: vec![ScopeMetrics {
                    scope: InstrumentationScope {
                        name: "faultline".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                    },
                    metrics,
                }],
            }],
        };
        Some((request, pending))
    }

    /// The trace export of an envelope's transaction (parsed again if it was replayed from the spool), or `None`
    /// when it has none.
    pub fn trace_request(&self, envelope: &Envelope) -> Option<ExportTraceServiceRequest> {
        let transaction = envelope.items.iter().find_map(|item| match item {
            EnvelopeItem::Transaction(t) => Some(std::borrow::Cow::Borrowed(&**t)),
            EnvelopeItem::Raw { ty, payload } if ty == "transaction" => {
                serde_json::from_slice::<TransactionEvent>(payload)
                    .ok()
                    .map(std::borrow::Cow::Owned)
            }
            _ => None,
        })?;
        Some(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: self.resource.clone(),
                scope_spans: vec![ScopeSpans {
                    scope: InstrumentationScope {
                        name: "faultline".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                    },
                    spans: spans(&transaction),
                }],
            }],
        })
    }
}

/// A transaction's spans: its root (from its trace context) and its children, each with its parent link.
fn spans(transaction: &TransactionEvent) -> Vec<OtlpSpan> {
    let trace = transaction.contexts.get("trace");
    let field = |key: &str| {
        trace
            .and_then(|t| t.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let trace_id = field("trace_id").unwrap_or_default();
    let op = field("op");
    let mut attributes = Vec::new();
    if let Some(op) = &op {
        attributes.push(KeyValue::new(
            "sentry.op",
            AnyValue::StringValue(op.clone()),
        ));
    }
    attributes.push(KeyValue::new(
        "sentry.transaction",
        AnyValue::StringValue(transaction.transaction.clone()),
    ));
    for (key, value) in &transaction.tags {
        attributes.push(KeyValue::new(
            key.clone(),
            AnyValue::StringValue(value.clone()),
        ));
    }
    if let Some(data) = trace
        .and_then(|t| t.get("data"))
        .and_then(|d| d.as_object())
    {
        attributes.extend(
            data.iter()
                .map(|(k, v)| KeyValue::new(k.clone(), json_value(v))),
        );
    }
    let status = field("status").and_then(|s| serde_json::from_value(s.into()).ok());
    let mut out = vec![OtlpSpan {
        trace_id: trace_id.clone(),
        span_id: field("span_id").unwrap_or_default(),
        parent_span_id: field("parent_span_id"),
        name: transaction.transaction.clone(),
        kind: kind(op.as_deref()),
        start_time_unix_nano: unix_nanos(transaction.start_timestamp),
        end_time_unix_nano: unix_nanos(transaction.timestamp),
        attributes,
        status: status_of(status),
    }];
    for span in &transaction.spans {
        let mut attributes = Vec::new();
        if let Some(op) = &span.op {
            attributes.push(KeyValue::new(
                "sentry.op",
                AnyValue::StringValue(op.clone()),
            ));
        }
        for (key, value) in &span.tags {
            attributes.push(KeyValue::new(
                key.clone(),
                AnyValue::StringValue(value.clone()),
            ));
        }
        attributes.extend(
            span.data
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), json_value(v))),
        );
        out.push(OtlpSpan {
            trace_id: span.trace_id.to_string(),
            span_id: span.span_id.to_string(),
            parent_span_id: span.parent_span_id.map(|id| id.to_string()),
            name: span
                .description
                .clone()
                .or_else(|| span.op.clone())
                .unwrap_or_else(|| "span".into()),
            kind: kind(span.op.as_deref()),
            start_time_unix_nano: unix_nanos(span.start_timestamp),
            end_time_unix_nano: unix_nanos(span.timestamp),
            attributes,
            status: status_of(span.status),
        });
    }
    out
}

/// The span kind an op names: server for `http.server`, client for outgoing requests and databases, producer and
/// consumer for queues, internal otherwise.
fn kind(op: Option<&str>) -> u8 {
    let op = op.unwrap_or_default();
    if op.starts_with("http.server") || op.starts_with("rpc.server") {
        2
    } else if op.starts_with("http.client")
        || op.starts_with("db")
        || op.starts_with("rpc.client")
        || op.starts_with("cache")
    {
        3
    } else if op.starts_with("queue.publish") || op.starts_with("queue.submit") {
        4
    } else if op.starts_with("queue.process") || op.starts_with("queue.receive") {
        5
    } else {
        1
    }
}

/// A span status in OTLP terms: unset, ok, or an error with the Sentry status's name as its message.
fn status_of(status: Option<SpanStatus>) -> Status {
    match status {
        None => Status::default(),
        Some(SpanStatus::Ok) => Status {
            message: String::new(),
            code: 1,
        },
        Some(other) => Status {
            message: other.as_str().to_owned(),
            code: 2,
        },
    }
}

/// A JSON value (span data) as a typed OTLP value.
fn json_value(value: &serde_json::Value) -> AnyValue {
    LogValue::from_json(value).into()
}

/// A Sentry log as an OTLP record: the same level, body, attributes and ids.
fn log_record(log: &Log, observed: &str) -> LogRecord {
    LogRecord {
        time_unix_nano: unix_nanos(log.timestamp),
        observed_time_unix_nano: observed.to_owned(),
        severity_number: log.level.severity_number(),
        severity_text: log.level.as_str().to_ascii_uppercase(),
        body: AnyValue::StringValue(log.body.clone()),
        attributes: log
            .attributes
            .iter()
            .map(|(key, value)| KeyValue::new(key.clone(), value.clone().into()))
            .collect(),
        trace_id: Some(log.trace_id.to_string()),
        span_id: log.span_id.map(|id| id.to_string()),
    }
}

/// An error event as an OTLP record: its level, its message (or the error's), and the `exception.*` attributes of
/// its captured error (the last exception) with the stack trace as text, innermost frame first.
fn event_record(event: &Event, observed: &str) -> LogRecord {
    let (severity_number, severity_text) = match event.level {
        Level::Debug => (5, "DEBUG"),
        Level::Info => (9, "INFO"),
        Level::Warning => (13, "WARN"),
        Level::Error => (17, "ERROR"),
        Level::Fatal => (21, "FATAL"),
    };
    let error = event.exception.last();
    let body = event
        .message
        .clone()
        .or_else(|| error.and_then(|e| e.value.clone()))
        .or_else(|| error.map(|e| e.ty.clone()))
        .unwrap_or_default();
    let mut attributes = vec![KeyValue::new(
        "sentry.event_id",
        AnyValue::StringValue(event.event_id.to_string()),
    )];
    if let Some(error) = error {
        attributes.push(KeyValue::new(
            "exception.type",
            AnyValue::StringValue(error.ty.clone()),
        ));
        if let Some(message) = &error.value {
            attributes.push(KeyValue::new(
                "exception.message",
                AnyValue::StringValue(message.clone()),
            ));
        }
        let frames = error.stacktrace.as_ref().or_else(|| {
            event
                .threads
                .iter()
                .find(|t| t.current == Some(true))
                .and_then(|t| t.stacktrace.as_ref())
        });
        if let Some(frames) = frames {
            attributes.push(KeyValue::new(
                "exception.stacktrace",
                AnyValue::StringValue(frames.to_backtrace_text()),
            ));
        }
    }
    for (key, value) in &event.tags {
        attributes.push(KeyValue::new(
            key.clone(),
            AnyValue::StringValue(value.clone()),
        ));
    }
    let trace = event.contexts.get("trace");
    let id = |key: &str| {
        trace
            .and_then(|t| t.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    LogRecord {
        time_unix_nano: unix_nanos(event.timestamp),
        observed_time_unix_nano: observed.to_owned(),
        severity_number,
        severity_text: severity_text.into(),
        body: AnyValue::StringValue(body),
        attributes,
        trace_id: id("trace_id"),
        span_id: id("span_id"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_names_the_endpoint_and_headers_as_the_spec_says() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |key: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(OtlpOptions::from_vars(vars(&[])), None);
        let base =
            OtlpOptions::from_vars(vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")]))
                .unwrap();
        assert_eq!(base.logs_endpoint.as_deref(), Some("http://c:4318/v1/logs"));
        assert_eq!(
            base.traces_endpoint.as_deref(),
            Some("http://c:4318/v1/traces")
        );
        assert_eq!(base, OtlpOptions::new("http://c:4318"));
        let traces_only = OtlpOptions::from_vars(vars(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://t/x",
        )]))
        .unwrap();
        assert_eq!(traces_only.logs_endpoint, None);
        assert_eq!(traces_only.metrics_endpoint, None);
        assert_eq!(
            base.metrics_endpoint.as_deref(),
            Some("http://c:4318/v1/metrics")
        );
        assert_eq!(base.temporality, Temporality::Delta);
        let cumulative = OtlpOptions::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m/v1/metrics"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "Cumulative",
            ),
        ]))
        .unwrap();
        assert_eq!(cumulative.temporality, Temporality::Cumulative);
        assert_eq!(cumulative.logs_endpoint, None);
        assert_eq!(traces_only.traces_endpoint.as_deref(), Some("http://t/x"));
        let both = OtlpOptions::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                "http://logs:9000/custom",
            ),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "api-key=a%20b, X-Team = core ,broken, =x",
            ),
            ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "API-KEY=only-logs"),
            ("OTEL_SERVICE_NAME", "shop"),
        ]))
        .unwrap();
        assert_eq!(
            both.logs_endpoint.as_deref(),
            Some("http://logs:9000/custom"),
            "used as it is"
        );
        assert_eq!(
            both.traces_endpoint.as_deref(),
            Some("http://c:4318/v1/traces")
        );
        assert_eq!(
            both.headers,
            [
                ("api-key".to_owned(), "only-logs".to_owned()),
                ("x-team".to_owned(), "core".to_owned())
            ]
        );
        assert_eq!(both.service_name.as_deref(), Some("shop"));
        let resource = OtlpOptions::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=billing, host.name=web%2D7,team=core,=x",
            ),
        ]))
        .unwrap();
        assert_eq!(resource.timeout, Duration::from_millis(2500));
        assert_eq!(resource.service_name.as_deref(), Some("billing"));
        assert_eq!(
            resource.resource_attributes,
            [
                ("host.name".to_owned(), "web-7".to_owned()),
                ("team".to_owned(), "core".to_owned())
            ]
        );
        assert!(
            !format!("{both:?}").contains("only-logs"),
            "header values stay out of Debug"
        );
        assert_eq!(percent_decode("100%25%2Cok%zz%"), "100%,ok%zz%");
    }
}
