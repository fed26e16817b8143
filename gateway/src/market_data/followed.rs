//! One instrument a feed subscriber follows: its view as the batches
//! made it, what the subscriber was shown of it, and the messages that
//! take the subscriber from the one to the other (a snapshot, the changes
//! of a turn, or a conflated write of several).

use std::collections::BTreeMap;

use super::state::{BlockQuote, LevelTotals, OrderLevel, Update, View};
use crate::protocol::feed::{FeedMessage, OrderEntry};

/// One instrument a subscriber follows.
#[derive(Debug)]
pub(super) struct Followed {
    pub(super) id: u16,
    /// Its state as the batches so far made it.
    pub(super) view: View,
    /// The messages about it sent so far (and left out, when conflated).
    pub(super) seq: u64,
    /// What the subscriber was shown: the top levels of each side.
    pub(super) shown: [BTreeMap<i64, LevelTotals>; 2],
    /// Whether levels changed since they were last shown.
    pub(super) levels_moved: bool,
    /// Levels that changed since they were last shown, when the whole
    /// book is shown (then only these are compared).
    pub(super) touched: Vec<(cetx_engine::Side, i64)>,
    /// Whether the figures changed since they were last sent.
    pub(super) figures_moved: bool,
    /// Whether the subscriber asked for the order view.
    pub(super) with_orders: bool,
    /// The order view's levels (bids, asks) as the batches made them.
    pub(super) orders_now: [BTreeMap<i64, OrderLevel>; 2],
    /// The order view's levels as the subscriber was shown them.
    pub(super) orders_shown: [BTreeMap<i64, OrderLevel>; 2],
}

