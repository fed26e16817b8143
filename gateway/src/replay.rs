//! `cetx replay`: settlement reports and the clearing file from a journal.
//!
//! Reads a journal directory once, checking every record (CRC, sequence
//! continuity), and feeds each entry to a [`Ledger`] and to an engine that
//! replays the events. At the end the ledger's balances must equal the
//! replayed engine's state at the same sequence number, and cash and
//! allowances must be conserved; either failing stops with its own exit
//! code. Outputs, in CSV or JSON:
//!
//! - `clearing`: one row per trade, delivery versus payment;
//! - `days`: per trading day and instrument, open, high, low, close (VWAP),
//!   volume, turnover and trade count;
//! - `accounts`: per account and instrument, bought, sold, net cash from
//!   trading that instrument, and the end holding; `end_cash_cny` is the
//!   account's cash, the same on each of its rows.
//!
//! `trading_day` is a date, `YYYYMMDD`: the engine numbers its trading days
//! from 0, and the replay dates each by the calendar (the config's) at the
//! time of the entry that began it.
//!
//! With `--out DIR` the three go to `DIR/{clearing,days,accounts}.{csv,json}`;
//! without it the clearing file goes to standard output and the reports to
//! standard error. `--follow` tails a live journal and prints clearing rows
//! as they appear, until interrupted.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use cetx_engine::journal::{JournalError, JournalFollower, JournalReader};
use cetx_engine::settlement::{ClearingRow, Ledger, ReconcileError};
use cetx_engine::{Calendar, Engine, EngineConfig, Event, ReplayError, Stamp};

/// Exit codes of `cetx replay`, part of its interface.
pub mod exit {
    /// Everything read, reconciled and conserved.
    pub const OK: u8 = 0;
    /// An I/O error or bad arguments.
    pub const FAILURE: u8 = 1;
    /// A record is damaged (bad CRC, bad header, undecodable).
    pub const CORRUPT: u8 = 3;
    /// Sequence numbers are not continuous, or a segment the manifest
    /// lists is missing.
    pub const GAP: u8 = 4;
    /// The ledger does not reconcile with the engine, or value is not
    /// conserved, or the events do not replay.
    pub const RECONCILE: u8 = 5;
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON array per file.
    Json,
}

/// What `cetx replay` was asked.
#[derive(Clone, Debug)]
pub struct ReplayArgs {
    /// The journal directory.
    pub journal: PathBuf,
    /// The exchange calendar the journal was written under (the server
    /// config's), which turns the engine's trading days into dates.
    pub calendar: Calendar,
    /// Only this trading day's clearing rows and day report, `YYYYMMDD`.
    pub day: Option<u32>,
    /// Only clearing rows from this sequence number on.
    pub from_seq: u64,
    /// Directory to write the three files into.
    pub out: Option<PathBuf>,
    /// CSV or JSON.
    pub format: Format,
    /// Tail a live journal.
    pub follow: bool,
}

