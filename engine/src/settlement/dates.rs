//! The calendar date of each of the engine's trading days, which the
//! journal only numbers (from 0).
//!
//! The dates are learnt from the journal itself: day 0 is the trading day
//! at the first entry's time, and each later day is the trading day at the
//! time of the entry that started it (an end of day, after the close: the
//! next trading day), by the exchange's [`Calendar`] as the journal set it
//! by then (the default calendar, UTC+8, for a journal that sets none).

use crate::calendar::Calendar;
use crate::command::Stamp;
use crate::event::Event;

/// `YYYYMMDD` by the engine's trading day number, learnt entry by entry.
#[derive(Clone, Debug, Default)]
pub struct TradingDates {
    /// `YYYYMMDD` by the engine's day number.
    dates: Vec<u32>,
}

impl TradingDates {
    /// No dates yet.
    #[must_use]
    pub const fn new() -> Self {
        Self { dates: Vec::new() }
    }

    /// Takes note of one entry, in journal order, under `calendar` (the
    /// journal's, after this entry).
    pub fn observe(&mut self, calendar: &Calendar, stamp: Stamp, events: &[Event]) {
        if self.dates.is_empty() {
            self.dates.push(calendar.trading_date(stamp.time_ns));
        }
        for event in events {
            if let Event::DayStarted(started) = event {
                let day = usize::try_from(started.trading_day).unwrap_or(usize::MAX);
                if day >= self.dates.len() {
                    self.dates.resize(day + 1, 0);
                }
                self.dates[day] = calendar.trading_date(stamp.time_ns);
            }
        }
    }

    /// The date of the engine's day `day`, `YYYYMMDD` (0 if the journal
    /// never named it).
    #[must_use]
    pub fn date(&self, day: u32) -> u32 {
        usize::try_from(day)
            .ok()
            .and_then(|day| self.dates.get(day))
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

    #[test]
    fn each_engine_day_gets_the_date_it_traded() {
        let calendar = Calendar::default();
        let mut dates = TradingDates::new();
        let stamp = |seq, time_ns| Stamp { seq, time_ns };
        // Friday 27 November, in the morning session: day 0.
        dates.observe(&calendar, stamp(1, beijing(27, 9, 30)), &[]);
        // Friday's end of day, after the close: the next day is Monday.
        let started = [Event::DayStarted(DayStarted { trading_day: 1 })];
        dates.observe(&calendar, stamp(2, beijing(27, 15, 5)), &started);
        // Monday's end of day: Tuesday.
        let started = [Event::DayStarted(DayStarted { trading_day: 2 })];
        dates.observe(&calendar, stamp(3, beijing(30, 15, 5)), &started);
        assert_eq!(dates.date(0), 2026_11_27);
        assert_eq!(dates.date(1), 2026_11_30);
        assert_eq!(dates.date(2), 2026_12_01);
        assert_eq!(dates.date(3), 0, "a day the journal never started");
    }
}
