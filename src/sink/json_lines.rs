//! [`JsonLinesSink`], the transport that writes each event as one line of ECS JSON to a size-rotated file, and
//! its builder.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ecs::{EcsRecord, Service, encode_line};
use super::rotate::{FlushPolicy, RotatingFile, RotatingFileBuilder};
use crate::contexts::hostname;
use crate::protocol::{Envelope, Event};
use crate::transport::{Outcome, Transport};

/// A [`Transport`] that writes each event as one line of JSON, with Elastic Common Schema field names, to a
/// size-rotated file.
///
/// Items other than events (client reports, attachments) are skipped. A line that cannot be written is reported to
/// the worker as [`Outcome::NetworkError`]. [`Transport::flush`] and [`Transport::shutdown`] write the lines that
/// [`FlushPolicy::Batched`] holds back; their timeout is not enforced, a local write being bounded by the disk.
///
/// ```
/// use faultline::sink::JsonLinesSink;
///
/// let dir = tempfile::tempdir()?;
/// let sink = JsonLinesSink::builder(dir.path().join("app.log"))
///     .service("billing", "1.4.2", "production")
///     .build()?;
/// let guard = faultline::init(faultline::ClientOptions::new().transport(sink));
/// faultline::capture_message("invoice run took 40 s", faultline::Level::Warning);
/// faultline::flush(std::time::Duration::from_secs(5));
///
/// let text = std::fs::read_to_string(dir.path().join("app.log"))?;
/// let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap())?;
/// assert_eq!(line["log.level"], "warning");
/// assert_eq!(line["message"], "invoice run took 40 s");
/// assert_eq!(line["service.name"], "billing");
/// # drop(guard);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Format
///
/// UTF-8, one JSON object per line, each line ending in `\n` (never `\r\n`), never pretty-printed: a newline inside
/// a value is written as `\n`, so a record is always exactly one line, and a line is never split across files.
///
/// Field names are flat, dotted ECS names (`"log.level": "error"`), not nested objects. That is what the
/// [ECS logging specification](https://github.com/elastic/ecs-logging/tree/main/spec) asks for (`log.level` must be
/// a dotted top-level key), what Elastic's own ECS loggers write, and what Filebeat's `ndjson` parser turns back
/// into objects with `expand_keys: true`. Elasticsearch also reads dotted names as object paths. The one nested
/// object is `labels`, whose keys have `.`, `*` and `\` replaced by `_` as the specification requires.
///
/// The first four keys come in this order; the rest follow in the order below and are left out when unknown.
///
/// | key | value | from an [`Event`] |
/// |---|---|---|
/// | `@timestamp` | RFC 3339 UTC with milliseconds, `2025-11-25T13:34:56.123Z` | `timestamp` |
/// | `log.level` | `debug`, `info`, `warning`, `error`, `fatal`; `trace` for `log` records (a record's own text otherwise) | `level` |
/// | `message` | text | `message`, else the error's message, else its type |
/// | `ecs.version` | `8.11.0` | |
/// | `log.logger` | the logger or log target | `logger` |
/// | `log.origin.file.name`, `log.origin.file.line`, `log.origin.function` | where it happened | the innermost in-app frame |
/// | `error.type`, `error.message` | the captured error's type and `Display` text | the last exception |
/// | `error.stack_trace` | the frames, innermost first, one per line: `   0: app::load at src/config.rs:42` | its stack trace |
/// | `error.chain` | array of `Type: message`, one per `source()`, outermost first | the other exceptions |
/// | `event.id` | 32 hex digits, the id Sentry would show | `event_id` |
/// | `trace.id`, `span.id` | 32 and 16 hex digits: the trace and span, as Sentry shows them (a `log` record's are its scope's, with the SDK enabled) | `contexts.trace` |
/// | `service.name`, `service.version`, `service.environment` | see [`JsonLinesSinkBuilder::service`] | `release`, `environment` |
/// | `host.name` | the host | `server_name`, else this machine's name |
/// | `process.pid` | number | this process |
/// | `process.thread.name` | the thread it happened on | the event's current thread, when named (panics are) |
/// | `labels` | object of strings | `tags` |
///
/// An error captured with [`capture_error`](crate::capture_error) looks like this (one line in the file):
///
/// ```text
/// {"@timestamp":"2025-11-25T13:34:56.123Z","log.level":"error","message":"could not load settings.toml","ecs.version":"8.11.0","log.origin.file.name":"src/main.rs","log.origin.file.line":55,"log.origin.function":"demo::load_config","error.type":"ConfigError","error.message":"could not load settings.toml","error.stack_trace":"   0: demo::load_config at src/main.rs:55\n   1: demo::main at src/main.rs:97\n   2: std::rt::lang_start","error.chain":["PortError: invalid port","ParseIntError: invalid digit found in string"],"event.id":"9ec79c33ec9942ab8353589fcb2e04dc","trace.id":"0af7651916cd43dd8448eb211c80319c","span.id":"b7ad6b7169203331","service.name":"demo","service.version":"0.1.0","service.environment":"production","host.name":"web-1","process.pid":4242,"labels":{"component":"billing"}}
/// ```
///
/// # Rotation
///
/// Lines go to the file given to [`JsonLinesSink::builder`], say `app.log`. Before a line that would take the file
/// past [`max_bytes`](JsonLinesSinkBuilder::max_bytes) is written, the file is rotated: `app.log.{max_files - 1}`
/// becomes `app.log.{max_files}` (replacing it), and so on down to `app.log` becoming `app.log.1`; then a fresh
/// `app.log` is started. So there is the active file plus at most [`max_files`](JsonLinesSinkBuilder::max_files)
/// backups, `app.log.1` the newest. A file that is still empty takes the line whatever its size, so a line longer
/// than `max_bytes` gets a file of its own rather than being split or dropped. An existing file is continued: its
/// size counts toward `max_bytes`.
///
/// After each rotation, backups numbered above `max_files` (left by a run with a larger `max_files`) are deleted.
/// Only names of the exact form `app.log.N` (`N` a decimal number without leading zeros) are touched: `app.log.gz`,
/// `app.log.1.gz`, `app.log.old` or `other.log` in the same directory never are.
///
/// Renaming rather than copying keeps a reader such as Filebeat on the same file (inode) across a rotation, so it
/// finishes reading `app.log.1` before it moves on to the new `app.log`.
///
/// ```
/// use faultline::sink::{EcsRecord, JsonLinesSink};
///
/// let dir = tempfile::tempdir()?;
/// // Every line is longer than 100 bytes, so each one after the first rotates the file.
/// let sink = JsonLinesSink::builder(dir.path().join("app.log")).max_bytes(100).max_files(2).build()?;
/// for message in ["first", "second", "third"] {
///     sink.write_record(&EcsRecord::new("INFO", message))?;
/// }
/// let message = |name: &str| -> Result<String, Box<dyn std::error::Error>> {
///     let line: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join(name))?)?;
///     Ok(line["message"].as_str().unwrap_or_default().to_owned())
/// };
/// assert_eq!(message("app.log")?, "third");
/// assert_eq!(message("app.log.1")?, "second");
/// assert_eq!(message("app.log.2")?, "first");
/// assert!(!dir.path().join("app.log.3").exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Lines and locking
///
/// Each line is written with a single `write_all` while the file's lock is held, so lines from concurrent writers
/// never interleave, and rotation happens between lines only. The file is opened in append mode and written without
/// a buffered writer: once a line is written (at once, or with its batch under [`FlushPolicy::Batched`]), it has
/// reached the operating system. After a failed write the file is cut back to its last complete line where
/// possible, so a half-written line never sits in front of the next one.
pub struct JsonLinesSink {
    file: RotatingFile,
    service: Option<Service>,
    host_name: Option<String>,
}

