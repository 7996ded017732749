//! [`tracing`](https://docs.rs/tracing): a `tracing-subscriber` layer that turns events into breadcrumbs and
//! events (feature `tracing`).
//!
//! Add [`layer()`] to your subscriber next to the layers you already have; it only observes, it never filters what
//! the other layers see:
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! let subscriber = tracing_subscriber::registry().with(faultline::integrations::tracing::layer());
//! # let events = faultline::test::with_captured_events(|| {
//! tracing::subscriber::with_default(subscriber, || {
//!     let _request = tracing::info_span!("request").entered();
//!     tracing::info!(user = 42, "loaded the profile");
//!     let err = "x".parse::<u16>().unwrap_err();
//!     tracing::error!(error = &err as &dyn std::error::Error, "cannot read the port");
//! });
//! # });
//! # assert_eq!(events[0].transaction.as_deref(), Some("request"));
//! # assert_eq!(events[0].exception[0].ty, "ParseIntError");
//! # assert_eq!(events[0].breadcrumbs[0].data["user"], 42);
//! ```
//!
//! (`tracing_subscriber::registry().with(layer()).init()` installs it for the whole process.)
//!
//! # Mapping
//!
//! - **Levels:** `ERROR` → `error`, `WARN` → `warning`, `INFO` → `info`, `DEBUG` and `TRACE` → `debug`.
//! - **Breadcrumbs** (events at [`Layer::breadcrumb_level`] or more severe, `INFO` by default): the `message` field
//!   as the message (the event's name when it has none), the level, the target as the category, and as data
//!   `module_path`, `file` and `line` followed by the other fields (a field of the same name wins).
//! - **Events** (at [`Layer::event_level`] or more severe, `ERROR` by default): the message and level, the target
//!   as `logger`, the other fields as extra, and a `tracing` context with `module_path`, `file`, `line` and `spans`,
//!   the names of the spans the event happened in, outermost first. The innermost span's name becomes the
//!   `transaction` unless the scope sets one. A field recorded as an error (`error = &err as &dyn Error`, which
//!   `tracing` passes to [`Visit::record_error`](tracing_core::field::Visit::record_error)) makes the event carry that error and its `source()` chain as
//!   exceptions, named as [`crate::capture_error`] names a `dyn Error`, with mechanism `tracing`. An event that
//!   becomes an event also becomes a breadcrumb, added after it.
//! - **Logs** (at [`Layer::log_level`] or more severe, `INFO` by default, when the SDK sends logs:
//!   [`ClientOptions::enable_logs`](crate::ClientOptions::enable_logs)): structured log records for Sentry Logs,
//!   with the message as the body, the fields as typed attributes, `logger.name`, `code.file.path`,
//!   `code.line.number` and `sentry.origin` `auto.log.tracing`; inside an entered span they carry its trace and
//!   span ids. Breadcrumbs, events and logs are independent: an event may become any mix of them.
//! - **Ignored targets:** `faultline`, `ureq`, `ureq_proto` and `rustls` (and whatever [`Layer::ignore_target`]
//!   adds). These crates log through `log`; they reach `tracing` only through a bridge such as `tracing-log`, and
//!   must not feed the SDK its own traffic.
//!
//! # Spans
//!
//! With [`Layer::spans`] on (the default), `tracing` spans become faultline spans. A span opened with no
//! transaction around it (no `tracing` parent that became one, and no current span in the scope) starts a
//! transaction; spans inside it become its children, with the parent links of the `tracing` tree. While a span is
//! entered it is the scope's current span, so events and errors captured inside it point at it, and
//! [`trace_headers`](crate::trace_headers) continue it. A span that closes is finished.
//!
//! - **Op:** the `sentry.op` field, else the span's name.
//! - **Name** (of a transaction) or **description** (of a span): the `sentry.name` field, else the span's name.
//! - **Trace:** a `sentry.trace` field on a span that starts a transaction continues that trace (a `sentry-trace`
//!   header value, such as an incoming request's).
//! - **Data:** every other field, as recorded at the start and later with `Span::record`.
//!
//! Whether a transaction is recorded and sent follows `traces_sample_rate`; without it, spans still give the
//! errors inside them a trace id per root span (a request, a job) and cost little.
//!
//! Events from `tracing-log`'s bridge carry their location in `log.module_path`, `log.file` and `log.line` fields;
//! the layer uses those as the location and leaves all `log.*` fields out of the data. Events emitted by a
//! `before_breadcrumb` or `before_send` callback, or on the SDK's worker thread, are not reported.

mod fields;
mod spans;

use std::borrow::Cow;
use std::collections::BTreeMap;

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level as TracingLevel, LevelFilter, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::{
    DEFAULT_IGNORED_TARGETS, capture_exceptions, capture_message, guarded, is_ignored_target,
};
use crate::protocol::{Breadcrumb, Event as ProtocolEvent, Level, LogValue};
use fields::Fields;

