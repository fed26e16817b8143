//! The outbound router: reports go out only once what they report is
//! durable.
//!
//! The engine thread hands every turn of its loop to the journal writer:
//! the journal entries it appended, in sequence order, with the
//! unsequenced rejects in between (the gateway's own, and the engine's
//! while the market is closed), riding on the turn's batch of
//! records ([`commit_with`](cetx_engine::JournalWriter::commit_with)). The journal writer thread,
//! right after the sync that made the turn's entries durable, hands the
//! turn to the [`Router`] on that same thread: no other thread is woken
//! between the sync and the reports. The router turns each entry into
//! reports with [`Reports::on_entry_into`] and gives each connected broker
//! its reports of the turn in one batch on its subscription (a broker that
//! is not connected finds them in its history at its next login). An
//! unsequenced reject goes out in the same batch, never overtaking a
//! report of a request the engine took before it.
//!
//! [`Outbound`] (the reports and the subscriptions) is behind one lock,
//! taken by the router per turn (on the journal writer thread) and by a connecting session while it
//! copies its backlog from memory (at most the configured recent reports)
//! or notes where to read it back from the journal, and registers: so a
//! report is either in the backlog or sent live, never both and never
//! neither. The engine thread never
//! takes this lock.
//!
//! Snapshots ride along: the engine thread asks for one after an entry
//! (with the day's client order ids then), the router adds the gateway's
//! state and passes it on once that entry is durable, and a snapshot
//! thread takes the engine's state from its own replica of the engine
//! ([`super::replica`]) and writes the files, so neither the engine thread
//! nor the reports wait for it.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cetx_engine::journal::{
    list_snapshots, prune_snapshots_but, read_snapshot_entry, write_snapshot_tied,
};
use cetx_engine::{BrokerId, Command, Event, Membership, Stamp, Status};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::activity::{Activity, SnapshotStats};
use super::client_orders::{ClientOrderLog, DayFiles};
use super::replica::Replica;
use super::request::Refusal;
use super::state::{self, ClosedAuctions, GatewayState};
use super::AdminOutcome;
use crate::market_data::MarketData;
use crate::protocol::ServerFrame;
use crate::reports::{refuse_quoting, Asked, ReadBack, Reports, Resume};

/// What one turn of the engine loop hands the router.
#[derive(Default)]
pub(super) struct Turn {
    /// What the turn produced, in order.
    pub(super) items: Vec<Routed>,
    /// The events of every entry of the turn, one entry's after another's.
    pub(super) events: Vec<Event>,
}

/// The most events (or items) a turn handed back to the engine thread
/// keeps room for, and the router's scratch of one entry's reports: past
/// it they are freed (the journal writer's buffers likewise,
/// `POOLED_BUFFER_MAX`). A busy turn of `MAX_TURN` requests stays below it.
const POOLED_EVENTS_MAX: usize = 16 << 10;

/// What the engine thread sends the router, in order.
pub(super) enum Routed {
    /// A journal entry appended; its reports go out once it is durable.
    Entry {
        /// The entry's sequence number and time.
        stamp: Stamp,
        /// The command.
        command: Command,
        /// Where its events are in [`Turn::events`].
        events: Range<usize>,
        /// The broker whose request it answers; `None` for the runtime's
        /// own commands.
        requester: Option<BrokerId>,
    },
    /// A request refused and not journaled (by the gateway, or by the
    /// engine while the market is closed): answered with an unsequenced
    /// reject.
    Refused {
        /// Whose request it was.
        broker: BrokerId,
        /// What and why.
        refusal: Refusal,
    },
    /// An operator's command ([`super::RuntimeHandle::admin`]): its
    /// outcome goes back once its entry is durable.
    Answer {
        /// The entry's sequence number and the events it gave.
        outcome: AdminOutcome,
        /// Where the operator waits.
        reply: oneshot::Sender<AdminOutcome>,
    },
    /// A disconnect's cancels applied ([`super::sequencer::Input::Disconnect`]):
    /// told once they are durable and numbered among the broker's reports.
    Settled(watch::Sender<bool>),
    /// A snapshot after entry `seq`, to be written once that entry is
    /// durable, with the gateway's own state then (the engine's is the
    /// snapshot thread's to take: [`super::replica`]).
    Snapshot {
        /// The entry the state follows.
        seq: u64,
        /// Today's client order ids after entry `seq`.
        client_orders: Box<ClientOrderLog>,
        /// The time of entry `seq`.
        last_time_ns: i64,
        /// Entry `seq` ended a trading day: the snapshot is the next
        /// day's eve, kept beyond `keep_snapshots` ([`write_snapshots`]).
        end_of_day: bool,
    },
}

