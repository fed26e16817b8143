//! Recovery on start: the engine's state from its journal directory.
//!
//! 1. Load the newest snapshot that checks out; skip (and report) any
//!    that do not, and any whose journal record at its own sequence number
//!    is not the one it was taken after (a snapshot of another history;
//!    versions before 7 carry no checksum of it), or whose next entries do
//!    not replay onto it.
//! 2. Read the journal from the snapshot's own record (where the snapshot
//!    says it starts; from its segment's start for a snapshot that does
//!    not say; the whole journal without a snapshot), checking every
//!    header, checksum, record and sequence number as [`super::verify`]
//!    does, and replay every entry after the snapshot with
//!    [`Engine::replay`], which applies the journaled events without
//!    matching anything again. Of the segments before that record, only
//!    the headers and first records of the live ones are read (each must
//!    be there, and good): their other records, and the archived ones,
//!    are checked by `cetx replay` and [`super::verify`], which read
//!    everything.
//! 3. In a journal whose writer did not stop cleanly (its `MANIFEST` has
//!    no `closed` line), a last record that fails its checks with no whole
//!    record after it (a crash in the middle of a write, or damage to that
//!    very record, which no reader can tell apart) is cut off, and the
//!    bytes removed are kept in `torn/` beside the segments. In a journal
//!    closed cleanly, that and records ending before the number it was
//!    closed at are damage. A bad record that a whole later
//!    record follows, a bad header, a missing segment or a gap in the
//!    sequence numbers is damage, not a crash: recovery refuses, naming
//!    the file, offset and sequence number; so is an entry whose checksum
//!    holds but whose events do not fit the state ([`Engine::replay`]
//!    checks each). The unused zeros at the end of
//!    a preallocated last segment are trimmed (the writer starts a new
//!    segment anyway).
//! 4. A journal that ends before its `DURABLE` mark (the last entry its
//!    writer in `fsync` acknowledged as synced) has lost acknowledged
//!    entries, whatever step 3 would make of its end: recovery refuses
//!    before it changes any file ([`RecoverError::DurableAhead`]).
//! 5. A snapshot ahead of the journal's end cannot be used. A snapshot is
//!    written only once its entry is durable, so for a journal written in
//!    [`Durability::Fsync`] this is damage (acknowledged entries are
//!    missing from the journal): recovery refuses, naming the snapshot and
//!    where the journal ends, before it changes any file. Otherwise (an OS
//!    crash may lose the journal's last pages and keep the snapshot's) the
//!    snapshot is moved into `torn/`, so that it cannot be taken up once
//!    the journal has grown past it again with other entries, and recovery
//!    runs again from the next older one.
//!
//! Recovery from a snapshot plus the journal after it gives exactly the
//! state that replaying the whole journal gives; the tests check both.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::manifest::{check_first_record, Manifest};
use super::read_ahead::ReadAhead;
use super::reader::JournalReader;
use super::segment::{Header, Raw, SegmentFile};
use super::snapshot::{list_snapshots, read_snapshot_tie, tied_record, RecordAt, Tie};
use super::sync_dir;
use super::{Durability, JournalError};
use crate::command::{Command, Stamp};
use crate::engine::Engine;
use crate::event::Event;

/// Where the bytes cut off a torn tail are kept, inside the journal
/// directory.
pub const TORN_DIR: &str = "torn";

/// An engine rebuilt from its journal, and how.
#[derive(Debug)]
pub struct Recovered {
    /// The engine, in the state after the last durable entry.
    pub engine: Engine,
    /// The sequence number the next command gets.
    pub next_seq: u64,
    /// The snapshot recovery started from, if any.
    pub snapshot_seq: Option<u64>,
    /// Journal entries replayed on top of it.
    pub replayed: u64,
    /// The torn tail that was cut off, if there was one.
    pub torn_tail: Option<TornTail>,
    /// Snapshots that were skipped, and why.
    pub skipped_snapshots: Vec<(PathBuf, String)>,
    /// Whether the journal's last writer stopped cleanly. When it did not
    /// (it was killed, or the machine stopped), the end of the journal is
    /// where its data ends: no reader can tell records zeroed at the very
    /// end from space that was never written.
    pub closed_cleanly: bool,
    /// The durability the journal says it was last written in, by which
    /// its end was judged; `None` for a journal that does not say (judged
    /// by the restarting server's).
    pub written_in: Option<Durability>,
    /// The record recovery began to read its segment from, as its
    /// sequence number and offset: the snapshot's own ([`super::snapshot`]
    /// version 8), so that the records before it there were not read.
    /// `None` when recovery read the segments from their starts.
    pub read_from: Option<(u64, u64)>,
}

