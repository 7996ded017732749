//! Scopes and threads: a thread starts from the main thread's scope, not its spawner's, unless the spawner's scope
//! is carried over with `current_scope()`. The tests install the process-wide client, so they take turns.

mod support;

use std::time::Duration;

use faultline::test::TestTransport;
use faultline::{ClientOptions, Level};
use support::serial;

#[test]
fn a_snapshot_carries_the_spawners_scope_into_a_thread() {
    let _serial = serial();
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

#[test]
fn breadcrumbs_follow_the_installed_clients_options() {
    let _serial = serial();
    let crumbs = |transport: &TestTransport| -> Vec<String> {
        assert!(faultline::flush(Duration::from_secs(10)));
        let events = transport.take_events();
        assert_eq!(events.len(), 1);
        events[0]
            .breadcrumbs
            .iter()
            .map(|b| b.message.clone().unwrap_or_default())
            .collect()
    };
    let add = |range: std::ops::Range<u32>| {
        for n in range {
            faultline::add_breadcrumb(faultline::Breadcrumb::new("step", format!("{n}")));
        }
    };

    // No client: breadcrumbs are not kept anywhere.
    add(0..5);
    let first = TestTransport::new();
    let guard = faultline::init(
        ClientOptions::new()
            .transport(first.clone())
            .max_breadcrumbs(10),
    );
    add(5..10);
    faultline::capture_message("first", Level::Info);
    assert_eq!(crumbs(&first), ["5", "6", "7", "8", "9"]);

    // A new client with a callback: its limit and its callback apply from the next breadcrumb on.
    let second = TestTransport::new();
    let guard2 = faultline::init(
        ClientOptions::new()
            .transport(second.clone())
            .max_breadcrumbs(4)
            .before_breadcrumb(|crumb| {
                let odd = crumb
                    .message
                    .as_deref()
                    .and_then(|m| m.parse::<u32>().ok())?
                    % 2
                    == 1;
                odd.then_some(crumb)
            }),
    );
    drop(guard);
    add(10..20);
    faultline::capture_message("second", Level::Info);
    assert_eq!(crumbs(&second), ["13", "15", "17", "19"]);

    // Disabled again: nothing is added, and the next client starts from what the scope held.
    drop(guard2);
    assert!(!faultline::is_enabled());
    add(20..25);
    let third = TestTransport::new();
    let _guard3 = faultline::init(ClientOptions::new().transport(third.clone()));
    faultline::capture_message("third", Level::Info);
    assert_eq!(crumbs(&third), ["13", "15", "17", "19"]);
}
