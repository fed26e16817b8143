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
//! - [`reject`]: stable numeric [`RejectReason`]s.
//! - [`book`]: one instrument's [`Book`]: dense price ladder, order slab,
//!   intrusive FIFOs, id index, cached best prices.
//! - [`matching`]: price-time matching of an incoming order against a book.
//! - [`engine`]: [`Engine`], which routes commands to books, validates them
//!   and decides what happens to each order's remainder.
//!
//! Data flows `Command → Engine::apply → (validation) → Book/matching →
//! Vec<Event>`.
//!
//! # Units
//!
//! Prices are `i64` ticks of 0.01 CNY (one fen); quantities are `u64` whole
//! tonnes; an amount `price_ticks × quantity_t` is in fen.

pub mod book;
pub mod command;
pub mod engine;
pub mod event;
pub mod instrument;
pub(crate) mod matching;
pub mod order;
pub mod reject;

pub use book::{Book, LevelView, RestingOrder};
pub use command::{Command, CommandKind, NewOrder, Stamp};
pub use engine::{Engine, EngineConfig};
pub use event::{Accepted, Amended, CancelCause, Cancelled, Event, Rejected, Trade};
pub use instrument::{
    price_to_ticks, ticks_to_price, InstrumentId, InstrumentKind, InstrumentSpec, PriceError,
    PriceRules, SpecError,
};
pub use order::{AccountId, OrderId, OrderType, Side, TimeInForce};
pub use reject::RejectReason;
