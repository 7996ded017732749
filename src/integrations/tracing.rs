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
//!   `tracing` passes to [`Visit::record_error`]) makes the event carry that error and its `source()` chain as
//!   exceptions, named as [`crate::capture_error`] names a `dyn Error`, with mechanism `tracing`. An event that
//!   becomes an event also becomes a breadcrumb, added after it.
//! - **Ignored targets:** `faultline`, `ureq`, `ureq_proto` and `rustls` (and whatever [`Layer::ignore_target`]
//!   adds). These crates log through `log`; they reach `tracing` only through a bridge such as `tracing-log`, and
//!   must not feed the SDK its own traffic.
//!
//! Events from `tracing-log`'s bridge carry their location in `log.module_path`, `log.file` and `log.line` fields;
//! the layer uses those as the location and leaves all `log.*` fields out of the data. Events emitted by a
//! `before_breadcrumb` or `before_send` callback, or on the SDK's worker thread, are not reported.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::error::Error;
use std::fmt;

use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Level as TracingLevel, LevelFilter, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::{
    DEFAULT_IGNORED_TARGETS, capture_exceptions, capture_message, guarded, is_ignored_target,
    text_value,
};
use crate::protocol::{Breadcrumb, Event as ProtocolEvent, Exception, Level};

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
    ignored: Vec<Cow<'static, str>>,
}

impl Default for Layer {
    fn default() -> Self {
        Layer {
            breadcrumbs: LevelFilter::INFO,
            events: LevelFilter::ERROR,
            ignored: DEFAULT_IGNORED_TARGETS
                .iter()
                .map(|t| Cow::Borrowed(*t))
                .collect(),
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

    /// Never reports events whose target is `target` or lies under it (`hyper` also matches `hyper::proto`).
    ///
    /// Defaults to `faultline`, `ureq`, `ureq_proto` and `rustls`; this adds to that list.
    #[must_use]
    pub fn ignore_target(mut self, target: impl Into<Cow<'static, str>>) -> Self {
        self.ignored.push(target.into());
        self
    }
}

impl<S> tracing_subscriber::Layer<S> for Layer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let level = *metadata.level();
        let as_event = level <= self.events;
        let as_breadcrumb = level <= self.breadcrumbs;
        // Cheapest checks first: a level comparison, then one atomic load when the SDK is disabled.
        if !(as_event || as_breadcrumb)
            || !crate::is_enabled()
            || is_ignored_target(metadata.target(), &self.ignored)
        {
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

/// What an event's fields say.
struct Fields {
    /// Whether an error field becomes exceptions (only for events, not for breadcrumbs).
    want_exceptions: bool,
    /// The `message` field.
    message: Option<String>,
    /// The first field recorded as an error, as exceptions (root cause first), and its name.
    exceptions: Vec<Exception>,
    error_field: Option<&'static str>,
    /// Every other field (the error field too, as its text).
    data: BTreeMap<String, serde_json::Value>,
    /// The location `tracing-log` passes in fields.
    log_module: Option<String>,
    log_file: Option<String>,
    log_line: Option<u64>,
}

impl Fields {
    fn new(want_exceptions: bool) -> Self {
        Fields {
            want_exceptions,
            message: None,
            exceptions: Vec::new(),
            error_field: None,
            data: BTreeMap::new(),
            log_module: None,
            log_file: None,
            log_line: None,
        }
    }

    fn insert(&mut self, field: &Field, value: serde_json::Value) {
        let name = field.name();
        if name.starts_with("log.") {
            return;
        }
        self.data.insert(name.to_owned(), value);
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = Some(text);
        } else {
            self.insert(field, text_value(text));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = Some(value.to_owned()),
            "log.module_path" => self.log_module = Some(value.to_owned()),
            "log.file" => self.log_file = Some(value.to_owned()),
            _ => self.insert(field, text_value(value.to_owned())),
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "log.line" {
            self.log_line = Some(value);
        } else {
            self.insert(field, value.into());
        }
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        let json = i64::try_from(value).map_or_else(|_| value.to_string().into(), Into::into);
        self.insert(field, json);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        let json = u64::try_from(value).map_or_else(|_| value.to_string().into(), Into::into);
        self.insert(field, json);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // NaN and infinities have no JSON number: keep their text.
        let json = serde_json::Number::from_f64(value)
            .map_or_else(|| value.to_string().into(), serde_json::Value::Number);
        self.insert(field, json);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        // The error must be read now: `tracing` lends it for this call only.
        if self.want_exceptions && self.error_field.is_none() {
            self.exceptions = crate::chain::exceptions_from_error(value, "dyn core::error::Error");
            if let Some(mechanism) = self
                .exceptions
                .last_mut()
                .and_then(|e| e.mechanism.as_mut())
            {
                mechanism.ty = "tracing".into();
            }
            self.error_field = Some(field.name());
        }
        self.insert(field, text_value(value.to_string()));
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
