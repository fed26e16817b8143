//! Replaying the events of block trading: offers posted, accepted,
//! traded, cancelled. Each is checked against the state it lands on, as
//! the listing board's events are: the offer or deal it names exists, ids
//! come in turn, quantities add up, reservations are funded.

use crate::block::{BlockDeal, BlockOffer};
use crate::command::Command;
use crate::engine::Engine;
use crate::event::{BlockAccepted, BlockCancelled, BlockPosted, BlockTraded, CancelCause, Event};
use crate::order::Side;
use crate::risk::{self, Claim, Deal};

use super::check_funded;
use super::membership::Whose;

impl Engine {
    /// The `BlockCancelled` events of a command are exactly those the
    /// engine makes for it, in its order and with its cause: a
    /// `CancelBlock`'s offer (cause 0), a `RefuseBlock`'s deal (22), an end
    /// of day's every open offer then every pending deal, each in id order
    /// (5), before anything else it does, and a suspension's open offers
    /// of the account or the broker's accounts, in id order (20); no other
    /// command ends a block, and a refused one ends none. Checked before
    /// the events are replayed, against the offers and deals open then.
    pub(super) fn check_block_cancels(
        &self,
        command: &Command,
        events: &[Event],
    ) -> Result<(), String> {
        let ended: Vec<(u64, CancelCause)> = events
            .iter()
            .filter_map(|event| match event {
                Event::BlockCancelled(c) => Some((c.block_id, c.cause)),
                _ => None,
            })
            .collect();
        let refused = events.iter().any(|e| matches!(e, Event::Rejected(_)));
        let expected: Vec<(u64, CancelCause)> = match *command {
            _ if refused => Vec::new(),
            Command::CancelBlock { block_id, .. } => vec![(block_id, CancelCause::Requested)],
            Command::RefuseBlock { deal_id } => vec![(deal_id, CancelCause::Refused)],
            Command::EndOfDay { .. } => {
                let leading = events
                    .iter()
                    .take_while(|e| matches!(e, Event::BlockCancelled(_)))
                    .count();
                if leading != ended.len() {
                    return Err("an end of day ends its blocks after other events".to_owned());
                }
                let (offers, deals) = (self.blocks.offers.keys(), self.blocks.deals.keys());
                offers
                    .chain(deals)
                    .map(|&id| (id, CancelCause::Expired))
                    .collect()
            }
            _ => match Whose::cancelled_by(command) {
                Some((whose, true)) => self
                    .blocks
                    .offers
                    .values()
                    .filter(|offer| whose.includes(self, offer.account))
                    .map(|offer| (offer.block_id, CancelCause::Suspended))
                    .collect(),
                _ => Vec::new(),
            },
        };
        if ended == expected {
            Ok(())
        } else {
            Err(format!(
                "the {:?} ends blocks {ended:?}, where the engine ends {expected:?} (id, cause)",
                command.kind()
            ))
        }
    }

    /// Applies one block event. `struck` carries a deal accepted by this
    /// command that settles at once, from its `BlockAccepted` to its
    /// `BlockTraded`.
    pub(super) fn replay_block(
        &mut self,
        event: &Event,
        struck: &mut Option<BlockDeal>,
    ) -> Result<(), String> {
        match event {
            Event::BlockPosted(p) => self.replay_block_posted(p),
            Event::BlockAccepted(a) => self.replay_block_accepted(a, struck),
            Event::BlockTraded(t) => self.replay_block_traded(t, struck),
            Event::BlockCancelled(c) => self.replay_block_cancelled(c),
            _ => Ok(()),
        }
    }

    fn replay_block_posted(&mut self, p: &BlockPosted) -> Result<(), String> {
        let i = self
            .instrument_index(p.instrument)
            .map_err(|_| format!("block {} of unknown instrument", p.block_id))?;
        if p.block_id != self.blocks.next_id {
            return Err(format!(
                "block {} out of turn, expected {}",
                p.block_id, self.blocks.next_id
            ));
        }
        let step = self.books[i].rules().step_ticks;
        if p.price_ticks <= 0 || p.price_ticks % step != 0 || p.quantity_t == 0 {
            return Err(format!(
                "block {} has a price or size no offer can have",
                p.block_id
            ));
        }
        let unknown = |a| self.accounts.get(a).is_none();
        if unknown(p.account) || p.counterparty.is_some_and(unknown) {
            return Err(format!("block {} names an unknown account", p.block_id));
        }
        let claim = Claim {
            instrument: p.instrument,
            side: p.side,
            price_ticks: p.price_ticks,
            quantity_t: p.quantity_t,
        };
        self.reserve_funded(p.account, &claim)
            .map_err(|why| format!("block {}: {why}", p.block_id))?;
        self.blocks.take_id();
        self.blocks.offers.insert(
            p.block_id,
            BlockOffer {
                block_id: p.block_id,
                account: p.account,
                instrument: p.instrument,
                side: p.side,
                price_ticks: p.price_ticks,
                quantity_t: p.quantity_t,
                counterparty: p.counterparty,
            },
        );
        Ok(())
    }

