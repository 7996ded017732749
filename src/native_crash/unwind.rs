//! Unwinding a crashed thread's saved stack at the next start, with framehop.
//!
//! The handler saved the registers and the stack bytes; the unwind information is each module's `.eh_frame`
//! (indexed by `.eh_frame_hdr`), read from the module's file, placed where the module was loaded at the crash.
//! framehop follows the DWARF call-frame rules from frame to frame and falls back on frame pointers where a module
//! has none, as a minidump stack walker would.

use std::fs::File;
use std::ops::Range;

use framehop::{ExplicitModuleSectionInfo, FrameAddress, Module, Unwinder};
use object::read::elf::ElfFile64;
use object::{Object, ObjectSection, ObjectSegment, ReadCache};

use super::record::Record;
use crate::loaded_images::CrashedModule;

#[cfg(target_arch = "x86_64")]
use framehop::x86_64::{CacheX86_64 as Cache, UnwindRegsX86_64, UnwinderX86_64 as NativeUnwinder};

#[cfg(target_arch = "aarch64")]
use framehop::aarch64::{
    CacheAarch64 as Cache, UnwindRegsAarch64, UnwinderAarch64 as NativeUnwinder,
};

/// The most frames walked.
const MAX_FRAMES: usize = 256;

/// A module loaded at the crash: its file and where it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CrashModule {
    pub(crate) path: String,
    pub(crate) avma: Range<u64>,
}

/// The modules that code ran from at the crash.
pub(crate) fn modules(loaded: &[CrashedModule]) -> Vec<CrashModule> {
    loaded
        .iter()
        .map(|module| CrashModule {
            path: module.path.clone(),
            avma: module.range.clone(),
        })
        .collect()
}

/// The crashed thread's frames, newest first: the faulting instruction, then each return address. Each entry is
/// the address as the program had it and whether it is a return address (to be looked up one byte back).
pub(crate) fn unwind(record: &Record, modules: &[CrashModule]) -> Vec<(u64, bool)> {
    let mut unwinder = NativeUnwinder::new();
    for module in modules {
        if let Some(module) = framehop_module(module) {
            unwinder.add_module(module);
        }
    }
    let header = &record.header;
    let start = record.stack_start;
    let stack = &record.stack;
    let mut read_stack = |address: u64| -> Result<u64, ()> {
        let offset = usize::try_from(address.checked_sub(start).ok_or(())?).map_err(|_| ())?;
        let bytes = stack
            .get(offset..offset.checked_add(8).ok_or(())?)
            .ok_or(())?;
        Ok(u64::from_le_bytes(bytes.try_into().map_err(|_| ())?))
    };
    let mut frames = Vec::new();
    let (mut pc, mut sp, fp) = (header.pc, header.sp, header.fp);
    // A fault at the very instruction address, outside every module: the program jumped there.
    let restarted = header.signal == libc::SIGSEGV.unsigned_abs()
        && header.fault_address == header.pc
        && !modules.iter().any(|m| m.avma.contains(&header.pc));
    if restarted {
        // The program jumped to an address that is no code (a call through a null or stale function pointer): no
        // unwind rule covers it. The caller's return address is where the call left it: on top of the stack
        // (x86_64) or in the link register (aarch64). Go on from there.
        frames.push((header.pc, false));
        let Some((caller, caller_sp)) = caller_of_bad_call(header, &mut read_stack) else {
            return frames;
        };
        (pc, sp) = (caller, caller_sp);
    }
    #[cfg(target_arch = "x86_64")]
    let regs = UnwindRegsX86_64::new(pc, sp, fp);
    // Return addresses may carry a pointer-authentication signature in their high bits: strip everything above the
    // highest address a module was loaded at.
    #[cfg(target_arch = "aarch64")]
    let regs = UnwindRegsAarch64::new_with_ptr_auth_mask(
        framehop::aarch64::PtrAuthMask::from_max_known_address(
            modules.iter().map(|m| m.avma.end).max().unwrap_or(u64::MAX),
        ),
        header.lr,
        sp,
        fp,
    );
    let mut cache = Cache::<_>::new();
    let mut iter = unwinder.iter_frames(pc, regs, &mut cache, &mut read_stack);
    while frames.len() < MAX_FRAMES {
        match iter.next() {
            // After a restart the first frame is the caller's return address, not a faulting instruction.
            Ok(Some(FrameAddress::InstructionPointer(ip))) => frames.push((ip, restarted)),
            Ok(Some(FrameAddress::ReturnAddress(ra))) => frames.push((ra.get(), true)),
            Ok(None) | Err(_) => break,
        }
    }
    if frames.is_empty() && header.pc != 0 {
        frames.push((header.pc, false));
    }
    frames
}

