//! The sessions' side of the runtime: [`RuntimeHandle`] to submit requests,
//! subscribe to reports and set the clock, and [`Subscription`], a broker's
//! reports (the backlog it asked for, then live ones).
//!
//! Everything here is lock-free on the request path: a [`Gate`] of two
//! atomics lets requests into the bounded queue until the runtime stops,
//! and the queue itself is crossbeam's. The one lock, the router's, is
//! taken to subscribe and to end a subscription, never to submit.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use cetx_engine::histogram::Histogram;
use cetx_engine::journal::JournalProbe;
use cetx_engine::{BrokerId, Calendar, RejectReason};
use crossbeam_channel::{Sender, TrySendError};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::activity::RuntimeStats;
use super::clock::{Clock, ClockError};
use super::history::{self, HistoryBatch};
use super::pending::{Flag, PendingCancels};
use super::request::Request;
use super::router::{self, Delivery, Outbound, Subscribing};
use super::sequencer::Input;
use super::{RuntimeStatus, SubmitError, TryRecvError};
use crate::market_data::MarketData;
use crate::protocol::ServerFrame;

/// Live frames a subscription hands to its session before it takes them
/// off the router's count: one atomic subtraction per few hundred frames,
/// not per frame, on the path every report takes.
const HANDED_BATCH: usize = 256;

/// Lets requests in until the runtime stops, and lets the shutdown wait
/// for every request already on its way into the queue, so that each one
/// is either refused or applied: none is queued after the engine's last
/// look. Two atomics, no lock.
#[derive(Debug, Default)]
pub(super) struct Gate {
    in_flight: AtomicUsize,
    closed: AtomicBool,
}

/// A request on its way through the [`Gate`].
struct Pass<'a>(&'a Gate);

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Gate {
    fn enter(&self) -> Option<Pass<'_>> {
        // Counted before the check, so that `close` either sees this
        // request in flight or this request sees the gate closed.
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let pass = Pass(self);
        (!self.closed.load(Ordering::SeqCst)).then_some(pass)
    }

    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        while self.in_flight.load(Ordering::SeqCst) != 0 {
            std::thread::yield_now();
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// What the handles and the threads share.
pub(super) struct Shared {
    pub(super) outbound: Mutex<Outbound>,
    pub(super) gate: Gate,
    pub(super) pending: Arc<PendingCancels>,
    pub(super) brokers: BTreeSet<BrokerId>,
    pub(super) cancel_on_disconnect: BTreeSet<BrokerId>,
    pub(super) calendar: Calendar,
    /// The trading date the market is in by the journal, `YYYYMMDD` (0
    /// before its first dated end of day); the engine thread sets it.
    pub(super) open_date: Arc<AtomicU32>,
    /// The time of the journal's last entry (`i64::MIN` before its first);
    /// the engine thread sets it at the end of each turn.
    pub(super) last_time: Arc<AtomicI64>,
    /// Each book's load, which the engine thread publishes.
    pub(super) book_loads: Arc<super::book_fill::BookLoads>,
    pub(super) clock: Clock,
    pub(super) status: watch::Sender<RuntimeStatus>,
    pub(super) next_subscription: AtomicU64,
    /// Where resumes older than memory are read back from.
    pub(super) journal_dir: PathBuf,
    /// The archived segments: a resume read back from one that is not in
    /// place is refused 419.
    pub(super) archived: history::Archived,
    /// Resumes refused 419 for an archived segment not in place: a
    /// warning line per interval (a client that retries gets one a try).
    pub(super) archive_refusals: crate::log_tally::SharedTally,
    /// How fast they are read back, all of them together.
    pub(super) resume_pace: Arc<history::Pace>,
    /// The public market, when `[market_data]` is configured.
    pub(super) market: Option<MarketData>,
    /// Each broker's requests taken into the engine's queue so far: the
    /// config's brokers' from the start, one an operator added from its
    /// first login. A session holds its broker's counter.
    pub(super) taken: RwLock<BTreeMap<BrokerId, Arc<AtomicU64>>>,
    /// The journal writer's counters, once it is open.
    pub(super) journal: OnceLock<JournalProbe>,
    /// The engine thread's turn times.
    pub(super) turn_ns: Arc<Histogram>,
    /// What became of the snapshots.
    pub(super) snapshot_counts: Arc<router::SnapshotCounts>,
    /// `server.queue_capacity`.
    pub(super) queue_capacity: usize,
    /// The requests sessions refused themselves (never journaled), for
    /// [`RuntimeHandle::stats`].
    pub(super) session_refusals: Mutex<super::activity::Activity>,
    /// Every instrument's symbol, by id: the journal's market, grown by
    /// the engine thread when an operator lists an instrument.
    pub(super) symbols: Arc<super::symbols::Published<super::SymbolTable>>,
}

impl Shared {
    /// Stops taking requests and records a failure; the first one stays.
    /// Once the failure shows, every submit is refused.
    pub(super) fn fail(&self, what: String) {
        self.gate.close();
        self.status.send_if_modified(|status| {
            let first = !matches!(status, RuntimeStatus::Failed(_));
            if first {
                *status = RuntimeStatus::Failed(what);
            }
            first
        });
    }
}

/// A broker's standing, for its login.
#[derive(Clone, Copy, Debug)]
pub struct Standing {
    /// The salted hash of its secret, if an operator added it.
    pub credential: Option<cetx_engine::Credential>,
    /// Active, suspended or closed.
    pub status: cetx_engine::Status,
}

/// The sessions' way into a running runtime; cheap to clone.
#[derive(Clone)]
pub struct RuntimeHandle {
    pub(super) shared: Arc<Shared>,
    pub(super) inputs: Sender<Input>,
}

impl std::fmt::Debug for RuntimeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeHandle")
            .field("status", &*self.shared.status.borrow())
            .finish_non_exhaustive()
    }
}