/// What a subscription's live channel carries: a turn's frames for the
/// broker, and where in them each of the broker's requests was answered
/// (after how many frames, and the broker's count of answered requests
/// then), so that a reject the session makes itself goes right behind the
/// answers to the requests taken before it.
#[derive(Debug, Default)]
pub(super) struct Delivery {
    pub(super) frames: Vec<ServerFrame>,
    pub(super) marks: Vec<(usize, u64)>,
}

/// One connected broker's live channel: batches of frames, and how many
/// frames it holds that the session has not taken yet.
#[derive(Debug)]
pub(super) struct Subscriber {
    /// Tells this subscription from a later one of the same broker.
    pub(super) id: u64,
    pub(super) live: mpsc::UnboundedSender<Delivery>,
    /// Frames sent and not yet taken by the session; bounded by the
    /// runtime's subscriber capacity.
    pub(super) queued: Arc<AtomicUsize>,
    /// Frames for it gathered in this turn, sent by [`Outbound::deliver`].
    pub(super) batch: Vec<ServerFrame>,
    /// Where in `batch` the broker's requests were answered.
    pub(super) marks: Vec<(usize, u64)>,
    /// Cancelled when a new login of the broker takes this session over.
    pub(super) taken_over: CancellationToken,
    /// Cancelled when the router drops it for its backlog, so that the
    /// session ends at once, not once it has written what it holds.
    pub(super) dropped: CancellationToken,
}

/// Every broker's reports and the connected brokers' live channels.
#[derive(Debug)]
pub(super) struct Outbound {
    pub(super) reports: Reports,
    pub(super) subscribers: BTreeMap<BrokerId, Subscriber>,
    /// The most frames a subscription's channel holds.
    pub(super) capacity: usize,
    /// Each broker's requests answered so far (a report or a gateway
    /// reject routed for it), since the runtime started.
    pub(super) answered: BTreeMap<BrokerId, u64>,
    /// What the market has done since the start, for metrics.
    pub(super) activity: Activity,
    /// The brokers added by operators and the standings, as of the last
    /// durable entry: what a login is checked against.
    pub(super) members: Membership,
    /// The auctions closed in the day, for the gateway's state beside
    /// each snapshot.
    pub(super) closed_auctions: ClosedAuctions,
    /// Each broker's last disconnect, which a login waits for until its
    /// cancels are settled ([`super::RuntimeHandle::login`]):
    /// `true` then, or its sender dropped by a runtime that stopped. Kept
    /// until the broker's next disconnect, for every login after it.
    pub(super) disconnecting: BTreeMap<BrokerId, watch::Receiver<bool>>,
}

impl Outbound {
    /// Adds a frame to the broker's batch, if it has a subscription.
    fn send(&mut self, broker: BrokerId, frame: ServerFrame) {
        if let Some(subscriber) = self.subscribers.get_mut(&broker) {
            subscriber.batch.push(frame);
        }
    }

    /// Counts one of the broker's requests as answered, by the frames
    /// sent so far.
    fn answered(&mut self, broker: BrokerId) {
        let answered = self.answered.entry(broker).or_default();
        *answered += 1;
        if let Some(subscriber) = self.subscribers.get_mut(&broker) {
            subscriber.marks.push((subscriber.batch.len(), *answered));
        }
    }

