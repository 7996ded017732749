//! Frames from the text of a `std::backtrace::Backtrace`, which has no stable way to list its frames.
//!
//! The standard library prints a captured backtrace one symbol per entry, most recent call first; inlined calls
//! get entries of their own that share the frame's address. Printed with `{:#}` (the "full" style) an entry reads
//!
//! ```text
//!   12:     0x561b2d368b74 - std[e28293b1aa0f68bd]::rt::lang_start_internal::{closure#0}
//!                                at /rustc/5980…/library/std/src/rt.rs:175:24
//! ```
//!
//! and with `{}` (the "short" style) the same without the address, with hash-free names and with paths under the
//! current directory written `./…`. The grammar accepted, per entry:
//!
//! ```text
//! entry    = ws* index ":" ws+ [ address ws+ "-" ws+ ] name newline [ ws* "at" ws+ location newline ]
//! address  = "0x" hex+
//! name     = "<unknown>" | a symbol name, possibly with `::h<16 hex>` (legacy) or `[<hex>]` (v0) hashes
//! location = path [ ":" line [ ":" column ] ]
//! ```
//!
//! Lines that fit neither form are skipped, so a change in the format costs frames, never a panic.

use crate::protocol::stacktrace::{Addr, Frame};

use super::names;

/// The frames of a backtrace printed by the standard library, **oldest call first** as the protocol wants them,
/// with `function`, `raw_function` (when cleaning changed the name), `module`, `abs_path`, `lineno`, `colno` and
/// `instruction_addr` where the text has them. `filename` and `in_app` are left for the worker's rules.
pub(crate) fn parse_std_backtrace(text: &str) -> Vec<Frame> {
    let mut frames: Vec<Frame> = Vec::new();
    let mut last_has_location = true;
    for line in text.lines() {
        let line = line.trim_start();
        if let Some(location) = line.strip_prefix("at ") {
            if let (Some(frame), false) = (frames.last_mut(), last_has_location) {
                set_location(frame, location.trim_end());
                last_has_location = true;
            }
            continue;
        }
        if let Some(frame) = parse_entry(line) {
            frames.push(frame);
            last_has_location = false;
        }
    }
    frames.reverse();
    frames
}

/// One `index: [address -] name` line.
fn parse_entry(line: &str) -> Option<Frame> {
    let (index, rest) = line.split_once(':')?;
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = rest.trim();
    let (address, name) = match rest
        .strip_prefix("0x")
        .and_then(|hex| hex.split_once(" - "))
    {
        Some((hex, name)) => (u64::from_str_radix(hex.trim(), 16).ok(), name.trim()),
        None => (None, rest),
    };
    let address = address.filter(|&a| a != 0);
    let name = (!name.is_empty() && name != "<unknown>").then_some(name);
    if address.is_none() && name.is_none() {
        // The end-of-stack marker (`0x0 - <unknown>`), or an empty entry.
        return None;
    }
    let function = name.map(clean_name);
    Some(Frame {
        module: function.as_deref().and_then(names::module_of),
        raw_function: name
            .zip(function.as_deref())
            .filter(|(raw, clean)| raw != clean)
            .map(|(raw, _)| raw.to_owned()),
        function,
        instruction_addr: address.map(Addr),
        ..Frame::default()
    })
}

