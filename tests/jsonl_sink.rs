//! The JSON-lines sink through the public API: ECS fields of real events, rotation, files it must not touch,
//! concurrent writers, and what survives a crash.
//!
//! Only `events_become_ecs_lines` initialises the SDK (process-wide state); the other tests drive the sink directly.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use faultline::sink::{EcsRecord, FlushPolicy, JsonLinesSink};
use faultline::{ClientOptions, Level};
use serde_json::Value;

/// Every line of `path`, parsed; panics on a line that is not one JSON object or a file not ending in `\n`.
fn read_lines(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{} ends mid-line",
        path.display()
    );
    text.lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: {e}: {line:?}", path.display()));
            assert!(value.is_object(), "{line}");
            value
        })
        .collect()
}

/// The files in `dir`, sorted by name.
fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// `app.log.{max}` … `app.log.1`, `app.log`: oldest first.
fn files_oldest_first(dir: &Path, max_files: usize) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..=max_files)
        .rev()
        .map(|i| dir.join(format!("app.log.{i}")))
        .filter(|p| p.exists())
        .collect();
    files.push(dir.join("app.log"));
    files
}

fn record(n: usize) -> EcsRecord<'static> {
    let mut record = EcsRecord::new("INFO", format!("line {n:05}"));
    record.logger = Some("jsonl_sink::test".into());
    record.labels.insert("n".into(), n.to_string().into());
    record
}

fn seq(line: &Value) -> usize {
    line["labels"]["n"].as_str().unwrap().parse().unwrap()
}

#[derive(Debug)]
struct ConfigError(PortError);

#[derive(Debug)]
struct PortError(std::num::ParseIntError);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("could not load settings.toml")
    }
}

impl std::fmt::Display for PortError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid port")
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl std::error::Error for PortError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[inline(never)]
fn load_config() -> Result<u16, ConfigError> {
    "80a".parse::<u16>().map_err(|e| ConfigError(PortError(e)))
}

