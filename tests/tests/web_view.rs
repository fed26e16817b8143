//! The web view in a real browser: a server in this process with its
//! market data and page on loopback, a few orders that rest and trade,
//! then headless Chromium loads the page and the test reads the rendered
//! DOM: the best bid and ask and the last trade price are the market's.
//!
//! Skipped, with a note, where no Chromium is installed, unless
//! `CETX_REQUIRE_BROWSER=1` (CI sets it, after installing Chromium).

#[path = "../../gateway/tests/common/child.rs"]
mod child;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use cetx_engine::{Direction, ParticipantType, Pricing};
use cetx_gateway::client::{Client, NewOrder};
use cetx_gateway::config::ServerConfig;
use cetx_gateway::protocol::admin::{AdminAction, AdminReply};
use cetx_gateway::protocol::Side;
use cetx_tests::operators;
use cetx_tests::server::TestServer;

const WAIT: Duration = Duration::from_secs(10);

/// Longest run of the browser: its own page timeout is 4 s, and a cold
/// start on a busy machine takes a few more.
const BROWSER_LIMIT: Duration = Duration::from_secs(60);

/// Starts `browser` with `args`, stdin empty and its output collected, in
/// a process group of its own (its helpers are killed with it past
/// [`BROWSER_LIMIT`]), and waits for it within that limit.
///
/// # Errors
/// The operating system's, when it cannot be started.
fn run_browser(browser: &str, args: &[&str]) -> std::io::Result<std::process::Output> {
    let child = Command::new(browser)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let what = format!("{browser} {}", args.join(" "));
    Ok(child::output_within(child, &what, BROWSER_LIMIT))
}

/// The browser to drive: `$CETX_CHROMIUM`, else the first of the usual
/// names that runs.
fn chromium() -> Option<String> {
    let names = std::env::var("CETX_CHROMIUM")
        .ok()
        .into_iter()
        .chain(["chromium", "chromium-browser", "google-chrome"].map(String::from));
    names
        .into_iter()
        .find(|name| run_browser(name, &["--version"]).is_ok_and(|o| o.status.success()))
}

/// How many times the browser test loads the page, at most, for it to
/// show what the test expects.
const LOADS: usize = 3;

/// Loads `url` headless, lets its scripts run a few seconds, and returns
/// the DOM.
fn dump_dom(browser: &str, url: &str) -> String {
    let output = run_browser(
        browser,
        &[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--timeout=4000",
            "--dump-dom",
            url,
        ],
    )
    .expect("run the browser");
    assert!(
        output.status.success(),
        "{browser} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
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
async fn the_page_shows_the_best_prices_and_the_last_trade() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("CETX_REQUIRE_BROWSER").is_err(),
            "CETX_REQUIRE_BROWSER is set but no Chromium runs"
        );
        eprintln!("note: no Chromium found; skipping the browser test");
        return;
    };
    let server = TestServer::start(operators::config()).await;
    let url = format!(
        "http://{}/?symbol=CEA2025",
        server.web.expect("the demo config serves the page")
    );
    let addr = server.addr;
    // A one-way auction of 150,000 t, open for an hour from now.
    let mut desk = operators::operator(&server).await;
    let start_ns = server.now_ns();
    for action in [
        AdminAction::OpenAccount {
            account: 5000,
            broker: 1,
            participant: ParticipantType::ComplianceEntity,
        },
        AdminAction::Transfer {
            reference: "in-5000".into(),
            account: 5000,
            symbol: Some("CEA2025".into()),
            direction: Direction::In,
            amount: 200_000,
        },
        AdminAction::AnnounceAuction {
            auction_id: 1,
            symbol: "CEA2025".into(),
            seller: 5000,
            quantity_t: 150_000,
            floor_ticks: 85_00,
            ceiling_ticks: 99_00,
            start_ns,
            end_ns: start_ns + 3_600_000_000_000,
            pricing: Pricing::Uniform,
        },
    ] {
        let reply = desk.act(action).await.unwrap();
        assert!(matches!(reply, AdminReply::Applied { .. }), "{reply:?}");
    }

    let mut one = Client::connect(addr, 1, "demo-secret-1", 0).await.unwrap();
    let mut two = Client::connect(addr, 2, "demo-secret-2", 0).await.unwrap();
    one.submit(NewOrder::limit(1, 1001, "CEA2025", Side::Buy, 85_10, 10))
        .await
        .unwrap();
    answered(&mut one, 1).await;
    two.submit(NewOrder::limit(1, 2001, "CEA2025", Side::Sell, 85_30, 10))
        .await
        .unwrap();
    answered(&mut two, 1).await;
    // Trades 4 t at 85.10: 6 t of the bid stay.
    two.submit(NewOrder::limit(2, 2001, "CEA2025", Side::Sell, 85_10, 4))
        .await
        .unwrap();
    answered(&mut two, 2).await;

    let expected = [
        r#"<b id="best-bid">85.10</b>"#,
        r#"<b id="best-ask">85.30</b>"#,
        // Below the 90.00 reference: green, the Chinese convention.
        r#"<dd id="last" class="down">85.10</dd>"#,
        r#"<dd id="trades">1</dd>"#,
        r#"<span id="symbol">CEA2025</span>"#,
        // The auction, and no block offer.
        r#"<tbody id="auctions"><tr><td>1</td><td>uniform</td><td>150000</td><td>85.00</td><td>99.00</td>"#,
        r#"<td>open</td></tr></tbody>"#,
        r#"<tbody id="offers"><tr><td>none</td></tr></tbody>"#,
    ];
    // A cold browser on a busy machine may use up its own --timeout
    // before the page's scripts have drawn it: load it again (a warm
    // start), a bounded number of times, before judging what it shows.
    let mut dom = String::new();
    for _ in 0..LOADS {
        dom = tokio::task::spawn_blocking({
            let (browser, url) = (browser.clone(), url.clone());
            move || dump_dom(&browser, &url)
        })
        .await
        .unwrap();
        if expected.iter().all(|e| dom.contains(e)) {
            break;
        }
    }
    for expected in expected {
        assert!(dom.contains(expected), "{expected} not in the page:\n{dom}");
    }
    drop((one, two, desk));
    server.stop().await;
}

