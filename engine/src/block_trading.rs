//! Block commands: post, accept, cancel, confirm, refuse, and the rules
//! that govern them (see [`crate::block`] for the data).
//!
//! Each command is checked in a fixed order, so the reason a broker sees
//! depends only on the command and the state. Posting: instrument, block
//! trading enabled, quantity (zero, lots, minimum), price (tick, block
//! band), hours, counterparty, account, standing, account rules, the open
//! limit. Accepting: offer, enabled, hours, who accepts, quantity,
//! account, standing (the acceptor's, then the poster's), account rules,
//! the open limit for a deal that waits.

use crate::block::{BlockDeal, BlockOffer, BlockRules};
use crate::command::{NewBlock, Stamp};
use crate::engine::Engine;
use crate::event::{BlockAccepted, BlockCancelled, BlockPosted, BlockTraded, CancelCause, Event};
use crate::instrument::{InstrumentId, PriceRules};
use crate::order::{AccountId, Side};
use crate::reject::RejectReason;
use crate::risk::{self, Claim, Deal};

const NS_PER_S: i64 = 1_000_000_000;
const S_PER_DAY: i64 = 86_400;

impl Engine {
    pub(crate) fn post_block(
        &mut self,
        block: &NewBlock,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let i = self.instrument_index(block.instrument)?;
        let rules = self.open_block_rules(i)?;
        let book_rules = *self.books[i].rules();
        check_block_quantity(&book_rules, block.quantity_t)?;
        if block.quantity_t < rules.min_t {
            return Err(RejectReason::BlockBelowMinimum);
        }
        check_block_price(&book_rules, rules.band_bps, block.price_ticks)?;
        self.check_block_hours(i, stamp)?;
        if block.counterparty == Some(block.account) {
            return Err(RejectReason::BlockSelfAccept);
        }
        if let Some(counterparty) = block.counterparty {
            self.accounts
                .locate(counterparty)
                .ok_or(RejectReason::UnknownAccount)?;
        }
        let claim = Claim {
            instrument: block.instrument,
            side: block.side,
            price_ticks: block.price_ticks,
            quantity_t: block.quantity_t,
        };
        let at = self.check_block_account(block.account, i, &claim)?;
        if self.blocks.open_in(block.instrument) >= rules.max_open as usize {
            return Err(RejectReason::BlockLimitReached);
        }
        let (account, holding) = self.accounts.with_holding_mut(at, claim.instrument);
        risk::reserve(account, holding, &claim);
        let block_id = self.blocks.take_id();
        let offer = BlockOffer {
            block_id,
            account: block.account,
            instrument: block.instrument,
            side: block.side,
            price_ticks: block.price_ticks,
            quantity_t: block.quantity_t,
            counterparty: block.counterparty,
        };
        self.blocks.offers.insert(block_id, offer);
        events.push(Event::BlockPosted(BlockPosted {
            block_id,
            account: block.account,
            instrument: block.instrument,
            side: block.side,
            price_ticks: block.price_ticks,
            quantity_t: block.quantity_t,
            counterparty: block.counterparty,
        }));
        Ok(())
    }

