//! Frames for an address from DWARF, parsing only the compilation units that addresses fall in.
//!
//! `addr2line`, which the `backtrace` crate symbolicates with, builds every compilation unit of a file before its
//! first lookup: each unit's abbreviation table and line-program header, and the line tables of units that declare
//! no ranges. For a service that links rustls and ring, that is most of a 44 MB process (see `docs/performance.md`),
//! though a stack trace touches a few dozen units out of some 1,500. Here the units are indexed by address with
//! addr2line's rules in one pass that reads them through [`SectionFile`] and keeps only the ranges, and a unit is
//! parsed when an address falls in it, then kept in a bounded cache.
//!
//! The lookup gives what `addr2line::Context::find_frames` gives, in the same order (innermost inlined function
//! first), with the same rules for names and file paths; `tests` in [`super::executable`] hold the two to the same
//! frames.

use std::cmp::Ordering;
use std::collections::HashMap;

use gimli::{AttributeValue, EndianSlice, RunTimeEndian, UnitOffset};

/// The DWARF reader: sections borrowed from the mapped file for the life of the process.
pub(crate) type Reader = EndianSlice<'static, RunTimeEndian>;

/// The most units kept parsed; past it the cache starts over (a trace's addresses come back within a trace or two).
const MAX_UNITS: usize = 64;

/// How many references (`DW_AT_abstract_origin`, `DW_AT_specification`) a name may be followed through, as in
/// addr2line.
const NAME_DEPTH: usize = 16;

/// How deeply inlined functions may nest before the rest is ignored.
const MAX_INLINE_DEPTH: usize = 256;

/// One function of a frame, innermost first, as found in the debug information.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DwarfFrame {
    /// The function's name as written (mangled, or bare in a build with line tables only); `None` when the debug
    /// information has none and the caller must ask the symbol table.
    pub(crate) name: Option<&'static [u8]>,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<u32>,
    pub(crate) column: Option<u32>,
}

/// A file's DWARF, with its units indexed by address and parsed on demand.
pub(crate) struct DwarfUnits {
    dwarf: gimli::Dwarf<Reader>,
    /// Address ranges and the unit each belongs to, by end address.
    ranges: Vec<UnitRange>,
    /// The offset of every unit, in order, to find the unit a cross-unit reference points into.
    unit_starts: Vec<usize>,
    /// Units parsed so far, by offset.
    parsed: HashMap<usize, ParsedUnit>,
}

impl std::fmt::Debug for DwarfUnits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DwarfUnits")
            .field("ranges", &self.ranges.len())
            .field("units", &self.unit_starts.len())
            .field("parsed", &self.parsed.len())
            .finish()
    }
}

/// An address range of a unit.
#[derive(Clone, Copy)]
struct UnitRange {
    begin: u64,
    end: u64,
    /// The lowest `begin` of this range and every range after it (by end): where a lookup may stop.
    min_begin: u64,
    /// The unit's offset in `.debug_info`.
    unit: usize,
}

/// A parsed unit, with its functions and line table read when first needed.
struct ParsedUnit {
    unit: gimli::Unit<Reader>,
    functions: Option<Vec<FunctionRange>>,
    lines: Option<Lines>,
}

/// One address range of a `DW_TAG_subprogram`.
#[derive(Clone, Copy)]
struct FunctionRange {
    begin: u64,
    end: u64,
    die: UnitOffset<usize>,
}

/// A unit's line table: its sequences by start address, and its files as paths.
struct Lines {
    sequences: Vec<Sequence>,
    files: Vec<Option<String>>,
}

struct Sequence {
    start: u64,
    end: u64,
    rows: Vec<Row>,
}

#[derive(Clone, Copy)]
struct Row {
    address: u64,
    file: u64,
    line: u32,
    column: u32,
}

