//! Snapshots: the engine's state at a sequence number, so that recovery
//! replays only the journal after it.
//!
//! A snapshot file is `snapshot-{seq:020}.snap` in the journal directory:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `CETXSNAP` |
//! | 8 | 4 | format version, `u32` LE (8; 2 to 7 are still read) |
//! | 12 | 8 | sequence number the state is *after*, `u64` LE |
//! | 20 | 8 | payload length, `u64` LE |
//! | 28 | 4 | CRC32C of the payload, `u32` LE |
//! | 32 | n | payload: (version 7) the `header_crc` of the journal's record at that sequence number, `u32` LE; (version 8) where that record starts in its segment, `u64` LE; then the state, encoded by [`encode_state`] |
//!
//! The record's checksum ties the snapshot to its journal: recovery takes
//! up a snapshot only if the journal's record at its sequence number has
//! that checksum, so one of another history (copied in from another data
//! directory) is skipped even where no entry after it would tell, as at
//! the journal's very end. Versions 2 to 6 carry no tie. The record's
//! offset lets recovery read its segment from that record on, so damage
//! to the records before it does not stop a start; a snapshot of
//! version 7 has its segment read from the start.
//!
//! It is written to a temporary name and renamed into place, so a process
//! that dies leaves either the whole snapshot or none. It is *not* synced:
//! a snapshot is only a shortcut (the journal alone is always enough, and
//! one that fails its checks is skipped, never trusted), and it is only
//! written once the entry it follows is durable, so one lost or cut short
//! by a power failure costs a longer replay, never a wrong state. Syncing
//! it did cost: on ext4 each snapshot's `fsync` and directory sync held the
//! journal's group commits back for up to a second under load.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::codec_state::{decode_state_of, encode_state, STATE_VERSION};
use super::manifest::Manifest;
use super::segment::{Header, Raw, SegmentFile};
use super::JournalError;
use crate::state::EngineState;

/// First bytes of every snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"CETXSNAP";
/// The snapshot format this code writes: 2 holds the market's definition
/// (each instrument's spec and the calendar), 3 adds the membership
/// (brokers added by command, suspended and closed brokers and accounts)
/// and the date the last end of day closed, 4 the block-trading section
/// (each instrument's block rules, open offers, pending deals), 5 the
/// auctions section (each instrument's auction fields, open auctions and
/// their bids), 6 each reference's transfer terms, 7 the checksum of the
/// journal's record at its sequence number before the state, and each
/// instrument's last trade price, 8 where that record starts in its
/// segment (the state as 7's). Versions 2 to 7 are read (a version 2
/// snapshot comes from a journal of undated ends of day, so it has no
/// closed date; before 7 without a tie to their record, 7 without its
/// offset); a snapshot of version 1 is skipped, and recovery replays the
/// journal instead.
pub const SNAPSHOT_VERSION: u32 = 8;
/// The first snapshot version whose payload starts with its record's
/// checksum.
const TIED_SINCE: u32 = 7;
/// The first snapshot version whose payload holds its record's offset
/// after its checksum.
const PLACED_SINCE: u32 = 8;
/// The oldest snapshot version still read.
const OLDEST_SNAPSHOT_VERSION: u32 = 2;
const SNAPSHOT_HEADER_LEN: usize = 32;

/// The file name of the snapshot after sequence number `seq`.
#[must_use]
pub fn snapshot_file_name(seq: u64) -> String {
    format!("snapshot-{seq:020}.snap")
}

fn parse_snapshot_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("snapshot-")?.strip_suffix(".snap")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The snapshot files in `dir`, newest (highest sequence number) first.
///
/// # Errors
/// [`JournalError::Io`] when the directory cannot be listed.
pub fn list_snapshots(dir: &Path) -> Result<Vec<(u64, PathBuf)>, JournalError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(JournalError::io(dir, "listing snapshots in", e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io(dir, "listing snapshots in", e))?;
        if let Some(seq) = entry
            .file_name()
            .to_str()
            .and_then(parse_snapshot_file_name)
        {
            found.push((seq, entry.path()));
        }
    }
    found.sort_by_key(|&(seq, _)| std::cmp::Reverse(seq));
    Ok(found)
}

