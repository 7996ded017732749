//! `ClientOptions`: everything `init` can be told, with every default stated where it is set.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::performance::sampler::SamplingContext;
use crate::protocol::{Breadcrumb, Event, Log, Metric};
use crate::transport::Transport;

/// A callback that sees every event before it is sent and may change it or drop it (by returning `None`).
///
/// It runs on the SDK's worker thread, not on the thread that captured the event. A panic inside it is caught: the
/// event is dropped and counted as `before_send`.
pub type BeforeSend = Arc<dyn Fn(Event) -> Option<Event> + Send + Sync>;

/// A callback that sees every breadcrumb before it is recorded and may change it or drop it (by returning `None`).
///
/// It runs on the thread that adds the breadcrumb. A panic inside it is caught and the breadcrumb dropped.
pub type BeforeBreadcrumb = Arc<dyn Fn(Breadcrumb) -> Option<Breadcrumb> + Send + Sync>;

/// A callback that sees every metric measurement on the worker before it is sent and may change it or drop it (by
/// returning `None`).
pub type BeforeSendMetric = Arc<dyn Fn(Metric) -> Option<Metric> + Send + Sync>;

/// A callback that sees every log record on the worker before it is sent and may change it or drop it (by
/// returning `None`).
pub type BeforeSendLog = Arc<dyn Fn(Log) -> Option<Log> + Send + Sync>;

pub use crate::performance::sampler::TracesSampler;

