//! The signal handler: what runs when the program faults, and what `init` prepares for it.
//!
//! `crash-handler` installs the handler for SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT and SIGTRAP on an alternate
//! signal stack, so that a stack overflow can be handled too. Its `pthread_create` hook gives every thread created
//! after the handler is installed an alternate stack of 16 KiB; threads that existed before keep theirs (Rust's
//! standard library gives each of its threads one, and `install` gives the calling thread one if it has none).
//!
//! [`on_crash`] writes one [crash record](super::record) into the directory `init` named, with only
//! async-signal-safe calls and no allocation: every buffer is a static one, every path is formatted on the stack,
//! and the stack and the memory map are copied by the kernel (`write` straight from the stack, `read`), so that a bad
//! address gives a short copy rather than a second fault. Then it hands the signal back: `crash-handler` restores
//! the handlers that were there before and lets the signal take its course, so a previous handler runs and the
//! process ends with the same signal, exit status and core dump as without faultline.
//!
//! One record per process: a second thread that crashes while the first is being written waits for it
//! (`crash-handler` runs one handler at a time) and writes nothing. A fault inside the handler is a signal that is
//! blocked while it runs, so the kernel ends the process at once.

use std::cell::UnsafeCell;
use std::io;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

use crash_handler::{CrashContext, CrashEventResult, CrashHandler, make_crash_event};

use super::record::{self, Header};
use super::scope_copy;
use super::signal_safe::{FixedBuf, pwrite_all, read_to_fill, write_all, write_own_memory};
use crate::delivery::spool::crash_records::CRASH_RECORD_SUFFIX;
use crate::delivery::spool::names::CRASHED_MARK;

/// At most this much of the crashing thread's stack is saved, from its stack pointer up.
const STACK_BYTES: usize = 256 * 1024;
/// The longest record path (Linux's `PATH_MAX`).
const PATH_BYTES: usize = 4096;
/// At most this much of `/proc/self/maps` is read; only its file mappings are kept (see [`keep_file_mappings`]).
const MAPS_BYTES: usize = 1024 * 1024;
/// At most this much of the scope, as JSON.
const SCOPE_BYTES: usize = 64 * 1024;
/// How far above the stack pointer the first readable stack byte is looked for: after a stack overflow the stack
/// pointer is in the guard area below the stack.
const GUARD_SEARCH: usize = 64 * 1024;
const PAGE: usize = 4096;

/// What the records of this process say of it, from the options.
#[derive(Debug, Default)]
pub(crate) struct Prepared<'a> {
    pub(crate) release: Option<&'a str>,
    pub(crate) environment: Option<&'a str>,
    pub(crate) server_name: Option<&'a str>,
}

impl Prepared<'_> {
    /// As JSON, written here rather than by serde_json so that `init` does not pay for serde_json's first use.
    fn to_json(&self) -> Vec<u8> {
        let fields = [
            ("release", self.release),
            ("environment", self.environment),
            ("server_name", self.server_name),
        ];
        let room: usize = fields
            .iter()
            .map(|(key, value)| key.len() + 8 + value.map_or(0, |v| v.len() * 6))
            .sum();
        let mut storage = vec![0u8; room + 2];
        let mut out = FixedBuf::new(&mut storage);
        let written = out.raw(b"{").is_ok()
            && fields
                .iter()
                .filter_map(|(key, value)| Some((key, (*value)?)))
                .enumerate()
                .all(|(i, (key, value))| out.key(key, i == 0).is_ok() && out.string(value).is_ok())
            && out.raw(b"}").is_ok();
        if written {
            let len = out.len();
            storage.truncate(len);
            storage
        } else {
            b"{}".to_vec()
        }
    }
}

/// What `init` prepared: where records go and what the handler writes as is.
struct Armed {
    /// The records' directory, without a trailing slash, and the same NUL-terminated (for `mkdir`).
    dir: Vec<u8>,
    dir_c: Vec<u8>,
    /// The release, environment and server name, as JSON.
    json: Vec<u8>,
    /// Reads the crashing thread's scope without waiting or allocating (`hub::scope_for_crash_handler`, handed in
    /// by `init` so that this module does not depend on the caller's side).
    scope: ScopeReader,
}

