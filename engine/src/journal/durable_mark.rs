//! `DURABLE`: the last sequence number the journal's writer synced and
//! acknowledged, so that recovery can tell acknowledged entries lost at
//! the journal's end (a flipped bit in its last record, zeros over its
//! last records, a file cut short) from a write a crash cut short, which
//! the segments alone cannot (JOURNAL.md, *The durable mark*).
//!
//! A writer in [`super::Durability::Fsync`] starts it as it opens: it
//! syncs the live segments an earlier writer may have left unsynced (in
//! `os`, or killed before its last sync), then writes the file
//! whole with the journal's last `seq` (a temporary file, synced,
//! renamed, the directory synced), so that a mark that exists always
//! holds a number. Then it writes it in place after each group commit is
//! synced and published: 12 bytes, the `seq` (u64 LE) and the CRC32C of
//! those 8 bytes (u32 LE), not synced (12 bytes in one sector: the old
//! number or the new). So after any crash it may say an earlier number
//! than the last acknowledged, never a later one than the segments hold
//! on disk. A journal that ends before it has lost acknowledged entries.
//! Writers in `os` and `none` leave it as it is.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{sync_dir, JournalError};

/// The file's name in the journal directory.
pub const DURABLE_FILE: &str = "DURABLE";

/// Its length: the `seq` and its checksum.
const LEN: usize = 12;

/// The file, open for the writer.
#[derive(Debug)]
pub struct DurableMark {
    file: std::fs::File,
    path: PathBuf,
}

impl DurableMark {
    /// Starts the mark of the journal in `dir`, which ends at `last_seq`:
    /// its segments synced (the last two, when `synced_before`: it was
    /// last written in `fsync`), then the file written whole (see the
    /// module docs).
    ///
    /// # Errors
    /// [`JournalError::Io`] when a segment cannot be synced or the file
    /// written.
    pub fn start(dir: &Path, last_seq: u64, synced_before: bool) -> Result<(), JournalError> {
        // The segments' data, not the filesystem's: other files' writes
        // are not this start's to wait for. A journal last written in
        // `fsync` can hold unsynced data only in the segments of its
        // last group commit (a kill before its sync), the last two at
        // most; one written in `os` anywhere (reviewer 163 F7: every
        // segment at every start, a year's thousands, cost seconds).
        let segments = super::format::list_segments(dir)?;
        let unsynced = if synced_before {
            &segments[segments.len().saturating_sub(2)..]
        } else {
            &segments[..]
        };
        for (_, segment) in unsynced {
            std::fs::File::open(segment)
                .and_then(|file| file.sync_data())
                .map_err(|e| JournalError::io(segment, "syncing journal segment", e))?;
        }
        let path = dir.join(DURABLE_FILE);
        let temporary = dir.join(format!("{DURABLE_FILE}.tmp"));
        let mut file = super::private::create_temporary(&temporary)
            .map_err(|e| JournalError::io(&temporary, "creating the journal's durable mark", e))?;
        file.write_all(&encoded(last_seq))
            .and_then(|()| file.sync_all())
            .map_err(|e| JournalError::io(&temporary, "writing the journal's durable mark", e))?;
        std::fs::rename(&temporary, &path)
            .map_err(|e| JournalError::io(&path, "renaming the journal's durable mark to", e))?;
        sync_dir(dir)
    }

    /// Opens the mark of the journal in `dir`, which [`Self::start`]
    /// wrote.
    ///
    /// # Errors
    /// [`JournalError::Io`] when it cannot be opened.
    pub fn open(dir: &Path) -> Result<Self, JournalError> {
        let path = dir.join(DURABLE_FILE);
        let file = super::private::open_or_create(&path)
            .map_err(|e| JournalError::io(&path, "opening the journal's durable mark", e))?;
        Ok(Self { file, path })
    }

    /// Says that the journal holds every entry through `seq` on disk.
    ///
    /// # Errors
    /// [`JournalError::Io`] when it cannot be written.
    pub fn write(&self, seq: u64) -> Result<(), JournalError> {
        self.file
            .write_all_at(&encoded(seq), 0)
            .map_err(|e| JournalError::io(&self.path, "writing the journal's durable mark", e))
    }
}

/// The file's bytes for `seq`.
fn encoded(seq: u64) -> [u8; LEN] {
    let mut bytes = [0; LEN];
    bytes[..8].copy_from_slice(&seq.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[..8]);
    bytes[8..].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// The last sequence number the journal in `dir` was acknowledged durable
/// through, by its mark: `None` without one (a journal written before the
/// mark, or never in `fsync`).
///
/// # Errors
/// [`JournalError::BadDurableMark`] for a file that is not 12 bytes with
/// a good checksum; [`JournalError::Io`] when it cannot be read.
pub fn durable_mark(dir: &Path) -> Result<Option<u64>, JournalError> {
    let path = dir.join(DURABLE_FILE);
    let read = super::private::read_if_there(&path);
    let Some(bytes) =
        read.map_err(|e| JournalError::io(&path, "reading the journal's durable mark", e))?
    else {
        return Ok(None);
    };
    let bad = |reason: String| JournalError::BadDurableMark {
        file: path.clone(),
        reason,
    };
    let Ok(bytes) = <[u8; LEN]>::try_from(bytes.as_slice()) else {
        return Err(bad(format!("it holds {} bytes, not {LEN}", bytes.len())));
    };
    let (seq, crc) = bytes.split_at(8);
    if crc32c::crc32c(seq).to_le_bytes() != crc {
        return Err(bad("its checksum does not hold".to_owned()));
    }
    let mut number = [0; 8];
    number.copy_from_slice(seq);
    Ok(Some(u64::from_le_bytes(number)))
}

#[cfg(test)]
mod tests {
    use super::{durable_mark, DurableMark, DURABLE_FILE};
    use crate::journal::JournalError;

    #[test]
    fn a_mark_reads_back_what_was_written_and_a_damaged_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(durable_mark(dir.path()).unwrap(), None);
        DurableMark::start(dir.path(), 7, false).unwrap();
        assert_eq!(durable_mark(dir.path()).unwrap(), Some(7), "written whole");
        assert!(!dir.path().join("DURABLE.tmp").exists());
        let mark = DurableMark::open(dir.path()).unwrap();
        mark.write(u64::MAX - 1).unwrap();
        mark.write(41).unwrap();
        assert_eq!(durable_mark(dir.path()).unwrap(), Some(41));
        let path = dir.path().join(DURABLE_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[3] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        let damaged = durable_mark(dir.path()).unwrap_err();
        assert!(
            matches!(&damaged, JournalError::BadDurableMark { reason, .. } if reason == "its checksum does not hold"),
            "{damaged}"
        );
        std::fs::write(&path, &bytes[..5]).unwrap();
        let short = durable_mark(dir.path()).unwrap_err().to_string();
        assert!(short.contains("it holds 5 bytes, not 12"), "{short}");
        assert!(short.contains("remove the file"), "{short}");
    }
}