/// Sends `GET path` on a new connection from the loopback address `from`
/// and returns the status line.
async fn get(
    from: [u8; 4],
    addr: std::net::SocketAddr,
    path: &str,
) -> (tokio::net::TcpStream, String) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((from, 0).into()).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: cetx\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reader = tokio::io::BufReader::new(&mut stream);
    let mut status = String::new();
    tokio::time::timeout(WAIT, reader.read_line(&mut status))
        .await
        .expect("an answer in time")
        .unwrap();
    (stream, status)
}

/// Every answer of the web view, the page, its script, its data and a
/// path it does not have alike, tells the browser to load nothing from
/// elsewhere, never to frame it, never to sniff its type and to send no
/// referrer (the page itself works under them: the browser test above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_browser_s_locks() {
    use tokio::io::AsyncBufReadExt;
    let server = TestServer::start(ServerConfig::embedded_default()).await;
    let web = server.web.expect("the demo config serves the page");
    for (path, status) in [
        ("/", "200"),
        ("/app.js", "200"),
        ("/style.css", "200"),
        ("/api/market", "200"),
        ("/nowhere", "404"),
    ] {
        let mut stream = tokio::net::TcpStream::connect(web).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: cetx\r\n\r\n");
        tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
            .await
            .unwrap();
        let mut reader = tokio::io::BufReader::new(stream);
        let mut headers = String::new();
        loop {
            let mut line = String::new();
            tokio::time::timeout(WAIT, reader.read_line(&mut line))
                .await
                .expect("headers in time")
                .unwrap();
            if line.trim().is_empty() {
                break;
            }
            headers.push_str(&line.to_ascii_lowercase());
        }
        assert!(
            headers.starts_with(&format!("http/1.1 {status}")),
            "{path}: {headers}"
        );
        for want in [
            "content-security-policy: default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            "x-content-type-options: nosniff",
            "x-frame-options: deny",
            "referrer-policy: no-referrer",
        ] {
            assert!(headers.contains(want), "{path}: {want} not in\n{headers}");
        }
    }
    server.stop().await;
}

