//! Not API: the internals that `benches/capture.rs` times directly. Built with the `test` feature, hidden from the
//! docs, outside any semver promise; it may change or go in any release.
//!
//! What one spool store costs cannot be read off the public API: the worker stores on its own thread, between
//! symbolicating an event and sending it. [`BenchSpool`] wraps the crate's own spool, the one the worker uses, so a
//! benchmark can time one store at a time. The same goes for scrubbing, one step of finishing an event on the
//! worker: [`BenchScrubber`] wraps the worker's scrubber.

use std::io;
use std::path::PathBuf;

use crate::delivery::spool::{Claim, Spool, SpoolLimits};
use crate::options::ClientOptions;
use crate::protocol::{Envelope, Event};
use crate::scrub::scrubber::Scrubber;

/// The offline spool, for timing single stores. See the [module documentation](self).
#[derive(Debug)]
pub struct BenchSpool(Spool);

/// An envelope stored already claimed by [`BenchSpool::store_claimed`]. Dropping it puts the file back in the
/// queue.
#[derive(Debug)]
pub struct BenchClaim(Claim);

/// The worker's scrubber, for timing one event at a time. See the [module documentation](self).
#[derive(Debug)]
pub struct BenchScrubber(Scrubber);

impl BenchScrubber {
    /// The scrubber the worker builds from `options`, with its rules already compiled.
    ///
    /// # Panics
    ///
    /// With `send_default_pii`, which turns scrubbing off: there is nothing to time.
    pub fn new(options: &ClientOptions) -> BenchScrubber {
        let scrubber = Scrubber::new(options).expect("send_default_pii turns scrubbing off");
        scrubber.warm_up();
        BenchScrubber(scrubber)
    }

    /// Scrubs `event` in place, as the worker does before the size limits.
    pub fn scrub(&self, event: &mut Event) {
        self.0.scrub_event(event);
    }
}

impl BenchSpool {
    /// Opens (creating it) spool directory `dir`, with budgets of `max_files` envelopes and `max_bytes` bytes.
    ///
    /// # Errors
    ///
    /// As the spool's: when the directory cannot be created, written or listed.
    pub fn open(
        dir: impl Into<PathBuf>,
        max_files: usize,
        max_bytes: u64,
    ) -> io::Result<BenchSpool> {
        let limits = SpoolLimits {
            max_files,
            max_bytes,
            ..SpoolLimits::default()
        };
        Spool::open(dir, limits).map(BenchSpool)
    }

    /// Stores `envelope`, synced, as the worker does with an envelope that has to wait. Returns how many older
    /// envelopes were evicted to make room, or `None` when the envelope was not stored.
    ///
    /// # Errors
    ///
    /// When the file cannot be written.
    pub fn store(&self, envelope: &Envelope) -> io::Result<Option<u64>> {
        let stored = self.0.store(envelope)?;
        Ok(stored.stored.then_some(stored.evicted))
    }

    /// Stores `envelope` already claimed and not synced, as the worker does with an envelope it is about to send
    /// while others wait. Returns the claim, or `None` when the envelope was not stored, and how many older
    /// envelopes were evicted.
    ///
    /// # Errors
    ///
    /// When the file cannot be written.
    pub fn store_claimed(&self, envelope: &Envelope) -> io::Result<(Option<BenchClaim>, u64)> {
        let (claim, stored) = self.0.store_claimed(envelope)?;
        Ok((claim.map(BenchClaim), stored.evicted))
    }
}

impl BenchClaim {
    /// Deletes the file, as after the server accepted the envelope.
    ///
    /// # Errors
    ///
    /// When the file cannot be deleted.
    pub fn complete(self) -> io::Result<()> {
        self.0.complete()
    }
}
