//! Error and panic reporting for Rust programs, over the Sentry protocol.
//!
//! faultline sends your program's errors and panics, with stack traces you can act on, to any server that speaks
//! the Sentry protocol (sentry.io, self-hosted Sentry, GlitchTip, Bugsink). Capturing costs the calling thread a raw
//! stack walk and a channel send; symbols, serialisation and network I/O happen on one background thread.
//!
//! # Quickstart
//!
//! ```no_run
//! let _guard = faultline::init("https://public_key@errors.example.com/42");
//! # let err = std::io::Error::other("x");
//! faultline::capture_error(&err);
//! ```
//!
//! # What `init` does
//!
//! [`init()`] validates the options (filling the DSN, release and environment from `SENTRY_DSN`, `SENTRY_RELEASE` and
//! `SENTRY_ENVIRONMENT` when the code leaves them unset), starts one worker thread named `faultline-worker`, and
//! installs a panic hook that chains to the one installed before. Without a DSN the SDK is disabled and every call
//! is a no-op. It returns an [`InitGuard`]: dropping it delivers what is queued, waiting at most
//! [`ClientOptions::shutdown_timeout`], and stops the worker. A second `init` replaces the first client after
//! flushing it. [`try_init`] returns an [`InitError`] for a bad configuration; `init` prints one line and carries on
//! disabled instead.
//!
//! # Capturing errors
//!
//! [`capture_error`] takes any error, including a `&dyn Error`. Its `source()` chain becomes the event's exceptions,
//! root cause first, each named by its real type where the compiler knows it:
//!
//! ```
//! #[derive(Debug)]
//! struct ConfigError(std::num::ParseIntError);
//! impl std::fmt::Display for ConfigError {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
//!         f.write_str("bad config")
//!     }
//! }
//! impl std::error::Error for ConfigError {
//!     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
//!         Some(&self.0)
//!     }
//! }
//!
//! let events = faultline::test::with_captured_events(|| {
//!     let err = ConfigError("x".parse::<u16>().unwrap_err());
//!     faultline::capture_error(&err);
//! });
//! let types: Vec<_> = events[0].exception.iter().map(|e| e.ty.as_str()).collect();
//! assert_eq!(types, ["ParseIntError", "ConfigError"]);
//! assert!(events[0].exception[1].stacktrace.is_some());
//! ```
//!
//! [`capture_message`] sends a message at a [`Level`], and [`capture_event`] sends an [`protocol::Event`] you
//! built. All three return the [`EventId`], or the nil id when the event was dropped (SDK disabled, sampled out,
//! queue full); [`last_event_id`] returns the last one this thread sent.
//!
//! # Scopes
//!
//! Tags, extra data, the user, contexts, a fingerprint, a level and breadcrumbs live in the current thread's
//! [`Scope`]. Change it with [`configure_scope`], or for one piece of work with [`with_scope`]:
//!
//! ```
//! let events = faultline::test::with_captured_events(|| {
//!     faultline::add_breadcrumb(faultline::Breadcrumb::new("db", "connected"));
//!     faultline::with_scope(
//!         |scope| scope.set_tag("job", "nightly"),
//!         || faultline::capture_message("job failed", faultline::Level::Error),
//!     );
//!     faultline::capture_message("after the job", faultline::Level::Info);
//! });
//! assert_eq!(events[0].tags["job"], "nightly");
//! assert_eq!(events[0].breadcrumbs[0].message.as_deref(), Some("connected"));
//! assert!(!events[1].tags.contains_key("job"));
//! ```
//!
//! The thread named `main` shares its scope with threads that start using the SDK later, so tags set at start-up
//! apply everywhere.
//!
//! # Panics
//!
//! With the `panic` feature (on by default), each panic becomes a `fatal` event with an exception of type `panic`
//! (mechanism `panic`, `handled: false`), the panic message, its location, the thread's name and its stack trace.
//! The hook waits, at most `shutdown_timeout`, until the event is delivered, because the panic may end the process;
//! then it calls the previous hook. With `panic = "abort"` the hook still runs before the abort. Panics on the SDK's
//! own worker thread are never reported through the SDK.
//!
//! # Native crashes
//!
//! With the `native-crash` feature (on by default) on Linux (x86_64 and aarch64), `init` installs a signal handler
//! for SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT and SIGTRAP, which also catches stack overflows (on an alternate signal
//! stack, which every thread made after `init` gets). A crash in `unsafe` code or a C library, an abort from a C
//! dependency, a bus error on a truncated `mmap`: the handler writes a small record into the spool (the signal, the
//! crashing thread's registers and stack, the loaded modules, and the scope as it was: tags, user, extra data,
//! contexts, breadcrumbs), then hands the signal to the handler that was there before, so the process ends exactly
//! as it would have (same signal, exit status and core dump). The handler allocates nothing and never waits on a
//! lock the program may hold.
//!
//! The **next start** with the same spool (the same DSN, by default) unwinds and symbolicates that stack and sends
//! one `fatal` event: an exception named after the signal (`SIGSEGV`, with mechanism `signal`, `handled: false`, and
//! the signal's number and code in `mechanism.meta.signal`), the crashed thread, the images it ran (`debug_meta`),
//! the release and environment of the process that crashed, and its scope. Its session, if it tracked one, ends
//! `crashed`. A crash is reported once, even by two processes starting together or a next start that dies too.
//!
//! A runtime that recovers from some faults itself (a JVM, a WebAssembly runtime's guard pages) must install its
//! handlers after `init`, so that they run first and pass on only real crashes; installed before, its faults would be
//! taken for crashes.
//!
//! It needs a spool, and takes effect only where a DSN (or transport) enables the SDK; turn it off with
//! [`ClientOptions::native_crash_handler`]. On other systems the feature compiles to nothing (not yet). Try it with
//! `examples/crash.rs` (`cargo run --example crash -- segfault`, then `cargo run --example crash`).
//!
//! # Logging
//!
//! With the `log` feature (on by default), [`integrations::log::Logger`] wraps the program's own logger, which
//! keeps receiving every record, and turns records into breadcrumbs (`Info` and up) and events (`Error`); an error
//! logged as a key-value (`log::error!(error:err = e; "…")`) becomes the event's exception chain. `log` allows one
//! logger per process, so install ours around yours:
//!
//! ```no_run
//! # let my_logger = faultline::integrations::log::NoopLogger; // e.g. env_logger::Builder::from_default_env().build()
//! let _guard = faultline::init("https://public_key@errors.example.com/42");
//! log::set_boxed_logger(Box::new(faultline::integrations::log::Logger::new(my_logger))).unwrap();
//! log::set_max_level(log::LevelFilter::Info);
//! log::error!("this becomes an event");
//! ```
//!
//! [`Logger::json_lines`](integrations::log::Logger::json_lines) also writes every record at or above a level as
//! one line of ECS JSON to a [`sink::JsonLinesSink`] (see "JSONL sink format" below), with or without a DSN:
//!
//! ```
//! # let dir = tempfile::tempdir()?;
//! use std::sync::Arc;
//! use faultline::integrations::log::Logger;
//! use faultline::sink::JsonLinesSink;
//!
//! let app_log = Arc::new(JsonLinesSink::builder(dir.path().join("app.log")).build()?);
//! let logger = Logger::standalone().json_lines(app_log.clone(), log::LevelFilter::Info);
//! log::set_boxed_logger(Box::new(logger))?;
//! log::set_max_level(log::LevelFilter::Info);
//! log::info!(user = "ada"; "signed in");
//! # let line: serde_json::Value = serde_json::from_str(std::fs::read_to_string(app_log.path())?.trim_end())?;
//! # assert_eq!(line["message"], "signed in");
//! # assert_eq!(line["labels"]["user"], "ada");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the `tracing` feature, [`integrations::tracing::layer()`] does the same for `tracing` events, adding the
//! names of the spans they happened in. Neither reports the records of the SDK itself or of its HTTP stack
//! (`faultline`, `ureq`, `ureq_proto`, `rustls`), so reporting cannot feed itself. With the `anyhow` feature,
//! [`capture_anyhow`] reports an `anyhow::Error` with its whole chain and the backtrace anyhow captured.
//!
//! ## Structured logs (Sentry Logs)
//!
//! With [`ClientOptions::enable_logs`] (off by default), log records go to Sentry Logs: the [`logs`] API and macros,
//! and the `log` and `tracing` integrations' records at their log level (`Info` and up by default;
//! [`Logger::log_level`](integrations::log::Logger::log_level)). Each carries typed attributes, the current trace
//! and span ids, and the release, environment, SDK and server name; a record and the error it explains share a
//! trace id, and so do the ECS lines of [`Logger::json_lines`](integrations::log::Logger::json_lines) (`trace.id`,
//! `span.id`).
//!
//! ```
//! # faultline::test::with_captured_events(|| {
//! faultline::logs::info!(order.id = 1042, vip = true, "order {} shipped to {}", 1042, "Oslo");
//! # });
//! ```
//!
//! A log call copies its template, parameters and attributes and pushes them onto a lane of its own (at most 1,000
//! records wait; more are dropped and counted); the worker formats, scrubs, runs
//! [`before_send_log`](ClientOptions::before_send_log) and sends containers of up to 100 records every 5 seconds, at
//! `flush` and at shutdown, through the spool and retries like events. `docs/structured-logs.md` sets Sentry Logs
//! beside Filebeat.
//!
//! ## Metrics
//!
//! With [`ClientOptions::enable_metrics`] (off by default: GlitchTip stops reading an envelope at an item type it
//! does not know, and Bugsink drops it), counters, gauges and distributions go to Sentry Metrics as `trace_metric`
//! items, and with the `otlp` feature to an OpenTelemetry collector as sums, gauges and histograms:
//!
//! ```
//! # faultline::test::with_captured_events(|| {
//! faultline::metrics::counter("orders.placed", 1).attribute("region", "eu").capture();
//! faultline::metrics::distribution("checkout.duration", 187.5).unit("millisecond").capture();
//! # });
//! ```
//!
//! Each measurement carries the current trace and span ids and the SDK's attributes; a call is a copy and a push
//! onto a lane of its own (1,000 at most wait), and the worker sends containers of up to 100 every 5 seconds, at
//! `flush` and at shutdown. [`before_send_metric`](ClientOptions::before_send_metric) may change or drop one. The
//! tower layer records each request's duration (`http.server.request.duration`) when metrics are on.
//!
//! ## Cron monitoring and user feedback
//!
//! [`check_ins::monitored`] wraps a scheduled job: it sends a check-in `in_progress`, runs the job, and sends `ok`
//! or `error` (also when the job panics) with the duration, so the server can say when the job failed, ran too
//! long, or did not run; a [`MonitorConfig`](protocol::MonitorConfig) with the schedule creates the monitor.
//! [`capture_feedback`] sends what a user wrote, linked to an event. Neither goes through `before_send`.
//!
//! [`Scope::add_attachment`] sends a file (a config, a dump, a log tail) with every event captured in the scope,
//! within [`ClientOptions::max_attachment_bytes`] an event.
//!
//! # Async and web services
//!
//! A thread's scope is shared by every future that a runtime polls on it, so in an async service one request's tags
//! would show up on another's errors. [`FutureExt::bind_scope`] gives a future a scope of its own, a copy of the
//! current one taken when it is called, current on every poll whatever thread polls it:
//!
//! ```
//! use faultline::FutureExt;
//!
//! async fn handle(request_id: u64) {
//!     faultline::configure_scope(|scope| scope.set_tag("request_id", request_id));
//!     // … errors captured here carry this request's tag, and no other's.
//! }
//! # let _ = handle(1).bind_scope();
//! // Per request, or per spawned task: `tokio::spawn(handle(7).bind_scope())`.
//! ```
//!
//! Changes made inside the bound future stay in it; a child task spawned with `.bind_scope()` starts from its
//! parent's scope and never changes it or its siblings'. Binding costs a reference-count increment and a poll about
//! 4 ns more (`docs/performance.md`); no async runtime is a dependency.
//!
//! For HTTP services, [`integrations::tower::layer()`] (feature `tower`, `axum` for route names) does this for every
//! request and more: the request's data on its events, a transaction per request continuing the caller's trace,
//! and a handler's panic turned into a 500. `cargo run --example axum --features axum` shows it.
//!
//! ## Release health
//!
//! With a [`release`](ClientOptions::release) set, faultline records sessions, from which Sentry computes the
//! crash-free rate of each release ([`ClientOptions::auto_session_tracking`], on by default; off with
//! [`errors_only`](ClientOptions::errors_only)). What a session is depends on [`ClientOptions::session_mode`]:
//!
//! - [`SessionMode::Application`] (the default, for programs, tools and jobs): one session from `init` to the
//!   guard's drop. It ends `exited`, or `crashed` after an unhandled panic, whose event carries the session's last
//!   update. Handled errors count in it: `capture_error`, the integrations' errors, and `capture_event` with an
//!   exception or at level `error` and above, even when sampling or a full queue drops their events (not when
//!   `ignore_errors` names them; `before_send` runs later, on the worker, and does not uncount them);
//!   `capture_message` never does. Its user is the one of the first event that names one. A panic anywhere ends it
//!   `crashed`, also one that the tower layer turns into a 500 (use request mode for servers). While it runs, its
//!   state is kept in the spool directory (rewritten every minute), so a process that is killed, or never drops
//!   its guard, has its session sent as `abnormal` at the next start with the same DSN (at once on Linux, where a
//!   dead process can be told; elsewhere once its file missed three minutes of heartbeats, at a start or at the
//!   heartbeat of another process sharing the spool).
//! - [`SessionMode::Request`] (for servers): each request through the tower layer is a session, `exited`,
//!   `errored` (an error was captured in its scope) or `crashed` (its handler panicked), for the user the handler
//!   set; a request whose future is dropped before it ends (a client gone, a timeout) is counted by what it
//!   captured. The requests' threads count under a short lock, never in the event queue, and the worker sends
//!   per-minute counts (`sessions` items) every minute, at `flush` and at shutdown.
//!
//! ```no_run
//! let _guard = faultline::init(
//!     faultline::ClientOptions::new()
//!         .dsn("https://key@sentry.example.com/42")
//!         .release(faultline::release_name!())
//!         .session_mode(faultline::SessionMode::Request),
//! );
//! ```
//!
//! Sessions use the rate-limit category `session`, and what is dropped is counted in client reports. Only Sentry
//! shows release health: GlitchTip and Bugsink accept sessions and discard them.
//!
//! # Performance monitoring
//!
//! Set [`ClientOptions::traces_sample_rate`] (or a [`ClientOptions::traces_sampler`]) and measure units of work
//! as transactions with child spans; the worker serialises and sends each finished transaction as one
//! `transaction` item, with the trace's dynamic sampling context in the envelope header:
//!
//! ```
//! # faultline::test::with_captured_events(|| {
//! let transaction = faultline::start_transaction("nightly-report", "task");
//! faultline::configure_scope(|scope| scope.set_span(Some(transaction.clone().into())));
//! let query = transaction.start_child("db.query", "SELECT * FROM orders");
//! query.set_data("rows", 1200);
//! query.finish();
//! // Errors captured now point at the transaction: same trace id, its span id.
//! transaction.set_status(faultline::SpanStatus::Ok);
//! transaction.finish();
//! # });
//! ```
//!
//! - **Cheap on the caller.** Starting a span takes its transaction's own lock once and allocates nothing of its
//!   own; finishing it takes no lock. Spans read the CPU's time-stamp counter where the kernel keeps time by it
//!   (else the monotonic clock), and their transaction turns those readings into times when it finishes. An
//!   unsampled transaction records nothing and is counted in client reports. `docs/performance.md` has the
//!   figures.
//! - **Ends.** Spans still open when their transaction finishes end with it as `deadline_exceeded`; a transaction
//!   or span whose handles all go unfinished ends as `cancelled`. At most 1000 spans a transaction.
//! - **Distributed traces.** [`continue_from_headers`] continues an incoming request's trace from `sentry-trace`
//!   and `baggage` (or W3C `traceparent` when no `sentry-trace` came); the continued trace's decision wins over
//!   the rate, and its dynamic sampling context is passed on unchanged. [`trace_headers`] (or
//!   [`Span::trace_headers`]) gives `sentry-trace` and `baggage` for an outgoing request, and `traceparent` with
//!   [`ClientOptions::propagate_traceparent`]. [`ClientOptions::strict_trace_continuation`] keeps traces of other
//!   Sentry organisations out. Malformed headers start a new trace; they never fail.
//! - **Tracing without performance.** Every scope has a [`PropagationContext`], and every event carries
//!   `contexts.trace`: the current span's, or the scope's trace, so errors of one request share a trace id even
//!   with performance monitoring off. [`Scope::start_new_trace`] starts a new one (per job, per request).
//! - **`tracing` spans** become spans with the `tracing` integration (feature `tracing`): see
//!   [`integrations::tracing`].
//! - **Servers that drop transactions.** Bugsink keeps only errors (and asks, with a day-long rate limit, for no
//!   more transactions); [`ClientOptions::errors_only`] spares the bandwidth altogether.
//!
//! # Scrubbing
//!
//! Before an event leaves the process, for any transport (the HTTP transport, a JSON-lines file, one of your own),
//! the worker thread replaces secrets and personal data with `[Filtered]`; the capturing thread pays nothing for
//! it. Unless [`ClientOptions::send_default_pii`] is on, which turns all of it off:
//!
//! - **Values under sensitive keys**: in `extra`, contexts, the user's `data`, breadcrumb `data` and tags, every
//!   value whose key contains `password`, `secret`, `token`, `api_key`, `auth`, `cookie`, `session`, … (more with
//!   [`ClientOptions::scrub_key`]) is replaced, at any depth.
//! - **Secrets inside text**: the event's message, each exception's value and each breadcrumb's message lose the
//!   secrets written into them, and only those, by these rules (turned off by
//!   [`ClientOptions::scrub_values(false)`](ClientOptions::scrub_values)):
//!   - authorization headers, their whole value: `Authorization: Bearer xyz` → `Authorization: [Filtered]` (also
//!     `Proxy-Authorization`, with `=` or quotes);
//!   - authorization schemes with their credentials: `Bearer <token>` (unless the word after it is `token`,
//!     `auth`, …), `Basic <base64 of user:password>`, `Token <16 or more characters with a digit>`;
//!   - values of keys ending in `password`, `passwd`, `passphrase`, `secret`, `token`, `api_key`, `apikey`,
//!     `secret_key`, `private_key` or `secret_access_key` (any case; `-`, `_` or nothing between the words), after
//!     `=` or `:`, bare or quoted: `password=[Filtered]`, `"db_password": "[Filtered]"`, `X-Auth-Token:
//!     [Filtered]`;
//!   - passwords in URLs: `postgres://app:[Filtered]@db/app`;
//!   - PEM private keys, between `-----BEGIN … PRIVATE KEY-----` and their `END` line (or the end of the text);
//!   - payment card numbers: 13 to 19 digits, optionally grouped by single spaces or dashes, with a card network's
//!     issuer prefix (3, 4, 5, 6, or 2221 to 2720) and a valid Luhn checksum.
//!
//!   [`ClientOptions::scrub_pattern`] adds regular expressions of your own, which apply even with the built-in rules
//!   off; a pattern that does not compile makes [`try_init`] fail.
//!
//! The rules aim at what is certainly a secret, so that text stays readable: `password reset requested`,
//! `tokenizer=fast`, `max_tokens=5`, a `Bearer` without a token, a URL without a password, a certificate or an order
//! number that fails the checksum are left as they are. Text is scrubbed before the size limits cut it, so no half
//! of a secret is left behind. Sentry's server applies similar rules to what reaches it; GlitchTip and Bugsink do
//! not, and a JSON-lines file never meets a server.
//!
//! ```
//! let events = faultline::test::with_captured_events(|| {
//!     faultline::add_breadcrumb(faultline::Breadcrumb::new("db", "connecting to postgres://app:hunter2@db/app"));
//!     faultline::capture_message("password=hunter4 Authorization: Bearer xyz", faultline::Level::Error);
//! });
//! assert_eq!(events[0].message.as_deref(), Some("password=[Filtered] Authorization: [Filtered]"));
//! assert_eq!(
//!     events[0].breadcrumbs[0].message.as_deref(),
//!     Some("connecting to postgres://app:[Filtered]@db/app")
//! );
//! ```
//!
//! # Transports and offline behaviour
//!
//! Events wait in a bounded queue ([`ClientOptions::queue_size`]) for the worker, which posts each as an envelope
//! with ureq (gzip above 1 KiB). The caller never blocks: when the queue is full the event is dropped and counted
//! (see [`stats()`]). [`flush`] and shutdown use a separate control queue, so a full queue cannot delay them, and
//! they return within their timeout even if the server never answers.
//!
//! Envelopes that cannot go out at once wait in a spool directory ([`ClientOptions::spool_dir`], by default one per
//! project under the user's cache directory), one file each, deleted once the server accepted or rejected them for
//! good. When the server cannot be reached, or answers 408 or 5xx, the worker pauses for an exponential, jittered
//! delay (at most [`ClientOptions::max_retry_delay`]) and every new envelope is written to disk before it is tried;
//! they are sent when the server answers again, or by the next process that starts with the same DSN, so outages,
//! crashes and `SIGKILL` lose nothing that reached the spool, however long they last. Only the server's refusal of
//! an envelope gives it up: a 4xx other than 408 and 429, or repeated failures while the server accepts the others.
//! A shutdown that runs out of time spools the envelope in flight and what is still queued. A `429` or an
//! `X-Sentry-Rate-Limits` limit on every category pauses delivery until it ends, losing nothing (`flush` does not
//! cut it short); a limit on some categories drops their items without requests (counted as `ratelimit_backoff`);
//! and every discard is reported to the server in client reports. `docs/delivery.md` in the
//! repository states the guarantees and their limits, with a table of each kind of server trouble.
//!
//! Plug in your own [`transport::Transport`] with [`ClientOptions::transport`]. [`transport::Tee`] sends each
//! envelope to the HTTP transport (or any primary transport, whose outcome decides delivery) and, best effort, to
//! secondary ones such as a JSON-lines sink.
//!
//! # JSONL sink format
//!
//! [`sink::JsonLinesSink`] is a transport for log shippers: each event becomes one line of JSON in a file rotated by
//! size (`app.log`, `app.log.1`, …), with flat, dotted [Elastic Common Schema] field names (`@timestamp`,
//! `log.level`, `message`, `error.type`, `error.stack_trace`, `service.name`, `labels`, …) that Filebeat's `ndjson`
//! parser and Elasticsearch take without a custom pipeline. Its documentation lists every field; `docs/elk.md` has a
//! Filebeat configuration and an index template.
//!
//! The same file can hold the program's `log` records ([`integrations::log::Logger::json_lines`]): one line each,
//! with the same fields (`log.level` `info`, `warning`, …, `log.logger` the target, key-values as `labels`, an error
//! key-value as `error.type`/`error.message`/`error.chain`) and no `event.id`. To keep events in the file while
//! sending them to a server, combine the sink with the HTTP transport through [`transport::Tee`]:
//!
//! ```no_run
//! # #[cfg(feature = "http")] {
//! use std::sync::Arc;
//! use faultline::sink::JsonLinesSink;
//! use faultline::transport::{HttpTransport, Tee, TransportOptions};
//!
//! let dsn = "https://public_key@errors.example.com/42";
//! let app_log = Arc::new(JsonLinesSink::builder("/var/log/billing/app.log").build()?);
//! let http = HttpTransport::new(&TransportOptions::new(dsn.parse()?));
//! let _guard = faultline::init(
//!     faultline::ClientOptions::new().dsn(dsn).transport(Tee::new(http).with(app_log.clone())),
//! );
//! let logger = faultline::integrations::log::Logger::standalone()
//!     .json_lines(app_log, log::LevelFilter::Info);
//! log::set_boxed_logger(Box::new(logger))?;
//! log::set_max_level(log::LevelFilter::Info);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [Elastic Common Schema]: https://www.elastic.co/guide/en/ecs/current/index.html
//!
//! # Crate features
//!
//! - `http` (default): the HTTP transport, built on ureq, for `http://` DSNs. Without it, events go only to a
//!   transport you set.
//! - `rustls` (default): `https://` DSNs for the HTTP transport, through rustls (with ring) and the webpki root
//!   certificates. Implies `http`. TLS is most of what the SDK costs to build and ship (see `docs/performance.md`): a
//!   program that reports only to a relay or server on a plain-HTTP address can leave it out, and `init` then refuses
//!   an `https://` DSN with [`InitErrorKind::TlsUnavailable`] rather than failing every request.
//! - `panic` (default): the panic hook installed by `init`.
//! - `log` (default): [`integrations::log::Logger`], which turns `log` records into breadcrumbs and events around
//!   the program's own logger. Adds the `log` crate (with its `kv_std` feature, for errors as key-values), which
//!   ureq already depends on.
//! - `tracing`: [`integrations::tracing::layer()`], a `tracing-subscriber` layer that turns `tracing` events into
//!   breadcrumbs and events with their span names. Adds `tracing-core` and `tracing-subscriber` without its default
//!   features (only `registry`, to look up spans).
//! - `anyhow`: [`capture_anyhow`], which reports an `anyhow::Error` with its whole chain and, when anyhow captured
//!   one, its backtrace as the stack trace.
//! - `tower`: [`integrations::tower::layer()`], a tower layer for HTTP services: a scope, request data and a
//!   transaction per request, and a handler's panic turned into a 500. Adds `tower-layer`, `tower-service` and
//!   `http` (no runtime).
//! - `axum`: the tower layer names transactions by axum's `MatchedPath` and, with `send_default_pii`, records the
//!   client's address from `ConnectInfo`. Implies `tower`; adds `axum` without its default features.
//! - `otlp`: [`transport::OtlpTransport`], which exports log records, error events (with the `exception.*`
//!   attributes), transactions (as spans) and metrics (sums, gauges, histograms with exemplars; delta temporality by
//!   default) to an OpenTelemetry collector over OTLP/HTTP in the JSON encoding;
//!   `init` sets it up beside the Sentry server, with a delivery and spool of its own, from
//!   [`ClientOptions::otlp`] or when `OTEL_EXPORTER_OTLP_ENDPOINT` (or a signal's endpoint) is set. Implies `http`;
//!   adds no crate (serde and ureq are there already).
//! - `native-crash` (default): native crashes recorded by a signal handler and sent at the next start (see [Native
//!   crashes](#native-crashes)); Linux on x86_64 and aarch64, nothing elsewhere, nor in a statically linked glibc
//!   program (`crt-static` on a `-gnu` target), where `crash-handler`'s thread hook cannot work. Adds `crash-handler` (the
//!   rust-minidump project's, with `parking_lot`), `framehop` (on the gimli that backtrace uses) and `libc`. Its
//!   `pthread_create` hook gives every new thread an alternate signal stack of 16 KiB.
//! - `test`: [`test::with_captured_events`] and [`test::TestTransport`], to assert what your code reports.
//! - `fuzzing`: not API. Exposes the crate-private parsers of untrusted input (the `Retry-After` and
//!   `X-Sentry-Rate-Limits` headers, spooled envelopes) to the fuzz targets under `fuzz/`, with no semver promise.
//!
//! # Debug output
//!
//! With [`ClientOptions::debug`] set, the SDK writes one-line diagnostics prefixed `[faultline]` to stderr: dropped
//! events and why, failed requests with the server's host and status, rate limits, a `before_send` that panicked.
//! They never contain the DSN's keys or event contents, and never go through the `log` facade, so they cannot feed
//! back into the SDK.
//!
//! # MSRV and versioning
//!
//! The minimum supported Rust version is 1.85. faultline follows semantic versioning; raising the MSRV is a minor
//! change. The `http` feature's [`ClientOptions`] do not expose ureq types.

