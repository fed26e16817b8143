//! `cetx replay` as a process: exit code 0 and a reconciled clearing file
//! on a good journal, 3 on a corrupt one, 4 on one with a missing
//! segment. (The report
//! contents against golden files are tested in `tests/tests/replay.rs`.)

use std::path::Path;
use std::process::Command as Process;

use cetx_engine::journal::format::{list_segments, HEADER_LEN};
use cetx_engine::journal::{Durability, JournalConfig, JournalWriter};
use cetx_engine::{
    AccountId, Command, Engine, NewOrder, OrderId, OrderType, Phase, Side, Stamp, TimeInForce,
};
use cetx_gateway::config::ServerConfig;

/// The demo market's genesis, a trade between the two demo brokers, and
/// the end of the day, journaled in small segments.
fn journal(dir: &Path) {
    journal_then(dir, None, &[]);
}

/// [`journal`], its end of day dated `trading_date`, with `after`
/// journaled after it.
fn journal_then(dir: &Path, trading_date: Option<u32>, after: &[Command]) {
    let config = ServerConfig::embedded_default();
    let cea = config.instrument_id("CEA2025").unwrap();
    let mut commands = config.genesis();
    commands.push(Command::SetPhase {
        instrument: cea,
        phase: Phase::Continuous,
    });
    for (id, account, side) in [(900, 2001, Side::Sell), (901, 1001, Side::Buy)] {
        commands.push(Command::Submit(NewOrder {
            order_id: OrderId(id),
            account: AccountId(account),
            instrument: cea,
            side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Day,
            price_ticks: 90_00,
            quantity_t: 10,
            client_order_id: id,
        }));
    }
    commands.push(Command::EndOfDay { trading_date });
    commands.extend_from_slice(after);
    let mut engine = Engine::default();
    let writer = JournalWriter::open(
        dir,
        1,
        JournalConfig {
            durability: Durability::Os,
            segment_bytes: 512,
            ..JournalConfig::default()
        },
    )
    .unwrap();
    let mut events = Vec::new();
    for (seq, command) in (1..).zip(&commands) {
        let stamp = Stamp {
            seq,
            time_ns: 1_795_743_000_000_000_000 + seq as i64,
        };
        events.clear();
        engine.apply(command, stamp, &mut events);
        writer.append_blocking(stamp, command, &events).unwrap();
    }
    writer.close().unwrap();
}

fn replay(dir: &Path) -> (i32, String, String) {
    cetx(&["replay".as_ref(), "--journal".as_ref(), dir.as_os_str()])
}

/// Runs `cetx` with `args`: its exit code, stdout and stderr.
fn cetx(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let output = Process::new(env!("CARGO_BIN_EXE_cetx"))
        .args(args)
        .output()
        .expect("cetx runs");
    (
        output.status.code().expect("exited"),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn replay_exits_0_on_a_good_journal_3_when_corrupt_and_4_on_a_missing_segment() {
    let good = tempfile::tempdir().unwrap();
    journal(good.path());
    let (code, stdout, stderr) = replay(good.path());
    assert_eq!(code, 0, "{stderr}");
    let rows: Vec<&str> = stdout.lines().collect();
    assert_eq!(rows.len(), 2, "a header and one trade: {stdout}");
    assert!(
        rows[1].ends_with(",CEA2025,1001,1,2001,2,10,90.00,900.00,listing,"),
        "{}",
        rows[1]
    );
    assert!(stderr.contains("reconciled"), "{stderr}");

    let corrupt = tempfile::tempdir().unwrap();
    journal(corrupt.path());
    let segments = list_segments(corrupt.path()).unwrap();
    let middle = &segments[segments.len() / 2].1;
    let mut bytes = std::fs::read(middle).unwrap();
    // Inside its first record (the segment was written ahead: zeros may
    // follow its data).
    let at = HEADER_LEN + 30;
    bytes[at] ^= 0x04;
    std::fs::write(middle, bytes).unwrap();
    let (code, _, stderr) = replay(corrupt.path());
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("corrupt") && stderr.contains("offset"),
        "{stderr}"
    );

    // A missing segment, first, middle or last, is named: exit 4.
    for which in [Which::First, Which::Middle, Which::Last] {
        let missing = tempfile::tempdir().unwrap();
        journal(missing.path());
        let segments = list_segments(missing.path()).unwrap();
        let gone = match which {
            Which::First => &segments[0].1,
            Which::Middle => &segments[segments.len() / 2].1,
            Which::Last => &segments[segments.len() - 1].1,
        };
        std::fs::remove_file(gone).unwrap();
        let (code, _, stderr) = replay(missing.path());
        assert_eq!(code, 4, "{which:?}: {stderr}");
        let name = gone.file_name().unwrap().to_str().unwrap();
        assert!(
            stderr.contains("missing") && stderr.contains(name),
            "{which:?}: {stderr}"
        );
    }
}

#[test]
fn replay_reads_a_data_directory_and_refuses_a_path_without_a_journal() {
    // A server's data directory: its journal is in `journal/`.
    let data = tempfile::tempdir().unwrap();
    journal(&data.path().join("journal"));
    let (code, stdout, stderr) = replay(data.path());
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.lines().count(),
        2,
        "a header and one trade: {stdout}"
    );
    assert!(stderr.contains("reconciled"), "{stderr}");

    // An empty directory, or a data directory with an empty `journal/`,
    // holds no journal: exit 1, saying so, and nothing on stdout.
    let empty = tempfile::tempdir().unwrap();
    let bare = tempfile::tempdir().unwrap();
    std::fs::create_dir(bare.path().join("journal")).unwrap();
    for dir in [empty.path(), bare.path()] {
        let (code, stdout, stderr) = replay(dir);
        assert_eq!(code, 1, "{}: {stderr}", dir.display());
        assert!(stderr.contains("holds no journal"), "{stderr}");
        assert!(!stderr.contains("reconciled"), "{stderr}");
        assert_eq!(stdout, "");
    }
    // A path that does not exist: exit 1.
    let (code, _, stderr) = replay(&empty.path().join("nowhere"));
    assert_eq!(code, 1, "{stderr}");
}