/// A layer with the default thresholds (breadcrumbs from `INFO`, events from `ERROR`) and ignore list.
pub fn layer() -> Layer {
    Layer::default()
}

/// A [`tracing_subscriber::Layer`] that reports tracing events to faultline; built by [`layer()`].
///
/// It needs a subscriber that stores spans ([`LookupSpan`]), such as `tracing_subscriber::registry()`, to name
/// the spans an event happened in.
#[derive(Clone, Debug)]
pub struct Layer {
    breadcrumbs: LevelFilter,
    events: LevelFilter,
    logs: LevelFilter,
    ignored: Vec<Cow<'static, str>>,
    spans: bool,
}

impl Default for Layer {
    fn default() -> Self {
        Layer {
            breadcrumbs: LevelFilter::INFO,
            events: LevelFilter::ERROR,
            logs: LevelFilter::INFO,
            ignored: DEFAULT_IGNORED_TARGETS
                .iter()
                .map(|t| Cow::Borrowed(*t))
                .collect(),
            spans: true,
        }
    }
}

impl Layer {
    /// Events at `level` or more severe become breadcrumbs; `LevelFilter::OFF` turns breadcrumbs off. Takes a
    /// `tracing::Level` too.
    ///
    /// Defaults to `INFO`.
    #[must_use]
    pub fn breadcrumb_level(mut self, level: impl Into<LevelFilter>) -> Self {
        self.breadcrumbs = level.into();
        self
    }

    /// Events at `level` or more severe become events; `LevelFilter::OFF` turns events off. Takes a
    /// `tracing::Level` too.
    ///
    /// Defaults to `ERROR`.
    #[must_use]
    pub fn event_level(mut self, level: impl Into<LevelFilter>) -> Self {
        self.events = level.into();
        self
    }

    /// Events at `level` or more severe become structured log records (Sentry Logs), when the SDK sends logs
    /// ([`ClientOptions::enable_logs`](crate::ClientOptions::enable_logs)); `LevelFilter::OFF` turns them off. Any
    /// mix of breadcrumb, event and log is allowed. Takes a `tracing::Level` too.
    ///
    /// Defaults to `INFO`.
    #[must_use]
    pub fn log_level(mut self, level: impl Into<LevelFilter>) -> Self {
        self.logs = level.into();
        self
    }

    /// Whether `tracing` spans become faultline spans and transactions (see [Spans](self#spans)). Turn it off when
    /// spans are entered so often that setting the scope's current span at each enter would cost too much.
    ///
    /// Defaults to on.
    #[must_use]
    pub fn spans(mut self, on: bool) -> Self {
        self.spans = on;
        self
    }

    /// Never reports events whose target is `target` or lies under it (`hyper` also matches `hyper::proto`).
    ///
    /// Defaults to `faultline`, `ureq`, `ureq_proto` and `rustls`; this adds to that list.
    #[must_use]
    pub fn ignore_target(mut self, target: impl Into<Cow<'static, str>>) -> Self {
        self.ignored.push(target.into());
        self
    }
}

impl Layer {
    /// Whether this span is one to follow: spans are on, the SDK is enabled and the target is not ignored.
    fn follows(&self, target: &str) -> bool {
        self.spans && crate::is_enabled() && !is_ignored_target(target, &self.ignored)
    }
}

