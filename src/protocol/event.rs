//! The event payload and the small types it is made of.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::breadcrumb::Breadcrumb;
use super::debug_meta::DebugMeta;
use super::exception::Exception;
use super::request::Request;
use super::stacktrace::Stacktrace;
use super::time::Timestamp;

/// Re-exported here, where it always was; defined in [`super::level`], which events and breadcrumbs share.
pub use super::level::Level;

/// An event's id: a UUID v4 written as 32 lowercase hex characters without dashes.
///
/// The nil id (all zeros) means "no event": the capture functions return it when an event was dropped (SDK disabled,
/// sampled out, queue full, …).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub Uuid);

impl EventId {
    /// A fresh random id (a UUID v4).
    ///
    /// The random bits come from SipHash, keyed per thread from the operating system's randomness once, over a
    /// per-thread counter: as unpredictable as the system source for this purpose, and without a system call for
    /// every event (`Uuid::new_v4` makes one).
    pub fn new() -> Self {
        EventId(random_uuid())
    }

    /// The nil id, returned for dropped events.
    pub const fn nil() -> Self {
        EventId(Uuid::nil())
    }

    /// Whether this is the nil id.
    pub fn is_nil(&self) -> bool {
        self.0.is_nil()
    }
}

fn random_uuid() -> Uuid {
    use std::cell::Cell;
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};

    thread_local! {
        static SOURCE: (RandomState, Cell<u64>) = (RandomState::new(), Cell::new(0));
    }
    let bytes = SOURCE.try_with(|(keys, counter)| {
        let n = counter.get();
        counter.set(n.wrapping_add(1));
        let half = |lane: u8| {
            let mut hasher = keys.build_hasher();
            hasher.write_u64(n);
            hasher.write_u8(lane);
            hasher.finish().to_le_bytes()
        };
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&half(0));
        bytes[8..].copy_from_slice(&half(1));
        bytes
    });
    match bytes {
        Ok(bytes) => uuid::Builder::from_random_bytes(bytes).into_uuid(),
        // While the thread's locals are being destroyed (a panic in a destructor), ask the system.
        Err(_) => Uuid::new_v4(),
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.simple(), f)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({})", self.0.simple())
    }
}

impl FromStr for EventId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(EventId)
    }
}

impl Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.simple())
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The user an event happened to. Sent only as the program sets it; `ip_address` is filled in automatically only
/// with `send_default_pii`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// A stable id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// An email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// An IP address; `{{auto}}` asks the server to use the request's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// Any other data.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, serde_json::Value>,
}

/// A thread that was running when the event happened.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Thread {
    /// An id, unique within the event; exceptions refer to it by `thread_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The thread's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether this thread captured the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<bool>,
    /// Whether this thread crashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crashed: Option<bool>,
    /// Whether this is the program's main thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main: Option<bool>,
    /// The thread's stack, when it is not already on the exception.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacktrace: Option<Stacktrace>,
}

/// The SDK that sent an event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientSdkInfo {
    /// `faultline`.
    pub name: Cow<'static, str>,
    /// The SDK's version.
    pub version: Cow<'static, str>,
    /// The integrations in use, e.g. `panic`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub integrations: Vec<String>,
}

impl Default for ClientSdkInfo {
    fn default() -> Self {
        ClientSdkInfo {
            name: Cow::Borrowed("faultline"),
            version: Cow::Borrowed(env!("CARGO_PKG_VERSION")),
            integrations: Vec::new(),
        }
    }
}

/// One event: an error, a panic or a message, with everything known about where it happened.
///
/// Events are usually built by the capture functions; build one by hand for [`crate::capture_event`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The event's id.
    pub event_id: EventId,
    /// When it happened.
    pub timestamp: Timestamp,
    /// The platform: `native` for compiled code, which lets Sentry symbolicate with uploaded debug files.
    pub platform: Cow<'static, str>,
    /// The severity.
    pub level: Level,
    /// The logger or log target that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger: Option<String>,
    /// The transaction (route, job, command) it happened in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<String>,
    /// A message, for events that are not (only) an exception.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The error chain, root cause first.
    #[serde(default, with = "values", skip_serializing_if = "Vec::is_empty")]
    pub exception: Vec<Exception>,
    /// Threads involved, e.g. the one that panicked.
    #[serde(default, with = "values", skip_serializing_if = "Vec::is_empty")]
    pub threads: Vec<Thread>,
    /// What happened before, oldest first.
    #[serde(default, with = "values", skip_serializing_if = "Vec::is_empty")]
    pub breadcrumbs: Vec<Breadcrumb>,
    /// The release, e.g. `my-app@1.2.3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// A distribution of the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dist: Option<String>,
    /// The environment, e.g. `production`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The host's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Indexed string tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Arbitrary extra data.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
    /// The affected user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// The HTTP request it happened in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    /// Keyed context objects (`os`, `runtime`, `device`, …), each with a `type`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub contexts: BTreeMap<String, serde_json::Value>,
    /// Custom grouping; `{{ default }}` stands for the server's default grouping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fingerprint: Vec<String>,
    /// The SDK that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<ClientSdkInfo>,
    /// The loaded binaries (build ids, load addresses), so a server can symbolicate frames with uploaded debug
    /// files when the program shipped without debug info.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_meta: Option<DebugMeta>,
}

