//! Slots that credentials earn: which connections the server keeps open.
//!
//! A connection that has not logged in yet holds a *pending* slot: there
//! are few of them (`server.max_pending_logins`), and one source address
//! holds at most `server.max_pending_per_address` of them, so that a peer
//! with idle sockets fills its own share and nobody else's. A connection
//! over either limit is answered `LoginRejected` 412 and closed at once,
//! before anything is read from it.
//!
//! A login that succeeds trades its pending slot for a *session* slot
//! (`server.max_connections`), which only logged-in brokers hold. So a
//! flood of connections that never log in can take pending slots, never
//! the sessions of brokers with valid credentials. A takeover (a broker
//! logging in again while its session lives) always gets one: at the
//! limit, one over it, which the session it takes over gives back as it
//! closes ([`Admission::takeover_session`]).
//!
//! When the pool is full (a flood from many addresses), a new connection
//! whose address has room takes the place of the **oldest** pending one,
//! which is told `LoginRejected` 412 and closed
//! ([`Admission::admit_evicting`]). A broker's login takes milliseconds, so
//! the oldest is an idle one: a flood cannot keep a broker out by holding
//! the pool, only by filling it faster than brokers log in.
//!
//! A login checked and found wrong keeps its slot while it waits out its
//! back-off ([`crate::backoff`]): that wait is the brake on guessers with
//! many addresses. So a flood of wrong secrets from fresh addresses can
//! hold every slot for a second at a time, and no idle one is left to
//! evict. A quarter of the slots are therefore **kept** for connections
//! from a [`Source::Proven`] address: one of the last few a broker logged
//! in from, a minute ago or more, kept across restarts
//! ([`crate::backoff`]). A broker that logged in once gets in again from
//! where it did, whatever the flood; a guesser cannot earn that without a
//! right secret. An address holds at most one kept slot, and only a
//! connection that could take a kept slot closes an idle one in it to
//! make room.
//!
//! ```text
//! accept ─► PendingSlot (pool, per address) ─login ok─► SessionSlot
//!             address over its share: LoginRejected 412, close
//!             pool full: the oldest pending one is closed (412) instead
//!             a proven address: one of the kept quarter, when the rest is full
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::config::ServerSettings;

/// The server's slots: pending logins and logged-in sessions.
#[derive(Debug)]
pub(crate) struct Admission {
    /// The slots any connection may take.
    pending: Arc<Semaphore>,
    /// The slots only a [`Source::Proven`] address's may take, one each.
    kept: Arc<Semaphore>,
    /// Session slots held: at most `max_sessions`, but for takeovers.
    sessions: Arc<AtomicUsize>,
    /// Pending slots held per source address; an address holding none is
    /// not in the map, so it is bounded by `max_pending_logins`.
    per_address: Mutex<BTreeMap<IpAddr, Share>>,
    max_pending_per_address: u32,
    max_pending: usize,
    /// How many of `max_pending` are kept.
    max_kept: usize,
    max_sessions: usize,
    /// Connections refused for want of a pending slot, for metrics (the
    /// oldest pending ones closed to make room included).
    refused: AtomicU64,
    /// The pending slots of connections that have not sent their login,
    /// in the order they were given, each with its pool and the token that
    /// closes its connection: the front is the oldest.
    queue: Mutex<VecDeque<(u64, Pool, CancellationToken)>>,
    next_id: AtomicU64,
}

/// Why a new connection got no pending slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Full {
    /// Every pending slot is taken.
    Pending,
    /// Its source address holds its share of them.
    Address,
}

/// Where a new connection comes from, as far as its slots go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// One of the last addresses an id logged in from, a minute ago or
    /// more: it may take a kept slot.
    Proven,
    /// Any other address.
    Unproven,
}

/// Which of the two pools a pending slot is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pool {
    /// Any connection's.
    Open,
    /// A proven address's.
    Kept,
}

/// One source address's pending slots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Share {
    /// Slots held, and waited for.
    held: u32,
    /// One of them is a kept slot, or a wait for one.
    kept: bool,
}

/// A connection's place while it has not logged in; freed when dropped.
#[derive(Debug)]
pub(crate) struct PendingSlot {
    admission: Arc<Admission>,
    addr: IpAddr,
    pool: Pool,
    id: u64,
    evicted: CancellationToken,
    _permit: OwnedSemaphorePermit,
}

