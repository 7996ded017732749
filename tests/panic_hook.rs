//! The panic hook, in a test binary of its own because it installs process-wide state (the hook and the client).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use faultline::ClientOptions;
use support::TestServer;

static PREVIOUS_HOOK_CALLS: AtomicUsize = AtomicUsize::new(0);

#[inline(never)]
fn explode(n: u32) -> u32 {
    if n > 1 {
        let line = line!() + 1;
        panic!("worker {n} gave up at line {line}");
    }
    n
}

#[test]
fn a_panic_is_reported_once_and_the_previous_hook_still_runs() {
    // A hook installed before init, which faultline must chain to.
    std::panic::set_hook(Box::new(|info| {
        PREVIOUS_HOOK_CALLS.fetch_add(1, Ordering::SeqCst);
        eprintln!("previous hook: {info}");
    }));
    let server = TestServer::ok();
    let guard = faultline::try_init(
        ClientOptions::new()
            .spool_dir(None)
            .dsn(server.dsn("k", 7))
            .release("panics@1")
            .shutdown_timeout(Duration::from_secs(10))
            .before_send(|event| {
                if event.message.as_deref() == Some("boom in before_send") {
                    // Runs on the worker thread: this panic must not be reported through the SDK.
                    panic!("before_send exploded");
                }
                Some(event)
            }),
    )
    .unwrap();

    let result = std::thread::Builder::new()
        .name("payment-worker".into())
        .spawn(|| explode(7))
        .unwrap()
        .join();
    assert!(result.is_err());
    // The hook waited for delivery before returning, so the request is already there.
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "one panic, one event: {requests:?}");
    assert_eq!(PREVIOUS_HOOK_CALLS.load(Ordering::SeqCst), 1);

    let event = requests[0].envelope().event().unwrap();
    assert_eq!(event["level"], "fatal");
    assert_eq!(event["release"], "panics@1");
    let exception = &event["exception"]["values"][0];
    assert_eq!(exception["type"], "panic");
    let value = exception["value"].as_str().unwrap();
    assert!(value.starts_with("worker 7 gave up at line "), "{value}");
    let line: u32 = value.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(exception["mechanism"]["type"], "panic");
    assert_eq!(exception["mechanism"]["handled"], false);
    let location = exception["mechanism"]["data"]["location"].as_str().unwrap();
    assert!(
        location.starts_with(&format!("tests/panic_hook.rs:{line}:")),
        "{location}"
    );
    let thread = &event["threads"]["values"][0];
    assert_eq!(thread["name"], "payment-worker");
    assert_eq!(thread["crashed"], true);
    assert_eq!(thread["id"], exception["thread_id"]);

    let frames = exception["stacktrace"]["frames"]
        .as_array()
        .expect("a stack trace");
    let top = frames.last().unwrap();
    assert!(
        top["function"]
            .as_str()
            .unwrap_or_default()
            .ends_with("explode"),
        "the panic machinery is trimmed, so the panicking function is on top: {top}"
    );
    assert_eq!(top["lineno"], line);
    assert_eq!(top["in_app"], true);

    // A panic on the SDK's own worker thread is not reported through the SDK.
    faultline::capture_message("boom in before_send", faultline::Level::Error);
    assert!(faultline::flush(Duration::from_secs(10)));
    assert_eq!(server.requests().len(), 1, "nothing new was sent");
    assert_eq!(faultline::stats().before_send, 1);
    assert_eq!(
        PREVIOUS_HOOK_CALLS.load(Ordering::SeqCst),
        2,
        "the previous hook saw that panic too"
    );
    drop(guard);
}

const ABORT_CHILD: &str = "FAULTLINE_ABORT_CHILD_DSN";

#[test]
fn abort_child() {
    let Ok(dsn) = std::env::var(ABORT_CHILD) else {
        return; // Only meaningful when started by the test below.
    };
    // The process dies as soon as the hooks have run, as with `panic = "abort"`.
    std::panic::set_hook(Box::new(|_| std::process::abort()));
    let _guard = faultline::init(
        ClientOptions::new()
            .spool_dir(None)
            .dsn(dsn)
            .shutdown_timeout(Duration::from_secs(10)),
    );
    panic!("fatal configuration error");
}

#[test]
fn a_panic_that_ends_the_process_is_delivered_before_it_dies() {
    let server = TestServer::ok();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "abort_child", "--nocapture", "--test-threads=1"])
        .env(ABORT_CHILD, server.dsn("k", 9))
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child aborted");
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let event = requests[0].envelope().event().unwrap();
    assert_eq!(
        event["exception"]["values"][0]["value"],
        "fatal configuration error"
    );
    assert_eq!(event["level"], "fatal");
}
