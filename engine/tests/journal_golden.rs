//! Golden bytes: a tiny journal, written by the real writer, is exactly the
//! hex dump below, which `docs/JOURNAL.md` shows too. A change to the
//! format breaks this test; then the format version, the document and this
//! dump change together.
//!
//! The journal: command 1 opens account 1 (a compliance entity of broker
//! 7); command 2 is a day limit buy of 100 t at 98.00 CNY that trades in
//! full against resting sell order 100 of account 2.

use cetx_engine::journal::format::segment_file_name;
use cetx_engine::journal::{verify, JournalConfig, JournalEntry, JournalReader, JournalWriter};
use cetx_engine::{
    Accepted, AccountId, AccountOpened, BrokerId, Command, Event, InstrumentId, NewOrder, OrderId,
    OrderType, ParticipantType, Side, Stamp, TimeInForce, Trade,
};

/// The segment file, one field a line: offset, bytes, meaning.
const GOLDEN: &str = r#"0000  43 45 54 58 4a 52 4e 4c  # magic "CETXJRNL"
0008  01 00 00 00              # format version 1
000c  01 00 00 00 00 00 00 00  # first_seq 1
0014  4b ec d3 04              # crc32c of the 20 bytes above
0018  29 00 00 00              # record 1: len 41 (bytes after the crc field)
001c  f9 8a b3 14              # crc32c of the next 41 bytes
0020  01 00 00 00 00 00 00 00  # seq 1
0028  01                       # type 1 = Entry
0029  00 f0 e7 49 27 97 52 18  # time_ns 1752629400000000000 (2025-07-16 09:30:00 +08:00)
0031  05                       # Command tag 5 = OpenAccount
0032  01 00 00 00              # account 1
0036  00                       # participant 0 = ComplianceEntity
0037  07 00 00 00              # broker 7
003b  01 00 00 00              # event_count 1
003f  05                       # Event tag 5 = AccountOpened
0040  01 00 00 00              # account 1
0044  00                       # participant 0 = ComplianceEntity
0045  07 00 00 00              # broker 7
0049  b5 00 00 00              # record 2: len 181
004d  dc 82 c9 d8              # crc32c of the next 181 bytes
0051  02 00 00 00 00 00 00 00  # seq 2
0059  01                       # type 1 = Entry
005a  40 32 f7 49 27 97 52 18  # time_ns 1752629400001000000 (1 ms later)
0062  00                       # Command tag 0 = Submit
0063  65 00 00 00 00 00 00 00  # order_id 101
006b  01 00 00 00              # account 1
006f  00 00                    # instrument 0
0071  00                       # side 0 = Buy
0072  00                       # order_type 0 = Limit
0073  00                       # time_in_force 0 = Day
0074  48 26 00 00 00 00 00 00  # price_ticks 9800 (98.00 CNY)
007c  64 00 00 00 00 00 00 00  # quantity_t 100
0084  89 13 00 00 00 00 00 00  # client_order_id 5001 (the broker's id)
008c  02 00 00 00              # event_count 2
0090  00                       # Event tag 0 = Accepted
0091  65 00 00 00 00 00 00 00  # order_id 101
0099  01 00 00 00              # account 1
009d  00 00                    # instrument 0
009f  00                       # side 0 = Buy
00a0  00                       # order_type 0 = Limit
00a1  00                       # time_in_force 0 = Day
00a2  48 26 00 00 00 00 00 00  # price_ticks 9800
00aa  64 00 00 00 00 00 00 00  # quantity_t 100
00b2  02                       # Event tag 2 = Trade
00b3  01 00 00 00 00 00 00 00  # trade_id 1
00bb  02 00 00 00 00 00 00 00  # seq 2
00c3  40 32 f7 49 27 97 52 18  # time_ns 1752629400001000000
00cb  00 00                    # instrument 0
00cd  48 26 00 00 00 00 00 00  # price_ticks 9800
00d5  64 00 00 00 00 00 00 00  # quantity_t 100
00dd  00                       # aggressor 0 = Buy
00de  64 00 00 00 00 00 00 00  # maker_order_id 100
00e6  02 00 00 00              # maker_account 2
00ea  00 00 00 00 00 00 00 00  # maker_remaining_t 0
00f2  65 00 00 00 00 00 00 00  # taker_order_id 101
00fa  01 00 00 00              # taker_account 1
00fe  00 00 00 00 00 00 00 00  # taker_remaining_t 0"#;

/// The bytes of [`GOLDEN`], checking that each line starts at the offset
/// it states.
fn golden_bytes() -> Vec<u8> {
    let mut bytes = Vec::new();
    for line in GOLDEN.lines() {
        let (data, _meaning) = line.split_once('#').unwrap();
        let mut tokens = data.split_whitespace();
        let offset = usize::from_str_radix(tokens.next().unwrap(), 16).unwrap();
        assert_eq!(offset, bytes.len(), "{line}");
        bytes.extend(tokens.map(|t| u8::from_str_radix(t, 16).unwrap()));
    }
    bytes
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
        },
    ]
}

#[test]
fn the_writer_writes_the_golden_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let writer = JournalWriter::open(tmp.path(), 1, JournalConfig::default()).unwrap();
    for e in journal() {
        writer.append(e.stamp, &e.command, &e.events).unwrap();
    }
    writer.close().unwrap();
    let file = tmp.path().join(segment_file_name(1));
    assert_eq!(
        file.file_name().unwrap().to_str().unwrap(),
        "journal-00000000000000000001.seg"
    );
    assert_eq!(std::fs::read(&file).unwrap(), golden_bytes());
}

#[test]
fn the_golden_bytes_read_back_as_the_journal() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join(segment_file_name(1)), golden_bytes()).unwrap();
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
}
