//! Listing-agreement takes (挂牌协议), as a specification: one row per rule
//! of `docs/ENGINE.md` ("Listing-agreement takes"), each naming the take,
//! what it does to the market first, and the outcome: a trade at the
//! target's price, or the reject reason.
//!
//! Every row starts from the same market. `CEA2025` (instrument 0) and
//! `CCER` (instrument 1), both at reference 100.00 CNY (band 90.00 to
//! 110.00), each with seven asks of the seller resting at six prices:
//!
//! | level | price  | orders (time order)  |
//! |------:|-------:|----------------------|
//! | 1     | 100.00 | `ask1a` 10 t, `ask1b` 10 t |
//! | 2     | 100.50 | `ask2` 10 t          |
//! | 3     | 101.00 | `ask3` 10 t          |
//! | 4     | 101.50 | `ask4` 10 t          |
//! | 5     | 102.00 | `ask5` 10 t          |
//! | 6     | 102.50 | `ask6` 10 t          |
//!
//! and one bid of the bidder, `bid1`, 10 t at 99.00. `check_invariants()`
//! runs after every command, which includes "every account's reservations
//! equal what its open orders claim".

use std::collections::BTreeMap;

use cetx_engine::{
    Accepted, AccountId, Bounds, BrokerId, Command, CommandKind, Engine, EngineConfig, Event,
    InstrumentId, InstrumentSpec, NewOrder, OrderId, OrderType, ParticipantType, Phase,
    RejectReason, Side, Stamp, Status, Take, TimeInForce, Trade,
};
use rust_decimal::Decimal;

const CEA: InstrumentId = InstrumentId(0);
const CCER: InstrumentId = InstrumentId(1);
/// Takes, with cash and allowances of both instruments.
const TAKER: AccountId = AccountId(1);
/// Rests the asks.
const SELLER: AccountId = AccountId(2);
/// Rests the bid.
const BIDDER: AccountId = AccountId(3);
/// Has 10 CNY and no allowances.
const POOR: AccountId = AccountId(4);
/// An individual: may trade neither instrument by default.
const PERSON: AccountId = AccountId(5);
/// Holds 1,995 t of CEA, 5 t short of the position limit of 2,000 t.
const NEAR_LIMIT: AccountId = AccountId(6);
/// Of another broker (8), so that suspending it touches no one else.
const OTHER_BROKER: AccountId = AccountId(7);
/// Has cash and no allowances: what it holds, it bought today.
const FRESH: AccountId = AccountId(8);

/// The market every row starts from, and a sequencer.
struct Market {
    engine: Engine,
    seq: u64,
    next_order: u64,
    /// The resting orders by name, per instrument.
    named: BTreeMap<(u16, &'static str), OrderId>,
}

impl Market {
    fn new() -> Self {
        let mut instruments = vec![
            InstrumentSpec::cea(2025, Decimal::new(100_00, 2)),
            InstrumentSpec::ccer(Decimal::new(100_00, 2)),
        ];
        for spec in &mut instruments {
            spec.max_orders = 64;
            spec.max_orders_per_account = Some(u32::MAX);
            spec.max_orders_per_broker = Some(u32::MAX);
        }
        instruments[0].position_limit_t = Some(2_000);
        let engine = Engine::new(&EngineConfig { instruments }).unwrap();
        let mut m = Self {
            engine,
            seq: 0,
            next_order: 1,
            named: BTreeMap::new(),
        };
        use ParticipantType::{ComplianceEntity, Individual};
        m.account(TAKER, ComplianceEntity, 7, 1_000_000, 1_000);
        m.account(SELLER, ComplianceEntity, 7, 0, 1_000);
        m.account(BIDDER, ComplianceEntity, 7, 1_000_000, 0);
        m.account(POOR, ComplianceEntity, 7, 10, 0);
        m.account(PERSON, Individual, 7, 1_000_000, 1_000);
        m.account(NEAR_LIMIT, ComplianceEntity, 7, 1_000_000, 0);
        m.account(OTHER_BROKER, ComplianceEntity, 8, 1_000_000, 1_000);
        m.account(FRESH, ComplianceEntity, 7, 1_000_000, 0);
        m.ok(&Command::CreditHoldings {
            account: NEAR_LIMIT,
            instrument: CEA,
            quantity_t: 1_995,
        });
        // CEA's position limit is 2,000 t: the others hold at most 1,000 t,
        // so it decides only the rows about it.
        for instrument in [CEA, CCER] {
            m.ok(&Command::SetPhase {
                instrument,
                phase: Phase::Continuous,
            });
            let asks = [
                ("ask1a", 100_00),
                ("ask1b", 100_00),
                ("ask2", 100_50),
                ("ask3", 101_00),
                ("ask4", 101_50),
                ("ask5", 102_00),
                ("ask6", 102_50),
            ];
            for (name, price_ticks) in asks {
                m.rest(name, SELLER, instrument, Side::Sell, price_ticks, 10);
            }
            m.rest("bid1", BIDDER, instrument, Side::Buy, 99_00, 10);
        }
        m
    }

