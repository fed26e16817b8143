//! Criterion benches of the journal: how fast entries become durable, what
//! an append costs the engine thread, how long one entry waits for its
//! group commit, and how fast a journal reads back.
//!
//! Every entry is a realistic order: a `Submit` answered by `Accepted` and
//! one `Trade` (even sequence numbers) or two (odd): 2.5 events and about
//! 190 record bytes per entry on average. Files go to a temporary directory
//! under `target/tmp` (the work tree's disk), removed at the end.
//!
//! | group | one element | what is timed per iteration |
//! |---|---|---|
//! | `append/{fsync,os,none}` | one entry | 10,000 entries handed over as the engine thread does, in turns of 256 (`append_to` each, `commit_batch` per turn, waiting for room when the queue is full), and the wait until the last is durable: sustained throughput, group commit included |
//! | `append_to/fsync` | one entry | 1,024 `append_to` calls and a `commit_batch` per 256 (room in the queue is ensured, untimed): the engine thread's cost |
//! | `commit_latency/fsync` | one entry | one `append` and the wait until it is durable, on an idle writer |
//! | `read/events` | one event | reading and decoding a ~1M-event journal (400,000 entries, page cache warm) as `(seq, Event)` |
//!
//! Events per second for `append` are entries per second × 2.5. After each
//! `append` bench the writer's group-commit counters are printed (mean and
//! largest batch).
//!
//! Run with `cargo bench -p cetx-bench --bench journal`.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_main, Criterion, SamplingMode, Throughput};

use cetx_engine::journal::{Durability, JournalBatch, JournalConfig, JournalReader, JournalWriter};
use cetx_engine::{
    Accepted, AccountId, Command, Event, InstrumentId, NewOrder, OrderId, OrderType, Side, Stamp,
    TimeInForce, Trade,
};

/// Entries per timed batch in `append`.
const BATCH: u64 = 10_000;

/// Entries per timed batch in `append_to`.
const CALLS: u64 = 1_024;

/// Entries the engine thread hands over at most at once (a turn).
const TURN: usize = 256;

/// Entries in the journal `read` decodes (2.5 events each).
const READ_ENTRIES: u64 = 400_000;

/// Longest any wait for durability may take before the bench gives up.
const PATIENCE: Duration = Duration::from_secs(60);

/// A buy that trades with one resting sell (even `seq`) or two (odd).
fn entry(seq: u64) -> (Stamp, Command, Vec<Event>) {
    let time_ns = 1_752_629_400_000_000_000 + seq as i64 * 10_000;
    let order = NewOrder {
        order_id: OrderId(seq),
        account: AccountId((seq % 1_000) as u32 + 1),
        instrument: InstrumentId(0),
        side: Side::Buy,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        price_ticks: 98_00,
        quantity_t: 200,
        client_order_id: 0,
    };
    let mut events = vec![Event::Accepted(Accepted {
        order_id: order.order_id,
        account: order.account,
        instrument: order.instrument,
        side: order.side,
        order_type: order.order_type,
        time_in_force: order.time_in_force,
        price_ticks: order.price_ticks,
        quantity_t: order.quantity_t,
    })];
    let fills = 1 + seq % 2;
    for i in 0..fills {
        events.push(Event::Trade(Trade {
            trade_id: seq * 2 + i,
            seq,
            time_ns,
            instrument: order.instrument,
            price_ticks: 97_99,
            quantity_t: 200 / fills,
            aggressor: Side::Buy,
            maker_order_id: OrderId(seq.saturating_sub(100 + i)),
            maker_account: AccountId(2_000),
            maker_remaining_t: 0,
            taker_order_id: order.order_id,
            taker_account: order.account,
            taker_remaining_t: 200 - 200 / fills * (i + 1),
        }));
    }
    (Stamp { seq, time_ns }, Command::Submit(order), events)
}

/// A fresh temporary directory on the work tree's disk.
fn temp_dir() -> tempfile::TempDir {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).expect("target/tmp");
    tempfile::tempdir_in(base).expect("a temporary directory")
}

fn config(durability: Durability) -> JournalConfig {
    JournalConfig {
        durability,
        ..JournalConfig::default()
    }
}

fn report_batches(name: &str, writer: &JournalWriter) {
    let stats = writer.stats();
    if stats.batches > 0 {
        eprintln!(
            "{name}: {} entries in {} group commits, mean {:.1}, largest {}",
            stats.entries,
            stats.batches,
            stats.entries as f64 / stats.batches as f64,
            stats.largest_batch
        );
    }
}

