//! The binary encoding of [`EngineState`], for snapshots.
//!
//! Same primitives as the rest of the journal ([`super::codec`]); fields in
//! declaration order, lists as a `u32` count and their items. The encoding
//! belongs to journal format version [`super::format::FORMAT_VERSION`]: a
//! snapshot file should record that version next to it.

use crate::account::{Account, Holding};
use crate::auction::{AuctionBid, Auctions, OpenAuction};
use crate::book::RestingOrder;
use crate::day_stats::DayStats;
use crate::membership::Membership;
use crate::state::{AccountState, BlockState, EngineState, InstrumentState};

use super::codec::{Cursor, DecodeError, Put};
use super::codec_blocks::{encode_block_state, read_block_state};
use super::codec_commands::{
    put_new_broker, put_notice, put_transfer_terms, read_new_broker, read_notice,
    read_transfer_terms,
};
use super::codec_market::{
    encode_calendar, encode_spec, encode_spec_auctions, put_str, read_calendar, read_spec,
    read_spec_auctions, read_str, MIN_SPEC_BYTES,
};

/// Encoded size of a [`RestingOrder`].
const RESTING_ORDER_BYTES: usize = 8 + 4 + 1 + 8 + 8;
/// Smallest encoded [`Holding`] (both options absent).
const MIN_HOLDING_BYTES: usize = 4 * 8 + 2;
/// Smallest encoded [`AccountState`] (no holdings).
const MIN_ACCOUNT_BYTES: usize = 4 + 1 + 4 + 8 + 8 + 4;
/// Smallest encoded [`InstrumentState`] (no resting orders).
const MIN_INSTRUMENT_BYTES: usize = MIN_SPEC_BYTES + 1 + 8 + DAY_STATS_BYTES + 4 + 4;
/// Smallest encoded [`crate::NewBroker`] (an empty name).
const MIN_BROKER_BYTES: usize = 4 + 4 + 4 + 16 + 32;
/// Smallest encoded [`DayStats`] (before version 7, without the last
/// trade price).
const DAY_STATS_BYTES: usize = 8 + 8 + 8 + 8 + 16 + 8;

/// Appends the encoding of an engine state.
pub fn encode_state(state: &EngineState, out: &mut Vec<u8>) {
    out.put_u32(state.trading_day);
    put_option_u64(out, state.last_order_id.map(|id| id.0));
    out.put_u64(state.next_trade_id);
    match &state.calendar {
        None => out.put_u8(0),
        Some(calendar) => {
            out.put_u8(1);
            encode_calendar(calendar, out);
        }
    }
    out.put_count(state.instruments.len());
    for instrument in &state.instruments {
        encode_spec(&instrument.spec, out);
        out.put_u8(instrument.phase as u8);
        out.put_i64(instrument.reference_ticks);
        put_day_stats(out, &instrument.today);
        for side in [&instrument.bids, &instrument.asks] {
            out.put_count(side.len());
            for order in side {
                out.put_u64(order.order_id.0);
                out.put_u32(order.account.0);
                out.put_u8(order.side as u8);
                out.put_i64(order.price_ticks);
                out.put_u64(order.quantity_t);
            }
        }
    }
    out.put_count(state.accounts.len());
    for AccountState { account, holdings } in &state.accounts {
        out.put_u32(account.id.0);
        out.put_u8(account.participant as u8);
        out.put_u32(account.broker.0);
        out.put_i64(account.cash_fen);
        out.put_i64(account.reserved_fen);
        out.put_count(holdings.len());
        for holding in holdings {
            out.put_u64(holding.balance_t);
            out.put_u64(holding.reserved_t);
            out.put_u64(holding.locked_t);
            out.put_u64(holding.buying_t);
            put_option_u32(out, holding.last_buy_day);
            put_option_u32(out, holding.last_sell_day);
        }
    }
    out.put_count(state.references.len());
    for (reference, terms, trading_day) in &state.references {
        put_str(out, reference);
        match terms {
            Some(terms) => {
                out.put_u8(1);
                put_transfer_terms(out, terms);
            }
            None => out.put_u8(0),
        }
        out.put_u32(*trading_day);
    }
    encode_membership(&state.membership, out);
    put_option_u32(out, state.closed_date);
    encode_block_state(&state.blocks, out);
    encode_auctions(state, out);
}

