//! [`OtlpTransport`]: log records and error events to an OpenTelemetry collector over OTLP/HTTP, in the JSON
//! encoding (feature `otlp`).
//!
//! Each envelope with log records or an event becomes one `ExportLogsServiceRequest` to `/v1/logs`: a Sentry log
//! keeps its level, body, attributes and trace and span ids; an error event becomes a record at its level with the
//! `exception.type`, `exception.message` and `exception.stacktrace` attributes of the OpenTelemetry semantic
//! conventions. Other items (transactions, sessions, client reports) are not sent here.
//!
//! Like the HTTP transport it maps the answer to an [`Outcome`] and leaves retrying to the worker: a `429`, `502`,
//! `503` or `504` (with its `Retry-After`) and no answer at all are retried with backoff, other statuses are final,
//! as the OTLP specification says. A partial success is logged (`debug`) and counted
//! ([`OtlpTransport::rejected_records`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::interface::{Outcome, Response, Transport};
use crate::diagnostics::sdk_debug;
use crate::protocol::otlp::{
    AnyValue, ExportLogsServiceRequest, ExportLogsServiceResponse, InstrumentationScope, KeyValue,
    LogRecord, Resource, ResourceLogs, ScopeLogs,
};
use crate::protocol::{Envelope, EnvelopeItem, Event, Level, Log, LogValue};

/// Where and how to export: the logs endpoint, extra headers, and the resource that describes the service.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OtlpOptions {
    /// The full URL of the logs endpoint, e.g. `http://127.0.0.1:4318/v1/logs`.
    pub logs_endpoint: String,
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
            .field("headers", &names)
            .field("service_name", &self.service_name)
            .field("service_version", &self.service_version)
            .field("environment", &self.environment)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl OtlpOptions {
    /// Options for the logs endpoint `url`, with no headers and a 10 s timeout.
    pub fn new(logs_endpoint: impl Into<String>) -> Self {
        OtlpOptions {
            logs_endpoint: logs_endpoint.into(),
            timeout: Duration::from_secs(10),
            ..OtlpOptions::default()
        }
    }

    /// The options the OpenTelemetry environment variables give, or `None` when they name no endpoint:
    /// `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` (used as it is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (with `/v1/logs`
    /// appended); `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_EXPORTER_OTLP_LOGS_HEADERS` (`key=value` pairs separated
    /// by commas, values percent-decoded; the logs-specific one wins for a key in both); `OTEL_SERVICE_NAME`.
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
        let endpoint = var("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT").or_else(|| {
            var("OTEL_EXPORTER_OTLP_ENDPOINT")
                .map(|base| format!("{}/v1/logs", base.trim_end_matches('/')))
        })?;
        let mut options = OtlpOptions::new(endpoint);
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for key in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
        ] {
            if let Some(list) = var(key) {
                headers.extend(parse_headers(&list));
            }
        }
        options.headers = headers.into_iter().collect();
        options.service_name = var("OTEL_SERVICE_NAME");
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
        OtlpTransport {
            agent,
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
        let observed = nanos(SystemTime::now());
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
        let Some(request) = self.request(envelope) else {
            return Outcome::Sent;
        };
        let Ok(body) = serde_json::to_vec(&request) else {
            return Outcome::Sent;
        };
        let mut post = self
            .agent
            .post(&self.options.logs_endpoint)
            .header("Content-Type", "application/json");
        for (name, value) in &self.options.headers {
            post = post.header(name, value);
        }
        let mut response = match post.send(&body[..]) {
            Ok(response) => response,
            Err(e) => {
                sdk_debug!("exporting to {} failed: {e}", self.options.logs_endpoint);
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
                    .and_then(|r| r.partial_success)
                    .filter(|p| p.rejected_log_records > 0 || !p.error_message.is_empty());
                if let Some(partial) = partial {
                    let rejected = u64::try_from(partial.rejected_log_records).unwrap_or(0);
                    self.rejected.fetch_add(rejected, Ordering::Relaxed);
                    sdk_debug!(
                        "{} rejected {rejected} log records: {}",
                        self.options.logs_endpoint,
                        partial.error_message
                    );
                }
                Outcome::Sent
            }
            // Retryable, as the OTLP specification lists them.
            429 | 502 | 503 | 504 => {
                let mut response = Response::new(status);
                response.retry_after = retry_after;
                Outcome::Response(response)
            }
            other => {
                sdk_debug!(
                    "{} answered {other} to an export; it is dropped",
                    self.options.logs_endpoint
                );
                // Final: a status the worker does not retry.
                Outcome::Response(Response::new(if other >= 500 { 400 } else { other }))
            }
        }
    }
}

/// Nanoseconds since the Unix epoch, as a decimal string.
fn nanos(time: SystemTime) -> String {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        .to_string()
}

fn any_value(value: &LogValue) -> AnyValue {
    match value {
        LogValue::String(s) => AnyValue::StringValue(s.to_string()),
        LogValue::Bool(b) => AnyValue::BoolValue(*b),
        LogValue::Integer(n) => AnyValue::int(*n),
        LogValue::Double(x) => AnyValue::double(*x),
    }
}

/// A Sentry log as an OTLP record: the same level, body, attributes and ids.
fn log_record(log: &Log, observed: &str) -> LogRecord {
    LogRecord {
        time_unix_nano: nanos(log.timestamp.0),
        observed_time_unix_nano: observed.to_owned(),
        severity_number: log.level.severity_number(),
        severity_text: log.level.as_str().to_ascii_uppercase(),
        body: AnyValue::StringValue(log.body.clone()),
        attributes: log
            .attributes
            .iter()
            .map(|(key, value)| KeyValue::new(key.clone(), any_value(value)))
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
        time_unix_nano: nanos(event.timestamp.0),
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
        assert_eq!(base.logs_endpoint, "http://c:4318/v1/logs");
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
            both.logs_endpoint, "http://logs:9000/custom",
            "used as it is"
        );
        assert_eq!(
            both.headers,
            [
                ("api-key".to_owned(), "only-logs".to_owned()),
                ("x-team".to_owned(), "core".to_owned())
            ]
        );
        assert_eq!(both.service_name.as_deref(), Some("shop"));
        assert!(
            !format!("{both:?}").contains("only-logs"),
            "header values stay out of Debug"
        );
        assert_eq!(percent_decode("100%25%2Cok%zz%"), "100%,ok%zz%");
    }
}
