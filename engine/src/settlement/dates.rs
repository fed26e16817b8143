//! The calendar date of each of the engine's trading days, which the
//! journal only numbers (from 0).
//!
//! The dates are learnt from the journal itself: day 0 is the trading day
//! at the first entry's time; an end of day names the date it closes (tag
//! 17, see `docs/JOURNAL.md`), which dates the day it ends, and the day it
//! starts is the next trading date after it. An undated end of day (tag 4,
//! journals written before dates were journaled) dates the day it starts
//! by its own time instead: the trading day at that time. Both by the
//! exchange's [`Calendar`] as the journal set it by then (the default
//! calendar, UTC+8, for a journal that sets none). A calendar set after a
//! dated end of day dates the day it started anew, as the next trading
//! date after the one closed by the new calendar: a holiday added for the
//! day that had been foreseen moves it to the one its own end of day will
//! name (a server refuses a calendar that would re-date a day that has
//! begun, so no entry of the day was dated otherwise); after an undated
//! one, as the trading date at that end of day's time by the new
//! calendar.
//!
//! A day that a dated end of day began, dated so, must be the date its own
//! end of day names: a server dates both by one calendar, and catches up a
//! close missed while it was down with an end of day of its own. One that
//! names another date would date the day's trades one way and its figures
//! another, so it is refused ([`MisdatedEndOfDay`]). No current server
//! writes one: its catch-up ends every trading day after the last date
//! closed, however long before the journal's last entry
//! ([`Calendar::resume`]). Older builds looked back only a month before
//! that entry, so a start that journaled entries more than a month after
//! a missed close and stopped before its catch-up's ends of day were on
//! disk left the next start to skip the days between; the refusal stays
//! for their journals.

use crate::calendar::Calendar;
use crate::command::{Command, Stamp};
use crate::event::Event;

/// An end of day that names another date than the one its trading day
/// was given when it began (see the module docs for when a server writes
/// one).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the end of day at seq {seq} names {named}, but its trading day began dated {began}, the next trading date after {closed_before} (the date the end of day before it named) by the journal's calendar: the day's trades and its figures would be dated apart, so the journal is not settled: ask the exchange (no current server writes this; an older build did when a start more than a month after a missed close stopped before its catch-up was on disk)"
)]
pub struct MisdatedEndOfDay {
    /// The end of day's sequence number.
    pub seq: u64,
    /// The date it names.
    pub named: u32,
    /// The date its day was given when it began.
    pub began: u32,
    /// The date the end of day that began the day named.
    pub closed_before: u32,
}

/// `YYYYMMDD` by the engine's trading day number, learnt entry by entry.
#[derive(Clone, Debug, Default)]
pub struct TradingDates {
    /// `YYYYMMDD` by the engine's day number, from day `base` on.
    dates: Vec<u32>,
    /// The date the last end of day named, when it named one: the last
    /// day is the next trading date after it.
    closed: Option<u32>,
    /// The time of the last end of day when it named no date (tag 4): the
    /// last day is the trading date at that time.
    undated_at: Option<i64>,
    /// The first day dated: 0 from the journal's start, or the day a
    /// snapshot was taken in (the days before it are not known).
    base: u32,
}