    fn apply(&mut self, command: &Command) -> Vec<Event> {
        self.seq += 1;
        let mut events = Vec::new();
        let stamp = Stamp {
            seq: self.seq,
            time_ns: 0,
        };
        self.engine.apply(command, stamp, &mut events);
        self.engine.check_invariants();
        events
    }

    fn ok(&mut self, command: &Command) -> Vec<Event> {
        let events = self.apply(command);
        assert!(
            !events.iter().any(|e| matches!(e, Event::Rejected(_))),
            "{command:?} was rejected: {events:?}"
        );
        events
    }

    fn account(
        &mut self,
        account: AccountId,
        participant: ParticipantType,
        broker: u32,
        cash_cny: i64,
        held_t: u64,
    ) {
        self.ok(&Command::OpenAccount {
            account,
            participant,
            broker: BrokerId(broker),
        });
        if cash_cny > 0 {
            self.ok(&Command::Deposit {
                account,
                amount_fen: cash_cny * 100,
            });
        }
        if held_t > 0 {
            for instrument in [CEA, CCER] {
                self.ok(&Command::CreditHoldings {
                    account,
                    instrument,
                    quantity_t: held_t,
                });
            }
        }
    }

    fn next_id(&mut self) -> OrderId {
        let id = OrderId(self.next_order);
        self.next_order += 1;
        id
    }

    /// Rests a day limit order and names it.
    fn rest(
        &mut self,
        name: &'static str,
        account: AccountId,
        instrument: InstrumentId,
        side: Side,
        price_ticks: i64,
        quantity_t: u64,
    ) -> OrderId {
        let order_id = self.next_id();
        self.ok(&Command::Submit(NewOrder {
            order_id,
            account,
            instrument,
            side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Day,
            price_ticks,
            quantity_t,
            client_order_id: order_id.0,
        }));
        self.named.insert((instrument.0, name), order_id);
        order_id
    }

    fn id(&self, instrument: InstrumentId, name: &str) -> OrderId {
        self.named
            .iter()
            .find(|((i, n), _)| *i == instrument.0 && *n == name)
            .map(|(_, id)| *id)
            .unwrap_or_else(|| panic!("no order {name} in {instrument:?}"))
    }

    fn take(
        &mut self,
        account: AccountId,
        instrument: InstrumentId,
        side: Side,
        target: OrderId,
        quantity_t: u64,
    ) -> Take {
        Take {
            order_id: self.next_id(),
            account,
            instrument,
            side,
            target,
            quantity_t,
            client_order_id: 9_000 + self.next_order,
        }
    }