impl RuntimeHandle {
    /// Queues a logged-in broker's request for the engine thread, without
    /// waiting. Its outcome comes back on the broker's [`Subscription`]:
    /// sequenced reports once durable, or an unsequenced `OrderRejected`
    /// for a check the gateway makes itself (account not owned 404,
    /// duplicate client order id 406, unknown client order id 409, order
    /// not owned 405, and 408 when the journal's queue is full), which is
    /// not journaled.
    ///
    /// # Errors
    /// [`SubmitError::Busy`] when the queue is full and
    /// [`SubmitError::Stopped`] when the runtime is stopping: the request
    /// was not taken, answer `ServerBusy`.
    ///
    /// A session submits through its [`Subscription::submit`], which holds
    /// the broker's count of requests taken and so looks nothing up.
    pub fn submit(&self, broker: BrokerId, request: Request) -> Result<(), SubmitError> {
        self.submit_counted(broker, request, &self.taken_counter(broker))
    }

    /// The first step of a shutdown: the runtime takes no more requests,
    /// logins or disconnects, so that the sessions closed after this leave
    /// their brokers' resting orders for the restart (cancel-on-disconnect
    /// is for a broker that goes away, not for a server that stops).
    /// Requests from now on are refused with [`SubmitError::Stopped`];
    /// [`super::Runtime::shutdown`] then applies what was taken.
    pub fn stop_taking(&self) {
        self.shared.gate.close();
    }

    fn submit_counted(
        &self,
        broker: BrokerId,
        request: Request,
        taken: &AtomicU64,
    ) -> Result<(), SubmitError> {
        let Some(_pass) = self.shared.gate.enter() else {
            return Err(SubmitError::Stopped);
        };
        self.inputs
            .try_send(Input::Request { broker, request })
            .map_err(|e| match e {
                TrySendError::Full(_) => SubmitError::Busy,
                TrySendError::Disconnected(_) => SubmitError::Stopped,
            })?;
        taken.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// The broker's count of requests taken, made at its first call for a
    /// broker an operator added: the same counter for every session of
    /// the broker, as the router's count of its answers is.
    fn taken_counter(&self, broker: BrokerId) -> Arc<AtomicU64> {
        let taken = &self.shared.taken;
        if let Some(counter) = taken
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&broker)
        {
            return Arc::clone(counter);
        }
        let mut taken = taken.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(taken.entry(broker).or_default())
    }

