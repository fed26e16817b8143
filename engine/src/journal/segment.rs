//! One segment file, read record by record: the shared core of
//! [`super::JournalReader`] and [`super::JournalFollower`].
//!
//! [`SegmentFile::read_record`] reads the next record and says what it
//! found: a record with a good checksum, the end of what is written, or a
//! bad record, with a hint whether the bad record looks like an interrupted
//! write (incomplete, or followed by nothing but zeros or the end of the
//! file). Whether that hint makes it a torn tail, corruption or "not
//! written yet" is the caller's call: it depends on whether this is the
//! last segment, and on whether the journal is still being written.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::format::{
    RecordType, SegmentHeader, HEADER_LEN, MAX_RECORD_LEN, MIN_RECORD_LEN, RECORD_PREFIX_LEN,
};
use super::JournalError;

/// Read buffer per open segment.
const READ_BUFFER_BYTES: usize = 256 << 10;

/// What reading the next record of a segment found.
pub(crate) enum Raw {
    /// A record with a good checksum, whose bytes after the prefix (seq,
    /// type, payload) are now in the caller's buffer.
    Record {
        /// Its sequence number.
        seq: u64,
        /// Where it starts in the file.
        offset: u64,
    },
    /// The known end of the file, at a record boundary.
    End,
    /// The next record is not good.
    Bad {
        /// Where it starts.
        offset: u64,
        /// What is wrong.
        reason: String,
        /// Whether it looks like an interrupted write: incomplete, or
        /// followed by nothing but zeros or the end of the file.
        torn_like: bool,
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

/// One segment file, read front to back.
pub(crate) struct SegmentFile {
    pub(crate) path: PathBuf,
    /// The first sequence number the file's name gives.
    pub(crate) first_seq: u64,
    reader: BufReader<File>,
    /// Where the next record starts.
    pub(crate) offset: u64,
    /// The file's length when last looked at.
    pub(crate) len: u64,
}

impl SegmentFile {
    pub(crate) fn open(path: &Path, first_seq: u64) -> Result<Self, JournalError> {
        let file =
            File::open(path).map_err(|e| JournalError::io(path, "opening journal segment", e))?;
        let mut segment = Self {
            path: path.to_path_buf(),
            first_seq,
            reader: BufReader::with_capacity(READ_BUFFER_BYTES, file),
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

    /// Reads the next record into `buf` (its bytes after the prefix).
    pub(crate) fn read_record(&mut self, buf: &mut Vec<u8>) -> Result<Raw, JournalError> {
        let offset = self.offset;
        let left = self.len.saturating_sub(offset);
        if left == 0 {
            return Ok(Raw::End);
        }
        if left < RECORD_PREFIX_LEN as u64 {
            return Ok(self.bad(offset, "the file ends inside a record's prefix", true));
        }
        let mut prefix = [0; RECORD_PREFIX_LEN];
        self.reader
            .read_exact(&mut prefix)
            .map_err(self.io("reading journal segment"))?;
        let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        let crc = u32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
        if !(MIN_RECORD_LEN..=MAX_RECORD_LEN).contains(&len) {
            self.seek(offset)?;
            let torn_like = self.rest_is_zero(offset)?;
            return Ok(self.bad(
                offset,
                format!("record length {len} is impossible"),
                torn_like,
            ));
        }
        let end = offset + RECORD_PREFIX_LEN as u64 + u64::from(len);
        if end > self.len {
            self.seek(offset)?;
            let reason = format!("a record of {len} bytes runs past the end of the file");
            return Ok(self.bad(offset, reason, true));
        }
        buf.clear();
        buf.resize(len as usize, 0);
        self.reader
            .read_exact(buf)
            .map_err(self.io("reading journal segment"))?;
        let computed = crc32c::crc32c(buf);
        if computed != crc {
            self.seek(offset)?;
            let torn_like = end == self.len || self.rest_is_zero(offset)?;
            let reason = format!("record checksum {crc:#010x} does not match {computed:#010x}");
            return Ok(self.bad(offset, reason, torn_like));
        }
        self.offset = end;
        let seq = u64::from_le_bytes([
            buf[0], buf[1], buf[2], buf[3], buf[4], buf[5], buf[6], buf[7],
        ]);
        Ok(Raw::Record { seq, offset })
    }

    fn bad(&self, offset: u64, reason: impl Into<String>, torn_like: bool) -> Raw {
        Raw::Bad {
            offset,
            reason: reason.into(),
            torn_like,
        }
    }

    fn seek(&mut self, offset: u64) -> Result<(), JournalError> {
        self.reader
            .seek(SeekFrom::Start(offset))
            .map(drop)
            .map_err(self.io("seeking in journal segment"))
    }

    /// Whether every byte from `from` to the known end is zero; leaves the
    /// read position at `from`.
    fn rest_is_zero(&mut self, from: u64) -> Result<bool, JournalError> {
        self.seek(from)?;
        let mut left = self.len.saturating_sub(from);
        let mut chunk = vec![0; 64 << 10];
        let mut zero = true;
        while left > 0 && zero {
            let n = usize::try_from(left).map_or(chunk.len(), |l| l.min(chunk.len()));
            self.reader
                .read_exact(&mut chunk[..n])
                .map_err(self.io("reading journal segment"))?;
            zero = chunk[..n].iter().all(|&b| b == 0);
            left -= n as u64;
        }
        self.seek(from)?;
        Ok(zero)
    }
}

/// Splits a good record's bytes (after the prefix) into type and payload.
pub(crate) fn entry_payload(record: &[u8]) -> Result<&[u8], String> {
    match record.get(8) {
        Some(&t) if t == RecordType::Entry as u8 => Ok(&record[9..]),
        Some(&t) => Err(format!("unknown record type {t}")),
        None => Err("record too short for its type".into()),
    }
}
