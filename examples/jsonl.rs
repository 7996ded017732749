//! Events as ECS JSON lines for Filebeat: an error with a source chain and a tagged message.
//!
//! `cargo run --example jsonl` writes `target/faultline-jsonl/app.log` (rotated at 1 MiB, three backups) and
//! prints its lines. `docs/elk.md` shows how to ship them to Elasticsearch.

use std::path::PathBuf;
use std::time::Duration;

use faultline::sink::JsonLinesSink;
use faultline::{ClientOptions, Level};

#[derive(Debug)]
struct ConfigError(std::num::ParseIntError);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("could not load settings.toml")
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

fn load_config() -> Result<u16, ConfigError> {
    "80a".parse().map_err(ConfigError)
}

fn main() -> std::io::Result<()> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/faultline-jsonl/app.log");
    let sink = JsonLinesSink::builder(&path)
        .max_bytes(1024 * 1024)
        .max_files(3)
        .service("jsonl-example", env!("CARGO_PKG_VERSION"), "demo")
        .build()?;
    let guard = faultline::init(ClientOptions::new().transport(sink));

    if let Err(err) = load_config() {
        faultline::capture_error(&err);
    }
    faultline::with_scope(
        |scope| scope.set_tag("component", "billing"),
        || faultline::capture_message("invoice run took 40 s", Level::Warning),
    );
    faultline::flush(Duration::from_secs(5));
    drop(guard);

    let text = std::fs::read_to_string(&path)?;
    let lines: Vec<&str> = text.lines().collect();
    for line in &lines[lines.len().saturating_sub(2)..] {
        println!("{line}");
    }
    println!("-> {}", path.display());
    Ok(())
}
