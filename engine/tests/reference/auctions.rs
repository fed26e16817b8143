//! The reference's one-way auctions, written again from the rules of
//! `docs/ENGINE.md` ("One-way auctions"), sharing no code with
//! `engine/src/auction.rs`.
//!
//! An auction is its notice and its bids in the order placed. The close
//! picks the winners one at a time: each round scans every bid left for the
//! highest price, the earliest priority at that price, and gives it what
//! is left of the offer. Accounts are rich and always eligible in the
//! differential test, so the account rules never decide here; the window,
//! the terms, the ids and the ranking always do.

use std::collections::BTreeMap;

use cetx_engine::{
    AccountId, AuctionAllocation, AuctionClosed, AuctionNotice, BidAccepted, BidAmended,
    BidCancelled, CancelCause, Command, Event, NewBid, OrderId, Pricing, RejectReason, Stamp,
};

use super::{tonnes, RefEngine, Refusal};

/// Auctions open at once, and bids in one auction, at most.
const MAX_OPEN: usize = 64;
const MAX_BIDS: usize = 4_096;

/// A bid as the reference keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefBid {
    pub bid_id: OrderId,
    pub account: AccountId,
    pub price_ticks: i64,
    pub quantity_t: u64,
    pub client_order_id: u64,
    /// The sequence number its time priority dates from.
    pub since_seq: u64,
}

/// An open auction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefAuction {
    pub notice: AuctionNotice,
    pub bids: Vec<RefBid>,
}

/// The reference's auctions and the rules of each instrument.
#[derive(Clone, Debug, Default)]
pub struct RefAuctions {
    /// Per instrument: whether auctions are open, and the smallest offer.
    pub rules: Vec<(bool, u64)>,
    pub open: BTreeMap<u64, RefAuction>,
    pub last_id: Option<u64>,
}

impl RefEngine {
    /// The open auctions, by id.
    pub fn auctions(&self) -> &BTreeMap<u64, RefAuction> {
        &self.auctions.open
    }

