//! `Client`: the capture pipeline on the caller's side, and the handle to the worker thread.
//!
//! The caller pays for an event id, the sampling decision, the error chain's type names and messages, a raw stack
//! walk and one `try_send`. Everything else — symbols, scope merging, `before_send`, serialisation, I/O — happens on
//! the worker (see `worker.rs`).

use std::error::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant, SystemTime};

use crate::chain;
use crate::delivery::destinations::Destinations;
use crate::delivery::spool::Spool;
use crate::delivery::{Delivery, InFlight};
use crate::diagnostics::sdk_debug;
#[cfg(feature = "panic")]
use crate::message::PendingCrash;
use crate::message::{
    self, Control, PendingError, PendingEvent, PendingLog, PendingMetric, PendingTransaction, Task,
};
use crate::options::{ClientOptions, SessionMode};
use crate::performance::records::FinishedTransaction;
use crate::performance::trace_origin::TraceOrigin;
use crate::protocol::check_in::CheckIn;
use crate::protocol::data_category::DataCategory;
use crate::protocol::envelope::Envelope;
use crate::protocol::event::{Event, EventId, Thread};
use crate::protocol::exception::Exception;
use crate::protocol::feedback::Feedback;
use crate::protocol::level::Level;
use crate::protocol::time::Timestamp;
use crate::protocol::{SessionAttributes, SessionStatus};
use crate::queue::{self, MAX_WAITING_LOGS, Mailbox, Refused};
use crate::release_health::aggregates::{Counted, MAX_WAITING_BUCKETS, RequestCounts};
use crate::release_health::app_session::AppSession;
#[cfg(feature = "panic")]
use crate::release_health::distinct_id;
use crate::release_health::request_session::RequestOutcome;
use crate::sampling;
use crate::scope::Scope;
use crate::stacktrace::{self, RawTrace};
use crate::stats::{Counters, Reason, Stats};
use crate::sync::lock;
use crate::transport::Transport;
use crate::worker::Worker;
use crate::worker::app_session::{self, AppSessionKeeper};
use crate::worker::batch::Batches;
use crate::worker::processor::Processor;
use crate::worker::{batch, finish};

/// The name of the SDK's worker thread; records logged on it are never reported (see `integrations`).
pub(crate) const WORKER_THREAD_NAME: &str = "faultline-worker";

/// What a capture needs of the capturing thread's state: its current scope, the last error it captured, and where
/// its last event id goes. The hub implements it (`hub.rs`), so the client never sees the hub.
pub(crate) trait CaptureScope {
    /// A snapshot of the current scope.
    fn scope(&self) -> Arc<Scope>;
    /// Whether an error with this signature repeats the one captured just before; records it either way.
    fn is_repeat(&self, signature: u64) -> bool;
    /// Records the id of an event that was queued.
    fn set_last_event_id(&self, id: EventId);
}

/// Whether the event already carries a stack trace (on its last exception or a thread), so none is captured.
fn has_trace(event: &Event) -> bool {
    event
        .exception
        .last()
        .is_some_and(|e| e.stacktrace.is_some())
        || event.threads.iter().any(|t| t.stacktrace.is_some())
}

/// `contexts.feedback`: the user's feedback and where it came from.
#[derive(serde::Serialize)]
struct FeedbackContext<'a> {
    #[serde(flatten)]
    feedback: &'a Feedback,
    source: &'static str,
}

/// A second destination beside the server: an OpenTelemetry collector's transport and the spool its envelopes
/// wait in (see `delivery/destinations.rs`).
pub(crate) struct Collector {
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) spool: Option<Spool>,
}