/// Why `cetx replay` stopped early; each has its exit code.
#[derive(Debug, thiserror::Error)]
pub enum ReplayFailure {
    /// The journal could not be read as it stands.
    #[error("{0}")]
    Journal(#[from] JournalError),
    /// The events do not replay onto the engine.
    #[error("{0}")]
    Replay(#[from] ReplayError),
    /// The ledger disagrees with the engine, or value is not conserved.
    #[error("reconciliation failed: {0}")]
    Reconcile(#[from] ReconcileError),
    /// Writing an output failed.
    #[error("writing {path}: {source}")]
    Output {
        /// The file or stream.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl ReplayFailure {
    /// The process exit code for this failure.
    #[must_use]
    pub const fn exit_code(&self) -> u8 {
        match self {
            Self::Journal(JournalError::Corrupt { .. }) => exit::CORRUPT,
            Self::Journal(JournalError::Gap { .. } | JournalError::MissingSegment { .. }) => {
                exit::GAP
            }
            Self::Replay(_) | Self::Reconcile(_) => exit::RECONCILE,
            Self::Journal(_) | Self::Output { .. } => exit::FAILURE,
        }
    }
}

/// What a replay read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Entries read.
    pub entries: u64,
    /// Last sequence number read.
    pub last_seq: u64,
    /// Clearing rows written.
    pub rows: u64,
    /// A last record that fails its checks with nothing whole after it,
    /// where reading stopped (not settled): file and offset.
    pub torn_tail: Option<(PathBuf, u64)>,
}

/// Replays a journal and writes the reports; see the module docs.
///
/// `symbols` names the instruments in id order (from the server config);
/// `progress` is called with each entry's sequence number.
///
/// # Errors
/// A [`ReplayFailure`]; [`ReplayFailure::exit_code`] gives its exit code.
pub fn run(
    args: &ReplayArgs,
    config: &EngineConfig,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
    stop: &AtomicBool,
) -> Result<ReplaySummary, ReplayFailure> {
    let symbols: Vec<String> = config
        .instruments
        .iter()
        .map(|s| s.symbol.clone())
        .collect();
    let mut engine = Engine::new(config).map_err(|e| ReplayFailure::Output {
        path: "config".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let mut ledger = Ledger::new(symbols.len());
    let mut rows = Vec::new();
    let mut summary = ReplaySummary::default();
    let mut clearing = Table::new(args.format, CLEARING_HEADER);
    let mut reader = JournalReader::open(&args.journal)?;
    let mut events = Vec::new();
    let mut dates = Dates::new(&args.calendar);
    loop {
        let next = reader.next_into(&mut events);
        let (stamp, command) = match next {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(JournalError::TornTail { file, offset, .. }) => {
                summary.torn_tail = Some((file, offset));
                break;
            }
            Err(e) => return Err(e.into()),
        };
        let entry = cetx_engine::journal::JournalEntry {
            stamp,
            command,
            events: std::mem::take(&mut events),
        };
        engine.replay(stamp, &entry.events)?;
        dates.observe(stamp, &entry.events);
        ledger.apply(&entry, &mut rows)?;
        for row in rows.drain(..) {
            if keep(args, &dates, &row) {
                clearing.push(&clearing_cells(&row, &dates, &symbols));
                summary.rows += 1;
            }
        }
        events = entry.events;
        events.clear();
        summary.entries += 1;
        summary.last_seq = stamp.seq;
        progress(stamp.seq);
    }
    ledger.reconcile(&engine.state())?;
    ledger.check_conservation()?;

    let days = day_table(args, &dates, &ledger, &symbols);
    let accounts = account_table(args.format, &ledger, &symbols);
    match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|source| ReplayFailure::Output {
                path: dir.display().to_string(),
                source,
            })?;
            for (name, table) in [
                ("clearing", &clearing),
                ("days", &days),
                ("accounts", &accounts),
            ] {
                let path = dir.join(format!("{name}.{}", table.extension()));
                write_file(&path, &table.render())?;
            }
        }
        None => {
            write_stream(stdout, "stdout", &clearing.render())?;
            write_stream(stderr, "stderr", &days.render())?;
            write_stream(stderr, "stderr", &accounts.render())?;
        }
    }
    if let Some((file, offset)) = &summary.torn_tail {
        let note = format!(
            "note: the journal ends in a record that fails its checks at {} offset {offset}, with no whole record after it; it is not settled. A write cut short by a crash (never acknowledged) and damage to the last record (which may have been acknowledged) look alike; if the server is running, it may simply be a write in progress\n",
            file.display()
        );
        write_stream(stderr, "stderr", &note)?;
    }
    if args.follow {
        summary.rows += follow(
            args,
            &symbols,
            summary.last_seq + 1,
            &mut ledger,
            &mut dates,
            stdout,
            stop,
        )?;
    }
    Ok(summary)
}

/// Tails the journal from `from_seq`, printing clearing rows (CSV or JSON
/// lines) as entries appear, until `stop` is set. Returns the rows printed.
fn follow(
    args: &ReplayArgs,
    symbols: &[String],
    from_seq: u64,
    ledger: &mut Ledger,
    dates: &mut Dates,
    stdout: &mut dyn Write,
    stop: &AtomicBool,
) -> Result<u64, ReplayFailure> {
    let mut follower =
        JournalFollower::new(&args.journal, from_seq).with_poll_interval(Duration::from_millis(20));
    let mut rows = Vec::new();
    let mut printed = 0;
    for entry in follower.until(stop) {
        let entry = entry?;
        dates.observe(entry.stamp, &entry.events);
        ledger.apply(&entry, &mut rows)?;
        for row in rows.drain(..) {
            if keep(args, dates, &row) {
                let cells = clearing_cells(&row, dates, symbols);
                let row = line(args.format, CLEARING_HEADER, &cells);
                write_stream(stdout, "stdout", &row)?;
                printed += 1;
            }
        }
    }
    Ok(printed)
}

fn keep(args: &ReplayArgs, dates: &Dates, row: &ClearingRow) -> bool {
    row.seq >= args.from_seq
        && args
            .day
            .is_none_or(|day| dates.date(row.trading_day) == day)
}

/// The calendar date of each of the engine's trading days (which the
/// journal counts from 0), learnt from the journal itself: day 0 is the
/// trading day at the first entry's time, and each later day the trading
/// day at the time of the entry that started it (an end of day, after the
/// close: the next trading day).
struct Dates<'a> {
    calendar: &'a Calendar,
    /// `YYYYMMDD` by the engine's day number.
    dates: Vec<u32>,
}

impl<'a> Dates<'a> {
    const fn new(calendar: &'a Calendar) -> Self {
        Self {
            calendar,
            dates: Vec::new(),
        }
    }

