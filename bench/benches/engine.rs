//! Criterion benches of `Engine::apply` on a warm `CEA2025` book.
//!
//! Every bench starts from [`Harness::warmed_up`]: one book holding about
//! 5,000 resting orders in the shape of the mixed stream (see
//! `cetx_bench::flow`). Commands go through `Engine::apply` with one reused
//! `Vec<Event>`, cleared (never reallocated) after each command. Work that
//! only restores the book (re-adding what a bench took out, taking out what
//! it put in) runs outside the timed part, with `iter_custom`, so the book
//! stays near 5,000 orders however long criterion runs.
//!
//! | group | one element | what is timed per iteration |
//! |---|---|---|
//! | `add_passive` | one passive limit order | a batch of 100 that rest without trading |
//! | `cancel` | one cancel | a batch of 100 cancels of random resting orders |
//! | `sweep/levels/N` | one fill | one IOC buy that takes the N best ask levels whole |
//! | `mixed/resting_5000` | one command | 10,000 commands of the mixed stream (45/45/10) |
//! | `quantcup/{cetx,lobster,quantcup_c}` | one message | the QuantCup 2011 feed (35,759 messages) from an empty book |
//! | `rest_1m/{cetx,lobster,quantcup_c}` | one order | 1,000,000 passive orders into an empty book, all resting |
//! | `state/resting/N` | one resting order | `Engine::state()` of a book of N resting orders: what a snapshot copies (on the snapshot thread's replica, not the engine thread) |
//! | `state/reports/N` | one resting order | `Reports::for_snapshot()` of the reports of the same market: what the router copies for a snapshot, under its lock |
//!
//! The last two groups run the `lobster` crate's book on the very stream
//! cetx runs (`common/lobster.rs` translates the commands), so the ratio
//! of the two is measured in one run. Each replay starts from a fresh
//! market (for cetx a clone of the engine after `flow::genesis`, for lobster
//! a new `OrderBook`), made (and for cetx prefaulted, as the server does
//! at start-up: `Engine::prefault`) and dropped outside the timed part, and is
//! checked after the clock stops: the QuantCup feed trades the contest's
//! 8,445,790 t in both books (see `cetx_bench::quantcup` for how the feed
//! meets cetx's rules), and every order of `rest_1m` rests.
//!
//! `quantcup/quantcup_c` is the contest's winning entry, in C
//! (`quantcup_c/`, `cetx_bench::quantcup_c`): the fastest known book on
//! this feed, with no accounts and no rules. Its replay is one call, the
//! loop in C as in the contest's `score.c`, after its `init()` (outside
//! the timed part, like the other books' set-up), and it too must trade
//! 8,445,790 t. It runs `rest_1m` too, where nothing may trade.
//!
//! Every pre-trade check is on: each order comes from one of 1,000 funded
//! compliance-entity accounts, and each trade settles cash and allowances
//! between two of them (see `cetx_bench::flow::genesis`). The book uses the
//! default limit of `InstrumentSpec::cea` (`max_orders` = 2^18). `sweep`
//! re-adds its makers just before each sweep, so their index
//! entries are warm in cache: read it as the cost of matching itself.
//!
//! Run with `cargo bench -p cetx-bench --bench engine`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};

use cetx_bench::flow::{self, open_market, Harness, MixedFlow, ACCOUNTS, INSTRUMENT};
use cetx_bench::quantcup::{self, REFERENCE_TRADED_T};
use cetx_bench::quantcup_c;
use cetx_engine::{
    AccountId, Command, Engine, Event, NewOrder, OrderType, RestingOrder, Side, Stamp, TimeInForce,
};
use cetx_gateway::reports::Reports;

#[path = "common/lobster.rs"]
mod lobster_orders;

/// Seed of every bench's flow.
const SEED: u64 = 2025;

/// Resting orders in the warm book.
const RESTING: usize = 5_000;

/// Commands per timed batch in `add_passive` and `cancel`: small against
/// the 5,000 resting orders, large against the cost of reading the clock.
const BATCH: usize = 100;

/// Commands per timed batch in `mixed`.
const MIXED_BATCH: usize = 10_000;

/// Length of the recorded mixed stream; the engine is reset to the warm
/// state (untimed) each time the replay reaches the end.
const MIXED_STREAM: usize = 1_000_000;

/// Orders resting at the end of each replay of `rest_1m`.
const REST_MANY: usize = 1_000_000;

/// Applies one command with the reused buffer, then clears the buffer.
fn apply(engine: &mut Engine, command: &Command, stamp: Stamp, events: &mut Vec<Event>) {
    engine.apply(black_box(command), stamp, events);
    black_box(events.as_slice());
    events.clear();
}

