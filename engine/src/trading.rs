//! Order commands: submit, cancel, amend.
//!
//! Each is checked in a fixed order, so the reason a broker sees does not
//! depend on anything but the command and the state: order id, instrument,
//! quantity, price, trading phase, account, then the account rules of
//! [`crate::risk`]. Only then does the book change.
//!
//! The helpers these commands call on every order or trade (here, in
//! `crate::risk`, `crate::account` and the book's slab and index) are
//! `#[inline(always)]`. The functions of `Engine::apply` they inline into
//! (one for `cancel`, one for every other command) are large enough that
//! LLVM otherwise left them out of line, despite `#[inline]`. Each such
//! call cost about 15 instructions of prologue and epilogue, and together
//! they were a fifth of the QuantCup feed's instructions (BENCHMARKS.md,
//! *a leaner trade path, and the hot path inlined*).

use crate::account::Accounts;
use crate::book::Book;
use crate::command::{NewOrder, Stamp};
use crate::day_stats::Run;
use crate::engine::{Engine, Market};
use crate::event::{Accepted, Amended, CancelCause, Cancelled, Event, LargeHolder};
use crate::instrument::{InstrumentId, Policy};
use crate::matching::{Fill, Stop, Taker};
use crate::order::{AccountId, OrderId, OrderType, Side, TimeInForce};
use crate::reject::RejectReason;
use crate::risk::{self, value_fen, Bought, Claim, Deal};

impl Engine {
    /// The checks a new order and a take share, then the claim's
    /// reservation: the account exists, may trade (membership), can fund
    /// `claim` on book `i` (risk) and, for an order that may rest, has
    /// room under its own and its broker's limits on resting orders. The
    /// account and its holding are borrowed once, for the checks and the
    /// reservation together. Returns the account's place and its broker's.
    #[inline(always)]
    pub(crate) fn reserve_claim(
        &mut self,
        i: usize,
        account: AccountId,
        claim: &Claim,
        may_rest: bool,
    ) -> Result<(u32, u32), RejectReason> {
        let account_at = self
            .accounts
            .locate(account)
            .ok_or(RejectReason::UnknownAccount)?;
        let broker_at = self.accounts.broker_at(account_at);
        let (found, holding) = self.accounts.with_holding_mut(account_at, claim.instrument);
        self.membership.check_order(account, found.broker)?;
        let policy = &self.markets[i].policy;
        risk::check(found, holding, policy, claim, self.trading_day)?;
        if may_rest {
            check_member_limits(&self.books[i], policy, account_at, broker_at)?;
        }
        risk::reserve(found, holding, claim);
        Ok((account_at, broker_at))
    }

