//! The journal writer: a thread that owns the segment files, fed by a
//! queue bounded in entries, committing entries in groups.
//!
//! The engine thread encodes each entry of a turn with
//! [`JournalWriter::append_to`] into a [`JournalBatch`] (a buffer taken
//! from a pool; the sequence number must be the next one) and hands the
//! turn's batch over with [`JournalWriter::commit_batch`]: one channel send
//! per turn. It never touches a file, never waits, and takes no `Mutex`
//! (waking an idle writer thread is the channel's futex wake). The queue's
//! capacity counts entries: the engine checks [`JournalWriter::queue_room`]
//! before it takes a broker's request and answers busy when there is none.
//! [`JournalWriter::append`] does all of it for a single entry, failing
//! with [`JournalError::QueueFull`] when the queue is full.
//!
//! The writer thread takes everything the queue holds (up to
//! [`JournalConfig::max_batch`] entries), writes it with one `write` per
//! segment, calls `fdatasync` once, and only then publishes "durable
//! through seq N" ([`JournalWriter::durable_seq`], and a wake-up for
//! [`JournalWriter::wait_durable`]), after handing the batch's riders over
//! (below). That is group commit: under load, one sync covers many
//! entries.
//!
//! An I/O error stops the writer for good. It is never retried, because
//! after a failed `fsync` the kernel may already have dropped the dirty
//! pages, and a retry that succeeds would claim durability for data that
//! is gone. The durable sequence number stays where it was, and every later
//! append fails with [`JournalError::Failed`].
//!
//! The writer always starts a new segment: it never appends to a file that
//! an earlier process wrote, so it never has to trust that file's tail.
//!
//! A batch may carry a rider ([`JournalWriter::commit_with`]): whatever
//! the appending thread wants done once the batch is durable, such as
//! sending the reports of its entries. The writer thread hands each rider
//! to the [`OnDurable`] the writer was opened with
//! ([`JournalWriter::open_with`]), in order, right after the sync that
//! made its batch durable, so that no other thread has to be woken for it.
//! A rider on a batch without entries is handed over after everything
//! before it is durable, without a sync of its own.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::command::{Command, Stamp};
use crate::event::Event;

use super::commit::{
    check_follows, check_writable, remove_temporaries, OnDurable, Pending, Shared, WriterThread,
};
use super::config::{Durability, JournalConfig};
use super::format::begin_entry_record;
use super::prealloc::WriteAhead;
use super::probe::JournalProbe;
use super::JournalError;

/// Used record buffers the writer keeps for the appending thread to fill
/// again.
const POOL_BUFFERS: usize = 512;

/// Counters of the writer's work so far, for benches and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Group commits done.
    pub batches: u64,
    /// Entries made durable.
    pub entries: u64,
    /// Record bytes written.
    pub bytes: u64,
    /// Entries in the largest group commit.
    pub largest_batch: u64,
    /// `fdatasync` calls on segment files.
    pub syncs: u64,
    /// Segments started from a file written ahead.
    pub segments_preallocated: u64,
    /// Segments started as growing files (preallocation off, or none was
    /// ready in time).
    pub segments_grown: u64,
}

/// Entries encoded on the appending thread, to be handed to the writer
/// together: [`JournalWriter::append_to`] fills it,
/// [`JournalWriter::commit_batch`] hands it over. One hand-off (and at most
/// one wake-up of the writer) per batch rather than per entry.
#[derive(Debug, Default)]
pub struct JournalBatch {
    first_seq: u64,
    entries: u64,
    records: Vec<u8>,
}

impl JournalBatch {
    /// Entries in the batch.
    #[must_use]
    pub const fn len(&self) -> u64 {
        self.entries
    }

    /// Whether the batch holds no entry.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.entries == 0
    }
}

