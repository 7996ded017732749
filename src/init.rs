//! `init` and `try_init`: validate options, start the worker, install the panic hook, hand back the guard.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::client::{Client, Collector};
use crate::delivery::spool::{self, Spool, SpoolLimits};
use crate::diagnostics;
use crate::dsn::Dsn;
use crate::error::{InitError, InitErrorKind};
use crate::hub;
use crate::options::{ClientOptions, SpoolDir};
use crate::scrub::patterns::UserPattern;
use crate::transport::Transport;

/// Starts the SDK, or explains why the options are unusable.
///
/// Unset options are filled from the environment first: `SENTRY_DSN`, `SENTRY_RELEASE` and `SENTRY_ENVIRONMENT`.
/// Without a DSN (and without a custom transport) the SDK is disabled and every call is a cheap no-op; that is not
/// an error. A second `try_init` replaces the first client, which is flushed (within its `shutdown_timeout`) and
/// stopped.
///
/// # Errors
///
/// An invalid DSN, an `https://` DSN in a build without the `rustls` feature (and no transport set), a
/// `sample_rate` outside 0.0..=1.0, a `queue_size` of 0, a scrub pattern that is not a valid regular expression, or
/// a worker thread that cannot be started. The previous client, if any, is left in place.
///
/// # Examples
///
/// ```
/// let err = faultline::try_init("https://no-project-id@example.com").unwrap_err();
/// assert_eq!(err.to_string(), "invalid DSN: missing project id");
/// ```
pub fn try_init(options: impl Into<ClientOptions>) -> Result<InitGuard, InitError> {
    let mut options = options.into();
    fill_from_env(&mut options, |key| std::env::var(key).ok());
    let dsn = validate(&options)?;
    diagnostics::set_enabled(options.debug);
    let spool_dir = match (&options.spool_dir, &dsn) {
        (SpoolDir::Path(dir), _) => Some(dir.clone()),
        (SpoolDir::Default, Some(dsn)) => spool::default_dir(dsn),
        (SpoolDir::Default, None) | (SpoolDir::Disabled, _) => None,
    };
    let transport: Option<Arc<dyn Transport>> = match (&options.transport, dsn) {
        (Some(transport), _) => Some(transport.clone()),
        (None, Some(dsn)) => {
            check_tls(&dsn, cfg!(feature = "rustls"))?;
            Some(default_transport(&options, dsn))
        }
        (None, None) => None,
    };
    #[cfg(feature = "otlp")]
    let (transport, collector) = {
        let otlp = options
            .otlp
            .clone()
            .or_else(crate::transport::OtlpOptions::from_env);
        match otlp_exporter(&options, otlp) {
            // Without a server, the collector is the destination.
            Some(exporter) if transport.is_none() => (Some(exporter), None),
            exporter => (transport, exporter),
        }
    };
    #[cfg(not(feature = "otlp"))]
    let collector: Option<Arc<dyn Transport>> = None;
    let client = match transport {
        Some(transport) => {
            let collector = collector.map(|transport| Collector {
                transport,
                // Its own spool, beside the server's: `{spool}/otlp`.
                spool: spool_dir
                    .as_ref()
                    .and_then(|dir| open_spool(dir.join("otlp"), &options)),
            });
            let spool = spool_dir.and_then(|dir| open_spool(dir, &options));
            if options.samples_transactions() {
                // Where span times come from is decided here, not at the first span.
                crate::performance::ticks::warm_up();
            }
            #[cfg(faultline_native_crash)]
            install_crash_handler(&options, spool.as_ref());
            Some(
                Client::start(options, transport, spool, collector)
                    .map_err(|e| InitError::new(InitErrorKind::SpawnWorker(e)))?,
            )
        }
        None => None,
    };
    #[cfg(feature = "panic")]
    if client.is_some() {
        crate::integrations::panic::install();
    }
    if let Some(old) = hub::swap_client(client.clone()) {
        old.shutdown(old.options.shutdown_timeout);
    }
    if client.is_none() {
        diagnostics::sdk_debug!("no DSN: faultline is disabled");
    }
    Ok(InitGuard { client })
}

/// Starts the SDK and returns the guard that flushes it on drop; never panics.
///
/// On an unusable configuration it prints one line to stderr (`faultline: invalid DSN: …; error reporting is
/// disabled`) and returns a disabled guard, so a typo in a DSN cannot take the program down. Use [`try_init`] to
/// handle the error yourself.
///
/// ```
/// let _guard = faultline::init(faultline::ClientOptions::new()); // no DSN: disabled
/// assert!(!faultline::is_enabled());
/// assert!(faultline::capture_message("ignored", faultline::Level::Info).is_nil());
/// ```
pub fn init(options: impl Into<ClientOptions>) -> InitGuard {
    match try_init(options) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("faultline: {e}; error reporting is disabled");
            if let Some(old) = hub::swap_client(None) {
                old.shutdown(old.options.shutdown_timeout);
            }
            InitGuard { client: None }
        }
    }
}

