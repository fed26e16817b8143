//! A count of like events logged at most once per interval, so that a flood
//! (of refused connections, of failed logins) writes a summary line, not a
//! line per event.

use std::time::{Duration, Instant};

/// Events counted since the last line.
#[derive(Debug)]
pub(crate) struct LogTally {
    interval: Duration,
    /// When the last line was written; `None` before the first.
    logged_at: Option<Instant>,
    /// Events since then.
    count: u64,
}

impl LogTally {
    /// At most one line per `interval`.
    pub(crate) const fn new(interval: Duration) -> Self {
        Self {
            interval,
            logged_at: None,
            count: 0,
        }
    }

    /// Counts an event at `now`; the number of events to write a line
    /// about now (this one and those held back since the last line), or
    /// `None` while the interval since the last line runs. The first event
    /// is always written at once.
    pub(crate) fn count(&mut self, now: Instant) -> Option<u64> {
        self.count += 1;
        let due = self
            .logged_at
            .is_none_or(|at| now.saturating_duration_since(at) >= self.interval);
        due.then(|| {
            self.logged_at = Some(now);
            std::mem::take(&mut self.count)
        })
    }

    /// The events held back since the last line, once the interval since
    /// it has run: to be written now. Called on a timer, so that the last
    /// events of a burst are written even if no other comes.
    pub(crate) fn flush(&mut self, now: Instant) -> Option<u64> {
        let due = self
            .logged_at
            .is_none_or(|at| now.saturating_duration_since(at) >= self.interval);
        (due && self.count > 0).then(|| {
            self.logged_at = Some(now);
            std::mem::take(&mut self.count)
        })
    }
}

/// A [`LogTally`] shared between tasks (sessions, the accept loop and its
/// timer).
///
/// It keeps the last event's description, so that a line the timer writes
/// about events held back still names the last of them.
#[derive(Debug)]
pub(crate) struct SharedTally(std::sync::Mutex<(LogTally, String)>);

impl SharedTally {
    /// At most one line per `interval`.
    pub(crate) fn new(interval: Duration) -> Self {
        Self(std::sync::Mutex::new((
            LogTally::new(interval),
            String::new(),
        )))
    }

    /// With `event` (its description), counts one at `now`
    /// ([`LogTally::count`]); without, is the timer's look at what the
    /// interval held back ([`LogTally::flush`]). The count to write a line
    /// about now, if any, with the last event's description.
    pub(crate) fn due(&self, event: Option<String>, now: Instant) -> Option<(u64, String)> {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tally, last) = &mut *guard;
        let count = match event {
            Some(event) => {
                *last = event;
                tally.count(now)
            }
            None => tally.flush(now),
        }?;
        Some((count, last.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count() {
        let start = Instant::now();
        let mut tally = LogTally::new(Duration::from_secs(1));
        assert_eq!(tally.count(start), Some(1));
        for ms in 1..=999 {
            assert_eq!(tally.count(start + Duration::from_millis(ms)), None);
        }
        assert_eq!(tally.count(start + Duration::from_secs(1)), Some(1000));
    }

    #[test]
    fn a_line_the_timer_writes_names_the_last_event_held_back() {
        let start = Instant::now();
        let tally = SharedTally::new(Duration::from_secs(1));
        let event = |what: &str| Some(what.to_owned());
        assert_eq!(tally.due(event("first"), start), Some((1, "first".into())));
        assert_eq!(tally.due(event("second"), start), None);
        assert_eq!(tally.due(event("third"), start), None);
        let later = start + Duration::from_secs(1);
        assert_eq!(tally.due(None, later), Some((2, "third".into())));
        assert_eq!(tally.due(None, later + Duration::from_secs(1)), None);
    }

    #[test]
    fn what_was_held_back_is_flushed_once_the_interval_has_run() {
        let start = Instant::now();
        let mut tally = LogTally::new(Duration::from_secs(1));
        assert_eq!(tally.flush(start), None, "nothing to write");
        assert_eq!(tally.count(start), Some(1));
        for ms in 1..=4 {
            assert_eq!(tally.count(start + Duration::from_millis(ms)), None);
        }
        assert_eq!(tally.flush(start + Duration::from_millis(999)), None);
        let later = start + Duration::from_secs(1);
        assert_eq!(tally.flush(later), Some(4));
        assert_eq!(tally.flush(later + Duration::from_secs(5)), None);
        // The next event after a flush waits for the interval again.
        assert_eq!(tally.count(later + Duration::from_millis(10)), None);
    }
}
