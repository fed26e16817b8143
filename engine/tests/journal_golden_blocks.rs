//! Golden bytes of the block-trading commands and events: each encodes to
//! exactly the hex below, which `docs/JOURNAL.md` ("Example: block
//! trading") shows too, and decodes back to itself.

use cetx_engine::journal::{decode_command, decode_event, encode_command, encode_event};
use cetx_engine::{
    AccountId, BlockAccepted, BlockCancelled, BlockPosted, BlockTraded, CancelCause, Command,
    Event, InstrumentId, NewBlock, Side,
};

/// Each value and its bytes, space-separated hex.
fn commands() -> Vec<(Command, &'static str)> {
    vec![
        (
            // Account 1001 sells 300,000 t of instrument 0 at 90.00 CNY to
            // account 2001 only; its broker's id 7.
            Command::PostBlock(NewBlock {
                account: AccountId(1001),
                instrument: InstrumentId(0),
                side: Side::Sell,
                price_ticks: 9_000,
                quantity_t: 300_000,
                counterparty: Some(AccountId(2001)),
                client_order_id: 7,
            }),
            "28 e9 03 00 00 00 00 01 28 23 00 00 00 00 00 00 e0 93 04 00 00 00 00 00 \
             01 d1 07 00 00 07 00 00 00 00 00 00 00",
        ),
        (
            Command::AcceptBlock {
                block_id: 1,
                account: AccountId(2001),
                quantity_t: 100_000,
                client_order_id: 8,
            },
            "29 01 00 00 00 00 00 00 00 d1 07 00 00 a0 86 01 00 00 00 00 00 \
             08 00 00 00 00 00 00 00",
        ),
        (
            Command::CancelBlock {
                block_id: 1,
                account: AccountId(1001),
                client_order_id: 9,
            },
            "2a 01 00 00 00 00 00 00 00 e9 03 00 00 09 00 00 00 00 00 00 00",
        ),
        (
            Command::ConfirmBlock { deal_id: 2 },
            "2b 02 00 00 00 00 00 00 00",
        ),
        (
            Command::RefuseBlock { deal_id: 2 },
            "2c 02 00 00 00 00 00 00 00",
        ),
    ]
}

fn events() -> Vec<(Event, &'static str)> {
    vec![
        (
            Event::BlockPosted(BlockPosted {
                block_id: 1,
                account: AccountId(1001),
                instrument: InstrumentId(0),
                side: Side::Sell,
                price_ticks: 9_000,
                quantity_t: 300_000,
                counterparty: None,
            }),
            "28 01 00 00 00 00 00 00 00 e9 03 00 00 00 00 01 28 23 00 00 00 00 00 00 \
             e0 93 04 00 00 00 00 00 00",
        ),
        (
            Event::BlockAccepted(BlockAccepted {
                block_id: 1,
                deal_id: 2,
                account: AccountId(2001),
                quantity_t: 100_000,
                remaining_t: 200_000,
                pending: false,
            }),
            "29 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 d1 07 00 00 \
             a0 86 01 00 00 00 00 00 40 0d 03 00 00 00 00 00 00",
        ),
        (
            Event::BlockTraded(BlockTraded {
                trade_id: 5,
                seq: 40,
                time_ns: 1_000,
                deal_id: 2,
                block_id: 1,
                instrument: InstrumentId(0),
                price_ticks: 9_000,
                quantity_t: 100_000,
                buyer_account: AccountId(2001),
                seller_account: AccountId(1001),
                poster_side: Side::Sell,
            }),
            "2a 05 00 00 00 00 00 00 00 28 00 00 00 00 00 00 00 e8 03 00 00 00 00 00 00 \
             02 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 \
             28 23 00 00 00 00 00 00 a0 86 01 00 00 00 00 00 d1 07 00 00 e9 03 00 00 01",
        ),
        (
            Event::BlockCancelled(BlockCancelled {
                block_id: 1,
                account: AccountId(1001),
                instrument: InstrumentId(0),
                side: Side::Sell,
                cancelled_t: 200_000,
                cause: CancelCause::Expired,
            }),
            "2b 01 00 00 00 00 00 00 00 e9 03 00 00 00 00 01 40 0d 03 00 00 00 00 00 05",
        ),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn squash(golden: &str) -> String {
    golden.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn block_commands_encode_to_the_golden_bytes_and_back() {
    for (command, golden) in commands() {
        let mut bytes = Vec::new();
        encode_command(&command, &mut bytes);
        assert_eq!(hex(&bytes), squash(golden), "{command:?}");
        assert_eq!(decode_command(&bytes), Ok(command));
    }
}

#[test]
fn block_events_encode_to_the_golden_bytes_and_back() {
    for (event, golden) in events() {
        let mut bytes = Vec::new();
        encode_event(&event, &mut bytes);
        assert_eq!(hex(&bytes), squash(golden), "{event:?}");
        assert_eq!(decode_event(&bytes), Ok(event));
    }
}

#[test]
fn the_specification_shows_the_golden_bytes() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/JOURNAL.md"))
        .unwrap();
    let doc = squash(&doc);
    for golden in commands()
        .into_iter()
        .map(|(_, g)| g)
        .chain(events().into_iter().map(|(_, g)| g))
    {
        assert!(
            doc.contains(&squash(golden)),
            "docs/JOURNAL.md must show {golden}"
        );
    }
}
