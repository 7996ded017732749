//! A crash record turned into the fatal event the next start sends.
//!
//! The event has one exception named after the signal (`SIGSEGV`, with `mechanism.type` `signal`, `handled:
//! false` and the signal's number, code and their names in `mechanism.meta.signal`), the crashed thread's stack,
//! unwound from the saved bytes and symbolicated here, the images loaded at the crash in `debug_meta` (so a server
//! with the debug files can symbolicate what could not be here), the release and environment of the process that
//! crashed, and its scope: tags, user, extra data, contexts, fingerprint and breadcrumbs.
//!
//! Symbolication here works for the modules this process has loaded too (the same executable, libc): a crashed
//! address is moved by the difference between the two load addresses and looked up like any other frame, then
//! given back its address at the crash. A frame in a module that is not loaded here, or whose file changed since the
//! crash, keeps only its address.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::record::Record;
use super::scope_copy::CrashScope;
use super::unwind::{CrashModule, modules, unwind};
use crate::loaded_images::modules_in;
use crate::protocol::debug_meta::DebugMeta;
use crate::protocol::event::{Event, EventId, Thread};
use crate::protocol::stacktrace::{Addr, Stacktrace};
use crate::protocol::time::Timestamp;
use crate::protocol::{Exception, Level, Mechanism, MechanismMeta, SignalMeta};
use crate::stacktrace::RawTrace;

/// What `init` prepared for the handler to write as is (see `handler::Prepared`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PreparedFields {
    release: Option<String>,
    environment: Option<String>,
    server_name: Option<String>,
}

/// The fatal event for crash record `record` (named `name`), its frames resolved by `symbolicate`.
pub(crate) fn event(
    record: &Record,
    name: &str,
    symbolicate: impl FnOnce(&RawTrace) -> Stacktrace,
) -> Event {
    let header = &record.header;
    let crashed_at = UNIX_EPOCH
        .checked_add(Duration::new(header.secs, header.nanos.min(999_999_999)))
        .unwrap_or_else(SystemTime::now);
    let loaded = modules_in(&record.maps, crashed_at);
    let modules = modules(&loaded);
    let images: Vec<_> = loaded.into_iter().filter_map(|m| m.image).collect();
    let frames = unwind(record, &modules);
    let stacktrace = symbolicated(&frames, &modules, symbolicate);

    let prepared: PreparedFields = serde_json::from_slice(&record.prepared).unwrap_or_default();
    let (signal_name, description) = signal_names(header.signal);
    let code_name = code_name(header.signal, header.code);
    let thread_id = header.tid.to_string();
    let mut value = description.to_owned();
    if let Some(code) = code_name {
        value.push_str(&format!(" ({code})"));
    }
    if is_fault(header.signal) {
        value.push_str(&format!(" at address {:#x}", header.fault_address));
    }
    let mut event = Event {
        event_id: event_id_for(name),
        timestamp: Timestamp(crashed_at),
        level: Level::Fatal,
        release: prepared.release,
        environment: prepared.environment,
        server_name: prepared.server_name,
        ..Event::default()
    };
    event.exception.push(Exception {
        ty: signal_name.map_or_else(|| format!("signal {}", header.signal), str::to_owned),
        value: Some(value),
        mechanism: Some(Mechanism {
            ty: "signal".into(),
            handled: Some(false),
            synthetic: Some(true),
            meta: Some(MechanismMeta {
                signal: Some(SignalMeta {
                    number: i32::try_from(header.signal).unwrap_or(-1),
                    code: Some(header.code),
                    name: signal_name.map(str::to_owned),
                    code_name: code_name.map(str::to_owned),
                }),
            }),
            ..Mechanism::default()
        }),
        stacktrace: (!stacktrace.frames.is_empty()).then_some(stacktrace),
        thread_id: Some(thread_id.clone()),
        ..Exception::default()
    });
    event.threads.push(Thread {
        id: Some(thread_id),
        name: header.thread_name(),
        current: Some(true),
        crashed: Some(true),
        main: Some(header.tid == header.pid),
        ..Thread::default()
    });
    // Always set, even empty: the images of the process that reports are not the crashed one's.
    event.debug_meta = Some(DebugMeta { images });
    CrashScope::read(record.scope.as_deref()).apply_to(&mut event);
    event
}

/// The unwound `frames` (newest first) as protocol frames, oldest first, with their addresses at the crash.
fn symbolicated(
    frames: &[(u64, bool)],
    modules: &[CrashModule],
    symbolicate: impl FnOnce(&RawTrace) -> Stacktrace,
) -> Stacktrace {
    let here: Vec<CrashModule> = debug_images_in_this_process();
    // Each address the symbolizer sees, and the address at the crash it stands for. The symbolizer looks up one
    // byte before what it is given (return addresses), so the faulting instruction is given one byte after.
    let mut back = HashMap::new();
    let mut ips = Vec::with_capacity(frames.len());
    for (n, &(address, is_return)) in frames.iter().enumerate() {
        let lookup = if is_return {
            address
        } else {
            address.wrapping_add(1)
        };
        let moved = modules
            .iter()
            .find(|m| m.avma.contains(&address))
            .and_then(|m| {
                let now = here.iter().find(|h| h.path == m.path)?;
                Some(
                    lookup
                        .wrapping_sub(m.avma.start)
                        .wrapping_add(now.avma.start),
                )
            })
            // No module here to look in: an address in the never-mapped first page, which resolves to nothing.
            .unwrap_or(n as u64 + 1);
        back.insert(moved, address);
        ips.push(moved);
    }
    let mut stacktrace = symbolicate(&RawTrace::from_ips(ips));
    for frame in &mut stacktrace.frames {
        if let Some(addr) = frame.instruction_addr {
            frame.instruction_addr = back.get(&addr.0).map(|&a| Addr(a)).or(Some(addr));
        }
        frame.symbol_addr = None;
    }
    stacktrace
}