    fn accounts(&self) -> String {
        format!("{:?}", self.engine.accounts().iter().collect::<Vec<_>>())
    }
}

/// What a row's take does to the market before it is sent.
#[derive(Clone, Copy, Debug)]
enum Before {
    Nothing,
    /// The instrument goes to its midday break.
    Break,
    /// The taker rests a sell of its own at 100.00 (the target).
    OwnAsk,
    /// The account takes 5 t of `ask1a` first (bought today).
    BoughtToday,
    /// The account is suspended.
    SuspendAccount,
    /// Broker 8 is suspended.
    SuspendBroker,
}

/// Who takes, and what.
#[derive(Clone, Copy, Debug)]
struct Row {
    rule: &'static str,
    before: Before,
    account: AccountId,
    instrument: InstrumentId,
    side: Side,
    /// The target's name, or `"own"` for the order of [`Before::OwnAsk`],
    /// or `"gone"` for an id no order has.
    target: &'static str,
    quantity_t: u64,
    expect: Expect,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// One trade at this price for the take's quantity, leaving the
    /// target with this many tonnes open.
    Trades {
        price_ticks: i64,
        target_left_t: u64,
    },
    Rejected(RejectReason),
    /// Rejected as a reused order id (the take reuses the last id).
    DuplicateId,
}

use Before::{BoughtToday, Break, Nothing, OwnAsk, SuspendAccount, SuspendBroker};
use Expect::{Rejected, Trades};
use RejectReason as R;
use Side::{Buy, Sell};

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // Reach: CEA, any order among the best 5 levels; CCER, the best level's first order.
    Row { rule: "CEA: the 3rd-best level, partly", before: Nothing, account: TAKER, instrument: CEA, side: Buy, target: "ask3", quantity_t: 4, expect: Trades { price_ticks: 101_00, target_left_t: 6 } },
    Row { rule: "CEA: the 5th-best level, whole", before: Nothing, account: TAKER, instrument: CEA, side: Buy, target: "ask5", quantity_t: 10, expect: Trades { price_ticks: 102_00, target_left_t: 0 } },
    Row { rule: "CEA: not the 6th-best level", before: Nothing, account: TAKER, instrument: CEA, side: Buy, target: "ask6", quantity_t: 1, expect: Rejected(R::TakeTargetTooDeep) },
    Row { rule: "CEA: any order at a level, not only the first", before: Nothing, account: TAKER, instrument: CEA, side: Buy, target: "ask1b", quantity_t: 3, expect: Trades { price_ticks: 100_00, target_left_t: 7 } },
    Row { rule: "CEA: a sell takes a bid at the bid's price", before: Nothing, account: TAKER, instrument: CEA, side: Sell, target: "bid1", quantity_t: 10, expect: Trades { price_ticks: 99_00, target_left_t: 0 } },
    Row { rule: "CCER: the best level's first order", before: Nothing, account: TAKER, instrument: CCER, side: Buy, target: "ask1a", quantity_t: 10, expect: Trades { price_ticks: 100_00, target_left_t: 0 } },
    Row { rule: "CCER: not the second in time at the best level", before: Nothing, account: TAKER, instrument: CCER, side: Buy, target: "ask1b", quantity_t: 1, expect: Rejected(R::TakeTargetNotFirst) },
    Row { rule: "CCER: not the 2nd-best level", before: Nothing, account: TAKER, instrument: CCER, side: Buy, target: "ask2", quantity_t: 1, expect: Rejected(R::TakeTargetTooDeep) },
    // The target.
    Row { rule: "the target must rest", before: Nothing, account: TAKER, instrument: CEA, side: Buy, target: "gone", quantity_t: 1, expect: Rejected(R::TakeTargetNotResting) },
    Row { rule: "the target must rest in the named instrument", before: Nothing, account: TAKER, instrument: CCER, side: Buy, target: "cea:ask1a", quantity_t: 1, expect: Rejected(R::TakeTargetNotResting) },
    Row { rule: "a buy takes a sell, not a bid", before: Nothing, account: TAKER, instrument: CEA, side: Buy, target: "bid1", quantity_t: 1, expect: Rejected(R::TakeTargetSameSide) },
    Row { rule: "no self-take", before: OwnAsk, account: TAKER, instrument: CEA, side: Buy, target: "own", quantity_t: 1, expect: Rejected(R::SelfTake) },
    Row { rule: "no more than the target has open", before: Nothing, account: TAKER, instrument: CEA, side: Buy, target: "ask3", quantity_t: 11, expect: Rejected(R::TakeExceedsTarget) },
    // Like any order.
    Row { rule: "the order id is new", before: Nothing, account: TAKER, instrument: CEA, side: Buy, target: "ask1a", quantity_t: 1, expect: Expect::DuplicateId },
    Row { rule: "the instrument exists", before: Nothing, account: TAKER, instrument: InstrumentId(9), side: Buy, target: "ask1a", quantity_t: 1, expect: Rejected(R::UnknownInstrument) },
    Row { rule: "the quantity is not zero", before: Nothing, account: TAKER, instrument: CEA, side: Buy, target: "ask1a", quantity_t: 0, expect: Rejected(R::QuantityZero) },
    Row { rule: "the quantity is below the listing maximum", before: Nothing, account: TAKER, instrument: CEA, side: Buy, target: "ask1a", quantity_t: 100_000, expect: Rejected(R::QuantityAboveMaximum) },
    Row { rule: "only in continuous trading", before: Break, account: TAKER, instrument: CEA, side: Buy, target: "ask1a", quantity_t: 1, expect: Rejected(R::MarketClosed) },
    Row { rule: "the account exists", before: Nothing, account: AccountId(99), instrument: CEA, side: Buy, target: "ask1a", quantity_t: 1, expect: Rejected(R::UnknownAccount) },
    Row { rule: "a suspended account takes nothing", before: SuspendAccount, account: TAKER, instrument: CEA, side: Buy, target: "ask1a", quantity_t: 1, expect: Rejected(R::AccountSuspended) },
    Row { rule: "nor does an account of a suspended broker", before: SuspendBroker, account: OTHER_BROKER, instrument: CEA, side: Buy, target: "ask1a", quantity_t: 1, expect: Rejected(R::BrokerSuspended) },
    Row { rule: "eligibility", before: Nothing, account: PERSON, instrument: CEA, side: Buy, target: "ask1a", quantity_t: 1, expect: Rejected(R::ParticipantNotEligible) },
    Row { rule: "full cash for a buy, at the target's price", before: Nothing, account: POOR, instrument: CEA, side: Buy, target: "ask1a", quantity_t: 1, expect: Rejected(R::InsufficientCash) },
    Row { rule: "the position limit", before: Nothing, account: NEAR_LIMIT, instrument: CEA, side: Buy, target: "ask1a", quantity_t: 6, expect: Rejected(R::PositionLimitExceeded) },
    Row { rule: "up to the position limit", before: Nothing, account: NEAR_LIMIT, instrument: CEA, side: Buy, target: "ask1a", quantity_t: 5, expect: Trades { price_ticks: 100_00, target_left_t: 5 } },
    Row { rule: "free allowances for a sell", before: Nothing, account: POOR, instrument: CEA, side: Sell, target: "bid1", quantity_t: 1, expect: Rejected(R::InsufficientHoldings) },
    Row { rule: "CEA T+1: bought today is not sellable", before: BoughtToday, account: FRESH, instrument: CEA, side: Sell, target: "bid1", quantity_t: 5, expect: Rejected(R::HoldingsLockedUntilNextDay) },
    Row { rule: "CCER: five trading days between opposite sides", before: BoughtToday, account: FRESH, instrument: CCER, side: Sell, target: "bid1", quantity_t: 1, expect: Rejected(R::OppositeSideTooSoon) },
];