impl std::fmt::Debug for JsonLinesSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLinesSink")
            .field("file", &self.file)
            .field("service", &self.service)
            .field("host_name", &self.host_name)
            .finish()
    }
}

/// Settings for a [`JsonLinesSink`]; made by [`JsonLinesSink::builder`].
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct JsonLinesSinkBuilder {
    file: RotatingFileBuilder,
    service: Option<Service>,
}

impl JsonLinesSinkBuilder {
    /// Sets the size in bytes past which the file is rotated (see [Rotation](JsonLinesSink#rotation)). Defaults to
    /// 5 MiB (`5 * 1024 * 1024`).
    ///
    /// A value of 0 makes [`JsonLinesSinkBuilder::build`] fail; use `u64::MAX` never to rotate.
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.file = self.file.max_bytes(max_bytes);
        self
    }

    /// Sets how many rotated files (`app.log.1` …) are kept (see [Rotation](JsonLinesSink#rotation)). Defaults to 5.
    ///
    /// With 0, no backup is kept: a full file is emptied and started again.
    pub fn max_files(mut self, max_files: usize) -> Self {
        self.file = self.file.max_files(max_files);
        self
    }

    /// Sets when lines reach the file. Defaults to [`FlushPolicy::EveryLine`], so a crash loses nothing written.
    pub fn flush_policy(mut self, policy: FlushPolicy) -> Self {
        self.file = self.file.flush_policy(policy);
        self
    }

    /// Sets `service.name`, `service.version` and `service.environment` on every line. Defaults to taking them
    /// from each event: name and version from its release `name@version` (a release without `@` is the version
    /// alone), the environment from its environment.
    ///
    /// When set, these values win over the event's.
    pub fn service(
        mut self,
        name: impl Into<String>,
        version: impl Into<String>,
        environment: impl Into<String>,
    ) -> Self {
        self.service = Some(Service {
            name: name.into(),
            version: version.into(),
            environment: environment.into(),
        });
        self
    }

    /// Opens the file for appending (creating it and its directory if missing) and returns the sink.
    ///
    /// # Errors
    ///
    /// Fails when `max_bytes` is 0, the path has no UTF-8 file name, or the directory or file cannot be created or
    /// opened.
    pub fn build(self) -> io::Result<JsonLinesSink> {
        Ok(JsonLinesSink {
            file: self.file.open()?,
            service: self.service,
            host_name: hostname(),
        })
    }
}

