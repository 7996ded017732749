//! The `transaction` item's payload: an event of type `transaction` with its spans (Sentry developer
//! documentation, "Transaction" and "Span" payloads).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::event::{ClientSdkInfo, EventId, SharedFields, User};
use super::propagation::DynamicSamplingContext;
use super::request::Request;
use super::time::Timestamp;
use super::trace::{SpanId, SpanStatus, TraceId};

/// A finished transaction as it is sent. Relay requires `start_timestamp <= timestamp` (of it and of each span),
/// well-formed ids, and at most one transaction per envelope, never beside an event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransactionEvent {
    /// Its id, which is also the envelope's `event_id`.
    pub event_id: EventId,
    /// Always `transaction`.
    #[serde(rename = "type")]
    pub ty: Cow<'static, str>,
    /// Its name: a route, a task, a command.
    pub transaction: String,
    /// How the name was chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_info: Option<TransactionInfo>,
    /// When it started.
    pub start_timestamp: Timestamp,
    /// When it ended.
    pub timestamp: Timestamp,
    /// `native`, as for events.
    pub platform: Cow<'static, str>,
    /// The release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// The environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// The SDK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<ClientSdkInfo>,
    /// Tags: the scope's and its own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Extra data from the scope.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
    /// The user, from the scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// The HTTP request, from the scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    /// Contexts; `trace` holds its own span: trace id, span id, parent, op, status and data.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub contexts: BTreeMap<String, serde_json::Value>,
    /// Its child spans.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<SpanEvent>,
    /// The dynamic sampling context of its trace, which goes in the envelope's `trace` header, not in the payload.
    #[serde(skip)]
    pub dynamic_sampling_context: Option<DynamicSamplingContext>,
}

impl TransactionEvent {
    /// Its fields that an event has too.
    pub(crate) fn shared_fields(&mut self) -> SharedFields<'_> {
        SharedFields {
            tags: &mut self.tags,
            extra: &mut self.extra,
            user: &mut self.user,
            request: &mut self.request,
            contexts: &mut self.contexts,
        }
    }
}

/// How a transaction's name was chosen, which Sentry's grouping and dynamic sampling read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionInfo {
    /// `custom`, `url`, `route`, `view`, `component` or `task`.
    pub source: Cow<'static, str>,
}

/// One span of a transaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanEvent {
    /// The span.
    pub span_id: SpanId,
    /// Its trace, the transaction's.
    pub trace_id: TraceId,
    /// Its parent: the transaction's span or another span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<SpanId>,
    /// The operation, e.g. `db.query`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    /// What it did, e.g. the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SpanStatus>,
    /// Tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Data.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub data: serde_json::Map<String, serde_json::Value>,
    /// When it started.
    pub start_timestamp: Timestamp,
    /// When it ended.
    pub timestamp: Timestamp,
    /// What made it: `manual` for the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Cow<'static, str>>,
}
