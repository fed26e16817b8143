//! The operators' channel over loopback: an operator opens and funds an
//! account on a running market, its broker trades with it at once, a
//! re-sent transfer changes nothing, a transfer out that would break a
//! reservation is refused, a halt stops orders until resumed, a broker's
//! credentials are refused, and all of it survives a restart.
//!
//! Every wait is a read with a timeout; every loop is bounded.

use std::time::Duration;

use cetx_engine::{Direction, ParticipantType, RejectReason};
use cetx_gateway::admin::{
    AdminClient, AdminClientError, KEPT_FOR_PROVEN, MAX_CONNECTIONS, MAX_PENDING,
};
use cetx_gateway::client::{Client, NewOrder};
use cetx_gateway::codec::FrameCodec;
use cetx_gateway::protocol::admin::{AdminAction, AdminReply};
use cetx_gateway::protocol::admin::{AdminRequest, ADMIN_PROTOCOL_VERSION, MAX_ADMIN_FRAME};
use cetx_gateway::protocol::Secret;
use cetx_gateway::protocol::{ServerFrame, ServerMessage, Side};
use cetx_tests::operators::{config, operator, OPERATOR_SECRET};
use cetx_tests::server::{dir_with_proven, TestServer};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// Longest wait for any one answer.
const WAIT: Duration = Duration::from_secs(10);

fn transfer(
    reference: &str,
    account: u32,
    symbol: Option<&str>,
    direction: Direction,
    amount: u64,
) -> AdminAction {
    AdminAction::Transfer {
        reference: reference.to_owned(),
        account,
        symbol: symbol.map(Into::into),
        direction,
        amount,
    }
}

/// The seq of an applied action; panics on anything else.
fn applied(reply: &AdminReply) -> u64 {
    match reply {
        AdminReply::Applied { seq, .. } => *seq,
        other => panic!("not applied: {other:?}"),
    }
}

fn rejected(reply: &AdminReply) -> u16 {
    match reply {
        AdminReply::Rejected { reason, .. } => *reason,
        other => panic!("not rejected: {other:?}"),
    }
}

/// The next report that is not a heartbeat.
async fn report(client: &mut Client) -> ServerFrame {
    client
        .next_report(WAIT)
        .await
        .expect("the connection works")
        .expect("a report within the wait")
}