impl JsonLinesSink {
    /// Settings for a sink writing to `path` (e.g. `/var/log/app/app.log`), with the defaults: 5 MiB per file,
    /// 5 backups, [`FlushPolicy::EveryLine`], service fields taken from the events.
    pub fn builder(path: impl Into<PathBuf>) -> JsonLinesSinkBuilder {
        JsonLinesSinkBuilder {
            file: RotatingFile::builder(path),
            service: None,
        }
    }

    /// The active file's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Writes one event as one line.
    ///
    /// # Errors
    ///
    /// Fails with the operating system's error when the line cannot be written. A failed rotation is not an error:
    /// the line goes to the current file, and the next write tries to rotate again.
    pub fn write_event(&self, event: &Event) -> io::Result<()> {
        self.write_record(&EcsRecord::from_event(event))
    }

    /// Writes one record as one line, e.g. a log record that is not an event.
    ///
    /// The sink adds what it knows and the record leaves out: the service fields, `host.name` and `process.pid`.
    ///
    /// ```
    /// use faultline::sink::{EcsRecord, JsonLinesSink};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let sink = JsonLinesSink::builder(dir.path().join("app.log")).build()?;
    /// let mut record = EcsRecord::new("WARN", "disk almost full");
    /// record.logger = Some("app::disk".into());
    /// record.file = Some(file!().into());
    /// record.line = Some(line!());
    /// record.labels.insert("mount".into(), "/var".into());
    /// sink.write_record(&record)?;
    ///
    /// let text = std::fs::read_to_string(sink.path())?;
    /// let line: serde_json::Value = serde_json::from_str(text.trim_end())?;
    /// assert_eq!(line["log.level"], "WARN");
    /// assert_eq!(line["log.logger"], "app::disk");
    /// assert_eq!(line["labels"]["mount"], "/var");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Fails with the operating system's error when the line cannot be written. A failed rotation is not an error:
    /// the line goes to the current file, and the next write tries to rotate again.
    pub fn write_record(&self, record: &EcsRecord<'_>) -> io::Result<()> {
        self.file.write_line(&self.format_line(record))
    }

    /// The line [`JsonLinesSink::write_record`] writes for `record`, `\n` included.
    pub fn format_line(&self, record: &EcsRecord<'_>) -> Vec<u8> {
        encode_line(record, self.service.as_ref(), self.host_name.as_deref())
    }
}

