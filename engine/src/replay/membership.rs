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
use crate::event::{CancelCause, Event};
use crate::membership::Status;
use crate::order::AccountId;

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
    /// are only its own: each `Cancelled` is of an order of the broker's
    /// or account's (that it rests so, with the command's cause, is
    /// checked as it is replayed), each `BlockCancelled` of a suspension
    /// is of one of their open block offers, cause `Suspended`, and a
    /// suspension's change of standing is checked by
    /// [`Engine::replay_membership`]; a refused one has its refusal alone.
    /// Checked before the events are replayed; any other command passes.
    pub(super) fn check_member_cancels(
        &self,
        command: &Command,
        events: &[Event],
    ) -> Result<(), String> {
        let (whose, suspension) = match *command {
            Command::CancelOnDisconnect { broker } => (Whose::Broker(broker), false),
            Command::SetBrokerStatus {
                broker,
                status: Status::Suspended,
            } => (Whose::Broker(broker), true),
            Command::SetAccountStatus {
                account,
                status: Status::Suspended,
            } => (Whose::Account(account), true),
            _ => return Ok(()),
        };
        let of = |account: AccountId| match whose {
            Whose::Account(suspended) => account == suspended,
            Whose::Broker(broker) => self
                .accounts
                .get(account)
                .is_some_and(|a| a.broker == broker),
        };
        for event in events {
            let fits = match event {
                Event::Cancelled(c) => of(c.account),
                Event::BlockCancelled(c) => {
                    suspension
                        && c.cause == CancelCause::Suspended
                        && self
                            .blocks
                            .offers
                            .get(&c.block_id)
                            .is_some_and(|offer| of(offer.account))
                }
                Event::BrokerStatusChanged(_) | Event::AccountStatusChanged(_) => suspension,
                // A refused command: its refusal alone.
                Event::Rejected(_) => events.len() == 1,
                _ => false,
            };
            if !fits {
                return Err(format!(
                    "{event:?} is not one of the {:?}'s cancels of {whose}'s orders",
                    command.kind()
                ));
            }
        }
        Ok(())
    }

    /// After a suspension's events (its cancellations are the journal's
    /// own, replayed after the change), or a cancel on disconnect's: none
    /// of the accounts' orders rests any more.
    pub(super) fn check_all_cancelled(&self, command: &Command) -> Result<(), String> {
        let left = match *command {
            Command::SetAccountStatus {
                account,
                status: Status::Suspended,
            } => self.resting_of(|a| a == account),
            Command::SetBrokerStatus {
                broker,
                status: Status::Suspended,
            }
            | Command::CancelOnDisconnect { broker } => self.resting_of_broker(broker),
            _ => Vec::new(),
        };
        match left.first() {
            None => Ok(()),
            Some((_, order)) => Err(format!(
                "order {} still rests after its {:?}",
                order.0,
                command.kind()
            )),
        }
    }
}

/// Whose orders a command cancels.
#[derive(Clone, Copy)]
enum Whose {
    Broker(BrokerId),
    Account(AccountId),
}

impl std::fmt::Display for Whose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Whose::Broker(broker) => write!(f, "broker {}", broker.0),
            Whose::Account(account) => write!(f, "account {}", account.0),
        }
    }
}
