//! `Processor`: turns a pending event into the event that is sent (defaults, contexts, scope, symbols, scrubbing,
//! limits, `before_send`).
//!
//! The worker thread uses it for every event. It is shared (`Arc`) so that the panic hook can finish its own event
//! and write it to the spool without waiting for a worker that may be stuck on a request, and so that a shutdown
//! that runs out of time can spool what is still queued.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock};

use crate::diagnostics::sdk_debug;
use crate::limits;
use crate::message::{PendingEvent, PendingLog, PendingMetric, PendingTransaction};
use crate::options::ClientOptions;
use crate::performance::trace_origin::TraceOrigin;
use crate::protocol::attachment::Attachment;
use crate::protocol::check_in::CheckIn;
use crate::protocol::data_category::DataCategory;
use crate::protocol::debug_meta::DebugMeta;
use crate::protocol::envelope::EnvelopeItem;
use crate::protocol::event::{ClientSdkInfo, Event, EventId, Thread, User};
use crate::protocol::log::{Log, LogValue};
use crate::protocol::metric::Metric;
use crate::protocol::trace::TraceContext;
use crate::protocol::transaction::{SpanEvent, TransactionEvent, TransactionInfo};
use crate::scrub::scrubber::Scrubber;
use crate::stacktrace::{InAppRules, Symbolizer};
use crate::stats::{Counters, Reason};
use crate::sync::lock;

/// How many resolved addresses the symbol cache keeps.
const SYMBOL_CACHE_CAPACITY: usize = 4096;

pub(crate) struct Processor {
    options: Arc<ClientOptions>,
    counters: Arc<Counters>,
    symbolizer: Mutex<Symbolizer>,
    scrubber: Option<Scrubber>,
    rules: InAppRules,
    sdk: ClientSdkInfo,
    /// What the dynamic sampling context of a trace that starts here names.
    trace_origin: Arc<TraceOrigin>,
    /// Computed once, on first use (normally by the worker at start-up, so `init` does not wait on file reads).
    environment_facts: OnceLock<Facts>,
}

/// Facts about the machine that every event carries.
struct Facts {
    contexts: BTreeMap<String, serde_json::Value>,
    server_name: Option<String>,
    debug_meta: Option<DebugMeta>,
}

