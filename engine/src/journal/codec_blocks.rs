//! The journal's binary encoding of block trading: the block commands
//! (tags 40 to 45), the block events (tags 40 to 43), an instrument's
//! [`BlockRules`], and snapshot version 4's trailing section of open
//! offers and pending deals.
//!
//! Same primitives as the rest of the journal ([`super::codec`]), fields
//! in declaration order; an optional account is a `u8` presence flag (0 or
//! 1) and, when present, its `u32`. `docs/JOURNAL.md` has the tables.

use crate::block::{BlockDeal, BlockOffer, BlockRules};
use crate::calendar::Session;
use crate::command::{Command, NewBlock};
use crate::event::{BlockAccepted, BlockCancelled, BlockPosted, BlockTraded};
use crate::order::AccountId;
use crate::state::BlockState;

use super::codec::{Cursor, DecodeError, Put};
use super::codec_market::read_time;

/// Stable tags of the block events.
pub(crate) mod tag {
    pub const BLOCK_POSTED: u8 = 40;
    pub const BLOCK_ACCEPTED: u8 = 41;
    pub const BLOCK_TRADED: u8 = 42;
    pub const BLOCK_CANCELLED: u8 = 43;
}

/// The most sessions an encoded [`BlockRules`] may list.
const MAX_SESSIONS: usize = 16;
/// Encoded size of a [`BlockOffer`] with a counterparty.
const MIN_OFFER_BYTES: usize = 8 + 4 + 2 + 1 + 8 + 8 + 1;
/// Encoded size of a [`BlockDeal`].
const DEAL_BYTES: usize = 8 + 8 + 2 + 8 + 8 + 4 + 1 + 4;
/// Smallest encoded [`BlockRules`] (no sessions).
const MIN_RULES_BYTES: usize = 1 + 8 + 4 + 1 + 4 + 4;

/// Appends the fields of a block command (its tag is written already).
pub(crate) fn encode_block_command(command: &Command, out: &mut Vec<u8>) {
    match *command {
        Command::PostBlock(block) => {
            out.put_u32(block.account.0);
            out.put_u16(block.instrument.0);
            out.put_u8(block.side as u8);
            out.put_i64(block.price_ticks);
            out.put_u64(block.quantity_t);
            put_option_account(out, block.counterparty);
            out.put_u64(block.client_order_id);
        }
        Command::AcceptBlock {
            block_id,
            account,
            quantity_t,
            client_order_id,
        } => {
            out.put_u64(block_id);
            out.put_u32(account.0);
            out.put_u64(quantity_t);
            out.put_u64(client_order_id);
        }
        Command::CancelBlock {
            block_id,
            account,
            client_order_id,
        } => {
            out.put_u64(block_id);
            out.put_u32(account.0);
            out.put_u64(client_order_id);
        }
        Command::ConfirmBlock { deal_id } | Command::RefuseBlock { deal_id } => {
            out.put_u64(deal_id);
        }
        Command::SetBlockRules {
            instrument,
            ref rules,
        } => {
            out.put_u16(instrument.0);
            encode_rules(rules, out);
        }
        _ => unreachable!("only block commands are encoded here"),
    }
}

pub(crate) fn read_post_block(c: &mut Cursor<'_>) -> Result<Command, DecodeError> {
    Ok(Command::PostBlock(NewBlock {
        account: c.account("PostBlock.account")?,
        instrument: c.instrument("PostBlock.instrument")?,
        side: c.side()?,
        price_ticks: c.i64("PostBlock.price_ticks")?,
        quantity_t: c.u64("PostBlock.quantity_t")?,
        counterparty: read_option_account(c, "PostBlock.counterparty")?,
        client_order_id: c.u64("PostBlock.client_order_id")?,
    }))
}

pub(crate) fn read_accept_block(c: &mut Cursor<'_>) -> Result<Command, DecodeError> {
    Ok(Command::AcceptBlock {
        block_id: c.u64("AcceptBlock.block_id")?,
        account: c.account("AcceptBlock.account")?,
        quantity_t: c.u64("AcceptBlock.quantity_t")?,
        client_order_id: c.u64("AcceptBlock.client_order_id")?,
    })
}

pub(crate) fn read_cancel_block(c: &mut Cursor<'_>) -> Result<Command, DecodeError> {
    Ok(Command::CancelBlock {
        block_id: c.u64("CancelBlock.block_id")?,
        account: c.account("CancelBlock.account")?,
        client_order_id: c.u64("CancelBlock.client_order_id")?,
    })
}

pub(crate) fn read_set_block_rules(c: &mut Cursor<'_>) -> Result<Command, DecodeError> {
    Ok(Command::SetBlockRules {
        instrument: c.instrument("SetBlockRules.instrument")?,
        rules: Box::new(read_rules(c)?),
    })
}

