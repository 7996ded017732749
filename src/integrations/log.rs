//! The [`log`](https://docs.rs/log) facade: records become breadcrumbs and events (feature `log`, on by default).
//!
//! `log` allows one global logger per process, so [`Logger`] does not replace yours: it wraps it. Every record still
//! goes to your logger, unchanged; on the way, records at or above the thresholds become breadcrumbs and events.
//!
//! ```
//! # use log::{LevelFilter, Log, Metadata, Record};
//! # struct MyLogger; // your logger, e.g. `env_logger::Builder::from_default_env().build()`
//! # impl Log for MyLogger {
//! #     fn enabled(&self, m: &Metadata<'_>) -> bool { m.level() <= log::Level::Warn }
//! #     fn log(&self, r: &Record<'_>) { if self.enabled(r.metadata()) { eprintln!("{}", r.args()) } }
//! #     fn flush(&self) {}
//! # }
//! let logger = faultline::integrations::log::Logger::new(MyLogger);
//! log::set_boxed_logger(Box::new(logger)).expect("no other logger installed yet");
//! // `log` drops records above this before any logger sees them: the most verbose of your
//! // logger's level and the breadcrumb threshold (`Info` by default).
//! log::set_max_level(LevelFilter::Info);
//!
//! let events = faultline::test::with_captured_events(|| {
//!     log::info!("cache warmed");
//!     let err = "x".parse::<u16>().unwrap_err();
//!     log::error!(error:err = err; "cannot read the port");
//! });
//! assert_eq!(events[0].message.as_deref(), Some("cannot read the port"));
//! assert_eq!(events[0].exception[0].ty, "ParseIntError");
//! assert_eq!(events[0].breadcrumbs[0].message.as_deref(), Some("cache warmed"));
//! ```
//!
//! # Mapping
//!
//! - **Levels:** `Error` → `error`, `Warn` → `warning`, `Info` → `info`, `Debug` and `Trace` → `debug`.
//! - **Breadcrumbs** (records at [`Logger::breadcrumb_level`] or more severe, `Info` by default): the message, the
//!   level, the target as the category, and as data the record's `module_path`, `file` and `line` followed by its
//!   key-values (a key-value of the same name wins).
//! - **Events** (records at [`Logger::event_level`] or more severe, `Error` by default): the message and level, the
//!   target as `logger`, `module_path`, `file` and `line` in a `log` context, the key-values as extra. When a
//!   key-value holds an error (logged as `error:err = e`, which `log` passes on as a `dyn Error`), the event
//!   carries that error and its `source()` chain as exceptions, named as [`crate::capture_error`] names a
//!   `dyn Error`, with mechanism `log`. A record that becomes an event also becomes a breadcrumb, added after the
//!   event, so later events show it.
//! - **Logs** (records at [`Logger::log_level`] or more severe, `Info` by default, when the SDK sends logs:
//!   [`ClientOptions::enable_logs`](crate::ClientOptions::enable_logs)): structured log records for Sentry Logs,
//!   with the message as the body, the key-values as typed attributes (an error as its text), `logger.name`,
//!   `code.file.path`, `code.line.number`, and `sentry.origin` `auto.log.log`. Breadcrumbs, events and logs are
//!   independent: a record may become any mix of them.
//! - **Ignored targets:** `faultline`, `ureq`, `ureq_proto` and `rustls` (and whatever [`Logger::ignore_target`]
//!   adds) are never turned into breadcrumbs or events: the SDK's HTTP stack logs while it sends, and reporting
//!   that could feed the SDK its own traffic. Your logger still receives those records.
//!
//!
//! # JSON lines
//!
//! With [`Logger::json_lines`], every record at or above a level also becomes one line of JSON in a
//! [`JsonLinesSink`] file, with the same [Elastic Common Schema] field names as the events the sink writes, so a
//! shipper such as Filebeat indexes log records and events alike. This needs no DSN: it works with the SDK
//! disabled. A line has:
//!
//! - `@timestamp` (when it was logged), `message`, `ecs.version`, `process.pid`, `host.name`, the service fields
//!   the sink is configured with, and `process.thread.name` when the logging thread has a name;
//! - `log.level`: `error`, `warning`, `info`, `debug` or `trace`. `Warn` is written `warning`, the name event lines
//!   use, so that one query (`log.level: warning`) finds both; ECS takes a level's text as the source has it, and
//!   Filebeat passes it through unchanged;
//! - `log.logger`: the target; `log.origin.file.name` and `log.origin.file.line`: where it was logged;
//! - `labels`: the key-values as strings (a `.` in a key becomes `_`);
//! - `error.type`, `error.message` and `error.chain`, from a key-value that holds an error (`error:err = e`), which
//!   is then left out of `labels`. The type is named as [`crate::capture_error`] names a `dyn Error`.
//!
//! Log lines have no `event.id`; a record that also becomes an event appears twice in a sink that is the events'
//! transport too, once as a log line and once as the event (with `event.id`).
//!
//! The ignored targets are left out of the file too: at `Debug` and `Trace`, the SDK's HTTP stack describes every
//! request the worker sends to the server, which is the SDK's traffic rather than the program's. Your logger still
//! receives those records. Unlike breadcrumbs and events, lines are written for records logged on the worker
//! thread or by a callback, since writing a line reports nothing and cannot loop.
//!
//! [Elastic Common Schema]: https://www.elastic.co/guide/en/ecs/current/index.html
//!
//! Records logged by a `before_breadcrumb` or `before_send` callback, or on the SDK's worker thread, are passed to
//! your logger only (and to the JSON lines). While the SDK is disabled, a record costs a level comparison and an atomic load on top of your
//! logger's own work.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::error::Error;
use std::fmt;
use std::sync::Arc;

