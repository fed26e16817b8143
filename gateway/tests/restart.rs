//! A server killed with SIGKILL and started again on the same data
//! directory: brokers resume from the last report they read and get every
//! report after it exactly once, in order, and go on trading.

mod common;

use std::time::Duration;

use cetx_gateway::client::{Client, NewOrder};
use cetx_gateway::protocol::{ServerFrame, ServerMessage, Side};
use common::ServeProcess;

const WAIT: Duration = Duration::from_secs(10);

async fn report(client: &mut Client) -> ServerFrame {
    client
        .next_report(WAIT)
        .await
        .expect("the connection works")
        .expect("a report within the wait")
}

/// Broker `broker` of the demo config, logged in with `resume_from_seq`.
async fn login(addr: std::net::SocketAddr, broker: u32, resume_from_seq: u64) -> Client {
    let secret = format!("demo-secret-{broker}");
    Client::connect(addr, broker, &secret, resume_from_seq)
        .await
        .expect("login")
}

fn order(id: u64, account: u32, side: Side, quantity_t: u64) -> NewOrder {
    NewOrder::limit(id, account, "CEA2025", side, 90_00, quantity_t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brokers_resume_after_a_sigkill_with_no_gap_and_no_duplicate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServeProcess::start(dir.path());

    let mut seller = login(server.addr, 1, 0).await;
    let mut buyer = login(server.addr, 2, 0).await;
    seller
        .submit(order(1, 1001, Side::Sell, 100))
        .await
        .expect("send");
    assert_eq!(report(&mut seller).await.seq, 1);
    buyer
        .submit(order(1, 2001, Side::Buy, 60))
        .await
        .expect("send");
    buyer
        .submit(order(2, 2001, Side::Buy, 10))
        .await
        .expect("send");
    // The buyer reads all four of its reports; the seller has read only
    // its first when the server dies.
    let mut buyer_frames = Vec::new();
    for _ in 0..4 {
        buyer_frames.push(report(&mut buyer).await);
    }
    let seqs: Vec<u64> = buyer_frames.iter().map(|f| f.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert_eq!((seller.last_seq(), buyer.last_seq()), (1, 4));

    server.kill();
    let server = ServeProcess::start(dir.path());

    // The seller missed its two fills: they come again, exactly once.
    let mut seller = login(server.addr, 1, seller.last_seq()).await;
    assert_eq!(seller.server_last_seq(), 3);
    let mut filled = 0;
    for seq in [2, 3] {
        let frame = report(&mut seller).await;
        assert_eq!(frame.seq, seq, "{frame:?}");
        match frame.message {
            ServerMessage::Fill {
                client_order_id: 1,
                quantity_t,
                aggressor: false,
                ..
            } => filled += quantity_t,
            other => panic!("expected the seller's fill, got {other:?}"),
        }
    }
    assert_eq!(filled, 70);
    // The buyer had everything: nothing is replayed.
    let mut buyer = login(server.addr, 2, buyer.last_seq()).await;
    assert_eq!(buyer.server_last_seq(), 4);

    // The seller's remaining 30 t survived the crash and still trade.
    buyer
        .submit(order(3, 2001, Side::Buy, 30))
        .await
        .expect("send");
    let accepted = report(&mut buyer).await;
    assert_eq!(accepted.seq, 5, "{accepted:?}");
    let fill = report(&mut buyer).await;
    assert_eq!(fill.seq, 6);
    assert!(matches!(
        fill.message,
        ServerMessage::Fill {
            client_order_id: 3,
            quantity_t: 30,
            leaves_t: 0,
            ..
        }
    ));
    let fill = report(&mut seller).await;
    assert_eq!(fill.seq, 4, "no duplicate, no gap: {fill:?}");
    assert!(matches!(
        fill.message,
        ServerMessage::Fill {
            client_order_id: 1,
            quantity_t: 30,
            leaves_t: 0,
            ..
        }
    ));
    drop((seller, buyer));

    // A SIGTERM stops it cleanly.
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_leaves_resting_orders_for_the_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServeProcess::start(dir.path());
    // Broker 1 cancels on disconnect (the demo config), and is connected
    // with an order resting when the server stops.
    let mut seller = login(server.addr, 1, 0).await;
    seller
        .submit(order(1, 1001, Side::Sell, 100))
        .await
        .expect("send");
    assert_eq!(report(&mut seller).await.seq, 1);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    drop(seller);

    let server = ServeProcess::start(dir.path());
    // No cancel was journaled for the shutdown: the seller's one report is
    // its acceptance.
    let mut seller = login(server.addr, 1, 1).await;
    assert_eq!(seller.server_last_seq(), 1);
    let mut buyer = login(server.addr, 2, 0).await;
    buyer
        .submit(order(1, 2001, Side::Buy, 100))
        .await
        .expect("send");
    assert_eq!(report(&mut buyer).await.seq, 1);
    let fill = report(&mut buyer).await;
    assert!(
        matches!(
            fill.message,
            ServerMessage::Fill {
                client_order_id: 1,
                quantity_t: 100,
                leaves_t: 0,
                ..
            }
        ),
        "the resting sell still trades: {fill:?}"
    );
    let fill = report(&mut seller).await;
    assert_eq!(fill.seq, 2, "{fill:?}");
    drop((seller, buyer));
    assert!(server.terminate().success());
}

/// The addresses brokers logged in from are kept in the data directory,
/// so that they are proven from the next start on (PROTOCOL.md rule 1,
/// the pending slots kept for them): written within a second of the
/// login, so a kill keeps them, and read at the next start, so a stop
/// writes them back with the new ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_addresses_brokers_logged_in_from_outlive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(cetx_gateway::server::PROVEN_FILE);
    // Its lines, each without the time it ends with.
    let listed = |file: &std::path::Path| -> Vec<String> {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| Some(line.rsplit_once(' ')?.0.to_owned()))
            .collect()
    };
    let server = ServeProcess::start(dir.path());
    let broker = login(server.addr, 2, 0).await;
    // Written on the server's next tick of a second: polled, bounded.
    let started = std::time::Instant::now();
    while listed(&file) != ["2 127.0.0.1"] {
        assert!(started.elapsed() < WAIT, "{:?}", listed(&file));
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill();
    drop(broker);

    let server = ServeProcess::start(dir.path());
    let broker = login(server.addr, 1, 0).await;
    assert!(server.terminate().success());
    drop(broker);
    assert_eq!(listed(&file), ["1 127.0.0.1", "2 127.0.0.1"]);
}
