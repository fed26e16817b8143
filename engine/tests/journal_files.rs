//! The journal on real files: what is written reads back the same in every
//! durability mode and across segment rolls, and every kind of damage is
//! found and named by file, offset and sequence number.

mod journal_support;

use std::fs::OpenOptions;
use std::io::Write;

use cetx_engine::journal::format::{encode_entry_record, segment_file_name, HEADER_LEN};
use cetx_engine::journal::{
    list_snapshots, prune_snapshots, verify, Durability, Events, JournalBatch, JournalConfig,
    JournalEntry, JournalError, JournalReader, JournalWriter, Tie, VerifyReport, MANIFEST_FILE,
};
use journal_support::{
    as_if_killed, data_end, entries, entry, list_in_manifest, raw_record, records, segments,
    small_segments, write, PATIENCE, PREFIX,
};

/// A tie to no record: for snapshots whose file alone is tested.
const NO_TIE: Tie = Tie {
    header_crc: 0,
    offset: 0,
};

fn read_all(dir: &std::path::Path) -> Vec<JournalEntry> {
    JournalReader::open(dir)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn every_durability_mode_reads_back_what_was_written() {
    for durability in [Durability::Fsync, Durability::Os] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("journal");
        let config = JournalConfig {
            durability,
            ..JournalConfig::default()
        };
        let writer = JournalWriter::open(&dir, 1, config).unwrap();
        for e in entries(1..=500) {
            writer
                .append_blocking(e.stamp, &e.command, &e.events)
                .unwrap();
        }
        assert!(writer.wait_durable(500, PATIENCE).unwrap());
        assert_eq!(writer.durable_seq(), 500);
        let stats = writer.stats();
        assert_eq!(stats.entries, 500);
        assert!(stats.batches >= 1 && stats.largest_batch >= 1);
        if durability == Durability::Fsync {
            assert!(stats.syncs >= stats.batches, "{stats:?}");
        } else {
            assert_eq!(stats.syncs, 0);
        }
        writer.close().unwrap();
        assert_eq!(read_all(&dir), entries(1..=500), "{durability:?}");
        let report = verify(&dir).unwrap();
        let events = entries(1..=500).iter().map(|e| e.events.len() as u64).sum();
        assert_eq!(
            report,
            VerifyReport {
                segments: 1,
                entries: 500,
                events,
                first_seq: Some(1),
                last_seq: Some(500),
                bytes: stats.bytes + HEADER_LEN as u64,
            }
        );
    }
}

#[test]
fn a_writer_removes_the_temporary_files_a_killed_process_left() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    write(&dir, 1..=3, JournalConfig::default());
    // A snapshot (or the gateway's state) cut short by a full disk or a
    // kill between its write and its rename: its sequence number is never
    // written again, so only the next writer removes it.
    let left = [
        "snapshot-00000000000000000002.snap.tmp",
        "gateway-00000000000000000002.snap.tmp",
        "MANIFEST.tmp",
    ];
    for name in left {
        std::fs::write(dir.join(name), b"partial").unwrap();
    }
    std::fs::write(dir.join("notes.txt"), b"the operator's").unwrap();
    let writer = JournalWriter::open(&dir, 4, JournalConfig::default()).unwrap();
    for name in left {
        assert!(!dir.join(name).exists(), "{name} is left");
    }
    assert!(dir.join("notes.txt").exists(), "only temporary files go");
    writer.close().unwrap();
    assert_eq!(read_all(&dir), entries(1..=3));
}

#[test]
fn a_journal_directory_that_cannot_be_written_fails_at_open() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    write(&dir, 1..=3, JournalConfig::default());
    // The check's file cannot be made (something else is in its place):
    // the writer does not open, and says where.
    let probe = dir.join("write-check.tmp");
    std::fs::create_dir(&probe).unwrap();
    let err = JournalWriter::open(&dir, 4, JournalConfig::default())
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(&err, JournalError::Io { path, .. } if *path == probe),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("writing a file in the journal directory"),
        "{err}"
    );
    std::fs::remove_dir(&probe).unwrap();
    // A directory without write permission, for a user the permission
    // binds (root writes anyway): refused at open, not at the first entry.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    let read_only = JournalWriter::open(&dir, 4, JournalConfig::default()).map(|_| ());
    let writable = std::fs::write(dir.join("x"), b"").is_ok();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(read_only.is_ok(), writable, "{read_only:?}");
    // Nothing is left behind, and the journal opens and goes on.
    let _ = std::fs::remove_file(dir.join("x"));
    let writer = JournalWriter::open(&dir, 4, JournalConfig::default()).unwrap();
    assert!(!probe.exists());
    writer.close().unwrap();
    assert_eq!(read_all(&dir), entries(1..=3));
}

#[test]
fn durability_none_writes_nothing_and_acknowledges_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let config = JournalConfig {
        durability: Durability::None,
        ..JournalConfig::default()
    };
    let writer = JournalWriter::open(&dir, 1, config).unwrap();
    for e in entries(1..=100) {
        writer
            .append_blocking(e.stamp, &e.command, &e.events)
            .unwrap();
    }
    assert!(writer.wait_durable(100, PATIENCE).unwrap());
    assert_eq!(writer.stats().bytes, 0);
    writer.close().unwrap();
    assert!(!dir.exists());
}

