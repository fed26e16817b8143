//! docs/ADMIN.md's hex examples are what the codec writes and reads.

use bytes::BytesMut;
use cetx_engine::{Direction, ParticipantType, Status};
use cetx_gateway::codec::FrameCodec;
use cetx_gateway::protocol::admin::{
    AdminAction, AdminReply, AdminRequest, Listing, ADMIN_PROTOCOL_VERSION, MAX_ADMIN_FRAME,
};
use cetx_gateway::protocol::Secret;
use tokio_util::codec::{Decoder, Encoder};

const ADMIN_MD: &str = include_str!("../../docs/ADMIN.md");

/// The bytes of the doc's ```` ```hex NAME ```` block (hex before each `#`).
fn block(name: &str) -> Vec<u8> {
    let start = ADMIN_MD
        .find(&format!("```hex {name}\n"))
        .unwrap_or_else(|| panic!("docs/ADMIN.md has no block {name}"));
    ADMIN_MD[start..]
        .lines()
        .skip(1)
        .take_while(|line| !line.starts_with("```"))
        .flat_map(|line| {
            line.split('#')
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .map(|byte| u8::from_str_radix(byte, 16).expect("a hex byte"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// An operator's end: writes requests, reads replies.
type OperatorCodec = FrameCodec<AdminReply, AdminRequest>;
/// The server's end.
type ServerCodec = FrameCodec<AdminRequest, AdminReply>;

fn codec<In, Out>() -> FrameCodec<In, Out> {
    FrameCodec::new(MAX_ADMIN_FRAME, MAX_ADMIN_FRAME)
}

#[test]
fn the_requests_in_the_doc_are_the_codecs() {
    let examples = [
        (
            "admin.Login",
            AdminRequest::Login {
                protocol_version: ADMIN_PROTOCOL_VERSION,
                operator: 9,
                secret: Secret::new("s3cret"),
            },
        ),
        (
            "admin.Action",
            AdminRequest::Action {
                request_id: 7,
                action: AdminAction::Transfer {
                    reference: "REG-42".into(),
                    account: 1001,
                    symbol: Some("CEA2025".into()),
                    direction: Direction::In,
                    amount: 1000,
                },
            },
        ),
        (
            "admin.SetAccountStatus",
            AdminRequest::Action {
                request_id: 8,
                action: AdminAction::SetAccountStatus {
                    account: 1001,
                    status: Status::Suspended,
                },
            },
        ),
        (
            "admin.AddBroker",
            AdminRequest::Action {
                request_id: 9,
                action: AdminAction::AddBroker {
                    broker: 12,
                    name: "Twelfth".into(),
                    secret: Secret::new("s3cret12"),
                },
            },
        ),
        (
            "admin.ConfirmBlock",
            AdminRequest::Action {
                request_id: 11,
                action: AdminAction::ConfirmBlock { deal_id: 6 },
            },
        ),
        (
            "admin.RefuseBlock",
            AdminRequest::Action {
                request_id: 12,
                action: AdminAction::RefuseBlock { deal_id: 7 },
            },
        ),
        (
            "admin.SetBrokerStatus",
            AdminRequest::Action {
                request_id: 10,
                action: AdminAction::SetBrokerStatus {
                    broker: 12,
                    status: Status::Closed,
                },
            },
        ),
        (
            "admin.ListInstrument",
            AdminRequest::Action {
                request_id: 11,
                action: AdminAction::ListInstrument(Box::new(Listing {
                    eligible: Some(vec![
                        ParticipantType::ComplianceEntity,
                        ParticipantType::Institution,
                    ]),
                    ..Listing::cea(2026, 95_00)
                })),
            },
        ),
        (
            "admin.AnnounceAuction",
            AdminRequest::Action {
                request_id: 12,
                action: AdminAction::AnnounceAuction {
                    auction_id: 7,
                    symbol: "CEA2025".into(),
                    seller: 5000,
                    quantity_t: 150_000,
                    floor_ticks: 85_00,
                    ceiling_ticks: 99_00,
                    start_ns: 1_800_000_000_000_000_000,
                    end_ns: 1_800_000_003_000_000_000,
                    pricing: cetx_engine::Pricing::Uniform,
                },
            },
        ),
        (
            "admin.CloseAuction",
            AdminRequest::Action {
                request_id: 13,
                action: AdminAction::CloseAuction { auction_id: 7 },
            },
        ),
        (
            "admin.WithdrawAuction",
            AdminRequest::Action {
                request_id: 14,
                action: AdminAction::WithdrawAuction { auction_id: 7 },
            },
        ),
    ];
    for (name, message) in examples {
        let mut bytes = BytesMut::new();
        let mut operator: OperatorCodec = codec();
        operator.encode(message.clone(), &mut bytes).unwrap();
        assert_eq!(
            bytes.to_vec(),
            block(name),
            "{name}: {}",
            bytes
                .iter()
                .map(|b| format!("{b:02x} "))
                .collect::<String>()
        );
        let mut server: ServerCodec = codec();
        let mut src = BytesMut::from(&block(name)[..]);
        assert_eq!(server.decode(&mut src).unwrap(), Some(message), "{name}");
    }
}

/// `ReviseInstrument` (tag 9) carries a `Listing` as `ListInstrument`
/// (tag 8) does: the doc's example with the tag changed.
#[test]
fn a_revision_is_a_listing_under_tag_9() {
    let mut expected = block("admin.ListInstrument");
    assert_eq!(expected[16], 8, "the action's tag");
    expected[16] = 9;
    let message = AdminRequest::Action {
        request_id: 11,
        action: AdminAction::ReviseInstrument(Box::new(Listing {
            eligible: Some(vec![
                ParticipantType::ComplianceEntity,
                ParticipantType::Institution,
            ]),
            ..Listing::cea(2026, 95_00)
        })),
    };
    let mut bytes = BytesMut::new();
    let mut operator: OperatorCodec = codec();
    operator.encode(message.clone(), &mut bytes).unwrap();
    assert_eq!(bytes.to_vec(), expected);
    let mut server: ServerCodec = codec();
    assert_eq!(
        server.decode(&mut BytesMut::from(&expected[..])).unwrap(),
        Some(message)
    );
}

#[test]
fn the_replies_in_the_doc_are_the_codecs() {
    let reply = AdminReply::Applied {
        request_id: 7,
        seq: 1234,
    };
    let mut bytes = BytesMut::new();
    let mut server: ServerCodec = codec();
    server.encode(reply.clone(), &mut bytes).unwrap();
    assert_eq!(bytes.to_vec(), block("admin.Applied"));
    let mut operator: OperatorCodec = codec();
    let mut src = BytesMut::from(&block("admin.Applied")[..]);
    assert_eq!(operator.decode(&mut src).unwrap(), Some(reply));
}
