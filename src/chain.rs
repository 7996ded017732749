//! Turning a `std::error::Error` and its `source()` chain into protocol exceptions with real type names.

use std::error::Error;
use std::fmt::{self, Write};

use crate::protocol::exception::{Exception, Mechanism};

/// The longest exception value kept; Relay trims messages at 8192 characters, so longer ones only cost bandwidth.
pub(crate) const MAX_VALUE_LEN: usize = 8192;
/// How many errors of a chain are kept (a cycle in `source()` must not loop forever).
const MAX_CHAIN: usize = 32;

/// An error chain as the caller records it: the compact form that waits in the queue. Each error's short type
/// name, module and message are written one after the other into one string, with where each part ends beside it,
/// so that a chain of any length costs two allocations, each of exactly the size it needs. The worker turns the
/// links into protocol [`Exception`]s ([`exceptions`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Links {
    /// Every link's parts, one after the other.
    text: Box<str>,
    /// Where each link's parts end in `text`, **root cause first**, the captured error last.
    ends: Box<[LinkEnds]>,
}

/// Where one link's parts lie in [`Links::text`]: its type name from `start` to `ty`, its module (none when empty)
/// from `ty` to `module`, its message from `module` to `value`.
///
/// Offsets are `u32`, half the size of `usize`: a chain's text is at most [`MAX_CHAIN`] messages of [`MAX_VALUE_LEN`]
/// bytes with their names, and a chain that somehow passed 4 GiB would stop at the link that did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct LinkEnds {
    start: u32,
    ty: u32,
    module: u32,
    value: u32,
}

/// One error of a chain: its short type name (e.g. `ParseIntError`), its module path when known, and its
/// `Display` output, cut at [`MAX_VALUE_LEN`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Link<'a> {
    pub(crate) ty: &'a str,
    pub(crate) module: Option<&'a str>,
    pub(crate) value: &'a str,
}

