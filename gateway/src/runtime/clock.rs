//! The sequencer's clock: the only place the runtime reads the time.
//!
//! The engine never reads a clock; the sequencer stamps each command with
//! the time this clock gives, and the scheduler asks the calendar what is
//! due up to it. A server runs on [`Clock::system`]; tests and demos run on
//! [`Clock::manual`], a time that moves only when they say, so that the
//! market's day can be played through without waiting for it; a demo can
//! run on [`Clock::starting_at`], the wall clock moved to another moment
//! (`cetx serve --start-at`), which then runs at the normal pace.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the runtime's time comes from. Clones share one time.
#[derive(Clone, Debug)]
pub struct Clock(Source);

#[derive(Clone, Debug)]
enum Source {
    System,
    /// The system clock plus a fixed offset, in ns.
    Shifted(i64),
    Manual(Arc<AtomicI64>),
}

/// The clock cannot be set: it is the system clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the runtime runs on the system clock, which cannot be set")]
pub struct ClockError;

impl Clock {
    /// The operating system's wall clock.
    #[must_use]
    pub const fn system() -> Self {
        Self(Source::System)
    }

    /// The wall clock, moved so that it shows `start_ns` now and runs on
    /// from there at the normal pace: for demos that start just before a
    /// session opens.
    #[must_use]
    pub fn starting_at(start_ns: i64) -> Self {
        Self(Source::Shifted(start_ns.saturating_sub(system_now_ns())))
    }

    /// The wall clock moved to the next Saturday noon in Beijing (UTC+8),
    /// running on from there at the normal pace: for tests, load runs and
    /// demos that open the market at start (`open_market_now`) and must
    /// not have the calendar close it under them. The calendar never trades
    /// on a weekend, so from then no session opens or closes and no day
    /// ends until Monday's open (with the default sessions, 09:30: 45
    /// hours), whatever the hour at which the run starts.
    ///
    /// Every quiet clock in one process has the same offset from the
    /// system clock, fixed by the first: a server restarted on one goes on
    /// from where the last stopped, never back. The Saturday is the next
    /// one after that first call (up to 7 days ahead), so the market's
    /// time is in the future and no day it trades has ended by the wall
    /// clock.
    #[must_use]
    pub fn quiet() -> Self {
        static OFFSET_NS: OnceLock<i64> = OnceLock::new();
        let offset_ns = *OFFSET_NS.get_or_init(|| {
            let now_ns = system_now_ns();
            next_saturday_noon_beijing(now_ns).saturating_sub(now_ns)
        });
        Self(Source::Shifted(offset_ns))
    }

    /// A clock that shows `start_ns` (nanoseconds since the Unix epoch,
    /// UTC) until [`Self::set`] or [`Self::advance`] moves it.
    #[must_use]
    pub fn manual(start_ns: i64) -> Self {
        Self(Source::Manual(Arc::new(AtomicI64::new(start_ns))))
    }

    /// Whether this is a manual clock.
    #[must_use]
    pub const fn is_manual(&self) -> bool {
        matches!(self.0, Source::Manual(_))
    }

    /// Nanoseconds since the Unix epoch, UTC (0 before it; saturating
    /// far after it).
    #[must_use]
    pub fn now_ns(&self) -> i64 {
        match &self.0 {
            Source::System => system_now_ns(),
            Source::Shifted(offset_ns) => system_now_ns().saturating_add(*offset_ns),
            Source::Manual(ns) => ns.load(Ordering::Acquire),
        }
    }

    /// Sets a manual clock to `time_ns`. It may go back; the sequencer
    /// never stamps a command earlier than the one before, whatever the
    /// clock says.
    ///
    /// # Errors
    /// [`ClockError`] for the system clock.
    pub fn set(&self, time_ns: i64) -> Result<(), ClockError> {
        match &self.0 {
            Source::System | Source::Shifted(_) => Err(ClockError),
            Source::Manual(ns) => {
                ns.store(time_ns, Ordering::Release);
                Ok(())
            }
        }
    }

    /// Moves a manual clock forward by `by`.
    ///
    /// # Errors
    /// [`ClockError`] for the system clock.
    pub fn advance(&self, by: Duration) -> Result<(), ClockError> {
        match &self.0 {
            Source::System | Source::Shifted(_) => Err(ClockError),
            Source::Manual(ns) => {
                let by_ns = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
                let _ = ns.fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                    Some(now.saturating_add(by_ns))
                });
                Ok(())
            }
        }
    }
}

