//! Deterministic, realistic command streams for one CEA book.
//!
//! [`MixedFlow`] generates the *mixed stream* the benches and the
//! allocation test drive the engine with. It is seeded, uses an in-house
//! SplitMix64 generator, and allocates nothing per command once built: the
//! set of live order ids is a `Vec` with `swap_remove` plus an id → position
//! map, both sized up front.
//!
//! # The instrument
//!
//! `CEA2025` with the exchange defaults around a reference price of
//! 90.00 CNY ([`instrument_spec`]): tick 0.01 CNY, lot 1 t, band ±10%, so
//! prices run from 81.00 to 99.00 CNY (`81_00..=99_00` ticks). The flow's
//! mid price is fixed at the reference, [`MID_TICKS`] = `90_00`.
//!
//! # The mix
//!
//! Each call to [`MixedFlow::next_command`] draws one number from `0..100`:
//!
//! | draw | share | command |
//! |---|---|---|
//! | `0..10` | 10% | marketable order: see below |
//! | `10..55` | 45% | passive limit Day order |
//! | `55..100` | 45% | cancel of a live resting order |
//!
//! - **Passive** (45%): buy or sell with equal odds, limit price
//!   `depth` ticks away from the mid on its own side (buys at `90_00 - depth`,
//!   sells at `90_00 + depth`), where `depth = 1 + min(u, v)` for `u`, `v`
//!   uniform in `0..200`: a triangular profile, densest at the touch and
//!   thinning out to 2.00 CNY from the mid. Size uniform in
//!   `1..=`[`PASSIVE_MAX_T`] t. Because no flow order rests on the far side
//!   of the mid, these never cross: they always rest.
//! - **Cancel** (45%): a `Command::Cancel` of a live resting order, picked
//!   uniformly from the orders the flow knows to rest. The flow learns what
//!   rests from the engine's events (see [`MixedFlow::observe`]), so every
//!   cancel hits; a run with no rejection shows it.
//! - **Marketable** (10%): buy or sell with equal odds, size uniform in
//!   `1..=`[`MARKETABLE_MAX_T`] t; 60% of them are limit IOC orders priced
//!   1 to 5 ticks through the mid (buys at `90_01..=90_05`, sells at
//!   `89_95..=89_99`), 40% are market orders (IOC, limit at the band edge).
//!   Neither kind rests, which is what keeps the passive orders passive; a
//!   marketable *Day* limit is left out because its remainder would rest on
//!   the far side of the mid.
//!
//! **Holding the book at its target.** Fills remove makers, so an exact
//! 45/45 split of adds and cancels would drain the book, and any fixed
//! split is a random walk in the order count. The flow therefore moves the
//! boundary between passive and cancel by one point for every
//! `resting_target / 200` orders the book is below (or above) its target,
//! at most [`MAX_FEEDBACK_POINTS`] points either way, and turns a cancel
//! into a passive order when nothing rests. The marketable share is exactly
//! 10%. Over 100,000 commands at a target of 5,000 (seed 2025) the
//! realized mix is 45.9% passive / 44.2% cancel / 9.9% marketable, with the
//! book between 4,897 and 5,047 orders; [`MixedFlow::counts`] reports the exact
//! counts of a run.
//!
//! # Stamps and ids
//!
//! Order ids count up from 1 (the engine requires strictly increasing ids);
//! a stamp's `seq` counts up from 1, and its `time_ns` starts at
//! 2025-07-16 09:30:00 Beijing time and advances by 1 ns to 20 µs per
//! command. Accounts are drawn from 1 to [`ACCOUNTS`].
//!
//! # The market
//!
//! [`genesis`] opens accounts `1..=ACCOUNTS` as compliance entities, rich
//! enough in cash and allowances that no order of the flow is ever short,
//! and starts continuous trading. Every pre-trade check still runs on every
//! order, and every trade settles between two accounts.
//!
//! [`Harness`] puts a flow, an engine and a reused event buffer together,
//! applies the genesis, and warms the book up to its target.

use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

