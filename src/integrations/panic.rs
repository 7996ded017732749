//! The panic hook: reports each panic as a fatal, unhandled event, waits (bounded) for delivery, then always calls
//! the hook that was installed before.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::panic::PanicHookInfo;
use std::sync::Once;

use crate::hub::{self, Hub};
use crate::protocol::{Event, Exception, Level, Mechanism, Thread};
use crate::stacktrace;

thread_local! {
    /// Set while this thread is inside the hook, so a panic raised while reporting is not reported again.
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
}

/// Installs the hook the first time it is called; later calls do nothing (a second `init` reuses it, and the hook
/// always reports to whichever client is current).
pub(crate) fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let next = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let reported = report(info);
            // Always chain: the default hook prints the message, and other tools (test harnesses, loggers) rely on
            // their own hooks running.
            next(info);
            // A panic that cannot unwind (`panic = "abort"`, a panic in a `Drop` while unwinding) aborts right
            // after the hooks: that SIGABRT is this panic, reported already, not a native crash of its own.
            #[cfg(faultline_native_crash)]
            if reported {
                crate::native_crash::handler::note_panic_reported();
            }
            #[cfg(not(faultline_native_crash))]
            let _ = reported;
        }));
    });
}

/// Reports the panic; whether it did (not when the SDK is off, the hook re-entered, or the worker panicked).
fn report(info: &PanicHookInfo<'_>) -> bool {
    // `try_with` because the hook can run while thread-locals are being destroyed.
    let entered = IN_HOOK
        .try_with(|flag| !flag.replace(true))
        .unwrap_or(false);
    if !entered {
        return false;
    }
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            let _ = IN_HOOK.try_with(|flag| flag.set(false));
        }
    }
    let _leave = Leave;

    let Some(client) = hub::client() else {
        return false;
    };
    // The worker's own panics (a failing transport, a panicking callback) are never reported through itself: that
    // could loop, and the worker cannot wait for itself.
    if client.is_worker_thread()
        || std::thread::current().name()
            == Some(crate::delivery::destinations::COLLECTOR_THREAD_NAME)
    {
        return false;
    }
    let trace = stacktrace::capture();
    let event = panic_event(info);
    Hub::with_current(|hub| client.capture_panic(hub.as_ref(), event, Some(trace)));
    true
}

/// The event for a panic: level fatal, one exception of type `panic` with mechanism `panic` (`handled: false`), the
/// payload as its value, the location in the mechanism's data, and the panicking thread.
pub(crate) fn panic_event(info: &PanicHookInfo<'_>) -> Event {
    let payload = info.payload();
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    };
    let mut data = BTreeMap::new();
    if let Some(location) = info.location() {
        data.insert(
            "location".to_owned(),
            format!(
                "{}:{}:{}",
                location.file(),
                location.line(),
                location.column()
            )
            .into(),
        );
    }
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("<unnamed>").to_owned();
    let id = thread_number(thread.id());
    let mut event = Event::new();
    event.level = Level::Fatal;
    event.exception.push(Exception {
        ty: "panic".into(),
        value: Some(crate::chain::truncate(message, crate::chain::MAX_VALUE_LEN)),
        mechanism: Some(Mechanism {
            ty: "panic".into(),
            handled: Some(false),
            data,
            ..Mechanism::default()
        }),
        thread_id: Some(id.clone()),
        ..Exception::default()
    });
    event.threads.push(Thread {
        id: Some(id),
        main: Some(name == "main"),
        name: Some(name),
        current: Some(true),
        crashed: Some(true),
        stacktrace: None,
    });
    event
}

/// The number inside `ThreadId(N)`; `ThreadId::as_u64` is not stable.
fn thread_number(id: std::thread::ThreadId) -> String {
    let mut text = format!("{id:?}");
    text.retain(|c| c.is_ascii_digit());
    text
}
