//! How many orders each account and each broker has resting in one book,
//! so that the engine can hold every member to its share
//! (`max_orders_per_account`, `max_orders_per_broker`) and no one member
//! can fill the book for everyone. Beside each account's count it keeps
//! the account's id and its broker's place, so that a resting order's
//! slot needs only where its account is kept.

use crate::order::AccountId;

/// One account place's resting orders, and whose they are.
#[derive(Clone, Copy, Debug)]
struct Member {
    resting: u32,
    account: AccountId,
    /// Where its broker is kept ([`crate::account::Accounts::broker_at`]).
    broker_at: u32,
}

const NOBODY: Member = Member {
    resting: 0,
    account: AccountId(0),
    broker_at: 0,
};

/// Resting orders per account and per broker, both by where the
/// [`crate::account::Accounts`] keep them (dense places), so counting an
/// order looks nothing up. Memory grows with the accounts and brokers
/// that have rested an order here, never with the orders.
#[derive(Clone, Debug, Default)]
pub(crate) struct Members {
    by_account: Vec<Member>,
    by_broker: Vec<u32>,
}

impl Members {
    /// Counts one more resting order of `account`, kept at `account_at`,
    /// whose broker is kept at `broker_at`.
    #[inline]
    pub(crate) fn add(&mut self, account_at: u32, account: AccountId, broker_at: u32) {
        let at = account_at as usize;
        if at >= self.by_account.len() {
            self.by_account.resize(at + 1, NOBODY);
        }
        let member = &mut self.by_account[at];
        member.resting += 1;
        member.account = account;
        member.broker_at = broker_at;
        let broker = broker_at as usize;
        if broker >= self.by_broker.len() {
            self.by_broker.resize(broker + 1, 0);
        }
        self.by_broker[broker] += 1;
    }

    /// Counts one resting order fewer of the account kept at `account_at`.
    #[inline]
    pub(crate) fn remove(&mut self, account_at: u32) {
        let member = &mut self.by_account[account_at as usize];
        member.resting -= 1;
        let count = &mut self.by_broker[member.broker_at as usize];
        *count = count.saturating_sub(1);
    }

    /// Orders resting for the account kept at `account_at`.
    #[inline]
    pub(crate) fn of_account(&self, account_at: u32) -> u32 {
        self.by_account
            .get(account_at as usize)
            .map_or(0, |member| member.resting)
    }

    /// The account kept at `account_at`: known once one of its orders has
    /// rested here.
    #[inline]
    pub(crate) fn account(&self, account_at: u32) -> AccountId {
        self.by_account[account_at as usize].account
    }

    /// Orders resting for the accounts of the broker kept at `broker_at`.
    #[inline]
    pub(crate) fn of_broker(&self, broker_at: u32) -> u32 {
        self.by_broker.get(broker_at as usize).copied().unwrap_or(0)
    }

    /// Makes room to count `accounts` accounts and `brokers` brokers, so
    /// that a member's first resting order grows nothing.
    pub(crate) fn reserve(&mut self, accounts: usize, brokers: usize) {
        if self.by_account.len() < accounts {
            self.by_account.resize(accounts, NOBODY);
        }
        if self.by_broker.len() < brokers {
            self.by_broker.resize(brokers, 0);
        }
    }

    /// Forgets every order (the book was emptied).
    pub(crate) fn clear(&mut self) {
        self.by_account.iter_mut().for_each(|m| m.resting = 0);
        self.by_broker.fill(0);
    }
}