/// Passive limit orders added to the warm book; taken out again, untimed,
/// after each batch.
fn add_passive(c: &mut Criterion) {
    let mut harness = Harness::warmed_up(SEED, RESTING);
    let mut batch: Vec<(Command, Stamp)> = Vec::with_capacity(BATCH);
    let mut group = c.benchmark_group("add_passive");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("resting_5000", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                batch.clear();
                batch.extend((0..BATCH).map(|_| harness.flow.next_passive()));
                let Harness { engine, events, .. } = &mut harness;
                let start = Instant::now();
                for (command, stamp) in &batch {
                    apply(engine, command, *stamp, events);
                }
                elapsed += start.elapsed();
                // The flow never saw these orders rest; cancel them by id.
                for (command, _) in &batch {
                    let Command::Submit(order) = command else {
                        unreachable!("next_passive submits");
                    };
                    let cancel = Command::Cancel {
                        instrument: INSTRUMENT,
                        order_id: order.order_id,
                        requester: None,
                    };
                    let stamp = harness.flow.next_stamp();
                    harness.apply(&cancel, stamp);
                }
            }
            elapsed
        });
    });
    group.finish();
    assert_eq!(harness.flow.rejected(), 0, "add_passive had rejections");
}

/// Cancels of random resting orders; the book is topped up again, untimed,
/// with as many new passive orders after each batch.
fn cancel(c: &mut Criterion) {
    let mut harness = Harness::warmed_up(SEED, RESTING);
    let mut batch: Vec<(Command, Stamp)> = Vec::with_capacity(BATCH);
    let mut group = c.benchmark_group("cancel");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("resting_5000", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                batch.clear();
                batch.extend((0..BATCH).map(|_| harness.flow.next_cancel().expect("orders rest")));
                let Harness { engine, events, .. } = &mut harness;
                let start = Instant::now();
                for (command, stamp) in &batch {
                    apply(engine, command, *stamp, events);
                }
                elapsed += start.elapsed();
                for _ in 0..BATCH {
                    let (command, stamp) = harness.flow.next_passive();
                    harness.apply(&command, stamp);
                }
            }
            elapsed
        });
    });
    group.finish();
    assert_eq!(harness.flow.rejected(), 0, "cancel had rejections");
}

/// The resting asks on the `levels` best ask levels, best first.
fn best_asks(engine: &Engine, levels: usize, out: &mut Vec<RestingOrder>) {
    let book = engine.book(INSTRUMENT).expect("one book");
    let last = book
        .depth(Side::Sell)
        .nth(levels - 1)
        .expect("the warm book is deep enough");
    out.clear();
    out.extend(
        book.orders(Side::Sell)
            .take_while(|order| order.price_ticks <= last.price_ticks),
    );
}

/// One aggressive IOC buy that takes the best `levels` ask levels whole.
/// The makers it filled are put back, untimed, with the same prices,
/// quantities and queue order, so every iteration sweeps the same book.
fn sweep(c: &mut Criterion) {
    let mut group = c.benchmark_group("sweep");
    for levels in [5, 10] {
        let mut harness = Harness::warmed_up(SEED, RESTING);
        let mut makers = Vec::new();
        best_asks(&harness.engine, levels, &mut makers);
        let fills = makers.len();
        let mut taker = AccountId(1);
        eprintln!("sweep/levels/{levels}: {fills} fills per sweep");
        harness.events.reserve(fills + 2);
        group.throughput(Throughput::Elements(fills as u64));
        group.bench_function(BenchmarkId::new("levels", levels), |b| {
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    best_asks(&harness.engine, levels, &mut makers);
                    assert_eq!(makers.len(), fills, "the restored book changed shape");
                    // The buyer takes turns among the accounts that own none
                    // of the makers: an own order would stop the sweep
                    // (self-trade prevention), and one account would run out
                    // of cash.
                    taker = (1..=ACCOUNTS)
                        .map(|i| AccountId((taker.0 + i) % ACCOUNTS + 1))
                        .find(|a| makers.iter().all(|m| m.account != *a))
                        .expect("some account owns no maker");
                    let sweep = Command::Submit(NewOrder {
                        order_id: harness.flow.next_order_id(),
                        account: taker,
                        instrument: INSTRUMENT,
                        side: Side::Buy,
                        order_type: OrderType::Limit,
                        time_in_force: TimeInForce::Ioc,
                        price_ticks: makers[fills - 1].price_ticks,
                        quantity_t: makers.iter().map(|m| m.quantity_t).sum(),
                        client_order_id: 0,
                    });
                    let stamp = harness.flow.next_stamp();
                    let start = Instant::now();
                    harness
                        .engine
                        .apply(black_box(&sweep), stamp, &mut harness.events);
                    elapsed += start.elapsed();
                    debug_assert_eq!(harness.events.len(), fills + 1);
                    harness.flow.observe(&harness.events);
                    harness.events.clear();
                    for maker in &makers {
                        let restore = Command::Submit(NewOrder {
                            order_id: harness.flow.next_order_id(),
                            account: maker.account,
                            instrument: INSTRUMENT,
                            side: Side::Sell,
                            order_type: OrderType::Limit,
                            time_in_force: TimeInForce::Day,
                            price_ticks: maker.price_ticks,
                            quantity_t: maker.quantity_t,
                            client_order_id: 0,
                        });
                        let stamp = harness.flow.next_stamp();
                        harness.apply(&restore, stamp);
                    }
                }
                elapsed
            });
        });
        assert_eq!(harness.flow.rejected(), 0, "sweep had rejections");
    }
    group.finish();
}

