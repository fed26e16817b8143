//! `cetx replay` as a library: a scripted trading day gives exactly the
//! committed golden reports and clearing file; a corrupt and a gapped
//! journal give their exit codes; `--follow` sees trades appended while it
//! runs.
//!
//! To accept a deliberate change of the outputs, run with
//! `CETX_UPDATE_GOLDEN=1` and review the diff of `tests/golden/replay/`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cetx_engine::journal::format::{list_segments, HEADER_LEN};
use cetx_engine::journal::{Durability, JournalConfig, JournalWriter};
use cetx_engine::settlement::{exit, run, Format, ReplayArgs};
use cetx_engine::{
    AccountId, Command, Engine, InstrumentId, NewOrder, OrderId, OrderType, Phase, Side, Stamp,
    TimeInForce,
};
use cetx_gateway::config::ServerConfig;
use cetx_tests::as_if_killed;

/// 2026-11-27 09:30:00 +08:00 in ns.
const OPEN_NS: i64 = 1_795_743_000 * 1_000_000_000;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/replay")
}

/// A trading day on the embedded default config: genesis, open, four
/// crossing orders between the two demo brokers in CEA2025 and CCER, a
/// resting order that expires, and the end of the day.
fn scripted_day() -> Vec<(Command, Stamp)> {
    scripted_day_on(&ServerConfig::embedded_default())
}

/// [`scripted_day`] on `config`'s market.
fn scripted_day_on(config: &ServerConfig) -> Vec<(Command, Stamp)> {
    let cea2025 = config.instrument_id("CEA2025").unwrap();
    let ccer = config.instrument_id("CCER").unwrap();
    let mut commands = config.genesis();
    for instrument in config.instrument_ids() {
        commands.push(Command::SetPhase {
            instrument,
            phase: Phase::Continuous,
        });
    }
    let order = |id: u64, account: u32, instrument: InstrumentId, side, price, qty| {
        Command::Submit(NewOrder {
            order_id: OrderId(id),
            account: AccountId(account),
            instrument,
            side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Day,
            price_ticks: price,
            quantity_t: qty,
            client_order_id: id,
        })
    };
    let first = commands.len() as u64 + 1;
    commands.extend([
        order(first, 2001, cea2025, Side::Sell, 90_50, 1_000),
        order(first + 1, 1001, cea2025, Side::Buy, 90_60, 600),
        order(first + 2, 1001, cea2025, Side::Buy, 90_50, 500),
        order(first + 3, 2002, ccer, Side::Sell, 85_10, 300),
        order(first + 4, 1002, ccer, Side::Buy, 85_20, 300),
        order(first + 5, 1001, cea2025, Side::Buy, 89_00, 50),
        Command::EndOfDay { trading_date: None },
    ]);
    commands
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let seq = i as u64 + 1;
            (
                c,
                Stamp {
                    seq,
                    time_ns: OPEN_NS + seq as i64 * 1_000_000,
                },
            )
        })
        .collect()
}

fn write_journal(dir: &Path, commands: &[(Command, Stamp)]) {
    write_journal_in_runs(dir, commands, &[]);
}

/// [`write_journal`] by a writer closed after each entry of `stops` and
/// opened again, as a server stopped and started: each run begins a
/// segment.
fn write_journal_in_runs(dir: &Path, commands: &[(Command, Stamp)], stops: &[u64]) {
    write_journal_of(dir, commands, stops, 512);
}

/// [`write_journal_in_runs`] in segments of `segment_bytes`.
fn write_journal_of(dir: &Path, commands: &[(Command, Stamp)], stops: &[u64], segment_bytes: u64) {
    let mut engine = Engine::default();
    let journal = JournalConfig {
        durability: Durability::Os,
        segment_bytes,
        ..JournalConfig::default()
    };
    let mut writer = JournalWriter::open(dir, commands[0].1.seq, journal).unwrap();
    let mut events = Vec::new();
    for (command, stamp) in commands {
        events.clear();
        engine.apply(command, *stamp, &mut events);
        writer.append_blocking(*stamp, command, &events).unwrap();
        if stops.contains(&stamp.seq) {
            writer.close().unwrap();
            writer = JournalWriter::open(dir, stamp.seq + 1, journal).unwrap();
        }
    }
    writer.close().unwrap();
}

#[test]
fn a_day_s_turnover_past_an_i64_is_written_whole() {
    // An instrument priced so that one tonne costs 9 * 10^18 fen, traded
    // twice in a day: 1.8 * 10^19 fen of turnover, past i64::MAX.
    let mut config = ServerConfig::embedded_default();
    let mut huge = config.instruments[0].clone();
    // A vintage of its own, named in its symbol, as every CEA's.
    huge.symbol = "HUGE2030".into();
    huge.kind = cetx_engine::InstrumentKind::Cea { vintage: 2030 };
    huge.tick = "1000000000000.00".parse().unwrap();
    huge.reference_price = "90000000000000000.00".parse().unwrap();
    huge.band_bps = 1;
    huge.max_order_t = 1_000;
    config.instruments.push(huge);
    let id = config.instrument_id("HUGE2030").unwrap();
    let price = 9_000_000_000_000_000_000;
    let mut commands = config.genesis();
    commands.push(Command::Deposit {
        account: AccountId(1001),
        amount_fen: price,
    });
    for account in [1001, 2001] {
        commands.push(Command::CreditHoldings {
            account: AccountId(account),
            instrument: id,
            quantity_t: 1,
        });
    }
    commands.push(Command::SetPhase {
        instrument: id,
        phase: Phase::Continuous,
    });
    let first = commands.len() as u64 + 1;
    for (n, (seller, buyer)) in [(2001, 1001), (1001, 2001)].into_iter().enumerate() {
        for (k, (account, side)) in [(seller, Side::Sell), (buyer, Side::Buy)]
            .into_iter()
            .enumerate()
        {
            let order_id = first + 2 * n as u64 + k as u64;
            commands.push(Command::Submit(NewOrder {
                order_id: OrderId(order_id),
                account: AccountId(account),
                instrument: id,
                side,
                order_type: OrderType::Limit,
                time_in_force: TimeInForce::Day,
                price_ticks: price,
                quantity_t: 1,
                client_order_id: order_id,
            }));
        }
    }
    commands.push(Command::EndOfDay { trading_date: None });
    let commands: Vec<_> = commands
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let seq = i as u64 + 1;
            let time_ns = OPEN_NS + seq as i64 * 1_000_000;
            (c, Stamp { seq, time_ns })
        })
        .collect();
    let journal = tempfile::tempdir().unwrap();
    write_journal(journal.path(), &commands);
    let out = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    let summary = run(
        &args(journal.path(), Some(out.path()), Format::Csv),
        &mut Vec::new(),
        &mut Vec::new(),
        &mut |_| {},
        &stop,
    )
    .unwrap();
    assert_eq!(summary.rows, 2, "two trades");
    let days = std::fs::read_to_string(out.path().join("days.csv")).unwrap();
    let line = days.lines().find(|l| l.contains("HUGE")).unwrap();
    assert!(line.contains(",2,180000000000000000.00,2,final"), "{line}");
}

fn args(journal: &Path, out: Option<&Path>, format: Format) -> ReplayArgs {
    ReplayArgs {
        journal: journal.to_path_buf(),
        expected: None,
        day: None,
        from_seq: 0,
        out: out.map(Path::to_path_buf),
        format,
        follow: false,
        from_snapshot: false,
        now_ns: None,
    }
}