/// The loopback address of the `i`th of several viewers' machines.
const fn viewer(i: u8) -> [u8; 4] {
    [127, 0, 1, i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_are_bounded_and_a_freed_one_is_given_again() {
    let server = TestServer::start(ServerConfig::embedded_default()).await;
    let web = server.web.expect("the demo config serves the page");
    // 256 streams, 32 from each of 8 addresses (an address's most).
    let mut open = Vec::new();
    for i in 0..=255_u8 {
        let (stream, status) = get(viewer(1 + i / 32), web, "/events").await;
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        open.push(stream);
    }
    let (_, status) = get(viewer(9), web, "/events").await;
    assert!(status.starts_with("HTTP/1.1 503"), "{status}");
    // The page itself is still served.
    let (_, status) = get(viewer(10), web, "/").await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    // A closed stream frees its place (once the server has seen the close).
    drop(open.pop());
    let mut given = false;
    for _ in 0..200 {
        let (stream, status) = get(viewer(11), web, "/events").await;
        if status.starts_with("HTTP/1.1 200") {
            given = true;
            open.push(stream);
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(given, "a freed place is given to a new viewer");
    drop(open);
    server.stop().await;
}

/// One address cannot hold every connection of the web port (idle
/// connections held file descriptors until the journal could not open a
/// segment): its 33rd is answered 503 and closed, while another address
/// is served; and a connection that sends no request is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_hold_every_connection_of_the_web_port() {
    use tokio::io::AsyncReadExt;
    let server = TestServer::start(ServerConfig::embedded_default()).await;
    let web = server.web.expect("the demo config serves the page");
    let mut held = Vec::new();
    for _ in 0..32 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((viewer(1), 0).into()).unwrap();
        held.push(socket.connect(web).await.unwrap());
    }
    let (_, status) = get(viewer(1), web, "/").await;
    assert!(status.starts_with("HTTP/1.1 503"), "{status}");
    let (_, status) = get(viewer(2), web, "/").await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    // The idle ones are closed once the header timeout (10 s) has passed.
    let mut byte = [0; 1];
    let read = tokio::time::timeout(WAIT * 2, held[0].read(&mut byte))
        .await
        .expect("an idle connection is closed");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    drop(held);
    server.stop().await;
}

/// The body of `GET path` on the web port, read to the end.
async fn body_of(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: cetx\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(WAIT, stream.read_to_string(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    let (_, body) = answer.split_once("\r\n\r\n").expect("headers, then a body");
    body.to_owned()
}

/// The data of the first event of a new `/events` stream.
async fn first_event(addr: std::net::SocketAddr) -> serde_json::Value {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = "GET /events HTTP/1.1\r\nHost: cetx\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut lines = tokio::io::BufReader::new(stream).lines();
    loop {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("an event in time")
            .unwrap()
            .expect("the stream goes on");
        if let Some(data) = line.strip_prefix("data:") {
            return serde_json::from_str(data.trim()).expect("the event's data is JSON");
        }
    }
}

/// CONFIG.md, `[http]`: the first event of every `/events` stream is the
/// whole market as it is then, what `/api/market` gives; after a restart
/// on the same data directory (what a page that reconnects reads first)
/// it shows the same book, its tape and candles empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_stream_starts_with_the_whole_market_also_after_a_restart() {
    let config = ServerConfig::embedded_default();
    let server = TestServer::start_in(config.clone(), tempfile::tempdir().unwrap()).await;
    let web = server.web.expect("the demo config serves the page");
    // Kept until the server stops: a disconnect would cancel the bid.
    let mut one = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .unwrap();
    one.submit(NewOrder::limit(1, 1001, "CEA2025", Side::Buy, 85_10, 10))
        .await
        .unwrap();
    answered(&mut one, 1).await;
    let before = first_event(web).await;
    let api: serde_json::Value = serde_json::from_str(&body_of(web, "/api/market").await).unwrap();
    assert_eq!(before, api);
    let book = |market: &serde_json::Value| {
        let instruments = market["instruments"].as_array().expect("instruments");
        instruments
            .iter()
            .map(|i| (i["symbol"].clone(), i["bids"].clone(), i["asks"].clone()))
            .collect::<Vec<_>>()
    };
    assert!(
        book(&before)
            .iter()
            .any(|(symbol, bids, _)| symbol == "CEA2025" && bids.to_string().contains("85.10")),
        "{before}"
    );
    let data = server.stop().await;
    drop(one);
    let server = TestServer::start_in(config, data).await;
    let after = first_event(server.web.expect("served again")).await;
    assert_eq!(book(&after), book(&before));
    assert!(
        after["instruments"]
            .as_array()
            .expect("instruments")
            .iter()
            .all(|i| i["tape"] == serde_json::json!([]) && i["candles"] == serde_json::json!([])),
        "{after}"
    );
    server.stop().await;
}
