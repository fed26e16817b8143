//! Membership over loopback: an operator onboards a broker on a running
//! market, the broker logs in and trades at once, and a suspension cancels
//! its resting order, refuses its orders and its next login (420); an
//! account's suspension and closure; all of it survives a restart, and the
//! broker's secret is nowhere in the data directory.
//!
//! Every wait is a read with a timeout; every loop is bounded.

use std::time::Duration;

use cetx_engine::{ParticipantType, RejectReason, Status};
use cetx_gateway::client::{Client, ClientError, NewOrder};
use cetx_gateway::protocol::admin::{AdminAction, AdminReply};
use cetx_gateway::protocol::Secret;
use cetx_gateway::protocol::{ServerFrame, ServerMessage, Side};
use cetx_gateway::runtime::{Runtime, RuntimeError, RuntimeOptions};
use cetx_tests::operators::{config, config_with, operator};
use cetx_tests::server::{order_answer, TestServer};

/// Longest wait for any one answer.
const WAIT: Duration = Duration::from_secs(10);

const NEW_BROKER: u32 = 12;
const NEW_SECRET: &str = "twelfth-broker-secret";
const NEW_ACCOUNT: u32 = 5001;

fn applied(reply: &AdminReply) {
    assert!(matches!(reply, AdminReply::Applied { .. }), "{reply:?}");
}

fn rejected(reply: &AdminReply) -> (u64, u16) {
    match reply {
        AdminReply::Rejected { seq, reason, .. } => (*seq, *reason),
        other => panic!("not rejected: {other:?}"),
    }
}

async fn report(client: &mut Client) -> ServerFrame {
    client
        .next_report(WAIT)
        .await
        .expect("the connection works")
        .expect("a report within the wait")
}

/// The login's refusal code, or `None` when it is accepted.
async fn login_refusal(server: &TestServer, broker: u32, secret: &str) -> Option<u16> {
    match Client::connect(server.addr, broker, secret, 0).await {
        Ok(_) => None,
        Err(ClientError::LoginRejected { reason, .. }) => Some(reason),
        Err(other) => panic!("login failed otherwise: {other}"),
    }
}

fn buy(client_order_id: u64, quantity_t: u64) -> NewOrder {
    NewOrder::limit(
        client_order_id,
        NEW_ACCOUNT,
        "CEA2025",
        Side::Buy,
        90_00,
        quantity_t,
    )
}

/// The reason of the next report, which must be an `OrderRejected`.
async fn order_rejected(client: &mut Client) -> u16 {
    match report(client).await.message {
        ServerMessage::OrderRejected { reason, .. } => reason,
        other => panic!("not rejected: {other:?}"),
    }
}

fn broker_status(status: Status) -> AdminAction {
    AdminAction::SetBrokerStatus {
        broker: NEW_BROKER,
        status,
    }
}

