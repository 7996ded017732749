//! The names of the spool's files: waiting, claimed and temporary, how they are made and how they are read back.
//!
//! ```text
//! waiting     {unix_nanos:020}-{pid:010}-{seq:010}.envelope
//! claimed     {waiting name}.claimed-{pid}-{token:016x}-{unix_secs}
//! temporary   .tmp-{pid}-{token:016x}-{seq}
//! live session sessions/{pid}-{token:016x}-{session id}.session
//!              sessions/{pid}-{token:016x}-{session id}.session.crashed   (after a native crash)
//! ```
//!
//! A waiting name starts with the time it was made, so the lexical order of names is the queue's order: strictly
//! within one process, whose names never repeat and never go back; across processes as far as their clocks agree.
//! A claimed name keeps the waiting name in front, so the claim can be undone by renaming it back, and names its
//! [`Owner`] and the time of the claim, so a claim left by a crashed process can be told from a live one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::owner::Owner;

/// Waiting files end with this.
const SUFFIX: &str = ".envelope";
/// What separates a claimed file's waiting name from its claim.
pub(super) const CLAIM_MARK: &str = ".claimed-";
/// A file being written starts with this (a dot, so `ls` leaves it out).
pub(super) const TEMP_PREFIX: &str = ".tmp-";
/// The subdirectory that unreadable files are moved into.
pub(super) const CORRUPT_DIR: &str = "corrupt";
/// The subdirectory of the sessions that are running, one file per process.
pub(super) const SESSIONS_DIR: &str = "sessions";
/// A running session's file ends with this.
const SESSION_SUFFIX: &str = ".session";
/// What the native crash handler adds to the running session's file: the process died of a crash.
pub(crate) const CRASHED_MARK: &str = ".crashed";

/// The claim part of a claimed file's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ClaimTag {
    pub(super) owner: Owner,
    /// When it was claimed, in Unix seconds.
    pub(super) secs: u64,
}

/// A fresh waiting name, later than every name this process made before.
pub(super) fn envelope_name() -> String {
    static LAST_NANOS: AtomicU64 = AtomicU64::new(0);
    let now = u64::try_from(unix_nanos()).unwrap_or(u64::MAX);
    let nanos = monotonic(&LAST_NANOS, now);
    format!(
        "{nanos:020}-{:010}-{:010}{SUFFIX}",
        std::process::id(),
        next_seq()
    )
}

/// `now`, or one more than the last value returned if that is not earlier: the wall clock may stand still or step
/// back, and the queue order within the process must not.
fn monotonic(last: &AtomicU64, now: u64) -> u64 {
    let next = |last: u64| now.max(last.saturating_add(1));
    let previous = last
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(next(last))
        })
        .unwrap_or(now);
    next(previous)
}

/// A fresh temporary name for this process.
pub(super) fn temp_name() -> String {
    let me = Owner::this_process();
    format!("{TEMP_PREFIX}{}-{:016x}-{}", me.pid, me.token, next_seq())
}

/// A number that never repeats within the process, shared by every `Spool` so their names cannot collide.
fn next_seq() -> u64 {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// The name of waiting file `name` once `owner` claims it at `secs` (Unix seconds).
pub(super) fn claim_name(name: &str, owner: Owner, secs: u64) -> String {
    format!(
        "{name}{CLAIM_MARK}{}-{:016x}-{secs}",
        owner.pid, owner.token
    )
}

/// `{digits}-{digits}-{digits}.envelope`: only files named like that are the spool's to send or evict.
pub(super) fn is_envelope_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(SUFFIX) else {
        return false;
    };
    let mut parts = 0;
    for part in stem.split('-') {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        parts += 1;
    }
    parts == 3
}

/// Splits a claimed file's name into the waiting name and the claim.
pub(super) fn parse_claim_name(name: &str) -> Option<(&str, ClaimTag)> {
    let (original, tag) = name.split_once(CLAIM_MARK)?;
    if !is_envelope_name(original) {
        return None;
    }
    let mut fields = tag.split('-');
    let pid = fields.next()?.parse().ok()?;
    let token = u64::from_str_radix(fields.next()?, 16).ok()?;
    let secs = fields.next()?.parse().ok()?;
    if fields.next().is_some() {
        return None;
    }
    Some((
        original,
        ClaimTag {
            owner: Owner { pid, token },
            secs,
        },
    ))
}

