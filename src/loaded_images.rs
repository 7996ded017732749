//! The images (executable and shared libraries) loaded into this process, for the event's `debug_meta`.
//!
//! With them a Sentry server can symbolicate a release build shipped without debug info: it finds the image whose
//! range holds a frame's `instruction_addr` and the uploaded debug file with that image's `debug_id`.
//!
//! On Linux the list comes from `/proc/self/maps` and the ELF files themselves, read with std and the `object`
//! crate's ELF reader, with no `unsafe` here (`dl_iterate_phdr` would need a C binding and `unsafe`):
//!
//! 1. Each run of mappings of one file that starts at file offset 0 is one loaded image; the start of that mapping
//!    is the ELF load base (`image_addr`), and the run spans to the end of its last mapping (`image_size`). Pseudo
//!    files (`[vdso]`, `[heap]`, …), anonymous and deleted mappings are skipped, and so are runs with no executable
//!    mapping: data files the program maps, and the copy of the executable that the `backtrace` crate maps to read
//!    its debug info, hold no code a frame could point into.
//! 2. Each image's file is opened and only its ELF header, program headers and `PT_NOTE` segments are read, for the
//!    GNU build id (`NT_GNU_BUILD_ID`). An image without one is left out: Relay requires a `debug_id` and drops an
//!    image without it, and the fallback Sentry uses for such files (a hash of the first page of `.text`) would
//!    mean reading section headers and code; toolchains on Linux emit build ids by default. The file on disk is
//!    read, not the copy of these bytes mapped at the load base: reading process memory takes raw pointers
//!    (`unsafe`, which this crate forbids) or `/proc/self/mem`. The price is the limitation below about files
//!    replaced in place.
//!
//! The work is bounded: at most [`MAX_IMAGES`] files are opened, and at most about 128 KiB of headers and notes are
//! read from each (a typical file needs well under 1 KiB).
//! Nothing here panics on a malformed or truncated file; such an image is just left out.
//!
//! Limitations: other systems get an empty list (macOS and Windows would need their own loaders' lists); a file
//! replaced in place (not by rename, which shows as deleted) after it was loaded is read as it is now; a path that
//! is not UTF-8 is sent lossily converted.

#[cfg(faultline_native_crash)]
use std::os::unix::ffi::OsStrExt;

use crate::protocol::debug_meta::DebugImage;

/// The most images listed, and so the most files opened.
#[cfg(any(target_os = "linux", test))]
const MAX_IMAGES: usize = 512;

/// The images loaded into this process; empty on systems other than Linux.
///
/// This reads `/proc/self/maps` and the headers of every loaded file, so it belongs on the worker thread, once per
/// client (libraries loaded later with `dlopen` are then missing), never on a thread that captures.
pub(crate) fn debug_images() -> Vec<DebugImage> {
    #[cfg(target_os = "linux")]
    {
        linux::debug_images()
    }
    #[cfg(not(target_os = "linux"))]
    {
        Vec::new()
    }
}

/// Where the running executable's image is in memory (Linux): its run of mappings in `/proc/self/maps`, found by
/// the path and inode of `/proc/self/exe`. `None` elsewhere, or when the file was deleted since it was started.
#[cfg(target_os = "linux")]
pub(crate) fn executable_range() -> Option<std::ops::Range<u64>> {
    linux::executable_range()
}

/// A module (the executable or a shared library) that was loaded in a process that has since crashed.
#[cfg(faultline_native_crash)]
#[derive(Clone, Debug)]
pub(crate) struct CrashedModule {
    pub(crate) path: String,
    /// Where it was loaded.
    pub(crate) range: std::ops::Range<u64>,
    /// Its image for `debug_meta`, when its file has a build id.
    pub(crate) image: Option<DebugImage>,
}