/// A logged-in session's place; freed when dropped.
#[derive(Debug)]
pub(crate) struct SessionSlot {
    held: Arc<AtomicUsize>,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.held.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    /// The limits of `settings`.
    pub(crate) fn new(settings: &ServerSettings) -> Arc<Self> {
        Self::with_limits(
            settings.max_pending_logins,
            settings.max_pending_per_address,
            settings.max_connections,
        )
    }

    /// At most `max_pending` pending slots (a quarter of them, rounded
    /// down, kept for [`Source::Proven`] addresses, one each), `per_address` of them
    /// per source address, and `max_sessions` session slots.
    pub(crate) fn with_limits(max_pending: u32, per_address: u32, max_sessions: u32) -> Arc<Self> {
        let slots = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        let kept = slots(max_pending / 4);
        Arc::new(Self {
            pending: Arc::new(Semaphore::new(slots(max_pending) - kept)),
            kept: Arc::new(Semaphore::new(kept)),
            sessions: Arc::new(AtomicUsize::new(0)),
            per_address: Mutex::new(BTreeMap::new()),
            max_pending_per_address: per_address,
            max_pending: slots(max_pending),
            max_kept: kept,
            max_sessions: slots(max_sessions),
            refused: AtomicU64::new(0),
            queue: Mutex::new(VecDeque::new()),
            next_id: AtomicU64::new(0),
        })
    }