/// Runs one row on a fresh market and checks its whole outcome.
fn run(row: &Row) {
    let mut m = Market::new();
    let on = if row.instrument == CCER { CCER } else { CEA };
    match row.before {
        Nothing => {}
        Break => {
            m.ok(&Command::SetPhase {
                instrument: on,
                phase: Phase::Break,
            });
        }
        OwnAsk => {
            m.rest("own", row.account, on, Sell, 100_00, 5);
        }
        BoughtToday => {
            let target = m.id(on, "ask1a");
            let first = m.take(row.account, on, Buy, target, 5);
            m.ok(&Command::Take(first));
        }
        SuspendAccount => {
            m.ok(&Command::SetAccountStatus {
                account: row.account,
                status: Status::Suspended,
            });
        }
        SuspendBroker => {
            m.ok(&Command::SetBrokerStatus {
                broker: BrokerId(8),
                status: Status::Suspended,
            });
        }
    }
    let target = match row.target {
        "gone" => OrderId(5_000),
        "cea:ask1a" => m.id(CEA, "ask1a"),
        name => m.id(on, name),
    };
    let mut take = m.take(
        row.account,
        row.instrument,
        row.side,
        target,
        row.quantity_t,
    );
    if row.expect == Expect::DuplicateId {
        take.order_id = OrderId(take.order_id.0 - 2);
    }
    let before = m.accounts();
    let resting_before = m.engine.book(on).unwrap().order(target);
    let state_before = m.engine.state();
    let events = m.apply(&Command::Take(take));
    match row.expect {
        Rejected(_) | Expect::DuplicateId => {
            let reason = match row.expect {
                Rejected(reason) => reason,
                _ => R::DuplicateOrderId,
            };
            assert_eq!(
                events,
                [Event::Rejected(cetx_engine::Rejected {
                    command: CommandKind::Take,
                    order_id: Some(take.order_id),
                    reason,
                    bounds: quoted_limits(&m.engine, &take, reason),
                })],
                "{}",
                row.rule
            );
            assert_eq!(
                m.accounts(),
                before,
                "{}: a refusal changed an account",
                row.rule
            );
            assert_eq!(
                m.engine.book(on).unwrap().order(target),
                resting_before,
                "{}: a refusal changed the target",
                row.rule
            );
            // The runtime relies on it: while the market is closed it does
            // not journal a refusal.
            assert_eq!(
                m.engine.state(),
                state_before,
                "{}: a refusal changed the state",
                row.rule
            );
        }
        Trades {
            price_ticks,
            target_left_t,
        } => check_trade(&m, row, &take, &events, price_ticks, target_left_t),
    }
}

