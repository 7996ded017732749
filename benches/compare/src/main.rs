//! faultline next to the sentry crate (0.49, `attach_stacktrace = true`) and a bare `backtrace::trace` walk, every
//! scenario measured in this one run with the same harness (`../harness/mod.rs`).
//!
//! The SDKs take turns: both keep a process-wide client, so each scenario starts one, measures it and stops it
//! before the other's turn. The stack-walking scenarios run in rounds, the floor, faultline and sentry each taking a
//! turn in every round, and each figure is the median of its rounds: a noisy moment of a shared machine then weighs
//! on all three alike instead of on whichever ran during it. Figures that need a fresh process (the first capture
//! after `init`, peak memory) come from re-executing this binary with `FAULTLINE_BENCH_CHILD` set.
//!
//! This binary links both SDKs, so Cargo unifies their features: sentry's regexes run on the engines faultline
//! enables in `regex`, and its ureq carries faultline's TLS code. The programs built alone (`src/alone.rs`) link one
//! SDK each, in packages of their own with their own lock files pinned to this one's versions: `alone-sentry/` as
//! configured and with `rustls`, and `alone-faultline/` three times, with faultline's default features and with the
//! capabilities of sentry's configuration without and with TLS (plain HTTP or rustls, and the panic hook). A full run and `end-to-end` build them first (`cargo build --release --locked` into
//! their own `target/` directories) and run them as child processes, from the same source as this binary's
//! scenarios: sentry built alone takes a turn in each round of `capture_error`, both built alone in each round end
//! to end (sending to a server in this process), and peak memory is measured in all three besides this binary.
//! `run.sh` runs this and the build comparison.
//!
//! `faultline-compare spans` runs only the span and transaction scenarios (`spans.rs`), in well under a second;
//! `faultline-compare tower` only the tower layers (`tower.rs`); `faultline-compare logs` only the structured log
//! records (`logs.rs`); `faultline-compare metrics` only the metric measurements (`metrics.rs`);
//! `faultline-compare end-to-end` only the events per second to a loopback server.

#[path = "../../harness/mod.rs"]
mod harness;
#[path = "../../harness/pacing.rs"]
mod pacing;

#[allow(
    dead_code,
    reason = "the children's side of it serves the programs built alone"
)]
mod alone;
mod burst;
mod faultline_sdk;
mod logs;
mod metrics;
mod sentry_sdk;
mod spans;
mod tally;
mod tower;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use burst::BURST_N;
use faultline_sdk::{FaultlineDiscard, faultline_discarding, faultline_http};
use harness::{DEPTH, FLUSH, IDLE, LoopbackServer, Mode, Summary, deep, fmt_dur, sample_error};

use sentry_sdk::{sentry_discarding, sentry_http};

/// Calls per scenario. sentry resolves symbols on the calling thread, so its captures take long enough that fewer
/// calls give as stable a median; faultline's are cheap enough for ten times as many.
const FAST_N: usize = 40_000;
const SLOW_N: usize = 4_000;
/// Rounds of the stack-walking scenarios; `FAST_N` and `SLOW_N` calls are split evenly over them.
const ROUNDS: usize = 5;
/// Calls after a millisecond of quiet each (the "worker asleep" row and its floor).
const QUIET_N: usize = 5_000;
const BREADCRUMBS_N: usize = 100_000;
const FIRST_CAPTURE_SAMPLES: usize = 15;
const E2E_N: usize = 2_000;
const E2E_ROUNDS: usize = 5;

// === the table ===

/// One scenario's per-call figures.
struct Row {
    name: &'static str,
    faultline: Summary,
    sentry: Summary,
    floor: Option<Summary>,
    /// For the scenarios run in rounds: the median, over the rounds, of each round's sentry ÷ faultline at p50 and
    /// p99 and faultline ÷ floor at p50. The ratio of two medians taken over different rounds would mix a fast
    /// round of one with a slow round of the other.
    round_ratios: Option<[f64; 3]>,
}

/// The median over rounds of sentry ÷ faultline (p50, p99) and faultline ÷ floor (p50), each taken within a round.
fn round_ratios(faultline: &[Summary], sentry: &[Summary], floor: &[Summary]) -> [f64; 3] {
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let rounds = || faultline.iter().zip(sentry).zip(floor);
    [
        median(
            rounds()
                .map(|((f, s), _)| ratio(s.median, f.median))
                .collect(),
        ),
        median(rounds().map(|((f, s), _)| ratio(s.p99, f.p99)).collect()),
        median(
            rounds()
                .map(|((f, _), w)| ratio(f.median, w.median))
                .collect(),
        ),
    ]
}