/// See [`Armed::scope`].
pub(crate) type ScopeReader = fn() -> Option<std::sync::Arc<crate::scope::Scope>>;

/// The running session's file (`from`) and the name that marks it crashed (`to`), NUL-terminated, and the process
/// whose session it is (a child made by `fork` inherits this, but not the session).
struct SessionFile {
    from: Vec<u8>,
    to: Vec<u8>,
    pid: u32,
}

static SESSION_FILE: AtomicPtr<SessionFile> = AtomicPtr::new(std::ptr::null_mut());

/// Notes where this process's running session has its file, for the handler to mark it crashed.
pub(crate) fn note_session_file(path: &Path) {
    let from = path.as_os_str().as_encoded_bytes();
    let mut to = from.to_vec();
    // The mark tells whichever process later finds the file to end the session `crashed`, not `abnormal`.
    to.extend_from_slice(CRASHED_MARK.as_bytes());
    to.push(0);
    let mut from = from.to_vec();
    from.push(0);
    // Left in place when replaced, like `Armed`: the handler may be reading it.
    let pid = std::process::id();
    SESSION_FILE.store(
        Box::into_raw(Box::new(SessionFile { from, to, pid })),
        Ordering::Release,
    );
}

static ARMED: AtomicPtr<Armed> = AtomicPtr::new(std::ptr::null_mut());
/// Set by the first crash handled: one record per process.
static CRASHED: AtomicBool = AtomicBool::new(false);
/// The handler, attached once for the life of the process (detaching from another thread than the one that
/// attached would unmap that thread's alternate stack while it is in use).
static ATTACHED: OnceLock<Result<CrashHandler, String>> = OnceLock::new();

/// The handler's buffers: static, so that the handler allocates nothing, and in `.bss`, so that they cost no
/// memory until a crash touches them.
struct Buffers {
    path: UnsafeCell<[u8; PATH_BYTES]>,
    maps: UnsafeCell<[u8; MAPS_BYTES]>,
    scope: UnsafeCell<[u8; SCOPE_BYTES]>,
}

// SAFETY: only `on_crash` touches the buffers, after winning `CRASHED`, so one thread at a time.
unsafe impl Sync for Buffers {}

static BUFFERS: Buffers = Buffers {
    path: UnsafeCell::new([0; PATH_BYTES]),
    maps: UnsafeCell::new([0; MAPS_BYTES]),
    scope: UnsafeCell::new([0; SCOPE_BYTES]),
};

/// Installs the handler (once per process) and points it at `dir` (created, mode 0700, when the first crash needs
/// it), with `prepared` to write in every record. A later call replaces both; the handler stays.
///
/// # Errors
///
/// When the handler cannot be installed (another crash handler of the same kind is installed already).
pub(crate) fn install(dir: &Path, prepared: &Prepared<'_>, scope: ScopeReader) -> io::Result<()> {
    let dir = dir.as_os_str().as_encoded_bytes().to_vec();
    let mut dir_c = dir.clone();
    dir_c.push(0);
    let new = Box::into_raw(Box::new(Armed {
        dir,
        dir_c,
        json: prepared.to_json(),
        scope,
    }));
    // The old one is left in place: the handler may be reading it on another thread right now. It is a path and
    // a few strings, once per `init`.
    ARMED.store(new, Ordering::Release);
    let attached = ATTACHED.get_or_init(|| {
        // SAFETY: `on_crash` is async-signal-safe (see the module's documentation).
        let event = unsafe { make_crash_event(on_crash) };
        CrashHandler::attach(event).map_err(|e| e.to_string())
    });
    match attached {
        Ok(_) => Ok(()),
        Err(e) => Err(io::Error::other(format!(
            "the native crash handler could not be installed: {e}"
        ))),
    }
}

/// The thread that last reported a panic (its kernel thread id, 0 for none), and when it did (monotonic clock,
/// nanoseconds).
static PANIC_THREAD: AtomicU64 = AtomicU64::new(0);
static PANIC_AT: AtomicU64 = AtomicU64::new(0);
/// A SIGABRT this soon after the panic hooks returned on the same thread is the panic's abort (which follows at
/// once); a real abort on a thread that just caught a panic is rarely this quick.
const PANIC_ABORT_WINDOW_NANOS: u64 = 2 * 1_000_000_000;

