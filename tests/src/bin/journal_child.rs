//! `cetx-journal-child DIR SEED ORDERS`: journals a workload (see
//! `cetx_tests::workload`) into DIR with `fdatasync` group commit, handing
//! the entries over as the engine thread does, in turns of 1 to 256 (drawn
//! from SEED; one write then carries many records, so kills also tear
//! them), writing a snapshot about every 2,000 commands, and prints
//! `durable N` on standard output each time the durable sequence number
//! moves on. Crash tests kill it with
//! SIGKILL at random points and then check that everything it reported
//! durable survived.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cetx_engine::journal::{write_snapshot, JournalBatch, JournalConfig, JournalWriter};
use cetx_engine::Engine;

/// Commands between snapshots (at the end of the turn that reaches it).
const SNAPSHOT_EVERY: u64 = 2_000;

/// The most entries in one turn, as in the engine thread.
const MAX_TURN: u64 = 256;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(Ok(seed)), Some(Ok(orders))) = (
        args.get(1).map(PathBuf::from),
        args.get(2).map(|s| s.parse::<u64>()),
        args.get(3).map(|s| s.parse::<usize>()),
    ) else {
        eprintln!("usage: cetx-journal-child DIR SEED ORDERS");
        return ExitCode::from(2);
    };
    let workload = cetx_tests::workload(seed, orders, 5_000);
    let mut engine = Engine::default();
    let journal = JournalConfig {
        // Small segments, so that kills also land around segment rolls.
        segment_bytes: 256 << 10,
        ..JournalConfig::default()
    };
    let writer = match JournalWriter::open(&dir, 1, journal) {
        Ok(writer) => writer,
        Err(e) => {
            eprintln!("cannot open journal: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let mut reported = 0;
    let mut events = Vec::new();
    let mut batch = JournalBatch::default();
    let mut draws = seed | 1;
    let mut next_snapshot = SNAPSHOT_EVERY;
    for turn in chunks(&workload, &mut draws) {
        // Room for the whole turn, as the engine thread makes sure.
        if let Err(e) = writer.wait_for_room(turn.len()) {
            eprintln!("journal failed: {e}");
            return ExitCode::FAILURE;
        }
        for (command, stamp) in turn {
            events.clear();
            engine.apply(command, *stamp, &mut events);
            if let Err(e) = writer.append_to(&mut batch, *stamp, command, &events) {
                eprintln!("journal append failed: {e}");
                return ExitCode::FAILURE;
            }
        }
        if let Err(e) = writer.commit_batch(&mut batch) {
            eprintln!("journal commit failed: {e}");
            return ExitCode::FAILURE;
        }
        let last = turn.last().map_or(0, |(_, stamp)| stamp.seq);
        if last >= next_snapshot {
            next_snapshot = last + SNAPSHOT_EVERY;
            let state = engine.state();
            match writer.wait_durable(last, Duration::from_secs(30)) {
                Ok(true) => {}
                other => {
                    eprintln!("seq {last} did not become durable: {other:?}");
                    return ExitCode::FAILURE;
                }
            }
            if let Err(e) = write_snapshot(&dir, last, &state) {
                eprintln!("snapshot failed: {e}");
                return ExitCode::FAILURE;
            }
        }
        let durable = writer.durable_seq();
        if durable > reported {
            reported = durable;
            // A closed pipe means the parent is gone: stop quietly.
            if writeln!(out, "durable {durable}")
                .and_then(|()| out.flush())
                .is_err()
            {
                return ExitCode::SUCCESS;
            }
        }
    }
    if let Err(e) = writer.close() {
        eprintln!("journal close failed: {e}");
        return ExitCode::FAILURE;
    }
    let _ = writeln!(out, "done {}", workload.len());
    ExitCode::SUCCESS
}

/// The workload cut into turns of 1 to [`MAX_TURN`] entries (xorshift
/// draws from `state`).
fn chunks<'a, T>(workload: &'a [T], state: &mut u64) -> Vec<&'a [T]> {
    let mut turns = Vec::new();
    let mut rest = workload;
    while !rest.is_empty() {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        let len = usize::try_from(1 + *state % MAX_TURN)
            .unwrap_or(1)
            .min(rest.len());
        let (turn, tail) = rest.split_at(len);
        turns.push(turn);
        rest = tail;
    }
    turns
}
