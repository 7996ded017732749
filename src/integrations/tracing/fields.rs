//! `Fields`: what the fields of a `tracing` event or span say, read with a [`Visit`] implementation.

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt;

use tracing_core::field::{Field, Visit};

use crate::integrations::text_value;
use crate::protocol::Exception;

/// What an event's fields say.
pub(super) struct Fields {
    /// Whether an error field becomes exceptions (only for events, not for breadcrumbs).
    pub(super) want_exceptions: bool,
    /// The `message` field.
    pub(super) message: Option<String>,
    /// The first field recorded as an error, as exceptions (root cause first), and its name.
    pub(super) exceptions: Vec<Exception>,
    pub(super) error_field: Option<&'static str>,
    /// Every other field (the error field too, as its text).
    pub(super) data: BTreeMap<String, serde_json::Value>,
    /// The location `tracing-log` passes in fields.
    pub(super) log_module: Option<String>,
    pub(super) log_file: Option<String>,
    pub(super) log_line: Option<u64>,
}

impl Fields {
    pub(super) fn new(want_exceptions: bool) -> Self {
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
