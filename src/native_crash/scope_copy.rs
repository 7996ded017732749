//! The scope at the crash: written out by the signal handler without allocating, and read back at the next start
//! into the crash's event.
//!
//! The handler reads the crashing thread's current scope (else the main thread's) through a reference-count bump
//! (`hub::scope_for_crash_handler`, which `init` hands to the handler), so keeping a copy current costs the program nothing while it runs: no
//! `configure_scope` or `add_breadcrumb` does any extra work for it.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::signal_safe::{FixedBuf, Full};
use crate::protocol::{Breadcrumb, Event, Level, User};
use crate::scope::Scope;

/// How deep the handler writes nested JSON values (extra data, contexts, breadcrumb data).
const MAX_DEPTH: usize = 8;

/// The most breadcrumbs written; fewer when they do not fit the buffer (the newest are kept).
const MAX_BREADCRUMBS: usize = 100;

/// Writes `scope` as one JSON object into `out`, in the shape [`CrashScope`] reads. Breadcrumbs that do not fit
/// are dropped, the oldest first; `Err` only if the rest does not fit.
pub(super) fn write(scope: &Scope, out: &mut FixedBuf<'_>) -> Result<(), Full> {
    let (level, fingerprint, extra, contexts) = (
        scope.level_override(),
        scope.fingerprint(),
        scope.extra(),
        scope.contexts(),
    );
    out.raw(b"{\"tags\":{")?;
    for (i, (key, value)) in scope.tags().iter().enumerate() {
        out.key(key, i == 0)?;
        out.string(value)?;
    }
    out.raw(b"}")?;
    if let Some(level) = level {
        out.key("level", false)?;
        out.string(level.as_str())?;
    }
    if let Some(transaction) = scope.transaction() {
        out.key("transaction", false)?;
        out.string(transaction)?;
    }
    if !fingerprint.is_empty() {
        out.key("fingerprint", false)?;
        out.raw(b"[")?;
        for (i, part) in fingerprint.iter().enumerate() {
            if i > 0 {
                out.raw(b",")?;
            }
            out.string(part)?;
        }
        out.raw(b"]")?;
    }
    if let Some(user) = scope.user() {
        out.key("user", false)?;
        write_user(user, out)?;
    }
    out.key("extra", false)?;
    write_map(extra, out)?;
    out.key("contexts", false)?;
    // The trace of events captured here: the scope's own (a current span's would need its lock).
    let trace = scope.propagation_context();
    out.raw(b"{\"trace\":{\"type\":\"trace\",\"trace_id\":\"")?;
    out.display(trace.trace_id)?;
    out.raw(b"\",\"span_id\":\"")?;
    out.display(trace.span_id)?;
    out.raw(b"\"")?;
    if let Some(parent) = trace.parent_span_id {
        out.raw(b",\"parent_span_id\":\"")?;
        out.display(parent)?;
        out.raw(b"\"")?;
    }
    out.raw(b"}")?;
    for (key, value) in contexts.iter().filter(|(key, _)| *key != "trace") {
        out.key(key, false)?;
        out.value(value, MAX_DEPTH)?;
    }
    out.raw(b"}")?;
    write_breadcrumbs(scope, out)?;
    out.raw(b"}")
}

/// `,"breadcrumbs":[…]` with as many of the newest breadcrumbs as fit, leaving room for the closing brace.
fn write_breadcrumbs(scope: &Scope, out: &mut FixedBuf<'_>) -> Result<(), Full> {
    let total = scope.breadcrumbs().len();
    let mut count = total.min(MAX_BREADCRUMBS);
    let mark = out.len();
    loop {
        let written = (|| {
            out.key("breadcrumbs", false)?;
            out.raw(b"[")?;
            for (i, crumb) in scope.breadcrumbs().skip(total - count).enumerate() {
                if i > 0 {
                    out.raw(b",")?;
                }
                write_breadcrumb(crumb, out)?;
            }
            out.raw(b"]")?;
            // Room for the object's closing brace.
            out.raw(b"}")?;
            out.truncate(out.len() - 1);
            Ok(())
        })();
        match written {
            Ok(()) => return Ok(()),
            Err(Full) if count > 0 => {
                out.truncate(mark);
                count /= 2;
            }
            Err(Full) => {
                out.truncate(mark);
                return Ok(());
            }
        }
    }
}

fn write_breadcrumb(crumb: &Breadcrumb, out: &mut FixedBuf<'_>) -> Result<(), Full> {
    out.raw(b"{\"timestamp\":")?;
    out.float(crumb.timestamp.as_secs_f64())?;
    out.key("type", false)?;
    out.string(&crumb.ty)?;
    if let Some(category) = &crumb.category {
        out.key("category", false)?;
        out.string(category)?;
    }
    if let Some(message) = &crumb.message {
        out.key("message", false)?;
        out.string(message)?;
    }
    out.key("level", false)?;
    out.string(crumb.level.as_str())?;
    if !crumb.data.is_empty() {
        out.key("data", false)?;
        write_map(&crumb.data, out)?;
    }
    out.raw(b"}")
}

fn write_user(user: &User, out: &mut FixedBuf<'_>) -> Result<(), Full> {
    out.raw(b"{")?;
    let mut first = true;
    for (key, value) in [
        ("id", &user.id),
        ("email", &user.email),
        ("username", &user.username),
        ("ip_address", &user.ip_address),
    ] {
        if let Some(value) = value {
            out.key(key, first)?;
            out.string(value)?;
            first = false;
        }
    }
    if !user.data.is_empty() {
        out.key("data", first)?;
        write_map(&user.data, out)?;
    }
    out.raw(b"}")
}

