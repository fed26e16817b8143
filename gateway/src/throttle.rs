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
//! compare-and-swap: no lock on the order path. The config's brokers'
//! buckets are made at start; a broker an operator added gets one (with
//! the default budget) the first time it logs in, under a lock taken at
//! login only: each session holds its broker's [`Bucket`].
//!
//! The same cell also holds each source address to a budget of TLS
//! handshakes on the broker port ([`Handshakes`]).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
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

/// Every broker's bucket, shared by all sessions of a server.
#[derive(Debug)]
pub(crate) struct Throttles {
    epoch: Instant,
    cells: BTreeMap<BrokerId, Arc<Cell>>,
    /// Brokers added by operators, as they first log in.
    added: Mutex<BTreeMap<BrokerId, Arc<Cell>>>,
}

/// One broker's bucket, held by each of its sessions.
#[derive(Clone, Debug)]
pub(crate) struct Bucket {
    epoch: Instant,
    cell: Arc<Cell>,
}

impl Bucket {
    /// Takes one token at `now`; `false` when the budget is spent.
    pub(crate) fn take(&self, now: Instant) -> bool {
        let now_ns =
            u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        self.cell.take(now_ns)
    }
}

impl Throttles {
    /// A full bucket for each broker of `config`, from its `throttle`.
    pub(crate) fn new(config: &ServerConfig, now: Instant) -> Self {
        Self {
            epoch: now,
            cells: config
                .brokers
                .iter()
                .map(|b| (b.id, Arc::new(Cell::new(b.throttle))))
                .collect(),
            added: Mutex::default(),
        }
    }

    /// The broker's bucket: the config's, or for a broker an operator
    /// added, one with the default budget, made the first time.
    pub(crate) fn bucket(&self, broker: BrokerId) -> Bucket {
        let cell = self.cells.get(&broker).cloned().unwrap_or_else(|| {
            let mut added = self.added.lock().unwrap_or_else(PoisonError::into_inner);
            let cell = added
                .entry(broker)
                .or_insert_with(|| Arc::new(Cell::new(Throttle::default())));
            Arc::clone(cell)
        });
        Bucket {
            epoch: self.epoch,
            cell,
        }
    }
}

/// TLS handshakes each source address may start on the broker port: a
/// token bucket of [`HANDSHAKE_BURST`], refilled at [`HANDSHAKE_RATE`] a
/// second. A full handshake costs the server about a millisecond of CPU,
/// so one address starting them as fast as it can would take the cores
/// the live brokers need; a broker's client connects a few times a day.
pub(crate) const HANDSHAKE_RATE: u32 = 16;

/// The handshakes an address may start at once, before [`HANDSHAKE_RATE`]
/// holds it.
pub(crate) const HANDSHAKE_BURST: u32 = 32;

/// Most addresses whose handshake budgets are remembered; past it, those
/// whose buckets are full again are forgotten (they lose nothing).
const MAX_ADDRESSES: usize = 4_096;

/// Each source address's budget of TLS handshakes.
#[derive(Debug)]
pub(crate) struct Handshakes {
    epoch: Instant,
    cells: Mutex<BTreeMap<IpAddr, Cell>>,
}

impl Handshakes {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            epoch: now,
            cells: Mutex::default(),
        }
    }

    /// Takes a handshake from `addr`'s budget at `now`; `false` when it is
    /// spent.
    pub(crate) fn take(&self, addr: IpAddr, now: Instant) -> bool {
        let now_ns =
            u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        let mut cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
        if cells.len() >= MAX_ADDRESSES && !cells.contains_key(&addr) {
            cells.retain(|_, cell| cell.full_at_ns.load(Ordering::Relaxed) > now_ns);
        }
        let budget = Throttle {
            rate_per_s: HANDSHAKE_RATE,
            burst: HANDSHAKE_BURST,
        };
        // Bounded all the same: an address past the bound shares a budget
        // with nobody and is refused, rather than the map grow.
        (cells.len() < MAX_ADDRESSES || cells.contains_key(&addr))
            && cells
                .entry(addr)
                .or_insert_with(|| Cell::new(budget))
                .take(now_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_address_may_start_its_burst_of_handshakes_then_the_rate() {
        let start = Instant::now();
        let handshakes = Handshakes::new(start);
        let one: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        let taken = (0..100).filter(|_| handshakes.take(one, start)).count();
        assert_eq!(taken, HANDSHAKE_BURST as usize);
        assert!(handshakes.take(other, start), "another address has its own");
        let later = start + Duration::from_secs(1);
        let taken = (0..100).filter(|_| handshakes.take(one, later)).count();
        assert_eq!(taken, HANDSHAKE_RATE as usize, "a second's refill");
    }

    #[test]
    fn the_addresses_remembered_are_bounded() {
        let start = Instant::now();
        let handshakes = Handshakes::new(start);
        for i in 0..MAX_ADDRESSES as u32 + 10 {
            handshakes.take(IpAddr::from(i.to_be_bytes()), start);
        }
        assert!(handshakes.cells.lock().unwrap().len() <= MAX_ADDRESSES);
        // Once their buckets are full again, new addresses get room.
        let later = start + Duration::from_secs(10);
        assert!(handshakes.take(IpAddr::from([192, 0, 2, 1]), later));
    }

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
        let throttles = Throttles::new(&config, start);
        let taken: usize = (0..4)
            .map(|_| {
                let bucket = throttles.bucket(one);
                std::thread::spawn(move || (0..10).filter(|_| bucket.take(start)).count())
            })
            .map(|h| h.join().unwrap())
            .sum();
        assert_eq!(taken, 5);
        assert!(throttles.bucket(two).take(start));
        assert!(throttles.bucket(one).take(start + Duration::from_secs(1)));
        // An added broker's sessions share one default bucket too.
        let burst = Throttle::default().burst as usize;
        let added: usize = (0..2)
            .map(|_| {
                let bucket = throttles.bucket(BrokerId(999));
                (0..burst).filter(|_| bucket.take(start)).count()
            })
            .sum();
        assert_eq!(added, burst);
    }
}
