//! Exchange rules, as a specification: pre-funding, holding rules,
//! eligibility, position limits, self-trade prevention, trading phases, end
//! of day and administration. Sources for each rule are in
//! `docs/CEA_RULES.md`.
//!
//! Each test opens a small market, names the rule it shows, and checks both
//! the events and the balances they leave. `check_invariants()` runs after
//! every command, which includes "every account's reservations equal what
//! its open orders claim".

use cetx_engine::{
    AccountId, BrokerId, CancelCause, Command, DayStats, Engine, EngineConfig, Event, InstrumentId,
    InstrumentSpec, NewOrder, OrderId, OrderType, ParticipantType, Phase, RejectReason, Side,
    Stamp, TimeInForce,
};
use rust_decimal::Decimal;

const CEA: InstrumentId = InstrumentId(0);
const CCER: InstrumentId = InstrumentId(1);
const ALICE: AccountId = AccountId(1);
const BOB: AccountId = AccountId(2);

/// A market with `CEA2025` and `CCER`, both at reference 100.00 CNY
/// (10,000 ticks, band 9,000..=11,000), and a sequencer.
struct Market {
    engine: Engine,
    seq: u64,
    next_order: u64,
}

impl Market {
    fn new() -> Self {
        Self::with(|_| {})
    }

    /// A market whose instrument specs `adjust` may change first.
    fn with(adjust: impl FnOnce(&mut [InstrumentSpec])) -> Self {
        let mut instruments = vec![
            InstrumentSpec::cea(2025, Decimal::new(100_00, 2)),
            InstrumentSpec::ccer(Decimal::new(100_00, 2)),
        ];
        for spec in &mut instruments {
            spec.max_orders = 64;
            // Per-member limits only where a test sets them.
            spec.max_orders_per_account = Some(u32::MAX);
            spec.max_orders_per_broker = Some(u32::MAX);
        }
        adjust(&mut instruments);
        let engine = Engine::new(&EngineConfig { instruments }).unwrap();
        let mut market = Self {
            engine,
            seq: 0,
            next_order: 1,
        };
        market.ok(Command::SetPhase {
            instrument: CEA,
            phase: Phase::Continuous,
        });
        market.ok(Command::SetPhase {
            instrument: CCER,
            phase: Phase::Continuous,
        });
        market
    }

    fn apply(&mut self, command: Command) -> Vec<Event> {
        self.seq += 1;
        let mut events = Vec::new();
        self.engine.apply(
            &command,
            Stamp {
                seq: self.seq,
                time_ns: 0,
            },
            &mut events,
        );
        self.engine.check_invariants();
        events
    }

    /// Applies a command that must not be rejected.
    fn ok(&mut self, command: Command) -> Vec<Event> {
        let events = self.apply(command.clone());
        assert!(
            !events.iter().any(|e| matches!(e, Event::Rejected(_))),
            "{command:?} was rejected: {events:?}"
        );
        events
    }

    /// Applies a command that must be rejected, and returns the reason.
    fn reject(&mut self, command: Command) -> RejectReason {
        self.refusal(command).0
    }

    /// Why `command` was refused, and the limits the refusal quotes
    /// (low, high); it must change nothing.
    fn refusal(&mut self, command: Command) -> (RejectReason, Option<(i64, i64)>) {
        let before = format!("{:?}", self.engine.accounts().iter().collect::<Vec<_>>());
        match self.apply(command.clone())[..] {
            [Event::Rejected(r)] => {
                let after = format!("{:?}", self.engine.accounts().iter().collect::<Vec<_>>());
                assert_eq!(before, after, "a rejection changed an account");
                (r.reason, r.bounds.map(|b| (b.low, b.high)))
            }
            ref other => panic!("{command:?} was not rejected: {other:?}"),
        }
    }

    /// Opens an account with cash in CNY and allowances of both instruments.
    fn account(&mut self, id: AccountId, who: ParticipantType, cash_cny: i64, held_t: u64) {
        self.ok(Command::OpenAccount {
            account: id,
            participant: who,
            broker: BrokerId(7),
        });
        if cash_cny > 0 {
            self.ok(Command::Deposit {
                account: id,
                amount_fen: cash_cny * 100,
            });
        }
        for instrument in [CEA, CCER] {
            if held_t > 0 {
                self.ok(Command::CreditHoldings {
                    account: id,
                    instrument,
                    quantity_t: held_t,
                });
            }
        }
    }

