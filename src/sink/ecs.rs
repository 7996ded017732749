//! What one JSON line says, in Elastic Common Schema terms: [`EcsRecord`] and [`EcsError`], the mapping from an
//! [`Event`] to them, and their encoding as one line of JSON. The field table is on
//! [`JsonLinesSink`](super::JsonLinesSink), where users look for the format.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serializer as _;
use serde::ser::SerializeMap;

use crate::protocol::{Event, EventId, Frame, SpanId, Timestamp, TraceId};

/// The ECS version the lines follow, written as `ecs.version`.
const ECS_VERSION: &str = "8.11.0";

/// The `service.*` fields a sink is configured with; they win over a record's own.
#[derive(Clone, Debug)]
pub(super) struct Service {
    pub(super) name: String,
    pub(super) version: String,
    pub(super) environment: String,
}

/// What one line says, in Elastic Common Schema terms; see the field table on [`JsonLinesSink`](super::JsonLinesSink).
///
/// [`EcsRecord::from_event`] maps an event; [`EcsRecord::new`] starts a record for anything else (a log line),
/// whose fields are then set directly. Strings borrow where they can.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EcsRecord<'a> {
    /// `@timestamp`.
    pub timestamp: SystemTime,
    /// `log.level`.
    pub level: Cow<'a, str>,
    /// `message`.
    pub message: Cow<'a, str>,
    /// `log.logger`.
    pub logger: Option<Cow<'a, str>>,
    /// `log.origin.file.name`.
    pub file: Option<Cow<'a, str>>,
    /// `log.origin.file.line`.
    pub line: Option<u32>,
    /// `log.origin.function`.
    pub function: Option<Cow<'a, str>>,
    /// `error.*`.
    pub error: Option<EcsError<'a>>,
    /// `event.id`.
    pub event_id: Option<EventId>,
    /// `trace.id`: the trace the record belongs to, as the events and logs sent to the server carry it.
    pub trace_id: Option<TraceId>,
    /// `span.id`: the span the record was made in (or the scope's own span id, as errors carry it).
    pub span_id: Option<SpanId>,
    /// `service.name`, unless the sink sets one.
    pub service_name: Option<Cow<'a, str>>,
    /// `service.version`, unless the sink sets one.
    pub service_version: Option<Cow<'a, str>>,
    /// `service.environment`, unless the sink sets one.
    pub service_environment: Option<Cow<'a, str>>,
    /// `host.name`; the sink uses this machine's name when it is `None`.
    pub host_name: Option<Cow<'a, str>>,
    /// `process.thread.name`.
    pub thread_name: Option<Cow<'a, str>>,
    /// `labels`: string key-values, such as an event's tags or a log record's key-values.
    pub labels: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
}

/// The `error.*` fields of an [`EcsRecord`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EcsError<'a> {
    /// `error.type`: the error's type name.
    pub ty: Cow<'a, str>,
    /// `error.message`: its `Display` text.
    pub message: Option<Cow<'a, str>>,
    /// `error.stack_trace`: the frames, innermost first, one per line.
    pub stack_trace: Option<String>,
    /// `error.chain`: `Type: message` for each error in its `source()` chain, outermost first.
    pub chain: Vec<String>,
}

impl<'a> EcsError<'a> {
    /// An error of type `ty` with nothing else known.
    pub fn new(ty: impl Into<Cow<'a, str>>) -> Self {
        EcsError {
            ty: ty.into(),
            ..EcsError::default()
        }
    }
}

impl<'a> EcsRecord<'a> {
    /// A record made now, on the current thread (whose name becomes `process.thread.name`), with everything else
    /// unset.
    pub fn new(level: impl Into<Cow<'a, str>>, message: impl Into<Cow<'a, str>>) -> Self {
        EcsRecord {
            timestamp: SystemTime::now(),
            level: level.into(),
            message: message.into(),
            logger: None,
            file: None,
            line: None,
            function: None,
            error: None,
            event_id: None,
            trace_id: None,
            span_id: None,
            service_name: None,
            service_version: None,
            service_environment: None,
            host_name: None,
            thread_name: std::thread::current()
                .name()
                .map(|n| Cow::Owned(n.to_owned())),
            labels: BTreeMap::new(),
        }
    }

