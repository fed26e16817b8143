//! cetx-gateway: the wire protocol, the TCP server and the broker client.
//!
//! Not built yet: this crate holds only what makes the workspace build
//! (issue "Gateway: binary TCP protocol, sessions, server runtime, broker
//! client").
