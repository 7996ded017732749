//! The worker thread: finishes events and delivers envelopes, keeping what cannot be delivered yet.
//!
//! It is the only thread the SDK starts. It waits on two queues: the bounded data queue of events and the unbounded
//! control queue (flush, shutdown, and envelopes the panic hook already wrote to the spool).
//!
//! # Delivery
//!
//! While the server answers and nothing waits, an envelope is posted at once, with a copy in a slot shared with the
//! client so that a shutdown which runs out of time can spool it. Otherwise (offline, a backlog) it is written to the
//! spool first and deleted once the server has accepted it or rejected it for good, so a crash, `SIGKILL` or a hung
//! request loses nothing that waits: the next process with the same DSN sends what is left. Without a spool,
//! envelopes that cannot be sent yet wait in a backlog in memory, bounded by `queue_size`.
//!
//! - A 2xx is delivered. A 429 drops the envelope (the server counted it) and pauses its categories; so does an
//!   `X-Sentry-Rate-Limits` header on any response. While a category is paused no request is made for it and its
//!   events are counted as `ratelimit_backoff`.
//! - No answer (connection refused, reset, timeout, garbage), a 408 or a 5xx puts the worker *offline* for a delay
//!   that grows exponentially with full jitter (`retry.rs`). While offline, new envelopes go straight to the spool
//!   or backlog without a request; when the delay ends the oldest waiting envelope is tried again, and once one
//!   gets through the rest follow, oldest first, between new events. An envelope that keeps getting 5xx is given
//!   up after `retry::MAX_ATTEMPTS` (counted as `send_error`); one that cannot reach the server is never given up,
//!   only evicted when the spool's budget is full (`cache_overflow`).
//! - Any other 4xx drops the envelope (`send_error`).
//! - Counts of discarded events ride on the next envelope as a `client_report` item, or go out on their own after
//!   `client_report_interval`, and at shutdown.

