//! Block-trade reports: who is told what about each block event, from the
//! journal alone (the command and its events).

use cetx_engine::{
    AccountId, BrokerId, CancelCause, Command, CommandKind, Event, InstrumentId, Rejected,
    Side as EngineSide,
};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::{rejection, Asked, Reports};
use crate::protocol::{ServerFrame, ServerMessage, Side};

/// One account's part in an offer or a deal: where to send its reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Party {
    broker: BrokerId,
    account: AccountId,
    client_order_id: u64,
}

/// An open offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct OfferInfo {
    poster: Option<Party>,
    instrument: InstrumentId,
    side: EngineSide,
    price_ticks: i64,
}

/// A deal waiting for confirmation (or being settled in this entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct DealInfo {
    block_id: u64,
    poster: Option<Party>,
    acceptor: Option<Party>,
    instrument: InstrumentId,
    poster_side: EngineSide,
    price_ticks: i64,
    quantity_t: u64,
    remaining_t: u64,
}

/// Today's open offers and pending deals, by id (looked up, never
/// iterated).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct BlockReports {
    offers: FxHashMap<u64, OfferInfo>,
    deals: FxHashMap<u64, DealInfo>,
}

impl BlockReports {
    /// Forgets every offer and deal: a new trading day starts with none.
    pub(super) fn clear(&mut self) {
        self.offers.clear();
        self.deals.clear();
    }
}

impl Reports {
    /// The broker that acts for `account`, if known (and, reading one
    /// broker's reports back, if it is that broker).
    fn party(&self, account: AccountId, client_order_id: u64) -> Option<Party> {
        self.account_brokers
            .get(&account)
            .map(|&(broker, _)| Party {
                broker,
                account,
                client_order_id,
            })
    }

    /// The reports of one block event of an entry whose command is
    /// `command`.
    pub(super) fn on_block(
        &mut self,
        command: &Command,
        event: &Event,
        out: &mut Vec<(BrokerId, ServerFrame)>,
    ) {
        match *event {
            Event::BlockPosted(p) => {
                let client_order_id = match command {
                    Command::PostBlock(block) => block.client_order_id,
                    _ => 0,
                };
                let poster = self.party(p.account, client_order_id);
                let symbol = self.symbol(p.instrument);
                let report = |party: Party| ServerMessage::BlockPosted {
                    client_order_id: party.client_order_id,
                    block_id: p.block_id,
                    account: party.account.0,
                    symbol: symbol.clone(),
                    side: Side::from(p.side),
                    price_ticks: p.price_ticks,
                    quantity_t: p.quantity_t,
                    directed: p.counterparty.is_some(),
                };
                if let Some(poster) = poster {
                    self.push(out, poster.broker, report(poster));
                }
                if let Some(counterparty) = p.counterparty.and_then(|c| self.party(c, 0)) {
                    self.push(out, counterparty.broker, report(counterparty));
                }
                self.blocks.offers.insert(
                    p.block_id,
                    OfferInfo {
                        poster,
                        instrument: p.instrument,
                        side: p.side,
                        price_ticks: p.price_ticks,
                    },
                );
            }
            Event::BlockAccepted(a) => {
                let Some(offer) = self.blocks.offers.get(&a.block_id).copied() else {
                    return;
                };
                let client_order_id = match command {
                    Command::AcceptBlock {
                        client_order_id, ..
                    } => *client_order_id,
                    _ => 0,
                };
                let deal = DealInfo {
                    block_id: a.block_id,
                    poster: offer.poster,
                    acceptor: self.party(a.account, client_order_id),
                    instrument: offer.instrument,
                    poster_side: offer.side,
                    price_ticks: offer.price_ticks,
                    quantity_t: a.quantity_t,
                    remaining_t: a.remaining_t,
                };
                if a.remaining_t == 0 {
                    self.blocks.offers.remove(&a.block_id);
                }
                self.blocks.deals.insert(a.deal_id, deal);
                if a.pending {
                    // Reported now as pending; the trade, if the exchange
                    // confirms, is reported by its own entry.
                    self.deal_reports(out, a.deal_id, &deal, None);
                }
            }
            Event::BlockTraded(t) => {
                if let Some(deal) = self.blocks.deals.remove(&t.deal_id) {
                    self.deal_reports(out, t.deal_id, &deal, Some((t.trade_id, t.time_ns)));
                }
            }
            Event::BlockCancelled(c) => self.block_cancelled(out, c),
            _ => {}
        }
    }

