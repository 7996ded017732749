//! What a transaction and its spans record while they run, shared between their handles: the ids, the sampling
//! decision, and the data behind the transaction's own lock (never a global one). The handles are in `handles.rs`.
//!
//! A transaction keeps its spans' data itself, one slot each, so that a span costs no allocation of its own:
//! starting one takes the transaction's lock once to add a slot, and a span handle is the transaction's reference
//! and the slot's number. Finishing a span and dropping its handles take no lock: each slot has a cell of atomics
//! beside it (its end, and how many handles it has), in chunks that never move. The transaction closes the slots
//! still open when it finishes. A record ends when it is finished, or when its last reference goes: a span's
//! references are its handles (and the scopes it is current in); a transaction's are its handles, scopes, and its
//! spans. One that ends that way ends as `cancelled`.
//!
//! Times: a sampled transaction reads the wall clock once, at its start, the monotonic clock at its start and
//! finish, and the ticks of `ticks.rs` at both; its spans read only the ticks (7.5 ns a reading where they are the
//! time-stamp counter, against 17 ns for the monotonic clock). When it finishes, the ticks between its own two
//! readings become times by the monotonic time between them. A step of the wall clock while a transaction runs
//! therefore cannot put a span's end before its start.
//!
//! Memory: the slots are made on the program's threads and read on the worker; the worker hands the emptied chunks
//! of slots back for later transactions to fill (a few of them are kept), because memory freed across threads that
//! way made the allocator give it back to the system and fault it in again, about a third of a span's cost under
//! `perf`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender};

use super::ticks;

use crate::protocol::propagation::DynamicSamplingContext;
use crate::protocol::{SpanId, SpanStatus, Timestamp, TraceContext, TraceId};
use crate::sync::lock;

/// The most spans a transaction records; later ones are dropped and counted (as Sentry's SDKs do, at 1000).
pub(crate) const MAX_SPANS: usize = 1000;

/// Spans per chunk: a transaction allocates a chunk of slots and a chunk of cells per this many spans.
const CHUNK: usize = 128;

/// Chunks a transaction can have: enough for [`MAX_SPANS`].
const CHUNKS: usize = MAX_SPANS.div_ceil(CHUNK);

/// How a span ended, in the low two bits of its cell's `end`; a cell whose `end` is 0 is still open.
const OPEN: u64 = 0;
/// By [`Span::finish`](crate::Span::finish): `ok` unless another status was set.
const FINISHED: u64 = 1;
/// When its last handle went: `cancelled` unless another status was set.
const CANCELLED: u64 = 2;
/// By its transaction, which finished first: `deadline_exceeded` unless another status was set.
const CLOSED: u64 = 3;

/// Where a finished transaction goes: the client that started it, which queues it for the worker with the scope of
/// the thread that finished it (implemented in `hub.rs`, so that this module never sees the client).
pub(crate) trait TransactionSink: Send + Sync {
    /// Takes a sampled transaction that has ended.
    fn send(&self, transaction: FinishedTransaction);
}

/// A sampled transaction's clock: its start by the wall clock, the monotonic clock and the ticks. Times within it
/// are ticks since its start, which become wall-clock times when it finishes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    wall: SystemTime,
    monotonic: Instant,
    ticks: u64,
}

impl Clock {
    /// A clock that starts now.
    pub(crate) fn start() -> Self {
        Clock {
            wall: SystemTime::now(),
            monotonic: Instant::now(),
            ticks: ticks::now(),
        }
    }

    /// The ticks since the start (none for a reading before it, which another CPU's counter could give), at most
    /// what fits in a cell's `end` beside its two bits.
    fn now(&self) -> u64 {
        ticks::now().saturating_sub(self.ticks).min(u64::MAX >> 2)
    }

    /// Reads the clock again, at the transaction's end, to turn ticks into times.
    fn stop(&self) -> Times {
        let nanos = u64::try_from(self.monotonic.elapsed().as_nanos()).unwrap_or(u64::MAX);
        Times {
            clock: *self,
            nanos,
            ticks: self.now(),
        }
    }
}

/// A finished transaction's clock: how many nanoseconds and ticks passed from its start to its end.
struct Times {
    clock: Clock,
    nanos: u64,
    ticks: u64,
}

impl Times {
    /// The wall-clock time `since` ticks after the start, within the transaction (a reading from after its end is
    /// its end).
    fn at(&self, since: u64) -> Timestamp {
        let since = since.min(self.ticks);
        let nanos = (u128::from(since) * u128::from(self.nanos))
            .checked_div(u128::from(self.ticks))
            .map_or(0, |nanos| u64::try_from(nanos).unwrap_or(self.nanos));
        self.after(nanos)
    }