/// Configuration for [`crate::init()`].
///
/// Build it with [`ClientOptions::new`] and the chainable setters, or convert a DSN string into it:
///
/// ```
/// use std::time::Duration;
/// use faultline::ClientOptions;
///
/// let options = ClientOptions::new()
///     .dsn("https://key@errors.example.com/42")
///     .release("my-app@1.2.3")
///     .environment("production")
///     .sample_rate(0.5)
///     .shutdown_timeout(Duration::from_secs(5));
/// assert_eq!(options.sample_rate, 0.5);
///
/// let from_dsn: ClientOptions = "https://key@errors.example.com/42".into();
/// assert!(from_dsn.dsn.is_some());
/// ```
///
/// The fields are public so they can be read and adjusted, but values are only checked by [`crate::try_init`], which
/// returns an error for a DSN that does not parse or a sample rate outside 0.0..=1.0.
#[derive(Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Where to send events. `None` disables the SDK: every call is a cheap no-op.
    pub dsn: Option<String>,
    /// The release, e.g. `my-app@1.2.3`.
    pub release: Option<Cow<'static, str>>,
    /// The environment, e.g. `production`.
    pub environment: Option<Cow<'static, str>>,
    /// The host's name; the machine's host name when `None`.
    pub server_name: Option<Cow<'static, str>>,
    /// The share of events to send, from 0.0 to 1.0.
    pub sample_rate: f64,
    /// Whether handled errors and messages carry the capturing thread's stack trace.
    pub attach_stacktrace: bool,
    /// How many breadcrumbs a scope keeps; the oldest go first.
    pub max_breadcrumbs: usize,
    /// How many events may wait for the worker thread; when it is full, new events are dropped and counted.
    pub queue_size: usize,
    /// How long dropping the guard, or a panic, waits for queued events to be delivered.
    pub shutdown_timeout: Duration,
    /// Whether SDK diagnostics are written to stderr.
    pub debug: bool,
    /// A callback that may change or drop each event.
    pub before_send: Option<BeforeSend>,
    /// A callback that may change or drop each breadcrumb.
    pub before_breadcrumb: Option<BeforeBreadcrumb>,
    /// Error type names that are never reported: the captured error's short name (`ParseIntError`) or its full
    /// path (`core::num::ParseIntError`).
    pub ignore_errors: Vec<String>,
    /// Words added to the scrubbing denylist (matched as substrings of keys, case-insensitively).
    pub scrub_keys: Vec<String>,
    /// Whether the built-in rules filter secrets inside free text (messages, exception values, breadcrumb
    /// messages); see [`ClientOptions::scrub_values`].
    pub scrub_values: bool,
    /// Regular expressions whose matches are filtered from free text; see [`ClientOptions::scrub_pattern`].
    pub scrub_patterns: Vec<String>,
    /// Module path prefixes whose frames are always in-app (e.g. `my_app`); wins over `in_app_exclude`.
    pub in_app_include: Vec<String>,
    /// Module path prefixes whose frames are never in-app.
    pub in_app_exclude: Vec<String>,
    /// Whether personal data (the user's IP address, …) may be sent without being set explicitly.
    pub send_default_pii: bool,
    /// How long a connection to the server may take to open.
    pub connect_timeout: Duration,
    /// How long one request to the server may take in all.
    pub http_timeout: Duration,
    /// A transport to use instead of the default HTTP one (tests, custom delivery).
    pub transport: Option<Arc<dyn Transport>>,
    /// Where envelopes wait on disk while the server cannot be reached.
    pub spool_dir: SpoolDir,
    /// The most envelopes the spool keeps; the oldest are evicted (and counted) beyond it.
    pub spool_max_files: usize,
    /// The most bytes the spool keeps; the oldest envelopes are evicted (and counted) beyond it.
    pub spool_max_bytes: u64,
    /// How long an envelope may wait in the spool; an older one is deleted unsent (and counted).
    pub spool_max_age: Duration,
    /// The longest pause between attempts while the server cannot be reached.
    pub max_retry_delay: Duration,
    /// The share of transactions that are recorded and sent, from 0.0 to 1.0; `None` turns performance monitoring
    /// off (errors still carry trace ids).
    pub traces_sample_rate: Option<f64>,
    /// Decides each transaction's sample rate instead of `traces_sample_rate`.
    pub traces_sampler: Option<TracesSampler>,
    /// Whether outgoing trace headers include W3C `traceparent` beside `sentry-trace`.
    pub propagate_traceparent: bool,
    /// Whether an incoming trace is continued only when it comes from the same Sentry organisation.
    pub strict_trace_continuation: bool,
    /// The Sentry organisation id, for `strict_trace_continuation`; read from an `oNNN.` DSN host when unset.
    pub org_id: Option<u64>,
    /// Whether only error events are sent: no transactions or other telemetry, for servers that drop them.
    pub errors_only: bool,
    /// How often counts of discarded events are sent on their own when no other envelope carries them.
    pub client_report_interval: Duration,
    /// Whether release health is recorded (sessions); it takes a `release`. See
    /// [`ClientOptions::auto_session_tracking`].
    pub auto_session_tracking: bool,
    /// What a session is: the whole process, or each request of a server. See [`ClientOptions::session_mode`].
    pub session_mode: SessionMode,
    /// Whether structured logs are sent (Sentry Logs). See [`ClientOptions::enable_logs`].
    pub enable_logs: bool,
    /// Sees each log record before it is sent; may change or drop it.
    pub before_send_log: Option<BeforeSendLog>,
    /// Whether metrics are sent (Sentry Metrics). See [`ClientOptions::enable_metrics`].
    pub enable_metrics: bool,
    /// The most bytes of attachments one event carries. See [`ClientOptions::max_attachment_bytes`].
    pub max_attachment_bytes: usize,
    /// Sees each metric measurement before it is sent; may change or drop it.
    pub before_send_metric: Option<BeforeSendMetric>,
    /// Records native crashes for the next start to send. See [`ClientOptions::native_crash_handler`].
    pub native_crash_handler: bool,
    /// An OpenTelemetry collector to export to as well; see [`ClientOptions::otlp`].
    #[cfg(feature = "otlp")]
    pub otlp: Option<crate::transport::OtlpOptions>,
}

/// What one release-health session stands for; see [`ClientOptions::session_mode`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionMode {
    /// One session from `init` to the guard's drop: for programs, tools and jobs.
    #[default]
    Application,
    /// One session per request handled by the tower layer, sent as per-minute counts: for servers.
    Request,
}

