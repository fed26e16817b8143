//! The journal's binary encoding: the primitives every encoding is built
//! from, and [`DecodeError`].
//!
//! Written by hand, so that the bytes are a specification rather than a
//! side effect of a library (`docs/JOURNAL.md` lists every field): integers
//! are fixed width and little-endian, `bool` is one byte 0 or 1, an
//! `Option<T>` is one byte 0 (none) or 1 followed by the `T`, a list is a
//! `u32` count followed by its items, and every enum is a stable `u8` tag
//! (the enum's own `#[repr]` discriminant where it has one; a
//! [`RejectReason`] is its `u16` code). This file holds those primitives;
//! commands are encoded in `codec_commands.rs`, the market's definition in
//! `codec_market.rs`, events in
//! `codec_events.rs`, the engine state in `codec_state.rs`.
//!
//! Decoding never panics and never trusts a length: every read is checked
//! against the bytes that are left, and a count is checked against the
//! smallest size its items could have before anything is allocated. Bad
//! input gives a [`DecodeError`] that names the field.

use crate::account::{BrokerId, ParticipantType};
use crate::command::CommandKind;
use crate::event::CancelCause;
use crate::instrument::InstrumentId;
use crate::membership::Status;
use crate::order::{AccountId, OrderId, OrderType, Side, TimeInForce};
use crate::phase::Phase;
use crate::reject::RejectReason;

/// Why bytes could not be decoded. Offsets count from the start of the
/// slice given to the decoder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes end in the middle of a field.
    #[error("truncated: {what} needs {needed} bytes at offset {offset}, {available} left")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// Its size.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// An enum tag (or reject code) that names no variant.
    #[error("unknown {what} tag {tag} at offset {offset}")]
    UnknownTag {
        /// The enum being read.
        what: &'static str,
        /// The tag found.
        tag: u16,
        /// Where it is.
        offset: usize,
    },
    /// A field whose value is not allowed (a `bool` that is not 0 or 1).
    #[error("invalid {what}: {value} at offset {offset}")]
    InvalidValue {
        /// The field being read.
        what: &'static str,
        /// The value found.
        value: u64,
        /// Where it is.
        offset: usize,
    },
    /// A list count larger than the bytes left could hold.
    #[error("{what}: count {count} at offset {offset} cannot fit in the {available} bytes left")]
    CountTooLarge {
        /// The list being read.
        what: &'static str,
        /// The count found.
        count: u32,
        /// Where it is.
        offset: usize,
        /// Bytes that were left after it.
        available: usize,
    },
    /// Bytes left over after a complete value.
    #[error("{count} trailing bytes after {what}")]
    TrailingBytes {
        /// The value that was decoded.
        what: &'static str,
        /// How many bytes follow it.
        count: usize,
    },
}

/// Appends fixed-width little-endian values to a buffer.
pub(crate) trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_i64(&mut self, v: i64);
    fn put_i128(&mut self, v: i128);
    fn put_bool(&mut self, v: bool);
    fn put_count(&mut self, n: usize);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_i128(&mut self, v: i128) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_bool(&mut self, v: bool) {
        self.push(u8::from(v));
    }
    /// A list count as `u32`.
    ///
    /// Every list the engine holds is far below 2^32 items (books hold at
    /// most `u32::MAX - 1` orders, accounts are `u32` ids); a longer one is
    /// a programmer error.
    fn put_count(&mut self, n: usize) {
        self.put_u32(u32::try_from(n).expect("a list of fewer than 2^32 items"));
    }
}