    /// Sends each subscription its batch. A subscription whose channel
    /// would hold more than the capacity (a broker too slow to read), or
    /// whose session is gone, is dropped: the broker reconnects and
    /// resumes from the history. A batch into an empty channel always
    /// goes, however large: a session that has taken everything is keeping
    /// up.
    fn deliver(&mut self) {
        let capacity = self.capacity;
        self.subscribers.retain(|broker, subscriber| {
            if subscriber.batch.is_empty() && subscriber.marks.is_empty() {
                return true;
            }
            let frames = subscriber.batch.len();
            let queued = subscriber.queued.load(Ordering::Acquire);
            if queued > 0 && queued + frames > capacity {
                tracing::warn!(
                    broker = broker.0,
                    "dropping the session of a broker that does not keep up with its reports; \
                     it can log in again and resume"
                );
                subscriber.dropped.cancel();
                return false;
            }
            subscriber.queued.fetch_add(frames, Ordering::AcqRel);
            let delivery = Delivery {
                frames: std::mem::take(&mut subscriber.batch),
                marks: std::mem::take(&mut subscriber.marks),
            };
            subscriber.live.send(delivery).is_ok()
        });
    }
}

/// Takes the lock on the reports and subscriptions. A panic while it was
/// held cannot leave them half-updated in a way that matters more than
/// stopping would, so a poisoned lock is taken as it is.
pub(super) fn lock(outbound: &Mutex<Outbound>) -> MutexGuard<'_, Outbound> {
    outbound.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The outbound router: the journal writer thread hands it each turn once
/// the turn's entries are durable ([`cetx_engine::journal::OnDurable`]),
/// and it sends the reports.
pub(super) struct Router {
    /// Turns it is done with, back to the engine thread.
    recycle: Sender<Turn>,
    /// Snapshots to write, to the snapshot thread.
    snapshots: SnapshotQueue,
    /// Counts the snapshots skipped.
    snapshot_counts: Arc<SnapshotCounts>,
    /// One entry's reports, reused.
    reports: Vec<(BrokerId, ServerFrame)>,
    /// The public market, when it is published.
    market: Option<MarketData>,
}

impl Router {
    pub(super) fn new(
        recycle: Sender<Turn>,
        snapshots: SnapshotQueue,
        snapshot_counts: Arc<SnapshotCounts>,
        market: Option<MarketData>,
    ) -> Self {
        Self {
            recycle,
            snapshots,
            snapshot_counts,
            reports: Vec::new(),
            market,
        }
    }

    /// Hands a snapshot to the snapshot thread. A periodic one goes only
    /// when none waits (the previous one is written). An end of day's
    /// always goes: each day's eve is where a registry's `--from-snapshot`
    /// of the next day starts, and a start that catches up missed days
    /// makes one for each. But no more wait than are kept once written
    /// (`room`): the oldest waiting is then dropped, since the newer ones,
    /// ends of day all, would have it removed as soon as they are written.
    /// So a start after a long outage holds a few engine states, not one
    /// for each day missed.
    fn snapshot(&mut self, snapshot: Snapshot) {
        let queue = &self.snapshots;
        if !snapshot.end_of_day && !queue.sender.is_empty() {
            self.skip(snapshot.seq, "the previous one is still being written");
            return;
        }
        while queue.sender.len() >= queue.room {
            // The snapshot thread may take it first: then there is room.
            let Ok(older) = queue.waiting.try_recv() else {
                break;
            };
            self.skip(
                older.seq,
                "newer ends of day are waiting, which would remove it once written",
            );
        }
        let _ = queue.sender.send(snapshot);
    }

    fn skip(&self, seq: u64, why: &'static str) {
        self.snapshot_counts.skipped();
        tracing::info!(seq, why, "skipping a snapshot");
    }

