//! Scopes that follow futures, on a real multi-threaded tokio runtime: 200 concurrent tasks, each setting its own
//! tag, user and breadcrumb and yielding to the runtime (so it may resume on another thread) before it captures an
//! error. Every event the loopback server receives carries its own task's data and none of another's; nothing a
//! task sets leaks into the code that spawned it.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use faultline::{ClientOptions, FutureExt, Level, User};
use serde_json::Value;
use support::{TestServer, serial};

const TASKS: usize = 200;

#[test]
fn concurrent_tasks_keep_their_own_scopes() {
    let _serial = serial();
    let server = TestServer::ok();
    let guard = faultline::try_init(
        ClientOptions::new()
            .dsn(server.dsn("k", 1))
            .spool_dir(None)
            .queue_size(1000),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(
        async {
            faultline::configure_scope(|scope| scope.set_tag("service", "shop"));
            let tasks: Vec<_> = (0..TASKS)
                .map(|i| {
                    tokio::spawn(
                        async move {
                            faultline::configure_scope(|scope| {
                                scope.set_tag("task", i);
                                scope.set_user(Some(User {
                                    id: Some(format!("user-{i}")),
                                    ..User::default()
                                }));
                            });
                            faultline::add_breadcrumb(faultline::Breadcrumb::new(
                                "task",
                                format!("started {i}"),
                            ));
                            // Yield to the runtime: the rest may run on another worker thread, between other
                            // tasks' polls.
                            tokio::time::sleep(Duration::from_millis(1 + (i % 5) as u64)).await;
                            tokio::task::yield_now().await;
                            faultline::capture_message(&format!("failed {i}"), Level::Error);
                        }
                        .bind_scope(),
                    )
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            // Nothing the tasks set reached the scope they were spawned from.
            let scope = faultline::current_scope();
            faultline::capture_message("parent", Level::Info);
            drop(scope);
        }
        .bind_scope(),
    );
    assert!(faultline::flush(Duration::from_secs(10)));
    drop(guard);

    let events: BTreeMap<String, Value> = server
        .requests()
        .iter()
        .filter_map(|r| r.envelope().event())
        .map(|e| (e["message"].as_str().unwrap().to_owned(), e))
        .collect();
    assert_eq!(events.len(), TASKS + 1);
    for i in 0..TASKS {
        let event = &events[&format!("failed {i}")];
        assert_eq!(event["tags"]["task"], i.to_string(), "{event}");
        assert_eq!(event["tags"]["service"], "shop", "the parent's tag");
        assert_eq!(event["user"]["id"], format!("user-{i}"));
        let crumbs: Vec<&str> = event["breadcrumbs"]["values"]
            .as_array()
            .map(|v| v.iter().filter_map(|b| b["message"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(crumbs, [format!("started {i}")], "only its own breadcrumb");
    }
    let parent = &events["parent"];
    assert!(parent["tags"].get("task").is_none(), "{parent}");
    assert!(parent.get("user").is_none(), "{parent}");
}

#[test]
fn a_bound_future_that_panics_leaves_the_thread_its_own_scope() {
    use std::future::Future;
    use std::task::{Context, Waker};

    let _serial = serial();
    let transport = faultline::test::TestTransport::new();
    let guard = faultline::init(ClientOptions::new().transport(transport.clone()));
    let mut task = std::pin::pin!(
        async {
            faultline::configure_scope(|scope| scope.set_tag("task", "doomed"));
            panic!("the task panicked");
        }
        .bind_scope()
    );
    let mut cx = Context::from_waker(Waker::noop());
    let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = task.as_mut().poll(&mut cx);
    }));
    assert!(polled.is_err());
    faultline::capture_message("after", Level::Info);
    assert!(faultline::flush(Duration::from_secs(5)));
    drop(guard);
    let after = transport
        .take_events()
        .into_iter()
        .find(|e| e.message.as_deref() == Some("after"))
        .expect("the event after the panic");
    assert!(
        !after.tags.contains_key("task"),
        "the panicked task's scope stayed current: {:?}",
        after.tags
    );
}

#[test]
fn a_bound_future_dropped_mid_way_drops_its_state_in_its_own_scope() {
    use std::future::Future;
    use std::task::{Context, Waker};

    /// Captures a message when dropped, as a cancelled request's transaction is sent when its last handle goes.
    struct ReportOnDrop;
    impl Drop for ReportOnDrop {
        fn drop(&mut self) {
            faultline::capture_message("dropped", Level::Info);
        }
    }

    let _serial = serial();
    let transport = faultline::test::TestTransport::new();
    let guard = faultline::init(ClientOptions::new().transport(transport.clone()));
    let mut task = Box::pin(
        async {
            faultline::configure_scope(|scope| scope.set_tag("request", "r-1"));
            let _state = ReportOnDrop;
            std::future::pending::<()>().await;
        }
        .bind_scope(),
    );
    let mut cx = Context::from_waker(Waker::noop());
    assert!(task.as_mut().poll(&mut cx).is_pending());
    faultline::configure_scope(|scope| scope.set_tag("outside", "yes"));
    drop(task);
    assert!(faultline::flush(Duration::from_secs(5)));
    drop(guard);
    let dropped = transport
        .take_events()
        .into_iter()
        .find(|e| e.message.as_deref() == Some("dropped"))
        .expect("the state's event");
    assert_eq!(dropped.tags.get("request").map(String::as_str), Some("r-1"));
    assert!(!dropped.tags.contains_key("outside"), "{:?}", dropped.tags);
}
