//! Cancels owed at a disconnect that found the engine's queue full: the
//! session marks the broker, and the engine thread cancels its resting
//! orders once it has taken the requests queued before ([`Owed`]: the old
//! session's among them), however full others keep the queue. The
//! broker's next login waits for that, as for a queued
//! disconnect's cancels, so that a new session's orders are never among
//! them.
//!
//! Every broker has its flag here, the config's from the start and one an
//! operator added from its first login ([`PendingCancels::flag`]); a
//! session holds its broker's flag, so marking it looks nothing up, the
//! same for both.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use cetx_engine::BrokerId;
use tokio::sync::watch;

/// One broker's owed cancel, if one is owed: who to tell once it is
/// settled (durable and among the broker's reports: a login waits on it,
/// as on a queued disconnect's). One lock for both, so that a mark and a
/// take never cross.
#[derive(Debug, Default)]
pub(super) struct Flag {
    owed: Mutex<Option<watch::Sender<bool>>>,
}

/// Brokers whose cancel-on-disconnect found the queue full: the engine
/// thread cancels their orders once it has taken the requests queued
/// before ([`Owed`]), in broker id order.
#[derive(Debug)]
pub(super) struct PendingCancels {
    any: AtomicBool,
    /// Each broker's flag. The table is locked to add a broker (at its
    /// first login) and by the engine thread only after `any`.
    brokers: RwLock<BTreeMap<BrokerId, Arc<Flag>>>,
}

impl PendingCancels {
    pub(super) fn new(brokers: impl IntoIterator<Item = BrokerId>) -> Self {
        Self {
            any: AtomicBool::new(false),
            brokers: RwLock::new(brokers.into_iter().map(|b| (b, Arc::default())).collect()),
        }
    }

    /// The broker's flag, made at its first call for a broker an operator
    /// added.
    pub(super) fn flag(&self, broker: BrokerId) -> Arc<Flag> {
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

    /// Marks the broker whose flag this is; `settled` is told once its
    /// cancel is settled. It replaces an earlier one still owed, as the
    /// broker's last disconnect replaces the one a login waits for.
    pub(super) fn mark(&self, flag: &Flag, settled: watch::Sender<bool>) {
        // The broker's flag first: whoever sees `any` sees the flag.
        *lock(&flag.owed) = Some(settled);
        self.any.store(true, Ordering::Release);
    }

    pub(super) fn take_any(&self) -> bool {
        // A plain load first: this runs on every quiet turn of the engine
        // loop, and is almost always false.
        self.any.load(Ordering::Acquire) && self.any.swap(false, Ordering::AcqRel)
    }

    /// The marked brokers, in id order, unmarked, each with who to tell
    /// once its cancel is settled.
    pub(super) fn take_brokers(&self) -> Vec<(BrokerId, watch::Sender<bool>)> {
        self.brokers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(|(&broker, flag)| Some((broker, lock(&flag.owed).take()?)))
            .collect()
    }
}

/// Owed cancels the engine thread has taken from [`PendingCancels`]: they
/// go once it has handled every input queued when it took them (the old
/// sessions' requests among them), or found the queue empty, however busy
/// the queue stays: a queue kept full by others does not hold them back.
#[derive(Debug, Default)]
pub(super) struct Owed {
    brokers: Vec<(BrokerId, watch::Sender<bool>)>,
    /// Inputs still to be handled before they go.
    ahead: usize,
}

impl Owed {
    /// After `handled` more inputs: the owed cancels due now, in broker id
    /// order, taking the newly marked brokers when none is owed.
    /// `queued` says how many inputs wait now; it is asked after the
    /// brokers are taken, so that their old sessions' requests, queued
    /// before they were marked, are among them.
    pub(super) fn due(
        &mut self,
        pending: &PendingCancels,
        handled: usize,
        queued: impl FnOnce() -> usize,
    ) -> Vec<(BrokerId, watch::Sender<bool>)> {
        self.ahead = self.ahead.saturating_sub(handled);
        if self.brokers.is_empty() {
            if !pending.take_any() {
                return Vec::new();
            }
            self.brokers = pending.take_brokers();
            self.ahead = queued();
        }
        if self.ahead > 0 {
            return Vec::new();
        }
        std::mem::take(&mut self.brokers)
    }

