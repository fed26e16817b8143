//! Bytes on the wire: bincode payloads inside length-prefixed frames.
//!
//! This is the only module that names `bincode`. A frame is a `u32`
//! little-endian payload length followed by the payload, which is one message
//! encoded with bincode 2 (serde), fixed-width little-endian integers. The
//! rules a broker in another language needs are in `docs/PROTOCOL.md`.
//!
//! Decoding trusts nothing it reads:
//! - the length prefix is checked against the session's maximum (smaller
//!   before login) before a byte of the payload is buffered;
//! - the payload is decoded from exactly the frame's bytes, so no field,
//!   string or length can reach past the frame, and a string is checked
//!   against the bytes present before it is allocated (bincode's decode limit
//!   stands behind that as a second fence);
//! - bytes left over after the message, unknown tags, invalid UTF-8 and
//!   strings over their maximum length are each a named [`DecodeError`].
//!
//! [`FrameCodec`] is the `tokio_util` framing codec; [`ServerCodec`] is the
//! server's end of a connection and [`ClientCodec`] a broker's.
//!
//! [`encode_snapshot`] and [`decode_snapshot`] use the same encoding, without
//! the frame limit, for the gateway's state in a snapshot file (the runtime
//! frames and checksums it).

use std::io;
use std::marker::PhantomData;

use bincode::config::{Configuration, Fixint, Limit, LittleEndian};
use bytes::{Buf, BufMut, BytesMut};
use cetx_engine::RejectReason;
use serde::{Deserialize, Serialize};
use tokio_util::codec::{Decoder, Encoder, Framed};

use crate::protocol::admin::{AdminReply, AdminRequest};
use crate::protocol::feed::{FeedMessage, FeedRequest};
use crate::protocol::{
    ClientMessage, FieldTooLong, ServerFrame, UnknownTag, MAX_FRAME_AFTER_LOGIN,
    MAX_FRAME_BEFORE_LOGIN,
};

/// Bytes of the length prefix in front of every payload.
pub const LENGTH_PREFIX_LEN: usize = 4;

/// The largest maximum frame size a [`FrameCodec`] may be built with, and
/// bincode's decode limit: no decode claims more bytes than this.
pub const MAX_FRAME_CEILING: usize = 64 * 1024;

/// The bincode configuration of the wire: fixed-width little-endian integers
/// and a decode limit.
type WireConfig = Configuration<LittleEndian, Fixint, Limit<MAX_FRAME_CEILING>>;

const fn wire_config() -> WireConfig {
    bincode::config::standard()
        .with_fixed_int_encoding()
        .with_little_endian()
        .with_limit::<MAX_FRAME_CEILING>()
}

/// Why bytes from the wire could not be taken as a message. Every one ends
/// the connection; [`DecodeError::reject_reason`] gives the code for the
/// `ProtocolError` sent before closing.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The length prefix announces a frame above the session's maximum; the
    /// payload was not read.
    #[error("frame of {len} bytes is above the maximum of {max}{}", tls_hint(*len))]
    FrameTooLarge {
        /// The announced payload length.
        len: usize,
        /// The session's maximum.
        max: usize,
    },
    /// The payload ends inside the message: a field, or the bytes a string's
    /// length announces, runs past the end of the frame.
    #[error("the frame ends inside the message (a field or string runs past its end)")]
    Truncated,
    /// A tag names no variant of its enum.
    #[error("unknown {type_name} tag {tag}")]
    UnknownTag {
        /// The enum, e.g. `ClientMessage` or `Side`.
        type_name: &'static str,
        /// The tag found.
        tag: u32,
    },
    /// The message ended before the frame did.
    #[error("{extra} bytes after the end of the message")]
    TrailingBytes {
        /// Bytes left over.
        extra: usize,
    },
    /// A string is not valid UTF-8.
    #[error("a string is not valid UTF-8")]
    InvalidUtf8,
    /// A `bool` byte is neither 0 nor 1.
    #[error("a bool is {value}, not 0 or 1")]
    InvalidBool {
        /// The byte found.
        value: u8,
    },
    /// A string is longer than its field allows.
    #[error("{0}")]
    FieldTooLong(FieldTooLong),
    /// The payload is not a valid message for a reason not named above.
    #[error("invalid message: {detail}")]
    Invalid {
        /// bincode's description.
        detail: String,
    },
    /// The connection closed in the middle of a frame.
    #[error("the connection closed {buffered} bytes into a frame")]
    UnexpectedEof {
        /// Bytes of the unfinished frame that had arrived.
        buffered: usize,
    },
    /// Reading from the connection failed.
    #[error("reading the connection: {0}")]
    Io(#[from] io::Error),
}

