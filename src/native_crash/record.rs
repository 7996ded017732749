//! The crash record: the file the signal handler writes, and its reading at the next start.
//!
//! A record is `FLCRASH1` followed by sections, each a tag (`u32`), a length (`u32`) and that many bytes, all
//! little-endian. The handler writes them in order of need: the header (signal, registers, thread), what `init`
//! prepared (release, environment), the crashing thread's stack, the process's memory map, and the scope last,
//! because reading the scope touches the program's heap, which a crash may have broken. A second fault there ends
//! the process at once, and the sections already written are still whole; a section cut short is ignored.

/// The first bytes of every record.
pub(super) const MAGIC: &[u8; 8] = b"FLCRASH1";

/// Section tags.
pub(super) const HEADER: u32 = 1;
pub(super) const PREPARED: u32 = 2;
pub(super) const STACK: u32 = 3;
pub(super) const MAPS: u32 = 4;
pub(super) const SCOPE: u32 = 5;

/// The first section: what the signal and the crashing thread's registers said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) signal: u32,
    /// `si_code`: why the signal came (`SEGV_MAPERR`, `SI_TKILL`, …).
    pub(crate) code: i32,
    /// `si_addr`: the faulting address, for SIGSEGV, SIGBUS, SIGILL and SIGFPE.
    pub(crate) fault_address: u64,
    pub(crate) pid: u32,
    pub(crate) tid: u32,
    /// When the handler ran, as seconds and nanoseconds since the Unix epoch.
    pub(crate) secs: u64,
    pub(crate) nanos: u32,
    /// The instruction that faulted, the stack pointer and the frame pointer.
    pub(crate) pc: u64,
    pub(crate) sp: u64,
    pub(crate) fp: u64,
    /// The link register (aarch64); 0 on x86_64.
    pub(crate) lr: u64,
    /// The thread's name as the kernel has it (15 bytes at most), NUL-padded.
    pub(crate) thread_name: [u8; 16],
}

impl Header {
    pub(super) const LEN: usize = 4 + 4 + 8 + 4 + 4 + 8 + 4 + 8 * 4 + 16;

    pub(super) fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(&self.signal.to_le_bytes());
        put(&self.code.to_le_bytes());
        put(&self.fault_address.to_le_bytes());
        put(&self.pid.to_le_bytes());
        put(&self.tid.to_le_bytes());
        put(&self.secs.to_le_bytes());
        put(&self.nanos.to_le_bytes());
        put(&self.pc.to_le_bytes());
        put(&self.sp.to_le_bytes());
        put(&self.fp.to_le_bytes());
        put(&self.lr.to_le_bytes());
        put(&self.thread_name);
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::LEN {
            return None;
        }
        let mut rest = bytes;
        let mut take = |n: usize| {
            let (head, tail) = rest.split_at(n);
            rest = tail;
            head
        };
        let u32_of = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
        let u64_of = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        Some(Header {
            signal: u32_of(take(4)),
            code: i32::from_le_bytes(take(4).try_into().expect("4 bytes")),
            fault_address: u64_of(take(8)),
            pid: u32_of(take(4)),
            tid: u32_of(take(4)),
            secs: u64_of(take(8)),
            nanos: u32_of(take(4)),
            pc: u64_of(take(8)),
            sp: u64_of(take(8)),
            fp: u64_of(take(8)),
            lr: u64_of(take(8)),
            thread_name: take(16).try_into().expect("16 bytes"),
        })
    }

    /// The thread's name, if the kernel had one.
    pub(crate) fn thread_name(&self) -> Option<String> {
        let end = self.thread_name.iter().position(|&b| b == 0).unwrap_or(16);
        let name = String::from_utf8_lossy(&self.thread_name[..end]).into_owned();
        (!name.is_empty()).then_some(name)
    }
}

/// The eight bytes that start a section of `len` bytes.
pub(super) fn section_head(tag: u32, len: usize) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&tag.to_le_bytes());
    out[4..].copy_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
    out
}

/// A record read back at the next start.
#[derive(Debug, Default)]
pub(crate) struct Record {
    pub(crate) header: Header,
    /// What `init` prepared: the release, environment and distribution, as JSON.
    pub(crate) prepared: Vec<u8>,
    /// The address of the first saved stack byte.
    pub(crate) stack_start: u64,
    /// The crashing thread's stack from its stack pointer up, as far as it was mapped (and at most the handler's
    /// buffer).
    pub(crate) stack: Vec<u8>,
    /// `/proc/self/maps` at the crash.
    pub(crate) maps: Vec<u8>,
    /// The scope of the crashing thread (or the main thread's) as JSON, if the handler could read it.
    pub(crate) scope: Option<Vec<u8>>,
}