    fn order(
        &mut self,
        account: AccountId,
        instrument: InstrumentId,
        side: Side,
        (kind, tif): (OrderType, TimeInForce),
        price_ticks: i64,
        quantity_t: u64,
    ) -> Command {
        let order_id = OrderId(self.next_order);
        self.next_order += 1;
        Command::Submit(NewOrder {
            order_id,
            account,
            instrument,
            side,
            order_type: kind,
            time_in_force: tif,
            price_ticks,
            quantity_t,
            client_order_id: 0,
        })
    }

    fn limit(
        &mut self,
        account: AccountId,
        instrument: InstrumentId,
        side: Side,
        price: i64,
        qty: u64,
    ) -> Command {
        self.order(
            account,
            instrument,
            side,
            (OrderType::Limit, TimeInForce::Day),
            price,
            qty,
        )
    }

    fn cash(&self, id: AccountId) -> (i64, i64) {
        let a = self.engine.account(id).unwrap();
        (a.cash_fen, a.reserved_fen)
    }

    fn held(&self, id: AccountId, instrument: InstrumentId) -> (u64, u64, u64) {
        let h = self.engine.holdings(id).unwrap()[usize::from(instrument.0)];
        (h.balance_t, h.reserved_t, h.locked_t)
    }

    /// Ends the day and reopens both instruments for the next one.
    fn next_day(&mut self) -> Vec<Event> {
        let events = self.ok(Command::EndOfDay { trading_date: None });
        for instrument in [CEA, CCER] {
            self.ok(Command::SetPhase {
                instrument,
                phase: Phase::Continuous,
            });
        }
        events
    }
}

fn order_id(command: &Command) -> OrderId {
    command.order_id().unwrap()
}

fn cancels(events: &[Event]) -> Vec<(OrderId, u64, CancelCause)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Cancelled(c) => Some((c.order_id, c.cancelled_t, c.cause)),
            _ => None,
        })
        .collect()
}

/// A day's open, high, low and last prices, in ticks.
fn prices(today: &DayStats) -> (i64, i64, i64, i64) {
    (
        today.open_ticks,
        today.high_ticks,
        today.low_ticks,
        today.last_ticks,
    )
}

fn trades(events: &[Event]) -> Vec<(i64, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Trade(t) => Some((t.price_ticks, t.quantity_t)),
            _ => None,
        })
        .collect()
}

use ParticipantType::{ComplianceEntity, Individual, Institution};
use Side::{Buy, Sell};

#[test]
fn a_buy_reserves_its_full_value_and_a_cancel_gives_it_back() {
    let mut m = Market::new();
    m.account(ALICE, ComplianceEntity, 10_000, 0);
    let buy = m.limit(ALICE, CEA, Buy, 99_00, 50);
    m.ok(buy.clone());
    assert_eq!(
        m.cash(ALICE),
        (1_000_000, 495_000),
        "50 t × 99.00 CNY reserved"
    );
    let too_much = m.limit(ALICE, CEA, Buy, 99_00, 52);
    assert_eq!(
        m.refusal(too_much),
        (RejectReason::InsufficientCash, Some((0, 505_000))),
        "the refusal quotes the 5,050.00 CNY still free, in fen"
    );
    // An amend gives its order's reservation back before it checks, so
    // its refusal quotes what the amended order may use: the free 5,050
    // and its own 4,950.
    let amend = |quantity_t| Command::Amend {
        instrument: CEA,
        order_id: order_id(&buy),
        price_ticks: 99_00,
        quantity_t,
        requester: None,
    };
    assert_eq!(
        m.refusal(amend(102)),
        (RejectReason::InsufficientCash, Some((0, 1_000_000)))
    );
    m.ok(amend(101));
    m.ok(amend(50));
    let exactly = m.limit(ALICE, CEA, Buy, 101_00, 50);
    m.ok(exactly);
    assert_eq!(m.cash(ALICE), (1_000_000, 1_000_000));
    m.ok(Command::Cancel {
        instrument: CEA,
        order_id: order_id(&buy),
        requester: None,
    });
    assert_eq!(m.cash(ALICE), (1_000_000, 505_000));
}

