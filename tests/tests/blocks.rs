//! Block trades (大宗协议) end to end over TCP: two demo brokers negotiate
//! a block on the listing day, beside a listing trade, and the journal
//! alone then settles it: the clearing file holds exactly the expected
//! rows, the block ones marked `block`, and the day report shows the block
//! volume apart from the listing volume and the close.
//!
//! Offers open to every account are on the market-data feed; directed
//! ones never are.
//!
//! The market clock starts at 13:30 in Beijing on a Friday, inside CEA's
//! block hours (13:00–15:00), and the demo config's accounts 1001 (broker
//! 1) and 2001 (broker 2) hold enough CEA2025 and cash for blocks.

use std::time::Duration;

use cetx_gateway::client::{Client, NewOrder};
use cetx_gateway::config::ServerConfig;
use cetx_gateway::market_data::FeedClient;
use cetx_gateway::protocol::feed::FeedMessage;
use cetx_gateway::protocol::{ServerFrame, ServerMessage, Side};
use cetx_tests::server::TestServer;
use cetx_tests::settle::{settled, Reports};

/// Longest wait for any one answer.
const WAIT: Duration = Duration::from_secs(10);

/// 2026-11-27T13:30:00+08:00 (a Friday), in ns since the epoch.
const AFTERNOON_NS: i64 = 1_795_757_400_000_000_000;

/// 2026-11-27T10:00:00+08:00: listing hours, not CEA block hours.
const MORNING_NS: i64 = AFTERNOON_NS - 12_600_000_000_000;

async fn report(client: &mut Client) -> ServerFrame {
    client
        .next_report(WAIT)
        .await
        .expect("the connection works")
        .expect("a report within the wait")
}

