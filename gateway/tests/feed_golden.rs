//! The feed's codec against `docs/MARKET_DATA.md`: every example encodes
//! to exactly the hex bytes the doc shows (frame length prefix included),
//! and decodes back from them. The hex blocks are read out of the doc.

use bytes::BytesMut;
use cetx_gateway::codec::{FeedClientCodec, FeedServerCodec};
use cetx_gateway::protocol::feed::{
    DayFigures, FeedMessage, FeedRequest, OrderEntry, MAX_FEED_FRAME,
};
use cetx_gateway::protocol::{Side, TradingPhase};
use tokio_util::codec::{Decoder, Encoder};

const MARKET_DATA_MD: &str = include_str!("../../docs/MARKET_DATA.md");

/// The hex block named `name` in the doc, as bytes.
fn block(name: &str) -> Option<Vec<u8>> {
    let start = MARKET_DATA_MD.find(&format!("```hex {name}\n"))?;
    let body = &MARKET_DATA_MD[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .collect::<Vec<_>>()
        .join(" ");
    let digits: String = body.split_whitespace().collect();
    Some(
        (0..digits.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex"))
            .collect(),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn day() -> DayFigures {
    DayFigures {
        open_ticks: 85_00,
        high_ticks: 86_10,
        low_ticks: 84_90,
        last_ticks: 85_50,
        vwap_ticks: 85_42,
        volume_t: 1_200,
        turnover_fen: 10_250_400,
        trade_count: 17,
    }
}

fn requests() -> Vec<(&'static str, FeedRequest)> {
    vec![
        (
            "request.Subscribe",
            FeedRequest::Subscribe {
                depth: 5,
                symbols: vec!["CEA2025".into()],
            },
        ),
        ("request.Heartbeat", FeedRequest::Heartbeat),
        (
            "request.SubscribeOrders",
            FeedRequest::SubscribeOrders {
                depth: 5,
                symbols: vec!["CEA2025".into()],
            },
        ),
    ]
}

fn messages() -> Vec<(&'static str, FeedMessage)> {
    vec![
        (
            "feed.Snapshot",
            FeedMessage::Snapshot {
                instrument: 0,
                symbol: "CEA2025".into(),
                seq: 1,
                phase: TradingPhase::Continuous,
                reference_ticks: 85_00,
                floor_ticks: 76_50,
                ceiling_ticks: 93_50,
                step_ticks: 1,
                day: day(),
                bid_levels: 1,
                ask_levels: 0,
            },
        ),
        (
            "feed.Level",
            FeedMessage::Level {
                instrument: 0,
                seq: 2,
                side: Side::Buy,
                price_ticks: 85_40,
                quantity_t: 300,
                orders: 2,
            },
        ),
        (
            "feed.Trade",
            FeedMessage::Trade {
                instrument: 0,
                seq: 3,
                trade_id: 18,
                price_ticks: 85_40,
                quantity_t: 100,
                aggressor: Side::Sell,
                time_ns: 1_752_629_400_000_000_000,
            },
        ),
        (
            "feed.Statistics",
            FeedMessage::Statistics {
                instrument: 0,
                seq: 4,
                day: day(),
            },
        ),
        (
            "feed.Phase",
            FeedMessage::Phase {
                instrument: 0,
                seq: 5,
                phase: TradingPhase::Break,
            },
        ),
        (
            "feed.Band",
            FeedMessage::Band {
                instrument: 0,
                seq: 6,
                reference_ticks: 85_42,
                floor_ticks: 76_88,
                ceiling_ticks: 93_96,
            },
        ),
        (
            "feed.EndOfDay",
            FeedMessage::EndOfDay {
                instrument: 0,
                seq: 7,
                trading_day: 3,
                close_ticks: 85_42,
                day: day(),
                next_floor_ticks: 76_88,
                next_ceiling_ticks: 93_96,
            },
        ),
        (
            "feed.Rejected",
            FeedMessage::Rejected {
                reason: 410,
                text: "unknown symbol".into(),
            },
        ),
        ("feed.Heartbeat", FeedMessage::Heartbeat),
        (
            "feed.Orders",
            FeedMessage::Orders {
                instrument: 0,
                seq: 8,
                side: Side::Sell,
                price_ticks: 85_60,
                order_count: 2,
                orders: vec![
                    OrderEntry {
                        order_id: 9_001,
                        quantity_t: 200,
                    },
                    OrderEntry {
                        order_id: 9_044,
                        quantity_t: 50,
                    },
                ],
            },
        ),
        (
            "feed.BlockOffer",
            FeedMessage::BlockOffer {
                instrument: 0,
                seq: 7,
                block_id: 5,
                side: Side::Sell,
                price_ticks: 90_00,
                quantity_t: 300_000,
            },
        ),
        (
            "feed.AuctionAnnounced",
            FeedMessage::AuctionAnnounced {
                instrument: 0,
                seq: 8,
                auction_id: 7,
                quantity_t: 150_000,
                floor_ticks: 85_00,
                ceiling_ticks: 99_00,
                start_ns: 1_800_000_000_000_000_000,
                end_ns: 1_800_000_003_000_000_000,
                pricing: 0,
            },
        ),
        (
            "feed.AuctionResult",
            FeedMessage::AuctionResult {
                instrument: 0,
                seq: 9,
                auction_id: 7,
                pricing: 0,
                clearing_ticks: 92_00,
                sold_t: 150_000,
                unsold_t: 0,
                turnover_fen: 92_00 * 150_000,
            },
        ),
    ]
}

fn codecs() -> (FeedClientCodec, FeedServerCodec) {
    let mut client = FeedClientCodec::new(MAX_FEED_FRAME, MAX_FEED_FRAME);
    client.set_logged_in(true);
    let mut server = FeedServerCodec::new(MAX_FEED_FRAME, MAX_FEED_FRAME);
    server.set_logged_in(true);
    (client, server)
}

#[test]
fn every_example_in_the_doc_is_the_codec_s_bytes() {
    let (mut client, mut server) = codecs();
    let mut wrong = Vec::new();
    for (name, request) in requests() {
        let mut bytes = BytesMut::new();
        client.encode(&request, &mut bytes).unwrap();
        match block(name) {
            Some(doc) if doc == bytes[..] => {
                let decoded = server.decode(&mut BytesMut::from(&doc[..])).unwrap();
                assert_eq!(decoded, Some(request), "{name}");
            }
            _ => wrong.push(format!("```hex {name}\n{}\n```", hex(&bytes))),
        }
    }
    for (name, message) in messages() {
        let mut bytes = BytesMut::new();
        server.encode(&message, &mut bytes).unwrap();
        match block(name) {
            Some(doc) if doc == bytes[..] => {
                let decoded = client.decode(&mut BytesMut::from(&doc[..])).unwrap();
                assert_eq!(decoded, Some(message), "{name}");
            }
            _ => wrong.push(format!("```hex {name}\n{}\n```", hex(&bytes))),
        }
    }
    assert!(
        wrong.is_empty(),
        "the doc should show:\n{}",
        wrong.join("\n")
    );
}
