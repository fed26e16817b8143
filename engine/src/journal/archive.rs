//! Retention: what a journal running for a year keeps where.
//!
//! - [`prune_snapshots`] keeps the newest N snapshots and removes the
//!   rest (the runtime calls it after each snapshot it writes).
//! - [`archive_segments`] moves segments that are wholly before both a
//!   sequence number the operator names (what the registries have
//!   settled) and the oldest kept snapshot's own record (which ties it to
//!   the journal) to an archive directory, and
//!   marks them `archived` in the `MANIFEST`. Nothing is ever deleted:
//!   each segment is copied and synced, the manifest names its new place,
//!   and only then is the live copy removed, so a crash at any step leaves
//!   every segment readable. Readers find archived segments through the
//!   manifest; recovery from a snapshot never opens them.

use std::fs;
use std::path::{Path, PathBuf};

use super::lock::JournalLock;
use super::manifest::Manifest;
use super::reader::JournalReader;
use super::snapshot::{list_snapshots, read_snapshot};
use super::sync_dir;
use super::JournalError;

/// Removes every snapshot in `dir` but the newest `keep` (at least one is
/// always kept); returns the files removed.
///
/// # Errors
/// [`JournalError::Io`] when the directory cannot be listed or a file not
/// removed.
pub fn prune_snapshots(dir: &Path, keep: usize) -> Result<Vec<PathBuf>, JournalError> {
    prune_snapshots_but(dir, keep, &[])
}

/// [`prune_snapshots`], keeping besides the snapshots after the entries
/// `also` (the server's of the last ends of day).
///
/// # Errors
/// As [`prune_snapshots`].
pub fn prune_snapshots_but(
    dir: &Path,
    keep: usize,
    also: &[u64],
) -> Result<Vec<PathBuf>, JournalError> {
    let mut removed = Vec::new();
    let older = list_snapshots(dir)?.into_iter().skip(keep.max(1));
    for (_, path) in older.filter(|(seq, _)| !also.contains(seq)) {
        fs::remove_file(&path).map_err(|e| JournalError::io(&path, "removing snapshot", e))?;
        removed.push(path);
    }
    Ok(removed)
}

/// What [`archive_segments`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Archived {
    /// The segments moved, by first sequence number, with their new path.
    pub moved: Vec<(u64, PathBuf)>,
    /// Every entry before this sequence number is now archived (1: none).
    pub archived_before: u64,
    /// The limit the oldest kept snapshot set (the entry it was taken
    /// after, whose record stays live), if there is a snapshot.
    pub snapshot_limit: Option<u64>,
}

