//! Settlement from the journal: what registries need to deliver and pay.
//!
//! A [`Ledger`] reads journal entries in order and keeps, from the events
//! alone (it never runs the engine):
//!
//! - each account's cash and holdings, moved by deposits, withdrawals,
//!   registry transfers and trades, and what it bought and sold;
//! - each trading day's figures per instrument (open, high, low, the VWAP
//!   close, volume, turnover, trade count);
//! - one [`ClearingRow`] per trade, as delivery versus payment: buyer and
//!   seller with their brokers, quantity, price and amount, and whether it
//!   traded on the listing board or as a block ([`TradeMode`]); block
//!   trades count in each day's block figures, never in its listing
//!   figures or its close.
//!
//! [`Ledger::reconcile`] compares the end balances with the engine's state
//! at the same sequence number, and [`Ledger::check_conservation`] checks
//! that cash and allowances only entered or left through deposits,
//! withdrawals and registry transfers. Both fail loudly, naming the first
//! difference.
//!
//! # Layout
//!
//! - this file: the [`Ledger`] and what it keeps ([`ClearingRow`],
//!   [`DayReport`], [`AccountLedger`]), and [`ReconcileError`].
//! - [`dates`]: [`TradingDates`], the calendar date of each of the
//!   engine's numbered trading days, learnt from the journal.
//! - [`reports`]: the report files' lines as `serde` structs, whose fields
//!   are the columns ([`ClearingLine`], [`DayLine`], [`AccountLine`]), and
//!   [`Cny`], money as written.
//! - [`transfers`], [`holders`] and [`auctions`]: the lines of the
//!   transfers, large-holders and auctions reports, each from the events
//!   of one entry.
//! - [`window`]: [`Window`], the entries `--day` and `--from-seq` select,
//!   and each account's balances at its edges and trades within it
//!   ([`AccountWindow`]).
//! - [`writer`]: [`ReportWriter`], which lays lines out as CSV (the `csv`
//!   crate) or JSON (`serde_json`): a whole report, or rows as they come.
//! - [`run`](mod@run): `cetx replay` as a library: [`run()`] reads and
//!   checks a journal, replays it onto an engine and into a ledger,
//!   reconciles the two and writes the reports; its [`ReplayArgs`],
//!   [`ReplaySummary`], [`ReplayFailure`] and [`exit`] codes. The binary
//!   passes in what comes from the server config and the terminal (the
//!   engine config, the calendar, a progress callback, a stop flag).
//!
//! Data flows `JournalReader → JournalEntry → Engine::replay and
//! Ledger::apply → ClearingRow → ClearingLine → ReportWriter → clearing
//! file`, then `Ledger::reconcile`, and `DayReport`/`AccountLedger →
//! DayLine`/`AccountLine → the days and accounts files`.

pub mod auctions;
pub mod dates;
pub mod holders;
pub mod reports;
pub mod run;
pub mod transfers;
pub mod window;
pub mod writer;

use std::collections::BTreeMap;

use crate::account::{BrokerId, IdTable, ParticipantType};
use crate::day_stats::vwap_ticks;
use crate::event::{AuctionAllocation, BlockTraded, Event, Trade};
use crate::instrument::InstrumentId;
use crate::journal::JournalEntry;
use crate::membership::Status;
use crate::order::AccountId;
use crate::risk::value_fen;
use crate::state::{AccountState, EngineState};

pub use auctions::AuctionLine;
pub use dates::{MisdatedEndOfDay, TradingDates};
pub use holders::LargeHolderLine;
pub use reports::{AccountLine, ClearingLine, Cny, DayLine, DayStatus, ReportLine};
pub use run::{exit, run, ReplayArgs, ReplayFailure, ReplaySummary};
pub use transfers::TransferLine;
pub use window::{AccountWindow, Window};
pub use writer::{Format, Layout, ReportWriter};