fn sell(client_order_id: u64, account: u32, quantity_t: u64) -> NewOrder {
    NewOrder::limit(
        client_order_id,
        account,
        "CEA2025",
        Side::Sell,
        90_00,
        quantity_t,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_onboards_funds_and_halts_on_a_running_market() {
    let server = TestServer::start(config()).await;

    // A broker's credentials do not open the operators' channel.
    let refused = AdminClient::connect(server.admin.unwrap(), 1, "demo-secret-1")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, AdminClientError::Refused { reason, .. } if reason == RejectReason::BadCredentials.code()),
        "{refused}"
    );

    let mut desk = operator(&server).await;
    // Account 3001 for broker 2, funded by the bank and the registry.
    let open = AdminAction::OpenAccount {
        account: 3001,
        broker: 2,
        participant: ParticipantType::ComplianceEntity,
    };
    applied(&desk.act(open.clone()).await.unwrap());
    assert_eq!(
        rejected(&desk.act(open).await.unwrap()),
        RejectReason::AccountExists.code()
    );
    let unknown_broker = AdminAction::OpenAccount {
        account: 3002,
        broker: 77,
        participant: ParticipantType::Institution,
    };
    assert_eq!(
        rejected(&desk.act(unknown_broker).await.unwrap()),
        RejectReason::UnknownBroker.code()
    );
    applied(
        &desk
            .act(transfer("BANK-1", 3001, None, Direction::In, 1_000_000_00))
            .await
            .unwrap(),
    );
    let credit = transfer(
        "REG-2026-00042",
        3001,
        Some("CEA2025"),
        Direction::In,
        1_000,
    );
    applied(&desk.act(credit.clone()).await.unwrap());
    // Sent again: nothing changes twice.
    assert_eq!(
        rejected(&desk.act(credit).await.unwrap()),
        RejectReason::DuplicateReference.code()
    );

    // Broker 2 sells from the new account at once; broker 1 buys.
    let mut seller = Client::connect(server.addr, 2, "demo-secret-2", 0)
        .await
        .unwrap();
    let mut buyer = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .unwrap();
    seller.submit(sell(1, 3001, 900)).await.unwrap();
    assert!(matches!(
        report(&mut seller).await.message,
        ServerMessage::OrderAccepted { .. }
    ));
    buyer
        .submit(NewOrder::limit(1, 1001, "CEA2025", Side::Buy, 90_00, 100))
        .await
        .unwrap();
    assert!(matches!(
        report(&mut buyer).await.message,
        ServerMessage::OrderAccepted { .. }
    ));
    assert!(matches!(
        report(&mut seller).await.message,
        ServerMessage::Fill {
            quantity_t: 100,
            leaves_t: 800,
            ..
        }
    ));
    assert!(matches!(
        report(&mut buyer).await.message,
        ServerMessage::Fill {
            quantity_t: 100,
            ..
        }
    ));

    // 100 t are left free, 800 t rest in the sell: a transfer out of 200 t
    // would break the reservation.
    assert_eq!(
        rejected(
            &desk
                .act(transfer(
                    "REG-OUT-1",
                    3001,
                    Some("CEA2025"),
                    Direction::Out,
                    200
                ))
                .await
                .unwrap()
        ),
        RejectReason::InsufficientHoldings.code()
    );
    applied(
        &desk
            .act(transfer(
                "REG-OUT-2",
                3001,
                Some("CEA2025"),
                Direction::Out,
                100,
            ))
            .await
            .unwrap(),
    );

    // A halt stops new orders until resumed.
    applied(
        &desk
            .act(AdminAction::Halt {
                symbol: "CEA2025".into(),
            })
            .await
            .unwrap(),
    );
    buyer
        .submit(NewOrder::limit(2, 1001, "CEA2025", Side::Buy, 90_00, 10))
        .await
        .unwrap();
    assert!(matches!(
        report(&mut buyer).await.message,
        ServerMessage::OrderRejected { reason, .. } if reason == RejectReason::MarketClosed.code()
    ));
    // Resumed, it takes the market's phase of the moment as the engine
    // thread has it: open, as the server opened it at start, though the
    // calendar says a Saturday noon is closed (reviewer 147 F2: it took
    // the operator session's reading of the calendar, and stayed closed).
    let resume_cea = AdminAction::Resume {
        symbol: "CEA2025".into(),
    };
    applied(&desk.act(resume_cea).await.unwrap());
    buyer
        .submit(NewOrder::limit(30, 1001, "CEA2025", Side::Buy, 85_00, 10))
        .await
        .unwrap();
    let again = report(&mut buyer).await;
    assert!(
        matches!(
            again.message,
            ServerMessage::OrderAccepted {
                client_order_id: 30,
                ..
            }
        ),
        "trades again once resumed: {again:?}"
    );
    buyer.cancel(30).await.unwrap();
    assert!(matches!(
        report(&mut buyer).await.message,
        ServerMessage::Cancelled {
            client_order_id: 30,
            ..
        }
    ));
    let unknown = desk
        .act(AdminAction::Halt {
            symbol: "CEA1999".into(),
        })
        .await
        .unwrap();
    assert!(
        matches!(unknown, AdminReply::Rejected { seq: 0, reason, .. } if reason == RejectReason::UnknownSymbol.code())
    );
    let resume = (seller.last_seq(), buyer.last_seq());
    // Broker 2 logs out before the stop: its resting sell is cancelled.
    // The server closes the connection only after the session has ended,
    // so the cancel is queued before the stop.
    seller.logout(WAIT).await.unwrap();
    drop((buyer, desk));
    let data = server.stop().await;

    // After a restart: the account, its holdings and the references are
    // all there.
    let server = TestServer::start_in(config(), data).await;
    let mut desk = operator(&server).await;
    let again = transfer(
        "REG-2026-00042",
        3001,
        Some("CEA2025"),
        Direction::In,
        1_000,
    );
    assert_eq!(
        rejected(&desk.act(again).await.unwrap()),
        RejectReason::DuplicateReference.code(),
        "a reference is remembered across a restart"
    );
    // The same reference for another amount is not the transfer re-sent:
    // it is refused as reused, with its terms remembered across the
    // restart too.
    let reused = transfer(
        "REG-2026-00042",
        3001,
        Some("CEA2025"),
        Direction::In,
        1_001,
    );
    assert_eq!(
        rejected(&desk.act(reused).await.unwrap()),
        RejectReason::ReferenceReused.code()
    );
    // 1,000 t in, 100 t sold, 100 t out: 800 t left to sell (the resting
    // sell was cancelled when broker 2 disconnected).
    let too_much = transfer("REG-OUT-3", 3001, Some("CEA2025"), Direction::Out, 801);
    assert_eq!(
        rejected(&desk.act(too_much).await.unwrap()),
        RejectReason::InsufficientHoldings.code()
    );
    // (The test server opens the market by hand at start, halted
    // instruments too.)
    let mut seller = Client::connect(server.addr, 2, "demo-secret-2", resume.0)
        .await
        .unwrap();
    let mut buyer = Client::connect(server.addr, 1, "demo-secret-1", resume.1)
        .await
        .unwrap();
    // The sell broker 2's disconnect cancelled comes first.
    assert!(matches!(
        report(&mut seller).await.message,
        ServerMessage::Cancelled {
            cancelled_t: 800,
            ..
        }
    ));
    seller.submit(sell(2, 3001, 800)).await.unwrap();
    let answer = report(&mut seller).await;
    assert!(
        matches!(answer.message, ServerMessage::OrderAccepted { .. }),
        "{answer:?}"
    );
    buyer
        .submit(NewOrder::limit(3, 1001, "CEA2025", Side::Buy, 90_00, 50))
        .await
        .unwrap();
    assert!(matches!(
        report(&mut buyer).await.message,
        ServerMessage::OrderAccepted { .. }
    ));
    assert!(matches!(
        report(&mut seller).await.message,
        ServerMessage::Fill {
            quantity_t: 50,
            leaves_t: 750,
            ..
        }
    ));
    server.stop().await;
}

