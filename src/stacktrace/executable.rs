//! The running executable's own frames, symbolicated from its DWARF by [`DwarfUnits`], which parses only the units
//! that addresses fall in (Linux).
//!
//! The `backtrace` crate, which resolves everything else, builds every unit of a file first: most of a service's
//! memory after its first error is that (see `docs/performance.md`). The executable is where nearly all of a Rust
//! program's frames are, so it is read here:
//!
//! - the file is `/proc/self/exe` (the running image even if the path was replaced since), mapped read-only once
//!   for the life of the process, as `backtrace` maps it;
//! - its load bias comes from `/proc/self/maps` (see [`crate::loaded_images`]);
//! - a name the debug information lacks comes from the symbol table, read when first needed, as `backtrace` does.
//!
//! An address outside the executable, or an executable that is not ELF, has compressed or split debug information,
//! or none, is left to `backtrace` (`resolve` returns `None`), and so is any address whose lookup fails.

use std::sync::{Mutex, OnceLock, PoisonError};

use object::{Object, ObjectSection, ObjectSegment};

use super::dwarf_units::{DwarfFrame, DwarfUnits, Reader, SectionFile};

/// The executable, once opened (or found unusable).
static EXECUTABLE: OnceLock<Option<Executable>> = OnceLock::new();

/// What is kept of the executable.
struct Executable {
    /// The parsed file, borrowing the mapping.
    file: object::File<'static, &'static [u8]>,
    /// Where its image is in memory, as runtime addresses.
    range: std::ops::Range<u64>,
    /// What to subtract from a runtime address for the file's own.
    bias: u64,
    units: Mutex<DwarfUnits>,
    /// Symbols by address, read when a frame first needs one.
    symbols: OnceLock<Vec<Symbol>>,
}

