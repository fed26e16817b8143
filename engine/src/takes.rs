//! Listing-agreement takes (挂牌协议): a taker names one resting order of
//! the listing book and trades with it at that order's price.
//!
//! On the national carbon market a CEA taker may pick any resting order
//! among the opposite side's best five price levels, and any order at one
//! level; a CCER taker only the best level, and there only the order first
//! in time (`docs/CEA_RULES.md` §1, §8 rule 8). Which levels and orders a
//! take may reach is the instrument's [`crate::Policy`] (`take_levels`,
//! `take_first_in_time`), from its kind.
//!
//! A take is checked in a fixed order, so the reason a broker sees depends
//! only on the command and the state: the order id, the instrument, the
//! quantity, the trading phase, then the target (it rests, it is on the
//! other side, it is not the taker's own account's, its level is within
//! reach, it is first in time where that is required, it has the quantity
//! open), the trade price against the band, and last the account rules of
//! [`crate::risk`] at the target's price (full pre-funding, T+1,
//! eligibility, position limit, the account's and its broker's standing).
//!
//! An accepted take is an order that trades at once and never rests: its
//! events are an [`Event::Accepted`] (a limit order, immediate-or-cancel,
//! priced at the target's price, for the take's quantity) and one
//! [`Event::Trade`] with the target as maker, exactly the events of an IOC
//! order that met only the target. So settlement, the day's figures (and
//! with them the close), reports, market data and replay treat it as the
//! listing trade it is. The journal's command (tag 30) says it was a take.
//! A take never asks for more than the target has open, so nothing of it is
//! ever left to cancel.

use crate::command::{Stamp, Take};
use crate::engine::Engine;
use crate::event::{Accepted, Event};
use crate::matching::{Fill, Taker};
use crate::order::{OrderType, TimeInForce};
use crate::reject::RejectReason;
use crate::risk::Claim;
use crate::trading::settle_fill;

impl Engine {
    pub(crate) fn take(
        &mut self,
        take: &Take,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        if self.last_order_id >= Some(take.order_id) {
            return Err(RejectReason::DuplicateOrderId);
        }
        let i = self.instrument_index(take.instrument)?;
        let rules = *self.books[i].rules();
        rules.check_quantity(take.quantity_t)?;
        if !self.markets[i].phase.accepts_orders() {
            return Err(RejectReason::MarketClosed);
        }
        let slot = self.check_target(i, take)?;
        let price_ticks = self.books[i].price_of(self.books[i].slots[slot as usize].level());
        // A resting order is inside today's band, which moves only while
        // the book is empty; the check keeps the rule explicit.
        rules.check_price(price_ticks)?;
        let claim = Claim {
            instrument: take.instrument,
            side: take.side,
            price_ticks,
            quantity_t: take.quantity_t,
        };
        let (account_at, _) = self.reserve_claim(i, take.account, &claim, false)?;
        let trading_day = self.trading_day;
        self.last_order_id = Some(take.order_id);
        events.push(Event::Accepted(Accepted {
            order_id: take.order_id,
            account: take.account,
            instrument: take.instrument,
            side: take.side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Ioc,
            price_ticks,
            quantity_t: take.quantity_t,
        }));
        let mut taker = Taker {
            order_id: take.order_id,
            account: take.account,
            account_at,
            side: take.side,
            limit_ticks: price_ticks,
            remaining_t: take.quantity_t,
        };
        let market = &mut self.markets[i];
        let accounts = &mut self.accounts;
        let mut settle = |fill: Fill| {
            settle_fill(
                market,
                accounts,
                trading_day,
                (account_at, price_ticks),
                &fill,
            )
        };
        self.books[i].fill(
            slot,
            &mut taker,
            take.quantity_t,
            stamp,
            &mut self.next_trade_id,
            events,
            &mut settle,
        );
        debug_assert_eq!(taker.remaining_t, 0);
        Ok(())
    }

    /// The slot of the take's target in book `i`, if the take may trade
    /// with it; otherwise the first rule it breaks.
    fn check_target(&self, i: usize, take: &Take) -> Result<u32, RejectReason> {
        let book = &self.books[i];
        let policy = &self.markets[i].policy;
        let (slot, target) = book
            .find(take.target)
            .ok_or(RejectReason::TakeTargetNotResting)?;
        if target.side == take.side {
            return Err(RejectReason::TakeTargetSameSide);
        }
        if target.account == take.account {
            return Err(RejectReason::SelfTake);
        }
        let within_reach = book
            .depth(target.side)
            .take(usize::try_from(policy.take_levels).unwrap_or(usize::MAX))
            .any(|level| level.price_ticks == target.price_ticks);
        if !within_reach {
            return Err(RejectReason::TakeTargetTooDeep);
        }
        let ladder = book.ladder(target.side);
        let level = book.slots[slot as usize].level();
        if policy.take_first_in_time && ladder.levels[level as usize].head != slot {
            return Err(RejectReason::TakeTargetNotFirst);
        }
        if take.quantity_t > target.quantity_t {
            return Err(RejectReason::TakeExceedsTarget);
        }
        Ok(slot)
    }
}
