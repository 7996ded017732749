//! The queues between the capturing threads and the worker, on `crossbeam-channel`.
//!
//! Two channels: the data queue of [`Task`]s, bounded by `queue_size`, and the unbounded control queue of
//! [`Control`] messages (flush, shutdown, the panic hook's envelopes), so that a full data queue never holds up a
//! flush. The worker blocks on the control queue alone and polls the data queue (see `worker::POLL`). A bounded
//! crossbeam channel wakes a receiver only when one is blocked on it, and none ever is, so a capture costs a
//! lock-free push and never a wake-up, except the one capture that finds the data queue half full: it sends
//! [`Control::Drain`], which wakes the worker so the queue cannot overflow between two polls. Later captures find
//! the worker already woken and pay nothing more.
//!
//! Log records and metric measurements have a lane each of their own (when they are on): a bounded channel of
//! [`MAX_WAITING_LOGS`] records, which is where they wait for their container, so that a burst of them never takes
//! the room of errors in the data queue, and the worker takes them a container's worth at a time. The record that
//! brings a container's worth wakes the worker, as a half-full data queue does.
//!
//! Each side closes its end when it goes away. The client's end ([`Mailbox`]) holds the only senders, so when the
//! client is dropped the worker finds the control queue disconnected, once it has read what was sent before. The
//! worker's end ([`WorkerEnd`]) holds the only control receiver: when the worker's thread ends, by return or by
//! panic, waiting control messages are dropped with their replies, which ends every wait for them, and later sends
//! fail at once. The client keeps a receiver of the data queue, so that what the worker left there stays for a
//! shutdown to take back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
#[cfg(feature = "panic")]
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::message::{Control, PendingLog, PendingMetric, Task};
use crate::protocol::log::MAX_LOGS_PER_ITEM;

/// The most log records (and, apart, the most metric measurements) that wait for the worker at once; more are
/// dropped and counted.
pub(crate) const MAX_WAITING_LOGS: usize = 1000;

/// A lane of records when its kind is on: the sending end, or the receiving end.
fn lane<T>(on: bool) -> (Option<Sender<T>>, Option<Receiver<T>>) {
    if on {
        let (tx, rx) = crossbeam_channel::bounded(MAX_WAITING_LOGS);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    }
}

/// Creates the queues, with room for `capacity` tasks, a lane for log records when `logs` and one for metric
/// measurements when `metrics`: the client's end and the worker's end.
pub(crate) fn mailbox(capacity: usize, logs: bool, metrics: bool) -> (Mailbox, WorkerEnd) {
    let capacity = capacity.max(1);
    let (tasks, tasks_rx) = crossbeam_channel::bounded(capacity);
    let (control, control_rx) = crossbeam_channel::unbounded();
    let (logs, logs_rx) = lane(logs);
    let (metrics, metrics_rx) = lane(metrics);
    let shared = Arc::new(Shared {
        drain_sent: AtomicBool::new(false),
        worker_gone: AtomicBool::new(false),
    });
    let client = Mailbox {
        tasks,
        leftover: tasks_rx.clone(),
        logs,
        leftover_logs: logs_rx.clone(),
        metrics,
        leftover_metrics: metrics_rx.clone(),
        control,
        shared: shared.clone(),
        wake_at: (capacity / 2).max(1),
    };
    let worker = WorkerEnd {
        tasks: tasks_rx,
        logs: logs_rx,
        metrics: metrics_rx,
        control: control_rx,
        shared,
    };
    (client, worker)
}

/// What both ends read and write.
struct Shared {
    /// A [`Control::Drain`] was sent and the worker has not read it yet.
    drain_sent: AtomicBool,
    /// The worker is gone: nothing sent would be read.
    worker_gone: AtomicBool,
}

/// The client's end: the senders, and a receiver for what the worker leaves behind.
pub(crate) struct Mailbox {
    tasks: Sender<Task>,
    leftover: Receiver<Task>,
    /// The log lane, when logs are on.
    logs: Option<Sender<PendingLog>>,
    leftover_logs: Option<Receiver<PendingLog>>,
    /// The metrics lane, when metrics are on.
    metrics: Option<Sender<PendingMetric>>,
    leftover_metrics: Option<Receiver<PendingMetric>>,
    control: Sender<Control>,
    shared: Arc<Shared>,
    /// How many queued tasks make a capture wake the worker: half the queue, at least one.
    wake_at: usize,
}

