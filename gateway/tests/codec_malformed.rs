//! The codec against bytes that are not a valid frame: each kind of damage
//! gives its own named `DecodeError`, limits hold before anything is
//! allocated, and no input at all makes the decoder panic.
//!
//! Offsets are those of `docs/PROTOCOL.md`.

use bytes::BytesMut;
use cetx_engine::RejectReason;
use cetx_gateway::codec::{
    decode_payload, encode_payload, ClientCodec, DecodeError, EncodeError, FrameCodec, ServerCodec,
};
use cetx_gateway::protocol::{
    ClientMessage, FieldTooLong, OrderType, RequestKind, Secret, ServerFrame, ServerMessage, Side,
    TimeInForce, MAX_FRAME_AFTER_LOGIN, MAX_FRAME_BEFORE_LOGIN, MAX_SECRET_LEN, MAX_SYMBOL_LEN,
    MAX_TEXT_LEN,
};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

fn login() -> ClientMessage {
    ClientMessage::Login {
        protocol_version: 1,
        broker_id: 7,
        secret: Secret::new("s3cret"),
        resume_from_seq: 0,
    }
}

fn new_order() -> ClientMessage {
    ClientMessage::NewOrder {
        client_order_id: 1001,
        account: 42,
        symbol: "CEA2025".into(),
        side: Side::Sell,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Ioc,
        price_ticks: 97_50,
        quantity_t: 1000,
    }
}

fn fill() -> ServerFrame {
    ServerFrame {
        seq: 9,
        message: ServerMessage::Fill {
            client_order_id: 1001,
            order_id: 5,
            trade_id: 3,
            symbol: "CEA2025".into(),
            side: Side::Buy,
            price_ticks: 97_50,
            quantity_t: 10,
            leaves_t: 0,
            aggressor: true,
            time_ns: 1,
        },
    }
}

