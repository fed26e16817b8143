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
//! the sessions of brokers with valid credentials.
//!
//! ```text
//! accept ─► PendingSlot (pool, per address) ─login ok─► SessionSlot
//!             over a limit: LoginRejected 412, close
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::ServerSettings;

/// The server's slots: pending logins and logged-in sessions.
#[derive(Debug)]
pub(crate) struct Admission {
    pending: Arc<Semaphore>,
    sessions: Arc<Semaphore>,
    /// Pending slots held per source address; an address holding none is
    /// not in the map, so it is bounded by `max_pending_logins`.
    per_address: Mutex<BTreeMap<IpAddr, u32>>,
    max_pending_per_address: u32,
    max_pending: usize,
    max_sessions: usize,
    /// Connections refused for want of a pending slot, for metrics.
    refused: AtomicU64,
}

/// Why a new connection got no pending slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Full {
    /// Every pending slot is taken.
    Pending,
    /// Its source address holds its share of them.
    Address,
}

/// A connection's place while it has not logged in; freed when dropped.
#[derive(Debug)]
pub(crate) struct PendingSlot {
    admission: Arc<Admission>,
    addr: IpAddr,
    _permit: OwnedSemaphorePermit,
}

/// A logged-in session's place; freed when dropped.
#[derive(Debug)]
pub(crate) struct SessionSlot {
    _permit: OwnedSemaphorePermit,
}

impl Admission {
    /// The limits of `settings`.
    pub(crate) fn new(settings: &ServerSettings) -> Arc<Self> {
        let slots = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        Arc::new(Self {
            pending: Arc::new(Semaphore::new(slots(settings.max_pending_logins))),
            sessions: Arc::new(Semaphore::new(slots(settings.max_connections))),
            per_address: Mutex::new(BTreeMap::new()),
            max_pending_per_address: settings.max_pending_per_address,
            max_pending: slots(settings.max_pending_logins),
            max_sessions: slots(settings.max_connections),
            refused: AtomicU64::new(0),
        })
    }

    /// A pending slot for a new connection from `addr`.
    ///
    /// # Errors
    /// [`Full`] when the pool or the address's share is taken.
    pub(crate) fn admit(self: &Arc<Self>, addr: IpAddr) -> Result<PendingSlot, Full> {
        let mut per_address = self
            .per_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let held = per_address.get(&addr).copied().unwrap_or(0);
        let permit = if held >= self.max_pending_per_address {
            Err(Full::Address)
        } else {
            Arc::clone(&self.pending)
                .try_acquire_owned()
                .map_err(|_| Full::Pending)
        };
        let permit = permit.inspect_err(|_| {
            self.refused.fetch_add(1, Ordering::Relaxed);
        })?;
        per_address.insert(addr, held + 1);
        Ok(PendingSlot {
            admission: Arc::clone(self),
            addr,
            _permit: permit,
        })
    }

    /// Connections now holding a pending slot, and sessions now holding a
    /// session slot.
    pub(crate) fn held(&self) -> (usize, usize) {
        (
            self.max_pending - self.pending.available_permits(),
            self.max_sessions - self.sessions.available_permits(),
        )
    }

    /// Connections refused so far for want of a pending slot.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// A session slot if one is free now.
    pub(crate) fn try_session(&self) -> Option<SessionSlot> {
        Arc::clone(&self.sessions)
            .try_acquire_owned()
            .ok()
            .map(|permit| SessionSlot { _permit: permit })
    }

    /// A session slot, waiting at most `wait` for one to be freed (by the
    /// session a takeover is closing).
    pub(crate) async fn session_within(&self, wait: Duration) -> Option<SessionSlot> {
        let acquire = Arc::clone(&self.sessions).acquire_owned();
        match tokio::time::timeout(wait, acquire).await {
            Ok(Ok(permit)) => Some(SessionSlot { _permit: permit }),
            _ => None,
        }
    }
}

impl PendingSlot {
    /// The connection's source address.
    pub(crate) const fn addr(&self) -> IpAddr {
        self.addr
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        let mut per_address = self
            .admission
            .per_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = per_address.get_mut(&self.addr) {
            *held -= 1;
            if *held == 0 {
                per_address.remove(&self.addr);
            }
        }
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
        let first = admission.admit(a).unwrap();
        let _second = admission.admit(a).unwrap();
        assert_eq!(admission.admit(a).unwrap_err(), Full::Address);
        let _other = admission.admit(b).unwrap();
        drop(first);
        assert!(admission.admit(a).is_ok());
    }

    #[test]
    fn the_pool_is_shared_by_every_address() {
        let admission = admission(2, 2);
        let _a = admission.admit([10, 0, 0, 1].into()).unwrap();
        let _b = admission.admit([10, 0, 0, 2].into()).unwrap();
        assert_eq!(
            admission.admit([10, 0, 0, 3].into()).unwrap_err(),
            Full::Pending
        );
        // Sessions are a pool of their own.
        assert!(admission.try_session().is_some());
    }
}