    pub(crate) fn submit(
        &mut self,
        order: &NewOrder,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        if self.last_order_id >= Some(order.order_id) {
            // Checked first so that a reused id is named as such whatever
            // else is wrong with the order.
            return Err(RejectReason::DuplicateOrderId);
        }
        let i = self.instrument_index(order.instrument)?;
        let rules = self.books[i].rules();
        rules.check_quantity(order.quantity_t)?;
        let limit_ticks = match (order.order_type, order.side) {
            (OrderType::Limit, _) => {
                rules.check_price(order.price_ticks)?;
                order.price_ticks
            }
            // A market order may trade anywhere in the band, so a market buy
            // reserves cash at the ceiling.
            (OrderType::Market, Side::Buy) => rules.ceiling_ticks,
            (OrderType::Market, Side::Sell) => rules.floor_ticks,
        };
        if !self.markets[i].phase.accepts_orders() {
            return Err(RejectReason::MarketClosed);
        }
        let claim = Claim {
            instrument: order.instrument,
            side: order.side,
            price_ticks: limit_ticks,
            quantity_t: order.quantity_t,
        };
        let rests = order.order_type == OrderType::Limit && order.time_in_force == TimeInForce::Day;
        let (account_at, broker_at) = self.reserve_claim(i, order.account, &claim, rests)?;
        self.last_order_id = Some(order.order_id);
        events.push(Event::Accepted(Accepted {
            order_id: order.order_id,
            account: order.account,
            instrument: order.instrument,
            side: order.side,
            order_type: order.order_type,
            time_in_force: order.time_in_force,
            price_ticks: limit_ticks,
            quantity_t: order.quantity_t,
        }));
        let mut taker = Taker {
            order_id: order.order_id,
            account: order.account,
            account_at,
            side: order.side,
            limit_ticks,
            remaining_t: order.quantity_t,
        };
        let cause = if order.time_in_force == TimeInForce::Fok && !self.books[i].can_fill(&taker) {
            CancelCause::FokKilled
        } else {
            let stop = if self.books[i].crosses(&taker) {
                self.match_and_settle(i, &mut taker, stamp, events)
            } else {
                Stop::Done
            };
            if taker.remaining_t == 0 {
                return Ok(());
            } else if stop == Stop::SelfTrade {
                CancelCause::SelfTrade
            } else if !rests {
                CancelCause::Unfilled
            } else if self.books[i].insert(
                order.order_id,
                (order.account, account_at, broker_at),
                order.side,
                limit_ticks,
                taker.remaining_t,
            ) {
                return Ok(());
            } else {
                CancelCause::BookFull
            }
        };
        self.drop_remainder(&taker, order.instrument, cause, events);
        Ok(())
    }

    #[inline(always)]
    pub(crate) fn cancel(
        &mut self,
        instrument: InstrumentId,
        order_id: OrderId,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let i = self.instrument_index(instrument)?;
        if self.cancel_resting(i, order_id, CancelCause::Requested, events) {
            Ok(())
        } else {
            Err(RejectReason::UnknownOrder)
        }
    }

    /// Takes a resting order out of book `i`, gives back its reservation and
    /// reports it cancelled with `cause`. Returns `false`, changing nothing,
    /// when no such order rests. That check is one look at the book's
    /// index, and it is the whole cost of most cancels in a fast market,
    /// where the order has often traded first.
    #[inline(always)]
    pub(crate) fn cancel_resting(
        &mut self,
        i: usize,
        order_id: OrderId,
        cause: CancelCause,
        events: &mut Vec<Event>,
    ) -> bool {
        let Some(slot) = self.books[i].slot_of(order_id) else {
            return false;
        };
        self.cancel_slot(i, slot, cause, events);
        true
    }

    /// [`Engine::cancel_resting`] of the order in `slot`.
    #[inline(always)]
    fn cancel_slot(&mut self, i: usize, slot: u32, cause: CancelCause, events: &mut Vec<Event>) {
        let (order, account_at) = self.books[i].take_slot(slot);
        let instrument = self.books[i].instrument();
        self.release_open(
            account_at,
            instrument,
            order.side,
            order.price_ticks,
            order.quantity_t,
        );
        events.push(Event::Cancelled(Cancelled {
            order_id: order.order_id,
            account: order.account,
            instrument,
            side: order.side,
            cancelled_t: order.quantity_t,
            cause,
        }));
    }

