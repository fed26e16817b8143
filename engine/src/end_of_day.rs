//! The end of the trading day.
//!
//! [`crate::Command::EndOfDay`] closes every instrument, expires every
//! resting order (each with an event, its reservation returned), computes
//! the close as the volume-weighted average price of the day's continuous
//! trades rounded half up to the tick (unchanged on a day without trades),
//! makes that close the next day's reference price and band (unless that
//! band would span more than the instrument's `max_price_levels`: then the
//! reference stays), releases the T+1 locks, and starts the next trading
//! day.

use crate::day_stats::DayStats;
use crate::engine::Engine;
use crate::event::{CancelCause, DayStarted, Event, PhaseChanged, ReferencePriceSet};
use crate::instrument::InstrumentId;
use crate::order::Side;
use crate::phase::Phase;

pub use crate::day_stats::vwap_ticks;

impl Engine {
    pub(crate) fn end_of_day(&mut self, events: &mut Vec<Event>) {
        // Block offers and unconfirmed deals end with the day, before the
        // books close (they never count in the close).
        self.expire_blocks(events);
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
            // A close whose band would span more levels than the book may
            // have keeps today's reference and band (the day's close is
            // still the VWAP); see `max_price_levels`.
            let next = rules.with_reference(closed.close_ticks).unwrap_or(rules);
            self.books[i].rebase(next);
            events.push(Event::ReferencePriceSet(ReferencePriceSet {
                instrument,
                price_ticks: next.reference_ticks,
                floor_ticks: next.floor_ticks,
                ceiling_ticks: next.ceiling_ticks,
            }));
            self.markets[i].today = DayStats::default();
        }
        self.accounts.unlock_bought_today();
        self.trading_day += 1;
        self.forget_old_references();
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
