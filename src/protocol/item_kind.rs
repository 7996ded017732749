//! [`ItemKind`]: the kinds of envelope item the SDK sends, and the one table of what each kind is on the wire: its
//! `type` header, the data category its rate limits and client reports use, and which kinds may share an envelope.
//!
//! `docs/architecture.md` has the same table with the worker's side of it (how each kind is finished and batched);
//! a new kind of telemetry adds its row here first.

use super::data_category::DataCategory;

/// A kind of envelope item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ItemKind {
    /// An error, message or panic event.
    Event,
    /// A performance transaction with its spans.
    Transaction,
    /// One release-health session update.
    Session,
    /// Release-health session aggregates.
    Sessions,
    /// A container of log records.
    Log,
    /// A container of metric records.
    TraceMetric,
    /// A file attached to an event.
    Attachment,
    /// A cron monitor check-in.
    CheckIn,
    /// User feedback.
    Feedback,
    /// Counts of what the SDK discarded.
    ClientReport,
}

impl ItemKind {
    /// Every kind.
    pub(crate) const ALL: [ItemKind; 10] = [
        ItemKind::Event,
        ItemKind::Transaction,
        ItemKind::Session,
        ItemKind::Sessions,
        ItemKind::Log,
        ItemKind::TraceMetric,
        ItemKind::Attachment,
        ItemKind::CheckIn,
        ItemKind::Feedback,
        ItemKind::ClientReport,
    ];

    /// The kind of an item with this `type` header, or `None` for a type the SDK does not send.
    pub(crate) fn from_item_type(ty: &str) -> Option<ItemKind> {
        ItemKind::ALL
            .into_iter()
            .find(|kind| kind.item_type() == ty)
    }

    /// The item's `type` header.
    pub(crate) fn item_type(self) -> &'static str {
        match self {
            ItemKind::Event => "event",
            ItemKind::Transaction => "transaction",
            ItemKind::Session => "session",
            ItemKind::Sessions => "sessions",
            ItemKind::Log => "log",
            ItemKind::TraceMetric => "trace_metric",
            ItemKind::Attachment => "attachment",
            ItemKind::CheckIn => "check_in",
            ItemKind::Feedback => "feedback",
            ItemKind::ClientReport => "client_report",
        }
    }

    /// The category that rate limits on this kind name, and that client reports count its losses in. A
    /// transaction's spans are also counted as [`DataCategory::Span`]; a log container's records as
    /// [`DataCategory::LogItem`] and their bytes as [`DataCategory::LogByte`].
    pub(crate) fn category(self) -> DataCategory {
        match self {
            ItemKind::Event => DataCategory::Error,
            ItemKind::Transaction => DataCategory::Transaction,
            ItemKind::Session | ItemKind::Sessions => DataCategory::Session,
            ItemKind::Log => DataCategory::LogItem,
            ItemKind::TraceMetric => DataCategory::TraceMetric,
            ItemKind::Attachment => DataCategory::Attachment,
            ItemKind::CheckIn => DataCategory::Monitor,
            ItemKind::Feedback => DataCategory::Feedback,
            ItemKind::ClientReport => DataCategory::ClientReport,
        }
    }

    /// Whether an item of this kind may go in one envelope with an item of `other`: the one place that decides it.
    ///
    /// - A client report rides along with anything but another report.
    /// - An event may carry its attachments and a session update; never a second event or a transaction (Relay
    ///   rejects an envelope with two event-like items).
    /// - Attachments go with their event, and with each other.
    /// - Everything else (a transaction, session aggregates, a log or metric container, a check-in, feedback)
    ///   goes alone, one to an envelope.
    pub(crate) fn may_share_envelope_with(self, other: ItemKind) -> bool {
        use ItemKind::*;
        match (self, other) {
            (ClientReport, ClientReport) => false,
            (ClientReport, _) | (_, ClientReport) => true,
            (Event, Attachment | Session) | (Attachment | Session, Event) => true,
            (Attachment, Attachment) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip_and_match_the_categories_table() {
        for kind in ItemKind::ALL {
            assert_eq!(ItemKind::from_item_type(kind.item_type()), Some(kind));
            // Both tables agree on the category of every type the SDK sends.
            assert_eq!(
                DataCategory::from_item_type(kind.item_type()),
                kind.category(),
                "{kind:?}"
            );
        }
        assert_eq!(ItemKind::from_item_type("replay_event"), None);
    }

    #[test]
    fn sharing_is_symmetric_and_follows_the_table() {
        for a in ItemKind::ALL {
            for b in ItemKind::ALL {
                assert_eq!(
                    a.may_share_envelope_with(b),
                    b.may_share_envelope_with(a),
                    "{a:?} and {b:?}"
                );
            }
            assert_eq!(
                a.may_share_envelope_with(ItemKind::ClientReport),
                a != ItemKind::ClientReport,
                "a report rides with {a:?}"
            );
        }
        assert!(!ItemKind::Event.may_share_envelope_with(ItemKind::Event));
        assert!(!ItemKind::Event.may_share_envelope_with(ItemKind::Transaction));
        assert!(ItemKind::Event.may_share_envelope_with(ItemKind::Attachment));
        assert!(!ItemKind::Log.may_share_envelope_with(ItemKind::Log));
        assert!(!ItemKind::Log.may_share_envelope_with(ItemKind::Event));
        assert!(!ItemKind::CheckIn.may_share_envelope_with(ItemKind::Event));
    }
}