/// `path[:line[:column]]`; the numbers are taken from the right, so a path with colons (`C:\…`) stays whole.
fn set_location(frame: &mut Frame, location: &str) {
    let mut path = location;
    let mut numbers = Vec::with_capacity(2);
    while numbers.len() < 2 {
        match path.rsplit_once(':') {
            Some((head, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                numbers.push(n.parse::<u32>().ok());
                path = head;
            }
            _ => break,
        }
    }
    match numbers.as_slice() {
        [column, line] => {
            frame.lineno = *line;
            frame.colno = *column;
        }
        [line] => frame.lineno = *line,
        _ => {}
    }
    if !path.is_empty() {
        frame.abs_path = Some(path.to_owned());
    }
}

/// The name without the hashes the full style prints: the legacy `::h0123…` suffix and v0's crate disambiguators
/// (`std[e28293b1aa0f68bd]::rt` → `std::rt`), so names match those of the crate's own traces.
fn clean_name(name: &str) -> String {
    let name = names::strip_hash(name);
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if close > 0 && after[..close].bytes().all(|b| b.is_ascii_hexdigit()) => {
                out.push_str(&rest[..open]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Drops the unbroken run of frames at the most recent end (the tail) whose code belongs to one of `crates`, e.g.
/// the standard library's capture and a library's error constructors: by the crate its name starts with or, where
/// the name lacks its path (an inlined function in a build with line tables only: `ext_context<E, C>`), by its
/// source file. A frame without a name ends the run; if every frame would go, all are kept.
pub(crate) fn trim_newest(frames: &mut Vec<Frame>, crates: &[&str]) {
    let is_machinery = |frame: &Frame| {
        let by_name = frame
            .function
            .as_deref()
            .and_then(names::subject_path)
            .is_some_and(|path| {
                let krate = path.split("::").next().unwrap_or(&path);
                crates.contains(&krate)
            });
        by_name
            || frame.abs_path.as_deref().is_some_and(|path| {
                crates
                    .iter()
                    .any(|krate| names::is_crate_source(path, krate))
            })
    };
    if let Some(last_kept) = frames.iter().rposition(|frame| !is_machinery(frame)) {
        frames.truncate(last_kept + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{:#}` output of an `anyhow` error's backtrace (Rust 1.95, Linux), shortened.
    const FULL: &str = "   0:     0x561b2d35d5fb - std[e28293b1aa0f68bd]::backtrace_rs::backtrace::libunwind::trace
                               at /rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/../../backtrace/src/backtrace/libunwind.rs:117:9
   1:     0x561b2d35d80c - <std[e28293b1aa0f68bd]::backtrace::Backtrace>::capture
                               at /rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/backtrace.rs:296:9
   2:     0x561b2d33781d - <E as anyhow::context::ext::StdError>::ext_context::hd21e26dc1ecb5a29
                               at /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/anyhow-1.0.105/src/backtrace.rs:10:14
   3:     0x561b2d33a69b - anyhow::context::<impl anyhow::Context<T,E> for core::result::Result<T,E>>::context::he6592f374378bb5b
                               at /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/anyhow-1.0.105/src/context.rs:54:37
   4:     0x561b2d338242 - btx::inner::h53019ac982ab6cef
                               at /tmp/btx/src/main.rs:4:30
   5:     0x561b2d3382b8 - btx::outer::h0bb167ba34289f61
                               at /tmp/btx/src/main.rs:8:37
   6:     0x561b2d368b74 - std[e28293b1aa0f68bd]::rt::lang_start_internal::{closure#0}
                               at /rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/rt.rs:175:24
   7:     0x561b2d368b74 - std[e28293b1aa0f68bd]::rt::lang_start_internal
                               at /rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/rt.rs:171:5
   8:     0x561b2d3382fe - main
   9:     0x7f7ec1a2d24a - __libc_start_call_main
                               at ./csu/../sysdeps/nptl/libc_start_call_main.h:58:16
  10:     0x561b2d3371c1 - _start
  11:                0x0 - <unknown>
";

    #[test]
    fn full_style_entries_become_frames_oldest_first() {
        let frames = parse_std_backtrace(FULL);
        let names: Vec<_> = frames
            .iter()
            .map(|f| f.function.as_deref().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "_start",
                "__libc_start_call_main",
                "main",
                "std::rt::lang_start_internal",
                "std::rt::lang_start_internal::{closure#0}",
                "btx::outer",
                "btx::inner",
                "anyhow::context::<impl anyhow::Context<T,E> for core::result::Result<T,E>>::context",
                "<E as anyhow::context::ext::StdError>::ext_context",
                "<std::backtrace::Backtrace>::capture",
                "std::backtrace_rs::backtrace::libunwind::trace",
            ]
        );
        let inner = &frames[6];
        assert_eq!(inner.module.as_deref(), Some("btx"));
        assert_eq!(inner.abs_path.as_deref(), Some("/tmp/btx/src/main.rs"));
        assert_eq!((inner.lineno, inner.colno), (Some(4), Some(30)));
        assert_eq!(inner.instruction_addr, Some(Addr(0x561b2d338242)));
        assert_eq!(
            inner.raw_function.as_deref(),
            Some("btx::inner::h53019ac982ab6cef")
        );
        // Inlined entries share their frame's address; each stays a frame, as with the crate's own traces.
        assert_eq!(frames[3].instruction_addr, frames[4].instruction_addr);
        assert_eq!(frames[2].abs_path, None, "no location line");
        assert!(
            frames
                .iter()
                .all(|f| f.in_app.is_none() && f.filename.is_none())
        );
    }

    #[test]
    fn short_style_and_odd_lines() {
        let text = "   0: demo::load
             at ./src/main.rs:4:30
   1: demo::main
             at C:\\work\\demo\\src\\main.rs:10
   2: <unknown>
some note that is not an entry
  x: not an index
   3: demo::start
";
        let frames = parse_std_backtrace(text);
        assert_eq!(frames.len(), 3, "{frames:#?}");
        assert_eq!(frames[0].function.as_deref(), Some("demo::start"));
        let main = &frames[1];
        assert_eq!(
            main.abs_path.as_deref(),
            Some("C:\\work\\demo\\src\\main.rs")
        );
        assert_eq!((main.lineno, main.colno), (Some(10), None));
        let load = &frames[2];
        assert_eq!(load.abs_path.as_deref(), Some("./src/main.rs"));
        assert_eq!(load.instruction_addr, None);
        assert_eq!(load.raw_function, None);
        assert!(parse_std_backtrace("disabled backtrace").is_empty());
        assert!(parse_std_backtrace("").is_empty());
    }

    #[test]
    fn inlined_library_frames_are_told_by_their_source_files() {
        // `{:#}` of an anyhow backtrace from a build with line tables only: anyhow's constructors, inlined into the
        // caller, are named without their path.
        let text = "   0:     0x55d1 - std::backtrace_rs::backtrace::libunwind::trace
                               at /rustc/5980/library/std/src/../../backtrace/src/backtrace/libunwind.rs:117:9
   1:     0x55d2 - <std::backtrace::Backtrace>::capture
                               at /rustc/5980/library/std/src/backtrace.rs:296:9
   2:     0x55d3 - ext_context<core::num::error::ParseIntError, &str>
                               at /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/anyhow-1.0.105/src/backtrace.rs:10:14
   3:     0x55d3 - context<u16, core::num::error::ParseIntError, &str>
                               at /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/anyhow-1.0.105/src/context.rs:54:37
   4:     0x55d3 - unwrap_or_else<u16>
                               at /rustc/5980/library/core/src/result.rs:1622:23
   5:     0x55d3 - load_config
                               at /src/demo/src/main.rs:36:10
";
        let mut frames = parse_std_backtrace(text);
        trim_newest(&mut frames, &["std", "core", "alloc", "anyhow"]);
        assert_eq!(
            frames
                .iter()
                .filter_map(|f| f.function.as_deref())
                .collect::<Vec<_>>(),
            ["load_config"]
        );
        let registry = "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";
        assert!(names::is_crate_source(
            &format!("{registry}/anyhow-1.0.105/src/lib.rs"),
            "anyhow"
        ));
        assert!(names::is_crate_source(
            "C:\\Users\\u\\.cargo\\registry\\src\\index\\anyhow-1.0.105\\src\\lib.rs",
            "anyhow"
        ));
        assert!(
            names::is_crate_source("anyhow-1.0.105/src/lib.rs", "anyhow"),
            "trim-paths"
        );
        assert!(names::is_crate_source(
            &format!("{registry}/color-eyre-0.6.3/src/lib.rs"),
            "color_eyre"
        ));
        assert!(!names::is_crate_source(
            &format!("{registry}/anyhowish-1.0/src/lib.rs"),
            "anyhow"
        ));
        assert!(!names::is_crate_source(
            &format!("{registry}/anyhow-x/src/lib.rs"),
            "anyhow"
        ));
        // The application's own directories that only look like a crate's or std's.
        assert!(!names::is_crate_source(
            "/home/u/anyhow-2024/src/main.rs",
            "anyhow"
        ));
        assert!(!names::is_crate_source(
            "/home/u/library/core/src/x.rs",
            "core"
        ));
        assert!(names::is_crate_source(
            "/rustc/5980/library/core/src/result.rs",
            "core"
        ));
        assert!(!names::is_crate_source(
            "/rustc/5980/library/core/src/result.rs",
            "std"
        ));
        assert!(names::is_crate_source(
            "/home/u/.rustup/toolchains/stable/lib/rustlib/src/rust/library/std/src/backtrace.rs",
            "std"
        ));
    }

    #[test]
    fn names_lose_their_hashes_but_keep_brackets() {
        assert_eq!(
            clean_name("<std[e28293b1aa0f68bd]::backtrace::Backtrace>::create"),
            "<std::backtrace::Backtrace>::create"
        );
        assert_eq!(clean_name("demo::f::h0123456789abcdef"), "demo::f");
        assert_eq!(clean_name("demo::g::<[u8; 4]>"), "demo::g::<[u8; 4]>");
        assert_eq!(clean_name("x[]"), "x[]");
        assert_eq!(clean_name("unterminated[ab"), "unterminated[ab");
    }

    #[test]
    fn trimming_drops_the_newest_library_run_only() {
        let mut frames = parse_std_backtrace(FULL);
        trim_newest(&mut frames, &["std", "core", "alloc", "anyhow"]);
        assert_eq!(
            frames.last().and_then(|f| f.function.as_deref()),
            Some("btx::inner")
        );
        assert!(
            frames
                .iter()
                .any(|f| f.function.as_deref() == Some("std::rt::lang_start_internal")),
            "library frames below the application's stay"
        );
        let mut all_library = parse_std_backtrace("   0: std::a\n   1: core::b\n");
        trim_newest(&mut all_library, &["std", "core"]);
        assert_eq!(all_library.len(), 2);
    }
}
