//! Order reports: what each broker is told, as a pure function of the
//! journal.
//!
//! [`Reports::on_entry`] turns one journal entry into the order reports it
//! causes ([`ServerMessage::OrderAccepted`], `OrderRejected`, `Fill`,
//! `Cancelled`, `Amended`, `Expired`), each addressed to one broker and
//! numbered with that broker's next sequence number (from 1, gapless). It
//! reads nothing but the entries it is given, in order, so the journal is
//! the history: replaying it gives exactly the numbers and the reports the
//! brokers were sent before, which is how a broker resumes with no gap and
//! no duplicate, also across a server restart.
//!
//! Memory is bounded by configuration, never by the market's age: each
//! broker's newest reports (`recent`, a ring of configured size) for quick
//! resumes, its counter, today's orders, and a mark at the start of each
//! of the last 64 trading days and of older ones, the older the sparser,
//! 128 in all (a [`DayMark`]: the journal position and every broker's
//! counter there). An older resume is read back from the journal
//! from the mark before it ([`Reports::resume`], [`Reports::from_mark`]):
//! a trading day starts with no open order, so nothing before the mark is
//! needed to report what follows it.
//!
//! What it needs to address a report it learns from the journal too:
//! account → broker from `AccountOpened`, and order id → (broker, client
//! order id, instrument, side) from each `Submit` command, kept while the
//! order is live: it is dropped when the order is rejected, cancelled,
//! expired or wholly filled, so the table is the size of the book, not of
//! the day. A rejected cancel or amend of an order that is done by then is
//! addressed by the requester the command carries
//! ([`cetx_engine::Requester`]). A new trading day (`DayStarted`) empties
//! the table anyway: every order is a day order at the longest.
//!
//! Block trades (`reports/blocks.rs`) are reported to the broker of each
//! account they concern: `BlockPosted` to the poster (and to the broker of
//! a directed offer's counterparty), `BlockDeal` to both sides of a deal,
//! `BlockCancelled`, and `BlockRejected` for a refused block request. The
//! open offers and pending deals needed to address them are kept for the
//! day, bounded by each instrument's `max_open`.
//!
//! Admin, phase and end-of-day events produce no report. The other side of
//! a trade is never named.

use std::collections::{BTreeMap, VecDeque};

use cetx_engine::{
    AccountId, AuctionClosed, BrokerId, CancelCause, Command, CommandKind, Event, InstrumentId,
    JournalEntry, OrderId, RejectReason, Side as EngineSide, Stamp, Trade,
};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::protocol::{resumed_after, ServerFrame, ServerMessage, Side, Symbol};

mod blocks;
mod refusal;

pub use refusal::{
    gateway_reject, order_rejected, refuse, refuse_quoting, refuse_saying, reject_text, rejection,
    request_of, symbol_of, with_limits, Asked,
};

/// What a report about an order needs to know about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OrderInfo {
    pub(crate) broker: BrokerId,
    pub(crate) account: AccountId,
    pub(crate) client_order_id: u64,
    pub(crate) instrument: InstrumentId,
    pub(crate) side: EngineSide,
}

/// Trading days whose every start is marked for resumes read back from
/// the journal. Older days keep a mark every so often ([`MARKS_KEPT`]).
const DAY_MARKS: usize = 64;

/// Most day marks kept: the last [`DAY_MARKS`] days', and older ones,
/// the older the sparser, so that a resume from a report of any age reads
/// back from a day start near it rather than from the journal's first
/// entry, in memory bounded whatever the market's age
/// ([`Reports::thin_marks`]).
const MARKS_KEPT: usize = 2 * DAY_MARKS;

/// Where a trading day starts in the journal: the first entry after the
/// one that started it, and every broker's last report number there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayMark {
    /// The sequence number of the first entry of the day's reports.
    pub from_seq: u64,
    /// Each broker's last report number before it.
    pub last_seqs: BTreeMap<BrokerId, u64>,
}

/// One broker's report numbering and its newest reports.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct BrokerReports {
    last_seq: u64,
    /// The newest reports, oldest first, at most the configured number: a
    /// cache, not kept in snapshots (after a restart, resumes are read back
    /// from the journal until it fills again).
    #[serde(skip)]
    recent: VecDeque<ServerFrame>,
}

/// How a resume gets the reports a broker missed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resume {
    /// They are all in memory, in order.
    Recent(Vec<ServerFrame>),
    /// Read them back from the journal: replay from `mark` with
    /// [`Reports::from_mark`] and keep the broker's reports numbered after
    /// `after` up to and including `upto`.
    Journal {
        /// Where to start reading.
        mark: DayMark,
        /// The last report the broker has.
        after: u64,
        /// The last report to read back (the broker's last when it
        /// connected; live reports follow it).
        upto: u64,
    },
}

/// Every broker's order reports, rebuilt from the journal; see the module
/// docs. Serialized for the gateway's snapshots without the recent
/// reports.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Reports {
    /// Instrument symbols, by instrument id.
    symbols: Vec<Symbol>,
    /// Which broker acts for each account, and the entry that opened it
    /// (looked up, never iterated).
    account_brokers: FxHashMap<AccountId, (BrokerId, u64)>,
    /// Today's live orders (looked up, never iterated; a snapshot lists
    /// them and a restart sizes the map for them at once).
    #[serde(with = "sized_map")]
    orders: FxHashMap<OrderId, OrderInfo>,
    /// Each broker's numbering and newest reports.
    brokers: BTreeMap<BrokerId, BrokerReports>,
    /// Reports kept in memory per broker (from the config, not the
    /// snapshot).
    #[serde(skip)]
    recent_capacity: usize,
    /// The starts of the last trading days, oldest first.
    day_marks: VecDeque<DayMark>,
    /// When reading one broker's reports back: that broker; the others'
    /// accounts and orders are not even looked at.
    #[serde(skip)]
    only: Option<BrokerId>,
    /// Today's open block offers and pending deals, to address their
    /// reports (`reports/blocks.rs`); emptied each trading day.
    blocks: blocks::BlockReports,
}