fn main() {
    if let Some(role) = harness::child_role() {
        return child(&role);
    }
    let only = std::env::args().nth(1);
    if let Some(other) = only
        .as_deref()
        .filter(|a| !matches!(*a, "spans" | "tower" | "logs" | "metrics" | "end-to-end"))
    {
        eprintln!(
            "unknown argument `{other}`; usage: faultline-compare [spans | tower | logs | metrics | end-to-end]"
        );
        std::process::exit(2);
    }
    let only_spans = only.as_deref() == Some("spans");
    let only_tower = only.as_deref() == Some("tower");
    let only_logs = only.as_deref() == Some("logs");
    let only_metrics = only.as_deref() == Some("metrics");
    let only_end_to_end = only.as_deref() == Some("end-to-end");
    let started = Instant::now();
    println!("faultline (this tree) vs sentry 0.49.5 vs a bare backtrace::trace walk, in one run");
    let timer = harness::timer_overhead().median;
    println!(
        "timer: one Instant::now() pair costs {} (median), included once in every per-call figure",
        fmt_dur(timer)
    );
    println!("load average at the start: {}", harness::load_average());
    if only_end_to_end {
        let alone = build_alone();
        println!();
        end_to_end(&sample_error(), &alone);
        println!();
        println!("load average at the end: {}", harness::load_average());
        println!("total run time {:.1} s", started.elapsed().as_secs_f64());
        return;
    }
    if only_metrics {
        println!();
        print_metrics(&metrics::measure(ROUNDS), timer);
        println!();
        println!("load average at the end: {}", harness::load_average());
        println!("total run time {:.1} s", started.elapsed().as_secs_f64());
        return;
    }
    if only_logs {
        println!();
        print_logs(&logs::measure(ROUNDS), timer);
        println!();
        println!("load average at the end: {}", harness::load_average());
        println!("total run time {:.1} s", started.elapsed().as_secs_f64());
        return;
    }
    if only_tower {
        println!();
        print_tower(&tower::measure(ROUNDS));
        println!();
        println!("load average at the end: {}", harness::load_average());
        println!("total run time {:.1} s", started.elapsed().as_secs_f64());
        return;
    }
    if only_spans {
        println!();
        print_spans(&spans::measure(ROUNDS), timer);
        println!();
        println!("load average at the end: {}", harness::load_average());
        println!("total run time {:.1} s", started.elapsed().as_secs_f64());
        return;
    }
    let alone = build_alone();
    let err = sample_error();

    // The stack-walking scenarios run in rounds: the floor, faultline, sentry and sentry built alone each take a
    // turn in every round, so all meet the machine's quiet and noisy moments alike, and each figure is the median
    // of its rounds.
    let mut floor_rounds = Vec::new();
    let mut faultline_error_rounds = Vec::new();
    let mut faultline_message_rounds = Vec::new();
    let mut sentry_error_rounds = Vec::new();
    let mut sentry_message_rounds = Vec::new();
    let mut sentry_alone_rounds = Vec::new();
    let (mut faultline_sent, mut faultline_dropped) = (0, 0);
    for _ in 0..ROUNDS {
        floor_rounds.push(deep(DEPTH, &mut || {
            harness::time_each(
                FAST_N / ROUNDS,
                |_| {
                    black_box(harness::bare_walk());
                },
                |_| {},
            )
        }));

        // capture_error from a 20-frame stack, 2-level source chain, stack attached; faultline flushes every 64
        // calls (untimed) so the queue stays short, sentry's discarding transport runs inline.
        let guard = faultline_discarding();
        faultline_error_rounds.push(faultline_sdk::capture_errors(FAST_N / ROUNDS, &err));
        faultline_message_rounds.push(deep(DEPTH, &mut || {
            pacing::paced(FAST_N / ROUNDS, || {
                black_box(faultline::capture_message(
                    "disk almost full",
                    faultline::Level::Warning,
                ));
            })
        }));
        faultline::flush(FLUSH);
        let stats = faultline::stats();
        faultline_sent += stats.sent;
        faultline_dropped += pacing::dropped(&stats);
        drop(guard);

        let guard = sentry_discarding();
        sentry_error_rounds.push(sentry_sdk::capture_errors(SLOW_N / ROUNDS, &err));
        sentry_message_rounds.push(deep(DEPTH, &mut || {
            harness::time_each(
                SLOW_N / ROUNDS,
                |_| {
                    black_box(sentry::capture_message(
                        "disk almost full",
                        sentry::Level::Warning,
                    ));
                },
                |_| {},
            )
        }));
        drop(guard);

        // The same capture_error calls in a program that links sentry alone, a fresh process each round.
        let r = alone::run(
            &alone.sentry,
            alone::CAPTURE,
            &[("BENCH_N", (SLOW_N / ROUNDS).to_string())],
        );
        sentry_alone_rounds.push(alone::summary(&r));
    }
    let floor = Summary::median_of(&floor_rounds);
    let faultline_error = Summary::median_of(&faultline_error_rounds);
    let faultline_message = Summary::median_of(&faultline_message_rounds);
    let sentry_error = Summary::median_of(&sentry_error_rounds);
    let sentry_message = Summary::median_of(&sentry_message_rounds);

    // The same walk after the same quiet as the "worker asleep" captures below: a thread that has just slept finds
    // its caches cold, whatever it then does, so this is the floor for those.
    let floor_after_quiet = deep(DEPTH, &mut || {
        harness::time_each(
            QUIET_N,
            |_| {
                black_box(harness::bare_walk());
            },
            |_| std::thread::sleep(IDLE),
        )
    });

    let mut rows = Vec::new();

    let guard = faultline_discarding();
    // capture_error with the worker asleep before each call (a flush after every call and 1 ms of quiet, untimed,
    // longer than the worker looks for a next event), as for a program whose errors are far apart.
    let faultline_idle = deep(DEPTH, &mut || {
        pacing::isolated(QUIET_N, || {
            black_box(faultline::capture_error(&err));
        })
    });
    // Each scenario starts with nothing queued: what the last one left would be processed alongside the next.
    faultline::flush(FLUSH);
    let faultline_crumb = harness::time_each(
        BREADCRUMBS_N,
        |_| {
            faultline::add_breadcrumb(|| {
                faultline::Breadcrumb::new("http", "GET /health").level(faultline::Level::Info)
            })
        },
        |_| {},
    );
    faultline::configure_scope(|scope| scope.clear());
    let stats = faultline::stats();
    faultline_sent += stats.sent;
    faultline_dropped += pacing::dropped(&stats);
    drop(guard);

    let guard = sentry_discarding();
    let sentry_crumb = harness::time_each(
        BREADCRUMBS_N,
        |_| {
            sentry::add_breadcrumb(|| sentry::Breadcrumb {
                category: Some("http".into()),
                message: Some("GET /health".into()),
                level: sentry::Level::Info,
                ..Default::default()
            })
        },
        |_| {},
    );
    sentry::configure_scope(|scope| scope.clear());
    drop(guard);

    rows.push(Row {
        name: "capture_error, stack attached",
        faultline: faultline_error,
        sentry: sentry_error,
        floor: Some(floor.clone()),
        round_ratios: Some(round_ratios(
            &faultline_error_rounds,
            &sentry_error_rounds,
            &floor_rounds,
        )),
    });
    rows.push(Row {
        name: "capture_error, sentry built alone",
        faultline: rows[0].faultline.clone(),
        sentry: Summary::median_of(&sentry_alone_rounds),
        floor: Some(floor.clone()),
        round_ratios: Some(round_ratios(
            &faultline_error_rounds,
            &sentry_alone_rounds,
            &floor_rounds,
        )),
    });
    rows.push(Row {
        name: "capture_error, worker asleep before each",
        faultline: faultline_idle,
        sentry: rows[0].sentry.clone(),
        floor: Some(floor_after_quiet.clone()),
        round_ratios: None,
    });
    rows.push(Row {
        name: "capture_message, stack attached",
        faultline: faultline_message,
        sentry: sentry_message,
        floor: Some(floor.clone()),
        round_ratios: Some(round_ratios(
            &faultline_message_rounds,
            &sentry_message_rounds,
            &floor_rounds,
        )),
    });
    rows.push(Row {
        name: "add_breadcrumb (100 kept)",
        faultline: faultline_crumb,
        sentry: sentry_crumb,
        floor: None,
        round_ratios: None,
    });
    let (faultline_drop, sentry_drop) = full_queue(&err);
    rows.push(Row {
        name: "capture_error, queue full (dropped)",
        faultline: faultline_drop,
        sentry: sentry_drop,
        floor: Some(floor.clone()),
        round_ratios: None,
    });
    let (faultline_first, sentry_first) = first_capture();
    rows.push(Row {
        name: "first capture_error after init",
        faultline: faultline_first,
        sentry: sentry_first,
        floor: None,
        round_ratios: None,
    });

    println!(
        "faultline's paced captures: sent {faultline_sent}, dropped {faultline_dropped} (none may be dropped while \
         measuring)"
    );
    println!();
    print_table(&rows, &floor, &floor_after_quiet);
    println!();
    print_rounds(
        &floor_rounds,
        &faultline_error_rounds,
        &sentry_error_rounds,
        &sentry_alone_rounds,
    );
    println!();
    print_spans(&spans::measure(ROUNDS), timer);
    println!();
    print_tower(&tower::measure(ROUNDS));
    println!();
    print_logs(&logs::measure(ROUNDS), timer);
    println!();
    print_metrics(&metrics::measure(ROUNDS), timer);
    println!();
    end_to_end(&err, &alone);
    println!();
    peak_rss(&alone);
    println!();
    println!("load average at the end: {}", harness::load_average());
    println!("total run time {:.1} s", started.elapsed().as_secs_f64());
}