    /// Takes note of one entry, in journal order.
    fn observe(&mut self, stamp: Stamp, events: &[Event]) {
        if self.dates.is_empty() {
            self.dates.push(self.calendar.trading_date(stamp.time_ns));
        }
        for event in events {
            if let Event::DayStarted(started) = event {
                let day = usize::try_from(started.trading_day).unwrap_or(usize::MAX);
                if day >= self.dates.len() {
                    self.dates.resize(day + 1, 0);
                }
                self.dates[day] = self.calendar.trading_date(stamp.time_ns);
            }
        }
    }

    /// The date of the engine's day `day`, `YYYYMMDD` (0 if the journal
    /// never named it).
    fn date(&self, day: u32) -> u32 {
        usize::try_from(day)
            .ok()
            .and_then(|day| self.dates.get(day))
            .copied()
            .unwrap_or(0)
    }
}

const CLEARING_HEADER: &[&str] = &[
    "seq",
    "time_ns",
    "trading_day",
    "trade_id",
    "instrument",
    "buyer_account",
    "buyer_broker",
    "seller_account",
    "seller_broker",
    "quantity_t",
    "price_cny",
    "amount_cny",
];

/// Writes an amount in fen (or a price in ticks, which are fen) as CNY
/// with exactly two decimals, without going through a decimal type.
fn write_cny(out: &mut String, fen: i64) {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    let _ = write!(out, "{sign}{}.{:02}", abs / 100, abs % 100);
}

fn symbol(symbols: &[String], instrument: cetx_engine::InstrumentId) -> &str {
    symbols
        .get(usize::from(instrument.0))
        .map_or("?", String::as_str)
}

fn clearing_cells<'a>(row: &ClearingRow, dates: &Dates, symbols: &'a [String]) -> [Cell<'a>; 12] {
    [
        Cell::Int(i128::from(row.seq)),
        Cell::Int(i128::from(row.time_ns)),
        Cell::Int(i128::from(dates.date(row.trading_day))),
        Cell::Int(i128::from(row.trade_id)),
        Cell::Text(symbol(symbols, row.instrument)),
        Cell::Int(i128::from(row.buyer.0)),
        Cell::Int(i128::from(row.buyer_broker.0)),
        Cell::Int(i128::from(row.seller.0)),
        Cell::Int(i128::from(row.seller_broker.0)),
        Cell::Int(i128::from(row.quantity_t)),
        Cell::Money(row.price_ticks),
        Cell::Money(row.amount_fen),
    ]
}

fn day_table(args: &ReplayArgs, dates: &Dates, ledger: &Ledger, symbols: &[String]) -> Table {
    let mut table = Table::new(
        args.format,
        &[
            "trading_day",
            "instrument",
            "open_cny",
            "high_cny",
            "low_cny",
            "close_cny",
            "volume_t",
            "turnover_cny",
            "trade_count",
        ],
    );
    for day in ledger.days() {
        let date = dates.date(day.trading_day);
        if args.day.is_some_and(|d| d != date) {
            continue;
        }
        // The engine's close once the day has ended; until then the VWAP
        // so far (a tick of 0.01 CNY, the default, for the rounding).
        let close = day.close_ticks.or_else(|| Ledger::vwap(day, 1));
        table.push(&[
            Cell::Int(i128::from(date)),
            Cell::Text(symbol(symbols, day.instrument)),
            Cell::Money(day.open_ticks),
            Cell::Money(day.high_ticks),
            Cell::Money(day.low_ticks),
            close.map_or(Cell::Text(""), Cell::Money),
            Cell::Int(i128::from(day.volume_t)),
            Cell::Money(day.turnover_fen),
            Cell::Int(i128::from(day.trade_count)),
        ]);
    }
    table
}

fn account_table(format: Format, ledger: &Ledger, symbols: &[String]) -> Table {
    let mut table = Table::new(
        format,
        &[
            "account",
            "broker",
            "instrument",
            "bought_t",
            "sold_t",
            "net_trade_cny",
            "end_holding_t",
            "end_cash_cny",
        ],
    );
    for account in ledger.accounts() {
        for (i, name) in symbols.iter().enumerate() {
            table.push(&[
                Cell::Int(i128::from(account.account.0)),
                Cell::Int(i128::from(account.broker.0)),
                Cell::Text(name),
                Cell::Int(i128::from(account.bought_t[i])),
                Cell::Int(i128::from(account.sold_t[i])),
                Cell::Money(account.net_trade_fen[i]),
                Cell::Int(i128::from(account.holdings_t[i])),
                Cell::Money(account.cash_fen),
            ]);
        }
    }
    table
}