/// A torn tail recovery cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The segment it was cut from.
    pub file: PathBuf,
    /// Where the segment now ends.
    pub offset: u64,
    /// How many bytes were cut.
    pub removed_bytes: u64,
    /// Where those bytes are kept, up to the last one that is not zero.
    pub saved_to: PathBuf,
}

/// Why recovery refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// The journal is damaged (or unreadable): the error names the file,
    /// the offset and the sequence number.
    #[error("cannot recover: {0}")]
    Journal(#[from] JournalError),
    /// A snapshot was written after an entry the journal no longer holds,
    /// in a journal whose entries are synced before a snapshot is taken.
    /// Nothing tells that from a snapshot that is not the journal's (one
    /// copied in, or a copy of the directory that took the snapshots after
    /// the segments), so the message names both.
    #[error("cannot recover: the snapshot {} is of the state after seq {seq}, which the journal had synced, but the journal now ends at seq {journal_ends}: acknowledged entries are missing from it, unless the snapshot is not this journal's (copied in from another data directory, or a copy of this one taken while its server ran that caught the snapshot but not the segments before it). Nothing was changed. If the snapshot is not this journal's, move it and its gateway-*.snap out of the journal directory and start again; else restore the journal from a backup or the archive", snapshot.display())]
    SnapshotAhead {
        /// The snapshot.
        snapshot: PathBuf,
        /// The sequence number it was taken after.
        seq: u64,
        /// The journal's last sequence number.
        journal_ends: u64,
    },
    /// The journal ends before the last entry its writer acknowledged as
    /// synced (its `DURABLE` mark): acknowledged entries at its end were
    /// lost (a flipped bit in the last record, zeros over the last
    /// records, a file cut short), which the segments alone cannot tell
    /// from a write a crash cut short.
    #[error("cannot recover: the journal ends at seq {journal_ends}, but its writer had synced and acknowledged every entry through seq {durable} ({}): acknowledged entries are missing from its end (the records after {journal_ends} are damaged, zeroed or cut off), unless the journal was restored from an older copy. Nothing was cut or moved. Restore the journal from a backup; if it was restored on purpose and its end is the one wanted, remove that file and start again", file.display())]
    DurableAhead {
        /// The mark's file.
        file: PathBuf,
        /// The last sequence number it says was acknowledged.
        durable: u64,
        /// The journal's last sequence number.
        journal_ends: u64,
    },
    /// What is rebuilt beside the engine ([`RecoveryObserver`]) cannot
    /// start from the journal's first entry.
    #[error("cannot recover: {0}")]
    Observer(String),
}

/// What else is rebuilt from the journal beside the engine, in the same
/// pass (the gateway's reports and indexes): it may start from a snapshot
/// of its own, and then sees every entry after it.
pub trait RecoveryObserver {
    /// Gets ready to take the entries after `snapshot_seq` (`None`: from
    /// the journal's first). Recovery uses only an engine snapshot whose
    /// sequence number the observer can start from too (and it must be
    /// able to start from the beginning).
    ///
    /// # Errors
    /// Why it cannot start after `snapshot_seq` (its own state there is
    /// missing or does not read), a sentence recovery gives as the reason
    /// it skipped the engine snapshot.
    fn start_after(&mut self, snapshot_seq: Option<u64>) -> Result<(), String>;

    /// Takes the next entry, after the engine has replayed it.
    fn entry(&mut self, engine: &Engine, stamp: Stamp, command: &Command, events: &[Event]);
}

/// Observes nothing: recovery of the engine alone.
struct Nothing;

impl RecoveryObserver for Nothing {
    fn start_after(&mut self, _: Option<u64>) -> Result<(), String> {
        Ok(())
    }

    fn entry(&mut self, _: &Engine, _: Stamp, _: &Command, _: &[Event]) {}
}

