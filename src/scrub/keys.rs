//! The key denylist: values whose key looks sensitive are replaced, whatever they hold.
//!
//! Every value in `extra`, `contexts`, the user's `data`, breadcrumb `data` and
//! `tags` whose key contains a denylisted word (case-insensitive, `-` and `_` treated alike) is replaced by
//! `[Filtered]`, at any depth of nested objects. Matching by substring errs on the side of privacy: `db_password`
//! and `X-Auth-Token` are caught as well as `password` and `token`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::FILTERED;
use crate::protocol::event::SharedFields;
use crate::protocol::{Event, LogValue, TransactionEvent};

/// The default denylist; [`crate::ClientOptions::scrub_key`] adds to it.
pub(crate) const DEFAULT_DENYLIST: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "auth",
    "credential",
    "cookie",
    "session",
    "private_key",
    "privatekey",
    "csrf",
    "xsrf",
    "ssn",
    "credit_card",
    "card_number",
];

/// The denylisted words, normalised.
#[derive(Clone, Debug)]
pub(crate) struct KeyDenylist {
    words: Vec<String>,
}

impl KeyDenylist {
    /// The default denylist plus `extra` words.
    pub(crate) fn new(extra: &[String]) -> Self {
        let words = DEFAULT_DENYLIST
            .iter()
            .map(|w| (*w).to_owned())
            .chain(extra.iter().map(|w| normalize(w)))
            .filter(|w| !w.is_empty())
            .collect();
        KeyDenylist { words }
    }

    /// Whether a key names sensitive data.
    pub(crate) fn is_sensitive(&self, key: &str) -> bool {
        let key = normalize(key);
        self.words.iter().any(|w| key.contains(w.as_str()))
    }

    /// Replaces the values under sensitive keys in the event's keyed data (request headers included), in place.
    pub(crate) fn scrub_event(&self, event: &mut Event) {
        self.scrub_shared(event.shared_fields());
        for crumb in &mut event.breadcrumbs {
            self.scrub_entries(crumb.data.iter_mut());
        }
    }

    /// Replaces the values under sensitive keys in a transaction's keyed data (its extra data, contexts, user data,
    /// tags, request headers, and each span's tags and data), in place.
    pub(crate) fn scrub_transaction(&self, transaction: &mut TransactionEvent) {
        self.scrub_shared(transaction.shared_fields());
        for span in &mut transaction.spans {
            self.scrub_tags(&mut span.tags);
            self.scrub_entries(span.data.iter_mut());
        }
    }

    /// Replaces the values of typed attributes (a log record's, a metric's) under sensitive keys with text.
    pub(crate) fn scrub_attributes(&self, attributes: &mut BTreeMap<String, LogValue>) {
        for (key, value) in attributes {
            if self.is_sensitive(key) {
                *value = LogValue::String(FILTERED.into());
            }
        }
    }

    /// What events and transactions share: extra data, contexts, user data, tags and request headers.
    fn scrub_shared(&self, fields: SharedFields<'_>) {
        self.scrub_entries(fields.extra.iter_mut());
        for context in fields.contexts.values_mut() {
            self.scrub_value(context);
        }
        if let Some(user) = fields.user {
            self.scrub_entries(user.data.iter_mut());
        }
        self.scrub_tags(fields.tags);
        if let Some(request) = fields.request {
            self.scrub_tags(&mut request.headers);
        }
    }

    fn scrub_tags(&self, tags: &mut BTreeMap<String, String>) {
        for (key, value) in tags {
            if self.is_sensitive(key) {
                *value = FILTERED.to_owned();
            }
        }
    }

    /// Filters the values of the sensitive keys among `entries` and looks inside the others.
    fn scrub_entries<'a>(&self, entries: impl Iterator<Item = (&'a String, &'a mut Value)>) {
        for (key, value) in entries {
            if self.is_sensitive(key) {
                *value = Value::String(FILTERED.to_owned());
            } else {
                self.scrub_value(value);
            }
        }
    }

    fn scrub_value(&self, value: &mut Value) {
        match value {
            Value::Object(map) => self.scrub_entries(map.iter_mut()),
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_value(v)),
            _ => {}
        }
    }
}

fn normalize(key: &str) -> String {
    key.trim().to_ascii_lowercase().replace('-', "_")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::protocol::{Breadcrumb, User};

    #[test]
    fn sensitive_keys() {
        let s = KeyDenylist::new(&["internal-id".to_owned()]);
        for key in [
            "password",
            "DB_PASSWORD",
            "X-Auth-Token",
            "api_key",
            "apiKey",
            "Cookie",
            "session_id",
        ] {
            assert!(s.is_sensitive(key), "{key}");
        }
        assert!(
            s.is_sensitive("internal_id"),
            "extra words are normalised too"
        );
        for key in ["user_name", "count", "path", "region"] {
            assert!(!s.is_sensitive(key), "{key}");
        }
    }

    #[test]
    fn every_listed_place_is_scrubbed_at_any_depth() {
        let s = KeyDenylist::new(&[]);
        let mut event = Event::new();
        event.extra.insert("password".into(), json!("hunter2"));
        event.extra.insert(
            "request".into(),
            json!({"headers": {"Authorization": "Bearer x"}, "path": "/a"}),
        );
        event
            .extra
            .insert("list".into(), json!([{"token": "t"}, 1]));
        event.contexts.insert(
            "db".into(),
            json!({"type": "db", "secret": "s", "host": "h"}),
        );
        event.user = Some(User {
            id: Some("42".into()),
            data: [("api_key".to_owned(), json!("k"))].into(),
            ..User::default()
        });
        event.breadcrumbs.push(
            Breadcrumb::new("http", "GET /")
                .data("cookie", "c=1")
                .data("status", 200),
        );
        event.tags.insert("session".into(), "abc".into());
        event.tags.insert("region".into(), "eu".into());
        s.scrub_event(&mut event);
        assert_eq!(event.extra["password"], FILTERED);
        assert_eq!(event.extra["request"]["headers"]["Authorization"], FILTERED);
        assert_eq!(event.extra["request"]["path"], "/a");
        assert_eq!(event.extra["list"][0]["token"], FILTERED);
        assert_eq!(event.contexts["db"]["secret"], FILTERED);
        assert_eq!(event.contexts["db"]["host"], "h");
        let user = event.user.unwrap();
        assert_eq!(user.data["api_key"], FILTERED);
        assert_eq!(user.id.as_deref(), Some("42"));
        assert_eq!(event.breadcrumbs[0].data["cookie"], FILTERED);
        assert_eq!(event.breadcrumbs[0].data["status"], 200);
        assert_eq!(event.tags["session"], FILTERED);
        assert_eq!(event.tags["region"], "eu");
    }
}