use cetx_engine::{
    AccountId, BrokerId, Command, Engine, EngineConfig, Event, InstrumentId, InstrumentSpec,
    NewOrder, OrderId, OrderType, ParticipantType, Phase, Side, Stamp, TimeInForce,
};

/// The only instrument of [`engine_config`].
pub const INSTRUMENT: InstrumentId = InstrumentId(0);

/// The flow's fixed mid price in ticks: the reference price, 90.00 CNY.
pub const MID_TICKS: i64 = 90_00;

/// Passive orders rest at most this many ticks from the mid.
pub const MAX_DEPTH_TICKS: i64 = 200;

/// Largest passive order, in tonnes.
pub const PASSIVE_MAX_T: u64 = 100;

/// Largest marketable order, in tonnes.
pub const MARKETABLE_MAX_T: u64 = 20;

/// Most events one command of the flow can produce: an acceptance, one trade
/// per tonne of the largest marketable order, and the cancellation of its
/// remainder. An event buffer with this capacity never grows.
pub const MAX_EVENTS_PER_COMMAND: usize = MARKETABLE_MAX_T as usize + 2;

/// Accounts are drawn uniformly from `1..=ACCOUNTS`.
pub const ACCOUNTS: u32 = 1_000;

/// Percent of commands that are passive limit orders, before feedback.
pub const PASSIVE_PERCENT: u64 = 45;

/// Percent of commands that are cancels, before feedback.
pub const CANCEL_PERCENT: u64 = 45;

/// Percent of commands that are marketable orders (never adjusted).
pub const MARKETABLE_PERCENT: u64 = 10;

/// Most percentage points the feedback moves between passive and cancel.
pub const MAX_FEEDBACK_POINTS: i64 = 10;

const _: () = assert!(PASSIVE_PERCENT + CANCEL_PERCENT + MARKETABLE_PERCENT == 100);

/// 2025-07-16 09:30:00 +08:00 (a CEA trading morning), in ns since the epoch.
const START_TIME_NS: i64 = 1_752_629_400 * 1_000_000_000;

/// Longest gap between two commands' times, in ns.
const MAX_GAP_NS: u64 = 20_000;

/// The instrument every flow trades: `CEA2025` around 90.00 CNY, so the
/// band is 81.00..=99.00 CNY. Every account of the flow belongs to broker
/// 1, so the broker's limit on resting orders is the book's own: the
/// benches measure matching, not that one broker is held back.
#[must_use]
pub fn instrument_spec() -> InstrumentSpec {
    let mut spec = InstrumentSpec::cea(2025, Decimal::new(90_00, 2));
    spec.max_orders_per_broker = Some(spec.max_orders);
    spec
}

/// An engine config with [`instrument_spec`] as its only instrument
/// ([`INSTRUMENT`]).
#[must_use]
pub fn engine_config() -> EngineConfig {
    EngineConfig {
        instruments: vec![instrument_spec()],
    }
}

/// Cash each account starts with, in fen: ten billion CNY, so that no order
/// of the flow is ever short of money.
pub const ACCOUNT_CASH_FEN: i64 = 1_000_000_000_000;

/// Allowances each account starts with in every instrument, in tonnes.
pub const ACCOUNT_HOLDINGS_T: u64 = 1_000_000_000;

/// What a journal of the flow starts with, from an empty
/// [`Engine::default`]: the market's definition (the default calendar, and
/// each of `config`'s instruments listed), then [`genesis`].
#[must_use]
pub fn journal_genesis(config: &EngineConfig) -> Vec<Command> {
    let definition = cetx_engine::MarketDefinition {
        instruments: config.instruments.clone(),
        calendar: cetx_engine::Calendar::default(),
    };
    let mut commands = definition.genesis();
    commands.extend(genesis(config));
    commands
}