    /// Sends the reports of a turn whose entries are durable, in order,
    /// with its refusals among them, and passes its snapshot on.
    pub(super) fn route(&mut self, mut turn: Turn, outbound: &Mutex<Outbound>) {
        if let Some(market) = &self.market {
            market.publish(turn.items.iter().filter_map(|routed| match routed {
                Routed::Entry {
                    command, events, ..
                } => Some((command, &turn.events[events.clone()])),
                Routed::Refused { .. }
                | Routed::Snapshot { .. }
                | Routed::Answer { .. }
                | Routed::Settled(_) => None,
            }));
        }
        let mut out = lock(outbound);
        for routed in turn.items.drain(..) {
            match routed {
                Routed::Entry {
                    stamp,
                    command,
                    events,
                    requester,
                } => {
                    let events = &turn.events[events];
                    out.activity.on_entry(&command, events, requester.is_some());
                    out.members.observe(&command, events);
                    out.closed_auctions.observe(events);
                    out.reports
                        .on_entry_into(stamp, &command, events, &mut self.reports);
                    log_notable(stamp, &command, events, &out.reports);
                    for (broker, frame) in self.reports.drain(..) {
                        out.send(broker, frame);
                    }
                    if let Some(broker) = requester {
                        out.answered(broker);
                    }
                }
                Routed::Refused { broker, refusal } => {
                    out.activity.on_refusal(refusal.kind, refusal.reason);
                    out.send(broker, refusal_frame(refusal));
                    out.answered(broker);
                }
                Routed::Answer { outcome, reply } => {
                    // An operator who stopped waiting loses nothing: the
                    // entry is in the journal.
                    let _ = reply.send(outcome);
                }
                Routed::Settled(settled) => {
                    settled.send_replace(true);
                }
                Routed::Snapshot {
                    seq,
                    client_orders,
                    last_time_ns,
                    end_of_day,
                } => {
                    // The reports have taken every entry up to `seq` and
                    // none after: the gateway's state of the same moment,
                    // but for the live orders, which the snapshot thread
                    // takes from its engine (as many as rest in the book).
                    let gateway = Box::new(GatewayState {
                        reports: out.reports.for_snapshot(),
                        client_orders: *client_orders,
                        closed_auctions: out.closed_auctions.clone(),
                        last_time_ns: Some(last_time_ns),
                    });
                    self.snapshot(Snapshot {
                        seq,
                        gateway,
                        end_of_day,
                    });
                }
            }
        }
        out.deliver();
        drop(out);
        // Back to the engine thread with its vectors' capacity; when it
        // has enough spares, this one is freed, and so is one that grew
        // past what a busy turn needs (an end of day's expiries), so that
        // one burst does not pin its memory in every pooled turn.
        turn.events.clear();
        if turn.events.capacity() <= POOLED_EVENTS_MAX && turn.items.capacity() <= POOLED_EVENTS_MAX
        {
            let _ = self.recycle.try_send(turn);
        }
        self.reports.shrink_to(POOLED_EVENTS_MAX);
    }
}

/// The unsequenced `OrderRejected` (`BlockRejected`, `BidRejected`) that
/// answers a refused request, quoting the engine's limits if any.
fn refusal_frame(refusal: Refusal) -> ServerFrame {
    refuse_quoting(
        refusal.client_order_id,
        Asked::of(refusal.kind),
        refusal.reason,
        refusal.bounds,
    )
}

/// The router's end of the queue of snapshots to the snapshot thread.
pub(super) struct SnapshotQueue {
    sender: Sender<Snapshot>,
    /// The far end too, to take the oldest waiting snapshot out when
    /// newer ones would have it removed once written.
    waiting: Receiver<Snapshot>,
    /// How many snapshots may wait.
    room: usize,
}

impl SnapshotQueue {
    /// A queue, and the snapshot thread's end of it, where as many
    /// snapshots may wait as are kept after each one written: `keep`
    /// (`journal.keep_snapshots`), or the last [`EVES_KEPT`] ends of day
    /// if more.
    pub(super) fn new(keep: usize) -> (Self, Receiver<Snapshot>) {
        let (sender, receiver) = crossbeam_channel::unbounded();
        let queue = Self {
            sender,
            waiting: receiver.clone(),
            room: keep.max(EVES_KEPT),
        };
        (queue, receiver)
    }
}