/// Frames a payload as it arrives on the wire.
fn framed(payload: &[u8]) -> BytesMut {
    let mut bytes = BytesMut::new();
    bytes.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// What the server's codec makes of one frame carrying `payload`, logged in.
fn server_decodes(payload: &[u8]) -> Result<Option<ClientMessage>, DecodeError> {
    let mut codec = ServerCodec::default();
    codec.set_logged_in(true);
    codec.decode(&mut framed(payload))
}

#[test]
fn garbage_is_refused_by_its_length() {
    // An HTTP request's first four bytes, read as a length, are ~542 MB.
    let mut src = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: cetx\r\n\r\n"[..]);
    let error = ServerCodec::default().decode(&mut src).unwrap_err();
    assert!(matches!(
        error,
        DecodeError::FrameTooLarge {
            len: 0x2054_4547,
            max: MAX_FRAME_BEFORE_LOGIN
        }
    ));
    assert_eq!(error.reject_reason(), Some(RejectReason::FrameTooLarge));
}

#[test]
fn garbage_within_a_frame_is_malformed() {
    let error = server_decodes(b"\xde\xad\xbe\xef\x00\x01\x02\x03").unwrap_err();
    assert!(matches!(
        error,
        DecodeError::UnknownTag {
            type_name: "ClientMessage",
            tag: 0xefbe_adde
        }
    ));
    assert_eq!(error.reject_reason(), Some(RejectReason::MalformedFrame));
}

#[test]
fn an_oversized_length_is_refused_before_the_payload_is_buffered() {
    let mut src = BytesMut::with_capacity(4);
    src.extend_from_slice(&1_000_000u32.to_le_bytes());
    let error = ServerCodec::default().decode(&mut src).unwrap_err();
    assert!(matches!(
        error,
        DecodeError::FrameTooLarge {
            len: 1_000_000,
            max: 256
        }
    ));
    assert!(
        src.capacity() < 1024,
        "the decoder reserved {}",
        src.capacity()
    );

    let mut src = BytesMut::new();
    src.extend_from_slice(&u32::MAX.to_le_bytes());
    let mut codec = ServerCodec::default();
    codec.set_logged_in(true);
    assert!(matches!(
        codec.decode(&mut src),
        Err(DecodeError::FrameTooLarge {
            max: MAX_FRAME_AFTER_LOGIN,
            ..
        })
    ));
}

#[test]
fn the_maximum_frame_is_smaller_before_login() {
    let over = u32::try_from(MAX_FRAME_BEFORE_LOGIN + 1).unwrap();
    let mut codec = ServerCodec::default();
    assert_eq!(codec.max_frame(), MAX_FRAME_BEFORE_LOGIN);
    assert!(matches!(
        codec.decode(&mut BytesMut::from(&over.to_le_bytes()[..])),
        Err(DecodeError::FrameTooLarge { .. })
    ));
    codec.set_logged_in(true);
    assert_eq!(codec.max_frame(), MAX_FRAME_AFTER_LOGIN);
    // Accepted now: the decoder waits for the payload, and reserves room for it.
    let mut src = BytesMut::from(&over.to_le_bytes()[..]);
    assert!(codec.decode(&mut src).unwrap().is_none());
    assert!(src.capacity() > 4 + MAX_FRAME_BEFORE_LOGIN);

    let custom = FrameCodec::<ClientMessage, ServerFrame>::new(16, 64);
    assert_eq!(custom.max_frame(), 16);
}

#[test]
#[should_panic(expected = "above the one after")]
fn the_maximum_before_login_may_not_exceed_the_one_after() {
    let _ = ServerCodec::new(512, 256);
}

#[test]
fn a_truncated_frame_waits_and_then_fails_at_the_end_of_the_stream() {
    let whole = framed(&encode_payload(&login()).unwrap());
    let mut src = BytesMut::from(&whole[..whole.len() - 3]);
    let mut codec = ServerCodec::default();
    assert!(codec.decode(&mut src).unwrap().is_none());
    let error = codec.decode_eof(&mut src).unwrap_err();
    assert!(
        matches!(error, DecodeError::UnexpectedEof { buffered } if buffered == whole.len() - 3)
    );
    assert_eq!(error.reject_reason(), None);
}

#[test]
fn a_payload_shorter_than_its_message_is_truncated() {
    let payload = encode_payload(&login()).unwrap();
    for cut in 0..payload.len() {
        assert!(
            matches!(server_decodes(&payload[..cut]), Err(DecodeError::Truncated)),
            "cut at {cut}"
        );
    }
}

#[test]
fn an_unknown_message_tag_is_named() {
    let error = server_decodes(&7u32.to_le_bytes()).unwrap_err();
    assert!(matches!(
        error,
        DecodeError::UnknownTag {
            type_name: "ClientMessage",
            tag: 7
        }
    ));
    let mut payload = 1u64.to_le_bytes().to_vec();
    payload.extend_from_slice(&10u32.to_le_bytes());
    assert!(matches!(
        decode_payload::<ServerFrame>(&payload),
        Err(DecodeError::UnknownTag {
            type_name: "ServerMessage",
            tag: 10
        })
    ));
}

#[test]
fn an_unknown_enum_tag_in_a_field_is_named() {
    let payload = encode_payload(&new_order()).unwrap();
    // side, order_type, time_in_force at 24 + 7, 28 + 7, 32 + 7.
    for (offset, type_name, tag) in [
        (31, "Side", 2u32),
        (35, "OrderType", 2),
        (39, "TimeInForce", 3),
    ] {
        let mut bad = payload.clone();
        bad[offset..offset + 4].copy_from_slice(&tag.to_le_bytes());
        let error = server_decodes(&bad).unwrap_err();
        assert!(
            matches!(error, DecodeError::UnknownTag { type_name: t, tag: g } if t == type_name && g == tag),
            "{error:?}"
        );
    }
    let rejected = ServerFrame {
        seq: 1,
        message: ServerMessage::OrderRejected {
            client_order_id: 1,
            request: RequestKind::Amend,
            reason: 302,
            text: String::new(),
        },
    };
    let mut bad = encode_payload(&rejected).unwrap();
    bad[20..24].copy_from_slice(&4u32.to_le_bytes());
    assert!(matches!(
        decode_payload::<ServerFrame>(&bad),
        Err(DecodeError::UnknownTag {
            type_name: "RequestKind",
            tag: 4
        })
    ));
}

#[test]
fn bytes_after_the_message_are_refused() {
    let mut payload = encode_payload(&ClientMessage::Heartbeat).unwrap();
    payload.extend_from_slice(&[0, 0]);
    assert!(matches!(
        server_decodes(&payload),
        Err(DecodeError::TrailingBytes { extra: 2 })
    ));
}

#[test]
fn invalid_utf8_is_refused() {
    let mut payload = encode_payload(&new_order()).unwrap();
    payload[24] = 0xff;
    assert!(matches!(
        server_decodes(&payload),
        Err(DecodeError::InvalidUtf8)
    ));
}

#[test]
fn a_bool_other_than_0_or_1_is_refused() {
    let mut payload = encode_payload(&fill()).unwrap();
    // aggressor at 72 + 7.
    assert_eq!(payload[79], 1);
    payload[79] = 2;
    assert!(matches!(
        decode_payload::<ServerFrame>(&payload),
        Err(DecodeError::InvalidBool { value: 2 })
    ));
}

#[test]
fn a_string_length_beyond_the_frame_is_truncated_before_allocating() {
    let payload = encode_payload(&new_order()).unwrap();
    // The symbol's bytes start at 24 of a 59-byte payload: 36 is one too many.
    for claimed in [36, 1000, 1 << 20, u64::from(u32::MAX), u64::MAX] {
        let mut bad = payload.clone();
        bad[16..24].copy_from_slice(&claimed.to_le_bytes());
        assert!(
            matches!(server_decodes(&bad), Err(DecodeError::Truncated)),
            "symbol length {claimed}"
        );
    }
}

#[test]
fn a_string_over_its_maximum_is_refused_on_both_ends() {
    let long_secret = ClientMessage::Login {
        protocol_version: 1,
        broker_id: 7,
        secret: Secret::new("x".repeat(MAX_SECRET_LEN + 1)),
        resume_from_seq: 0,
    };
    let too_long = FieldTooLong {
        field: "secret",
        len: MAX_SECRET_LEN + 1,
        max: MAX_SECRET_LEN,
    };
    assert!(matches!(
        encode_payload(&long_secret),
        Err(EncodeError::FieldTooLong(e)) if e == too_long
    ));
    // Built by hand, as a broker with no such check would send it.
    let mut payload = encode_payload(&login()).unwrap();
    payload.splice(10..24, (MAX_SECRET_LEN as u64 + 1).to_le_bytes());
    payload.splice(18..18, vec![b'x'; MAX_SECRET_LEN + 1]);
    assert!(matches!(
        server_decodes(&payload),
        Err(DecodeError::FieldTooLong(e)) if e == too_long
    ));

    let long_text = ServerFrame {
        seq: 0,
        message: ServerMessage::ProtocolError {
            reason: 414,
            text: "x".repeat(MAX_TEXT_LEN + 1),
        },
    };
    let mut dst = BytesMut::new();
    assert!(matches!(
        ServerCodec::default().encode(&long_text, &mut dst),
        Err(EncodeError::FieldTooLong(FieldTooLong {
            field: "text",
            ..
        }))
    ));
    assert!(dst.is_empty());

    let mut order = new_order();
    if let ClientMessage::NewOrder { symbol, .. } = &mut order {
        *symbol = "S".repeat(MAX_SYMBOL_LEN + 1).into();
    }
    assert!(matches!(
        encode_payload(&order),
        Err(EncodeError::FieldTooLong(FieldTooLong {
            field: "symbol",
            ..
        }))
    ));
}

#[test]
fn the_encoder_refuses_a_frame_above_the_maximum_and_writes_nothing() {
    let mut codec = FrameCodec::<ServerFrame, ClientMessage>::new(16, 64);
    let mut dst = BytesMut::from(&b"kept"[..]);
    let error = codec.encode(new_order(), &mut dst).unwrap_err();
    assert!(matches!(
        error,
        EncodeError::FrameTooLarge { len: 59, max: 16 }
    ));
    assert_eq!(&dst[..], b"kept");
    codec.set_logged_in(true);
    codec.encode(new_order(), &mut dst).unwrap();
    assert_eq!(dst.len(), 4 + 4 + 59);
}

fn string_up_to(max_bytes: usize) -> impl Strategy<Value = String> {
    any::<String>().prop_map(move |mut s| {
        while s.len() > max_bytes {
            s.pop();
        }
        s
    })
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn client_message() -> impl Strategy<Value = ClientMessage> {
    let order_type = prop_oneof![Just(OrderType::Limit), Just(OrderType::Market)];
    let tif = prop_oneof![
        Just(TimeInForce::Day),
        Just(TimeInForce::Ioc),
        Just(TimeInForce::Fok)
    ];
    prop_oneof![
        (
            any::<u16>(),
            any::<u32>(),
            string_up_to(MAX_SECRET_LEN),
            any::<u64>()
        )
            .prop_map(|(protocol_version, broker_id, secret, resume_from_seq)| {
                ClientMessage::Login {
                    protocol_version,
                    broker_id,
                    secret: Secret::new(secret),
                    resume_from_seq,
                }
            }),
        (
            any::<u64>(),
            any::<u32>(),
            string_up_to(MAX_SYMBOL_LEN),
            side(),
            order_type,
            tif,
            any::<i64>(),
            any::<u64>()
        )
            .prop_map(
                |(
                    client_order_id,
                    account,
                    symbol,
                    side,
                    order_type,
                    time_in_force,
                    price_ticks,
                    quantity_t,
                )| {
                    ClientMessage::NewOrder {
                        client_order_id,
                        account,
                        symbol: symbol.into(),
                        side,
                        order_type,
                        time_in_force,
                        price_ticks,
                        quantity_t,
                    }
                }
            ),
        any::<u64>().prop_map(|client_order_id| ClientMessage::Cancel { client_order_id }),
        (any::<u64>(), any::<i64>(), any::<u64>()).prop_map(
            |(client_order_id, price_ticks, quantity_t)| ClientMessage::Amend {
                client_order_id,
                price_ticks,
                quantity_t,
            }
        ),
        Just(ClientMessage::Heartbeat),
        Just(ClientMessage::Logout),
    ]
}

fn server_message() -> impl Strategy<Value = ServerMessage> {
    let request = prop_oneof![
        Just(RequestKind::NewOrder),
        Just(RequestKind::Cancel),
        Just(RequestKind::Amend)
    ];
    prop_oneof![
        (any::<u32>(), any::<u64>()).prop_map(|(trading_day, last_seq)| {
            ServerMessage::LoginAccepted {
                trading_day,
                last_seq,
            }
        }),
        (any::<u16>(), string_up_to(MAX_TEXT_LEN))
            .prop_map(|(reason, text)| ServerMessage::LoginRejected { reason, text }),
        (
            any::<u64>(),
            any::<u64>(),
            string_up_to(MAX_SYMBOL_LEN),
            side(),
            any::<i64>(),
            any::<u64>()
        )
            .prop_map(
                |(client_order_id, order_id, symbol, side, price_ticks, quantity_t)| {
                    ServerMessage::OrderAccepted {
                        client_order_id,
                        order_id,
                        symbol: symbol.into(),
                        side,
                        order_type: OrderType::Market,
                        time_in_force: TimeInForce::Fok,
                        price_ticks,
                        quantity_t,
                    }
                }
            ),
        (
            any::<u64>(),
            request,
            any::<u16>(),
            string_up_to(MAX_TEXT_LEN)
        )
            .prop_map(|(client_order_id, request, reason, text)| {
                ServerMessage::OrderRejected {
                    client_order_id,
                    request,
                    reason,
                    text,
                }
            }),
        (
            (
                any::<u64>(),
                any::<u64>(),
                any::<u64>(),
                string_up_to(MAX_SYMBOL_LEN)
            ),
            (
                side(),
                any::<i64>(),
                any::<u64>(),
                any::<u64>(),
                any::<bool>(),
                any::<i64>()
            )
        )
            .prop_map(
                |(
                    (client_order_id, order_id, trade_id, symbol),
                    (side, price_ticks, quantity_t, leaves_t, aggressor, time_ns),
                )| ServerMessage::Fill {
                    client_order_id,
                    order_id,
                    trade_id,
                    symbol: symbol.into(),
                    side,
                    price_ticks,
                    quantity_t,
                    leaves_t,
                    aggressor,
                    time_ns,
                }
            ),
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u8>()).prop_map(
            |(client_order_id, order_id, cancelled_t, cause)| ServerMessage::Cancelled {
                client_order_id,
                order_id,
                cancelled_t,
                cause,
            }
        ),
        (
            any::<u64>(),
            any::<u64>(),
            any::<i64>(),
            any::<u64>(),
            any::<bool>()
        )
            .prop_map(
                |(client_order_id, order_id, price_ticks, quantity_t, priority_kept)| {
                    ServerMessage::Amended {
                        client_order_id,
                        order_id,
                        price_ticks,
                        quantity_t,
                        priority_kept,
                    }
                }
            ),
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
            |(client_order_id, order_id, expired_t)| ServerMessage::Expired {
                client_order_id,
                order_id,
                expired_t,
            }
        ),
        Just(ServerMessage::Heartbeat),
        (any::<u16>(), string_up_to(MAX_TEXT_LEN))
            .prop_map(|(reason, text)| ServerMessage::ProtocolError { reason, text }),
    ]
}