/// The events and balances of an accepted take.
fn check_trade(m: &Market, row: &Row, take: &Take, events: &[Event], price: i64, left_t: u64) {
    let maker = m.engine.book(row.instrument).unwrap().order(take.target);
    let maker_account = if row.side == Buy { SELLER } else { BIDDER };
    let expected = [
        Event::Accepted(Accepted {
            order_id: take.order_id,
            account: take.account,
            instrument: take.instrument,
            side: take.side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Ioc,
            price_ticks: price,
            quantity_t: take.quantity_t,
        }),
        Event::Trade(Trade {
            trade_id: 1,
            seq: m.seq,
            time_ns: 0,
            instrument: take.instrument,
            price_ticks: price,
            quantity_t: take.quantity_t,
            aggressor: take.side,
            maker_order_id: take.target,
            maker_account,
            maker_remaining_t: left_t,
            taker_order_id: take.order_id,
            taker_account: take.account,
            taker_remaining_t: 0,
        }),
    ];
    assert_eq!(events, expected, "{}", row.rule);
    assert_eq!(maker.map_or(0, |o| o.quantity_t), left_t, "{}", row.rule);
    // The taker paid or was paid the target's price, and nothing of the
    // take is reserved any more.
    let taker = m.engine.account(take.account).unwrap();
    assert_eq!(taker.reserved_fen, 0, "{}", row.rule);
    let h = m.engine.holdings(take.account).unwrap()[usize::from(take.instrument.0)];
    assert_eq!((h.buying_t, h.reserved_t), (0, 0), "{}", row.rule);
    let today = m.engine.today(take.instrument).unwrap();
    assert_eq!(
        today.volume_t, take.quantity_t,
        "{}: in the day's figures",
        row.rule
    );
}

#[test]
fn every_take_rule_has_its_outcome() {
    for row in ROWS {
        run(row);
    }
}

