//! Delivery: what the worker does with a finished envelope so that nothing is lost. [`Delivery`] sends it, keeps it
//! (the offline spool on disk, or a bounded backlog in memory) when it cannot go yet, replays what waits, honours the
//! server's rate limits and retry schedule, and carries the counts of what was lost in client reports.
//! `docs/delivery.md` states the guarantees, with a table of each kind of server trouble.
//!
//! Delivery sees envelopes, the [`Transport`] and the counters, never scopes, options or callbacks.
//!
//! - While the server answers and nothing waits, an envelope is posted at once, with a copy in a slot shared with
//!   the client ([`InFlight`]) so that a shutdown which runs out of time can spool it. Otherwise (a pause, a
//!   backlog) it is written to the spool first and deleted once the server has accepted it or refused it for good,
//!   so a crash, `SIGKILL` or a hung request loses nothing that waits: the next process with the same DSN sends
//!   what is left. Without a spool, envelopes that cannot be sent yet wait in a backlog in memory.
//! - A 2xx is delivered.
//! - A 429, or an `X-Sentry-Rate-Limits` header on any response, limits categories for a while (`rate_limit.rs`).
//!   A limit on every category (a bare 429, or a limit without categories) means the server takes nothing: delivery
//!   pauses as in an outage, and everything waits, the envelope refused with the 429 included, until the limit
//!   ends; a `flush` does not shorten it. A limit on some categories while the others flow is the server asking for
//!   less of those: their items are dropped without a request (`ratelimit_backoff`), as Sentry's protocol asks,
//!   and an envelope refused with a 429 for them is dropped (`rate_limited`: the server counted it).
//! - No answer (connection refused, reset, timeout, garbage), a 408 or a 5xx means the server cannot take anything
//!   now: delivery pauses for a step of the retry schedule (`retry.rs`, `offline.rs`), new envelopes go straight
//!   to the spool or backlog without a request, and when the step ends the oldest waiting envelope probes the
//!   server. Once one gets through, the rest follow, oldest first, between new ones. A failed envelope goes to the
//!   back of the queue, so one the server keeps failing cannot hold up the others; it is given up (`send_error`)
//!   only after [`retry::MAX_STRIKES`] failures that each came after another envelope was accepted. An outage, however long,
//!   gives nothing up: what waits is only evicted when the spool's budgets (files, bytes, age) are full
//!   (`cache_overflow`).
//! - Any other 4xx is the server refusing that envelope: it is dropped (`send_error`).
//! - Counts of discarded items ride on the next envelope that may carry a `client_report` item
//!   ([`ItemKind::may_share_envelope_with`]), or go out on their own after `client_report_interval`, and at shutdown.

pub(crate) mod destinations;
pub(crate) mod offline;
pub(crate) mod rate_limit;
pub(crate) mod retry;
pub(crate) mod spool;

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use offline::Offline;
use rate_limit::RateLimiter;
use spool::{Claim, Spool};

use crate::diagnostics::sdk_debug;
use crate::protocol::envelope::{Envelope, EnvelopeItem};
use crate::protocol::event::EventId;
use crate::protocol::item_kind::ItemKind;
use crate::stats::{Counters, Reason};
use crate::sync::lock;
use crate::transport::{Outcome, Transport};

/// How many envelopes' failures delivery remembers.
const MAX_TRACKED_FAILURES: usize = 4096;

/// The envelope being sent without a copy on disk, shared between delivery and the client, so that a shutdown that
/// runs out of time can spool it.
pub(crate) type InFlight = Arc<Mutex<Option<Arc<Envelope>>>>;

/// The worker's delivery state: transport, spool or backlog, rate limits, reachability and the report clock.
pub(crate) struct Delivery {
    transport: Arc<dyn Transport>,
    counters: Arc<Counters>,
    spool: Option<Arc<Spool>>,
    inflight: InFlight,
    /// Envelopes waiting for the server when there is no spool.
    backlog: VecDeque<Envelope>,
    backlog_limit: usize,
    /// Whether the spool may hold files (from an earlier run, another process, or this one).
    spool_pending: bool,
    limiter: RateLimiter,
    offline: Offline,
    /// The failures of envelopes that failed and wait to be tried again, by [`key`].
    failures: HashMap<u64, Failures>,
    report_interval: Duration,
    next_report: Instant,
    /// Envelopes the server accepted, for telling whether others got through between two failures of one.
    delivered: u64,
}

