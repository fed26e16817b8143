//! The engine's state as plain data: what a snapshot stores, what recovery
//! compares, and what [`Engine::from_state`] rebuilds an engine from.
//!
//! [`EngineState`] is logical: resting orders in priority order, accounts
//! in the order they were opened, each instrument's phase, reference price
//! and day so far, and the engine-wide counters. It leaves out how the
//! engine happens to lay that out in memory (slab slots, free lists, index
//! capacity), so two engines that behave the same compare equal.

use crate::account::Account;
use crate::book::RestingOrder;
use crate::calendar::Calendar;
use crate::day_stats::DayStats;
use crate::engine::{Engine, EngineConfig};
use crate::instrument::{InstrumentId, InstrumentSpec, SpecError};
use crate::order::{OrderId, Side};
use crate::phase::Phase;

/// Everything that decides how the engine handles the next command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineState {
    /// The current trading day, counted from 0.
    pub trading_day: u32,
    /// Highest order id accepted so far.
    pub last_order_id: Option<OrderId>,
    /// Id the next trade will get.
    pub next_trade_id: u64,
    /// The exchange calendar, once the journal set one.
    pub calendar: Option<Calendar>,
    /// One entry per listed instrument, in instrument order.
    pub instruments: Vec<InstrumentState>,
    /// Every account, in the order opened.
    pub accounts: Vec<Account>,
    /// Every transfer reference id applied, in order.
    pub references: Vec<String>,
}

/// One instrument's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentState {
    /// Its spec as listed or last revised (the reference price in it is
    /// the listing's).
    pub spec: InstrumentSpec,
    /// Its trading phase.
    pub phase: Phase,
    /// Today's reference price in ticks; the band follows from it.
    pub reference_ticks: i64,
    /// Its trading so far today.
    pub today: DayStats,
    /// Resting bids, best price first and in time order at each price.
    pub bids: Vec<RestingOrder>,
    /// Resting asks, best price first and in time order at each price.
    pub asks: Vec<RestingOrder>,
}

/// Why a state cannot be loaded into an engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// An instrument's spec is not usable.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// An account does not have one holding per instrument.
    #[error("account {0} has holdings for the wrong number of instruments")]
    Holdings(u32),
    /// Two accounts share an id.
    #[error("account {0} appears twice")]
    DuplicateAccount(u32),
    /// A reference price is not positive or not on the instrument's tick.
    #[error("instrument {0}: reference price {1} ticks is not on the tick")]
    ReferencePrice(u16, i64),
    /// A resting order cannot rest as given.
    #[error("instrument {instrument}: order {order} cannot rest: {why}")]
    Order {
        /// The instrument.
        instrument: u16,
        /// The order id.
        order: u64,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl Engine {
    /// The engine's state as plain data.
    #[must_use]
    pub fn state(&self) -> EngineState {
        EngineState {
            trading_day: self.trading_day,
            last_order_id: self.last_order_id,
            next_trade_id: self.next_trade_id,
            calendar: self.calendar.clone(),
            instruments: self
                .books
                .iter()
                .zip(&self.markets)
                .map(|(book, market)| InstrumentState {
                    spec: market.spec.clone(),
                    phase: market.phase,
                    reference_ticks: book.rules().reference_ticks,
                    today: market.today,
                    bids: book.orders(Side::Buy).collect(),
                    asks: book.orders(Side::Sell).collect(),
                })
                .collect(),
            accounts: self.accounts.iter().cloned().collect(),
            references: self.references.iter().cloned().collect(),
        }
    }

    /// An engine in exactly this state.
    ///
    /// # Errors
    /// A [`StateError`] when the state cannot be true: an unusable spec, a
    /// reference price off the tick, an order outside the band or of an
    /// unknown account, a duplicate order id.
    pub fn from_state(state: &EngineState) -> Result<Self, StateError> {
        let mut engine = Self::new(&EngineConfig {
            instruments: state.instruments.iter().map(|i| i.spec.clone()).collect(),
        })?;
        engine.calendar.clone_from(&state.calendar);
        engine.references = state.references.iter().cloned().collect();
        for account in &state.accounts {
            if account.holdings.len() != engine.books.len() {
                return Err(StateError::Holdings(account.id.0));
            }
            if !engine.accounts.restore(account.clone()) {
                return Err(StateError::DuplicateAccount(account.id.0));
            }
        }
        for (i, instrument) in state.instruments.iter().enumerate() {
            let id = InstrumentId(i as u16);
            let book = &mut engine.books[i];
            let rules = *book.rules();
            if instrument.reference_ticks <= 0 || instrument.reference_ticks % rules.step_ticks != 0
            {
                return Err(StateError::ReferencePrice(id.0, instrument.reference_ticks));
            }
            book.rebase(rules.with_reference(instrument.reference_ticks));
            let market = &mut engine.markets[i];
            market.phase = instrument.phase;
            market.today = instrument.today;
            for order in instrument.bids.iter().chain(&instrument.asks) {
                let bad = |why| StateError::Order {
                    instrument: id.0,
                    order: order.order_id.0,
                    why,
                };
                let book = &mut engine.books[i];
                if book.rules().check_price(order.price_ticks).is_err() {
                    return Err(bad("price outside the band or off the tick"));
                }
                if order.quantity_t == 0 || book.order(order.order_id).is_some() {
                    return Err(bad("zero quantity or duplicate id"));
                }
                let at = engine
                    .accounts
                    .locate(order.account)
                    .ok_or(bad("unknown account"))?;
                let book = &mut engine.books[i];
                if !book.insert(
                    order.order_id,
                    (order.account, at),
                    order.side,
                    order.price_ticks,
                    order.quantity_t,
                ) {
                    return Err(bad("the book is full"));
                }
            }
        }
        engine.trading_day = state.trading_day;
        engine.last_order_id = state.last_order_id;
        engine.next_trade_id = state.next_trade_id;
        Ok(engine)
    }
}
