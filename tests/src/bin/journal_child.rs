//! `cetx-journal-child DIR SEED ORDERS`: journals a workload (see
//! `cetx_tests::workload`) into DIR with `fdatasync` group commit, writing a
//! snapshot every 2,000 commands, and prints `durable N` on standard output
//! each time the durable sequence number moves on. Crash tests kill it with
//! SIGKILL at random points and then check that everything it reported
//! durable survived.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cetx_engine::journal::{write_snapshot, JournalConfig, JournalWriter};
use cetx_engine::Engine;

/// Commands between snapshots.
const SNAPSHOT_EVERY: u64 = 2_000;

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
    let mut engine = Engine::new(&cetx_tests::config()).expect("valid config");
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
    for (command, stamp) in &workload {
        events.clear();
        engine.apply(command, *stamp, &mut events);
        if let Err(e) = writer.append_blocking(*stamp, command, &events) {
            eprintln!("journal append failed: {e}");
            return ExitCode::FAILURE;
        }
        if stamp.seq % SNAPSHOT_EVERY == 0 {
            let state = engine.state();
            match writer.wait_durable(stamp.seq, Duration::from_secs(30)) {
                Ok(true) => {}
                other => {
                    eprintln!("seq {} did not become durable: {other:?}", stamp.seq);
                    return ExitCode::FAILURE;
                }
            }
            if let Err(e) = write_snapshot(&dir, stamp.seq, &state) {
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
