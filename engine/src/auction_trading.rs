//! One-way auctions in the engine: announcing, bidding, amending,
//! cancelling and closing ([`crate::auction`] holds what an auction is).

use crate::auction::{
    AuctionBid, AuctionNotice, Auctions, OpenAuction, Pricing, MAX_BIDS_PER_AUCTION,
    MAX_OPEN_AUCTIONS,
};
use crate::command::Stamp;
use crate::engine::Engine;
use crate::event::{
    AuctionAllocation, AuctionClosed, BidAccepted, BidAmended, BidCancelled, CancelCause, Event,
    LargeHolder,
};
use crate::instrument::InstrumentId;
use crate::order::{OrderId, Side};
use crate::reject::RejectReason;
use crate::risk::{self, Claim};

/// A bid's claim on its account: cash at its price, and tonnes against
/// the position limit.
pub(crate) const fn bid_claim(
    instrument: InstrumentId,
    price_ticks: i64,
    quantity_t: u64,
) -> Claim {
    Claim {
        instrument,
        side: Side::Buy,
        price_ticks,
        quantity_t,
    }
}

/// The seller's claim: the quantity offered, locked like a sell order's.
pub(crate) const fn seller_claim(notice: &AuctionNotice) -> Claim {
    Claim {
        instrument: notice.instrument,
        side: Side::Sell,
        price_ticks: notice.floor_ticks,
        quantity_t: notice.quantity_t,
    }
}

/// One winning bid's fill, before it settles.
struct Fill {
    bid: AuctionBid,
    quantity_t: u64,
    price_ticks: i64,
}

impl Engine {
    /// The open auctions and the highest auction id announced.
    #[must_use]
    pub const fn auctions(&self) -> &Auctions {
        &self.auctions
    }

    pub(crate) fn announce_auction(
        &mut self,
        notice: &AuctionNotice,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        if self.auctions.last_auction_id >= Some(notice.auction_id) {
            return Err(RejectReason::DuplicateAuctionId);
        }
        let i = self.instrument_index(notice.instrument)?;
        let policy = &self.markets[i].policy;
        if !policy.auctions {
            return Err(RejectReason::AuctionsNotOpen);
        }
        let rules = *self.books[i].rules();
        if notice.quantity_t == 0 {
            return Err(RejectReason::QuantityZero);
        }
        if !notice.quantity_t.is_multiple_of(rules.lot_t) {
            return Err(RejectReason::QuantityNotWholeLots);
        }
        if notice.quantity_t < policy.min_auction_t {
            return Err(RejectReason::AuctionTooSmall);
        }
        let on_tick = |ticks: i64| ticks % rules.step_ticks == 0;
        if !on_tick(notice.floor_ticks) || !on_tick(notice.ceiling_ticks) {
            return Err(RejectReason::PriceNotOnTick);
        }
        // CEA rules §2: the floor is at least the previous close less 10%,
        // bids are at most the previous close plus 10%; today's listing
        // band is exactly that range around the reference price.
        let terms_ok = notice.floor_ticks >= rules.floor_ticks
            && notice.ceiling_ticks <= rules.ceiling_ticks
            && notice.floor_ticks <= notice.ceiling_ticks
            && notice.start_ns < notice.end_ns
            && stamp.time_ns < notice.end_ns;
        if !terms_ok {
            return Err(RejectReason::InvalidAuctionTerms);
        }
        if self.auctions.open.len() >= MAX_OPEN_AUCTIONS {
            return Err(RejectReason::AuctionFull);
        }
        let sell = seller_claim(notice);
        let trading_day = self.trading_day;
        let (account, holding) = self
            .accounts
            .get_with_holding(notice.seller, notice.instrument)
            .ok_or(RejectReason::UnknownAccount)?;
        self.membership.check_order(notice.seller, account.broker)?;
        let policy = &self.markets[i].policy;
        risk::check(account, holding, policy, &sell, trading_day)?;
        self.open_auction(notice);
        events.push(Event::AuctionAnnounced(*notice));
        Ok(())
    }

    /// The open auction with this id, if the window is open at `time_ns`.
    fn bidding(&self, auction_id: u64, time_ns: i64) -> Result<&OpenAuction, RejectReason> {
        let auction = self
            .auctions
            .open
            .get(&auction_id)
            .ok_or(RejectReason::UnknownAuction)?;
        let notice = &auction.notice;
        if time_ns < notice.start_ns || time_ns >= notice.end_ns {
            return Err(RejectReason::AuctionNotBidding);
        }
        Ok(auction)
    }