#![deny(missing_docs)]
// One function walks the stack without the backtrace crate's lock (see `stacktrace::capture::walk`), one reads the
// time-stamp counter (`performance/ticks.rs`), one maps the executable read-only to read its debug information
// (`stacktrace/executable.rs`), and the native crash handler makes system calls from a signal handler
// (`native_crash/handler.rs`, `native_crash/signal_safe.rs`, and its look at the thread's hub in `hub.rs`); nothing
// else may use `unsafe`.
#![deny(unsafe_code)]
#![warn(missing_debug_implementations, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Not API: what `benches/capture.rs` times below the public API.
#[cfg(feature = "test")]
#[doc(hidden)]
pub mod bench_hooks;
mod chain;
pub mod check_ins;
mod client;
mod contexts;
mod delivery;
mod diagnostics;
mod dsn;
mod error;
mod future;
// Not API: the parsers of untrusted input, for the fuzz targets under `fuzz/`.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod hub;
mod init;
pub mod integrations;
mod limits;
mod loaded_images;
pub mod logs;
mod message;
pub mod metrics;
#[cfg(faultline_native_crash)]
mod native_crash;
mod options;
mod performance;
pub mod protocol;
mod queue;
mod release_health;
mod sampling;
mod scope;
mod scrub;
pub mod sink;
mod stacktrace;
mod stats;
mod sync;
#[cfg(feature = "test")]
#[cfg_attr(docsrs, doc(cfg(feature = "test")))]
pub mod test;
pub mod transport;
mod worker;

