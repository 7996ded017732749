//! The worker thread: finishes each queued item by its kind, ships it by its kind, and hands envelopes to delivery.
//!
//! It is the only thread the SDK starts. It waits on two queues (see `queue.rs`): the bounded data queue of
//! [`Task`]s and the unbounded control queue (flush, shutdown, wake-ups, and envelopes the panic hook already
//! finished). For each task:
//!
//! 1. **Finish** it by its kind (`finish.rs`): an event is merged with its scope, symbolicated and passed through
//!    `before_send` (`processor.rs`).
//! 2. **Ship** it by its kind (`batch.rs`): events go at once in an envelope of their own; kinds that are batched
//!    wait for their batch to fill or fall due.
//! 3. **Deliver** the envelope (`delivery/`): send, or keep in the spool, with rate limits, retries and client
//!    reports.

pub(crate) mod app_session;
pub(crate) mod batch;
pub(crate) mod finish;
#[cfg(faultline_native_crash)]
mod native_crash;
pub(crate) mod processor;
pub(crate) mod record_batcher;

use std::sync::Arc;
use std::time::{Duration, Instant};

use app_session::AppSessionKeeper;
use batch::Batches;
use processor::Processor;
use record_batcher::RecordBatcher;

use crate::delivery::destinations::Destinations;
use crate::delivery::spool::Spool;
use crate::message::{Control, Task};
use crate::protocol::envelope::{Envelope, EnvelopeItem};
use crate::protocol::item_kind::ItemKind;
use crate::protocol::log::{LogContainer, MAX_LOGS_PER_ITEM};
use crate::protocol::metric::{MAX_METRICS_PER_ITEM, MetricContainer};
use crate::queue::{Wake, WorkerEnd};

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

pub(crate) struct Worker {
    /// The data and control queues (see `queue`).
    mailbox: WorkerEnd,
    processor: Arc<Processor>,
    batches: Batches,
    /// The server's delivery, and an OpenTelemetry collector's beside it.
    delivery: Destinations,
    /// The process's session, in application mode.
    app_session: AppSessionKeeper,
    /// When the log records waiting in their lane go.
    logs: RecordBatcher,
    /// When the metric measurements waiting in theirs go.
    metrics: RecordBatcher,
    /// The spool, where earlier processes left their native crash records.
    #[cfg_attr(
        not(faultline_native_crash),
        expect(
            dead_code,
            reason = "only native crash records are read from the spool here"
        )
    )]
    spool: Option<Arc<Spool>>,
}

impl Worker {
    pub(crate) fn new(
        mailbox: WorkerEnd,
        processor: Arc<Processor>,
        delivery: Destinations,
        batches: Batches,
        app_session: AppSessionKeeper,
        spool: Option<Arc<Spool>>,
    ) -> Self {
        Worker {
            mailbox,
            processor,
            batches,
            delivery,
            app_session,
            spool,
            logs: RecordBatcher::default(),
            metrics: RecordBatcher::default(),
        }
    }

