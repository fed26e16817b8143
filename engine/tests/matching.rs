//! Matching scenarios, as a specification.
//!
//! Each row is one rule: the book before (resting day limits, entered in the
//! order listed), the commands that follow, every event they produce, and the
//! book after, in priority order. Events are written in a short notation:
//!
//! - `accepted #10`, `rejected submit #10 PriceOutsideBand`
//! - `trade #1 maker #2 taker #10 3t @101` (`#1` is the trade id)
//! - `cancelled #10 2t Unfilled`, `amended #1 5t @101 kept` / `... requeued`
//!
//! and resting orders as `B #1 10t @99` / `S #2 5t @101`.
//!
//! The instrument is `CEA2025` with reference 1.00 CNY and band ±10%, so
//! prices run 90..=110 ticks, lots of 1 t, orders of 1..=1000 t, and room for
//! four resting orders (to reach the book limit). The resting orders belong
//! to one account and the incoming ones to another, both funded far beyond
//! need: the rules about money are specified in `rules.rs`.
//! `engine.check_invariants()` runs after every command.

use cetx_engine::{AccountId, RestingOrder};
use cetx_engine::{
    Command, Engine, EngineConfig, Event, InstrumentId, InstrumentSpec, NewOrder, OrderId,
    OrderType, Side, Stamp, TimeInForce,
};
use rust_decimal::Decimal;

mod support;

const CEA: InstrumentId = InstrumentId(0);
/// Account of every resting order set up by a row.
const MAKER: AccountId = AccountId(1);
/// Account of the row's incoming orders.
const TAKER: AccountId = AccountId(2);

/// The open market of this file and the next free sequence number.
fn engine() -> (Engine, u64) {
    let mut spec = InstrumentSpec::cea(2025, Decimal::new(1_00, 2));
    spec.max_order_t = 1_000;
    spec.max_orders = 4;
    // No per-member limits: the rows test the book's own limit.
    spec.max_orders_per_account = Some(u32::MAX);
    spec.max_orders_per_broker = Some(u32::MAX);
    let mut engine = Engine::new(&EngineConfig {
        instruments: vec![spec],
    })
    .unwrap();
    let seq = support::open_market(&mut engine, &[MAKER, TAKER]);
    (engine, seq)
}

fn order(id: u64, side: Side, kind: OrderType, tif: TimeInForce, price: i64, qty: u64) -> Command {
    Command::Submit(NewOrder {
        order_id: OrderId(id),
        account: TAKER,
        instrument: CEA,
        side,
        order_type: kind,
        time_in_force: tif,
        price_ticks: price,
        quantity_t: qty,
        client_order_id: 0,
    })
}

fn buy(id: u64, price: i64, qty: u64) -> Command {
    order(
        id,
        Side::Buy,
        OrderType::Limit,
        TimeInForce::Day,
        price,
        qty,
    )
}
fn sell(id: u64, price: i64, qty: u64) -> Command {
    order(
        id,
        Side::Sell,
        OrderType::Limit,
        TimeInForce::Day,
        price,
        qty,
    )
}
fn ioc(id: u64, side: Side, price: i64, qty: u64) -> Command {
    order(id, side, OrderType::Limit, TimeInForce::Ioc, price, qty)
}
fn fok(id: u64, side: Side, price: i64, qty: u64) -> Command {
    order(id, side, OrderType::Limit, TimeInForce::Fok, price, qty)
}
fn market(id: u64, side: Side, tif: TimeInForce, qty: u64) -> Command {
    order(id, side, OrderType::Market, tif, 0, qty)
}
fn cancel(id: u64) -> Command {
    Command::Cancel {
        instrument: CEA,
        order_id: OrderId(id),
        requester: None,
    }
}
fn amend(id: u64, price: i64, qty: u64) -> Command {
    Command::Amend {
        instrument: CEA,
        order_id: OrderId(id),
        price_ticks: price,
        quantity_t: qty,
        requester: None,
    }
}

