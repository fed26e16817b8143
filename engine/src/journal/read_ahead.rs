//! A [`JournalReader`] on a thread of its own, a few batches ahead of
//! the caller.
//!
//! Reading a journal back is two jobs: reading and checking each record
//! (header, CRC32C, sequence number), then decoding it and replaying its
//! events. Recovery and settlement did both on one
//! thread. [`ReadAhead`] moves the first to a reader thread, so that on
//! two cores they overlap. It returns the same entries, in the same
//! order, with the same errors, as the reader it wraps.
//!
//! The reader thread hands over the records' checked payloads, copied end
//! to end into one buffer per batch, and the caller decodes them: the
//! decoded entries are made where they are used, and what crosses between
//! the cores is read once, in order. (Handing over decoded entries, each
//! with its list of events, was slower than one thread: BENCHMARKS.md.)
//! Memory is bounded: [`BATCHES`] batches of about [`BATCH_BYTES`]
//! circulate between the two threads and are reused, so a steady read
//! allocates only the path of each batch's segments. Each record is known
//! by its segment file and offset, for the errors that name it.
//!
//! Dropping a `ReadAhead` before the end stops its thread, and waits for
//! it: at most the rest of one batch is read.

use std::mem;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::command::{Command, Stamp};
use crate::event::Event;
use crate::replay::ReplayError;

use super::format::decode_entry_payload_into;
use super::{JournalError, JournalReader};

/// A batch is handed over once its payloads fill this many bytes (or the
/// journal ends).
pub const BATCH_BYTES: usize = 256 << 10;
/// Batches in flight between the reader thread and the caller.
pub const BATCHES: usize = 3;

/// One checked record: its sequence number, where it is, and where its
/// payload ends in the batch's bytes.
#[derive(Clone, Copy)]
struct Record {
    seq: u64,
    /// The operator who asked for the entry, if one did.
    operator: Option<u32>,
    /// The record's segment, in the batch's `files`.
    file: usize,
    offset: u64,
    end: usize,
}

/// Records read in a row and, in the last batch, how the reading ended.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    records: Vec<Record>,
    /// The segments the records were read from, in order.
    files: Vec<PathBuf>,
    /// Set in the last batch: `Ok` at the end of the journal, or the
    /// reader's error (a torn tail included).
    end: Option<Result<(), JournalError>>,
}

/// Every entry of a journal, read and checked on a thread of its own; see
/// the module docs.
pub struct ReadAhead {
    full: Receiver<Batch>,
    empty: Option<Sender<Batch>>,
    batch: Batch,
    /// The next record of `batch` to decode.
    at: usize,
    /// An entry did not decode: nothing more is returned.
    failed: bool,
    /// The reader thread, which gives the reader back at the end.
    thread: Option<JoinHandle<JournalReader>>,
    /// The reader, once its thread has ended.
    reader: Option<JournalReader>,
}

impl ReadAhead {
    /// Starts a thread that reads `reader`, opened on the journal in
    /// `dir`, to its end.
    ///
    /// # Errors
    /// [`JournalError::Io`] when the thread cannot be started.
    pub fn start(dir: &Path, reader: JournalReader) -> Result<Self, JournalError> {
        let (full_tx, full) = bounded(BATCHES);
        let (empty, empty_rx) = bounded(BATCHES);
        for _ in 0..BATCHES {
            empty.send(Batch::default()).expect("room for every batch");
        }
        let thread = std::thread::Builder::new()
            .name("cetx-read-ahead".into())
            .spawn(move || fill(reader, &empty_rx, &full_tx))
            .map_err(|e| JournalError::io(dir, "starting a reader thread for the journal", e))?;
        Ok(Self {
            full,
            empty: Some(empty),
            batch: Batch::default(),
            at: 0,
            failed: false,
            thread: Some(thread),
            reader: None,
        })
    }