impl Facts {
    /// Adds the machine's contexts (`os`, `device`, `rust`, …) that `contexts` does not have already.
    fn fill_contexts(&self, contexts: &mut BTreeMap<String, serde_json::Value>) {
        for (key, value) in &self.contexts {
            contexts.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
}

impl Processor {
    pub(crate) fn new(
        options: Arc<ClientOptions>,
        counters: Arc<Counters>,
        trace_origin: Arc<TraceOrigin>,
    ) -> Self {
        let rules = InAppRules::new(
            options.in_app_include.clone(),
            options.in_app_exclude.clone(),
            std::env::current_dir().ok(),
        );
        let scrubber = Scrubber::new(&options);
        let mut sdk = ClientSdkInfo::default();
        if cfg!(feature = "panic") {
            sdk.integrations.push("panic".into());
        }
        Processor {
            trace_origin,
            options,
            counters,
            symbolizer: Mutex::new(Symbolizer::new(SYMBOL_CACHE_CAPACITY)),
            scrubber,
            rules,
            sdk,
            environment_facts: OnceLock::new(),
        }
    }

    /// Resolves raw addresses into frames, oldest call first, under the in-app rules, with nothing trimmed (for a
    /// native crash's stack, unwound at the next start).
    #[cfg(faultline_native_crash)]
    pub(crate) fn symbolicate(
        &self,
        raw: &crate::stacktrace::RawTrace,
    ) -> crate::protocol::Stacktrace {
        lock(&self.symbolizer).resolve_untrimmed(raw, &self.rules)
    }

    /// Computes the contexts and host name, and compiles the scrubbing rules, now rather than on the first event.
    pub(crate) fn warm_up(&self) {
        self.facts();
        if let Some(scrubber) = &self.scrubber {
            scrubber.warm_up();
        }
    }

    fn facts(&self) -> &Facts {
        self.environment_facts.get_or_init(|| Facts {
            contexts: crate::contexts::default_contexts(),
            server_name: self
                .options
                .server_name
                .as_deref()
                .map(str::to_owned)
                .or_else(crate::contexts::hostname),
            debug_meta: Some(DebugMeta {
                images: crate::loaded_images::debug_images(),
            })
            .filter(|meta| !meta.images.is_empty()),
        })
    }

    /// The event to send, or `None` when `before_send` drops it (counted).
    pub(crate) fn prepare(&self, pending: PendingEvent) -> Option<Event> {
        self.prepare_with(pending, true)
    }

    /// Like [`Processor::prepare`] for an event of another process (a native crash reported at the next start):
    /// its release and environment are that process's, and stay unset where it had none.
    #[cfg(faultline_native_crash)]
    pub(crate) fn prepare_foreign(&self, pending: PendingEvent) -> Option<Event> {
        self.prepare_with(pending, false)
    }

    fn prepare_with(&self, pending: PendingEvent, own: bool) -> Option<Event> {
        let PendingEvent {
            mut event,
            trace,
            scope,
        } = pending;
        let options = &self.options;
        let facts = self.facts();
        if own && event.release.is_none() {
            event.release = options.release.as_deref().map(str::to_owned);
        }
        if own && event.environment.is_none() {
            event.environment = options.environment.as_deref().map(str::to_owned);
        }
        if event.server_name.is_none() {
            event.server_name.clone_from(&facts.server_name);
        }
        if event.sdk.is_none() {
            event.sdk = Some(self.sdk.clone());
        }
        if event.debug_meta.is_none() && (!event.exception.is_empty() || !event.threads.is_empty())
        {
            // Only events with frames need the images that frames are symbolicated against.
            event.debug_meta.clone_from(&facts.debug_meta);
        }
        facts.fill_contexts(&mut event.contexts);
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
            let stacktrace = lock(&self.symbolizer).resolve(&trace, &self.rules);
            if !stacktrace.frames.is_empty() {
                if let Some(last) = event.exception.last_mut() {
                    last.stacktrace.get_or_insert(stacktrace);
                } else {
                    let thread = match event.threads.iter_mut().find(|t| t.current == Some(true)) {
                        Some(thread) => thread,
                        None => {
                            event.threads.push(Thread {
                                current: Some(true),
                                ..Thread::default()
                            });
                            event.threads.last_mut().expect("just pushed")
                        }
                    };
                    thread.stacktrace.get_or_insert(stacktrace);
                }
            }
        }
        // Before the limits, so that cutting long text cannot leave half of a secret that no rule recognises.
        if let Some(scrubber) = &self.scrubber {
            scrubber.scrub_event(&mut event);
        }
        limits::apply(&mut event);
        if options.send_default_pii {
            ask_for_client_ip(&mut event.user);
        }
        let Some(before_send) = &options.before_send else {
            return Some(event);
        };
        let id = event.event_id;
        match catch_unwind(AssertUnwindSafe(|| before_send(event))) {
            Ok(Some(event)) => Some(event),
            Ok(None) => {
                self.counters
                    .discard(Reason::BeforeSend, DataCategory::Error);
                None
            }
            Err(_) => {
                self.counters
                    .discard(Reason::BeforeSend, DataCategory::Error);
                sdk_debug!("before_send panicked; event {id} dropped");
                None
            }
        }
    }

    /// The transaction payload to send for a finished transaction: its spans, its own trace context, the defaults
    /// and contexts every event gets, and its scope's tags, extra data, user and contexts.
    pub(crate) fn prepare_transaction(
        &self,
        pending: PendingTransaction,
    ) -> Option<TransactionEvent> {
        let PendingTransaction { transaction, scope } = pending;
        let options = &self.options;
        let facts = self.facts();
        // A trace continued with a dynamic sampling context keeps it as it came (it is frozen); a new one gets
        // ours, as the head of the trace.
        let dynamic_sampling_context = match transaction.incoming_dsc {
            Some(dsc) => *dsc,
            None => self.trace_origin.transaction_context(
                transaction.trace_id,
                transaction.sample_rand,
                Some((true, transaction.sample_rate)),
                &transaction.name,
                transaction.source,
            ),
        };
        let origin = Cow::Borrowed("manual");
        let mut trace = TraceContext::new(transaction.trace_id, transaction.span_id);
        trace.parent_span_id = transaction.parent_span_id;
        trace.op = Some(transaction.op.into_owned());
        trace.status = Some(transaction.status);
        trace.origin = Some(origin.to_string());
        trace.data = transaction.data;
        let mut spans = Vec::with_capacity(transaction.spans.len());
        transaction.spans.drain(|span| {
            spans.push(SpanEvent {
                span_id: span.span_id,
                trace_id: transaction.trace_id,
                parent_span_id: Some(span.parent_span_id),
                op: Some(span.op.into_owned()),
                description: span.description.map(Cow::into_owned),
                status: span.status,
                tags: span.tags,
                data: span.data,
                start_timestamp: span.start,
                // The transaction closed every span that was still open.
                timestamp: span.end.unwrap_or(transaction.end),
                origin: Some(origin.clone()),
            });
        });
        let mut event = TransactionEvent {
            event_id: EventId::new(),
            ty: "transaction".into(),
            transaction: transaction.name.into_owned(),
            transaction_info: Some(TransactionInfo {
                source: transaction.source.into(),
            }),
            start_timestamp: transaction.start,
            timestamp: transaction.end,
            platform: "native".into(),
            release: options.release.as_deref().map(str::to_owned),
            environment: options.environment.as_deref().map(str::to_owned),
            server_name: facts.server_name.clone(),
            sdk: Some(self.sdk.clone()),
            tags: transaction.tags,
            extra: BTreeMap::new(),
            user: None,
            request: None,
            contexts: BTreeMap::new(),
            spans,
            dynamic_sampling_context: None,
        };
        if let Ok(trace) = serde_json::to_value(&trace) {
            event.contexts.insert("trace".into(), trace);
        }
        facts.fill_contexts(&mut event.contexts);
        event.dynamic_sampling_context = Some(dynamic_sampling_context);
        scope.apply_to_transaction(&mut event);
        if let Some(scrubber) = &self.scrubber {
            scrubber.scrub_transaction(&mut event);
        }
        if options.send_default_pii {
            ask_for_client_ip(&mut event.user);
        }
        Some(event)
    }
}

impl Processor {
    /// The log record to send, or `None` when `before_send_log` drops it (counted): the body with its parameters
    /// in place, the program's attributes, then the SDK's (the template and parameters, the origin, release,
    /// environment, SDK, server and, with `send_default_pii`, the user), scrubbed.
    pub(crate) fn prepare_log(&self, pending: PendingLog) -> Option<Log> {
        let PendingLog {
            timestamp,
            level,
            template,
            params,
            attributes: given,
            trace_id,
            span_id,
            origin,
            user,
        } = pending;
        let options = &self.options;
        let mut attributes: BTreeMap<String, LogValue> = given
            .into_iter()
            .map(|(key, value)| (key.into_owned(), value))
            .collect();
        let body = if params.is_empty() {
            template.into_owned()
        } else {
            let body = fill_template(&template, &params);
            attributes.insert("sentry.message.template".into(), LogValue::String(template));
            for (i, param) in params.into_iter().enumerate() {
                attributes.insert(format!("sentry.message.parameter.{i}"), param);
            }
            body
        };
        if let Some(origin) = origin {
            attributes
                .entry("sentry.origin".to_owned())
                .or_insert(LogValue::String(origin.into()));
        }
        self.add_sdk_attributes(&mut attributes, user);
        let mut log = Log {
            timestamp,
            trace_id,
            span_id,
            level,
            body: crate::chain::truncate(body, crate::chain::MAX_VALUE_LEN),
            severity_number: Some(level.severity_number()),
            attributes,
        };
        if let Some(scrubber) = &self.scrubber {
            scrubber.scrub_log(&mut log);
        }
        let Some(before_send_log) = &options.before_send_log else {
            return Some(log);
        };
        let size = serde_json::to_vec(&log).map_or(0, |json| json.len() as u64);
        let kept = catch_unwind(AssertUnwindSafe(|| before_send_log(log))).unwrap_or_else(|_| {
            sdk_debug!("before_send_log panicked; the log record is dropped");
            None
        });
        if kept.is_none() {
            self.counters
                .discard(Reason::BeforeSend, DataCategory::LogItem);
            self.counters
                .discard_n(Reason::BeforeSend, DataCategory::LogByte, size);
        }
        kept
    }