fn describe(event: &Event) -> String {
    match event {
        Event::Accepted(a) => format!("accepted #{}", a.order_id.0),
        Event::Rejected(r) => {
            let command = format!("{:?}", r.command).to_lowercase();
            format!(
                "rejected {command} #{} {:?}",
                r.order_id.map_or(0, |id| id.0),
                r.reason
            )
        }
        Event::Trade(t) => format!(
            "trade #{} maker #{} taker #{} {}t @{}",
            t.trade_id, t.maker_order_id.0, t.taker_order_id.0, t.quantity_t, t.price_ticks
        ),
        Event::Cancelled(c) => format!(
            "cancelled #{} {}t {:?}",
            c.order_id.0, c.cancelled_t, c.cause
        ),
        Event::Amended(a) => format!(
            "amended #{} {}t @{} {}",
            a.order_id.0,
            a.quantity_t,
            a.price_ticks,
            if a.priority_kept { "kept" } else { "requeued" }
        ),
        other => format!("{other:?}"),
    }
}

fn describe_order(o: &RestingOrder) -> String {
    let side = match o.side {
        Side::Buy => "B",
        Side::Sell => "S",
    };
    format!(
        "{side} #{} {}t @{}",
        o.order_id.0, o.quantity_t, o.price_ticks
    )
}

/// The book in priority order: bids best first, then asks best first.
fn book_after(engine: &Engine) -> Vec<String> {
    let book = engine.book(CEA).unwrap();
    book.orders(Side::Buy)
        .chain(book.orders(Side::Sell))
        .map(|o| describe_order(&o))
        .collect()
}

struct Row {
    rule: &'static str,
    before: Vec<Command>,
    commands: Vec<Command>,
    events: &'static [&'static str],
    after: &'static [&'static str],
}

/// Runs one row and returns the events as written, checking invariants after
/// every command.
fn run(row: &Row) -> (Vec<String>, Vec<String>) {
    let (mut engine, mut seq) = engine();
    let mut events = Vec::new();
    for command in &row.before {
        let mut command = command.clone();
        if let Command::Submit(o) = &mut command {
            o.account = MAKER;
        }
        seq += 1;
        engine.apply(&command, Stamp { seq, time_ns: 0 }, &mut events);
        engine.check_invariants();
        assert!(
            events
                .iter()
                .all(|e| !matches!(e, Event::Rejected(_) | Event::Trade(_))),
            "{}: set-up must only rest orders, got {events:?}",
            row.rule
        );
        events.clear();
    }
    for command in &row.commands {
        seq += 1;
        engine.apply(command, Stamp { seq, time_ns: 0 }, &mut events);
        engine.check_invariants();
    }
    (events.iter().map(describe).collect(), book_after(&engine))
}

fn check(rows: &[Row]) {
    for row in rows {
        let (events, after) = run(row);
        assert_eq!(events, row.events, "events: {}", row.rule);
        assert_eq!(after, row.after, "book after: {}", row.rule);
    }
}