/// An operator's raw connection.
type Raw = Framed<TcpStream, FrameCodec<AdminReply, AdminRequest>>;

async fn raw(server: &TestServer) -> Raw {
    raw_from(server, [127, 0, 0, 1]).await
}

/// [`raw`] from the loopback address `from`.
async fn raw_from(server: &TestServer, from: [u8; 4]) -> Raw {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((from, 0).into()).unwrap();
    let stream = socket.connect(server.admin.unwrap()).await.unwrap();
    Framed::new(stream, FrameCodec::new(MAX_ADMIN_FRAME, MAX_ADMIN_FRAME))
}

/// The next message, or `None` once closed, within [`WAIT`].
async fn next(conn: &mut Raw) -> Option<AdminReply> {
    match tokio::time::timeout(WAIT, conn.next())
        .await
        .expect("an answer or a close in time")
    {
        Some(Ok(reply)) => Some(reply),
        Some(Err(_)) | None => None,
    }
}

fn login() -> AdminRequest {
    AdminRequest::Login {
        protocol_version: ADMIN_PROTOCOL_VERSION,
        operator: 9,
        secret: Secret::new(OPERATOR_SECRET),
    }
}

/// What ADMIN.md promises of a session out of order: an action before the
/// login is 401, a second login 411, a malformed frame 414, each answered
/// `Error` and closed; and at most [`MAX_CONNECTIONS`] are open at once,
/// [`KEPT_FOR_PROVEN`] more from where an operator logged in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_out_of_order_are_answered_and_closed() {
    // Operator 9 logged in from 127.0.0.1 before this start: that
    // address is proven (ADMIN.md), and has 2 connections past the 16.
    let dir = dir_with_proven(cetx_gateway::admin::PROVEN_FILE, 9);
    let server = TestServer::start_in(config(), dir).await;
    let halt = AdminRequest::Action {
        request_id: 1,
        action: AdminAction::Halt {
            symbol: "CCER".into(),
        },
    };
    let mut early = raw(&server).await;
    early.send(halt).await.unwrap();
    assert!(matches!(
        next(&mut early).await,
        Some(AdminReply::Error { reason: 401, .. })
    ));
    assert_eq!(next(&mut early).await, None, "then closed");

    let mut twice = raw(&server).await;
    twice.send(login()).await.unwrap();
    assert!(matches!(
        next(&mut twice).await,
        Some(AdminReply::LoggedIn { operator: 9 })
    ));
    twice.send(login()).await.unwrap();
    assert!(matches!(
        next(&mut twice).await,
        Some(AdminReply::Error { reason: 411, .. })
    ));
    assert_eq!(next(&mut twice).await, None, "then closed");

    let mut malformed = raw(&server).await;
    malformed.send(login()).await.unwrap();
    assert!(matches!(
        next(&mut malformed).await,
        Some(AdminReply::LoggedIn { .. })
    ));
    // A frame of four bytes whose tag names no request.
    tokio::io::AsyncWriteExt::write_all(malformed.get_mut(), &[4, 0, 0, 0, 9, 0, 0, 0])
        .await
        .unwrap();
    assert!(matches!(
        next(&mut malformed).await,
        Some(AdminReply::Error { reason: 414, .. })
    ));
    assert_eq!(next(&mut malformed).await, None, "then closed");
    // Decoded before anything else: malformed before the login is 414.
    let mut malformed_early = raw(&server).await;
    tokio::io::AsyncWriteExt::write_all(malformed_early.get_mut(), &[4, 0, 0, 0, 9, 0, 0, 0])
        .await
        .unwrap();
    assert!(matches!(
        next(&mut malformed_early).await,
        Some(AdminReply::Error { reason: 414, .. })
    ));
    assert_eq!(next(&mut malformed_early).await, None, "then closed");

    // Past the limit, a connection is closed without a word; the ones
    // open still work. From an address no operator logged in from, the
    // limit is 16; from one that did (127.0.0.1, in the file), 2 more.
    let mut open = Vec::new();
    for at in 0..MAX_CONNECTIONS + KEPT_FOR_PROVEN {
        if at == MAX_CONNECTIONS {
            let mut over = raw_from(&server, [127, 0, 0, 2]).await;
            let _ = over.send(login()).await;
            assert_eq!(next(&mut over).await, None, "closed");
        }
        let mut conn = raw(&server).await;
        conn.send(login()).await.unwrap();
        assert!(matches!(
            next(&mut conn).await,
            Some(AdminReply::LoggedIn { .. })
        ));
        open.push(conn);
    }
    let mut over = raw(&server).await;
    let _ = over.send(login()).await;
    assert_eq!(next(&mut over).await, None, "closed");
    // Once one of them has ended (here closed by the server, on a second
    // login), its place is free for the next connection at once.
    let mut ended = open.pop().unwrap();
    ended.send(login()).await.unwrap();
    assert!(matches!(
        next(&mut ended).await,
        Some(AdminReply::Error { reason: 411, .. })
    ));
    assert_eq!(next(&mut ended).await, None, "then closed");
    let mut next_one = raw(&server).await;
    next_one.send(login()).await.unwrap();
    assert!(
        matches!(next(&mut next_one).await, Some(AdminReply::LoggedIn { .. })),
        "a connection that ended still counted as open"
    );
    drop(open);
    server.stop().await;
}

