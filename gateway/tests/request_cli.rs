//! `cetx cancel`, `cetx amend` and `cetx bid` as processes against a real
//! `cetx serve` (an outside tester rehearsing a day from the command line
//! found no way to cancel or amend an order, nor to bid in an auction):
//! each request prints its answer, a refused one exits 1, and a price of
//! 0 or below is refused before anything is sent.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cetx_gateway::runtime::Clock;
use common::{output_within, ServeProcess};

/// `cetx ARGS` as demo broker `broker` at `addr` (words split at spaces),
/// its output once it ends.
fn cetx(addr: &str, broker: u32, args: &str) -> Output {
    let mut words = args.split_whitespace();
    let command = words.next().expect("a command");
    let child = Command::new(env!("CARGO_BIN_EXE_cetx"))
        .args([command, "--addr", addr, "--broker", &broker.to_string()])
        .args(words)
        .env("CETX_SECRET", format!("demo-secret-{broker}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cetx runs");
    output_within(child, args, Duration::from_secs(60))
}

/// Standard output and error together.
fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn an_order_is_amended_and_cancelled_by_its_client_order_id() {
    // Broker 1 keeps its orders when it disconnects: each command's
    // session ends when it does.
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("cetx.toml");
    let keeps = cetx_gateway::config::DEFAULT_TOML.replacen(
        "cancel_on_disconnect = true",
        "cancel_on_disconnect = false",
        1,
    );
    std::fs::write(&config, keeps).unwrap();
    let server = ServeProcess::start_with(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let addr = server.addr.to_string();
    let rested = cetx(
        &addr,
        1,
        "order --account 1001 --symbol CEA2025 --side sell --qty 50 --price 92.00 --client-order-id 77",
    );
    assert!(
        said(&rested).contains("accepted: exchange order")
            && said(&rested).contains("order 77 is cancelled now if it still rests"),
        "{}",
        said(&rested)
    );

    let amended = cetx(
        &addr,
        1,
        "amend --client-order-id 77 --price 92.50 --qty 40",
    );
    assert!(amended.status.success(), "{}", said(&amended));
    assert!(
        said(&amended).contains("amended: 40 t at 92.50, behind those at its price"),
        "{}",
        said(&amended)
    );
    let cancelled = cetx(&addr, 1, "cancel --client-order-id 77");
    assert!(cancelled.status.success(), "{}", said(&cancelled));
    assert!(
        said(&cancelled).contains("cancelled: 40 t (on request"),
        "{}",
        said(&cancelled)
    );
    // Done by now: a second cancel is refused, exit 1, with its code.
    let again = cetx(&addr, 1, "cancel --client-order-id 77");
    assert_eq!(again.status.code(), Some(1), "{}", said(&again));
    assert!(said(&again).contains("rejected: "), "{}", said(&again));
    // A price of 0 or below never leaves the command (exit 2, usage).
    for price in ["-5", "0"] {
        let refused = cetx(
            &addr,
            1,
            &format!("amend --client-order-id 77 --price {price} --qty 40"),
        );
        assert_eq!(refused.status.code(), Some(2), "{}", said(&refused));
        assert!(
            said(&refused).contains("a price is more than 0 CNY"),
            "{}",
            said(&refused)
        );
    }
    assert!(server.terminate().success());
}

#[test]
fn a_bid_is_placed_amended_cancelled_and_its_result_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("cetx.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[admin]\nlisten = \"127.0.0.1:0\"\n\n[[operators]]\nid = 9\nname = \"desk\"\nsecret = \"desk-secret\"\n",
            cetx_gateway::config::DEFAULT_TOML
        ),
    )
    .unwrap();
    let server = ServeProcess::start_with(
        &tmp.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let addr = server.addr.to_string();
    let desk = server
        .banner
        .iter()
        .find_map(|line| line.strip_prefix("operators on "))
        .expect("the banner names the operators' channel")
        .to_owned();
    // Auction 1: 150,000 t of 1001's CEA2025, bidding open from now on
    // for 8 s on the server's clock. This process's quiet clock, which
    // the server started from, runs ahead of the server's by the time the
    // server took to start: the window starts a little before this now.
    let at = |seconds: i64| {
        chrono::DateTime::from_timestamp_nanos(Clock::quiet().now_ns() + seconds * 1_000_000_000)
            .to_rfc3339()
    };
    let (start, end) = (at(-5), at(8));
    let announce = Command::new(env!("CARGO_BIN_EXE_cetx"))
        .args(["admin", "--connect", &desk, "--operator", "9", "announce-auction"])
        .args("--auction-id 1 --symbol CEA2025 --seller 1001 --qty 150000 --floor 85.00 --ceiling 99.00".split_whitespace())
        .args(["--start", &start, "--end", &end])
        .env("CETX_ADMIN_SECRET", "desk-secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cetx admin runs");
    let announced = output_within(announce, "announce-auction", Duration::from_secs(30));
    assert!(announced.status.success(), "{}", said(&announced));

    let placed = cetx(
        &addr,
        2,
        "bid place --account 2001 --auction 1 --price 95.00 --qty 50000 --client-order-id 5",
    );
    assert!(placed.status.success(), "{}", said(&placed));
    assert!(
        said(&placed).contains("bid accepted in auction 1")
            && said(&placed).contains("50000 t at 95.00"),
        "{}",
        said(&placed)
    );
    let amended = cetx(
        &addr,
        2,
        "bid amend --client-order-id 5 --price 96.00 --qty 60000",
    );
    assert!(amended.status.success(), "{}", said(&amended));
    assert!(
        said(&amended).contains("amended, behind those at its price")
            && said(&amended).contains("60000 t at 96.00"),
        "{}",
        said(&amended)
    );
    // A bid outside the floor and ceiling is refused, exit 1.
    let outside = cetx(
        &addr,
        2,
        "bid place --account 2001 --auction 1 --price 80.00 --qty 1000 --client-order-id 6",
    );
    assert_eq!(outside.status.code(), Some(1), "{}", said(&outside));
    assert!(
        said(&outside).contains("bid request rejected: "),
        "{}",
        said(&outside)
    );
    let second = cetx(
        &addr,
        2,
        "bid place --account 2001 --auction 1 --price 90.00 --qty 10000 --client-order-id 7",
    );
    assert!(second.status.success(), "{}", said(&second));
    let withdrawn = cetx(&addr, 2, "bid cancel --client-order-id 7");
    assert!(withdrawn.status.success(), "{}", said(&withdrawn));
    assert!(
        said(&withdrawn).contains("ended: 10000 t (withdrawn)"),
        "{}",
        said(&withdrawn)
    );
    // A third bid waits for the close and prints what it won.
    let waiting = cetx(
        &addr,
        2,
        "bid place --account 2001 --auction 1 --price 93.00 --qty 40000 --client-order-id 8 --wait 30",
    );
    assert!(waiting.status.success(), "{}", said(&waiting));
    assert!(
        said(&waiting).contains("auction 1 (CEA2025) ended: 100000 t sold, 50000 t unsold")
            && said(&waiting).contains("this bid won 40000 t at 93.00"),
        "{}",
        said(&waiting)
    );
    assert!(server.terminate().success());
}
