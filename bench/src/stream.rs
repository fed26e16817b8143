//! Any order stream in the QuantCup feed's format through `Engine::apply`,
//! beside the contest's winner (C): the same messages to both, their traded
//! quantities and their speeds side by side (`cetx-stream`).
//!
//! The format is the QuantCup 2011 score feed's ([`crate::quantcup`]): a CSV
//! file with the header `trader_id,side,price,qty`, then one message a
//! line. `side` is `Bid` or `Ask`; `price` is in cents (cetx's ticks of
//! 0.01 CNY); a line with price 0 is a cancel, and its `qty` names the
//! order: the n-th limit order of the stream, from 1. Trader ids run from
//! 0 to 255.
//!
//! # The market a stream runs in
//!
//! Every rule stays on, with the exchange's defaults, except where the
//! stream needs room, as a real market would be configured for it
//! ([`market_for`]):
//!
//! - The reference price is the middle of the stream's limit prices, and
//!   the band the exchange's ±10%, or wider where the prices need it (up
//!   to ±99.99%: a band is below 100%). A stream that a band cannot hold
//!   is refused, naming its lowest and highest price.
//! - Orders may be as large as the stream's largest (at least 99,999 t,
//!   the CEA default); the book holds as many orders as the stream has
//!   limit orders (the next power of two, at most 2^24), and one account or
//!   one broker may own all of them.
//! - Each trader trades from two accounts, one to buy and one to sell
//!   ([`crate::quantcup::account`]), so that self-trade prevention stays on
//!   and still lets a trader's buy meet its own sell, as the contest's
//!   books do. Every account is a compliance entity of broker 1 with
//!   [`crate::flow::ACCOUNT_CASH_FEN`] of cash and
//!   [`crate::flow::ACCOUNT_HOLDINGS_T`] of allowances, credited before
//!   trading (so T+1 holds none of them): pre-funding runs on every order,
//!   and a stream that outspends them is refused 202 and counted.
//! - A cancel of an order that no longer rests, or has not arrived, is
//!   refused 302 `UnknownOrder` and counted; the contest's books ignore it.
//!
//! The winner has no rules: where cetx refuses or cancels something, the
//! two may trade different quantities, and [`Outcome`] says what cetx
//! refused and cancelled, and why.

use std::collections::BTreeMap;
use std::path::Path;

use cetx_engine::{
    CancelCause, Command, Decimal, Engine, EngineConfig, Event, InstrumentSpec, RejectReason,
    Stamp, DEFAULT_MAX_PRICE_LEVELS, MAX_ORDERS, MAX_PRICE_LEVELS,
};

use crate::flow::{open_market, INSTRUMENT};
use crate::quantcup::{self, Message};

/// The exchange's default band: ±10%.
const DEFAULT_BAND_BPS: u32 = 1_000;

/// The widest band: ±99.99%.
const MAX_BAND_BPS: u32 = 9_999;

/// Why a stream cannot run.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The file could not be read, or a line is not a message.
    #[error(transparent)]
    Read(#[from] quantcup::FeedError),
    /// No limit order, so no price to centre a market on.
    #[error("the stream has no limit order")]
    NoLimitOrder,
    /// A limit price that is not positive.
    #[error("message {number}: price {price_ticks} cents is not positive")]
    Price {
        /// Its place in the stream, from 1.
        number: usize,
        /// The price, in cents.
        price_ticks: i64,
    },
    /// The prices spread wider than any band around one reference price.
    #[error(
        "prices from {lowest} to {highest} cents: no band around one reference price holds both (a band is whole basis points below 100%, at most ±99.99%: the highest price at most 19,999 times the lowest)"
    )]
    Band {
        /// The lowest limit price, in cents.
        lowest: i64,
        /// The highest limit price, in cents.
        highest: i64,
    },
    /// The engine refused the market built for the stream (a band of
    /// more price levels than a book may have).
    #[error(transparent)]
    Spec(#[from] cetx_engine::SpecError),
}

