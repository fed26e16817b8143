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
use std::sync::Arc;
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
