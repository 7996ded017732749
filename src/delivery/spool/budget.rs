//! The spool's budgets, and which waiting files to evict to stay within them.
//!
//! The file and byte budgets count every envelope file, waiting or claimed, but only waiting files are evicted: a
//! claimed one is being sent. Eviction goes oldest first, the files that have waited longest and whose events
//! matter least by now. The age budget is applied when a file's turn comes: one older than it is deleted unsent.

use std::time::Duration;

/// The default file budget: 100 envelopes, a long outage's worth of errors for most programs.
pub(super) const DEFAULT_MAX_FILES: usize = 100;

/// The default byte budget: 16 MiB. An event is typically a few KiB to a few tens of KiB (the server accepts at
/// most 1 MiB), so the file budget usually binds first; this one bounds a run of unusually large events.
pub(super) const DEFAULT_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The default age budget: 30 days, as far back as Sentry's ingestion (Relay's `max_secs_in_past`) takes an event's
/// timestamp. An envelope that waited longer is deleted when its turn comes, and counted.
pub(super) const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The budgets of a [`Spool`](super::Spool).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpoolLimits {
    /// At most this many envelopes, claimed ones included. Defaults to [`DEFAULT_MAX_FILES`].
    pub(crate) max_files: usize,
    /// At most this many bytes of envelopes, claimed ones included. Defaults to [`DEFAULT_MAX_BYTES`].
    pub(crate) max_bytes: u64,
    /// An envelope written longer ago than this (by its file's modification time) is deleted rather than sent.
    /// Defaults to [`DEFAULT_MAX_AGE`].
    pub(crate) max_age: Duration,
}

impl Default for SpoolLimits {
    fn default() -> Self {
        SpoolLimits {
            max_files: DEFAULT_MAX_FILES,
            max_bytes: DEFAULT_MAX_BYTES,
            max_age: DEFAULT_MAX_AGE,
        }
    }
}

impl SpoolLimits {
    /// How many of the oldest waiting files to evict so that `files` envelopes of `bytes` in all, plus one more of
    /// `incoming` bytes if there is one, fit the budgets. `waiting` gives the waiting files' sizes, oldest first.
    ///
    /// `None` when evicting every waiting file would not be enough: the claimed files alone fill the budgets (or
    /// the incoming envelope is larger than the byte budget). Looks at no more sizes than it evicts, so a store
    /// into a full spool costs the same however many files the spool holds.
    pub(super) fn evictions(
        self,
        mut files: usize,
        mut bytes: u64,
        incoming: Option<u64>,
        waiting: impl IntoIterator<Item = u64>,
    ) -> Option<usize> {
        let (more_files, more_bytes) = incoming.map_or((0, 0), |len| (1, len));
        let fits = |files: usize, bytes: u64| {
            files.saturating_add(more_files) <= self.max_files
                && bytes.saturating_add(more_bytes) <= self.max_bytes
        };
        let mut evict = 0;
        let mut waiting = waiting.into_iter();
        while !fits(files, bytes) {
            let size = waiting.next()?;
            evict += 1;
            files = files.saturating_sub(1);
            bytes = bytes.saturating_sub(size);
        }
        Some(evict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_files: usize, max_bytes: u64) -> SpoolLimits {
        SpoolLimits {
            max_files,
            max_bytes,
            max_age: DEFAULT_MAX_AGE,
        }
    }

    #[test]
    fn evictions_for_an_incoming_envelope() {
        // (limits, files, bytes, incoming, waiting sizes oldest first) → evictions
        type Case = (
            SpoolLimits,
            usize,
            u64,
            Option<u64>,
            &'static [u64],
            Option<usize>,
        );
        let cases: &[Case] = &[
            // Room to spare.
            (limits(3, 100), 2, 20, Some(10), &[10, 10], Some(0)),
            // The file budget binds: one out, one in.
            (limits(2, 100), 2, 20, Some(10), &[10, 10], Some(1)),
            // The byte budget binds: two small ones make room for one big one.
            (limits(10, 100), 3, 90, Some(30), &[10, 10, 70], Some(2)),
            // Over budget already (another process overshot): evict down to the budget, and one more for the
            // incoming envelope.
            (limits(2, 100), 4, 40, Some(10), &[10, 10, 10, 10], Some(3)),
            // Only claimed files (no waiting ones) fill the budget.
            (limits(2, 100), 2, 20, Some(10), &[], None),
            // Claimed files and one waiting file fill more than the budget.
            (limits(2, 100), 3, 30, Some(10), &[10], None),
            // Bigger than the whole budget.
            (limits(10, 100), 0, 0, Some(101), &[], None),
            // Nothing incoming: only bring the spool back within its budgets.
            (limits(2, 100), 2, 20, None, &[10, 10], Some(0)),
            (limits(2, 100), 4, 40, None, &[10, 10, 10, 10], Some(2)),
            (limits(10, 25), 3, 30, None, &[10, 10, 10], Some(1)),
        ];
        for &(limits, files, bytes, incoming, waiting, want) in cases {
            assert_eq!(
                limits.evictions(files, bytes, incoming, waiting.iter().copied()),
                want,
                "{limits:?}, {files} files, {bytes} bytes, incoming {incoming:?}, waiting {waiting:?}"
            );
        }
    }

    #[test]
    fn evictions_look_only_as_far_as_they_evict() {
        let mut looked = 0;
        let sizes = std::iter::repeat_n(10, 1_000_000).inspect(|_| looked += 1);
        let evict = limits(1_000_000, u64::MAX).evictions(1_000_000, 10_000_000, Some(10), sizes);
        assert_eq!(evict, Some(1));
        assert_eq!(looked, 1);
    }
}