/// Why [`Mailbox::try_push`] refused a task.
pub(crate) enum Refused {
    Full,
    WorkerGone,
}

impl Mailbox {
    /// Queues a task unless the data queue is full or the worker is gone (then the task comes back); never waits.
    pub(crate) fn try_push(&self, task: Task) -> Result<(), (Refused, Task)> {
        if self.shared.worker_gone.load(Ordering::Relaxed) {
            return Err((Refused::WorkerGone, task));
        }
        match self.tasks.try_send(task) {
            Ok(()) => {}
            Err(TrySendError::Full(task)) => return Err((Refused::Full, task)),
            Err(TrySendError::Disconnected(task)) => return Err((Refused::WorkerGone, task)),
        }
        if self.tasks.len() >= self.wake_at {
            self.wake_worker();
        }
        Ok(())
    }

    /// Sends [`Control::Drain`], unless one waits unread already: the worker looks at what waits for it.
    pub(crate) fn wake_worker(&self) {
        if !self.shared.drain_sent.load(Ordering::Relaxed)
            && !self.shared.drain_sent.swap(true, Ordering::AcqRel)
        {
            let _ = self.control.send(Control::Drain);
        }
    }

    /// Queues a log record unless [`MAX_WAITING_LOGS`] wait already, logs are off, or the worker is gone (then the
    /// record comes back); never waits. The record that brings a container's worth wakes the worker.
    #[expect(
        clippy::result_large_err,
        reason = "a refused record comes back only to be counted, on the rare path; boxing would cost every push"
    )]
    pub(crate) fn try_push_log(&self, log: PendingLog) -> Result<(), (Refused, PendingLog)> {
        self.push_lane(self.logs.as_ref(), log)
    }

    /// [`Mailbox::try_push_log`] for a metric measurement, on its own lane.
    #[expect(
        clippy::result_large_err,
        reason = "a refused measurement comes back only to be counted, on the rare path"
    )]
    pub(crate) fn try_push_metric(
        &self,
        metric: PendingMetric,
    ) -> Result<(), (Refused, PendingMetric)> {
        self.push_lane(self.metrics.as_ref(), metric)
    }

    /// Pushes a record onto `lane` (none while its kind is off), waking the worker when a container's worth waits.
    fn push_lane<T>(&self, lane: Option<&Sender<T>>, record: T) -> Result<(), (Refused, T)> {
        let Some(lane) = lane else {
            return Err((Refused::WorkerGone, record));
        };
        if self.shared.worker_gone.load(Ordering::Relaxed) {
            return Err((Refused::WorkerGone, record));
        }
        match lane.try_send(record) {
            Ok(()) => {}
            Err(TrySendError::Full(record)) => return Err((Refused::Full, record)),
            Err(TrySendError::Disconnected(record)) => return Err((Refused::WorkerGone, record)),
        }
        if lane.len() >= MAX_LOGS_PER_ITEM {
            self.wake_worker();
        }
        Ok(())
    }

    /// Takes the oldest waiting log record: a shutdown taking back what the worker did not reach.
    pub(crate) fn pop_log(&self) -> Option<PendingLog> {
        self.leftover_logs.as_ref()?.try_recv().ok()
    }

    /// Takes the oldest waiting metric measurement, likewise.
    pub(crate) fn pop_metric(&self) -> Option<PendingMetric> {
        self.leftover_metrics.as_ref()?.try_recv().ok()
    }

    /// Queues a task, waiting up to `deadline` for room: only the panic hook waits, and only while the worker
    /// drains the queue.
    #[cfg(feature = "panic")]
    pub(crate) fn push_until(&self, mut task: Task, deadline: Instant) -> Result<(), Refused> {
        loop {
            // A full queue is at least half full, so a refused push has already woken the worker.
            task = match self.try_push(task) {
                Ok(()) => return Ok(()),
                Err((Refused::WorkerGone, _)) => return Err(Refused::WorkerGone),
                Err((Refused::Full, task)) => task,
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(Refused::Full);
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(1)));
        }
    }

    /// Whether the data queue is full, as of a moment ago; [`Mailbox::try_push`] makes the real check.
    pub(crate) fn is_full(&self) -> bool {
        self.tasks.is_full()
    }

    /// Tasks in the data queue.
    pub(crate) fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Takes the oldest queued task: a shutdown taking back what the worker did not reach.
    pub(crate) fn pop_task(&self) -> Option<Task> {
        self.leftover.try_recv().ok()
    }

    /// Sends a control message and wakes the worker; fails (dropping the message) if the worker is gone.
    pub(crate) fn send_control(&self, message: Control) -> Result<(), Refused> {
        self.control.send(message).map_err(|_| Refused::WorkerGone)
    }
}

