//! The journal's layout on disk: segment files, their header, and records.
//!
//! ```text
//! <dir>/journal-00000000000000000001.seg     first_seq = 1
//! <dir>/journal-00000000000000041873.seg     first_seq = 41873
//!
//! <dir>/MANIFEST                             every segment, in order (see `manifest`)
//!
//! segment = header record* zero*
//! header  = magic "CETXJRNL" | version u32 | first_seq u64 | crc32c u32   (24 bytes)
//! record  = prefix payload                                                 (25 + len bytes)
//! prefix  = len u32 | seq u64 | type u8 | commit_index u32
//!           | payload_crc u32 | header_crc u32                              (25 bytes)
//!           len          = payload length
//!           commit_index = records before this one in its group commit
//!           payload_crc  = CRC32C of the payload
//!           header_crc   = CRC32C of the prefix's first 21 bytes
//! entry payload (type 1) = time_ns i64 | command | event_count u32 | event*
//! ```
//!
//! All integers are little-endian. A record never spans two segments. A
//! segment may end in zeros: the writer fills the next segment with zeros
//! ahead of time, so that a group commit only overwrites blocks already
//! written. The prefix has a checksum of its own, so a damaged `len` is
//! seen as damage and never taken for the end of the data. The byte-level
//! tables are in `docs/JOURNAL.md`.

use std::path::{Path, PathBuf};

use crate::command::{Command, Stamp};
use crate::event::Event;

use super::codec::{Cursor, DecodeError, Put};
use super::codec_commands::{encode_command, read_command};
use super::codec_events::{encode_event, read_event, MIN_EVENT_BYTES};
use super::{JournalEntry, JournalError};

/// First bytes of every segment file.
pub const MAGIC: [u8; 8] = *b"CETXJRNL";

/// The format version this code writes and reads. Version 3 journals
/// describe their own market (instruments and calendar are entries).
/// Versions 1 (one checksum over the whole record, no manifest) and 2 (the
/// market defined by the server's config alone) are refused with a message
/// that names them.
pub const FORMAT_VERSION: u32 = 3;

/// Size of a segment header in bytes.
pub const HEADER_LEN: usize = 24;

/// Size of a record's prefix: `len`, `seq`, `type`, `commit_index`,
/// `payload_crc` and `header_crc`.
pub const RECORD_PREFIX_LEN: usize = 25;

/// Bytes of the prefix that `header_crc` covers.
const HEADER_CRC_COVERS: usize = 21;

/// Largest valid `len` (payload bytes), 256 MiB. The largest entry the
/// engine can make, an end of day that expires every order and block the
/// config may allow (`MAX_OPEN_TOTAL`, 25 bytes each), is about 231 MiB;
/// a larger `len` is corruption, and no reader allocates for one.
pub const MAX_RECORD_LEN: u32 = 256 << 20;

/// Default size at which the writer starts a new segment, 64 MiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;

/// What a record holds. Other values are reserved; a reader that meets one
/// reports corruption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordType {
    /// One stamped command and the events the engine made of it.
    Entry = 1,
    /// An entry an operator asked for: the operator's id (`u32`), then an
    /// entry's payload.
    OperatorEntry = 2,
}

/// The header that starts every segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Sequence number of the segment's first record.
    pub first_seq: u64,
}

/// Why a segment header is not valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The file does not start with [`MAGIC`].
    #[error("not a cetx journal segment (bad magic)")]
    BadMagic,
    /// A format version this code does not read.
    #[error("format version {0} is not supported (this build reads {FORMAT_VERSION}; a journal of format 1 or 2 is read by the cetx releases that wrote it, and has no converter)")]
    UnsupportedVersion(u32),
    /// The header's checksum does not match its bytes.
    #[error("header checksum {stored:#010x} does not match {computed:#010x}")]
    BadCrc {
        /// The checksum in the file.
        stored: u32,
        /// The checksum of the header's bytes.
        computed: u32,
    },
}

