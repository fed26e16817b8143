//! The journal writer thread: group commit.
//!
//! It owns the segment files. It blocks on the queue until entries come,
//! takes everything else already queued (up to `max_batch` entries; the
//! engine thread hands over a turn's entries at a time), seals each record
//! (fills in its CRC32C), writes the batch with one `write` per
//! segment, `fdatasync`s once (in [`Durability::Fsync`]), and only then
//! publishes the batch's last sequence number as durable and wakes the
//! waiters. It rolls to a new segment when the next record would not fit,
//! syncing the old one first; the new segment is a file the preallocation
//! thread filled with zeros ahead of time when one is ready, and it is
//! listed in the `MANIFEST` before any record goes into it. The first I/O
//! error ends the thread: the error is published as the writer's failure
//! and nothing is retried. Before it publishes a batch, and before it
//! closes, it checks that the journal directory's path still names the
//! directory it opened ([`Directory`]): a journal removed, moved or
//! replaced while the server runs ends the thread too, so that nothing written into files no
//! later start will read is acknowledged. Once the queue is closed and
//! everything in it is on disk, the thread writes in the `MANIFEST` that
//! the journal was closed, and at which sequence number.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::histogram::Histogram;

use super::config::{Durability, JournalConfig};
use super::durable_mark::DurableMark;
use super::format::{record_len, seal_record, segment_file_name, SegmentHeader, HEADER_LEN};
use super::manifest::{has_records, journal_segments, mark_closed, ManifestLog};
use super::prealloc::{Preallocator, Ready, WriteAhead};
use super::reader::JournalReader;
use super::sync_dir;
use super::JournalError;

/// Buffers larger than this are freed rather than pooled, so one huge end
/// of day does not pin its memory.
const POOLED_BUFFER_MAX: usize = 128 << 10;

/// What the engine thread, the writer thread and waiters share.
pub(super) struct Shared {
    /// Every entry up to and including this sequence number is durable.
    pub(super) durable_seq: AtomicU64,
    /// Why the writer thread stopped, once it has; read without a lock.
    pub(super) failure: OnceLock<String>,
    /// Waiters for durability sleep on `changed` under this lock; only
    /// they and the writer thread ever take it, never the engine thread.
    pub(super) lock: Mutex<()>,
    pub(super) changed: Condvar,
    /// Counters behind [`super::JournalStats`].
    pub(super) batches: AtomicU64,
    pub(super) entries: AtomicU64,
    pub(super) bytes: AtomicU64,
    pub(super) largest_batch: AtomicU64,
    pub(super) syncs: AtomicU64,
    pub(super) segments_preallocated: AtomicU64,
    pub(super) segments_grown: AtomicU64,
    /// Entries handed to the writer and not yet taken by it: what the
    /// queue's capacity bounds.
    pub(super) queued: AtomicU64,
    /// Entries per group commit, for metrics.
    pub(super) batch_entries: Histogram,
    /// Nanoseconds per `fdatasync`, for metrics.
    pub(super) sync_ns: Histogram,
}

/// Buckets of the sync-latency histogram, in nanoseconds: 1.024 µs
/// (`2^10`) up to 4.3 s (`2^32`), then larger.
const SYNC_NS_SHIFT: u32 = 10;
const SYNC_NS_BUCKETS: usize = 24;

/// Buckets of the group-commit histogram, in entries: 1 up to 4,096
/// (`2^12`), then larger.
const BATCH_SHIFT: u32 = 0;
const BATCH_BUCKETS: usize = 14;

impl Shared {
    pub(super) fn new(durable_seq: u64) -> Self {
        Self {
            durable_seq: AtomicU64::new(durable_seq),
            failure: OnceLock::new(),
            lock: Mutex::new(()),
            changed: Condvar::new(),
            batches: AtomicU64::new(0),
            entries: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            largest_batch: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            segments_preallocated: AtomicU64::new(0),
            segments_grown: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            batch_entries: Histogram::new(BATCH_SHIFT, BATCH_BUCKETS),
            sync_ns: Histogram::new(SYNC_NS_SHIFT, SYNC_NS_BUCKETS),
        }
    }

