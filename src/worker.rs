//! The worker thread: finishes events (symbols, scope, defaults, `before_send`) and hands envelopes to the
//! transport.
//!
//! It is the only thread the SDK starts. It waits on two queues: the bounded data queue of events and the unbounded
//! control queue of flush and shutdown requests. A flush drains the data queue first, so everything captured before
//! the flush call is delivered (or its deadline has passed) when the flush is acknowledged.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, select_biased};

use crate::client::{Control, Pending, Task};
use crate::debug::sdk_debug;
use crate::limits;
use crate::options::ClientOptions;
use crate::protocol::{ClientSdkInfo, Envelope, Event, Thread, User};
use crate::scrub::Scrubber;
use crate::stacktrace::{InAppRules, Symbolizer};
use crate::stats::{Counters, Reason};
use crate::transport::{Outcome, Transport};

/// How many resolved addresses the symbol cache keeps.
const SYMBOL_CACHE_CAPACITY: usize = 4096;

pub(crate) struct Worker {
    tasks: Receiver<Task>,
    control: Receiver<Control>,
    options: Arc<ClientOptions>,
    transport: Arc<dyn Transport>,
    counters: Arc<Counters>,
    symbolizer: Symbolizer,
    scrubber: Option<Scrubber>,
    rules: InAppRules,
    sdk: ClientSdkInfo,
    contexts: BTreeMap<String, serde_json::Value>,
    server_name: Option<String>,
    /// No request is made before this instant (the server asked us to back off).
    limited_until: Option<Instant>,
}

impl Worker {
    pub(crate) fn new(
        tasks: Receiver<Task>,
        control: Receiver<Control>,
        options: Arc<ClientOptions>,
        transport: Arc<dyn Transport>,
        counters: Arc<Counters>,
    ) -> Self {
        let rules = InAppRules::new(
            options.in_app_include.clone(),
            options.in_app_exclude.clone(),
            std::env::current_dir().ok(),
        );
        let scrubber = (!options.send_default_pii).then(|| Scrubber::new(&options.scrub_keys));
        let mut sdk = ClientSdkInfo::default();
        if cfg!(feature = "panic") {
            sdk.integrations.push("panic".into());
        }
        Worker {
            tasks,
            control,
            options,
            transport,
            counters,
            symbolizer: Symbolizer::new(SYMBOL_CACHE_CAPACITY),
            scrubber,
            rules,
            sdk,
            contexts: BTreeMap::new(),
            server_name: None,
            limited_until: None,
        }
    }

    pub(crate) fn run(mut self) {
        // Computed once, here rather than in `init`, so start-up does not wait on file reads.
        self.contexts = crate::contexts::default_contexts();
        self.server_name = self
            .options
            .server_name
            .as_deref()
            .map(str::to_owned)
            .or_else(crate::contexts::hostname);
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
                if let Some(event) = self.prepare(*pending) {
                    self.send(Envelope::from_event(event));
                }
            }
        }
    }

    /// Turns a pending event into the event to send, or `None` when `before_send` drops it.
    fn prepare(&mut self, pending: Pending) -> Option<Event> {
        let Pending {
            mut event,
            trace,
            scope,
        } = pending;
        let options = &self.options;
        if event.release.is_none() {
            event.release = options.release.as_deref().map(str::to_owned);
        }
        if event.environment.is_none() {
            event.environment = options.environment.as_deref().map(str::to_owned);
        }
        if event.server_name.is_none() {
            event.server_name.clone_from(&self.server_name);
        }
        if event.sdk.is_none() {
            event.sdk = Some(self.sdk.clone());
        }
        for (key, value) in &self.contexts {
            event
                .contexts
                .entry(key.clone())
                .or_insert_with(|| value.clone());
        }
        scope.apply_to_event(&mut event, options.max_breadcrumbs);
        // Stack traces that came with the event (`capture_event`, an `anyhow` backtrace) follow the same rules.
        let supplied = event
            .exception
            .iter_mut()
            .filter_map(|e| e.stacktrace.as_mut())
            .chain(
                event
                    .threads
                    .iter_mut()
                    .filter_map(|t| t.stacktrace.as_mut()),
            );
        for stacktrace in supplied {
            self.rules.complete(&mut stacktrace.frames);
        }
        if let Some(trace) = trace {
            let stacktrace = self.symbolizer.resolve(&trace, &self.rules);
            if !stacktrace.frames.is_empty() {
                if let Some(last) = event.exception.last_mut() {
                    last.stacktrace.get_or_insert(stacktrace);
                } else {
                    let thread = match event.threads.iter_mut().find(|t| t.current == Some(true)) {
                        Some(thread) => thread,
                        None => {
                            event.threads.push(current_thread());
                            event.threads.last_mut().expect("just pushed")
                        }
                    };
                    thread.stacktrace.get_or_insert(stacktrace);
                }
            }
        }
        limits::apply(&mut event);
        if let Some(scrubber) = &self.scrubber {
            scrubber.scrub_event(&mut event);
        }
        if options.send_default_pii {
            event
                .user
                .get_or_insert_with(User::default)
                .ip_address
                .get_or_insert_with(|| "{{auto}}".to_owned());
        }
        let Some(before_send) = &options.before_send else {
            return Some(event);
        };
        let id = event.event_id;
        match catch_unwind(AssertUnwindSafe(|| before_send(event))) {
            Ok(Some(event)) => Some(event),
            Ok(None) => {
                self.counters.discard(Reason::BeforeSend);
                None
            }
            Err(_) => {
                self.counters.discard(Reason::BeforeSend);
                sdk_debug!("before_send panicked; event {id} dropped");
                None
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
            .unwrap_or(Outcome::Rejected { status: 0 });
        match outcome {
            Outcome::Sent => self.counters.sent(),
            Outcome::RateLimited { retry_after } => {
                self.counters.discard(Reason::RateLimitBackoff);
                self.limited_until = Instant::now().checked_add(retry_after);
                sdk_debug!("rate limited for {retry_after:?}");
            }
            Outcome::Rejected { .. } => self.counters.discard(Reason::SendError),
            Outcome::NetworkError => self.counters.discard(Reason::NetworkError),
        }
    }
}

/// A `threads` entry for the worker's view of "the capturing thread" (a message with a stack trace).
fn current_thread() -> Thread {
    Thread {
        current: Some(true),
        ..Thread::default()
    }
}

fn remaining(deadline: Instant) -> std::time::Duration {
    deadline.saturating_duration_since(Instant::now())
}