/// The commands that open a market for the flow: accounts `1..=ACCOUNTS`,
/// compliance entities (eligible for CEA) with [`ACCOUNT_CASH_FEN`] and
/// [`ACCOUNT_HOLDINGS_T`] of each instrument, then continuous trading in
/// every instrument. Every pre-trade check is on: the accounts are simply
/// rich enough to pass them.
#[must_use]
pub fn genesis(config: &EngineConfig) -> Vec<Command> {
    let instruments: Vec<InstrumentId> = (0..config.instruments.len())
        .map(|i| InstrumentId(i as u16))
        .collect();
    let mut commands = Vec::new();
    for account in (1..=ACCOUNTS).map(AccountId) {
        commands.push(Command::OpenAccount {
            account,
            participant: ParticipantType::ComplianceEntity,
            broker: BrokerId(1),
        });
        commands.push(Command::Deposit {
            account,
            amount_fen: ACCOUNT_CASH_FEN,
        });
        for &instrument in &instruments {
            commands.push(Command::CreditHoldings {
                account,
                instrument,
                quantity_t: ACCOUNT_HOLDINGS_T,
            });
        }
    }
    for &instrument in &instruments {
        commands.push(Command::SetPhase {
            instrument,
            phase: Phase::Continuous,
        });
    }
    commands
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and plenty random for
/// load generation. Not for anything that needs to be unpredictable.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2^-50
    /// for the small `n` used here).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    fn side(&mut self) -> Side {
        if self.next_u64() & 1 == 0 {
            Side::Buy
        } else {
            Side::Sell
        }
    }
}

/// How many commands of each kind a flow has generated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MixCounts {
    /// Passive limit Day orders.
    pub passive: u64,
    /// Cancels of resting orders.
    pub cancel: u64,
    /// Marketable orders (limit IOC or market).
    pub marketable: u64,
}

impl MixCounts {
    /// All commands.
    #[must_use]
    pub const fn total(&self) -> u64 {
        self.passive + self.cancel + self.marketable
    }
}

/// A seeded generator of the mixed stream (see the module docs for the
/// exact mix).
///
/// Feed the events of every command to [`MixedFlow::observe`] before asking
/// for the next one, so the flow knows which orders still rest.
#[derive(Clone, Debug)]
pub struct MixedFlow {
    rng: SplitMix64,
    resting_target: usize,
    next_order_id: u64,
    seq: u64,
    time_ns: i64,
    /// Ids of the orders resting in the book, in no particular order.
    live: Vec<OrderId>,
    /// Position of each live id in `live`.
    live_position: FxHashMap<OrderId, u32>,
    /// Most ids `live` may hold; both tables are sized for it up front.
    live_limit: usize,
    counts: MixCounts,
    rejected: u64,
}

impl MixedFlow {
    /// A flow seeded with `seed` that holds the book near `resting_target`
    /// resting orders.
    ///
    /// # Panics
    /// If `resting_target` is zero or too large to index with `u32`.
    #[must_use]
    pub fn new(seed: u64, resting_target: usize) -> Self {
        assert!(resting_target > 0, "a flow needs a positive resting target");
        // Room for the target, the feedback's overshoot and the warm-up.
        let live_limit = resting_target * 2 + 1_024;
        assert!(
            u32::try_from(live_limit).is_ok(),
            "resting target too large"
        );
        let mut live_position = FxHashMap::default();
        live_position.reserve(live_limit);
        Self {
            rng: SplitMix64(seed),
            resting_target,
            next_order_id: 1,
            seq: 0,
            time_ns: START_TIME_NS,
            live: Vec::with_capacity(live_limit),
            live_position,
            live_limit,
            counts: MixCounts::default(),
            rejected: 0,
        }
    }

    /// The number of resting orders the flow aims for.
    #[must_use]
    pub const fn resting_target(&self) -> usize {
        self.resting_target
    }

    /// Number of orders the flow knows to rest.
    #[must_use]
    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    /// Commands generated so far, by kind.
    #[must_use]
    pub const fn counts(&self) -> MixCounts {
        self.counts
    }

    /// Rejections seen by [`MixedFlow::observe`]; zero when the flow is
    /// used as documented.
    #[must_use]
    pub const fn rejected(&self) -> u64 {
        self.rejected
    }