    /// The counters behind [`super::JournalStats`] now.
    pub(super) fn stats(&self) -> super::JournalStats {
        super::JournalStats {
            batches: self.batches.load(Ordering::Relaxed),
            entries: self.entries.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            largest_batch: self.largest_batch.load(Ordering::Relaxed),
            syncs: self.syncs.load(Ordering::Relaxed),
            segments_preallocated: self.segments_preallocated.load(Ordering::Relaxed),
            segments_grown: self.segments_grown.load(Ordering::Relaxed),
        }
    }

    /// Wakes everyone in [`super::JournalWriter::wait_durable`].
    pub(super) fn notify(&self) {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.changed.notify_all();
    }
}

/// What the writer thread does with the riders of durable batches; see
/// [`super::writer`]. It runs on the writer thread, between group commits:
/// the time it takes delays the next sync, so it should only hand work on.
pub trait OnDurable<R>: Send + 'static {
    /// Called with each rider, in the order the batches were handed over,
    /// once every entry handed over with or before it is durable.
    fn durable(&mut self, rider: R);

    /// Called once if the writer stops on an error: no rider is handed
    /// over after it, and riders of batches not yet durable never are.
    fn failed(&mut self, error: &JournalError);

    /// Called once if segments can no longer be written ahead (a small or
    /// full disk): the writer goes on, growing each new segment, which
    /// makes each sync cost more. Nothing is lost; the default ignores it.
    fn preallocation_failed(&mut self, error: &JournalError) {
        let _ = error;
    }
}

/// A writer without riders.
impl OnDurable<()> for () {
    fn durable(&mut self, (): ()) {}

    fn failed(&mut self, _: &JournalError) {}
}

/// Encoded entries on their way to the writer thread: `entries` records
/// one after another in `records`, numbered from `seq` (meaningless when
/// there are none), and what to hand over once they are durable.
pub(super) struct Pending<R> {
    pub(super) seq: u64,
    pub(super) entries: u64,
    pub(super) records: Vec<u8>,
    pub(super) rider: Option<R>,
}

/// The file [`check_writable`] writes and removes.
pub(super) const WRITE_CHECK_FILE: &str = "write-check.tmp";

/// Writes, syncs and removes a file in `dir`, so that a directory the
/// writer could not create its next segment in (read-only, a full or
/// read-only file system) fails at open, before anyone is acknowledged
/// or a server listens, rather than at the first entry. A server calls it
/// before recovery too, which may cut or trim files.
///
/// # Errors
/// [`JournalError::Io`] naming `write-check.tmp`.
pub fn check_writable(dir: &Path) -> Result<(), JournalError> {
    use std::io::Write as _;
    let probe = dir.join(WRITE_CHECK_FILE);
    let written = super::private::create_temporary(&probe)
        .and_then(|mut file| file.write_all(b"cetx").and_then(|()| file.sync_all()));
    let removed = match std::fs::remove_file(&probe) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    };
    written
        .and(removed)
        .map_err(|e| JournalError::io(&probe, "writing a file in the journal directory:", e))
}

