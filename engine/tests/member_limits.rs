//! No one member can fill a book for everyone: an account may have at most
//! `max_orders_per_account` and a broker's accounts together at most
//! `max_orders_per_broker` orders resting in one instrument's book. A day
//! limit order past either limit is rejected with its own code
//! (`AccountOrderLimit` 209, `BrokerOrderLimit` 210) and changes nothing;
//! orders that never rest (IOC, FOK, market) are not counted against them,
//! and every way an order leaves the book (a fill, a cancel, the end of
//! day) gives its place back.
//!
//! The repro: with `max_orders = 20`, broker 2 rested twenty 1 t
//! buys at the band floor, and broker 1's buy at a better price was then
//! cancelled `BookFull`. Here broker 2 stops at its limit and broker 1
//! rests.

use cetx_engine::{
    AccountId, BrokerId, Command, Engine, EngineConfig, Event, InstrumentId, InstrumentSpec,
    NewOrder, OrderId, OrderType, ParticipantType, Phase, RejectReason, Side, Stamp, TimeInForce,
};
use rust_decimal::Decimal;

const CEA: InstrumentId = InstrumentId(0);

/// Broker 2's accounts 21 and 22, broker 1's account 11.
const B2_A: AccountId = AccountId(21);
const B2_B: AccountId = AccountId(22);
const B1: AccountId = AccountId(11);

struct Market {
    engine: Engine,
    seq: u64,
    next_order: u64,
}

impl Market {
    /// `max_orders = 20`, at most 4 per account and 6 per broker.
    fn new() -> Self {
        let mut spec = InstrumentSpec::cea(2025, Decimal::new(90_00, 2));
        spec.max_orders = 20;
        spec.max_orders_per_account = Some(4);
        spec.max_orders_per_broker = Some(6);
        let mut market = Self {
            engine: Engine::new(&EngineConfig {
                instruments: vec![spec],
            })
            .unwrap(),
            seq: 0,
            next_order: 1,
        };
        for (account, broker) in [(B2_A, 2), (B2_B, 2), (B1, 1)] {
            market.ok(Command::OpenAccount {
                account,
                participant: ParticipantType::ComplianceEntity,
                broker: BrokerId(broker),
            });
            market.ok(Command::Deposit {
                account,
                amount_fen: 1_000_000_000,
            });
            market.ok(Command::CreditHoldings {
                account,
                instrument: CEA,
                quantity_t: 1_000,
            });
        }
        market.ok(Command::SetPhase {
            instrument: CEA,
            phase: Phase::Continuous,
        });
        market
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

    fn ok(&mut self, command: Command) -> Vec<Event> {
        let events = self.apply(&command);
        assert!(
            !events.iter().any(|e| matches!(e, Event::Rejected(_))),
            "{command:?}: {events:?}"
        );
        events
    }

    fn order(&mut self, account: AccountId, side: Side, tif: TimeInForce, price: i64) -> Command {
        self.next_order += 1;
        Command::Submit(NewOrder {
            order_id: OrderId(self.next_order),
            account,
            instrument: CEA,
            side,
            order_type: OrderType::Limit,
            time_in_force: tif,
            price_ticks: price,
            quantity_t: 1,
            client_order_id: self.next_order,
        })
    }

    /// A 1 t day buy at the band floor: `None` when it rests, else the
    /// reason it was rejected.
    fn rest_buy(&mut self, account: AccountId) -> Option<RejectReason> {
        let command = self.order(account, Side::Buy, TimeInForce::Day, 81_00);
        match &self.apply(&command)[..] {
            [Event::Accepted(_)] => None,
            [Event::Rejected(r)] => Some(r.reason),
            other => panic!("{other:?}"),
        }
    }

    fn resting(&self) -> usize {
        self.engine.book(CEA).unwrap().len()
    }
}

#[test]
fn an_account_and_a_broker_each_stop_at_their_limit() {
    let mut m = Market::new();
    // Row: account, what its next resting buy gets.
    let rows = [
        (B2_A, None),
        (B2_A, None),
        (B2_A, None),
        (B2_A, None),
        (B2_A, Some(RejectReason::AccountOrderLimit)),
        (B2_B, None),
        (B2_B, None),
        (B2_B, Some(RejectReason::BrokerOrderLimit)),
        (B2_A, Some(RejectReason::AccountOrderLimit)),
        (B1, None),
    ];
    for (i, (account, expected)) in rows.into_iter().enumerate() {
        assert_eq!(m.rest_buy(account), expected, "row {i}: {account:?}");
    }
    assert_eq!(m.resting(), 7);
    // Broker 1 is not held back by broker 2: its better buy rests, as the
    // issue's repro wanted, and its account may go on to its own limit.
    for _ in 0..3 {
        assert_eq!(m.rest_buy(B1), None);
    }
    assert_eq!(m.rest_buy(B1), Some(RejectReason::AccountOrderLimit));
}

#[test]
fn orders_that_never_rest_are_not_counted_and_leaving_the_book_frees_a_place() {
    let mut m = Market::new();
    for _ in 0..4 {
        assert_eq!(m.rest_buy(B2_A), None);
    }
    // At its limit the account may still send orders that cannot rest:
    // an IOC and a FOK buy, which find no seller and are cancelled.
    for tif in [TimeInForce::Ioc, TimeInForce::Fok] {
        let order = m.order(B2_A, Side::Buy, tif, 95_00);
        m.ok(order);
    }
    assert_eq!(m.rest_buy(B2_A), Some(RejectReason::AccountOrderLimit));
    // A fill frees a place: B1 sells into one of B2_A's buys.
    let sell = m.order(B1, Side::Sell, TimeInForce::Day, 81_00);
    let events = m.ok(sell);
    assert!(
        events.iter().any(|e| matches!(e, Event::Trade(_))),
        "{events:?}"
    );
    assert_eq!(m.rest_buy(B2_A), None);
    // A cancel frees a place.
    let resting = m
        .engine
        .book(CEA)
        .unwrap()
        .orders(Side::Buy)
        .next()
        .unwrap();
    m.ok(Command::Cancel {
        instrument: CEA,
        order_id: resting.order_id,
        requester: None,
    });
    assert_eq!(m.rest_buy(B2_A), None);
    // The end of day frees every place.
    m.ok(Command::EndOfDay { trading_date: None });
    m.ok(Command::SetPhase {
        instrument: CEA,
        phase: Phase::Continuous,
    });
    assert_eq!(m.resting(), 0);
    for _ in 0..4 {
        assert_eq!(m.rest_buy(B2_A), None);
    }
}

#[test]
fn the_limits_default_to_shares_of_the_book() {
    let mut spec = InstrumentSpec::cea(2025, Decimal::new(90_00, 2));
    let policy = spec.policy().unwrap();
    assert_eq!(spec.max_orders, 262_144);
    assert_eq!(policy.max_orders_per_account, 4_096);
    assert_eq!(policy.max_orders_per_broker, 32_768);
    spec.max_orders = 20;
    let policy = spec.policy().unwrap();
    assert_eq!(
        (policy.max_orders_per_account, policy.max_orders_per_broker),
        (1, 2)
    );
    spec.max_orders_per_account = Some(0);
    assert!(spec.policy().is_err());
}