impl<S> tracing_subscriber::Layer<S> for Layer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if self.follows(attrs.metadata().target()) {
            guarded(|| spans::on_new_span(attrs, id, &ctx));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if self.spans {
            guarded(|| spans::on_record(id, values, &ctx));
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if self.spans {
            guarded(|| spans::on_enter(id, &ctx));
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if self.spans {
            guarded(|| spans::on_exit(id, &ctx));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if self.spans {
            guarded(|| spans::on_close(&id, &ctx));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let level = *metadata.level();
        let as_event = level <= self.events;
        let as_breadcrumb = level <= self.breadcrumbs;
        let maybe_log = level <= self.logs;
        // Cheapest checks first: a level comparison, then one atomic load when the SDK is disabled.
        if !(as_event || as_breadcrumb || maybe_log)
            || !crate::is_enabled()
            || is_ignored_target(metadata.target(), &self.ignored)
        {
            return;
        }
        let as_log = maybe_log && crate::logs::enabled();
        if !(as_event || as_breadcrumb || as_log) {
            return;
        }
        guarded(|| {
            let mut fields = Fields::new(as_event);
            event.record(&mut fields);
            let message = fields
                .message
                .take()
                .unwrap_or_else(|| metadata.name().to_owned());
            let mut location = BTreeMap::new();
            if let Some(module) = metadata.module_path().or(fields.log_module.as_deref()) {
                location.insert("module_path".to_owned(), module.into());
            }
            if let Some(file) = metadata.file().or(fields.log_file.as_deref()) {
                location.insert("file".to_owned(), file.into());
            }
            if let Some(line) = metadata.line().map(u64::from).or(fields.log_line) {
                location.insert("line".to_owned(), line.into());
            }
            if as_log {
                structured_log(level, metadata.target(), &message, &fields, &location);
            }
            if as_event {
                let spans: Vec<&'static str> = ctx
                    .event_scope(event)
                    .map(|scope| scope.from_root().map(|span| span.name()).collect())
                    .unwrap_or_default();
                capture(
                    level,
                    metadata.target(),
                    &message,
                    &mut fields,
                    location.clone(),
                    &spans,
                );
            }
            if as_breadcrumb {
                crate::add_breadcrumb(|| {
                    let mut data = location;
                    data.extend(fields.data);
                    Breadcrumb {
                        category: Some(metadata.target().to_owned()),
                        message: Some(message),
                        level: self::level(level),
                        data,
                        ..Breadcrumb::default()
                    }
                });
            }
        });
    }
}

/// The event as a structured log: its message as the body, its fields as typed attributes, where it was emitted,
/// and `sentry.origin` `auto.log.tracing`. The current span (the entered `tracing` span, with spans on) gives the
/// trace and span ids.
fn structured_log(
    level: TracingLevel,
    target: &str,
    message: &str,
    fields: &Fields,
    location: &BTreeMap<String, serde_json::Value>,
) {
    use crate::logs::{LogLevel, Record};
    let level = match level {
        TracingLevel::ERROR => LogLevel::Error,
        TracingLevel::WARN => LogLevel::Warn,
        TracingLevel::INFO => LogLevel::Info,
        TracingLevel::DEBUG => LogLevel::Debug,
        _ => LogLevel::Trace,
    };
    let mut record = Record::new(level, message.to_owned())
        .origin("auto.log.tracing")
        .attribute("logger.name", target.to_owned());
    if let Some(file) = location.get("file") {
        record = record.attribute("code.file.path", LogValue::from_json(file));
    }
    if let Some(line) = location.get("line") {
        record = record.attribute("code.line.number", LogValue::from_json(line));
    }
    for (key, value) in &fields.data {
        record = record.attribute(key.clone(), LogValue::from_json(value));
    }
    record.capture();
}

/// The protocol level for a `tracing` level.
pub(crate) fn level(level: TracingLevel) -> Level {
    match level {
        TracingLevel::ERROR => Level::Error,
        TracingLevel::WARN => Level::Warning,
        TracingLevel::INFO => Level::Info,
        _ => Level::Debug,
    }
}

fn capture(
    level: TracingLevel,
    target: &str,
    message: &str,
    fields: &mut Fields,
    location: BTreeMap<String, serde_json::Value>,
    spans: &[&'static str],
) {
    let level = self::level(level);
    let mut extra = fields.data.clone();
    if let Some(name) = fields.error_field {
        extra.remove(name);
    }
    let fill = |event: &mut ProtocolEvent| {
        event.level = level;
        event.logger = Some(target.to_owned());
        event.extra = extra;
        let mut context: serde_json::Map<String, serde_json::Value> =
            location.into_iter().collect();
        context.insert("spans".to_owned(), spans.into());
        event
            .contexts
            .insert("tracing".to_owned(), serde_json::Value::Object(context));
        if let Some(innermost) = spans.last() {
            if crate::current_scope().0.transaction().is_none() {
                event.transaction = Some((*innermost).to_owned());
            }
        }
    };
    if fields.exceptions.is_empty() {
        capture_message(message, level, fill);
    } else {
        let exceptions = std::mem::take(&mut fields.exceptions);
        capture_exceptions(
            || exceptions,
            |event| {
                fill(event);
                event.message = Some(crate::chain::truncate(
                    message.to_owned(),
                    crate::chain::MAX_VALUE_LEN,
                ));
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_protocol_levels() {
        assert_eq!(level(TracingLevel::ERROR), Level::Error);
        assert_eq!(level(TracingLevel::WARN).as_str(), "warning");
        assert_eq!(level(TracingLevel::INFO), Level::Info);
        assert_eq!(level(TracingLevel::DEBUG), Level::Debug);
        assert_eq!(level(TracingLevel::TRACE), Level::Debug);
    }

    #[test]
    fn thresholds_compare_like_tracing_filters() {
        let layer = layer().breadcrumb_level(TracingLevel::WARN);
        assert!(TracingLevel::ERROR <= layer.breadcrumbs);
        assert!(TracingLevel::WARN <= layer.breadcrumbs);
        assert!(TracingLevel::INFO > layer.breadcrumbs);
        let off = layer.event_level(LevelFilter::OFF);
        assert!(TracingLevel::ERROR > off.events);
    }
}