    /// The record for an event: the mapping in the table on [`JsonLinesSink`](super::JsonLinesSink).
    ///
    /// ```
    /// use faultline::protocol::{Event, Exception, Frame, Stacktrace};
    /// use faultline::sink::EcsRecord;
    ///
    /// let mut event = Event::new();
    /// event.exception.push(Exception {
    ///     ty: "ParseIntError".into(),
    ///     value: Some("invalid digit found in string".into()),
    ///     stacktrace: Some(Stacktrace {
    ///         frames: vec![Frame {
    ///             function: Some("app::main".into()),
    ///             filename: Some("src/main.rs".into()),
    ///             lineno: Some(7),
    ///             in_app: Some(true),
    ///             ..Frame::default()
    ///         }],
    ///     }),
    ///     ..Exception::default()
    /// });
    /// let record = EcsRecord::from_event(&event);
    /// assert_eq!(record.message, "invalid digit found in string");
    /// assert_eq!(record.file.as_deref(), Some("src/main.rs"));
    /// let error = record.error.unwrap();
    /// assert_eq!(error.ty, "ParseIntError");
    /// assert_eq!(error.stack_trace.as_deref(), Some("   0: app::main at src/main.rs:7"));
    /// ```
    pub fn from_event(event: &'a Event) -> Self {
        let exception = event.exception.last();
        let current_thread = event
            .threads
            .iter()
            .find(|t| t.current == Some(true))
            .or_else(|| event.threads.first());
        let frames: &[Frame] = exception
            .and_then(|e| e.stacktrace.as_ref())
            .or_else(|| current_thread.and_then(|t| t.stacktrace.as_ref()))
            .map_or(&[], |s| s.frames.as_slice());
        // Frames are oldest call first; the innermost in-app frame is where the program was.
        let origin = frames.iter().rev().find(|f| f.in_app == Some(true));

        let message = event
            .message
            .as_deref()
            .or_else(|| exception.and_then(|e| e.value.as_deref()))
            .or_else(|| exception.map(|e| e.ty.as_str()))
            .unwrap_or_default();
        let error = exception.map(|e| {
            let causes = &event.exception[..event.exception.len() - 1];
            EcsError {
                ty: Cow::Borrowed(e.ty.as_str()),
                message: e.value.as_deref().map(Cow::Borrowed),
                stack_trace: e
                    .stacktrace
                    .as_ref()
                    .filter(|s| !s.frames.is_empty())
                    .map(|s| s.to_backtrace_text()),
                // Exceptions are root cause first; the chain reads from the captured error down.
                chain: causes
                    .iter()
                    .rev()
                    .map(|c| match &c.value {
                        Some(value) => format!("{}: {value}", c.ty),
                        None => c.ty.clone(),
                    })
                    .collect(),
            }
        });
        let (service_name, service_version) = match event.release.as_deref() {
            Some(release) => match release.split_once('@') {
                Some((name, version)) => (Some(name), Some(version)),
                None => (None, Some(release)),
            },
            None => (None, None),
        };
        EcsRecord {
            timestamp: event.timestamp.0,
            level: Cow::Borrowed(event.level.as_str()),
            message: Cow::Borrowed(message),
            logger: event.logger.as_deref().map(Cow::Borrowed),
            file: origin
                .and_then(|f| f.filename.as_deref().or(f.abs_path.as_deref()))
                .map(Cow::Borrowed),
            line: origin.and_then(|f| f.lineno),
            function: origin
                .and_then(|f| f.function.as_deref())
                .map(Cow::Borrowed),
            error,
            event_id: Some(event.event_id),
            trace_id: trace_field(event, "trace_id"),
            span_id: trace_field(event, "span_id"),
            service_name: service_name.map(Cow::Borrowed),
            service_version: service_version.map(Cow::Borrowed),
            service_environment: event.environment.as_deref().map(Cow::Borrowed),
            host_name: event.server_name.as_deref().map(Cow::Borrowed),
            thread_name: current_thread
                .and_then(|t| t.name.as_deref())
                .map(Cow::Borrowed),
            labels: event
                .tags
                .iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str())))
                .collect(),
        }
    }
}

/// A field of the event's trace context (`contexts.trace.trace_id`, `span_id`), parsed.
fn trace_field<T: std::str::FromStr>(event: &Event, key: &str) -> Option<T> {
    event
        .contexts
        .get("trace")?
        .get(key)?
        .as_str()?
        .parse()
        .ok()
}

/// RFC 3339 in UTC with milliseconds, `2025-11-25T13:34:56.123Z`: the layout every Filebeat version parses for
/// `@timestamp` (older ones accept exactly three fraction digits).
fn rfc3339_millis(time: SystemTime) -> String {
    // `to_rfc3339` writes microseconds (`…:56.123456Z`); keep three digits.
    let mut text = Timestamp(time).to_rfc3339();
    if let Some(dot) = text.rfind('.') {
        text.truncate(dot + 4);
        text.push('Z');
    }
    text
}

/// A `labels` key as the ECS logging specification wants it: `.`, `*` and `\` become `_`.
fn label_key(key: &str) -> Cow<'_, str> {
    if key.contains(['.', '*', '\\']) {
        Cow::Owned(key.replace(['.', '*', '\\'], "_"))
    } else {
        Cow::Borrowed(key)
    }
}