/// Rebuilds the engine from the journal in `dir` (which need not exist
/// yet: then the engine is empty and the next sequence number 1). The
/// journal defines its own market, so no config is needed. Its end is
/// judged as [`recover_with`] judges it, as `os` for a journal that does
/// not say the durability it was written in.
///
/// # Errors
/// [`RecoverError::Journal`] for a damaged or unreadable journal, naming
/// file, offset and sequence number (an entry whose checksum holds but
/// whose events do not fit the state is damage too).
pub fn recover(dir: &Path) -> Result<Recovered, RecoverError> {
    recover_with(dir, Durability::Os, &mut Nothing)
}

/// [`recover`], feeding `observer` every entry after the snapshot it
/// starts from, in the same single pass over the journal. The end of the
/// journal is judged by the durability it was last written in, as its
/// `DURABILITY` file says ([`super::written_in()`]), or by `durability`, the
/// restarting server's, for a journal that does not say. In
/// [`Durability::Fsync`] a snapshot ahead of the journal's end is damage
/// (see the module docs); in `os` it is skipped.
///
/// # Errors
/// As [`recover`], [`RecoverError::SnapshotAhead`], and
/// [`super::JournalError::BadDurability`] for a `DURABILITY` file that
/// names no durability.
pub fn recover_with(
    dir: &Path,
    durability: Durability,
    observer: &mut impl RecoveryObserver,
) -> Result<Recovered, RecoverError> {
    // No other process may be writing the journal's last segment: this
    // directory's lock, taken before, cannot tell a server started on
    // links to another's segments from a directory of its own.
    super::lock::lock_last_segment(dir, false)?;
    if !dir.exists() {
        observer.start_after(None).map_err(RecoverError::Observer)?;
        return Ok(Recovered {
            engine: Engine::default(),
            next_seq: 1,
            snapshot_seq: None,
            replayed: 0,
            torn_tail: None,
            skipped_snapshots: Vec::new(),
            closed_cleanly: true,
            written_in: None,
            read_from: None,
        });
    }
    let written_in = super::written_in(dir)?;
    let durability = written_in.unwrap_or(durability);
    let durable_mark = super::durable_mark(dir)?;
    let snapshots = list_snapshots(dir)?;
    let mut skipped_snapshots = Vec::new();
    let mut torn_tail = None;
    let mut candidates = snapshots.iter();
    loop {
        // The newest snapshot that reads and fits the config; the journal
        // then decides whether it can be used.
        let mut start = None;
        for (named, path) in candidates.by_ref() {
            let loaded = read_snapshot_tie(path).and_then(|(seq, tie, state)| {
                if seq != *named {
                    return Err(format!(
                        "the file is named for seq {named} but holds the state after seq {seq}"
                    ));
                }
                let at = match tie {
                    Some(tie) => check_tie(dir, seq, tie)?,
                    None => None,
                };
                let engine = Engine::from_state(&state).map_err(|e| e.to_string())?;
                observer
                    .start_after(Some(seq))
                    .map_err(|why| format!("the gateway's own state at this snapshot: {why}"))?;
                Ok((seq, at, path, engine))
            });
            match loaded {
                Ok(found) => {
                    start = Some(found);
                    break;
                }
                Err(why) => skipped_snapshots.push((path.clone(), why)),
            }
        }
        let (snapshot, at, mut engine) = match start {
            Some((seq, at, path, engine)) => (Some((seq, path)), at, engine),
            None => {
                observer.start_after(None).map_err(RecoverError::Observer)?;
                (None, None, Engine::default())
            }
        };
        let snapshot_seq = snapshot.map(|(seq, _)| seq);
        let synced = durability == Durability::Fsync;
        let pass = match replay_journal(
            dir,
            snapshot_seq.unwrap_or(0),
            at,
            synced,
            &mut engine,
            observer,
        ) {
            Ok(pass) => pass,
            // The journal's records check out but do not replay onto the
            // snapshot: a snapshot of another history (copied in from
            // another data directory, say) is what does not fit, not the
            // segment the entry is in. Recovery goes on from an older one.
            Err(PassError::DoesNotReplay(error)) if snapshot.is_some() => {
                if let Some((_, path)) = snapshot {
                    // The journal's record checks out: the snapshot is
                    // what is foreign, not the journal's damage.
                    let why = match error {
                        JournalError::Corrupt { seq, reason, .. } => format!(
                            "the journal's entry at seq {seq} does not replay onto it ({reason}): a snapshot of another history"
                        ),
                        other => format!("the journal after it does not replay onto it ({other})"),
                    };
                    skipped_snapshots.push((path.clone(), why));
                }
                continue;
            }
            Err(PassError::DoesNotReplay(error)) => return Err(error.into()),
            Err(PassError::Other(error)) => return Err(error),
        };
        if let Some(durable) = durable_mark.filter(|&durable| durable > pass.last_seq) {
            return Err(RecoverError::DurableAhead {
                file: dir.join(super::DURABLE_FILE),
                durable,
                journal_ends: pass.last_seq,
            });
        }
        let ahead = snapshot.filter(|&(seq, _)| seq > pass.last_seq);
        if let (Some((seq, path)), Durability::Fsync) = (ahead, durability) {
            return Err(RecoverError::SnapshotAhead {
                snapshot: path.clone(),
                seq,
                journal_ends: pass.last_seq,
            });
        }
        if let Some((file, offset)) = pass.torn {
            torn_tail = Some(cut_torn_tail(dir, &file, offset)?);
        }
        if let Some((file, offset)) = pass.zero_tail {
            trim_zero_tail(&file, offset)?;
        }
        if let Some((seq, path)) = ahead {
            // Of a history the journal no longer has: set aside, so that it
            // is not taken up once the journal has grown past it again.
            let moved_to = set_aside(dir, path)?;
            skipped_snapshots.push((
                path.clone(),
                format!(
                    "snapshot after seq {seq} is ahead of the journal, which ends at {}; moved to {}",
                    pass.last_seq,
                    moved_to.display()
                ),
            ));
            continue;
        }
        return Ok(Recovered {
            engine,
            next_seq: pass.last_seq + 1,
            snapshot_seq,
            replayed: pass.replayed,
            torn_tail,
            skipped_snapshots,
            closed_cleanly: pass.closed_cleanly,
            written_in,
            read_from: at,
        });
    }
}