fn write_map(
    map: &BTreeMap<String, serde_json::Value>,
    out: &mut FixedBuf<'_>,
) -> Result<(), Full> {
    out.raw(b"{")?;
    for (i, (key, value)) in map.iter().enumerate() {
        out.key(key, i == 0)?;
        out.value(value, MAX_DEPTH)?;
    }
    out.raw(b"}")
}

/// The scope as the handler wrote it, read at the next start.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CrashScope {
    level: Option<Level>,
    transaction: Option<String>,
    fingerprint: Vec<String>,
    user: Option<User>,
    tags: BTreeMap<String, String>,
    extra: BTreeMap<String, serde_json::Value>,
    contexts: BTreeMap<String, serde_json::Value>,
    breadcrumbs: Vec<Breadcrumb>,
}

impl CrashScope {
    /// Reads what the handler wrote; an empty scope for anything it cannot read.
    pub(crate) fn read(bytes: Option<&[u8]>) -> Self {
        bytes
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or_default()
    }

    /// Puts the scope into the crash's event. The event stays fatal whatever level the scope set.
    pub(crate) fn apply_to(self, event: &mut Event) {
        let _ = self.level;
        event.transaction = self.transaction;
        event.fingerprint = self.fingerprint;
        event.user = self.user;
        event.tags = self.tags;
        event.extra = self.extra;
        event.contexts.extend(self.contexts);
        event.breadcrumbs = self.breadcrumbs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> Scope {
        let mut scope = Scope::default();
        scope.set_tag("region", "eu \"west\"");
        scope.set_tag("build", 7);
        scope.set_user(Some(User {
            id: Some("42".into()),
            email: Some("a@example.com".into()),
            data: [("plan".to_owned(), json!("pro"))].into(),
            ..User::default()
        }));
        scope.set_extra("job", json!({"id": 7, "args": ["a", "b"], "ratio": 0.5}));
        scope.set_context("app", json!({"name": "fixture"}));
        scope.set_fingerprint(&["{{ default }}", "crash"]);
        scope.set_transaction(Some("import"));
        for i in 0..5 {
            scope.add_breadcrumb(
                Breadcrumb {
                    message: Some(format!("step {i}")),
                    category: Some("app".into()),
                    data: [("i".to_owned(), json!(i))].into(),
                    ..Breadcrumb::default()
                },
                100,
            );
        }
        scope
    }

    #[test]
    fn the_scope_written_in_the_handler_reads_back_into_the_event() {
        let scope = scope();
        let mut storage = vec![0u8; 16 * 1024];
        let mut out = FixedBuf::new(&mut storage);
        write(&scope, &mut out).unwrap();
        let text = std::str::from_utf8(out.bytes()).unwrap();
        let mut event = Event::default();
        CrashScope::read(Some(out.bytes())).apply_to(&mut event);
        assert_eq!(event.tags["region"], "eu \"west\"", "{text}");
        assert_eq!(event.tags["build"], "7");
        let user = event.user.as_ref().unwrap();
        assert_eq!(user.id.as_deref(), Some("42"));
        assert_eq!(user.data["plan"], "pro");
        assert_eq!(event.extra["job"]["args"][1], "b");
        assert_eq!(event.extra["job"]["ratio"], 0.5);
        assert_eq!(event.contexts["app"]["name"], "fixture");
        let trace = &event.contexts["trace"];
        assert_eq!(
            trace["trace_id"],
            scope.propagation_context().trace_id.to_string()
        );
        assert_eq!(event.fingerprint, ["{{ default }}", "crash"]);
        assert_eq!(event.transaction.as_deref(), Some("import"));
        let messages: Vec<_> = event
            .breadcrumbs
            .iter()
            .map(|c| c.message.as_deref().unwrap())
            .collect();
        assert_eq!(messages, ["step 0", "step 1", "step 2", "step 3", "step 4"]);
        let original: Vec<_> = scope.breadcrumbs().collect();
        let delta = (event.breadcrumbs[4].timestamp.as_secs_f64()
            - original[4].timestamp.as_secs_f64())
        .abs();
        assert!(delta < 1e-5, "{delta}");
        assert_eq!(event.breadcrumbs[4].data["i"], 4);
    }

    #[test]
    fn breadcrumbs_that_do_not_fit_give_way_newest_kept() {
        let mut scope = scope();
        for i in 0..100 {
            scope.add_breadcrumb(
                Breadcrumb {
                    message: Some(format!("{i:03} {}", "x".repeat(100))),
                    ..Breadcrumb::default()
                },
                100,
            );
        }
        let mut storage = vec![0u8; 4 * 1024];
        let mut out = FixedBuf::new(&mut storage);
        write(&scope, &mut out).unwrap();
        let mut event = Event::default();
        CrashScope::read(Some(out.bytes())).apply_to(&mut event);
        assert_eq!(event.tags["build"], "7");
        assert!(!event.breadcrumbs.is_empty() && event.breadcrumbs.len() < 100);
        assert!(
            event
                .breadcrumbs
                .last()
                .unwrap()
                .message
                .as_deref()
                .unwrap()
                .starts_with("099"),
            "the newest breadcrumb is kept"
        );

        // Too small even for the tags: an error, and the caller writes no scope.
        let mut tiny = [0u8; 16];
        assert_eq!(write(&scope, &mut FixedBuf::new(&mut tiny)), Err(Full));
        assert!(CrashScope::read(Some(b"{broken")).tags.is_empty());
    }
}