/// An instrument's symbol as the journal lists it (`?` for one it does
/// not).
pub(crate) fn symbol(symbols: &[String], instrument: InstrumentId) -> &str {
    symbols
        .get(usize::from(instrument.0))
        .map_or("?", String::as_str)
}

/// One trade as a delivery-versus-payment instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClearingRow {
    /// Sequence number of the command that traded.
    pub seq: u64,
    /// Time of that command, in ns since the Unix epoch.
    pub time_ns: i64,
    /// The trading day it belongs to.
    pub trading_day: u32,
    /// The engine's trade id.
    pub trade_id: u64,
    /// The instrument.
    pub instrument: InstrumentId,
    /// Receives the allowances and pays.
    pub buyer: AccountId,
    /// The buyer's broker.
    pub buyer_broker: BrokerId,
    /// Delivers the allowances and is paid.
    pub seller: AccountId,
    /// The seller's broker.
    pub seller_broker: BrokerId,
    /// Tonnes delivered.
    pub quantity_t: u64,
    /// Price in ticks of 0.01 CNY.
    pub price_ticks: i64,
    /// Amount paid, in fen: price × quantity.
    pub amount_fen: i64,
    /// How it traded: on the listing board, as a block, or in an auction.
    pub mode: TradeMode,
    /// The operator whose entry made the trade, as journaled: who
    /// confirmed a block deal that waited for the exchange, or closed an
    /// auction (taken only from its end, when the server closes it itself,
    /// so rarely); `None` for a broker's or the server's entry.
    pub operator: Option<u32>,
}

/// How a trade came about, the `mode` column of the clearing file and of
/// the day report (whose lines come in this order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TradeMode {
    /// Matched on the listing board (`Trade` events).
    Listing,
    /// A block trade (大宗协议, `BlockTraded` events): off the book and not
    /// in the close.
    Block,
    /// A one-way auction's allocation (单向竞价, `AuctionAllocation`
    /// events): not in the close.
    Auction,
}

/// One instrument's trading in one mode on one day: the listing board's
/// (whose close is the instrument's), its block trades', or its auction
/// allocations'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayReport {
    /// The trading day.
    pub trading_day: u32,
    /// The instrument.
    pub instrument: InstrumentId,
    /// Which trades these are.
    pub mode: TradeMode,
    /// First trade price, in ticks (the close, on a listing day without
    /// trades).
    pub open_ticks: i64,
    /// Highest trade price.
    pub high_ticks: i64,
    /// Lowest trade price.
    pub low_ticks: i64,
    /// (Listing only) the engine's VWAP close of the listing trades,
    /// rounded half up to the tick, once the day has ended.
    pub close_ticks: Option<i64>,
    /// Whether the day has ended in the journal: no figure changes again.
    pub closed: bool,
    /// Tonnes traded.
    pub volume_t: u64,
    /// Value traded, in fen: wider than a trade's amount, since a day's may
    /// pass an `i64`.
    pub turnover_fen: i128,
    /// Number of trades.
    pub trade_count: u64,
}

/// One account's balances and trading, as the journal tells them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountLedger {
    /// The account.
    pub account: AccountId,
    /// Its broker.
    pub broker: BrokerId,
    /// Who owns it.
    pub participant: ParticipantType,
    /// Cash held, in fen.
    pub cash_fen: i64,
    /// Holdings per instrument, in tonnes.
    pub holdings_t: Vec<u64>,
    /// Tonnes bought per instrument.
    pub bought_t: Vec<u64>,
    /// Tonnes sold per instrument.
    pub sold_t: Vec<u64>,
    /// Per instrument, cash from selling minus cash paid for buying, in fen.
    pub net_trade_fen: Vec<i64>,
    /// Active, suspended or closed.
    pub status: Status,
}