    /// Checks a bid's price and quantity against its auction's terms.
    fn check_bid_terms(
        &self,
        notice: &AuctionNotice,
        price_ticks: i64,
        quantity_t: u64,
    ) -> Result<(), RejectReason> {
        let rules = self.books[usize::from(notice.instrument.0)].rules();
        if quantity_t == 0 {
            return Err(RejectReason::QuantityZero);
        }
        if !quantity_t.is_multiple_of(rules.lot_t) {
            return Err(RejectReason::QuantityNotWholeLots);
        }
        if quantity_t > notice.quantity_t {
            return Err(RejectReason::QuantityAboveMaximum);
        }
        if price_ticks % rules.step_ticks != 0 {
            return Err(RejectReason::PriceNotOnTick);
        }
        if price_ticks < notice.floor_ticks || price_ticks > notice.ceiling_ticks {
            return Err(RejectReason::BidOutsideAuctionRange);
        }
        Ok(())
    }

    pub(crate) fn place_bid(
        &mut self,
        bid: &crate::command::NewBid,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        if self.last_order_id >= Some(bid.bid_id) {
            return Err(RejectReason::DuplicateOrderId);
        }
        let auction = self.bidding(bid.auction_id, stamp.time_ns)?;
        let notice = auction.notice;
        self.check_bid_terms(&notice, bid.price_ticks, bid.quantity_t)?;
        if bid.account == notice.seller {
            return Err(RejectReason::SellerCannotBid);
        }
        if auction.bids.len() >= MAX_BIDS_PER_AUCTION {
            return Err(RejectReason::AuctionFull);
        }
        let i = usize::from(notice.instrument.0);
        let claim = bid_claim(notice.instrument, bid.price_ticks, bid.quantity_t);
        let trading_day = self.trading_day;
        let (account, holding) = self
            .accounts
            .get_with_holding_mut(bid.account, notice.instrument)
            .ok_or(RejectReason::UnknownAccount)?;
        self.membership.check_order(bid.account, account.broker)?;
        let policy = &self.markets[i].policy;
        risk::check(account, holding, policy, &claim, trading_day)?;
        risk::reserve(account, holding, &claim);
        self.last_order_id = Some(bid.bid_id);
        let placed = AuctionBid {
            bid_id: bid.bid_id,
            account: bid.account,
            price_ticks: bid.price_ticks,
            quantity_t: bid.quantity_t,
            client_order_id: bid.client_order_id,
            priority_seq: stamp.seq,
        };
        self.open_auction_mut(bid.auction_id).bids.push(placed);
        events.push(Event::BidAccepted(BidAccepted {
            auction_id: bid.auction_id,
            bid_id: bid.bid_id,
            account: bid.account,
            client_order_id: bid.client_order_id,
            price_ticks: bid.price_ticks,
            quantity_t: bid.quantity_t,
        }));
        Ok(())
    }

    pub(crate) fn open_auction_mut(&mut self, auction_id: u64) -> &mut OpenAuction {
        self.auctions
            .open
            .get_mut(&auction_id)
            .expect("the auction was found open")
    }

    /// Where a bid sits in its auction's list.
    pub(crate) fn find_bid(auction: &OpenAuction, bid_id: OrderId) -> Result<usize, RejectReason> {
        auction
            .bids
            .iter()
            .position(|b| b.bid_id == bid_id)
            .ok_or(RejectReason::UnknownOrder)
    }

    pub(crate) fn cancel_bid(
        &mut self,
        auction_id: u64,
        bid_id: OrderId,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let auction = self.bidding(auction_id, stamp.time_ns)?;
        let at = Self::find_bid(auction, bid_id)?;
        let instrument = auction.notice.instrument;
        let bid = self.open_auction_mut(auction_id).bids.remove(at);
        self.release_bid(instrument, &bid, bid.quantity_t);
        events.push(Event::BidCancelled(BidCancelled {
            auction_id,
            bid_id,
            account: bid.account,
            client_order_id: bid.client_order_id,
            cancelled_t: bid.quantity_t,
            cause: CancelCause::Requested,
        }));
        Ok(())
    }

