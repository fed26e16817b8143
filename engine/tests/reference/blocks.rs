//! Block trades in the reference: offers in a `Vec`, deals in a `Vec`,
//! every rule written again from `docs/ENGINE.md` "Block trades".
//!
//! Checked in this order. Post: instrument, enabled, quantity zero, whole
//! lots, the block minimum, the tick, the block band (±`band_bps` of the
//! reference price, edges rounded inward to the tick), an offer directed
//! at its own account, the open limit. Accept: the offer is open, enabled,
//! self-acceptance, a directed offer's counterparty, quantity zero, whole
//! lots, more than remains, below the minimum without taking all, a
//! remainder below the minimum, the open limit for a deal that waits.
//! Cancel: the offer is open, the poster asks. Confirm and refuse: the deal
//! waits. The differential test keeps the accounts rich, eligible and
//! active and the instruments in continuous trading without a calendar,
//! so account rules and hours never decide here.

use super::{tonnes, Refusal};
use cetx_engine::{
    AccountId, BlockAccepted, BlockCancelled, BlockPosted, BlockRules, BlockTraded, CancelCause,
    Event, InstrumentId, NewBlock, PriceRules, RejectReason, Side, Stamp,
};

/// An open offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefOffer {
    pub block_id: u64,
    pub account: AccountId,
    pub instrument: InstrumentId,
    pub side: Side,
    pub price_ticks: i64,
    pub quantity_t: u64,
    pub counterparty: Option<AccountId>,
}

/// A deal waiting for the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefDeal {
    pub deal_id: u64,
    pub offer: RefOffer,
    pub acceptor: AccountId,
    pub quantity_t: u64,
}

/// Every block of the reference.
#[derive(Clone, Debug)]
pub struct RefBlocks {
    pub rules: Vec<BlockRules>,
    pub next_id: u64,
    pub offers: Vec<RefOffer>,
    pub deals: Vec<RefDeal>,
}

impl RefBlocks {
    pub fn new(rules: Vec<BlockRules>) -> Self {
        Self {
            rules,
            next_id: 1,
            offers: Vec::new(),
            deals: Vec::new(),
        }
    }

    fn open_in(&self, instrument: InstrumentId) -> usize {
        self.offers
            .iter()
            .filter(|o| o.instrument == instrument)
            .count()
            + self
                .deals
                .iter()
                .filter(|d| d.offer.instrument == instrument)
                .count()
    }

    fn rules_of(&self, instrument: InstrumentId) -> Result<&BlockRules, RejectReason> {
        let rules = self
            .rules
            .get(usize::from(instrument.0))
            .ok_or(RejectReason::UnknownInstrument)?;
        if rules.enabled {
            Ok(rules)
        } else {
            Err(RejectReason::BlocksNotEnabled)
        }
    }