/// Notes that the panic hooks have just returned on this thread after reporting a panic: if the panic aborts the
/// process (`panic = "abort"`), the handler leaves that SIGABRT alone, so one crash is reported once.
#[cfg_attr(
    not(feature = "panic"),
    expect(dead_code, reason = "only the panic hook reports panics")
)]
pub(crate) fn note_panic_reported() {
    // SAFETY: the `gettid` system call has no arguments and no preconditions (the libc wrapper is missing from
    // older musl).
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    PANIC_AT.store(monotonic_nanos(), Ordering::Release);
    PANIC_THREAD.store(tid.unsigned_abs(), Ordering::Release);
}

/// Whether this SIGABRT is the abort that follows a panic the panic hook reported.
fn is_abort_after_panic(header: &Header) -> bool {
    header.signal == libc::SIGABRT.unsigned_abs()
        && PANIC_THREAD.load(Ordering::Acquire) == u64::from(header.tid)
        && monotonic_nanos().saturating_sub(PANIC_AT.load(Ordering::Acquire))
            < PANIC_ABORT_WINDOW_NANOS
}

fn monotonic_nanos() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer; `clock_gettime` is async-signal-safe.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    u64::try_from(now.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(now.tv_nsec).unwrap_or(0)
}

/// Stops writing records (the SDK shut down); the handler stays installed and passes every signal on.
pub(crate) fn disarm() {
    ARMED.store(std::ptr::null_mut(), Ordering::Release);
}

/// Writes the crash record, then lets the signal go on to the handler that was there before.
fn on_crash(context: &CrashContext) -> CrashEventResult {
    if !CRASHED.swap(true, Ordering::AcqRel) {
        // SAFETY: a non-null pointer is an `Armed` that is never freed.
        if let Some(armed) = unsafe { ARMED.load(Ordering::Acquire).as_ref() } {
            write_record(armed, context);
        }
    }
    CrashEventResult::Handled(false)
}