/// An entry's name as written, and the reference (`DW_AT_abstract_origin`, `DW_AT_specification`) to follow for
/// one when it has none.
type Named = (Option<&'static [u8]>, Option<AttributeValue<Reader>>);

/// An inlined call that holds the probed address: its name and where it was called from.
struct Inlined {
    name: Option<&'static [u8]>,
    call_file: Option<u64>,
    call_line: u32,
    call_column: u32,
}

impl DwarfUnits {
    /// Indexes the units of `dwarf` by address, with addr2line's rules: a unit's `DW_AT_ranges`, else its entries in
    /// `.debug_aranges`, else its low and high address, else the sequences of its line table. Only each unit's first
    /// entry is read, with the unit's abbreviations, which are dropped after. Fails on malformed unit headers, and on
    /// split DWARF (skeleton units, whose functions are in `.dwo` files), which is `backtrace`'s to read.
    pub(crate) fn new(dwarf: gimli::Dwarf<Reader>, file: &SectionFile) -> gimli::Result<Self> {
        // Each unit's sets in `.debug_aranges`, by unit.
        let mut aranges = Vec::new();
        let mut headers = dwarf.debug_aranges.headers();
        while let Ok(Some(header)) = headers.next() {
            aranges.push((header.debug_info_offset().0, header.offset()));
        }
        aranges.sort_unstable_by_key(|&(unit, _)| unit);
        let mut ranges = Vec::new();
        let mut unit_starts = Vec::new();
        // The units are read through `file`, not the mapping: the scan touches every unit, and each page of the
        // mapping it touched would stay in the process's resident memory.
        let endian = gimli::Reader::endian(gimli::Section::reader(&dwarf.debug_info));
        let (mut unit_bytes, mut line_bytes) = (Vec::new(), Vec::new());
        let mut next = 0;
        while let Some(at) = file.read_unit(Section::Info, next, &mut unit_bytes, endian) {
            let offset = gimli::DebugInfoOffset(at);
            next = at + unit_bytes.len();
            let Some(header) = gimli::DebugInfo::new(&unit_bytes, endian).units().next()? else {
                break;
            };
            match header.type_() {
                gimli::UnitType::Compilation => {}
                gimli::UnitType::Partial => {
                    // Only referred to from other units; no addresses of its own.
                    unit_starts.push(offset.0);
                    continue;
                }
                gimli::UnitType::Type { .. } | gimli::UnitType::SplitType { .. } => continue,
                _ => return Err(gimli::Error::UnsupportedUnitType),
            }
            unit_starts.push(offset.0);
            let mut push = |range: gimli::Range| {
                if range.begin < range.end {
                    ranges.push((range.end, range.begin, offset.0));
                }
            };
            let root = match root_attributes(&dwarf, &header) {
                Some(root) => root,
                // Forms that need the unit's bases (DWARF 5's `addrx`, `rnglistx`): the whole unit, for that.
                None => {
                    let Ok(unit) = dwarf
                        .debug_info
                        .header_from_offset(offset)
                        .and_then(|header| dwarf.unit(header))
                    else {
                        continue;
                    };
                    if unit.dwo_id.is_some() {
                        return Err(gimli::Error::UnsupportedUnitType);
                    }
                    let unit = gimli::UnitRef::new(&dwarf, &unit);
                    let mut found = false;
                    let mut entries = unit.entries();
                    if let Ok(Some((_, root))) = entries.next_dfs() {
                        if let Ok(mut root_ranges) = unit.die_ranges(root) {
                            while let Ok(Some(range)) = root_ranges.next() {
                                found = true;
                                push(range);
                            }
                        }
                    }
                    if !found {
                        sequence_ranges(unit, &mut push);
                    }
                    continue;
                }
            };
            if root.split {
                return Err(gimli::Error::UnsupportedUnitType);
            }
            let mut found = false;
            if let Some(list) = root.pc.list {
                let mut list = dwarf.ranges.ranges(
                    list,
                    header.encoding(),
                    root.pc.low.unwrap_or(0),
                    &dwarf.debug_addr,
                    gimli::DebugAddrBase(0),
                )?;
                while let Some(range) = list.next()? {
                    found = true;
                    push(range);
                }
            } else {
                let first = aranges.partition_point(|&(unit, _)| unit < offset.0);
                for &(_, set) in aranges[first..]
                    .iter()
                    .take_while(|&&(unit, _)| unit == offset.0)
                {
                    let Ok(set) = dwarf.debug_aranges.header(set) else {
                        continue;
                    };
                    let mut entries = set.entries();
                    // Errors are skipped, as addr2line does: rustc has been seen to write an entry whose end
                    // overflows. The iterator stops after an error it cannot get past.
                    while let Some(entry) = entries.next().transpose() {
                        if let Ok(entry) = entry {
                            if entry.length() != 0 {
                                found = true;
                                push(entry.range());
                            }
                        }
                    }
                }
                if let (false, Some(range)) = (found, root.pc.contiguous()) {
                    found = true;
                    push(range);
                }
            }
            if let (false, Some(line)) = (found, root.line) {
                // No ranges declared: the sequences of the unit's line table.
                if file
                    .read_unit(Section::Line, line, &mut line_bytes, endian)
                    .is_some()
                {
                    let program = gimli::DebugLine::new(&line_bytes, endian).program(
                        gimli::DebugLineOffset(0),
                        header.address_size(),
                        None,
                        None,
                    );
                    if let Ok(program) = program {
                        for_each_sequence(program, &mut push);
                    }
                }
            }
        }
        // By end, as addr2line orders them, with the lowest start from each range on kept beside it, so that a lookup
        // reads only the ranges that can hold its address.
        ranges.sort_unstable_by_key(|&(end, _, _)| end);
        let mut min_begin = u64::MAX;
        let mut indexed: Vec<UnitRange> = ranges
            .iter()
            .rev()
            .map(|&(end, begin, unit)| {
                min_begin = min_begin.min(begin);
                UnitRange {
                    begin,
                    end,
                    min_begin,
                    unit,
                }
            })
            .collect();
        indexed.reverse();
        unit_starts.shrink_to_fit();
        Ok(Self {
            dwarf,
            ranges: indexed,
            unit_starts,
            parsed: HashMap::new(),
        })
    }

    /// The frames at `probe` (an address in the file's own terms, with the load bias taken off), innermost inlined
    /// function first, as `addr2line` finds them: empty when no unit holds the address. A unit with no function
    /// there gives one frame with a location and no name. Units whose ranges hold the address are tried in
    /// addr2line's order, by the end of the range.
    pub(crate) fn find_frames(&mut self, probe: u64) -> gimli::Result<Vec<DwarfFrame>> {
        let first = self.ranges.partition_point(|range| range.end <= probe);
        let candidates: Vec<usize> = self.ranges[first..]
            .iter()
            .take_while(|range| range.min_begin <= probe)
            .filter(|range| range.begin <= probe && probe < range.end)
            .map(|range| range.unit)
            .collect();
        let mut tried = Vec::new();
        for unit in candidates {
            if tried.contains(&unit) {
                continue;
            }
            tried.push(unit);
            let frames = self.frames_in(unit, probe)?;
            if !frames.is_empty() {
                return Ok(frames);
            }
        }
        Ok(Vec::new())
    }

    /// The frames at `probe` from the unit at `offset`; empty when it has neither a function nor a line there.
    fn frames_in(&mut self, offset: usize, probe: u64) -> gimli::Result<Vec<DwarfFrame>> {
        self.parse(offset)?;
        let function = self.function_at(offset, probe)?;
        let location = self.location(offset, probe)?;
        let Some(die) = function else {
            return Ok(match location {
                Some(location) => vec![location],
                None => Vec::new(),
            });
        };
        let (name, inlined) = self.function_and_inlined(offset, die, probe)?;
        // Following a name into another unit may have dropped this one from a full cache.
        self.parse(offset)?;
        // Innermost first: the innermost inlined function is where the line table says; each one further out is
        // where the call inside it was made.
        let mut frames = Vec::with_capacity(inlined.len() + 1);
        let mut here = location.unwrap_or_default();
        for call in inlined.iter().rev() {
            here.name = call.name;
            let caller = DwarfFrame {
                name: None,
                file: match call.call_file {
                    Some(file) => self.file(offset, file)?,
                    None => None,
                },
                line: (call.call_line != 0).then_some(call.call_line),
                column: (call.call_column != 0).then_some(call.call_column),
            };
            frames.push(std::mem::replace(&mut here, caller));
        }
        here.name = name;
        frames.push(here);
        Ok(frames)
    }

    /// Parses the unit at `offset` into the cache, unless it is there.
    fn parse(&mut self, offset: usize) -> gimli::Result<()> {
        if self.parsed.contains_key(&offset) {
            return Ok(());
        }
        if self.parsed.len() >= MAX_UNITS {
            self.parsed.clear();
        }
        let header = self
            .dwarf
            .debug_info
            .header_from_offset(gimli::DebugInfoOffset(offset))?;
        let unit = self.dwarf.unit(header)?;
        self.parsed.insert(
            offset,
            ParsedUnit {
                unit,
                functions: None,
                lines: None,
            },
        );
        Ok(())
    }

    fn unit(&self, offset: usize) -> gimli::Result<&ParsedUnit> {
        self.parsed
            .get(&offset)
            .ok_or(gimli::Error::NoEntryAtGivenOffset)
    }

    /// The `DW_TAG_subprogram` whose range holds `probe`, if any.
    fn function_at(&mut self, offset: usize, probe: u64) -> gimli::Result<Option<UnitOffset>> {
        self.parse(offset)?;
        if self.unit(offset)?.functions.is_none() {
            let functions =
                functions_of(gimli::UnitRef::new(&self.dwarf, &self.unit(offset)?.unit))?;
            if let Some(parsed) = self.parsed.get_mut(&offset) {
                parsed.functions = Some(functions);
            }
        }
        let functions = self.unit(offset)?.functions.as_deref().unwrap_or_default();
        let found = functions.binary_search_by(|range| place(range.begin, range.end, probe));
        Ok(found.ok().map(|index| functions[index].die))
    }

    /// The line table's location of `probe` in the unit at `offset`.
    fn location(&mut self, offset: usize, probe: u64) -> gimli::Result<Option<DwarfFrame>> {
        self.load_lines(offset)?;
        let Some(lines) = &self.unit(offset)?.lines else {
            return Ok(None);
        };
        let Ok(sequence) = lines
            .sequences
            .binary_search_by(|sequence| place(sequence.start, sequence.end, probe))
        else {
            return Ok(None);
        };
        let rows = &lines.sequences[sequence].rows;
        let row = match rows.binary_search_by(|row| row.address.cmp(&probe)) {
            Ok(index) => rows[index],
            Err(0) => return Ok(None),
            Err(index) => rows[index - 1],
        };
        Ok(Some(DwarfFrame {
            name: None,
            file: lines
                .files
                .get(usize::try_from(row.file).unwrap_or(usize::MAX))
                .cloned()
                .flatten(),
            line: (row.line != 0).then_some(row.line),
            // With a line, a column of 0 is the left edge, and says so.
            column: (row.line != 0).then_some(row.column),
        }))
    }

    /// The path of file `index` of the unit's line table.
    fn file(&mut self, offset: usize, index: u64) -> gimli::Result<Option<String>> {
        self.load_lines(offset)?;
        Ok(self.unit(offset)?.lines.as_ref().and_then(|lines| {
            lines
                .files
                .get(usize::try_from(index).ok()?)
                .cloned()
                .flatten()
        }))
    }

    fn load_lines(&mut self, offset: usize) -> gimli::Result<()> {
        self.parse(offset)?;
        let parsed = self.unit(offset)?;
        if parsed.lines.is_some() {
            return Ok(());
        }
        let Some(program) = parsed.unit.line_program.clone() else {
            return Ok(());
        };
        let lines = lines_of(gimli::UnitRef::new(&self.dwarf, &parsed.unit), program)?;
        if let Some(parsed) = self.parsed.get_mut(&offset) {
            parsed.lines = Some(lines);
        }
        Ok(())
    }

    /// The name of the subprogram at `die` and the chain of inlined calls in it that hold `probe`, outermost first.
    fn function_and_inlined(
        &mut self,
        offset: usize,
        die: UnitOffset,
        probe: u64,
    ) -> gimli::Result<(Option<&'static [u8]>, Vec<Inlined>)> {
        let mut found: Vec<(Named, Inlined)> = Vec::new();
        let own: Named;
        {
            let unit = gimli::UnitRef::new(&self.dwarf, &self.unit(offset)?.unit);
            let mut entries = unit.entries_raw(Some(die))?;
            let depth = entries.next_depth();
            let Some(abbrev) = entries.read_abbreviation()? else {
                return Ok((None, Vec::new()));
            };
            own = read_name(unit, &mut entries, abbrev)?;
            // Each DW_TAG_inlined_subroutine below the function whose ranges hold the probe, then the same below
            // it, and so on, reading the function's entries in order once. Other entries (lexical blocks) are
            // looked through; nested subprograms and calls that do not hold the probe are skipped whole.
            // Once a call holds the probe, only its own entries can hold the next one: the scan ends with them.
            let mut within = depth;
            while entries.next_depth() > within && found.len() < MAX_INLINE_DEPTH {
                let entry_depth = entries.next_depth();
                let Some(abbrev) = entries.read_abbreviation()? else {
                    continue;
                };
                match abbrev.tag() {
                    gimli::DW_TAG_subprogram => skip_tree(&mut entries, abbrev, entry_depth)?,
                    gimli::DW_TAG_inlined_subroutine => {
                        match read_inlined(unit, &mut entries, abbrev, probe)? {
                            Some(call) => {
                                found.push(call);
                                within = entry_depth;
                            }
                            None => skip_children(&mut entries, entry_depth)?,
                        }
                    }
                    _ => entries.skip_attributes(abbrev.attributes())?,
                }
            }
        }
        let name = self.resolve_name(offset, own.0, own.1, NAME_DEPTH)?;
        let mut calls = Vec::with_capacity(found.len());
        for ((name, reference), mut call) in found {
            call.name = self.resolve_name(offset, name, reference, NAME_DEPTH)?;
            calls.push(call);
        }
        Ok((name, calls))
    }

    /// A name read from an entry, or else the name of what it refers to.
    fn resolve_name(
        &mut self,
        offset: usize,
        own: Option<&'static [u8]>,
        reference: Option<AttributeValue<Reader>>,
        depth: usize,
    ) -> gimli::Result<Option<&'static [u8]>> {
        if own.is_some() {
            return Ok(own);
        }
        let Some(reference) = reference else {
            return Ok(None);
        };
        if depth == 0 {
            return Ok(None);
        }
        let (unit_offset, die) = match reference {
            AttributeValue::UnitRef(die) => (offset, die),
            AttributeValue::DebugInfoRef(target) => {
                let at = self.unit_starts.partition_point(|&start| start <= target.0);
                let Some(&start) = at.checked_sub(1).and_then(|at| self.unit_starts.get(at)) else {
                    return Ok(None);
                };
                self.parse(start)?;
                let header = &self.unit(start)?.unit.header;
                match target.to_unit_offset(header) {
                    Some(die) => (start, die),
                    None => return Ok(None),
                }
            }
            _ => return Ok(None),
        };
        // The target unit may have been dropped from the cache by the parse above only if it was `offset` itself
        // and the cache was full; parse it again then.
        self.parse(unit_offset)?;
        let (own, reference) = {
            let unit = gimli::UnitRef::new(&self.dwarf, &self.unit(unit_offset)?.unit);
            let mut entries = unit.entries_raw(Some(die))?;
            match entries.read_abbreviation()? {
                Some(abbrev) => read_name(unit, &mut entries, abbrev)?,
                None => (None, None),
            }
        };
        self.resolve_name(unit_offset, own, reference, depth - 1)
    }
}

