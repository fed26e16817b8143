//! Continuous double auction with price-time priority.
//!
//! An incoming order (the taker) trades against the best opposite level
//! first and, within a level, the earliest order first. Every trade prices
//! at the resting (maker) order's price. What the taker does with its
//! remainder (rest, cancel, or kill before trading) is decided by the engine
//! from its order type and time in force.
//!
//! Self-trade prevention: an order never trades with a resting order of its
//! own account. Matching stops at the first such resting order; the engine
//! then cancels the incoming order's remainder (cause
//! [`crate::CancelCause::SelfTrade`]) and the resting order keeps its place.
//! Cancelling the newest order is the usual exchange policy: the resting
//! order earned its priority, and the incoming one is the order that would
//! have crossed.

use crate::book::{Book, Slot, NIL};
use crate::command::Stamp;
use crate::event::{Event, LargeHolder, Trade};
use crate::instrument::InstrumentId;
use crate::order::{AccountId, OrderId, Side};

/// An incoming order while it matches.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Taker {
    pub(crate) order_id: OrderId,
    pub(crate) account: AccountId,
    /// Where the account is kept in [`crate::account::Accounts`].
    pub(crate) account_at: u32,
    pub(crate) side: Side,
    /// Worst price the taker accepts, in ticks.
    pub(crate) limit_ticks: i64,
    /// Tonnes still to fill.
    pub(crate) remaining_t: u64,
}

/// One fill, as settlement needs it: what traded at what price, which side
/// was the taker's, and where the maker's account is kept.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fill {
    pub(crate) instrument: InstrumentId,
    pub(crate) price_ticks: i64,
    pub(crate) quantity_t: u64,
    pub(crate) aggressor: Side,
    pub(crate) maker_at: u32,
}

impl Taker {
    /// Whether a resting price is good enough for this taker.
    #[inline]
    fn accepts(&self, price_ticks: i64) -> bool {
        match self.side {
            Side::Buy => price_ticks <= self.limit_ticks,
            Side::Sell => price_ticks >= self.limit_ticks,
        }
    }
}

impl Book {
    /// Whether the taker's limit reaches the best opposite price: whether
    /// [`Book::match_incoming`] would trade at all. An order that rests
    /// without trading (most orders) skips matching on this one compare.
    #[inline]
    pub(crate) fn crosses(&self, taker: &Taker) -> bool {
        let best = self.ladder(taker.side.opposite()).best;
        best != NIL && taker.accepts(self.price_of(best))
    }

    /// Whether the taker's whole quantity could trade right now, before
    /// matching would reach a resting order of its own account. Changes
    /// nothing; decides fill-or-kill.
    pub(crate) fn can_fill(&self, taker: &Taker) -> bool {
        let ladder = self.ladder(taker.side.opposite());
        let mut level = ladder.best;
        let mut available_t = 0;
        while level != NIL && taker.accepts(self.price_of(level)) {
            let mut slot = ladder.levels[level as usize].head;
            while slot != NIL {
                let maker = &self.slots[slot as usize];
                if maker.account_at == taker.account_at {
                    return false;
                }
                available_t += maker.quantity_t;
                if available_t >= taker.remaining_t {
                    return true;
                }
                slot = maker.next;
            }
            level = ladder.next_worse(level);
        }
        false
    }

