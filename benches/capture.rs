//! What faultline costs: on the capturing thread, on its worker thread, end to end over HTTP, and in memory.
//!
//! `cargo bench --bench capture` runs every scenario in well under a minute and prints medians and p99s. Per-call
//! figures come from timing each call with `Instant` (the timer's own cost is printed first); scenarios that need a
//! fresh process (the first capture after `init`, peak memory) re-execute this binary with `FAULTLINE_BENCH_CHILD`
//! set. `docs/performance.md` records a run and what each figure means.

mod harness;
#[path = "harness/pacing.rs"]
mod pacing;

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use faultline::bench_hooks::{BenchScrubber, BenchSpool};
use faultline::protocol::{Envelope, Event, Exception};
use faultline::transport::{Outcome, Transport};
use faultline::{Breadcrumb, ClientOptions, Level};
use harness::{DEPTH, FLUSH, LoopbackServer, Mode, Summary, deep, fmt_dur, ratio, sample_error};
use pacing::dropped;

/// Accepts every envelope and keeps only when it arrived, so the worker's pace can be read off afterwards.
#[derive(Default)]
struct Sink {
    arrivals: Mutex<Vec<Instant>>,
}

impl Sink {
    fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.lock().unwrap().clone()
    }

    fn clear(&self) {
        self.arrivals.lock().unwrap().clear();
    }
}

impl Transport for Sink {
    fn send_envelope(&self, _envelope: &Envelope) -> Outcome {
        self.arrivals.lock().unwrap().push(Instant::now());
        Outcome::Sent
    }
}

/// Holds the worker inside `send_envelope` until opened, so the queue behind it fills (the full-queue path).
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

impl Transport for Gate {
    fn send_envelope(&self, _envelope: &Envelope) -> Outcome {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
        Outcome::Sent
    }
}

fn with_sink(queue_size: usize) -> (faultline::InitGuard, Arc<Sink>) {
    let sink = Arc::new(Sink::default());
    let guard = faultline::init(
        ClientOptions::new()
            .transport(sink.clone())
            .queue_size(queue_size),
    );
    assert!(guard.is_enabled());
    (guard, sink)
}

fn report_drops(label: &str) {
    let stats = faultline::stats();
    println!(
        "    {label}: sent {}, dropped {} (queue full {})",
        stats.sent,
        dropped(&stats),
        stats.queue_overflow
    );
}

/// Whether scenario `letter` should run: all of them, or those listed in `BENCH_ONLY` (e.g. `BENCH_ONLY=ag`).
fn wanted(letter: char) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |only| only.contains(letter))
}

fn main() {
    if let Some(role) = harness::child_role() {
        return child(&role);
    }
    let started = Instant::now();
    println!(
        "faultline {} capture benchmarks ({} profile)",
        env!("CARGO_PKG_VERSION"),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "optimised"
        }
    );
    println!(
        "timer: one Instant::now() pair costs {} (median), included once in every per-call figure",
        fmt_dur(harness::timer_overhead().median)
    );
    println!("load average at the start: {}", harness::load_average());
    println!();

    let floor = wanted('i').then(floor);
    let capture = wanted('a').then(capture_error);
    if wanted('b') {
        capture_message();
    }
    if wanted('c') {
        add_breadcrumb();
    }
    if wanted('d') {
        full_queue();
    }
    if wanted('e') {
        first_capture();
    }
    if wanted('f') {
        worker_throughput();
    }
    if wanted('g') {
        end_to_end();
    }
    if wanted('h') {
        peak_rss();
    }
    if wanted('j') {
        spool_store();
    }
    if wanted('k') {
        spans();
    }
    if wanted('l') {
        scrubbing();
    }
    if wanted('m') {
        bound_future_poll();
    }
    #[cfg(feature = "axum")]
    if wanted('n') {
        tower_layer_per_request();
    }
    if wanted('o') {
        structured_logs();
    }
    if wanted('p') {
        native_crash_handler();
    }

    if let (Some(floor), Some(capture)) = (floor, capture) {
        println!(
            "summary: capture_error with stack {} vs bare walk {} at the median: {} the floor",
            fmt_dur(capture.median),
            fmt_dur(floor.median),
            ratio(capture.median, floor.median)
        );
    }
    println!("load average at the end: {}", harness::load_average());
    println!("total run time {:.1} s", started.elapsed().as_secs_f64());
}

/// (p) The native crash handler: what it adds to `init`, in fresh processes (the first `init` of a process attaches
/// the handler: signal actions, an alternate signal stack) and in one process (a later `init` points the handler at
/// its spool), and what it costs `configure_scope` and `add_breadcrumb` while it is armed: nothing is kept current
/// for it, as the handler reads the scope only when the program crashes.
fn native_crash_handler() {
    const SAMPLES: usize = 15;
    let mut first = [Vec::new(), Vec::new()];
    for _ in 0..SAMPLES {
        for (on, samples) in [true, false].into_iter().zip(first.iter_mut()) {
            let r = harness::run_child("first-init", &[("BENCH_CRASH_HANDLER", on.to_string())]);
            samples.push(Duration::from_nanos(
                harness::get(&r, "init_ns").parse().unwrap(),
            ));
        }
    }
    let [first_on, first_off] = first.map(harness::median);
    println!("(p) native crash handler");
    println!(
        "    first init of a process (median of {SAMPLES}): {} with the handler, {} without: {}",
        fmt_dur(first_on),
        fmt_dur(first_off),
        ratio(first_on, first_off)
    );

    let spool = harness::bench_spool();
    let options = |on: bool| {
        ClientOptions::new()
            .transport(Arc::new(Sink::default()))
            .spool_dir(Some(spool.clone()))
            .native_crash_handler(on)
    };
    // Attached once, outside the timing.
    drop(faultline::init(options(true)));
    let [on, off] = take_turns(200, |_| {
        let mut took = [Duration::ZERO; 2];
        for (slot, on) in took.iter_mut().zip([true, false]) {
            let start = Instant::now();
            let guard = faultline::init(options(on));
            *slot = start.elapsed();
            drop(guard);
        }
        took
    });
    println!(
        "    a later init:        with the handler {}; without {}; median {}",
        on.line(),
        off.line(),
        ratio(on.median, off.median)
    );
    for (label, on) in [("armed", true), ("off", false)] {
        let guard = faultline::init(options(on));
        let configure = harness::time_each(
            100_000,
            |i| faultline::configure_scope(|scope| scope.set_tag("request", i)),
            |_| {},
        );
        let crumb = harness::time_each(
            100_000,
            |_| {
                faultline::add_breadcrumb(|| {
                    Breadcrumb::new("http", "GET /health").level(Level::Info)
                })
            },
            |_| {},
        );
        println!(
            "    handler {label:5}  configure_scope (set_tag): {}",
            configure.line()
        );
        println!(
            "    handler {label:5}  add_breadcrumb:            {}",
            crumb.line()
        );
        faultline::configure_scope(|scope| scope.clear());
        drop(guard);
    }
    println!();
}

