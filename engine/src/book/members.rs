//! How many orders each account and each broker has resting in one book,
//! so that the engine can hold every member to its share
//! (`max_orders_per_account`, `max_orders_per_broker`) and no one member
//! can fill the book for everyone.

use rustc_hash::FxHashMap;

use crate::account::BrokerId;

/// Resting orders per account (by where the account is kept) and per
/// broker. Memory grows with the accounts and brokers that have rested an
/// order here, never with the orders.
#[derive(Clone, Debug, Default)]
pub(crate) struct Members {
    by_account: Vec<u32>,
    by_broker: FxHashMap<BrokerId, u32>,
}

impl Members {
    /// Counts one more resting order.
    pub(crate) fn add(&mut self, account_at: u32, broker: BrokerId) {
        let at = account_at as usize;
        if at >= self.by_account.len() {
            self.by_account.resize(at + 1, 0);
        }
        self.by_account[at] += 1;
        *self.by_broker.entry(broker).or_default() += 1;
    }

    /// Counts one resting order fewer.
    pub(crate) fn remove(&mut self, account_at: u32, broker: BrokerId) {
        self.by_account[account_at as usize] -= 1;
        if let Some(count) = self.by_broker.get_mut(&broker) {
            *count -= 1;
        }
    }

    /// Orders resting for the account kept at `account_at`.
    pub(crate) fn of_account(&self, account_at: u32) -> u32 {
        self.by_account
            .get(account_at as usize)
            .copied()
            .unwrap_or(0)
    }

    /// Orders resting for the broker's accounts.
    pub(crate) fn of_broker(&self, broker: BrokerId) -> u32 {
        self.by_broker.get(&broker).copied().unwrap_or(0)
    }

    /// Forgets every order (the book was emptied).
    pub(crate) fn clear(&mut self) {
        self.by_account.iter_mut().for_each(|c| *c = 0);
        self.by_broker.values_mut().for_each(|c| *c = 0);
    }
}
