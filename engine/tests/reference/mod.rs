//! A naive reference engine: the matching rules written as plainly as they
//! can be, so that the real [`cetx_engine::Engine`] can be checked against
//! them.
//!
//! The real engine is fast: a dense price ladder, a slab of orders with
//! intrusive FIFOs, an id index and a bitset of occupied levels. Each of those
//! is a place for a bug to hide. This engine has none of them. Each side of a
//! book is a `BTreeMap` from price to a `VecDeque` of orders in time order; a
//! lookup by id scans every order; the fill-or-kill check adds up the
//! quantities it would trade. It is slow and obviously correct, which is the
//! point: `tests/differential.rs` feeds both engines the same random command
//! streams and requires identical events and identical books.
//!
//! It shares only vocabulary with the real engine (commands, events, ids,
//! [`PriceRules`] for the band edges), never code: validation, matching,
//! resting and amending are written again here from the rules below.
//!
//! # Rules
//!
//! - Submit is checked in this order: the order id must be above every id
//!   accepted before (a rejected submit does not use up its id); the
//!   instrument must exist; the quantity must be non-zero, whole lots, at
//!   least the minimum and at most the maximum; a limit price must be on the
//!   tick and inside the band. A market order's price field is ignored: it
//!   may trade up to the ceiling (buy) or down to the floor (sell).
//! - An accepted order trades best price first, earliest order first within a
//!   price, each trade at the resting (maker) order's price. A fill-or-kill
//!   order that cannot fill completely is killed before it trades. What is
//!   left of a day limit order rests at the back of its price (or is
//!   cancelled when the book holds its maximum number of orders); what is
//!   left of anything else is cancelled.
//! - Cancel removes a resting order of that instrument.
//! - Amend sets a resting order's price and open quantity, checked like a
//!   submit. Reducing the quantity at the same price keeps the order's place;
//!   anything else takes it out of the book, lets it trade as a taker at its
//!   new price, and rests what is left at the back of its new price.
//! - An order never trades with a resting order of its own account: matching
//!   stops there and the incoming remainder is cancelled (self-trade), and a
//!   fill-or-kill counts only what it could trade before reaching its own
//!   order.
//! - A take names a resting order (its target) and trades with it alone,
//!   at its price. It is checked in this order: the take's own id like a
//!   submit's, the instrument, the quantity like a submit's; then the
//!   target must rest in that instrument's book, on the other side, of
//!   another account; its price must be among the best 5 prices of its
//!   side (CEA) or be the best price and the target the first order there
//!   (CCER); and it must have at least the take's quantity open. An
//!   accepted take is an `Accepted` (limit, IOC, at the target's price) and
//!   one trade; the target keeps its place with what is left.
//! - A rejected command changes nothing.
//!
//! - Block trades (`blocks.rs`) never touch the books; they share the
//!   trade counter with the books' trades.
//! - One-way auctions are in `auctions.rs`: announce, bid, cancel, amend
//!   and close, with the allocation written again from `docs/ENGINE.md`.
//!
//! Accounts, money and trading phases are not modelled: the differential
//! test gives the real engine rich accounts and keeps it in continuous
//! trading, so that those rules never decide anything there.

mod auctions;
mod blocks;

use std::collections::{BTreeMap, VecDeque};

pub use blocks::RefBlocks;

use cetx_engine::{
    Accepted, AccountId, Amended, Bounds, CancelCause, Cancelled, Command, Event, InstrumentId,
    InstrumentKind, InstrumentSpec, NewOrder, OrderId, OrderType, PriceRules, RejectReason,
    Rejected, RestingOrder, Side, Stamp, Take, TimeInForce, Trade,
};

/// A resting order as the reference keeps it. Its side and price are where
/// it is filed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefOrder {
    /// The order.
    pub order_id: OrderId,
    /// Its account.
    pub account: AccountId,
    /// Open quantity in tonnes.
    pub quantity_t: u64,
}

