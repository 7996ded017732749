//! How symbol names and source paths are shown: hash-free function names, module paths, the path that decides a
//! function's crate, `::`-boundary prefix matching, and short display file names. Pure string functions; nothing
//! here touches the process.
//!
//! Names come from `rustc-demangle` (through backtrace's `SymbolName`) in either mangling scheme:
//! legacy (`demo::main::{{closure}}`, `<demo::Foo as core::fmt::Display>::fmt`) or v0
//! (`std::rt::lang_start_internal::{closure#0}`, `std::panic::catch_unwind::<F, R>`); the
//! standard library itself ships v0 symbols, so both appear in every trace.

use std::path::Path;

/// Removes the `::h0123456789abcdef` hash suffix that legacy mangling appends to every symbol.
/// backtrace already prints without it under `{:#}`, but names it could not demangle keep it.
pub(crate) fn strip_hash(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((head, hash))
            if hash.len() == 16 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            head
        }
        _ => name,
    }
}

/// The module a function lives in: its path without the last segment, with generic arguments and
/// closure segments left out (`demo::run::{{closure}}` → `demo`). For `<T as Trait>::method` and
/// `<T>::method` it is `T`'s module (`<demo::Foo as Display>::fmt` → `demo`). `None` for a bare
/// symbol such as `main` or `_start`.
pub(crate) fn module_of(function: &str) -> Option<String> {
    let subject = subject_path(function)?;
    subject
        .rsplit_once("::")
        .map(|(module, _)| module.to_owned())
}

/// The path that owns a function, which decides its crate: the function's own path for plain
/// names; for `<T as Trait>::method` the path of `T`, or of `Trait` when `T` has none (a
/// primitive, which the orphan rule says only the trait's crate can implement for). Generic
/// arguments, reference and `dyn` markers and `{{closure}}`/`{closure#0}` segments are removed.
pub(crate) fn subject_path(function: &str) -> Option<String> {
    let path = match split_qualified(function) {
        Some(inside) => {
            let (ty, tr) = match top_level_positions(inside, " as ").first() {
                Some(&i) => (&inside[..i], Some(&inside[i + " as ".len()..])),
                None => (inside, None),
            };
            let ty = clean_path(ty);
            match tr {
                Some(tr) if !ty.contains("::") => clean_path(tr),
                _ => ty,
            }
        }
        None => clean_path(function),
    };
    (!path.is_empty()).then_some(path)
}

