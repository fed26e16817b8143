//! A count of like events logged at most once per interval, so that a flood
//! (of refused connections, of failed logins) writes a summary line, not a
//! line per event.

use std::time::{Duration, Instant};

/// The interval of the server's counted lines: a line per 10 s.
pub(crate) const INTERVAL: Duration = Duration::from_secs(10);

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

/// Reasons a line counts one by one; events of further reasons are
/// counted together as others.
const MAX_REASONS: usize = 8;

/// What a line about counted events says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Tallied {
    /// Events since the last line.
    pub(crate) count: u64,
    /// The last of them: `peer=… why=…`.
    pub(crate) last: String,
    /// How many of them each kind of reason had, most first: `3: why; 1:
    /// why` (runs of 4 digits or more as `N`; `2: others` past
    /// [`MAX_REASONS`] kinds).
    pub(crate) reasons: String,
}

/// A [`LogTally`] shared between tasks (sessions, the accept loop and its
/// timer).
///
/// It keeps the last event's peer and reason, so that a line the timer
/// writes about events held back still names the last of them, and a
/// count per reason, so that a line about a flood of mixed failures says
/// each kind.
#[derive(Debug)]
pub(crate) struct SharedTally(std::sync::Mutex<Held>);

#[derive(Debug)]
struct Held {
    tally: LogTally,
    last: String,
    /// Each reason since the last line and its count, in the order first
    /// seen; at most [`MAX_REASONS`].
    reasons: Vec<(String, u64)>,
    /// Events since the last line whose reason found no place.
    others: u64,
}

/// A reason's kind: `why` with each run of 4 digits or more (a time, a
/// length) as `N`, so that one kind of failure counts as one reason (an
/// expired certificate's reason names the second it was checked at).
fn kind_of(why: &str) -> String {
    let mut kind = String::with_capacity(why.len());
    let mut digits = String::new();
    for c in why.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if digits.len() >= 4 {
            kind.push('N');
        } else {
            kind.push_str(&digits);
        }
        digits.clear();
        kind.push(c);
    }
    kind.pop();
    kind
}

impl Held {
    fn note(&mut self, peer: &str, why: &str) {
        self.last = format!("peer={peer} why={why}");
        let why = kind_of(why);
        if let Some((_, n)) = self.reasons.iter_mut().find(|(r, _)| *r == why) {
            *n += 1;
        } else if self.reasons.len() < MAX_REASONS {
            self.reasons.push((why, 1));
        } else {
            self.others += 1;
        }
    }

    /// The line's reasons, most first (the first seen first among equals);
    /// counts them anew from here.
    fn take_reasons(&mut self) -> String {
        let mut reasons = std::mem::take(&mut self.reasons);
        reasons.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        let others = std::mem::take(&mut self.others);
        let others = (others > 0).then(|| format!("{others}: others"));
        reasons
            .iter()
            .map(|(why, n)| format!("{n}: {why}"))
            .chain(others)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl SharedTally {
    /// At most one line per `interval`.
    pub(crate) fn new(interval: Duration) -> Self {
        Self(std::sync::Mutex::new(Held {
            tally: LogTally::new(interval),
            last: String::new(),
            reasons: Vec::new(),
            others: 0,
        }))
    }

    /// With `event` (its peer and why), counts one at `now`
    /// ([`LogTally::count`]); without, is the timer's look at what the
    /// interval held back ([`LogTally::flush`]). What to write a line
    /// about now, if anything.
    pub(crate) fn due(&self, event: Option<(String, String)>, now: Instant) -> Option<Tallied> {
        let mut held = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = match event {
            Some((peer, why)) => {
                held.note(&peer, &why);
                held.tally.count(now)
            }
            None => held.tally.flush(now),
        }?;
        Some(Tallied {
            count,
            last: held.last.clone(),
            reasons: held.take_reasons(),
        })
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
    fn a_line_the_timer_writes_names_the_last_event_held_back_and_counts_each_reason() {
        let start = Instant::now();
        let tally = SharedTally::new(Duration::from_secs(1));
        let event = |why: &str| Some(("1.2.3.4:5".to_owned(), why.to_owned()));
        let line = |count, last: &str, reasons: &str| {
            Some(Tallied {
                count,
                last: format!("peer=1.2.3.4:5 why={last}"),
                reasons: reasons.into(),
            })
        };
        assert_eq!(
            tally.due(event("first"), start),
            line(1, "first", "1: first")
        );
        assert_eq!(tally.due(event("expired"), start), None);
        assert_eq!(tally.due(event("unknown CA"), start), None);
        assert_eq!(tally.due(event("unknown CA"), start), None);
        let later = start + Duration::from_secs(1);
        assert_eq!(
            tally.due(None, later),
            line(3, "unknown CA", "2: unknown CA; 1: expired")
        );
        assert_eq!(tally.due(None, later + Duration::from_secs(1)), None);
        // Past eight reasons, the rest are others.
        for n in 0..10 {
            assert_eq!(tally.due(event(&format!("kind {n}")), later), None);
        }
        let kinds: Vec<String> = (0..8).map(|n| format!("1: kind {n}")).collect();
        assert_eq!(
            tally.due(None, later + Duration::from_secs(2)),
            line(10, "kind 9", &format!("{}; 2: others", kinds.join("; ")))
        );
    }

    /// An expired certificate's reason names the second it was checked
    /// at (an outside tester saw each second's in a count of its own):
    /// long runs of digits do not make a new kind; short ones do.
    #[test]
    fn reasons_that_differ_only_in_a_time_or_a_length_are_one_kind() {
        let start = Instant::now();
        let tally = SharedTally::new(Duration::from_secs(1));
        let expired = |at: u64| {
            Some((
                "1.2.3.4:5".to_owned(),
                format!("certificate expired: verification time {at} (UNIX)"),
            ))
        };
        assert!(tally.due(expired(1_796_530_397), start).is_some());
        assert!(tally.due(expired(1_796_530_398), start).is_none());
        let other = Some(("1.2.3.4:5".to_owned(), "more than 16 a second".to_owned()));
        assert!(tally.due(other, start).is_none());
        let line = tally.due(None, start + Duration::from_secs(1)).unwrap();
        assert_eq!(
            line.reasons,
            "1: certificate expired: verification time N (UNIX); 1: more than 16 a second"
        );
        assert!(line.last.ends_with("more than 16 a second"), "{line:?}");
        assert_eq!(kind_of("a 256 B frame of 197397 B"), "a 256 B frame of N B");
        assert_eq!(kind_of("1234"), "N");
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