/// Removes the temporary files (`*.tmp`: of a snapshot, the gateway's
/// state, the manifest) an earlier process left in `dir` when it was
/// killed between writing one and renaming it. None of them holds
/// anything the journal needs, and a snapshot's would otherwise stay
/// for ever, its sequence number never written again.
pub(super) fn remove_temporaries(dir: &Path) -> Result<(), JournalError> {
    let io = |e| JournalError::io(dir, "removing temporary files in", e);
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let temporary = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.ends_with(".tmp"));
        if temporary && !entry.file_type().map_err(io)?.is_dir() {
            match std::fs::remove_file(entry.path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Fails unless `next_seq` is one past the last record in `dir` (any
/// number will do for a directory without segments). A newest segment the
/// manifest does not list yet (a crash right after creating it) is not
/// read, and the writer replaces it. A torn tail must be truncated first,
/// as recovery does. `read_from`, a record recovery read its segment from
/// (its sequence number and offset: a snapshot's), is where the newest
/// segment is read from when it holds it: the records before it there are
/// not read, so damage to them stops the writer no more than recovery.
pub(super) fn check_follows(
    dir: &Path,
    next_seq: u64,
    read_from: Option<(u64, u64)>,
) -> Result<(), JournalError> {
    let segments = journal_segments(dir)?;
    let Some((first_seq, file)) = segments.last().cloned() else {
        return Ok(());
    };
    if first_seq > next_seq {
        return Err(JournalError::Occupied { file, next_seq });
    }
    let mut reader = match read_from {
        Some(at @ (seq, _)) if seq >= first_seq => JournalReader::open_at(dir, at, seq)?,
        _ => JournalReader::open_from(dir, first_seq)?,
    };
    let mut events = Vec::new();
    let mut last = first_seq.saturating_sub(1);
    loop {
        match reader.next_into(&mut events) {
            Ok(Some((stamp, _))) => {
                last = stamp.seq;
                events.clear();
            }
            Ok(None) => break,
            Err(e) => return Err(e),
        }
    }
    if next_seq <= last {
        return Err(JournalError::Occupied { file, next_seq });
    }
    if next_seq > last + 1 {
        let offset = std::fs::metadata(&file)
            .map_err(|e| JournalError::io(&file, "reading the size of", e))?
            .len();
        return Err(JournalError::Gap {
            file,
            offset,
            expected: last + 1,
            found: next_seq,
        });
    }
    Ok(())
}

/// Fails when the segment file at `path` already holds records.
fn check_empty(path: &Path, next_seq: u64) -> Result<(), JournalError> {
    if path.exists() && has_records(path, next_seq)? {
        return Err(JournalError::Occupied {
            file: path.to_path_buf(),
            next_seq,
        });
    }
    Ok(())
}

/// The segment being appended to.
struct OpenSegment {
    file: File,
    path: PathBuf,
    len: u64,
    records: u64,
}

/// The journal directory the writer opened, by its path and its identity
/// on disk (device and inode) then. Its files stay open whatever happens
/// to the path, so writes to a directory removed or moved while the
/// server runs still succeed: only a look at the path tells.
struct Directory {
    path: PathBuf,
    identity: (u64, u64),
}

impl Directory {
    fn open(path: PathBuf) -> Result<Self, JournalError> {
        let identity = Self::identity_of(&path)
            .map_err(|e| JournalError::io(&path, "looking at the journal directory", e))?;
        Ok(Self { path, identity })
    }

    fn identity_of(path: &Path) -> std::io::Result<(u64, u64)> {
        std::fs::metadata(path).map(|m| (m.dev(), m.ino()))
    }

    /// [`JournalError::DirectoryGone`] unless the path still names the
    /// directory opened (a look that fails for any other reason, such as
    /// a permission taken away, is left to the next write to the
    /// directory, which says why).
    fn check(&self) -> Result<(), JournalError> {
        let found = match Self::identity_of(&self.path) {
            Ok(identity) if identity == self.identity => return Ok(()),
            Ok(_) => "another directory was at its path when the writer looked",
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                "nothing was at its path when the writer looked"
            }
            Err(_) => return Ok(()),
        };
        Err(JournalError::DirectoryGone {
            dir: self.path.clone(),
            found,
        })
    }
}

/// The writer thread's state.
pub(super) struct WriterThread<R> {
    dir: PathBuf,
    /// The journal directory's identity, checked before each publish
    /// (none in `None` durability, which makes no directory).
    directory: Option<Directory>,
    config: JournalConfig,
    queue: Receiver<Pending<R>>,
    recycle: Sender<Vec<u8>>,
    shared: Arc<Shared>,
    segment: Option<OpenSegment>,
    /// The journal's last segment when the writer opened, locked until it
    /// starts a segment of its own (which it then holds locked): a server
    /// that has not written since its start is not taken for a stopped
    /// one by another started on links to its segments.
    held: Option<File>,
    /// Keeps the next segment written ahead; none in `None` durability or
    /// when preallocation is off.
    prealloc: Option<Preallocator>,
    /// The manifest, once this writer has listed a segment in it.
    manifest: Option<ManifestLog>,
    batch: Vec<Pending<R>>,
    /// The batch's bytes for the current segment, written with one call.
    out: Vec<u8>,
    on_durable: Box<dyn OnDurable<R>>,
    /// When the next group commit may sync ([`JournalConfig::sync_interval`]).
    next_sync: Option<Instant>,
    /// In `Fsync`, where each group commit's last `seq` is written once it
    /// is published (`DURABLE`).
    durable_mark: Option<DurableMark>,
}

/// Publishes the writer thread's end, however it ends, so that no waiter
/// sleeps through it.
struct ExitGuard(Arc<Shared>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self
                .0
                .failure
                .set("the journal writer thread panicked".into());
        }
        self.0.notify();
    }
}

