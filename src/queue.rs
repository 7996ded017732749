//! The queues between the capturing threads and the worker, behind one lock and one condition variable.
//!
//! Two queues share the lock: the data queue of events, bounded by `queue_size`, and the unbounded control queue
//! (flush, shutdown, the panic hook's envelopes), so that a full data queue never holds up a flush. The worker sleeps
//! on the control queue alone and polls the data queue (see `worker::POLL`): a capture then costs a lock, a push and
//! an unlock, never a wake-up, except the one capture that finds the data queue half full and wakes the worker so the
//! queue cannot overflow between two polls. Later captures find the worker already woken and pay nothing more.
//!
//! Each side closes its end when it goes away (the client when it is dropped, the worker when its thread ends, by
//! return or by panic), and the other side stops waiting at once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::client::{Control, Task};
use crate::sync::{self, lock};

/// The shared queues. The client holds it through an `Arc`; the worker through a [`WorkerEnd`].
pub(crate) struct Mailbox {
    state: Mutex<State>,
    /// Signalled for a control message, a half-full data queue, and when the client goes away.
    wake: Condvar,
    capacity: usize,
    /// How many queued events make a capture wake the worker: half the queue, at least one.
    wake_at: usize,
    /// The queues' lengths, written under the lock and read without it: the worker, looking for a next event
    /// (`Worker::linger`), and a capture checking for a full queue read these rather than take the lock, which
    /// the capturing threads need.
    tasks_len: AtomicUsize,
    control_len: AtomicUsize,
}

struct State {
    tasks: VecDeque<Task>,
    control: VecDeque<Control>,
    /// The worker was woken for the data queue and has not yet looked.
    nudged: bool,
    /// The client is gone: nothing more will be sent.
    client_gone: bool,
    /// The worker is gone: nothing sent would be read.
    worker_gone: bool,
}

/// Why [`Mailbox::try_push`] refused an event.
pub(crate) enum Refused {
    Full,
    WorkerGone,
}

/// What woke the worker in [`Mailbox::wait`].
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

