//! The SDK's own diagnostics: stderr only, only with `debug: true`, and never through `log`.
//!
//! Writing through the `log` facade would feed the SDK's messages back into its own log integration, so diagnostics
//! go straight to stderr. They never contain the DSN's keys or event payloads: call sites print ids, counts, statuses
//! and host names only.

use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns diagnostics on or off for the whole process (set by `init` from `ClientOptions::debug`).
pub(crate) fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether diagnostics are on.
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Prints one `[faultline] …` line to stderr when diagnostics are on.
macro_rules! sdk_debug {
    ($($arg:tt)*) => {
        if $crate::diagnostics::enabled() {
            $crate::diagnostics::print(format_args!($($arg)*));
        }
    };
}
pub(crate) use sdk_debug;

/// Writes one line; a closed or full stderr is ignored because diagnostics must never fail the program.
pub(crate) fn print(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "[faultline] {args}");
}
