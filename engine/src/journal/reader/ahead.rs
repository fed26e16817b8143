//! Reading a journal one step ahead of its consumer, on a thread of its
//! own.
//!
//! Recovery and `cetx replay` do two things per entry: read it (the record
//! from the file, both checksums, the decoding) and apply it (the engine's
//! replay, the ledger). The first does not depend on the second, so
//! [`ReadAhead`] runs a [`JournalReader`] on a thread that hands over
//! entries in batches of [`BATCH_ENTRIES`] through a channel of
//! [`BATCHES_AHEAD`] batches: memory is bounded by those two numbers and
//! the entries' size, never by the journal's length. The consumer sees
//! exactly what the reader would have given it, in the same order, with
//! the same checks and the same error at the same place;
//! [`ReadAhead::corrupt_entry`] names the entry the consumer was given
//! last, not the one the thread has reached.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

use super::JournalReader;
use crate::command::{Command, Stamp};
use crate::event::Event;
use crate::journal::JournalError;
use crate::replay::ReplayError;

/// Entries handed over at a time.
pub(crate) const BATCH_ENTRIES: usize = 1_024;

/// Batches the reading thread may be ahead by.
pub(crate) const BATCHES_AHEAD: usize = 4;

/// One entry of a batch: its events are `events[start..end]` of the batch.
struct Read {
    stamp: Stamp,
    command: Command,
    start: usize,
    end: usize,
    /// Where its record starts, in `files[file]` of the batch.
    offset: u64,
    file: usize,
}

/// Entries read together, and how the reading ended if it did.
#[derive(Default)]
struct Batch {
    entries: Vec<Read>,
    events: Vec<Event>,
    /// The segments the entries are in.
    files: Vec<PathBuf>,
    /// The reader's error, or `Ok` at the end of the journal; `None` while
    /// there is more.
    end: Option<Result<(), JournalError>>,
}

/// A [`JournalReader`] run on its own thread; see the module docs.
pub(crate) struct ReadAhead {
    batches: Option<Receiver<Batch>>,
    thread: Option<JoinHandle<JournalReader>>,
    entries: std::vec::IntoIter<Read>,
    events: Vec<Event>,
    files: Vec<PathBuf>,
    end: Option<Result<(), JournalError>>,
    /// The file and offset of the entry returned last.
    last: Option<(usize, u64)>,
    /// The reader, back from its thread once the journal is read.
    reader: Option<JournalReader>,
}

impl ReadAhead {
    /// Starts reading `reader`'s entries on a thread.
    ///
    /// # Errors
    /// [`JournalError::Io`] when the thread cannot be started.
    pub(crate) fn start(reader: JournalReader) -> Result<Self, JournalError> {
        let (send, batches) = sync_channel(BATCHES_AHEAD);
        let thread = std::thread::Builder::new()
            .name("cetx-read-ahead".into())
            .spawn(move || {
                let mut reader = reader;
                loop {
                    let batch = read_batch(&mut reader);
                    let done = batch.end.is_some();
                    // A consumer that stopped early hung up: stop reading.
                    if send.send(batch).is_err() || done {
                        return reader;
                    }
                }
            })
            .map_err(|e| {
                JournalError::io(Path::new(""), "starting the journal read-ahead thread", e)
            })?;
        Ok(Self {
            batches: Some(batches),
            thread: Some(thread),
            entries: Vec::new().into_iter(),
            events: Vec::new(),
            files: Vec::new(),
            end: None,
            last: None,
            reader: None,
        })
    }

    /// As [`JournalReader::next_into`]: the next entry, its events
    /// appended to `events`; `None` at the end of the journal.
    ///
    /// # Errors
    /// The reader's error, after every entry before it.
    pub(crate) fn next_into(
        &mut self,
        events: &mut Vec<Event>,
    ) -> Result<Option<(Stamp, Command)>, JournalError> {
        loop {
            if let Some(read) = self.entries.next() {
                events.extend_from_slice(&self.events[read.start..read.end]);
                self.last = Some((read.file, read.offset));
                return Ok(Some((read.stamp, read.command)));
            }
            if let Some(end) = self.end.take() {
                self.join();
                return end.map(|()| None);
            }
            let Some(batch) = self.batches.as_ref().and_then(|b| b.recv().ok()) else {
                // The thread is gone without an end: it panicked.
                self.join();
                return Ok(None);
            };
            self.entries = batch.entries.into_iter();
            self.events = batch.events;
            self.files = batch.files;
            self.end = batch.end;
        }
    }

