//! The `auctions` report: every one-way auction's close, with what it
//! sold and what it did not, so that a registry sees an auction that sold
//! nothing (it makes no `clearing` row) and checks each auction's
//! allocations against its total.

use serde::Serialize;

use super::reports::{Cny, ReportLine};
use super::symbol;
use crate::command::Command;
use crate::engine::Engine;
use crate::event::Event;
use crate::journal::JournalEntry;

/// One auction's close: a line of `auctions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuctionLine {
    /// Sequence number of the command that closed it.
    pub seq: u64,
    /// Time of that command, in ns since the Unix epoch.
    pub time_ns: i64,
    /// The trading day its allocations belong to, `YYYYMMDD`.
    pub trading_day: u32,
    /// The auction.
    pub auction_id: u64,
    /// The instrument's symbol.
    pub instrument: String,
    /// The selling account.
    pub seller: u32,
    /// Its broker.
    pub broker: u32,
    /// `uniform` or `pay-as-bid`.
    pub pricing: &'static str,
    /// Tonnes offered.
    pub quantity_t: u64,
    /// Tonnes sold.
    pub sold_t: u64,
    /// Tonnes unsold, back with the seller.
    pub unsold_t: u64,
    /// The lowest accepted bid's price (under a uniform price, what every
    /// winner paid); empty (`null` in JSON) when nothing sold.
    pub clearing_cny: Option<Cny>,
    /// What the sold tonnes fetched: the sum of the auction's `clearing`
    /// rows' amounts.
    pub turnover_cny: Cny,
    /// How it ended: `closed` at its window's end, or `withdrawn` by an
    /// operator (which sells nothing).
    pub ended: &'static str,
    /// The operator whose entry ended it, as journaled; `None` (empty,
    /// `null` in JSON) for the server's own close at the window's end.
    pub operator: Option<u32>,
}

impl ReportLine for AuctionLine {
    const NAME: &'static str = "auctions";
    const HEADER: &'static [&'static str] = &[
        "seq",
        "time_ns",
        "trading_day",
        "auction_id",
        "instrument",
        "seller",
        "broker",
        "pricing",
        "quantity_t",
        "sold_t",
        "unsold_t",
        "clearing_cny",
        "turnover_cny",
        "ended",
        "operator",
    ];
}

/// The auction line of one entry, if it closed an auction, dated
/// `trading_day`; `engine` (which has replayed the entry) names the
/// seller's broker and `symbols` the instruments.
pub fn auction_lines<'a>(
    entry: &'a JournalEntry,
    trading_day: u32,
    engine: &'a Engine,
    symbols: &'a [String],
) -> impl Iterator<Item = AuctionLine> + 'a {
    entry.events.iter().filter_map(move |event| {
        let Event::AuctionClosed(closed) = event else {
            return None;
        };
        Some(AuctionLine {
            seq: entry.stamp.seq,
            time_ns: entry.stamp.time_ns,
            trading_day,
            auction_id: closed.auction_id,
            instrument: symbol(symbols, closed.instrument).to_owned(),
            seller: closed.seller.0,
            broker: engine.account(closed.seller).map_or(0, |a| a.broker.0),
            pricing: closed.pricing.name(),
            quantity_t: closed.sold_t + closed.unsold_t,
            sold_t: closed.sold_t,
            unsold_t: closed.unsold_t,
            clearing_cny: (closed.sold_t > 0).then(|| Cny(closed.clearing_ticks.into())),
            turnover_cny: Cny(closed.turnover_fen.into()),
            ended: if matches!(entry.command, Command::WithdrawAuction { .. }) {
                "withdrawn"
            } else {
                "closed"
            },
            operator: entry.operator,
        })
    })
}