impl Default for Event {
    fn default() -> Self {
        Event {
            event_id: EventId::new(),
            timestamp: Timestamp::now(),
            platform: Cow::Borrowed("native"),
            level: Level::Error,
            logger: None,
            transaction: None,
            message: None,
            exception: Vec::new(),
            threads: Vec::new(),
            breadcrumbs: Vec::new(),
            release: None,
            dist: None,
            environment: None,
            server_name: None,
            tags: BTreeMap::new(),
            extra: BTreeMap::new(),
            user: None,
            request: None,
            contexts: BTreeMap::new(),
            fingerprint: Vec::new(),
            sdk: None,
            debug_meta: None,
        }
    }
}

/// The fields that an event and a transaction both have, and that a scope fills and the scrubber scrubs alike.
pub(crate) struct SharedFields<'a> {
    pub(crate) tags: &'a mut BTreeMap<String, String>,
    pub(crate) extra: &'a mut BTreeMap<String, serde_json::Value>,
    pub(crate) user: &'a mut Option<User>,
    pub(crate) request: &'a mut Option<Request>,
    pub(crate) contexts: &'a mut BTreeMap<String, serde_json::Value>,
}

impl Event {
    /// Its fields that a transaction has too.
    pub(crate) fn shared_fields(&mut self) -> SharedFields<'_> {
        SharedFields {
            tags: &mut self.tags,
            extra: &mut self.extra,
            user: &mut self.user,
            request: &mut self.request,
            contexts: &mut self.contexts,
        }
    }

    /// A new event with a fresh id, the current time and level `error`.
    pub fn new() -> Self {
        Event::default()
    }
}

/// Serde helper for the protocol's `{"values": [...]}` wrapper around lists.
mod values {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize)]
    struct Ser<'a, T> {
        values: &'a [T],
    }

    #[derive(Deserialize)]
    struct De<T> {
        values: Vec<T>,
    }

    pub(super) fn serialize<S: Serializer, T: Serialize>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
        Ser { values: v }.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Vec<T>, D::Error> {
        De::deserialize(d).map(|w| w.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_id_is_32_lowercase_hex() {
        let id = EventId::new();
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert!(
            text.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(text.parse::<EventId>().unwrap(), id);
        assert!(EventId::nil().is_nil() && !id.is_nil());
        assert_eq!(id.0.get_version_num(), 4);
        assert_eq!(id.0.get_variant(), uuid::Variant::RFC4122);
    }

    #[test]
    fn ids_do_not_repeat_within_or_across_threads() {
        let mut seen = std::collections::HashSet::new();
        let batches: Vec<Vec<EventId>> = (0..4)
            .map(|_| std::thread::spawn(|| (0..20_000).map(|_| EventId::new()).collect()))
            .map(|t| t.join().unwrap())
            .collect();
        for id in batches
            .into_iter()
            .flatten()
            .chain((0..20_000).map(|_| EventId::new()))
        {
            assert!(seen.insert(id), "{id} repeated");
        }
    }

    #[test]
    fn warning_is_spelled_in_full() {
        assert_eq!(
            serde_json::to_string(&Level::Warning).unwrap(),
            "\"warning\""
        );
        assert_eq!(Level::Fatal.to_string(), "fatal");
    }

    #[test]
    fn lists_use_the_values_wrapper_and_round_trip() {
        let mut event = Event::new();
        // Float seconds keep microseconds; a fixed time keeps the round trip exact.
        event.timestamp = Timestamp::from_secs_f64(1_764_077_696.25).unwrap();
        event.exception.push(Exception {
            ty: "ParseIntError".into(),
            value: Some("invalid digit found in string".into()),
            ..Exception::default()
        });
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["exception"]["values"][0]["type"], "ParseIntError");
        assert_eq!(json["platform"], "native");
        assert!(
            json.get("breadcrumbs").is_none(),
            "empty lists are left out"
        );
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}