/// What the index needs of a unit's first entry.
struct RootAttributes {
    /// Its address attributes, in the forms that need nothing else of the unit.
    pc: PcRange,
    /// Where its line program is in `.debug_line`.
    line: Option<usize>,
    /// Whether it is a skeleton of split DWARF (`DW_AT_GNU_dwo_id`, `DW_AT_dwo_name`, `DW_AT_GNU_dwo_name`).
    split: bool,
}

/// A unit's first entry, read with the unit's abbreviations only (not its line-program header, which
/// `gimli::Dwarf::unit` also parses). `None` when its addresses take a form that needs more of the unit (`addrx`,
/// `rnglistx`, or any range list of DWARF 5, which may refer to `.debug_addr`).
fn root_attributes<R: gimli::Reader<Offset = usize>>(
    dwarf: &gimli::Dwarf<Reader>,
    header: &gimli::UnitHeader<R>,
) -> Option<RootAttributes> {
    let abbreviations = dwarf
        .debug_abbrev
        .abbreviations(header.debug_abbrev_offset())
        .ok()?;
    let mut entries = header.entries_raw(&abbreviations, None).ok()?;
    let abbrev = entries.read_abbreviation().ok()??;
    let mut root = RootAttributes {
        pc: PcRange::default(),
        line: None,
        split: false,
    };
    for spec in abbrev.attributes() {
        let attr = entries.read_attribute(*spec).ok()?;
        match (attr.name(), attr.value()) {
            (gimli::DW_AT_low_pc, AttributeValue::Addr(address)) => root.pc.low = Some(address),
            (gimli::DW_AT_high_pc, AttributeValue::Addr(address)) => root.pc.high = Some(address),
            (gimli::DW_AT_high_pc, AttributeValue::Udata(size)) => root.pc.size = Some(size),
            (gimli::DW_AT_ranges, AttributeValue::RangeListsRef(raw)) if header.version() < 5 => {
                root.pc.list = Some(gimli::RangeListsOffset(raw.0));
            }
            (gimli::DW_AT_low_pc | gimli::DW_AT_high_pc | gimli::DW_AT_ranges, _) => return None,
            (gimli::DW_AT_stmt_list, AttributeValue::DebugLineRef(offset)) => {
                root.line = Some(offset.0)
            }
            (gimli::DW_AT_GNU_dwo_id | gimli::DW_AT_dwo_name | gimli::DW_AT_GNU_dwo_name, _) => {
                root.split = true;
            }
            _ => {}
        }
    }
    Some(root)
}

