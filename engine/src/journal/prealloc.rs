//! Segments written ahead: a thread that fills the next segment file with
//! zeros and syncs it before the writer needs it, so that a group commit's
//! `fdatasync` only overwrites blocks already written and never has to
//! record a larger file (on ext4, growing a file makes each sync commit
//! the filesystem's journal too: `BENCHMARKS.md`, *the disk*).
//!
//! One file is kept ready, `segment-{n}.prealloc` in the journal
//! directory (`n` counts the files written ahead, from 0: it is no
//! segment's number), and the next is filled meanwhile; the writer takes
//! the ready one when it rolls, writes the header and renames it to the
//! segment's name. The thread starts the file after the next as soon as
//! the ready one is taken, so two exist between rolls and three while a
//! roll makes the taken one the segment (its header synced, then the
//! rename): with the rest of the segment being written, up to three
//! segments of disk beyond the records (`docs/CONFIG.md`, `preallocate`).
//! The first is waited for when the writer opens (a runtime starts the
//! thread before it recovers the journal:
//! [`WriteAhead`]), so that a process's first segment is ready before its
//! first entry. When none is ready (the writer outran the thread, or the
//! disk refused), the writer starts a growing segment instead and counts
//! it. A refusal ends the thread, and the writer hands its error
//! on once ([`super::OnDurable::preallocation_failed`]). Files left by an
//! earlier process are removed at start: they never held a record.
//!
//! The zeros go to the disk a piece at a time ([`PIECE`], synced, then a
//! pause): written at once, the 64 MiB of a segment would leave the page
//! cache in one burst, and a group commit's sync meanwhile waits behind
//! it (on the 2-core VM of BENCHMARKS.md the whole machine stalled for up
//! to 100 ms at each segment).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::JournalError;

const SUFFIX: &str = ".prealloc";
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

/// Bytes written and synced between two pauses.
const PIECE: u64 = 1 << 20;

/// The pause after each piece: lets the journal's own syncs through, and
/// still fills a 64 MiB segment in well under a second.
const PAUSE: Duration = Duration::from_millis(2);

/// A zero-filled, synced file of the segment size, under a temporary name
/// until the writer makes it a segment ([`Ready::rename`]). Dropped before
/// that (left in the channel as the writer stops, or taken by a roll that
/// failed), it is removed: no file written ahead outlives its writer.
pub(super) struct Ready {
    pub(super) file: File,
    name: TemporaryName,
}

impl Ready {
    /// Renames the file to `to`; from then on it is the segment's, and no
    /// longer removed.
    ///
    /// # Errors
    /// The rename's (the file is removed).
    pub(super) fn rename(self, to: &Path) -> std::io::Result<File> {
        let Self { file, mut name } = self;
        if let Some(from) = &name.0 {
            fs::rename(from, to)?;
        }
        name.0 = None;
        Ok(file)
    }
}

/// A [`Ready`] file's name, removed when dropped unless the file was
/// renamed.
struct TemporaryName(Option<PathBuf>);

impl Drop for TemporaryName {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = fs::remove_file(path);
        }
    }
}

/// The segments written ahead for a journal writer not yet opened: a
/// runtime starts them before it recovers the journal, so that the first
/// segment's file is written while recovery reads, and hands them to
/// [`super::JournalWriter::open_ahead`].
pub struct WriteAhead(pub(super) Option<Preallocator>);

impl WriteAhead {
    /// Starts writing segments ahead in `dir` (which must exist) as
    /// `config` says: nothing without [`super::JournalConfig::preallocate`]
    /// or with [`super::Durability::None`]. Removes the files an earlier
    /// process left.
    ///
    /// # Errors
    /// [`JournalError::Io`] when the directory cannot be read or the
    /// thread not started.
    pub fn start(dir: &Path, config: &super::JournalConfig) -> Result<Self, JournalError> {
        if config.preallocate && config.durability != super::Durability::None {
            Preallocator::start(dir, config.segment_bytes).map(|p| Self(Some(p)))
        } else {
            Ok(Self(None))
        }
    }
}

/// The thread that keeps one [`Ready`] file waiting.
pub(super) struct Preallocator {
    ready: Option<Receiver<Result<Ready, JournalError>>>,
    /// Once, whether the first file was handed over (`false`: the thread
    /// failed, and its error waits in `ready`), for
    /// [`Preallocator::wait_ready`].
    first: Option<Receiver<bool>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Preallocator {
    /// Removes files an earlier process left and starts the thread.
    pub(super) fn start(dir: &Path, segment_bytes: u64) -> Result<Self, JournalError> {
        let io = |e| JournalError::io(dir, "clearing preallocated segments in", e);
        for entry in fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.to_str().is_some_and(|p| p.ends_with(SUFFIX)) {
                fs::remove_file(&path).map_err(io)?;
            }
        }
        // One file waits in the channel while the thread fills the next
        // (and then waits to hand it over): two segments ahead at most, so
        // that a burst that rolls twice in quick succession still finds one.
        // A third is begun once the first is taken, while the writer makes
        // that one its segment.
        let (sender, ready) = crossbeam_channel::bounded(1);
        let (first_sender, first) = crossbeam_channel::bounded(1);
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let thread_dir = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("cetx-prealloc".into())
            .spawn(move || {
                fill_ahead(
                    &thread_dir,
                    segment_bytes,
                    &sender,
                    &first_sender,
                    &thread_stop,
                );
            })
            .map_err(|e| JournalError::io(dir, "starting the preallocation thread for", e))?;
        Ok(Self {
            ready: Some(ready),
            first: Some(first),
            stop,
            thread: Some(thread),
        })
    }