#[test]
fn batches_roll_segments_between_their_records_and_count_as_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = JournalConfig {
        queue_capacity: 1_000,
        ..small_segments(4096)
    };
    let writer = JournalWriter::open(dir, 1, config).unwrap();
    // Three batches of 100 entries: each spans several 4 KiB segments.
    for first in [1, 101, 201] {
        let mut batch = JournalBatch::default();
        for e in entries(first..=first + 99) {
            writer
                .append_to(&mut batch, e.stamp, &e.command, &e.events)
                .unwrap();
        }
        assert_eq!(batch.len(), 100);
        writer.commit_batch(&mut batch).unwrap();
        assert!(batch.is_empty());
    }
    // The queue counts entries, not batches; waiting for more room than it
    // has waits until it is empty.
    assert!(writer.queue_room() >= 700);
    writer.wait_for_room(5_000).unwrap();
    assert_eq!(writer.queue_room(), 1_000);
    assert!(writer.wait_durable(300, PATIENCE).unwrap());
    assert_eq!(writer.queue_room(), 1_000);
    let stats = writer.stats();
    assert_eq!(stats.entries, 300);
    writer.close().unwrap();
    let files = segments(dir);
    assert!(files.len() > 10, "{} segments", files.len());
    // Every record's bytes are counted, in each segment a batch wrote to
    // (OPERATIONS.md, `cetx_journal_bytes_total`).
    let written: u64 = files.iter().map(|f| data_end(f) - HEADER_LEN as u64).sum();
    assert_eq!(stats.bytes, written);
    for file in &files {
        let size = std::fs::metadata(file).unwrap().len();
        assert!(
            size <= 4096 || records(file).len() == 1,
            "{}",
            file.display()
        );
    }
    assert_eq!(read_all(dir), entries(1..=300));
    assert_eq!(verify(dir).unwrap().entries, 300);
}

#[test]
fn segments_roll_at_record_boundaries_and_read_as_one_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, 1..=300, small_segments(4096));
    let files = segments(dir);
    assert!(files.len() > 5, "{} segments", files.len());
    let mut next = 1;
    for file in &files {
        let size = std::fs::metadata(file).unwrap().len();
        let recs = records(file);
        assert!(
            size <= 4096 || recs.len() == 1,
            "{} is {size} bytes",
            file.display()
        );
        // Each file is named after, and starts with, the record after the
        // previous file's last.
        assert_eq!(
            file.file_name().unwrap().to_str().unwrap(),
            segment_file_name(next)
        );
        assert_eq!(recs[0], (HEADER_LEN as u64, next));
        next += recs.len() as u64;
    }
    assert_eq!(next, 301);
    assert_eq!(read_all(dir), entries(1..=300));
    assert_eq!(verify(dir).unwrap().segments, files.len());

    // From the middle: earlier segments are skipped, earlier records in the
    // segment are checked but not returned.
    let from: Vec<_> = JournalReader::open_from(dir, 123)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(from, entries(123..=300));

    // The (seq, Event) view.
    let flat: Vec<_> = JournalReader::open(dir)
        .unwrap()
        .events()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: Vec<_> = entries(1..=300)
        .into_iter()
        .flat_map(|e| e.events.into_iter().map(move |ev| (e.stamp.seq, ev)))
        .collect();
    assert_eq!(flat, expected);
    let from_iter: Vec<_> = Events::new(entries(1..=3).into_iter().map(Ok))
        .map(Result::unwrap)
        .collect();
    assert_eq!(from_iter, expected[..from_iter.len()]);
}

#[test]
fn a_writer_reopens_a_journal_in_a_new_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, 1..=10, JournalConfig::default());
    write(dir, 11..=20, JournalConfig::default());
    assert_eq!(segments(dir).len(), 2);
    assert_eq!(read_all(dir), entries(1..=20));
    // The writer starts exactly one past the journal's last record.
    for next_seq in [5, 11, 20] {
        let err = JournalWriter::open(dir, next_seq, JournalConfig::default()).err();
        assert!(
            matches!(err, Some(JournalError::Occupied { .. })),
            "{next_seq}: {err:?}"
        );
    }
    let err = JournalWriter::open(dir, 22, JournalConfig::default()).err();
    assert!(
        matches!(
            err,
            Some(JournalError::Gap {
                expected: 21,
                found: 22,
                ..
            })
        ),
        "{err:?}"
    );
    // A segment with only a header (a crash before the first write) is
    // replaced.
    let empty = dir.join(segment_file_name(21));
    std::fs::write(&empty, [0u8; 10]).unwrap();
    write(dir, 21..=22, JournalConfig::default());
    assert_eq!(read_all(dir), entries(1..=22));
}

#[test]
fn archiving_checks_the_records_it_moves_and_moves_none_if_one_is_damaged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    write(&dir, 1..=60, small_segments(2_048));
    let state = empty_state();
    cetx_engine::journal::write_snapshot(&dir, 60, &state).unwrap();
    let live = segments(&dir);
    assert!(live.len() >= 3, "{live:?}");
    // A bit flipped in the second segment's first record.
    let pristine = std::fs::read(&live[1]).unwrap();
    flip(&live[1], HEADER_LEN as u64 + 30);
    let archive = std::path::Path::new("../archive");
    let err = cetx_engine::journal::archive_segments(&dir, archive, u64::MAX).unwrap_err();
    assert!(
        matches!(&err, JournalError::Corrupt { file, .. } if *file == live[1]),
        "{err}"
    );
    assert_eq!(segments(&dir), live, "nothing was moved");
    // Once the segment is restored, they go.
    std::fs::write(&live[1], pristine).unwrap();
    let archived = cetx_engine::journal::archive_segments(&dir, archive, u64::MAX).unwrap();
    assert_eq!(archived.moved.len(), live.len() - 1);
    assert_eq!(read_all(&dir), entries(1..=60));
    // A run killed between listing a segment archived and removing its
    // live copy leaves that copy: the next run removes it.
    let (_, first_archived) = &archived.moved[0];
    std::fs::copy(first_archived, &live[0]).unwrap();
    let again = cetx_engine::journal::archive_segments(&dir, archive, u64::MAX).unwrap();
    assert!(again.moved.is_empty());
    assert!(!live[0].exists(), "the left live copy is removed");
    assert!(first_archived.exists());
    assert_eq!(read_all(&dir), entries(1..=60));
}