use std::collections::{HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::client::{Control, Task};
use crate::delivery::rate_limit::{Category, RateLimiter};
use crate::delivery::retry;
use crate::delivery::spool::{Claim, Spool};
use crate::diagnostics::sdk_debug;
use crate::processor::Processor;
use crate::protocol::{Envelope, EnvelopeItem, EventId};
use crate::queue::{Wake, WorkerEnd};
use crate::stats::{Counters, Reason};
use crate::sync::lock;
use crate::transport::{Outcome, Transport};

/// How long the worker looks for the next event after handling one, before it goes back to sleep. Short enough that
/// an idle program's worker sleeps almost all the time (it costs at most this much of a core per event, and yields
/// the CPU to any thread that wants it meanwhile); long enough to catch the next capture of a burst at once.
const LINGER: Duration = Duration::from_micros(200);

/// How often a sleeping worker looks at the data queue.
///
/// The worker never blocks on the data queue: a receiver blocked there would make every capture that finds it
/// asleep pay for the system call that wakes it (about 9 µs on a VM, twice the stack walk). Instead it sleeps on
/// the control queue and polls the data queue this often, so a capture costs its caller a queue push and nothing
/// more, and a lone event starts on its way within this delay. `flush`, shutdown and a panic go through the control
/// queue and wake the worker at once, and so does a capture that finds the data queue half full,
/// so a steady stream of events cannot overflow the queue while the worker sleeps.
const POLL: Duration = Duration::from_millis(100);

/// How many envelopes' 5xx counts the worker remembers.
const MAX_TRACKED_ERRORS: usize = 4096;

pub(crate) struct Worker {
    /// The data and control queues (see `queue`).
    mailbox: WorkerEnd,
    processor: Arc<Processor>,
    transport: Arc<dyn Transport>,
    counters: Arc<Counters>,
    spool: Option<Arc<Spool>>,
    /// The envelope being sent without a copy on disk, shared with the client (see `deliver_fresh`).
    inflight: Arc<Mutex<Option<Arc<Envelope>>>>,
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

/// The worker's view of the server's reachability.
#[derive(Debug, Default)]
struct Offline {
    /// Failed attempts in a row.
    failures: u32,
    /// No attempt before this instant.
    until: Option<Instant>,
}

impl Offline {
    fn is_offline(&self, now: Instant) -> bool {
        self.until.is_some_and(|until| now < until)
    }

    fn failed(&mut self, now: Instant, roll: f64) {
        self.failures = self.failures.saturating_add(1);
        // Past the retry schedule's last attempt, keep probing at the longest delay: the data is kept, not dropped.
        let attempt = self.failures.min(retry::MAX_ATTEMPTS - 1);
        let delay = retry::next_delay(attempt, roll).unwrap_or(retry::MAX_DELAY);
        self.until = now.checked_add(delay.max(MIN_PROBE_DELAY));
    }

    fn recovered(&mut self) {
        self.failures = 0;
        self.until = None;
    }
}

/// The shortest pause after a failure, so a flapping server is not hammered when the jitter rolls near zero.
const MIN_PROBE_DELAY: Duration = Duration::from_millis(100);

impl Worker {
    pub(crate) fn new(
        mailbox: WorkerEnd,
        processor: Arc<Processor>,
        transport: Arc<dyn Transport>,
        counters: Arc<Counters>,
        spool: Option<Arc<Spool>>,
        inflight: Arc<Mutex<Option<Arc<Envelope>>>>,
    ) -> Self {
        let options = processor.options();
        let backlog_limit = options.queue_size;
        let report_interval = options.client_report_interval;
        Worker {
            mailbox,
            processor,
            transport,
            counters,
            spool_pending: spool.is_some(),
            inflight,
            spool,
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

    pub(crate) fn run(mut self) {
        self.processor.warm_up();
        let mut busy = false;
        loop {
            // After an event, look for the next one for a moment (errors come in bursts); asleep, look once.
            let task = if busy {
                self.linger()
            } else {
                self.mailbox.pop_task()
            };
            if let Some(task) = task {
                self.handle(task, true);
                busy = true;
                continue;
            }
            busy = false;
            let now = Instant::now();
            let timeout = self.next_wake(now).saturating_duration_since(now);
            // The control queue wakes the worker, and so does a data queue that is half full; otherwise the data
            // queue is polled (see `POLL`).
            match self.mailbox.wait(timeout) {
                Wake::Control(Control::Flush { deadline, ack }) => {
                    let done = self.flush(deadline, false);
                    ack.send(done);
                }
                Wake::Control(Control::Stored { claim, envelope }) => {
                    self.deliver_claimed(claim, envelope)
                }
                Wake::Control(Control::Envelope(envelope)) => self.deliver_fresh(envelope),
                Wake::Control(Control::Shutdown { deadline, ack }) => {
                    let done = self.shut_down(deadline);
                    ack.send(done);
                    return;
                }
                // The client is gone without a shutdown: keep what is queued and stop.
                Wake::ClientGone => {
                    self.shut_down(Instant::now());
                    return;
                }
                Wake::Tasks => {}
            }
            let now = Instant::now();
            if self.has_waiting() && !self.offline.is_offline(now) {
                self.replay_one();
            }
            if now >= self.next_report {
                self.send_report_alone();
            }
        }
    }

    /// Polls the data queue for up to [`LINGER`], yielding the CPU between polls; stops at once for a control
    /// message or when something waits to be replayed.
    fn linger(&self) -> Option<Task> {
        let until = Instant::now() + LINGER;
        loop {
            // The lengths are read without the lock, which the capturing threads need: polling it for 200 µs
            // would make their captures wait for it. A control message comes first, or a stream of events that
            // never lets the queue run dry would hold up a flush or a shutdown for ever.
            if self.mailbox.has_control() {
                return None;
            }
            if self.mailbox.has_tasks() {
                if let Some(task) = self.mailbox.pop_task() {
                    return Some(task);
                }
            }
            if self.has_waiting() || Instant::now() >= until {
                return None;
            }
            std::thread::yield_now();
        }
    }

    /// When the loop must wake by itself: the next look at the data queue, the end of an offline pause (if
    /// something waits) or the next report, whichever comes first.
    fn next_wake(&self, now: Instant) -> Instant {
        let mut wake = self.next_report.min(now + POLL);
        if self.has_waiting() {
            wake = wake.min(self.offline.until.unwrap_or(now));
        }
        wake.max(now)
    }

    fn has_waiting(&self) -> bool {
        !self.backlog.is_empty() || self.spool_pending
    }

    /// Finishes a queued event and delivers it now (`send_now`) or parks it.
    fn handle(&mut self, task: Task, send_now: bool) {
        match task {
            Task::Event(pending) => {
                let Some(event) = self.processor.prepare(*pending) else {
                    return;
                };
                let envelope = Envelope::from_event(event);
                if send_now && !self.offline.is_offline(Instant::now()) {
                    self.deliver_fresh(envelope);
                } else {
                    self.park(envelope, 0);
                }
            }
        }
    }

    /// Sends a new envelope.
    ///
    /// While the server answers and nothing waits, the envelope goes straight out, with a copy in the shared
    /// in-flight slot so that a shutdown that runs out of time can still spool it; writing every envelope to disk
    /// first would cost a file write, two renames and a delete per event (a quarter of the worker's time). Once
    /// something waits or the server stopped answering, new envelopes are written to the spool before they are
    /// sent, so they survive whatever happens next.
    fn deliver_fresh(&mut self, envelope: Envelope) {
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
                    self.counters
                        .discard_n(Reason::CacheOverflow, stored.evicted);
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
    fn deliver_claimed(&mut self, claim: Claim, envelope: Envelope) {
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
    fn park(&mut self, envelope: Envelope, server_errors: u32) {
        if let Some(spool) = &self.spool {
            match spool.store(&envelope) {
                Ok(stored) => {
                    self.counters
                        .discard_n(Reason::CacheOverflow, stored.evicted);
                    if stored.stored {
                        self.spool_pending = true;
                    } else {
                        self.counters.discard(Reason::CacheOverflow);
                    }
                    return;
                }
                Err(e) => sdk_debug!("could not write to the spool: {e}"),
            }
        }
        if self.backlog.len() >= self.backlog_limit {
            self.backlog.pop_front();
            self.counters.discard(Reason::CacheOverflow);
        }
        self.backlog.push_back(Waiting {
            envelope,
            server_errors,
        });
    }

    /// Tries the oldest waiting envelope once.
    fn replay_one(&mut self) {
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
            if category != Category::ClientReport {
                self.counters.discard_n(Reason::RateLimitBackoff, quantity);
            }
        }
        // With nothing left to send, the report's counts wait for the next envelope or the report interval.
        let mut envelope = envelope?;
        let has_report = envelope.items.iter().any(|i| i.ty() == "client_report");
        let report = if has_report {
            None
        } else {
            self.counters.take_report()
        };
        if let Some(report) = &report {
            envelope
                .items
                .push(EnvelopeItem::ClientReport(report.clone()));
            self.next_report = now + self.report_interval;
        }
        let events = envelope.items.iter().filter(|i| i.ty() == "event").count() as u64;
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
            self.counters.discard_n(Reason::RateLimited, events);
            sdk_debug!("rate limited: envelope {} dropped", id(envelope.event_id));
            return None;
        }
        if !retry::is_retryable(status) {
            self.counters.discard_n(Reason::SendError, events);
            return None;
        }
        self.offline.failed(Instant::now(), roll(envelope.event_id));
        if events == 0 {
            return None;
        }
        if status.is_some() {
            if server_errors + 1 >= retry::MAX_ATTEMPTS {
                self.counters.discard_n(Reason::SendError, events);
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

    /// Sends the counts of discarded events on their own, if there are any.
    fn send_report_alone(&mut self) {
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

    /// Delivers what is queued and waiting, until `deadline`; returns whether nothing is left.
    ///
    /// A flush takes the events queued when it started, not those that captures keep adding meanwhile (a steady
    /// stream would keep it going forever); a shutdown takes them all, since nothing will take them later.
    fn flush(&mut self, deadline: Instant, until_empty: bool) -> bool {
        let mut left = if until_empty {
            usize::MAX
        } else {
            self.mailbox.len()
        };
        while left > 0 {
            let Some(task) = self.mailbox.pop_task() else {
                break;
            };
            left -= 1;
            let in_time = Instant::now() < deadline;
            self.handle(task, in_time);
        }
        // A flush is a good moment to find out whether the server is back.
        self.offline.until = None;
        while self.has_waiting()
            && Instant::now() < deadline
            && !self.offline.is_offline(Instant::now())
        {
            self.replay_one();
        }
        let done = (!until_empty || self.mailbox.len() == 0) && !self.has_waiting();
        done && self
            .transport
            .flush(deadline.saturating_duration_since(Instant::now()))
    }

    /// Delivers what it can until `deadline`, keeps the rest, sends a last client report, and stops.
    fn shut_down(&mut self, deadline: Instant) -> bool {
        let done = self.flush(deadline, true);
        if Instant::now() < deadline {
            self.send_report_alone();
        }
        // Whatever is left in the in-memory backlog is lost with the process; count it.
        let lost = self.backlog.len() as u64;
        if lost > 0 {
            self.counters.discard_n(Reason::NetworkError, lost);
            self.backlog.clear();
        }
        let _ = self
            .transport
            .shutdown(deadline.saturating_duration_since(Instant::now()));
        done
    }
}

fn id(event_id: Option<EventId>) -> String {
    event_id.map_or_else(|| "-".to_owned(), |id| id.to_string())
}

/// A jitter roll from the event id (random already), or from the clock for envelopes without one.
fn roll(event_id: Option<EventId>) -> f64 {
    match event_id {
        Some(id) => crate::sampling::roll_from(id),
        None => f64::from(Instant::now().elapsed().subsec_nanos() % 1000) / 1000.0,
    }
}