impl Reports {
    /// No reports yet, for a market trading these instruments (their
    /// symbols in instrument-id order, as in the config), keeping each
    /// broker's newest `recent_capacity` reports in memory (at least 1).
    #[must_use]
    pub fn new(symbols: Vec<String>, recent_capacity: usize) -> Self {
        Self {
            symbols: symbols.into_iter().map(Symbol::from).collect(),
            recent_capacity: recent_capacity.max(1),
            ..Self::default()
        }
    }

    /// A copy for a snapshot: everything but the recent reports, which are
    /// a cache, and the live orders, which are as many as the orders
    /// resting in the book: copying them stopped every broker's reports
    /// (they are taken under the router's lock). The snapshot thread puts
    /// them back from the engine's state of the same entry
    /// (`set_live_orders`).
    #[must_use]
    pub fn for_snapshot(&self) -> Self {
        Self {
            symbols: self.symbols.clone(),
            account_brokers: self.account_brokers.clone(),
            orders: FxHashMap::default(),
            brokers: self
                .brokers
                .iter()
                .map(|(&broker, reports)| {
                    let copy = BrokerReports {
                        last_seq: reports.last_seq,
                        recent: VecDeque::new(),
                    };
                    (broker, copy)
                })
                .collect(),
            recent_capacity: self.recent_capacity,
            day_marks: self.day_marks.clone(),
            only: None,
            blocks: self.blocks.clone(),
        }
    }

    /// Today's live orders, for a copy made by [`Self::for_snapshot`]:
    /// each order the reports may still address, with what its reports
    /// name.
    pub(crate) fn set_live_orders(&mut self, orders: FxHashMap<OrderId, OrderInfo>) {
        self.orders = orders;
    }

    /// Today's live orders.
    #[cfg(test)]
    pub(crate) fn live_orders(&self) -> &FxHashMap<OrderId, OrderInfo> {
        &self.orders
    }

    /// Names the instrument `instrument` `symbol` in the reports from now
    /// on: one listed after the start (the journal's `ListInstrument`).
    pub fn list(&mut self, instrument: InstrumentId, symbol: &str) {
        let i = usize::from(instrument.0);
        if i >= self.symbols.len() {
            self.symbols.resize(i + 1, Symbol::default());
        }
        self.symbols[i] = Symbol::from(symbol);
    }

    /// Keeps each broker's newest `recent_capacity` reports from now on
    /// (after loading a snapshot, say).
    pub fn keep_recent(&mut self, recent_capacity: usize) {
        self.recent_capacity = recent_capacity.max(1);
    }

    /// `broker`'s reports of the journal from `mark` on, as they were
    /// numbered: the same symbols, the broker's accounts opened before the
    /// mark, the counters of the mark, no order open, and nothing kept in
    /// memory. Other brokers' orders are ignored, which changes none of
    /// this broker's reports.
    #[must_use]
    pub fn from_mark(&self, mark: &DayMark, broker: BrokerId) -> Self {
        Self {
            symbols: self.symbols.clone(),
            account_brokers: self
                .account_brokers
                .iter()
                .filter(|(_, &(owner, opened))| owner == broker && opened < mark.from_seq)
                .map(|(&account, &opened)| (account, opened))
                .collect(),
            orders: FxHashMap::default(),
            brokers: mark
                .last_seqs
                .iter()
                .map(|(&broker, &last_seq)| {
                    let reports = BrokerReports {
                        last_seq,
                        recent: VecDeque::new(),
                    };
                    (broker, reports)
                })
                .collect(),
            recent_capacity: 0,
            day_marks: VecDeque::new(),
            only: Some(broker),
            blocks: blocks::BlockReports::default(),
        }
    }

    /// Takes the next journal entry (entries must come in sequence order,
    /// from the first) and returns the reports it causes, in order, each
    /// with the broker it is for. The newest are also kept for
    /// [`Self::resume`].
    pub fn on_entry(&mut self, entry: &JournalEntry) -> Vec<(BrokerId, ServerFrame)> {
        let mut out = Vec::new();
        self.on_entry_into(entry.stamp, &entry.command, &entry.events, &mut out);
        out
    }