/// The OTLP exporter, with an OTLP endpoint in the environment (`OTEL_EXPORTER_OTLP_ENDPOINT` and the rest, see
/// [`OtlpOptions::from_env`](crate::transport::OtlpOptions::from_env)): a destination of its own beside the server,
/// with its own delivery and spool, or the only one without a server. The resource names the release's name and
/// version (`name@version`) and the environment, unless `OTEL_SERVICE_NAME` names the service.
#[cfg(feature = "otlp")]
fn otlp_exporter(
    options: &ClientOptions,
    otlp: Option<crate::transport::OtlpOptions>,
) -> Option<Arc<dyn Transport>> {
    let mut otlp = otlp?;
    if let Some(release) = options.release.as_deref() {
        let (name, version) = release.split_once('@').unwrap_or(("", release));
        if otlp.service_name.is_none() && !name.is_empty() {
            otlp.service_name = Some(name.to_owned());
        }
        otlp.service_version = Some(version.to_owned());
    }
    otlp.environment = options.environment.as_deref().map(str::to_owned);
    Some(Arc::new(crate::transport::OtlpTransport::new(otlp)))
}

/// Opens the spool, or says why it cannot be used and carries on without it: a spool that does not work is a
/// reason to keep events in memory, not to stop reporting.
fn open_spool(dir: PathBuf, options: &ClientOptions) -> Option<Spool> {
    let limits = SpoolLimits {
        max_files: options.spool_max_files,
        max_bytes: options.spool_max_bytes,
        max_age: options.spool_max_age,
    };
    match Spool::open(dir, limits) {
        Ok(spool) => Some(spool),
        Err(e) => {
            // One line at start-up, like a bad DSN: it is configuration, and the user should see it.
            eprintln!("faultline: {e}; events that cannot be sent at once are kept in memory only");
            None
        }
    }
}

fn fill_from_env(options: &mut ClientOptions, var: impl Fn(&str) -> Option<String>) {
    let var = |key| var(key).filter(|v| !v.trim().is_empty());
    if options.dsn.is_none() {
        options.dsn = var("SENTRY_DSN");
    }
    if options.release.is_none() {
        options.release = var("SENTRY_RELEASE").map(Into::into);
    }
    if options.environment.is_none() {
        options.environment = var("SENTRY_ENVIRONMENT").map(Into::into);
    }
}

fn validate(options: &ClientOptions) -> Result<Option<Dsn>, InitError> {
    let rate = options.sample_rate;
    if !(0.0..=1.0).contains(&rate) {
        // NaN fails `contains` too.
        return Err(InitError::new(InitErrorKind::InvalidSampleRate(rate)));
    }
    if let Some(rate) = options.traces_sample_rate {
        if !(0.0..=1.0).contains(&rate) {
            return Err(InitError::new(InitErrorKind::InvalidTracesSampleRate(rate)));
        }
    }
    if options.queue_size == 0 {
        return Err(InitError::new(InitErrorKind::InvalidOption(
            "queue_size must be at least 1",
        )));
    }
    // Compiled here only to be checked: the worker compiles its own copies, and a pattern meant to keep a secret
    // out of reports must not be dropped quietly.
    for pattern in &options.scrub_patterns {
        UserPattern::new(pattern)
            .map_err(|e| InitError::new(InitErrorKind::InvalidScrubPattern(e)))?;
    }
    options
        .dsn
        .as_deref()
        .filter(|d| !d.trim().is_empty())
        .map(|d| d.parse::<Dsn>())
        .transpose()
        .map_err(|e| InitError::new(InitErrorKind::InvalidDsn(e)))
}

/// An `https://` DSN needs TLS in the default transport; a build without it says so at `init` instead of failing
/// every request later. A transport set in the options may reach any URL it likes, so this is not checked for one.
fn check_tls(dsn: &Dsn, tls_built_in: bool) -> Result<(), InitError> {
    if cfg!(feature = "http") && matches!(dsn.scheme(), crate::dsn::Scheme::Https) && !tls_built_in
    {
        return Err(InitError::new(InitErrorKind::TlsUnavailable));
    }
    Ok(())
}

#[cfg(feature = "http")]
fn default_transport(options: &ClientOptions, dsn: Dsn) -> Arc<dyn Transport> {
    let mut transport_options = crate::transport::TransportOptions::new(dsn);
    transport_options.connect_timeout = options.connect_timeout;
    transport_options.timeout = options.http_timeout;
    Arc::new(crate::transport::HttpTransport::new(&transport_options))
}

#[cfg(not(feature = "http"))]
fn default_transport(_options: &ClientOptions, _dsn: Dsn) -> Arc<dyn Transport> {
    diagnostics::sdk_debug!(
        "built without the `http` feature: events are dropped unless a transport is set"
    );
    Arc::new(crate::transport::NoopTransport)
}

