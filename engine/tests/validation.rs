//! Validation, as a specification: each row is an order or amend that
//! breaks one rule, and the stable reason it is rejected with.
//!
//! Every row also checks that the rejection changed nothing: the books are
//! the same before and after, and a rejected order's id is still free.
//!
//! Instruments: `CEA2025` (id 0): reference 1.00 CNY, band ±10% (90..=110
//! ticks), tick 0.01, lot 1 t, orders 1..=99,999 t (the exchange's "under
//! 100,000 t"). `CCER` (id 1): reference 1.00, tick 0.05 (5 ticks), lot 5 t,
//! orders 10..=100 t.

use cetx_engine::{
    AccountId, Command, Engine, EngineConfig, Event, InstrumentId, InstrumentSpec, NewOrder,
    OrderId, OrderType, RejectReason, Side, Stamp, TimeInForce,
};
use rust_decimal::Decimal;

mod support;

const CEA: InstrumentId = InstrumentId(0);
const CCER: InstrumentId = InstrumentId(1);

/// Submits buys from account 1 and sells from account 2, so the two trade.
fn account_for(side: Side) -> AccountId {
    match side {
        Side::Buy => AccountId(1),
        Side::Sell => AccountId(2),
    }
}

/// The open market of this file and the next free sequence number.
fn engine() -> (Engine, u64) {
    let cea = InstrumentSpec::cea(2025, Decimal::new(1_00, 2));
    let mut ccer = InstrumentSpec::ccer(Decimal::new(1_00, 2));
    ccer.tick = Decimal::new(5, 2);
    ccer.lot_t = 5;
    ccer.min_order_t = 10;
    ccer.max_order_t = 100;
    let mut engine = Engine::new(&EngineConfig {
        instruments: vec![cea, ccer],
    })
    .unwrap();
    let seq = support::open_market(&mut engine, &[AccountId(1), AccountId(2)]);
    (engine, seq)
}

fn limit(id: u64, instrument: InstrumentId, side: Side, price: i64, qty: u64) -> Command {
    Command::Submit(NewOrder {
        order_id: OrderId(id),
        account: account_for(side),
        instrument,
        side,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        price_ticks: price,
        quantity_t: qty,
        client_order_id: 0,
    })
}

/// The engine with one resting order in each book (ids 1 and 2), so that
/// "nothing changed" has something to compare.
fn seeded() -> (Engine, u64) {
    let (mut engine, seq) = engine();
    let mut events = Vec::new();
    engine.apply(&limit(1, CEA, Side::Sell, 105, 10), stamp(seq), &mut events);
    engine.apply(
        &limit(2, CCER, Side::Buy, 95, 10),
        stamp(seq + 1),
        &mut events,
    );
    assert_eq!(events.len(), 2, "{events:?}");
    (engine, seq + 1)
}

fn stamp(seq: u64) -> Stamp {
    Stamp { seq, time_ns: 0 }
}

fn snapshot(engine: &Engine) -> String {
    engine
        .books()
        .iter()
        .map(|b| {
            let orders: Vec<_> = b.orders(Side::Buy).chain(b.orders(Side::Sell)).collect();
            format!("{orders:?}")
        })
        .collect()
}