    /// Applies an auction command; `None` for any other command.
    pub(super) fn auction_command(
        &mut self,
        command: &Command,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Option<Result<(), Refusal>> {
        Some(match *command {
            Command::AnnounceAuction(ref notice) => self.announce(notice, events),
            Command::Bid(bid) => self.bid(&bid, stamp, events),
            Command::CancelBid {
                auction_id, bid_id, ..
            } => self.cancel_bid(auction_id, bid_id, stamp, events),
            Command::AmendBid {
                auction_id,
                bid_id,
                price_ticks,
                quantity_t,
                ..
            } => self.amend_bid(auction_id, bid_id, price_ticks, quantity_t, stamp, events),
            Command::CloseAuction { auction_id } => self.close(auction_id, stamp, true, events),
            Command::WithdrawAuction { auction_id } => self.close(auction_id, stamp, false, events),
            _ => return None,
        })
    }

    fn announce(&mut self, n: &AuctionNotice, events: &mut Vec<Event>) -> Result<(), Refusal> {
        if self
            .auctions
            .last_id
            .is_some_and(|last| n.auction_id <= last)
        {
            return Err(RejectReason::DuplicateAuctionId.into());
        }
        let i = usize::from(n.instrument.0);
        let book = self.books.get(i).ok_or(RejectReason::UnknownInstrument)?;
        let (open, min_t) = self.auctions.rules[i];
        if !open {
            return Err(RejectReason::AuctionsNotOpen.into());
        }
        let rules = book.rules;
        if n.quantity_t == 0 {
            return Err(RejectReason::QuantityZero.into());
        }
        if !n.quantity_t.is_multiple_of(rules.lot_t) {
            return Err(RejectReason::QuantityNotWholeLots.into());
        }
        if n.quantity_t < min_t {
            let min_t = tonnes(min_t);
            return Err(Refusal::beyond(
                RejectReason::AuctionTooSmall,
                min_t,
                i64::MAX,
            ));
        }
        if n.floor_ticks.rem_euclid(rules.step_ticks) != 0
            || n.ceiling_ticks.rem_euclid(rules.step_ticks) != 0
        {
            return Err(RejectReason::PriceNotOnTick.into());
        }
        if n.floor_ticks < rules.floor_ticks
            || n.ceiling_ticks > rules.ceiling_ticks
            || n.floor_ticks > n.ceiling_ticks
            || n.end_ns <= n.start_ns
        {
            let (floor, ceiling) = (rules.floor_ticks, rules.ceiling_ticks);
            return Err(Refusal::beyond(
                RejectReason::InvalidAuctionTerms,
                floor,
                ceiling,
            ));
        }
        if self.auctions.open.len() == MAX_OPEN {
            return Err(RejectReason::AuctionFull.into());
        }
        self.auctions.last_id = Some(n.auction_id);
        self.auctions.open.insert(
            n.auction_id,
            RefAuction {
                notice: *n,
                bids: Vec::new(),
            },
        );
        events.push(Event::AuctionAnnounced(*n));
        Ok(())
    }

    /// The auction, if it takes bids at this time.
    fn in_window(&self, auction_id: u64, stamp: Stamp) -> Result<&RefAuction, RejectReason> {
        let auction = self
            .auctions
            .open
            .get(&auction_id)
            .ok_or(RejectReason::UnknownAuction)?;
        let n = auction.notice;
        if !(n.start_ns..n.end_ns).contains(&stamp.time_ns) {
            return Err(RejectReason::AuctionNotBidding);
        }
        Ok(auction)
    }

    /// A bid's price and quantity against its auction's terms.
    fn terms(&self, n: &AuctionNotice, price_ticks: i64, quantity_t: u64) -> Result<(), Refusal> {
        let rules = self.books[usize::from(n.instrument.0)].rules;
        if quantity_t == 0 {
            Err(RejectReason::QuantityZero.into())
        } else if !quantity_t.is_multiple_of(rules.lot_t) {
            Err(RejectReason::QuantityNotWholeLots.into())
        } else if quantity_t > n.quantity_t {
            let (lot_t, most_t) = (tonnes(rules.lot_t), tonnes(n.quantity_t));
            Err(Refusal::beyond(
                RejectReason::QuantityAboveMaximum,
                lot_t,
                most_t,
            ))
        } else if price_ticks.rem_euclid(rules.step_ticks) != 0 {
            Err(RejectReason::PriceNotOnTick.into())
        } else if price_ticks < n.floor_ticks || price_ticks > n.ceiling_ticks {
            let (floor, ceiling) = (n.floor_ticks, n.ceiling_ticks);
            Err(Refusal::beyond(
                RejectReason::BidOutsideAuctionRange,
                floor,
                ceiling,
            ))
        } else {
            Ok(())
        }
    }

    fn bid(&mut self, b: &NewBid, stamp: Stamp, events: &mut Vec<Event>) -> Result<(), Refusal> {
        if self.last_accepted.is_some_and(|last| b.bid_id <= last) {
            return Err(RejectReason::DuplicateOrderId.into());
        }
        let auction = self.in_window(b.auction_id, stamp)?;
        let n = auction.notice;
        self.terms(&n, b.price_ticks, b.quantity_t)?;
        if b.account == n.seller {
            return Err(RejectReason::SellerCannotBid.into());
        }
        if auction.bids.len() == MAX_BIDS {
            return Err(RejectReason::AuctionFull.into());
        }
        self.last_accepted = Some(b.bid_id);
        self.auctions
            .open
            .get_mut(&b.auction_id)
            .unwrap()
            .bids
            .push(RefBid {
                bid_id: b.bid_id,
                account: b.account,
                price_ticks: b.price_ticks,
                quantity_t: b.quantity_t,
                client_order_id: b.client_order_id,
                since_seq: stamp.seq,
            });
        events.push(Event::BidAccepted(BidAccepted {
            auction_id: b.auction_id,
            bid_id: b.bid_id,
            account: b.account,
            client_order_id: b.client_order_id,
            price_ticks: b.price_ticks,
            quantity_t: b.quantity_t,
        }));
        Ok(())
    }

    fn cancel_bid(
        &mut self,
        auction_id: u64,
        bid_id: OrderId,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Result<(), Refusal> {
        let auction = self.in_window(auction_id, stamp)?;
        let at = auction
            .bids
            .iter()
            .position(|b| b.bid_id == bid_id)
            .ok_or(RejectReason::UnknownOrder)?;
        let bid = self
            .auctions
            .open
            .get_mut(&auction_id)
            .unwrap()
            .bids
            .remove(at);
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

    fn amend_bid(
        &mut self,
        auction_id: u64,
        bid_id: OrderId,
        price_ticks: i64,
        quantity_t: u64,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Result<(), Refusal> {
        let auction = self.in_window(auction_id, stamp)?;
        let at = auction
            .bids
            .iter()
            .position(|b| b.bid_id == bid_id)
            .ok_or(RejectReason::UnknownOrder)?;
        let n = auction.notice;
        self.terms(&n, price_ticks, quantity_t)?;
        let bid = &mut self.auctions.open.get_mut(&auction_id).unwrap().bids[at];
        let kept = price_ticks == bid.price_ticks && quantity_t <= bid.quantity_t;
        bid.price_ticks = price_ticks;
        bid.quantity_t = quantity_t;
        if !kept {
            bid.since_seq = stamp.seq;
        }
        events.push(Event::BidAmended(BidAmended {
            auction_id,
            bid_id,
            account: bid.account,
            client_order_id: bid.client_order_id,
            price_ticks,
            quantity_t,
            priority_kept: kept,
        }));
        Ok(())
    }

    /// A close (`sell`), or a withdrawal, which sells nothing, before the
    /// window's end.
    fn close(
        &mut self,
        auction_id: u64,
        stamp: Stamp,
        sell: bool,
        events: &mut Vec<Event>,
    ) -> Result<(), Refusal> {
        let auction = self
            .auctions
            .open
            .get(&auction_id)
            .ok_or(RejectReason::UnknownAuction)?;
        if sell && stamp.time_ns < auction.notice.end_ns {
            return Err(RejectReason::AuctionStillOpen.into());
        }
        if !sell && stamp.time_ns >= auction.notice.end_ns {
            return Err(RejectReason::AuctionNotBidding.into());
        }
        let RefAuction {
            notice: n,
            mut bids,
        } = self.auctions.open.remove(&auction_id).unwrap();
        // Winners, one round at a time: the best bid left takes what it can.
        let mut ranked = Vec::new();
        while !bids.is_empty() {
            let mut best = 0;
            for (i, b) in bids.iter().enumerate() {
                let top = bids[best];
                if b.price_ticks > top.price_ticks
                    || (b.price_ticks == top.price_ticks && b.since_seq < top.since_seq)
                {
                    best = i;
                }
            }
            ranked.push(bids.remove(best));
        }
        let offered_t = if sell { n.quantity_t } else { 0 };
        let mut left_t = offered_t;
        let mut fills = Vec::new();
        for b in &ranked {
            let take = b.quantity_t.min(left_t);
            left_t -= take;
            if take > 0 {
                fills.push((*b, take));
            }
        }
        let lowest = fills.last().map_or(0, |(b, _)| b.price_ticks);
        let mut turnover_fen = 0i64;
        for (b, take) in &fills {
            let price_ticks = match n.pricing {
                Pricing::Uniform => lowest,
                Pricing::PayAsBid => b.price_ticks,
            };
            turnover_fen += price_ticks * *take as i64;
            events.push(Event::AuctionAllocation(AuctionAllocation {
                trade_id: self.next_trade_id,
                seq: stamp.seq,
                time_ns: stamp.time_ns,
                auction_id,
                instrument: n.instrument,
                bid_id: b.bid_id,
                buyer: b.account,
                client_order_id: b.client_order_id,
                seller: n.seller,
                price_ticks,
                quantity_t: *take,
            }));
            self.next_trade_id += 1;
        }
        for b in &ranked {
            let filled = fills
                .iter()
                .find(|(f, _)| f.bid_id == b.bid_id)
                .map_or(0, |(_, take)| *take);
            if filled < b.quantity_t {
                events.push(Event::BidCancelled(BidCancelled {
                    auction_id,
                    bid_id: b.bid_id,
                    account: b.account,
                    client_order_id: b.client_order_id,
                    cancelled_t: b.quantity_t - filled,
                    cause: CancelCause::AuctionUnfilled,
                }));
            }
        }
        events.push(Event::AuctionClosed(AuctionClosed {
            auction_id,
            instrument: n.instrument,
            seller: n.seller,
            pricing: n.pricing,
            clearing_ticks: lowest,
            sold_t: offered_t - left_t,
            unsold_t: n.quantity_t - offered_t + left_t,
            turnover_fen,
        }));
        Ok(())
    }
}