/// What to say of a frame length whose bytes are a TLS record's start
/// (an alert or a handshake, then version 3.x): the other side speaks TLS,
/// and this one does not, or not yet.
fn tls_hint(len: usize) -> &'static str {
    let starts_tls = matches!(len & 0xff, 0x15 | 0x16) && (len >> 8) & 0xff == 0x03;
    if starts_tls {
        " (its first bytes are a TLS record's: the other side speaks TLS; cetx order, block, bid and cetx-load speak plain TCP only, cetx admin TLS with --tls-ca; a server needs [server.tls] or [admin.tls])"
    } else {
        ""
    }
}

impl DecodeError {
    /// The reason to put in the `ProtocolError` sent before closing, or
    /// `None` when the connection itself is gone and nothing can be sent.
    #[must_use]
    pub const fn reject_reason(&self) -> Option<RejectReason> {
        match self {
            Self::FrameTooLarge { .. } => Some(RejectReason::FrameTooLarge),
            Self::Truncated
            | Self::UnknownTag { .. }
            | Self::TrailingBytes { .. }
            | Self::InvalidUtf8
            | Self::InvalidBool { .. }
            | Self::FieldTooLong(_)
            | Self::Invalid { .. } => Some(RejectReason::MalformedFrame),
            Self::UnexpectedEof { .. } | Self::Io(_) => None,
        }
    }

    fn from_bincode(error: bincode::error::DecodeError) -> Self {
        use bincode::error::DecodeError as E;
        match error {
            // Reads stop at the end of the frame's slice; a length above the
            // decode limit could not fit in any frame either.
            E::UnexpectedEnd { .. } | E::LimitExceeded | E::OutsideUsizeRange(_) => Self::Truncated,
            E::UnexpectedVariant {
                type_name, found, ..
            } => Self::UnknownTag {
                type_name,
                tag: found,
            },
            E::Utf8 { .. } => Self::InvalidUtf8,
            E::InvalidBooleanValue(value) => Self::InvalidBool { value },
            // Serde errors arrive as text; the protocol's own enums write
            // theirs with `UnknownTag`, which reads it back.
            E::OtherString(text) => match UnknownTag::parse(&text) {
                Some(UnknownTag { type_name, tag }) => Self::UnknownTag { type_name, tag },
                None => Self::Invalid { detail: text },
            },
            other => Self::Invalid {
                detail: format!("{other:?}"),
            },
        }
    }
}

/// Why a message could not be put on the wire. The message was not written.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The encoded message is above the session's maximum frame size.
    #[error("message of {len} bytes is above the maximum frame of {max}")]
    FrameTooLarge {
        /// The encoded payload's length.
        len: usize,
        /// The session's maximum.
        max: usize,
    },
    /// A string is longer than its field allows.
    #[error("{0}")]
    FieldTooLong(FieldTooLong),
    /// bincode could not encode the message.
    #[error("encoding: {detail}")]
    Bincode {
        /// bincode's description.
        detail: String,
    },
    /// Writing to the connection failed.
    #[error("writing the connection: {0}")]
    Io(#[from] io::Error),
}

/// A top-level message type of the wire: what one frame carries.
pub trait WireMessage: Serialize + for<'de> Deserialize<'de> {
    /// Name of the enum whose tag the payload carries.
    const TAG_NAME: &'static str;
    /// Where that `u32` tag sits in the payload.
    const TAG_OFFSET: usize;
    /// How many variants the enum has.
    const TAG_COUNT: u32;
    /// Tags below [`Self::TAG_COUNT`] that this build decodes to no
    /// message: numbers reserved for messages of another build.
    const RESERVED_TAGS: &'static [u32] = &[];