/// The line for `record`, `\n` included: the record's fields, with `service` winning over its `service.*` fields
/// and `host_name` used when it has none. See the field table on [`JsonLinesSink`](super::JsonLinesSink).
pub(super) fn encode_line(
    record: &EcsRecord<'_>,
    service: Option<&Service>,
    host_name: Option<&str>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    // Serialising strings, numbers and string maps into a Vec cannot fail; should it anyway, write what the
    // record's essentials allow rather than nothing.
    if write_json(&mut out, record, service, host_name).is_err() {
        out.clear();
        let fallback = serde_json::json!({
            "@timestamp": rfc3339_millis(record.timestamp),
            "log.level": record.level,
            "message": record.message,
            "ecs.version": ECS_VERSION,
        });
        out = fallback.to_string().into_bytes();
    }
    out.push(b'\n');
    out
}

fn write_json(
    out: &mut Vec<u8>,
    record: &EcsRecord<'_>,
    service: Option<&Service>,
    host_name: Option<&str>,
) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::new(out);
    let mut map = ser.serialize_map(None)?;
    map.serialize_entry("@timestamp", &rfc3339_millis(record.timestamp))?;
    map.serialize_entry("log.level", &record.level)?;
    map.serialize_entry("message", &record.message)?;
    map.serialize_entry("ecs.version", ECS_VERSION)?;
    if let Some(logger) = &record.logger {
        map.serialize_entry("log.logger", logger)?;
    }
    if let Some(file) = &record.file {
        map.serialize_entry("log.origin.file.name", file)?;
    }
    if let Some(line) = record.line {
        map.serialize_entry("log.origin.file.line", &line)?;
    }
    if let Some(function) = &record.function {
        map.serialize_entry("log.origin.function", function)?;
    }
    if let Some(error) = &record.error {
        map.serialize_entry("error.type", &error.ty)?;
        if let Some(message) = &error.message {
            map.serialize_entry("error.message", message)?;
        }
        if let Some(stack_trace) = &error.stack_trace {
            map.serialize_entry("error.stack_trace", stack_trace)?;
        }
        if !error.chain.is_empty() {
            map.serialize_entry("error.chain", &error.chain)?;
        }
    }
    if let Some(id) = record.event_id {
        map.serialize_entry("event.id", &id)?;
    }
    if let Some(id) = record.trace_id {
        map.serialize_entry("trace.id", &id)?;
    }
    if let Some(id) = record.span_id {
        map.serialize_entry("span.id", &id)?;
    }
    let name = service
        .map(|s| s.name.as_str())
        .or(record.service_name.as_deref());
    let version = service
        .map(|s| s.version.as_str())
        .or(record.service_version.as_deref());
    let environment = service
        .map(|s| s.environment.as_str())
        .or(record.service_environment.as_deref());
    for (key, value) in [
        ("service.name", name),
        ("service.version", version),
        ("service.environment", environment),
        ("host.name", record.host_name.as_deref().or(host_name)),
    ] {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            map.serialize_entry(key, value)?;
        }
    }
    map.serialize_entry("process.pid", &std::process::id())?;
    if let Some(thread) = &record.thread_name {
        map.serialize_entry("process.thread.name", thread)?;
    }
    if !record.labels.is_empty() {
        let labels: BTreeMap<Cow<'_, str>, &str> = record
            .labels
            .iter()
            .map(|(k, v)| (label_key(k), v.as_ref()))
            .collect();
        map.serialize_entry("labels", &labels)?;
    }
    map.end()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::protocol::{Exception, Level, Stacktrace, Thread};

    fn frame(function: &str, file: &str, line: u32, in_app: bool) -> Frame {
        Frame {
            function: Some(function.into()),
            filename: Some(file.into()),
            lineno: Some(line),
            in_app: Some(in_app),
            ..Frame::default()
        }
    }

    fn error_event() -> Event {
        let mut event = Event::new();
        event.event_id = "9ec79c33ec9942ab8353589fcb2e04dc".parse().unwrap();
        event.timestamp = Timestamp(UNIX_EPOCH + Duration::from_micros(1_764_077_696_123_456));
        event.release = Some("demo@0.1.0".into());
        event.environment = Some("production".into());
        event.server_name = Some("web-1".into());
        event.tags.insert("component".into(), "billing".into());
        event.tags.insert("k8s.pod".into(), "web-1*a\\b".into());
        event.exception = vec![
            Exception {
                ty: "ParseIntError".into(),
                value: Some("invalid digit found in string".into()),
                ..Exception::default()
            },
            Exception {
                ty: "PortError".into(),
                value: Some("invalid port".into()),
                ..Exception::default()
            },
            Exception {
                ty: "ConfigError".into(),
                value: Some("could not load settings.toml".into()),
                stacktrace: Some(Stacktrace {
                    frames: vec![
                        Frame {
                            function: Some("std::rt::lang_start".into()),
                            in_app: Some(false),
                            ..Frame::default()
                        },
                        frame("demo::main", "src/main.rs", 97, true),
                        frame("demo::load_config", "src/main.rs", 55, true),
                        frame("faultline::capture_error", "src/lib.rs", 10, false),
                    ],
                }),
                ..Exception::default()
            },
        ];
        event
    }

    #[test]
    fn golden_error_line() {
        let event = error_event();
        let record = EcsRecord::from_event(&event);
        let line = encode_line(&record, None, Some("ignored-because-the-event-has-one"));
        let line = String::from_utf8(line).unwrap();
        let want = concat!(
            r#"{"@timestamp":"2025-11-25T13:34:56.123Z","log.level":"error","#,
            r#""message":"could not load settings.toml","ecs.version":"8.11.0","#,
            r#""log.origin.file.name":"src/main.rs","log.origin.file.line":55,"#,
            r#""log.origin.function":"demo::load_config","#,
            r#""error.type":"ConfigError","error.message":"could not load settings.toml","#,
            r#""error.stack_trace":"   0: faultline::capture_error at src/lib.rs:10\n"#,
            r#"   1: demo::load_config at src/main.rs:55\n   2: demo::main at src/main.rs:97\n"#,
            r#"   3: std::rt::lang_start","#,
            r#""error.chain":["PortError: invalid port","ParseIntError: invalid digit found in string"],"#,
            r#""event.id":"9ec79c33ec9942ab8353589fcb2e04dc","#,
            r#""service.name":"demo","service.version":"0.1.0","service.environment":"production","#,
            r#""host.name":"web-1","process.pid":PID,"#,
            r#""labels":{"component":"billing","k8s_pod":"web-1*a\\b"}}"#,
            "\n"
        )
        .replace("PID", &std::process::id().to_string());
        assert_eq!(line, want);
    }

    #[test]
    fn a_message_event_takes_its_origin_and_thread_from_the_current_thread() {
        let mut event = Event::new();
        event.level = Level::Warning;
        event.message = Some("two\nlines".into());
        event.logger = Some("app::jobs".into());
        event.threads.push(Thread {
            name: Some("invoice-worker".into()),
            current: Some(true),
            stacktrace: Some(Stacktrace {
                frames: vec![frame("app::run", "src/jobs.rs", 12, true)],
            }),
            ..Thread::default()
        });
        let record = EcsRecord::from_event(&event);
        assert_eq!(record.level, "warning");
        assert_eq!(record.message, "two\nlines");
        assert_eq!(record.thread_name.as_deref(), Some("invoice-worker"));
        assert_eq!(record.file.as_deref(), Some("src/jobs.rs"));
        assert_eq!(record.line, Some(12));
        assert!(record.error.is_none());

        let line = encode_line(&record, None, None);
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        let json: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(json["message"], "two\nlines");
        assert_eq!(json["log.logger"], "app::jobs");
        assert_eq!(json["process.thread.name"], "invoice-worker");
        assert!(json.get("error.type").is_none());
    }

    #[test]
    fn a_configured_service_wins_over_the_release() {
        let event = error_event();
        let record = EcsRecord::from_event(&event);
        let service = Service {
            name: "billing".into(),
            version: "2.0.0".into(),
            environment: "staging".into(),
        };
        let json: serde_json::Value =
            serde_json::from_slice(&encode_line(&record, Some(&service), None)).unwrap();
        assert_eq!(json["service.name"], "billing");
        assert_eq!(json["service.version"], "2.0.0");
        assert_eq!(json["service.environment"], "staging");

        let mut event = Event::new();
        event.release = Some("1.2.3".into());
        let record = EcsRecord::from_event(&event);
        assert_eq!(record.service_name, None);
        assert_eq!(record.service_version.as_deref(), Some("1.2.3"));
    }

    #[test]
    fn stack_trace_text_without_files_or_names() {
        let frames = [
            Frame {
                instruction_addr: Some(crate::protocol::Addr(0x1f2c)),
                ..Frame::default()
            },
            Frame::default(),
            Frame {
                function: Some("app::f".into()),
                abs_path: Some("/src/app/f.rs".into()),
                ..Frame::default()
            },
        ];
        let stacktrace = crate::protocol::Stacktrace {
            frames: frames.to_vec(),
        };
        assert_eq!(
            stacktrace.to_backtrace_text(),
            "   0: app::f at /src/app/f.rs\n   1: <unknown>\n   2: 0x1f2c"
        );
    }

    #[test]
    fn timestamps_have_milliseconds() {
        let at = |micros| rfc3339_millis(UNIX_EPOCH + Duration::from_micros(micros));
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(1_764_077_696_999_999), "2025-11-25T13:34:56.999Z");
    }
}
