//! Turning a `std::error::Error` and its `source()` chain into protocol exceptions with real type names.

use std::error::Error;
use std::fmt::{self, Write};

use crate::protocol::{Exception, Mechanism};

/// The longest exception value kept; Relay trims messages at 8192 characters, so longer ones only cost bandwidth.
pub(crate) const MAX_VALUE_LEN: usize = 8192;
/// How many errors of a chain are kept (a cycle in `source()` must not loop forever).
const MAX_CHAIN: usize = 32;

/// The exceptions for `err` and its sources, **root cause first**, the captured error last. `type_name` is
/// `std::any::type_name` of the captured error's static type, which names it exactly unless it is a `dyn Error`.
pub(crate) fn exceptions_from_error(
    err: &(dyn Error + 'static),
    type_name: &str,
) -> Vec<Exception> {
    let mut out = Vec::with_capacity(4);
    let mut current: Option<&(dyn Error + 'static)> = Some(err);
    let mut first = true;
    while let Some(e) = current {
        if out.len() == MAX_CHAIN {
            break;
        }
        let (ty, module) = if first && !type_name.contains("dyn ") {
            split_type_name(type_name, e)
        } else {
            dyn_type_name(e)
        };
        out.push(Exception {
            ty,
            module,
            value: Some(truncate(display(e), MAX_VALUE_LEN)),
            mechanism: None,
            ..Exception::default()
        });
        first = false;
        current = e.source();
    }
    out.reverse();
    if let Some(last) = out.last_mut() {
        last.mechanism = Some(Mechanism {
            ty: "generic".into(),
            handled: Some(true),
            ..Mechanism::default()
        });
    }
    out
}

/// The error's `Display` output, in a buffer sized for a typical message so that it is written with one allocation.
fn display(e: &dyn Error) -> String {
    use fmt::Write;
    let mut out = String::with_capacity(96);
    let _ = write!(out, "{e}");
    out
}

/// A hash of the chain's types and values: equal for the same error captured twice.
pub(crate) fn signature(exceptions: &[Exception]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for e in exceptions {
        e.ty.hash(&mut hasher);
        e.value.hash(&mut hasher);
    }
    hasher.finish()
}

/// Splits `demo::config::ConfigError` into (`ConfigError`, `demo::config`); generic arguments stay on the name.
/// A bare `Error` keeps its crate, e.g. `serde_json::Error`, because "Error" alone groups unrelated failures.
pub(crate) fn split_type_name(full: &str, err: &(dyn Error + 'static)) -> (String, Option<String>) {
    if let Some(known) = std_type_name(err) {
        return known;
    }
    let head_end = full.find('<').unwrap_or(full.len());
    let (head, generics) = full.split_at(head_end);
    match head.rsplit_once("::") {
        Some((module, name)) => {
            let ty = if name == "Error" {
                let krate = module.split("::").next().unwrap_or(module);
                format!("{krate}::{name}{generics}")
            } else {
                format!("{name}{generics}")
            };
            (ty, Some(module.to_owned()))
        }
        None => (full.to_owned(), None),
    }
}

/// Names for std error types whose `type_name` or `Debug` output is unhelpful.
fn std_type_name(err: &(dyn Error + 'static)) -> Option<(String, Option<String>)> {
    let (ty, module) = if err.is::<std::io::Error>() {
        ("io::Error", "std::io")
    } else if err.is::<fmt::Error>() {
        ("fmt::Error", "core::fmt")
    } else {
        return None;
    };
    Some((ty.to_owned(), Some(module.to_owned())))
}

/// The best name for an error known only as `dyn Error`: a known std type, else the leading identifier of its
/// `Debug` output (`ParseIntError { kind: InvalidDigit }` → `ParseIntError`), as the Rust Sentry SDK does.
fn dyn_type_name(err: &(dyn Error + 'static)) -> (String, Option<String>) {
    if let Some(known) = std_type_name(err) {
        return known;
    }
    let prefix = debug_prefix(err);
    let end = prefix
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(prefix.len());
    let ident = prefix[..end].trim_end_matches(':');
    if ident.is_empty() || !ident.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        // A Debug that starts with a quote or a number (e.g. the boxed string errors behind `"...".into()`).
        return ("Error".to_owned(), None);
    }
    match ident.rsplit_once("::") {
        Some((module, name)) => (name.to_owned(), Some(module.to_owned())),
        None => (ident.to_owned(), None),
    }
}

/// The first 128 bytes of the error's `Debug` output. Formatting stops there: only the start matters to the callers,
/// and `Debug` output can be huge (an `anyhow::Error` prints its whole chain and backtrace).
pub(crate) fn debug_prefix(err: &(dyn Error + 'static)) -> String {
    let mut prefix = Prefix(String::with_capacity(128));
    let _ = write!(prefix, "{err:?}");
    prefix.0
}

/// A `fmt::Write` that keeps the first 128 bytes and then fails, which stops the formatter early.
#[derive(Default)]
struct Prefix(String);

impl fmt::Write for Prefix {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = 128 - self.0.len();
        if s.len() <= room {
            self.0.push_str(s);
            Ok(())
        } else {
            let mut cut = room;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            self.0.push_str(&s[..cut]);
            Err(fmt::Error)
        }
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut with `…`.
pub(crate) fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max.saturating_sub('…'.len_utf8());
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer {
        source: Middle,
    }
    #[derive(Debug)]
    struct Middle {
        source: std::num::ParseIntError,
    }
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("could not load config")
        }
    }
    impl fmt::Display for Middle {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("bad port")
        }
    }
    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.source)
        }
    }
    impl Error for Middle {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.source)
        }
    }

    fn outer() -> Outer {
        Outer {
            source: Middle {
                source: "x1".parse::<u16>().unwrap_err(),
            },
        }
    }

    #[test]
    fn chain_is_root_cause_first_with_real_names() {
        let err = outer();
        let values = exceptions_from_error(&err, std::any::type_name::<Outer>());
        let types: Vec<_> = values.iter().map(|e| e.ty.as_str()).collect();
        assert_eq!(types, ["ParseIntError", "Middle", "Outer"]);
        assert_eq!(
            values[0].value.as_deref(),
            Some("invalid digit found in string")
        );
        assert_eq!(values[2].value.as_deref(), Some("could not load config"));
        assert_eq!(values[2].module.as_deref(), Some("faultline::chain::tests"));
        let mechanism = values[2].mechanism.as_ref().unwrap();
        assert_eq!(
            (mechanism.ty.as_str(), mechanism.handled),
            ("generic", Some(true))
        );
        assert!(values[0].mechanism.is_none());
    }

    #[test]
    fn dyn_errors_are_named_from_debug() {
        let err = outer();
        let dyn_err: &(dyn Error + 'static) = &err;
        let values = exceptions_from_error(dyn_err, "dyn core::error::Error");
        assert_eq!(values.last().unwrap().ty, "Outer");
        assert_eq!(values.last().unwrap().module, None);
    }

    #[test]
    fn std_and_generic_names() {
        let io = std::io::Error::other("disk on fire");
        assert_eq!(
            exceptions_from_error(&io, "dyn core::error::Error")[0].ty,
            "io::Error"
        );
        let io_typed = exceptions_from_error(&io, std::any::type_name::<std::io::Error>());
        assert_eq!(io_typed[0].ty, "io::Error");
        let (ty, module) = split_type_name("serde_json::error::Error", &outer());
        assert_eq!(
            (ty.as_str(), module.as_deref()),
            ("serde_json::Error", Some("serde_json::error"))
        );
        let (ty, _) = split_type_name("demo::Wrap<alloc::string::String>", &outer());
        assert_eq!(ty, "Wrap<alloc::string::String>");
        let boxed: Box<dyn Error> = "plain message".into();
        let values = exceptions_from_error(boxed.as_ref(), "dyn core::error::Error");
        assert_eq!(values[0].ty, "Error");
        assert_eq!(values[0].value.as_deref(), Some("plain message"));
    }

    #[test]
    fn long_values_are_cut_on_a_char_boundary() {
        let s = truncate("é".repeat(5000), MAX_VALUE_LEN);
        assert!(s.len() <= MAX_VALUE_LEN);
        assert!(s.ends_with('…'));
        assert_eq!(truncate("short".into(), 10), "short");
    }
}
