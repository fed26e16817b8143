//! The wire protocol's messages and numbers: what a broker and the server say
//! to each other, independent of how it is encoded.
//!
//! A broker sends [`ClientMessage`]s; the server sends [`ServerFrame`]s, each a
//! [`ServerMessage`] with the broker's sequence number. `codec` turns both into
//! bytes; `docs/PROTOCOL.md` is the byte-by-byte contract, written so that a
//! broker in any language can implement it from that page alone.
//!
//! Everything here is plain data with serde derives. The variant order of each
//! enum is its tag on the wire: append new variants, never reorder. The small
//! enums ([`Side`], [`OrderType`], [`TimeInForce`], [`RequestKind`]) carry
//! explicit tags and refuse an unknown tag with an [`UnknownTag`] error.

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod admin;
pub mod feed;
mod fields;

use fields::string_from_str;
pub use fields::{OrderType, RequestKind, Secret, Side, TimeInForce, TradingPhase, UnknownTag};

/// The protocol version this build speaks; `Login` carries the broker's.
pub const PROTOCOL_VERSION: u16 = 1;

/// Largest frame payload, in bytes, accepted before a session has logged in:
/// enough for a `Login` with the longest secret, small enough that an
/// unauthenticated peer cannot make the server buffer much.
pub const MAX_FRAME_BEFORE_LOGIN: usize = 256;

/// Largest frame payload, in bytes, accepted after login. The largest message
/// (`OrderRejected` with the longest text) is 162 bytes; `LoginRejected` and
/// `ProtocolError` with the longest text are 150, within
/// [`MAX_FRAME_BEFORE_LOGIN`], and `Fill` with the longest symbol is 97.
pub const MAX_FRAME_AFTER_LOGIN: usize = 4096;

/// Longest `Login` secret, in bytes of UTF-8.
pub const MAX_SECRET_LEN: usize = 64;

/// Longest instrument symbol, in bytes of UTF-8 (`CEA2025` is 7).
pub const MAX_SYMBOL_LEN: usize = 16;

/// An instrument symbol in a message. On the wire it is a string like any
/// other; in memory one of up to 24 bytes (every symbol: see
/// [`MAX_SYMBOL_LEN`]) is kept inline, so decoding an order or copying a
/// report's symbol allocates nothing.
pub type Symbol = compact_str::CompactString;

/// Longest human-readable `text` in a rejection or protocol error, in bytes of
/// UTF-8.
pub const MAX_TEXT_LEN: usize = 128;

/// A side that has sent nothing for this long sends a `Heartbeat`.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);

/// A side that has received nothing for this long (three heartbeats) closes
/// the connection.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(15);

/// A connection that has not sent a `Login` this long after it opened is
/// closed.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The `seq` of a server message that is about this connection only
/// (`LoginAccepted`, `LoginRejected`, `Heartbeat`, `ProtocolError`): it is
/// neither counted nor stored nor replayed. Order reports are numbered from 1.
pub const UNSEQUENCED: u64 = 0;

/// A `Login.resume_from_seq` that asks for no earlier report: only those
/// made after the login, whatever the broker's history (`LoginAccepted`
/// says the last number before them). Any other value above the broker's
/// last report is refused 413.
pub const RESUME_AFTER_LAST: u64 = u64::MAX;

/// The last report a login's `resume_from_seq` says the broker has seen,
/// `last_seq` being the broker's last: [`RESUME_AFTER_LAST`] is `last_seq`.
#[must_use]
pub const fn resumed_after(resume_from_seq: u64, last_seq: u64) -> u64 {
    if resume_from_seq == RESUME_AFTER_LAST {
        last_seq
    } else {
        resume_from_seq
    }
}