/// What woke the worker in [`WorkerEnd::wait`].
#[expect(
    clippy::large_enum_variant,
    reason = "returned once per wake-up and matched at once, never stored"
)]
pub(crate) enum Wake {
    Control(Control),
    /// The data queue reached half full, or the wait timed out: time to look at the data queue.
    Tasks,
    /// The client is gone and the control queue is empty.
    ClientGone,
}

/// The worker's end; dropping it (the worker returned or panicked) closes the queues for the client.
pub(crate) struct WorkerEnd {
    tasks: Receiver<Task>,
    logs: Option<Receiver<PendingLog>>,
    metrics: Option<Receiver<PendingMetric>>,
    control: Receiver<Control>,
    shared: Arc<Shared>,
}

impl WorkerEnd {
    /// Takes the oldest queued task, if any.
    pub(crate) fn pop_task(&self) -> Option<Task> {
        self.tasks.try_recv().ok()
    }

    /// Whether a task waits, as of a moment ago.
    pub(crate) fn has_tasks(&self) -> bool {
        !self.tasks.is_empty()
    }

    /// Tasks in the data queue.
    pub(crate) fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Log records waiting in their lane.
    pub(crate) fn logs_len(&self) -> usize {
        self.logs.as_ref().map_or(0, Receiver::len)
    }

    /// Takes the oldest waiting log record, if any.
    pub(crate) fn pop_log(&self) -> Option<PendingLog> {
        self.logs.as_ref()?.try_recv().ok()
    }

    /// Metric measurements waiting in their lane.
    pub(crate) fn metrics_len(&self) -> usize {
        self.metrics.as_ref().map_or(0, Receiver::len)
    }

    /// Takes the oldest waiting metric measurement, if any.
    pub(crate) fn pop_metric(&self) -> Option<PendingMetric> {
        self.metrics.as_ref()?.try_recv().ok()
    }

    /// Whether a control message waits, as of a moment ago (the worker stops lingering over the data queue for it).
    pub(crate) fn has_control(&self) -> bool {
        !self.control.is_empty()
    }

    /// The worker's sleep: returns the next control message, or when the data queue reached half full, the client
    /// went away, or `timeout` passed.
    pub(crate) fn wait(&self, timeout: Duration) -> Wake {
        match self.control.recv_timeout(timeout) {
            Ok(Control::Drain) => {
                self.shared.drain_sent.store(false, Ordering::Release);
                Wake::Tasks
            }
            Ok(message) => Wake::Control(message),
            Err(RecvTimeoutError::Timeout) => Wake::Tasks,
            Err(RecvTimeoutError::Disconnected) => Wake::ClientGone,
        }
    }
}

impl Drop for WorkerEnd {
    fn drop(&mut self) {
        self.shared.worker_gone.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::thread;
    use std::time::Instant;

    use super::*;
    use crate::message::{PendingEvent, reply};
    use crate::protocol::event::Event;
    use crate::scope::Scope;

    fn task() -> Task {
        Task::Event(Box::new(PendingEvent {
            event: Event::new(),
            trace: None,
            scope: Arc::new(Scope::default()),
        }))
    }

    fn wait_now(worker: &WorkerEnd) -> &'static str {
        wait_now_after(worker, Duration::ZERO)
    }

