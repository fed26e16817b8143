//! One writer per journal: an exclusive advisory lock (`flock`) on
//! `LOCK` in the journal directory, taken before recovery reads anything
//! and held until the process lets go of the journal (or dies: the kernel
//! drops the lock with the process). The lock file holds the holder's
//! process id, so that a second server can say who is in the way. Readers
//! (`cetx replay`, followers) take no lock.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use super::JournalError;

/// The lock file's name in the journal directory.
pub const LOCK_FILE: &str = "LOCK";

/// The held lock of a journal directory; dropping it lets go.
#[derive(Debug)]
pub struct JournalLock {
    _file: File,
}

impl JournalLock {
    /// Takes the lock of the journal directory `dir` (creating the
    /// directory if need be), without waiting.
    ///
    /// # Errors
    /// [`JournalError::Locked`] when another process (or another
    /// `JournalLock` in this one) holds it, naming the holder's process id
    /// when the lock file gives one; [`JournalError::Io`] when the
    /// directory or the lock file cannot be made.
    pub fn acquire(dir: &Path) -> Result<Self, JournalError> {
        super::private::create_dir(dir)
            .map_err(|e| JournalError::io(dir, "creating the journal directory", e))?;
        let path = dir.join(LOCK_FILE);
        let mut file = super::private::open_or_create(&path)
            .map_err(|e| JournalError::io(&path, "opening the journal lock", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(locked(dir, &mut file)),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(JournalError::io(&path, "locking", e))
            }
        }
        file.set_len(0)
            .and_then(|()| writeln!(file, "pid {}", std::process::id()))
            .map_err(|e| JournalError::io(&path, "writing the journal lock", e))?;
        Ok(Self { _file: file })
    }

    /// Checks, without creating or taking anything, that no other process
    /// holds the lock of `dir`: so that a second server is told who is in
    /// the way before anything else it tries (its ports, most often the
    /// first server's) fails for that reason.
    ///
    /// # Errors
    /// [`JournalError::Locked`] as [`JournalLock::acquire`] gives it. A
    /// directory or lock file that cannot be read is no error here:
    /// `acquire` says what is wrong with it.
    pub fn check_free(dir: &Path) -> Result<(), JournalError> {
        let Ok(mut file) = File::open(dir.join(LOCK_FILE)) else {
            return Ok(());
        };
        // A shared lock is refused only while a writer holds its own; when
        // granted, closing the file lets go of it at once.
        if let Err(std::fs::TryLockError::WouldBlock) = file.try_lock_shared() {
            return Err(locked(dir, &mut file));
        }
        Ok(())
    }
}

/// [`JournalError::Locked`] for `dir`, with what its lock `file` says of
/// the holder.
fn locked(dir: &Path, file: &mut File) -> JournalError {
    let mut said = String::new();
    let _ = file.read_to_string(&mut said);
    let holder = said.trim();
    JournalError::Locked {
        dir: dir.to_path_buf(),
        holder: (!holder.is_empty()).then(|| holder.to_string()),
    }
}

/// The journal's last listed segment (a live one), opened and locked
/// without waiting: `exclusive` by its writer, which holds it until it
/// starts a segment of its own (then locked as it is created); shared by
/// recovery, which lets go at once. A segment may be a link to a file
/// elsewhere, so this is what tells a server started on links to a
/// running server's segments, from a data directory of its own. None when
/// the journal has no such segment, or its file cannot be opened (the
/// readers name that).
///
/// # Errors
/// [`JournalError::SegmentInUse`] when another process holds it;
/// [`JournalError::Io`] when the manifest cannot be read or the lock
/// cannot be taken.
pub(crate) fn lock_last_segment(dir: &Path, exclusive: bool) -> Result<Option<File>, JournalError> {
    let Some(manifest) = super::manifest::Manifest::read(dir)? else {
        return Ok(None);
    };
    let Some(&last) = manifest.segments.last().filter(|s| !s.archived) else {
        return Ok(None);
    };
    let file = manifest.path_of(dir, last);
    let Ok(opened) = File::open(&file) else {
        return Ok(None);
    };
    let locked = if exclusive {
        opened.try_lock()
    } else {
        opened.try_lock_shared()
    };
    match locked {
        Ok(()) => Ok(Some(opened)),
        Err(std::fs::TryLockError::WouldBlock) => Err(JournalError::SegmentInUse { file }),
        Err(std::fs::TryLockError::Error(e)) => Err(JournalError::io(&file, "locking", e)),
    }
}