/// Why a ledger does not reconcile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileError {
    /// An account is in one and not the other.
    #[error("account {0} is in the {1} but not in the {2}")]
    Missing(u32, &'static str, &'static str),
    /// Cash differs.
    #[error("account {account}: the ledger has {ledger} fen, the engine {engine} fen")]
    Cash {
        /// The account.
        account: u32,
        /// The ledger's balance.
        ledger: i64,
        /// The engine's balance.
        engine: i64,
    },
    /// A holding differs.
    #[error("account {account}, instrument {instrument}: the ledger has {ledger} t, the engine {engine} t")]
    Holding {
        /// The account.
        account: u32,
        /// The instrument.
        instrument: u16,
        /// The ledger's holding.
        ledger: u64,
        /// The engine's holding.
        engine: u64,
    },
    /// Cash or allowances appeared or vanished.
    #[error("{what}: accounts hold {held}, but transfers in and out add up to {moved}")]
    NotConserved {
        /// Cash, or which instrument.
        what: String,
        /// What the accounts hold in total.
        held: i128,
        /// Deposits minus withdrawals, or credits minus debits.
        moved: i128,
    },
    /// An event names an account the journal never opened.
    #[error("seq {seq}: event for unknown account {account}")]
    UnknownAccount {
        /// Where.
        seq: u64,
        /// The account.
        account: u32,
    },
}

/// Marks an id with no account in a [`Ledger`]'s index.
const NO_ACCOUNT: u32 = u32::MAX;

/// What one trade moves between two accounts.
struct Deal {
    instrument: InstrumentId,
    price_ticks: i64,
    quantity_t: u64,
    buyer: AccountId,
    seller: AccountId,
}

/// Balances, day figures and clearing rows from a journal.
#[derive(Clone, Debug)]
pub struct Ledger {
    instruments: usize,
    /// In the order opened; `index` finds one by id (its place, or
    /// [`NO_ACCOUNT`]).
    accounts: Vec<AccountLedger>,
    index: IdTable,
    days: BTreeMap<(u32, InstrumentId, TradeMode), DayReport>,
    trading_day: u32,
    last_seq: u64,
    cash_moved_fen: i128,
    holdings_moved_t: Vec<i128>,
}

impl Ledger {
    /// An empty ledger for a market of `instruments` instruments (more
    /// come with each `InstrumentListed` event).
    #[must_use]
    pub fn new(instruments: usize) -> Self {
        Self {
            instruments,
            accounts: Vec::new(),
            index: IdTable::new(NO_ACCOUNT),
            days: BTreeMap::new(),
            trading_day: 0,
            last_seq: 0,
            cash_moved_fen: 0,
            holdings_moved_t: vec![0; instruments],
        }
    }

    /// A ledger that starts from the engine's state after entry `seq` (a
    /// snapshot's), rather than from nothing: each account's cash and
    /// holdings as the state has them, no trading counted, no day's
    /// figures, and the moves of cash and allowances that conservation
    /// checks set to what the accounts hold, so that it checks what comes
    /// after.
    #[must_use]
    pub fn after_snapshot(state: &EngineState, seq: u64) -> Self {
        let instruments = state.instruments.len();
        let mut ledger = Self::new(instruments);
        for AccountState { account, holdings } in &state.accounts {
            *ledger.index.entry(account.id.0) = ledger.accounts.len() as u32;
            let holdings_t: Vec<u64> = holdings.iter().map(|h| h.balance_t).collect();
            ledger.cash_moved_fen += i128::from(account.cash_fen);
            for (moved, &held) in ledger.holdings_moved_t.iter_mut().zip(&holdings_t) {
                *moved += i128::from(held);
            }
            ledger.accounts.push(AccountLedger {
                account: account.id,
                broker: account.broker,
                participant: account.participant,
                cash_fen: account.cash_fen,
                holdings_t,
                bought_t: vec![0; instruments],
                sold_t: vec![0; instruments],
                net_trade_fen: vec![0; instruments],
                status: state.membership.account(account.id),
            });
        }
        ledger.trading_day = state.trading_day;
        ledger.last_seq = seq;
        ledger
    }

