//! A listing-agreement take (挂牌协议) end to end, over loopback: a seller
//! rests asks at six prices, a subscriber of the feed's order view sees
//! their public order ids, a taker takes part of the third-best ask by its
//! id and pays its price, both brokers get their reports, the order view
//! shows what is left, refused takes are named, and the journal alone
//! settles the one trade.
//!
//! Every wait is bounded in time, every loop in count.

use std::time::Duration;

use cetx_gateway::client::{Client, NewOrder};
use cetx_gateway::config::{MarketDataSettings, ServerConfig};
use cetx_gateway::market_data::FeedClient;
use cetx_gateway::protocol::feed::FeedMessage;
use cetx_gateway::protocol::{
    OrderType, RequestKind, ServerFrame, ServerMessage, Side, TimeInForce,
};
use cetx_tests::server::TestServer;
use cetx_tests::settle::settled;

const WAIT: Duration = Duration::from_secs(10);
const SELLER: u32 = 1001;
const TAKER: u32 = 2001;

/// The next report of `client` that is not a heartbeat.
async fn report(client: &mut Client) -> ServerFrame {
    client
        .next_report(WAIT)
        .await
        .expect("the connection works")
        .expect("a report within the wait")
}

/// The asks of the order view: price → [(order id, open t)], best first.
fn asks(feed: &FeedClient) -> Vec<(i64, Vec<(u64, u64)>)> {
    let followed = feed.instrument("CEA2025").expect("subscribed");
    followed.orders[1]
        .iter()
        .map(|(&price, level)| {
            assert_eq!(level.order_count as usize, level.orders.len());
            let orders = level
                .orders
                .iter()
                .map(|o| (o.order_id, o.quantity_t))
                .collect();
            (price, orders)
        })
        .collect()
}