    /// The transaction's end.
    fn end(&self) -> Timestamp {
        self.after(self.nanos)
    }

    fn after(&self, nanos: u64) -> Timestamp {
        let wall = self.clock.wall;
        Timestamp(
            wall.checked_add(Duration::from_nanos(nanos))
                .unwrap_or(wall),
        )
    }
}

/// The part of a recorded span's slot that its handles use without the transaction's lock.
#[derive(Debug, Default)]
struct SpanCell {
    /// [`OPEN`] while it runs; then when it ended (in ticks) shifted left by two, with how it ended ([`FINISHED`],
    /// [`CANCELLED`], [`CLOSED`]) in the low two bits.
    end: AtomicU64,
    /// How many handles of it there are; the last one to go ends it as `cancelled`. 64 bits, so that no number of
    /// clones can wrap it.
    handles: AtomicU64,
}

/// A transaction's span cells, by slot, in chunks allocated as its spans start and freed with it, so a cell's
/// address holds while any handle of its span lives.
#[derive(Debug, Default)]
pub(crate) struct SpanCells([OnceLock<Box<[SpanCell; CHUNK]>>; CHUNKS]);

impl SpanCells {
    /// The cell of slot `slot`, if its chunk was made.
    fn get(&self, slot: usize) -> Option<&SpanCell> {
        self.0
            .get(slot / CHUNK)?
            .get()
            .map(|chunk| &chunk[slot % CHUNK])
    }

    /// The cell of slot `slot`, making its chunk if needed; `None` past [`MAX_SPANS`].
    fn make(&self, slot: usize) -> Option<&SpanCell> {
        let chunk = self.0.get(slot / CHUNK)?;
        Some(
            &chunk.get_or_init(|| Box::new(std::array::from_fn(|_| SpanCell::default())))
                [slot % CHUNK],
        )
    }
}

/// A transaction being recorded.
pub(crate) struct TransactionRecord {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: Option<SpanId>,
    /// The operation, fixed at the start.
    pub(crate) op: Cow<'static, str>,
    /// Whether it is recorded and sent; an unsampled transaction records nothing.
    pub(crate) sampled: bool,
    /// The decision outgoing trace headers carry: this one's, when one was made (performance monitoring is on);
    /// else that of the trace it continues, if known; else none, and the next service decides for itself.
    pub(crate) propagated_sampled: Option<bool>,
    /// The rate it was sampled at, and the trace's random number, for the dynamic sampling context.
    pub(crate) sample_rate: f64,
    pub(crate) sample_rand: f64,
    /// The dynamic sampling context that came with the trace it continues, frozen.
    pub(crate) incoming_dsc: Option<Box<DynamicSamplingContext>>,
    /// The dynamic sampling context this transaction made as the head of its trace, frozen when it first left
    /// (in an outgoing request's `baggage`), so the envelope header carries the same even after a `set_name`.
    pub(crate) head_dsc: OnceLock<DynamicSamplingContext>,
    /// Spans it could not record (past [`MAX_SPANS`]): counted when it finishes.
    pub(crate) dropped_spans: AtomicU64,
    /// Where it goes when it ends; `None` when it is not sampled.
    pub(crate) sink: Option<Arc<dyn TransactionSink>>,
    /// Its clock, started with it; `None` when it is not sampled (its times are never read).
    pub(crate) clock: Option<Clock>,
    /// Its spans' cells, beside their slots in `state.spans`.
    pub(crate) cells: SpanCells,
    pub(crate) state: Mutex<TransactionState>,
}

/// A transaction's data, behind its lock.
#[derive(Debug)]
pub(crate) struct TransactionState {
    pub(crate) name: Cow<'static, str>,
    /// How the name was chosen (`custom`, `route`, `url`, `task`, …), for the server's grouping and sampling.
    pub(crate) source: &'static str,
    pub(crate) status: Option<SpanStatus>,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) data: serde_json::Map<String, serde_json::Value>,
    pub(crate) finished: bool,
    /// Its spans, in the order they started; a span's slot is its place here.
    pub(crate) spans: SpanSlots,
}

/// A transaction's span slots in the order they started, in chunks of [`CHUNK`], so that adding one never moves
/// the others (a `Vec` of hundreds of spans grew by copying them all), and so that emptied chunks can be used again
/// ([`SpanSlots::drain`]).
#[derive(Debug, Default)]
pub(crate) struct SpanSlots {
    chunks: Vec<Vec<SpanSlot>>,
    len: usize,
}

