//! Cron monitoring: check-ins that tell the server a job started and how it ended, so it can say when a job
//! failed, ran too long, or did not run at all.
//!
//! ```
//! use faultline::protocol::{MonitorConfig, MonitorSchedule};
//!
//! # faultline::test::with_captured_events(|| {
//! let config = MonitorConfig::new(MonitorSchedule::Crontab { value: "0 3 * * *".into() });
//! let imported = faultline::check_ins::monitored("nightly-import", Some(config), || {
//!     // … the job …
//!     Ok::<_, std::io::Error>(1042)
//! });
//! # assert_eq!(imported.unwrap(), 1042);
//! # });
//! ```

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::Instant;

use crate::hub::{self, Hub};
use crate::protocol::{CheckIn, CheckInStatus, EventId, MonitorConfig};

/// Sends a check-in: a run of a monitored job starting (`in_progress`, with a fresh `check_in_id`) or ending (`ok`
/// or `error`, with the same id and the duration). It goes in an envelope of its own, skipping `before_send`, with
/// the current trace. Returns its `check_in_id` (the nil id while the SDK is disabled).
pub fn capture_check_in(check_in: CheckIn) -> EventId {
    match hub::client() {
        Some(client) => Hub::with_current(|hub| client.capture_check_in(hub.as_ref(), check_in)),
        None => EventId::nil(),
    }
}

/// A check-in for the monitor `slug` with this status, id and duration, and `config` for the server to create or
/// update the monitor.
fn check_in(
    slug: &str,
    id: EventId,
    status: CheckInStatus,
    duration: Option<f64>,
    config: Option<MonitorConfig>,
) -> CheckIn {
    CheckIn {
        check_in_id: id,
        monitor_slug: slug.to_owned(),
        status,
        duration,
        release: None,
        environment: None,
        contexts: BTreeMap::new(),
        monitor_config: config,
    }
}

/// Runs `job` as one run of the monitor `slug`: sends `in_progress` (with `config`, if any, so the server creates or
/// updates the monitor), runs the job, then sends `ok` or `error` (the job returned `Err`) with the same
/// `check_in_id` and the duration. When the job panics it sends `error` and the panic goes on.
pub fn monitored<T, E>(
    slug: &str,
    config: Option<MonitorConfig>,
    job: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let id = EventId::new();
    capture_check_in(check_in(
        slug,
        id,
        CheckInStatus::InProgress,
        None,
        config.clone(),
    ));
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(job));
    let duration = Some(started.elapsed().as_secs_f64());
    let status = match &outcome {
        Ok(Ok(_)) => CheckInStatus::Ok,
        Ok(Err(_)) | Err(_) => CheckInStatus::Error,
    };
    capture_check_in(check_in(slug, id, status, duration, config));
    match outcome {
        Ok(result) => result,
        Err(panic) => resume_unwind(panic),
    }
}