#[test]
fn a_market_buy_reserves_at_the_band_ceiling() {
    let mut m = Market::new();
    m.account(ALICE, ComplianceEntity, 1_000, 0);
    m.account(BOB, ComplianceEntity, 0, 100);
    let ask = m.limit(BOB, CEA, Sell, 95_00, 10);
    m.ok(ask);
    // 10 t at the ask is 950 CNY, but at the ceiling (110.00) it is 1,100.
    let market = m.order(
        ALICE,
        CEA,
        Buy,
        (OrderType::Market, TimeInForce::Ioc),
        0,
        10,
    );
    assert_eq!(m.reject(market), RejectReason::InsufficientCash);
    let market = m.order(ALICE, CEA, Buy, (OrderType::Market, TimeInForce::Ioc), 0, 9);
    let events = m.ok(market);
    assert_eq!(trades(&events), [(95_00, 9)]);
    assert_eq!(
        m.cash(ALICE),
        (100_000 - 85_500, 0),
        "paid 9 × 95.00, nothing left reserved"
    );
}

#[test]
fn a_fill_moves_cash_and_allowances_and_refunds_price_improvement() {
    let mut m = Market::new();
    m.account(ALICE, ComplianceEntity, 10_000, 0);
    m.account(BOB, ComplianceEntity, 0, 100);
    let ask = m.limit(BOB, CEA, Sell, 98_00, 30);
    m.ok(ask);
    assert_eq!(m.held(BOB, CEA), (100, 30, 0), "the sell reserves 30 t");
    let bid = m.limit(ALICE, CEA, Buy, 105_00, 40);
    let events = m.ok(bid);
    assert_eq!(trades(&events), [(98_00, 30)]);
    // Alice paid 30 × 98.00 and still reserves 10 × 105.00 for her rest.
    assert_eq!(m.cash(ALICE), (1_000_000 - 294_000, 105_000));
    assert_eq!(
        m.held(ALICE, CEA),
        (30, 0, 30),
        "bought today: locked until tomorrow"
    );
    assert_eq!(m.cash(BOB), (294_000, 0));
    assert_eq!(m.held(BOB, CEA), (70, 0, 0));
}

#[test]
fn there_is_no_short_selling() {
    let mut m = Market::new();
    m.account(BOB, ComplianceEntity, 1_000, 10);
    let sell = m.limit(BOB, CEA, Sell, 100_00, 11);
    assert_eq!(
        m.refusal(sell),
        (RejectReason::InsufficientHoldings, Some((0, 10)))
    );
    let sell = m.limit(BOB, CEA, Sell, 100_00, 6);
    m.ok(sell);
    let again = m.limit(BOB, CEA, Sell, 100_00, 5);
    assert_eq!(
        m.refusal(again),
        (RejectReason::InsufficientHoldings, Some((0, 4))),
        "6 of 10 are reserved"
    );
}

#[test]
fn cea_bought_today_is_sellable_only_from_the_next_trading_day() {
    let mut m = Market::new();
    m.account(ALICE, ComplianceEntity, 10_000, 0);
    m.account(BOB, ComplianceEntity, 0, 100);
    let ask = m.limit(BOB, CEA, Sell, 100_00, 20);
    m.ok(ask);
    let bid = m.limit(ALICE, CEA, Buy, 100_00, 20);
    m.ok(bid);
    let resell = m.limit(ALICE, CEA, Sell, 100_00, 1);
    assert_eq!(
        m.refusal(resell),
        (RejectReason::HoldingsLockedUntilNextDay, Some((0, 0))),
        "nothing free today"
    );
    m.next_day();
    assert_eq!(
        m.held(ALICE, CEA),
        (20, 0, 0),
        "the end of day released the lock"
    );
    let resell = m.limit(ALICE, CEA, Sell, 100_00, 20);
    m.ok(resell);
}