/// Where the offline spool lives; see [`ClientOptions::spool_dir`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpoolDir {
    /// A directory per project under the user's cache directory
    /// (`$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on Windows),
    /// `faultline/{host}-{port}-{project}`.
    #[default]
    Default,
    /// This directory.
    Path(std::path::PathBuf),
    /// No spool: envelopes that cannot be sent wait in memory, bounded by the queue size.
    Disabled,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            dsn: None,
            release: None,
            environment: None,
            server_name: None,
            sample_rate: 1.0,
            attach_stacktrace: true,
            max_breadcrumbs: 100,
            queue_size: 100,
            shutdown_timeout: Duration::from_secs(2),
            debug: false,
            before_send: None,
            before_breadcrumb: None,
            ignore_errors: Vec::new(),
            scrub_keys: Vec::new(),
            scrub_values: true,
            scrub_patterns: Vec::new(),
            in_app_include: Vec::new(),
            in_app_exclude: Vec::new(),
            send_default_pii: false,
            connect_timeout: Duration::from_secs(5),
            http_timeout: Duration::from_secs(30),
            transport: None,
            spool_dir: SpoolDir::Default,
            spool_max_files: 1000,
            spool_max_bytes: 64 * 1024 * 1024,
            spool_max_age: Duration::from_secs(30 * 24 * 60 * 60),
            max_retry_delay: crate::delivery::retry::DEFAULT_MAX_DELAY,
            traces_sample_rate: None,
            traces_sampler: None,
            propagate_traceparent: false,
            strict_trace_continuation: false,
            org_id: None,
            errors_only: false,
            client_report_interval: Duration::from_secs(30),
            auto_session_tracking: true,
            session_mode: SessionMode::Application,
            enable_logs: false,
            before_send_log: None,
            enable_metrics: false,
            before_send_metric: None,
            max_attachment_bytes: 20 * 1024 * 1024,
            native_crash_handler: true,
            #[cfg(feature = "otlp")]
            otlp: None,
        }
    }
}

impl ClientOptions {
    /// Options with every default.
    pub fn new() -> Self {
        ClientOptions::default()
    }

    /// Whether transactions are sampled at all: a `traces_sample_rate` or a `traces_sampler` is set, and not
    /// `errors_only`.
    pub(crate) fn samples_transactions(&self) -> bool {
        (self.traces_sample_rate.is_some() || self.traces_sampler.is_some()) && !self.errors_only
    }

    /// Sets the DSN. Defaults to `None` (then `SENTRY_DSN` is used if set; without either, the SDK is disabled).
    #[must_use]
    pub fn dsn(mut self, dsn: impl Into<String>) -> Self {
        self.dsn = Some(dsn.into());
        self
    }

    /// Sets the release. Defaults to `None` (then `SENTRY_RELEASE` is used if set).
    #[must_use]
    pub fn release(mut self, release: impl Into<Cow<'static, str>>) -> Self {
        self.release = Some(release.into());
        self
    }

