//! Native crashes: run it once to crash, once more to send the report.
//!
//! ```text
//! export SENTRY_DSN=https://key@sentry.example/42
//! cargo run --example crash -- segfault    # or: abort, overflow
//! cargo run --example crash                # sends what the crash left, then exits
//! ```
//!
//! The first run dies of the signal, as it would without faultline (its shell prints "Segmentation fault" or
//! "Aborted"); the signal handler only wrote a crash record into the spool. The second run finds the record, unwinds
//! and symbolicates the crashed thread's stack, and sends a fatal event named after the signal, with the tag and
//! breadcrumb set before the crash. Without `SENTRY_DSN` nothing is recorded or sent.

use std::time::Duration;

fn main() {
    let what = std::env::args().nth(1);
    let _guard = faultline::init(
        faultline::ClientOptions::new()
            .release(faultline::release_name!())
            .debug(true),
    );
    if !faultline::is_enabled() {
        eprintln!("SENTRY_DSN is not set: nothing is recorded or sent");
    }
    if !cfg!(target_os = "linux") {
        eprintln!("native crashes are recorded on Linux only, so far");
    }
    faultline::configure_scope(|scope| scope.set_tag("example", "crash"));
    faultline::add_breadcrumb(faultline::Breadcrumb {
        message: Some(format!("about to {}", what.as_deref().unwrap_or("report"))),
        ..Default::default()
    });
    match what.as_deref() {
        None => {
            // The worker sends what an earlier run recorded as soon as it starts; wait for it to go.
            faultline::flush(Duration::from_secs(10));
            eprintln!("sent what an earlier crash left, if anything");
        }
        Some("segfault") => segfault(),
        Some("abort") => std::process::abort(),
        Some("overflow") => println!("{}", overflow(0)),
        Some(other) => eprintln!("unknown crash {other:?}: try segfault, abort or overflow"),
    }
}

#[inline(never)]
fn segfault() {
    // SAFETY: none: writing through a null pointer is the crash this example is about.
    unsafe { std::ptr::write_volatile(std::hint::black_box(std::ptr::null_mut::<u64>()), 42) };
}

#[inline(never)]
#[allow(unconditional_recursion, reason = "the point is to overflow the stack")]
fn overflow(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    overflow(depth + 1) + frame[3]
}
