//! The journal: the durable, verifiable record of every command the engine
//! applied and every event it decided, and the source of truth for
//! recovery, settlement and audit.
//!
//! One record per command: the sequencer stamps a command, the engine turns
//! it into events, and the pair goes into the journal as a
//! [`JournalEntry`]. Nobody is told about a decision before its entry is
//! durable (see [`Durability`] for what that means in each mode).
//!
//! # Layout
//!
//! - [`codec`]: the hand-written, fixed-width little-endian primitives and
//!   [`DecodeError`]; `codec_commands.rs`, `codec_events.rs` and
//!   `codec_state.rs` encode [`Command`]s, [`Event`]s and
//!   [`EngineState`](crate::EngineState) (for snapshots) with them.
//!   Decoding returns a [`DecodeError`], never panics.
//! - [`format`](mod@format): segment files (`journal-{first_seq:020}.seg`),
//!   their 24-byte header, and the record frame (a header with its own
//!   checksum: length, sequence number, type, commit index, payload
//!   checksum; then the payload).
//! - [`manifest`]: `MANIFEST`, every segment in order (archived ones
//!   too), so that a missing one is found; [`journal_segments`] checks the
//!   files against it.
//! - [`lock`]: [`JournalLock`], one process per journal directory.
//! - [`writer`]: [`JournalWriter`], the engine thread's side: sequence
//!   check, encoding a turn's entries into a pooled [`JournalBatch`], a
//!   queue bounded in entries, the durable sequence number and waiting for
//!   it. `config.rs` holds [`Durability`] and [`JournalConfig`]. `commit.rs`
//!   is the writer thread: group commit (one `fdatasync` per batch),
//!   segment rolls, failure; `prealloc.rs` fills the next segment with
//!   zeros ahead of it; `probe.rs` is [`JournalProbe`], the writer's
//!   counters and histograms read from another thread for metrics.
//! - `segment.rs`: reading one segment file record by record, telling a
//!   good record from the end of the data (zeros written ahead) and from a
//!   bad one, and a bad one that could be torn from damage.
//! - [`reader`]: [`JournalReader`] over a directory, [`verify`], and
//!   [`Events`], the `(seq, Event)` view registries want.
//! - [`follow`]: [`JournalFollower`], which tails a live journal.
//! - [`snapshot`]: the engine's state at a sequence number, written
//!   atomically (not synced: a shortcut, never the truth), so that
//!   recovery need not replay everything.
//! - [`recover`](mod@recover): [`recover()`](recover::recover) on start: load the newest
//!   good snapshot, replay the rest once (with a
//!   [`RecoveryObserver`] for whatever else is rebuilt), cut a torn tail.
//! - [`private`]: every directory `0700` and file `0600` the journal
//!   creates, never through a symlink.
//! - [`archive`]: retention: keep the newest snapshots, move settled
//!   segments to an archive directory.
//!
//! Data flows `engine thread → JournalWriter::append_to (encode) and
//! commit_batch (one send per turn) →
//! writer thread (write, fdatasync, publish durable_seq) → segment files →
//! JournalReader / JournalFollower → JournalEntry → (seq, Event)`.
//!
//! The byte-level specification is `docs/JOURNAL.md`.

pub mod archive;
pub mod codec;
mod codec_blocks;
mod codec_commands;
mod codec_events;
mod codec_market;
mod codec_state;
mod commit;
mod config;
pub mod durable_mark;
pub mod follow;
pub mod format;
pub mod lock;
pub mod manifest;
mod prealloc;
pub mod private;
mod probe;
pub mod read_ahead;
pub mod reader;
pub mod recover;
mod segment;
pub mod snapshot;
pub mod writer;
pub mod written_in;

use std::path::{Path, PathBuf};

use crate::command::{Command, Stamp};
use crate::event::Event;

