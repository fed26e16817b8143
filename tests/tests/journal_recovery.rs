//! Recovery from real journal files.
//!
//! - Recovering from the journal gives the live engine's state exactly, and
//!   running the journal's commands again gives exactly its events.
//! - Recovering from a snapshot plus the journal after it equals recovering
//!   from the whole journal.
//! - The same commands give a byte-identical journal.
//! - Cutting the last record at every byte offset recovers to the record
//!   before it, and keeps the cut bytes.
//! - A flipped byte inside a middle record refuses to start, naming the
//!   file, the offset and the sequence number.
//! - A journal whose writer stopped cleanly must end where its manifest
//!   says: records zeroed at its end refuse to start.
//! - The segments before the snapshot recovery starts from must be there,
//!   each with a good header.
//! - A snapshot ahead of the end of a journal written in `fsync` refuses
//!   to start: the journal lost entries that had been synced.
//! - The end of a journal is judged by the durability it says it was
//!   written in, not by the restarting server's.
//! - A snapshot of another history is skipped, also at the journal's very
//!   end, where no entry after it would tell.

use std::fs;
use std::path::{Path, PathBuf};

use cetx_engine::journal::durable_mark;
use cetx_engine::journal::format::{encode_entry_record, list_segments, HEADER_LEN};
use cetx_engine::journal::snapshot::SNAPSHOT_MAGIC;
use cetx_engine::journal::{
    encode_state, read_snapshot_tie, recover, recover_with, snapshot_file_name, verify,
    write_framed, Durability, JournalConfig, JournalError, JournalReader, JournalWriter,
    RecoverError, RecoveryObserver, DURABILITY_FILE, DURABLE_FILE, MANIFEST_FILE,
};
use cetx_engine::{Command, Engine, Event, Stamp};
use cetx_tests::{acknowledged_through, as_if_killed, config, journal_run, reexecute, workload};

fn journal(durability: Durability) -> JournalConfig {
    JournalConfig {
        segment_bytes: 128 << 10,
        durability,
        ..JournalConfig::default()
    }
}

/// Every file in a journal directory with its bytes, by name.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn recovery_rebuilds_the_live_state_and_the_journal_is_deterministic() {
    let commands = workload(7, 6_000, 2_500);
    let first = tempfile::tempdir().unwrap();
    let live = journal_run(first.path(), &commands, journal(Durability::Fsync), None);
    let report = verify(first.path()).unwrap();
    assert_eq!(report.last_seq, Some(commands.len() as u64));
    assert!(report.segments > 1, "the test should cross segment rolls");

    let recovered = recover(first.path()).unwrap();
    assert_eq!(recovered.next_seq, commands.len() as u64 + 1);
    assert_eq!(recovered.replayed, commands.len() as u64);
    recovered.engine.check_invariants();
    assert_eq!(
        recovered.engine.state(),
        live.state(),
        "recovery differs from the live engine"
    );
    assert_eq!(reexecute(first.path()).state(), live.state());
    assert!(live.state().instruments[0].bids.len() + live.state().instruments[0].asks.len() > 100);

    // The same commands again, in `os` mode this time: the same entries
    // (the bytes differ only where group commits fell: `commit_index`).
    let second = tempfile::tempdir().unwrap();
    journal_run(second.path(), &commands, journal(Durability::Os), None);
    let entries = |dir: &Path| -> Vec<_> {
        JournalReader::open(dir)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(entries(first.path()), entries(second.path()));
}

