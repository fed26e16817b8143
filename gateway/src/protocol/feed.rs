//! The market-data feed's messages: what a subscriber and the server say
//! to each other on the feed's own listener. `docs/MARKET_DATA.md` is the
//! byte-by-byte contract; the framing and encoding rules are the broker
//! protocol's.
//!
//! Nothing here names an account, a broker or a client order id: the feed
//! is public.

use serde::{Deserialize, Serialize};

use super::fields::{Side, TradingPhase};
use super::{check_len, FieldTooLong, Symbol, MAX_SYMBOL_LEN, MAX_TEXT_LEN};

/// The most instruments one `Subscribe` may name.
pub const MAX_SUBSCRIBE_SYMBOLS: usize = 64;

/// Largest feed frame payload, in either direction: a `Subscribe` with
/// [`MAX_SUBSCRIBE_SYMBOLS`] of the longest symbols is 1,614 bytes, the
/// largest server message (`Orders` listing [`MAX_VIEW_ORDERS`] orders)
/// 3,238.
pub const MAX_FEED_FRAME: usize = 4096;

/// Levels a subscription shows per side when it asks for depth 0: the
/// whole book.
pub const FULL_DEPTH: u16 = 0;

/// Levels per side of the order view: the best 5, as far as a CEA
/// listing-agreement take may reach (a CCER take reaches only the best).
pub const ORDER_VIEW_LEVELS: usize = 5;

/// Most orders one `Orders` message lists, the first in time at its
/// level; `order_count` says how many rest there. 200 orders of 16 bytes
/// keep the message (3,238 bytes) within [`MAX_FEED_FRAME`].
pub const MAX_VIEW_ORDERS: usize = 200;

/// One resting order in the order view: its public id and what it has
/// open. Nothing says whose it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEntry {
    /// The public order id: the id a `Take` names.
    pub order_id: u64,
    /// Tonnes open.
    pub quantity_t: u64,
}

/// What a feed subscriber sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeedRequest {
    /// Tag 0. Subscribe to these instruments (again: a fresh snapshot),
    /// showing `depth` levels per side (0: all of them).
    Subscribe {
        /// Levels per side; 0 is the whole book.
        depth: u16,
        /// The instruments' symbols.
        symbols: Vec<Symbol>,
    },
    /// Tag 1. Nothing to say; keeps the connection open.
    Heartbeat,
    /// Tag 2. As `Subscribe`, and also the order view of these
    /// instruments: the orders (public id and open quantity, in time
    /// order) of the best [`ORDER_VIEW_LEVELS`] levels of each side, kept
    /// current with `Orders` messages.
    SubscribeOrders {
        /// Levels per side of the level view; 0 is the whole book.
        depth: u16,
        /// The instruments' symbols.
        symbols: Vec<Symbol>,
    },
}

/// An instrument's trading day so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayFigures {
    /// Price of the day's first trade, in ticks (0 before any).
    pub open_ticks: i64,
    /// Highest trade price (0 before any).
    pub high_ticks: i64,
    /// Lowest trade price (0 before any).
    pub low_ticks: i64,
    /// Price of the last trade (0 before any).
    pub last_ticks: i64,
    /// Volume-weighted average price so far, rounded half up to the
    /// instrument's tick (0 before any trade).
    pub vwap_ticks: i64,
    /// Tonnes traded today.
    pub volume_t: u64,
    /// Value traded today, in fen.
    pub turnover_fen: i64,
    /// Trades today.
    pub trade_count: u64,
}