impl SpanSlots {
    /// How many there are.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds one at slot `len()`.
    fn push(&mut self, slot: SpanSlot) {
        if self.len % CHUNK == 0 {
            let chunk = spare_chunks().1.try_recv().unwrap_or_else(|_| {
                // Fresh memory is written once now, so that this span pays for its page faults instead of one
                // span in every few dozen after it.
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk
                    .spare_capacity_mut()
                    .fill_with(std::mem::MaybeUninit::zeroed);
                chunk
            });
            self.chunks.push(chunk);
        }
        if let Some(chunk) = self.chunks.last_mut() {
            chunk.push(slot);
            self.len += 1;
        }
    }

    /// Slot `slot`.
    fn get_mut(&mut self, slot: usize) -> Option<&mut SpanSlot> {
        self.chunks.get_mut(slot / CHUNK)?.get_mut(slot % CHUNK)
    }

    /// Each slot, in order.
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut SpanSlot> {
        self.chunks.iter_mut().flatten()
    }

    /// Hands each slot to `each`, in order, and the emptied chunks back for later transactions (up to
    /// [`SPARE_CHUNKS`] wait; the rest are freed).
    pub(crate) fn drain(self, mut each: impl FnMut(SpanSlot)) {
        let spare = &spare_chunks().0;
        for mut chunk in self.chunks {
            chunk.drain(..).for_each(&mut each);
            if chunk.capacity() == CHUNK {
                let _ = spare.try_send(chunk);
            }
        }
    }
}

/// The most emptied chunks of span slots kept for later transactions: 160 KB, the slots of two transactions of
/// 500 spans.
const SPARE_CHUNKS: usize = 8;

/// A channel of emptied chunks of span slots: both its ends.
type Spare = (Sender<Vec<SpanSlot>>, Receiver<Vec<SpanSlot>>);

/// Emptied chunks of span slots, waiting to be filled again.
fn spare_chunks() -> &'static Spare {
    static SPARE: OnceLock<Spare> = OnceLock::new();
    SPARE.get_or_init(|| crossbeam_channel::bounded(SPARE_CHUNKS))
}

/// One span's data, kept by its transaction.
#[derive(Clone, Debug)]
pub(crate) struct SpanSlot {
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    pub(crate) op: Cow<'static, str>,
    pub(crate) description: Option<Cow<'static, str>>,
    pub(crate) status: Option<SpanStatus>,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) data: serde_json::Map<String, serde_json::Value>,
    /// When it started, in ticks since its transaction's start.
    pub(crate) start_ticks: u64,
    /// When it started: the Unix epoch while its transaction runs, the time once it has finished.
    pub(crate) start: Timestamp,
    /// When it ended: `None` until its transaction finishes (its cell has the end until then).
    pub(crate) end: Option<Timestamp>,
}

/// A handle of a span being recorded, inside a transaction. Cloning it counts one more handle in the span's
/// cell; dropping the last one ends the span as `cancelled` if it had not ended.
#[derive(Debug)]
pub(crate) struct SpanRecord {
    pub(crate) transaction: Arc<TransactionRecord>,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    /// The operation, fixed at the start; events captured while the span is current name it.
    pub(crate) op: Cow<'static, str>,
    /// Its slot in the transaction; `None` when it is not recorded (its transaction is not sampled, or was full
    /// or finished when it started).
    pub(crate) slot: Option<usize>,
}

/// A transaction as it ended, on its way to the worker.
#[derive(Debug)]
pub(crate) struct FinishedTransaction {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: Option<SpanId>,
    pub(crate) sample_rate: f64,
    pub(crate) sample_rand: f64,
    /// The dynamic sampling context that came with the trace it continues, or that it made as the head of its
    /// trace and passed on, frozen.
    pub(crate) incoming_dsc: Option<Box<DynamicSamplingContext>>,
    pub(crate) name: Cow<'static, str>,
    pub(crate) op: Cow<'static, str>,
    pub(crate) source: &'static str,
    pub(crate) status: SpanStatus,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) data: serde_json::Map<String, serde_json::Value>,
    pub(crate) start: Timestamp,
    pub(crate) end: Timestamp,
    /// Its spans, every one ended.
    pub(crate) spans: SpanSlots,
    /// Spans it could not record (past [`MAX_SPANS`]).
    pub(crate) dropped_spans: u64,
}