    /// The next entry, its events appended to `events`, as
    /// [`JournalReader::next_into`]; `None` at the end of the journal.
    ///
    /// # Errors
    /// As [`JournalReader::next_into`]. After an error, every later call
    /// returns `Ok(None)`.
    // Inlined into the replay loops: see `decode_entry_payload_into`.
    #[inline(always)]
    pub fn next_into(
        &mut self,
        events: &mut Vec<Event>,
    ) -> Result<Option<(Stamp, Command)>, JournalError> {
        while self.at == self.batch.records.len() {
            if let Some(end) = self.batch.end.take() {
                self.finish();
                return end.map(|()| None);
            }
            if self.failed || self.thread.is_none() {
                return Ok(None);
            }
            let Ok(next) = self.full.recv() else {
                // The thread went without a last batch: it panicked, and
                // `finish` goes on with the panic.
                self.finish();
                return Ok(None);
            };
            let used = mem::replace(&mut self.batch, next);
            if let Some(empty) = &self.empty {
                // The thread may have ended already; the batch then goes.
                let _ = empty.send(used);
            }
            self.at = 0;
        }
        if self.failed {
            return Ok(None);
        }
        let record = self.batch.records[self.at];
        let start = self
            .at
            .checked_sub(1)
            .map_or(0, |i| self.batch.records[i].end);
        self.at += 1;
        decode_entry_payload_into(record.seq, &self.batch.bytes[start..record.end], events)
            .map(Some)
            .map_err(|e| {
                self.failed = true;
                self.corrupt(record.seq, format!("the entry does not decode: {e}"))
            })
    }

    /// The operator who asked for the entry returned last, as
    /// [`JournalReader::operator`].
    #[must_use]
    pub fn operator(&self) -> Option<u32> {
        self.at
            .checked_sub(1)
            .and_then(|last| self.batch.records.get(last))
            .and_then(|r| r.operator)
    }

    /// The entry returned last was checked and decoded, but its events do
    /// not replay: as [`JournalReader::corrupt_entry`].
    #[must_use]
    pub fn corrupt_entry(&self, error: &ReplayError) -> JournalError {
        self.corrupt(
            error.seq,
            format!("the entry does not replay: {}", error.what),
        )
    }

    /// The record decoded last is damaged although its checksum holds.
    fn corrupt(&self, seq: u64, reason: String) -> JournalError {
        let (file, offset) = self
            .at
            .checked_sub(1)
            .map(|last| self.batch.records[last])
            .map_or((PathBuf::new(), 0), |r| {
                (self.batch.files[r.file].clone(), r.offset)
            });
        JournalError::Corrupt {
            file,
            offset,
            seq,
            reason,
        }
    }

    /// The reader, once [`ReadAhead::next_into`] has returned the end or
    /// an error: for [`JournalReader::zero_tail`] and
    /// [`JournalReader::next_seq`].
    #[must_use]
    pub const fn reader(&self) -> Option<&JournalReader> {
        self.reader.as_ref()
    }

    /// Joins the thread and keeps its reader. A panic on the reader
    /// thread goes on here.
    fn finish(&mut self) {
        self.empty = None;
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(reader) => self.reader = Some(reader),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    }
}

impl Drop for ReadAhead {
    /// Closes both channels, so that the thread stops at its next hand-over
    /// (within one batch), and joins it: no thread outlives its reader, or
    /// holds a segment open after it. A panic on that thread is not raised
    /// again here.
    fn drop(&mut self) {
        self.empty = None;
        self.full = crossbeam_channel::never();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The reader thread: fills the batches the caller hands back until the
/// journal ends, fails, or the caller goes.
fn fill(mut reader: JournalReader, empty: &Receiver<Batch>, full: &Sender<Batch>) -> JournalReader {
    // How many segments the reader had opened at the last file noted.
    let mut segment = 0;
    while let Ok(mut batch) = empty.recv() {
        batch.bytes.clear();
        batch.records.clear();
        batch.files.clear();
        while batch.bytes.len() < BATCH_BYTES && batch.end.is_none() {
            match reader.next_payload() {
                Ok(Some((seq, payload))) => {
                    batch.bytes.extend_from_slice(payload);
                    let (opened, file) = reader.current_file();
                    if batch.files.is_empty() || opened != segment {
                        // Told apart by number: paths compare part by
                        // part, which costs more than reading a record.
                        segment = opened;
                        batch
                            .files
                            .push(file.map(PathBuf::from).unwrap_or_default());
                    }
                    batch.records.push(Record {
                        seq,
                        operator: reader.operator(),
                        file: batch.files.len() - 1,
                        offset: reader.last_offset(),
                        end: batch.bytes.len(),
                    });
                }
                Ok(None) => batch.end = Some(Ok(())),
                Err(e) => batch.end = Some(Err(e)),
            }
        }
        let last = batch.end.is_some();
        if full.send(batch).is_err() || last {
            break;
        }
    }
    reader
}
