//! The limits a refused command broke, so that its `Rejected` event can
//! carry them and a broker's report name them ("price outside band: 81.00
//! to 99.00"), the same on every read of the journal.
//!
//! Worked out after the refusal, from the state the command was checked
//! against (a refusal changes nothing), rather than carried out of every
//! check: the checks stay on the hot path as they are, and this runs only
//! for a refused command. `engine/tests/differential.rs` holds the figures
//! against the reference matcher's own.

use crate::command::{Asset, Command};
use crate::engine::Engine;
use crate::event::Bounds;
use crate::instrument::InstrumentId;
use crate::order::{AccountId, Side};
use crate::reject::RejectReason;
use crate::risk::value_fen;

impl Engine {
    /// The limits `command`, stamped `time_ns`, broke, for the reasons
    /// that have them ([`RejectReason::has_bounds`]); `None` for the
    /// others.
    pub(crate) fn bounds_of(
        &self,
        command: &Command,
        reason: RejectReason,
        time_ns: i64,
    ) -> Option<Bounds> {
        use RejectReason as R;
        match (reason, command) {
            (R::PriceOutsideBand | R::QuantityBelowMinimum | R::QuantityAboveMaximum, _) => {
                let instrument = match *command {
                    Command::Submit(ref order) => order.instrument,
                    Command::Amend { instrument, .. } => instrument,
                    Command::Take(ref take) => take.instrument,
                    Command::Bid(ref bid) => return self.bid_bounds(bid.auction_id, reason),
                    Command::AmendBid { auction_id, .. } => {
                        return self.bid_bounds(auction_id, reason)
                    }
                    _ => return None,
                };
                let rules = self.books.get(usize::from(instrument.0))?.rules();
                Some(if reason == R::PriceOutsideBand {
                    Bounds::new(rules.floor_ticks, rules.ceiling_ticks)
                } else {
                    Bounds::new(tonnes(rules.min_order_t), tonnes(rules.max_order_t))
                })
            }
            (R::BidOutsideAuctionRange, Command::Bid(bid)) => {
                self.bid_bounds(bid.auction_id, reason)
            }
            (R::BidOutsideAuctionRange, &Command::AmendBid { auction_id, .. }) => {
                self.bid_bounds(auction_id, reason)
            }
            (R::InvalidAuctionTerms, Command::AnnounceAuction(notice)) => {
                let rules = self.books.get(usize::from(notice.instrument.0))?.rules();
                Some(Bounds::new(rules.floor_ticks, rules.ceiling_ticks))
            }
            (R::AuctionTooSmall, Command::AnnounceAuction(notice)) => {
                let market = self.markets.get(usize::from(notice.instrument.0))?;
                Some(Bounds::new(tonnes(market.policy.min_auction_t), i64::MAX))
            }
            (R::BlockPriceOutsideBand, Command::PostBlock(block)) => {
                let i = usize::from(block.instrument.0);
                let band_bps = self.markets.get(i)?.block.band_bps;
                let band = self.books[i].rules().with_band(band_bps).ok()?;
                Some(Bounds::new(band.floor_ticks, band.ceiling_ticks))
            }
            (R::BlockBelowMinimum, Command::PostBlock(block)) => {
                let min_t = self
                    .markets
                    .get(usize::from(block.instrument.0))?
                    .block
                    .min_t;
                Some(Bounds::new(tonnes(min_t), i64::MAX))
            }
            (
                R::BlockBelowMinimum | R::BlockQuantityInvalid,
                &Command::AcceptBlock { block_id, .. },
            ) => {
                let offer = self.blocks.offers.get(&block_id)?;
                let min_t = self.markets[usize::from(offer.instrument.0)].block.min_t;
                Some(Bounds::new(tonnes(min_t), tonnes(offer.quantity_t)))
            }
            (R::InsufficientCash, _) => {
                let claimant = self.claimant(command)?;
                let free_fen = self.accounts.get(claimant.account)?.available_fen();
                Some(Bounds::new(0, free_fen.saturating_add(claimant.own_fen)))
            }
            (R::InsufficientHoldings | R::HoldingsLockedUntilNextDay, _) => {
                let claimant = self.claimant(command)?;
                let (_, holding) = self
                    .accounts
                    .get_with_holding(claimant.account, claimant.instrument?)?;
                let free_t = holding.sellable_t().saturating_add(claimant.own_t);
                Some(Bounds::new(0, tonnes(free_t)))
            }
            (R::BlockOutsideHours, Command::PostBlock(block)) => {
                self.next_block_session(block.instrument, time_ns)
            }
            (R::BlockOutsideHours, &Command::AcceptBlock { block_id, .. }) => {
                let instrument = self.blocks.offers.get(&block_id)?.instrument;
                self.next_block_session(instrument, time_ns)
            }
            (R::OppositeSideTooSoon, _) => self.opposite_side_bounds(command),
            (R::PositionLimitExceeded, _) => {
                let instrument = self.claimant(command)?.instrument?;
                let policy = &self.markets.get(usize::from(instrument.0))?.policy;
                Some(Bounds::new(0, tonnes(policy.position_limit_t)))
            }
            (R::AccountOrderLimit | R::BrokerOrderLimit, Command::Submit(order)) => {
                let policy = &self.markets.get(usize::from(order.instrument.0))?.policy;
                let most = if reason == R::AccountOrderLimit {
                    policy.max_orders_per_account
                } else {
                    policy.max_orders_per_broker
                };
                Some(Bounds::new(0, i64::from(most)))
            }
            _ => None,
        }
    }

