//! `Scrubber`: what is scrubbed in an event, by which of the two scrubbers, as the options say.

use crate::diagnostics::sdk_debug;
use crate::options::ClientOptions;
use crate::protocol::{Event, Log, LogValue, TransactionEvent};

use super::keys::KeyDenylist;
use super::patterns::UserPattern;
use super::values::ValueScrubber;

/// The key denylist and the value scrubber of one client.
#[derive(Clone, Debug)]
pub(crate) struct Scrubber {
    keys: KeyDenylist,
    values: ValueScrubber,
}

impl Scrubber {
    /// The scrubber `options` ask for, or `None` with `send_default_pii` (which turns all scrubbing off).
    ///
    /// [`crate::try_init`] refuses patterns that do not compile; a client started another way (the `test`
    /// helpers) leaves such a pattern out and says so with `debug`.
    pub(crate) fn new(options: &ClientOptions) -> Option<Scrubber> {
        if options.send_default_pii {
            return None;
        }
        let patterns = options
            .scrub_patterns
            .iter()
            .enumerate()
            .filter_map(|(i, pattern)| match UserPattern::new(pattern) {
                Ok(pattern) => Some(pattern),
                Err(e) => {
                    // The index, not the pattern: diagnostics print no data, and a pattern may spell one out.
                    sdk_debug!("scrub pattern {i} is left out: {}", e.reason());
                    None
                }
            })
            .collect();
        Some(Scrubber {
            keys: KeyDenylist::new(&options.scrub_keys),
            values: ValueScrubber::new(options.scrub_values, patterns),
        })
    }

    /// Prepares what the first event would otherwise wait for (compiling the built-in rules).
    pub(crate) fn warm_up(&self) {
        self.values.warm_up();
    }

    /// Scrubs `event` in place: values under sensitive keys (extra, contexts, user data, breadcrumb data, tags,
    /// request headers), then secrets in its free text (the message, exception values, breadcrumb messages, the
    /// request's query string).
    pub(crate) fn scrub_event(&self, event: &mut Event) {
        self.keys.scrub_event(event);
        if !self.values.is_active() {
            return;
        }
        let values = &self.values;
        if let Some(message) = &mut event.message {
            values.scrub(message);
        }
        for exception in &mut event.exception {
            if let Some(value) = &mut exception.value {
                values.scrub(value);
            }
        }
        for crumb in &mut event.breadcrumbs {
            if let Some(message) = &mut crumb.message {
                values.scrub(message);
            }
        }
        if let Some(query) = event.request.as_mut().and_then(|r| r.query_string.as_mut()) {
            values.scrub(query);
        }
    }

    /// Scrubs a log record in place: attributes under sensitive keys, then secrets in its body and its text
    /// attributes (the message parameters among them).
    pub(crate) fn scrub_log(&self, log: &mut Log) {
        self.scrub_attributes(&mut log.attributes);
        if self.values.is_active() {
            self.values.scrub(&mut log.body);
        }
    }

    /// Scrubs typed attributes (a metric's) in place: values under sensitive keys, then secrets in text values.
    pub(crate) fn scrub_attributes(
        &self,
        attributes: &mut std::collections::BTreeMap<String, LogValue>,
    ) {
        self.keys.scrub_attributes(attributes);
        if !self.values.is_active() {
            return;
        }
        for value in attributes.values_mut() {
            if let LogValue::String(text) = value {
                self.values.scrub(text.to_mut());
            }
        }
    }

    /// Scrubs a transaction in place: values under sensitive keys (extra, contexts, user data, tags, and each
    /// span's tags and data), then secrets in its spans' descriptions (a query or a URL may hold one).
    pub(crate) fn scrub_transaction(&self, transaction: &mut TransactionEvent) {
        self.keys.scrub_transaction(transaction);
        if !self.values.is_active() {
            return;
        }
        for span in &mut transaction.spans {
            if let Some(description) = &mut span.description {
                self.values.scrub(description);
            }
        }
        if let Some(query) = transaction
            .request
            .as_mut()
            .and_then(|r| r.query_string.as_mut())
        {
            self.values.scrub(query);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Breadcrumb, Exception};

    fn event() -> Event {
        let mut event = Event::new();
        event.message = Some("password=hunter4 Authorization: Bearer xyz".into());
        event.exception.push(Exception {
            ty: "ConnectError".into(),
            value: Some("cannot reach postgres://app:hunter2@db/app".into()),
            ..Exception::default()
        });
        event
            .breadcrumbs
            .push(Breadcrumb::new("http", "GET /cb?access_token=abc123"));
        event
            .extra
            .insert("api_key".into(), serde_json::json!("k-123"));
        event
    }

    #[test]
    fn message_exception_values_and_breadcrumb_messages_are_scrubbed() {
        let scrubber = Scrubber::new(&ClientOptions::new()).unwrap();
        let mut event = event();
        scrubber.scrub_event(&mut event);
        assert_eq!(
            event.message.as_deref(),
            Some("password=[Filtered] Authorization: [Filtered]")
        );
        assert_eq!(
            event.exception[0].value.as_deref(),
            Some("cannot reach postgres://app:[Filtered]@db/app")
        );
        assert_eq!(
            event.breadcrumbs[0].message.as_deref(),
            Some("GET /cb?access_token=[Filtered]")
        );
        assert_eq!(event.extra["api_key"], "[Filtered]");
    }

    #[test]
    fn scrub_values_off_keeps_text_and_still_scrubs_keys_and_patterns() {
        let options = ClientOptions::new()
            .scrub_values(false)
            .scrub_pattern("hunter[0-9]");
        let scrubber = Scrubber::new(&options).unwrap();
        let mut event = event();
        scrubber.scrub_event(&mut event);
        assert_eq!(
            event.message.as_deref(),
            Some("password=[Filtered] Authorization: Bearer xyz")
        );
        assert_eq!(
            event.breadcrumbs[0].message.as_deref(),
            Some("GET /cb?access_token=abc123")
        );
        assert_eq!(event.extra["api_key"], "[Filtered]");
    }

    #[test]
    fn send_default_pii_turns_all_scrubbing_off() {
        let options = ClientOptions::new()
            .send_default_pii(true)
            .scrub_pattern("hunter[0-9]");
        assert!(Scrubber::new(&options).is_none());
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_left_out_here() {
        let options = ClientOptions::new()
            .scrub_pattern("(")
            .scrub_pattern("hunter[0-9]");
        let scrubber = Scrubber::new(&options).unwrap();
        let mut event = Event::new();
        event.message = Some("cannot log in: hunter4 (".into());
        scrubber.scrub_event(&mut event);
        assert_eq!(
            event.message.as_deref(),
            Some("cannot log in: [Filtered] (")
        );
    }
}