    /// The metric measurement to send, or `None` when `before_send_metric` drops it (counted): the program's
    /// attributes, then the SDK's (release, environment, SDK, server and, with `send_default_pii`, the user), with
    /// values under sensitive keys scrubbed.
    pub(crate) fn prepare_metric(&self, pending: PendingMetric) -> Option<Metric> {
        let PendingMetric {
            timestamp,
            ty,
            name,
            value,
            unit,
            attributes: given,
            trace_id,
            span_id,
            user,
        } = pending;
        let mut attributes: BTreeMap<String, LogValue> = given
            .into_iter()
            .map(|(key, value)| (key.into_owned(), value))
            .collect();
        self.add_sdk_attributes(&mut attributes, user);
        if let Some(scrubber) = &self.scrubber {
            scrubber.scrub_attributes(&mut attributes);
        }
        let metric = Metric {
            timestamp,
            trace_id,
            span_id,
            name: name.into_owned(),
            ty,
            value,
            unit: unit.map(Cow::into_owned),
            attributes,
        };
        let Some(before_send_metric) = &self.options.before_send_metric else {
            return Some(metric);
        };
        let kept =
            catch_unwind(AssertUnwindSafe(|| before_send_metric(metric))).unwrap_or_else(|_| {
                sdk_debug!("before_send_metric panicked; the measurement is dropped");
                None
            });
        if kept.is_none() {
            self.counters
                .discard(Reason::BeforeSend, DataCategory::TraceMetric);
        }
        kept
    }

