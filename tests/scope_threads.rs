//! Scopes and threads: a thread starts from the main thread's scope, not its spawner's, unless the spawner's scope
//! is carried over with `current_scope()`. One test, because it installs the process-wide client.

use std::time::Duration;

use faultline::test::TestTransport;
use faultline::{ClientOptions, Level};

#[test]
fn a_snapshot_carries_the_spawners_scope_into_a_thread() {
    let transport = TestTransport::new();
    let _guard = faultline::init(ClientOptions::new().transport(transport.clone()));
    // The test runs on a thread named after the test, not `main`, so its scope is its own.
    faultline::configure_scope(|scope| scope.set_tag("request_id", "r-17"));
    faultline::add_breadcrumb(faultline::Breadcrumb::new("http", "GET /orders"));

    std::thread::spawn(|| faultline::capture_message("without a snapshot", Level::Error))
        .join()
        .unwrap();
    let scope = faultline::current_scope();
    std::thread::spawn(move || {
        scope.run(|| faultline::capture_message("with a snapshot", Level::Error));
        // Outside `run`, the thread is back to its own scope.
        faultline::capture_message("after the snapshot", Level::Error);
    })
    .join()
    .unwrap();
    assert!(faultline::flush(Duration::from_secs(10)));

    let events = transport.take_events();
    let by_message = |m: &str| {
        events
            .iter()
            .find(|e| e.message.as_deref() == Some(m))
            .unwrap()
    };
    assert!(
        !by_message("without a snapshot")
            .tags
            .contains_key("request_id")
    );
    let with = by_message("with a snapshot");
    assert_eq!(with.tags["request_id"], "r-17");
    assert_eq!(with.breadcrumbs[0].message.as_deref(), Some("GET /orders"));
    assert!(
        !by_message("after the snapshot")
            .tags
            .contains_key("request_id")
    );
}
