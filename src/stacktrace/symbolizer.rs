//! The costly half of a stack trace, run on the background thread: [`Symbolizer::resolve`] turns a [`RawTrace`]
//! into protocol frames (names, files, lines, `in_app`), caches what it resolved per address, and trims the
//! capturing and panicking machinery at the most recent end. The one place that resolves symbols through the
//! `backtrace` crate.

use std::collections::HashMap;
use std::sync::Arc;

use super::capture::RawTrace;
use super::in_app::{InAppRules, is_sdk_source};
use super::names::{is_crate_source, slashes, std_source};
use super::names::{module_of, strip_hash};
use crate::protocol::stacktrace::{Addr, Frame, Stacktrace};

/// How many addresses a [`Symbolizer`] remembers by default.
pub(crate) const DEFAULT_CACHE_CAPACITY: usize = 4096;

/// Prefixes of the demangled function names that make up capturing and panicking rather than the
/// code that failed. [`Symbolizer::resolve`] drops the run of them at the most recent end of a trace; the same
/// names deeper down (a user closure run by `faultline::with_scope`, `std::panic::catch_unwind` around user code)
/// stay.
const MACHINERY: &[&str] = &[
    // This SDK: the panic hook, `capture_*`, and the walk itself (`capture` and `walk` in capture.rs).
    "faultline::",
    // The stack walk: `backtrace::trace` and its inlined helpers are the first frames it yields.
    "backtrace::",
    // The panic runtime, from the hook call down to `panic!`'s entry point.
    "std::panicking::",
    "core::panicking::",
    "std::panic::",
    "core::panic::",
    "std::sys::backtrace::", // `__rust_end_short_backtrace`
    "std::sys_common::backtrace::",
    "std::rt::",
    "rust_begin_unwind",
    "__rustc::rust_begin_unwind",
    "_Unwind_",
];

/// Prefixes of the names of std's adapters that sit inside the machinery (the boxed panic hook's call, `unwrap`'s
/// cold panic path) but also everywhere in ordinary code (`Option::map`, a closure's `call_once`). They are
/// trimmed only above the first library frame that is not std's, so that a panic inside a dependency keeps the
/// dependency's frames that led to it.
const ADAPTERS: &[&str] = &[
    // The boxed panic hook: legacy mangling prints `<alloc::boxed::Box<F,A> as core::ops::
    // function::Fn<Args>>::call`, v0 the full `Box<dyn for<'a, 'b> Fn(&PanicHookInfo) …>`.
    "<alloc::boxed::Box<",
    "core::ops::function::",
    // `unwrap`/`expect` and their cold panic paths, in both manglings.
    "core::result::unwrap_failed",
    "core::option::unwrap_failed",
    "core::option::expect_failed",
    "core::result::Result<T,E>::",
    "core::option::Option<T>::",
    "<core::result::Result<",
    "<core::option::Option<",
];

/// Turns [`RawTrace`]s into protocol stack traces, remembering the frames of each address it
/// resolved: a program reports from the same few places, and resolving reads debug info.
#[derive(Debug)]
pub(crate) struct Symbolizer {
    /// Frames per instruction address, oldest call first (one address expands to several frames
    /// when calls were inlined). They hold no `filename`/`in_app`: those depend on the rules.
    cache: HashMap<u64, Cached>,
    /// The most addresses `cache` holds; 0 disables caching.
    capacity: usize,
}

impl Default for Symbolizer {
    fn default() -> Self {
        Self::new(DEFAULT_CACHE_CAPACITY)
    }
}