#[test]
fn appends_must_follow_the_sequence() {
    let tmp = tempfile::tempdir().unwrap();
    let writer = JournalWriter::open(tmp.path(), 1, JournalConfig::default()).unwrap();
    let (one, three) = (entry(1), entry(3));
    writer.append(one.stamp, &one.command, &one.events).unwrap();
    for wrong in [&one, &three] {
        let err = writer.append(wrong.stamp, &wrong.command, &wrong.events);
        assert!(matches!(
            err,
            Err(JournalError::OutOfOrder { expected: 2, .. })
        ));
    }
    let two = entry(2);
    writer.append(two.stamp, &two.command, &two.events).unwrap();
    assert_eq!(writer.next_seq(), 3);
    writer.close().unwrap();
    assert_eq!(read_all(tmp.path()), entries(1..=2));
}

/// Flips one bit at `offset` of `path`.
fn flip(path: &std::path::Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x10;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_flipped_byte_is_corruption_at_its_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, 1..=102, small_segments(2048));
    let files = segments(dir);
    assert!(records(files.last().unwrap()).len() > 1);
    // In a middle segment, and in a record of the last segment that other
    // records follow: both are damage, not a torn write.
    for file in [&files[files.len() / 2], files.last().unwrap()] {
        let (offset, seq) = records(file)[0];
        flip(file, offset + 20);
        let err = verify(dir).unwrap_err();
        match &err {
            JournalError::Corrupt {
                file: f,
                offset: o,
                seq: s,
                ..
            } => assert_eq!((f, *o, *s), (file, offset, seq), "{err}"),
            other => panic!("expected Corrupt, got {other}"),
        }
        // The reader returns everything before the damage, then the error.
        let read: Vec<_> = JournalReader::open(dir).unwrap().collect();
        assert_eq!(read.len() as u64, seq);
        assert!(read[..seq as usize - 1].iter().all(Result::is_ok));
        flip(file, offset + 20);
        verify(dir).unwrap();
    }
    // A damaged header.
    flip(&files[1], 3);
    assert!(matches!(
        verify(dir),
        Err(JournalError::Corrupt { offset: 0, .. })
    ));
}

#[test]
fn an_incomplete_last_record_is_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, 1..=100, small_segments(2048));
    as_if_killed(dir);
    let last = segments(dir).pop().unwrap();
    let (offset, seq) = *records(&last).last().unwrap();
    let end = data_end(&last);
    let torn = |err: JournalError| match err {
        JournalError::TornTail {
            file,
            offset: o,
            seq: s,
        } => assert_eq!((file, o, s), (last.clone(), offset, seq)),
        other => panic!("expected TornTail, got {other}"),
    };
    // Cut inside the payload, inside the prefix, and a bad checksum on the
    // final record.
    for cut in [end - 5, offset + 3] {
        OpenOptions::new()
            .write(true)
            .open(&last)
            .unwrap()
            .set_len(cut)
            .unwrap();
        torn(verify(dir).unwrap_err());
        let read: Vec<_> = JournalReader::open(dir).unwrap().collect();
        assert_eq!(read.len() as u64, seq);
    }
    write_raw(&last, offset, 100);
    flip(&last, end - 1);
    torn(verify(dir).unwrap_err());
    // The same record cut short in a segment written ahead: its tail is
    // zeros up to the end of the file.
    write_raw(&last, offset, 100);
    let mut bytes = std::fs::read(&last).unwrap();
    bytes.truncate(offset as usize + PREFIX + 3);
    bytes.resize(4096, 0);
    std::fs::write(&last, &bytes).unwrap();
    torn(verify(dir).unwrap_err());
    // Zeros after the last good record are space written ahead: the end.
    write_raw(&last, offset, 100);
    let mut file = OpenOptions::new().append(true).open(&last).unwrap();
    file.write_all(&[0; 4096]).unwrap();
    assert_eq!(verify(dir).unwrap().last_seq, Some(100));
    assert_eq!(read_all(dir), entries(1..=100));
}

