//! Today's orders by the broker's client order id: what makes a new id
//! unique per broker and trading day, and what a cancel or an amend names.
//! The one index of the day the runtime keeps; the reports keep only the
//! live orders. It is rebuilt from the journal by the same function that
//! keeps it live ([`ClientOrders::observe`]), and kept in the gateway's
//! snapshots so that a restart reads only the journal after them.

use cetx_engine::{AccountId, BrokerId, Command, Engine, Event, InstrumentId, OrderId};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::reports::sized_map;

/// See the module docs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct ClientOrders {
    /// Looked up, never iterated (a snapshot lists it).
    #[serde(with = "sized_map")]
    orders: FxHashMap<(BrokerId, u64), ClientOrder>,
}

/// An order a broker named by its client order id today.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ClientOrder {
    pub(super) order_id: OrderId,
    pub(super) instrument: InstrumentId,
    pub(super) account: AccountId,
}

impl ClientOrders {
    /// The broker's order of today with this client order id.
    pub(super) fn get(&self, broker: BrokerId, client_order_id: u64) -> Option<ClientOrder> {
        self.orders.get(&(broker, client_order_id)).copied()
    }

    /// Takes note of one journal entry, live or replayed at start: a
    /// `Submit` (accepted or not) uses up its client order id for the
    /// day, and a new trading day frees them all. The same function on the
    /// same journal rebuilds the same index.
    pub(super) fn observe(&mut self, engine: &Engine, command: &Command, events: &[Event]) {
        if let Command::Submit(order) = command {
            // Accounts never change broker, so the engine's current
            // accounts answer for any entry, replayed or live.
            if let Some(account) = engine.account(order.account) {
                self.orders.insert(
                    (account.broker, order.client_order_id),
                    ClientOrder {
                        order_id: order.order_id,
                        instrument: order.instrument,
                        account: order.account,
                    },
                );
            }
        }
        if events.iter().any(|e| matches!(e, Event::DayStarted(_))) {
            self.orders.clear();
        }
    }
}