    /// Checks string lengths after decoding and before encoding.
    ///
    /// # Errors
    ///
    /// The first field that is too long.
    fn validate(&self) -> Result<(), FieldTooLong>;
}

impl WireMessage for FeedRequest {
    const TAG_NAME: &'static str = "FeedRequest";
    const TAG_OFFSET: usize = 0;
    const TAG_COUNT: u32 = Self::TAG_COUNT;

    fn validate(&self) -> Result<(), FieldTooLong> {
        Self::validate(self)
    }
}

impl WireMessage for FeedMessage {
    const TAG_NAME: &'static str = "FeedMessage";
    const TAG_OFFSET: usize = 0;
    const TAG_COUNT: u32 = Self::TAG_COUNT;
    const RESERVED_TAGS: &'static [u32] = Self::RESERVED_TAGS;

    fn validate(&self) -> Result<(), FieldTooLong> {
        Self::validate(self)
    }
}

impl WireMessage for AdminRequest {
    const TAG_NAME: &'static str = "AdminRequest";
    const TAG_OFFSET: usize = 0;
    const TAG_COUNT: u32 = Self::TAG_COUNT;

    fn validate(&self) -> Result<(), FieldTooLong> {
        Self::validate(self)
    }
}

impl WireMessage for AdminReply {
    const TAG_NAME: &'static str = "AdminReply";
    const TAG_OFFSET: usize = 0;
    const TAG_COUNT: u32 = Self::TAG_COUNT;

    fn validate(&self) -> Result<(), FieldTooLong> {
        Self::validate(self)
    }
}

impl WireMessage for ClientMessage {
    const TAG_NAME: &'static str = "ClientMessage";
    const TAG_OFFSET: usize = 0;
    const TAG_COUNT: u32 = Self::TAG_COUNT;
    const RESERVED_TAGS: &'static [u32] = Self::RESERVED_TAGS;

    fn validate(&self) -> Result<(), FieldTooLong> {
        Self::validate(self)
    }
}

impl WireMessage for ServerFrame {
    const TAG_NAME: &'static str = "ServerMessage";
    // After the `u64` sequence number.
    const TAG_OFFSET: usize = 8;
    const TAG_COUNT: u32 = crate::protocol::ServerMessage::TAG_COUNT;
    const RESERVED_TAGS: &'static [u32] = crate::protocol::ServerMessage::RESERVED_TAGS;

    fn validate(&self) -> Result<(), FieldTooLong> {
        self.message.validate()
    }
}

/// The bincode configuration of snapshot files: the wire's, without a
/// limit (the input is one checked file, read whole).
const fn snapshot_config() -> Configuration<LittleEndian, Fixint> {
    bincode::config::standard()
        .with_fixed_int_encoding()
        .with_little_endian()
}

/// Encodes a value for a snapshot file.
///
/// # Errors
/// [`EncodeError::Bincode`] if bincode fails.
pub fn encode_snapshot<T: Serialize>(value: &T) -> Result<Vec<u8>, EncodeError> {
    bincode::serde::encode_to_vec(value, snapshot_config()).map_err(|e| EncodeError::Bincode {
        detail: format!("{e:?}"),
    })
}

/// Decodes a value from a snapshot file's payload, which must hold exactly
/// it.
///
/// # Errors
/// A [`DecodeError`] saying what is wrong.
pub fn decode_snapshot<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let (value, used): (T, usize) = bincode::serde::decode_from_slice(bytes, snapshot_config())
        .map_err(DecodeError::from_bincode)?;
    if used != bytes.len() {
        return Err(DecodeError::TrailingBytes {
            extra: bytes.len() - used,
        });
    }
    Ok(value)
}

/// Encodes one message as a payload, without the length prefix.
///
/// # Errors
///
/// [`EncodeError::FieldTooLong`] for a string over its maximum;
/// [`EncodeError::Bincode`] if bincode fails.
pub fn encode_payload<T: WireMessage>(message: &T) -> Result<Vec<u8>, EncodeError> {
    message.validate().map_err(EncodeError::FieldTooLong)?;
    bincode::serde::encode_to_vec(message, wire_config()).map_err(|e| EncodeError::Bincode {
        detail: format!("{e:?}"),
    })
}