    /// [`Self::on_entry`] for an entry's command and events, adding the
    /// reports to `out`.
    pub fn on_entry_into(
        &mut self,
        stamp: Stamp,
        command: &Command,
        events: &[Event],
        out: &mut Vec<(BrokerId, ServerFrame)>,
    ) {
        if let (Command::ListInstrument(spec), Some(Event::InstrumentListed(band))) =
            (command, events.first())
        {
            self.list(band.instrument, &spec.symbol);
        }
        // A take is an order too: it is accepted, fills and is done.
        let placed = match command {
            Command::Submit(order) => Some((
                order.order_id,
                order.account,
                order.client_order_id,
                order.instrument,
                order.side,
            )),
            Command::Take(take) => Some((
                take.order_id,
                take.account,
                take.client_order_id,
                take.instrument,
                take.side,
            )),
            _ => None,
        };
        if let Some((order_id, account, client_order_id, instrument, side)) = placed {
            if let Some(&(broker, _)) = self.account_brokers.get(&account) {
                self.orders.insert(
                    order_id,
                    OrderInfo {
                        broker,
                        account,
                        client_order_id,
                        instrument,
                        side,
                    },
                );
            }
        }
        for event in events {
            match *event {
                Event::AccountOpened(opened) => {
                    if self.only.is_none_or(|only| only == opened.broker) {
                        self.account_brokers
                            .insert(opened.account, (opened.broker, stamp.seq));
                    }
                }
                Event::Accepted(accepted) => {
                    if let Some(info) = self.order(accepted.order_id) {
                        let message = ServerMessage::OrderAccepted {
                            client_order_id: info.client_order_id,
                            order_id: accepted.order_id.0,
                            symbol: self.symbol(accepted.instrument),
                            side: accepted.side.into(),
                            order_type: accepted.order_type.into(),
                            time_in_force: accepted.time_in_force.into(),
                            price_ticks: accepted.price_ticks,
                            quantity_t: accepted.quantity_t,
                        };
                        self.push(out, info.broker, message);
                    }
                }
                Event::Rejected(rejected) => {
                    if self.block_rejected(command, &rejected, out) {
                        continue;
                    }
                    if let Some((broker, client_order_id, asked)) =
                        self.rejected_request(command, rejected.command)
                    {
                        let message =
                            rejection(client_order_id, asked, rejected.reason, rejected.bounds);
                        self.push(out, broker, message);
                    }
                    if let Some((order_id, ..)) = placed {
                        self.orders.remove(&order_id);
                    }
                }
                Event::Trade(trade) => self.fills(out, &trade),
                Event::Cancelled(cancelled) => {
                    if let Some(info) = self.orders.remove(&cancelled.order_id) {
                        let message = if cancelled.cause == CancelCause::Expired {
                            ServerMessage::Expired {
                                client_order_id: info.client_order_id,
                                order_id: cancelled.order_id.0,
                                expired_t: cancelled.cancelled_t,
                            }
                        } else {
                            ServerMessage::Cancelled {
                                client_order_id: info.client_order_id,
                                order_id: cancelled.order_id.0,
                                cancelled_t: cancelled.cancelled_t,
                                cause: cancelled.cause as u8,
                            }
                        };
                        self.push(out, info.broker, message);
                    }
                }
                Event::Amended(amended) => {
                    if let Some(info) = self.order(amended.order_id) {
                        let message = ServerMessage::Amended {
                            client_order_id: info.client_order_id,
                            order_id: amended.order_id.0,
                            price_ticks: amended.price_ticks,
                            quantity_t: amended.quantity_t,
                            priority_kept: amended.priority_kept,
                        };
                        self.push(out, info.broker, message);
                    }
                }
                Event::DayStarted(_) => {
                    // End of day expired every order still open, and every
                    // order is a day order at the longest: none of today's
                    // orders can be named again.
                    self.orders.clear();
                    self.blocks.clear();
                    self.mark_day(stamp.seq + 1);
                }
                Event::CashDeposited(_)
                | Event::CashWithdrawn(_)
                | Event::HoldingsCredited(_)
                | Event::HoldingsDebited(_)
                | Event::PhaseChanged(_)
                | Event::ReferencePriceSet(_)
                | Event::LargeHolder(_)
                | Event::DayClosed(_)
                | Event::InstrumentListed(_)
                | Event::InstrumentRevised(_)
                | Event::CalendarSet
                | Event::BrokerAdded(_)
                | Event::BrokerStatusChanged(_)
                | Event::AccountStatusChanged(_)
                | Event::AuctionAnnounced(_) => {}
                Event::BlockPosted(_)
                | Event::BlockAccepted(_)
                | Event::BlockTraded(_)
                | Event::BlockCancelled(_) => self.on_block(command, event, out),
                Event::BidAccepted(_)
                | Event::BidAmended(_)
                | Event::BidCancelled(_)
                | Event::AuctionAllocation(_)
                | Event::AuctionClosed(_) => self.auction_report(out, event, (stamp, events)),
            }
        }
    }

    /// The broker of an account, if this reader follows it.
    fn broker_of(&self, account: AccountId) -> Option<BrokerId> {
        self.account_brokers
            .get(&account)
            .map(|&(broker, _)| broker)
    }

    /// The reports of an auction event: to the bidder for its bid's
    /// changes; at the close, an `AuctionResult` to the winner and the
    /// seller per allocation, then to each bidder that won nothing and to
    /// a seller that sold nothing. `stamp` and `events` are the entry's,
    /// where the close's outcome follows its allocations.
    fn auction_report(
        &mut self,
        out: &mut Vec<(BrokerId, ServerFrame)>,
        event: &Event,
        (stamp, events): (Stamp, &[Event]),
    ) {
        match *event {
            Event::BidAccepted(b) => {
                if let Some(broker) = self.broker_of(b.account) {
                    let message = ServerMessage::BidAccepted {
                        client_order_id: b.client_order_id,
                        auction_id: b.auction_id,
                        bid_id: b.bid_id.0,
                        price_ticks: b.price_ticks,
                        quantity_t: b.quantity_t,
                        amend: 0,
                    };
                    self.push(out, broker, message);
                }
            }
            Event::BidAmended(a) => {
                if let Some(broker) = self.broker_of(a.account) {
                    let message = ServerMessage::BidAccepted {
                        client_order_id: a.client_order_id,
                        auction_id: a.auction_id,
                        bid_id: a.bid_id.0,
                        price_ticks: a.price_ticks,
                        quantity_t: a.quantity_t,
                        amend: if a.priority_kept { 1 } else { 2 },
                    };
                    self.push(out, broker, message);
                }
            }
            Event::BidCancelled(c) => {
                if let Some(broker) = self.broker_of(c.account) {
                    let message = ServerMessage::BidCancelled {
                        client_order_id: c.client_order_id,
                        auction_id: c.auction_id,
                        bid_id: c.bid_id.0,
                        cancelled_t: c.cancelled_t,
                        cause: c.cause as u8,
                    };
                    self.push(out, broker, message);
                }
            }
            Event::AuctionAllocation(a) => {
                let Some(closed) = closed_of(events, a.auction_id) else {
                    return;
                };
                let fill = (a.trade_id, a.price_ticks, a.quantity_t, a.time_ns);
                if let Some(broker) = self.broker_of(a.buyer) {
                    let bid = (EngineSide::Buy, a.client_order_id, a.bid_id.0);
                    let message = self.auction_result(&closed, bid, fill);
                    self.push(out, broker, message);
                }
                if let Some(broker) = self.broker_of(a.seller) {
                    let message = self.auction_result(&closed, (EngineSide::Sell, 0, 0), fill);
                    self.push(out, broker, message);
                }
            }
            Event::AuctionClosed(closed) => {
                // The close's time, as its allocations carry: also where
                // nothing was sold.
                let time_ns = stamp.time_ns;
                for e in events {
                    let Event::BidCancelled(c) = e else { continue };
                    let won = events
                        .iter()
                        .any(|e| matches!(e, Event::AuctionAllocation(a) if a.bid_id == c.bid_id));
                    if c.cause != CancelCause::AuctionUnfilled || won {
                        continue;
                    }
                    if let Some(broker) = self.broker_of(c.account) {
                        let bid = (EngineSide::Buy, c.client_order_id, c.bid_id.0);
                        let message = self.auction_result(&closed, bid, (0, 0, 0, time_ns));
                        self.push(out, broker, message);
                    }
                }
                if closed.sold_t == 0 {
                    if let Some(broker) = self.broker_of(closed.seller) {
                        let none = (EngineSide::Sell, 0, 0);
                        let message = self.auction_result(&closed, none, (0, 0, 0, time_ns));
                        self.push(out, broker, message);
                    }
                }
            }
            _ => {}
        }
    }