/// The modules loaded in this process now.
fn debug_images_in_this_process() -> Vec<CrashModule> {
    let maps = std::fs::read("/proc/self/maps").unwrap_or_default();
    modules(&modules_in(
        &maps,
        SystemTime::now() + Duration::from_secs(1),
    ))
}

/// The event id of a record: the same whoever reports it and however often, so that a report sent twice (the
/// reporting process died between storing it and deleting the record) is one event to the server.
fn event_id_for(name: &str) -> EventId {
    let half = |lane: u8| {
        let mut hasher = DefaultHasher::new();
        lane.hash(&mut hasher);
        name.hash(&mut hasher);
        hasher.finish()
    };
    let bits = (u128::from(half(0)) << 64) | u128::from(half(1));
    EventId(uuid::Builder::from_random_bytes(bits.to_be_bytes()).into_uuid())
}

/// Whether the signal is a fault at an address (`si_addr` means something).
fn is_fault(signal: u32) -> bool {
    matches!(
        signal as i32,
        libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE
    )
}

/// The signal's name and what it means.
fn signal_names(signal: u32) -> (Option<&'static str>, &'static str) {
    match signal as i32 {
        libc::SIGSEGV => (Some("SIGSEGV"), "Segmentation fault"),
        libc::SIGBUS => (Some("SIGBUS"), "Bus error"),
        libc::SIGILL => (Some("SIGILL"), "Illegal instruction"),
        libc::SIGFPE => (Some("SIGFPE"), "Floating-point exception"),
        libc::SIGABRT => (Some("SIGABRT"), "Aborted"),
        libc::SIGTRAP => (Some("SIGTRAP"), "Trace or breakpoint trap"),
        _ => (None, "Fatal signal"),
    }
}

/// The name of the signal's `si_code` (signal(7), sigaction(2)).
fn code_name(signal: u32, code: i32) -> Option<&'static str> {
    let name = match (signal as i32, code) {
        (_, libc::SI_USER) => "SI_USER",
        (_, libc::SI_TKILL) => "SI_TKILL",
        (_, libc::SI_QUEUE) => "SI_QUEUE",
        (libc::SIGSEGV, 1) => "SEGV_MAPERR",
        (libc::SIGSEGV, 2) => "SEGV_ACCERR",
        (libc::SIGBUS, 1) => "BUS_ADRALN",
        (libc::SIGBUS, 2) => "BUS_ADRERR",
        (libc::SIGBUS, 3) => "BUS_OBJERR",
        (libc::SIGILL, 1) => "ILL_ILLOPC",
        (libc::SIGILL, 2) => "ILL_ILLOPN",
        (libc::SIGILL, 3) => "ILL_ILLADR",
        (libc::SIGILL, 4) => "ILL_ILLTRP",
        (libc::SIGILL, 5) => "ILL_PRVOPC",
        (libc::SIGFPE, 1) => "FPE_INTDIV",
        (libc::SIGFPE, 2) => "FPE_INTOVF",
        (libc::SIGFPE, 3) => "FPE_FLTDIV",
        (libc::SIGFPE, 4) => "FPE_FLTOVF",
        (libc::SIGFPE, 5) => "FPE_FLTUND",
        (libc::SIGFPE, 6) => "FPE_FLTRES",
        (libc::SIGFPE, 7) => "FPE_FLTINV",
        (libc::SIGTRAP, 1) => "TRAP_BRKPT",
        (libc::SIGTRAP, 2) => "TRAP_TRACE",
        (_, libc::SI_KERNEL) => "SI_KERNEL",
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_stable_per_record_and_differ_between_records() {
        let a = event_id_for("100-100-1800000000-1.crash");
        assert_eq!(a, event_id_for("100-100-1800000000-1.crash"));
        assert_ne!(a, event_id_for("100-100-1800000000-2.crash"));
        assert_eq!(a.0.get_version_num(), 4);
    }

    #[test]
    fn signals_and_codes_are_named() {
        assert_eq!(signal_names(11).0, Some("SIGSEGV"));
        assert_eq!(code_name(11, 1), Some("SEGV_MAPERR"));
        assert_eq!(code_name(6, libc::SI_TKILL), Some("SI_TKILL"));
        assert_eq!(code_name(7, 2), Some("BUS_ADRERR"));
        assert_eq!(signal_names(64), (None, "Fatal signal"));
        assert!(is_fault(7) && !is_fault(6));
    }
}
