//! The cheap half of a stack trace: [`capture`] records the calling thread's instruction pointers as a
//! [`RawTrace`], with no symbol resolution, on the thread that reports.

/// The most frames [`capture`] records. A deeper stack (runaway recursion) keeps its most recent
/// frames, which are the ones that explain the failure.
pub(crate) const MAX_FRAMES: usize = 256;

/// The most bytes one address takes packed: 64 bits, 7 to a byte.
const MAX_PACKED: usize = 10;

/// A captured call stack: bare instruction pointers, most recent call first, as
/// `backtrace::trace` yields them. Cheap to take and to send to the background thread.
///
/// The addresses are packed: each is stored as its difference from the one before (the first as is), zigzag-encoded
/// and written 7 bits to a byte (LEB128). Return addresses within one program lie close together, so most take 2–4
/// bytes instead of 8, and a queue of 10,000 errors holds about 1.5 MB less.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RawTrace {
    /// The packed return addresses (the first one is inside `backtrace::trace` itself), at most [`MAX_FRAMES`].
    packed: Box<[u8]>,
}

impl RawTrace {
    /// A trace made of the given addresses, most recent first (a native crash's, unwound at the next start).
    #[cfg(any(test, faultline_native_crash))]
    pub(crate) fn from_ips(ips: Vec<u64>) -> Self {
        let mut packer = Packer::new();
        for ip in ips {
            packer.push(ip);
        }
        packer.finish()
    }

    /// The recorded addresses, most recent call first.
    pub(crate) fn ips(&self) -> Ips<'_> {
        Ips {
            packed: &self.packed,
            previous: 0,
        }
    }

    /// The number of recorded addresses (inlined calls later expand one into several frames).
    pub(crate) fn len(&self) -> usize {
        // Each address ends with the one byte of its encoding that has the high bit clear.
        self.packed.iter().filter(|&&byte| byte < 0x80).count()
    }

    /// Whether no address was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.packed.is_empty()
    }
}

/// The addresses of a [`RawTrace`], unpacked one by one.
#[derive(Clone, Debug)]
pub(crate) struct Ips<'a> {
    packed: &'a [u8],
    previous: u64,
}

impl Iterator for Ips<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        let mut zigzag = 0u64;
        let mut shift = 0;
        loop {
            let (&byte, rest) = self.packed.split_first()?;
            self.packed = rest;
            if shift < 64 {
                zigzag |= u64::from(byte & 0x7f) << shift;
            }
            shift += 7;
            if byte < 0x80 {
                break;
            }
        }
        let delta = (zigzag >> 1) ^ (zigzag & 1).wrapping_neg();
        self.previous = self.previous.wrapping_add(delta);
        Some(self.previous)
    }
}

/// Packs addresses into a buffer on the stack, then into a [`RawTrace`] of exactly their size.
struct Packer {
    buffer: [u8; MAX_FRAMES * MAX_PACKED],
    len: usize,
    count: usize,
    previous: u64,
}

impl Packer {
    fn new() -> Self {
        Packer {
            buffer: [0; MAX_FRAMES * MAX_PACKED],
            len: 0,
            count: 0,
            previous: 0,
        }
    }

    /// Whether another address fits.
    fn has_room(&self) -> bool {
        self.count < MAX_FRAMES
    }

    /// Adds `ip`, unless [`MAX_FRAMES`] addresses are in already.
    fn push(&mut self, ip: u64) {
        if !self.has_room() {
            return;
        }
        // The difference as a signed number, then zigzag: small differences either way make small numbers.
        let delta = ip.wrapping_sub(self.previous) as i64;
        let mut zigzag = ((delta << 1) ^ (delta >> 63)) as u64;
        self.previous = ip;
        self.count += 1;
        loop {
            // The cast keeps the low 7 bits: what this byte holds.
            let low = (zigzag & 0x7f) as u8;
            zigzag >>= 7;
            if zigzag == 0 {
                self.buffer[self.len] = low;
                self.len += 1;
                return;
            }
            self.buffer[self.len] = low | 0x80;
            self.len += 1;
        }
    }

    fn finish(&self) -> RawTrace {
        RawTrace {
            packed: Box::from(&self.buffer[..self.len]),
        }
    }
}