/// Reads a stream from `path` ([`crate::quantcup::load_from`]).
///
/// # Errors
/// [`StreamError::Read`] when the file cannot be read or a line is not a
/// message.
pub fn load(path: &Path) -> Result<Vec<Message>, StreamError> {
    Ok(quantcup::load_from(path)?)
}

/// A note for a stream of `limits` limit orders on `spec`'s market, when
/// they are more than its book holds at once: the most a book holds is
/// 2^24, so past that many resting cetx refuses what a book without the
/// limit takes, and their traded quantities may differ.
#[must_use]
pub fn room_note(limits: usize, spec: &InstrumentSpec) -> Option<String> {
    (limits > usize::try_from(spec.max_orders).unwrap_or(usize::MAX)).then(|| {
        format!(
            "note: {limits} limit orders, more than a book holds at once ({}): once that many rest, each order that would rest is refused 210 BrokerOrderLimit, as the exchange's book refuses it, where a book without the limit would take it",
            spec.max_orders
        )
    })
}

/// The one instrument a stream trades in: a `CEA2025` with room for the
/// stream (module docs).
///
/// # Errors
/// [`StreamError::NoLimitOrder`], [`StreamError::Price`] and
/// [`StreamError::Band`] for streams no market holds;
/// [`StreamError::Spec`], the engine's refusal of the market around the
/// middle price, when no reference price near it gives one it takes.
pub fn market_for(stream: &[Message]) -> Result<InstrumentSpec, StreamError> {
    let mut prices = None::<(i64, i64)>;
    let mut limits: u64 = 0;
    let mut largest_t = 0;
    for (index, message) in stream.iter().enumerate() {
        if let Message::Limit {
            price_ticks,
            quantity_t,
            ..
        } = *message
        {
            if price_ticks <= 0 {
                return Err(StreamError::Price {
                    number: index + 1,
                    price_ticks,
                });
            }
            let (low, high) = prices.unwrap_or((price_ticks, price_ticks));
            prices = Some((low.min(price_ticks), high.max(price_ticks)));
            limits += 1;
            largest_t = largest_t.max(quantity_t);
        }
    }
    let (lowest, highest) = prices.ok_or(StreamError::NoLimitOrder)?;
    let middle = lowest + (highest - lowest) / 2;
    let mut spec = InstrumentSpec::cea(2025, Decimal::new(middle, 2));
    spec.max_order_t = spec.max_order_t.max(largest_t);
    spec.max_orders = u32::try_from(limits.max(1).next_power_of_two())
        .unwrap_or(MAX_ORDERS)
        .min(MAX_ORDERS);
    spec.max_orders_per_account = Some(spec.max_orders);
    spec.max_orders_per_broker = Some(spec.max_orders);
    spec.max_price_levels = Some(MAX_PRICE_LEVELS);
    // The narrowest band from ±10% up that holds every price, around the
    // middle price or a tick either side of it (the engine rounds the
    // band's edges, and at a few cents a tick matters: 1 and 2 cents fit
    // ±50% around 2, not around 1), with the levels it needs.
    // A reference whose band the engine refuses (more levels than a book
    // holds, say) gives way to the next one tried: a tick lower may need
    // one level fewer. If none fits, the first refusal says why.
    let mut refused = None;
    for band_bps in DEFAULT_BAND_BPS..=MAX_BAND_BPS {
        spec.band_bps = band_bps;
        for reference_ticks in [middle, middle + 1, middle - 1] {
            if reference_ticks <= 0 {
                continue;
            }
            spec.reference_price = Decimal::new(reference_ticks, 2);
            let rules = match spec.rules() {
                Ok(rules) => rules,
                Err(error) => {
                    refused.get_or_insert(error);
                    continue;
                }
            };
            if rules.floor_ticks <= lowest && highest <= rules.ceiling_ticks {
                let levels = (rules.ceiling_ticks - rules.floor_ticks) / rules.step_ticks + 1;
                let levels = u32::try_from(levels).unwrap_or(MAX_PRICE_LEVELS);
                spec.max_price_levels = Some(levels.max(DEFAULT_MAX_PRICE_LEVELS));
                return Ok(spec);
            }
        }
    }
    Err(refused.map_or(StreamError::Band { lowest, highest }, StreamError::from))
}