    /// Trades the taker against the opposite side until it is filled, the
    /// best opposite price is beyond its limit, or the next resting order is
    /// its own. Appends one [`Event::Trade`] per fill; `next_trade_id`
    /// numbers them. After each trade, `on_fill` settles it and may return
    /// a large-holder event, appended after the trade. Returns
    /// [`Stop::SelfTrade`] when an own order stopped the taker with
    /// quantity left.
    pub(crate) fn match_incoming(
        &mut self,
        taker: &mut Taker,
        stamp: Stamp,
        next_trade_id: &mut u64,
        events: &mut Vec<Event>,
        mut on_fill: impl FnMut(Fill) -> Option<LargeHolder>,
    ) -> Stop {
        let makers = taker.side.opposite();
        while taker.remaining_t > 0 {
            let ladder = self.ladder(makers);
            let level = ladder.best;
            if level == NIL {
                break;
            }
            let price_ticks = self.price_of(level);
            if !taker.accepts(price_ticks) {
                break;
            }
            let slot = ladder.levels[level as usize].head;
            let maker = self.slots[slot as usize];
            if maker.account_at == taker.account_at {
                return Stop::SelfTrade;
            }
            let quantity_t = taker.remaining_t.min(maker.quantity_t);
            if quantity_t == maker.quantity_t {
                self.remove_head(makers, level, slot, quantity_t);
            } else {
                self.reduce_head(makers, level, slot, maker.quantity_t - quantity_t);
            }
            self.trade(
                &maker,
                (price_ticks, quantity_t),
                taker,
                stamp,
                next_trade_id,
                events,
                &mut on_fill,
            );
        }
        Stop::Done
    }
}

impl Book {
    /// Trades `quantity_t` of the taker with the resting order in `slot`,
    /// at that order's price: the order is reduced, or removed when it is
    /// filled, one [`Event::Trade`] numbered from `next_trade_id` is
    /// appended, and `on_fill` settles it; the large-holder event it may
    /// return follows the trade. Listing-agreement takes (`crate::takes`),
    /// which may pick any resting order, trade through here; continuous
    /// matching, which always fills the head of the best level, takes it
    /// out with [`Book::remove_head`] and reports through the same
    /// [`Book::trade`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fill(
        &mut self,
        slot: u32,
        taker: &mut Taker,
        quantity_t: u64,
        stamp: Stamp,
        next_trade_id: &mut u64,
        events: &mut Vec<Event>,
        on_fill: &mut impl FnMut(Fill) -> Option<LargeHolder>,
    ) {
        let maker = self.slots[slot as usize];
        debug_assert!(quantity_t > 0 && quantity_t <= maker.quantity_t);
        let price_ticks = self.price_of(maker.level());
        if quantity_t == maker.quantity_t {
            self.remove(slot);
        } else {
            self.reduce(slot, maker.quantity_t - quantity_t);
        }
        self.trade(
            &maker,
            (price_ticks, quantity_t),
            taker,
            stamp,
            next_trade_id,
            events,
            on_fill,
        );
    }

    /// Reports the trade of `quantity_t` at `price_ticks` between the taker
    /// and `maker` (the resting order as it was before it traded, already
    /// reduced or removed): one [`Event::Trade`] numbered from
    /// `next_trade_id`, settled by `on_fill`, whose large-holder event, if
    /// any, follows the trade.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn trade(
        &self,
        maker: &Slot,
        (price_ticks, quantity_t): (i64, u64),
        taker: &mut Taker,
        stamp: Stamp,
        next_trade_id: &mut u64,
        events: &mut Vec<Event>,
        on_fill: &mut impl FnMut(Fill) -> Option<LargeHolder>,
    ) {
        debug_assert!(quantity_t <= taker.remaining_t && maker.account_at != taker.account_at);
        taker.remaining_t -= quantity_t;
        let instrument = self.instrument();
        events.push(Event::Trade(Trade {
            trade_id: *next_trade_id,
            seq: stamp.seq,
            time_ns: stamp.time_ns,
            instrument,
            price_ticks,
            quantity_t,
            aggressor: taker.side,
            maker_order_id: maker.order_id,
            maker_account: self.account_of(maker.account_at),
            maker_remaining_t: maker.quantity_t - quantity_t,
            taker_order_id: taker.order_id,
            taker_account: taker.account,
            taker_remaining_t: taker.remaining_t,
        }));
        let fill = Fill {
            instrument,
            price_ticks,
            quantity_t,
            aggressor: taker.side,
            maker_at: maker.account_at,
        };
        if let Some(large) = on_fill(fill) {
            events.push(Event::LargeHolder(large));
        }
        *next_trade_id += 1;
    }
}

/// Why matching stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum Stop {
    /// Filled, or nothing more at an acceptable price.
    Done,
    /// The next resting order belongs to the taker's own account.
    SelfTrade,
}
