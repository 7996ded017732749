//! `Scope`: the data that is attached to every event captured while it is active. It never sends anything.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::performance::handles::TransactionOrSpan;
use crate::performance::propagation_context::PropagationContext;
use crate::protocol::event::SharedFields;
use crate::protocol::{
    Attachment, Breadcrumb, Event, Level, Request, SpanId, TraceContext, TraceId, TransactionEvent,
    User,
};
use crate::release_health::request_session::RequestSession;

/// Tags, extra data, the user, contexts, breadcrumbs and grouping that apply to events captured on this thread.
///
/// Change the current scope with [`crate::configure_scope`], or a temporary one with [`crate::with_scope`]:
///
/// ```
/// # faultline::test::with_captured_events(|| {
/// faultline::configure_scope(|scope| {
///     scope.set_tag("region", "eu-west-1");
///     scope.set_user(Some(faultline::User { id: Some("42".into()), ..Default::default() }));
/// });
/// # faultline::capture_message("hello", faultline::Level::Info);
/// # }).iter().for_each(|e| assert_eq!(e.tags["region"], "eu-west-1"));
/// ```
///
/// Scopes are shared by reference between the thread and the events waiting to be sent: capturing an event takes a
/// snapshot by bumping a reference count, and the next change copies the data once (copy on write).
#[derive(Clone, Debug, Default)]
pub struct Scope {
    level: Option<Level>,
    transaction: Option<String>,
    user: Option<User>,
    fingerprint: Vec<String>,
    tags: BTreeMap<String, String>,
    extra: BTreeMap<String, serde_json::Value>,
    contexts: BTreeMap<String, serde_json::Value>,
    /// Shared, so the copy a scope change makes while an event still holds the old snapshot (copy on write)
    /// copies pointers, not breadcrumbs.
    breadcrumbs: VecDeque<Arc<Breadcrumb>>,
    /// The HTTP request being handled, if any; shared, as requests are set once and copied with the scope.
    request: Option<Arc<Request>>,
    /// The span that events captured here point at, if any.
    span: Option<TransactionOrSpan>,
    /// The trace of events captured here when no span is current.
    propagation_context: PropagationContext,
    /// The request's session, in request mode (set by the tower layer): errors captured here count in it.
    request_session: Option<Arc<RequestSession>>,
    /// Files sent with every event captured here.
    attachments: Vec<Arc<Attachment>>,
}

impl Scope {
    /// Sets a tag, replacing one with the same key.
    pub fn set_tag(&mut self, key: impl Into<String>, value: impl ToString) {
        self.tags.insert(key.into(), value.to_string());
    }

    /// Removes a tag.
    pub fn remove_tag(&mut self, key: &str) {
        self.tags.remove(key);
    }

    /// Sets an extra value.
    pub fn set_extra(&mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) {
        self.extra.insert(key.into(), value.into());
    }

    /// Removes an extra value.
    pub fn remove_extra(&mut self, key: &str) {
        self.extra.remove(key);
    }

    /// Sets or clears the user.
    pub fn set_user(&mut self, user: Option<User>) {
        self.user = user;
    }

    /// Sets a context, e.g. `set_context("job", json!({"id": 7}))`. A context is an object; its `type` defaults to
    /// the key.
    pub fn set_context(&mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) {
        self.contexts.insert(key.into(), value.into());
    }

    /// Removes a context.
    pub fn remove_context(&mut self, key: &str) {
        self.contexts.remove(key);
    }

    /// Sets the grouping fingerprint (`["{{ default }}", "extra"]` extends the default grouping); empty resets it.
    pub fn set_fingerprint(&mut self, fingerprint: &[&str]) {
        self.fingerprint = fingerprint.iter().map(|s| (*s).to_owned()).collect();
    }

    /// Overrides the level of every event captured in this scope.
    pub fn set_level(&mut self, level: Option<Level>) {
        self.level = level;
    }

    /// Sets the transaction name (route, job, command).
    pub fn set_transaction(&mut self, transaction: Option<&str>) {
        self.transaction = transaction.map(str::to_owned);
    }

    /// Sets or clears the HTTP request being handled: events and transactions captured in this scope carry it.
    /// The tower layer sets it for each request.
    pub fn set_request(&mut self, request: Option<Request>) {
        self.request = request.map(Arc::new);
    }

    /// The HTTP request being handled, if one is set.
    pub fn request(&self) -> Option<&Request> {
        self.request.as_deref()
    }

    /// Makes a transaction or span current, or none: events captured in this scope then carry its trace and span
    /// id, and outgoing trace headers continue it. The scope holds it until it is replaced or cleared, so a
    /// transaction that is current is not sent as `cancelled` when the program drops its own handle.
    ///
    /// ```
    /// # faultline::test::with_captured_events(|| {
    /// let transaction = faultline::start_transaction("import", "task");
    /// faultline::configure_scope(|scope| scope.set_span(Some(transaction.clone().into())));
    /// // Errors captured here point at the transaction.
    /// faultline::configure_scope(|scope| scope.set_span(None));
    /// transaction.finish();
    /// # });
    /// ```
    pub fn set_span(&mut self, span: Option<TransactionOrSpan>) {
        self.span = span;
    }