/// One waiting envelope's failures: its strikes, and how many envelopes had been delivered at its last failure.
#[derive(Clone, Copy, Debug)]
struct Failures {
    strikes: u32,
    delivered_then: u64,
}

/// What became of one attempt at an envelope.
enum Tried {
    /// Nothing more to do: delivered, refused for good or given up (counted), or handed to a shutdown.
    Done,
    /// It failed, or the attempt was the early probe of a pause: try it again later, after the others.
    Failed(Envelope),
    /// Delivery is paused (a rate limit on every category, or the request was not made during a pause): try it
    /// again when the pause ends, in its place.
    Blocked(Envelope),
}

impl Delivery {
    /// Delivery through `transport`, keeping what waits in `spool` (or, without one, in a backlog of at most
    /// `backlog_limit` envelopes), pausing at most `max_retry_delay` between attempts while the server cannot be
    /// reached, sending client reports at least every `report_interval`.
    pub(crate) fn new(
        transport: Arc<dyn Transport>,
        counters: Arc<Counters>,
        spool: Option<Arc<Spool>>,
        inflight: InFlight,
        backlog_limit: usize,
        max_retry_delay: Duration,
        report_interval: Duration,
    ) -> Self {
        Delivery {
            transport,
            counters,
            spool_pending: spool.is_some(),
            spool,
            inflight,
            backlog: VecDeque::new(),
            backlog_limit: backlog_limit.max(1),
            limiter: RateLimiter::new(),
            offline: Offline::new(max_retry_delay),
            failures: HashMap::new(),
            report_interval,
            next_report: Instant::now() + report_interval,
            delivered: 0,
        }
    }

    /// Whether nothing may be sent at `now`: a pause after a failure, or a rate limit on every category.
    pub(crate) fn is_paused(&self, now: Instant) -> bool {
        self.offline.is_offline(now) || self.limiter.paused_until(now).is_some()
    }

    /// Whether something waits in the spool or the backlog.
    pub(crate) fn has_waiting(&self) -> bool {
        !self.backlog.is_empty() || self.spool_pending
    }

    /// When delivery next needs the worker by itself: the next client report, or the end of a pause when
    /// something waits to be replayed.
    pub(crate) fn next_wake(&self, now: Instant) -> Instant {
        let mut wake = self.next_report;
        if self.has_waiting() {
            let resume = self.offline.until().max(self.limiter.paused_until(now));
            wake = wake.min(resume.unwrap_or(now).max(now));
        }
        wake
    }

    /// What the worker does when it wakes with nothing else to do: replay the oldest waiting envelope if nothing
    /// holds it back, and send the counts of losses if their time has come.
    pub(crate) fn tick(&mut self, now: Instant) {
        if self.has_waiting() && !self.is_paused(now) {
            self.replay_one();
        }
        if now >= self.next_report {
            self.send_report_alone();
        }
    }

    /// Sends a new envelope.
    ///
    /// While the server answers and nothing waits, the envelope goes straight out, with a copy in the shared
    /// in-flight slot so that a shutdown that runs out of time can still spool it; writing every envelope to disk
    /// first would cost a file write, two renames and a delete per event (a quarter of the worker's time). Once
    /// something waits or the server stopped answering, new envelopes are written to the spool before they are
    /// sent, so they survive whatever happens next.
    pub(crate) fn deliver_fresh(&mut self, envelope: Envelope) {
        let healthy = !self.is_paused(Instant::now()) && !self.has_waiting();
        if healthy {
            self.attempt_or_park(envelope, true);
            return;
        }
        if let Some(spool) = self.spool.clone() {
            match spool.store_claimed(&envelope) {
                Ok((claim, stored)) => {
                    self.counters.evicted(stored.evicted);
                    if let Some(claim) = claim {
                        self.deliver_claimed(claim, envelope);
                        return;
                    }
                    // Too large for the spool's budget: send it without a copy on disk.
                }
                Err(e) => sdk_debug!("could not write to the spool: {e}"),
            }
        }
        if self.is_paused(Instant::now()) {
            self.park(envelope);
            return;
        }
        self.attempt_or_park(envelope, false);
    }