/// What a broker sends. The variant order is the tag on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientMessage {
    /// Opens the session: the first frame on every connection.
    Login {
        /// The protocol version the broker speaks ([`PROTOCOL_VERSION`]).
        protocol_version: u16,
        /// The broker's id, as configured on the server.
        broker_id: u32,
        /// The broker's secret, at most [`MAX_SECRET_LEN`] bytes.
        secret: Secret,
        /// The last report sequence number the broker has seen: every report
        /// numbered above it is replayed; 0 replays every report,
        /// [`RESUME_AFTER_LAST`] none.
        resume_from_seq: u64,
    },
    /// Enters a new order.
    NewOrder {
        /// The broker's id for the order, unique per broker per trading day.
        client_order_id: u64,
        /// The account the order trades for; the broker must act for it.
        account: u32,
        /// The instrument, e.g. `CEA2025`; at most [`MAX_SYMBOL_LEN`] bytes.
        #[serde(deserialize_with = "string_from_str")]
        symbol: Symbol,
        /// Buy or sell.
        side: Side,
        /// Limit or market.
        order_type: OrderType,
        /// Day, IOC or FOK.
        time_in_force: TimeInForce,
        /// Limit price in ticks of 0.01 CNY; ignored for market orders.
        price_ticks: i64,
        /// Quantity in tonnes.
        quantity_t: u64,
    },
    /// Cancels what is open of an order.
    Cancel {
        /// The broker's id of the order to cancel.
        client_order_id: u64,
    },
    /// Changes a resting order's price and open quantity.
    Amend {
        /// The broker's id of the order to amend.
        client_order_id: u64,
        /// New limit price in ticks.
        price_ticks: i64,
        /// New open (unfilled) quantity in tonnes.
        quantity_t: u64,
    },
    /// Keeps a quiet connection alive.
    Heartbeat,
    /// Ends the session; the server closes the connection.
    Logout,
    /// A listing-agreement take (挂牌协议): trades with one named resting
    /// order of the opposite side, at its price, for part or all of what
    /// it has open. Answered like a new order: `OrderAccepted` (limit,
    /// IOC, at the target's price) and a `Fill`, or `OrderRejected`.
    Take {
        /// The broker's id for the take, unique per broker per trading
        /// day (shared with new orders).
        client_order_id: u64,
        /// The account the take trades for; the broker must act for it.
        account: u32,
        /// The instrument, e.g. `CEA2025`; at most [`MAX_SYMBOL_LEN`] bytes.
        #[serde(deserialize_with = "string_from_str")]
        symbol: Symbol,
        /// The resting order to trade with: its public order id, as the
        /// market-data feed's order view shows it.
        order_id: u64,
        /// The taker's side: buy takes a resting sell, sell a resting buy.
        side: Side,
        /// Tonnes to take: at most what the order has open.
        quantity_t: u64,
    },
    /// Tag 7: reserved (unused); this build refuses it as an unknown tag.
    #[doc(hidden)]
    Reserved7,
    /// Tag 8. Posts a block offer (大宗协议) for one of the broker's
    /// accounts: off the listing book, at least the block minimum, priced
    /// inside the block band; open to all (`counterparty` 0) or directed at
    /// one account.
    PostBlock {
        /// The broker's id for this request, echoed in its reports.
        client_order_id: u64,
        /// The poster's account; the broker must act for it.
        account: u32,
        /// The instrument; at most [`MAX_SYMBOL_LEN`] bytes.
        #[serde(deserialize_with = "string_from_str")]
        symbol: Symbol,
        /// The poster's side.
        side: Side,
        /// Price in ticks of 0.01 CNY.
        price_ticks: i64,
        /// Quantity in tonnes.
        quantity_t: u64,
        /// The one account that may accept it, or 0 for every account.
        counterparty: u32,
    },
    /// Tag 9. Accepts an open block offer, whole or in part, for one of
    /// the broker's accounts.
    AcceptBlock {
        /// The broker's id for this request, echoed in its reports.
        client_order_id: u64,
        /// The accepting account; the broker must act for it.
        account: u32,
        /// The offer's id (from `BlockPosted`).
        block_id: u64,
        /// Tonnes to take.
        quantity_t: u64,
    },
    /// Tag 10. Withdraws an open block offer the account posted.
    CancelBlock {
        /// The broker's id for this request, echoed in its reports.
        client_order_id: u64,
        /// The poster's account; the broker must act for it.
        account: u32,
        /// The offer's id.
        block_id: u64,
    },
    /// Tag 11: reserved (unused); this build refuses it as an unknown tag.
    #[doc(hidden)]
    Reserved11,
    /// Tag 12. Places a sealed bid in a one-way auction.
    Bid {
        /// The broker's id for the bid, unique per broker per trading day
        /// among its orders and open bids.
        client_order_id: u64,
        /// The auction, as announced.
        auction_id: u64,
        /// The bidding account; the broker must act for it.
        account: u32,
        /// Price in ticks; the bid's cash is reserved at it.
        price_ticks: i64,
        /// Quantity in tonnes.
        quantity_t: u64,
    },
    /// Tag 13. Withdraws an open bid while its auction's window is open.
    CancelBid {
        /// The broker's id of the bid.
        client_order_id: u64,
    },
    /// Tag 14. Changes an open bid's price and quantity while its
    /// auction's window is open.
    AmendBid {
        /// The broker's id of the bid.
        client_order_id: u64,
        /// New price in ticks.
        price_ticks: i64,
        /// New quantity in tonnes.
        quantity_t: u64,
    },
}