/// (o) Structured logs: what one log call with three attributes and a parameter costs the caller (the record copied
/// and pushed onto the log lane; a flush every 64 calls, untimed, keeps the lane short), and how many records a
/// second the worker delivers to a loopback HTTP server in containers of 100.
fn structured_logs() {
    println!("(o) structured logs (enable_logs)");
    let guard = faultline::init(
        ClientOptions::new()
            .transport(Sink::default())
            .enable_logs(true),
    );
    let call = pacing::paced(20_000, || {
        faultline::logs::info!(
            user.id = 42,
            "cart.items" = 3,
            vip = true,
            "checkout for {}",
            "alice"
        );
    });
    println!(
        "    one log call, 3 attributes + 1 parameter: {}",
        call.line()
    );
    drop(guard);
    let off = faultline::init(ClientOptions::new().transport(Sink::default()));
    let disabled = harness::time_each(
        100_000,
        |_| {
            faultline::logs::info!(
                user.id = 42,
                "cart.items" = 3,
                vip = true,
                "checkout for {}",
                "alice"
            );
        },
        |_| {},
    );
    println!(
        "    the same with logs off:                   {}",
        disabled.line()
    );
    let metric_off = harness::time_each(
        100_000,
        |_| {
            faultline::metrics::counter("orders.placed", 1)
                .attribute("region", "eu")
                .attribute("vip", true)
                .capture();
        },
        |_| {},
    );
    println!(
        "    a counter with 2 attributes, metrics off: {}",
        metric_off.line()
    );
    drop(off);

    const N: usize = 20_000;
    let server = LoopbackServer::start(Mode::Answer);
    let guard = faultline::init(
        ClientOptions::new()
            .dsn(server.dsn())
            .spool_dir(None)
            .enable_logs(true),
    );
    faultline::logs::info!("warm up");
    assert!(faultline::flush(FLUSH));
    let requests_before = server.requests();
    let start = Instant::now();
    for i in 0..N {
        faultline::logs::info!(
            user.id = 42,
            "cart.items" = 3,
            vip = true,
            "checkout {} for {}",
            i,
            "alice"
        );
        // The lane holds 1,000: a flush every 900 records keeps every one (the flush's wait is timed too).
        if i % 900 == 899 {
            faultline::flush(FLUSH);
        }
    }
    let flushed = faultline::flush(FLUSH);
    let elapsed = start.elapsed();
    let requests = server.requests() - requests_before;
    println!(
        "    worker to a loopback server: {:.0} records/s ({N} records in {:.1} ms, {requests} requests of at most \
         100 records, flush {})",
        N as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3,
        if flushed { "complete" } else { "timed out" }
    );
    assert!(
        requests >= (N / 100) as u64,
        "{requests} requests for {N} records: some were dropped"
    );
    drop(guard);
    println!();
}

/// (i) The floor: a bare `backtrace::trace` walk of the same stack, collecting addresses into a `Vec`.
fn floor() -> Summary {
    let (walk, frames) = deep(DEPTH, &mut || {
        let frames = harness::bare_walk().len();
        let s = harness::time_each(
            20_000,
            |_| {
                black_box(harness::bare_walk());
            },
            |_| {},
        );
        (s, frames)
    });
    println!("(i) bare backtrace::trace walk, {DEPTH} frames deep ({frames} frames walked in all)");
    println!("    {}", walk.line());
    // What else the caller pays for, measured alone, to read the capture figures against.
    let id = harness::time_each(
        100_000,
        |_| {
            black_box(faultline::EventId::new());
        },
        |_| {},
    );
    println!("    for reference, EventId::new() (UUID v4): {}", id.line());
    println!();
    walk
}

/// (a) `capture_error` from a 20-frame stack with a two-level source chain, stack attached.
fn capture_error() -> Summary {
    let err = sample_error();
    let (guard, _sink) = with_sink(1 << 16);
    println!(
        "(a) capture_error, {DEPTH} frames deep, 2-level source chain, attach_stacktrace, discarding transport"
    );
    // Paced: a flush every 64 calls (untimed) keeps the queue short while the worker resolves symbols next to us.
    let paced = deep(DEPTH, &mut || {
        pacing::paced(20_000, || {
            black_box(faultline::capture_error(&err));
        })
    });
    println!("    paced (flush every 64):       {}", paced.line());
    // Isolated: a flush after every call and 1 ms of quiet (longer than the worker looks for a next event), so the
    // worker is asleep during each measured call, as for errors far apart.
    let isolated = deep(DEPTH, &mut || {
        pacing::isolated(5_000, || {
            black_box(faultline::capture_error(&err));
        })
    });
    println!("    isolated (worker asleep):     {}", isolated.line());
    report_drops("drops");
    drop(guard);

    // The same call with release health on (a release set): the session's error count is one atomic add more on
    // the caller, and the worker sends the session's update beside each event.
    let sink = Arc::new(Sink::default());
    let guard = faultline::init(
        ClientOptions::new()
            .transport(sink)
            .queue_size(1 << 16)
            .release("bench@1.0.0"),
    );
    let with_session = deep(DEPTH, &mut || {
        pacing::paced(20_000, || {
            black_box(faultline::capture_error(&err));
        })
    });
    println!("    with a session, paced:        {}", with_session.line());
    report_drops("drops");
    drop(guard);

    // The same call without the stack: the error chain, event id and enqueue alone.
    let sink = Arc::new(Sink::default());
    let guard = faultline::init(
        ClientOptions::new()
            .transport(sink)
            .queue_size(1 << 16)
            .attach_stacktrace(false),
    );
    let bare = deep(DEPTH, &mut || {
        pacing::paced(20_000, || {
            black_box(faultline::capture_error(&err));
        })
    });
    println!("    without stack, paced:         {}", bare.line());
    let bare_isolated = deep(DEPTH, &mut || {
        pacing::isolated(5_000, || {
            black_box(faultline::capture_error(&err));
        })
    });
    println!("    without stack, isolated:      {}", bare_isolated.line());
    println!(
        "    for reference, a channel send that wakes a parked thread: {}",
        wake_cost().line()
    );
    report_drops("drops");
    drop(guard);
    println!();
    paced
}