    /// Queues the command of operator `operator`, who is named in its
    /// journal record. The receiver gets its outcome once its entry is
    /// durable, or is dropped if the journal fails first.
    /// Operators are few and their commands rare: a full queue is waited
    /// on rather than refused, for at most a second, asleep between tries
    /// so that the task's thread serves the other sessions meanwhile.
    ///
    /// # Errors
    /// [`SubmitError::Busy`] when the queue stays full;
    /// [`SubmitError::Stopped`] once the runtime is stopping.
    pub async fn admin(
        &self,
        operator: u32,
        command: cetx_engine::Command,
    ) -> Result<tokio::sync::oneshot::Receiver<super::AdminOutcome>, SubmitError> {
        let (reply, outcome) = tokio::sync::oneshot::channel();
        let mut input = Input::Admin {
            operator,
            command,
            reply,
        };
        let give_up = tokio::time::Instant::now() + Duration::from_secs(1);
        loop {
            // Through the gate for each try only: a stop waits for no sleeper.
            let Some(pass) = self.shared.gate.enter() else {
                return Err(SubmitError::Stopped);
            };
            match self.inputs.try_send(input) {
                Ok(()) => return Ok(outcome),
                Err(TrySendError::Disconnected(_)) => return Err(SubmitError::Stopped),
                Err(TrySendError::Full(back)) => input = back,
            }
            drop(pass);
            if tokio::time::Instant::now() >= give_up {
                return Err(SubmitError::Busy);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The market's symbols now, by instrument id (the journal's, with
    /// every instrument listed since the start).
    #[must_use]
    pub fn symbols(&self) -> Arc<super::SymbolTable> {
        self.shared.symbols.load()
    }

    /// A copy of the symbol table for a session that resolves a symbol per
    /// order: it looks at the shared table only for a symbol it lacks.
    #[must_use]
    pub fn symbol_cache(&self) -> super::SymbolCache {
        super::SymbolCache::new(Arc::clone(&self.shared.symbols))
    }

    /// The id of the instrument with this symbol, as listed now.
    #[must_use]
    pub fn instrument_id(&self, symbol: &str) -> Option<cetx_engine::InstrumentId> {
        self.shared.symbols.load().id(symbol)
    }

    /// The exchange calendar the market runs by.
    #[must_use]
    pub fn calendar(&self) -> &cetx_engine::Calendar {
        &self.shared.calendar
    }

    /// Subscribes a logged-in broker to its reports: those numbered after
    /// `resume_from_seq` first (0: every one, since the broker has seen
    /// none), then each new one once durable, with no gap and no duplicate
    /// between the two. One subscription per broker at a time: a
    /// subscription the broker already has is taken over (see
    /// [`Subscription::taken_over`]); its end then cancels nothing, so
    /// `cancel_on_disconnect` does not fire on a takeover.
    ///
    /// # Errors
    /// [`RejectReason::BadCredentials`] for a broker that is not
    /// configured; [`RejectReason::ResumeSeqAhead`] when
    /// `resume_from_seq` is above the broker's last sequence number;
    /// [`RejectReason::HistoryArchived`] when the reports after it would
    /// be read back from an archived segment that is not in place;
    /// [`RejectReason::ServerBusy`] once the runtime is stopping.
    pub fn connect(
        &self,
        broker: BrokerId,
        resume_from_seq: u64,
    ) -> Result<Subscription, RejectReason> {
        // Without the check, it always subscribes.
        self.subscribe(broker, resume_from_seq, false)?
            .ok_or(RejectReason::ServerBusy)
    }

    /// A broker's login, as a session makes it: [`RuntimeHandle::connect`]
    /// once the cancels of the broker's last disconnect are durable and
    /// numbered among its reports (counted in `LoginAccepted.last_seq`),
    /// checked again as it subscribes, so that a disconnect that comes between the two is
    /// waited for too: the new session's requests always come after them.
    ///
    /// # Errors
    /// As [`RuntimeHandle::connect`]; [`RejectReason::ServerBusy`] too
    /// when they are not settled within `limit`, or the runtime stopped.
    pub async fn login(
        &self,
        broker: BrokerId,
        resume_from_seq: u64,
        limit: Duration,
    ) -> Result<Subscription, RejectReason> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if !self.settle_disconnect(broker, left).await {
                return Err(RejectReason::ServerBusy);
            }
            if let Some(subscription) = self.subscribe(broker, resume_from_seq, true)? {
                return Ok(subscription);
            }
        }
    }

    /// [`RuntimeHandle::connect`]'s work; with `settled_first`, `None`
    /// when the broker's last disconnect is not settled as it subscribes.
    fn subscribe(
        &self,
        broker: BrokerId,
        resume_from_seq: u64,
        settled_first: bool,
    ) -> Result<Option<Subscription>, RejectReason> {
        if !self.is_broker(broker) {
            return Err(RejectReason::BadCredentials);
        }
        if self.shared.gate.is_closed() {
            return Err(RejectReason::ServerBusy);
        }
        let id = self
            .shared
            .next_subscription
            .fetch_add(1, Ordering::Relaxed);
        // Checked before the subscription takes the broker's session over:
        // looked up under the lock, the files looked at outside it. New
        // reports may meanwhile move memory's window, so that the resume
        // is read back from earlier than was checked: `subscribe` then
        // takes nothing over, and it is checked again.
        let subscribed = loop {
            let read_back_from = router::lock(&self.shared.outbound)
                .reports
                .read_back_from(broker, resume_from_seq);
            let archived = &self.shared.archived;
            if let Some(missing) =
                read_back_from.and_then(|from_seq| archived.missing_from(from_seq))
            {
                let who = format!("broker {}", broker.0);
                let why = format!(
                    "resume_from_seq {resume_from_seq} missing {}",
                    missing.display()
                );
                let tally = &self.shared.archive_refusals;
                if let Some(line) = tally.due(Some((who, why)), std::time::Instant::now()) {
                    tracing::warn!(
                        count = line.count,
                        last = line.last,
                        "refusing resumes that need an archived segment not in place (419; count: since the last such line): put the archive back where the journal's MANIFEST names it"
                    );
                }
                return Err(RejectReason::HistoryArchived);
            }
            let checked_from = read_back_from.map_or(archived.live_from(), |from_seq| {
                from_seq.min(archived.live_from())
            });
            let subscribing = router::subscribe(
                &self.shared.outbound,
                broker,
                resume_from_seq,
                id,
                checked_from,
                settled_first,
            );
            match subscribing? {
                Subscribing::Done(subscribed) => break subscribed,
                Subscribing::Again => {}
                Subscribing::Unsettled => return Ok(None),
            }
        };
        // Read outside the lock, on a thread of its own.
        let history = subscribed.read_back.map(|(from_seq, back)| {
            history::read_back(
                self.shared.journal_dir.clone(),
                from_seq,
                back,
                Arc::clone(&self.shared.resume_pace),
            )
        });
        Ok(Some(Subscription {
            broker,
            id,
            taken: self.taken_counter(broker),
            pending_cancel: self.shared.pending.flag(broker),
            last_seq: subscribed.last_seq,
            trading_date: self.trading_date(),
            history,
            unreadable: None,
            answered: subscribed.answered,
            deferred: VecDeque::new(),
            held: VecDeque::new(),
            live_taken: 0,
            capacity: subscribed.capacity,
            backlog: subscribed.backlog.into_iter().map(|f| (f, false)).collect(),
            live: subscribed.live,
            queued: subscribed.queued,
            handed: 0,
            taken_over: subscribed.taken_over,
            dropped: subscribed.dropped,
            handle: self.clone(),
        }))
    }

    /// The earliest `resume_from_seq` of `broker` that
    /// [`RuntimeHandle::connect`] does not refuse
    /// [`RejectReason::HistoryArchived`] now: the broker's last report
    /// before the oldest trading day whose segments are all in place, or
    /// the oldest that memory serves after, whichever is earlier.
    #[must_use]
    pub fn earliest_resume(&self, broker: BrokerId) -> u64 {
        // The marks are copied under the lock, the files looked at
        // outside it.
        let (points, from_memory) = router::lock(&self.shared.outbound)
            .reports
            .resume_points(broker);
        let archived = &self.shared.archived;
        points
            .into_iter()
            .find(|&(from_seq, _)| archived.missing_from(from_seq).is_none())
            .map_or(from_memory, |(_, last)| last.min(from_memory))
    }

    /// A broker's standing as of the last durable entry, and its
    /// credential if an operator added it (the config's brokers' secrets
    /// are in the config).
    #[must_use]
    pub fn standing(&self, broker: BrokerId) -> Standing {
        let out = router::lock(&self.shared.outbound);
        Standing {
            credential: out.members.brokers.get(&broker).map(|b| b.credential),
            status: out.members.broker(broker),
        }
    }

    /// Whether a broker of this id is configured or was added by an
    /// operator (as of the last durable entry).
    #[must_use]
    pub fn is_broker(&self, broker: BrokerId) -> bool {
        self.shared.brokers.contains(&broker)
            || router::lock(&self.shared.outbound)
                .members
                .brokers
                .contains_key(&broker)
    }

    /// Waits, up to `limit`, until the cancels of the broker's last
    /// disconnect (its resting orders, when its config cancels on
    /// disconnect) are durable and numbered among its reports, so that a
    /// login after the server closed the broker's last connection counts
    /// them in its replay (`LoginAccepted.last_seq`), and its requests
    /// come after them. A disconnect that found the engine's queue full
    /// is cancelled once the requests queued before it are taken: that is
    /// waited for too.
    ///
    /// Returns whether they are settled (at once when none is on its
    /// way): `false` when `limit` passed first, or the runtime stopped.
    async fn settle_disconnect(&self, broker: BrokerId, limit: Duration) -> bool {
        let settled = router::lock(&self.shared.outbound)
            .disconnecting
            .get(&broker)
            .cloned();
        let Some(mut settled) = settled else {
            return true;
        };
        // A runtime that is stopping takes no login, and one that failed
        // routes nothing more (its queue may still hold the disconnect).
        let mut status = self.shared.status.subscribe();
        let settling = async {
            tokio::select! {
                done = settled.wait_for(|&done| done) => done.is_ok(),
                _ = status.wait_for(|s| !matches!(s, RuntimeStatus::Running)) => false,
            }
        };
        tokio::time::timeout(limit, settling).await.unwrap_or(false)
    }

    /// The broker's last report number now (`LoginAccepted.last_seq`; 0
    /// when it has none), which a resume may not pass (413).
    #[must_use]
    pub fn last_report(&self, broker: BrokerId) -> u64 {
        router::lock(&self.shared.outbound).reports.last_seq(broker)
    }

    /// Whether the broker has a subscription now (a new login would take
    /// it over).
    #[must_use]
    pub fn is_connected(&self, broker: BrokerId) -> bool {
        router::lock(&self.shared.outbound)
            .subscribers
            .get(&broker)
            .is_some_and(|s| !s.live.is_closed())
    }

    /// The end of a subscription: forgets it, and when it was the broker's
    /// last, cancels the broker's resting orders if its config says so
    /// and `cancels` (the end is a disconnect). A full queue does not lose
    /// the cancel: the engine thread does it once it has taken the requests
    /// queued before it.
    fn release(&self, broker: BrokerId, id: u64, pending_cancel: &Flag, cancels: bool) {
        let mut out = router::lock(&self.shared.outbound);
        let last = match out.subscribers.get(&broker) {
            Some(subscriber) if subscriber.id == id => {
                out.subscribers.remove(&broker);
                true
            }
            // A newer session of the broker is live.
            Some(_) => false,
            // The router dropped this one (too slow); it was the last.
            None => true,
        };
        // The config says per broker; a broker an operator added has the
        // config's default, cancel.
        let cancels = cancels
            && (self.shared.cancel_on_disconnect.contains(&broker)
                || out.members.brokers.contains_key(&broker));
        if !last || !cancels {
            return;
        }
        // Queued under the lock, so that a new session of the broker, which
        // must take the lock to connect, queues its requests after it, and
        // waits for it to be durable first. A full queue marks it owed: the
        // engine thread cancels once the requests queued before are taken
        // (the old session's among them). At shutdown the gate
        // is closed: resting orders stay for the restart.
        if let Some(_pass) = self.shared.gate.enter() {
            let (done, settled) = watch::channel(false);
            match self.inputs.try_send(Input::Disconnect(broker, done)) {
                Ok(()) => {}
                Err(TrySendError::Full(Input::Disconnect(_, done))) => {
                    self.shared.pending.mark(pending_cancel, done);
                }
                Err(_) => return,
            }
            out.disconnecting.insert(broker, settled);
        }
        drop(out);
    }

    /// Sets the runtime's manual clock and wakes the engine thread, which
    /// applies what the calendar says is due by then before the next
    /// request. For tests and demos.
    ///
    /// # Errors
    /// [`ClockError`] when the runtime runs on the system clock.
    pub fn set_time(&self, time_ns: i64) -> Result<(), ClockError> {
        self.shared.clock.set(time_ns)?;
        self.wake();
        Ok(())
    }

    /// Moves the runtime's manual clock forward; see [`Self::set_time`].
    ///
    /// # Errors
    /// [`ClockError`] when the runtime runs on the system clock.
    pub fn advance_time(&self, by: Duration) -> Result<(), ClockError> {
        self.shared.clock.advance(by)?;
        self.wake();
        Ok(())
    }

    /// The runtime's figures now, for a metrics scrape: the counts under
    /// the router's lock (held for a copy of a few small maps), the rest
    /// from atomics.
    #[must_use]
    pub fn stats(&self) -> RuntimeStats {
        let shared = &self.shared;
        let mut stats = {
            let out = router::lock(&shared.outbound);
            let backlogs = out
                .subscribers
                .values()
                .map(|s| s.queued.load(Ordering::Relaxed) as u64);
            let mut activity = out.activity.clone();
            activity.add(&locked(&shared.session_refusals));
            RuntimeStats {
                activity,
                subscribers: out.subscribers.len() as u64,
                report_backlog_frames: backlogs.clone().sum(),
                report_backlog_frames_max: backlogs.max().unwrap_or(0),
                ..RuntimeStats::default()
            }
        };
        stats.queue_depth = self.inputs.len() as u64;
        stats.queue_capacity = shared.queue_capacity as u64;
        stats.engine_turn_ns = shared.turn_ns.snapshot();
        stats.books = shared.book_loads.read();
        stats.snapshots = shared.snapshot_counts.stats();
        stats.resume_entries_read = shared.resume_pace.entries_read();
        if let Some(journal) = shared.journal.get() {
            stats.journal = journal.stats();
            stats.journal_queue_depth = journal.queued();
            stats.journal_batch_entries = journal.batch_entries();
            stats.journal_sync_ns = journal.sync_ns();
            stats.durable_seq = journal.durable_seq();
        }
        stats
    }

    fn wake(&self) {
        // A full queue will be taken anyway, and each turn reads the clock.
        let _ = self.inputs.try_send(Input::Wake);
    }

    /// The runtime's time now, nanoseconds since the Unix epoch.
    #[must_use]
    pub fn now_ns(&self) -> i64 {
        self.shared.clock.now_ns()
    }

    /// The market's time: the clock's, or the time of the journal's last
    /// entry while the clock is behind it (every command is stamped with
    /// the later, and the calendar waits for the clock to pass it).
    #[must_use]
    pub fn market_time_ns(&self) -> i64 {
        self.now_ns()
            .max(self.shared.last_time.load(Ordering::Relaxed))
    }

    /// The trading day now, as `YYYYMMDD` (for `LoginAccepted`): the
    /// calendar's at the clock's time, or the journal's when the clock is
    /// behind it (a day the journal has closed is over, whatever the clock
    /// says).
    #[must_use]
    pub fn trading_date(&self) -> u32 {
        let by_clock = self
            .shared
            .calendar
            .trading_date(self.shared.clock.now_ns());
        by_clock.max(self.shared.open_date.load(Ordering::Acquire))
    }

    /// The public market, published from durable entries; `None` unless
    /// the config has `[market_data]`.
    #[must_use]
    pub fn market_data(&self) -> Option<MarketData> {
        self.shared.market.clone()
    }

    /// Follows the runtime's status: a server waits on it to exit (with
    /// an error on [`RuntimeStatus::Failed`]).
    #[must_use]
    pub fn status(&self) -> watch::Receiver<RuntimeStatus> {
        self.shared.status.subscribe()
    }

    /// Follows what the snapshot thread has done ([`RuntimeStats`]'s
    /// `snapshots`): changed each time a snapshot is written, fails or is
    /// skipped, so that a caller can wait for one.
    #[must_use]
    pub fn snapshots(&self) -> watch::Receiver<super::SnapshotStats> {
        self.shared.snapshot_counts.follow()
    }

    /// Why the runtime failed, if it has.
    #[must_use]
    pub fn failure(&self) -> Option<String> {
        match &*self.shared.status.borrow() {
            RuntimeStatus::Failed(why) => Some(why.clone()),
            _ => None,
        }
    }
}

/// A broker's reports: first the backlog it asked for, then live ones.
///
/// Dropping it ends it, as [`Subscription::close`] does. When the router
/// drops it first (the broker did not keep up, or the runtime stopped),
/// [`Subscription::recv`] returns `None`: close the connection; the broker
/// logs in again and resumes.
#[derive(Debug)]
pub struct Subscription {
    broker: BrokerId,
    id: u64,
    /// The broker's count of requests taken into the engine's queue.
    taken: Arc<AtomicU64>,
    /// The broker's mark for a cancel-on-disconnect that found the queue
    /// full.
    pending_cancel: Arc<Flag>,
    last_seq: u64,
    trading_date: u32,
    /// Reports read back from the journal, delivered before anything else
    /// while the reading thread is at work.
    history: Option<mpsc::Receiver<HistoryBatch>>,
    /// When the history could not be read back (the session ends, and its
    /// end is not the broker's disconnect: its resting orders stay): the
    /// first journal sequence number a read back could start at
    /// (`Some(None)`: none).
    unreadable: Option<Option<u64>>,
    /// The broker's requests answered in what `live` has delivered.
    answered: u64,
    /// Rejects the session made itself, each behind the answers to the
    /// requests taken before it and the live frames delivered before it
    /// was made: released once `answered` and `live_taken` reach it.
    deferred: VecDeque<(u64, u64, ServerFrame)>,
    /// Live batches a reject made while a history is read back took out of
    /// `live`, so that it comes after them: taken, before anything else
    /// from `live`, once the history ends.
    held: VecDeque<Delivery>,
    /// Live frames moved to `backlog` so far.
    live_taken: u64,
    /// The most frames it may hold unread.
    capacity: usize,
    /// The backlog, then each live batch as it is taken from `live`, each
    /// frame with whether it came from `live` (and so counts in `queued`).
    backlog: VecDeque<(ServerFrame, bool)>,
    live: mpsc::UnboundedReceiver<Delivery>,
    /// Live frames not yet handed to the session, in `live` or in
    /// `backlog` (the router bounds it, and the metrics show it): a broker
    /// that does not read holds them here, not in the socket.
    queued: Arc<AtomicUsize>,
    /// Live frames handed to the session and not yet taken off `queued`
    /// (taken off a few hundred at a time, and whenever `backlog` runs
    /// dry).
    handed: usize,
    /// Cancelled when a later login of the broker takes it over.
    taken_over: CancellationToken,
    /// Cancelled when the router drops it: its broker let more than the
    /// capacity pile up unread.
    dropped: CancellationToken,
    handle: RuntimeHandle,
}

impl Subscription {
    /// Queues one of the broker's requests for the engine thread, as
    /// [`RuntimeHandle::submit`] does, counting it with the broker's own
    /// counter (no look-up): a reject the session makes after it waits for
    /// its answer ([`Self::reject`]), for a broker of the config or one an
    /// operator added alike.
    ///
    /// # Errors
    /// As [`RuntimeHandle::submit`].
    pub fn submit(&self, request: Request) -> Result<(), SubmitError> {
        self.handle
            .submit_counted(self.broker, request, &self.taken)
    }