#[test]
fn a_scripted_day_gives_the_golden_reports() {
    let commands = scripted_day();
    let journal = tempfile::tempdir().unwrap();
    write_journal(journal.path(), &commands);
    for format in [Format::Csv, Format::Json] {
        let tmp = tempfile::tempdir().unwrap();
        // `--out` creates the directory it is given.
        let out = tmp.path().join("reports").join("today");
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let stop = AtomicBool::new(false);
        let summary = run(
            &args(journal.path(), Some(&out), format),
            &mut stdout,
            &mut stderr,
            &mut |_| {},
            &stop,
        )
        .unwrap();
        assert_eq!(summary.entries, commands.len() as u64);
        assert_eq!(summary.rows, 3, "three trades");
        let ext = if format == Format::Csv { "csv" } else { "json" };
        for name in [
            "clearing",
            "days",
            "accounts",
            "transfers",
            "large_holders",
            "auctions",
        ] {
            let file = format!("{name}.{ext}");
            let got = std::fs::read_to_string(out.join(&file)).unwrap();
            let golden = golden_dir().join(&file);
            if std::env::var_os("CETX_UPDATE_GOLDEN").is_some() {
                std::fs::create_dir_all(golden_dir()).unwrap();
                std::fs::write(&golden, &got).unwrap();
            }
            let want = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
                panic!("{}: {e} (run with CETX_UPDATE_GOLDEN=1)", golden.display())
            });
            assert_eq!(got, want, "{file} differs from the golden file");
        }
    }
    // Without --out the clearing file goes to stdout and the reports to stderr.
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let stop = AtomicBool::new(false);
    run(
        &args(journal.path(), None, Format::Csv),
        &mut stdout,
        &mut stderr,
        &mut |_| {},
        &stop,
    )
    .unwrap();
    let golden = std::fs::read_to_string(golden_dir().join("clearing.csv")).unwrap();
    assert_eq!(String::from_utf8(stdout).unwrap(), golden);
    assert!(String::from_utf8(stderr)
        .unwrap()
        .starts_with("trading_day,instrument,mode,open_cny"));
    // --day and --from-seq select rows.
    let mut only = args(journal.path(), None, Format::Csv);
    only.from_seq = commands.len() as u64 - 3;
    let mut stdout = Vec::new();
    run(&only, &mut stdout, &mut Vec::new(), &mut |_| {}, &stop).unwrap();
    assert_eq!(
        String::from_utf8(stdout).unwrap().lines().count(),
        2,
        "header and the CCER trade"
    );
    // --day takes the date the reports print: the journal's first day is
    // Friday 27 November 2026 (its entries are stamped 09:30 that day).
    for (day, lines) in [(20_261_127, 4), (20_261_130, 1), (0, 1)] {
        let mut only = args(journal.path(), None, Format::Csv);
        only.day = Some(day);
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        run(&only, &mut stdout, &mut stderr, &mut |_| {}, &stop).unwrap();
        let clearing = String::from_utf8(stdout).unwrap();
        assert_eq!(clearing.lines().count(), lines, "--day {day}: {clearing}");
        let reports = String::from_utf8(stderr).unwrap();
        let day_rows = reports
            .lines()
            .filter(|l| l.starts_with(&format!("{day},")))
            .count();
        assert_eq!(day_rows, if lines > 1 { 3 } else { 0 }, "{reports}");
    }
}

#[test]
fn a_holding_that_reaches_the_large_holder_threshold_is_reported_once() {
    // CEA2025's threshold at 500,500 t (half of a 1,001,000 t limit):
    // account 1001 holds 500,000 t and buys 600 t, then 400 t. Only the
    // first trade takes it across.
    let mut config = ServerConfig::embedded_default();
    let cea2025 = config
        .instruments
        .iter_mut()
        .find(|i| i.symbol == "CEA2025")
        .unwrap();
    cea2025.position_limit_t = Some(1_001_000);
    cea2025.large_holder_bps = Some(5_000);
    let commands = scripted_day_on(&config);
    let journal = tempfile::tempdir().unwrap();
    write_journal(journal.path(), &commands);
    let first_buy = commands
        .iter()
        .find(|(c, _)| matches!(c, Command::Submit(o) if o.account == AccountId(1001)))
        .unwrap()
        .1;
    for format in [Format::Csv, Format::Json] {
        let out = tempfile::tempdir().unwrap();
        let stop = AtomicBool::new(false);
        let args = args(journal.path(), Some(out.path()), format);
        run(&args, &mut Vec::new(), &mut Vec::new(), &mut |_| {}, &stop).unwrap();
        let ext = if format == Format::Csv { "csv" } else { "json" };
        let got = std::fs::read_to_string(out.path().join(format!("large_holders.{ext}"))).unwrap();
        if format == Format::Csv {
            let want = format!(
                "seq,time_ns,trading_day,account,broker,instrument,balance_t,threshold_t\n\
                 {},{},20261127,1001,1,CEA2025,500600,500500\n",
                first_buy.seq, first_buy.time_ns
            );
            assert_eq!(got, want);
        } else {
            let lines: Vec<serde_json::Value> = serde_json::from_str(&got).unwrap();
            let want = serde_json::json!([{
                "seq": first_buy.seq, "time_ns": first_buy.time_ns, "trading_day": 20261127,
                "account": 1001, "broker": 1, "instrument": "CEA2025",
                "balance_t": 500600, "threshold_t": 500500,
            }]);
            assert_eq!(serde_json::Value::Array(lines), want);
        }
    }
}

fn damaged(flip: bool) -> tempfile::TempDir {
    let commands = scripted_day();
    let journal = tempfile::tempdir().unwrap();
    write_journal(journal.path(), &commands);
    let segments = list_segments(journal.path()).unwrap();
    assert!(segments.len() >= 3, "small segments: {segments:?}");
    if flip {
        let middle = &segments[1].1;
        let mut bytes = std::fs::read(middle).unwrap();
        // Inside the segment's data, not the zeros written ahead after it.
        let data = bytes.len() - bytes.iter().rev().take_while(|&&b| b == 0).count();
        let at = data / 2;
        bytes[at] ^= 0x10;
        std::fs::write(middle, bytes).unwrap();
    } else {
        std::fs::remove_file(&segments[1].1).unwrap();
    }
    journal
}

#[test]
fn corruption_and_missing_segments_have_their_own_exit_codes() {
    for (flip, code, word) in [
        (true, exit::CORRUPT, "offset"),
        (false, exit::GAP, "is missing"),
    ] {
        let journal = damaged(flip);
        let failure = replay_failure(&args(journal.path(), None, Format::Csv));
        assert_eq!(failure.exit_code(), code, "{failure}");
        let message = failure.to_string();
        assert!(message.contains(word), "{message}");
        assert!(message.contains("journal-"), "names the file: {message}");
    }
}

/// An end of day that names another date than its day began with (an
/// outside registry's hand-edited copy; only an older build's server
/// wrote one, at the edge dates.rs names) is refused, exit 3, where the
/// day's trades were dated the one and its figures the other; named as
/// the server names it, it settles.
#[test]
fn an_end_of_day_naming_another_date_than_its_day_is_refused() {
    for (monday_named, refused) in [(20261130, false), (20261202, true)] {
        let mut commands = scripted_day();
        let (friday_close, friday_end) = commands.last_mut().unwrap();
        *friday_close = Command::EndOfDay {
            trading_date: Some(20261127),
        };
        let friday_end = *friday_end;
        commands.push((
            Command::EndOfDay {
                trading_date: Some(monday_named),
            },
            Stamp {
                seq: friday_end.seq + 1,
                time_ns: friday_end.time_ns + 3 * 86_400 * 1_000_000_000,
            },
        ));
        let dir = tempfile::tempdir().unwrap();
        write_journal(dir.path(), &commands);
        let result = run(
            &args(dir.path(), None, Format::Csv),
            &mut Vec::new(),
            &mut Vec::new(),
            &mut |_| {},
            &AtomicBool::new(false),
        );
        if refused {
            let failure = result.unwrap_err();
            assert_eq!(failure.exit_code(), exit::CORRUPT, "{failure}");
            let message = failure.to_string();
            assert!(
                message.contains(&format!("seq {} names 20261202", friday_end.seq + 1))
                    && message.contains("began dated 20261130"),
                "{message}"
            );
        } else {
            let summary = result.unwrap();
            assert_eq!(summary.last_end_of_day, Some(friday_end.seq + 1));
        }
    }
}

