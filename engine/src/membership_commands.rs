//! The engine's membership commands: brokers added, and the standing of
//! brokers and accounts changed ([`crate::membership`] holds what they
//! change, and the rules).

use crate::account::BrokerId;
use crate::command::Command;
use crate::engine::Engine;
use crate::event::{AccountStatusChanged, BrokerAdded, BrokerStatusChanged, CancelCause, Event};
use crate::membership::{Membership, NewBroker, Status};
use crate::order::{AccountId, OrderId, Side};
use crate::reject::RejectReason;

impl Membership {
    /// Follows one journal entry the engine applied: what a reader of the
    /// journal (the gateway's login check) keeps of the membership without
    /// an engine.
    pub fn observe(&mut self, command: &Command, events: &[Event]) {
        for event in events {
            match (event, command) {
                (Event::BrokerAdded(_), Command::AddBroker(broker)) => {
                    self.brokers.insert(broker.broker, (**broker).clone());
                }
                (Event::BrokerStatusChanged(e), _) => self.set_broker(e.broker, e.status),
                (Event::AccountStatusChanged(e), _) => self.set_account(e.account, e.status),
                _ => {}
            }
        }
    }
}

/// The change from `from` to `to` is allowed: a real change, and not out
/// of closed.
const fn check_change(from: Status, to: Status) -> Result<(), RejectReason> {
    if from as u8 == to as u8 || matches!(from, Status::Closed) {
        Err(RejectReason::InvalidStatusChange)
    } else {
        Ok(())
    }
}

impl Engine {
    /// Every broker added by command and every standing that is not
    /// active.
    #[must_use]
    pub const fn membership(&self) -> &Membership {
        &self.membership
    }

    pub(crate) fn add_broker(
        &mut self,
        broker: &NewBroker,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        if broker.name.is_empty()
            || broker.name.len() > NewBroker::MAX_NAME_LEN
            || broker.credential.iterations == 0
        {
            return Err(RejectReason::InvalidBroker);
        }
        // An id once used, added or suspended or closed, is never reused.
        let id = broker.broker;
        if self.membership.brokers.contains_key(&id)
            || self.membership.broker_status.contains_key(&id)
            || self.accounts.iter().any(|a| a.broker == id)
        {
            return Err(RejectReason::BrokerExists);
        }
        self.membership.brokers.insert(id, broker.clone());
        events.push(Event::BrokerAdded(BrokerAdded { broker: id }));
        Ok(())
    }

    pub(crate) fn set_broker_status(
        &mut self,
        broker: BrokerId,
        status: Status,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        self.change_broker(broker, status)?;
        events.push(Event::BrokerStatusChanged(BrokerStatusChanged {
            broker,
            status,
        }));
        if status == Status::Suspended {
            let picked = self.resting_of_broker(broker);
            self.cancel_picked(picked, CancelCause::Suspended, events);
            let accounts = &self.accounts;
            let of_broker = |account| accounts.get(account).is_some_and(|a| a.broker == broker);
            let offers: Vec<AccountId> = self
                .blocks
                .offers
                .values()
                .map(|o| o.account)
                .filter(|a| of_broker(*a))
                .collect();
            self.cancel_blocks_of(|a| offers.contains(&a), events);
        }
        Ok(())
    }

    pub(crate) fn set_account_status(
        &mut self,
        account: AccountId,
        status: Status,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        self.change_account(account, status)?;
        events.push(Event::AccountStatusChanged(AccountStatusChanged {
            account,
            status,
        }));
        if status == Status::Suspended {
            let picked = self.resting_of(|a| a == account);
            self.cancel_picked(picked, CancelCause::Suspended, events);
            self.cancel_blocks_of(|a| a == account, events);
        }
        Ok(())
    }

    /// Checks a broker's change of standing and makes it; the
    /// cancellations of a suspension are the caller's.
    pub(crate) fn change_broker(
        &mut self,
        broker: BrokerId,
        status: Status,
    ) -> Result<(), RejectReason> {
        check_change(self.membership.broker(broker), status)?;
        let open = |a: &crate::account::Account| {
            a.broker == broker && self.membership.account(a.id) != Status::Closed
        };
        if status == Status::Closed && self.accounts.iter().any(open) {
            return Err(RejectReason::BrokerHasOpenAccounts);
        }
        self.membership.set_broker(broker, status);
        Ok(())
    }

    /// Checks an account's change of standing and makes it; the
    /// cancellations of a suspension are the caller's.
    pub(crate) fn change_account(
        &mut self,
        account: AccountId,
        status: Status,
    ) -> Result<(), RejectReason> {
        let a = self
            .accounts
            .get(account)
            .ok_or(RejectReason::UnknownAccount)?;
        let holdings = self.accounts.holdings_of(account).unwrap_or_default();
        check_change(self.membership.account(account), status)?;
        let empty = a.cash_fen == 0
            && a.reserved_fen == 0
            && holdings.iter().all(|h| h.balance_t == 0 && h.buying_t == 0);
        if status == Status::Closed && !empty {
            return Err(RejectReason::AccountNotEmpty);
        }
        self.membership.set_account(account, status);
        Ok(())
    }

    /// Every resting order whose account `of` picks, book by book, bids
    /// then asks, in priority order.
    pub(crate) fn resting_of(&self, of: impl Fn(AccountId) -> bool) -> Vec<(usize, OrderId)> {
        let mut picked = Vec::new();
        for (i, book) in self.books.iter().enumerate() {
            for side in [Side::Buy, Side::Sell] {
                let orders = book.orders(side).filter(|order| of(order.account));
                picked.extend(orders.map(|order| (i, order.order_id)));
            }
        }
        picked
    }

    /// Every resting order of the broker's accounts, in the order of
    /// [`Engine::resting_of`].
    pub(crate) fn resting_of_broker(&self, broker: BrokerId) -> Vec<(usize, OrderId)> {
        let accounts = &self.accounts;
        self.resting_of(|account| accounts.get(account).is_some_and(|a| a.broker == broker))
    }

    /// Whether any order of the broker's accounts rests, for the gateway,
    /// which journals a [`Command::CancelOnDisconnect`] only then: each
    /// book's count of the broker's orders (its member limits'), not a
    /// walk of the books.
    ///
    /// [`Command::CancelOnDisconnect`]: crate::Command::CancelOnDisconnect
    #[must_use]
    pub fn has_resting_of_broker(&self, broker: BrokerId) -> bool {
        self.accounts.broker_place(broker).is_some_and(|broker_at| {
            self.books
                .iter()
                .any(|book| book.resting_of_broker(broker_at) > 0)
        })
    }

    /// [`Command::CancelOnDisconnect`]: cancels every resting order of the
    /// broker's accounts; nothing when none rests.
    ///
    /// [`Command::CancelOnDisconnect`]: crate::Command::CancelOnDisconnect
    pub(crate) fn cancel_on_disconnect(&mut self, broker: BrokerId, events: &mut Vec<Event>) {
        let picked = self.resting_of_broker(broker);
        self.cancel_picked(picked, CancelCause::Disconnected, events);
    }

    fn cancel_picked(
        &mut self,
        picked: Vec<(usize, OrderId)>,
        cause: CancelCause,
        events: &mut Vec<Event>,
    ) {
        for (i, order_id) in picked {
            let cancelled = self.cancel_resting(i, order_id, cause, events);
            debug_assert!(cancelled, "listed as resting");
        }
    }
}
