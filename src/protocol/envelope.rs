//! Envelopes: the newline-delimited container that carries events and client reports to the server.
//!
//! # Format
//!
//! An envelope is UTF-8 JSON lines separated by `\n` (never `\r\n`, never blank lines):
//!
//! ```text
//! {"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","sent_at":"2026-11-25T13:40:00.123456Z","sdk":{"name":"faultline","version":"0.1.0"}}
//! {"type":"event","length":41}
//! {"event_id":"9ec79c33ec9942ab8353589fcb2e04dc",…}
//! ```
//!
//! The first line holds the envelope headers. Each item is an item-header line (`type`, and `length`: the payload's
//! size in bytes) followed by the payload and a `\n`. faultline always writes `length`, so a payload may itself
//! contain newlines; when reading, an item without `length` runs to the next `\n`. The same bytes are what the HTTP
//! transport posts, what the offline spool stores and what the JSON-lines sink derives its records from.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};
use std::time::SystemTime;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use super::attachment::{Attachment, AttachmentType};
use super::check_in::CheckIn;
use super::event::{ClientSdkInfo, Event, EventId};
use super::item_kind::ItemKind;
use super::log::{LOG_CONTENT_TYPE, LogContainer};
use super::metric::{MetricContainer, TRACE_METRIC_CONTENT_TYPE};
use super::propagation::DynamicSamplingContext;
use super::session::{SessionAggregates, SessionUpdate};
use super::time::{Rfc3339, Timestamp};
use super::transaction::TransactionEvent;

/// A container of items sent in one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Envelope {
    /// The id of the event item, if there is one.
    pub event_id: Option<EventId>,
    /// The SDK that built the envelope.
    pub sdk: Option<ClientSdkInfo>,
    /// The dynamic sampling context of the trace its transaction (or event) belongs to: the `trace` header.
    pub trace: Option<DynamicSamplingContext>,
    /// The items, in order.
    pub items: Vec<EnvelopeItem>,
}

/// One item of an [`Envelope`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum EnvelopeItem {
    /// An error, panic or message event. At most one per envelope.
    Event(Box<Event>),
    /// A transaction with its spans. At most one per envelope, never beside an event.
    Transaction(Box<TransactionEvent>),
    /// Counts of events the SDK discarded, by reason and category.
    ClientReport(ClientReport),
    /// One release-health session's current state. May ride with an event.
    Session(Box<SessionUpdate>),
    /// Counts of sessions that ended, per minute (request mode).
    Sessions(SessionAggregates),
    /// A container of at most 100 log records; its header names how many (`item_count`).
    Logs(LogContainer),
    /// A container of at most 100 metric measurements (`trace_metric`); its header names how many.
    Metrics(MetricContainer),
    /// One run of a monitored job starting or ending (`check_in`). Alone in its envelope.
    CheckIn(Box<CheckIn>),
    /// User feedback: an event whose `contexts.feedback` holds it, written with `"type": "feedback"`.
    Feedback(Box<Event>),
    /// A file sent with the envelope's event: its bytes, with its name, content type and kind in the item header.
    Attachment(Attachment),
    /// Any other item type, kept as raw payload bytes.
    Raw {
        /// The item type, e.g. `attachment`.
        ty: String,
        /// The payload.
        payload: Vec<u8>,
    },
}

impl EnvelopeItem {
    /// The event this item carries: the event itself, or, for an `event` item kept as raw bytes (as envelopes
    /// replayed from the spool are), the event parsed from them. `None` for other items and for bytes that do not
    /// parse.
    ///
    /// ```
    /// use faultline::protocol::{Envelope, EnvelopeItem, Event};
    ///
    /// let mut event = Event::default();
    /// event.message = Some("disk almost full".into());
    /// let raw = EnvelopeItem::Raw { ty: "event".into(), payload: serde_json::to_vec(&event).unwrap() };
    /// assert_eq!(raw.to_event().unwrap().message.as_deref(), Some("disk almost full"));
    /// assert!(EnvelopeItem::Raw { ty: "attachment".into(), payload: vec![] }.to_event().is_none());
    /// ```
    pub fn to_event(&self) -> Option<Cow<'_, Event>> {
        match self {
            EnvelopeItem::Event(event) => Some(Cow::Borrowed(event)),
            EnvelopeItem::Raw { ty, payload } if ty == "event" => {
                serde_json::from_slice(payload).ok().map(Cow::Owned)
            }
            _ => None,
        }
    }

    /// The item's kind, or `None` for a raw item of a type the SDK does not send.
    pub(crate) fn kind(&self) -> Option<ItemKind> {
        match self {
            EnvelopeItem::Event(_) => Some(ItemKind::Event),
            EnvelopeItem::Transaction(_) => Some(ItemKind::Transaction),
            EnvelopeItem::ClientReport(_) => Some(ItemKind::ClientReport),
            EnvelopeItem::Session(_) => Some(ItemKind::Session),
            EnvelopeItem::Sessions(_) => Some(ItemKind::Sessions),
            EnvelopeItem::Logs(_) => Some(ItemKind::Log),
            EnvelopeItem::Metrics(_) => Some(ItemKind::TraceMetric),
            EnvelopeItem::CheckIn(_) => Some(ItemKind::CheckIn),
            EnvelopeItem::Feedback(_) => Some(ItemKind::Feedback),
            EnvelopeItem::Attachment(_) => Some(ItemKind::Attachment),
            EnvelopeItem::Raw { ty, .. } => ItemKind::from_item_type(ty),
        }
    }

    /// The item's `type` header.
    pub fn ty(&self) -> &str {
        match self {
            EnvelopeItem::Event(_) => "event",
            EnvelopeItem::Transaction(_) => "transaction",
            EnvelopeItem::ClientReport(_) => "client_report",
            EnvelopeItem::Session(_) => "session",
            EnvelopeItem::Sessions(_) => "sessions",
            EnvelopeItem::Logs(_) => "log",
            EnvelopeItem::Metrics(_) => "trace_metric",
            EnvelopeItem::CheckIn(_) => "check_in",
            EnvelopeItem::Feedback(_) => "feedback",
            EnvelopeItem::Attachment(_) => "attachment",
            EnvelopeItem::Raw { ty, .. } => ty,
        }
    }
}

