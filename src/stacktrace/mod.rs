//! Stack traces in two halves: [`capture()`] runs on the thread that reports and only records
//! instruction pointers; [`Symbolizer::resolve`] runs on the background thread and turns them
//! into protocol frames (names, files, lines, `in_app`), caching what it resolved per address.
//!
//! | file | what it holds |
//! |---|---|
//! | `capture.rs` | [`RawTrace`] and [`capture()`]: the stack walk, without backtrace's lock |
//! | `symbolizer.rs` | [`Symbolizer`]: resolution, its cache by address, trimming of the SDK's and panic frames |
//! | `in_app.rs` | [`InAppRules`]: whether a frame is application code, and how its file name is shown |
//! | `executable.rs` | the running executable's own frames (Linux), from its DWARF, read by `dwarf_units.rs` |
//! | `dwarf_units.rs` | [`DwarfUnits`](dwarf_units::DwarfUnits): frames from DWARF, parsing only the units looked up |
//! | `names.rs` | pure string functions on symbol names and source paths (hashes, modules, display file names) |
//! | `std_backtrace.rs` | frames read from the text of a `std::backtrace::Backtrace` (feature `anyhow`) |

mod capture;
#[cfg(target_os = "linux")]
mod dwarf_units;
#[cfg(target_os = "linux")]
mod executable;
mod in_app;
mod names;
#[cfg(feature = "anyhow")]
mod std_backtrace;
mod symbolizer;

pub(crate) use capture::{RawTrace, capture};
pub(crate) use in_app::InAppRules;
#[cfg(feature = "anyhow")]
pub(crate) use std_backtrace::{parse_std_backtrace, trim_newest};
#[allow(
    unused_imports,
    reason = "the default cache size, on the module's path for whoever sizes a `Symbolizer`; today only \
              `Symbolizer::default` reads it"
)]
pub(crate) use symbolizer::DEFAULT_CACHE_CAPACITY;
pub(crate) use symbolizer::Symbolizer;
