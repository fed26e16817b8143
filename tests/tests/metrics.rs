//! The Prometheus endpoint over TCP: a server with `[metrics]` on a free
//! port, two brokers that order, amend, cancel, trade and get rejected,
//! and `GET /metrics` before and after: each counter moved by exactly
//! what was done (a feed connection's bad frame too); and the page has
//! exactly the metrics docs/OPERATIONS.md lists.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use cetx_gateway::client::{Client, NewOrder};
use cetx_gateway::config::{MetricsSettings, ServerConfig};
use cetx_gateway::protocol::Side;
use cetx_tests::server::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(10);

/// `GET /metrics` on a new connection: the status line and the body.
async fn scrape(addr: SocketAddr) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = "GET /metrics HTTP/1.1\r\nHost: cetx\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    let answer = String::from_utf8(answer).expect("the page is text");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    (head.to_owned(), body.to_owned())
}

/// The value of the sample `series` (name and labels, as on the page).
fn value(page: &str, series: &str) -> u64 {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{series} is not on the page:\n{page}"))
        .parse()
        .unwrap_or_else(|e| panic!("{series}: {e}"))
}

/// The metric families on a page, from its `# TYPE` lines.
fn families(page: &str) -> BTreeSet<String> {
    page.lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.split(' ').next())
        .map(str::to_owned)
        .collect()
}

/// The metrics docs/OPERATIONS.md lists: the first cell of its table rows.
fn documented() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/OPERATIONS.md");
    let doc = std::fs::read_to_string(path).expect("docs/OPERATIONS.md");
    doc.lines()
        .filter_map(|line| line.strip_prefix("| `")?.split('`').next())
        .filter(|name| name.starts_with("cetx_") || name.starts_with("process_"))
        .map(str::to_owned)
        .collect()
}

