//! The back-off of failed logins: wrong secrets cost time, then are refused
//! for a while, so that guessing a broker's secret is slow and a flood of
//! them is cheap for the server and quiet in its log.
//!
//! Failures are counted per source address and per broker (per operator on
//! the operators' channel, which keeps its own; an id that names no one
//! is counted as one that does, in a bounded table of its own, so the
//! back-off's answers do not say which exist), and forgotten
//! `forget_after_ms` after the last one. After `free_failures` failures,
//! the answer to each further one waits, twice as long each time from
//! `first_delay_ms` up to `max_delay_ms`. At `refuse_after` failures the
//! answer is `LoginRejected` 417 `TooManyFailedLogins` instead of 402;
//! from then on an address is refused 417 at once, before its credentials
//! are looked at, until its failures are forgotten. A broker is never
//! refused a login with the right secret from an address that is not
//! refused: else anybody could lock a broker out by failing its logins.
//! A login that succeeds forgets its address's failures for the id it
//! logged in as, in the address's count and in the id's, and no others: a
//! broker's own typos are forgiven, but a member who guesses another's
//! secret between logins of its own is not (its address is refused at its
//! 8th wrong guess, as anyone's), nor are others' guesses at the broker
//! from elsewhere.
//!
//! The log gets one line per [`LOG_INTERVAL`] about failed logins, with
//! their count, not one line each. The numbers are
//! `[server.login_backoff]` ([`LoginBackoffSettings`]; defaults 3 free,
//! 50 ms to 1 s, refused at the 8th, forgotten after 60 s).

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use cetx_engine::journal::private;
use cetx_engine::BrokerId;

use crate::admission::Source;
use crate::config::LoginBackoffSettings;
use crate::log_tally::LogTally;
/// At most one log line about failed logins per this long.
const LOG_INTERVAL: Duration = Duration::from_secs(10);
/// Most source addresses remembered; past it the stalest is forgotten.
const MAX_ADDRESSES: usize = 4_096;
/// Addresses remembered per id that logged in from them, the newest:
/// what makes an address proven ([`Source::Proven`]).
const PROVEN_PER_ID: usize = 4;
/// An address not logged in from for this long is no longer proven at
/// the next start (its id closed, say): 90 days, in seconds.
const PROVEN_FOR_S: u64 = 90 * 86_400;
/// A login from a proven address rewrites its time in the file only when
/// the time written is older than this: a day, in seconds.
const PROVEN_REFRESH_S: u64 = 86_400;
/// An address is proven this long after a login from it first put it in
/// a list: a minute, in seconds. A member cannot prove address after
/// address and use each at once (for wrong secrets that hold kept slots
/// while they wait out their back-off): an id has 4 addresses at a time,
/// so at most 4 new ones a minute are proven.
const PROVEN_AFTER: Duration = Duration::from_secs(60);

/// Failed logins of one address or broker.
#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last_at: Instant,
}

impl Failures {
    /// The count now, 0 once forgotten (`forget_after` since the last).
    fn count(&self, now: Instant, forget_after: Duration) -> u32 {
        if now.saturating_duration_since(self.last_at) >= forget_after {
            0
        } else {
            self.count
        }
    }
}

/// What to answer a failed login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    /// How long to wait before answering.
    pub(crate) delay: Duration,
    /// Answer 417 `TooManyFailedLogins` rather than 402.
    pub(crate) refuse: bool,
}

/// The failed logins of a server's sessions, of brokers (`K` a
/// [`BrokerId`]) or of operators (`K` an operator's id).
#[derive(Debug)]
pub(crate) struct LoginBackoff<K = BrokerId> {
    inner: Mutex<Inner<K>>,
    settings: LoginBackoffSettings,
    /// Where the proven addresses are kept across restarts, if anywhere.
    file: Option<PathBuf>,
    /// Held while they are written: one write at a time.
    writing: Mutex<()>,
    /// Logins refused so far, for their credentials or their address.
    refused: AtomicU64,
}