/// A snapshot on its way to the snapshot thread: the gateway's state after
/// an entry, to be written with the engine's after the same entry.
pub(super) struct Snapshot {
    pub(super) seq: u64,
    pub(super) gateway: Box<GatewayState>,
    pub(super) end_of_day: bool,
}

/// What the snapshot thread and the router have done with snapshots since
/// the start, for [`super::RuntimeHandle::stats`] (and so the metrics),
/// and for whoever waits for a snapshot ([`super::RuntimeHandle::snapshots`]).
#[derive(Debug)]
pub(super) struct SnapshotCounts(watch::Sender<SnapshotStats>);

impl Default for SnapshotCounts {
    fn default() -> Self {
        Self(watch::Sender::new(SnapshotStats::default()))
    }
}

impl SnapshotCounts {
    pub(super) fn stats(&self) -> SnapshotStats {
        *self.0.borrow()
    }

    pub(super) fn follow(&self) -> watch::Receiver<SnapshotStats> {
        self.0.subscribe()
    }

    fn skipped(&self) {
        self.0.send_modify(|s| s.skipped += 1);
    }

    fn written(&self, seq: u64) {
        self.0.send_modify(|s| {
            s.written += 1;
            s.last_seq = seq;
        });
    }

    fn failed(&self) {
        self.0.send_modify(|s| s.failed += 1);
    }

    fn followed(&self, seq: u64) {
        self.0.send_if_modified(|s| {
            let moved = s.replica_seq != seq;
            s.replica_seq = seq;
            moved
        });
    }
}

/// How long the snapshot thread waits for a snapshot before its replica
/// takes what the journal holds ([`Replica::catch_up`]), when it has
/// caught up.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

/// Most entries the replica takes in one catch-up, so that a snapshot
/// waiting meanwhile is not kept long.
const FOLLOW_MOST: usize = 100_000;

/// Snapshots of the ends of day kept beyond `keep_snapshots`: the last
/// closed day's eve, which a registry settling that day starts from
/// (`cetx replay --day D --from-snapshot`), and the next day's.
const EVES_KEPT: usize = 2;

