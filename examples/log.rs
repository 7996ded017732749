//! The `log` integration: faultline's logger wraps the program's own logger, which still prints every record.
//! `Info` and up become breadcrumbs, `Error` becomes an event; an error logged as a key-value becomes the event's
//! exception chain. Reads the DSN from `SENTRY_DSN`; without it, only the program's logger prints.
//!
//! ```sh
//! SENTRY_DSN=http://key@127.0.0.1:9000/1 cargo run --example log
//! ```

use log::{Level, LevelFilter, Log, Metadata, Record};

/// The program's own logger; in a real program, e.g. `env_logger::Builder::from_default_env().build()`.
struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= Level::Info
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!(
                "[{:<5} {}] {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

fn main() {
    let _guard =
        faultline::init(faultline::ClientOptions::new().release(faultline::release_name!()));
    // `log` has one global logger: install faultline's around yours, not instead of it.
    let logger = faultline::integrations::log::Logger::new(StderrLogger)
        .breadcrumb_level(LevelFilter::Info)
        .event_level(LevelFilter::Error);
    log::set_boxed_logger(Box::new(logger)).expect("the only logger");
    log::set_max_level(LevelFilter::Info);

    log::info!("loading config from {}", "settings.toml");
    log::warn!(retries = 2; "config server slow");
    let err = "eighty".parse::<u16>().unwrap_err();
    // The error and its source chain become the event's exceptions; `port` goes to its extra data.
    log::error!(error:err = err, port = "eighty"; "cannot read the port");
    log::info!(target: "ureq::pool", "not reported: the SDK's HTTP stack is ignored");

    if faultline::is_enabled() {
        eprintln!("sent: {:?}", faultline::last_event_id());
    }
}
