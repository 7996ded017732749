//! The `log` integration with a process-wide client (`faultline::init`), in a test binary of its own: it installs
//! the global logger and the global client. One test, so nothing else runs against that state.
#![cfg(feature = "log")]

use std::sync::Mutex;
use std::time::Duration;

use faultline::ClientOptions;
use faultline::integrations::log::Logger;
use faultline::test::TestTransport;
use log::{LevelFilter, Log, Metadata, Record};

/// The application's logger: keeps the messages it is given.
struct Recording(Mutex<Vec<String>>);

impl Log for Recording {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        self.0.lock().unwrap().push(record.args().to_string());
    }

    fn flush(&self) {}
}

static INNER: Recording = Recording(Mutex::new(Vec::new()));

#[test]
fn records_from_any_thread_are_reported_and_callbacks_on_the_worker_do_not_loop() {
    log::set_logger(Box::leak(Box::new(Logger::new(&INNER)))).unwrap();
    log::set_max_level(LevelFilter::Info);
    let transport = TestTransport::new();
    let _guard = faultline::init(
        ClientOptions::new()
            .transport(transport.clone())
            .before_send(|event| {
                // Runs on the SDK's worker thread. Were this record reported, its event would pass through here
                // again and log again, without end.
                log::error!(target: "app::hooks", "sending {:?}", event.message);
                Some(event)
            }),
    );

    log::info!(target: "app", "starting");
    std::thread::Builder::new()
        .name("job".into())
        .spawn(|| log::error!(target: "app::job", "job failed"))
        .unwrap()
        .join()
        .unwrap();
    log::error!(target: "app", "shutting down");
    assert!(faultline::flush(Duration::from_secs(10)));
    // Give a runaway loop time to show itself.
    std::thread::sleep(Duration::from_millis(200));
    assert!(faultline::flush(Duration::from_secs(10)));

    let events = transport.take_events();
    let messages: Vec<_> = events.iter().map(|e| e.message.as_deref()).collect();
    assert_eq!(
        messages,
        [Some("job failed"), Some("shutting down")],
        "{events:#?}"
    );
    assert_eq!(events[0].logger.as_deref(), Some("app::job"));
    let crumbs: Vec<_> = events[1]
        .breadcrumbs
        .iter()
        .filter_map(|c| c.message.as_deref())
        .collect();
    assert_eq!(crumbs, ["starting"], "this thread's breadcrumbs");
    let hooks: Vec<_> = INNER
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.starts_with("sending"))
        .cloned()
        .collect();
    assert_eq!(
        hooks,
        [
            "sending Some(\"job failed\")",
            "sending Some(\"shutting down\")"
        ],
        "the wrapped logger still gets the callback's records"
    );
}