    /// The broker.
    #[must_use]
    pub const fn broker(&self) -> BrokerId {
        self.broker
    }

    /// Cancelled when a later login of the broker takes this subscription
    /// over: nothing more comes, and the session should say why and close.
    #[must_use]
    pub fn taken_over(&self) -> CancellationToken {
        self.taken_over.clone()
    }

    /// Cancelled when the runtime drops this subscription because its
    /// broker let more than the capacity of frames pile up unread:
    /// nothing more comes, and the session should close at once, without
    /// writing what it still holds (the broker resumes for it).
    #[must_use]
    pub fn dropped(&self) -> CancellationToken {
        self.dropped.clone()
    }

    /// When the history to resume could not be read back from the
    /// journal (and [`Self::recv`] ended for it): the earliest
    /// `resume_from_seq` whose read back starts past the damage (in a
    /// later segment): the broker's last report before the first trading
    /// day that starts there, or the oldest that memory serves after,
    /// whichever is earlier; `None` otherwise.
    #[must_use]
    pub fn unreadable_history(&self) -> Option<u64> {
        let readable_from = self.unreadable?;
        let (points, from_memory) = router::lock(&self.handle.shared.outbound)
            .reports
            .resume_points(self.broker);
        Some(
            points
                .into_iter()
                .find(|&(from_seq, _)| readable_from.is_some_and(|readable| from_seq >= readable))
                .map_or(from_memory, |(_, last)| last.min(from_memory)),
        )
    }

