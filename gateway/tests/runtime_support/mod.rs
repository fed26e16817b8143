//! What the runtime tests share: the demo market on a manual clock, and a
//! way to wait for a subscription's frames without sleeping.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use cetx_engine::BrokerId;
use cetx_gateway::config::ServerConfig;
use cetx_gateway::protocol::{
    ClientMessage, OrderType, ServerFrame, ServerMessage, Side, TimeInForce,
};
use cetx_gateway::runtime::{Clock, Request, Runtime, RuntimeHandle, RuntimeOptions, Subscription};
use chrono::NaiveDate;

pub const B1: BrokerId = BrokerId(1);
pub const B2: BrokerId = BrokerId(2);
pub const WAIT: Duration = Duration::from_secs(20);

/// Nanoseconds of a Shanghai local time.
pub fn cst(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    let local = NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, 0)
        .unwrap();
    (local.and_utc().timestamp() - 8 * 3_600) * 1_000_000_000
}

/// Saturday 28 November 2026, noon: the calendar has nothing to do all
/// weekend, so only `open_market_now` opens the market.
pub fn saturday_noon() -> i64 {
    cst(2026, 11, 28, 12, 0)
}

/// The embedded demo config, its data in `dir`.
pub fn demo_config(dir: &Path) -> ServerConfig {
    let mut config = ServerConfig::embedded_default();
    config.server.data_dir = dir.to_path_buf();
    config
}

pub fn start(config: &ServerConfig, clock: &Clock, open_market_now: bool) -> Runtime {
    let mut options = RuntimeOptions::new(&config.server.data_dir);
    options.clock = clock.clone();
    options.open_market_now = open_market_now;
    Runtime::start(config, options).expect("the runtime starts")
}

/// Waits for subscriptions' frames without sleeping.
pub struct Waiter(pub tokio::runtime::Runtime);

impl Waiter {
    pub fn new() -> Self {
        Self(
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap(),
        )
    }

    /// The subscription's next frame (backlog first, then live).
    pub fn next(&self, sub: &mut Subscription) -> ServerFrame {
        self.0
            .block_on(async { tokio::time::timeout(WAIT, sub.recv()).await })
            .expect("a frame in time")
            .expect("the subscription is open")
    }

    /// The next `n` frames.
    pub fn take(&self, sub: &mut Subscription, n: usize) -> Vec<ServerFrame> {
        (0..n).map(|_| self.next(sub)).collect()
    }
}

/// A day limit order.
pub fn limit(
    coid: u64,
    account: u32,
    symbol: &str,
    side: Side,
    price: i64,
    qty: u64,
) -> ClientMessage {
    ClientMessage::NewOrder {
        client_order_id: coid,
        account,
        symbol: symbol.into(),
        side,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        price_ticks: price,
        quantity_t: qty,
    }
}

pub fn submit(handle: &RuntimeHandle, broker: BrokerId, message: ClientMessage) {
    handle
        .submit(broker, request(&message))
        .expect("the queue takes it");
}

/// The runtime's request for a broker's message, parsed as a session does
/// (for the demo market's instruments).
pub fn request(message: &ClientMessage) -> Request {
    // Read once: parsing the embedded config for each message held
    // `submit` to about 200 messages a second.
    static CONFIG: std::sync::OnceLock<ServerConfig> = std::sync::OnceLock::new();
    let config = CONFIG.get_or_init(ServerConfig::embedded_default);
    cetx_gateway::request::parse(message, |s| config.instrument_id(s))
        .expect("an order request")
        .expect("a known symbol")
}

/// The exchange order id of an `OrderAccepted`.
pub fn accepted_id(frame: &ServerFrame) -> u64 {
    match frame.message {
        ServerMessage::OrderAccepted { order_id, .. } => order_id,
        ref other => panic!("expected OrderAccepted, got {other:?}"),
    }
}
