//! Writing text without allocating, for the signal handler: a writer into a fixed buffer, JSON strings and values
//! on top of it, and the few system calls the handler makes, wrapped so that they never panic.
//!
//! Nothing here allocates, takes a lock or calls anything that is not async-signal-safe: `core::fmt` formats
//! integers and floats into buffers on the stack, and the system calls are `open`, `write`, `pwrite`, `read` and
//! `close`, all safe in a signal handler.

use std::fmt::{self, Write as _};

/// The buffer was too small for what was written.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Full;

/// A writer into a fixed byte buffer that refuses, rather than grows, when it is full.
pub(super) struct FixedBuf<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> FixedBuf<'a> {
    pub(super) fn new(buf: &'a mut [u8]) -> Self {
        FixedBuf { buf, len: 0 }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Goes back to `len` bytes, dropping what was written after (a part that did not fit).
    pub(super) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub(super) fn raw(&mut self, bytes: &[u8]) -> Result<(), Full> {
        let end = self.len.checked_add(bytes.len()).ok_or(Full)?;
        let room = self.buf.get_mut(self.len..end).ok_or(Full)?;
        room.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Formats `value` with `Display` (integers, floats, ids): `core::fmt` needs no allocation for these.
    pub(super) fn display(&mut self, value: impl fmt::Display) -> Result<(), Full> {
        write!(self, "{value}").map_err(|_| Full)
    }

    /// A JSON string: quoted, with quotes, backslashes and control characters escaped.
    pub(super) fn string(&mut self, text: &str) -> Result<(), Full> {
        self.raw(b"\"")?;
        let bytes = text.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let escape: Option<&[u8]> = match b {
                b'"' => Some(b"\\\""),
                b'\\' => Some(b"\\\\"),
                b'\n' => Some(b"\\n"),
                b'\r' => Some(b"\\r"),
                b'\t' => Some(b"\\t"),
                0..=0x1f => None,
                _ => continue,
            };
            self.raw(&bytes[start..i])?;
            match escape {
                Some(escape) => self.raw(escape)?,
                None => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.raw(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[usize::from(b >> 4)],
                        HEX[usize::from(b & 0xf)],
                    ])?;
                }
            }
            start = i + 1;
        }
        self.raw(&bytes[start..])?;
        self.raw(b"\"")
    }

    /// `"key":` with the key escaped, preceded by a comma unless `first`.
    pub(super) fn key(&mut self, key: &str, first: bool) -> Result<(), Full> {
        if !first {
            self.raw(b",")?;
        }
        self.string(key)?;
        self.raw(b":")
    }

    /// A JSON value, nested at most `depth` deep (deeper values become `null`). Non-finite floats, which JSON
    /// cannot carry, become `null` too.
    pub(super) fn value(&mut self, value: &serde_json::Value, depth: usize) -> Result<(), Full> {
        use serde_json::Value;
        match value {
            Value::Null => self.raw(b"null"),
            Value::Bool(b) => self.raw(if *b { b"true" } else { b"false" }),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    self.display(i)
                } else if let Some(u) = n.as_u64() {
                    self.display(u)
                } else {
                    self.float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => self.string(s),
            _ if depth == 0 => self.raw(b"null"),
            Value::Array(items) => {
                self.raw(b"[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.raw(b",")?;
                    }
                    self.value(item, depth - 1)?;
                }
                self.raw(b"]")
            }
            Value::Object(map) => {
                self.raw(b"{")?;
                for (i, (key, item)) in map.iter().enumerate() {
                    self.key(key, i == 0)?;
                    self.value(item, depth - 1)?;
                }
                self.raw(b"}")
            }
        }
    }

    /// A float, or `null` where JSON has no number for it.
    pub(super) fn float(&mut self, x: f64) -> Result<(), Full> {
        if x.is_finite() {
            self.display(x)
        } else {
            self.raw(b"null")
        }
    }
}

impl fmt::Write for FixedBuf<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.raw(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

/// Writes all of `bytes` to `fd`, retrying short writes and interruptions; `false` if the file refused.
pub(super) fn write_all(fd: libc::c_int, bytes: &[u8]) -> bool {
    let done = transfer(bytes.len(), |done| {
        let rest = &bytes[done..];
        // SAFETY: the pointer and length describe a live slice.
        unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) }
    });
    done == bytes.len()
}

/// Makes the system call `call(done)` with `done` the bytes moved so far, until `len` are moved, retrying
/// interruptions; stops at an error or end of file. Returns how many bytes were moved.
fn transfer(len: usize, mut call: impl FnMut(usize) -> isize) -> usize {
    let mut done = 0;
    while done < len {
        let n = call(done);
        if n < 0 && errno() == libc::EINTR {
            continue;
        }
        if n <= 0 {
            break;
        }
        done += n.unsigned_abs();
    }
    done
}

/// Reads from `fd` into `buf` until it is full or the file ends; the number of bytes read.
pub(super) fn read_to_fill(fd: libc::c_int, buf: &mut [u8]) -> usize {
    transfer(buf.len(), |done| {
        let room = &mut buf[done..];
        // SAFETY: the pointer and length describe a live, writable slice.
        unsafe { libc::read(fd, room.as_mut_ptr().cast(), room.len()) }
    })
}