/// A symbol of the executable: its address, size and name (none when the name could not be read).
type Symbol = (u64, u64, Option<&'static [u8]>);

/// A frame of the executable, innermost first: a name (as written, demangling is the caller's), file, line, column.
pub(crate) type ExecutableFrame = DwarfFrame;

/// The frames at return address `ip` when it is in the executable and its debug information serves; `None` leaves
/// the address to `backtrace`.
pub(crate) fn resolve(ip: u64) -> Option<Vec<ExecutableFrame>> {
    let executable = EXECUTABLE.get_or_init(Executable::open).as_ref()?;
    if !executable.range.contains(&ip) {
        return None;
    }
    // A return address is the instruction after the call, possibly on the next line: look up the call itself, as
    // `backtrace::resolve` does.
    let probe = ip.checked_sub(1)?.checked_sub(executable.bias)?;
    let mut frames = executable
        .units
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .find_frames(probe)
        .ok()?;
    if frames.is_empty() {
        // No unit holds it (the C runtime's start, code without debug information): the symbol's name alone.
        frames.push(DwarfFrame {
            name: executable.symbol(probe),
            ..DwarfFrame::default()
        });
    }
    for frame in &mut frames {
        if frame.name.is_none() {
            frame.name = executable.symbol(probe);
        }
    }
    Some(frames)
}

impl Executable {
    /// Opens, maps and indexes the executable; `None` when any step fails, or the debug information is one
    /// `backtrace` reads instead: compressed, split into `.dwo` files, or in a separate debug file (which `backtrace`
    /// prefers when there is one).
    fn open() -> Option<Executable> {
        let range = crate::loaded_images::executable_range()?;
        let file = std::fs::File::open("/proc/self/exe").ok()?;
        // SAFETY: the mapping is private and read-only, and lives for the rest of the process once the checks below
        // pass (leaked then). The one hazard of mapping a file, another process truncating or rewriting it in
        // place while it is read, is the same for the `backtrace` crate's own mapping of this file; a deployment
        // replaces an executable by rename, which leaves the running image's file as it is.
        #[expect(
            unsafe_code,
            reason = "mapping the executable's debug information, as `backtrace` does"
        )]
        let map = unsafe { memmap2::MmapOptions::new().map_copy_read_only(&file) }.ok()?;
        let (bias, info, line) = {
            let object = object::File::parse(&*map).ok()?;
            let debug_info = object.section_by_name(".debug_info")?;
            let info = debug_info.file_range()?;
            let line = object
                .section_by_name(".debug_line")
                .and_then(|section| section.file_range())
                .unwrap_or((0, 0));
            if debug_info.compressed_file_range().ok()?.format != object::CompressionFormat::None
                || object.section_by_name(".gnu_debuglink").is_some()
                || object.build_id().ok().flatten().is_some_and(has_debug_file)
            {
                return None;
            }
            // The address the file's first byte is loaded for, as the program headers state it.
            let stated_base = object
                .segments()
                .filter_map(|segment| {
                    let (offset, _) = segment.file_range();
                    (offset == 0).then(|| segment.address())
                })
                .min()?;
            (range.start.checked_sub(stated_base & !0xfff)?, info, line)
        };
        // Kept for the life of the process from here: the DWARF reader borrows it.
        let data: &'static [u8] = Box::leak(Box::new(map));
        let object = object::File::parse(data).ok()?;
        let endian = if object.is_little_endian() {
            gimli::RunTimeEndian::Little
        } else {
            gimli::RunTimeEndian::Big
        };
        let section = |id: gimli::SectionId| -> Result<Reader, ()> {
            let bytes = match object.section_by_name(id.name()) {
                Some(section) => {
                    let uncompressed = section
                        .compressed_file_range()
                        .is_ok_and(|range| range.format == object::CompressionFormat::None);
                    if !uncompressed {
                        return Err(());
                    }
                    section.data().map_err(|_| ())?
                }
                None => &[],
            };
            Ok(gimli::EndianSlice::new(bytes, endian))
        };
        let dwarf = gimli::Dwarf::load(section).ok()?;
        let units = DwarfUnits::new(dwarf, &SectionFile::new(file, info, line)).ok()?;
        Some(Executable {
            file: object,
            range,
            bias,
            units: Mutex::new(units),
            symbols: OnceLock::new(),
        })
    }

    /// The name of the symbol that holds `probe` (a file address), as `backtrace` finds it: the last symbol at or
    /// before it, if `probe` is within its size.
    fn symbol(&self, probe: u64) -> Option<&'static [u8]> {
        let symbols = self.symbols.get_or_init(|| {
            let mut symbols = match &self.file {
                object::File::Elf32(elf) => symbol_table(elf),
                object::File::Elf64(elf) => symbol_table(elf),
                _ => Vec::new(),
            };
            symbols.sort_unstable_by_key(|&(address, _, _)| address);
            symbols.shrink_to_fit();
            symbols
        });
        let at = symbols.partition_point(|&(address, _, _)| address <= probe);
        let &(address, size, name) = symbols.get(at.checked_sub(1)?)?;
        if probe <= address.saturating_add(size) {
            name
        } else {
            None
        }
    }
}

/// The symbols `backtrace` searches, as it reads them: the static symbol table, or the dynamic one when that is
/// empty; functions and data objects defined in the file; a name that cannot be read is kept as none.
fn symbol_table<Elf: object::read::elf::FileHeader<Endian = object::Endianness>>(
    elf: &object::read::elf::ElfFile<'static, Elf, &'static [u8]>,
) -> Vec<Symbol> {
    use object::read::elf::Sym;
    let endian = elf.endian();
    let mut table = elf.elf_symbol_table();
    if table.is_empty() {
        table = elf.elf_dynamic_symbol_table();
    }
    let strings = table.strings();
    table
        .symbols()
        .iter()
        .filter(|symbol| {
            matches!(
                symbol.st_type(),
                object::elf::STT_FUNC | object::elf::STT_OBJECT
            )
        })
        .filter(|symbol| symbol.st_shndx(endian) != object::elf::SHN_UNDEF)
        .map(|symbol| {
            (
                symbol.st_value(endian).into(),
                symbol.st_size(endian).into(),
                symbol.name(endian, strings).ok(),
            )
        })
        .collect()
}