    pub(crate) fn amend_bid(
        &mut self,
        auction_id: u64,
        bid_id: OrderId,
        price_ticks: i64,
        quantity_t: u64,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let auction = self.bidding(auction_id, stamp.time_ns)?;
        let at = Self::find_bid(auction, bid_id)?;
        let (notice, old) = (auction.notice, auction.bids[at]);
        self.check_bid_terms(&notice, price_ticks, quantity_t)?;
        let i = usize::from(notice.instrument.0);
        let old_claim = bid_claim(notice.instrument, old.price_ticks, old.quantity_t);
        let new_claim = bid_claim(notice.instrument, price_ticks, quantity_t);
        let trading_day = self.trading_day;
        let (account, holding) = self
            .accounts
            .get_with_holding_mut(old.account, notice.instrument)
            .expect("a bid's account exists");
        // A suspended bidder keeps its bid, and may cancel it, but not
        // change it: an amend is a new bid's terms.
        self.membership.check_order(old.account, account.broker)?;
        risk::release(account, holding, &old_claim);
        let policy = &self.markets[i].policy;
        if let Err(reason) = risk::check(account, holding, policy, &new_claim, trading_day) {
            risk::reserve(account, holding, &old_claim);
            return Err(reason);
        }
        risk::reserve(account, holding, &new_claim);
        let priority_kept = price_ticks == old.price_ticks && quantity_t <= old.quantity_t;
        let bid = &mut self.open_auction_mut(auction_id).bids[at];
        bid.price_ticks = price_ticks;
        bid.quantity_t = quantity_t;
        if !priority_kept {
            bid.priority_seq = stamp.seq;
        }
        events.push(Event::BidAmended(BidAmended {
            auction_id,
            bid_id,
            account: old.account,
            client_order_id: old.client_order_id,
            price_ticks,
            quantity_t,
            priority_kept,
        }));
        Ok(())
    }

    /// Gives back the reservation of `quantity_t` of a bid.
    pub(crate) fn release_bid(
        &mut self,
        instrument: InstrumentId,
        bid: &AuctionBid,
        quantity_t: u64,
    ) {
        let (account, holding) = self
            .accounts
            .get_with_holding_mut(bid.account, instrument)
            .expect("a bid's account exists");
        let claim = bid_claim(instrument, bid.price_ticks, quantity_t);
        risk::release(account, holding, &claim);
    }

    /// Ends the open auction `auction_id`: a close (`sell`), taken from
    /// its window's end on (148 before), allocates what it offers; a
    /// withdrawal, taken before the window's end (147 from then on: the
    /// bids stand and the close allocates them), sells nothing. Either
    /// settles the fills, cancels what no fill took (every bid, for a
    /// withdrawal) and releases the unsold allowances.
    pub(crate) fn end_auction(
        &mut self,
        auction_id: u64,
        stamp: Stamp,
        sell: bool,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let auction = self
            .auctions
            .open
            .get(&auction_id)
            .ok_or(RejectReason::UnknownAuction)?;
        let window_ended = stamp.time_ns >= auction.notice.end_ns;
        if sell && !window_ended {
            return Err(RejectReason::AuctionStillOpen);
        }
        if !sell && window_ended {
            return Err(RejectReason::AuctionNotBidding);
        }
        let notice = auction.notice;
        let on_sale = AuctionNotice {
            quantity_t: if sell { notice.quantity_t } else { 0 },
            ..notice
        };
        let (fills, unfilled) = allocate(&on_sale, auction.bids.clone());
        let (mut sold_t, mut turnover_fen) = (0, 0);
        for fill in &fills {
            sold_t += fill.quantity_t;
            turnover_fen += risk::value_fen(fill.price_ticks, fill.quantity_t);
            let allocation = AuctionAllocation {
                trade_id: self.next_trade_id,
                seq: stamp.seq,
                time_ns: stamp.time_ns,
                auction_id,
                instrument: notice.instrument,
                bid_id: fill.bid.bid_id,
                buyer: fill.bid.account,
                client_order_id: fill.bid.client_order_id,
                seller: notice.seller,
                price_ticks: fill.price_ticks,
                quantity_t: fill.quantity_t,
            };
            self.next_trade_id += 1;
            let large = self.apply_fill(&allocation);
            events.push(Event::AuctionAllocation(allocation));
            events.extend(large.map(Event::LargeHolder));
        }
        for (bid, open_t) in unfilled {
            self.apply_unfilled(auction_id, bid.bid_id, open_t);
            events.push(Event::BidCancelled(BidCancelled {
                auction_id,
                bid_id: bid.bid_id,
                account: bid.account,
                client_order_id: bid.client_order_id,
                cancelled_t: open_t,
                cause: CancelCause::AuctionUnfilled,
            }));
        }
        let unsold_t = notice.quantity_t - sold_t;
        self.finish_auction(auction_id, unsold_t);
        events.push(Event::AuctionClosed(AuctionClosed {
            auction_id,
            instrument: notice.instrument,
            seller: notice.seller,
            pricing: notice.pricing,
            clearing_ticks: fills.last().map_or(0, |f| f.price_ticks),
            sold_t,
            unsold_t,
            turnover_fen,
        }));
        Ok(())
    }

    /// Locks the seller's quantity and opens the auction.
    pub(crate) fn open_auction(&mut self, notice: &AuctionNotice) {
        let (account, holding) = self
            .accounts
            .get_with_holding_mut(notice.seller, notice.instrument)
            .expect("the seller's account exists");
        risk::reserve(account, holding, &seller_claim(notice));
        self.auctions.last_auction_id = Some(notice.auction_id);
        self.auctions.open.insert(
            notice.auction_id,
            OpenAuction {
                notice: *notice,
                bids: Vec::new(),
            },
        );
    }