    /// An `AuctionResult`: the auction's outcome, for one bid or the sale
    /// `(side, client order id, bid id)`, with one trade `(trade id, price,
    /// quantity, time)` (zeros for none).
    fn auction_result(
        &self,
        closed: &AuctionClosed,
        (side, client_order_id, bid_id): (EngineSide, u64, u64),
        (trade_id, price_ticks, quantity_t, time_ns): (u64, i64, u64, i64),
    ) -> ServerMessage {
        ServerMessage::AuctionResult {
            auction_id: closed.auction_id,
            symbol: self.symbol(closed.instrument),
            pricing: closed.pricing as u8,
            clearing_ticks: closed.clearing_ticks,
            sold_t: closed.sold_t,
            unsold_t: closed.unsold_t,
            side: side.into(),
            client_order_id,
            bid_id,
            trade_id,
            price_ticks,
            quantity_t,
            time_ns,
        }
    }

    /// Remembers that a trading day's reports start at entry `from_seq`.
    fn mark_day(&mut self, from_seq: u64) {
        if self.recent_capacity == 0 {
            return;
        }
        if self.day_marks.len() == MARKS_KEPT {
            self.thin_marks(from_seq);
        }
        let last_seqs = self
            .brokers
            .iter()
            .map(|(&broker, reports)| (broker, reports.last_seq))
            .collect();
        self.day_marks.push_back(DayMark {
            from_seq,
            last_seqs,
        });
    }

    /// Drops the older mark whose absence costs least for its age, the
    /// next day starting at `from_seq`: the one whose neighbours are
    /// closest together for how far the later of them lies behind
    /// `from_seq` (the first such, on a tie). The oldest and the last
    /// [`DAY_MARKS`] stay. So the gaps grow with age: with days of
    /// similar length, each gap between older marks is at most the
    /// journal after it, and a resume reads back at most about twice the
    /// journal since its report (one long day can make that more, as a
    /// resume reads from its day's start anyway). A rule of the marks
    /// alone: a restart from a snapshot keeps the marks the live server
    /// would.
    fn thin_marks(&mut self, from_seq: u64) {
        let marks = &self.day_marks;
        // The gap left without mark `i`, and how far behind it ends.
        let cost = |i: usize| {
            let gap = marks[i + 1].from_seq - marks[i - 1].from_seq;
            let behind = from_seq.saturating_sub(marks[i + 1].from_seq).max(1);
            (u128::from(gap), u128::from(behind))
        };
        let dropped = (1..marks.len().saturating_sub(DAY_MARKS)).min_by(|&a, &b| {
            let ((gap_a, behind_a), (gap_b, behind_b)) = (cost(a), cost(b));
            (gap_a * behind_b).cmp(&(gap_b * behind_a))
        });
        if let Some(i) = dropped {
            self.day_marks.remove(i);
        }
    }

    /// How to give a broker that has seen its reports up to `after_seq`
    /// (0: none; [`crate::protocol::RESUME_AFTER_LAST`]: all) the ones it missed, up to its
    /// last now: from memory when they are all there, else from the
    /// journal, from the last day mark before them (the journal's first
    /// entry when no mark is that old).
    ///
    /// # Errors
    /// [`RejectReason::ResumeSeqAhead`] when `after_seq` is above the
    /// broker's last sequence number.
    pub fn resume(&self, broker: BrokerId, after_seq: u64) -> Result<Resume, RejectReason> {
        let last_seq = self.last_seq(broker);
        let after_seq = resumed_after(after_seq, last_seq);
        if after_seq > last_seq {
            return Err(RejectReason::ResumeSeqAhead);
        }
        let from_memory = self.memory_serves_after(broker);
        if after_seq >= from_memory {
            let skip = usize::try_from(after_seq - from_memory).unwrap_or(usize::MAX);
            let recent = self.brokers.get(&broker).map(|b| &b.recent);
            let frames = recent.map_or_else(Vec::new, |r| r.iter().skip(skip).cloned().collect());
            return Ok(Resume::Recent(frames));
        }
        let mark = self
            .mark_before(broker, after_seq)
            .cloned()
            .unwrap_or_else(|| DayMark {
                from_seq: 1,
                last_seqs: BTreeMap::new(),
            });
        Ok(Resume::Journal {
            mark,
            after: after_seq,
            upto: last_seq,
        })
    }

    /// Where in the journal [`Self::resume`] would read the reports after
    /// `after_seq` back from; `None` when memory holds them (or there are
    /// none to give).
    #[must_use]
    pub fn read_back_from(&self, broker: BrokerId, after_seq: u64) -> Option<u64> {
        let after_seq = resumed_after(after_seq, self.last_seq(broker));
        (after_seq < self.memory_serves_after(broker)).then(|| {
            self.mark_before(broker, after_seq)
                .map_or(1, |m| m.from_seq)
        })
    }

