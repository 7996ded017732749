//! The wire types of distributed tracing: trace and span ids, span statuses, and the `trace` context that every
//! event and transaction carries.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A trace id: 16 random bytes, written as 32 lowercase hex characters. Never all zeros (W3C Trace Context calls
/// that invalid).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId([u8; 16]);

/// A span id: 8 random bytes, written as 16 lowercase hex characters. Never all zeros.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId([u8; 8]);

/// Why an id did not parse: it is not the right number of hex characters, or it is all zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseIdError;

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a valid trace or span id (32 or 16 hex characters, not all zeros)")
    }
}

impl std::error::Error for ParseIdError {}

impl TraceId {
    /// A fresh random trace id, from a per-thread generator seeded once from the system (no system call per id).
    pub fn new() -> Self {
        loop {
            let n = fastrand::u128(..);
            if n != 0 {
                return TraceId(n.to_be_bytes());
            }
        }
    }

    /// The id's bytes.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// The id with these bytes; `None` for all zeros.
    pub fn from_bytes(bytes: [u8; 16]) -> Option<Self> {
        (bytes != [0; 16]).then_some(TraceId(bytes))
    }
}

impl SpanId {
    /// A fresh random span id, from the same per-thread generator as [`TraceId::new`].
    pub fn new() -> Self {
        loop {
            let n = fastrand::u64(..);
            if n != 0 {
                return SpanId(n.to_be_bytes());
            }
        }
    }

    /// The id's bytes.
    pub fn to_bytes(self) -> [u8; 8] {
        self.0
    }

    /// The id with these bytes; `None` for all zeros.
    pub fn from_bytes(bytes: [u8; 8]) -> Option<Self> {
        (bytes != [0; 8]).then_some(SpanId(bytes))
    }
}

impl Default for TraceId {
    fn default() -> Self {
        TraceId::new()
    }
}

impl Default for SpanId {
    fn default() -> Self {
        SpanId::new()
    }
}

/// Writes `bytes` as lowercase hex.
fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

/// Reads exactly `N` bytes of hex (either case) from `text`.
fn parse_hex<const N: usize>(text: &str) -> Result<[u8; N], ParseIdError> {
    let text = text.as_bytes();
    if text.len() != 2 * N {
        return Err(ParseIdError);
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(ParseIdError),
    };
    let mut bytes = [0; N];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = nibble(text[2 * i])? << 4 | nibble(text[2 * i + 1])?;
    }
    Ok(bytes)
}

macro_rules! hex_id {
    ($ty:ident, $len:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(f, &self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($ty))
            }
        }

        impl FromStr for $ty {
            type Err = ParseIdError;

            /// Reads the id from exactly its number of hex characters, either case; all zeros is refused.
            fn from_str(text: &str) -> Result<Self, ParseIdError> {
                $ty::from_bytes(parse_hex::<$len>(text)?).ok_or(ParseIdError)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<str>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_id!(TraceId, 16);
hex_id!(SpanId, 8);

/// How a span ended, by the names Sentry uses (which follow gRPC's status codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SpanStatus {
    /// It worked.
    Ok,
    /// The operation was cancelled, typically by the caller (a span dropped without being finished).
    Cancelled,
    /// An error of no other kind.
    UnknownError,
    /// The client asked for something invalid (HTTP 400).
    InvalidArgument,
    /// The deadline passed before it completed (HTTP 504; a child still open when its transaction finished).
    DeadlineExceeded,
    /// What was asked for does not exist (HTTP 404).
    NotFound,
    /// What was to be created exists already (HTTP 409).
    AlreadyExists,
    /// Not allowed (HTTP 403).
    PermissionDenied,
    /// Out of a resource, or rate limited (HTTP 429).
    ResourceExhausted,
    /// The system was not in a state to do it.
    FailedPrecondition,
    /// Aborted, typically by a conflict.
    Aborted,
    /// Past the valid range.
    OutOfRange,
    /// Not implemented (HTTP 501).
    Unimplemented,
    /// An internal error (HTTP 500).
    InternalError,
    /// The service is unavailable (HTTP 503).
    Unavailable,
    /// Data was lost.
    DataLoss,
    /// No valid credentials (HTTP 401).
    Unauthenticated,
}

impl SpanStatus {
    /// The status for an HTTP response status code, as Sentry maps them; `None` below 400 but for a success, which
    /// is `Ok`.
    pub fn from_http_status(status: u16) -> Option<SpanStatus> {
        Some(match status {
            200..=399 => SpanStatus::Ok,
            401 => SpanStatus::Unauthenticated,
            403 => SpanStatus::PermissionDenied,
            404 => SpanStatus::NotFound,
            409 => SpanStatus::AlreadyExists,
            413 => SpanStatus::FailedPrecondition,
            429 => SpanStatus::ResourceExhausted,
            499 => SpanStatus::Cancelled,
            400..=499 => SpanStatus::InvalidArgument,
            501 => SpanStatus::Unimplemented,
            503 => SpanStatus::Unavailable,
            504 => SpanStatus::DeadlineExceeded,
            500..=599 => SpanStatus::InternalError,
            _ => return None,
        })
    }

    /// The name on the wire, e.g. `deadline_exceeded`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanStatus::Ok => "ok",
            SpanStatus::Cancelled => "cancelled",
            SpanStatus::UnknownError => "unknown_error",
            SpanStatus::InvalidArgument => "invalid_argument",
            SpanStatus::DeadlineExceeded => "deadline_exceeded",
            SpanStatus::NotFound => "not_found",
            SpanStatus::AlreadyExists => "already_exists",
            SpanStatus::PermissionDenied => "permission_denied",
            SpanStatus::ResourceExhausted => "resource_exhausted",
            SpanStatus::FailedPrecondition => "failed_precondition",
            SpanStatus::Aborted => "aborted",
            SpanStatus::OutOfRange => "out_of_range",
            SpanStatus::Unimplemented => "unimplemented",
            SpanStatus::InternalError => "internal_error",
            SpanStatus::Unavailable => "unavailable",
            SpanStatus::DataLoss => "data_loss",
            SpanStatus::Unauthenticated => "unauthenticated",
        }
    }
}

