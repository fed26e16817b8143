//! Replaying the events of one-way auctions: announcements, bids and
//! their changes, and each close's allocations, unfilled bids and outcome.
//!
//! As with orders, nothing is ranked again: each event is checked against
//! the open auction it names (the bid rests there, quantities add up, the
//! seller and bidders can fund what they lock, a fill's price lies within
//! the floor and the bid's own price, trade ids follow on) and then makes
//! exactly the change the live engine made.

use crate::auction::{AuctionBid, AuctionNotice};
use crate::auction_trading::{bid_claim, seller_claim};
use crate::command::Stamp;
use crate::engine::Engine;
use crate::event::{
    AuctionAllocation, AuctionClosed, BidAccepted, BidAmended, BidCancelled, CancelCause, Event,
};
use crate::order::OrderId;
use crate::risk;

use super::check_funded;

impl Engine {
    pub(super) fn replay_auction(&mut self, stamp: Stamp, event: &Event) -> Result<(), String> {
        match event {
            Event::AuctionAnnounced(notice) => self.replay_announced(notice),
            Event::BidAccepted(b) => self.replay_bid(stamp, b),
            Event::BidAmended(a) => self.replay_bid_amended(stamp, a),
            Event::BidCancelled(c) => self.replay_bid_cancelled(c),
            Event::AuctionAllocation(a) => self.replay_allocation(a),
            Event::AuctionClosed(c) => self.replay_auction_closed(c),
            _ => unreachable!("only auction events are replayed here"),
        }
    }

    fn replay_announced(&mut self, notice: &AuctionNotice) -> Result<(), String> {
        if self.auctions.last_auction_id >= Some(notice.auction_id) {
            return Err(format!(
                "auction {} is not above the last announced id",
                notice.auction_id
            ));
        }
        let i = self
            .instrument_index(notice.instrument)
            .map_err(|_| format!("auction of unknown instrument {}", notice.instrument.0))?;
        let rules = self.books[i].rules();
        let sound = notice.quantity_t > 0
            && notice.floor_ticks >= rules.floor_ticks
            && notice.ceiling_ticks <= rules.ceiling_ticks
            && notice.floor_ticks <= notice.ceiling_ticks
            && notice.start_ns < notice.end_ns;
        if !sound {
            return Err(format!(
                "auction {} has impossible terms",
                notice.auction_id
            ));
        }
        let (seller, holding) = self
            .accounts
            .get_with_holding(notice.seller, notice.instrument)
            .ok_or_else(|| format!("auction of unknown account {}", notice.seller.0))?;
        check_funded(seller, holding, &seller_claim(notice))?;
        self.open_auction(notice);
        Ok(())
    }

    /// The open auction's notice and where the bid sits in it.
    fn replay_find(
        &self,
        auction_id: u64,
        bid_id: OrderId,
    ) -> Result<(AuctionNotice, usize), String> {
        let auction = self
            .auctions
            .open
            .get(&auction_id)
            .ok_or_else(|| format!("auction {auction_id} is not open"))?;
        let at = Self::find_bid(auction, bid_id)
            .map_err(|_| format!("bid {} is not in auction {auction_id}", bid_id.0))?;
        Ok((auction.notice, at))
    }

    fn replay_bid(&mut self, stamp: Stamp, b: &BidAccepted) -> Result<(), String> {
        if self.last_order_id >= Some(b.bid_id) {
            return Err(format!(
                "bid {} is not above the last accepted id",
                b.bid_id.0
            ));
        }
        let notice = self
            .auctions
            .open
            .get(&b.auction_id)
            .ok_or_else(|| format!("bid in auction {} that is not open", b.auction_id))?
            .notice;
        let in_range = b.price_ticks >= notice.floor_ticks && b.price_ticks <= notice.ceiling_ticks;
        if !in_range || b.quantity_t == 0 || b.account == notice.seller {
            return Err(format!("bid {} breaks its auction's terms", b.bid_id.0));
        }
        let claim = bid_claim(notice.instrument, b.price_ticks, b.quantity_t);
        let (account, holding) = self
            .accounts
            .get_with_holding_mut(b.account, notice.instrument)
            .ok_or_else(|| format!("bid of unknown account {}", b.account.0))?;
        check_funded(account, holding, &claim)?;
        risk::reserve(account, holding, &claim);
        self.last_order_id = Some(b.bid_id);
        self.open_auction_mut(b.auction_id).bids.push(AuctionBid {
            bid_id: b.bid_id,
            account: b.account,
            price_ticks: b.price_ticks,
            quantity_t: b.quantity_t,
            client_order_id: b.client_order_id,
            priority_seq: stamp.seq,
        });
        Ok(())
    }

