//! The public market, rebuilt from durable journal entries: each
//! instrument's price levels (total quantity and order count per price),
//! the order view (the orders of the best [`ORDER_VIEW_LEVELS`] levels of
//! each side, by public id, in time order), its day's figures, phase and
//! band. Nothing private is kept beyond what those need: the price, open
//! quantity and time priority of each resting order, by order id (bounded
//! by the books' capacity, not by the day). No account or broker.
//!
//! [`MarketState::apply`] takes one entry's events, in order, and says what
//! changed as [`Update`]s: trades as they happen, then each price level the
//! entry touched with its final totals, then each level of the order view
//! that changed (or left it), then the day's figures if they moved. It follows the engine's own replay of events (`Engine::replay`):
//! an accepted order or an amend that lost its place trades as the
//! incoming order, and what is left of it rests at the end of the entry
//! unless it was cancelled or may not rest.

use std::collections::BTreeMap;
use std::sync::Arc;

use cetx_engine::{
    AuctionClosed, AuctionNotice, DayStats, Engine, Event, InstrumentId, InstrumentSpec, OrderId,
    OrderType, Phase, ReferencePriceSet, Side, TimeInForce,
};
use rustc_hash::FxHashMap;

use crate::protocol::feed::{DayFigures, OrderEntry, MAX_VIEW_ORDERS, ORDER_VIEW_LEVELS};

/// What changed on one instrument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Update {
    /// A price level's totals now (quantity 0: gone).
    Level {
        /// Bids (buy) or asks (sell).
        side: Side,
        /// The price.
        price_ticks: i64,
        /// Tonnes resting there.
        quantity_t: u64,
        /// Orders resting there.
        orders: u32,
    },
    /// A trade.
    Trade {
        /// The engine's trade id.
        trade_id: u64,
        /// Price in ticks.
        price_ticks: i64,
        /// Tonnes.
        quantity_t: u64,
        /// The incoming order's side.
        aggressor: Side,
        /// When.
        time_ns: i64,
    },
    /// The day's figures.
    Statistics(DayFigures),
    /// The phase.
    Phase(Phase),
    /// The reference price and band.
    Band {
        /// Reference price.
        reference_ticks: i64,
        /// Lowest accepted price.
        floor_ticks: i64,
        /// Highest accepted price.
        ceiling_ticks: i64,
    },
    /// A level of the order view as it is now; no orders: it left the
    /// view.
    Orders {
        /// Bids (buy) or asks (sell).
        side: Side,
        /// The price.
        price_ticks: i64,
        /// Its orders.
        level: OrderLevel,
    },
    /// The day ended.
    EndOfDay {
        /// The engine's trading day number.
        trading_day: u32,
        /// The close.
        close_ticks: i64,
        /// The day's figures.
        day: DayFigures,
        /// The next day's lowest accepted price.
        next_floor_ticks: i64,
        /// The next day's highest accepted price.
        next_ceiling_ticks: i64,
    },
    /// A one-way auction was announced.
    AuctionAnnounced(AuctionNotice),
    /// A one-way auction closed (its bids are never public).
    AuctionResult(AuctionClosed),
    /// A block offer open to every account, as it is now (quantity 0: it
    /// ended).
    BlockOffer {
        /// The offer's id.
        block_id: u64,
        /// The offer as it is now.
        offer: BlockQuote,
    },
}

/// A block offer open to every account, as the market shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQuote {
    /// The poster's side.
    pub side: Side,
    /// Price in ticks.
    pub price_ticks: i64,
    /// Tonnes still open; 0: the offer ended.
    pub quantity_t: u64,
}

/// One price level's totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LevelTotals {
    /// Tonnes resting.
    pub quantity_t: u64,
    /// Orders resting.
    pub orders: u32,
}

/// One level of the order view: how many orders rest there, and the
/// first [`MAX_VIEW_ORDERS`] of them in time order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderLevel {
    /// Orders resting at the level.
    pub order_count: u32,
    /// The first of them, in time order (shared, not copied, by every
    /// subscriber).
    pub orders: Arc<[OrderEntry]>,
}

impl Default for OrderLevel {
    fn default() -> Self {
        Self {
            order_count: 0,
            orders: Arc::from(Vec::new()),
        }
    }
}

/// A resting order, as far as the levels and the order view need it.
#[derive(Clone, Copy, Debug)]
struct Resting {
    side: Side,
    price_ticks: i64,
    remaining_t: u64,
    /// Time priority at its level: lower is earlier.
    priority: u64,
}

/// The order trading while an entry's events are taken.
#[derive(Clone, Copy, Debug)]
struct Incoming {
    order_id: OrderId,
    instrument: usize,
    side: Side,
    price_ticks: i64,
    remaining_t: u64,
    rests: bool,
    /// The priority it keeps when it rests again (an amend that kept its
    /// place); `None`: the back of its level.
    priority: Option<u64>,
}

