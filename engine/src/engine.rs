//! The engine: a deterministic state machine over all books.
//!
//! [`Engine::apply`] takes one stamped command, validates it, changes the
//! books and appends the resulting events. The same stamped commands give
//! the same events on any machine: the engine reads no clock, draws no
//! random number, and no hash-map iteration decides an output order.

use serde::{Deserialize, Serialize};

use crate::book::Book;
use crate::command::{Command, NewOrder, Stamp};
use crate::event::{Accepted, Amended, CancelCause, Cancelled, Event, Rejected};
use crate::instrument::{InstrumentId, InstrumentSpec, SpecError};
use crate::matching::Taker;
use crate::order::{OrderId, OrderType, Side, TimeInForce};
use crate::reject::RejectReason;

/// What the engine trades, as written in config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// The instruments; an instrument's [`InstrumentId`] is its position here.
    pub instruments: Vec<InstrumentSpec>,
}

/// The matching engine: one book per instrument and the engine-wide
/// counters.
#[derive(Clone, Debug)]
pub struct Engine {
    books: Vec<Book>,
    symbols: Vec<String>,
    /// Highest order id accepted so far.
    last_order_id: Option<OrderId>,
    next_trade_id: u64,
}

impl Engine {
    /// An engine with empty books for the configured instruments.
    ///
    /// # Errors
    /// A [`SpecError`] for the first instrument that cannot be used, or a
    /// symbol configured twice.
    pub fn new(config: &EngineConfig) -> Result<Self, SpecError> {
        let count = config.instruments.len();
        if count > usize::from(u16::MAX) {
            return Err(SpecError::TooManyInstruments(count));
        }
        let mut books = Vec::with_capacity(count);
        let mut symbols: Vec<String> = Vec::with_capacity(count);
        for (i, spec) in config.instruments.iter().enumerate() {
            if symbols.contains(&spec.symbol) {
                return Err(SpecError::DuplicateSymbol(spec.symbol.clone()));
            }
            let id = InstrumentId(u16::try_from(i).expect("checked above"));
            books.push(Book::new(id, spec.rules()?, spec.max_orders));
            symbols.push(spec.symbol.clone());
        }
        Ok(Self {
            books,
            symbols,
            last_order_id: None,
            next_trade_id: 1,
        })
    }

    /// The id of the instrument with this symbol.
    #[must_use]
    pub fn instrument_id(&self, symbol: &str) -> Option<InstrumentId> {
        self.symbols
            .iter()
            .position(|s| s == symbol)
            .map(|i| InstrumentId(i as u16))
    }

    /// The symbol of an instrument.
    #[must_use]
    pub fn symbol(&self, instrument: InstrumentId) -> Option<&str> {
        self.symbols
            .get(usize::from(instrument.0))
            .map(String::as_str)
    }

    /// The book of an instrument.
    #[must_use]
    pub fn book(&self, instrument: InstrumentId) -> Option<&Book> {
        self.books.get(usize::from(instrument.0))
    }

    /// All books, in instrument order.
    #[must_use]
    pub fn books(&self) -> &[Book] {
        &self.books
    }

    /// Applies one stamped command and appends what happened to `events`.
    ///
    /// Business outcomes are events, not errors: a command that breaks a rule
    /// yields one [`Event::Rejected`] and changes nothing. `events` is only
    /// appended to; reuse one vector to keep the steady state free of
    /// allocation.
    pub fn apply(&mut self, command: &Command, stamp: Stamp, events: &mut Vec<Event>) {
        let outcome = match *command {
            Command::Submit(order) => self.submit(&order, stamp, events),
            Command::Cancel {
                instrument,
                order_id,
            } => self.cancel(instrument, order_id, events),
            Command::Amend {
                instrument,
                order_id,
                price_ticks,
                quantity_t,
            } => self.amend(instrument, order_id, price_ticks, quantity_t, stamp, events),
        };
        if let Err((order_id, reason)) = outcome {
            events.push(Event::Rejected(Rejected {
                command: command.kind(),
                order_id,
                reason,
            }));
        }
    }

    fn book_mut(&mut self, instrument: InstrumentId) -> Result<&mut Book, RejectReason> {
        self.books
            .get_mut(usize::from(instrument.0))
            .ok_or(RejectReason::UnknownInstrument)
    }