/// capture_error round by round: how far each round's figures and ratios stray from the medians in the table, sentry
/// built alone included.
fn print_rounds(floor: &[Summary], faultline: &[Summary], sentry: &[Summary], alone: &[Summary]) {
    println!(
        "capture_error, stack attached, round by round (the table above has the median of each column, and of each \
         ratio; \"alone\": sentry built alone)"
    );
    println!(
        "  {:<6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8} {:>8} {:>10} {:>10} {:>8}",
        "round",
        "floor",
        "p99",
        "faultline",
        "p99",
        "sentry",
        "p99",
        "s/fl p50",
        "s/fl p99",
        "fl/floor",
        "alone",
        "p99",
        "a/fl p50"
    );
    for (i, (((floor, faultline), sentry), alone)) in floor
        .iter()
        .zip(faultline)
        .zip(sentry)
        .zip(alone)
        .enumerate()
    {
        let versus =
            |a: Duration, b: Duration| format!("{:.0}×", a.as_secs_f64() / b.as_secs_f64());
        println!(
            "  {:<6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8} {:>8} {:>10} {:>10} {:>8}",
            i + 1,
            fmt_dur(floor.median),
            fmt_dur(floor.p99),
            fmt_dur(faultline.median),
            fmt_dur(faultline.p99),
            fmt_dur(sentry.median),
            fmt_dur(sentry.p99),
            versus(sentry.median, faultline.median),
            versus(sentry.p99, faultline.p99),
            harness::ratio(faultline.median, floor.median),
            fmt_dur(alone.median),
            fmt_dur(alone.p99),
            versus(alone.median, faultline.median),
        );
    }
}

/// The table's header and one line per row: median and p99 for each SDK, sentry ÷ faultline at both, and faultline ÷
/// the row's floor.
fn print_rows(rows: &[Row]) {
    println!(
        "{:<38} {:>10} {:>10} {:>10} {:>10} {:>12} {:>12} {:>10}",
        "per call (median / p99)",
        "faultline",
        "p99",
        "sentry",
        "p99",
        "sentry/fl p50",
        "sentry/fl p99",
        "fl/floor"
    );
    for row in rows {
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        let [p50, p99, over_floor] = row.round_ratios.unwrap_or_else(|| {
            [
                ratio(row.sentry.median, row.faultline.median),
                ratio(row.sentry.p99, row.faultline.p99),
                row.floor
                    .as_ref()
                    .map_or(f64::NAN, |floor| ratio(row.faultline.median, floor.median)),
            ]
        });
        println!(
            "{:<38} {:>10} {:>10} {:>10} {:>10} {:>12} {:>12} {:>10}",
            row.name,
            fmt_dur(row.faultline.median),
            fmt_dur(row.faultline.p99),
            fmt_dur(row.sentry.median),
            fmt_dur(row.sentry.p99),
            times(p50),
            times(p99),
            if over_floor.is_nan() {
                String::new()
            } else {
                format!("{over_floor:.2}×")
            },
        );
    }
}

/// A ratio as a factor: `3.4×`, or `57×` from 10 up.
fn times(ratio: f64) -> String {
    if ratio < 10.0 {
        format!("{ratio:.1}×")
    } else {
        format!("{ratio:.0}×")
    }
}

/// The span and transaction rows, the rounds behind them, and how they compare with the targets: faultline at least
/// 3× cheaper than sentry in both, a sampled child span's start and finish within 1 µs, an unsampled transaction's
/// within 100 ns (medians, the timer's own cost included).
fn print_tower(r: &tower::TowerRounds) {
    let bare = Summary::median_of(&r.bare);
    println!(
        "tower layers on a hello-world axum handler called in process (current-thread runtime), {} requests per layer \
         and rate in {ROUNDS} rounds; sentry: NewSentryLayer (bind_hub) + SentryHttpLayer with transactions",
        tower::REQUESTS
    );
    println!(
        "{:<44} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "per request (median / p99)", "faultline", "p99", "sentry", "p99", "added fl/s"
    );
    println!(
        "{:<44} {:>10} {:>10}",
        "no layer",
        fmt_dur(bare.median),
        fmt_dur(bare.p99)
    );
    for (name, faultline, sentry) in [
        (
            "traces_sample_rate 0.0 (unsampled)",
            &r.faultline_unsampled,
            &r.sentry_unsampled,
        ),
        (
            "traces_sample_rate 1.0 (recorded)",
            &r.faultline_sampled,
            &r.sentry_sampled,
        ),
    ] {
        let (f, s) = (Summary::median_of(faultline), Summary::median_of(sentry));
        let added = |x: &Summary| x.median.saturating_sub(bare.median);
        let ratio = added(&s).as_secs_f64() / added(&f).as_secs_f64().max(1e-9);
        println!(
            "{:<44} {:>10} {:>10} {:>10} {:>10} {:>11.1}×",
            name,
            fmt_dur(f.median),
            fmt_dur(f.p99),
            fmt_dur(s.median),
            fmt_dur(s.p99),
            ratio
        );
        println!(
            "{:<44} {:>10} {:>21}",
            "  added by the layer",
            fmt_dur(added(&f)),
            fmt_dur(added(&s))
        );
    }
}