/// The sections that the index reads unit by unit.
#[derive(Clone, Copy)]
pub(crate) enum Section {
    Info,
    Line,
}

/// Reads `.debug_info` and `.debug_line` from the file with `pread`, for the index's one pass over every unit: through
/// the mapping, each page the pass touched would stay in the process's resident memory (with the kernel's fault-around,
/// most of both sections), for units that no stack trace may ever need.
#[derive(Debug)]
pub(crate) struct SectionFile {
    file: std::fs::File,
    /// Where each section is in the file: offset and size.
    info: (u64, u64),
    line: (u64, u64),
}

impl SectionFile {
    pub(crate) fn new(file: std::fs::File, info: (u64, u64), line: (u64, u64)) -> Self {
        Self { file, info, line }
    }

    /// Reads the unit (or line program: both start with their length) at `offset` of `section` into `bytes`;
    /// returns `offset`, or `None` at the section's end or on a length that runs past it or a failed read.
    fn read_unit(
        &self,
        section: Section,
        offset: usize,
        bytes: &mut Vec<u8>,
        endian: gimli::RunTimeEndian,
    ) -> Option<usize> {
        use std::os::unix::fs::FileExt;
        let (start, size) = match section {
            Section::Info => self.info,
            Section::Line => self.line,
        };
        let at = u64::try_from(offset).ok()?;
        let mut head = [0u8; 12];
        let head_len = usize::try_from(size.checked_sub(at)?.min(12)).ok()?;
        self.file
            .read_exact_at(&mut head[..head_len], start.checked_add(at)?)
            .ok()?;
        let mut reader = gimli::EndianSlice::new(&head[..head_len], endian);
        let length = match gimli::Reader::read_u32(&mut reader).ok()? {
            0xffff_ffff => gimli::Reader::read_u64(&mut reader).ok()?.checked_add(12)?,
            length if length >= 0xffff_fff0 => return None,
            length => u64::from(length) + 4,
        };
        if at.checked_add(length)? > size {
            return None;
        }
        bytes.clear();
        bytes.resize(usize::try_from(length).ok()?, 0);
        self.file.read_exact_at(bytes, start + at).ok()?;
        Some(offset)
    }
}

