//! The worker's share of native crash reporting: at start, the crashes that earlier processes recorded in the spool
//! (see `native_crash`) become fatal events. Each is stored in the spool before its record is deleted, then sent, so
//! a crash is neither lost nor reported twice if this process dies on the way.

use std::time::SystemTime;

use crate::delivery::spool::{Claim, Spool};
use crate::diagnostics::sdk_debug;
use crate::message::PendingEvent;
use crate::native_crash::record;
use crate::native_crash::report;
use crate::protocol::envelope::{Envelope, EnvelopeItem};

use super::processor::Processor;

/// What the crash records in the spool came to.
#[derive(Default)]
pub(crate) struct Reports {
    /// Each crash's envelope, stored in the spool and claimed for sending.
    pub(crate) stored: Vec<(Claim, Envelope)>,
    /// The pid of each process that crashed, and when.
    pub(crate) crashed: Vec<(u32, SystemTime)>,
}

/// The reports of the crashes recorded in `spool`.
pub(crate) fn reports(processor: &Processor, spool: &Spool) -> Reports {
    let mut reports = Reports::default();
    for taken in spool.take_crash_records() {
        let Some(record) = record::parse(&taken.bytes) else {
            sdk_debug!("crash record {} is unreadable; deleted", taken.name);
            taken.done();
            continue;
        };
        // A record that cannot be turned into an event must not stop the worker at every start.
        let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            report::event(&record, &taken.name, |raw| processor.symbolicate(raw))
        }));
        let Ok(event) = built else {
            sdk_debug!(
                "crash record {} could not be read into an event; deleted",
                taken.name
            );
            taken.done();
            continue;
        };
        reports.crashed.push((record.header.pid, event.timestamp.0));
        let id = event.event_id;
        let pending = PendingEvent {
            event,
            trace: None,
            scope: Default::default(),
        };
        // `before_send` may drop it (counted there), which settles the record too.
        // The crashed process's release and environment, even where it had none: not this process's.
        let Some(event) = processor.prepare_foreign(pending) else {
            taken.done();
            continue;
        };
        let envelope = super::batch::envelope(vec![EnvelopeItem::Event(Box::new(event))]);
        match spool.store_claimed(&envelope) {
            Ok((Some(claim), _)) => {
                taken.done();
                reports.stored.push((claim, envelope));
            }
            // Stored but not claimed (another process claimed it first), or refused by the budgets (counted by
            // the spool): either way the record has done its work.
            Ok((None, _)) => taken.done(),
            // The record stays taken; a later start takes it again once this process is gone.
            Err(e) => sdk_debug!("could not store the report of native crash {id}: {e}"),
        }
    }
    reports
}
