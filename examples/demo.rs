//! faultline's demo: a handled error with a source chain, a tagged message and a panic on a named thread.
//!
//! `cargo run --example demo` sends to `SENTRY_DSN` when it is set. Without it nothing remote starts: each event's
//! full JSON goes to `target/faultline-demo/events.jsonl` and a one-line summary is printed.

use std::fs::{self, File};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use faultline::protocol::Envelope;
use faultline::transport::{Outcome, Transport};
use faultline::{ClientOptions, Level};

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
struct LocalFile {
    path: PathBuf,
    file: Mutex<File>,
}

impl Transport for LocalFile {
    fn send_envelope(&self, envelope: &Envelope) -> Outcome {
        let Some(event) = envelope.event() else {
            return Outcome::Sent;
        };
        let json = serde_json::to_string(event).unwrap_or_default();
        let _ = writeln!(self.file.lock().unwrap(), "{json}");
        let (ty, value) = match event.exception.last() {
            Some(e) => (e.ty.clone(), e.value.clone().unwrap_or_default()),
            None => (
                "message".to_owned(),
                event.message.clone().unwrap_or_default(),
            ),
        };
        let frames = event.exception.last().and_then(|e| e.stacktrace.as_ref());
        let frames = frames.or_else(|| event.threads.iter().find_map(|t| t.stacktrace.as_ref()));
        let top = frames.and_then(|s| s.frames.iter().rev().find(|f| f.in_app == Some(true)));
        let at = top.map_or_else(String::new, |f| {
            let function = f.function.as_deref().unwrap_or("?");
            let file = f.filename.as_deref().unwrap_or("?");
            format!("\n    at {function} ({file}:{})", f.lineno.unwrap_or(0))
        });
        println!("[{}] {ty}: {value}{at}", event.level);
        println!("    -> {}", self.path.display());
        Outcome::Sent
    }
}

fn main() {
    let mut options = ClientOptions::new().release(concat!("demo@", env!("CARGO_PKG_VERSION")));
    if std::env::var_os("SENTRY_DSN").is_none() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/faultline-demo");
        fs::create_dir_all(&dir).expect("create target/faultline-demo");
        let path = dir.join("events.jsonl");
        let file = Mutex::new(File::create(&path).expect("create the events file"));
        options = options.transport(LocalFile { path, file });
    }
    let _guard = faultline::init(options.environment("demo"));

    // A handled error with a two-level source chain.
    if let Err(err) = load_config("settings.toml") {
        faultline::capture_error(&err);
    }

    // A message with tags.
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
        .spawn(|| panic!("invoice 1042 has no line items"))
        .unwrap()
        .join();

    faultline::flush(Duration::from_secs(5));
}
