//! Finishing: the per-kind step that turns a queued [`Task`] into an envelope item, on the worker.

use crate::chain;
use crate::message::{PendingCrash, PendingError, PendingEvent, Task};
use crate::protocol::envelope::{Envelope, EnvelopeItem};
use crate::protocol::event::Event;
use crate::protocol::item_kind::ItemKind;

use super::processor::Processor;

/// Finishes `task` by its kind: an event is merged with its scope and defaults, symbolicated, scrubbed, limited and
/// passed to `before_send`; a transaction is merged with its scope and defaults, and scrubbed. `None` when a step
/// dropped it (counted where it was dropped).
pub(crate) fn finish(processor: &Processor, task: Task) -> Option<(ItemKind, EnvelopeItem)> {
    match task {
        Task::Event(pending) => event(processor, *pending),
        Task::Error(error) => event(processor, event_of(*error)),
        Task::CheckIn(mut check_in) => {
            processor.fill_check_in(&mut check_in);
            Some((ItemKind::CheckIn, EnvelopeItem::CheckIn(check_in)))
        }
        Task::Feedback(mut event) => {
            processor.fill_feedback(&mut event);
            Some((ItemKind::Feedback, EnvelopeItem::Feedback(event)))
        }
        // Its session's update goes with it: see `crash`.
        Task::Crash(crash) => event(processor, crash.event),
        Task::Transaction(pending) => {
            let transaction = processor.prepare_transaction(*pending)?;
            Some((
                ItemKind::Transaction,
                EnvelopeItem::Transaction(Box::new(transaction)),
            ))
        }
    }
}

/// The envelope of a panic that ended the process's session: its event (unless a step dropped it) and the
/// session's last update, which goes either way.
pub(crate) fn crash(processor: &Processor, crash: PendingCrash) -> Envelope {
    let mut items = Vec::with_capacity(2);
    if let Some((_, item)) = event(processor, crash.event) {
        items.push(item);
    }
    items.push(EnvelopeItem::Session(Box::new(crash.session)));
    super::batch::envelope(items)
}

fn event(processor: &Processor, pending: PendingEvent) -> Option<(ItemKind, EnvelopeItem)> {
    let event = processor.prepare(pending)?;
    Some((ItemKind::Event, EnvelopeItem::Event(Box::new(event))))
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
        exception: chain::exceptions(&chain),
        ..Event::default()
    };
    PendingEvent {
        event,
        trace,
        scope,
    }
}