/// Checks that the journal's record at `seq` is the one a snapshot after
/// `seq` was taken after: its `header_crc` is the snapshot's `tie`; and
/// returns where that record is, the pass's start. A
/// record the journal does not hold (yet) is not judged here: the pass
/// over the journal finds a snapshot ahead of its end (step 5), or the
/// damage. One in an archived segment is not opened, so not checked.
fn check_tie(dir: &Path, seq: u64, tie: Tie) -> Result<Option<(u64, u64)>, String> {
    Ok(match tied_record(dir, seq, tie)? {
        RecordAt::Found(Tie { offset, .. }) => Some((seq, offset)),
        RecordAt::Archived | RecordAt::Missing => None,
    })
}

/// What one pass over the journal found.
struct Pass {
    /// Sequence number of the last good entry (0: none).
    last_seq: u64,
    /// Entries replayed.
    replayed: u64,
    /// A torn tail at the end: the segment and where its good part ends.
    torn: Option<(PathBuf, u64)>,
    /// Zeros written ahead at the end: the segment and where they start.
    zero_tail: Option<(PathBuf, u64)>,
    /// Whether the manifest says the last writer stopped cleanly.
    closed_cleanly: bool,
}

/// Why a pass over the journal failed.
enum PassError {
    /// A record that checks out whose entry does not replay onto the
    /// state the pass started from.
    DoesNotReplay(JournalError),
    /// Anything else: damage, a gap, a missing segment, I/O.
    Other(RecoverError),
}

impl From<JournalError> for PassError {
    fn from(error: JournalError) -> Self {
        Self::Other(error.into())
    }
}

