//! `cetx replay`: settlement reports and the clearing file from a journal.
//!
//! Reads a journal directory once, checking every record (CRC, sequence
//! continuity), and feeds each entry to a [`Ledger`] and to an engine that
//! replays the events. At the end the ledger's balances must equal the
//! replayed engine's state at the same sequence number, and cash and
//! allowances must be conserved; either failing stops with its own exit
//! code ([`exit`]). Outputs, in CSV or JSON (see [`super::reports`] for
//! their columns and [`super::writer`] for their layout):
//!
//! - `clearing`: one row per trade, delivery versus payment;
//! - `days`: per trading day and instrument, open, high, low, close (VWAP),
//!   volume, turnover, trade count, and whether the day has ended (final)
//!   or not (provisional);
//! - `accounts`: per account and instrument, bought, sold, net cash from
//!   trading that instrument, and the holding and the cash (the same on
//!   each of the account's rows) at the open and at the close.
//! - `transfers`: every movement of cash or allowances that is not a
//!   trade, with the outside reference id it was made under
//!   ([`super::transfers`]);
//! - `large_holders`: every time a holding reached its instrument's
//!   large-holder threshold ([`super::holders`]);
//! - `auctions`: every one-way auction's close, what it sold at what
//!   price and what it did not ([`super::auctions`]).
//!
//! `--day` and `--from-seq` select the same entries for every output (a
//! [`Window`]): the clearing rows they traded, the days they belong to, and
//! the accounts' balances before the first and after the last of them.
//!
//! The journal describes its own market: its entries list the instruments
//! (which name the reports' symbols and give each its tick) and set the
//! calendar. No config is needed; one given ([`ReplayArgs::expected`]) is
//! checked against the journal's definition at its end, and the first
//! difference stops the replay before anything is written.
//!
//! `trading_day` is a date, `YYYYMMDD`: the engine numbers its trading days
//! from 0, and the replay dates each by the date its end of day names, or
//! by the journal's calendar from the end of day before it
//! ([`TradingDates`]).
//!
//! With `--out DIR` the six go to
//! `DIR/{clearing,days,accounts,transfers,large_holders,auctions}.{csv,json}`;
//! without it the clearing file goes to standard output and the reports to
//! standard error. Nothing is written unless the journal reconciles.
//! `--follow` then tails a live journal, replaying and settling each entry
//! as it appears and printing its clearing rows to standard output, until
//! stopped: CSV rows, or JSON Lines (one object per line). At each end of
//! day it reconciles again and, with `--out`, rewrites the days,
//! accounts, transfers, large-holders and auctions files (atomically: a temporary file renamed over the old).
//! [`ReplaySummary::reconciled_seq`] says how far it reconciled. Without `--out`, the clearing rows before the
//! follow are JSON Lines too, so that standard output is one stream of
//! them.
//!
//! The run is a library function with no clock, terminal or signal of its
//! own: the caller (the `cetx` binary) passes in a progress callback and
//! the flag that stops `--follow`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::auctions::{auction_lines, AuctionLine};
use super::dates::{MisdatedEndOfDay, TradingDates};
use super::holders::{large_holder_lines, LargeHolderLine};
use super::reports::{AccountLine, ClearingLine, DayLine, ReportLine};
use super::transfers::{transfer_lines, TransferLine};
use super::window::Window;
use super::writer::{Format, Layout, ReportWriter};
use super::{symbol, ClearingRow, Ledger, ReconcileError};
use crate::calendar::Calendar;
use crate::definition::{Difference, MarketDefinition};
use crate::engine::Engine;
use crate::event::Event;
use crate::instrument::InstrumentId;
use crate::journal::snapshot::{tied_record, RecordAt, Tie};
use crate::journal::{
    journal_segments, list_snapshots, read_snapshot_tie, JournalEntry, JournalError,
    JournalFollower, JournalReader, ReadAhead,
};
use crate::replay::ReplayError;

/// Exit codes of `cetx replay`, part of its interface.
pub mod exit {
    /// Everything read, reconciled and conserved.
    pub const OK: u8 = 0;
    /// An I/O error, a path that holds no journal, a config that does not
    /// load, or one that differs from the journal's market.
    pub const FAILURE: u8 = 1;
    /// Bad arguments (a usage error, reported by the argument parser
    /// before anything is read): an unknown flag, a missing `--journal`,
    /// a `--day` that is not a date.
    pub const USAGE: u8 = 2;
    /// A record is damaged (bad CRC, bad header, undecodable), or its
    /// checksum holds but its events cannot be true of the state they
    /// replay onto (a price off the band, a band that is not the one its
    /// reference makes, a quantity beyond the order sizes, an unknown
    /// account or order, a balance that does not add up).
    pub const CORRUPT: u8 = 3;
    /// Sequence numbers are not continuous, or a segment the manifest
    /// lists is missing.
    pub const GAP: u8 = 4;
    /// The ledger does not reconcile with the engine, or value is not
    /// conserved.
    pub const RECONCILE: u8 = 5;
    /// The journal ends in a damaged record inside a trading day that has
    /// ended by the calendar, with that day's end of day missing: records
    /// of a closed day may be lost.
    pub const CLOSED_DAY_CUT: u8 = 6;
}