#[test]
fn a_snapshot_plus_the_rest_equals_the_whole_journal() {
    let commands = workload(11, 5_000, 1_800);
    let dir = tempfile::tempdir().unwrap();
    let live = journal_run(dir.path(), &commands, journal(Durability::Os), Some(1_500));
    let snapshots: Vec<_> = cetx_engine::journal::list_snapshots(dir.path()).unwrap();
    assert!(snapshots.len() >= 3);

    let from_snapshot = recover(dir.path()).unwrap();
    assert_eq!(from_snapshot.snapshot_seq, Some(snapshots[0].0));
    assert!(from_snapshot.replayed < commands.len() as u64 - snapshots[0].0 + 1);

    let whole = tempfile::tempdir().unwrap();
    for (name, bytes) in files(dir.path()) {
        if name.starts_with("journal-") || name == MANIFEST_FILE {
            fs::write(whole.path().join(name), bytes).unwrap();
        }
    }
    let from_journal = recover(whole.path()).unwrap();
    assert_eq!(from_journal.snapshot_seq, None);
    assert_eq!(from_snapshot.engine.state(), from_journal.engine.state());
    assert_eq!(from_snapshot.engine.state(), live.state());

    // A damaged newest snapshot is skipped, not trusted.
    let newest = &snapshots[0].1;
    let mut bytes = fs::read(newest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    fs::write(newest, bytes).unwrap();
    let skipping = recover(dir.path()).unwrap();
    assert_eq!(skipping.snapshot_seq, Some(snapshots[1].0));
    assert_eq!(skipping.skipped_snapshots.len(), 1);
    assert_eq!(skipping.engine.state(), live.state());

    // An older snapshot under the newest one's name is skipped, said why,
    // not used under the seq its header holds.
    fs::copy(&snapshots[2].1, newest).unwrap();
    let renamed = recover(dir.path()).unwrap();
    assert_eq!(renamed.snapshot_seq, Some(snapshots[1].0));
    let (path, why) = &renamed.skipped_snapshots[0];
    assert_eq!(path, newest);
    assert!(why.contains("is named for seq"), "{why}");
    assert_eq!(renamed.engine.state(), live.state());
}

/// What is rebuilt beside the engine, whose own state at one snapshot does
/// not read (as the gateway's, damaged).
struct UnreadableAt(u64);

impl RecoveryObserver for UnreadableAt {
    fn start_after(&mut self, snapshot_seq: Option<u64>) -> Result<(), String> {
        match snapshot_seq {
            Some(seq) if seq == self.0 => Err("gateway-….snap: payload CRC mismatch".into()),
            _ => Ok(()),
        }
    }

    fn entry(&mut self, _: &Engine, _: Stamp, _: &Command, _: &[Event]) {}
}

/// An engine snapshot whose gateway state does not read is skipped, and
/// the reason given is the gateway state's own (not that it has none).
#[test]
fn a_snapshot_whose_gateway_state_does_not_read_is_skipped_for_that_reason() {
    let dir = tempfile::tempdir().unwrap();
    let live = journal_run(
        dir.path(),
        &workload(11, 3_000, 1_800),
        journal(Durability::Os),
        Some(1_000),
    );
    let snapshots = cetx_engine::journal::list_snapshots(dir.path()).unwrap();
    let (newest_seq, newest) = &snapshots[0];
    let mut observer = UnreadableAt(*newest_seq);
    let recovered = recover_with(dir.path(), Durability::Os, &mut observer).unwrap();
    assert_eq!(recovered.snapshot_seq, Some(snapshots[1].0));
    assert_eq!(recovered.engine.state(), live.state());
    let (skipped, why) = &recovered.skipped_snapshots[0];
    assert_eq!(skipped, newest);
    assert_eq!(
        why,
        "the gateway's own state at this snapshot: gateway-….snap: payload CRC mismatch"
    );
}

/// A snapshot of another history (copied in from another data directory)
/// is skipped, and recovery goes on from an older one: the journal, which
/// checks out, is not blamed for it. One of version 7 is found by its
/// record's checksum; one of an older version, which has none, because the
/// entries after it do not replay onto it.
#[test]
fn a_snapshot_of_another_history_is_skipped_not_blamed_on_the_journal() {
    let ours = tempfile::tempdir().unwrap();
    let live = journal_run(
        ours.path(),
        &workload(11, 3_000, 1_800),
        journal(Durability::Os),
        Some(1_000),
    );
    let theirs = tempfile::tempdir().unwrap();
    journal_run(
        theirs.path(),
        &workload(12, 3_000, 1_800),
        journal(Durability::Os),
        Some(1_000),
    );
    let snapshots = cetx_engine::journal::list_snapshots(ours.path()).unwrap();
    let (seq, newest) = &snapshots[0];
    let name = newest.file_name().unwrap();
    fs::copy(theirs.path().join(name), newest).unwrap();

    let recovered = recover(ours.path()).unwrap();
    assert_eq!(recovered.snapshot_seq, Some(snapshots[1].0));
    assert_eq!(recovered.engine.state(), live.state());
    let (skipped, why) = &recovered.skipped_snapshots[0];
    assert_eq!(skipped, newest);
    assert!(why.contains("a snapshot of another history"), "{why}");
    assert!(*seq > snapshots[1].0);

    // The same snapshot as version 6 wrote it: no record's checksum, and
    // no last trade price (each written here as a mark to cut out).
    let (_, _, mut state) = read_snapshot_tie(newest).unwrap();
    let marks: Vec<[u8; 8]> = (0..state.instruments.len())
        .map(|i| (0x5A5A_5A5A_0000_0000 + i as i64).to_le_bytes())
        .collect();
    for (instrument, mark) in state.instruments.iter_mut().zip(&marks) {
        instrument.today.last_ticks = i64::from_le_bytes(*mark);
    }
    let mut payload = Vec::new();
    encode_state(&state, &mut payload);
    for mark in &marks {
        let at = payload.windows(8).position(|w| w == mark).unwrap();
        payload.drain(at..at + 8);
    }
    write_framed(newest, SNAPSHOT_MAGIC, 6, *seq, &payload).unwrap();
    let recovered = recover(ours.path()).unwrap();
    assert_eq!(recovered.snapshot_seq, Some(snapshots[1].0));
    assert_eq!(recovered.engine.state(), live.state());
    let (skipped, why) = &recovered.skipped_snapshots[0];
    assert_eq!(skipped, newest);
    assert!(why.contains("does not replay onto it"), "{why}");
    // Said as the snapshot's fault: the journal's records check out (an
    // outside tester read "journal corrupt in …" and looked for damage).
    assert!(why.contains("a snapshot of another history"), "{why}");
    assert!(!why.contains("journal corrupt"), "{why}");
}

/// A snapshot of another history whose sequence number is exactly the
/// journal's last is skipped too: no entry follows it to tell, but the
/// journal's record at that number is not the one it was taken after. So
/// recovery is the journal's own, and the entries written after it replay
/// (by state, and by running their commands again) from the journal alone.
#[test]
fn a_snapshot_of_another_history_at_the_journals_last_seq_is_skipped() {
    let ours_all = workload(11, 3_200, 1_800);
    let theirs_all = workload(12, 3_000, 1_800);
    let last = theirs_all.len();
    assert!(ours_all.len() > last + 100);
    let ours = tempfile::tempdir().unwrap();
    journal_run(
        ours.path(),
        &ours_all[..last],
        journal(Durability::Os),
        Some(1_000),
    );
    let theirs = tempfile::tempdir().unwrap();
    journal_run(
        theirs.path(),
        &theirs_all,
        journal(Durability::Os),
        Some(last as u64),
    );
    // The premise: the two journals' entries at `last` differ.
    let entry_at = |dir: &Path| {
        JournalReader::open_from(dir, last as u64)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
    };
    assert_ne!(entry_at(ours.path()), entry_at(theirs.path()));
    let own_older = cetx_engine::journal::list_snapshots(ours.path())
        .unwrap()
        .into_iter()
        .map(|(seq, _)| seq)
        .find(|&seq| seq < last as u64);
    let name = cetx_engine::journal::snapshot::snapshot_file_name(last as u64);
    let foreign = ours.path().join(&name);
    fs::copy(theirs.path().join(&name), &foreign).unwrap();

    let recovered = recover(ours.path()).unwrap();
    assert_eq!(recovered.snapshot_seq, own_older);
    assert_eq!(recovered.next_seq, last as u64 + 1);
    let (skipped, why) = &recovered.skipped_snapshots[0];
    assert_eq!(skipped, &foreign);
    assert!(why.contains("a snapshot of another history"), "{why}");
    let alone = tempfile::tempdir().unwrap();
    for (file, bytes) in files(ours.path()) {
        if file.starts_with("journal-") || file == MANIFEST_FILE {
            fs::write(alone.path().join(file), bytes).unwrap();
        }
    }
    let from_journal = recover(alone.path()).unwrap();
    assert_eq!(from_journal.snapshot_seq, None);
    assert_eq!(recovered.engine.state(), from_journal.engine.state());

    // The entries written after it follow the journal's own history.
    let mut engine = recovered.engine;
    let writer =
        JournalWriter::open(ours.path(), last as u64 + 1, journal(Durability::Os)).unwrap();
    let mut events = Vec::new();
    for (command, stamp) in &ours_all[last..] {
        events.clear();
        engine.apply(command, *stamp, &mut events);
        writer.append_blocking(*stamp, command, &events).unwrap();
    }
    writer.close().unwrap();
    assert_eq!(reexecute(ours.path()).state(), engine.state());
    fs::remove_file(&foreign).unwrap();
    let whole = recover(ours.path()).unwrap();
    assert_eq!(whole.next_seq, ours_all.len() as u64 + 1);
    assert_eq!(whole.engine.state(), engine.state());
}

/// A small journal in one segment (growing, or written ahead), and the
/// state after each prefix of it.
fn small_journal(dir: &Path, preallocate: bool) -> (Vec<u8>, usize, Engine, PathBuf) {
    let all = workload(3, 40, 1_000);
    let journal_config = JournalConfig {
        preallocate,
        ..journal(Durability::Os)
    };
    journal_run(dir, &all, journal_config, None);
    let before_last = {
        let mut engine = Engine::new(&config()).unwrap();
        let mut events = Vec::new();
        for (command, stamp) in &all[..all.len() - 1] {
            engine.apply(command, *stamp, &mut events);
        }
        engine
    };
    let (last_command, last_stamp) = all[all.len() - 1].clone();
    let mut last_events = Vec::new();
    before_last
        .clone()
        .apply(&last_command, last_stamp, &mut last_events);
    let mut record = Vec::new();
    encode_entry_record(last_stamp, &last_command, &last_events, &mut record).unwrap();
    let segments = list_segments(dir).unwrap();
    let last_segment = segments.last().unwrap().1.clone();
    (record, all.len(), before_last, last_segment)
}

#[test]
fn a_torn_last_record_is_cut_at_every_offset_and_kept_aside() {
    let source = tempfile::tempdir().unwrap();
    let (record, count, before_last, last_segment) = small_journal(source.path(), false);
    as_if_killed(source.path());
    let segment_len = fs::metadata(&last_segment).unwrap().len() as usize;
    let record_start = segment_len - record.len();
    let name = last_segment.file_name().unwrap().to_owned();
    let expected = before_last.state();
    // Cut at every byte of the last record: from "only its first byte is
    // on disk" to "all but its last byte". Cut exactly at its start, the
    // journal simply ends one record earlier, with no torn tail.
    for cut in record_start..segment_len {
        let dir = tempfile::tempdir().unwrap();
        for (file, bytes) in files(source.path()) {
            fs::write(dir.path().join(file), bytes).unwrap();
        }
        let segment = dir.path().join(&name);
        let bytes = fs::read(&segment).unwrap();
        fs::write(&segment, &bytes[..cut]).unwrap();

        let recovered = recover(dir.path()).unwrap();
        assert_eq!(recovered.next_seq, count as u64, "cut at {cut}");
        assert_eq!(recovered.engine.state(), expected, "cut at {cut}");
        if cut == record_start {
            assert_eq!(recovered.torn_tail, None);
            continue;
        }
        let torn = recovered.torn_tail.expect("a torn tail was found");
        assert_eq!(torn.offset as usize, record_start);
        assert_eq!(torn.removed_bytes as usize, cut - record_start);
        assert_eq!(
            fs::read(&torn.saved_to).unwrap(),
            without_trailing_zeros(&bytes[record_start..cut])
        );
        // The journal now verifies, and a writer can go on from it.
        assert_eq!(verify(dir.path()).unwrap().last_seq, Some(count as u64 - 1));
    }
}

#[test]
fn a_torn_tail_is_never_cut_through_a_symlink() {
    let source = tempfile::tempdir().unwrap();
    let (record, _, _, last_segment) = small_journal(source.path(), false);
    as_if_killed(source.path());
    let bytes = fs::read(&last_segment).unwrap();
    let torn = &bytes[..bytes.len() - record.len() / 2];
    // The last segment, torn, is elsewhere, and a symlink stands in its
    // place: recovery refuses it, naming it, and leaves its target whole.
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("target.seg");
    fs::write(&target, torn).unwrap();
    fs::remove_file(&last_segment).unwrap();
    std::os::unix::fs::symlink(&target, &last_segment).unwrap();
    match recover(source.path()) {
        Err(RecoverError::Journal(JournalError::Io { path, .. })) => {
            assert_eq!(path, last_segment);
        }
        other => panic!(
            "expected the symlink refused, got {:?}",
            other.map(|r| r.torn_tail)
        ),
    }
    assert_eq!(fs::read(&target).unwrap(), torn, "the target is untouched");
}

/// The most memory this process has held, from `/proc/self/status`.
fn peak_rss_bytes() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib << 10
}