    /// A pending slot for a new connection from `addr`: a kept one if
    /// the others are taken, `source` is [`Source::Proven`] and the
    /// address holds no kept slot yet.
    ///
    /// # Errors
    /// [`Full`] when the pool or the address's share is taken. Only the
    /// second counts as refused here: a connection that finds the pool
    /// full goes on to [`Self::admit_evicting`], which counts it if it
    /// gets no slot there either.
    pub(crate) fn admit(
        self: &Arc<Self>,
        addr: IpAddr,
        source: Source,
    ) -> Result<PendingSlot, Full> {
        let mut per_address = self.lock_addresses();
        let share = per_address.get(&addr).copied().unwrap_or_default();
        if share.held >= self.max_pending_per_address {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Full::Address);
        }
        let (pool, permit) = if let Ok(permit) = Arc::clone(&self.pending).try_acquire_owned() {
            (Pool::Open, permit)
        } else if source == Source::Proven && !share.kept {
            let permit = Arc::clone(&self.kept)
                .try_acquire_owned()
                .map_err(|_| Full::Pending)?;
            (Pool::Kept, permit)
        } else {
            return Err(Full::Pending);
        };
        per_address.insert(
            addr,
            Share {
                held: share.held + 1,
                kept: share.kept || pool == Pool::Kept,
            },
        );
        drop(per_address);
        Ok(self.register(addr, pool, permit))
    }

    /// A pending slot for a connection from `addr` when the pool is full:
    /// the oldest pending connection that has not sent its login, among
    /// those whose slot this one could take, is closed to make room, and
    /// this one waits at most `wait` for its slot (a kept one too, for a
    /// [`Source::Proven`] address holding none).
    ///
    /// # Errors
    /// [`Full::Address`] when the address holds its share;
    /// [`Full::Pending`] when no slot was freed in time.
    pub(crate) async fn admit_evicting(
        self: &Arc<Self>,
        addr: IpAddr,
        source: Source,
        wait: Duration,
    ) -> Result<PendingSlot, Full> {
        let may_keep = {
            let mut per_address = self.lock_addresses();
            let share = per_address.entry(addr).or_default();
            if share.held >= self.max_pending_per_address {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return Err(Full::Address);
            }
            // The address's share, and its kept slot if it may have one,
            // are held while the slot is waited for.
            let may_keep = source == Source::Proven && !share.kept;
            share.held += 1;
            share.kept |= may_keep;
            may_keep
        };
        let oldest = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue
                .iter()
                .position(|(_, pool, _)| may_keep || *pool == Pool::Open)
                .and_then(|at| queue.remove(at))
        };
        if let Some((_, _, token)) = oldest {
            // Counted as refused when its session answers it 412
            // ([`PendingSlot::gave_way`]): one whose login came in the
            // meantime goes on, and is not.
            token.cancel();
        }
        let (pending, kept) = (Arc::clone(&self.pending), Arc::clone(&self.kept));
        let acquire = async move {
            if may_keep {
                tokio::select! {
                    permit = pending.acquire_owned() => permit.map(|p| (Pool::Open, p)),
                    permit = kept.acquire_owned() => permit.map(|p| (Pool::Kept, p)),
                }
            } else {
                pending.acquire_owned().await.map(|p| (Pool::Open, p))
            }
        };
        let acquired = tokio::time::timeout(wait, acquire).await;
        if let Ok(Ok((pool, permit))) = acquired {
            if may_keep && pool == Pool::Open {
                self.release_address(addr, 0, true);
            }
            Ok(self.register(addr, pool, permit))
        } else {
            self.release_address(addr, 1, may_keep);
            self.refused.fetch_add(1, Ordering::Relaxed);
            Err(Full::Pending)
        }
    }

    /// The slot of a permit of `pool` taken for `addr` (whose share is
    /// counted), queued as the newest.
    fn register(
        self: &Arc<Self>,
        addr: IpAddr,
        pool: Pool,
        permit: OwnedSemaphorePermit,
    ) -> PendingSlot {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let evicted = CancellationToken::new();
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back((id, pool, evicted.clone()));
        PendingSlot {
            admission: Arc::clone(self),
            addr,
            pool,
            id,
            evicted,
            _permit: permit,
        }
    }

    fn lock_addresses(&self) -> std::sync::MutexGuard<'_, BTreeMap<IpAddr, Share>> {
        self.per_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives back `slots` of `addr`'s share, and its kept slot if
    /// `kept`.
    fn release_address(&self, addr: IpAddr, slots: u32, kept: bool) {
        let mut per_address = self.lock_addresses();
        if let Some(share) = per_address.get_mut(&addr) {
            share.held -= slots;
            share.kept &= !kept;
            if share.held == 0 {
                per_address.remove(&addr);
            }
        }
    }

    /// Connections now holding a pending slot, and sessions now holding a
    /// session slot.
    pub(crate) fn held(&self) -> (usize, usize) {
        (
            self.max_pending - self.pending.available_permits() - self.kept.available_permits(),
            self.sessions.load(Ordering::Acquire),
        )
    }

    /// Connections now holding a kept pending slot (counted in
    /// [`Self::held`]'s too).
    pub(crate) fn held_kept(&self) -> usize {
        self.max_kept - self.kept.available_permits()
    }

    /// Connections refused so far for want of a pending slot.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// A session slot if one is free now.
    pub(crate) fn try_session(&self) -> Option<SessionSlot> {
        self.sessions
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held < self.max_sessions).then_some(held + 1)
            })
            .ok()
            .map(|_| SessionSlot {
                held: Arc::clone(&self.sessions),
            })
    }

    /// A session slot for a takeover: over the limit if need be. The
    /// session it takes over holds one and gives it back as it closes,
    /// so the sessions go over the limit only meanwhile, and a takeover is
    /// never refused for a slot its own broker holds.
    pub(crate) fn takeover_session(&self) -> SessionSlot {
        self.sessions.fetch_add(1, Ordering::AcqRel);
        SessionSlot {
            held: Arc::clone(&self.sessions),
        }
    }
}

impl PendingSlot {
    /// The connection's source address.
    pub(crate) const fn addr(&self) -> IpAddr {
        self.addr
    }

    /// Cancelled when a newer connection takes this one's place.
    pub(crate) fn evicted(&self) -> CancellationToken {
        self.evicted.clone()
    }