#[test]
fn limit_orders_trade_at_the_resting_price_in_price_then_time_order() {
    check(&[
        Row {
            rule: "a limit order that does not cross rests",
            before: vec![sell(1, 101, 10)],
            commands: vec![buy(10, 100, 5)],
            events: &["accepted #10"],
            after: &["B #10 5t @100", "S #1 10t @101"],
        },
        Row {
            rule: "a crossing buy trades at the maker's price, not its own",
            before: vec![sell(1, 101, 10)],
            commands: vec![buy(10, 105, 10)],
            events: &["accepted #10", "trade #1 maker #1 taker #10 10t @101"],
            after: &[],
        },
        Row {
            rule: "a crossing sell trades at the maker's price, not its own",
            before: vec![buy(1, 99, 10)],
            commands: vec![sell(10, 95, 4)],
            events: &["accepted #10", "trade #1 maker #1 taker #10 4t @99"],
            after: &["B #1 6t @99"],
        },
        Row {
            rule: "a partly filled maker keeps its place at the front",
            before: vec![sell(1, 101, 10), sell(2, 101, 10)],
            commands: vec![buy(10, 101, 3)],
            events: &["accepted #10", "trade #1 maker #1 taker #10 3t @101"],
            after: &["S #1 7t @101", "S #2 10t @101"],
        },
        Row {
            rule: "within a price, the earlier order fills first",
            before: vec![sell(1, 101, 5), sell(2, 101, 5)],
            commands: vec![buy(10, 101, 7)],
            events: &[
                "accepted #10",
                "trade #1 maker #1 taker #10 5t @101",
                "trade #2 maker #2 taker #10 2t @101",
            ],
            after: &["S #2 3t @101"],
        },
        Row {
            rule: "the better price fills first, even when it arrived later",
            before: vec![sell(1, 102, 5), sell(2, 101, 5)],
            commands: vec![buy(10, 102, 6)],
            events: &[
                "accepted #10",
                "trade #1 maker #2 taker #10 5t @101",
                "trade #2 maker #1 taker #10 1t @102",
            ],
            after: &["S #1 4t @102"],
        },
        Row {
            rule: "a sweep stops at the limit and rests the remainder there",
            before: vec![sell(1, 101, 5), sell(2, 102, 5), sell(3, 104, 5)],
            commands: vec![buy(10, 103, 20)],
            events: &[
                "accepted #10",
                "trade #1 maker #1 taker #10 5t @101",
                "trade #2 maker #2 taker #10 5t @102",
            ],
            after: &["B #10 10t @103", "S #3 5t @104"],
        },
        Row {
            rule: "a sell sweep walks the bids downward",
            before: vec![buy(1, 99, 5), buy(2, 98, 5), buy(3, 97, 5)],
            commands: vec![sell(10, 98, 12)],
            events: &[
                "accepted #10",
                "trade #1 maker #1 taker #10 5t @99",
                "trade #2 maker #2 taker #10 5t @98",
            ],
            after: &["B #3 5t @97", "S #10 2t @98"],
        },
        Row {
            rule: "trade ids count up across commands",
            before: vec![sell(1, 101, 5)],
            commands: vec![buy(10, 101, 2), buy(11, 101, 2)],
            events: &[
                "accepted #10",
                "trade #1 maker #1 taker #10 2t @101",
                "accepted #11",
                "trade #2 maker #1 taker #11 2t @101",
            ],
            after: &["S #1 1t @101"],
        },
        Row {
            rule: "the band edges themselves are valid prices",
            before: vec![],
            commands: vec![buy(10, 90, 1), sell(11, 110, 1)],
            events: &["accepted #10", "accepted #11"],
            after: &["B #10 1t @90", "S #11 1t @110"],
        },
        Row {
            rule: "an order whose remainder finds the book full trades, then is cancelled",
            before: vec![
                sell(1, 101, 5),
                sell(2, 102, 5),
                sell(3, 103, 5),
                sell(4, 104, 5),
            ],
            commands: vec![buy(10, 100, 1), buy(11, 101, 8)],
            events: &[
                "accepted #10",
                "cancelled #10 1t BookFull",
                "accepted #11",
                "trade #1 maker #1 taker #11 5t @101",
            ],
            after: &[
                "B #11 3t @101",
                "S #2 5t @102",
                "S #3 5t @103",
                "S #4 5t @104",
            ],
        },
    ]);
}