impl Followed {
    /// Instrument `id`, nothing shown yet; with the order view when
    /// `with_orders`.
    pub(super) fn new(id: u16, with_orders: bool) -> Self {
        Self {
            id,
            view: View::default(),
            seq: 0,
            shown: [BTreeMap::new(), BTreeMap::new()],
            levels_moved: false,
            touched: Vec::new(),
            figures_moved: false,
            with_orders,
            orders_now: [BTreeMap::new(), BTreeMap::new()],
            orders_shown: [BTreeMap::new(), BTreeMap::new()],
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Whether a change at this level can change the top `depth` levels
    /// shown: it is among them or better, or fewer are shown.
    pub(super) fn may_show(&self, depth: usize, side: cetx_engine::Side, price_ticks: i64) -> bool {
        let i = usize::from(side == cetx_engine::Side::Sell);
        let shown = &self.shown[i];
        if shown.len() < depth {
            return true;
        }
        match side {
            cetx_engine::Side::Buy => shown
                .first_key_value()
                .is_none_or(|(&worst, _)| price_ticks >= worst),
            cetx_engine::Side::Sell => shown
                .last_key_value()
                .is_none_or(|(&worst, _)| price_ticks <= worst),
        }
    }

    /// The message for a trade, phase, band, end of day, block offer or
    /// auction.
    pub(super) fn message(&mut self, update: &Update) -> FeedMessage {
        let instrument = self.id;
        let seq = self.next_seq();
        match *update {
            Update::Trade {
                trade_id,
                price_ticks,
                quantity_t,
                aggressor,
                time_ns,
            } => FeedMessage::Trade {
                instrument,
                seq,
                trade_id,
                price_ticks,
                quantity_t,
                aggressor: aggressor.into(),
                time_ns,
            },
            Update::Phase(phase) => FeedMessage::Phase {
                instrument,
                seq,
                phase: phase.into(),
            },
            Update::Band {
                reference_ticks,
                floor_ticks,
                ceiling_ticks,
            } => FeedMessage::Band {
                instrument,
                seq,
                reference_ticks,
                floor_ticks,
                ceiling_ticks,
            },
            Update::EndOfDay {
                trading_day,
                close_ticks,
                day,
                next_floor_ticks,
                next_ceiling_ticks,
            } => FeedMessage::EndOfDay {
                instrument,
                seq,
                trading_day,
                close_ticks,
                day,
                next_floor_ticks,
                next_ceiling_ticks,
            },
            Update::AuctionAnnounced(n) => FeedMessage::AuctionAnnounced {
                instrument,
                seq,
                auction_id: n.auction_id,
                quantity_t: n.quantity_t,
                floor_ticks: n.floor_ticks,
                ceiling_ticks: n.ceiling_ticks,
                start_ns: n.start_ns,
                end_ns: n.end_ns,
                pricing: n.pricing as u8,
            },
            Update::AuctionResult(c) => FeedMessage::AuctionResult {
                instrument,
                seq,
                auction_id: c.auction_id,
                pricing: c.pricing as u8,
                clearing_ticks: c.clearing_ticks,
                sold_t: c.sold_t,
                unsold_t: c.unsold_t,
                turnover_fen: c.turnover_fen,
            },
            Update::BlockOffer { block_id, offer } => block_offer(instrument, seq, block_id, offer),
            Update::Level { .. } | Update::Statistics(_) | Update::Orders { .. } => {
                FeedMessage::Heartbeat
            }
        }
    }

    /// The snapshot and its levels.
    pub(super) fn snapshot(&mut self, depth: usize, out: &mut Vec<FeedMessage>) {
        let top = |view: &View, side| view.levels(side).take(depth).collect::<BTreeMap<_, _>>();
        let shown = [
            top(&self.view, cetx_engine::Side::Buy),
            top(&self.view, cetx_engine::Side::Sell),
        ];
        let v = &self.view;
        let message = FeedMessage::Snapshot {
            instrument: self.id,
            symbol: v.symbol.as_str().into(),
            seq: self.seq + 1,
            phase: v.phase.into(),
            reference_ticks: v.reference_ticks,
            floor_ticks: v.floor_ticks,
            ceiling_ticks: v.ceiling_ticks,
            step_ticks: v.step_ticks,
            day: v.day,
            bid_levels: u32::try_from(shown[0].len()).unwrap_or(u32::MAX),
            ask_levels: u32::try_from(shown[1].len()).unwrap_or(u32::MAX),
        };
        self.seq += 1;
        out.push(message);
        for (i, side) in [cetx_engine::Side::Buy, cetx_engine::Side::Sell]
            .into_iter()
            .enumerate()
        {
            // Best first: bids from the highest price, asks from the lowest.
            let levels: Vec<_> = if i == 0 {
                shown[i].iter().rev().collect()
            } else {
                shown[i].iter().collect()
            };
            for (&price_ticks, level) in levels {
                let seq = self.next_seq();
                out.push(level_message(self.id, seq, side, price_ticks, *level));
            }
        }
        self.shown = shown;
        self.levels_moved = false;
        self.figures_moved = false;
        // The order view follows its levels, all of it anew.
        self.orders_shown = [BTreeMap::new(), BTreeMap::new()];
        self.order_changes(out);
        // Then the open block offers, by id.
        let offers: Vec<(u64, BlockQuote)> =
            self.view.offers.iter().map(|(&id, &o)| (id, o)).collect();
        for (block_id, offer) in offers {
            let seq = self.next_seq();
            out.push(block_offer(self.id, seq, block_id, offer));
        }
        // Then the open auctions' announcements, by id: a bidder learns of
        // an auction only here or from its announcement; then the results
        // of those closed today, by id.
        let auctions: Vec<Update> = self
            .view
            .auctions
            .values()
            .map(|&notice| Update::AuctionAnnounced(notice))
            .chain(
                self.view
                    .closed_auctions
                    .values()
                    .map(|&closed| Update::AuctionResult(closed)),
            )
            .collect();
        for update in &auctions {
            let message = self.message(update);
            out.push(message);
        }
    }

    /// The block offers that differ between what was shown (`before`) and
    /// the view now: those that ended (as 0 t), then those new or changed.
    pub(super) fn offer_changes(
        &mut self,
        before: &BTreeMap<u64, BlockQuote>,
        out: &mut Vec<FeedMessage>,
    ) {
        let ended: Vec<(u64, BlockQuote)> = before
            .iter()
            .filter(|(id, _)| !self.view.offers.contains_key(id))
            .map(|(&id, &o)| (id, BlockQuote { quantity_t: 0, ..o }))
            .collect();
        let now: Vec<(u64, BlockQuote)> = self
            .view
            .offers
            .iter()
            .filter(|&(id, o)| before.get(id) != Some(o))
            .map(|(&id, &o)| (id, o))
            .collect();
        for (block_id, offer) in ended.into_iter().chain(now) {
            let seq = self.next_seq();
            out.push(block_offer(self.id, seq, block_id, offer));
        }
    }

    /// The order view's levels that differ from what was shown: those that
    /// left it (as empty), then those that changed or came into view, each
    /// side best first.
    fn order_changes(&mut self, out: &mut Vec<FeedMessage>) {
        if !self.with_orders {
            return;
        }
        for (i, side) in [cetx_engine::Side::Buy, cetx_engine::Side::Sell]
            .into_iter()
            .enumerate()
        {
            let gone: Vec<i64> = self.orders_shown[i]
                .keys()
                .filter(|p| !self.orders_now[i].contains_key(p))
                .copied()
                .collect();
            let mut changed: Vec<(i64, OrderLevel)> = self.orders_now[i]
                .iter()
                .filter(|(p, level)| self.orders_shown[i].get(p) != Some(level))
                .map(|(&p, level)| (p, level.clone()))
                .collect();
            if side == cetx_engine::Side::Buy {
                changed.reverse();
            }
            for price_ticks in gone {
                let seq = self.next_seq();
                out.push(orders_message(
                    self.id,
                    seq,
                    side,
                    price_ticks,
                    &OrderLevel::default(),
                ));
            }
            for (price_ticks, level) in &changed {
                let seq = self.next_seq();
                out.push(orders_message(self.id, seq, side, *price_ticks, level));
            }
            self.orders_shown[i].clone_from(&self.orders_now[i]);
        }
    }

    /// The levels that changed within the depth, and the figures if they
    /// moved.
    pub(super) fn changes(&mut self, depth: usize, out: &mut Vec<FeedMessage>) {
        if !self.levels_moved && !self.touched.is_empty() {
            // The whole book is shown: compare only the levels that moved.
            let mut touched = std::mem::take(&mut self.touched);
            touched.sort_unstable_by_key(|&(side, price)| (side == cetx_engine::Side::Sell, price));
            touched.dedup();
            for &(side, price_ticks) in &touched {
                let i = usize::from(side == cetx_engine::Side::Sell);
                let level = self.view.level(side, price_ticks);
                let before = self.shown[i].get(&price_ticks).copied().unwrap_or_default();
                if level == before {
                    continue;
                }
                if level.quantity_t == 0 {
                    self.shown[i].remove(&price_ticks);
                } else {
                    self.shown[i].insert(price_ticks, level);
                }
                let seq = self.next_seq();
                out.push(level_message(self.id, seq, side, price_ticks, level));
            }
            touched.clear();
            self.touched = touched;
        }
        if self.levels_moved {
            self.touched.clear();
            for (i, side) in [cetx_engine::Side::Buy, cetx_engine::Side::Sell]
                .into_iter()
                .enumerate()
            {
                let now: BTreeMap<i64, LevelTotals> = self.view.levels(side).take(depth).collect();
                let before = std::mem::take(&mut self.shown[i]);
                for &price_ticks in before.keys() {
                    if !now.contains_key(&price_ticks) {
                        let seq = self.next_seq();
                        out.push(level_message(
                            self.id,
                            seq,
                            side,
                            price_ticks,
                            LevelTotals::default(),
                        ));
                    }
                }
                for (&price_ticks, level) in &now {
                    if before.get(&price_ticks) != Some(level) {
                        let seq = self.next_seq();
                        out.push(level_message(self.id, seq, side, price_ticks, *level));
                    }
                }
                self.shown[i] = now;
            }
            self.levels_moved = false;
        }
        self.order_changes(out);
        if self.figures_moved {
            let seq = self.next_seq();
            out.push(FeedMessage::Statistics {
                instrument: self.id,
                seq,
                day: self.view.day,
            });
            self.figures_moved = false;
        }
    }
}

/// The message of a public block offer as it is now.
const fn block_offer(instrument: u16, seq: u64, block_id: u64, offer: BlockQuote) -> FeedMessage {
    FeedMessage::BlockOffer {
        instrument,
        seq,
        block_id,
        side: match offer.side {
            cetx_engine::Side::Buy => crate::protocol::Side::Buy,
            cetx_engine::Side::Sell => crate::protocol::Side::Sell,
        },
        price_ticks: offer.price_ticks,
        quantity_t: offer.quantity_t,
    }
}

fn level_message(
    instrument: u16,
    seq: u64,
    side: cetx_engine::Side,
    price_ticks: i64,
    level: LevelTotals,
) -> FeedMessage {
    FeedMessage::Level {
        instrument,
        seq,
        side: side.into(),
        price_ticks,
        quantity_t: level.quantity_t,
        orders: level.orders,
    }
}

fn orders_message(
    instrument: u16,
    seq: u64,
    side: cetx_engine::Side,
    price_ticks: i64,
    level: &OrderLevel,
) -> FeedMessage {
    FeedMessage::Orders {
        instrument,
        seq,
        side: side.into(),
        price_ticks,
        order_count: level.order_count,
        orders: level.orders.iter().copied().collect::<Vec<OrderEntry>>(),
    }
}
