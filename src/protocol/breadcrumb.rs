//! Breadcrumbs: the trail of events that led up to an error.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::level::Level;
use super::time::Timestamp;

/// One entry of the trail that led up to an event: a log line, an HTTP call, a state change.
///
/// ```
/// use faultline::{Breadcrumb, Level};
///
/// let crumb = Breadcrumb::new("config", "loaded settings.toml").level(Level::Info);
/// assert_eq!(crumb.category.as_deref(), Some("config"));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Breadcrumb {
    /// When it happened. Defaults to now.
    pub timestamp: Timestamp,
    /// The kind of breadcrumb (`default`, `http`, `error`, `debug`, `query`, `navigation`, …). Defaults to `default`.
    #[serde(rename = "type")]
    pub ty: Cow<'static, str>,
    /// A dotted category such as `log` or `http.client`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// A human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The severity. Defaults to [`Level::Info`].
    pub level: Level,
    /// Structured data.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, serde_json::Value>,
}

impl Default for Breadcrumb {
    fn default() -> Self {
        Breadcrumb {
            timestamp: Timestamp::now(),
            // Borrowed: the common case costs no allocation.
            ty: Cow::Borrowed("default"),
            category: None,
            message: None,
            level: Level::Info,
            data: BTreeMap::new(),
        }
    }
}

impl Breadcrumb {
    /// A breadcrumb with a category and a message, timestamped now.
    pub fn new(category: impl Into<String>, message: impl Into<String>) -> Self {
        Breadcrumb {
            category: Some(category.into()),
            message: Some(message.into()),
            ..Breadcrumb::default()
        }
    }

    /// Sets the level.
    #[must_use]
    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// Sets the breadcrumb type (`default`, `http`, `error`, …).
    #[must_use]
    pub fn ty(mut self, ty: impl Into<Cow<'static, str>>) -> Self {
        self.ty = ty.into();
        self
    }

    /// Adds one data entry.
    #[must_use]
    pub fn data(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.data.insert(key.into(), value.into());
        self
    }
}
