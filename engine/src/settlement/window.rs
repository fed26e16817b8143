//! What `--day` and `--from-seq` select, in every report.
//!
//! A [`Window`] is the run of journal entries the two select: those from
//! `--from-seq` on that the engine applied during the trading day `--day`
//! (an entry belongs to the day that was open when it was applied, so a
//! day's end of day belongs to it). Sequence numbers and trading days only
//! grow, so the entries selected are one unbroken run. As the replay
//! passes it, the window notes:
//!
//! - the engine's trading days it covers: the `days` report's lines;
//! - every account's cash and holdings as it opens and as it closes;
//! - what each account bought and sold in it, from the very clearing rows
//!   it selects, so that the `accounts` report agrees with `clearing`.
//!
//! Without `--day` or `--from-seq` the window is the whole journal. It
//! keeps two copies of the accounts' balances, bounded by the number of
//! accounts, never by the journal's length.

use rustc_hash::FxHashMap;

use super::{AccountLedger, ClearingRow, Ledger};
use crate::account::BrokerId;
use crate::membership::Status;
use crate::order::AccountId;

/// The entries `--day` and `--from-seq` select, and the accounts over them.
#[derive(Clone, Debug)]
pub struct Window {
    from_seq: u64,
    day: Option<u32>,
    /// The engine's numbers of the first and last trading days selected.
    days: Option<(u32, u32)>,
    /// Every account's balances before the first entry selected.
    opening: Option<Vec<AccountLedger>>,
    /// Every account's balances after the last entry selected (so far,
    /// while `open`).
    closing: Option<Vec<AccountLedger>>,
    /// Whether the last entry seen was selected: later entries may still
    /// be (a followed journal goes on).
    open: bool,
    /// What each account traded in the window. Only looked up, never
    /// iterated (the report goes by the closing balances' order), so a
    /// hash map decides no output order.
    traded: FxHashMap<AccountId, Traded>,
}

/// One account's trades in a window, per instrument.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Traded {
    bought_t: Vec<u64>,
    sold_t: Vec<u64>,
    net_trade_fen: Vec<i64>,
}

/// One account over a window: its balances at either edge, and what it
/// traded in between.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountWindow {
    /// The account.
    pub account: AccountId,
    /// Its broker.
    pub broker: BrokerId,
    /// Cash before the window's first entry, in fen (0 if the account was
    /// opened in the window).
    pub open_cash_fen: i64,
    /// Cash after the window's last entry, in fen.
    pub close_cash_fen: i64,
    /// Holdings per instrument before the window, in tonnes.
    pub open_holdings_t: Vec<u64>,
    /// Holdings per instrument after the window, in tonnes.
    pub close_holdings_t: Vec<u64>,
    /// Tonnes bought per instrument in the window.
    pub bought_t: Vec<u64>,
    /// Tonnes sold per instrument in the window.
    pub sold_t: Vec<u64>,
    /// Per instrument, cash from selling minus cash paid for buying in the
    /// window, in fen.
    pub net_trade_fen: Vec<i64>,
    /// Its standing after the window's last entry.
    pub close_status: Status,
}

impl Traded {
    /// Nothing traded yet, in any of `instruments` instruments.
    fn none(instruments: usize) -> Self {
        Self {
            bought_t: vec![0; instruments],
            sold_t: vec![0; instruments],
            net_trade_fen: vec![0; instruments],
        }
    }

    /// Makes room for `instruments` instruments: a journal lists them as
    /// it goes.
    fn widen(&mut self, instruments: usize) {
        if self.bought_t.len() < instruments {
            self.bought_t.resize(instruments, 0);
            self.sold_t.resize(instruments, 0);
            self.net_trade_fen.resize(instruments, 0);
        }
    }
}

impl Window {
    /// The window of entries from `from_seq` on, during the trading day
    /// dated `day` (`YYYYMMDD`) if given.
    #[must_use]
    pub fn new(from_seq: u64, day: Option<u32>) -> Self {
        Self {
            from_seq,
            day,
            days: None,
            opening: None,
            closing: None,
            open: false,
            traded: FxHashMap::default(),
        }
    }

    /// Takes note of the entry `seq`, about to be applied to `ledger`
    /// during the ledger's current trading day, dated `date`. Returns
    /// whether the window selects it.
    pub fn enter(&mut self, seq: u64, date: u32, ledger: &Ledger) -> bool {
        let selected = seq >= self.from_seq && self.day.is_none_or(|day| day == date);
        if selected {
            if self.opening.is_none() {
                self.opening = Some(ledger.accounts().cloned().collect());
            }
            let day = ledger.trading_day();
            self.days = Some(self.days.map_or((day, day), |(first, _)| (first, day)));
        } else {
            // The first entry past the window: it closes before it.
            self.finish(ledger);
        }
        self.open = selected;
        selected
    }

    /// Takes the closing balances, if the window is still open, at
    /// `ledger`'s: at the end of what was read, or at an end of day while
    /// following. A window already passed keeps the balances it closed at.
    pub fn finish(&mut self, ledger: &Ledger) {
        if self.open {
            self.closing = Some(ledger.accounts().cloned().collect());
        }
    }

    /// Takes note of a clearing row the window selects.
    pub fn trade(&mut self, row: &ClearingRow) {
        let i = usize::from(row.instrument.0);
        let buyer = self.traded(row.buyer, i + 1);
        buyer.bought_t[i] += row.quantity_t;
        buyer.net_trade_fen[i] -= row.amount_fen;
        let seller = self.traded(row.seller, i + 1);
        seller.sold_t[i] += row.quantity_t;
        seller.net_trade_fen[i] += row.amount_fen;
    }

    /// What `account` has traded in the window so far, with room for
    /// `instruments` instruments.
    fn traded(&mut self, account: AccountId, instruments: usize) -> &mut Traded {
        let traded = self
            .traded
            .entry(account)
            .or_insert_with(|| Traded::none(instruments));
        traded.widen(instruments);
        traded
    }

    /// Whether the window covers the engine's trading day `trading_day`.
    #[must_use]
    pub fn covers(&self, trading_day: u32) -> bool {
        self.days
            .is_some_and(|(first, last)| (first..=last).contains(&trading_day))
    }

    /// Every account that exists at the window's close, by id, over the
    /// window; none if the window selected no entry or is still open.
    #[must_use]
    pub fn accounts(&self) -> Vec<AccountWindow> {
        let (Some(opening), Some(closing)) = (&self.opening, &self.closing) else {
            return Vec::new();
        };
        closing
            .iter()
            .map(|close| {
                let instruments = close.holdings_t.len();
                let open = opening
                    .binary_search_by_key(&close.account, |a| a.account)
                    .ok()
                    .map(|at| &opening[at]);
                let mut traded = self
                    .traded
                    .get(&close.account)
                    .cloned()
                    .unwrap_or_else(|| Traded::none(instruments));
                traded.widen(instruments);
                let mut open_holdings_t = open.map_or_else(Vec::new, |a| a.holdings_t.clone());
                open_holdings_t.resize(instruments, 0);
                AccountWindow {
                    account: close.account,
                    broker: close.broker,
                    open_cash_fen: open.map_or(0, |a| a.cash_fen),
                    close_cash_fen: close.cash_fen,
                    open_holdings_t,
                    close_holdings_t: close.holdings_t.clone(),
                    bought_t: traded.bought_t,
                    sold_t: traded.sold_t,
                    net_trade_fen: traded.net_trade_fen,
                    close_status: close.status,
                }
            })
            .collect()
    }
}