/// The scripted day with its last record, the end of day, cut in half.
fn cut_end_of_day() -> tempfile::TempDir {
    let commands = scripted_day();
    assert!(matches!(
        commands.last(),
        Some((Command::EndOfDay { .. }, _))
    ));
    journal_with_the_last_record_cut(&commands)
}

/// A journal of `commands` whose last record is cut in half, as a kill in
/// the middle of its write leaves it.
fn journal_with_the_last_record_cut(commands: &[(Command, Stamp)]) -> tempfile::TempDir {
    let journal = tempfile::tempdir().unwrap();
    write_journal(journal.path(), commands);
    let segments = list_segments(journal.path()).unwrap();
    let last = &segments.last().unwrap().1;
    let bytes = std::fs::read(last).unwrap();
    // The data ends before the zeros written ahead.
    let data = bytes.len() - bytes.iter().rev().take_while(|&&b| b == 0).count();
    std::fs::write(last, &bytes[..data - 20]).unwrap();
    // A cut write is a kill's: a clean stop leaves no cut record.
    as_if_killed(journal.path());
    journal
}

#[test]
fn a_cut_end_of_day_is_told_and_fails_once_the_day_has_ended() {
    let journal = cut_end_of_day();
    let settle = |now_ns| {
        let mut a = args(journal.path(), None, Format::Csv);
        a.now_ns = now_ns;
        let mut stderr = Vec::new();
        let stop = AtomicBool::new(false);
        let result = run(&a, &mut Vec::new(), &mut stderr, &mut |_| {}, &stop);
        (result, String::from_utf8(stderr).unwrap())
    };
    let last_whole = scripted_day().len() as u64 - 1;
    // During the day (Friday 14:00 in Beijing), or with no clock: a write
    // in progress, perhaps. Settled up to the cut, with what is known.
    for now_ns in [None, Some(OPEN_NS + 16_200 * 1_000_000_000)] {
        let (result, stderr) = settle(now_ns);
        let summary = result.unwrap();
        assert_eq!(summary.last_seq, last_whole);
        assert_eq!(summary.last_end_of_day, None);
        assert!(
            stderr.contains(&format!(
                "last whole record is seq {last_whole}; trading day 20261127, open after it, has no end of day in the journal yet"
            )),
            "{stderr}"
        );
    }
    // On Monday, Friday has ended without its end of day: exit 6, naming
    // the day, the last whole record and the damaged one.
    let monday = OPEN_NS + 3 * 86_400 * 1_000_000_000;
    let (result, _) = settle(Some(monday));
    let failure = result.unwrap_err();
    assert_eq!(failure.exit_code(), exit::CLOSED_DAY_CUT, "{failure}");
    let message = failure.to_string();
    assert!(
        message.contains("trading day 20261127 has ended")
            && message.contains(&format!("last whole record is seq {last_whole}"))
            && message.contains("journal-"),
        "{message}"
    );
}

/// A closed day cut short stops only what selects it: the scripted day
/// (Friday) whole, then Monday's end of day cut in half. `--day` Friday
/// settles Friday whole, with a note on Monday; the whole journal, or
/// Monday, exits 6; a follower waits for the server's recovery instead of
/// exiting (an outside tester's registry could neither re-settle a final
/// day nor restart its follower while the exchange's server was down).
#[test]
fn a_cut_closed_day_stops_only_a_selection_that_holds_it() {
    // Dated ends of day, as a server writes them.
    let mut commands = scripted_day();
    let (friday_close, friday_end) = commands.last_mut().unwrap();
    *friday_close = Command::EndOfDay {
        trading_date: Some(20261127),
    };
    let friday_end = *friday_end;
    let monday_ns = friday_end.time_ns + 3 * 86_400 * 1_000_000_000;
    commands.push((
        Command::EndOfDay {
            trading_date: Some(20261130),
        },
        Stamp {
            seq: friday_end.seq + 1,
            time_ns: monday_ns,
        },
    ));
    let journal = journal_with_the_last_record_cut(&commands);

    let tuesday = monday_ns + 86_400 * 1_000_000_000;
    let settle = |day: Option<u32>, follow: bool| {
        let mut a = args(journal.path(), None, Format::Csv);
        a.now_ns = Some(tuesday);
        a.day = day;
        a.follow = follow;
        let mut stderr = Vec::new();
        // Set already: a follower stops at once, after what it read.
        let stop = AtomicBool::new(true);
        let result = run(&a, &mut Vec::new(), &mut stderr, &mut |_| {}, &stop);
        (result, String::from_utf8(stderr).unwrap())
    };
    let (friday, said) = settle(Some(20261127), false);
    let friday = friday.unwrap();
    assert_eq!(friday.rows, 3, "{said}");
    assert_eq!(friday.last_end_of_day, Some(friday_end.seq));
    assert!(
        said.contains("trading day 20261130 has ended by the calendar")
            && said.contains("the day selected is before it and whole"),
        "{said}"
    );
    for day in [None, Some(20261130)] {
        let failure = settle(day, false).0.unwrap_err();
        assert_eq!(
            failure.exit_code(),
            exit::CLOSED_DAY_CUT,
            "{day:?}: {failure}"
        );
    }
    let (followed, said) = settle(None, true);
    assert_eq!(followed.unwrap().last_seq, friday_end.seq, "{said}");
    assert!(said.contains("waiting for the server to recover"), "{said}");
}

#[test]
fn follow_sees_trades_appended_while_it_runs() {
    // Everything up to the first trade first; the three trades while
    // following.
    let (summary, stdout) = follow(Format::Csv, 6);
    assert_eq!(summary.rows, 3, "{stdout}");
    let mut lines = stdout.lines();
    assert!(
        lines.next().unwrap().starts_with("seq,time_ns,"),
        "{stdout}"
    );
    assert_eq!(lines.count(), 3, "{stdout}");
}

#[test]
fn follow_in_json_prints_json_lines_from_the_first_row() {
    // Two trades before following, the third while following: standard
    // output is one object per line throughout, never an array.
    let (summary, stdout) = follow(Format::Json, 4);
    assert_eq!(summary.rows, 3, "{stdout}");
    let trade_ids: Vec<u64> = stdout
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON value: {line}: {e}"));
            row["trade_id"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(trade_ids, [1, 2, 3], "{stdout}");
    let golden = std::fs::read_to_string(golden_dir().join("clearing.json")).unwrap();
    let golden_rows: Vec<&str> = golden
        .lines()
        .filter_map(|l| l.trim().strip_prefix('{'))
        .map(|l| l.trim_end_matches(','))
        .collect();
    let got_rows: Vec<&str> = stdout.lines().filter_map(|l| l.strip_prefix('{')).collect();
    assert_eq!(
        got_rows, golden_rows,
        "the same objects as the clearing file"
    );
}

/// Runs `cetx replay --follow` on a journal that has all but the last
/// `followed` commands of the scripted day, appends those while it runs,
/// and stops it once it is done. Returns its summary and standard output.
fn follow(format: Format, followed: usize) -> (cetx_engine::settlement::ReplaySummary, String) {
    let commands = scripted_day();
    follow_journal(&commands, followed, format, None)
}

/// Runs `cetx replay --follow` (with `--out out`, if given) on a journal
/// that has all but the last `followed` of `commands`, appends those while
/// it runs, and stops it once it is done. Returns its summary and
/// standard output.
fn follow_journal(
    commands: &[(Command, Stamp)],
    followed: usize,
    format: Format,
    out: Option<&Path>,
) -> (cetx_engine::settlement::ReplaySummary, String) {
    let journal = tempfile::tempdir().unwrap();
    let split = commands.len() - followed;
    write_journal(journal.path(), &commands[..split]);
    let stop = Arc::new(AtomicBool::new(false));
    let follower = {
        let (path, stop) = (journal.path().to_path_buf(), Arc::clone(&stop));
        let out = out.map(Path::to_path_buf);
        std::thread::spawn(move || {
            let mut a = args(&path, out.as_deref(), format);
            a.follow = true;
            let mut stdout = Vec::new();
            let summary = run(&a, &mut stdout, &mut Vec::new(), &mut |_| {}, &stop).unwrap();
            (summary, String::from_utf8(stdout).unwrap())
        })
    };
    // Append the rest to the live journal.
    let mut engine = Engine::default();
    let mut events = Vec::new();
    for (command, stamp) in &commands[..split] {
        engine.apply(command, *stamp, &mut events);
    }
    let writer = JournalWriter::open(
        journal.path(),
        commands[split].1.seq,
        JournalConfig {
            durability: Durability::Os,
            ..JournalConfig::default()
        },
    )
    .unwrap();
    for (command, stamp) in &commands[split..] {
        events.clear();
        engine.apply(command, *stamp, &mut events);
        writer.append_blocking(*stamp, command, &events).unwrap();
    }
    assert!(writer
        .wait_durable(commands.last().unwrap().1.seq, Duration::from_secs(10))
        .unwrap());
    writer.close().unwrap();
    // Stop the follower once it has read the journal's end, bounded in
    // time.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !follower.is_finished() && std::time::Instant::now() < deadline {
        stop.store(true, Ordering::SeqCst);
        std::thread::yield_now();
    }
    follower.join().unwrap()
}