use log::kv::{self, Key, Value, VisitSource, VisitValue};
use log::{Level as LogLevel, LevelFilter, Log, Metadata, Record};

use super::{
    DEFAULT_IGNORED_TARGETS, capture_exceptions, capture_message, guarded, is_ignored_target,
    text_value,
};
use crate::logs;
use crate::protocol::{Breadcrumb, Event, Level, LogValue};
use crate::sink::{EcsError, EcsRecord, JsonLinesSink};

/// A [`log::Log`] that reports records to faultline and passes every record on to the logger it wraps.
///
/// Build it around your logger with [`Logger::new`], or without one with [`Logger::standalone`], then install it
/// with [`log::set_boxed_logger`] or [`log::set_logger`]. See the [module docs](self) for what becomes of a record.
pub struct Logger<L: Log = NoopLogger> {
    inner: L,
    breadcrumbs: LevelFilter,
    events: LevelFilter,
    logs: LevelFilter,
    ignored: Vec<Cow<'static, str>>,
    json: Option<(Arc<JsonLinesSink>, LevelFilter)>,
}

/// A logger that drops every record: what [`Logger::standalone`] wraps.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopLogger;

impl Log for NoopLogger {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        false
    }

    fn log(&self, _: &Record<'_>) {}

    fn flush(&self) {}
}

impl Logger<NoopLogger> {
    /// A logger that only reports to faultline, for programs that have no other logger.
    pub fn standalone() -> Self {
        Logger::new(NoopLogger)
    }
}

impl Default for Logger<NoopLogger> {
    fn default() -> Self {
        Logger::standalone()
    }
}

impl<L: Log> Logger<L> {
    /// Wraps `inner`, which keeps receiving every record.
    pub fn new(inner: L) -> Self {
        Logger {
            inner,
            breadcrumbs: LevelFilter::Info,
            events: LevelFilter::Error,
            logs: LevelFilter::Info,
            ignored: DEFAULT_IGNORED_TARGETS
                .iter()
                .map(|t| Cow::Borrowed(*t))
                .collect(),
            json: None,
        }
    }

    /// Records at `level` or more severe become breadcrumbs; [`LevelFilter::Off`] turns breadcrumbs off.
    ///
    /// Defaults to [`LevelFilter::Info`].
    #[must_use]
    pub fn breadcrumb_level(mut self, level: LevelFilter) -> Self {
        self.breadcrumbs = level;
        self
    }

    /// Records at `level` or more severe become events; [`LevelFilter::Off`] turns events off.
    ///
    /// Defaults to [`LevelFilter::Error`].
    #[must_use]
    pub fn event_level(mut self, level: LevelFilter) -> Self {
        self.events = level;
        self
    }