/// The mixed stream, recorded once from the warm harness and replayed in
/// batches against a clone of the warm engine.
fn mixed(c: &mut Criterion) {
    let mut group = c.benchmark_group("mixed");
    group.throughput(Throughput::Elements(MIXED_BATCH as u64));
    {
        let warm = Harness::warmed_up(SEED, RESTING);
        let stream = warm.clone().record(MIXED_STREAM);
        let mut engine = warm.engine.clone();
        engine.prefault();
        let mut events = Vec::with_capacity(warm.events.capacity());
        let mut position = 0;
        group.bench_function("resting_5000", |b| {
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    if position + MIXED_BATCH > stream.len() {
                        engine.clone_from(&warm.engine);
                        engine.prefault();
                        position = 0;
                    }
                    let batch = &stream[position..position + MIXED_BATCH];
                    let start = Instant::now();
                    for (command, stamp) in batch {
                        apply(&mut engine, command, *stamp, &mut events);
                    }
                    elapsed += start.elapsed();
                    position += MIXED_BATCH;
                }
                elapsed
            });
        });
    }
    group.finish();
}

/// Times `commands` applied to a copy of `market`, a fresh copy each
/// iteration (the copy is not timed), and checks each result.
fn replay_from(
    b: &mut criterion::Bencher<'_>,
    market: &Engine,
    commands: &[(Command, Stamp)],
    check: impl Fn(&Engine),
) {
    let mut events = Vec::new();
    b.iter_custom(|iters| {
        let mut elapsed = Duration::ZERO;
        for _ in 0..iters {
            let mut engine = market.clone();
            // As the server does at start-up: the copy's slab is mapped
            // before the clock starts, not page by page inside it.
            engine.prefault();
            let start = Instant::now();
            for (command, stamp) in commands {
                apply(&mut engine, command, *stamp, &mut events);
            }
            elapsed += start.elapsed();
            check(&engine);
        }
        elapsed
    });
}

/// Times replays of `feed` through the contest's winner, each into an
/// empty book made (its `init()`) outside the timed part, and checks
/// after the clock stops that each traded `traded_t`.
fn replay_c(b: &mut criterion::Bencher<'_>, feed: &quantcup_c::Feed, traded_t: u64) {
    b.iter_custom(|iters| {
        let mut elapsed = Duration::ZERO;
        for _ in 0..iters {
            let book = quantcup_c::Book::new();
            let start = Instant::now();
            let traded = book.replay(black_box(feed));
            elapsed += start.elapsed();
            assert_eq!(traded, traded_t, "the C book traded otherwise");
        }
        elapsed
    });
}

/// The QuantCup 2011 feed through cetx, through lobster and through the
/// contest's winner (C), each replay from an empty book.
fn quantcup(c: &mut Criterion) {
    let feed = quantcup::load().expect("the QuantCup feed in the lobster crate");
    let commands = quantcup::commands(&feed);
    let market = open_market(&quantcup::engine_config());
    // Said once, where a reader of the output sees it: an assert after
    // every replay below stops the bench on any other quantity.
    eprintln!(
        "quantcup: {} messages; every replay of each book must trade the contest's {REFERENCE_TRADED_T} t, or the bench stops",
        commands.len()
    );
    let mut group = c.benchmark_group("quantcup");
    group.throughput(Throughput::Elements(commands.len() as u64));
    group.bench_function("cetx", |b| {
        replay_from(b, &market, &commands, |engine| {
            let today = engine.today(INSTRUMENT).expect("one instrument");
            assert_eq!(today.volume_t, REFERENCE_TRADED_T, "cetx traded otherwise");
        });
    });
    let orders: Vec<_> = commands
        .iter()
        .map(|(command, _)| lobster_orders::to_lobster(command))
        .collect();
    group.bench_function("lobster", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let mut book = lobster::OrderBook::default();
                let mut traded_t = 0;
                let start = Instant::now();
                for order in &orders {
                    traded_t += lobster_orders::traded_t(&book.execute(black_box(*order)));
                }
                elapsed += start.elapsed();
                assert_eq!(traded_t, REFERENCE_TRADED_T, "lobster traded otherwise");
            }
            elapsed
        });
    });
    let c_feed = quantcup_c::Feed::new(&feed).expect("every price fits the C book");
    group.bench_function("quantcup_c", |b| replay_c(b, &c_feed, REFERENCE_TRADED_T));
    group.finish();
}

