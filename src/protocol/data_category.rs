//! [`DataCategory`]: what a rate limit applies to and what a client report counts.
//!
//! The names are the protocol's (Sentry developer documentation, "Rate Limiting" and "Client Reports"). Which
//! category each kind of item the SDK sends falls in is [`ItemKind::category`](super::item_kind::ItemKind::category).

/// A data category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum DataCategory {
    /// Reserved by the server; no item of ours maps to it, but a limit on it is parsed and kept.
    Default,
    /// Error, panic and message events (item type `event`).
    Error,
    /// Performance transactions.
    Transaction,
    /// Release-health sessions (`session` and `sessions` items).
    Session,
    /// Attachments; client reports count them in bytes.
    Attachment,
    /// Client reports. Never limited: the protocol requires that they are not dropped for rate limits.
    ClientReport,
    /// Security reports (CSP and the like).
    Security,
    /// Cron monitor check-ins (`check_in` items).
    Monitor,
    /// Profiles (`profile` and `profile_chunk` items).
    Profile,
    /// Session replays (`replay_event`, `replay_recording`, `replay_video` items).
    Replay,
    /// Spans, sent on their own or inside a transaction (client reports count a transaction's spans here too).
    Span,
    /// Log records (`log` items); client reports count them one by one.
    LogItem,
    /// The bytes of dropped log records, for client reports.
    LogByte,
    /// Metric records (`trace_metric` items).
    TraceMetric,
    /// User feedback (`feedback` items).
    Feedback,
    /// An item type this SDK does not know; only a limit on all categories applies to it.
    Unknown,
}

impl DataCategory {
    /// Every category, in discriminant order (tables index by `category as usize`).
    pub(crate) const ALL: [DataCategory; 16] = [
        DataCategory::Default,
        DataCategory::Error,
        DataCategory::Transaction,
        DataCategory::Session,
        DataCategory::Attachment,
        DataCategory::ClientReport,
        DataCategory::Security,
        DataCategory::Monitor,
        DataCategory::Profile,
        DataCategory::Replay,
        DataCategory::Span,
        DataCategory::LogItem,
        DataCategory::LogByte,
        DataCategory::TraceMetric,
        DataCategory::Feedback,
        DataCategory::Unknown,
    ];

    /// The category of an envelope item with this `type` header: `event` is [`DataCategory::Error`], an unknown
    /// type is [`DataCategory::Unknown`]. Covers the types other SDKs send too, since a spool shared with an older
    /// or newer faultline may hold them.
    pub(crate) fn from_item_type(ty: &str) -> DataCategory {
        match ty {
            "event" => DataCategory::Error,
            "transaction" => DataCategory::Transaction,
            "session" | "sessions" => DataCategory::Session,
            "attachment" => DataCategory::Attachment,
            "client_report" => DataCategory::ClientReport,
            "check_in" => DataCategory::Monitor,
            "profile" | "profile_chunk" => DataCategory::Profile,
            "replay_event" | "replay_recording" | "replay_video" => DataCategory::Replay,
            "span" => DataCategory::Span,
            "log" => DataCategory::LogItem,
            "trace_metric" => DataCategory::TraceMetric,
            "feedback" => DataCategory::Feedback,
            _ => DataCategory::Unknown,
        }
    }

    /// The protocol's name for the category, as used in rate-limit headers and client reports.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DataCategory::Default => "default",
            DataCategory::Error => "error",
            DataCategory::Transaction => "transaction",
            DataCategory::Session => "session",
            DataCategory::Attachment => "attachment",
            DataCategory::ClientReport => "client_report",
            DataCategory::Security => "security",
            DataCategory::Monitor => "monitor",
            DataCategory::Profile => "profile",
            DataCategory::Replay => "replay",
            DataCategory::Span => "span",
            DataCategory::LogItem => "log_item",
            DataCategory::LogByte => "log_byte",
            DataCategory::TraceMetric => "trace_metric",
            DataCategory::Feedback => "feedback",
            DataCategory::Unknown => "unknown",
        }
    }

    /// The category a rate-limit header names, or `None` for one this SDK ignores: names it does not know, and
    /// `client_report` and `unknown`, which are never limited on their own.
    pub(crate) fn from_header_name(name: &str) -> Option<DataCategory> {
        DataCategory::ALL.into_iter().find(|c| {
            !matches!(c, DataCategory::ClientReport | DataCategory::Unknown)
                && c.as_str().eq_ignore_ascii_case(name)
        })
    }

    /// The category a client report names, for putting a report's counts back.
    pub(crate) fn from_name(name: &str) -> Option<DataCategory> {
        DataCategory::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_discriminant_order_and_names_are_unique() {
        for (i, category) in DataCategory::ALL.into_iter().enumerate() {
            assert_eq!(category as usize, i, "{category:?}");
            assert_eq!(DataCategory::from_name(category.as_str()), Some(category));
        }
    }

    #[test]
    fn item_types_and_header_names() {
        assert_eq!(DataCategory::from_item_type("event"), DataCategory::Error);
        assert_eq!(
            DataCategory::from_item_type("sessions"),
            DataCategory::Session
        );
        assert_eq!(DataCategory::from_item_type("log"), DataCategory::LogItem);
        assert_eq!(
            DataCategory::from_item_type("nonsense"),
            DataCategory::Unknown
        );
        assert_eq!(
            DataCategory::from_header_name("ERROR"),
            Some(DataCategory::Error)
        );
        assert_eq!(
            DataCategory::from_header_name("log_item"),
            Some(DataCategory::LogItem)
        );
        assert_eq!(DataCategory::from_header_name("client_report"), None);
        assert_eq!(DataCategory::from_header_name("unknown"), None);
    }
}
