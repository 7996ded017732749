//! The measuring kit shared by `benches/capture.rs` and the comparison binary in `benches/compare/`: per-call
//! timing with percentiles, a fixed-depth call stack, the error with a source chain that both SDKs capture, child
//! processes for first-call and memory figures, and a loopback HTTP peer that counts what it receives.
//!
//! Standard library only, so the comparison crate includes it with `#[path]` and both binaries measure with the
//! same code. Each binary uses a different subset of it.

#![allow(dead_code)]

use std::fmt;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

// === timing ===

/// Per-call durations of one scenario, summarised by nearest-rank percentiles.
#[derive(Clone, Debug)]
pub struct Summary {
    pub n: usize,
    pub median: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
}

impl Summary {
    /// Summarises `samples` (reorders them).
    pub fn of(samples: &mut [Duration]) -> Summary {
        assert!(!samples.is_empty(), "no samples");
        samples.sort_unstable();
        let at = |q: f64| {
            // Nearest rank: the smallest sample with at least `q` of the samples at or below it.
            let rank = (q * samples.len() as f64).ceil() as usize;
            samples[rank.clamp(1, samples.len()) - 1]
        };
        Summary {
            n: samples.len(),
            median: at(0.5),
            p99: at(0.99),
            p999: at(0.999),
            max: samples[samples.len() - 1],
        }
    }

    /// The median, across `rounds`, of each figure (median, p99, …) taken separately; `n` counts every call.
    pub fn median_of(rounds: &[Summary]) -> Summary {
        let pick = |figure: fn(&Summary) -> Duration| median(rounds.iter().map(figure).collect());
        Summary {
            n: rounds.iter().map(|r| r.n).sum(),
            median: pick(|r| r.median),
            p99: pick(|r| r.p99),
            p999: pick(|r| r.p999),
            max: pick(|r| r.max),
        }
    }

    /// `median … p99 …`, plus p99.9 when there are enough samples for it to mean something (10,000 or more).
    pub fn line(&self) -> String {
        let mut s = format!(
            "median {:>9}  p99 {:>9}",
            fmt_dur(self.median),
            fmt_dur(self.p99)
        );
        if self.n >= 10_000 {
            s.push_str(&format!("  p99.9 {:>9}", fmt_dur(self.p999)));
        }
        s.push_str(&format!("  (n={})", self.n));
        s
    }
}

/// Runs `call` `n` times and records each call's duration. `between` runs after every call, untimed (pacing,
/// flushing, resetting).
pub fn time_each(n: usize, mut call: impl FnMut(usize), mut between: impl FnMut(usize)) -> Summary {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        call(i);
        samples.push(start.elapsed());
        between(i);
    }
    Summary::of(&mut samples)
}

/// What one `Instant::now()` pair costs here: every per-call figure includes it once.
pub fn timer_overhead() -> Summary {
    time_each(100_000, |_| {}, |_| {})
}

/// Nanoseconds up to 10 µs, then microseconds, then milliseconds.
pub fn fmt_dur(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 10_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{:.1} ms", ns as f64 / 1e6)
    }
}

/// `a / b` as a factor, e.g. `3.2×`.
pub fn ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() {
        return "n/a".into();
    }
    format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64())
}

/// The median of a few durations (child-process samples).
pub fn median(mut values: Vec<Duration>) -> Duration {
    Summary::of(&mut values).median
}

// === the captured stack and error ===

/// Long enough for any flush here; a flush that times out is reported, not waited out again.
pub const FLUSH: Duration = Duration::from_secs(60);

/// Quiet time before an isolated call: longer than faultline's worker keeps looking for a next event (200 µs), so
/// it is asleep, and long enough for the calling thread's caches to go cold as between errors far apart.
pub const IDLE: Duration = Duration::from_millis(1);

/// How many frames [`deep`] adds to the caller's stack.
pub const DEPTH: usize = 20;

/// Calls `f` from `depth` nested, never-inlined calls: a stack of known depth for the walks to cover.
#[inline(never)]
pub fn deep<R>(depth: usize, f: &mut dyn FnMut() -> R) -> R {
    if depth == 0 {
        return f();
    }
    let r = deep(black_box(depth - 1), f);
    // Using the result after the call keeps the recursion from becoming a tail call (a loop).
    black_box(&r);
    r
}

/// The captured error: `RequestFailed` caused by `ConfigError` caused by `ParseIntError`, two levels of source.
#[derive(Debug)]
pub struct RequestFailed(ConfigError);

