//! Commands: everything that can change the engine's state.
//!
//! The sequencer stamps each command with a [`Stamp`] (sequence number and
//! time) before [`crate::Engine::apply`] sees it; the engine never reads a
//! clock.

use serde::{Deserialize, Serialize};

use crate::instrument::InstrumentId;
use crate::order::{AccountId, OrderId, OrderType, Side, TimeInForce};

/// Sequence number and time given to a command by the sequencer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Position of the command in the total order of all commands.
    pub seq: u64,
    /// Nanoseconds since the Unix epoch, UTC.
    pub time_ns: i64,
}

/// A new order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    /// Id of the new order; must exceed every id accepted before.
    pub order_id: OrderId,
    /// The account the order trades for.
    pub account: AccountId,
    /// The instrument's id.
    pub instrument: InstrumentId,
    /// Buy or sell.
    pub side: Side,
    /// Limit or market.
    pub order_type: OrderType,
    /// Day, IOC or FOK.
    pub time_in_force: TimeInForce,
    /// Limit price in ticks of 0.01 CNY; ignored for market orders.
    pub price_ticks: i64,
    /// Quantity in tonnes.
    pub quantity_t: u64,
}

/// A command to the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Enter a new order.
    Submit(NewOrder),
    /// Cancel a resting order.
    Cancel {
        /// Instrument of the order.
        instrument: InstrumentId,
        /// The order to cancel.
        order_id: OrderId,
    },
    /// Change a resting order's price or open quantity.
    ///
    /// Reducing the quantity at the same price keeps time priority. A price
    /// change or a quantity increase loses it: the order goes to the back of
    /// its new level and trades first if it is now marketable.
    Amend {
        /// Instrument of the order.
        instrument: InstrumentId,
        /// The order to amend.
        order_id: OrderId,
        /// New limit price in ticks.
        price_ticks: i64,
        /// New open (unfilled) quantity in tonnes.
        quantity_t: u64,
    },
}

impl Command {
    /// Which kind of command this is.
    #[must_use]
    pub const fn kind(&self) -> CommandKind {
        match self {
            Self::Submit(_) => CommandKind::Submit,
            Self::Cancel { .. } => CommandKind::Cancel,
            Self::Amend { .. } => CommandKind::Amend,
        }
    }
}

/// The kind of a command, named in rejections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum CommandKind {
    /// [`Command::Submit`].
    Submit = 0,
    /// [`Command::Cancel`].
    Cancel = 1,
    /// [`Command::Amend`].
    Amend = 2,
}