/// The first Saturday 12:00 in Beijing (UTC+8) after `now_ns`, in ns
/// since the Unix epoch.
fn next_saturday_noon_beijing(now_ns: i64) -> i64 {
    const NS_PER_HOUR: i64 = 3_600 * 1_000_000_000;
    const NS_PER_DAY: i64 = 24 * NS_PER_HOUR;
    /// The day of the week of 1970-01-01 (a Thursday), Monday being 0.
    const EPOCH_WEEKDAY: i64 = 3;
    const SATURDAY: i64 = 5;
    const BEIJING: i64 = 8 * NS_PER_HOUR;
    let local_ns = now_ns.saturating_add(BEIJING);
    let day = local_ns.div_euclid(NS_PER_DAY);
    let weekday = (day + EPOCH_WEEKDAY).rem_euclid(7);
    let noon = (day + (SATURDAY - weekday).rem_euclid(7)) * NS_PER_DAY + 12 * NS_PER_HOUR;
    let noon = if noon <= local_ns {
        noon + 7 * NS_PER_DAY
    } else {
        noon
    };
    noon - BEIJING
}

/// The operating system's wall clock, in ns since the Unix epoch (0
/// before it; saturating far after it).
fn system_now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_clock_starts_where_told_and_runs_on() {
        // 2026-11-27 09:29:50 +08:00.
        let start_ns = 1_795_743_000_000_000_000 - 10_000_000_000;
        let clock = Clock::starting_at(start_ns);
        let first = clock.now_ns();
        assert!(
            (start_ns..start_ns + 5_000_000_000).contains(&first),
            "{first}"
        );
        assert!(clock.now_ns() >= first, "it runs forward");
        assert!(!clock.is_manual());
        assert_eq!(clock.set(0), Err(ClockError));
    }

    #[test]
    fn the_quiet_clock_is_the_next_saturday_noon_in_beijing() {
        // Saturday 2026-11-28 12:00 +08:00 is 04:00 UTC.
        let noon = 1_795_838_400 * 1_000_000_000;
        let hour = 3_600 * 1_000_000_000;
        let week = 7 * 24 * hour;
        // From the Saturday before, from Friday 23:59 and from Sunday, in
        // Beijing time.
        assert_eq!(next_saturday_noon_beijing(noon - week + hour), noon);
        assert_eq!(next_saturday_noon_beijing(noon - 12 * hour - 1), noon);
        assert_eq!(next_saturday_noon_beijing(noon - 1), noon);
        assert_eq!(next_saturday_noon_beijing(noon), noon + week);
        assert_eq!(next_saturday_noon_beijing(noon + 13 * hour), noon + week);
        // Sunday 00:30 UTC is Sunday 08:30 in Beijing; Friday 20:00 UTC is
        // Saturday 04:00 there.
        assert_eq!(
            next_saturday_noon_beijing(noon + 20 * hour + hour / 2),
            noon + week
        );
        assert_eq!(next_saturday_noon_beijing(noon - 8 * hour), noon);

        let (one, two) = (Clock::quiet(), Clock::quiet());
        let first = one.now_ns();
        let later = two.now_ns();
        assert!(later >= first, "one offset for the process");
        let weekday = (first + 8 * hour).div_euclid(24 * hour).rem_euclid(7);
        assert_eq!(
            weekday, 2,
            "a Saturday in Beijing (1970-01-01 was a Thursday)"
        );
        assert!(first > system_now_ns(), "in the future");
        assert!(first - system_now_ns() <= week);
    }

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = Clock::manual(1_000);
        let shared = clock.clone();
        assert_eq!(clock.now_ns(), 1_000);
        shared.advance(Duration::from_nanos(500)).unwrap();
        assert_eq!(clock.now_ns(), 1_500);
        clock.set(42).unwrap();
        assert_eq!(shared.now_ns(), 42);
        assert!(clock.is_manual());
    }

    #[test]
    fn the_system_clock_cannot_be_set() {
        let clock = Clock::system();
        assert!(clock.now_ns() > 1_700_000_000_000_000_000);
        assert_eq!(clock.set(0), Err(ClockError));
        assert_eq!(clock.advance(Duration::from_secs(1)), Err(ClockError));
    }
}