    /// Settles one winning bid's fill: the reservation of the filled
    /// tonnes is released (so a uniform price below the bid frees the
    /// difference), the cash and allowances move, and the seller's locked
    /// allowances go with them. The bid keeps what is not filled. Returns
    /// a large-holder event when the buyer reaches the threshold.
    pub(crate) fn apply_fill(&mut self, fill: &AuctionAllocation) -> Option<LargeHolder> {
        let i = usize::from(fill.instrument.0);
        let bid = self.take_from_bid(fill.auction_id, fill.bid_id, fill.quantity_t);
        let policy = self.markets[i].policy;
        let paid_fen = risk::value_fen(fill.price_ticks, fill.quantity_t);
        let buyer_at = self.accounts.locate(fill.buyer).expect("a bid's account");
        let seller_at = self.accounts.locate(fill.seller).expect("the seller");
        let [(buyer, h), (seller, sold)] =
            self.accounts
                .pair_at_mut(buyer_at, seller_at, fill.instrument);
        let claim = bid_claim(fill.instrument, bid.price_ticks, fill.quantity_t);
        risk::release(buyer, h, &claim);
        buyer.cash_fen -= paid_fen;
        let before_t = h.balance_t;
        h.balance_t += fill.quantity_t;
        if policy.t_plus_one {
            h.locked_t += fill.quantity_t;
        }
        h.last_buy_day = Some(self.trading_day);
        let large = risk::crossed(&policy, before_t, h.balance_t).map(|threshold_t| LargeHolder {
            account: buyer.id,
            instrument: fill.instrument,
            balance_t: h.balance_t,
            threshold_t,
        });
        seller.cash_fen += paid_fen;
        sold.balance_t -= fill.quantity_t;
        sold.reserved_t -= fill.quantity_t;
        sold.last_sell_day = Some(self.trading_day);
        large
    }

    /// Releases the part of a bid that its auction's close did not fill.
    pub(crate) fn apply_unfilled(&mut self, auction_id: u64, bid_id: OrderId, open_t: u64) {
        let instrument = self.auctions.open[&auction_id].notice.instrument;
        let bid = self.take_from_bid(auction_id, bid_id, open_t);
        self.release_bid(instrument, &bid, open_t);
    }

    /// Takes `quantity_t` off an open bid, dropping the bid when nothing is
    /// left; returns the bid as it was.
    fn take_from_bid(&mut self, auction_id: u64, bid_id: OrderId, quantity_t: u64) -> AuctionBid {
        let auction = self.open_auction_mut(auction_id);
        let at = Self::find_bid(auction, bid_id).expect("the bid is open");
        let bid = auction.bids[at];
        auction.bids[at].quantity_t -= quantity_t;
        if auction.bids[at].quantity_t == 0 {
            auction.bids.remove(at);
        }
        bid
    }

    /// Returns the unsold tonnes to the seller and forgets the auction.
    pub(crate) fn finish_auction(&mut self, auction_id: u64, unsold_t: u64) {
        let notice = self.auctions.open[&auction_id].notice;
        let (_, holding) = self
            .accounts
            .get_with_holding_mut(notice.seller, notice.instrument)
            .expect("the seller's account exists");
        holding.reserved_t -= unsold_t;
        self.auctions.open.remove(&auction_id);
    }
}

/// Ranks the bids by price, highest first, then by time priority, and
/// fills them up to the quantity offered. Returns the fills in rank order,
/// priced by the auction's rule, and every bid that is not wholly filled
/// with its unfilled tonnes, in rank order. The marginal bid, partly
/// filled, is in both.
fn allocate(
    notice: &AuctionNotice,
    mut bids: Vec<AuctionBid>,
) -> (Vec<Fill>, Vec<(AuctionBid, u64)>) {
    bids.sort_by_key(|b| (std::cmp::Reverse(b.price_ticks), b.priority_seq));
    let mut left_t = notice.quantity_t;
    let mut fills = Vec::new();
    let mut unfilled = Vec::new();
    for bid in bids {
        let take_t = bid.quantity_t.min(left_t);
        left_t -= take_t;
        if take_t > 0 {
            fills.push(Fill {
                bid,
                quantity_t: take_t,
                price_ticks: bid.price_ticks,
            });
        }
        if take_t < bid.quantity_t {
            unfilled.push((bid, bid.quantity_t - take_t));
        }
    }
    if notice.pricing == Pricing::Uniform {
        let clearing_ticks = fills.last().map_or(0, |f| f.price_ticks);
        for fill in &mut fills {
            fill.price_ticks = clearing_ticks;
        }
    }
    (fills, unfilled)
}
