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
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut said = String::new();
                let _ = file.read_to_string(&mut said);
                let holder = said.trim();
                return Err(JournalError::Locked {
                    dir: dir.to_path_buf(),
                    holder: (!holder.is_empty()).then(|| holder.to_string()),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(JournalError::io(&path, "locking", e))
            }
        }
        file.set_len(0)
            .and_then(|()| writeln!(file, "pid {}", std::process::id()))
            .map_err(|e| JournalError::io(&path, "writing the journal lock", e))?;
        Ok(Self { _file: file })
    }
}