    /// Every owed cancel, at a shutdown once the queue is drained: those
    /// taken and waiting, then those marked since.
    pub(super) fn all(&mut self, pending: &PendingCancels) -> Vec<(BrokerId, watch::Sender<bool>)> {
        let mut all = std::mem::take(&mut self.brokers);
        if pending.take_any() {
            all.extend(pending.take_brokers());
        }
        all
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
        let (to_7, mut settled_7) = watch::channel(false);
        let (to_5, _) = watch::channel(false);
        pending.mark(&pending.flag(BrokerId(7)), to_7);
        pending.mark(&added, to_5);
        assert!(pending.take_any());
        assert!(!pending.take_any(), "taken once");
        let taken = pending.take_brokers();
        assert_eq!(
            taken.iter().map(|(b, _)| *b).collect::<Vec<_>>(),
            [BrokerId(5), BrokerId(7)]
        );
        assert!(pending.take_brokers().is_empty());
        // The sender taken tells the login waiting.
        taken[1].1.send_replace(true);
        assert!(*settled_7.borrow_and_update());
    }

    #[test]
    fn a_second_disconnect_owed_replaces_the_first_s_login_wait() {
        let pending = PendingCancels::new([BrokerId(7)]);
        let (first, first_settled) = watch::channel(false);
        let (second, mut second_settled) = watch::channel(false);
        pending.mark(&pending.flag(BrokerId(7)), first);
        pending.mark(&pending.flag(BrokerId(7)), second);
        assert!(pending.take_any());
        let taken = pending.take_brokers();
        assert_eq!(taken.len(), 1, "one cancel");
        // The first's sender is gone: nothing waits on it (the login waits
        // on the last disconnect's), and the second's is told.
        assert!(first_settled.has_changed().is_err());
        taken[0].1.send_replace(true);
        assert!(*second_settled.borrow_and_update());
    }

    #[test]
    fn owed_cancels_go_once_the_inputs_queued_before_them_are_handled() {
        let pending = PendingCancels::new([BrokerId(2), BrokerId(7)]);
        let mut owed = Owed::default();
        let brokers = |due: Vec<(BrokerId, _)>| due.into_iter().map(|(b, _)| b).collect::<Vec<_>>();
        assert!(owed.due(&pending, 5, || 0).is_empty(), "none owed");
        pending.mark(&pending.flag(BrokerId(7)), watch::channel(false).0);
        // Three inputs were queued when it was taken: they go first,
        // however many are queued behind them meanwhile.
        assert!(owed.due(&pending, 0, || 3).is_empty());
        // Broker 2 is marked while 7's cancel waits: it waits for the
        // inputs queued when it is taken, after 7's go.
        pending.mark(&pending.flag(BrokerId(2)), watch::channel(false).0);
        assert!(owed.due(&pending, 2, || unreachable!()).is_empty());
        assert_eq!(
            brokers(owed.due(&pending, 1, || unreachable!())),
            [BrokerId(7)]
        );
        assert!(owed.due(&pending, 0, || 1).is_empty());
        assert_eq!(
            brokers(owed.due(&pending, 1, || unreachable!())),
            [BrokerId(2)]
        );
        // At a shutdown, those waiting and those marked since all go.
        pending.mark(&pending.flag(BrokerId(7)), watch::channel(false).0);
        assert!(owed.due(&pending, 0, || 2).is_empty());
        pending.mark(&pending.flag(BrokerId(2)), watch::channel(false).0);
        assert_eq!(brokers(owed.all(&pending)), [BrokerId(7), BrokerId(2)]);
        assert!(owed.all(&pending).is_empty());
        // With nothing queued, an owed cancel goes at once.
        pending.mark(&pending.flag(BrokerId(7)), watch::channel(false).0);
        assert_eq!(brokers(owed.due(&pending, 0, || 0)), [BrokerId(7)]);
        assert!(owed.due(&pending, 0, || 0).is_empty());
    }
}