/// The modules listed in a copy of `/proc/self/maps` taken by a process that has since crashed whose files are
/// still the files that were loaded: the same inode, not changed after `crashed_at`. Another file at the same path
/// (a deploy) would be unwound and symbolicated wrongly, and its build id would send the server to the wrong
/// debug file, so such a module is left out.
#[cfg(faultline_native_crash)]
pub(crate) fn modules_in(maps: &[u8], crashed_at: std::time::SystemTime) -> Vec<CrashedModule> {
    use std::os::unix::fs::MetadataExt;

    loaded_regions(maps)
        .into_iter()
        .filter(|region| {
            let path = std::path::Path::new(std::ffi::OsStr::from_bytes(&region.path));
            std::fs::metadata(path).is_ok_and(|m| {
                m.is_file()
                    && (region.inode == 0 || m.ino() == region.inode)
                    && m.modified().is_ok_and(|modified| modified <= crashed_at)
            })
        })
        .map(|region| CrashedModule {
            path: String::from_utf8_lossy(&region.path).into_owned(),
            range: region.start..region.end,
            image: linux::image(region),
        })
        .collect()
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::OsStr;
    use std::fs::{self, File};
    use std::io::BufReader;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    use crate::protocol::debug_meta::DebugImage;
    use crate::protocol::stacktrace::Addr;

    use super::{Region, elf_identity, loaded_regions};

    pub(super) fn debug_images() -> Vec<DebugImage> {
        let Ok(maps) = File::open("/proc/self/maps") else {
            return Vec::new();
        };
        loaded_regions(BufReader::new(maps))
            .into_iter()
            .filter_map(image)
            .collect()
    }

    pub(super) fn executable_range() -> Option<std::ops::Range<u64>> {
        use std::os::unix::fs::MetadataExt;
        let path = fs::read_link("/proc/self/exe").ok()?;
        let inode = fs::metadata("/proc/self/exe").ok()?.ino();
        let maps = File::open("/proc/self/maps").ok()?;
        loaded_regions(BufReader::new(maps))
            .into_iter()
            .find(|region| region.inode == inode && region.path == path.as_os_str().as_bytes())
            .map(|region| region.start..region.end)
    }

    pub(super) fn image(region: Region) -> Option<DebugImage> {
        let path = Path::new(OsStr::from_bytes(&region.path));
        // Only regular files: opening a FIFO or a device that happens to be mapped could block or have effects.
        if !fs::metadata(path).ok()?.is_file() {
            return None;
        }
        let identity = elf_identity(File::open(path).ok()?)?;
        let mut image = DebugImage::elf(
            String::from_utf8_lossy(&region.path).into_owned(),
            &identity.build_id,
            identity.little_endian,
            Addr(region.start),
            region.end.saturating_sub(region.start),
        );
        image.arch = identity.arch.map(str::to_owned);
        Some(image)
    }
}

// === /proc/self/maps ===

/// One loaded image's address range, from `/proc/self/maps`.
#[cfg(any(target_os = "linux", test))]
#[derive(Clone, Debug, PartialEq, Eq)]
struct Region {
    /// The file's path, as the kernel printed it.
    path: Vec<u8>,
    /// The start of the mapping at file offset 0: the load base.
    start: u64,
    /// The end of the image's last mapping.
    end: u64,
    /// Whether any of its mappings is executable.
    executable: bool,
    /// The file's inode as it was mapped, to tell whether the file at `path` is still that file.
    inode: u64,
}

/// One line of `/proc/self/maps`:
///
/// ```text
/// start-end perms offset dev inode [path]
/// 7fd0d35e5000-7fd0d373b000 r-xp 00026000 fe:00 326279     /usr/lib/x86_64-linux-gnu/libc.so.6
/// ```
///
/// Addresses and offset are hex; the path is the rest of the line after the padding and may contain spaces; it is
/// empty for anonymous memory, `[name]` for the kernel's pseudo mappings, and ends in ` (deleted)` when the file
/// was removed after it was mapped (proc(5)).
#[cfg(any(target_os = "linux", test))]
#[derive(Debug, PartialEq, Eq)]
struct Mapping<'a> {
    start: u64,
    end: u64,
    executable: bool,
    offset: u64,
    inode: u64,
    path: &'a [u8],
}

#[cfg(any(target_os = "linux", test))]
fn parse_mapping(line: &[u8]) -> Option<Mapping<'_>> {
    fn field<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
        let start = rest.iter().position(|&b| b != b' ')?;
        let tail = &rest[start..];
        let len = tail.iter().position(|&b| b == b' ').unwrap_or(tail.len());
        let (field, after) = tail.split_at(len);
        *rest = after;
        Some(field)
    }
    fn hex(text: &[u8]) -> Option<u64> {
        u64::from_str_radix(std::str::from_utf8(text).ok()?, 16).ok()
    }

    let mut rest = line;
    let range = field(&mut rest)?;
    let perms = field(&mut rest)?;
    let offset = hex(field(&mut rest)?)?;
    let _device = field(&mut rest)?;
    let inode = std::str::from_utf8(field(&mut rest)?).ok()?.parse().ok()?;
    let path = match rest.iter().position(|&b| b != b' ') {
        Some(start) => &rest[start..],
        None => &[],
    };
    let dash = range.iter().position(|&b| b == b'-')?;
    let start = hex(&range[..dash])?;
    let end = hex(&range[dash + 1..])?;
    if end < start {
        return None;
    }
    Some(Mapping {
        start,
        end,
        executable: perms.get(2) == Some(&b'x'),
        offset,
        inode,
        path,
    })
}