/// Calls `push` with each sequence of the unit's line table: the ranges of a unit that declares none.
fn sequence_ranges(unit: gimli::UnitRef<'_, Reader>, push: &mut impl FnMut(gimli::Range)) {
    if let Some(program) = unit.line_program.clone() {
        for_each_sequence(program, push);
    }
}

/// Calls `push` with the address range of each sequence of a line program, as [`lines_of`] delimits them: from its
/// first row to its end. A program that stops parsing ends there.
fn for_each_sequence<R: gimli::Reader>(
    program: gimli::IncompleteLineProgram<R>,
    push: &mut impl FnMut(gimli::Range),
) {
    let mut rows = program.rows();
    let mut start = None;
    while let Ok(Some((_, row))) = rows.next_row() {
        if row.end_sequence() {
            if let Some(begin) = start.take() {
                push(gimli::Range {
                    begin,
                    end: row.address(),
                });
            }
        } else if start.is_none() {
            start = Some(row.address());
        }
    }
}

/// The name attributes of the entry whose abbreviation was just read, as addr2line ranks them: a linkage name
/// (mangled, with the path), else `DW_AT_name`, else the reference to follow for one.
fn read_name(
    unit: gimli::UnitRef<'_, Reader>,
    entries: &mut gimli::EntriesRaw<'_, '_, Reader>,
    abbrev: &gimli::Abbreviation,
) -> gimli::Result<Named> {
    let mut parts = NameParts::default();
    for spec in abbrev.attributes() {
        parts.take(unit, &entries.read_attribute(*spec)?);
    }
    Ok(parts.named())
}

