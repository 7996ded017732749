//! The cheap half of a stack trace: [`capture`] records the calling thread's instruction pointers as a
//! [`RawTrace`], with no symbol resolution, on the thread that reports.

/// The most frames [`capture`] records. A deeper stack (runaway recursion) keeps its most recent
/// frames, which are the ones that explain the failure.
pub(crate) const MAX_FRAMES: usize = 256;

/// A captured call stack: bare instruction pointers, most recent call first, as
/// `backtrace::trace` yields them. Cheap to take and to send to the background thread.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RawTrace {
    /// Return addresses (the first one is inside `backtrace::trace` itself), at most [`MAX_FRAMES`].
    ips: Box<[u64]>,
}

impl RawTrace {
    /// A trace made of the given addresses, most recent first (a native crash's, unwound at the next start).
    #[cfg(any(test, faultline_native_crash))]
    pub(crate) fn from_ips(ips: Vec<u64>) -> Self {
        Self {
            ips: ips.into_boxed_slice(),
        }
    }

    /// The recorded addresses, most recent call first.
    pub(crate) fn ips(&self) -> &[u64] {
        &self.ips
    }

    /// The number of recorded addresses (inlined calls later expand one into several frames).
    pub(crate) fn len(&self) -> usize {
        self.ips.len()
    }

    /// Whether no address was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.ips.is_empty()
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
    let mut buffer = [0u64; MAX_FRAMES];
    let mut len = 0;
    walk(|frame| {
        let ip = frame.ip().addr();
        // The outermost frame of a thread can report a null ip: nothing to resolve there.
        if ip != 0 {
            buffer[len] = ip as u64;
            len += 1;
        }
        len < MAX_FRAMES
    });
    RawTrace {
        ips: Box::from(&buffer[..len]),
    }
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
        assert_eq!(raw.ips().len(), MAX_FRAMES);
    }

    #[test]
    fn traces_move_to_the_background_thread() {
        fn assert_send<T: Send + 'static>() {}
        assert_send::<RawTrace>();
    }
}
