//! A whole trading day of the three ways CEA trades, over TCP, on the
//! server's own calendar (a manual clock, moved by the test):
//!
//! - 10:00, the listing board: two listing trades between the demo
//!   brokers, and a bid that rests until the close;
//! - 13:30, block hours: broker 1 posts a block offer directed at broker
//!   2's account, which accepts it in two parts;
//! - 14:00, the operator announces a one-way auction with a seller and five
//!   bidders, who bid over the broker protocol; at 14:30 the window ends
//!   and the server closes it;
//! - 15:00, the end of day: the resting bid expires and the day closes.
//!
//! The journal alone then settles to exactly the expected clearing rows,
//! each marked with its mode, and a day line that counts each mode apart
//! and keeps blocks and the auction out of the close.
//!
//! Every wait is a read with a timeout; every loop is bounded.

use std::time::Duration;

use cetx_engine::{Direction, ParticipantType, Pricing};
use cetx_gateway::admin::AdminClient;
use cetx_gateway::client::{Client, NewOrder};
use cetx_gateway::protocol::admin::{AdminAction, AdminReply};
use cetx_gateway::protocol::{ClientMessage, ServerMessage, Side};
use cetx_gateway::runtime::Clock;
use cetx_tests::operators::{config, operator};
use cetx_tests::server::TestServer;
use cetx_tests::settle::settled;

/// Longest wait for any one answer.
const WAIT: Duration = Duration::from_secs(10);

/// Friday 27 November 2026 in Beijing (UTC+8), ns since the epoch.
const AT_10_00: i64 = 1_795_744_800_000_000_000;
const AT_13_30: i64 = 1_795_757_400_000_000_000;
const AT_14_00: i64 = 1_795_759_200_000_000_000;
const AT_14_30: i64 = 1_795_761_000_000_000_000;
const AT_15_00: i64 = 1_795_762_800_000_000_000;

const SELLER: u32 = 5000;
/// Bidders 5001 to 5003 act through broker 1, 5004 and 5005 through
/// broker 2.
const BIDDERS: [u32; 5] = [5001, 5002, 5003, 5004, 5005];

fn applied(reply: &AdminReply) {
    assert!(matches!(reply, AdminReply::Applied { .. }), "{reply:?}");
}

/// Opens the auction's seller (200,000 t of CEA2025) and its five bidders
/// (10,000,000 CNY each).
async fn onboard(desk: &mut AdminClient) {
    for (i, account) in std::iter::once(SELLER).chain(BIDDERS).enumerate() {
        let broker = if i <= 3 { 1 } else { 2 };
        let open = AdminAction::OpenAccount {
            account,
            broker,
            participant: ParticipantType::ComplianceEntity,
        };
        applied(&desk.act(open).await.unwrap());
        let (symbol, amount) = if account == SELLER {
            (Some("CEA2025".into()), 200_000)
        } else {
            (None, 10_000_000_00)
        };
        let transfer = AdminAction::Transfer {
            reference: format!("in-{account}"),
            account,
            symbol,
            direction: Direction::In,
            amount,
        };
        applied(&desk.act(transfer).await.unwrap());
    }
}

/// Reads reports until `done` says the last one wanted came (at most 60).
async fn until(client: &mut Client, done: impl Fn(&ServerMessage) -> bool) -> Vec<ServerMessage> {
    let mut seen = Vec::new();
    for _ in 0..60 {
        let message = client
            .next_report(WAIT)
            .await
            .expect("the connection works")
            .expect("a report within the wait")
            .message;
        let last = done(&message);
        seen.push(message);
        if last {
            return seen;
        }
    }
    panic!("the report wanted never came: {seen:?}");
}

