//! The gateway end to end: a real server in this process on
//! `127.0.0.1:0`, a real journal in a temporary directory, the embedded
//! demo config (brokers 1 and 2; accounts 1001 and 2001 are their
//! compliance entities, funded and holding every instrument), the market
//! opened at start. Brokers talk real bytes over loopback.
//!
//! Every wait is a read with a timeout, never a sleep; every loop is
//! bounded.

use std::time::Duration;

use cetx_gateway::client::{Client, ClientError, NewOrder};
use cetx_gateway::codec::ClientCodec;
use cetx_gateway::config::{ServerConfig, Throttle};
use cetx_gateway::protocol::{
    ClientMessage, RequestKind, Secret, ServerFrame, ServerMessage, Side, PROTOCOL_VERSION,
};
use cetx_tests::server::{order_answer, TestServer};
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::codec::{Encoder, Framed};

/// Longest wait for any one answer.
const WAIT: Duration = Duration::from_secs(10);

const SECRET_1: &str = "demo-secret-1";
const SECRET_2: &str = "demo-secret-2";

async fn login(server: &TestServer, broker: u32, secret: &str) -> Client {
    Client::connect(server.addr, broker, secret, 0)
        .await
        .expect("login accepted")
}

/// The next report, which must come within [`WAIT`].
async fn report(client: &mut Client) -> ServerFrame {
    client
        .next_report(WAIT)
        .await
        .expect("the connection works")
        .expect("a report within the wait")
}

fn sell(client_order_id: u64, account: u32, price_ticks: i64, quantity_t: u64) -> NewOrder {
    NewOrder::limit(
        client_order_id,
        account,
        "CEA2025",
        Side::Sell,
        price_ticks,
        quantity_t,
    )
}

fn buy(client_order_id: u64, account: u32, price_ticks: i64, quantity_t: u64) -> NewOrder {
    NewOrder::limit(
        client_order_id,
        account,
        "CEA2025",
        Side::Buy,
        price_ticks,
        quantity_t,
    )
}

/// Asserts an `OrderAccepted` for `client_order_id` numbered `seq`.
fn assert_accepted(frame: &ServerFrame, seq: u64, client_order_id: u64) {
    assert_eq!(frame.seq, seq, "{frame:?}");
    assert!(
        matches!(frame.message, ServerMessage::OrderAccepted { client_order_id: c, .. } if c == client_order_id),
        "{frame:?}"
    );
}

/// Asserts an `OrderRejected` with this reason; returns its seq.
fn assert_rejected(frame: &ServerFrame, client_order_id: u64, reason: u16) -> u64 {
    match &frame.message {
        ServerMessage::OrderRejected {
            client_order_id: c,
            reason: r,
            ..
        } => {
            assert_eq!((*c, *r), (client_order_id, reason), "{frame:?}");
        }
        other => panic!("expected OrderRejected {reason}, got {other:?}"),
    }
    frame.seq
}

// ---------------------------------------------------------------------
// Raw connections, for what a well-behaved client never sends.

type Raw = Framed<TcpStream, ClientCodec>;

async fn raw(server: &TestServer) -> Raw {
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    Framed::new(stream, ClientCodec::default())
}

fn login_message(broker_id: u32, secret: &str, protocol_version: u16) -> ClientMessage {
    ClientMessage::Login {
        protocol_version,
        broker_id,
        secret: Secret::new(secret),
        resume_from_seq: 0,
    }
}

/// A raw connection, logged in.
async fn raw_logged_in(server: &TestServer, broker: u32, secret: &str) -> Raw {
    let mut conn = raw(server).await;
    conn.send(login_message(broker, secret, PROTOCOL_VERSION))
        .await
        .expect("send login");
    let answer = next_frame(&mut conn).await.expect("an answer");
    assert!(
        matches!(answer.message, ServerMessage::LoginAccepted { .. }),
        "{answer:?}"
    );
    conn.codec_mut().set_logged_in(true);
    conn
}

/// The next frame within [`WAIT`]; `None` once the server has closed.
async fn next_frame(conn: &mut Raw) -> Option<ServerFrame> {
    match tokio::time::timeout(WAIT, conn.next())
        .await
        .expect("the server answers or closes within the wait")
    {
        Some(Ok(frame)) => Some(frame),
        Some(Err(_)) | None => None,
    }
}

/// The server's last word is a `ProtocolError` with `reason`, then it
/// closes. Heartbeats before it are skipped.
async fn expect_protocol_error_then_close(conn: &mut Raw, reason: u16) {
    let mut seen = None;
    for _ in 0..10 {
        match next_frame(conn).await {
            Some(ServerFrame {
                message: ServerMessage::Heartbeat,
                ..
            }) => {}
            other => {
                seen = other;
                break;
            }
        }
    }
    match seen {
        Some(ServerFrame {
            seq: 0,
            message: ServerMessage::ProtocolError { reason: r, .. },
        }) => assert_eq!(r, reason),
        other => panic!("expected ProtocolError {reason}, got {other:?}"),
    }
    assert_eq!(next_frame(conn).await, None, "closed after the error");
}