use std::error::Error;
use std::time::Duration;

pub use dsn::{Dsn, ParseDsnError, Scheme};
pub use error::{InitError, InitErrorKind};
pub use future::{BoundFuture, FutureExt};
pub use hub::{ScopeGuard, ScopeSnapshot};
pub use init::{InitGuard, init, try_init};
pub use options::{
    BeforeBreadcrumb, BeforeSend, BeforeSendLog, BeforeSendMetric, ClientOptions, SessionMode,
    SpoolDir, TracesSampler,
};
pub use performance::{
    PropagationContext, SamplingContext, Span, TraceHeaders, Transaction, TransactionOrSpan,
    continue_from_headers, start_transaction, trace_headers,
};
pub use protocol::{Breadcrumb, EventId, Level, SpanId, SpanStatus, TraceId, User};
pub use scope::Scope;
pub use scrub::patterns::ScrubPatternError;
pub use stats::Stats;

use hub::Hub;

/// Errors that [`capture_error`] accepts: every sized `Error + 'static` type, and `dyn Error` (with or without
/// `Send`/`Sync`).
pub trait AsDynError {
    /// The error as a trait object.
    fn as_dyn_error(&self) -> &(dyn Error + 'static);
}

impl<E: Error + 'static> AsDynError for E {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }
}