fn write_record(armed: &Armed, context: &CrashContext) {
    let header = header(context);
    if is_abort_after_panic(&header) {
        return;
    }
    // SAFETY: a non-null pointer is a `SessionFile` that is never freed.
    let session = unsafe { SESSION_FILE.load(Ordering::Acquire).as_ref() };
    if let Some(session) = session.filter(|session| session.pid == header.pid) {
        // SAFETY: both names are NUL-terminated; `rename` is async-signal-safe.
        unsafe { libc::rename(session.from.as_ptr().cast(), session.to.as_ptr().cast()) };
    }
    // SAFETY: only this thread, which won `CRASHED`, uses the buffers.
    let mut path = FixedBuf::new(unsafe { &mut *BUFFERS.path.get() });
    let named = path.raw(&armed.dir).is_ok()
        && path.raw(b"/").is_ok()
        && path.display(header.pid).is_ok()
        && path.raw(b"-").is_ok()
        && path.display(header.tid).is_ok()
        && path.raw(b"-").is_ok()
        && path.display(header.secs).is_ok()
        && path.raw(b"-").is_ok()
        && path.display(header.nanos).is_ok()
        && path.raw(CRASH_RECORD_SUFFIX.as_bytes()).is_ok()
        && path.raw(b"\0").is_ok();
    if !named {
        return;
    }
    let create = || {
        // SAFETY: the path is NUL-terminated.
        unsafe {
            libc::open(
                path.bytes().as_ptr().cast(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                0o600,
            )
        }
    };
    let mut fd = create();
    if fd < 0 {
        // The first crash to need the directory makes it (its parent, the spool, exists).
        // SAFETY: the path is NUL-terminated; `mkdir` is async-signal-safe.
        unsafe { libc::mkdir(armed.dir_c.as_ptr().cast(), 0o700) };
        fd = create();
    }
    if fd < 0 {
        return;
    }
    let section = |tag: u32, parts: &[&[u8]]| {
        let len = parts.iter().map(|p| p.len()).sum();
        write_all(fd, &record::section_head(tag, len)) && parts.iter().all(|p| write_all(fd, p))
    };
    let _ = write_all(fd, record::MAGIC)
        && section(record::HEADER, &[&header.encode()])
        && section(record::PREPARED, &[&armed.json])
        && write_stack_section(fd, header.sp)
        && {
            // SAFETY: as above.
            let maps = unsafe { &mut *BUFFERS.maps.get() };
            let len = read_file(c"/proc/self/maps", maps);
            let len = keep_file_mappings(maps, len);
            section(record::MAPS, &[&maps[..len]])
        }
        && {
            // Last: the scope lives on the heap, which the crash may have broken.
            // SAFETY: as above.
            let storage = unsafe { &mut *BUFFERS.scope.get() };
            match (armed.scope)() {
                Some(scope) => {
                    let mut out = FixedBuf::new(storage);
                    let written = scope_copy::write(&scope, &mut out).is_ok()
                        && section(record::SCOPE, &[out.bytes()]);
                    // Dropping the last reference would free memory: leave the snapshot to the dying process.
                    std::mem::forget(scope);
                    written
                }
                None => true,
            }
        };
    // SAFETY: `fd` is ours; `fsync` and `close` are async-signal-safe.
    unsafe {
        libc::fsync(fd);
        libc::close(fd);
    }
}

fn header(context: &CrashContext) -> Header {
    // `crash-handler` keeps the kernel's `siginfo_t` bytes in a `signalfd_siginfo`; read them back as what they
    // are (both are 128 bytes) for the fault address.
    // SAFETY: same size; `siginfo_t`'s alignment is no stricter than the field's.
    let info: &libc::siginfo_t =
        unsafe { &*std::ptr::from_ref(&context.siginfo).cast::<libc::siginfo_t>() };
    // SAFETY: reading the union's address member is defined for every signal; it is meaningful for the faults.
    let fault_address = unsafe { info.si_addr() } as u64;
    let (pc, sp, fp, lr) = registers(context);
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer; `clock_gettime` is async-signal-safe.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    let mut thread_name = [0u8; 16];
    // SAFETY: PR_GET_NAME writes at most 16 bytes, NUL included.
    unsafe { libc::prctl(libc::PR_GET_NAME, thread_name.as_mut_ptr()) };
    Header {
        signal: context.siginfo.ssi_signo,
        code: info.si_code,
        fault_address,
        pid: context.pid.unsigned_abs(),
        tid: context.tid.unsigned_abs(),
        secs: u64::try_from(now.tv_sec).unwrap_or(0),
        nanos: u32::try_from(now.tv_nsec).unwrap_or(0),
        pc,
        sp,
        fp,
        lr,
        thread_name,
    }
}

/// The crashing thread's program counter, stack pointer, frame pointer and link register.
#[cfg(target_arch = "x86_64")]
fn registers(context: &CrashContext) -> (u64, u64, u64, u64) {
    let gregs = &context.context.uc_mcontext.gregs;
    let reg = |i: libc::c_int| gregs[usize::try_from(i).unwrap_or(0)] as u64;
    (
        reg(libc::REG_RIP),
        reg(libc::REG_RSP),
        reg(libc::REG_RBP),
        0,
    )
}

#[cfg(target_arch = "aarch64")]
fn registers(context: &CrashContext) -> (u64, u64, u64, u64) {
    let mc = &context.context.uc_mcontext;
    (mc.pc, mc.sp, mc.regs[29], mc.regs[30])
}

/// Writes the stack section: the crashing thread's stack from `sp` up, straight from memory into the record, as
/// far as it is readable and at most [`STACK_BYTES`]. After a stack overflow `sp` is below the mapped stack; the
/// section then starts at the first readable page above it. The section's head (its length and the address of its
/// first byte) is written last, over a placeholder, once they are known. `false` if the file refused a write.
fn write_stack_section(fd: libc::c_int, sp: u64) -> bool {
    // SAFETY: `lseek` on our own file descriptor.
    let head_at = unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) };
    // Until it is rewritten, the head claims more bytes than any record holds, so that a record whose head could
    // not be rewritten reads as cut short here rather than as sections made of stack bytes.
    let mut placeholder = [0u8; 16];
    placeholder[..8].copy_from_slice(&record::section_head(record::STACK, u32::MAX as usize));
    if head_at < 0 || !write_all(fd, &placeholder) {
        return false;
    }
    let (start, len) = match usize::try_from(sp) {
        Ok(sp) => write_stack_from(fd, sp),
        Err(_) => (0, 0),
    };
    let mut head = [0u8; 16];
    head[..8].copy_from_slice(&record::section_head(record::STACK, 8 + len));
    head[8..].copy_from_slice(&(start as u64).to_le_bytes());
    pwrite_all(fd, &head, head_at)
}