/// Reads the journal once from the segment that holds `snapshot_seq + 1`,
/// checking every record, and replays the entries after `snapshot_seq`
/// into `engine`. The segment is read from the snapshot's own record
/// when `at` says where it is (its sequence number and offset), else from
/// its start. A torn tail ends the pass; damage anywhere fails it.
fn replay_journal(
    dir: &Path,
    snapshot_seq: u64,
    at: Option<(u64, u64)>,
    synced: bool,
    engine: &mut Engine,
    observer: &mut impl RecoveryObserver,
) -> Result<Pass, PassError> {
    let mut reader = if snapshot_seq == 0 {
        JournalReader::open(dir)?
    } else {
        check_earlier_segments(dir, snapshot_seq + 1)?;
        match at {
            Some(at) => JournalReader::open_at(dir, at, snapshot_seq + 1)?,
            None => JournalReader::open_from(dir, snapshot_seq + 1)?,
        }
    };
    if synced {
        reader = reader.written_synced();
    }
    let mut pass = Pass {
        last_seq: 0,
        replayed: 0,
        torn: None,
        zero_tail: None,
        closed_cleanly: reader.closed().is_some(),
    };
    let mut reader = ReadAhead::start(dir, reader)?;
    let mut events = Vec::new();
    loop {
        match reader.next_into(&mut events) {
            Ok(Some((stamp, command))) => {
                engine
                    .replay(stamp, &command, &events)
                    .map_err(|e| PassError::DoesNotReplay(reader.corrupt_entry(&e)))?;
                observer.entry(engine, stamp, &command, &events);
                pass.replayed += 1;
                events.clear();
            }
            Ok(None) => {
                pass.zero_tail = reader
                    .reader()
                    .and_then(JournalReader::zero_tail)
                    .map(|(file, offset)| (file.to_path_buf(), offset));
                break;
            }
            Err(JournalError::TornTail { file, offset, .. }) => {
                pass.torn = Some((file, offset));
                break;
            }
            Err(damage) => return Err(damage.into()),
        }
    }
    pass.last_seq = reader
        .reader()
        .and_then(JournalReader::next_seq)
        .map_or(0, |next| next - 1);
    // A journal without a segment has nothing to lose; one whose segments
    // hold no record may have lost them all.
    pass.closed_cleanly |= reader.reader().is_some_and(|r| r.current_file().0 == 0);
    Ok(pass)
}

/// Checks the live segments wholly before `from_seq`, which recovery does
/// not read: each the manifest lists must be there, with a good header
/// and the first record the manifest noted for it (a resume reads them
/// back). Archived ones are not looked at (the archive may be on slower
/// storage), nor are the other records: a full read does that (`cetx
/// replay`, [`super::verify`]).
fn check_earlier_segments(dir: &Path, from_seq: u64) -> Result<(), JournalError> {
    let Some(manifest) = Manifest::read(dir)? else {
        return Ok(());
    };
    for pair in manifest.segments.windows(2) {
        let (segment, next) = (pair[0], pair[1]);
        if next.first_seq > from_seq {
            break;
        }
        if segment.archived {
            continue;
        }
        let file = manifest.path_of(dir, segment);
        if !file.exists() {
            return Err(JournalError::MissingSegment {
                file,
                first_seq: segment.first_seq,
            });
        }
        let mut opened = SegmentFile::open(&file, segment.first_seq)?;
        let reason = match opened.read_header()? {
            // A first record that does not read is left to the readers,
            // as any other record of these segments is.
            Header::Good => {
                if let Raw::Record { header_crc, .. } = opened.read_record()? {
                    check_first_record(&file, segment, header_crc)?;
                }
                continue;
            }
            Header::Short => "the file is shorter than a segment header".to_string(),
            Header::Bad { reason, .. } => reason,
        };
        return Err(JournalError::Corrupt {
            file,
            offset: 0,
            seq: segment.first_seq,
            reason: format!(
                "{reason} (a segment before the snapshot recovery starts from){}",
                super::reader::LISTED_HEADER
            ),
        });
    }
    Ok(())
}

/// Cuts the zeros written ahead off the end of the last segment; only
/// zeros go.
fn trim_zero_tail(file: &Path, offset: u64) -> Result<(), JournalError> {
    super::private::open_existing(file)
        .and_then(|f| f.set_len(offset).and_then(|()| f.sync_all()))
        .map_err(|e| JournalError::io(file, "trimming the unused end of", e))
}

/// `torn/` in the journal directory, made if need be.
fn torn_dir(dir: &Path) -> Result<PathBuf, JournalError> {
    let torn_dir = dir.join(TORN_DIR);
    super::private::create_dir(&torn_dir).map_err(|e| {
        JournalError::io(
            &torn_dir,
            "creating the directory recovery sets things aside in,",
            e,
        )
    })?;
    Ok(torn_dir)
}

