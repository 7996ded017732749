//! Native crashes: SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT and stack overflows, recorded by a signal handler and
//! reported as fatal events at the next start (feature `native-crash`, Linux on x86_64 and aarch64; elsewhere this
//! module is not compiled).
//!
//! A signal handler can do very little safely: no allocation, no lock, only the system calls that POSIX lists as
//! async-signal-safe. So the work is split in two:
//!
//! | when | file | what |
//! |---|---|---|
//! | `init` | `handler.rs` | installs the handler (`crash-handler`) and names the records' directory in the spool |
//! | the crash | `handler.rs`, `signal_safe.rs`, `scope_copy.rs` | writes a record (`record.rs`): signal, registers, the stack's bytes, the memory map, the scope |
//! | the next start, on the worker | `report.rs`, `unwind.rs` | unwinds the saved stack (framehop), symbolicates it, builds the fatal event |
//!
//! The spool keeps the records (`delivery/spool/crash_records.rs`): a record is taken by one process, and deleted
//! once its event is stored in the spool for delivery, so a crash is reported once even if the next start dies too.
//!
//! This is an in-process record, symbolicated at the next start, rather than a minidump written by a second
//! process: see `docs/architecture.md` ("Native crashes") for what each would cost.

#[allow(
    unsafe_code,
    reason = "a signal handler: system calls, static buffers and the kernel's signal context"
)]
pub(crate) mod handler;
pub(crate) mod record;
pub(crate) mod report;
mod scope_copy;
#[allow(unsafe_code, reason = "the system calls a signal handler may make")]
mod signal_safe;
#[cfg_attr(
    test,
    allow(unsafe_code, reason = "the unwinding test reads its own registers")
)]
pub(crate) mod unwind;