/// Writes the state after sequence number `seq` as a snapshot (not
/// synced; see the module docs), tied to the journal's record at `seq`,
/// which it reads from the journal in `dir`. Call it only once `seq`
/// itself is durable in the journal.
///
/// # Errors
/// [`JournalError::NoRecordForSnapshot`] when the journal holds no
/// readable record at `seq`; [`JournalError::Io`] when reading the journal,
/// writing or renaming fails; no partial snapshot is left under the final
/// name.
pub fn write_snapshot(dir: &Path, seq: u64, state: &EngineState) -> Result<PathBuf, JournalError> {
    match record_at(dir, seq, None)? {
        RecordAt::Found(tie) => write_snapshot_tied(dir, seq, tie, state),
        RecordAt::Archived | RecordAt::Missing => Err(JournalError::NoRecordForSnapshot {
            dir: dir.to_path_buf(),
            seq,
        }),
    }
}

/// [`write_snapshot`] with the record at `seq` given rather than read
/// from the journal: for a caller that knows it (and for tests of the
/// file's encoding).
///
/// # Errors
/// [`JournalError::Io`] when writing or renaming fails.
pub fn write_snapshot_tied(
    dir: &Path,
    seq: u64,
    tie: Tie,
    state: &EngineState,
) -> Result<PathBuf, JournalError> {
    let mut payload = tie.header_crc.to_le_bytes().to_vec();
    payload.extend_from_slice(&tie.offset.to_le_bytes());
    encode_state(state, &mut payload);
    let path = dir.join(snapshot_file_name(seq));
    write_framed(&path, SNAPSHOT_MAGIC, SNAPSHOT_VERSION, seq, &payload)?;
    Ok(path)
}

/// Reads and checks one snapshot file: magic, version, length, CRC, and
/// that the payload decodes.
///
/// # Errors
/// A sentence saying what is wrong with the file.
pub fn read_snapshot(path: &Path) -> Result<(u64, EngineState), String> {
    read_snapshot_tie(path).map(|(seq, _, state)| (seq, state))
}

/// The journal record a snapshot was taken after, which ties it to its
/// journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tie {
    /// The record's `header_crc`.
    pub header_crc: u32,
    /// Where the record starts in its segment (a snapshot of version 7
    /// does not say: 0).
    pub offset: u64,
}

/// [`read_snapshot`], with the journal record the snapshot was taken after
/// (`None` for a version older than 7, which does not carry it).
///
/// # Errors
/// As [`read_snapshot`].
pub fn read_snapshot_tie(path: &Path) -> Result<(u64, Option<Tie>, EngineState), String> {
    let (version, seq, payload) = read_snapshot_file(path)?;
    let (tie, state) = split_tie(version, &payload)?;
    let state = decode_state_of(state, version.min(STATE_VERSION))
        .map_err(|e| format!("payload does not decode: {e}"))?;
    Ok((seq, tie, state))
}

/// The entry the snapshot at `path` was taken after, its events in
/// `events`: read in `dir` where the snapshot says its record starts
/// (version 8), so that the records before it in its segment are not read,
/// as recovery does not read them; else from its segment's start. `None`
/// when the journal holds no such entry. The snapshot's state is not
/// decoded.
///
/// # Errors
/// A sentence: the snapshot file or the journal cannot be read there.
pub fn read_snapshot_entry(
    dir: &Path,
    path: &Path,
    events: &mut Vec<crate::Event>,
) -> Result<Option<crate::Stamp>, String> {
    let (version, seq, payload) = read_snapshot_file(path)?;
    let (tie, _) = split_tie(version, &payload)?;
    let reader = match tie {
        // A version 7 snapshot's offset, 0, is no record's start.
        Some(Tie { offset, .. }) if offset > 0 => {
            super::JournalReader::open_at(dir, (seq, offset), seq)
        }
        _ => super::JournalReader::open_from(dir, seq),
    };
    let entry = reader
        .and_then(|mut reader| reader.next_into(events))
        .map_err(|e| e.to_string())?;
    Ok(entry
        .map(|(stamp, _)| stamp)
        .filter(|stamp| stamp.seq == seq))
}

