//! Attachments on the wire: a file sent in an event's envelope, as raw bytes with its name, content type and kind
//! in the item header.

use std::fmt;
use std::sync::Arc;

/// What an attachment is, for the server: most are plain files; a minidump (`event.minidump`) is processed as a
/// native crash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttachmentType {
    /// A plain file (`event.attachment`).
    #[default]
    Attachment,
    /// A minidump (`event.minidump`), whose event must be in the same envelope.
    Minidump,
    /// An Apple crash report (`event.applecrashreport`).
    AppleCrashReport,
    /// An Unreal Engine context (`unreal.context`).
    UnrealContext,
    /// Unreal Engine logs (`unreal.logs`).
    UnrealLogs,
    /// A view hierarchy (`event.view_hierarchy`).
    ViewHierarchy,
}

impl AttachmentType {
    /// The `attachment_type` header.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentType::Attachment => "event.attachment",
            AttachmentType::Minidump => "event.minidump",
            AttachmentType::AppleCrashReport => "event.applecrashreport",
            AttachmentType::UnrealContext => "unreal.context",
            AttachmentType::UnrealLogs => "unreal.logs",
            AttachmentType::ViewHierarchy => "event.view_hierarchy",
        }
    }

    /// The type an `attachment_type` header names; a plain attachment for anything unknown.
    pub fn from_header(header: &str) -> Self {
        match header {
            "event.minidump" => AttachmentType::Minidump,
            "event.applecrashreport" => AttachmentType::AppleCrashReport,
            "unreal.context" => AttachmentType::UnrealContext,
            "unreal.logs" => AttachmentType::UnrealLogs,
            "event.view_hierarchy" => AttachmentType::ViewHierarchy,
            _ => AttachmentType::Attachment,
        }
    }
}

/// A file attached to the events captured in a scope (see
/// [`Scope::add_attachment`](crate::Scope::add_attachment)).
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file's bytes, shared between the scope and the events that carry them.
    pub bytes: Arc<[u8]>,
    /// Its name, without a path.
    pub filename: String,
    /// Its content type; `application/octet-stream` when unset.
    pub content_type: Option<String>,
    /// What it is.
    pub attachment_type: AttachmentType,
}

impl Attachment {
    /// A plain attachment named `filename` holding `bytes`.
    pub fn new(filename: impl Into<String>, bytes: impl Into<Arc<[u8]>>) -> Self {
        Attachment {
            bytes: bytes.into(),
            filename: filename.into(),
            content_type: None,
            attachment_type: AttachmentType::Attachment,
        }
    }

    /// The same with this content type (e.g. `text/plain`).
    #[must_use]
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The bytes may be large and private: their length only.
        f.debug_struct("Attachment")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("attachment_type", &self.attachment_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}
