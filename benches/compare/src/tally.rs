//! A count of the transactions and spans a discarding transport was handed, kept by each SDK's side.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub(crate) struct Tally {
    transactions: AtomicU64,
    spans: AtomicU64,
}

impl Tally {
    pub(crate) const fn new() -> Tally {
        Tally {
            transactions: AtomicU64::new(0),
            spans: AtomicU64::new(0),
        }
    }

    /// Counts one transaction with `spans` child spans.
    pub(crate) fn add(&self, spans: usize) {
        self.transactions.fetch_add(1, Ordering::Relaxed);
        self.spans.fetch_add(spans as u64, Ordering::Relaxed);
    }

    /// Transactions and spans counted so far.
    pub(crate) fn get(&self) -> (u64, u64) {
        (
            self.transactions.load(Ordering::Relaxed),
            self.spans.load(Ordering::Relaxed),
        )
    }
}
