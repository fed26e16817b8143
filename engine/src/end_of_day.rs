//! The end of the trading day.
//!
//! [`crate::Command::EndOfDay`] closes every instrument, expires every
//! resting order (each with an event, its reservation returned), computes
//! the close as the volume-weighted average price of the day's continuous
//! trades rounded half up to the tick (unchanged on a day without trades),
//! makes that close the next day's reference price and band, releases the
//! T+1 locks, and starts the next trading day.

use crate::engine::Engine;
use crate::event::{
    CancelCause, DayClosed, DayStarted, Event, PhaseChanged, ReferencePriceSet, Trade,
};
use crate::instrument::InstrumentId;
use crate::order::Side;
use crate::phase::Phase;
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
}

impl DayStats {
    /// Counts one trade.
    pub(crate) fn record(&mut self, trade: &Trade) {
        let price = trade.price_ticks;
        if self.trade_count == 0 {
            (self.open_ticks, self.high_ticks, self.low_ticks) = (price, price, price);
        }
        self.high_ticks = self.high_ticks.max(price);
        self.low_ticks = self.low_ticks.min(price);
        self.volume_t += trade.quantity_t;
        self.turnover_fen += i128::from(value_fen(price, trade.quantity_t));
        self.trade_count += 1;
    }

    /// The day's figures; the close is the VWAP, or the reference price
    /// when nothing traded.
    fn close(
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

impl Engine {
    pub(crate) fn end_of_day(&mut self, events: &mut Vec<Event>) {
        for i in 0..self.books.len() {
            let instrument = InstrumentId(i as u16);
            if self.markets[i].phase != Phase::Closed {
                self.markets[i].phase = Phase::Closed;
                events.push(Event::PhaseChanged(PhaseChanged {
                    instrument,
                    phase: Phase::Closed,
                }));
            }
            let book = &self.books[i];
            let open: Vec<_> = book
                .orders(Side::Buy)
                .chain(book.orders(Side::Sell))
                .collect();
            for order in open {
                let expired = self.cancel_resting(i, order.order_id, CancelCause::Expired, events);
                debug_assert!(expired, "listed as resting");
            }
            let rules = *self.books[i].rules();
            let closed = self.markets[i].today.close(
                self.trading_day,
                instrument,
                rules.reference_ticks,
                rules.step_ticks,
            );
            events.push(Event::DayClosed(closed));
            let next = rules.with_reference(closed.close_ticks);
            self.books[i].rebase(next);
            events.push(Event::ReferencePriceSet(ReferencePriceSet {
                instrument,
                price_ticks: next.reference_ticks,
                floor_ticks: next.floor_ticks,
                ceiling_ticks: next.ceiling_ticks,
            }));
            self.markets[i].today = DayStats::default();
        }
        for account in self.accounts.iter_mut() {
            for holding in &mut account.holdings {
                holding.locked_t = 0;
            }
        }
        self.trading_day += 1;
        events.push(Event::DayStarted(DayStarted {
            trading_day: self.trading_day,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::vwap_ticks;

    #[test]
    fn vwap_rounds_half_up_to_the_tick() {
        // 1 t @ 100 + 1 t @ 101 = 100.5 ticks → 101.
        assert_eq!(vwap_ticks(201, 2, 1), 101);
        // 2 t @ 100 + 1 t @ 101 = 100.33 → 100.
        assert_eq!(vwap_ticks(301, 3, 1), 100);
        // 1 t @ 100 + 2 t @ 101 = 100.67 → 101.
        assert_eq!(vwap_ticks(302, 3, 1), 101);
        // A tick of 5: 102.5 is exactly half way between 100 and 105 → 105.
        assert_eq!(vwap_ticks(205, 2, 5), 105);
        assert_eq!(vwap_ticks(204, 2, 5), 100);
    }
}
