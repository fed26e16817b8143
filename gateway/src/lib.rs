//! cetx-gateway: the wire protocol, the TCP server and the broker client.
//!
//! Brokers talk to the exchange over TCP in length-prefixed bincode frames;
//! `docs/PROTOCOL.md` is the byte-by-byte contract.
//!
//! # Layout
//!
//! - [`protocol`]: the messages ([`protocol::ClientMessage`],
//!   [`protocol::ServerFrame`] / [`protocol::ServerMessage`]) and the
//!   protocol's numbers (version, frame and string limits, heartbeat).
//! - [`codec`]: messages ↔ bytes. bincode payloads in `u32`-length frames,
//!   bounded before allocation; the only module that names bincode.
//! - [`replay`]: `cetx replay`, settlement reports and the clearing file
//!   from a journal, reconciled with the replayed engine.
//!
//! Data flows `socket → codec (decode) → protocol::ClientMessage → session →
//! engine`, and back `engine events → protocol::ServerFrame → codec (encode)
//! → socket`.

pub mod codec;
pub mod config;
pub mod protocol;
pub mod replay;
