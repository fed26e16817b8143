//! cetx-engine: order books, matching and exchange rules for China's carbon
//! market (CEA allowances, one instrument per vintage, and CCER).
//!
//! The engine is a deterministic state machine. A sequencer stamps each
//! [`Command`] with a sequence number and a time; [`Engine::apply`] validates
//! it, matches it and appends [`Event`]s. No clock, no randomness, no
//! sockets: the same stamped commands give the same events on any machine.
//!
//! # Layout
//!
//! - [`instrument`]: instrument specs from config, compiled into the integer
//!   [`PriceRules`] (tick, lot, size limits, today's band); decimal ↔ tick
//!   conversions at the edge.
//! - [`order`]: ids, sides, order types, times in force.
//! - [`command`]: what comes in ([`Command`], [`Stamp`]).
//! - [`event`]: what goes out ([`Event`]: accepted, rejected, trade,
//!   cancelled, amended).
//! - [`reject`]: stable numeric [`RejectReason`]s; `bounds` (private): the
//!   limits a refused command broke, for its `Rejected` event.
//! - [`book`]: one instrument's [`Book`]: dense price ladder, order slab,
//!   intrusive FIFOs, id index, cached best prices.
//! - `matching` (private): price-time matching of an incoming order against
//!   a book.
//! - [`account`]: accounts, participant types, cash and holdings.
//! - [`auction`]: one-way auctions (单向竞价): announcement, sealed bids,
//!   the close's allocation and settlement.
//! - [`membership`]: brokers onboarded by command, and the standing
//!   (active, suspended, closed) of brokers and accounts.
//! - [`phase`]: trading phases; [`calendar`]: the pure schedule that turns a
//!   time into the phase and end-of-day commands due.
//! - [`engine`]: [`Engine`], which routes each command to:
//!   - `trading`: submit, cancel, amend, with the pre-trade checks of
//!     `risk` (eligibility, holding rules, position limit, full
//!     pre-funding) and settlement of each trade between two accounts;
//!   - `takes`: listing-agreement takes (挂牌协议), a trade with one named
//!     resting order at its price, under the same checks;
//!   - `admin`: accounts, cash and allowance transfers, phases, reference
//!     prices;
//!   - [`end_of_day`]: expiry, the VWAP close, the next day's band, T+1
//!     release, from each instrument's `day_stats` ([`DayStats`]).
//!
//! - [`histogram`]: power-of-two buckets in atomics, for the operator's
//!   metrics (journal sync latency, group-commit size, engine turn time).
//! - [`journal`]: the durable record of every stamped command and its
//!   events: the on-disk format and codec, the group-commit writer thread,
//!   the verifying reader and a follower for live journals.
//! - [`timer_slack`]: sleeps that end when asked, for the threads whose
//!   sleeps are on a latency's path.
//!
//! - [`settlement`]: a [`settlement::Ledger`] that reads journal entries and
//!   keeps balances, day figures and one delivery-versus-payment clearing
//!   row per trade, and reconciles them with the engine's state; the
//!   report files written from it as CSV or JSON; and
//!   [`settlement::run()`], `cetx replay` as a library (the binary passes
//!   in the config, calendar and progress callback).
//!
//! Data flows `Command → Engine::apply → (checks) → Book/matching →
//! settlement → Vec<Event>`, then `(Stamp, Command, [Event]) →
//! JournalWriter → segment files → JournalReader → (seq, Event)`.
//!
//! # Units
//!
//! Prices are `i64` ticks of 0.01 CNY (one fen); quantities are `u64` whole
//! tonnes; an amount `price_ticks × quantity_t` is in fen.

pub mod account;
mod admin;
pub mod auction;
mod auction_trading;
pub mod block;
mod block_trading;
pub mod book;
mod bounds;
pub mod calendar;
pub mod cny;
pub mod command;
mod day_stats;
pub mod definition;
pub mod end_of_day;
pub mod engine;
pub mod event;
pub mod histogram;
pub mod instrument;
pub mod journal;
mod matching;
pub mod membership;
mod membership_commands;
pub mod order;
mod participant;
pub mod phase;
pub mod reject;
mod replay;
mod risk;
pub mod settlement;
pub mod state;
mod takes;
pub mod timer_slack;
mod trading;
mod why_refused;

pub use account::{Account, Accounts, BrokerId, Holding, ParticipantType};
pub use admin::REFERENCE_DAYS;
pub use auction::{AuctionBid, AuctionNotice, Auctions, OpenAuction, Pricing};
pub use block::{BlockDeal, BlockOffer, BlockRules, Blocks};
pub use book::{Book, LevelView, RestingOrder};
pub use calendar::{Calendar, Progress, Resumed, Session, Transition};
pub use cny::{parse_cny, NotCny};
pub use command::{
    Asset, Command, CommandKind, Direction, NewBid, NewBlock, NewOrder, Requester, Stamp, Take,
    Transfer, TransferTerms,
};
pub use day_stats::{vwap_ticks, DayStats};
pub use definition::{Difference, MarketDefinition};
pub use engine::{Engine, EngineConfig};
pub use event::{
    Accepted, AccountOpened, AccountStatusChanged, Amended, AuctionAllocation, AuctionClosed,
    BidAccepted, BidAmended, BidCancelled, BlockAccepted, BlockCancelled, BlockPosted, BlockTraded,
    Bounds, BrokerAdded, BrokerStatusChanged, CancelCause, Cancelled, CashMoved, DayClosed,
    DayStarted, Event, HoldingsMoved, LargeHolder, PhaseChanged, ReferencePriceSet, Rejected,
    Trade,
};
pub use instrument::{
    price_to_ticks, ticks_to_price, InstrumentId, InstrumentKind, InstrumentSpec, Policy,
    PriceError, PriceRules, SpecError, CCER_TAKE_LEVELS, CEA_TAKE_LEVELS, DEFAULT_MAX_PRICE_LEVELS,
    DEFAULT_MIN_AUCTION_T, MAX_FILLS, MAX_OPEN_TOTAL, MAX_ORDERS, MAX_PRICE_LEVELS,
};
pub use journal::{JournalBatch, JournalEntry, JournalError, JournalReader, JournalWriter};
pub use membership::{Credential, Membership, NewBroker, Status};
pub use order::{AccountId, OrderId, OrderType, Side, TimeInForce};
pub use phase::Phase;
pub use reject::RejectReason;
pub use replay::ReplayError;
/// The CNY amounts of [`InstrumentSpec`] (tick, reference price), so that
/// a crate driving the engine needs no `rust_decimal` of its own.
pub use rust_decimal::Decimal;
pub use state::{AccountState, BlockState, EngineState, InstrumentState, StateError};