/// Whether a separate debug file for this build id is installed where `backtrace` looks for one first
/// (`/usr/lib/debug/.build-id/ab/cdef….debug`).
fn has_debug_file(build_id: &[u8]) -> bool {
    let Some((first, rest)) = build_id.split_first() else {
        return false;
    };
    let mut path = format!("/usr/lib/debug/.build-id/{first:02x}/");
    for byte in rest {
        path.push_str(&format!("{byte:02x}"));
    }
    path.push_str(".debug");
    std::path::Path::new(&path).exists()
}

#[cfg(test)]
mod tests {
    use object::ObjectSymbol;

    use super::*;

    /// A frame's name, file, line and column, to compare.
    type Found = (Option<Vec<u8>>, Option<String>, Option<u32>, Option<u32>);

    /// The frames found here, to compare.
    fn found(frames: Vec<ExecutableFrame>) -> Vec<Found> {
        frames
            .into_iter()
            .map(|frame| {
                (
                    frame.name.map(<[u8]>::to_vec),
                    frame.file,
                    frame.line,
                    frame.column,
                )
            })
            .collect()
    }

    /// What `backtrace` finds at `ip`.
    fn backtrace_frames(ip: u64) -> Vec<Found> {
        let mut frames = Vec::new();
        backtrace::resolve(std::ptr::without_provenance_mut(ip as usize), |symbol| {
            frames.push((
                symbol.name().map(|name| name.as_bytes().to_vec()),
                symbol
                    .filename()
                    .map(|path| path.to_string_lossy().into_owned()),
                symbol.lineno(),
                symbol.colno(),
            ));
        });
        frames
    }

    /// The frames found here are the frames `backtrace` (through addr2line) finds, name for name and line for line:
    /// at every address of a real stack, and inside functions sampled across the whole test binary (its own code,
    /// std's and its dependencies', which are built with line tables only).
    #[test]
    fn the_frames_are_the_ones_backtrace_finds() {
        let executable = EXECUTABLE
            .get_or_init(Executable::open)
            .as_ref()
            .expect("the test binary is read here");
        let mut ips = Vec::new();
        backtrace::trace(|frame| {
            ips.push(frame.ip() as u64);
            true
        });
        let mut functions: Vec<(u64, u64)> = executable
            .file
            .symbols()
            .filter(|symbol| symbol.kind() == object::SymbolKind::Text && symbol.size() > 8)
            .map(|symbol| (symbol.address(), symbol.size()))
            .collect();
        functions.sort_unstable();
        let step = (functions.len() / 3000).max(1);
        for &(address, size) in functions.iter().step_by(step) {
            for offset in [4, size / 2, size - 1] {
                // A return address: the lookup is of the byte before it.
                ips.push(executable.bias + address + offset + 1);
            }
        }
        let mut compared = 0;
        let mut differing = Vec::new();
        for &ip in &ips {
            let Some(ours) = resolve(ip) else {
                if executable.range.contains(&ip) {
                    differing.push(format!("{ip:#x}: not resolved here"));
                }
                continue;
            };
            let ours = found(ours);
            let theirs = backtrace_frames(ip);
            compared += 1;
            if ours != theirs {
                differing.push(format!(
                    "{ip:#x}:\n  here:      {ours:?}\n  backtrace: {theirs:?}"
                ));
            }
        }
        assert_none_differ(compared, 1000, &differing);
    }

