//! The day's client orders on disk: the log's full chunks, each written
//! once, in a file of their own beside the gateway's snapshots, so that a
//! snapshot holds only a reference to them and the chunk being filled.
//!
//! Before, every gateway snapshot held the whole day: 70 MB at the fifth
//! million entry of a closed-loop run, written again every million
//! entries, so a busy day cost the snapshot thread time in the square of
//! its length (14% of the server's CPU in a closed-loop `fsync` run). Now
//! a snapshot appends the chunks filled since the one before.
//!
//! `orders-{seq:020}.log` in the journal directory, named by the snapshot
//! that began it: a header, then one frame per chunk of [`CHUNK`] orders.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `CETXORDS` |
//! | 8 | 4 | version, `u32` LE (1) |
//! | 12 | 8 | the `seq` of its name, `u64` LE |
//! | 20 | … | frames: length `n` (`u32` LE), CRC32C of the payload (`u32` LE), `n` bytes: the chunk's orders, encoded as the gateway's snapshots are |
//!
//! A file is begun for each trading day, and again by each run of the
//! server (a run appends only to the file it began, so it never has to
//! trust what another left at the end of one). Like the snapshots, it is
//! not synced: a shortcut, never the truth. A snapshot whose chunks do not
//! all read back is passed over like a damaged one.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cetx_engine::journal::private;
use serde::{Deserialize, Serialize};

use super::{ClientOrderLog, Named, CHUNK};
use crate::codec::{decode_snapshot, encode_snapshot};

const MAGIC: [u8; 8] = *b"CETXORDS";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 20;
/// Far above a chunk's encoding (about 30 bytes an order), far below what
/// a damaged length could make a reader allocate.
const MAX_FRAME: usize = CHUNK * 1_024;

/// Where a snapshot's full chunks are: the first `chunks` of file `file`
/// (none when the day has not filled one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(in crate::runtime) struct DayRef {
    file: Option<u64>,
    chunks: u32,
}

/// A day file's name, around its number.
const NAME: (&str, &str) = ("orders-", ".log");

/// The file a snapshot's day chunks go in.
fn path_of(dir: &Path, file: u64) -> PathBuf {
    dir.join(format!("{}{file:020}{}", NAME.0, NAME.1))
}

/// The snapshot thread's day file: the one this run is appending to.
#[derive(Debug, Default)]
pub(in crate::runtime) struct DayFiles {
    current: Option<Current>,
    /// Which file each snapshot refers to, as far as this run knows.
    refs: BTreeMap<u64, Option<u64>>,
}

#[derive(Debug)]
struct Current {
    file: u64,
    /// The day's first chunk: a log whose first chunk is this very one is
    /// the same day, later (full chunks are shared, never copied).
    first: Arc<[Named]>,
    chunks: usize,
    writer: BufWriter<File>,
}

impl DayFiles {
    /// Writes the full chunks of `log` that are not on disk yet, for the
    /// snapshot after entry `seq`, and says where they are.
    ///
    /// # Errors
    /// A sentence saying what failed. The next snapshot then begins a new
    /// file, so a half-written frame is never appended to.
    pub(in crate::runtime) fn write(
        &mut self,
        dir: &Path,
        seq: u64,
        log: &ClientOrderLog,
    ) -> Result<DayRef, String> {
        let written = self.append(dir, seq, log);
        if written.is_err() {
            self.current = None;
        }
        let day = written?;
        self.refs.insert(seq, day.file);
        Ok(day)
    }