impl TransactionRecord {
    /// Starts a child span of this transaction under `parent`; it is recorded if the transaction is sampled and
    /// has room.
    pub(crate) fn start_child(
        self: &Arc<Self>,
        parent: SpanId,
        op: Cow<'static, str>,
        description: Option<Cow<'static, str>>,
    ) -> SpanRecord {
        let span_id = SpanId::new();
        let mut slot = None;
        if let Some(clock) = &self.clock {
            let start_ticks = clock.now();
            let mut state = lock(&self.state);
            let next = state.spans.len();
            let cell = (!state.finished && next < MAX_SPANS)
                .then(|| self.cells.make(next))
                .flatten();
            if let Some(cell) = cell {
                cell.handles.store(1, Ordering::Relaxed);
                slot = Some(next);
                state.spans.push(SpanSlot {
                    span_id,
                    parent_span_id: parent,
                    op: op.clone(),
                    description,
                    status: None,
                    tags: BTreeMap::new(),
                    data: serde_json::Map::new(),
                    start_ticks,
                    start: Timestamp(std::time::UNIX_EPOCH),
                    end: None,
                });
            } else {
                drop(state);
                self.dropped_spans.fetch_add(1, Ordering::Relaxed);
            }
        }
        SpanRecord {
            transaction: Arc::clone(self),
            span_id,
            parent_span_id: parent,
            op,
            slot,
        }
    }

    /// Ends the transaction now, with `status` unless one was set, and hands it to its sink to be sent. Does
    /// nothing if it had ended already, or is not sampled (it was counted when it started).
    pub(crate) fn end(&self, status: SpanStatus) {
        let (Some(sink), Some(clock)) = (&self.sink, &self.clock) else {
            return;
        };
        if let Some(finished) = self.take(clock, status) {
            sink.send(finished);
        }
    }

    /// Ends the transaction now, with `status` unless one was set: closes the spans still open (status
    /// `deadline_exceeded`, ending with it) and takes what it recorded. `None` when it had ended already.
    fn take(&self, clock: &Clock, status: SpanStatus) -> Option<FinishedTransaction> {
        let mut state = lock(&self.state);
        if state.finished {
            return None;
        }
        state.finished = true;
        let times = clock.stop();
        let mut spans = std::mem::take(&mut state.spans);
        let closed = (clock.now() << 2) | CLOSED;
        for (slot, span) in spans.iter_mut().enumerate() {
            // An open span is closed now; one that ended keeps its end. The cell is not read again, so a span
            // ending on another thread meanwhile changes nothing. (Every slot has a cell: it was made first.)
            let ended = match self
                .cells
                .get(slot)
                .map(|cell| cell.end.swap(closed, Ordering::AcqRel))
            {
                Some(OPEN) | None => closed,
                Some(ended) => ended,
            };
            span.start = times.at(span.start_ticks);
            span.end = Some(times.at(ended >> 2).max(span.start));
            span.status.get_or_insert(match ended & 3 {
                FINISHED => SpanStatus::Ok,
                CANCELLED => SpanStatus::Cancelled,
                _ => SpanStatus::DeadlineExceeded,
            });
        }
        Some(FinishedTransaction {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            sample_rate: self.sample_rate,
            sample_rand: self.sample_rand,
            incoming_dsc: self
                .incoming_dsc
                .clone()
                .or_else(|| self.head_dsc.get().cloned().map(Box::new)),
            name: std::mem::take(&mut state.name),
            op: self.op.clone(),
            source: state.source,
            status: state.status.unwrap_or(status),
            tags: std::mem::take(&mut state.tags),
            data: std::mem::take(&mut state.data),
            start: times.at(0),
            end: times.end(),
            spans,
            dropped_spans: self.dropped_spans.load(Ordering::Relaxed),
        })
    }

    /// The trace context of the transaction's own span.
    pub(crate) fn trace_context(&self) -> TraceContext {
        let mut context = TraceContext::new(self.trace_id, self.span_id);
        context.parent_span_id = self.parent_span_id;
        context.op = Some(self.op.to_string());
        context
    }
}

impl SpanRecord {
    /// Its cell, when it is recorded.
    fn cell(&self) -> Option<&SpanCell> {
        self.transaction.cells.get(self.slot?)
    }

    /// Changes the span's data in its slot, while it runs and is recorded.
    pub(crate) fn update(&self, change: impl FnOnce(&mut SpanSlot)) {
        let (Some(slot), Some(cell)) = (self.slot, self.cell()) else {
            return;
        };
        let mut state = lock(&self.transaction.state);
        if cell.end.load(Ordering::Acquire) == OPEN {
            if let Some(span) = state.spans.get_mut(slot) {
                change(span);
            }
        }
    }

