//! The reader thread of `ReadAhead` changes when a journal is read, never
//! what is read: the same entries in the same order, the same end, the
//! same errors after the same entries, and the same place named for an
//! entry that does not replay, as the `JournalReader` it wraps. Journals
//! span many segments and batches, and are damaged in a middle segment and
//! torn at the end.

mod journal_support;

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use cetx_engine::command::{Command, Stamp};
use cetx_engine::journal::format::{encode_entry_record, segment_file_name, SegmentHeader};
use cetx_engine::journal::read_ahead::{BATCHES, BATCH_BYTES};
use cetx_engine::journal::JournalError;
use cetx_engine::journal::{JournalEntry, JournalReader, ReadAhead};
use cetx_engine::{Event, ReplayError};
use journal_support::{
    as_if_killed, data_end, entries, list_in_manifest, raw_record, records, segments,
    small_segments, write, PATIENCE,
};

/// Entries in each test journal: several batches of the read-ahead
/// (checked in [`journal`]).
const ENTRIES: u64 = 12_000;

/// Everything a read gave: the entries and how it ended (the error as
/// text, `None` at the end).
type Read = (Vec<JournalEntry>, Option<String>);

/// Reads with `next` to the end or the first error, and checks that it
/// then gives nothing more.
fn read_all(
    mut next: impl FnMut(&mut Vec<Event>) -> Result<Option<(Stamp, Command)>, JournalError>,
) -> Read {
    let mut out = Vec::new();
    let mut events = Vec::new();
    let end = loop {
        match next(&mut events) {
            Ok(Some((stamp, command))) => out.push(JournalEntry {
                stamp,
                command,
                events: std::mem::take(&mut events),
                operator: None,
            }),
            Ok(None) => break None,
            Err(e) => break Some(e.to_string()),
        }
    };
    assert!(matches!(next(&mut events), Ok(None)));
    (out, end)
}

fn read_plain(dir: &Path) -> (Read, Option<u64>) {
    let mut reader = JournalReader::open(dir).unwrap();
    let read = read_all(|events| reader.next_into(events));
    (read, reader.next_seq())
}

fn read_ahead(dir: &Path) -> (Read, Option<u64>) {
    let mut reader = ReadAhead::start(dir, JournalReader::open(dir).unwrap()).unwrap();
    let read = read_all(|events| reader.next_into(events));
    // The reader is given back at the end and after its own errors (not
    // after an entry that does not decode, which the caller finds).
    (read, reader.reader().and_then(JournalReader::next_seq))
}

/// A journal of [`ENTRIES`] entries in segments of 64 KiB: more than
/// three batches, in more than ten segments.
fn journal(dir: &Path) {
    journal_of_batches(dir, ENTRIES, 3);
}

/// A journal of `entries` entries in segments of 64 KiB, checked to hold
/// more than `batches` batches of the read-ahead.
fn journal_of_batches(dir: &Path, entries: u64, batches: usize) {
    write(dir, 1..=entries, small_segments(64 << 10));
    let files = segments(dir);
    assert!(files.len() > 10);
    let bytes: u64 = files.iter().map(|f| data_end(f)).sum();
    assert!(bytes > (batches * BATCH_BYTES) as u64, "{bytes} bytes");
}

#[test]
fn a_whole_journal_reads_the_same() {
    let _alone = serial();
    let tmp = tempfile::tempdir().unwrap();
    journal(tmp.path());
    let plain = read_plain(tmp.path());
    assert_eq!(plain.0 .0.len() as u64, ENTRIES);
    assert_eq!(plain.0 .1, None);
    assert_eq!(plain.1, Some(ENTRIES + 1));
    assert_eq!(read_ahead(tmp.path()), plain);
}

#[test]
fn damage_in_a_middle_segment_stops_both_after_the_same_entries() {
    let _alone = serial();
    let tmp = tempfile::tempdir().unwrap();
    journal(tmp.path());
    let files = segments(tmp.path());
    let middle = &files[files.len() / 2];
    let (at, seq) = records(middle)[2];
    // A byte of the payload, past the record's 25-byte prefix.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(middle)
        .unwrap();
    let mut byte = [0];
    file.read_exact_at(&mut byte, at + 30).unwrap();
    file.write_all_at(&[byte[0] ^ 0x10], at + 30).unwrap();
    let plain = read_plain(tmp.path());
    assert_eq!(plain.0 .0.len() as u64, seq - 1);
    let error = plain.0 .1.as_deref().expect("the damage is told");
    assert!(error.contains("corrupt"), "{error}");
    assert_eq!(read_ahead(tmp.path()), plain);
}

