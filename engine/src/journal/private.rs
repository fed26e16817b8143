//! Files and directories only their owner may read.
//!
//! A data directory holds every account's cash, holdings and trades, so
//! whatever cetx creates there is private whatever the umask: directories
//! `0700`, files `0600`. Files are opened with `O_NOFOLLOW`, so a symlink
//! planted where cetx writes is refused instead of followed (an attacker
//! with write access to a shared parent could otherwise aim a snapshot at
//! any file the server may write). Temporary files are created new
//! (`O_EXCL`): a stale one from a crash is removed first (removing a
//! symlink removes the link, never its target), and one that appears in
//! between is an error, not a file to overwrite.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Opens `path` to read it, if it is a regular file (or a link to one):
/// a FIFO, a device or a socket put in its place is refused, since
/// opening a FIFO waits for a writer forever, and reading a device need
/// not end. A directory is refused too.
///
/// # Errors
/// The I/O error of the look or the open; `InvalidInput` "not a regular
/// file" for anything else.
pub fn open_regular(path: &Path) -> io::Result<File> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    File::open(path)
}

/// The whole of `path`, read if it is a regular file ([`open_regular`]).
///
/// # Errors
/// As [`open_regular`], or the read's.
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut open_regular(path)?, &mut bytes)?;
    Ok(bytes)
}

/// [`read_regular`], `None` when there is no file at `path`.
///
/// # Errors
/// As [`read_regular`], but for a missing file.
pub fn read_if_there(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match read_regular(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Mode of the directories cetx creates: owner only.
pub const DIR_MODE: u32 = 0o700;

/// Mode of the files cetx creates: owner read and write.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and any missing parents with mode `0700`; a directory that
/// exists already is left as it is.
///
/// # Errors
/// The I/O error of the first directory that cannot be made.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Options for a private file: mode `0600` when created, and never through
/// a symlink.
fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(FILE_MODE).custom_flags(libc::O_NOFOLLOW);
    options
}

/// Opens `path` for writing, created `0600` if missing and emptied if not;
/// refuses a symlink.
///
/// # Errors
/// The I/O error; a symlink at `path` gives one (`ELOOP`).
pub fn create(path: &Path) -> io::Result<File> {
    options().write(true).create(true).truncate(true).open(path)
}

/// Opens `path` for reading and writing, created `0600` if missing and
/// kept as it is if not; refuses a symlink.
///
/// # Errors
/// The I/O error; a symlink at `path` gives one (`ELOOP`).
pub fn open_or_create(path: &Path) -> io::Result<File> {
    options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Opens the file `path`, which must exist, for reading and writing;
/// refuses a symlink.
///
/// # Errors
/// The I/O error; a symlink at `path` gives one (`ELOOP`).
pub fn open_existing(path: &Path) -> io::Result<File> {
    options().read(true).write(true).open(path)
}

/// Creates `path` new, `0600`, for reading and writing: a file or symlink
/// already there is an error (`EEXIST`), never opened.
///
/// # Errors
/// The I/O error.
pub fn create_new(path: &Path) -> io::Result<File> {
    options().read(true).write(true).create_new(true).open(path)
}

/// Creates the temporary file `path` new and `0600`, first removing one
/// that a crash may have left (a symlink there is removed, not followed).
///
/// # Errors
/// The I/O error; something created at `path` between the removal and the
/// creation gives `EEXIST`.
pub fn create_temporary(path: &Path) -> io::Result<File> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    create_new(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn files_and_directories_are_private_whatever_the_umask() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data/journal");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), DIR_MODE);
        assert_eq!(mode(&tmp.path().join("data")), DIR_MODE);
        for (name, make) in [
            ("a", create as fn(&Path) -> io::Result<File>),
            ("b", open_or_create),
            ("c", create_new),
            ("d", create_temporary),
        ] {
            let path = dir.join(name);
            make(&path).unwrap();
            assert_eq!(mode(&path), FILE_MODE, "{name}");
        }
    }

    #[test]
    fn symlinks_are_refused_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        std::fs::write(&target, "precious").unwrap();
        let link = tmp.path().join("link");
        symlink(&target, &link).unwrap();
        assert!(create(&link).is_err());
        assert!(open_or_create(&link).is_err());
        assert_eq!(
            create_new(&link).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        // A temporary file's stale link is removed and a new file made.
        create_temporary(&link).unwrap();
        assert!(!std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    }
}