    /// The next command of the mixed stream and its stamp.
    pub fn next_command(&mut self) -> (Command, Stamp) {
        let draw = self.rng.below(100);
        if draw < MARKETABLE_PERCENT {
            return self.next_marketable();
        }
        let passive_below = (MARKETABLE_PERCENT + PASSIVE_PERCENT) as i64 + self.feedback_points();
        let passive = (draw as i64) < passive_below || self.live.is_empty();
        if passive && self.live.len() < self.live_limit {
            return self.next_passive();
        }
        match self.next_cancel() {
            Some(next) => next,
            None => self.next_passive(),
        }
    }

    /// A passive limit Day order that cannot cross the mid, and its stamp.
    ///
    /// # Panics
    /// If the flow's live-order table is full (twice the target plus 1,024);
    /// [`MixedFlow::next_command`] never lets it fill up.
    pub fn next_passive(&mut self) -> (Command, Stamp) {
        assert!(
            self.live.len() < self.live_limit,
            "live-order table is full"
        );
        self.counts.passive += 1;
        let side = self.rng.side();
        let depth = 1 + self
            .rng
            .below(MAX_DEPTH_TICKS as u64)
            .min(self.rng.below(MAX_DEPTH_TICKS as u64)) as i64;
        let price_ticks = match side {
            Side::Buy => MID_TICKS - depth,
            Side::Sell => MID_TICKS + depth,
        };
        let quantity_t = 1 + self.rng.below(PASSIVE_MAX_T);
        self.new_order(
            side,
            OrderType::Limit,
            TimeInForce::Day,
            price_ticks,
            quantity_t,
        )
    }

    /// A cancel of a live order and its stamp, or `None` when nothing rests.
    ///
    /// The order leaves the flow's live set at once, so it is never picked
    /// twice even if the caller applies several cancels before observing.
    pub fn next_cancel(&mut self) -> Option<(Command, Stamp)> {
        let order_id = self.take_random_live()?;
        self.counts.cancel += 1;
        let command = Command::Cancel {
            instrument: INSTRUMENT,
            order_id,
            requester: None,
        };
        Some((command, self.next_stamp()))
    }

    /// A marketable order (limit IOC through the mid, or market) and its
    /// stamp.
    pub fn next_marketable(&mut self) -> (Command, Stamp) {
        self.counts.marketable += 1;
        let side = self.rng.side();
        let quantity_t = 1 + self.rng.below(MARKETABLE_MAX_T);
        if self.rng.below(10) < 6 {
            let through_ticks = 1 + self.rng.below(5) as i64;
            let price_ticks = match side {
                Side::Buy => MID_TICKS + through_ticks,
                Side::Sell => MID_TICKS - through_ticks,
            };
            self.new_order(
                side,
                OrderType::Limit,
                TimeInForce::Ioc,
                price_ticks,
                quantity_t,
            )
        } else {
            self.new_order(side, OrderType::Market, TimeInForce::Ioc, 0, quantity_t)
        }
    }

    /// A fresh order id, above every id the flow has handed out, for
    /// commands built outside the flow.
    pub fn next_order_id(&mut self) -> OrderId {
        let id = OrderId(self.next_order_id);
        self.next_order_id += 1;
        id
    }

    /// A fresh stamp, after every stamp the flow has handed out.
    pub fn next_stamp(&mut self) -> Stamp {
        self.seq += 1;
        self.time_ns += 1 + self.rng.below(MAX_GAP_NS) as i64;
        Stamp {
            seq: self.seq,
            time_ns: self.time_ns,
        }
    }

    /// Removes a uniformly chosen live order from the live set and returns
    /// its id, or `None` when nothing rests. The caller should cancel it.
    pub fn take_random_live(&mut self) -> Option<OrderId> {
        if self.live.is_empty() {
            return None;
        }
        let position = self.rng.below(self.live.len() as u64) as usize;
        let order_id = self.live[position];
        self.forget(order_id);
        Some(order_id)
    }

