//! A journal describes its own market: a registry settles it with no
//! config, a config given is checked against it, and a server refuses a
//! data directory whose journal describes another market unless told to
//! journal the change.
//!
//! The market is not the demo's: CEA2030 in place of CEA2025, and a CCER on
//! a tick of 0.05 CNY. Two brokers trade over loopback; the journal alone
//! then gives clearing rows that match their fills.

use std::time::Duration;

use cetx_engine::settlement::exit;
use cetx_engine::RejectReason;
use cetx_gateway::client::{Client, NewOrder};
use cetx_gateway::config::{ServerConfig, DEFAULT_TOML};
use cetx_gateway::protocol::{ServerMessage, Side};
use cetx_gateway::runtime::{Clock, Runtime, RuntimeError, RuntimeOptions};
use cetx_tests::server::TestServer;
use cetx_tests::settle::{settle, Reports};

/// Longest wait for any one answer.
const WAIT: Duration = Duration::from_secs(10);

/// The demo config with CEA2030 for CEA2025 and a CCER tick of 0.05.
fn market() -> ServerConfig {
    let text = DEFAULT_TOML
        .replace("CEA2025", "CEA2030")
        .replace("vintage = 2025", "vintage = 2030");
    let mut config = ServerConfig::from_toml_str(&text).unwrap();
    let ccer = config.instrument_id("CCER").unwrap();
    config.instruments[usize::from(ccer.0)].tick = "0.05".parse().unwrap();
    config
}

/// A fill's trade id, symbol, price and quantity.
type Fill = (u64, String, i64, u64);

/// Waits for the next fill among `client`'s reports.
async fn next_fill(client: &mut Client) -> Fill {
    for _ in 0..10 {
        let frame = client
            .next_report(WAIT)
            .await
            .expect("the connection works")
            .expect("a report within the wait");
        if let ServerMessage::Fill {
            trade_id,
            symbol,
            price_ticks,
            quantity_t,
            ..
        } = frame.message
        {
            return (trade_id, symbol.to_string(), price_ticks, quantity_t);
        }
    }
    panic!("no fill among ten reports");
}

