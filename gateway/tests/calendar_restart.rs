//! A calendar that survives restarts: the phase after a restart comes from
//! the journal and the clock together (`Calendar::resume`), so a clock
//! behind the journal re-runs nothing the journal holds and reopens no day
//! that has ended, and each trading day missed while the server was down
//! gets its own end of day, dated by the calendar, which `cetx replay`
//! labels its day by.
//!
//! The demo market on a manual clock, Wednesday 25 to Friday 27 November
//! 2026 (one test goes on to January 2027). Nothing sleeps: each test
//! waits on a subscription's next frame.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use cetx_engine::journal::{JournalConfig, JournalEntry, JournalReader, JournalWriter, Manifest};
use cetx_engine::settlement::{run, Format, ReplayArgs};
use cetx_engine::{AccountId, AuctionNotice, Command, Event, Phase, Pricing, RejectReason};
use cetx_gateway::protocol::{ClientMessage, ServerFrame, ServerMessage, Side};
use cetx_gateway::runtime::{Clock, Runtime, RuntimeHandle, Subscription, JOURNAL_DIR};

mod runtime_support;

use runtime_support::{cst, demo_config, limit, start, submit, Waiter, B1, B2};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;

fn wednesday(h: u32, mi: u32) -> i64 {
    cst(2026, 11, 25, h, mi)
}

/// Every command of the journal in `dir`, in order.
fn commands(dir: &Path) -> Vec<Command> {
    JournalReader::open(dir.join(JOURNAL_DIR))
        .unwrap()
        .map(|entry| entry.unwrap().command)
        .collect()
}

/// The dates of the journal's ends of day, in order.
fn ends_of_day(dir: &Path) -> Vec<Option<u32>> {
    commands(dir)
        .into_iter()
        .filter_map(|c| match c {
            Command::EndOfDay { trading_date } => Some(trading_date),
            _ => None,
        })
        .collect()
}

/// How many times the calendar opened the market in the journal.
fn opens(dir: &Path) -> usize {
    commands(dir)
        .iter()
        .filter(|c| {
            matches!(
                c,
                Command::SetPhase {
                    phase: Phase::Continuous,
                    ..
                }
            )
        })
        .count()
}

/// Broker 1 asks to buy 10 t of CEA2024 (client order id `coid`); the
/// answer it gets.
fn try_buy(
    handle: &RuntimeHandle,
    sub: &mut Subscription,
    wait: &Waiter,
    coid: u64,
) -> ServerFrame {
    submit(
        handle,
        B1,
        limit(coid, 1001, "CEA2024", Side::Buy, 97_01, 10),
    );
    wait.next(sub)
}

fn is_closed(frame: &ServerFrame) -> bool {
    matches!(frame.message, ServerMessage::OrderRejected { reason, .. }
        if reason == RejectReason::MarketClosed.code())
}

fn is_accepted(frame: &ServerFrame) -> bool {
    matches!(frame.message, ServerMessage::OrderAccepted { .. })
}

/// Both demo brokers trade 10 t of CEA2024 at 97.01; waits for both fills.
fn trade(handle: &RuntimeHandle, wait: &Waiter) -> (Subscription, Subscription) {
    trade_after(handle, wait, 0)
}

/// [`trade`] by brokers that have each seen their first `seen` reports
/// (so that the fills waited for are this trade's).
fn trade_after(handle: &RuntimeHandle, wait: &Waiter, seen: u64) -> (Subscription, Subscription) {
    let mut s1 = handle.connect(B1, seen).unwrap();
    let mut s2 = handle.connect(B2, seen).unwrap();
    submit(handle, B2, limit(1, 2001, "CEA2024", Side::Sell, 97_01, 10));
    submit(handle, B1, limit(1, 1001, "CEA2024", Side::Buy, 97_01, 10));
    for sub in [&mut s1, &mut s2] {
        let frames = wait.take(sub, 2);
        assert!(
            matches!(frames[1].message, ServerMessage::Fill { .. }),
            "{frames:?}"
        );
    }
    (s1, s2)
}