/// Encoded size of an [`AuctionBid`].
const AUCTION_BID_BYTES: usize = 8 + 4 + 8 + 8 + 8 + 8;
/// Encoded size of an [`crate::AuctionNotice`].
const NOTICE_BYTES: usize = 8 + 2 + 4 + 8 + 8 + 8 + 8 + 8 + 1;

/// Snapshot version 5's auctions section: each instrument's auction
/// fields (the spec above leaves them out), the highest auction id
/// announced, then each open auction's notice and bids.
fn encode_auctions(state: &EngineState, out: &mut Vec<u8>) {
    out.put_count(state.instruments.len());
    for instrument in &state.instruments {
        encode_spec_auctions(&instrument.spec, out);
    }
    put_option_u64(out, state.auctions.last_auction_id);
    out.put_count(state.auctions.open.len());
    for auction in state.auctions.open.values() {
        put_notice(out, &auction.notice);
        out.put_count(auction.bids.len());
        for bid in &auction.bids {
            out.put_u64(bid.bid_id.0);
            out.put_u32(bid.account.0);
            out.put_i64(bid.price_ticks);
            out.put_u64(bid.quantity_t);
            out.put_u64(bid.client_order_id);
            out.put_u64(bid.priority_seq);
        }
    }
}

fn read_auctions(
    c: &mut Cursor<'_>,
    instruments: &mut [InstrumentState],
) -> Result<Auctions, DecodeError> {
    let count = c.count("Auctions.instruments", 2)?;
    if count != instruments.len() {
        return Err(DecodeError::InvalidValue {
            what: "Auctions.instruments",
            value: count as u64,
            offset: c.pos(),
        });
    }
    for instrument in instruments.iter_mut() {
        read_spec_auctions(c, &mut instrument.spec)?;
    }
    let mut auctions = Auctions {
        last_auction_id: if c.present("Auctions.last_auction_id")? {
            Some(c.u64("Auctions.last_auction_id")?)
        } else {
            None
        },
        ..Auctions::default()
    };
    let count = c.count("Auctions.open", NOTICE_BYTES + 4)?;
    for _ in 0..count {
        let notice = read_notice(c)?;
        let bids_count = c.count("OpenAuction.bids", AUCTION_BID_BYTES)?;
        let mut bids = Vec::with_capacity(bids_count);
        for _ in 0..bids_count {
            bids.push(AuctionBid {
                bid_id: c.order_id("AuctionBid.bid_id")?,
                account: c.account("AuctionBid.account")?,
                price_ticks: c.i64("AuctionBid.price_ticks")?,
                quantity_t: c.u64("AuctionBid.quantity_t")?,
                client_order_id: c.u64("AuctionBid.client_order_id")?,
                priority_seq: c.u64("AuctionBid.priority_seq")?,
            });
        }
        auctions
            .open
            .insert(notice.auction_id, OpenAuction { notice, bids });
    }
    Ok(auctions)
}

/// Snapshot version 3's last part: the brokers added by command, then
/// the brokers and the accounts that are not active.
fn encode_membership(m: &Membership, out: &mut Vec<u8>) {
    out.put_count(m.brokers.len());
    for broker in m.brokers.values() {
        put_new_broker(out, broker);
    }
    out.put_count(m.broker_status.len());
    for (broker, status) in &m.broker_status {
        out.put_u32(broker.0);
        out.put_u8(*status as u8);
    }
    out.put_count(m.account_status.len());
    for (account, status) in &m.account_status {
        out.put_u32(account.0);
        out.put_u8(*status as u8);
    }
}