impl AsDynError for dyn Error + 'static {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }
}

impl AsDynError for dyn Error + Send + 'static {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }
}

impl AsDynError for dyn Error + Send + Sync + 'static {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }
}

/// Reports an error and its `source()` chain; returns the event's id, or the nil id if it was dropped.
///
/// The exception type of the captured error is its real type name (`std::any::type_name`); errors further down the
/// chain, known only as `dyn Error`, are named from their `Debug` output. With
/// [`ClientOptions::attach_stacktrace`] (the default) the event carries this thread's stack trace.
///
/// ```
/// let events = faultline::test::with_captured_events(|| {
///     let err = "x".parse::<u8>().unwrap_err();
///     let id = faultline::capture_error(&err);
///     assert!(!id.is_nil());
/// });
/// assert_eq!(events[0].exception[0].ty, "ParseIntError");
/// assert_eq!(events[0].level, faultline::Level::Error);
/// ```
pub fn capture_error<E: AsDynError + ?Sized>(err: &E) -> EventId {
    match hub::client() {
        Some(client) => Hub::with_current(|hub| {
            client.capture_error(hub.as_ref(), err.as_dyn_error(), std::any::type_name::<E>())
        }),
        None => EventId::nil(),
    }
}

/// Sends user feedback: what a user wrote about a problem, optionally about one event
/// ([`Feedback::associated_event_id`](protocol::Feedback::associated_event_id), such as the id
/// [`capture_error`] returned). It goes as a `feedback` item with the current trace; it is neither scrubbed nor
/// passed to `before_send`, since what the user wrote and the contact they gave are theirs to send. Returns the
/// feedback's event id, or the nil id while the SDK is disabled or its queue is full.
///
/// ```
/// # faultline::test::with_captured_events(|| {
/// let id = faultline::capture_message("checkout failed", faultline::Level::Error);
/// let mut feedback = faultline::protocol::Feedback::new("The pay button did nothing.");
/// feedback.email = Some("ada@example.com".into());
/// feedback.associated_event_id = Some(id);
/// faultline::capture_feedback(feedback);
/// # });
/// ```
pub fn capture_feedback(feedback: protocol::Feedback) -> EventId {
    match hub::client() {
        Some(client) => Hub::with_current(|hub| client.capture_feedback(hub.as_ref(), feedback)),
        None => EventId::nil(),
    }
}