/// An entry's name attributes, gathered while its attributes are read.
#[derive(Default)]
struct NameParts {
    linkage: Option<&'static [u8]>,
    name: Option<&'static [u8]>,
    reference: Option<AttributeValue<Reader>>,
}

impl NameParts {
    /// Keeps `attr` if it is one of the name attributes; whether it was.
    fn take(&mut self, unit: gimli::UnitRef<'_, Reader>, attr: &gimli::Attribute<Reader>) -> bool {
        match attr.name() {
            gimli::DW_AT_linkage_name | gimli::DW_AT_MIPS_linkage_name => {
                self.linkage = self.linkage.or(attr_string(unit, attr.value()));
            }
            gimli::DW_AT_name => self.name = self.name.or(attr_string(unit, attr.value())),
            gimli::DW_AT_abstract_origin | gimli::DW_AT_specification => {
                self.reference = Some(attr.value());
            }
            _ => return false,
        }
        true
    }

    /// The linkage name (mangled, with the path), else `DW_AT_name`, else the reference to follow for one.
    fn named(self) -> Named {
        (self.linkage.or(self.name), self.reference)
    }
}

/// A string attribute's bytes, wherever the unit keeps them.
fn attr_string(
    unit: gimli::UnitRef<'_, Reader>,
    value: AttributeValue<Reader>,
) -> Option<&'static [u8]> {
    unit.attr_string(value).ok().map(|s| s.slice())
}

