//! Starting a transaction: its ids, its sampling decision by the current client's options, and where it goes when
//! it ends.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use super::handles::Transaction;
use super::records::{
    Clock, SpanCells, SpanSlots, TransactionRecord, TransactionSink, TransactionState,
};
use super::sampler::{self, Decision, SamplingContext};
use crate::hub;
use crate::protocol::propagation::DynamicSamplingContext;
use crate::protocol::{SpanId, TraceId};

/// The trace a new transaction continues, as far as it is known.
#[derive(Clone, Debug, Default)]
pub(crate) struct Parent {
    pub(crate) trace_id: Option<TraceId>,
    pub(crate) span_id: Option<SpanId>,
    pub(crate) sampled: Option<bool>,
    pub(crate) sample_rand: Option<f64>,
    /// The trace's dynamic sampling context, frozen, when it came with one.
    pub(crate) dsc: Option<DynamicSamplingContext>,
}

/// Starts a transaction in a new trace, e.g. `start_transaction("nightly-report", "task")`. Finish it with
/// [`Transaction::finish`]; see [`Transaction`] for the rest.
///
/// Whether it is recorded is decided now, by `traces_sample_rate` or `traces_sampler`; one that is not is counted
/// in client reports now (`sample_rate`, one transaction and its span). With neither option set (the default), or
/// without a client, or with `errors_only`, it records nothing and is never sent or counted. Either way it has a
/// trace id, so errors captured while it is current are linked.
pub fn start_transaction(
    name: impl Into<Cow<'static, str>>,
    op: impl Into<Cow<'static, str>>,
) -> Transaction {
    start(name.into(), op.into(), "custom", Parent::default())
}

/// Starts a transaction named `name` (chosen by `source`: `custom`, `route`, `url`, `task`, …) with operation
/// `op`, continuing `parent`.
pub(crate) fn start(
    name: Cow<'static, str>,
    op: Cow<'static, str>,
    source: &'static str,
    parent: Parent,
) -> Transaction {
    let sample_rand = parent.sample_rand.unwrap_or_else(fastrand::f64);
    let mut decision = Decision {
        sampled: false,
        rate: 0.0,
    };
    // The client is only read here, under the client slot's read lock; a reference is taken for a sampled
    // transaction alone, which needs one to go to when it ends, and for a `traces_sampler`, which is the program's
    // own code and so never runs under the lock (it may use the SDK, while another thread waits to replace the
    // client). An unsampled transaction is counted now and then costs nothing more.
    let mut decided = false;
    let context = SamplingContext {
        name: &name,
        op: &op,
        parent_sampled: parent.sampled,
    };
    let with_sampler = hub::with_client(|client| {
        let options = &client.options;
        if !options.samples_transactions() {
            return None;
        }
        decided = true;
        if options.traces_sampler.is_some() {
            return Some(true);
        }
        decision = sampler::decide(options.traces_sample_rate, None, &context, sample_rand);
        if !decision.sampled {
            client.transaction_sampled_out();
        }
        Some(false)
    })
    .flatten()
    .unwrap_or(false);
    let mut client = None;
    if with_sampler {
        if let Some(c) = hub::client() {
            let options = &c.options;
            decision = sampler::decide(
                options.traces_sample_rate,
                options.traces_sampler.as_ref(),
                &context,
                sample_rand,
            );
            if !decision.sampled {
                c.transaction_sampled_out();
            }
            client = Some(c);
        }
    }
    let sink = if decision.sampled {
        client
            .or_else(hub::client)
            .map(|client| client as Arc<dyn TransactionSink>)
    } else {
        None
    };
    let record = TransactionRecord {
        trace_id: parent.trace_id.unwrap_or_default(),
        span_id: SpanId::new(),
        parent_span_id: parent.span_id,
        op,
        sampled: decision.sampled,
        propagated_sampled: if decided {
            Some(decision.sampled)
        } else {
            parent.sampled
        },
        sample_rate: decision.rate,
        sample_rand,
        incoming_dsc: parent.dsc.map(Box::new),
        head_dsc: std::sync::OnceLock::new(),
        dropped_spans: AtomicU64::new(0),
        sink,
        // An unsampled transaction's times are never read: spare it the clock.
        clock: decision.sampled.then(Clock::start),
        cells: SpanCells::default(),
        state: Mutex::new(TransactionState {
            name,
            source,
            status: None,
            tags: BTreeMap::new(),
            data: serde_json::Map::new(),
            finished: false,
            spans: SpanSlots::default(),
        }),
    };
    Transaction {
        record: Arc::new(record),
    }
}