#[test]
fn a_huge_sparse_torn_tail_is_cut_a_chunk_at_a_time() {
    let source = tempfile::tempdir().unwrap();
    let (_, count, before_last, last_segment) = small_journal(source.path(), false);
    as_if_killed(source.path());
    // The last segment grown by a hole of 1 GiB and one byte that is not
    // zero: not a whole record, so a torn tail. Reading it whole used to
    // take 2 GiB of memory (and a sparse file of any size, any amount).
    let end = fs::metadata(&last_segment).unwrap().len();
    const HOLE: u64 = 1 << 30;
    {
        use std::os::unix::fs::FileExt;
        let file = fs::OpenOptions::new()
            .write(true)
            .open(&last_segment)
            .unwrap();
        file.write_all_at(&[0xA5], end + HOLE).unwrap();
    }
    let recovered = recover(source.path()).unwrap();
    assert_eq!(
        recovered.next_seq,
        count as u64 + 1,
        "every whole record kept"
    );
    assert_ne!(recovered.engine.state(), before_last.state());
    let torn = recovered.torn_tail.expect("the hole and the byte are cut");
    assert_eq!((torn.offset, torn.removed_bytes), (end, HOLE + 1));
    assert_eq!(fs::metadata(&last_segment).unwrap().len(), end);
    // The copy keeps the byte at its place, the hole as a hole.
    let saved = fs::metadata(&torn.saved_to).unwrap();
    assert_eq!(saved.len(), HOLE + 1);
    assert!(
        std::os::unix::fs::MetadataExt::blocks(&saved) < 1024,
        "the hole was written out"
    );
    assert!(
        peak_rss_bytes() < 512 << 20,
        "recovery held the tail in memory: peak {} bytes",
        peak_rss_bytes()
    );
}