#[derive(Debug)]
pub struct ConfigError(std::num::ParseIntError);

impl fmt::Display for RequestFailed {
    /// Each formatting carries a new request number, so consecutive captures of the same value are distinct
    /// events, as in a real program: faultline sends an error captured twice in a row once, which would otherwise
    /// turn every capture after the first into the cheap "repeat" path. Both SDKs pay for the same formatting.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        static REQUEST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = REQUEST.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        write!(f, "request {n} failed")
    }
}

impl std::error::Error for RequestFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bad port in config")
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

pub fn sample_error() -> RequestFailed {
    RequestFailed(ConfigError("80a".parse::<u16>().unwrap_err()))
}

/// The floor: a bare `backtrace::trace` walk collecting instruction pointers, as faultline's capture does.
#[inline(never)]
pub fn bare_walk() -> Vec<usize> {
    let mut ips = Vec::with_capacity(64);
    backtrace::trace(|frame| {
        ips.push(frame.ip() as usize);
        true
    });
    ips
}

// === child processes ===

/// The environment variable that tells a re-executed bench binary which child scenario to run.
pub const CHILD_VAR: &str = "FAULTLINE_BENCH_CHILD";

/// The child scenario this process was started for, if any.
pub fn child_role() -> Option<String> {
    std::env::var(CHILD_VAR).ok()
}

/// Re-executes this binary with `role` (and `env`), waits for it and returns its `key value` result lines.
pub fn run_child(role: &str, env: &[(&str, String)]) -> Vec<(String, String)> {
    let exe = std::env::current_exe().expect("the bench binary's path");
    run(Command::new(exe).env(CHILD_VAR, role), role, env)
}

/// Runs another program that prints `result key value` lines, like a child of [`run_child`], and returns them.
pub fn run_program(program: &std::path::Path, env: &[(&str, String)]) -> Vec<(String, String)> {
    run(
        &mut Command::new(program),
        &program.display().to_string(),
        env,
    )
}

fn run(command: &mut Command, name: &str, env: &[(&str, String)]) -> Vec<(String, String)> {
    let output = command
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap_or_else(|e| panic!("running `{name}`: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child `{name}` failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("result "))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Writes one result line for the parent (see [`run_child`]).
pub fn child_result(key: &str, value: impl fmt::Display) {
    println!("result {key} {value}");
}

/// The value of `key` among a child's results.
pub fn get<'a>(results: &'a [(String, String)], key: &str) -> &'a str {
    results
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("child gave no `{key}`"))
}

/// This process's peak and current resident set size, in KiB, from `/proc/self/status` (Linux).
pub fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The 1, 5 and 15 minute load averages (Linux): on a shared machine, how much other work ran alongside.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

// === the loopback HTTP peer ===

/// How [`LoopbackServer`] treats requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answer every request `200 {}` and keep the connection open.
    Answer,
    /// Read requests and never answer, like a server that hangs, until the server is dropped.
    Hang,
}

/// What the server received.
#[derive(Debug, Default)]
pub struct Received {
    pub requests: AtomicU64,
    /// Request body bytes, as sent (not decompressed).
    pub bytes: AtomicU64,
    /// Items of type `event` across all envelopes.
    pub events: AtomicU64,
    /// The sum of `quantity` in `client_report` items: events an SDK reported as discarded.
    pub reported_discards: AtomicU64,
}

/// A minimal HTTP/1.1 keep-alive server on `127.0.0.1`, one thread per connection. It counts envelopes' event
/// items and client-reported discards, so a benchmark can check that every event is accounted for. It stops (and
/// closes every connection) when dropped.
pub struct LoopbackServer {
    addr: SocketAddr,
    pub received: Arc<Received>,
    stop: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<JoinHandle<()>>,
}