/// Keeps the SDK running; dropping it delivers what is queued (within `shutdown_timeout`) and stops the worker.
///
/// Hold it for the life of the program, typically as `let _guard = faultline::init(...)` in `main` (not `let _ =`,
/// which drops it at once).
#[must_use = "when the guard is dropped the queue is flushed and the SDK stops; bind it with `let _guard = …`"]
pub struct InitGuard {
    client: Option<Arc<Client>>,
}

impl InitGuard {
    /// Whether this guard's client is running (false for a disabled SDK).
    pub fn is_enabled(&self) -> bool {
        self.client.is_some()
    }

    /// Waits until what is queued is delivered, or `timeout` passes; returns whether everything was delivered.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.client.as_ref().is_none_or(|c| c.flush(timeout))
    }
}

impl Drop for InitGuard {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            hub::remove_client(&client);
            // A crash after the SDK shut down is not recorded (unless a later `init` started it again).
            #[cfg(faultline_native_crash)]
            if hub::client().is_none() {
                crate::native_crash::handler::disarm();
            }
            client.shutdown(client.options.shutdown_timeout);
        }
    }
}

/// Installs the native crash handler, writing into the spool's `crashes/`, if the options ask for it and there is
/// a spool; says why not otherwise (with `debug`).
#[cfg(faultline_native_crash)]
fn install_crash_handler(options: &ClientOptions, spool: Option<&Spool>) {
    use crate::native_crash::handler::{self, Prepared};

    if !options.native_crash_handler {
        handler::disarm();
        return;
    }
    let Some(spool) = spool else {
        diagnostics::sdk_debug!(
            "native crashes are not recorded: there is no spool to keep them in"
        );
        handler::disarm();
        return;
    };
    let prepared = Prepared {
        release: options.release.as_deref(),
        environment: options.environment.as_deref(),
        server_name: options.server_name.as_deref(),
    };
    hub::prepare_crash_handler_hub();
    let installed = handler::install(
        &spool.crash_records_dir(),
        &prepared,
        hub::scope_for_crash_handler,
    );
    if let Err(e) = installed {
        diagnostics::sdk_debug!("native crashes are not recorded: {e}");
        handler::disarm();
    }
}

impl std::fmt::Debug for InitGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitGuard")
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_fills_only_what_is_unset() {
        let env = |key: &str| match key {
            "SENTRY_DSN" => Some("https://k@h/1".to_owned()),
            "SENTRY_RELEASE" => Some("from-env@1".to_owned()),
            "SENTRY_ENVIRONMENT" => Some("  ".to_owned()),
            _ => None,
        };
        let mut options = ClientOptions::new().release("from-code@2");
        fill_from_env(&mut options, env);
        assert_eq!(options.dsn.as_deref(), Some("https://k@h/1"));
        assert_eq!(options.release.as_deref(), Some("from-code@2"));
        assert_eq!(options.environment, None, "blank values count as unset");
    }

    #[test]
    fn https_needs_tls_in_the_default_transport() {
        let https: Dsn = "https://k@h/1".parse().unwrap();
        let http: Dsn = "http://k@h/1".parse().unwrap();
        assert!(check_tls(&https, true).is_ok());
        assert!(check_tls(&http, false).is_ok());
        let err = check_tls(&https, false);
        if cfg!(feature = "http") {
            let err = err.unwrap_err();
            assert!(matches!(err.kind(), InitErrorKind::TlsUnavailable));
            assert!(err.to_string().contains("`rustls` feature"), "{err}");
        } else {
            // Without `http` there is no default transport to refuse it.
            assert!(err.is_ok());
        }
    }

    #[test]
    fn validation() {
        for rate in [-0.1, 1.01, f64::NAN, f64::INFINITY] {
            let err = validate(&ClientOptions::new().sample_rate(rate)).unwrap_err();
            assert!(
                matches!(err.kind(), InitErrorKind::InvalidSampleRate(_)),
                "{rate}"
            );
        }
        for rate in [0.0, 0.5, 1.0] {
            assert!(validate(&ClientOptions::new().sample_rate(rate)).is_ok());
        }
        assert!(validate(&ClientOptions::new().queue_size(0)).is_err());
        let err = validate(
            &ClientOptions::new()
                .scrub_pattern("ok")
                .scrub_pattern("a{2,1}"),
        )
        .unwrap_err();
        assert!(
            matches!(err.kind(), InitErrorKind::InvalidScrubPattern(e) if e.pattern() == "a{2,1}"),
            "{err:?}"
        );
        assert!(validate(&ClientOptions::new().scrub_pattern(r"sk_live_\w+")).is_ok());
        let err = validate(&ClientOptions::new().dsn("https://k@h/x")).unwrap_err();
        assert_eq!(err.to_string(), "invalid DSN: project id is not a number");
        assert!(validate(&ClientOptions::new()).unwrap().is_none());
    }
}