/// Reads fixed-width little-endian values from a slice, checking each read.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) const fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// Where the next read starts.
    pub(crate) const fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes not read yet.
    pub(crate) const fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// Fails unless every byte was read.
    pub(crate) const fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { what, count }),
        }
    }

    /// The next `len` bytes, which [`Self::count`] has checked are there.
    pub(crate) fn bytes(&mut self, len: usize) -> &'a [u8] {
        let bytes = &self.bytes[self.pos..self.pos + len];
        self.pos += len;
        bytes
    }

    // Every read is inlined whole into its decoder, and its error is built
    // out of line. With `read_event` and `read_command` inlined into the
    // entry decoder, no `Result` as large as an event or a `DecodeError`
    // goes through memory per field: `cetx replay` of a 5.3M-entry journal
    // took 0.84 of the time. Either change alone gained nothing.
    #[inline(always)]
    fn take<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        match self.bytes[self.pos..].first_chunk::<N>() {
            Some(array) => {
                self.pos += N;
                Ok(*array)
            }
            None => Err(self.truncated(what, N)),
        }
    }

    #[cold]
    #[inline(never)]
    const fn truncated(&self, what: &'static str, needed: usize) -> DecodeError {
        DecodeError::Truncated {
            what,
            offset: self.pos,
            needed,
            available: self.remaining(),
        }
    }

    /// `N` raw bytes (a salt, a hash).
    #[inline]
    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        self.take(what)
    }

    #[inline(always)]
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take::<1>(what)?[0])
    }
    #[inline(always)]
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        self.take(what).map(u16::from_le_bytes)
    }
    #[inline(always)]
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.take(what).map(u32::from_le_bytes)
    }
    #[inline(always)]
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        self.take(what).map(u64::from_le_bytes)
    }
    #[inline(always)]
    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        self.take(what).map(i64::from_le_bytes)
    }
    #[inline(always)]
    pub(crate) fn i128(&mut self, what: &'static str) -> Result<i128, DecodeError> {
        self.take(what).map(i128::from_le_bytes)
    }

    #[inline(always)]
    pub(crate) fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        let offset = self.pos;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(DecodeError::InvalidValue {
                what,
                value: value.into(),
                offset,
            }),
        }
    }

    /// A date as a `u32` `YYYYMMDD` that names a real date.
    #[inline]
    pub(crate) fn date(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let offset = self.pos;
        let number = self.u32(what)?;
        match crate::calendar::date_of(number) {
            Some(_) => Ok(number),
            None => Err(DecodeError::InvalidValue {
                what,
                value: number.into(),
                offset,
            }),
        }
    }

    /// An option's presence byte: 0 none, 1 some.
    #[inline(always)]
    pub(crate) fn present(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        let offset = self.pos;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(DecodeError::UnknownTag {
                what,
                tag: tag.into(),
                offset,
            }),
        }
    }

    /// A `u32` list count, checked against the bytes left: each item takes
    /// at least `min_item_bytes`, so a corrupt count cannot make the caller
    /// allocate more than the input could describe.
    #[inline(always)]
    pub(crate) fn count(
        &mut self,
        what: &'static str,
        min_item_bytes: usize,
    ) -> Result<usize, DecodeError> {
        let offset = self.pos;
        let count = self.u32(what)?;
        let available = self.remaining();
        let fits = usize::try_from(count)
            .ok()
            .and_then(|n| n.checked_mul(min_item_bytes))
            .is_some_and(|needed| needed <= available);
        if fits {
            Ok(count as usize)
        } else {
            Err(DecodeError::CountTooLarge {
                what,
                count,
                offset,
                available,
            })
        }
    }

    /// A `u8` tag turned into an enum variant by `from`.
    #[inline(always)]
    pub(crate) fn tag<T>(
        &mut self,
        what: &'static str,
        from: impl FnOnce(u8) -> Option<T>,
    ) -> Result<T, DecodeError> {
        let tag = self.u8(what)?;
        match from(tag) {
            Some(value) => Ok(value),
            None => Err(unknown_tag(what, tag, self.pos - 1)),
        }
    }

    #[inline(always)]
    pub(crate) fn order_id(&mut self, what: &'static str) -> Result<OrderId, DecodeError> {
        self.u64(what).map(OrderId)
    }
    #[inline(always)]
    pub(crate) fn account(&mut self, what: &'static str) -> Result<AccountId, DecodeError> {
        self.u32(what).map(AccountId)
    }
    #[inline(always)]
    pub(crate) fn instrument(&mut self, what: &'static str) -> Result<InstrumentId, DecodeError> {
        self.u16(what).map(InstrumentId)
    }
    #[inline(always)]
    pub(crate) fn broker(&mut self, what: &'static str) -> Result<BrokerId, DecodeError> {
        self.u32(what).map(BrokerId)
    }
    #[inline(always)]
    pub(crate) fn side(&mut self) -> Result<Side, DecodeError> {
        self.tag("Side", |t| match t {
            0 => Some(Side::Buy),
            1 => Some(Side::Sell),
            _ => None,
        })
    }
    #[inline(always)]
    pub(crate) fn order_type(&mut self) -> Result<OrderType, DecodeError> {
        self.tag("OrderType", |t| match t {
            0 => Some(OrderType::Limit),
            1 => Some(OrderType::Market),
            _ => None,
        })
    }
    #[inline(always)]
    pub(crate) fn time_in_force(&mut self) -> Result<TimeInForce, DecodeError> {
        self.tag("TimeInForce", |t| match t {
            0 => Some(TimeInForce::Day),
            1 => Some(TimeInForce::Ioc),
            2 => Some(TimeInForce::Fok),
            _ => None,
        })
    }
    #[inline]
    pub(crate) fn phase(&mut self) -> Result<Phase, DecodeError> {
        self.tag("Phase", |t| match t {
            0 => Some(Phase::Closed),
            1 => Some(Phase::Continuous),
            2 => Some(Phase::Break),
            3 => Some(Phase::Halted),
            _ => None,
        })
    }
    #[inline]
    pub(crate) fn participant(&mut self) -> Result<ParticipantType, DecodeError> {
        self.tag("ParticipantType", |t| match t {
            0 => Some(ParticipantType::ComplianceEntity),
            1 => Some(ParticipantType::Institution),
            2 => Some(ParticipantType::Individual),
            _ => None,
        })
    }
    #[inline]
    pub(crate) fn status(&mut self) -> Result<Status, DecodeError> {
        self.tag("Status", |t| match t {
            0 => Some(Status::Active),
            1 => Some(Status::Suspended),
            2 => Some(Status::Closed),
            _ => None,
        })
    }
    #[inline(always)]
    pub(crate) fn command_kind(&mut self) -> Result<CommandKind, DecodeError> {
        self.tag("CommandKind", command_kind_from_tag)
    }
    #[inline(always)]
    pub(crate) fn cancel_cause(&mut self) -> Result<CancelCause, DecodeError> {
        self.tag("CancelCause", |t| match t {
            0 => Some(CancelCause::Requested),
            1 => Some(CancelCause::Unfilled),
            2 => Some(CancelCause::FokKilled),
            3 => Some(CancelCause::BookFull),
            4 => Some(CancelCause::SelfTrade),
            5 => Some(CancelCause::Expired),
            6 => Some(CancelCause::Disconnected),
            20 => Some(CancelCause::Suspended),
            22 => Some(CancelCause::Refused),
            23 => Some(CancelCause::AuctionUnfilled),
            _ => None,
        })
    }
    #[inline]
    pub(crate) fn pricing(&mut self) -> Result<crate::auction::Pricing, DecodeError> {
        self.tag("Pricing", |t| match t {
            0 => Some(crate::auction::Pricing::Uniform),
            1 => Some(crate::auction::Pricing::PayAsBid),
            _ => None,
        })
    }
    #[inline]
    pub(crate) fn reject_reason(&mut self) -> Result<RejectReason, DecodeError> {
        let offset = self.pos;
        let code = self.u16("RejectReason")?;
        RejectReason::from_code(code).ok_or(DecodeError::UnknownTag {
            what: "RejectReason",
            tag: code,
            offset,
        })
    }
}