    pub(crate) fn run(mut self) {
        #[cfg(faultline_native_crash)]
        if let Some(spool) = self.spool.clone() {
            let reports = native_crash::reports(&self.processor, &spool);
            for (pid, at) in reports.crashed {
                self.app_session.note_native_crash(pid, at);
            }
            for (claim, envelope) in reports.stored {
                self.delivery.deliver_claimed(claim, envelope);
            }
        }
        for abandoned in self.app_session.start() {
            self.ship(abandoned, true);
        }
        self.processor.warm_up();
        let mut busy = false;
        let mut last_duties = Instant::now();
        loop {
            // After a task, look for the next one for a moment (errors come in bursts); asleep, look once.
            let task = if busy {
                self.linger()
            } else {
                self.mailbox.pop_task()
            };
            if let Some(task) = task {
                self.handle(task, true);
                busy = true;
                // A steady stream of tasks never lets the loop sleep: do the timed duties at least every poll,
                // and send log containers as soon as they fill.
                let now = Instant::now();
                if now.duration_since(last_duties) >= POLL {
                    last_duties = now;
                    self.timed_duties(now);
                } else if self.mailbox.logs_len() >= MAX_LOGS_PER_ITEM
                    || self.mailbox.metrics_len() >= MAX_METRICS_PER_ITEM
                {
                    self.ship_records(false, true);
                }
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
                    self.delivery.deliver_claimed(claim, envelope)
                }
                Wake::Control(Control::Envelope(envelope)) => self.delivery.ship(envelope, true),
                Wake::Control(Control::Shutdown { deadline, ack }) => {
                    let done = self.shut_down(deadline);
                    ack.send(done);
                    return;
                }
                // `wait` turns a drain order into `Wake::Tasks`; nothing else to do for it.
                Wake::Control(Control::Drain) | Wake::Tasks => {}
                // The client is gone without a shutdown: keep what is queued and stop.
                Wake::ClientGone => {
                    self.shut_down(Instant::now());
                    return;
                }
            }
            let now = Instant::now();
            last_duties = now;
            self.timed_duties(now);
        }
    }

    /// What is due by time: batches and session counts, log containers, the session's heartbeat, and delivery's
    /// retries and reports.
    fn timed_duties(&mut self, now: Instant) {
        for envelope in self.batches.take_due(now) {
            self.ship(envelope, true);
        }
        self.ship_records(false, true);
        for envelope in self.app_session.tick(now) {
            self.ship(envelope, true);
        }
        self.delivery.tick(now);
    }

    /// Polls the data queue for up to [`LINGER`], yielding the CPU between polls; stops at once for a control
    /// message or when something waits to be replayed.
    fn linger(&self) -> Option<Task> {
        let until = Instant::now() + LINGER;
        loop {
            // A control message comes first, or a stream of tasks that never lets the queue run dry would hold up
            // a flush or a shutdown for ever.
            if self.mailbox.has_control() {
                return None;
            }
            if self.mailbox.has_tasks() {
                if let Some(task) = self.mailbox.pop_task() {
                    return Some(task);
                }
            }
            if self.delivery.has_waiting() || Instant::now() >= until {
                return None;
            }
            std::thread::yield_now();
        }
    }

    /// When the loop must wake by itself: the next look at the data queue, a batch falling due, or what delivery
    /// needs (the end of an offline pause, the next report), whichever comes first.
    fn next_wake(&self, now: Instant) -> Instant {
        let mut wake = self.delivery.next_wake(now).min(now + POLL);
        if let Some(due) = self.batches.next_due() {
            wake = wake.min(due);
        }
        if let Some(beat) = self.app_session.next_wake() {
            wake = wake.min(beat);
        }
        for due in [self.logs.next_due(), self.metrics.next_due()]
            .into_iter()
            .flatten()
        {
            wake = wake.min(due);
        }
        wake.max(now)
    }

    /// Finishes a queued task and ships it: delivered now (`send_now`, unless delivery is paused),
    /// parked for later, or added to its kind's batch.
    /// An event's envelope takes the process's session update with it, when errors were counted since the last.
    fn handle(&mut self, task: Task, send_now: bool) {
        let now = Instant::now();
        let envelope = match task {
            Task::Crash(crash) => {
                let attachments = crash.event.scope.shared_attachments();
                let mut envelope = finish::crash(&self.processor, *crash);
                if envelope.event_id.is_some() {
                    envelope
                        .items
                        .extend(self.processor.attachment_items(attachments));
                }
                Some(envelope)
            }
            task => {
                let attachments = task.attachments();
                let Some((kind, item)) = finish::finish(&self.processor, task) else {
                    // `before_send` dropped the event: its attachments go with it, counted.
                    self.processor.drop_attachments(&attachments);
                    return;
                };
                // An event goes at once, in an envelope of its own, with its attachments.
                self.batches.push(kind, item, now).map(|mut envelope| {
                    if kind == ItemKind::Event {
                        envelope
                            .items
                            .extend(self.processor.attachment_items(attachments));
                    }
                    envelope
                })
            }
        };
        if let Some(mut envelope) = envelope {
            self.app_session.attach(&mut envelope);
            self.ship(envelope, send_now);
        }
    }

    /// Ships the log and metric containers that are ready (every waiting record with `all`).
    fn ship_records(&mut self, all: bool, send_now: bool) {
        let now = Instant::now();
        let (mailbox, processor) = (&self.mailbox, &self.processor);
        let logs = self.logs.take(
            mailbox.logs_len(),
            MAX_LOGS_PER_ITEM,
            || mailbox.pop_log(),
            |pending| processor.prepare_log(pending),
            now,
            all,
        );
        self.logs.settle(mailbox.logs_len(), now);
        let metrics = self.metrics.take(
            mailbox.metrics_len(),
            MAX_METRICS_PER_ITEM,
            || mailbox.pop_metric(),
            |pending| processor.prepare_metric(pending),
            now,
            all,
        );
        self.metrics.settle(mailbox.metrics_len(), now);
        let containers = logs
            .into_iter()
            .map(|items| EnvelopeItem::Logs(LogContainer { items }))
            .chain(
                metrics
                    .into_iter()
                    .map(|items| EnvelopeItem::Metrics(MetricContainer { items })),
            );
        for item in containers.collect::<Vec<_>>() {
            self.ship(batch::envelope(vec![item]), send_now);
        }
    }

    /// Hands an envelope to delivery: sent now (`send_now`, unless delivery is paused), or parked for later.
    fn ship(&mut self, envelope: Envelope, send_now: bool) {
        self.delivery.ship(envelope, send_now);
    }

    /// Delivers what is queued, batched and waiting, until `deadline`; returns whether nothing is left.
    ///
    /// A flush takes the tasks queued when it started, not those that captures keep adding meanwhile (a steady
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
        for envelope in self.batches.take_all() {
            let in_time = Instant::now() < deadline;
            self.ship(envelope, in_time);
        }
        self.ship_records(true, Instant::now() < deadline);
        let delivered = self.delivery.flush(deadline);
        (!until_empty || self.mailbox.len() == 0) && delivered
    }

    /// Ends the process's session, delivers what it can until `deadline`, keeps the rest, sends a last client
    /// report, and stops.
    fn shut_down(&mut self, deadline: Instant) -> bool {
        if let Some(last) = self.app_session.end() {
            self.ship(last, Instant::now() < deadline);
        }
        let done = self.flush(deadline, true);
        self.delivery.shut_down(deadline);
        done
    }
}