impl Mailbox {
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Mailbox {
            state: Mutex::new(State {
                tasks: VecDeque::new(),
                control: VecDeque::new(),
                nudged: false,
                client_gone: false,
                worker_gone: false,
            }),
            wake: Condvar::new(),
            capacity,
            wake_at: (capacity / 2).max(1),
            tasks_len: AtomicUsize::new(0),
            control_len: AtomicUsize::new(0),
        }
    }

    /// Queues an event unless the data queue is full or the worker is gone (then the event comes back); never
    /// waits for the worker.
    pub(crate) fn try_push(&self, task: Task) -> Result<(), (Refused, Task)> {
        let mut state = lock(&self.state);
        if state.worker_gone {
            return Err((Refused::WorkerGone, task));
        }
        if state.tasks.len() >= self.capacity {
            return Err((Refused::Full, task));
        }
        state.tasks.push_back(task);
        self.tasks_len.store(state.tasks.len(), Ordering::Relaxed);
        let wake = state.tasks.len() >= self.wake_at && !state.nudged;
        state.nudged |= wake;
        drop(state);
        if wake {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Queues an event, waiting up to `deadline` for room: only the panic hook waits, and only while the worker
    /// drains the queue.
    #[cfg(feature = "panic")]
    pub(crate) fn push_until(&self, mut task: Task, deadline: Instant) -> Result<(), Refused> {
        loop {
            // A full queue is at least half full, so the refused push has already woken the worker.
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
        self.tasks_len.load(Ordering::Relaxed) >= self.capacity
    }

    /// Whether an event waits, as of a moment ago.
    pub(crate) fn has_tasks(&self) -> bool {
        self.tasks_len.load(Ordering::Relaxed) > 0
    }

    /// Events in the data queue.
    pub(crate) fn len(&self) -> usize {
        lock(&self.state).tasks.len()
    }

    /// Takes the oldest queued event: the worker's poll, or a shutdown taking back what the worker did not reach.
    pub(crate) fn pop_task(&self) -> Option<Task> {
        let mut state = lock(&self.state);
        let task = state.tasks.pop_front();
        self.tasks_len.store(state.tasks.len(), Ordering::Relaxed);
        task
    }

    /// Sends a control message and wakes the worker; fails (dropping the message) if the worker is gone.
    pub(crate) fn send_control(&self, message: Control) -> Result<(), Refused> {
        let mut state = lock(&self.state);
        if state.worker_gone {
            return Err(Refused::WorkerGone);
        }
        state.control.push_back(message);
        self.control_len
            .store(state.control.len(), Ordering::Relaxed);
        drop(state);
        self.wake.notify_one();
        Ok(())
    }

    /// Whether a control message waits, as of a moment ago (the worker stops lingering over the data queue for it).
    pub(crate) fn has_control(&self) -> bool {
        self.control_len.load(Ordering::Relaxed) > 0
    }

    /// The worker's sleep: returns the next control message, or when the data queue reached half full, the client
    /// went away, or `timeout` passed.
    pub(crate) fn wait(&self, timeout: Duration) -> Wake {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.state);
        loop {
            if let Some(message) = state.control.pop_front() {
                self.control_len
                    .store(state.control.len(), Ordering::Relaxed);
                return Wake::Control(message);
            }
            if state.nudged {
                state.nudged = false;
                return Wake::Tasks;
            }
            if state.client_gone {
                return Wake::ClientGone;
            }
            let Some(woken) = sync::wait_until(&self.wake, state, deadline) else {
                return Wake::Tasks;
            };
            state = woken;
        }
    }

    /// The client is going away: the worker finishes what is queued and stops.
    pub(crate) fn close_client(&self) {
        lock(&self.state).client_gone = true;
        self.wake.notify_one();
    }

    /// The worker is gone: later sends fail at once, and waiting control messages are dropped, which wakes
    /// whoever waits for their acknowledgement. Queued events stay, for a shutdown to take back.
    fn close_worker(&self) {
        let control = {
            let mut state = lock(&self.state);
            state.worker_gone = true;
            self.control_len.store(0, Ordering::Relaxed);
            std::mem::take(&mut state.control)
        };
        // Dropped outside the lock: dropping an acknowledgement takes the acknowledgement's own lock.
        drop(control);
    }
}

/// The worker's hold on the mailbox; closes the worker's end when dropped, whether the worker returned or panicked.
pub(crate) struct WorkerEnd(pub(crate) std::sync::Arc<Mailbox>);

impl std::ops::Deref for WorkerEnd {
    type Target = Mailbox;

    fn deref(&self) -> &Mailbox {
        &self.0
    }
}

impl Drop for WorkerEnd {
    fn drop(&mut self) {
        self.0.close_worker();
    }
}

/// Creates a one-shot reply: the worker answers a flush or shutdown through the [`Reply`], the waiting thread reads
/// it from the [`Answer`].
pub(crate) fn reply() -> (Reply, Answer) {
    let slot = std::sync::Arc::new(Slot {
        state: Mutex::new(Answered::Waiting),
        done: Condvar::new(),
    });
    (Reply(slot.clone()), Answer(slot))
}

struct Slot {
    state: Mutex<Answered>,
    done: Condvar,
}

enum Answered {
    Waiting,
    Sent(bool),
    /// The reply was dropped unanswered (the worker is gone).
    Dropped,
}

/// The sending half of [`reply`]; dropping it unanswered wakes the waiting thread with no answer.
pub(crate) struct Reply(std::sync::Arc<Slot>);

impl Reply {
    pub(crate) fn send(self, value: bool) {
        self.set(Answered::Sent(value));
    }

    fn set(&self, answer: Answered) {
        let mut state = lock(&self.0.state);
        if matches!(*state, Answered::Waiting) {
            *state = answer;
            drop(state);
            self.0.done.notify_all();
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.set(Answered::Dropped);
    }
}

/// The receiving half of [`reply`].
pub(crate) struct Answer(std::sync::Arc<Slot>);

impl Answer {
    /// The answer, or `None` if there was none by `deadline` or the reply was dropped unanswered.
    pub(crate) fn wait_until(self, deadline: Instant) -> Option<bool> {
        let mut state = lock(&self.0.state);
        loop {
            match *state {
                Answered::Sent(value) => return Some(value),
                Answered::Dropped => return None,
                Answered::Waiting => {}
            }
            state = sync::wait_until(&self.0.done, state, deadline)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;

    use super::*;
    use crate::client::Pending;
    use crate::protocol::Event;
    use crate::scope::Scope;

    fn task() -> Task {
        Task::Event(Box::new(Pending {
            event: Event::new(),
            trace: None,
            scope: Arc::new(Scope::default()),
        }))
    }

    fn wait_now(mailbox: &Mailbox) -> &'static str {
        wait_now_after(mailbox, Duration::ZERO)
    }

    #[test]
    fn a_full_queue_refuses_and_gives_the_event_back() {
        let mailbox = Mailbox::new(2);
        assert!(mailbox.try_push(task()).is_ok());
        assert!(mailbox.try_push(task()).is_ok());
        assert!(mailbox.is_full());
        assert!(matches!(
            mailbox.try_push(task()),
            Err((Refused::Full, Task::Event(_)))
        ));
        assert_eq!(mailbox.len(), 2);
        assert!(mailbox.pop_task().is_some());
        assert!(mailbox.try_push(task()).is_ok());
    }

    #[test]
    fn only_the_capture_that_reaches_half_full_wakes_the_worker() {
        let mailbox = Mailbox::new(8);
        for _ in 0..3 {
            mailbox.try_push(task()).ok().unwrap();
        }
        // Below half: the worker is not woken, and its wait ends only by timing out.
        assert!(!lock(&mailbox.state).nudged);
        mailbox.try_push(task()).ok().unwrap();
        assert!(lock(&mailbox.state).nudged);
        mailbox.try_push(task()).ok().unwrap();
        // The worker sees one wake-up for the data queue; a second wait with nothing new times out.
        let started = Instant::now();
        assert_eq!(wait_now(&mailbox), "tasks");
        assert!(!lock(&mailbox.state).nudged);
        assert!(matches!(
            mailbox.wait(Duration::from_millis(30)),
            Wake::Tasks
        ));
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn control_messages_come_first_and_wake_a_sleeping_worker() {
        let mailbox = Arc::new(Mailbox::new(4));
        mailbox.try_push(task()).ok().unwrap();
        let sleeper = {
            let mailbox = mailbox.clone();
            thread::spawn(move || {
                let started = Instant::now();
                let woke = wait_now_after(&mailbox, Duration::from_secs(30));
                (woke, started.elapsed())
            })
        };
        thread::sleep(Duration::from_millis(20));
        let (ack, _answer) = reply();
        let deadline = Instant::now();
        assert!(
            mailbox
                .send_control(Control::Flush { deadline, ack })
                .is_ok()
        );
        let (woke, waited) = sleeper.join().unwrap();
        assert_eq!(woke, "flush");
        assert!(waited < Duration::from_secs(10), "{waited:?}");

        // With both a half-full data queue and a control message waiting, the control message comes first.
        mailbox.try_push(task()).ok().unwrap();
        let (ack, _answer) = reply();
        mailbox
            .send_control(Control::Flush { deadline, ack })
            .ok()
            .unwrap();
        assert_eq!(wait_now(&mailbox), "flush");
        assert_eq!(wait_now(&mailbox), "tasks");
    }

    fn wait_now_after(mailbox: &Mailbox, timeout: Duration) -> &'static str {
        match mailbox.wait(timeout) {
            Wake::Control(Control::Flush { .. }) => "flush",
            Wake::Control(_) => "other control",
            Wake::Tasks => "tasks",
            Wake::ClientGone => "client gone",
        }
    }

    #[test]
    fn the_worker_learns_that_the_client_is_gone_after_the_last_control_message() {
        let mailbox = Mailbox::new(2);
        let (ack, _answer) = reply();
        let deadline = Instant::now();
        mailbox
            .send_control(Control::Flush { deadline, ack })
            .ok()
            .unwrap();
        mailbox.close_client();
        assert_eq!(wait_now(&mailbox), "flush");
        assert_eq!(wait_now(&mailbox), "client gone");
    }

    #[test]
    fn once_the_worker_is_gone_sends_fail_and_waiting_replies_end() {
        let mailbox = Arc::new(Mailbox::new(2));
        let worker = WorkerEnd(mailbox.clone());
        mailbox.try_push(task()).ok().unwrap();
        let (ack, answer) = reply();
        let deadline = Instant::now() + Duration::from_secs(30);
        mailbox
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
            mailbox.try_push(task()),
            Err((Refused::WorkerGone, _))
        ));
        let (ack, _answer) = reply();
        assert!(
            mailbox
                .send_control(Control::Flush { deadline, ack })
                .is_err()
        );
        // What was queued stays for a shutdown to take back.
        assert!(mailbox.pop_task().is_some());
    }

    #[test]
    fn a_reply_carries_its_answer_and_an_unanswered_one_times_out() {
        let (ack, answer) = reply();
        thread::spawn(move || ack.send(true));
        assert_eq!(
            answer.wait_until(Instant::now() + Duration::from_secs(30)),
            Some(true)
        );

        let (_ack, answer) = reply();
        let started = Instant::now();
        assert_eq!(answer.wait_until(started + Duration::from_millis(30)), None);
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    #[cfg(feature = "panic")]
    #[test]
    fn the_panic_path_waits_for_room_until_its_deadline() {
        let mailbox = Arc::new(Mailbox::new(1));
        mailbox.try_push(task()).ok().unwrap();
        let started = Instant::now();
        assert!(matches!(
            mailbox.push_until(task(), started + Duration::from_millis(30)),
            Err(Refused::Full)
        ));
        assert!(started.elapsed() >= Duration::from_millis(30));

        let drainer = {
            let mailbox = mailbox.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                mailbox.pop_task().is_some()
            })
        };
        assert!(
            mailbox
                .push_until(task(), Instant::now() + Duration::from_secs(30))
                .is_ok()
        );
        assert!(drainer.join().unwrap());
        assert_eq!(mailbox.len(), 1);
    }
}
