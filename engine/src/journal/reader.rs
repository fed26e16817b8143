//! Reading a journal directory: every entry in order, every check on the
//! way, and a verdict on what is wrong when something is.
//!
//! [`JournalReader`] walks the segments in sequence order and yields one
//! [`JournalEntry`] per record. It checks each header (magic, version,
//! checksum, and that its first sequence number is the one its name gives
//! and the one that follows the previous segment), each record's length,
//! checksum and type, that its payload decodes, and that sequence numbers
//! go up by one. The first problem ends the iteration with an error that
//! names the file, the byte offset and the sequence number:
//!
//! - [`JournalError::TornTail`]: the last segment ends in a record that
//!   fails its checks with no whole record after it (or, after zeros, only
//!   records of its own unsynced group commit). A crash during a write
//!   leaves exactly this; so does damage to the very last record of a
//!   journal whose writer did not stop cleanly, which no reader can tell
//!   apart. Recovery truncates it, keeping a copy.
//! - [`JournalError::Corrupt`]: a bad header, a bad record that a whole
//!   later record follows, or a record that checks out but does not
//!   decode. Damage, not a crash: refuse to go on. In a journal whose
//!   `MANIFEST` says it was closed (see [`super::manifest`]) nothing was
//!   being written, so a bad last record is this too, and so are records
//!   that end before the number it was closed at (zeros where they were,
//!   or a cut file).
//! - [`JournalError::Gap`]: sequence numbers that skip or repeat.
//! - [`JournalError::MissingSegment`]: a segment the `MANIFEST` lists is
//!   not there (see [`super::manifest`]).
//!
//! [`verify`] runs the same checks and counts. [`Events`] flattens entries
//! into the `(seq, Event)` pairs downstream registries consume.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use crate::command::{Command, Stamp};
use crate::event::Event;
use crate::replay::ReplayError;

use super::format::decode_entry_payload_into;
use super::manifest::{check_first_record, checked_manifest, ListedSegment, Manifest};
use super::segment::{entry_payload, Header, Raw, SegmentFile, Verdict};
use super::{JournalEntry, JournalError};

/// Times a bad record of a journal not closed cleanly is read again
/// before it is judged.
const REREADS: u32 = 3;

/// Every entry of a journal directory, in sequence order; see the module
/// docs for the checks. Stops after the first error.
pub struct JournalReader {
    /// The journal directory, whose MANIFEST says where each segment is.
    dir: PathBuf,
    segments: VecDeque<(u64, PathBuf)>,
    /// The segments as the manifest listed them at the start, with the
    /// first record it noted for each, by first sequence number.
    listed: Vec<ListedSegment>,
    current: Option<SegmentFile>,
    current_is_last: bool,
    /// The sequence number the next record must have.
    expected: Option<u64>,
    /// Entries before this one are checked but not returned.
    from_seq: u64,
    done: bool,
    segments_opened: usize,
    bytes: u64,
    /// Where the record of the entry returned last starts.
    last_offset: u64,
    /// The operator who asked for the entry returned last, and the bytes
    /// of its record's payload before the entry (the operator's id).
    last_operator: Option<u32>,
    entry_starts: usize,
    /// The last sequence number when the journal's writer stopped cleanly,
    /// as the manifest says; `None` for a journal being written or whose
    /// writer did not stop cleanly.
    closed: Option<u64>,
    /// Where the data of the segment read last ended, and whether zeros
    /// written ahead follow it there.
    data_end: Option<(PathBuf, u64, bool)>,
    /// Whether the journal was written in `fsync` ([`Self::written_synced`]).
    synced_commits: bool,
    /// The record (its sequence number and offset) the first segment
    /// opened is read from ([`Self::open_at`]), not its first.
    start_at: Option<(u64, u64)>,
}

/// Why a bad header of a listed segment is damage, as a message ends.
pub(super) const LISTED_HEADER: &str = "; the MANIFEST lists the segment, and a listed segment's header was synced before any record was written to it, so this is damage, not a write cut short";

