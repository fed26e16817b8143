//! Commands: everything that can change the engine's state.
//!
//! The sequencer stamps each command with a [`Stamp`] (sequence number and
//! time) before [`crate::Engine::apply`] sees it; the engine never reads a
//! clock.

use serde::{Deserialize, Serialize};

use crate::account::{BrokerId, ParticipantType};
use crate::auction::AuctionNotice;
use crate::block::BlockRules;
use crate::calendar::Calendar;
use crate::instrument::{InstrumentId, InstrumentSpec};
use crate::membership::{NewBroker, Status};
use crate::order::{AccountId, OrderId, OrderType, Side, TimeInForce};
use crate::phase::Phase;

/// Sequence number and time given to a command by the sequencer.
///
/// The engine takes them on trust: `seq` should grow by one a command
/// (the journal and replay require it; a `Trade` repeats it), and
/// `time_ns` never go back (the trading day, T+1, block hours and auction
/// windows read it). Nothing checks either (`docs/ENGINE.md`, *The engine
/// as a library*).
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
    /// Id of the new order; must exceed every id accepted before (else
    /// 301 `DuplicateOrderId`). Dense ids keep the book's id index in its
    /// ring (`docs/ENGINE.md`, *The engine as a library*).
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
    /// The broker's own id for this order, unique per broker and trading
    /// day. The engine does not look at it; it is journaled with the order
    /// so that the gateway can rebuild its reports to the broker from the
    /// journal alone.
    pub client_order_id: u64,
}

/// A listing-agreement take (挂牌协议): the taker names one resting order
/// of the opposite side by its id (the public order id the market-data
/// feed shows) and trades part or all of it at that order's price. The
/// rules are in `docs/ENGINE.md`, *Listing-agreement takes*.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Take {
    /// The taker's own id for the take, an order id like a new order's:
    /// it must exceed every id accepted before.
    pub order_id: OrderId,
    /// The account the take trades for.
    pub account: AccountId,
    /// The instrument's id.
    pub instrument: InstrumentId,
    /// The taker's side: a buy takes a resting sell, a sell a resting buy.
    pub side: Side,
    /// The resting order to trade with.
    pub target: OrderId,
    /// Tonnes to trade: at most what the target has open.
    pub quantity_t: u64,
    /// The broker's own id for the take, unique per broker and trading
    /// day; opaque to the engine, journaled like a new order's.
    pub client_order_id: u64,
}

/// A sealed bid in a one-way auction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewBid {
    /// Id of the bid, from the order ids: it must exceed every order or
    /// bid id accepted before.
    pub bid_id: OrderId,
    /// The auction.
    pub auction_id: u64,
    /// The bidding account.
    pub account: AccountId,
    /// Price in ticks; cash is reserved at it.
    pub price_ticks: i64,
    /// Tonnes.
    pub quantity_t: u64,
    /// The broker's own id for the bid, unique per broker and trading day
    /// with its orders; journaled for the broker's reports, like an
    /// order's.
    pub client_order_id: u64,
}