/// Rewrites `path` from `offset` on with the record of `seq`, dropping the
/// rest.
fn write_raw(path: &std::path::Path, offset: u64, seq: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes.truncate(offset as usize);
    let e = entry(seq);
    encode_entry_record(e.stamp, &e.command, &e.events, &mut bytes).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_missing_segment_or_a_skipped_number_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, 1..=100, small_segments(2048));
    let files = segments(dir);
    // The first, a middle and the last segment: each is named.
    for missing in [0, 2, files.len() - 1] {
        let path = &files[missing];
        let first_seq = records(path)[0].1;
        let saved = std::fs::read(path).unwrap();
        std::fs::remove_file(path).unwrap();
        let err = verify(dir).unwrap_err();
        match &err {
            JournalError::MissingSegment { file, first_seq: s } => {
                assert_eq!((file, *s), (path, first_seq), "{err}");
            }
            other => panic!("expected MissingSegment, got {other}"),
        }
        assert!(err.to_string().contains(&segment_file_name(first_seq)));
        std::fs::write(path, saved).unwrap();
        verify(dir).unwrap();
    }
    // A segment the manifest does not list, between listed ones.
    let stray = dir.join(segment_file_name(records(&files[2])[0].1 + 1));
    std::fs::copy(&files[2], &stray).unwrap();
    let err = verify(dir).unwrap_err();
    assert!(
        matches!(&err, JournalError::Corrupt { file, reason, .. } if *file == stray && reason.contains("not listed")),
        "{err}"
    );
    std::fs::remove_file(&stray).unwrap();
    // A segment renamed: the listed one is missing, and the file under
    // another name is not listed. The missing one is named, as a start
    // names it (an outside tester's case).
    std::fs::rename(&files[2], &stray).unwrap();
    let err = verify(dir).unwrap_err();
    assert!(
        matches!(&err, JournalError::MissingSegment { file, .. } if *file == files[2]),
        "{err}"
    );
    std::fs::rename(&stray, &files[2]).unwrap();
    verify(dir).unwrap();
    // A damaged manifest: a flipped bit, in its text or making it no text.
    let manifest = std::fs::read(dir.join(MANIFEST_FILE)).unwrap();
    for (at, bit) in [(30, 0x01), (30, 0x80)] {
        let mut damaged = manifest.clone();
        damaged[at] ^= bit;
        std::fs::write(dir.join(MANIFEST_FILE), &damaged).unwrap();
        let err = verify(dir).unwrap_err();
        assert!(
            matches!(&err, JournalError::BadManifest { .. })
                && err.to_string().contains("journal manifest"),
            "{err}"
        );
    }
    // Segments with records and no manifest (format 1, or a lost one).
    std::fs::remove_file(dir.join(MANIFEST_FILE)).unwrap();
    let err = verify(dir).unwrap_err();
    assert!(
        matches!(&err, JournalError::Corrupt { reason, .. } if reason.contains("no MANIFEST")),
        "{err}"
    );

    // Inside one segment: records 1, 2, 4.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(segment_file_name(1));
    let mut bytes = cetx_engine::journal::format::SegmentHeader { first_seq: 1 }
        .encode()
        .to_vec();
    for seq in [1, 2, 4] {
        let e = entry(seq);
        encode_entry_record(e.stamp, &e.command, &e.events, &mut bytes).unwrap();
    }
    std::fs::write(&path, bytes).unwrap();
    list_in_manifest(tmp.path(), &[1]);
    let third = records(&path)[2].0;
    let err = verify(tmp.path()).unwrap_err();
    assert!(
        matches!(err, JournalError::Gap { offset, expected: 3, found: 4, .. } if offset == third),
        "{err}"
    );
}

#[test]
fn unknown_record_types_and_undecodable_records_are_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(segment_file_name(7));
    list_in_manifest(tmp.path(), &[7]);
    let header = cetx_engine::journal::format::SegmentHeader { first_seq: 7 }.encode();
    // seq 7, type 3 (reserved), empty payload, with good checksums.
    let mut bytes = header.to_vec();
    bytes.extend_from_slice(&raw_record(7, 3, &[]));
    std::fs::write(&path, &bytes).unwrap();
    let err = verify(tmp.path()).unwrap_err();
    assert!(
        matches!(&err, JournalError::Corrupt { offset: 24, seq: 7, reason, .. } if reason.contains("type 3")),
        "{err}"
    );
    // Type 2, an operator's entry, too short for the operator's id.
    let mut bytes = header.to_vec();
    bytes.extend_from_slice(&raw_record(7, 2, &[9, 0, 0]));
    std::fs::write(&path, &bytes).unwrap();
    let err = verify(tmp.path()).unwrap_err();
    assert!(
        matches!(&err, JournalError::Corrupt { offset: 24, seq: 7, reason, .. } if reason.contains("operator's id")),
        "{err}"
    );
    // Type 1 with a payload that is not an entry.
    let mut bytes = header.to_vec();
    bytes.extend_from_slice(&raw_record(7, 1, &[0xff]));
    std::fs::write(&path, &bytes).unwrap();
    let err = verify(tmp.path()).unwrap_err();
    assert!(
        matches!(&err, JournalError::Corrupt { offset: 24, seq: 7, reason, .. } if reason.contains("truncated")),
        "{err}"
    );
}

/// The state of a market with nothing in it, on day 0.
fn empty_state() -> cetx_engine::EngineState {
    cetx_engine::EngineState {
        trading_day: 0,
        closed_date: None,
        last_order_id: None,
        next_trade_id: 1,
        calendar: None,
        instruments: Vec::new(),
        accounts: Vec::new(),
        references: Vec::new(),
        membership: cetx_engine::Membership::default(),
        blocks: cetx_engine::BlockState::default(),
        auctions: cetx_engine::Auctions::default(),
    }
}

#[test]
fn only_the_newest_snapshots_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let state = empty_state();
    for seq in [10, 20, 30, 40] {
        cetx_engine::journal::write_snapshot_tied(dir, seq, NO_TIE, &state).unwrap();
    }
    let removed = prune_snapshots(dir, 2).unwrap();
    assert_eq!(removed.len(), 2);
    let kept: Vec<u64> = list_snapshots(dir).unwrap().iter().map(|s| s.0).collect();
    assert_eq!(kept, [40, 30]);
    // At least one is always kept.
    prune_snapshots(dir, 0).unwrap();
    let kept: Vec<u64> = list_snapshots(dir).unwrap().iter().map(|s| s.0).collect();
    assert_eq!(kept, [40]);
}

/// A snapshot is tied to the journal's record at its sequence number: it
/// is not written after one the journal does not hold.
#[test]
fn a_snapshot_is_not_written_without_its_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, 1..=3, small_segments(4_096));
    let state = empty_state();
    let error = cetx_engine::journal::write_snapshot(dir, 4, &state).unwrap_err();
    assert!(
        matches!(error, JournalError::NoRecordForSnapshot { seq: 4, .. }),
        "{error}"
    );
    assert!(list_snapshots(dir).unwrap().is_empty());
    let path = cetx_engine::journal::write_snapshot(dir, 3, &state).unwrap();
    let (seq, tie, read) = cetx_engine::journal::read_snapshot_tie(&path).unwrap();
    assert_eq!((seq, read), (3, state));
    assert!(tie.is_some());
}