#[test]
fn ioc_fok_and_market_orders_never_rest() {
    use Side::{Buy, Sell};
    use TimeInForce::{Day, Fok, Ioc};
    check(&[
        Row {
            rule: "IOC trades what it can and cancels the rest",
            before: vec![sell(1, 101, 5)],
            commands: vec![ioc(10, Buy, 102, 8)],
            events: &[
                "accepted #10",
                "trade #1 maker #1 taker #10 5t @101",
                "cancelled #10 3t Unfilled",
            ],
            after: &[],
        },
        Row {
            rule: "IOC that cannot cross is cancelled whole",
            before: vec![sell(1, 101, 5)],
            commands: vec![ioc(10, Buy, 100, 8)],
            events: &["accepted #10", "cancelled #10 8t Unfilled"],
            after: &["S #1 5t @101"],
        },
        Row {
            rule: "IOC that fills completely emits no cancel",
            before: vec![buy(1, 99, 5)],
            commands: vec![ioc(10, Sell, 99, 5)],
            events: &["accepted #10", "trade #1 maker #1 taker #10 5t @99"],
            after: &[],
        },
        Row {
            rule: "FOK that can fill across levels fills completely",
            before: vec![sell(1, 101, 5), sell(2, 102, 5)],
            commands: vec![fok(10, Buy, 102, 8)],
            events: &[
                "accepted #10",
                "trade #1 maker #1 taker #10 5t @101",
                "trade #2 maker #2 taker #10 3t @102",
            ],
            after: &["S #2 2t @102"],
        },
        Row {
            rule: "FOK short of quantity is killed and changes nothing",
            before: vec![sell(1, 101, 5), sell(2, 102, 5)],
            commands: vec![fok(10, Buy, 102, 11)],
            events: &["accepted #10", "cancelled #10 11t FokKilled"],
            after: &["S #1 5t @101", "S #2 5t @102"],
        },
        Row {
            rule: "FOK counts only quantity inside its limit",
            before: vec![sell(1, 101, 5), sell(2, 103, 5)],
            commands: vec![fok(10, Buy, 102, 6)],
            events: &["accepted #10", "cancelled #10 6t FokKilled"],
            after: &["S #1 5t @101", "S #2 5t @103"],
        },
        Row {
            rule: "FOK sell for exactly the available quantity fills",
            before: vec![buy(1, 99, 5), buy(2, 99, 5)],
            commands: vec![fok(10, Sell, 99, 10)],
            events: &[
                "accepted #10",
                "trade #1 maker #1 taker #10 5t @99",
                "trade #2 maker #2 taker #10 5t @99",
            ],
            after: &[],
        },
        Row {
            rule: "a market buy sweeps the asks up to the band ceiling and cancels the rest",
            before: vec![sell(1, 101, 5), sell(2, 110, 5), buy(3, 95, 5)],
            commands: vec![market(10, Buy, Ioc, 12)],
            events: &[
                "accepted #10",
                "trade #1 maker #1 taker #10 5t @101",
                "trade #2 maker #2 taker #10 5t @110",
                "cancelled #10 2t Unfilled",
            ],
            after: &["B #3 5t @95"],
        },
        Row {
            rule: "a market day order still never rests",
            before: vec![buy(1, 99, 5)],
            commands: vec![market(10, Sell, Day, 7)],
            events: &[
                "accepted #10",
                "trade #1 maker #1 taker #10 5t @99",
                "cancelled #10 2t Unfilled",
            ],
            after: &[],
        },
        Row {
            rule: "a market order on an empty side is cancelled whole",
            before: vec![buy(1, 99, 5)],
            commands: vec![market(10, Buy, Ioc, 7)],
            events: &["accepted #10", "cancelled #10 7t Unfilled"],
            after: &["B #1 5t @99"],
        },
        Row {
            rule: "a market FOK fills within the band or is killed",
            before: vec![sell(1, 101, 5), sell(2, 109, 5)],
            commands: vec![market(10, Buy, Fok, 11), market(11, Buy, Fok, 10)],
            events: &[
                "accepted #10",
                "cancelled #10 11t FokKilled",
                "accepted #11",
                "trade #1 maker #1 taker #11 5t @101",
                "trade #2 maker #2 taker #11 5t @109",
            ],
            after: &[],
        },
    ]);
}

#[test]
fn cancel_removes_exactly_the_named_order() {
    check(&[
        Row {
            rule: "cancel removes a resting order and reports its open quantity",
            before: vec![sell(1, 101, 5), sell(2, 101, 6)],
            commands: vec![cancel(1)],
            events: &["cancelled #1 5t Requested"],
            after: &["S #2 6t @101"],
        },
        Row {
            rule: "cancelling twice rejects the second and touches nothing else",
            before: vec![sell(1, 101, 5), sell(2, 101, 6), buy(3, 99, 1)],
            commands: vec![cancel(2), cancel(2)],
            events: &[
                "cancelled #2 6t Requested",
                "rejected cancel #2 UnknownOrder",
            ],
            after: &["B #3 1t @99", "S #1 5t @101"],
        },
        Row {
            rule: "a filled order cannot be cancelled",
            before: vec![sell(1, 101, 5)],
            commands: vec![buy(10, 101, 5), cancel(1), cancel(10)],
            events: &[
                "accepted #10",
                "trade #1 maker #1 taker #10 5t @101",
                "rejected cancel #1 UnknownOrder",
                "rejected cancel #10 UnknownOrder",
            ],
            after: &[],
        },
        Row {
            rule: "the remainder of a partly filled order cancels with its open quantity",
            before: vec![sell(1, 101, 5)],
            commands: vec![buy(10, 101, 2), cancel(1)],
            events: &[
                "accepted #10",
                "trade #1 maker #1 taker #10 2t @101",
                "cancelled #1 3t Requested",
            ],
            after: &[],
        },
        Row {
            rule: "a cancel naming an unknown instrument is rejected",
            before: vec![sell(1, 101, 5)],
            commands: vec![Command::Cancel {
                instrument: InstrumentId(9),
                order_id: OrderId(1),
                requester: None,
            }],
            events: &["rejected cancel #1 UnknownInstrument"],
            after: &["S #1 5t @101"],
        },
    ]);
}