/// A command to the engine.
///
/// The market's definition (its instruments and calendar) is made of
/// commands too, so that a journal describes its own market: the first
/// entries of every journal are a [`Command::SetCalendar`] and one
/// [`Command::ListInstrument`] per instrument. Those carry their data
/// boxed, which keeps a command as small as an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Enter a new order.
    Submit(NewOrder),
    /// Cancel a resting order.
    Cancel {
        /// Instrument of the order.
        instrument: InstrumentId,
        /// The order to cancel.
        order_id: OrderId,
        /// Who asked, when a broker did (the gateway always says).
        requester: Option<Requester>,
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
        /// Who asked, when a broker did (the gateway always says).
        requester: Option<Requester>,
    },
    /// Move an instrument into a trading phase (from the calendar, or an
    /// operator's halt and resume).
    SetPhase {
        /// The instrument.
        instrument: InstrumentId,
        /// Its new phase.
        phase: Phase,
    },
    /// End the trading day: expire every resting order, close every
    /// instrument at its VWAP, make that the next reference price, release
    /// T+1 locks and start the next trading day. Every instrument ends
    /// closed.
    EndOfDay {
        /// The trading date it closes, `YYYYMMDD`, as the calendar dates
        /// it (journaled with tag 17). `None` only in journals written
        /// before end of days were dated (tag 4): a replay then dates the
        /// day by the entry's time.
        trading_date: Option<u32>,
    },
    /// Open an empty account.
    OpenAccount {
        /// The new account's id.
        account: AccountId,
        /// Who owns it.
        participant: ParticipantType,
        /// The broker that acts for it.
        broker: BrokerId,
    },
    /// Add cash to an account.
    Deposit {
        /// The account.
        account: AccountId,
        /// Amount in fen; positive.
        amount_fen: i64,
    },
    /// Take unreserved cash out of an account.
    Withdraw {
        /// The account.
        account: AccountId,
        /// Amount in fen; positive.
        amount_fen: i64,
    },
    /// Add allowances to an account (a registry transfer in).
    CreditHoldings {
        /// The account.
        account: AccountId,
        /// The instrument.
        instrument: InstrumentId,
        /// Tonnes; positive.
        quantity_t: u64,
    },
    /// Take free allowances out of an account (a registry transfer out).
    DebitHoldings {
        /// The account.
        account: AccountId,
        /// The instrument.
        instrument: InstrumentId,
        /// Tonnes; positive.
        quantity_t: u64,
    },
    /// Set an instrument's reference price, and with it today's band. Only
    /// while the instrument is not trading and its book is empty.
    SetReferencePrice {
        /// The instrument.
        instrument: InstrumentId,
        /// New reference price in ticks.
        price_ticks: i64,
    },
    /// List a new instrument. Its id is the number of instruments listed
    /// before it; its reference price is the spec's.
    ListInstrument(Box<InstrumentSpec>),
    /// Replace a listed instrument's rules (tick, lot, sizes, band, book
    /// limit, eligibility and holding rules) with those of `spec`. Only
    /// while the instrument is not trading and its book is empty; the
    /// symbol and kind stay, and so does today's reference price (set one
    /// with [`Command::SetReferencePrice`]).
    ReviseInstrument {
        /// The instrument.
        instrument: InstrumentId,
        /// Its new rules.
        spec: Box<InstrumentSpec>,
    },
    /// Set the exchange calendar that dates trading days and schedules the
    /// phases. The engine only keeps it, for replays and restarts: it never
    /// reads a clock.
    SetCalendar(Box<Calendar>),
    /// Move cash or allowances into or out of an account under an outside
    /// reference id (the settlement bank's or the registry's), once: a
    /// transfer whose reference was applied before is rejected and changes
    /// nothing, so a re-sent file is harmless.
    Transfer(Box<Transfer>),
    /// Onboard a broker: its id, name and a salted hash of its secret.
    AddBroker(Box<NewBroker>),
    /// Suspend, reinstate or close a broker (see [`crate::membership`]).
    SetBrokerStatus {
        /// The broker.
        broker: BrokerId,
        /// Its new standing.
        status: Status,
    },
    /// Suspend, reinstate or close an account (see [`crate::membership`]).
    SetAccountStatus {
        /// The account.
        account: AccountId,
        /// Its new standing.
        status: Status,
    },
    /// Trade with one named resting order at its price (a
    /// listing-agreement take).
    Take(Take),
    /// Post a block offer (see [`crate::block`]).
    PostBlock(NewBlock),
    /// Accept an open block offer, whole or in part.
    AcceptBlock {
        /// The offer.
        block_id: u64,
        /// The accepting account.
        account: AccountId,
        /// Tonnes taken.
        quantity_t: u64,
        /// The acceptor's broker's own id for this request (journaled for
        /// its reports; the engine does not look at it).
        client_order_id: u64,
    },
    /// Withdraw an open block offer; only its poster's account may.
    CancelBlock {
        /// The offer.
        block_id: u64,
        /// The account asking: the offer's poster.
        account: AccountId,
        /// The poster's broker's own id for this request (journaled for its
        /// reports; the engine does not look at it).
        client_order_id: u64,
    },
    /// (Operators) confirm a block deal that waits for the exchange's
    /// confirmation: it settles.
    ConfirmBlock {
        /// The deal.
        deal_id: u64,
    },
    /// (Operators) refuse a block deal that waits for the exchange's
    /// confirmation: both sides get their reservations back.
    RefuseBlock {
        /// The deal.
        deal_id: u64,
    },
    /// Replace an instrument's block-trading rules (for offers posted from
    /// now on; open offers keep their terms).
    SetBlockRules {
        /// The instrument.
        instrument: InstrumentId,
        /// Its new rules.
        rules: Box<BlockRules>,
    },
    /// Announce a one-way auction (see [`crate::auction`]); the seller's
    /// quantity is locked until the close.
    AnnounceAuction(Box<AuctionNotice>),
    /// Place a sealed bid in an open auction.
    Bid(NewBid),
    /// Withdraw a bid while the window is open.
    CancelBid {
        /// The auction.
        auction_id: u64,
        /// The bid.
        bid_id: OrderId,
        /// Who asked, when a broker did.
        requester: Option<Requester>,
    },
    /// Change a bid's price or quantity while the window is open. Lowering
    /// the quantity at the same price keeps its time priority; any other
    /// change loses it.
    AmendBid {
        /// The auction.
        auction_id: u64,
        /// The bid.
        bid_id: OrderId,
        /// New price in ticks.
        price_ticks: i64,
        /// New quantity in tonnes.
        quantity_t: u64,
        /// Who asked, when a broker did.
        requester: Option<Requester>,
    },
    /// Close an auction whose window has ended: allocate, settle, release.
    CloseAuction {
        /// The auction.
        auction_id: u64,
    },
    /// (An operator's) withdraw an open auction before its window ends:
    /// nothing is sold, every bid is cancelled as unfilled, and the
    /// seller's allowances are released, as a close that sells nothing.
    WithdrawAuction {
        /// The auction.
        auction_id: u64,
    },
    /// (The gateway's) cancel every resting order of the broker's
    /// accounts, because its session ended and the exchange cancels on
    /// disconnect: each is [`crate::CancelCause::Disconnected`], book by
    /// book, bids then asks, in priority order. Block offers and bids
    /// stay.
    CancelOnDisconnect {
        /// The broker whose session ended.
        broker: BrokerId,
    },
}

