//! A one-way auction over loopback, end to end: an operator onboards a
//! seller and five bidders and announces an auction with a short window
//! on the server's clock, a manual one; the bidders bid over the broker
//! protocol (one amends, one cancels, one is refused below the floor); the
//! server closes the auction when the test moves its clock to the window's
//! end (so however slow the machine, every bid comes within the window); each broker's reports and the public
//! feed give the outcome (and no bid), also to a subscriber after a restart
//! (recovered from the journal, then from a snapshot taken after the
//! close); the journal alone then settles to exactly the
//! expected clearing rows, marked `auction`, and a day line that keeps the
//! auction out of the close. A broker's credentials cannot announce one.
//!
//! Every wait is a read with a timeout; every loop is bounded.

use std::collections::BTreeMap;
use std::time::Duration;

use cetx_engine::{Direction, ParticipantType, Pricing, RejectReason};
use cetx_gateway::admin::{AdminClient, AdminClientError};
use cetx_gateway::client::Client;
use cetx_gateway::market_data::FeedClient;
use cetx_gateway::protocol::admin::{AdminAction, AdminReply};
use cetx_gateway::protocol::feed::FeedMessage;
use cetx_gateway::protocol::{ClientMessage, ServerFrame, ServerMessage};
use cetx_gateway::runtime::Clock;
use cetx_tests::operators::{config, operator, OPERATOR};
use cetx_tests::server::TestServer;
use cetx_tests::settle::settled;

/// Longest wait for any one answer.
const WAIT: Duration = Duration::from_secs(10);
/// The bidding window's length.
const WINDOW: Duration = Duration::from_secs(3);
/// Where the server's manual clock starts: Saturday 2026-11-28, 12:00 in
/// Beijing, as [`Clock::quiet`] would give (no session opens or closes
/// under the test). The clock moves only when the test says, so the
/// window ends when the test has made every bid, not when the machine's
/// time runs out.
const SATURDAY_NOON: i64 = 1_795_838_400_000_000_000;
const SELLER: u32 = 5000;
/// Bidders 5001 to 5005: the first three act through broker 1, the
/// others through broker 2.
const BIDDERS: [u32; 5] = [5001, 5002, 5003, 5004, 5005];

fn applied(reply: &AdminReply) {
    assert!(matches!(reply, AdminReply::Applied { .. }), "{reply:?}");
}