/// One instrument's book: for each side, price → orders in time order.
#[derive(Clone, Debug)]
pub struct RefBook {
    rules: PriceRules,
    max_orders: usize,
    /// CEA: a take reaches any order at the best 5 prices. CCER: only the
    /// first order at the best price.
    cea: bool,
    bids: BTreeMap<i64, VecDeque<RefOrder>>,
    asks: BTreeMap<i64, VecDeque<RefOrder>>,
}

impl RefBook {
    fn new(rules: PriceRules, max_orders: u32, cea: bool) -> Self {
        Self {
            rules,
            max_orders: max_orders as usize,
            cea,
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
        }
    }

    fn side(&self, side: Side) -> &BTreeMap<i64, VecDeque<RefOrder>> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<i64, VecDeque<RefOrder>> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Number of resting orders on both sides.
    fn len(&self) -> usize {
        self.bids
            .values()
            .chain(self.asks.values())
            .map(VecDeque::len)
            .sum()
    }

    /// Orders of one side, best price first (highest bid, lowest ask), then
    /// earliest first.
    pub fn orders(&self, side: Side) -> Vec<RestingOrder> {
        let levels: Vec<(&i64, &VecDeque<RefOrder>)> = match side {
            Side::Buy => self.bids.iter().rev().collect(),
            Side::Sell => self.asks.iter().collect(),
        };
        let mut out = Vec::new();
        for (&price_ticks, queue) in levels {
            for order in queue {
                out.push(RestingOrder {
                    order_id: order.order_id,
                    account: order.account,
                    side,
                    price_ticks,
                    quantity_t: order.quantity_t,
                });
            }
        }
        out
    }

    /// The resting order with this id, by scanning every order.
    pub fn find(&self, order_id: OrderId) -> Option<RestingOrder> {
        self.orders(Side::Buy)
            .into_iter()
            .chain(self.orders(Side::Sell))
            .find(|o| o.order_id == order_id)
    }

    /// Takes the order with this id out of the book.
    fn remove(&mut self, order_id: OrderId) -> Option<RestingOrder> {
        let found = self.find(order_id)?;
        let levels = self.side_mut(found.side);
        let queue = levels.get_mut(&found.price_ticks).expect("found there");
        queue.retain(|o| o.order_id != order_id);
        if queue.is_empty() {
            levels.remove(&found.price_ticks);
        }
        Some(found)
    }

    /// Puts an order at the back of its price.
    fn push_back(&mut self, side: Side, price_ticks: i64, order: RefOrder) {
        self.side_mut(side)
            .entry(price_ticks)
            .or_default()
            .push_back(order);
    }

    /// Total quantity a taker with this side, limit and account could trade
    /// now: the opposite orders at acceptable prices, in priority order, up
    /// to the first one of its own account.
    fn available_to(&self, taker_side: Side, limit_ticks: i64, account: AccountId) -> u64 {
        let levels = self.side(taker_side.opposite());
        let best_first: Vec<_> = match taker_side {
            Side::Buy => levels.iter().collect(),
            Side::Sell => levels.iter().rev().collect(),
        };
        best_first
            .into_iter()
            .filter(|(&price, _)| acceptable(taker_side, limit_ticks, price))
            .flat_map(|(_, queue)| queue.iter())
            .take_while(|o| o.account != account)
            .map(|o| o.quantity_t)
            .sum()
    }

    /// The best opposite price for a taker: the lowest ask for a buyer, the
    /// highest bid for a seller.
    fn best_opposite(&self, taker_side: Side) -> Option<i64> {
        match taker_side {
            Side::Buy => self.asks.keys().next().copied(),
            Side::Sell => self.bids.keys().next_back().copied(),
        }
    }
}

/// Whether a taker on `side` with this limit trades at `price_ticks`.
fn acceptable(side: Side, limit_ticks: i64, price_ticks: i64) -> bool {
    match side {
        Side::Buy => price_ticks <= limit_ticks,
        Side::Sell => price_ticks >= limit_ticks,
    }
}

/// Why the reference refused a command, with the limits it broke where
/// the reason has them (`RejectReason::has_bounds`), found where the rule
/// is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: RejectReason,
    pub bounds: Option<Bounds>,
}

