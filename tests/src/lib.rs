//! cetx-tests: end-to-end tests of cetx with real files and real processes
//! (and, once the server exists, real sockets on loopback).
//!
//! # Layout
//!
//! - this file: [`workload`], a deterministic stream of stamped commands
//!   (the market's genesis, then the bench's mixed order flow, with an end
//!   of day every so often), and [`journal_run`] / [`reexecute`], which
//!   journal a workload and check a journal by running its commands again.
//! - `server.rs`: [`server::TestServer`], a server (and its feed and web
//!   view) in the test's process on loopback.
//! - `operators.rs`: a market with an operators' channel, and its operator.
//! - `settle.rs`: [`settle::settle`], a data directory's journal replayed
//!   into the registry's CSV reports.
//! - `src/bin/journal_child.rs`: `cetx-journal-child`, a process that
//!   journals a workload and reports what is durable, for crash tests to
//!   kill.
//! - `tests/journal_recovery.rs`: recovery equals the live engine; a
//!   snapshot plus the rest equals the whole journal; the same commands give
//!   the same bytes; every torn tail recovers; a flipped byte refuses.
//! - `tests/journal_crash.rs`: SIGKILL the child at random points, then
//!   recover and check that nothing durable was lost.

pub mod operators;
pub mod server;
pub mod settle;

use std::path::Path;
use std::time::Duration;

use cetx_bench::flow::{engine_config, journal_genesis, MixedFlow, INSTRUMENT};
use cetx_engine::journal::{write_snapshot, JournalConfig, JournalReader, JournalWriter, Manifest};
use cetx_engine::{Command, Engine, EngineConfig, Phase, Stamp};

/// 2025-07-16 09:30:00 +08:00, in ns since the epoch: the workload's first
/// stamp.
const START_NS: i64 = 1_752_629_400 * 1_000_000_000;

/// The config of every workload: one `CEA2025` book around 90.00 CNY.
#[must_use]
pub fn config() -> EngineConfig {
    engine_config()
}

/// A deterministic workload of `orders` order commands: the genesis that
/// opens 1,000 rich accounts and starts trading, then the mixed flow (45%
/// passive, 45% cancel, 10% marketable), with an end of day and a reopening
/// after every `day_every` order commands. Stamps count up from 1.
///
/// # Panics
/// If `day_every` is zero.
#[must_use]
pub fn workload(seed: u64, orders: usize, day_every: usize) -> Vec<(Command, Stamp)> {
    assert!(day_every > 0);
    let config = config();
    let mut engine = Engine::default();
    let mut flow = MixedFlow::new(seed, 2_000);
    let mut out = Vec::new();
    let mut events = Vec::new();
    let mut push = |command: Command, engine: &mut Engine, flow: &mut MixedFlow| {
        let seq = out.len() as u64 + 1;
        let stamp = Stamp {
            seq,
            time_ns: START_NS + seq as i64 * 1_000,
        };
        events.clear();
        engine.apply(&command, stamp, &mut events);
        flow.observe(&events);
        out.push((command, stamp));
    };
    for command in journal_genesis(&config) {
        push(command, &mut engine, &mut flow);
    }
    for n in 1..=orders {
        let (command, _) = flow.next_command();
        push(command, &mut engine, &mut flow);
        if n % day_every == 0 {
            push(
                Command::EndOfDay { trading_date: None },
                &mut engine,
                &mut flow,
            );
            let reopen = Command::SetPhase {
                instrument: INSTRUMENT,
                phase: Phase::Continuous,
            };
            push(reopen, &mut engine, &mut flow);
        }
    }
    out
}

/// Sets the journal's durable mark to `seq`, as a writer killed after
/// marking that commit and before it marked the next leaves it: what
/// follows was never acknowledged (a write a crash may have cut short).
///
/// # Panics
/// When the mark cannot be written.
pub fn acknowledged_through(dir: &Path, seq: u64) {
    cetx_engine::journal::DurableMark::open(dir)
        .unwrap()
        .write(seq)
        .unwrap();
}

/// Makes the journal in `dir` look as its writer left it when killed: a
/// writer that stops cleanly writes in the manifest where the journal
/// ends, and a killed one never does. Only then may damage at the very end
/// be taken for a write cut short (docs/JOURNAL.md).
///
/// # Panics
/// When the journal has no manifest, or says it was not closed.
pub fn as_if_killed(dir: &Path) {
    let mut manifest = Manifest::read(dir).unwrap().expect("a manifest");
    assert!(
        manifest.closed.take().is_some(),
        "the writer stopped cleanly"
    );
    manifest.write(dir).unwrap();
}

/// Applies a workload to a new engine, journaling every command in `dir`
/// with `journal` settings, and writing a snapshot after every
/// `snapshot_every` commands (once they are durable). Returns the engine.
///
/// # Panics
/// On any journal error: a test that journals expects it to work.
pub fn journal_run(
    dir: &Path,
    workload: &[(Command, Stamp)],
    journal: JournalConfig,
    snapshot_every: Option<u64>,
) -> Engine {
    let mut engine = Engine::default();
    let writer = JournalWriter::open(dir, 1, journal).expect("journal opens");
    let mut events = Vec::new();
    for (command, stamp) in workload {
        events.clear();
        engine.apply(command, *stamp, &mut events);
        writer
            .append_blocking(*stamp, command, &events)
            .expect("journal append");
        if snapshot_every.is_some_and(|every| stamp.seq % every == 0) {
            let state = engine.state();
            assert!(
                writer
                    .wait_durable(stamp.seq, Duration::from_secs(30))
                    .expect("journal writes"),
                "seq {} never became durable",
                stamp.seq
            );
            write_snapshot(dir, stamp.seq, &state).expect("snapshot written");
        }
    }
    writer.close().expect("journal closes");
    engine
}

/// Runs the commands of the journal in `dir` through a new engine with
/// [`Engine::apply`], checks that each produces exactly the journaled
/// events, and returns the engine: an independent check of recovery, which
/// replays events without matching.
///
/// # Panics
/// When the journal does not read, or a command's events differ.
#[must_use]
pub fn reexecute(dir: &Path) -> Engine {
    let mut engine = Engine::default();
    let mut reader = JournalReader::open(dir).expect("journal opens");
    let (mut journaled, mut events) = (Vec::new(), Vec::new());
    while let Some((stamp, command)) = reader.next_into(&mut journaled).expect("journal reads") {
        events.clear();
        engine.apply(&command, stamp, &mut events);
        assert_eq!(
            events, journaled,
            "seq {}: the engine decided differently",
            stamp.seq
        );
        journaled.clear();
    }
    engine
}