/// Opens the seller (200,000 t of CEA2025) and the five bidders
/// (10,000,000 CNY each) through the operators' channel.
async fn onboard(desk: &mut AdminClient) {
    let accounts = [(SELLER, 1)].into_iter().chain(
        BIDDERS
            .iter()
            .enumerate()
            .map(|(i, &b)| (b, if i < 3 { 1 } else { 2 })),
    );
    for (account, broker) in accounts {
        applied(
            &desk
                .act(AdminAction::OpenAccount {
                    account,
                    broker,
                    participant: ParticipantType::ComplianceEntity,
                })
                .await
                .unwrap(),
        );
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

fn announce(auction_id: u64, start_ns: i64, pricing: Pricing) -> AdminAction {
    AdminAction::AnnounceAuction {
        auction_id,
        symbol: "CEA2025".into(),
        seller: SELLER,
        quantity_t: 150_000,
        floor_ticks: 85_00,
        ceiling_ticks: 99_00,
        start_ns,
        end_ns: start_ns + i64::try_from(WINDOW.as_nanos()).unwrap(),
        pricing,
    }
}

fn bid(
    client_order_id: u64,
    auction_id: u64,
    account: u32,
    price_ticks: i64,
    quantity_t: u64,
) -> ClientMessage {
    ClientMessage::Bid {
        client_order_id,
        auction_id,
        account,
        price_ticks,
        quantity_t,
    }
}

async fn next(client: &mut Client) -> ServerFrame {
    client
        .next_report(WAIT)
        .await
        .expect("the connection works")
        .expect("a report within the wait")
}

/// Reads reports until `done` says the last one wanted came (at most 40).
async fn until(client: &mut Client, done: impl Fn(&ServerMessage) -> bool) -> Vec<ServerMessage> {
    let mut seen = Vec::new();
    for _ in 0..40 {
        let message = next(client).await.message;
        let last = done(&message);
        seen.push(message);
        if last {
            return seen;
        }
    }
    panic!("the report wanted never came: {seen:?}");
}

/// (bid's client order id, trade price, tonnes) of each `AuctionResult`
/// for a bid, and the results' common outcome (clearing price, sold,
/// unsold).
/// A result line: (client order id, trade price, tonnes).
type Line = (u64, i64, u64);
/// An outcome: (clearing price, tonnes sold, tonnes unsold).
type Outcome = (i64, u64, u64);

fn results(reports: &[ServerMessage]) -> (Vec<Line>, Vec<Outcome>) {
    let mut lines = Vec::new();
    let mut outcomes = Vec::new();
    for report in reports {
        if let ServerMessage::AuctionResult {
            client_order_id,
            price_ticks,
            quantity_t,
            clearing_ticks,
            sold_t,
            unsold_t,
            ..
        } = report
        {
            lines.push((*client_order_id, *price_ticks, *quantity_t));
            outcomes.push((*clearing_ticks, *sold_t, *unsold_t));
        }
    }
    (lines, outcomes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_bidders_win_a_uniform_price_auction_and_it_settles_as_auction_trades() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start_at(config(), dir, Clock::manual(SATURDAY_NOON)).await;
    let mut desk = operator(&server).await;
    onboard(&mut desk).await;
    let mut one = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .unwrap();
    let mut two = Client::connect(server.addr, 2, "demo-secret-2", 0)
        .await
        .unwrap();

    let mut feed = FeedClient::connect(server.feed.expect("a feed"))
        .await
        .unwrap();
    feed.subscribe(5, &["CEA2025"]).await.unwrap();
    let start_ns = server.now_ns();
    // Terms outside today's band (the demo's reference 90.00 ± 10%) are
    // refused, and the operator is told the band.
    let mut beyond = announce(1, start_ns, Pricing::Uniform);
    if let AdminAction::AnnounceAuction { floor_ticks, .. } = &mut beyond {
        *floor_ticks = 80_00;
    }
    let refused = desk.act(beyond).await.unwrap();
    assert!(
        matches!(
            &refused,
            AdminReply::Rejected { reason, text, .. }
                if *reason == RejectReason::InvalidAuctionTerms.code()
                    && text == "InvalidAuctionTerms: floor and ceiling within 81.00 to 99.00, floor not above ceiling, end after start and now"
        ),
        "{refused:?}"
    );
    applied(
        &desk
            .act(announce(1, start_ns, Pricing::Uniform))
            .await
            .unwrap(),
    );
    // Bids: 5001 60,000 @ 95.00; 5002 50,000 @ 93.00; 5003 30,000 @
    // 92.00; 5004 40,000 @ 92.00; 5005 20,000 @ 98.00, and one below the
    // floor.
    one.send(bid(11, 1, 5001, 95_00, 60_000)).await.unwrap();
    one.send(bid(12, 1, 5002, 93_00, 50_000)).await.unwrap();
    one.send(bid(13, 1, 5003, 92_00, 30_000)).await.unwrap();
    let accepted = until(&mut one, |m| {
        matches!(
            m,
            ServerMessage::BidAccepted {
                client_order_id: 13,
                ..
            }
        )
    })
    .await;
    let ids: Vec<u64> = accepted
        .iter()
        .filter_map(|m| match m {
            ServerMessage::BidAccepted {
                client_order_id,
                amend: 0,
                ..
            } => Some(*client_order_id),
            _ => None,
        })
        .collect();
    assert_eq!(ids, [11, 12, 13], "{accepted:?}");
    // A subscriber that comes while the auction is open learns of it from
    // its snapshot (MARKET_DATA.md, Connecting).
    let feed_addr = server.feed.expect("a feed");
    let first = snapshot_until(feed_addr, |m| {
        matches!(m, FeedMessage::AuctionAnnounced { .. })
    })
    .await;
    assert!(
        matches!(
            first[..],
            [
                FeedMessage::Snapshot { .. },
                FeedMessage::AuctionAnnounced {
                    auction_id: 1,
                    quantity_t: 150_000,
                    floor_ticks: 85_00,
                    ceiling_ticks: 99_00,
                    ..
                }
            ]
        ),
        "{first:?}"
    );
    two.send(bid(21, 1, 5004, 92_00, 40_000)).await.unwrap();
    two.send(bid(22, 1, 5005, 98_00, 20_000)).await.unwrap();
    two.send(bid(23, 1, 5005, 84_99, 1_000)).await.unwrap();
    let early = until(&mut two, |m| matches!(m, ServerMessage::BidRejected { .. })).await;
    assert!(
        early.iter().any(|m| matches!(
            m,
            ServerMessage::BidRejected { client_order_id: 23, request: 0, reason, text }
                if *reason == RejectReason::BidOutsideAuctionRange.code()
                    && text == "bid outside auction range: 85.00 to 99.00"
        )),
        "{early:?}"
    );
    // 5003 amends its bid to what it is: nothing changes, and it keeps
    // its place (PROTOCOL.md, `AmendBid`).
    one.send(ClientMessage::AmendBid {
        client_order_id: 13,
        price_ticks: 92_00,
        quantity_t: 30_000,
    })
    .await
    .unwrap();
    let unchanged = until(&mut one, |m| matches!(m, ServerMessage::BidAccepted { .. })).await;
    assert!(
        matches!(
            unchanged[..],
            [ServerMessage::BidAccepted {
                client_order_id: 13,
                quantity_t: 30_000,
                amend: 1,
                ..
            }]
        ),
        "{unchanged:?}"
    );
    // 5003 raises its bid to 40,000 t and so goes behind 5004 at 92.00;
    // 5005 withdraws.
    one.send(ClientMessage::AmendBid {
        client_order_id: 13,
        price_ticks: 92_00,
        quantity_t: 40_000,
    })
    .await
    .unwrap();
    let amended = until(&mut one, |m| matches!(m, ServerMessage::BidAccepted { .. })).await;
    assert!(
        matches!(
            amended[..],
            [ServerMessage::BidAccepted {
                client_order_id: 13,
                quantity_t: 40_000,
                amend: 2,
                ..
            }]
        ),
        "{amended:?}"
    );
    two.send(ClientMessage::CancelBid {
        client_order_id: 22,
    })
    .await
    .unwrap();
    let cancelled = until(&mut two, |m| {
        matches!(m, ServerMessage::BidCancelled { .. })
    })
    .await;
    assert!(
        matches!(
            cancelled[..],
            [ServerMessage::BidCancelled {
                client_order_id: 22,
                cancelled_t: 20_000,
                cause: 0,
                ..
            }]
        ),
        "{cancelled:?}"
    );
    let end_ns = start_ns + i64::try_from(WINDOW.as_nanos()).unwrap();
    server.set_time(end_ns);

    // The window ends: the server closes the auction. 150,000 t go to
    // 5001 (60,000), 5002 (50,000) and 5004 (40,000, ahead of 5003 at
    // 92.00), all at the uniform 92.00; 5003 gets nothing. Broker 1 hears
    // of its winning bids and of each of its seller's sales, then of
    // 5003's unfilled bid and that it bought nothing.
    let closing = until(&mut one, |m| {
        matches!(
            m,
            ServerMessage::AuctionResult {
                client_order_id: 13,
                ..
            }
        )
    })
    .await;
    let (lines, outcomes) = results(&closing);
    assert_eq!(
        lines,
        [
            (11, 92_00, 60_000),
            (0, 92_00, 60_000),
            (12, 92_00, 50_000),
            (0, 92_00, 50_000),
            (0, 92_00, 40_000),
            (13, 0, 0),
        ],
        "{closing:?}"
    );
    assert!(
        outcomes.iter().all(|&o| o == (92_00, 150_000, 0)),
        "{outcomes:?}"
    );
    assert!(
        closing.iter().any(|m| matches!(
            m,
            ServerMessage::BidCancelled {
                client_order_id: 13,
                cancelled_t: 40_000,
                cause: 23,
                ..
            }
        )),
        "{closing:?}"
    );
    let theirs = until(&mut two, |m| {
        matches!(m, ServerMessage::AuctionResult { .. })
    })
    .await;
    assert_eq!(results(&theirs).0, [(21, 92_00, 40_000)]);

    // The feed showed the announcement and the outcome, and nothing of the
    // bids in between.
    let mut public = Vec::new();
    for _ in 0..100 {
        let message = tokio::time::timeout(WAIT, feed.next())
            .await
            .expect("a feed message within the wait")
            .expect("the feed works");
        let done = matches!(message, FeedMessage::AuctionResult { .. });
        if !matches!(
            message,
            FeedMessage::Heartbeat | FeedMessage::Snapshot { .. }
        ) {
            public.push(message);
        }
        if done {
            break;
        }
    }
    assert!(
        matches!(
            public[..],
            [
                FeedMessage::AuctionAnnounced {
                    auction_id: 1,
                    quantity_t: 150_000,
                    floor_ticks: 85_00,
                    ceiling_ticks: 99_00,
                    pricing: 0,
                    ..
                },
                FeedMessage::AuctionResult {
                    auction_id: 1,
                    clearing_ticks: 92_00,
                    sold_t: 150_000,
                    unsold_t: 0,
                    turnover_fen: 13_800_000_00,
                    ..
                },
            ]
        ),
        "{public:?}"
    );
    // The client's view of the instrument (what `cetx watch` draws) holds
    // the outcome, and no open auction; the seller is not public.
    let view = &feed.instrument("CEA2025").expect("followed").view;
    assert!(view.auctions.is_empty(), "{view:?}");
    let closed = view.closed_auctions.get(&1).expect("the result");
    assert_eq!(
        (closed.clearing_ticks, closed.sold_t, closed.seller.0),
        (92_00, 150_000, 0)
    );

    // One that comes after the close learns the outcome from its snapshot,
    // the auction no longer among the open ones.
    snapshot_tells_the_result(feed_addr).await;

    // A broker's credentials cannot use the operators' channel.
    let refused = AdminClient::connect(server.admin.unwrap(), 1, "demo-secret-1").await;
    assert!(
        matches!(refused, Err(AdminClientError::Refused { reason, .. }) if reason == RejectReason::BadCredentials.code()),
        "{refused:?}"
    );

    drop((one, two, desk, feed));
    let data = server.stop().await;
    // Restarted the same day, the feed still tells a new subscriber the
    // result: the engine no longer holds the auction, the gateway's state
    // does (read back from the journal here, since no snapshot was taken).
    let server = TestServer::start_at(config(), data, Clock::manual(end_ns)).await;
    snapshot_tells_the_result(server.feed.expect("a feed")).await;
    let data = server.stop().await;
    // Once more with a snapshot taken after the close (an operator's
    // command, a snapshot after each): the restart reads the gateway's
    // state, results included, from that snapshot, not the close from the
    // journal.
    let mut every_command = config();
    every_command.journal.snapshot_every = 1;
    let server = TestServer::start_at(every_command.clone(), data, Clock::manual(end_ns)).await;
    let mut desk = operator(&server).await;
    let open = AdminAction::OpenAccount {
        account: 5006,
        broker: 2,
        participant: ParticipantType::ComplianceEntity,
    };
    applied(&desk.act(open).await.unwrap());
    drop(desk);
    let data = server.stop().await;
    let journal = data.path().join(cetx_gateway::runtime::JOURNAL_DIR);
    let snapshots = cetx_engine::journal::list_snapshots(&journal).unwrap();
    assert!(!snapshots.is_empty(), "no snapshot was taken");
    let server = TestServer::start_at(every_command, data, Clock::manual(end_ns)).await;
    snapshot_tells_the_result(server.feed.expect("a feed")).await;
    let data = server.stop().await;
    let reports = settled(data.path());
    let clearing = &reports.clearing;
    let mut lines = clearing.lines();
    assert!(lines
        .next()
        .unwrap()
        .ends_with(",price_cny,amount_cny,mode,operator"));
    // trade id, instrument, buyer, seller, quantity, price.
    let rows: Vec<String> = lines
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            [f[3], f[4], f[5], f[7], f[9], f[10]].join(" ")
        })
        .collect();
    assert_eq!(
        rows,
        [
            "1 CEA2025 5001 5000 60000 92.00",
            "2 CEA2025 5002 5000 50000 92.00",
            "3 CEA2025 5004 5000 40000 92.00",
        ],
        "{clearing}"
    );
    // The server closed it at its end: no operator made these trades.
    assert!(
        clearing.lines().skip(1).all(|l| l.ends_with(",auction,")),
        "{clearing}"
    );
    // The day report counts the auction on a line of its own: the
    // listing board traded nothing, so the instrument has no listing line
    // (its day has not ended) and no close.
    let days = &reports.days;
    let lines: Vec<BTreeMap<&str, &str>> = days
        .lines()
        .skip(1)
        .filter(|l| l.contains(",CEA2025,"))
        .map(|l| {
            days.lines()
                .next()
                .unwrap()
                .split(',')
                .zip(l.split(','))
                .collect()
        })
        .collect();
    assert_eq!(lines.len(), 1, "{days}");
    let day = &lines[0];
    assert_eq!(
        (
            day["mode"],
            day["open_cny"],
            day["high_cny"],
            day["close_cny"],
            day["volume_t"],
            day["turnover_cny"],
            day["trade_count"],
        ),
        (
            "auction",
            "92.00",
            "92.00",
            "",
            "150000",
            "13800000.00",
            "3"
        ),
        "{days}"
    );
}

/// An operator withdraws an auction whose window ends in 2262 (an outside
/// tester's typo, which nothing could undo): each bid is cancelled as
/// unfilled and told it won nothing, the seller is told nothing sold, its
/// allowances are free again (an auction of all of them is accepted), a
/// second withdrawal is 144, and the journal settles with no trade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_auction_sells_nothing_and_releases_every_bid() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start_at(config(), dir, Clock::manual(SATURDAY_NOON)).await;
    let mut desk = operator(&server).await;
    onboard(&mut desk).await;
    let mut one = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .unwrap();
    let mut typo = announce(1, server.now_ns(), Pricing::Uniform);
    if let AdminAction::AnnounceAuction { end_ns, .. } = &mut typo {
        *end_ns = i64::MAX;
    }
    applied(&desk.act(typo).await.unwrap());
    one.send(bid(11, 1, 5001, 95_00, 60_000)).await.unwrap();
    one.send(bid(12, 1, 5002, 93_00, 50_000)).await.unwrap();
    until(&mut one, |m| {
        matches!(
            m,
            ServerMessage::BidAccepted {
                client_order_id: 12,
                ..
            }
        )
    })
    .await;
    let withdraw = AdminAction::WithdrawAuction { auction_id: 1 };
    applied(&desk.act(withdraw.clone()).await.unwrap());
    // Broker 1 acts for both bidders and the seller.
    let told = until(&mut one, |m| {
        matches!(
            m,
            ServerMessage::AuctionResult {
                client_order_id: 0,
                ..
            }
        )
    })
    .await;
    let cancelled: Vec<(u64, u64, u8)> = told
        .iter()
        .filter_map(|m| match m {
            ServerMessage::BidCancelled {
                client_order_id,
                cancelled_t,
                cause,
                ..
            } => Some((*client_order_id, *cancelled_t, *cause)),
            _ => None,
        })
        .collect();
    assert_eq!(cancelled, [(11, 60_000, 23), (12, 50_000, 23)], "{told:?}");
    let (lines, outcomes) = results(&told);
    assert_eq!(lines, [(11, 0, 0), (12, 0, 0), (0, 0, 0)], "{told:?}");
    assert!(outcomes.iter().all(|&o| o == (0, 0, 150_000)), "{told:?}");
    let again = desk.act(withdraw).await.unwrap();
    assert!(
        matches!(&again, AdminReply::Rejected { reason, .. } if *reason == RejectReason::UnknownAuction.code()),
        "{again:?}"
    );
    let mut all = announce(2, server.now_ns(), Pricing::Uniform);
    if let AdminAction::AnnounceAuction { quantity_t, .. } = &mut all {
        *quantity_t = 200_000;
    }
    applied(&desk.act(all).await.unwrap());
    drop((one, desk));
    let data = server.stop().await;
    let reports = settled(data.path());
    assert_eq!(reports.clearing.lines().count(), 1, "{}", reports.clearing);
    // The auctions report says it was withdrawn, and by whom.
    let line = reports
        .auctions
        .lines()
        .find(|line| line.split(',').nth(3) == Some("1"))
        .unwrap_or_else(|| panic!("{}", reports.auctions));
    assert!(
        line.ends_with(&format!(",0,150000,,0.00,withdrawn,{OPERATOR}")),
        "{line}"
    );
}