/// A configured, running SDK instance.
pub(crate) struct Client {
    pub(crate) options: Arc<ClientOptions>,
    /// The client's end of the data and control queues to the worker.
    mailbox: Mailbox,
    worker: Mutex<Option<JoinHandle<()>>>,
    worker_id: ThreadId,
    counters: Arc<Counters>,
    shut_down: AtomicBool,
    /// Shared with the worker, so the panic hook and a shutdown that runs out of time can finish events themselves.
    processor: Arc<Processor>,
    spool: Option<Arc<Spool>>,
    /// The envelope the worker is sending without a copy on disk, if any.
    inflight: InFlight,
    /// What the dynamic sampling context of a trace that starts here names; shared with the processor.
    pub(crate) trace_origin: Arc<TraceOrigin>,
    /// The session of the whole process, in application mode with release health on.
    app_session: Option<Arc<AppSession>>,
    /// The counts of ended requests, in request mode with release health on; the worker sends them.
    request_counts: Option<Arc<RequestCounts>>,
}

impl Client {
    /// Starts the worker thread for validated `options`.
    pub(crate) fn start(
        options: ClientOptions,
        transport: Arc<dyn Transport>,
        spool: Option<Spool>,
        collector: Option<Collector>,
    ) -> std::io::Result<Arc<Client>> {
        let options = Arc::new(options);
        let trace_origin = Arc::new(TraceOrigin::new(&options));
        let spool = spool.map(Arc::new);
        let (mailbox, worker_end) = queue::mailbox(
            options.queue_size,
            options.sends_logs(),
            options.sends_metrics(),
        );
        let counters = Arc::new(Counters::default());
        let processor = Arc::new(Processor::new(
            options.clone(),
            counters.clone(),
            trace_origin.clone(),
        ));
        let inflight: InFlight = Arc::new(Mutex::new(None));
        let delivery = Delivery::new(
            transport,
            counters.clone(),
            spool.clone(),
            inflight.clone(),
            options.queue_size,
            options.max_retry_delay,
            options.client_report_interval,
        );
        // The collector's losses are its own: counted apart, never in the server's client reports.
        let collector = collector.map(|collector| {
            let counters = Arc::new(Counters::default());
            let delivery = Delivery::new(
                collector.transport,
                counters.clone(),
                collector.spool.map(Arc::new),
                Arc::new(Mutex::new(None)),
                options.queue_size,
                options.max_retry_delay,
                options.client_report_interval,
            );
            (delivery, counters)
        });
        let delivery = Destinations::new(delivery, collector);
        let session_attrs = options.tracks_sessions().then(|| SessionAttributes {
            release: options.release.as_deref().unwrap_or_default().to_owned(),
            environment: options.environment.as_deref().map(str::to_owned),
        });
        let (app_session, request_attrs) = match (session_attrs, options.session_mode) {
            (Some(attrs), SessionMode::Application) => {
                (Some(Arc::new(AppSession::start(attrs))), None)
            }
            (attrs, _) => (None, attrs),
        };
        let request_counts = request_attrs.map(|attrs| Arc::new(RequestCounts::new(attrs)));
        let worker = Worker::new(
            worker_end,
            processor.clone(),
            delivery,
            Batches::with_sessions(request_counts.clone()),
            AppSessionKeeper::new(app_session.clone(), spool.clone()),
            spool.clone(),
        );
        let handle = std::thread::Builder::new()
            .name(WORKER_THREAD_NAME.into())
            .spawn(move || worker.run())?;
        Ok(Arc::new(Client {
            worker_id: handle.thread().id(),
            worker: Mutex::new(Some(handle)),
            options,
            mailbox,
            counters,
            shut_down: AtomicBool::new(false),
            processor,
            spool,
            inflight,
            trace_origin,
            app_session,
            request_counts,
        }))
    }

    /// Whether the calling thread is this client's worker (whose own panics must not be reported through it).
    pub(crate) fn is_worker_thread(&self) -> bool {
        std::thread::current().id() == self.worker_id
    }

    pub(crate) fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// Counts a handled error in the session it belongs to: the request's (request mode), else the process's.
    fn record_error(&self, scope: &Scope) {
        if let Some(request) = scope.request_session() {
            request.record_error();
        } else if let Some(session) = &self.app_session {
            session.record_error();
        }
    }