/// Decodes one payload (a frame without its length prefix), which must hold
/// exactly one message.
///
/// # Errors
///
/// Any [`DecodeError`] but `FrameTooLarge`, `UnexpectedEof` and `Io`.
pub fn decode_payload<T: WireMessage>(payload: &[u8]) -> Result<T, DecodeError> {
    // Name an unknown message tag precisely, rather than through serde's
    // generic "invalid value" text.
    if let Some(tag_bytes) = payload.get(T::TAG_OFFSET..T::TAG_OFFSET + 4) {
        let tag = u32::from_le_bytes([tag_bytes[0], tag_bytes[1], tag_bytes[2], tag_bytes[3]]);
        if tag >= T::TAG_COUNT || T::RESERVED_TAGS.contains(&tag) {
            return Err(DecodeError::UnknownTag {
                type_name: T::TAG_NAME,
                tag,
            });
        }
    }
    let (message, used): (T, usize) =
        bincode::serde::borrow_decode_from_slice(payload, wire_config())
            .map_err(DecodeError::from_bincode)?;
    if used != payload.len() {
        return Err(DecodeError::TrailingBytes {
            extra: payload.len() - used,
        });
    }
    message.validate().map_err(DecodeError::FieldTooLong)?;
    Ok(message)
}

/// The framing codec for one end of a connection: decodes `In`, encodes
/// `Out`.
///
/// It starts logged out, with the smaller maximum frame size; the session
/// calls [`FrameCodec::set_logged_in`] once the login succeeded (the server
/// after sending `LoginAccepted`, a broker on receiving it). The maximum
/// applies to frames both read and written.
#[derive(Debug)]
pub struct FrameCodec<In, Out> {
    max_frame_before_login: usize,
    max_frame_after_login: usize,
    logged_in: bool,
    messages: PhantomData<fn(Out) -> In>,
}

/// The server's end of a connection: reads what brokers send, writes
/// numbered server messages.
pub type ServerCodec = FrameCodec<ClientMessage, ServerFrame>;

/// A broker's end of a connection.
pub type ClientCodec = FrameCodec<ServerFrame, ClientMessage>;

/// The feed server's end of a market-data connection.
pub type FeedServerCodec = FrameCodec<FeedRequest, FeedMessage>;

/// A feed subscriber's end.
pub type FeedClientCodec = FrameCodec<FeedMessage, FeedRequest>;

// Not derived: the message types need not be `Clone` for the codec to be.
impl<In, Out> Clone for FrameCodec<In, Out> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<In, Out> Copy for FrameCodec<In, Out> {}

impl<In, Out> FrameCodec<In, Out> {
    /// A codec with these maximum payload sizes, in bytes.
    ///
    /// # Panics
    ///
    /// If `max_frame_before_login` is above `max_frame_after_login`, or
    /// `max_frame_after_login` is above [`MAX_FRAME_CEILING`].
    #[must_use]
    pub fn new(max_frame_before_login: usize, max_frame_after_login: usize) -> Self {
        assert!(
            max_frame_before_login <= max_frame_after_login,
            "the maximum frame before login ({max_frame_before_login}) is above the one after ({max_frame_after_login})"
        );
        assert!(
            max_frame_after_login <= MAX_FRAME_CEILING,
            "the maximum frame after login ({max_frame_after_login}) is above {MAX_FRAME_CEILING}"
        );
        Self {
            max_frame_before_login,
            max_frame_after_login,
            logged_in: false,
            messages: PhantomData,
        }
    }

    /// Switches to the maximum frame size after login, or back.
    pub fn set_logged_in(&mut self, logged_in: bool) {
        self.logged_in = logged_in;
    }

    /// Whether the session has logged in.
    #[must_use]
    pub const fn is_logged_in(&self) -> bool {
        self.logged_in
    }

    /// The largest payload accepted now, in bytes.
    #[must_use]
    pub const fn max_frame(&self) -> usize {
        if self.logged_in {
            self.max_frame_after_login
        } else {
            self.max_frame_before_login
        }
    }
}