#[test]
fn ccer_needs_five_trading_days_between_opposite_side_trades() {
    let mut m = Market::new();
    m.account(ALICE, ComplianceEntity, 10_000, 0);
    m.account(BOB, ComplianceEntity, 10_000, 100);
    let ask = m.limit(BOB, CCER, Sell, 100_00, 20);
    m.ok(ask);
    let bid = m.limit(ALICE, CCER, Buy, 100_00, 20);
    m.ok(bid);
    assert_eq!(m.held(ALICE, CCER), (20, 0, 0), "CCER has no T+1 lock");
    // The refusal quotes the trading days left until the other way is
    // allowed (and no tonnes open the other way).
    for day in 0..5 {
        let left = Some((5 - day, 0));
        let resell = m.limit(ALICE, CCER, Sell, 100_00, 1);
        assert_eq!(
            m.refusal(resell),
            (RejectReason::OppositeSideTooSoon, left),
            "day {day}"
        );
        let buy_back = m.limit(BOB, CCER, Buy, 100_00, 1);
        assert_eq!(
            m.refusal(buy_back),
            (RejectReason::OppositeSideTooSoon, left),
            "day {day}"
        );
        m.next_day();
    }
    let resell = m.limit(ALICE, CCER, Sell, 100_00, 1);
    m.ok(resell);
}

#[test]
fn ccer_open_orders_on_both_sides_are_not_allowed() {
    let mut m = Market::new();
    m.account(ALICE, ComplianceEntity, 10_000, 100);
    let bid = m.limit(ALICE, CCER, Buy, 95_00, 1);
    m.ok(bid);
    // The refusal quotes the tonnes open the other way (no days).
    let ask = m.limit(ALICE, CCER, Sell, 105_00, 1);
    assert_eq!(
        m.refusal(ask),
        (RejectReason::OppositeSideTooSoon, Some((0, 1)))
    );
    // CEA has no such rule: both sides may be open at once.
    let bid = m.limit(ALICE, CEA, Buy, 95_00, 1);
    m.ok(bid);
    let ask = m.limit(ALICE, CEA, Sell, 105_00, 1);
    m.ok(ask);
}

#[test]
fn individuals_trade_nothing_until_config_opens_an_instrument_to_them() {
    let mut m = Market::new();
    m.account(AccountId(10), Individual, 10_000, 100);
    m.account(AccountId(11), Institution, 10_000, 100);
    for instrument in [CEA, CCER] {
        let order = m.limit(AccountId(10), instrument, Buy, 100_00, 1);
        assert_eq!(m.reject(order), RejectReason::ParticipantNotEligible);
    }
    let order = m.limit(AccountId(11), CEA, Buy, 100_00, 1);
    assert_eq!(
        m.reject(order),
        RejectReason::ParticipantNotEligible,
        "CEA: compliance entities only"
    );
    let order = m.limit(AccountId(11), CCER, Buy, 100_00, 1);
    m.ok(order);

    // The same market with CEA opened to individuals by configuration.
    let mut m = Market::with(|specs| {
        specs[0].eligible = Some(vec![ComplianceEntity, Individual]);
    });
    m.account(AccountId(10), Individual, 10_000, 100);
    m.account(BOB, ComplianceEntity, 10_000, 100);
    let ask = m.limit(BOB, CEA, Sell, 100_00, 5);
    m.ok(ask);
    let bid = m.limit(AccountId(10), CEA, Buy, 100_00, 5);
    assert_eq!(trades(&m.ok(bid)), [(100_00, 5)]);
    let order = m.limit(AccountId(10), CCER, Buy, 100_00, 1);
    assert_eq!(
        m.reject(order),
        RejectReason::ParticipantNotEligible,
        "CCER stays closed"
    );
}

#[test]
fn an_order_past_the_account_s_resting_limit_is_refused_quoting_it() {
    let mut m = Market::with(|specs| specs[0].max_orders_per_account = Some(2));
    m.account(ALICE, ComplianceEntity, 10_000, 0);
    for price_ticks in [98_00, 99_00] {
        let resting = m.limit(ALICE, CEA, Buy, price_ticks, 1);
        m.ok(resting);
    }
    let third = m.limit(ALICE, CEA, Buy, 97_00, 1);
    assert_eq!(
        m.refusal(third),
        (RejectReason::AccountOrderLimit, Some((0, 2)))
    );
}