    /// The items of an event's attachments, in order, while they stay within `max_attachment_bytes` together; the
    /// others are counted (by bytes), not sent.
    pub(crate) fn attachment_items(&self, attachments: Vec<Arc<Attachment>>) -> Vec<EnvelopeItem> {
        let mut room = self.options.max_attachment_bytes;
        let mut items = Vec::with_capacity(attachments.len());
        for attachment in attachments {
            let len = attachment.bytes.len();
            if len <= room {
                room -= len;
                items.push(EnvelopeItem::Attachment(Attachment::clone(&attachment)));
            } else {
                sdk_debug!(
                    "attachment {} ({len} bytes) passes max_attachment_bytes; left out",
                    attachment.filename
                );
                self.counters.discard_n(
                    Reason::BufferOverflow,
                    DataCategory::Attachment,
                    len as u64,
                );
            }
        }
        items
    }

    /// Counts the attachments of an event that `before_send` dropped, by bytes.
    pub(crate) fn drop_attachments(&self, attachments: &[Arc<Attachment>]) {
        let bytes: u64 = attachments.iter().map(|a| a.bytes.len() as u64).sum();
        if bytes > 0 {
            self.counters
                .discard_n(Reason::BeforeSend, DataCategory::Attachment, bytes);
        }
    }

    /// A check-in's release and environment, where the program did not set them. Check-ins skip `before_send`.
    pub(crate) fn fill_check_in(&self, check_in: &mut CheckIn) {
        if check_in.release.is_none() {
            check_in.release = self.options.release.as_deref().map(str::to_owned);
        }
        if check_in.environment.is_none() {
            check_in.environment = self.options.environment.as_deref().map(str::to_owned);
        }
    }