/// `state` encoded as versions 2 to 5 did: each reference alone, without
/// version 6's flag for its transfer terms nor version 7's trading day
/// (every reference of `state` has no terms and the state's own day, as
/// an old snapshot's read, and is not a substring of anything before it;
/// `state` has no instruments, whose last price version 7 added too).
fn encoded_before_version_6(state: &cetx_engine::EngineState) -> Vec<u8> {
    assert!(state.instruments.is_empty());
    let mut payload = Vec::new();
    cetx_engine::journal::encode_state(state, &mut payload);
    for (reference, terms, trading_day) in &state.references {
        assert_eq!((*terms, *trading_day), (None, state.trading_day));
        let at = payload
            .windows(reference.len())
            .position(|w| w == reference.as_bytes())
            .unwrap()
            + reference.len();
        assert_eq!(payload.remove(at), 0, "the flag of no terms");
        let day: Vec<u8> = payload.drain(at..at + 4).collect();
        assert_eq!(day, trading_day.to_le_bytes(), "the day applied");
    }
    payload
}

#[test]
fn a_snapshot_of_version_5_keeps_references_without_their_terms() {
    let tmp = tempfile::tempdir().unwrap();
    let terms = cetx_engine::TransferTerms {
        account: cetx_engine::AccountId(7),
        asset: cetx_engine::Asset::Cash,
        direction: cetx_engine::Direction::In,
        amount: 500,
    };
    let mut state = cetx_engine::EngineState {
        trading_day: 3,
        closed_date: None,
        last_order_id: None,
        next_trade_id: 1,
        calendar: None,
        instruments: Vec::new(),
        accounts: Vec::new(),
        references: vec![("BANK-1".into(), Some(terms), 3), ("REG-1".into(), None, 3)],
        membership: cetx_engine::Membership::default(),
        blocks: cetx_engine::BlockState::default(),
        auctions: cetx_engine::Auctions::default(),
    };
    // Version 7 keeps each reference's terms, or their absence, and day.
    cetx_engine::journal::write_snapshot_tied(tmp.path(), 5, NO_TIE, &state).unwrap();
    let path = tmp
        .path()
        .join(cetx_engine::journal::snapshot::snapshot_file_name(5));
    assert_eq!(
        cetx_engine::journal::read_snapshot(&path),
        Ok((5, state.clone()))
    );
    // Version 5 wrote the references alone: they read with no terms.
    state.references[0].1 = None;
    let payload = encoded_before_version_6(&state);
    let magic = cetx_engine::journal::snapshot::SNAPSHOT_MAGIC;
    cetx_engine::journal::write_framed(&path, magic, 5, 5, &payload).unwrap();
    assert_eq!(cetx_engine::journal::read_snapshot(&path), Ok((5, state)));
}

#[test]
fn a_snapshot_of_version_2_is_read_with_an_empty_membership() {
    let tmp = tempfile::tempdir().unwrap();
    let mut state = cetx_engine::EngineState {
        trading_day: 3,
        closed_date: None,
        last_order_id: Some(cetx_engine::OrderId(9)),
        next_trade_id: 4,
        calendar: None,
        instruments: Vec::new(),
        accounts: Vec::new(),
        references: vec![("REG-1".into(), None, 3)],
        membership: cetx_engine::Membership::default(),
        blocks: cetx_engine::BlockState::default(),
        auctions: cetx_engine::Auctions::default(),
    };
    let mut payload = encoded_before_version_6(&state);
    // Version 2 ends at the references: without the three empty counts of
    // version 3's membership and its absent closed date, nor version 4's
    // block section (three empty counts and the next id) and the auctions
    // section (two empty counts and an absent last id).
    payload.truncate(payload.len() - 13 - 20 - 9);
    let path = tmp
        .path()
        .join(cetx_engine::journal::snapshot::snapshot_file_name(5));
    let magic = cetx_engine::journal::snapshot::SNAPSHOT_MAGIC;
    cetx_engine::journal::write_framed(&path, magic, 2, 5, &payload).unwrap();
    assert_eq!(
        cetx_engine::journal::read_snapshot(&path),
        Ok((5, state.clone()))
    );
    // The same payload as version 3 is short of the membership.
    cetx_engine::journal::write_framed(&path, magic, 3, 5, &payload).unwrap();
    assert!(cetx_engine::journal::read_snapshot(&path).is_err());
    // A version 3 payload (no block section) reads with no offers.
    let mut v3 = encoded_before_version_6(&state);
    v3.truncate(v3.len() - 20 - 9);
    cetx_engine::journal::write_framed(&path, magic, 3, 5, &v3).unwrap();
    assert_eq!(
        cetx_engine::journal::read_snapshot(&path),
        Ok((5, state.clone()))
    );
    // Version 3 carries the membership and the closed date through.
    state
        .membership
        .account_status
        .insert(cetx_engine::AccountId(7), cetx_engine::Status::Suspended);
    state.closed_date = Some(2026_12_01);
    cetx_engine::journal::write_snapshot_tied(tmp.path(), 6, NO_TIE, &state).unwrap();
    let path = tmp
        .path()
        .join(cetx_engine::journal::snapshot::snapshot_file_name(6));
    assert_eq!(cetx_engine::journal::read_snapshot(&path), Ok((6, state)));
}