    /// The account whose cash or allowances `command` would reserve or
    /// move, the instrument (none for cash), and what of them the command
    /// gives back before it checks (an amend: its order's own
    /// reservation, so that the limit is what the amended order may use);
    /// `None` for commands that draw on no account.
    fn claimant(&self, command: &Command) -> Option<Claimant> {
        let (account, instrument) = match *command {
            Command::Submit(ref order) => (order.account, order.instrument),
            Command::Take(ref take) => (take.account, take.instrument),
            Command::Bid(ref bid) => {
                let notice = &self.auctions.open.get(&bid.auction_id)?.notice;
                (bid.account, notice.instrument)
            }
            Command::PostBlock(ref block) => (block.account, block.instrument),
            Command::AcceptBlock {
                block_id, account, ..
            } => (account, self.blocks.offers.get(&block_id)?.instrument),
            Command::AnnounceAuction(ref notice) => (notice.seller, notice.instrument),
            Command::Amend {
                instrument,
                order_id,
                ..
            } => {
                let (_, order) = self.books.get(usize::from(instrument.0))?.find(order_id)?;
                let (own_fen, own_t) = match order.side {
                    Side::Buy => (value_fen(order.price_ticks, order.quantity_t), 0),
                    Side::Sell => (0, order.quantity_t),
                };
                return Some(Claimant {
                    account: order.account,
                    instrument: Some(instrument),
                    own_fen,
                    own_t,
                });
            }
            Command::Withdraw { account, .. } => return Some(Claimant::of(account, None)),
            Command::DebitHoldings {
                account,
                instrument,
                ..
            } => (account, instrument),
            Command::Transfer(ref transfer) => {
                let instrument = match transfer.asset {
                    Asset::Cash => None,
                    Asset::Allowances(instrument) => Some(instrument),
                };
                return Some(Claimant::of(transfer.account, instrument));
            }
            _ => return None,
        };
        Some(Claimant::of(account, Some(instrument)))
    }

    /// A refusal 207: the trading days until the account may trade this
    /// way (0 when it is not the gap that stops it), and the tonnes it has
    /// open the other way (0 when none), which stop it until they end.
    fn opposite_side_bounds(&self, command: &Command) -> Option<Bounds> {
        let claimant = self.claimant(command)?;
        let instrument = claimant.instrument?;
        let side = match *command {
            Command::Submit(ref order) => order.side,
            Command::Take(ref take) => take.side,
            Command::Bid(_) => Side::Buy,
            Command::AnnounceAuction(_) => Side::Sell,
            Command::PostBlock(ref block) => block.side,
            Command::AcceptBlock { block_id, .. } => {
                self.blocks.offers.get(&block_id)?.side.opposite()
            }
            Command::Amend { order_id, .. } => {
                self.books
                    .get(usize::from(instrument.0))?
                    .find(order_id)?
                    .1
                    .side
            }
            _ => return None,
        };
        let (_, holding) = self
            .accounts
            .get_with_holding(claimant.account, instrument)?;
        let gap = self
            .markets
            .get(usize::from(instrument.0))?
            .policy
            .opposite_side_gap_days;
        let (open_t, last_day) = match side {
            Side::Buy => (holding.reserved_t, holding.last_sell_day),
            Side::Sell => (holding.buying_t, holding.last_buy_day),
        };
        let days = last_day.map_or(0, |day| {
            day.saturating_add(gap).saturating_sub(self.trading_day)
        });
        Some(Bounds::new(i64::from(days), tonnes(open_t)))
    }

    /// A block refused 131 outside the block hours: the next block
    /// session of `instrument` (its open and close, seconds since local
    /// midnight: later today, else the day's first); `None` within the
    /// hours (the instrument's phase refused it) or without a calendar.
    fn next_block_session(&self, instrument: InstrumentId, time_ns: i64) -> Option<Bounds> {
        use chrono::Timelike;
        let local_s = self.local_seconds(time_ns)?;
        let rules = &self.markets.get(usize::from(instrument.0))?.block;
        if rules.in_hours(local_s) {
            return None;
        }
        let seconds = |t: chrono::NaiveTime| i64::from(t.num_seconds_from_midnight());
        let next = rules
            .sessions
            .iter()
            .find(|s| s.open.num_seconds_from_midnight() > local_s)
            .or_else(|| rules.sessions.first())?;
        Some(Bounds::new(seconds(next.open), seconds(next.close)))
    }

    /// A bid's limits: its auction's price range, or a lot up to the
    /// auction's quantity.
    fn bid_bounds(&self, auction_id: u64, reason: RejectReason) -> Option<Bounds> {
        let notice = &self.auctions.open.get(&auction_id)?.notice;
        Some(match reason {
            RejectReason::BidOutsideAuctionRange => {
                Bounds::new(notice.floor_ticks, notice.ceiling_ticks)
            }
            RejectReason::QuantityAboveMaximum => {
                let lot_t = self.books[usize::from(notice.instrument.0)].rules().lot_t;
                Bounds::new(tonnes(lot_t), tonnes(notice.quantity_t))
            }
            _ => return None,
        })
    }
}

/// What a command draws on: see [`Engine::claimant`].
struct Claimant {
    account: AccountId,
    instrument: Option<InstrumentId>,
    own_fen: i64,
    own_t: u64,
}

impl Claimant {
    const fn of(account: AccountId, instrument: Option<InstrumentId>) -> Self {
        Self {
            account,
            instrument,
            own_fen: 0,
            own_t: 0,
        }
    }
}

/// Tonnes as a bound (no order comes near `i64::MAX`).
fn tonnes(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}