/// What the feed server sends. Every message but `Rejected` and
/// `Heartbeat` is about one instrument and carries its `seq`: the
/// subscription's count of messages about that instrument, which goes up
/// by exactly one from message to message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeedMessage {
    /// Tag 0. The state of an instrument now: forget what you had, then
    /// take the `levels` `Level` messages that follow (bids best first,
    /// then asks best first).
    Snapshot {
        /// The instrument's id on the feed.
        instrument: u16,
        /// Its symbol.
        symbol: Symbol,
        /// Sequence number.
        seq: u64,
        /// The trading phase.
        phase: TradingPhase,
        /// Today's reference price, in ticks.
        reference_ticks: i64,
        /// Lowest price accepted today.
        floor_ticks: i64,
        /// Highest price accepted today.
        ceiling_ticks: i64,
        /// The price step, in ticks.
        step_ticks: i64,
        /// The day so far.
        day: DayFigures,
        /// Bid levels that follow.
        bid_levels: u32,
        /// Ask levels that follow.
        ask_levels: u32,
    },
    /// Tag 1. A price level as it is now; `quantity_t` 0 means it is gone.
    Level {
        /// The instrument.
        instrument: u16,
        /// Sequence number.
        seq: u64,
        /// Bids (buy) or asks (sell).
        side: Side,
        /// The level's price.
        price_ticks: i64,
        /// Tonnes resting at this price.
        quantity_t: u64,
        /// Orders resting at this price.
        orders: u32,
    },
    /// Tag 2. A trade.
    Trade {
        /// The instrument.
        instrument: u16,
        /// Sequence number.
        seq: u64,
        /// The engine's trade id.
        trade_id: u64,
        /// Price, in ticks.
        price_ticks: i64,
        /// Tonnes.
        quantity_t: u64,
        /// The side of the incoming order.
        aggressor: Side,
        /// When, in ns since the Unix epoch.
        time_ns: i64,
    },
    /// Tag 3. The day's figures after the trades before it.
    Statistics {
        /// The instrument.
        instrument: u16,
        /// Sequence number.
        seq: u64,
        /// The figures.
        day: DayFigures,
    },
    /// Tag 4. The trading phase changed.
    Phase {
        /// The instrument.
        instrument: u16,
        /// Sequence number.
        seq: u64,
        /// The new phase.
        phase: TradingPhase,
    },
    /// Tag 5. The reference price and the band changed.
    Band {
        /// The instrument.
        instrument: u16,
        /// Sequence number.
        seq: u64,
        /// The reference price, in ticks.
        reference_ticks: i64,
        /// Lowest price accepted.
        floor_ticks: i64,
        /// Highest price accepted.
        ceiling_ticks: i64,
    },
    /// Tag 6. The trading day ended: its figures, the close (the VWAP, or
    /// the reference when nothing traded), and the next day's band.
    EndOfDay {
        /// The instrument.
        instrument: u16,
        /// Sequence number.
        seq: u64,
        /// The engine's trading day number.
        trading_day: u32,
        /// The close, in ticks: the next day's reference price.
        close_ticks: i64,
        /// The day's figures.
        day: DayFigures,
        /// The next day's lowest accepted price.
        next_floor_ticks: i64,
        /// The next day's highest accepted price.
        next_ceiling_ticks: i64,
    },
    /// Tag 7. A subscription refused, or the connection about to close.
    Rejected {
        /// A reason code (docs/PROTOCOL.md's table).
        reason: u16,
        /// What went wrong, for a person.
        text: String,
    },
    /// Tag 8. Nothing to say; the connection is alive.
    Heartbeat,
    /// Tag 9. (Order view) one level of the order view as it is now: its
    /// orders in time order, at most [`MAX_VIEW_ORDERS`] of them. An empty
    /// list (`order_count` 0): the level left the view (emptied, or no
    /// longer among the best [`ORDER_VIEW_LEVELS`]).
    Orders {
        /// The instrument.
        instrument: u16,
        /// Sequence number.
        seq: u64,
        /// Bids (buy) or asks (sell).
        side: Side,
        /// The level's price.
        price_ticks: i64,
        /// Orders resting at this price (the list may hold fewer).
        order_count: u32,
        /// The first of them in time order.
        orders: Vec<OrderEntry>,
    },
    /// Tag 10: reserved for another trading mode's message; never sent.
    #[doc(hidden)]
    Reserved10,
    /// Tag 11: reserved for another trading mode's message; never sent.
    #[doc(hidden)]
    Reserved11,
    /// Tag 12. A block offer open to every account (大宗协议), as it is
    /// now: posted, partly accepted (the tonnes still open), or ended
    /// (`quantity_t` 0: accepted in full, withdrawn, expired). Offers
    /// directed at one account are never public.
    BlockOffer {
        /// The instrument.
        instrument: u16,
        /// Sequence number.
        seq: u64,
        /// The offer's id, which an `AcceptBlock` names.
        block_id: u64,
        /// The poster's side (an acceptor takes the other).
        side: Side,
        /// Price in ticks.
        price_ticks: i64,
        /// Tonnes still open; 0: the offer ended.
        quantity_t: u64,
    },
    /// Tag 13. The exchange announced a one-way auction of the
    /// instrument.
    AuctionAnnounced {
        /// The instrument.
        instrument: u16,
        /// Sequence number.
        seq: u64,
        /// The auction's id.
        auction_id: u64,
        /// Tonnes offered.
        quantity_t: u64,
        /// Lowest bid price accepted, in ticks.
        floor_ticks: i64,
        /// Highest bid price accepted, in ticks.
        ceiling_ticks: i64,
        /// The bidding window's start, ns since the Unix epoch.
        start_ns: i64,
        /// Its end (excluded).
        end_ns: i64,
        /// 0 uniform price, 1 pay-as-bid.
        pricing: u8,
    },
    /// Tag 14. A one-way auction closed: its outcome (bids are never
    /// public). Its volume is not in the day's figures or the close.
    AuctionResult {
        /// The instrument.
        instrument: u16,
        /// Sequence number.
        seq: u64,
        /// The auction's id.
        auction_id: u64,
        /// 0 uniform price, 1 pay-as-bid.
        pricing: u8,
        /// The lowest accepted bid's price, in ticks (uniform: the price
        /// every winner paid); 0 when nothing sold.
        clearing_ticks: i64,
        /// Tonnes sold.
        sold_t: u64,
        /// Tonnes unsold.
        unsold_t: u64,
        /// Value sold, in fen.
        turnover_fen: i64,
    },
}