/// Whether `path` is `prefix` or lies under it on a `::` boundary: `demo` matches `demo` and
/// `demo::x` but not `demo2::x`. A trailing `::` on the prefix is allowed; an empty one matches
/// nothing.
pub(crate) fn has_path_prefix(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches("::");
    !prefix.is_empty()
        && path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

/// The short `filename` shown for a source path: relative to `project_root` when under it; for
/// the standard library `/rustc/<commit>/library/std/src/x.rs` → `library/std/src/x.rs`; for a
/// registry crate `…/.cargo/registry/src/<index>/<crate-ver>/src/x.rs` → `<crate-ver>/src/x.rs`;
/// for a git dependency `…/.cargo/git/checkouts/<repo>/<rev>/src/x.rs` → `<repo>/<rev>/src/x.rs`
/// (also under a custom `cargo_home`); otherwise the path as recorded when relative, else its
/// file name.
pub(crate) fn display_filename(
    abs_path: &str,
    project_root: Option<&Path>,
    cargo_home: Option<&Path>,
) -> String {
    let path = Path::new(abs_path);
    if let Some(rel) = project_root.and_then(|root| path.strip_prefix(root).ok()) {
        if !rel.as_os_str().is_empty() {
            return rel.to_string_lossy().into_owned();
        }
    }
    // rustc remaps its own sources to `/rustc/<commit hash>/`; the hash is noise for a reader.
    if let Some((_, rest)) = abs_path
        .strip_prefix("/rustc/")
        .and_then(|r| r.split_once('/'))
    {
        return rest.to_owned();
    }
    // Compare with `/` separators so Windows paths follow the same rules.
    let unified = slashes(abs_path);
    let in_cargo_home = cargo_home
        .and_then(|home| path.strip_prefix(home).ok())
        .map(|rest| rest.to_string_lossy().replace('\\', "/"))
        .or_else(|| {
            unified
                .split_once("/.cargo/")
                .map(|(_, rest)| rest.to_owned())
        });
    if let Some(rest) = in_cargo_home {
        if let Some((_, krate)) = rest
            .strip_prefix("registry/src/")
            .and_then(|r| r.split_once('/'))
        {
            return krate.to_owned();
        }
        if let Some(checkout) = rest.strip_prefix("git/checkouts/") {
            return checkout.to_owned();
        }
    }
    if path.is_relative() {
        return abs_path.to_owned();
    }
    path.file_name().map_or_else(
        || abs_path.to_owned(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// For a qualified name `<…>::rest`, the text between its outer angle brackets.
fn split_qualified(name: &str) -> Option<&str> {
    let body = name.strip_prefix('<')?;
    let bytes = body.as_bytes();
    let mut depth = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' | b'(' | b'[' | b'{' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] == b'-' => {} // the arrow of `fn() -> T`
            b'>' | b')' | b']' | b'}' if depth > 0 => depth -= 1,
            b'>' => return Some(&body[..i]),
            _ => {}
        }
    }
    None
}

/// Byte offsets of `pat` in `s` that lie outside any `<…>`, `(…)`, `[…]` or `{…}`.
fn top_level_positions(s: &str, pat: &str) -> Vec<usize> {
    let (bytes, pat) = (s.as_bytes(), pat.as_bytes());
    let (mut depth, mut i, mut found) = (0usize, 0, Vec::new());
    while i < bytes.len() {
        if depth == 0 && bytes[i..].starts_with(pat) {
            found.push(i);
            i += pat.len();
            continue;
        }
        match bytes[i] {
            b'<' | b'(' | b'[' | b'{' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] == b'-' => {}
            b'>' | b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    found
}

/// A type or function path reduced to its plain `a::b::c` segments: `&mut dyn demo::Tr + Send`
/// → `demo::Tr`, `fn() -> demo::X` → ``, `alloc::boxed::Box<F,A>` → `alloc::boxed::Box`, `demo::f::<u32>` → `demo::f`,
/// `demo::f::{{closure}}` → `demo::f`.
fn clean_path(s: &str) -> String {
    let mut s = s.trim();
    while let Some(rest) = ["&", "mut ", "*const ", "*mut ", "dyn ", "["]
        .iter()
        .find_map(|marker| s.strip_prefix(marker))
    {
        s = rest.trim_start();
    }
    // Function pointers and tuples are types without a path of their own.
    if ["fn(", "unsafe ", "extern ", "("]
        .iter()
        .any(|p| s.starts_with(p))
    {
        return String::new();
    }
    // In `dyn A + B` the first bound names the type.
    if let Some(&plus) = top_level_positions(s, " + ").first() {
        s = &s[..plus];
    }
    let segments: Vec<&str> = top_level_positions(s, "::")
        .into_iter()
        .chain([s.len()])
        .scan(0, |start, end| {
            let segment = &s[*start..end];
            *start = end + 2;
            Some(segment)
        })
        // `Box<F,A>` → `Box`; a turbofish `<u32>` or a `{{closure}}` segment becomes empty.
        .map(|seg| {
            seg.find(['<', '{', ';', ',', ']', ')', ' '])
                .map_or(seg, |i| &seg[..i])
        })
        .filter(|seg| !seg.is_empty())
        .collect();
    segments.join("::")
}

/// `path` with each `\` turned into `/`, borrowed when it has none.
pub(crate) fn slashes(path: &str) -> std::borrow::Cow<'_, str> {
    if path.contains('\\') {
        std::borrow::Cow::Owned(path.replace('\\', "/"))
    } else {
        std::borrow::Cow::Borrowed(path)
    }
}

/// The part of a standard library path from `/library/` on (`/library/core/src/result.rs`), when the path is in
/// std's own location: `/rustc/<commit>/…` as the toolchain's std is built, or the `rust-src` component
/// (`…/lib/rustlib/src/rust/…`).
pub(crate) fn std_source(path: &str) -> Option<&str> {
    let at = path
        .strip_prefix("/rustc/")
        .map(|rest| path.len() - rest.len())
        .or_else(|| path.find("/lib/rustlib/src/rust/"))?;
    let from = at + path[at..].find("/library/")?;
    Some(&path[from..])
}

/// Whether `path` is a source file of the crate `krate`: the standard library's `library/{krate}/src/` where std's
/// sources live (`/rustc/<commit>/…`, or the `rust-src` component's `lib/rustlib/src/rust/`), or a downloaded
/// crate's `{krate}-{version}/src/` directory in Cargo's registry or git checkouts, or at the start of a path written
/// by Cargo's `trim-paths`. A crate named with `_` has a directory with `-`.
pub(crate) fn is_crate_source(path: &str, krate: &str) -> bool {
    let path = slashes(path);
    if matches!(krate, "std" | "core" | "alloc") {
        return std_source(&path)
            .and_then(|file| file.strip_prefix("/library/"))
            .and_then(|rest| rest.strip_prefix(krate))
            .is_some_and(|rest| rest.starts_with("/src/"));
    }
    let downloaded =
        path.contains("/.cargo/registry/src/") || path.contains("/.cargo/git/checkouts/");
    let directory = krate.replace('_', "-");
    let is_crate_directory = |component: &str| {
        component
            .strip_prefix(directory.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()))
    };
    let mut components = path.split('/');
    let trimmed = components.next().is_some_and(is_crate_directory);
    trimmed || (downloaded && components.any(is_crate_directory))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_suffix_is_stripped_only_when_it_is_a_hash() {
        for (raw, want) in [
            ("demo::load_config::h0123456789abcdef", "demo::load_config"),
            ("demo::load_config", "demo::load_config"),
            ("demo::h0123456789abcdeg", "demo::h0123456789abcdeg"), // not hex
            ("demo::h0123456789ABCDEF", "demo::h0123456789ABCDEF"), // rustc writes lowercase
            ("demo::h0123456789abcde", "demo::h0123456789abcde"),   // 15 digits
            ("main", "main"),
        ] {
            assert_eq!(strip_hash(raw), want, "{raw}");
        }
    }

    #[test]
    fn module_and_subject_table() {
        for (function, module, subject) in [
            ("demo::load_config", Some("demo"), Some("demo::load_config")),
            (
                "demo::config::load",
                Some("demo::config"),
                Some("demo::config::load"),
            ),
            ("demo::run::{{closure}}", Some("demo"), Some("demo::run")),
            (
                "demo::run::{{closure}}::{{closure}}",
                Some("demo"),
                Some("demo::run"),
            ),
            (
                "std::rt::lang_start_internal::{closure#0}",
                Some("std::rt"),
                Some("std::rt::lang_start_internal"),
            ),
            (
                "<demo::Foo as core::fmt::Display>::fmt",
                Some("demo"),
                Some("demo::Foo"),
            ),
            (
                "<demo::cfg::Foo as core::fmt::Display>::fmt::{{closure}}",
                Some("demo::cfg"),
                Some("demo::cfg::Foo"),
            ),
            (
                "<alloc::boxed::Box<F,A> as core::ops::function::Fn<Args>>::call",
                Some("alloc::boxed"),
                Some("alloc::boxed::Box"),
            ),
            (
                "<&dyn core::ops::function::Fn<(), Output = i32> + core::marker::Sync as core::ops::function::FnOnce<()>>::call_once",
                Some("core::ops::function"),
                Some("core::ops::function::Fn"),
            ),
            (
                "<&mut demo::Foo as core::iter::Iterator>::next",
                Some("demo"),
                Some("demo::Foo"),
            ),
            (
                "<u32 as demo::Trait>::go",
                Some("demo"),
                Some("demo::Trait"),
            ),
            ("<demo::Foo>::new", Some("demo"), Some("demo::Foo")),
            (
                "<fn() -> demo::X as demo::Tr>::go",
                Some("demo"),
                Some("demo::Tr"),
            ),
            (
                "std::panic::catch_unwind::<std::rt::lang_start_internal::{closure#0}, isize>",
                Some("std::panic"),
                Some("std::panic::catch_unwind"),
            ),
            (
                "core::result::Result<T,E>::expect",
                Some("core::result::Result"),
                Some("core::result::Result::expect"),
            ),
            (
                "core::ops::function::FnOnce::call_once{{vtable.shim}}",
                Some("core::ops::function::FnOnce"),
                Some("core::ops::function::FnOnce::call_once"),
            ),
            ("main", None, Some("main")),
            ("{{closure}}", None, None),
        ] {
            assert_eq!(
                module_of(function).as_deref(),
                module,
                "module of {function}"
            );
            assert_eq!(
                subject_path(function).as_deref(),
                subject,
                "subject of {function}"
            );
        }
    }

    #[test]
    fn path_prefixes_match_on_segment_boundaries() {
        assert!(has_path_prefix("demo::x", "demo"));
        assert!(has_path_prefix("demo", "demo"));
        assert!(has_path_prefix("demo::x::y", "demo::x::"));
        assert!(!has_path_prefix("demo2::x", "demo"));
        assert!(!has_path_prefix("demo::x", ""));
        assert!(!has_path_prefix("<demo::Foo as X>::f", "demo"));
    }

    #[test]
    fn filename_rules() {
        let root = Some(Path::new("/work/main"));
        let home = Some(Path::new("/opt/cargo"));
        for (abs, root, want) in [
            ("/work/main/tests/http.rs", root, "tests/http.rs"),
            ("/work/mainline/src/x.rs", root, "x.rs"), // a sibling, not under the root
            (
                "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/rt.rs",
                root,
                "library/std/src/rt.rs",
            ),
            (
                "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/serde-1.0.1/src/de.rs",
                root,
                "serde-1.0.1/src/de.rs",
            ),
            (
                "/home/u/.cargo/git/checkouts/ureq-3f1c/a1b2c3d/src/lib.rs",
                root,
                "ureq-3f1c/a1b2c3d/src/lib.rs",
            ),
            (
                "/opt/cargo/registry/src/idx/log-0.4.2/src/lib.rs",
                root,
                "log-0.4.2/src/lib.rs",
            ),
            (
                "./csu/../csu/libc-start.c",
                root,
                "./csu/../csu/libc-start.c",
            ),
            ("src/main.rs", None, "src/main.rs"),
            ("/elsewhere/project/src/main.rs", None, "main.rs"),
        ] {
            assert_eq!(display_filename(abs, root, home), want, "{abs}");
        }
    }
}