    /// Sets the environment. Defaults to `None` (then `SENTRY_ENVIRONMENT` is used if set).
    #[must_use]
    pub fn environment(mut self, environment: impl Into<Cow<'static, str>>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// Sets the server name. Defaults to the machine's host name.
    #[must_use]
    pub fn server_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Sets the share of events that are sent, from 0.0 (none) to 1.0 (all). Defaults to `1.0`.
    ///
    /// The decision is made before any costly work and is derived from the event id. Events sampled out are counted
    /// as `sample_rate`. A value outside 0.0..=1.0 (or NaN) makes [`crate::try_init`] fail.
    #[must_use]
    pub fn sample_rate(mut self, rate: f64) -> Self {
        self.sample_rate = rate;
        self
    }

    /// Sets whether handled errors and messages carry a stack trace. Defaults to `true`.
    #[must_use]
    pub fn attach_stacktrace(mut self, on: bool) -> Self {
        self.attach_stacktrace = on;
        self
    }

    /// Sets how many breadcrumbs are kept. Defaults to `100`.
    #[must_use]
    pub fn max_breadcrumbs(mut self, n: usize) -> Self {
        self.max_breadcrumbs = n;
        self
    }

    /// Sets how many events may wait for the worker. Must be at least 1. Defaults to `100`.
    #[must_use]
    pub fn queue_size(mut self, n: usize) -> Self {
        self.queue_size = n;
        self
    }

    /// Sets how long shutdown and the panic hook wait for delivery. Defaults to 2 seconds.
    #[must_use]
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Sets whether SDK diagnostics go to stderr. Defaults to `false`.
    ///
    /// Diagnostics never include the DSN's keys or event contents, and never go through the `log` facade.
    #[must_use]
    pub fn debug(mut self, on: bool) -> Self {
        self.debug = on;
        self
    }

    /// Sets a callback that may change or drop each event. Defaults to none.
    #[must_use]
    pub fn before_send(
        mut self,
        f: impl Fn(Event) -> Option<Event> + Send + Sync + 'static,
    ) -> Self {
        self.before_send = Some(Arc::new(f));
        self
    }

    /// Sets a callback that may change or drop each breadcrumb. Defaults to none.
    #[must_use]
    pub fn before_breadcrumb(
        mut self,
        f: impl Fn(Breadcrumb) -> Option<Breadcrumb> + Send + Sync + 'static,
    ) -> Self {
        self.before_breadcrumb = Some(Arc::new(f));
        self
    }

    /// Never reports errors of this type: a short name (`ParseIntError`) or a full path
    /// (`core::num::ParseIntError`), matched against the captured error. Dropped errors are counted as
    /// `event_processor`. Defaults to none.
    #[must_use]
    pub fn ignore_error(mut self, type_name: impl Into<String>) -> Self {
        self.ignore_errors.push(type_name.into());
        self
    }

    /// Adds a word to the scrubbing denylist. Defaults to none beyond the built-in list (`password`, `secret`,
    /// `token`, `api_key`, `auth`, `cookie`, `session`, …).
    ///
    /// Unless [`ClientOptions::send_default_pii`] is on, values in `extra`, contexts, user data, breadcrumb data
    /// and tags whose key contains a denylisted word are replaced by `[Filtered]` before sending.
    #[must_use]
    pub fn scrub_key(mut self, word: impl Into<String>) -> Self {
        self.scrub_keys.push(word.into());
        self
    }

    /// Sets whether the built-in rules filter secrets written into free text. Defaults to `true`.
    ///
    /// Unless [`ClientOptions::send_default_pii`] is on, the worker replaces secrets in each event's message,
    /// exception values and breadcrumb messages with `[Filtered]` before any transport sees the event:
    /// authorization headers and schemes with their credentials (`Authorization: …`, `Bearer …`, `Basic …`,
    /// `Token …`), the values of `password=`, `secret:`, `"api_key": "…"` and similar pairs, passwords in URLs
    /// (`https://user:[Filtered]@host`), PEM private keys, and card numbers that pass the Luhn check. The crate
    /// documentation lists the rules exactly. Servers such as GlitchTip and Bugsink do not scrub text, and a
    /// JSON-lines file never meets a server, so this is the only place these secrets are caught for them.
    ///
    /// Patterns added with [`ClientOptions::scrub_pattern`] still apply when this is off.
    ///
    /// ```
    /// let events = faultline::test::with_captured_events(|| {
    ///     faultline::capture_message("login failed: password=hunter4", faultline::Level::Warning);
    /// });
    /// assert_eq!(events[0].message.as_deref(), Some("login failed: password=[Filtered]"));
    /// ```
    #[must_use]
    pub fn scrub_values(mut self, on: bool) -> Self {
        self.scrub_values = on;
        self
    }

    /// Adds a regular expression (the [regex crate's syntax](https://docs.rs/regex/1/regex/#syntax)) whose
    /// matches are filtered from free text: each match becomes `[Filtered]`, or, when the pattern has capture
    /// groups, only what the groups capture (`order_ref=([0-9]+)` keeps `order_ref=`). Defaults to none.
    ///
    /// Matching is Unicode-aware: `\w`, `\d`, `\s`, case-insensitive matching and property classes such as
    /// `\p{Greek}` all work as the regex crate documents them. Patterns also apply to span descriptions.
    ///
    /// Patterns apply where the built-in value rules do (messages, exception values, breadcrumb messages), unless
    /// [`ClientOptions::send_default_pii`] is on, and also with [`ClientOptions::scrub_values`] off. A pattern
    /// that does not compile makes [`crate::try_init`] fail with
    /// [`InitErrorKind::InvalidScrubPattern`](crate::InitErrorKind::InvalidScrubPattern).
    ///
    /// ```
    /// let options = faultline::ClientOptions::new().scrub_pattern(r"sk_live_[0-9a-zA-Z]+");
    /// let events = faultline::test::with_captured_events_options(options, || {
    ///     faultline::capture_message("charge failed with key sk_live_4eC39HqLyjW", faultline::Level::Error);
    /// });
    /// assert_eq!(events[0].message.as_deref(), Some("charge failed with key [Filtered]"));
    ///
    /// let err = faultline::try_init(faultline::ClientOptions::new().scrub_pattern("(")).unwrap_err();
    /// assert_eq!(err.to_string(), "invalid scrub pattern `(`: unclosed group");
    /// ```
    #[must_use]
    pub fn scrub_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.scrub_patterns.push(pattern.into());
        self
    }

    /// Adds a module prefix whose frames are always in-app. Defaults to none.
    #[must_use]
    pub fn in_app_include(mut self, prefix: impl Into<String>) -> Self {
        self.in_app_include.push(prefix.into());
        self
    }