/// What a capture would pay if the worker blocked on the SDK's queue while asleep: a `try_send` on a bounded
/// channel whose receiver is parked, so the send must wake it with a system call. The worker polls instead.
fn wake_cost() -> Summary {
    let (tx, rx) = std::sync::mpsc::sync_channel::<usize>(1024);
    let seen = Arc::new(AtomicUsize::new(usize::MAX));
    let receiver = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            for i in rx {
                seen.store(i, Ordering::Release);
            }
        })
    };
    let s = harness::time_each(
        2_000,
        |i| tx.try_send(i).expect("room in the channel"),
        |i| {
            while seen.load(Ordering::Acquire) != i {
                std::hint::spin_loop();
            }
            // Long enough for the receiver to stop spinning and park.
            std::thread::sleep(Duration::from_micros(200));
        },
    );
    drop(tx);
    receiver.join().expect("the receiver thread");
    s
}

/// (b) `capture_message`, which with `attach_stacktrace` (the default) also walks the stack.
fn capture_message() {
    let (guard, _sink) = with_sink(1 << 16);
    let s = deep(DEPTH, &mut || {
        pacing::paced(20_000, || {
            black_box(faultline::capture_message(
                "disk almost full",
                Level::Warning,
            ));
        })
    });
    println!("(b) capture_message, {DEPTH} frames deep, attach_stacktrace, paced");
    println!("    {}", s.line());
    report_drops("drops");
    drop(guard);
    println!();
}

/// (c) `add_breadcrumb` with the default cap of 100 (so the oldest is dropped each time, after the first 100).
/// (k) Performance monitoring on the caller: a sampled child span's start and finish, and an unsampled
/// transaction's, against an empty `Arc` allocation as the baseline.
fn spans() {
    println!("(k) spans and transactions, on the caller");
    let baseline = harness::time_each(
        100_000,
        |_| {
            black_box(Arc::new(black_box(0u64)));
        },
        |_| {},
    );
    println!(
        "    baseline, Arc::new(0u64) and its drop:        {}",
        baseline.line()
    );
    let (guard, _sink) = with_sink(1 << 16);
    drop(guard);
    let sink = Arc::new(Sink::default());
    let guard = faultline::init(
        ClientOptions::new()
            .transport(sink.clone())
            .queue_size(1 << 16)
            .traces_sample_rate(1.0),
    );
    // 1000 spans a transaction at most: a fresh transaction every 500 spans, untimed.
    let transaction = std::cell::RefCell::new(faultline::start_transaction("bench", "task"));
    let span = harness::time_each(
        100_000,
        |_| {
            transaction
                .borrow()
                .start_child("db.query", "SELECT 1")
                .finish();
        },
        |i| {
            if i % 500 == 499 {
                let done = transaction.replace(faultline::start_transaction("bench", "task"));
                done.finish();
            }
        },
    );
    transaction.into_inner().finish();
    println!(
        "    sampled child span, start and finish:        {} ({} the baseline)",
        span.line(),
        ratio(span.median, baseline.median)
    );
    drop(guard);
    let guard = faultline::init(
        ClientOptions::new()
            .transport(sink.clone())
            .queue_size(1 << 16)
            .traces_sample_rate(0.0),
    );
    let unsampled = harness::time_each(
        100_000,
        |_| faultline::start_transaction("bench", "task").finish(),
        |_| {},
    );
    println!(
        "    unsampled transaction, start and finish:     {} ({} the baseline)",
        unsampled.line(),
        ratio(unsampled.median, baseline.median)
    );
    drop(guard);
    println!();
}

/// (m) What a future bound to a scope adds per poll: polling a future that stays pending, bound and not.
fn bound_future_poll() {
    use faultline::FutureExt;
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    let (guard, _sink) = with_sink(1 << 16);
    let mut cx = Context::from_waker(Waker::noop());
    let mut plain = std::pin::pin!(std::future::poll_fn(|_| Poll::<()>::Pending));
    let unbound = harness::time_each(
        200_000,
        |_| {
            black_box(plain.as_mut().poll(&mut cx).is_pending());
        },
        |_| {},
    );
    let mut bound = std::pin::pin!(std::future::poll_fn(|_| Poll::<()>::Pending).bind_scope());
    let bound = harness::time_each(
        200_000,
        |_| {
            black_box(bound.as_mut().poll(&mut cx).is_pending());
        },
        |_| {},
    );
    println!(
        "(m) a future's poll, bound to a scope of its own or not (a future that stays pending)"
    );
    println!(
        "    unbound:                                      {}",
        unbound.line()
    );
    println!(
        "    bound (FutureExt::bind_scope):                {}",
        bound.line()
    );
    println!(
        "    added per poll at the median: {} ns",
        bound
            .median
            .as_nanos()
            .saturating_sub(unbound.median.as_nanos())
    );
    drop(guard);
    println!();
}