    /// [`Client::record_error`] for an error that is dropped before its scope is taken (sampled out, or a full
    /// queue): the scope is looked up only when sessions are on.
    fn record_dropped_error(&self, hub: &impl CaptureScope) {
        if self.request_counts.is_some() {
            self.record_error(&hub.scope());
        } else if let Some(session) = &self.app_session {
            session.record_error();
        }
    }

    /// Whether the queue may have room: a full queue will refuse the event anyway, so say so before paying for an
    /// id, a chain and a stack walk. `try_send` in `enqueue` stays the real check (the queue may fill in between).
    fn queue_has_room(&self) -> bool {
        if self.mailbox.is_full() {
            self.counters
                .discard(Reason::QueueOverflow, DataCategory::Error);
            sdk_debug!("queue full: event dropped");
            return false;
        }
        true
    }

    /// Whether sampling keeps the event with this id; counts it when not.
    fn is_sampled(&self, id: EventId) -> bool {
        if sampling::should_keep(self.options.sample_rate, sampling::roll_from(id)) {
            return true;
        }
        self.counters
            .discard(Reason::SampleRate, DataCategory::Error);
        false
    }

    /// A fresh event, or `None` when the queue is full or sampling drops it. Runs before any costly work.
    fn sampled_event(&self) -> Option<Event> {
        if !self.queue_has_room() {
            return None;
        }
        let event = Event::new();
        self.is_sampled(event.event_id).then_some(event)
    }

    /// Whether `ignore_errors` names the captured error (the last of the chain) by short name or full path.
    fn is_ignored(&self, ty: &str, module: Option<&str>) -> bool {
        let ignore = &self.options.ignore_errors;
        ignore.iter().any(|name| {
            name == ty
                || module.is_some_and(|m| {
                    name.strip_prefix(m).and_then(|n| n.strip_prefix("::")) == Some(ty)
                })
        })
    }

    /// Whether `ignore_errors` names `err`, for an error dropped before its chain is built (the chain is built here
    /// only when the list is not empty): an ignored error does not count in its session.
    fn ignores(&self, err: &(dyn Error + 'static), type_name: &str) -> bool {
        !self.options.ignore_errors.is_empty()
            && chain::Links::from_error(err, type_name)
                .last()
                .is_some_and(|last| self.is_ignored(last.ty, last.module))
    }

    /// Whether `ignore_errors` names the event's captured error (its last exception).
    fn is_ignored_event(&self, event: &Event) -> bool {
        event
            .exception
            .last()
            .is_some_and(|last| self.is_ignored(&last.ty, last.module.as_deref()))
    }

    fn trace(&self) -> Option<RawTrace> {
        // A plain `if`, not `bool::then(capture)`: a closure adapter from core would sit between the SDK's frames
        // at the top of the stack and stop the trimming of them.
        if self.options.attach_stacktrace {
            Some(stacktrace::capture())
        } else {
            None
        }
    }

    /// `capture_error`: the chain and the stack are queued in their compact form ([`PendingError`]), and the
    /// worker builds the event.
    pub(crate) fn capture_error(
        &self,
        hub: &impl CaptureScope,
        err: &(dyn Error + 'static),
        type_name: &str,
    ) -> EventId {
        if !self.queue_has_room() {
            if !self.ignores(err, type_name) {
                self.record_dropped_error(hub);
            }
            return EventId::nil();
        }
        let id = EventId::new();
        if !self.is_sampled(id) {
            if !self.ignores(err, type_name) {
                self.record_dropped_error(hub);
            }
            return EventId::nil();
        }
        let timestamp = Timestamp::now();
        let chain = chain::Links::from_error(err, type_name);
        let ignored = chain
            .last()
            .is_some_and(|last| self.is_ignored(last.ty, last.module));
        if ignored || hub.is_repeat(chain.signature()) {
            self.counters
                .discard(Reason::EventProcessor, DataCategory::Error);
            return EventId::nil();
        }
        let scope = hub.scope();
        self.record_error(&scope);
        let error = PendingError {
            event_id: id,
            timestamp,
            chain,
            trace: self.trace(),
            scope,
        };
        self.push(hub, id, Task::Error(Box::new(error)))
    }

    /// The error pipeline with the exceptions made by `exceptions` and more fields set by `fill`; both run only
    /// for an event that sampling keeps, and `fill` only once `ignore_errors` and the repeat check let it through.
    /// The capturing thread's stack is attached unless `fill` gave the last exception a stack trace of its own.
    #[cfg_attr(
        not(any(feature = "log", feature = "tracing", feature = "anyhow")),
        expect(
            dead_code,
            reason = "only the integrations capture exceptions they made"
        )
    )]
    pub(crate) fn capture_exceptions(
        &self,
        hub: &impl CaptureScope,
        exceptions: impl FnOnce() -> Vec<Exception>,
        fill: impl FnOnce(&mut Event),
    ) -> EventId {
        let Some(mut event) = self.sampled_event() else {
            self.record_dropped_error(hub);
            return EventId::nil();
        };
        event.exception = exceptions();
        if self.is_ignored_event(&event) || hub.is_repeat(chain::signature(&event.exception)) {
            self.counters
                .discard(Reason::EventProcessor, DataCategory::Error);
            return EventId::nil();
        }
        fill(&mut event);
        let trace = if has_trace(&event) {
            None
        } else {
            self.trace()
        };
        self.enqueue(hub, event, trace, true)
    }