/// A feedback event as written: the event with `"type": "feedback"`.
#[derive(Serialize)]
struct FeedbackPayload<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(flatten)]
    event: &'a Event,
}

/// A `client_report` payload: what the SDK discarded since the last report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientReport {
    /// When the report was made.
    pub timestamp: Option<Timestamp>,
    /// The discarded counts.
    pub discarded_events: Vec<DiscardedEvent>,
}

/// One count in a [`ClientReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscardedEvent {
    /// Why: `queue_overflow`, `sample_rate`, `before_send`, `network_error`, `send_error`, …
    pub reason: String,
    /// The data category: `error`, `default`, …
    pub category: String,
    /// How many.
    pub quantity: u64,
}

impl Envelope {
    /// An envelope holding one event.
    pub fn from_event(event: Event) -> Self {
        Envelope {
            event_id: Some(event.event_id),
            sdk: event.sdk.clone(),
            trace: None,
            items: vec![EnvelopeItem::Event(Box::new(event))],
        }
    }

    /// The event item, if there is one and it is parsed; see [`Envelope::to_event`] for one that may be raw bytes,
    /// as in an envelope replayed from the spool.
    pub fn event(&self) -> Option<&Event> {
        self.items.iter().find_map(|item| match item {
            EnvelopeItem::Event(event) => Some(&**event),
            _ => None,
        })
    }