#[derive(Debug)]
struct Inner<K> {
    by_address: BTreeMap<IpAddr, Failures>,
    by_broker: BTreeMap<K, Failures>,
    /// The failures of ids that name no one, counted as a configured id's
    /// are (so that a guesser cannot tell the two apart by the answer's
    /// wait or its 417), and kept apart from them: at most
    /// [`MAX_ADDRESSES`], the stalest forgotten past it, which never
    /// forgets a configured id's.
    by_unknown: BTreeMap<K, Failures>,
    /// The failures of each address for each configured id, which a
    /// success of that id from that address takes off the address's.
    by_pair: BTreeMap<(IpAddr, K), Failures>,
    /// The addresses each id last logged in from, the newest last: at
    /// most [`PROVEN_PER_ID`] an id, so that no one can push others'
    /// addresses out.
    proven_by: BTreeMap<K, VecDeque<(IpAddr, u64)>>,
    /// The addresses in `proven_by`, each with the number of ids whose
    /// list holds it.
    proven: BTreeMap<IpAddr, Proof>,
    /// An address was proven or forgotten since they were last written.
    proven_changed: bool,
    /// The last write of them failed (and was logged).
    write_failed: bool,
    log: LogTally,
    /// The last failure counted: its address, the id it named, and that
    /// address's or id's failures then.
    last: Option<(IpAddr, K, u32)>,
}

/// An address in some id's list of the addresses it logged in from.
#[derive(Clone, Copy, Debug)]
struct Proof {
    /// The lists that hold it.
    ids: u32,
    /// When it came into one, on the monotonic clock: it is proven
    /// [`PROVEN_AFTER`] later. `None` for one proven already (read from
    /// the file with a time older than that).
    since: Option<Instant>,
}

/// An id logins are counted by, as its file of proven addresses writes
/// it: a number.
pub(crate) trait LoginId: Ord + Copy + std::fmt::Display {
    /// The id numbered `number`.
    fn from_number(number: u32) -> Self;
}

impl LoginId for BrokerId {
    fn from_number(number: u32) -> Self {
        Self(number)
    }
}

impl LoginId for u32 {
    fn from_number(number: u32) -> Self {
        number
    }
}

impl<K: LoginId> LoginBackoff<K> {
    /// Nothing failed yet; `settings` are the numbers.
    pub(crate) fn new(settings: LoginBackoffSettings) -> Self {
        Self {
            file: None,
            writing: Mutex::new(()),
            inner: Mutex::new(Inner {
                by_address: BTreeMap::new(),
                by_broker: BTreeMap::new(),
                by_unknown: BTreeMap::new(),
                by_pair: BTreeMap::new(),
                proven_by: BTreeMap::new(),
                proven: BTreeMap::new(),
                proven_changed: false,
                write_failed: false,
                log: LogTally::new(LOG_INTERVAL),
                last: None,
            }),
            settings,
            refused: AtomicU64::new(0),
        }
    }

    /// [`Self::new`], with the proven addresses read from `file` (none if
    /// it does not exist) and written back to it by
    /// [`Self::write_proven`]. A line that cannot be read is skipped, and
    /// logged: the file only saves brokers a wait in a flood. Anything but
    /// a regular file there is not read (a FIFO would hang the start).
    pub(crate) fn with_file(settings: LoginBackoffSettings, file: PathBuf) -> Self {
        let mut backoff = Self::new(settings);
        let now_s = unix_now_s();
        let mut dropped = false;
        match private::read_regular(&file) {
            Ok(bytes) => {
                let inner = backoff
                    .inner
                    .get_mut()
                    .unwrap_or_else(PoisonError::into_inner);
                for (at, line) in String::from_utf8_lossy(&bytes).lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let mut fields = line.split_whitespace();
                    let entry = (|| {
                        let id = fields.next()?.parse().ok()?;
                        let addr = fields.next()?.parse::<IpAddr>().ok()?;
                        // A line without a time (this file's first
                        // form) is taken as logged in now; a time ahead
                        // of the clock, as now.
                        let at_s = match fields.next() {
                            Some(at_s) => at_s.parse::<u64>().ok()?.min(now_s),
                            None => now_s,
                        };
                        fields.next().is_none().then_some((id, addr, at_s))
                    })();
                    dropped |= entry.is_none();
                    match entry {
                        Some((_, _, at_s)) if at_s.saturating_add(PROVEN_FOR_S) < now_s => {
                            dropped = true;
                        }
                        Some((id, addr, at_s)) => {
                            // One written less than a minute before the
                            // stop waits out the rest of it.
                            let since = Duration::from_secs(now_s - at_s);
                            let since = (since < PROVEN_AFTER)
                                .then(|| Instant::now().checked_sub(since))
                                .flatten();
                            inner.prove(addr, K::from_number(id), at_s, since);
                        }
                        None => tracing::warn!(
                            file = %file.display(),
                            line = at + 1,
                            "skipped a line that is not an id, an address and a time"
                        ),
                    }
                }
                // Written again without what was dropped.
                inner.proven_changed = dropped;
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(
                file = %file.display(),
                %error,
                "could not read the addresses logins succeeded from; none is proven until it is logged in from again"
            ),
        }
        backoff.file = Some(file);
        backoff
    }

