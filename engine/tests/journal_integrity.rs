//! Torn means torn: no record that a whole record follows is ever cut.
//!
//! Every bit of the last five records of a segment that has records after
//! them is flipped, one at a time, in growing and in preallocated segments,
//! and in the last segment as well as in a middle one: each flip must be
//! refused as corruption, never read as a shorter journal. Only the very
//! last record of a journal, which nothing follows, may be taken for a torn
//! write (JOURNAL.md says why), and only when its writer did not stop
//! cleanly. A hole of zeros is torn only inside the last group commit,
//! which was never synced. And a journal closed cleanly must end at the
//! number its manifest says: zeros or a cut where its last records were
//! are damage.

mod journal_support;

use std::os::unix::fs::FileExt;
use std::path::Path;

use cetx_engine::journal::format::HEADER_LEN;
use cetx_engine::journal::{
    verify, JournalBatch, JournalConfig, JournalError, JournalReader, JournalWriter, Manifest,
    MANIFEST_FILE,
};
use journal_support::{as_if_killed, entries, entry, record_spans, segments, write};

/// Flips bit `bit` of byte `at` of `file`, in place.
fn flip(file: &std::fs::File, at: u64, bit: u8) {
    let mut byte = [0];
    file.read_exact_at(&mut byte, at).unwrap();
    byte[0] ^= 1 << bit;
    file.write_all_at(&byte, at).unwrap();
}

/// A journal in segments of 4 KiB, preallocated or growing, of 80 or a
/// few more entries: enough that its last segment holds at least six.
/// Returns its last sequence number.
fn journal(dir: &Path, preallocate: bool) -> u64 {
    let config = JournalConfig {
        segment_bytes: 4096,
        preallocate,
        ..JournalConfig::default()
    };
    for last in 80..120 {
        write(dir, 1..=last, config);
        if record_spans(segments(dir).last().unwrap()).len() >= 6 {
            return last;
        }
        for file in std::fs::read_dir(dir).unwrap() {
            std::fs::remove_file(file.unwrap().path()).unwrap();
        }
    }
    panic!("no journal of 80 to 120 entries ends in a segment of six records");
}

/// Flips every bit of each record in `spans` of `file`, one at a time, and
/// checks that `check` holds for what the reader says of each.
fn flip_every_bit(
    dir: &Path,
    file: &Path,
    spans: &[(u64, u64, u64)],
    check: impl Fn(u64, &JournalError),
) -> usize {
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .unwrap();
    let mut flips = 0;
    for &(offset, seq, len) in spans {
        for at in offset..offset + len {
            for bit in 0..8 {
                flip(&handle, at, bit);
                // The reader returns every record before the damaged one,
                // then says what is wrong.
                let mut read = 0;
                let mut error = None;
                for entry in JournalReader::open(dir).unwrap() {
                    match entry {
                        Ok(_) => read += 1,
                        Err(e) => error = Some(e),
                    }
                }
                let err = error.expect("a flipped bit must be found");
                check(seq, &err);
                assert_eq!(read, seq - 1, "byte {at} bit {bit}: {err}");
                flip(&handle, at, bit);
                flips += 1;
            }
        }
    }
    verify(dir).unwrap();
    flips
}

fn corrupt_at<'a>(
    file: &'a Path,
    offset_of: impl Fn(u64) -> u64 + 'a,
) -> impl Fn(u64, &JournalError) + 'a {
    move |seq, err| match err {
        JournalError::Corrupt {
            file: f,
            offset,
            seq: s,
            ..
        } => assert_eq!(
            (f.as_path(), *offset, *s),
            (file, offset_of(seq), seq),
            "{err}"
        ),
        other => panic!("seq {seq}: expected corruption, got {other}"),
    }
}