/// What `cetx replay` was asked.
#[derive(Clone, Debug)]
pub struct ReplayArgs {
    /// The journal directory.
    pub journal: PathBuf,
    /// The market a config describes, to be checked against the journal's
    /// own (`--config`); `None` trusts the journal alone.
    pub expected: Option<MarketDefinition>,
    /// Only this trading day, `YYYYMMDD`, in every output.
    pub day: Option<u32>,
    /// Only entries from this sequence number on, in every output.
    pub from_seq: u64,
    /// Directory to write the six files into.
    pub out: Option<PathBuf>,
    /// CSV or JSON.
    pub format: Format,
    /// Tail a live journal.
    pub follow: bool,
    /// Start from the newest snapshot in the journal directory that is
    /// before the selection (`--from-snapshot`), rather than from seq 1:
    /// the entries before it are not read, and their segments need not be
    /// there.
    pub from_snapshot: bool,
    /// The time now (ns since the epoch), to tell whether the journal's
    /// last trading day has ended; `None` if not known (a torn last record
    /// is then only noted).
    pub now_ns: Option<i64>,
}

/// Why `cetx replay` stopped early; each has its exit code.
#[derive(Debug, thiserror::Error)]
pub enum ReplayFailure {
    /// The journal could not be read as it stands.
    #[error("{0}")]
    Journal(#[from] JournalError),
    /// The path given as the journal holds no journal segment.
    #[error("{} holds no journal (no journal-*.seg segment and no MANIFEST listing one): pass a server's journal directory, DATA_DIR/journal, or its data directory", path.display())]
    NoJournal {
        /// The path given.
        path: PathBuf,
    },
    /// The events of a followed entry do not replay onto the engine (when
    /// reading the journal as it stands, this is [`JournalError::Corrupt`],
    /// naming the file and offset).
    #[error("{0}")]
    Replay(#[from] ReplayError),
    /// An end of day names another date than its day was given when it
    /// began.
    #[error("{0}")]
    Misdated(#[from] MisdatedEndOfDay),
    /// The config given describes another market than the journal's.
    #[error("the config does not describe this journal's market: {0}")]
    ConfigDiffers(Difference),
    /// The journal ends in a damaged record inside a trading day that has
    /// ended, whose end of day is not in the journal.
    #[error("trading day {date} has ended by the calendar, but its end of day is not in the journal: the last whole record is seq {last_seq}{}, and the record after it, in {} at offset {offset}, fails its checks, and no whole record of a later group commit follows it. Records of a closed day may be missing: do not settle {date}; ask the exchange for the journal's tail (the server keeps what recovery cut off in journal/torn/)", last_end_of_day.map_or(String::new(), |seq| format!(" (the last end of day is seq {seq})")), file.display())]
    ClosedDayCut {
        /// The trading day, `YYYYMMDD`.
        date: u32,
        /// The last whole record's sequence number.
        last_seq: u64,
        /// The last end of day's sequence number, if there is one.
        last_end_of_day: Option<u64>,
        /// The segment with the damaged record.
        file: PathBuf,
        /// Where the damaged record starts.
        offset: u64,
    },
    /// The ledger disagrees with the engine, or value is not conserved.
    #[error("reconciliation failed: {0}")]
    Reconcile(#[from] ReconcileError),
    /// `--from-snapshot` and `--follow`: an entry followed selects the
    /// trading day the snapshot was taken in, whose entries before the
    /// snapshot were not read. (Reading the journal as it stands, the
    /// replay starts again from seq 1 instead.)
    #[error("the selection holds trading day {date}, and the snapshot the replay started from (after seq {snapshot_seq}) was taken during it: that day's entries before the snapshot were not read, so its figures would be short; replay without --from-snapshot")]
    SnapshotInSelection {
        /// The snapshot's sequence number.
        snapshot_seq: u64,
        /// The trading day, `YYYYMMDD`.
        date: u32,
    },
    /// Writing an output failed.
    #[error("writing {path}: {source}")]
    Output {
        /// The file or stream.
        path: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl ReplayFailure {
    /// The process exit code for this failure.
    #[must_use]
    pub const fn exit_code(&self) -> u8 {
        match self {
            Self::Journal(JournalError::Corrupt { .. } | JournalError::BadManifest { .. }) => {
                exit::CORRUPT
            }
            Self::Journal(JournalError::Gap { .. } | JournalError::MissingSegment { .. }) => {
                exit::GAP
            }
            Self::Replay(_) | Self::Misdated(_) => exit::CORRUPT,
            Self::Reconcile(_) => exit::RECONCILE,
            Self::ClosedDayCut { .. } => exit::CLOSED_DAY_CUT,
            Self::Journal(_)
            | Self::NoJournal { .. }
            | Self::ConfigDiffers(_)
            | Self::SnapshotInSelection { .. }
            | Self::Output { .. } => exit::FAILURE,
        }
    }
}

/// What a replay read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// The snapshot the replay started from (its sequence number): the
    /// entries before it were not read. `None`: read from seq 1.
    pub snapshot_seq: Option<u64>,
    /// Entries read, followed ones included.
    pub entries: u64,
    /// Last sequence number read.
    pub last_seq: u64,
    /// Sequence number of the last end of day read.
    pub last_end_of_day: Option<u64>,
    /// Of the entries, how many `--follow` read after the journal's end.
    pub followed: u64,
    /// The last sequence number at which the ledger was reconciled with
    /// the replayed engine: the journal's end as first read, then each end
    /// of day while following. Entries after it are settled (their
    /// clearing rows printed) but not yet reconciled.
    pub reconciled_seq: u64,
    /// Clearing rows written.
    pub rows: u64,
    /// A last record that fails its checks, with no whole record of a later
    /// group commit after it, where reading stopped (not settled): file and
    /// offset.
    pub torn_tail: Option<(PathBuf, u64)>,
}

/// The six reports, rendered and waiting for the journal to reconcile.
struct Rendered {
    clearing: Vec<u8>,
    tables: Tables,
}

/// The reports rendered from what was read: `days`, `accounts`,
/// `transfers`, `large_holders` and `auctions`.
struct Tables {
    days: Vec<u8>,
    accounts: Vec<u8>,
    transfers: Vec<u8>,
    large_holders: Vec<u8>,
    auctions: Vec<u8>,
}

/// Replays a journal and writes the reports; see the module docs.
///
/// `progress` is called with each entry's sequence number; `stop` ends
/// `--follow`.
///
/// # Errors
/// A [`ReplayFailure`]; [`ReplayFailure::exit_code`] gives its exit code.
pub fn run(
    args: &ReplayArgs,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
    stop: &AtomicBool,
) -> Result<ReplaySummary, ReplayFailure> {
    if journal_segments(&args.journal)?.is_empty() {
        return Err(ReplayFailure::NoJournal {
            path: args.journal.clone(),
        });
    }
    // Without `--out`, `--follow` makes standard output one stream of
    // clearing rows as they come, from the first.
    let layout = if args.follow && args.out.is_none() {
        args.format.lines(true)
    } else {
        args.format.table()
    };
    let (mut replayed, clearing, mut summary) = read_journal(args, layout, stderr, progress)?;
    if let Some(difference) = args
        .expected
        .as_ref()
        .and_then(|expected| replayed.engine.first_difference(expected))
    {
        return Err(ReplayFailure::ConfigDiffers(difference));
    }
    replayed.check()?;
    summary.reconciled_seq = summary.last_seq;
    // The journal's last trading day, and whether it has ended by the
    // calendar (its end of day is not in the journal).
    let date = replayed.dates.date(replayed.ledger.trading_day());
    let calendar = replayed
        .engine
        .calendar()
        .unwrap_or(&replayed.default_calendar);
    let ended = args
        .now_ns
        .is_some_and(|now| calendar.trading_date(now) > date);
    // What a damaged last record leaves known.
    let tail = summary
        .torn_tail
        .clone()
        .map(|(file, offset)| (file, offset, date, ended));
    // A closed day cut short is refused only where the selection holds
    // it: a `--day` before it is whole, and a follower waits for the
    // server, whose recovery cuts the damaged record and ends the day.
    let selects_cut = |date: u32| args.day.is_none_or(|day| day >= date);
    if let Some((file, offset, date, true)) =
        tail.as_ref().filter(|t| selects_cut(t.2) && !args.follow)
    {
        return Err(ReplayFailure::ClosedDayCut {
            date: *date,
            last_seq: summary.last_seq,
            last_end_of_day: summary.last_end_of_day,
            file: file.clone(),
            offset: *offset,
        });
    }

    let tables = replayed.reports(args.format)?;
    let rendered = Rendered {
        clearing: clearing.finish().map_err(output(ClearingLine::NAME))?,
        tables,
    };
    write_reports(args, &rendered, stdout, stderr)?;
    if let Some((file, offset, date, true)) = &tail {
        let what = if args.follow {
            "following: waiting for the server to recover its journal (recovery cuts the damaged record off, and the day's end of day follows); do not settle that day before it is in the journal".to_owned()
        } else {
            format!("the day selected is before it and whole; do not settle {date} (exit {} for it) until the exchange has recovered or restored the journal's tail", exit::CLOSED_DAY_CUT)
        };
        let note = format!(
            "note: trading day {date} has ended by the calendar, but its end of day is not in the journal: the last whole record is seq {}, and the record after it, in {} at offset {offset}, fails its checks, and no whole record of a later group commit follows it; {what}\n",
            summary.last_seq,
            file.display(),
        );
        write_stream(stderr, "stderr", note.as_bytes())?;
    } else if let Some((file, offset, date, false)) = &tail {
        let note = format!(
            "note: the journal's last whole record is seq {}{}; trading day {date}, open after it, has no end of day in the journal yet. The record after it, in {} at offset {offset}, fails its checks, and no whole record of a later group commit follows it, and is not settled: a write in progress (the server is running) or a write cut short by a crash, if trading day {date} has not ended; if it has, replay again (records of a closed day cut off exit {})\n",
            summary.last_seq,
            summary
                .last_end_of_day
                .map_or(String::new(), |seq| format!(" (the last end of day is seq {seq})")),
            file.display(),
            exit::CLOSED_DAY_CUT,
        );
        write_stream(stderr, "stderr", note.as_bytes())?;
    } else if ended && selects_cut(date) && summary.last_seq > 0 {
        // Whole to its end, and the day not ended in it: said, so that its
        // provisional lines are not taken for a day still trading (by a
        // follower too, which rewrites them when the end of day comes).
        let note = format!(
            "note: trading day {date} has ended by the calendar, but its end of day is not in the journal, which ends whole at seq {}: the server has not run it yet (it was not running at the close and runs it at its next start, or is about to, or its clock runs behind this machine's, as with `cetx serve --start-at` in the past), or the journal was cut off at a record's end; that day's lines are provisional: do not settle it until its end of day is in the journal\n",
            summary.last_seq
        );
        write_stream(stderr, "stderr", note.as_bytes())?;
    }
    if args.follow {
        replayed.follow(args, stdout, stop, &mut summary)?;
    }
    Ok(summary)
}

/// The clearing rows of what was read, waiting for the journal to
/// reconcile.
type Clearing = ReportWriter<Vec<u8>, ClearingLine>;

/// Reads the journal as it stands into the replay's state and the
/// clearing rows selected: with `--from-snapshot`, from the newest
/// snapshot that can start the selection ([`Replayed::after_snapshot`];
/// an older one is tried when the entries read show that one was taken
/// during a day the selection holds), else from seq 1. When
/// `--from-snapshot` finds none, a note on `stderr` says why before the
/// journal is read from seq 1 (so that a gap there is explained).
fn read_journal(
    args: &ReplayArgs,
    layout: Layout,
    stderr: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<(Replayed, Clearing, ReplaySummary), ReplayFailure> {
    let clearing = || ReportWriter::new(Vec::new(), layout).map_err(output(ClearingLine::NAME));
    if args.from_snapshot {
        let snapshots = list_snapshots(&args.journal)?;
        let mut passed = Vec::new();
        for (named, path) in &snapshots {
            let (mut replayed, reader) = match Replayed::after_snapshot(args, *named, path) {
                Ok(start) => start,
                Err(why) => {
                    passed.push(format!("{}: {why}", path.display()));
                    continue;
                }
            };
            let mut rows = clearing()?;
            match replayed.read(&args.journal, reader, &mut rows, progress) {
                Ok(mut summary) => {
                    summary.snapshot_seq = Some(*named);
                    if !passed.is_empty() {
                        // A newer snapshot that does not read is news to
                        // the registry, even if an older one did.
                        let note = format!(
                            "note: --from-snapshot started from the snapshot at seq {named}, passing over newer ones ({})\n",
                            passed.join("; ")
                        );
                        write_stream(stderr, "stderr", note.as_bytes())?;
                    }
                    return Ok((replayed, rows, summary));
                }
                // Only the entries read could tell: an older one may do.
                Err(ReplayFailure::SnapshotInSelection { date, .. }) => passed.push(format!(
                    "{}: it was taken during trading day {date}, which the selection holds",
                    path.display()
                )),
                Err(failure) => return Err(failure),
            }
        }
        let why = if snapshots.is_empty() {
            "the journal directory holds no snapshot".to_owned()
        } else {
            format!(
                "no snapshot is before the selection and usable ({})",
                passed.join("; ")
            )
        };
        let note = format!("note: --from-snapshot reads the journal from seq 1: {why}\n");
        write_stream(stderr, "stderr", note.as_bytes())?;
    }
    let mut replayed = Replayed::new(args);
    let mut rows = clearing()?;
    let reader = JournalReader::open(&args.journal)?;
    let summary = replayed.read(&args.journal, reader, &mut rows, progress)?;
    Ok((replayed, rows, summary))
}

/// What a replay keeps as it reads: the replaying engine, the ledger, the
/// dates and the window, and the instruments' symbols and price steps as
/// the journal lists them.
struct Replayed {
    engine: Engine,
    ledger: Ledger,
    dates: TradingDates,
    window: Window,
    symbols: Vec<String>,
    /// Each instrument's price step, to round a day's close so far as the
    /// engine rounds its own.
    steps: Vec<i64>,
    /// Dates a journal that sets no calendar.
    default_calendar: Calendar,
    /// The window's movements of cash and allowances that are not trades.
    transfers: Vec<TransferLine>,
    /// The window's crossings of a large-holder threshold.
    large_holders: Vec<LargeHolderLine>,
    /// The window's auction closes.
    auctions: Vec<AuctionLine>,
    /// Started from a snapshot taken during a trading day: the snapshot's
    /// sequence number and that day, whose entries before it were not
    /// read.
    partial_day: Option<(u64, u32)>,
}

impl Replayed {
    /// Nothing read yet: the replay of `args` from seq 1.
    fn new(args: &ReplayArgs) -> Self {
        Self {
            engine: Engine::default(),
            ledger: Ledger::new(0),
            dates: TradingDates::new(),
            window: Window::new(args.from_seq, args.day),
            symbols: Vec::new(),
            steps: Vec::new(),
            default_calendar: Calendar::default(),
            transfers: Vec::new(),
            large_holders: Vec::new(),
            auctions: Vec::new(),
            partial_day: None,
        }
    }

    /// The replay of `args` from the snapshot in `path`, named for seq
    /// `named`, and a reader at the entry after it; or why that snapshot
    /// cannot start it.
    ///
    /// A snapshot can if it reads and checks out, is tied to the journal's
    /// record at its sequence number (version 7 on), and is before the
    /// selection: before `--from-seq`, and of a day before `--day`'s (or
    /// on that day's eve: taken right after the end of day before it). A
    /// snapshot taken during a day that `--from-seq` selects, which only
    /// the entries read can tell, is found by [`Replayed::settle`].
    fn after_snapshot(
        args: &ReplayArgs,
        named: u64,
        path: &Path,
    ) -> Result<(Self, JournalReader), String> {
        if args.from_seq > 0 && named >= args.from_seq {
            return Err(format!(
                "it is of the state after seq {named}, not before the selection's first entry, seq {}",
                args.from_seq
            ));
        }
        let (seq, tie, state) = read_snapshot_tie(path)?;
        if seq != named {
            return Err(format!(
                "the file is named for seq {named} but holds the state after seq {seq}"
            ));
        }
        let tie = tie.ok_or("a snapshot older than version 7 is not tied to its journal record")?;
        let at = match tied_record(&args.journal, seq, tie)? {
            RecordAt::Found(Tie { offset, .. }) => (seq, offset),
            RecordAt::Archived => {
                return Err(format!(
                    "the journal's record at seq {seq} is in an archived segment"
                ))
            }
            RecordAt::Missing => {
                return Err(format!(
                    "the journal holds no readable record at seq {seq} (it, or a record before it in its segment, does not read, or the journal ends before it)"
                ))
            }
        };
        // The snapshot's own entry says whether it ended a day: the
        // snapshot is then on the eve of the next, with nothing of it.
        // Its segment is read from that record on: the records before it
        // are not this selection's.
        let mut reader =
            JournalReader::open_at(&args.journal, at, seq).map_err(|e| e.to_string())?;
        let mut events = Vec::new();
        let ended_a_day = match reader.next_into(&mut events).map_err(|e| e.to_string())? {
            Some((stamp, _)) if stamp.seq == seq => Event::ends_a_day(&events),
            _ => return Err(format!("the journal holds no readable record at seq {seq}")),
        };
        let default_calendar = Calendar::default();
        let calendar = state.calendar.as_ref().unwrap_or(&default_calendar);
        // The snapshot's day is the one after the last dated end of day:
        // its own time does not tell (an entry after the close but before
        // the end of day is still the closing day's).
        let Some(closed) = state.closed_date else {
            return Err(
                "it was taken before the journal's first dated end of day, so the date of its day is not known from it"
                    .to_owned(),
            );
        };
        let date = calendar.next_trading_date(closed).unwrap_or(0);
        let partial_day = (!ended_a_day).then_some(state.trading_day);
        match args.day {
            Some(day) if date > day && ended_a_day && closed == day => {
                return Err(format!(
                    "it was taken at the end of trading day {closed}, after that day's entries"
                ))
            }
            Some(day) if date > day => {
                return Err(format!(
                    "it was taken on trading day {date}, after the day selected"
                ))
            }
            Some(day) if date == day && partial_day.is_some() => {
                return Err(format!(
                    "it was taken during trading day {date}, which the selection holds"
                ))
            }
            _ => {}
        }
        // Rebuilt (its books and all) only once it is known to be used.
        let engine = Engine::from_state(&state).map_err(|e| e.to_string())?;
        let dates = TradingDates::after_snapshot(state.trading_day, date, state.closed_date);
        let mut replayed = Self {
            engine,
            ledger: Ledger::after_snapshot(&state, seq),
            dates,
            partial_day: partial_day.map(|day| (seq, day)),
            ..Self::new(args)
        };
        for i in 0..state.instruments.len() {
            let instrument = u16::try_from(i).map_err(|e| e.to_string())?;
            replayed.learn(InstrumentId(instrument));
        }
        Ok((replayed, reader))
    }

    /// Reads `reader`, on the journal in `dir`, to the journal's end (or a
    /// torn last record), writing the clearing rows the window selects
    /// into `clearing`.
    fn read<W: Write>(
        &mut self,
        dir: &Path,
        reader: JournalReader,
        clearing: &mut ReportWriter<W, ClearingLine>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ReplaySummary, ReplayFailure> {
        let mut summary = ReplaySummary {
            last_seq: self.ledger.last_seq(),
            ..ReplaySummary::default()
        };
        let mut reader = ReadAhead::start(dir, reader)?;
        let mut rows = Vec::new();
        let mut events = Vec::new();
        loop {
            let (stamp, command) = match reader.next_into(&mut events) {
                Ok(Some(entry)) => entry,
                Ok(None) => break,
                Err(JournalError::TornTail { file, offset, .. }) => {
                    summary.torn_tail = Some((file, offset));
                    break;
                }
                Err(e) => return Err(e.into()),
            };
            let entry = JournalEntry {
                stamp,
                command,
                events: std::mem::take(&mut events),
                operator: reader.operator(),
            };
            self.replay(&entry).map_err(|e| reader.corrupt_entry(&e))?;
            summary.rows += self.settle(&entry, &mut rows, clearing, ClearingLine::NAME)?;
            if Event::ends_a_day(&entry.events) {
                summary.last_end_of_day = Some(stamp.seq);
            }
            events = entry.events;
            events.clear();
            summary.entries += 1;
            summary.last_seq = stamp.seq;
            progress(stamp.seq);
        }
        Ok(summary)
    }

    /// Tails the journal after `summary.last_seq`, replaying and settling
    /// each entry as it appears and printing its clearing rows (CSV rows or
    /// JSON Lines), until `stop` is set. At each end of day the ledger is
    /// reconciled with the engine and, with `--out`, the days, accounts, transfers and large-holders
    /// files are rewritten (each atomically, by a rename). Counts what it
    /// did in `summary`.
    fn follow(
        &mut self,
        args: &ReplayArgs,
        stdout: &mut dyn Write,
        stop: &AtomicBool,
        summary: &mut ReplaySummary,
    ) -> Result<(), ReplayFailure> {
        let mut follower = JournalFollower::new(&args.journal, summary.last_seq + 1)
            .with_poll_interval(Duration::from_millis(20));
        // The header, if any, is already written.
        let mut clearing =
            ReportWriter::new(stdout, args.format.lines(false)).map_err(output("stdout"))?;
        let mut rows = Vec::new();
        for entry in follower.until(stop) {
            let entry = entry?;
            self.replay(&entry)?;
            let settled = self.settle(&entry, &mut rows, &mut clearing, "stdout")?;
            if settled > 0 {
                clearing.flush().map_err(output("stdout"))?;
                summary.rows += settled;
            }
            summary.entries += 1;
            summary.followed += 1;
            summary.last_seq = entry.stamp.seq;
            if Event::ends_a_day(&entry.events) {
                summary.last_end_of_day = Some(entry.stamp.seq);
                self.check()?;
                summary.reconciled_seq = entry.stamp.seq;
                if let Some(dir) = &args.out {
                    let tables = self.reports(args.format)?;
                    write_tables(dir, args.format, &tables)?;
                }
            }
        }
        clearing.finish().map_err(output("stdout"))?;
        Ok(())
    }

    /// Replays one entry onto the engine, and learns the instruments it
    /// lists or revises.
    fn replay(&mut self, entry: &JournalEntry) -> Result<(), ReplayError> {
        self.engine
            .replay(entry.stamp, &entry.command, &entry.events)?;
        for event in &entry.events {
            if let Event::InstrumentListed(band) | Event::InstrumentRevised(band) = event {
                self.learn(band.instrument);
            }
        }
        Ok(())
    }

    /// Learns the symbol and price step of an instrument the engine lists.
    fn learn(&mut self, instrument: InstrumentId) {
        let spec = self
            .engine
            .spec(instrument)
            .expect("the engine has just listed or revised it");
        let step_ticks = self
            .engine
            .book(instrument)
            .expect("a listed instrument has a book")
            .rules()
            .step_ticks;
        let i = usize::from(instrument.0);
        if i == self.symbols.len() {
            self.symbols.push(spec.symbol.clone());
            self.steps.push(step_ticks);
        } else {
            self.steps[i] = step_ticks;
        }
    }

    /// Checks that the ledger agrees with the replayed engine and that
    /// value is conserved.
    fn check(&self) -> Result<(), ReplayFailure> {
        self.ledger.reconcile(&self.engine.state())?;
        self.ledger.check_conservation()?;
        Ok(())
    }

    /// The days, accounts, transfers, large-holders and auctions reports
    /// as they stand (the window closed at the ledger's balances, if it is
    /// still open).
    fn reports(&mut self, format: Format) -> Result<Tables, ReplayFailure> {
        self.window.finish(&self.ledger);
        let days = day_report(
            format,
            &self.window,
            &self.dates,
            &self.ledger,
            &self.symbols,
            &self.steps,
        )
        .map_err(output(DayLine::NAME))?;
        let accounts = account_report(format, &self.window, &self.symbols)
            .map_err(output(AccountLine::NAME))?;
        let transfers = table(format, &self.transfers).map_err(output(TransferLine::NAME))?;
        let large_holders =
            table(format, &self.large_holders).map_err(output(LargeHolderLine::NAME))?;
        let auctions = table(format, &self.auctions).map_err(output(AuctionLine::NAME))?;
        Ok(Tables {
            days,
            accounts,
            transfers,
            large_holders,
            auctions,
        })
    }

    /// Dates and settles one entry, writing its clearing rows to
    /// `clearing` (named `to` in errors) if the window selects it. Returns
    /// how many it wrote.
    fn settle<W: Write>(
        &mut self,
        entry: &JournalEntry,
        rows: &mut Vec<ClearingRow>,
        clearing: &mut ReportWriter<W, ClearingLine>,
        to: &str,
    ) -> Result<u64, ReplayFailure> {
        let calendar = self.engine.calendar().unwrap_or(&self.default_calendar);
        self.dates
            .observe(calendar, entry.stamp, &entry.command, &entry.events)?;
        let today = self.dates.date(self.ledger.trading_day());
        let selected = self.window.enter(entry.stamp.seq, today, &self.ledger);
        if let Some((snapshot_seq, day)) = self.partial_day {
            if selected && self.ledger.trading_day() == day {
                return Err(ReplayFailure::SnapshotInSelection {
                    snapshot_seq,
                    date: today,
                });
            }
        }
        self.ledger.apply(entry, rows)?;
        if !selected {
            rows.clear();
            return Ok(0);
        }
        self.transfers
            .extend(transfer_lines(entry, today, &self.engine, &self.symbols));
        self.large_holders.extend(large_holder_lines(
            entry,
            today,
            &self.engine,
            &self.symbols,
        ));
        self.auctions
            .extend(auction_lines(entry, today, &self.engine, &self.symbols));
        let mut written = 0;
        for row in rows.drain(..) {
            self.window.trade(&row);
            let date = self.dates.date(row.trading_day);
            let line = ClearingLine::new(&row, date, symbol(&self.symbols, row.instrument));
            clearing.write(&line).map_err(output(to))?;
            written += 1;
        }
        Ok(written)
    }
}

/// The day report: the days the window covers, each instrument's figures.
fn day_report(
    format: Format,
    window: &Window,
    dates: &TradingDates,
    ledger: &Ledger,
    symbols: &[String],
    steps: &[i64],
) -> io::Result<Vec<u8>> {
    let mut days = ReportWriter::new(Vec::new(), format.table())?;
    for day in ledger.days() {
        let date = dates.date(day.trading_day);
        if window.covers(day.trading_day) {
            let step_ticks = steps[usize::from(day.instrument.0)];
            let line = DayLine::new(day, date, symbol(symbols, day.instrument), step_ticks);
            days.write(&line)?;
        }
    }
    days.finish()
}

/// The account report: every account at the window's close, by id, a
/// line per instrument listed by then (`symbols` are the journal's, which
/// may list more later).
fn account_report(format: Format, window: &Window, symbols: &[String]) -> io::Result<Vec<u8>> {
    let mut accounts = ReportWriter::new(Vec::new(), format.table())?;
    for account in window.accounts() {
        let listed = account.close_holdings_t.len();
        for (i, name) in symbols.iter().take(listed).enumerate() {
            accounts.write(&AccountLine::new(&account, i, name))?;
        }
    }
    accounts.finish()
}

/// Writes the reports to `--out`'s files, or the clearing file to `stdout`
/// and the reports to `stderr`.
fn write_reports(
    args: &ReplayArgs,
    rendered: &Rendered,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<(), ReplayFailure> {
    let tables = &rendered.tables;
    let Some(dir) = &args.out else {
        write_stream(stdout, "stdout", &rendered.clearing)?;
        write_stream(stderr, "stderr", &tables.days)?;
        write_stream(stderr, "stderr", &tables.accounts)?;
        write_stream(stderr, "stderr", &tables.transfers)?;
        write_stream(stderr, "stderr", &tables.large_holders)?;
        return write_stream(stderr, "stderr", &tables.auctions);
    };
    crate::journal::private::create_dir(dir).map_err(output(dir.display()))?;
    write_report(dir, ClearingLine::NAME, args.format, &rendered.clearing)?;
    write_tables(dir, args.format, tables)
}

/// Writes the days, accounts, transfers, large-holders and auctions files
/// into `dir`.
fn write_tables(dir: &Path, format: Format, tables: &Tables) -> Result<(), ReplayFailure> {
    for (name, bytes) in [
        (DayLine::NAME, &tables.days),
        (AccountLine::NAME, &tables.accounts),
        (TransferLine::NAME, &tables.transfers),
        (LargeHolderLine::NAME, &tables.large_holders),
        (AuctionLine::NAME, &tables.auctions),
    ] {
        write_report(dir, name, format, bytes)?;
    }
    Ok(())
}

/// A report of `lines`, in `format`'s table layout.
fn table<L: ReportLine>(format: Format, lines: &[L]) -> io::Result<Vec<u8>> {
    let mut out = ReportWriter::new(Vec::new(), format.table())?;
    for line in lines {
        out.write(line)?;
    }
    out.finish()
}

/// Writes the report `name` into `dir` atomically: to a temporary file in
/// the same directory, then renamed over the old one, so that a registry
/// reading it never sees half a file.
fn write_report(dir: &Path, name: &str, format: Format, bytes: &[u8]) -> Result<(), ReplayFailure> {
    let path = dir.join(format!("{name}.{}", format.extension()));
    let temporary = dir.join(format!(".{name}.{}.tmp", format.extension()));
    write_file(&temporary, bytes)?;
    std::fs::rename(&temporary, &path).map_err(output(path.display()))
}

/// Turns an I/O error writing `path` (a file, stream or report) into a
/// [`ReplayFailure::Output`].
fn output(path: impl std::fmt::Display) -> impl FnOnce(io::Error) -> ReplayFailure {
    move |source| ReplayFailure::Output {
        path: path.to_string(),
        source,
    }
}

/// Writes a temporary report file: created new and private (`0600`, no
/// symlink followed; see [`crate::journal::private`]).
fn write_file(path: &Path, contents: &[u8]) -> Result<(), ReplayFailure> {
    crate::journal::private::create_temporary(path)
        .and_then(|mut file| file.write_all(contents))
        .map_err(output(path.display()))
}

fn write_stream(stream: &mut dyn Write, name: &str, contents: &[u8]) -> Result<(), ReplayFailure> {
    stream
        .write_all(contents)
        .and_then(|()| stream.flush())
        .map_err(output(name))
}