    fn submit(
        &mut self,
        order: &NewOrder,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Result<(), (OrderId, RejectReason)> {
        let reject = |reason| (order.order_id, reason);
        if self.last_order_id >= Some(order.order_id) {
            // Checked first so that a reused id is named as such whatever
            // else is wrong with the order.
            return Err(reject(RejectReason::DuplicateOrderId));
        }
        let next_trade_id = &mut self.next_trade_id;
        let book = self
            .books
            .get_mut(usize::from(order.instrument.0))
            .ok_or(reject(RejectReason::UnknownInstrument))?;
        let rules = *book.rules();
        rules.check_quantity(order.quantity_t).map_err(reject)?;
        let limit_ticks = match (order.order_type, order.side) {
            (OrderType::Limit, _) => {
                rules.check_price(order.price_ticks).map_err(reject)?;
                order.price_ticks
            }
            (OrderType::Market, Side::Buy) => rules.ceiling_ticks,
            (OrderType::Market, Side::Sell) => rules.floor_ticks,
        };
        self.last_order_id = Some(order.order_id);
        events.push(Event::Accepted(Accepted {
            order_id: order.order_id,
            account: order.account,
            instrument: order.instrument,
            side: order.side,
            order_type: order.order_type,
            time_in_force: order.time_in_force,
            price_ticks: limit_ticks,
            quantity_t: order.quantity_t,
        }));
        let mut taker = Taker {
            order_id: order.order_id,
            account: order.account,
            side: order.side,
            limit_ticks,
            remaining_t: order.quantity_t,
        };
        let cancelled = |cancelled_t, cause| {
            Event::Cancelled(Cancelled {
                order_id: order.order_id,
                account: order.account,
                instrument: order.instrument,
                side: order.side,
                cancelled_t,
                cause,
            })
        };
        if order.time_in_force == TimeInForce::Fok && !book.can_fill(&taker) {
            events.push(cancelled(order.quantity_t, CancelCause::FokKilled));
            return Ok(());
        }
        book.match_incoming(&mut taker, stamp, next_trade_id, events);
        if taker.remaining_t == 0 {
            return Ok(());
        }
        let rests = order.order_type == OrderType::Limit && order.time_in_force == TimeInForce::Day;
        if !rests {
            debug_assert_ne!(
                order.time_in_force,
                TimeInForce::Fok,
                "FOK was checked to fill"
            );
            events.push(cancelled(taker.remaining_t, CancelCause::Unfilled));
        } else if !book.insert(
            order.order_id,
            order.account,
            order.side,
            limit_ticks,
            taker.remaining_t,
        ) {
            events.push(cancelled(taker.remaining_t, CancelCause::BookFull));
        }
        Ok(())
    }

    fn cancel(
        &mut self,
        instrument: InstrumentId,
        order_id: OrderId,
        events: &mut Vec<Event>,
    ) -> Result<(), (OrderId, RejectReason)> {
        let book = self.book_mut(instrument).map_err(|r| (order_id, r))?;
        let order = book
            .take(order_id)
            .ok_or((order_id, RejectReason::UnknownOrder))?;
        events.push(Event::Cancelled(Cancelled {
            order_id,
            account: order.account,
            instrument,
            side: order.side,
            cancelled_t: order.quantity_t,
            cause: CancelCause::Requested,
        }));
        Ok(())
    }

    fn amend(
        &mut self,
        instrument: InstrumentId,
        order_id: OrderId,
        price_ticks: i64,
        quantity_t: u64,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Result<(), (OrderId, RejectReason)> {
        let reject = |reason| (order_id, reason);
        let next_trade_id = &mut self.next_trade_id;
        let book = self
            .books
            .get_mut(usize::from(instrument.0))
            .ok_or(reject(RejectReason::UnknownInstrument))?;
        let &slot = book
            .index
            .get(&order_id)
            .ok_or(reject(RejectReason::UnknownOrder))?;
        let rules = *book.rules();
        rules.check_quantity(quantity_t).map_err(reject)?;
        rules.check_price(price_ticks).map_err(reject)?;
        let old = book.order(order_id).expect("indexed order rests");
        let priority_kept = price_ticks == old.price_ticks && quantity_t <= old.quantity_t;
        events.push(Event::Amended(Amended {
            order_id,
            account: old.account,
            instrument,
            side: old.side,
            price_ticks,
            quantity_t,
            priority_kept,
        }));
        if priority_kept {
            book.reduce(slot, quantity_t);
            return Ok(());
        }
        // Losing priority: take the order out, let it trade as a taker at its
        // new price, and rest what is left at the back of its new level.
        book.detach(slot, price_ticks, quantity_t);
        let mut taker = Taker {
            order_id,
            account: old.account,
            side: old.side,
            limit_ticks: price_ticks,
            remaining_t: quantity_t,
        };
        book.match_incoming(&mut taker, stamp, next_trade_id, events);
        if taker.remaining_t == 0 {
            book.release(slot);
        } else {
            book.relink(slot, taker.remaining_t);
        }
        Ok(())
    }

    /// Checks every book's invariants and the engine-wide ones.
    ///
    /// # Panics
    /// When any invariant is broken; the message names it.
    pub fn check_invariants(&self) {
        for book in &self.books {
            book.check_invariants();
            for side in [Side::Buy, Side::Sell] {
                for order in book.orders(side) {
                    assert!(
                        Some(order.order_id) <= self.last_order_id,
                        "resting order {:?} was never accepted",
                        order.order_id
                    );
                }
            }
        }
    }
}
