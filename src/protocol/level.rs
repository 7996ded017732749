//! [`Level`]: the severity shared by events and breadcrumbs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The severity of an event or breadcrumb.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Debugging detail.
    Debug,
    /// Informational.
    #[default]
    Info,
    /// A warning. Written `warning` on the wire (`warn` is not a valid protocol level).
    Warning,
    /// An error.
    Error,
    /// A crash, such as a panic.
    Fatal,
}

impl Level {
    /// The protocol's name for the level.
    pub fn as_str(&self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