/// A new block offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewBlock {
    /// The poster's account.
    pub account: AccountId,
    /// The instrument's id.
    pub instrument: InstrumentId,
    /// The poster's side.
    pub side: Side,
    /// Price in ticks of 0.01 CNY.
    pub price_ticks: i64,
    /// Quantity in tonnes.
    pub quantity_t: u64,
    /// The one account that may accept it, or `None` for every account.
    pub counterparty: Option<AccountId>,
    /// The poster's broker's own id for this request (journaled for its
    /// reports; the engine does not look at it).
    pub client_order_id: u64,
}

/// A transfer into or out of an account, under a reference id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// The outside reference id: 1 to [`Transfer::MAX_REFERENCE_LEN`]
    /// bytes, unique within [`crate::REFERENCE_DAYS`] trading days.
    pub reference: String,
    /// The account.
    pub account: AccountId,
    /// What moves.
    pub asset: Asset,
    /// Into the account or out of it.
    pub direction: Direction,
    /// Fen of cash or tonnes of allowances; positive.
    pub amount: u64,
}

impl Transfer {
    /// The longest reference id, in bytes.
    pub const MAX_REFERENCE_LEN: usize = 64;

    /// Everything but the reference: what the engine keeps of an applied
    /// transfer, to tell a re-sent one from a reference reused for
    /// another.
    #[must_use]
    pub const fn terms(&self) -> TransferTerms {
        TransferTerms {
            account: self.account,
            asset: self.asset,
            direction: self.direction,
            amount: self.amount,
        }
    }
}

/// A [`Transfer`] without its reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransferTerms {
    /// The account.
    pub account: AccountId,
    /// What moves.
    pub asset: Asset,
    /// Into the account or out of it.
    pub direction: Direction,
    /// Fen of cash or tonnes of allowances.
    pub amount: u64,
}

/// What a transfer moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Asset {
    /// Cash, in fen: a deposit or a withdrawal.
    Cash,
    /// Allowances of an instrument, in tonnes: a registry transfer.
    Allowances(InstrumentId),
}

/// Which way a transfer goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Direction {
    /// Into the account.
    In = 0,
    /// Out of the account (only what no open order reserves).
    Out = 1,
}

impl Command {
    /// The order a command names, for order commands.
    #[must_use]
    pub const fn order_id(&self) -> Option<OrderId> {
        match self {
            Self::Submit(order) => Some(order.order_id),
            Self::Take(take) => Some(take.order_id),
            Self::Cancel { order_id, .. } | Self::Amend { order_id, .. } => Some(*order_id),
            Self::Bid(bid) => Some(bid.bid_id),
            Self::CancelBid { bid_id, .. } | Self::AmendBid { bid_id, .. } => Some(*bid_id),
            _ => None,
        }
    }