impl JournalReader {
    /// Reads every entry in `dir`, from its first segment on.
    ///
    /// # Errors
    /// [`JournalError::Io`] when the directory cannot be listed.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, JournalError> {
        let dir = dir.as_ref();
        let manifest = checked_manifest(dir)?;
        Ok(Self::with_segments(
            dir,
            manifest.listed(dir).into(),
            1,
            &manifest,
        ))
    }

    /// Reads the entries of `dir` from sequence number `from_seq` on (after
    /// a snapshot, say). Segments before the one that holds `from_seq` are
    /// not opened; the records before it in that segment are checked but
    /// not returned.
    ///
    /// # Errors
    /// [`JournalError::Io`] when the directory cannot be listed;
    /// [`JournalError::Gap`] when the journal starts after `from_seq`.
    pub fn open_from(dir: impl AsRef<Path>, from_seq: u64) -> Result<Self, JournalError> {
        let dir = dir.as_ref();
        let manifest = checked_manifest(dir)?;
        let mut segments: VecDeque<_> = manifest.listed(dir).into();
        if let Some((first_seq, file)) = segments.front() {
            if *first_seq > from_seq {
                return Err(JournalError::Gap {
                    file: file.clone(),
                    offset: 0,
                    expected: from_seq,
                    found: *first_seq,
                });
            }
        }
        while segments.get(1).is_some_and(|(first, _)| *first <= from_seq) {
            segments.pop_front();
        }
        Ok(Self::with_segments(dir, segments, from_seq, &manifest))
    }

    /// [`Self::open_from`] `from_seq`, reading the segment that holds `seq`
    /// (at most `from_seq`) from `offset` on, where its record `seq`
    /// starts (a snapshot's record, found there by
    /// [`super::snapshot::record_at`]): the records before it in that
    /// segment are not read. Its header is still checked.
    ///
    /// # Errors
    /// As [`Self::open_from`].
    pub(crate) fn open_at(
        dir: &Path,
        (seq, offset): (u64, u64),
        from_seq: u64,
    ) -> Result<Self, JournalError> {
        let mut reader = Self::open_from(dir, seq)?;
        reader.from_seq = from_seq;
        reader.start_at = Some((seq, offset));
        Ok(reader)
    }

    fn with_segments(
        dir: &Path,
        segments: VecDeque<(u64, PathBuf)>,
        from_seq: u64,
        manifest: &Manifest,
    ) -> Self {
        Self {
            dir: dir.to_path_buf(),
            segments,
            listed: manifest.segments.clone(),
            current: None,
            current_is_last: false,
            expected: None,
            from_seq,
            done: false,
            segments_opened: 0,
            bytes: 0,
            last_offset: 0,
            last_operator: None,
            entry_starts: 0,
            closed: manifest.closed,
            data_end: None,
            synced_commits: false,
            start_at: None,
        }
    }

    /// Reads the journal as one written in [`super::Durability::Fsync`],
    /// where each group commit is written only once the one before it is
    /// synced: a bad record that a later group commit's record header
    /// follows, even one whose payload is damaged too, is damage, not a
    /// write cut short. (In `os`, an OS crash may write a later page and
    /// lose an earlier one.)
    #[must_use]
    pub const fn written_synced(mut self) -> Self {
        self.synced_commits = true;
        self
    }

    /// The last sequence number when the journal's writer stopped cleanly,
    /// as its manifest says (`None`: the journal is being written, or its
    /// writer was killed or crashed).
    #[must_use]
    pub const fn closed(&self) -> Option<u64> {
        self.closed
    }

    /// Where the last segment's data ends in zeros written ahead (a
    /// preallocated segment's unused rest), once the reader has reached
    /// the end of the journal there.
    #[must_use]
    pub fn zero_tail(&self) -> Option<(&std::path::Path, u64)> {
        self.data_end
            .as_ref()
            .filter(|&&(_, _, zeros)| zeros && self.segments.is_empty() && self.current.is_none())
            .map(|(path, offset, _)| (path.as_path(), *offset))
    }

    /// The first sequence number of the segment after the one being read
    /// (`None`: none follows). A reader opened at a sequence number reads
    /// its segment from the start, checking every record, so after damage
    /// this is the first one a new reader can reach.
    #[must_use]
    pub fn next_segment_seq(&self) -> Option<u64> {
        self.segments.front().map(|&(first_seq, _)| first_seq)
    }

    /// The sequence number the next record must have (one past the last
    /// good record), once a segment has been opened.
    #[must_use]
    pub const fn next_seq(&self) -> Option<u64> {
        self.expected
    }

    /// How many segments the reader has opened (a number that changes
    /// with the file), and the segment file being read: the one the entry
    /// returned last came from.
    pub(crate) fn current_file(&self) -> (usize, Option<&Path>) {
        (
            self.segments_opened,
            self.current.as_ref().map(|segment| segment.path.as_path()),
        )
    }

    /// Where the record of the entry returned last starts in its segment.
    pub(crate) const fn last_offset(&self) -> u64 {
        self.last_offset
    }

    /// The entry returned last was checked and decoded, but its events do
    /// not replay (see [`crate::Engine::replay`]): the record is corrupt
    /// although its checksum holds. The error names its segment, offset
    /// and sequence number, as any other damage does.
    #[must_use]
    pub fn corrupt_entry(&self, error: &ReplayError) -> JournalError {
        self.corrupt_record(
            error.seq,
            format!("the entry does not replay: {}", error.what),
        )
    }

    /// Reads the next entry, appending its events to `events` (a buffer the
    /// caller reuses) and returning its stamp and command; `None` at the
    /// end of the journal.
    ///
    /// # Errors
    /// [`JournalError::TornTail`], [`JournalError::Corrupt`],
    /// [`JournalError::Gap`] or [`JournalError::Io`], as the module docs
    /// describe. After an error, every later call returns `Ok(None)`.
    pub fn next_into(
        &mut self,
        events: &mut Vec<Event>,
    ) -> Result<Option<(Stamp, Command)>, JournalError> {
        let Some((seq, payload)) = self.next_payload()? else {
            return Ok(None);
        };
        match decode_entry_payload_into(seq, payload, events) {
            Ok(entry) => Ok(Some(entry)),
            Err(e) => {
                self.done = true;
                Err(self.corrupt_record(seq, format!("the entry does not decode: {e}")))
            }
        }
    }

    /// Reads and checks the next entry's record, as [`Self::next_into`],
    /// without decoding it: its sequence number and payload, for
    /// [`decode_entry_payload_into`] (on another thread, say).
    pub(crate) fn next_payload(&mut self) -> Result<Option<(u64, &[u8])>, JournalError> {
        if self.done {
            return Ok(None);
        }
        let result = self.read_next();
        if !matches!(result, Ok(Some(_))) {
            self.done = true;
        }
        let segment = self.current.as_ref();
        let entry_starts = self.entry_starts;
        Ok(result?.and_then(|seq| Some((seq, &segment?.payload()[entry_starts..]))))
    }

    /// The operator who asked for the entry returned last, over the
    /// operators' channel; `None` for a broker's request or the server's
    /// own command.
    #[must_use]
    pub const fn operator(&self) -> Option<u32> {
        self.last_operator
    }

    /// The record read last is damaged although its checksum holds.
    fn corrupt_record(&self, seq: u64, reason: String) -> JournalError {
        JournalError::Corrupt {
            file: self
                .current
                .as_ref()
                .map(|segment| segment.path.clone())
                .unwrap_or_default(),
            offset: self.last_offset,
            seq,
            reason,
        }
    }

    /// Reads and checks the next entry's record; its sequence number, its
    /// payload then being the current segment's.
    fn read_next(&mut self) -> Result<Option<u64>, JournalError> {
        // A bad record of a journal being written may be a write in
        // progress that the look at what follows it, a moment later, finds
        // finished: read again before judging it.
        let mut rereads = 0;
        loop {
            let Some(segment) = self.current.as_mut() else {
                if !self.open_next_segment()? {
                    self.check_closed_end()?;
                    return Ok(None);
                }
                continue;
            };
            let expected = self.expected.unwrap_or(segment.first_seq);
            let (offset, reason) = match segment.read_record()? {
                Raw::End => {
                    self.bytes += segment.len;
                    self.data_end = Some((segment.path.clone(), segment.len, false));
                    self.current = None;
                    continue;
                }
                Raw::Zero { offset } => match segment.first_nonzero(offset)? {
                    None => {
                        self.bytes += offset;
                        self.data_end = Some((segment.path.clone(), offset, true));
                        self.current = None;
                        continue;
                    }
                    Some(at) => (
                        offset,
                        format!("zeros where a record should be, then bytes that are not zeros from offset {at}"),
                    ),
                },
                Raw::Bad { offset, reason } => (offset, reason),
                Raw::Record {
                    seq,
                    offset,
                    record_type,
                    header_crc,
                } => {
                    if seq == segment.first_seq {
                        let listed = self
                            .listed
                            .binary_search_by_key(&seq, |s| s.first_seq)
                            .ok()
                            .map(|i| self.listed[i]);
                        if let Some(listed) = listed {
                            check_first_record(&segment.path, listed, header_crc)?;
                        }
                    }
                    if seq != expected {
                        return Err(JournalError::Gap {
                            file: segment.path.clone(),
                            offset,
                            expected,
                            found: seq,
                        });
                    }
                    self.expected = Some(seq + 1);
                    let corrupt = |reason: String| JournalError::Corrupt {
                        file: segment.path.clone(),
                        offset,
                        seq,
                        reason,
                    };
                    if let Some(closed) = self.closed.filter(|&closed| seq > closed) {
                        return Err(corrupt(format!(
                            "the journal was closed cleanly after seq {closed} (its MANIFEST says so), but this record follows it"
                        )));
                    }
                    let (entry, operator) =
                        entry_payload(record_type, segment.payload()).map_err(corrupt)?;
                    if seq < self.from_seq {
                        continue;
                    }
                    self.last_operator = operator;
                    self.entry_starts = segment.payload().len() - entry.len();
                    self.last_offset = offset;
                    return Ok(Some(seq));
                }
            };
            if self.closed.is_none() && rereads < REREADS {
                rereads += 1;
                segment.refresh_len()?;
                continue;
            }
            let closed = self.closed;
            // Only a torn tail is in question where a record of a later
            // group commit proves this one synced: at the end of the last
            // segment of a journal not closed cleanly.
            let at_open_end = self.current_is_last && closed.is_none();
            return Err(
                match segment.judge(offset, expected, self.synced_commits && at_open_end)? {
                    Verdict::TornLike if self.current_is_last => {
                        problem(segment, offset, expected, reason, true, closed)
                    }
                    Verdict::TornLike => JournalError::Corrupt {
                        file: segment.path.clone(),
                        offset,
                        seq: expected,
                        reason: format!("{reason}, in a segment that a later one follows"),
                    },
                    Verdict::Corrupt(why) => JournalError::Corrupt {
                        file: segment.path.clone(),
                        offset,
                        seq: expected,
                        reason: format!("{reason}, and {why}"),
                    },
                },
            );
        }
    }

    /// Opens the next segment and checks its header; `false` when there is
    /// none.
    fn open_next_segment(&mut self) -> Result<bool, JournalError> {
        let Some((first_seq, mut path)) = self.segments.pop_front() else {
            return Ok(false);
        };
        if !path.exists() {
            // Archived since the journal was opened (`cetx journal
            // archive` beside a reader that is behind): the MANIFEST now
            // says where it and those after it are.
            let listed = super::manifest::journal_segments(&self.dir)?;
            self.segments = listed
                .into_iter()
                .filter(|(first, _)| *first >= first_seq)
                .collect();
            match self.segments.pop_front() {
                Some((first, moved)) if first == first_seq && moved.exists() => path = moved,
                _ => {
                    return Err(JournalError::MissingSegment {
                        file: path,
                        first_seq,
                    })
                }
            }
        }
        let is_last = self.segments.is_empty();
        let mut segment = SegmentFile::open(&path, first_seq)?;
        let previous_end = self.data_end.take();
        self.segments_opened += 1;
        let expected = self.expected.unwrap_or(first_seq);
        // Every segment read here is listed in the manifest, and the writer
        // lists one only once its header is synced: a header that is not
        // there is damage, never a write cut short, even in the last one.
        let listed = LISTED_HEADER;
        match segment.read_header()? {
            Header::Good => {}
            Header::Short => {
                let reason = format!("the file is shorter than a segment header{listed}");
                return Err(problem(&segment, 0, expected, reason, false, self.closed));
            }
            Header::Bad { reason, .. } => {
                let reason = format!("{reason}{listed}");
                return Err(problem(&segment, 0, expected, reason, false, self.closed));
            }
        }
        if first_seq != expected {
            if let Some((previous, offset, _)) = previous_end {
                let (seq, reason) = if first_seq > expected {
                    // A segment whose end is gone (cut, or zeroed like the
                    // unused end of one written ahead) reads as one that
                    // ends early: the damage is there, not in this
                    // segment, which starts where its name and the
                    // manifest say.
                    let missing = if first_seq - 1 == expected {
                        format!("seq {expected} is")
                    } else {
                        format!("seqs {expected} to {} are", first_seq - 1)
                    };
                    let reason = format!(
                        "the segment's records end at seq {}, but the next segment, {}, begins at seq {first_seq}: {missing} missing from this one's end (cut short, or zeroed)",
                        expected - 1,
                        path.display(),
                    );
                    (expected, reason)
                } else {
                    // One that runs past where the next begins: the two
                    // overlap, and the damage is again the one read first
                    // (another journal's segment under its name, say).
                    let reason = format!(
                        "the segment's records run to seq {}, past the start of the next segment, {}, at seq {first_seq}: the two overlap, so this one is not the segment that came before it (one of another journal, or a copy)",
                        expected - 1,
                        path.display(),
                    );
                    (expected - 1, reason)
                };
                return Err(JournalError::Corrupt {
                    file: previous,
                    offset,
                    seq,
                    reason,
                });
            }
            return Err(JournalError::Gap {
                file: path,
                offset: 0,
                expected,
                found: first_seq,
            });
        }
        self.expected = Some(first_seq);
        if let Some((seq, offset)) = self.start_at.take() {
            // Its first record is still checked against the manifest, as
            // for the segments before (one that does not read is left to
            // a full read).
            if let Raw::Record { header_crc, .. } = segment.read_record()? {
                if let Some(listed) = self.listed.iter().find(|s| s.first_seq == first_seq) {
                    check_first_record(&segment.path, *listed, header_crc)?;
                }
            }
            segment.skip_to(offset)?;
            self.expected = Some(seq);
        }
        self.current = Some(segment);
        self.current_is_last = is_last;
        Ok(true)
    }

    /// At the end of the journal's data: fails when the journal was closed
    /// cleanly at another sequence number than its records end at (zeros
    /// where acknowledged records were, or a cut file).
    fn check_closed_end(&self) -> Result<(), JournalError> {
        let Some(closed) = self.closed else {
            return Ok(());
        };
        let last = self.expected.map_or(0, |next| next - 1);
        if last == closed {
            return Ok(());
        }
        let (file, offset, zeros) = self.data_end.clone().unwrap_or_default();
        let what = if zeros {
            "zeros follow"
        } else {
            "so does the file"
        };
        Err(JournalError::Corrupt {
            file,
            offset,
            seq: last + 1,
            reason: format!(
                "the journal was closed cleanly after seq {closed} (its MANIFEST says so), but its records end at seq {last} and {what}: records are missing"
            ),
        })
    }

    /// Reads every remaining entry as `(seq, Event)` pairs.
    #[must_use]
    pub fn events(self) -> Events<Self> {
        Events::new(self)
    }
}

