//! The journal's binary encoding of events.
//!
//! An event is a `u8` tag (below; `docs/JOURNAL.md` has the table) followed
//! by the fields of its struct in declaration order, with the primitives of
//! [`super::codec`]. Tags are stable: a new event gets a new tag, a retired
//! one leaves a gap.

use crate::event::{
    Accepted, AccountOpened, AccountStatusChanged, Amended, AuctionAllocation, AuctionClosed,
    BidAccepted, BidAmended, BidCancelled, Bounds, BrokerAdded, BrokerStatusChanged, Cancelled,
    CashMoved, DayClosed, DayStarted, Event, HoldingsMoved, LargeHolder, PhaseChanged,
    ReferencePriceSet, Rejected, Trade,
};

use super::codec::{Cursor, DecodeError, Put};
use super::codec_blocks as blocks;
use super::codec_commands::{put_notice, read_notice};

/// Stable tags of the event variants.
mod tag {
    pub const ACCEPTED: u8 = 0;
    pub const REJECTED: u8 = 1;
    pub const TRADE: u8 = 2;
    pub const CANCELLED: u8 = 3;
    pub const AMENDED: u8 = 4;
    pub const ACCOUNT_OPENED: u8 = 5;
    pub const CASH_DEPOSITED: u8 = 6;
    pub const CASH_WITHDRAWN: u8 = 7;
    pub const HOLDINGS_CREDITED: u8 = 8;
    pub const HOLDINGS_DEBITED: u8 = 9;
    pub const PHASE_CHANGED: u8 = 10;
    pub const REFERENCE_PRICE_SET: u8 = 11;
    pub const LARGE_HOLDER: u8 = 12;
    pub const DAY_CLOSED: u8 = 13;
    pub const DAY_STARTED: u8 = 14;
    pub const INSTRUMENT_LISTED: u8 = 15;
    pub const INSTRUMENT_REVISED: u8 = 16;
    pub const CALENDAR_SET: u8 = 17;
    /// A `Rejected` with the limits the command broke after its fields
    /// (2026-12-06); one without them keeps tag 1.
    pub const REJECTED_BEYOND: u8 = 18;
    // 20 to 29: membership.
    pub const BROKER_ADDED: u8 = 20;
    pub const BROKER_STATUS_CHANGED: u8 = 21;
    pub const ACCOUNT_STATUS_CHANGED: u8 = 22;
    // 40 to 49: block trading (`codec_blocks.rs`).
    // 50 to 59: one-way auctions.
    pub const AUCTION_ANNOUNCED: u8 = 50;
    pub const BID_ACCEPTED: u8 = 51;
    pub const BID_CANCELLED: u8 = 52;
    pub const BID_AMENDED: u8 = 53;
    pub const AUCTION_ALLOCATION: u8 = 54;
    pub const AUCTION_CLOSED: u8 = 55;
}

/// The fewest bytes any encoded event takes (`CalendarSet`: its tag).
pub(crate) const MIN_EVENT_BYTES: usize = 1;