    /// The event this envelope carries, parsed from its bytes if it is kept raw (see [`EnvelopeItem::to_event`]).
    pub fn to_event(&self) -> Option<Cow<'_, Event>> {
        self.items.iter().find_map(EnvelopeItem::to_event)
    }

    /// Writes the wire form. `sent_at` belongs to the moment of sending, so the HTTP transport passes the current
    /// time and the spool passes `None`.
    ///
    /// # Errors
    ///
    /// Fails when the writer fails or an item cannot be serialised.
    pub fn to_writer<W: Write>(&self, mut w: W, sent_at: Option<SystemTime>) -> io::Result<()> {
        // One item at a time through a buffer of its own; raw payloads and attachments go to the writer as they
        // are, not copied.
        let mut buf = Vec::with_capacity(1024);
        self.write_headers(&mut buf, sent_at)?;
        w.write_all(&buf)?;
        for item in &self.items {
            buf.clear();
            let payload = write_item(&mut buf, item)?;
            w.write_all(&buf)?;
            if let Some(payload) = payload {
                w.write_all(payload)?;
            }
            w.write_all(b"\n")?;
        }
        Ok(())
    }

    /// The wire form as bytes.
    pub fn to_vec(&self, sent_at: Option<SystemTime>) -> Vec<u8> {
        self.to_vec_with(sent_at, &|_| false)
    }

    /// Appends the wire form to `out`, which the caller may keep from one envelope to the next: the HTTP transport
    /// serialises every envelope into the same buffer rather than growing a new one each time.
    #[cfg_attr(
        not(feature = "http"),
        expect(dead_code, reason = "only the HTTP transport keeps a buffer")
    )]
    pub(crate) fn append_to(&self, out: &mut Vec<u8>, sent_at: Option<SystemTime>) {
        let start = out.len();
        // Every item serialises (maps have string keys, floats are finite or written as null by serde_json), so
        // the error branch is unreachable in practice; it leaves `out` as it was.
        if self.write_into(out, sent_at, &|_| false).is_err() {
            out.truncate(start);
        }
    }

    /// The wire form, without `sent_at`, of what may be sent again while its first request may still arrive: its
    /// client reports are left out, so that their counts cannot reach the server twice.
    pub(crate) fn to_vec_without_reports(&self) -> Vec<u8> {
        self.to_vec_with(None, &|item| item.ty() == "client_report")
    }

    fn to_vec_with(
        &self,
        sent_at: Option<SystemTime>,
        skip: &dyn Fn(&EnvelopeItem) -> bool,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        if self.write_into(&mut out, sent_at, skip).is_err() {
            out.clear();
        }
        out
    }

    /// Appends the wire form, without the items `skip` picks out, to `out`.
    ///
    /// Each item is serialised straight into `out` (see [`write_item`]): no buffer of its own per item or per
    /// envelope, so that serialising costs no allocation beyond `out`'s growth.
    fn write_into(
        &self,
        out: &mut Vec<u8>,
        sent_at: Option<SystemTime>,
        skip: &dyn Fn(&EnvelopeItem) -> bool,
    ) -> io::Result<()> {
        self.write_headers(out, sent_at)?;
        for item in self.items.iter().filter(|item| !skip(item)) {
            if let Some(payload) = write_item(out, item)? {
                out.extend_from_slice(payload);
            }
            out.push(b'\n');
        }
        Ok(())
    }

    /// Appends the envelope's header line.
    fn write_headers(&self, out: &mut Vec<u8>, sent_at: Option<SystemTime>) -> io::Result<()> {
        #[derive(Serialize)]
        struct Headers<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            event_id: Option<EventId>,
            #[serde(skip_serializing_if = "Option::is_none")]
            sent_at: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            sdk: Option<&'a ClientSdkInfo>,
            #[serde(skip_serializing_if = "Option::is_none")]
            trace: Option<&'a DynamicSamplingContext>,
        }
        let headers = Headers {
            event_id: self.event_id,
            sent_at: sent_at.map(|t| Rfc3339(t).to_string()),
            sdk: self.sdk.as_ref(),
            trace: self.trace.as_ref(),
        };
        serde_json::to_writer(&mut *out, &headers).map_err(unserialisable)?;
        out.push(b'\n');
        Ok(())
    }

    /// Parses the wire form.
    ///
    /// # Errors
    ///
    /// Fails on a missing or malformed header line, an item header that is not JSON, a `length` running past the
    /// end, or an `event`, `transaction`, `client_report`, `session` or `sessions` payload that does not parse.
    pub fn from_slice(bytes: &[u8]) -> Result<Envelope, ParseEnvelopeError> {
        Envelope::parse_with(bytes, |ty, payload| {
            Ok(match ty.as_str() {
                "event" => EnvelopeItem::Event(Box::new(
                    serde_json::from_slice(payload)
                        .map_err(|_| ParseEnvelopeError::Payload("event"))?,
                )),
                "client_report" => EnvelopeItem::ClientReport(
                    serde_json::from_slice(payload)
                        .map_err(|_| ParseEnvelopeError::Payload("client_report"))?,
                ),
                "transaction" => EnvelopeItem::Transaction(Box::new(
                    serde_json::from_slice(payload)
                        .map_err(|_| ParseEnvelopeError::Payload("transaction"))?,
                )),
                "session" => EnvelopeItem::Session(Box::new(
                    serde_json::from_slice(payload)
                        .map_err(|_| ParseEnvelopeError::Payload("session"))?,
                )),
                "sessions" => EnvelopeItem::Sessions(
                    serde_json::from_slice(payload)
                        .map_err(|_| ParseEnvelopeError::Payload("sessions"))?,
                ),
                "log" => EnvelopeItem::Logs(
                    serde_json::from_slice(payload)
                        .map_err(|_| ParseEnvelopeError::Payload("log"))?,
                ),
                "trace_metric" => EnvelopeItem::Metrics(
                    serde_json::from_slice(payload)
                        .map_err(|_| ParseEnvelopeError::Payload("trace_metric"))?,
                ),
                "check_in" => EnvelopeItem::CheckIn(Box::new(
                    serde_json::from_slice(payload)
                        .map_err(|_| ParseEnvelopeError::Payload("check_in"))?,
                )),
                "feedback" => EnvelopeItem::Feedback(Box::new(
                    serde_json::from_slice(payload)
                        .map_err(|_| ParseEnvelopeError::Payload("feedback"))?,
                )),
                _ => EnvelopeItem::Raw {
                    ty,
                    payload: payload.to_vec(),
                },
            })
        })
    }

    /// Parses the headers and the items' framing only: every item stays [`EnvelopeItem::Raw`], its payload the
    /// bytes as written. The spool reads envelopes back this way, so a replayed envelope goes out byte for byte as
    /// it was stored, without parsing and serialising its event again (and a program that never parses an event
    /// carries no code to do so).
    ///
    /// The payloads of the JSON item types (`event`, `client_report`) must still be well-formed JSON, of any depth,
    /// checked without building anything, so a damaged file is found here rather than by the server.
    pub(crate) fn from_slice_raw(bytes: &[u8]) -> Result<Envelope, ParseEnvelopeError> {
        Envelope::parse_with(bytes, |ty, payload| {
            // A log container is read back typed: its header's `item_count` and content type are written from it.
            if ty == "log" {
                return serde_json::from_slice(payload)
                    .map(EnvelopeItem::Logs)
                    .map_err(|_| ParseEnvelopeError::Payload("log"));
            }
            if ty == "trace_metric" {
                return serde_json::from_slice(payload)
                    .map(EnvelopeItem::Metrics)
                    .map_err(|_| ParseEnvelopeError::Payload("trace_metric"));
            }
            let what = match ty.as_str() {
                "event" => Some("event"),
                "transaction" => Some("transaction"),
                "client_report" => Some("client_report"),
                "session" => Some("session"),
                "sessions" => Some("sessions"),
                "check_in" => Some("check_in"),
                "feedback" => Some("feedback"),
                _ => None,
            };
            if let Some(what) = what {
                if !is_json(payload) {
                    return Err(ParseEnvelopeError::Payload(what));
                }
            }
            Ok(EnvelopeItem::Raw {
                ty,
                payload: payload.to_vec(),
            })
        })
    }

    /// The framing shared by the parsers; `item` turns an item's type and payload into an item.
    ///
    /// Header lines are read with serde_json into the fields used here: other fields are ignored, `null` counts as
    /// absent, and a used field of the wrong type or given twice is an error.
    fn parse_with(
        bytes: &[u8],
        mut item: impl FnMut(String, &[u8]) -> Result<EnvelopeItem, ParseEnvelopeError>,
    ) -> Result<Envelope, ParseEnvelopeError> {
        #[derive(Deserialize)]
        struct Headers {
            event_id: Option<EventId>,
            sdk: Option<Sdk>,
            trace: Option<DynamicSamplingContext>,
        }
        // Not `ClientSdkInfo` itself, whose `integrations` may be absent but not `null`.
        #[derive(Deserialize)]
        struct Sdk {
            name: String,
            version: String,
            integrations: Option<Vec<String>>,
        }
        #[derive(Deserialize)]
        struct ItemHeaders {
            #[serde(rename = "type")]
            ty: String,
            length: Option<usize>,
            filename: Option<String>,
            content_type: Option<String>,
            attachment_type: Option<String>,
        }
        let (line, mut rest) = split_line(bytes);
        let headers: Headers = header_line(line).ok_or(ParseEnvelopeError::Headers)?;
        let mut items = Vec::new();
        while !rest.is_empty() {
            let (line, after) = split_line(rest);
            if line.is_empty() {
                // Tolerate a trailing newline or stray blank line between items.
                rest = after;
                continue;
            }
            let ItemHeaders {
                ty,
                length,
                filename,
                content_type,
                attachment_type,
            } = header_line(line).ok_or(ParseEnvelopeError::ItemHeaders)?;
            let (payload, after) = match length {
                Some(len) => {
                    if after.len() < len {
                        return Err(ParseEnvelopeError::Truncated);
                    }
                    let (payload, tail) = after.split_at(len);
                    (payload, tail.strip_prefix(b"\n").unwrap_or(tail))
                }
                None => split_line(after),
            };
            rest = after;
            // An attachment is its bytes and its header, whichever parser reads it: the spool sends it back as
            // it was.
            if ty == "attachment" {
                items.push(EnvelopeItem::Attachment(Attachment {
                    bytes: payload.into(),
                    filename: filename.unwrap_or_default(),
                    content_type,
                    attachment_type: AttachmentType::from_header(
                        attachment_type.as_deref().unwrap_or_default(),
                    ),
                }));
                continue;
            }
            items.push(item(ty, payload)?);
        }
        Ok(Envelope {
            event_id: headers.event_id,
            sdk: headers.sdk.map(|sdk| ClientSdkInfo {
                name: Cow::Owned(sdk.name),
                version: Cow::Owned(sdk.version),
                integrations: sdk.integrations.unwrap_or_default(),
            }),
            trace: headers.trace,
            items,
        })
    }
}

