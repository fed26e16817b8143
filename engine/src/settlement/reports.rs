//! The lines of `cetx replay`'s report files, as `serde` structs.
//!
//! Three reports, one line type each, whose fields are the columns in
//! order:
//!
//! - [`ClearingLine`]: one trade, delivery versus payment (`clearing`);
//! - [`DayLine`]: one instrument's trading day (`days`);
//! - [`AccountLine`]: one account's balances and trading in one instrument
//!   over the entries selected (`accounts`).
//!
//! Amounts and prices are CNY with exactly two decimals ([`Cny`]), written
//! from fen without going through a decimal or a float; in JSON they are
//! strings, since JSON numbers are floats to most readers and amounts must
//! not be. Dates are `YYYYMMDD` numbers; instruments are their symbols.
//! How the lines are laid out in a file or a stream is
//! [`super::writer`]'s business.

use std::fmt;

use crate::membership::Status;
use serde::{Serialize, Serializer};

use super::{AccountWindow, ClearingRow, DayReport, TradeMode};

/// An amount in fen, or a price in ticks of 0.01 CNY, written as CNY with
/// exactly two decimals (`-90500.00`). Wide enough for a day's turnover,
/// which may pass an `i64` though each trade's amount does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cny(pub i128);

/// Room for the longest amount, `i128::MIN` fen: "-", 37 digits of yuan, a
/// point and two decimals.
const CNY_TEXT_BYTES: usize = 41;

impl Cny {
    /// The amount as text, written from its last digit back into `buf`:
    /// no formatter machinery, no allocation (a replay writes millions of
    /// amounts), and 64-bit arithmetic for every amount that fits one.
    fn text(self, buf: &mut [u8; CNY_TEXT_BYTES]) -> &str {
        let fen = self.0.unsigned_abs();
        let mut at = match u64::try_from(fen) {
            Ok(fen) => write_fen(fen, buf),
            Err(_) => write_fen(fen, buf),
        };
        if self.0 < 0 {
            at -= 1;
            buf[at] = b'-';
        }
        std::str::from_utf8(&buf[at..]).expect("digits, a point and a sign are ASCII")
    }
}

/// Writes `fen` as yuan with two decimals at the end of `buf`; where it
/// begins.
fn write_fen<T>(mut fen: T, buf: &mut [u8]) -> usize
where
    T: Copy + PartialEq + From<u8> + std::ops::Rem<Output = T> + std::ops::Div<Output = T>,
    u8: TryFrom<T>,
{
    let (zero, ten) = (T::from(0), T::from(10));
    let mut at = buf.len();
    // Two decimals, the point (at the third place from the end), then the
    // yuan, at least one digit.
    loop {
        at -= 1;
        if at + 3 == buf.len() {
            buf[at] = b'.';
            continue;
        }
        buf[at] = b'0' + u8::try_from(fen % ten).unwrap_or(0);
        fen = fen / ten;
        if fen == zero && at + 4 <= buf.len() {
            return at;
        }
    }
}

impl fmt::Display for Cny {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.text(&mut [0; CNY_TEXT_BYTES]))
    }
}

impl Serialize for Cny {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.text(&mut [0; CNY_TEXT_BYTES]))
    }
}

/// A line of a report: its columns are its fields, in order.
pub trait ReportLine: Serialize {
    /// The report's name: its file is `{NAME}.csv` or `{NAME}.json`.
    const NAME: &'static str;
    /// The column names, the CSV header: the fields' names, in order.
    const HEADER: &'static [&'static str];
}

/// One trade as delivery versus payment: a line of `clearing`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClearingLine {
    /// Sequence number of the command that traded.
    pub seq: u64,
    /// Time of that command, in ns since the Unix epoch.
    pub time_ns: i64,
    /// The trading day, `YYYYMMDD`.
    pub trading_day: u32,
    /// The engine's trade id.
    pub trade_id: u64,
    /// The instrument's symbol (owned: a journal may list instruments as
    /// it goes, so the symbols grow while rows are written).
    pub instrument: String,
    /// Receives the allowances and pays.
    pub buyer_account: u32,
    /// The buyer's broker.
    pub buyer_broker: u32,
    /// Delivers the allowances and is paid.
    pub seller_account: u32,
    /// The seller's broker.
    pub seller_broker: u32,
    /// Tonnes delivered.
    pub quantity_t: u64,
    /// The price.
    pub price_cny: Cny,
    /// The amount paid: price × quantity.
    pub amount_cny: Cny,
    /// `listing` (matched on the listing board), `block` (a block trade)
    /// or `auction` (a one-way auction's allocation).
    pub mode: TradeMode,
    /// The operator whose entry made the trade (a block deal's
    /// confirmation, an auction closed by hand); empty (`null` in JSON)
    /// for a broker's or the calendar's.
    pub operator: Option<u32>,
}

