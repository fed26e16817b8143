//! Golden bytes: a tiny journal, written by the real writer, is exactly the
//! hex dump below, which `docs/JOURNAL.md` shows too. A change to the
//! format breaks this test; then the format version, the document and this
//! dump change together.
//!
//! The journal: command 1 opens account 1 (a compliance entity of broker
//! 7); command 2 is a day limit buy of 100 t at 98.00 CNY that trades in
//! full against resting sell order 100 of account 2.

use cetx_engine::journal::format::{segment_file_name, DEFAULT_SEGMENT_BYTES};
use cetx_engine::journal::{
    verify, JournalBatch, JournalConfig, JournalEntry, JournalReader, JournalWriter, MANIFEST_FILE,
};
use cetx_engine::{
    Accepted, AccountId, AccountOpened, Bounds, BrokerId, Command, CommandKind, Event,
    InstrumentId, NewOrder, OrderId, OrderType, ParticipantType, RejectReason, Rejected, Side,
    Stamp, TimeInForce, Trade,
};

/// The segment file, one field a line: offset, bytes, meaning.
const GOLDEN: &str = r#"0000  43 45 54 58 4a 52 4e 4c  # magic "CETXJRNL"
0008  03 00 00 00              # format version 3
000c  01 00 00 00 00 00 00 00  # first_seq 1
0014  2b 44 30 66              # crc32c of the 20 bytes above
0018  20 00 00 00              # record 1: len 32 (payload bytes)
001c  01 00 00 00 00 00 00 00  # seq 1
0024  01                       # type 1 = Entry
0025  00 00 00 00              # commit_index 0 (first record of its group commit)
0029  12 d3 2d 43              # payload_crc: crc32c of the 32 payload bytes
002d  51 4e 72 ac              # header_crc: crc32c of the 21 bytes above
0031  00 f0 e7 49 27 97 52 18  # time_ns 1752629400000000000 (2025-07-16 09:30:00 +08:00)
0039  05                       # Command tag 5 = OpenAccount
003a  01 00 00 00              # account 1
003e  00                       # participant 0 = ComplianceEntity
003f  07 00 00 00              # broker 7
0043  01 00 00 00              # event_count 1
0047  05                       # Event tag 5 = AccountOpened
0048  01 00 00 00              # account 1
004c  00                       # participant 0 = ComplianceEntity
004d  07 00 00 00              # broker 7
0051  ac 00 00 00              # record 2: len 172 (payload bytes)
0055  02 00 00 00 00 00 00 00  # seq 2
005d  01                       # type 1 = Entry
005e  01 00 00 00              # commit_index 1 (second record of its group commit)
0062  ab 7a 8d 91              # payload_crc: crc32c of the 172 payload bytes
0066  71 82 7d c6              # header_crc: crc32c of the 21 bytes above
006a  40 32 f7 49 27 97 52 18  # time_ns 1752629400001000000 (1 ms later)
0072  00                       # Command tag 0 = Submit
0073  65 00 00 00 00 00 00 00  # order_id 101
007b  01 00 00 00              # account 1
007f  00 00                    # instrument 0
0081  00                       # side 0 = Buy
0082  00                       # order_type 0 = Limit
0083  00                       # time_in_force 0 = Day
0084  48 26 00 00 00 00 00 00  # price_ticks 9800 (98.00 CNY)
008c  64 00 00 00 00 00 00 00  # quantity_t 100
0094  89 13 00 00 00 00 00 00  # client_order_id 5001 (the broker's id)
009c  02 00 00 00              # event_count 2
00a0  00                       # Event tag 0 = Accepted
00a1  65 00 00 00 00 00 00 00  # order_id 101
00a9  01 00 00 00              # account 1
00ad  00 00                    # instrument 0
00af  00                       # side 0 = Buy
00b0  00                       # order_type 0 = Limit
00b1  00                       # time_in_force 0 = Day
00b2  48 26 00 00 00 00 00 00  # price_ticks 9800
00ba  64 00 00 00 00 00 00 00  # quantity_t 100
00c2  02                       # Event tag 2 = Trade
00c3  01 00 00 00 00 00 00 00  # trade_id 1
00cb  02 00 00 00 00 00 00 00  # seq 2
00d3  40 32 f7 49 27 97 52 18  # time_ns 1752629400001000000
00db  00 00                    # instrument 0
00dd  48 26 00 00 00 00 00 00  # price_ticks 9800
00e5  64 00 00 00 00 00 00 00  # quantity_t 100
00ed  00                       # aggressor 0 = Buy
00ee  64 00 00 00 00 00 00 00  # maker_order_id 100
00f6  02 00 00 00              # maker_account 2
00fa  00 00 00 00 00 00 00 00  # maker_remaining_t 0
0102  65 00 00 00 00 00 00 00  # taker_order_id 101
010a  01 00 00 00              # taker_account 1
010e  00 00 00 00 00 00 00 00  # taker_remaining_t 0"#;