#[test]
fn a_torn_last_record_in_a_segment_written_ahead_is_cut_at_every_offset() {
    let source = tempfile::tempdir().unwrap();
    let (record, count, before_last, last_segment) = small_journal(source.path(), true);
    as_if_killed(source.path());
    let bytes = fs::read(&last_segment).unwrap();
    // The record as the writer sealed it differs from `record` only in its
    // commit index and header checksum (bytes 13..17 and 21..25).
    let same = |at: usize| {
        bytes[at..at + 13] == record[..13]
            && bytes[at + 17..at + 21] == record[17..21]
            && bytes[at + 25..at + record.len()] == record[25..]
    };
    // The segment may have been grown rather than written ahead (the one
    // written ahead was not ready in time), and then ends with the record.
    let record_start = (0..=bytes.len() - record.len())
        .find(|&at| same(at))
        .expect("the last record is in the segment");
    let record_end = record_start + record.len();
    let name = last_segment.file_name().unwrap().to_owned();
    let expected = before_last.state();
    // Only a prefix of the last record reached the disk; zeros (written
    // ahead) follow it to the end of the file.
    for cut in record_start..record_end {
        let dir = tempfile::tempdir().unwrap();
        for (file, contents) in files(source.path()) {
            fs::write(dir.path().join(file), contents).unwrap();
        }
        let segment = dir.path().join(&name);
        let mut torn_bytes = bytes.clone();
        torn_bytes[cut..record_end].fill(0);
        if torn_bytes == bytes {
            // The record ends in zeros, and all that was cut is zeros.
            continue;
        }
        fs::write(&segment, &torn_bytes).unwrap();

        let recovered = recover(dir.path()).unwrap();
        assert_eq!(recovered.next_seq, count as u64, "cut at {cut}");
        assert_eq!(recovered.engine.state(), expected, "cut at {cut}");
        if torn_bytes[record_start..record_start + 25]
            .iter()
            .all(|&b| b == 0)
        {
            // Nothing of the record's header reached the disk: the journal
            // simply ends one record earlier.
            assert_eq!(recovered.torn_tail, None, "cut at {cut}");
        } else {
            let torn = recovered.torn_tail.expect("a torn tail was found");
            assert_eq!(torn.offset as usize, record_start);
            // Kept up to the last byte that is not zero: not the rest of
            // the segment written ahead.
            assert_eq!(
                fs::read(&torn.saved_to).unwrap(),
                without_trailing_zeros(&torn_bytes[record_start..])
            );
        }
        // The zeros are trimmed, and the journal verifies.
        assert_eq!(fs::metadata(&segment).unwrap().len() as usize, record_start);
        assert_eq!(verify(dir.path()).unwrap().last_seq, Some(count as u64 - 1));
    }
}

