//! Delivery: what the worker does with a finished envelope so that nothing is lost. [`Delivery`] sends it, keeps it
//! (the offline spool on disk, or a bounded backlog in memory) when it cannot go yet, replays what waits, honours the
//! server's rate limits and retry schedule, and carries the counts of what was lost in client reports.
//! `docs/delivery.md` states the guarantees.
//!
//! Delivery sees envelopes, the [`Transport`] and the counters, never scopes, options or callbacks.
//!
//! - While the server answers and nothing waits, an envelope is posted at once, with a copy in a slot shared with
//!   the client ([`InFlight`]) so that a shutdown which runs out of time can spool it. Otherwise (offline, a
//!   backlog) it is written to the spool first and deleted once the server has accepted it or rejected it for good,
//!   so a crash, `SIGKILL` or a hung request loses nothing that waits: the next process with the same DSN sends
//!   what is left. Without a spool, envelopes that cannot be sent yet wait in a backlog in memory.
//! - A 2xx is delivered. A 429 drops the envelope (the server counted it) and pauses its categories; so does an
//!   `X-Sentry-Rate-Limits` header on any response. While a category is paused no request is made for it and its
//!   items are counted as `ratelimit_backoff`.
//! - No answer (connection refused, reset, timeout, garbage), a 408 or a 5xx puts delivery *offline* for a delay
//!   that grows exponentially with full jitter (`retry.rs`). While offline, new envelopes go straight to the spool
//!   or backlog without a request; when the delay ends the oldest waiting envelope is tried again, and once one
//!   gets through the rest follow, oldest first, between new ones. An envelope that keeps getting 5xx is given up
//!   after `retry::MAX_ATTEMPTS` (counted as `send_error`); one that cannot reach the server is never given up,
//!   only evicted when the spool's budget is full (`cache_overflow`).
//! - Any other 4xx drops the envelope (`send_error`).
//! - Counts of discarded items ride on the next envelope that may carry a `client_report` item
//!   ([`ItemKind::may_share_envelope_with`]), or go out on their own after `client_report_interval`, and at shutdown.

pub(crate) mod offline;
pub(crate) mod rate_limit;
pub(crate) mod retry;
pub(crate) mod spool;

use std::collections::{HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use offline::Offline;
use rate_limit::RateLimiter;
use spool::{Claim, Spool};

use crate::diagnostics::sdk_debug;
use crate::protocol::data_category::DataCategory;
use crate::protocol::envelope::{Envelope, EnvelopeItem};
use crate::protocol::event::EventId;
use crate::protocol::item_kind::ItemKind;
use crate::stats::{Counters, Reason};
use crate::sync::lock;
use crate::transport::{Outcome, Transport};

/// How many envelopes' 5xx counts delivery remembers.
const MAX_TRACKED_ERRORS: usize = 4096;

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
    backlog: VecDeque<Waiting>,
    backlog_limit: usize,
    /// Whether the spool may hold files (from an earlier run, another process, or this one).
    spool_pending: bool,
    limiter: RateLimiter,
    offline: Offline,
    /// 5xx answers per spooled envelope (by event id), so a poisoned one is given up after `retry::MAX_ATTEMPTS`.
    server_errors: HashMap<EventId, u32>,
    report_interval: Duration,
    next_report: Instant,
    /// Envelopes the server accepted, for telling whether a given attempt got through.
    delivered: u64,
}

/// An envelope in the in-memory backlog, with the 5xx answers it has had.
struct Waiting {
    envelope: Envelope,
    server_errors: u32,
}