    /// One attempt at an envelope that has no spool file; kept for later if it is to be tried again.
    fn attempt_or_park(&mut self, envelope: Envelope, in_flight: bool) {
        match self.attempt(envelope, in_flight) {
            Tried::Done => {}
            Tried::Failed(envelope) | Tried::Blocked(envelope) => self.park(envelope),
        }
    }

    /// Sends an envelope whose spool file this worker holds, unless delivery is paused; deletes the file when
    /// done, or puts it back: at the end of the queue after a failure, in its place while a rate limit holds it.
    pub(crate) fn deliver_claimed(&mut self, claim: Claim, envelope: Envelope) {
        let paused = self.is_paused(Instant::now()) && !self.offline.is_probing();
        let settled = match if paused {
            Tried::Blocked(envelope)
        } else {
            self.attempt(envelope, false)
        } {
            Tried::Done => claim.complete(),
            Tried::Failed(_) => {
                self.spool_pending = true;
                claim.requeue()
            }
            Tried::Blocked(_) => {
                self.spool_pending = true;
                claim.release()
            }
        };
        if let Err(e) = settled {
            sdk_debug!("could not settle a spool file: {e}");
        }
    }

    /// Keeps an envelope for later: in the spool, else at the end of the in-memory backlog.
    pub(crate) fn park(&mut self, envelope: Envelope) {
        if let Some(spool) = &self.spool {
            match spool.store(&envelope) {
                Ok(stored) => {
                    self.counters.evicted(stored.evicted);
                    if stored.stored {
                        self.spool_pending = true;
                    } else {
                        self.counters
                            .discard_items(Reason::CacheOverflow, &envelope);
                    }
                    return;
                }
                Err(e) => sdk_debug!("could not write to the spool: {e}"),
            }
        }
        if self.backlog.len() >= self.backlog_limit {
            if let Some(oldest) = self.backlog.pop_front() {
                self.counters.discard_items(Reason::CacheOverflow, &oldest);
            }
        }
        self.backlog.push_back(envelope);
    }

    /// Tries the oldest waiting envelope once.
    pub(crate) fn replay_one(&mut self) {
        if let Some(envelope) = self.backlog.pop_front() {
            match self.attempt(envelope, false) {
                Tried::Done => {}
                Tried::Failed(envelope) => self.backlog.push_back(envelope),
                Tried::Blocked(envelope) => self.backlog.push_front(envelope),
            }
            return;
        }
        let Some(spool) = self.spool.clone() else {
            self.spool_pending = false;
            return;
        };
        match spool.claim_oldest() {
            Ok(claimed) => {
                self.counters.spool_corrupt(claimed.corrupt);
                self.counters.evicted(claimed.expired);
                match claimed.claim {
                    Some(mut claim) => match claim.take_envelope() {
                        Some(envelope) => self.deliver_claimed(claim, envelope),
                        // A claim made by reading a file always holds its envelope.
                        None => drop(claim),
                    },
                    None => self.spool_pending = false,
                }
            }
            Err(e) => {
                sdk_debug!("could not read the spool: {e}");
                self.spool_pending = false;
            }
        }
    }