    /// A message event at `level`; `fill` sets more fields, and runs only for an event that sampling keeps.
    pub(crate) fn capture_message(
        &self,
        hub: &impl CaptureScope,
        message: &str,
        level: Level,
        fill: impl FnOnce(&mut Event),
    ) -> EventId {
        let Some(mut event) = self.sampled_event() else {
            return EventId::nil();
        };
        event.level = level;
        event.message = Some(chain::truncate(message.to_owned(), chain::MAX_VALUE_LEN));
        fill(&mut event);
        let trace = self.trace();
        if trace.is_some() {
            // The stack goes to this thread's entry; name it, since the worker cannot know which thread it was.
            let thread = std::thread::current();
            event.threads.push(Thread {
                name: thread.name().map(str::to_owned),
                current: Some(true),
                ..Default::default()
            });
        }
        // A message never counts as an error of the session, whatever its level.
        self.enqueue(hub, event, trace, false)
    }

    pub(crate) fn capture_event(&self, hub: &impl CaptureScope, event: Event) -> EventId {
        let is_error = !event.exception.is_empty() || event.level >= Level::Error;
        if !self.is_sampled(event.event_id) {
            if is_error {
                self.record_dropped_error(hub);
            }
            return EventId::nil();
        }
        let trace = if has_trace(&event) {
            None
        } else {
            self.trace()
        };
        self.enqueue(hub, event, trace, is_error)
    }