    /// Waits until the first file is ready, leaving it for the next
    /// [`Preallocator::take`]: the writer's first segment is written before
    /// the writer takes an entry, so that no request waits for it (and the
    /// thread fills only the next meanwhile: two files ahead at most).
    /// Returns the error that ended the thread instead (once).
    pub(super) fn wait_ready(&mut self) -> Option<JournalError> {
        if self.first.take()?.recv() == Ok(true) {
            return None;
        }
        match self.ready.as_ref()?.try_recv() {
            Ok(Err(error)) => Some(error),
            Ok(Ok(_)) | Err(_) => None,
        }
    }

    /// The ready file, if there is one, without waiting. Once, the error
    /// that ended the thread instead.
    pub(super) fn take(&mut self) -> Option<Result<Ready, JournalError>> {
        self.ready.as_ref()?.try_recv().ok()
    }
}

impl Drop for Preallocator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Dropping this end wakes a thread waiting to hand a file over (it
        // drops the file); a file already in the channel is dropped with
        // the channel once the thread's end goes too. Either way a `Ready`
        // removes its file, so none is left once the thread is joined.
        drop(self.ready.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread: fill a file, hand it over, repeat, until stopped or the
/// writer is gone. A file it could not finish is removed; the disk's
/// refusal is handed over, and ends the thread.
fn fill_ahead(
    dir: &Path,
    segment_bytes: u64,
    sender: &Sender<Result<Ready, JournalError>>,
    first: &Sender<bool>,
    stop: &AtomicBool,
) {
    for n in 0_u64.. {
        let path = dir.join(format!("segment-{n}{SUFFIX}"));
        let filled = fill(&path, segment_bytes, stop);
        let ready = match filled {
            Ok(Some(file)) => Ready {
                file,
                name: TemporaryName(Some(path)),
            },
            Ok(None) => {
                let _ = fs::remove_file(&path);
                return;
            }
            Err(e) => {
                // The writer grows its segments from now on.
                let _ = fs::remove_file(&path);
                let _ = sender.send(Err(JournalError::io(&path, "writing ahead", e)));
                let _ = first.try_send(false);
                return;
            }
        };
        // A file the writer is gone for is removed as it is dropped.
        if sender.send(Ok(ready)).is_err() {
            return;
        }
        let _ = first.try_send(true);
    }
}

/// Writes `bytes` zeros to a new file at `path`, a synced [`PIECE`] at a
/// time, and syncs it whole; `None` when stopped first.
fn fill(path: &Path, bytes: u64, stop: &AtomicBool) -> std::io::Result<Option<File>> {
    let mut file = super::private::create_new(path)?;
    let mut left = bytes;
    let mut unsynced = 0;
    while left > 0 {
        if stop.load(Ordering::Acquire) {
            return Ok(None);
        }
        let n = usize::try_from(left).map_or(ZEROS.len(), |l| l.min(ZEROS.len()));
        file.write_all(&ZEROS[..n])?;
        left -= n as u64;
        unsynced += n as u64;
        if unsynced >= PIECE && left > 0 {
            file.sync_data()?;
            unsynced = 0;
            std::thread::sleep(PAUSE);
        }
    }
    file.sync_all()?;
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_handed_over_and_ends_the_thread() {
        let tmp = tempfile::tempdir().unwrap();
        let gone = tmp.path().join("not-there");
        let (sender, ready) = crossbeam_channel::bounded(1);
        let (first_sender, first) = crossbeam_channel::bounded(1);
        fill_ahead(&gone, 4096, &sender, &first_sender, &AtomicBool::new(false));
        drop(sender);
        assert_eq!(
            first.try_recv(),
            Ok(false),
            "the first file was not handed over"
        );
        let handed: Vec<_> = ready.iter().collect();
        let [Err(error)] = handed.as_slice() else {
            panic!("one refusal, handed over: {} items", handed.len());
        };
        let error = error.to_string();
        assert!(error.contains("segment-0.prealloc"), "{error}");
    }

    /// A writer that stops may leave a file in the channel: the thread
    /// can hand one over after the writer's last look and before its end
    /// of the channel goes. The file goes with it.
    #[test]
    fn a_file_handed_over_and_never_taken_is_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("segment-0.prealloc");
        let file = fill(&path, 4096, &AtomicBool::new(false)).unwrap().unwrap();
        let (sender, ready) = crossbeam_channel::bounded(1);
        sender
            .send(Ok::<_, JournalError>(Ready {
                file,
                name: TemporaryName(Some(path.clone())),
            }))
            .unwrap();
        drop(ready);
        drop(sender);
        assert!(!path.exists(), "left behind: {}", path.display());
    }
}
