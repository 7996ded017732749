//! Turning a `std::error::Error` and its `source()` chain into protocol exceptions with real type names.

use std::error::Error;
use std::fmt::{self, Write};

use crate::protocol::exception::{Exception, Mechanism};

/// The longest exception value kept; Relay trims messages at 8192 characters, so longer ones only cost bandwidth.
pub(crate) const MAX_VALUE_LEN: usize = 8192;
/// How many errors of a chain are kept (a cycle in `source()` must not loop forever).
const MAX_CHAIN: usize = 32;

/// One error of a chain, as the caller records it: the compact form that waits in the queue. The worker turns the
/// links into protocol [`Exception`]s ([`exceptions`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Link {
    /// The short type name, e.g. `ParseIntError`.
    pub(crate) ty: String,
    /// The module path, when known.
    pub(crate) module: Option<String>,
    /// The `Display` output, cut at [`MAX_VALUE_LEN`].
    pub(crate) value: String,
}

/// The links of `err` and its sources, **root cause first**, the captured error last. `type_name` is
/// `std::any::type_name` of the captured error's static type, which names it exactly unless it is a `dyn Error`.
pub(crate) fn links_from_error(err: &(dyn Error + 'static), type_name: &str) -> Vec<Link> {
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
        out.push(Link {
            ty,
            module,
            value: display(e),
        });
        first = false;
        current = e.source();
    }
    out.reverse();
    out
}

/// The protocol exceptions for a chain's links, in the same order, the last one marked as a handled error
/// (mechanism `generic`).
pub(crate) fn exceptions(links: Vec<Link>) -> Vec<Exception> {
    let mut out: Vec<Exception> = links
        .into_iter()
        .map(|link| Exception {
            ty: link.ty,
            module: link.module,
            value: Some(link.value),
            ..Exception::default()
        })
        .collect();
    if let Some(last) = out.last_mut() {
        last.mechanism = Some(Mechanism {
            ty: "generic".into(),
            handled: Some(true),
            ..Mechanism::default()
        });
    }
    out
}

/// The exceptions for `err` and its sources, **root cause first**, the captured error last (see
/// [`links_from_error`]).
#[cfg_attr(
    not(any(feature = "log", feature = "tracing", feature = "anyhow")),
    expect(
        dead_code,
        reason = "only the integrations read a `dyn Error` chain here"
    )
)]
pub(crate) fn exceptions_from_error(
    err: &(dyn Error + 'static),
    type_name: &str,
) -> Vec<Exception> {
    exceptions(links_from_error(err, type_name))
}

/// The error's `Display` output, cut at [`MAX_VALUE_LEN`] and allocated at its own length: it is written into a
/// reused per-thread buffer first, so a message costs one allocation and the queued copy holds no spare capacity.
fn display(e: &dyn Error) -> String {
    use fmt::Write;
    thread_local! {
        static BUFFER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    let written = BUFFER.try_with(|buffer| {
        // A `Display` that captures an error itself would find the buffer borrowed: it gets a fresh one.
        let mut buffer = buffer.try_borrow_mut().ok()?;
        buffer.clear();
        let _ = write!(buffer, "{e}");
        let out = truncated_copy(&buffer, MAX_VALUE_LEN);
        // A huge message must not keep its buffer alive on this thread.
        if buffer.capacity() > 4 * MAX_VALUE_LEN {
            *buffer = String::new();
        }
        Some(out)
    });
    written
        .ok()
        .flatten()
        .unwrap_or_else(|| truncate(e.to_string(), MAX_VALUE_LEN))
}

/// A copy of `s` cut like [`truncate`], allocated at the length it ends up with.
fn truncated_copy(s: &str, max: usize) -> String {
    if s.len() <= max {
        return String::from(s);
    }
    let mut cut = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(cut + '…'.len_utf8());
    out.push_str(&s[..cut]);
    out.push('…');
    out
}

/// A hash of the chain's types and values: equal for the same error captured twice.
pub(crate) fn signature(exceptions: &[Exception]) -> u64 {
    signature_of(
        exceptions
            .iter()
            .map(|e| (e.ty.as_str(), e.value.as_deref())),
    )
}

/// [`signature`] for a chain's links; equal to the signature of the exceptions made from them.
pub(crate) fn links_signature(links: &[Link]) -> u64 {
    signature_of(
        links
            .iter()
            .map(|l| (l.ty.as_str(), Some(l.value.as_str()))),
    )
}

fn signature_of<'a>(chain: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for (ty, value) in chain {
        ty.hash(&mut hasher);
        value.hash(&mut hasher);
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
    fn copies_are_cut_like_truncate_and_hold_no_spare_room() {
        for text in ["", "short", "ééééé", "aé€𝄞b", &"x".repeat(40)] {
            for max in [0, 1, 3, 4, 5, 6, 7, 10, 100] {
                let copy = truncated_copy(text, max);
                assert_eq!(copy, truncate(text.to_owned(), max), "{text:?} at {max}");
                assert_eq!(copy.capacity(), copy.len(), "{text:?} at {max}");
            }
        }
    }

    #[test]
    fn links_and_exceptions_have_the_same_signature() {
        let err = outer();
        let links = links_from_error(&err, std::any::type_name::<Outer>());
        let signature = links_signature(&links);
        assert_eq!(signature, super::signature(&exceptions(links.clone())));
        let mut other = links;
        other[0].value.push('!');
        assert_ne!(links_signature(&other), signature);
    }

    #[test]
    fn long_values_are_cut_on_a_char_boundary() {
        let s = truncate("é".repeat(5000), MAX_VALUE_LEN);
        assert!(s.len() <= MAX_VALUE_LEN);
        assert!(s.ends_with('…'));
        assert_eq!(truncate("short".into(), 10), "short");
    }
}