/// A server message and its sequence number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerFrame {
    /// For an order report, the broker's sequence number: from 1, without
    /// gaps, kept across reconnects and server restarts, and the same when
    /// replayed. For a message about this connection only, [`UNSEQUENCED`].
    pub seq: u64,
    /// The message.
    pub message: ServerMessage,
}

/// What the server sends. The variant order is the tag on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// The login succeeded; replayed reports, if asked for, follow.
    LoginAccepted {
        /// The current trading day as a date, `YYYYMMDD` (e.g. 20250314).
        trading_day: u32,
        /// The highest sequence number the server has for this broker.
        last_seq: u64,
    },
    /// The login failed; the server closes the connection.
    LoginRejected {
        /// A reject reason code (a 400).
        reason: u16,
        /// What went wrong, for people; at most [`MAX_TEXT_LEN`] bytes.
        #[serde(deserialize_with = "string_from_str")]
        text: String,
    },
    /// A new order was accepted by the engine.
    OrderAccepted {
        /// The broker's id for the order.
        client_order_id: u64,
        /// The exchange's id for the order.
        order_id: u64,
        /// The instrument.
        #[serde(deserialize_with = "string_from_str")]
        symbol: Symbol,
        /// Buy or sell.
        side: Side,
        /// Limit or market.
        order_type: OrderType,
        /// Day, IOC or FOK.
        time_in_force: TimeInForce,
        /// Limit price in ticks; for a market order, the band edge it may
        /// trade to.
        price_ticks: i64,
        /// Quantity in tonnes.
        quantity_t: u64,
    },
    /// A new order, cancel or amend was refused; nothing changed.
    OrderRejected {
        /// The broker's id of the order the request named.
        client_order_id: u64,
        /// Which request was refused: a refused cancel or amend leaves its
        /// order as it was.
        request: RequestKind,
        /// A reject reason code (see `docs/ENGINE.md`).
        reason: u16,
        /// What went wrong, for people; at most [`MAX_TEXT_LEN`] bytes.
        #[serde(deserialize_with = "string_from_str")]
        text: String,
    },
    /// One of the broker's orders traded.
    Fill {
        /// The broker's id for the order.
        client_order_id: u64,
        /// The exchange's id for the order.
        order_id: u64,
        /// The exchange's trade number.
        trade_id: u64,
        /// The instrument.
        #[serde(deserialize_with = "string_from_str")]
        symbol: Symbol,
        /// The order's side.
        side: Side,
        /// Trade price in ticks (the resting order's price).
        price_ticks: i64,
        /// Tonnes traded.
        quantity_t: u64,
        /// Tonnes still open on the order after this trade.
        leaves_t: u64,
        /// Whether this order was the incoming (taker) one.
        aggressor: bool,
        /// Time of the trade, nanoseconds since the Unix epoch, UTC.
        time_ns: i64,
    },
    /// An order, or what was left of it, was cancelled.
    Cancelled {
        /// The broker's id for the order.
        client_order_id: u64,
        /// The exchange's id for the order.
        order_id: u64,
        /// Tonnes that were open and are now cancelled.
        cancelled_t: u64,
        /// Why: 0 requested, 1 unfilled (IOC or market), 2 fill-or-kill
        /// killed, 3 book full, 4 self-trade prevented, 6 the broker's
        /// session ended (cancel on disconnect), 20 suspended. An
        /// end-of-day expiry is [`ServerMessage::Expired`] instead.
        cause: u8,
    },
    /// A resting order's price or open quantity was changed.
    Amended {
        /// The broker's id for the order.
        client_order_id: u64,
        /// The exchange's id for the order.
        order_id: u64,
        /// New price in ticks.
        price_ticks: i64,
        /// New open quantity in tonnes.
        quantity_t: u64,
        /// Whether the order kept its place in the queue.
        priority_kept: bool,
    },
    /// A day order was still open at the end of the trading day.
    Expired {
        /// The broker's id for the order.
        client_order_id: u64,
        /// The exchange's id for the order.
        order_id: u64,
        /// Tonnes that were open and are now expired.
        expired_t: u64,
    },
    /// Keeps a quiet connection alive.
    Heartbeat,
    /// The last message before the server closes a connection for a frame
    /// it could not accept.
    ProtocolError {
        /// A reject reason code (a 400).
        reason: u16,
        /// What went wrong, for people; at most [`MAX_TEXT_LEN`] bytes.
        #[serde(deserialize_with = "string_from_str")]
        text: String,
    },
    /// Tag 10: reserved for listing-agreement takes; never sent by this
    /// build.
    #[doc(hidden)]
    Reserved10,
    /// Tag 11: reserved, as tag 10.
    #[doc(hidden)]
    Reserved11,
    /// Tag 12. A block offer was posted: to the poster's broker (with its
    /// `client_order_id`) and, for a directed offer, to the broker of the
    /// counterparty account (with `client_order_id` 0), which so learns
    /// the offer's id. Neither is told the other's account.
    BlockPosted {
        /// The poster's id for the request, or 0 in the counterparty's copy.
        client_order_id: u64,
        /// The offer's id.
        block_id: u64,
        /// The account this report is about: the poster's, or the
        /// counterparty's.
        account: u32,
        /// The instrument.
        #[serde(deserialize_with = "string_from_str")]
        symbol: Symbol,
        /// The poster's side (the counterparty would take the other).
        side: Side,
        /// Price in ticks.
        price_ticks: i64,
        /// Quantity in tonnes.
        quantity_t: u64,
        /// Whether the offer is directed at one account (else open to all).
        directed: bool,
    },
    /// Tag 13. A block deal: struck from an offer by an acceptance, to the
    /// broker of each side. `status` 0 traded (`trade_id` set), 1 waiting
    /// for the exchange's confirmation (`trade_id` 0; a second report with
    /// status 0 follows if the exchange confirms it, a `BlockCancelled`
    /// with cause 22 if it refuses).
    BlockDeal {
        /// The request's id at this broker: the poster's for the poster's
        /// side, the acceptor's for the acceptor's (0 when a confirmation
        /// reports a deal of a request this broker did not make today).
        client_order_id: u64,
        /// The offer.
        block_id: u64,
        /// The deal's id (an operator confirms or refuses by it).
        deal_id: u64,
        /// The engine's trade number, once traded; 0 while pending.
        trade_id: u64,
        /// This broker's account in the deal.
        account: u32,
        /// The instrument.
        #[serde(deserialize_with = "string_from_str")]
        symbol: Symbol,
        /// This account's side.
        side: Side,
        /// Price in ticks.
        price_ticks: i64,
        /// Tonnes.
        quantity_t: u64,
        /// Tonnes of the offer still open after the acceptance.
        remaining_t: u64,
        /// 0 traded, 1 pending confirmation.
        status: u8,
        /// Time of the command that made this report, ns since the epoch.
        time_ns: i64,
    },
    /// Tag 14. A block offer, or a deal waiting for confirmation, ended
    /// without trading.
    BlockCancelled {
        /// The request's id at this broker, or 0.
        client_order_id: u64,
        /// The offer's id, or the pending deal's.
        block_id: u64,
        /// This broker's account.
        account: u32,
        /// Tonnes that ended.
        cancelled_t: u64,
        /// 0 withdrawn by the poster, 5 expired at the end of the day, 20
        /// suspended, 22 refused by the exchange.
        cause: u8,
    },
    /// Tag 15. A block request was refused; nothing changed.
    BlockRejected {
        /// The request's id.
        client_order_id: u64,
        /// Which request: 0 `PostBlock`, 1 `AcceptBlock`, 2 `CancelBlock`.
        request: u8,
        /// A reject reason code (`docs/ENGINE.md`: 130 to 139 are the block
        /// rules).
        reason: u16,
        /// What went wrong, for people; at most [`MAX_TEXT_LEN`] bytes.
        #[serde(deserialize_with = "string_from_str")]
        text: String,
    },
    /// Tag 16. A bid was placed, or amended, in a one-way auction; its cash
    /// is reserved at its price.
    BidAccepted {
        /// The broker's id for the bid.
        client_order_id: u64,
        /// The auction.
        auction_id: u64,
        /// The exchange's id for the bid.
        bid_id: u64,
        /// Price in ticks.
        price_ticks: i64,
        /// Quantity in tonnes.
        quantity_t: u64,
        /// 0 a new bid; 1 an amend that kept the bid's time priority; 2 an
        /// amend that lost it.
        amend: u8,
    },
    /// Tag 17. A bid, or its cancel or amend, was refused; nothing changed.
    BidRejected {
        /// The broker's id of the bid the request named.
        client_order_id: u64,
        /// 0 `Bid`, 1 `CancelBid`, 2 `AmendBid`.
        request: u8,
        /// A reject reason code.
        reason: u16,
        /// What went wrong, for people; at most [`MAX_TEXT_LEN`] bytes.
        #[serde(deserialize_with = "string_from_str")]
        text: String,
    },
    /// Tag 18. A bid, or its part the close did not fill, left its auction;
    /// its cash is free again.
    BidCancelled {
        /// The broker's id for the bid.
        client_order_id: u64,
        /// The auction.
        auction_id: u64,
        /// The exchange's id for the bid.
        bid_id: u64,
        /// Tonnes withdrawn.
        cancelled_t: u64,
        /// 0 requested, 23 not filled at the auction's close.
        cause: u8,
    },
    /// Tag 19. An auction closed: its outcome, and what it means for one of
    /// the broker's bids (side buy) or for the broker's sale (side sell).
    AuctionResult {
        /// The auction.
        auction_id: u64,
        /// The instrument.
        #[serde(deserialize_with = "string_from_str")]
        symbol: Symbol,
        /// 0 uniform price, 1 pay-as-bid.
        pricing: u8,
        /// The lowest accepted bid's price, in ticks: under a uniform
        /// price what every winner pays; 0 when nothing sold.
        clearing_ticks: i64,
        /// Tonnes the auction sold.
        sold_t: u64,
        /// Tonnes it did not sell, returned to the seller.
        unsold_t: u64,
        /// Buy: a bid of this broker; sell: this broker's account sold.
        side: Side,
        /// The broker's id for the bid (0 for the seller).
        client_order_id: u64,
        /// The exchange's id for the bid (0 for the seller).
        bid_id: u64,
        /// The trade's id, or 0 when this line bought or sold nothing.
        trade_id: u64,
        /// Price of this trade in ticks (0 when none).
        price_ticks: i64,
        /// Tonnes of this trade (0 when none).
        quantity_t: u64,
        /// Time of the close, ns since the Unix epoch.
        time_ns: i64,
    },
}