    /// Sequence number of the last entry applied.
    #[must_use]
    pub const fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The engine's current trading day, as the events so far tell it.
    #[must_use]
    pub const fn trading_day(&self) -> u32 {
        self.trading_day
    }

    /// Every account, by id.
    pub fn accounts(&self) -> impl Iterator<Item = &AccountLedger> {
        let mut by_id: Vec<&AccountLedger> = self.accounts.iter().collect();
        by_id.sort_by_key(|a| a.account);
        by_id.into_iter()
    }

    fn find(&self, account: AccountId) -> Option<&AccountLedger> {
        let at = self.index.get(account.0);
        (at != NO_ACCOUNT).then(|| &self.accounts[at as usize])
    }

    /// Every day's figures, by day and then instrument.
    pub fn days(&self) -> impl Iterator<Item = &DayReport> {
        self.days.values()
    }

    /// Applies one journal entry, appending a clearing row for each trade.
    ///
    /// # Errors
    /// [`ReconcileError::UnknownAccount`] for an event about an account the
    /// journal never opened.
    pub fn apply(
        &mut self,
        entry: &JournalEntry,
        rows: &mut Vec<ClearingRow>,
    ) -> Result<(), ReconcileError> {
        let seq = entry.stamp.seq;
        self.last_seq = seq;
        for event in &entry.events {
            match event {
                Event::AccountOpened(o) => {
                    *self.index.entry(o.account.0) = self.accounts.len() as u32;
                    self.accounts.push(AccountLedger {
                        account: o.account,
                        broker: o.broker,
                        participant: o.participant,
                        cash_fen: 0,
                        holdings_t: vec![0; self.instruments],
                        bought_t: vec![0; self.instruments],
                        sold_t: vec![0; self.instruments],
                        net_trade_fen: vec![0; self.instruments],
                        status: Status::Active,
                    });
                }
                Event::AccountStatusChanged(c) => {
                    self.account(seq, c.account)?.status = c.status;
                }
                Event::CashDeposited(c) => {
                    self.account(seq, c.account)?.cash_fen = c.cash_fen;
                    self.cash_moved_fen += i128::from(c.amount_fen);
                }
                Event::CashWithdrawn(c) => {
                    self.account(seq, c.account)?.cash_fen = c.cash_fen;
                    self.cash_moved_fen -= i128::from(c.amount_fen);
                }
                Event::HoldingsCredited(h) => {
                    let i = usize::from(h.instrument.0);
                    self.account(seq, h.account)?.holdings_t[i] = h.balance_t;
                    self.holdings_moved_t[i] += i128::from(h.quantity_t);
                }
                Event::HoldingsDebited(h) => {
                    let i = usize::from(h.instrument.0);
                    self.account(seq, h.account)?.holdings_t[i] = h.balance_t;
                    self.holdings_moved_t[i] -= i128::from(h.quantity_t);
                }
                Event::InstrumentListed(_) => {
                    self.instruments += 1;
                    self.holdings_moved_t.push(0);
                    for account in &mut self.accounts {
                        account.holdings_t.push(0);
                        account.bought_t.push(0);
                        account.sold_t.push(0);
                        account.net_trade_fen.push(0);
                    }
                }
                Event::Trade(t) => rows.push(self.trade(seq, t)?),
                Event::BlockTraded(t) => rows.push(ClearingRow {
                    operator: entry.operator,
                    ..self.block_trade(seq, t)?
                }),
                Event::AuctionAllocation(a) => rows.push(ClearingRow {
                    operator: entry.operator,
                    ..self.allocation(seq, a)?
                }),
                Event::DayClosed(d) => {
                    let listing = self.day(
                        d.trading_day,
                        d.instrument,
                        TradeMode::Listing,
                        d.close_ticks,
                    );
                    listing.close_ticks = Some(d.close_ticks);
                    // The engine's figures: on a day without listing
                    // trades, each is the close.
                    (listing.open_ticks, listing.high_ticks, listing.low_ticks) =
                        (d.open_ticks, d.high_ticks, d.low_ticks);
                    let lines = (d.trading_day, d.instrument, TradeMode::Listing)
                        ..=(d.trading_day, d.instrument, TradeMode::Auction);
                    for day in self.days.range_mut(lines).map(|(_, day)| day) {
                        day.closed = true;
                    }
                }
                Event::DayStarted(d) => self.trading_day = d.trading_day,
                _ => {}
            }
        }
        Ok(())
    }