#[test]
fn the_position_limit_counts_holdings_and_open_buys_and_large_holders_are_reported() {
    let mut m = Market::with(|specs| {
        specs[0].position_limit_t = Some(100);
        specs[0].large_holder_bps = Some(5_000);
    });
    m.account(ALICE, ComplianceEntity, 100_000, 0);
    m.account(BOB, ComplianceEntity, 0, 1_000);
    m.ok(Command::CreditHoldings {
        account: ALICE,
        instrument: CEA,
        quantity_t: 40,
    });
    let over = m.limit(ALICE, CEA, Buy, 100_00, 61);
    assert_eq!(
        m.refusal(over),
        (RejectReason::PositionLimitExceeded, Some((0, 100))),
        "the refusal quotes the limit"
    );
    let resting = m.limit(ALICE, CEA, Buy, 99_00, 30);
    m.ok(resting);
    let over = m.limit(ALICE, CEA, Buy, 100_00, 31);
    assert_eq!(
        m.reject(over),
        RejectReason::PositionLimitExceeded,
        "open buys count"
    );
    // Selling into Alice's bid takes her from 40 t to 70 t, past 50 t.
    let ask = m.limit(BOB, CEA, Sell, 99_00, 30);
    let events = m.ok(ask);
    let large: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::LargeHolder(l) => Some((l.account, l.balance_t, l.threshold_t)),
            _ => None,
        })
        .collect();
    assert_eq!(large, [(ALICE, 70, 50)]);
}

#[test]
fn a_taker_s_trades_settle_as_one_and_its_large_holder_event_follows_the_trade_that_crossed() {
    const CAROL: AccountId = AccountId(3);
    const DAVE: AccountId = AccountId(4);
    let mut m = Market::with(|specs| {
        specs[0].position_limit_t = Some(100);
        specs[0].large_holder_bps = Some(5_000);
    });
    m.account(ALICE, ComplianceEntity, 100_000, 40);
    m.account(BOB, ComplianceEntity, 0, 1_000);
    m.account(CAROL, ComplianceEntity, 0, 1_000);
    m.account(DAVE, ComplianceEntity, 100_000, 0);
    for (who, price, qty) in [(BOB, 99_00, 5), (CAROL, 99_01, 10), (BOB, 99_02, 10)] {
        let ask = m.limit(who, CEA, Sell, price, qty);
        m.ok(ask);
    }
    // Alice's buy sweeps three asks from 40 t to 65 t: the threshold of
    // 50 t falls in the second trade, and its event follows that trade.
    let buy = m.limit(ALICE, CEA, Buy, 99_05, 30);
    let events = m.ok(buy);
    let kinds: Vec<_> = events
        .iter()
        .map(|e| match e {
            Event::Accepted(_) => "accepted".to_owned(),
            Event::Trade(t) => format!("trade {}", t.quantity_t),
            Event::LargeHolder(l) => {
                format!("large {:?} {} {}", l.account, l.balance_t, l.threshold_t)
            }
            other => format!("{other:?}"),
        })
        .collect();
    let large = format!("large {ALICE:?} 55 50");
    assert_eq!(
        kinds,
        ["accepted", "trade 5", "trade 10", &large, "trade 10"]
    );
    // Paid 5 × 99.00 + 10 × 99.01 + 10 × 99.02; 5 t rest at 99.05.
    assert_eq!(m.cash(ALICE), (10_000_000 - 247_530, 5 * 99_05));
    assert_eq!(m.held(ALICE, CEA), (65, 0, 25));
    assert_eq!(m.cash(BOB), (5 * 99_00 + 10 * 99_02, 0));
    assert_eq!(m.held(BOB, CEA), (985, 0, 0));
    assert_eq!(m.cash(CAROL), (10 * 99_01, 0));
    let today = m.engine.today(CEA).unwrap();
    assert_eq!(prices(&today), (99_00, 99_02, 99_00, 99_02));
    // Carol's sell sweeps two bids down, Alice's then Dave's.
    let bid = m.limit(DAVE, CEA, Buy, 98_95, 5);
    m.ok(bid);
    let sell = m.limit(CAROL, CEA, Sell, 98_90, 10);
    assert_eq!(trades(&m.ok(sell)), [(99_05, 5), (98_95, 5)]);
    assert_eq!(m.cash(CAROL), (10 * 99_01 + 5 * 99_05 + 5 * 98_95, 0));
    assert_eq!(m.held(CAROL, CEA), (980, 0, 0));
    assert_eq!(m.cash(ALICE), (10_000_000 - 247_530 - 5 * 99_05, 0));
    assert_eq!(m.held(ALICE, CEA), (70, 0, 30));
    assert_eq!(m.cash(DAVE), (10_000_000 - 5 * 98_95, 0));
    let today = m.engine.today(CEA).unwrap();
    assert_eq!(prices(&today), (99_00, 99_05, 98_95, 98_95));
    assert_eq!(
        (today.volume_t, today.turnover_fen, today.trade_count),
        (35, 247_530 + 5 * 99_05 + 5 * 98_95, 5)
    );
}

