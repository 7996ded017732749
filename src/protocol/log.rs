//! Sentry Logs on the wire: one structured log record ([`Log`]), its typed attributes ([`LogValue`]) and its
//! level ([`LogLevel`]). Records travel in a `log` item, a container of at most 100 (`{"items": [...]}`), whose
//! header names how many it holds (`item_count`) and its content type.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::time::Timestamp;
use super::trace::{SpanId, TraceId};

/// The `content_type` of a `log` item.
pub const LOG_CONTENT_TYPE: &str = "application/vnd.sentry.items.log+json";

/// The most records in one `log` item.
pub const MAX_LOGS_PER_ITEM: usize = 100;

/// The severity of a log record. Written `warn`, not `warning` as events write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Finer than debugging detail.
    Trace,
    /// Debugging detail.
    Debug,
    /// Informational.
    Info,
    /// A warning.
    Warn,
    /// An error.
    Error,
    /// A failure that ends the program or the unit of work.
    Fatal,
}

impl LogLevel {
    /// The OpenTelemetry severity number: the lowest of the level's range (1, 5, 9, 13, 17, 21).
    pub fn severity_number(self) -> u8 {
        match self {
            LogLevel::Trace => 1,
            LogLevel::Debug => 5,
            LogLevel::Info => 9,
            LogLevel::Warn => 13,
            LogLevel::Error => 17,
            LogLevel::Fatal => 21,
        }
    }

    /// The level's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Fatal => "fatal",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed attribute value (or message parameter): a string, a boolean, an integer or a float. Written
/// `{"value": …, "type": "string" | "boolean" | "integer" | "double"}`.
#[derive(Clone, Debug, PartialEq)]
pub enum LogValue {
    /// Text.
    String(Cow<'static, str>),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Integer(i64),
    /// A float.
    Double(f64),
}

impl LogValue {
    /// The attribute's `type` on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            LogValue::String(_) => "string",
            LogValue::Bool(_) => "boolean",
            LogValue::Integer(_) => "integer",
            LogValue::Double(_) => "double",
        }
    }

    /// A JSON value (a field or key-value as the integrations read it) as a typed value: booleans, integers, floats
    /// and strings as themselves, anything else as its JSON text.
    pub fn from_json(value: &serde_json::Value) -> Self {
        match value {
            serde_json::Value::Bool(b) => LogValue::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => LogValue::Integer(i),
                None => n
                    .as_f64()
                    .map_or_else(|| n.to_string().into(), LogValue::Double),
            },
            serde_json::Value::String(s) => s.clone().into(),
            other => other.to_string().into(),
        }
    }
}

impl fmt::Display for LogValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogValue::String(s) => f.write_str(s),
            LogValue::Bool(b) => write!(f, "{b}"),
            LogValue::Integer(n) => write!(f, "{n}"),
            LogValue::Double(x) => write!(f, "{x}"),
        }
    }
}

impl From<&str> for LogValue {
    fn from(s: &str) -> Self {
        LogValue::String(Cow::Owned(s.to_owned()))
    }
}

impl From<String> for LogValue {
    fn from(s: String) -> Self {
        LogValue::String(Cow::Owned(s))
    }
}

impl From<&String> for LogValue {
    fn from(s: &String) -> Self {
        LogValue::String(Cow::Owned(s.clone()))
    }
}

impl From<Cow<'static, str>> for LogValue {
    fn from(s: Cow<'static, str>) -> Self {
        LogValue::String(s)
    }
}

impl From<bool> for LogValue {
    fn from(b: bool) -> Self {
        LogValue::Bool(b)
    }
}

impl From<char> for LogValue {
    fn from(c: char) -> Self {
        LogValue::String(Cow::Owned(c.to_string()))
    }
}

macro_rules! integer_values {
    ($($t:ty),*) => {$(
        impl From<$t> for LogValue {
            fn from(n: $t) -> Self {
                LogValue::Integer(i64::from(n))
            }
        }
    )*};
}
integer_values!(i8, i16, i32, i64, u8, u16, u32);

/// Integers that may not fit an `i64` are kept exactly: as an integer when they fit, else as text.
macro_rules! wide_integer_values {
    ($($t:ty),*) => {$(
        impl From<$t> for LogValue {
            fn from(n: $t) -> Self {
                i64::try_from(n).map_or_else(|_| LogValue::String(Cow::Owned(n.to_string())), LogValue::Integer)
            }
        }
    )*};
}
wide_integer_values!(u64, usize, isize, i128, u128);

impl From<f64> for LogValue {
    fn from(x: f64) -> Self {
        LogValue::Double(x)
    }
}

impl From<f32> for LogValue {
    fn from(x: f32) -> Self {
        LogValue::Double(f64::from(x))
    }
}