    /// Queues a panic event and waits, bounded by `shutdown_timeout`, until it is delivered: the process may be
    /// about to end. Returns whether it was delivered in time.
    ///
    /// The panic ends its session `crashed`: the request's (request mode), whose end the tower layer counts, or
    /// the process's, whose last update goes in the event's envelope. The session's file is deleted only once that
    /// envelope is on disk (or handed to the worker, without a spool to keep it in), so that a process that dies on
    /// the way still has its session reported, as `abnormal`, by the next start.
    #[cfg(feature = "panic")]
    pub(crate) fn capture_panic(
        &self,
        hub: &impl CaptureScope,
        event: Event,
        trace: Option<RawTrace>,
    ) -> bool {
        let deadline = Instant::now() + self.options.shutdown_timeout;
        let scope = hub.scope();
        let (session, file) = match scope.request_session() {
            Some(request) => {
                request.record_crash();
                (None, None)
            }
            None => match &self.app_session {
                Some(session) => {
                    session.note_user(|| scope.user().and_then(distinct_id));
                    let update =
                        session.end(std::time::SystemTime::now(), SessionStatus::Crashed, || {});
                    let file = update.as_ref().map(|_| app_session::file_id(session));
                    (update, file)
                }
                None => (None, None),
            },
        };
        let forget_file = || {
            if let (Some(spool), Some(file)) = (&self.spool, &file) {
                spool.remove_live_session(file);
            }
        };
        let id = event.event_id;
        let pending = if self.is_sampled(id) {
            hub.set_last_event_id(id);
            Some(PendingEvent {
                event,
                trace,
                scope,
            })
        } else {
            None
        };
        let Some(spool) = &self.spool else {
            // Unlike ordinary captures, a panic may wait for room in the queue: this thread is going down anyway,
            // and a panic that ends the process must not be lost to a momentarily full queue. It keeps its place
            // behind what was captured before it, with its session's last update.
            let task = match (pending, session) {
                (Some(event), Some(session)) => {
                    Task::Crash(Box::new(PendingCrash { event, session }))
                }
                (Some(event), None) => Task::Event(Box::new(event)),
                (None, Some(session)) => {
                    return self.send_finished(app_session::envelope(session), deadline);
                }
                (None, None) => return false,
            };
            if self.mailbox.push_until(task, deadline).is_err() {
                self.counters
                    .discard(Reason::QueueOverflow, DataCategory::Error);
                sdk_debug!("queue full: panic event {id} dropped");
                return false;
            }
            return self.flush_until(deadline);
        };
        let attachments = pending
            .as_ref()
            .map(|pending| pending.scope.shared_attachments())
            .unwrap_or_default();
        let mut envelope = match pending.and_then(|pending| self.processor.prepare(pending)) {
            Some(event) => {
                let mut envelope = Envelope::from_event(event);
                envelope
                    .items
                    .extend(self.processor.attachment_items(attachments));
                envelope
            }
            None => Envelope::default(),
        };
        if let Some(update) = session {
            envelope
                .items
                .push(crate::protocol::EnvelopeItem::Session(Box::new(update)));
        }
        if envelope.items.is_empty() {
            // Sampled out, or `before_send` dropped it.
            return true;
        }
        // Finished here and put on disk before anything else, with no network on this path: if the process dies in
        // the next instant (`panic = "abort"`, a panic in `main`), the next start sends it.
        match spool.store_claimed(&envelope) {
            Ok((Some(claim), stored)) => {
                self.counters.evicted(stored.evicted);
                forget_file();
                if self
                    .mailbox
                    .send_control(Control::Stored { claim, envelope })
                    .is_err()
                {
                    return false;
                }
                return self.flush_until(deadline);
            }
            Ok((None, _)) => sdk_debug!("panic event {id} does not fit in the spool"),
            Err(e) => sdk_debug!("could not write panic event {id} to the spool: {e}"),
        }
        // Without room on disk, hand it to the worker like any other envelope. The session's file goes too: the
        // worker will send the crashed update, and an `abnormal` one must not follow it.
        forget_file();
        self.send_finished(envelope, deadline)
    }

    /// Hands a finished envelope to the worker through the control queue (which never blocks), then flushes.
    #[cfg(feature = "panic")]
    fn send_finished(&self, envelope: Envelope, deadline: Instant) -> bool {
        if self
            .mailbox
            .send_control(Control::Envelope(envelope))
            .is_err()
        {
            return false;
        }
        self.flush_until(deadline)
    }

    /// Queues an event; `is_error` counts it in its session.
    fn enqueue(
        &self,
        hub: &impl CaptureScope,
        event: Event,
        trace: Option<RawTrace>,
        is_error: bool,
    ) -> EventId {
        let id = event.event_id;
        let scope = hub.scope();
        if is_error {
            self.record_error(&scope);
        }
        let pending = PendingEvent {
            event,
            trace,
            scope,
        };
        self.push(hub, id, Task::Event(Box::new(pending)))
    }

    /// Queues a task; returns its event's id, or the nil id when the queue refused it (counted).
    fn push(&self, hub: &impl CaptureScope, id: EventId, task: Task) -> EventId {
        // Never a blocking send: a full queue must cost the caller nothing but the lost event, which is counted.
        // The worker is not woken either, except by the capture that finds the queue half full (see `queue`).
        match self.mailbox.try_push(task) {
            Ok(()) => {
                hub.set_last_event_id(id);
                id
            }
            Err((Refused::Full | Refused::WorkerGone, task)) => {
                self.counters
                    .discard(Reason::QueueOverflow, task.kind().category());
                sdk_debug!("queue full: event {id} dropped");
                EventId::nil()
            }
        }
    }

