//! Structured logs, sent to Sentry Logs (with [`ClientOptions::enable_logs`](crate::ClientOptions::enable_logs)).
//!
//! Each record has a level, a message template with `{}` where each parameter goes, typed parameters and
//! attributes. The macros take attributes first (`key = value`, keys may be dotted or string literals), then the
//! template and its parameters:
//!
//! ```
//! # faultline::test::with_captured_events(|| {
//! let order = 1042;
//! faultline::logs::info!("order {} shipped", order);
//! faultline::logs::warn!(order.id = order, vip = true, "order {} is {} days late", order, 3);
//! faultline::logs::error!("payment.provider" = "acme", "payment refused");
//! // Or without macros:
//! faultline::logs::Record::new(faultline::logs::LogLevel::Info, "cache warmed in {} ms")
//!     .param(412)
//!     .attribute("cache.entries", 20_000)
//!     .capture();
//! # });
//! ```
//!
//! The caller copies the template, the parameters and the attributes and pushes the record onto a queue of its own:
//! the body is formatted, the SDK's attributes added (`sentry.message.template` and `sentry.message.parameter.N`,
//! release, environment, SDK, server, and the user with `send_default_pii`), the record scrubbed and passed to
//! `before_send_log` on the worker. Every record carries the trace id of the current span or scope, and the span id
//! when a span is current. Parameters and attributes are strings, booleans, integers or floats ([`LogValue`]);
//! give anything else as text (`value.to_string()`).
//!
//! While logs are off (the default, or the SDK disabled) a macro costs one check and evaluates none of its
//! arguments.

use std::borrow::Cow;

pub use crate::protocol::log::{LogLevel, LogValue};

use crate::client::Client;
use crate::hub::{self, Hub};
use crate::message::PendingLog;
use crate::protocol::time::Timestamp;

/// A log record being built; [`Record::capture`] sends it.
#[derive(Clone, Debug)]
#[must_use = "a record is sent by `capture`"]
pub struct Record {
    level: LogLevel,
    template: Cow<'static, str>,
    params: Vec<LogValue>,
    attributes: Vec<(Cow<'static, str>, LogValue)>,
    origin: Option<&'static str>,
}

impl Record {
    /// A record at `level` with `template` as its message: `{}` stands for the next parameter, `{{` and `}}` for
    /// braces.
    pub fn new(level: LogLevel, template: impl Into<Cow<'static, str>>) -> Self {
        Record {
            level,
            template: template.into(),
            params: Vec::new(),
            attributes: Vec::new(),
            origin: None,
        }
    }

    /// Adds the next parameter of the template.
    pub fn param(mut self, value: impl Into<LogValue>) -> Self {
        self.params.push(value.into());
        self
    }

    /// Adds an attribute; a later one with the same key wins.
    pub fn attribute(
        mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<LogValue>,
    ) -> Self {
        self.attributes.push((key.into(), value.into()));
        self
    }

    /// Marks a record made by an integration (`sentry.origin`, e.g. `auto.log.log`).
    #[cfg_attr(
        not(any(feature = "log", feature = "tracing")),
        expect(dead_code, reason = "only the integrations set an origin")
    )]
    pub(crate) fn origin(mut self, origin: &'static str) -> Self {
        self.origin = Some(origin);
        self
    }

    /// Sends the record: it waits with the others for the worker, which sends them by the hundred. Does nothing
    /// while logs are off.
    pub fn capture(self) {
        if let Some(client) = hub::client().filter(|c| c.options.sends_logs()) {
            self.capture_with(&client);
        }
    }

    fn capture_with(self, client: &Client) {
        let timestamp = Timestamp::now();
        let with_user = client.options.send_default_pii;
        let (trace_id, span_id, user) =
            Hub::with_current(|hub| hub.top().record_context(with_user));
        client.capture_log(PendingLog {
            timestamp,
            level: self.level,
            template: self.template,
            params: self.params,
            attributes: self.attributes,
            trace_id,
            span_id,
            origin: self.origin,
            user,
        });
    }
}

