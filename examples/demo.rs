//! faultline's demo: a handled error with a source chain, a tagged message, a panic on a named thread, and a few
//! `log` records.
//!
//! `cargo run --example demo` sends the events to `SENTRY_DSN` when it is set. Without it nothing remote starts:
//! each event's full JSON goes to `target/faultline-demo/events.jsonl` and a one-line summary is printed. Either
//! way, the events and the `log` records are also written as ECS JSON lines, ready for Filebeat, to
//! `target/faultline-demo/app.log`. `FAULTLINE_DEMO_DIR` picks another directory for both files.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline::integrations::log::Logger;
use faultline::protocol::Envelope;
use faultline::sink::JsonLinesSink;
use faultline::transport::{HttpTransport, Outcome, Tee, Transport, TransportOptions};
use faultline::{ClientOptions, Level};
use log::LevelFilter;

#[derive(Debug)]
struct ConfigError {
    path: &'static str,
    source: PortError,
}

#[derive(Debug)]
struct PortError {
    source: std::num::ParseIntError,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "could not load {}", self.path)
    }
}

impl std::fmt::Display for PortError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid port")
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl std::error::Error for PortError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn parse_port(text: &str) -> Result<u16, PortError> {
    text.parse().map_err(|source| PortError { source })
}

fn load_config(path: &'static str) -> Result<u16, ConfigError> {
    parse_port("80a").map_err(|source| ConfigError { path, source })
}

/// Without a DSN: keep each event's JSON in a file and print a summary of it.
struct LocalFile(Mutex<File>);

impl LocalFile {
    fn create(path: &Path) -> std::io::Result<Self> {
        Ok(LocalFile(Mutex::new(File::create(path)?)))
    }
}

impl Transport for LocalFile {
    fn send_envelope(&self, envelope: &Envelope) -> Outcome {
        // `to_event` also reads an event replayed from the spool, which arrives as the bytes that were stored.
        let Some(event) = envelope.to_event() else {
            return Outcome::Sent;
        };
        if let (Ok(json), Ok(mut file)) = (serde_json::to_string(&event), self.0.lock()) {
            let _ = writeln!(file, "{json}");
        }
        let (ty, value) = match event.exception.last() {
            Some(e) => (e.ty.as_str(), e.value.as_deref().unwrap_or_default()),
            None => ("message", event.message.as_deref().unwrap_or_default()),
        };
        let frames = event.exception.last().and_then(|e| e.stacktrace.as_ref());
        let frames = frames.or_else(|| event.threads.iter().find_map(|t| t.stacktrace.as_ref()));
        let top = frames.and_then(|s| s.frames.iter().rev().find(|f| f.in_app == Some(true)));
        let at = top.map_or_else(String::new, |f| {
            let function = f.function.as_deref().unwrap_or("?");
            let file = f.filename.as_deref().unwrap_or("?");
            format!(" at {function} ({file}:{})", f.lineno.unwrap_or(0))
        });
        println!("[{}] {ty}: {value}{at}", event.level);
        Outcome::Sent
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = match std::env::var_os("FAULTLINE_DEMO_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/faultline-demo"),
    };
    std::fs::create_dir_all(&dir)?;

    // Events and log records as ECS JSON lines, for a log shipper.
    let app_log = Arc::new(
        JsonLinesSink::builder(dir.join("app.log"))
            .service("demo", env!("CARGO_PKG_VERSION"), "demo")
            .build()?,
    );
    // Each event goes to the server (or the local events file) and, through the tee, to app.log as well.
    let dsn = std::env::var("SENTRY_DSN")
        .ok()
        .filter(|dsn| !dsn.is_empty());
    let events_file = dir.join("events.jsonl");
    let transport = match &dsn {
        Some(dsn) => Tee::new(HttpTransport::new(&TransportOptions::new(dsn.parse()?))),
        None => Tee::new(LocalFile::create(&events_file)?),
    };
    let _guard = faultline::init(
        ClientOptions::new()
            .release(concat!("demo@", env!("CARGO_PKG_VERSION")))
            .environment("demo")
            .transport(transport.with(app_log.clone())),
    );
    // `log` records at `Info` and up: JSON lines in app.log, and breadcrumbs on the events that follow.
    log::set_boxed_logger(Box::new(
        Logger::standalone().json_lines(app_log.clone(), LevelFilter::Info),
    ))?;
    log::set_max_level(LevelFilter::Info);

    log::info!(path = "settings.toml"; "loading settings");
    // A handled error with a two-level source chain.
    if let Err(err) = load_config("settings.toml") {
        log::warn!(error:err = err; "falling back to the default settings");
        faultline::capture_error(&err);
    }

    // A message with tags.
    log::info!(invoices = 1042; "invoice run started");
    faultline::with_scope(
        |scope| {
            scope.set_tag("component", "billing");
            scope.set_tag("customer_tier", "gold");
        },
        || faultline::capture_message("invoice run took longer than expected", Level::Warning),
    );

    // A panic on a named thread: reported by the panic hook, then the thread ends.
    let worker = std::thread::Builder::new().name("invoice-worker".into());
    let _ = worker
        .spawn(|| panic!("invoice 1042 has no line items"))?
        .join();

    faultline::flush(Duration::from_secs(5));
    match dsn {
        Some(_) => println!("events sent to SENTRY_DSN"),
        None => println!("events:   {}", events_file.display()),
    }
    println!("app log:  {}", app_log.path().display());
    Ok(())
}
