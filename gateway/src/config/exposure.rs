//! Whether a file that holds secrets (a config with broker secrets, a
//! `--secret-file`) is open to other local users.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Permission bits that give the file's group or other users any access.
const GROUP_OTHER: u32 = 0o077;

/// The file's mode (the permission bits, e.g. `0o644`) when its group or
/// other users may read, write or run it; `None` when only its owner may.
///
/// # Errors
/// The I/O error of reading the file's metadata.
pub fn open_to_others(path: &Path) -> io::Result<Option<u32>> {
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    Ok((mode & GROUP_OTHER != 0).then_some(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owner_only_files_are_private() {
        let file = tempfile::NamedTempFile::new().unwrap();
        for (mode, open) in [
            (0o600, None),
            (0o400, None),
            (0o640, Some(0o640)),
            (0o644, Some(0o644)),
            (0o604, Some(0o604)),
            (0o660, Some(0o660)),
        ] {
            std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(open_to_others(file.path()).unwrap(), open, "{mode:o}");
        }
    }
}
