//! One instrument's trading day in figures: open, high, low, volume,
//! turnover and trade count as trades happen, and the close (the VWAP)
//! when the day ends. The engine keeps one per instrument; the end of the
//! day (`end_of_day.rs`) turns it into a `DayClosed` event.

use crate::event::{DayClosed, Trade};
use crate::instrument::InstrumentId;
use crate::risk::value_fen;

/// One instrument's trading so far today.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayStats {
    /// Price of the first trade, in ticks (0 before any trade).
    pub open_ticks: i64,
    /// Highest trade price, in ticks.
    pub high_ticks: i64,
    /// Lowest trade price, in ticks.
    pub low_ticks: i64,
    /// Tonnes traded.
    pub volume_t: u64,
    /// Value traded, in fen.
    pub turnover_fen: i128,
    /// Number of trades.
    pub trade_count: u64,
    /// Price of the last trade, in ticks (0 before any trade, and in a
    /// day restored from a snapshot of version 6 or older, which did not
    /// keep it).
    pub last_ticks: i64,
}

impl DayStats {
    /// Counts one trade.
    pub fn record(&mut self, trade: &Trade) {
        self.add(trade.price_ticks, trade.quantity_t);
    }

    /// Counts one trade of `quantity_t` at `price`, in ticks.
    #[inline]
    pub(crate) fn add(&mut self, price: i64, quantity_t: u64) {
        self.add_run(&Run {
            first_ticks: price,
            last_ticks: price,
            quantity_t,
            paid_fen: value_fen(price, quantity_t),
            trades: 1,
        });
    }

    /// Counts the trades of one match, whose prices run from
    /// `run.first_ticks` to `run.last_ticks` one way, so that these two are
    /// its highest and lowest.
    #[inline]
    pub(crate) fn add_run(&mut self, run: &Run) {
        if self.trade_count == 0 {
            (self.open_ticks, self.high_ticks, self.low_ticks) =
                (run.first_ticks, run.first_ticks, run.first_ticks);
        }
        let (low, high) = if run.first_ticks <= run.last_ticks {
            (run.first_ticks, run.last_ticks)
        } else {
            (run.last_ticks, run.first_ticks)
        };
        self.high_ticks = self.high_ticks.max(high);
        self.low_ticks = self.low_ticks.min(low);
        self.volume_t += run.quantity_t;
        self.turnover_fen += i128::from(run.paid_fen);
        self.trade_count += run.trades;
        self.last_ticks = run.last_ticks;
    }

    /// The day's figures; the close is the VWAP, or the reference price
    /// when nothing traded.
    pub(crate) fn close(
        &self,
        trading_day: u32,
        instrument: InstrumentId,
        reference_ticks: i64,
        step_ticks: i64,
    ) -> DayClosed {
        if self.trade_count == 0 {
            return DayClosed {
                trading_day,
                instrument,
                open_ticks: reference_ticks,
                high_ticks: reference_ticks,
                low_ticks: reference_ticks,
                close_ticks: reference_ticks,
                volume_t: 0,
                turnover_fen: 0,
                trade_count: 0,
            };
        }
        DayClosed {
            trading_day,
            instrument,
            open_ticks: self.open_ticks,
            high_ticks: self.high_ticks,
            low_ticks: self.low_ticks,
            close_ticks: vwap_ticks(self.turnover_fen, self.volume_t, step_ticks),
            volume_t: self.volume_t,
            turnover_fen: i64::try_from(self.turnover_fen).unwrap_or(i64::MAX),
            trade_count: self.trade_count,
        }
    }
}

/// Volume-weighted average price in ticks, rounded half up to a multiple
/// of `step_ticks`: `round(turnover / (volume × step)) × step`.
///
/// # Panics
/// If `volume_t` or `step_ticks` is zero, or the turnover is negative.
#[must_use]
pub fn vwap_ticks(turnover_fen: i128, volume_t: u64, step_ticks: i64) -> i64 {
    assert!(volume_t > 0 && step_ticks > 0 && turnover_fen >= 0);
    let divisor = i128::from(volume_t) * i128::from(step_ticks);
    let steps = (2 * turnover_fen + divisor) / (2 * divisor);
    i64::try_from(steps).expect("a VWAP lies between traded prices") * step_ticks
}

/// A taker's trades in one match, added up as they happen.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Run {
    /// The first trade's price and the last's, in ticks.
    pub(crate) first_ticks: i64,
    pub(crate) last_ticks: i64,
    pub(crate) quantity_t: u64,
    /// What the trades were worth, in fen.
    pub(crate) paid_fen: i64,
    pub(crate) trades: u64,
}

impl Run {
    /// Adds a trade of `quantity_t` at `price_ticks`, worth `paid_fen`.
    #[inline(always)]
    pub(crate) fn add(&mut self, price_ticks: i64, quantity_t: u64, paid_fen: i64) {
        if self.trades == 0 {
            self.first_ticks = price_ticks;
        }
        self.last_ticks = price_ticks;
        self.quantity_t += quantity_t;
        self.paid_fen += paid_fen;
        self.trades += 1;
    }
}