/// One instrument's public state: what a subscriber sees.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    /// Its symbol.
    pub symbol: String,
    /// The price step in ticks.
    pub step_ticks: i64,
    /// The phase.
    pub phase: Phase,
    /// Reference price.
    pub reference_ticks: i64,
    /// Lowest accepted price.
    pub floor_ticks: i64,
    /// Highest accepted price.
    pub ceiling_ticks: i64,
    /// Buy levels by price.
    pub bids: BTreeMap<i64, LevelTotals>,
    /// Sell levels by price.
    pub asks: BTreeMap<i64, LevelTotals>,
    /// The day so far.
    pub day: DayFigures,
    /// Open block offers open to every account, by id.
    pub offers: BTreeMap<u64, BlockQuote>,
    /// Open one-way auctions, by id: a subscriber that comes while one is
    /// open learns of it from its snapshot.
    pub auctions: BTreeMap<u64, AuctionNotice>,
    /// The outcomes of the auctions closed in this trading day (since the
    /// server started, if it started later), by id: a subscriber that
    /// comes after one closed (a close at start-up too) learns of it from
    /// its snapshot. A few a day; the end of day clears them.
    pub closed_auctions: BTreeMap<u64, AuctionClosed>,
}

/// What the public state is kept from, besides the view.
#[derive(Clone, Debug, Default)]
struct Tally {
    today: DayStats,
    resting: FxHashMap<OrderId, Resting>,
    /// Resting orders of each side (bids, asks) by price, in time order:
    /// kept only while someone follows an order view (`queued`), and
    /// rebuilt from `resting` when the first one comes.
    queues: [BTreeMap<i64, BTreeMap<u64, OrderId>>; 2],
    queued: bool,
    /// The priority the next order to rest gets.
    next_priority: u64,
    /// The prices of each side's order view as last published.
    viewed: [Vec<i64>; 2],
}