/// Reads a record; `None` unless it starts with the magic and a whole header. Unknown sections are skipped and a
/// section cut short ends the reading.
pub(crate) fn parse(bytes: &[u8]) -> Option<Record> {
    let mut rest = bytes.strip_prefix(MAGIC)?;
    let mut record = Record::default();
    let mut has_header = false;
    while rest.len() >= 8 {
        let tag = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
        let len = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes")) as usize;
        let Some(body) = rest.get(8..8 + len) else {
            break;
        };
        rest = &rest[8 + len..];
        match tag {
            HEADER => {
                record.header = Header::decode(body)?;
                has_header = true;
            }
            PREPARED => record.prepared = body.to_vec(),
            STACK if body.len() >= 8 => {
                record.stack_start = u64::from_le_bytes(body[..8].try_into().expect("8 bytes"));
                record.stack = body[8..].to_vec();
            }
            MAPS => record.maps = body.to_vec(),
            SCOPE => record.scope = Some(body.to_vec()),
            _ => {}
        }
    }
    has_header.then_some(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            signal: 11,
            code: 1,
            fault_address: 0,
            pid: 4242,
            tid: 4243,
            secs: 1_800_000_000,
            nanos: 123_456_789,
            pc: 0x5555_0000_1234,
            sp: 0x7ffc_0000_0000,
            fp: 0x7ffc_0000_0040,
            lr: 0,
            thread_name: *b"worker-7\0\0\0\0\0\0\0\0",
        }
    }

    fn section(out: &mut Vec<u8>, tag: u32, body: &[u8]) {
        out.extend_from_slice(&section_head(tag, body.len()));
        out.extend_from_slice(body);
    }

    #[test]
    fn a_whole_record_reads_back() {
        let mut bytes = MAGIC.to_vec();
        section(&mut bytes, HEADER, &header().encode());
        section(&mut bytes, PREPARED, br#"{"release":"r"}"#);
        let mut stack = 0x7ffc_0000_0000u64.to_le_bytes().to_vec();
        stack.extend_from_slice(&[7; 64]);
        section(&mut bytes, STACK, &stack);
        section(&mut bytes, 99, b"a section from a later version");
        section(&mut bytes, MAPS, b"maps");
        section(&mut bytes, SCOPE, b"{}");
        let record = parse(&bytes).unwrap();
        assert_eq!(record.header, header());
        assert_eq!(record.header.thread_name().as_deref(), Some("worker-7"));
        assert_eq!(record.prepared, br#"{"release":"r"}"#);
        assert_eq!(record.stack_start, 0x7ffc_0000_0000);
        assert_eq!(record.stack, vec![7; 64]);
        assert_eq!(record.maps, b"maps");
        assert_eq!(record.scope.as_deref(), Some(&b"{}"[..]));
    }

    #[test]
    fn every_cut_of_a_record_is_whole_sections_or_nothing() {
        let mut bytes = MAGIC.to_vec();
        section(&mut bytes, HEADER, &header().encode());
        let after_header = bytes.len();
        section(&mut bytes, MAPS, b"maps");
        section(&mut bytes, SCOPE, b"{\"tags\":{}}");
        for cut in 0..bytes.len() {
            let record = parse(&bytes[..cut]);
            if cut < after_header {
                assert!(record.is_none(), "cut at {cut}");
                continue;
            }
            let record = record.unwrap();
            assert!(record.maps.is_empty() || record.maps == b"maps");
            if let Some(scope) = record.scope {
                assert_eq!(scope, b"{\"tags\":{}}");
            }
        }
        assert!(parse(b"not a record").is_none());
    }

    #[test]
    fn a_stack_head_left_as_its_placeholder_ends_the_reading() {
        let mut bytes = MAGIC.to_vec();
        section(&mut bytes, HEADER, &header().encode());
        bytes.extend_from_slice(&section_head(STACK, u32::MAX as usize));
        bytes.extend_from_slice(&[0; 8]);
        // Stack bytes that look like a section head must not be read as one.
        bytes.extend_from_slice(&section_head(HEADER, 3));
        bytes.extend_from_slice(b"xyz");
        let record = parse(&bytes).unwrap();
        assert_eq!(record.header, header());
        assert!(record.stack.is_empty() && record.maps.is_empty());
    }
}