#[test]
fn a_snapshot_of_version_4_is_read_with_no_auction() {
    let tmp = tempfile::tempdir().unwrap();
    let mut membership = cetx_engine::Membership::default();
    membership
        .account_status
        .insert(cetx_engine::AccountId(7), cetx_engine::Status::Suspended);
    let state = cetx_engine::EngineState {
        trading_day: 3,
        closed_date: Some(2026_12_01),
        last_order_id: Some(cetx_engine::OrderId(9)),
        next_trade_id: 4,
        calendar: None,
        instruments: Vec::new(),
        accounts: Vec::new(),
        references: vec![("REG-1".into(), None, 3)],
        membership,
        blocks: cetx_engine::BlockState::default(),
        auctions: cetx_engine::Auctions::default(),
    };
    let mut payload = encoded_before_version_6(&state);
    // Version 4 ends at the block section: without version 5's auctions (no
    // instrument's fields, no last id, no open auction).
    payload.truncate(payload.len() - 9);
    let path = tmp
        .path()
        .join(cetx_engine::journal::snapshot::snapshot_file_name(5));
    let magic = cetx_engine::journal::snapshot::SNAPSHOT_MAGIC;
    cetx_engine::journal::write_framed(&path, magic, 4, 5, &payload).unwrap();
    assert_eq!(cetx_engine::journal::read_snapshot(&path), Ok((5, state)));
    // The same payload as version 5 is short of the auctions.
    cetx_engine::journal::write_framed(&path, magic, 5, 5, &payload).unwrap();
    assert!(cetx_engine::journal::read_snapshot(&path).is_err());
}

/// `cetx journal archive` beside readers that are behind: a reader that
/// opened the journal before the move, and a follower part way through
/// its first segment, each go on into the archived segments where the
/// MANIFEST now lists them and read every entry once (an outside tester's
/// follower stopped with "segment is missing", exit 4, when nothing was).
#[test]
fn readers_that_are_behind_follow_segments_into_the_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    write(&dir, 1..=60, small_segments(2_048));
    cetx_engine::journal::write_snapshot(&dir, 60, &empty_state()).unwrap();
    assert!(segments(&dir).len() >= 3);

    let mut reader = JournalReader::open(&dir).unwrap();
    let first = reader.next().unwrap().unwrap();
    let mut follower = cetx_engine::journal::JournalFollower::new(&dir, 1);
    let followed_first = follower.try_next().unwrap().unwrap();

    let archived =
        cetx_engine::journal::archive_segments(&dir, std::path::Path::new("../archive"), u64::MAX)
            .unwrap();
    assert!(archived.moved.len() >= 2, "{archived:?}");

    let mut read = vec![first];
    read.extend(reader.map(Result::unwrap));
    assert_eq!(read, entries(1..=60));
    let mut followed = vec![followed_first];
    while let Some(entry) = follower.try_next().unwrap() {
        followed.push(entry);
    }
    assert_eq!(followed, entries(1..=60));
}

/// A segment of another journal copied over one of this journal's, under
/// its name, is refused before any of its records is taken for this
/// journal's: by a full read, and at a start from a snapshot after it,
/// which reads only that segment's header and first record (a tester's
/// foreign first segment was served to a resuming broker as its history).
#[test]
fn a_segment_of_another_journal_in_the_place_of_one_of_this_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    write(&ours, 1..=60, small_segments(2_048));
    // Another journal of the same shape: the same entries, a nanosecond
    // later each.
    let writer = JournalWriter::open(&theirs, 1, small_segments(2_048)).unwrap();
    for e in entries(1..=60) {
        let stamp = cetx_engine::Stamp {
            time_ns: e.stamp.time_ns + 1,
            ..e.stamp
        };
        writer
            .append_blocking(stamp, &e.command, &e.events)
            .unwrap();
    }
    writer.close().unwrap();
    let (mine, other) = (segments(&ours), segments(&theirs));
    let names = |files: &[std::path::PathBuf]| -> Vec<_> {
        files
            .iter()
            .map(|f| f.file_name().unwrap().to_owned())
            .collect()
    };
    assert!(mine.len() >= 3 && names(&mine) == names(&other), "{mine:?}");
    std::fs::copy(&other[0], &mine[0]).unwrap();
    let refused = |error: &JournalError| {
        assert!(
            matches!(error, JournalError::Corrupt { file, seq: 1, reason, .. }
                if *file == mine[0] && reason.contains("not the one the MANIFEST lists")),
            "{error}"
        );
    };
    refused(&verify(&ours).unwrap_err());
    cetx_engine::journal::write_snapshot(&ours, 60, &empty_state()).unwrap();
    match cetx_engine::journal::recover(&ours) {
        Err(cetx_engine::journal::RecoverError::Journal(error)) => refused(&error),
        other => panic!(
            "recovered from a journal with another's segment: {:?}",
            other.err()
        ),
    }
    // Its own segment back, both read.
    write(&tmp.path().join("again"), 1..=60, small_segments(2_048));
    std::fs::copy(&segments(&tmp.path().join("again"))[0], &mine[0]).unwrap();
    verify(&ours).unwrap();
    cetx_engine::journal::recover(&ours).unwrap();
}