/// Writes bytes as they are, outside the codec.
async fn write_raw(conn: &mut Raw, bytes: &[u8]) {
    let stream = conn.get_mut();
    stream.write_all(bytes).await.expect("write");
    stream.flush().await.expect("flush");
}

/// Broker 2 rests a 1 t bid at 82.00 as order `id`; it must be accepted
/// with the next number after `seq`.
async fn keep_trading(two: &mut Client, id: u64, seq: &mut u64) {
    two.submit(buy(id, 2001, 82_00, 1)).await.expect("send");
    let frame = report(two).await;
    *seq += 1;
    assert_accepted(&frame, *seq, id);
}

// ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_logins_are_rejected_and_closed() {
    let server = TestServer::start(ServerConfig::embedded_default()).await;

    let cases: [(u32, &str, u16, u16); 3] = [
        (1, "wrong-secret", PROTOCOL_VERSION, 402),
        (99, SECRET_1, PROTOCOL_VERSION, 402),
        (1, SECRET_1, PROTOCOL_VERSION + 1, 403),
    ];
    for (broker, secret, version, reason) in cases {
        let mut conn = raw(&server).await;
        conn.send(login_message(broker, secret, version))
            .await
            .expect("send");
        let answer = next_frame(&mut conn).await.expect("an answer");
        assert_eq!(answer.seq, 0);
        assert!(
            matches!(answer.message, ServerMessage::LoginRejected { reason: r, .. } if r == reason),
            "broker {broker}: {answer:?}"
        );
        assert_eq!(next_frame(&mut conn).await, None, "closed after the reject");
    }

    // A well-formed first frame that is not a login.
    let mut conn = raw(&server).await;
    conn.send(ClientMessage::Heartbeat).await.expect("send");
    let answer = next_frame(&mut conn).await.expect("an answer");
    assert!(
        matches!(
            answer.message,
            ServerMessage::LoginRejected { reason: 401, .. }
        ),
        "{answer:?}"
    );
    assert_eq!(next_frame(&mut conn).await, None);

    // The client library reports the reason.
    let refused = Client::connect(server.addr, 2, "nope", 0).await;
    assert!(
        matches!(refused, Err(ClientError::LoginRejected { reason: 402, .. })),
        "{refused:?}"
    );

    // One session per broker: a second login of a logged-in broker takes
    // the session over, and the first is told so and closed.
    let mut first = login(&server, 2, SECRET_2).await;
    let second = Client::connect(server.addr, 2, SECRET_2, 0).await;
    assert!(second.is_ok(), "{second:?}");
    let taken = first.next_report(WAIT).await;
    assert!(
        matches!(taken, Err(ClientError::ProtocolError { reason: 416, .. })),
        "{taken:?}"
    );
    // Resuming from beyond what the server has: the text says where the
    // broker's reports end (broker 1 has none).
    let ahead = Client::connect(server.addr, 1, SECRET_1, 5).await;
    assert!(
        matches!(ahead, Err(ClientError::LoginRejected { reason: 413, ref text })
            if text == "resume seq ahead: the last report is 0"),
        "{ahead:?}"
    );
    drop((first, second));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_brokers_trade_and_both_hear_of_it_in_sequence() {
    let server = TestServer::start(ServerConfig::embedded_default()).await;
    let mut seller = login(&server, 1, SECRET_1).await;
    let mut buyer = login(&server, 2, SECRET_2).await;
    assert_eq!(seller.server_last_seq(), 0);

    seller
        .submit(sell(11, 1001, 90_00, 100))
        .await
        .expect("send");
    assert_accepted(&report(&mut seller).await, 1, 11);

    buyer.submit(buy(21, 2001, 90_10, 60)).await.expect("send");
    assert_accepted(&report(&mut buyer).await, 1, 21);
    let taker = report(&mut buyer).await;
    let maker = report(&mut seller).await;
    let (taker_trade, maker_trade) = match (&taker.message, &maker.message) {
        (
            ServerMessage::Fill {
                client_order_id: 21,
                trade_id: t1,
                price_ticks: 90_00,
                quantity_t: 60,
                leaves_t: 0,
                aggressor: true,
                side: Side::Buy,
                ..
            },
            ServerMessage::Fill {
                client_order_id: 11,
                trade_id: t2,
                price_ticks: 90_00,
                quantity_t: 60,
                leaves_t: 40,
                aggressor: false,
                side: Side::Sell,
                ..
            },
        ) => (*t1, *t2),
        _ => panic!("unexpected fills: {taker:?} / {maker:?}"),
    };
    assert_eq!(taker_trade, maker_trade, "both fills name one trade");
    assert_eq!((taker.seq, maker.seq), (2, 2));

    // The seller cancels the rest.
    seller.cancel(11).await.expect("send");
    let cancelled = report(&mut seller).await;
    assert_eq!(cancelled.seq, 3);
    assert!(
        matches!(
            cancelled.message,
            ServerMessage::Cancelled {
                client_order_id: 11,
                cancelled_t: 40,
                cause: 0,
                ..
            }
        ),
        "{cancelled:?}"
    );
    drop((seller, buyer));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_acts_only_for_its_own_accounts_and_orders() {
    let server = TestServer::start(ServerConfig::embedded_default()).await;
    let mut one = login(&server, 1, SECRET_1).await;
    let mut two = login(&server, 2, SECRET_2).await;

    // Broker 1 trades for broker 2's account.
    one.submit(buy(1, 2001, 90_00, 10)).await.expect("send");
    assert_eq!(assert_rejected(&report(&mut one).await, 1, 404), 0);

    // Broker 2's order, which broker 1 names by broker 2's id.
    two.submit(buy(7, 2001, 89_00, 10)).await.expect("send");
    assert_accepted(&report(&mut two).await, 1, 7);
    one.cancel(7).await.expect("send");
    let refused = report(&mut one).await;
    assert!(
        matches!(
            refused.message,
            ServerMessage::OrderRejected {
                request: RequestKind::Cancel,
                reason: 405 | 409,
                ..
            }
        ),
        "{refused:?}"
    );
    // Broker 2's order is untouched: it still trades.
    one.submit(sell(2, 1001, 89_00, 10)).await.expect("send");
    assert!(matches!(
        report(&mut one).await.message,
        ServerMessage::OrderAccepted { .. }
    ));
    assert!(matches!(
        report(&mut one).await.message,
        ServerMessage::Fill { leaves_t: 0, .. }
    ));
    assert!(matches!(
        report(&mut two).await.message,
        ServerMessage::Fill {
            client_order_id: 7,
            leaves_t: 0,
            ..
        }
    ));
    drop((one, two));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_order_id_is_used_once() {
    let server = TestServer::start(ServerConfig::embedded_default()).await;
    let mut one = login(&server, 1, SECRET_1).await;
    one.submit(buy(5, 1001, 85_00, 10)).await.expect("send");
    assert_accepted(&report(&mut one).await, 1, 5);
    one.submit(buy(5, 1001, 85_01, 20)).await.expect("send");
    // The gateway's own check: unsequenced, takes no number.
    assert_eq!(assert_rejected(&report(&mut one).await, 5, 406), 0);
    // A new id is fine, and numbering has no gap.
    one.submit(buy(6, 1001, 85_02, 20)).await.expect("send");
    let next = report(&mut one).await;
    assert_eq!(next.seq, 2, "{next:?}");
    assert!(matches!(
        next.message,
        ServerMessage::OrderAccepted {
            client_order_id: 6,
            ..
        }
    ));
    drop(one);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_throttle_rejects_the_excess() {
    let mut config = ServerConfig::embedded_default();
    // The login takes one token of the four: three are left for orders.
    config.brokers[0].throttle = Throttle {
        rate_per_s: 1,
        burst: 4,
    };
    let server = TestServer::start(config).await;
    // The bucket refills all along (one token a second): how long the
    // orders took from the login on bounds how many it can have let in.
    let before_login = std::time::Instant::now();
    let mut one = login(&server, 1, SECRET_1).await;
    const SENT: u64 = 10;
    for id in 1..=SENT {
        one.submit(buy(id, 1001, 85_00, 1)).await.expect("send");
    }
    let (mut accepted, mut throttled) = (Vec::new(), Vec::new());
    for _ in 0..SENT {
        let frame = report(&mut one).await;
        match frame.message {
            ServerMessage::OrderAccepted {
                client_order_id, ..
            } => accepted.push(client_order_id),
            ServerMessage::OrderRejected {
                client_order_id,
                reason: 407,
                ..
            } => {
                assert_eq!(frame.seq, 0, "a throttle reject is unsequenced");
                throttled.push(client_order_id);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // The burst passes; at most one token more can have been refilled
    // while the ten were sent within a second, and one more for each
    // second a busy machine took beyond it.
    let elapsed = before_login.elapsed();
    assert!(accepted.starts_with(&[1, 2, 3]), "{accepted:?}");
    assert!(
        accepted.len() <= 4 + usize::try_from(elapsed.as_secs()).unwrap(),
        "{accepted:?} in {elapsed:?}"
    );
    assert_eq!(accepted.len() + throttled.len(), 10);
    drop(one);
    server.stop().await;
}

/// An unknown symbol is refused with an unsequenced 410, in its place
/// among the broker's answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_symbol_is_refused_in_its_place() {
    let server = TestServer::start(ServerConfig::embedded_default()).await;
    let mut one = login(&server, 1, SECRET_1).await;
    one.submit(buy(1, 1001, 85_00, 1)).await.expect("send");
    let unknown = NewOrder::limit(2, 1001, "CEA2099", Side::Buy, 85_00, 1);
    one.submit(unknown).await.expect("send");
    one.submit(buy(3, 1001, 85_00, 1)).await.expect("send");
    assert_accepted(&report(&mut one).await, 1, 1);
    let refused = report(&mut one).await;
    assert_eq!(assert_rejected(&refused, 2, 410), 0);
    // Named, as the feed's 410 names it (an outside tester's was not).
    assert!(
        matches!(&refused.message, ServerMessage::OrderRejected { text, .. } if text == "unknown symbol CEA2099"),
        "{refused:?}"
    );
    assert_accepted(&report(&mut one).await, 2, 3);
    drop(one);
    server.stop().await;
}

/// Broker 1 with a burst of 4 and 1 token a second: after its login,
/// three orders pass at once and the rest are throttled.
fn throttled_config() -> ServerConfig {
    let mut config = ServerConfig::embedded_default();
    config.brokers[0].throttle = Throttle {
        rate_per_s: 1,
        burst: 4,
    };
    config
}

/// `count` new orders of broker 1 in one write, then `last` if any.
fn pipelined(count: u64, last: Option<ClientMessage>) -> bytes::BytesMut {
    let orders = (1..=count).map(|id| ClientMessage::from(buy(id, 1001, 85_00, 1)));
    encoded(orders.chain(last))
}

/// `messages` framed one after the other, to write in one go.
fn encoded(messages: impl IntoIterator<Item = ClientMessage>) -> bytes::BytesMut {
    let mut bytes = bytes::BytesMut::new();
    for message in messages {
        ClientCodec::default()
            .encode(message, &mut bytes)
            .expect("encode");
    }
    bytes
}

/// Broker 1 logged in on a server whose group commits are 100 ms apart,
/// with order 1 answered: a group commit has just started, so the next
/// request's answer waits for the next one.
async fn logged_in_between_commits(server: &TestServer) -> Raw {
    let mut conn = raw_logged_in(server, 1, SECRET_1).await;
    write_raw(&mut conn, &pipelined(1, None)).await;
    let first = next_frame(&mut conn).await.expect("an answer");
    assert_eq!(order_answer(&first.message), (1, 0));
    conn
}

/// Twenty orders through a burst of three (at most one token is refilled
/// meanwhile): the answers come in the order of the requests.
///
/// The bucket refills all along (one token a second, GCRA): within a
/// second of the login (`since_login`) only the fourth can have been let
/// in too; a busy machine that took longer can have let in one more for
/// each further second, wherever the refill fell among the requests.
fn assert_in_order_and_throttled(answers: &[(u64, u16)], sent: u64, since_login: Duration) {
    let ids: Vec<u64> = answers.iter().map(|a| a.0).collect();
    assert_eq!(ids, (1..=sent).collect::<Vec<_>>(), "{answers:?}");
    assert!(answers[..3].iter().all(|a| a.1 == 0), "{answers:?}");
    assert!(
        answers.iter().all(|a| a.1 == 0 || a.1 == 407),
        "{answers:?}"
    );
    let refilled = 1 + usize::try_from(since_login.as_secs()).unwrap();
    let let_in = answers[3..].iter().filter(|a| a.1 == 0).count();
    assert!(let_in <= refilled, "{answers:?} in {since_login:?}");
    if since_login < Duration::from_secs(1) {
        assert!(answers[4..].iter().all(|a| a.1 == 407), "{answers:?}");
    }
}

/// PROTOCOL.md: every answer to a request, a reject the gateway makes
/// itself included, comes after the reports of the requests taken before
/// it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_keep_their_place_among_the_reports() {
    let server = TestServer::start(throttled_config()).await;
    let before_login = std::time::Instant::now();
    let mut conn = raw_logged_in(&server, 1, SECRET_1).await;
    const SENT: u64 = 20;
    write_raw(&mut conn, &pipelined(SENT, None)).await;
    let mut answers = Vec::new();
    for _ in 0..SENT {
        answers.push(order_answer(
            &next_frame(&mut conn).await.expect("an answer").message,
        ));
    }
    assert_in_order_and_throttled(&answers, SENT, before_login.elapsed());
    drop(conn);
    server.stop().await;
}

/// PROTOCOL.md, "Logging out": a `Logout` behind pipelined requests
/// answers every one of them before the connection closes, the gateway's
/// own rejects too (they wait for the reports before them, and are never
/// replayed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_answers_every_request_sent_before_it() {
    let server = TestServer::start(throttled_config()).await;
    let before_login = std::time::Instant::now();
    let mut conn = raw_logged_in(&server, 1, SECRET_1).await;
    const SENT: u64 = 20;
    write_raw(&mut conn, &pipelined(SENT, Some(ClientMessage::Logout))).await;
    let mut answers = Vec::new();
    while let Some(frame) = next_frame(&mut conn).await {
        if frame.message != ServerMessage::Heartbeat {
            answers.push(order_answer(&frame.message));
        }
    }
    assert_in_order_and_throttled(&answers, SENT, before_login.elapsed());
    server.stop().await;
}

/// PROTOCOL.md, "Logging out": nothing after a `Logout` is read. An order
/// written behind it in the same write is neither answered nor taken: the
/// broker's whole history, read back after, holds the first order only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_after_a_logout_is_neither_answered_nor_taken() {
    let server = TestServer::start(ServerConfig::embedded_default()).await;
    let mut conn = raw_logged_in(&server, 1, SECRET_1).await;
    let first = ClientMessage::from(buy(1, 1001, 85_00, 1));
    let after = ClientMessage::from(buy(2, 1001, 85_00, 1));
    write_raw(&mut conn, &encoded([first, ClientMessage::Logout, after])).await;
    let mut answers = Vec::new();
    while let Some(frame) = next_frame(&mut conn).await {
        if frame.message != ServerMessage::Heartbeat {
            answers.push(order_answer(&frame.message));
        }
    }
    assert_eq!(answers, [(1, 0)]);
    let mut conn = raw(&server).await;
    conn.send(login_message(1, SECRET_1, PROTOCOL_VERSION))
        .await
        .expect("send login");
    let ServerMessage::LoginAccepted { last_seq, .. } =
        next_frame(&mut conn).await.expect("an answer").message
    else {
        panic!("the login is accepted");
    };
    conn.codec_mut().set_logged_in(true);
    let mut history = Vec::new();
    while (history.len() as u64) < last_seq {
        let frame = next_frame(&mut conn).await.expect("the history");
        if frame.message != ServerMessage::Heartbeat {
            history.push(frame.message);
        }
    }
    let taken: Vec<_> = history
        .iter()
        .filter_map(|m| match *m {
            ServerMessage::OrderAccepted {
                client_order_id, ..
            }
            | ServerMessage::OrderRejected {
                client_order_id, ..
            } => Some(client_order_id),
            _ => None,
        })
        .collect();
    assert_eq!(taken, [1], "{history:?}");
    server.stop().await;
}

/// PROTOCOL.md: `Heartbeat` is not a request and takes no token. Ten of
/// them, then an order, through a budget of four: the order is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_take_nothing_from_the_budget() {
    let server = TestServer::start(throttled_config()).await;
    let mut conn = raw_logged_in(&server, 1, SECRET_1).await;
    let beats = std::iter::repeat_n(ClientMessage::Heartbeat, 10);
    let order = ClientMessage::from(buy(1, 1001, 85_00, 1));
    write_raw(&mut conn, &encoded(beats.chain([order]))).await;
    let answer = loop {
        let frame = next_frame(&mut conn).await.expect("an answer");
        if frame.message != ServerMessage::Heartbeat {
            break frame;
        }
    };
    assert_eq!(order_answer(&answer.message), (1, 0));
    server.stop().await;
}

/// A config whose group commits are at least 100 ms apart: an order sent
/// right after one was answered waits that long to become durable.
fn slow_syncs_config() -> ServerConfig {
    let mut config = ServerConfig::embedded_default();
    config.journal.sync_interval_us = 100_000;
    config
}

/// PROTOCOL.md, "Logging out": a `Logout` right behind an order the engine
/// has not yet answered (its entry waits for the next group commit) still
/// gets that answer before the close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_waits_for_the_engine_s_answers_to_the_requests_before_it() {
    let server = TestServer::start(slow_syncs_config()).await;
    let mut conn = logged_in_between_commits(&server).await;
    let order = ClientMessage::from(buy(2, 1001, 85_00, 1));
    write_raw(&mut conn, &encoded([order, ClientMessage::Logout])).await;
    let mut answers = Vec::new();
    while let Some(frame) = next_frame(&mut conn).await {
        if frame.message != ServerMessage::Heartbeat {
            answers.push((frame.seq, order_answer(&frame.message)));
        }
    }
    assert_eq!(answers, [(2, (2, 0))]);
    server.stop().await;
}

