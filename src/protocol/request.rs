//! The `request` interface: the HTTP request an event or transaction happened in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The HTTP request being handled. Never a body; cookies, authorization headers and client addresses only with
/// `send_default_pii` (the tower layer sees to it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The URL without its query string, e.g. `http://127.0.0.1:3000/orders/7`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The method, e.g. `GET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The query string, without its `?`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_string: Option<String>,
    /// The headers, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The server's environment: `REMOTE_ADDR`, the client's address, with `send_default_pii`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}
