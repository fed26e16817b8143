//! [`JournalProbe`]: a look at a running writer from another thread, for
//! metrics: its counters, how full its queue is, and histograms of its
//! group commits and syncs.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::commit::Shared;
use super::JournalStats;
use crate::histogram::HistogramSnapshot;

/// Reads a writer's counters without holding the writer; cheap to clone.
/// It keeps reading the last values after the writer stops.
#[derive(Clone)]
pub struct JournalProbe {
    pub(super) shared: Arc<Shared>,
}

impl std::fmt::Debug for JournalProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalProbe").finish_non_exhaustive()
    }
}

impl JournalProbe {
    /// The writer's counters so far.
    #[must_use]
    pub fn stats(&self) -> JournalStats {
        self.shared.stats()
    }

    /// Entries handed to the writer and not yet taken by it.
    #[must_use]
    pub fn queued(&self) -> u64 {
        self.shared.queued.load(Ordering::Relaxed)
    }

    /// The last durable sequence number.
    #[must_use]
    pub fn durable_seq(&self) -> u64 {
        self.shared.durable_seq.load(Ordering::Acquire)
    }

    /// Entries per group commit.
    #[must_use]
    pub fn batch_entries(&self) -> HistogramSnapshot {
        self.shared.batch_entries.snapshot()
    }

    /// Nanoseconds per `fdatasync` of a segment (none in `os` and `none`
    /// durability).
    #[must_use]
    pub fn sync_ns(&self) -> HistogramSnapshot {
        self.shared.sync_ns.snapshot()
    }

    /// Why the writer stopped, if it has.
    #[must_use]
    pub fn failure(&self) -> Option<String> {
        self.shared.failure.get().cloned()
    }
}