    /// Which kind of command this is.
    #[must_use]
    pub const fn kind(&self) -> CommandKind {
        match self {
            Self::Submit(_) => CommandKind::Submit,
            Self::Cancel { .. } => CommandKind::Cancel,
            Self::Amend { .. } => CommandKind::Amend,
            Self::SetPhase { .. } => CommandKind::SetPhase,
            Self::EndOfDay { trading_date: None } => CommandKind::EndOfDay,
            Self::EndOfDay {
                trading_date: Some(_),
            } => CommandKind::DatedEndOfDay,
            Self::OpenAccount { .. } => CommandKind::OpenAccount,
            Self::Deposit { .. } => CommandKind::Deposit,
            Self::Withdraw { .. } => CommandKind::Withdraw,
            Self::CreditHoldings { .. } => CommandKind::CreditHoldings,
            Self::DebitHoldings { .. } => CommandKind::DebitHoldings,
            Self::SetReferencePrice { .. } => CommandKind::SetReferencePrice,
            Self::ListInstrument(_) => CommandKind::ListInstrument,
            Self::ReviseInstrument { .. } => CommandKind::ReviseInstrument,
            Self::SetCalendar(_) => CommandKind::SetCalendar,
            Self::Transfer(_) => CommandKind::Transfer,
            Self::AddBroker(_) => CommandKind::AddBroker,
            Self::SetBrokerStatus { .. } => CommandKind::SetBrokerStatus,
            Self::SetAccountStatus { .. } => CommandKind::SetAccountStatus,
            Self::Take(_) => CommandKind::Take,
            Self::PostBlock(_) => CommandKind::PostBlock,
            Self::AcceptBlock { .. } => CommandKind::AcceptBlock,
            Self::CancelBlock { .. } => CommandKind::CancelBlock,
            Self::ConfirmBlock { .. } => CommandKind::ConfirmBlock,
            Self::RefuseBlock { .. } => CommandKind::RefuseBlock,
            Self::SetBlockRules { .. } => CommandKind::SetBlockRules,
            Self::AnnounceAuction(_) => CommandKind::AnnounceAuction,
            Self::Bid(_) => CommandKind::Bid,
            Self::CancelBid { .. } => CommandKind::CancelBid,
            Self::AmendBid { .. } => CommandKind::AmendBid,
            Self::CloseAuction { .. } => CommandKind::CloseAuction,
            Self::WithdrawAuction { .. } => CommandKind::WithdrawAuction,
            Self::CancelOnDisconnect { .. } => CommandKind::CancelOnDisconnect,
        }
    }
}

/// The broker that asked for a cancel or an amend, and its id for the
/// order. The engine does not look at it: it is journaled so that the
/// answer can be addressed from the journal alone, also when the order is
/// done by then and nothing else names its broker (docs/JOURNAL.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    /// The broker.
    pub broker: BrokerId,
    /// Its client order id for the order.
    pub client_order_id: u64,
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
    /// [`Command::SetPhase`].
    SetPhase = 3,
    /// [`Command::EndOfDay`] without a date (journals written before
    /// dates were journaled).
    EndOfDay = 4,
    /// [`Command::OpenAccount`].
    OpenAccount = 5,
    /// [`Command::Deposit`].
    Deposit = 6,
    /// [`Command::Withdraw`].
    Withdraw = 7,
    /// [`Command::CreditHoldings`].
    CreditHoldings = 8,
    /// [`Command::DebitHoldings`].
    DebitHoldings = 9,
    /// [`Command::SetReferencePrice`].
    SetReferencePrice = 10,
    /// [`Command::ListInstrument`].
    ListInstrument = 11,
    /// [`Command::ReviseInstrument`].
    ReviseInstrument = 12,
    /// [`Command::SetCalendar`].
    SetCalendar = 13,
    /// [`Command::Transfer`].
    Transfer = 14,
    /// [`Command::EndOfDay`] with the trading date it closes.
    DatedEndOfDay = 17,
    /// [`Command::AddBroker`]. (Tags 20 to 29 are membership's.)
    AddBroker = 20,
    /// [`Command::SetBrokerStatus`].
    SetBrokerStatus = 21,
    /// [`Command::SetAccountStatus`].
    SetAccountStatus = 22,
    /// [`Command::CancelOnDisconnect`].
    CancelOnDisconnect = 23,
    /// [`Command::Take`]. (Tags 30 to 39 are listing-agreement takes'.)
    Take = 30,
    /// [`Command::PostBlock`]. (Tags 40 to 49 are block trading's.)
    PostBlock = 40,
    /// [`Command::AcceptBlock`].
    AcceptBlock = 41,
    /// [`Command::CancelBlock`].
    CancelBlock = 42,
    /// [`Command::ConfirmBlock`].
    ConfirmBlock = 43,
    /// [`Command::RefuseBlock`].
    RefuseBlock = 44,
    /// [`Command::SetBlockRules`].
    SetBlockRules = 45,
    /// [`Command::AnnounceAuction`]. (Tags 50 to 59 are one-way
    /// auctions'.)
    AnnounceAuction = 50,
    /// [`Command::Bid`].
    Bid = 51,
    /// [`Command::CancelBid`].
    CancelBid = 52,
    /// [`Command::AmendBid`].
    AmendBid = 53,
    /// [`Command::CloseAuction`].
    CloseAuction = 54,
    /// [`Command::WithdrawAuction`].
    WithdrawAuction = 57,
}