    /// The broker's highest sequence number when it connected
    /// (`LoginAccepted.last_seq`).
    #[must_use]
    pub const fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The trading day when it connected, `YYYYMMDD`
    /// (`LoginAccepted.trading_day`).
    #[must_use]
    pub const fn trading_date(&self) -> u32 {
        self.trading_date
    }

    /// Takes the backlog not yet received when memory held it: the reports
    /// after `resume_from_seq`, in order (a resume read back from the
    /// journal comes through [`Self::recv`] instead).
    pub fn take_backlog(&mut self) -> Vec<ServerFrame> {
        let frames = self.backlog.drain(..).map(|(frame, live)| {
            self.handed += usize::from(live);
            frame
        });
        let frames = frames.collect();
        self.count_handed();
        frames
    }

    /// The next frame of `backlog`, counting a live one as handed over.
    fn pop_backlog(&mut self) -> Option<ServerFrame> {
        let (frame, live) = self.backlog.pop_front()?;
        self.handed += usize::from(live);
        if self.handed >= HANDED_BATCH || self.backlog.is_empty() {
            self.count_handed();
        }
        Some(frame)
    }

    /// Takes the live frames handed over off `queued`.
    fn count_handed(&mut self) {
        if self.handed > 0 {
            self.queued.fetch_sub(self.handed, Ordering::AcqRel);
            self.handed = 0;
        }
    }