    /// `BlockRejected` to the broker of the account a refused block
    /// command names; `true` if the command was one.
    pub(super) fn block_rejected(
        &mut self,
        command: &Command,
        rejected: &Rejected,
        out: &mut Vec<(BrokerId, ServerFrame)>,
    ) -> bool {
        let (account, client_order_id, request) = match (rejected.command, command) {
            (CommandKind::PostBlock, Command::PostBlock(block)) => {
                (block.account, block.client_order_id, 0)
            }
            (
                CommandKind::AcceptBlock,
                Command::AcceptBlock {
                    account,
                    client_order_id,
                    ..
                },
            ) => (*account, *client_order_id, 1),
            (
                CommandKind::CancelBlock,
                Command::CancelBlock {
                    account,
                    client_order_id,
                    ..
                },
            ) => (*account, *client_order_id, 2),
            _ => return false,
        };
        if let Some(party) = self.party(account, client_order_id) {
            let message = rejection(
                client_order_id,
                Asked::Block(request),
                rejected.reason,
                rejected.bounds,
            );
            self.push(out, party.broker, message);
        }
        true
    }

    fn block_cancelled(
        &mut self,
        out: &mut Vec<(BrokerId, ServerFrame)>,
        c: cetx_engine::BlockCancelled,
    ) {
        let report = |party: Party| ServerMessage::BlockCancelled {
            client_order_id: party.client_order_id,
            block_id: c.block_id,
            account: party.account.0,
            cancelled_t: c.cancelled_t,
            cause: c.cause as u8,
        };
        if let Some(offer) = self.blocks.offers.remove(&c.block_id) {
            if let Some(poster) = offer.poster {
                self.push(out, poster.broker, report(poster));
            }
        } else if let Some(deal) = self.blocks.deals.remove(&c.block_id) {
            for party in [deal.poster, deal.acceptor].into_iter().flatten() {
                self.push(out, party.broker, report(party));
            }
        }
        debug_assert!(
            c.cause != CancelCause::Refused || !self.blocks.deals.contains_key(&c.block_id),
            "a refused deal is forgotten"
        );
    }

    /// `BlockDeal` to the poster's broker, then the acceptor's: pending
    /// (status 1, `trade_id` and `time_ns` 0) or traded (status 0).
    fn deal_reports(
        &mut self,
        out: &mut Vec<(BrokerId, ServerFrame)>,
        deal_id: u64,
        deal: &DealInfo,
        traded: Option<(u64, i64)>,
    ) {
        let symbol = self.symbol(deal.instrument);
        let (trade_id, time_ns) = traded.unwrap_or((0, 0));
        let status = u8::from(traded.is_none());
        let sides = [
            (deal.poster, deal.poster_side),
            (deal.acceptor, deal.poster_side.opposite()),
        ];
        for (party, side) in sides {
            let Some(party) = party else { continue };
            let message = ServerMessage::BlockDeal {
                client_order_id: party.client_order_id,
                block_id: deal.block_id,
                deal_id,
                trade_id,
                account: party.account.0,
                symbol: symbol.clone(),
                side: Side::from(side),
                price_ticks: deal.price_ticks,
                quantity_t: deal.quantity_t,
                remaining_t: deal.remaining_t,
                status,
                time_ns,
            };
            self.push(out, party.broker, message);
        }
    }
}
