//! Crash tests with real processes and real files: a child process
//! journals a workload with `fdatasync` group commit and reports what is
//! durable; the test kills it with SIGKILL at 24 points spread over its
//! run (during the market's genesis, during trading, around snapshots and
//! segment rolls), then recovers and checks that
//!
//! 1. every sequence number the child reported durable is in the journal;
//! 2. the recovered journal verifies;
//! 3. the recovered state equals running the journal's commands again
//!    (which must reproduce every journaled event), and equals a replay of
//!    the whole journal without snapshots.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use cetx_engine::journal::{recover, verify, MANIFEST_FILE};
use cetx_tests::reexecute;

/// Kill rounds.
const ROUNDS: u64 = 24;
/// Order commands the child would journal if left alone (after the
/// genesis of 3,001 commands).
const ORDERS: usize = 20_000;
/// Longest a round may take before the test gives up on the child.
const ROUND_LIMIT: Duration = Duration::from_secs(60);

/// The sequence number after which round `round` kills the child: the
/// first rounds early (in the genesis, before the first snapshot), the rest
/// spread over the whole run by a fixed pseudo-random sequence (SplitMix64),
/// so a failure can be re-run exactly.
fn kill_after(round: u64) -> u64 {
    const EARLY: [u64; 4] = [1, 50, 700, 1_990];
    if let Some(&early) = EARLY.get(round as usize) {
        return early;
    }
    let mut z = (round + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    1 + z % (ORDERS as u64 + 3_000)
}

/// Runs the child until it reports `target` durable (or finishes), then
/// kills it with SIGKILL. Returns the highest sequence number it reported
/// durable.
fn run_and_kill(dir: &Path, seed: u64, target: u64) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cetx-journal-child"))
        .arg(dir)
        .arg(seed.to_string())
        .arg(ORDERS.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the child starts");
    let stdout = child.stdout.take().expect("piped");
    let (lines, reported) = mpsc::channel();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(seq) = line
                .strip_prefix("durable ")
                .and_then(|s| s.parse::<u64>().ok())
            {
                if lines.send(seq).is_err() {
                    break;
                }
            }
        }
    });
    let mut durable = 0;
    loop {
        match reported.recv_timeout(ROUND_LIMIT) {
            Ok(seq) => {
                durable = durable.max(seq);
                if durable >= target {
                    break;
                }
            }
            // The child finished (or died) before the kill point.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("the child stopped reporting for {ROUND_LIMIT:?}");
            }
        }
    }
    // SIGKILL: no destructor, no flush, no close.
    let _ = child.kill();
    child.wait().expect("the child is reaped");
    // Lines already in the pipe were reported durable before the kill.
    reader.join().expect("reader thread");
    durable.max(reported.try_iter().max().unwrap_or(0))
}

#[test]
fn a_killed_writer_loses_nothing_it_reported_durable() {
    let mut torn_tails = 0;
    let mut from_snapshots = 0;
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        let target = kill_after(round);
        let durable = run_and_kill(dir.path(), round, target);
        assert!(durable > 0, "round {round}: nothing became durable");

        let recovered = recover(dir.path())
            .unwrap_or_else(|e| panic!("round {round} (killed after {target}): {e}"));
        let last = recovered.next_seq - 1;
        assert!(
            last >= durable,
            "round {round}: seq {durable} was reported durable but the journal ends at {last}"
        );
        torn_tails += usize::from(recovered.torn_tail.is_some());
        from_snapshots += usize::from(recovered.snapshot_seq.is_some());
        let report = verify(dir.path()).unwrap();
        assert_eq!(report.last_seq, Some(last), "round {round}");
        recovered.engine.check_invariants();

        let rerun = reexecute(dir.path());
        assert_eq!(
            recovered.engine.state(),
            rerun.state(),
            "round {round}: recovery differs from re-execution"
        );

        let journal_only = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("journal-") || name == MANIFEST_FILE {
                std::fs::copy(entry.path(), journal_only.path().join(entry.file_name())).unwrap();
            }
        }
        let full = recover(journal_only.path()).unwrap();
        assert_eq!(full.snapshot_seq, None);
        assert_eq!(
            full.engine.state(),
            recovered.engine.state(),
            "round {round}: snapshot path differs"
        );
    }
    // Not assertions about the kernel, just a note of what was exercised.
    eprintln!(
        "{ROUNDS} kills: {torn_tails} torn tails cut, {from_snapshots} recoveries from a snapshot"
    );
}