#[test]
fn usage_errors_exit_2_as_help_says() {
    let good = tempfile::tempdir().unwrap();
    journal(good.path());
    let dir = good.path().as_os_str();
    for day in ["20261326", "20260230", "2026113", "202611270", "+2026112"] {
        let (code, stdout, stderr) = cetx(&[
            "replay".as_ref(),
            "--journal".as_ref(),
            dir,
            "--day".as_ref(),
            day.as_ref(),
        ]);
        assert_eq!(code, 2, "--day {day}: {stderr}");
        assert!(stderr.contains("not a date"), "{stderr}");
        assert_eq!(stdout, "");
    }
    // A real date is accepted, even one with no trading.
    let (code, _, stderr) = cetx(&[
        "replay".as_ref(),
        "--journal".as_ref(),
        dir,
        "--day".as_ref(),
        "20261127".as_ref(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    // No --journal, an unknown flag: usage, exit 2.
    let (code, _, stderr) = cetx(&["replay".as_ref()]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = cetx(&[
        "replay".as_ref(),
        "--journal".as_ref(),
        dir,
        "--nonsense".as_ref(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    // --help documents the codes as they are.
    let (code, help, _) = cetx(&["replay".as_ref(), "--help".as_ref()]);
    assert_eq!(code, 0);
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for promise in [
        "0 read, reconciled and conserved",
        "1 an I/O error, no journal at the path",
        "2 bad arguments (usage)",
        "3 a corrupt record",
        "4 a sequence gap or a missing segment",
        "5 not reconciled",
    ] {
        assert!(help.contains(promise), "--help lacks {promise:?}: {help}");
    }
}

/// A registry settles a day by date after a vintage was listed later: the
/// accounts have a line for each instrument listed at the day's close
/// (`--day` used to panic, indexing the later one).
#[test]
fn a_day_settles_after_an_instrument_was_listed_later() {
    let data = tempfile::tempdir().unwrap();
    let spec = cetx_engine::InstrumentSpec::cea(2026, rust_decimal::Decimal::new(95_00, 2));
    let listing = Command::ListInstrument(Box::new(spec));
    journal_then(data.path(), Some(20_261_127), &[listing]);
    let out = tempfile::tempdir().unwrap();
    let (code, _, stderr) = cetx(&[
        "replay".as_ref(),
        "--journal".as_ref(),
        data.path().as_os_str(),
        "--day".as_ref(),
        "20261127".as_ref(),
        "--out".as_ref(),
        out.path().as_os_str(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let accounts = std::fs::read_to_string(out.path().join("accounts.csv")).unwrap();
    assert!(accounts.contains(",CEA2025,"), "{accounts}");
    assert!(!accounts.contains("CEA2026"), "{accounts}");
    // The whole journal has it.
    let (code, _, stderr) = cetx(&[
        "replay".as_ref(),
        "--journal".as_ref(),
        data.path().as_os_str(),
        "--out".as_ref(),
        out.path().as_os_str(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let accounts = std::fs::read_to_string(out.path().join("accounts.csv")).unwrap();
    assert!(accounts.contains(",CEA2026,"), "{accounts}");
}

/// Which segment a test removes.
#[derive(Debug, Clone, Copy)]
enum Which {
    First,
    Middle,
    Last,
}

/// The settlement files hold every account's balances: `--out` makes its
/// folder (and any missing parent) `0700`, whatever the umask, as the data
/// directory, and each file `0600`.
#[test]
fn replay_makes_its_out_folder_private() {
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().unwrap();
    journal(data.path());
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("reports").join("20261127");
    let (code, _, stderr) = cetx(&[
        "replay".as_ref(),
        "--journal".as_ref(),
        data.path().as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out), 0o700);
    assert_eq!(mode(out.parent().unwrap()), 0o700);
    assert_eq!(mode(&out.join("clearing.csv")), 0o600);
}

/// A one-shot command whose output pipe has no reader ends as Unix tools
/// do, on SIGPIPE, not with a panic (an outside tester's `cetx replay …
/// 2>&1 >/dev/null | head -1` exited 101 with `failed printing`).
#[test]
fn a_closed_output_pipe_ends_replay_without_a_panic() {
    use std::os::unix::process::ExitStatusExt as _;
    let dir = tempfile::tempdir().unwrap();
    journal(dir.path());
    for stream in ["stdout", "stderr"] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut replay = Process::new(env!("CARGO_BIN_EXE_cetx"));
        replay.args([
            "replay".as_ref(),
            "--journal".as_ref(),
            dir.path().as_os_str(),
        ]);
        let closed = if stream == "stdout" {
            replay.stdout(writer).stderr(std::process::Stdio::piped())
        } else {
            replay.stderr(writer).stdout(std::process::Stdio::null())
        };
        let output = closed.output().expect("cetx runs");
        assert_eq!(
            output.status.signal(),
            Some(libc::SIGPIPE),
            "{stream}: {:?} {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// `--from-snapshot` needs a selection (usage, exit 2), and settles from
/// the snapshot a server left beside the journal, with the segments before
/// it gone: the summary line says where it started.
#[test]
fn from_snapshot_needs_a_selection_and_starts_at_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    journal_then(dir.path(), Some(2026_11_27), &[]);
    let journal = dir.path().as_os_str();
    let (code, _, stderr) = cetx(&[
        "replay".as_ref(),
        "--journal".as_ref(),
        journal,
        "--from-snapshot".as_ref(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--day") && stderr.contains("--from-seq"),
        "{stderr}"
    );

    // The state after the end of day, as a server snapshots it.
    let recovered = cetx_engine::journal::recover(dir.path()).unwrap();
    let end_of_day = recovered.next_seq - 1;
    cetx_engine::journal::write_snapshot(dir.path(), end_of_day, &recovered.engine.state())
        .unwrap();
    let segments = list_segments(dir.path()).unwrap();
    for pair in segments.windows(2) {
        if pair[1].0 <= end_of_day {
            std::fs::remove_file(&pair[0].1).unwrap();
        }
    }
    let (code, stdout, stderr) = cetx(&[
        "replay".as_ref(),
        "--journal".as_ref(),
        journal,
        "--day".as_ref(),
        "20261130".as_ref(),
        "--from-snapshot".as_ref(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "the header, no trade: {stdout}");
    assert!(
        stderr.contains(&format!(
            "replayed 0 entries after the snapshot at seq {end_of_day} through seq {end_of_day}: 0 clearing rows; reconciled"
        )),
        "{stderr}"
    );
    // From seq 1, the journal is missing its first segment.
    let (code, _, stderr) = cetx(&[
        "replay".as_ref(),
        "--journal".as_ref(),
        journal,
        "--day".as_ref(),
        "20261127".as_ref(),
        "--from-snapshot".as_ref(),
    ]);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(
            "reads the journal from seq 1: no snapshot is before the selection and usable"
        ) && stderr
            .contains("it was taken at the end of trading day 20261127, after that day's entries"),
        "{stderr}"
    );
}