impl ReportLine for ClearingLine {
    const NAME: &'static str = "clearing";
    const HEADER: &'static [&'static str] = &[
        "seq",
        "time_ns",
        "trading_day",
        "trade_id",
        "instrument",
        "buyer_account",
        "buyer_broker",
        "seller_account",
        "seller_broker",
        "quantity_t",
        "price_cny",
        "amount_cny",
        "mode",
        "operator",
    ];
}

impl ClearingLine {
    /// The line of a ledger's clearing row, on the date `trading_day`
    /// (`YYYYMMDD`), for the instrument named `instrument`.
    #[must_use]
    pub fn new(row: &ClearingRow, trading_day: u32, instrument: &str) -> Self {
        Self {
            seq: row.seq,
            time_ns: row.time_ns,
            trading_day,
            trade_id: row.trade_id,
            instrument: instrument.to_owned(),
            buyer_account: row.buyer.0,
            buyer_broker: row.buyer_broker.0,
            seller_account: row.seller.0,
            seller_broker: row.seller_broker.0,
            quantity_t: row.quantity_t,
            price_cny: Cny(row.price_ticks.into()),
            amount_cny: Cny(row.amount_fen.into()),
            mode: row.mode,
            operator: row.operator,
        }
    }
}

/// One instrument's trading in one mode on one day: a line of `days`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DayLine<'a> {
    /// The trading day, `YYYYMMDD`.
    pub trading_day: u32,
    /// The instrument's symbol.
    pub instrument: &'a str,
    /// `listing`, `block` or `auction`: which trades the line counts.
    pub mode: TradeMode,
    /// First trade price (the close, on a listing day without trades).
    pub open_cny: Cny,
    /// Highest trade price.
    pub high_cny: Cny,
    /// Lowest trade price.
    pub low_cny: Cny,
    /// (Listing lines only; none on the others: empty in CSV, `null` in
    /// JSON) the engine's close once the day has ended; until then the
    /// VWAP so far, rounded to the instrument's tick.
    pub close_cny: Option<Cny>,
    /// Tonnes traded.
    pub volume_t: u64,
    /// Value traded.
    pub turnover_cny: Cny,
    /// Number of trades.
    pub trade_count: u64,
    /// Whether the figures are the day's last word.
    pub status: DayStatus,
}

/// Whether a line of `days` can still change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DayStatus {
    /// The day's end of day is in the journal: the close is the engine's
    /// and no figure changes again.
    Final,
    /// The day has not ended in the journal: the close is the VWAP so far,
    /// and every figure may still change.
    Provisional,
}

impl ReportLine for DayLine<'_> {
    const NAME: &'static str = "days";
    const HEADER: &'static [&'static str] = &[
        "trading_day",
        "instrument",
        "mode",
        "open_cny",
        "high_cny",
        "low_cny",
        "close_cny",
        "volume_t",
        "turnover_cny",
        "trade_count",
        "status",
    ];
}