    fn account(
        &mut self,
        seq: u64,
        account: AccountId,
    ) -> Result<&mut AccountLedger, ReconcileError> {
        let at = self.index.get(account.0);
        if at == NO_ACCOUNT {
            return Err(ReconcileError::UnknownAccount {
                seq,
                account: account.0,
            });
        }
        Ok(&mut self.accounts[at as usize])
    }

    /// A day's report of an instrument's trades in `mode`, opened at
    /// `price` if it is new.
    fn day(
        &mut self,
        trading_day: u32,
        instrument: InstrumentId,
        mode: TradeMode,
        price: i64,
    ) -> &mut DayReport {
        self.days
            .entry((trading_day, instrument, mode))
            .or_insert(DayReport {
                trading_day,
                instrument,
                mode,
                open_ticks: price,
                high_ticks: price,
                low_ticks: price,
                close_ticks: None,
                closed: false,
                volume_t: 0,
                turnover_fen: 0,
                trade_count: 0,
            })
    }

    /// Delivers a trade of any mode and counts it in its day's line of that
    /// mode.
    fn settle(
        &mut self,
        seq: u64,
        (trade_id, time_ns): (u64, i64),
        deal: &Deal,
        mode: TradeMode,
    ) -> Result<ClearingRow, ReconcileError> {
        let row = self.deliver(seq, trade_id, time_ns, deal, mode)?;
        let day = self.day(row.trading_day, deal.instrument, mode, deal.price_ticks);
        day.high_ticks = day.high_ticks.max(deal.price_ticks);
        day.low_ticks = day.low_ticks.min(deal.price_ticks);
        day.volume_t += deal.quantity_t;
        day.turnover_fen += i128::from(row.amount_fen);
        day.trade_count += 1;
        Ok(row)
    }

    fn trade(&mut self, seq: u64, t: &Trade) -> Result<ClearingRow, ReconcileError> {
        let (_, buyer) = t.buyer();
        let (_, seller) = t.seller();
        let deal = Deal {
            instrument: t.instrument,
            price_ticks: t.price_ticks,
            quantity_t: t.quantity_t,
            buyer,
            seller,
        };
        self.settle(seq, (t.trade_id, t.time_ns), &deal, TradeMode::Listing)
    }

    fn block_trade(&mut self, seq: u64, t: &BlockTraded) -> Result<ClearingRow, ReconcileError> {
        let deal = Deal {
            instrument: t.instrument,
            price_ticks: t.price_ticks,
            quantity_t: t.quantity_t,
            buyer: t.buyer_account,
            seller: t.seller_account,
        };
        self.settle(seq, (t.trade_id, t.time_ns), &deal, TradeMode::Block)
    }

    /// An auction's allocation: delivered like a trade, counted on the
    /// day's auction line.
    fn allocation(
        &mut self,
        seq: u64,
        a: &AuctionAllocation,
    ) -> Result<ClearingRow, ReconcileError> {
        let deal = Deal {
            instrument: a.instrument,
            price_ticks: a.price_ticks,
            quantity_t: a.quantity_t,
            buyer: a.buyer,
            seller: a.seller,
        };
        self.settle(seq, (a.trade_id, a.time_ns), &deal, TradeMode::Auction)
    }