/// Runs a codec over `bytes` to the end of the stream: it may give frames
/// and must end in `Ok(None)` or an error, and never panic.
fn drain<D: Decoder>(mut codec: D, bytes: &[u8]) {
    let mut src = BytesMut::from(bytes);
    while let Ok(Some(_)) = codec.decode_eof(&mut src) {}
}

proptest! {
    #[test]
    fn random_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..600), logged_in: bool) {
        let mut server = ServerCodec::default();
        server.set_logged_in(logged_in);
        drain(server, &bytes);
        let mut client = ClientCodec::default();
        client.set_logged_in(logged_in);
        drain(client, &bytes);
        let _ = decode_payload::<ClientMessage>(&bytes);
        let _ = decode_payload::<ServerFrame>(&bytes);
    }

    #[test]
    fn a_damaged_message_never_panics_the_decoder(
        message in client_message(),
        frame in (any::<u64>(), server_message()).prop_map(|(seq, message)| ServerFrame { seq, message }),
        at in any::<prop::sample::Index>(),
        byte: u8,
    ) {
        let mut payload = encode_payload(&message).unwrap();
        let i = at.index(payload.len());
        payload[i] = byte;
        let _ = decode_payload::<ClientMessage>(&payload);
        let mut payload = encode_payload(&frame).unwrap();
        let i = at.index(payload.len());
        payload[i] = byte;
        let _ = decode_payload::<ServerFrame>(&payload);
    }

    #[test]
    fn client_messages_round_trip(message in client_message()) {
        let mut codec = ClientCodec::default();
        codec.set_logged_in(true);
        let mut wire = BytesMut::new();
        codec.encode(&message, &mut wire).unwrap();
        let mut server = ServerCodec::default();
        server.set_logged_in(true);
        prop_assert_eq!(server.decode(&mut wire).unwrap(), Some(message));
        prop_assert!(wire.is_empty());
    }

    #[test]
    fn server_frames_round_trip(seq: u64, message in server_message()) {
        let frame = ServerFrame { seq, message };
        let mut server = ServerCodec::default();
        server.set_logged_in(true);
        let mut wire = BytesMut::new();
        server.encode(&frame, &mut wire).unwrap();
        let mut client = ClientCodec::default();
        client.set_logged_in(true);
        prop_assert_eq!(client.decode(&mut wire).unwrap(), Some(frame));
        prop_assert!(wire.is_empty());
    }
}