/// Where a call to an address that is no code came from: the return address and the stack pointer after it.
#[cfg(target_arch = "x86_64")]
fn caller_of_bad_call(
    header: &super::record::Header,
    read_stack: &mut impl FnMut(u64) -> Result<u64, ()>,
) -> Option<(u64, u64)> {
    Some((read_stack(header.sp).ok()?, header.sp.wrapping_add(8)))
}

#[cfg(target_arch = "aarch64")]
fn caller_of_bad_call(
    header: &super::record::Header,
    _read_stack: &mut impl FnMut(u64) -> Result<u64, ()>,
) -> Option<(u64, u64)> {
    Some((header.lr, header.sp))
}

/// The module's unwind sections, read from its file; `None` if it cannot be read as a 64-bit ELF file.
fn framehop_module(module: &CrashModule) -> Option<Module<Vec<u8>>> {
    let file = File::open(&module.path).ok()?;
    let cache = ReadCache::new(file);
    let elf = ElfFile64::<object::Endianness, _>::parse(&cache).ok()?;
    // The address the file's first loadable byte is linked at: 0 for position-independent code.
    let base_svma = elf
        .segments()
        .map(|segment| segment.address().saturating_sub(segment.file_range().0))
        .min()
        .unwrap_or(0);
    let section = |name: &str| {
        let section = elf.section_by_name(name)?;
        let range = section.address()..section.address().checked_add(section.size())?;
        Some((range, section.data().ok()?.to_vec()))
    };
    let eh_frame = section(".eh_frame");
    let eh_frame_hdr = section(".eh_frame_hdr");
    let text = section(".text");
    let got = elf
        .section_by_name(".got")
        .and_then(|s| Some(s.address()..s.address().checked_add(s.size())?));
    let (eh_frame_svma, eh_frame) = eh_frame.map_or((None, None), |(r, d)| (Some(r), Some(d)));
    let (eh_frame_hdr_svma, eh_frame_hdr) =
        eh_frame_hdr.map_or((None, None), |(r, d)| (Some(r), Some(d)));
    let (text_svma, text) = text.map_or((None, None), |(r, d)| (Some(r), Some(d)));
    let info = ExplicitModuleSectionInfo {
        base_svma,
        text_svma,
        text,
        got_svma: got,
        eh_frame_svma,
        eh_frame,
        eh_frame_hdr_svma,
        eh_frame_hdr,
        ..Default::default()
    };
    Some(Module::new(
        module.path.clone(),
        module.avma.clone(),
        module.avma.start,
        info,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native_crash::record::Header;

    /// Copies the caller's stack (from this frame up) into a record, with this frame's registers as the handler
    /// would have them, and returns the record with the address of a function it must find on the way.
    #[inline(never)]
    fn record_here() -> Record {
        let (pc, sp, fp): (u64, u64, u64);
        // SAFETY: reads three registers, touches no memory.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            std::arch::asm!("lea {pc}, [rip]", "mov {sp}, rsp", "mov {fp}, rbp",
                pc = out(reg) pc, sp = out(reg) sp, fp = out(reg) fp);
        }
        #[cfg(target_arch = "aarch64")]
        unsafe {
            std::arch::asm!("adr {pc}, .", "mov {sp}, sp", "mov {fp}, x29",
                pc = out(reg) pc, sp = out(reg) sp, fp = out(reg) fp);
        }
        // Copied as the handler copies it: written from memory into a file by the kernel.
        let mut file = tempfile::tempfile().unwrap();
        let len = super::super::signal_safe::write_own_memory(
            std::os::fd::AsRawFd::as_raw_fd(&file),
            sp as usize,
            64 * 1024,
        );
        let mut stack = Vec::new();
        std::io::Seek::rewind(&mut file).unwrap();
        std::io::Read::read_to_end(&mut file, &mut stack).unwrap();
        assert_eq!(stack.len(), len);
        Record {
            header: Header {
                pc,
                sp,
                fp,
                ..Header::default()
            },
            stack_start: sp,
            stack,
            maps: std::fs::read("/proc/self/maps").unwrap(),
            ..Record::default()
        }
    }

    #[inline(never)]
    fn caller_of_record_here() -> (Record, u64) {
        let record = record_here();
        (record, caller_of_record_here as *const () as usize as u64)
    }

    #[test]
    fn a_saved_stack_unwinds_through_its_callers() {
        let (record, caller) = caller_of_record_here();
        let loaded = crate::loaded_images::modules_in(
            &record.maps,
            std::time::SystemTime::now() + std::time::Duration::from_secs(1),
        );
        let modules = modules(&loaded);
        assert!(!modules.is_empty());
        let frames = unwind(&record, &modules);
        assert!(frames.len() >= 3, "{frames:x?}");
        assert!(!frames[0].1, "the first frame is the instruction itself");
        // The second frame returns into the caller: within a few hundred bytes after its start.
        let (ra, is_return) = frames[1];
        assert!(is_return);
        assert!(
            ra > caller && ra - caller < 4096,
            "{ra:x} should be inside caller_of_record_here at {caller:x}"
        );
    }
}
