//! Events: everything the engine decided, in order.
//!
//! Events are the engine's only output. The journal stores them, the gateway
//! turns them into reports for brokers, and registries settle from them.

use serde::{Deserialize, Serialize};

use crate::account::{BrokerId, ParticipantType};
use crate::auction::{AuctionNotice, Pricing};
use crate::command::CommandKind;
use crate::instrument::InstrumentId;
use crate::membership::Status;
use crate::order::{AccountId, OrderId, OrderType, Side, TimeInForce};
use crate::phase::Phase;
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
    /// An account was opened.
    AccountOpened(AccountOpened),
    /// Cash was paid into an account.
    CashDeposited(CashMoved),
    /// Cash was paid out of an account.
    CashWithdrawn(CashMoved),
    /// Allowances were transferred into an account by the registry.
    HoldingsCredited(HoldingsMoved),
    /// Allowances were transferred out of an account to the registry.
    HoldingsDebited(HoldingsMoved),
    /// An instrument entered a trading phase.
    PhaseChanged(PhaseChanged),
    /// An instrument's reference price, and so its band, changed.
    ReferencePriceSet(ReferencePriceSet),
    /// An account's holding reached the large-holder share of its position
    /// limit, for surveillance.
    LargeHolder(LargeHolder),
    /// An instrument's trading day ended; its close is the next reference.
    DayClosed(DayClosed),
    /// A new trading day began, after every instrument closed.
    DayStarted(DayStarted),
    /// An instrument was listed (its spec is the command's); the band is
    /// its reference price's.
    InstrumentListed(ReferencePriceSet),
    /// A listed instrument's rules were replaced (by the command's spec);
    /// its reference price stays, and the band follows from it and the new
    /// rules.
    InstrumentRevised(ReferencePriceSet),
    /// The exchange calendar was set (to the command's).
    CalendarSet,
    /// A broker was onboarded (its name and credential are the command's).
    BrokerAdded(BrokerAdded),
    /// A broker was suspended, reinstated or closed. A suspension's
    /// cancellations follow it.
    BrokerStatusChanged(BrokerStatusChanged),
    /// An account was suspended, reinstated or closed. A suspension's
    /// cancellations follow it.
    AccountStatusChanged(AccountStatusChanged),
    /// A block offer was posted; its poster's side is reserved.
    BlockPosted(BlockPosted),
    /// A block offer was accepted, whole or in part: a deal. A
    /// [`Event::BlockTraded`] follows at once unless the deal waits for the
    /// exchange's confirmation.
    BlockAccepted(BlockAccepted),
    /// A block deal settled: a trade off the listing book, not in the close.
    BlockTraded(BlockTraded),
    /// A block offer, or a deal waiting for confirmation, ended without
    /// trading: withdrawn, expired at the end of the day, its account
    /// suspended, or refused by the exchange.
    BlockCancelled(BlockCancelled),
    /// A one-way auction was announced; the seller's quantity is locked.
    AuctionAnnounced(AuctionNotice),
    /// A bid was placed in an auction; its cash is reserved.
    BidAccepted(BidAccepted),
    /// A bid, or what its auction did not fill, was withdrawn and its cash
    /// released.
    BidCancelled(BidCancelled),
    /// A bid's price or quantity changed.
    BidAmended(BidAmended),
    /// A winning bid bought at an auction's close: a trade.
    AuctionAllocation(AuctionAllocation),
    /// An auction closed: its outcome, after its allocations and the
    /// cancellations of what it did not fill.
    AuctionClosed(AuctionClosed),
}

impl Event {
    /// Whether one journal entry's events end a trading day (they close
    /// it): what settlement reconciles at, and a snapshot after is the
    /// next day's eve.
    #[must_use]
    pub fn ends_a_day(events: &[Self]) -> bool {
        events.iter().any(|e| matches!(e, Self::DayClosed(_)))
    }
}

/// A block offer was posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockPosted {
    /// The offer's id.
    pub block_id: u64,
    /// The poster's account.
    pub account: AccountId,
    /// The instrument.
    pub instrument: InstrumentId,
    /// The poster's side.
    pub side: Side,
    /// Price in ticks.
    pub price_ticks: i64,
    /// Quantity in tonnes.
    pub quantity_t: u64,
    /// The one account that may accept it, or `None` for every account.
    pub counterparty: Option<AccountId>,
}