impl SegmentHeader {
    /// The header's 24 bytes.
    #[must_use]
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.extend_from_slice(&MAGIC);
        out.put_u32(FORMAT_VERSION);
        out.put_u64(self.first_seq);
        out.put_u32(crc32c::crc32c(&out));
        let mut header = [0; HEADER_LEN];
        header.copy_from_slice(&out);
        header
    }

    /// Reads a header.
    ///
    /// # Errors
    /// A [`HeaderError`] for a bad magic, then a bad checksum, then a
    /// version other than this one. Formats 1 and 2 had this very header
    /// (and its checksum), so a journal of theirs is named as such, while
    /// a header whose version bytes were damaged fails its checksum and is
    /// named as damage.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Self, HeaderError> {
        let b = bytes;
        if b[..8] != MAGIC {
            return Err(HeaderError::BadMagic);
        }
        let version = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        let seq = [b[12], b[13], b[14], b[15], b[16], b[17], b[18], b[19]];
        let stored = u32::from_le_bytes([b[20], b[21], b[22], b[23]]);
        let computed = crc32c::crc32c(&b[..HEADER_LEN - 4]);
        if stored != computed {
            return Err(HeaderError::BadCrc { stored, computed });
        }
        if version != FORMAT_VERSION {
            return Err(HeaderError::UnsupportedVersion(version));
        }
        Ok(Self {
            first_seq: u64::from_le_bytes(seq),
        })
    }
}

/// The file name of the segment whose first record is `first_seq`:
/// `journal-{first_seq:020}.seg`, so that names sort like numbers.
#[must_use]
pub fn segment_file_name(first_seq: u64) -> String {
    format!("journal-{first_seq:020}.seg")
}

