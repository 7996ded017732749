//! Finishing: the per-kind step that turns a queued [`Task`] into an envelope item, on the worker.

use crate::chain;
use crate::message::{PendingError, PendingEvent, Task};
use crate::protocol::envelope::EnvelopeItem;
use crate::protocol::event::Event;
use crate::protocol::item_kind::ItemKind;

use super::processor::Processor;

/// Finishes `task`: an event is merged with its scope and defaults, symbolicated, scrubbed, limited and passed to
/// `before_send`. `None` when a step dropped it (counted where it was dropped).
pub(crate) fn finish(processor: &Processor, task: Task) -> Option<(ItemKind, EnvelopeItem)> {
    let event = processor.prepare(pending_event(task))?;
    Some((ItemKind::Event, EnvelopeItem::Event(Box::new(event))))
}

/// The event a task carries, before the processor: as queued, or built from an error's compact form. A shutdown
/// that spools what the worker left uses it too.
pub(crate) fn pending_event(task: Task) -> PendingEvent {
    match task {
        Task::Event(pending) => *pending,
        Task::Error(error) => event_of(*error),
    }
}

/// The event of an error captured in its compact form: its exceptions from the chain, the rest as for any event.
fn event_of(error: PendingError) -> PendingEvent {
    let PendingError {
        event_id,
        timestamp,
        chain,
        trace,
        scope,
    } = error;
    let event = Event {
        event_id,
        timestamp,
        exception: chain::exceptions(chain),
        ..Event::default()
    };
    PendingEvent {
        event,
        trace,
        scope,
    }
}
