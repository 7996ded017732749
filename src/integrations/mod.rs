//! Integrations that turn what other libraries report into breadcrumbs and events.
//!
//! - [`log`] (feature `log`, on by default): a [`log::Logger`] that wraps the application's own logger.
//! - [`tracing`] (feature `tracing`): a [`tracing::Layer`] for `tracing-subscriber`.
//!
//! Both map levels the same way (`Warn` becomes `warning`), turn an error attached to a record into an exception
//! chain, and ignore the targets of the SDK itself and of its HTTP stack (`faultline`, `ureq`, `ureq_proto`,
//! `rustls`), so that reporting can never feed itself. [`crate::capture_anyhow`] (feature `anyhow`) lives at the
//! crate root.
//!
//! Integrations reach the SDK through the same capture pipeline as the public functions; nothing in the client
//! names an integration.

#[cfg(feature = "anyhow")]
pub(crate) mod anyhow;
#[cfg(feature = "log")]
#[cfg_attr(docsrs, doc(cfg(feature = "log")))]
pub mod log;
#[cfg(feature = "panic")]
pub(crate) mod panic;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub mod tracing;

#[cfg(any(feature = "log", feature = "tracing", feature = "anyhow"))]
pub(crate) use capture::*;
#[cfg(any(feature = "log", feature = "tracing"))]
pub(crate) use records::*;

/// The capture pipeline for integrations: like the public `capture_*` functions, with fields of their own.
#[cfg(any(feature = "log", feature = "tracing", feature = "anyhow"))]
mod capture {
    use crate::hub::{self, Hub};
    use crate::protocol::{Event, EventId, Exception};

    /// Captures an error event whose exceptions `exceptions` makes (root cause first); `fill` sets the other fields.
    /// Both run only for an event that is kept (see `Client::capture_exceptions`).
    pub(crate) fn capture_exceptions(
        exceptions: impl FnOnce() -> Vec<Exception>,
        fill: impl FnOnce(&mut Event),
    ) -> EventId {
        match hub::client() {
            Some(client) => {
                Hub::with_current(|hub| client.capture_exceptions(hub.as_ref(), exceptions, fill))
            }
            None => EventId::nil(),
        }
    }

    /// Captures a message event at `level`; `fill` sets the other fields, only for an event that is kept.
    #[cfg(any(feature = "log", feature = "tracing"))]
    pub(crate) fn capture_message(
        message: &str,
        level: crate::protocol::level::Level,
        fill: impl FnOnce(&mut Event),
    ) -> EventId {
        match hub::client() {
            Some(client) => {
                Hub::with_current(|hub| client.capture_message(hub.as_ref(), message, level, fill))
            }
            None => EventId::nil(),
        }
    }
}

/// What the `log` and `tracing` integrations share: the ignore list and the guard against feedback.
#[cfg(any(feature = "log", feature = "tracing"))]
mod records {
    use std::cell::Cell;

    /// Targets that are never turned into breadcrumbs or events unless the user asks: the SDK's own and those of
    /// its HTTP stack, which log while the worker sends. Reporting them could feed the SDK its own traffic.
    pub(crate) const DEFAULT_IGNORED_TARGETS: &[&str] =
        &["faultline", "ureq", "ureq_proto", "rustls"];

    /// Whether `target` is one of `ignored` or lies under it (`ureq` matches `ureq` and `ureq::pool`, not
    /// `ureq_proto` nor `ureqx`).
    pub(crate) fn is_ignored_target<S: AsRef<str>>(target: &str, ignored: &[S]) -> bool {
        ignored.iter().any(|prefix| {
            let prefix = prefix.as_ref();
            target
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
    }

    thread_local! {
        /// Set while this thread turns a record into a breadcrumb or an event.
        static BUSY: Cell<bool> = const { Cell::new(false) };
    }

    /// Runs `f` unless this thread is already inside an integration (a `before_breadcrumb` callback that logs) or is
    /// the SDK's worker (a `before_send` callback that logs): a record produced while reporting is never reported,
    /// or one error log could produce events without end.
    pub(crate) fn guarded(f: impl FnOnce()) {
        // `try_with`: a record can be logged while thread-locals are being destroyed.
        let entered = BUSY.try_with(|busy| !busy.replace(true)).unwrap_or(false);
        if !entered {
            return;
        }
        struct Leave;
        impl Drop for Leave {
            fn drop(&mut self) {
                let _ = BUSY.try_with(|busy| busy.set(false));
            }
        }
        let _leave = Leave;
        if std::thread::current().name() == Some(crate::client::WORKER_THREAD_NAME) {
            return;
        }
        f();
    }

    /// A breadcrumb's or an extra's value for a field that is a string, shortened like exception values.
    pub(crate) fn text_value(text: String) -> serde_json::Value {
        serde_json::Value::String(crate::chain::truncate(text, crate::chain::MAX_VALUE_LEN))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn targets_match_on_path_boundaries() {
            let ignored = DEFAULT_IGNORED_TARGETS;
            for target in [
                "ureq",
                "ureq::pool",
                "ureq_proto::client",
                "rustls::conn",
                "faultline::worker",
            ] {
                assert!(is_ignored_target(target, ignored), "{target}");
            }
            for target in ["ureqx", "app::ureq", "faultline_demo", "rustlsx::a", ""] {
                assert!(!is_ignored_target(target, ignored), "{target}");
            }
            assert!(!is_ignored_target("anything", &[""; 0]));
        }

        #[test]
        fn guard_refuses_reentry() {
            let mut inner_ran = false;
            let mut outer_ran = false;
            guarded(|| {
                outer_ran = true;
                guarded(|| inner_ran = true);
            });
            assert!(outer_ran && !inner_ran);
            let mut again = false;
            guarded(|| again = true);
            assert!(again, "the guard is released afterwards");
        }
    }
}