#[test]
fn a_flipped_bit_in_any_record_that_another_follows_is_corruption_never_a_torn_tail() {
    for preallocate in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        journal(dir, preallocate);
        let files = segments(dir);
        assert!(files.len() >= 3, "{} segments", files.len());

        // The last segment: its records but the very last.
        let last = files.last().unwrap();
        let spans = record_spans(last);
        assert!(
            spans.len() >= 6,
            "{} records in the last segment",
            spans.len()
        );
        let chosen = &spans[spans.len() - 6..spans.len() - 1];
        let offset_of = |seq: u64| chosen.iter().find(|s| s.1 == seq).unwrap().0;
        let flips = flip_every_bit(dir, last, chosen, corrupt_at(last, offset_of));
        assert!(flips > 5 * 8 * 25, "{flips}");

        // A middle segment's last five records: the next segment follows.
        let middle = &files[files.len() / 2];
        let spans = record_spans(middle);
        let chosen = &spans[spans.len().saturating_sub(5)..];
        let offset_of = |seq: u64| chosen.iter().find(|s| s.1 == seq).unwrap().0;
        flip_every_bit(dir, middle, chosen, corrupt_at(middle, offset_of));
    }
}

#[test]
fn only_the_very_last_record_can_be_taken_for_a_torn_write() {
    for preallocate in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let last_seq = journal(dir, preallocate);
        let last = segments(dir).pop().unwrap();
        let spans = record_spans(&last);
        let (offset, seq, _) = *spans.last().unwrap();
        assert_eq!(seq, last_seq);
        // The writer stopped cleanly: nothing was being written, so even
        // the last record is protected.
        flip_every_bit(dir, &last, &spans[spans.len() - 1..], |s, err| {
            assert!(
                matches!(err, JournalError::Corrupt { file, offset: o, seq, reason } if *file == last && *o == offset && *seq == last_seq && reason.contains("closed cleanly")),
                "seq {s}: {err}"
            );
        });
        // Killed: a write may have been cut short there.
        as_if_killed(dir);
        flip_every_bit(dir, &last, &spans[spans.len() - 1..], |s, err| {
            assert!(
                matches!(err, JournalError::TornTail { file, offset: o, seq } if *file == last && *o == offset && *seq == last_seq),
                "seq {s}: {err}"
            );
        });
    }
}

/// Writes 1..=60 in a preallocated segment as three group commits of 20.
fn three_commits(dir: &Path) {
    let writer = JournalWriter::open(dir, 1, JournalConfig::default()).unwrap();
    for first in [1, 21, 41] {
        let mut batch = JournalBatch::default();
        for e in entries(first..=first + 19) {
            writer
                .append_to(&mut batch, e.stamp, &e.command, &e.events)
                .unwrap();
        }
        writer.commit_batch(&mut batch).unwrap();
        assert!(writer
            .wait_durable(first + 19, journal_support::PATIENCE)
            .unwrap());
    }
    writer.close().unwrap();
}

/// Zeros `len` bytes of `path` from `at`, as a page that never reached the
/// disk.
fn zero(path: &Path, at: u64, len: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at as usize..(at + len) as usize].fill(0);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_hole_is_torn_only_inside_the_last_group_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    three_commits(dir);
    as_if_killed(dir);
    let file = segments(dir).pop().unwrap();
    let spans = record_spans(&file);
    let saved = std::fs::read(&file).unwrap();
    // A power loss during the last commit: records 45 and 46 never reached
    // the disk, later ones of the same commit did. Never acknowledged.
    let (at, seq, _) = spans[44];
    assert_eq!(seq, 45);
    let hole = spans[46].0 - at;
    zero(&file, at, hole);
    let err = verify(dir).unwrap_err();
    assert!(
        matches!(err, JournalError::TornTail { offset, seq: 45, .. } if offset == at),
        "{err}"
    );
    // The same hole in the second commit, which the third followed: it was
    // synced and acknowledged, so this is damage.
    std::fs::write(&file, &saved).unwrap();
    let (at, seq, _) = spans[24];
    assert_eq!(seq, 25);
    zero(&file, at, spans[26].0 - at);
    let err = verify(dir).unwrap_err();
    assert!(
        matches!(&err, JournalError::Corrupt { offset, seq: 25, reason, .. } if *offset == at && reason.contains("seq 27")),
        "{err}"
    );
}

fn closed(dir: &Path) -> Option<u64> {
    Manifest::read(dir).unwrap().unwrap().closed
}