#[test]
fn an_order_never_trades_with_its_own_account() {
    let mut m = Market::new();
    m.account(ALICE, ComplianceEntity, 100_000, 100);
    m.account(BOB, ComplianceEntity, 100_000, 100);
    let bob_ask = m.limit(BOB, CEA, Sell, 100_00, 5);
    m.ok(bob_ask);
    let own_ask = m.limit(ALICE, CEA, Sell, 101_00, 5);
    m.ok(own_ask.clone());
    let other_ask = m.limit(BOB, CEA, Sell, 102_00, 5);
    m.ok(other_ask);
    // Alice's buy trades with Bob's better ask, then meets her own ask: its
    // remainder is cancelled, and her ask keeps its place.
    let buy = m.limit(ALICE, CEA, Buy, 102_00, 12);
    let events = m.ok(buy.clone());
    assert_eq!(trades(&events), [(100_00, 5)]);
    assert_eq!(
        cancels(&events),
        [(order_id(&buy), 7, CancelCause::SelfTrade)]
    );
    let book = m.engine.book(CEA).unwrap();
    assert_eq!(book.best_ask().unwrap().price_ticks, 101_00);
    assert!(book.order(order_id(&own_ask)).is_some());
    // A fill-or-kill that could fill only by reaching its own order is killed.
    let fok = m.order(
        ALICE,
        CEA,
        Buy,
        (OrderType::Limit, TimeInForce::Fok),
        102_00,
        6,
    );
    let events = m.ok(fok.clone());
    assert_eq!(
        cancels(&events),
        [(order_id(&fok), 6, CancelCause::FokKilled)]
    );
    assert_eq!(m.cash(ALICE).1, 0, "every reservation was returned");
}

#[test]
fn outside_continuous_trading_orders_are_refused_but_cancels_are_taken() {
    let mut m = Market::new();
    m.account(ALICE, ComplianceEntity, 100_000, 100);
    let resting = m.limit(ALICE, CEA, Buy, 99_00, 5);
    m.ok(resting.clone());
    for phase in [Phase::Break, Phase::Halted, Phase::Closed] {
        m.ok(Command::SetPhase {
            instrument: CEA,
            phase,
        });
        let order = m.limit(ALICE, CEA, Buy, 99_00, 5);
        assert_eq!(m.reject(order), RejectReason::MarketClosed, "{phase:?}");
        let amend = Command::Amend {
            instrument: CEA,
            order_id: order_id(&resting),
            price_ticks: 99_00,
            quantity_t: 4,
            requester: None,
        };
        assert_eq!(m.reject(amend), RejectReason::MarketClosed, "{phase:?}");
        // CCER is a separate instrument and still trades.
        let ccer = m.limit(ALICE, CCER, Buy, 99_00, 1);
        m.ok(ccer);
    }
    m.ok(Command::SetPhase {
        instrument: CEA,
        phase: Phase::Break,
    });
    let events = m.ok(Command::Cancel {
        instrument: CEA,
        order_id: order_id(&resting),
        requester: None,
    });
    assert_eq!(
        cancels(&events),
        [(order_id(&resting), 5, CancelCause::Requested)]
    );
}