/// Reads an inlined call's attributes; `Some` with its name attributes and call site when its ranges hold `probe`.
fn read_inlined(
    unit: gimli::UnitRef<'_, Reader>,
    entries: &mut gimli::EntriesRaw<'_, '_, Reader>,
    abbrev: &gimli::Abbreviation,
    probe: u64,
) -> gimli::Result<Option<(Named, Inlined)>> {
    let mut parts = NameParts::default();
    let mut call = Inlined {
        name: None,
        call_file: None,
        call_line: 0,
        call_column: 0,
    };
    let mut pc = PcRange::default();
    for spec in abbrev.attributes() {
        let attr = entries.read_attribute(*spec)?;
        if pc.take(unit, &attr)? || parts.take(unit, &attr) {
            continue;
        }
        match attr.name() {
            gimli::DW_AT_call_file => {
                // DWARF 5 numbers files from 0; before it, 0 meant no file.
                if let AttributeValue::FileIndex(file) = attr.value() {
                    if file > 0 || unit.header.version() >= 5 {
                        call.call_file = Some(file);
                    }
                }
            }
            gimli::DW_AT_call_line => {
                call.call_line = attr
                    .udata_value()
                    .map_or(0, |v| u32::try_from(v).unwrap_or(0));
            }
            gimli::DW_AT_call_column => {
                call.call_column = attr
                    .udata_value()
                    .map_or(0, |v| u32::try_from(v).unwrap_or(0));
            }
            _ => {}
        }
    }
    let holds = pc.any(unit, |begin, end| begin <= probe && probe < end)?;
    Ok(holds.then_some((parts.named(), call)))
}

/// Where the range `begin..end` lies from `probe`, for a binary search of sorted ranges that do not overlap.
fn place(begin: u64, end: u64, probe: u64) -> Ordering {
    if probe < begin {
        Ordering::Greater
    } else if probe >= end {
        Ordering::Less
    } else {
        Ordering::Equal
    }
}

/// An entry's address attributes, gathered while its attributes are read.
#[derive(Default)]
struct PcRange {
    low: Option<u64>,
    high: Option<u64>,
    /// `DW_AT_high_pc` as a length from `low`.
    size: Option<u64>,
    list: Option<gimli::RangeListsOffset>,
}