/// The log record's row, the rounds behind it, what reached each transport, the records themselves, and the target:
/// faultline's call at most half of sentry's (medians, the timer's own cost included).
fn print_logs(r: &logs::LogRounds, timer: Duration) {
    let (f, s) = (
        Summary::median_of(&r.faultline),
        Summary::median_of(&r.sentry),
    );
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let rounds = || r.faultline.iter().zip(&r.sentry);
    // The median of the rounds' own ratios, as for the other scenarios measured in rounds.
    let p50 = median(rounds().map(|(f, s)| ratio(f.median, s.median)).collect());
    let p99 = median(rounds().map(|(f, s)| ratio(f.p99, s.p99)).collect());
    println!(
        "structured logs on the caller, logs on, discarding transports; {} calls per SDK in {ROUNDS} rounds, both \
         flushed every {} calls (untimed)",
        logs::LOGS_N,
        logs::PACE,
    );
    println!(
        "  faultline: faultline::logs::info!(user.id = 42, \"cart.items\" = 3, vip = true, \"checkout for {{}}\", \"alice\")"
    );
    println!(
        "  sentry:    sentry::logger_info!(user.id = 42, cart.items = 3, vip = true, \"checkout for {{}}\", \"alice\")"
    );
    println!(
        "{:<38} {:>10} {:>10} {:>10} {:>10} {:>13} {:>13}",
        "per call (median / p99)",
        "faultline",
        "p99",
        "sentry",
        "p99",
        "fl/sentry p50",
        "fl/sentry p99"
    );
    println!(
        "{:<38} {:>10} {:>10} {:>10} {:>10} {:>13} {:>13}",
        "one record, 3 attributes, 1 parameter",
        fmt_dur(f.median),
        fmt_dur(f.p99),
        fmt_dur(s.median),
        fmt_dur(s.p99),
        format!("{p50:.2}×"),
        format!("{p99:.2}×"),
    );
    println!(
        "  {:<6} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "round", "faultline", "p99", "sentry", "p99", "fl/s p50", "fl/s p99"
    );
    for (i, (f, s)) in rounds().enumerate() {
        println!(
            "  {:<6} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}",
            i + 1,
            fmt_dur(f.median),
            fmt_dur(f.p99),
            fmt_dur(s.median),
            fmt_dur(s.p99),
            format!("{:.2}×", ratio(f.median, s.median)),
            format!("{:.2}×", ratio(f.p99, s.p99)),
        );
    }
    println!(
        "records: faultline captured {}, sent {}, dropped {} (missing at its transport; its client reports counted {}); \
         sentry captured {}, sent {}, dropped {}",
        r.captured,
        r.faultline_delivered,
        r.captured - r.faultline_delivered,
        r.faultline_reported_dropped,
        r.captured,
        r.sentry_delivered,
        r.captured - r.sentry_delivered,
    );
    let first = |record: Option<&String>| record.map_or("none", String::as_str).to_owned();
    println!(
        "  faultline's first record: {}",
        first(faultline_sdk::FIRST_LOG.get())
    );
    println!(
        "  sentry's first record:    {}",
        first(sentry_sdk::FIRST_LOG.get())
    );
    println!(
        "target: faultline at most 0.5× sentry per call (median): {p50:.2}× ({} and {} without the timer's {}) — {}",
        fmt_dur(f.median.saturating_sub(timer)),
        fmt_dur(s.median.saturating_sub(timer)),
        fmt_dur(timer),
        if p50 <= 0.5 { "met" } else { "MISSED" },
    );
}