    /// The current transaction or span, if one is set.
    pub fn span(&self) -> Option<&TransactionOrSpan> {
        self.span.as_ref()
    }

    /// The trace of events captured here when no span is current.
    pub fn propagation_context(&self) -> &PropagationContext {
        &self.propagation_context
    }

    /// Replaces the trace of events captured here when no span is current.
    pub fn set_propagation_context(&mut self, context: PropagationContext) {
        self.propagation_context = context;
    }

    /// Starts a new trace for what follows in this scope, such as a new request or job: events captured here get a
    /// new trace id.
    pub fn start_new_trace(&mut self) {
        self.propagation_context = PropagationContext::new();
    }

    /// What a log record or a metric recorded in this scope carries: the trace id, the current span's id (none
    /// without a current span), and with `with_user` the user.
    pub(crate) fn record_context(
        &self,
        with_user: bool,
    ) -> (TraceId, Option<SpanId>, Option<Box<User>>) {
        let (trace_id, span_id) = match &self.span {
            Some(span) => (span.trace_id(), Some(span.span_id())),
            None => (self.propagation_context.trace_id, None),
        };
        let user = if with_user {
            self.user.clone().map(Box::new)
        } else {
            None
        };
        (trace_id, span_id, user)
    }

    /// The trace context an event captured in this scope carries: that of the current span, or of the
    /// propagation context.
    pub(crate) fn trace_context(&self) -> TraceContext {
        match &self.span {
            Some(span) => span.trace_context(),
            None => {
                let context = &self.propagation_context;
                let mut trace = TraceContext::new(context.trace_id, context.span_id);
                trace.parent_span_id = context.parent_span_id;
                trace
            }
        }
    }

    /// Removes the breadcrumbs.
    pub fn clear_breadcrumbs(&mut self) {
        self.breadcrumbs.clear();
    }

    /// Resets everything (but the request's session, which is the SDK's own bookkeeping).
    pub fn clear(&mut self) {
        *self = Scope {
            request_session: self.request_session.take(),
            ..Scope::default()
        };
    }

    /// Adds a file to every event captured in this scope (not to transactions, logs or other items). It goes in
    /// the event's envelope, as long as the event's attachments stay within
    /// [`max_attachment_bytes`](crate::ClientOptions::max_attachment_bytes); one past it is counted, not sent.
    ///
    /// ```
    /// # let envelopes = faultline::test::with_captured_envelopes(|| {
    /// faultline::configure_scope(|scope| {
    ///     scope.add_attachment(
    ///         faultline::protocol::Attachment::new("config.toml", b"port = 80".to_vec())
    ///             .with_content_type("text/plain"),
    ///     );
    /// });
    /// faultline::capture_message("bad config", faultline::Level::Error);
    /// # });
    /// # assert!(envelopes[0].items.iter().any(|i| i.ty() == "attachment"));
    /// ```
    pub fn add_attachment(&mut self, attachment: Attachment) {
        self.attachments.push(Arc::new(attachment));
    }

    /// Removes every attachment.
    pub fn clear_attachments(&mut self) {
        self.attachments.clear();
    }

    /// The attachments, in the order they were added.
    pub fn attachments(&self) -> impl ExactSizeIterator<Item = &Attachment> {
        self.attachments.iter().map(|a| &**a)
    }

    /// The attachments, shared, for an event's envelope.
    pub(crate) fn shared_attachments(&self) -> Vec<Arc<Attachment>> {
        self.attachments.clone()
    }

    /// The level that overrides events', if one is set (read by the native crash handler, like the three below).
    #[cfg(faultline_native_crash)]
    pub(crate) fn level_override(&self) -> Option<Level> {
        self.level
    }

    /// The grouping fingerprint; empty for the default grouping.
    #[cfg(faultline_native_crash)]
    pub(crate) fn fingerprint(&self) -> &[String] {
        &self.fingerprint
    }

    /// The extra data.
    #[cfg(faultline_native_crash)]
    pub(crate) fn extra(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.extra
    }

    /// The contexts.
    #[cfg(faultline_native_crash)]
    pub(crate) fn contexts(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.contexts
    }

    /// The user, if one is set.
    pub fn user(&self) -> Option<&User> {
        self.user.as_ref()
    }

