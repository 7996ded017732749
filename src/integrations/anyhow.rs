//! `anyhow::Error` capture (feature `anyhow`): the whole chain, and the backtrace anyhow captured, if any.
//!
//! anyhow erases the types of the errors it holds, so every link is named as [`crate::capture_error`] names a
//! `dyn Error`: from a known std type or the leading identifier of its `Debug` output. The links anyhow makes itself
//! (a message from `anyhow!`/`bail!`, a `.context(…)` layer) print no type name; they are named `anyhow::Error`.
//!
//! std's `Backtrace` lists no frames on stable Rust, so a captured one is read from its `{:#}` text (see
//! `stacktrace::std_backtrace`). Formatting makes std resolve the symbols on the calling thread, once per error;
//! the worker then marks `in_app` and file names with the crate's usual rules.

use std::backtrace::{Backtrace, BacktraceStatus};

use crate::chain;
use crate::protocol::{EventId, Exception, Stacktrace};
use crate::stacktrace::{parse_std_backtrace, trim_newest};

/// The crates whose frames at the newest end of an anyhow backtrace are the capture itself, not the failure: std's
/// `Backtrace::capture`, anyhow's constructors and the `?` / `From` glue of core.
const CAPTURE_CRATES: &[&str] = &["std", "core", "alloc", "anyhow"];

/// Captures `err`; see [`crate::capture_anyhow`].
pub(crate) fn capture(err: &anyhow::Error) -> EventId {
    super::capture_exceptions(
        || exceptions(err),
        |event| {
            if let (Some(last), Some(stacktrace)) =
                (event.exception.last_mut(), stacktrace(err.backtrace()))
            {
                last.stacktrace = Some(stacktrace);
            }
        },
    )
}

/// The chain as exceptions, root cause first, anyhow's own links named `anyhow::Error`.
fn exceptions(err: &anyhow::Error) -> Vec<Exception> {
    let top: &(dyn std::error::Error + 'static) = err.as_ref();
    let mut exceptions = chain::exceptions_from_error(top, "dyn core::error::Error");
    // `exceptions` is root cause first; `chain()` starts at the top.
    for (exception, link) in exceptions.iter_mut().rev().zip(err.chain()) {
        if exception.ty == "Error" && exception.module.is_none() && is_anyhow_link(link) {
            exception.ty = "anyhow::Error".to_owned();
            exception.module = Some("anyhow".to_owned());
        }
    }
    exceptions
}

/// Whether a link is one anyhow made: a message (`Debug` prints the quoted text) or a context layer (`Debug`
/// prints `Error { context: …, source: … }`).
fn is_anyhow_link(link: &(dyn std::error::Error + 'static)) -> bool {
    let debug = chain::debug_prefix(link);
    debug.starts_with('"') || debug.starts_with("Error { context: ")
}

/// The frames of a captured backtrace, without the capture's own frames at the top; `None` when there is none
/// (backtraces are off: `RUST_LIB_BACKTRACE`/`RUST_BACKTRACE` unset or `0`), and the capturing thread's stack is
/// attached instead, as for any error.
fn stacktrace(backtrace: &Backtrace) -> Option<Stacktrace> {
    if backtrace.status() != BacktraceStatus::Captured {
        return None;
    }
    let mut frames = parse_std_backtrace(&format!("{backtrace:#}"));
    trim_newest(&mut frames, CAPTURE_CRATES);
    (!frames.is_empty()).then_some(Stacktrace { frames })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anyhow_links_are_named_and_typed_links_keep_their_names() {
        let parse = "x".parse::<u16>().unwrap_err();
        let err = anyhow::Error::new(parse)
            .context("reading the port")
            .context("loading config");
        let exceptions = exceptions(&err);
        let names: Vec<_> = exceptions.iter().map(|e| e.ty.as_str()).collect();
        assert_eq!(names, ["ParseIntError", "anyhow::Error", "anyhow::Error"]);
        assert_eq!(
            exceptions[2].value.as_deref(),
            Some("loading config"),
            "the captured error last"
        );
        let message = anyhow::anyhow!("plain {}", "message");
        assert_eq!(exceptions_of(&message), ["anyhow::Error"]);
        let io = anyhow::Error::new(std::io::Error::other("disk"));
        assert_eq!(exceptions_of(&io), ["io::Error"]);
    }

    fn exceptions_of(err: &anyhow::Error) -> Vec<String> {
        exceptions(err).into_iter().map(|e| e.ty).collect()
    }

    #[test]
    fn no_stacktrace_without_a_captured_backtrace() {
        assert!(stacktrace(&Backtrace::disabled()).is_none());
    }

    #[test]
    fn a_forced_backtrace_becomes_frames_from_this_test() {
        #[inline(never)]
        fn make() -> Backtrace {
            Backtrace::force_capture()
        }
        let Some(stacktrace) = stacktrace(&make()) else {
            panic!("a forced capture is captured");
        };
        let frames = &stacktrace.frames;
        let last = frames
            .last()
            .and_then(|f| f.function.as_deref())
            .unwrap_or("");
        assert!(
            last.contains("a_forced_backtrace_becomes_frames_from_this_test"),
            "std's frames are trimmed: {last}"
        );
        assert!(frames.iter().all(|f| f.in_app.is_none()));
    }
}