    pub(crate) fn accept_block(
        &mut self,
        block_id: u64,
        account: AccountId,
        quantity_t: u64,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let offer = *self
            .blocks
            .offers
            .get(&block_id)
            .ok_or(RejectReason::UnknownBlock)?;
        let i = usize::from(offer.instrument.0);
        let rules = self.open_block_rules(i)?;
        self.check_block_hours(i, stamp)?;
        if account == offer.account {
            return Err(RejectReason::BlockSelfAccept);
        }
        if offer.counterparty.is_some_and(|c| c != account) {
            return Err(RejectReason::BlockDirectedElsewhere);
        }
        check_block_quantity(self.books[i].rules(), quantity_t)?;
        check_acceptance(rules.min_t, offer.quantity_t, quantity_t)?;
        let claim = Claim {
            instrument: offer.instrument,
            side: offer.side.opposite(),
            price_ticks: offer.price_ticks,
            quantity_t,
        };
        let acceptor_at = self.check_block_account(account, i, &claim)?;
        let poster = self.accounts.get(offer.account).map(|a| a.broker);
        let poster_broker = poster.ok_or(RejectReason::UnknownAccount)?;
        self.membership.check_order(offer.account, poster_broker)?;
        let pending = rules.needs_confirmation;
        let remaining_t = offer.quantity_t - quantity_t;
        // A deal that waits adds one to the open count only beside the
        // offer's rest: accepted whole, the offer's place becomes the
        // deal's, so a full instrument can still trade what is open.
        let adds_one = pending && remaining_t > 0;
        if adds_one && self.blocks.open_in(offer.instrument) >= rules.max_open as usize {
            return Err(RejectReason::BlockLimitReached);
        }

        let (acceptor, holding) = self
            .accounts
            .with_holding_mut(acceptor_at, claim.instrument);
        risk::reserve(acceptor, holding, &claim);
        if remaining_t == 0 {
            self.blocks.offers.remove(&block_id);
        } else if let Some(open) = self.blocks.offers.get_mut(&block_id) {
            open.quantity_t = remaining_t;
        }
        let deal = BlockDeal {
            deal_id: self.blocks.take_id(),
            block_id,
            instrument: offer.instrument,
            price_ticks: offer.price_ticks,
            quantity_t,
            poster: offer.account,
            poster_side: offer.side,
            acceptor: account,
        };
        events.push(Event::BlockAccepted(BlockAccepted {
            block_id,
            deal_id: deal.deal_id,
            account,
            quantity_t,
            remaining_t,
            pending,
        }));
        if pending {
            self.blocks.deals.insert(deal.deal_id, deal);
        } else {
            self.settle_block(&deal, stamp, events);
        }
        Ok(())
    }

    pub(crate) fn cancel_block(
        &mut self,
        block_id: u64,
        account: AccountId,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let offer = self
            .blocks
            .offers
            .get(&block_id)
            .ok_or(RejectReason::UnknownBlock)?;
        if offer.account != account {
            return Err(RejectReason::BlockNotPoster);
        }
        self.end_offer(block_id, CancelCause::Requested, events);
        Ok(())
    }

    pub(crate) fn confirm_block(
        &mut self,
        deal_id: u64,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let deal = self
            .blocks
            .deals
            .remove(&deal_id)
            .ok_or(RejectReason::UnknownBlock)?;
        self.settle_block(&deal, stamp, events);
        Ok(())
    }

    pub(crate) fn refuse_block(
        &mut self,
        deal_id: u64,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        if !self.blocks.deals.contains_key(&deal_id) {
            return Err(RejectReason::UnknownBlock);
        }
        self.end_deal(deal_id, CancelCause::Refused, events);
        Ok(())
    }

    pub(crate) fn set_block_rules(
        &mut self,
        instrument: InstrumentId,
        rules: &BlockRules,
    ) -> Result<(), RejectReason> {
        let i = self.instrument_index(instrument)?;
        let max_orders = self.markets[i].spec.max_orders;
        if self
            .check_open_total(Some(i), max_orders, rules.max_open)
            .is_err()
        {
            return Err(RejectReason::InvalidInstrumentSpec);
        }
        self.set_journaled_block_rules(instrument, rules)
    }

    /// [`Self::set_block_rules`] as a journal holds it: not held to
    /// `MAX_OPEN_TOTAL`, which a journal written before it may pass.
    pub(crate) fn set_journaled_block_rules(
        &mut self,
        instrument: InstrumentId,
        rules: &BlockRules,
    ) -> Result<(), RejectReason> {
        let i = self.instrument_index(instrument)?;
        if !rules.is_valid() {
            return Err(RejectReason::InvalidInstrumentSpec);
        }
        self.markets[i].block = rules.clone();
        Ok(())
    }