/// Sustained throughput: appends until the last is durable.
fn append(c: &mut Criterion) {
    let entries: Vec<_> = (1..=BATCH).map(entry).collect();
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(BATCH));
    // Flat sampling and few samples: every iteration writes ~2 MB, and the
    // disk, not the code, sets the pace of `fsync` and `os`.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for (name, durability) in [
        ("fsync", Durability::Fsync),
        ("os", Durability::Os),
        ("none", Durability::None),
    ] {
        let dir = temp_dir();
        let writer = JournalWriter::open(dir.path(), 1, config(durability)).expect("open");
        let mut next = 1;
        let mut batch = JournalBatch::default();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    for turn in entries.chunks(TURN) {
                        writer.wait_for_room(turn.len()).expect("room");
                        for (stamp, command, events) in turn {
                            let stamp = Stamp {
                                seq: next,
                                ..*stamp
                            };
                            writer
                                .append_to(&mut batch, stamp, command, events)
                                .expect("append");
                            next += 1;
                        }
                        writer.commit_batch(&mut batch).expect("commit");
                    }
                    assert!(writer.wait_durable(next - 1, PATIENCE).expect("durable"));
                }
                start.elapsed()
            });
        });
        report_batches(&format!("append/{name}"), &writer);
        writer.close().expect("close");
    }
    group.finish();
}

/// The engine thread's cost of one entry: `append_to`, and a share of
/// the turn's `commit_batch`.
fn append_to(c: &mut Criterion) {
    let entries: Vec<_> = (1..=CALLS).map(entry).collect();
    let mut group = c.benchmark_group("append_to");
    group.throughput(Throughput::Elements(CALLS));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(3));
    let dir = temp_dir();
    let writer = JournalWriter::open(dir.path(), 1, config(Durability::Fsync)).expect("open");
    let mut next = 1;
    let mut batch = JournalBatch::default();
    group.bench_function("fsync", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                // Make room first, untimed, as the engine thread checks
                // before it takes a request.
                writer.wait_for_room(CALLS as usize).expect("room");
                let start = Instant::now();
                for turn in entries.chunks(TURN) {
                    for (stamp, command, events) in turn {
                        let stamp = Stamp {
                            seq: next,
                            ..*stamp
                        };
                        writer
                            .append_to(&mut batch, stamp, command, events)
                            .expect("append");
                        next += 1;
                    }
                    writer.commit_batch(&mut batch).expect("commit");
                }
                elapsed += start.elapsed();
            }
            elapsed
        });
    });
    report_batches("append_to/fsync", &writer);
    writer.close().expect("close");
    group.finish();
}

/// One entry from `append` to durable, on an idle writer.
fn commit_latency(c: &mut Criterion) {
    let (stamp, command, events) = entry(1);
    let mut group = c.benchmark_group("commit_latency");
    group.throughput(Throughput::Elements(1));
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(5));
    let dir = temp_dir();
    let writer = JournalWriter::open(dir.path(), 1, config(Durability::Fsync)).expect("open");
    let mut next = 1;
    group.bench_function("fsync", |b| {
        b.iter(|| {
            let stamp = Stamp { seq: next, ..stamp };
            writer.append(stamp, &command, &events).expect("append");
            assert!(writer.wait_durable(next, PATIENCE).expect("durable"));
            next += 1;
        });
    });
    writer.close().expect("close");
    group.finish();
}

/// Reading and decoding a journal of about a million events.
fn read(c: &mut Criterion) {
    let dir = temp_dir();
    let writer = JournalWriter::open(dir.path(), 1, config(Durability::Os)).expect("open");
    for seq in 1..=READ_ENTRIES {
        let (stamp, command, events) = entry(seq);
        writer
            .append_blocking(stamp, &command, &events)
            .expect("append");
    }
    writer.close().expect("close");
    let events: u64 = (1..=READ_ENTRIES).map(|seq| 2 + seq % 2).sum();
    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Elements(events));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("events", |b| {
        b.iter(|| {
            let mut count = 0u64;
            for item in JournalReader::open(dir.path()).expect("open").events() {
                black_box(item.expect("a good journal"));
                count += 1;
            }
            assert_eq!(count, events);
        });
    });
    group.finish();
}

/// The macro's `pub fn benches` lives in a private module: it is no API.
mod groups {
    use super::{append, append_to, commit_latency, read};

    criterion::criterion_group!(benches, append, append_to, commit_latency, read);
}

criterion_main!(groups::benches);