/// A block offer was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockAccepted {
    /// The offer.
    pub block_id: u64,
    /// The deal's own id (from the offers' counter).
    pub deal_id: u64,
    /// The accepting account.
    pub account: AccountId,
    /// Tonnes taken.
    pub quantity_t: u64,
    /// Tonnes of the offer still open; 0 ends it.
    pub remaining_t: u64,
    /// Whether the deal waits for the exchange's confirmation.
    pub pending: bool,
}

/// A block deal settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockTraded {
    /// Engine-wide trade number, shared with listing trades.
    pub trade_id: u64,
    /// Sequence number of the command that settled it.
    pub seq: u64,
    /// Time of that command, in nanoseconds since the Unix epoch.
    pub time_ns: i64,
    /// The deal.
    pub deal_id: u64,
    /// The offer it was struck from.
    pub block_id: u64,
    /// The instrument.
    pub instrument: InstrumentId,
    /// Price in ticks.
    pub price_ticks: i64,
    /// Quantity in tonnes.
    pub quantity_t: u64,
    /// The buying account.
    pub buyer_account: AccountId,
    /// The selling account.
    pub seller_account: AccountId,
    /// The poster's side (the acceptor took the other).
    pub poster_side: Side,
}

/// A block offer or a pending deal ended without trading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockCancelled {
    /// The offer's id, or the deal's.
    pub block_id: u64,
    /// The offer's poster, or the deal's acceptor.
    pub account: AccountId,
    /// The instrument.
    pub instrument: InstrumentId,
    /// That account's side.
    pub side: Side,
    /// Tonnes that ended.
    pub cancelled_t: u64,
    /// Why: requested (the poster withdrew the offer), expired (the end of
    /// the day), suspended, or refused (the exchange refused the deal).
    pub cause: CancelCause,
}

/// A bid was placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BidAccepted {
    /// The auction.
    pub auction_id: u64,
    /// The bid.
    pub bid_id: OrderId,
    /// The bidding account.
    pub account: AccountId,
    /// The broker's id for the bid (from the `Bid` command), so that every
    /// report about the bid can be addressed from its own entry.
    pub client_order_id: u64,
    /// Price in ticks.
    pub price_ticks: i64,
    /// Tonnes.
    pub quantity_t: u64,
}

/// A bid, or its unfilled part, left its auction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BidCancelled {
    /// The auction.
    pub auction_id: u64,
    /// The bid.
    pub bid_id: OrderId,
    /// The bidding account.
    pub account: AccountId,
    /// The broker's id for the bid.
    pub client_order_id: u64,
    /// Tonnes withdrawn, whose cash is released.
    pub cancelled_t: u64,
    /// `Requested` (the bidder withdrew it) or `AuctionUnfilled` (the
    /// close did not fill it).
    pub cause: CancelCause,
}

/// A bid was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BidAmended {
    /// The auction.
    pub auction_id: u64,
    /// The bid.
    pub bid_id: OrderId,
    /// The bidding account.
    pub account: AccountId,
    /// The broker's id for the bid.
    pub client_order_id: u64,
    /// New price in ticks.
    pub price_ticks: i64,
    /// New quantity in tonnes.
    pub quantity_t: u64,
    /// Whether the bid kept its time priority.
    pub priority_kept: bool,
}

/// A winning bid's fill: a trade between the bidder and the seller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuctionAllocation {
    /// Engine-wide trade number, from the same counter as listing trades.
    pub trade_id: u64,
    /// Sequence number of the `CloseAuction` command.
    pub seq: u64,
    /// Its time, in nanoseconds since the Unix epoch.
    pub time_ns: i64,
    /// The auction.
    pub auction_id: u64,
    /// The instrument.
    pub instrument: InstrumentId,
    /// The winning bid.
    pub bid_id: OrderId,
    /// The bidding account: the buyer.
    pub buyer: AccountId,
    /// The buyer's broker's id for the bid.
    pub client_order_id: u64,
    /// The auction's seller.
    pub seller: AccountId,
    /// Price paid, in ticks: the clearing price (uniform) or the bid's own.
    pub price_ticks: i64,
    /// Tonnes bought.
    pub quantity_t: u64,
}

/// An auction's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuctionClosed {
    /// The auction.
    pub auction_id: u64,
    /// The instrument.
    pub instrument: InstrumentId,
    /// The seller.
    pub seller: AccountId,
    /// Uniform price or pay-as-bid.
    pub pricing: Pricing,
    /// The lowest accepted bid's price, in ticks: under a uniform price,
    /// what every winner paid. 0 when nothing sold.
    pub clearing_ticks: i64,
    /// Tonnes sold.
    pub sold_t: u64,
    /// Tonnes unsold, returned to the seller.
    pub unsold_t: u64,
    /// Value sold, in fen.
    pub turnover_fen: i64,
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
    /// The order it named, for order commands.
    pub order_id: Option<OrderId>,
    /// Why.
    pub reason: RejectReason,
    /// The limits the command broke, for the reasons that have them
    /// ([`RejectReason::has_bounds`]): what a report quotes.
    pub bounds: Option<Bounds>,
}

