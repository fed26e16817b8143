//! Replaying the membership events: brokers added, and brokers and
//! accounts suspended, reinstated or closed.
//!
//! Each is checked as the live engine checked its command: an added
//! broker is the command's, valid and new; a change of standing is a real
//! change and not out of closed; a closed account holds nothing and a
//! closed broker's accounts are all closed; and after a suspension none
//! of the suspended accounts' orders still rests.

use crate::account::BrokerId;
use crate::command::Command;
use crate::engine::Engine;
use crate::event::Event;
use crate::instrument::InstrumentId;
use crate::membership::Status;
use crate::order::{AccountId, OrderId};

impl Engine {
    pub(super) fn replay_membership(
        &mut self,
        command: &Command,
        event: &Event,
    ) -> Result<(), String> {
        match (event, command) {
            (Event::BrokerAdded(e), Command::AddBroker(broker)) if e.broker == broker.broker => {
                self.add_broker(broker, &mut Vec::new())
                    .map_err(|reason| format!("broker {} cannot be added ({reason:?})", e.broker.0))
            }
            (Event::BrokerStatusChanged(e), Command::SetBrokerStatus { broker, status })
                if (e.broker, e.status) == (*broker, *status) =>
            {
                self.change_broker(e.broker, e.status).map_err(|reason| {
                    format!(
                        "broker {} cannot become {:?} ({reason:?})",
                        e.broker.0, e.status
                    )
                })
            }
            (Event::AccountStatusChanged(e), Command::SetAccountStatus { account, status })
                if (e.account, e.status) == (*account, *status) =>
            {
                self.change_account(e.account, e.status).map_err(|reason| {
                    format!(
                        "account {} cannot become {:?} ({reason:?})",
                        e.account.0, e.status
                    )
                })
            }
            _ => Err(format!(
                "{event:?} is not what its command {:?} does",
                command.kind()
            )),
        }
    }

    /// The events of a [`Command::CancelOnDisconnect`] or a suspension
    /// are only its own: its `Cancelled` events are exactly the resting
    /// orders of the broker's or account's, in the order the engine
    /// cancels them (book by book, bids then asks, each side in priority;
    /// that each fits its order, with the command's cause, is checked as
    /// it is replayed), so none is left resting; a suspension's
    /// `BlockCancelled` events come after them (which offers, by
    /// [`Engine::check_block_cancels`]); and a suspension's change of
    /// standing is checked by [`Engine::replay_membership`]. A refused
    /// command has its refusal alone. Checked before the events are
    /// replayed; any other command passes.
    pub(super) fn check_member_cancels(
        &self,
        command: &Command,
        events: &[Event],
    ) -> Result<(), String> {
        let Some((whose, suspension)) = Whose::cancelled_by(command) else {
            return Ok(());
        };
        if let [Event::Rejected(_)] = events {
            return Ok(());
        }
        let resting: Vec<(InstrumentId, OrderId)> = self
            .resting_of(|account| whose.includes(self, account))
            .into_iter()
            .map(|(i, order_id)| (self.books[i].instrument(), order_id))
            .collect();
        let mut cancelled = Vec::with_capacity(resting.len());
        let mut offers_ended = false;
        for event in events {
            let fits = match event {
                Event::Cancelled(c) => {
                    cancelled.push((c.instrument, c.order_id));
                    !offers_ended
                }
                Event::BlockCancelled(_) => {
                    offers_ended = true;
                    suspension
                }
                Event::BrokerStatusChanged(_) | Event::AccountStatusChanged(_) => suspension,
                _ => false,
            };
            if !fits {
                return Err(format!(
                    "{event:?} is not in its place among the {:?}'s events for {whose}'s orders",
                    command.kind()
                ));
            }
        }
        if cancelled != resting {
            return Err(format!(
                "the {:?} cancels orders {}, but {whose}'s {} resting orders, in book order, are {}",
                command.kind(),
                orders_text(&cancelled),
                resting.len(),
                orders_text(&resting)
            ));
        }
        Ok(())
    }
}

/// Orders for an error: their ids, `[3, 7, 12]`, the first ten.
fn orders_text(orders: &[(InstrumentId, OrderId)]) -> String {
    let ids: Vec<u64> = orders.iter().take(10).map(|(_, id)| id.0).collect();
    let more = if orders.len() > 10 { ", …" } else { "" };
    format!("{ids:?}{more}")
}

/// Whose orders a command cancels.
#[derive(Clone, Copy)]
pub(super) enum Whose {
    Broker(BrokerId),
    Account(AccountId),
}

impl Whose {
    /// Whose orders `command` cancels, if it is a
    /// [`Command::CancelOnDisconnect`] or a suspension, and whether it is
    /// a suspension (which withdraws block offers too).
    pub(super) const fn cancelled_by(command: &Command) -> Option<(Self, bool)> {
        match *command {
            Command::CancelOnDisconnect { broker } => Some((Self::Broker(broker), false)),
            Command::SetBrokerStatus {
                broker,
                status: Status::Suspended,
            } => Some((Self::Broker(broker), true)),
            Command::SetAccountStatus {
                account,
                status: Status::Suspended,
            } => Some((Self::Account(account), true)),
            _ => None,
        }
    }

    /// Whether `account` is this account, or one of this broker's.
    pub(super) fn includes(self, engine: &Engine, account: AccountId) -> bool {
        match self {
            Self::Account(of) => account == of,
            Self::Broker(broker) => engine
                .accounts
                .get(account)
                .is_some_and(|a| a.broker == broker),
        }
    }
}

impl std::fmt::Display for Whose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Whose::Broker(broker) => write!(f, "broker {}", broker.0),
            Whose::Account(account) => write!(f, "account {}", account.0),
        }
    }
}
