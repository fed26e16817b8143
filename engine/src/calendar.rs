//! The trading calendar: which transitions (phase changes and the end of
//! day) are due at a given time.
//!
//! The exchange trades Monday to Friday, 09:30–11:30 and 13:00–15:00
//! Asia/Shanghai (UTC+8, no daylight saving), except on announced holidays
//! (`docs/CEA_RULES.md` §2). [`Calendar::transitions`] is a pure function
//! from a time window to the transitions whose moment falls inside it: the
//! server's scheduler calls it with the wall clock and turns them into
//! commands, tests and replays call it with any time they like. The engine
//! itself never reads a clock.
//!
//! [`Calendar::resume`] adds what the journal knows (the date its last end
//! of day closed, the time of its last entry) to that: it is the one rule
//! by which the server's start-up and its scheduler decide what is due
//! and which phase the market should be in, so that a clock behind the
//! journal re-runs nothing and reopens no day that has ended.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike, Weekday};
use serde::{Deserialize, Serialize};

use crate::phase::Phase;

const NS_PER_S: i64 = 1_000_000_000;
const S_PER_DAY: i64 = 86_400;

/// One continuous-trading window of a day, in local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// When continuous trading starts.
    pub open: NaiveTime,
    /// When it stops.
    pub close: NaiveTime,
}

/// The exchange's trading days and hours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// Offset of exchange time from UTC, in seconds (UTC+8: 28,800).
    pub utc_offset_s: i32,
    /// The day's trading windows in order; the gaps between them are breaks.
    pub sessions: Vec<Session>,
    /// Weekdays on which the exchange is closed.
    #[serde(default)]
    pub holidays: BTreeSet<NaiveDate>,
}

impl Default for Calendar {
    /// Asia/Shanghai, 09:30–11:30 and 13:00–15:00, no holidays configured.
    fn default() -> Self {
        let at = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time");
        Self {
            utc_offset_s: 8 * 3_600,
            sessions: vec![
                Session {
                    open: at(9, 30),
                    close: at(11, 30),
                },
                Session {
                    open: at(13, 0),
                    close: at(15, 0),
                },
            ],
            holidays: BTreeSet::new(),
        }
    }
}

/// Something the calendar says should happen at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Every instrument enters this phase.
    Phase(Phase),
    /// The trading day ends: expire orders, close, roll the day.
    EndOfDay {
        /// The trading date it closes, `YYYYMMDD`.
        trading_date: u32,
    },
}

/// How far a market's journal has taken the calendar: what
/// [`Calendar::resume`] needs to know of the market besides the time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The last trading date whose end of day the journal holds,
    /// `YYYYMMDD`; `None` before the first dated end of day.
    pub closed_date: Option<u32>,
    /// Every transition up to this time has been handed out (after a
    /// restart: the time of the journal's last entry).
    pub done_ns: i64,
}

/// What the calendar asks of a market at a moment; see
/// [`Calendar::resume`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resumed {
    /// The transitions due, in order, each with its moment.
    pub due: Vec<(i64, Transition)>,
    /// The phase the market should be in once they are applied.
    pub phase: Phase,
    /// The progress once they are applied.
    pub progress: Progress,
}