/// A malformed frame after requests answers them first, as a `Logout`
/// does, then says `ProtocolError`: the session's own rejects (seq 0) are
/// never replayed, so closing at once would lose them for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_frame_comes_after_the_answers_to_the_requests_before_it() {
    // A frame of length 0, then (a hostile broker's) a second `Login`,
    // whose 411 came alone: the answers before it were lost.
    let second_login = encoded([login_message(1, SECRET_1, PROTOCOL_VERSION)]);
    for (ending, code) in [(&[0, 0, 0, 0][..], 414), (&second_login[..], 411)] {
        let server = TestServer::start(slow_syncs_config()).await;
        let mut conn = logged_in_between_commits(&server).await;
        // Order 2 waits for the next group commit; order 3's unknown
        // symbol is refused by the session, behind it; then the ending.
        let mut bytes = encoded([
            ClientMessage::from(buy(2, 1001, 85_00, 1)),
            ClientMessage::from(NewOrder::limit(3, 1001, "NOPE", Side::Buy, 85_00, 1)),
        ]);
        bytes.extend_from_slice(ending);
        write_raw(&mut conn, &bytes).await;
        let mut answers = Vec::new();
        while let Some(frame) = next_frame(&mut conn).await {
            match frame.message {
                ServerMessage::Heartbeat => {}
                ServerMessage::ProtocolError { reason, .. } => {
                    answers.push((frame.seq, (0, reason)));
                }
                ref message => answers.push((frame.seq, order_answer(message))),
            }
        }
        assert_eq!(answers, [(2, (2, 0)), (0, (3, 410)), (0, (0, code))]);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_close_only_their_own_connection() {
    let server = TestServer::start(ServerConfig::embedded_default()).await;
    // Broker 2 trades throughout, on one connection.
    let mut two = login(&server, 2, SECRET_2).await;
    let mut seq_two = 0;

    // Garbage before login: an unknown message tag.
    let mut conn = raw(&server).await;
    write_raw(&mut conn, &[4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).await;
    expect_protocol_error_then_close(&mut conn, 414).await;

    // A length above the maximum before login (256).
    let mut conn = raw(&server).await;
    write_raw(&mut conn, &4096_u32.to_le_bytes()).await;
    expect_protocol_error_then_close(&mut conn, 415).await;

    // A frame whose message ends early (a Login cut short).
    let mut conn = raw(&server).await;
    write_raw(&mut conn, &[6, 0, 0, 0, 0, 0, 0, 0, 1, 0]).await;
    expect_protocol_error_then_close(&mut conn, 414).await;

    // A frame cut off by the end of the connection: no one to tell.
    let mut conn = raw(&server).await;
    write_raw(&mut conn, &[32, 0, 0, 0, 0, 0, 0, 0, 1]).await;
    conn.get_mut().shutdown().await.expect("half-close");
    assert_eq!(next_frame(&mut conn).await, None);

    keep_trading(&mut two, 1, &mut seq_two).await;

    // After login: an unknown enum tag (Side 7) in a NewOrder.
    let mut conn = raw_logged_in(&server, 1, SECRET_1).await;
    let mut order = vec![1, 0, 0, 0];
    order.extend_from_slice(&1_u64.to_le_bytes());
    order.extend_from_slice(&1001_u32.to_le_bytes());
    order.extend_from_slice(&7_u64.to_le_bytes());
    order.extend_from_slice(b"CEA2025");
    order.extend_from_slice(&7_u32.to_le_bytes()); // side: no such tag
    order.extend_from_slice(&0_u32.to_le_bytes());
    order.extend_from_slice(&0_u32.to_le_bytes());
    order.extend_from_slice(&90_00_i64.to_le_bytes());
    order.extend_from_slice(&10_u64.to_le_bytes());
    let mut frame = u32::try_from(order.len())
        .expect("small")
        .to_le_bytes()
        .to_vec();
    frame.extend_from_slice(&order);
    write_raw(&mut conn, &frame).await;
    expect_protocol_error_then_close(&mut conn, 414).await;
    keep_trading(&mut two, 2, &mut seq_two).await;

    // After login: trailing bytes after a Heartbeat.
    let mut conn = raw_logged_in(&server, 1, SECRET_1).await;
    write_raw(&mut conn, &[5, 0, 0, 0, 4, 0, 0, 0, 0]).await;
    expect_protocol_error_then_close(&mut conn, 414).await;
    keep_trading(&mut two, 3, &mut seq_two).await;

    // After login: a length above the maximum after login (4096).
    let mut conn = raw_logged_in(&server, 1, SECRET_1).await;
    write_raw(&mut conn, &4097_u32.to_le_bytes()).await;
    expect_protocol_error_then_close(&mut conn, 415).await;

    // After login: garbage.
    let mut conn = raw_logged_in(&server, 1, SECRET_1).await;
    write_raw(&mut conn, &[3, 0, 0, 0, 0xde, 0xad, 0xbe]).await;
    expect_protocol_error_then_close(&mut conn, 414).await;
    keep_trading(&mut two, 4, &mut seq_two).await;

    // Nothing was lost: broker 1 logs in again and trades with broker 2's
    // four resting bids; broker 2 hears of every fill, in sequence.
    let mut one = login(&server, 1, SECRET_1).await;
    one.submit(sell(1, 1001, 82_00, 4)).await.expect("send");
    let mut one_frames = Vec::new();
    for _ in 0..5 {
        one_frames.push(report(&mut one).await);
    }
    assert!(matches!(
        one_frames[0].message,
        ServerMessage::OrderAccepted { .. }
    ));
    let filled: u64 = one_frames[1..]
        .iter()
        .map(|f| match f.message {
            ServerMessage::Fill { quantity_t, .. } => quantity_t,
            _ => panic!("expected fills: {f:?}"),
        })
        .sum();
    assert_eq!(filled, 4);
    for id in 1..=4 {
        let fill = report(&mut two).await;
        seq_two += 1;
        assert_eq!(fill.seq, seq_two);
        assert!(
            matches!(fill.message, ServerMessage::Fill { client_order_id, leaves_t: 0, .. } if client_order_id == id),
            "{fill:?}"
        );
    }
    drop((one, two));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_flow_and_an_idle_session_is_closed() {
    let mut config = ServerConfig::embedded_default();
    // Below what validation allows, to keep the test short: the server
    // takes the numbers it is given. The session's one timer checks the
    // idle timeout before the heartbeat, so a session task held up for
    // the idle timeout less the interval closes with no second heartbeat:
    // the idle timeout is 60 intervals, so that only a stall of nearly
    // 3 s (never a busy machine's scheduling) can do that.
    config.server.heartbeat_interval_ms = 50;
    config.server.idle_timeout_ms = 3_000;
    let idle_timeout = Duration::from_millis(config.server.idle_timeout_ms);
    let server = TestServer::start(config).await;
    // The server last heard the broker at its Login, sent after this.
    let before_login = std::time::Instant::now();
    let mut conn = raw_logged_in(&server, 1, SECRET_1).await;
    let first = next_frame(&mut conn).await.expect("a heartbeat");
    assert_eq!(first.message, ServerMessage::Heartbeat);
    assert_eq!(first.seq, 0);
    // Saying nothing: heartbeats, then the close.
    let mut heartbeats = 1;
    for _ in 0..1_000 {
        match next_frame(&mut conn).await {
            Some(frame) => {
                assert_eq!(frame.message, ServerMessage::Heartbeat);
                heartbeats += 1;
            }
            None => break,
        }
    }
    assert!(heartbeats >= 2, "{heartbeats}");
    assert_eq!(next_frame(&mut conn).await, None, "closed for idleness");
    // Closed for its silence, not for anything sooner.
    let closed_after = before_login.elapsed();
    assert!(closed_after >= idle_timeout, "{closed_after:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_resumes_with_no_gap_and_no_duplicate() {
    let server = TestServer::start(ServerConfig::embedded_default()).await;
    let mut one = login(&server, 1, SECRET_1).await;
    let mut two = login(&server, 2, SECRET_2).await;
    one.submit(sell(1, 1001, 90_00, 30)).await.expect("send");
    assert_accepted(&report(&mut one).await, 1, 1);
    // Broker 1 hears of its fill only later.
    two.submit(buy(1, 2001, 90_00, 10)).await.expect("send");
    assert_accepted(&report(&mut two).await, 1, 1);
    assert_eq!(report(&mut two).await.seq, 2);
    // Reconnecting closes broker 1's session first, which cancels its
    // resting order (cancel on disconnect): reports 2 (the fill) and 3
    // (the cancel) come in the replay or live, in order, once each.
    one.reconnect().await.expect("reconnect");
    let fill = report(&mut one).await;
    assert_eq!(fill.seq, 2);
    assert!(matches!(
        fill.message,
        ServerMessage::Fill { quantity_t: 10, .. }
    ));
    let cancelled = report(&mut one).await;
    assert_eq!(cancelled.seq, 3);
    assert!(matches!(
        cancelled.message,
        ServerMessage::Cancelled {
            cancelled_t: 20,
            cause: 6,
            ..
        }
    ));
    assert_eq!(
        one.next_report(Duration::from_millis(200))
            .await
            .ok()
            .flatten(),
        None
    );
    drop((one, two));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limits_are_refused_and_the_limits_free_up() {
    let mut config = ServerConfig::embedded_default();
    config.server.max_connections = 1;
    config.server.max_pending_logins = 1;
    let server = TestServer::start(config).await;
    // A login moves its connection from the pending slot to the session.
    let first = raw_logged_in(&server, 1, SECRET_1).await;
    let mut second = raw(&server).await;
    // Over the pending limit: the newest connection takes the place of the
    // oldest one waiting to log in, which is told why and closed.
    let third = raw(&server).await;
    expect_refused_412(&mut second).await;
    assert!(next_frame(&mut second).await.is_none(), "then closed");
    // With the pending slot free again, a good login is refused only
    // because the session limit is full.
    drop(third);
    let refused = retry_login(&server, 2, SECRET_2).await;
    assert!(refused.is_none(), "the session limit is full");
    // Closing the session makes room for another.
    drop(first);
    let again = retry_login(&server, 2, SECRET_2).await;
    assert!(
        again.is_some(),
        "a freed place is given to a new connection"
    );
    drop(again);
    server.stop().await;
}

async fn expect_refused_412(conn: &mut Raw) {
    match next_frame(conn).await {
        Some(ServerFrame {
            seq: 0,
            message: ServerMessage::LoginRejected { reason: 412, .. },
        }) => {}
        other => panic!("expected LoginRejected 412, got {other:?}"),
    }
}

/// Logs in, trying again (a bounded number of times) while the answer is
/// 412: the server may not have seen an earlier close yet.
async fn retry_login(server: &TestServer, broker: u32, secret: &str) -> Option<Raw> {
    for _ in 0..50 {
        let mut conn = raw(server).await;
        conn.send(login_message(broker, secret, PROTOCOL_VERSION))
            .await
            .expect("send login");
        match next_frame(&mut conn).await {
            Some(ServerFrame {
                message: ServerMessage::LoginAccepted { .. },
                ..
            }) => return Some(conn),
            Some(ServerFrame {
                message: ServerMessage::LoginRejected { reason: 412, .. },
                ..
            }) => tokio::task::yield_now().await,
            other => panic!("unexpected {other:?}"),
        }
    }
    None
}

/// Friday 27 November 2026, 14:59 and 15:00 in Beijing: the day's close
/// comes between them.
const AT_14_59: i64 = 1_795_762_740_000_000_000;
const AT_15_00: i64 = 1_795_762_800_000_000_000;

/// A report in short: its seq, the request a reject answers (`None` for
/// any other report), the reject code (0 for any other report) and the
/// client order id.
fn in_short(frame: &ServerFrame) -> (u64, Option<RequestKind>, u16, u64) {
    match frame.message {
        ServerMessage::OrderRejected {
            client_order_id,
            request,
            reason,
            ..
        } => (frame.seq, Some(request), reason, client_order_id),
        ServerMessage::OrderAccepted {
            client_order_id, ..
        }
        | ServerMessage::Expired {
            client_order_id, ..
        } => (frame.seq, None, 0, client_order_id),
        ref other => panic!("unexpected {other:?}"),
    }
}

/// PROTOCOL.md, *Orders* and *After the close*: the trading day turns at
/// the close. A `NewOrder` after it is refused by the engine, **303**
/// `MarketClosed` after its price and quantity, and while the market is
/// closed that refusal is unsequenced: it is not journaled and does not
/// use its id up (the same id again is 303 again, not 406; reviewer 146
/// F2: numbered 303s grew the day's index, and the journal, all weekend).
/// "An order that expired did so at the close, where the trading day
/// turns: its id is of a day that is over, so a `Cancel` or `Amend` of it
/// is **409**" (unsequenced), while the id itself may name a new order
/// (refused 303 too, the market being closed). A `Cancel` of the refused
/// order's id is 409 too: it names no order of the day, and an order
/// with a price out of the band or no quantity gets the engine's first
/// reason (103, 104), unsequenced as well. Sent at once,
/// they are answered in the order they were sent, after the `Expired` of
/// the close, and nothing more is numbered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_and_cancels_after_the_close_are_refused_303_and_409_in_their_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = cetx_gateway::runtime::Clock::manual(AT_14_59);
    let server = TestServer::start_at(ServerConfig::embedded_default(), dir, clock).await;
    let mut one = login(&server, 1, SECRET_1).await;
    one.submit(sell(1, 1001, 85_00, 10)).await.expect("send");
    let accepted = report(&mut one).await;
    assert_accepted(&accepted, 1, 1);
    let ServerMessage::OrderAccepted { order_id, .. } = accepted.message else {
        unreachable!("asserted above");
    };
    server.set_time(AT_15_00);
    let expired = report(&mut one).await;
    assert_eq!(expired.seq, 2, "{expired:?}");
    assert!(
        matches!(
            expired.message,
            ServerMessage::Expired {
                client_order_id: 1,
                expired_t: 10,
                ..
            }
        ),
        "{expired:?}"
    );
    one.cancel(1).await.expect("send");
    one.amend(1, 85_01, 5).await.expect("send");
    one.submit(sell(2, 1001, 85_00, 10)).await.expect("send");
    one.submit(sell(2, 1001, 85_00, 10)).await.expect("send");
    one.submit(sell(1, 1001, 85_00, 10)).await.expect("send");
    one.cancel(2).await.expect("send");
    // A price out of the band, a quantity of 0: the engine checks both
    // before the phase.
    one.submit(sell(3, 1001, 1_00, 10)).await.expect("send");
    one.submit(sell(4, 1001, 85_00, 0)).await.expect("send");
    // A take of the order that expired at the close (by another broker).
    let mut two = login(&server, 2, SECRET_2).await;
    let take = ClientMessage::Take {
        client_order_id: 5,
        account: 2001,
        symbol: "CEA2025".into(),
        order_id,
        side: Side::Buy,
        quantity_t: 10,
    };
    two.send(take).await.expect("send");
    assert_eq!(
        in_short(&report(&mut two).await),
        (0, Some(RequestKind::Take), 303, 5)
    );
    let mut answers = Vec::new();
    for _ in 0..8 {
        answers.push(in_short(&report(&mut one).await));
    }
    assert_eq!(
        answers,
        [
            (0, Some(RequestKind::Cancel), 409, 1),
            (0, Some(RequestKind::Amend), 409, 1),
            (0, Some(RequestKind::NewOrder), 303, 2),
            (0, Some(RequestKind::NewOrder), 303, 2),
            (0, Some(RequestKind::NewOrder), 303, 1),
            (0, Some(RequestKind::Cancel), 409, 2),
            (0, Some(RequestKind::NewOrder), 103, 3),
            (0, Some(RequestKind::NewOrder), 104, 4),
        ]
    );
    assert_eq!(
        one.next_report(Duration::from_millis(200))
            .await
            .ok()
            .flatten(),
        None,
        "nothing more"
    );
    drop(one);
    server.stop().await;
}