/// Moves the segments of the journal in `dir` whose every entry is before
/// `before_seq` and covered by the oldest snapshot that reads to
/// `archive_dir` (created if need be), and records it in the manifest;
/// see the module docs. The newest segment is never moved. Takes the
/// journal's lock, so it refuses while a server runs on `dir`.
///
/// `archive_dir` is written into the manifest relative to `dir` when it is
/// given relative (`../archive`), absolute otherwise.
///
/// # Errors
/// [`JournalError::Locked`] while a server holds the journal;
/// [`JournalError::Corrupt`] for a journal without a manifest, and any
/// error of a record in a segment to be archived (nothing is moved then);
/// [`JournalError::ArchiveElsewhere`] when its manifest names another
/// archive directory; [`JournalError::Io`].
pub fn archive_segments(
    dir: &Path,
    archive_dir: &Path,
    before_seq: u64,
) -> Result<Archived, JournalError> {
    let _lock = JournalLock::acquire(dir)?;
    let corrupt = |reason: String| JournalError::Corrupt {
        file: dir.join(super::MANIFEST_FILE),
        offset: 0,
        seq: 0,
        reason,
    };
    let mut manifest =
        Manifest::read(dir)?.ok_or_else(|| corrupt("the journal has no MANIFEST".into()))?;
    if let Some(already) = manifest.archive_dir.as_ref().filter(|a| *a != archive_dir) {
        return Err(JournalError::ArchiveElsewhere {
            manifest: dir.join(super::MANIFEST_FILE),
            archived_in: already.clone(),
            asked: archive_dir.to_path_buf(),
        });
    }
    // The snapshot's own record stays: it ties the snapshot to this
    // journal, and tells a registry settling the next day from it whether
    // it ended a day (SETTLEMENT.md).
    let snapshot_limit = list_snapshots(dir)?
        .iter()
        .rev()
        .find(|(_, path)| read_snapshot(path).is_ok())
        .map(|(seq, _)| *seq);
    let limit = before_seq.min(snapshot_limit.unwrap_or(1));
    check_records_before(dir, &manifest, limit)?;
    let target = dir.join(archive_dir);
    let mut archived = Archived {
        snapshot_limit,
        archived_before: 1,
        ..Archived::default()
    };
    for i in 0..manifest.segments.len().saturating_sub(1) {
        let segment = manifest.segments[i];
        let next_first = manifest.segments[i + 1].first_seq;
        if next_first > limit {
            break;
        }
        archived.archived_before = next_first;
        if segment.archived {
            remove_left_live_copy(dir, &manifest, segment)?;
            continue;
        }
        super::private::create_dir(&target)
            .map_err(|e| JournalError::io(&target, "creating the archive directory", e))?;
        let from = manifest.path_of(dir, segment);
        manifest.archive_dir = Some(archive_dir.to_path_buf());
        manifest.segments[i].archived = true;
        let to = manifest.path_of(dir, manifest.segments[i]);
        copy_synced(&from, &to)?;
        sync_dir(&target)?;
        manifest.write(dir)?;
        fs::remove_file(&from)
            .map_err(|e| JournalError::io(&from, "removing the archived live copy of", e))?;
        archived.moved.push((segment.first_seq, to));
    }
    sync_dir(dir)?;
    Ok(archived)
}

/// Reads every record of the live segments that end before `limit` (those
/// about to be archived), checking them as any reader does: a damaged one
/// is found while its segment is still where the operator looks, not
/// carried into the archive unnoticed.
fn check_records_before(dir: &Path, manifest: &Manifest, limit: u64) -> Result<(), JournalError> {
    let mut moving = (manifest.segments.windows(2))
        .take_while(|pair| pair[1].first_seq <= limit)
        .filter(|pair| !pair[0].archived);
    let Some(first) = moving.next() else {
        return Ok(());
    };
    let (from, end) = (
        first[0].first_seq,
        moving.last().unwrap_or(first)[1].first_seq,
    );
    let mut reader = JournalReader::open_from(dir, from)?;
    let mut events = Vec::new();
    while let Some((stamp, _)) = reader.next_into(&mut events)? {
        events.clear();
        if stamp.seq + 1 >= end {
            break;
        }
    }
    Ok(())
}

/// Removes the live copy of an archived segment that a run killed between
/// listing it archived and removing that copy left, once the archived copy
/// is there, whole (as long): it held the disk space archiving was for.
fn remove_left_live_copy(
    dir: &Path,
    manifest: &Manifest,
    segment: super::manifest::ListedSegment,
) -> Result<(), JournalError> {
    let live = dir.join(super::format::segment_file_name(segment.first_seq));
    let archived = manifest.path_of(dir, segment);
    let len = |path: &Path| fs::symlink_metadata(path).ok().map(|m| m.len());
    if live != archived && len(&live).is_some() && len(&live) == len(&archived) {
        fs::remove_file(&live)
            .map_err(|e| JournalError::io(&live, "removing the archived live copy of", e))?;
    }
    Ok(())
}

/// Copies a segment to `to`, a private file (`0600` when created, and
/// never through a symlink: one planted there is refused, as everywhere
/// cetx writes), and syncs the copy. A copy a killed run left there is
/// overwritten.
fn copy_synced(from: &Path, to: &Path) -> Result<(), JournalError> {
    let mut source = super::private::open_regular(from)
        .map_err(|e| JournalError::io(from, "reading the segment to archive", e))?;
    let io = |e| JournalError::io(to, "copying a segment to the archive as", e);
    let mut copy = super::private::create(to).map_err(io)?;
    std::io::copy(&mut source, &mut copy).map_err(io)?;
    copy.sync_all().map_err(io)
}