async fn answered(client: &mut Client, reports: usize) {
    for _ in 0..reports {
        client
            .next_report(WAIT)
            .await
            .expect("the connection works")
            .expect("a report in time");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_with_what_the_brokers_do() {
    let mut config = ServerConfig::embedded_default();
    config.metrics = Some(MetricsSettings {
        listen: "127.0.0.1:0".parse().unwrap(),
    });
    // CEA2025's large-holder threshold at 500,002 t: account 1001, which
    // holds 500,000, reaches it with the 4 t it buys below.
    let cea2025 = config
        .instruments
        .iter_mut()
        .find(|i| i.symbol == "CEA2025")
        .unwrap();
    cea2025.position_limit_t = Some(1_000_004);
    cea2025.large_holder_bps = Some(5_000);
    let server = TestServer::start(config).await;
    let metrics = server.metrics.expect("the config has [metrics]");

    let (head, before) = scrape(metrics).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert_eq!(
        value(&before, r#"cetx_trades_total{instrument="CEA2025"}"#),
        0
    );
    assert_eq!(value(&before, r#"cetx_requests_total{kind="order"}"#), 0);
    assert_eq!(value(&before, "cetx_sessions"), 0);

    let mut one = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .unwrap();
    let mut two = Client::connect(server.addr, 2, "demo-secret-2", 0)
        .await
        .unwrap();
    one.submit(NewOrder::limit(1, 1001, "CEA2025", Side::Buy, 85_10, 10))
        .await
        .unwrap();
    answered(&mut one, 1).await;
    one.amend(1, 85_20, 10).await.unwrap();
    answered(&mut one, 1).await;
    // Trades 4 t at 85.20; 6 t of the bid stay, then are cancelled.
    two.submit(NewOrder::limit(1, 2001, "CEA2025", Side::Sell, 85_20, 4))
        .await
        .unwrap();
    answered(&mut two, 2).await;
    answered(&mut one, 1).await;
    one.cancel(1).await.unwrap();
    answered(&mut one, 1).await;
    // Outside the band (90.00 ± 10%): the engine rejects it, 103.
    two.submit(NewOrder::limit(2, 2001, "CEA2025", Side::Sell, 1_00, 1))
        .await
        .unwrap();
    answered(&mut two, 1).await;
    // No such client order id: the gateway refuses it, 409.
    two.cancel(99).await.unwrap();
    answered(&mut two, 1).await;
    // No such symbol: the session refuses it before the queue, 410.
    two.submit(NewOrder::limit(3, 2001, "NOPE", Side::Sell, 85_00, 1))
        .await
        .unwrap();
    answered(&mut two, 1).await;

    // A wrong secret: refused 402, and counted.
    let wrong = Client::connect(server.addr, 1, "not the secret", 0).await;
    assert!(wrong.is_err());
    // A resume past broker 2's last report: refused 413, and counted (the
    // session it would have taken over goes on).
    let ahead = Client::connect(server.addr, 2, "demo-secret-2", 999).await;
    assert!(ahead.is_err());
    // A feed connection that announces a frame over 4,096 bytes: answered
    // 415 and closed, and counted.
    let feed = server.feed.expect("the config has [market_data]");
    let mut long = tokio::net::TcpStream::connect(feed).await.unwrap();
    long.write_all(&5_000_u32.to_le_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, long.read_to_end(&mut answer))
        .await
        .expect("closed in time")
        .unwrap();
    assert!(!answer.is_empty(), "told why");

    let (_, after) = scrape(metrics).await;
    for (series, expected) in [
        (r#"cetx_requests_total{kind="order"}"#, 2 + 1 + 1),
        (r#"cetx_requests_total{kind="amend"}"#, 1),
        (r#"cetx_requests_total{kind="cancel"}"#, 2),
        (
            r#"cetx_rejects_total{code="103",reason="PriceOutsideBand"}"#,
            1,
        ),
        (
            r#"cetx_rejects_total{code="409",reason="UnknownClientOrderId"}"#,
            1,
        ),
        (
            r#"cetx_rejects_total{code="410",reason="UnknownSymbol"}"#,
            1,
        ),
        (r#"cetx_trades_total{instrument="CEA2025"}"#, 1),
        (r#"cetx_traded_tonnes_total{instrument="CEA2025"}"#, 4),
        (r#"cetx_trades_total{instrument="CEA2024"}"#, 0),
        (r#"cetx_large_holders_total{instrument="CEA2025"}"#, 1),
        (r#"cetx_large_holders_total{instrument="CEA2024"}"#, 0),
        ("cetx_failed_logins_total", 1),
        (r#"cetx_resume_failures_total{code="413"}"#, 1),
        (r#"cetx_resume_failures_total{code="419"}"#, 0),
        (r#"cetx_resume_failures_total{code="421"}"#, 0),
        ("cetx_sessions", 2),
        ("cetx_pending_connections", 0),
        ("cetx_pending_connections_kept", 0),
        ("cetx_resume_entries_read_total", 0),
        ("cetx_report_subscriptions", 2),
        ("cetx_running", 1),
        (r#"cetx_feed_closes_total{why="frame_too_long"}"#, 1),
        (r#"cetx_feed_closes_total{why="malformed_frame"}"#, 0),
        (r#"cetx_feed_closes_total{why="idle_timeout"}"#, 0),
        (r#"cetx_feed_closes_total{why="subscribe_timeout"}"#, 0),
        (
            r#"cetx_feed_connections_refused_total{why="max_subscribers"}"#,
            0,
        ),
        (
            r#"cetx_feed_connections_refused_total{why="max_subscribers_per_address"}"#,
            0,
        ),
    ] {
        assert_eq!(value(&after, series), expected, "{series}");
    }
    // The first segment waits for the one written ahead: none grown.
    assert_eq!(value(&after, "cetx_journal_segments_grown_total"), 0);
    let moved = |series: &str| value(&after, series) > value(&before, series);
    for series in [
        "cetx_journal_commits_total",
        "cetx_journal_entries_total",
        "cetx_journal_syncs_total",
        "cetx_journal_sync_seconds_count",
        "cetx_journal_commit_entries_count",
        "cetx_engine_turn_seconds_count",
        "cetx_journal_durable_seq",
    ] {
        assert!(moved(series), "{series} did not move:\n{after}");
    }
    assert!(
        value(&after, r#"cetx_journal_sync_seconds_bucket{le="+Inf"}"#)
            == value(&after, "cetx_journal_sync_seconds_count")
    );
    assert!(value(&after, "process_resident_memory_bytes") > 1 << 20);
    assert_eq!(families(&after), documented(), "the page and OPERATIONS.md");
    drop((one, two));
    server.stop().await;
}

/// The book gauges: each instrument's resting orders against its
/// `max_orders`, moved by what rests and what leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_book_gauges_follow_the_book() {
    let mut config = ServerConfig::embedded_default();
    config.metrics = Some(MetricsSettings {
        listen: "127.0.0.1:0".parse().unwrap(),
    });
    let max_orders = config
        .instruments
        .iter()
        .find(|i| i.symbol == "CEA2025")
        .expect("the demo lists CEA2025")
        .max_orders;
    let server = TestServer::start(config).await;
    let metrics = server.metrics.expect("the config has [metrics]");
    let orders = r#"cetx_book_orders{instrument="CEA2025"}"#;
    let max = r#"cetx_book_max_orders{instrument="CEA2025"}"#;
    let (_, page) = scrape(metrics).await;
    assert_eq!(value(&page, orders), 0);
    assert_eq!(value(&page, max), u64::from(max_orders));

    let mut one = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .unwrap();
    for (id, price) in [(1, 85_00), (2, 85_10), (3, 85_20)] {
        one.submit(NewOrder::limit(id, 1001, "CEA2025", Side::Buy, price, 1))
            .await
            .unwrap();
    }
    answered(&mut one, 3).await;
    let (_, page) = scrape(metrics).await;
    assert_eq!(value(&page, orders), 3);
    assert_eq!(value(&page, r#"cetx_book_orders{instrument="CEA2024"}"#), 0);
    one.cancel(2).await.unwrap();
    answered(&mut one, 1).await;
    let (_, page) = scrape(metrics).await;
    assert_eq!(value(&page, orders), 2);
    assert_eq!(value(&page, max), u64::from(max_orders));
    drop(one);
    server.stop().await;
}

/// The snapshot metrics: a snapshot that cannot be written (a directory
/// stands where its file goes) is counted as failed and the market goes
/// on; the next one is written, counted, and its entry shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_written_and_failed_are_counted() {
    const EVERY: u64 = 50;
    let mut config = ServerConfig::embedded_default();
    config.metrics = Some(MetricsSettings {
        listen: "127.0.0.1:0".parse().unwrap(),
    });
    config.journal.snapshot_every = EVERY;
    let data = tempfile::tempdir().unwrap();
    let journal = data.path().join("journal");
    let server = TestServer::start_in(config, data).await;
    let metrics = server.metrics.expect("the config has [metrics]");
    let mut one = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .unwrap();
    let mut sent = 0;
    // Rests a buy per entry until entry `seq` is durable (the gauge may
    // lag the answers, so this may go one entry further).
    let mut order_until = async |seq: u64| {
        let durable = async || value(&scrape(metrics).await.1, "cetx_journal_durable_seq");
        assert!(durable().await < seq);
        while durable().await < seq {
            sent += 1;
            one.submit(NewOrder::limit(sent, 1001, "CEA2025", Side::Buy, 85_00, 1))
                .await
                .unwrap();
            answered(&mut one, 1).await;
        }
    };
    // Waits until the snapshot thread has `written` and `failed` that many,
    // then scrapes the page.
    let counted = async |written: u64, failed: u64| {
        server
            .snapshots_until(WAIT, |s| s.written == written && s.failed == failed)
            .await
            .unwrap_or_else(|| panic!("{written} written and {failed} failed in time"));
        scrape(metrics).await.1
    };

    let page = counted(0, 0).await;
    assert_eq!(value(&page, "cetx_snapshots_written_total"), 0);
    assert_eq!(value(&page, "cetx_snapshot_last_seq"), 0);
    let durable = value(&page, "cetx_journal_durable_seq");
    let failing = (durable / EVERY + 1) * EVERY;
    let name = cetx_engine::journal::snapshot_file_name(failing);
    std::fs::create_dir(journal.join(&name)).unwrap();
    order_until(failing).await;
    let page = counted(0, 1).await;
    assert_eq!(value(&page, "cetx_snapshot_failures_total"), 1);
    assert_eq!(value(&page, "cetx_snapshot_last_seq"), 0);

    order_until(failing + EVERY).await;
    let page = counted(1, 1).await;
    assert_eq!(value(&page, "cetx_snapshots_written_total"), 1);
    assert_eq!(value(&page, "cetx_snapshot_last_seq"), failing + EVERY);
    assert_eq!(value(&page, "cetx_snapshots_skipped_total"), 0);
    let written = cetx_engine::journal::snapshot_file_name(failing + EVERY);
    assert!(journal.join(written).is_file());
    assert!(journal.join(name).is_dir(), "left as it was");
    drop(one);
    server.stop().await;
}