    /// The newest day mark before the broker's report `after_seq`: the
    /// day a resume after it reads back from (`None`: the journal's first
    /// entry).
    fn mark_before(&self, broker: BrokerId, after_seq: u64) -> Option<&DayMark> {
        self.day_marks
            .iter()
            .rev()
            .find(|m| m.last_seqs.get(&broker).copied().unwrap_or(0) <= after_seq)
    }

    /// Where a resume of `broker` reads back from: each marked trading
    /// day's start in the journal, oldest first, with the broker's last
    /// report before it (a resume from that report or a later one reads
    /// from there or later), after the journal's first entry (from 1, any
    /// resume); and the oldest report a resume may start after and be
    /// served from memory.
    #[must_use]
    pub fn resume_points(&self, broker: BrokerId) -> (Vec<(u64, u64)>, u64) {
        let marks = self.day_marks.iter().map(|m| {
            let last = m.last_seqs.get(&broker).copied().unwrap_or(0);
            (m.from_seq, last)
        });
        let points = std::iter::once((1, 0)).chain(marks).collect();
        (points, self.memory_serves_after(broker))
    }

    /// The oldest report of `broker`'s that a resume may start after and
    /// be served from memory: its last but the newest ones kept.
    pub(crate) fn memory_serves_after(&self, broker: BrokerId) -> u64 {
        let in_memory = self.brokers.get(&broker).map_or(0, |b| b.recent.len()) as u64;
        self.last_seq(broker).saturating_sub(in_memory)
    }

    /// Where the newest trading day marked starts in the journal: what a
    /// resume into that day reads back from (`None`: no day marked, so a
    /// resume read back reads from the journal's first entry).
    #[must_use]
    pub fn last_day_start(&self) -> Option<u64> {
        self.day_marks.back().map(|mark| mark.from_seq)
    }

    /// The highest sequence number the broker has been given (0: none).
    #[must_use]
    pub fn last_seq(&self, broker: BrokerId) -> u64 {
        self.brokers.get(&broker).map_or(0, |b| b.last_seq)
    }

    fn order(&self, order_id: OrderId) -> Option<OrderInfo> {
        self.orders.get(&order_id).copied()
    }

    /// The symbol of an instrument (empty for one not listed).
    pub(crate) fn symbol(&self, instrument: InstrumentId) -> Symbol {
        self.symbols
            .get(usize::from(instrument.0))
            .cloned()
            .unwrap_or_default()
    }

    /// Who asked for a rejected order command, their id for the order,
    /// and what kind of request it was; `None` for other commands. A
    /// cancel or an amend names its requester; one from an older journal
    /// does not, and is found among the live orders.
    fn rejected_request(
        &self,
        command: &Command,
        kind: CommandKind,
    ) -> Option<(BrokerId, u64, Asked)> {
        let asked = match kind {
            CommandKind::Submit
            | CommandKind::Cancel
            | CommandKind::Amend
            | CommandKind::Take
            | CommandKind::Bid
            | CommandKind::CancelBid
            | CommandKind::AmendBid => Asked::of(kind),
            // Block requests are answered `BlockRejected` (`blocks.rs`).
            _ => return None,
        };
        if let Command::Cancel {
            requester: Some(by),
            ..
        }
        | Command::Amend {
            requester: Some(by),
            ..
        }
        | Command::CancelBid {
            requester: Some(by),
            ..
        }
        | Command::AmendBid {
            requester: Some(by),
            ..
        } = *command
        {
            return Some((by.broker, by.client_order_id, asked));
        }
        if let Command::Bid(bid) = *command {
            return Some((self.broker_of(bid.account)?, bid.client_order_id, asked));
        }
        let info = self.order(command.order_id()?)?;
        Some((info.broker, info.client_order_id, asked))
    }

    /// A fill for each side of a trade, to its own broker: the taker's
    /// first, then the maker's. Neither names the other side. A side
    /// with nothing left is done.
    fn fills(&mut self, out: &mut Vec<(BrokerId, ServerFrame)>, trade: &Trade) {
        let sides = [
            (trade.taker_order_id, trade.taker_remaining_t, true),
            (trade.maker_order_id, trade.maker_remaining_t, false),
        ];
        for (order_id, leaves_t, aggressor) in sides {
            if let Some(info) = self.order(order_id) {
                let message = ServerMessage::Fill {
                    client_order_id: info.client_order_id,
                    order_id: order_id.0,
                    trade_id: trade.trade_id,
                    symbol: self.symbol(trade.instrument),
                    side: Side::from(info.side),
                    price_ticks: trade.price_ticks,
                    quantity_t: trade.quantity_t,
                    leaves_t,
                    aggressor,
                    time_ns: trade.time_ns,
                };
                self.push(out, info.broker, message);
            }
            if leaves_t == 0 {
                self.orders.remove(&order_id);
            }
        }
    }

    /// Numbers a report with the broker's next sequence number, keeps it
    /// among the broker's newest and adds it to `out`.
    fn push(
        &mut self,
        out: &mut Vec<(BrokerId, ServerFrame)>,
        broker: BrokerId,
        message: ServerMessage,
    ) {
        let reports = self.brokers.entry(broker).or_default();
        reports.last_seq += 1;
        let frame = ServerFrame {
            seq: reports.last_seq,
            message,
        };
        if self.recent_capacity > 0 {
            if reports.recent.len() == self.recent_capacity {
                reports.recent.pop_front();
            }
            reports.recent.push_back(frame.clone());
        }
        out.push((broker, frame));
    }
}

/// The outcome of `auction_id` among an entry's events.
fn closed_of(events: &[Event], auction_id: u64) -> Option<AuctionClosed> {
    events.iter().find_map(|e| match e {
        Event::AuctionClosed(c) if c.auction_id == auction_id => Some(*c),
        _ => None,
    })
}

