//! Cancels owed at a disconnect that found the engine's queue full: the
//! session marks the broker (atomics only), and the engine thread cancels
//! its resting orders once the queue has drained.
//!
//! Every broker has its flag here, the config's from the start and one an
//! operator added from its first login ([`PendingCancels::flag`]); a
//! session holds its broker's flag, so marking it takes no lock, the same
//! for both.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use cetx_engine::BrokerId;

/// Brokers whose cancel-on-disconnect found the queue full: the engine
/// thread cancels their orders once the queue has drained, in broker id
/// order.
#[derive(Debug)]
pub(super) struct PendingCancels {
    any: AtomicBool,
    /// Each broker's flag. The table is locked to add a broker (at its
    /// first login) and by the engine thread only after `any`.
    brokers: RwLock<BTreeMap<BrokerId, Arc<AtomicBool>>>,
}

impl PendingCancels {
    pub(super) fn new(brokers: impl IntoIterator<Item = BrokerId>) -> Self {
        Self {
            any: AtomicBool::new(false),
            brokers: RwLock::new(
                brokers
                    .into_iter()
                    .map(|b| (b, Arc::new(AtomicBool::new(false))))
                    .collect(),
            ),
        }
    }

    /// The broker's flag, made at its first call for a broker an operator
    /// added.
    pub(super) fn flag(&self, broker: BrokerId) -> Arc<AtomicBool> {
        if let Some(flag) = self
            .brokers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&broker)
        {
            return Arc::clone(flag);
        }
        let mut brokers = self.brokers.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(brokers.entry(broker).or_default())
    }

    /// Marks the broker whose flag this is.
    pub(super) fn mark(&self, flag: &AtomicBool) {
        // The broker's flag first: whoever sees `any` sees the flag.
        flag.store(true, Ordering::Release);
        self.any.store(true, Ordering::Release);
    }

    pub(super) fn take_any(&self) -> bool {
        // A plain load first: this runs on every quiet turn of the engine
        // loop, and is almost always false.
        self.any.load(Ordering::Acquire) && self.any.swap(false, Ordering::AcqRel)
    }

    /// The marked brokers, in id order, unmarked.
    pub(super) fn take_brokers(&self) -> Vec<BrokerId> {
        self.brokers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, flag)| flag.swap(false, Ordering::AcqRel))
            .map(|(&broker, _)| broker)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_added_broker_is_marked_and_taken_like_a_configured_one() {
        let pending = PendingCancels::new([BrokerId(2), BrokerId(7)]);
        assert!(!pending.take_any());
        let added = pending.flag(BrokerId(5));
        assert!(Arc::ptr_eq(&added, &pending.flag(BrokerId(5))), "one flag");
        pending.mark(&pending.flag(BrokerId(7)));
        pending.mark(&added);
        assert!(pending.take_any());
        assert!(!pending.take_any(), "taken once");
        assert_eq!(pending.take_brokers(), [BrokerId(5), BrokerId(7)]);
        assert!(pending.take_brokers().is_empty());
    }
}