/// Trades CEA2030 and CCER between the two demo brokers; returns the
/// buyer's fills and the server's data directory.
async fn trade(config: ServerConfig) -> (Vec<Fill>, tempfile::TempDir) {
    let server = TestServer::start(config).await;
    let mut seller = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .expect("login");
    let mut buyer = Client::connect(server.addr, 2, "demo-secret-2", 0)
        .await
        .expect("login");
    let mut fills = Vec::new();
    for (id, symbol, sell_at, buy_at) in [(1, "CEA2030", 90_00, 90_10), (2, "CCER", 84_90, 84_95)] {
        let order = |side, price| NewOrder::limit(id, 0, symbol, side, price, 60);
        seller
            .submit(NewOrder {
                account: 1001,
                ..order(Side::Sell, sell_at)
            })
            .await
            .expect("send");
        // Resting before the buy comes: the trade is at the sell's price.
        let accepted = seller.next_report(WAIT).await.expect("works");
        assert!(
            matches!(
                accepted.as_ref().map(|f| &f.message),
                Some(ServerMessage::OrderAccepted { .. })
            ),
            "{accepted:?}"
        );
        buyer
            .submit(NewOrder {
                account: 2001,
                ..order(Side::Buy, buy_at)
            })
            .await
            .expect("send");
        let fill = next_fill(&mut buyer).await;
        assert_eq!(
            next_fill(&mut seller).await,
            fill,
            "both sides hear of one trade"
        );
        fills.push(fill);
    }
    (fills, server.stop().await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_settles_a_non_demo_market_from_the_journal_alone() {
    let config = market();
    let (fills, data) = trade(config.clone()).await;
    assert_eq!(
        fills,
        [
            (1, "CEA2030".to_owned(), 90_00, 60),
            (2, "CCER".to_owned(), 84_90, 60)
        ]
    );

    let alone = settle(data.path(), None).expect("the journal settles alone");
    let checked = settle(data.path(), Some(&config)).expect("its own config agrees");
    assert_eq!(alone, checked, "a config changes nothing when it agrees");

    // Every clearing row is one of the fills: trade id, symbol, price,
    // quantity.
    let Reports { clearing, days, .. } = &alone;
    let rows: Vec<Fill> = clearing
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let price: f64 = f[10].parse().unwrap();
            (
                f[3].parse().unwrap(),
                f[4].to_owned(),
                (price * 100.0).round() as i64,
                f[9].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, fills, "{clearing}");
    // The CCER's day so far closes on its own tick.
    let ccer = days
        .lines()
        .find(|l| l.contains(",CCER,"))
        .expect("a CCER day");
    assert!(
        ccer.contains(",listing,84.90,") && ccer.ends_with(",provisional"),
        "{ccer}"
    );

    // The demo config describes another market: named, exit 1.
    let (code, message) = settle(data.path(), Some(&ServerConfig::embedded_default())).unwrap_err();
    assert_eq!(code, exit::FAILURE);
    assert!(
        message.contains("instrument CEA2025 is in the config but not listed"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refuses_another_market_unless_told_to_journal_the_change() {
    let config = market();
    let (_, data) = trade(config.clone()).await;
    // On the clock the test server ran on (`TestServer::start`).
    let options = || {
        let mut options = RuntimeOptions::new(data.path());
        options.clock = Clock::quiet();
        options
    };

    // A wider CCER band in the config: refused, and the field named.
    let mut wider = config.clone();
    let ccer = wider.instrument_id("CCER").unwrap();
    wider.instruments[usize::from(ccer.0)].band_bps = 2_000;
    let refused = Runtime::start(&wider, options()).unwrap_err();
    assert!(
        matches!(refused, RuntimeError::ConfigDiffers(_)),
        "{refused}"
    );
    assert!(
        refused
            .to_string()
            .contains("instrument CCER.band_bps: the journal has 1000, the config 2000"),
        "{refused}"
    );

    // The CCER is still trading (the market was opened by hand): its rules
    // do not change, and nothing is journaled.
    let mut accepting = options();
    accepting.accept_config_change = true;
    let busy = Runtime::start(&wider, accepting).unwrap_err();
    assert!(
        matches!(
            busy,
            RuntimeError::DefinitionRefused {
                reason: RejectReason::InstrumentBusy,
                ..
            }
        ),
        "{busy}"
    );
    assert!(
        busy.to_string()
            .starts_with("the engine refuses the revision of CCER: InstrumentBusy"),
        "{busy}"
    );
    // A week later the calendar has closed it: told to, the server
    // journals the change (the CCER book is empty, both orders traded in
    // full) and runs by it. The quiet clock shows a Saturday noon in
    // Beijing, so a week later is the next one, outside every session.
    const WEEK_NS: i64 = 7 * 86_400 * 1_000_000_000;
    let week_later = Clock::manual(Clock::quiet().now_ns() + WEEK_NS);
    let mut closing = RuntimeOptions::new(data.path());
    closing.clock = week_later.clone();
    Runtime::start(&config, closing)
        .unwrap()
        .shutdown()
        .unwrap();
    let mut accepting = options();
    accepting.clock = week_later;
    accepting.accept_config_change = true;
    let runtime = Runtime::start(&wider, accepting).expect("the change is journaled");
    runtime.shutdown().expect("stops");
    settle(data.path(), Some(&wider)).expect("the journal now has the new band");
    let (code, message) = settle(data.path(), Some(&config)).unwrap_err();
    assert_eq!(code, exit::FAILURE);
    assert!(message.contains("CCER.band_bps"), "{message}");

    // The old config is now the one that differs.
    let again = Runtime::start(&config, options()).unwrap_err();
    assert!(again.to_string().contains("CCER.band_bps"), "{again}");
}