impl Symbolizer {
    /// A symbolizer that caches at most `capacity` addresses.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            cache: HashMap::with_capacity(capacity.min(256)),
            capacity,
        }
    }

    /// How many addresses are cached.
    pub(crate) fn cache_len(&self) -> usize {
        self.cache.len()
    }

    /// Symbolizes `raw` into frames ordered oldest call first, with `in_app` and `filename`
    /// decided by `rules` and the capturing/panicking machinery at the top trimmed. Every frame
    /// has its `instruction_addr`, also those no symbol was found for.
    pub(crate) fn resolve(&mut self, raw: &RawTrace, rules: &InAppRules) -> Stacktrace {
        self.resolve_frames(raw, rules, true)
    }

    /// Like [`Symbolizer::resolve`], without trimming the SDK's and panic machinery at the top: a native crash's
    /// stack starts where the fault was, which may be in any code, the SDK's included.
    #[cfg(faultline_native_crash)]
    pub(crate) fn resolve_untrimmed(&mut self, raw: &RawTrace, rules: &InAppRules) -> Stacktrace {
        self.resolve_frames(raw, rules, false)
    }

    fn resolve_frames(&mut self, raw: &RawTrace, rules: &InAppRules, trim: bool) -> Stacktrace {
        if raw.is_empty() {
            return Stacktrace::default();
        }
        // Most recent call first, as captured, so the walk can stop at the program's or the thread's entry point:
        // the frames below it (the C runtime's `main`, `__libc_start_main`, `_start`, libc's `start_thread`) say
        // nothing about the error, and resolving them makes backtrace load libc's debug information, tens of
        // megabytes where a separate debug file is installed.
        let mut frames = Vec::with_capacity(raw.len() + raw.len() / 2);
        for ip in raw.ips() {
            let finished = self.lookup(ip, rules);
            // Each address's frames are cached oldest call first (inlined callees last); reverse them here.
            frames.extend(finished.iter().rev().cloned());
            if finished.iter().any(is_entry_point) {
                break;
            }
        }
        frames.reverse();
        if trim {
            trim_machinery(&mut frames);
        }
        Stacktrace { frames }
    }

    /// The frames of one address with `filename` and `in_app` set under `rules`: from the cache, finished
    /// from cached symbols, or freshly resolved. A warm address costs a lookup, not the rules again.
    fn lookup(&mut self, ip: u64, rules: &InAppRules) -> Arc<[Frame]> {
        if let Some(hit) = self.cache.get_mut(&ip) {
            if let Some((id, finished)) = &hit.finished {
                if *id == rules.id() {
                    return Arc::clone(finished);
                }
            }
            let finished = finish(&hit.raw, rules);
            hit.finished = Some((rules.id(), Arc::clone(&finished)));
            return finished;
        }
        let raw = resolve_address(ip);
        let finished = finish(&raw, rules);
        if self.capacity > 0 {
            // Full: start over rather than track recency. The addresses a program keeps
            // reporting from come back within a trace or two.
            if self.cache_len() >= self.capacity {
                self.cache.clear();
            }
            self.cache.insert(
                ip,
                Cached {
                    raw,
                    finished: Some((rules.id(), Arc::clone(&finished))),
                },
            );
        }
        finished
    }
}

/// One address in the [`Symbolizer`]'s cache: its frames as resolved, and as last finished under a rule set.
#[derive(Debug)]
struct Cached {
    raw: Arc<[Frame]>,
    finished: Option<(u64, Arc<[Frame]>)>,
}

/// Copies of `raw` with `filename` and `in_app` set under `rules` (resolved frames have neither).
fn finish(raw: &[Frame], rules: &InAppRules) -> Arc<[Frame]> {
    let mut frames = raw.to_vec();
    rules.complete(&mut frames);
    frames.into()
}

/// Resolves one return address into its frames, oldest call first.
fn resolve_address(ip: u64) -> Arc<[Frame]> {
    let mut frames = Vec::new();
    if let Ok(addr) = usize::try_from(ip) {
        // The addresses `trace` yields are return addresses: the instruction *after* the call,
        // possibly already on the next line. backtrace 0.3.77 handles that inside `resolve` too,
        // not only in `resolve_frame`: both look up `ip - 1` (`adjust_ip` in src/symbolize/mod.rs),
        // so the address is passed as captured. Subtracting here would probe `ip - 2`.
        // The callback runs once per function at that address: with gimli, the innermost inlined
        // function first, then each caller it was inlined into, then the real function.
        #[cfg(target_os = "linux")]
        let own = super::executable::resolve(ip);
        #[cfg(not(target_os = "linux"))]
        let own: Option<Vec<super::dwarf_units::DwarfFrame>> = None;
        match own {
            Some(found) => frames.extend(found.into_iter().map(|frame| {
                frame_from_parts(frame.name, frame.file, frame.line, frame.column, ip, None)
            })),
            None => backtrace::resolve(std::ptr::without_provenance_mut(addr), |symbol| {
                frames.push(frame_from_symbol(symbol, ip));
            }),
        }
    }
    if frames.is_empty() {
        frames.push(Frame {
            instruction_addr: Some(Addr(ip)),
            ..Frame::default()
        });
    }
    // Most recent first like the trace; the cache and the protocol want the oldest first.
    frames.reverse();
    frames.into()
}