/// A torn tail or corruption at `offset` of `segment`: what looks `torn`
/// is a torn tail only in a journal that was not closed cleanly (`closed`
/// is where the manifest says a clean stop left it).
fn problem(
    segment: &SegmentFile,
    offset: u64,
    seq: u64,
    reason: String,
    torn: bool,
    closed: Option<u64>,
) -> JournalError {
    let file = segment.path.clone();
    match (torn, closed) {
        (true, None) => JournalError::TornTail { file, offset, seq },
        (true, Some(closed)) if seq > closed => JournalError::Corrupt {
            file,
            offset,
            seq,
            reason: format!(
                "the journal was closed cleanly after seq {closed} (its MANIFEST says so), and what follows its last record is not zeros ({reason})"
            ),
        },
        (true, Some(closed)) => JournalError::Corrupt {
            file,
            offset,
            seq,
            reason: format!(
                "{reason}; the journal was closed cleanly after seq {closed} (its MANIFEST says so), so this is damage, not a write cut short"
            ),
        },
        (false, _) => JournalError::Corrupt {
            file,
            offset,
            seq,
            reason,
        },
    }
}

impl Iterator for JournalReader {
    type Item = Result<JournalEntry, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut events = Vec::new();
        match self.next_into(&mut events) {
            Ok(Some((stamp, command))) => Some(Ok(JournalEntry {
                stamp,
                command,
                events,
                operator: self.last_operator,
            })),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// Flattens entries into `(seq, Event)` pairs, in order: each event with
/// the sequence number of the command that caused it. Works over a
/// [`JournalReader`] or a following iterator alike.
pub struct Events<I> {
    entries: I,
    seq: u64,
    pending: std::vec::IntoIter<Event>,
}

impl<I> Events<I> {
    /// Flattens `entries`.
    pub fn new(entries: I) -> Self {
        Self {
            entries,
            seq: 0,
            pending: Vec::new().into_iter(),
        }
    }
}

impl<I: Iterator<Item = Result<JournalEntry, JournalError>>> Iterator for Events<I> {
    type Item = Result<(u64, Event), JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(event) = self.pending.next() {
                return Some(Ok((self.seq, event)));
            }
            match self.entries.next()? {
                Ok(entry) => {
                    self.seq = entry.stamp.seq;
                    self.pending = entry.events.into_iter();
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// What [`verify`] found in a journal that checks out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segment files read.
    pub segments: usize,
    /// Entries (records).
    pub entries: u64,
    /// Events in those entries.
    pub events: u64,
    /// Sequence number of the first entry.
    pub first_seq: Option<u64>,
    /// Sequence number of the last entry.
    pub last_seq: Option<u64>,
    /// Bytes of data in the segment files: headers and records, without
    /// the zeros written ahead.
    pub bytes: u64,
}

/// Reads a whole journal directory and checks everything: headers, record
/// checksums and types, that every entry decodes, and sequence continuity
/// within and across segments.
///
/// # Errors
/// The first problem, by file, offset and sequence number:
/// [`JournalError::TornTail`], [`JournalError::Corrupt`],
/// [`JournalError::Gap`] or [`JournalError::Io`].
pub fn verify(dir: impl AsRef<Path>) -> Result<VerifyReport, JournalError> {
    let mut reader = JournalReader::open(dir)?;
    let mut report = VerifyReport::default();
    let mut events = Vec::new();
    while let Some((stamp, _)) = reader.next_into(&mut events)? {
        report.first_seq.get_or_insert(stamp.seq);
        report.last_seq = Some(stamp.seq);
        report.entries += 1;
        report.events += events.len() as u64;
        events.clear();
    }
    report.segments = reader.segments_opened;
    report.bytes = reader.bytes;
    Ok(report)
}