/// The runtime on `config`'s data directory, its manual clock at `at_ns`
/// (the handle sets it), the calendar deciding the phases.
fn start_at(config: &cetx_gateway::config::ServerConfig, at_ns: i64) -> Runtime {
    start(config, &Clock::manual(at_ns), false)
}

/// Starts the runtime on `config` at `at_ns`, has broker 1 rest a day buy
/// (client order id 1), and shuts down with the session connected, so
/// that the order stays.
fn rest_a_day_order_and_stop(
    config: &cetx_gateway::config::ServerConfig,
    at_ns: i64,
    wait: &Waiter,
) {
    let runtime = start_at(config, at_ns);
    let handle = runtime.handle();
    let mut s1 = handle.connect(B1, 0).unwrap();
    assert!(is_accepted(&try_buy(&handle, &mut s1, wait, 1)));
    runtime.shutdown().unwrap();
    drop(s1);
}

/// `cetx replay` of the journal in `dir` (of `day` only, if given): the
/// CSV report `name`.
fn replay_csv(dir: &Path, day: Option<u32>, name: &str) -> String {
    let out = tempfile::tempdir().unwrap();
    let args = ReplayArgs {
        journal: dir.join(JOURNAL_DIR),
        expected: None,
        day,
        from_seq: 0,
        out: Some(out.path().to_path_buf()),
        format: Format::Csv,
        follow: false,
        from_snapshot: false,
        now_ns: None,
    };
    let stop = AtomicBool::new(false);
    run(&args, &mut Vec::new(), &mut Vec::new(), &mut |_| {}, &stop).unwrap();
    std::fs::read_to_string(out.path().join(format!("{name}.csv"))).unwrap()
}

/// The next report on `sub` is an `Expired`.
fn assert_expired(wait: &Waiter, sub: &mut Subscription) {
    let expired = wait.next(sub);
    assert!(
        matches!(expired.message, ServerMessage::Expired { .. }),
        "{expired:?}"
    );
}

/// `config` with one more holiday.
fn with_holiday(
    config: &cetx_gateway::config::ServerConfig,
    year: i32,
    month: u32,
    day: u32,
) -> cetx_gateway::config::ServerConfig {
    let mut changed = config.clone();
    changed
        .calendar
        .holidays
        .insert(chrono::NaiveDate::from_ymd_opt(year, month, day).unwrap());
    changed
}

#[test]
fn a_clock_behind_the_journal_in_the_session_keeps_the_market_open() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let runtime = start_at(&config, wednesday(9, 29) + 58 * S);
    let handle = runtime.handle();
    let wait = Waiter::new();
    handle.set_time(wednesday(9, 30) + 800 * MS).unwrap();
    let (mut s1, _s2) = trade(&handle, &wait);
    drop(s1);
    runtime.shutdown().unwrap();
    let instruments = config.instruments.len();
    assert_eq!(
        opens(dir.path()),
        instruments,
        "the open, once per instrument"
    );

    // Again, with the clock 5.8 s behind the journal's last entry.
    let runtime = start_at(&config, wednesday(9, 29) + 55 * S);
    let handle = runtime.handle();
    s1 = handle.connect(B1, 2).unwrap();
    assert_eq!(s1.trading_date(), 2026_11_25);
    let answer = try_buy(&handle, &mut s1, &wait, 2);
    assert!(is_accepted(&answer), "{answer:?}");
    // The clock passes 09:30 again: the open is not run a second time.
    handle.set_time(wednesday(9, 30) + S).unwrap();
    let answer = try_buy(&handle, &mut s1, &wait, 3);
    assert!(is_accepted(&answer), "{answer:?}");
    drop(s1);
    runtime.shutdown().unwrap();
    assert_eq!(opens(dir.path()), instruments, "no phase journaled again");
    assert!(ends_of_day(dir.path()).is_empty());
}