    /// Adds a module prefix whose frames are never in-app. Defaults to none.
    #[must_use]
    pub fn in_app_exclude(mut self, prefix: impl Into<String>) -> Self {
        self.in_app_exclude.push(prefix.into());
        self
    }

    /// Sets whether personal data may be sent by default. Defaults to `false`.
    ///
    /// When it is on, the user's IP address is filled in by the server (`{{auto}}`) and nothing is scrubbed: neither
    /// values under sensitive keys nor secrets in text (built-in rules and [`ClientOptions::scrub_pattern`]s).
    #[must_use]
    pub fn send_default_pii(mut self, on: bool) -> Self {
        self.send_default_pii = on;
        self
    }

    /// Sets the connect timeout of the HTTP transport. Defaults to 5 seconds.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the overall timeout of one HTTP request. Defaults to 30 seconds.
    ///
    /// Flushing and shutdown never wait longer than their own timeouts, whatever this is.
    #[must_use]
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Sets where envelopes wait on disk while the server cannot be reached: `Some(dir)`, or `None` to keep them
    /// in memory only (bounded by the queue size, and lost if the process ends). Defaults to a directory per
    /// project under the user's cache directory (see [`SpoolDir::Default`]).
    ///
    /// Envelopes that cannot go out at once (the server is down or failing, others are already waiting, a
    /// shutdown ran out of time, a panic) are written to the spool and deleted once the server has accepted (or
    /// permanently rejected) them, so they survive outages, crashes and `SIGKILL`, and are sent by the next
    /// process that starts with the same DSN. A directory that cannot be used is reported with `debug` and the SDK
    /// carries on without a spool.
    #[must_use]
    pub fn spool_dir(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.spool_dir = match dir {
            Some(dir) => SpoolDir::Path(dir),
            None => SpoolDir::Disabled,
        };
        self
    }

    /// Sets the most envelopes the spool keeps. Defaults to `1000`.
    #[must_use]
    pub fn spool_max_files(mut self, n: usize) -> Self {
        self.spool_max_files = n;
        self
    }

    /// Sets the most bytes the spool keeps. Defaults to 64 MiB.
    #[must_use]
    pub fn spool_max_bytes(mut self, n: u64) -> Self {
        self.spool_max_bytes = n;
        self
    }

    /// Sets how long an envelope may wait in the spool. Defaults to 30 days, as far back as Sentry takes an
    /// event's timestamp. An envelope that waited longer is deleted unsent when its turn comes, and counted as
    /// `cache_overflow`.
    #[must_use]
    pub fn spool_max_age(mut self, age: Duration) -> Self {
        self.spool_max_age = age;
        self
    }

    /// Sets the longest pause between attempts while the server cannot be reached. Defaults to 60 seconds.
    ///
    /// After a failure (no answer, a timeout, a 408 or a 5xx) delivery waits before it tries again, twice as long
    /// at most after each failure in a row (1, 2, 4, … seconds, with random jitter), up to this cap, and never less
    /// than 100 ms; a `Retry-After` from the server can make one pause longer. Nothing is given up meanwhile: what cannot be
    /// sent waits in the spool. A smaller cap finds a recovered server sooner, at the cost of more requests to
    /// one that is still down. `docs/delivery.md` has the whole policy.
    #[must_use]
    pub fn max_retry_delay(mut self, delay: Duration) -> Self {
        self.max_retry_delay = delay;
        self
    }

    /// Turns performance monitoring on: the share of transactions that are recorded and sent, from 0.0 to 1.0.
    /// Defaults to off (`None`), in which case transactions cost next to nothing and are never sent, while errors
    /// still carry the trace id of their scope ("tracing without performance"). A value outside 0.0..=1.0 (or NaN)
    /// makes [`crate::try_init`] fail.
    ///
    /// Each trace is decided once, by a random number it carries from service to service (`sample_rand`), so a
    /// continued trace is decided alike everywhere; the decision of the trace a transaction continues wins over
    /// this rate.
    #[must_use]
    pub fn traces_sample_rate(mut self, rate: f64) -> Self {
        self.traces_sample_rate = Some(rate);
        self
    }

