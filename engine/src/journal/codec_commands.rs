//! The journal's binary encoding of commands.
//!
//! A command is its [`CommandKind`] tag (the enum's `#[repr(u8)]`
//! discriminant) followed by its fields in declaration order, with the
//! primitives of [`super::codec`]; `docs/JOURNAL.md` has the table. A
//! cancel or an amend that names its [`Requester`] has a tag of its own
//! ([`CANCEL_BY`], [`AMEND_BY`]), its requester after its fields, so that
//! one without (tags 1 and 2) keeps its bytes.

use crate::auction::AuctionNotice;
use crate::command::{
    Asset, Command, CommandKind, Direction, NewBid, NewOrder, Requester, Take, Transfer,
    TransferTerms,
};
use crate::membership::{Credential, NewBroker};

use super::codec::{command_kind_from_tag, Cursor, DecodeError, Put};
use super::codec_blocks::{
    encode_block_command, read_accept_block, read_cancel_block, read_post_block,
    read_set_block_rules,
};
use super::codec_market::{
    encode_calendar, encode_spec, encode_spec_auctions, has_auction_fields, put_str, read_calendar,
    read_command_spec, read_str,
};

/// The tag of a [`Command::Cancel`] that names its requester.
pub const CANCEL_BY: u8 = 15;
/// The tag of a [`Command::Amend`] that names its requester.
pub const AMEND_BY: u8 = 16;
/// The tag of a [`Command::ListInstrument`] whose spec sets an auction
/// field (`auctions`, `min_auction_t`): they follow the spec.
pub const LIST_WITH_AUCTIONS: u8 = 55;
/// The tag of a [`Command::ReviseInstrument`] whose spec sets an auction
/// field.
pub const REVISE_WITH_AUCTIONS: u8 = 56;