/// Reports a message at `level`; returns the event's id, or the nil id if it was dropped.
///
/// ```
/// let events = faultline::test::with_captured_events(|| {
///     faultline::capture_message("disk almost full", faultline::Level::Warning);
/// });
/// assert_eq!(events[0].level, faultline::Level::Warning);
/// ```
pub fn capture_message(message: &str, level: Level) -> EventId {
    match hub::client() {
        Some(client) => {
            Hub::with_current(|hub| client.capture_message(hub.as_ref(), message, level, |_| {}))
        }
        None => EventId::nil(),
    }
}

/// Reports an event you built; returns its id, or the nil id if it was dropped.
///
/// Scope data is added where the event has none; with `attach_stacktrace`, this thread's stack goes to the last
/// exception (or the thread list) unless the event already has one.
pub fn capture_event(event: protocol::Event) -> EventId {
    match hub::client() {
        Some(client) => Hub::with_current(|hub| client.capture_event(hub.as_ref(), event)),
        None => EventId::nil(),
    }
}

/// Reports an [`anyhow::Error`] and its whole chain (feature `anyhow`); returns the event's id, or the nil id if it
/// was dropped.
///
/// Each link of [`anyhow::Error::chain`] becomes an exception, root cause first. anyhow erases the links' types, so
/// they are named as a `dyn Error` passed to [`capture_error`] is: a known std type, else the leading identifier of
/// its `Debug` output (`ParseIntError { kind: InvalidDigit }` → `ParseIntError`). The links anyhow makes itself (an
/// `anyhow!` message, a `.context(…)` layer) are named `anyhow::Error`.
///
/// When anyhow captured a backtrace (its status is [`Captured`](std::backtrace::BacktraceStatus::Captured):
/// `RUST_LIB_BACKTRACE=1` or `RUST_BACKTRACE=1` was set when the error was made), the exception's stack trace is
/// that backtrace, showing where the error was **made**, not where it is reported. std's `Backtrace` exposes no
/// frames on stable Rust, so its `{:#}` text is parsed into frames (function, file, line, column, address), the
/// frames of the capture itself (std's `Backtrace::capture`, anyhow's constructors) are dropped from the top, and
/// `in_app` is decided by the same rules as for every trace. Formatting it makes std resolve its symbols on the
/// calling thread, once per error. Without a captured backtrace, the event carries this thread's stack, as
/// [`capture_error`] does.
///
/// ```
/// use anyhow::Context;
///
/// let events = faultline::test::with_captured_events(|| {
///     let err = "x".parse::<u16>().context("reading the port").unwrap_err();
///     faultline::capture_anyhow(&err);
/// });
/// let types: Vec<_> = events[0].exception.iter().map(|e| e.ty.as_str()).collect();
/// assert_eq!(types, ["ParseIntError", "anyhow::Error"]);
/// assert_eq!(events[0].exception[1].value.as_deref(), Some("reading the port"));
/// ```
#[cfg(feature = "anyhow")]
#[cfg_attr(docsrs, doc(cfg(feature = "anyhow")))]
pub fn capture_anyhow(err: &anyhow::Error) -> EventId {
    integrations::anyhow::capture(err)
}