/// Reads the feed until its order view's asks are `expected`; returns
/// the messages read.
async fn until_asks(
    feed: &mut FeedClient,
    expected: &[(i64, Vec<(u64, u64)>)],
) -> Vec<FeedMessage> {
    let mut read = Vec::new();
    for _ in 0..1_000 {
        if feed.instrument("CEA2025").is_some() && asks(feed) == expected {
            return read;
        }
        let message = tokio::time::timeout(WAIT, feed.next())
            .await
            .expect("the feed speaks within the wait")
            .expect("the feed works");
        read.push(message);
    }
    panic!("the order view never became {expected:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taker_takes_the_third_best_ask_by_its_public_id() {
    let mut config = ServerConfig::embedded_default();
    config.market_data = Some(MarketDataSettings {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..MarketDataSettings::default()
    });
    let server = TestServer::start(config).await;
    let mut feed = FeedClient::connect(server.feed.expect("market data is on"))
        .await
        .unwrap();
    feed.subscribe_orders(5, &["CEA2025"]).await.unwrap();
    let mut seller = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .unwrap();
    let mut taker = Client::connect(server.addr, 2, "demo-secret-2", 0)
        .await
        .unwrap();

    // Six ask levels (the demo's CEA2025 trades 81.00 to 99.00), and a
    // second order at the best one.
    let prices = [91_00, 91_50, 92_00, 92_50, 93_00, 93_50, 91_00];
    let mut ids = Vec::new();
    for (coid, price) in (1..).zip(prices) {
        let order = NewOrder::limit(coid, SELLER, "CEA2025", Side::Sell, price, 50);
        seller.submit(order).await.unwrap();
        match report(&mut seller).await.message {
            ServerMessage::OrderAccepted { order_id, .. } => ids.push(order_id),
            other => panic!("{other:?}"),
        }
    }
    // The order view: the best five ask levels, orders in time order,
    // each by the id its owner was told.
    let mut expected: Vec<(i64, Vec<(u64, u64)>)> = vec![
        (91_00, vec![(ids[0], 50), (ids[6], 50)]),
        (91_50, vec![(ids[1], 50)]),
        (92_00, vec![(ids[2], 50)]),
        (92_50, vec![(ids[3], 50)]),
        (93_00, vec![(ids[4], 50)]),
    ];
    until_asks(&mut feed, &expected).await;

    // The taker picks the third-best level's order from the view.
    let target = asks(&feed)[2].1[0].0;
    assert_eq!(target, ids[2]);
    taker
        .send_take(1, TAKER, "CEA2025", target, Side::Buy, 20)
        .await
        .unwrap();
    let accepted = report(&mut taker).await.message;
    let ServerMessage::OrderAccepted {
        client_order_id: 1,
        order_id: take_id,
        side: Side::Buy,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Ioc,
        price_ticks: 92_00,
        quantity_t: 20,
        ..
    } = accepted
    else {
        panic!("{accepted:?}");
    };
    let fill = report(&mut taker).await.message;
    assert!(
        matches!(
            fill,
            ServerMessage::Fill { client_order_id: 1, order_id, trade_id: 1, price_ticks: 92_00,
                quantity_t: 20, leaves_t: 0, aggressor: true, .. } if order_id == take_id
        ),
        "{fill:?}"
    );
    let maker = report(&mut seller).await.message;
    assert!(
        matches!(
            maker,
            ServerMessage::Fill { client_order_id: 3, order_id, trade_id: 1, price_ticks: 92_00,
                quantity_t: 20, leaves_t: 30, aggressor: false, side: Side::Sell, .. }
                if order_id == target
        ),
        "{maker:?}"
    );
    // The order view shows what is left of it, in its place.
    expected[2] = (92_00, vec![(ids[2], 30)]);
    let told = until_asks(&mut feed, &expected).await;
    // The feed told the trade like any other, and the figures after it.
    assert!(
        told.iter().any(|m| matches!(
            m,
            FeedMessage::Trade {
                trade_id: 1,
                price_ticks: 92_00,
                quantity_t: 20,
                aggressor: Side::Buy,
                ..
            }
        )),
        "{told:?}"
    );
    // The day's figures come after the trade they count: read until they
    // do, not until the feed is quiet.
    tokio::time::timeout(Duration::from_secs(10), async {
        while feed.instrument("CEA2025").map(|f| f.view.day.volume_t) != Some(20) {
            feed.next().await.unwrap();
        }
    })
    .await
    .expect("the day's figures after the trade within 10 s");
    let followed = feed.instrument("CEA2025").unwrap();
    assert_eq!(followed.view.day.volume_t, 20);
    assert_eq!(followed.view.day.last_ticks, 92_00);
    let level = followed.view.level(cetx_engine::Side::Sell, 92_00);
    assert_eq!((level.quantity_t, level.orders), (30, 1));

    // Refused takes, each named: the 6th level is beyond reach, an own
    // order is a self-take, more than is open is refused, and an unknown
    // symbol never reaches the engine.
    let refusals = [(2, TAKER, ids[5], 1, 122), (3, TAKER, ids[0], 51, 124)];
    for (coid, account, order_id, qty, reason) in refusals {
        taker
            .send_take(coid, account, "CEA2025", order_id, Side::Buy, qty)
            .await
            .unwrap();
        let answer = report(&mut taker).await;
        assert_eq!(
            answer.message,
            ServerMessage::OrderRejected {
                client_order_id: coid,
                request: RequestKind::Take,
                reason,
                text: cetx_gateway::reports::reject_text(
                    cetx_engine::RejectReason::from_code(reason).unwrap()
                ),
            }
        );
        assert_ne!(answer.seq, 0, "an engine's reject is numbered");
    }
    seller
        .send_take(9, SELLER, "CEA2025", ids[1], Side::Buy, 1)
        .await
        .unwrap();
    let own = report(&mut seller).await.message;
    assert!(
        matches!(
            own,
            ServerMessage::OrderRejected {
                client_order_id: 9,
                reason: 125,
                ..
            }
        ),
        "{own:?}"
    );
    taker
        .send_take(4, TAKER, "NOPE", ids[1], Side::Buy, 1)
        .await
        .unwrap();
    let unknown = report(&mut taker).await;
    assert!(
        matches!(
            unknown.message,
            ServerMessage::OrderRejected {
                reason: 410,
                request: RequestKind::Take,
                ..
            }
        ) && unknown.seq == 0,
        "{unknown:?}"
    );
    // Refused takes changed nothing the feed shows.
    feed.settle(Duration::from_millis(300)).await.unwrap();
    assert_eq!(asks(&feed), expected);

    // The journal alone settles the trade: one clearing row.
    drop((seller, taker));
    let data = server.stop().await;
    let reports = settled(data.path());
    let clearing = &reports.clearing;
    let rows: Vec<Vec<&str>> = clearing
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 1, "{clearing}");
    assert_eq!(
        rows[0][3..],
        ["1", "CEA2025", "2001", "2", "1001", "1", "20", "92.00", "1840.00", "listing", ""],
        "{clearing}"
    );
}