/// A market started ahead with `--start-at`, then restarted without it:
/// the clock is days behind the journal, which has closed no day yet.
/// A login is told the journal's trading day, not the clock's (an outside
/// tester was told Monday after trading on Tuesday).
#[test]
fn a_clock_days_behind_the_journal_tells_brokers_the_journal_s_day() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let wait = Waiter::new();
    rest_a_day_order_and_stop(&config, wednesday(13, 30), &wait);

    // The Saturday before: its next trading day would be Monday 23rd.
    let runtime = start_at(&config, cst(2026, 11, 21, 12, 0));
    let handle = runtime.handle();
    let mut s1 = handle.connect(B1, 0).unwrap();
    assert_eq!(s1.trading_date(), 2026_11_25);
    assert!(is_accepted(&try_buy(&handle, &mut s1, &wait, 2)));
    drop(s1);
    runtime.shutdown().unwrap();
    assert!(ends_of_day(dir.path()).is_empty());
}

#[test]
fn a_clock_behind_the_journal_after_the_close_accepts_nothing_for_the_ended_day() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let runtime = start_at(&config, wednesday(14, 59) + 56 * S);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    assert!(is_accepted(&try_buy(&handle, &mut s1, &wait, 1)));
    handle.set_time(wednesday(15, 0)).unwrap();
    assert_expired(&wait, &mut s1);
    drop(s1);
    runtime.shutdown().unwrap();
    assert_eq!(ends_of_day(dir.path()), [Some(2026_11_25)]);

    // Again, at 14:59:50 on the day that has ended.
    let runtime = start_at(&config, wednesday(14, 59) + 50 * S);
    let handle = runtime.handle();
    let mut s1 = handle.connect(B1, 2).unwrap();
    assert_eq!(s1.trading_date(), 2026_11_26, "Wednesday is over");
    assert!(is_closed(&try_buy(&handle, &mut s1, &wait, 2)));
    // The clock passes Wednesday's close again: no second end of day.
    handle.set_time(wednesday(15, 0) + S).unwrap();
    assert!(is_closed(&try_buy(&handle, &mut s1, &wait, 3)));
    // Thursday opens as usual.
    handle.set_time(cst(2026, 11, 26, 9, 30)).unwrap();
    assert!(is_accepted(&try_buy(&handle, &mut s1, &wait, 4)));
    drop(s1);
    runtime.shutdown().unwrap();
    assert_eq!(ends_of_day(dir.path()), [Some(2026_11_25)]);
}

#[test]
fn a_restart_across_one_close_ends_the_day_it_missed() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let wait = Waiter::new();
    rest_a_day_order_and_stop(&config, wednesday(14, 58), &wait);

    // Thursday 09:29: Wednesday's close is caught up, and its day order
    // expires.
    let runtime = start_at(&config, cst(2026, 11, 26, 9, 29));
    let handle = runtime.handle();
    let mut s1 = handle.connect(B1, 1).unwrap();
    assert_eq!(s1.trading_date(), 2026_11_26);
    assert_expired(&wait, &mut s1);
    assert_eq!(ends_of_day(dir.path()), [Some(2026_11_25)]);
    // Client order id 1 is free again on the new day, once it opens.
    assert!(is_closed(&try_buy(&handle, &mut s1, &wait, 1)));
    handle.set_time(cst(2026, 11, 26, 9, 30)).unwrap();
    assert!(is_accepted(&try_buy(&handle, &mut s1, &wait, 2)));
    drop(s1);
    runtime.shutdown().unwrap();
}

