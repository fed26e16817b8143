//! The `large_holders` report: every time an account's holding of an
//! instrument reached the large-holder threshold (the instrument's
//! `large_holder_bps` of its position limit), by a trade, a block deal,
//! an auction's allocation or a registry transfer in, so that the
//! exchange can report the holder and the registry can check it
//! (CEA_RULES.md, §8.13).

use serde::Serialize;

use super::reports::ReportLine;
use super::symbol;
use crate::engine::Engine;
use crate::event::Event;
use crate::journal::JournalEntry;

/// One crossing of the threshold: a line of `large_holders`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LargeHolderLine {
    /// Sequence number of the command whose trade or transfer crossed it.
    pub seq: u64,
    /// Time of that command, in ns since the Unix epoch.
    pub time_ns: i64,
    /// The trading day, `YYYYMMDD`.
    pub trading_day: u32,
    /// The account.
    pub account: u32,
    /// Its broker.
    pub broker: u32,
    /// The instrument's symbol.
    pub instrument: String,
    /// The holding right after it, in tonnes.
    pub balance_t: u64,
    /// The threshold it reached, in tonnes.
    pub threshold_t: u64,
}

impl ReportLine for LargeHolderLine {
    const NAME: &'static str = "large_holders";
    const HEADER: &'static [&'static str] = &[
        "seq",
        "time_ns",
        "trading_day",
        "account",
        "broker",
        "instrument",
        "balance_t",
        "threshold_t",
    ];
}

/// The large-holder lines of one entry, dated `trading_day`; `engine`
/// (which has replayed the entry) names the brokers and `symbols` the
/// instruments.
pub fn large_holder_lines<'a>(
    entry: &'a JournalEntry,
    trading_day: u32,
    engine: &'a Engine,
    symbols: &'a [String],
) -> impl Iterator<Item = LargeHolderLine> + 'a {
    entry.events.iter().filter_map(move |event| {
        let Event::LargeHolder(large) = event else {
            return None;
        };
        Some(LargeHolderLine {
            seq: entry.stamp.seq,
            time_ns: entry.stamp.time_ns,
            trading_day,
            account: large.account.0,
            broker: engine.account(large.account).map_or(0, |a| a.broker.0),
            instrument: symbol(symbols, large.instrument).to_owned(),
            balance_t: large.balance_t,
            threshold_t: large.threshold_t,
        })
    })
}