    /// Over an optimised build with line tables only (`tests/fixtures/optimized-app`, built here as its own test
    /// builds it), where most frames are inlined calls named without their path, the index and the lookup find, for
    /// three points of every function (about 15,000 addresses), the frames that addr2line finds in the same file.
    #[test]
    fn an_optimised_build_gives_the_frames_addr2line_gives() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let target = root.join("target/fixtures");
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--locked", "--manifest-path"])
            .arg(root.join("tests/fixtures/optimized-app/Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "building the optimized-app fixture failed"
        );
        let path = target.join("debug/optimized-app");
        let data: &'static [u8] = std::fs::read(&path).unwrap().leak();
        let object = object::File::parse(data).unwrap();
        let section = |id: gimli::SectionId| -> Result<Reader, ()> {
            let bytes = object
                .section_by_name(id.name())
                .map_or(&[][..], |section| section.data().unwrap());
            Ok(gimli::EndianSlice::new(bytes, gimli::RunTimeEndian::Little))
        };
        let file_range = |name: &str| {
            object
                .section_by_name(name)
                .and_then(|section| section.file_range())
                .unwrap()
        };
        let sections = SectionFile::new(
            std::fs::File::open(&path).unwrap(),
            file_range(".debug_info"),
            file_range(".debug_line"),
        );
        let mut units = DwarfUnits::new(gimli::Dwarf::load(section).unwrap(), &sections).unwrap();
        let context = addr2line::Context::from_dwarf(gimli::Dwarf::load(section).unwrap()).unwrap();

        let mut compared = 0;
        let mut with_lines = 0;
        let mut differing = Vec::new();
        for symbol in object.symbols() {
            if symbol.kind() != object::SymbolKind::Text || symbol.size() < 8 {
                continue;
            }
            for probe in [
                symbol.address(),
                symbol.address() + symbol.size() / 2,
                symbol.address() + symbol.size() - 1,
            ] {
                let ours = found(units.find_frames(probe).unwrap());
                let mut theirs: Vec<Found> = Vec::new();
                let mut frames = context.find_frames(probe).skip_all_loads().unwrap();
                while let Some(frame) = frames.next().unwrap() {
                    let location = frame.location;
                    theirs.push((
                        frame
                            .function
                            .map(|function| function.name.slice().to_vec()),
                        location.as_ref().and_then(|l| l.file).map(str::to_owned),
                        location.as_ref().and_then(|l| l.line),
                        location.as_ref().and_then(|l| l.column),
                    ));
                }
                compared += 1;
                with_lines += usize::from(ours.iter().any(|frame| frame.2.is_some()));
                if ours != theirs {
                    differing.push(format!(
                        "{probe:#x}:\n  here:      {ours:?}\n  addr2line: {theirs:?}"
                    ));
                }
            }
        }
        assert!(
            with_lines * 10 > compared * 9,
            "only {with_lines} of {compared} addresses have a line"
        );
        assert_none_differ(compared, 3000, &differing);
    }

    /// More than `at_least` addresses were compared, and none differed.
    fn assert_none_differ(compared: usize, at_least: usize, differing: &[String]) {
        assert!(compared > at_least, "only {compared} addresses compared");
        assert!(
            differing.is_empty(),
            "{} of {compared} addresses differ; the first:\n{}",
            differing.len(),
            differing[..differing.len().min(5)].join("\n")
        );
    }

    /// An address outside the executable is left to `backtrace`.
    #[test]
    fn addresses_outside_the_executable_are_left_alone() {
        assert!(resolve(0).is_none());
        assert!(resolve(u64::MAX).is_none());
        let libc_function = libc_address();
        assert!(resolve(libc_function).is_none(), "{libc_function:#x}");
    }

    /// An address inside the C library: `std::thread::yield_now` calls `sched_yield` there.
    fn libc_address() -> u64 {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let line = maps
            .lines()
            .find(|line| line.contains("libc.so") && line.contains(" r-xp "))
            .expect("libc is mapped");
        let start = u64::from_str_radix(line.split('-').next().unwrap(), 16).unwrap();
        start + 0x100
    }
}