#[test]
fn every_take_reason_has_a_row() {
    for reason in RejectReason::ALL
        .into_iter()
        .filter(|r| (120..=129).contains(&r.code()))
    {
        assert!(
            ROWS.iter().any(|row| row.expect == Rejected(reason)),
            "no row shows {reason:?}"
        );
    }
}

#[test]
fn a_take_moves_cash_and_allowances_at_the_target_price_and_joins_the_close() {
    let mut m = Market::new();
    let target = m.id(CEA, "ask3");
    let cash_before = m.engine.account(TAKER).unwrap().cash_fen;
    let seller_before = m.engine.account(SELLER).unwrap().cash_fen;
    let take = m.take(TAKER, CEA, Buy, target, 4);
    m.ok(&Command::Take(take));
    let taker = m.engine.account(TAKER).unwrap();
    assert_eq!(cash_before - taker.cash_fen, 4 * 101_00);
    let h = m.engine.holdings(TAKER).unwrap()[usize::from(CEA.0)];
    // CEA T+1: the 4 t bought are held but locked until the next day.
    assert_eq!((h.balance_t, h.locked_t), (1_004, 4));
    let seller = m.engine.account(SELLER).unwrap();
    assert_eq!(seller.cash_fen - seller_before, 4 * 101_00);
    let sold = m.engine.holdings(SELLER).unwrap()[usize::from(CEA.0)];
    assert_eq!(sold.balance_t, 996);
    // The partly taken order keeps its place: still the only one at 101.00.
    let book = m.engine.book(CEA).unwrap();
    let at_101: Vec<_> = book
        .orders(Sell)
        .filter(|o| o.price_ticks == 101_00)
        .map(|o| (o.order_id, o.quantity_t))
        .collect();
    assert_eq!(at_101, [(target, 6)]);
    // The close is the VWAP of the day's listing trades, takes included.
    let events = m.ok(&Command::EndOfDay { trading_date: None });
    let closed = events
        .iter()
        .find_map(|e| match e {
            Event::DayClosed(d) if d.instrument == CEA => Some(*d),
            _ => None,
        })
        .unwrap();
    assert_eq!((closed.close_ticks, closed.volume_t), (101_00, 4));
}

#[test]
fn replaying_a_take_rebuilds_the_same_state() {
    let mut m = Market::new();
    let mut replayed = m.engine.clone();
    let target = m.id(CEA, "ask2");
    let take = m.take(TAKER, CEA, Buy, target, 7);
    let events = m.ok(&Command::Take(take));
    let stamp = Stamp {
        seq: m.seq,
        time_ns: 0,
    };
    replayed
        .replay(stamp, &Command::Take(take), &events)
        .unwrap();
    assert_eq!(replayed.state(), m.engine.state());
}

/// The limits a refusal of `take` for `reason` quotes, from the engine as
/// it was when it refused (a refusal changes nothing).
fn quoted_limits(engine: &Engine, take: &Take, reason: RejectReason) -> Option<Bounds> {
    let holding = || {
        let holdings = engine.holdings(take.account).unwrap();
        holdings[usize::from(take.instrument.0)].sellable_t()
    };
    match reason {
        // The listing's order sizes (`InstrumentSpec`'s defaults).
        RejectReason::QuantityAboveMaximum => Some(Bounds::new(1, 99_999)),
        RejectReason::InsufficientCash => {
            let free = engine.account(take.account).unwrap().available_fen();
            Some(Bounds::new(0, free))
        }
        RejectReason::InsufficientHoldings | RejectReason::HoldingsLockedUntilNextDay => {
            Some(Bounds::new(0, i64::try_from(holding()).unwrap()))
        }
        // CEA's position limit here.
        RejectReason::PositionLimitExceeded => Some(Bounds::new(0, 2_000)),
        // The other way today (`BoughtToday`): CCER's 5 trading days
        // left, nothing open the other way.
        RejectReason::OppositeSideTooSoon => Some(Bounds::new(5, 0)),
        _ => None,
    }
}