/// One value of a report.
#[derive(Clone, Copy, Debug)]
enum Cell<'a> {
    Int(i128),
    /// An amount in fen, or a price in ticks of 0.01 CNY.
    Money(i64),
    Text(&'a str),
}

/// A report being built: its rows are rendered as they come, into one
/// buffer, as CSV lines or JSON objects.
struct Table {
    format: Format,
    header: &'static [&'static str],
    body: String,
    rows: usize,
}

impl Table {
    const fn new(format: Format, header: &'static [&'static str]) -> Self {
        Self {
            format,
            header,
            body: String::new(),
            rows: 0,
        }
    }

    fn push(&mut self, row: &[Cell<'_>]) {
        match self.format {
            Format::Csv => {
                write_csv(&mut self.body, row);
                self.body.push('\n');
            }
            Format::Json => {
                if self.rows > 0 {
                    self.body.push_str(",\n  ");
                }
                write_json(&mut self.body, self.header, row);
            }
        }
        self.rows += 1;
    }

    const fn extension(&self) -> &'static str {
        match self.format {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    fn render(&self) -> String {
        match self.format {
            Format::Csv => format!("{}\n{}", self.header.join(","), self.body),
            Format::Json if self.rows == 0 => "[]\n".into(),
            Format::Json => format!("[\n  {}\n]\n", self.body),
        }
    }
}

/// One row on a line of its own: a CSV line, or a JSON object (for
/// `--follow`, which prints rows as they come).
fn line(format: Format, header: &[&str], row: &[Cell<'_>]) -> String {
    let mut out = String::new();
    match format {
        Format::Csv => write_csv(&mut out, row),
        Format::Json => write_json(&mut out, header, row),
    }
    out.push('\n');
    out
}

fn write_csv(out: &mut String, row: &[Cell<'_>]) {
    for (i, cell) in row.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match cell {
            Cell::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Cell::Money(fen) => write_cny(out, *fen),
            Cell::Text(t) if t.contains([',', '"', '\n']) => {
                let _ = write!(out, "\"{}\"", t.replace('"', "\"\""));
            }
            Cell::Text(t) => out.push_str(t),
        }
    }
}

fn write_json(out: &mut String, header: &[&str], row: &[Cell<'_>]) {
    out.push('{');
    for (i, (name, cell)) in header.iter().zip(row).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "\"{name}\": ");
        match cell {
            Cell::Int(v) => {
                let _ = write!(out, "{v}");
            }
            // Money as a string with exactly two decimals: JSON numbers
            // are floats to most readers, and amounts must not be.
            Cell::Money(fen) => {
                out.push('"');
                write_cny(out, *fen);
                out.push('"');
            }
            Cell::Text(t) => {
                let _ = write!(out, "\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\""));
            }
        }
    }
    out.push('}');
}

fn write_file(path: &Path, contents: &str) -> Result<(), ReplayFailure> {
    std::fs::write(path, contents).map_err(|source| ReplayFailure::Output {
        path: path.display().to_string(),
        source,
    })
}

fn write_stream(stream: &mut dyn Write, name: &str, contents: &str) -> Result<(), ReplayFailure> {
    stream
        .write_all(contents.as_bytes())
        .and_then(|()| stream.flush())
        .map_err(|source| ReplayFailure::Output {
            path: name.into(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cetx_engine::DayStarted;

    /// Nanoseconds since the epoch of a Beijing time on a day of
    /// November 2026.
    fn beijing(day: u32, hour: u32, minute: u32) -> i64 {
        let local = chrono::NaiveDate::from_ymd_opt(2026, 11, day)
            .and_then(|d| d.and_hms_opt(hour, minute, 0))
            .expect("a valid time");
        (local.and_utc().timestamp() - 8 * 3_600) * 1_000_000_000
    }

    #[test]
    fn each_engine_day_gets_the_date_it_traded() {
        let calendar = Calendar::default();
        let mut dates = Dates::new(&calendar);
        let stamp = |seq, time_ns| Stamp { seq, time_ns };
        // Friday 27 November, in the morning session: day 0.
        dates.observe(stamp(1, beijing(27, 9, 30)), &[]);
        // Friday's end of day, after the close: the next day is Monday.
        let started = [Event::DayStarted(DayStarted { trading_day: 1 })];
        dates.observe(stamp(2, beijing(27, 15, 5)), &started);
        // Monday's end of day: Tuesday.
        let started = [Event::DayStarted(DayStarted { trading_day: 2 })];
        dates.observe(stamp(3, beijing(30, 15, 5)), &started);
        assert_eq!(dates.date(0), 2026_11_27);
        assert_eq!(dates.date(1), 2026_11_30);
        assert_eq!(dates.date(2), 2026_12_01);
        assert_eq!(dates.date(3), 0, "a day the journal never started");
    }
}