/// The snapshot thread: writes each snapshot it is given into the journal
/// directory (the gateway's state first, so that an engine snapshot comes
/// with it; the engine's is `replica`'s once it has taken the entry, which
/// also gives the gateway's its live orders, and with no snapshot waiting
/// the replica takes what the journal holds),
/// then removes all but the newest `keep` and the last [`EVES_KEPT`] taken
/// at an end of day (found on disk at start, then each one this thread
/// writes). A snapshot is a shortcut for recovery, never the truth, so a
/// failure is logged, counted in `counts`, and the server goes on, with
/// no file of that snapshot left behind when the replica cannot give it.
pub(super) fn write_snapshots(
    dir: &Path,
    mut replica: Option<Replica>,
    snapshots: &Receiver<Snapshot>,
    keep: usize,
    counts: &SnapshotCounts,
) {
    let mut day_files = DayFiles::default();
    let mut eves = eves_on_disk(dir);
    let mut behind = false;
    loop {
        let wait = if behind {
            std::time::Duration::ZERO
        } else {
            FOLLOW_EVERY
        };
        let snapshot = match snapshots.recv_timeout(wait) {
            Ok(snapshot) => snapshot,
            Err(RecvTimeoutError::Timeout) => {
                if let Some(replica) = replica.as_mut() {
                    behind = replica.catch_up(FOLLOW_MOST);
                    counts.followed(replica.taken());
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let seq = snapshot.seq;
        // The engine's state first: a replica that cannot give it leaves
        // no file behind.
        let written = replica
            .as_mut()
            .ok_or_else(|| "no journal to follow".to_owned())
            .and_then(|replica| {
                let after = replica.after(seq);
                counts.followed(replica.taken());
                after
            })
            .and_then(|(tie, engine)| {
                let mut gateway = snapshot.gateway;
                let day = day_files.write(dir, seq, &gateway.client_orders)?;
                state::write(dir, seq, &mut gateway, &engine, day)?;
                write_snapshot_tied(dir, seq, tie, &engine).map_err(|e| e.to_string())
            });
        match written {
            Ok(path) => {
                counts.written(seq);
                tracing::info!(seq, path = %path.display(), "snapshot written");
            }
            Err(error) => {
                counts.failed();
                tracing::error!(seq, %error, "writing a snapshot failed");
                continue;
            }
        }
        if snapshot.end_of_day {
            eves.push_back(seq);
            if eves.len() > EVES_KEPT {
                eves.pop_front();
            }
        }
        if let Err(error) = prune(dir, keep, eves.make_contiguous(), &mut day_files) {
            tracing::error!(%error, "removing old snapshots failed");
        }
    }
}

/// The last [`EVES_KEPT`] snapshots in `dir` taken at an end of day
/// (their entry's events close a day), oldest first: what a server
/// restarted during a day keeps on keeping. Their entries are read where
/// the snapshots say they start, so damage before one in its segment,
/// which recovery passes over, does not hide it. One whose entry cannot
/// be read is not counted, and the log says so.
fn eves_on_disk(dir: &Path) -> VecDeque<u64> {
    let mut eves = VecDeque::with_capacity(EVES_KEPT + 1);
    let Ok(snapshots) = list_snapshots(dir) else {
        return eves;
    };
    for (seq, path) in snapshots {
        let mut events = Vec::new();
        let ends_a_day = match read_snapshot_entry(dir, &path, &mut events) {
            Ok(entry) => entry.is_some() && Event::ends_a_day(&events),
            Err(why) => {
                tracing::warn!(
                    snapshot = %path.display(),
                    %why,
                    "could not read the entry of a snapshot to tell whether it ends a day: it is kept only as one of the newest"
                );
                false
            }
        };
        if ends_a_day {
            eves.push_front(seq);
            if eves.len() == EVES_KEPT {
                break;
            }
        }
    }
    eves
}

/// Keeps the newest `keep` snapshots and those after the entries `also`,
/// the gateway states beside them and the day files these refer to.
fn prune(dir: &Path, keep: usize, also: &[u64], day_files: &mut DayFiles) -> Result<(), String> {
    for path in prune_snapshots_but(dir, keep, also).map_err(|e| e.to_string())? {
        tracing::info!(path = %path.display(), keep, "removed an old snapshot");
    }
    let kept: Vec<u64> = list_snapshots(dir)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    for path in state::prune(dir, &kept)? {
        tracing::info!(path = %path.display(), "removed an old gateway state");
    }
    for path in day_files.prune(dir, &kept, |seq| state::read_day_ref(dir, seq))? {
        tracing::info!(path = %path.display(), "removed an old day file");
    }
    Ok(())
}

/// A new subscriber's registration, under the lock: the backlog after
/// `resume_from_seq` (or where to read it back from the journal, after the
/// lock is released) and a live channel, with nothing between them.
///
/// A subscription the broker already has is taken over: it is told so
/// (its token is cancelled) and its live channel is closed, and every
/// report from now on goes to the new one. Since the old one is no longer
/// the broker's subscription, its end cancels nothing.
///
/// `None`, taking nothing over, when the reports would be read back from
/// before `checked_from`, the first sequence number whose archived
/// segments the caller found in place: memory's window moved since it
/// looked, and it looks again.
pub(super) fn subscribe(
    outbound: &Mutex<Outbound>,
    broker: BrokerId,
    resume_from_seq: u64,
    id: u64,
    checked_from: u64,
    settled_first: bool,
) -> Result<Subscribing, cetx_engine::RejectReason> {
    let mut out = lock(outbound);
    // Under the lock a disconnect is marked or queued under: one that came
    // after a login's wait is seen here.
    let unsettled = out
        .disconnecting
        .get(&broker)
        .is_some_and(|settled| !*settled.borrow());
    if settled_first && unsettled {
        return Ok(Subscribing::Unsettled);
    }
    let (backlog, read_back) = match out.reports.resume(broker, resume_from_seq)? {
        Resume::Recent(frames) => (frames, None),
        Resume::Journal { mark, .. } if mark.from_seq < checked_from => {
            return Ok(Subscribing::Again)
        }
        Resume::Journal { mark, after, upto } => {
            let back = ReadBack::new(&out.reports, &mark, broker, after, upto);
            (Vec::new(), Some((mark.from_seq, back)))
        }
    };
    let last_seq = out.reports.last_seq(broker);
    let answered = out.answered.get(&broker).copied().unwrap_or(0);
    let (live, receiver) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let taken_over = CancellationToken::new();
    let dropped = CancellationToken::new();
    let previous = out.subscribers.insert(
        broker,
        Subscriber {
            id,
            live,
            queued: Arc::clone(&queued),
            batch: Vec::new(),
            marks: Vec::new(),
            taken_over: taken_over.clone(),
            dropped: dropped.clone(),
        },
    );
    if let Some(previous) = previous {
        previous.taken_over.cancel();
    }
    Ok(Subscribing::Done(Box::new(Subscribed {
        last_seq,
        backlog,
        read_back,
        capacity: out.capacity,
        answered,
        live: receiver,
        queued,
        taken_over,
        dropped,
    })))
}

/// What [`subscribe`] comes to.
pub(super) enum Subscribing {
    /// Subscribed (boxed: a login's, once).
    Done(Box<Subscribed>),
    /// Memory's window moved past where the resume was checked: check
    /// again.
    Again,
    /// The broker's last disconnect is not settled (asked for).
    Unsettled,
}

/// What [`subscribe`] gives a new subscription.
pub(super) struct Subscribed {
    /// The broker's last sequence number now.
    pub(super) last_seq: u64,
    /// Its reports after the resume point, when memory holds them all.
    pub(super) backlog: Vec<ServerFrame>,
    /// Else where to read them back from the journal, and how.
    pub(super) read_back: Option<(u64, ReadBack)>,
    /// The most frames the subscription may hold unread.
    pub(super) capacity: usize,
    /// The broker's requests answered so far.
    pub(super) answered: u64,
    /// The live batches.
    pub(super) live: mpsc::UnboundedReceiver<Delivery>,
    /// Frames in `live` not yet taken: the subscription subtracts what it
    /// takes.
    pub(super) queued: Arc<AtomicUsize>,
    /// Cancelled when a later login of the broker takes it over.
    pub(super) taken_over: CancellationToken,
    /// Cancelled when the router drops it, for a backlog past the
    /// capacity.
    pub(super) dropped: CancellationToken,
}

/// Logs what an operator watches for in a durable entry: each holding
/// that reached its instrument's large-holder threshold (CEA_RULES.md
/// §8.13; `cetx replay`'s `large_holders` file lists them too), each
/// auction's close and outcome (the server closes auctions itself, at
/// their end), and what a disconnect or a suspension cancelled.
fn log_notable(stamp: Stamp, command: &Command, events: &[Event], reports: &Reports) {
    log_cancelled(stamp, command, events);
    for event in events {
        match event {
            Event::LargeHolder(large) => tracing::warn!(
                seq = stamp.seq,
                account = large.account.0,
                symbol = %reports.symbol(large.instrument),
                balance_t = large.balance_t,
                threshold_t = large.threshold_t,
                "a holding reached the large-holder threshold"
            ),
            Event::AuctionClosed(closed) => tracing::info!(
                seq = stamp.seq,
                auction = closed.auction_id,
                symbol = %reports.symbol(closed.instrument),
                seller = closed.seller.0,
                // `none` when nothing sold, as replay's empty `clearing_cny`.
                clearing = %if closed.sold_t == 0 {
                    "none".to_owned()
                } else {
                    rust_decimal::Decimal::new(closed.clearing_ticks, 2).to_string()
                },
                sold_t = closed.sold_t,
                unsold_t = closed.unsold_t,
                "{}",
                if matches!(command, Command::WithdrawAuction { .. }) {
                    "withdrew an auction"
                } else {
                    "closed an auction"
                }
            ),
            _ => {}
        }
    }
}

/// Logs how many resting orders and open block offers a broker's
/// disconnect or a suspension cancelled (the operator's `Applied` says
/// only the seq; a disconnect's cancel comes after its `session closed`
/// line). Nothing for a command that cancels nothing of this kind, nor
/// for one the engine refused (journaled with its `Rejected`, it
/// changed nothing).
fn log_cancelled(stamp: Stamp, command: &Command, events: &[Event]) {
    if matches!(events.first(), Some(Event::Rejected(_))) {
        return;
    }
    let count = || {
        events
            .iter()
            .fold((0_usize, 0_usize), |(orders, offers), event| match event {
                Event::Cancelled(_) => (orders + 1, offers),
                Event::BlockCancelled(_) => (orders, offers + 1),
                _ => (orders, offers),
            })
    };
    match *command {
        Command::CancelOnDisconnect { broker } => {
            let (orders, _) = count();
            tracing::info!(
                seq = stamp.seq,
                broker = broker.0,
                orders,
                "cancelled a disconnected broker's resting orders"
            );
        }
        Command::SetBrokerStatus { broker, status } if status != Status::Active => {
            let (orders, offers) = count();
            tracing::info!(
                seq = stamp.seq,
                broker = broker.0,
                ?status,
                orders,
                offers,
                "cancelled a broker's resting orders and open offers"
            );
        }
        Command::SetAccountStatus { account, status } if status != Status::Active => {
            let (orders, offers) = count();
            tracing::info!(
                seq = stamp.seq,
                account = account.0,
                ?status,
                orders,
                offers,
                "cancelled an account's resting orders and open offers"
            );
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn snapshot(seq: u64, end_of_day: bool) -> Snapshot {
        Snapshot {
            seq,
            gateway: Box::default(),
            end_of_day,
        }
    }

    #[test]
    fn no_more_snapshots_wait_than_are_kept_once_written() {
        let (recycle, _recycled) = crossbeam_channel::bounded(1);
        let keep = 3;
        let (queue, written) = SnapshotQueue::new(keep);
        let counts = Arc::new(SnapshotCounts::default());
        let mut router = Router::new(recycle, queue, Arc::clone(&counts), None);

        // A periodic snapshot waits; the next is skipped while it does.
        router.snapshot(snapshot(10, false));
        router.snapshot(snapshot(20, false));
        // A start catching up ten missed days: an end of day's each.
        for day in 1..=10 {
            router.snapshot(snapshot(100 * day, true));
        }
        let waiting: Vec<(u64, bool)> = written.try_iter().map(|s| (s.seq, s.end_of_day)).collect();
        assert_eq!(
            waiting,
            [(800, true), (900, true), (1000, true)],
            "the newest `keep` wait"
        );
        // 20, then the oldest waiting as each of days 3 to 10 came.
        assert_eq!(counts.stats().skipped, 1 + 8);

        // With the queue drained, a periodic one goes again.
        router.snapshot(snapshot(1010, false));
        assert_eq!(written.try_recv().map(|s| s.seq), Ok(1010));
        // And no fewer than the last two ends of day may wait.
        let (queue, written) = SnapshotQueue::new(1);
        let mut router = Router::new(crossbeam_channel::bounded(1).0, queue, counts, None);
        for day in 1..=3 {
            router.snapshot(snapshot(day, true));
        }
        let waiting: Vec<u64> = written.try_iter().map(|s| s.seq).collect();
        assert_eq!(waiting, [2, 3]);
    }
}