/// (n) What the tower layer adds per request: a hello-world axum handler over loopback HTTP/1.1 (one keep-alive
/// connection), without the layer, with it and performance monitoring off (no transaction recorded), and with it
/// and every transaction recorded. Rounds alternate, so the machine's drift falls on all three alike.
#[cfg(feature = "axum")]
fn tower_layer_per_request() {
    use std::net::SocketAddr;

    /// The SDK with a discarding transport, at `traces_sample_rate` `rate` (performance monitoring off for `None`).
    fn init_with_rate(rate: Option<f64>) -> faultline::InitGuard {
        init_with(rate, false)
    }

    /// The same, with each request a release-health session (request mode) when `sessions`.
    fn init_with(rate: Option<f64>, sessions: bool) -> faultline::InitGuard {
        let mut options = ClientOptions::new()
            .transport(Sink::default())
            .queue_size(1 << 16);
        if let Some(rate) = rate {
            options = options.traces_sample_rate(rate);
        }
        if sessions {
            options = options
                .release("bench@1.0.0")
                .session_mode(faultline::SessionMode::Request);
        }
        faultline::init(options)
    }

    fn serve(runtime: &tokio::runtime::Runtime, layered: bool) -> SocketAddr {
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let app = if layered {
            app.layer(faultline::integrations::tower::layer())
        } else {
            app
        };
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await });
        addr
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().build());
    let plain = serve(&runtime, false);
    let layered = serve(&runtime, true);
    let (mut bare, mut off, mut on) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..5 {
        for (addr, rate, samples) in [
            (plain, None, &mut bare),
            (layered, None, &mut off),
            (layered, Some(1.0), &mut on),
        ] {
            let guard = init_with_rate(rate);
            let url = format!("http://{addr}/");
            for _ in 0..200 {
                agent.get(&url).call().unwrap();
            }
            let s = harness::time_each(
                2_000,
                |_| {
                    black_box(agent.get(&url).call().unwrap().status());
                },
                |_| {},
            );
            samples.push(s);
            drop(guard);
        }
        let _ = round;
    }
    // The same handler called in process (the router as a tower service, driven by a current-thread runtime):
    // no network, so the layer's own cost stands out of the noise.
    let local = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (mut bare_local, mut off_local, mut on_local, mut sessions_local) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        for (layered, rate, sessions, samples) in [
            (false, None, false, &mut bare_local),
            (true, None, false, &mut off_local),
            (true, Some(1.0), false, &mut on_local),
            (true, None, true, &mut sessions_local),
        ] {
            let guard = init_with(rate, sessions);
            let router = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
            let mut service = if layered {
                axum::Router::new()
                    .merge(router)
                    .layer(faultline::integrations::tower::layer())
            } else {
                router
            };
            let s = harness::time_each(
                20_000,
                |_| {
                    let request = axum::http::Request::get("/")
                        .body(axum::body::Body::empty())
                        .unwrap();
                    let response =
                        local.block_on(tower_service::Service::call(&mut service, request));
                    black_box(response.unwrap().status());
                },
                |_| {},
            );
            samples.push(s);
            drop(guard);
        }
    }
    let median = |v: &Vec<Summary>| Summary::median_of(v);
    let (bare_local, off_local, on_local, sessions_local) = (
        median(&bare_local),
        median(&off_local),
        median(&on_local),
        median(&sessions_local),
    );
    println!("(n) the tower layer on a hello-world axum handler, 5 rounds");
    println!(
        "    in process, without the layer:                {}",
        bare_local.line()
    );
    println!(
        "    in process, with it, no transaction recorded: {}",
        off_local.line()
    );
    println!(
        "    in process, with it, every transaction:       {}",
        on_local.line()
    );
    println!(
        "    in process, with it, request sessions:        {}",
        sessions_local.line()
    );
    println!(
        "    added at the median: {} ns without a transaction, {} ns with one, {} ns with request sessions",
        off_local
            .median
            .as_nanos()
            .saturating_sub(bare_local.median.as_nanos()),
        on_local
            .median
            .as_nanos()
            .saturating_sub(bare_local.median.as_nanos()),
        sessions_local
            .median
            .as_nanos()
            .saturating_sub(bare_local.median.as_nanos())
    );
    let (bare, off, on) = (median(&bare), median(&off), median(&on));
    println!("    over loopback HTTP/1.1 (one keep-alive connection), rounds of 2,000:");
    println!(
        "    over loopback, without the layer:             {}",
        bare.line()
    );
    println!(
        "    over loopback, with it, no transaction:       {}",
        off.line()
    );
    println!(
        "    over loopback, with it, every transaction:    {}",
        on.line()
    );
    println!(
        "    added at the median: {} ns without a transaction, {} ns with one",
        off.median.as_nanos().saturating_sub(bare.median.as_nanos()),
        on.median.as_nanos().saturating_sub(bare.median.as_nanos())
    );
    println!();
}

fn add_breadcrumb() {
    let (guard, _sink) = with_sink(1 << 16);
    let s = harness::time_each(
        100_000,
        |_| faultline::add_breadcrumb(|| Breadcrumb::new("http", "GET /health").level(Level::Info)),
        |_| {},
    );
    println!("(c) add_breadcrumb (closure form, scope holding 100 breadcrumbs)");
    println!("    {}", s.line());
    drop(guard);

    // A breadcrumb while a captured event still waits in the queue: the event holds the scope, so the first change
    // after a capture copies it (copy on write), here with its 100 breadcrumbs. A gated worker keeps events queued.
    let gate = Arc::new(Gate::default());
    let guard = faultline::init(
        ClientOptions::new()
            .transport(gate.clone())
            .queue_size(1 << 16),
    );
    let after = harness::time_each(
        2_000,
        |_| faultline::add_breadcrumb(|| Breadcrumb::new("http", "GET /health")),
        |_| {
            faultline::capture_message("queued", Level::Info);
        },
    );
    println!(
        "    right after a capture still queued (scope copied): {}",
        after.line()
    );
    gate.open();
    faultline::flush(FLUSH);
    // Later scenarios start from an empty scope, as a program that never added breadcrumbs would. (The scope belongs
    // to the thread, not the client, so it outlives this client; it can only be changed while one is running.)
    faultline::configure_scope(|scope| scope.clear());
    drop(guard);
    println!();
}

/// (d) Captures dropped because the queue is full: the worker is held in the transport and the one-slot queue
/// behind it is taken.
fn full_queue() {
    let gate = Arc::new(Gate::default());
    let guard = faultline::init(ClientOptions::new().transport(gate.clone()).queue_size(1));
    // One event for the worker to hold, one to fill the queue; wait until the worker has taken the first.
    faultline::capture_message("held by the worker", Level::Info);
    std::thread::sleep(Duration::from_millis(50));
    faultline::capture_message("fills the queue", Level::Info);
    let before = faultline::stats().queue_overflow;
    let err = sample_error();
    let error = deep(DEPTH, &mut || {
        harness::time_each(
            20_000,
            |_| {
                black_box(faultline::capture_error(&err));
            },
            |_| {},
        )
    });
    let message = deep(DEPTH, &mut || {
        harness::time_each(
            20_000,
            |_| {
                black_box(faultline::capture_message("dropped", Level::Info));
            },
            |_| {},
        )
    });
    let counted = faultline::stats().queue_overflow - before;
    println!("(d) full queue: the cost of a capture that is dropped ({DEPTH} frames deep)");
    println!("    capture_error:   {}", error.line());
    println!("    capture_message: {}", message.line());
    println!("    {counted} of 40000 counted as queue_overflow");
    gate.open();
    drop(guard);
    println!();
}

