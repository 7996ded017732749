//! Capturing never waits for symbol resolution: the background thread holds the `backtrace` crate's global lock
//! while it resolves addresses (the first time for as long as it takes to read the program's debug info), and a
//! capture on another thread must not queue behind it.

use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn a_capture_completes_while_another_thread_holds_the_resolver_lock() {
    let (locked_tx, locked_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    // `backtrace::resolve` runs its callback with the crate's global lock held; park there.
    let holder = std::thread::spawn(move || {
        let mut ip = std::ptr::null_mut();
        backtrace::trace(|frame| {
            ip = frame.ip();
            false
        });
        let mut parked = false;
        backtrace::resolve(ip, |_| {
            if !parked {
                parked = true;
                locked_tx.send(()).unwrap();
                let _ = release_rx.recv_timeout(Duration::from_secs(10));
            }
        });
    });
    locked_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the resolver lock was taken");

    let started = Instant::now();
    let events = faultline::test::with_captured_events(|| {
        let err = "x".parse::<u32>().unwrap_err();
        let captured = Instant::now();
        faultline::capture_error(&err);
        // The capture itself returned while the lock is still held (the helper waits up to 10 s).
        assert!(
            captured.elapsed() < Duration::from_secs(5),
            "{:?}",
            captured.elapsed()
        );
        release_tx.send(()).unwrap();
    });
    holder.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(events.len(), 1);
    assert!(events[0].exception[0].stacktrace.is_some());
}
