//! The order flow of one load-tester session: realistic `CEA2025` orders
//! around a shared random-walk mid price.
//!
//! [`MidPath`] is the market's mid price over the run: a seeded random walk
//! of one tick up or down (or none) every [`MID_STEP`], reflected inside
//! 85.00–95.00 CNY, well inside the 81.00–99.00 band of the demo config's
//! reference price of 90.00. Every session reads the same path, so the
//! brokers quote around the same price and trade with each other.
//!
//! [`SessionFlow::next_order`] draws one new order:
//!
//! | draw | share | order |
//! |---|---|---|
//! | `0..85` | 85% | passive limit Day order, `depth` ticks from the mid on its own side |
//! | `85..94` | 9% | IOC limit 1 to 5 ticks through the mid |
//! | `94..100` | 6% | market order (IOC) |
//!
//! `depth = 1 + min(u, v)` for `u`, `v` uniform in `0..200` (densest at the
//! touch, thinning out to 2.00 CNY away). Sizes run from 1 to 10,000 t:
//! 90% in `1..=100`, 9% in `101..=1,000`, 1% in `1,001..=10,000` (mean
//! about 150 t), so a session's resting orders (held near
//! [`RESTING_TARGET`] by cancels, see the session) reserve about 1.5 M CNY
//! and 15,000 t of the demo compliance entities' 10 M CNY and 50,000 t.
//!
//! **Keeping cash and holdings in circulation.** The side is a buy with
//! probability 50% minus 2 points per 1,000 t the session's account has
//! bought on balance (clamped to 10–90%), so an account that has bought
//! tends to sell and its holdings and cash wander around where they began
//! instead of running out over a long run.

use std::time::Duration;

use cetx_gateway::client::NewOrder;
use cetx_gateway::protocol::{OrderType, Side, TimeInForce};

/// The instrument the flow trades.
pub const SYMBOL: &str = "CEA2025";
/// How often the mid price takes a step.
pub const MID_STEP: Duration = Duration::from_millis(10);
/// The lowest and highest mid price, in ticks of 0.01 CNY.
pub const MID_RANGE_TICKS: (i64, i64) = (85_00, 95_00);
/// Where the mid starts: the demo config's reference price.
pub const MID_START_TICKS: i64 = 90_00;
/// How many resting orders a session holds, about: past it, each new
/// order comes with a cancel of one of the session's resting orders.
pub const RESTING_TARGET: usize = 200;

/// SplitMix64: small, fast and good enough for order flow.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is negligible here).
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

/// The mid price over a run, shared by every session.
#[derive(Clone, Debug)]
pub struct MidPath {
    mids_ticks: Vec<i64>,
}

impl MidPath {
    /// The path for a run of `duration`, from `seed`.
    #[must_use]
    pub fn new(seed: u64, duration: Duration) -> Self {
        let steps = usize::try_from(duration.as_millis() / MID_STEP.as_millis())
            .unwrap_or(usize::MAX)
            .saturating_add(2);
        let mut rng = Rng::new(seed ^ 0x4D49_4450_4154_4800);
        let (lo, hi) = MID_RANGE_TICKS;
        let mut mid = MID_START_TICKS;
        let mut mids_ticks = Vec::with_capacity(steps);
        for _ in 0..steps {
            mids_ticks.push(mid);
            mid += match rng.below(3) {
                0 => -1,
                1 => 0,
                _ => 1,
            };
            // Reflect at the edges rather than stick to them.
            if mid < lo {
                mid = lo + 1;
            } else if mid > hi {
                mid = hi - 1;
            }
        }
        Self { mids_ticks }
    }

    /// The mid price `elapsed` into the run, in ticks.
    #[must_use]
    pub fn mid_ticks(&self, elapsed: Duration) -> i64 {
        let step =
            usize::try_from(elapsed.as_millis() / MID_STEP.as_millis()).unwrap_or(usize::MAX);
        self.mids_ticks[step.min(self.mids_ticks.len() - 1)]
    }
}