    /// Decides each new transaction's sample rate from its name, op and the decision of the trace it continues,
    /// in place of `traces_sample_rate`. Return the parent's decision (`1.0` or `0.0`) to keep a trace whole. A
    /// rate outside 0.0..=1.0 is clamped into it, NaN counts as 0.0, and a sampler that panics samples out.
    ///
    /// ```
    /// let options = faultline::ClientOptions::new().traces_sampler(|ctx| match ctx.parent_sampled {
    ///     Some(parent) => if parent { 1.0 } else { 0.0 },
    ///     None if ctx.name.starts_with("GET /health") => 0.0,
    ///     None => 0.2,
    /// });
    /// # drop(options);
    /// ```
    #[must_use]
    pub fn traces_sampler(
        mut self,
        sampler: impl Fn(&SamplingContext<'_>) -> f64 + Send + Sync + 'static,
    ) -> Self {
        self.traces_sampler = Some(Arc::new(sampler));
        self
    }

    /// Also writes W3C `traceparent` in outgoing trace headers, beside `sentry-trace`, for services in a mesh of
    /// OpenTelemetry programs. Defaults to off. An incoming `traceparent` is read either way, when no
    /// `sentry-trace` came.
    #[must_use]
    pub fn propagate_traceparent(mut self, on: bool) -> Self {
        self.propagate_traceparent = on;
        self
    }

    /// Continues an incoming trace only when it comes from the same Sentry organisation (its baggage's
    /// `sentry-org_id` equals this SDK's [`org_id`](Self::org_id)); otherwise, or when either side's id is unknown,
    /// a new trace starts. Defaults to off, in which case only a known, different organisation starts a new trace.
    #[must_use]
    pub fn strict_trace_continuation(mut self, on: bool) -> Self {
        self.strict_trace_continuation = on;
        self
    }

    /// Sets the Sentry organisation id, for trace continuation. Defaults to the number in an `oNNN.` DSN host (as
    /// in `https://key@o123.ingest.sentry.io/4`).
    #[must_use]
    pub fn org_id(mut self, id: u64) -> Self {
        self.org_id = Some(id);
        self
    }

    /// Sends error events only: transactions (and the other telemetry as it lands) are neither recorded nor sent.
    /// For servers that drop them after accepting them, such as Bugsink, where sending them only costs bandwidth.
    /// Trace ids still link errors. Defaults to off.
    #[must_use]
    pub fn errors_only(mut self, on: bool) -> Self {
        self.errors_only = on;
        self
    }

    /// Sets how often counts of discarded events go out on their own when no event carries them. Defaults to
    /// 30 seconds. They are also sent with the next event and at shutdown.
    #[must_use]
    pub fn client_report_interval(mut self, interval: Duration) -> Self {
        self.client_report_interval = interval;
        self
    }

    /// Records release health: sessions, which Sentry turns into crash-free rates per release. Defaults to on, and
    /// takes effect only where a [`release`](ClientOptions::release) is set (the server drops a session without
    /// one) and [`errors_only`](ClientOptions::errors_only) is off.
    ///
    /// In [`SessionMode::Application`] the session runs from `init` to the guard's drop and ends `exited`, or
    /// `crashed` after an unhandled panic; handled errors (`capture_error`, the integrations' errors, and events
    /// with an exception or at level `error` or above; never `capture_message`) count in it. A session that never
    /// ended (the process was killed) is found in the spool and sent as `abnormal` at the next start (so not
    /// without a spool). In [`SessionMode::Request`] each request through the tower layer is one session, and the
    /// worker sends per-minute counts.
    #[must_use]
    pub fn auto_session_tracking(mut self, on: bool) -> Self {
        self.auto_session_tracking = on;
        self
    }

    /// Records native crashes (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, stack overflows) in the spool, and sends
    /// each as a fatal event at the next start with the same spool. Defaults to on; it takes effect with the
    /// `native-crash` feature (a default one) on Linux (x86_64 and aarch64) and with a spool, and does nothing
    /// elsewhere. `init` installs the signal handler once for the life of the process; the previous handlers run
    /// after it, and the process still ends with the signal. See the crate docs' "Native crashes".
    #[must_use]
    pub fn native_crash_handler(mut self, on: bool) -> Self {
        self.native_crash_handler = on;
        self
    }

    /// Sets what a session stands for: the whole process ([`SessionMode::Application`], the default) or each
    /// request of a server ([`SessionMode::Request`], for services behind the tower layer).
    #[must_use]
    pub fn session_mode(mut self, mode: SessionMode) -> Self {
        self.session_mode = mode;
        self
    }

    /// Whether sessions are recorded: [`auto_session_tracking`](ClientOptions::auto_session_tracking) with a
    /// release and without `errors_only`.
    pub(crate) fn tracks_sessions(&self) -> bool {
        self.auto_session_tracking
            && !self.errors_only
            && self
                .release
                .as_deref()
                .is_some_and(|r| !r.trim().is_empty())
    }

    /// Sends structured logs to the server (Sentry Logs): the [`logs`](crate::logs) API, and the `log` and
    /// `tracing` integrations' records at their log level. Defaults to off, as Sentry's specification asks.
    ///
    /// Each record carries the current trace and span ids and the release, environment, SDK and server name as
    /// attributes. The worker sends them in containers of at most 100, every 5 seconds, at `flush` and at
    /// shutdown; at most 1,000 wait at once, and more are dropped and counted (in client reports, as
    /// `log_item` and `log_byte`). They go through the spool and the retries like events. With
    /// [`errors_only`](ClientOptions::errors_only) they are not sent.
    #[must_use]
    pub fn enable_logs(mut self, on: bool) -> Self {
        self.enable_logs = on;
        self
    }

    /// Sets a callback that may change or drop each log record, on the worker. Defaults to none.
    #[must_use]
    pub fn before_send_log(
        mut self,
        f: impl Fn(Log) -> Option<Log> + Send + Sync + 'static,
    ) -> Self {
        self.before_send_log = Some(Arc::new(f));
        self
    }

    /// Exports log records, error events and transactions to an OpenTelemetry collector as well (OTLP/HTTP, JSON;
    /// feature `otlp`): beside the server the DSN names, with a delivery and a spool of its own, or alone without
    /// a DSN. Defaults to what the `OTEL_EXPORTER_OTLP_*` environment variables name
    /// ([`OtlpOptions::from_env`](crate::transport::OtlpOptions::from_env)), if anything. Service name and version
    /// default to the release's (`name@version`), the environment to [`environment`](ClientOptions::environment).
    #[cfg(feature = "otlp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
    #[must_use]
    pub fn otlp(mut self, options: crate::transport::OtlpOptions) -> Self {
        self.otlp = Some(options);
        self
    }

    /// Sends metrics to the server (Sentry Metrics, `trace_metric` items): the [`metrics`](crate::metrics) API.
    /// Defaults to **off**: GlitchTip stops reading an envelope at an item type it does not know, and Bugsink drops
    /// it, so only a server that takes metrics should get them.
    ///
    /// Each measurement carries the current trace and span ids and the release, environment, SDK and server name as
    /// attributes. The worker sends them in containers of at most 100, every 5 seconds, at `flush` and at shutdown;
    /// at most 1,000 wait at once, and more are dropped and counted (client reports, `trace_metric`). They go
    /// through the spool and the retries like events. With [`errors_only`](ClientOptions::errors_only) they are not
    /// sent.
    #[must_use]
    pub fn enable_metrics(mut self, on: bool) -> Self {
        self.enable_metrics = on;
        self
    }

    /// Sets a callback that may change or drop each metric measurement, on the worker. Defaults to none.
    #[must_use]
    pub fn before_send_metric(
        mut self,
        f: impl Fn(Metric) -> Option<Metric> + Send + Sync + 'static,
    ) -> Self {
        self.before_send_metric = Some(Arc::new(f));
        self
    }

    /// Sets the most bytes of attachments one event carries, all of them together. Defaults to 20 MiB, Sentry's own
    /// limit. Attachments go in the order they were added; one that would pass the limit is left out and counted
    /// (client reports, category `attachment`, by bytes).
    #[must_use]
    pub fn max_attachment_bytes(mut self, bytes: usize) -> Self {
        self.max_attachment_bytes = bytes;
        self
    }

    /// Whether metrics are sent: [`enable_metrics`](ClientOptions::enable_metrics) without `errors_only`.
    pub(crate) fn sends_metrics(&self) -> bool {
        self.enable_metrics && !self.errors_only
    }

    /// Whether log records are sent: [`enable_logs`](ClientOptions::enable_logs) without `errors_only`.
    pub(crate) fn sends_logs(&self) -> bool {
        self.enable_logs && !self.errors_only
    }

    /// Sends events through `transport` instead of the default HTTP transport. Defaults to none.
    ///
    /// With a transport set, the SDK is enabled even without a DSN.
    #[must_use]
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The DSN is printed through `Dsn`'s Display, which masks the public key and leaves the secret key out; an
        // unparsable one is elided.
        let dsn = self.dsn.as_deref().map(|d| {
            d.parse::<crate::dsn::Dsn>()
                .map_or_else(|_| "<invalid>".to_owned(), |d| d.to_string())
        });
        let mut debug = f.debug_struct("ClientOptions");
        debug
            .field("dsn", &dsn)
            .field("release", &self.release)
            .field("environment", &self.environment)
            .field("server_name", &self.server_name)
            .field("sample_rate", &self.sample_rate)
            .field("attach_stacktrace", &self.attach_stacktrace)
            .field("max_breadcrumbs", &self.max_breadcrumbs)
            .field("queue_size", &self.queue_size)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("debug", &self.debug)
            .field(
                "before_send",
                &self.before_send.as_ref().map(|_| "<callback>"),
            )
            .field(
                "before_breadcrumb",
                &self.before_breadcrumb.as_ref().map(|_| "<callback>"),
            )
            .field("ignore_errors", &self.ignore_errors)
            .field("scrub_keys", &self.scrub_keys)
            .field("scrub_values", &self.scrub_values)
            .field("scrub_patterns", &self.scrub_patterns)
            .field("in_app_include", &self.in_app_include)
            .field("in_app_exclude", &self.in_app_exclude)
            .field("send_default_pii", &self.send_default_pii)
            .field("connect_timeout", &self.connect_timeout)
            .field("http_timeout", &self.http_timeout)
            .field("transport", &self.transport.as_ref().map(|_| "<transport>"))
            .field("spool_dir", &self.spool_dir)
            .field("spool_max_files", &self.spool_max_files)
            .field("spool_max_bytes", &self.spool_max_bytes)
            .field("spool_max_age", &self.spool_max_age)
            .field("max_retry_delay", &self.max_retry_delay)
            .field("traces_sample_rate", &self.traces_sample_rate)
            .field(
                "traces_sampler",
                &self.traces_sampler.as_ref().map(|_| "Fn"),
            )
            .field("propagate_traceparent", &self.propagate_traceparent)
            .field("strict_trace_continuation", &self.strict_trace_continuation)
            .field("org_id", &self.org_id)
            .field("errors_only", &self.errors_only)
            .field("client_report_interval", &self.client_report_interval)
            .field("auto_session_tracking", &self.auto_session_tracking)
            .field("session_mode", &self.session_mode)
            .field("enable_logs", &self.enable_logs)
            .field(
                "before_send_log",
                &self.before_send_log.as_ref().map(|_| "Fn"),
            )
            .field("enable_metrics", &self.enable_metrics)
            .field("max_attachment_bytes", &self.max_attachment_bytes)
            .field("native_crash_handler", &self.native_crash_handler)
            .field(
                "before_send_metric",
                &self.before_send_metric.as_ref().map(|_| "Fn"),
            );
        #[cfg(feature = "otlp")]
        debug.field("otlp", &self.otlp);
        debug.finish()
    }
}