#[cold]
#[inline(never)]
fn unknown_tag(what: &'static str, tag: u8, offset: usize) -> DecodeError {
    DecodeError::UnknownTag {
        what,
        tag: tag.into(),
        offset,
    }
}

pub(super) const fn command_kind_from_tag(tag: u8) -> Option<CommandKind> {
    Some(match tag {
        0 => CommandKind::Submit,
        1 => CommandKind::Cancel,
        2 => CommandKind::Amend,
        3 => CommandKind::SetPhase,
        4 => CommandKind::EndOfDay,
        5 => CommandKind::OpenAccount,
        6 => CommandKind::Deposit,
        7 => CommandKind::Withdraw,
        8 => CommandKind::CreditHoldings,
        9 => CommandKind::DebitHoldings,
        10 => CommandKind::SetReferencePrice,
        11 => CommandKind::ListInstrument,
        12 => CommandKind::ReviseInstrument,
        13 => CommandKind::SetCalendar,
        14 => CommandKind::Transfer,
        17 => CommandKind::DatedEndOfDay,
        20 => CommandKind::AddBroker,
        21 => CommandKind::SetBrokerStatus,
        22 => CommandKind::SetAccountStatus,
        23 => CommandKind::CancelOnDisconnect,
        30 => CommandKind::Take,
        40 => CommandKind::PostBlock,
        41 => CommandKind::AcceptBlock,
        42 => CommandKind::CancelBlock,
        43 => CommandKind::ConfirmBlock,
        44 => CommandKind::RefuseBlock,
        45 => CommandKind::SetBlockRules,
        50 => CommandKind::AnnounceAuction,
        51 => CommandKind::Bid,
        52 => CommandKind::CancelBid,
        53 => CommandKind::AmendBid,
        54 => CommandKind::CloseAuction,
        57 => CommandKind::WithdrawAuction,
        _ => return None,
    })
}