impl Refusal {
    /// `reason`, the value allowed from `low` to `high`.
    pub const fn beyond(reason: RejectReason, low: i64, high: i64) -> Self {
        Self {
            reason,
            bounds: Some(Bounds { low, high }),
        }
    }
}

impl From<RejectReason> for Refusal {
    fn from(reason: RejectReason) -> Self {
        Self {
            reason,
            bounds: None,
        }
    }
}

/// Tonnes as a bound.
pub fn tonnes(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// Quantity rules, in the order they are checked.
fn check_quantity(rules: &PriceRules, quantity_t: u64) -> Result<(), Refusal> {
    if quantity_t == 0 {
        return Err(RejectReason::QuantityZero.into());
    }
    if !quantity_t.is_multiple_of(rules.lot_t) {
        return Err(RejectReason::QuantityNotWholeLots.into());
    }
    let sizes =
        |reason| Refusal::beyond(reason, tonnes(rules.min_order_t), tonnes(rules.max_order_t));
    if quantity_t < rules.min_order_t {
        return Err(sizes(RejectReason::QuantityBelowMinimum));
    }
    if quantity_t > rules.max_order_t {
        return Err(sizes(RejectReason::QuantityAboveMaximum));
    }
    Ok(())
}

/// Price rules, in the order they are checked.
fn check_price(rules: &PriceRules, price_ticks: i64) -> Result<(), Refusal> {
    if price_ticks.rem_euclid(rules.step_ticks) != 0 {
        return Err(RejectReason::PriceNotOnTick.into());
    }
    if price_ticks < rules.floor_ticks || price_ticks > rules.ceiling_ticks {
        let (floor, ceiling) = (rules.floor_ticks, rules.ceiling_ticks);
        return Err(Refusal::beyond(
            RejectReason::PriceOutsideBand,
            floor,
            ceiling,
        ));
    }
    Ok(())
}

/// An order while it trades as the taker.
struct Taker {
    order_id: OrderId,
    account: AccountId,
    side: Side,
    limit_ticks: i64,
    remaining_t: u64,
}

/// The reference engine: one [`RefBook`] per instrument and the engine-wide
/// counters.
#[derive(Clone, Debug)]
pub struct RefEngine {
    books: Vec<RefBook>,
    /// Highest order id accepted so far.
    last_accepted: Option<OrderId>,
    /// Id of the next trade; the first is 1 (listing, block and auction
    /// trades share it).
    next_trade_id: u64,
    /// Block offers and deals (`blocks.rs`).
    pub blocks: RefBlocks,
    /// Open auctions and each instrument's auction rules.
    auctions: auctions::RefAuctions,
}

impl RefEngine {
    /// Empty books for these instruments; instrument `i` is `specs[i]`.
    ///
    /// # Panics
    /// If a spec is not usable.
    pub fn new(specs: &[InstrumentSpec]) -> Self {
        Self {
            books: specs
                .iter()
                .map(|s| {
                    let cea = matches!(s.kind, InstrumentKind::Cea { .. });
                    RefBook::new(s.rules().expect("usable spec"), s.max_orders, cea)
                })
                .collect(),
            last_accepted: None,
            next_trade_id: 1,
            blocks: RefBlocks::new(
                specs
                    .iter()
                    .map(|s| cetx_engine::BlockRules::for_kind(&s.kind))
                    .collect(),
            ),
            auctions: auctions::RefAuctions {
                // The defaults of docs/ENGINE.md: CEA open, CCER not; at
                // least 100,000 t.
                rules: specs
                    .iter()
                    .map(|s| {
                        let cea = matches!(s.kind, cetx_engine::InstrumentKind::Cea { .. });
                        (
                            s.auctions.unwrap_or(cea),
                            s.min_auction_t.unwrap_or(100_000),
                        )
                    })
                    .collect(),
                ..auctions::RefAuctions::default()
            },
        }
    }

    /// The book of an instrument.
    pub fn book(&self, instrument: InstrumentId) -> Option<&RefBook> {
        self.books.get(usize::from(instrument.0))
    }

    /// Applies one command and returns every event it caused.
    pub fn apply(&mut self, command: &Command, stamp: Stamp) -> Vec<Event> {
        let mut events = Vec::new();
        if let Some(outcome) = self.auction_command(command, stamp, &mut events) {
            if let Err(Refusal { reason, bounds }) = outcome {
                assert!(events.is_empty(), "a rejected command emitted {events:?}");
                events.push(Event::Rejected(Rejected {
                    command: command.kind(),
                    order_id: command.order_id(),
                    reason,
                    bounds,
                }));
            }
            return events;
        }
        let (order_id, outcome) = match *command {
            Command::Submit(order) => (order.order_id, self.submit(&order, stamp, &mut events)),
            Command::Take(take) => (take.order_id, self.take(&take, stamp, &mut events)),
            Command::Cancel {
                instrument,
                order_id,
                ..
            } => (order_id, self.cancel(instrument, order_id, &mut events)),
            Command::Amend {
                instrument,
                order_id,
                price_ticks,
                quantity_t,
                ..
            } => (
                order_id,
                self.amend(
                    instrument,
                    order_id,
                    price_ticks,
                    quantity_t,
                    stamp,
                    &mut events,
                ),
            ),
            Command::PostBlock(ref block) => {
                let rules = self.book(block.instrument).map(|b| b.rules);
                let outcome = self.blocks.post(rules.as_ref(), block, &mut events);
                return self.block_outcome(command, outcome, events);
            }
            Command::AcceptBlock {
                block_id,
                account,
                quantity_t,
                ..
            } => {
                let lots: Vec<u64> = self.books.iter().map(|b| b.rules.lot_t).collect();
                let outcome = self.blocks.accept(
                    |i| lots[usize::from(i.0)],
                    block_id,
                    account,
                    quantity_t,
                    stamp,
                    &mut self.next_trade_id,
                    &mut events,
                );
                return self.block_outcome(command, outcome, events);
            }
            Command::CancelBlock {
                block_id, account, ..
            } => {
                let outcome = self.blocks.cancel(block_id, account, &mut events);
                return self.block_outcome(command, outcome, events);
            }
            Command::ConfirmBlock { deal_id } | Command::RefuseBlock { deal_id } => {
                let confirm = matches!(command, Command::ConfirmBlock { .. });
                let outcome = self.blocks.decide(
                    deal_id,
                    confirm,
                    stamp,
                    &mut self.next_trade_id,
                    &mut events,
                );
                return self.block_outcome(command, outcome, events);
            }
            Command::SetBlockRules {
                instrument,
                ref rules,
            } => {
                self.blocks.rules[usize::from(instrument.0)] = (**rules).clone();
                return events;
            }
            ref other => {
                unreachable!("the reference knows only order and block commands: {other:?}")
            }
        };
        if let Err(Refusal { reason, bounds }) = outcome {
            assert!(events.is_empty(), "a rejected command emitted {events:?}");
            events.push(Event::Rejected(Rejected {
                command: command.kind(),
                order_id: Some(order_id),
                reason,
                bounds,
            }));
        }
        events
    }

    /// A block command's events, or its rejection (which names no order).
    fn block_outcome(
        &self,
        command: &Command,
        outcome: Result<(), Refusal>,
        mut events: Vec<Event>,
    ) -> Vec<Event> {
        if let Err(Refusal { reason, bounds }) = outcome {
            assert!(events.is_empty(), "a rejected command emitted {events:?}");
            events.push(Event::Rejected(Rejected {
                command: command.kind(),
                order_id: None,
                reason,
                bounds,
            }));
        }
        events
    }

    fn submit(
        &mut self,
        order: &NewOrder,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Result<(), Refusal> {
        if let Some(last) = self.last_accepted {
            if order.order_id <= last {
                return Err(RejectReason::DuplicateOrderId.into());
            }
        }
        let index = usize::from(order.instrument.0);
        let book = self
            .books
            .get(index)
            .ok_or(RejectReason::UnknownInstrument)?;
        check_quantity(&book.rules, order.quantity_t)?;
        let limit_ticks = match order.order_type {
            OrderType::Limit => {
                check_price(&book.rules, order.price_ticks)?;
                order.price_ticks
            }
            OrderType::Market => match order.side {
                Side::Buy => book.rules.ceiling_ticks,
                Side::Sell => book.rules.floor_ticks,
            },
        };

        self.last_accepted = Some(order.order_id);
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

        if order.time_in_force == TimeInForce::Fok
            && book.available_to(order.side, limit_ticks, order.account) < order.quantity_t
        {
            events.push(cancelled(order.quantity_t, CancelCause::FokKilled));
            return Ok(());
        }

        let mut taker = Taker {
            order_id: order.order_id,
            account: order.account,
            side: order.side,
            limit_ticks,
            remaining_t: order.quantity_t,
        };
        let met_own = self.trade(index, &mut taker, stamp, events);
        if taker.remaining_t == 0 {
            return Ok(());
        }

        let book = &mut self.books[index];
        let rests = order.order_type == OrderType::Limit && order.time_in_force == TimeInForce::Day;
        if met_own {
            events.push(cancelled(taker.remaining_t, CancelCause::SelfTrade));
        } else if !rests {
            events.push(cancelled(taker.remaining_t, CancelCause::Unfilled));
        } else if book.len() >= book.max_orders {
            events.push(cancelled(taker.remaining_t, CancelCause::BookFull));
        } else {
            book.push_back(
                order.side,
                limit_ticks,
                RefOrder {
                    order_id: order.order_id,
                    account: order.account,
                    quantity_t: taker.remaining_t,
                },
            );
        }
        Ok(())
    }

    /// Trades the taker against the book of instrument `index` until it is
    /// filled, nothing acceptable is left, or the next order is its own
    /// account's. Returns whether an own order stopped it.
    fn trade(
        &mut self,
        index: usize,
        taker: &mut Taker,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> bool {
        let book = &mut self.books[index];
        let makers = taker.side.opposite();
        while taker.remaining_t > 0 {
            let Some(price_ticks) = book.best_opposite(taker.side) else {
                break;
            };
            if !acceptable(taker.side, taker.limit_ticks, price_ticks) {
                break;
            }
            let levels = book.side_mut(makers);
            let queue = levels.get_mut(&price_ticks).expect("best price has orders");
            let maker = queue.front_mut().expect("a level is never empty");
            if maker.account == taker.account {
                return true;
            }
            let quantity_t = taker.remaining_t.min(maker.quantity_t);
            maker.quantity_t -= quantity_t;
            taker.remaining_t -= quantity_t;
            let maker = *maker;
            if maker.quantity_t == 0 {
                queue.pop_front();
                if queue.is_empty() {
                    levels.remove(&price_ticks);
                }
            }
            events.push(Event::Trade(Trade {
                trade_id: self.next_trade_id,
                seq: stamp.seq,
                time_ns: stamp.time_ns,
                instrument: InstrumentId(u16::try_from(index).expect("instrument index")),
                price_ticks,
                quantity_t,
                aggressor: taker.side,
                maker_order_id: maker.order_id,
                maker_account: maker.account,
                maker_remaining_t: maker.quantity_t,
                taker_order_id: taker.order_id,
                taker_account: taker.account,
                taker_remaining_t: taker.remaining_t,
            }));
            self.next_trade_id += 1;
        }
        false
    }

    fn take(&mut self, take: &Take, stamp: Stamp, events: &mut Vec<Event>) -> Result<(), Refusal> {
        if self.last_accepted.is_some_and(|last| take.order_id <= last) {
            return Err(RejectReason::DuplicateOrderId.into());
        }
        let index = usize::from(take.instrument.0);
        let book = self
            .books
            .get(index)
            .ok_or(RejectReason::UnknownInstrument)?;
        check_quantity(&book.rules, take.quantity_t)?;
        let target = book
            .find(take.target)
            .ok_or(RejectReason::TakeTargetNotResting)?;
        if target.side == take.side {
            return Err(RejectReason::TakeTargetSameSide.into());
        }
        if target.account == take.account {
            return Err(RejectReason::SelfTake.into());
        }
        // The distinct prices of the target's side, best first.
        let prices: Vec<i64> = match target.side {
            Side::Buy => book.bids.keys().rev().copied().collect(),
            Side::Sell => book.asks.keys().copied().collect(),
        };
        let reach = if book.cea { 5 } else { 1 };
        if !prices.iter().take(reach).any(|&p| p == target.price_ticks) {
            return Err(RejectReason::TakeTargetTooDeep.into());
        }
        let first = book.side(target.side)[&target.price_ticks][0].order_id;
        if !book.cea && first != target.order_id {
            return Err(RejectReason::TakeTargetNotFirst.into());
        }
        if take.quantity_t > target.quantity_t {
            return Err(RejectReason::TakeExceedsTarget.into());
        }
        check_price(&book.rules, target.price_ticks)?;

        self.last_accepted = Some(take.order_id);
        events.push(Event::Accepted(Accepted {
            order_id: take.order_id,
            account: take.account,
            instrument: take.instrument,
            side: take.side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Ioc,
            price_ticks: target.price_ticks,
            quantity_t: take.quantity_t,
        }));
        let left_t = target.quantity_t - take.quantity_t;
        let book = &mut self.books[index];
        let levels = book.side_mut(target.side);
        let queue = levels.get_mut(&target.price_ticks).expect("found there");
        if left_t == 0 {
            queue.retain(|o| o.order_id != target.order_id);
            if queue.is_empty() {
                levels.remove(&target.price_ticks);
            }
        } else {
            for order in queue.iter_mut().filter(|o| o.order_id == target.order_id) {
                order.quantity_t = left_t;
            }
        }
        events.push(Event::Trade(Trade {
            trade_id: self.next_trade_id,
            seq: stamp.seq,
            time_ns: stamp.time_ns,
            instrument: take.instrument,
            price_ticks: target.price_ticks,
            quantity_t: take.quantity_t,
            aggressor: take.side,
            maker_order_id: target.order_id,
            maker_account: target.account,
            maker_remaining_t: left_t,
            taker_order_id: take.order_id,
            taker_account: take.account,
            taker_remaining_t: 0,
        }));
        self.next_trade_id += 1;
        Ok(())
    }

    fn cancel(
        &mut self,
        instrument: InstrumentId,
        order_id: OrderId,
        events: &mut Vec<Event>,
    ) -> Result<(), Refusal> {
        let book = self
            .books
            .get_mut(usize::from(instrument.0))
            .ok_or(RejectReason::UnknownInstrument)?;
        let order = book.remove(order_id).ok_or(RejectReason::UnknownOrder)?;
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
    ) -> Result<(), Refusal> {
        let index = usize::from(instrument.0);
        let book = self
            .books
            .get_mut(index)
            .ok_or(RejectReason::UnknownInstrument)?;
        let old = book.find(order_id).ok_or(RejectReason::UnknownOrder)?;
        check_quantity(&book.rules, quantity_t)?;
        check_price(&book.rules, price_ticks)?;

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
            let queue = book
                .side_mut(old.side)
                .get_mut(&old.price_ticks)
                .expect("found there");
            for order in queue.iter_mut() {
                if order.order_id == order_id {
                    order.quantity_t = quantity_t;
                }
            }
            return Ok(());
        }

        // The order leaves the book before it trades, so it frees its own
        // place: resting again afterwards can never overfill the book.
        book.remove(order_id);
        let mut taker = Taker {
            order_id,
            account: old.account,
            side: old.side,
            limit_ticks: price_ticks,
            remaining_t: quantity_t,
        };
        let met_own = self.trade(index, &mut taker, stamp, events);
        if taker.remaining_t > 0 && met_own {
            events.push(Event::Cancelled(Cancelled {
                order_id,
                account: old.account,
                instrument,
                side: old.side,
                cancelled_t: taker.remaining_t,
                cause: CancelCause::SelfTrade,
            }));
        } else if taker.remaining_t > 0 {
            self.books[index].push_back(
                old.side,
                price_ticks,
                RefOrder {
                    order_id,
                    account: old.account,
                    quantity_t: taker.remaining_t,
                },
            );
        }
        Ok(())
    }
}