impl From<&str> for ClientOptions {
    fn from(dsn: &str) -> Self {
        ClientOptions::new().dsn(dsn)
    }
}

impl From<String> for ClientOptions {
    fn from(dsn: String) -> Self {
        ClientOptions::new().dsn(dsn)
    }
}

impl From<()> for ClientOptions {
    /// Default options: the DSN comes from `SENTRY_DSN`, if set.
    fn from(_: ()) -> Self {
        ClientOptions::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_defaults() {
        let o = ClientOptions::new();
        assert_eq!(o.sample_rate, 1.0);
        assert!(o.attach_stacktrace);
        assert_eq!(o.max_breadcrumbs, 100);
        assert_eq!(o.queue_size, 100);
        assert_eq!(o.shutdown_timeout, Duration::from_secs(2));
        assert!(!o.debug && !o.send_default_pii);
        assert!(o.scrub_values && o.scrub_patterns.is_empty());
    }

    #[test]
    fn debug_output_hides_the_keys_and_callbacks() {
        let o = ClientOptions::new()
            .dsn("https://pubkey42:hushhush@host/1")
            .before_send(Some);
        let text = format!("{o:?}");
        assert!(!text.contains("hushhush"), "{text}");
        assert!(!text.contains("pubkey42"), "{text}");
        assert!(text.contains("https://****@host/1"), "{text}");
        assert!(text.contains("<callback>"));
    }
}