    /// Ends every open offer and pending deal, in id order (the end of the
    /// trading day).
    pub(crate) fn expire_blocks(&mut self, events: &mut Vec<Event>) {
        let offers: Vec<u64> = self.blocks.offers.keys().copied().collect();
        for block_id in offers {
            self.end_offer(block_id, CancelCause::Expired, events);
        }
        let deals: Vec<u64> = self.blocks.deals.keys().copied().collect();
        for deal_id in deals {
            self.end_deal(deal_id, CancelCause::Expired, events);
        }
    }

    /// Withdraws the open offers of the accounts `of` picks, in id order
    /// (a suspension). Deals already struck stay for the exchange to
    /// decide.
    pub(crate) fn cancel_blocks_of(
        &mut self,
        of: impl Fn(AccountId) -> bool,
        events: &mut Vec<Event>,
    ) {
        let picked: Vec<u64> = self
            .blocks
            .offers
            .values()
            .filter(|o| of(o.account))
            .map(|o| o.block_id)
            .collect();
        for block_id in picked {
            self.end_offer(block_id, CancelCause::Suspended, events);
        }
    }

    /// The rules of instrument `i`, if block trading is open for it.
    fn open_block_rules(&self, i: usize) -> Result<BlockRules, RejectReason> {
        let rules = &self.markets[i].block;
        if rules.enabled {
            Ok(rules.clone())
        } else {
            Err(RejectReason::BlocksNotEnabled)
        }
    }

    /// `BlockOutsideHours` unless instrument `i` is in continuous trading
    /// and, when the engine has a calendar, the stamp's local time lies in
    /// one of its block sessions.
    fn check_block_hours(&self, i: usize, stamp: Stamp) -> Result<(), RejectReason> {
        let market = &self.markets[i];
        let in_hours = self
            .local_seconds(stamp.time_ns)
            .is_none_or(|local_s| market.block.in_hours(local_s));
        if market.phase.accepts_orders() && in_hours {
            Ok(())
        } else {
            Err(RejectReason::BlockOutsideHours)
        }
    }

    /// The local time of day of `time_ns`, in seconds since midnight, by
    /// the calendar's UTC offset; `None` without a calendar.
    pub(crate) fn local_seconds(&self, time_ns: i64) -> Option<u32> {
        let calendar = self.calendar.as_ref()?;
        let local_s =
            (time_ns.div_euclid(NS_PER_S) + i64::from(calendar.utc_offset_s)).rem_euclid(S_PER_DAY);
        u32::try_from(local_s).ok()
    }

    /// Where `account` is kept, once it exists, is in good standing and may
    /// place `claim` in instrument `i`.
    fn check_block_account(
        &self,
        account: AccountId,
        i: usize,
        claim: &Claim,
    ) -> Result<u32, RejectReason> {
        let at = self
            .accounts
            .locate(account)
            .ok_or(RejectReason::UnknownAccount)?;
        let (found, holding) = self.accounts.with_holding(at, claim.instrument);
        self.membership.check_order(account, found.broker)?;
        let policy = &self.markets[i].policy;
        risk::check(found, holding, policy, claim, self.trading_day)?;
        Ok(at)
    }

    /// Moves the cash and allowances of a deal, records nothing in the
    /// day's listing figures, and reports the trade.
    fn settle_block(&mut self, deal: &BlockDeal, stamp: Stamp, events: &mut Vec<Event>) {
        let i = usize::from(deal.instrument.0);
        let (buyer, seller) = deal.buyer_seller();
        let trade_id = self.next_trade_id;
        self.next_trade_id += 1;
        let traded = BlockTraded {
            trade_id,
            seq: stamp.seq,
            time_ns: stamp.time_ns,
            deal_id: deal.deal_id,
            block_id: deal.block_id,
            instrument: deal.instrument,
            price_ticks: deal.price_ticks,
            quantity_t: deal.quantity_t,
            buyer_account: buyer,
            seller_account: seller,
            poster_side: deal.poster_side,
        };
        let buyer_at = self.accounts.locate(buyer).expect("a deal's buyer exists");
        let seller_at = self
            .accounts
            .locate(seller)
            .expect("a deal's seller exists");
        let [buyer, seller] = self
            .accounts
            .pair_at_mut(buyer_at, seller_at, deal.instrument);
        let large = risk::settle(
            buyer,
            seller,
            &self.markets[i].policy,
            &Deal::at(deal.instrument, deal.price_ticks, deal.quantity_t),
            self.trading_day,
        );
        events.push(Event::BlockTraded(traded));
        if let Some(large) = large {
            events.push(Event::LargeHolder(large));
        }
    }