/// One protocol frame from what backtrace found (without `filename` and `in_app`).
fn frame_from_symbol(symbol: &backtrace::Symbol, ip: u64) -> Frame {
    frame_from_parts(
        symbol.name().map(|name| name.as_bytes()),
        symbol
            .filename()
            .map(|path| path.to_string_lossy().into_owned()),
        symbol.lineno(),
        symbol.colno(),
        ip,
        symbol_start(symbol),
    )
}

/// One protocol frame (without `filename` and `in_app`) from a symbol's name as written and its location.
fn frame_from_parts(
    name: Option<&[u8]>,
    abs_path: Option<String>,
    lineno: Option<u32>,
    colno: Option<u32>,
    ip: u64,
    symbol_addr: Option<Addr>,
) -> Frame {
    let (function, raw_function) = match name {
        Some(name) => {
            // The demangled name without the hash (`rustc-demangle`'s alternate form), or the bytes as they are
            // when the name is not a Rust symbol: what `backtrace::SymbolName` prints with `{:#}`.
            let demangled = std::str::from_utf8(name)
                .ok()
                .and_then(|name| rustc_demangle::try_demangle(name).ok())
                .map_or_else(
                    || String::from_utf8_lossy(name).into_owned(),
                    |demangled| format!("{demangled:#}"),
                );
            let function = strip_hash(&demangled).to_owned();
            let raw = String::from_utf8_lossy(name);
            let raw_function = (raw != function).then(|| raw.into_owned());
            (Some(function), raw_function)
        }
        None => (None, None),
    };
    Frame {
        module: function.as_deref().and_then(module_of),
        function,
        raw_function,
        abs_path,
        lineno,
        colno,
        instruction_addr: Some(Addr(ip)),
        symbol_addr,
        ..Frame::default()
    }
}

/// The start address of the enclosing symbol, where backtrace knows it. Only its dbghelp backend
/// (MSVC) reports the symbol's address from `Symbol::addr`; the gimli backend used everywhere
/// else reports the probed address itself (`ip - 1`, minus the load bias), which is no start.
#[cfg(all(windows, target_env = "msvc"))]
fn symbol_start(symbol: &backtrace::Symbol) -> Option<Addr> {
    symbol.addr().map(|addr| Addr(addr.addr() as u64))
}

/// The start address of the enclosing symbol, where backtrace knows it: not with gimli, whose
/// `Symbol::addr` is the probed address (`ip - 1`, minus the load bias) rather than a start.
#[cfg(not(all(windows, target_env = "msvc")))]
fn symbol_start(_symbol: &backtrace::Symbol) -> Option<Addr> {
    None
}

/// Whether a frame is where Rust code begins on its thread: `std::rt::lang_start` (the main thread) or std's
/// thread-start function (spawned threads). Everything older is the C runtime's.
fn is_entry_point(frame: &Frame) -> bool {
    frame.function.as_deref().is_some_and(|name| {
        // v0 mangling writes an inherent method's type in angle brackets: `<std::sys::thread::unix::Thread>::…`.
        let name = name.trim_start_matches('<');
        name.starts_with("std::rt::lang_start")
            || (name.starts_with("std::sys::") && name.contains("thread_start"))
    })
}