    fn replay_bid_amended(&mut self, stamp: Stamp, a: &BidAmended) -> Result<(), String> {
        let (notice, at) = self.replay_find(a.auction_id, a.bid_id)?;
        let old = self.auctions.open[&a.auction_id].bids[at];
        let kept = a.price_ticks == old.price_ticks && a.quantity_t <= old.quantity_t;
        let in_range = a.price_ticks >= notice.floor_ticks && a.price_ticks <= notice.ceiling_ticks;
        if old.account != a.account
            || old.client_order_id != a.client_order_id
            || kept != a.priority_kept
            || !in_range
            || a.quantity_t == 0
        {
            return Err(format!("bid {} amended against its terms", a.bid_id.0));
        }
        let (account, holding) = self
            .accounts
            .get_with_holding_mut(old.account, notice.instrument)
            .expect("a bid's account exists");
        let old_claim = bid_claim(notice.instrument, old.price_ticks, old.quantity_t);
        risk::release(account, holding, &old_claim);
        let claim = bid_claim(notice.instrument, a.price_ticks, a.quantity_t);
        check_funded(account, holding, &claim)?;
        risk::reserve(account, holding, &claim);
        let bid = &mut self.open_auction_mut(a.auction_id).bids[at];
        bid.price_ticks = a.price_ticks;
        bid.quantity_t = a.quantity_t;
        if !kept {
            bid.priority_seq = stamp.seq;
        }
        Ok(())
    }

    fn replay_bid_cancelled(&mut self, c: &BidCancelled) -> Result<(), String> {
        let (notice, at) = self.replay_find(c.auction_id, c.bid_id)?;
        let bid = self.auctions.open[&c.auction_id].bids[at];
        let whole = c.cause == CancelCause::Requested && c.cancelled_t == bid.quantity_t;
        let unfilled = c.cause == CancelCause::AuctionUnfilled && c.cancelled_t <= bid.quantity_t;
        if bid.account != c.account
            || bid.client_order_id != c.client_order_id
            || c.cancelled_t == 0
            || !(whole || unfilled)
        {
            return Err(format!("bid {} cancels what it does not have", c.bid_id.0));
        }
        if c.cause == CancelCause::Requested {
            let bid = self.open_auction_mut(c.auction_id).bids.remove(at);
            self.release_bid(notice.instrument, &bid, bid.quantity_t);
        } else {
            self.apply_unfilled(c.auction_id, c.bid_id, c.cancelled_t);
        }
        Ok(())
    }

    fn replay_allocation(&mut self, a: &AuctionAllocation) -> Result<(), String> {
        if a.trade_id != self.next_trade_id {
            return Err(format!(
                "auction trade {} out of turn (next is {})",
                a.trade_id, self.next_trade_id
            ));
        }
        let (notice, at) = self.replay_find(a.auction_id, a.bid_id)?;
        let bid = self.auctions.open[&a.auction_id].bids[at];
        let fits = notice.instrument == a.instrument
            && notice.seller == a.seller
            && bid.account == a.buyer
            && bid.client_order_id == a.client_order_id
            && a.quantity_t > 0
            && a.quantity_t <= bid.quantity_t
            && a.price_ticks >= notice.floor_ticks
            && a.price_ticks <= bid.price_ticks;
        if !fits {
            return Err(format!(
                "allocation to bid {} does not fit the bid",
                a.bid_id.0
            ));
        }
        self.next_trade_id += 1;
        self.apply_fill(a);
        Ok(())
    }

    fn replay_auction_closed(&mut self, c: &AuctionClosed) -> Result<(), String> {
        let auction = self
            .auctions
            .open
            .get(&c.auction_id)
            .ok_or_else(|| format!("auction {} closes but is not open", c.auction_id))?;
        let adds_up = c.sold_t.checked_add(c.unsold_t) == Some(auction.notice.quantity_t);
        if !auction.bids.is_empty() || !adds_up {
            return Err(format!(
                "auction {} closes with bids left or tonnes that do not add up",
                c.auction_id
            ));
        }
        self.finish_auction(c.auction_id, c.unsold_t);
        Ok(())
    }
}