    /// Learns from one command's events which orders now rest: a limit Day
    /// order that was accepted rests until a trade fills it (as maker or
    /// taker) or it is cancelled for any cause.
    ///
    /// # Panics
    /// If more orders rest than the flow has room to track (twice the
    /// target plus 1,024), which only commands from outside the flow can
    /// cause.
    pub fn observe(&mut self, events: &[Event]) {
        for event in events {
            match event {
                Event::Accepted(accepted)
                    if accepted.order_type == OrderType::Limit
                        && accepted.time_in_force == TimeInForce::Day =>
                {
                    self.track(accepted.order_id);
                }
                Event::Trade(trade) => {
                    if trade.maker_remaining_t == 0 {
                        self.forget(trade.maker_order_id);
                    }
                    if trade.taker_remaining_t == 0 {
                        self.forget(trade.taker_order_id);
                    }
                }
                Event::Cancelled(cancelled) => self.forget(cancelled.order_id),
                Event::Rejected(_) => self.rejected += 1,
                _ => {}
            }
        }
    }

    /// Points added to the passive share: positive below the target.
    fn feedback_points(&self) -> i64 {
        let per_point = (self.resting_target / 200).max(1) as i64;
        let shortfall = self.resting_target as i64 - self.live.len() as i64;
        (shortfall / per_point).clamp(-MAX_FEEDBACK_POINTS, MAX_FEEDBACK_POINTS)
    }

    fn new_order(
        &mut self,
        side: Side,
        order_type: OrderType,
        time_in_force: TimeInForce,
        price_ticks: i64,
        quantity_t: u64,
    ) -> (Command, Stamp) {
        let order_id = self.next_order_id();
        let order = NewOrder {
            order_id,
            account: AccountId(1 + self.rng.below(u64::from(ACCOUNTS)) as u32),
            instrument: INSTRUMENT,
            side,
            order_type,
            time_in_force,
            price_ticks,
            quantity_t,
            // A broker would number its own orders; the flow's ids will do.
            client_order_id: order_id.0,
        };
        (Command::Submit(order), self.next_stamp())
    }

    fn track(&mut self, order_id: OrderId) {
        assert!(
            self.live.len() < self.live_limit,
            "live-order table is full"
        );
        let position = self.live.len() as u32;
        let previous = self.live_position.insert(order_id, position);
        // The engine never accepts an id twice.
        assert!(previous.is_none(), "order {order_id:?} accepted twice");
        self.live.push(order_id);
    }

    fn forget(&mut self, order_id: OrderId) {
        let Some(position) = self.live_position.remove(&order_id) else {
            return;
        };
        let position = position as usize;
        self.live.swap_remove(position);
        if let Some(&moved) = self.live.get(position) {
            self.live_position.insert(moved, position as u32);
        }
    }
}

/// An engine, the flow that drives it and the event buffer both reuse: the
/// setup every bench and the allocation test start from.
#[derive(Clone, Debug)]
pub struct Harness {
    /// The engine under test.
    pub engine: Engine,
    /// The flow, in step with the engine.
    pub flow: MixedFlow,
    /// Cleared after every command, never shrunk.
    pub events: Vec<Event>,
}

impl Harness {
    /// An engine with `resting_target` resting orders in steady state: the
    /// book is pre-filled with passive orders up to the target, then
    /// `4 × resting_target` mixed commands give it the mixed stream's shape.
    ///
    /// # Panics
    /// If `resting_target` is zero.
    #[must_use]
    pub fn warmed_up(seed: u64, resting_target: usize) -> Self {
        Self::warmed_up_in(&engine_config(), seed, resting_target)
    }

    /// [`Harness::warmed_up`] with another config. The flow trades
    /// instrument 0 and assumes the band of [`instrument_spec`].
    ///
    /// # Panics
    /// If `resting_target` is zero, if the engine rejects `config`, or if
    /// the book cannot hold `resting_target` orders.
    #[must_use]
    pub fn warmed_up_in(config: &EngineConfig, seed: u64, resting_target: usize) -> Self {
        let mut engine = Engine::new(config).expect("a valid engine config");
        let mut events = Vec::new();
        for command in genesis(config) {
            let before_trading = Stamp {
                seq: 0,
                time_ns: START_TIME_NS,
            };
            engine.apply(&command, before_trading, &mut events);
        }
        assert!(
            !events.iter().any(|e| matches!(e, Event::Rejected(_))),
            "genesis rejected: {events:?}"
        );
        let mut harness = Self {
            engine,
            flow: MixedFlow::new(seed, resting_target),
            events: Vec::with_capacity(MAX_EVENTS_PER_COMMAND),
        };
        while harness.flow.live_count() < resting_target {
            let resting = harness.flow.live_count();
            let (command, stamp) = harness.flow.next_passive();
            harness.apply(&command, stamp);
            // A passive order never trades, so it rests unless the book is full.
            assert_eq!(
                harness.flow.live_count(),
                resting + 1,
                "book full in warm-up"
            );
        }
        for _ in 0..resting_target * 4 {
            harness.step();
        }
        harness
    }

