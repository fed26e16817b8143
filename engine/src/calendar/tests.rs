//! The calendar's tests: the day's plan, the trading date, and
//! [`Calendar::resume`] case by case.

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
        (
            cst(2026, 11, 27, 15, 0),
            Transition::EndOfDay {
                trading_date: 2026_11_27,
            },
        ),
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

/// `(name, closed date, journal's last time, clock, phases due,
/// ends of day due (their dates), phase after)`, on the default
/// calendar, Wednesday 25 to Friday 27 November 2026.
type ResumeCase = (
    &'static str,
    Option<u32>,
    i64,
    i64,
    usize,
    &'static [u32],
    Phase,
);

#[test]
fn resume_lets_the_journal_win_for_the_days_it_covers() {
    let wed = |h, m| cst(2026, 11, 25, h, m);
    let fri = |h, m| cst(2026, 11, 27, h, m);
    let cases: [ResumeCase; 7] = [
        (
            "fresh, before the open",
            None,
            wed(9, 0),
            wed(9, 29),
            0,
            &[],
            Phase::Closed,
        ),
        (
            "clock behind in the session",
            None,
            wed(9, 31),
            wed(9, 29),
            0,
            &[],
            Phase::Continuous,
        ),
        (
            "clock behind after the close",
            Some(2026_11_25),
            wed(15, 0),
            wed(14, 59),
            0,
            &[],
            Phase::Closed,
        ),
        (
            "a closed day stays closed, whatever the time",
            Some(2026_11_25),
            wed(10, 0),
            wed(14, 0),
            0,
            &[],
            Phase::Closed,
        ),
        (
            "across one close",
            None,
            wed(14, 58),
            cst(2026, 11, 26, 9, 29),
            1,
            &[2026_11_25],
            Phase::Closed,
        ),
        (
            "across two closes",
            Some(2026_11_24),
            wed(14, 58),
            fri(9, 29),
            5,
            &[2026_11_25, 2026_11_26],
            Phase::Closed,
        ),
        (
            "an end of day missed while catching up",
            Some(2026_11_25),
            fri(9, 29),
            fri(9, 31),
            1,
            &[2026_11_26],
            Phase::Continuous,
        ),
    ];
    let cal = Calendar::default();
    for (name, closed_date, done_ns, now_ns, phases, ends, phase) in cases {
        let progress = Progress {
            closed_date,
            done_ns,
        };
        let resumed = cal.resume(progress, now_ns);
        let got_phases = resumed
            .due
            .iter()
            .filter(|(_, t)| matches!(t, Transition::Phase(_)))
            .count();
        let got_ends: Vec<u32> = resumed
            .due
            .iter()
            .filter_map(|&(_, t)| match t {
                Transition::EndOfDay { trading_date } => Some(trading_date),
                Transition::Phase(_) => None,
            })
            .collect();
        assert_eq!(got_phases, phases, "{name}: phases");
        assert_eq!(got_ends, ends, "{name}: ends of day");
        assert_eq!(resumed.phase, phase, "{name}: phase");
        assert_eq!(
            resumed.progress.closed_date,
            ends.last().copied().or(closed_date),
            "{name}"
        );
        assert_eq!(resumed.progress.done_ns, now_ns.max(done_ns), "{name}");
        // Asked again at once, nothing is due twice.
        let again = cal.resume(resumed.progress, now_ns);
        assert!(again.due.is_empty(), "{name}: {:?}", again.due);
        assert_eq!(again.phase, phase, "{name}");
    }
}

