//! The web view in a real browser: a server in this process with its
//! market data and page on loopback, a few orders that rest and trade,
//! then headless Chromium loads the page and the test reads the rendered
//! DOM: the best bid and ask and the last trade price are the market's.
//!
//! Skipped, with a note, where no Chromium is installed, unless
//! `CETX_REQUIRE_BROWSER=1` (CI sets it, after installing Chromium).

use std::process::Command;
use std::time::Duration;

use cetx_gateway::client::{Client, NewOrder};
use cetx_gateway::config::ServerConfig;
use cetx_gateway::protocol::Side;
use cetx_tests::server::TestServer;

const WAIT: Duration = Duration::from_secs(10);

/// The browser to drive: `$CETX_CHROMIUM`, else the first of the usual
/// names that runs.
fn chromium() -> Option<String> {
    let names = std::env::var("CETX_CHROMIUM")
        .ok()
        .into_iter()
        .chain(["chromium", "chromium-browser", "google-chrome"].map(String::from));
    names.into_iter().find(|name| {
        Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Loads `url` headless, lets its scripts run a few seconds, and returns
/// the DOM.
fn dump_dom(browser: &str, url: &str) -> String {
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--timeout=4000",
            "--dump-dom",
            url,
        ])
        .output()
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
    let server = TestServer::start(ServerConfig::embedded_default()).await;
    let url = format!(
        "http://{}/?symbol=CEA2025",
        server.web.expect("the demo config serves the page")
    );
    let addr = server.addr;

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

    let dom = tokio::task::spawn_blocking({
        let url = url.clone();
        move || dump_dom(&browser, &url)
    })
    .await
    .unwrap();
    for expected in [
        r#"<b id="best-bid">85.10</b>"#,
        r#"<b id="best-ask">85.30</b>"#,
        // Below the 90.00 reference: green, the Chinese convention.
        r#"<dd id="last" class="down">85.10</dd>"#,
        r#"<dd id="trades">1</dd>"#,
        r#"<span id="symbol">CEA2025</span>"#,
    ] {
        assert!(dom.contains(expected), "{expected} not in the page:\n{dom}");
    }
    drop((one, two));
    server.stop().await;
}

/// Sends `GET path` on a new connection and returns the status line.
async fn get(addr: std::net::SocketAddr, path: &str) -> (tokio::net::TcpStream, String) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_are_bounded_and_a_freed_one_is_given_again() {
    let server = TestServer::start(ServerConfig::embedded_default()).await;
    let web = server.web.expect("the demo config serves the page");
    let mut open = Vec::new();
    for _ in 0..256 {
        let (stream, status) = get(web, "/events").await;
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        open.push(stream);
    }
    let (_, status) = get(web, "/events").await;
    assert!(status.starts_with("HTTP/1.1 503"), "{status}");
    // The page itself is still served.
    let (_, status) = get(web, "/").await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    // A closed stream frees its place (once the server has seen the close).
    drop(open.pop());
    let mut given = false;
    for _ in 0..200 {
        let (stream, status) = get(web, "/events").await;
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