fn read_membership(c: &mut Cursor<'_>) -> Result<Membership, DecodeError> {
    let mut m = Membership::default();
    let count = c.count("Membership.brokers", MIN_BROKER_BYTES)?;
    for _ in 0..count {
        let broker = read_new_broker(c)?;
        m.brokers.insert(broker.broker, broker);
    }
    let count = c.count("Membership.broker_status", 5)?;
    for _ in 0..count {
        let broker = c.broker("Membership.broker_status")?;
        m.broker_status.insert(broker, c.status()?);
    }
    let count = c.count("Membership.account_status", 5)?;
    for _ in 0..count {
        let account = c.account("Membership.account_status")?;
        m.account_status.insert(account, c.status()?);
    }
    Ok(m)
}

/// The version of the engine-state encoding [`encode_state`] writes: the
/// snapshot version that last changed it (a snapshot of version 8 holds
/// this state after its record's checksum and offset, one of version 7
/// after the checksum; `super::snapshot::SNAPSHOT_VERSION`).
pub const STATE_VERSION: u32 = 7;

/// Decodes an engine state that fills `bytes` exactly.
///
/// # Errors
/// A [`DecodeError`] naming the first field that is missing or invalid, or
/// [`DecodeError::TrailingBytes`] when bytes are left over. It checks the
/// encoding only: whether the state fits a config is
/// [`crate::Engine::from_state`]'s question.
pub fn decode_state(bytes: &[u8]) -> Result<EngineState, DecodeError> {
    decode_state_of(bytes, STATE_VERSION)
}

/// Decodes an engine state written by snapshot version `version`: 2 ends
/// at the references (its membership is empty, its closed date none), 3
/// adds the membership and the closed date, 4 the block-trading section
/// (rules, open offers, pending deals; before 4 there are none), 5 the
/// auctions (before 5 there are none), 6 each reference's transfer terms
/// (before 6 a reference comes alone, and its terms are `None`), 7 each
/// instrument's last trade price after its day's figures (before 7 it is
/// 0: not kept) and each reference's trading day after its terms (before
/// 7 the state's own `trading_day`).
///
/// # Errors
/// As [`decode_state`].
pub fn decode_state_of(bytes: &[u8], version: u32) -> Result<EngineState, DecodeError> {
    let mut c = Cursor::new(bytes);
    let trading_day = c.u32("EngineState.trading_day")?;
    let last_order_id = if c.present("EngineState.last_order_id")? {
        Some(c.order_id("EngineState.last_order_id")?)
    } else {
        None
    };
    let next_trade_id = c.u64("EngineState.next_trade_id")?;
    let calendar = if c.present("EngineState.calendar")? {
        Some(read_calendar(&mut c)?)
    } else {
        None
    };
    let count = c.count("EngineState.instruments", MIN_INSTRUMENT_BYTES)?;
    let mut instruments = Vec::with_capacity(count);
    for _ in 0..count {
        instruments.push(read_instrument(&mut c, version)?);
    }
    let count = c.count("EngineState.accounts", MIN_ACCOUNT_BYTES)?;
    let mut accounts = Vec::with_capacity(count);
    for _ in 0..count {
        accounts.push(read_account(&mut c)?);
    }
    let count = c.count("EngineState.references", 4)?;
    let mut references = Vec::with_capacity(count);
    for _ in 0..count {
        let reference = read_str(&mut c, "EngineState.references")?;
        let terms = if version >= 6 && c.present("EngineState.references.terms")? {
            Some(read_transfer_terms(&mut c)?)
        } else {
            None
        };
        // Before 7 a reference's day was not kept: the snapshot's own
        // stands in, so that it is forgotten a window after it.
        let applied_on = if version >= 7 {
            c.u32("EngineState.references.trading_day")?
        } else {
            trading_day
        };
        references.push((reference, terms, applied_on));
    }
    let (membership, closed_date) = if version >= 3 {
        let membership = read_membership(&mut c)?;
        let closed_date = if c.present("EngineState.closed_date")? {
            Some(c.date("EngineState.closed_date")?)
        } else {
            None
        };
        (membership, closed_date)
    } else {
        (Membership::default(), None)
    };
    let blocks = if version >= 4 {
        read_block_state(&mut c)?
    } else {
        BlockState::default()
    };
    let auctions = if version >= 5 {
        read_auctions(&mut c, &mut instruments)?
    } else {
        Auctions::default()
    };
    c.finish("EngineState")?;
    Ok(EngineState {
        trading_day,
        closed_date,
        last_order_id,
        next_trade_id,
        calendar,
        instruments,
        accounts,
        references,
        membership,
        blocks,
        auctions,
    })
}