impl Calendar {
    /// Whether the exchange trades on this local date.
    #[must_use]
    pub fn is_trading_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&date)
    }

    /// The transitions of one trading day, as local times in order:
    /// continuous at each open, a break between sessions, closed and end
    /// of day at the last close.
    fn day_plan(&self) -> Vec<(NaiveTime, Transition)> {
        let mut plan = Vec::with_capacity(self.sessions.len() * 2 + 1);
        for (i, session) in self.sessions.iter().enumerate() {
            plan.push((session.open, Transition::Phase(Phase::Continuous)));
            let last = i + 1 == self.sessions.len();
            let after = if last { Phase::Closed } else { Phase::Break };
            plan.push((session.close, Transition::Phase(after)));
            if last {
                // Dated when the plan is laid on a day.
                plan.push((session.close, Transition::EndOfDay { trading_date: 0 }));
            }
        }
        plan
    }

    /// Transitions whose moment is in `(after_ns, until_ns]`, in time order,
    /// each with its moment in nanoseconds since the Unix epoch.
    #[must_use]
    pub fn transitions(&self, after_ns: i64, until_ns: i64) -> Vec<(i64, Transition)> {
        let offset_ns = i64::from(self.utc_offset_s) * NS_PER_S;
        let local_day = |ns: i64| (ns + offset_ns).div_euclid(NS_PER_S * S_PER_DAY);
        let plan = self.day_plan();
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        let mut due = Vec::new();
        if until_ns <= after_ns {
            return due;
        }
        for day in local_day(after_ns)..=local_day(until_ns) {
            let Some(date) = epoch.checked_add_signed(chrono::TimeDelta::days(day)) else {
                continue;
            };
            if !self.is_trading_day(date) {
                continue;
            }
            for &(time, mut transition) in &plan {
                let local_s = day * S_PER_DAY + i64::from(time.num_seconds_from_midnight());
                let at_ns = local_s * NS_PER_S - offset_ns;
                if let Transition::EndOfDay { trading_date } = &mut transition {
                    *trading_date = date_number(date);
                }
                if after_ns < at_ns && at_ns <= until_ns {
                    due.push((at_ns, transition));
                }
            }
        }
        due
    }

    /// The trading day at `time_ns` as a date, `YYYYMMDD`: today (exchange
    /// time) when it is a trading day and its last session has not
    /// closed, else the next trading day. Orders entered then belong to
    /// that day, and the end of day that follows it is the one that
    /// expires them. 0 for a time outside the dates chrono knows.
    #[must_use]
    pub fn trading_date(&self, time_ns: i64) -> u32 {
        let local_ns = time_ns.saturating_add(i64::from(self.utc_offset_s) * NS_PER_S);
        let day = local_ns.div_euclid(NS_PER_S * S_PER_DAY);
        let second = local_ns.rem_euclid(NS_PER_S * S_PER_DAY) / NS_PER_S;
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
        let Some(today) = epoch.checked_add_signed(chrono::TimeDelta::days(day)) else {
            return 0;
        };
        let closed_for_today = self
            .sessions
            .last()
            .is_none_or(|s| second >= i64::from(s.close.num_seconds_from_midnight()));
        let mut date = today;
        if closed_for_today || !self.is_trading_day(date) {
            // No trading day within two years is not a calendar but a
            // mistake: name today.
            date = self.next_trading_day(today).unwrap_or(today);
        }
        date_number(date)
    }

    /// The first trading date after `date` (`YYYYMMDD`), or `None` for a
    /// number that is no date, or no trading date within two years.
    #[must_use]
    pub fn next_trading_date(&self, date: u32) -> Option<u32> {
        self.next_trading_day(date_of(date)?).map(date_number)
    }

    /// The first trading day after `date`, looking two years ahead.
    fn next_trading_day(&self, date: NaiveDate) -> Option<NaiveDate> {
        date.iter_days()
            .skip(1)
            .take(732)
            .find(|d| self.is_trading_day(*d))
    }

    /// What the calendar asks at `now_ns` of a market whose journal got as
    /// far as `progress`: the one rule by which both the start-up and the
    /// scheduler bring the market to where it should be.
    ///
    /// The journal's state wins for the days it covers, and the clock
    /// never re-runs what it journaled:
    /// - due are the transitions after `progress.done_ns` up to `now_ns`
    ///   (none when the clock is behind), except those of a trading date
    ///   the journal has closed;
    /// - and every end of day of a trading date after
    ///   `progress.closed_date` whose moment has passed, however long
    ///   before `done_ns`, each dated by the calendar: a day missed while
    ///   the server was down, or while it caught up (a start that
    ///   journaled entries stamped later, then stopped before its
    ///   catch-up's ends of day were on disk), still gets its own, so
    ///   that each end of day names the date its day began with;
    /// - the phase is the calendar's at `now_ns`, or at `done_ns` when the
    ///   clock is behind the journal, and closed during the sessions of a
    ///   date the journal has closed.
    ///
    /// The work is a walk of one step a calendar day from the day after
    /// `closed_date` (or from `done_ns`, whichever is earlier; from
    /// `done_ns` when no date is closed) to `now_ns`: the days the market
    /// has gone without a close, which a start after that long down walks
    /// anyway. It has no shorter bound on purpose: one that stopped short
    /// of `closed_date` would skip those days' ends of day and leave a
    /// journal whose next end of day names another date than its day
    /// began with, which `cetx replay` refuses
    /// ([`MisdatedEndOfDay`](crate::settlement::MisdatedEndOfDay)). A
    /// decade is 3,653 steps; no journal holds a date outside the
    /// nanosecond clock's years (1677 to 2262), so the walk never passes
    /// them (a `closed_date` that names no such date is taken from
    /// `done_ns`, as with none).
    #[must_use]
    pub fn resume(&self, progress: Progress, now_ns: i64) -> Resumed {
        let Progress {
            closed_date,
            done_ns,
        } = progress;
        let open = |date: u32| closed_date.is_none_or(|closed| date > closed);
        // Ends of day missed before `done_ns`: every one after the last
        // date the journal closed, however old.
        let from_ns = closed_date
            .and_then(|closed| self.day_after_starts_ns(closed))
            .map_or(done_ns, |after_ns| after_ns.min(done_ns));
        let due: Vec<_> = self
            .transitions(from_ns, now_ns)
            .into_iter()
            .filter(|&(at_ns, transition)| match transition {
                Transition::Phase(_) => {
                    at_ns > done_ns && open(self.trading_date(at_ns.saturating_sub(1)))
                }
                Transition::EndOfDay { trading_date } => open(trading_date),
            })
            .collect();
        let closed_date = due
            .iter()
            .rev()
            .find_map(|&(_, t)| match t {
                Transition::EndOfDay { trading_date } => Some(trading_date),
                Transition::Phase(_) => None,
            })
            .or(closed_date);
        let at_ns = now_ns.max(done_ns);
        let phase = if open(self.trading_date(at_ns)) {
            self.phase_at(at_ns)
        } else {
            Phase::Closed
        };
        Resumed {
            due,
            phase,
            progress: Progress {
                closed_date,
                done_ns: at_ns,
            },
        }
    }

    /// The moment the local day after `date` (`YYYYMMDD`) begins,
    /// less a nanosecond, so that a window opened there holds each of
    /// that day's transitions; `None` for a number that is no date, or a
    /// day outside the nanosecond clock's years.
    fn day_after_starts_ns(&self, date: u32) -> Option<i64> {
        let midnight = date_of(date)?.succ_opt()?.and_time(NaiveTime::MIN);
        midnight
            .and_utc()
            .timestamp_nanos_opt()?
            .checked_sub(i64::from(self.utc_offset_s) * NS_PER_S)?
            .checked_sub(1)
    }

    /// The phase the calendar prescribes at a moment.
    #[must_use]
    pub fn phase_at(&self, time_ns: i64) -> Phase {
        let offset_ns = i64::from(self.utc_offset_s) * NS_PER_S;
        let local_ns = time_ns + offset_ns;
        let day = local_ns.div_euclid(NS_PER_S * S_PER_DAY);
        let second = local_ns.rem_euclid(NS_PER_S * S_PER_DAY) / NS_PER_S;
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        let trading = epoch
            .checked_add_signed(chrono::TimeDelta::days(day))
            .is_some_and(|date| self.is_trading_day(date));
        if !trading {
            return Phase::Closed;
        }
        let secs = |t: NaiveTime| i64::from(t.num_seconds_from_midnight());
        let (Some(first), Some(last)) = (self.sessions.first(), self.sessions.last()) else {
            return Phase::Closed;
        };
        if second < secs(first.open) || second >= secs(last.close) {
            Phase::Closed
        } else if self
            .sessions
            .iter()
            .any(|s| secs(s.open) <= second && second < secs(s.close))
        {
            Phase::Continuous
        } else {
            Phase::Break
        }
    }
}

/// A date as `YYYYMMDD` (0 for a year before 0).
fn date_number(date: NaiveDate) -> u32 {
    let (y, m, d) = (date.year(), date.month(), date.day());
    u32::try_from(y).map_or(0, |y| y * 10_000 + m * 100 + d)
}

/// The date a `YYYYMMDD` number names, if it names one.
#[must_use]
pub fn date_of(number: u32) -> Option<NaiveDate> {
    let year = i32::try_from(number / 10_000).ok()?;
    NaiveDate::from_ymd_opt(year, number / 100 % 100, number % 100)
}

#[cfg(test)]
mod tests;
