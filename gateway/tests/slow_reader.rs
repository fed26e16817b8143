//! A broker that stops reading its reports: once more of them wait than
//! the subscriber capacity, the runtime drops its subscription, and the
//! session closes the connection at once (PROTOCOL.md, *Session rules*:
//! "past that the connection is closed too"), not once a write has stalled
//! for the idle timeout, and the broker's resting orders are cancelled on
//! the disconnect.
//!
//! A real server on `127.0.0.1:0` in this process, with an idle timeout of
//! ten minutes: a close within the test's wait can only be the drop's.
//! Every wait is bounded; the load is bounded in count.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use cetx_gateway::client::{Client, NewOrder};
use cetx_gateway::codec::ClientCodec;
use cetx_gateway::config::{ServerConfig, Throttle};
use cetx_gateway::protocol::{
    ClientMessage, Secret, ServerMessage, Side, TimeInForce, PROTOCOL_VERSION,
};
use cetx_gateway::runtime::{Clock, Runtime, RuntimeOptions};
use cetx_gateway::server::Server;
use common::read_frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio_util::codec::Encoder;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(20);
/// Frames a session may hold unread here.
const CAPACITY: usize = 64;
/// One-tonne buys broker 2 sends at a time: their reports (an acceptance
/// and a fill each) stay within the capacity, as broker 2 reads them.
const ROUND: u64 = 20;
/// Rounds at most before the slow broker must have been dropped.
const ROUNDS: u64 = 2_500;
const PRICE: i64 = 90_00;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_dropped_for_its_backlog_closes_at_once_and_cancels_on_disconnect() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::embedded_default();
    config.server.idle_timeout_ms = 600_000;
    for broker in &mut config.brokers {
        broker.throttle = Throttle {
            rate_per_s: 1_000_000,
            burst: 1_000_000,
        };
    }
    let mut options = RuntimeOptions::new(dir.path());
    options.open_market_now = true;
    options.clock = Clock::quiet();
    options.subscriber_capacity = CAPACITY;
    let runtime = Runtime::start(&config, options).unwrap();
    let handle = runtime.handle();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(Arc::new(config), runtime.handle(), addr)
        .await
        .unwrap();
    let addr = server.local_addr();
    let connections = server.connections();
    let shutdown = CancellationToken::new();
    let serving = tokio::spawn(server.run(shutdown.clone()));

    // Broker 1, on a socket with a small receive buffer, rests a sell of
    // 99,999 t and a second at a worse price, reads their answers, and
    // then reads nothing.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut slow = socket.connect(addr).await.unwrap();
    let mut codec = ClientCodec::default();
    let mut out = BytesMut::new();
    let login = ClientMessage::Login {
        protocol_version: PROTOCOL_VERSION,
        broker_id: 1,
        secret: Secret::new("demo-secret-1"),
        resume_from_seq: 0,
    };
    codec.encode(&login, &mut out).unwrap();
    codec.set_logged_in(true);
    for (id, price_ticks) in [(1, PRICE), (2, PRICE + 1)] {
        let sell = NewOrder::limit(id, 1001, "CEA2025", Side::Sell, price_ticks, 99_999);
        codec.encode(&ClientMessage::from(sell), &mut out).unwrap();
    }
    slow.write_all(&out).await.unwrap();
    let mut input = BytesMut::new();
    for expected in ["LoginAccepted", "OrderAccepted", "OrderAccepted"] {
        let message = read_frame(&mut slow, &mut codec, &mut input, WAIT).await;
        assert!(
            format!("{message:?}").starts_with(&format!("Some({expected}")),
            "{message:?}"
        );
    }

    // Broker 2 buys a tonne at a time from broker 1's first sell, a round
    // at a time, until the runtime drops broker 1's subscription: a fill
    // for broker 1 each.
    let mut buyer = Client::connect(addr, 2, "demo-secret-2", 0).await.unwrap();
    let mut next_id = 1;
    let mut rounds = 0;
    while handle.stats().subscribers == 2 {
        assert!(
            rounds < ROUNDS,
            "broker 1 was not dropped after {} fills it did not read",
            rounds * ROUND
        );
        for _ in 0..ROUND {
            let mut buy = NewOrder::limit(next_id, 2001, "CEA2025", Side::Buy, PRICE, 1);
            buy.time_in_force = TimeInForce::Ioc;
            buyer.feed(buy.into()).await.unwrap();
            next_id += 1;
        }
        buyer.flush().await.unwrap();
        let mut fills = 0;
        while fills < ROUND {
            let frame = buyer.next_report(WAIT).await.unwrap().expect("a report");
            match frame.message {
                ServerMessage::Fill { .. } => fills += 1,
                ServerMessage::OrderAccepted { .. } => {}
                other => panic!("broker 2 got {other:?}"),
            }
        }
        rounds += 1;
    }

    // Dropped: broker 1's session ends at once, and its orders are
    // cancelled on the disconnect. Broker 2 finds the book empty: a buy
    // of a tonne, sent one after another within the wait (each fills a
    // tonne of broker 1's first sell while it rests), ends unfilled. (Reading broker
    // 1's socket would not tell: a session stalled in a write goes on
    // once it can, and closes only after writing what it holds.)
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut filled = next_id - 1;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "broker 1's orders still rest {WAIT:?} after its subscription was dropped"
        );
        let mut buy = NewOrder::limit(next_id, 2001, "CEA2025", Side::Buy, PRICE + 1, 1);
        buy.time_in_force = TimeInForce::Ioc;
        buyer.submit(buy).await.unwrap();
        next_id += 1;
        let accepted = buyer.next_report(WAIT).await.unwrap().expect("a report");
        assert!(matches!(
            accepted.message,
            ServerMessage::OrderAccepted { .. }
        ));
        match buyer
            .next_report(WAIT)
            .await
            .unwrap()
            .expect("a report")
            .message
        {
            ServerMessage::Fill { .. } => filled += 1,
            ServerMessage::Cancelled { cause: 1, .. } => break,
            other => panic!("broker 2 got {other:?}"),
        }
    }
    // Its connection is closed: reading what the kernel still holds for
    // it ends.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(WAIT, slow.read_to_end(&mut rest)).await;
    assert!(matches!(read, Ok(Ok(_))), "{read:?}");
    assert_eq!(
        connections.slow_reader_closes(),
        [("write_timeout", 0), ("backlog", 1)]
    );

    // Its resting orders were cancelled on the disconnect, cause 6: the
    // rest of the first sell, and the second whole.
    let mut again = Client::connect(addr, 1, "demo-secret-1", 0).await.unwrap();
    let mut cancelled = Vec::new();
    while cancelled.len() < 2 {
        let frame = again.next_report(WAIT).await.unwrap().expect("a report");
        if let ServerMessage::Cancelled {
            client_order_id,
            cancelled_t,
            cause,
            ..
        } = frame.message
        {
            cancelled.push((client_order_id, cancelled_t, cause));
        }
    }
    assert_eq!(cancelled, [(1, 99_999 - filled, 6), (2, 99_999, 6)]);

    drop((again, buyer));
    shutdown.cancel();
    serving.await.unwrap().unwrap();
    tokio::task::spawn_blocking(move || runtime.shutdown())
        .await
        .unwrap()
        .unwrap();
}