impl PcRange {
    /// Keeps `attr` if it is one of the address attributes; whether it was.
    fn take(
        &mut self,
        unit: gimli::UnitRef<'_, Reader>,
        attr: &gimli::Attribute<Reader>,
    ) -> gimli::Result<bool> {
        match attr.name() {
            gimli::DW_AT_low_pc => self.low = address(unit, attr.value())?,
            gimli::DW_AT_high_pc => match attr.value() {
                AttributeValue::Udata(size) => self.size = Some(size),
                value => self.high = address(unit, value)?,
            },
            gimli::DW_AT_ranges => self.list = unit.attr_ranges_offset(attr.value())?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Calls `found` with each range, `begin..end`, until it returns `true`; whether it did. As in addr2line, a
    /// range list wins over the low and high address.
    fn any(
        &self,
        unit: gimli::UnitRef<'_, Reader>,
        mut found: impl FnMut(u64, u64) -> bool,
    ) -> gimli::Result<bool> {
        if let Some(offset) = self.list {
            let mut ranges = unit.ranges(offset)?;
            while let Some(range) = ranges.next()? {
                if found(range.begin, range.end) {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        Ok(self
            .contiguous()
            .is_some_and(|range| found(range.begin, range.end)))
    }

    /// The one range that the low address with the high address or the size gives, if they are there.
    fn contiguous(&self) -> Option<gimli::Range> {
        let end = match (self.high, self.size) {
            (Some(high), _) => high,
            (None, Some(size)) => self.low?.saturating_add(size),
            (None, None) => return None,
        };
        Some(gimli::Range {
            begin: self.low?,
            end,
        })
    }
}

/// An address attribute's value, also through `.debug_addr`.
fn address(
    unit: gimli::UnitRef<'_, Reader>,
    value: AttributeValue<Reader>,
) -> gimli::Result<Option<u64>> {
    Ok(match value {
        AttributeValue::Addr(address) => Some(address),
        AttributeValue::DebugAddrIndex(index) => Some(unit.address(index)?),
        _ => None,
    })
}

/// Skips the rest of an entry whose abbreviation was just read, and all its children.
fn skip_tree(
    entries: &mut gimli::EntriesRaw<'_, '_, Reader>,
    abbrev: &gimli::Abbreviation,
    depth: isize,
) -> gimli::Result<()> {
    entries.skip_attributes(abbrev.attributes())?;
    skip_children(entries, depth)
}

/// Skips the children of the entry at `depth` whose attributes were just read.
fn skip_children(
    entries: &mut gimli::EntriesRaw<'_, '_, Reader>,
    depth: isize,
) -> gimli::Result<()> {
    while entries.next_depth() > depth {
        if let Some(abbrev) = entries.read_abbreviation()? {
            entries.skip_attributes(abbrev.attributes())?;
        }
    }
    Ok(())
}

/// The address ranges of every `DW_TAG_subprogram` in a unit, by start address.
fn functions_of(unit: gimli::UnitRef<'_, Reader>) -> gimli::Result<Vec<FunctionRange>> {
    let mut functions = Vec::new();
    let mut entries = unit.entries_raw(None)?;
    while !entries.is_empty() {
        let die = entries.next_offset();
        let Some(abbrev) = entries.read_abbreviation()? else {
            continue;
        };
        if abbrev.tag() != gimli::DW_TAG_subprogram {
            entries.skip_attributes(abbrev.attributes())?;
            continue;
        }
        let mut pc = PcRange::default();
        for spec in abbrev.attributes() {
            pc.take(unit, &entries.read_attribute(*spec)?)?;
        }
        pc.any(unit, |begin, end| {
            if begin < end {
                functions.push(FunctionRange { begin, end, die });
            }
            false
        })?;
    }
    functions.sort_by_key(|range| range.begin);
    functions.shrink_to_fit();
    Ok(functions)
}

/// A unit's line table, as addr2line reads it: rows at the same address keep the last one, sequences are sorted by
/// start, and every file of the header is rendered as a path.
fn lines_of(
    unit: gimli::UnitRef<'_, Reader>,
    program: gimli::IncompleteLineProgram<Reader>,
) -> gimli::Result<Lines> {
    let mut sequences = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    let mut program_rows = program.rows();
    while let Some((_, row)) = program_rows.next_row()? {
        if row.end_sequence() {
            if let Some(start) = rows.first().map(|row| row.address) {
                sequences.push(Sequence {
                    start,
                    end: row.address(),
                    rows: std::mem::take(&mut rows),
                });
            }
            continue;
        }
        let line = row
            .line()
            .map_or(0, |line| u32::try_from(line.get()).unwrap_or(0));
        let column = match row.column() {
            gimli::ColumnType::LeftEdge => 0,
            gimli::ColumnType::Column(column) => u32::try_from(column.get()).unwrap_or(0),
        };
        let new = Row {
            address: row.address(),
            file: row.file_index(),
            line,
            column,
        };
        match rows.last_mut() {
            Some(last) if last.address == new.address => *last = new,
            _ => rows.push(new),
        }
    }
    sequences.sort_by_key(|sequence| sequence.start);
    let header = program_rows.header();
    // Before DWARF 5 there is no file 0; addr2line gives it an empty path.
    let mut files = vec![match header.file(0) {
        Some(file) => render_file(unit, file, header),
        None => Some(String::new()),
    }];
    let mut index = 1;
    while let Some(file) = header.file(index) {
        files.push(render_file(unit, file, header));
        index += 1;
    }
    Ok(Lines { sequences, files })
}

/// A line-table file's path: the unit's directory, the file's directory and its name, each replacing what came
/// before when it is absolute.
fn render_file(
    unit: gimli::UnitRef<'_, Reader>,
    file: &gimli::FileEntry<Reader>,
    header: &gimli::LineProgramHeader<Reader>,
) -> Option<String> {
    let mut path = unit
        .comp_dir
        .map(|dir| String::from_utf8_lossy(dir.slice()).into_owned())
        .unwrap_or_default();
    // Directory 0 is the unit's own directory.
    if file.directory_index() != 0 {
        if let Some(directory) = file.directory(header) {
            push_path(
                &mut path,
                &unit.attr_string(directory).ok()?.to_string_lossy(),
            );
        }
    }
    push_path(
        &mut path,
        &unit.attr_string(file.path_name()).ok()?.to_string_lossy(),
    );
    Some(path)
}

fn push_path(path: &mut String, part: &str) {
    let absolute = |p: &str| {
        p.starts_with('/') || p.starts_with('\\') || matches!(p.get(1..3), Some(":/" | ":\\"))
    };
    if absolute(part) {
        part.clone_into(path);
        return;
    }
    let separator = if path.starts_with('\\') || path.get(1..3) == Some(":\\") {
        '\\'
    } else {
        '/'
    };
    if !path.is_empty() && !path.ends_with(separator) {
        path.push(separator);
    }
    path.push_str(part);
}
