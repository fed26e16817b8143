//! Recovery on start: the engine's state from its journal directory.
//!
//! 1. Check the whole journal ([`verify`]). A torn last record in the last
//!    segment (a crash in the middle of a write) is cut off, and the bytes
//!    removed are kept in `torn/` beside the segments; it was never durable,
//!    so nobody was told about it. A bad record with anything after it, a
//!    bad header or a gap in the sequence numbers is damage, not a crash:
//!    recovery refuses, naming the file, offset and sequence number.
//! 2. Load the newest snapshot that checks out and is not ahead of the
//!    journal; skip (and report) any that do not.
//! 3. Replay every journal entry after it with [`Engine::replay`], which
//!    applies the journaled events without matching anything again.
//!
//! Recovery from a snapshot plus the journal after it gives exactly the
//! state that replaying the whole journal gives; the tests check both.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::reader::{verify, JournalReader};
use super::snapshot::{list_snapshots, read_snapshot, sync_dir};
use super::JournalError;
use crate::engine::{Engine, EngineConfig};
use crate::replay::ReplayError;
use crate::state::StateError;

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
    /// Where those bytes are kept.
    pub saved_to: PathBuf,
}

/// Why recovery refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// The journal is damaged (or unreadable): the error names the file,
    /// the offset and the sequence number.
    #[error("cannot recover: {0}")]
    Journal(#[from] JournalError),
    /// The journal's events do not fit the state they replay onto.
    #[error("cannot recover: {0}")]
    Replay(#[from] ReplayError),
    /// The config cannot be used, or a snapshot does not fit it.
    #[error("cannot recover: {0}")]
    State(#[from] StateError),
}

/// Rebuilds the engine of `config` from the journal in `dir` (which need
/// not exist yet: then the engine is new and the next sequence number 1).
///
/// # Errors
/// [`RecoverError::Journal`] for a damaged or unreadable journal, naming
/// file, offset and sequence number; [`RecoverError::Replay`] when its
/// events do not fit; [`RecoverError::State`] for an unusable config.
pub fn recover(dir: &Path, config: &EngineConfig) -> Result<Recovered, RecoverError> {
    if !dir.exists() {
        return Ok(Recovered {
            engine: Engine::new(config).map_err(StateError::from)?,
            next_seq: 1,
            snapshot_seq: None,
            replayed: 0,
            torn_tail: None,
            skipped_snapshots: Vec::new(),
        });
    }
    let mut torn_tail = None;
    let report = match verify(dir) {
        Err(JournalError::TornTail { file, offset, .. }) => {
            torn_tail = Some(cut_torn_tail(dir, &file, offset)?);
            // A second torn tail would be damage, not a crash.
            verify(dir)?
        }
        other => other?,
    };
    let last_seq = report.last_seq.unwrap_or(0);
    let journal_first = report.first_seq.unwrap_or(1);

    let mut skipped_snapshots = Vec::new();
    let mut start = None;
    for (seq, path) in list_snapshots(dir)? {
        if seq > last_seq || seq + 1 < journal_first {
            skipped_snapshots.push((path, format!("snapshot after seq {seq} does not meet the journal (seqs {journal_first}..={last_seq})")));
            continue;
        }
        match read_snapshot(&path) {
            Ok((seq, state)) => match Engine::from_state(config, &state) {
                Ok(engine) => {
                    start = Some((seq, engine));
                    break;
                }
                Err(e) => skipped_snapshots.push((path, e.to_string())),
            },
            Err(why) => skipped_snapshots.push((path, why)),
        }
    }
    let (snapshot_seq, mut engine) = match start {
        Some((seq, engine)) => (Some(seq), engine),
        None => (None, Engine::new(config).map_err(StateError::from)?),
    };

    let from_seq = snapshot_seq.map_or(1, |seq| seq + 1);
    let mut replayed = 0;
    if from_seq <= last_seq {
        let mut reader = JournalReader::open_from(dir, from_seq)?;
        let mut events = Vec::new();
        while let Some((stamp, _command)) = reader.next_into(&mut events)? {
            engine.replay(stamp, &events)?;
            events.clear();
            replayed += 1;
        }
    }
    Ok(Recovered {
        engine,
        next_seq: last_seq.max(snapshot_seq.unwrap_or(0)) + 1,
        snapshot_seq,
        replayed,
        torn_tail,
        skipped_snapshots,
    })
}

/// Cuts a segment at `offset`, keeping the bytes removed in `torn/`. A
/// segment torn inside its header is moved to `torn/` whole.
fn cut_torn_tail(dir: &Path, file: &Path, offset: u64) -> Result<TornTail, JournalError> {
    let torn_dir = dir.join(TORN_DIR);
    fs::create_dir_all(&torn_dir).map_err(|e| JournalError::io(&torn_dir, "creating", e))?;
    let name = file
        .file_name()
        .map_or_else(|| "segment".into(), |n| n.to_string_lossy().into_owned());
    let saved_to = torn_dir.join(format!("{name}.from-{offset}"));
    let mut segment = OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .map_err(|e| JournalError::io(file, "opening torn segment", e))?;
    let mut removed = Vec::new();
    segment
        .seek(SeekFrom::Start(offset))
        .and_then(|_| segment.read_to_end(&mut removed))
        .map_err(|e| JournalError::io(file, "reading torn tail of", e))?;
    let mut copy =
        File::create(&saved_to).map_err(|e| JournalError::io(&saved_to, "creating", e))?;
    copy.write_all(&removed)
        .and_then(|()| copy.sync_all())
        .map_err(|e| JournalError::io(&saved_to, "writing", e))?;
    sync_dir(&torn_dir)?;
    if offset == 0 {
        drop(segment);
        fs::remove_file(file)
            .map_err(|e| JournalError::io(file, "removing header-torn segment", e))?;
    } else {
        segment
            .set_len(offset)
            .and_then(|()| segment.sync_all())
            .map_err(|e| JournalError::io(file, "truncating torn tail of", e))?;
    }
    sync_dir(dir)?;
    Ok(TornTail {
        file: file.to_path_buf(),
        offset,
        removed_bytes: removed.len() as u64,
        saved_to,
    })
}