/// ADMIN.md, "Connecting": wrong secrets on the operators' channel are
/// slowed, then refused, as on the broker port (`[server.login_backoff]`),
/// and a refused address is refused even the right secret until its
/// failures are forgotten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_operator_secrets_are_slowed_then_refused() {
    let mut config = config();
    config.server.login_backoff.free_failures = 1;
    config.server.login_backoff.first_delay_ms = 200;
    config.server.login_backoff.refuse_after = 3;
    let server = TestServer::start(config).await;
    let addr = server.admin.unwrap();
    let guess = || AdminClient::connect(addr, 9, "a guess");
    let code = |refused: AdminClientError| match refused {
        AdminClientError::Refused { reason, .. } => reason,
        other => panic!("{other}"),
    };
    assert_eq!(code(guess().await.unwrap_err()), 402);
    // The second failure waits its delay.
    let started = std::time::Instant::now();
    assert_eq!(code(guess().await.unwrap_err()), 402);
    assert!(started.elapsed() >= Duration::from_millis(200));
    // The third is the refusal, and then the address is refused.
    assert_eq!(code(guess().await.unwrap_err()), 417);
    let right = AdminClient::connect(addr, 9, OPERATOR_SECRET).await;
    assert_eq!(code(right.unwrap_err()), 417);
    server.stop().await;
}