/// Appends journal entries through a writer thread; see the module docs.
/// `R` is what a batch may carry for the writer thread to hand to its
/// [`OnDurable`] once the batch is durable.
pub struct JournalWriter<R: Send + 'static = ()> {
    sender: Option<Sender<Pending<R>>>,
    pool: Receiver<Vec<u8>>,
    shared: Arc<Shared>,
    next_seq: AtomicU64,
    durability: Durability,
    queue_capacity: usize,
    thread: Option<JoinHandle<Result<(), JournalError>>>,
}

impl JournalWriter {
    /// Opens `dir` for a writer without riders; see
    /// [`JournalWriter::open_with`].
    ///
    /// # Errors
    /// As [`JournalWriter::open_with`].
    pub fn open(
        dir: impl AsRef<Path>,
        next_seq: u64,
        config: JournalConfig,
    ) -> Result<Self, JournalError> {
        Self::open_with(dir, next_seq, config, ())
    }
}

impl<R: Send + 'static> JournalWriter<R> {
    /// Opens `dir` (creating it if need be) for entries from `next_seq` on,
    /// and starts the writer thread, which hands the riders of durable
    /// batches to `on_durable`. The first entry starts a new segment,
    /// `journal-{next_seq:020}.seg`.
    ///
    /// `next_seq` is one past the last entry in the journal (1 for a new
    /// one); recovery knows it from reading the journal. In
    /// [`Durability::None`] the directory is not touched. With
    /// [`JournalConfig::preallocate`], it returns once the first segment's
    /// file is written ahead (`segment_bytes` of zeros, synced), so that
    /// the first entry does not wait for it; a failure to write it is
    /// handed to `on_durable` ([`OnDurable::preallocation_failed`]) and
    /// the writer grows its segments instead.
    ///
    /// # Errors
    /// [`JournalError::InvalidConfig`] for a zero size, capacity, batch or
    /// `next_seq`; [`JournalError::Occupied`] when the journal already
    /// holds `next_seq`, and [`JournalError::Gap`] when it ends before
    /// `next_seq - 1`; the reader's errors for a last segment that does not
    /// read cleanly (a torn tail must be truncated first);
    /// [`JournalError::Io`] when the directory cannot be created or read,
    /// a file cannot be written and synced in it (`write-check.tmp`,
    /// removed again), or the thread
    /// not started.
    pub fn open_with(
        dir: impl AsRef<Path>,
        next_seq: u64,
        config: JournalConfig,
        on_durable: impl OnDurable<R>,
    ) -> Result<Self, JournalError> {
        let dir = dir.as_ref();
        check_open(dir, next_seq, None, &config)?;
        let ahead = WriteAhead::start(dir, &config)?;
        Self::open_checked(dir.to_path_buf(), next_seq, config, on_durable, ahead)
    }

    /// [`JournalWriter::open_with`], its segments written ahead by `ahead`,
    /// which the caller started (on the same `dir` and `config`) before it
    /// recovered the journal, so that the first segment's file is written
    /// meanwhile rather than now. `read_from` is where recovery began to
    /// read ([`super::Recovered::read_from`]): the newest segment is
    /// checked from there, so that a record before a snapshot's, which
    /// recovery did not read, does not stop the start.
    ///
    /// # Errors
    /// As [`JournalWriter::open_with`].
    pub fn open_ahead(
        dir: impl AsRef<Path>,
        next_seq: u64,
        read_from: Option<(u64, u64)>,
        config: JournalConfig,
        on_durable: impl OnDurable<R>,
        ahead: WriteAhead,
    ) -> Result<Self, JournalError> {
        let dir = dir.as_ref().to_path_buf();
        check_open(&dir, next_seq, read_from, &config)?;
        Self::open_checked(dir, next_seq, config, on_durable, ahead)
    }

    /// Starts the writer on `dir`, which [`check_open`] has checked.
    fn open_checked(
        dir: PathBuf,
        next_seq: u64,
        config: JournalConfig,
        on_durable: impl OnDurable<R>,
        ahead: WriteAhead,
    ) -> Result<Self, JournalError> {
        let shared = Arc::new(Shared::new(next_seq - 1));
        // Bounded by entries (`queue_room`), not by batches.
        let (sender, queue) = crossbeam_channel::unbounded();
        let (recycle, pool) = crossbeam_channel::bounded(POOL_BUFFERS);
        let thread = WriterThread::spawn(
            dir,
            config,
            queue,
            recycle,
            Arc::clone(&shared),
            Box::new(on_durable),
            ahead,
        )?;
        Ok(Self {
            sender: Some(sender),
            pool,
            shared,
            next_seq: AtomicU64::new(next_seq),
            durability: config.durability,
            queue_capacity: config.queue_capacity,
            thread: Some(thread),
        })
    }

    /// Hands one entry to the writer without waiting. Entries must come
    /// from one thread, in sequence order. (The engine thread gathers a
    /// turn's entries with [`JournalWriter::append_to`] instead.)
    ///
    /// # Errors
    /// [`JournalError::QueueFull`] when the queue is full (nothing was
    /// taken; the same sequence number may be appended again);
    /// [`JournalError::OutOfOrder`] when `stamp.seq` is not the next
    /// sequence number; [`JournalError::RecordTooLarge`];
    /// [`JournalError::Failed`] once the writer has stopped.
    pub fn append(
        &self,
        stamp: Stamp,
        command: &Command,
        events: &[Event],
    ) -> Result<(), JournalError> {
        if self.queue_room() == 0 {
            self.check_running()?;
            return Err(JournalError::QueueFull);
        }
        let mut batch = JournalBatch::default();
        self.append_to(&mut batch, stamp, command, events)?;
        self.commit_batch(&mut batch)
    }

    /// Like [`JournalWriter::append`], but waits for room in the queue
    /// instead of failing; for tests and tools, never the engine thread.
    ///
    /// # Errors
    /// As [`JournalWriter::append`], without [`JournalError::QueueFull`].
    pub fn append_blocking(
        &self,
        stamp: Stamp,
        command: &Command,
        events: &[Event],
    ) -> Result<(), JournalError> {
        self.wait_for_room(1)?;
        let mut batch = JournalBatch::default();
        self.append_to(&mut batch, stamp, command, events)?;
        self.commit_batch(&mut batch)
    }

    /// Encodes one entry at the end of `batch`, for
    /// [`JournalWriter::commit_batch`] to hand over with the others: the
    /// engine thread's call, once per command of a turn. It takes the
    /// entry's sequence number, and never waits or checks the queue's room
    /// (the caller does, with [`JournalWriter::queue_room`], counting the
    /// entries its batch holds).
    ///
    /// # Errors
    /// [`JournalError::OutOfOrder`] when `stamp.seq` is not the next
    /// sequence number; [`JournalError::RecordTooLarge`] (nothing was
    /// added); [`JournalError::Failed`] once the writer has stopped.
    pub fn append_to(
        &self,
        batch: &mut JournalBatch,
        stamp: Stamp,
        command: &Command,
        events: &[Event],
    ) -> Result<(), JournalError> {
        self.append_by_to(batch, stamp, None, command, events)
    }

    /// [`JournalWriter::append_to`] for a command that `operator` asked for
    /// (`None`: a broker or the server): the record says who
    /// ([`super::format::RecordType::OperatorEntry`]), for the audit trail.
    ///
    /// # Errors
    /// As [`JournalWriter::append_to`].
    pub fn append_by_to(
        &self,
        batch: &mut JournalBatch,
        stamp: Stamp,
        operator: Option<u32>,
        command: &Command,
        events: &[Event],
    ) -> Result<(), JournalError> {
        self.check_running()?;
        let seq = stamp.seq;
        // Claim the sequence number first, so that two threads appending at
        // once (a programmer error) get an error rather than a gap.
        if let Err(expected) =
            self.next_seq
                .compare_exchange(seq, seq + 1, Ordering::Relaxed, Ordering::Relaxed)
        {
            return Err(JournalError::OutOfOrder {
                expected,
                found: seq,
            });
        }
        if batch.entries == 0 {
            batch.first_seq = seq;
            if batch.records.capacity() == 0 && self.durability != Durability::None {
                batch.records = self.pool.try_recv().unwrap_or_default();
            }
        }
        if self.durability != Durability::None {
            if let Err(len) =
                begin_entry_record(stamp, operator, command, events, &mut batch.records)
            {
                self.next_seq.store(seq, Ordering::Relaxed);
                return Err(JournalError::RecordTooLarge { seq, len });
            }
        }
        batch.entries += 1;
        Ok(())
    }

    /// Hands the batch's entries to the writer thread in one piece and
    /// leaves the batch empty. Never waits.
    ///
    /// # Errors
    /// [`JournalError::Failed`] once the writer has stopped.
    pub fn commit_batch(&self, batch: &mut JournalBatch) -> Result<(), JournalError> {
        if batch.entries == 0 {
            return Ok(());
        }
        self.hand_over(batch, None)
    }

    /// Hands the batch's entries (there may be none) to the writer thread
    /// with `rider`, for its [`OnDurable`] once they and everything before
    /// them are durable, and leaves the batch empty. Never waits.
    ///
    /// # Errors
    /// [`JournalError::Failed`] once the writer has stopped (the rider is
    /// dropped).
    pub fn commit_with(&self, batch: &mut JournalBatch, rider: R) -> Result<(), JournalError> {
        self.hand_over(batch, Some(rider))
    }

    fn hand_over(&self, batch: &mut JournalBatch, rider: Option<R>) -> Result<(), JournalError> {
        let Some(sender) = &self.sender else {
            return Err(self.stopped());
        };
        let pending = Pending {
            seq: batch.first_seq,
            entries: batch.entries,
            records: std::mem::take(&mut batch.records),
            rider,
        };
        self.shared
            .queued
            .fetch_add(pending.entries, Ordering::AcqRel);
        batch.entries = 0;
        sender.send(pending).map_err(|_| self.stopped())
    }

    /// Waits until the queue has room for `entries` entries (for more
    /// than its capacity: until it is empty), woken by the writer's
    /// publications: for tests, tools and benches that hand over batches,
    /// never the engine thread.
    ///
    /// # Errors
    /// [`JournalError::Failed`] once the writer has stopped.
    pub fn wait_for_room(&self, entries: usize) -> Result<(), JournalError> {
        let wanted = entries.clamp(1, self.queue_capacity);
        let mut guard = self
            .shared
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The writer takes entries from the queue before it publishes and
        // notifies under this lock, so a wait begun after this check is
        // woken by the next publication.
        while self.queue_room() < wanted {
            self.check_running()?;
            guard = self
                .shared
                .changed
                .wait_timeout(guard, Duration::from_millis(100))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        Ok(())
    }

    fn check_running(&self) -> Result<(), JournalError> {
        if let Some(failure) = self.shared.failure.get() {
            return Err(JournalError::Failed(failure.clone()));
        }
        if self.sender.is_none() {
            return Err(self.stopped());
        }
        Ok(())
    }

    fn stopped(&self) -> JournalError {
        JournalError::Failed(
            self.shared
                .failure
                .get()
                .cloned()
                .unwrap_or_else(|| "the journal writer thread has stopped".into()),
        )
    }

    /// The sequence number the next append must carry.
    #[must_use]
    pub fn next_seq(&self) -> u64 {
        self.next_seq.load(Ordering::Relaxed)
    }

    /// Entries the queue can take now: its capacity less the entries
    /// handed over and not yet taken by the writer. When the engine thread
    /// sees room before it applies a command, the append that follows
    /// cannot fail with [`JournalError::QueueFull`] (only the writer takes
    /// from the queue, which only makes room).
    #[must_use]
    pub fn queue_room(&self) -> usize {
        let queued =
            usize::try_from(self.shared.queued.load(Ordering::Acquire)).unwrap_or(usize::MAX);
        self.queue_capacity.saturating_sub(queued)
    }

    /// Every entry up to and including this sequence number is durable.
    #[must_use]
    pub fn durable_seq(&self) -> u64 {
        self.shared.durable_seq.load(Ordering::Acquire)
    }

    /// Waits until `seq` is durable, for at most `timeout`. Returns whether
    /// it is; when it is, the riders of the batches up to it have been
    /// handed to the [`OnDurable`].
    ///
    /// # Errors
    /// [`JournalError::Failed`] when the writer has stopped short of `seq`.
    pub fn wait_durable(&self, seq: u64, timeout: Duration) -> Result<bool, JournalError> {
        if self.durable_seq() >= seq {
            return Ok(true);
        }
        let deadline = Instant::now().checked_add(timeout);
        let mut guard = self
            .shared
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            if self.durable_seq() >= seq {
                return Ok(true);
            }
            if let Some(failure) = self.shared.failure.get() {
                return Err(JournalError::Failed(failure.clone()));
            }
            let left = match deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return Ok(false),
                },
                None => Duration::from_secs(3600),
            };
            guard = self
                .shared
                .changed
                .wait_timeout(guard, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Why the writer stopped, if it has.
    #[must_use]
    pub fn failure(&self) -> Option<&str> {
        self.shared.failure.get().map(String::as_str)
    }

    /// The writer's counters so far.
    #[must_use]
    pub fn stats(&self) -> JournalStats {
        self.shared.stats()
    }

    /// A look at the writer's counters from another thread, for metrics.
    #[must_use]
    pub fn probe(&self) -> JournalProbe {
        JournalProbe {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Writes and syncs everything appended, then stops the writer thread.
    ///
    /// # Errors
    /// The [`JournalError::Io`] that stopped the writer, if one did.
    pub fn close(mut self) -> Result<(), JournalError> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Result<(), JournalError> {
        // Dropping the sender lets the thread drain the queue and return.
        self.sender = None;
        match self.thread.take() {
            None => Ok(()),
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(JournalError::Failed("the writer thread panicked".into()))),
        }
    }
}

impl<R: Send + 'static> Drop for JournalWriter<R> {
    fn drop(&mut self) {
        // The error, if any, was published as the failure message already.
        let _ = self.shut_down();
    }
}