/// A new subscriber's snapshot ends with auction 1's result, and no
/// auction is open.
async fn snapshot_tells_the_result(feed: std::net::SocketAddr) {
    let first = snapshot_until(feed, |m| matches!(m, FeedMessage::AuctionResult { .. })).await;
    assert!(
        matches!(
            first[..],
            [
                FeedMessage::Snapshot { .. },
                FeedMessage::AuctionResult {
                    auction_id: 1,
                    clearing_ticks: 92_00,
                    sold_t: 150_000,
                    ..
                }
            ]
        ),
        "{first:?}"
    );
}

/// The first messages of a new subscription to CEA2025 at depth 5, up to
/// the first that `last` accepts (heartbeats left out).
async fn snapshot_until(
    feed: std::net::SocketAddr,
    last: impl Fn(&FeedMessage) -> bool,
) -> Vec<FeedMessage> {
    let mut client = FeedClient::connect(feed).await.unwrap();
    client.subscribe(5, &["CEA2025"]).await.unwrap();
    let mut first = Vec::new();
    for _ in 0..20 {
        if first.last().is_some_and(&last) {
            break;
        }
        let message = tokio::time::timeout(WAIT, client.next())
            .await
            .expect("a feed message within the wait")
            .expect("the feed works");
        if !matches!(message, FeedMessage::Heartbeat) {
            first.push(message);
        }
    }
    first
}