fn bid(client_order_id: u64, account: u32, price_ticks: i64, quantity_t: u64) -> ClientMessage {
    ClientMessage::Bid {
        client_order_id,
        auction_id: 1,
        account,
        price_ticks,
        quantity_t,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_listing_block_and_auction_trades_settles_to_exactly_its_rows() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_at(config(), data, Clock::manual(AT_10_00)).await;
    let mut desk = operator(&server).await;
    onboard(&mut desk).await;
    let mut one = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .unwrap();
    let mut two = Client::connect(server.addr, 2, "demo-secret-2", 0)
        .await
        .unwrap();

    // 10:00, the listing board: 1001 offers 500 t at 90.00; 2001 buys 300
    // t, then 200 t, and rests a bid of 10 t at 85.00 until the close.
    one.submit(NewOrder::limit(1, 1001, "CEA2025", Side::Sell, 90_00, 500))
        .await
        .unwrap();
    until(&mut one, |m| {
        matches!(m, ServerMessage::OrderAccepted { .. })
    })
    .await;
    two.submit(NewOrder::limit(1, 2001, "CEA2025", Side::Buy, 90_00, 300))
        .await
        .unwrap();
    two.submit(NewOrder::limit(2, 2001, "CEA2025", Side::Buy, 90_00, 200))
        .await
        .unwrap();
    two.submit(NewOrder::limit(3, 2001, "CEA2025", Side::Buy, 85_00, 10))
        .await
        .unwrap();
    let listing = until(&mut one, |m| {
        matches!(m, ServerMessage::Fill { leaves_t: 0, .. })
    })
    .await;
    let fills: Vec<(u64, u64)> = listing
        .iter()
        .filter_map(|m| match *m {
            ServerMessage::Fill {
                trade_id,
                quantity_t,
                ..
            } => Some((trade_id, quantity_t)),
            _ => None,
        })
        .collect();
    assert_eq!(fills, [(1, 300), (2, 200)], "{listing:?}");

    // 13:30, block hours: 300,000 t at 88.00 directed at 2001, accepted in
    // two parts.
    server.set_time(AT_13_30);
    one.post_block(4, 1001, "CEA2025", Side::Sell, 88_00, 300_000, 2001)
        .await
        .unwrap();
    let told = until(&mut two, |m| matches!(m, ServerMessage::BlockPosted { .. })).await;
    let Some(&ServerMessage::BlockPosted { block_id, .. }) = told.last() else {
        unreachable!()
    };
    two.accept_block(4, 2001, block_id, 100_000).await.unwrap();
    two.accept_block(5, 2001, block_id, 200_000).await.unwrap();
    let deals = until(&mut two, |m| {
        matches!(m, ServerMessage::BlockDeal { remaining_t: 0, .. })
    })
    .await;
    let traded: Vec<(u64, u64, u8)> = deals
        .iter()
        .filter_map(|m| match *m {
            ServerMessage::BlockDeal {
                trade_id,
                quantity_t,
                status,
                ..
            } => Some((trade_id, quantity_t, status)),
            _ => None,
        })
        .collect();
    assert_eq!(traded, [(3, 100_000, 0), (4, 200_000, 0)], "{deals:?}");

    // 14:00: the operator announces 150,000 t from 5000, bids from 85.00
    // to 99.00 until 14:30, at a uniform price; five bidders bid.
    server.set_time(AT_14_00);
    let announce = AdminAction::AnnounceAuction {
        auction_id: 1,
        symbol: "CEA2025".into(),
        seller: SELLER,
        quantity_t: 150_000,
        floor_ticks: 85_00,
        ceiling_ticks: 99_00,
        start_ns: AT_14_00,
        end_ns: AT_14_30,
        pricing: Pricing::Uniform,
    };
    applied(&desk.act(announce).await.unwrap());
    one.send(bid(11, 5001, 95_00, 60_000)).await.unwrap();
    one.send(bid(12, 5002, 93_00, 50_000)).await.unwrap();
    one.send(bid(13, 5003, 92_00, 30_000)).await.unwrap();
    until(&mut one, |m| {
        matches!(
            m,
            ServerMessage::BidAccepted {
                client_order_id: 13,
                ..
            }
        )
    })
    .await;
    two.send(bid(21, 5004, 92_00, 40_000)).await.unwrap();
    two.send(bid(22, 5005, 98_00, 20_000)).await.unwrap();
    until(&mut two, |m| {
        matches!(
            m,
            ServerMessage::BidAccepted {
                client_order_id: 22,
                ..
            }
        )
    })
    .await;

    // 14:30: the window ends and the server closes the auction. By price
    // then time: 5005 20,000 t, 5001 60,000 t, 5002 50,000 t, and 5003
    // the 20,000 t left of its 30,000 (ahead of 5004 at 92.00, which gets
    // nothing); all at the uniform 92.00.
    server.set_time(AT_14_30);
    let closing = until(&mut two, |m| {
        matches!(
            m,
            ServerMessage::AuctionResult {
                client_order_id: 21,
                ..
            }
        )
    })
    .await;
    assert!(
        closing.iter().any(|m| matches!(
            m,
            ServerMessage::BidCancelled {
                client_order_id: 21,
                cancelled_t: 40_000,
                cause: 23,
                ..
            }
        )),
        "{closing:?}"
    );

    // 15:00: the end of day; 2001's resting bid expires with it.
    server.set_time(AT_15_00);
    let end = until(&mut two, |m| matches!(m, ServerMessage::Expired { .. })).await;
    assert!(
        matches!(
            end.last(),
            Some(ServerMessage::Expired {
                client_order_id: 3,
                expired_t: 10,
                ..
            })
        ),
        "{end:?}"
    );

    drop((one, two, desk));
    let data = server.stop().await;
    let reports = settled(data.path());

    // The end of day left a snapshot of the next day's eve behind it.
    let journal = data.path().join("journal");
    let end_of_day = cetx_engine::journal::JournalReader::open(&journal)
        .unwrap()
        .map(Result::unwrap)
        .find(|entry| matches!(entry.command, cetx_engine::Command::EndOfDay { .. }))
        .expect("the day's end is journaled")
        .stamp
        .seq;
    let snapshot = journal.join(cetx_engine::journal::snapshot::snapshot_file_name(
        end_of_day,
    ));
    let (seq, state) = cetx_engine::journal::read_snapshot(&snapshot)
        .unwrap_or_else(|why| panic!("{}: {why}", snapshot.display()));
    assert_eq!((seq, state.closed_date), (end_of_day, Some(2026_11_27)));
    assert!(state
        .instruments
        .iter()
        .all(|i| i.bids.is_empty() && i.asks.is_empty()));

    // Each clearing row but its seq and time: the day, the trade, the
    // parties, quantity, price, amount and mode.
    let clearing = &reports.clearing;
    let rows: Vec<String> = clearing
        .lines()
        .skip(1)
        .map(|line| line.splitn(3, ',').nth(2).unwrap().to_owned())
        .collect();
    assert_eq!(
        rows,
        [
            "20261127,1,CEA2025,2001,2,1001,1,300,90.00,27000.00,listing,",
            "20261127,2,CEA2025,2001,2,1001,1,200,90.00,18000.00,listing,",
            "20261127,3,CEA2025,2001,2,1001,1,100000,88.00,8800000.00,block,",
            "20261127,4,CEA2025,2001,2,1001,1,200000,88.00,17600000.00,block,",
            "20261127,5,CEA2025,5005,2,5000,1,20000,92.00,1840000.00,auction,",
            "20261127,6,CEA2025,5001,1,5000,1,60000,92.00,5520000.00,auction,",
            "20261127,7,CEA2025,5002,1,5000,1,50000,92.00,4600000.00,auction,",
            "20261127,8,CEA2025,5003,1,5000,1,20000,92.00,1840000.00,auction,",
        ],
        "{clearing}"
    );
    // Each trade's time is the time the test set when it was made.
    let times: Vec<i64> = clearing
        .lines()
        .skip(1)
        .map(|line| line.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    for (time, at) in times.iter().zip([
        AT_10_00, AT_10_00, AT_13_30, AT_13_30, AT_14_30, AT_14_30, AT_14_30, AT_14_30,
    ]) {
        assert!(
            (at..at + 1_000_000_000).contains(time),
            "{time} is not just after {at}: {clearing}"
        );
    }

    // The day: a line per mode; the listing line's figures and close are
    // its two trades' alone, and only it has a close.
    let days = &reports.days;
    let cea2025: Vec<&str> = days.lines().filter(|l| l.contains(",CEA2025,")).collect();
    assert_eq!(
        cea2025,
        [
            "20261127,CEA2025,listing,90.00,90.00,90.00,90.00,500,45000.00,2,final",
            "20261127,CEA2025,block,88.00,88.00,88.00,,300000,26400000.00,2,final",
            "20261127,CEA2025,auction,92.00,92.00,92.00,,150000,13800000.00,4,final",
        ],
        "{days}"
    );
    // The other instruments traded nothing, in any mode: a listing line
    // each, at their reference prices.
    for line in days.lines().skip(1).filter(|l| !l.contains(",CEA2025,")) {
        assert!(
            line.contains(",listing,") && line.ends_with(",0,0.00,0,final"),
            "{line}"
        );
    }
}

/// The snapshots of the last two ends of day outlive `keep_snapshots`: a
/// registry settling the day just ended starts from its eve (`cetx
/// replay --day D --from-snapshot`) even when snapshots taken during the
/// day came after it, and the server was restarted in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eve_of_the_last_day_outlives_keep_snapshots() {
    const DAY_NS: i64 = 86_400 * 1_000_000_000;
    const ORDERS: u64 = 1_100;
    let mut config = config();
    config.journal.snapshot_every = 500;
    config.journal.keep_snapshots = 1;
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_at(config.clone(), data, Clock::manual(AT_10_00)).await;
    let mut one = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .unwrap();
    // A bid that expires at the close tells when the end of day has run.
    one.submit(NewOrder::limit(1, 1001, "CEA2025", Side::Buy, 85_00, 10))
        .await
        .unwrap();
    until(&mut one, |m| {
        matches!(m, ServerMessage::OrderAccepted { .. })
    })
    .await;
    server.set_time(AT_15_00);
    until(&mut one, |m| matches!(m, ServerMessage::Expired { .. })).await;
    drop(one);
    let data = server.stop().await;

    // Monday, on a restarted server (which learns from the journal which
    // snapshots are ends of day): enough entries for two snapshots after
    // Friday's end of day.
    let server = TestServer::start_at(config, data, Clock::manual(AT_10_00 + 3 * DAY_NS)).await;
    let mut one = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .unwrap();
    for id in 2..=ORDERS + 1 {
        let mut order = NewOrder::limit(id, 1001, "CEA2025", Side::Buy, 85_00, 1);
        order.time_in_force = cetx_gateway::protocol::TimeInForce::Ioc;
        one.submit(order).await.unwrap();
    }
    let mut done = false;
    for _ in 0..4 * ORDERS {
        let frame = one.next_report(WAIT).await.unwrap().expect("a report");
        if let ServerMessage::OrderRejected {
            client_order_id, ..
        }
        | ServerMessage::Cancelled {
            client_order_id, ..
        } = frame.message
        {
            if client_order_id == ORDERS + 1 {
                done = true;
                break;
            }
        }
    }
    assert!(done, "the last order's end never came");
    drop(one);
    let data = server.stop().await;

    let journal = data.path().join("journal");
    let end_of_day = cetx_engine::journal::JournalReader::open(&journal)
        .unwrap()
        .map(Result::unwrap)
        .find(|entry| matches!(entry.command, cetx_engine::Command::EndOfDay { .. }))
        .expect("Friday's end is journaled")
        .stamp
        .seq;
    let kept: Vec<u64> = cetx_engine::journal::list_snapshots(&journal)
        .unwrap()
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    assert!(kept.contains(&end_of_day), "{end_of_day} in {kept:?}");
    assert!(
        kept.iter().any(|&seq| seq >= 500 && seq > end_of_day),
        "a later snapshot, written after it: {kept:?}"
    );
}

/// A start that catches up missed days journals their ends of day back to
/// back, faster than the snapshot thread writes them: the last two are
/// snapshotted all the same, at once, with nothing journaled after them
/// (the eves a registry settling those days starts from, JOURNAL.md; older
/// ones waiting may be skipped, as they would be removed once written).
/// Before, each that found the thread busy was skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_that_catches_up_missed_days_snapshots_their_last_two_ends() {
    const DAY_NS: i64 = 86_400 * 1_000_000_000;
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_at(config(), data, Clock::manual(AT_10_00)).await;
    let data = server.stop().await;
    let journal = data.path().join("journal");
    let ends = || -> Vec<u64> {
        cetx_engine::journal::JournalReader::open(&journal)
            .unwrap()
            .map(Result::unwrap)
            .filter(|entry| matches!(entry.command, cetx_engine::Command::EndOfDay { .. }))
            .map(|entry| entry.stamp.seq)
            .collect()
    };
    let kept = || -> Vec<u64> {
        cetx_engine::journal::list_snapshots(&journal)
            .unwrap()
            .into_iter()
            .map(|(seq, _)| seq)
            .collect()
    };
    // A week later: Friday's close and Monday to Thursday were missed.
    let server = TestServer::start_at(config(), data, Clock::manual(AT_10_00 + 7 * DAY_NS)).await;
    // Nothing else comes: the snapshots are written all the same (a kill
    // now would keep them), in order, so once the last end's is written
    // the one before it is on disk too.
    let ends = ends();
    assert_eq!(ends.len(), 5, "an end of day per missed day: {ends:?}");
    let snapshots = server
        .snapshots_until(WAIT, |s| s.last_seq >= ends[4] || s.failed > 0)
        .await;
    assert!(
        snapshots.is_some_and(|s| s.failed == 0),
        "{snapshots:?}; the ends: {ends:?}"
    );
    let kept = kept();
    assert!(
        ends[3..].iter().all(|end| kept.contains(end)),
        "{kept:?}; the ends: {ends:?}"
    );
    server.stop().await;
}

