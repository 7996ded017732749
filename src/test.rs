//! Helpers for asserting what code reports (feature `test`).
//!
//! [`with_captured_events`] runs a closure with a client of the calling thread's own, whose transport keeps
//! envelopes in memory, and returns the events it captured, symbolicated and with scope data applied exactly as
//! they would have been sent. Tests that run in parallel in one binary each see only their own events.
//!
//! ```
//! let events = faultline::test::with_captured_events(|| {
//!     faultline::configure_scope(|scope| scope.set_tag("job", "import"));
//!     faultline::capture_message("import finished", faultline::Level::Info);
//! });
//! assert_eq!(events.len(), 1);
//! assert_eq!(events[0].message.as_deref(), Some("import finished"));
//! assert_eq!(events[0].tags["job"], "import");
//! ```

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::client::Client;
use crate::hub::{ScopeGuard, thread_client};
use crate::options::ClientOptions;
use crate::protocol::{Envelope, Event};
use crate::sync::lock;
use crate::transport::{Outcome, Transport};

/// A transport that keeps every envelope in memory.
#[derive(Debug, Default)]
pub struct TestTransport {
    envelopes: Mutex<Vec<Envelope>>,
}

impl TestTransport {
    /// An empty transport.
    pub fn new() -> Arc<TestTransport> {
        Arc::new(TestTransport::default())
    }

    /// Takes the envelopes collected so far.
    pub fn take_envelopes(&self) -> Vec<Envelope> {
        std::mem::take(&mut *lock(&self.envelopes))
    }

    /// Takes the events collected so far.
    pub fn take_events(&self) -> Vec<Event> {
        events_of(&self.take_envelopes())
    }
}

impl Transport for TestTransport {
    fn send_envelope(&self, envelope: &Envelope) -> Outcome {
        lock(&self.envelopes).push(envelope.clone());
        Outcome::Sent
    }
}

/// Runs `f` with a capturing client and returns the events it captured, in order.
pub fn with_captured_events(f: impl FnOnce()) -> Vec<Event> {
    with_captured_events_options(ClientOptions::new(), f)
}

/// Like [`with_captured_events`], with `options` (sampling, `before_send`, …); their DSN and transport are ignored.
pub fn with_captured_events_options(options: ClientOptions, f: impl FnOnce()) -> Vec<Event> {
    events_of(&with_captured_envelopes_options(options, f))
}

/// The events in `envelopes`, in order; one replayed from the spool is parsed from its bytes.
fn events_of(envelopes: &[Envelope]) -> Vec<Event> {
    envelopes
        .iter()
        .filter_map(|envelope| envelope.to_event().map(Cow::into_owned))
        .collect()
}

/// Runs `f` with a capturing client and returns the envelopes it sent.
pub fn with_captured_envelopes(f: impl FnOnce()) -> Vec<Envelope> {
    with_captured_envelopes_options(ClientOptions::new(), f)
}

/// Like [`with_captured_envelopes`], with `options`; their DSN and transport are ignored.
///
/// # Panics
///
/// When a pattern in `options.scrub_patterns` does not compile, as [`crate::try_init`] would refuse it.
pub fn with_captured_envelopes_options(
    mut options: ClientOptions,
    f: impl FnOnce(),
) -> Vec<Envelope> {
    // `try_init` would refuse such a pattern; so does this helper, rather than test without it.
    for pattern in &options.scrub_patterns {
        if let Err(e) = crate::scrub::patterns::UserPattern::new(pattern) {
            panic!("faultline::test: {e}");
        }
    }
    let transport = TestTransport::new();
    options.dsn = None;
    options.transport = Some(transport.clone());
    let client = match Client::start(options, transport.clone(), None, None) {
        Ok(client) => client,
        Err(e) => panic!("faultline::test: cannot start the worker thread: {e}"),
    };
    let result = {
        let _client = thread_client::set(client.clone());
        // A scope of its own, so what `f` configures does not leak into the thread's later tests.
        let _scope = ScopeGuard::push();
        catch_unwind(AssertUnwindSafe(f))
    };
    client.shutdown(Duration::from_secs(30));
    if let Err(panic) = result {
        resume_unwind(panic);
    }
    transport.take_envelopes()
}