fn account_status(status: Status) -> AdminAction {
    AdminAction::SetAccountStatus {
        account: NEW_ACCOUNT,
        status,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_onboarded_broker_trades_at_once_and_its_suspension_survives_a_restart() {
    let server = TestServer::start(config()).await;
    let mut desk = operator(&server).await;
    let add = |broker| AdminAction::AddBroker {
        broker,
        name: "Twelfth Securities".into(),
        secret: Secret::new(NEW_SECRET),
    };
    // The config's brokers' ids are taken.
    assert_eq!(
        rejected(&desk.act(add(1)).await.unwrap()),
        (0, RejectReason::BrokerExists.code())
    );
    assert_eq!(
        login_refusal(&server, NEW_BROKER, NEW_SECRET).await,
        Some(RejectReason::BadCredentials.code())
    );
    // A name the config would refuse is refused here too: blank, or with
    // a control character (an outside tester onboarded "  " and a name
    // holding a line break).
    for name in ["  ", "Twelfth\nbroker 99", "Tab\there"] {
        let reply = desk
            .act(AdminAction::AddBroker {
                broker: NEW_BROKER,
                name: name.into(),
                secret: Secret::new(NEW_SECRET),
            })
            .await
            .unwrap();
        assert_eq!(
            rejected(&reply),
            (0, RejectReason::InvalidBroker.code()),
            "{name:?}"
        );
    }
    applied(&desk.act(add(NEW_BROKER)).await.unwrap());
    let (seq, reason) = rejected(&desk.act(add(NEW_BROKER)).await.unwrap());
    assert!(seq > 0, "the engine refused it");
    assert_eq!(reason, RejectReason::BrokerExists.code());
    applied(
        &desk
            .act(AdminAction::OpenAccount {
                account: NEW_ACCOUNT,
                broker: NEW_BROKER,
                participant: ParticipantType::ComplianceEntity,
            })
            .await
            .unwrap(),
    );
    applied(
        &desk
            .act(AdminAction::Transfer {
                reference: "BANK-12-1".into(),
                account: NEW_ACCOUNT,
                symbol: None,
                direction: cetx_engine::Direction::In,
                amount: 1_000_000_00,
            })
            .await
            .unwrap(),
    );

    // The new broker logs in with its secret only, and trades at once.
    assert_eq!(
        login_refusal(&server, NEW_BROKER, "not-its-secret").await,
        Some(RejectReason::BadCredentials.code())
    );
    let mut twelfth = Client::connect(server.addr, NEW_BROKER, NEW_SECRET, 0)
        .await
        .unwrap();
    twelfth.submit(buy(1, 100)).await.unwrap();
    let answer = report(&mut twelfth).await.message;
    assert!(
        matches!(answer, ServerMessage::OrderAccepted { .. }),
        "{answer:?}"
    );

    // Suspended: its resting order is cancelled (cause 20), its orders
    // are refused (113), and so is its next login (420).
    applied(&desk.act(broker_status(Status::Suspended)).await.unwrap());
    assert!(matches!(
        report(&mut twelfth).await.message,
        ServerMessage::Cancelled {
            cancelled_t: 100,
            cause: 20,
            ..
        }
    ));
    twelfth.submit(buy(2, 100)).await.unwrap();
    assert_eq!(
        order_rejected(&mut twelfth).await,
        RejectReason::BrokerSuspended.code()
    );
    let resume = twelfth.last_seq();
    drop(twelfth);
    assert_eq!(
        login_refusal(&server, NEW_BROKER, NEW_SECRET).await,
        Some(RejectReason::BrokerNotActive.code())
    );
    // A broker with an account open cannot close.
    assert_eq!(
        rejected(&desk.act(broker_status(Status::Closed)).await.unwrap()).1,
        RejectReason::BrokerHasOpenAccounts.code()
    );
    drop(desk);
    let data = server.stop().await;
    let secret_in_files = walk(data.path())
        .into_iter()
        .filter(|path| {
            let bytes = std::fs::read(path).unwrap();
            bytes
                .windows(NEW_SECRET.len())
                .any(|w| w == NEW_SECRET.as_bytes())
        })
        .collect::<Vec<_>>();
    assert!(
        secret_in_files.is_empty(),
        "the secret is in {secret_in_files:?}"
    );

    // After a restart the broker is still known and still suspended.
    let server = TestServer::start_in(config(), data).await;
    assert_eq!(
        login_refusal(&server, NEW_BROKER, NEW_SECRET).await,
        Some(RejectReason::BrokerNotActive.code())
    );
    let mut desk = operator(&server).await;
    applied(&desk.act(broker_status(Status::Active)).await.unwrap());
    let mut twelfth = Client::connect(server.addr, NEW_BROKER, NEW_SECRET, resume)
        .await
        .unwrap();
    // The account is suspended: no new order (114); reinstated, it trades.
    applied(&desk.act(account_status(Status::Suspended)).await.unwrap());
    twelfth.submit(buy(3, 100)).await.unwrap();
    assert_eq!(
        order_rejected(&mut twelfth).await,
        RejectReason::AccountSuspended.code()
    );
    applied(&desk.act(account_status(Status::Active)).await.unwrap());
    twelfth.submit(buy(4, 100)).await.unwrap();
    assert!(matches!(
        report(&mut twelfth).await.message,
        ServerMessage::OrderAccepted { .. }
    ));
    // It holds cash and an open order: it cannot close, and is told what
    // it holds (tester 157 F2: the code alone said nothing to fix).
    let refused = desk.act(account_status(Status::Closed)).await.unwrap();
    assert_eq!(rejected(&refused).1, RejectReason::AccountNotEmpty.code());
    let AdminReply::Rejected { text, .. } = &refused else {
        unreachable!("rejected")
    };
    assert!(text.starts_with("AccountNotEmpty: it holds "), "{text}");
    assert!(
        text.ends_with("CNY (9000.00 reserved), CEA2025 0 t (+100 t bid)"),
        "{text}"
    );
    drop(twelfth);
    let data = server.stop().await;

    // A config that names the added broker's id too is refused at start.
    let clash = config_with(&format!(
        "\n[[brokers]]\nid = {NEW_BROKER}\nname = \"clash\"\nsecret = \"other\"\n"
    ));
    let started = Runtime::start(&clash, RuntimeOptions::new(data.path()));
    assert!(
        matches!(
            started,
            Err(RuntimeError::BrokerInConfigAndJournal(NEW_BROKER))
        ),
        "{:?}",
        started.err()
    );
}

/// Every file under `dir`, recursively (bounded by the directory's size).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// A broker added while the server runs is answered like one of the
/// config: a reject the gateway makes itself (here an unknown symbol's
/// 410) comes after the answers to the requests taken before it, never
/// ahead of them (docs/PROTOCOL.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_added_brokers_rejects_keep_their_place_among_its_answers() {
    let server = TestServer::start(config()).await;
    let mut desk = operator(&server).await;
    applied(
        &desk
            .act(AdminAction::AddBroker {
                broker: NEW_BROKER,
                name: "Twelfth Securities".into(),
                secret: Secret::new(NEW_SECRET),
            })
            .await
            .unwrap(),
    );
    applied(
        &desk
            .act(AdminAction::OpenAccount {
                account: NEW_ACCOUNT,
                broker: NEW_BROKER,
                participant: ParticipantType::ComplianceEntity,
            })
            .await
            .unwrap(),
    );
    applied(
        &desk
            .act(AdminAction::Transfer {
                reference: "BANK-12-2".into(),
                account: NEW_ACCOUNT,
                symbol: None,
                direction: cetx_engine::Direction::In,
                amount: 1_000_000_00,
            })
            .await
            .unwrap(),
    );
    let mut twelfth = Client::connect(server.addr, NEW_BROKER, NEW_SECRET, 0)
        .await
        .unwrap();
    // Three rounds of: a good order, an unknown symbol, a good order, sent
    // back to back; each answer in the order of the requests.
    for round in 0..3_u64 {
        let id = round * 3;
        let unknown = NewOrder::limit(id + 2, NEW_ACCOUNT, "CEA2099", Side::Buy, 90_00, 1);
        twelfth.submit(buy(id + 1, 1)).await.unwrap();
        twelfth.submit(unknown).await.unwrap();
        twelfth.submit(buy(id + 3, 1)).await.unwrap();
        let mut answers = Vec::new();
        for _ in 0..3 {
            answers.push(order_answer(&report(&mut twelfth).await.message));
        }
        assert_eq!(
            answers,
            [
                (id + 1, 0),
                (id + 2, RejectReason::UnknownSymbol.code()),
                (id + 3, 0)
            ]
        );
    }
    drop((twelfth, desk));
    server.stop().await;
}

/// ENGINE.md, PROTOCOL.md: a suspension's `Cancelled` (cause 20) come in
/// the order of cancel-on-disconnect: instrument by instrument (by id),
/// in each the buys then the sells, each side best price first, the
/// broker's accounts mixed; not in the order the orders came. Its block
/// offers' `BlockCancelled` (cause 20) come after them, whenever posted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspension_cancels_instrument_by_instrument_buys_then_sells_best_price_first() {
    // 2026-11-27T13:30:00+08:00, a Friday: continuous trading and CEA's
    // block hours.
    const AFTERNOON_NS: i64 = 1_795_757_400_000_000_000;
    let server = TestServer::start_running_from(config(), AFTERNOON_NS).await;
    let mut desk = operator(&server).await;
    let mut broker = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .unwrap();
    // A block offer open to all, posted before the orders.
    broker
        .post_block(6, 1001, "CEA2025", Side::Sell, 90_00, 100_000, 0)
        .await
        .unwrap();
    let posted = report(&mut broker).await.message;
    assert!(
        matches!(posted, ServerMessage::BlockPosted { .. }),
        "{posted:?}"
    );
    // (client order id, account, symbol, side, price): CCER (id 2) first,
    // then CEA2025 (id 1), the better buys last.
    let orders = [
        (1, 1002, "CCER", Side::Buy, 85_00),
        (2, 1001, "CCER", Side::Buy, 86_00),
        (3, 1001, "CEA2025", Side::Buy, 90_00),
        (4, 1001, "CEA2025", Side::Sell, 95_00),
        (5, 1001, "CEA2025", Side::Buy, 91_00),
    ];
    for (id, account, symbol, side, price) in orders {
        broker
            .submit(NewOrder::limit(id, account, symbol, side, price, 1))
            .await
            .unwrap();
        let answer = report(&mut broker).await.message;
        assert!(
            matches!(answer, ServerMessage::OrderAccepted { .. }),
            "{answer:?}"
        );
    }
    applied(
        &desk
            .act(AdminAction::SetBrokerStatus {
                broker: 1,
                status: Status::Suspended,
            })
            .await
            .unwrap(),
    );
    let mut cancelled = Vec::new();
    for _ in 0..orders.len() {
        match report(&mut broker).await.message {
            ServerMessage::Cancelled {
                client_order_id,
                cause: 20,
                ..
            } => cancelled.push(client_order_id),
            other => panic!("not a suspension's cancel: {other:?}"),
        }
    }
    assert_eq!(cancelled, [5, 3, 4, 2, 1]);
    let offer = report(&mut broker).await.message;
    assert!(
        matches!(
            offer,
            ServerMessage::BlockCancelled {
                client_order_id: 6,
                cancelled_t: 100_000,
                cause: 20,
                ..
            }
        ),
        "{offer:?}"
    );
    drop((desk, broker));
    server.stop().await;
}
