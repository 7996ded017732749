//! Release health on the wire: one session's state (the `session` item) and per-minute counts of many sessions (the
//! `sessions` item).
//!
//! Times are RFC 3339 strings here, not float seconds as in events: Relay reads `started` and `timestamp` as
//! date-times and rejects numbers.

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::time::{Rfc3339, parse_rfc3339};

/// How a session stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    /// Still running.
    #[default]
    Ok,
    /// Ended normally.
    Exited,
    /// Ended by an unhandled error, such as a panic.
    Crashed,
    /// Ended without the SDK seeing how: the process was killed, or never shut the SDK down. Found at the next
    /// start.
    Abnormal,
}

impl SessionStatus {
    /// Whether the session has ended: no update may follow.
    pub fn is_terminal(self) -> bool {
        self != SessionStatus::Ok
    }
}

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionStatus::Ok => "ok",
            SessionStatus::Exited => "exited",
            SessionStatus::Crashed => "crashed",
            SessionStatus::Abnormal => "abnormal",
        })
    }
}

/// What every session of one release and environment shares: `attrs` on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAttributes {
    /// The release; required (the server drops a session without one).
    pub release: String,
    /// The environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// A `session` item: the whole current state of one session. The first update the server sees has `init: true`;
/// once a session is `exited`, `crashed` or `abnormal`, no update follows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionUpdate {
    /// The session's id, chosen by the SDK; written dashed.
    #[serde(with = "dashed")]
    pub sid: Uuid,
    /// The distinct id of the user or device, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did: Option<String>,
    /// Whether this is the session's first update.
    #[serde(default)]
    pub init: bool,
    /// When the session started.
    #[serde(with = "rfc3339")]
    pub started: SystemTime,
    /// When this update was made.
    #[serde(with = "rfc3339")]
    pub timestamp: SystemTime,
    /// How long the session ran, in seconds; only an `exited` session's counts in the server's duration figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// How it stands.
    pub status: SessionStatus,
    /// How many errors it had so far (at least 1 once crashed).
    #[serde(default)]
    pub errors: u64,
    /// Release and environment.
    pub attrs: SessionAttributes,
}

/// A `sessions` item: counts of sessions that ended, per minute they started in (and per user, where known).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionAggregates {
    /// At most 100 buckets per item.
    pub aggregates: Vec<SessionAggregate>,
    /// Release and environment of every session counted.
    pub attrs: SessionAttributes,
}

/// One bucket of a [`SessionAggregates`]: the sessions that started in one minute, by how they ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAggregate {
    /// The start of the minute, to the second.
    #[serde(with = "rfc3339")]
    pub started: SystemTime,
    /// The distinct id of the user, if the sessions had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did: Option<String>,
    /// Ended without an error.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub exited: u32,
    /// Ended normally after one or more handled errors.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub errored: u32,
    /// Ended without the SDK seeing how.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub abnormal: u32,
    /// Ended by an unhandled error.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub crashed: u32,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A UUID as its dashed text.
mod dashed {
    use serde::{Deserialize, Deserializer, Serializer};
    use uuid::Uuid;

    pub(super) fn serialize<S: Serializer>(id: &Uuid, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&id.hyphenated())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Uuid, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Uuid::parse_str(&text).map_err(serde::de::Error::custom)
    }
}

/// A time as RFC 3339 text in UTC.
mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::{Rfc3339, parse_rfc3339};

    pub(super) fn serialize<S: Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&Rfc3339(*time))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse_rfc3339(&text).ok_or_else(|| serde::de::Error::custom("not an RFC 3339 time"))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn an_update_is_written_as_relay_reads_it() {
        let started = UNIX_EPOCH + Duration::from_secs(1_795_428_000);
        let update = SessionUpdate {
            sid: Uuid::from_u128(0x7c7b_6585_f901_4351_bf8d_0271_1b72_1929),
            did: Some("user-42".into()),
            init: true,
            started,
            timestamp: started + Duration::from_secs(300),
            duration: Some(300.0),
            status: SessionStatus::Exited,
            errors: 0,
            attrs: SessionAttributes {
                release: "app@1.0.0".into(),
                environment: Some("production".into()),
            },
        };
        let json = serde_json::to_value(&update).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "sid": "7c7b6585-f901-4351-bf8d-02711b721929",
                "did": "user-42",
                "init": true,
                "started": "2026-11-23T10:00:00.000000Z",
                "timestamp": "2026-11-23T10:05:00.000000Z",
                "duration": 300.0,
                "status": "exited",
                "errors": 0,
                "attrs": {"release": "app@1.0.0", "environment": "production"}
            })
        );
        let back: SessionUpdate = serde_json::from_value(json).unwrap();
        assert_eq!(back, update);
    }

    #[test]
    fn aggregates_leave_out_empty_counts() {
        let started = UNIX_EPOCH + Duration::from_secs(1_795_428_060);
        let item = SessionAggregates {
            aggregates: vec![SessionAggregate {
                started,
                did: None,
                exited: 120,
                errored: 3,
                abnormal: 0,
                crashed: 0,
            }],
            attrs: SessionAttributes {
                release: "app@1.0.0".into(),
                environment: None,
            },
        };
        assert_eq!(
            serde_json::to_string(&item).unwrap(),
            r#"{"aggregates":[{"started":"2026-11-23T10:01:00.000000Z","exited":120,"errored":3}],"attrs":{"release":"app@1.0.0"}}"#
        );
    }

    #[test]
    fn a_number_for_a_time_is_refused_as_relay_refuses_it() {
        let json = r#"{"sid":"7c7b6585-f901-4351-bf8d-02711b721929","started":1795428000,"timestamp":"2026-11-23T10:05:00Z","status":"ok","attrs":{"release":"a"}}"#;
        assert!(serde_json::from_str::<SessionUpdate>(json).is_err());
    }
}