    /// Moves cash and allowances between the two accounts of a trade and
    /// makes its clearing row.
    fn deliver(
        &mut self,
        seq: u64,
        trade_id: u64,
        time_ns: i64,
        t: &Deal,
        mode: TradeMode,
    ) -> Result<ClearingRow, ReconcileError> {
        let i = usize::from(t.instrument.0);
        let amount_fen = value_fen(t.price_ticks, t.quantity_t);
        let buyer_broker = {
            let b = self.account(seq, t.buyer)?;
            b.cash_fen -= amount_fen;
            b.holdings_t[i] += t.quantity_t;
            b.bought_t[i] += t.quantity_t;
            b.net_trade_fen[i] -= amount_fen;
            b.broker
        };
        let seller_broker = {
            let s = self.account(seq, t.seller)?;
            s.cash_fen += amount_fen;
            s.holdings_t[i] -= t.quantity_t;
            s.sold_t[i] += t.quantity_t;
            s.net_trade_fen[i] += amount_fen;
            s.broker
        };
        Ok(ClearingRow {
            seq,
            time_ns,
            trading_day: self.trading_day,
            trade_id,
            instrument: t.instrument,
            buyer: t.buyer,
            buyer_broker,
            seller: t.seller,
            seller_broker,
            quantity_t: t.quantity_t,
            price_ticks: t.price_ticks,
            amount_fen,
            mode,
            operator: None,
        })
    }

    /// The VWAP of a day's trades so far, rounded half up to `step_ticks`;
    /// `None` before its first trade.
    #[must_use]
    pub fn vwap(report: &DayReport, step_ticks: i64) -> Option<i64> {
        (report.volume_t > 0).then(|| vwap_ticks(report.turnover_fen, report.volume_t, step_ticks))
    }

    /// Checks that every account's cash and holdings equal the engine's
    /// state at the same sequence number.
    ///
    /// # Errors
    /// The first difference.
    pub fn reconcile(&self, state: &EngineState) -> Result<(), ReconcileError> {
        for AccountState { account, holdings } in &state.accounts {
            let ledger = self.find(account.id).ok_or(ReconcileError::Missing(
                account.id.0,
                "engine",
                "ledger",
            ))?;
            if ledger.cash_fen != account.cash_fen {
                return Err(ReconcileError::Cash {
                    account: account.id.0,
                    ledger: ledger.cash_fen,
                    engine: account.cash_fen,
                });
            }
            for (i, holding) in holdings.iter().enumerate() {
                if ledger.holdings_t[i] != holding.balance_t {
                    return Err(ReconcileError::Holding {
                        account: account.id.0,
                        instrument: i as u16,
                        ledger: ledger.holdings_t[i],
                        engine: holding.balance_t,
                    });
                }
            }
        }
        if self.accounts.len() != state.accounts.len() {
            // Every engine account is in the ledger (checked above), so the
            // ledger has one the engine does not.
            let extra = self
                .accounts
                .iter()
                .find(|l| !state.accounts.iter().any(|a| a.account.id == l.account))
                .map_or(0, |l| l.account.0);
            return Err(ReconcileError::Missing(extra, "ledger", "engine"));
        }
        Ok(())
    }

    /// Checks that total cash equals deposits minus withdrawals, and each
    /// instrument's total holdings equal credits minus debits: trades only
    /// move value between accounts.
    ///
    /// # Errors
    /// [`ReconcileError::NotConserved`] naming what does not add up.
    pub fn check_conservation(&self) -> Result<(), ReconcileError> {
        let held: i128 = self.accounts.iter().map(|a| i128::from(a.cash_fen)).sum();
        if held != self.cash_moved_fen {
            return Err(ReconcileError::NotConserved {
                what: "cash (fen)".into(),
                held,
                moved: self.cash_moved_fen,
            });
        }
        for (i, &moved) in self.holdings_moved_t.iter().enumerate() {
            let held: i128 = self
                .accounts
                .iter()
                .map(|a| i128::from(a.holdings_t[i]))
                .sum();
            if held != moved {
                return Err(ReconcileError::NotConserved {
                    what: format!("instrument {i} (t)"),
                    held,
                    moved,
                });
            }
        }
        Ok(())
    }
}
