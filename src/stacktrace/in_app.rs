//! Deciding whether a frame is the application's own code (`in_app`), which is what the server
//! highlights and groups by, and how its file name is shown: [`InAppRules`] and what it decides.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::names::{display_filename, has_path_prefix, slashes, std_source, subject_path};
use crate::protocol::stacktrace::Frame;

/// What decides `in_app` and how file names are shortened.
#[derive(Clone, Debug)]
pub(crate) struct InAppRules {
    /// Module-path prefixes that are always application code (win over everything).
    include: Vec<String>,
    /// Module-path prefixes that are never application code (win over the heuristics).
    exclude: Vec<String>,
    /// The project's directory: file names under it are shown relative to it.
    project_root: Option<PathBuf>,
    /// `$CARGO_HOME` as found at construction, for a cargo home outside `~/.cargo`.
    cargo_home: Option<PathBuf>,
    /// Tells rule sets apart, so a [`Symbolizer`](super::symbolizer::Symbolizer) can keep frames finished under
    /// one set.
    id: u64,
}

impl InAppRules {
    /// Rules from the `include` and `exclude` module prefixes (`::`-separated, e.g. `demo` or
    /// `demo::config`) and the project directory. Reads `$CARGO_HOME` once, here.
    pub(crate) fn new(
        include: Vec<String>,
        exclude: Vec<String>,
        project_root: Option<PathBuf>,
    ) -> Self {
        let cargo_home = std::env::var_os("CARGO_HOME")
            .filter(|home| !home.is_empty())
            .map(PathBuf::from);
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Self {
            include,
            exclude,
            project_root,
            cargo_home,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// This rule set's identity: two sets with the same id decide every frame alike.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Fills `filename` and `in_app` in frames that have none: frames the symbolizer just resolved, or a stack
    /// trace that came with the event. What is already set is left alone.
    pub(crate) fn complete(&self, frames: &mut [Frame]) {
        for frame in frames {
            if frame.filename.is_none() {
                frame.filename = frame.abs_path.as_deref().map(|path| {
                    display_filename(
                        path,
                        self.project_root.as_deref(),
                        self.cargo_home.as_deref(),
                    )
                });
            }
            if frame.in_app.is_none() {
                frame.in_app = is_in_app(frame, self);
            }
        }
    }
}

impl Default for InAppRules {
    fn default() -> Self {
        Self::new(Vec::new(), Vec::new(), None)
    }
}

/// Crates whose frames never belong to the application: the standard library and its runtime
/// pieces, the test harness, and the backtrace machinery including this SDK.
const LIBRARY_CRATES: &[&str] = &[
    "std",
    "core",
    "alloc",
    "backtrace",
    "faultline",
    "test",
    "proc_macro",
    "panic_unwind",
    "panic_abort",
    "std_detect",
    "compiler_builtins",
    "__rustc", // `__rustc::rust_begin_unwind`, std's panic entry point on recent toolchains
];

/// Path-less symbols of the C runtime, the Rust runtime and the unwinder: the bottom of every
/// thread's stack and the glue around panics. A trailing `*` matches any suffix.
const RUNTIME_SYMBOLS: &[&str] = &[
    "main", // the C entry symbol `std::rt::lang_start` is called from; the user's is `demo::main`
    "_start",
    "__libc_start_*",
    "__rust_*",
    "rust_begin_unwind",
    "_Unwind_*",
    "start_thread",
    "clone",
    "clone3",
    "__clone*",
    "thread_start",
    "mainCRTStartup",
    "__scrt_*",
    "BaseThreadInitThunk",
    "RtlUserThreadStart",
];

/// Whether `frame` is application code: `Some(true)`/`Some(false)`, or `None` when there is no
/// symbol to judge by.
///
/// Precedence: the `include` prefixes, then the `exclude` prefixes (both matched on `::`
/// boundaries against the function name, the path that owns it and its module), then heuristics:
/// sources under a cargo registry, a git checkout, `$CARGO_HOME` or `/rustc/` are libraries;
/// otherwise the owning crate decides (for `<T as Trait>::method`, `T`'s crate).
fn is_in_app(frame: &Frame, rules: &InAppRules) -> Option<bool> {
    let function = frame.function.as_deref();
    let subject = function.and_then(subject_path);
    let names = [function, subject.as_deref(), frame.module.as_deref()];
    let matches = |prefixes: &[String]| {
        prefixes.iter().any(|prefix| {
            names
                .iter()
                .flatten()
                .any(|name| has_path_prefix(name, prefix))
        })
    };
    if matches(&rules.include) {
        return Some(true);
    }
    if matches(&rules.exclude) {
        return Some(false);
    }
    let abs_path = frame.abs_path.as_deref();
    if abs_path.is_some_and(|path| {
        is_dependency_source(path, rules.cargo_home.as_deref()) || is_sdk_source(path)
    }) {
        return Some(false);
    }
    let subject = subject?;
    match subject.split_once("::") {
        Some((krate, _)) => Some(!LIBRARY_CRATES.contains(&krate)),
        None if is_runtime_symbol(&subject) => Some(false),
        // Any other bare symbol is an inlined function named without its path (`debug = "line-tables-only"`), C, or
        // `#[no_mangle]` code. A Rust file that none of the checks above placed in a dependency or std is a
        // workspace member's or a path dependency's: the application's, wherever the program was started. Other
        // files are the application's only inside the project.
        None => {
            let root = rules.project_root.as_deref();
            let in_project = abs_path
                .zip(root)
                .is_some_and(|(p, r)| Path::new(p).starts_with(r));
            let own_rust = abs_path.is_some_and(|p| p.ends_with(".rs"));
            (in_project || own_rust).then_some(true)
        }
    }
}

/// This crate's source directory as it was compiled (`…/faultline-0.1.0/src/` from crates.io, the checkout's `src/`
/// for a path dependency), with `/` separators.
static SDK_SOURCE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| slashes(concat!(env!("CARGO_MANIFEST_DIR"), "/src/")).into_owned());

/// The same directory as Cargo's `trim-paths` writes it, relative to the registry, with the `/` before it: it is a
/// whole directory name inside a path (not the end of `axum-faultline-0.1.0`), or the path's start without the `/`.
const SDK_SOURCE_IN_A_DIRECTORY: &str = concat!("/faultline-", env!("CARGO_PKG_VERSION"), "/src/");

/// Whether a source path is one of this SDK's files: never application code, even inside the project (a path
/// dependency, a vendored copy), and machinery at the top of a trace. It is how frames are told apart where the
/// debug information names inlined functions without their path (`debug = "line-tables-only"`).
pub(crate) fn is_sdk_source(abs_path: &str) -> bool {
    let path = slashes(abs_path);
    path.starts_with(SDK_SOURCE.as_str())
        || path.starts_with(&SDK_SOURCE_IN_A_DIRECTORY[1..])
        || path.contains(SDK_SOURCE_IN_A_DIRECTORY)
}

/// Whether a source path belongs to a downloaded dependency or to the standard library: Cargo's registry and git
/// checkouts (also under `$CARGO_HOME`), std's sources (`/rustc/<commit>/`, the `rust-src` component), or a path
/// that Cargo's `trim-paths` wrote for a downloaded crate (`serde_json-1.0.140/src/de.rs`).
fn is_dependency_source(abs_path: &str, cargo_home: Option<&Path>) -> bool {
    let unified = slashes(abs_path);
    unified.contains("/.cargo/registry/")
        || unified.contains("/.cargo/git/")
        || unified.starts_with("/rustc/")
        || std_source(&unified).is_some()
        || is_trimmed_crate_path(&unified)
        || cargo_home.is_some_and(|home| Path::new(abs_path).starts_with(home))
}

/// Whether a relative path starts with a downloaded crate's directory, `{name}-{major}.{minor}.{patch}…/`, as
/// Cargo's `trim-paths` writes the paths of dependencies. (It writes a workspace member's relative to the workspace,
/// `src/main.rs`.)
fn is_trimmed_crate_path(path: &str) -> bool {
    if path.starts_with('/') || path.starts_with('.') || path.contains(':') {
        return false;
    }
    let Some((directory, _)) = path.split_once('/') else {
        return false;
    };
    // The version follows the first `-` that starts a `major.minor.patch` (a name may hold `-`, a version too).
    directory.match_indices('-').any(|(at, _)| {
        let mut parts = directory[at + 1..].splitn(3, '.');
        at > 0
            && (0..3).all(|_| {
                parts
                    .next()
                    .is_some_and(|part| part.starts_with(|c: char| c.is_ascii_digit()))
            })
    })
}

/// Whether a path-less symbol is one of [`RUNTIME_SYMBOLS`].
fn is_runtime_symbol(symbol: &str) -> bool {
    RUNTIME_SYMBOLS
        .iter()
        .any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => symbol.starts_with(prefix),
            None => symbol == *pattern,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stacktrace::names::module_of;

    fn frame(function: &str, abs_path: Option<&str>) -> Frame {
        Frame {
            function: Some(function.into()),
            module: module_of(function),
            abs_path: abs_path.map(Into::into),
            ..Frame::default()
        }
    }

    fn rules(include: &[&str], exclude: &[&str]) -> InAppRules {
        let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        let mut rules = InAppRules::new(
            strings(include),
            strings(exclude),
            Some(PathBuf::from("/work/app")),
        );
        rules.cargo_home = Some(PathBuf::from("/opt/cargo"));
        rules
    }

    #[test]
    fn include_beats_exclude_beats_heuristics() {
        let f = frame(
            "serde_json::de::from_str",
            Some("/home/u/.cargo/registry/src/i/serde_json-1/src/de.rs"),
        );
        assert_eq!(
            is_in_app(&f, &rules(&[], &[])),
            Some(false),
            "registry source"
        );
        assert_eq!(
            is_in_app(&f, &rules(&["serde_json"], &["serde_json"])),
            Some(true)
        );
        assert_eq!(is_in_app(&f, &rules(&["serde_json::de"], &[])), Some(true));
        assert_eq!(
            is_in_app(&f, &rules(&["serde"], &[])),
            Some(false),
            "no partial segment match"
        );

        let user = frame("demo::config::load", Some("/work/app/src/config.rs"));
        assert_eq!(is_in_app(&user, &rules(&[], &[])), Some(true));
        assert_eq!(
            is_in_app(&user, &rules(&[], &["demo::config"])),
            Some(false)
        );
        assert_eq!(
            is_in_app(&user, &rules(&["demo"], &["demo::config"])),
            Some(true)
        );
        // Prefixes also match the owning type of a trait method.
        let fmt = frame("<demo::Config as core::fmt::Display>::fmt", None);
        assert_eq!(is_in_app(&fmt, &rules(&[], &["demo::Config"])), Some(false));
    }

    #[test]
    fn library_crates_and_runtime_symbols_are_not_in_app() {
        let no_rules = rules(&[], &[]);
        for function in [
            "std::rt::lang_start",
            "core::option::unwrap_failed",
            "alloc::vec::Vec<T,A>::push",
            "backtrace::backtrace::trace",
            "faultline::stacktrace::capture",
            "test::run_test",
            "proc_macro::bridge::client::run",
            "__rustc::rust_begin_unwind",
            "<alloc::boxed::Box<F,A> as core::ops::function::Fn<Args>>::call",
            "<u32 as core::fmt::Display>::fmt",
            "main",
            "_start",
            "__libc_start_main_impl",
            "__rust_try",
            "_Unwind_Backtrace",
        ] {
            assert_eq!(
                is_in_app(&frame(function, None), &no_rules),
                Some(false),
                "{function}"
            );
        }
    }

    #[test]
    fn application_crates_are_in_app() {
        let no_rules = rules(&[], &[]);
        for function in [
            "demo::main",
            "demo::run::{{closure}}",
            "<demo::Config as core::fmt::Display>::fmt",
            "<u32 as demo::Trait>::go",
            "my_lib::x::<u32>",
        ] {
            assert_eq!(
                is_in_app(&frame(function, None), &no_rules),
                Some(true),
                "{function}"
            );
        }
    }

    #[test]
    fn dependency_sources_are_not_in_app() {
        let no_rules = rules(&[], &[]);
        for path in [
            "/home/u/.cargo/registry/src/index/ureq-3.0.0/src/lib.rs",
            "/home/u/.cargo/git/checkouts/ureq-1a2b/abc/src/lib.rs",
            "C:\\Users\\u\\.cargo\\registry\\src\\index\\ureq-3.0.0\\src\\lib.rs",
            "/opt/cargo/registry/src/index/ureq-3.0.0/src/lib.rs", // $CARGO_HOME
            "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/rt.rs",
            "/home/u/.rustup/toolchains/stable/lib/rustlib/src/rust/library/core/src/option.rs",
            "serde_json-1.0.140/src/de.rs", // `trim-paths`
            "ring-0.17.14/crypto/curve25519/curve25519.c",
            "ureq-3.0.0-rc1/src/lib.rs",
        ] {
            // A function from a crate that would otherwise count as the application's.
            assert_eq!(
                is_in_app(&frame("ureq::run", Some(path)), &no_rules),
                Some(false),
                "{path}"
            );
        }
    }

    #[test]
    fn the_sdks_own_sources_are_never_in_app() {
        // Bare names, as a build with line tables only gives inlined functions, from this crate's files: inside the
        // project (a path dependency) and as Cargo's `trim-paths` writes them.
        let sdk = format!("{}/src/client.rs", env!("CARGO_MANIFEST_DIR"));
        let trimmed = format!("faultline-{}/src/lib.rs", env!("CARGO_PKG_VERSION"));
        let inside = InAppRules::new(
            Vec::new(),
            Vec::new(),
            Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
        );
        for path in [sdk.as_str(), trimmed.as_str()] {
            assert!(is_sdk_source(path), "{path}");
            assert_eq!(
                is_in_app(&frame("capture_error<demo::Error>", Some(path)), &inside),
                Some(false),
                "{path}"
            );
        }
        // An include rule still wins.
        let included = rules(&["capture_error"], &[]);
        assert_eq!(
            is_in_app(&frame("capture_error<demo::Error>", Some(&sdk)), &included),
            Some(true)
        );
        // The project's own files next to `src/` are not the SDK's.
        let test_file = format!("{}/tests/transactions.rs", env!("CARGO_MANIFEST_DIR"));
        assert!(!is_sdk_source(&test_file));
        assert_eq!(
            is_in_app(&frame("run", Some(&test_file)), &inside),
            Some(true)
        );
    }

    #[test]
    fn bare_and_missing_symbols() {
        let no_rules = rules(&[], &[]);
        assert_eq!(
            is_in_app(&Frame::default(), &no_rules),
            None,
            "no symbol at all"
        );
        assert_eq!(
            is_in_app(&frame("zlib_inflate", None), &no_rules),
            None,
            "unknown C symbol"
        );
        let ffi = frame("demo_callback", Some("/work/app/src/ffi.rs"));
        assert_eq!(
            is_in_app(&ffi, &no_rules),
            Some(true),
            "#[no_mangle] fn in the project"
        );
        // Inlined functions named without their path, as `debug = "line-tables-only"` gives them: a Rust file
        // outside the downloads and std is the application's even outside the project directory (a service started
        // from `/`), or relative as `trim-paths` writes a workspace member's.
        for path in [
            "/srv/build/shop/src/orders.rs",
            "src/main.rs",
            "crates/billing/src/lib.rs",
            "billing-v2/src/lib.rs",
        ] {
            assert_eq!(
                is_in_app(&frame("place_order", Some(path)), &no_rules),
                Some(true),
                "{path}"
            );
        }
        for (path, expected) in [
            ("/usr/lib/x86_64-linux-gnu/../../src/zlib/inflate.c", None),
            (
                "/home/u/.cargo/registry/src/index/ureq-3.0.0/src/run.rs",
                Some(false),
            ),
            (
                "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/option.rs",
                Some(false),
            ),
        ] {
            assert_eq!(
                is_in_app(&frame("inflate_fast", Some(path)), &no_rules),
                expected,
                "{path}"
            );
        }
    }

    #[test]
    fn supplied_frames_get_file_names_and_in_app_without_losing_what_is_set() {
        let rules = InAppRules::new(Vec::new(), Vec::new(), Some(PathBuf::from("/work/app")));
        let mut frames = vec![
            Frame {
                function: Some("demo::load".into()),
                abs_path: Some("/work/app/src/load.rs".into()),
                ..Frame::default()
            },
            Frame {
                function: Some("std::rt::lang_start".into()),
                ..Frame::default()
            },
            Frame {
                function: Some("demo::kept".into()),
                filename: Some("given.rs".into()),
                abs_path: Some("/work/app/src/kept.rs".into()),
                in_app: Some(false),
                ..Frame::default()
            },
        ];
        rules.complete(&mut frames);
        assert_eq!(frames[0].filename.as_deref(), Some("src/load.rs"));
        assert_eq!(frames[0].in_app, Some(true));
        assert_eq!(frames[1].in_app, Some(false));
        assert_eq!(frames[1].filename, None);
        assert_eq!(frames[2].filename.as_deref(), Some("given.rs"));
        assert_eq!(frames[2].in_app, Some(false));
    }

    #[test]
    fn rule_sets_are_told_apart_and_move_to_the_background_thread() {
        fn assert_send<T: Send + 'static>() {}
        assert_send::<InAppRules>();
        let rules = InAppRules::default();
        assert_eq!(rules.clone().id(), rules.id());
        assert_ne!(InAppRules::default().id(), rules.id());
    }
}
