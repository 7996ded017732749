//! Claims: how one sender at a time takes a file out of the queue, across processes, and how the claims of a
//! process that died are given back.
//!
//! A sender claims a waiting file by renaming it to its claimed name (see [`names`](super::names)). `rename` either
//! moves the file or finds it gone, so two senders, in one process or in several, never hold the same file.
//! Completing a claim deletes the file; releasing it renames it back, so it keeps its place in the queue. Either
//! way the spool's [`Index`] learns of it, as of a change this process made.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::index::Index;
use super::names::{envelope_name, now_secs, parse_claim_name, parse_temp_name};
use crate::protocol::Envelope;

/// An envelope claimed from the spool by this process.
///
/// Settle it with [`Claim::complete`] once it needs no more sending, or [`Claim::release`] to try again later.
/// Dropping it unsettled releases it.
pub(crate) struct Claim {
    /// The index of the spool the file is in, told when the file is deleted or put back.
    index: Arc<Mutex<Index>>,
    claimed: PathBuf,
    /// The file's path under its waiting name.
    original: PathBuf,
    bytes: Vec<u8>,
    /// The envelope read from the file, for a claim made by [`Spool::claim_oldest`](super::Spool::claim_oldest);
    /// a claim made by [`Spool::store_claimed`](super::Spool::store_claimed) leaves the envelope with the caller,
    /// who has it already. Boxed, so that a claim is small in the worker's messages.
    envelope: Option<Box<Envelope>>,
    settled: bool,
}

impl Claim {
    /// The claim on the file of spool directory `dir` with waiting name `name` and claimed name `claimed`,
    /// holding `bytes`; `index` is the spool's.
    pub(super) fn new(
        index: Arc<Mutex<Index>>,
        dir: &Path,
        name: &str,
        claimed: &str,
        bytes: Vec<u8>,
        envelope: Option<Envelope>,
    ) -> Claim {
        Claim {
            index,
            claimed: dir.join(claimed),
            original: dir.join(name),
            bytes,
            envelope: envelope.map(Box::new),
            settled: false,
        }
    }

    /// The claimed file.
    #[cfg(test)]
    pub(super) fn path(&self) -> &Path {
        &self.claimed
    }

    /// The file's bytes: the envelope's wire form without `sent_at`.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The envelope read from the file (see the field).
    #[cfg(test)]
    pub(crate) fn envelope(&self) -> &Envelope {
        self.envelope.as_deref().expect("a claim read from a file")
    }

    /// Takes the envelope read from the file (see the field).
    pub(crate) fn take_envelope(&mut self) -> Option<Envelope> {
        self.envelope.take().map(|envelope| *envelope)
    }

    /// The file's waiting name, which is how the index knows it.
    fn name(&self) -> &str {
        self.original
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default()
    }

    /// Deletes the file: the server accepted the envelope (2xx), or rejected it for good (a 4xx other than 429,
    /// or retries ran out).
    ///
    /// # Errors
    ///
    /// When the file exists but cannot be deleted; it stays claimed and a later open puts it back, so it may be
    /// sent twice (the server drops the duplicate event id).
    pub(crate) fn complete(mut self) -> io::Result<()> {
        self.settled = true;
        let mut index = Index::lock(&self.index)?;
        let removed = index.own_change(|_| fs::remove_file(&self.claimed));
        match removed {
            Ok(()) => index.forget(self.name()),
            // Not ours to delete any more: the index was behind.
            Err(e) if e.kind() == io::ErrorKind::NotFound => index.invalidate(),
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Puts the file back in the queue under its original name, so it keeps its place (for instance after a
    /// network error or while its category is rate limited).
    ///
    /// # Errors
    ///
    /// When the file cannot be renamed back; it stays claimed until a later open puts it back.
    pub(crate) fn release(mut self) -> io::Result<()> {
        self.settled = true;
        self.put_back()
    }

    /// Puts the file back at the end of the queue, under a fresh waiting name, after a failed attempt: the
    /// envelopes behind it get their turn before it is tried again, so one that the server keeps failing cannot
    /// hold up the rest. The file keeps its modification time, which is what the spool's age budget reads.
    ///
    /// # Errors
    ///
    /// When the file cannot be renamed; it stays claimed until a later open puts it back.
    pub(crate) fn requeue(mut self) -> io::Result<()> {
        self.settled = true;
        let name = envelope_name();
        let len = u64::try_from(self.bytes.len()).unwrap_or(u64::MAX);
        let mut index = Index::lock(&self.index)?;
        let dir = self.original.parent().unwrap_or(Path::new("."));
        let renamed = index.own_change(|_| fs::rename(&self.claimed, dir.join(&name)));
        match renamed {
            Ok(()) => {
                index.forget(self.name());
                index.insert(name, len, false);
            }
            // Already put back by an open that took this claim for stale: the index was behind.
            Err(e) if e.kind() == io::ErrorKind::NotFound => index.invalidate(),
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn put_back(&self) -> io::Result<()> {
        let mut index = Index::lock(&self.index)?;
        let renamed = index.own_change(|_| fs::rename(&self.claimed, &self.original));
        match renamed {
            Ok(()) => index.mark_waiting(self.name()),
            // Already put back by an open that took this claim for stale: the index was behind.
            Err(e) if e.kind() == io::ErrorKind::NotFound => index.invalidate(),
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.settled {
            let _ = self.put_back();
        }
    }
}

impl fmt::Debug for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The bytes are an event, possibly with personal data: leave them out.
        f.debug_struct("Claim")
            .field("path", &self.claimed)
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// Puts back the claims, in spool directory `dir`, of processes that are gone and deletes their temporary files.
/// Individual failures are skipped (another process may be recovering the same files); only a failure to list is
/// an error.
pub(super) fn recover(dir: &Path) -> io::Result<()> {
    let now = now_secs();
    for dirent in fs::read_dir(dir)? {
        let dirent = dirent?;
        let Ok(name) = dirent.file_name().into_string() else {
            continue;
        };
        if let Some((original, claim)) = parse_claim_name(&name) {
            if claim
                .owner
                .is_gone(Duration::from_secs(now.saturating_sub(claim.secs)))
            {
                let _ = fs::rename(dir.join(&name), dir.join(original));
            }
        } else if let Some(owner) = parse_temp_name(&name) {
            let age = dirent
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|modified| SystemTime::now().duration_since(modified).ok())
                .unwrap_or_default();
            if owner.is_gone(age) {
                let _ = fs::remove_file(dir.join(&name));
            }
        }
    }
    Ok(())
}