/// What cetx did with a stream, replayed once from an open market.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Tonnes traded.
    pub traded_t: u64,
    /// Trades.
    pub trades: u64,
    /// Tonnes each limit order traded, as taker or as maker: the n-th
    /// limit order's at `n - 1`.
    pub traded_by_order: Vec<u64>,
    /// Refusals, by reason, in the order of their codes.
    pub refused: Vec<(RejectReason, u64)>,
    /// Orders or remainders the engine cancelled on its own (self-trade
    /// prevention, a full book…), by cause, in the order of their codes;
    /// a cancel the stream asked for is not one of them.
    pub cancelled: Vec<(CancelCause, u64)>,
    /// Orders resting at the end.
    pub resting: usize,
}

/// An engine for `spec` after [`crate::flow::genesis`], prefaulted.
#[must_use]
pub fn open(spec: &InstrumentSpec) -> Engine {
    let mut engine = open_market(&EngineConfig {
        instruments: vec![spec.clone()],
    });
    engine.prefault();
    engine
}

/// Replays `commands` on `engine`, noting what each did.
#[must_use]
pub fn outcome(mut engine: Engine, commands: &[(Command, Stamp)]) -> Outcome {
    let mut events = Vec::new();
    let mut outcome = Outcome::default();
    let mut order_nth = BTreeMap::new();
    for (command, stamp) in commands {
        if let Command::Submit(order) = command {
            order_nth.insert(order.order_id, outcome.traded_by_order.len());
            outcome.traded_by_order.push(0);
        }
        engine.apply(command, *stamp, &mut events);
        for event in &events {
            match event {
                Event::Trade(trade) => {
                    outcome.traded_t += trade.quantity_t;
                    outcome.trades += 1;
                    for id in [trade.maker_order_id, trade.taker_order_id] {
                        if let Some(&n) = order_nth.get(&id) {
                            outcome.traded_by_order[n] += trade.quantity_t;
                        }
                    }
                }
                Event::Rejected(rejected) => count(&mut outcome.refused, rejected.reason),
                Event::Cancelled(cancelled) if cancelled.cause != CancelCause::Requested => {
                    count(&mut outcome.cancelled, cancelled.cause);
                }
                _ => {}
            }
        }
        events.clear();
    }
    outcome.resting = engine.book(INSTRUMENT).map_or(0, |book| book.len());
    outcome.refused.sort_by_key(|(reason, _)| reason.code());
    outcome.cancelled.sort_by_key(|&(cause, _)| cause as u8);
    outcome
}

/// One more of `what` in `counts`.
fn count<T: PartialEq>(counts: &mut Vec<(T, u64)>, what: T) {
    match counts.iter_mut().find(|(seen, _)| *seen == what) {
        Some((_, n)) => *n += 1,
        None => counts.push((what, 1)),
    }
}

/// Replays `commands` on `engine` with one reused event buffer, and
/// returns the nanoseconds it took a command, timed as criterion times
/// a replay.
pub fn timed_replay(
    engine: &mut Engine,
    commands: &[(Command, Stamp)],
    events: &mut Vec<Event>,
) -> f64 {
    let start = std::time::Instant::now();
    replay(engine, commands, events);
    start.elapsed().as_nanos() as f64 / commands.len() as f64
}

/// Applies every command with one reused event buffer. Never inlined, so
/// that valgrind can count it alone (`--toggle-collect`).
#[inline(never)]
pub fn replay(engine: &mut Engine, commands: &[(Command, Stamp)], events: &mut Vec<Event>) {
    for (command, stamp) in commands {
        engine.apply(std::hint::black_box(command), *stamp, events);
        std::hint::black_box(events.as_slice());
        events.clear();
    }
}