/// Appends the encoding of an event: its tag, then its fields.
pub fn encode_event(event: &Event, out: &mut Vec<u8>) {
    match event {
        Event::Accepted(e) => {
            out.put_u8(tag::ACCEPTED);
            out.put_u64(e.order_id.0);
            out.put_u32(e.account.0);
            out.put_u16(e.instrument.0);
            out.put_u8(e.side as u8);
            out.put_u8(e.order_type as u8);
            out.put_u8(e.time_in_force as u8);
            out.put_i64(e.price_ticks);
            out.put_u64(e.quantity_t);
        }
        Event::Rejected(e) => {
            out.put_u8(if e.bounds.is_some() {
                tag::REJECTED_BEYOND
            } else {
                tag::REJECTED
            });
            out.put_u8(e.command as u8);
            match e.order_id {
                None => out.put_u8(0),
                Some(id) => {
                    out.put_u8(1);
                    out.put_u64(id.0);
                }
            }
            out.put_u16(e.reason.code());
            if let Some(bounds) = e.bounds {
                out.put_i64(bounds.low);
                out.put_i64(bounds.high);
            }
        }
        Event::Trade(e) => {
            out.put_u8(tag::TRADE);
            out.put_u64(e.trade_id);
            out.put_u64(e.seq);
            out.put_i64(e.time_ns);
            out.put_u16(e.instrument.0);
            out.put_i64(e.price_ticks);
            out.put_u64(e.quantity_t);
            out.put_u8(e.aggressor as u8);
            out.put_u64(e.maker_order_id.0);
            out.put_u32(e.maker_account.0);
            out.put_u64(e.maker_remaining_t);
            out.put_u64(e.taker_order_id.0);
            out.put_u32(e.taker_account.0);
            out.put_u64(e.taker_remaining_t);
        }
        Event::Cancelled(e) => {
            out.put_u8(tag::CANCELLED);
            out.put_u64(e.order_id.0);
            out.put_u32(e.account.0);
            out.put_u16(e.instrument.0);
            out.put_u8(e.side as u8);
            out.put_u64(e.cancelled_t);
            out.put_u8(e.cause as u8);
        }
        Event::Amended(e) => {
            out.put_u8(tag::AMENDED);
            out.put_u64(e.order_id.0);
            out.put_u32(e.account.0);
            out.put_u16(e.instrument.0);
            out.put_u8(e.side as u8);
            out.put_i64(e.price_ticks);
            out.put_u64(e.quantity_t);
            out.put_bool(e.priority_kept);
        }
        Event::AccountOpened(e) => {
            out.put_u8(tag::ACCOUNT_OPENED);
            out.put_u32(e.account.0);
            out.put_u8(e.participant as u8);
            out.put_u32(e.broker.0);
        }
        Event::CashDeposited(e) | Event::CashWithdrawn(e) => {
            out.put_u8(match event {
                Event::CashDeposited(_) => tag::CASH_DEPOSITED,
                _ => tag::CASH_WITHDRAWN,
            });
            out.put_u32(e.account.0);
            out.put_i64(e.amount_fen);
            out.put_i64(e.cash_fen);
        }
        Event::HoldingsCredited(e) | Event::HoldingsDebited(e) => {
            out.put_u8(match event {
                Event::HoldingsCredited(_) => tag::HOLDINGS_CREDITED,
                _ => tag::HOLDINGS_DEBITED,
            });
            out.put_u32(e.account.0);
            out.put_u16(e.instrument.0);
            out.put_u64(e.quantity_t);
            out.put_u64(e.balance_t);
        }
        Event::PhaseChanged(e) => {
            out.put_u8(tag::PHASE_CHANGED);
            out.put_u16(e.instrument.0);
            out.put_u8(e.phase as u8);
        }
        Event::ReferencePriceSet(e) | Event::InstrumentListed(e) | Event::InstrumentRevised(e) => {
            out.put_u8(match event {
                Event::InstrumentListed(_) => tag::INSTRUMENT_LISTED,
                Event::InstrumentRevised(_) => tag::INSTRUMENT_REVISED,
                _ => tag::REFERENCE_PRICE_SET,
            });
            out.put_u16(e.instrument.0);
            out.put_i64(e.price_ticks);
            out.put_i64(e.floor_ticks);
            out.put_i64(e.ceiling_ticks);
        }
        Event::LargeHolder(e) => {
            out.put_u8(tag::LARGE_HOLDER);
            out.put_u32(e.account.0);
            out.put_u16(e.instrument.0);
            out.put_u64(e.balance_t);
            out.put_u64(e.threshold_t);
        }
        Event::DayClosed(e) => {
            out.put_u8(tag::DAY_CLOSED);
            out.put_u32(e.trading_day);
            out.put_u16(e.instrument.0);
            out.put_i64(e.open_ticks);
            out.put_i64(e.high_ticks);
            out.put_i64(e.low_ticks);
            out.put_i64(e.close_ticks);
            out.put_u64(e.volume_t);
            out.put_i64(e.turnover_fen);
            out.put_u64(e.trade_count);
        }
        Event::DayStarted(e) => {
            out.put_u8(tag::DAY_STARTED);
            out.put_u32(e.trading_day);
        }
        Event::CalendarSet => out.put_u8(tag::CALENDAR_SET),
        Event::BrokerAdded(e) => {
            out.put_u8(tag::BROKER_ADDED);
            out.put_u32(e.broker.0);
        }
        Event::BrokerStatusChanged(e) => {
            out.put_u8(tag::BROKER_STATUS_CHANGED);
            out.put_u32(e.broker.0);
            out.put_u8(e.status as u8);
        }
        Event::AccountStatusChanged(e) => {
            out.put_u8(tag::ACCOUNT_STATUS_CHANGED);
            out.put_u32(e.account.0);
            out.put_u8(e.status as u8);
        }
        Event::BlockPosted(e) => blocks::encode_posted(e, out),
        Event::BlockAccepted(e) => blocks::encode_accepted(e, out),
        Event::BlockTraded(e) => blocks::encode_traded(e, out),
        Event::BlockCancelled(e) => blocks::encode_cancelled(e, out),
        _ => encode_auction_event(event, out),
    }
}