    /// The next frame: what was read back from the journal, then the
    /// backlog, then live frames as they come; `None` once the router has
    /// dropped the subscription, or when the history could not be read
    /// (logged). Cancel-safe.
    pub async fn recv(&mut self) -> Option<ServerFrame> {
        loop {
            if let Some(frame) = self.pop_backlog() {
                return Some(frame);
            }
            if let Some(history) = &mut self.history {
                let read = history.recv().await;
                if !self.read(read) {
                    return None;
                }
                continue;
            }
            let batch = self.live.recv().await?;
            self.take(batch);
        }
    }

    /// The next frame if one is there now; see [`Self::recv`].
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] when nothing is there yet,
    /// [`TryRecvError::Disconnected`] once the router has dropped the
    /// subscription or the history could not be read.
    pub fn try_recv(&mut self) -> Result<ServerFrame, TryRecvError> {
        loop {
            if let Some(frame) = self.pop_backlog() {
                return Ok(frame);
            }
            if let Some(history) = &mut self.history {
                let read = match history.try_recv() {
                    Ok(batch) => Some(batch),
                    Err(TryRecvError::Empty) => return Err(TryRecvError::Empty),
                    Err(TryRecvError::Disconnected) => None,
                };
                if !self.read(read) {
                    return Err(TryRecvError::Disconnected);
                }
                continue;
            }
            let batch = self.live.try_recv()?;
            self.take(batch);
        }
    }