#[test]
fn a_clean_stop_is_in_the_manifest_until_the_next_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, 1..=10, JournalConfig::default());
    assert_eq!(closed(dir), Some(10));
    let writer = JournalWriter::open(dir, 11, JournalConfig::default()).unwrap();
    // Open, but nothing written yet: the journal still ends at 10.
    assert_eq!(closed(dir), Some(10));
    let e = entry(11);
    writer
        .append_blocking(e.stamp, &e.command, &e.events)
        .unwrap();
    assert!(writer.wait_durable(11, journal_support::PATIENCE).unwrap());
    assert_eq!(closed(dir), None);
    writer.close().unwrap();
    assert_eq!(closed(dir), Some(11));
    assert_eq!(verify(dir).unwrap().last_seq, Some(11));
}

#[test]
fn records_missing_from_the_end_of_a_cleanly_closed_journal_are_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let last_seq = journal(dir, true);
    let last = segments(dir).pop().unwrap();
    let spans = record_spans(&last);
    let n = spans.len();
    let (saved, manifest) = (
        std::fs::read(&last).unwrap(),
        std::fs::read(dir.join(MANIFEST_FILE)).unwrap(),
    );
    let (three_from_end, seq_of_third) = (spans[n - 3].0, spans[n - 3].1);
    let end = spans[n - 1].0 + spans[n - 1].2;
    // What was done, where the records now stop, and the first missing seq.
    let cases: [(&str, u64, u64); 3] = [
        (
            "the last three records zeroed",
            three_from_end,
            seq_of_third,
        ),
        (
            "the file cut before the last three",
            three_from_end,
            seq_of_third,
        ),
        (
            "every record of the last segment zeroed",
            HEADER_LEN as u64,
            spans[0].1,
        ),
    ];
    for (what, at, missing) in cases {
        std::fs::write(&last, &saved).unwrap();
        std::fs::write(dir.join(MANIFEST_FILE), &manifest).unwrap();
        if what.contains("cut") {
            let file = std::fs::OpenOptions::new().write(true).open(&last).unwrap();
            file.set_len(at).unwrap();
        } else {
            zero(&last, at, end - at);
        }
        let err = verify(dir).unwrap_err();
        assert!(
            matches!(&err, JournalError::Corrupt { file, offset, seq, reason }
                if *file == last && *offset == at && *seq == missing
                    && reason.contains(&format!("closed cleanly after seq {last_seq}"))),
            "{what}: {err}"
        );
        // A writer refuses to go on from it.
        assert!(JournalWriter::open(dir, missing, JournalConfig::default()).is_err());
        // Killed instead, the journal ends where its data ends: no reader
        // can tell such damage from a write cut short.
        as_if_killed(dir);
        assert_eq!(verify(dir).unwrap().last_seq, Some(missing - 1), "{what}");
    }
}

#[test]
fn what_breaks_the_end_of_a_closed_journal_is_named_where_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, 1..=10, JournalConfig::default());
    let last = segments(dir).pop().unwrap();
    let spans = record_spans(&last);
    let end = spans[9].0 + spans[9].2;
    // Bytes that are not zeros in the space written ahead, after every
    // record: not a missing record, but nothing may be there.
    let file = std::fs::OpenOptions::new().write(true).open(&last).unwrap();
    file.write_all_at(b"garbage", end + 1_000).unwrap();
    let err = verify(dir).unwrap_err();
    assert!(
        matches!(&err, JournalError::Corrupt { offset, seq: 11, reason, .. }
            if *offset == end && reason.contains("what follows its last record is not zeros")),
        "{err}"
    );
    file.write_all_at(&[0; 7], end + 1_000).unwrap();
    verify(dir).unwrap();
    // A manifest that says the journal ended earlier than it does: the
    // first record after that is named.
    let mut manifest = Manifest::read(dir).unwrap().unwrap();
    manifest.closed = Some(5);
    manifest.write(dir).unwrap();
    let err = verify(dir).unwrap_err();
    assert!(
        matches!(&err, JournalError::Corrupt { offset, seq: 6, reason, .. }
            if *offset == spans[5].0 && reason.contains("this record follows it")),
        "{err}"
    );
}