    /// Takes an open offer away, gives back its reservation and reports
    /// it with `cause`.
    fn end_offer(&mut self, block_id: u64, cause: CancelCause, events: &mut Vec<Event>) {
        let Some(offer) = self.blocks.offers.remove(&block_id) else {
            return;
        };
        self.release_block(
            offer.account,
            offer.instrument,
            offer.side,
            offer.price_ticks,
            offer.quantity_t,
        );
        events.push(Event::BlockCancelled(BlockCancelled {
            block_id,
            account: offer.account,
            instrument: offer.instrument,
            side: offer.side,
            cancelled_t: offer.quantity_t,
            cause,
        }));
    }

    /// Takes a pending deal away, gives back both sides' reservations and
    /// reports it (under the acceptor's account and side) with `cause`.
    fn end_deal(&mut self, deal_id: u64, cause: CancelCause, events: &mut Vec<Event>) {
        let Some(deal) = self.blocks.deals.remove(&deal_id) else {
            return;
        };
        let (buyer, seller) = deal.buyer_seller();
        let (price, qty) = (deal.price_ticks, deal.quantity_t);
        self.release_block(buyer, deal.instrument, Side::Buy, price, qty);
        self.release_block(seller, deal.instrument, Side::Sell, price, qty);
        events.push(Event::BlockCancelled(BlockCancelled {
            block_id: deal_id,
            account: deal.acceptor,
            instrument: deal.instrument,
            side: deal.poster_side.opposite(),
            cancelled_t: qty,
            cause,
        }));
    }

    fn release_block(
        &mut self,
        account: AccountId,
        instrument: InstrumentId,
        side: Side,
        price_ticks: i64,
        quantity_t: u64,
    ) {
        let at = self
            .accounts
            .locate(account)
            .expect("a block's account exists");
        self.release_open(at, instrument, side, price_ticks, quantity_t);
    }
}

/// Zero and whole lots, as for any order (the listing board's size limits
/// do not apply to blocks).
const fn check_block_quantity(rules: &PriceRules, quantity_t: u64) -> Result<(), RejectReason> {
    if quantity_t == 0 {
        Err(RejectReason::QuantityZero)
    } else if rules.lot_t != 1 && !quantity_t.is_multiple_of(rules.lot_t) {
        Err(RejectReason::QuantityNotWholeLots)
    } else {
        Ok(())
    }
}

/// On the tick, then inside the block band around today's reference price.
fn check_block_price(
    rules: &PriceRules,
    band_bps: u32,
    price_ticks: i64,
) -> Result<(), RejectReason> {
    if price_ticks % rules.step_ticks != 0 {
        return Err(RejectReason::PriceNotOnTick);
    }
    let band = rules
        .with_band(band_bps)
        .map_err(|_| RejectReason::BlockPriceOutsideBand)?;
    if price_ticks < band.floor_ticks || price_ticks > band.ceiling_ticks {
        Err(RejectReason::BlockPriceOutsideBand)
    } else {
        Ok(())
    }
}

/// An acceptance takes all that remains, or at least the minimum and
/// leaves at least the minimum.
const fn check_acceptance(min_t: u64, open_t: u64, quantity_t: u64) -> Result<(), RejectReason> {
    if quantity_t > open_t {
        Err(RejectReason::BlockQuantityInvalid)
    } else if quantity_t == open_t {
        Ok(())
    } else if quantity_t < min_t {
        Err(RejectReason::BlockBelowMinimum)
    } else if open_t - quantity_t < min_t {
        Err(RejectReason::BlockQuantityInvalid)
    } else {
        Ok(())
    }
}
