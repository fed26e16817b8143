//! Each broker's message budget, kept for the life of the server and
//! shared by all of the broker's sessions, so that logging out and in
//! again (or opening a second session) never refills it. A login with the
//! right credentials takes a token too, so that a loop of logins is held
//! to the same rate (wrong credentials are the back-off's:
//! [`crate::backoff`]); only the broker itself can spend its budget.
//!
//! The budget is a token bucket (`rate_per_s` tokens a second, at most
//! `burst` held), kept as the generic cell rate algorithm: one atomic
//! "theoretical arrival time" per broker, moved on by one emission
//! interval per message taken. Sessions on any thread take from it with a
//! compare-and-swap: no lock on the order path. Brokers come from the
//! config, so the table is built once and only read afterwards.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use cetx_engine::BrokerId;

use crate::config::{ServerConfig, Throttle};

const NS_PER_S: u64 = 1_000_000_000;

/// One broker's bucket.
#[derive(Debug)]
struct Cell {
    /// When, in ns after [`Throttles::epoch`], the bucket will be full
    /// again: each message taken moves it on by `interval_ns`.
    full_at_ns: AtomicU64,
    /// Time one token takes to come back, rounded up, so that the rate is
    /// never exceeded.
    interval_ns: u64,
    /// How far ahead of now `full_at_ns` may go: `burst` intervals.
    depth_ns: u64,
}

impl Cell {
    fn new(throttle: Throttle) -> Self {
        let interval_ns = NS_PER_S.div_ceil(u64::from(throttle.rate_per_s.max(1)));
        Self {
            full_at_ns: AtomicU64::new(0),
            interval_ns,
            depth_ns: interval_ns.saturating_mul(u64::from(throttle.burst.max(1))),
        }
    }

    /// Takes one token at `now_ns` if there is one.
    fn take(&self, now_ns: u64) -> bool {
        let mut full_at = self.full_at_ns.load(Ordering::Acquire);
        loop {
            let next = full_at.max(now_ns).saturating_add(self.interval_ns);
            if next - now_ns > self.depth_ns {
                return false;
            }
            match self.full_at_ns.compare_exchange_weak(
                full_at,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(seen) => full_at = seen,
            }
        }
    }
}

/// Every configured broker's bucket, shared by all sessions of a server.
#[derive(Debug)]
pub(crate) struct Throttles {
    epoch: Instant,
    cells: BTreeMap<BrokerId, Cell>,
}

impl Throttles {
    /// A full bucket for each broker of `config`, from its `throttle`.
    pub(crate) fn new(config: &ServerConfig, now: Instant) -> Self {
        Self {
            epoch: now,
            cells: config
                .brokers
                .iter()
                .map(|b| (b.id, Cell::new(b.throttle)))
                .collect(),
        }
    }

    /// Takes one of the broker's tokens at `now`; `false` when its budget
    /// is spent (or the broker is not configured).
    pub(crate) fn take(&self, broker: BrokerId, now: Instant) -> bool {
        let now_ns =
            u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        self.cells
            .get(&broker)
            .is_some_and(|cell| cell.take(now_ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_allows_the_burst_then_the_rate() {
        let cell = Cell::new(Throttle {
            rate_per_s: 10,
            burst: 3,
        });
        let ms = |m: u64| m * 1_000_000;
        assert!((0..3).all(|_| cell.take(0)));
        assert!(!cell.take(0));
        // 10 per second: one token every 100 ms.
        assert!(!cell.take(ms(99)));
        assert!(cell.take(ms(100)));
        assert!(!cell.take(ms(100)));
        // Never more than the burst, however long it rested.
        let later = ms(3_600_000);
        assert!((0..3).all(|_| cell.take(later)));
        assert!(!cell.take(later));
    }

    #[test]
    fn a_rate_that_does_not_divide_a_second_is_never_exceeded() {
        let cell = Cell::new(Throttle {
            rate_per_s: 3,
            burst: 1,
        });
        let taken = (0..=1_000u64).filter(|i| cell.take(i * 1_000_000)).count();
        // At 0, and then every 333,333,334 ns: 0.33 s, 0.67 s, not 1.00 s.
        assert_eq!(taken, 3);
    }

    #[test]
    fn every_session_of_a_broker_takes_from_one_budget() {
        let mut config = ServerConfig::embedded_default();
        config.brokers[0].throttle = Throttle {
            rate_per_s: 1,
            burst: 5,
        };
        let (one, two) = (config.brokers[0].id, config.brokers[1].id);
        let start = Instant::now();
        let throttles = std::sync::Arc::new(Throttles::new(&config, start));
        let taken: usize = (0..4)
            .map(|_| {
                let t = std::sync::Arc::clone(&throttles);
                std::thread::spawn(move || (0..10).filter(|_| t.take(one, start)).count())
            })
            .map(|h| h.join().unwrap())
            .sum();
        assert_eq!(taken, 5);
        assert!(throttles.take(two, start));
        assert!(throttles.take(one, start + Duration::from_secs(1)));
        assert!(!throttles.take(BrokerId(999), start));
    }
}