    /// Records at `level` or more severe become structured log records (Sentry Logs), when the SDK sends logs
    /// ([`ClientOptions::enable_logs`](crate::ClientOptions::enable_logs)); [`LevelFilter::Off`] turns them off.
    /// Any mix of breadcrumb, event and log is allowed: each threshold applies on its own.
    ///
    /// Defaults to [`LevelFilter::Info`].
    #[must_use]
    pub fn log_level(mut self, level: LevelFilter) -> Self {
        self.logs = level;
        self
    }

    /// Never turns records whose target is `target`, or lies under it (`hyper` also matches `hyper::proto`), into
    /// breadcrumbs or events. They still go to the wrapped logger.
    ///
    /// Defaults to `faultline`, `ureq`, `ureq_proto` and `rustls`; this adds to that list.
    #[must_use]
    pub fn ignore_target(mut self, target: impl Into<Cow<'static, str>>) -> Self {
        self.ignored.push(target.into());
        self
    }

    /// Also writes every record at `level` or more severe as one line of ECS JSON through
    /// [`JsonLinesSink::write_record`], for a log shipper. [`LevelFilter::Off`] writes none.
    ///
    /// This works whether or not the SDK is enabled, so a program can use faultline just for its JSON log file;
    /// with it enabled, the same sink can also be the events' transport (alone, or beside the HTTP transport
    /// through [`Tee`](crate::transport::Tee)), so events and log records share one file. See the module docs'
    /// "JSON lines" section for the fields. A line that cannot be written is dropped; the sink does not panic.
    ///
    /// Defaults to writing no lines.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use faultline::integrations::log::Logger;
    /// use faultline::sink::JsonLinesSink;
    /// use log::{LevelFilter, Log};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let sink = Arc::new(JsonLinesSink::builder(dir.path().join("app.log")).build()?);
    /// let logger = Logger::standalone().json_lines(sink.clone(), LevelFilter::Info);
    /// logger.log(
    ///     &log::Record::builder()
    ///         .level(log::Level::Warn)
    ///         .target("app::disk")
    ///         .args(format_args!("disk almost full"))
    ///         .key_values(&[("mount", "/var")])
    ///         .build(),
    /// );
    ///
    /// let text = std::fs::read_to_string(sink.path())?;
    /// let line: serde_json::Value = serde_json::from_str(text.trim_end())?;
    /// assert_eq!(line["log.level"], "warning");
    /// assert_eq!(line["log.logger"], "app::disk");
    /// assert_eq!(line["message"], "disk almost full");
    /// assert_eq!(line["labels"]["mount"], "/var");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn json_lines(mut self, sink: Arc<JsonLinesSink>, level: LevelFilter) -> Self {
        self.json = Some((sink, level));
        self
    }

    /// The wrapped logger.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// Unwraps the logger.
    pub fn into_inner(self) -> L {
        self.inner
    }

    /// Whether this logger (not the wrapped one) turns records like `metadata` into breadcrumbs or events now.
    fn wants(&self, metadata: &Metadata<'_>) -> bool {
        let level = metadata.level();
        (level <= self.breadcrumbs || level <= self.events || level <= self.logs)
            && crate::is_enabled()
            && !is_ignored_target(metadata.target(), &self.ignored)
    }

    /// Whether records like `metadata` become JSON lines.
    fn wants_json(&self, metadata: &Metadata<'_>) -> bool {
        self.json
            .as_ref()
            .is_some_and(|(_, level)| metadata.level() <= *level)
            && !is_ignored_target(metadata.target(), &self.ignored)
    }

    fn write_json(&self, record: &Record<'_>) {
        let Some((sink, _)) = &self.json else {
            return;
        };
        if !self.wants_json(record.metadata()) {
            return;
        }
        // Not `guarded`: a line written by a callback or on the worker reports nothing, so it cannot loop, and
        // those records belong in the log file like any other. The sink reports a failed write on the SDK's
        // debug channel (never through `log`); the record is not retried.
        let _ = sink.write_record(&ecs_record(record));
    }

    fn report(&self, record: &Record<'_>) {
        let level = record.level();
        let as_event = level <= self.events;
        let as_breadcrumb = level <= self.breadcrumbs;
        let maybe_log = level <= self.logs;
        // Cheapest checks first: a level comparison, then one atomic load when the SDK is disabled.
        if !(as_event || as_breadcrumb || maybe_log)
            || !crate::is_enabled()
            || is_ignored_target(record.target(), &self.ignored)
        {
            return;
        }
        let as_log = maybe_log && crate::logs::enabled();
        if !(as_event || as_breadcrumb || as_log) {
            return;
        }
        guarded(|| {
            let pairs = Pairs::from_record(record);
            let message = match record.args().as_str() {
                Some(text) => text.to_owned(),
                None => record.args().to_string(),
            };
            if as_log {
                structured_log(record, &message, &pairs);
            }
            if as_event {
                capture(record, &message, &pairs);
            }
            if as_breadcrumb {
                crate::add_breadcrumb(|| breadcrumb(record, message, &pairs));
            }
        });
    }
}

