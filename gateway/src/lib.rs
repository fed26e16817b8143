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
//! - [`config`]: the server's TOML config, its checks and the genesis of a
//!   fresh market.
//! - [`request`]: a broker's order message → the runtime's
//!   [`runtime::Request`], parsed once at the session.
//! - [`reports`]: journal entries → each broker's numbered order reports,
//!   a pure function of the journal, so a restart rebuilds them exactly.
//! - [`runtime`]: the threads behind the sessions: the bounded queue, the
//!   engine thread (sequencer and calendar scheduler), and the journal
//!   writer, whose thread runs the router that sends reports (and
//!   publishes market data) once they are durable.
//! - [`market_data`]: the public market rebuilt from durable entries, and
//!   the feed server (`docs/MARKET_DATA.md`).
//! - [`web`]: the read-only web view of the market (`[http]`).
//! - [`exchange_time`]: journal and feed times as the calendar's local
//!   time, for people (the web view and `cetx watch`).
//! - [`metrics`]: the Prometheus endpoint (`[metrics]`), read at each
//!   scrape from the counters the runtime, the journal and the server
//!   keep.
//! - [`server`]: the TCP listener: one session task per connection,
//!   graceful shutdown.
//! - `admission`: the slots a connection holds: a few pending-login slots
//!   (a share per source address), traded for a session slot at login.
//! - `backoff`: failed logins per address and broker: growing delays,
//!   then a refusal for a while (417).
//! - [`tls`]: TLS on the broker port (`[server.tls]`) and in the client,
//!   with rustls; [`tls::Stream`] is a connection either way.
//! - [`credential`]: the salted hash (PBKDF2) an onboarded broker's
//!   secret is journaled as, and the login check against it.
//! - `log_tally`: a flood of like events logged as one line per interval.
//! - [`sigpipe`]: one-shot commands end quietly on a closed output pipe.
//! - `throttle`: each broker's message budget, shared by its sessions.
//! - `session`: one connection: login, throttle, heartbeats and timeouts,
//!   requests in to the runtime, reports out to the socket.
//! - [`client`]: the broker's side, for Rust brokers, tests and
//!   `cetx order`: log in, send requests, read reports, resume after a
//!   reconnect.
//! - `bin/cetx/main.rs`: the `cetx` binary (`cetx serve`, `cetx order`, and
//!   `cetx replay`, which runs `cetx_engine::settlement::run` with the
//!   server config's engine config and calendar and a progress line);
//!   `bin/cetx/watch.rs` is `cetx watch`, a live terminal view that follows
//!   the feed with [`market_data::FeedClient`], and `bin/cetx/screen.rs`
//!   draws it.
//!
//! Data flows `socket → codec (decode) → protocol::ClientMessage → session →
//! request::parse → runtime::Request → runtime (queue → engine thread →
//! journal)`, and back `durable journal
//! entry → reports → protocol::ServerFrame → subscription → session → codec
//! (encode) → socket`.

pub mod admin;
mod admission;
mod backoff;
pub mod client;
pub mod codec;
pub mod config;
pub mod credential;
pub mod csv_input;
pub mod exchange_time;
mod listen;
mod log_tally;
pub mod market_data;
pub mod metrics;
pub mod protocol;
pub mod reports;
pub mod request;
pub mod runtime;
pub mod server;
mod session;
pub mod sigpipe;
mod throttle;
pub mod tls;
pub mod web;