/// A string field is longer than the protocol allows (in bytes), or a
/// list (in its items).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldTooLong {
    /// The field, e.g. `"symbol"`.
    pub field: &'static str,
    /// Its length in bytes.
    pub len: usize,
    /// The most bytes it may have.
    pub max: usize,
}

impl std::fmt::Display for FieldTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self { field, len, max } = *self;
        // The lists among the strings count their items.
        let unit = match field {
            "eligible" => "participant types",
            "symbols" => "symbols",
            "orders" => "orders",
            _ => "bytes",
        };
        write!(f, "{field} is {len} {unit}, above the maximum of {max}")
    }
}

/// Checks one string field's length.
const fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), FieldTooLong> {
    if value.len() > max {
        Err(FieldTooLong {
            field,
            len: value.len(),
            max,
        })
    } else {
        Ok(())
    }
}

impl ClientMessage {
    /// How many variants there are: every tag is below this.
    pub const TAG_COUNT: u32 = 15;

    /// Tags that decode to no message of this build (reserved for others).
    pub const RESERVED_TAGS: &'static [u32] = &[7, 11];

    /// The variant's name, as in `docs/PROTOCOL.md`.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Login { .. } => "Login",
            Self::NewOrder { .. } => "NewOrder",
            Self::Cancel { .. } => "Cancel",
            Self::Amend { .. } => "Amend",
            Self::Heartbeat => "Heartbeat",
            Self::Logout => "Logout",
            Self::Take { .. } => "Take",
            Self::Reserved7 | Self::Reserved11 => "Reserved",
            Self::PostBlock { .. } => "PostBlock",
            Self::AcceptBlock { .. } => "AcceptBlock",
            Self::CancelBlock { .. } => "CancelBlock",
            Self::Bid { .. } => "Bid",
            Self::CancelBid { .. } => "CancelBid",
            Self::AmendBid { .. } => "AmendBid",
        }
    }

    /// Checks every string against its maximum length.
    ///
    /// # Errors
    ///
    /// The first field that is too long.
    pub fn validate(&self) -> Result<(), FieldTooLong> {
        match self {
            Self::Login { secret, .. } => check_len("secret", secret.expose(), MAX_SECRET_LEN),
            Self::NewOrder { symbol, .. }
            | Self::Take { symbol, .. }
            | Self::PostBlock { symbol, .. } => {
                check_len("symbol", symbol.as_str(), MAX_SYMBOL_LEN)
            }
            Self::Cancel { .. }
            | Self::Amend { .. }
            | Self::Heartbeat
            | Self::Logout
            | Self::Reserved7
            | Self::Reserved11
            | Self::AcceptBlock { .. }
            | Self::CancelBlock { .. }
            | Self::Bid { .. }
            | Self::CancelBid { .. }
            | Self::AmendBid { .. } => Ok(()),
        }
    }
}