/// The checks of [`JournalWriter::open_with`] before its thread starts:
/// the config, and (but in [`Durability::None`]) that `dir` exists or is
/// created, ends at `next_seq - 1` and can be written in; temporaries a
/// killed process left are removed, and the durability the journal is
/// written in from now on is recorded (`DURABILITY`).
fn check_open(
    dir: &Path,
    next_seq: u64,
    read_from: Option<(u64, u64)>,
    config: &JournalConfig,
) -> Result<(), JournalError> {
    if next_seq == 0 {
        return Err(JournalError::InvalidConfig("sequence numbers start at 1"));
    }
    if config.segment_bytes == 0 || config.queue_capacity == 0 || config.max_batch == 0 {
        return Err(JournalError::InvalidConfig(
            "segment_bytes, queue_capacity and max_batch must be positive",
        ));
    }
    if config.durability != Durability::None {
        super::private::create_dir(dir)
            .map_err(|e| JournalError::io(dir, "creating the journal directory", e))?;
        check_follows(dir, next_seq, read_from)?;
        remove_temporaries(dir)?;
        check_writable(dir).map_err(|error| match error {
            // The segment written ahead may have taken the room: say what a
            // start needs.
            JournalError::Io { path, source, .. }
                if source.kind() == std::io::ErrorKind::StorageFull =>
            {
                JournalError::Io {
                    path,
                    source,
                    context: "no room (a start needs a segment's room, journal.segment_bytes, for the first segment written ahead, and a few KiB more) to write",
                }
            }
            other => other,
        })?;
        let synced_before = super::written_in(dir)? == Some(Durability::Fsync);
        super::written_in::record(dir, config.durability)?;
        if config.durability == Durability::Fsync {
            // A mark that exists holds a number from the start (reviewer
            // 160 F1: one made empty, and a stop before the first commit,
            // refused the next start).
            super::durable_mark::DurableMark::start(dir, next_seq - 1, synced_before)?;
        }
    }
    Ok(())
}