/// [`REST_MANY`] passive orders of the mixed stream's shape (within 2.00
/// CNY of the mid, from 1,000 accounts) into an empty book: inserts only,
/// and the book ends a million orders deep.
fn rest_1m(c: &mut Criterion) {
    let mut flow = MixedFlow::new(SEED, REST_MANY);
    let commands: Vec<_> = (0..REST_MANY).map(|_| flow.next_passive()).collect();
    let market = open_market(&flow::engine_config_with_room(REST_MANY));
    let mut group = c.benchmark_group("rest_1m");
    group.throughput(Throughput::Elements(REST_MANY as u64));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("cetx", |b| {
        replay_from(b, &market, &commands, |engine| {
            let book = engine.book(INSTRUMENT).expect("one book");
            assert_eq!(book.len(), REST_MANY, "an order did not rest");
        });
    });
    let orders: Vec<_> = commands
        .iter()
        .map(|(command, _)| lobster_orders::to_lobster(command))
        .collect();
    // The same orders for the contest's winner, whose arena holds
    // 1,010,000 orders: all rest if nothing trades.
    let passive: Vec<_> = commands
        .iter()
        .map(|(command, _)| match command {
            Command::Submit(order) => quantcup::Message::Limit {
                trader: 0,
                side: order.side,
                price_ticks: order.price_ticks,
                quantity_t: order.quantity_t,
            },
            other => panic!("rest_1m has only new orders, not {other:?}"),
        })
        .collect();
    let c_feed = quantcup_c::Feed::new(&passive).expect("every price fits the C book");
    drop((commands, passive));
    group.bench_function("lobster", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                // Its arena sized for every order, as cetx's slab is; 10 is
                // lobster's default room per price level, and no stats.
                let mut book = lobster::OrderBook::new(REST_MANY, 10, false);
                let mut placed = 0;
                let start = Instant::now();
                for order in &orders {
                    let event = book.execute(black_box(*order));
                    placed += usize::from(matches!(event, lobster::OrderEvent::Placed { .. }));
                }
                elapsed += start.elapsed();
                assert_eq!(placed, REST_MANY, "an order did not rest");
            }
            elapsed
        });
    });
    group.bench_function("quantcup_c", |b| replay_c(b, &c_feed, 0));
    group.finish();
}

/// `Engine::state()` of one book of `n` passive orders (1,000 accounts):
/// the copy each snapshot takes. The server takes it on the snapshot
/// thread's replica of the engine; before, the engine thread paused for it.
fn state(c: &mut Criterion) {
    let mut group = c.benchmark_group("state");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    for n in [100_000, REST_MANY] {
        let mut flow = MixedFlow::new(SEED, n);
        let mut engine = open_market(&flow::engine_config_with_room(n));
        let mut events = Vec::new();
        for _ in 0..n {
            let (command, stamp) = flow.next_passive();
            apply(&mut engine, &command, stamp, &mut events);
        }
        assert_eq!(engine.book(INSTRUMENT).expect("one book").len(), n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("resting", n), |b| {
            b.iter(|| black_box(engine.state()));
        });
    }
    // The gateway's part of a snapshot, copied by the router under its
    // lock: the reports of a market of `n` resting orders.
    for n in [100_000, REST_MANY] {
        let config = flow::engine_config_with_room(n);
        let mut engine = Engine::new(&config).expect("a valid engine config");
        let mut reports = Reports::new(vec!["CEA2025".into()], 1);
        let (mut events, mut out) = (Vec::new(), Vec::new());
        let genesis = flow::genesis(&config).into_iter().map(|command| {
            let stamp = Stamp {
                seq: 0,
                time_ns: flow::START_TIME_NS,
            };
            (command, stamp)
        });
        let mut flow = MixedFlow::new(SEED, n);
        let orders = std::iter::repeat_with(|| flow.next_passive()).take(n);
        for (command, stamp) in genesis.chain(orders) {
            engine.apply(&command, stamp, &mut events);
            reports.on_entry_into(stamp, &command, &events, &mut out);
            events.clear();
            out.clear();
        }
        assert_eq!(engine.book(INSTRUMENT).expect("one book").len(), n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("reports", n), |b| {
            b.iter(|| black_box(reports.for_snapshot()));
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(50)
}

/// The macro's `pub fn benches` lives in a private module: it is no API.
mod groups {
    use super::{add_passive, cancel, config, mixed, quantcup, rest_1m, state, sweep};

    criterion::criterion_group! {
        name = benches;
        config = config();
        targets = add_passive, cancel, sweep, mixed, quantcup, rest_1m, state
    }
}

criterion_main!(groups::benches);