/// The waiting name of one of the spool's envelopes, waiting or claimed; `None` for any other file.
pub(super) fn waiting_name(name: &str) -> Option<&str> {
    match parse_claim_name(name) {
        Some((original, _)) => Some(original),
        None => is_envelope_name(name).then_some(name),
    }
}

/// The owner of a temporary file.
pub(super) fn parse_temp_name(name: &str) -> Option<Owner> {
    let mut fields = name.strip_prefix(TEMP_PREFIX)?.split('-');
    let pid = fields.next()?.parse().ok()?;
    let token = u64::from_str_radix(fields.next()?, 16).ok()?;
    let _seq: u64 = fields.next()?.parse().ok()?;
    fields.next().is_none().then_some(Owner { pid, token })
}

/// The name of the file that holds `owner`'s running session `id` (a process may run one after another, when it
/// starts the SDK again). The id is the session's, made of hex digits.
pub(super) fn live_session_name(owner: Owner, id: &str) -> String {
    format!("{}-{:016x}-{id}{SESSION_SUFFIX}", owner.pid, owner.token)
}

/// The owner of a running session's file.
pub(super) fn parse_live_session_name(name: &str) -> Option<Owner> {
    let mut fields = name.strip_suffix(SESSION_SUFFIX)?.split('-');
    let pid = fields.next()?.parse().ok()?;
    let token = u64::from_str_radix(fields.next()?, 16).ok()?;
    let id = fields.next()?;
    let valid = !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit());
    (valid && fields.next().is_none()).then_some(Owner { pid, token })
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Now in Unix seconds, as claim names record it.
pub(super) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_sort_in_creation_order() {
        let names: Vec<String> = (0..1000).map(|_| envelope_name()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(names.iter().all(|n| is_envelope_name(n)));
        assert_eq!(names.iter().collect::<HashSet<_>>().len(), names.len());
    }

    #[test]
    fn the_name_clock_never_goes_back() {
        let last = AtomicU64::new(0);
        let cases = [
            (100, 100),
            (100, 101),
            (50, 102),
            (200, 200),
            (u64::MAX, u64::MAX),
            (5, u64::MAX),
        ];
        for (now, want) in cases {
            assert_eq!(monotonic(&last, now), want, "now = {now}");
        }
    }

    #[test]
    fn name_parsers() {
        let owner = Owner {
            pid: 42,
            token: 0xfeed,
        };
        let name = "00000000000000000001-0000000042-0000000000.envelope";
        assert!(is_envelope_name(name));
        for bad in [
            "",
            ".envelope",
            "1-2.envelope",
            "1-2-3-4.envelope",
            "1--3.envelope",
            "a-2-3.envelope",
            "1-2-3.envelope.tmp",
            "corrupt",
        ] {
            assert!(!is_envelope_name(bad), "{bad:?}");
            assert_eq!(waiting_name(bad), None, "{bad:?}");
        }
        let claimed = claim_name(name, owner, 7);
        assert_eq!(
            parse_claim_name(&claimed),
            Some((name, ClaimTag { owner, secs: 7 }))
        );
        assert_eq!(waiting_name(&claimed), Some(name));
        assert_eq!(waiting_name(name), Some(name));
        for bad in [
            format!("{name}.claimed-42-feed"),
            format!("{name}.claimed-42-feed-7-8"),
            format!("{name}.claimed-x-feed-7"),
            "junk.claimed-42-feed-7".to_owned(),
        ] {
            assert_eq!(parse_claim_name(&bad), None, "{bad:?}");
            assert_eq!(waiting_name(&bad), None, "{bad:?}");
        }
        assert_eq!(parse_temp_name(".tmp-42-feed-3"), Some(owner));
        assert_eq!(parse_temp_name(".tmp-42-feed"), None);
        assert_eq!(parse_temp_name(&temp_name()), Some(Owner::this_process()));
        assert_eq!(waiting_name(&temp_name()), None);
        assert_eq!(
            parse_live_session_name(&live_session_name(owner, "7c7b6585")),
            Some(owner)
        );
        for bad in [
            "42-feed-7c",
            "42-feed.session",
            "42-feed-.session",
            "42-feed-xyz.session",
            "42-feed-7c-1.session",
            "x-feed-7c.session",
            "42-zz-7c.session",
            ".tmp-42-feed-3",
        ] {
            assert_eq!(parse_live_session_name(bad), None, "{bad:?}");
        }
    }
}