    fn wait_now_after(worker: &WorkerEnd, timeout: Duration) -> &'static str {
        match worker.wait(timeout) {
            Wake::Control(Control::Flush { .. }) => "flush",
            Wake::Control(_) => "other control",
            Wake::Tasks => "tasks",
            Wake::ClientGone => "client gone",
        }
    }

    #[test]
    fn a_full_queue_refuses_and_gives_the_task_back() {
        let (client, worker) = mailbox(2, false, false);
        assert!(client.try_push(task()).is_ok());
        assert!(client.try_push(task()).is_ok());
        assert!(client.is_full());
        assert!(matches!(
            client.try_push(task()),
            Err((Refused::Full, Task::Event(_)))
        ));
        assert_eq!(client.len(), 2);
        assert!(worker.pop_task().is_some());
        assert!(client.try_push(task()).is_ok());
    }

    #[test]
    fn only_the_capture_that_reaches_half_full_wakes_the_worker() {
        let (client, worker) = mailbox(8, false, false);
        for _ in 0..3 {
            client.try_push(task()).ok().unwrap();
        }
        // Below half: the worker is not woken, and its wait ends only by timing out.
        assert!(!worker.has_control());
        client.try_push(task()).ok().unwrap();
        assert!(worker.has_control());
        client.try_push(task()).ok().unwrap();
        // The worker sees one wake-up for the data queue; a second wait with nothing new times out.
        assert_eq!(wait_now(&worker), "tasks");
        assert!(!worker.has_control());
        let started = Instant::now();
        assert!(matches!(
            worker.wait(Duration::from_millis(30)),
            Wake::Tasks
        ));
        assert!(started.elapsed() >= Duration::from_millis(30));
        // Once the worker has read the wake-up, the next capture at half full or above wakes it again.
        client.try_push(task()).ok().unwrap();
        assert_eq!(wait_now(&worker), "tasks");
    }

    #[test]
    fn control_messages_wake_a_sleeping_worker() {
        let (client, worker) = mailbox(4, false, false);
        client.try_push(task()).ok().unwrap();
        let sleeper = thread::spawn(move || {
            let started = Instant::now();
            let woke = wait_now_after(&worker, Duration::from_secs(30));
            (woke, started.elapsed(), worker)
        });
        thread::sleep(Duration::from_millis(20));
        let (ack, _answer) = reply();
        let deadline = Instant::now();
        assert!(
            client
                .send_control(Control::Flush { deadline, ack })
                .is_ok()
        );
        let (woke, waited, worker) = sleeper.join().unwrap();
        assert_eq!(woke, "flush");
        assert!(waited < Duration::from_secs(10), "{waited:?}");
        assert!(worker.has_tasks());
    }

    #[test]
    fn the_worker_learns_that_the_client_is_gone_after_the_last_control_message() {
        let (client, worker) = mailbox(4, false, false);
        let (ack, _answer) = reply();
        let deadline = Instant::now();
        client.try_push(task()).ok().unwrap();
        client
            .send_control(Control::Flush { deadline, ack })
            .ok()
            .unwrap();
        drop(client);
        assert_eq!(wait_now(&worker), "flush");
        assert_eq!(wait_now(&worker), "client gone");
        // What was queued is still there for the worker to finish.
        assert!(worker.pop_task().is_some());
    }

    #[test]
    fn once_the_worker_is_gone_sends_fail_and_waiting_replies_end() {
        let (client, worker) = mailbox(2, false, false);
        client.try_push(task()).ok().unwrap();
        let (ack, answer) = reply();
        let deadline = Instant::now() + Duration::from_secs(30);
        client
            .send_control(Control::Flush { deadline, ack })
            .ok()
            .unwrap();
        let waiter = thread::spawn(move || {
            let started = Instant::now();
            (answer.wait_until(deadline), started.elapsed())
        });
        thread::sleep(Duration::from_millis(20));
        // The worker's thread ends (by return or panic) with the flush unanswered.
        drop(worker);
        let (answer, waited) = waiter.join().unwrap();
        assert_eq!(answer, None);
        assert!(waited < Duration::from_secs(10), "{waited:?}");
        assert!(matches!(
            client.try_push(task()),
            Err((Refused::WorkerGone, _))
        ));
        let (ack, _answer) = reply();
        assert!(
            client
                .send_control(Control::Flush { deadline, ack })
                .is_err()
        );
        // What was queued stays for a shutdown to take back.
        assert!(client.pop_task().is_some());
        assert!(client.pop_task().is_none());
    }

    #[cfg(feature = "panic")]
    #[test]
    fn the_panic_path_waits_for_room_until_its_deadline() {
        let (client, worker) = mailbox(1, false, false);
        client.try_push(task()).ok().unwrap();
        let started = Instant::now();
        assert!(matches!(
            client.push_until(task(), started + Duration::from_millis(30)),
            Err(Refused::Full)
        ));
        assert!(started.elapsed() >= Duration::from_millis(30));

        let drainer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            (worker.pop_task().is_some(), worker)
        });
        assert!(
            client
                .push_until(task(), Instant::now() + Duration::from_secs(30))
                .is_ok()
        );
        let (drained, _worker) = drainer.join().unwrap();
        assert!(drained);
        assert_eq!(client.len(), 1);
    }
}