pub use archive::{archive_segments, prune_snapshots, prune_snapshots_but, Archived};
pub use codec::DecodeError;
pub use codec_commands::{decode_command, encode_command};
pub use codec_events::{decode_event, encode_event};
pub use codec_state::{decode_state, encode_state};
pub use commit::{check_writable, OnDurable};
pub use config::{Durability, JournalConfig};
pub use durable_mark::{durable_mark, DurableMark, DURABLE_FILE};
pub use follow::JournalFollower;
pub use lock::JournalLock;
pub use manifest::{journal_segments, Manifest, MANIFEST_FILE};
pub use prealloc::WriteAhead;
pub use probe::JournalProbe;
pub use read_ahead::ReadAhead;
pub use reader::{verify, Events, JournalReader, VerifyReport};
pub use recover::{recover, recover_with, RecoverError, Recovered, RecoveryObserver, TornTail};
pub use snapshot::{
    list_snapshots, read_framed, read_snapshot, read_snapshot_entry, read_snapshot_tie,
    snapshot_file_name, write_framed, write_snapshot, write_snapshot_tied, Tie,
};
pub use writer::{JournalBatch, JournalStats, JournalWriter};
pub use written_in::{written_in, DURABILITY_FILE};

/// One journal record: a stamped command and the events the engine made of
/// it, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalEntry {
    /// The command's sequence number and time.
    pub stamp: Stamp,
    /// The command.
    pub command: Command,
    /// What the engine decided, in order.
    pub events: Vec<Event>,
    /// The operator who asked for it, over the operators' channel; `None`
    /// for a broker's request or the server's own command.
    pub operator: Option<u32>,
}