impl ServerMessage {
    /// How many variants there are: every tag is below this.
    pub const TAG_COUNT: u32 = 20;

    /// Tags that decode to no message of this build (reserved for others).
    pub const RESERVED_TAGS: &'static [u32] = &[10, 11];

    /// The variant's name, as in `docs/PROTOCOL.md`.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::LoginAccepted { .. } => "LoginAccepted",
            Self::LoginRejected { .. } => "LoginRejected",
            Self::OrderAccepted { .. } => "OrderAccepted",
            Self::OrderRejected { .. } => "OrderRejected",
            Self::Fill { .. } => "Fill",
            Self::Cancelled { .. } => "Cancelled",
            Self::Amended { .. } => "Amended",
            Self::Expired { .. } => "Expired",
            Self::Heartbeat => "Heartbeat",
            Self::ProtocolError { .. } => "ProtocolError",
            Self::Reserved10 | Self::Reserved11 => "Reserved",
            Self::BlockPosted { .. } => "BlockPosted",
            Self::BlockDeal { .. } => "BlockDeal",
            Self::BlockCancelled { .. } => "BlockCancelled",
            Self::BlockRejected { .. } => "BlockRejected",
            Self::BidAccepted { .. } => "BidAccepted",
            Self::BidRejected { .. } => "BidRejected",
            Self::BidCancelled { .. } => "BidCancelled",
            Self::AuctionResult { .. } => "AuctionResult",
        }
    }

    /// Whether this message is an order report, which takes the broker's
    /// next sequence number and is stored for replay. The others are about
    /// one connection and go out with [`UNSEQUENCED`].
    #[must_use]
    pub const fn is_sequenced(&self) -> bool {
        match self {
            Self::OrderAccepted { .. }
            | Self::OrderRejected { .. }
            | Self::Fill { .. }
            | Self::Cancelled { .. }
            | Self::Amended { .. }
            | Self::Expired { .. }
            | Self::BlockPosted { .. }
            | Self::BlockDeal { .. }
            | Self::BlockCancelled { .. }
            | Self::BlockRejected { .. } => true,
            Self::BidAccepted { .. }
            | Self::BidRejected { .. }
            | Self::BidCancelled { .. }
            | Self::AuctionResult { .. } => true,
            Self::LoginAccepted { .. }
            | Self::LoginRejected { .. }
            | Self::Heartbeat
            | Self::ProtocolError { .. }
            | Self::Reserved10
            | Self::Reserved11 => false,
        }
    }

    /// Checks every string against its maximum length.
    ///
    /// # Errors
    ///
    /// The first field that is too long.
    pub fn validate(&self) -> Result<(), FieldTooLong> {
        match self {
            Self::LoginRejected { text, .. }
            | Self::OrderRejected { text, .. }
            | Self::ProtocolError { text, .. }
            | Self::BlockRejected { text, .. }
            | Self::BidRejected { text, .. } => check_len("text", text.as_str(), MAX_TEXT_LEN),
            Self::OrderAccepted { symbol, .. }
            | Self::Fill { symbol, .. }
            | Self::BlockPosted { symbol, .. }
            | Self::BlockDeal { symbol, .. }
            | Self::AuctionResult { symbol, .. } => {
                check_len("symbol", symbol.as_str(), MAX_SYMBOL_LEN)
            }
            Self::LoginAccepted { .. }
            | Self::BidAccepted { .. }
            | Self::BidCancelled { .. }
            | Self::Cancelled { .. }
            | Self::Amended { .. }
            | Self::Expired { .. }
            | Self::Heartbeat
            | Self::Reserved10
            | Self::Reserved11
            | Self::BlockCancelled { .. } => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_hidden_from_debug() {
        let login = ClientMessage::Login {
            protocol_version: PROTOCOL_VERSION,
            broker_id: 7,
            secret: Secret::new("hunter2"),
            resume_from_seq: 0,
        };
        assert!(!format!("{login:?}").contains("hunter2"));
    }

    /// A list's length is told in its items, a string's in bytes (an
    /// outside tester's "symbols is 65 bytes").
    #[test]
    fn a_long_field_is_told_in_its_unit() {
        for (field, len, max, said) in [
            (
                "symbols",
                65,
                64,
                "symbols is 65 symbols, above the maximum of 64",
            ),
            ("orders", 5, 4, "orders is 5 orders, above the maximum of 4"),
            (
                "eligible",
                4,
                3,
                "eligible is 4 participant types, above the maximum of 3",
            ),
            (
                "symbol",
                17,
                16,
                "symbol is 17 bytes, above the maximum of 16",
            ),
        ] {
            assert_eq!(FieldTooLong { field, len, max }.to_string(), said);
        }
    }

    #[test]
    fn validation_names_the_long_field() {
        let order = ClientMessage::NewOrder {
            client_order_id: 1,
            account: 1,
            symbol: "X".repeat(MAX_SYMBOL_LEN + 1).into(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Day,
            price_ticks: 1,
            quantity_t: 1,
        };
        assert_eq!(
            order.validate(),
            Err(FieldTooLong {
                field: "symbol",
                len: MAX_SYMBOL_LEN + 1,
                max: MAX_SYMBOL_LEN
            })
        );
        let reject = ServerMessage::ProtocolError {
            reason: 414,
            text: "é".repeat(MAX_TEXT_LEN / 2),
        };
        assert_eq!(reject.validate(), Ok(()));
        assert!(!reject.is_sequenced());
    }
}