#[test]
fn a_torn_last_record_ends_both_the_same_way() {
    let _alone = serial();
    let tmp = tempfile::tempdir().unwrap();
    journal(tmp.path());
    as_if_killed(tmp.path());
    let last = segments(tmp.path()).pop().unwrap();
    let (at, seq) = *records(&last).last().unwrap();
    assert_eq!(seq, ENTRIES);
    let file = std::fs::OpenOptions::new().write(true).open(&last).unwrap();
    file.set_len(at + 10).unwrap();
    let plain = read_plain(tmp.path());
    assert_eq!(plain.0 .0.len() as u64, ENTRIES - 1);
    let error = plain.0 .1.as_deref().expect("the torn tail is told");
    assert!(error.contains("torn"), "{error}");
    assert_eq!(read_ahead(tmp.path()), plain);
}

#[test]
fn an_entry_that_does_not_replay_is_named_by_its_segment_and_offset() {
    let _alone = serial();
    let tmp = tempfile::tempdir().unwrap();
    journal(tmp.path());
    let mut plain = JournalReader::open(tmp.path()).unwrap();
    let mut ahead = ReadAhead::start(tmp.path(), JournalReader::open(tmp.path()).unwrap()).unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for seq in 1..=ENTRIES {
        let (x, y) = (
            plain.next_into(&mut a).unwrap(),
            ahead.next_into(&mut b).unwrap(),
        );
        assert_eq!(x, y);
        assert_eq!(a, b);
        let error = ReplayError {
            seq,
            what: "a test".into(),
        };
        assert_eq!(
            ahead.corrupt_entry(&error).to_string(),
            plain.corrupt_entry(&error).to_string()
        );
        a.clear();
        b.clear();
    }
}

/// Each test holds this while it runs, so that the reader threads counted
/// are its own: every test's threads end before it lets go.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Threads of this process named as the read-ahead names its own.
fn reader_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end() == "cetx-read-ahead")
        .count()
}

#[test]
fn a_read_left_early_ends_its_thread() {
    let _alone = serial();
    let tmp = tempfile::tempdir().unwrap();
    // More than the thread can read ahead (the batches in flight, the one
    // the caller holds and the one it fills): it ends up blocked, holding a
    // segment open, until the drop.
    journal_of_batches(tmp.path(), ENTRIES, BATCHES + 2);
    let mut ahead = ReadAhead::start(tmp.path(), JournalReader::open(tmp.path()).unwrap()).unwrap();
    let mut events = Vec::new();
    assert!(ahead.next_into(&mut events).unwrap().is_some());
    assert_eq!(reader_threads(), 1);
    // Between two segments the thread holds none for a moment, so a look
    // may miss it: it is looked for until it is seen.
    let deadline = std::time::Instant::now() + PATIENCE;
    while open_files_under(tmp.path()) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the reader thread holds no segment"
        );
        std::thread::yield_now();
    }
    // The thread is blocked handing over a full batch: the drop stops it
    // and waits for it, so its segment is closed when the drop returns.
    drop(ahead);
    assert_eq!(
        open_files_under(tmp.path()),
        0,
        "a reader thread outlived its reader"
    );
    // The kernel lists a joined thread a moment longer, while it releases
    // it: the listing is checked until then.
    let deadline = std::time::Instant::now() + PATIENCE;
    while reader_threads() != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "a reader thread is still listed"
        );
        std::thread::yield_now();
    }
}

/// Files of this process open under `dir`.
fn open_files_under(dir: &Path) -> usize {
    let dir = dir.canonicalize().unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| target.starts_with(&dir))
        .count()
}

#[test]
fn a_record_that_checks_out_but_does_not_decode_is_told_after_the_same_entries() {
    let _alone = serial();
    let tmp = tempfile::tempdir().unwrap();
    let first = 7;
    list_in_manifest(tmp.path(), &[first]);
    let mut bytes = SegmentHeader { first_seq: first }.encode().to_vec();
    // Good entries past the first batch, one that is not an entry (with
    // good checksums), and more good ones after it.
    let bad = first + 4_000;
    for e in entries(first..bad) {
        encode_entry_record(e.stamp, &e.command, &e.events, &mut bytes).unwrap();
    }
    bytes.extend_from_slice(&raw_record(bad, 1, &[0xff]));
    for e in entries(bad + 1..bad + 100) {
        encode_entry_record(e.stamp, &e.command, &e.events, &mut bytes).unwrap();
    }
    assert!(bytes.len() > BATCH_BYTES);
    std::fs::write(tmp.path().join(segment_file_name(first)), &bytes).unwrap();
    let plain = read_plain(tmp.path());
    assert_eq!(plain.0 .0.len() as u64, bad - first);
    let error = plain.0 .1.as_deref().expect("the record is told");
    assert!(error.contains("does not decode"), "{error}");
    assert_eq!(read_ahead(tmp.path()).0, plain.0);
}
