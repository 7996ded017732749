//! [`LogBatcher`]: when the worker takes the log records waiting in their lane (see `queue.rs`) and makes them into
//! `log` containers.
//!
//! Records wait in the lane itself, so the lane's bound (1,000) is the bound on every record waiting. A container
//! goes when 100 wait, when the oldest has waited 5 seconds (measured from when the worker first saw it, at most one
//! poll after it came), and at `flush` and shutdown.

use std::time::{Duration, Instant};

use super::batch::envelope;
use super::processor::Processor;
use crate::protocol::envelope::{Envelope, EnvelopeItem};
use crate::protocol::log::{LogContainer, MAX_LOGS_PER_ITEM};
use crate::queue::WorkerEnd;

/// How long a record may wait for company.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(5);

/// When the waiting records are due.
#[derive(Debug, Default)]
pub(crate) struct LogBatcher {
    due: Option<Instant>,
}

impl LogBatcher {
    /// When the worker must wake for the records that wait, if any do.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.due
    }

    /// The containers to send now: every full one, and with `all` (a flush or shutdown) or once due, the rest.
    /// Only the records waiting when it is called are taken, so a stream of new ones cannot keep the worker here.
    /// Records that `before_send_log` drops are counted by the processor.
    pub(crate) fn take(
        &mut self,
        lane: &WorkerEnd,
        processor: &Processor,
        now: Instant,
        all: bool,
    ) -> Vec<Envelope> {
        let mut envelopes = Vec::new();
        let mut waiting = lane.logs_len();
        if waiting == 0 {
            self.due = None;
            return envelopes;
        }
        let due = *self.due.get_or_insert(now + MAX_WAIT);
        while waiting > 0 && (waiting >= MAX_LOGS_PER_ITEM || all || now >= due) {
            let take = waiting.min(MAX_LOGS_PER_ITEM);
            waiting -= take;
            let items: Vec<_> = (0..take)
                .map_while(|_| lane.pop_log())
                .filter_map(|pending| processor.prepare_log(pending))
                .collect();
            if take < MAX_LOGS_PER_ITEM {
                // The oldest went with this container.
                self.due = None;
            }
            if !items.is_empty() {
                envelopes.push(envelope(vec![EnvelopeItem::Logs(LogContainer { items })]));
            }
        }
        if lane.logs_len() > 0 {
            self.due.get_or_insert(now + MAX_WAIT);
        } else {
            self.due = None;
        }
        envelopes
    }
}