impl<L: Log> Log for Logger<L> {
    /// Whether the wrapped logger or this one wants the record.
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.inner.enabled(metadata) || self.wants(metadata) || self.wants_json(metadata)
    }

    /// Passes the record to the wrapped logger (always; it applies its own filter), writes its JSON line, then
    /// reports it.
    fn log(&self, record: &Record<'_>) {
        self.inner.log(record);
        self.write_json(record);
        self.report(record);
    }

    /// Flushes the wrapped logger. Events are delivered by [`crate::flush`] and the init guard, not here.
    fn flush(&self) {
        self.inner.flush();
    }
}

impl<L: Log> fmt::Debug for Logger<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("inner", &std::any::type_name::<L>())
            .field("breadcrumb_level", &self.breadcrumbs)
            .field("event_level", &self.events)
            .field("log_level", &self.logs)
            .field("ignored_targets", &self.ignored)
            .field(
                "json_lines",
                &self.json.as_ref().map(|(s, l)| (s.path(), l)),
            )
            .finish()
    }
}

/// The protocol level for a `log` level.
pub(crate) fn level(level: LogLevel) -> Level {
    match level {
        LogLevel::Error => Level::Error,
        LogLevel::Warn => Level::Warning,
        LogLevel::Info => Level::Info,
        LogLevel::Debug | LogLevel::Trace => Level::Debug,
    }
}

/// The `log.level` of a record's JSON line: the protocol's names where events have them (`Warn` is `warning`, as on
/// event lines, so one query finds both), `trace` kept apart from `debug`.
fn ecs_level(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Trace => "trace",
        other => self::level(other).as_str(),
    }
}

/// A record as the fields of its JSON line.
fn ecs_record<'a>(record: &'a Record<'_>) -> EcsRecord<'a> {
    let message = match record.args().as_str() {
        Some(text) => Cow::Borrowed(text),
        None => Cow::Owned(record.args().to_string()),
    };
    let mut ecs = EcsRecord::new(ecs_level(record.level()), message);
    // The trace of the scope it was logged in, as its errors and logs carry it, so Kibana links the line to them.
    if crate::is_enabled() {
        if let Some(trace) =
            crate::hub::Hub::with_current(|hub| hub.try_top()).map(|scope| scope.trace_context())
        {
            ecs.trace_id = Some(trace.trace_id);
            ecs.span_id = Some(trace.span_id);
        }
    }
    ecs.logger = Some(Cow::Owned(record.target().to_owned()));
    ecs.file = record.file().map(|f| Cow::Owned(f.to_owned()));
    ecs.line = record.line();
    let pairs = Pairs::from_record(record);
    let error = pairs.error();
    if let Some((_, err)) = error {
        let exceptions = crate::chain::exceptions_from_error(err, "dyn core::error::Error");
        // Root cause first; `error.*` describes the logged error and `error.chain` reads down from it.
        if let Some((outer, causes)) = exceptions.split_last() {
            let mut fields = EcsError::new(outer.ty.clone());
            fields.message = outer.value.clone().map(Cow::Owned);
            fields.chain = causes
                .iter()
                .rev()
                .map(|c| match &c.value {
                    Some(value) => format!("{}: {value}", c.ty),
                    None => c.ty.clone(),
                })
                .collect();
            ecs.error = Some(fields);
        }
    }
    let skip = error.map(|(i, _)| i);
    for (i, (key, value)) in pairs.pairs.iter().enumerate() {
        if Some(i) != skip {
            ecs.labels.insert(
                Cow::Owned(key.as_str().to_owned()),
                Cow::Owned(value.to_string()),
            );
        }
    }
    ecs
}

