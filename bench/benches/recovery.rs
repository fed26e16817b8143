//! Criterion bench of recovery: how fast a journal becomes an engine again.
//!
//! The journal is a real trading run: the flow's genesis (1,000 funded
//! accounts), then the mixed stream (45% passive, 45% cancel, 10%
//! marketable) against a book held near 5,000 orders, journaled in `os`
//! mode to a temporary directory under the target directory's `tmp`. Recovery reads every
//! segment once, checking every CRC and sequence number and decoding each
//! entry, and replays the events into a new engine (`Engine::replay`: no
//! matching). The writer leaves the last
//! segment's preallocated zeros behind it; the first iteration of
//! `recover/full` trims them, as a server's recovery does, so every later
//! iteration and `settle/full` read a trimmed journal.
//!
//! | group | one element | what is timed per iteration |
//! |---|---|---|
//! | `recover/full` | one event | `journal::recover` of the whole journal, no snapshot |
//! | `recover/replay_only` | one event | reading, decoding and `Engine::replay` of every entry, without recovery's checks of the directory |
//! | `settle/full` | one event | `cetx replay` as a library: read and check the journal, replay it, keep the settlement ledger, reconcile, and write the clearing file, day and account reports as CSV |
//!
//! Run with `cargo bench -p cetx-bench --bench recovery`.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use criterion::{criterion_main, Criterion, SamplingMode, Throughput};

use cetx_bench::flow::{engine_config, journal_genesis, MixedFlow};
use cetx_engine::journal::{recover, Durability, JournalConfig, JournalReader, JournalWriter};
use cetx_engine::settlement::{run, Format, ReplayArgs};
use cetx_engine::{Engine, Stamp};

/// Order commands after the genesis.
const ORDERS: u64 = 700_000;

/// Journals the genesis and `ORDERS` mixed commands in `dir`; returns the
/// number of events.
fn write_journal(dir: &Path) -> u64 {
    let config = engine_config();
    let mut engine = Engine::default();
    let journal = JournalConfig {
        durability: Durability::Os,
        ..JournalConfig::default()
    };
    let writer = JournalWriter::open(dir, 1, journal).expect("journal opens");
    let mut flow = MixedFlow::new(2025, 5_000);
    let mut events = Vec::new();
    let mut total = 0;
    let genesis = journal_genesis(&config);
    let genesis_len = genesis.len() as u64;
    let mut genesis = genesis.into_iter();
    for seq in 1..=genesis_len + ORDERS {
        // The flow picks each order after seeing the events of the last,
        // so that its cancels name orders that still rest.
        let command = genesis.next().unwrap_or_else(|| flow.next_command().0);
        let stamp = Stamp {
            seq,
            time_ns: seq as i64,
        };
        events.clear();
        engine.apply(&command, stamp, &mut events);
        flow.observe(&events);
        total += events.len() as u64;
        writer
            .append_blocking(stamp, &command, &events)
            .expect("journal append");
    }
    writer.close().expect("journal closes");
    total
}

fn recovery(c: &mut Criterion) {
    // Cargo's temporary directory for benches: under the target directory,
    // wherever CARGO_TARGET_DIR puts it, not in the checkout.
    let base = env!("CARGO_TARGET_TMPDIR");
    std::fs::create_dir_all(base).expect("the target's tmp");
    let dir = tempfile::tempdir_in(base).expect("temporary directory");
    let events = write_journal(dir.path());
    eprintln!("recovery: journal of {events} events");
    let mut group = c.benchmark_group("recover");
    group.throughput(Throughput::Elements(events));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("full", |b| {
        b.iter(|| {
            let recovered = recover(dir.path()).expect("recovers");
            assert_eq!(recovered.snapshot_seq, None);
            recovered.next_seq
        });
    });
    group.bench_function("replay_only", |b| {
        b.iter(|| {
            let mut engine = Engine::default();
            let mut reader = JournalReader::open(dir.path()).expect("opens");
            let mut buffer = Vec::new();
            while let Some((stamp, command)) = reader.next_into(&mut buffer).expect("reads") {
                engine.replay(stamp, &command, &buffer).expect("replays");
                buffer.clear();
            }
            engine.trading_day()
        });
    });
    group.finish();

    let mut group = c.benchmark_group("settle");
    group.throughput(Throughput::Elements(events));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    let out = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temporary directory");
    let args = ReplayArgs {
        journal: dir.path().to_path_buf(),
        expected: None,
        day: None,
        from_seq: 0,
        out: Some(out.path().to_path_buf()),
        format: Format::Csv,
        follow: false,
        from_snapshot: false,
        now_ns: None,
    };
    let stop = AtomicBool::new(false);
    group.bench_function("full", |b| {
        b.iter(|| {
            let summary = run(
                &args,
                &mut std::io::sink(),
                &mut std::io::sink(),
                &mut |_| {},
                &stop,
            )
            .expect("settles");
            summary.rows
        });
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(2))
}

/// The macro's `pub fn benches` lives in a private module: it is no API.
mod groups {
    criterion::criterion_group! {
        name = benches;
        config = super::config();
        targets = super::recovery
    }
}

criterion_main!(groups::benches);