#[test]
fn the_end_of_day_expires_orders_closes_at_the_vwap_and_moves_the_band() {
    let mut m = Market::new();
    m.account(ALICE, ComplianceEntity, 1_000_000, 0);
    m.account(BOB, ComplianceEntity, 0, 1_000);
    // Trades: 10 t @ 100.00, 20 t @ 101.00, 1 t @ 99.00.
    // VWAP = (100,000 + 202,000 + 9,900) / 31 = 10,061.29 ticks → 100.61.
    for (price, qty) in [(100_00, 10), (101_00, 20), (99_00, 1)] {
        let ask = m.limit(BOB, CEA, Sell, price, qty);
        m.ok(ask);
        let bid = m.limit(ALICE, CEA, Buy, price, qty);
        m.ok(bid);
    }
    let left = m.limit(ALICE, CEA, Buy, 95_00, 7);
    m.ok(left.clone());
    let events = m.ok(Command::EndOfDay { trading_date: None });
    assert_eq!(
        cancels(&events),
        [(order_id(&left), 7, CancelCause::Expired)]
    );
    assert_eq!(m.cash(ALICE).1, 0, "the expired bid's cash was released");
    let closes: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::DayClosed(d) => Some(*d),
            _ => None,
        })
        .collect();
    let cea = closes[0];
    assert_eq!(
        (
            cea.open_ticks,
            cea.high_ticks,
            cea.low_ticks,
            cea.close_ticks
        ),
        (100_00, 101_00, 99_00, 100_61)
    );
    assert_eq!(
        (cea.volume_t, cea.turnover_fen, cea.trade_count),
        (31, 311_900, 3)
    );
    assert_eq!(cea.trading_day, 0);
    // CCER did not trade: its close is its reference, unchanged.
    assert_eq!((closes[1].close_ticks, closes[1].trade_count), (100_00, 0));
    assert!(matches!(events.last(), Some(Event::DayStarted(d)) if d.trading_day == 1));
    assert_eq!(m.engine.trading_day(), 1);
    assert_eq!(m.engine.phase(CEA), Some(Phase::Closed));
    // The close is tomorrow's reference: band 100.61 × 0.9 = 90.549 → 90.55,
    // × 1.1 = 110.671 → 110.67.
    let rules = *m.engine.book(CEA).unwrap().rules();
    assert_eq!(
        (
            rules.reference_ticks,
            rules.floor_ticks,
            rules.ceiling_ticks
        ),
        (100_61, 90_55, 110_67)
    );
    m.next_day();
    let outside = m.limit(ALICE, CEA, Buy, 90_54, 1);
    assert_eq!(m.reject(outside), RejectReason::PriceOutsideBand);
    let inside = m.limit(ALICE, CEA, Buy, 90_55, 1);
    m.ok(inside);
}

/// A helper's account held i64::MAX fen and sold 1 t: its cash wrapped
/// negative, and the journal never reconciled again. Trades only move cash
/// between accounts, so the market's whole cash is what is bounded.
#[test]
fn no_account_s_cash_can_overflow_whatever_it_sells() {
    let mut m = Market::new();
    m.account(ALICE, ComplianceEntity, 1_000, 10);
    m.account(BOB, ComplianceEntity, 0, 0);
    let (alice_fen, _) = m.cash(ALICE);
    // Bob alone could hold i64::MAX fen, but not beside Alice's cash.
    let too_much = Command::Deposit {
        account: BOB,
        amount_fen: i64::MAX - alice_fen + 1,
    };
    assert_eq!(m.reject(too_much), RejectReason::InvalidAmount);
    m.ok(Command::Deposit {
        account: BOB,
        amount_fen: i64::MAX - alice_fen,
    });
    let one_more = Command::Deposit {
        account: ALICE,
        amount_fen: 1,
    };
    assert_eq!(m.reject(one_more), RejectReason::InvalidAmount);
    // Alice sells to Bob, whose cash is nearly all the market's: both
    // balances stay exact.
    let ask = m.limit(ALICE, CEA, Sell, 100_00, 1);
    m.ok(ask);
    let bid = m.limit(BOB, CEA, Buy, 100_00, 1);
    assert_eq!(trades(&m.ok(bid)), vec![(100_00, 1)]);
    assert_eq!(m.cash(ALICE), (alice_fen + 100_00, 0));
    assert_eq!(m.cash(BOB), (i64::MAX - alice_fen - 100_00, 0));
    // And the other way, Bob selling all he may to Alice.
    m.ok(Command::CreditHoldings {
        account: BOB,
        instrument: CEA,
        quantity_t: 5,
    });
    let ask = m.limit(BOB, CEA, Sell, 100_00, 5);
    m.ok(ask);
    let bid = m.limit(ALICE, CEA, Buy, 100_00, 5);
    m.ok(bid);
    assert_eq!(m.cash(BOB), (i64::MAX - alice_fen + 400_00, 0));
    // Allowances likewise: all accounts' of an instrument fit a u64.
    let held_t = m.held(ALICE, CCER).0 + m.held(BOB, CCER).0;
    let credit = |quantity_t| Command::CreditHoldings {
        account: BOB,
        instrument: CCER,
        quantity_t,
    };
    assert_eq!(
        m.reject(credit(u64::MAX - held_t + 1)),
        RejectReason::InvalidAmount
    );
    m.ok(credit(u64::MAX - held_t));
}