    /// Sets the session of the request handled in this scope.
    #[cfg_attr(
        not(feature = "tower"),
        expect(dead_code, reason = "only the tower layer starts request sessions")
    )]
    pub(crate) fn set_request_session(&mut self, session: Option<Arc<RequestSession>>) {
        self.request_session = session;
    }

    /// The session of the request handled in this scope, if any.
    pub(crate) fn request_session(&self) -> Option<&RequestSession> {
        self.request_session.as_deref()
    }

    /// The tags.
    pub fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }

    /// The transaction name, if one is set.
    pub fn transaction(&self) -> Option<&str> {
        self.transaction.as_deref()
    }

    /// The breadcrumbs, oldest first.
    pub fn breadcrumbs(&self) -> impl ExactSizeIterator<Item = &Breadcrumb> {
        self.breadcrumbs.iter().map(|crumb| &**crumb)
    }

    /// Appends a breadcrumb, dropping the oldest beyond `max`.
    pub(crate) fn add_breadcrumb(&mut self, breadcrumb: Breadcrumb, max: usize) {
        if max == 0 {
            return;
        }
        while self.breadcrumbs.len() >= max {
            self.breadcrumbs.pop_front();
        }
        self.breadcrumbs.push_back(Arc::new(breadcrumb));
    }

    /// Fills `event` from the scope. What the event already has wins over the scope, except the level, which a
    /// scope's `set_level` overrides; the scope's breadcrumbs come before the event's own.
    pub(crate) fn apply_to_event(&self, event: &mut Event, max_breadcrumbs: usize) {
        if let Some(level) = self.level {
            event.level = level;
        }
        if event.transaction.is_none() {
            event.transaction.clone_from(&self.transaction);
        }
        if event.fingerprint.is_empty() {
            event.fingerprint.clone_from(&self.fingerprint);
        }
        self.apply_shared(event.shared_fields());
        if !event.contexts.contains_key("trace") {
            if let Ok(trace) = serde_json::to_value(self.trace_context()) {
                event
                    .contexts
                    .insert("trace".into(), with_type("trace", &trace));
            }
        }
        if !self.breadcrumbs.is_empty() {
            let own = std::mem::take(&mut event.breadcrumbs);
            let total = self.breadcrumbs.len() + own.len();
            let skip = total.saturating_sub(max_breadcrumbs);
            event.breadcrumbs = self
                .breadcrumbs
                .iter()
                .map(|crumb| (**crumb).clone())
                .chain(own)
                .skip(skip)
                .collect();
        }
    }

    /// Fills a transaction from the scope: its tags (the transaction's own win), extra data, user, request and
    /// contexts. Breadcrumbs, the fingerprint and the level belong to events only.
    pub(crate) fn apply_to_transaction(&self, transaction: &mut TransactionEvent) {
        self.apply_shared(transaction.shared_fields());
    }

    /// Fills what events and transactions share; what they have already wins.
    fn apply_shared(&self, fields: SharedFields<'_>) {
        if fields.user.is_none() {
            fields.user.clone_from(&self.user);
        }
        if fields.request.is_none() {
            *fields.request = self.request.as_deref().cloned();
        }
        for (k, v) in &self.tags {
            fields.tags.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in &self.extra {
            fields.extra.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in &self.contexts {
            fields
                .contexts
                .entry(k.clone())
                .or_insert_with(|| with_type(k, v));
        }
    }
}

/// A context object with its `type` defaulting to the key, as the protocol expects.
fn with_type(key: &str, value: &serde_json::Value) -> serde_json::Value {
    let mut value = value.clone();
    if let serde_json::Value::Object(map) = &mut value {
        map.entry("type").or_insert_with(|| key.into());
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breadcrumbs_are_capped_oldest_first_out() {
        let mut scope = Scope::default();
        for i in 0..250 {
            scope.add_breadcrumb(Breadcrumb::new("test", format!("crumb {i}")), 100);
        }
        assert_eq!(scope.breadcrumbs().len(), 100);
        assert_eq!(
            scope.breadcrumbs().next().unwrap().message.as_deref(),
            Some("crumb 150")
        );
        let mut none = Scope::default();
        none.add_breadcrumb(Breadcrumb::default(), 0);
        assert_eq!(none.breadcrumbs().len(), 0);
    }

    #[test]
    fn event_values_win_over_scope_values() {
        let mut scope = Scope::default();
        scope.set_tag("a", "scope");
        scope.set_tag("b", "scope");
        scope.set_context("job", serde_json::json!({"id": 7}));
        scope.set_fingerprint(&["{{ default }}", "x"]);
        scope.set_level(Some(Level::Warning));
        let mut event = Event::new();
        event.tags.insert("a".into(), "event".into());
        scope.apply_to_event(&mut event, 100);
        assert_eq!(event.tags["a"], "event");
        assert_eq!(event.tags["b"], "scope");
        assert_eq!(event.contexts["job"]["type"], "job");
        assert_eq!(event.fingerprint, ["{{ default }}", "x"]);
        assert_eq!(event.level, Level::Warning);
    }

    #[test]
    fn applied_breadcrumbs_respect_the_cap() {
        let mut scope = Scope::default();
        for i in 0..5 {
            scope.add_breadcrumb(Breadcrumb::new("s", i.to_string()), 10);
        }
        let mut event = Event::new();
        event.breadcrumbs = (0..3)
            .map(|i| Breadcrumb::new("e", i.to_string()))
            .collect();
        scope.apply_to_event(&mut event, 4);
        let got: Vec<_> = event
            .breadcrumbs
            .iter()
            .map(|b| b.message.clone().unwrap())
            .collect();
        assert_eq!(got, ["4", "0", "1", "2"]);
    }
}