/// Appends the encoding of a command: its tag, then its fields in
/// declaration order.
pub fn encode_command(command: &Command, out: &mut Vec<u8>) {
    let tag = match *command {
        Command::Cancel {
            requester: Some(_), ..
        } => CANCEL_BY,
        Command::Amend {
            requester: Some(_), ..
        } => AMEND_BY,
        Command::ListInstrument(ref spec) if has_auction_fields(spec) => LIST_WITH_AUCTIONS,
        Command::ReviseInstrument { ref spec, .. } if has_auction_fields(spec) => {
            REVISE_WITH_AUCTIONS
        }
        _ => command.kind() as u8,
    };
    out.put_u8(tag);
    match *command {
        Command::PostBlock(_)
        | Command::AcceptBlock { .. }
        | Command::CancelBlock { .. }
        | Command::ConfirmBlock { .. }
        | Command::RefuseBlock { .. }
        | Command::SetBlockRules { .. } => encode_block_command(command, out),
        Command::ListInstrument(ref spec) => put_command_spec(out, spec),
        Command::ReviseInstrument {
            instrument,
            ref spec,
        } => {
            out.put_u16(instrument.0);
            put_command_spec(out, spec);
        }
        Command::SetCalendar(ref calendar) => encode_calendar(calendar, out),
        Command::Transfer(ref transfer) => {
            put_str(out, &transfer.reference);
            put_transfer_terms(out, &transfer.terms());
        }
        Command::AddBroker(ref broker) => put_new_broker(out, broker),
        Command::SetBrokerStatus { broker, status } => {
            out.put_u32(broker.0);
            out.put_u8(status as u8);
        }
        Command::SetAccountStatus { account, status } => {
            out.put_u32(account.0);
            out.put_u8(status as u8);
        }
        Command::CancelOnDisconnect { broker } => out.put_u32(broker.0),
        Command::AnnounceAuction(ref notice) => put_notice(out, notice),
        Command::Bid(bid) => {
            out.put_u64(bid.bid_id.0);
            out.put_u64(bid.auction_id);
            out.put_u32(bid.account.0);
            out.put_i64(bid.price_ticks);
            out.put_u64(bid.quantity_t);
            out.put_u64(bid.client_order_id);
        }
        Command::CancelBid {
            auction_id,
            bid_id,
            requester,
        } => {
            out.put_u64(auction_id);
            out.put_u64(bid_id.0);
            put_optional_requester(out, requester);
        }
        Command::AmendBid {
            auction_id,
            bid_id,
            price_ticks,
            quantity_t,
            requester,
        } => {
            out.put_u64(auction_id);
            out.put_u64(bid_id.0);
            out.put_i64(price_ticks);
            out.put_u64(quantity_t);
            put_optional_requester(out, requester);
        }
        Command::CloseAuction { auction_id } | Command::WithdrawAuction { auction_id } => {
            out.put_u64(auction_id);
        }
        Command::Submit(order) => {
            out.put_u64(order.order_id.0);
            out.put_u32(order.account.0);
            out.put_u16(order.instrument.0);
            out.put_u8(order.side as u8);
            out.put_u8(order.order_type as u8);
            out.put_u8(order.time_in_force as u8);
            out.put_i64(order.price_ticks);
            out.put_u64(order.quantity_t);
            out.put_u64(order.client_order_id);
        }
        Command::Take(take) => {
            out.put_u64(take.order_id.0);
            out.put_u32(take.account.0);
            out.put_u16(take.instrument.0);
            out.put_u8(take.side as u8);
            out.put_u64(take.target.0);
            out.put_u64(take.quantity_t);
            out.put_u64(take.client_order_id);
        }
        Command::Cancel {
            instrument,
            order_id,
            requester,
        } => {
            out.put_u16(instrument.0);
            out.put_u64(order_id.0);
            put_requester(out, requester);
        }
        Command::Amend {
            instrument,
            order_id,
            price_ticks,
            quantity_t,
            requester,
        } => {
            out.put_u16(instrument.0);
            out.put_u64(order_id.0);
            out.put_i64(price_ticks);
            out.put_u64(quantity_t);
            put_requester(out, requester);
        }
        Command::SetPhase { instrument, phase } => {
            out.put_u16(instrument.0);
            out.put_u8(phase as u8);
        }
        Command::EndOfDay { trading_date } => {
            if let Some(date) = trading_date {
                out.put_u32(date);
            }
        }
        Command::OpenAccount {
            account,
            participant,
            broker,
        } => {
            out.put_u32(account.0);
            out.put_u8(participant as u8);
            out.put_u32(broker.0);
        }
        Command::Deposit {
            account,
            amount_fen,
        }
        | Command::Withdraw {
            account,
            amount_fen,
        } => {
            out.put_u32(account.0);
            out.put_i64(amount_fen);
        }
        Command::CreditHoldings {
            account,
            instrument,
            quantity_t,
        }
        | Command::DebitHoldings {
            account,
            instrument,
            quantity_t,
        } => {
            out.put_u32(account.0);
            out.put_u16(instrument.0);
            out.put_u64(quantity_t);
        }
        Command::SetReferencePrice {
            instrument,
            price_ticks,
        } => {
            out.put_u16(instrument.0);
            out.put_i64(price_ticks);
        }
    }
}

/// A command's spec, with its auction fields when it sets one (and the
/// command has the tag that says so).
fn put_command_spec(out: &mut Vec<u8>, spec: &crate::instrument::InstrumentSpec) {
    encode_spec(spec, out);
    if has_auction_fields(spec) {
        encode_spec_auctions(spec, out);
    }
}

/// An auction's announcement (in `AnnounceAuction`, the event
/// `AuctionAnnounced` and snapshots).
pub(crate) fn put_notice(out: &mut Vec<u8>, notice: &AuctionNotice) {
    out.put_u64(notice.auction_id);
    out.put_u16(notice.instrument.0);
    out.put_u32(notice.seller.0);
    out.put_u64(notice.quantity_t);
    out.put_i64(notice.floor_ticks);
    out.put_i64(notice.ceiling_ticks);
    out.put_i64(notice.start_ns);
    out.put_i64(notice.end_ns);
    out.put_u8(notice.pricing as u8);
}