#[test]
fn a_restart_across_several_closes_ends_each_day_and_replay_dates_each() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let runtime = start_at(&config, wednesday(14, 0));
    let handle = runtime.handle();
    let wait = Waiter::new();
    let (s1, s2) = trade(&handle, &wait);
    handle.set_time(wednesday(14, 58)).unwrap();
    drop((s1, s2));
    runtime.shutdown().unwrap();

    // Friday 09:29: Wednesday's and Thursday's ends of day, each dated.
    let runtime = start_at(&config, cst(2026, 11, 27, 9, 29));
    let handle = runtime.handle();
    let mut s1 = handle.connect(B1, 2).unwrap();
    assert_eq!(s1.trading_date(), 2026_11_27);
    assert_eq!(
        ends_of_day(dir.path()),
        [Some(2026_11_25), Some(2026_11_26)]
    );
    // Friday trades, and closes.
    handle.set_time(cst(2026, 11, 27, 9, 30)).unwrap();
    assert!(is_accepted(&try_buy(&handle, &mut s1, &wait, 2)));
    handle.set_time(cst(2026, 11, 27, 15, 0)).unwrap();
    assert_expired(&wait, &mut s1);
    drop(s1);
    runtime.shutdown().unwrap();
    assert_eq!(
        ends_of_day(dir.path()),
        [Some(2026_11_25), Some(2026_11_26), Some(2026_11_27)]
    );

    // `cetx replay`: one row per instrument and day, each day its own.
    let days = replay_csv(dir.path(), None, "days");
    let mut rows = csv::Reader::from_reader(days.as_bytes());
    let headers = rows.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (day, symbol, volume) = (
        column("trading_day"),
        column("instrument"),
        column("volume_t"),
    );
    let mut cea2024: Vec<(String, String)> = Vec::new();
    let mut per_day = std::collections::BTreeMap::<String, usize>::new();
    for row in rows.records() {
        let row = row.unwrap();
        *per_day.entry(row[day].to_string()).or_default() += 1;
        if &row[symbol] == "CEA2024" {
            cea2024.push((row[day].to_string(), row[volume].to_string()));
        }
    }
    let traded = |date: &str, t: &str| (date.to_string(), t.to_string());
    assert_eq!(
        cea2024,
        [
            traded("20261125", "10"),
            traded("20261126", "0"),
            traded("20261127", "0"),
        ]
    );
    let instruments = config.instruments.len();
    assert_eq!(
        per_day.into_iter().collect::<Vec<_>>(),
        [
            ("20261125".to_string(), instruments),
            ("20261126".to_string(), instruments),
            ("20261127".to_string(), instruments),
        ]
    );
}

/// The runtime on `config`, its config's changes accepted, at `at_ns`.
fn start_changed(
    config: &cetx_gateway::config::ServerConfig,
    at_ns: i64,
) -> Result<Runtime, cetx_gateway::runtime::RuntimeError> {
    let mut options = cetx_gateway::runtime::RuntimeOptions::new(&config.server.data_dir);
    options.clock = Clock::manual(at_ns);
    options.accept_config_change = true;
    Runtime::start(config, options)
}

#[test]
fn a_holiday_cannot_take_back_a_day_that_has_begun_but_may_come_the_evening_before() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let wait = Waiter::new();
    rest_a_day_order_and_stop(&config, wednesday(10, 0), &wait);
    let before = commands(dir.path()).len();

    // Wednesday, begun at 09:30, made a holiday at 10:30: refused, naming
    // it, and nothing journaled.
    let closure = with_holiday(&config, 2026, 11, 25);
    let refused = start_changed(&closure, wednesday(10, 30)).err().unwrap();
    assert!(
        matches!(
            refused,
            cetx_gateway::runtime::RuntimeError::DayBegun {
                trading_date: 2026_11_25
            }
        ),
        "{refused}"
    );
    assert_eq!(commands(dir.path()).len(), before);

    // Thursday made a holiday on Wednesday: taken; Wednesday closes as its
    // own day, its order expires then, and Friday is the next day.
    let thursday_off = with_holiday(&config, 2026, 11, 26);
    let runtime = start_changed(&thursday_off, wednesday(10, 30)).unwrap();
    let handle = runtime.handle();
    handle.set_time(wednesday(15, 1)).unwrap();
    let mut s1 = handle.connect(B1, 1).unwrap();
    assert_expired(&wait, &mut s1);
    assert_eq!(s1.trading_date(), 2026_11_27);
    drop(s1);
    runtime.shutdown().unwrap();
    assert_eq!(ends_of_day(dir.path()), [Some(2026_11_25)]);

    // Friday made a holiday on Wednesday evening, after the close: taken.
    let friday_off = with_holiday(&thursday_off, 2026, 11, 27);
    let runtime = start_changed(&friday_off, wednesday(18, 0)).unwrap();
    runtime.shutdown().unwrap();
}

