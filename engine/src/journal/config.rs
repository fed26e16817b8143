//! How the journal writer is set up: what "durable" means
//! ([`Durability`]), and segment sizes, queue and batch limits,
//! preallocation and the pace of syncs ([`JournalConfig`]). Shared by the
//! appending side (`writer.rs`) and the writer thread (`commit.rs`).

use std::time::Duration;

use super::format::DEFAULT_SEGMENT_BYTES;

/// What "durable" means: when the writer may publish a sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Written and `fdatasync`ed (and, for a new segment, its directory
    /// synced): survives a crash of the process, the OS or the power. One
    /// sync per batch. The default, and the only mode for production.
    #[default]
    Fsync,
    /// Written to the OS page cache, synced only at a clean close: survives
    /// a crash of the process, not of the machine.
    Os,
    /// For benchmarks only: nothing is encoded or written, no file is
    /// created, and every sequence number becomes "durable" as soon as the
    /// writer thread sees it. Nothing survives anything.
    None,
}

impl Durability {
    /// Its name as a config and the journal's `DURABILITY` file write it:
    /// `fsync`, `os` or `none`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Fsync => "fsync",
            Self::Os => "os",
            Self::None => "none",
        }
    }
}

/// How the writer lays out and commits the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalConfig {
    /// A segment takes no more records once the next would take it past
    /// this size (a single larger record gets a segment of its own).
    /// Default 64 MiB.
    pub segment_bytes: u64,
    /// When an entry counts as durable. Default [`Durability::Fsync`].
    pub durability: Durability,
    /// Entries the queue between the engine thread and the writer holds.
    /// Default 65,536.
    pub queue_capacity: usize,
    /// Most entries one group commit writes and syncs. Default 8,192.
    pub max_batch: usize,
    /// Fill the next segment with zeros ahead of time, on a thread of its
    /// own, so that a group commit's sync only overwrites blocks already
    /// written. Default on; off, segments grow with every commit.
    pub preallocate: bool,
    /// Least time from the start of one group commit (its write and sync)
    /// to the start of the next ([`Durability::Fsync`] only): entries that
    /// come sooner wait for it,
    /// and more of them share the sync. Default zero: a batch is synced as
    /// soon as the sync before it ends.
    pub sync_interval: Duration,
}

impl Default for JournalConfig {
    fn default() -> Self {
        Self {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            durability: Durability::Fsync,
            queue_capacity: 65_536,
            max_batch: 8_192,
            preallocate: true,
            sync_interval: Duration::ZERO,
        }
    }
}