/// Things [`add_breadcrumb`] accepts: a [`Breadcrumb`], an `Option` or `Vec` of them, or a closure returning one of
/// those, which is only called when the SDK is enabled.
pub trait IntoBreadcrumbs {
    /// The iterator over the breadcrumbs (no allocation for a single one).
    type Iter: Iterator<Item = Breadcrumb>;

    /// The breadcrumbs.
    fn into_breadcrumbs(self) -> Self::Iter;
}

impl IntoBreadcrumbs for Breadcrumb {
    type Iter = std::iter::Once<Breadcrumb>;

    fn into_breadcrumbs(self) -> Self::Iter {
        std::iter::once(self)
    }
}

impl IntoBreadcrumbs for Vec<Breadcrumb> {
    type Iter = std::vec::IntoIter<Breadcrumb>;

    fn into_breadcrumbs(self) -> Self::Iter {
        self.into_iter()
    }
}

impl IntoBreadcrumbs for Option<Breadcrumb> {
    type Iter = std::option::IntoIter<Breadcrumb>;

    fn into_breadcrumbs(self) -> Self::Iter {
        self.into_iter()
    }
}

impl<F: FnOnce() -> I, I: IntoBreadcrumbs> IntoBreadcrumbs for F {
    type Iter = I::Iter;

