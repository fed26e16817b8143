//! What the market has done since the runtime started, for metrics:
//! requests by kind, rejects by reason, trades and tonnes by instrument.
//!
//! The router keeps these counts on the journal writer thread, from each
//! turn once it is durable and under the lock it takes for the turn
//! anyway, so the engine thread does no extra work for them. The requests
//! a session refused itself before they reached the queue (throttled, an
//! unknown symbol, the queue full: in no journal) are counted apart, by the
//! sessions, and added in when the figures are read.

use std::collections::BTreeMap;

use cetx_engine::histogram::HistogramSnapshot;
use cetx_engine::journal::JournalStats;
use cetx_engine::{Command, CommandKind, Event, InstrumentId, RejectReason};

use crate::protocol::{RequestKind, ServerMessage};

use super::book_fill::BookLoad;

/// Counts since the runtime started; bounded by the configured
/// instruments and the reject reasons.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Activity {
    /// New orders decided (accepted or rejected, by the engine or the
    /// gateway).
    pub orders: u64,
    /// Cancels decided.
    pub cancels: u64,
    /// Amends decided.
    pub amends: u64,
    /// Rejects of brokers' requests by reason code, the engine's and the
    /// gateway's together.
    pub rejects: BTreeMap<u16, u64>,
    /// Trades and tonnes by instrument.
    pub trades: BTreeMap<InstrumentId, Traded>,
}

/// One instrument's trades.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traded {
    /// Trades.
    pub trades: u64,
    /// Tonnes traded.
    pub volume_t: u64,
    /// Holdings that reached its large-holder threshold (by any trade,
    /// block deal, auction allocation or transfer in).
    pub large_holders: u64,
}

impl Activity {
    /// Counts a durable journal entry: a broker's request (`requested`)
    /// and its events.
    pub(super) fn on_entry(&mut self, command: &Command, events: &[Event], requested: bool) {
        if requested {
            self.on_request(kind(command));
        }
        for event in events {
            match event {
                Event::Rejected(rejected) if requested => {
                    *self.rejects.entry(rejected.reason.code()).or_default() += 1;
                }
                Event::Trade(trade) => {
                    let traded = self.trades.entry(trade.instrument).or_default();
                    traded.trades += 1;
                    traded.volume_t += trade.quantity_t;
                }
                Event::LargeHolder(large) => {
                    self.trades
                        .entry(large.instrument)
                        .or_default()
                        .large_holders += 1;
                }
                _ => {}
            }
        }
    }

    /// Counts a request refused and not journaled (by the gateway, or by
    /// the engine while the market is closed).
    pub(super) fn on_refusal(&mut self, kind: CommandKind, reason: RejectReason) {
        self.on_request(kind);
        *self.rejects.entry(reason.code()).or_default() += 1;
    }

    /// Counts a reject a session made itself (an `OrderRejected`,
    /// `BlockRejected` or `BidRejected` with `seq` 0); anything else is
    /// not a reject and not counted.
    pub(super) fn on_session_refusal(&mut self, message: &ServerMessage) {
        let (kind, reason) = match *message {
            ServerMessage::OrderRejected {
                request, reason, ..
            } => {
                let kind = match request {
                    RequestKind::NewOrder => CommandKind::Submit,
                    RequestKind::Cancel => CommandKind::Cancel,
                    RequestKind::Amend => CommandKind::Amend,
                    RequestKind::Take => CommandKind::Take,
                };
                (Some(kind), reason)
            }
            ServerMessage::BlockRejected { reason, .. }
            | ServerMessage::BidRejected { reason, .. } => (None, reason),
            _ => return,
        };
        if let Some(kind) = kind {
            self.on_request(kind);
        }
        *self.rejects.entry(reason).or_default() += 1;
    }

    /// Adds `other`'s counts to these.
    pub(super) fn add(&mut self, other: &Self) {
        self.orders += other.orders;
        self.cancels += other.cancels;
        self.amends += other.amends;
        for (code, count) in &other.rejects {
            *self.rejects.entry(*code).or_default() += count;
        }
        for (instrument, traded) in &other.trades {
            let sum = self.trades.entry(*instrument).or_default();
            sum.trades += traded.trades;
            sum.volume_t += traded.volume_t;
            sum.large_holders += traded.large_holders;
        }
    }

    fn on_request(&mut self, kind: CommandKind) {
        match kind {
            // A take is an order that trades at once.
            CommandKind::Submit | CommandKind::Take => self.orders += 1,
            CommandKind::Cancel => self.cancels += 1,
            CommandKind::Amend => self.amends += 1,
            _ => {}
        }
    }
}

fn kind(command: &Command) -> CommandKind {
    match command {
        Command::Submit(_) => CommandKind::Submit,
        Command::Cancel { .. } => CommandKind::Cancel,
        Command::Amend { .. } => CommandKind::Amend,
        Command::Take(_) => CommandKind::Take,
        // Only brokers' requests are counted, and they are the four above.
        _ => CommandKind::SetPhase,
    }
}

/// The runtime's figures at one moment; see [`super::RuntimeHandle::stats`].
#[derive(Clone, Debug, Default)]
pub struct RuntimeStats {
    /// What the market has done since the start.
    pub activity: Activity,
    /// Requests in the queue to the engine thread.
    pub queue_depth: u64,
    /// The most that queue holds (`server.queue_capacity`).
    pub queue_capacity: u64,
    /// Journal entries handed to the writer and not yet taken by it.
    pub journal_queue_depth: u64,
    /// The journal writer's counters.
    pub journal: JournalStats,
    /// Entries per group commit.
    pub journal_batch_entries: HistogramSnapshot,
    /// Nanoseconds per `fdatasync`.
    pub journal_sync_ns: HistogramSnapshot,
    /// The last durable sequence number.
    pub durable_seq: u64,
    /// Nanoseconds per turn of the engine loop that took a request.
    pub engine_turn_ns: HistogramSnapshot,
    /// Brokers with a live report subscription.
    pub subscribers: u64,
    /// Report frames sent to sessions and not yet taken by them, all
    /// subscriptions together.
    pub report_backlog_frames: u64,
    /// The largest such backlog of one subscription.
    pub report_backlog_frames_max: u64,
    /// Each book's resting orders and `max_orders`, by instrument id.
    pub books: Vec<BookLoad>,
    /// The snapshots written, failed and skipped since the start.
    pub snapshots: SnapshotStats,
    /// Journal entries read back for resumes older than what memory
    /// holds, since the start.
    pub resume_entries_read: u64,
}

/// What the snapshot thread has done since the start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    /// Snapshots written (the engine's and the gateway's state).
    pub written: u64,
    /// Snapshots that could not be written (the log says why).
    pub failed: u64,
    /// Periodic snapshots skipped while an earlier one was being written.
    pub skipped: u64,
    /// The entry the newest snapshot written was taken after (0: none
    /// since the start).
    pub last_seq: u64,
    /// The entry the snapshot thread's replica of the engine has taken
    /// last (0: none since the start): how far it follows the journal.
    pub replica_seq: u64,
}