/// (e) The first capture after `init`, each sample in a fresh process.
fn first_capture() {
    const SAMPLES: usize = 15;
    let mut init = Vec::new();
    let mut first = Vec::new();
    let mut second = Vec::new();
    let mut delivered = Vec::new();
    let mut during_load = Vec::new();
    for _ in 0..SAMPLES {
        let r = harness::run_child("first-capture", &[]);
        let ns = |k| Duration::from_nanos(harness::get(&r, k).parse().unwrap());
        init.push(ns("init_ns"));
        first.push(ns("first_ns"));
        second.push(ns("second_ns"));
        delivered.push(ns("first_delivered_ns"));
        during_load.push(ns("during_load_ns"));
    }
    println!("(e) first capture after init, fresh process per sample (median of {SAMPLES})");
    println!(
        "    init:                                   {}",
        fmt_dur(harness::median(init))
    );
    println!(
        "    first capture_error (caller):           {}",
        fmt_dur(harness::median(first))
    );
    println!(
        "    second capture_error (caller):          {}",
        fmt_dur(harness::median(second))
    );
    println!(
        "    first event: capture to transport (worker, cold debug info): {}",
        fmt_dur(harness::median(delivered))
    );
    println!(
        "    capture_error 2 ms later, while the worker loads debug info: {} (slowest {})",
        fmt_dur(harness::median(during_load.clone())),
        fmt_dur(during_load.into_iter().max().unwrap_or_default())
    );
    println!();
}

/// (f) The worker's pace: symbolicated events per second with a warm and a cold address cache.
///
/// Events are queued behind a plug (an event the gated transport holds), then the gate opens: the gaps between
/// arrivals at the transport are the worker's time per event, with no caller competing for the CPU. Cold events each
/// come from a stack of 20 functions no earlier event used (see [`distinct`]), on a fresh client, so their addresses
/// are not in its cache; warm events repeat one stack. backtrace's parsed debug info stays loaded in the process:
/// a cold process is in (e).
fn worker_throughput() {
    const CLIENTS: usize = 4;
    let err = sample_error();
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for _ in 0..CLIENTS {
        let gate = Arc::new(Plug::default());
        let guard = faultline::init(
            ClientOptions::new()
                .transport(gate.clone())
                .queue_size(1024),
        );
        let capture = || {
            faultline::capture_error(&err);
        };
        // Cold: each event from a stack this client has not seen.
        gate.plug();
        for stack in distinct::STACKS {
            stack(&mut capture.clone());
        }
        cold.extend(gaps(gate.unplug()));
        // Warm: the first of those stacks again, now cached.
        gate.plug();
        for _ in distinct::STACKS {
            distinct::STACKS[0](&mut capture.clone());
        }
        warm.extend(gaps(gate.unplug()));
        drop(guard);
    }
    let (cold, warm) = (harness::median(cold), harness::median(warm));
    println!(
        "(f) worker: symbolicated events per second, one event after another with the worker never idle"
    );
    println!(
        "    warm cache: {:>6.0} events/s ({} per event: one stack of {} frames repeated)",
        1.0 / warm.as_secs_f64(),
        fmt_dur(warm),
        distinct::DEPTH
    );
    println!(
        "    cold cache: {:>6.0} events/s ({} per event: each event a stack of {} functions not seen before, {CLIENTS} fresh clients × {})",
        1.0 / cold.as_secs_f64(),
        fmt_dur(cold),
        distinct::DEPTH,
        distinct::STACKS.len()
    );

    // Warm again, but as a program sees it: a burst from one call site while the worker keeps up.
    const BURST: usize = 5_000;
    let (guard, sink) = with_sink(BURST);
    deep(DEPTH, &mut || {
        faultline::capture_error(&err);
        faultline::flush(FLUSH);
    });
    sink.clear();
    deep(DEPTH, &mut || {
        for _ in 0..BURST {
            faultline::capture_error(&err);
        }
        faultline::flush(FLUSH);
    });
    let arrivals = sink.arrivals();
    let span = *arrivals.last().unwrap() - arrivals[0];
    println!(
        "    warm, burst of {BURST} with the caller capturing alongside: {:.0} events/s",
        (arrivals.len() - 1) as f64 / span.as_secs_f64()
    );
    report_drops("drops");
    drop(guard);
    println!();
}

/// Breadcrumb messages as a program logs them, none holding a secret (the order number fails the Luhn check).
const PLAIN_CRUMBS: &[&str] = &[
    "GET /api/users/42 -> 200 in 12 ms",
    "cache miss for key user:42:profile",
    "connected to db.internal:5432 as app",
    "retrying request 3/5 after 250 ms",
    "loaded 1834 rows from orders",
    "job nightly-report started (id 9f8e7d6c)",
    "user ada@example.com signed in",
    "order 4111111111111112 queued for shipping",
    "token bucket refilled: 40/50",
    "password reset email sent",
];

/// Breadcrumb messages that each hold a secret.
const SECRET_CRUMBS: &[&str] = &[
    "POST /login password=hunter4",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig",
    "connecting to postgres://app:s3cr3t@db.internal/app",
    "charged card 4111 1111 1111 1111",
];

/// An error event as the worker scrubs it: exception `values`, a few tags and extras, and `crumbs`
/// breadcrumbs whose messages cycle through `texts`.
fn scrub_event(values: [&str; 3], texts: &[&str], crumbs: usize) -> Event {
    let mut event = Event::default();
    for value in values {
        event.exception.push(Exception {
            ty: "RequestFailed".into(),
            value: Some(value.to_owned()),
            ..Exception::default()
        });
    }
    event.tags.insert("region".into(), "eu-west-1".into());
    event.tags.insert("job".into(), "nightly".into());
    event.extra.insert("attempt".into(), 3.into());
    event.extra.insert("db_password".into(), "hunter2".into());
    for i in 0..crumbs {
        event
            .breadcrumbs
            .push(Breadcrumb::new("log", texts[i % texts.len()]).data("n", i));
    }
    event
}