/// The live orders in a snapshot: a list, read back into a map
/// sized for all of them at once (serde's map reading grows it step by
/// step, which for millions of orders was most of a restart).
mod sized_map {
    use std::hash::Hash;

    use rustc_hash::FxHashMap;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer, K: Serialize, V: Serialize>(
        map: &FxHashMap<K, V>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.iter())
    }

    pub(super) fn deserialize<'de, D, K, V>(deserializer: D) -> Result<FxHashMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Hash + Eq,
        V: Deserialize<'de>,
    {
        let list = Vec::<(K, V)>::deserialize(deserializer)?;
        let mut map = FxHashMap::with_capacity_and_hasher(list.len(), Default::default());
        map.extend(list);
        Ok(map)
    }
}

/// One broker's reports read back from the journal for a resume
/// ([`Resume::Journal`]): feed it the journal's entries from the mark on,
/// in order, until [`ReadBack::done`].
#[derive(Debug)]
pub struct ReadBack {
    reports: Reports,
    broker: BrokerId,
    after: u64,
    upto: u64,
    scratch: Vec<(BrokerId, ServerFrame)>,
}

impl ReadBack {
    /// Reads back `broker`'s reports numbered after `after` up to `upto`,
    /// from `mark` on, with what `reports` knows of the accounts.
    #[must_use]
    pub fn new(reports: &Reports, mark: &DayMark, broker: BrokerId, after: u64, upto: u64) -> Self {
        Self {
            reports: reports.from_mark(mark, broker),
            broker,
            after,
            upto,
            scratch: Vec::new(),
        }
    }

    /// Whether every report up to `upto` has been read back.
    #[must_use]
    pub fn done(&self) -> bool {
        self.reports.last_seq(self.broker) >= self.upto
    }

    /// Takes the next entry and adds the broker's reports it causes that
    /// are wanted to `out`.
    pub fn on_entry(
        &mut self,
        stamp: Stamp,
        command: &Command,
        events: &[Event],
        out: &mut Vec<ServerFrame>,
    ) {
        self.reports
            .on_entry_into(stamp, command, events, &mut self.scratch);
        let (broker, after, upto) = (self.broker, self.after, self.upto);
        out.extend(
            self.scratch
                .drain(..)
                .filter(|(b, f)| *b == broker && f.seq > after && f.seq <= upto)
                .map(|(_, f)| f),
        );
    }
}

#[cfg(test)]
mod tests {
    use cetx_engine::{
        Engine, EngineConfig, InstrumentSpec, NewOrder, OrderType, ParticipantType, Phase,
        Requester, Stamp, TimeInForce,
    };

    use super::*;
    use crate::protocol::RequestKind;

    const B1: BrokerId = BrokerId(1);
    const B2: BrokerId = BrokerId(2);
    const CEA: InstrumentId = InstrumentId(0);

    /// An engine and the journal it writes, one entry per command.
    struct Market {
        engine: Engine,
        journal: Vec<JournalEntry>,
    }

    impl Market {
        fn new() -> Self {
            let spec: InstrumentSpec = toml::from_str(
                r#"
                symbol = "CEA2025"
                kind = { type = "cea", vintage = 2025 }
                tick = "0.01"
                lot_t = 1
                min_order_t = 1
                max_order_t = 99999
                band_bps = 1000
                reference_price = "90.00"
                max_orders = 64
                max_orders_per_account = 64
                max_orders_per_broker = 64
                "#,
            )
            .unwrap();
            let engine = Engine::new(&EngineConfig {
                instruments: vec![spec],
            })
            .unwrap();
            let mut market = Self {
                engine,
                journal: Vec::new(),
            };
            for (account, broker) in [(11, B1), (21, B2)] {
                market.apply(Command::OpenAccount {
                    account: AccountId(account),
                    participant: ParticipantType::ComplianceEntity,
                    broker,
                });
                market.apply(Command::Deposit {
                    account: AccountId(account),
                    amount_fen: 1_000_000_00,
                });
                market.apply(Command::CreditHoldings {
                    account: AccountId(account),
                    instrument: CEA,
                    quantity_t: 1_000,
                });
            }
            market.apply(Command::SetPhase {
                instrument: CEA,
                phase: Phase::Continuous,
            });
            market
        }

        fn apply(&mut self, mut command: Command) {
            let seq = self.journal.len() as u64 + 1;
            if let Command::Submit(order) = &mut command {
                order.order_id = OrderId(seq);
            }
            let stamp = Stamp {
                seq,
                time_ns: 1_000 * seq as i64,
            };
            let mut events = Vec::new();
            self.engine.apply(&command, stamp, &mut events);
            self.journal.push(JournalEntry {
                stamp,
                command,
                events,
                operator: None,
            });
        }

        fn submit(&mut self, account: u32, coid: u64, side: EngineSide, price: i64, qty: u64) {
            self.apply(Command::Submit(NewOrder {
                order_id: OrderId(0),
                account: AccountId(account),
                instrument: CEA,
                side,
                order_type: OrderType::Limit,
                time_in_force: TimeInForce::Day,
                price_ticks: price,
                quantity_t: qty,
                client_order_id: coid,
            }));
        }

        /// Every report, in journal order.
        fn reports(&self) -> (Reports, Vec<(BrokerId, ServerFrame)>) {
            self.reports_keeping(1_024)
        }

        /// Every report, in journal order, keeping `recent` per broker.
        fn reports_keeping(&self, recent: usize) -> (Reports, Vec<(BrokerId, ServerFrame)>) {
            let mut reports = Reports::new(vec!["CEA2025".into()], recent);
            let mut all = Vec::new();
            for entry in &self.journal {
                all.extend(reports.on_entry(entry));
            }
            (reports, all)
        }
    }