    /// Queues a sampled transaction that has ended, with `scope`, the scope of the thread that finished it. A full
    /// queue drops it, counted with its spans.
    pub(crate) fn capture_transaction(&self, scope: Arc<Scope>, transaction: FinishedTransaction) {
        if transaction.dropped_spans > 0 {
            self.counters.discard_n(
                Reason::BufferOverflow,
                DataCategory::Span,
                transaction.dropped_spans,
            );
        }
        let spans = 1 + transaction.spans.len() as u64;
        let pending = PendingTransaction { transaction, scope };
        if self
            .mailbox
            .try_push(Task::Transaction(Box::new(pending)))
            .is_err()
        {
            self.counters
                .discard(Reason::QueueOverflow, DataCategory::Transaction);
            self.counters
                .discard_n(Reason::QueueOverflow, DataCategory::Span, spans);
            sdk_debug!("queue full: transaction dropped");
        }
    }

    /// Whether each request is a session (request mode with release health on): the tower layer then starts one.
    #[cfg_attr(
        not(feature = "tower"),
        expect(dead_code, reason = "only the tower layer starts request sessions")
    )]
    pub(crate) fn tracks_request_sessions(&self) -> bool {
        self.request_counts.is_some()
    }

    #[cfg_attr(
        not(feature = "tower"),
        expect(dead_code, reason = "only the tower layer starts request sessions")
    )]
    /// Counts an ended request's session for the worker to send (one short lock, no queue slot); the count that
    /// fills an item wakes the worker. Past [`MAX_WAITING_BUCKETS`] buckets it is dropped, counted in the
    /// `session` category.
    pub(crate) fn record_request_session(&self, outcome: RequestOutcome) {
        let Some(counts) = &self.request_counts else {
            return;
        };
        match counts.count(outcome, Instant::now()) {
            Counted::Kept => {}
            Counted::Full => self.mailbox.wake_worker(),
            Counted::Dropped => {
                self.counters
                    .discard(Reason::BufferOverflow, DataCategory::Session);
                sdk_debug!(
                    "{MAX_WAITING_BUCKETS} session counts wait already: a request's dropped"
                );
            }
        }
    }

    /// Queues a log record for the worker, unless 1,000 wait already: then it is dropped and counted
    /// (`buffer_overflow`, in `log_item` and `log_byte`). The caller checks first that logs are on.
    pub(crate) fn capture_log(&self, log: PendingLog) {
        if let Err((refused, log)) = self.mailbox.try_push_log(log) {
            let reason = match refused {
                Refused::Full => Reason::BufferOverflow,
                Refused::WorkerGone => Reason::QueueOverflow,
            };
            self.counters.discard(reason, DataCategory::LogItem);
            self.counters
                .discard_n(reason, DataCategory::LogByte, log.approximate_size());
            sdk_debug!("{MAX_WAITING_LOGS} log records wait already: one dropped");
        }
    }

    /// Queues a metric measurement for the worker, unless 1,000 wait already: then it is dropped and counted
    /// (`buffer_overflow`, in `trace_metric`). The caller checks first that metrics are on.
    pub(crate) fn capture_metric(&self, metric: PendingMetric) {
        if let Err((refused, _)) = self.mailbox.try_push_metric(metric) {
            let reason = match refused {
                Refused::Full => Reason::BufferOverflow,
                Refused::WorkerGone => Reason::QueueOverflow,
            };
            self.counters.discard(reason, DataCategory::TraceMetric);
            sdk_debug!("{MAX_WAITING_LOGS} metric measurements wait already: one dropped");
        }
    }

    /// Queues a check-in, with the trace of the current scope (which links the run's errors to it); returns its id.
    /// A full queue drops it, counted in the `monitor` category.
    pub(crate) fn capture_check_in(
        &self,
        hub: &impl CaptureScope,
        mut check_in: CheckIn,
    ) -> EventId {
        let id = check_in.check_in_id;
        if !check_in.contexts.contains_key("trace") {
            let trace = hub.scope().trace_context();
            check_in.contexts.insert(
                "trace".into(),
                serde_json::json!({"trace_id": trace.trace_id, "span_id": trace.span_id}),
            );
        }
        if self
            .mailbox
            .try_push(Task::CheckIn(Box::new(check_in)))
            .is_err()
        {
            self.counters
                .discard(Reason::QueueOverflow, DataCategory::Monitor);
            sdk_debug!("queue full: a check-in dropped");
        }
        id
    }

    /// Queues user feedback as its event (level `info`, `contexts.feedback`, the current trace); returns the
    /// feedback's event id, or the nil id when a full queue dropped it (counted in the `feedback` category).
    pub(crate) fn capture_feedback(&self, hub: &impl CaptureScope, feedback: Feedback) -> EventId {
        let mut event = Event::new();
        event.level = Level::Info;
        let scope = hub.scope();
        if let Ok(context) = serde_json::to_value(FeedbackContext {
            feedback: &feedback,
            source: "api",
        }) {
            event.contexts.insert("feedback".into(), context);
        }
        if let Ok(trace) = serde_json::to_value(scope.trace_context()) {
            event.contexts.insert("trace".into(), trace);
        }
        let id = event.event_id;
        if self
            .mailbox
            .try_push(Task::Feedback(Box::new(event)))
            .is_err()
        {
            self.counters
                .discard(Reason::QueueOverflow, DataCategory::Feedback);
            sdk_debug!("queue full: feedback dropped");
            return EventId::nil();
        }
        id
    }

    /// Counts an unsampled transaction, with its own span, as sampled out.
    pub(crate) fn transaction_sampled_out(&self) {
        self.counters
            .discard(Reason::SampleRate, DataCategory::Transaction);
        self.counters
            .discard(Reason::SampleRate, DataCategory::Span);
    }

    /// Waits until everything queued so far is delivered, or `timeout` passes.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        self.flush_until(Instant::now() + timeout)
    }

    fn flush_until(&self, deadline: Instant) -> bool {
        if self.is_worker_thread() {
            // Waiting for ourselves would only time out.
            return false;
        }
        let (ack, answer) = message::reply();
        if self
            .mailbox
            .send_control(Control::Flush { deadline, ack })
            .is_err()
        {
            return false;
        }
        answer.wait_until(deadline).unwrap_or(false)
    }

    /// Finishes the events still in the queue on this thread and writes them to the spool, until `deadline`.
    fn spool_what_is_queued(&self, deadline: Instant) {
        let Some(spool) = &self.spool else {
            return;
        };
        let mut kept = 0;
        // The request in flight may never finish; keep its envelope. If it does finish, the next start sends
        // it once more (servers store one event per id), but not its client report, whose counts would add up.
        if let Some(envelope) = lock(&self.inflight).take() {
            match spool.store_in_flight(&envelope) {
                Ok(stored) => kept += u64::from(stored.stored),
                Err(e) => sdk_debug!("could not write to the spool: {e}"),
            }
        }
        // Stores one envelope; whether it could be written (a disk that fails once fails for the rest too).
        let mut store = |envelope: &Envelope| match spool.store(envelope) {
            Ok(stored) => {
                self.counters.evicted(stored.evicted);
                kept += u64::from(stored.stored);
                true
            }
            Err(e) => {
                sdk_debug!("could not write to the spool: {e}");
                false
            }
        };
        // The worker did not get to end the session (it may be stuck in a request): end it here, `exited`, and
        // keep its last update with the rest. Without that, the next start would report it `abnormal`.
        if let Some(session) = &self.app_session {
            if let Some(update) = session.end(SystemTime::now(), SessionStatus::Exited, || {}) {
                if store(&app_session::envelope(update)) {
                    spool.remove_live_session(&app_session::file_id(session));
                }
            }
        }
        // And the counts of request sessions it had not sent.
        if let Some(counts) = &self.request_counts {
            for item in counts.take(Instant::now(), true) {
                store(&batch::envelope(vec![
                    crate::protocol::EnvelopeItem::Sessions(item),
                ]));
            }
        }
        while Instant::now() < deadline {
            let Some(task) = self.mailbox.pop_task() else {
                break;
            };
            let attachments = task.attachments();
            let mut envelope = match task {
                Task::Crash(crash) => finish::crash(&self.processor, *crash),
                task => {
                    let Some((_, item)) = finish::finish(&self.processor, task) else {
                        continue;
                    };
                    batch::envelope(vec![item])
                }
            };
            if envelope.items.iter().any(|item| item.ty() == "event") {
                envelope
                    .items
                    .extend(self.processor.attachment_items(attachments));
            }
            if !store(&envelope) {
                break;
            }
        }
        // The log records and metric measurements that wait, in containers of at most 100.
        while Instant::now() < deadline {
            let logs: Vec<_> = std::iter::from_fn(|| self.mailbox.pop_log())
                .take(crate::protocol::log::MAX_LOGS_PER_ITEM)
                .filter_map(|pending| self.processor.prepare_log(pending))
                .collect();
            let metrics: Vec<_> = std::iter::from_fn(|| self.mailbox.pop_metric())
                .take(crate::protocol::metric::MAX_METRICS_PER_ITEM)
                .filter_map(|pending| self.processor.prepare_metric(pending))
                .collect();
            if logs.is_empty() && metrics.is_empty() {
                break;
            }
            let containers = [
                (!logs.is_empty()).then_some(crate::protocol::EnvelopeItem::Logs(
                    crate::protocol::LogContainer { items: logs },
                )),
                (!metrics.is_empty()).then_some(crate::protocol::EnvelopeItem::Metrics(
                    crate::protocol::MetricContainer { items: metrics },
                )),
            ];
            if !containers
                .into_iter()
                .flatten()
                .all(|item| store(&batch::envelope(vec![item])))
            {
                break;
            }
        }
        let left = self.mailbox.len();
        if kept > 0 || left > 0 {
            sdk_debug!("shutdown: {kept} queued events kept in the spool, {left} left in memory");
        }
    }

    /// Delivers what is queued within `timeout`, then stops the worker. Later calls return `true` at once.
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        if self.shut_down.swap(true, Ordering::AcqRel) || self.is_worker_thread() {
            return true;
        }
        let deadline = Instant::now() + timeout;
        // Keep a slice of the time to put on disk what the worker could not get to (it may be stuck in a request
        // to a server that never answers).
        let reserve = (timeout / 5).min(Duration::from_millis(200));
        let (ack, answer) = message::reply();
        if self
            .mailbox
            .send_control(Control::Shutdown {
                deadline: deadline - reserve,
                ack,
            })
            .is_err()
        {
            // The worker is gone (it can only have panicked): what it left in the queue still goes to disk.
            self.spool_what_is_queued(deadline);
            return false;
        }
        let answered = answer.wait_until(deadline - reserve);
        let delivered = answered.unwrap_or(false);
        if !delivered {
            self.spool_what_is_queued(deadline);
        }
        let handle = lock(&self.worker).take();
        if let Some(handle) = handle {
            // Once it has answered, the worker returns at once, dropping what it holds (the transport among
            // them); give it the rest of the time for that.
            while answered.is_some() && !handle.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            if handle.is_finished() {
                let _ = handle.join();
            } else if answered.is_some() {
                sdk_debug!(
                    "the worker was still ending when the shutdown timeout ran out; left running"
                );
            } else {
                // Stuck in a request that outlives the timeout: leave the thread detached rather than block.
                sdk_debug!("shutdown timed out after {timeout:?}; worker left running");
            }
        }
        if answered == Some(false) {
            sdk_debug!(
                "shutdown: not everything could be sent; what is left waits in the spool for the next start"
            );
        }
        delivered
    }
}

// Without a shutdown (the last handle went away), dropping the mailbox closes the queues: the worker keeps what is
// queued and stops.
