//! A session takes every frame one read brings: a broker that writes many
//! requests at once is answered for each, in order, and a malformed frame
//! after good ones in the same write closes the session only after the
//! good ones were taken (the broker finds their reports when it resumes).
//!
//! A real server on `127.0.0.1:0` in this process; every wait is a read
//! with a timeout.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use cetx_gateway::client::{Client, NewOrder};
use cetx_gateway::codec::ClientCodec;
use cetx_gateway::config::ServerConfig;
use cetx_gateway::protocol::{ClientMessage, Secret, ServerMessage, Side, PROTOCOL_VERSION};
use cetx_gateway::runtime::{Clock, Runtime, RuntimeOptions};
use cetx_gateway::server::Server;
use common::read_frame;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::codec::Encoder;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);
const SECRET_1: &str = "demo-secret-1";
/// Orders written in one write.
const BURST: u64 = 200;

fn order(id: u64) -> NewOrder {
    NewOrder::limit(id, 1001, "CEA2025", Side::Buy, 85_00, 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_requests_in_one_write_are_each_answered_and_a_bad_frame_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::embedded_default();
    // The orders rest across the reconnects: only requests are reported.
    for broker in &mut config.brokers {
        broker.cancel_on_disconnect = false;
    }
    let mut options = RuntimeOptions::new(dir.path());
    options.open_market_now = true;
    options.clock = Clock::quiet();
    let runtime = Runtime::start(&config, options).unwrap();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(Arc::new(config), runtime.handle(), addr)
        .await
        .unwrap();
    let addr = server.local_addr();
    let shutdown = CancellationToken::new();
    let serving = tokio::spawn(server.run(shutdown.clone()));

    // A burst fed and written at once, well inside the demo throttle.
    let mut client = Client::connect(addr, 1, SECRET_1, 0).await.unwrap();
    for id in 1..=BURST {
        client.feed(order(id).into()).await.unwrap();
    }
    client.flush().await.unwrap();
    for id in 1..=BURST {
        let frame = client.next_report(WAIT).await.unwrap().expect("a report");
        assert_eq!(frame.seq, id);
        assert!(
            matches!(frame.message, ServerMessage::OrderAccepted { client_order_id, .. } if client_order_id == id),
            "{frame:?}"
        );
    }
    assert!(client.try_next_report().unwrap().is_none());
    let resume_from = client.last_seq();
    // Logged out and closed by the server: the broker may connect again.
    assert!(client.logout(WAIT).await.unwrap().is_empty());

    // Three orders and then a frame with an unknown message tag, in one
    // write, on a raw connection.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut codec = ClientCodec::default();
    let mut out = BytesMut::new();
    let login = ClientMessage::Login {
        protocol_version: PROTOCOL_VERSION,
        broker_id: 1,
        secret: Secret::new(SECRET_1),
        resume_from_seq: resume_from,
    };
    codec.encode(&login, &mut out).unwrap();
    stream.write_all(&out).await.unwrap();
    let mut input = BytesMut::new();
    let accepted = read_frame(&mut stream, &mut codec, &mut input, WAIT).await;
    assert!(
        matches!(accepted, Some(ServerMessage::LoginAccepted { .. })),
        "{accepted:?}"
    );
    codec.set_logged_in(true);
    out.clear();
    for id in BURST + 1..=BURST + 3 {
        codec
            .encode(&ClientMessage::from(order(id)), &mut out)
            .unwrap();
    }
    out.extend_from_slice(&[4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    stream.write_all(&out).await.unwrap();
    // The session's last word is the ProtocolError; it may or may not
    // have sent some of the three orders' reports before it.
    let mut last = None;
    while let Some(message) = read_frame(&mut stream, &mut codec, &mut input, WAIT).await {
        last = Some(message);
    }
    assert!(
        matches!(last, Some(ServerMessage::ProtocolError { reason: 414, .. })),
        "{last:?}"
    );

    // Resuming, the broker finds all three taken, in order.
    let mut client = Client::connect(addr, 1, SECRET_1, resume_from)
        .await
        .unwrap();
    for id in BURST + 1..=BURST + 3 {
        let frame = client.next_report(WAIT).await.unwrap().expect("a report");
        assert_eq!(frame.seq, id);
        assert!(
            matches!(frame.message, ServerMessage::OrderAccepted { client_order_id, .. } if client_order_id == id),
            "{frame:?}"
        );
    }
    match client.next_report(Duration::from_millis(200)).await {
        Ok(None) => {}
        other => panic!("nothing more was taken: {other:?}"),
    }
    drop(client);

    shutdown.cancel();
    serving.await.unwrap().unwrap();
    tokio::task::spawn_blocking(move || runtime.shutdown())
        .await
        .unwrap()
        .unwrap();
}