    /// Takes the reader back from its thread.
    fn join(&mut self) {
        self.batches = None;
        if let Some(thread) = self.thread.take() {
            // A panic on the reading thread is a programmer error: pass it on.
            match thread.join() {
                Ok(reader) => self.reader = Some(reader),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    }

    /// As [`JournalReader::corrupt_entry`], for the entry returned last.
    #[must_use]
    pub(crate) fn corrupt_entry(&self, error: &ReplayError) -> JournalError {
        let (file, offset) = self
            .last
            .and_then(|(file, offset)| Some((self.files.get(file)?.clone(), offset)))
            .unwrap_or_default();
        JournalError::Corrupt {
            file,
            offset,
            seq: error.seq,
            reason: format!("the entry does not replay: {}", error.what),
        }
    }

    /// The reader, once [`ReadAhead::next_into`] has returned the end or
    /// an error: for [`JournalReader::zero_tail`] and
    /// [`JournalReader::next_seq`].
    pub(crate) const fn reader(&self) -> Option<&JournalReader> {
        self.reader.as_ref()
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Hang up first, so that a thread blocked on a full channel stops.
        self.batches = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads up to [`BATCH_ENTRIES`] entries, or to the end or an error.
fn read_batch(reader: &mut JournalReader) -> Batch {
    let mut batch = Batch {
        entries: Vec::with_capacity(BATCH_ENTRIES),
        events: Vec::with_capacity(2 * BATCH_ENTRIES),
        ..Batch::default()
    };
    let mut segment = None;
    while batch.entries.len() < BATCH_ENTRIES {
        let start = batch.events.len();
        match reader.next_into(&mut batch.events) {
            Ok(Some((stamp, command))) => {
                let (number, path, offset) = reader.last_position();
                if segment != Some(number) {
                    segment = Some(number);
                    batch.files.push(path.to_path_buf());
                }
                batch.entries.push(Read {
                    stamp,
                    command,
                    start,
                    end: batch.events.len(),
                    offset,
                    file: batch.files.len() - 1,
                });
            }
            Ok(None) => {
                batch.end = Some(Ok(()));
                break;
            }
            Err(e) => {
                batch.end = Some(Err(e));
                break;
            }
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::FileExt;

    use super::*;
    use crate::command::NewOrder;
    use crate::event::Accepted;
    use crate::instrument::InstrumentId;
    use crate::journal::{JournalConfig, JournalWriter};
    use crate::order::{AccountId, OrderId, OrderType, Side, TimeInForce};

    /// Entries `1..=count` of one accepted buy each (odd ones with a
    /// second event), in segments of 64 KiB.
    fn journal(dir: &Path, count: u64) {
        let config = JournalConfig {
            segment_bytes: 64 << 10,
            ..JournalConfig::default()
        };
        let writer = JournalWriter::open(dir, 1, config).expect("opens");
        for seq in 1..=count {
            let order = NewOrder {
                order_id: OrderId(seq),
                account: AccountId(1),
                instrument: InstrumentId(0),
                side: Side::Buy,
                order_type: OrderType::Limit,
                time_in_force: TimeInForce::Day,
                price_ticks: 90_00,
                quantity_t: seq,
                client_order_id: seq,
            };
            let accepted = Event::Accepted(Accepted {
                order_id: order.order_id,
                account: order.account,
                instrument: order.instrument,
                side: order.side,
                order_type: order.order_type,
                time_in_force: order.time_in_force,
                price_ticks: order.price_ticks,
                quantity_t: order.quantity_t,
            });
            let events = vec![accepted; 1 + (seq % 2) as usize];
            let stamp = Stamp {
                seq,
                time_ns: seq as i64,
            };
            writer
                .append_blocking(stamp, &Command::Submit(order), &events)
                .expect("appends");
        }
        writer.close().expect("closes");
    }

    /// Everything a reader gives: each entry with the file and offset of
    /// its record, then its end (`None`) or its error, as text.
    type Reading = (
        Vec<(Stamp, Command, Vec<Event>, PathBuf, u64)>,
        Option<String>,
    );

    fn read_directly(dir: &Path) -> Reading {
        let mut reader = JournalReader::open(dir).expect("opens");
        let mut entries = Vec::new();
        loop {
            let mut events = Vec::new();
            match reader.next_into(&mut events) {
                Ok(Some((stamp, command))) => {
                    let (_, file, offset) = reader.last_position();
                    entries.push((stamp, command, events, file.to_path_buf(), offset));
                }
                Ok(None) => return (entries, None),
                Err(e) => return (entries, Some(e.to_string())),
            }
        }
    }

    fn read_ahead(dir: &Path) -> Reading {
        let mut reader =
            ReadAhead::start(JournalReader::open(dir).expect("opens")).expect("starts");
        let mut entries = Vec::new();
        loop {
            let mut events = Vec::new();
            match reader.next_into(&mut events) {
                Ok(Some((stamp, command))) => {
                    // Where the entry is, as a replay error would name it.
                    let error = ReplayError {
                        seq: stamp.seq,
                        what: String::new(),
                    };
                    let JournalError::Corrupt { file, offset, .. } = reader.corrupt_entry(&error)
                    else {
                        panic!("corrupt_entry gives a Corrupt error");
                    };
                    entries.push((stamp, command, events, file, offset));
                }
                Ok(None) => {
                    assert!(reader.reader().is_some(), "the reader is back at the end");
                    return (entries, None);
                }
                Err(e) => return (entries, Some(e.to_string())),
            }
        }
    }

    #[test]
    fn read_ahead_gives_what_the_reader_gives_and_fails_where_it_fails() {
        std::fs::create_dir_all("../target/tmp").expect("target/tmp");
        let dir = tempfile::tempdir_in("../target/tmp").expect("a temporary directory");
        // Several batches and several segments.
        let count = 3 * BATCH_ENTRIES as u64 + 17;
        journal(dir.path(), count);
        let direct = read_directly(dir.path());
        assert_eq!(direct.0.len() as u64, count);
        assert!(
            direct.0.last().expect("entries").3 != direct.0[0].3,
            "one segment only"
        );
        assert_eq!(read_ahead(dir.path()), direct);

        // Damage a record in the middle of the second segment: both read
        // the entries before it, then report the same corruption.
        let (_, _, _, file, offset) = direct
            .0
            .iter()
            .filter(|e| e.3 != direct.0[0].3)
            .nth(BATCH_ENTRIES / 3)
            .expect("an entry in a later segment")
            .clone();
        let handle = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&file)
            .expect("opens");
        let at = offset + 30;
        let mut byte = [0];
        handle.read_exact_at(&mut byte, at).expect("reads");
        handle.write_all_at(&[byte[0] ^ 0x10], at).expect("writes");
        let direct = read_directly(dir.path());
        assert!(direct.1.is_some(), "the flipped bit is found");
        assert!((direct.0.len() as u64) < count);
        assert_eq!(read_ahead(dir.path()), direct);
    }
}