/// serde_json's errors (never seen in practice: maps have string keys) need not be converted with their text.
fn unserialisable(_: serde_json::Error) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "an envelope item does not serialise",
    )
}

/// Appends `item`'s header line and, for a serialised kind, its payload. The payload of a raw item or an
/// attachment is bytes already: it is returned for the caller to write after the header line, and the item's closing
/// newline is the caller's too.
///
/// The payload is serialised first, straight into `out`; the header line, which holds the payload's length, is then
/// written after it and rotated in front.
fn write_item<'a>(out: &mut Vec<u8>, item: &'a EnvelopeItem) -> io::Result<Option<&'a [u8]>> {
    #[derive(Serialize)]
    struct ItemHeaders<'a> {
        #[serde(rename = "type")]
        ty: &'a str,
        length: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        item_count: Option<usize>,
        #[serde(skip_serializing_if = "Option::is_none")]
        content_type: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        filename: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        attachment_type: Option<&'static str>,
    }
    let item_start = out.len();
    let mut sink = &mut *out;
    match item {
        EnvelopeItem::Event(event) => serde_json::to_writer(&mut sink, event),
        EnvelopeItem::Transaction(transaction) => serde_json::to_writer(&mut sink, transaction),
        EnvelopeItem::ClientReport(report) => serde_json::to_writer(&mut sink, report),
        EnvelopeItem::Session(update) => serde_json::to_writer(&mut sink, update),
        EnvelopeItem::Sessions(aggregates) => serde_json::to_writer(&mut sink, aggregates),
        EnvelopeItem::Logs(logs) => serde_json::to_writer(&mut sink, logs),
        EnvelopeItem::Metrics(metrics) => serde_json::to_writer(&mut sink, metrics),
        EnvelopeItem::CheckIn(check_in) => serde_json::to_writer(&mut sink, check_in),
        EnvelopeItem::Feedback(event) => serde_json::to_writer(
            &mut sink,
            &FeedbackPayload {
                ty: "feedback",
                event,
            },
        ),
        EnvelopeItem::Raw { .. } | EnvelopeItem::Attachment(_) => Ok(()),
    }
    .map_err(unserialisable)?;
    let given: Option<&[u8]> = match item {
        EnvelopeItem::Raw { payload, .. } => Some(payload),
        EnvelopeItem::Attachment(attachment) => Some(&attachment.bytes),
        _ => None,
    };
    let length = given.map_or(out.len() - item_start, <[u8]>::len);
    let (item_count, content_type) = match item {
        EnvelopeItem::Logs(logs) => (Some(logs.items.len()), Some(LOG_CONTENT_TYPE)),
        EnvelopeItem::Metrics(metrics) => {
            (Some(metrics.items.len()), Some(TRACE_METRIC_CONTENT_TYPE))
        }
        EnvelopeItem::Attachment(attachment) => (
            None,
            Some(
                attachment
                    .content_type
                    .as_deref()
                    .unwrap_or("application/octet-stream"),
            ),
        ),
        _ => (None, None),
    };
    let (filename, attachment_type) = match item {
        EnvelopeItem::Attachment(attachment) => (
            Some(attachment.filename.as_str()),
            Some(attachment.attachment_type.as_str()),
        ),
        _ => (None, None),
    };
    let item_headers = ItemHeaders {
        ty: item.ty(),
        length,
        item_count,
        content_type,
        filename,
        attachment_type,
    };
    let header_start = out.len();
    serde_json::to_writer(&mut *out, &item_headers).map_err(unserialisable)?;
    out.push(b'\n');
    let header_len = out.len() - header_start;
    out[item_start..].rotate_right(header_len);
    Ok(given)
}

/// A header line read into `T`: `None` unless it is one JSON object that `T` accepts.
fn header_line<T: DeserializeOwned>(line: &[u8]) -> Option<T> {
    // serde_json also reads a struct from an array of its fields in order (`["event",5]`); a header line is an
    // object.
    if !line.trim_ascii_start().starts_with(b"{") {
        return None;
    }
    serde_json::from_slice(line).ok()
}

/// Whether `payload` is exactly one well-formed JSON value (RFC 8259), with optional whitespace around it.
///
/// serde_json skips an [`IgnoredAny`] without recursion (it keeps the open brackets in a `Vec`) and without its
/// recursion limit of 128 levels, which guards only the values it builds. So a payload of any depth passes, as it
/// must: serde_json writes any depth (an event's `extra` may hold it), and a spooled file that could not be read
/// back would be set aside as corrupt. And no depth can overflow the stack of the thread reading the spool. The
/// tests hold serde_json to both. It checks the escapes of the strings it skips but not their UTF-8, hence
/// `from_str` on text already checked.
fn is_json(payload: &[u8]) -> bool {
    std::str::from_utf8(payload).is_ok_and(|text| serde_json::from_str::<IgnoredAny>(text).is_ok())
}

