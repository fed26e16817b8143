//! `DURABILITY`: the durability the journal's last writer wrote it in, so
//! that recovery judges the end of the journal by how it was written, not
//! by how the restarting server happens to be configured (JOURNAL.md,
//! *What the format promises about the end*).
//!
//! The file is one line, `fsync` or `os` (its `\n` may be missing, as a
//! hand-written one's may). A writer in either mode rewrites
//! it atomically (to `DURABILITY.tmp`, synced, renamed, the directory
//! synced) before it writes anything, whenever it says otherwise; in
//! [`Durability::None`] nothing is written, this file included. A journal
//! without it (written before it existed) is judged by the restarting
//! server's durability, as it always was. Readers other than recovery
//! ignore it.

use std::fs;
use std::io::Write;
use std::path::Path;

use super::{sync_dir, Durability, JournalError};

/// The file's name in the journal directory.
pub const DURABILITY_FILE: &str = "DURABILITY";

/// The durability the journal in `dir` was last written in: `None` when
/// it does not say (no file: a journal older than the file, or none yet).
///
/// # Errors
/// [`JournalError::BadDurability`] for a file that says anything but
/// `fsync` or `os`; [`JournalError::Io`] when it cannot be read.
pub fn written_in(dir: &Path) -> Result<Option<Durability>, JournalError> {
    let path = dir.join(DURABILITY_FILE);
    let read = super::private::read_if_there(&path);
    let Some(bytes) =
        read.map_err(|e| JournalError::io(&path, "reading the journal's durability", e))?
    else {
        return Ok(None);
    };
    match bytes.as_slice() {
        b"fsync\n" | b"fsync" => Ok(Some(Durability::Fsync)),
        b"os\n" | b"os" => Ok(Some(Durability::Os)),
        _ => Err(JournalError::BadDurability {
            file: path,
            found: String::from_utf8_lossy(&bytes[..bytes.len().min(32)]).into_owned(),
        }),
    }
}

/// Records, before a writer in `durability` writes anything into `dir`,
/// that the journal is written in it. Nothing is written when the file
/// already says so, or in [`Durability::None`].
///
/// # Errors
/// As [`written_in`], and [`JournalError::Io`] when the file cannot be
/// written.
pub(crate) fn record(dir: &Path, durability: Durability) -> Result<(), JournalError> {
    if durability == Durability::None || written_in(dir)? == Some(durability) {
        return Ok(());
    }
    let path = dir.join(DURABILITY_FILE);
    let temporary = dir.join(format!("{DURABILITY_FILE}.tmp"));
    let mut file = super::private::create_temporary(&temporary)
        .map_err(|e| JournalError::io(&temporary, "creating the journal's durability file", e))?;
    file.write_all(format!("{}\n", durability.name()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| JournalError::io(&temporary, "writing the journal's durability file", e))?;
    fs::rename(&temporary, &path)
        .map_err(|e| JournalError::io(&path, "renaming the journal's durability file to", e))?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_writer_s_durability_is_read_back_and_anything_else_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(written_in(dir.path()).unwrap(), None);
        record(dir.path(), Durability::None).unwrap();
        assert_eq!(written_in(dir.path()).unwrap(), None, "none writes nothing");
        record(dir.path(), Durability::Fsync).unwrap();
        assert_eq!(written_in(dir.path()).unwrap(), Some(Durability::Fsync));
        record(dir.path(), Durability::Os).unwrap();
        assert_eq!(written_in(dir.path()).unwrap(), Some(Durability::Os));
        let file = dir.path().join(DURABILITY_FILE);
        assert_eq!(fs::read(&file).unwrap(), b"os\n");
        // Written back by hand, without its newline (`echo -n`).
        fs::write(&file, b"fsync").unwrap();
        assert_eq!(written_in(dir.path()).unwrap(), Some(Durability::Fsync));
        fs::write(&file, b"fsynd\n").unwrap();
        match written_in(dir.path()) {
            Err(error @ JournalError::BadDurability { .. }) => {
                let message = error.to_string();
                assert!(message.contains(r#""fsynd\n""#), "{message}");
                assert!(message.contains("remove the file"), "{message}");
            }
            other => panic!("expected a bad durability file, got {other:?}"),
        }
        assert!(
            record(dir.path(), Durability::Fsync).is_err(),
            "a damaged file is not written over"
        );
    }

    /// JOURNAL.md: a symlink in its place is followed when read (a
    /// dangling one reads as no file) and replaced by a file when written.
    #[test]
    fn a_symlink_is_read_through_and_written_over_by_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(DURABILITY_FILE);
        let elsewhere = dir.path().join("elsewhere");
        fs::write(&elsewhere, b"os\n").unwrap();
        std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
        assert_eq!(written_in(dir.path()).unwrap(), Some(Durability::Os));
        record(dir.path(), Durability::Fsync).unwrap();
        assert!(!fs::symlink_metadata(&file)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            fs::read(&elsewhere).unwrap(),
            b"os\n",
            "not written through"
        );
        assert_eq!(written_in(dir.path()).unwrap(), Some(Durability::Fsync));
        fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &file).unwrap();
        assert_eq!(written_in(dir.path()).unwrap(), None);
    }
}