    /// A feedback event's release, environment, server and SDK. It is neither scrubbed nor passed to
    /// `before_send`: what the user wrote, and the contact they gave, are theirs to send.
    pub(crate) fn fill_feedback(&self, event: &mut Event) {
        let options = &self.options;
        if event.release.is_none() {
            event.release = options.release.as_deref().map(str::to_owned);
        }
        if event.environment.is_none() {
            event.environment = options.environment.as_deref().map(str::to_owned);
        }
        if event.server_name.is_none() {
            event.server_name.clone_from(&self.facts().server_name);
        }
        if event.sdk.is_none() {
            event.sdk = Some(self.sdk.clone());
        }
    }

    /// The attributes the SDK adds to logs and metrics where the program did not set them: `sentry.release`,
    /// `sentry.environment`, `sentry.sdk.name`, `sentry.sdk.version`, `server.address`, and with
    /// `send_default_pii` the user's `user.id`, `user.email` and `user.name`.
    fn add_sdk_attributes(
        &self,
        attributes: &mut BTreeMap<String, LogValue>,
        user: Option<Box<User>>,
    ) {
        let options = &self.options;
        let mut sdk_attribute = |key: &str, value: LogValue| {
            attributes.entry(key.to_owned()).or_insert(value);
        };
        if let Some(release) = &options.release {
            sdk_attribute("sentry.release", LogValue::String(release.clone()));
        }
        if let Some(environment) = &options.environment {
            sdk_attribute("sentry.environment", LogValue::String(environment.clone()));
        }
        sdk_attribute("sentry.sdk.name", LogValue::String(self.sdk.name.clone()));
        sdk_attribute(
            "sentry.sdk.version",
            LogValue::String(self.sdk.version.clone()),
        );
        if let Some(server) = &self.facts().server_name {
            sdk_attribute("server.address", LogValue::String(server.clone().into()));
        }
        if let Some(user) = user.filter(|_| options.send_default_pii) {
            let User {
                id,
                email,
                username,
                ..
            } = *user;
            for (key, value) in [
                ("user.id", id),
                ("user.email", email),
                ("user.name", username),
            ] {
                if let Some(value) = value {
                    sdk_attribute(key, LogValue::String(value.into()));
                }
            }
        }
    }
}

/// `template` with each `{}` replaced by the next parameter's text (`{{` and `}}` stand for braces); a `{}` without
/// a parameter is kept, and parameters without a `{}` are left out of the body (they stay attributes).
fn fill_template(template: &str, params: &[LogValue]) -> String {
    use std::fmt::Write;
    let mut body = String::with_capacity(template.len() + 16 * params.len());
    let mut params = params.iter();
    let mut rest = template;
    while let Some(at) = rest.find(['{', '}']) {
        body.push_str(&rest[..at]);
        let tail = &rest[at..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            body.push_str(&tail[..1]);
            rest = &tail[2..];
        } else if let Some(after) = tail.strip_prefix("{}") {
            match params.next() {
                Some(param) => {
                    let _ = write!(body, "{param}");
                }
                None => body.push_str("{}"),
            }
            rest = after;
        } else {
            body.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    body.push_str(rest);
    body
}

/// With `send_default_pii`: asks the server to fill the user's IP address from the request (`{{auto}}`), unless
/// one was set.
fn ask_for_client_ip(user: &mut Option<User>) {
    user.get_or_insert_with(User::default)
        .ip_address
        .get_or_insert_with(|| "{{auto}}".to_owned());
}

#[cfg(test)]
mod log_tests {
    use super::*;

    #[test]
    fn templates_take_their_parameters_in_order() {
        let params = [
            LogValue::from(7_u32),
            LogValue::from("late"),
            LogValue::from(1.5),
        ];
        let cases = [
            ("order {} is {}", "order 7 is late"),
            ("{}{}{}", "7late1.5"),
            ("{{}} {} {{x}}", "{} 7 {x}"),
            ("no placeholders", "no placeholders"),
            ("{} {} {} {}", "7 late 1.5 {}"),
            ("a lone { and }", "a lone { and }"),
            ("ünïcode {} ✓", "ünïcode 7 ✓"),
        ];
        for (template, body) in cases {
            assert_eq!(fill_template(template, &params), body, "{template}");
        }
    }
}