#[test]
fn each_broken_rule_has_its_own_reason() {
    use RejectReason::*;
    let rows: Vec<(&str, Command, RejectReason)> = vec![
        (
            "unknown instrument",
            limit(10, InstrumentId(2), Side::Buy, 100, 1),
            UnknownInstrument,
        ),
        (
            "price between ticks",
            limit(10, CCER, Side::Buy, 101, 10),
            PriceNotOnTick,
        ),
        (
            "price below the band",
            limit(10, CEA, Side::Buy, 89, 1),
            PriceOutsideBand,
        ),
        (
            "price above the band",
            limit(10, CEA, Side::Sell, 111, 1),
            PriceOutsideBand,
        ),
        (
            "negative price",
            limit(10, CEA, Side::Buy, -100, 1),
            PriceOutsideBand,
        ),
        (
            "zero price",
            limit(10, CEA, Side::Buy, 0, 1),
            PriceOutsideBand,
        ),
        (
            "tick-aligned but outside the band",
            limit(10, CCER, Side::Buy, 85, 10),
            PriceOutsideBand,
        ),
        (
            "zero quantity",
            limit(10, CEA, Side::Buy, 100, 0),
            QuantityZero,
        ),
        (
            "part of a lot",
            limit(10, CCER, Side::Buy, 100, 12),
            QuantityNotWholeLots,
        ),
        (
            "below the minimum",
            limit(10, CCER, Side::Buy, 100, 5),
            QuantityBelowMinimum,
        ),
        (
            "above the maximum",
            limit(10, CCER, Side::Buy, 100, 105),
            QuantityAboveMaximum,
        ),
        (
            "100,000 t is not under 100,000 t",
            limit(10, CEA, Side::Buy, 100, 100_000),
            QuantityAboveMaximum,
        ),
        (
            "id of a resting order",
            limit(1, CEA, Side::Buy, 100, 1),
            DuplicateOrderId,
        ),
        (
            "id below the last accepted",
            limit(0, CEA, Side::Buy, 100, 1),
            DuplicateOrderId,
        ),
        (
            "quantity is checked before price",
            limit(10, CEA, Side::Buy, 200, 0),
            QuantityZero,
        ),
        (
            "a reused id is named whatever else is wrong",
            limit(2, InstrumentId(9), Side::Buy, 0, 0),
            DuplicateOrderId,
        ),
        (
            "amend to an off-tick price",
            Command::Amend {
                instrument: CCER,
                order_id: OrderId(2),
                price_ticks: 96,
                quantity_t: 10,
                requester: None,
            },
            PriceNotOnTick,
        ),
        (
            "amend to part of a lot",
            Command::Amend {
                instrument: CCER,
                order_id: OrderId(2),
                price_ticks: 95,
                quantity_t: 11,
                requester: None,
            },
            QuantityNotWholeLots,
        ),
        (
            "amend in the wrong instrument",
            Command::Amend {
                instrument: CEA,
                order_id: OrderId(2),
                price_ticks: 95,
                quantity_t: 10,
                requester: None,
            },
            UnknownOrder,
        ),
        (
            "cancel in the wrong instrument",
            Command::Cancel {
                instrument: CCER,
                order_id: OrderId(1),
                requester: None,
            },
            UnknownOrder,
        ),
    ];
    for (rule, command, reason) in rows {
        let (mut engine, last_seq) = seeded();
        let before = snapshot(&engine);
        let mut events = Vec::new();
        engine.apply(&command, stamp(last_seq + 1), &mut events);
        engine.check_invariants();
        match events.as_slice() {
            [Event::Rejected(r)] => {
                assert_eq!(r.reason, reason, "{rule}");
                assert_eq!(r.command, command.kind(), "{rule}");
            }
            other => panic!("{rule}: expected one rejection, got {other:?}"),
        }
        assert_eq!(
            snapshot(&engine),
            before,
            "{rule}: a rejection changed the books"
        );
        // A rejected order did not use up its id: the next valid order with
        // id 10 is accepted.
        events.clear();
        engine.apply(
            &limit(10, CEA, Side::Buy, 100, 1),
            stamp(last_seq + 2),
            &mut events,
        );
        assert!(
            matches!(events[..], [Event::Accepted(_)]),
            "{rule}: {events:?}"
        );
    }
}

#[test]
fn the_largest_legal_cea_order_is_99_999_t() {
    let (mut engine, _) = seeded();
    let mut events = Vec::new();
    engine.apply(
        &limit(10, CEA, Side::Buy, 90, 99_999),
        stamp(3),
        &mut events,
    );
    assert!(matches!(events[..], [Event::Accepted(_)]), "{events:?}");
}

#[test]
fn an_id_of_a_finished_order_is_still_a_duplicate() {
    let (mut engine, _) = seeded();
    let mut events = Vec::new();
    engine.apply(
        &Command::Cancel {
            instrument: CEA,
            order_id: OrderId(1),
            requester: None,
        },
        stamp(3),
        &mut events,
    );
    engine.apply(&limit(1, CEA, Side::Sell, 105, 10), stamp(4), &mut events);
    let reasons: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Rejected(r) => Some(r.reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, [RejectReason::DuplicateOrderId]);
}

#[test]
fn market_orders_ignore_their_price_field_and_carry_the_band_edge() {
    let (mut engine, _) = seeded();
    let mut events = Vec::new();
    let mut order = match limit(10, CEA, Side::Buy, -5, 4) {
        Command::Submit(o) => o,
        _ => unreachable!(),
    };
    order.order_type = OrderType::Market;
    engine.apply(&Command::Submit(order), stamp(3), &mut events);
    match &events[..] {
        [Event::Accepted(a), Event::Trade(t)] => {
            assert_eq!(
                a.price_ticks, 110,
                "a market buy may trade up to the ceiling"
            );
            assert_eq!((t.price_ticks, t.quantity_t), (105, 4));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_same_stamped_commands_give_the_same_events() {
    let commands: Vec<Command> = (1..=400u64)
        .map(|i| {
            let side = if i % 3 == 0 { Side::Sell } else { Side::Buy };
            match i % 7 {
                0 => Command::Cancel {
                    instrument: CEA,
                    order_id: OrderId(i - 3),
                    requester: None,
                },
                1 => Command::Amend {
                    instrument: CEA,
                    order_id: OrderId(i - 1),
                    price_ticks: 95 + (i % 11) as i64,
                    quantity_t: 1 + i % 9,
                    requester: None,
                },
                _ => limit(i, CEA, side, 95 + ((i * 7) % 11) as i64, 1 + (i * 13) % 20),
            }
        })
        .collect();
    let run = || {
        let (mut engine, _) = engine();
        let mut events = Vec::new();
        for (seq, command) in (1..).zip(&commands) {
            engine.apply(
                command,
                Stamp {
                    seq,
                    time_ns: 1_700_000_000_000_000_000 + seq as i64,
                },
                &mut events,
            );
        }
        (events, snapshot(&engine))
    };
    let (first, first_books) = run();
    let (second, second_books) = run();
    assert!(
        first.iter().any(|e| matches!(e, Event::Trade(_))),
        "the stream must trade"
    );
    assert_eq!(first, second);
    assert_eq!(format!("{first:?}"), format!("{second:?}"));
    assert_eq!(first_books, second_books);
}
