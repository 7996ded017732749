//! Cron monitoring on the wire: a `check_in` item, one run of a monitored job starting or ending, with the
//! monitor's configuration for the server to create or update it (upsert).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::event::EventId;

/// How a run of a monitored job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckInStatus {
    /// It started.
    InProgress,
    /// It ended well.
    Ok,
    /// It failed.
    Error,
}

/// When a monitored job is expected to run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum MonitorSchedule {
    /// A crontab expression, e.g. `0 * * * *`.
    Crontab {
        /// The expression.
        value: String,
    },
    /// Every `value` `unit`s.
    Interval {
        /// How many units.
        value: u64,
        /// `year`, `month`, `week`, `day`, `hour` or `minute`.
        unit: MonitorIntervalUnit,
    },
}

/// The unit of an interval schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MonitorIntervalUnit {
    /// Years.
    Year,
    /// Months.
    Month,
    /// Weeks.
    Week,
    /// Days.
    Day,
    /// Hours.
    Hour,
    /// Minutes.
    Minute,
}

/// A monitor's configuration, sent with a check-in so the server creates or updates the monitor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorConfig {
    /// When it runs.
    pub schedule: MonitorSchedule,
    /// How many minutes late a run may start before it counts as missed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkin_margin: Option<u64>,
    /// How many minutes a run may take before it counts as failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_runtime: Option<u64>,
    /// How many failed runs in a row open an issue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_issue_threshold: Option<u64>,
    /// How many good runs in a row resolve it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_threshold: Option<u64>,
    /// The schedule's time zone (a tz database name, e.g. `Europe/Oslo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Who owns it (`user:…` or `team:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl MonitorConfig {
    /// A configuration with this schedule and nothing else set.
    pub fn new(schedule: MonitorSchedule) -> Self {
        MonitorConfig {
            schedule,
            checkin_margin: None,
            max_runtime: None,
            failure_issue_threshold: None,
            recovery_threshold: None,
            timezone: None,
            owner: None,
        }
    }
}

/// A `check_in` item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckIn {
    /// The run's id: the same for its `in_progress` and its end. Written as 32 hex digits.
    pub check_in_id: EventId,
    /// The monitor's slug.
    pub monitor_slug: String,
    /// How the run stands.
    pub status: CheckInStatus,
    /// How long it ran, in seconds (with `ok` and `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// The release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// The environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The trace the run belongs to (`trace.trace_id`), which links its errors.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub contexts: BTreeMap<String, serde_json::Value>,
    /// The monitor's configuration, for the server to create or update it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_config: Option<MonitorConfig>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_in_is_written_as_relay_reads_it() {
        let mut config = MonitorConfig::new(MonitorSchedule::Crontab {
            value: "0 * * * *".into(),
        });
        config.checkin_margin = Some(5);
        config.max_runtime = Some(30);
        config.timezone = Some("Europe/Oslo".into());
        let check_in = CheckIn {
            check_in_id: "83a7c03ed0a04e1b97e2e3b18d38f244".parse().unwrap(),
            monitor_slug: "nightly-import".into(),
            status: CheckInStatus::InProgress,
            duration: None,
            release: Some("app@1".into()),
            environment: None,
            contexts: BTreeMap::new(),
            monitor_config: Some(config),
        };
        assert_eq!(
            serde_json::to_value(&check_in).unwrap(),
            serde_json::json!({
                "check_in_id": "83a7c03ed0a04e1b97e2e3b18d38f244",
                "monitor_slug": "nightly-import",
                "status": "in_progress",
                "release": "app@1",
                "monitor_config": {
                    "schedule": {"type": "crontab", "value": "0 * * * *"},
                    "checkin_margin": 5,
                    "max_runtime": 30,
                    "timezone": "Europe/Oslo"
                }
            })
        );
        let interval = MonitorSchedule::Interval {
            value: 10,
            unit: MonitorIntervalUnit::Minute,
        };
        assert_eq!(
            serde_json::to_value(interval).unwrap(),
            serde_json::json!({"type": "interval", "value": 10, "unit": "minute"})
        );
    }
}
