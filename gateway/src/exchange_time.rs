//! The exchange's times for people: a journal or feed time (nanoseconds
//! since the Unix epoch) in the calendar's local time, by its UTC offset.
//! `cetx watch` and the web view show the same times from here.

const NS_PER_S: i64 = 1_000_000_000;

/// The time of day `utc_offset_s` from UTC, `HH:MM:SS`.
#[must_use]
pub fn clock(time_ns: i64, utc_offset_s: i32) -> String {
    let seconds = (time_ns.div_euclid(NS_PER_S) + i64::from(utc_offset_s)).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3_600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// The date and time of day `utc_offset_s` from UTC,
/// `YYYY-MM-DD HH:MM:SS`.
#[must_use]
pub fn date_time(time_ns: i64, utc_offset_s: i32) -> String {
    let local_ns = time_ns.saturating_add(i64::from(utc_offset_s) * NS_PER_S);
    chrono::DateTime::from_timestamp_nanos(local_ns)
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The local date of `time_ns`, as days since the epoch: two times of one
/// exchange day have the same.
#[must_use]
pub const fn day(time_ns: i64, utc_offset_s: i32) -> i64 {
    (time_ns.div_euclid(NS_PER_S) + utc_offset_s as i64).div_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::{clock, date_time, day};

    /// 2026-06-15 23:59:59.999 in Beijing, and an hour later.
    const LATE_NS: i64 = 1_781_539_199_999_000_000;
    const BEIJING: i32 = 8 * 3_600;

    #[test]
    fn times_are_the_calendar_s_local_ones() {
        assert_eq!(clock(LATE_NS, BEIJING), "23:59:59");
        assert_eq!(clock(-1, BEIJING), "07:59:59");
        assert_eq!(clock(0, -12_600), "20:30:00");
        assert_eq!(date_time(LATE_NS, BEIJING), "2026-06-15 23:59:59");
        assert_eq!(date_time(LATE_NS, 0), "2026-06-15 15:59:59");
        let next_hour = LATE_NS + 3_600 * 1_000_000_000;
        assert_eq!(date_time(next_hour, BEIJING), "2026-06-16 00:59:59");
        assert_eq!(day(next_hour, BEIJING), day(LATE_NS, BEIJING) + 1);
        assert_eq!(day(next_hour, 0), day(LATE_NS, 0));
    }
}