/// A record's key-values, borrowed for as long as the record lives.
struct Pairs<'kvs> {
    pairs: Vec<(Key<'kvs>, Value<'kvs>)>,
}

impl<'kvs> VisitSource<'kvs> for Pairs<'kvs> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), kv::Error> {
        self.pairs.push((key, value));
        Ok(())
    }
}

impl<'kvs> Pairs<'kvs> {
    fn from_record(record: &'kvs Record<'_>) -> Self {
        let mut pairs = Pairs { pairs: Vec::new() };
        // A failing `Source` only costs its remaining pairs.
        let _ = record.key_values().visit(&mut pairs);
        pairs
    }

    /// The first key-value that holds an error, with its position.
    fn error(&self) -> Option<(usize, &(dyn Error + 'static))> {
        self.pairs
            .iter()
            .enumerate()
            .find_map(|(i, (_, value))| value.to_borrowed_error().map(|err| (i, err)))
    }

    /// The pairs as JSON values, leaving out the one at `skip`.
    fn to_map(&self, skip: Option<usize>) -> BTreeMap<String, serde_json::Value> {
        self.pairs
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != skip)
            .map(|(_, (key, value))| (key.as_str().to_owned(), json(value)))
            .collect()
    }
}

/// A key-value as JSON: numbers, booleans and strings as themselves, anything else (errors, `Debug` or `Display`
/// captures) as its text.
fn json(value: &Value<'_>) -> serde_json::Value {
    struct ToJson(serde_json::Value);
    impl<'v> VisitValue<'v> for ToJson {
        fn visit_any(&mut self, value: Value<'_>) -> Result<(), kv::Error> {
            self.0 = text_value(value.to_string());
            Ok(())
        }
        fn visit_null(&mut self) -> Result<(), kv::Error> {
            self.0 = serde_json::Value::Null;
            Ok(())
        }
        fn visit_u64(&mut self, value: u64) -> Result<(), kv::Error> {
            self.0 = value.into();
            Ok(())
        }
        fn visit_i64(&mut self, value: i64) -> Result<(), kv::Error> {
            self.0 = value.into();
            Ok(())
        }
        fn visit_f64(&mut self, value: f64) -> Result<(), kv::Error> {
            // NaN and infinities have no JSON number: keep their text.
            self.0 = serde_json::Number::from_f64(value)
                .map_or_else(|| value.to_string().into(), serde_json::Value::Number);
            Ok(())
        }
        fn visit_bool(&mut self, value: bool) -> Result<(), kv::Error> {
            self.0 = value.into();
            Ok(())
        }
        fn visit_str(&mut self, value: &str) -> Result<(), kv::Error> {
            self.0 = text_value(value.to_owned());
            Ok(())
        }
        fn visit_char(&mut self, value: char) -> Result<(), kv::Error> {
            self.0 = value.to_string().into();
            Ok(())
        }
    }
    let mut out = ToJson(serde_json::Value::Null);
    if value.visit(&mut out).is_err() {
        out.0 = text_value(value.to_string());
    }
    out.0
}

/// `module_path`, `file` and `line`, where the record has them.
fn location(record: &Record<'_>) -> BTreeMap<String, serde_json::Value> {
    let mut map = BTreeMap::new();
    if let Some(module) = record.module_path() {
        map.insert("module_path".to_owned(), module.into());
    }
    if let Some(file) = record.file() {
        map.insert("file".to_owned(), file.into());
    }
    if let Some(line) = record.line() {
        map.insert("line".to_owned(), line.into());
    }
    map
}