    pub fn post(
        &mut self,
        book_rules: Option<&PriceRules>,
        block: &NewBlock,
        events: &mut Vec<Event>,
    ) -> Result<(), Refusal> {
        let book_rules = book_rules.ok_or(RejectReason::UnknownInstrument)?;
        let rules = self.rules_of(block.instrument)?.clone();
        if block.quantity_t == 0 {
            return Err(RejectReason::QuantityZero.into());
        }
        if !block.quantity_t.is_multiple_of(book_rules.lot_t) {
            return Err(RejectReason::QuantityNotWholeLots.into());
        }
        if block.quantity_t < rules.min_t {
            let min_t = tonnes(rules.min_t);
            return Err(Refusal::beyond(
                RejectReason::BlockBelowMinimum,
                min_t,
                i64::MAX,
            ));
        }
        if block.price_ticks.rem_euclid(book_rules.step_ticks) != 0 {
            return Err(RejectReason::PriceNotOnTick.into());
        }
        let (floor, ceiling) = block_band(book_rules, rules.band_bps);
        if block.price_ticks < floor || block.price_ticks > ceiling {
            return Err(Refusal::beyond(
                RejectReason::BlockPriceOutsideBand,
                floor,
                ceiling,
            ));
        }
        if block.counterparty == Some(block.account) {
            return Err(RejectReason::BlockSelfAccept.into());
        }
        if self.open_in(block.instrument) >= rules.max_open as usize {
            return Err(RejectReason::BlockLimitReached.into());
        }
        let offer = RefOffer {
            block_id: self.take_id(),
            account: block.account,
            instrument: block.instrument,
            side: block.side,
            price_ticks: block.price_ticks,
            quantity_t: block.quantity_t,
            counterparty: block.counterparty,
        };
        self.offers.push(offer);
        events.push(Event::BlockPosted(BlockPosted {
            block_id: offer.block_id,
            account: offer.account,
            instrument: offer.instrument,
            side: offer.side,
            price_ticks: offer.price_ticks,
            quantity_t: offer.quantity_t,
            counterparty: offer.counterparty,
        }));
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn accept(
        &mut self,
        lot_t: impl Fn(InstrumentId) -> u64,
        block_id: u64,
        account: AccountId,
        quantity_t: u64,
        stamp: Stamp,
        next_trade_id: &mut u64,
        events: &mut Vec<Event>,
    ) -> Result<(), Refusal> {
        let at = self
            .offers
            .iter()
            .position(|o| o.block_id == block_id)
            .ok_or(RejectReason::UnknownBlock)?;
        let offer = self.offers[at];
        let rules = self.rules_of(offer.instrument)?.clone();
        if account == offer.account {
            return Err(RejectReason::BlockSelfAccept.into());
        }
        if offer.counterparty.is_some_and(|c| c != account) {
            return Err(RejectReason::BlockDirectedElsewhere.into());
        }
        if quantity_t == 0 {
            return Err(RejectReason::QuantityZero.into());
        }
        if !quantity_t.is_multiple_of(lot_t(offer.instrument)) {
            return Err(RejectReason::QuantityNotWholeLots.into());
        }
        // Refusals of the quantity quote the minimum and what is open.
        let limits =
            |reason| Refusal::beyond(reason, tonnes(rules.min_t), tonnes(offer.quantity_t));
        if quantity_t > offer.quantity_t {
            return Err(limits(RejectReason::BlockQuantityInvalid));
        }
        let takes_all = quantity_t == offer.quantity_t;
        if !takes_all && quantity_t < rules.min_t {
            return Err(limits(RejectReason::BlockBelowMinimum));
        }
        if !takes_all && offer.quantity_t - quantity_t < rules.min_t {
            return Err(limits(RejectReason::BlockQuantityInvalid));
        }
        let pending = rules.needs_confirmation;
        // Accepted whole, the offer's place becomes its waiting deal's.
        if pending && !takes_all && self.open_in(offer.instrument) >= rules.max_open as usize {
            return Err(RejectReason::BlockLimitReached.into());
        }
        let remaining_t = offer.quantity_t - quantity_t;
        if remaining_t == 0 {
            self.offers.remove(at);
        } else {
            self.offers[at].quantity_t = remaining_t;
        }
        let deal = RefDeal {
            deal_id: self.take_id(),
            offer,
            acceptor: account,
            quantity_t,
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
            self.deals.push(deal);
        } else {
            events.push(traded(&deal, stamp, next_trade_id));
        }
        Ok(())
    }

    pub fn cancel(
        &mut self,
        block_id: u64,
        account: AccountId,
        events: &mut Vec<Event>,
    ) -> Result<(), Refusal> {
        let at = self
            .offers
            .iter()
            .position(|o| o.block_id == block_id)
            .ok_or(RejectReason::UnknownBlock)?;
        if self.offers[at].account != account {
            return Err(RejectReason::BlockNotPoster.into());
        }
        let offer = self.offers.remove(at);
        events.push(Event::BlockCancelled(BlockCancelled {
            block_id,
            account: offer.account,
            instrument: offer.instrument,
            side: offer.side,
            cancelled_t: offer.quantity_t,
            cause: CancelCause::Requested,
        }));
        Ok(())
    }

    pub fn decide(
        &mut self,
        deal_id: u64,
        confirm: bool,
        stamp: Stamp,
        next_trade_id: &mut u64,
        events: &mut Vec<Event>,
    ) -> Result<(), Refusal> {
        let at = self
            .deals
            .iter()
            .position(|d| d.deal_id == deal_id)
            .ok_or(RejectReason::UnknownBlock)?;
        let deal = self.deals.remove(at);
        if confirm {
            events.push(traded(&deal, stamp, next_trade_id));
        } else {
            events.push(Event::BlockCancelled(BlockCancelled {
                block_id: deal_id,
                account: deal.acceptor,
                instrument: deal.offer.instrument,
                side: deal.offer.side.opposite(),
                cancelled_t: deal.quantity_t,
                cause: CancelCause::Refused,
            }));
        }
        Ok(())
    }

    fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id - 1
    }
}

/// The block band: ±`band_bps` of the reference price, each edge rounded
/// inward to the tick (and the floor at least one tick).
fn block_band(rules: &PriceRules, band_bps: u32) -> (i64, i64) {
    let reference = i128::from(rules.reference_ticks);
    let step = i128::from(rules.step_ticks);
    let low = reference * i128::from(10_000 - band_bps);
    let high = reference * i128::from(10_000 + band_bps);
    // Smallest multiple of the step at or above low / 10,000.
    let floor = (low + 10_000 * step - 1) / (10_000 * step) * step;
    let ceiling = high / (10_000 * step) * step;
    (floor.max(step) as i64, ceiling as i64)
}

fn traded(deal: &RefDeal, stamp: Stamp, next_trade_id: &mut u64) -> Event {
    let (buyer, seller) = match deal.offer.side {
        Side::Buy => (deal.offer.account, deal.acceptor),
        Side::Sell => (deal.acceptor, deal.offer.account),
    };
    let trade_id = *next_trade_id;
    *next_trade_id += 1;
    Event::BlockTraded(BlockTraded {
        trade_id,
        seq: stamp.seq,
        time_ns: stamp.time_ns,
        deal_id: deal.deal_id,
        block_id: deal.offer.block_id,
        instrument: deal.offer.instrument,
        price_ticks: deal.offer.price_ticks,
        quantity_t: deal.quantity_t,
        buyer_account: buyer,
        seller_account: seller,
        poster_side: deal.offer.side,
    })
}