/// A snapshot file's version, sequence number and payload, checked.
fn read_snapshot_file(path: &Path) -> Result<(u32, u64, Vec<u8>), String> {
    let versions = OLDEST_SNAPSHOT_VERSION..=SNAPSHOT_VERSION;
    read_framed_of(path, SNAPSHOT_MAGIC, versions)
}

/// A snapshot payload of `version` as its tie and the encoded state.
fn split_tie(version: u32, payload: &[u8]) -> Result<(Option<Tie>, &[u8]), String> {
    Ok(if version >= TIED_SINCE {
        let Some((header_crc, state)) = payload.split_first_chunk::<4>() else {
            return Err("payload is too short for its record's checksum".into());
        };
        let (offset, state) = if version >= PLACED_SINCE {
            let Some((offset, state)) = state.split_first_chunk::<8>() else {
                return Err("payload is too short for its record's offset".into());
            };
            (u64::from_le_bytes(*offset), state)
        } else {
            (0, state)
        };
        let header_crc = u32::from_le_bytes(*header_crc);
        (Some(Tie { header_crc, offset }), state)
    } else {
        (None, payload)
    })
}

/// What the journal holds at a sequence number, for the tie between a
/// snapshot and its record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordAt {
    /// A record that checks out: its `header_crc` and where it starts.
    Found(Tie),
    /// The segment it would be in is archived: not opened (recovery never
    /// opens the archive, which may be on slower storage).
    Archived,
    /// No record there that reads: the journal ends before it, or it (or
    /// its segment) is missing or damaged, which a full read names.
    Missing,
}

/// The journal's record in `dir` that a snapshot after `seq` was taken
/// after, looked for where `tie` says it starts ([`record_at`]).
///
/// # Errors
/// A sentence: the record at `seq` has another checksum than `tie`'s (a
/// snapshot of another history), or the journal cannot be read.
pub(crate) fn tied_record(dir: &Path, seq: u64, tie: Tie) -> Result<RecordAt, String> {
    // A version 7 snapshot's offset, 0, is no record's start (the
    // segment's header is there): `record_at` scans.
    let found = record_at(dir, seq, Some(tie.offset)).map_err(|e| e.to_string())?;
    match found {
        RecordAt::Found(Tie { header_crc, .. }) if header_crc != tie.header_crc => Err(format!(
            "the journal's record at seq {seq} is not the one it was taken after (its header checksum is {header_crc:#010x}, the snapshot's {:#010x}): a snapshot of another history",
            tie.header_crc
        )),
        found => Ok(found),
    }
}

/// The journal's record at `seq` in `dir`: read at `offset` in its segment
/// when one is given and a record with that number starts there; else the
/// segment is read from its header up to that record (the records before
/// it are checked as any reader checks them, and may be being appended to
/// by a live writer meanwhile).
///
/// # Errors
/// [`JournalError::Io`] or [`JournalError::BadManifest`] when the journal
/// cannot be read at all.
pub(crate) fn record_at(
    dir: &Path,
    seq: u64,
    offset: Option<u64>,
) -> Result<RecordAt, JournalError> {
    let Some(manifest) = Manifest::read(dir)? else {
        return Ok(RecordAt::Missing);
    };
    let Some(&listed) = manifest.segments.iter().rev().find(|s| s.first_seq <= seq) else {
        return Ok(RecordAt::Missing);
    };
    if listed.archived {
        return Ok(RecordAt::Archived);
    }
    let path = manifest.path_of(dir, listed);
    if !path.exists() {
        return Ok(RecordAt::Missing);
    }
    let mut segment = SegmentFile::open(&path, listed.first_seq)?;
    if !matches!(segment.read_header()?, Header::Good) {
        return Ok(RecordAt::Missing);
    }
    if let Some(offset) = offset.filter(|&at| at >= segment.offset && at < segment.len) {
        let first_record = segment.offset;
        segment.skip_to(offset)?;
        if let Some(tie) = tie_of(&segment.read_record()?, seq) {
            return Ok(RecordAt::Found(tie));
        }
        segment.skip_to(first_record)?;
    }
    loop {
        let raw = segment.read_record()?;
        if let Some(tie) = tie_of(&raw, seq) {
            return Ok(RecordAt::Found(tie));
        }
        if !matches!(raw, Raw::Record { seq: found, .. } if found < seq) {
            return Ok(RecordAt::Missing);
        }
    }
}