    /// Takes what the history thread sent (`None`: it is done); `false`
    /// when it could not read the history.
    fn read(&mut self, read: Option<HistoryBatch>) -> bool {
        if self.unreadable.is_some() {
            // Told once; the live reports must not follow with a gap.
            return false;
        }
        match read {
            Some(Ok(batch)) => self.backlog.extend(batch.into_iter().map(|f| (f, false))),
            Some(Err(unreadable)) => {
                tracing::warn!(
                    broker = self.broker.0,
                    why = unreadable.why,
                    readable_from_journal_seq = unreadable.readable_from,
                    "a resume could not be read back from the journal; the session ends, the broker's resting orders stay"
                );
                self.unreadable = Some(unreadable.readable_from);
                return false;
            }
            None => {
                self.history = None;
                while let Some(delivery) = self.held.pop_front() {
                    self.take(delivery);
                }
                self.release();
            }
        }
        true
    }

    /// Moves a live batch behind what is left to receive, and the rejects
    /// it lets go behind it.
    fn take(&mut self, delivery: Delivery) {
        let mut marks = delivery.marks.into_iter().peekable();
        for (at, frame) in delivery.frames.into_iter().enumerate() {
            // The requests answered by the frames before this one.
            while let Some((_, answered)) = marks.next_if(|&(after, _)| after <= at) {
                self.answered = answered;
                self.release();
            }
            self.backlog.push_back((frame, true));
            self.live_taken += 1;
        }
        for (_, answered) in marks {
            self.answered = answered;
            self.release();
        }
    }

