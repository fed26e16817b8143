//! Private by default: the journal directory is `0700` and every file in it
//! `0600`, whatever the umask; and a symlink planted where the journal
//! writes a temporary file (a snapshot's `.tmp`, the manifest's `.tmp`, the
//! torn-tail copy, an archived segment's copy) is never followed.

mod journal_support;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use cetx_engine::journal::private::{DIR_MODE, FILE_MODE};
use cetx_engine::journal::snapshot::snapshot_file_name;
use cetx_engine::journal::{
    archive_segments, recover, write_snapshot, JournalConfig, Manifest, MANIFEST_FILE,
};
use cetx_engine::{Command, JournalWriter, Stamp};
use cetx_engine::{Engine, EngineConfig, InstrumentSpec};
use journal_support::{acknowledged_through, as_if_killed, data_end, records, segments, write};
use rust_decimal::Decimal;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

fn config() -> EngineConfig {
    EngineConfig {
        instruments: vec![InstrumentSpec::cea(2025, Decimal::new(90_00, 2))],
    }
}

/// Entries 1..=`last` that replay onto any engine: commands whose events
/// were all refusals (none).
fn write_empty(dir: &Path, last: u64) {
    let writer = JournalWriter::open(dir, 1, JournalConfig::default()).unwrap();
    for seq in 1..=last {
        let stamp = Stamp {
            seq,
            time_ns: seq as i64,
        };
        writer
            .append_blocking(stamp, &Command::EndOfDay { trading_date: None }, &[])
            .unwrap();
    }
    writer.close().unwrap();
}

/// A planted file that must keep its content.
fn bait(dir: &Path) -> std::path::PathBuf {
    let bait = dir.join("bait");
    std::fs::write(&bait, "precious").unwrap();
    bait
}

#[test]
fn the_journal_directory_and_its_files_are_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data/journal");
    let small = JournalConfig {
        segment_bytes: 4096,
        ..JournalConfig::default()
    };
    write(&dir, 1..=40, small);
    let engine = Engine::new(&config()).unwrap();
    write_snapshot(&dir, 40, &engine.state()).unwrap();
    assert_eq!(mode(&dir), DIR_MODE);
    assert_eq!(mode(&tmp.path().join("data")), DIR_MODE);
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert_eq!(mode(&path), FILE_MODE, "{}", path.display());
            files += 1;
        }
    }
    // Segments, the manifest and the snapshot at least.
    assert!(files >= 4, "{files} files");
}

#[test]
fn a_symlink_at_a_snapshot_or_manifest_temporary_is_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    write_empty(&dir, 3);
    let bait = bait(tmp.path());
    let snapshot_tmp = dir.join(format!("{}.tmp", snapshot_file_name(3)));
    symlink(&bait, &snapshot_tmp).unwrap();
    let manifest_tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
    symlink(&bait, &manifest_tmp).unwrap();

    let engine = Engine::new(&config()).unwrap();
    let snapshot = write_snapshot(&dir, 3, &engine.state()).unwrap();
    Manifest::read(&dir).unwrap().unwrap().write(&dir).unwrap();

    assert_eq!(std::fs::read_to_string(&bait).unwrap(), "precious");
    assert_eq!(mode(&snapshot), FILE_MODE);
    assert!(!snapshot_tmp.exists() && !manifest_tmp.exists());
    assert!(recover(&dir).is_ok());
}

#[test]
fn a_stale_torn_copy_or_a_symlink_there_is_replaced_never_followed() {
    // An empty copy is what a try on a full disk left; a symlink, a trap.
    for symlinked in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("journal");
        write_empty(&dir, 3);
        as_if_killed(&dir);
        // Cut the last record in half: a torn tail, which recovery copies
        // to torn/ before truncating.
        let last = segments(&dir).pop().unwrap();
        let end = data_end(&last);
        let (torn_at, torn_seq) = *records(&last).last().unwrap();
        acknowledged_through(&dir, torn_seq - 1);
        let cut = std::fs::read(&last).unwrap()[torn_at as usize..(end - 10) as usize].to_vec();
        let file = std::fs::OpenOptions::new().write(true).open(&last).unwrap();
        file.set_len(end - 10).unwrap();
        let torn_dir = dir.join("torn");
        std::fs::create_dir(&torn_dir).unwrap();
        let name = last.file_name().unwrap().to_string_lossy().into_owned();
        let bait = bait(tmp.path());
        let copy = torn_dir.join(format!("{name}.from-{torn_at}"));
        if symlinked {
            symlink(&bait, &copy).unwrap();
        } else {
            std::fs::write(&copy, b"").unwrap();
        }

        let recovered = recover(&dir).unwrap();
        assert_eq!(recovered.torn_tail.unwrap().saved_to, copy);
        assert_eq!(std::fs::read_to_string(&bait).unwrap(), "precious");
        assert!(!std::fs::symlink_metadata(&copy).unwrap().is_symlink());
        // Kept up to the last byte that is not zero.
        let kept = cut.iter().rposition(|&b| b != 0).unwrap() + 1;
        assert_eq!(std::fs::read(&copy).unwrap(), cut[..kept]);
    }
}

#[test]
fn a_symlink_where_a_segment_is_archived_to_is_refused_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let small = JournalConfig {
        segment_bytes: 2_048,
        ..JournalConfig::default()
    };
    write(&dir, 1..=60, small);
    let engine = Engine::new(&config()).unwrap();
    write_snapshot(&dir, 60, &engine.state()).unwrap();
    let live = segments(&dir);
    assert!(live.len() >= 3, "{live:?}");
    let archive = tmp.path().join("archive");
    std::fs::create_dir(&archive).unwrap();
    let bait = bait(tmp.path());
    let planted = archive.join(live[0].file_name().unwrap());
    symlink(&bait, &planted).unwrap();

    let err = archive_segments(&dir, &archive, u64::MAX).unwrap_err();
    assert!(
        err.to_string().contains(&planted.display().to_string()),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&bait).unwrap(), "precious");
    assert_eq!(segments(&dir), live, "nothing was moved");

    // Once the link is gone, the segments go, each copy owner-only.
    std::fs::remove_file(&planted).unwrap();
    let archived = archive_segments(&dir, &archive, u64::MAX).unwrap();
    assert_eq!(archived.moved.len(), live.len() - 1);
    for (_, copy) in &archived.moved {
        assert_eq!(mode(copy), FILE_MODE, "{}", copy.display());
    }
    assert!(recover(&dir).is_ok());
}
