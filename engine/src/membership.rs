//! Membership: brokers onboarded by an operator, and the standing of
//! brokers and accounts (active, suspended, closed), which the commands
//! `AddBroker`, `SetBrokerStatus` and `SetAccountStatus` change
//! (`docs/ENGINE.md`, *Membership*).
//!
//! The config lists the brokers a market starts with; an operator adds
//! more while it runs with [`Command::AddBroker`], which journals the
//! broker's name and a salted hash of its secret (never the secret: the
//! gateway hashes it, so the engine needs no randomness). Any broker, from
//! the config or the journal, and any account may then be suspended,
//! reinstated or closed ([`Command::SetBrokerStatus`],
//! [`Command::SetAccountStatus`]):
//!
//! - **Suspended**: new orders are refused (**113** for the broker's
//!   accounts, **114** for the account) and its resting orders are
//!   cancelled in the same command ([`crate::CancelCause::Suspended`]), as an
//!   exchange does when it stops a member or an account from trading: no
//!   order may rest that its owner can no longer manage. Cash and
//!   allowance transfers still go through, so a suspended account can be
//!   settled out.
//! - **Closed**: final. An account closes only when it holds no cash, no
//!   allowances and has no open order (**116**); a broker only when each of
//!   its accounts is closed (**117**). A closed account is refused
//!   everything (**115**); a closed broker's accounts are refused orders and
//!   new accounts (**113**).
//!
//! [`Command::AddBroker`]: crate::Command::AddBroker
//! [`Command::SetBrokerStatus`]: crate::Command::SetBrokerStatus
//! [`Command::SetAccountStatus`]: crate::Command::SetAccountStatus

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::account::BrokerId;
use crate::order::AccountId;
use crate::reject::RejectReason;

/// Where a broker or an account stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Status {
    /// Trading as usual.
    #[default]
    Active = 0,
    /// No new orders; its resting orders were cancelled. Reversible.
    Suspended = 1,
    /// For good.
    Closed = 2,
}

/// A salted hash of a broker's secret: PBKDF2-HMAC-SHA256 of the secret
/// with `salt`, `iterations` rounds. The gateway makes and checks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// PBKDF2 rounds; at least 1.
    pub iterations: u32,
    /// Random bytes drawn for this broker.
    pub salt: [u8; 16],
    /// The derived key.
    pub hash: [u8; 32],
}

/// A broker an operator onboarded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewBroker {
    /// Its id, sent at login; not used by the config or another broker.
    pub broker: BrokerId,
    /// A name for logs and reports: 1 to [`NewBroker::MAX_NAME_LEN`] bytes.
    pub name: String,
    /// What its login secret must hash to.
    pub credential: Credential,
}

impl NewBroker {
    /// The longest broker name, in bytes.
    pub const MAX_NAME_LEN: usize = 64;
}

/// The brokers added by command, and every broker and account that is not
/// [`Status::Active`]. Grows with onboarding (a few a year), not trading.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    /// Brokers added by [`crate::Command::AddBroker`], by id.
    pub brokers: BTreeMap<BrokerId, NewBroker>,
    /// Brokers that are suspended or closed.
    pub broker_status: BTreeMap<BrokerId, Status>,
    /// Accounts that are suspended or closed.
    pub account_status: BTreeMap<AccountId, Status>,
}

impl Membership {
    /// A broker's standing (active unless suspended or closed).
    #[must_use]
    #[inline]
    pub fn broker(&self, broker: BrokerId) -> Status {
        self.broker_status.get(&broker).copied().unwrap_or_default()
    }

    /// An account's standing (active unless suspended or closed).
    #[must_use]
    #[inline]
    pub fn account(&self, account: AccountId) -> Status {
        self.account_status
            .get(&account)
            .copied()
            .unwrap_or_default()
    }

    pub(crate) fn set_broker(&mut self, broker: BrokerId, status: Status) {
        set(&mut self.broker_status, broker, status);
    }

    pub(crate) fn set_account(&mut self, account: AccountId, status: Status) {
        set(&mut self.account_status, account, status);
    }

    /// Why a new order of `account`, acting through `broker`, is refused,
    /// if it is.
    #[inline(always)]
    pub(crate) fn check_order(
        &self,
        account: AccountId,
        broker: BrokerId,
    ) -> Result<(), RejectReason> {
        match self.account(account) {
            Status::Closed => Err(RejectReason::AccountClosed),
            Status::Suspended => Err(RejectReason::AccountSuspended),
            Status::Active => self.check_broker_active(broker),
        }
    }

    /// `AccountClosed` for a closed account: nothing moves in or out.
    pub(crate) fn check_open(&self, account: AccountId) -> Result<(), RejectReason> {
        if self.account(account) == Status::Closed {
            Err(RejectReason::AccountClosed)
        } else {
            Ok(())
        }
    }

    /// `BrokerSuspended` unless the broker is active: its accounts may not
    /// trade, and it may get no new account.
    #[inline]
    pub(crate) fn check_broker_active(&self, broker: BrokerId) -> Result<(), RejectReason> {
        match self.broker(broker) {
            Status::Active => Ok(()),
            Status::Suspended | Status::Closed => Err(RejectReason::BrokerSuspended),
        }
    }
}

/// Keeps only what is not active, so the maps stay as small as the
/// exceptions.
fn set<K: Ord>(map: &mut BTreeMap<K, Status>, key: K, status: Status) {
    if status == Status::Active {
        map.remove(&key);
    } else {
        map.insert(key, status);
    }
}