    fn replay_block_accepted(
        &mut self,
        a: &BlockAccepted,
        struck: &mut Option<BlockDeal>,
    ) -> Result<(), String> {
        let offer = *self
            .blocks
            .offers
            .get(&a.block_id)
            .ok_or_else(|| format!("acceptance of block {} that is not open", a.block_id))?;
        let fits = a.quantity_t > 0
            && offer.quantity_t.checked_sub(a.quantity_t) == Some(a.remaining_t)
            && a.account != offer.account
            && offer.counterparty.is_none_or(|c| c == a.account)
            && a.deal_id == self.blocks.next_id
            && struck.is_none();
        if !fits {
            return Err(format!(
                "the acceptance of block {} does not fit it",
                a.block_id
            ));
        }
        let claim = Claim {
            instrument: offer.instrument,
            side: offer.side.opposite(),
            price_ticks: offer.price_ticks,
            quantity_t: a.quantity_t,
        };
        self.reserve_funded(a.account, &claim)
            .map_err(|why| format!("deal {}: {why}", a.deal_id))?;
        self.blocks.take_id();
        if a.remaining_t == 0 {
            self.blocks.offers.remove(&a.block_id);
        } else if let Some(open) = self.blocks.offers.get_mut(&a.block_id) {
            open.quantity_t = a.remaining_t;
        }
        let deal = BlockDeal {
            deal_id: a.deal_id,
            block_id: a.block_id,
            instrument: offer.instrument,
            price_ticks: offer.price_ticks,
            quantity_t: a.quantity_t,
            poster: offer.account,
            poster_side: offer.side,
            acceptor: a.account,
        };
        if a.pending {
            self.blocks.deals.insert(deal.deal_id, deal);
        } else {
            *struck = Some(deal);
        }
        Ok(())
    }

    fn replay_block_traded(
        &mut self,
        t: &BlockTraded,
        struck: &mut Option<BlockDeal>,
    ) -> Result<(), String> {
        let deal = match struck.take() {
            Some(deal) if deal.deal_id == t.deal_id => deal,
            Some(deal) => return Err(format!("deal {} accepted but not traded", deal.deal_id)),
            None => self
                .blocks
                .deals
                .remove(&t.deal_id)
                .ok_or_else(|| format!("block trade of unknown deal {}", t.deal_id))?,
        };
        if t.trade_id != self.next_trade_id {
            return Err(format!(
                "trade {} out of turn, expected {}",
                t.trade_id, self.next_trade_id
            ));
        }
        let fits = (t.buyer_account, t.seller_account) == deal.buyer_seller()
            && t.block_id == deal.block_id
            && t.instrument == deal.instrument
            && t.price_ticks == deal.price_ticks
            && t.quantity_t == deal.quantity_t
            && t.poster_side == deal.poster_side;
        if !fits {
            return Err(format!("block trade {} does not fit its deal", t.trade_id));
        }
        self.next_trade_id += 1;
        let locate = |a| {
            self.accounts
                .locate(a)
                .expect("checked when the deal was struck")
        };
        let (buyer_at, seller_at) = (locate(t.buyer_account), locate(t.seller_account));
        let policy = self.markets[usize::from(t.instrument.0)].policy;
        let [buyer, seller] = self.accounts.pair_at_mut(buyer_at, seller_at, t.instrument);
        // The large-holder event, if any, is in the journal already.
        let deal = Deal::at(t.instrument, t.price_ticks, t.quantity_t);
        let _ = risk::settle(buyer, seller, &policy, &deal, self.trading_day);
        Ok(())
    }

    fn replay_block_cancelled(&mut self, c: &BlockCancelled) -> Result<(), String> {
        if let Some(offer) = self.blocks.offers.get(&c.block_id).copied() {
            let fits = offer.quantity_t == c.cancelled_t
                && offer.account == c.account
                && offer.side == c.side
                && offer.instrument == c.instrument;
            if !fits {
                return Err(format!(
                    "the cancel of block {} does not fit it",
                    c.block_id
                ));
            }
            self.blocks.offers.remove(&c.block_id);
            let at = self
                .accounts
                .locate(offer.account)
                .expect("checked when posted");
            self.release_open(
                at,
                offer.instrument,
                offer.side,
                offer.price_ticks,
                offer.quantity_t,
            );
            return Ok(());
        }
        let deal = self
            .blocks
            .deals
            .remove(&c.block_id)
            .ok_or_else(|| format!("cancel of block {} that is not open", c.block_id))?;
        let fits = deal.quantity_t == c.cancelled_t
            && deal.acceptor == c.account
            && deal.poster_side.opposite() == c.side
            && deal.instrument == c.instrument;
        if !fits {
            return Err(format!("the end of deal {} does not fit it", c.block_id));
        }
        let (buyer, seller) = deal.buyer_seller();
        for (account, side) in [(buyer, Side::Buy), (seller, Side::Sell)] {
            let at = self.accounts.locate(account).expect("checked when struck");
            self.release_open(at, deal.instrument, side, deal.price_ticks, deal.quantity_t);
        }
        Ok(())
    }

    /// Reserves `claim` on `account` if it exists and can fund it.
    fn reserve_funded(
        &mut self,
        account: crate::order::AccountId,
        claim: &Claim,
    ) -> Result<(), String> {
        let at = self
            .accounts
            .locate(account)
            .ok_or_else(|| format!("unknown account {}", account.0))?;
        let (found, holding) = self.accounts.with_holding_mut(at, claim.instrument);
        check_funded(found, holding, claim)?;
        risk::reserve(found, holding, claim);
        Ok(())
    }
}