/// The loaded images in `maps` (the text of `/proc/self/maps`), lowest address first, at most [`MAX_IMAGES`].
///
/// The kernel lists mappings by address, and the loader maps an image's segments next to each other (holes between
/// them stay reserved, as file-backed `---p` or anonymous mappings), so an image is the mapping at file offset 0
/// plus the following mappings of the same file at other offsets, with only anonymous or pseudo mappings between
/// them. Grouping by path alone would be wrong: the `backtrace` crate maps the executable once more to read its
/// debug info, and that copy would stretch the executable's range across the address space.
#[cfg(any(target_os = "linux", test))]
fn loaded_regions(maps: impl std::io::BufRead) -> Vec<Region> {
    fn close(region: Option<Region>, regions: &mut Vec<Region>) {
        if let Some(region) = region.filter(|r| r.executable) {
            regions.push(region);
        }
    }

    let mut regions = Vec::new();
    let mut current: Option<Region> = None;
    for line in maps.split(b'\n') {
        if regions.len() >= MAX_IMAGES {
            break;
        }
        let Ok(line) = line else { break };
        let Some(mapping) = parse_mapping(&line) else {
            continue;
        };
        if !mapping.path.starts_with(b"/") {
            // Anonymous memory or a pseudo mapping (`[heap]`, `[vdso]`, …): an image's .bss or a reserved hole
            // may sit between its segments, so this does not end the current image.
            continue;
        }
        let same_file = current
            .as_ref()
            .is_some_and(|image| image.path == mapping.path && mapping.start >= image.end);
        if same_file && mapping.offset != 0 {
            if let Some(image) = current.as_mut() {
                image.end = mapping.end;
                image.executable |= mapping.executable;
            }
            continue;
        }
        close(current.take(), &mut regions);
        if mapping.offset == 0 && !mapping.path.ends_with(b" (deleted)") {
            current = Some(Region {
                path: mapping.path.to_vec(),
                start: mapping.start,
                end: mapping.end,
                executable: mapping.executable,
                inode: mapping.inode,
            });
        }
    }
    close(current.take(), &mut regions);
    regions.truncate(MAX_IMAGES);
    regions
}

// === ELF build ids ===

/// What identifies an ELF file for symbolication.
#[cfg(any(target_os = "linux", test))]
#[derive(Debug, PartialEq, Eq)]
struct ElfIdentity {
    /// The `NT_GNU_BUILD_ID` note's contents, never empty.
    build_id: Vec<u8>,
    /// Whether the file is little-endian, which decides how the debug id is derived.
    little_endian: bool,
    /// The architecture in Sentry's naming, when it is one Sentry knows.
    arch: Option<&'static str>,
}

/// The most bytes read for the program header table (a typical executable has about a dozen 56-byte entries).
#[cfg(any(target_os = "linux", test))]
const MAX_PHDR_BYTES: usize = 64 * 1024;
/// The most bytes read from all `PT_NOTE` segments together (the build id note is 36 bytes with a SHA-1 id).
#[cfg(any(target_os = "linux", test))]
const MAX_NOTE_BYTES: u64 = 64 * 1024;

/// Reads the GNU build id, byte order and architecture of an ELF file, from its header, program headers and notes
/// only. `None` when the file is not ELF, has no build id, or is truncated or inconsistent anywhere on the way.
///
/// The parsing is the `object` crate's, over a [`ReadCache`](object::ReadCache): it reads just the byte ranges
/// asked for, into buffers it keeps until the file is done, so the whole file is never read. What is read is the
/// 64-byte header (then 52 bytes for ELF32, after the failed try as ELF64), the program header table and the
/// `PT_NOTE` segments; the last two are bounded here before object is asked for them, because object checks them
/// only against the file's length.
///
/// Only `PT_NOTE` segments are searched, not `.note.gnu.build-id` sections: the section is allocated, so linkers
/// place it in a `PT_NOTE` segment, and reading section headers would mean seeking to the end of the file.
/// (`object::Object::build_id` searches sections, after parsing the section headers and the symbol tables.)
#[cfg(any(target_os = "linux", test))]
fn elf_identity<R: std::io::Read + std::io::Seek>(file: R) -> Option<ElfIdentity> {
    use object::Endianness;
    use object::elf::{FileHeader32, FileHeader64};
    use object::read::elf::FileHeader;

    let data = &object::ReadCache::new(file);
    // `parse` checks the class as well as the magic, version and byte order, so at most one of these succeeds.
    match FileHeader64::<Endianness>::parse(data) {
        Ok(header) => identity_from(header, data),
        Err(_) => identity_from(FileHeader32::<Endianness>::parse(data).ok()?, data),
    }
}