/// The journal's `MANIFEST`: its one segment.
const MANIFEST: &str = "cetx-journal-manifest 3
segment 00000000000000000001 first ac724e51
closed 00000000000000000002
crc32c 79cd4d48
";

/// The bytes of [`GOLDEN`], checking that each line starts at the offset
/// it states.
fn golden_bytes() -> Vec<u8> {
    hex_dump_bytes(GOLDEN)
}

/// 2025-07-16 09:30:00 +08:00, in nanoseconds since the Unix epoch.
const OPEN_NS: i64 = 1_752_629_400_000_000_000;

fn journal() -> Vec<JournalEntry> {
    let account = AccountId(1);
    let order = NewOrder {
        order_id: OrderId(101),
        account,
        instrument: InstrumentId(0),
        side: Side::Buy,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        price_ticks: 98_00,
        quantity_t: 100,
        client_order_id: 5001,
    };
    let time_ns = OPEN_NS + 1_000_000;
    vec![
        JournalEntry {
            stamp: Stamp {
                seq: 1,
                time_ns: OPEN_NS,
            },
            command: Command::OpenAccount {
                account,
                participant: ParticipantType::ComplianceEntity,
                broker: BrokerId(7),
            },
            events: vec![Event::AccountOpened(AccountOpened {
                account,
                participant: ParticipantType::ComplianceEntity,
                broker: BrokerId(7),
            })],
            operator: None,
        },
        JournalEntry {
            stamp: Stamp { seq: 2, time_ns },
            command: Command::Submit(order),
            events: vec![
                Event::Accepted(Accepted {
                    order_id: order.order_id,
                    account,
                    instrument: order.instrument,
                    side: order.side,
                    order_type: order.order_type,
                    time_in_force: order.time_in_force,
                    price_ticks: order.price_ticks,
                    quantity_t: order.quantity_t,
                }),
                Event::Trade(Trade {
                    trade_id: 1,
                    seq: 2,
                    time_ns,
                    instrument: order.instrument,
                    price_ticks: 98_00,
                    quantity_t: 100,
                    aggressor: Side::Buy,
                    maker_order_id: OrderId(100),
                    maker_account: AccountId(2),
                    maker_remaining_t: 0,
                    taker_order_id: order.order_id,
                    taker_account: account,
                    taker_remaining_t: 0,
                }),
            ],
            operator: None,
        },
    ]
}

#[test]
fn the_writer_writes_the_golden_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let writer = JournalWriter::open(tmp.path(), 1, JournalConfig::default()).unwrap();
    // One group commit of both entries.
    let mut batch = JournalBatch::default();
    for e in journal() {
        writer
            .append_to(&mut batch, e.stamp, &e.command, &e.events)
            .unwrap();
    }
    writer.commit_batch(&mut batch).unwrap();
    writer.close().unwrap();
    let file = tmp.path().join(segment_file_name(1));
    assert_eq!(
        file.file_name().unwrap().to_str().unwrap(),
        "journal-00000000000000000001.seg"
    );
    // The segment was written ahead: the golden bytes, then zeros to its
    // full size.
    let bytes = std::fs::read(&file).unwrap();
    let golden = golden_bytes();
    assert_eq!(bytes.len() as u64, DEFAULT_SEGMENT_BYTES);
    assert_eq!(bytes[..golden.len()], golden[..]);
    assert!(bytes[golden.len()..].iter().all(|&b| b == 0));
    let manifest = std::fs::read_to_string(tmp.path().join(MANIFEST_FILE)).unwrap();
    assert_eq!(manifest, MANIFEST);
}

#[test]
fn the_golden_bytes_read_back_as_the_journal() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join(segment_file_name(1)), golden_bytes()).unwrap();
    std::fs::write(tmp.path().join(MANIFEST_FILE), MANIFEST).unwrap();
    let read: Vec<_> = JournalReader::open(tmp.path())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(read, journal());
    let report = verify(tmp.path()).unwrap();
    assert_eq!((report.entries, report.events), (2, 3));
}