#[test]
fn a_flipped_byte_in_a_middle_record_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let commands = workload(5, 3_000, 10_000);
    journal_run(dir.path(), &commands, journal(Durability::Os), None);
    let segments = list_segments(dir.path()).unwrap();
    assert!(segments.len() >= 3);
    let (first_seq, middle) = segments[1].clone();
    let mut bytes = fs::read(&middle).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    fs::write(&middle, bytes).unwrap();

    match recover(dir.path()) {
        Err(RecoverError::Journal(JournalError::Corrupt {
            file, offset, seq, ..
        })) => {
            assert_eq!(file, middle);
            assert!(
                offset <= at as u64,
                "the bad record starts at or before the flip"
            );
            assert!(
                seq >= first_seq && seq < segments[2].0,
                "seq {seq} is in the middle segment"
            );
            let message = RecoverError::Journal(JournalError::Corrupt {
                file: file.clone(),
                offset,
                seq,
                reason: String::new(),
            })
            .to_string();
            assert!(
                message.contains(&*file.to_string_lossy())
                    && message.contains(&format!("offset {offset}"))
            );
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    // Nothing was cut or moved: damage is left for a person to look at.
    assert!(!dir.path().join("torn").exists());
    assert!(JournalReader::open(dir.path()).is_ok());
}

/// Journals `all` in `dir` but its last `own` entries, then those after a
/// reopen (the writer puts them in a segment of their own), each its own
/// group commit, synced before the next, in `durability`; as if the
/// server was then killed. Returns the last segment's first seq and path.
fn then_a_segment_of_their_own(
    dir: &Path,
    all: &[(Command, Stamp)],
    own: usize,
    durability: Durability,
) -> (u64, PathBuf) {
    let (head, tail) = all.split_at(all.len() - own);
    let mut engine = journal_run(dir, head, journal(Durability::Os), None);
    let writer = JournalWriter::open(dir, tail[0].1.seq, journal(durability)).unwrap();
    for (command, stamp) in tail {
        let mut events = Vec::new();
        engine.apply(command, *stamp, &mut events);
        writer.append_blocking(*stamp, command, &events).unwrap();
        assert!(writer
            .wait_durable(stamp.seq, std::time::Duration::from_secs(30))
            .unwrap());
    }
    writer.close().unwrap();
    as_if_killed(dir);
    let (first_seq, segment) = list_segments(dir).unwrap().pop().unwrap();
    assert_eq!(first_seq, tail[0].1.seq);
    (first_seq, segment)
}

#[test]
fn a_listed_segment_without_its_header_refuses_to_start() {
    // One more entry after a reopen: that segment is a header and one
    // record.
    let source = tempfile::tempdir().unwrap();
    let all = workload(9, 30, 1_000);
    let (_, lone) = then_a_segment_of_their_own(source.path(), &all, 1, Durability::Os);

    // The manifest lists a segment only once its header is synced, so no
    // crash leaves a listed one without it: cut inside its header, emptied
    // or zeroed whole, it is damage, and acknowledged entries are not cut
    // off with it.
    let bytes = fs::read(source.path().join(lone.file_name().unwrap())).unwrap();
    let mut damages: Vec<Vec<u8>> = (0..HEADER_LEN).map(|cut| bytes[..cut].to_vec()).collect();
    damages.push(vec![0; bytes.len()]);
    for damaged in damages {
        let dir = tempfile::tempdir().unwrap();
        for (file, content) in files(source.path()) {
            fs::write(dir.path().join(file), content).unwrap();
        }
        let segment = dir.path().join(lone.file_name().unwrap());
        fs::write(&segment, &damaged).unwrap();
        let before = files(dir.path());
        match recover(dir.path()) {
            Err(RecoverError::Journal(JournalError::Corrupt {
                file,
                offset: 0,
                reason,
                ..
            })) => {
                assert_eq!(file, segment);
                assert!(
                    reason.contains("the MANIFEST lists the segment"),
                    "{reason}"
                );
            }
            other => panic!(
                "{} bytes: expected damage, got {:?}",
                damaged.len(),
                other.map(|r| r.torn_tail)
            ),
        }
        assert!(files(dir.path()) == before, "nothing was changed");
    }
}

#[test]
fn records_zeroed_at_the_end_of_a_cleanly_stopped_journal_refuse_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let (record, count, before_last, last_segment) = small_journal(dir.path(), true);
    // Zero the last record where it lies: the segment was written ahead,
    // so the file looks exactly as if it had never been written.
    let mut bytes = fs::read(&last_segment).unwrap();
    let (start, end) = last_record(&bytes);
    assert_eq!(end - start, record.len());
    bytes[start..end].fill(0);
    fs::write(&last_segment, &bytes).unwrap();
    let damaged = files(dir.path());

    match recover(dir.path()) {
        Err(RecoverError::Journal(JournalError::Corrupt {
            file,
            offset,
            seq,
            reason,
        })) => {
            assert_eq!(
                (file, offset, seq),
                (last_segment.clone(), start as u64, count as u64)
            );
            assert!(reason.contains("closed cleanly"), "{reason}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    assert!(files(dir.path()) == damaged, "nothing was cut or trimmed");

    // After a kill the same bytes are a journal that ends one record
    // earlier: recovery says the stop was not clean.
    as_if_killed(dir.path());
    let recovered = recover(dir.path()).unwrap();
    assert!(!recovered.closed_cleanly);
    assert_eq!(recovered.next_seq, count as u64);
    assert_eq!(recovered.engine.state(), before_last.state());

    // A killed journal of one segment with every record zeroed reads as
    // empty, and its stop is told all the same.
    let dir = tempfile::tempdir().unwrap();
    journal_run(
        dir.path(),
        &workload(3, 40, 1_000)[..20],
        journal(Durability::Os),
        None,
    );
    as_if_killed(dir.path());
    let (_, only) = list_segments(dir.path()).unwrap().pop().unwrap();
    let mut bytes = fs::read(&only).unwrap();
    bytes[HEADER_LEN..].fill(0);
    fs::write(&only, &bytes).unwrap();
    let recovered = recover(dir.path()).unwrap();
    assert!(!recovered.closed_cleanly);
    assert_eq!(recovered.next_seq, 1);
}

#[test]
fn a_middle_segment_that_lost_its_end_is_the_one_named() {
    let source = tempfile::tempdir().unwrap();
    journal_run(
        source.path(),
        &workload(5, 3_000, 10_000),
        journal(Durability::Os),
        None,
    );
    let segments = list_segments(source.path()).unwrap();
    assert!(segments.len() >= 3, "{} segments", segments.len());
    let (_, middle) = &segments[1];
    let next_first = segments[2].0;
    let bytes = fs::read(middle).unwrap();
    let (start, end) = last_record(&bytes);
    let lost_seq = next_first - 1;
    // Its last record cut off at a record boundary, or zeroed like the
    // unused end of a segment written ahead: both read as a segment that
    // ends early, and the next one, intact, is not to blame.
    for damage in ["cut", "zeroed"] {
        let dir = tempfile::tempdir().unwrap();
        for (file, content) in files(source.path()) {
            fs::write(dir.path().join(file), content).unwrap();
        }
        let copy = dir.path().join(middle.file_name().unwrap());
        let mut damaged = bytes.clone();
        if damage == "cut" {
            damaged.truncate(start);
        } else {
            damaged[start..end].fill(0);
        }
        fs::write(&copy, &damaged).unwrap();
        for found in [
            recover(dir.path()).map(|_| ()).unwrap_err().to_string(),
            verify(dir.path()).map(|_| ()).unwrap_err().to_string(),
        ] {
            let named = format!(
                "journal corrupt in {} at offset {start} (seq {lost_seq})",
                copy.display()
            );
            assert!(found.contains(&named), "{damage}: {found}");
            assert!(
                found.contains(&format!("seq {lost_seq} is missing from this one's end")),
                "{damage}: {found}"
            );
        }
    }
}

#[test]
fn a_segment_that_runs_past_the_next_one_s_start_is_the_one_named() {
    // Another journal's first segment, larger, put in place of this one's:
    // it starts where its name says but runs past where the next begins.
    let source = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let commands = workload(5, 3_000, 10_000);
    journal_run(source.path(), &commands, journal(Durability::Os), None);
    let larger = JournalConfig {
        segment_bytes: 512 << 10,
        ..journal(Durability::Os)
    };
    journal_run(other.path(), &commands, larger, None);
    let segments = list_segments(source.path()).unwrap();
    assert!(segments.len() >= 3, "{} segments", segments.len());
    let (first, next) = (&segments[0].1, &segments[1]);
    let foreign = fs::read(&list_segments(other.path()).unwrap()[0].1).unwrap();
    fs::write(first, foreign).unwrap();
    for found in [
        recover(source.path()).map(|_| ()).unwrap_err().to_string(),
        verify(source.path()).map(|_| ()).unwrap_err().to_string(),
    ] {
        assert!(
            found.contains(&format!("journal corrupt in {}", first.display())),
            "{found}"
        );
        assert!(
            found.contains(&format!(
                "past the start of the next segment, {}, at seq {}",
                next.1.display(),
                next.0
            )),
            "{found}"
        );
    }
}

/// The writer checks the newest segment from where recovery began to read
/// it: a flipped bit in a record before a snapshot's own, in that segment
/// (the last one, as the end-of-day snapshot of a server stopped cleanly
/// most often is), stops neither recovery nor the writer. (Tester 121:
/// the server recovered, then its writer read the segment from its start
/// to find its last record and refused the start.)
#[test]
fn a_writer_opened_after_recovery_does_not_read_the_records_before_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let commands = workload(5, 3_000, 10_000);
    let one_segment = JournalConfig {
        segment_bytes: 64 << 20,
        ..journal(Durability::Os)
    };
    journal_run(dir.path(), &commands, one_segment, Some(2_500));
    let segments = list_segments(dir.path()).unwrap();
    assert_eq!(segments.len(), 1, "{segments:?}");
    let mut bytes = fs::read(&segments[0].1).unwrap();
    bytes[HEADER_LEN + 40] ^= 0x01;
    fs::write(&segments[0].1, &bytes).unwrap();

    let recovered = recover(dir.path()).unwrap();
    assert!(recovered.snapshot_seq.is_some());
    let read_from = recovered
        .read_from
        .expect("a version 8 snapshot says where");
    assert_eq!(Some(read_from.0), recovered.snapshot_seq);
    // The snapshot's own entry reads where the snapshot says (what the
    // server's pruning asks of the ends of day it keeps), where a read of
    // its segment from the start meets the damage.
    let snapshot_seq = read_from.0;
    let snapshot = dir.path().join(snapshot_file_name(snapshot_seq));
    let mut events = Vec::new();
    let entry =
        cetx_engine::journal::read_snapshot_entry(dir.path(), &snapshot, &mut events).unwrap();
    assert_eq!(entry.map(|stamp| stamp.seq), Some(snapshot_seq));
    assert!(JournalReader::open_from(dir.path(), snapshot_seq)
        .and_then(|mut reader| reader.next_into(&mut events))
        .is_err());
    let ahead = cetx_engine::journal::WriteAhead::start(dir.path(), &one_segment).unwrap();
    let writer = JournalWriter::open_ahead(
        dir.path(),
        recovered.next_seq,
        Some(read_from),
        one_segment,
        (),
        ahead,
    );
    writer.expect("the writer opens").close().unwrap();
    // Told nothing of where recovery read, it reads the whole segment and
    // finds the damage.
    assert!(matches!(
        JournalWriter::open(dir.path(), recovered.next_seq, one_segment),
        Err(JournalError::Corrupt { .. })
    ));
}

#[test]
fn recovery_from_a_snapshot_finds_an_earlier_segment_missing_or_not_a_segment() {
    let source = tempfile::tempdir().unwrap();
    let commands = workload(5, 3_000, 10_000);
    journal_run(
        source.path(),
        &commands,
        journal(Durability::Os),
        Some(2_500),
    );
    let segments = list_segments(source.path()).unwrap();
    let snapshot_seq = cetx_engine::journal::list_snapshots(source.path()).unwrap()[0].0;
    assert!(segments.len() >= 3 && segments[1].0 <= snapshot_seq);
    let name = segments[0].1.file_name().unwrap().to_owned();
    let copy = || {
        let dir = tempfile::tempdir().unwrap();
        for (file, bytes) in files(source.path()) {
            fs::write(dir.path().join(file), bytes).unwrap();
        }
        let first = dir.path().join(&name);
        (dir, first)
    };

    // A flipped bit inside a record there is found by a full read only:
    // recovery does not read the records before its snapshot.
    let (dir, first) = copy();
    let mut bytes = fs::read(&first).unwrap();
    bytes[HEADER_LEN + 40] ^= 0x01;
    fs::write(&first, &bytes).unwrap();
    assert_eq!(
        recover(dir.path()).unwrap().snapshot_seq,
        Some(snapshot_seq)
    );
    assert!(matches!(
        verify(dir.path()),
        Err(JournalError::Corrupt { .. })
    ));

    // A flipped bit in a record before the snapshot, but in the segment
    // that holds the snapshot's next entry: recovery reads that segment
    // from the snapshot's own record, where the snapshot says it starts,
    // so the start goes on to the same state as from the whole journal;
    // a full read finds the damage (JOURNAL.md, *What an operator sees*).
    let (holding_first, holding) = segments
        .iter()
        .rev()
        .find(|(first, _)| *first <= snapshot_seq + 1)
        .unwrap();
    assert!(
        *holding_first < snapshot_seq,
        "the segment holds records before the snapshot"
    );
    let whole = recover(source.path()).unwrap();
    let damage = |dir: &Path| {
        let damaged = dir.join(holding.file_name().unwrap());
        let mut bytes = fs::read(&damaged).unwrap();
        bytes[HEADER_LEN + 40] ^= 0x01;
        fs::write(&damaged, &bytes).unwrap();
        damaged
    };
    let (dir, _) = copy();
    damage(dir.path());
    let recovered = recover(dir.path()).unwrap();
    assert_eq!(recovered.snapshot_seq, Some(snapshot_seq));
    assert_eq!(recovered.next_seq, whole.next_seq);
    assert_eq!(recovered.engine.state(), whole.engine.state());
    assert!(matches!(
        verify(dir.path()),
        Err(JournalError::Corrupt { .. })
    ));
    // A snapshot of version 7 does not say where its record starts: that
    // segment is read from its start, and the start is refused, naming it
    // and a seq before the snapshot.
    let (dir, _) = copy();
    let damaged = damage(dir.path());
    let snapshot = dir.path().join(snapshot_file_name(snapshot_seq));
    let (_, tie, state) = read_snapshot_tie(&snapshot).unwrap();
    let mut payload = tie.unwrap().header_crc.to_le_bytes().to_vec();
    encode_state(&state, &mut payload);
    write_framed(&snapshot, SNAPSHOT_MAGIC, 7, snapshot_seq, &payload).unwrap();
    match recover(dir.path()) {
        Err(RecoverError::Journal(JournalError::Corrupt { file, seq, .. })) => {
            assert_eq!(file, damaged);
            assert!(seq <= snapshot_seq, "seq {seq} is before the snapshot");
        }
        other => panic!("expected corruption, got {other:?}"),
    }

    // Its header damaged, or the file gone: refused, named.
    let (dir, first) = copy();
    let mut bytes = fs::read(&first).unwrap();
    bytes[0] = b'X';
    fs::write(&first, &bytes).unwrap();
    match recover(dir.path()) {
        Err(RecoverError::Journal(JournalError::Corrupt {
            file,
            offset: 0,
            reason,
            ..
        })) => {
            assert_eq!(file, first);
            assert!(reason.contains("bad magic"), "{reason}");
            // Damage, as `cetx replay` says of it (tester 155 F3).
            assert!(
                reason.contains("so this is damage, not a write cut short"),
                "{reason}"
            );
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    let (dir, first) = copy();
    fs::remove_file(&first).unwrap();
    match recover(dir.path()) {
        Err(RecoverError::Journal(JournalError::MissingSegment { file, first_seq })) => {
            assert_eq!((file, first_seq), (first, segments[0].0));
        }
        other => panic!("expected a missing segment, got {other:?}"),
    }
}

/// `bytes` up to the last one that is not zero.
fn without_trailing_zeros(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.iter().rposition(|&b| b != 0).map_or(0, |at| at + 1)]
}

/// Where the last record of a segment's bytes starts and ends.
fn last_record(segment: &[u8]) -> (usize, usize) {
    let (mut start, mut end) = (0, HEADER_LEN);
    while segment.len() >= end + 25 && segment[end..end + 25].iter().any(|&b| b != 0) {
        let len = u32::from_le_bytes(segment[end..end + 4].try_into().unwrap());
        start = end;
        end += 25 + len as usize;
    }
    (start, end)
}

/// Recovery of the engine alone.
struct EngineOnly;

impl RecoveryObserver for EngineOnly {
    fn start_after(&mut self, _: Option<u64>) -> Result<(), String> {
        Ok(())
    }

    fn entry(&mut self, _: &Engine, _: Stamp, _: &Command, _: &[Event]) {}
}

/// After a kill, bad records at the end with nothing whole after them
/// read like a write cut short. But in a journal written in `fsync` a
/// group commit is written only once the one before it is synced: a later
/// commit's record header (its payload damaged too) proves the earlier
/// commit was on disk, so its damage is damage, not a torn tail. In `os`,
/// where an OS crash may write a later page and lose an earlier one, the
/// same bytes are cut as a torn tail. The journal says which it was
/// written in (`DURABILITY`), and recovery judges by that, whatever the
/// restarting server's durability: a journal written in `fsync` and
/// restarted in `os` lost its acknowledged commits before it said.
#[test]
fn damaged_last_records_of_synced_commits_are_damage_not_a_torn_tail() {
    let refused = |dir: &Path, restarted_in: Durability, first_seq: u64| match recover_with(
        dir,
        restarted_in,
        &mut EngineOnly,
    ) {
        Err(RecoverError::Journal(JournalError::Corrupt { seq, reason, .. })) => {
            assert_eq!(seq, first_seq, "{reason}");
            assert!(reason.contains("later group commit"), "{reason}");
        }
        other => panic!(
            "restarted in {restarted_in:?}: expected damage, got {:?}",
            other.map(|r| (r.next_seq, r.torn_tail))
        ),
    };
    let all = workload(3, 40, 1_000);
    let synced = tempfile::tempdir().unwrap();
    let first_seq = three_last_records_damaged(synced.path(), &all, Durability::Fsync);
    // Without its durable mark (a journal written before the mark, whose
    // own test is below): the later commit's header is what tells.
    fs::remove_file(synced.path().join(DURABLE_FILE)).unwrap();
    let damaged = files(synced.path());
    for restarted_in in [Durability::Fsync, Durability::Os] {
        refused(synced.path(), restarted_in, first_seq);
        assert!(files(synced.path()) == damaged, "nothing was changed");
    }
    // A journal older than its `DURABILITY` file is judged by the
    // restarting server's durability, as before.
    fs::remove_file(synced.path().join(DURABILITY_FILE)).unwrap();
    refused(synced.path(), Durability::Fsync, first_seq);
    let recovered = recover_with(synced.path(), Durability::Os, &mut EngineOnly).unwrap();
    assert_eq!(recovered.next_seq, first_seq);
    assert!(recovered.torn_tail.is_some());
    assert_eq!(recovered.written_in, None);

    let unsynced = tempfile::tempdir().unwrap();
    let first_seq = three_last_records_damaged(unsynced.path(), &all, Durability::Os);
    let recovered = recover_with(unsynced.path(), Durability::Fsync, &mut EngineOnly).unwrap();
    assert_eq!(recovered.next_seq, first_seq);
    assert!(recovered.torn_tail.is_some());
    assert_eq!(recovered.written_in, Some(Durability::Os));
}

/// After a kill, a journal written in `fsync` that lost acknowledged
/// entries at its end reads like a write cut short (a flipped bit in its
/// last record) or like no write at all (zeros over its last records, the
/// file cut at a record boundary), and recovery used to cut it and hand
/// the lost numbers out again (tester 155 F2). Its durable mark says
/// otherwise: recovery refuses, naming both numbers, and changes nothing,
/// whatever the restarting server's durability. A mark behind the end (a
/// crash before the writer marked its last commit, never acknowledged)
/// leaves a torn tail to be cut, as before.
#[test]
fn a_journal_that_ends_before_its_durable_mark_refuses_to_start() {
    let commands = workload(3, 40, 1_000);
    let last_seq = commands.len() as u64;
    // A writer that opens and stops before its first commit leaves a mark
    // of where the journal ends (reviewer 160 F1: it left an empty file,
    // which refused the next start).
    let dir = tempfile::tempdir().unwrap();
    journal_run(dir.path(), &commands, journal(Durability::Fsync), None);
    let idle = JournalWriter::open(dir.path(), last_seq + 1, journal(Durability::Fsync)).unwrap();
    drop(idle);
    assert_eq!(durable_mark(dir.path()).unwrap(), Some(last_seq));
    let recovered = recover_with(dir.path(), Durability::Fsync, &mut EngineOnly).unwrap();
    assert_eq!(recovered.next_seq, last_seq + 1);
    type Damage = fn(&mut Vec<u8>, (usize, usize));
    let damages: [(&str, Damage); 3] = [
        ("a bit flipped in the last record", |bytes, (start, end)| {
            bytes[(start + end) / 2] ^= 0x10;
        }),
        ("the last record zeroed", |bytes, (start, end)| {
            bytes[start..end].fill(0);
        }),
        (
            "the file cut before the last record",
            |bytes, (start, _)| {
                bytes.truncate(start);
            },
        ),
    ];
    for (damage, apply) in damages {
        let dir = tempfile::tempdir().unwrap();
        journal_run(dir.path(), &commands, journal(Durability::Fsync), None);
        as_if_killed(dir.path());
        let (_, last_segment) = list_segments(dir.path()).unwrap().pop().unwrap();
        let mut bytes = fs::read(&last_segment).unwrap();
        let last = last_record(&bytes);
        apply(&mut bytes, last);
        fs::write(&last_segment, &bytes).unwrap();
        let damaged = files(dir.path());
        for restarted_in in [Durability::Fsync, Durability::Os] {
            match recover_with(dir.path(), restarted_in, &mut EngineOnly) {
                Err(
                    error @ RecoverError::DurableAhead {
                        durable,
                        journal_ends,
                        ..
                    },
                ) => {
                    assert_eq!(
                        (durable, journal_ends),
                        (last_seq, last_seq - 1),
                        "{damage}"
                    );
                    let said = error.to_string();
                    assert!(said.contains("acknowledged entries are missing"), "{said}");
                    assert!(said.contains(DURABLE_FILE), "{said}");
                }
                other => panic!(
                    "{damage}: expected a refusal, got {:?}",
                    other.map(|r| r.next_seq)
                ),
            }
            assert!(
                files(dir.path()) == damaged,
                "{damage}: nothing was changed"
            );
        }
        // Never acknowledged: a crash before the writer marked it.
        acknowledged_through(dir.path(), last_seq - 1);
        let recovered = recover_with(dir.path(), Durability::Fsync, &mut EngineOnly).unwrap();
        assert_eq!(recovered.next_seq, last_seq, "{damage}");
    }
}

/// A journal whose last three records, written in `durability` and each
/// synced before the next, have a bit flipped in their payloads, as if
/// killed after: the first one's seq.
fn three_last_records_damaged(dir: &Path, all: &[(Command, Stamp)], durability: Durability) -> u64 {
    let (first_seq, last_segment) = then_a_segment_of_their_own(dir, all, 3, durability);
    let mut bytes = fs::read(&last_segment).unwrap();
    let mut at = HEADER_LEN;
    for _ in 0..3 {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        bytes[at + 25 + len / 2] ^= 0x10;
        at += 25 + len;
    }
    fs::write(&last_segment, &bytes).unwrap();
    first_seq
}

/// Away from the open end of a journal (in a middle segment, or anywhere
/// in one closed cleanly) a damaged record is damage whatever the
/// durability: recovery in `fsync` names the whole record after it, as
/// `verify` and `cetx replay` do, not a later group commit's header (a
/// vandal got two messages, two seqs, for one flipped byte).
#[test]
fn damage_away_from_the_open_end_is_named_alike_in_every_durability() {
    let dir = tempfile::tempdir().unwrap();
    let commands = workload(7, 6_000, 2_500);
    journal_run(dir.path(), &commands, journal(Durability::Fsync), None);
    let segments = list_segments(dir.path()).unwrap();
    assert!(segments.len() > 2);
    let middle = &segments[segments.len() / 2].1;
    let mut bytes = fs::read(middle).unwrap();
    let mut at = HEADER_LEN;
    for _ in 0..3 {
        at += 25 + u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    }
    let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    bytes[at + 25 + len / 2] ^= 0x10;
    fs::write(middle, &bytes).unwrap();
    let named = |error: JournalError| match error {
        JournalError::Corrupt {
            file,
            offset,
            seq,
            reason,
        } => (file, offset, seq, reason),
        other => panic!("expected damage, got {other}"),
    };
    let verified = named(verify(dir.path()).unwrap_err());
    let recovered = match recover_with(dir.path(), Durability::Fsync, &mut EngineOnly) {
        Err(RecoverError::Journal(error)) => named(error),
        other => panic!("expected damage, got {:?}", other.map(|r| r.next_seq)),
    };
    assert_eq!((&recovered.0, recovered.1), (middle, at as u64));
    assert!(recovered.3.contains("a whole record"), "{}", recovered.3);
    assert_eq!(recovered, verified);
}

/// Bytes appended past the zeros written ahead are named where they are,
/// not only where the zeros start (a vandal's message said "not zeros
/// (zeros where a record should be)" at the zeros' offset).
#[test]
fn bytes_after_the_zeros_written_ahead_are_named_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, _, last_segment) = small_journal(dir.path(), true);
    let mut bytes = fs::read(&last_segment).unwrap();
    // Zeros after the data whether or not the writer's segment was written
    // ahead in time (on a busy machine it grows one instead), then the
    // garbage.
    bytes.resize(bytes.len() + 4_096, 0);
    let garbage_at = bytes.len();
    bytes.extend_from_slice(b"GARBAGE");
    fs::write(&last_segment, &bytes).unwrap();
    match verify(dir.path()).unwrap_err() {
        JournalError::Corrupt { reason, .. } => assert!(
            reason.contains(&format!("not zeros from offset {garbage_at}")),
            "{reason}"
        ),
        other => panic!("expected damage, got {other}"),
    }
}

/// A journal written in `durability`, with a snapshot after its last
/// entry, killed, and that entry lost after all: its commands, and the
/// snapshot's seq.
fn snapshot_ahead(dir: &Path, durability: Durability) -> (Vec<(Command, Stamp)>, u64) {
    let commands = workload(3, 40, 1_000);
    let last_seq = commands.len() as u64;
    journal_run(dir, &commands, journal(durability), Some(last_seq));
    as_if_killed(dir);
    // Without the durable mark, which would say it first (its own test
    // is below): the snapshot is what tells.
    let _ = fs::remove_file(dir.join(DURABLE_FILE));
    let (_, last_segment) = list_segments(dir).unwrap().pop().unwrap();
    let mut bytes = fs::read(&last_segment).unwrap();
    let (start, end) = last_record(&bytes);
    bytes[start..end].fill(0);
    fs::write(&last_segment, &bytes).unwrap();
    (commands, last_seq)
}

#[test]
fn a_snapshot_ahead_of_a_synced_journal_refuses_to_start() {
    // Written in `fsync`, the snapshot was taken once its entry was
    // synced: the entry's loss is damage, whatever the durability of the
    // server that restarts.
    let synced = tempfile::tempdir().unwrap();
    let (_, last_seq) = snapshot_ahead(synced.path(), Durability::Fsync);
    let damaged = files(synced.path());
    for restarted_in in [Durability::Fsync, Durability::Os] {
        match recover_with(synced.path(), restarted_in, &mut EngineOnly) {
            Err(RecoverError::SnapshotAhead {
                seq, journal_ends, ..
            }) => assert_eq!((seq, journal_ends), (last_seq, last_seq - 1)),
            other => panic!("expected a snapshot ahead of the journal, got {other:?}"),
        }
        assert!(files(synced.path()) == damaged, "nothing was changed");
    }

    // A journal written in `os` durability may lose its last pages in an
    // OS crash and keep the snapshot's: recovery goes on without it, even
    // in a server restarted in `fsync`. (One of that name an earlier lost
    // history left in `torn/` stays.)
    let dir = tempfile::tempdir().unwrap();
    let (commands, last_seq) = snapshot_ahead(dir.path(), Durability::Os);
    let snapshot = cetx_engine::journal::snapshot::snapshot_file_name(last_seq);
    let torn = dir.path().join("torn");
    fs::create_dir_all(&torn).unwrap();
    fs::write(torn.join(&snapshot), b"earlier").unwrap();
    let recovered = recover_with(dir.path(), Durability::Fsync, &mut EngineOnly).unwrap();
    assert_eq!(recovered.next_seq, last_seq);
    assert_eq!(recovered.snapshot_seq, None);
    assert_eq!(recovered.skipped_snapshots.len(), 1);
    // The snapshot is of a history the journal no longer has: it is set
    // aside, so that the journal growing past it again does not take it up.
    assert!(!dir.path().join(&snapshot).exists());
    assert_eq!(fs::read(torn.join(&snapshot)).unwrap(), b"earlier");
    assert!(torn.join(format!("{snapshot}.1")).exists());
    let mut engine = recovered.engine;
    let writer = JournalWriter::open(dir.path(), last_seq, journal(Durability::Os)).unwrap();
    let (command, stamp) = commands.last().unwrap();
    let mut events = Vec::new();
    engine.apply(command, *stamp, &mut events);
    writer.append_blocking(*stamp, command, &events).unwrap();
    writer.close().unwrap();
    let again = recover_with(dir.path(), Durability::Os, &mut EngineOnly).unwrap();
    assert_eq!(again.next_seq, last_seq + 1);
    assert_eq!(
        again.snapshot_seq, None,
        "the snapshot set aside stays aside"
    );
}