    fn messages(all: &[(BrokerId, ServerFrame)], broker: BrokerId) -> Vec<(u64, ServerMessage)> {
        all.iter()
            .filter(|(b, _)| *b == broker)
            .map(|(_, f)| (f.seq, f.message.clone()))
            .collect()
    }

    #[test]
    fn a_trade_fills_both_brokers_without_naming_the_other_side() {
        let mut market = Market::new();
        market.submit(11, 500, EngineSide::Sell, 90_00, 100);
        let sell_id = market.journal.len() as u64;
        market.submit(21, 900, EngineSide::Buy, 90_50, 60);
        let buy_id = market.journal.len() as u64;
        let (_, all) = market.reports();
        let fill = |coid, order_id, side, leaves_t, aggressor| ServerMessage::Fill {
            client_order_id: coid,
            order_id,
            trade_id: 1,
            symbol: "CEA2025".into(),
            side,
            price_ticks: 90_00,
            quantity_t: 60,
            leaves_t,
            aggressor,
            time_ns: 1_000 * buy_id as i64,
        };
        let accepted =
            |coid, order_id, side, price_ticks, quantity_t| ServerMessage::OrderAccepted {
                client_order_id: coid,
                order_id,
                symbol: "CEA2025".into(),
                side,
                order_type: crate::protocol::OrderType::Limit,
                time_in_force: crate::protocol::TimeInForce::Day,
                price_ticks,
                quantity_t,
            };
        assert_eq!(
            messages(&all, B1),
            vec![
                (1, accepted(500, sell_id, Side::Sell, 90_00, 100)),
                (2, fill(500, sell_id, Side::Sell, 40, false)),
            ]
        );
        assert_eq!(
            messages(&all, B2),
            vec![
                (1, accepted(900, buy_id, Side::Buy, 90_50, 60)),
                (2, fill(900, buy_id, Side::Buy, 0, true)),
            ]
        );
    }

    #[test]
    fn an_auction_that_sold_nothing_tells_its_seller_at_the_closes_time() {
        let mut market = Market::new();
        let closed_at = Stamp {
            seq: market.journal.len() as u64 + 1,
            time_ns: 1_752_629_400_000_000_000,
        };
        market.journal.push(JournalEntry {
            stamp: closed_at,
            command: Command::CloseAuction { auction_id: 7 },
            events: vec![Event::AuctionClosed(AuctionClosed {
                auction_id: 7,
                instrument: CEA,
                seller: AccountId(11),
                pricing: cetx_engine::Pricing::Uniform,
                clearing_ticks: 0,
                sold_t: 0,
                unsold_t: 5_000,
                turnover_fen: 0,
            })],
            operator: None,
        });
        let (_, all) = market.reports();
        let results: Vec<_> = messages(&all, B1)
            .into_iter()
            .filter_map(|(_, m)| match m {
                ServerMessage::AuctionResult {
                    unsold_t, time_ns, ..
                } => Some((unsold_t, time_ns)),
                _ => None,
            })
            .collect();
        assert_eq!(results, [(5_000, closed_at.time_ns)]);
    }

    #[test]
    fn rejects_cancels_amends_and_expiry_reach_the_owner() {
        let mut market = Market::new();
        // Too expensive for the account's cash: rejected by the engine.
        market.submit(11, 1, EngineSide::Buy, 90_00, 99_999);
        market.submit(11, 2, EngineSide::Buy, 89_00, 10);
        let resting = market.journal.len() as u64;
        market.apply(Command::Amend {
            instrument: CEA,
            order_id: OrderId(resting),
            price_ticks: 89_00,
            quantity_t: 8,
            requester: Some(Requester {
                broker: B1,
                client_order_id: 2,
            }),
        });
        market.submit(11, 3, EngineSide::Buy, 88_00, 5);
        let cancelled = market.journal.len() as u64;
        let cancel = Command::Cancel {
            instrument: CEA,
            order_id: OrderId(cancelled),
            requester: Some(Requester {
                broker: B1,
                client_order_id: 3,
            }),
        };
        market.apply(cancel.clone());
        // Cancelling it again: the engine no longer knows it, nor do the
        // reports, which address the answer by the requester.
        market.apply(cancel);
        market.apply(Command::EndOfDay { trading_date: None });
        let (reports, all) = market.reports();
        let got: Vec<ServerMessage> = messages(&all, B1).into_iter().map(|(_, m)| m).collect();
        assert_eq!(
            got[0],
            ServerMessage::OrderRejected {
                client_order_id: 1,
                request: RequestKind::NewOrder,
                reason: 202,
                text: "insufficient cash: 1000000.00 CNY free".into(),
            }
        );
        assert!(matches!(
            got[1],
            ServerMessage::OrderAccepted {
                client_order_id: 2,
                ..
            }
        ));
        assert_eq!(
            got[2],
            ServerMessage::Amended {
                client_order_id: 2,
                order_id: resting,
                price_ticks: 89_00,
                quantity_t: 8,
                priority_kept: true,
            }
        );
        assert!(matches!(
            got[3],
            ServerMessage::OrderAccepted {
                client_order_id: 3,
                ..
            }
        ));
        assert_eq!(
            got[4],
            ServerMessage::Cancelled {
                client_order_id: 3,
                order_id: cancelled,
                cancelled_t: 5,
                cause: 0,
            }
        );
        assert_eq!(
            got[5],
            ServerMessage::OrderRejected {
                client_order_id: 3,
                request: RequestKind::Cancel,
                reason: 302,
                text: "unknown order".into(),
            }
        );
        assert_eq!(
            got[6],
            ServerMessage::Expired {
                client_order_id: 2,
                order_id: resting,
                expired_t: 8,
            }
        );
        assert_eq!(got.len(), 7);
        assert!(messages(&all, B2).is_empty(), "admin events report nothing");
        assert_eq!(reports.last_seq(B1), 7);
        assert_eq!(reports.last_seq(B2), 0);
    }