fn capture(record: &Record<'_>, message: &str, pairs: &Pairs<'_>) {
    let level = level(record.level());
    let error = pairs.error();
    let fill = |event: &mut Event| {
        event.level = level;
        event.logger = Some(record.target().to_owned());
        event.extra = pairs.to_map(error.map(|(i, _)| i));
        event.contexts.insert(
            "log".to_owned(),
            serde_json::Value::Object(location(record).into_iter().collect()),
        );
    };
    match error {
        Some((_, err)) => {
            let exceptions = || {
                let mut exceptions =
                    crate::chain::exceptions_from_error(err, "dyn core::error::Error");
                if let Some(mechanism) = exceptions.last_mut().and_then(|e| e.mechanism.as_mut()) {
                    mechanism.ty = "log".into();
                }
                exceptions
            };
            capture_exceptions(exceptions, |event| {
                fill(event);
                event.message = Some(crate::chain::truncate(
                    message.to_owned(),
                    crate::chain::MAX_VALUE_LEN,
                ));
            });
        }
        None => {
            capture_message(message, level, fill);
        }
    }
}

/// The record as a structured log: its message as the body, its key-values as typed attributes (an error as its
/// text), where it was logged, and `sentry.origin` `auto.log.log`.
fn structured_log(record: &Record<'_>, message: &str, pairs: &Pairs<'_>) {
    let level = match record.level() {
        LogLevel::Error => logs::LogLevel::Error,
        LogLevel::Warn => logs::LogLevel::Warn,
        LogLevel::Info => logs::LogLevel::Info,
        LogLevel::Debug => logs::LogLevel::Debug,
        LogLevel::Trace => logs::LogLevel::Trace,
    };
    let mut log = logs::Record::new(level, message.to_owned())
        .origin("auto.log.log")
        .attribute("logger.name", record.target().to_owned());
    if let Some(file) = record.file() {
        log = log.attribute("code.file.path", file.to_owned());
    }
    if let Some(line) = record.line() {
        log = log.attribute("code.line.number", line);
    }
    for (key, value) in &pairs.pairs {
        log = log.attribute(key.as_str().to_owned(), LogValue::from_json(&json(value)));
    }
    log.capture();
}

fn breadcrumb(record: &Record<'_>, message: String, pairs: &Pairs<'_>) -> Breadcrumb {
    let mut data = location(record);
    data.extend(pairs.to_map(None));
    Breadcrumb {
        category: Some(record.target().to_owned()),
        message: Some(message),
        level: level(record.level()),
        data,
        ..Breadcrumb::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_protocol_levels() {
        assert_eq!(level(LogLevel::Error), Level::Error);
        assert_eq!(level(LogLevel::Warn), Level::Warning);
        assert_eq!(level(LogLevel::Warn).as_str(), "warning");
        assert_eq!(level(LogLevel::Info), Level::Info);
        assert_eq!(level(LogLevel::Debug), Level::Debug);
        assert_eq!(level(LogLevel::Trace), Level::Debug);
    }

    #[test]
    fn key_values_become_json() {
        let err = std::io::Error::other("disk on fire");
        let kvs = [
            ("n", Value::from(7u64)),
            ("neg", Value::from(-3i64)),
            ("ok", Value::from(true)),
            ("name", Value::from("ada")),
            ("ratio", Value::from(0.5f64)),
            ("nan", Value::from(f64::NAN)),
            ("dbg", Value::from_debug(&[1, 2])),
            ("error", Value::from_dyn_error(&err)),
        ];
        let record = Record::builder()
            .args(format_args!("x"))
            .key_values(&kvs)
            .build();
        let pairs = Pairs::from_record(&record);
        let map = pairs.to_map(None);
        assert_eq!(map["n"], 7);
        assert_eq!(map["neg"], -3);
        assert_eq!(map["ok"], true);
        assert_eq!(map["name"], "ada");
        assert_eq!(map["ratio"], 0.5);
        assert_eq!(map["nan"], "NaN");
        assert_eq!(map["dbg"], "[1, 2]");
        assert_eq!(map["error"], "disk on fire");
        let (i, found) = pairs.error().unwrap();
        assert_eq!(i, 7);
        assert_eq!(found.to_string(), "disk on fire");
        assert!(!pairs.to_map(Some(i)).contains_key("error"));
    }

    #[test]
    fn noop_logger_is_a_no_op() {
        let logger = Logger::standalone();
        let record = Record::builder().args(format_args!("x")).build();
        logger.inner().log(&record);
        logger.flush();
        assert!(!logger.inner().enabled(record.metadata()));
    }
}