/// Friday 27 November 2026, 14:59 in Beijing: the day's close is a minute
/// away.
const FRIDAY_14_59: i64 = 1_795_762_740_000_000_000;

/// A `BidRejected`'s (seq, reason, client order id).
fn bid_rejected(frame: &ServerFrame) -> (u64, u16, u64) {
    match frame.message {
        ServerMessage::BidRejected {
            client_order_id,
            reason,
            ..
        } => (frame.seq, reason, client_order_id),
        ref other => panic!("not a BidRejected: {other:?}"),
    }
}

/// While the market is closed only what the engine accepts is journaled: a
/// bid in an open auction's window (which may lie outside the sessions).
/// What it refuses is answered unsequenced, with the engine's code and
/// text: 147 before the window, 144 for no such auction, 143 below the
/// floor in the window (tester 148 F3: refused bids were numbered and
/// journaled all night at the throttle).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_market_is_closed_only_an_accepted_bid_is_journaled() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start_at(config(), dir, Clock::manual(FRIDAY_14_59)).await;
    let mut desk = operator(&server).await;
    onboard(&mut desk).await;
    let close_ns = FRIDAY_14_59 + 60_000_000_000;
    server.set_time(close_ns);
    let start_ns = close_ns + 3_600_000_000_000;
    applied(
        &desk
            .act(announce(1, start_ns, Pricing::Uniform))
            .await
            .unwrap(),
    );
    let mut one = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .unwrap();
    one.send(bid(11, 1, 5001, 95_00, 60_000)).await.unwrap();
    one.send(bid(12, 2, 5001, 95_00, 60_000)).await.unwrap();
    assert_eq!(bid_rejected(&next(&mut one).await), (0, 147, 11));
    assert_eq!(bid_rejected(&next(&mut one).await), (0, 144, 12));
    server.set_time(start_ns);
    // In the window: accepted, numbered; refused, unsequenced, the text
    // quoting the auction's range.
    one.send(bid(11, 1, 5001, 95_00, 60_000)).await.unwrap();
    one.send(bid(13, 1, 5002, 80_00, 50_000)).await.unwrap();
    one.send(bid(14, 1, 5002, 90_00, 50_000)).await.unwrap();
    let accepted = next(&mut one).await;
    assert!(
        matches!(
            accepted.message,
            ServerMessage::BidAccepted {
                client_order_id: 11,
                ..
            }
        ),
        "{accepted:?}"
    );
    assert_ne!(accepted.seq, 0);
    let below = next(&mut one).await;
    assert_eq!(bid_rejected(&below), (0, 143, 13));
    assert!(
        matches!(&below.message, ServerMessage::BidRejected { text, .. }
            if text == "bid outside auction range: 85.00 to 99.00"),
        "{below:?}"
    );
    let second = next(&mut one).await;
    assert!(
        matches!(
            second.message,
            ServerMessage::BidAccepted {
                client_order_id: 14,
                ..
            }
        ),
        "{second:?}"
    );
    assert_eq!(second.seq, accepted.seq + 1, "the refusal took no number");
    drop(one);
    server.stop().await;
}
