//! How many orders each account and each broker has resting in one book,
//! so that the engine can hold every member to its share
//! (`max_orders_per_account`, `max_orders_per_broker`) and no one member
//! can fill the book for everyone.

use crate::account::{BrokerId, IdTable};

/// Resting orders per account (by where the account is kept) and per
/// broker. Memory grows with the accounts and brokers that have rested an
/// order here, never with the orders. Brokers are counted in an
/// [`IdTable`], so counting an order hashes nothing.
#[derive(Clone, Debug)]
pub(crate) struct Members {
    by_account: Vec<u32>,
    by_broker: IdTable,
}

impl Default for Members {
    fn default() -> Self {
        Self {
            by_account: Vec::new(),
            by_broker: IdTable::new(0),
        }
    }
}

impl Members {
    /// Counts one more resting order.
    #[inline]
    pub(crate) fn add(&mut self, account_at: u32, broker: BrokerId) {
        let at = account_at as usize;
        if at >= self.by_account.len() {
            self.by_account.resize(at + 1, 0);
        }
        self.by_account[at] += 1;
        *self.by_broker.entry(broker.0) += 1;
    }

    /// Counts one resting order fewer.
    #[inline]
    pub(crate) fn remove(&mut self, account_at: u32, broker: BrokerId) {
        self.by_account[account_at as usize] -= 1;
        let count = self.by_broker.entry(broker.0);
        *count = count.saturating_sub(1);
    }

    /// Orders resting for the account kept at `account_at`.
    #[inline]
    pub(crate) fn of_account(&self, account_at: u32) -> u32 {
        self.by_account
            .get(account_at as usize)
            .copied()
            .unwrap_or(0)
    }

    /// Orders resting for the broker's accounts.
    #[inline]
    pub(crate) fn of_broker(&self, broker: BrokerId) -> u32 {
        self.by_broker.get(broker.0)
    }

    /// Makes room to count `accounts` accounts and the brokers `brokers`
    /// names, so that a member's first resting order grows nothing.
    pub(crate) fn reserve(&mut self, accounts: usize, brokers: impl Iterator<Item = BrokerId>) {
        if self.by_account.len() < accounts {
            self.by_account.resize(accounts, 0);
        }
        for broker in brokers {
            // Makes the broker's block; its count stays what it is.
            self.by_broker.entry(broker.0);
        }
    }

    /// Forgets every order (the book was emptied).
    pub(crate) fn clear(&mut self) {
        self.by_account.iter_mut().for_each(|c| *c = 0);
        self.by_broker.reset();
    }
}