    #[test]
    fn a_resume_is_served_from_memory_when_it_can_be() {
        let mut market = Market::new();
        for coid in 1..=3 {
            market.submit(11, coid, EngineSide::Buy, 89_00, 1);
        }
        let (reports, all) = market.reports_keeping(2);
        let b1: Vec<ServerFrame> = all
            .iter()
            .filter(|(b, _)| *b == B1)
            .map(|(_, f)| f.clone())
            .collect();
        assert_eq!(b1.iter().map(|f| f.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(reports.resume(B1, 1), Ok(Resume::Recent(b1[1..].to_vec())));
        assert_eq!(reports.resume(B1, 2), Ok(Resume::Recent(b1[2..].to_vec())));
        assert_eq!(reports.resume(B1, 3), Ok(Resume::Recent(Vec::new())));
        assert_eq!(reports.resume(B1, 4), Err(RejectReason::ResumeSeqAhead));
        assert_eq!(reports.resume(B2, 0), Ok(Resume::Recent(Vec::new())));
        assert_eq!(reports.resume(B2, 1), Err(RejectReason::ResumeSeqAhead));
        // Older than memory: from the journal's start (no day has begun).
        assert_eq!(
            reports.resume(B1, 0),
            Ok(Resume::Journal {
                mark: DayMark {
                    from_seq: 1,
                    last_seqs: BTreeMap::new()
                },
                after: 0,
                upto: 3
            })
        );
    }

    /// A market of any age keeps at most 128 day marks: every one of the
    /// last 64 days, the first, and between them, with days of similar
    /// length, gaps no longer than the journal after them.
    #[test]
    fn day_marks_stay_few_and_near_every_report_whatever_the_market_s_age() {
        let mut reports = Reports::new(vec!["CEA2025".into()], 1);
        // Days of 100 to 1,000 entries.
        let mut from_seq = 1;
        for day in 0..5_000_u64 {
            from_seq += 100 + day * 7919 % 901;
            reports.mark_day(from_seq);
            assert!(reports.day_marks.len() <= MARKS_KEPT, "day {day}");
        }
        let starts: Vec<u64> = reports.day_marks.iter().map(|m| m.from_seq).collect();
        assert_eq!(starts.len(), MARKS_KEPT);
        assert_eq!(starts[0], 101, "the first day's start stays");
        let last_days = &starts[MARKS_KEPT - DAY_MARKS..];
        let mut again = from_seq;
        for (i, &start) in last_days.iter().enumerate().rev() {
            assert_eq!(start, again, "the last days each");
            let day = 5_000 - u64::try_from(DAY_MARKS - i).unwrap();
            again -= 100 + day * 7919 % 901;
        }
        // Before the last 64 days (whose gaps are days).
        for pair in starts[..=MARKS_KEPT - DAY_MARKS].windows(2) {
            let (gap, behind) = (pair[1] - pair[0], from_seq - pair[1]);
            assert!(gap <= behind, "{pair:?} with {behind} after");
        }
    }

    #[test]
    fn reports_read_back_from_the_journal_are_the_ones_sent() {
        // Three trading days of orders, fills and expiries for both brokers.
        let mut market = Market::new();
        for day in 0..3 {
            for i in 0..6 {
                let coid = day * 100 + i;
                market.submit(11, coid, EngineSide::Sell, 90_00 + i as i64, 5);
                market.submit(21, coid, EngineSide::Buy, 90_00 + i as i64 / 2, 3);
            }
            market.apply(Command::EndOfDay { trading_date: None });
            market.apply(Command::SetPhase {
                instrument: CEA,
                phase: Phase::Continuous,
            });
        }
        let (reports, all) = market.reports_keeping(4);
        assert_eq!(reports.day_marks.len(), 3);
        for broker in [B1, B2] {
            let sent: Vec<ServerFrame> = all
                .iter()
                .filter(|(b, _)| *b == broker)
                .map(|(_, f)| f.clone())
                .collect();
            let last = reports.last_seq(broker);
            assert!(last > 20, "{last}");
            for after in 0..=last {
                let wanted = &sent[usize::try_from(after).unwrap()..];
                let got = match reports.resume(broker, after).unwrap() {
                    Resume::Recent(frames) => {
                        assert!(after + 4 >= last, "{after} of {last} is not in memory");
                        frames
                    }
                    Resume::Journal { mark, after, upto } => {
                        let mut back = ReadBack::new(&reports, &mark, broker, after, upto);
                        let mut frames = Vec::new();
                        for entry in market
                            .journal
                            .iter()
                            .filter(|e| e.stamp.seq >= mark.from_seq)
                        {
                            if back.done() {
                                break;
                            }
                            back.on_entry(entry.stamp, &entry.command, &entry.events, &mut frames);
                        }
                        assert!(back.done());
                        frames
                    }
                };
                assert_eq!(got, wanted, "{broker:?} after {after}");
            }
        }
    }

    #[test]
    fn replaying_the_journal_gives_the_same_reports() {
        let mut market = Market::new();
        market.submit(11, 7, EngineSide::Sell, 90_00, 30);
        market.submit(21, 7, EngineSide::Buy, 90_00, 10);
        market.apply(Command::EndOfDay { trading_date: None });
        // The next day, client order id 7 names a new order.
        market.apply(Command::SetPhase {
            instrument: CEA,
            phase: Phase::Continuous,
        });
        market.submit(21, 7, EngineSide::Buy, 89_00, 1);
        let (first, all) = market.reports();
        let (second, again) = market.reports();
        assert_eq!(all, again);
        assert_eq!(first.last_seq(B1), second.last_seq(B1));
        assert_eq!(first.last_seq(B2), second.last_seq(B2));
        assert!(matches!(
            all.iter()
                .rev()
                .find(|(b, _)| *b == B2)
                .map(|(_, f)| &f.message),
            Some(ServerMessage::OrderAccepted {
                client_order_id: 7,
                ..
            })
        ));
    }
}