impl TradingDates {
    /// No dates yet.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            dates: Vec::new(),
            closed: None,
            undated_at: None,
            base: 0,
        }
    }

    /// The dates as they stand after a snapshot of the engine on its day
    /// `trading_day`, dated `date`, when the last dated end of day had
    /// closed `closed_date`. Days before it are not dated (0): a replay
    /// from the snapshot settles nothing of them.
    #[must_use]
    pub fn after_snapshot(trading_day: u32, date: u32, closed_date: Option<u32>) -> Self {
        Self {
            dates: vec![date],
            closed: closed_date,
            undated_at: None,
            base: trading_day,
        }
    }

    /// Takes note of one entry, in journal order, under `calendar` (the
    /// journal's, after this entry).
    ///
    /// # Errors
    /// [`MisdatedEndOfDay`] when a dated end of day names another date
    /// than the one its day was given when a dated end of day began it.
    pub fn observe(
        &mut self,
        calendar: &Calendar,
        stamp: Stamp,
        command: &Command,
        events: &[Event],
    ) -> Result<(), MisdatedEndOfDay> {
        if self.dates.is_empty() {
            self.dates.push(calendar.trading_date(stamp.time_ns));
        }
        let closed = match *command {
            Command::EndOfDay { trading_date } => trading_date,
            Command::SetCalendar(_) => {
                // The day the last end of day started, dated again by the
                // new calendar, as that end of day dated it.
                let day = self.dates.len() - 1;
                if let Some(closed) = self.closed {
                    self.dates[day] = calendar.next_trading_date(closed).unwrap_or(0);
                } else if let Some(at) = self.undated_at {
                    self.dates[day] = calendar.trading_date(at);
                }
                None
            }
            _ => None,
        };
        for event in events {
            if let Event::DayStarted(started) = event {
                let day = started.trading_day;
                let date = match closed {
                    Some(closed) => {
                        let ended = day.saturating_sub(1);
                        let began = self.date(ended);
                        if let Some(closed_before) = self.closed {
                            if began != 0 && began != closed {
                                return Err(MisdatedEndOfDay {
                                    seq: stamp.seq,
                                    named: closed,
                                    began,
                                    closed_before,
                                });
                            }
                        }
                        self.set(ended, closed);
                        calendar.next_trading_date(closed).unwrap_or(0)
                    }
                    None => calendar.trading_date(stamp.time_ns),
                };
                self.set(day, date);
                self.closed = closed;
                self.undated_at = closed.is_none().then_some(stamp.time_ns);
            }
        }
        Ok(())
    }

    /// Dates the engine's day `day` (a day before the first one dated is
    /// not kept). Days are started one after the other (replay checks
    /// it), so this grows the list by one at a time.
    fn set(&mut self, day: u32, date: u32) {
        let Some(at) = self.place(day) else {
            return;
        };
        if at >= self.dates.len() {
            self.dates.resize(at + 1, 0);
        }
        self.dates[at] = date;
    }

    /// Where day `day` is kept in `dates`, if it is not before the first.
    fn place(&self, day: u32) -> Option<usize> {
        day.checked_sub(self.base)
            .and_then(|at| usize::try_from(at).ok())
    }

    /// The date of the engine's day `day`, `YYYYMMDD` (0 if the journal
    /// never named it, or names it before the snapshot it was read from).
    #[must_use]
    pub fn date(&self, day: u32) -> u32 {
        self.place(day)
            .and_then(|at| self.dates.get(at))
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::DayStarted;

    /// Nanoseconds since the epoch of a Beijing time on a day of
    /// November 2026.
    fn beijing(day: u32, hour: u32, minute: u32) -> i64 {
        let local = chrono::NaiveDate::from_ymd_opt(2026, 11, day)
            .and_then(|d| d.and_hms_opt(hour, minute, 0))
            .expect("a valid time");
        (local.and_utc().timestamp() - 8 * 3_600) * 1_000_000_000
    }

    const UNDATED: Command = Command::EndOfDay { trading_date: None };

    fn dated(trading_date: u32) -> Command {
        Command::EndOfDay {
            trading_date: Some(trading_date),
        }
    }

    fn started(trading_day: u32) -> [Event; 1] {
        [Event::DayStarted(DayStarted { trading_day })]
    }

    #[test]
    fn an_undated_end_of_day_dates_the_next_day_by_its_time() {
        let calendar = Calendar::default();
        let mut dates = TradingDates::new();
        let stamp = |seq, time_ns| Stamp { seq, time_ns };
        // Friday 27 November, in the morning session: day 0.
        dates
            .observe(&calendar, stamp(1, beijing(27, 9, 30)), &UNDATED, &[])
            .unwrap();
        // Friday's end of day, after the close: the next day is Monday.
        dates
            .observe(
                &calendar,
                stamp(2, beijing(27, 15, 5)),
                &UNDATED,
                &started(1),
            )
            .unwrap();
        // Monday's end of day: Tuesday.
        dates
            .observe(
                &calendar,
                stamp(3, beijing(30, 15, 5)),
                &UNDATED,
                &started(2),
            )
            .unwrap();
        assert_eq!(dates.date(0), 2026_11_27);
        assert_eq!(dates.date(1), 2026_11_30);
        assert_eq!(dates.date(2), 2026_12_01);
        assert_eq!(dates.date(3), 0, "a day the journal never started");
    }

    #[test]
    fn dated_end_of_days_caught_up_at_once_date_each_day() {
        let calendar = Calendar::default();
        let mut dates = TradingDates::new();
        let stamp = |seq| Stamp {
            seq,
            time_ns: beijing(if seq == 1 { 25 } else { 27 }, 9, 29),
        };
        // Wednesday 25 November; then, all on Friday at 09:29, the ends
        // of Wednesday and Thursday.
        dates.observe(&calendar, stamp(1), &UNDATED, &[]).unwrap();
        dates
            .observe(&calendar, stamp(2), &dated(2026_11_25), &started(1))
            .unwrap();
        dates
            .observe(&calendar, stamp(3), &dated(2026_11_26), &started(2))
            .unwrap();
        assert_eq!(dates.date(0), 2026_11_25);
        assert_eq!(dates.date(1), 2026_11_26);
        assert_eq!(dates.date(2), 2026_11_27);
        // Friday's own end of day names Friday, and Monday follows.
        dates
            .observe(&calendar, stamp(4), &dated(2026_11_27), &started(3))
            .unwrap();
        assert_eq!(dates.date(2), 2026_11_27);
        assert_eq!(dates.date(3), 2026_11_30);
    }

    /// After a dated end of day, and after an undated one too (an outside
    /// registry: its trades were dated the day foreseen, its day's line
    /// the day its dated end of day named).
    #[test]
    fn a_calendar_set_after_a_close_dates_the_day_it_started_anew() {
        let stamp = |seq, time_ns| Stamp { seq, time_ns };
        let default = Calendar::default();
        // Thursday made a holiday before it began: the day is Friday's.
        let mut closure = Calendar::default();
        closure
            .holidays
            .insert(chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap());
        let set = Command::SetCalendar(Box::new(closure.clone()));
        for close in [dated(2026_11_25), UNDATED] {
            let mut dates = TradingDates::new();
            // Wednesday 25 November closes; Thursday is foreseen.
            dates
                .observe(&default, stamp(1, beijing(25, 9, 30)), &UNDATED, &[])
                .unwrap();
            let closed = stamp(2, beijing(25, 15, 5));
            dates
                .observe(&default, closed, &close, &started(1))
                .unwrap();
            assert_eq!(dates.date(1), 2026_11_26, "{close:?}");
            dates
                .observe(&closure, stamp(3, beijing(25, 15, 10)), &set, &[])
                .unwrap();
            assert_eq!(dates.date(1), 2026_11_27, "{close:?}");
            assert_eq!(dates.date(0), 2026_11_25, "{close:?}");
            // The day's own end of day, dated, names the same.
            let end = stamp(4, beijing(27, 15, 5));
            dates
                .observe(&closure, end, &dated(2026_11_27), &started(2))
                .unwrap();
            assert_eq!(dates.date(1), 2026_11_27, "{close:?}");
        }
    }

    /// A day begun by a dated end of day, whose own end of day names
    /// another date: its trades were dated the one, its figures would be
    /// the other.
    #[test]
    fn an_end_of_day_naming_another_date_than_its_day_began_is_refused() {
        let calendar = Calendar::default();
        let mut dates = TradingDates::new();
        let stamp = |seq| Stamp {
            seq,
            time_ns: beijing(25, 9, 29),
        };
        dates.observe(&calendar, stamp(1), &UNDATED, &[]).unwrap();
        // Wednesday closes: Thursday begins.
        dates
            .observe(&calendar, stamp(2), &dated(2026_11_25), &started(1))
            .unwrap();
        assert_eq!(dates.date(1), 2026_11_26);
        // Thursday's end of day names Friday.
        let misdated = dates.observe(&calendar, stamp(3), &dated(2026_11_27), &started(2));
        assert_eq!(
            misdated,
            Err(MisdatedEndOfDay {
                seq: 3,
                named: 2026_11_27,
                began: 2026_11_26,
                closed_before: 2026_11_25,
            })
        );
    }
}