#[test]
fn events_become_ecs_lines() {
    let dir = tempfile::tempdir().unwrap();
    // The directory does not exist yet: the sink creates it.
    let sink = JsonLinesSink::builder(dir.path().join("logs/app.log"))
        .service("billing", "1.4.2", "ci")
        .build()
        .unwrap();
    let path = sink.path().to_owned();
    let guard = faultline::try_init(
        ClientOptions::new()
            .transport(sink)
            .release("jsonl@9.9.9")
            .shutdown_timeout(Duration::from_secs(10)),
    )
    .unwrap();
    faultline::configure_scope(|scope| scope.set_tag("tenant.id", "acme"));

    let err = load_config().unwrap_err();
    let error_id = faultline::capture_error(&err);
    let message_id = faultline::capture_message("cache warmed", Level::Info);
    #[cfg(feature = "panic")]
    {
        let result = std::thread::Builder::new()
            .name("ledger-worker".into())
            .spawn(|| panic!("ledger 7 is out of balance"))
            .unwrap()
            .join();
        assert!(result.is_err());
    }
    assert!(faultline::flush(Duration::from_secs(10)));

    let lines = read_lines(&path);
    let expected = if cfg!(feature = "panic") { 3 } else { 2 };
    assert_eq!(lines.len(), expected, "{lines:#?}");
    for line in &lines {
        let ts = line["@timestamp"].as_str().unwrap();
        assert_eq!(ts.len(), "2025-11-25T13:34:56.123Z".len(), "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
        assert!(line["log.level"].is_string());
        assert!(line["message"].is_string());
        assert_eq!(line["ecs.version"], "8.11.0");
        let id = line["event.id"].as_str().unwrap();
        assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(line["service.name"], "billing");
        assert_eq!(line["service.version"], "1.4.2");
        assert_eq!(line["service.environment"], "ci");
        assert!(!line["host.name"].as_str().unwrap().is_empty());
        assert_eq!(line["process.pid"], std::process::id());
    }
    // The first keys come in the order the ECS logging specification asks for.
    for text in fs::read_to_string(&path).unwrap().lines() {
        assert!(text.starts_with(r#"{"@timestamp":""#), "{text}");
        let at = |key: &str| text.find(&format!(r#","{key}":"#)).unwrap();
        assert!(at("log.level") < at("message") && at("message") < at("ecs.version"));
    }

    let error = &lines[0];
    assert_eq!(error["event.id"], error_id.to_string());
    assert_eq!(error["log.level"], "error");
    assert_eq!(error["message"], "could not load settings.toml");
    assert_eq!(error["error.type"], "ConfigError");
    assert_eq!(error["error.message"], "could not load settings.toml");
    assert_eq!(
        error["error.chain"],
        serde_json::json!([
            "PortError: invalid port",
            "ParseIntError: invalid digit found in string"
        ])
    );
    let trace = error["error.stack_trace"].as_str().unwrap();
    assert!(trace.starts_with("   0: "), "{trace}");
    assert!(
        trace
            .lines()
            .any(|l| l.contains("events_become_ecs_lines at tests/jsonl_sink.rs:")),
        "{trace}"
    );
    assert_eq!(
        error["labels"]["tenant_id"], "acme",
        "dots in label keys become _"
    );
    assert_eq!(error["log.origin.file.name"], "tests/jsonl_sink.rs");
    assert!(error["log.origin.file.line"].as_u64().unwrap() > 0);

    let message = &lines[1];
    assert_eq!(message["event.id"], message_id.to_string());
    assert_eq!(message["log.level"], "info");
    assert_eq!(message["message"], "cache warmed");
    assert_eq!(message["labels"]["tenant_id"], "acme");
    assert!(message.get("error.type").is_none());

    #[cfg(feature = "panic")]
    {
        let panic = &lines[2];
        assert_eq!(panic["log.level"], "fatal");
        assert_eq!(panic["message"], "ledger 7 is out of balance");
        assert_eq!(panic["error.type"], "panic");
        assert_eq!(panic["process.thread.name"], "ledger-worker");
    }
    drop(guard);
}

/// The template in docs/elk.md maps every field a line can have.
#[test]
fn the_documented_index_template_maps_every_field() {
    let doc = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/elk.md")).unwrap();
    let template = doc
        .split("```json\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .find(|block| block.contains("index_patterns"))
        .expect("a json block with the template");
    let template: Value = serde_json::from_str(template).unwrap();
    let mut mapped = BTreeSet::new();
    fn walk(prefix: &str, properties: &Value, out: &mut BTreeSet<String>) {
        for (name, mapping) in properties.as_object().unwrap() {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            match mapping.get("properties") {
                Some(children) => walk(&path, children, out),
                None => {
                    out.insert(path);
                }
            }
        }
    }
    walk(
        "",
        &template["template"]["mappings"]["properties"],
        &mut mapped,
    );

    // A record with every field set, as a line.
    let dir = tempfile::tempdir().unwrap();
    let sink = JsonLinesSink::builder(dir.path().join("app.log"))
        .service("s", "1", "e")
        .build()
        .unwrap();
    let mut event = faultline::protocol::Event::new();
    event.message = Some("m".into());
    event.logger = Some("l".into());
    event.server_name = Some("h".into());
    event.tags.insert("t".into(), "v".into());
    let frame = faultline::protocol::Frame {
        function: Some("f".into()),
        filename: Some("f.rs".into()),
        lineno: Some(1),
        in_app: Some(true),
        ..Default::default()
    };
    for ty in ["Cause", "Error"] {
        event.exception.push(faultline::protocol::Exception {
            ty: ty.into(),
            value: Some("v".into()),
            stacktrace: Some(faultline::protocol::Stacktrace {
                frames: vec![frame.clone()],
            }),
            ..Default::default()
        });
    }
    event.contexts.insert(
        "trace".into(),
        serde_json::json!({"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331"}),
    );
    let mut record = EcsRecord::from_event(&event);
    record.thread_name = Some("t".into());
    let line: Value = serde_json::from_slice(&sink.format_line(&record)).unwrap();
    let keys: Vec<&String> = line.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 22, "every field is set: {keys:?}");
    for key in keys {
        assert!(
            mapped.contains(key.as_str()),
            "{key} is not in the template"
        );
    }
}

#[test]
fn rotation_keeps_max_files_backups_and_never_splits_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let (max_bytes, max_files) = (2048, 3);
    let sink = JsonLinesSink::builder(dir.path().join("app.log"))
        .max_bytes(max_bytes)
        .max_files(max_files)
        .build()
        .unwrap();
    let line_len = sink.format_line(&record(0)).len() as u64;
    let total = 300;
    assert!(
        total as u64 * line_len > 8 * max_bytes,
        "enough to rotate several times"
    );
    for n in 0..total {
        sink.write_record(&record(n)).unwrap();
    }
    assert_eq!(
        file_names(dir.path()),
        ["app.log", "app.log.1", "app.log.2", "app.log.3"]
    );
    let mut seen = Vec::new();
    for path in files_oldest_first(dir.path(), max_files) {
        let size = fs::metadata(&path).unwrap().len();
        assert!(size <= max_bytes, "{}: {size} bytes", path.display());
        let lines = read_lines(&path);
        assert!(!lines.is_empty());
        if path.ends_with("app.log.1") {
            // A backup is only rotated away when the next line would not fit.
            assert!(size + line_len > max_bytes, "app.log.1 rotated early");
        }
        seen.extend(lines.iter().map(seq));
    }
    // The newest lines survive, in order, with none missing in between.
    assert_eq!(*seen.last().unwrap(), total - 1);
    let first = seen[0];
    assert_eq!(seen, (first..total).collect::<Vec<_>>());
}

#[test]
fn files_the_sink_did_not_create_are_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = [
        "other.log",
        "app.log.bak",
        "app.log.1.gz",
        "app.log.old",
        "app.log.01",
        "app.log2",
        "my-app.log.9",
        "notes.txt",
    ];
    for name in foreign {
        fs::write(dir.path().join(name), format!("{name} stays\n")).unwrap();
    }
    fs::create_dir(dir.path().join("archive")).unwrap();
    fs::write(dir.path().join("archive/app.log.9"), "nested stays\n").unwrap();
    // A backup beyond `max_files` from an earlier run with more backups is the sink's own, and is pruned.
    fs::write(dir.path().join("app.log.9"), "stale backup\n").unwrap();

    let sink = JsonLinesSink::builder(dir.path().join("app.log"))
        .max_bytes(1024)
        .max_files(2)
        .build()
        .unwrap();
    for n in 0..100 {
        sink.write_record(&record(n)).unwrap();
    }
    let mut want: Vec<String> = foreign.iter().map(|s| s.to_string()).collect();
    want.extend(["app.log", "app.log.1", "app.log.2", "archive"].map(String::from));
    want.sort();
    assert_eq!(file_names(dir.path()), want);
    for name in foreign {
        assert_eq!(
            fs::read_to_string(dir.path().join(name)).unwrap(),
            format!("{name} stays\n")
        );
    }
    assert_eq!(
        fs::read_to_string(dir.path().join("archive/app.log.9")).unwrap(),
        "nested stays\n"
    );
}

#[test]
fn concurrent_writers_never_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let max_files = 1000;
    // Small files, so rotation also happens while the threads write.
    let sink = Arc::new(
        JsonLinesSink::builder(dir.path().join("app.log"))
            .max_bytes(64 * 1024)
            .max_files(max_files)
            .build()
            .unwrap(),
    );
    let (threads, per_thread) = (8, 1000);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let sink = Arc::clone(&sink);
            std::thread::Builder::new()
                .name(format!("writer-{t}"))
                .spawn(move || {
                    for n in 0..per_thread {
                        let mut record = record(n);
                        // Lines of different lengths make a torn write easier to notice.
                        record.message = format!("{}{}", "x".repeat(t * 37), n).into();
                        sink.write_record(&record).unwrap();
                    }
                })
                .unwrap()
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let files = files_oldest_first(dir.path(), max_files);
    assert!(
        files.len() > 5,
        "rotated while writing: {} files",
        files.len()
    );
    let mut by_thread: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut count = 0;
    for path in files {
        for line in read_lines(&path) {
            count += 1;
            let thread = line["process.thread.name"].as_str().unwrap().to_owned();
            by_thread.entry(thread).or_default().push(seq(&line));
        }
    }
    assert_eq!(count, threads * per_thread);
    assert_eq!(by_thread.len(), threads);
    for (thread, seqs) in by_thread {
        // Each thread's lines appear once each, in the order it wrote them.
        assert_eq!(seqs, (0..per_thread).collect::<Vec<_>>(), "{thread}");
    }
}

#[test]
fn batched_lines_reach_the_file_after_max_lines_without_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let sink = JsonLinesSink::builder(dir.path().join("app.log"))
        .flush_policy(FlushPolicy::Batched {
            max_lines: 5,
            max_delay: Duration::from_secs(3600),
        })
        .build()
        .unwrap();
    for n in 0..4 {
        sink.write_record(&record(n)).unwrap();
    }
    assert_eq!(read_lines(sink.path()).len(), 0, "held back until 5 lines");
    sink.write_record(&record(4)).unwrap();
    assert_eq!(read_lines(sink.path()).len(), 5);
    for n in 5..8 {
        sink.write_record(&record(n)).unwrap();
    }
    assert_eq!(read_lines(sink.path()).len(), 5);
    let path = sink.path().to_owned();
    drop(sink);
    let seqs: Vec<usize> = read_lines(&path).iter().map(seq).collect();
    assert_eq!(seqs, (0..8).collect::<Vec<_>>(), "dropping writes the rest");
}

const CRASH_DIR: &str = "FAULTLINE_JSONL_CRASH_DIR";
const CRASH_MODE: &str = "FAULTLINE_JSONL_CRASH_MODE";

/// Not a test of its own: `a_crash_loses_nothing_flushed` runs this in a child process, which it aborts.
#[test]
fn crash_child() {
    let (Ok(dir), Ok(mode)) = (std::env::var(CRASH_DIR), std::env::var(CRASH_MODE)) else {
        return;
    };
    let policy = match mode.as_str() {
        "every_line" => FlushPolicy::EveryLine,
        _ => FlushPolicy::Batched {
            max_lines: 10,
            max_delay: Duration::from_secs(3600),
        },
    };
    let sink = JsonLinesSink::builder(Path::new(&dir).join("app.log"))
        .flush_policy(policy)
        .build()
        .unwrap();
    for n in 0..25 {
        sink.write_record(&record(n)).unwrap();
    }
    if mode != "batched_no_flush" {
        assert!(faultline::transport::Transport::flush(
            &sink,
            Duration::from_secs(5)
        ));
    }
    // No destructor runs: whatever is not in the file now is lost.
    std::process::abort();
}

#[test]
fn a_crash_loses_nothing_flushed() {
    for (mode, survivors) in [
        ("every_line", 25),
        ("batched_flush", 25),
        // Without a flush, batching loses the lines after the last full batch, never more than max_lines - 1.
        ("batched_no_flush", 20),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CRASH_DIR, dir.path())
            .env(CRASH_MODE, mode)
            .output()
            .unwrap();
        assert!(
            !output.status.success(),
            "{mode}: the child should have aborted: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let seqs: Vec<usize> = read_lines(&dir.path().join("app.log"))
            .iter()
            .map(seq)
            .collect();
        assert_eq!(seqs, (0..survivors).collect::<Vec<_>>(), "{mode}");
    }
}