impl Links {
    /// The links of `err` and its sources. `type_name` is `std::any::type_name` of the captured error's static
    /// type, which names it exactly unless it is a `dyn Error`.
    ///
    /// The parts are written into a buffer kept per thread, then copied out at their length.
    pub(crate) fn from_error(err: &(dyn Error + 'static), type_name: &str) -> Links {
        thread_local! {
            static BUFFER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        let built = BUFFER.try_with(|buffer| {
            // A `Display` or `Debug` that captures an error itself would find the buffer borrowed: it gets a fresh
            // one.
            let mut buffer = buffer.try_borrow_mut().ok()?;
            let links = Links::build(err, type_name, &mut buffer);
            // A huge message must not keep its buffer alive on this thread.
            if buffer.capacity() > 4 * MAX_VALUE_LEN {
                *buffer = String::new();
            }
            Some(links)
        });
        built
            .ok()
            .flatten()
            .unwrap_or_else(|| Links::build(err, type_name, &mut String::new()))
    }

    fn build(err: &(dyn Error + 'static), type_name: &str, text: &mut String) -> Links {
        text.clear();
        let mut ends = [LinkEnds::default(); MAX_CHAIN];
        let mut len = 0;
        let mut current: Option<&(dyn Error + 'static)> = Some(err);
        while let Some(e) = current {
            if len == MAX_CHAIN {
                break;
            }
            let start = text.len();
            let prefix;
            let name = if len == 0 && !type_name.contains("dyn ") {
                split_type_name(type_name, e)
            } else {
                prefix = Prefix::of(e);
                dyn_type_name(e, prefix.as_str())
            };
            for piece in name.ty {
                text.push_str(piece);
            }
            let ty = text.len();
            text.push_str(name.module.unwrap_or(""));
            let module = text.len();
            push_display(text, e);
            let offsets = [start, ty, module, text.len()].map(u32::try_from);
            let [Ok(start), Ok(ty), Ok(module), Ok(value)] = offsets else {
                text.truncate(start);
                break;
            };
            ends[len] = LinkEnds {
                start,
                ty,
                module,
                value,
            };
            len += 1;
            current = e.source();
        }
        let ends = &mut ends[..len];
        ends.reverse();
        Links {
            text: Box::from(text.as_str()),
            ends: Box::from(&*ends),
        }
    }

    /// The links, root cause first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = Link<'_>> + ExactSizeIterator {
        let part = |from: u32, to: u32| self.text.get(from as usize..to as usize).unwrap_or("");
        self.ends.iter().map(move |ends| Link {
            ty: part(ends.start, ends.ty),
            module: Some(part(ends.ty, ends.module)).filter(|m| !m.is_empty()),
            value: part(ends.module, ends.value),
        })
    }

    /// The captured error: the last link.
    pub(crate) fn last(&self) -> Option<Link<'_>> {
        self.iter().next_back()
    }

    /// A hash of the chain's types and values, equal to the [`signature`] of the exceptions made from it.
    pub(crate) fn signature(&self) -> u64 {
        signature_of(self.iter().map(|link| (link.ty, Some(link.value))))
    }
}

/// The protocol exceptions for a chain's links, in the same order, the last one marked as a handled error
/// (mechanism `generic`).
pub(crate) fn exceptions(links: &Links) -> Vec<Exception> {
    let mut out: Vec<Exception> = links
        .iter()
        .map(|link| Exception {
            ty: link.ty.to_owned(),
            module: link.module.map(str::to_owned),
            value: Some(link.value.to_owned()),
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
/// [`Links::from_error`]).
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
    exceptions(&Links::from_error(err, type_name))
}

/// Appends the error's `Display` output to `text`, cut at [`MAX_VALUE_LEN`] bytes like [`truncate`].
fn push_display(text: &mut String, e: &dyn Error) {
    let start = text.len();
    let _ = write!(text, "{e}");
    if text.len() - start > MAX_VALUE_LEN {
        let mut cut = start + MAX_VALUE_LEN.saturating_sub('…'.len_utf8());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
}

/// A hash of the chain's types and values: equal for the same error captured twice.
pub(crate) fn signature(exceptions: &[Exception]) -> u64 {
    signature_of(
        exceptions
            .iter()
            .map(|e| (e.ty.as_str(), e.value.as_deref())),
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

/// A type name as pieces to write one after the other (so that naming an error allocates nothing), and its module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TypeName<'a> {
    pub(crate) ty: [&'a str; 3],
    pub(crate) module: Option<&'a str>,
}

impl TypeName<'_> {
    fn known(ty: &'static str, module: &'static str) -> TypeName<'static> {
        TypeName {
            ty: [ty, "", ""],
            module: Some(module),
        }
    }

    /// The short type name, joined.
    #[cfg(test)]
    fn joined(&self) -> String {
        self.ty.concat()
    }
}

/// Splits `demo::config::ConfigError` into (`ConfigError`, `demo::config`); generic arguments stay on the name.
/// A bare `Error` keeps its crate, e.g. `serde_json::Error`, because "Error" alone groups unrelated failures.
pub(crate) fn split_type_name<'a>(full: &'a str, err: &(dyn Error + 'static)) -> TypeName<'a> {
    if let Some(known) = std_type_name(err) {
        return known;
    }
    let head_end = full.find('<').unwrap_or(full.len());
    let (head, generics) = full.split_at(head_end);
    match head.rsplit_once("::") {
        Some((module, name)) => {
            let ty = if name == "Error" {
                let krate = module.split("::").next().unwrap_or(module);
                // `krate::Error<generics>`: the crate and the name are adjacent in `full` only when the module is
                // the crate itself, so the pieces are written one after the other.
                [krate, "::Error", generics]
            } else {
                [name, generics, ""]
            };
            TypeName {
                ty,
                module: Some(module),
            }
        }
        None => TypeName {
            ty: [full, "", ""],
            module: None,
        },
    }
}

/// Names for std error types whose `type_name` or `Debug` output is unhelpful.
fn std_type_name(err: &(dyn Error + 'static)) -> Option<TypeName<'static>> {
    if err.is::<std::io::Error>() {
        Some(TypeName::known("io::Error", "std::io"))
    } else if err.is::<fmt::Error>() {
        Some(TypeName::known("fmt::Error", "core::fmt"))
    } else {
        None
    }
}

/// The best name for an error known only as `dyn Error`: a known std type, else the leading identifier of its
/// `Debug` output, `debug` (`ParseIntError { kind: InvalidDigit }` → `ParseIntError`), as the Rust Sentry SDK does.
fn dyn_type_name<'a>(err: &(dyn Error + 'static), debug: &'a str) -> TypeName<'a> {
    if let Some(known) = std_type_name(err) {
        return known;
    }
    let end = debug
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(debug.len());
    let ident = debug[..end].trim_end_matches(':');
    if ident.is_empty() || !ident.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        // A Debug that starts with a quote or a number (e.g. the boxed string errors behind `"...".into()`).
        return TypeName {
            ty: ["Error", "", ""],
            module: None,
        };
    }
    match ident.rsplit_once("::") {
        Some((module, name)) => TypeName {
            ty: [name, "", ""],
            module: Some(module),
        },
        None => TypeName {
            ty: [ident, "", ""],
            module: None,
        },
    }
}

/// The first 128 bytes of the error's `Debug` output. Formatting stops there: only the start matters to the callers,
/// and `Debug` output can be huge (an `anyhow::Error` prints its whole chain and backtrace).
#[cfg_attr(
    not(feature = "anyhow"),
    expect(
        dead_code,
        reason = "only the anyhow integration reads a link's `Debug` output"
    )
)]
pub(crate) fn debug_prefix(err: &(dyn Error + 'static)) -> String {
    Prefix::of(err).as_str().to_owned()
}

/// A `fmt::Write` into a buffer on the stack that keeps the first [`Prefix::LEN`] bytes and then fails, which stops
/// the formatter early.
struct Prefix {
    bytes: [u8; Prefix::LEN],
    len: usize,
}

impl Prefix {
    const LEN: usize = 128;

    /// The start of `err`'s `Debug` output.
    fn of(err: &(dyn Error + 'static)) -> Prefix {
        let mut prefix = Prefix {
            bytes: [0; Prefix::LEN],
            len: 0,
        };
        let _ = write!(prefix, "{err:?}");
        prefix
    }

    fn as_str(&self) -> &str {
        // Only whole `&str`s, or their starts cut on a character boundary, were copied in.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for Prefix {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = Prefix::LEN - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        if take < s.len() {
            Err(fmt::Error)
        } else {
            Ok(())
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
        let name = split_type_name("serde_json::error::Error", &outer());
        assert_eq!(
            (name.joined().as_str(), name.module),
            ("serde_json::Error", Some("serde_json::error"))
        );
        let name = split_type_name("demo::sub::Error<u8>", &outer());
        assert_eq!(
            (name.joined().as_str(), name.module),
            ("demo::Error<u8>", Some("demo::sub"))
        );
        let name = split_type_name("demo::Wrap<alloc::string::String>", &outer());
        assert_eq!(name.joined(), "Wrap<alloc::string::String>");
        assert_eq!(split_type_name("Bare", &outer()).joined(), "Bare");
        let boxed: Box<dyn Error> = "plain message".into();
        let values = exceptions_from_error(boxed.as_ref(), "dyn core::error::Error");
        assert_eq!(values[0].ty, "Error");
        assert_eq!(values[0].value.as_deref(), Some("plain message"));
    }

    /// An error whose message is the given text.
    #[derive(Debug)]
    struct Says(String);
    impl fmt::Display for Says {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl Error for Says {}

    #[test]
    fn messages_are_cut_like_truncate_and_the_links_hold_no_spare_room() {
        for text in [
            String::new(),
            "short".into(),
            "aé€𝄞b".into(),
            "é".repeat(MAX_VALUE_LEN),
            "x".repeat(MAX_VALUE_LEN - 1),
            "x".repeat(MAX_VALUE_LEN),
            "x".repeat(MAX_VALUE_LEN + 1),
            format!("{}𝄞", "x".repeat(MAX_VALUE_LEN - 2)),
        ] {
            let links = Links::from_error(&Says(text.clone()), "demo::Says");
            let link = links.last().unwrap();
            assert_eq!(
                link.value,
                truncate(text.clone(), MAX_VALUE_LEN),
                "{} bytes",
                text.len()
            );
            assert_eq!((link.ty, link.module), ("Says", Some("demo")));
            assert_eq!(links.text.len(), "Saysdemo".len() + link.value.len());
        }
    }

    #[test]
    fn a_chain_is_cut_at_its_limit_keeping_the_captured_error() {
        /// An error that is its own source: a cycle `source()` would follow forever.
        #[derive(Debug)]
        struct Cycle;
        impl fmt::Display for Cycle {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("again")
            }
        }
        impl Error for Cycle {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(self)
            }
        }
        let links = Links::from_error(&Cycle, "demo::Cycle");
        assert_eq!(links.iter().len(), MAX_CHAIN);
        // The captured error is named from its static type, the others from `Debug`.
        assert_eq!(links.last().unwrap().module, Some("demo"));
        assert_eq!(links.iter().next().unwrap().module, None);
        assert!(
            links
                .iter()
                .all(|link| link.ty == "Cycle" && link.value == "again")
        );
    }

    #[test]
    fn a_display_that_captures_an_error_gets_its_own_buffer() {
        /// An error whose `Display` records another chain on the same thread, as a logging `Display` might.
        #[derive(Debug)]
        struct Reentrant;
        impl fmt::Display for Reentrant {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let inner = Links::from_error(&Says("inner".into()), "demo::Says");
                write!(f, "outer around {}", inner.last().unwrap().value)
            }
        }
        impl Error for Reentrant {}
        let links = Links::from_error(&Reentrant, "demo::Reentrant");
        assert_eq!(links.last().unwrap().value, "outer around inner");
        assert_eq!(links.last().unwrap().ty, "Reentrant");
    }

    #[test]
    fn links_and_exceptions_have_the_same_signature() {
        let err = outer();
        let links = Links::from_error(&err, std::any::type_name::<Outer>());
        let signature = links.signature();
        assert_eq!(signature, super::signature(&exceptions(&links)));
        let other = Links::from_error(
            &Outer {
                source: Middle {
                    source: "".parse::<u16>().unwrap_err(),
                },
            },
            std::any::type_name::<Outer>(),
        );
        assert_ne!(other.signature(), signature);
    }

    #[test]
    fn the_debug_prefix_stops_at_128_bytes_on_a_char_boundary() {
        let long = Says(format!("{}é and more", "x".repeat(121)));
        // `Says("` is 6 bytes and 121 x's fill the rest but one byte, where `é` (two bytes) does not fit.
        assert_eq!(debug_prefix(&long), format!("Says(\"{}", "x".repeat(121)));
        let longer = Says("x".repeat(200));
        assert_eq!(debug_prefix(&longer), format!("Says(\"{}", "x".repeat(122)));
        assert_eq!(debug_prefix(&Says("hi".into())), "Says(\"hi\")");
    }

    #[test]
    fn long_values_are_cut_on_a_char_boundary() {
        let s = truncate("é".repeat(5000), MAX_VALUE_LEN);
        assert!(s.len() <= MAX_VALUE_LEN);
        assert!(s.ends_with('…'));
        assert_eq!(truncate("short".into(), 10), "short");
    }
}