/// Whether log records are sent now: the SDK is enabled with [`enable_logs`](crate::ClientOptions::enable_logs).
/// The macros check it before they evaluate their arguments.
pub fn enabled() -> bool {
    hub::with_client(|client| client.options.sends_logs()).unwrap_or(false)
}

/// Sends a record at `level` with `message` and no parameters or attributes.
pub fn log(level: LogLevel, message: impl Into<Cow<'static, str>>) {
    if enabled() {
        Record::new(level, message).capture();
    }
}

#[doc(hidden)]
#[macro_export]
macro_rules! __faultline_log {
    (@munch $level:expr; [$($acc:tt)*]; $($key:ident).+ = $value:expr, $($rest:tt)+) => {
        $crate::__faultline_log!(@munch $level; [$($acc)* (stringify!($($key).+), $value)]; $($rest)+)
    };
    (@munch $level:expr; [$($acc:tt)*]; $key:literal = $value:expr, $($rest:tt)+) => {
        $crate::__faultline_log!(@munch $level; [$($acc)* ($key, $value)]; $($rest)+)
    };
    (@munch $level:expr; [$(($key:expr, $value:expr))*]; $template:literal $(, $param:expr)* $(,)?) => {
        $crate::logs::Record::new($level, $template)
            $(.attribute($key, $value))*
            $(.param($param))*
            .capture()
    };
    ($level:expr; $($rest:tt)+) => {
        if $crate::logs::enabled() {
            $crate::__faultline_log!(@munch $level; []; $($rest)+)
        }
    };
}

macro_rules! level_macro {
    ($name:ident, $exported:ident, $level:ident, $what:literal) => {
        #[doc = concat!("Sends a log record at level `", $what, "`: attributes first (`key = value`, dotted keys")]
        /// or string literals), then the template and its parameters. See the [module documentation](self).
        ///
        /// ```
        /// # faultline::test::with_captured_events(|| {
        #[doc = concat!("faultline::logs::", stringify!($name), "!(job.id = 7, \"job {} took {} ms\", \"import\", 412);")]
        /// # });
        /// ```
        #[doc(inline)]
        pub use crate::$exported as $name;
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __faultline_logs_trace {
    ($($t:tt)+) => { $crate::__faultline_log!($crate::logs::LogLevel::Trace; $($t)+) };
}
#[doc(hidden)]
#[macro_export]
macro_rules! __faultline_logs_debug {
    ($($t:tt)+) => { $crate::__faultline_log!($crate::logs::LogLevel::Debug; $($t)+) };
}
#[doc(hidden)]
#[macro_export]
macro_rules! __faultline_logs_info {
    ($($t:tt)+) => { $crate::__faultline_log!($crate::logs::LogLevel::Info; $($t)+) };
}
#[doc(hidden)]
#[macro_export]
macro_rules! __faultline_logs_warn {
    ($($t:tt)+) => { $crate::__faultline_log!($crate::logs::LogLevel::Warn; $($t)+) };
}
#[doc(hidden)]
#[macro_export]
macro_rules! __faultline_logs_error {
    ($($t:tt)+) => { $crate::__faultline_log!($crate::logs::LogLevel::Error; $($t)+) };
}
#[doc(hidden)]
#[macro_export]
macro_rules! __faultline_logs_fatal {
    ($($t:tt)+) => { $crate::__faultline_log!($crate::logs::LogLevel::Fatal; $($t)+) };
}

level_macro!(trace, __faultline_logs_trace, Trace, "trace");
level_macro!(debug, __faultline_logs_debug, Debug, "debug");
level_macro!(info, __faultline_logs_info, Info, "info");
level_macro!(warn, __faultline_logs_warn, Warn, "warn");
level_macro!(error, __faultline_logs_error, Error, "error");
level_macro!(fatal, __faultline_logs_fatal, Fatal, "fatal");