/// A server started on links to a running server's segments, from a data
/// directory of its own (whose lock it holds), is refused at its
/// recovery: the running writer holds a lock on the segment it writes (a
/// tester's second server wrote on, and its journal could not be settled).
#[test]
fn a_journal_on_links_to_segments_being_written_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (live, linked) = (tmp.path().join("live"), tmp.path().join("linked"));
    let writer = JournalWriter::open(&live, 1, JournalConfig::default()).unwrap();
    for e in entries(1..=5) {
        writer
            .append_blocking(e.stamp, &e.command, &e.events)
            .unwrap();
    }
    assert!(writer
        .wait_durable(5, std::time::Duration::from_secs(30))
        .unwrap());
    std::fs::create_dir(&linked).unwrap();
    for segment in segments(&live) {
        std::os::unix::fs::symlink(&segment, linked.join(segment.file_name().unwrap())).unwrap();
    }
    std::fs::copy(live.join(MANIFEST_FILE), linked.join(MANIFEST_FILE)).unwrap();
    match cetx_engine::journal::recover(&linked) {
        Err(cetx_engine::journal::RecoverError::Journal(JournalError::SegmentInUse { file })) => {
            assert_eq!(file, linked.join(segment_file_name(1)));
        }
        other => panic!("recovered beside a live writer: {:?}", other.err()),
    }
    // A writer that has written nothing since it opened holds the last
    // segment too (a tester's second server started beside one so).
    writer.close().unwrap();
    std::fs::copy(live.join(MANIFEST_FILE), linked.join(MANIFEST_FILE)).unwrap();
    let reopened = JournalWriter::open(&live, 6, JournalConfig::default()).unwrap();
    assert!(matches!(
        cetx_engine::journal::recover(&linked),
        Err(cetx_engine::journal::RecoverError::Journal(
            JournalError::SegmentInUse { .. }
        ))
    ));
    // Once the writer has let go, the links are a journal like any other.
    reopened.close().unwrap();
    assert_eq!(verify(&linked).unwrap().last_seq, Some(5));
    // (These test entries do not replay onto an engine: only the lock is
    // in question here.)
    assert!(!matches!(
        cetx_engine::journal::recover(&linked),
        Err(cetx_engine::journal::RecoverError::Journal(
            JournalError::SegmentInUse { .. }
        ))
    ));
}

/// Starting a segment appends one block to the `MANIFEST` (its lines and
/// its checksum line), never rewrites it, so that its cost does not grow
/// with the segments the journal has had; an appended block cut short or
/// not checking out (a crash while it was written) is not read, so damage
/// there is found by the segments it listed; damage in the block written
/// whole is the manifest's; the clean stop writes it whole again
/// (JOURNAL.md, *Manifest*).
#[test]
fn starting_a_segment_appends_a_block_to_the_manifest() {
    use cetx_engine::journal::Manifest;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let writer = JournalWriter::open(dir, 1, small_segments(2048)).unwrap();
    let path = dir.join(MANIFEST_FILE);
    let mut before = String::new();
    let mut grew = 0;
    for e in entries(1..=100) {
        writer
            .append_blocking(e.stamp, &e.command, &e.events)
            .unwrap();
        assert!(writer.wait_durable(e.stamp.seq, PATIENCE).unwrap());
        let now = std::fs::read_to_string(&path).unwrap();
        if now != before {
            assert!(
                now.starts_with(&before),
                "rewritten:\n{before}\nthen\n{now}"
            );
            grew += 1;
            before = now;
        }
    }
    let files = segments(dir);
    assert!(files.len() > 3, "{files:?}");
    assert_eq!(grew, files.len(), "one write a segment");
    assert_eq!(before.matches("crc32c ").count(), files.len());
    // Every segment listed, each but the newest with its first record.
    let live = Manifest::read(dir).unwrap().unwrap();
    assert_eq!(live.segments.len(), files.len());
    assert!(live.segments[..files.len() - 1]
        .iter()
        .all(|s| s.first_crc.is_some()));
    assert_eq!(live.closed, None);

    // The rest of the test reads the manifest as a killed writer left it.
    writer.close().unwrap();
    let closed = std::fs::read_to_string(&path).unwrap();
    assert_eq!(closed.matches("crc32c ").count(), 1, "{closed}");
    assert_eq!(Manifest::read(dir).unwrap().unwrap().closed, Some(100));
    std::fs::write(&path, &before).unwrap();
    assert_eq!(verify(dir).unwrap().last_seq, Some(100));

    // An appended block cut short anywhere, or whose checksum does not
    // match (a power cut may leave any part of it unwritten), is not read.
    let mut block = format!("segment {:020}\n", 1_000);
    let crc = crc32c::crc32c_append(crc32c::crc32c(before.as_bytes()), block.as_bytes());
    block.push_str(&format!("crc32c {crc:08x}\n"));
    let wrong = block.replace(&format!("{crc:08x}"), &format!("{:08x}", crc ^ 1));
    let zeroed = format!("{}{}", "\0".repeat(10), &block[10..]);
    let cuts = [1, 10, block.len() - 16, block.len() - 5].map(|cut| &block[..cut]);
    let block_line = before.lines().count() + 1;
    for tail in cuts.into_iter().chain([wrong.as_str(), zeroed.as_str()]) {
        std::fs::write(&path, format!("{before}{tail}")).unwrap();
        let read = Manifest::read(dir).unwrap().unwrap();
        assert_eq!(read.unread_from_line, Some(block_line), "{tail:?}");
        let read = Manifest {
            unread_from_line: None,
            ..read
        };
        assert_eq!(read, live, "{tail:?}");
    }
    // Whole, or only its last `\n` missing, it is read.
    for end in [block.len(), block.len() - 1] {
        std::fs::write(&path, format!("{before}{}", &block[..end])).unwrap();
        let whole = Manifest::read(dir).unwrap().unwrap();
        assert_eq!(whole.segments.last().unwrap().first_seq, 1_000);
    }
    // So damage in an appended block leaves the segments it listed (and
    // every later one) unlisted: refused, as they hold records.
    let last_block = before[..before.len() - 1].rfind("crc32c ").unwrap();
    let second_block = before.find("crc32c ").unwrap() + 20;
    for at in [second_block, last_block - 5] {
        let mut flipped = before.clone().into_bytes();
        flipped[at] ^= 0x01;
        std::fs::write(&path, &flipped).unwrap();
        let err = verify(dir).unwrap_err();
        // Named as the segment's, and as the MANIFEST's lines not read
        // (an outside tester restored the segment, to no avail).
        assert!(
            matches!(&err, JournalError::Corrupt { reason, .. } if reason.contains("not listed")
                && reason.contains("the MANIFEST's lines from line")
                && reason.contains("a copy of it holding those lines")),
            "{err}"
        );
    }
    // In the block written whole, it is damage.
    let mut flipped = before.clone().into_bytes();
    flipped[before.find("segment").unwrap() + 30] ^= 0x01;
    std::fs::write(&path, &flipped).unwrap();
    let err = Manifest::read(dir).unwrap_err();
    assert!(matches!(err, JournalError::BadManifest { .. }), "{err}");

    // JOURNAL.md's example reads as it says.
    let example = "cetx-journal-manifest 3
segment 00000000000000000001 first ac724e51
segment 00000000000000041873
crc32c dd119481
first 00000000000000041873 5d0e44a1
segment 00000000000000083746
crc32c 83a65872
";
    std::fs::write(&path, example).unwrap();
    let listed = Manifest::read(dir).unwrap().unwrap().segments;
    let firsts: Vec<_> = listed.iter().map(|s| (s.first_seq, s.first_crc)).collect();
    assert_eq!(
        firsts,
        [
            (1, Some(0xac72_4e51)),
            (41_873, Some(0x5d0e_44a1)),
            (83_746, None)
        ]
    );

    std::fs::write(&path, &before).unwrap();
    assert_eq!(read_all(dir), entries(1..=100));
}