#[test]
fn a_calendar_change_at_the_restart_after_a_missed_close_still_ends_that_day() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    // The market's first day: no end of day journaled yet.
    let wait = Waiter::new();
    rest_a_day_order_and_stop(&config, wednesday(10, 0), &wait);

    // Down over Wednesday's close; Thursday 10:00, a holiday weeks ahead
    // added: the change is journaled, and Wednesday still ends, its order
    // expiring, before Thursday trades.
    let later_holiday = with_holiday(&config, 2026, 12, 31);
    let runtime = start_changed(&later_holiday, cst(2026, 11, 26, 10, 0)).unwrap();
    let handle = runtime.handle();
    let mut s1 = handle.connect(B1, 1).unwrap();
    assert_eq!(s1.trading_date(), 2026_11_26);
    assert_expired(&wait, &mut s1);
    drop(s1);
    runtime.shutdown().unwrap();
    assert_eq!(ends_of_day(dir.path()), [Some(2026_11_25)]);
    assert!(commands(dir.path())
        .iter()
        .any(|c| matches!(c, Command::SetCalendar(_))));
}

#[test]
fn a_holiday_removed_before_a_begun_day_is_refused_as_it_would_date_it_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    // Thursday a holiday: Wednesday closes, and the day after is Friday's.
    let thursday_off = with_holiday(&demo_config(dir.path()), 2026, 11, 26);
    let runtime = start_at(&thursday_off, wednesday(14, 58));
    let handle = runtime.handle();
    handle.set_time(wednesday(15, 1)).unwrap();
    handle.set_time(cst(2026, 11, 27, 10, 0)).unwrap();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    assert!(is_accepted(&try_buy(&handle, &mut s1, &wait, 1)));
    runtime.shutdown().unwrap();
    drop(s1);
    // Friday 10:30, Thursday a trading day again: the day begun on Friday
    // would be Thursday's.
    let refused = start_changed(&demo_config(dir.path()), cst(2026, 11, 27, 10, 30))
        .err()
        .unwrap();
    assert!(
        matches!(
            refused,
            cetx_gateway::runtime::RuntimeError::DayBegun {
                trading_date: 2026_11_27
            }
        ),
        "{refused}"
    );
}

#[test]
fn a_holiday_added_after_a_close_dates_the_next_day_s_trades_by_its_own_close() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let runtime = start_at(&config, wednesday(14, 58));
    runtime.handle().set_time(wednesday(15, 1)).unwrap();
    runtime.shutdown().unwrap();
    // Thursday made a holiday on Wednesday evening: Friday trades, closes.
    let thursday_off = with_holiday(&config, 2026, 11, 26);
    let runtime = start_changed(&thursday_off, cst(2026, 11, 27, 14, 0)).unwrap();
    let handle = runtime.handle();
    let wait = Waiter::new();
    let sessions = trade(&handle, &wait);
    handle.set_time(cst(2026, 11, 27, 15, 1)).unwrap();
    drop(sessions);
    runtime.shutdown().unwrap();
    assert_eq!(
        ends_of_day(dir.path()),
        [Some(2026_11_25), Some(2026_11_27)]
    );
    // The trade is Friday's, in the clearing file and for --day alike.
    for day in [None, Some(2026_11_27)] {
        assert_eq!(trading_days(dir.path(), day), ["20261127"], "--day {day:?}");
    }
}

/// The `trading_day` of each row of `cetx replay`'s clearing file (of
/// `day` only, if given).
fn trading_days(dir: &Path, day: Option<u32>) -> Vec<String> {
    trading_days_in(dir, day, "clearing")
}

/// The `trading_day` of each row of `cetx replay`'s file `name`.
fn trading_days_in(dir: &Path, day: Option<u32>, name: &str) -> Vec<String> {
    let file = replay_csv(dir, day, name);
    let mut rows = csv::Reader::from_reader(file.as_bytes());
    let column = rows
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "trading_day")
        .unwrap();
    rows.records()
        .map(|row| row.unwrap()[column].to_string())
        .collect()
}