    /// One request for `envelope`, with the pending client report attached; counts what it delivered or dropped.
    ///
    /// A rate limit on every category holds the envelope back without a request; one on some categories removes
    /// their items (counted). When the attempt fails, the
    /// envelope comes back as it was tried, without the client report, whose counts go back to the counters for
    /// the next envelope to carry (a spool file kept for a retry could not). With `in_flight`, the envelope waits
    /// in the in-flight slot shared with the client during the request (see `deliver_fresh`); if a shutdown took
    /// it from there, keeping it is the shutdown's business, and nothing comes back.
    fn attempt(&mut self, envelope: Envelope, in_flight: bool) -> Tried {
        let now = Instant::now();
        if self.limiter.paused_until(now).is_some() {
            return Tried::Blocked(envelope);
        }
        let (envelope, removed) = self.limiter.filter(envelope, now);
        for (category, quantity) in removed {
            self.counters
                .discard_n(Reason::RateLimitBackoff, category, quantity);
        }
        // With nothing left to send, the report's counts wait for the next envelope or the report interval.
        let Some(mut envelope) = envelope else {
            return Tried::Done;
        };
        let report = if may_carry_report(&envelope) {
            self.counters.take_report()
        } else {
            None
        };
        if let Some(report) = &report {
            envelope
                .items
                .push(EnvelopeItem::ClientReport(report.clone()));
            self.next_report = now + self.report_interval;
        }
        let events = envelope
            .items
            .iter()
            .filter(|i| i.kind() == Some(ItemKind::Event))
            .count();
        // Shared, not copied: the event may be large, and this happens for every envelope.
        let envelope = Arc::new(envelope);
        if in_flight {
            *lock(&self.inflight) = Some(envelope.clone());
        }
        // A panicking custom transport must not take the worker down with it.
        let outcome = catch_unwind(AssertUnwindSafe(|| self.transport.send_envelope(&envelope)))
            .unwrap_or(Outcome::NetworkError);
        let handed_over = in_flight && lock(&self.inflight).take().is_none();
        let (status, retry_after) = match &outcome {
            Outcome::Sent => (Some(200), None),
            Outcome::Response(r) => {
                self.limiter.update(
                    r.status,
                    r.retry_after.as_deref(),
                    r.rate_limits.as_deref(),
                    Instant::now(),
                );
                let retry_after = r.retry_after.as_deref().and_then(rate_limit::parse_seconds);
                (Some(r.status), retry_after)
            }
            _ => (None, None),
        };
        if status.is_some_and(|s| (200..300).contains(&s)) {
            self.delivered += 1;
            self.offline.recovered();
            self.forget_failures(&envelope);
            for _ in 0..events {
                self.counters.sent();
            }
            return Tried::Done;
        }
        // Whatever happens to this envelope now, the report's counts must not be lost with it.
        if let Some(report) = &report {
            self.counters.return_report(report);
        }
        let answered = status.is_some() && !retry::is_retryable(status);
        if answered {
            // The server is there: whatever it thinks of this envelope, there is no outage.
            self.offline.recovered();
        }
        let keeps_data = envelope
            .items
            .iter()
            .any(|i| i.kind() != Some(ItemKind::ClientReport));
        if status == Some(429) {
            if self.limiter.paused_until(Instant::now()).is_none() {
                // A limit on some categories only: the server counted the envelope; the rest flows.
                self.forget_failures(&envelope);
                self.counters.discard_items(Reason::RateLimited, &envelope);
                sdk_debug!("rate limited: envelope {} dropped", id(envelope.event_id));
                return Tried::Done;
            }
            sdk_debug!("rate limited: envelope {} waits", id(envelope.event_id));
        } else if answered {
            self.forget_failures(&envelope);
            self.counters.discard_items(Reason::SendError, &envelope);
            sdk_debug!(
                "envelope {} refused with {}: dropped",
                id(envelope.event_id),
                status.unwrap_or(0)
            );
            return Tried::Done;
        } else {
            self.offline
                .failed(Instant::now(), roll(envelope.event_id), retry_after);
            if keeps_data && !self.offline.is_probing() && self.strike(&envelope) {
                self.counters.discard_items(Reason::SendError, &envelope);
                sdk_debug!(
                    "giving up on envelope {}: it failed {} times while others were accepted",
                    id(envelope.event_id),
                    retry::MAX_STRIKES + 1
                );
                return Tried::Done;
            }
        }
        if handed_over || !keeps_data {
            return Tried::Done;
        }
        // The only other holder was the in-flight slot, emptied above (by us, or by a shutdown: `handed_over`).
        let Ok(mut envelope) = Arc::try_unwrap(envelope) else {
            return Tried::Done;
        };
        if report.is_some() {
            envelope.items.pop();
        }
        if status == Some(429) {
            return Tried::Blocked(envelope);
        }
        Tried::Failed(envelope)
    }

