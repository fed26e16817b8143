//! The Python broker client (`tests/python/broker_client.py`, standard
//! library only, written from `docs/PROTOCOL.md`) logs in to a real
//! `cetx serve`, trades between the two demo brokers and reads both
//! fills, and takes a resting order by its public id (a listing-agreement
//! take). Skipped, with a note, where `python3` is not installed.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cetx_gateway::client::{Client, NewOrder};
use cetx_gateway::protocol::{Side, TimeInForce};

use common::ServeProcess;

/// Runs one of the Python client's demos (`flag`) against a real
/// `cetx serve` (with `serve_args`) and returns what it printed; `None`
/// when there is no `python3` here. The demo must succeed, and the server
/// must stop cleanly after it.
fn python_demo(flag: &str, serve_args: &[&str]) -> Option<String> {
    python_demo_after(flag, serve_args, |_| {})
}

/// [`python_demo`], `before` given the server's address first.
fn python_demo_after(
    flag: &str,
    serve_args: &[&str],
    before: impl FnOnce(std::net::SocketAddr),
) -> Option<String> {
    if !common::python3_runs("the Python client test") {
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/broker_client.py");
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServeProcess::start_with(dir.path(), serve_args);
    before(server.addr);
    let child = Command::new("python3")
        .arg(&script)
        .arg(flag)
        .arg(server.addr.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    let output = common::output_within(child, "the Python client", Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python {flag} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    Some(stdout)
}

#[test]
fn the_python_client_trades_with_the_server() {
    let Some(stdout) = python_demo("--demo", &[]) else {
        return;
    };
    assert!(stdout.contains("demo ok"), "{stdout}");
    assert!(
        stdout.contains("trade 1: 50 t CEA2025 at 90.00"),
        "{stdout}"
    );
    // It bid, withdrew and amended over the wire: the engine refused the
    // bid in an auction never announced (144, numbered), the gateway the
    // other two (409, unsequenced).
    assert!(
        stdout.contains(
            "auction bids refused: [(0, 0, 144, True), (1, 1, 409, False), (2, 2, 409, False)]"
        ),
        "{stdout}"
    );
}

/// The demo logs in with resume 0, so a demo broker's whole history comes
/// first: it is skipped however long it is (a newcomer's second `--demo`,
/// after the README's load test, counted 1,000 replayed reports against
/// its wait and failed).
#[test]
fn the_python_demo_runs_on_a_market_with_a_long_history() {
    const ORDERS: u64 = 600;
    let history = |addr: std::net::SocketAddr| {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let mut broker = Client::connect(addr, 1, "demo-secret-1", 0).await.unwrap();
            // Buys that cannot trade, each answered Accepted, then
            // Cancelled: two reports.
            for id in 1..=ORDERS {
                let mut order = NewOrder::limit(id, 1001, "CEA2025", Side::Buy, 81_00, 1);
                order.time_in_force = TimeInForce::Ioc;
                broker.submit(order).await.unwrap();
            }
            let mut last = 0;
            while last < 2 * ORDERS {
                let frame = broker.next_report(Duration::from_secs(10)).await.unwrap();
                last = frame.expect("the reports of the orders").seq;
            }
        });
    };
    let Some(stdout) = python_demo_after("--demo", &[], history) else {
        return;
    };
    assert!(stdout.contains("demo ok"), "{stdout}");
    assert!(
        !stdout.contains("Cancelled"),
        "the history was not printed: {stdout}"
    );
}

#[test]
fn the_python_client_takes_a_resting_order_by_its_public_id() {
    let Some(stdout) = python_demo("--take-demo", &[]) else {
        return;
    };
    assert!(stdout.contains("take ok"), "{stdout}");
    // The third-best ask was the seller's third order; nothing traded
    // before the take.
    assert!(
        stdout.contains("take: trade 1: 20 t CEA2025 at 92.00 of order"),
        "{stdout}"
    );
    assert!(stdout.contains("30 t of it still rest"), "{stdout}");
}

/// The Python client's block messages against a real server whose clock
/// starts in CEA block hours (13:30 Beijing time, a Friday).
#[test]
fn the_python_client_negotiates_a_block() {
    let Some(stdout) = python_demo("--block-demo", &["--start-at", "2026-11-27T13:30:00+08:00"])
    else {
        return;
    };
    assert!(stdout.contains("block demo ok"), "{stdout}");
    assert!(
        stdout.contains("trade 1: 100000 t CEA2025 at 90.00"),
        "{stdout}"
    );
}