    fn append(&mut self, dir: &Path, seq: u64, log: &ClientOrderLog) -> Result<DayRef, String> {
        let Some(first) = log.full.first() else {
            return Ok(DayRef::default());
        };
        let chunks = u32::try_from(log.full.len()).map_err(|_| "over 2^32 chunks".to_owned())?;
        let same_day = self
            .current
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(&c.first, first) && c.chunks <= log.full.len());
        if !same_day {
            let path = path_of(dir, seq);
            let file = private::create_temporary(&path)
                .map_err(|e| format!("creating {}: {e}", path.display()))?;
            let mut writer = BufWriter::with_capacity(1 << 20, file);
            let mut header = [0_u8; HEADER_LEN];
            header[..8].copy_from_slice(&MAGIC);
            header[8..12].copy_from_slice(&VERSION.to_le_bytes());
            header[12..].copy_from_slice(&seq.to_le_bytes());
            writer
                .write_all(&header)
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
            self.current = Some(Current {
                file: seq,
                first: Arc::clone(first),
                chunks: 0,
                writer,
            });
        }
        let current = self.current.as_mut().expect("begun above");
        let describe = |e: String| format!("{}: {e}", path_of(dir, current.file).display());
        for chunk in &log.full[current.chunks..] {
            let chunk: &[Named] = chunk;
            let payload = encode_snapshot(&chunk).map_err(|e| describe(e.to_string()))?;
            let len =
                u32::try_from(payload.len()).map_err(|_| describe("chunk too large".into()))?;
            let crc = crc32c::crc32c(&payload);
            let frame = [len.to_le_bytes(), crc.to_le_bytes()].concat();
            current
                .writer
                .write_all(&frame)
                .and_then(|()| current.writer.write_all(&payload))
                .map_err(|e| describe(format!("writing: {e}")))?;
        }
        current
            .writer
            .flush()
            .map_err(|e| describe(format!("writing: {e}")))?;
        current.chunks = log.full.len();
        Ok(DayRef {
            file: Some(current.file),
            chunks,
        })
    }

    /// Removes every day file that no snapshot in `kept` refers to, but
    /// the one being appended to. `read_ref` reads a snapshot's reference
    /// when this run did not write it (those of an earlier run); one that
    /// does not read could not be recovered from, so it keeps nothing.
    ///
    /// # Errors
    /// A sentence saying what failed.
    pub(in crate::runtime) fn prune(
        &mut self,
        dir: &Path,
        kept: &[u64],
        read_ref: impl Fn(u64) -> Option<DayRef>,
    ) -> Result<Vec<PathBuf>, String> {
        self.refs.retain(|seq, _| kept.contains(seq));
        let mut used: Vec<u64> = self.current.iter().map(|c| c.file).collect();
        for &seq in kept {
            let file = match self.refs.get(&seq) {
                Some(&file) => file,
                None => {
                    let Some(day) = read_ref(seq) else { continue };
                    self.refs.insert(seq, day.file);
                    day.file
                }
            };
            used.extend(file);
        }
        crate::runtime::state::remove_numbered(dir, NAME, &used)
    }
}