/// The standard library's source files whose frames are [`MACHINERY`] and [`ADAPTERS`], for builds whose debug
/// information names inlined functions without their path (`debug = "line-tables-only"`, or `debug = 1`): there an
/// inlined `faultline::capture_error` is `capture_error<E>`, `core::panicking::panic_fmt` is `panic_fmt`, and the
/// name prefixes match neither. They count only in std's own location (see [`std_source`]).
const MACHINERY_SOURCES: &[&str] = &[
    "/library/std/src/panicking.rs",
    "/library/core/src/panicking.rs",
    "/library/std/src/panic.rs",
    "/library/core/src/panic.rs",
    "/library/std/src/sys/backtrace.rs",
    "/library/std/src/sys_common/backtrace.rs",
];

/// Like [`MACHINERY_SOURCES`], for [`ADAPTERS`].
const ADAPTER_SOURCES: &[&str] = &[
    "/library/core/src/ops/function.rs",
    "/library/alloc/src/boxed.rs",
    "/library/core/src/result.rs",
    "/library/core/src/option.rs",
];

/// What part a frame plays at the top of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// Capturing or panicking: the SDK, the stack walk, the panic runtime.
    Machinery,
    /// One of std's adapters, machinery only next to machinery.
    Adapter,
    /// Anything else.
    Other,
}

/// The part a frame plays: by its name or, where the name lacks its path, by its source file (this crate's, or
/// std's [`MACHINERY_SOURCES`] and [`ADAPTER_SOURCES`]).
fn part(frame: &Frame) -> Part {
    let name = frame.function.as_deref().unwrap_or("");
    let named = |prefixes: &[&str]| prefixes.iter().any(|prefix| name.starts_with(prefix));
    if named(MACHINERY) {
        return Part::Machinery;
    }
    if named(ADAPTERS) {
        return Part::Adapter;
    }
    let Some(path) = frame.abs_path.as_deref() else {
        return Part::Other;
    };
    // The SDK's own files, and the `backtrace` crate's, whose `trace` the walk goes through.
    if is_sdk_source(path) || is_crate_source(path, "backtrace") {
        return Part::Machinery;
    }
    let path = slashes(path);
    match std_source(&path) {
        Some(file) if MACHINERY_SOURCES.contains(&file) => Part::Machinery,
        Some(file) if ADAPTER_SOURCES.contains(&file) => Part::Adapter,
        _ => Part::Other,
    }
}

/// Whether a frame is the standard library's: by its name's crate, or by its source file.
fn is_std(frame: &Frame) -> bool {
    let named = frame.function.as_deref().is_some_and(|name| {
        let name = name.trim_start_matches('<');
        ["std::", "core::", "alloc::"]
            .iter()
            .any(|krate| name.starts_with(krate))
    });
    named
        || frame
            .abs_path
            .as_deref()
            .is_some_and(|path| std_source(&slashes(path)).is_some())
}

