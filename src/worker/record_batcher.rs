//! [`RecordBatcher`]: when the worker takes the records waiting in a lane (log records, metric measurements; see
//! `queue.rs`) and makes them into containers of at most 100.
//!
//! Records wait in their lane itself, so the lane's bound (1,000) is the bound on every record waiting. A container
//! goes when 100 wait, when the oldest has waited 5 seconds (measured from when the worker first saw it, at most one
//! poll after it came), and at `flush` and shutdown.

use std::time::{Duration, Instant};

/// How long a record may wait for company.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(5);

/// When the records waiting in one lane are due.
#[derive(Debug, Default)]
pub(crate) struct RecordBatcher {
    due: Option<Instant>,
}

impl RecordBatcher {
    /// When the worker must wake for the records that wait, if any do.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.due
    }

    /// The containers (at most `per_container` records each) to send now, of the `waiting` records that `pop`
    /// takes from the lane and `prepare` finishes (or drops): every full one, and with `all` (a flush or shutdown)
    /// or once due, the rest. Only the records waiting when it is called are taken, so a stream of new ones cannot
    /// keep the worker here.
    pub(crate) fn take<T, I>(
        &mut self,
        waiting: usize,
        per_container: usize,
        mut pop: impl FnMut() -> Option<T>,
        mut prepare: impl FnMut(T) -> Option<I>,
        now: Instant,
        all: bool,
    ) -> Vec<Vec<I>> {
        let mut containers = Vec::new();
        let mut waiting = waiting;
        if waiting == 0 {
            self.due = None;
            return containers;
        }
        let per_container = per_container.max(1);
        let due = *self.due.get_or_insert(now + MAX_WAIT);
        while waiting > 0 && (waiting >= per_container || all || now >= due) {
            let take = waiting.min(per_container);
            waiting -= take;
            let items: Vec<I> = (0..take)
                .map_while(|_| pop())
                .filter_map(&mut prepare)
                .collect();
            if take < per_container {
                // The oldest went with this container.
                self.due = None;
            }
            if !items.is_empty() {
                containers.push(items);
            }
        }
        containers
    }

    /// After a take: the records left (`left` of them) wait from `now` if no older one does.
    pub(crate) fn settle(&mut self, left: usize, now: Instant) {
        if left > 0 {
            self.due.get_or_insert(now + MAX_WAIT);
        } else {
            self.due = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_containers_go_at_once_the_rest_when_due_or_flushed() {
        let now = Instant::now();
        let mut lane: Vec<u32> = (0..250).collect();
        lane.reverse();
        let mut batcher = RecordBatcher::default();
        let take = |batcher: &mut RecordBatcher, lane: &mut Vec<u32>, at: Instant, all: bool| {
            let waiting = lane.len();
            let taken = batcher.take(
                waiting,
                100,
                || lane.pop(),
                |n| (n % 7 != 3).then_some(n),
                at,
                all,
            );
            batcher.settle(lane.len(), at);
            taken.iter().map(Vec::len).collect::<Vec<_>>()
        };
        assert_eq!(
            take(&mut batcher, &mut lane, now, false),
            [86, 85],
            "two full ones, the dropped left out"
        );
        assert_eq!(batcher.next_due(), Some(now + MAX_WAIT));
        assert!(take(&mut batcher, &mut lane, now + Duration::from_secs(4), false).is_empty());
        assert_eq!(take(&mut batcher, &mut lane, now + MAX_WAIT, false), [43]);
        assert_eq!(batcher.next_due(), None);
        lane.push(1);
        assert_eq!(
            take(&mut batcher, &mut lane, now, true),
            [1],
            "a flush takes it"
        );
    }
}
