//! The trading calendar: which transitions (phase changes and the end of
//! day) are due at a given time.
//!
//! The exchange trades Monday to Friday, 09:30–11:30 and 13:00–15:00
//! Asia/Shanghai (UTC+8, no daylight saving), except on announced holidays
//! (`shared/CEA_RULES.md` §2). [`Calendar::transitions`] is a pure function
//! from a time window to the transitions whose moment falls inside it: the
//! server's scheduler calls it with the wall clock and turns them into
//! commands, tests and replays call it with any time they like. The engine
//! itself never reads a clock.

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
    EndOfDay,
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
                plan.push((session.close, Transition::EndOfDay));
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
            for &(time, transition) in &plan {
                let local_s = day * S_PER_DAY + i64::from(time.num_seconds_from_midnight());
                let at_ns = local_s * NS_PER_S - offset_ns;
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
            // Two years of closures in a row is not a calendar but a
            // mistake: stop looking and name today.
            date = today
                .iter_days()
                .skip(1)
                .take(732)
                .find(|d| self.is_trading_day(*d))
                .unwrap_or(today);
        }
        let (y, m, d) = (date.year(), date.month(), date.day());
        u32::try_from(y).map_or(0, |y| y * 10_000 + m * 100 + d)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Nanoseconds of a Shanghai local time.
    fn cst(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        let local = NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap();
        (local.and_utc().timestamp() - 8 * 3_600) * NS_PER_S
    }

    #[test]
    fn a_weekday_has_open_break_reopen_close_and_end_of_day() {
        let cal = Calendar::default();
        // Friday 27 November 2026, the whole day.
        let got = cal.transitions(cst(2026, 11, 27, 0, 0), cst(2026, 11, 27, 23, 59));
        let expected = vec![
            (
                cst(2026, 11, 27, 9, 30),
                Transition::Phase(Phase::Continuous),
            ),
            (cst(2026, 11, 27, 11, 30), Transition::Phase(Phase::Break)),
            (
                cst(2026, 11, 27, 13, 0),
                Transition::Phase(Phase::Continuous),
            ),
            (cst(2026, 11, 27, 15, 0), Transition::Phase(Phase::Closed)),
            (cst(2026, 11, 27, 15, 0), Transition::EndOfDay),
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn weekends_and_holidays_have_nothing() {
        let mut cal = Calendar::default();
        // Saturday and Sunday.
        assert!(cal
            .transitions(cst(2026, 11, 28, 0, 0), cst(2026, 11, 29, 23, 59))
            .is_empty());
        // National Day, a Thursday, once configured.
        cal.holidays
            .insert(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap());
        assert!(cal
            .transitions(cst(2026, 10, 1, 0, 0), cst(2026, 10, 1, 23, 59))
            .is_empty());
        assert_eq!(cal.phase_at(cst(2026, 10, 1, 10, 0)), Phase::Closed);
        assert_eq!(cal.phase_at(cst(2026, 10, 2, 10, 0)), Phase::Continuous);
    }

    #[test]
    fn the_window_is_open_before_and_closed_after() {
        let cal = Calendar::default();
        let open = cst(2026, 11, 27, 9, 30);
        assert_eq!(
            cal.transitions(open - 1, open).len(),
            1,
            "the moment itself is due"
        );
        assert!(cal.transitions(open, open + 1).is_empty(), "and only once");
        assert!(cal.transitions(open, open).is_empty());
    }

    #[test]
    fn phase_at_follows_the_sessions() {
        let cal = Calendar::default();
        let day = |h, m| cal.phase_at(cst(2026, 11, 27, h, m));
        assert_eq!(day(9, 29), Phase::Closed);
        assert_eq!(day(9, 30), Phase::Continuous);
        assert_eq!(day(11, 29), Phase::Continuous);
        assert_eq!(day(11, 30), Phase::Break);
        assert_eq!(day(12, 59), Phase::Break);
        assert_eq!(day(13, 0), Phase::Continuous);
        assert_eq!(day(15, 0), Phase::Closed);
        assert_eq!(cal.phase_at(cst(2026, 11, 28, 10, 0)), Phase::Closed);
    }

    #[test]
    fn calendar_reads_from_toml() {
        let cal: Calendar = toml::from_str(
            r#"
            utc_offset_s = 28800
            holidays = ["2026-10-01", "2026-10-02"]
            [[sessions]]
            open = "09:30:00"
            close = "11:30:00"
            [[sessions]]
            open = "13:00:00"
            close = "15:00:00"
            "#,
        )
        .unwrap();
        assert_eq!(cal.sessions, Calendar::default().sessions);
        assert_eq!(cal.holidays.len(), 2);
    }

    #[test]
    fn the_trading_date_rolls_at_the_close_and_skips_weekends() {
        let cal = Calendar::default();
        assert_eq!(cal.trading_date(cst(2026, 11, 26, 8, 0)), 2026_11_26);
        assert_eq!(cal.trading_date(cst(2026, 11, 26, 14, 59)), 2026_11_26);
        assert_eq!(cal.trading_date(cst(2026, 11, 26, 15, 0)), 2026_11_27);
        // Friday after the close, Saturday and Sunday: Monday.
        assert_eq!(cal.trading_date(cst(2026, 11, 27, 16, 0)), 2026_11_30);
        assert_eq!(cal.trading_date(cst(2026, 11, 28, 10, 0)), 2026_11_30);
        assert_eq!(cal.trading_date(cst(2026, 11, 29, 23, 59)), 2026_11_30);
    }
}