/// Drops the SDK's and the unwinder's frames at the most recent end (the tail: frames are oldest first).
///
/// From the top, it walks down over machinery frames ([`part`]) and library frames (`in_app` decided `false`), and
/// cuts below the deepest machinery frame among them, so library frames between SDK frames (a thread-local access, a
/// closure call) go too; std's [`ADAPTERS`] count as machinery only above the first library frame that is not std's,
/// so that a panic inside a dependency keeps the dependency's frames down to it.
///
/// A limit: in a build with line tables only whose paths are remapped (`--remap-path-prefix` on a path dependency,
/// a git dependency under `trim-paths`), the SDK's inlined frames are told neither by name nor by file, and the walk
/// stops at them. It stops at the first other frame: application code, a frame whose
/// `in_app` the rules could not decide (with names that lack their path, the application's own frames are often
/// those), or one without a symbol; so a `faultline::` frame further down (a user closure run by
/// `faultline::with_scope`) stays. If every frame would go, all are kept so the event still has a trace.
fn trim_machinery(frames: &mut Vec<Frame>) {
    let mut cut = None;
    // Whether no library frame other than std's came yet: adapters count only while it holds.
    let mut unbroken = true;
    for (index, frame) in frames.iter().enumerate().rev() {
        if frame.function.is_none() || frame.in_app == Some(true) {
            break;
        }
        match part(frame) {
            Part::Machinery => cut = Some(index),
            Part::Adapter if unbroken => cut = Some(index),
            _ if frame.in_app == Some(false) => unbroken &= is_std(frame),
            _ => break,
        }
    }
    if let Some(cut) = cut.filter(|&cut| cut > 0) {
        frames.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::stacktrace::capture::{MAX_FRAMES, capture};

    /// Frames with these names and `in_app` as the default rules decide it.
    fn frames(functions: &[&str]) -> Vec<Frame> {
        let mut frames: Vec<Frame> = functions
            .iter()
            .map(|name| Frame {
                function: Some(name.to_string()),
                ..Frame::default()
            })
            .collect();
        InAppRules::default().complete(&mut frames);
        frames
    }

    fn names(frames: &[Frame]) -> Vec<&str> {
        frames
            .iter()
            .filter_map(|f| f.function.as_deref())
            .collect()
    }

    #[test]
    fn trimming_removes_only_the_top_run() {
        // Oldest first, as `resolve` orders them: a panic inside a closure run by the SDK.
        let mut trace = frames(&[
            "main",
            "std::rt::lang_start",
            "demo::main",
            "faultline::with_scope",
            "demo::main::{{closure}}",
            "core::option::Option<T>::unwrap",
            "core::option::unwrap_failed",
            "core::panicking::panic_fmt",
            "__rustc::rust_begin_unwind",
            "std::sys::backtrace::__rust_end_short_backtrace",
            "std::panicking::panic_handler::{closure#0}",
            "std::panicking::panic_with_hook",
            "<alloc::boxed::Box<F,A> as core::ops::function::Fn<Args>>::call",
            "faultline::integrations::panic::hook",
            "faultline::stacktrace::capture::capture",
            "backtrace::backtrace::trace",
            "backtrace::backtrace::libunwind::trace",
        ]);
        trim_machinery(&mut trace);
        assert_eq!(
            names(&trace),
            [
                "main",
                "std::rt::lang_start",
                "demo::main",
                "faultline::with_scope",
                "demo::main::{{closure}}"
            ]
        );
    }

    #[test]
    fn entry_points_in_both_manglings() {
        let frame = |name: &str| Frame {
            function: Some(name.to_owned()),
            ..Frame::default()
        };
        assert!(is_entry_point(&frame(
            "std::rt::lang_start::<()>::{closure#0}"
        )));
        assert!(is_entry_point(&frame("std::rt::lang_start_internal")));
        assert!(is_entry_point(&frame(
            "<std::sys::thread::unix::Thread>::new::thread_start"
        )));
        assert!(is_entry_point(&frame(
            "std::sys::pal::unix::thread::Thread::new::thread_start"
        )));
        assert!(!is_entry_point(&frame("start_thread")));
        assert!(!is_entry_point(&frame("demo::thread_start")));
    }

    #[test]
    fn trimming_takes_std_adapters_between_sdk_frames() {
        let mut trace = frames(&[
            "demo::main",
            "demo::report",
            "faultline::capture_error",
            "std::thread::local::LocalKey<T>::try_with",
            "faultline::hub::Hub::with_current",
            "core::bool::<impl bool>::then",
            "faultline::stacktrace::capture::capture",
            "backtrace::backtrace::trace",
        ]);
        trim_machinery(&mut trace);
        assert_eq!(names(&trace), ["demo::main", "demo::report"]);
        // A library between the caller and the SDK is the caller's business: it stays.
        let mut trace = frames(&["demo::main", "somelib::report", "faultline::capture_error"]);
        trim_machinery(&mut trace);
        assert_eq!(names(&trace), ["demo::main", "somelib::report"]);
    }

    /// Frames as a build with `debug = "line-tables-only"` resolves them: inlined functions named without their
    /// path, each with its source file, `in_app` as the default rules decide it.
    fn short_frames(frames: &[(&str, &str)]) -> Vec<Frame> {
        let mut frames: Vec<Frame> = frames
            .iter()
            .map(|(name, path)| Frame {
                function: Some(name.to_string()),
                abs_path: Some(path.to_string()),
                ..Frame::default()
            })
            .collect();
        InAppRules::default().complete(&mut frames);
        frames
    }

    #[test]
    fn trimming_finds_inlined_machinery_by_its_source_file() {
        let sdk = |file: &str| format!("{}/src/{file}", env!("CARGO_MANIFEST_DIR"));
        let std = |file: &str| format!("/rustc/59807616e1fa/library/{file}");
        let registry = "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";
        let backtrace = format!("{registry}/backtrace-0.3.77/src/backtrace/libunwind.rs");
        let capture = [
            ("demo::main", "/src/demo/src/main.rs"),
            ("report<demo::Error>", "/src/demo/src/report.rs"),
            ("capture_error<demo::Error>", &sdk("lib.rs")),
            (
                "try_with<faultline::hub::ThreadHub>",
                &std("std/src/thread/local.rs"),
            ),
            (
                "with_current<faultline::protocol::event::EventId>",
                &sdk("hub.rs"),
            ),
            ("capture", &sdk("stacktrace/capture.rs")),
            ("trace", &backtrace),
        ];
        let mut trace = short_frames(&capture);
        trim_machinery(&mut trace);
        assert_eq!(names(&trace), ["demo::main", "report<demo::Error>"]);

        // From crates.io with Cargo's `trim-paths`: the SDK's files are relative to the registry.
        let trimmed = format!("faultline-{}/src/lib.rs", env!("CARGO_PKG_VERSION"));
        let mut trace = short_frames(&[
            ("report<demo::Error>", "/src/demo/src/report.rs"),
            ("capture_error<demo::Error>", &trimmed),
        ]);
        trim_machinery(&mut trace);
        assert_eq!(names(&trace), ["report<demo::Error>"]);

        // A panic: the hook, then std's panicking functions, named without their path, then `unwrap`'s.
        let mut trace = short_frames(&[
            ("parse_port", "/src/demo/src/config.rs"),
            (
                "unwrap<u16, core::num::error::ParseIntError>",
                &std("core/src/result.rs"),
            ),
            ("unwrap_failed", &std("core/src/result.rs")),
            ("panic_fmt", &std("core/src/panicking.rs")),
            ("{closure#0}", &std("std/src/panicking.rs")),
            (
                "__rust_end_short_backtrace<std::panicking::panic_handler::{closure_env#0}, !>",
                &std("std/src/sys/backtrace.rs"),
            ),
            ("panic_with_hook", &std("std/src/panicking.rs")),
            (
                "call<(&std::panic::PanicHookInfo), dyn core::ops::function::Fn<(&std::panic::PanicHookInfo)>, alloc::alloc::Global>",
                &std("alloc/src/boxed.rs"),
            ),
            ("{closure#0}", &sdk("integrations/panic.rs")),
            ("capture", &sdk("stacktrace/capture.rs")),
        ]);
        trim_machinery(&mut trace);
        assert_eq!(names(&trace), ["parse_port"]);

        // The application's frames, whose `in_app` the default rules cannot tell from a bare name, stop the walk:
        // the SDK frame below the user's closure stays.
        let mut trace = short_frames(&[
            ("with_scope<demo::main::{closure_env#0}>", &sdk("lib.rs")),
            ("{closure#0}", "/src/demo/src/main.rs"),
            ("capture_error<demo::Error>", &sdk("lib.rs")),
        ]);
        assert_eq!(trace[1].in_app, None);
        trim_machinery(&mut trace);
        assert_eq!(
            names(&trace),
            ["with_scope<demo::main::{closure_env#0}>", "{closure#0}"]
        );
    }

    #[test]
    fn trimming_keeps_a_dependencys_frames_down_to_its_panic() {
        let std = |file: &str| format!("/rustc/59807616e1fa/library/{file}");
        let dep = |file: &str| {
            format!(
                "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/dep-1.2.3/src/{file}"
            )
        };
        let sdk = |file: &str| format!("{}/src/{file}", env!("CARGO_MANIFEST_DIR"));
        // A panic in `inner`, in a dependency, reached through an inlined `Option::map` in the same dependency.
        let mut trace = short_frames(&[
            ("serve", "/src/demo/src/main.rs"),
            ("outer", &dep("lib.rs")),
            (
                "map<u8, u16, dep::outer::{closure_env#0}>",
                &std("core/src/option.rs"),
            ),
            ("{closure#0}", &dep("lib.rs")),
            ("inner", &dep("parse.rs")),
            (
                "unwrap<u16, core::num::error::ParseIntError>",
                &std("core/src/result.rs"),
            ),
            ("unwrap_failed", &std("core/src/result.rs")),
            ("panic_fmt", &std("core/src/panicking.rs")),
            ("{closure#0}", &sdk("integrations/panic.rs")),
        ]);
        trim_machinery(&mut trace);
        assert_eq!(
            names(&trace),
            [
                "serve",
                "outer",
                "map<u8, u16, dep::outer::{closure_env#0}>",
                "{closure#0}",
                "inner"
            ]
        );

        // The application's own files that only look like std's or the SDK's are not machinery.
        let version = env!("CARGO_PKG_VERSION");
        for path in [
            "/srv/app/library/core/src/result.rs".to_owned(),
            "/srv/app/mylibrary/core/src/option.rs".to_owned(),
            format!("/srv/app/axum-faultline-{version}/src/lib.rs"),
        ] {
            let mut trace = short_frames(&[
                ("serve", "/src/demo/src/main.rs"),
                ("report", &path),
                ("capture_error<demo::Error>", &sdk("lib.rs")),
            ]);
            trim_machinery(&mut trace);
            assert_eq!(names(&trace), ["serve", "report"], "{path}");
        }
    }

    #[test]
    fn trimming_keeps_an_all_machinery_trace_whole() {
        let all = [
            "std::rt::lang_start",
            "faultline::capture_message",
            "backtrace::backtrace::trace",
        ];
        let mut trace = frames(&all);
        trim_machinery(&mut trace);
        assert_eq!(names(&trace), all);
        let mut empty = Vec::new();
        trim_machinery(&mut empty);
        assert!(empty.is_empty());
    }

    #[test]
    fn trimming_stops_at_unknown_and_included_frames() {
        let mut trace = frames(&["demo::main", "std::panicking::x", "backtrace::trace"]);
        trace.insert(
            1,
            Frame {
                instruction_addr: Some(Addr(0x10)),
                ..Frame::default()
            },
        );
        trim_machinery(&mut trace);
        assert_eq!(trace.len(), 2, "stops below the frame without a symbol");

        let mut trace = frames(&["demo::main", "faultline::tests::f", "faultline::capture"]);
        trace[1].in_app = Some(true); // an include rule made it application code
        trim_machinery(&mut trace);
        assert_eq!(names(&trace), ["demo::main", "faultline::tests::f"]);
    }

    #[test]
    fn unresolvable_address_still_has_its_instruction_addr() {
        let mut symbolizer = Symbolizer::new(8);
        let trace = symbolizer.resolve(&RawTrace::from_ips(vec![0x10]), &InAppRules::default());
        assert_eq!(
            trace.frames,
            [Frame {
                instruction_addr: Some(Addr(0x10)),
                ..Frame::default()
            }]
        );
        assert!(
            symbolizer
                .resolve(&RawTrace::default(), &InAppRules::default())
                .frames
                .is_empty()
        );
    }

    #[inline(never)]
    fn outer_fn() -> (RawTrace, u32) {
        std::hint::black_box(middle_fn())
    }

    #[inline(never)]
    fn middle_fn() -> (RawTrace, u32) {
        std::hint::black_box(inlined_fn())
    }

    /// Inlined into `middle_fn` even at opt-level 0 (LLVM's always-inliner), so one address
    /// stands for two frames.
    #[inline(always)]
    fn inlined_fn() -> (RawTrace, u32) {
        std::hint::black_box(inner_fn())
    }

    #[inline(never)]
    fn inner_fn() -> (RawTrace, u32) {
        // `capture()` alone on its line: its frame must report exactly this line.
        let call_line = line!() + 1;
        let raw = capture();
        std::hint::black_box((raw, call_line))
    }

    /// Rules that make this module's test functions application code, so trimming stops at
    /// them although they live in `faultline::` (this crate).
    fn test_rules() -> InAppRules {
        InAppRules::new(
            vec![module_path!().to_owned()],
            Vec::new(),
            Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
        )
    }

    fn position(frames: &[Frame], suffix: &str) -> usize {
        frames
            .iter()
            .position(|f| f.function.as_deref().is_some_and(|n| n.ends_with(suffix)))
            .unwrap_or_else(|| panic!("no frame `{suffix}` in {:#?}", names(frames)))
    }

    #[test]
    fn real_trace_resolves_oldest_first_with_exact_lines() {
        let (raw, call_line) = outer_fn();
        assert!(raw.len() > 3 && raw.len() <= MAX_FRAMES);
        let rules = test_rules();
        let mut symbolizer = Symbolizer::default();
        let trace = symbolizer.resolve(&raw, &rules);
        let frames = &trace.frames;

        let (outer, middle, inner) = (
            position(frames, "tests::outer_fn"),
            position(frames, "tests::middle_fn"),
            position(frames, "tests::inner_fn"),
        );
        assert!(outer < middle && middle < inner, "oldest call first");
        // Inlined calls, files and lines come from debug info: the test profile has it,
        // `--release` has not (there only symbol-table names remain).
        let debug_info = cfg!(debug_assertions);
        if debug_info {
            // The inlined call shares `middle_fn`'s address and comes right after it.
            let inlined = position(frames, "tests::inlined_fn");
            assert_eq!(inlined, middle + 1);
            assert_eq!(
                frames[inlined].instruction_addr,
                frames[middle].instruction_addr
            );
        }
        // `capture` and `backtrace::trace` above the innermost test function were trimmed.
        assert_eq!(inner, frames.len() - 1, "{:#?}", names(frames));

        let f = &frames[inner];
        assert_eq!(
            f.function.as_deref(),
            Some(concat!(module_path!(), "::inner_fn"))
        );
        assert_eq!(f.module.as_deref(), Some(module_path!()));
        assert_eq!(f.in_app, Some(true));
        if debug_info {
            assert_eq!(f.filename.as_deref(), Some(file!()));
            assert!(f.abs_path.as_deref().is_some_and(|p| p.ends_with(file!())));
            // The return address points past the call; resolving `ip - 1` names the call line.
            assert_eq!(f.lineno, Some(call_line));
        }
        assert!(
            f.raw_function
                .as_deref()
                .is_some_and(|raw| raw != concat!(module_path!(), "::inner_fn"))
        );

        assert!(frames.iter().all(|f| f.instruction_addr.is_some()));
        let lang_start = frames
            .iter()
            .find(|f| f.function.as_deref() == Some("std::rt::lang_start"));
        // The test harness runs tests on their own threads: no `lang_start` there, but std frames.
        if let Some(f) = lang_start {
            assert_eq!(f.in_app, Some(false));
        }
        assert!(frames.iter().any(|f| f.in_app == Some(false)));

        // Second time round every address comes from the cache, with equal frames.
        let cached = symbolizer.cache_len();
        assert!(cached > 0 && cached <= raw.len());
        assert_eq!(symbolizer.resolve(&raw, &rules), trace);
        assert_eq!(symbolizer.cache_len(), cached);
    }

    #[test]
    fn cache_stays_within_capacity_without_changing_results() {
        let (raw, _) = outer_fn();
        let rules = test_rules();
        let expected = Symbolizer::new(0).resolve(&raw, &rules);
        let mut small = Symbolizer::new(4);
        for _ in 0..3 {
            assert_eq!(small.resolve(&raw, &rules), expected);
            assert!(small.cache_len() <= 4, "cache holds {}", small.cache_len());
        }
        assert_eq!(Symbolizer::new(0).cache_len(), 0);
    }

    #[test]
    fn symbolizers_move_to_the_background_thread() {
        fn assert_send<T: Send + 'static>() {}
        assert_send::<Symbolizer>();
    }
}