/// A resume that needs an archived segment the exchange moved away is
/// refused `LoginRejected` 419 before anything happens, over TCP: the
/// broker's session goes on, not taken over, and its resting order is not
/// cancelled on a disconnect (PROTOCOL.md, Sequence numbers and resuming).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_from_an_archive_moved_away_is_refused_and_takes_nothing_over() {
    const DAY_NS: i64 = 86_400 * 1_000_000_000;
    let mut config = config();
    // Small segments, so that Friday's reports fill several.
    config.journal.segment_bytes = 4096;
    let server = TestServer::start_at(
        config.clone(),
        tempfile::tempdir().unwrap(),
        Clock::manual(AT_10_00),
    )
    .await;
    let mut friday = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .expect("login");
    for id in 1..=40 {
        let order = NewOrder::limit(id, 1001, "CEA2025", Side::Buy, 85_00, 10);
        friday.submit(order).await.unwrap();
        until(&mut friday, |m| {
            matches!(m, ServerMessage::OrderAccepted { .. })
        })
        .await;
    }
    // The close: the orders expire, and the eve's snapshot is written.
    server.set_time(AT_15_00);
    until(&mut friday, |m| {
        matches!(
            m,
            ServerMessage::Expired {
                client_order_id: 40,
                ..
            }
        )
    })
    .await;
    let written = server.snapshots_until(WAIT, |s| s.written > 0).await;
    assert!(written.is_some_and(|s| s.failed == 0), "{written:?}");
    let last_seq = friday.last_seq();
    drop(friday);
    let data = server.stop().await;

    let journal = data.path().join(cetx_gateway::runtime::JOURNAL_DIR);
    let cold = tempfile::tempdir().unwrap();
    let archive = cold.path().join("archive");
    let outcome = cetx_gateway::runtime::archive(&journal, Some(&archive), u64::MAX).unwrap();
    assert!(!outcome.archived.moved.is_empty(), "{outcome:?}");
    std::fs::rename(&archive, cold.path().join("away")).unwrap();

    // Monday.
    let server = TestServer::start_at(config, data, Clock::manual(AT_10_00 + 3 * DAY_NS)).await;
    let mut monday = Client::connect(server.addr, 1, "demo-secret-1", last_seq)
        .await
        .expect("a resume from the newest report");
    let order = NewOrder::limit(1, 1001, "CEA2025", Side::Buy, 85_00, 10);
    monday.submit(order).await.unwrap();
    until(&mut monday, |m| {
        matches!(m, ServerMessage::OrderAccepted { .. })
    })
    .await;
    // Refused from the first report and from the last before Friday's
    // close (whose Expired reports are Friday's, read back from its
    // start): the text says where a resume is served from, Friday's last
    // report, which the broker cannot tell by itself.
    for from in [0, last_seq - 1] {
        match Client::connect(server.addr, 1, "demo-secret-1", from).await {
            Err(cetx_gateway::client::ClientError::LoginRejected { reason, text }) => {
                assert_eq!(reason, 419);
                assert_eq!(
                    text,
                    format!("history archived: resume from {last_seq} or later")
                );
            }
            Err(other) => panic!("refused otherwise: {other}"),
            Ok(_) => panic!("a resume from an archive moved away was accepted"),
        }
    }
    // The session goes on, and its order still rests: the broker cancels it.
    monday.cancel(1).await.unwrap();
    let seen = until(&mut monday, |m| {
        matches!(m, ServerMessage::Cancelled { .. })
    })
    .await;
    assert!(
        matches!(
            seen.last(),
            Some(ServerMessage::Cancelled {
                client_order_id: 1,
                ..
            })
        ),
        "{seen:?}"
    );
    server.stop().await;
}
