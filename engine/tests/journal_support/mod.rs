//! Shared helpers of the journal tests: realistic entries, writing them,
//! and an independent little parser of segment files to find where each
//! record starts.

#![allow(dead_code)]

pub mod blocks;
pub mod strategies;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cetx_engine::journal::format::{list_segments, HEADER_LEN};
use cetx_engine::journal::manifest::{ListedSegment, Manifest};
use cetx_engine::journal::{JournalConfig, JournalEntry, JournalWriter};
use cetx_engine::{
    Accepted, AccountId, CancelCause, Cancelled, Command, Event, InstrumentId, NewOrder, OrderId,
    OrderType, Side, Stamp, TimeInForce, Trade,
};

/// Patience for anything that should happen at once; only a broken build
/// waits this long.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A realistic entry: a buy order that trades with 0, 1 or 2 resting sells,
/// and has its remainder cancelled every third time.
pub fn entry(seq: u64) -> JournalEntry {
    let time_ns = 1_750_000_000_000_000_000 + seq as i64 * 1_000;
    let order = NewOrder {
        order_id: OrderId(1_000_000 + seq),
        account: AccountId(1 + (seq % 7) as u32),
        instrument: InstrumentId(0),
        side: Side::Buy,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        price_ticks: 98_00 + (seq % 50) as i64,
        quantity_t: 100,
        client_order_id: 0,
    };
    let mut events = vec![Event::Accepted(Accepted {
        order_id: order.order_id,
        account: order.account,
        instrument: order.instrument,
        side: order.side,
        order_type: order.order_type,
        time_in_force: order.time_in_force,
        price_ticks: order.price_ticks,
        quantity_t: order.quantity_t,
    })];
    for i in 0..seq % 3 {
        events.push(Event::Trade(Trade {
            trade_id: seq * 2 + i,
            seq,
            time_ns,
            instrument: order.instrument,
            price_ticks: order.price_ticks,
            quantity_t: 30,
            aggressor: Side::Buy,
            maker_order_id: OrderId(seq + i),
            maker_account: AccountId(100),
            maker_remaining_t: 0,
            taker_order_id: order.order_id,
            taker_account: order.account,
            taker_remaining_t: 100 - 30 * (i + 1),
        }));
    }
    if seq.is_multiple_of(3) {
        events.push(Event::Cancelled(Cancelled {
            order_id: order.order_id,
            account: order.account,
            instrument: order.instrument,
            side: order.side,
            cancelled_t: 100,
            cause: CancelCause::Requested,
        }));
    }
    JournalEntry {
        stamp: Stamp { seq, time_ns },
        command: Command::Submit(order),
        events,
        operator: None,
    }
}

/// The entries with these sequence numbers.
pub fn entries(seqs: impl IntoIterator<Item = u64>) -> Vec<JournalEntry> {
    seqs.into_iter().map(entry).collect()
}

/// Writes entries `seqs` (which must start at `next_seq` of the journal)
/// with a fresh writer, and closes it.
pub fn write(dir: &Path, seqs: std::ops::RangeInclusive<u64>, config: JournalConfig) {
    let writer = JournalWriter::open(dir, *seqs.start(), config).unwrap();
    for e in entries(seqs) {
        writer
            .append_blocking(e.stamp, &e.command, &e.events)
            .unwrap();
    }
    writer.close().unwrap();
}

/// A config with small segments.
pub fn small_segments(segment_bytes: u64) -> JournalConfig {
    JournalConfig {
        segment_bytes,
        ..JournalConfig::default()
    }
}

/// The segment files of `dir`, in order.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    list_segments(dir)
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

/// Bytes of a record's prefix (JOURNAL.md): len, seq, type, commit
/// index, payload checksum, header checksum.
pub const PREFIX: usize = 25;

/// Where each record of a segment starts, with its sequence number, found
/// by walking the length fields up to the zeros written ahead (not with
/// the reader under test).
pub fn records(path: &Path) -> Vec<(u64, u64)> {
    record_spans(path)
        .into_iter()
        .map(|(at, seq, _)| (at, seq))
        .collect()
}

/// Like [`records`], with each record's whole length.
pub fn record_spans(path: &Path) -> Vec<(u64, u64, u64)> {
    let bytes = std::fs::read(path).unwrap();
    let mut at = HEADER_LEN;
    let mut out = Vec::new();
    while at + PREFIX <= bytes.len() && bytes[at..at + PREFIX].iter().any(|&b| b != 0) {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let seq = u64::from_le_bytes(bytes[at + 4..at + 12].try_into().unwrap());
        out.push((at as u64, seq, (PREFIX + len) as u64));
        at += PREFIX + len;
    }
    out
}

/// Where the data of a segment ends: after its last record.
pub fn data_end(path: &Path) -> u64 {
    record_spans(path)
        .last()
        .map_or(HEADER_LEN as u64, |(at, _, len)| at + len)
}

/// A record built by hand from JOURNAL.md, independently of the writer:
/// `commit_index` 0, both checksums filled in.
pub fn raw_record(seq: u64, record_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.push(record_type);
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    let header_crc = crc32c::crc32c(&out);
    out.extend_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Sets the journal's durable mark to `seq`, as a writer killed after
/// marking that commit and before it marked the next leaves it: what
/// follows was never acknowledged (a write a crash may have cut short).
pub fn acknowledged_through(dir: &Path, seq: u64) {
    cetx_engine::journal::DurableMark::open(dir)
        .unwrap()
        .write(seq)
        .unwrap();
}

/// Makes the journal in `dir` look as its writer left it when killed: a
/// writer that stops cleanly writes in the manifest where the journal
/// ends, and a killed one never does. Only then can damage at the end be
/// taken for a write cut short.
pub fn as_if_killed(dir: &Path) {
    let mut manifest = Manifest::read(dir).unwrap().unwrap();
    assert!(manifest.closed.is_some(), "the writer stopped cleanly");
    manifest.closed = None;
    // Nor has it noted the first record of the segment it was writing.
    if let Some(last) = manifest.segments.last_mut() {
        last.first_crc = None;
    }
    manifest.write(dir).unwrap();
}

/// Lists segments made by hand in the journal's manifest.
pub fn list_in_manifest(dir: &Path, first_seqs: &[u64]) {
    let manifest = Manifest {
        archive_dir: None,
        segments: first_seqs
            .iter()
            .map(|&first_seq| ListedSegment {
                first_seq,
                archived: false,
                first_crc: None,
            })
            .collect(),
        closed: None,
        unread_from_line: None,
    };
    manifest.write(dir).unwrap();
}