/// Appends a [`BlockRules`]: `enabled`, `min_t`, `band_bps`,
/// `needs_confirmation`, the sessions (a count, then each open and close
/// as seconds after midnight), `max_open`.
pub(crate) fn encode_rules(rules: &BlockRules, out: &mut Vec<u8>) {
    use chrono::Timelike;
    out.put_bool(rules.enabled);
    out.put_u64(rules.min_t);
    out.put_u32(rules.band_bps);
    out.put_bool(rules.needs_confirmation);
    out.put_count(rules.sessions.len());
    for session in &rules.sessions {
        out.put_u32(session.open.num_seconds_from_midnight());
        out.put_u32(session.close.num_seconds_from_midnight());
    }
    out.put_u32(rules.max_open);
}

pub(crate) fn read_rules(c: &mut Cursor<'_>) -> Result<BlockRules, DecodeError> {
    let enabled = c.bool("BlockRules.enabled")?;
    let min_t = c.u64("BlockRules.min_t")?;
    let band_bps = c.u32("BlockRules.band_bps")?;
    let needs_confirmation = c.bool("BlockRules.needs_confirmation")?;
    let offset = c.pos();
    let count = c.count("BlockRules.sessions", 8)?;
    if count > MAX_SESSIONS {
        return Err(DecodeError::InvalidValue {
            what: "BlockRules.sessions",
            value: count as u64,
            offset,
        });
    }
    let mut sessions = Vec::with_capacity(count);
    for _ in 0..count {
        sessions.push(Session {
            open: read_time(c, "BlockRules.session.open")?,
            close: read_time(c, "BlockRules.session.close")?,
        });
    }
    Ok(BlockRules {
        enabled,
        min_t,
        band_bps,
        needs_confirmation,
        sessions,
        max_open: c.u32("BlockRules.max_open")?,
    })
}

/// Appends a block event: its tag, then its fields.
pub(crate) fn encode_posted(e: &BlockPosted, out: &mut Vec<u8>) {
    out.put_u8(tag::BLOCK_POSTED);
    out.put_u64(e.block_id);
    out.put_u32(e.account.0);
    out.put_u16(e.instrument.0);
    out.put_u8(e.side as u8);
    out.put_i64(e.price_ticks);
    out.put_u64(e.quantity_t);
    put_option_account(out, e.counterparty);
}

pub(crate) fn encode_accepted(e: &BlockAccepted, out: &mut Vec<u8>) {
    out.put_u8(tag::BLOCK_ACCEPTED);
    out.put_u64(e.block_id);
    out.put_u64(e.deal_id);
    out.put_u32(e.account.0);
    out.put_u64(e.quantity_t);
    out.put_u64(e.remaining_t);
    out.put_bool(e.pending);
}

pub(crate) fn encode_traded(e: &BlockTraded, out: &mut Vec<u8>) {
    out.put_u8(tag::BLOCK_TRADED);
    out.put_u64(e.trade_id);
    out.put_u64(e.seq);
    out.put_i64(e.time_ns);
    out.put_u64(e.deal_id);
    out.put_u64(e.block_id);
    out.put_u16(e.instrument.0);
    out.put_i64(e.price_ticks);
    out.put_u64(e.quantity_t);
    out.put_u32(e.buyer_account.0);
    out.put_u32(e.seller_account.0);
    out.put_u8(e.poster_side as u8);
}

pub(crate) fn encode_cancelled(e: &BlockCancelled, out: &mut Vec<u8>) {
    out.put_u8(tag::BLOCK_CANCELLED);
    out.put_u64(e.block_id);
    out.put_u32(e.account.0);
    out.put_u16(e.instrument.0);
    out.put_u8(e.side as u8);
    out.put_u64(e.cancelled_t);
    out.put_u8(e.cause as u8);
}

pub(crate) fn read_posted(c: &mut Cursor<'_>) -> Result<BlockPosted, DecodeError> {
    Ok(BlockPosted {
        block_id: c.u64("BlockPosted.block_id")?,
        account: c.account("BlockPosted.account")?,
        instrument: c.instrument("BlockPosted.instrument")?,
        side: c.side()?,
        price_ticks: c.i64("BlockPosted.price_ticks")?,
        quantity_t: c.u64("BlockPosted.quantity_t")?,
        counterparty: read_option_account(c, "BlockPosted.counterparty")?,
    })
}

pub(crate) fn read_accepted(c: &mut Cursor<'_>) -> Result<BlockAccepted, DecodeError> {
    Ok(BlockAccepted {
        block_id: c.u64("BlockAccepted.block_id")?,
        deal_id: c.u64("BlockAccepted.deal_id")?,
        account: c.account("BlockAccepted.account")?,
        quantity_t: c.u64("BlockAccepted.quantity_t")?,
        remaining_t: c.u64("BlockAccepted.remaining_t")?,
        pending: c.bool("BlockAccepted.pending")?,
    })
}

