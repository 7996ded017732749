//! Finishing: the per-kind step that turns a queued [`Task`] into an envelope item, on the worker.

use crate::message::Task;
use crate::protocol::envelope::EnvelopeItem;
use crate::protocol::item_kind::ItemKind;

use super::processor::Processor;

/// Finishes `task`: an event is merged with its scope and defaults, symbolicated, limited, scrubbed and passed to
/// `before_send`. `None` when a step dropped it (counted where it was dropped).
pub(crate) fn finish(processor: &Processor, task: Task) -> Option<(ItemKind, EnvelopeItem)> {
    match task {
        Task::Event(pending) => {
            let event = processor.prepare(*pending)?;
            Some((ItemKind::Event, EnvelopeItem::Event(Box::new(event))))
        }
    }
}