/// A config helper's market let orders of 2^63 − 1 t, and an account
/// held i64::MAX fen: the cost of a buy saturated at i64::MAX, which the
/// cash "covered", and the buyer paid twice what it had.
#[test]
fn a_cost_past_an_i64_is_more_than_any_account_has() {
    let mut m = Market::with(|specs| specs[0].max_order_t = i64::MAX as u64);
    m.account(ALICE, ComplianceEntity, 0, 0);
    m.ok(Command::Deposit {
        account: ALICE,
        amount_fen: i64::MAX,
    });
    let huge = m.limit(ALICE, CEA, Buy, 100_00, 2_049_638_230_412_173);
    assert_eq!(m.reject(huge), RejectReason::InsufficientCash);
    let affordable = m.limit(ALICE, CEA, Buy, 100_00, 1_000);
    m.ok(affordable);
}

#[test]
fn administration_is_checked_like_any_command() {
    let mut m = Market::new();
    m.account(ALICE, ComplianceEntity, 1_000, 10);
    let open_twice = Command::OpenAccount {
        account: ALICE,
        participant: Institution,
        broker: BrokerId(1),
    };
    assert_eq!(m.reject(open_twice), RejectReason::AccountExists);
    let nobody = m.limit(AccountId(99), CEA, Buy, 100_00, 1);
    assert_eq!(m.reject(nobody), RejectReason::UnknownAccount);
    let zero = Command::Deposit {
        account: ALICE,
        amount_fen: 0,
    };
    assert_eq!(m.reject(zero), RejectReason::InvalidAmount);
    let overflow = Command::Deposit {
        account: ALICE,
        amount_fen: i64::MAX,
    };
    assert_eq!(m.reject(overflow), RejectReason::InvalidAmount);
    let bid = m.limit(ALICE, CEA, Buy, 100_00, 6);
    m.ok(bid);
    let withdraw = Command::Withdraw {
        account: ALICE,
        amount_fen: 40_001,
    };
    assert_eq!(
        m.refusal(withdraw),
        (RejectReason::InsufficientCash, Some((0, 40_000))),
        "60,000 fen are reserved"
    );
    m.ok(Command::Withdraw {
        account: ALICE,
        amount_fen: 40_000,
    });
    let ask = m.limit(ALICE, CEA, Sell, 101_00, 4);
    m.ok(ask.clone());
    let debit = Command::DebitHoldings {
        account: ALICE,
        instrument: CEA,
        quantity_t: 7,
    };
    assert_eq!(
        m.refusal(debit),
        (RejectReason::InsufficientHoldings, Some((0, 6))),
        "4 of 10 are reserved"
    );
    // A sell amended past what it may use: the 6 free and its own 4.
    let more = Command::Amend {
        instrument: CEA,
        order_id: order_id(&ask),
        price_ticks: 101_00,
        quantity_t: 11,
        requester: None,
    };
    assert_eq!(
        m.refusal(more),
        (RejectReason::InsufficientHoldings, Some((0, 10)))
    );
    m.ok(Command::DebitHoldings {
        account: ALICE,
        instrument: CEA,
        quantity_t: 6,
    });
    let reference = Command::SetReferencePrice {
        instrument: CEA,
        price_ticks: 80_00,
    };
    assert_eq!(
        m.reject(reference),
        RejectReason::ReferencePriceLocked,
        "trading"
    );
    let reference = Command::SetReferencePrice {
        instrument: CCER,
        price_ticks: 80_00,
    };
    m.ok(Command::SetPhase {
        instrument: CCER,
        phase: Phase::Closed,
    });
    let events = m.ok(reference);
    assert!(
        matches!(events[..], [Event::ReferencePriceSet(r)] if (r.floor_ticks, r.ceiling_ticks) == (72_00, 88_00))
    );
}