    /// Generates the next mixed command, applies it, lets the flow observe
    /// its events, and clears the buffer. Returns the command.
    pub fn step(&mut self) -> (Command, Stamp) {
        let (command, stamp) = self.flow.next_command();
        self.apply(&command, stamp);
        (command, stamp)
    }

    /// Applies a command, lets the flow observe its events, and clears the
    /// buffer.
    pub fn apply(&mut self, command: &Command, stamp: Stamp) {
        self.engine.apply(command, stamp, &mut self.events);
        self.flow.observe(&self.events);
        self.events.clear();
    }

    /// Runs `count` mixed commands and returns them in order, so they can be
    /// replayed against a clone of the engine as it was before.
    #[must_use]
    pub fn record(&mut self, count: usize) -> Vec<(Command, Stamp)> {
        let mut stream = Vec::with_capacity(count);
        for _ in 0..count {
            stream.push(self.step());
        }
        stream
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resting(harness: &Harness) -> usize {
        harness.engine.book(INSTRUMENT).expect("one book").len()
    }

    #[test]
    fn same_seed_same_stream() {
        let a = Harness::warmed_up(7, 500).record(2_000);
        let b = Harness::warmed_up(7, 500).record(2_000);
        let c = Harness::warmed_up(8, 500).record(2_000);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn ids_and_stamps_strictly_increase() {
        let stream = Harness::warmed_up(1, 500).record(5_000);
        let ids: Vec<u64> = stream
            .iter()
            .filter_map(|(command, _)| match command {
                Command::Submit(order) => Some(order.order_id.0),
                _ => None,
            })
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(stream.windows(2).all(|w| w[0].1.seq < w[1].1.seq));
        assert!(stream.windows(2).all(|w| w[0].1.time_ns < w[1].1.time_ns));
    }

    #[test]
    fn every_cancel_hits_and_the_flow_tracks_the_book() {
        let mut harness = Harness::warmed_up(3, 5_000);
        let before = harness.flow.counts();
        for step in 0..100_000 {
            harness.step();
            assert_eq!(harness.flow.live_count(), resting(&harness), "step {step}");
        }
        harness.engine.check_invariants();
        assert_eq!(harness.flow.rejected(), 0, "a command was rejected");
        let counts = harness.flow.counts();
        let run = MixCounts {
            passive: counts.passive - before.passive,
            cancel: counts.cancel - before.cancel,
            marketable: counts.marketable - before.marketable,
        };
        // 45/45/10 drawn; the feedback moves at most a couple of points.
        let percent = |n: u64| n * 100 / run.total();
        assert!((44..=47).contains(&percent(run.passive)), "{run:?}");
        assert!((43..=46).contains(&percent(run.cancel)), "{run:?}");
        assert!((9..=10).contains(&percent(run.marketable)), "{run:?}");
        assert!((4_800..=5_200).contains(&resting(&harness)));
    }

    #[test]
    fn passive_orders_never_trade() {
        let mut harness = Harness::warmed_up(5, 1_000);
        for _ in 0..10_000 {
            let (command, stamp) = harness.flow.next_passive();
            harness.engine.apply(&command, stamp, &mut harness.events);
            assert!(!harness.events.iter().any(|e| matches!(e, Event::Trade(_))));
            harness.flow.observe(&harness.events);
            harness.events.clear();
            let (command, stamp) = harness.flow.next_cancel().expect("orders rest");
            harness.apply(&command, stamp);
        }
        assert_eq!(harness.flow.rejected(), 0);
    }
}
