//! The scheduler: the calendar's phase changes and end of day, as commands
//! for the sequencer.
//!
//! It lives inside the engine thread. On every turn of the engine loop (and
//! at least every [`super::sequencer::SCHEDULER_TICK`] when idle) the
//! sequencer asks it what is due up to the clock's time; it answers with
//! the commands of the calendar's transitions ([`Calendar::transitions`])
//! in the window since it last answered, and the sequencer applies them
//! like any other, journaled. Between two
//! transitions it answers from one comparison, without calling the
//! calendar.
//!
//! On start the market is brought to where the calendar says it should be
//! ([`startup_phases`]): after the transitions missed while the server was
//! down (a missed close still ends its day), every instrument gets the
//! calendar's phase for now, or continuous trading whatever the calendar
//! says when the runtime is started with `open_market_now`.

use cetx_engine::{Calendar, Command, Engine, InstrumentId, Phase, Transition};

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
    /// Everything due up to and including this time has been handed out.
    last_ns: i64,
    /// The next transition after `last_ns` (or a time to look again).
    next_ns: i64,
}

impl Scheduler {
    /// A scheduler that has handed out everything up to `last_ns`.
    pub(super) fn new(calendar: Calendar, instruments: Vec<InstrumentId>, last_ns: i64) -> Self {
        let mut scheduler = Self {
            calendar,
            instruments,
            last_ns,
            next_ns: last_ns,
        };
        scheduler.next_ns = scheduler.next_after(last_ns);
        scheduler
    }

    /// The commands due after the last call and up to `now_ns`, in order
    /// (none when the clock went back).
    pub(super) fn due(&mut self, now_ns: i64) -> Vec<Command> {
        if now_ns < self.next_ns {
            return Vec::new();
        }
        let commands = due(&self.calendar, self.last_ns, now_ns, &self.instruments);
        self.last_ns = now_ns;
        self.next_ns = self.next_after(now_ns);
        commands
    }

    fn next_after(&self, after_ns: i64) -> i64 {
        let until = after_ns.saturating_add(LOOKAHEAD_NS);
        self.calendar
            .transitions(after_ns, until)
            .first()
            .map_or(until, |&(at_ns, _)| at_ns)
    }
}

/// The commands due in `(after_ns, until_ns]` for these instruments, in
/// order: a phase change for each instrument at each transition, and one
/// end of day.
fn due(
    calendar: &Calendar,
    after_ns: i64,
    until_ns: i64,
    instruments: &[InstrumentId],
) -> Vec<Command> {
    let mut commands = Vec::new();
    for (_, transition) in calendar.transitions(after_ns, until_ns) {
        match transition {
            Transition::Phase(phase) => commands.extend(
                instruments
                    .iter()
                    .map(|&instrument| Command::SetPhase { instrument, phase }),
            ),
            Transition::EndOfDay => commands.push(Command::EndOfDay),
        }
    }
    commands
}

/// The phase changes that bring every instrument to the phase it should
/// have now: continuous trading when `open_market_now`, else the
/// calendar's phase at `now_ns`. A halted instrument stays halted unless
/// the market is opened by `open_market_now`.
pub(super) fn startup_phases(
    engine: &Engine,
    calendar: &Calendar,
    instruments: &[InstrumentId],
    now_ns: i64,
    open_market_now: bool,
) -> Vec<Command> {
    let target = if open_market_now {
        Phase::Continuous
    } else {
        calendar.phase_at(now_ns)
    };
    instruments
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

    #[test]
    fn due_names_every_instrument_then_one_end_of_day() {
        let ids = [InstrumentId(0), InstrumentId(1)];
        let close = cst(2026, 11, 27, 15, 0);
        assert_eq!(
            due(&Calendar::default(), close - 1, close, &ids),
            vec![
                Command::SetPhase {
                    instrument: ids[0],
                    phase: Phase::Closed
                },
                Command::SetPhase {
                    instrument: ids[1],
                    phase: Phase::Closed
                },
                Command::EndOfDay,
            ]
        );
    }

    #[test]
    fn the_scheduler_hands_out_each_transition_once() {
        let ids = vec![InstrumentId(0)];
        // Friday 27 November 2026.
        let mut scheduler = Scheduler::new(Calendar::default(), ids, cst(2026, 11, 27, 9, 0));
        assert!(scheduler.due(cst(2026, 11, 27, 9, 29)).is_empty());
        assert_eq!(
            scheduler.due(cst(2026, 11, 27, 9, 30)),
            vec![Command::SetPhase {
                instrument: InstrumentId(0),
                phase: Phase::Continuous
            }]
        );
        assert!(scheduler.due(cst(2026, 11, 27, 9, 30)).is_empty());
        assert!(
            scheduler.due(cst(2026, 11, 27, 9, 0)).is_empty(),
            "clock back"
        );
        // The rest of the day at once: break, reopen, close, end of day.
        let rest = scheduler.due(cst(2026, 11, 27, 23, 0));
        assert_eq!(rest.len(), 4);
        assert_eq!(rest[3], Command::EndOfDay);
        // The weekend has nothing; Monday opens.
        assert!(scheduler.due(cst(2026, 11, 30, 9, 0)).is_empty());
        assert_eq!(scheduler.due(cst(2026, 11, 30, 9, 30)).len(), 1);
    }
}