impl<'a> DayLine<'a> {
    /// The line of a ledger's day report, on the date `trading_day`
    /// (`YYYYMMDD`), for the instrument named `instrument`, whose price
    /// step is `step_ticks` (its tick, in ticks of 0.01 CNY).
    ///
    /// Before the day has ended a listing line's close is the VWAP so far, rounded half
    /// up to the instrument's step as the engine rounds its own close, so
    /// it is always a price the instrument could trade at.
    ///
    /// # Panics
    /// If `step_ticks` is not positive.
    #[must_use]
    pub fn new(day: &DayReport, trading_day: u32, instrument: &'a str, step_ticks: i64) -> Self {
        let close_ticks = match (day.mode, day.close_ticks) {
            (TradeMode::Listing, Some(close)) => Some(close),
            (TradeMode::Listing, None) => super::Ledger::vwap(day, step_ticks),
            (TradeMode::Block | TradeMode::Auction, _) => None,
        };
        Self {
            trading_day,
            instrument,
            mode: day.mode,
            open_cny: Cny(day.open_ticks.into()),
            high_cny: Cny(day.high_ticks.into()),
            low_cny: Cny(day.low_ticks.into()),
            close_cny: close_ticks.map(|ticks| Cny(ticks.into())),
            volume_t: day.volume_t,
            turnover_cny: Cny(day.turnover_fen),
            trade_count: day.trade_count,
            status: if day.closed {
                DayStatus::Final
            } else {
                DayStatus::Provisional
            },
        }
    }
}

/// One account's trading in one instrument over the entries selected
/// (`--day`, `--from-seq`; the whole journal without them): a line of
/// `accounts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountLine<'a> {
    /// The account.
    pub account: u32,
    /// Its broker.
    pub broker: u32,
    /// The instrument's symbol.
    pub instrument: &'a str,
    /// Tonnes bought.
    pub bought_t: u64,
    /// Tonnes sold.
    pub sold_t: u64,
    /// Cash from selling minus cash paid for buying.
    pub net_trade_cny: Cny,
    /// The holding before the first entry selected.
    pub open_holding_t: u64,
    /// The holding after the last entry selected.
    pub close_holding_t: u64,
    /// The account's cash before the first entry selected (the same on
    /// each of its lines).
    pub open_cash_cny: Cny,
    /// The account's cash after the last entry selected (the same on each
    /// of its lines).
    pub close_cash_cny: Cny,
    /// Its standing after the last entry selected: `active`, `suspended`
    /// or `closed`.
    pub status: &'static str,
}

impl ReportLine for AccountLine<'_> {
    const NAME: &'static str = "accounts";
    const HEADER: &'static [&'static str] = &[
        "account",
        "broker",
        "instrument",
        "bought_t",
        "sold_t",
        "net_trade_cny",
        "open_holding_t",
        "close_holding_t",
        "open_cash_cny",
        "close_cash_cny",
        "status",
    ];
}

impl<'a> AccountLine<'a> {
    /// The line of an account's trading over a window in the instrument at
    /// index `instrument` (its id), named `symbol`.
    ///
    /// # Panics
    /// If the window keeps fewer instruments than `instrument + 1`.
    #[must_use]
    pub fn new(account: &AccountWindow, instrument: usize, symbol: &'a str) -> Self {
        Self {
            account: account.account.0,
            broker: account.broker.0,
            instrument: symbol,
            bought_t: account.bought_t[instrument],
            sold_t: account.sold_t[instrument],
            net_trade_cny: Cny(account.net_trade_fen[instrument].into()),
            open_holding_t: account.open_holdings_t[instrument],
            close_holding_t: account.close_holdings_t[instrument],
            open_cash_cny: Cny(account.open_cash_fen.into()),
            close_cash_cny: Cny(account.close_cash_fen.into()),
            status: match account.close_status {
                Status::Active => "active",
                Status::Suspended => "suspended",
                Status::Closed => "closed",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cny_has_exactly_two_decimals_and_its_sign() {
        for (fen, text) in [
            (0, "0.00"),
            (5, "0.05"),
            (-5, "-0.05"),
            (90_50, "90.50"),
            (-90_500_00, "-90500.00"),
            (i64::MIN.into(), "-92233720368547758.08"),
            (i64::MAX.into(), "92233720368547758.07"),
            // A day's turnover past an i64.
            (18_000_000_000_000_000_000, "180000000000000000.00"),
            (i128::MIN, "-1701411834604692317316873037158841057.28"),
            (i128::MAX, "1701411834604692317316873037158841057.27"),
        ] {
            assert_eq!(Cny(fen).to_string(), text);
            let json = serde_json::to_string(&Cny(fen)).expect("serializes");
            assert_eq!(json, format!("\"{text}\""), "serialized as a string");
        }
    }
}