pub(crate) fn read_notice(c: &mut Cursor<'_>) -> Result<AuctionNotice, DecodeError> {
    Ok(AuctionNotice {
        auction_id: c.u64("AuctionNotice.auction_id")?,
        instrument: c.instrument("AuctionNotice.instrument")?,
        seller: c.account("AuctionNotice.seller")?,
        quantity_t: c.u64("AuctionNotice.quantity_t")?,
        floor_ticks: c.i64("AuctionNotice.floor_ticks")?,
        ceiling_ticks: c.i64("AuctionNotice.ceiling_ticks")?,
        start_ns: c.i64("AuctionNotice.start_ns")?,
        end_ns: c.i64("AuctionNotice.end_ns")?,
        pricing: c.pricing()?,
    })
}

/// A requester that may be absent: a `u8` 0, or 1 and the requester.
fn put_optional_requester(out: &mut Vec<u8>, requester: Option<Requester>) {
    match requester {
        None => out.put_u8(0),
        Some(_) => {
            out.put_u8(1);
            put_requester(out, requester);
        }
    }
}

fn read_optional_requester(
    c: &mut Cursor<'_>,
    what: &'static str,
) -> Result<Option<Requester>, DecodeError> {
    let named = c.present(what)?;
    read_requester(c, named)
}

fn put_requester(out: &mut Vec<u8>, requester: Option<Requester>) {
    if let Some(requester) = requester {
        out.put_u32(requester.broker.0);
        out.put_u64(requester.client_order_id);
    }
}

/// Decodes one command that fills `bytes` exactly.
///
/// # Errors
/// A [`DecodeError`] naming the first field that is missing or invalid, or
/// [`DecodeError::TrailingBytes`] when bytes are left over.
pub fn decode_command(bytes: &[u8]) -> Result<Command, DecodeError> {
    let mut cursor = Cursor::new(bytes);
    let command = read_command(&mut cursor)?;
    cursor.finish("Command")?;
    Ok(command)
}

/// A command's tag: its kind, and for a cancel or an amend whether its
/// requester follows its fields.
fn read_tag(c: &mut Cursor<'_>) -> Result<(CommandKind, bool), DecodeError> {
    c.tag("CommandKind", |tag| match tag {
        CANCEL_BY => Some((CommandKind::Cancel, true)),
        AMEND_BY => Some((CommandKind::Amend, true)),
        LIST_WITH_AUCTIONS => Some((CommandKind::ListInstrument, true)),
        REVISE_WITH_AUCTIONS => Some((CommandKind::ReviseInstrument, true)),
        _ => command_kind_from_tag(tag).map(|kind| (kind, false)),
    })
}

fn read_requester(c: &mut Cursor<'_>, named: bool) -> Result<Option<Requester>, DecodeError> {
    if !named {
        return Ok(None);
    }
    Ok(Some(Requester {
        broker: c.broker("Requester.broker")?,
        client_order_id: c.u64("Requester.client_order_id")?,
    }))
}