#[test]
fn amend_keeps_priority_only_when_reducing() {
    check(&[
        Row {
            rule: "reducing quantity keeps the order first in its queue",
            before: vec![sell(1, 101, 10), sell(2, 101, 10)],
            commands: vec![amend(1, 101, 4), buy(10, 101, 5)],
            events: &[
                "amended #1 4t @101 kept",
                "accepted #10",
                "trade #1 maker #1 taker #10 4t @101",
                "trade #2 maker #2 taker #10 1t @101",
            ],
            after: &["S #2 9t @101"],
        },
        Row {
            rule: "an unchanged amend keeps priority",
            before: vec![sell(1, 101, 10), sell(2, 101, 10)],
            commands: vec![amend(1, 101, 10)],
            events: &["amended #1 10t @101 kept"],
            after: &["S #1 10t @101", "S #2 10t @101"],
        },
        Row {
            rule: "increasing quantity sends the order to the back",
            before: vec![sell(1, 101, 10), sell(2, 101, 10)],
            commands: vec![amend(1, 101, 11)],
            events: &["amended #1 11t @101 requeued"],
            after: &["S #2 10t @101", "S #1 11t @101"],
        },
        Row {
            rule: "a price change moves the order to the back of its new level",
            before: vec![sell(1, 101, 10), sell(2, 102, 10)],
            commands: vec![amend(1, 102, 10)],
            events: &["amended #1 10t @102 requeued"],
            after: &["S #2 10t @102", "S #1 10t @102"],
        },
        Row {
            rule: "an amend that becomes marketable trades as the aggressor, then rests",
            before: vec![sell(2, 101, 4), sell(3, 102, 4)],
            commands: vec![buy(10, 99, 10), amend(10, 101, 10)],
            events: &[
                "accepted #10",
                "amended #10 10t @101 requeued",
                "trade #1 maker #2 taker #10 4t @101",
            ],
            after: &["B #10 6t @101", "S #3 4t @102"],
        },
        Row {
            rule: "an amend that fills completely leaves the book",
            before: vec![buy(2, 99, 2)],
            commands: vec![sell(10, 103, 3), amend(10, 99, 2)],
            events: &[
                "accepted #10",
                "amended #10 2t @99 requeued",
                "trade #1 maker #2 taker #10 2t @99",
            ],
            after: &[],
        },
        Row {
            rule: "an amend of an unknown or finished order is rejected",
            before: vec![sell(1, 101, 3)],
            commands: vec![amend(7, 101, 1), cancel(1), amend(1, 101, 1)],
            events: &[
                "rejected amend #7 UnknownOrder",
                "cancelled #1 3t Requested",
                "rejected amend #1 UnknownOrder",
            ],
            after: &[],
        },
        Row {
            rule: "an amend breaking a rule is rejected and changes nothing",
            before: vec![sell(1, 101, 3), sell(2, 101, 3)],
            commands: vec![amend(1, 111, 3), amend(1, 101, 0), amend(1, 101, 1_001)],
            events: &[
                "rejected amend #1 PriceOutsideBand",
                "rejected amend #1 QuantityZero",
                "rejected amend #1 QuantityAboveMaximum",
            ],
            after: &["S #1 3t @101", "S #2 3t @101"],
        },
    ]);
}