/// Writes up to `len` bytes of this process's memory at `address` to `fd` (a regular file): the kernel copies them
/// and stops, without a fault, at the first byte that is not readable (unmapped or a guard page). Returns how many
/// bytes went out; 0 when the first byte is not readable.
///
/// Unlike `process_vm_readv`, `write` is allowed by every system-call filter (a systemd service's
/// `SystemCallFilter=@system-service` leaves `process_vm_readv` out, and kills the process that calls it).
pub(super) fn write_own_memory(fd: libc::c_int, address: usize, len: usize) -> usize {
    // A page at a time: kernels before 5.16 fail a whole chunk that ends in an unreadable byte, so a longer write
    // could stop up to a page before the true end.
    const PAGE: usize = 4096;
    transfer(len, |done| {
        let at = address.wrapping_add(done);
        let chunk = (len - done).min(PAGE - at % PAGE);
        // SAFETY: the kernel reads the range and reports what it cannot read (EFAULT) instead of faulting.
        unsafe { libc::write(fd, std::ptr::without_provenance(at), chunk) }
    })
}

/// Writes all of `bytes` to `fd` at `offset`, leaving the file's position alone; `false` if the file refused.
pub(super) fn pwrite_all(fd: libc::c_int, bytes: &[u8], offset: libc::off_t) -> bool {
    let done = transfer(bytes.len(), |done| {
        let rest = &bytes[done..];
        let at = offset.saturating_add(libc::off_t::try_from(done).unwrap_or(libc::off_t::MAX));
        // SAFETY: the pointer and length describe a live slice.
        unsafe { libc::pwrite(fd, rest.as_ptr().cast(), rest.len(), at) }
    });
    done == bytes.len()
}

fn errno() -> libc::c_int {
    // SAFETY: `__errno_location` returns this thread's errno, which is always valid to read.
    unsafe { *libc::__errno_location() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_written_here_parses_back_the_same() {
        let value = serde_json::json!({
            "text": "quote \" backslash \\ newline \n tab \t bell \u{7} é 漢",
            "n": [0, -7, u64::MAX, 1.5, 1e300],
            "nested": {"a": {"b": {"c": true}}},
            "none": null,
        });
        let mut storage = [0u8; 512];
        let mut out = FixedBuf::new(&mut storage);
        out.value(&value, 8).unwrap();
        let back: serde_json::Value = serde_json::from_slice(out.bytes()).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn depth_and_room_are_bounded() {
        let value = serde_json::json!({"a": {"b": {"c": 1}}});
        let mut storage = [0u8; 64];
        let mut out = FixedBuf::new(&mut storage);
        out.value(&value, 2).unwrap();
        assert_eq!(out.bytes(), br#"{"a":{"b":null}}"#);

        let mut small = [0u8; 8];
        let mut out = FixedBuf::new(&mut small);
        assert_eq!(out.string("more than eight bytes"), Err(Full));
        assert!(out.len() <= 8);
        out.truncate(0);
        assert_eq!(out.bytes(), b"");
        assert_eq!(out.float(f64::NAN), Ok(()));
        assert_eq!(out.bytes(), b"null");
    }

    #[test]
    fn own_memory_is_written_and_unreadable_memory_is_not() {
        use std::io::{Read, Seek};
        use std::os::fd::AsRawFd;

        let mut file = tempfile::tempfile().unwrap();
        let source: Vec<u8> = (0..=255).collect();
        let fd = file.as_raw_fd();
        assert_eq!(write_own_memory(fd, source.as_ptr() as usize, 256), 256);
        // The first page is never mapped: nothing is written, and nothing faults.
        assert_eq!(write_own_memory(fd, 16, 256), 0);
        assert!(pwrite_all(fd, b"ab", 1));
        file.rewind().unwrap();
        let mut back = Vec::new();
        file.read_to_end(&mut back).unwrap();
        let mut expected = source.clone();
        expected[1..3].copy_from_slice(b"ab");
        assert_eq!(back, expected);
    }

    #[test]
    fn a_write_that_runs_into_an_unreadable_page_stops_there() {
        use std::os::fd::AsRawFd;

        // SAFETY: two fresh anonymous pages, the second made unreadable; unmapped at the end.
        let base = unsafe {
            let base = libc::mmap(
                std::ptr::null_mut(),
                8192,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(base, libc::MAP_FAILED);
            std::ptr::write_bytes(base.cast::<u8>(), 7, 4096);
            assert_eq!(
                libc::mprotect(base.cast::<u8>().add(4096).cast(), 4096, libc::PROT_NONE),
                0
            );
            base as usize
        };
        let file = tempfile::tempfile().unwrap();
        let fd = file.as_raw_fd();
        // From 100 bytes before the unreadable page, asking for 1,000: exactly the 100 readable ones go out.
        assert_eq!(write_own_memory(fd, base + 4096 - 100, 1000), 100);
        // SAFETY: our own file descriptor.
        assert_eq!(unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) }, 100);
        assert_eq!(file.metadata().unwrap().len(), 100);
        // SAFETY: the mapping made above.
        unsafe { libc::munmap(std::ptr::without_provenance_mut(base), 8192) };
    }
}
