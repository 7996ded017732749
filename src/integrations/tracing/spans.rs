//! `tracing` spans as faultline spans: a span opened with no transaction around it starts one, spans inside it
//! become its children, and while a span is entered it is the scope's current span, so events and errors captured
//! inside it point at it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::thread::ThreadId;

use tracing_core::span::{Attributes, Id, Record};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::fields::Fields;
use crate::hub::Hub;
use crate::performance::TransactionOrSpan;
use crate::sync::lock;

/// What the layer keeps in a `tracing` span's extensions.
pub(super) struct SpanData {
    span: TransactionOrSpan,
    /// The scope's current span before each enter of this one, by the thread that entered, restored at that
    /// thread's matching exit (a span may be entered on several threads at once).
    previous: Mutex<Vec<(ThreadId, Option<TransactionOrSpan>)>>,
}

/// The names of the fields that override what a span becomes.
const OP: &str = "sentry.op";
const NAME: &str = "sentry.name";
const TRACE: &str = "sentry.trace";

/// A new `tracing` span: a child of its `tracing` parent's span, else of the scope's current span, else a new
/// transaction (continuing the trace in a `sentry.trace` field, if it has one).
pub(super) fn on_new_span<S>(attrs: &Attributes<'_>, id: &Id, ctx: &Context<'_, S>)
where
    S: tracing_core::Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(span) = ctx.span(id) else {
        return;
    };
    let mut fields = Fields::new(false);
    attrs.record(&mut fields);
    let mut data = fields.data;
    let text = |data: &mut BTreeMap<String, serde_json::Value>, key: &str| match data.remove(key) {
        Some(serde_json::Value::String(text)) => Some(text),
        Some(other) => Some(other.to_string()),
        None => None,
    };
    let metadata = attrs.metadata();
    let op: Cow<'static, str> =
        text(&mut data, OP).map_or(Cow::Borrowed(metadata.name()), Cow::Owned);
    let name: Cow<'static, str> =
        text(&mut data, NAME).map_or(Cow::Borrowed(metadata.name()), Cow::Owned);
    let trace = text(&mut data, TRACE);
    let parent = span
        .parent()
        .and_then(|parent| {
            parent
                .extensions()
                .get::<SpanData>()
                .map(|d| d.span.clone())
        })
        .or_else(|| crate::current_scope().0.span().cloned());
    let ours: TransactionOrSpan = match parent {
        Some(parent) => parent.start_child(op, name).into(),
        None => match trace {
            Some(trace) => {
                crate::continue_from_headers(name, op, [("sentry-trace", trace.as_str())]).into()
            }
            None => crate::start_transaction(name, op).into(),
        },
    };
    set_data(&ours, data);
    span.extensions_mut().insert(SpanData {
        span: ours,
        previous: Mutex::new(Vec::new()),
    });
}

/// Fields recorded after the span was created go to its data.
pub(super) fn on_record<S>(id: &Id, values: &Record<'_>, ctx: &Context<'_, S>)
where
    S: tracing_core::Subscriber + for<'a> LookupSpan<'a>,
{
    with_data(id, ctx, |ours| {
        let mut fields = Fields::new(false);
        values.record(&mut fields);
        set_data(&ours.span, fields.data);
    });
}

/// Entering: the span becomes the scope's current span.
pub(super) fn on_enter<S>(id: &Id, ctx: &Context<'_, S>)
where
    S: tracing_core::Subscriber + for<'a> LookupSpan<'a>,
{
    with_data(id, ctx, |ours| {
        let previous = Hub::with_current(|hub| {
            hub.configure(|scope| {
                let previous = scope.span().cloned();
                scope.set_span(Some(ours.span.clone()));
                previous
            })
        });
        lock(&ours.previous).push((std::thread::current().id(), previous));
    });
}

/// Exiting: the scope's current span goes back to what it was at the matching enter.
pub(super) fn on_exit<S>(id: &Id, ctx: &Context<'_, S>)
where
    S: tracing_core::Subscriber + for<'a> LookupSpan<'a>,
{
    with_data(id, ctx, |ours| {
        let me = std::thread::current().id();
        let previous = {
            let mut entries = lock(&ours.previous);
            let at = entries.iter().rposition(|(thread, _)| *thread == me);
            at.and_then(|at| entries.remove(at).1)
        };
        // Through the hub itself, not `configure_scope`, so that it happens even while the SDK is disabled (the
        // enter happened regardless too). The replaced span is dropped once the scope is no longer locked.
        let replaced = Hub::with_current(|hub| {
            hub.configure(|scope| {
                let replaced = scope.span().cloned();
                scope.set_span(previous);
                replaced
            })
        });
        drop(replaced);
    });
}

/// Runs `f` with what the layer keeps of `tracing` span `id`, if it keeps anything.
fn with_data<S>(id: &Id, ctx: &Context<'_, S>, f: impl FnOnce(&SpanData))
where
    S: tracing_core::Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(span) = ctx.span(id) else {
        return;
    };
    let extensions = span.extensions();
    if let Some(ours) = extensions.get::<SpanData>() {
        f(ours);
    }
}

/// Closing: the span (or transaction) is finished.
pub(super) fn on_close<S>(id: &Id, ctx: &Context<'_, S>)
where
    S: tracing_core::Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(span) = ctx.span(id) else {
        return;
    };
    let Some(ours) = span.extensions_mut().remove::<SpanData>() else {
        return;
    };
    match ours.span {
        TransactionOrSpan::Transaction(t) => t.finish(),
        TransactionOrSpan::Span(s) => s.finish(),
    }
}

fn set_data(span: &TransactionOrSpan, data: BTreeMap<String, serde_json::Value>) {
    for (key, value) in data {
        match span {
            TransactionOrSpan::Transaction(t) => t.set_data(key, value),
            TransactionOrSpan::Span(s) => s.set_data(key, value),
        }
    }
}
