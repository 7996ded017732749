//! User feedback on the wire: a `feedback` item, an event of type `feedback` whose `contexts.feedback` holds what the
//! user wrote.

use serde::{Deserialize, Serialize};

use super::event::EventId;

/// What a user said about a problem, optionally about one event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// What they wrote.
    pub message: String,
    /// Their name, if they gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Their email address, if they gave it (`contact_email` on the wire).
    #[serde(
        default,
        rename = "contact_email",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<String>,
    /// Where they were (a URL or screen), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The event it is about, such as the id `capture_error` returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associated_event_id: Option<EventId>,
}

impl Feedback {
    /// Feedback with this message and nothing else.
    pub fn new(message: impl Into<String>) -> Self {
        Feedback {
            message: message.into(),
            ..Feedback::default()
        }
    }
}
