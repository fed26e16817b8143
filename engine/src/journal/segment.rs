//! One segment file, read record by record: the shared core of
//! [`super::JournalReader`] and [`super::JournalFollower`].
//!
//! [`SegmentFile::read_record`] reads the next record and says what it
//! found: a record whose prefix and payload check out, the end of the
//! file, zeros where the next prefix should be (space the writer filled
//! ahead of time and has not reached), or a bad record.
//! [`SegmentFile::judge`] then tells a bad record that could be an
//! interrupted write from damage: torn means that no whole record follows
//! it, or that only zeros lie between it and the whole records that do,
//! and those belong to its own group commit (which was never synced, so
//! never acknowledged). Whether "could be torn" makes it a torn tail,
//! corruption or "not written yet" is the caller's call: it depends on
//! whether this is the last segment, and on whether the journal is still
//! being written.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::format::{RecordPrefix, RecordType, SegmentHeader, HEADER_LEN, RECORD_PREFIX_LEN};
use super::JournalError;

/// Read buffer per open segment.
const READ_BUFFER_BYTES: usize = 256 << 10;

/// Bytes read at a time when checking that a segment's rest is zeros.
const ZERO_CHECK_BYTES: usize = 1 << 20;

/// What reading the next record of a segment found.
pub(crate) enum Raw {
    /// A record whose prefix and payload check out; its payload is
    /// [`SegmentFile::payload`] until the next read.
    Record {
        /// Its sequence number.
        seq: u64,
        /// Where it starts in the file.
        offset: u64,
        /// Its type byte.
        record_type: u8,
        /// Its prefix's own checksum (`header_crc`), which a snapshot
        /// taken after it carries.
        header_crc: u32,
    },
    /// The end of the file, at a record boundary.
    End,
    /// The next prefix is all zeros: space written ahead, not yet used
    /// (or never used, if nothing valid follows).
    Zero {
        /// Where the zeros start.
        offset: u64,
    },
    /// The next record is not good.
    Bad {
        /// Where it starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

/// What reading a segment's header found.
pub(crate) enum Header {
    /// A good header that agrees with the file name.
    Good,
    /// The file is shorter than a header.
    Short,
    /// A header that is not good.
    Bad {
        /// What is wrong.
        reason: String,
        /// Whether the header and all after it are zeros.
        torn_like: bool,
    },
}

/// What [`SegmentFile::judge`] made of a bad record (or of zeros with
/// something after them).
pub(crate) enum Verdict {
    /// It could be a write cut short: no whole record follows, or only
    /// records of its own unsynced group commit follow after zeros.
    TornLike,
    /// Damage: a whole record follows it that was written after it was.
    Corrupt(String),
}

/// One segment file, read front to back.
pub(crate) struct SegmentFile {
    pub(crate) path: PathBuf,
    /// The first sequence number the file's name gives.
    pub(crate) first_seq: u64,
    reader: BufReader<File>,
    /// Bytes of the last good record's payload still at the front of the
    /// read buffer, not yet consumed: a payload that lies whole in the
    /// buffer is checked and decoded where it lies, never copied.
    in_buffer: usize,
    /// The last good record's payload, when it did not lie whole in the
    /// read buffer (empty when it did).
    spilled: Vec<u8>,
    /// Where the next record starts.
    pub(crate) offset: u64,
    /// The file's length when last looked at.
    pub(crate) len: u64,
}

impl SegmentFile {
    pub(crate) fn open(path: &Path, first_seq: u64) -> Result<Self, JournalError> {
        let file = super::private::open_regular(path)
            .map_err(|e| JournalError::io(path, "opening journal segment", e))?;
        let mut segment = Self {
            path: path.to_path_buf(),
            first_seq,
            reader: BufReader::with_capacity(READ_BUFFER_BYTES, file),
            in_buffer: 0,
            spilled: Vec::new(),
            offset: 0,
            len: 0,
        };
        segment.refresh_len()?;
        Ok(segment)
    }

    fn io(&self, context: &'static str) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
        move |e| JournalError::io(&self.path, context, e)
    }

    /// Looks at the file's length again; returns whether it grew.
    pub(crate) fn refresh_len(&mut self) -> Result<bool, JournalError> {
        let len = self
            .reader
            .get_ref()
            .metadata()
            .map_err(self.io("reading the size of journal segment"))?
            .len();
        let grew = len > self.len;
        self.len = len;
        Ok(grew)
    }

    /// Whether the file now at this segment's path is another than the one
    /// open: a new writer replaced the empty newest segment a killed one
    /// left (JOURNAL.md, *Durability*) by renaming another file over its
    /// name. No file there at all (archived, say) is not a replacement.
    pub(crate) fn is_replaced(&self) -> Result<bool, JournalError> {
        use std::os::unix::fs::MetadataExt;
        let open = self
            .reader
            .get_ref()
            .metadata()
            .map_err(self.io("looking at journal segment"))?;
        match std::fs::metadata(&self.path) {
            Ok(now) => Ok((now.dev(), now.ino()) != (open.dev(), open.ino())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io("looking at journal segment")(e)),
        }
    }

    /// Reads and checks the header; on success the next read is the first
    /// record.
    pub(crate) fn read_header(&mut self) -> Result<Header, JournalError> {
        if self.len < HEADER_LEN as u64 {
            return Ok(Header::Short);
        }
        let mut bytes = [0; HEADER_LEN];
        self.reader
            .read_exact(&mut bytes)
            .map_err(self.io("reading the header of journal segment"))?;
        let problem = match SegmentHeader::decode(&bytes) {
            Ok(header) if header.first_seq == self.first_seq => None,
            Ok(header) => Some(format!(
                "header says the first seq is {} but the file name says {}",
                header.first_seq, self.first_seq
            )),
            Err(e) => Some(e.to_string()),
        };
        match problem {
            None => {
                self.offset = HEADER_LEN as u64;
                Ok(Header::Good)
            }
            Some(reason) => Ok(Header::Bad {
                reason,
                torn_like: self.rest_is_zero(0)?,
            }),
        }
    }

    /// Reads the next record (a good one's payload is then
    /// [`SegmentFile::payload`]). After anything but
    /// a good record the read position stays where the record starts, and
    /// the next call reads the file again (a follower waits that way).
    ///
    /// A file cut shorter since its length was read (recovery trims the
    /// zeros written ahead off the last segment while a follower reads it)
    /// is read again at its length now.
    pub(crate) fn read_record(&mut self) -> Result<Raw, JournalError> {
        match self.read_record_once() {
            Err(JournalError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                self.seek(self.offset)?;
                self.refresh_len()?;
                self.read_record_once()
            }
            read => read,
        }
    }

    fn read_record_once(&mut self) -> Result<Raw, JournalError> {
        self.reader.consume(std::mem::take(&mut self.in_buffer));
        let offset = self.offset;
        let left = self.len.saturating_sub(offset);
        if left == 0 {
            return Ok(Raw::End);
        }
        if left < RECORD_PREFIX_LEN as u64 {
            if self.rest_is_zero(offset)? {
                return Ok(Raw::Zero { offset });
            }
            let reason = "the file ends inside a record's header";
            return Ok(Raw::Bad {
                offset,
                reason: reason.into(),
            });
        }
        let mut bytes = [0; RECORD_PREFIX_LEN];
        self.reader
            .read_exact(&mut bytes)
            .map_err(self.io("reading journal segment"))?;
        if bytes.iter().all(|&b| b == 0) {
            self.seek(offset)?;
            return Ok(Raw::Zero { offset });
        }
        let prefix = match RecordPrefix::decode(&bytes) {
            Ok(prefix) => prefix,
            Err(reason) => {
                self.seek(offset)?;
                return Ok(Raw::Bad { offset, reason });
            }
        };
        let end = offset + RECORD_PREFIX_LEN as u64 + u64::from(prefix.len);
        if end > self.len {
            self.seek(offset)?;
            let reason = format!(
                "a record of {} bytes runs past the end of the file",
                prefix.len
            );
            return Ok(Raw::Bad { offset, reason });
        }
        let len = prefix.len as usize;
        let payload = if self.reader.buffer().len() >= len {
            self.in_buffer = len;
            self.spilled.clear();
            &self.reader.buffer()[..len]
        } else {
            self.spilled.resize(len, 0);
            self.reader
                .read_exact(&mut self.spilled)
                .map_err(|e| JournalError::io(&self.path, "reading journal segment", e))?;
            &self.spilled[..]
        };
        let computed = crc32c::crc32c(payload);
        if computed != prefix.payload_crc {
            self.seek(offset)?;
            let reason = format!(
                "record payload checksum {:#010x} does not match {computed:#010x}",
                prefix.payload_crc
            );
            return Ok(Raw::Bad { offset, reason });
        }
        self.offset = end;
        Ok(Raw::Record {
            seq: prefix.seq,
            offset,
            record_type: prefix.record_type,
            header_crc: u32::from_le_bytes([bytes[21], bytes[22], bytes[23], bytes[24]]),
        })
    }

    /// The payload of the good record the last [`SegmentFile::read_record`]
    /// found.
    pub(crate) fn payload(&self) -> &[u8] {
        if self.in_buffer > 0 {
            &self.reader.buffer()[..self.in_buffer]
        } else {
            &self.spilled
        }
    }

    /// Makes the next record read the one at `offset` (where a record
    /// starts, as a snapshot's; after the header): the records before it
    /// are not read.
    pub(crate) fn skip_to(&mut self, offset: u64) -> Result<(), JournalError> {
        self.seek(offset)?;
        self.offset = offset;
        Ok(())
    }

    /// Moves the read position to `offset`, dropping what was buffered.
    fn seek(&mut self, offset: u64) -> Result<(), JournalError> {
        self.in_buffer = 0;
        self.reader
            .seek(SeekFrom::Start(offset))
            .map(drop)
            .map_err(self.io("seeking in journal segment"))
    }

    /// Whether every byte from `from` to the known end is zero; leaves the
    /// read position at `from`.
    ///
    /// A preallocated segment's unused rest is tens of MiB of zeros that
    /// every reader of a live journal checks, so this reads it in large
    /// positioned reads past the record buffer and tests whole blocks at
    /// once rather than byte by byte.
    pub(crate) fn rest_is_zero(&mut self, from: u64) -> Result<bool, JournalError> {
        Ok(self.first_nonzero(from)?.is_none())
    }

    /// Where the first byte that is not zero lies from `from` to the known
    /// end, if any; leaves the read position at `from`.
    pub(crate) fn first_nonzero(&mut self, from: u64) -> Result<Option<u64>, JournalError> {
        let found = self.first_nonzero_to(from, self.len.max(from));
        self.seek(from)?;
        found
    }

    /// Judges the bad record (or zeros) at `offset`, where the record with
    /// sequence number `expected` should be, by looking for whole records
    /// after it: see the module docs. With `synced_commits` (a journal
    /// written in `fsync`, where a group commit is written only once the
    /// one before is synced), a record header of a later group commit
    /// after it, whole or not, proves it was synced: damage. Leaves the
    /// read position at `offset`.
    ///
    /// The rest of the file is read a chunk at a time, so a file of any
    /// length (a sparse one grown by gigabytes, say) costs a chunk of
    /// memory, and holes are passed over a chunk at a time.
    pub(crate) fn judge(
        &mut self,
        offset: u64,
        expected: u64,
        synced_commits: bool,
    ) -> Result<Verdict, JournalError> {
        let verdict = self.scan_after(offset, expected, synced_commits);
        self.seek(offset)?;
        let Some((first, unsynced)) = verdict? else {
            return Ok(Verdict::TornLike);
        };
        if let Later::CommitHeader = first.kind {
            return Ok(Verdict::Corrupt(format!(
                "the header of a record of a later group commit (seq {}) follows at offset {}, and in a journal written in fsync that commit was written only once this one was synced",
                first.seq, first.at
            )));
        }
        if unsynced && self.first_nonzero_to(offset, first.at)?.is_none() {
            return Ok(Verdict::TornLike);
        }
        Ok(Verdict::Corrupt(format!(
            "a whole record (seq {}) follows at offset {}",
            first.seq, first.at
        )))
    }

    /// What lies after the bad record at `offset`: with `synced_commits`,
    /// the first record header of a later group commit, if any; otherwise
    /// the first whole record (good prefix and payload, sequence number
    /// after `expected`), and whether every whole record after it belongs
    /// to `expected`'s own group commit. Tries every offset, jumping over
    /// each whole record found.
    fn scan_after(
        &self,
        offset: u64,
        expected: u64,
        synced_commits: bool,
    ) -> Result<Option<(Found, bool)>, JournalError> {
        let mut first = None;
        let mut at = offset + 1;
        let mut window = Window::default();
        let mut payload = Vec::new();
        while let Some((found_at, prefix)) = self.next_later_prefix(&mut window, at, expected)? {
            let commit_first_seq = prefix.seq.saturating_sub(u64::from(prefix.commit_index));
            let found = |kind| Found {
                at: found_at,
                seq: prefix.seq,
                kind,
            };
            if synced_commits && commit_first_seq > expected {
                return Ok(Some((found(Later::CommitHeader), false)));
            }
            let start = found_at + RECORD_PREFIX_LEN as u64;
            let whole = start + u64::from(prefix.len) <= self.len && {
                payload.resize(prefix.len as usize, 0);
                self.reader
                    .get_ref()
                    .read_exact_at(&mut payload, start)
                    .map_err(self.io("reading journal segment"))?;
                crc32c::crc32c(&payload) == prefix.payload_crc
            };
            if !whole {
                at = found_at + 1;
                continue;
            }
            let first = first.get_or_insert(found(Later::WholeRecord));
            if commit_first_seq > expected {
                // A later group commit's record: damage, whatever follows.
                return Ok(Some((*first, false)));
            }
            at = start + u64::from(prefix.len);
        }
        Ok(first.map(|first| (first, true)))
    }

    /// The first record prefix at or after `from` whose checksum holds,
    /// with a sequence number after `expected`, read through `window`.
    fn next_later_prefix(
        &self,
        window: &mut Window,
        from: u64,
        expected: u64,
    ) -> Result<Option<(u64, RecordPrefix)>, JournalError> {
        let mut at = from;
        while at + RECORD_PREFIX_LEN as u64 <= self.len {
            if !window.holds_prefix_at(at) {
                window.load(self, at)?;
            }
            // Prefixes starting in the window; its last RECORD_PREFIX_LEN - 1
            // bytes start the next one.
            let starts_end = window.at + (window.len - (RECORD_PREFIX_LEN - 1)) as u64;
            if !window.zero {
                for start in at..starts_end {
                    let i = (start - window.at) as usize;
                    let bytes = &window.bytes[i..i + RECORD_PREFIX_LEN];
                    // A cheap test first: the sequence number must be a
                    // later one (so a prefix is never all zeros).
                    let seq = u64::from_le_bytes(bytes[4..12].try_into().expect("8 bytes"));
                    if seq <= expected {
                        continue;
                    }
                    let prefix = bytes.try_into().expect("a prefix");
                    if let Ok(prefix) = RecordPrefix::decode(prefix) {
                        return Ok(Some((start, prefix)));
                    }
                }
            }
            at = starts_end;
        }
        Ok(None)
    }

    /// Where the first byte that is not zero lies from `from` up to `to`,
    /// if any, read in large positioned reads past the record buffer.
    fn first_nonzero_to(&self, from: u64, to: u64) -> Result<Option<u64>, JournalError> {
        let mut chunk = vec![0; ZERO_CHECK_BYTES];
        let mut at = from;
        while at < to {
            let n = usize::try_from(to - at).map_or(chunk.len(), |l| l.min(chunk.len()));
            self.reader
                .get_ref()
                .read_exact_at(&mut chunk[..n], at)
                .map_err(self.io("reading journal segment"))?;
            if !all_zero(&chunk[..n]) {
                let first = chunk[..n].iter().position(|&b| b != 0).unwrap_or(0);
                return Ok(Some(at + first as u64));
            }
            at += n as u64;
        }
        Ok(None)
    }
}

/// A stretch of a segment read at once by [`SegmentFile::scan_after`].
#[derive(Default)]
struct Window {
    bytes: Vec<u8>,
    /// Where it starts in the file.
    at: u64,
    /// How many of `bytes` were read.
    len: usize,
    /// Whether they are all zeros.
    zero: bool,
}

impl Window {
    fn holds_prefix_at(&self, at: u64) -> bool {
        at >= self.at && at + RECORD_PREFIX_LEN as u64 <= self.at + self.len as u64
    }

    /// Reads the window from `at` (up to the segment's known end).
    fn load(&mut self, segment: &SegmentFile, at: u64) -> Result<(), JournalError> {
        if self.bytes.is_empty() {
            // Zeroed by the allocator, not byte by byte.
            self.bytes = vec![0; ZERO_CHECK_BYTES];
        }
        let left = segment.len - at;
        self.len = usize::try_from(left).map_or(self.bytes.len(), |l| l.min(self.bytes.len()));
        segment
            .reader
            .get_ref()
            .read_exact_at(&mut self.bytes[..self.len], at)
            .map_err(segment.io("reading journal segment"))?;
        self.at = at;
        self.zero = all_zero(&self.bytes[..self.len]);
        Ok(())
    }
}

/// What [`SegmentFile::scan_after`] found after a bad record.
#[derive(Clone, Copy)]
enum Later {
    /// A whole record.
    WholeRecord,
    /// The header of a record of a later group commit, whole or not.
    CommitHeader,
}

/// A record found by scanning past a bad one.
#[derive(Clone, Copy)]
struct Found {
    /// Where it starts in the file.
    at: u64,
    seq: u64,
    kind: Later,
}

/// The entry payload of a good record of type `record_type`, and the
/// operator who asked for it (an [`RecordType::OperatorEntry`]'s).
pub(crate) fn entry_payload(
    record_type: u8,
    payload: &[u8],
) -> Result<(&[u8], Option<u32>), String> {
    if record_type == RecordType::Entry as u8 {
        Ok((payload, None))
    } else if record_type == RecordType::OperatorEntry as u8 {
        match payload.split_first_chunk::<4>() {
            Some((operator, entry)) => Ok((entry, Some(u32::from_le_bytes(*operator)))),
            None => Err("an operator's entry too short to hold the operator's id".into()),
        }
    } else {
        Err(format!("unknown record type {record_type}"))
    }
}

/// Whether every byte is zero. Folds each block without stopping early,
/// which the compiler turns into wide vector instructions.
fn all_zero(bytes: &[u8]) -> bool {
    bytes
        .chunks(4096)
        .all(|block| block.iter().fold(0u8, |acc, &b| acc | b) == 0)
}

#[cfg(test)]
mod tests {
    use super::{all_zero, entry_payload};

    #[test]
    fn an_operators_record_starts_with_the_operator_s_id() {
        assert_eq!(entry_payload(1, &[1, 2, 3]), Ok((&[1, 2, 3][..], None)));
        assert_eq!(
            entry_payload(2, &[9, 0, 0, 0, 7, 7]),
            Ok((&[7, 7][..], Some(9)))
        );
        assert!(entry_payload(2, &[9, 0, 0]).is_err_and(|why| why.contains("operator's id")));
        assert!(entry_payload(3, &[]).is_err_and(|why| why.contains("unknown record type 3")));
    }

    #[test]
    fn one_nonzero_byte_anywhere_is_seen() {
        let mut bytes = vec![0u8; 3 * 4096 + 17];
        assert!(all_zero(&bytes));
        assert!(all_zero(&[]));
        for at in [0, 1, 4095, 4096, 8191, 3 * 4096, bytes.len() - 1] {
            bytes[at] = 0x80;
            assert!(!all_zero(&bytes), "a byte at {at}");
            bytes[at] = 0;
        }
    }
}