/// A CCER on a tick of 0.05 CNY trades 100 t at 84.90 and 200 t at 84.95,
/// and the day has not ended: its close so far is the VWAP (84.9333…)
/// rounded to the tick, 84.95, never 84.93, a price no CCER order could
/// have; and the line says it is provisional.
#[test]
fn an_open_days_close_is_on_the_instruments_tick_and_provisional() {
    let mut config = ServerConfig::embedded_default();
    let ccer = config.instrument_id("CCER").unwrap();
    config.instruments[usize::from(ccer.0)].tick = "0.05".parse().unwrap();
    let mut commands = config.genesis();
    commands.push(Command::SetPhase {
        instrument: ccer,
        phase: Phase::Continuous,
    });
    let order = |id: u64, account: u32, side, price, qty| {
        Command::Submit(NewOrder {
            order_id: OrderId(id),
            account: AccountId(account),
            instrument: ccer,
            side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Day,
            price_ticks: price,
            quantity_t: qty,
            client_order_id: id,
        })
    };
    commands.extend([
        order(900, 2002, Side::Sell, 84_90, 100),
        order(901, 1002, Side::Buy, 84_90, 100),
        order(902, 2002, Side::Sell, 84_95, 200),
        order(903, 1002, Side::Buy, 84_95, 200),
    ]);
    let stamped: Vec<(Command, Stamp)> = (1..)
        .zip(commands)
        .map(|(seq, c)| {
            let time_ns = OPEN_NS + seq as i64 * 1_000_000;
            (c, Stamp { seq, time_ns })
        })
        .collect();
    let journal = tempfile::tempdir().unwrap();
    write_journal(journal.path(), &stamped);
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let stop = AtomicBool::new(false);
    let summary = run(
        &args(journal.path(), None, Format::Csv),
        &mut stdout,
        &mut stderr,
        &mut |_| {},
        &stop,
    )
    .unwrap();
    assert_eq!(summary.rows, 2);
    let reports = String::from_utf8(stderr).unwrap();
    let day = reports
        .lines()
        .find(|l| l.starts_with("20261127,CCER,"))
        .unwrap_or_else(|| panic!("a CCER day: {reports}"));
    assert_eq!(
        day, "20261127,CCER,listing,84.90,84.95,84.90,84.95,300,25480.00,2,provisional",
        "{reports}"
    );
}

/// Two trading days: the scripted Friday, its end of day after the close,
/// and on Monday 2001 sells 1001 100 t of CEA2025 at 91.00 (the day not
/// yet ended).
fn two_days() -> Vec<(Command, Stamp)> {
    const DAY_NS: i64 = 86_400 * 1_000_000_000;
    let mut commands = scripted_day();
    let (end_of_day, _) = commands.pop().unwrap();
    let mut seq = commands.len() as u64;
    let mut stamp = |time_ns| {
        seq += 1;
        Stamp { seq, time_ns }
    };
    // Friday 15:05.
    commands.push((
        end_of_day,
        stamp(OPEN_NS + 5 * 3_600 * 1_000_000_000 + 35 * 60 * 1_000_000_000),
    ));
    let server = ServerConfig::embedded_default();
    let cea2025 = server.instrument_id("CEA2025").unwrap();
    let monday = OPEN_NS + 3 * DAY_NS;
    let order = |id: u64, account: u32, side| {
        Command::Submit(NewOrder {
            order_id: OrderId(id),
            account: AccountId(account),
            instrument: cea2025,
            side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Day,
            price_ticks: 91_00,
            quantity_t: 100,
            client_order_id: id,
        })
    };
    let set_phase = Command::SetPhase {
        instrument: cea2025,
        phase: Phase::Continuous,
    };
    for (i, command) in [
        set_phase,
        order(900, 2001, Side::Sell),
        order(901, 1001, Side::Buy),
    ]
    .into_iter()
    .enumerate()
    {
        commands.push((command, stamp(monday + i as i64 * 1_000_000)));
    }
    commands
}

/// A CSV report as rows of named fields.
type Table = Vec<std::collections::BTreeMap<String, String>>;