#[test]
fn the_next_trading_date_skips_weekends_and_holidays() {
    let mut cal = Calendar::default();
    assert_eq!(cal.next_trading_date(2026_11_25), Some(2026_11_26));
    assert_eq!(cal.next_trading_date(2026_11_27), Some(2026_11_30));
    cal.holidays
        .insert(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
    assert_eq!(cal.next_trading_date(2026_11_27), Some(2026_12_01));
    assert_eq!(cal.next_trading_date(2026_02_30), None, "no date");
    assert_eq!(date_of(2026_11_25), NaiveDate::from_ymd_opt(2026, 11, 25));
}

/// The dates of the ends of day among `due`, in order.
fn end_dates(due: &[(i64, Transition)]) -> Vec<u32> {
    due.iter()
        .filter_map(|&(_, t)| match t {
            Transition::EndOfDay { trading_date } => Some(trading_date),
            Transition::Phase(_) => None,
        })
        .collect()
}

/// Every trading date of `cal` after `closed` whose close is at or
/// before `now_ns`, in order: what a catch-up must end.
fn dates_to_end(cal: &Calendar, closed: u32, now_ns: i64) -> Vec<u32> {
    let mut dates = Vec::new();
    let mut date = closed;
    while let Some(next) = cal.next_trading_date(date) {
        let d = date_of(next).unwrap();
        let close = cst(d.year(), d.month(), d.day(), 15, 0);
        if close > now_ns {
            break;
        }
        dates.push(next);
        date = next;
    }
    dates
}

#[test]
fn every_end_of_day_after_the_closed_date_is_due_however_long_before_the_last_entry() {
    // The reviewer's case: the journal closed Tuesday 24 November 2026,
    // then a start on Sunday 10 January 2027 journaled an entry (a
    // config change) and stopped before its catch-up's ends of day were
    // on disk. The next start, Tuesday 12 January at 09:00, ends every
    // day since, each under its own date, where it looked back only to
    // 10 December.
    let cal = Calendar::default();
    let done_ns = cst(2027, 1, 10, 10, 0);
    let now_ns = cst(2027, 1, 12, 9, 0);
    let progress = Progress {
        closed_date: Some(2026_11_24),
        done_ns,
    };
    let resumed = cal.resume(progress, now_ns);
    let ends = end_dates(&resumed.due);
    assert_eq!(ends.first(), Some(&2026_11_25));
    assert_eq!(ends.last(), Some(&2027_01_11));
    assert_eq!(ends, dates_to_end(&cal, 2026_11_24, now_ns));
    assert_eq!(ends.len(), 34, "25 November to 11 January, weekdays");
    // In order of their moments (a close and its end of day share one),
    // each end of day at its own day's close.
    for pair in resumed.due.windows(2) {
        assert!(pair[0].0 <= pair[1].0, "{pair:?}");
    }
    for &(at_ns, transition) in &resumed.due {
        if let Transition::EndOfDay { trading_date } = transition {
            assert_eq!(cal.trading_date(at_ns - 1), trading_date);
        }
    }
    // Only ends of day before the last entry: its phases are not run
    // again, and Monday's, after it, are.
    let phases: Vec<_> = resumed
        .due
        .iter()
        .filter(|(_, t)| matches!(t, Transition::Phase(_)))
        .collect();
    assert_eq!(phases.len(), 4, "Monday's open, break, reopen, close");
    assert!(phases.iter().all(|&&(at_ns, _)| at_ns > done_ns));
    assert_eq!(resumed.progress.closed_date, Some(2027_01_11));
    assert_eq!(resumed.phase, Phase::Closed);
    // Asked again at once, nothing is due twice.
    assert!(cal.resume(resumed.progress, now_ns).due.is_empty());
}

#[test]
fn the_catch_up_ends_no_closed_date_and_keeps_to_the_calendar_s_holidays() {
    // Closed Friday 27 November; Monday 30 November and 1 January are
    // holidays. The last entry is of 10 January, six weeks on.
    let mut cal = Calendar::default();
    for (y, m, d) in [(2026, 11, 30), (2027, 1, 1)] {
        cal.holidays
            .insert(NaiveDate::from_ymd_opt(y, m, d).unwrap());
    }
    let now_ns = cst(2027, 1, 12, 9, 0);
    let progress = Progress {
        closed_date: Some(2026_11_27),
        done_ns: cst(2027, 1, 10, 10, 0),
    };
    let ends = end_dates(&cal.resume(progress, now_ns).due);
    assert_eq!(ends.first(), Some(&2026_12_01));
    assert!(!ends.contains(&2027_01_01), "{ends:?}");
    assert_eq!(ends, dates_to_end(&cal, 2026_11_27, now_ns));
    assert_eq!(ends.len(), 29, "1 December to 11 January, weekdays");
}

#[test]
fn a_closed_date_years_back_is_caught_up_day_by_day() {
    // Closed ten years before the journal's last entry: every weekday
    // since gets its own end of day (a bound short of that would skip
    // days, a journal replay refuses). The walk is one step a day.
    let cal = Calendar::default();
    let now_ns = cst(2027, 1, 12, 9, 0);
    let progress = Progress {
        closed_date: Some(2016_11_24),
        done_ns: cst(2027, 1, 10, 10, 0),
    };
    let resumed = cal.resume(progress, now_ns);
    let ends = end_dates(&resumed.due);
    assert_eq!(ends.first(), Some(&2016_11_25));
    assert_eq!(ends, dates_to_end(&cal, 2016_11_24, now_ns));
    assert_eq!(resumed.progress.closed_date, Some(2027_01_11));
    // A number that is no date is taken as none: from the last entry.
    let nonsense = Progress {
        closed_date: Some(2026_02_30),
        done_ns: cst(2027, 1, 10, 10, 0),
    };
    assert_eq!(end_dates(&cal.resume(nonsense, now_ns).due), [2027_01_11]);
}

#[test]
fn a_closed_date_after_the_last_entry_looks_back_no_further_than_it() {
    // A market started ahead with --start-at closed Friday 27 November;
    // its last entry's time is Wednesday's (a clock behind since), and
    // the clock is now Monday 30 November 16:00: only Monday ends.
    let cal = Calendar::default();
    let progress = Progress {
        closed_date: Some(2026_11_27),
        done_ns: cst(2026, 11, 25, 10, 0),
    };
    let resumed = cal.resume(progress, cst(2026, 11, 30, 16, 0));
    assert_eq!(end_dates(&resumed.due), [2026_11_30]);
    // Nothing of the closed days: Monday's phases only.
    assert!(resumed
        .due
        .iter()
        .all(|&(at_ns, _)| at_ns >= cst(2026, 11, 30, 9, 30)));
    // Without a closed date, from the last entry as ever: Wednesday's
    // rest, Thursday, Friday and Monday.
    let fresh = Progress {
        closed_date: None,
        done_ns: cst(2026, 11, 25, 10, 0),
    };
    let ends = end_dates(&cal.resume(fresh, cst(2026, 11, 30, 16, 0)).due);
    assert_eq!(ends, [2026_11_25, 2026_11_26, 2026_11_27, 2026_11_30]);
}