/// The events of one-way auctions (tags 50 to 59).
fn encode_auction_event(event: &Event, out: &mut Vec<u8>) {
    match event {
        Event::AuctionAnnounced(notice) => {
            out.put_u8(tag::AUCTION_ANNOUNCED);
            put_notice(out, notice);
        }
        Event::BidAccepted(e) => {
            out.put_u8(tag::BID_ACCEPTED);
            out.put_u64(e.auction_id);
            out.put_u64(e.bid_id.0);
            out.put_u32(e.account.0);
            out.put_u64(e.client_order_id);
            out.put_i64(e.price_ticks);
            out.put_u64(e.quantity_t);
        }
        Event::BidCancelled(e) => {
            out.put_u8(tag::BID_CANCELLED);
            out.put_u64(e.auction_id);
            out.put_u64(e.bid_id.0);
            out.put_u32(e.account.0);
            out.put_u64(e.client_order_id);
            out.put_u64(e.cancelled_t);
            out.put_u8(e.cause as u8);
        }
        Event::BidAmended(e) => {
            out.put_u8(tag::BID_AMENDED);
            out.put_u64(e.auction_id);
            out.put_u64(e.bid_id.0);
            out.put_u32(e.account.0);
            out.put_u64(e.client_order_id);
            out.put_i64(e.price_ticks);
            out.put_u64(e.quantity_t);
            out.put_bool(e.priority_kept);
        }
        Event::AuctionAllocation(e) => {
            out.put_u8(tag::AUCTION_ALLOCATION);
            out.put_u64(e.trade_id);
            out.put_u64(e.seq);
            out.put_i64(e.time_ns);
            out.put_u64(e.auction_id);
            out.put_u16(e.instrument.0);
            out.put_u64(e.bid_id.0);
            out.put_u32(e.buyer.0);
            out.put_u64(e.client_order_id);
            out.put_u32(e.seller.0);
            out.put_i64(e.price_ticks);
            out.put_u64(e.quantity_t);
        }
        Event::AuctionClosed(e) => {
            out.put_u8(tag::AUCTION_CLOSED);
            out.put_u64(e.auction_id);
            out.put_u16(e.instrument.0);
            out.put_u32(e.seller.0);
            out.put_u8(e.pricing as u8);
            out.put_i64(e.clearing_ticks);
            out.put_u64(e.sold_t);
            out.put_u64(e.unsold_t);
            out.put_i64(e.turnover_fen);
        }
        _ => unreachable!("encode_event encodes every other event"),
    }
}

/// Decodes one event that fills `bytes` exactly.
///
/// # Errors
/// A [`DecodeError`] naming the first field that is missing or invalid, or
/// [`DecodeError::TrailingBytes`] when bytes are left over.
pub fn decode_event(bytes: &[u8]) -> Result<Event, DecodeError> {
    let mut cursor = Cursor::new(bytes);
    let event = read_event(&mut cursor)?;
    cursor.finish("Event")?;
    Ok(event)
}