    pub(crate) fn amend(
        &mut self,
        instrument: InstrumentId,
        order_id: OrderId,
        price_ticks: i64,
        quantity_t: u64,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let i = self.instrument_index(instrument)?;
        let book = &self.books[i];
        let (slot, old) = book.find(order_id).ok_or(RejectReason::UnknownOrder)?;
        let rules = *book.rules();
        rules.check_quantity(quantity_t)?;
        rules.check_price(price_ticks)?;
        if !self.markets[i].phase.accepts_orders() {
            return Err(RejectReason::MarketClosed);
        }
        // Resize the reservation: give back the old one, check the new one
        // against what is then free, and restore the old one if it fails.
        let old_claim = Claim {
            instrument,
            side: old.side,
            price_ticks: old.price_ticks,
            quantity_t: old.quantity_t,
        };
        let new_claim = Claim {
            price_ticks,
            quantity_t,
            ..old_claim
        };
        let trading_day = self.trading_day;
        let account_at = book.account_at(slot);
        let (account, holding) = self.accounts.with_holding_mut(account_at, instrument);
        risk::release(account, holding, &old_claim);
        let policy = &self.markets[i].policy;
        if let Err(reason) = risk::check(account, holding, policy, &new_claim, trading_day) {
            risk::reserve(account, holding, &old_claim);
            return Err(reason);
        }
        risk::reserve(account, holding, &new_claim);

        let priority_kept = price_ticks == old.price_ticks && quantity_t <= old.quantity_t;
        events.push(Event::Amended(Amended {
            order_id,
            account: old.account,
            instrument,
            side: old.side,
            price_ticks,
            quantity_t,
            priority_kept,
        }));
        if priority_kept {
            self.books[i].reduce(slot, quantity_t);
            return Ok(());
        }
        // Losing priority: take the order out, let it trade as a taker at its
        // new price, and rest what is left at the back of its new level.
        self.books[i].detach(slot, price_ticks, quantity_t);
        let mut taker = Taker {
            order_id,
            account: old.account,
            account_at,
            side: old.side,
            limit_ticks: price_ticks,
            remaining_t: quantity_t,
        };
        let stop = self.match_and_settle(i, &mut taker, stamp, events);
        let book = &mut self.books[i];
        if taker.remaining_t == 0 {
            book.release(slot);
        } else if stop == Stop::SelfTrade {
            book.release(slot);
            self.drop_remainder(&taker, instrument, CancelCause::SelfTrade, events);
        } else {
            book.relink(slot, taker.remaining_t);
        }
        Ok(())
    }