/// Moves a snapshot of a history the journal has lost into `torn/`.
fn set_aside(dir: &Path, snapshot: &Path) -> Result<PathBuf, JournalError> {
    let torn_dir = torn_dir(dir)?;
    // An earlier lost history may have left one of that name: both stay.
    let name = snapshot.file_name().unwrap_or_default().to_string_lossy();
    let moved_to = (0..)
        .map(|n| match n {
            0 => torn_dir.join(&*name),
            n => torn_dir.join(format!("{name}.{n}")),
        })
        .find(|path| fs::symlink_metadata(path).is_err())
        .unwrap_or_else(|| torn_dir.join(&*name));
    fs::rename(snapshot, &moved_to)
        .map_err(|e| JournalError::io(snapshot, "moving aside the snapshot", e))?;
    sync_dir(&torn_dir)?;
    sync_dir(dir)?;
    Ok(moved_to)
}

/// Cuts a segment at `offset`, keeping the bytes removed in `torn/`.
fn cut_torn_tail(dir: &Path, file: &Path, offset: u64) -> Result<TornTail, JournalError> {
    let torn_dir = torn_dir(dir)?;
    let name = file
        .file_name()
        .map_or_else(|| "segment".into(), |n| n.to_string_lossy().into_owned());
    let saved_to = torn_dir.join(format!("{name}.from-{offset}"));
    let segment = super::private::open_existing(file)
        .map_err(|e| JournalError::io(file, "opening torn segment", e))?;
    // A copy of that name can only be what an earlier try at this very cut
    // left (the writer never appends to a segment an earlier process
    // wrote): it is removed, and a symlink there is removed, not followed.
    let copy = super::private::create_temporary(&saved_to)
        .map_err(|e| JournalError::io(&saved_to, "creating", e))?;
    let removed_bytes = match copy_up_to_last_nonzero(&segment, offset, &copy) {
        Ok(removed_bytes) => removed_bytes,
        Err(e) => {
            // A full disk, say: no empty or partial copy is left behind.
            drop(copy);
            let _ = fs::remove_file(&saved_to);
            return Err(e.into_journal(file, &saved_to));
        }
    };
    sync_dir(&torn_dir)?;
    // A torn tail is in records, after the header (a listed segment's
    // header is never torn: `JournalReader` calls that damage).
    segment
        .set_len(offset)
        .and_then(|()| segment.sync_all())
        .map_err(|e| JournalError::io(file, "truncating torn tail of", e))?;
    sync_dir(dir)?;
    Ok(TornTail {
        file: file.to_path_buf(),
        offset,
        removed_bytes,
        saved_to,
    })
}

/// Bytes read at a time when copying a torn tail.
const TAIL_CHUNK_BYTES: usize = 1 << 20;

/// Why copying a torn tail failed, and on which side.
enum TailCopyError {
    Read(std::io::Error),
    Write(std::io::Error),
}

impl TailCopyError {
    fn into_journal(self, file: &Path, saved_to: &Path) -> JournalError {
        match self {
            Self::Read(e) => JournalError::io(file, "reading torn tail of", e),
            Self::Write(e) => JournalError::io(saved_to, "writing", e),
        }
    }
}

/// Copies `segment` from `offset` to its end into `copy`, up to its last
/// byte that is not zero, and syncs the copy; returns the bytes after
/// `offset`. The zeros after that byte are the rest of a segment written
/// ahead (up to `segment_bytes`), not kept; zeros before it are skipped
/// as holes. A chunk at a time, so a segment of any size (a sparse one a
/// vandal grew, say) costs a chunk of memory and only its written bytes
/// of disk.
fn copy_up_to_last_nonzero(segment: &File, offset: u64, copy: &File) -> Result<u64, TailCopyError> {
    let end = segment.metadata().map_err(TailCopyError::Read)?.len();
    let mut chunk = vec![0; TAIL_CHUNK_BYTES];
    let mut at = offset;
    while at < end {
        let want = usize::try_from(end - at).map_or(chunk.len(), |left| left.min(chunk.len()));
        segment
            .read_exact_at(&mut chunk[..want], at)
            .map_err(TailCopyError::Read)?;
        if let Some(last) = chunk[..want].iter().rposition(|&b| b != 0) {
            copy.write_all_at(&chunk[..=last], at - offset)
                .map_err(TailCopyError::Write)?;
        }
        at += want as u64;
    }
    copy.sync_all().map_err(TailCopyError::Write)?;
    Ok(end.saturating_sub(offset))
}