/// Writes the stack from the first readable byte at or above `sp` (looking [`GUARD_SEARCH`] bytes up, a page at a
/// time): the address written from and the length.
fn write_stack_from(fd: libc::c_int, sp: usize) -> (usize, usize) {
    let mut start = sp;
    while start.wrapping_sub(sp) <= GUARD_SEARCH {
        let len = write_own_memory(fd, start, STACK_BYTES);
        if len > 0 {
            return (start, len);
        }
        start = (start / PAGE).wrapping_add(1).wrapping_mul(PAGE);
        if start == 0 {
            break;
        }
    }
    (sp, 0)
}

/// Keeps, in place, the lines of the first `len` bytes of `/proc/self/maps` in `buf` that map a file (a path that
/// starts with `/`); returns their length. Anonymous memory (thread stacks, the heap) comes before most libraries
/// in address order and would crowd them out of a large process's record; only files can be unwound and symbolicated.
fn keep_file_mappings(buf: &mut [u8], len: usize) -> usize {
    let len = len.min(buf.len());
    let (mut kept, mut start) = (0, 0);
    while start < len {
        let end = buf[start..len]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(len, |i| start + i + 1);
        if buf[start..end].windows(2).any(|pair| pair == b" /") {
            buf.copy_within(start..end, kept);
            kept += end - start;
        }
        start = end;
    }
    kept
}

/// Reads a file (a `/proc` one) into `buf`: the number of bytes read.
fn read_file(path: &std::ffi::CStr, buf: &mut [u8]) -> usize {
    // SAFETY: a NUL-terminated path.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return 0;
    }
    let len = read_to_fill(fd, buf);
    // SAFETY: `fd` is ours.
    unsafe { libc::close(fd) };
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_file_mappings_are_kept() {
        let maps = b"\
55d0a0000000-55d0a0002000 r--p 00000000 fe:00 11 /work/bin/app
7f0000000000-7f0000800000 rw-p 00000000 00:00 0 
7f0000800000-7f0000801000 ---p 00000000 00:00 0 
7f0000900000-7f0000a00000 r-xp 00026000 fe:00 12   /usr/lib/libc.so.6
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]
7f0000b00000-7f0000b01000 r--p 00000000 fe:00 13 /opt/my app/lib.so";
        let mut buf = maps.to_vec();
        let len = keep_file_mappings(&mut buf, maps.len());
        assert_eq!(
            std::str::from_utf8(&buf[..len]).unwrap(),
            "55d0a0000000-55d0a0002000 r--p 00000000 fe:00 11 /work/bin/app\n\
             7f0000900000-7f0000a00000 r-xp 00026000 fe:00 12   /usr/lib/libc.so.6\n\
             7f0000b00000-7f0000b01000 r--p 00000000 fe:00 13 /opt/my app/lib.so"
        );
        assert_eq!(keep_file_mappings(&mut buf, 0), 0);
    }

    #[test]
    fn the_prepared_json_reads_back() {
        let prepared = Prepared {
            release: Some("app@1.0 \"beta\"\n"),
            environment: None,
            server_name: Some("host-ü"),
        };
        let json: serde_json::Value = serde_json::from_slice(&prepared.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"release": "app@1.0 \"beta\"\n", "server_name": "host-ü"})
        );
        assert_eq!(Prepared::default().to_json(), b"{}");
        let control = Prepared {
            release: Some("\u{1}\u{1f}"),
            ..Prepared::default()
        };
        let json: serde_json::Value = serde_json::from_slice(&control.to_json()).unwrap();
        assert_eq!(json["release"], "\u{1}\u{1f}");
    }
}
