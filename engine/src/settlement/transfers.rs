//! The `transfers` report: every movement of cash or allowances into or
//! out of an account that is not a trade (a deposit or withdrawal from the
//! settlement bank, a registry transfer in or out, and the opening
//! balances of a market's genesis), with the outside reference id the
//! operator gave it, so that a bank or registry reconciles its own books
//! against the exchange's both ways.

use serde::Serialize;

use super::reports::{Cny, ReportLine};
use super::symbol;
use crate::command::Command;
use crate::engine::Engine;
use crate::event::Event;
use crate::journal::JournalEntry;

/// One movement: a line of `transfers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TransferLine {
    /// Sequence number of the command that moved it.
    pub seq: u64,
    /// Time of that command, in ns since the Unix epoch.
    pub time_ns: i64,
    /// The trading day, `YYYYMMDD`.
    pub trading_day: u32,
    /// The bank's or registry's reference id (`cetx admin`'s `--ref`);
    /// none (empty in CSV, `null` in JSON) for a movement made without one
    /// (a config's genesis).
    pub reference: Option<String>,
    /// The account.
    pub account: u32,
    /// Its broker.
    pub broker: u32,
    /// `CNY`, or the instrument's symbol.
    pub asset: String,
    /// `in` or `out` of the account.
    pub direction: &'static str,
    /// Tonnes, for allowances (0 for cash).
    pub quantity_t: u64,
    /// The amount, for cash (0.00 for allowances).
    pub amount_cny: Cny,
    /// The operator who made it over the operators' channel, as journaled;
    /// empty (`null` in JSON) for a config's genesis.
    pub operator: Option<u32>,
}

impl ReportLine for TransferLine {
    const NAME: &'static str = "transfers";
    const HEADER: &'static [&'static str] = &[
        "seq",
        "time_ns",
        "trading_day",
        "reference",
        "account",
        "broker",
        "asset",
        "direction",
        "quantity_t",
        "amount_cny",
        "operator",
    ];
}

/// The transfer lines of one entry, dated `trading_day`; `engine` (which
/// has replayed the entry) names the brokers and `symbols` the
/// instruments.
pub fn transfer_lines<'a>(
    entry: &'a JournalEntry,
    trading_day: u32,
    engine: &'a Engine,
    symbols: &'a [String],
) -> impl Iterator<Item = TransferLine> + 'a {
    let reference = match &entry.command {
        Command::Transfer(transfer) => Some(transfer.reference.as_str()),
        _ => None,
    };
    entry.events.iter().filter_map(move |event| {
        let (account, asset, direction, quantity_t, amount_fen) = match event {
            Event::CashDeposited(c) => (c.account, "CNY", "in", 0, c.amount_fen),
            Event::CashWithdrawn(c) => (c.account, "CNY", "out", 0, c.amount_fen),
            Event::HoldingsCredited(h) | Event::HoldingsDebited(h) => {
                let symbol = symbol(symbols, h.instrument);
                let direction = if matches!(event, Event::HoldingsCredited(_)) {
                    "in"
                } else {
                    "out"
                };
                (h.account, symbol, direction, h.quantity_t, 0)
            }
            _ => return None,
        };
        Some(TransferLine {
            seq: entry.stamp.seq,
            time_ns: entry.stamp.time_ns,
            trading_day,
            reference: reference.map(str::to_owned),
            account: account.0,
            broker: engine.account(account).map_or(0, |a| a.broker.0),
            asset: asset.to_owned(),
            direction,
            quantity_t,
            amount_cny: Cny(amount_fen.into()),
            operator: entry.operator,
        })
    })
}