impl fmt::Display for SpanStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `trace` context (`contexts.trace`): which trace and span an event or transaction belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceContext {
    /// The trace.
    pub trace_id: TraceId,
    /// The span: the transaction's own, or, on an event, the span that was current when it was captured.
    pub span_id: SpanId,
    /// The span's parent, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<SpanId>,
    /// The operation, e.g. `http.server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    /// How the span ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SpanStatus>,
    /// A description of the span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What made the span, e.g. `manual` or `auto.http.tower`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Data about the span.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub data: serde_json::Map<String, serde_json::Value>,
}

impl TraceContext {
    /// The context of span `span_id` in trace `trace_id`, with nothing else known.
    pub fn new(trace_id: TraceId, span_id: SpanId) -> Self {
        TraceContext {
            trace_id,
            span_id,
            parent_span_id: None,
            op: None,
            status: None,
            description: None,
            origin: None,
            data: serde_json::Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_nonzero_and_round_trip() {
        let a = TraceId::new();
        assert_ne!(a, TraceId::new());
        assert_eq!(a.to_string().len(), 32);
        assert_eq!(a.to_string().parse::<TraceId>(), Ok(a));
        let s = SpanId::new();
        assert_eq!(s.to_string().len(), 16);
        assert_eq!(s.to_string().parse::<SpanId>(), Ok(s));
        assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        assert_eq!(
            serde_json::from_str::<SpanId>(&format!("\"{s}\"")).unwrap(),
            s
        );
    }

    #[test]
    fn id_parsing_table() {
        let cases: &[(&str, bool)] = &[
            ("0123456789abcdef0123456789abcdef", true),
            ("0123456789ABCDEF0123456789ABCDEF", true),
            ("00000000000000000000000000000000", false),
            ("0123456789abcdef0123456789abcde", false),
            ("0123456789abcdef0123456789abcdef0", false),
            ("0123456789abcdef0123456789abcdeg", false),
            ("+123456789abcdef0123456789abcdef", false),
            ("0123456789abcdef-123456789abcdef", false),
            ("", false),
            ("ééééééééééééééé0", false),
        ];
        for &(text, ok) in cases {
            assert_eq!(text.parse::<TraceId>().is_ok(), ok, "{text:?}");
        }
        assert!("0123456789abcdef".parse::<SpanId>().is_ok());
        assert!("0000000000000000".parse::<SpanId>().is_err());
        assert!("0123456789abcde".parse::<SpanId>().is_err());
    }

    #[test]
    fn statuses_have_their_wire_names() {
        for status in [
            SpanStatus::Ok,
            SpanStatus::DeadlineExceeded,
            SpanStatus::Unauthenticated,
        ] {
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{}\"", status.as_str())
            );
        }
        let cases: &[(u16, Option<SpanStatus>)] = &[
            (200, Some(SpanStatus::Ok)),
            (302, Some(SpanStatus::Ok)),
            (404, Some(SpanStatus::NotFound)),
            (418, Some(SpanStatus::InvalidArgument)),
            (429, Some(SpanStatus::ResourceExhausted)),
            (500, Some(SpanStatus::InternalError)),
            (503, Some(SpanStatus::Unavailable)),
            (504, Some(SpanStatus::DeadlineExceeded)),
            (100, None),
            (600, None),
        ];
        for &(code, want) in cases {
            assert_eq!(SpanStatus::from_http_status(code), want, "{code}");
        }
    }
}