/// The metric rows, the rounds behind them, what reached each transport, the first measurement of each call at each
/// transport, and the target: faultline's call at most half of sentry's (medians, the timer's own cost included).
fn print_metrics(r: &metrics::MetricRounds, timer: Duration) {
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let rounds = |call: usize| r.faultline[call].iter().zip(&r.sentry[call]);
    // Per call: the medians over the rounds, and the median of the rounds' own ratios (p50, p99), as for the other
    // scenarios measured in rounds.
    let figures = [0, 1].map(|call| {
        (
            Summary::median_of(&r.faultline[call]),
            Summary::median_of(&r.sentry[call]),
            median(
                rounds(call)
                    .map(|(f, s)| ratio(f.median, s.median))
                    .collect(),
            ),
            median(rounds(call).map(|(f, s)| ratio(f.p99, s.p99)).collect()),
        )
    });
    println!(
        "metrics on the caller, metrics on, discarding transports; {} calls per SDK and call in {ROUNDS} rounds, both \
         flushed every {} calls (untimed)",
        metrics::METRICS_N,
        metrics::PACE,
    );
    println!(
        "  faultline: faultline::metrics::counter(\"orders.placed\", 1).attribute(\"region\", \"eu\").attribute(\"vip\", true).capture()"
    );
    println!(
        "             faultline::metrics::distribution(\"checkout.duration\", 187.5).unit(\"millisecond\").attribute(\"region\", \"eu\").attribute(\"vip\", true).capture()"
    );
    println!(
        "  sentry:    sentry::metrics::counter(\"orders.placed\", 1).attribute(\"region\", \"eu\").attribute(\"vip\", true).capture()"
    );
    println!(
        "             sentry::metrics::distribution(\"checkout.duration\", 187.5).unit(Unit::Millisecond).attribute(\"region\", \"eu\").attribute(\"vip\", true).capture()"
    );
    println!(
        "{:<38} {:>10} {:>10} {:>10} {:>10} {:>13} {:>13}",
        "per call (median / p99)",
        "faultline",
        "p99",
        "sentry",
        "p99",
        "fl/sentry p50",
        "fl/sentry p99"
    );
    for (name, (f, s, p50, p99)) in metrics::CALLS.iter().zip(&figures) {
        println!(
            "{:<38} {:>10} {:>10} {:>10} {:>10} {:>13} {:>13}",
            name,
            fmt_dur(f.median),
            fmt_dur(f.p99),
            fmt_dur(s.median),
            fmt_dur(s.p99),
            format!("{p50:.2}×"),
            format!("{p99:.2}×"),
        );
    }
    println!(
        "  {:<6} {:>10} {:>10} {:>10} {:>10} {:>8}   {:>10} {:>10} {:>10} {:>10} {:>8}",
        "round",
        "fl counter",
        "p99",
        "sentry",
        "p99",
        "fl/s p50",
        "fl distr.",
        "p99",
        "sentry",
        "p99",
        "fl/s p50"
    );
    for (i, ((fc, sc), (fd, sd))) in rounds(0).zip(rounds(1)).enumerate() {
        println!(
            "  {:<6} {:>10} {:>10} {:>10} {:>10} {:>8}   {:>10} {:>10} {:>10} {:>10} {:>8}",
            i + 1,
            fmt_dur(fc.median),
            fmt_dur(fc.p99),
            fmt_dur(sc.median),
            fmt_dur(sc.p99),
            format!("{:.2}×", ratio(fc.median, sc.median)),
            fmt_dur(fd.median),
            fmt_dur(fd.p99),
            fmt_dur(sd.median),
            fmt_dur(sd.p99),
            format!("{:.2}×", ratio(fd.median, sd.median)),
        );
    }
    for (call, name) in metrics::CALLS.iter().enumerate() {
        let (f, s) = (r.faultline_delivered[call], r.sentry_delivered[call]);
        println!(
            "measurements, {name}: faultline captured {}, sent {f}, dropped {}; sentry captured {}, sent {s}, \
             dropped {}",
            r.captured,
            r.captured - f,
            r.captured,
            r.captured - s,
        );
    }
    println!(
        "  (dropped: missing at the transport; faultline's client reports counted {} as dropped)",
        r.faultline_reported_dropped
    );
    let first = |record: Option<&String>| record.map_or("none", String::as_str).to_owned();
    for call in 0..2 {
        println!(
            "  faultline's first {}: {}",
            ["counter", "distribution"][call],
            first(faultline_sdk::FIRST_METRIC[call].get())
        );
        println!(
            "  sentry's first {}:    {}",
            ["counter", "distribution"][call],
            first(sentry_sdk::FIRST_METRIC[call].get())
        );
    }
    let verdicts: Vec<String> = metrics::CALLS
        .iter()
        .zip(&figures)
        .map(|(name, (f, s, p50, _))| {
            format!(
                "{name} {p50:.2}× ({} and {} without the timer's {})",
                fmt_dur(f.median.saturating_sub(timer)),
                fmt_dur(s.median.saturating_sub(timer)),
                fmt_dur(timer),
            )
        })
        .collect();
    let met = figures.iter().all(|(_, _, p50, _)| *p50 <= 0.5);
    println!(
        "target: faultline at most 0.5× sentry per call (median): {} — {}",
        verdicts.join("; "),
        if met { "met" } else { "MISSED" },
    );
}

fn print_spans(r: &spans::SpanRounds, timer: Duration) {
    let floor = Summary::median_of(&r.floor);
    let rows = [
        Row {
            name: "sampled child span, start + finish",
            faultline: Summary::median_of(&r.faultline_span),
            sentry: Summary::median_of(&r.sentry_span),
            floor: Some(floor.clone()),
            round_ratios: Some(round_ratios(&r.faultline_span, &r.sentry_span, &r.floor)),
        },
        Row {
            name: "unsampled transaction, start + finish",
            faultline: Summary::median_of(&r.faultline_unsampled),
            sentry: Summary::median_of(&r.sentry_unsampled),
            floor: Some(floor.clone()),
            round_ratios: Some(round_ratios(
                &r.faultline_unsampled,
                &r.sentry_unsampled,
                &r.floor,
            )),
        },
    ];
    println!(
        "spans and transactions on the caller, traces_sample_rate 1.0 (spans) and 0.0 (transactions), discarding \
         transports; {} calls per SDK and row in {ROUNDS} rounds, a fresh transaction every {} spans (untimed)",
        spans::SPANS_N,
        spans::SPANS_PER_TRANSACTION,
    );
    print_rows(&rows);
    println!(
        "{:<38} {:>10} {:>10}",
        "floor: Arc::new(0u64) and its drop",
        fmt_dur(floor.median),
        fmt_dur(floor.p99),
    );
    println!(
        "  {:<6} {:>10} {:>10} {:>10} {:>10} {:>8}   {:>10} {:>10} {:>10} {:>10} {:>8}",
        "round",
        "fl span",
        "p99",
        "sentry",
        "p99",
        "s/fl p50",
        "fl txn",
        "p99",
        "sentry",
        "p99",
        "s/fl p50"
    );
    for i in 0..r.floor.len() {
        let (fs, ss) = (&r.faultline_span[i], &r.sentry_span[i]);
        let (ft, st) = (&r.faultline_unsampled[i], &r.sentry_unsampled[i]);
        let ratio =
            |a: &Summary, b: &Summary| times(a.median.as_secs_f64() / b.median.as_secs_f64());
        println!(
            "  {:<6} {:>10} {:>10} {:>10} {:>10} {:>8}   {:>10} {:>10} {:>10} {:>10} {:>8}",
            i + 1,
            fmt_dur(fs.median),
            fmt_dur(fs.p99),
            fmt_dur(ss.median),
            fmt_dur(ss.p99),
            ratio(ss, fs),
            fmt_dur(ft.median),
            fmt_dur(ft.p99),
            fmt_dur(st.median),
            fmt_dur(st.p99),
            ratio(st, ft),
        );
    }
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    let within = |name: &str, figure: Duration, target: Duration| {
        println!(
            "  faultline's {name} within {}: {} ({} without the timer's {}) — {}{}",
            fmt_dur(target),
            fmt_dur(figure),
            fmt_dur(figure.saturating_sub(timer)),
            fmt_dur(timer),
            verdict(figure <= target),
            if figure <= target {
                String::new()
            } else {
                format!(
                    ", {} over ({})",
                    fmt_dur(figure - target),
                    harness::ratio(figure, target)
                )
            },
        );
    };
    println!("targets (medians):");
    for row in &rows {
        let [p50, _, _] = row.round_ratios.expect("span rows are measured in rounds");
        println!(
            "  faultline at least 3× cheaper, {}: {} — {}",
            row.name,
            times(p50),
            verdict(p50 >= 3.0)
        );
    }
    within(
        "sampled child span",
        rows[0].faultline.median,
        Duration::from_micros(1),
    );
    within(
        "unsampled transaction",
        rows[1].faultline.median,
        Duration::from_nanos(100),
    );
}