/// A shutdown answers the actions the channel has taken before it closes:
/// a helper's SIGTERM after the 50th of 300 pipelined deposits left the
/// 51st journaled (its re-send was answered 211) and never answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_answers_the_actions_in_flight() {
    const SENT: u64 = 3_000;
    let server = TestServer::start(config()).await;
    let mut conn = raw(&server).await;
    conn.send(login()).await.unwrap();
    assert!(matches!(
        next(&mut conn).await,
        Some(AdminReply::LoggedIn { .. })
    ));
    for request_id in 0..SENT {
        let action = transfer(
            &format!("DRAIN-{request_id}"),
            1001,
            None,
            Direction::In,
            100,
        );
        SinkExt::<AdminRequest>::feed(&mut conn, AdminRequest::Action { request_id, action })
            .await
            .unwrap();
    }
    SinkExt::<AdminRequest>::flush(&mut conn).await.unwrap();
    applied(&next(&mut conn).await.expect("the first answer"));
    // Stopped before the rest is read, with requests still unread in the
    // connection: the server reads and drops them as it closes, since a
    // socket closed with unread input is reset, and a reset throws away
    // answers not yet read (a crash tester lost 131 so, 1 run in 11; this
    // test does not catch that race reliably).
    let dir = server.stop().await;
    // Transfers go to the engine without waiting for each other's sync:
    // those taken once the stop had begun are refused 408, after every
    // one applied.
    let (mut answered, mut stopping) = (1, 0);
    while let Some(reply) = next(&mut conn).await {
        match reply {
            AdminReply::Rejected { reason, .. } if reason == RejectReason::ServerBusy.code() => {
                stopping += 1;
            }
            applied_one => {
                assert_eq!(stopping, 0, "applied after a refusal: {applied_one:?}");
                applied(&applied_one);
                answered += 1;
            }
        }
    }
    let journal = cetx_engine::journal::JournalReader::open(dir.path().join("journal")).unwrap();
    let journaled = journal
        .map(Result::unwrap)
        .filter(|entry| {
            matches!(&entry.command, cetx_engine::Command::Transfer(t) if t.reference.starts_with("DRAIN-"))
        })
        .count();
    assert!(
        answered + stopping < SENT,
        "the shutdown came before the last: {answered} + {stopping}"
    );
    assert_eq!(
        journaled as u64, answered,
        "every action journaled is answered"
    );
}

/// Idle sockets cannot keep an operator out (a helper's 16 held the
/// channel, reconnecting, and every operator login was reset): past
/// [`MAX_PENDING`] connections not logged in, a new one takes the place of
/// the oldest, which is answered 412 and closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_cannot_keep_an_operator_out() {
    let server = TestServer::start(config()).await;
    let (told, mut gone) = tokio::sync::mpsc::unbounded_channel();
    let mut idle = Vec::new();
    for _ in 0..MAX_CONNECTIONS {
        let mut conn = raw(&server).await;
        let told = told.clone();
        idle.push(tokio::spawn(async move {
            let first = next(&mut conn).await;
            let then = next(&mut conn).await;
            let _ = told.send((first, then));
            conn
        }));
    }
    // Half of them made room for the other half, at once.
    for _ in 0..MAX_CONNECTIONS - MAX_PENDING {
        let (first, then) = gone.recv().await.unwrap();
        assert!(
            matches!(first, Some(AdminReply::Error { reason: 412, .. })),
            "{first:?}"
        );
        assert_eq!(then, None, "then closed");
    }
    // The rest still wait; an operator gets in past them.
    let mut desk = raw(&server).await;
    desk.send(login()).await.unwrap();
    assert!(matches!(
        next(&mut desk).await,
        Some(AdminReply::LoggedIn { .. })
    ));
    let (first, _) = gone.recv().await.unwrap();
    assert!(
        matches!(first, Some(AdminReply::Error { reason: 412, .. })),
        "the oldest waiting one made room: {first:?}"
    );
    for task in idle {
        task.abort();
    }
    server.stop().await;
}

/// `cetx admin` pointed at the broker port is told so, not "85 bytes
/// after the end of the message" (a security tester's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_port_is_named_as_not_the_operators_channel() {
    let server = TestServer::start(config()).await;
    match AdminClient::connect(server.addr, 9, OPERATOR_SECRET).await {
        Err(error @ AdminClientError::NotTheChannel { .. }) => {
            assert!(error.to_string().contains("broker port"), "{error}");
        }
        other => panic!("expected NotTheChannel, got {other:?}"),
    }
    server.stop().await;
}

