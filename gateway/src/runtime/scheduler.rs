//! The scheduler: the calendar's phase changes and end of day, as commands
//! for the sequencer.
//!
//! It lives inside the engine thread. On every turn of the engine loop (and
//! at least every [`super::sequencer::SCHEDULER_TICK`] when idle) the
//! sequencer asks it what is due up to the clock's time; it answers with
//! the commands of the transitions [`Calendar::resume`] finds due since it
//! last answered, and the sequencer applies them like any other,
//! journaled. Between two transitions it answers from one comparison,
//! without calling the calendar.
//!
//! On start the scheduler begins where the journal left off: the date its
//! last end of day closed and the time of its last entry
//! ([`Progress`]). The start-up applies what is due by then (a missed
//! close still ends its day, and each missed trading day gets its own end
//! of day) and brings every instrument to the phase the same
//! [`Calendar::resume`] gives ([`startup_phases`]), or to continuous
//! trading whatever the calendar says when the runtime is started with
//! `open_market_now`. So a clock behind the journal neither re-runs what
//! was journaled nor reopens a day that has ended: the start-up and the
//! scheduler cannot disagree.

use cetx_engine::{Calendar, Command, Engine, InstrumentId, Phase, Progress, Transition};

const NS_PER_S: i64 = 1_000_000_000;
const NS_PER_DAY: i64 = 86_400 * NS_PER_S;
/// How far ahead the scheduler looks for its next transition; a longer
/// closure than this (none is) only costs one more look.
const LOOKAHEAD_NS: i64 = 31 * NS_PER_DAY;

/// What is due from the calendar, and when it next will be.
#[derive(Debug)]
pub(super) struct Scheduler {
    calendar: Calendar,
    instruments: Vec<InstrumentId>,
    /// What has been handed out.
    progress: Progress,
    /// The next transition due after `progress` (or a time to look again).
    next_ns: i64,
}

impl Scheduler {
    /// A scheduler that has handed out everything up to `progress`.
    pub(super) fn new(
        calendar: Calendar,
        instruments: Vec<InstrumentId>,
        progress: Progress,
    ) -> Self {
        let mut scheduler = Self {
            calendar,
            instruments,
            progress,
            next_ns: progress.done_ns,
        };
        scheduler.next_ns = scheduler.next_due();
        scheduler
    }

    /// The commands due after the last call and up to `now_ns`, in order
    /// (none when the clock went back).
    pub(super) fn due(&mut self, now_ns: i64) -> Vec<Command> {
        if now_ns < self.next_ns {
            return Vec::new();
        }
        let resumed = self.calendar.resume(self.progress, now_ns);
        self.progress = resumed.progress;
        self.next_ns = self.next_due();
        commands(&resumed.due, &self.instruments)
    }

    /// Gives an instrument listed while the server runs the calendar's
    /// phases from the next transition on.
    pub(super) fn add(&mut self, instrument: InstrumentId) {
        if !self.instruments.contains(&instrument) {
            self.instruments.push(instrument);
        }
    }

    /// The phase the calendar asks for at `now_ns`, once what is due by
    /// then has been handed out.
    pub(super) fn phase(&self, now_ns: i64) -> Phase {
        self.calendar.resume(self.progress, now_ns).phase
    }

    /// The trading date the market is in by the journal, `YYYYMMDD`: the
    /// one after the last date closed, or the calendar's at the time
    /// handed out up to (after a restart, the journal's last entry's),
    /// whichever is later. So a clock behind the journal (a market started
    /// ahead with `--start-at`, restarted without it) leaves the market in
    /// the journal's day.
    pub(super) fn open_date(&self) -> u32 {
        let after_close = self
            .progress
            .closed_date
            .and_then(|closed| self.calendar.next_trading_date(closed))
            .unwrap_or(0);
        after_close.max(self.calendar.trading_date(self.progress.done_ns))
    }

    /// When the next transition is due (at once for an end of day missed
    /// before `progress.done_ns`).
    fn next_due(&self) -> i64 {
        let until = self.progress.done_ns.saturating_add(LOOKAHEAD_NS);
        self.calendar
            .resume(self.progress, until)
            .due
            .first()
            .map_or(until, |&(at_ns, _)| at_ns)
    }
}

/// The commands of these transitions for these instruments, in order: a
/// phase change for each instrument at each phase transition, and one
/// dated end of day at each end of day.
fn commands(due: &[(i64, Transition)], instruments: &[InstrumentId]) -> Vec<Command> {
    let mut commands = Vec::new();
    for &(_, transition) in due {
        match transition {
            Transition::Phase(phase) => commands.extend(
                instruments
                    .iter()
                    .map(|&instrument| Command::SetPhase { instrument, phase }),
            ),
            Transition::EndOfDay { trading_date } => commands.push(Command::EndOfDay {
                trading_date: Some(trading_date),
            }),
        }
    }
    commands
}