/// A `BlockDeal`'s (client order id, account, side, quantity, remaining,
/// status, trade id).
fn deal(frame: &ServerFrame) -> (u64, u32, Side, u64, u64, u8, u64) {
    match frame.message {
        ServerMessage::BlockDeal {
            client_order_id,
            account,
            side,
            quantity_t,
            remaining_t,
            status,
            trade_id,
            price_ticks,
            ..
        } => {
            assert_eq!(price_ticks, 90_00, "{frame:?}");
            (
                client_order_id,
                account,
                side,
                quantity_t,
                remaining_t,
                status,
                trade_id,
            )
        }
        ref other => panic!("not a BlockDeal: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_brokers_negotiate_a_block_and_the_clearing_file_marks_it() {
    let server =
        TestServer::start_running_from(ServerConfig::embedded_default(), AFTERNOON_NS).await;
    let mut seller = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .expect("login");
    let mut buyer = Client::connect(server.addr, 2, "demo-secret-2", 0)
        .await
        .expect("login");

    // A listing trade first: 10 t at 91.00, the day's only listing trade.
    seller
        .submit(NewOrder::limit(1, 1001, "CEA2025", Side::Sell, 91_00, 10))
        .await
        .unwrap();
    assert!(matches!(
        report(&mut seller).await.message,
        ServerMessage::OrderAccepted { .. }
    ));
    buyer
        .submit(NewOrder::limit(1, 2001, "CEA2025", Side::Buy, 91_00, 10))
        .await
        .unwrap();
    assert!(matches!(
        report(&mut buyer).await.message,
        ServerMessage::OrderAccepted { .. }
    ));
    assert!(matches!(
        report(&mut buyer).await.message,
        ServerMessage::Fill { trade_id: 1, .. }
    ));
    assert!(matches!(
        report(&mut seller).await.message,
        ServerMessage::Fill { trade_id: 1, .. }
    ));

    // Below the block minimum: refused with 132, nothing posted.
    seller
        .post_block(5, 1001, "CEA2025", Side::Sell, 90_00, 99_999, 2001)
        .await
        .unwrap();
    assert!(matches!(
        report(&mut seller).await.message,
        ServerMessage::BlockRejected {
            client_order_id: 5,
            request: 0,
            reason: 132,
            ..
        }
    ));

    // Broker 1 posts 300,000 t at 90.00 directed at account 2001; both
    // brokers hear of it, broker 2 without the poster's account.
    seller
        .post_block(6, 1001, "CEA2025", Side::Sell, 90_00, 300_000, 2001)
        .await
        .unwrap();
    let posted = report(&mut seller).await;
    let ServerMessage::BlockPosted {
        client_order_id: 6,
        block_id,
        account: 1001,
        directed: true,
        quantity_t: 300_000,
        ..
    } = posted.message
    else {
        panic!("{posted:?}");
    };
    let told = report(&mut buyer).await;
    assert!(
        matches!(
            told.message,
            ServerMessage::BlockPosted {
                client_order_id: 0,
                block_id: b,
                account: 2001,
                side: Side::Sell,
                price_ticks: 90_00,
                quantity_t: 300_000,
                directed: true,
                ..
            } if b == block_id
        ),
        "{told:?}"
    );

    // Broker 2 accepts 100,000 t, then the 200,000 t that remain.
    buyer
        .accept_block(7, 2001, block_id, 100_000)
        .await
        .unwrap();
    assert_eq!(
        deal(&report(&mut seller).await),
        (6, 1001, Side::Sell, 100_000, 200_000, 0, 2)
    );
    assert_eq!(
        deal(&report(&mut buyer).await),
        (7, 2001, Side::Buy, 100_000, 200_000, 0, 2)
    );
    // A part that would leave less than the minimum is refused (138).
    buyer
        .accept_block(8, 2001, block_id, 150_000)
        .await
        .unwrap();
    assert!(matches!(
        report(&mut buyer).await.message,
        ServerMessage::BlockRejected {
            client_order_id: 8,
            request: 1,
            reason: 138,
            ..
        }
    ));
    buyer
        .accept_block(9, 2001, block_id, 200_000)
        .await
        .unwrap();
    assert_eq!(
        deal(&report(&mut seller).await),
        (6, 1001, Side::Sell, 200_000, 0, 0, 3)
    );
    assert_eq!(
        deal(&report(&mut buyer).await),
        (9, 2001, Side::Buy, 200_000, 0, 0, 3)
    );
    // The offer is done: withdrawing it is refused (134).
    seller.cancel_block(10, 1001, block_id).await.unwrap();
    assert!(matches!(
        report(&mut seller).await.message,
        ServerMessage::BlockRejected {
            client_order_id: 10,
            request: 2,
            reason: 134,
            ..
        }
    ));

    let data = server.stop().await;
    let Reports { clearing, days, .. } = settled(data.path());
    let rows: Vec<&str> = clearing.lines().skip(1).collect();
    let expected = [
        // trade id, symbol, buyer, seller, tonnes, price, amount, mode
        (
            "1", "CEA2025", "2001", "1001", "10", "91.00", "910.00", "listing",
        ),
        (
            "2",
            "CEA2025",
            "2001",
            "1001",
            "100000",
            "90.00",
            "9000000.00",
            "block",
        ),
        (
            "3",
            "CEA2025",
            "2001",
            "1001",
            "200000",
            "90.00",
            "18000000.00",
            "block",
        ),
    ];
    assert_eq!(rows.len(), expected.len(), "{clearing}");
    for (row, want) in rows.iter().zip(expected) {
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!(
            (f[3], f[4], f[5], f[7], f[9], f[10], f[11], f[12]),
            want,
            "{clearing}"
        );
        assert_eq!(f[13], "", "no operator made a broker's trade: {clearing}");
    }
    // The day: the listing line's figures and close are the listing
    // trade's alone; the blocks are a line of their own, with no close.
    let cea: Vec<&str> = days.lines().filter(|l| l.contains(",CEA2025,")).collect();
    assert_eq!(
        cea,
        [
            "20261127,CEA2025,listing,91.00,91.00,91.00,91.00,10,910.00,1,provisional",
            "20261127,CEA2025,block,90.00,90.00,90.00,,300000,27000000.00,2,provisional",
        ],
        "{days}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cea_blocks_wait_for_the_afternoon() {
    let server = TestServer::start_running_from(ServerConfig::embedded_default(), MORNING_NS).await;
    let mut seller = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .expect("login");
    seller
        .post_block(1, 1001, "CEA2025", Side::Sell, 90_00, 100_000, 0)
        .await
        .unwrap();
    assert!(matches!(
        report(&mut seller).await.message,
        ServerMessage::BlockRejected { reason: 131, .. }
    ));
    // CCER blocks are off by default (130), and another broker's account
    // is refused before the engine (404).
    seller
        .post_block(2, 1001, "CCER", Side::Sell, 85_00, 100_000, 0)
        .await
        .unwrap();
    assert!(matches!(
        report(&mut seller).await.message,
        ServerMessage::BlockRejected { reason: 130, .. }
    ));
    seller
        .post_block(3, 2001, "CEA2025", Side::Sell, 90_00, 100_000, 0)
        .await
        .unwrap();
    let frame = report(&mut seller).await;
    assert!(
        matches!(
            frame.message,
            ServerMessage::BlockRejected { reason: 404, .. }
        ),
        "{frame:?}"
    );
    assert_eq!(frame.seq, 0, "the gateway's own refusal is unsequenced");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ccer_block_opened_by_config_waits_for_the_operator() {
    use cetx_gateway::protocol::admin::{AdminAction, AdminReply};
    let config = cetx_tests::operators::config_with(
        "[[blocks]]\nsymbol = \"CCER\"\nenabled = true\nmin_t = 10000\n",
    );
    // 10:00: CCER block hours include the morning session.
    let server = TestServer::start_running_from(config, MORNING_NS).await;
    let mut desk = cetx_tests::operators::operator(&server).await;
    let mut seller = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .expect("login");
    let mut buyer = Client::connect(server.addr, 2, "demo-secret-2", 0)
        .await
        .expect("login");
    seller
        .post_block(1, 1001, "CCER", Side::Sell, 85_00, 20_000, 0)
        .await
        .unwrap();
    let ServerMessage::BlockPosted {
        block_id,
        directed: false,
        ..
    } = report(&mut seller).await.message
    else {
        panic!("not posted");
    };
    let pending = |frame: &ServerFrame| match frame.message {
        ServerMessage::BlockDeal {
            deal_id,
            status,
            trade_id,
            ..
        } => (deal_id, status, trade_id),
        ref other => panic!("not a BlockDeal: {other:?}"),
    };
    buyer.accept_block(2, 2001, block_id, 10_000).await.unwrap();
    let deal = pending(&report(&mut seller).await);
    assert_eq!((deal.1, deal.2), (1, 0), "pending, no trade yet: {deal:?}");
    assert_eq!(pending(&report(&mut buyer).await), deal);

    let confirm = desk
        .act(AdminAction::ConfirmBlock { deal_id: deal.0 })
        .await
        .unwrap();
    assert!(matches!(confirm, AdminReply::Applied { .. }), "{confirm:?}");
    assert_eq!(pending(&report(&mut seller).await), (deal.0, 0, 1));
    assert_eq!(pending(&report(&mut buyer).await), (deal.0, 0, 1));

    buyer.accept_block(3, 2001, block_id, 10_000).await.unwrap();
    let second = pending(&report(&mut seller).await);
    assert_eq!(pending(&report(&mut buyer).await), second);
    let refuse = desk
        .act(AdminAction::RefuseBlock { deal_id: second.0 })
        .await
        .unwrap();
    assert!(matches!(refuse, AdminReply::Applied { .. }), "{refuse:?}");
    for client in [&mut seller, &mut buyer] {
        let frame = report(client).await;
        assert!(
            matches!(frame.message, ServerMessage::BlockCancelled { block_id: b, cancelled_t: 10_000, cause: 22, .. } if b == second.0),
            "{frame:?}"
        );
    }
    let again = desk
        .act(AdminAction::ConfirmBlock { deal_id: second.0 })
        .await
        .unwrap();
    assert!(
        matches!(again, AdminReply::Rejected { reason: 134, .. }),
        "{again:?}"
    );
    // The registry sees which operator confirmed the deal.
    let data = server.stop().await;
    let Reports { clearing, .. } = settled(data.path());
    let rows: Vec<&str> = clearing.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{clearing}");
    assert!(
        rows[0].ends_with(",CCER,2001,2,1001,1,10000,85.00,850000.00,block,9"),
        "{clearing}"
    );
}

/// The next feed message that is not a heartbeat.
async fn public(feed: &mut FeedClient) -> FeedMessage {
    for _ in 0..100 {
        let message = tokio::time::timeout(WAIT, feed.next())
            .await
            .expect("a feed message within the wait")
            .expect("the feed works");
        if !matches!(message, FeedMessage::Heartbeat) {
            return message;
        }
    }
    panic!("only heartbeats");
}

/// A `BlockOffer`'s (block id, side, price, tonnes open).
fn offer(message: &FeedMessage) -> (u64, Side, i64, u64) {
    match *message {
        FeedMessage::BlockOffer {
            block_id,
            side,
            price_ticks,
            quantity_t,
            ..
        } => (block_id, side, price_ticks, quantity_t),
        ref other => panic!("not a BlockOffer: {other:?}"),
    }
}

/// An offer open to all is public, as it is now, from its posting to its
/// end; a directed one never is; a late subscriber gets the open ones
/// after its snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_shows_offers_open_to_all_and_never_directed_ones() {
    let server =
        TestServer::start_running_from(ServerConfig::embedded_default(), AFTERNOON_NS).await;
    let mut early = FeedClient::connect(server.feed.expect("a feed"))
        .await
        .unwrap();
    early.subscribe(5, &["CEA2025"]).await.unwrap();
    assert!(matches!(
        public(&mut early).await,
        FeedMessage::Snapshot { .. }
    ));
    let mut seller = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .expect("login");
    let mut buyer = Client::connect(server.addr, 2, "demo-secret-2", 0)
        .await
        .expect("login");

    // A directed offer first, then one open to all: only the second is
    // public.
    seller
        .post_block(1, 1001, "CEA2025", Side::Sell, 89_00, 100_000, 2001)
        .await
        .unwrap();
    seller
        .post_block(2, 1001, "CEA2025", Side::Sell, 90_00, 300_000, 0)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        if let ServerMessage::BlockPosted { block_id, .. } = report(&mut seller).await.message {
            ids.push(block_id);
        }
    }
    let [directed, open] = ids[..] else {
        panic!("{ids:?}")
    };
    assert_eq!(
        offer(&public(&mut early).await),
        (open, Side::Sell, 90_00, 300_000)
    );

    // Account 2001 accepts 100,000 t of it: 200,000 t are still open.
    buyer.accept_block(3, 2001, open, 100_000).await.unwrap();
    assert_eq!(
        offer(&public(&mut early).await),
        (open, Side::Sell, 90_00, 200_000)
    );

    // A late subscriber: its snapshot, then the open offer as it is now.
    let mut late = FeedClient::connect(server.feed.expect("a feed"))
        .await
        .unwrap();
    late.subscribe(5, &["CEA2025"]).await.unwrap();
    assert!(matches!(
        public(&mut late).await,
        FeedMessage::Snapshot { .. }
    ));
    assert_eq!(
        offer(&public(&mut late).await),
        (open, Side::Sell, 90_00, 200_000)
    );

    // Withdrawn: both see it end; the directed offer's withdrawal is not
    // public either, so the next message after it is the open one's end.
    seller.cancel_block(4, 1001, directed).await.unwrap();
    seller.cancel_block(5, 1001, open).await.unwrap();
    for feed in [&mut early, &mut late] {
        assert_eq!(offer(&public(feed).await), (open, Side::Sell, 90_00, 0));
    }
    // PROTOCOL.md, Block trades: each `BlockCancelled` carries the post's
    // client order id (1, 2), not the `CancelBlock`'s (4, 5).
    let mut cancelled = Vec::new();
    while cancelled.len() < 2 {
        if let ServerMessage::BlockCancelled {
            block_id,
            client_order_id,
            cause: 0,
            ..
        } = report(&mut seller).await.message
        {
            cancelled.push((block_id, client_order_id));
        }
    }
    assert_eq!(cancelled, [(directed, 1), (open, 2)]);
    server.stop().await;
}

/// Friday 27 November 2026, 14:59 and 15:00 in Beijing: the day's close
/// comes between them.
const AT_14_59: i64 = AFTERNOON_NS + 5_340_000_000_000;
const AT_15_00: i64 = AT_14_59 + 60_000_000_000;

/// A `BlockRejected`'s (seq, request, reason, client order id).
fn block_rejected(frame: &ServerFrame) -> (u64, u8, u16, u64) {
    match frame.message {
        ServerMessage::BlockRejected {
            client_order_id,
            request,
            reason,
            ..
        } => (frame.seq, request, reason, client_order_id),
        ref other => panic!("not a BlockRejected: {other:?}"),
    }
}

/// After the close every offer has ended, so the engine refuses every
/// block request: while the market is closed those refusals are answered
/// unsequenced and not journaled, with the engine's code and text (131 out
/// of hours, naming the next block session; 132 below the minimum; 130
/// where blocks are off; 134 no such offer), rather than numbered all
/// night (tester 148 F3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_requests_after_the_close_are_refused_unsequenced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = cetx_gateway::runtime::Clock::manual(AT_14_59);
    let server = TestServer::start_at(ServerConfig::embedded_default(), dir, clock).await;
    let mut seller = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .expect("login");
    seller
        .post_block(1, 1001, "CEA2025", Side::Sell, 90_00, 100_000, 0)
        .await
        .unwrap();
    let posted = report(&mut seller).await;
    let ServerMessage::BlockPosted { block_id, .. } = posted.message else {
        panic!("not posted: {posted:?}");
    };
    assert_eq!(posted.seq, 1);
    server.set_time(AT_15_00);
    let ended = report(&mut seller).await;
    assert!(
        matches!(
            ended.message,
            ServerMessage::BlockCancelled { cause: 5, .. }
        ),
        "{ended:?}"
    );
    seller
        .post_block(2, 1001, "CEA2025", Side::Sell, 90_00, 100_000, 0)
        .await
        .unwrap();
    seller
        .post_block(3, 1001, "CEA2025", Side::Sell, 90_00, 10, 0)
        .await
        .unwrap();
    seller
        .post_block(4, 1001, "CCER", Side::Sell, 85_00, 100_000, 0)
        .await
        .unwrap();
    seller.cancel_block(5, 1001, block_id).await.unwrap();
    let mut buyer = Client::connect(server.addr, 2, "demo-secret-2", 0)
        .await
        .expect("login");
    buyer
        .accept_block(6, 2001, block_id, 100_000)
        .await
        .unwrap();
    buyer.accept_block(7, 2001, 999, 100_000).await.unwrap();
    let hours = report(&mut seller).await;
    assert!(
        matches!(&hours.message, ServerMessage::BlockRejected { text, .. }
            if text == "block outside hours: the next block session is 13:00 to 15:00"),
        "{hours:?}"
    );
    let mut answers = vec![block_rejected(&hours)];
    for _ in 0..3 {
        answers.push(block_rejected(&report(&mut seller).await));
    }
    for _ in 0..2 {
        answers.push(block_rejected(&report(&mut buyer).await));
    }
    assert_eq!(
        answers,
        [
            (0, 0, 131, 2),
            (0, 0, 132, 3),
            (0, 0, 130, 4),
            (0, 2, 134, 5),
            (0, 1, 134, 6),
            (0, 1, 134, 7),
        ]
    );
    server.stop().await;
}