    /// Queues a reject the session made itself (a throttled or refused
    /// request, seq 0), to be received after the answers to every request
    /// of the broker taken before it, and after every report the router
    /// has delivered meanwhile (a maker's fill from another broker's order
    /// that came before the request): rejects keep their place among the
    /// broker's reports.
    ///
    /// Returns `false`, keeping nothing, when the broker already has more
    /// frames waiting than a live channel may hold (it sends and does not
    /// read): end the session, as the router does.
    #[must_use]
    pub fn reject(&mut self, frame: ServerFrame) -> bool {
        locked(&self.handle.shared.session_refusals).on_session_refusal(&frame.message);
        if self.deferred.len() + self.backlog.len() >= self.capacity {
            return false;
        }
        // Delivered before this request was read: they go first. The
        // router delivers a turn broker by broker under its lock, so
        // another broker may already have been told of the turn (and have
        // sent what led to this request) before this broker's part of it
        // is in `live`: the lock, taken and let go, waits for the turn's
        // delivery to end. While a history is read back they wait behind
        // it, held.
        drop(router::lock(&self.handle.shared.outbound));
        while let Ok(delivery) = self.live.try_recv() {
            if self.history.is_some() {
                self.held.push_back(delivery);
            } else {
                self.take(delivery);
            }
        }
        let held: usize = self.held.iter().map(|d| d.frames.len()).sum();
        let after_live = self.live_taken + held as u64;
        let taken = self.taken.load(Ordering::Acquire);
        self.deferred.push_back((taken, after_live, frame));
        self.release();
        true
    }

    /// The broker's requests taken into the engine's queue so far, for
    /// [`Self::awaits_answers`].
    #[must_use]
    pub fn requests_taken(&self) -> u64 {
        self.taken.load(Ordering::Acquire)
    }

    /// Whether an answer to one of the first `requests` requests taken is
    /// still to come, or a reject the session made still waits for the
    /// answers to the requests taken before it.
    #[must_use]
    pub fn awaits_answers(&self, requests: u64) -> bool {
        self.answered < requests || !self.deferred.is_empty()
    }

    /// Takes the unsequenced rejects not received yet, in order: for a
    /// session taken over, whose numbered reports go to the new connection
    /// (its replay) and these to no other. They are the session's own, and
    /// those the router had delivered before the takeover, still in the
    /// channel (the sequencer's 404–409, and every refusal of the engine's
    /// while the market is closed: tester 153 F1 saw hundreds lost on both
    /// connections). A history still being read back is left to the new
    /// connection's replay.
    pub fn take_held_rejects(&mut self) -> Vec<ServerFrame> {
        self.history = None;
        while let Some(delivery) = self.held.pop_front() {
            self.take(delivery);
        }
        while let Ok(delivery) = self.live.try_recv() {
            self.take(delivery);
        }
        let mut rejects = Vec::new();
        while let Some(frame) = self.pop_backlog() {
            if frame.seq == crate::protocol::UNSEQUENCED {
                rejects.push(frame);
            }
        }
        rejects.extend(self.deferred.drain(..).map(|(_, _, frame)| frame));
        rejects
    }

    /// Moves the rejects whose turn has come behind what is to receive
    /// (never while a history is still being read back).
    fn release(&mut self) {
        if self.history.is_some() {
            return;
        }
        while let Some(&(answers, live, _)) = self.deferred.front() {
            if answers > self.answered || live > self.live_taken {
                break;
            }
            if let Some((_, _, frame)) = self.deferred.pop_front() {
                self.backlog.push_back((frame, false));
            }
        }
    }

    /// Ends the subscription: the broker's session is over. When it was
    /// the broker's last and its config says `cancel_on_disconnect`, its
    /// resting orders are cancelled (journaled, reported in its history).
    pub fn close(self) {
        drop(self);
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // A history the server could not read is not the broker's
        // disconnect: its orders stay for the resume it is told to make.
        let cancels = self.unreadable.is_none();
        self.handle
            .release(self.broker, self.id, &self.pending_cancel, cancels);
    }
}

// Sessions hold handles and subscriptions in tokio tasks, on any thread.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<RuntimeHandle>();
    send_sync::<Subscription>();
};

/// The sessions' refusal counts, taken as they are if a panic poisoned
/// the lock (a count cannot be left half-updated).
fn locked(
    counts: &Mutex<super::activity::Activity>,
) -> std::sync::MutexGuard<'_, super::activity::Activity> {
    counts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
