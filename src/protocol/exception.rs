//! Exceptions: one per error in a chain, root cause first.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::stacktrace::Stacktrace;

/// One error of a chain. An event lists its exceptions **root cause first**, the captured error last.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    /// The error's type name, e.g. `ParseIntError`. Servers group issues by the last exception's type and value.
    #[serde(rename = "type")]
    pub ty: String,
    /// The error's message (its `Display` output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The module that defines the type, e.g. `std::num` or `demo::config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// How the error was caught.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<Mechanism>,
    /// Where the error was raised or captured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacktrace: Option<Stacktrace>,
    /// The id of the thread in `Event::threads` that raised it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
}

/// How an exception was caught: by user code (`handled: true`) or by a crash handler such as the panic hook.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Mechanism {
    /// The mechanism's type: `generic` for captured errors, `panic` for panics, `log` for log records.
    #[serde(rename = "type")]
    pub ty: String,
    /// Whether user code handled the error; `false` marks crashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled: Option<bool>,
    /// `true` when the type name was made up by the SDK rather than taken from the program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthetic: Option<bool>,
    /// A human-readable note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Free-form data, e.g. a panic's location.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, serde_json::Value>,
    /// What the operating system said about the error: for a native crash, its signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<MechanismMeta>,
}

/// Operating-system details of an error's mechanism (`mechanism.meta`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MechanismMeta {
    /// The POSIX signal that ended the process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<SignalMeta>,
}

/// A POSIX signal (`mechanism.meta.signal`): its number and name, and the `si_code` that says why it came.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SignalMeta {
    /// The signal's number, e.g. 11.
    pub number: i32,
    /// The signal's `si_code`, e.g. 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// The signal's name, e.g. `SIGSEGV`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The code's name, e.g. `SEGV_MAPERR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_name: Option<String>,
}
