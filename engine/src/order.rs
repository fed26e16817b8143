//! Order vocabulary shared by commands, events and the book: ids, sides,
//! order types and times in force.

use serde::{Deserialize, Serialize};

/// Identifies an order for its whole life. The sequencer assigns ids in
/// strictly increasing order; the engine rejects any id that is not above
/// every id it has accepted before, so an id is never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OrderId(pub u64);

/// Identifies a trading account (one per participant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccountId(pub u32);

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(u8)]
pub enum Side {
    /// Buy: rests on the bid side.
    Buy = 0,
    /// Sell: rests on the ask side.
    Sell = 1,
}

impl Side {
    /// The other side.
    #[must_use]
    pub const fn opposite(self) -> Self {
        match self {
            Self::Buy => Self::Sell,
            Self::Sell => Self::Buy,
        }
    }
}

/// How the price of an order is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum OrderType {
    /// Trades at its limit price or better.
    Limit = 0,
    /// Trades at any price inside today's band; never rests, so whatever is
    /// left after matching is cancelled.
    Market = 1,
}

/// How long the unfilled part of an order lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum TimeInForce {
    /// Rests until filled, cancelled or the end of the trading day.
    Day = 0,
    /// Immediate or cancel: trades what it can now, the rest is cancelled.
    Ioc = 1,
    /// Fill or kill: trades its whole quantity now, or nothing at all.
    Fok = 2,
}
