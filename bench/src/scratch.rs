//! Where the example programs keep their files: the `tmp` folder of the
//! target directory the running binary was built in (`target/tmp` by
//! default, `$CARGO_TARGET_DIR/tmp` when that is set), as cargo's benches
//! do with `CARGO_TARGET_TMPDIR`, which cargo gives benches and
//! integration tests but not examples. So a probe never writes into the
//! folder it was run from, the checkout included.

use std::io;
use std::path::PathBuf;

/// `tmp` beside `release/` in the target directory of this binary
/// (`…/release/examples/NAME`), created if missing.
///
/// # Errors
/// The executable's path cannot be read, does not lie three folders
/// down a target directory, or the folder cannot be made.
pub fn target_tmp() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let target = exe.ancestors().nth(3).ok_or_else(|| {
        io::Error::other(format!(
            "{} is not in a target directory's profile/examples/ folder",
            exe.display()
        ))
    })?;
    let tmp = target.join("tmp");
    std::fs::create_dir_all(&tmp)?;
    Ok(tmp)
}