/// The limits a refused value broke, as the engine held them when it
/// refused it: prices in ticks, quantities in tonnes, both inclusive,
/// `high` [`i64::MAX`] where there is no upper limit. How each reason reads
/// them is [`RejectReason::has_bounds`]'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounds {
    /// The least allowed.
    pub low: i64,
    /// The most allowed.
    pub high: i64,
}

impl Bounds {
    /// From `low` to `high`.
    #[must_use]
    pub const fn new(low: i64, high: i64) -> Self {
        Self { low, high }
    }
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
    /// The order would have traded with a resting order of its own account;
    /// what was left of it is cancelled and the resting order stays.
    SelfTrade = 4,
    /// A day order was still open at the end of the trading day.
    Expired = 5,
    /// The broker's session ended and the exchange cancels its resting
    /// orders on a disconnect ([`crate::Command::CancelOnDisconnect`]).
    Disconnected = 6,
    /// Its account, or the account's broker, was suspended. (Numbered
    /// apart from the causes above, with the membership commands.)
    Suspended = 20,
    /// The exchange refused a block deal that waited for its confirmation.
    Refused = 22,
    /// An auction bid, or its part, that the auction's close did not fill.
    AuctionUnfilled = 23,
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

/// An account was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOpened {
    /// The account.
    pub account: AccountId,
    /// Who owns it.
    pub participant: ParticipantType,
    /// The broker that acts for it.
    pub broker: BrokerId,
}

/// Cash moved into or out of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashMoved {
    /// The account.
    pub account: AccountId,
    /// Amount moved, in fen; positive.
    pub amount_fen: i64,
    /// The account's cash afterwards, in fen.
    pub cash_fen: i64,
}

/// Allowances moved into or out of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldingsMoved {
    /// The account.
    pub account: AccountId,
    /// The instrument.
    pub instrument: InstrumentId,
    /// Tonnes moved; positive.
    pub quantity_t: u64,
    /// The account's holding afterwards, in tonnes.
    pub balance_t: u64,
}

/// An instrument entered a trading phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseChanged {
    /// The instrument.
    pub instrument: InstrumentId,
    /// Its new phase.
    pub phase: Phase,
}

/// An instrument's reference price and band: set, or given by a listing
/// or a revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferencePriceSet {
    /// The instrument.
    pub instrument: InstrumentId,
    /// The reference price in ticks.
    pub price_ticks: i64,
    /// Lowest price accepted, in ticks.
    pub floor_ticks: i64,
    /// Highest price accepted, in ticks.
    pub ceiling_ticks: i64,
}

/// An account's holding crossed the large-holder threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LargeHolder {
    /// The account.
    pub account: AccountId,
    /// The instrument.
    pub instrument: InstrumentId,
    /// Its holding now, in tonnes.
    pub balance_t: u64,
    /// The threshold it reached, in tonnes.
    pub threshold_t: u64,
}

/// The day's figures for one instrument. On a day without trades, open,
/// high, low and close are all the unchanged reference price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayClosed {
    /// The trading day that ended (the engine counts them from 0).
    pub trading_day: u32,
    /// The instrument.
    pub instrument: InstrumentId,
    /// Price of the first trade, in ticks.
    pub open_ticks: i64,
    /// Highest trade price, in ticks.
    pub high_ticks: i64,
    /// Lowest trade price, in ticks.
    pub low_ticks: i64,
    /// Close: the day's volume-weighted average price, rounded half up to
    /// the tick. It becomes the next day's reference price.
    pub close_ticks: i64,
    /// Tonnes traded.
    pub volume_t: u64,
    /// Value traded, in fen.
    pub turnover_fen: i64,
    /// Number of trades.
    pub trade_count: u64,
}

/// A new trading day began.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayStarted {
    /// The new trading day's number.
    pub trading_day: u32,
}

/// A broker was onboarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerAdded {
    /// The broker.
    pub broker: BrokerId,
}

/// A broker's standing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerStatusChanged {
    /// The broker.
    pub broker: BrokerId,
    /// Its standing now.
    pub status: Status,
}

/// An account's standing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountStatusChanged {
    /// The account.
    pub account: AccountId,
    /// Its standing now.
    pub status: Status,
}