impl Delivery {
    /// Delivery through `transport`, keeping what waits in `spool` (or, without one, in a backlog of at most
    /// `backlog_limit` envelopes), sending client reports at least every `report_interval`.
    pub(crate) fn new(
        transport: Arc<dyn Transport>,
        counters: Arc<Counters>,
        spool: Option<Arc<Spool>>,
        inflight: InFlight,
        backlog_limit: usize,
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
            offline: Offline::default(),
            server_errors: HashMap::new(),
            report_interval,
            next_report: Instant::now() + report_interval,
            delivered: 0,
        }
    }

    /// Whether the server is in an offline pause at `now`.
    pub(crate) fn is_offline(&self, now: Instant) -> bool {
        self.offline.is_offline(now)
    }

    /// Whether something waits in the spool or the backlog.
    pub(crate) fn has_waiting(&self) -> bool {
        !self.backlog.is_empty() || self.spool_pending
    }

    /// When delivery next needs the worker by itself: the next client report, or the end of an offline pause when
    /// something waits to be replayed.
    pub(crate) fn next_wake(&self, now: Instant) -> Instant {
        let mut wake = self.next_report;
        if self.has_waiting() {
            wake = wake.min(self.offline.until().unwrap_or(now));
        }
        wake
    }

    /// What the worker does when it wakes with nothing else to do: replay the oldest waiting envelope if the server
    /// may be tried, and send the counts of losses if their time has come.
    pub(crate) fn tick(&mut self, now: Instant) {
        if self.has_waiting() && !self.offline.is_offline(now) {
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
        let healthy = !self.offline.is_offline(Instant::now()) && !self.has_waiting();
        if healthy {
            if let Some(envelope) = self.attempt(envelope, 0, true) {
                self.park(envelope, 0);
            }
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
        if let Some(envelope) = self.attempt(envelope, 0, false) {
            self.park(envelope, 0);
        }
    }

    /// Sends an envelope whose spool file this worker holds; deletes the file when done, or puts it back.
    pub(crate) fn deliver_claimed(&mut self, claim: Claim, envelope: Envelope) {
        let key = envelope.event_id;
        let errors = key
            .and_then(|k| self.server_errors.get(&k).copied())
            .unwrap_or(0);
        match self.attempt(envelope, errors, false) {
            None => {
                if let Some(key) = key {
                    self.server_errors.remove(&key);
                }
                if let Err(e) = claim.complete() {
                    sdk_debug!("could not delete a sent spool file: {e}");
                }
            }
            Some(_) => {
                // The file holds the envelope still.
                self.spool_pending = true;
                if let Err(e) = claim.release() {
                    sdk_debug!("could not return a file to the spool: {e}");
                }
            }
        }
    }

    /// Keeps an envelope for later: in the spool, else in the in-memory backlog.
    pub(crate) fn park(&mut self, envelope: Envelope, server_errors: u32) {
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
                self.counters
                    .discard_items(Reason::CacheOverflow, &oldest.envelope);
            }
        }
        self.backlog.push_back(Waiting {
            envelope,
            server_errors,
        });
    }

    /// Tries the oldest waiting envelope once.
    pub(crate) fn replay_one(&mut self) {
        if let Some(waiting) = self.backlog.pop_front() {
            let errors = waiting.server_errors;
            if let Some(envelope) = self.attempt(waiting.envelope, errors, false) {
                self.backlog.push_front(Waiting {
                    envelope,
                    server_errors: errors + 1,
                });
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
    /// Returns the envelope if it is to be tried again: as it was tried, that is without the items that the rate
    /// limits removed (they are counted) and without the client report. The report's counts go back to the
    /// counters whenever the request fails, for the next envelope to carry, since a spool file kept for a retry
    /// could not. With `in_flight`, the envelope waits in the in-flight slot shared with the client during the
    /// request (see `deliver_fresh`); if a shutdown took it from there, keeping it is the shutdown's business, and
    /// nothing comes back.
    fn attempt(
        &mut self,
        envelope: Envelope,
        server_errors: u32,
        in_flight: bool,
    ) -> Option<Envelope> {
        let now = Instant::now();
        let (envelope, removed) = self.limiter.filter(envelope, now);
        for (category, quantity) in removed {
            if category != DataCategory::ClientReport {
                self.counters
                    .discard_n(Reason::RateLimitBackoff, category, quantity);
            }
        }
        // With nothing left to send, the report's counts wait for the next envelope or the report interval.
        let mut envelope = envelope?;
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
        let status = match &outcome {
            Outcome::Sent => Some(200),
            Outcome::Response(r) => {
                self.limiter.update(
                    r.status,
                    r.retry_after.as_deref(),
                    r.rate_limits.as_deref(),
                    Instant::now(),
                );
                Some(r.status)
            }
            _ => None,
        };
        if status.is_some_and(|s| (200..300).contains(&s)) {
            self.delivered += 1;
            self.offline.recovered();
            for _ in 0..events {
                self.counters.sent();
            }
            return None;
        }
        // Whatever happens to this envelope now, the report's counts must not be lost with it.
        if let Some(report) = &report {
            self.counters.return_report(report);
        }
        if status == Some(429) {
            self.counters.discard_items(Reason::RateLimited, &envelope);
            sdk_debug!("rate limited: envelope {} dropped", id(envelope.event_id));
            return None;
        }
        if !retry::is_retryable(status) {
            self.counters.discard_items(Reason::SendError, &envelope);
            return None;
        }
        self.offline.failed(Instant::now(), roll(envelope.event_id));
        let keeps_data = envelope
            .items
            .iter()
            .any(|i| i.kind() != Some(ItemKind::ClientReport));
        if !keeps_data {
            return None;
        }
        if status.is_some() {
            if server_errors + 1 >= retry::MAX_ATTEMPTS {
                self.counters.discard_items(Reason::SendError, &envelope);
                sdk_debug!(
                    "giving up on envelope {} after {} server errors",
                    id(envelope.event_id),
                    retry::MAX_ATTEMPTS
                );
                return None;
            }
            if let Some(id) = envelope.event_id {
                // Entries of envelopes that later left the spool another way (evicted, sent by another
                // process) are never removed one by one; clearing past a bound keeps the map small, at the cost
                // of a few more attempts for the envelopes that were in it.
                if self.server_errors.len() >= MAX_TRACKED_ERRORS {
                    self.server_errors.clear();
                }
                *self.server_errors.entry(id).or_insert(0) += 1;
            }
        }
        if handed_over {
            return None;
        }
        // The only other holder was the in-flight slot, emptied above (by us, or by a shutdown: `handed_over`).
        let mut envelope = Arc::try_unwrap(envelope).ok()?;
        if report.is_some() {
            envelope.items.pop();
        }
        Some(envelope)
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
        self.attempt(envelope, 0, false);
        if self.delivered == sent_before {
            self.counters.return_report(&report);
        }
    }

    /// Replays what waits until `deadline`, starting with a probe of the server even during an offline pause;
    /// returns whether nothing is left waiting and the transport flushed.
    pub(crate) fn flush(&mut self, deadline: Instant) -> bool {
        self.offline.probe_now();
        while self.has_waiting()
            && Instant::now() < deadline
            && !self.offline.is_offline(Instant::now())
        {
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
        for waiting in std::mem::take(&mut self.backlog) {
            self.counters
                .discard_items(Reason::NetworkError, &waiting.envelope);
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
