//! Events: everything the engine decided, in order.
//!
//! Events are the engine's only output. The journal stores them, the gateway
//! turns them into reports for brokers, and registries settle from them.

use serde::{Deserialize, Serialize};

use crate::command::CommandKind;
use crate::instrument::InstrumentId;
use crate::order::{AccountId, OrderId, OrderType, Side, TimeInForce};
use crate::reject::RejectReason;

/// One decision of the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A new order passed validation. Trades and a cancellation of its
    /// remainder may follow.
    Accepted(Accepted),
    /// A command was rejected; nothing changed.
    Rejected(Rejected),
    /// Two orders traded.
    Trade(Trade),
    /// An order, or what was left of it, was cancelled.
    Cancelled(Cancelled),
    /// A resting order's price or quantity was changed. Trades may follow
    /// when the new price is marketable.
    Amended(Amended),
}

/// A new order passed validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The order.
    pub order_id: OrderId,
    /// Its account.
    pub account: AccountId,
    /// Its instrument.
    pub instrument: InstrumentId,
    /// Buy or sell.
    pub side: Side,
    /// Limit or market.
    pub order_type: OrderType,
    /// Day, IOC or FOK.
    pub time_in_force: TimeInForce,
    /// Limit price in ticks (for a market order: the band edge it may trade to).
    pub price_ticks: i64,
    /// Quantity in tonnes.
    pub quantity_t: u64,
}

/// A command was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Which command.
    pub command: CommandKind,
    /// The order it named.
    pub order_id: OrderId,
    /// Why.
    pub reason: RejectReason,
}

/// A trade between a resting (maker) order and an incoming (taker) order, at
/// the maker's price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    /// Engine-wide trade number, from 1 and without gaps.
    pub trade_id: u64,
    /// Sequence number of the command that caused the trade.
    pub seq: u64,
    /// Time of that command, in nanoseconds since the Unix epoch.
    pub time_ns: i64,
    /// The instrument.
    pub instrument: InstrumentId,
    /// Price in ticks: the maker's price.
    pub price_ticks: i64,
    /// Quantity in tonnes.
    pub quantity_t: u64,
    /// The taker's side.
    pub aggressor: Side,
    /// The resting order.
    pub maker_order_id: OrderId,
    /// The resting order's account.
    pub maker_account: AccountId,
    /// What is left open of the maker after this trade.
    pub maker_remaining_t: u64,
    /// The incoming order.
    pub taker_order_id: OrderId,
    /// The incoming order's account.
    pub taker_account: AccountId,
    /// What is left of the taker after this trade.
    pub taker_remaining_t: u64,
}

impl Trade {
    /// The buying order and account.
    #[must_use]
    pub const fn buyer(&self) -> (OrderId, AccountId) {
        match self.aggressor {
            Side::Buy => (self.taker_order_id, self.taker_account),
            Side::Sell => (self.maker_order_id, self.maker_account),
        }
    }

    /// The selling order and account.
    #[must_use]
    pub const fn seller(&self) -> (OrderId, AccountId) {
        match self.aggressor {
            Side::Buy => (self.maker_order_id, self.maker_account),
            Side::Sell => (self.taker_order_id, self.taker_account),
        }
    }
}

/// An order, or its remainder, left the book without trading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancelled {
    /// The order.
    pub order_id: OrderId,
    /// Its account.
    pub account: AccountId,
    /// Its instrument.
    pub instrument: InstrumentId,
    /// Its side.
    pub side: Side,
    /// Tonnes that were open and are now cancelled.
    pub cancelled_t: u64,
    /// Why.
    pub cause: CancelCause,
}

/// Why an order was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum CancelCause {
    /// The owner asked.
    Requested = 0,
    /// The remainder of an IOC or market order after matching.
    Unfilled = 1,
    /// A fill-or-kill order could not fill completely, so nothing traded.
    FokKilled = 2,
    /// The remainder of a day order could not rest: the book holds its
    /// maximum number of orders.
    BookFull = 3,
}

/// A resting order was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amended {
    /// The order.
    pub order_id: OrderId,
    /// Its account.
    pub account: AccountId,
    /// Its instrument.
    pub instrument: InstrumentId,
    /// Its side.
    pub side: Side,
    /// New price in ticks.
    pub price_ticks: i64,
    /// New open quantity in tonnes.
    pub quantity_t: u64,
    /// Whether the order kept its place in the queue.
    pub priority_kept: bool,
}