impl FeedRequest {
    /// How many variants there are: every tag is below this.
    pub const TAG_COUNT: u32 = 3;

    /// Checks every string against its maximum length, and the number of
    /// symbols.
    ///
    /// # Errors
    /// The first field that is too long.
    pub fn validate(&self) -> Result<(), FieldTooLong> {
        match self {
            Self::Subscribe { symbols, .. } | Self::SubscribeOrders { symbols, .. } => {
                if symbols.len() > MAX_SUBSCRIBE_SYMBOLS {
                    return Err(FieldTooLong {
                        field: "symbols",
                        len: symbols.len(),
                        max: MAX_SUBSCRIBE_SYMBOLS,
                    });
                }
                symbols
                    .iter()
                    .try_for_each(|s| check_len("symbol", s.as_str(), MAX_SYMBOL_LEN))
            }
            Self::Heartbeat => Ok(()),
        }
    }
}

impl FeedMessage {
    /// How many variants there are: every tag is below this.
    pub const TAG_COUNT: u32 = 15;

    /// Tags that decode to no message of this build (reserved for others).
    pub const RESERVED_TAGS: &'static [u32] = &[10, 11];

    /// The instrument and sequence number, for the messages that have them.
    #[must_use]
    pub const fn instrument_seq(&self) -> Option<(u16, u64)> {
        match *self {
            Self::Snapshot {
                instrument, seq, ..
            }
            | Self::Level {
                instrument, seq, ..
            }
            | Self::Trade {
                instrument, seq, ..
            }
            | Self::Statistics {
                instrument, seq, ..
            }
            | Self::Phase {
                instrument, seq, ..
            }
            | Self::Band {
                instrument, seq, ..
            }
            | Self::EndOfDay {
                instrument, seq, ..
            }
            | Self::Orders {
                instrument, seq, ..
            }
            | Self::AuctionAnnounced {
                instrument, seq, ..
            }
            | Self::AuctionResult {
                instrument, seq, ..
            }
            | Self::BlockOffer {
                instrument, seq, ..
            } => Some((instrument, seq)),
            Self::Rejected { .. } | Self::Heartbeat | Self::Reserved10 | Self::Reserved11 => None,
        }
    }

    /// Checks every string against its maximum length.
    ///
    /// # Errors
    /// The first field that is too long.
    pub fn validate(&self) -> Result<(), FieldTooLong> {
        match self {
            Self::Snapshot { symbol, .. } => check_len("symbol", symbol.as_str(), MAX_SYMBOL_LEN),
            Self::Rejected { text, .. } => check_len("text", text.as_str(), MAX_TEXT_LEN),
            Self::Orders { orders, .. } if orders.len() > MAX_VIEW_ORDERS => Err(FieldTooLong {
                field: "orders",
                len: orders.len(),
                max: MAX_VIEW_ORDERS,
            }),
            _ => Ok(()),
        }
    }
}