    /// Matches a taker in its instrument's book and settles its trades:
    /// each maker's side at its trade, the taker's side once, for all its
    /// trades together, when the match ends (it adds up to the same cash
    /// and tonnes, and the taker's account is no maker's: self-trade
    /// prevention stops a match first). The day's figures, too, take the
    /// match at once: its prices only rise (a buy) or fall (a sell).
    fn match_and_settle(
        &mut self,
        i: usize,
        taker: &mut Taker,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Stop {
        let (taker_at, taker_account, side) = (taker.account_at, taker.account, taker.side);
        let instrument = self.books[i].instrument();
        let Market { policy, today, .. } = &mut self.markets[i];
        let accounts = &mut self.accounts;
        let trading_day = self.trading_day;
        // A buying taker's holding before the match, for the large-holder
        // event of the trade that takes it to the threshold.
        let held_t = accounts.with_holding_mut(taker_at, instrument).1.balance_t;
        let mut run = Run::default();
        let stop = self.books[i].match_incoming(
            taker,
            stamp,
            &mut self.next_trade_id,
            events,
            |fill: Fill| {
                let paid_fen = value_fen(fill.price_ticks, fill.quantity_t);
                let before_t = held_t + run.quantity_t;
                run.add(fill.price_ticks, fill.quantity_t, paid_fen);
                let maker = accounts.with_holding_mut(fill.maker_at, instrument);
                match side {
                    Side::Buy => {
                        risk::settle_seller(maker, fill.quantity_t, paid_fen, trading_day);
                        let quantity_t = fill.quantity_t;
                        risk::large_holder(policy, taker_account, instrument, before_t, quantity_t)
                    }
                    Side::Sell => {
                        let account = maker.0.id;
                        // A buying maker reserved at its own price, the trade's.
                        let bought = Bought {
                            quantity_t: fill.quantity_t,
                            paid_fen,
                            released_fen: paid_fen,
                        };
                        let before_t = risk::settle_buyer(maker, policy, &bought, trading_day);
                        risk::large_holder(policy, account, instrument, before_t, fill.quantity_t)
                    }
                }
            },
        );
        if run.trades > 0 {
            let own = accounts.with_holding_mut(taker_at, instrument);
            match side {
                Side::Buy => {
                    let bought = Bought {
                        quantity_t: run.quantity_t,
                        paid_fen: run.paid_fen,
                        released_fen: value_fen(taker.limit_ticks, run.quantity_t),
                    };
                    risk::settle_buyer(own, policy, &bought, trading_day);
                }
                Side::Sell => {
                    risk::settle_seller(own, run.quantity_t, run.paid_fen, trading_day);
                }
            }
            today.add_run(&run);
        }
        stop
    }

    /// Gives back the reservation of a taker's unfilled remainder and
    /// reports it cancelled.
    #[cold]
    #[inline(never)]
    fn drop_remainder(
        &mut self,
        taker: &Taker,
        instrument: InstrumentId,
        cause: CancelCause,
        events: &mut Vec<Event>,
    ) {
        self.release_open(
            taker.account_at,
            instrument,
            taker.side,
            taker.limit_ticks,
            taker.remaining_t,
        );
        events.push(Event::Cancelled(Cancelled {
            order_id: taker.order_id,
            account: taker.account,
            instrument,
            side: taker.side,
            cancelled_t: taker.remaining_t,
            cause,
        }));
    }

    /// Gives back the reservation of an order's open quantity. Inlined at
    /// every call, though it is for the cancel's: a cancel that finds its
    /// order paid a call for it (2.3% fewer instructions a mixed command;
    /// callgrind, `apply_count`).
    #[inline(always)]
    pub(crate) fn release_open(
        &mut self,
        account_at: u32,
        instrument: InstrumentId,
        side: Side,
        price_ticks: i64,
        quantity_t: u64,
    ) {
        let (account, holding) = self.accounts.with_holding_mut(account_at, instrument);
        risk::release(
            account,
            holding,
            &Claim {
                instrument,
                side,
                price_ticks,
                quantity_t,
            },
        );
    }
}

/// Settles one fill between the two accounts and records it in the day's
/// figures. `taker` is where the taker's account is kept and the limit its
/// cash was reserved at: a buying taker reserved at its limit, a buying
/// maker at its own price, which is the trade price. Returns the
/// large-holder event, if the buyer's holding reached the threshold.
#[inline(always)]
pub(crate) fn settle_fill(
    market: &mut Market,
    accounts: &mut Accounts,
    trading_day: u32,
    (taker_at, taker_limit_ticks): (u32, i64),
    fill: &Fill,
) -> Option<LargeHolder> {
    market.today.add(fill.price_ticks, fill.quantity_t);
    let (buyer_at, seller_at, buyer_limit_ticks) = match fill.aggressor {
        Side::Buy => (taker_at, fill.maker_at, taker_limit_ticks),
        Side::Sell => (fill.maker_at, taker_at, fill.price_ticks),
    };
    let [buyer, seller] = accounts.pair_at_mut(buyer_at, seller_at, fill.instrument);
    let deal = Deal {
        instrument: fill.instrument,
        price_ticks: fill.price_ticks,
        quantity_t: fill.quantity_t,
        buyer_limit_ticks,
    };
    risk::settle(buyer, seller, &market.policy, &deal, trading_day)
}

/// A day limit order may rest, so its account and its broker must have
/// fewer orders resting in `book` than the `policy` allows: no one member
/// may fill the book for everyone.
#[inline(always)]
fn check_member_limits(
    book: &Book,
    policy: &Policy,
    account_at: u32,
    broker_at: u32,
) -> Result<(), RejectReason> {
    if book.resting_of_account(account_at) >= policy.max_orders_per_account {
        Err(RejectReason::AccountOrderLimit)
    } else if book.resting_of_broker(broker_at) >= policy.max_orders_per_broker {
        Err(RejectReason::BrokerOrderLimit)
    } else {
        Ok(())
    }
}