/// A copy of the journal in `dir`, in a new data directory, that ends at
/// the first entry that `last` picks, as a server killed just
/// after that entry was on disk leaves it: the same entries, stamps and
/// events, and no clean stop.
fn killed_after(dir: &Path, last: impl Fn(&JournalEntry) -> bool) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    let journal_dir = copy.path().join(JOURNAL_DIR);
    std::fs::create_dir_all(&journal_dir).unwrap();
    let config = JournalConfig {
        segment_bytes: 1 << 20,
        ..JournalConfig::default()
    };
    let writer = JournalWriter::open(&journal_dir, 1, config).unwrap();
    for entry in JournalReader::open(dir.join(JOURNAL_DIR)).unwrap() {
        let entry = entry.unwrap();
        assert_eq!(entry.operator, None, "no operator's entry to copy");
        writer
            .append_blocking(entry.stamp, &entry.command, &entry.events)
            .unwrap();
        if last(&entry) {
            break;
        }
    }
    writer.close().unwrap();
    let mut manifest = Manifest::read(&journal_dir).unwrap().unwrap();
    manifest.closed = None;
    manifest.write(&journal_dir).unwrap();
    copy
}

/// Every trading date of `calendar` from `first` to `last`, `YYYYMMDD`.
fn trading_dates(calendar: &cetx_engine::Calendar, first: u32, last: u32) -> Vec<u32> {
    std::iter::successors(Some(first), |&date| calendar.next_trading_date(date))
        .take_while(|&date| date <= last)
        .collect()
}

/// A start more than a month after the journal's last close journals an
/// entry (a config change, `--accept-config-change`) and is killed before
/// its catch-up's ends of day are on disk. The next start ends every
/// trading day since that close, each under its own date, where it
/// looked back only a month before that entry and so dated the first
/// end of day it wrote 10 December, a day that began as 26 November's,
/// which `cetx replay` refused (`MisdatedEndOfDay`).
#[test]
fn a_start_after_a_kill_mid_catch_up_more_than_a_month_on_ends_every_missed_day() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let wait = Waiter::new();
    // Wednesday trades and closes.
    let runtime = start_at(&config, wednesday(14, 0));
    let handle = runtime.handle();
    let sessions = trade(&handle, &wait);
    handle.set_time(wednesday(15, 1)).unwrap();
    drop(sessions);
    runtime.shutdown().unwrap();
    assert_eq!(ends_of_day(dir.path()), [Some(2026_11_25)]);

    // Down until Sunday 10 January 2027, when a start journals 1 January
    // a holiday, and then its catch-up; a kill just after the calendar
    // leaves the journal without the catch-up.
    let new_year_off = with_holiday(&config, 2027, 1, 1);
    let sunday = cst(2027, 1, 10, 10, 0);
    start_changed(&new_year_off, sunday)
        .unwrap()
        .shutdown()
        .unwrap();
    let killed = killed_after(dir.path(), |entry| {
        matches!(entry.command, Command::SetCalendar(_)) && entry.stamp.time_ns == sunday
    });
    assert_eq!(ends_of_day(killed.path()), [Some(2026_11_25)]);
    let mut config = new_year_off;
    config.server.data_dir = killed.path().to_path_buf();

    // Tuesday 12 January: every trading day since Wednesday ends, by the
    // journal's calendar (not 1 January); Tuesday trades (each broker
    // has seen Wednesday's accept and fill) and closes.
    let runtime = start_at(&config, cst(2027, 1, 12, 10, 0));
    let handle = runtime.handle();
    let sessions = trade_after(&handle, &wait, 2);
    assert_eq!(sessions.0.trading_date(), 2027_01_12);
    handle.set_time(cst(2027, 1, 12, 15, 1)).unwrap();
    drop(sessions);
    runtime.shutdown().unwrap();
    let calendar = config.calendar.clone();
    let dates = trading_dates(&calendar, 2026_11_25, 2027_01_12);
    assert_eq!(dates.len(), 34, "25 November to 12 January, weekdays");
    assert!(!dates.contains(&2027_01_01));
    let ends: Vec<_> = dates.iter().map(|&date| Some(date)).collect();
    assert_eq!(ends_of_day(killed.path()), ends);

    // `cetx replay` settles it: a row per instrument and day, and each
    // trade under the day it was made.
    let mut per_day = std::collections::BTreeMap::<u32, usize>::new();
    for date in trading_days_in(killed.path(), None, "days") {
        *per_day.entry(date.parse().unwrap()).or_default() += 1;
    }
    let instruments = config.instruments.len();
    assert_eq!(
        per_day.into_iter().collect::<Vec<_>>(),
        dates.iter().map(|&d| (d, instruments)).collect::<Vec<_>>()
    );
    let traded = trading_days(killed.path(), None);
    assert!(traded.iter().any(|d| d == "20261125"), "{traded:?}");
    assert!(traded.iter().any(|d| d == "20270112"), "{traded:?}");
    assert!(
        traded.iter().all(|d| d == "20261125" || d == "20270112"),
        "{traded:?}"
    );
}