/// Per-call durations: median and p99 for each SDK, the floor's median, and the ratios.
fn print_table(rows: &[Row], floor: &Summary, floor_after_quiet: &Summary) {
    print_rows(rows);
    println!(
        "{:<38} {:>10} {:>10}   ({} frames walked; sentry vs floor for capture_error: {})",
        "floor: bare backtrace::trace walk",
        fmt_dur(floor.median),
        fmt_dur(floor.p99),
        deep(DEPTH, &mut || harness::bare_walk().len()),
        harness::ratio(rows[0].sentry.median, floor.median),
    );
    println!(
        "{:<38} {:>10} {:>10}   (the floor of the \"worker asleep\" row: each walk after {} ms of quiet)",
        "floor: the same walk after quiet",
        fmt_dur(floor_after_quiet.median),
        fmt_dur(floor_after_quiet.p99),
        IDLE.as_millis(),
    );
    println!(
        "(sentry captures without a worker: its \"worker asleep\" figures are its capture_error figures. First capture: \
         median of {FIRST_CAPTURE_SAMPLES} fresh processes, so its p99 column is the slowest of them.)"
    );
    println!(
        "(The stack-attached rows and the first floor are medians of {ROUNDS} rounds; their ratios are the medians of \
         the rounds' ratios.)"
    );
    println!(
        "(sentry built alone: the same capture_error calls in alone-sentry, which links sentry and not faultline, so \
         its dependencies get sentry's features only; a fresh process in each round, after this binary's sentry turn, \
         with the first row's faultline figures.)"
    );
}

/// A capture that is dropped because the queue is full: each SDK sends to a loopback server that never answers,
/// with room for one envelope in its queue; the first capture holds the sender, the second fills the queue.
fn full_queue(err: &harness::RequestFailed) -> (Summary, Summary) {
    let server = LoopbackServer::start(Mode::Hang);
    let guard = faultline_http(server.dsn(), 1);
    faultline::capture_message("held by the worker", faultline::Level::Info);
    std::thread::sleep(Duration::from_millis(100));
    faultline::capture_message("fills the queue", faultline::Level::Info);
    let before = faultline::stats().queue_overflow;
    let faultline_drop = deep(DEPTH, &mut || {
        harness::time_each(
            FAST_N,
            |_| {
                black_box(faultline::capture_error(err));
            },
            |_| {},
        )
    });
    let counted = faultline::stats().queue_overflow - before;
    // Closing the server's sockets ends the hung request, so shutting the SDK down does not wait for it.
    drop(server);
    drop(guard);

    let server = LoopbackServer::start(Mode::Hang);
    let guard = sentry_http(&server.dsn(), Some(1));
    sentry::capture_message("held by the worker", sentry::Level::Info);
    std::thread::sleep(Duration::from_millis(100));
    sentry::capture_message("fills the queue", sentry::Level::Info);
    let sentry_drop = deep(DEPTH, &mut || {
        harness::time_each(
            SLOW_N,
            |_| {
                black_box(sentry::capture_error(err));
            },
            |_| {},
        )
    });
    drop(server);
    drop(guard);
    println!("full queue: faultline counted {counted} of {FAST_N} as queue_overflow");
    (faultline_drop, sentry_drop)
}

/// The first `capture_error` after `init`, each sample in a fresh process.
fn first_capture() -> (Summary, Summary) {
    let mut result = Vec::new();
    for sdk in ["faultline", "sentry"] {
        let mut init = Vec::new();
        let mut first = Vec::new();
        let mut second = Vec::new();
        for _ in 0..FIRST_CAPTURE_SAMPLES {
            let r = harness::run_child(&format!("first-{sdk}"), &[]);
            let ns = |k| Duration::from_nanos(harness::get(&r, k).parse().unwrap());
            init.push(ns("init_ns"));
            first.push(ns("first_ns"));
            second.push(ns("second_ns"));
        }
        println!(
            "first capture, {sdk}: init {}, first capture_error {}, second {} (medians of {FIRST_CAPTURE_SAMPLES} processes)",
            fmt_dur(harness::median(init)),
            fmt_dur(harness::median(first.clone())),
            fmt_dur(harness::median(second)),
        );
        result.push(Summary::of(&mut first));
    }
    let sentry = result.pop().expect("two");
    (result.pop().expect("two"), sentry)
}

/// The programs built alone (`src/alone.rs`), ready to run.
struct Alone {
    sentry: PathBuf,
    /// sentry with its `rustls` feature: HTTPS, as faultline's default features have it.
    sentry_rustls: PathBuf,
    /// faultline with its default features.
    faultline: PathBuf,
    /// faultline with the capabilities of sentry's configuration: plain HTTP and the panic hook.
    faultline_http: PathBuf,
    /// faultline with the capabilities of sentry's configuration with `rustls`: HTTPS and the panic hook.
    faultline_tls: PathBuf,
}

/// Builds the programs built alone, each package with its own lock file into its own target directory
/// (`alone-faultline` into one per feature, as both builds make the same binary), and returns their paths. Cargo is
/// `$CARGO` when set (under `cargo run`), else the one on the `PATH`; a failed build ends the run with cargo's
/// output.
fn build_alone() -> Alone {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let start = Instant::now();
    let build = |package: &str, feature: Option<&str>| -> PathBuf {
        let dir = here.join(package);
        let target = match feature {
            Some(feature) => dir.join("target").join(feature),
            None => dir.join("target"),
        };
        let mut command = Command::new(&cargo);
        command
            .args([
                "build",
                "--release",
                "--locked",
                "--quiet",
                "--manifest-path",
            ])
            .arg(dir.join("Cargo.toml"));
        if let Some(feature) = feature {
            command.args(["--features", feature]);
        }
        command.arg("--target-dir").arg(&target);
        // What cargo prints (warnings of the faultline being worked on, say) only when the build fails.
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("running {cargo:?}: {e}"));
        if !output.status.success() {
            eprintln!(
                "building {package} failed ({}): {command:?}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            std::process::exit(1);
        }
        target.join("release").join(package)
    };
    let alone = Alone {
        sentry: build("alone-sentry", None),
        sentry_rustls: build("alone-sentry", Some("rustls")),
        faultline: build("alone-faultline", Some("defaults")),
        faultline_http: build("alone-faultline", Some("http")),
        faultline_tls: build("alone-faultline", Some("tls")),
    };
    println!(
        "built alone: alone-sentry as configured and with `rustls`, alone-faultline with `defaults`, `http` and \
         `tls` (cargo build --release --locked, {:.1} s)",
        start.elapsed().as_secs_f64()
    );
    alone
}

