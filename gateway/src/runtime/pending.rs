//! Cancels owed at a disconnect that found the engine's queue full: the
//! session marks the broker (atomics only for the config's brokers), and the engine
//! thread cancels its resting orders once the queue has drained.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use cetx_engine::BrokerId;

/// Brokers whose cancel-on-disconnect found the queue full: the engine
/// thread cancels their orders once the queue has drained. Atomics only.
#[derive(Debug)]
pub(super) struct PendingCancels {
    any: AtomicBool,
    brokers: BTreeMap<BrokerId, AtomicBool>,
    /// Brokers added by operators while the server runs: not in the
    /// table above, so kept under a lock (taken at such a disconnect and
    /// by the engine thread only after `any`).
    added: Mutex<BTreeSet<BrokerId>>,
}

impl PendingCancels {
    pub(super) fn new(brokers: impl IntoIterator<Item = BrokerId>) -> Self {
        Self {
            any: AtomicBool::new(false),
            brokers: brokers
                .into_iter()
                .map(|b| (b, AtomicBool::new(false)))
                .collect(),
            added: Mutex::default(),
        }
    }

    pub(super) fn mark(&self, broker: BrokerId) {
        if let Some(flag) = self.brokers.get(&broker) {
            // The broker's flag first: whoever sees `any` sees the flag.
            flag.store(true, Ordering::Release);
        } else {
            self.added
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(broker);
        }
        self.any.store(true, Ordering::Release);
    }

    pub(super) fn take_any(&self) -> bool {
        // A plain load first: this runs on every quiet turn of the engine
        // loop, and is almost always false.
        self.any.load(Ordering::Acquire) && self.any.swap(false, Ordering::AcqRel)
    }

    pub(super) fn take_brokers(&self) -> Vec<BrokerId> {
        let mut brokers: Vec<BrokerId> = self
            .brokers
            .iter()
            .filter(|(_, flag)| flag.swap(false, Ordering::AcqRel))
            .map(|(&broker, _)| broker)
            .collect();
        let added = std::mem::take(&mut *self.added.lock().unwrap_or_else(PoisonError::into_inner));
        brokers.extend(added);
        brokers
    }
}