pub(crate) fn read_traded(c: &mut Cursor<'_>) -> Result<BlockTraded, DecodeError> {
    Ok(BlockTraded {
        trade_id: c.u64("BlockTraded.trade_id")?,
        seq: c.u64("BlockTraded.seq")?,
        time_ns: c.i64("BlockTraded.time_ns")?,
        deal_id: c.u64("BlockTraded.deal_id")?,
        block_id: c.u64("BlockTraded.block_id")?,
        instrument: c.instrument("BlockTraded.instrument")?,
        price_ticks: c.i64("BlockTraded.price_ticks")?,
        quantity_t: c.u64("BlockTraded.quantity_t")?,
        buyer_account: c.account("BlockTraded.buyer_account")?,
        seller_account: c.account("BlockTraded.seller_account")?,
        poster_side: c.side()?,
    })
}

pub(crate) fn read_cancelled(c: &mut Cursor<'_>) -> Result<BlockCancelled, DecodeError> {
    Ok(BlockCancelled {
        block_id: c.u64("BlockCancelled.block_id")?,
        account: c.account("BlockCancelled.account")?,
        instrument: c.instrument("BlockCancelled.instrument")?,
        side: c.side()?,
        cancelled_t: c.u64("BlockCancelled.cancelled_t")?,
        cause: c.cancel_cause()?,
    })
}

/// Snapshot version 4's trailing section: each instrument's rules (in
/// instrument order, a count first), the next id, the open offers and the
/// pending deals, each list a count and its items in id order.
pub(crate) fn encode_block_state(state: &BlockState, out: &mut Vec<u8>) {
    out.put_count(state.rules.len());
    for rules in &state.rules {
        encode_rules(rules, out);
    }
    out.put_u64(state.next_id);
    out.put_count(state.offers.len());
    for o in &state.offers {
        out.put_u64(o.block_id);
        out.put_u32(o.account.0);
        out.put_u16(o.instrument.0);
        out.put_u8(o.side as u8);
        out.put_i64(o.price_ticks);
        out.put_u64(o.quantity_t);
        put_option_account(out, o.counterparty);
    }
    out.put_count(state.deals.len());
    for d in &state.deals {
        out.put_u64(d.deal_id);
        out.put_u64(d.block_id);
        out.put_u16(d.instrument.0);
        out.put_i64(d.price_ticks);
        out.put_u64(d.quantity_t);
        out.put_u32(d.poster.0);
        out.put_u8(d.poster_side as u8);
        out.put_u32(d.acceptor.0);
    }
}

pub(crate) fn read_block_state(c: &mut Cursor<'_>) -> Result<BlockState, DecodeError> {
    let count = c.count("BlockState.rules", MIN_RULES_BYTES)?;
    let mut rules = Vec::with_capacity(count);
    for _ in 0..count {
        rules.push(read_rules(c)?);
    }
    let next_id = c.u64("BlockState.next_id")?;
    let count = c.count("BlockState.offers", MIN_OFFER_BYTES)?;
    let mut offers = Vec::with_capacity(count);
    for _ in 0..count {
        offers.push(BlockOffer {
            block_id: c.u64("BlockOffer.block_id")?,
            account: c.account("BlockOffer.account")?,
            instrument: c.instrument("BlockOffer.instrument")?,
            side: c.side()?,
            price_ticks: c.i64("BlockOffer.price_ticks")?,
            quantity_t: c.u64("BlockOffer.quantity_t")?,
            counterparty: read_option_account(c, "BlockOffer.counterparty")?,
        });
    }
    let count = c.count("BlockState.deals", DEAL_BYTES)?;
    let mut deals = Vec::with_capacity(count);
    for _ in 0..count {
        deals.push(BlockDeal {
            deal_id: c.u64("BlockDeal.deal_id")?,
            block_id: c.u64("BlockDeal.block_id")?,
            instrument: c.instrument("BlockDeal.instrument")?,
            price_ticks: c.i64("BlockDeal.price_ticks")?,
            quantity_t: c.u64("BlockDeal.quantity_t")?,
            poster: c.account("BlockDeal.poster")?,
            poster_side: c.side()?,
            acceptor: c.account("BlockDeal.acceptor")?,
        });
    }
    Ok(BlockState {
        rules,
        next_id,
        offers,
        deals,
    })
}

fn put_option_account(out: &mut Vec<u8>, account: Option<AccountId>) {
    match account {
        None => out.put_u8(0),
        Some(a) => {
            out.put_u8(1);
            out.put_u32(a.0);
        }
    }
}

fn read_option_account(
    c: &mut Cursor<'_>,
    what: &'static str,
) -> Result<Option<AccountId>, DecodeError> {
    if c.present(what)? {
        Ok(Some(c.account(what)?))
    } else {
        Ok(None)
    }
}
