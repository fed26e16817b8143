//! The codec against `docs/PROTOCOL.md`: every message encodes to exactly
//! the hex bytes the doc shows, and decodes back from them.
//!
//! The hex blocks are read out of the doc itself, so the doc cannot drift
//! from the code: change the encoding and this fails until the doc is
//! regenerated (`python3 tests/python/broker_client.py --examples`). The
//! reject reason tables of the doc and of `docs/ENGINE.md` are checked
//! against `RejectReason` the same way, and the Python client's self-test
//! runs here too, so that CI runs it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use bytes::BytesMut;
use cetx_engine::RejectReason;
use cetx_gateway::codec::{ClientCodec, ServerCodec};
use cetx_gateway::protocol::{
    ClientMessage, OrderType, RequestKind, Secret, ServerFrame, ServerMessage, Side, TimeInForce,
    PROTOCOL_VERSION, UNSEQUENCED,
};
use tokio_util::codec::{Decoder, Encoder};

const PROTOCOL_MD: &str = include_str!("../../docs/PROTOCOL.md");
const ENGINE_MD: &str = include_str!("../../docs/ENGINE.md");

/// One example of the doc: what a broker sends or what the server sends.
#[derive(Clone, Debug, PartialEq)]
enum Example {
    Client(ClientMessage),
    Server(ServerFrame),
}

const fn server(seq: u64, message: ServerMessage) -> Example {
    Example::Server(ServerFrame { seq, message })
}