/// One session's order generator.
#[derive(Clone, Debug)]
pub struct SessionFlow {
    rng: Rng,
    account: u32,
    next_client_order_id: u64,
    /// Tonnes the account has bought minus sold during the run.
    net_bought_t: i64,
}

impl SessionFlow {
    /// A flow for `account`, numbering its orders from `first_client_order_id`.
    #[must_use]
    pub const fn new(seed: u64, account: u32, first_client_order_id: u64) -> Self {
        Self {
            rng: Rng::new(seed),
            account,
            next_client_order_id: first_client_order_id,
            net_bought_t: 0,
        }
    }

    /// Learns the account's position from the fills so far: tonnes bought
    /// minus sold during the run. The flow leans to the other side as it
    /// grows, so that neither cash nor allowances run out.
    pub fn set_net_bought_t(&mut self, net_bought_t: i64) {
        self.net_bought_t = net_bought_t;
    }

    /// A uniform index in `0..n`, for picking an order to cancel.
    pub fn pick(&mut self, n: usize) -> usize {
        // usize fits in u64 on every supported target, and back since < n.
        self.rng.below(n as u64) as usize
    }

    /// The next new order, quoted around `mid_ticks`. Also says whether it
    /// is passive (meant to rest).
    pub fn next_order(&mut self, mid_ticks: i64) -> (NewOrder, bool) {
        let buy_percent = (50 - self.net_bought_t / 500).clamp(10, 90);
        let side = if i64::try_from(self.rng.below(100)).unwrap_or(0) < buy_percent {
            Side::Buy
        } else {
            Side::Sell
        };
        let sign = match side {
            Side::Buy => -1,
            Side::Sell => 1,
        };
        let quantity_t = match self.rng.below(100) {
            0..90 => self.rng.between(1, 100),
            90..99 => self.rng.between(101, 1_000),
            _ => self.rng.between(1_001, 10_000),
        };
        let client_order_id = self.next_client_order_id;
        self.next_client_order_id += 1;
        let draw = self.rng.below(100);
        let (order_type, time_in_force, price_ticks, passive) = if draw < 85 {
            let depth = 1 + self.rng.below(200).min(self.rng.below(200));
            let depth = i64::try_from(depth).unwrap_or(1);
            (
                OrderType::Limit,
                TimeInForce::Day,
                mid_ticks + sign * depth,
                true,
            )
        } else if draw < 94 {
            let through = i64::try_from(self.rng.between(1, 5)).unwrap_or(1);
            (
                OrderType::Limit,
                TimeInForce::Ioc,
                mid_ticks - sign * through,
                false,
            )
        } else {
            (OrderType::Market, TimeInForce::Ioc, 0, false)
        };
        let order = NewOrder {
            client_order_id,
            account: self.account,
            symbol: SYMBOL.into(),
            side,
            order_type,
            time_in_force,
            price_ticks,
            quantity_t,
        };
        (order, passive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mid_stays_in_its_range() {
        let path = MidPath::new(7, Duration::from_secs(60));
        for ms in (0..60_000).step_by(10) {
            let mid = path.mid_ticks(Duration::from_millis(ms));
            assert!((MID_RANGE_TICKS.0..=MID_RANGE_TICKS.1).contains(&mid));
        }
    }

    #[test]
    fn orders_are_inside_the_band_and_numbered_in_order() {
        let mut flow = SessionFlow::new(1, 1001, 500);
        for i in 0..10_000 {
            let (order, passive) = flow.next_order(90_00);
            assert_eq!(order.client_order_id, 500 + i);
            assert!((1..=10_000).contains(&order.quantity_t));
            if order.order_type == OrderType::Limit {
                assert!((81_00..=99_00).contains(&order.price_ticks));
            }
            if passive {
                match order.side {
                    Side::Buy => assert!(order.price_ticks < 90_00),
                    Side::Sell => assert!(order.price_ticks > 90_00),
                }
            }
        }
    }
}