/// Where a side's data is kept in a pair: bids 0, asks 1.
const fn side_index(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

impl Tally {
    /// Rests an order at the back of its level, or at `priority`.
    fn rest(
        &mut self,
        order_id: OrderId,
        side: Side,
        price_ticks: i64,
        remaining_t: u64,
        priority: Option<u64>,
    ) {
        let priority = priority.unwrap_or_else(|| {
            self.next_priority += 1;
            self.next_priority
        });
        self.resting.insert(
            order_id,
            Resting {
                side,
                price_ticks,
                remaining_t,
                priority,
            },
        );
        if self.queued {
            self.queues[side_index(side)]
                .entry(price_ticks)
                .or_default()
                .insert(priority, order_id);
        }
    }

    /// Keeps the queues from now on (`true`), built from the resting
    /// orders, or drops them (`false`).
    fn keep_queues(&mut self, keep: bool) {
        self.queued = keep;
        self.queues = [BTreeMap::new(), BTreeMap::new()];
        if keep {
            for (&order_id, order) in &self.resting {
                self.queues[side_index(order.side)]
                    .entry(order.price_ticks)
                    .or_default()
                    .insert(order.priority, order_id);
            }
        }
    }

    /// Takes an order out of its level's queue (it left the book).
    fn unqueue(&mut self, order: &Resting) {
        let queues = &mut self.queues[side_index(order.side)];
        if let Some(queue) = queues.get_mut(&order.price_ticks) {
            queue.remove(&order.priority);
            if queue.is_empty() {
                queues.remove(&order.price_ticks);
            }
        }
    }

    /// The order view of one level now.
    fn order_level(&self, side: Side, price_ticks: i64) -> OrderLevel {
        let Some(queue) = self.queues[side_index(side)].get(&price_ticks) else {
            return OrderLevel::default();
        };
        let orders: Vec<OrderEntry> = queue
            .values()
            .take(MAX_VIEW_ORDERS)
            .map(|id| OrderEntry {
                order_id: id.0,
                quantity_t: self.resting.get(id).map_or(0, |o| o.remaining_t),
            })
            .collect();
        OrderLevel {
            order_count: u32::try_from(queue.len()).unwrap_or(u32::MAX),
            orders: Arc::from(orders),
        }
    }
}

impl View {
    /// Takes one update, as a subscriber's copy does.
    pub fn update(&mut self, update: &Update) {
        match *update {
            Update::Level {
                side,
                price_ticks,
                quantity_t,
                orders,
            } => {
                let levels = self.side_mut(side);
                if quantity_t == 0 {
                    levels.remove(&price_ticks);
                } else {
                    levels.insert(price_ticks, LevelTotals { quantity_t, orders });
                }
            }
            Update::Trade { .. } | Update::Orders { .. } => {}
            Update::Statistics(day) => self.day = day,
            Update::Phase(phase) => self.phase = phase,
            Update::Band {
                reference_ticks,
                floor_ticks,
                ceiling_ticks,
            } => {
                self.reference_ticks = reference_ticks;
                self.floor_ticks = floor_ticks;
                self.ceiling_ticks = ceiling_ticks;
            }
            Update::EndOfDay { .. } => {
                self.day = DayFigures::default();
                self.closed_auctions.clear();
            }
            Update::AuctionAnnounced(notice) => {
                self.auctions.insert(notice.auction_id, notice);
            }
            Update::AuctionResult(closed) => {
                self.auctions.remove(&closed.auction_id);
                self.closed_auctions.insert(closed.auction_id, closed);
            }
            Update::BlockOffer { block_id, offer } => {
                if offer.quantity_t == 0 {
                    self.offers.remove(&block_id);
                } else {
                    self.offers.insert(block_id, offer);
                }
            }
        }
    }

    /// The levels of one side, best first.
    pub fn levels(&self, side: Side) -> Box<dyn Iterator<Item = (i64, LevelTotals)> + '_> {
        match side {
            Side::Buy => Box::new(self.bids.iter().rev().map(|(&p, &l)| (p, l))),
            Side::Sell => Box::new(self.asks.iter().map(|(&p, &l)| (p, l))),
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<i64, LevelTotals> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Adds (or, negative, takes) quantity and orders at a level.
    fn change(&mut self, side: Side, price_ticks: i64, quantity_t: i128, orders: i64) {
        let levels = self.side_mut(side);
        let level = levels.entry(price_ticks).or_default();
        let quantity = i128::from(level.quantity_t) + quantity_t;
        let count = i64::from(level.orders) + orders;
        level.quantity_t = u64::try_from(quantity).unwrap_or(0);
        level.orders = u32::try_from(count).unwrap_or(0);
        if level.orders == 0 || level.quantity_t == 0 {
            levels.remove(&price_ticks);
        }
    }

    /// One level's totals (zero when there is none at that price).
    #[must_use]
    pub fn level(&self, side: Side, price_ticks: i64) -> LevelTotals {
        let levels = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        levels.get(&price_ticks).copied().unwrap_or_default()
    }
}

/// The day's figures of the feed, from the engine's.
fn figures(today: &DayStats, last_ticks: i64, step_ticks: i64) -> DayFigures {
    let vwap_ticks = if today.volume_t == 0 {
        0
    } else {
        cetx_engine::vwap_ticks(today.turnover_fen, today.volume_t, step_ticks)
    };
    DayFigures {
        open_ticks: today.open_ticks,
        high_ticks: today.high_ticks,
        low_ticks: today.low_ticks,
        last_ticks,
        vwap_ticks,
        volume_t: today.volume_t,
        turnover_fen: i64::try_from(today.turnover_fen).unwrap_or(i64::MAX),
        trade_count: today.trade_count,
    }
}

/// Every instrument's public state; see the module docs.
#[derive(Clone, Debug)]
pub struct MarketState {
    instruments: Vec<View>,
    tallies: Vec<Tally>,
    /// Levels an entry touched, in the order first touched.
    touched: Vec<(usize, Side, i64)>,
    /// Instruments whose figures an entry moved.
    traded: Vec<usize>,
    /// Subscribers following an order view: with none, its changes are
    /// not worked out (each costs a list of up to 200 orders per level
    /// touched).
    order_view_readers: usize,
    /// No subscriber at all: the state is kept, but the levels' and
    /// figures' updates are not said (nobody would read them).
    unwatched: bool,
}

impl MarketState {
    /// The public state of the engine's market as it is now: the levels of
    /// its books, the day so far, phases and bands. The last trade price
    /// is the engine's; an engine restored from a snapshot older than
    /// version 7, which did not keep it, has none until its next trade, and
    /// the VWAP stands in meanwhile.
    #[must_use]
    pub fn of(engine: &Engine) -> Self {
        let mut instruments = Vec::new();
        let mut tallies = Vec::new();
        for (i, book) in engine.books().iter().enumerate() {
            let id = InstrumentId(u16::try_from(i).unwrap_or(u16::MAX));
            let rules = *book.rules();
            let today = engine.today(id).unwrap_or_default();
            let mut day = figures(&today, today.last_ticks, rules.step_ticks);
            if today.trade_count > 0 && today.last_ticks == 0 {
                day.last_ticks = day.vwap_ticks;
            }
            let mut view = View {
                symbol: engine.symbol(id).unwrap_or_default().to_owned(),
                step_ticks: rules.step_ticks,
                phase: engine.phase(id).unwrap_or_default(),
                reference_ticks: rules.reference_ticks,
                floor_ticks: rules.floor_ticks,
                ceiling_ticks: rules.ceiling_ticks,
                bids: BTreeMap::new(),
                asks: BTreeMap::new(),
                day,
                offers: engine
                    .blocks()
                    .offers
                    .values()
                    .filter(|o| o.instrument == id && o.counterparty.is_none())
                    .map(|o| {
                        let quote = BlockQuote {
                            side: o.side,
                            price_ticks: o.price_ticks,
                            quantity_t: o.quantity_t,
                        };
                        (o.block_id, quote)
                    })
                    .collect(),
                auctions: engine
                    .auctions()
                    .open
                    .values()
                    .filter(|a| a.notice.instrument == id)
                    .map(|a| (a.notice.auction_id, a.notice))
                    .collect(),
                closed_auctions: BTreeMap::new(),
            };
            let mut tally = Tally {
                today,
                ..Tally::default()
            };
            for side in [Side::Buy, Side::Sell] {
                // In priority order, so the priorities given keep it.
                for order in book.orders(side) {
                    let (id, price_ticks) = (order.order_id, order.price_ticks);
                    tally.rest(id, side, price_ticks, order.quantity_t, None);
                    view.change(side, order.price_ticks, order.quantity_t.into(), 1);
                }
                tally.viewed[side_index(side)] = view
                    .levels(side)
                    .take(ORDER_VIEW_LEVELS)
                    .map(|(p, _)| p)
                    .collect();
            }
            instruments.push(view);
            tallies.push(tally);
        }
        Self {
            instruments,
            tallies,
            touched: Vec::new(),
            traded: Vec::new(),
            order_view_readers: 0,
            unwatched: false,
        }
    }

    /// Shows `closed` (auctions closed earlier in their instrument's
    /// trading day, which the engine no longer holds) as a new
    /// subscriber's snapshot shows the day's results: after a restart too.
    pub fn remember_closed_auctions<'a>(
        &mut self,
        closed: impl IntoIterator<Item = &'a AuctionClosed>,
    ) {
        for auction in closed {
            if let Some(view) = self.instruments.get_mut(usize::from(auction.instrument.0)) {
                view.closed_auctions.insert(auction.auction_id, *auction);
            }
        }
    }

    /// Adds an instrument listed while the server runs, closed and with
    /// an empty book, at the id the engine gave it (the next one).
    pub fn list(&mut self, spec: &InstrumentSpec, band: &ReferencePriceSet) {
        let i = usize::from(band.instrument.0);
        if i != self.instruments.len() {
            return;
        }
        let Ok(rules) = spec.rules() else {
            return;
        };
        self.instruments.push(View {
            symbol: spec.symbol.clone(),
            step_ticks: rules.step_ticks,
            phase: Phase::Closed,
            reference_ticks: band.price_ticks,
            floor_ticks: band.floor_ticks,
            ceiling_ticks: band.ceiling_ticks,
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            day: DayFigures::default(),
            offers: BTreeMap::new(),
            auctions: BTreeMap::new(),
            closed_auctions: BTreeMap::new(),
        });
        self.tallies.push(Tally {
            queued: self.order_view_readers > 0,
            ..Tally::default()
        });
    }

    /// Takes an instrument's new rules: its price step (the band comes
    /// with the event, in [`Self::apply`]). A subscriber sees the new step
    /// in its next snapshot.
    pub fn revise(&mut self, spec: &InstrumentSpec, band: &ReferencePriceSet) {
        let (Some(view), Ok(rules)) = (
            self.instruments.get_mut(usize::from(band.instrument.0)),
            spec.rules(),
        ) else {
            return;
        };
        view.step_ticks = rules.step_ticks;
    }

    /// The instruments, by id.
    #[must_use]
    pub fn instruments(&self) -> &[View] {
        &self.instruments
    }

    /// The id of the instrument with this symbol.
    #[must_use]
    pub fn find(&self, symbol: &str) -> Option<u16> {
        let i = self.instruments.iter().position(|i| i.symbol == symbol)?;
        u16::try_from(i).ok()
    }

    /// Takes one durable entry's events and adds what changed to `out`, as
    /// `(instrument id, update)`.
    pub fn apply(&mut self, events: &[Event], out: &mut Vec<(u16, Update)>) {
        let mut incoming: Option<Incoming> = None;
        for event in events {
            match *event {
                Event::Accepted(a) => {
                    incoming = Some(Incoming {
                        order_id: a.order_id,
                        instrument: usize::from(a.instrument.0),
                        side: a.side,
                        price_ticks: a.price_ticks,
                        remaining_t: a.quantity_t,
                        rests: a.order_type == OrderType::Limit
                            && a.time_in_force == TimeInForce::Day,
                        priority: None,
                    });
                }
                Event::Trade(t) => {
                    let i = usize::from(t.instrument.0);
                    let maker_side = t.aggressor.opposite();
                    self.take(i, t.maker_order_id, t.quantity_t, t.maker_remaining_t);
                    self.touch(i, maker_side, t.price_ticks);
                    if let Some(order) =
                        incoming.as_mut().filter(|o| o.order_id == t.taker_order_id)
                    {
                        order.remaining_t = t.taker_remaining_t;
                    }
                    if let (Some(view), Some(tally)) =
                        (self.instruments.get_mut(i), self.tallies.get_mut(i))
                    {
                        tally.today.record(&t);
                        view.day = figures(&tally.today, t.price_ticks, view.step_ticks);
                    }
                    if !self.traded.contains(&i) {
                        self.traded.push(i);
                    }
                    out.push((
                        t.instrument.0,
                        Update::Trade {
                            trade_id: t.trade_id,
                            price_ticks: t.price_ticks,
                            quantity_t: t.quantity_t,
                            aggressor: t.aggressor,
                            time_ns: t.time_ns,
                        },
                    ));
                }
                Event::Cancelled(c) => {
                    if incoming.is_some_and(|o| o.order_id == c.order_id) {
                        incoming = None;
                    } else {
                        let i = usize::from(c.instrument.0);
                        if let Some(order) = self.remove(i, c.order_id) {
                            self.touch(i, order.side, order.price_ticks);
                        }
                    }
                }
                Event::Amended(a) => {
                    let i = usize::from(a.instrument.0);
                    let Some(order) = self.remove(i, a.order_id) else {
                        continue;
                    };
                    self.touch(i, order.side, order.price_ticks);
                    // Kept or not, the order rests again at the end of the
                    // entry with what is left of it.
                    incoming = Some(Incoming {
                        order_id: a.order_id,
                        instrument: i,
                        side: order.side,
                        price_ticks: a.price_ticks,
                        remaining_t: a.quantity_t,
                        rests: true,
                        priority: a.priority_kept.then_some(order.priority),
                    });
                }
                Event::AuctionAnnounced(n) => {
                    self.say(n.instrument.0, Update::AuctionAnnounced(n), out);
                }
                Event::AuctionClosed(c) => self.say(c.instrument.0, Update::AuctionResult(c), out),
                Event::PhaseChanged(p) => {
                    if let Some(instrument) = self.instruments.get_mut(usize::from(p.instrument.0))
                    {
                        instrument.phase = p.phase;
                        out.push((p.instrument.0, Update::Phase(p.phase)));
                    }
                }
                Event::ReferencePriceSet(r) | Event::InstrumentRevised(r) => {
                    let i = usize::from(r.instrument.0);
                    if let Some(instrument) = self.instruments.get_mut(i) {
                        instrument.reference_ticks = r.price_ticks;
                        instrument.floor_ticks = r.floor_ticks;
                        instrument.ceiling_ticks = r.ceiling_ticks;
                        // The end of a day is told with the band it leads to.
                        if let Some((
                            _,
                            Update::EndOfDay {
                                next_floor_ticks,
                                next_ceiling_ticks,
                                ..
                            },
                        )) = out.last_mut().filter(|(id, _)| *id == r.instrument.0)
                        {
                            *next_floor_ticks = r.floor_ticks;
                            *next_ceiling_ticks = r.ceiling_ticks;
                        }
                        out.push((
                            r.instrument.0,
                            Update::Band {
                                reference_ticks: r.price_ticks,
                                floor_ticks: r.floor_ticks,
                                ceiling_ticks: r.ceiling_ticks,
                            },
                        ));
                    }
                }
                Event::DayClosed(d) => {
                    let i = usize::from(d.instrument.0);
                    self.flush(out);
                    if let (Some(instrument), Some(tally)) =
                        (self.instruments.get_mut(i), self.tallies.get_mut(i))
                    {
                        let day = DayFigures {
                            open_ticks: d.open_ticks,
                            high_ticks: d.high_ticks,
                            low_ticks: d.low_ticks,
                            last_ticks: instrument.day.last_ticks,
                            vwap_ticks: d.close_ticks,
                            volume_t: d.volume_t,
                            turnover_fen: d.turnover_fen,
                            trade_count: d.trade_count,
                        };
                        out.push((
                            d.instrument.0,
                            Update::EndOfDay {
                                trading_day: d.trading_day,
                                close_ticks: d.close_ticks,
                                day,
                                next_floor_ticks: instrument.floor_ticks,
                                next_ceiling_ticks: instrument.ceiling_ticks,
                            },
                        ));
                        tally.today = DayStats::default();
                        instrument.day = DayFigures::default();
                        instrument.closed_auctions.clear();
                    }
                }
                Event::Rejected(_)
                | Event::AccountOpened(_)
                | Event::CashDeposited(_)
                | Event::CashWithdrawn(_)
                | Event::HoldingsCredited(_)
                | Event::HoldingsDebited(_)
                | Event::LargeHolder(_)
                | Event::DayStarted(_)
                // The market's definition is journaled at start-up, before
                // the feed starts from the engine as it then is.
                | Event::InstrumentListed(_)
                | Event::CalendarSet
                | Event::BrokerAdded(_)
                | Event::BrokerStatusChanged(_)
                | Event::AccountStatusChanged(_)
                // Block trades never touch the book nor the day's figures;
                // offers open to all are public (below).
                | Event::BlockTraded(_) => {}
                Event::BlockPosted(p) => {
                    if p.counterparty.is_none() {
                        let quote = BlockQuote {
                            side: p.side,
                            price_ticks: p.price_ticks,
                            quantity_t: p.quantity_t,
                        };
                        self.quote(usize::from(p.instrument.0), p.block_id, quote, out);
                    }
                }
                Event::BlockAccepted(a) => {
                    let public = self.instruments.iter().enumerate().find_map(|(i, view)| {
                        view.offers.get(&a.block_id).map(|quote| (i, *quote))
                    });
                    if let Some((i, quote)) = public {
                        let now = BlockQuote {
                            quantity_t: a.remaining_t,
                            ..quote
                        };
                        self.quote(i, a.block_id, now, out);
                    }
                }
                Event::BlockCancelled(c) => {
                    let i = usize::from(c.instrument.0);
                    let public = self
                        .instruments
                        .get(i)
                        .and_then(|view| view.offers.get(&c.block_id).copied());
                    if let Some(quote) = public {
                        let ended = BlockQuote {
                            quantity_t: 0,
                            ..quote
                        };
                        self.quote(i, c.block_id, ended, out);
                    }
                }
                // Bids are never public: only the announcement and the
                // outcome are.
                | Event::BidAccepted(_)
                | Event::BidAmended(_)
                | Event::BidCancelled(_)
                | Event::AuctionAllocation(_) => {}
            }
        }
        if let Some(order) = incoming.filter(|o| o.rests && o.remaining_t > 0) {
            if let (Some(instrument), Some(tally)) = (
                self.instruments.get_mut(order.instrument),
                self.tallies.get_mut(order.instrument),
            ) {
                tally.rest(
                    order.order_id,
                    order.side,
                    order.price_ticks,
                    order.remaining_t,
                    order.priority,
                );
                instrument.change(order.side, order.price_ticks, order.remaining_t.into(), 1);
                self.touch(order.instrument, order.side, order.price_ticks);
            }
        }
        self.flush(out);
    }

    /// A public block offer as it is now: kept, and said.
    fn quote(&mut self, i: usize, block_id: u64, offer: BlockQuote, out: &mut Vec<(u16, Update)>) {
        let i = u16::try_from(i).unwrap_or(u16::MAX);
        self.say(i, Update::BlockOffer { block_id, offer }, out);
    }

    /// An update of instrument `i`'s view: kept in it, and said.
    fn say(&mut self, i: u16, update: Update, out: &mut Vec<(u16, Update)>) {
        let Some(view) = self.instruments.get_mut(usize::from(i)) else {
            return;
        };
        view.update(&update);
        out.push((i, update));
    }

    /// A resting order traded `quantity_t` and has `remaining_t` left.
    fn take(&mut self, i: usize, order_id: OrderId, quantity_t: u64, remaining_t: u64) {
        let (Some(instrument), Some(tally)) =
            (self.instruments.get_mut(i), self.tallies.get_mut(i))
        else {
            return;
        };
        let Some(order) = tally.resting.get_mut(&order_id) else {
            return;
        };
        order.remaining_t = remaining_t;
        let order = *order;
        let gone = i64::from(remaining_t == 0);
        if remaining_t == 0 {
            tally.resting.remove(&order_id);
            tally.unqueue(&order);
        }
        instrument.change(
            order.side,
            order.price_ticks,
            -i128::from(quantity_t),
            -gone,
        );
    }

    /// Takes a resting order out of its level.
    fn remove(&mut self, i: usize, order_id: OrderId) -> Option<Resting> {
        let tally = self.tallies.get_mut(i)?;
        let order = tally.resting.remove(&order_id)?;
        tally.unqueue(&order);
        let instrument = self.instruments.get_mut(i)?;
        instrument.change(
            order.side,
            order.price_ticks,
            -i128::from(order.remaining_t),
            -1,
        );
        Some(order)
    }

    /// Whether anyone reads the updates [`Self::apply`] says: while
    /// nobody does, the levels' and figures' updates are not worked out.
    pub fn set_watched(&mut self, watched: bool) {
        self.unwatched = !watched;
    }

    fn touch(&mut self, i: usize, side: Side, price_ticks: i64) {
        if self.unwatched {
            return;
        }
        if !self.touched.contains(&(i, side, price_ticks)) {
            self.touched.push((i, side, price_ticks));
        }
    }

    /// Says the final totals of the levels touched so far, then the
    /// order view's levels that changed, then the figures of the
    /// instruments that traded.
    fn flush(&mut self, out: &mut Vec<(u16, Update)>) {
        if self.unwatched {
            self.touched.clear();
            self.traded.clear();
            return;
        }
        let touched = std::mem::take(&mut self.touched);
        for &(i, side, price_ticks) in &touched {
            let Some(instrument) = self.instruments.get(i) else {
                continue;
            };
            let level = instrument.level(side, price_ticks);
            out.push((
                u16::try_from(i).unwrap_or(u16::MAX),
                Update::Level {
                    side,
                    price_ticks,
                    quantity_t: level.quantity_t,
                    orders: level.orders,
                },
            ));
        }
        if self.order_view_readers > 0 {
            self.order_view_changes(&touched, out);
        }
        self.touched = touched;
        self.touched.clear();
        for i in self.traded.drain(..) {
            if let Some(instrument) = self.instruments.get(i) {
                out.push((
                    u16::try_from(i).unwrap_or(u16::MAX),
                    Update::Statistics(instrument.day),
                ));
            }
        }
    }

    /// The order view's levels of the sides touched: each level that left
    /// the best [`ORDER_VIEW_LEVELS`] (as empty), then each one now among
    /// them that came into view or was touched.
    fn order_view_changes(&mut self, touched: &[(usize, Side, i64)], out: &mut Vec<(u16, Update)>) {
        let mut sides: Vec<(usize, Side)> = Vec::new();
        for &(i, side, _) in touched {
            if !sides.contains(&(i, side)) {
                sides.push((i, side));
            }
        }
        for (i, side) in sides {
            let (Some(view), Some(tally)) = (self.instruments.get(i), self.tallies.get_mut(i))
            else {
                continue;
            };
            let id = u16::try_from(i).unwrap_or(u16::MAX);
            let now: Vec<i64> = view
                .levels(side)
                .take(ORDER_VIEW_LEVELS)
                .map(|(p, _)| p)
                .collect();
            let before = std::mem::take(&mut tally.viewed[side_index(side)]);
            for &price_ticks in before.iter().filter(|p| !now.contains(p)) {
                let level = OrderLevel::default();
                out.push((
                    id,
                    Update::Orders {
                        side,
                        price_ticks,
                        level,
                    },
                ));
            }
            for &price_ticks in &now {
                if !before.contains(&price_ticks) || touched.contains(&(i, side, price_ticks)) {
                    let level = tally.order_level(side, price_ticks);
                    out.push((
                        id,
                        Update::Orders {
                            side,
                            price_ticks,
                            level,
                        },
                    ));
                }
            }
            tally.viewed[side_index(side)] = now;
        }
    }

    /// A subscriber starts following an order view (it takes the views
    /// as they are now from [`Self::order_view`]). The first one brings
    /// the prices last published up to date, since nobody needed them
    /// meanwhile.
    pub fn join_order_view(&mut self) {
        if self.order_view_readers == 0 {
            for (view, tally) in self.instruments.iter().zip(&mut self.tallies) {
                tally.keep_queues(true);
                for side in [Side::Buy, Side::Sell] {
                    tally.viewed[side_index(side)] = view
                        .levels(side)
                        .take(ORDER_VIEW_LEVELS)
                        .map(|(p, _)| p)
                        .collect();
                }
            }
        }
        self.order_view_readers += 1;
    }

    /// A subscriber stopped following order views.
    pub fn leave_order_view(&mut self) {
        self.order_view_readers = self.order_view_readers.saturating_sub(1);
        if self.order_view_readers == 0 {
            for tally in &mut self.tallies {
                tally.keep_queues(false);
            }
        }
    }

    /// The order view of an instrument now: the best
    /// [`ORDER_VIEW_LEVELS`] levels of each side with their orders, bids
    /// best first, then asks best first.
    #[must_use]
    pub fn order_view(&self, id: u16) -> Vec<(Side, i64, OrderLevel)> {
        let i = usize::from(id);
        let (Some(view), Some(tally)) = (self.instruments.get(i), self.tallies.get(i)) else {
            return Vec::new();
        };
        let mut levels = Vec::new();
        for side in [Side::Buy, Side::Sell] {
            for (price_ticks, _) in view.levels(side).take(ORDER_VIEW_LEVELS) {
                levels.push((side, price_ticks, tally.order_level(side, price_ticks)));
            }
        }
        levels
    }
}

#[cfg(test)]
mod tests {
    use cetx_engine::{
        AccountId, BrokerId, Command, EngineConfig, InstrumentSpec, NewOrder, ParticipantType,
        Stamp, Take,
    };
    use rust_decimal::Decimal;

    use super::*;

    const CEA: InstrumentId = InstrumentId(0);

    /// A level of the order view: side, price, (order id, open t) in order.
    type ViewLevel = (Side, i64, Vec<(u64, u64)>);

    /// An engine and the market state following it entry by entry.
    struct Market {
        engine: Engine,
        state: MarketState,
        seq: u64,
    }

    impl Market {
        fn new() -> Self {
            Self::holding(64)
        }

        /// A market whose book holds `max_orders`, all of one account's
        /// if need be.
        fn holding(max_orders: u32) -> Self {
            let mut spec = InstrumentSpec::cea(2025, Decimal::new(100_00, 2));
            spec.max_orders = max_orders;
            spec.max_orders_per_account = Some(max_orders);
            spec.max_orders_per_broker = Some(max_orders);
            let engine = Engine::new(&EngineConfig {
                instruments: vec![spec],
            })
            .unwrap();
            let mut state = MarketState::of(&engine);
            // As with a subscriber of the order view.
            state.join_order_view();
            let mut market = Self {
                engine,
                state,
                seq: 0,
            };
            for account in [1, 2] {
                market.apply(Command::OpenAccount {
                    account: AccountId(account),
                    participant: ParticipantType::ComplianceEntity,
                    broker: BrokerId(account),
                });
                market.apply(Command::Deposit {
                    account: AccountId(account),
                    amount_fen: 1 << 40,
                });
                market.apply(Command::CreditHoldings {
                    account: AccountId(account),
                    instrument: CEA,
                    quantity_t: 10_000,
                });
            }
            market.apply(Command::SetPhase {
                instrument: CEA,
                phase: Phase::Continuous,
            });
            market
        }

        /// Applies a command and returns the order-view updates it made.
        fn apply(&mut self, command: Command) -> Vec<ViewLevel> {
            self.seq += 1;
            let mut events = Vec::new();
            let stamp = Stamp {
                seq: self.seq,
                time_ns: 0,
            };
            self.engine.apply(&command, stamp, &mut events);
            assert!(
                !events.iter().any(|e| matches!(e, Event::Rejected(_))),
                "{events:?}"
            );
            let mut out = Vec::new();
            self.state.apply(&events, &mut out);
            out.into_iter()
                .filter_map(|(_, update)| match update {
                    Update::Orders {
                        side,
                        price_ticks,
                        level,
                    } => Some((side, price_ticks, ids(&level))),
                    _ => None,
                })
                .collect()
        }

        fn sell(&mut self, price_ticks: i64, quantity_t: u64) -> Vec<ViewLevel> {
            let order_id = self.seq + 1;
            self.apply(Command::Submit(NewOrder {
                order_id: OrderId(order_id),
                account: AccountId(1),
                instrument: CEA,
                side: Side::Sell,
                order_type: OrderType::Limit,
                time_in_force: TimeInForce::Day,
                price_ticks,
                quantity_t,
                client_order_id: order_id,
            }))
        }

        /// The order view as a fresh subscriber gets it.
        fn view(&self) -> Vec<ViewLevel> {
            self.state
                .order_view(0)
                .into_iter()
                .map(|(side, price_ticks, level)| (side, price_ticks, ids(&level)))
                .collect()
        }
    }

    fn ids(level: &OrderLevel) -> Vec<(u64, u64)> {
        assert_eq!(level.orders.len(), level.order_count as usize);
        level
            .orders
            .iter()
            .map(|o| (o.order_id, o.quantity_t))
            .collect()
    }

    /// An auction's result is in the snapshots of its day, not the next
    /// (MARKET_DATA.md, *Connecting*; an outside tester found it after the
    /// end of day when only the subscribers' views cleared it).
    #[test]
    fn an_auction_s_result_is_kept_for_snapshots_until_the_end_of_day() {
        let mut m = Market::new();
        let closed = AuctionClosed {
            auction_id: 7,
            instrument: CEA,
            seller: AccountId(1),
            pricing: cetx_engine::Pricing::Uniform,
            clearing_ticks: 100_00,
            sold_t: 100_000,
            unsold_t: 0,
            turnover_fen: 1_000_000_000,
        };
        m.state
            .apply(&[Event::AuctionClosed(closed)], &mut Vec::new());
        let kept: Vec<_> = m.state.instruments[0].closed_auctions.values().collect();
        assert_eq!(kept, [&closed]);
        m.apply(Command::EndOfDay { trading_date: None });
        assert!(m.state.instruments[0].closed_auctions.is_empty());
    }

    #[test]
    fn with_no_reader_the_order_view_is_not_worked_out_and_a_late_one_follows_it() {
        let mut m = Market::new();
        m.state.leave_order_view();
        for price in [100_00, 100_50, 101_00] {
            assert_eq!(m.sell(price, 10), []);
        }
        // A reader comes: it takes the view as it is now; after that each
        // change is the level as it is, and nothing it already has.
        m.state.join_order_view();
        let seen = m.view();
        assert_eq!(seen.len(), 3);
        let id = m.seq + 1;
        assert_eq!(m.sell(101_50, 5), [(Side::Sell, 101_50, vec![(id, 5)])]);
        let first = seen[0].2[0].0;
        let second = m.seq + 1;
        assert_eq!(
            m.sell(100_00, 7),
            [(Side::Sell, 100_00, vec![(first, 10), (second, 7)])]
        );
    }

    /// MARKET_DATA.md, *Order view*: a level lists its first
    /// `MAX_VIEW_ORDERS` orders in time, and `order_count` says how many
    /// rest there; when the first goes, the next comes into the list.
    #[test]
    fn a_level_lists_its_first_orders_and_counts_them_all() {
        let mut m = Market::holding(256);
        let first = m.seq + 1;
        let mut ids = Vec::new();
        for _ in 0..=MAX_VIEW_ORDERS {
            ids.push(m.seq + 1);
            // Out of the view while it fills (`Market::apply`'s reading of
            // each update expects every order listed).
            m.state.leave_order_view();
            m.sell(100_00, 1);
            m.state.join_order_view();
        }
        let view = m.state.order_view(0);
        let [(Side::Sell, 100_00, level)] = &view[..] else {
            panic!("{view:?}");
        };
        assert_eq!(level.order_count as usize, MAX_VIEW_ORDERS + 1);
        let listed: Vec<u64> = level.orders.iter().map(|o| o.order_id).collect();
        assert_eq!(listed, ids[..MAX_VIEW_ORDERS]);
        m.apply(Command::Cancel {
            instrument: CEA,
            order_id: OrderId(first),
            requester: None,
        });
        let view = m.state.order_view(0);
        let level = &view[0].2;
        assert_eq!(level.order_count as usize, MAX_VIEW_ORDERS);
        let listed: Vec<u64> = level.orders.iter().map(|o| o.order_id).collect();
        assert_eq!(listed, ids[1..]);
    }

    #[test]
    fn the_order_view_keeps_the_best_five_levels_in_time_order() {
        let mut m = Market::new();
        // Six ask levels; the sixth is out of view and says nothing.
        for (k, price) in [100_00, 100_50, 101_00, 101_50, 102_00]
            .into_iter()
            .enumerate()
        {
            let id = m.seq + 1;
            assert_eq!(
                m.sell(price, 10 + k as u64),
                [(Side::Sell, price, vec![(id, 10 + k as u64)])]
            );
        }
        assert_eq!(m.sell(102_50, 5), []);
        // A second order at the best level joins behind the first.
        let first = m.view()[0].2[0].0;
        let second = m.seq + 1;
        assert_eq!(
            m.sell(100_00, 7),
            [(Side::Sell, 100_00, vec![(first, 10), (second, 7)])]
        );
        // Reducing the first in place keeps its place.
        let kept = m.apply(Command::Amend {
            instrument: CEA,
            order_id: OrderId(first),
            price_ticks: 100_00,
            quantity_t: 4,
            requester: None,
        });
        assert_eq!(kept, [(Side::Sell, 100_00, vec![(first, 4), (second, 7)])]);
        // A better level pushes the 5th (102.00) out of view.
        let best = m.seq + 1;
        assert_eq!(
            m.sell(99_50, 1),
            [
                (Side::Sell, 102_00, vec![]),
                (Side::Sell, 99_50, vec![(best, 1)])
            ]
        );
        // A take of the third-best level's order: that level changes.
        let third = m.view()[2].2[0].0;
        let take = m.apply(Command::Take(Take {
            order_id: OrderId(m.seq + 1),
            account: AccountId(2),
            instrument: CEA,
            side: Side::Buy,
            target: OrderId(third),
            quantity_t: 4,
            client_order_id: 1,
        }));
        assert_eq!(take, [(Side::Sell, 100_50, vec![(third, 7)])]);
        // What a fresh subscriber gets equals what the updates built.
        let prices: Vec<i64> = m.view().iter().map(|l| l.1).collect();
        assert_eq!(prices, [99_50, 100_00, 100_50, 101_00, 101_50]);
        assert_eq!(m.view()[1].2, [(first, 4), (second, 7)]);
        // Filling the best level brings 102.00 back into view.
        let fill = m.apply(Command::Take(Take {
            order_id: OrderId(m.seq + 1),
            account: AccountId(2),
            instrument: CEA,
            side: Side::Buy,
            target: OrderId(best),
            quantity_t: 1,
            client_order_id: 2,
        }));
        let fifth = m.view()[4].2.clone();
        assert_eq!(
            fill,
            [(Side::Sell, 99_50, vec![]), (Side::Sell, 102_00, fifth)]
        );
    }
}