/// A version 2 manifest (one block, as builds before 2026-12-07 wrote it)
/// reads as before, and the next writer writes it whole as version 3.
#[test]
fn a_version_2_manifest_is_read_and_written_again_as_version_3() {
    use cetx_engine::journal::Manifest;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, 1..=40, small_segments(2048));
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let body = text[..text.rfind("crc32c ").unwrap()].replacen(
        "cetx-journal-manifest 3",
        "cetx-journal-manifest 2",
        1,
    );
    let crc = crc32c::crc32c(body.as_bytes());
    std::fs::write(&path, format!("{body}crc32c {crc:08x}\n")).unwrap();
    let old = Manifest::read(dir).unwrap().unwrap();
    assert_eq!(old.closed, Some(40));
    verify(dir).unwrap();
    // Blank lines and spaces after its checksum line are not (a version 2
    // file was read with its end trimmed: a hand-edited one may have
    // them), but other lines after it are damage in version 2, and so is
    // a checksum line cut short (not taken for another value).
    for end in ["\n\n", "  \n", " \n \n\n", ""] {
        std::fs::write(&path, format!("{body}crc32c {crc:08x}{end}")).unwrap();
        assert_eq!(Manifest::read(dir).unwrap().unwrap(), old, "{end:?}");
    }
    std::fs::write(&path, format!("{body}crc32c {crc:08x}\nsegment 9")).unwrap();
    let err = Manifest::read(dir).unwrap_err();
    assert!(matches!(err, JournalError::BadManifest { .. }), "{err}");
    let cut = format!("{crc:08x}");
    std::fs::write(&path, format!("{body}crc32c {}", &cut[..5])).unwrap();
    let err = Manifest::read(dir).unwrap_err().to_string();
    assert!(err.contains("does not end in its checksum line"), "{err}");
    std::fs::write(&path, format!("{body}crc32c {crc:08x}\n")).unwrap();

    write(dir, 41..=80, small_segments(2048));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("cetx-journal-manifest 3\n"), "{text}");
    let new = Manifest::read(dir).unwrap().unwrap();
    assert_eq!(new.segments[..old.segments.len()], old.segments[..]);
    assert_eq!(new.closed, Some(80));
    assert_eq!(read_all(dir), entries(1..=80));
}

/// A crash while the writer appended the block of a segment it had just
/// started, before any record went into it (JOURNAL.md, the damage table:
/// a later block of a version 3 `MANIFEST`): the block is cut short, so
/// the segment is unlisted and holds no record; the journal reads to its
/// last record, and the next writer takes the segment's place.
#[test]
fn a_segment_whose_block_was_cut_short_is_taken_over_by_the_next_writer() {
    use cetx_engine::journal::format::SegmentHeader;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, 1..=50, small_segments(2048));
    as_if_killed(dir);
    let started = dir.join(segment_file_name(51));
    std::fs::write(&started, SegmentHeader { first_seq: 51 }.encode()).unwrap();
    let path = dir.join(MANIFEST_FILE);
    let manifest = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{manifest}segment {:020}\ncrc32c 1f", 51)).unwrap();
    assert_eq!(verify(dir).unwrap().last_seq, Some(50));

    write(dir, 51..=80, small_segments(2048));
    assert!(records(&started).first().is_some_and(|r| r.1 == 51));
    assert_eq!(read_all(dir), entries(1..=80));
}

/// A segment file holding only its header, which a recovery passed (it
/// cut a torn last record off below the file's name, after an OS crash
/// in `os` durability): readers skip it wherever it lies, and the next
/// writer removes it, so that segments listed after it do not make it a
/// hole in the journal (tester 114).
#[test]
fn an_empty_segment_a_recovery_passed_is_skipped_and_removed() {
    use cetx_engine::journal::format::SegmentHeader;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, 1..=50, small_segments(2048));
    as_if_killed(dir);
    let left = dir.join(segment_file_name(57));
    std::fs::write(&left, SegmentHeader { first_seq: 57 }.encode()).unwrap();
    // Between listed segments too, as a journal left so by a build before.
    let between = dir.join(segment_file_name(3));
    std::fs::write(&between, SegmentHeader { first_seq: 3 }.encode()).unwrap();
    assert_eq!(verify(dir).unwrap().last_seq, Some(50));

    write(dir, 51..=150, small_segments(2048));
    assert!(!between.exists());
    assert!(!left.exists() || records(&left).first().is_some_and(|r| r.1 == 57));
    assert_eq!(read_all(dir), entries(1..=150));
    assert_eq!(verify(dir).unwrap().entries, 150);
}