fn put_option_u64(out: &mut Vec<u8>, value: Option<u64>) {
    match value {
        None => out.put_u8(0),
        Some(v) => {
            out.put_u8(1);
            out.put_u64(v);
        }
    }
}

fn put_option_u32(out: &mut Vec<u8>, value: Option<u32>) {
    match value {
        None => out.put_u8(0),
        Some(v) => {
            out.put_u8(1);
            out.put_u32(v);
        }
    }
}

fn put_day_stats(out: &mut Vec<u8>, today: &DayStats) {
    out.put_i64(today.open_ticks);
    out.put_i64(today.high_ticks);
    out.put_i64(today.low_ticks);
    out.put_u64(today.volume_t);
    out.put_i128(today.turnover_fen);
    out.put_u64(today.trade_count);
    out.put_i64(today.last_ticks);
}

fn read_instrument(c: &mut Cursor<'_>, version: u32) -> Result<InstrumentState, DecodeError> {
    let spec = read_spec(c)?;
    let phase = c.phase()?;
    let reference_ticks = c.i64("InstrumentState.reference_ticks")?;
    let today = DayStats {
        open_ticks: c.i64("DayStats.open_ticks")?,
        high_ticks: c.i64("DayStats.high_ticks")?,
        low_ticks: c.i64("DayStats.low_ticks")?,
        volume_t: c.u64("DayStats.volume_t")?,
        turnover_fen: c.i128("DayStats.turnover_fen")?,
        trade_count: c.u64("DayStats.trade_count")?,
        last_ticks: if version >= 7 {
            c.i64("DayStats.last_ticks")?
        } else {
            0
        },
    };
    let bids = read_orders(c, "InstrumentState.bids")?;
    let asks = read_orders(c, "InstrumentState.asks")?;
    Ok(InstrumentState {
        spec,
        phase,
        reference_ticks,
        today,
        bids,
        asks,
    })
}

fn read_orders(c: &mut Cursor<'_>, what: &'static str) -> Result<Vec<RestingOrder>, DecodeError> {
    let count = c.count(what, RESTING_ORDER_BYTES)?;
    let mut orders = Vec::with_capacity(count);
    for _ in 0..count {
        orders.push(RestingOrder {
            order_id: c.order_id("RestingOrder.order_id")?,
            account: c.account("RestingOrder.account")?,
            side: c.side()?,
            price_ticks: c.i64("RestingOrder.price_ticks")?,
            quantity_t: c.u64("RestingOrder.quantity_t")?,
        });
    }
    Ok(orders)
}

fn read_account(c: &mut Cursor<'_>) -> Result<AccountState, DecodeError> {
    let id = c.account("Account.id")?;
    let participant = c.participant()?;
    let broker = c.broker("Account.broker")?;
    let cash_fen = c.i64("Account.cash_fen")?;
    let reserved_fen = c.i64("Account.reserved_fen")?;
    let count = c.count("Account.holdings", MIN_HOLDING_BYTES)?;
    let mut holdings = Vec::with_capacity(count);
    for _ in 0..count {
        holdings.push(Holding {
            balance_t: c.u64("Holding.balance_t")?,
            reserved_t: c.u64("Holding.reserved_t")?,
            locked_t: c.u64("Holding.locked_t")?,
            buying_t: c.u64("Holding.buying_t")?,
            last_buy_day: read_option_u32(c, "Holding.last_buy_day")?,
            last_sell_day: read_option_u32(c, "Holding.last_sell_day")?,
        });
    }
    Ok(AccountState {
        account: Account {
            id,
            participant,
            broker,
            cash_fen,
            reserved_fen,
        },
        holdings,
    })
}

fn read_option_u32(c: &mut Cursor<'_>, what: &'static str) -> Result<Option<u32>, DecodeError> {
    Ok(if c.present(what)? {
        Some(c.u32(what)?)
    } else {
        None
    })
}