// Inlined into the entry decoder, as the reads are (see `Cursor::take`).
#[inline(always)]
pub(crate) fn read_event(c: &mut Cursor<'_>) -> Result<Event, DecodeError> {
    let offset = c.pos();
    Ok(match c.u8("Event")? {
        tag::ACCEPTED => Event::Accepted(Accepted {
            order_id: c.order_id("Accepted.order_id")?,
            account: c.account("Accepted.account")?,
            instrument: c.instrument("Accepted.instrument")?,
            side: c.side()?,
            order_type: c.order_type()?,
            time_in_force: c.time_in_force()?,
            price_ticks: c.i64("Accepted.price_ticks")?,
            quantity_t: c.u64("Accepted.quantity_t")?,
        }),
        tag @ (tag::REJECTED | tag::REJECTED_BEYOND) => Event::Rejected(Rejected {
            command: c.command_kind()?,
            order_id: if c.present("Rejected.order_id")? {
                Some(c.order_id("Rejected.order_id")?)
            } else {
                None
            },
            reason: c.reject_reason()?,
            bounds: if tag == tag::REJECTED_BEYOND {
                Some(Bounds {
                    low: c.i64("Rejected.low")?,
                    high: c.i64("Rejected.high")?,
                })
            } else {
                None
            },
        }),
        tag::TRADE => Event::Trade(Trade {
            trade_id: c.u64("Trade.trade_id")?,
            seq: c.u64("Trade.seq")?,
            time_ns: c.i64("Trade.time_ns")?,
            instrument: c.instrument("Trade.instrument")?,
            price_ticks: c.i64("Trade.price_ticks")?,
            quantity_t: c.u64("Trade.quantity_t")?,
            aggressor: c.side()?,
            maker_order_id: c.order_id("Trade.maker_order_id")?,
            maker_account: c.account("Trade.maker_account")?,
            maker_remaining_t: c.u64("Trade.maker_remaining_t")?,
            taker_order_id: c.order_id("Trade.taker_order_id")?,
            taker_account: c.account("Trade.taker_account")?,
            taker_remaining_t: c.u64("Trade.taker_remaining_t")?,
        }),
        tag::CANCELLED => Event::Cancelled(Cancelled {
            order_id: c.order_id("Cancelled.order_id")?,
            account: c.account("Cancelled.account")?,
            instrument: c.instrument("Cancelled.instrument")?,
            side: c.side()?,
            cancelled_t: c.u64("Cancelled.cancelled_t")?,
            cause: c.cancel_cause()?,
        }),
        tag::AMENDED => Event::Amended(Amended {
            order_id: c.order_id("Amended.order_id")?,
            account: c.account("Amended.account")?,
            instrument: c.instrument("Amended.instrument")?,
            side: c.side()?,
            price_ticks: c.i64("Amended.price_ticks")?,
            quantity_t: c.u64("Amended.quantity_t")?,
            priority_kept: c.bool("Amended.priority_kept")?,
        }),
        tag::ACCOUNT_OPENED => Event::AccountOpened(AccountOpened {
            account: c.account("AccountOpened.account")?,
            participant: c.participant()?,
            broker: c.broker("AccountOpened.broker")?,
        }),
        tag::CASH_DEPOSITED => Event::CashDeposited(read_cash(c)?),
        tag::CASH_WITHDRAWN => Event::CashWithdrawn(read_cash(c)?),
        tag::HOLDINGS_CREDITED => Event::HoldingsCredited(read_holdings(c)?),
        tag::HOLDINGS_DEBITED => Event::HoldingsDebited(read_holdings(c)?),
        tag::PHASE_CHANGED => Event::PhaseChanged(PhaseChanged {
            instrument: c.instrument("PhaseChanged.instrument")?,
            phase: c.phase()?,
        }),
        tag::REFERENCE_PRICE_SET => Event::ReferencePriceSet(read_band(c)?),
        tag::INSTRUMENT_LISTED => Event::InstrumentListed(read_band(c)?),
        tag::INSTRUMENT_REVISED => Event::InstrumentRevised(read_band(c)?),
        tag::CALENDAR_SET => Event::CalendarSet,
        tag::LARGE_HOLDER => Event::LargeHolder(LargeHolder {
            account: c.account("LargeHolder.account")?,
            instrument: c.instrument("LargeHolder.instrument")?,
            balance_t: c.u64("LargeHolder.balance_t")?,
            threshold_t: c.u64("LargeHolder.threshold_t")?,
        }),
        tag::DAY_CLOSED => Event::DayClosed(DayClosed {
            trading_day: c.u32("DayClosed.trading_day")?,
            instrument: c.instrument("DayClosed.instrument")?,
            open_ticks: c.i64("DayClosed.open_ticks")?,
            high_ticks: c.i64("DayClosed.high_ticks")?,
            low_ticks: c.i64("DayClosed.low_ticks")?,
            close_ticks: c.i64("DayClosed.close_ticks")?,
            volume_t: c.u64("DayClosed.volume_t")?,
            turnover_fen: c.i64("DayClosed.turnover_fen")?,
            trade_count: c.u64("DayClosed.trade_count")?,
        }),
        tag::DAY_STARTED => Event::DayStarted(DayStarted {
            trading_day: c.u32("DayStarted.trading_day")?,
        }),
        tag::BROKER_ADDED => Event::BrokerAdded(BrokerAdded {
            broker: c.broker("BrokerAdded.broker")?,
        }),
        tag::BROKER_STATUS_CHANGED => Event::BrokerStatusChanged(BrokerStatusChanged {
            broker: c.broker("BrokerStatusChanged.broker")?,
            status: c.status()?,
        }),
        tag::ACCOUNT_STATUS_CHANGED => Event::AccountStatusChanged(AccountStatusChanged {
            account: c.account("AccountStatusChanged.account")?,
            status: c.status()?,
        }),
        blocks::tag::BLOCK_POSTED => Event::BlockPosted(blocks::read_posted(c)?),
        blocks::tag::BLOCK_ACCEPTED => Event::BlockAccepted(blocks::read_accepted(c)?),
        blocks::tag::BLOCK_TRADED => Event::BlockTraded(blocks::read_traded(c)?),
        blocks::tag::BLOCK_CANCELLED => Event::BlockCancelled(blocks::read_cancelled(c)?),
        tag::AUCTION_ANNOUNCED => Event::AuctionAnnounced(read_notice(c)?),
        tag::BID_ACCEPTED => Event::BidAccepted(BidAccepted {
            auction_id: c.u64("BidAccepted.auction_id")?,
            bid_id: c.order_id("BidAccepted.bid_id")?,
            account: c.account("BidAccepted.account")?,
            client_order_id: c.u64("BidAccepted.client_order_id")?,
            price_ticks: c.i64("BidAccepted.price_ticks")?,
            quantity_t: c.u64("BidAccepted.quantity_t")?,
        }),
        tag::BID_CANCELLED => Event::BidCancelled(BidCancelled {
            auction_id: c.u64("BidCancelled.auction_id")?,
            bid_id: c.order_id("BidCancelled.bid_id")?,
            account: c.account("BidCancelled.account")?,
            client_order_id: c.u64("BidCancelled.client_order_id")?,
            cancelled_t: c.u64("BidCancelled.cancelled_t")?,
            cause: c.cancel_cause()?,
        }),
        tag::BID_AMENDED => Event::BidAmended(BidAmended {
            auction_id: c.u64("BidAmended.auction_id")?,
            bid_id: c.order_id("BidAmended.bid_id")?,
            account: c.account("BidAmended.account")?,
            client_order_id: c.u64("BidAmended.client_order_id")?,
            price_ticks: c.i64("BidAmended.price_ticks")?,
            quantity_t: c.u64("BidAmended.quantity_t")?,
            priority_kept: c.bool("BidAmended.priority_kept")?,
        }),
        tag::AUCTION_ALLOCATION => Event::AuctionAllocation(AuctionAllocation {
            trade_id: c.u64("AuctionAllocation.trade_id")?,
            seq: c.u64("AuctionAllocation.seq")?,
            time_ns: c.i64("AuctionAllocation.time_ns")?,
            auction_id: c.u64("AuctionAllocation.auction_id")?,
            instrument: c.instrument("AuctionAllocation.instrument")?,
            bid_id: c.order_id("AuctionAllocation.bid_id")?,
            buyer: c.account("AuctionAllocation.buyer")?,
            client_order_id: c.u64("AuctionAllocation.client_order_id")?,
            seller: c.account("AuctionAllocation.seller")?,
            price_ticks: c.i64("AuctionAllocation.price_ticks")?,
            quantity_t: c.u64("AuctionAllocation.quantity_t")?,
        }),
        tag::AUCTION_CLOSED => Event::AuctionClosed(AuctionClosed {
            auction_id: c.u64("AuctionClosed.auction_id")?,
            instrument: c.instrument("AuctionClosed.instrument")?,
            seller: c.account("AuctionClosed.seller")?,
            pricing: c.pricing()?,
            clearing_ticks: c.i64("AuctionClosed.clearing_ticks")?,
            sold_t: c.u64("AuctionClosed.sold_t")?,
            unsold_t: c.u64("AuctionClosed.unsold_t")?,
            turnover_fen: c.i64("AuctionClosed.turnover_fen")?,
        }),
        other => {
            return Err(DecodeError::UnknownTag {
                what: "Event",
                tag: other.into(),
                offset,
            })
        }
    })
}

fn read_band(c: &mut Cursor<'_>) -> Result<ReferencePriceSet, DecodeError> {
    Ok(ReferencePriceSet {
        instrument: c.instrument("ReferencePriceSet.instrument")?,
        price_ticks: c.i64("ReferencePriceSet.price_ticks")?,
        floor_ticks: c.i64("ReferencePriceSet.floor_ticks")?,
        ceiling_ticks: c.i64("ReferencePriceSet.ceiling_ticks")?,
    })
}

fn read_cash(c: &mut Cursor<'_>) -> Result<CashMoved, DecodeError> {
    Ok(CashMoved {
        account: c.account("CashMoved.account")?,
        amount_fen: c.i64("CashMoved.amount_fen")?,
        cash_fen: c.i64("CashMoved.cash_fen")?,
    })
}

fn read_holdings(c: &mut Cursor<'_>) -> Result<HoldingsMoved, DecodeError> {
    Ok(HoldingsMoved {
        account: c.account("HoldingsMoved.account")?,
        instrument: c.instrument("HoldingsMoved.instrument")?,
        quantity_t: c.u64("HoldingsMoved.quantity_t")?,
        balance_t: c.u64("HoldingsMoved.balance_t")?,
    })
}