    /// Ends the span now, `how` ([`FINISHED`] or [`CANCELLED`]) saying which status it takes unless one was set.
    /// Does nothing if it had ended already, or is not recorded, or its transaction has ended (which closed it).
    fn end(&self, how: u64) {
        let (Some(cell), Some(clock)) = (self.cell(), &self.transaction.clock) else {
            return;
        };
        // No read-modify-write: two handles that finish it at once both write an end, and either is right; its
        // transaction swaps the cell when it finishes and reads it no more.
        if cell.end.load(Ordering::Acquire) == OPEN {
            cell.end.store((clock.now() << 2) | how, Ordering::Release);
        }
    }

    /// Ends the span now, with status `ok` unless one was set. Later calls do nothing.
    pub(crate) fn finish(&self) {
        self.end(FINISHED);
    }

    /// The trace context of this span.
    pub(crate) fn trace_context(&self) -> TraceContext {
        let mut context = TraceContext::new(self.transaction.trace_id, self.span_id);
        context.parent_span_id = Some(self.parent_span_id);
        context.op = Some(self.op.to_string());
        context
    }
}

impl Clone for SpanRecord {
    fn clone(&self) -> Self {
        if let Some(cell) = self.cell() {
            // As `Arc::clone`: a new handle comes from a live one, so nothing needs ordering here.
            cell.handles.fetch_add(1, Ordering::Relaxed);
        }
        SpanRecord {
            transaction: Arc::clone(&self.transaction),
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            op: self.op.clone(),
            slot: self.slot,
        }
    }
}

impl std::fmt::Debug for TransactionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionRecord")
            .field("trace_id", &self.trace_id)
            .field("span_id", &self.span_id)
            .field("sampled", &self.sampled)
            .finish_non_exhaustive()
    }
}

impl Drop for TransactionRecord {
    fn drop(&mut self) {
        let finished = self.state.get_mut().map_or(true, |state| state.finished);
        if !finished {
            self.end(SpanStatus::Cancelled);
        }
    }
}

impl Drop for SpanRecord {
    fn drop(&mut self) {
        let Some(cell) = self.cell() else {
            return;
        };
        // The only handle left is this one when the count is 1, and no other can appear (a handle comes from a
        // handle), so it needs no read-modify-write; else as `Arc`'s drop, where the last handle sees every other
        // handle's writes before it ends the span.
        let last = cell.handles.load(Ordering::Acquire) == 1
            || cell.handles.fetch_sub(1, Ordering::Release) == 1;
        if last {
            fence(Ordering::Acquire);
            self.end(CANCELLED);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(nanos: u64, ticks: u64) -> Times {
        let clock = Clock {
            wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            monotonic: Instant::now(),
            ticks: 12_345,
        };
        Times {
            clock,
            nanos,
            ticks,
        }
    }

    fn since_start(times: &Times, at: Timestamp) -> Duration {
        at.0.duration_since(times.clock.wall).unwrap()
    }

    #[test]
    fn ticks_become_times_in_proportion_within_the_transaction() {
        // 3 ticks a nanosecond, over 40 ms.
        let t = times(40_000_000, 120_000_000);
        assert_eq!(since_start(&t, t.at(0)), Duration::ZERO);
        assert_eq!(since_start(&t, t.at(30_000_000)), Duration::from_millis(10));
        assert_eq!(
            since_start(&t, t.at(120_000_000)),
            Duration::from_millis(40)
        );
        // A reading after the end is the end.
        assert_eq!(t.at(u64::MAX >> 2), t.end());
        assert_eq!(since_start(&t, t.end()), Duration::from_millis(40));
    }

    #[test]
    fn degenerate_clocks_give_times_within_the_transaction() {
        // No ticks passed (a counter that stood still or went back): every time is the start.
        let t = times(5_000, 0);
        assert_eq!(since_start(&t, t.at(1_000)), Duration::ZERO);
        // The largest values a cell holds, and the most nanoseconds: no overflow, and the end is the end.
        let t = times(u64::MAX, u64::MAX >> 2);
        assert_eq!(t.at(u64::MAX >> 2), t.end());
        assert!(t.at(u64::MAX >> 3) <= t.end());
        // A wall clock so late that the end does not fit stays at the start rather than failing.
        let mut t = times(2_000, 2_000);
        t.clock.wall = SystemTime::UNIX_EPOCH
            .checked_add(Duration::new(i64::MAX as u64, 999_999_000))
            .unwrap();
        assert_eq!(t.at(2_000), Timestamp(t.clock.wall));
    }
}