/// Records the calling thread's stack as instruction pointers, with no symbol resolution: a walk of at most
/// [`MAX_FRAMES`] frames into a buffer on the stack, then one allocation of exactly the addresses found, so a
/// queued trace holds no spare room. Everything costly happens later in
/// [`Symbolizer::resolve`](super::symbolizer::Symbolizer::resolve).
///
/// This function's frame and `walk`'s sit at the top of every trace. Both are `faultline::` frames, which the
/// symbolizer trims with the rest of the SDK's (its `MACHINERY` list); a helper added between this and
/// `backtrace::trace_unsynchronized` must be one that list matches too.
pub(crate) fn capture() -> RawTrace {
    let mut packer = Packer::new();
    walk(|frame| {
        let ip = frame.ip().addr();
        // The outermost frame of a thread can report a null ip: nothing to resolve there.
        if ip != 0 {
            packer.push(ip as u64);
        }
        packer.has_room()
    });
    packer.finish()
}

/// Walks the calling thread's stack without backtrace's global lock.
///
/// `backtrace::trace` takes a process-wide lock that `backtrace::resolve` also holds, for each address it
/// resolves. On the background thread the first resolution reads the program's debug info, which takes from tens
/// of milliseconds to seconds; a capture on any other thread in that window would wait for it, which the SDK
/// promises never to do. The lock also panics once poisoned, which would turn a panic in symbol resolution into a
/// panic in every later capture. So this walks the stack the way the standard library's own backtraces do: with
/// `trace_unsynchronized`, which only unwinds and touches none of the resolver's state.
#[cfg(not(all(windows, any(target_arch = "x86", target_arch = "arm"))))]
#[expect(
    unsafe_code,
    reason = "the one unsynchronized stack walk; see the safety comment"
)]
fn walk(callback: impl FnMut(&backtrace::Frame) -> bool) {
    // SAFETY: `trace_unsynchronized` is unsafe only because it skips the crate's lock. On these targets the walk is
    // `_Unwind_Backtrace` (Unix) or `RtlVirtualUnwind` (64-bit Windows), both safe to run from several threads at
    // once and independent of the symbolizer's caches, which stay behind the lock in `resolve`. std relies on the
    // same property for `std::backtrace`. The callback only writes to a buffer within its bounds (the walk stops
    // when it is full) and cannot unwind into the unwinder.
    unsafe { backtrace::trace_unsynchronized(callback) }
}

/// On 32-bit Windows the walk goes through dbghelp, which is not thread-safe: keep the lock there.
#[cfg(all(windows, any(target_arch = "x86", target_arch = "arm")))]
fn walk(callback: impl FnMut(&backtrace::Frame) -> bool) {
    backtrace::trace(callback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn recurse(depth: usize) -> RawTrace {
        if depth == 0 {
            capture()
        } else {
            std::hint::black_box(recurse(depth - 1))
        }
    }

    #[test]
    fn capture_stops_at_max_frames() {
        let raw = recurse(MAX_FRAMES + 50);
        assert_eq!(raw.len(), MAX_FRAMES);
        assert_eq!(raw.ips().count(), MAX_FRAMES);
    }

    #[test]
    fn addresses_unpack_as_they_were_packed() {
        let cases: [&[u64]; 5] = [
            &[],
            &[0],
            &[
                0x5555_5555_1234,
                0x5555_5555_1000,
                0x5555_5556_0000,
                0x7fff_f7a0_0000,
                0x5555_5555_0001,
            ],
            &[
                u64::MAX,
                0,
                u64::MAX,
                1,
                u64::MAX - 1,
                1 << 63,
                (1 << 63) - 1,
            ],
            &[1, 2, 4, 8, 16, 1 << 20, 1 << 40, 1 << 62],
        ];
        for ips in cases {
            let raw = RawTrace::from_ips(ips.to_vec());
            assert_eq!(raw.ips().collect::<Vec<_>>(), ips);
            assert_eq!(raw.len(), ips.len());
            assert_eq!(raw.is_empty(), ips.is_empty());
        }
        let many: Vec<u64> = (0..MAX_FRAMES as u64 + 10)
            .map(|i| i * 0x1_0000_0001)
            .collect();
        let raw = RawTrace::from_ips(many.clone());
        assert_eq!(raw.ips().collect::<Vec<_>>(), many[..MAX_FRAMES]);
    }

    #[test]
    fn a_real_stack_packs_into_a_few_bytes_an_address() {
        let raw = recurse(100);
        let ips: Vec<u64> = raw.ips().collect();
        assert!(ips.len() > 100, "{} addresses", ips.len());
        // The recursion's return addresses are all the same: after the first, one byte each.
        let repeated = ips.windows(2).filter(|pair| pair[0] == pair[1]).count();
        assert!(repeated >= 90, "{repeated} repeats");
        assert!(
            raw.packed.len() < 3 * ips.len(),
            "{} bytes for {} addresses",
            raw.packed.len(),
            ips.len()
        );
    }

    #[test]
    fn traces_move_to_the_background_thread() {
        fn assert_send<T: Send + 'static>() {}
        assert_send::<RawTrace>();
    }
}