impl Transport for JsonLinesSink {
    fn send_envelope(&self, envelope: &Envelope) -> Outcome {
        let mut written = true;
        for item in &envelope.items {
            // Raw in an envelope replayed from the spool.
            if let Some(event) = item.to_event() {
                written &= self.write_event(&event).is_ok();
            }
        }
        if written {
            Outcome::Sent
        } else {
            Outcome::NetworkError
        }
    }

    fn flush(&self, _timeout: Duration) -> bool {
        self.file.flush().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::protocol::{EnvelopeItem, Exception, Timestamp};

    fn error_event() -> Event {
        let mut event = Event::new();
        event.event_id = "9ec79c33ec9942ab8353589fcb2e04dc".parse().unwrap();
        event.timestamp = Timestamp(UNIX_EPOCH + Duration::from_micros(1_764_077_696_123_456));
        event.release = Some("demo@0.1.0".into());
        event.environment = Some("production".into());
        event.exception = vec![Exception {
            ty: "ConfigError".into(),
            value: Some("could not load settings.toml".into()),
            ..Exception::default()
        }];
        event
    }

    fn sink(dir: &Path) -> JsonLinesSink {
        JsonLinesSink::builder(dir.join("app.log")).build().unwrap()
    }

    #[test]
    fn the_builders_service_reaches_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let sink = JsonLinesSink::builder(dir.path().join("app.log"))
            .service("billing", "2.0.0", "staging")
            .build()
            .unwrap();
        let line = sink.format_line(&EcsRecord::from_event(&error_event()));
        let json: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(json["service.name"], "billing");
        assert_eq!(json["service.version"], "2.0.0");
        assert_eq!(json["service.environment"], "staging");
    }

    #[test]
    fn non_event_items_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let sink = sink(dir.path());
        let mut envelope = Envelope::from_event(error_event());
        envelope.items.insert(
            0,
            EnvelopeItem::Raw {
                ty: "attachment".into(),
                payload: b"not an event".to_vec(),
            },
        );
        envelope
            .items
            .push(EnvelopeItem::ClientReport(Default::default()));
        assert_eq!(sink.send_envelope(&envelope), Outcome::Sent);
        assert!(sink.flush(Duration::ZERO));
        let text = std::fs::read_to_string(sink.path()).unwrap();
        assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn an_event_replayed_from_the_spool_as_raw_bytes_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let sink = sink(dir.path());
        let event = error_event();
        let raw =
            Envelope::from_slice_raw(&Envelope::from_event(event.clone()).to_vec(None)).unwrap();
        assert!(
            raw.event().is_none(),
            "the spool's envelopes keep their event as bytes"
        );
        assert_eq!(sink.send_envelope(&raw), Outcome::Sent);
        assert!(sink.flush(Duration::ZERO));
        let text = std::fs::read_to_string(sink.path()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(line["event.id"], event.event_id.to_string());
        assert_eq!(line["error.type"], "ConfigError");
    }

    #[test]
    fn an_events_trace_and_span_become_trace_id_and_span_id() {
        let dir = tempfile::tempdir().unwrap();
        let sink = sink(dir.path());
        let mut event = error_event();
        event.contexts.insert(
            "trace".into(),
            serde_json::json!({"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331"}),
        );
        let line: serde_json::Value =
            serde_json::from_slice(&sink.format_line(&EcsRecord::from_event(&event))).unwrap();
        assert_eq!(line["trace.id"], "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(line["span.id"], "b7ad6b7169203331");
        let line: serde_json::Value =
            serde_json::from_slice(&sink.format_line(&EcsRecord::from_event(&error_event())))
                .unwrap();
        assert!(
            line.get("trace.id").is_none(),
            "no trace context, no trace.id"
        );
    }

    #[test]
    fn a_record_without_an_event_gets_the_sinks_context() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = sink(dir.path());
        sink.host_name = Some("box".into());
        let record = std::thread::Builder::new()
            .name("logger-thread".into())
            .spawn(|| EcsRecord::new("INFO", "started"))
            .unwrap()
            .join()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&sink.format_line(&record)).unwrap();
        assert_eq!(json["host.name"], "box");
        assert_eq!(json["process.thread.name"], "logger-thread");
        assert_eq!(json["process.pid"], std::process::id());
        assert!(json.get("event.id").is_none());
        assert!(json.get("service.name").is_none());
    }
}