    fn into_breadcrumbs(self) -> Self::Iter {
        self().into_breadcrumbs()
    }
}

/// Adds breadcrumbs to the current scope (at most [`ClientOptions::max_breadcrumbs`] are kept).
///
/// ```
/// use faultline::{Breadcrumb, Level};
/// let events = faultline::test::with_captured_events(|| {
///     faultline::add_breadcrumb(Breadcrumb::new("cache", "miss"));
///     // A closure is only run when the SDK is enabled.
///     faultline::add_breadcrumb(|| Breadcrumb::new("cache", format!("{} keys", 42)).level(Level::Debug));
///     faultline::capture_message("slow", Level::Warning);
/// });
/// assert_eq!(events[0].breadcrumbs.len(), 2);
/// ```
pub fn add_breadcrumb<B: IntoBreadcrumbs>(breadcrumbs: B) {
    // Copy what is needed and let go of the client: user code (the closure, `before_breadcrumb`) runs below with
    // no lock of the SDK's held, so it may itself log, add breadcrumbs or configure the scope.
    let Some((max, before)) = hub::breadcrumb_settings() else {
        return;
    };
    for crumb in breadcrumbs.into_breadcrumbs() {
        let crumb = match &before {
            // The callback is the user's, but a panic in it must not escape through the SDK: drop that breadcrumb.
            Some(before) => {
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| before(crumb))) {
                    Ok(Some(crumb)) => crumb,
                    _ => continue,
                }
            }
            None => crumb,
        };
        Hub::with_current(|hub| hub.configure(|scope| scope.add_breadcrumb(crumb, max)));
    }
}