/// (l) Scrubbing one event on the worker: keys only (`scrub_values(false)`, all there was before value
/// scrubbing) against keys and values (the default), on events without secrets and with some.
fn scrubbing() {
    const ROUNDS: usize = 3_000;
    let plain = [
        "invalid digit found in string",
        "invalid port",
        "request 17 failed",
    ];
    let leaky = [
        "invalid digit found in string",
        "cannot reach postgres://app:hunter2@db/app",
        "request 17 failed: password=hunter4 Authorization: Bearer xyz",
    ];
    let mixed = [PLAIN_CRUMBS, SECRET_CRUMBS].concat();
    let with_secrets = scrub_event(leaky, &mixed, 100);
    let secret_crumbs = with_secrets
        .breadcrumbs
        .iter()
        .filter(|c| SECRET_CRUMBS.contains(&c.message.as_deref().unwrap_or_default()))
        .count();
    let cases = [
        (
            "3 exception values, no breadcrumbs, no secret".to_owned(),
            scrub_event(plain, PLAIN_CRUMBS, 0),
        ),
        (
            "3 exception values, 100 breadcrumbs, no secret".to_owned(),
            scrub_event(plain, PLAIN_CRUMBS, 100),
        ),
        (
            format!(
                "3 exception values, 100 breadcrumbs, secrets in 2 values and {secret_crumbs} breadcrumbs"
            ),
            with_secrets,
        ),
    ];
    let keys_only = BenchScrubber::new(&ClientOptions::new().scrub_values(false));
    let keys_and_values = BenchScrubber::new(&ClientOptions::new());
    println!(
        "(l) worker: scrubbing one event, keys only (scrub_values(false)) vs keys and values (the default); the \
         cases take turns"
    );
    let timed = |scrubber: &BenchScrubber, event: &Event| {
        let mut event = event.clone();
        let start = Instant::now();
        scrubber.scrub(&mut event);
        let took = start.elapsed();
        black_box(&event);
        took
    };
    let summaries = take_turns(ROUNDS, |_| {
        let mut round = [Duration::ZERO; 6];
        for (i, (_, event)) in cases.iter().enumerate() {
            round[2 * i] = timed(&keys_only, event);
            round[2 * i + 1] = timed(&keys_and_values, event);
        }
        round
    });
    for (i, (label, _)) in cases.iter().enumerate() {
        println!("    {label}:");
        println!("      keys only:       {}", summaries[2 * i].line());
        println!("      keys and values: {}", summaries[2 * i + 1].line());
    }
    println!();
}

/// The time between consecutive departures: the worker's time for each event after the first.
fn gaps(departures: Vec<Instant>) -> Vec<Duration> {
    assert_eq!(
        departures.len(),
        distinct::STACKS.len() + 1,
        "plug and events delivered"
    );
    departures.windows(2).map(|w| w[1] - w[0]).collect()
}

/// A transport that can hold the worker on a plug event while others queue up behind it, and records when each
/// envelope leaves it.
#[derive(Default)]
struct Plug {
    state: Mutex<PlugState>,
    changed: Condvar,
}

#[derive(Default)]
struct PlugState {
    closed: bool,
    holding: bool,
    arrivals: Vec<Instant>,
}

impl Plug {
    /// Closes the gate and queues a plug event, returning once the worker is held on it.
    fn plug(&self) {
        {
            let mut state = self.state.lock().unwrap();
            state.closed = true;
            state.arrivals.clear();
        }
        faultline::capture_message("plug", Level::Info);
        let mut state = self.state.lock().unwrap();
        while !state.holding {
            state = self.changed.wait(state).unwrap();
        }
    }

    /// Opens the gate, waits until the queue is delivered, and returns the departure times (the plug's first).
    fn unplug(&self) -> Vec<Instant> {
        {
            let mut state = self.state.lock().unwrap();
            state.closed = false;
            self.changed.notify_all();
        }
        assert!(faultline::flush(FLUSH));
        std::mem::take(&mut self.state.lock().unwrap().arrivals)
    }
}

impl Transport for Plug {
    fn send_envelope(&self, _envelope: &Envelope) -> Outcome {
        let mut state = self.state.lock().unwrap();
        if state.closed {
            state.holding = true;
            self.changed.notify_all();
            while state.closed {
                state = self.changed.wait(state).unwrap();
            }
            state.holding = false;
        }
        state.arrivals.push(Instant::now());
        Outcome::Sent
    }
}

/// Call stacks made of distinct functions, for a cache that has not seen their addresses.
///
/// `Level<T>::run::<M>` is one function per depth and marker type; each uses its marker's `ID`, so no two have the
/// same code and the compiler cannot merge them. Every stack in [`STACKS`] is [`DEPTH`] such functions deep.
mod distinct {
    use std::hint::black_box;
    use std::marker::PhantomData;

    pub(crate) trait Marker {
        const ID: usize;
    }

    pub(crate) trait Depth {
        fn run<M: Marker>(f: &mut dyn FnMut());
    }

    pub(crate) struct Bottom;
    pub(crate) struct Level<T>(PhantomData<T>);

    impl Depth for Bottom {
        #[inline(never)]
        fn run<M: Marker>(f: &mut dyn FnMut()) {
            f();
            black_box(M::ID);
        }
    }

    impl<T: Depth> Depth for Level<T> {
        #[inline(never)]
        fn run<M: Marker>(f: &mut dyn FnMut()) {
            T::run::<M>(f);
            black_box(M::ID);
        }
    }

    type L4 = Level<Level<Level<Level<Bottom>>>>;
    type L19 = Level<
        Level<
            Level<
                Level<
                    Level<Level<Level<Level<Level<Level<Level<Level<Level<Level<Level<L4>>>>>>>>>>>,
                >,
            >,
        >,
    >;

    /// Frames per stack: 19 `Level`s and the `Bottom`.
    pub(crate) const DEPTH: usize = 20;

    macro_rules! stacks {
        ($($marker:ident = $id:literal),* $(,)?) => {
            $(
                pub(crate) struct $marker;
                impl Marker for $marker {
                    const ID: usize = $id;
                }
            )*
            pub(crate) const STACKS: &[fn(&mut dyn FnMut())] = &[$(<L19 as Depth>::run::<$marker>),*];
        };
    }

    stacks!(
        S0 = 0,
        S1 = 1,
        S2 = 2,
        S3 = 3,
        S4 = 4,
        S5 = 5,
        S6 = 6,
        S7 = 7,
        S8 = 8,
        S9 = 9,
        S10 = 10,
        S11 = 11,
        S12 = 12,
        S13 = 13,
        S14 = 14,
        S15 = 15,
    );
}