/// The next whole frame already in a connection's read buffer, decoded,
/// without reading the socket: `Ok(None)` when the buffer holds no whole
/// frame. A session that has just read a chunk takes every frame in it this
/// way, without a trip through the scheduler and its timers per frame.
///
/// # Errors
/// As the codec's [`Decoder::decode`].
pub fn decode_buffered<T, In: WireMessage, Out>(
    conn: &mut Framed<T, FrameCodec<In, Out>>,
) -> Result<Option<In>, DecodeError> {
    let mut codec = *conn.codec();
    codec.decode(conn.read_buffer_mut())
}

impl<In, Out> Default for FrameCodec<In, Out> {
    /// [`MAX_FRAME_BEFORE_LOGIN`] and [`MAX_FRAME_AFTER_LOGIN`].
    fn default() -> Self {
        Self::new(MAX_FRAME_BEFORE_LOGIN, MAX_FRAME_AFTER_LOGIN)
    }
}

impl<In: WireMessage, Out> Decoder for FrameCodec<In, Out> {
    type Item = In;
    type Error = DecodeError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<In>, DecodeError> {
        let Some(prefix) = src.get(..LENGTH_PREFIX_LEN) else {
            return Ok(None);
        };
        let announced = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        let max = self.max_frame();
        // A length that does not fit in usize is certainly above the maximum.
        let len = usize::try_from(announced).unwrap_or(usize::MAX);
        if len > max {
            return Err(DecodeError::FrameTooLarge { len, max });
        }
        let frame_len = LENGTH_PREFIX_LEN + len;
        if src.len() < frame_len {
            // Bounded by the check above.
            src.reserve(frame_len - src.len());
            return Ok(None);
        }
        src.advance(LENGTH_PREFIX_LEN);
        let payload = src.split_to(len);
        decode_payload(&payload).map(Some)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<In>, DecodeError> {
        match self.decode(src)? {
            Some(message) => Ok(Some(message)),
            None if src.is_empty() => Ok(None),
            None => Err(DecodeError::UnexpectedEof {
                buffered: src.len(),
            }),
        }
    }
}

impl<In, Out: WireMessage> Encoder<&Out> for FrameCodec<In, Out> {
    type Error = EncodeError;

    fn encode(&mut self, message: &Out, dst: &mut BytesMut) -> Result<(), EncodeError> {
        message.validate().map_err(EncodeError::FieldTooLong)?;
        let start = dst.len();
        dst.put_u32_le(0);
        let written = bincode::serde::encode_into_std_write(
            message,
            &mut (&mut *dst).writer(),
            wire_config(),
        );
        let len = match written {
            Ok(len) => len,
            Err(e) => {
                dst.truncate(start);
                return Err(EncodeError::Bincode {
                    detail: format!("{e:?}"),
                });
            }
        };
        let max = self.max_frame();
        let prefix = match u32::try_from(len) {
            Ok(prefix) if len <= max => prefix,
            _ => {
                dst.truncate(start);
                return Err(EncodeError::FrameTooLarge { len, max });
            }
        };
        dst[start..start + LENGTH_PREFIX_LEN].copy_from_slice(&prefix.to_le_bytes());
        Ok(())
    }
}

impl<In, Out: WireMessage> Encoder<Out> for FrameCodec<In, Out> {
    type Error = EncodeError;

    fn encode(&mut self, message: Out, dst: &mut BytesMut) -> Result<(), EncodeError> {
        self.encode(&message, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_length_that_is_a_tls_record_says_so() {
        // A TLS alert (15 03 03 00 ...) and a ClientHello (16 03 01 02 ...)
        // read as little-endian lengths.
        for bytes in [[0x15, 0x03, 0x03, 0x00], [0x16, 0x03, 0x01, 0x02]] {
            let len = u32::from_le_bytes(bytes) as usize;
            let said = DecodeError::FrameTooLarge { len, max: 256 }.to_string();
            assert!(said.contains("speaks TLS"), "{said}");
        }
        let said = DecodeError::FrameTooLarge {
            len: 5000,
            max: 4096,
        }
        .to_string();
        assert_eq!(said, "frame of 5000 bytes is above the maximum of 4096");
    }
}