/// Wednesday 14:59: seller 2001 auctions 100,000 t of CEA2025 until
/// 15:00:30, after the close, and 1001 bids for all of it; the bid is
/// accepted.
fn auction_past_the_close(config: &cetx_gateway::config::ServerConfig, runtime: &Runtime) {
    let handle = runtime.handle();
    let notice = AuctionNotice {
        auction_id: 1,
        instrument: config.instrument_id("CEA2025").unwrap(),
        seller: AccountId(2001),
        quantity_t: 100_000,
        floor_ticks: 85_00,
        ceiling_ticks: 95_00,
        start_ns: wednesday(14, 59),
        end_ns: wednesday(15, 0) + 30 * S,
        pricing: Pricing::Uniform,
    };
    // An operator's command is queued from a task: it sleeps, not blocks,
    // while the queue is full.
    let sent = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(handle.admin(9, Command::AnnounceAuction(Box::new(notice))));
    let announced = sent.unwrap().blocking_recv().unwrap();
    assert!(
        matches!(announced.events[..], [Event::AuctionAnnounced(_)]),
        "{announced:?}"
    );
    let mut s1 = handle.connect(B1, 0).unwrap();
    let bid = ClientMessage::Bid {
        client_order_id: 1,
        auction_id: 1,
        account: 1001,
        price_ticks: 90_00,
        quantity_t: 100_000,
    };
    submit(&handle, B1, bid);
    let accepted = Waiter::new().next(&mut s1);
    assert!(
        matches!(accepted.message, ServerMessage::BidAccepted { .. }),
        "{accepted:?}"
    );
}

/// Where the journal's end of day and auction close are, in order.
fn close_and_auction(dir: &Path) -> Vec<&'static str> {
    commands(dir)
        .iter()
        .filter_map(|c| match c {
            Command::EndOfDay { .. } => Some("end of day"),
            Command::CloseAuction { .. } => Some("auction closed"),
            _ => None,
        })
        .collect()
}

#[test]
fn an_auction_that_ends_after_the_close_trades_the_next_day_whether_the_server_was_up_or_down() {
    // Up: the close at 15:00, then the auction's at 15:00:30.
    let up = tempfile::tempdir().unwrap();
    let config = demo_config(up.path());
    let runtime = start_at(&config, wednesday(14, 59));
    auction_past_the_close(&config, &runtime);
    runtime.handle().set_time(wednesday(15, 0)).unwrap();
    runtime.handle().set_time(wednesday(15, 1)).unwrap();
    runtime.shutdown().unwrap();
    // Down across both: the restart at 15:01 catches them up in the same
    // order.
    let down = tempfile::tempdir().unwrap();
    let config = demo_config(down.path());
    let runtime = start_at(&config, wednesday(14, 59));
    auction_past_the_close(&config, &runtime);
    runtime.shutdown().unwrap();
    start_at(&config, wednesday(15, 1)).shutdown().unwrap();

    for dir in [up.path(), down.path()] {
        assert_eq!(close_and_auction(dir), ["end of day", "auction closed"]);
        assert_eq!(trading_days(dir, None), ["20261126"]);
    }
}