// Inlined into the entry decoder, as the reads are (see `Cursor::take`).
#[inline(always)]
pub(crate) fn read_command(c: &mut Cursor<'_>) -> Result<Command, DecodeError> {
    let (kind, named) = read_tag(c)?;
    Ok(match kind {
        CommandKind::Submit => Command::Submit(NewOrder {
            order_id: c.order_id("Submit.order_id")?,
            account: c.account("Submit.account")?,
            instrument: c.instrument("Submit.instrument")?,
            side: c.side()?,
            order_type: c.order_type()?,
            time_in_force: c.time_in_force()?,
            price_ticks: c.i64("Submit.price_ticks")?,
            quantity_t: c.u64("Submit.quantity_t")?,
            client_order_id: c.u64("Submit.client_order_id")?,
        }),
        CommandKind::Take => Command::Take(Take {
            order_id: c.order_id("Take.order_id")?,
            account: c.account("Take.account")?,
            instrument: c.instrument("Take.instrument")?,
            side: c.side()?,
            target: c.order_id("Take.target")?,
            quantity_t: c.u64("Take.quantity_t")?,
            client_order_id: c.u64("Take.client_order_id")?,
        }),
        CommandKind::Cancel => Command::Cancel {
            instrument: c.instrument("Cancel.instrument")?,
            order_id: c.order_id("Cancel.order_id")?,
            requester: read_requester(c, named)?,
        },
        CommandKind::Amend => Command::Amend {
            instrument: c.instrument("Amend.instrument")?,
            order_id: c.order_id("Amend.order_id")?,
            price_ticks: c.i64("Amend.price_ticks")?,
            quantity_t: c.u64("Amend.quantity_t")?,
            requester: read_requester(c, named)?,
        },
        CommandKind::SetPhase => Command::SetPhase {
            instrument: c.instrument("SetPhase.instrument")?,
            phase: c.phase()?,
        },
        CommandKind::EndOfDay => Command::EndOfDay { trading_date: None },
        CommandKind::DatedEndOfDay => Command::EndOfDay {
            trading_date: Some(c.date("EndOfDay.trading_date")?),
        },
        CommandKind::OpenAccount => Command::OpenAccount {
            account: c.account("OpenAccount.account")?,
            participant: c.participant()?,
            broker: c.broker("OpenAccount.broker")?,
        },
        CommandKind::Deposit => Command::Deposit {
            account: c.account("Deposit.account")?,
            amount_fen: c.i64("Deposit.amount_fen")?,
        },
        CommandKind::Withdraw => Command::Withdraw {
            account: c.account("Withdraw.account")?,
            amount_fen: c.i64("Withdraw.amount_fen")?,
        },
        CommandKind::CreditHoldings => Command::CreditHoldings {
            account: c.account("CreditHoldings.account")?,
            instrument: c.instrument("CreditHoldings.instrument")?,
            quantity_t: c.u64("CreditHoldings.quantity_t")?,
        },
        CommandKind::DebitHoldings => Command::DebitHoldings {
            account: c.account("DebitHoldings.account")?,
            instrument: c.instrument("DebitHoldings.instrument")?,
            quantity_t: c.u64("DebitHoldings.quantity_t")?,
        },
        CommandKind::SetReferencePrice => Command::SetReferencePrice {
            instrument: c.instrument("SetReferencePrice.instrument")?,
            price_ticks: c.i64("SetReferencePrice.price_ticks")?,
        },
        CommandKind::ListInstrument => {
            Command::ListInstrument(Box::new(read_command_spec(c, named)?))
        }
        CommandKind::ReviseInstrument => Command::ReviseInstrument {
            instrument: c.instrument("ReviseInstrument.instrument")?,
            spec: Box::new(read_command_spec(c, named)?),
        },
        CommandKind::SetCalendar => Command::SetCalendar(Box::new(read_calendar(c)?)),
        CommandKind::Transfer => {
            let reference = read_str(c, "Transfer.reference")?;
            let terms = read_transfer_terms(c)?;
            Command::Transfer(Box::new(Transfer {
                reference,
                account: terms.account,
                asset: terms.asset,
                direction: terms.direction,
                amount: terms.amount,
            }))
        }
        CommandKind::AddBroker => Command::AddBroker(Box::new(read_new_broker(c)?)),
        CommandKind::SetBrokerStatus => Command::SetBrokerStatus {
            broker: c.broker("SetBrokerStatus.broker")?,
            status: c.status()?,
        },
        CommandKind::SetAccountStatus => Command::SetAccountStatus {
            account: c.account("SetAccountStatus.account")?,
            status: c.status()?,
        },
        CommandKind::CancelOnDisconnect => Command::CancelOnDisconnect {
            broker: c.broker("CancelOnDisconnect.broker")?,
        },
        CommandKind::PostBlock => read_post_block(c)?,
        CommandKind::AcceptBlock => read_accept_block(c)?,
        CommandKind::CancelBlock => read_cancel_block(c)?,
        CommandKind::ConfirmBlock => Command::ConfirmBlock {
            deal_id: c.u64("ConfirmBlock.deal_id")?,
        },
        CommandKind::RefuseBlock => Command::RefuseBlock {
            deal_id: c.u64("RefuseBlock.deal_id")?,
        },
        CommandKind::SetBlockRules => read_set_block_rules(c)?,
        CommandKind::AnnounceAuction => Command::AnnounceAuction(Box::new(read_notice(c)?)),
        CommandKind::Bid => Command::Bid(NewBid {
            bid_id: c.order_id("Bid.bid_id")?,
            auction_id: c.u64("Bid.auction_id")?,
            account: c.account("Bid.account")?,
            price_ticks: c.i64("Bid.price_ticks")?,
            quantity_t: c.u64("Bid.quantity_t")?,
            client_order_id: c.u64("Bid.client_order_id")?,
        }),
        CommandKind::CancelBid => Command::CancelBid {
            auction_id: c.u64("CancelBid.auction_id")?,
            bid_id: c.order_id("CancelBid.bid_id")?,
            requester: read_optional_requester(c, "CancelBid.requester")?,
        },
        CommandKind::AmendBid => Command::AmendBid {
            auction_id: c.u64("AmendBid.auction_id")?,
            bid_id: c.order_id("AmendBid.bid_id")?,
            price_ticks: c.i64("AmendBid.price_ticks")?,
            quantity_t: c.u64("AmendBid.quantity_t")?,
            requester: read_optional_requester(c, "AmendBid.requester")?,
        },
        CommandKind::CloseAuction => Command::CloseAuction {
            auction_id: c.u64("CloseAuction.auction_id")?,
        },
        CommandKind::WithdrawAuction => Command::WithdrawAuction {
            auction_id: c.u64("WithdrawAuction.auction_id")?,
        },
    })
}