#[test]
fn the_specification_shows_the_golden_bytes() {
    let spec = include_str!("../../docs/JOURNAL.md");
    assert!(
        spec.contains(GOLDEN),
        "docs/JOURNAL.md must show the golden dump exactly as this test does"
    );
    assert!(
        spec.contains(MANIFEST),
        "docs/JOURNAL.md must show the golden manifest exactly as this test does"
    );
}

/// A listing-agreement take (command tag 30), as `docs/JOURNAL.md` shows
/// it: account 1 buys 30 t of order 100 of instrument 0, as its order 102,
/// the broker's client order id 5002.
const TAKE_GOLDEN: &str = r#"00  1e                       # tag 30: Take
01  66 00 00 00 00 00 00 00  # order_id 102
09  01 00 00 00              # account 1
0d  00 00                    # instrument 0
0f  00                       # side Buy
10  64 00 00 00 00 00 00 00  # target 100
18  1e 00 00 00 00 00 00 00  # quantity_t 30
20  8a 13 00 00 00 00 00 00  # client_order_id 5002"#;

#[test]
fn a_take_has_the_golden_bytes_the_specification_shows() {
    let take = Command::Take(cetx_engine::Take {
        order_id: OrderId(102),
        account: AccountId(1),
        instrument: InstrumentId(0),
        side: Side::Buy,
        target: OrderId(100),
        quantity_t: 30,
        client_order_id: 5002,
    });
    let golden = hex_dump_bytes(TAKE_GOLDEN);
    let mut bytes = Vec::new();
    cetx_engine::journal::encode_command(&take, &mut bytes);
    assert_eq!(bytes, golden);
    assert_eq!(bytes.len(), 40);
    assert_eq!(cetx_engine::journal::decode_command(&golden), Ok(take));
    let spec = include_str!("../../docs/JOURNAL.md");
    assert!(
        spec.contains(TAKE_GOLDEN),
        "docs/JOURNAL.md must show the take's bytes exactly as this test does"
    );
}

/// A refusal that quotes the limits the command broke (event tag 18), as
/// `docs/JOURNAL.md` shows it: order 102's limit price was outside today's
/// band of 81.00 to 99.00.
const REJECTED_GOLDEN: &str = r#"00  12                       # tag 18: Rejected with limits
01  00                       # command 0: Submit
02  01 66 00 00 00 00 00 00 00  # order_id Some(102)
0b  67 00                    # reason 103 PriceOutsideBand
0d  a4 1f 00 00 00 00 00 00  # low 8100
15  ac 26 00 00 00 00 00 00  # high 9900"#;

#[test]
fn a_refusal_with_its_limits_has_the_golden_bytes_the_specification_shows() {
    let rejected = Event::Rejected(Rejected {
        command: CommandKind::Submit,
        order_id: Some(OrderId(102)),
        reason: RejectReason::PriceOutsideBand,
        bounds: Some(Bounds::new(8_100, 9_900)),
    });
    let golden = hex_dump_bytes(REJECTED_GOLDEN);
    let mut bytes = Vec::new();
    cetx_engine::journal::encode_event(&rejected, &mut bytes);
    assert_eq!(bytes, golden);
    assert_eq!(bytes.len(), 29);
    assert_eq!(cetx_engine::journal::decode_event(&golden), Ok(rejected));
    // Without limits, tag 1 and its bytes as before.
    let Event::Rejected(plain) = rejected else {
        unreachable!()
    };
    let plain = Event::Rejected(Rejected {
        bounds: None,
        ..plain
    });
    bytes.clear();
    cetx_engine::journal::encode_event(&plain, &mut bytes);
    assert_eq!(bytes, [&[1, 0, 1][..], &golden[3..13]].concat());
    let spec = include_str!("../../docs/JOURNAL.md");
    assert!(
        spec.contains(REJECTED_GOLDEN),
        "docs/JOURNAL.md must show the refusal's bytes exactly as this test does"
    );
}

/// The bytes of a dump of lines `offset  bytes  # meaning`, each line's
/// offset checked.
fn hex_dump_bytes(dump: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    for line in dump.lines() {
        let (data, _meaning) = line.split_once('#').unwrap();
        let mut tokens = data.split_whitespace();
        let offset = usize::from_str_radix(tokens.next().unwrap(), 16).unwrap();
        assert_eq!(offset, bytes.len(), "{line}");
        bytes.extend(tokens.map(|t| u8::from_str_radix(t, 16).unwrap()));
    }
    bytes
}