/// Splits at the first `\n`: the line without it, and the rest after it.
fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[]),
    }
}

/// Why bytes could not be read as an [`Envelope`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseEnvelopeError {
    /// The first line is not a JSON object of envelope headers.
    Headers,
    /// An item header line is not a JSON object with a `type`.
    ItemHeaders,
    /// An item's `length` runs past the end of the data.
    Truncated,
    /// A known item's payload does not parse.
    Payload(&'static str),
}

impl fmt::Display for ParseEnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseEnvelopeError::Headers => f.write_str("invalid envelope headers"),
            ParseEnvelopeError::ItemHeaders => f.write_str("invalid item headers"),
            ParseEnvelopeError::Truncated => f.write_str("item payload shorter than its length"),
            ParseEnvelopeError::Payload(ty) => write!(f, "invalid {ty} payload"),
        }
    }
}

impl std::error::Error for ParseEnvelopeError {}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::protocol::exception::Exception;
    use crate::protocol::level::Level;

    fn fixed_event() -> Event {
        Event {
            event_id: "9ec79c33ec9942ab8353589fcb2e04dc".parse().unwrap(),
            timestamp: Timestamp(UNIX_EPOCH + Duration::from_millis(1_764_077_696_125)),
            level: Level::Error,
            message: Some("two\nlines".into()),
            exception: vec![Exception {
                ty: "ParseIntError".into(),
                value: Some("invalid digit found in string".into()),
                module: Some("core::num".into()),
                ..Exception::default()
            }],
            sdk: Some(ClientSdkInfo {
                name: Cow::Borrowed("faultline"),
                version: Cow::Borrowed("0.1.0"),
                integrations: Vec::new(),
            }),
            ..Event::default()
        }
    }

    #[test]
    fn golden_bytes() {
        let envelope = Envelope::from_event(fixed_event());
        let sent_at = UNIX_EPOCH + Duration::from_micros(1_764_077_697_000_001);
        let text = String::from_utf8(envelope.to_vec(Some(sent_at))).unwrap();
        let payload = concat!(
            r#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","timestamp":1764077696.125,"platform":"native","#,
            r#""level":"error","message":"two\nlines","exception":{"values":[{"type":"ParseIntError","#,
            r#""value":"invalid digit found in string","module":"core::num"}]},"#,
            r#""sdk":{"name":"faultline","version":"0.1.0"}}"#
        );
        let want = format!(
            "{}\n{}\n{payload}\n",
            r#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","sent_at":"2025-11-25T13:34:57.000001Z","sdk":{"name":"faultline","version":"0.1.0"}}"#,
            format_args!(r#"{{"type":"event","length":{}}}"#, payload.len()),
        );
        assert_eq!(text, want);
    }

    #[test]
    fn the_raw_parse_keeps_every_payload_as_written() {
        let mut envelope = Envelope::from_event(fixed_event());
        envelope
            .items
            .push(EnvelopeItem::ClientReport(ClientReport::default()));
        let bytes = envelope.to_vec(None);
        let raw = Envelope::from_slice_raw(&bytes).unwrap();
        assert_eq!(raw.event_id, envelope.event_id);
        assert_eq!(raw.sdk, envelope.sdk);
        assert!(
            raw.items
                .iter()
                .all(|item| matches!(item, EnvelopeItem::Raw { .. })),
            "{raw:?}"
        );
        let types: Vec<&str> = raw.items.iter().map(EnvelopeItem::ty).collect();
        assert_eq!(types, ["event", "client_report"]);
        // Written again, the bytes are the same; parsed, the event is the one stored.
        assert_eq!(raw.to_vec(None), bytes);
        assert_eq!(
            raw.items[0].to_event().unwrap().into_owned(),
            *envelope.event().unwrap()
        );
        assert!(raw.event().is_none(), "raw items are not parsed events");
        assert_eq!(
            raw.to_event().unwrap().into_owned(),
            *envelope.event().unwrap()
        );
        assert!(Envelope::from_slice_raw(b"{}\n{\"type\":\"event\",\"length\":99}\n{}").is_err());
        // A damaged payload inside intact framing is caught too, for the JSON item types.
        assert_eq!(
            Envelope::from_slice_raw(b"{}\n{\"type\":\"event\",\"length\":5}\n{\"a\":\n"),
            Err(ParseEnvelopeError::Payload("event"))
        );
        assert!(
            Envelope::from_slice_raw(b"{}\n{\"type\":\"attachment\",\"length\":3}\n{\"a\n").is_ok()
        );
    }

    #[test]
    fn round_trip_with_several_items() {
        let mut envelope = Envelope::from_event(fixed_event());
        envelope
            .items
            .push(EnvelopeItem::ClientReport(ClientReport {
                timestamp: None,
                discarded_events: vec![DiscardedEvent {
                    reason: "queue_overflow".into(),
                    category: "error".into(),
                    quantity: 3,
                }],
            }));
        envelope.items.push(EnvelopeItem::Attachment(
            Attachment::new("notes.txt", b"a\nb".to_vec()).with_content_type("text/plain"),
        ));
        envelope.items.push(EnvelopeItem::Raw {
            ty: "profile".into(),
            payload: b"c\nd".to_vec(),
        });
        let bytes = envelope.to_vec(None);
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains(r#"{"type":"attachment","length":3,"content_type":"text/plain","filename":"notes.txt","attachment_type":"event.attachment"}"#),
            "{text}"
        );
        assert_eq!(
            Envelope::from_slice_raw(&bytes).unwrap().to_vec(None),
            bytes,
            "the spool sends it back with its header"
        );
        assert!(!bytes.windows(2).any(|w| w == b"\n\n"), "no blank lines");
        assert_eq!(Envelope::from_slice(&bytes).unwrap(), envelope);
    }

    /// `to_writer` hands an attachment's bytes to the writer as they are, never through a copy of the envelope.
    #[test]
    fn to_writer_writes_attachment_bytes_without_copying_them() {
        struct Writes(Vec<(*const u8, Vec<u8>)>);
        impl Write for Writes {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.push((buf.as_ptr(), buf.to_vec()));
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let attachment = Attachment::new("dump.bin", vec![7u8; 1 << 20]);
        let bytes = Arc::clone(&attachment.bytes);
        let mut envelope = Envelope::from_event(fixed_event());
        envelope.items.push(EnvelopeItem::Attachment(attachment));
        let mut writes = Writes(Vec::new());
        envelope.to_writer(&mut writes, None).unwrap();
        let written: Vec<u8> = writes
            .0
            .iter()
            .flat_map(|(_, w)| w.iter().copied())
            .collect();
        assert_eq!(written, envelope.to_vec(None));
        assert!(
            writes
                .0
                .iter()
                .any(|(ptr, w)| *ptr == bytes.as_ptr() && w.len() == bytes.len()),
            "the attachment was copied before it was written"
        );
        assert!(
            writes
                .0
                .iter()
                .all(|(ptr, w)| *ptr == bytes.as_ptr() || w.len() < 64 * 1024),
            "some write carried the attachment in a buffer"
        );
    }

    #[test]
    fn items_without_length_run_to_the_newline() {
        let bytes = b"{}\n{\"type\":\"attachment\"}\nhello\n{\"type\":\"other\",\"length\":2}\nhi";
        let envelope = Envelope::from_slice(bytes).unwrap();
        assert_eq!(envelope.items.len(), 2);
        let EnvelopeItem::Attachment(attachment) = &envelope.items[0] else {
            panic!("{:?}", envelope.items[0]);
        };
        assert_eq!(&*attachment.bytes, b"hello");
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert_eq!(
            Envelope::from_slice(b"nope"),
            Err(ParseEnvelopeError::Headers)
        );
        assert_eq!(
            Envelope::from_slice(b"{}\n[1]\n"),
            Err(ParseEnvelopeError::ItemHeaders)
        );
        assert_eq!(
            Envelope::from_slice(b"{}\n{\"type\":\"event\",\"length\":99}\n{}"),
            Err(ParseEnvelopeError::Truncated)
        );
        assert_eq!(
            Envelope::from_slice(b"{}\n{\"type\":\"event\",\"length\":2}\n{}\n"),
            Err(ParseEnvelopeError::Payload("event"))
        );
    }

    #[test]
    fn what_is_written_is_read_back_raw_however_deep_its_extra() {
        // serde_json writes values of any depth, deeper than it would read into a `Value` (128 levels); the spool
        // must read back whatever an envelope wrote, or the file would be set aside as corrupt.
        let mut deep = serde_json::Value::from(1);
        for _ in 0..500 {
            deep = serde_json::Value::Array(vec![deep]);
        }
        let mut event = fixed_event();
        event.extra.insert("deep".into(), deep);
        let bytes = Envelope::from_event(event).to_vec(None);
        let raw = Envelope::from_slice_raw(&bytes).unwrap();
        assert_eq!(raw.to_vec(None), bytes);
    }

    #[test]
    fn header_fields_of_the_wrong_shape_are_errors() {
        let item = "\n{\"type\":\"attachment\",\"length\":1}\nx";
        let headers = [
            r#"[]"#,
            r#"{"event_id":42}"#,
            r#"{"event_id":"not an id"}"#,
            r#"{"sdk":"faultline"}"#,
            r#"{"sdk":{"name":"faultline"}}"#,
            r#"{"sdk":{"name":"faultline","version":"1","integrations":"panic"}}"#,
            r#"{"sdk":{"name":"faultline","version":"1","integrations":[1]}}"#,
            r#"{"sdk":{"name":null,"version":"1"}}"#,
            // serde_json would read these as a struct's fields in order; a header line is an object.
            r#"[null,null]"#,
            r#" ["9ec79c33ec9942ab8353589fcb2e04dc"]"#,
            // A field faultline reads may not be given twice.
            r#"{"event_id":null,"event_id":null}"#,
        ];
        for line in headers {
            let bytes = format!("{line}{item}");
            assert_eq!(
                Envelope::from_slice_raw(bytes.as_bytes()),
                Err(ParseEnvelopeError::Headers),
                "{line}"
            );
        }
        let item_headers = [
            r#"{"length":1}"#,
            r#"{"type":7,"length":1}"#,
            r#"{"type":"attachment","length":-1}"#,
            r#"{"type":"attachment","length":1.5}"#,
            r#"{"type":"attachment","length":"1"}"#,
            r#"{"type":"attachment","length":1e0}"#,
            r#"{"type":"attachment","length":18446744073709551616}"#,
            r#"{"type":null,"length":1}"#,
            r#"["attachment",1]"#,
            r#"{"type":"attachment","type":"event","length":1}"#,
            r#"{"type":"attachment","length":1"#,
        ];
        for line in item_headers {
            let bytes = format!("{{}}\n{line}\nx");
            assert_eq!(
                Envelope::from_slice_raw(bytes.as_bytes()),
                Err(ParseEnvelopeError::ItemHeaders),
                "{line}"
            );
        }
        // Null fields count as absent; a dashed id and unknown fields are fine.
        let bytes = concat!(
            r#"{"event_id":"9ec79c33-ec99-42ab-8353-589fcb2e04dc","sent_at":"x","dsn":null,"#,
            r#""sdk":{"name":"other","version":"2.0","integrations":["a","b"],"packages":[]}}"#,
            "\n",
            r#"{"type":"attachment","length":null,"filename":"a.txt"}"#,
            "\nhello\n"
        );
        let envelope = Envelope::from_slice_raw(bytes.as_bytes()).unwrap();
        assert_eq!(
            envelope.event_id.unwrap().to_string(),
            "9ec79c33ec9942ab8353589fcb2e04dc"
        );
        let sdk = envelope.sdk.unwrap();
        assert_eq!((&*sdk.name, &*sdk.version), ("other", "2.0"));
        assert_eq!(sdk.integrations, ["a", "b"]);
        assert_eq!(
            envelope.items,
            [EnvelopeItem::Attachment(Attachment::new(
                "a.txt",
                b"hello".to_vec()
            ))]
        );
        // Strings are unescaped (an escaped `event` type is an event), whitespace is allowed around values, and
        // `null` integrations are none; unknown fields of any depth are skipped.
        let deep = format!("{}1{}", "[{\"a\":".repeat(10_000), "}]".repeat(10_000));
        let bytes = format!(
            "{}\n{}\n{{}}\n",
            r#" { "sdk" : { "name" : "a\"b\u00e9" , "version" : "1" , "integrations" : null } } "#,
            format_args!(r#"{{"x":{deep},"type":"ev\u0065nt","length":2}}"#),
        );
        let envelope = Envelope::from_slice_raw(bytes.as_bytes()).unwrap();
        assert_eq!(envelope.event_id, None);
        let sdk = envelope.sdk.unwrap();
        assert_eq!((&*sdk.name, sdk.integrations.len()), ("a\"b\u{e9}", 0));
        assert_eq!(
            envelope.items,
            [EnvelopeItem::Raw {
                ty: "event".into(),
                payload: b"{}".to_vec()
            }]
        );
        let broken = bytes.replace("\n{}\n", "\n{,\n");
        assert_eq!(
            Envelope::from_slice_raw(broken.as_bytes()),
            Err(ParseEnvelopeError::Payload("event"))
        );
    }

    #[test]
    fn payloads_are_checked_as_json_of_any_depth_without_recursion() {
        let raw = |payload: &[u8]| {
            let mut bytes = format!(
                "{{}}\n{{\"type\":\"client_report\",\"length\":{}}}\n",
                payload.len()
            )
            .into_bytes();
            bytes.extend_from_slice(payload);
            Envelope::from_slice_raw(&bytes)
        };
        let valid: &[&[u8]] = &[
            br#"{"a":[1,-2.5e-3,true,false,null,{}],"q\"\\\/\b\f\n\r\t\u00e9":"\u00e9"}"#,
            " [ \"\u{e9}\u{1f600}\" ] \n".as_bytes(),
        ];
        for payload in valid {
            assert!(raw(payload).is_ok(), "{}", String::from_utf8_lossy(payload));
        }
        let broken: &[&[u8]] = &[
            b"",
            b"{",
            b"[1,]",
            b"{\"a\":1,}",
            b"01",
            b"NaN",
            b"\"\\x\"",
            b"\"tab\there\"",
            b"{} {}",
            // Invalid UTF-8, inside a string and before the value (a byte order mark).
            b"\"\xff\"",
            b"\xef\xbb\xbf{}",
        ];
        for payload in broken {
            assert_eq!(
                raw(payload),
                Err(ParseEnvelopeError::Payload("client_report")),
                "{}",
                String::from_utf8_lossy(payload)
            );
        }
        // A hundred thousand levels: a parser that recursed would overflow the test thread's stack (2 MiB).
        let n = 100_000;
        let deep = format!("{}1{}", "[{\"a\":".repeat(n), "}]".repeat(n));
        assert!(raw(deep.as_bytes()).is_ok());
        assert_eq!(
            raw(&deep.as_bytes()[..deep.len() - 1]),
            Err(ParseEnvelopeError::Payload("client_report"))
        );
    }

    mod properties {
        use std::collections::BTreeMap;

        use proptest::collection::{btree_map, vec};
        use proptest::option;
        use proptest::prelude::*;

        use super::*;

        const LEVELS: [Level; 5] = [
            Level::Debug,
            Level::Info,
            Level::Warning,
            Level::Error,
            Level::Fatal,
        ];

        /// Whole seconds, which the float timestamps of the wire form hold exactly.
        fn timestamp() -> impl Strategy<Value = Timestamp> {
            (0u64..4_000_000_000).prop_map(|s| Timestamp(UNIX_EPOCH + Duration::from_secs(s)))
        }

        fn event() -> impl Strategy<Value = Event> {
            (
                any::<u128>(),
                timestamp(),
                0..LEVELS.len(),
                option::of(any::<String>()),
                btree_map(".{0,8}", ".{0,8}", 0..3),
                btree_map("[a-z]{1,6}", any::<i64>(), 0..3),
                vec(".{0,8}", 0..3),
            )
                .prop_map(
                    |(id, timestamp, level, message, tags, extra, fingerprint)| Event {
                        event_id: EventId(uuid::Uuid::from_u128(id)),
                        timestamp,
                        level: LEVELS[level],
                        message,
                        tags,
                        extra: extra
                            .into_iter()
                            .map(|(k, v)| (k, serde_json::Value::from(v)))
                            .collect::<BTreeMap<_, _>>(),
                        fingerprint,
                        ..Event::default()
                    },
                )
        }

        fn client_report() -> impl Strategy<Value = ClientReport> {
            (
                option::of(timestamp()),
                vec((".{0,12}", "[a-z_]{0,12}", any::<u64>()), 0..3),
            )
                .prop_map(|(timestamp, counts)| ClientReport {
                    timestamp,
                    discarded_events: counts
                        .into_iter()
                        .map(|(reason, category, quantity)| DiscardedEvent {
                            reason,
                            category,
                            quantity,
                        })
                        .collect(),
                })
        }

        /// An item of a type kept raw: any name but the two parsed ones, any bytes.
        fn raw_item() -> impl Strategy<Value = EnvelopeItem> {
            (".{0,12}", vec(any::<u8>(), 0..64))
                .prop_filter("a type parsed as JSON", |(ty, _)| {
                    ty != "event" && ty != "client_report"
                })
                .prop_map(|(ty, payload)| EnvelopeItem::Raw { ty, payload })
        }

        /// Envelopes as the SDK builds them: at most one event, first, then client reports and raw items.
        fn envelope() -> impl Strategy<Value = Envelope> {
            let sdk = option::of((".{0,8}", ".{0,8}", vec(".{0,8}", 0..3)).prop_map(
                |(name, version, integrations)| ClientSdkInfo {
                    name: Cow::Owned(name),
                    version: Cow::Owned(version),
                    integrations,
                },
            ));
            let others = vec(
                prop_oneof![
                    client_report().prop_map(EnvelopeItem::ClientReport),
                    raw_item(),
                ],
                0..3,
            );
            (option::of(event()), sdk, others).prop_map(|(event, sdk, others)| {
                let mut items = Vec::new();
                let event_id = event.as_ref().map(|event| event.event_id);
                if let Some(event) = event {
                    items.push(EnvelopeItem::Event(Box::new(event)));
                }
                items.extend(others);
                Envelope {
                    event_id,
                    sdk,
                    trace: None,
                    items,
                }
            })
        }

        /// Damage to a valid envelope's bytes: cut short, one byte changed, or bytes inserted.
        #[derive(Clone, Debug)]
        enum Damage {
            Truncate(usize),
            Replace(usize, u8),
            Insert(usize, Vec<u8>),
        }

        fn damage() -> impl Strategy<Value = Damage> {
            prop_oneof![
                any::<usize>().prop_map(Damage::Truncate),
                (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Damage::Replace(at, b)),
                (any::<usize>(), vec(any::<u8>(), 1..8)).prop_map(|(at, b)| Damage::Insert(at, b)),
            ]
        }

        fn apply(mut bytes: Vec<u8>, damage: &Damage) -> Vec<u8> {
            let at = |i: usize| if bytes.is_empty() { 0 } else { i % bytes.len() };
            match damage {
                Damage::Truncate(i) => bytes.truncate(at(*i)),
                Damage::Replace(i, b) => {
                    let i = at(*i);
                    if let Some(byte) = bytes.get_mut(i) {
                        *byte = *b;
                    }
                }
                Damage::Insert(i, more) => {
                    let i = at(*i);
                    bytes.splice(i..i, more.iter().copied());
                }
            }
            bytes
        }

        /// Both parsers on `bytes`: no panic, and what the raw parse (the spool's) accepts, written again, reads
        /// back the same.
        fn check_any(bytes: &[u8]) -> Result<(), TestCaseError> {
            let _ = Envelope::from_slice(bytes);
            if let Ok(raw) = Envelope::from_slice_raw(bytes) {
                prop_assert_eq!(Envelope::from_slice_raw(&raw.to_vec(None)), Ok(raw));
            }
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            /// What the SDK writes, with or without `sent_at`, parses back to the same envelope; read raw, as the
            /// spool reads it, it is written again byte for byte and holds the same event.
            #[test]
            fn what_is_written_reads_back(envelope in envelope(), sent_at in option::of(timestamp())) {
                let bytes = envelope.to_vec(sent_at.map(|t| t.0));
                prop_assert_eq!(Envelope::from_slice(&bytes), Ok(envelope.clone()));
                let raw = Envelope::from_slice_raw(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(raw.event_id, envelope.event_id);
                prop_assert_eq!(&raw.sdk, &envelope.sdk);
                prop_assert_eq!(raw.to_vec(None), envelope.to_vec(None));
                prop_assert_eq!(raw.to_event().map(Cow::into_owned), envelope.event().cloned());
            }

            /// Appended to a buffer that already holds bytes (the HTTP transport's, kept from the last request), the
            /// wire form is the same bytes after them; `to_writer` writes them too.
            #[test]
            fn appending_and_writing_give_the_same_bytes(envelope in envelope(), before in vec(any::<u8>(), 0..64)) {
                let bytes = envelope.to_vec(None);
                let mut out = before.clone();
                envelope.append_to(&mut out, None);
                prop_assert_eq!(&out[..before.len()], &before[..]);
                prop_assert_eq!(&out[before.len()..], &bytes[..]);
                let mut written = Vec::new();
                envelope.to_writer(&mut written, None).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(written, bytes);
            }

            /// Any bytes at all.
            #[test]
            fn any_bytes_parse_without_panic(bytes in vec(any::<u8>(), 0..256)) {
                check_any(&bytes)?;
            }

            /// A written envelope, damaged: the parsers get past the first line and meet broken framing, lengths
            /// and payloads.
            #[test]
            fn damaged_envelopes_parse_without_panic(envelope in envelope(), damage in damage()) {
                check_any(&apply(envelope.to_vec(None), &damage))?;
            }
        }
    }

    #[test]
    fn a_log_container_names_its_count_and_content_type_also_after_the_spool() {
        use crate::protocol::log::{Log, LogContainer, LogLevel};
        let log = |n: u32| Log {
            timestamp: Timestamp::from_secs_f64(1_795_428_000.0).unwrap(),
            trace_id: "0af7651916cd43dd8448eb211c80319c".parse().unwrap(),
            span_id: None,
            level: LogLevel::Info,
            body: format!("record {n}"),
            severity_number: Some(9),
            attributes: Default::default(),
        };
        let envelope = Envelope {
            items: vec![EnvelopeItem::Logs(LogContainer {
                items: (0..3).map(log).collect(),
            })],
            ..Envelope::default()
        };
        let bytes = envelope.to_vec(None);
        let text = String::from_utf8(bytes.clone()).unwrap();
        let header: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        assert_eq!(header["type"], "log");
        assert_eq!(header["item_count"], 3);
        assert_eq!(
            header["content_type"],
            "application/vnd.sentry.items.log+json"
        );
        assert_eq!(Envelope::from_slice(&bytes).unwrap(), envelope);
        let replayed = Envelope::from_slice_raw(&bytes).unwrap();
        assert_eq!(replayed.to_vec(None), bytes, "the spool sends it as it was");
        assert!(Envelope::from_slice_raw(b"{}\n{\"type\":\"log\",\"length\":2}\n{]").is_err());
    }
}