/// The doc's examples by block name, the same values as `EXAMPLES` in
/// `tests/python/broker_client.py`.
fn examples() -> Vec<(&'static str, Example)> {
    let symbol = || cetx_gateway::protocol::Symbol::from("CEA2025");
    vec![
        (
            "client.Login",
            Example::Client(ClientMessage::Login {
                protocol_version: PROTOCOL_VERSION,
                broker_id: 7,
                secret: Secret::new("s3cret"),
                resume_from_seq: 41,
            }),
        ),
        (
            "client.NewOrder",
            Example::Client(ClientMessage::NewOrder {
                client_order_id: 1001,
                account: 42,
                symbol: symbol(),
                side: Side::Buy,
                order_type: OrderType::Limit,
                time_in_force: TimeInForce::Day,
                price_ticks: 97_50,
                quantity_t: 1000,
            }),
        ),
        (
            "client.Cancel",
            Example::Client(ClientMessage::Cancel {
                client_order_id: 1001,
            }),
        ),
        (
            "client.Amend",
            Example::Client(ClientMessage::Amend {
                client_order_id: 1001,
                price_ticks: 97_60,
                quantity_t: 600,
            }),
        ),
        (
            "client.Heartbeat",
            Example::Client(ClientMessage::Heartbeat),
        ),
        ("client.Logout", Example::Client(ClientMessage::Logout)),
        (
            "client.Take",
            Example::Client(ClientMessage::Take {
                client_order_id: 1004,
                account: 42,
                symbol: symbol(),
                order_id: 900_007,
                side: Side::Buy,
                quantity_t: 300,
            }),
        ),
        (
            "client.Bid",
            Example::Client(ClientMessage::Bid {
                client_order_id: 2001,
                auction_id: 7,
                account: 42,
                price_ticks: 93_00,
                quantity_t: 50_000,
            }),
        ),
        (
            "client.CancelBid",
            Example::Client(ClientMessage::CancelBid {
                client_order_id: 2001,
            }),
        ),
        (
            "client.AmendBid",
            Example::Client(ClientMessage::AmendBid {
                client_order_id: 2001,
                price_ticks: 93_50,
                quantity_t: 40_000,
            }),
        ),
        (
            "server.BidAccepted",
            server(
                64,
                ServerMessage::BidAccepted {
                    client_order_id: 2001,
                    auction_id: 7,
                    bid_id: 900_011,
                    price_ticks: 93_00,
                    quantity_t: 50_000,
                    amend: 0,
                },
            ),
        ),
        (
            "server.BidRejected",
            server(
                65,
                ServerMessage::BidRejected {
                    client_order_id: 2002,
                    request: 0,
                    reason: RejectReason::BidOutsideAuctionRange.code(),
                    text: "bid outside auction range".to_owned(),
                },
            ),
        ),
        (
            "server.BidCancelled",
            server(
                66,
                ServerMessage::BidCancelled {
                    client_order_id: 2001,
                    auction_id: 7,
                    bid_id: 900_011,
                    cancelled_t: 10_000,
                    cause: 23,
                },
            ),
        ),
        (
            "server.AuctionResult",
            server(
                67,
                ServerMessage::AuctionResult {
                    auction_id: 7,
                    symbol: symbol(),
                    pricing: 0,
                    clearing_ticks: 92_50,
                    sold_t: 150_000,
                    unsold_t: 0,
                    side: Side::Buy,
                    client_order_id: 2001,
                    bid_id: 900_011,
                    trade_id: 32,
                    price_ticks: 92_50,
                    quantity_t: 40_000,
                    time_ns: 1_741_928_400_000_000_000,
                },
            ),
        ),
        (
            "server.LoginAccepted",
            server(
                UNSEQUENCED,
                ServerMessage::LoginAccepted {
                    trading_day: 20_250_314,
                    last_seq: 57,
                },
            ),
        ),
        (
            "server.LoginRejected",
            server(
                UNSEQUENCED,
                ServerMessage::LoginRejected {
                    reason: RejectReason::BadCredentials.code(),
                    text: "bad credentials".to_owned(),
                },
            ),
        ),
        (
            "server.OrderAccepted",
            server(
                58,
                ServerMessage::OrderAccepted {
                    client_order_id: 1001,
                    order_id: 900_001,
                    symbol: symbol(),
                    side: Side::Buy,
                    order_type: OrderType::Limit,
                    time_in_force: TimeInForce::Day,
                    price_ticks: 97_50,
                    quantity_t: 1000,
                },
            ),
        ),
        (
            "server.OrderRejected",
            server(
                59,
                ServerMessage::OrderRejected {
                    client_order_id: 1002,
                    request: RequestKind::NewOrder,
                    reason: RejectReason::InsufficientCash.code(),
                    text: "insufficient cash".to_owned(),
                },
            ),
        ),
        (
            "server.Fill",
            server(
                60,
                ServerMessage::Fill {
                    client_order_id: 1001,
                    order_id: 900_001,
                    trade_id: 31,
                    symbol: symbol(),
                    side: Side::Buy,
                    price_ticks: 97_50,
                    quantity_t: 400,
                    leaves_t: 600,
                    aggressor: false,
                    time_ns: 1_741_916_400_123_456_789,
                },
            ),
        ),
        (
            "server.Amended",
            server(
                61,
                ServerMessage::Amended {
                    client_order_id: 1001,
                    order_id: 900_001,
                    price_ticks: 97_60,
                    quantity_t: 600,
                    priority_kept: false,
                },
            ),
        ),
        (
            "server.Cancelled",
            server(
                62,
                ServerMessage::Cancelled {
                    client_order_id: 1001,
                    order_id: 900_001,
                    cancelled_t: 600,
                    cause: cetx_engine::CancelCause::Requested as u8,
                },
            ),
        ),
        (
            "server.Expired",
            server(
                63,
                ServerMessage::Expired {
                    client_order_id: 1003,
                    order_id: 900_007,
                    expired_t: 250,
                },
            ),
        ),
        (
            "server.Heartbeat",
            server(UNSEQUENCED, ServerMessage::Heartbeat),
        ),
        (
            "server.ProtocolError",
            server(
                UNSEQUENCED,
                ServerMessage::ProtocolError {
                    reason: RejectReason::MalformedFrame.code(),
                    text: "unknown ClientMessage tag 11".to_owned(),
                },
            ),
        ),
        (
            "client.PostBlock",
            Example::Client(ClientMessage::PostBlock {
                client_order_id: 1004,
                account: 42,
                symbol: symbol(),
                side: Side::Sell,
                price_ticks: 90_00,
                quantity_t: 300_000,
                counterparty: 43,
            }),
        ),
        (
            "client.AcceptBlock",
            Example::Client(ClientMessage::AcceptBlock {
                client_order_id: 2001,
                account: 43,
                block_id: 5,
                quantity_t: 100_000,
            }),
        ),
        (
            "client.CancelBlock",
            Example::Client(ClientMessage::CancelBlock {
                client_order_id: 1005,
                account: 42,
                block_id: 5,
            }),
        ),
        (
            "server.BlockPosted",
            server(
                64,
                ServerMessage::BlockPosted {
                    client_order_id: 1004,
                    block_id: 5,
                    account: 42,
                    symbol: symbol(),
                    side: Side::Sell,
                    price_ticks: 90_00,
                    quantity_t: 300_000,
                    directed: true,
                },
            ),
        ),
        (
            "server.BlockDeal",
            server(
                65,
                ServerMessage::BlockDeal {
                    client_order_id: 1004,
                    block_id: 5,
                    deal_id: 6,
                    trade_id: 32,
                    account: 42,
                    symbol: symbol(),
                    side: Side::Sell,
                    price_ticks: 90_00,
                    quantity_t: 100_000,
                    remaining_t: 200_000,
                    status: 0,
                    time_ns: 1_741_932_000_000_000_000,
                },
            ),
        ),
        (
            "server.BlockCancelled",
            server(
                66,
                ServerMessage::BlockCancelled {
                    client_order_id: 1004,
                    block_id: 5,
                    account: 42,
                    cancelled_t: 200_000,
                    cause: cetx_engine::CancelCause::Expired as u8,
                },
            ),
        ),
        (
            "server.BlockRejected",
            server(
                67,
                ServerMessage::BlockRejected {
                    client_order_id: 1006,
                    request: 0,
                    reason: RejectReason::BlockBelowMinimum.code(),
                    text: "block below minimum".to_owned(),
                },
            ),
        ),
    ]
}