/// The phase changes that bring every instrument to the phase it should
/// have now: continuous trading when `open_market_now`, else the
/// scheduler's phase at `now_ns` ([`Scheduler::phase`]). A halted
/// instrument stays halted unless the market is opened by
/// `open_market_now`.
pub(super) fn startup_phases(
    engine: &Engine,
    scheduler: &Scheduler,
    now_ns: i64,
    open_market_now: bool,
) -> Vec<Command> {
    let target = if open_market_now {
        Phase::Continuous
    } else {
        scheduler.phase(now_ns)
    };
    scheduler
        .instruments
        .iter()
        .filter(|&&instrument| match engine.phase(instrument) {
            Some(Phase::Halted) => open_market_now,
            Some(phase) => phase != target,
            None => false,
        })
        .map(|&instrument| Command::SetPhase {
            instrument,
            phase: target,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nanoseconds of a Shanghai local time.
    fn cst(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        let local = chrono::NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap();
        (local.and_utc().timestamp() - 8 * 3_600) * NS_PER_S
    }

    fn scheduler(closed_date: Option<u32>, done_ns: i64) -> Scheduler {
        let progress = Progress {
            closed_date,
            done_ns,
        };
        Scheduler::new(Calendar::default(), vec![InstrumentId(0)], progress)
    }

    fn set_phase(phase: Phase) -> Command {
        Command::SetPhase {
            instrument: InstrumentId(0),
            phase,
        }
    }

    fn end_of_day(trading_date: u32) -> Command {
        Command::EndOfDay {
            trading_date: Some(trading_date),
        }
    }

    #[test]
    fn commands_name_every_instrument_then_one_dated_end_of_day() {
        let ids = [InstrumentId(0), InstrumentId(1)];
        let close = cst(2026, 11, 27, 15, 0);
        let due = Calendar::default()
            .resume(
                Progress {
                    closed_date: None,
                    done_ns: close - 1,
                },
                close,
            )
            .due;
        assert_eq!(
            commands(&due, &ids),
            vec![
                Command::SetPhase {
                    instrument: ids[0],
                    phase: Phase::Closed
                },
                Command::SetPhase {
                    instrument: ids[1],
                    phase: Phase::Closed
                },
                end_of_day(2026_11_27),
            ]
        );
    }

    #[test]
    fn the_scheduler_hands_out_each_transition_once() {
        // Friday 27 November 2026.
        let mut scheduler = scheduler(None, cst(2026, 11, 27, 9, 0));
        assert!(scheduler.due(cst(2026, 11, 27, 9, 29)).is_empty());
        assert_eq!(
            scheduler.due(cst(2026, 11, 27, 9, 30)),
            vec![set_phase(Phase::Continuous)]
        );
        assert!(scheduler.due(cst(2026, 11, 27, 9, 30)).is_empty());
        assert!(
            scheduler.due(cst(2026, 11, 27, 9, 0)).is_empty(),
            "clock back"
        );
        assert_eq!(scheduler.phase(cst(2026, 11, 27, 9, 0)), Phase::Continuous);
        // The rest of the day at once: break, reopen, close, end of day.
        let rest = scheduler.due(cst(2026, 11, 27, 23, 0));
        assert_eq!(rest.len(), 4);
        assert_eq!(rest[3], end_of_day(2026_11_27));
        assert_eq!(scheduler.open_date(), 2026_11_30);
        // The weekend has nothing; Monday opens.
        assert!(scheduler.due(cst(2026, 11, 30, 9, 0)).is_empty());
        assert_eq!(scheduler.due(cst(2026, 11, 30, 9, 30)).len(), 1);
    }

    #[test]
    fn a_clock_behind_a_closed_day_does_not_reopen_it() {
        // Wednesday 25 November closed at 15:00; the clock says 14:59:50.
        let closed = cst(2026, 11, 25, 15, 0);
        let mut scheduler = scheduler(Some(2026_11_25), closed);
        let now = closed - 10 * NS_PER_S;
        assert!(scheduler.due(now).is_empty());
        assert_eq!(scheduler.phase(now), Phase::Closed);
        assert_eq!(scheduler.open_date(), 2026_11_26);
        // Even with the journal's last entry before the close (an end of
        // day is never stamped before its moment, but the date decides).
        let scheduler_before = self::scheduler(Some(2026_11_25), closed - 60 * NS_PER_S);
        assert_eq!(scheduler_before.phase(now), Phase::Closed);
        // Nothing of Wednesday comes again; Thursday opens.
        assert!(scheduler.due(closed).is_empty());
        assert_eq!(
            scheduler.due(cst(2026, 11, 26, 9, 30)),
            vec![set_phase(Phase::Continuous)]
        );
    }

    #[test]
    fn an_end_of_day_missed_while_catching_up_is_still_due() {
        // Wednesday's end of day was journaled on Friday at 09:29, and
        // the server stopped before Thursday's.
        let friday = cst(2026, 11, 27, 9, 29);
        let mut scheduler = scheduler(Some(2026_11_25), friday);
        assert_eq!(scheduler.due(friday), vec![end_of_day(2026_11_26)]);
        assert!(scheduler.due(friday).is_empty(), "and only once");
        assert_eq!(scheduler.open_date(), 2026_11_27);
    }
}