const E2E_N: usize = 5_000;

fn end_to_end_once(label: &str, spool: Option<std::path::PathBuf>, err: &harness::RequestFailed) {
    const N: usize = E2E_N;
    let server = LoopbackServer::start(Mode::Answer);
    let guard = faultline::init(
        ClientOptions::new()
            .dsn(server.dsn())
            .spool_dir(spool)
            .queue_size(N),
    );
    // One event first, so the connection is open and the address cache warm.
    deep(DEPTH, &mut || faultline::capture_error(err));
    assert!(faultline::flush(FLUSH));
    let (before, events_before) = (faultline::stats(), server.events());
    let worker_cpu_before = worker_cpu();
    let start = Instant::now();
    let flushed = deep(DEPTH, &mut || {
        for _ in 0..N {
            faultline::capture_error(err);
        }
        faultline::flush(FLUSH)
    });
    let elapsed = start.elapsed();
    let worker_cpu = worker_cpu().saturating_sub(worker_cpu_before);
    let after = faultline::stats();
    let sent = after.sent - before.sent;
    let lost = dropped(&after) - dropped(&before);
    let received = server.events() - events_before;
    println!(
        "    {label}: {:.0} events/s delivered ({sent} in {:.1} ms, flush {})",
        sent as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3,
        if flushed { "complete" } else { "timed out" }
    );
    println!(
        "      captured {N} = sent {sent} + dropped {lost} + unaccounted {}; the server counted {received} events, \
         {:.0} bytes per request (gzip)",
        N as i64 - sent as i64 - lost as i64,
        server.bytes() as f64 / server.requests().max(1) as f64
    );
    println!(
        "      the worker thread was on a CPU for {} per event",
        fmt_dur(worker_cpu / sent.max(1) as u32)
    );
    drop(guard);
}

/// The time faultline's worker thread has spent on a CPU (Linux: the first field of its `schedstat`, in
/// nanoseconds); zero where that cannot be read.
fn worker_cpu() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.trim_end() == "faultline-worke")
        })
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .sum()
}

/// (g) Events per second delivered to a loopback HTTP server, every event accounted for: with the spool (the
/// default: each envelope written to disk before it is sent) and without.
fn end_to_end() {
    println!(
        "(g) end to end: {E2E_N} captures, HTTP/1.1 keep-alive to a loopback server answering 200 {{}}"
    );
    let err = sample_error();
    end_to_end_once(
        "with the spool (default)",
        Some(harness::bench_spool()),
        &err,
    );
    end_to_end_once("without a spool", None, &err);
    // What the worker spends on one event's bytes: the envelope for a real captured event, serialised.
    let events = faultline::test::with_captured_events(|| {
        deep(DEPTH, &mut || faultline::capture_error(&err));
    });
    let mut pending: Vec<Option<Envelope>> = (0..2_000)
        .map(|_| Some(Envelope::from_event(events[0].clone())))
        .collect();
    let mut size = 0;
    let serialise = harness::time_each(
        pending.len(),
        |i| {
            let bytes = pending[i].take().unwrap().to_vec(Some(SystemTime::now()));
            size = bytes.len();
        },
        |_| {},
    );
    println!(
        "    for reference, serialising one such envelope ({size} bytes, {} frames): {}",
        events[0]
            .exception
            .last()
            .and_then(|e| e.stacktrace.as_ref())
            .map_or(0, |s| s.frames.len()),
        serialise.line()
    );
    println!();
}

/// (h) Peak resident memory of a fresh process capturing a burst of 10,000 events to a loopback server.
fn peak_rss() {
    let server = LoopbackServer::start(Mode::Answer);
    println!(
        "(h) peak RSS (VmHWM) of a fresh process around a 10,000-event burst to a loopback server"
    );
    println!(
        "    (a queued capture_error holds its chain's names and messages and its raw stack, not yet an event: the \
         worker builds the {}-byte faultline::protocol::Event)",
        std::mem::size_of::<faultline::protocol::Event>()
    );
    for queue in ["100", "10000"] {
        let r = harness::run_child(
            "burst",
            &[("BENCH_DSN", server.dsn()), ("BENCH_QUEUE", queue.into())],
        );
        println!(
            "    queue_size {queue:>5}: baseline {} KiB, after init {} KiB, after the first event {} KiB, peak {} KiB (+{} KiB); sent {}, dropped {}",
            harness::get(&r, "hwm_start_kib"),
            harness::get(&r, "hwm_init_kib"),
            harness::get(&r, "hwm_first_kib"),
            harness::get(&r, "hwm_peak_kib"),
            harness::get(&r, "hwm_peak_kib").parse::<u64>().unwrap()
                - harness::get(&r, "hwm_start_kib").parse::<u64>().unwrap(),
            harness::get(&r, "sent"),
            harness::get(&r, "dropped"),
        );
    }
    println!();
}