    /// Its connection gave its place up to a newer one ([`Self::evicted`]),
    /// answered 412 or, in its TLS handshake, closed: counted among the
    /// refused, so that a flood spread over many addresses shows.
    pub(crate) fn gave_way(&self) {
        self.admission.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// The connection sent its login, which is being checked: it is no
    /// idle socket, and newer connections evict only those behind it (the
    /// check ends within the login timeout). A login under a slow check
    /// that could be evicted was, when connections came faster than the
    /// checks, evicted before any check ended.
    pub(crate) fn checking(&self) {
        self.leave_queue();
    }

    fn leave_queue(&self) {
        let mut queue = self
            .admission
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = queue.iter().position(|(id, _, _)| *id == self.id) {
            queue.remove(at);
        }
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        self.admission
            .release_address(self.addr, 1, self.pool == Pool::Kept);
        self.leave_queue();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(pending: u32, per_address: u32) -> Arc<Admission> {
        Admission::new(&ServerSettings {
            max_pending_logins: pending,
            max_pending_per_address: per_address,
            max_connections: 1,
            ..ServerSettings::default()
        })
    }

    #[test]
    fn an_address_holds_its_share_and_frees_it() {
        let admission = admission(4, 2);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let first = admission.admit(a, Source::Unproven).unwrap();
        let _second = admission.admit(a, Source::Unproven).unwrap();
        assert_eq!(
            admission.admit(a, Source::Unproven).unwrap_err(),
            Full::Address
        );
        let _other = admission.admit(b, Source::Unproven).unwrap();
        drop(first);
        assert!(admission.admit(a, Source::Unproven).is_ok());
    }

    #[tokio::test]
    async fn a_full_pool_closes_its_oldest_for_a_newcomer() {
        let admission = admission(2, 2);
        let oldest = admission
            .admit([10, 0, 0, 1].into(), Source::Unproven)
            .unwrap();
        let newer = admission
            .admit([10, 0, 0, 2].into(), Source::Unproven)
            .unwrap();
        let (oldest_gone, newer_gone) = (oldest.evicted(), newer.evicted());
        // The pool is full: the newcomer goes on to evict, not refused yet.
        assert_eq!(
            admission
                .admit([10, 0, 0, 3].into(), Source::Unproven)
                .unwrap_err(),
            Full::Pending
        );
        let waiting = {
            let admission = Arc::clone(&admission);
            tokio::spawn(async move {
                admission
                    .admit_evicting(
                        [10, 0, 0, 3].into(),
                        Source::Unproven,
                        Duration::from_secs(10),
                    )
                    .await
            })
        };
        // The oldest is told to go; its connection's end frees the slot.
        oldest_gone.cancelled().await;
        assert!(!newer_gone.is_cancelled());
        // Counted when its session answers it 412, as here.
        assert_eq!(admission.refused(), 0);
        oldest.gave_way();
        drop(oldest);
        let newcomer = waiting.await.unwrap().expect("the freed slot");
        assert_eq!(newcomer.addr(), IpAddr::from([10, 0, 0, 3]));
        assert_eq!(admission.refused(), 1, "the oldest, closed with 412");
        // An address over its share is still refused, whatever the pool.
        drop(newer);
        let _third = admission
            .admit([10, 0, 0, 3].into(), Source::Unproven)
            .unwrap();
        assert_eq!(
            admission
                .admit_evicting(
                    [10, 0, 0, 3].into(),
                    Source::Unproven,
                    Duration::from_secs(10)
                )
                .await
                .unwrap_err(),
            Full::Address
        );
    }

    /// A connection whose login is being checked is not evicted: the
    /// newcomer evicts the idle one behind it.
    #[tokio::test]
    async fn a_login_being_checked_is_not_evicted() {
        let admission = admission(2, 2);
        let checked = admission
            .admit([10, 0, 0, 1].into(), Source::Unproven)
            .unwrap();
        let idle = admission
            .admit([10, 0, 0, 2].into(), Source::Unproven)
            .unwrap();
        checked.checking();
        let (checked_gone, idle_gone) = (checked.evicted(), idle.evicted());
        let waiting = {
            let admission = Arc::clone(&admission);
            tokio::spawn(async move {
                admission
                    .admit_evicting(
                        [10, 0, 0, 3].into(),
                        Source::Unproven,
                        Duration::from_secs(10),
                    )
                    .await
            })
        };
        idle_gone.cancelled().await;
        assert!(!checked_gone.is_cancelled());
        drop(idle);
        assert!(waiting.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn a_newcomer_is_refused_when_no_slot_is_freed_in_time() {
        let admission = admission(1, 1);
        let _held = admission
            .admit([10, 0, 0, 1].into(), Source::Unproven)
            .unwrap();
        assert_eq!(
            admission
                .admit([10, 0, 0, 2].into(), Source::Unproven)
                .unwrap_err(),
            Full::Pending
        );
        let refused = admission
            .admit_evicting(
                [10, 0, 0, 2].into(),
                Source::Unproven,
                Duration::from_millis(20),
            )
            .await
            .unwrap_err();
        assert_eq!(refused, Full::Pending);
        // Counted once for the whole try (the one told to go is counted by
        // its session, if it answers it 412).
        assert_eq!(admission.refused(), 1);
        // Its address's share was given back.
        assert_eq!(
            admission
                .lock_addresses()
                .get(&IpAddr::from([10, 0, 0, 2]))
                .copied(),
            None
        );
    }

    /// A quarter of the slots are kept for proven addresses, one each:
    /// when the rest are held (by logins waiting out their back-off, say),
    /// a proven address still gets in; others do not, and do not close an
    /// idle connection in a kept slot for nothing.
    #[tokio::test]
    async fn a_proven_address_has_a_slot_no_other_can_take() {
        let admission = admission(8, 2);
        let unproven = |last: u8| IpAddr::from([10, 0, 1, last]);
        let proven = |last: u8| IpAddr::from([10, 0, 0, last]);
        let held: Vec<_> = (0..6)
            .map(|last| {
                let slot = admission.admit(unproven(last), Source::Unproven).unwrap();
                // Each is a login being checked: none is evicted.
                slot.checking();
                slot
            })
            .collect();
        assert_eq!(
            admission.admit(unproven(6), Source::Unproven).unwrap_err(),
            Full::Pending
        );
        assert_eq!(admission.held_kept(), 0);
        let first = admission.admit(proven(1), Source::Proven).unwrap();
        assert_eq!((admission.held().0, admission.held_kept()), (7, 1));
        assert_eq!(
            admission.admit(proven(1), Source::Proven).unwrap_err(),
            Full::Pending,
            "one kept slot an address"
        );
        // The only idle connection is in a kept slot, which a newcomer
        // from elsewhere could not take: it is not closed for it.
        let wait = Duration::from_millis(20);
        assert_eq!(
            admission
                .admit_evicting(unproven(6), Source::Unproven, wait)
                .await
                .unwrap_err(),
            Full::Pending
        );
        assert!(!first.evicted().is_cancelled());
        let second = admission.admit(proven(2), Source::Proven).unwrap();
        second.checking();
        assert_eq!((admission.held().0, admission.held_kept()), (8, 2));
        // Every slot is held: a third proven address closes the idle one
        // in a kept slot, and takes its place.
        let first_gone = first.evicted();
        let third = {
            let admission = Arc::clone(&admission);
            tokio::spawn(async move {
                admission
                    .admit_evicting(proven(3), Source::Proven, Duration::from_secs(10))
                    .await
            })
        };
        first_gone.cancelled().await;
        drop(first);
        let third = third.await.unwrap().expect("the kept slot freed");
        // A kept slot given back is a proven address's again, and only.
        drop(third);
        assert_eq!(admission.held_kept(), 1);
        assert_eq!(
            admission.admit(unproven(7), Source::Unproven).unwrap_err(),
            Full::Pending
        );
        let fourth = admission.admit(proven(4), Source::Proven).unwrap();
        assert!(
            admission.admit(proven(1), Source::Proven).is_err(),
            "all held"
        );
        drop((held, second, fourth));
    }

    #[test]
    fn the_pool_is_shared_by_every_address() {
        let admission = admission(2, 2);
        let _a = admission
            .admit([10, 0, 0, 1].into(), Source::Unproven)
            .unwrap();
        let _b = admission
            .admit([10, 0, 0, 2].into(), Source::Unproven)
            .unwrap();
        assert_eq!(
            admission
                .admit([10, 0, 0, 3].into(), Source::Unproven)
                .unwrap_err(),
            Full::Pending
        );
        // Sessions are a pool of their own.
        assert!(admission.try_session().is_some());
    }

    #[test]
    fn a_takeover_goes_over_the_session_limit_only_while_the_old_session_closes() {
        let admission = admission(2, 2);
        assert_eq!(admission.max_sessions, 1);
        let old = admission.try_session().unwrap();
        assert!(admission.try_session().is_none());
        let takeover = admission.takeover_session();
        assert_eq!(admission.held().1, 2);
        // The old session closes: still at the limit, the takeover holding
        // its place.
        drop(old);
        assert_eq!(admission.held().1, 1);
        assert!(admission.try_session().is_none());
        drop(takeover);
        assert!(admission.try_session().is_some());
    }
}