impl<R: Send + 'static> WriterThread<R> {
    /// Starts the writer thread on `queue`; it gives used buffers back
    /// through `recycle`, and riders to `on_durable`.
    pub(super) fn spawn(
        dir: PathBuf,
        config: JournalConfig,
        queue: Receiver<Pending<R>>,
        recycle: Sender<Vec<u8>>,
        shared: Arc<Shared>,
        mut on_durable: Box<dyn OnDurable<R>>,
        ahead: WriteAhead,
    ) -> Result<JoinHandle<Result<(), JournalError>>, JournalError> {
        let mut prealloc = ahead.0;
        // The first segment's file is written here, on the opening thread,
        // before the writer (and so the server) takes any entry: a start
        // takes that long, and the first request does not wait for it.
        if let Some(error) = prealloc.as_mut().and_then(Preallocator::wait_ready) {
            on_durable.preallocation_failed(&error);
            prealloc = None;
        }
        let held = if config.durability == Durability::None {
            None
        } else {
            super::lock::lock_last_segment(&dir, true)?
        };
        let durable_mark = (config.durability == Durability::Fsync)
            .then(|| DurableMark::open(&dir))
            .transpose()?;
        let thread = Self {
            dir: dir.clone(),
            directory: (config.durability != Durability::None)
                .then(|| Directory::open(dir.clone()))
                .transpose()?,
            config,
            queue,
            recycle,
            shared,
            segment: None,
            held,
            prealloc,
            manifest: None,
            batch: Vec::with_capacity(config.max_batch),
            out: Vec::new(),
            on_durable,
            next_sync: None,
            durable_mark,
        };
        std::thread::Builder::new()
            .name("cetx-journal".into())
            .spawn(move || thread.run())
            .map_err(|e| JournalError::io(&dir, "starting the journal writer thread for", e))
    }

    fn run(mut self) -> Result<(), JournalError> {
        let _exit = ExitGuard(Arc::clone(&self.shared));
        if self.config.durability == Durability::Fsync && !self.config.sync_interval.is_zero() {
            // The wait for a sync's turn is on every acknowledgement's path.
            crate::timer_slack::precise_sleeps();
        }
        let result = self.commit_until_closed();
        if let Err(error) = &result {
            let _ = self.shared.failure.set(error.to_string());
            self.on_durable.failed(error);
        }
        result
    }

    fn commit_until_closed(&mut self) -> Result<(), JournalError> {
        // `recv` returns everything queued before it reports the senders gone.
        while let Ok(first) = self.queue.recv() {
            self.wait_for_sync_turn();
            let mut entries = first.entries;
            self.batch.push(first);
            while entries < self.config.max_batch as u64 {
                match self.queue.try_recv() {
                    Ok(next) => {
                        entries += next.entries;
                        self.batch.push(next);
                    }
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            self.shared.queued.fetch_sub(entries, Ordering::AcqRel);
            if let Err(error) = self.write_batch() {
                // A directory moved away before the run's first segment is
                // made fails the write (its path no longer exists): say
                // that, not what the write found missing.
                self.check_directory()?;
                return Err(error);
            }
            self.check_directory()?;
            self.publish()?;
        }
        if self.config.durability == Durability::None {
            return Ok(());
        }
        self.check_directory()?;
        // Closing: in Os mode, hand the page cache to the disk once.
        if self.config.durability == Durability::Os {
            if let Some(segment) = &self.segment {
                sync(segment)?;
            }
        }
        // Everything is on disk: say where the journal ends, so that a
        // reader can tell damage at its end from a write cut short.
        mark_closed(&self.dir, self.shared.durable_seq.load(Ordering::Acquire))
    }

    fn check_directory(&self) -> Result<(), JournalError> {
        self.directory.as_ref().map_or(Ok(()), Directory::check)
    }

    /// In [`Durability::Fsync`] with a [`JournalConfig::sync_interval`],
    /// sleeps until the interval since the last batch began has passed, so that
    /// what comes meanwhile joins the batch: on a disk (or a virtual
    /// machine) where each flush costs much, fewer flushes a second.
    fn wait_for_sync_turn(&mut self) {
        let interval = self.config.sync_interval;
        if self.config.durability != Durability::Fsync || interval.is_zero() {
            return;
        }
        let now = Instant::now();
        if let Some(wait) = self.next_sync.and_then(|at| at.checked_duration_since(now)) {
            std::thread::sleep(wait);
        }
        self.next_sync = Some(Instant::now() + interval);
    }

    /// Writes the batch, rolling segments where needed, and syncs it.
    fn write_batch(&mut self) -> Result<(), JournalError> {
        if self.config.durability == Durability::None {
            return Ok(());
        }
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let mut commit_index = 0_u32;
        for i in 0..self.batch.len() {
            let mut seq = self.batch[i].seq;
            let mut at = 0;
            while at < self.batch[i].records.len() {
                let len = record_len(&self.batch[i].records[at..]);
                seal_record(&mut self.batch[i].records[at..at + len], commit_index);
                commit_index = commit_index.saturating_add(1);
                let roll = self.segment.as_ref().is_none_or(|segment| {
                    segment.records > 0 && segment.len + len as u64 > self.config.segment_bytes
                });
                if roll {
                    if let Some(segment) = &self.segment {
                        flush(self.config.durability, &self.shared, segment, &out)?;
                        out.clear();
                    }
                    self.segment = Some(self.create_segment(seq)?);
                }
                out.extend_from_slice(&self.batch[i].records[at..at + len]);
                if let Some(segment) = &mut self.segment {
                    segment.len += len as u64;
                    segment.records += 1;
                }
                at += len;
                seq += 1;
            }
        }
        // A batch of riders alone writes and syncs nothing.
        if let (Some(segment), false) = (&self.segment, out.is_empty()) {
            flush(self.config.durability, &self.shared, segment, &out)?;
        }
        self.out = out;
        Ok(())
    }

    /// Starts the segment whose first record is `first_seq`: a file
    /// written ahead when one is ready (the process's first segment's was
    /// waited for when the writer opened), else a growing one; either way
    /// listed in the manifest before it takes a record.
    fn create_segment(&mut self, first_seq: u64) -> Result<OpenSegment, JournalError> {
        let path = self.dir.join(segment_file_name(first_seq));
        check_empty(&path, first_seq)?;
        let header = SegmentHeader { first_seq }.encode();
        let taken = self.prealloc.as_mut().and_then(Preallocator::take);
        let ready = match taken {
            Some(Err(error)) => {
                self.on_durable.preallocation_failed(&error);
                self.prealloc = None;
                None
            }
            Some(Ok(ready)) => Some(ready),
            None => None,
        };
        let file = match ready {
            Some(ready) => {
                let file = self.adopt(ready, &path, &header)?;
                self.shared
                    .segments_preallocated
                    .fetch_add(1, Ordering::Relaxed);
                file
            }
            None => {
                let mut file = super::private::create(&path)
                    .map_err(|e| JournalError::io(&path, "creating journal segment", e))?;
                // Synced before the manifest lists it, as a segment written
                // ahead is: a listed segment always has its header on disk,
                // so recovery may take a bad one for damage.
                file.write_all(&header)
                    .and_then(|()| file.sync_data())
                    .map_err(|e| {
                        JournalError::io(&path, "writing the header of journal segment", e)
                    })?;
                self.shared.segments_grown.fetch_add(1, Ordering::Relaxed);
                file
            }
        };
        // Held while this writer writes the segment (the lock goes with the
        // file): a server started on links to this journal's segments, from
        // a directory of its own, finds it taken at its recovery.
        file.try_lock()
            .map_err(|_| JournalError::SegmentInUse { file: path.clone() })?;
        self.held = None;
        // The file's name must survive a crash as well as its bytes, and
        // the manifest must list it before it holds a record.
        sync_dir(&self.dir)?;
        match &mut self.manifest {
            Some(manifest) => manifest.list(&self.dir, first_seq)?,
            None => self.manifest = Some(ManifestLog::start(&self.dir, first_seq)?),
        }
        Ok(OpenSegment {
            file,
            path,
            len: HEADER_LEN as u64,
            records: 0,
        })
    }

    /// Makes a file written ahead the segment at `path`: its header, synced,
    /// then its name. Records follow the header. A file that fails on the
    /// way is removed (it holds no record).
    fn adopt(&self, ready: Ready, path: &Path, header: &[u8]) -> Result<File, JournalError> {
        let io = |e| JournalError::io(path, "starting preallocated journal segment", e);
        ready.file.write_all_at(header, 0).map_err(io)?;
        ready.file.sync_data().map_err(io)?;
        (&ready.file)
            .seek(SeekFrom::Start(HEADER_LEN as u64))
            .map_err(io)?;
        ready.rename(path).map_err(io)
    }

    /// Recycles the batch's buffers, hands its riders over, then publishes
    /// it as durable: a waiter for its last entry finds the riders' work
    /// done (the runtime's start-up waits so for its first entries to be
    /// routed, to the reports and the public market). Then, in `Fsync`,
    /// writes its last `seq` in the durable mark, off the acknowledgement's
    /// path: a crash before that leaves the mark behind, never ahead.
    fn publish(&mut self) -> Result<(), JournalError> {
        let s = &self.shared;
        let durable = self
            .batch
            .iter()
            .rev()
            .find(|p| p.entries > 0)
            .map(|last| last.seq + last.entries - 1);
        if durable.is_some() {
            let count: u64 = self.batch.iter().map(|p| p.entries).sum();
            s.batches.fetch_add(1, Ordering::Relaxed);
            s.entries.fetch_add(count, Ordering::Relaxed);
            s.largest_batch.fetch_max(count, Ordering::Relaxed);
            s.batch_entries.record(count);
        }
        for pending in self.batch.drain(..) {
            let mut records = pending.records;
            if records.capacity() != 0 && records.capacity() <= POOLED_BUFFER_MAX {
                records.clear();
                // A full pool just frees the buffer.
                let _ = self.recycle.try_send(records);
            }
            if let Some(rider) = pending.rider {
                self.on_durable.durable(rider);
            }
        }
        if let Some(last_seq) = durable {
            s.durable_seq.store(last_seq, Ordering::Release);
            s.notify();
            if let Some(mark) = &self.durable_mark {
                mark.write(last_seq)?;
            }
        }
        Ok(())
    }
}

/// Writes `bytes` at the end of a segment and, in Fsync mode, syncs it.
fn flush(
    durability: Durability,
    shared: &Shared,
    segment: &OpenSegment,
    bytes: &[u8],
) -> Result<(), JournalError> {
    (&segment.file)
        .write_all(bytes)
        .map_err(|e| JournalError::io(&segment.path, "writing journal segment", e))?;
    shared
        .bytes
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    if durability == Durability::Fsync {
        // Measured for the operator's metrics only; no outcome depends on it.
        let started = std::time::Instant::now();
        sync(segment)?;
        let took_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        shared.sync_ns.record(took_ns);
        shared.syncs.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

fn sync(segment: &OpenSegment) -> Result<(), JournalError> {
    segment
        .file
        .sync_data()
        .map_err(|e| JournalError::io(&segment.path, "syncing journal segment", e))
}