/// (j) One spool store into an empty spool, and into a full one where each store evicts the oldest: the worker's
/// path during a long outage. The spool keeps an index of its directory, so the size of the spool should not show;
/// listing the directory instead (what each store did before the index) is timed for reference.
///
/// The cases take turns, one store each per round: creating a file on a shared disk can cost ten times more from one
/// second to the next, and taking turns gives every case the same moments. The spool lives under the temporary
/// directory; `TMPDIR=/dev/shm` measures the spool's own work without a disk's file system under it.
fn spool_store() {
    const FULL: usize = 1_000;
    const SYNCED: usize = 400;
    const CLAIMED: usize = 2_000;
    let envelope = Envelope::from_event(Event {
        message: Some("disk almost full".into()),
        ..Event::default()
    });
    let root = harness::bench_spool().join("store");
    let row = |label: &str, summary: &Summary| println!("    {label:<56} {}", summary.line());
    let open = |name: &str, max_files: usize| {
        BenchSpool::open(root.join(name), max_files, u64::MAX).expect("open a spool")
    };
    println!(
        "(j) spool store: the first into an empty spool, and into a full one, each store evicting the oldest \
         (envelopes of {} bytes, in {}; the cases take turns)",
        envelope.to_vec(None).len(),
        std::env::temp_dir().display()
    );

    // Synced, as the worker stores an envelope that has to wait. The first store: a fresh spool for each round.
    let empty: Vec<BenchSpool> = (0..SYNCED)
        .map(|i| open(&format!("empty-{i}"), FULL))
        .collect();
    let full = open("full", FULL);
    for _ in 0..FULL {
        full.store(&envelope).unwrap();
    }
    let timed = |store: &dyn Fn() -> Option<u64>, evicted: u64| {
        let start = Instant::now();
        let stored = store();
        let took = start.elapsed();
        assert_eq!(stored, Some(evicted));
        took
    };
    let [first, into_full] = take_turns(SYNCED, |round| {
        [
            timed(&|| empty[round].store(&envelope).unwrap(), 0),
            timed(&|| full.store(&envelope).unwrap(), 1),
        ]
    });
    row("store (synced), the first:", &first);
    row(
        &format!("store (synced), into a full spool of {FULL}:"),
        &into_full,
    );

    // Claimed and not synced, as the worker writes an envelope it is about to send: no fsync to hide the rest. A
    // claim into the empty spool is completed after each round, so the spool is empty again; one into a full spool
    // is dropped, which puts the file back, so the spool is full again.
    let one = open("claimed-empty", FULL);
    let sizes = [10, FULL, 10 * FULL];
    let spools = sizes.map(|size| {
        let spool = open(&format!("claimed-{size}"), size);
        for _ in 0..size {
            // Stored claimed, then put back by the drop: a quick way to fill a spool.
            drop(spool.store_claimed(&envelope).unwrap());
        }
        spool
    });
    let claimed = |spool: &BenchSpool, evicted: u64| {
        let start = Instant::now();
        let (claim, n) = spool.store_claimed(&envelope).unwrap();
        let took = start.elapsed();
        assert_eq!(n, evicted);
        (took, claim.expect("stored"))
    };
    let [first, ten, thousand, ten_thousand] = take_turns(CLAIMED, |_| {
        let (first, claim) = claimed(&one, 0);
        claim.complete().unwrap();
        let [ten, thousand, ten_thousand] = spools.each_ref().map(|spool| claimed(spool, 1).0);
        [first, ten, thousand, ten_thousand]
    });
    row("store_claimed (not synced), the first:", &first);
    for (size, into_full) in sizes.iter().zip([ten, thousand, ten_thousand]) {
        let label = format!("store_claimed (not synced), into a full spool of {size}:");
        row(&label, &into_full);
    }

    let listing = harness::time_each(
        200,
        |_| {
            let sizes: u64 = std::fs::read_dir(root.join("full"))
                .unwrap()
                .map(|e| e.unwrap().metadata().map_or(0, |m| m.len()))
                .sum();
            black_box(sizes);
        },
        |_| {},
    );
    println!(
        "    for reference, listing the spool of {FULL} with a stat per file (each store did so before the index): {}",
        listing.line()
    );
    drop((empty, full, one, spools));
    let _ = std::fs::remove_dir_all(&root);
    println!();
}

/// Runs `round` `rounds` times; each call times one store of each case, in turn. Returns each case's summary.
fn take_turns<const N: usize>(
    rounds: usize,
    mut round: impl FnMut(usize) -> [Duration; N],
) -> [Summary; N] {
    let mut samples: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::with_capacity(rounds));
    for i in 0..rounds {
        for (case, took) in samples.iter_mut().zip(round(i)) {
            case.push(took);
        }
    }
    samples.map(|mut case| Summary::of(&mut case))
}

fn child(role: &str) {
    match role {
        "first-capture" => {
            let err = sample_error();
            let sink = Arc::new(Sink::default());
            let start = Instant::now();
            let guard = faultline::init(ClientOptions::new().transport(sink.clone()));
            let init = start.elapsed();
            let (first, returned, second, during_load) = deep(DEPTH, &mut || {
                let start = Instant::now();
                faultline::capture_error(&err);
                let returned = Instant::now();
                let first = returned - start;
                let start = Instant::now();
                faultline::capture_error(&err);
                let second = start.elapsed();
                // By now the worker is resolving the first event's addresses, loading debug info for tens of
                // milliseconds; a capture now shows whether the caller waits for it.
                std::thread::sleep(Duration::from_millis(2));
                let start = Instant::now();
                faultline::capture_error(&err);
                (first, returned, second, start.elapsed())
            });
            faultline::flush(FLUSH);
            let delivered = sink.arrivals()[0] - returned;
            harness::child_result("during_load_ns", during_load.as_nanos());
            harness::child_result("init_ns", init.as_nanos());
            harness::child_result("first_ns", first.as_nanos());
            harness::child_result("second_ns", second.as_nanos());
            harness::child_result("first_delivered_ns", delivered.as_nanos());
            drop(guard);
        }
        "first-init" => {
            let on = std::env::var("BENCH_CRASH_HANDLER").expect("BENCH_CRASH_HANDLER") == "true";
            let options = ClientOptions::new()
                .transport(Arc::new(Sink::default()))
                .spool_dir(Some(harness::bench_spool()))
                .native_crash_handler(on);
            let start = Instant::now();
            let guard = faultline::init(options);
            harness::child_result("init_ns", start.elapsed().as_nanos());
            drop(guard);
            let _ = std::fs::remove_dir_all(harness::bench_spool());
        }
        "burst" => {
            let dsn = std::env::var("BENCH_DSN").expect("BENCH_DSN");
            let queue = std::env::var("BENCH_QUEUE").expect("BENCH_QUEUE");
            harness::child_result("hwm_start_kib", harness::rss_kib().0);
            let guard = faultline::init(
                ClientOptions::new()
                    .dsn(dsn)
                    .spool_dir(Some(harness::bench_spool()))
                    .queue_size(queue.parse().unwrap()),
            );
            harness::child_result("hwm_init_kib", harness::rss_kib().0);
            let err = sample_error();
            // One event alone first: it loads the debug info, which the burst then shares.
            deep(DEPTH, &mut || faultline::capture_error(&err));
            faultline::flush(FLUSH);
            harness::child_result("hwm_first_kib", harness::rss_kib().0);
            deep(DEPTH, &mut || {
                for _ in 0..9_999 {
                    faultline::capture_error(&err);
                }
            });
            faultline::flush(FLUSH);
            let stats = faultline::stats();
            harness::child_result("hwm_peak_kib", harness::rss_kib().0);
            harness::child_result("sent", stats.sent);
            harness::child_result("dropped", dropped(&stats));
            drop(guard);
        }
        other => panic!("unknown child scenario `{other}`"),
    }
}