/// Reads a CSV report into a [`Table`].
fn table(csv: &str) -> Table {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    lines
        .map(|line| {
            header
                .iter()
                .zip(line.split(','))
                .map(|(k, v)| ((*k).to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// CNY with two decimals, in fen.
fn fen(cny: &str) -> i64 {
    let (sign, digits) = cny.strip_prefix('-').map_or((1, cny), |d| (-1, d));
    sign * digits.replace('.', "").parse::<i64>().unwrap()
}

/// Runs the replay with `--out` and `select` applied; returns the three
/// CSV files as tables.
fn replay_selected(journal: &Path, select: impl FnOnce(&mut ReplayArgs)) -> [Table; 3] {
    let out = tempfile::tempdir().unwrap();
    let mut a = args(journal, Some(out.path()), Format::Csv);
    select(&mut a);
    let stop = AtomicBool::new(false);
    run(&a, &mut Vec::new(), &mut Vec::new(), &mut |_| {}, &stop).unwrap();
    ["clearing", "days", "accounts"].map(|name| {
        table(&std::fs::read_to_string(out.path().join(format!("{name}.csv"))).unwrap())
    })
}

/// Every account line agrees with the clearing rows selected: bought, sold
/// and net cash per instrument are those rows' sums; with no transfers in
/// the window, open + bought − sold = close, and the cash moves by the net.
fn assert_accounts_agree_with_clearing(clearing: &Table, accounts: &Table, transfers: bool) {
    assert!(!accounts.is_empty());
    let mut net_cash = std::collections::BTreeMap::<String, i64>::new();
    for line in accounts {
        let (account, instrument) = (&line["account"], &line["instrument"]);
        let rows = clearing.iter().filter(|r| &r["instrument"] == instrument);
        let (mut bought, mut sold, mut net) = (0, 0, 0);
        for row in rows {
            let (quantity, amount) = (
                row["quantity_t"].parse::<u64>().unwrap(),
                fen(&row["amount_cny"]),
            );
            if &row["buyer_account"] == account {
                bought += quantity;
                net -= amount;
            }
            if &row["seller_account"] == account {
                sold += quantity;
                net += amount;
            }
        }
        let got = |k: &str| line[k].parse::<u64>().unwrap();
        assert_eq!((got("bought_t"), got("sold_t")), (bought, sold), "{line:?}");
        assert_eq!(fen(&line["net_trade_cny"]), net, "{line:?}");
        *net_cash.entry(account.clone()).or_default() += net;
        if !transfers {
            assert_eq!(
                got("open_holding_t") + bought - sold,
                got("close_holding_t"),
                "{line:?}"
            );
        }
    }
    if !transfers {
        for line in accounts {
            let moved = net_cash[&line["account"]];
            assert_eq!(
                fen(&line["open_cash_cny"]) + moved,
                fen(&line["close_cash_cny"]),
                "{line:?}"
            );
        }
    }
}

#[test]
fn day_filters_every_report_to_that_day() {
    let commands = two_days();
    let journal = tempfile::tempdir().unwrap();
    write_journal(journal.path(), &commands);

    // Monday: one trade, the day's line only (provisional), and the
    // accounts from Friday's close to now.
    let [clearing, days, accounts] = replay_selected(journal.path(), |a| a.day = Some(2026_11_30));
    assert_eq!(clearing.len(), 1, "{clearing:?}");
    assert_eq!(clearing[0]["trading_day"], "20261130");
    assert_eq!(clearing[0]["price_cny"], "91.00");
    assert!(!days.is_empty());
    for day in &days {
        assert_eq!(day["trading_day"], "20261130", "{days:?}");
        assert_eq!(day["status"], "provisional", "{days:?}");
    }
    let buyer = accounts
        .iter()
        .find(|l| l["account"] == "1001" && l["instrument"] == "CEA2025")
        .unwrap();
    let expect = [
        ("bought_t", "100"),
        ("sold_t", "0"),
        ("net_trade_cny", "-9100.00"),
        ("open_holding_t", "501000"),
        ("close_holding_t", "501100"),
        ("open_cash_cny", "99909500.00"),
        ("close_cash_cny", "99900400.00"),
    ];
    for (column, value) in expect {
        assert_eq!(buyer[column], value, "{column}: {buyer:?}");
    }
    assert_accounts_agree_with_clearing(&clearing, &accounts, false);

    // Friday: its three trades, its lines only (final), accounts from
    // nothing (the genesis deposits and credits are that day's) to its
    // close, before Monday's trade.
    let [clearing, days, accounts] = replay_selected(journal.path(), |a| a.day = Some(2026_11_27));
    assert_eq!(clearing.len(), 3, "{clearing:?}");
    assert_eq!(days.len(), 3, "{days:?}");
    assert!(days
        .iter()
        .all(|d| d["trading_day"] == "20261127" && d["status"] == "final"));
    assert_accounts_agree_with_clearing(&clearing, &accounts, true);
    let golden = table(&std::fs::read_to_string(golden_dir().join("accounts.csv")).unwrap());
    assert_eq!(
        accounts, golden,
        "Friday's accounts are the one-day golden file's"
    );

    // A day with no entries: empty reports, headers only.
    let [clearing, days, accounts] = replay_selected(journal.path(), |a| a.day = Some(2026_12_01));
    assert!(clearing.is_empty() && days.is_empty() && accounts.is_empty());
}

#[test]
fn from_seq_filters_every_report_from_that_entry() {
    let commands = two_days();
    let journal = tempfile::tempdir().unwrap();
    write_journal(journal.path(), &commands);
    let last = commands.len() as u64;

    // From Monday's buy order (the trade): that trade, Monday's lines, and
    // the accounts from just before it.
    let [clearing, days, accounts] = replay_selected(journal.path(), |a| a.from_seq = last);
    assert_eq!(clearing.len(), 1, "{clearing:?}");
    assert!(
        days.iter().all(|d| d["trading_day"] == "20261130"),
        "{days:?}"
    );
    assert!(!days.is_empty());
    assert_accounts_agree_with_clearing(&clearing, &accounts, false);
    let seller = accounts
        .iter()
        .find(|l| l["account"] == "2001" && l["instrument"] == "CEA2025")
        .unwrap();
    assert_eq!(
        (
            seller["open_holding_t"].as_str(),
            seller["close_holding_t"].as_str()
        ),
        ("499000", "498900")
    );

    // From Friday's CCER trade: it and Monday's, both days.
    let [clearing, days, accounts] = replay_selected(journal.path(), |a| a.from_seq = 32);
    assert_eq!(clearing.len(), 2, "{clearing:?}");
    assert_eq!(
        days.len(),
        4,
        "Friday's three and Monday's CEA2025: {days:?}"
    );
    assert_accounts_agree_with_clearing(&clearing, &accounts, false);

    // Past the end: nothing.
    let [clearing, days, accounts] = replay_selected(journal.path(), |a| a.from_seq = last + 1);
    assert!(clearing.is_empty() && days.is_empty() && accounts.is_empty());
}

/// `--follow --out` on Friday before its end of day: the days and accounts
/// files first say Friday is provisional; the end of day and Monday's trade
/// are followed; at the end of day the ledger is reconciled again and the
/// files rewritten (Friday final); Monday's trade after it is settled and
/// printed, not yet reconciled, and the summary says so.
#[test]
fn follow_reconciles_and_rewrites_the_reports_at_each_end_of_day() {
    let commands = two_days();
    let out = tempfile::tempdir().unwrap();
    // Friday's end of day and Monday's three commands are followed.
    let (summary, stdout) = follow_journal(&commands, 4, Format::Csv, Some(out.path()));
    let end_of_day = commands.len() as u64 - 3;
    assert_eq!(summary.entries, commands.len() as u64);
    assert_eq!(summary.followed, 4);
    assert_eq!(summary.last_seq, commands.len() as u64);
    assert_eq!(summary.reconciled_seq, end_of_day);
    assert_eq!(summary.rows, 4);
    assert_eq!(stdout.lines().count(), 1, "Monday's trade: {stdout}");
    let days = table(&std::fs::read_to_string(out.path().join("days.csv")).unwrap());
    assert_eq!(days.len(), 3, "{days:?}");
    assert!(
        days.iter().all(|d| d["status"] == "final"),
        "rewritten at the end of day: {days:?}"
    );
    let accounts = table(&std::fs::read_to_string(out.path().join("accounts.csv")).unwrap());
    let golden = table(&std::fs::read_to_string(golden_dir().join("accounts.csv")).unwrap());
    assert_eq!(accounts, golden, "as of Friday's end of day");
    // Only the reports: no temporary file is left behind.
    let mut names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "accounts.csv",
            "auctions.csv",
            "clearing.csv",
            "days.csv",
            "large_holders.csv",
            "transfers.csv"
        ]
    );
}

/// SETTLEMENT.md, `auctions`: each auction's close is a line, the one
/// that sold everything with its clearing price and turnover (the sum of
/// its `clearing` rows), the one that sold nothing too, with no price
/// (tester 75: it made no row anywhere).
#[test]
fn every_auction_s_close_is_a_line_of_auctions_also_one_that_sold_nothing() {
    let config = ServerConfig::embedded_default();
    let cea2025 = config.instrument_id("CEA2025").unwrap();
    let mut commands = config.genesis();
    commands.push(Command::SetPhase {
        instrument: cea2025,
        phase: Phase::Continuous,
    });
    let start_ns = OPEN_NS + 1_000_000_000;
    let announce = |auction_id, pricing| {
        Command::AnnounceAuction(Box::new(cetx_engine::AuctionNotice {
            auction_id,
            instrument: cea2025,
            seller: AccountId(1001),
            quantity_t: 100_000,
            floor_ticks: 85_00,
            ceiling_ticks: 95_00,
            start_ns,
            end_ns: start_ns + 1_000_000_000,
            pricing,
        }))
    };
    let bid = |bid_id, price_ticks, quantity_t| {
        Command::Bid(cetx_engine::NewBid {
            bid_id: OrderId(bid_id),
            auction_id: 1,
            account: AccountId(2001),
            price_ticks,
            quantity_t,
            client_order_id: bid_id,
        })
    };
    let mut stamped: Vec<(Command, Stamp)> = Vec::new();
    let mut stamp = |command, time_ns| {
        let seq = stamped.len() as u64 + 1;
        stamped.push((command, Stamp { seq, time_ns }));
    };
    for command in commands {
        stamp(command, OPEN_NS);
    }
    stamp(announce(1, cetx_engine::Pricing::Uniform), OPEN_NS);
    stamp(announce(2, cetx_engine::Pricing::PayAsBid), OPEN_NS);
    stamp(announce(3, cetx_engine::Pricing::Uniform), OPEN_NS);
    // An operator withdraws the third in its window.
    stamp(Command::WithdrawAuction { auction_id: 3 }, start_ns);
    stamp(bid(1, 91_00, 60_000), start_ns);
    stamp(bid(2, 90_00, 40_000), start_ns);
    let closed_ns = start_ns + 1_000_000_000;
    stamp(Command::CloseAuction { auction_id: 1 }, closed_ns);
    stamp(Command::CloseAuction { auction_id: 2 }, closed_ns);
    let (close_1, close_2) = (stamped.len() - 1, stamped.len());
    let withdrawn = 1 + stamped
        .iter()
        .position(|(command, _)| matches!(command, Command::WithdrawAuction { .. }))
        .unwrap();
    let journal = tempfile::tempdir().unwrap();
    write_journal(journal.path(), &stamped);
    let out = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    let args = args(journal.path(), Some(out.path()), Format::Csv);
    run(&args, &mut Vec::new(), &mut Vec::new(), &mut |_| {}, &stop).unwrap();
    let auctions = std::fs::read_to_string(out.path().join("auctions.csv")).unwrap();
    assert_eq!(
        auctions,
        format!(
            "seq,time_ns,trading_day,auction_id,instrument,seller,broker,pricing,quantity_t,sold_t,unsold_t,clearing_cny,turnover_cny,ended,operator\n\
             {withdrawn},{start_ns},20261127,3,CEA2025,1001,1,uniform,100000,0,100000,,0.00,withdrawn,\n\
             {close_1},{closed_ns},20261127,1,CEA2025,1001,1,uniform,100000,100000,0,90.00,9000000.00,closed,\n\
             {close_2},{closed_ns},20261127,2,CEA2025,1001,1,pay-as-bid,100000,0,100000,,0.00,closed,\n"
        )
    );
    let clearing = table(&std::fs::read_to_string(out.path().join("clearing.csv")).unwrap());
    let paid: i64 = clearing.iter().map(|row| fen(&row["amount_cny"])).sum();
    assert_eq!((clearing.len(), paid), (2, 9_000_000_00));

    // In JSON, what is empty in CSV is null: the clearing price of the
    // auction that sold nothing, and the close of the day's auction line
    // (only a listing line has one); never an empty string.
    let json = tempfile::tempdir().unwrap();
    let json_args = self::args(journal.path(), Some(json.path()), Format::Json);
    run(
        &json_args,
        &mut Vec::new(),
        &mut Vec::new(),
        &mut |_| {},
        &stop,
    )
    .unwrap();
    let read = |name| std::fs::read_to_string(json.path().join(name)).unwrap();
    let auctions = read("auctions.json");
    assert!(auctions.contains(r#""clearing_cny": null"#), "{auctions}");
    let days = read("days.json");
    let auction_day = days
        .lines()
        .find(|line| line.contains(r#""mode": "auction""#))
        .unwrap_or_else(|| panic!("{days}"));
    assert!(
        auction_day.contains(r#""close_cny": null"#),
        "{auction_day}"
    );
    for name in ["auctions.json", "days.json", "transfers.json"] {
        assert!(!read(name).contains(r#": """#), "{name}");
    }
}

/// docs/SETTLEMENT.md shows each file's header exactly as written, names
/// every column, and lists each exit code.
#[test]
fn the_settlement_doc_names_every_column_and_exit_code() {
    use cetx_engine::settlement::{
        AccountLine, AuctionLine, ClearingLine, DayLine, LargeHolderLine, ReportLine, TransferLine,
    };
    let doc = include_str!("../../docs/SETTLEMENT.md");
    for header in [
        ClearingLine::HEADER,
        DayLine::HEADER,
        AccountLine::HEADER,
        TransferLine::HEADER,
        LargeHolderLine::HEADER,
        AuctionLine::HEADER,
    ] {
        let sample = header.join(",");
        assert!(
            doc.lines().any(|l| l == sample),
            "no sample with the header {sample}"
        );
        for column in header {
            assert!(
                doc.lines()
                    .any(|l| l.starts_with("| `") && l.contains(&format!("`{column}`"))),
                "column {column} has no row in a table"
            );
        }
    }
    for code in [
        exit::OK,
        exit::FAILURE,
        exit::USAGE,
        exit::CORRUPT,
        exit::GAP,
        exit::RECONCILE,
        exit::CLOSED_DAY_CUT,
    ] {
        assert!(
            doc.lines().any(|l| l.starts_with(&format!("| {code} |"))),
            "exit code {code} is not in the table"
        );
    }
}

/// The scripted day with an onboarded broker and a standing change of
/// each kind appended: the replay reconciles (it replays the membership
/// events with their checks) and the accounts file shows each account's
/// standing at the close.
#[test]
fn accounts_show_their_standing_and_membership_replays() {
    let mut commands = scripted_day();
    let (_, last) = *commands.last().unwrap();
    let more = [
        Command::AddBroker(Box::new(cetx_engine::NewBroker {
            broker: cetx_engine::BrokerId(12),
            name: "Twelfth".into(),
            credential: cetx_engine::Credential {
                iterations: 1,
                salt: [1; 16],
                hash: [2; 32],
            },
        })),
        Command::OpenAccount {
            account: AccountId(5001),
            participant: cetx_engine::ParticipantType::Institution,
            broker: cetx_engine::BrokerId(12),
        },
        Command::SetAccountStatus {
            account: AccountId(5001),
            status: cetx_engine::Status::Closed,
        },
        Command::SetAccountStatus {
            account: AccountId(1003),
            status: cetx_engine::Status::Suspended,
        },
        Command::SetBrokerStatus {
            broker: cetx_engine::BrokerId(12),
            status: cetx_engine::Status::Closed,
        },
    ];
    for (i, command) in more.into_iter().enumerate() {
        let seq = last.seq + 1 + i as u64;
        let time_ns = last.time_ns + 1 + i as i64;
        commands.push((command, Stamp { seq, time_ns }));
    }
    let journal = tempfile::tempdir().unwrap();
    write_journal(journal.path(), &commands);
    let [_, _, accounts] = replay_selected(journal.path(), |_| {});
    let status = |account: &str| {
        let lines: Vec<_> = accounts
            .iter()
            .filter(|l| l["account"] == account)
            .collect();
        assert!(!lines.is_empty(), "no line of {account}");
        assert!(lines.iter().all(|l| l["status"] == lines[0]["status"]));
        lines[0]["status"].clone()
    };
    assert_eq!(status("5001"), "closed");
    assert_eq!(status("1003"), "suspended");
    assert_eq!(status("1001"), "active");
}

/// The engine's state after entry `seq` of `commands`, written as that
/// entry's snapshot beside the journal in `dir`, as a server writes one.
fn snapshot_at(dir: &Path, commands: &[(Command, Stamp)], seq: u64) {
    let mut engine = Engine::default();
    let mut events = Vec::new();
    for (command, stamp) in commands.iter().take_while(|(_, s)| s.seq <= seq) {
        events.clear();
        engine.apply(command, *stamp, &mut events);
    }
    cetx_engine::journal::write_snapshot(dir, seq, &engine.state()).unwrap();
}

/// The sequence number of the first end of day in `commands`.
fn first_end_of_day(commands: &[(Command, Stamp)]) -> u64 {
    commands
        .iter()
        .find(|(c, _)| matches!(c, Command::EndOfDay { .. }))
        .expect("an end of day")
        .1
        .seq
}

/// Every output of a replay with `select` applied, as text (clearing,
/// days, accounts, transfers), its summary and what it wrote to stderr.
fn replay_outputs(
    journal: &Path,
    select: impl FnOnce(&mut ReplayArgs),
) -> ([String; 4], cetx_engine::settlement::ReplaySummary, String) {
    let out = tempfile::tempdir().unwrap();
    let mut a = args(journal, Some(out.path()), Format::Csv);
    select(&mut a);
    let mut stderr = Vec::new();
    let stop = AtomicBool::new(false);
    let summary = run(&a, &mut Vec::new(), &mut stderr, &mut |_| {}, &stop).unwrap();
    let files = ["clearing", "days", "accounts", "transfers"]
        .map(|name| std::fs::read_to_string(out.path().join(format!("{name}.csv"))).unwrap());
    (files, summary, String::from_utf8(stderr).unwrap())
}

/// How a replay that must fail fails.
fn replay_failure(a: &ReplayArgs) -> cetx_engine::settlement::ReplayFailure {
    run(
        a,
        &mut Vec::new(),
        &mut Vec::new(),
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap_err()
}

/// Two days, Friday's end of day dated as a server dates it, and on
/// Monday a deposit for 1001 after the trade, so that the Monday's
/// accounts and transfers move by more than trading.
fn two_days_and_a_deposit() -> Vec<(Command, Stamp)> {
    let mut commands = two_days();
    for (command, _) in &mut commands {
        if let Command::EndOfDay { trading_date } = command {
            *trading_date = Some(2026_11_27);
        }
    }
    let (_, last) = *commands.last().unwrap();
    commands.push((
        Command::Deposit {
            account: AccountId(1001),
            amount_fen: 5_000_00,
        },
        Stamp {
            seq: last.seq + 1,
            time_ns: last.time_ns + 1_000_000,
        },
    ));
    commands
}

/// `--from-snapshot --day`: a day settled from the snapshot taken at the
/// end of day before it gives every file exactly as the replay from seq 1
/// does, reads only the entries after the snapshot, and needs none of the
/// segments before it; a snapshot taken during the day is passed over.
#[test]
fn a_day_settled_from_a_snapshot_is_the_day_settled_from_seq_1() {
    let commands = two_days_and_a_deposit();
    let journal = tempfile::tempdir().unwrap();
    write_journal(journal.path(), &commands);
    let monday = |a: &mut ReplayArgs| a.day = Some(2026_11_30);
    let (whole, summary, _) = replay_outputs(journal.path(), monday);
    assert_eq!(summary.snapshot_seq, None);
    assert!(
        whole[0].lines().count() == 2,
        "Monday's trade: {}",
        whole[0]
    );
    assert!(
        whole[3].lines().count() == 2,
        "Monday's deposit: {}",
        whole[3]
    );

    // Friday's end of day, and Monday's opening (its set-phase) after it.
    let friday_end = first_end_of_day(&commands);
    snapshot_at(journal.path(), &commands, friday_end);
    snapshot_at(journal.path(), &commands, friday_end + 1);
    // The segments wholly before the one that holds Friday's end of day.
    let segments = list_segments(journal.path()).unwrap();
    let mut removed = 0;
    for pair in segments.windows(2) {
        if pair[1].0 <= friday_end {
            std::fs::remove_file(&pair[0].1).unwrap();
            removed += 1;
        }
    }
    assert!(removed >= 2, "small segments: {segments:?}");
    let from_snapshot = |a: &mut ReplayArgs| {
        monday(a);
        a.from_snapshot = true;
    };
    let (settled, summary, stderr) = replay_outputs(journal.path(), from_snapshot);
    assert_eq!(summary.snapshot_seq, Some(friday_end), "{stderr}");
    let last = commands.last().unwrap().1.seq;
    assert_eq!(summary.entries, last - friday_end);
    assert_eq!(summary.last_seq, last);
    assert!(
        stderr.contains(&format!(
            "note: --from-snapshot started from the snapshot at seq {friday_end}, passing over newer ones (",
        )) && stderr.contains(&format!(
            "snapshot-{:020}.snap: it was taken during trading day 20261130, which the selection holds)",
            friday_end + 1
        )),
        "{stderr}"
    );
    for (name, (got, want)) in ["clearing", "days", "accounts", "transfers"]
        .iter()
        .zip(settled.iter().zip(&whole))
    {
        assert_eq!(got, want, "{name}");
    }

    // Without the snapshot, the journal cannot be read from seq 1.
    let mut a = args(journal.path(), None, Format::Csv);
    monday(&mut a);
    let failure = replay_failure(&a);
    assert_eq!(failure.exit_code(), exit::GAP, "{failure}");
}

/// A flipped bit in a record before the snapshot's own, in the segment
/// that holds it: `--from-snapshot` reads that segment from the
/// snapshot's record on (snapshot version 8), so it settles Monday as
/// the undamaged journal does from seq 1, and never meets the damage.
#[test]
fn from_snapshot_does_not_read_the_records_before_the_snapshot_s_in_its_segment() {
    let commands = two_days_and_a_deposit();
    let journal = tempfile::tempdir().unwrap();
    write_journal_of(journal.path(), &commands, &[], 1 << 20);
    let monday = |a: &mut ReplayArgs| a.day = Some(2026_11_30);
    let (whole, _, _) = replay_outputs(journal.path(), monday);
    let friday_end = first_end_of_day(&commands);
    snapshot_at(journal.path(), &commands, friday_end);
    let segments = list_segments(journal.path()).unwrap();
    assert_eq!(segments.len(), 1, "{segments:?}");
    let mut bytes = std::fs::read(&segments[0].1).unwrap();
    bytes[HEADER_LEN + 40] ^= 0x01;
    std::fs::write(&segments[0].1, &bytes).unwrap();

    let (settled, summary, stderr) = replay_outputs(journal.path(), |a| {
        monday(a);
        a.from_snapshot = true;
    });
    assert_eq!(summary.snapshot_seq, Some(friday_end), "{stderr}");
    assert_eq!(settled, whole);
    // From seq 1 the damage is met: exit 3.
    let mut a = args(journal.path(), None, Format::Csv);
    monday(&mut a);
    let failure = replay_failure(&a);
    assert_eq!(failure.exit_code(), exit::CORRUPT, "{failure}");
}

/// A server stopped after Friday's close and started on Monday: Friday's
/// end of day closes a segment, and its snapshot is the oldest kept. An
/// archive of everything it allows leaves the record the snapshot was
/// taken after live, so a registry settles Monday from that snapshot with
/// the archive gone (tester 57: the segment holding it was archived, and
/// `--from-snapshot` fell back to seq 1, which needed the archive).
#[test]
fn an_archive_keeps_the_record_of_the_eve_a_registry_settles_from() {
    let commands = two_days_and_a_deposit();
    let friday_end = first_end_of_day(&commands);
    let journal = tempfile::tempdir().unwrap();
    write_journal_in_runs(journal.path(), &commands, &[friday_end]);
    let monday = |a: &mut ReplayArgs| a.day = Some(2026_11_30);
    let (whole, _, _) = replay_outputs(journal.path(), monday);
    snapshot_at(journal.path(), &commands, friday_end);

    let cold = tempfile::tempdir().unwrap();
    let archived = cetx_engine::journal::archive_segments(
        journal.path(),
        &cold.path().join("archive"),
        u64::MAX,
    )
    .unwrap();
    assert!(!archived.moved.is_empty(), "{archived:?}");
    assert_eq!(archived.snapshot_limit, Some(friday_end), "{archived:?}");
    assert!(archived.archived_before <= friday_end, "{archived:?}");
    std::fs::rename(cold.path().join("archive"), cold.path().join("away")).unwrap();

    let (settled, summary, stderr) = replay_outputs(journal.path(), |a| {
        monday(a);
        a.from_snapshot = true;
    });
    assert_eq!(summary.snapshot_seq, Some(friday_end), "{stderr}");
    assert_eq!(settled, whole);
}

/// `--from-snapshot` reads from seq 1, and says why, when no snapshot is
/// before the selection: the day's own snapshot (it would leave out the
/// day's entries before it), one at or after `--from-seq`, or none at
/// all. What it writes is then the replay's from seq 1.
#[test]
fn from_snapshot_reads_from_seq_1_when_no_snapshot_is_before_the_selection() {
    let commands = two_days_and_a_deposit();
    let journal = tempfile::tempdir().unwrap();
    write_journal(journal.path(), &commands);
    let last = commands.last().unwrap().1.seq;
    let from_last = |from_snapshot: bool| {
        move |a: &mut ReplayArgs| {
            a.from_seq = last;
            a.from_snapshot = from_snapshot;
        }
    };
    let (whole, _, _) = replay_outputs(journal.path(), from_last(false));

    let (files, summary, stderr) = replay_outputs(journal.path(), from_last(true));
    assert_eq!((files, summary.snapshot_seq), (whole.clone(), None));
    assert!(
        stderr.contains(
            "--from-snapshot reads the journal from seq 1: the journal directory holds no snapshot"
        ),
        "{stderr}"
    );

    // Monday's trade, before the deposit: a snapshot during the day that
    // `--from-seq` selects. Its figures need the day's entries before it.
    snapshot_at(journal.path(), &commands, last - 1);
    let (files, summary, stderr) = replay_outputs(journal.path(), from_last(true));
    assert_eq!((files, summary.snapshot_seq), (whole.clone(), None));
    assert!(
        stderr.contains(&format!(
            "snapshot-{:020}.snap: it was taken during trading day 20261130, which the selection holds",
            last - 1
        )),
        "{stderr}"
    );
    assert_eq!(summary.entries, last, "read from seq 1");

    // A snapshot at the selection's first entry is not before it.
    snapshot_at(journal.path(), &commands, last);
    let (files, summary, stderr) = replay_outputs(journal.path(), from_last(true));
    assert_eq!(summary.snapshot_seq, None);
    assert_eq!(files, whole);
    assert!(
        stderr.contains(&format!(
            "not before the selection's first entry, seq {last}"
        )),
        "{stderr}"
    );

    // Friday: every snapshot is after it, or (one taken that morning)
    // of a day no dated end of day has closed before it, whose date its
    // own time would not tell (an outside tester's taken after the close,
    // before the end of day, was dated the next day).
    snapshot_at(journal.path(), &commands, 5);
    let friday = |a: &mut ReplayArgs| {
        a.day = Some(2026_11_27);
        a.from_snapshot = true;
    };
    let (files, summary, stderr) = replay_outputs(journal.path(), friday);
    let (friday_whole, _, _) = replay_outputs(journal.path(), |a| a.day = Some(2026_11_27));
    assert_eq!((files, summary.snapshot_seq), (friday_whole, None));
    assert!(
        stderr.contains("it was taken on trading day 20261130, after the day selected"),
        "{stderr}"
    );
    assert!(
        stderr.contains("snapshot-00000000000000000005.snap: it was taken before the journal's first dated end of day"),
        "{stderr}"
    );
}

/// Runs `replay` on another thread and gives its result, or fails the
/// test after 60 s rather than hang it.
fn within_a_minute<T: Send + 'static>(replay: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(replay());
    });
    result
        .recv_timeout(Duration::from_secs(60))
        .expect("the replay hung")
}

/// A FIFO named like a snapshot, or in the place of the manifest, a
/// segment or the durability file, is not a file to read (opening one
/// waits for a writer forever, and an outside tester's replay and server
/// hung on it): the snapshot is passed over as "not a regular file", the
/// others refused with it.
#[test]
fn a_fifo_in_the_journal_is_refused_not_waited_on() {
    let commands = two_days_and_a_deposit();
    let journal = tempfile::tempdir().unwrap();
    write_journal(journal.path(), &commands);
    let friday_end = first_end_of_day(&commands);
    snapshot_at(journal.path(), &commands, friday_end);
    let mkfifo = |path: PathBuf| {
        let made = std::process::Command::new("mkfifo").arg(&path).status();
        assert!(made.unwrap().success(), "mkfifo {}", path.display());
    };
    mkfifo(
        journal
            .path()
            .join(format!("snapshot-{:020}.snap", friday_end + 1)),
    );
    let dir = journal.path().to_path_buf();
    let (_, summary, stderr) = within_a_minute(move || {
        replay_outputs(&dir, |a| {
            a.day = Some(2026_11_30);
            a.from_snapshot = true;
        })
    });
    assert_eq!(summary.snapshot_seq, Some(friday_end));
    assert!(
        stderr.contains(&format!(
            "snapshot-{:020}.snap: cannot read: not a regular file",
            friday_end + 1
        )),
        "{stderr}"
    );

    let manifest = journal.path().join("MANIFEST");
    std::fs::remove_file(&manifest).unwrap();
    mkfifo(manifest);
    let dir = journal.path().to_path_buf();
    let failure = within_a_minute(move || {
        let a = args(&dir, None, Format::Csv);
        run(
            &a,
            &mut Vec::new(),
            &mut Vec::new(),
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .unwrap_err()
        .to_string()
    });
    assert!(failure.contains("not a regular file"), "{failure}");

    // A segment, and the durability file that recovery reads first.
    for name in ["segment", "DURABILITY"] {
        let journal = tempfile::tempdir().unwrap();
        write_journal(journal.path(), &commands);
        let path = if name == "segment" {
            list_segments(journal.path()).unwrap()[1].1.clone()
        } else {
            journal.path().join(name)
        };
        std::fs::remove_file(&path).unwrap();
        mkfifo(path);
        let dir = journal.path().to_path_buf();
        let failure =
            within_a_minute(move || cetx_engine::journal::recover(&dir).unwrap_err().to_string());
        assert!(failure.contains("not a regular file"), "{name}: {failure}");
    }
}

/// A journal whole to its end whose last day has ended by the calendar
/// without its end of day in it (the server was down at the close, or the
/// journal was cut at a record's end, as an outside tester's zeroed tail
/// was): settled, its lines provisional, and a note says why; not while
/// the day is still trading, nor for a `--day` before it.
#[test]
fn a_whole_journal_without_its_ended_day_s_end_is_told() {
    let commands = two_days();
    let journal = tempfile::tempdir().unwrap();
    write_journal(journal.path(), &commands);
    let last = commands.last().unwrap().1.seq;
    let monday_noon = OPEN_NS + 3 * 86_400 * 1_000_000_000 + 3 * 3_600 * 1_000_000_000;
    let tuesday = OPEN_NS + 4 * 86_400 * 1_000_000_000;
    let settle_or_follow = |now_ns: i64, day: Option<u32>, follow: bool| {
        let mut a = args(journal.path(), None, Format::Csv);
        a.now_ns = Some(now_ns);
        a.day = day;
        a.follow = follow;
        let mut stderr = Vec::new();
        // A follower told to stop stops once it has read the journal.
        let stop = AtomicBool::new(follow);
        let summary = run(&a, &mut Vec::new(), &mut stderr, &mut |_| {}, &stop).unwrap();
        assert_eq!(summary.last_seq, last);
        String::from_utf8(stderr).unwrap()
    };
    let settle = |now_ns: i64, day: Option<u32>| settle_or_follow(now_ns, day, false);
    let told = format!(
        "note: trading day 20261130 has ended by the calendar, but its end of day is not in the journal, which ends whole at seq {last}"
    );
    for day in [None, Some(2026_11_30)] {
        let stderr = settle(tuesday, day);
        assert!(stderr.contains(&told), "{day:?}: {stderr}");
        assert!(stderr.contains("provisional"), "{stderr}");
    }
    assert!(!settle(monday_noon, None).contains("note"));
    assert!(!settle(tuesday, Some(2026_11_27)).contains("note"));
    // A follower says so too (tester 114).
    assert!(settle_or_follow(tuesday, None, true).contains(&told));
    assert!(!settle_or_follow(monday_noon, None, true).contains("note"));
}