/// The first sequence number a segment file name states, if it is one.
#[must_use]
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("journal-")?.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segment files in `dir` as they are on disk, ordered by first
/// sequence number, whatever the manifest says (readers go by
/// [`super::manifest::journal_segments`], which checks one against the
/// other). Files with other names (a copy of a truncated tail, say) are
/// ignored.
///
/// # Errors
/// [`JournalError::Io`] when the directory cannot be listed.
pub fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, JournalError> {
    let io = |source| JournalError::io(dir, "listing the journal directory", source);
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        if let Some(first_seq) = name.to_str().and_then(parse_segment_file_name) {
            segments.push((first_seq, entry.path()));
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

/// A record prefix whose own checksum is good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordPrefix {
    /// Payload bytes.
    pub len: u32,
    /// Sequence number.
    pub seq: u64,
    /// What the payload is ([`RecordType`] as a byte; checked by the
    /// reader, not here).
    pub record_type: u8,
    /// Records before this one in its group commit: `seq - commit_index`
    /// is the first sequence number of that commit.
    pub commit_index: u32,
    /// CRC32C of the payload.
    pub payload_crc: u32,
}

impl RecordPrefix {
    /// Reads a prefix and checks its checksum and its length's range.
    ///
    /// # Errors
    /// A sentence saying what is wrong.
    pub fn decode(bytes: &[u8; RECORD_PREFIX_LEN]) -> Result<Self, String> {
        let u32_at = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let stored = u32_at(HEADER_CRC_COVERS);
        let computed = crc32c::crc32c(&bytes[..HEADER_CRC_COVERS]);
        if stored != computed {
            return Err(format!(
                "record header checksum {stored:#010x} does not match {computed:#010x}"
            ));
        }
        let mut seq = [0; 8];
        seq.copy_from_slice(&bytes[4..12]);
        let prefix = Self {
            len: u32_at(0),
            seq: u64::from_le_bytes(seq),
            record_type: bytes[12],
            commit_index: u32_at(13),
            payload_crc: u32_at(17),
        };
        if prefix.len > MAX_RECORD_LEN {
            return Err(format!("record length {} is impossible", prefix.len));
        }
        Ok(prefix)
    }
}

/// Appends one complete entry record: prefix and payload, with its length
/// and checksums filled in, as the only record of its group commit.
///
/// # Errors
/// The encoded length, when the payload would exceed [`MAX_RECORD_LEN`];
/// nothing is appended then.
pub fn encode_entry_record(
    stamp: Stamp,
    command: &Command,
    events: &[Event],
    out: &mut Vec<u8>,
) -> Result<(), usize> {
    let start = out.len();
    begin_entry_record(stamp, None, command, events, out)?;
    seal_record(&mut out[start..], 0);
    Ok(())
}

/// Appends an entry record with its length filled in and its commit index
/// and checksums left zero, for [`seal_record`] to finish (on the writer
/// thread, which knows the group commit).
///
/// # Errors
/// The encoded length, when the payload would exceed [`MAX_RECORD_LEN`];
/// nothing is appended then.
pub(crate) fn begin_entry_record(
    stamp: Stamp,
    operator: Option<u32>,
    command: &Command,
    events: &[Event],
    out: &mut Vec<u8>,
) -> Result<(), usize> {
    let start = out.len();
    out.put_u32(0);
    out.put_u64(stamp.seq);
    out.put_u8(match operator {
        None => RecordType::Entry as u8,
        Some(_) => RecordType::OperatorEntry as u8,
    });
    out.put_u32(0);
    out.put_u32(0);
    out.put_u32(0);
    if let Some(operator) = operator {
        out.put_u32(operator);
    }
    out.put_i64(stamp.time_ns);
    encode_command(command, out);
    out.put_u32(u32::try_from(events.len()).unwrap_or(u32::MAX));
    for event in events {
        encode_event(event, out);
    }
    let len = out.len() - start - RECORD_PREFIX_LEN;
    match u32::try_from(len) {
        Ok(len32) if len32 <= MAX_RECORD_LEN => {
            out[start..start + 4].copy_from_slice(&len32.to_le_bytes());
            Ok(())
        }
        _ => {
            out.truncate(start);
            Err(len)
        }
    }
}

/// The whole length (prefix and payload) of the record that `record`
/// starts with, from its `len` field.
pub(crate) fn record_len(record: &[u8]) -> usize {
    RECORD_PREFIX_LEN + u32::from_le_bytes([record[0], record[1], record[2], record[3]]) as usize
}

/// Fills in the commit index and both checksums of one record whose
/// length is already set.
pub(crate) fn seal_record(record: &mut [u8], commit_index: u32) {
    record[13..17].copy_from_slice(&commit_index.to_le_bytes());
    let payload_crc = crc32c::crc32c(&record[RECORD_PREFIX_LEN..]);
    record[17..21].copy_from_slice(&payload_crc.to_le_bytes());
    let header_crc = crc32c::crc32c(&record[..HEADER_CRC_COVERS]);
    record[21..25].copy_from_slice(&header_crc.to_le_bytes());
}

/// Decodes the payload of an entry record into a stamp and a command,
/// appending its events to `events`.
///
/// # Errors
/// A [`DecodeError`] for a payload that is not one complete entry.
// Inlined into the readers' `next_into`, and `ReadAhead::next_into` into
// the replay loops, so that the command and stamp it returns are not
// stored and loaded again at each call boundary (`cetx replay` ×0.90).
#[inline(always)]
pub fn decode_entry_payload_into(
    seq: u64,
    payload: &[u8],
    events: &mut Vec<Event>,
) -> Result<(Stamp, Command), DecodeError> {
    let mut c = Cursor::new(payload);
    let time_ns = c.i64("Entry.time_ns")?;
    let command = read_command(&mut c)?;
    let count = c.count("Entry.events", MIN_EVENT_BYTES)?;
    events.reserve(count);
    for _ in 0..count {
        events.push(read_event(&mut c)?);
    }
    c.finish("Entry")?;
    Ok((Stamp { seq, time_ns }, command))
}

/// Decodes the payload of an entry record.
///
/// # Errors
/// A [`DecodeError`] for a payload that is not one complete entry.
pub fn decode_entry_payload(seq: u64, payload: &[u8]) -> Result<JournalEntry, DecodeError> {
    let mut events = Vec::new();
    let (stamp, command) = decode_entry_payload_into(seq, payload, &mut events)?;
    Ok(JournalEntry {
        stamp,
        command,
        events,
        operator: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header of `version` for `first_seq` 1, its checksum made good.
    fn header(version: u32) -> [u8; HEADER_LEN] {
        let mut bytes = SegmentHeader { first_seq: 1 }.encode();
        bytes[8..12].copy_from_slice(&version.to_le_bytes());
        let crc = crc32c::crc32c(&bytes[..HEADER_LEN - 4]);
        bytes[HEADER_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    /// The largest entry the engine can make: an end of day at the
    /// market's bounds, every order, block offer and unconfirmed deal the
    /// config may allow expired ([`crate::instrument::MAX_OPEN_TOTAL`],
    /// each a `Cancelled` or `BlockCancelled`), and for each of the most
    /// instruments a phase change, its close and its next band. It fits
    /// in one record, so a close is never refused by the journal.
    #[test]
    fn the_largest_end_of_day_fits_in_a_record() {
        use crate::event::{
            BlockCancelled, CancelCause, Cancelled, DayClosed, DayStarted, PhaseChanged,
            ReferencePriceSet,
        };
        use crate::{AccountId, InstrumentId, OrderId, Phase, Side};
        let size = |event: Event| {
            let mut out = Vec::new();
            encode_event(&event, &mut out);
            out.len() as u64
        };
        let instrument = InstrumentId(u16::MAX - 1);
        let (account, side, cause) = (AccountId(u32::MAX), Side::Sell, CancelCause::Expired);
        let expiry = size(Event::Cancelled(Cancelled {
            order_id: OrderId(u64::MAX),
            account,
            instrument,
            side,
            cancelled_t: u64::MAX,
            cause,
        }))
        .max(size(Event::BlockCancelled(BlockCancelled {
            block_id: u64::MAX,
            account,
            instrument,
            side,
            cancelled_t: u64::MAX,
            cause,
        })));
        let per_instrument = size(Event::PhaseChanged(PhaseChanged {
            instrument,
            phase: Phase::Closed,
        })) + size(Event::DayClosed(DayClosed {
            trading_day: u32::MAX,
            instrument,
            open_ticks: i64::MAX,
            high_ticks: i64::MAX,
            low_ticks: i64::MAX,
            close_ticks: i64::MAX,
            volume_t: u64::MAX,
            turnover_fen: i64::MAX,
            trade_count: u64::MAX,
        })) + size(Event::ReferencePriceSet(ReferencePriceSet {
            instrument,
            price_ticks: i64::MAX,
            floor_ticks: i64::MAX,
            ceiling_ticks: i64::MAX,
        }));
        let mut rest = Vec::new();
        let stamp = Stamp {
            seq: u64::MAX,
            time_ns: i64::MAX,
        };
        let command = Command::EndOfDay {
            trading_date: Some(99_991_231),
        };
        let next_day = [Event::DayStarted(DayStarted {
            trading_day: u32::MAX,
        })];
        begin_entry_record(stamp, None, &command, &next_day, &mut rest).unwrap();
        assert_eq!(expiry, 25);
        let largest = rest.len() as u64
            + expiry * crate::instrument::MAX_OPEN_TOTAL
            + per_instrument * u64::from(u16::MAX);
        assert!(
            largest <= u64::from(MAX_RECORD_LEN),
            "{largest} bytes, over {MAX_RECORD_LEN}"
        );
    }

    /// The largest order's entry: it trades with as many resting orders as
    /// an instrument's rules let one order meet ([`crate::MAX_FILLS`]),
    /// and the rest of it is cancelled (an immediate-or-cancel). It fits
    /// in one record.
    #[test]
    fn the_largest_sweep_fits_in_a_record() {
        use crate::event::{Accepted, CancelCause, Cancelled, Trade};
        use crate::{AccountId, InstrumentId, NewOrder, OrderId, OrderType, Side, TimeInForce};
        let (instrument, account, side) =
            (InstrumentId(u16::MAX - 1), AccountId(u32::MAX), Side::Buy);
        let size = |event: Event| {
            let mut out = Vec::new();
            encode_event(&event, &mut out);
            out.len() as u64
        };
        let trade = size(Event::Trade(Trade {
            trade_id: u64::MAX,
            seq: u64::MAX,
            time_ns: i64::MAX,
            instrument,
            price_ticks: i64::MAX,
            quantity_t: u64::MAX,
            aggressor: side,
            maker_order_id: OrderId(u64::MAX),
            maker_account: account,
            maker_remaining_t: u64::MAX,
            taker_order_id: OrderId(u64::MAX),
            taker_account: account,
            taker_remaining_t: u64::MAX,
        }));
        let cancelled = size(Event::Cancelled(Cancelled {
            order_id: OrderId(u64::MAX),
            account,
            instrument,
            side,
            cancelled_t: u64::MAX,
            cause: CancelCause::Unfilled,
        }));
        let mut rest = Vec::new();
        let stamp = Stamp {
            seq: u64::MAX,
            time_ns: i64::MAX,
        };
        let order = NewOrder {
            order_id: OrderId(u64::MAX),
            account,
            instrument,
            side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Ioc,
            price_ticks: i64::MAX,
            quantity_t: u64::MAX,
            client_order_id: u64::MAX,
        };
        let accepted = Event::Accepted(Accepted {
            order_id: order.order_id,
            account,
            instrument,
            side,
            order_type: order.order_type,
            time_in_force: order.time_in_force,
            price_ticks: order.price_ticks,
            quantity_t: order.quantity_t,
        });
        begin_entry_record(stamp, None, &Command::Submit(order), &[accepted], &mut rest).unwrap();
        assert_eq!(trade, 84);
        let largest = rest.len() as u64 + trade * crate::MAX_FILLS + cancelled;
        assert!(
            largest <= u64::from(MAX_RECORD_LEN),
            "{largest} bytes, over {MAX_RECORD_LEN}"
        );
    }

    #[test]
    fn a_header_is_named_by_what_is_wrong_with_it() {
        assert_eq!(
            SegmentHeader::decode(&header(FORMAT_VERSION)),
            Ok(SegmentHeader { first_seq: 1 })
        );
        // An older format: formats 1 and 2 had this header, checksum and
        // all.
        assert_eq!(
            SegmentHeader::decode(&header(2)),
            Err(HeaderError::UnsupportedVersion(2))
        );
        // One bit of this format's version flipped to read 2 or 1: damage,
        // since the checksum no longer holds.
        for flipped in [FORMAT_VERSION ^ 1, FORMAT_VERSION ^ 2] {
            let mut damaged = header(FORMAT_VERSION);
            damaged[8..12].copy_from_slice(&flipped.to_le_bytes());
            assert!(
                matches!(
                    SegmentHeader::decode(&damaged),
                    Err(HeaderError::BadCrc { .. })
                ),
                "version {flipped}"
            );
        }
        // A newer format whose header checks out.
        assert_eq!(
            SegmentHeader::decode(&header(9)),
            Err(HeaderError::UnsupportedVersion(9))
        );
        // The magic, then zeros: damage, not a format 0.
        let mut zeroed = [0; HEADER_LEN];
        zeroed[..8].copy_from_slice(&MAGIC);
        assert!(matches!(
            SegmentHeader::decode(&zeroed),
            Err(HeaderError::BadCrc { .. })
        ));
    }
}