/// A [`NewBroker`]: `broker`, `name`, then its credential's `iterations`,
/// `salt` and `hash` (in `AddBroker` and in snapshots).
pub(crate) fn put_new_broker(out: &mut Vec<u8>, broker: &NewBroker) {
    out.put_u32(broker.broker.0);
    put_str(out, &broker.name);
    out.put_u32(broker.credential.iterations);
    out.extend_from_slice(&broker.credential.salt);
    out.extend_from_slice(&broker.credential.hash);
}

pub(crate) fn read_new_broker(c: &mut Cursor<'_>) -> Result<NewBroker, DecodeError> {
    Ok(NewBroker {
        broker: c.broker("NewBroker.broker")?,
        name: read_str(c, "NewBroker.name")?,
        credential: Credential {
            iterations: c.u32("Credential.iterations")?,
            salt: c.array("Credential.salt")?,
            hash: c.array("Credential.hash")?,
        },
    })
}

/// A transfer's terms, as a `Transfer` command and a snapshot's references
/// carry them: account, asset (0 cash; 1 allowances, then the instrument),
/// direction, amount.
pub(super) fn put_transfer_terms(out: &mut Vec<u8>, terms: &TransferTerms) {
    out.put_u32(terms.account.0);
    match terms.asset {
        Asset::Cash => out.put_u8(0),
        Asset::Allowances(instrument) => {
            out.put_u8(1);
            out.put_u16(instrument.0);
        }
    }
    out.put_u8(terms.direction as u8);
    out.put_u64(terms.amount);
}

/// Reads what [`put_transfer_terms`] wrote.
pub(super) fn read_transfer_terms(c: &mut Cursor<'_>) -> Result<TransferTerms, DecodeError> {
    Ok(TransferTerms {
        account: c.account("Transfer.account")?,
        asset: match c.tag("Asset", |t| (t <= 1).then_some(t))? {
            0 => Asset::Cash,
            _ => Asset::Allowances(c.instrument("Asset.instrument")?),
        },
        direction: c.tag("Direction", |t| match t {
            0 => Some(Direction::In),
            1 => Some(Direction::Out),
            _ => None,
        })?,
        amount: c.u64("Transfer.amount")?,
    })
}
