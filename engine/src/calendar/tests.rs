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