/// [`elf_identity`] once the header has been read; `Elf` is the class (ELF32 or ELF64), the byte order is known
/// only at run time.
#[cfg(any(target_os = "linux", test))]
fn identity_from<'data, Elf, R>(header: &Elf, data: R) -> Option<ElfIdentity>
where
    Elf: object::read::elf::FileHeader<Endian = object::Endianness>,
    R: object::ReadRef<'data>,
{
    use object::elf;
    use object::read::elf::{NoteIterator, ProgramHeader};

    let endian = header.endian().ok()?;
    // PN_XNUM (0xffff) would move the count into section header 0; no loadable file needs that many.
    let phnum = header.e_phnum(endian);
    let table_len = usize::from(phnum).checked_mul(size_of::<Elf::ProgramHeader>())?;
    if phnum == elf::PN_XNUM || table_len > MAX_PHDR_BYTES {
        return None;
    }
    let program_headers = header.program_headers(endian, data).ok()?;

    // Shared by all note segments, so that a file with a thousand of them costs no more than one. A segment larger
    // than what is left is read only that far: the notes that fit are still searched.
    let mut note_budget = MAX_NOTE_BYTES;
    let build_id = program_headers
        .iter()
        .filter(|phdr| phdr.p_type(endian) == elf::PT_NOTE)
        .find_map(|phdr| {
            let (offset, size) = phdr.file_range(endian);
            let size = size.min(note_budget);
            note_budget -= size;
            let bytes = data.read_bytes_at(offset, size).ok()?;
            // Notes are padded to 8 in a segment aligned to 8 (GNU property notes), to 4 in one aligned to 4 or
            // less; object refuses other alignments, as binutils does.
            let mut notes = NoteIterator::<Elf>::new(endian, phdr.p_align(endian), bytes).ok()?;
            // A malformed note ends the search in this segment, not in the next one.
            while let Ok(Some(note)) = notes.next() {
                if note.name() == elf::ELF_NOTE_GNU
                    && note.n_type(endian) == elf::NT_GNU_BUILD_ID
                    && !note.desc().is_empty()
                {
                    return Some(note.desc().to_vec());
                }
            }
            None
        })?;

    let arch = match header.e_machine(endian) {
        elf::EM_386 => Some("x86"),
        elf::EM_X86_64 => Some("x86_64"),
        elf::EM_ARM => Some("arm"),
        elf::EM_AARCH64 => Some("arm64"),
        elf::EM_PPC => Some("ppc"),
        elf::EM_PPC64 => Some("ppc64"),
        elf::EM_MIPS if header.is_type_64() => Some("mips64"),
        elf::EM_MIPS => Some("mips"),
        _ => None,
    };
    Some(ElfIdentity {
        build_id,
        little_endian: header.is_little_endian(),
        arch,
    })
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::{self, Cursor, Read, Seek};
    use std::path::Path;

    use object::elf::{NT_GNU_BUILD_ID, PT_NOTE};

    use super::*;

    // === hand-built ELF files ===

    const BUILD_ID: [u8; 20] = [
        0x68, 0x22, 0x0a, 0xe2, 0xc6, 0x5d, 0x65, 0xc1, 0xb6, 0xaa, 0xa1, 0x2f, 0xa6, 0x76, 0x5a,
        0x6e, 0xc2, 0xf5, 0xf4, 0x34,
    ];

    fn word(value: u32, little_endian: bool) -> [u8; 4] {
        if little_endian {
            value.to_le_bytes()
        } else {
            value.to_be_bytes()
        }
    }

    fn pad(bytes: &mut Vec<u8>, align: usize) {
        while bytes.len() % align != 0 {
            bytes.push(0);
        }
    }

    /// One note: namesz, descsz, type, then name and descriptor, each padded to `align`.
    fn note(name: &[u8], kind: u32, desc: &[u8], little_endian: bool, align: usize) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(word(u32::try_from(name.len()).unwrap(), little_endian));
        out.extend(word(u32::try_from(desc.len()).unwrap(), little_endian));
        out.extend(word(kind, little_endian));
        out.extend(name);
        pad(&mut out, align);
        out.extend(desc);
        pad(&mut out, align);
        out
    }

    fn gnu_build_id_note(little_endian: bool) -> Vec<u8> {
        note(b"GNU\0", NT_GNU_BUILD_ID, &BUILD_ID, little_endian, 4)
    }

    /// A segment for [`elf`]: `p_type`, its contents and `p_align`.
    struct Segment {
        kind: u32,
        data: Vec<u8>,
        align: u64,
    }

    fn note_segment(data: Vec<u8>) -> Segment {
        Segment {
            kind: PT_NOTE,
            data,
            align: 4,
        }
    }

    /// An ELF file: the header, the program header table right after it, then each segment's contents.
    fn elf(is_64: bool, little_endian: bool, machine: u16, segments: &[Segment]) -> Vec<u8> {
        let (header_len, phentsize) = if is_64 { (64usize, 56usize) } else { (52, 32) };
        let half = |v: u16| {
            if little_endian {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let long = |v: u64| {
            if little_endian {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let addr = |out: &mut Vec<u8>, v: u64| {
            if is_64 {
                out.extend(long(v));
            } else {
                out.extend(word(u32::try_from(v).unwrap(), little_endian));
            }
        };

        let mut out = vec![
            0x7f,
            b'E',
            b'L',
            b'F',
            if is_64 { 2 } else { 1 },
            if little_endian { 1 } else { 2 },
            1,
        ];
        out.resize(16, 0);
        out.extend(half(3)); // e_type: ET_DYN
        out.extend(half(machine));
        out.extend(word(1, little_endian)); // e_version
        addr(&mut out, 0); // e_entry
        addr(&mut out, header_len as u64); // e_phoff
        addr(&mut out, 0); // e_shoff
        out.extend(word(0, little_endian)); // e_flags
        out.extend(half(u16::try_from(header_len).unwrap()));
        out.extend(half(u16::try_from(phentsize).unwrap()));
        out.extend(half(u16::try_from(segments.len()).unwrap()));
        out.extend(half(0)); // e_shentsize
        out.extend(half(0)); // e_shnum
        out.extend(half(0)); // e_shstrndx
        assert_eq!(out.len(), header_len);

        let mut offset = (header_len + phentsize * segments.len()) as u64;
        for segment in segments {
            let size = segment.data.len() as u64;
            if is_64 {
                out.extend(word(segment.kind, little_endian));
                out.extend(word(4, little_endian)); // p_flags: PF_R
                for v in [offset, offset, offset, size, size, segment.align] {
                    out.extend(long(v));
                }
            } else {
                for v in [
                    u64::from(segment.kind),
                    offset,
                    offset,
                    offset,
                    size,
                    size,
                    4,
                    segment.align,
                ] {
                    addr(&mut out, v);
                }
            }
            offset += size;
        }
        for segment in segments {
            out.extend(&segment.data);
        }
        out
    }

    fn identity(bytes: &[u8]) -> Option<ElfIdentity> {
        elf_identity(Cursor::new(bytes))
    }

    /// A reader that counts the bytes read through it.
    struct Counted<R> {
        inner: R,
        bytes: u64,
    }

    impl<R: Read> Read for Counted<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.bytes += n as u64;
            Ok(n)
        }
    }

    impl<R: Seek> Seek for Counted<R> {
        fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
            self.inner.seek(pos)
        }
    }

    /// [`elf_identity`] of `file`, and how many bytes it read.
    fn identity_and_bytes_read(file: impl Read + Seek) -> (Option<ElfIdentity>, u64) {
        let mut counted = Counted {
            inner: file,
            bytes: 0,
        };
        (elf_identity(&mut counted), counted.bytes)
    }

    #[test]
    fn elf64_little_endian_build_id() {
        // A loadable segment first, and an ABI tag note before the build id, as `ld` lays them out.
        let mut notes = note(b"GNU\0", 1, &[0; 16], true, 4);
        notes.extend(gnu_build_id_note(true));
        let load = Segment {
            kind: 1,
            data: vec![0xcc; 24],
            align: 0x1000,
        };
        let file = elf(true, true, 62, &[load, note_segment(notes)]);
        assert_eq!(
            identity(&file),
            Some(ElfIdentity {
                build_id: BUILD_ID.to_vec(),
                little_endian: true,
                arch: Some("x86_64"),
            })
        );
    }

    #[test]
    fn elf32_in_both_byte_orders() {
        let le = elf(false, true, 3, &[note_segment(gnu_build_id_note(true))]);
        assert_eq!(
            identity(&le),
            Some(ElfIdentity {
                build_id: BUILD_ID.to_vec(),
                little_endian: true,
                arch: Some("x86"),
            })
        );
        let be = elf(false, false, 20, &[note_segment(gnu_build_id_note(false))]);
        assert_eq!(
            identity(&be),
            Some(ElfIdentity {
                build_id: BUILD_ID.to_vec(),
                little_endian: false,
                arch: Some("ppc"),
            })
        );
        // Read with the wrong byte order, the sizes are nonsense: no id, no panic.
        let mut swapped = be.clone();
        swapped[5] = 1;
        assert_eq!(identity(&swapped), None);
    }

    #[test]
    fn elf64_big_endian_and_unknown_machine() {
        let file = elf(
            true,
            false,
            0x1234,
            &[note_segment(gnu_build_id_note(false))],
        );
        let id = identity(&file).unwrap();
        assert_eq!(id.build_id, BUILD_ID);
        assert!(!id.little_endian);
        assert_eq!(
            id.arch, None,
            "the server fills in an architecture it knows"
        );
    }

    #[test]
    fn notes_in_an_eight_byte_aligned_segment() {
        // `.note.gnu.property` gets its own PT_NOTE aligned to 8, where a 12-byte descriptor ends at 28 and the next
        // note starts at 32. A 3-byte name ("Go\0") is padded to start the descriptor at 16. Object does the
        // padding; this checks that it is given the segment's alignment.
        let mut notes = note(b"GNU\0", 5, &[1; 12], true, 8);
        notes.extend(note(b"Go\0", 4, &[2; 5], true, 8));
        notes.extend(note(b"GNU\0", NT_GNU_BUILD_ID, &BUILD_ID, true, 8));
        let segment = Segment {
            kind: PT_NOTE,
            data: notes,
            align: 8,
        };
        let file = elf(true, true, 183, &[segment]);
        let id = identity(&file).unwrap();
        assert_eq!(id.build_id, BUILD_ID);
        assert_eq!(id.arch, Some("arm64"));
    }

    #[test]
    fn a_note_with_another_owner_is_not_a_build_id() {
        let other = note(b"Go\0", NT_GNU_BUILD_ID, b"not a gnu build id", true, 4);
        let only_other = elf(true, true, 62, &[note_segment(other.clone())]);
        assert_eq!(identity(&only_other), None);

        let mut both = other;
        both.extend(gnu_build_id_note(true));
        let file = elf(true, true, 62, &[note_segment(both)]);
        assert_eq!(identity(&file).unwrap().build_id, BUILD_ID);

        let empty = note(b"GNU\0", NT_GNU_BUILD_ID, &[], true, 4);
        assert_eq!(identity(&elf(true, true, 62, &[note_segment(empty)])), None);
    }

    #[test]
    fn every_truncation_is_handled() {
        for is_64 in [true, false] {
            let file = elf(is_64, true, 62, &[note_segment(gnu_build_id_note(true))]);
            for len in 0..file.len() {
                assert_eq!(
                    identity(&file[..len]),
                    None,
                    "is_64 {is_64}, {len} of {} bytes",
                    file.len()
                );
            }
            assert!(identity(&file).is_some());
        }
    }

    #[test]
    fn the_program_header_table_is_bounded_before_it_is_read() {
        // Object checks offsets and sizes against the file's length only; a table that is in the file but larger
        // than any real one must be refused here, before it is read.
        let mut file = elf(true, true, 62, &[note_segment(gnu_build_id_note(true))]);
        assert!(identity(&file).is_some());
        file.resize(256 * 1024, 0);
        let entries = u16::try_from(MAX_PHDR_BYTES / 56 + 1).unwrap();
        file[56..58].copy_from_slice(&entries.to_le_bytes());
        let (id, read) = identity_and_bytes_read(Cursor::new(&file));
        assert_eq!(id, None);
        assert!(read <= 64, "{read} bytes");

        // PN_XNUM (0xffff) moves the count into section header 0.
        file[56..58].copy_from_slice(&0xffffu16.to_le_bytes());
        assert_eq!(identity(&file), None);
    }

    #[test]
    fn a_broken_note_segment_does_not_hide_a_later_one() {
        let abi_tag = note(b"GNU\0", 1, &[0; 16], true, 4);
        let file = elf(
            true,
            true,
            62,
            &[note_segment(abi_tag), note_segment(gnu_build_id_note(true))],
        );
        assert_eq!(identity(&file).unwrap().build_id, BUILD_ID);
        // Point the first PT_NOTE past the end of the file: the second one is still read.
        let mut broken = file.clone();
        broken[64 + 8..64 + 16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(identity(&broken).unwrap().build_id, BUILD_ID);
    }

    #[test]
    fn note_segments_are_read_only_up_to_the_budget() {
        // Empty notes (twelve zero bytes: no name, no descriptor, type 0) make a segment of 1 MB that is all valid.
        let filler = vec![0u8; 12 * 90_000];
        let headers = 64 + 56;
        let budget = headers + MAX_NOTE_BYTES;

        // The build id first: found in the part that fits.
        let mut notes = gnu_build_id_note(true);
        notes.extend(&filler);
        let file = elf(true, true, 62, &[note_segment(notes)]);
        let (id, read) = identity_and_bytes_read(Cursor::new(&file));
        assert_eq!(id.unwrap().build_id, BUILD_ID);
        assert!(read <= budget, "{read} bytes of {}", file.len());

        // The build id past the budget: not found, and not read.
        let mut notes = filler.clone();
        notes.extend(gnu_build_id_note(true));
        let file = elf(true, true, 62, &[note_segment(notes)]);
        let (id, read) = identity_and_bytes_read(Cursor::new(&file));
        assert_eq!(id, None);
        assert!(read <= budget, "{read} bytes of {}", file.len());

        // The budget is shared: a large first segment leaves nothing for the next one.
        let segments = [note_segment(filler), note_segment(gnu_build_id_note(true))];
        let file = elf(true, true, 62, &segments);
        let (id, read) = identity_and_bytes_read(Cursor::new(&file));
        assert_eq!(id, None);
        assert!(read <= budget + 56, "{read} bytes of {}", file.len());
    }

    #[test]
    fn only_the_headers_and_notes_of_a_real_binary_are_read() {
        let exe = std::env::current_exe().unwrap();
        let len = std::fs::metadata(&exe).unwrap().len();
        let (id, read) = identity_and_bytes_read(File::open(&exe).unwrap());
        assert!(id.is_some());
        // About a dozen program headers and two note segments, out of a test binary of several megabytes.
        assert!(read <= 4096, "{read} bytes of {len}");
    }

    // === /proc/self/maps ===

    #[test]
    fn maps_lines_are_parsed() {
        let line = b"7fd0d35e5000-7fd0d373b000 r-xp 00026000 fe:00 326279                     /usr/lib/libc.so.6";
        assert_eq!(
            parse_mapping(line),
            Some(Mapping {
                start: 0x7fd0_d35e_5000,
                end: 0x7fd0_d373_b000,
                executable: true,
                offset: 0x26000,
                inode: 326_279,
                path: b"/usr/lib/libc.so.6",
            })
        );
        let anonymous = parse_mapping(b"7fd0d353a000-7fd0d355c000 rw-p 00000000 00:00 0 ").unwrap();
        assert_eq!(anonymous.path, b"");
        assert!(!anonymous.executable);
        let spaced =
            parse_mapping(b"1000-2000 r--p 00000000 08:01 42    /opt/my app/lib x.so").unwrap();
        assert_eq!(spaced.path, b"/opt/my app/lib x.so");
        assert_eq!(parse_mapping(b"2000-1000 r--p 00000000 08:01 42 /x"), None);
        assert_eq!(parse_mapping(b"zz-1000 r--p 00000000 08:01 42 /x"), None);
        assert_eq!(parse_mapping(b"1000-2000 r--p"), None);
        assert_eq!(parse_mapping(b""), None);
    }

    #[test]
    fn images_are_runs_of_one_file_from_offset_zero() {
        let maps = "\
555555554000-555555556000 r--p 00000000 fe:00 11 /work/bin/app
555555556000-55555555a000 r-xp 00002000 fe:00 11 /work/bin/app
55555555a000-55555555c000 r--p 00006000 fe:00 11 /work/bin/app
55555555c000-55555555d000 rw-p 00008000 fe:00 11 /work/bin/app
55555555d000-55555555e000 rw-p 00000000 00:00 0
555555600000-555555700000 rw-p 00000000 00:00 0                  [heap]
7f0000000000-7f0000400000 r--p 00000000 fe:00 11 /work/bin/app
7f0000400000-7f0000401000 r--s 00000000 fe:00 12 /var/cache/data.db
7f0000401000-7f0000402000 r-xp 00001000 fe:00 13 /usr/lib/orphan.so
7f0000500000-7f0000526000 r--p 00000000 fe:00 14 /usr/lib/libc.so.6
7f0000526000-7f000067c000 r-xp 00026000 fe:00 14 /usr/lib/libc.so.6
7f000067c000-7f0000680000 ---p 00000000 00:00 0
7f0000680000-7f0000684000 r--p 0017c000 fe:00 14 /usr/lib/libc.so.6
7f0000684000-7f0000686000 rw-p 00180000 fe:00 14 /usr/lib/libc.so.6
7f0000700000-7f0000701000 r--p 00000000 fe:00 15 /usr/lib/libgone.so (deleted)
7f0000701000-7f0000702000 r-xp 00001000 fe:00 15 /usr/lib/libgone.so (deleted)
7f0000800000-7f0000801000 r-xp 00000000 fe:00 16 /opt/my app/libold style.so
7f0000801000-7f0000802000 rw-p 00001000 fe:00 16 /opt/my app/libold style.so
7fff00000000-7fff00002000 r-xp 00000000 00:00 0                  [vdso]
";
        let regions = loaded_regions(maps.as_bytes());
        let summary: Vec<_> = regions
            .iter()
            .map(|r| {
                (
                    String::from_utf8_lossy(&r.path).into_owned(),
                    r.start,
                    r.end,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                // The executable ends at its own last segment, not at the copy `backtrace` maps at 0x7f00….
                (
                    "/work/bin/app".to_owned(),
                    0x5555_5555_4000,
                    0x5555_5555_d000
                ),
                // The anonymous hole between segments does not split the library.
                (
                    "/usr/lib/libc.so.6".to_owned(),
                    0x7f00_0050_0000,
                    0x7f00_0068_6000
                ),
                (
                    "/opt/my app/libold style.so".to_owned(),
                    0x7f00_0080_0000,
                    0x7f00_0080_2000
                ),
            ]
        );
    }

    #[test]
    fn images_are_capped() {
        let mut maps = String::new();
        for i in 0..(MAX_IMAGES as u64 + 10) {
            let start = 0x10_0000 + i * 0x2000;
            maps.push_str(&format!(
                "{start:x}-{:x} r-xp 00000000 fe:00 {i} /lib/l{i}.so\n",
                start + 0x1000
            ));
        }
        let regions = loaded_regions(maps.as_bytes());
        assert_eq!(regions.len(), MAX_IMAGES);
        assert_eq!(regions[0].path, b"/lib/l0.so");
    }

    // === the real process ===

    /// The build id in the `.note.gnu.build-id` section of `path`, found through the section headers and sliced
    /// out by hand: another route to the same bytes than the program headers and note iteration `elf_identity`
    /// uses. `None` when the file has no such section.
    fn section_build_id(path: &Path) -> Option<Vec<u8>> {
        use object::{Object, ObjectSection};

        let data = std::fs::read(path).unwrap();
        let file = object::File::parse(&*data).unwrap();
        let note = file.section_by_name(".note.gnu.build-id")?.data().unwrap();
        // One note, in this process's byte order: namesz 4, descsz, type, "GNU\0", then the id.
        let word = |at: usize| u32::from_ne_bytes(note[at..at + 4].try_into().unwrap());
        assert_eq!(
            (word(0), word(8), &note[12..16]),
            (4, NT_GNU_BUILD_ID, &b"GNU\0"[..]),
            "{}",
            path.display()
        );
        Some(note[16..16 + word(4) as usize].to_vec())
    }

    fn lower_hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn this_test_binary_is_listed_with_its_build_id() {
        // Symbolicating makes `backtrace` map the executable a second time, as the worker does before this runs.
        let trace = backtrace::Backtrace::new();
        assert!(!trace.frames().is_empty());

        let exe = std::env::current_exe().unwrap();
        let exe_name = exe.to_str().unwrap();
        let images = debug_images();
        let ours: Vec<_> = images.iter().filter(|i| i.code_file == exe_name).collect();
        assert_eq!(ours.len(), 1, "{exe_name} in {images:#?}");
        let image = ours[0];

        let build_id =
            lower_hex(&section_build_id(&exe).expect("a build id section in the test binary"));
        assert_eq!(image.code_id.as_deref(), Some(build_id.as_str()));
        assert_eq!(image.ty, "elf");
        // The debug id is the build id with the first three UUID fields byte-swapped (little-endian x86_64/arm64).
        let swapped: String = [
            &build_id[6..8],
            &build_id[4..6],
            &build_id[2..4],
            &build_id[0..2],
        ]
        .concat();
        assert!(image.debug_id.starts_with(&swapped), "{image:?}");
        #[cfg(target_arch = "x86_64")]
        assert_eq!(image.arch.as_deref(), Some("x86_64"));

        let code = debug_images as *const () as usize as u64;
        let range = image.image_addr.0..image.image_addr.0 + image.image_size;
        assert!(range.contains(&code), "{code:#x} outside {range:x?}");

        // The shared libraries too (libc, the dynamic loader, …), where they have the section.
        for image in &images {
            if let Some(id) = section_build_id(Path::new(&image.code_file)) {
                assert_eq!(image.code_id, Some(lower_hex(&id)), "{image:?}");
            }
        }
    }

    #[test]
    fn listed_images_are_ordered_and_disjoint() {
        let images = debug_images();
        assert!(!images.is_empty());
        assert!(images.len() <= MAX_IMAGES);
        for pair in images.windows(2) {
            assert!(
                pair[0].image_addr.0 + pair[0].image_size <= pair[1].image_addr.0,
                "{pair:#?}"
            );
        }
        for image in &images {
            assert!(
                image.code_file.starts_with('/') && !image.code_file.ends_with(" (deleted)"),
                "{image:?}"
            );
            assert!(
                image.image_size > 0 && image.code_id.as_ref().is_some_and(|id| !id.is_empty())
            );
        }
    }
}