impl Serialize for LogValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        match self {
            LogValue::String(v) => map.serialize_entry("value", v)?,
            LogValue::Bool(v) => map.serialize_entry("value", v)?,
            LogValue::Integer(v) => map.serialize_entry("value", v)?,
            // JSON has no NaN or infinity: their text, still typed `double`.
            LogValue::Double(v) if v.is_finite() => map.serialize_entry("value", v)?,
            LogValue::Double(v) => map.serialize_entry("value", &v.to_string())?,
        }
        map.serialize_entry("type", self.type_name())?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for LogValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Typed {
            value: serde_json::Value,
            #[serde(rename = "type")]
            ty: String,
        }
        let Typed { value, ty } = Typed::deserialize(d)?;
        let wrong = || serde::de::Error::custom(format!("a {ty} attribute holds {value}"));
        Ok(match ty.as_str() {
            "string" => LogValue::String(Cow::Owned(value.as_str().ok_or_else(wrong)?.to_owned())),
            "boolean" => LogValue::Bool(value.as_bool().ok_or_else(wrong)?),
            "integer" => LogValue::Integer(value.as_i64().ok_or_else(wrong)?),
            "double" => LogValue::Double(match &value {
                serde_json::Value::String(text) => text.parse().map_err(|_| wrong())?,
                other => other.as_f64().ok_or_else(wrong)?,
            }),
            _ => {
                return Err(serde::de::Error::custom(format!(
                    "unknown attribute type {ty}"
                )));
            }
        })
    }
}

/// One log record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Log {
    /// When it was written.
    pub timestamp: Timestamp,
    /// The trace it belongs to: the current span's, or the scope's.
    pub trace_id: TraceId,
    /// The span it was written in, if one was current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<SpanId>,
    /// Its severity.
    pub level: LogLevel,
    /// The message, with its parameters in place.
    pub body: String,
    /// The OpenTelemetry severity number of `level`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_number: Option<u8>,
    /// Typed attributes: the program's, then the SDK's (`sentry.release`, `sentry.message.template`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, LogValue>,
}

/// The payload of a `log` item: `{"items": [...]}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LogContainer {
    /// At most [`MAX_LOGS_PER_ITEM`].
    pub items: Vec<Log>,
}

impl LogContainer {
    /// The size of its records as JSON, as client reports count them (`log_byte`).
    pub(crate) fn record_bytes(&self) -> u64 {
        self.items
            .iter()
            .map(|log| serde_json::to_vec(log).map_or(0, |json| json.len() as u64))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_is_written_as_the_spec_shows_it() {
        let mut attributes = BTreeMap::new();
        attributes.insert("order.id".to_owned(), LogValue::from(42_u32));
        attributes.insert("vip".to_owned(), LogValue::from(true));
        attributes.insert("total".to_owned(), LogValue::from(12.5));
        attributes.insert("city".to_owned(), LogValue::from("Oslo"));
        attributes.insert("big".to_owned(), LogValue::from(u64::MAX));
        let log = Log {
            timestamp: Timestamp::from_secs_f64(1_795_428_000.25).unwrap(),
            trace_id: "0af7651916cd43dd8448eb211c80319c".parse().unwrap(),
            span_id: Some("b7ad6b7169203331".parse().unwrap()),
            level: LogLevel::Warn,
            body: "order 42 shipped".into(),
            severity_number: Some(LogLevel::Warn.severity_number()),
            attributes,
        };
        let json = serde_json::to_value(&log).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "timestamp": 1_795_428_000.25,
                "trace_id": "0af7651916cd43dd8448eb211c80319c",
                "span_id": "b7ad6b7169203331",
                "level": "warn",
                "body": "order 42 shipped",
                "severity_number": 13,
                "attributes": {
                    "big": {"value": "18446744073709551615", "type": "string"},
                    "city": {"value": "Oslo", "type": "string"},
                    "order.id": {"value": 42, "type": "integer"},
                    "total": {"value": 12.5, "type": "double"},
                    "vip": {"value": true, "type": "boolean"}
                }
            })
        );
        let back: Log = serde_json::from_value(json).unwrap();
        assert_eq!(back, log);
    }

    #[test]
    fn levels_and_odd_values() {
        let levels = [
            LogLevel::Trace,
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
            LogLevel::Fatal,
        ];
        let numbers: Vec<u8> = levels.iter().map(|l| l.severity_number()).collect();
        assert_eq!(numbers, [1, 5, 9, 13, 17, 21]);
        for level in levels {
            assert_eq!(serde_json::to_value(level).unwrap(), level.as_str());
        }
        assert_eq!(
            serde_json::to_string(&LogValue::Double(f64::NAN)).unwrap(),
            r#"{"value":"NaN","type":"double"}"#
        );
        assert!(serde_json::from_str::<LogValue>(r#"{"value":"x","type":"integer"}"#).is_err());
        assert!(serde_json::from_str::<LogValue>(r#"{"value":1,"type":"array"}"#).is_err());
    }
}