impl LoopbackServer {
    pub fn start(mode: Mode) -> LoopbackServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
        let addr = listener.local_addr().expect("the bound address");
        let received = Arc::new(Received::default());
        let stop = Arc::new(AtomicBool::new(false));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let (received, stop, streams) = (received.clone(), stop.clone(), streams.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let _ = stream.set_nodelay(true);
                    if let Ok(clone) = stream.try_clone() {
                        streams.lock().unwrap().push(clone);
                    }
                    let received = received.clone();
                    thread::spawn(move || serve(stream, mode, &received));
                }
            })
        };
        LoopbackServer {
            addr,
            received,
            stop,
            streams,
            accept: Some(accept),
        }
    }

    /// A DSN pointing at this server.
    pub fn dsn(&self) -> String {
        format!("http://bench@{}/1", self.addr)
    }

    pub fn requests(&self) -> u64 {
        self.received.requests.load(Ordering::Acquire)
    }

    pub fn events(&self) -> u64 {
        self.received.events.load(Ordering::Acquire)
    }

    pub fn bytes(&self) -> u64 {
        self.received.bytes.load(Ordering::Acquire)
    }

    pub fn reported_discards(&self) -> u64 {
        self.received.reported_discards.load(Ordering::Acquire)
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the blocking `accept` so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        // Closing the sockets ends the connection threads, and any client still waiting on a hung request.
        for stream in self.streams.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Serves one connection until the peer closes it (or the server shuts the socket down).
fn serve(stream: TcpStream, mode: Mode, received: &Received) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line.trim().is_empty() => continue,
            Ok(_) => {}
        }
        let mut content_length = 0usize;
        let mut chunked = false;
        let mut close = false;
        let mut gzip = false;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            } else if name.eq_ignore_ascii_case("content-encoding") {
                gzip = value.eq_ignore_ascii_case("gzip");
            }
        }
        let body = if chunked {
            match read_chunked(&mut reader) {
                Some(body) => body,
                None => return,
            }
        } else {
            let mut body = vec![0; content_length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            body
        };
        if mode == Mode::Hang {
            // Never answer; the read loop then waits for a request that does not come, until shutdown.
            continue;
        }
        if gzip {
            // faultline compresses bodies of 1 KiB and more; the count needs the envelope itself.
            count_envelope(&gunzip(&body), received);
        } else {
            count_envelope(&body, received);
        }
        received
            .bytes
            .fetch_add(body.len() as u64, Ordering::AcqRel);
        received.requests.fetch_add(1, Ordering::AcqRel);
        let reply =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        if writer.write_all(reply).is_err() || close {
            return;
        }
    }
}

/// The payload of a gzip body; empty when it is not one.
fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    match std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(body), &mut data) {
        Ok(_) => data,
        Err(_) => Vec::new(),
    }
}

fn read_chunked(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
        if size == 0 {
            // Trailers, then the blank line.
            loop {
                line.clear();
                if reader.read_line(&mut line).ok()? == 0 || line.trim().is_empty() {
                    return Some(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).ok()?;
        line.clear();
        reader.read_line(&mut line).ok()?;
    }
}

/// Counts event items and client-reported discards in an envelope: a header line, then items, each an item header
/// line and a payload of `length` bytes (or up to the next newline without one).
fn count_envelope(body: &[u8], received: &Received) {
    let mut rest = match body.iter().position(|&b| b == b'\n') {
        Some(end) => &body[end + 1..],
        None => return,
    };
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let header = String::from_utf8_lossy(&rest[..end]);
        rest = rest.get(end + 1..).unwrap_or_default();
        let ty = json_str(&header, "type");
        let payload_len = json_num(&header, "length")
            .map(|n| n as usize)
            .unwrap_or_else(|| rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len()));
        let payload = &rest[..payload_len.min(rest.len())];
        rest = rest.get(payload_len + 1..).unwrap_or_default();
        match ty.as_deref() {
            Some("event") => {
                received.events.fetch_add(1, Ordering::AcqRel);
            }
            Some("client_report") => {
                let text = String::from_utf8_lossy(payload);
                let discarded: u64 = text
                    .match_indices("\"quantity\":")
                    .filter_map(|(at, _)| json_num(&text[at..], "quantity"))
                    .sum();
                received
                    .reported_discards
                    .fetch_add(discarded, Ordering::AcqRel);
            }
            _ => {}
        }
    }
}

/// The string value of `"key":"…"` in a flat JSON line (no escapes needed for the fields read here).
fn json_str(json: &str, key: &str) -> Option<String> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let value = json[at..].trim_start().strip_prefix('"')?;
    Some(value[..value.find('"')?].to_owned())
}

/// The number after the first `"key":` in `json`.
fn json_num(json: &str, key: &str) -> Option<u64> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = json[at..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A spool directory of this process's own under the system's temporary directory: the benchmarks measure the
/// default delivery path (every envelope written to the spool before it is sent) without touching the user's cache.
pub fn bench_spool() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("faultline-bench-spool-{}", std::process::id()))
}
