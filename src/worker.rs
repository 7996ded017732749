//! The worker thread: finishes events (symbols, scope, defaults, `before_send`) and hands envelopes to the
//! transport.
//!
//! It is the only thread the SDK starts. It waits on two queues: the bounded data queue of events and the unbounded
//! control queue of flush and shutdown requests. A flush drains the data queue first, so everything captured before
//! the flush call is delivered (or its deadline has passed) when the flush is acknowledged.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select_biased};

use crate::client::{Control, Task};
use crate::debug::sdk_debug;
use crate::processor::Processor;
use crate::protocol::Envelope;
use crate::stats::{Counters, Reason};
use crate::transport::{Outcome, Transport};

pub(crate) struct Worker {
    tasks: Receiver<Task>,
    control: Receiver<Control>,
    processor: Arc<Processor>,
    transport: Arc<dyn Transport>,
    counters: Arc<Counters>,
    /// No request is made before this instant (the server asked us to back off).
    limited_until: Option<Instant>,
}

impl Worker {
    pub(crate) fn new(
        tasks: Receiver<Task>,
        control: Receiver<Control>,
        processor: Arc<Processor>,
        transport: Arc<dyn Transport>,
        counters: Arc<Counters>,
    ) -> Self {
        Worker {
            tasks,
            control,
            processor,
            transport,
            counters,
            limited_until: None,
        }
    }

    pub(crate) fn run(mut self) {
        self.processor.warm_up();
        loop {
            select_biased! {
                recv(self.control) -> msg => match msg {
                    Ok(Control::Flush { deadline, ack }) => {
                        let done = self.drain(deadline) && self.transport.flush(remaining(deadline));
                        let _ = ack.send(done);
                    }
                    Ok(Control::Shutdown { deadline, ack }) => {
                        let done = self.drain(deadline) && self.transport.shutdown(remaining(deadline));
                        let _ = ack.send(done);
                        return;
                    }
                    // The client is gone without a shutdown; finish what is queued and stop.
                    Err(_) => {
                        while let Ok(task) = self.tasks.try_recv() {
                            self.handle(task);
                        }
                        return;
                    }
                },
                recv(self.tasks) -> msg => match msg {
                    Ok(task) => self.handle(task),
                    Err(_) => return,
                },
            }
        }
    }

    /// Handles what is queued now; returns `false` if the deadline passed first.
    fn drain(&mut self, deadline: Instant) -> bool {
        while let Ok(task) = self.tasks.try_recv() {
            self.handle(task);
            if Instant::now() >= deadline {
                return self.tasks.is_empty();
            }
        }
        true
    }

    fn handle(&mut self, task: Task) {
        match task {
            Task::Event(pending) => {
                if let Some(event) = self.processor.prepare(*pending) {
                    self.send(Envelope::from_event(event));
                }
            }
        }
    }

    fn send(&mut self, envelope: Envelope) {
        if let Some(until) = self.limited_until {
            if Instant::now() < until {
                self.counters.discard(Reason::RateLimitBackoff);
                return;
            }
            self.limited_until = None;
        }
        // A panicking custom transport must not take the worker down with it.
        let outcome = catch_unwind(AssertUnwindSafe(|| self.transport.send_envelope(&envelope)))
            .unwrap_or(Outcome::NetworkError);
        match outcome {
            Outcome::Sent => self.counters.sent(),
            Outcome::Response(r) if (200..300).contains(&r.status) => self.counters.sent(),
            Outcome::Response(r) if r.status == 429 => {
                let retry_after = r
                    .retry_after
                    .and_then(|v| v.trim().parse().ok())
                    .map_or(Duration::from_secs(60), Duration::from_secs);
                self.counters.discard(Reason::RateLimited);
                self.limited_until = Instant::now().checked_add(retry_after);
                sdk_debug!("rate limited for {retry_after:?}");
            }
            Outcome::Response(_) => self.counters.discard(Reason::SendError),
            _ => self.counters.discard(Reason::NetworkError),
        }
    }
}

fn remaining(deadline: Instant) -> std::time::Duration {
    deadline.saturating_duration_since(Instant::now())
}