/// The day a snapshot holds: the chunks `day` refers to, read back and
/// checked, then `tail`.
///
/// # Errors
/// A sentence saying what is wrong: the file missing, short, damaged, or
/// holding something else.
pub(in crate::runtime) fn read(
    dir: &Path,
    day: DayRef,
    tail: Vec<Named>,
) -> Result<ClientOrderLog, String> {
    if tail.len() > CHUNK {
        return Err(format!("a last chunk of {} orders", tail.len()));
    }
    let Some(file) = day.file else {
        return match day.chunks {
            0 => Ok(ClientOrderLog {
                full: Vec::new(),
                tail,
            }),
            n => Err(format!("{n} chunks and no file")),
        };
    };
    let path = path_of(dir, file);
    let describe = |why: String| format!("{}: {why}", path.display());
    let mut reader = BufReader::with_capacity(
        1 << 20,
        cetx_engine::journal::private::open_regular(&path)
            .map_err(|e| describe(format!("cannot read: {e}")))?,
    );
    let mut header = [0_u8; HEADER_LEN];
    reader
        .read_exact(&mut header)
        .map_err(|e| describe(format!("header: {e}")))?;
    if header[..8] != MAGIC
        || header[8..12] != VERSION.to_le_bytes()
        || header[12..] != file.to_le_bytes()
    {
        return Err(describe("not this day file (magic, version or seq)".into()));
    }
    // Grown as the chunks read, not sized by the count: a count that is
    // wrong must not make the reader allocate for it.
    let mut full = Vec::new();
    let mut payload = Vec::new();
    for at in 0..day.chunks {
        let mut frame = [0_u8; 8];
        reader
            .read_exact(&mut frame)
            .map_err(|e| describe(format!("chunk {at}: {e}")))?;
        let [l0, l1, l2, l3, c0, c1, c2, c3] = frame;
        let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
        if len > MAX_FRAME {
            return Err(describe(format!("chunk {at}: a length of {len} bytes")));
        }
        payload.resize(len, 0);
        reader
            .read_exact(&mut payload)
            .map_err(|e| describe(format!("chunk {at}: {e}")))?;
        if crc32c::crc32c(&payload) != u32::from_le_bytes([c0, c1, c2, c3]) {
            return Err(describe(format!("chunk {at}: checksum mismatch")));
        }
        let chunk: Vec<Named> =
            decode_snapshot(&payload).map_err(|e| describe(format!("chunk {at}: {e}")))?;
        if chunk.len() != CHUNK {
            return Err(describe(format!("chunk {at}: {} orders", chunk.len())));
        }
        full.push(chunk.into());
    }
    Ok(ClientOrderLog { full, tail })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cetx_engine::{AccountId, BrokerId, InstrumentId, OrderId};

    use crate::runtime::client_orders::ClientOrder;

    fn log_of(n: u64, from: u64) -> ClientOrderLog {
        let mut log = ClientOrderLog::default();
        for i in from..from + n {
            log.push(Named {
                broker: BrokerId(1 + (i % 2) as u32),
                client_order_id: i,
                order: ClientOrder {
                    order_id: OrderId(100 + i),
                    instrument: InstrumentId(0),
                    account: AccountId(1001),
                },
            });
        }
        log
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_day_is_written_once_and_each_snapshot_reads_its_own_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let mut day_files = DayFiles::default();
        let mut orders = log_of(2 * CHUNK as u64 + 3, 0);
        let early = orders.clone();
        let at_10 = day_files.write(dir.path(), 10, &early).unwrap();
        let size_10 = std::fs::metadata(path_of(dir.path(), 10)).unwrap().len();
        // The same day, later: its new chunk is appended to the same file.
        for named in log_of(CHUNK as u64 + 1, 1_000_000).full[0].iter() {
            orders.push(*named);
        }
        let at_20 = day_files.write(dir.path(), 20, &orders).unwrap();
        assert_eq!(files(dir.path()), ["orders-00000000000000000010.log"]);
        let size_20 = std::fs::metadata(path_of(dir.path(), 10)).unwrap().len();
        assert!(
            size_20 < 2 * size_10,
            "one chunk appended: {size_10} then {size_20} bytes"
        );
        assert_eq!((at_10.chunks, at_20.chunks), (2, 3));
        assert_eq!(
            read(dir.path(), at_10, early.tail().to_vec()).unwrap(),
            early
        );
        assert_eq!(
            read(dir.path(), at_20, orders.tail().to_vec()).unwrap(),
            orders
        );

        // A new day begins a new file; the old one goes once no kept
        // snapshot refers to it.
        let next_day = log_of(CHUNK as u64 + 1, 5);
        let at_30 = day_files.write(dir.path(), 30, &next_day).unwrap();
        assert_eq!(at_30.file, Some(30));
        let no_reader = |_| panic!("this run wrote every kept snapshot");
        assert!(day_files
            .prune(dir.path(), &[20, 30], no_reader)
            .unwrap()
            .is_empty());
        let removed = day_files.prune(dir.path(), &[30], no_reader).unwrap();
        assert_eq!(removed, [path_of(dir.path(), 10)]);
        assert_eq!(files(dir.path()), ["orders-00000000000000000030.log"]);
        // A day without a full chunk needs no file.
        let small = log_of(5, 0);
        assert_eq!(
            day_files.write(dir.path(), 40, &small).unwrap(),
            DayRef::default()
        );
        assert_eq!(
            read(dir.path(), DayRef::default(), small.tail().to_vec()).unwrap(),
            small
        );
    }

    #[test]
    fn a_later_run_begins_its_own_file_and_keeps_the_files_earlier_snapshots_need() {
        let dir = tempfile::tempdir().unwrap();
        let day = log_of(CHUNK as u64 * 2 + 1, 0);
        let earlier = DayFiles::default().write(dir.path(), 10, &day).unwrap();
        // A restarted server's log has chunks of its own, not the earlier
        // run's: it writes the day again, under its first snapshot's name.
        let restarted = read(dir.path(), earlier, day.tail().to_vec()).unwrap();
        let mut day_files = DayFiles::default();
        let later = day_files.write(dir.path(), 20, &restarted).unwrap();
        assert_eq!(later.file, Some(20));
        // The kept snapshot of the earlier run still needs its file.
        let read_ref = |seq| (seq == 10).then_some(earlier);
        assert!(day_files
            .prune(dir.path(), &[10, 20], read_ref)
            .unwrap()
            .is_empty());
        // One that does not read keeps nothing (a run that has begun no
        // file keeps none of its own either).
        let mut removed = DayFiles::default()
            .prune(dir.path(), &[10, 20], |_| None)
            .unwrap();
        removed.sort();
        assert_eq!(removed, [path_of(dir.path(), 10), path_of(dir.path(), 20)]);
    }

    #[test]
    fn a_damaged_short_or_foreign_day_file_is_refused_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let day = log_of(CHUNK as u64 * 2 + 1, 0);
        let at = DayFiles::default().write(dir.path(), 10, &day).unwrap();
        let path = path_of(dir.path(), 10);
        let bytes = std::fs::read(&path).unwrap();
        let tail = day.tail().to_vec();
        let refused = |bytes: &[u8], day: DayRef| {
            std::fs::write(&path, bytes).unwrap();
            read(dir.path(), day, tail.clone()).unwrap_err()
        };
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(refused(&flipped, at).contains("chunk 1: checksum mismatch"));
        let short = &bytes[..bytes.len() - 10];
        assert!(refused(short, at).contains("chunk 1"));
        let more = DayRef { chunks: 3, ..at };
        assert!(refused(&bytes, more).contains("chunk 2"));
        let other = DayRef {
            file: Some(11),
            ..at
        };
        std::fs::copy(&path, path_of(dir.path(), 11)).unwrap();
        assert!(read(dir.path(), other, Vec::new())
            .unwrap_err()
            .contains("not this day file"));
        std::fs::remove_file(&path).unwrap();
        assert!(read(dir.path(), at, Vec::new())
            .unwrap_err()
            .contains("cannot read"));
        // The chunk's own check comes first: the right bytes still read.
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read(dir.path(), at, tail).unwrap(), day);
    }
}
