//! Replaying the membership events: brokers added, and brokers and
//! accounts suspended, reinstated or closed.
//!
//! Each is checked as the live engine checked its command: an added
//! broker is the command's, valid and new; a change of standing is a real
//! change and not out of closed; a closed account holds nothing and a
//! closed broker's accounts are all closed; and after a suspension none
//! of the suspended accounts' orders still rests.

use crate::command::Command;
use crate::engine::Engine;
use crate::event::{CancelCause, Event};
use crate::membership::Status;

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

    /// A [`Command::CancelOnDisconnect`]'s events are only the
    /// cancellations of the broker's own resting orders, cause
    /// `Disconnected` (checked before they are replayed, against the
    /// resting orders' accounts); any other command passes.
    pub(super) fn check_disconnect(
        &self,
        command: &Command,
        events: &[Event],
    ) -> Result<(), String> {
        let Command::CancelOnDisconnect { broker } = *command else {
            return Ok(());
        };
        for event in events {
            let Event::Cancelled(c) = event else {
                return Err(format!("{event:?} from a CancelOnDisconnect"));
            };
            // The resting order's own account, not the event's word for it.
            let resting = self
                .books
                .get(usize::from(c.instrument.0))
                .and_then(|book| book.find(c.order_id));
            let of_broker = resting.is_some_and(|(_, order)| {
                self.accounts
                    .get(order.account)
                    .is_some_and(|a| a.broker == broker)
            });
            if c.cause != CancelCause::Disconnected || !of_broker {
                return Err(format!(
                    "order {} of account {} cancelled ({:?}) on broker {}'s disconnect",
                    c.order_id.0, c.account.0, c.cause, broker.0
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
