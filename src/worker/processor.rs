//! `Processor`: turns a pending event into the event that is sent (defaults, contexts, scope, symbols, scrubbing,
//! limits, `before_send`).
//!
//! The worker thread uses it for every event. It is shared (`Arc`) so that the panic hook can finish its own event
//! and write it to the spool without waiting for a worker that may be stuck on a request, and so that a shutdown
//! that runs out of time can spool what is still queued.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock};

use crate::diagnostics::sdk_debug;
use crate::limits;
use crate::message::PendingEvent;
use crate::options::ClientOptions;
use crate::protocol::data_category::DataCategory;
use crate::protocol::debug_meta::DebugMeta;
use crate::protocol::event::{ClientSdkInfo, Event, Thread, User};
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
    /// Computed once, on first use (normally by the worker at start-up, so `init` does not wait on file reads).
    environment_facts: OnceLock<Facts>,
}

/// Facts about the machine that every event carries.
struct Facts {
    contexts: BTreeMap<String, serde_json::Value>,
    server_name: Option<String>,
    debug_meta: Option<DebugMeta>,
}

impl Processor {
    pub(crate) fn new(options: Arc<ClientOptions>, counters: Arc<Counters>) -> Self {
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
            options,
            counters,
            symbolizer: Mutex::new(Symbolizer::new(SYMBOL_CACHE_CAPACITY)),
            scrubber,
            rules,
            sdk,
            environment_facts: OnceLock::new(),
        }
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
        let PendingEvent {
            mut event,
            trace,
            scope,
        } = pending;
        let options = &self.options;
        let facts = self.facts();
        if event.release.is_none() {
            event.release = options.release.as_deref().map(str::to_owned);
        }
        if event.environment.is_none() {
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
        for (key, value) in &facts.contexts {
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
}