/// Changes the current thread's scope. Does nothing while the SDK is disabled.
pub fn configure_scope<F: FnOnce(&mut Scope)>(f: F) {
    if hub::client().is_some() {
        Hub::with_current(|hub| hub.configure(f));
    }
}

/// Runs `f` with a temporary scope, first set up by `configure`; the scope is discarded afterwards.
pub fn with_scope<C: FnOnce(&mut Scope), F: FnOnce() -> R, R>(configure: C, f: F) -> R {
    if hub::client().is_none() {
        return f();
    }
    let _guard = ScopeGuard::push();
    Hub::with_current(|hub| hub.configure(configure));
    f()
}

/// A snapshot of this thread's current scope, to carry into work done on another thread (see [`ScopeSnapshot`]).
///
/// Threads other than `main` start from the main thread's scope, not from the scope of the thread that spawned
/// them; bind a snapshot in the new thread to keep the spawner's tags, user and breadcrumbs.
pub fn current_scope() -> ScopeSnapshot {
    ScopeSnapshot(Hub::with_current(|hub| hub.top()))
}

/// The release name of the calling crate, `{CARGO_PKG_NAME}@{CARGO_PKG_VERSION}`, as a `&'static str`.
///
/// ```
/// let options = faultline::ClientOptions::new().release(faultline::release_name!());
/// assert_eq!(options.release.as_deref(), Some(concat!(env!("CARGO_PKG_NAME"), "@", env!("CARGO_PKG_VERSION"))));
/// ```
#[macro_export]
macro_rules! release_name {
    () => {
        concat!(env!("CARGO_PKG_NAME"), "@", env!("CARGO_PKG_VERSION"))
    };
}

/// Pushes a copy of the current scope, which is popped when the guard is dropped.
pub fn push_scope() -> ScopeGuard {
    ScopeGuard::push()
}

/// The id of the last event this thread captured and queued.
pub fn last_event_id() -> Option<EventId> {
    Hub::with_current(|hub| hub.last_event_id())
}

/// Waits until everything captured so far is delivered, or `timeout` passes; returns whether everything was.
///
/// Returns `true` at once when the SDK is disabled. Never waits longer than `timeout`, even if the server never
/// answers.
pub fn flush(timeout: Duration) -> bool {
    hub::client().is_none_or(|client| client.flush(timeout))
}

/// Whether the SDK is enabled (initialised with a DSN or a transport).
pub fn is_enabled() -> bool {
    hub::client().is_some()
}

/// Counts of what became of the current client's events; all zero when the SDK is disabled.
pub fn stats() -> Stats {
    hub::client().map(|c| c.stats()).unwrap_or_default()
}