    /// Records a failure of `envelope`; returns whether it has had [`retry::MAX_STRIKES`] strikes and is to be
    /// given up. A failure is a strike only when another envelope was accepted since this one last failed; its
    /// first failure never is.
    fn strike(&mut self, envelope: &Envelope) -> bool {
        if self.failures.len() >= MAX_TRACKED_FAILURES {
            // Entries of envelopes that left the spool another way (evicted, sent by another process) are never
            // removed one by one; clearing past a bound keeps the map small, at the cost of a few more attempts
            // for the envelopes that were in it.
            self.failures.clear();
        }
        let delivered = self.delivered;
        let failures = self.failures.entry(key(envelope)).or_insert(Failures {
            strikes: 0,
            delivered_then: delivered,
        });
        if delivered > failures.delivered_then {
            failures.strikes += 1;
            failures.delivered_then = delivered;
        }
        if failures.strikes >= retry::MAX_STRIKES {
            self.failures.remove(&key(envelope));
            return true;
        }
        false
    }

    /// Forgets the failures of an envelope that needs no more attempts.
    fn forget_failures(&mut self, envelope: &Envelope) {
        if !self.failures.is_empty() {
            self.failures.remove(&key(envelope));
        }
    }

    /// Sends the counts of discarded items on their own, if there are any: the client report's own way out when no
    /// other envelope comes to carry it.
    pub(crate) fn send_report_alone(&mut self) {
        self.next_report = Instant::now() + self.report_interval;
        if self.offline.is_offline(Instant::now()) {
            return;
        }
        let Some(report) = self.counters.take_report() else {
            return;
        };
        let envelope = Envelope {
            items: vec![EnvelopeItem::ClientReport(report.clone())],
            ..Envelope::default()
        };
        // A report alone is never kept for later: if it did not go out, its counts go back for the next one.
        let sent_before = self.delivered;
        let _ = self.attempt(envelope, false);
        if self.delivered == sent_before {
            self.counters.return_report(&report);
        }
    }

    /// Replays what waits until `deadline`; returns whether nothing is left waiting and the transport flushed.
    ///
    /// During a pause after failures, the first flush of each step tries one waiting envelope early, to find out
    /// whether the server is back; its failure neither lengthens the step nor counts against the envelope. A
    /// pause the server asked for (`Retry-After`, a rate limit) is never cut short.
    pub(crate) fn flush(&mut self, deadline: Instant) -> bool {
        let now = Instant::now();
        let limited = self.limiter.paused_until(now).is_some();
        if self.has_waiting() && !limited && self.offline.start_early_probe(now) {
            self.replay_one();
            self.offline.end_early_probe();
        }
        while self.has_waiting() && Instant::now() < deadline && !self.is_paused(Instant::now()) {
            self.replay_one();
        }
        !self.has_waiting()
            && self
                .transport
                .flush(deadline.saturating_duration_since(Instant::now()))
    }

    /// The end: a last client report if there is time, the backlog counted as lost, and the transport shut down.
    pub(crate) fn shut_down(&mut self, deadline: Instant) {
        if Instant::now() < deadline {
            self.send_report_alone();
        }
        // Whatever is left in the in-memory backlog is lost with the process; count it.
        for envelope in std::mem::take(&mut self.backlog) {
            self.counters.discard_items(Reason::NetworkError, &envelope);
        }
        let _ = self
            .transport
            .shutdown(deadline.saturating_duration_since(Instant::now()));
    }
}

/// Whether a client report may ride on `envelope`: every item's kind must allow it (an envelope that has one
/// already does not take another).
fn may_carry_report(envelope: &Envelope) -> bool {
    envelope.items.iter().all(|item| {
        item.kind()
            .is_none_or(|kind| kind.may_share_envelope_with(ItemKind::ClientReport))
    })
}

/// What tells one waiting envelope from another across attempts: its event id, or for an envelope without one, a
/// hash of its items without client reports (which come and go between attempts).
fn key(envelope: &Envelope) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    match envelope.event_id {
        Some(id) => id.hash(&mut hasher),
        None => envelope.to_vec_without_reports().hash(&mut hasher),
    }
    hasher.finish()
}

fn id(event_id: Option<EventId>) -> String {
    event_id.map_or_else(|| "-".to_owned(), |id| id.to_string())
}

/// A jitter roll from the event id (random already), or from a fresh random id for envelopes without one.
fn roll(event_id: Option<EventId>) -> f64 {
    // Not `unwrap_or_default`: the default id is the nil one, the same every time.
    let id = match event_id {
        Some(id) => id,
        None => EventId::new(),
    };
    crate::sampling::roll_from(id)
}