/// The tie of `raw` when it is the good record `seq`.
fn tie_of(raw: &Raw, seq: u64) -> Option<Tie> {
    match *raw {
        Raw::Record {
            seq: found,
            header_crc,
            offset,
            ..
        } if found == seq => Some(Tie { header_crc, offset }),
        _ => None,
    }
}

/// Writes a snapshot-like file at `path`: the 32-byte header of the table
/// in the module docs with these `magic` and `version`, then `payload`;
/// to a temporary name, renamed into place, not synced. The gateway keeps
/// its own state beside each snapshot in such a file.
///
/// # Errors
/// [`JournalError::Io`] when writing or renaming fails; no partial file is
/// left under the final name.
pub fn write_framed(
    path: &Path,
    magic: [u8; 8],
    version: u32,
    seq: u64,
    payload: &[u8],
) -> Result<(), JournalError> {
    let mut bytes = Vec::with_capacity(SNAPSHOT_HEADER_LEN + payload.len());
    bytes.extend_from_slice(&magic);
    bytes.extend_from_slice(&version.to_le_bytes());
    bytes.extend_from_slice(&seq.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = super::private::create_temporary(&temporary)
        .map_err(|e| JournalError::io(&temporary, "creating snapshot", e))?;
    let written = file
        .write_all(&bytes)
        .map_err(|e| JournalError::io(&temporary, "writing snapshot", e))
        .and_then(|()| {
            fs::rename(&temporary, path)
                .map_err(|e| JournalError::io(path, "renaming snapshot to", e))
        });
    if written.is_err() {
        // A full disk, say: no partial file is left behind.
        drop(file);
        let _ = fs::remove_file(&temporary);
    }
    written
}

/// Reads a file [`write_framed`] wrote with these `magic` and `version`,
/// checking its header and checksum; returns its sequence number and
/// payload.
///
/// # Errors
/// A sentence saying what is wrong with the file.
pub fn read_framed(path: &Path, magic: [u8; 8], version: u32) -> Result<(u64, Vec<u8>), String> {
    read_framed_of(path, magic, version..=version).map(|(_, seq, payload)| (seq, payload))
}

/// [`read_framed`] for a file of any version in `versions`; returns the
/// version too.
fn read_framed_of(
    path: &Path,
    magic: [u8; 8],
    versions: std::ops::RangeInclusive<u32>,
) -> Result<(u32, u64, Vec<u8>), String> {
    let mut bytes = super::private::read_regular(path).map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() < SNAPSHOT_HEADER_LEN || bytes[..8] != magic {
        return Err("not a snapshot (bad magic or short header)".into());
    }
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let found = u32_at(8);
    if !versions.contains(&found) {
        return Err(format!(
            "snapshot version {found}, this build reads {} to {}",
            versions.start(),
            versions.end()
        ));
    }
    let (seq, len, crc) = (u64_at(12), u64_at(20), u32_at(28));
    let payload = bytes.split_off(SNAPSHOT_HEADER_LEN);
    if len != payload.len() as u64 {
        return Err(format!(
            "payload is {} bytes, header says {len}",
            payload.len()
        ));
    }
    if crc32c::crc32c(&payload) != crc {
        return Err("payload CRC mismatch".into());
    }
    Ok((found, seq, payload))
}