    /// Whether the proven addresses changed since they were last written
    /// and no write is under way ([`Self::write_proven`] has something to
    /// do): a write that hangs (a stalled disk) is not joined by one a
    /// second.
    pub(crate) fn proven_changed(&self) -> bool {
        self.file.is_some()
            && self.lock().proven_changed
            && !matches!(self.writing.try_lock(), Err(TryLockError::WouldBlock))
    }

    /// Writes the proven addresses to the file of [`Self::with_file`] if
    /// any was proven, forgotten or made the newest since the last write:
    /// to a private temporary file beside it, synced, then renamed over
    /// it, so that a crash leaves the old list or the new. A failure is
    /// tried again at the next call, and logged once until a write
    /// succeeds (a full disk would have it every second); the temporary
    /// file is removed. Blocking: call it off the async threads. One call
    /// at a time writes; another waits for it.
    pub(crate) fn write_proven(&self) {
        let Some(file) = &self.file else {
            return;
        };
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let text = {
            let mut inner = self.lock();
            if !inner.proven_changed {
                return;
            }
            inner.proven_changed = false;
            let mut text = String::from(
                "# cetx: the addresses each id last logged in from, the newest last, and when (Unix seconds; written by the server)\n",
            );
            for (id, addresses) in &inner.proven_by {
                for (addr, at_s) in addresses {
                    text.push_str(&format!("{id} {addr} {at_s}\n"));
                }
            }
            text
        };
        let next = file.with_extension("next");
        let written = private::create_temporary(&next)
            .and_then(|mut out| {
                std::io::Write::write_all(&mut out, text.as_bytes())?;
                out.sync_data()
            })
            .and_then(|()| std::fs::rename(&next, file));
        if written.is_err() {
            let _ = std::fs::remove_file(&next);
        }
        let mut inner = self.lock();
        match written {
            Err(error) => {
                inner.proven_changed = true;
                if !std::mem::replace(&mut inner.write_failed, true) {
                    tracing::warn!(
                        file = %file.display(),
                        %error,
                        "could not write the addresses logins succeeded from; trying again every second"
                    );
                }
            }
            Ok(()) if std::mem::take(&mut inner.write_failed) => {
                tracing::info!(file = %file.display(), "wrote the addresses logins succeeded from");
            }
            Ok(()) => {}
        }
    }

    /// Logins refused so far: each [`Self::failed`], and each address
    /// refused at once ([`Self::refuse_at_once`]).
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether logins from `addr` are refused now, before their
    /// credentials are looked at.
    pub(crate) fn is_refused(&self, addr: IpAddr, now: Instant) -> bool {
        self.lock().by_address.get(&addr).is_some_and(|f| {
            f.count(now, self.settings.forget_after()) >= self.settings.refuse_after
        })
    }

    /// Where a new connection from `addr` stands for a pending slot:
    /// [`Source::Proven`] when `addr` is among the last [`PROVEN_PER_ID`]
    /// addresses an id logged in from, since [`PROVEN_AFTER`] or more
    /// (or read from the file). Failures from it do not unprove it: another user behind
    /// the broker's address (a NAT) would take its place away with one
    /// wrong secret, and what a guesser there can hold is the address's
    /// one kept slot, a second at a time, until the address is refused.
    pub(crate) fn source(&self, addr: IpAddr) -> Source {
        self.source_at(addr, Instant::now())
    }

    /// [`Self::source`] at `now`.
    fn source_at(&self, addr: IpAddr, now: Instant) -> Source {
        match self.lock().proven.get(&addr.to_canonical()) {
            Some(proof)
                if proof
                    .since
                    .is_none_or(|since| now.saturating_duration_since(since) >= PROVEN_AFTER) =>
            {
                Source::Proven
            }
            _ => Source::Unproven,
        }
    }