/// What can go wrong writing or reading a journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A file operation failed.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The writer's queue is full; the entry was not taken. The gateway
    /// answers the command with a busy reject.
    #[error("the journal queue is full")]
    QueueFull,
    /// The writer stopped for good after an I/O error and takes nothing
    /// more. Entries after the last durable sequence number may be lost.
    #[error("the journal writer has stopped: {0}")]
    Failed(String),
    /// An append whose sequence number is not the next one.
    #[error("journal append out of order: expected seq {expected}, got {found}")]
    OutOfOrder {
        /// The sequence number the writer needs next.
        expected: u64,
        /// The one it was given.
        found: u64,
    },
    /// An entry too large for one record.
    #[error("journal entry seq {seq} encodes to {len} bytes, over the record limit")]
    RecordTooLarge {
        /// Its sequence number.
        seq: u64,
        /// Its encoded length.
        len: usize,
    },
    /// A configuration value the writer cannot use.
    #[error("invalid journal config: {0}")]
    InvalidConfig(&'static str),
    /// The directory already holds records at or after the sequence number
    /// the writer was told to start at.
    #[error("journal segment {} already holds records at or after seq {next_seq}", file.display())]
    Occupied {
        /// The segment in the way.
        file: PathBuf,
        /// Where the writer was told to start.
        next_seq: u64,
    },
    /// The last segment ends in an incomplete record, or in a bad record
    /// with nothing after it: a crash in the middle of a write. Everything
    /// before `offset` is good; `seq` is the sequence number the torn
    /// record would have had. Recovery truncates the file at `offset`.
    #[error("torn tail in {} at offset {offset} (seq {seq})", file.display())]
    TornTail {
        /// The last segment.
        file: PathBuf,
        /// Where the torn record starts (0: the header itself is torn).
        offset: u64,
        /// The sequence number it would have had.
        seq: u64,
    },
    /// A bad header, or a bad record that more data follows: not a crash
    /// but damage. Nothing after `offset` can be trusted.
    #[error("journal corrupt in {} at offset {offset} (seq {seq}): {reason}", file.display())]
    Corrupt {
        /// The segment.
        file: PathBuf,
        /// Where the bad header or record starts.
        offset: u64,
        /// The sequence number expected there.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// The manifest does not parse or check out.
    #[error("journal manifest {} is damaged: {reason}", file.display())]
    BadManifest {
        /// The manifest file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The journal's `DURABLE` file is not a mark its writer wrote.
    #[error("journal file {} is damaged ({reason}): it holds the last sequence number the journal was acknowledged durable through, by which recovery tells acknowledged entries lost at the journal's end from a write cut short (JOURNAL.md, The durable mark); remove the file to recover without that check", file.display())]
    BadDurableMark {
        /// The file.
        file: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The journal's `DURABILITY` file says neither `fsync` nor `os`.
    #[error("journal file {} says {found:?}, not `fsync` or `os`: it names the durability the journal was written in, by which recovery judges its end (JOURNAL.md, Files); write back the word its server was configured with, or remove the file to judge the journal by this server's `durability`", file.display())]
    BadDurability {
        /// The file.
        file: PathBuf,
        /// What it says (its first 32 bytes).
        found: String,
    },
    /// A segment the manifest lists is not where it should be (the live
    /// directory, or the archive directory for an archived one).
    #[error("journal segment {} is missing (the MANIFEST lists a segment from seq {first_seq}; an archived segment is looked for in the archive directory the MANIFEST names, so restore the file, or that directory, where the path says: JOURNAL.md, Retention)", file.display())]
    MissingSegment {
        /// Where the segment should be.
        file: PathBuf,
        /// Its first sequence number.
        first_seq: u64,
    },
    /// The journal directory was removed, moved or replaced while its
    /// writer ran: what was written since went into files no later start
    /// would read, so the writer stops before acknowledging it.
    #[error("the journal directory {} was removed, moved or replaced while the server ran ({found}): nothing more is acknowledged, and the market stops. Entries written since may be in the moved directory: put the journal directory back at this path (JOURNAL.md, Files) before the next start, which would otherwise begin a new market", dir.display())]
    DirectoryGone {
        /// The journal directory's path.
        dir: PathBuf,
        /// What is at the path now.
        found: &'static str,
    },
    /// Another process holds the journal directory's lock: one server per
    /// data directory.
    #[error("the journal directory {} is in use by another cetx process{}; one server per data directory", dir.display(), holder.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Locked {
        /// The journal directory.
        dir: PathBuf,
        /// What the lock file says of its holder (`pid 1234`), if anything.
        holder: Option<String>,
    },
    /// The segment the journal's writer would write next to is being
    /// written by another process: a second server started on links to a
    /// running server's segments, in a directory of its own (whose own
    /// lock it holds).
    #[error("the journal segment {} is being written by another process (a server started on links to this journal's segments, from another data directory?); one server per journal: nothing was changed", file.display())]
    SegmentInUse {
        /// The segment, as this journal's manifest lists it.
        file: PathBuf,
    },
    /// Segments of this journal are archived in another directory than the
    /// one asked for: a journal keeps one archive directory.
    #[error("the journal's segments are archived in {} (its manifest {} says so), not in {}: archive to that directory", archived_in.display(), manifest.display(), asked.display())]
    ArchiveElsewhere {
        /// The manifest that names the archive directory.
        manifest: PathBuf,
        /// The directory it names.
        archived_in: PathBuf,
        /// The one asked for.
        asked: PathBuf,
    },
    /// A snapshot was to be written after a sequence number whose record
    /// the journal does not hold (or not readably): a snapshot is tied to
    /// that record, and is written only once it is durable.
    #[error("no snapshot written after seq {seq}: the journal in {} holds no readable record at that sequence number to tie it to", dir.display())]
    NoRecordForSnapshot {
        /// The journal directory.
        dir: PathBuf,
        /// The sequence number the snapshot was to follow.
        seq: u64,
    },
    /// Sequence numbers do not follow each other: a record or a segment
    /// is missing, or a segment starts somewhere else than its name says
    /// its records do.
    #[error("journal gap in {} at offset {offset}: expected seq {expected}, found {found}", file.display())]
    Gap {
        /// The segment.
        file: PathBuf,
        /// Where the unexpected header or record starts.
        offset: u64,
        /// The sequence number that should be there.
        expected: u64,
        /// The one that is.
        found: u64,
    },
}

impl JournalError {
    pub(crate) fn io(path: &Path, context: &'static str, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            context,
            source,
        }
    }
}

/// Syncs a directory, so that a rename or a new file in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| JournalError::io(dir, "syncing directory", e))
}