/// Every ```` ```hex NAME ```` block of the doc, as bytes: on each line, the
/// hex bytes before any `#` comment.
fn doc_examples() -> BTreeMap<String, Vec<u8>> {
    let mut blocks = BTreeMap::new();
    let mut lines = PROTOCOL_MD.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.strip_prefix("```hex ") else {
            continue;
        };
        let mut bytes = Vec::new();
        for line in lines.by_ref().take_while(|l| !l.starts_with("```")) {
            let data = line.split('#').next().unwrap_or_default();
            for token in data.split_whitespace() {
                assert_eq!(token.len(), 2, "{name}: {token:?} is not one hex byte");
                let byte = u8::from_str_radix(token, 16)
                    .unwrap_or_else(|_| panic!("{name}: {token:?} is not hex"));
                bytes.push(byte);
            }
        }
        let previous = blocks.insert(name.trim().to_owned(), bytes);
        assert!(previous.is_none(), "{name} appears twice in PROTOCOL.md");
    }
    blocks
}

fn encode(example: &Example) -> Vec<u8> {
    let mut dst = BytesMut::new();
    match example {
        Example::Client(message) => ClientCodec::default().encode(message, &mut dst).unwrap(),
        Example::Server(frame) => ServerCodec::default().encode(frame, &mut dst).unwrap(),
    }
    dst.to_vec()
}

fn decode(name: &str, bytes: &[u8]) -> Example {
    let mut src = BytesMut::from(bytes);
    let example = if name.starts_with("client.") {
        Example::Client(ServerCodec::default().decode(&mut src).unwrap().unwrap())
    } else {
        Example::Server(ClientCodec::default().decode(&mut src).unwrap().unwrap())
    };
    assert!(src.is_empty(), "{name}: bytes left after the frame");
    example
}

#[test]
fn the_doc_has_one_example_of_every_message() {
    let mut names: Vec<String> = examples()
        .iter()
        .map(|(name, example)| {
            let variant = match example {
                Example::Client(m) => format!("client.{}", m.name()),
                Example::Server(f) => format!("server.{}", f.message.name()),
            };
            assert_eq!(*name, variant);
            variant
        })
        .collect();
    names.sort();
    let in_doc: Vec<String> = doc_examples().into_keys().collect();
    assert_eq!(names, in_doc);
    // Reserved tags (numbers kept for messages of another build) have no
    // message and so no example.
    let clients = names.iter().filter(|n| n.starts_with("client.")).count();
    assert_eq!(
        clients,
        ClientMessage::TAG_COUNT as usize - ClientMessage::RESERVED_TAGS.len()
    );
    assert_eq!(
        names.len() - clients,
        ServerMessage::TAG_COUNT as usize - ServerMessage::RESERVED_TAGS.len()
    );
}

#[test]
fn every_message_encodes_to_the_bytes_in_the_doc() {
    let doc = doc_examples();
    for (name, example) in examples() {
        let expected = &doc[name];
        let encoded = encode(&example);
        assert_eq!(
            hex(&encoded),
            hex(expected),
            "{name}: the encoder and docs/PROTOCOL.md disagree"
        );
    }
}

#[test]
fn every_message_decodes_from_the_bytes_in_the_doc() {
    let doc = doc_examples();
    for (name, example) in examples() {
        assert_eq!(decode(name, &doc[name]), example, "{name}");
    }
}

#[test]
fn frames_arrive_in_any_pieces() {
    // All the server examples back to back, fed one byte at a time: each
    // frame comes out whole, exactly when its last byte arrives.
    let doc = doc_examples();
    let frames: Vec<(&str, Example)> = examples()
        .into_iter()
        .filter(|(name, _)| name.starts_with("server."))
        .collect();
    let stream: Vec<u8> = frames
        .iter()
        .flat_map(|(name, _)| doc[*name].clone())
        .collect();
    let mut codec = ClientCodec::default();
    let mut src = BytesMut::new();
    let mut decoded = Vec::new();
    for &byte in &stream {
        src.extend_from_slice(&[byte]);
        if let Some(frame) = codec.decode(&mut src).unwrap() {
            decoded.push(Example::Server(frame));
        }
    }
    assert_eq!(codec.decode_eof(&mut src).unwrap(), None);
    let expected: Vec<Example> = frames.into_iter().map(|(_, e)| e).collect();
    assert_eq!(decoded, expected);
}