    /// [`Self::is_refused`], counting the login as refused when it is.
    pub(crate) fn refuse_at_once(&self, addr: IpAddr, now: Instant) -> bool {
        let refused = self.is_refused(addr, now);
        if refused {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        refused
    }

    /// Counts a failed login from `addr` for `id` (`known` when it names
    /// a configured one, else it is counted the same, apart) and says how
    /// to answer it.
    pub(crate) fn failed(&self, addr: IpAddr, id: K, known: bool, now: Instant) -> Answer {
        self.refused.fetch_add(1, Ordering::Relaxed);
        let forget = self.settings.forget_after();
        let mut inner = self.lock();
        let by_address = count_failure(&mut inner.by_address, addr, now, forget);
        let by_id = if known {
            count_failure(&mut inner.by_pair, (addr, id), now, forget);
            count_failure(&mut inner.by_broker, id, now, forget)
        } else {
            count_failure(&mut inner.by_unknown, id, now, forget)
        };
        if inner.by_address.len() > MAX_ADDRESSES {
            forget_stalest(&mut inner.by_address, now, forget);
        }
        if inner.by_pair.len() > MAX_ADDRESSES {
            forget_stalest(&mut inner.by_pair, now, forget);
        }
        if inner.by_unknown.len() > MAX_ADDRESSES {
            forget_stalest(&mut inner.by_unknown, now, forget);
        }
        let failures = by_address.max(by_id);
        inner.last = Some((addr, id, failures));
        if let Some(count) = inner.log.count(now) {
            inner.log_failures(count);
        }
        if by_address == self.settings.refuse_after {
            tracing::warn!(
                %addr,
                %id,
                failures = by_address,
                "refusing logins from this address until its failures are forgotten"
            );
        }
        Answer {
            delay: delay(&self.settings, failures),
            refuse: failures >= self.settings.refuse_after,
        }
    }

    /// Writes the line about the failed logins held back since the last
    /// one, if its interval has run: call it on a timer, so that a burst's
    /// last failures are logged even if no other comes.
    pub(crate) fn flush_log(&self, now: Instant) {
        let mut inner = self.lock();
        if let Some(count) = inner.log.flush(now) {
            inner.log_failures(count);
        }
    }

    /// A login from `addr` as `id` succeeded: the address's failures for
    /// `id` are taken off the address's count and the id's; the others
    /// are kept.
    pub(crate) fn succeeded(&self, addr: IpAddr, id: K, now: Instant) {
        let forget = self.settings.forget_after();
        let mut inner = self.lock();
        let own = inner
            .by_pair
            .remove(&(addr, id))
            .map_or(0, |f| f.count(now, forget));
        forgive(&mut inner.by_address, addr, own, now, forget);
        forgive(&mut inner.by_broker, id, own, now, forget);
        inner.prove(addr, id, unix_now_s(), Some(now));
    }
}

impl<K: Ord> Inner<K> {
    /// `id` logged in from `addr` at `at_s` (Unix seconds): it is the
    /// newest of `id`'s addresses, and the oldest past [`PROVEN_PER_ID`]
    /// is forgotten. An address new to every list is proven
    /// [`PROVEN_AFTER`] after `since` (at once if `None`).
    fn prove(&mut self, addr: IpAddr, id: K, at_s: u64, since: Option<Instant>) {
        // An IPv4 peer on an IPv6 socket is the same peer as on an IPv4
        // one (`listen` changed between restarts).
        let addr = addr.to_canonical();
        let addresses = self.proven_by.entry(id).or_default();
        if let Some(at) = addresses.iter().position(|(a, _)| *a == addr) {
            // The newest now, in memory; in the file (its order says
            // which one the next new address pushes out, its time when it
            // is forgotten) once its time is a day old, so that logins
            // back and forth between two addresses do not rewrite it each
            // time.
            let (_, written_s) = addresses.remove(at).unwrap_or((addr, at_s));
            let refresh = written_s.saturating_add(PROVEN_REFRESH_S) <= at_s;
            addresses.push_back((addr, if refresh { at_s } else { written_s }));
            self.proven_changed |= refresh;
            return;
        }
        addresses.push_back((addr, at_s));
        self.proven_changed = true;
        let oldest = (addresses.len() > PROVEN_PER_ID)
            .then(|| addresses.pop_front())
            .flatten();
        self.proven
            .entry(addr)
            .or_insert(Proof { ids: 0, since })
            .ids += 1;
        if let Some((oldest, _)) = oldest {
            if let Some(proof) = self.proven.get_mut(&oldest) {
                proof.ids -= 1;
                if proof.ids == 0 {
                    self.proven.remove(&oldest);
                }
            }
        }
    }
}

impl<K: std::fmt::Display> Inner<K> {
    fn log_failures(&self, count: u64) {
        if let Some((addr, id, failures)) = &self.last {
            tracing::warn!(
                count,
                last_addr = %addr,
                last_id = %id,
                failures,
                "failed logins (count: since the last such line)"
            );
        }
    }
}

/// Adds a failure to `key`'s count; the count now.
fn count_failure<K: Ord>(
    map: &mut BTreeMap<K, Failures>,
    key: K,
    now: Instant,
    forget_after: Duration,
) -> u32 {
    let failures = map.entry(key).or_insert(Failures {
        count: 0,
        last_at: now,
    });
    failures.count = failures.count(now, forget_after).saturating_add(1);
    failures.last_at = now;
    failures.count
}

/// Takes `own` failures off `key`'s count, forgetting it at 0.
fn forgive<T: Ord>(
    map: &mut BTreeMap<T, Failures>,
    key: T,
    own: u32,
    now: Instant,
    forget_after: Duration,
) {
    if let Some(failures) = map.get_mut(&key) {
        failures.count = failures.count(now, forget_after).saturating_sub(own);
        if failures.count == 0 {
            map.remove(&key);
        }
    }
}

/// Forgets the failures that have lapsed, and if none have, the stalest.
fn forget_stalest<T: Ord + Copy>(
    map: &mut BTreeMap<T, Failures>,
    now: Instant,
    forget_after: Duration,
) {
    map.retain(|_, f| f.count(now, forget_after) > 0);
    if map.len() > MAX_ADDRESSES {
        if let Some(stalest) = map.iter().min_by_key(|(_, f)| f.last_at).map(|(a, _)| *a) {
            map.remove(&stalest);
        }
    }
}

/// The wall clock's time, in seconds since 1970.
fn unix_now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The wait before answering the `failures`-th failure.
fn delay(settings: &LoginBackoffSettings, failures: u32) -> Duration {
    if failures <= settings.free_failures {
        return Duration::ZERO;
    }
    let doublings = (failures - settings.free_failures - 1).min(16);
    settings
        .first_delay()
        .saturating_mul(1 << doublings)
        .min(settings.max_delay())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFUSE_AFTER: u32 = 8;

    /// A time by which an address proven now is proven.
    fn later() -> Instant {
        Instant::now() + PROVEN_AFTER
    }

    fn backoff() -> LoginBackoff {
        LoginBackoff::new(LoginBackoffSettings::default())
    }

    #[test]
    fn delays_grow_then_the_answer_is_a_refusal() {
        let backoff = backoff();
        let addr: IpAddr = [10, 0, 0, 1].into();
        let now = Instant::now();
        let answers: Vec<Answer> = (0..REFUSE_AFTER)
            .map(|_| backoff.failed(addr, BrokerId(1), true, now))
            .collect();
        let ms: Vec<u128> = answers.iter().map(|a| a.delay.as_millis()).collect();
        assert_eq!(ms, [0, 0, 0, 50, 100, 200, 400, 800]);
        assert_eq!(answers.iter().filter(|a| a.refuse).count(), 1);
        assert!(answers[7].refuse);
        assert!(backoff.is_refused(addr, now));
        // Another address is not refused, but the broker's failures slow
        // its wrong secrets too.
        let other: IpAddr = [10, 0, 0, 2].into();
        assert!(!backoff.is_refused(other, now));
        assert_eq!(
            backoff.failed(other, BrokerId(1), true, now).delay,
            Duration::from_secs(1)
        );
        // Forgotten after a while.
        assert!(!backoff.is_refused(addr, now + Duration::from_secs(60)));
        assert_eq!(
            backoff
                .failed(addr, BrokerId(99), false, now + Duration::from_secs(60))
                .delay,
            Duration::ZERO
        );
    }

    #[test]
    fn a_success_forgets_the_address_s_failures_for_its_own_id_only() {
        let backoff = backoff();
        let addr: IpAddr = [10, 0, 0, 1].into();
        let now = Instant::now();
        // A broker's own typos are forgiven once it logs in.
        for _ in 0..REFUSE_AFTER - 1 {
            backoff.failed(addr, BrokerId(1), true, now);
        }
        backoff.succeeded(addr, BrokerId(1), now);
        assert!(!backoff.is_refused(addr, now));
        // And in the broker's own count: its next typo is its first.
        let answer = backoff.failed(addr, BrokerId(1), true, now);
        assert_eq!((answer.delay, answer.refuse), (Duration::ZERO, false));
        backoff.succeeded(addr, BrokerId(1), now);
        // Guesses at broker 1 from elsewhere are not forgiven by its
        // logins: the 8th is refused, from any address.
        let elsewhere: IpAddr = [10, 0, 0, 9].into();
        for _ in 0..REFUSE_AFTER - 1 {
            backoff.failed(elsewhere, BrokerId(1), true, now);
        }
        backoff.succeeded(addr, BrokerId(1), now);
        let answer = backoff.failed(elsewhere, BrokerId(1), true, now);
        assert_eq!(
            (answer.delay, answer.refuse),
            (Duration::from_millis(800), true)
        );
        // Guesses at broker 2 between broker 1's logins add up: the
        // address is refused at the 8th, as anyone's.
        for guess in 1..=REFUSE_AFTER {
            assert!(!backoff.is_refused(addr, now), "guess {guess}");
            backoff.failed(addr, BrokerId(2), true, now);
            backoff.succeeded(addr, BrokerId(1), now);
        }
        assert!(backoff.is_refused(addr, now));
        // Failures naming no configured broker are kept too.
        let other: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..REFUSE_AFTER {
            backoff.failed(other, BrokerId(99), false, now);
        }
        backoff.succeeded(other, BrokerId(1), now);
        assert!(backoff.is_refused(other, now));
    }

    /// A guesser learns nothing of which ids exist from the answers: the
    /// failures for an id that names no one are counted as a configured
    /// broker's are, each from a fresh address (a tester told the two
    /// apart: 417 after 1 s for broker 4, 402 at once for id 98).
    #[test]
    fn an_unknown_id_s_failures_are_answered_as_a_known_one_s() {
        let backoff = backoff();
        let now = Instant::now();
        let answers = |id: u32, known: bool| -> Vec<Answer> {
            (0..=REFUSE_AFTER)
                .map(|i| {
                    let addr = IpAddr::from([10, u8::from(known), 0, i as u8]);
                    backoff.failed(addr, BrokerId(id), known, now)
                })
                .collect()
        };
        let known = answers(4, true);
        assert_eq!(answers(98, false), known);
        assert!(known[REFUSE_AFTER as usize].refuse, "{known:?}");
        // Ids that name no one are bounded apart, never forgetting a
        // configured id's failures.
        for id in 1_000..1_000 + MAX_ADDRESSES as u32 + 10 {
            backoff.failed(IpAddr::from([10, 9, 9, 9]), BrokerId(id), false, now);
        }
        assert!(backoff.lock().by_unknown.len() <= MAX_ADDRESSES);
        let fresh = IpAddr::from([10, 8, 8, 8]);
        assert!(backoff.failed(fresh, BrokerId(4), true, now).refuse);
    }

    /// An address is proven by a success from it, its failures
    /// notwithstanding. Each id proves its last 4 addresses: one id
    /// logging in from many pushes out its own, no other's.
    #[test]
    fn an_address_is_proven_by_a_success_from_it() {
        let backoff = backoff();
        let addr: IpAddr = [10, 0, 0, 1].into();
        let now = Instant::now();
        assert_eq!(backoff.source_at(addr, later()), Source::Unproven);
        backoff.succeeded(addr, BrokerId(1), now);
        // Not at once: a member cannot prove an address and use it.
        assert_eq!(backoff.source(addr), Source::Unproven);
        assert_eq!(backoff.source_at(addr, later()), Source::Proven);
        // Another's wrong secret from the same address (a NAT).
        backoff.failed(addr, BrokerId(2), true, now);
        assert_eq!(backoff.source_at(addr, later()), Source::Proven);
        let many = |last: u32| IpAddr::from(((last + 1) << 8).to_be_bytes());
        for last in 0..1_000 {
            backoff.succeeded(many(last), BrokerId(2), now);
        }
        assert_eq!(
            backoff.source_at(addr, later()),
            Source::Proven,
            "broker 1's"
        );
        assert_eq!(backoff.source_at(many(995), later()), Source::Unproven);
        assert_eq!(backoff.source_at(many(996), later()), Source::Proven);
        assert_eq!(backoff.lock().proven.len(), 1 + PROVEN_PER_ID);
        // Broker 2 logs in from broker 1's address too; broker 1's other
        // addresses push it out of its own list, not out of broker 2's.
        backoff.succeeded(addr, BrokerId(2), now);
        for last in 0..PROVEN_PER_ID as u32 {
            backoff.succeeded(many(2_000 + last), BrokerId(1), now);
        }
        assert_eq!(backoff.source_at(addr, later()), Source::Proven);
        for last in 0..PROVEN_PER_ID as u32 {
            backoff.succeeded(many(3_000 + last), BrokerId(2), now);
        }
        assert_eq!(backoff.source_at(addr, later()), Source::Unproven);
    }

    /// An address proven for one broker counts at once for another that
    /// logs in from it; one that left every list waits its minute again
    /// when it comes back (reviewer 141 F6).
    #[test]
    fn the_minute_runs_once_an_address_is_in_no_list() {
        let backoff = backoff();
        let home: IpAddr = [10, 0, 0, 1].into();
        let other = |last: u32| IpAddr::from(((last + 1) << 8).to_be_bytes());
        let start = Instant::now();
        backoff.succeeded(home, BrokerId(1), start);
        let proven_at = start + PROVEN_AFTER;
        assert_eq!(backoff.source_at(home, proven_at), Source::Proven);
        // Broker 2's first login from it, two minutes on: still proven.
        let second = start + 2 * PROVEN_AFTER;
        backoff.succeeded(home, BrokerId(2), second);
        assert_eq!(backoff.source_at(home, second), Source::Proven);
        // Pushed out of both lists, it is no longer proven; back in one,
        // it is proven a minute after that login, not before.
        for last in 0..PROVEN_PER_ID as u32 {
            backoff.succeeded(other(last), BrokerId(1), second);
            backoff.succeeded(other(100 + last), BrokerId(2), second);
        }
        let third = start + 3 * PROVEN_AFTER;
        assert_eq!(backoff.source_at(home, third), Source::Unproven);
        backoff.succeeded(home, BrokerId(1), third);
        assert_eq!(backoff.source_at(home, third), Source::Unproven);
        assert_eq!(
            backoff.source_at(home, third + PROVEN_AFTER - Duration::from_millis(1)),
            Source::Unproven
        );
        assert_eq!(
            backoff.source_at(home, third + PROVEN_AFTER),
            Source::Proven
        );
    }

    /// The proven addresses are written to the file given and read from
    /// it at the next start; a line that is not an id and an address is
    /// skipped, and a missing file proves nothing.
    #[test]
    fn the_proven_addresses_are_kept_in_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("addresses");
        // The file's lines, each without its time.
        let listed = |file: &std::path::Path| -> Vec<String> {
            std::fs::read_to_string(file)
                .unwrap()
                .lines()
                .filter(|line| !line.starts_with('#'))
                .map(|line| line.rsplit_once(' ').unwrap().0.to_owned())
                .collect()
        };
        let settings = LoginBackoffSettings::default();
        let first = LoginBackoff::<BrokerId>::with_file(settings, file.clone());
        let addr: IpAddr = [10, 0, 0, 1].into();
        first.succeeded(addr, BrokerId(7), Instant::now());
        assert!(first.proven_changed());
        first.write_proven();
        assert!(!first.proven_changed());
        assert_eq!(listed(&file), ["7 10.0.0.1"]);
        // Its time is rewritten once it is a day old, however often it
        // logs in meanwhile.
        let written_s = unix_now_s();
        for hours in 1..24 {
            let at_s = written_s + hours * 3_600;
            first.lock().prove(addr, BrokerId(7), at_s, None);
        }
        assert!(!first.proven_changed());
        let day_s = written_s + PROVEN_REFRESH_S + 1;
        first.lock().prove(addr, BrokerId(7), day_s, None);
        assert!(first.proven_changed());
        first.write_proven();
        assert!(std::fs::read_to_string(&file)
            .unwrap()
            .ends_with(&format!("7 10.0.0.1 {day_s}\n")));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&file).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "as private as the journal");
        // The same address again, written today: nothing to write; a new
        // one is written; logins back and forth between the two within
        // the day are not.
        first.succeeded(addr, BrokerId(7), Instant::now());
        assert!(!first.proven_changed());
        first.succeeded([10, 0, 0, 9].into(), BrokerId(7), Instant::now());
        assert!(first.proven_changed());
        first.write_proven();
        first.succeeded(addr, BrokerId(7), Instant::now());
        assert!(!first.proven_changed());
        assert_eq!(listed(&file), ["7 10.0.0.1", "7 10.0.0.9"]);
        // An IPv4 peer seen on an IPv6 socket is the same peer.
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(first.source_at(mapped, later()), Source::Proven);
        // Lines that cannot be read are skipped, one not logged in from
        // for over 90 days is forgotten, and the file written again
        // without them.
        let now_s = unix_now_s();
        let (old_s, expired_s) = (now_s - 120, now_s - PROVEN_FOR_S - 1);
        std::fs::write(
            &file,
            format!(
                "# by the last server\n7 10.0.0.9 {old_s}\n7 10.0.0.1 {old_s}\n8\n8 not-an-address {now_s}\n\n\
                 9 ::1 {old_s}\n10 10.0.0.10 {expired_s}\n11 10.0.0.11\n12 10.0.0.12 {}\n",
                now_s + 1_000
            ),
        )
        .unwrap();
        let second = LoginBackoff::<BrokerId>::with_file(settings, file.clone());
        // Proven from the start: they were a minute before it.
        assert_eq!(second.source(addr), Source::Proven);
        assert_eq!(second.source("::1".parse().unwrap()), Source::Proven);
        // A line without a time, or one ahead of the clock, is read as
        // logged in now: proven a minute later.
        for fresh in [[10, 0, 0, 11], [10, 0, 0, 12]] {
            assert_eq!(second.source(fresh.into()), Source::Unproven);
            assert_eq!(second.source_at(fresh.into(), later()), Source::Proven);
        }
        assert_eq!(
            second.source_at([10, 0, 0, 2].into(), later()),
            Source::Unproven
        );
        assert_eq!(
            second.source_at([10, 0, 0, 10].into(), later()),
            Source::Unproven
        );
        second.write_proven();
        assert_eq!(
            listed(&file),
            [
                "7 10.0.0.9",
                "7 10.0.0.1",
                "9 ::1",
                "11 10.0.0.11",
                "12 10.0.0.12"
            ]
        );
        // Nothing changed since: the file is left as it is.
        std::fs::write(&file, "# by hand\n").unwrap();
        second.write_proven();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "# by hand\n");
        let missing = LoginBackoff::<BrokerId>::with_file(settings, dir.path().join("none"));
        assert_eq!(missing.source_at(addr, later()), Source::Unproven);
        // A write that fails is made again at the next call.
        let unwritable = dir.path().join("not-yet").join("addresses");
        let third = LoginBackoff::<BrokerId>::with_file(settings, unwritable.clone());
        third.succeeded(addr, BrokerId(7), Instant::now());
        third.write_proven();
        assert!(!unwritable.exists());
        std::fs::create_dir(dir.path().join("not-yet")).unwrap();
        third.write_proven();
        assert_eq!(listed(&unwritable), ["7 10.0.0.1"]);
    }

    #[test]
    fn the_addresses_remembered_are_bounded() {
        let backoff = backoff();
        let now = Instant::now();
        for i in 0..=MAX_ADDRESSES as u32 + 10 {
            backoff.failed(IpAddr::from(i.to_be_bytes()), BrokerId(1), true, now);
        }
        assert!(backoff.lock().by_address.len() <= MAX_ADDRESSES);
        assert!(backoff.lock().by_pair.len() <= MAX_ADDRESSES);
    }
}