/// Events per second delivered to a loopback HTTP server, with a queue large enough for the whole burst, and the
/// tally of every event: each SDK in this binary, and in the programs built alone (faultline's with `http`). They
/// alternate for [`E2E_ROUNDS`] rounds and the median rate counts, since other work on a shared machine moves a
/// single sub-second round.
fn end_to_end(err: &harness::RequestFailed, alone: &Alone) {
    println!(
        "end to end: {E2E_N} capture_error calls ({DEPTH} frames deep) to a loopback HTTP/1.1 server answering 200 {{}}, queue of {E2E_N}, {E2E_ROUNDS} rounds"
    );
    println!(
        "  (\"alone\": alone-faultline built with `http` (plain HTTP, panic hook) and alone-sentry, each a child process \
         sending to a server in this one; their bytes per request include the warm-up event's request)"
    );
    let mut faultline_rates = Vec::new();
    let mut faultline_alone_rates = Vec::new();
    let mut sentry_rates = Vec::new();
    let mut sentry_alone_rates = Vec::new();
    for round in 1..=E2E_ROUNDS {
        let (rate, tally) = faultline_end_to_end(err);
        println!("  round {round} faultline:       {rate:>6.0} events/s; {tally}");
        faultline_rates.push(rate);
        let (rate, tally) = alone_end_to_end(&alone.faultline_http);
        println!("  round {round} faultline alone: {rate:>6.0} events/s; {tally}");
        faultline_alone_rates.push(rate);
        let (rate, tally) = sentry_end_to_end(err);
        println!("  round {round} sentry:          {rate:>6.0} events/s; {tally}");
        sentry_rates.push(rate);
        let (rate, tally) = alone_end_to_end(&alone.sentry);
        println!("  round {round} sentry alone:    {rate:>6.0} events/s; {tally}");
        sentry_alone_rates.push(rate);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (faultline_rate, sentry_rate) = (median(faultline_rates), median(sentry_rates));
    let (faultline_alone_rate, sentry_alone_rate) =
        (median(faultline_alone_rates), median(sentry_alone_rates));
    println!(
        "  median: faultline {faultline_rate:.0} events/s, sentry {sentry_rate:.0} events/s; faultline / sentry {:.2}×; \
         sentry alone {sentry_alone_rate:.0} events/s, faultline / sentry alone {:.2}×",
        faultline_rate / sentry_rate,
        faultline_rate / sentry_alone_rate,
    );
    println!(
        "  median, built alone: faultline (http) {faultline_alone_rate:.0} events/s, sentry {sentry_alone_rate:.0} \
         events/s; faultline alone / sentry alone {:.2}×",
        faultline_alone_rate / sentry_alone_rate,
    );
}

fn faultline_end_to_end(err: &harness::RequestFailed) -> (f64, String) {
    let server = LoopbackServer::start(Mode::Answer);
    let (delivery, (events_before, bytes_before, requests_before)) =
        faultline_sdk::end_to_end(server.dsn(), E2E_N, err, || {
            (server.events(), server.bytes(), server.requests())
        });
    let (sent, dropped) = (delivery.sent, delivery.dropped);
    let received = server.events() - events_before;
    let tally = format!(
        "captured {E2E_N} = sent {sent} + dropped {dropped} + unaccounted {}; server received {received} events, {:.0} bytes each",
        E2E_N as i64 - sent as i64 - dropped as i64,
        (server.bytes() - bytes_before) as f64
            / (server.requests() - requests_before).max(1) as f64
    );
    (received as f64 / delivery.elapsed.as_secs_f64(), tally)
}

fn sentry_end_to_end(err: &harness::RequestFailed) -> (f64, String) {
    let server = LoopbackServer::start(Mode::Answer);
    let counts = || (server.events(), server.bytes(), server.requests());
    let (elapsed, before, after) =
        sentry_sdk::end_to_end(&server.dsn(), E2E_N, err, counts, counts);
    let received = after.0 - before.0;
    let (bytes, requests) = (after.1 - before.1, after.2 - before.2);
    // sentry reports what it dropped in client reports on later envelopes; closing the client sent what was left.
    let reported = server.reported_discards();
    let tally = format!(
        "captured {E2E_N} = received {received} + reported dropped {reported} + unaccounted {}; {:.0} bytes each",
        E2E_N as i64 - received as i64 - reported as i64,
        bytes as f64 / requests.max(1) as f64
    );
    (received as f64 / elapsed.as_secs_f64(), tally)
}

/// One end-to-end run of a program built alone, a child process sending to a fresh server here: the server's count,
/// less the warm-up events the child reports, over the child's own elapsed time, and the tally as for this binary's
/// runs (faultline's counts from the child, sentry's dropped events from its client reports).
fn alone_end_to_end(program: &Path) -> (f64, String) {
    let server = LoopbackServer::start(Mode::Answer);
    let r = alone::run(
        program,
        alone::END_TO_END,
        &[("BENCH_DSN", server.dsn()), ("BENCH_N", E2E_N.to_string())],
    );
    let get = |key| harness::get(&r, key).parse::<u64>().expect("a count");
    let elapsed = Duration::from_nanos(get("elapsed_ns"));
    let received = server.events().saturating_sub(get("warm_up_events"));
    let bytes_each = server.bytes() as f64 / server.requests().max(1) as f64;
    let captured = get("captured") as i64;
    let tally = if r.iter().any(|(key, _)| key == "sent") {
        let (sent, dropped) = (get("sent"), get("dropped"));
        format!(
            "captured {captured} = sent {sent} + dropped {dropped} + unaccounted {}; server received {received} events, {bytes_each:.0} bytes each",
            captured - sent as i64 - dropped as i64,
        )
    } else {
        let reported = server.reported_discards();
        format!(
            "captured {captured} = received {received} + reported dropped {reported} + unaccounted {}; {bytes_each:.0} bytes each",
            captured - received as i64 - reported as i64,
        )
    };
    (received as f64 / elapsed.as_secs_f64(), tally)
}

/// Where a burst runs: this binary re-executed for a child role, or a program built alone.
#[derive(Clone, Copy)]
enum Burst<'a> {
    ThisBinary(&'static str),
    Alone(&'a Path),
}

/// Peak resident memory of a fresh process per SDK around a burst of 10,000 `capture_error` calls to a loopback
/// server (in this process, so its memory is not counted), in two kinds of program: this binary, which links both
/// SDKs, and the programs built alone, which link one each (faultline with its default features, and with the
/// capabilities of sentry's configuration, `http` or `tls`; sentry as configured and with `rustls`). Resolving symbols loads the program's own debug
/// information, so in this binary each SDK also pays for the other's; a program that uses one SDK carries only that
/// one's, and builds its dependencies with that SDK's features only.
fn peak_rss(alone: &Alone) {
    let server = LoopbackServer::start(Mode::Answer);
    println!(
        "peak RSS (VmHWM, KiB) of a fresh process around a {BURST_N}-event burst to a loopback server"
    );
    println!(
        "  {:<16} {:<16} {:<17} {:>9} {:>11} {:>12} {:>9} {:>9} {:>22}",
        "program",
        "sdk",
        "queue",
        "baseline",
        "after init",
        "first event",
        "peak",
        "growth",
        "delivered / dropped"
    );
    let programs: [(&str, &[(&str, Burst)]); 2] = [
        (
            "both SDKs",
            &[
                ("faultline", Burst::ThisBinary("burst-faultline")),
                ("sentry", Burst::ThisBinary("burst-sentry")),
            ],
        ),
        (
            "built alone",
            &[
                ("faultline", Burst::Alone(&alone.faultline)),
                ("faultline (http)", Burst::Alone(&alone.faultline_http)),
                ("faultline (tls)", Burst::Alone(&alone.faultline_tls)),
                ("sentry", Burst::Alone(&alone.sentry)),
                ("sentry + rustls", Burst::Alone(&alone.sentry_rustls)),
            ],
        ),
    ];
    let mut peaks = Vec::new();
    for (program, sdks) in programs {
        for (queue_label, faultline_queue, sentry_queue) in
            [("default", "100", "default"), ("10000", "10000", "10000")]
        {
            for &(sdk, burst) in sdks {
                let is_sentry = sdk.starts_with("sentry");
                let queue = if is_sentry {
                    sentry_queue
                } else {
                    faultline_queue
                };
                let events_before = server.events();
                let discards_before = server.reported_discards();
                let env = [("BENCH_DSN", server.dsn()), ("BENCH_QUEUE", queue.into())];
                let r = match burst {
                    Burst::ThisBinary(role) => harness::run_child(role, &env),
                    Burst::Alone(path) => alone::run(path, alone::BURST, &env),
                };
                let kib = |k| harness::get(&r, k).parse::<u64>().unwrap();
                let delivered = server.events() - events_before;
                let dropped = if is_sentry {
                    server.reported_discards() - discards_before
                } else {
                    kib("dropped")
                };
                println!(
                    "  {:<16} {:<16} {:<17} {:>9} {:>11} {:>12} {:>9} {:>9} {:>22}",
                    program,
                    sdk,
                    format!("{queue_label} ({queue})"),
                    kib("hwm_start_kib"),
                    kib("hwm_init_kib"),
                    kib("hwm_first_kib"),
                    kib("hwm_peak_kib"),
                    kib("hwm_peak_kib") - kib("hwm_start_kib"),
                    format!("{delivered} / {dropped}"),
                );
                peaks.push(((program, sdk, queue_label), kib("hwm_peak_kib")));
            }
        }
    }
    let peak = |key| {
        peaks
            .iter()
            .find(|(k, _)| *k == key)
            .map(|&(_, kib)| kib as f64)
            .expect("measured")
    };
    for (program, faultline, sentry, label) in [
        ("both SDKs", "faultline", "sentry", "both SDKs"),
        (
            "built alone",
            "faultline (http)",
            "sentry",
            "built alone, the same capabilities (faultline with http and panic, sentry as configured)",
        ),
        (
            "built alone",
            "faultline (tls)",
            "sentry + rustls",
            "built alone, the same capabilities with TLS (faultline with rustls and panic, sentry with rustls)",
        ),
        (
            "built alone",
            "faultline",
            "sentry + rustls",
            "built alone, faultline's default features (with native crashes and log) against sentry with rustls",
        ),
        (
            "built alone",
            "faultline",
            "sentry",
            "built alone, faultline's default features against sentry as configured (no TLS)",
        ),
    ] {
        let ratio = |queue| peak((program, faultline, queue)) / peak((program, sentry, queue));
        println!(
            "  peak faultline / sentry, {label}: {:.2}× with default queues, {:.2}× with queues of 10000",
            ratio("default"),
            ratio("10000"),
        );
    }
}

/// In a fresh process: times `init`, then the first and the second `capture` from the benchmark's deep stack, and
/// reports the three for the parent.
fn first_captures<G>(init: impl FnOnce() -> G, capture: impl Fn()) {
    let start = Instant::now();
    let guard = init();
    let init = start.elapsed();
    let (first, second) = deep(DEPTH, &mut || {
        let start = Instant::now();
        capture();
        let first = start.elapsed();
        let start = Instant::now();
        capture();
        (first, start.elapsed())
    });
    harness::child_result("init_ns", init.as_nanos());
    harness::child_result("first_ns", first.as_nanos());
    harness::child_result("second_ns", second.as_nanos());
    drop(guard);
}

fn child(role: &str) {
    let err = sample_error();
    match role {
        "first-faultline" => first_captures(
            || faultline::init(faultline::ClientOptions::new().transport(FaultlineDiscard)),
            || {
                faultline::capture_error(&err);
            },
        ),
        "first-sentry" => first_captures(sentry_discarding, || {
            sentry::capture_error(&err);
        }),
        "burst-faultline" | "burst-sentry" => {
            let dsn = std::env::var("BENCH_DSN").expect("BENCH_DSN");
            let queue = std::env::var("BENCH_QUEUE").expect("BENCH_QUEUE");
            if role == "burst-faultline" {
                faultline_sdk::burst(dsn, queue.parse().expect("a queue size"));
            } else {
                sentry_sdk::burst(&dsn, queue.parse().ok());
            }
        }
        other => panic!("unknown child scenario `{other}`"),
    }
}
