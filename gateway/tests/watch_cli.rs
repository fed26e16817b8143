//! `cetx watch --once` against a real `cetx serve`: the frame it prints
//! shows the orders resting in the book, the day's trade, the phase and
//! the band; an unknown symbol, a feed that is not there and a missing
//! terminal each end it with a message and a non-zero status.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cetx_gateway::client::{Client, NewOrder};
use cetx_gateway::market_data::FeedClient;
use cetx_gateway::protocol::{ServerMessage, Side};
use common::{output_within, port_with_no_listener, ServeProcess};

/// Longest wait for a report, the feed, or `cetx watch` to exit.
const WAIT: Duration = Duration::from_secs(10);

/// Runs `cetx watch ARGS` without a terminal; killed, and the test failed,
/// if it has not exited within [`WAIT`].
fn watch(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_cetx"))
        .arg("watch")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cetx watch");
    output_within(child, &format!("cetx watch {args:?}"), WAIT)
}

/// The printed frame, each line's words single-spaced (column widths
/// aside).
fn words(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// Reads `client`'s reports until `done` says one is the last wanted.
async fn reports_until(client: &mut Client, done: impl Fn(&ServerMessage) -> bool) {
    loop {
        let frame = client
            .next_report(WAIT)
            .await
            .expect("the connection works")
            .expect("a report within the wait");
        if let ServerMessage::OrderRejected { reason, text, .. } = &frame.message {
            panic!("order rejected: {reason} {text}");
        }
        if done(&frame.message) {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_frame_shows_the_book_the_trade_the_phase_and_the_band() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServeProcess::start(dir.path());
    let mut seller = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .expect("login");
    let mut buyer = Client::connect(server.addr, 2, "demo-secret-2", 0)
        .await
        .expect("login");
    let order = |id, account, side, price_ticks, quantity_t| {
        NewOrder::limit(id, account, "CEA2025", side, price_ticks, quantity_t)
    };
    seller
        .submit(order(1, 1001, Side::Sell, 85_10, 100))
        .await
        .expect("send");
    seller
        .submit(order(2, 1001, Side::Sell, 85_30, 250))
        .await
        .expect("send");
    reports_until(&mut seller, |m| {
        matches!(
            m,
            ServerMessage::OrderAccepted {
                client_order_id: 2,
                ..
            }
        )
    })
    .await;
    buyer
        .submit(order(1, 2001, Side::Buy, 84_90, 40))
        .await
        .expect("send");
    // Takes 60 t of the 100 at 85.10: one trade, the buyer the aggressor.
    buyer
        .submit(order(2, 2001, Side::Buy, 85_10, 60))
        .await
        .expect("send");
    reports_until(&mut buyer, |m| {
        matches!(
            m,
            ServerMessage::Fill {
                client_order_id: 2,
                leaves_t: 0,
                ..
            }
        )
    })
    .await;

    // The reports come just before the feed is published: wait until the
    // feed shows the trade, so the frame cannot race it.
    let mut feed = FeedClient::connect(server.market_data).await.expect("feed");
    feed.subscribe(5, &["CEA2025"]).await.expect("subscribe");
    tokio::time::timeout(WAIT, async {
        while feed
            .instrument("CEA2025")
            .is_none_or(|f| f.view.day.trade_count < 1 || f.view.bids.is_empty())
        {
            feed.next().await.expect("the feed");
        }
    })
    .await
    .expect("the feed shows the trade within the wait");

    let feed_addr = server.market_data.to_string();
    let output = tokio::task::spawn_blocking(move || {
        watch(&["--feed", &feed_addr, "--depth", "5", "--once", "CEA2025"])
    })
    .await
    .expect("run cetx watch");
    let frame = words(&output.stdout);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{:?}\n{text}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        frame[1].starts_with("┌ CEA2025 · continuous trading ─") && frame[1].ends_with("gaps 0 ┐"),
        "{text}"
    );
    // The demo config's CEA2025: reference 90.00, band ±10%.
    for line in [
        "│ band 81.00 – 99.00 reference 90.00 │",
        "│ open 85.10 high 85.10 low 85.10 last 85.10 vwap 85.10 │",
        "│ volume 60 t turnover 5,106.00 CNY trades 1 │",
        "│ price qty (t) orders time price qty (t) aggressor │",
        "│ ask 85.30 250 1 none since watching began │",
        "│ ask 85.10 40 1 │",
        "│ 0.20 spread │",
        "│ bid 84.90 40 1 │",
    ] {
        assert!(frame.iter().any(|l| l == line), "no {line:?} in\n{text}");
    }
    // The best ask is just above the spread, the best bid just below.
    let spread = frame.iter().position(|l| l == "│ 0.20 spread │").unwrap();
    assert_eq!(frame[spread - 1], "│ ask 85.10 40 1 │", "{text}");
    assert_eq!(frame[spread + 1], "│ bid 84.90 40 1 │", "{text}");
    drop((seller, buyer));
}

/// The block offers, auctions and results come after a snapshot's levels,
/// and no message marks their end: `--once` still prints them (it asks
/// the feed for a symbol no instrument has and prints once that answer
/// came, after them; tester 74 found them left out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_frame_shows_a_block_offer_open_to_every_account() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A Friday at 14:00 in Beijing: block hours for CEA.
    let server = ServeProcess::start_with(dir.path(), &["--start-at", "2026-11-27T14:00:00+08:00"]);
    let mut seller = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .expect("login");
    seller
        .post_block(1, 1001, "CEA2025", Side::Sell, 90_00, 200_000, 0)
        .await
        .expect("send");
    let posted = seller
        .next_report(WAIT)
        .await
        .expect("the connection works")
        .expect("a report within the wait");
    assert!(
        matches!(posted.message, ServerMessage::BlockPosted { .. }),
        "{posted:?}"
    );
    let feed = server.market_data.to_string();
    let output =
        tokio::task::spawn_blocking(move || watch(&["--feed", &feed, "--once", "CEA2025"]))
            .await
            .expect("run cetx watch");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        words(&output.stdout)
            .iter()
            .any(|l| l == "│ block offer 1 sells 200,000 t at 90.00 │"),
        "{text}"
    );
    drop(seller);
}

#[test]
fn an_unknown_symbol_ends_it_with_the_feeds_refusal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServeProcess::start(dir.path());
    let feed = server.market_data.to_string();
    let output = watch(&["--feed", &feed, "--once", "CEA2025", "CEA2099"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: subscribing to CEA2025, CEA2099 on the feed at {feed}: \
             the feed server refused: 410 unknown symbol CEA2099"
        )
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn a_feed_that_is_not_there_ends_it_with_a_message() {
    // Held until the end: nothing can listen there meanwhile.
    let (_reserved, port) = port_with_no_listener();
    let feed = format!("127.0.0.1:{port}");
    let output = watch(&["--feed", &feed, "--once", "CEA2025"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: connecting to the feed at {feed}: ")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `--utc-offset-s` takes what `calendar.utc_offset_s` may be (±14 h),
/// and refuses the rest before it connects.
#[test]
fn an_offset_beyond_any_calendar_s_is_refused() {
    for offset in ["50401", "-50401", "eight"] {
        let output = watch(&["--utc-offset-s", offset, "--once", "CEA2025"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{offset}: {stderr}");
        assert!(stderr.contains("--utc-offset-s"), "{stderr}");
    }
}

#[test]
fn without_a_terminal_it_asks_for_one_or_for_once() {
    let output = watch(&["--feed", "127.0.0.1:9", "CEA2025"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not a terminal"), "{stderr}");
    assert!(stderr.contains("--once"), "{stderr}");
}