/// The `| 101 | `UnknownInstrument` | … |` rows of a doc's "Reject reasons"
/// section (up to the next `## ` heading).
fn reject_rows(doc: &str) -> Vec<(u16, String)> {
    doc.lines()
        .skip_while(|line| *line != "## Reject reasons")
        .skip(1)
        .take_while(|line| !line.starts_with("## "))
        .filter_map(|line| {
            let mut cells = line.split('|').map(str::trim).skip(1);
            let code = cells.next()?.parse().ok()?;
            let name = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
            Some((code, name.to_owned()))
        })
        .collect()
}

#[test]
fn the_reject_tables_in_the_docs_match_the_code() {
    let expected: Vec<(u16, String)> = RejectReason::ALL
        .iter()
        .map(|r| (r.code(), format!("{r:?}")))
        .collect();
    assert_eq!(reject_rows(PROTOCOL_MD), expected, "docs/PROTOCOL.md");
    assert_eq!(reject_rows(ENGINE_MD), expected, "docs/ENGINE.md");
}

#[test]
fn the_python_client_agrees_with_the_doc() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/broker_client.py");
    let output = match Command::new("python3")
        .arg(&script)
        .arg("--selftest")
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var_os("CETX_REQUIRE_PYTHON").is_none(),
                "CETX_REQUIRE_PYTHON is set but python3 does not run"
            );
            eprintln!("python3 not found: the Python client's self-test did not run");
            return;
        }
        Err(e) => panic!("running python3: {e}"),
    };
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The payload of a server frame, in bytes.
fn payload_len(message: ServerMessage) -> usize {
    let mut bytes = BytesMut::new();
    ServerCodec::default()
        .encode(
            &ServerFrame {
                seq: UNSEQUENCED,
                message,
            },
            &mut bytes,
        )
        .expect("encodes");
    bytes.len() - 4
}

#[test]
fn the_largest_messages_are_the_sizes_the_numbers_table_gives() {
    let text = "x".repeat(cetx_gateway::protocol::MAX_TEXT_LEN);
    let order_rejected = payload_len(ServerMessage::OrderRejected {
        client_order_id: u64::MAX,
        request: RequestKind::Amend,
        reason: 202,
        text: text.clone(),
    });
    let login_rejected = payload_len(ServerMessage::LoginRejected {
        reason: 402,
        text: text.clone(),
    });
    let protocol_error = payload_len(ServerMessage::ProtocolError { reason: 414, text });
    assert_eq!(
        (order_rejected, login_rejected, protocol_error),
        (162, 150, 150)
    );
    // Sent before login, so within its limit.
    assert!(login_rejected <= cetx_gateway::protocol::MAX_FRAME_BEFORE_LOGIN);
    let numbers = PROTOCOL_MD
        .lines()
        .find(|line| line.starts_with("| `MAX_FRAME_AFTER_LOGIN`"))
        .expect("the Numbers table has MAX_FRAME_AFTER_LOGIN");
    assert!(
        numbers.contains("162 bytes") && numbers.contains("150"),
        "{numbers}"
    );
}

#[test]
fn the_tags_reserved_for_other_modes_are_unknown_tags() {
    for &tag in ClientMessage::RESERVED_TAGS
        .iter()
        .chain(&[ClientMessage::TAG_COUNT])
    {
        let mut frame = BytesMut::from(&[4u8, 0, 0, 0][..]);
        frame.extend_from_slice(&tag.to_le_bytes());
        let decoded = ServerCodec::default().decode(&mut frame);
        assert!(
            matches!(
                decoded,
                Err(cetx_gateway::codec::DecodeError::UnknownTag { tag: t, .. }) if t == tag
            ),
            "client tag {tag}: {decoded:?}"
        );
    }
    for &tag in ServerMessage::RESERVED_TAGS
        .iter()
        .chain(&[ServerMessage::TAG_COUNT])
    {
        let mut frame = BytesMut::from(&[12u8, 0, 0, 0][..]);
        frame.extend_from_slice(&[0; 8]);
        frame.extend_from_slice(&tag.to_le_bytes());
        let decoded = ClientCodec::default().decode(&mut frame);
        assert!(
            matches!(
                decoded,
                Err(cetx_gateway::codec::DecodeError::UnknownTag { tag: t, .. }) if t == tag
            ),
            "server tag {tag}: {decoded:?}"
        );
    }
}