/// A batch of transfers goes to the engine without waiting for each one's
/// sync (far fewer group commits than transfers), and each is answered in
/// the order sent, as carried out in that order: a withdrawal of what the
/// deposit before it brought is applied, one more is refused. An action
/// that checks the gateway's own state waits for those before it: a
/// transfer of a vintage listed just before it finds its symbol.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_pipelined_and_answered_in_order() {
    const TRANSFERS: usize = 512;
    let server = TestServer::start(config()).await;
    let mut desk = operator(&server).await;
    let mut actions = vec![AdminAction::OpenAccount {
        account: 3001,
        broker: 2,
        participant: ParticipantType::ComplianceEntity,
    }];
    for i in 0..TRANSFERS / 2 {
        actions.push(transfer(&format!("IN-{i}"), 3001, None, Direction::In, 100));
        actions.push(transfer(
            &format!("OUT-{i}"),
            3001,
            None,
            Direction::Out,
            100,
        ));
    }
    actions.push(transfer("OUT-ONE-MORE", 3001, None, Direction::Out, 1));
    let before = server.stats().journal.batches;
    let mut replies = Vec::new();
    desk.act_all(actions.clone(), |i, reply| replies.push((i, reply)))
        .await
        .unwrap();
    let batches = server.stats().journal.batches - before;
    assert_eq!(replies.len(), actions.len());
    let mut last_seq = 0;
    for (at, (i, reply)) in replies.iter().enumerate() {
        assert_eq!(at, *i);
        if at == actions.len() - 1 {
            assert_eq!(rejected(reply), RejectReason::InsufficientCash.code());
        } else {
            let seq = applied(reply);
            assert!(seq > last_seq, "answered out of order: {replies:?}");
            last_seq = seq;
        }
    }
    assert!(
        batches < (TRANSFERS / 2) as u64,
        "{batches} group commits for {TRANSFERS} transfers: one a sync"
    );

    // A listing, then a transfer of its vintage, in one go.
    let listing = AdminAction::ListInstrument(Box::new(
        cetx_gateway::protocol::admin::Listing::cea(2027, 90_00),
    ));
    let mut answers = Vec::new();
    desk.act_all(
        vec![
            listing,
            transfer("REG-2027", 3001, Some("CEA2027"), Direction::In, 10),
        ],
        |_, reply| answers.push(reply),
    )
    .await
    .unwrap();
    assert!(applied(&answers[0]) < applied(&answers[1]), "{answers:?}");

    // An action that does not encode (a reference far past any frame)
    // ends the batch with its error at once, the one before it sent and
    // answered (reviewer 160 F9: it was left unsent, and the batch waited
    // 30 s for its answer, then said it timed out).
    let mut answers = Vec::new();
    let huge = transfer(&"R".repeat(100_000), 3001, None, Direction::In, 1);
    let ended = tokio::time::timeout(
        WAIT,
        desk.act_all(
            vec![transfer("BEFORE-HUGE", 3001, None, Direction::In, 1), huge],
            |_, reply| answers.push(reply),
        ),
    )
    .await
    .expect("ends before the wait");
    assert!(
        matches!(ended, Err(cetx_gateway::admin::AdminClientError::Encode(_))),
        "{ended:?}"
    );
    assert_eq!(answers.len(), 1, "{answers:?}");
    applied(&answers[0]);
    server.stop().await;
}

/// While the market is closed for the day, orders are refused by the
/// gateway, unsequenced, whether the instrument was halted before or
/// after the close: a halt lasts through the night until resumed, and
/// the engine's numbered 303s grew the day's client order ids (reviewer
/// 147 F1). A resume then leaves it closed, as the market is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_for_an_instrument_halted_after_the_close_are_refused_unsequenced() {
    // Friday 27 November 2026, 14:59 and 15:00 in Beijing.
    const AT_14_59: i64 = 1_795_762_740_000_000_000;
    const AT_15_00: i64 = 1_795_762_800_000_000_000;
    let clock = cetx_gateway::runtime::Clock::manual(AT_14_59);
    let server =
        TestServer::start_at(config(), tempfile::tempdir().expect("temp dir"), clock).await;
    let mut desk = operator(&server).await;
    let mut buyer = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .unwrap();
    server.set_time(AT_15_00);
    let halt = AdminAction::Halt {
        symbol: "CEA2025".into(),
    };
    applied(&desk.act(halt).await.unwrap());
    let order = |id| NewOrder::limit(id, 1001, "CEA2025", Side::Buy, 85_00, 10);
    buyer.submit(order(1)).await.unwrap();
    let refused = report(&mut buyer).await;
    assert_eq!(refused.seq, 0, "{refused:?}");
    assert!(
        matches!(refused.message, ServerMessage::OrderRejected { reason, .. } if reason == RejectReason::MarketClosed.code()),
        "{refused:?}"
    );
    let resume = AdminAction::Resume {
        symbol: "CEA2025".into(),
    };
    applied(&desk.act(resume).await.unwrap());
    buyer.submit(order(1)).await.unwrap();
    let refused = report(&mut buyer).await;
    assert_eq!(refused.seq, 0, "the same id, closed still: {refused:?}");
    drop(buyer);
    server.stop().await;
}
