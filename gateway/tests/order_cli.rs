//! `cetx order` turns bad input into a named error and exit 1, never a
//! panic: a price that overflows the engine's ticks (issue 19 repro) or
//! is not whole fen is refused before anything is sent.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::output_within;

/// `cetx ARGS` as broker 1, its output once it ends.
fn cetx(args: &[&str]) -> std::process::Output {
    common::finish(
        Command::new(env!("CARGO_BIN_EXE_cetx"))
            .args(args)
            .env("CETX_SECRET", "demo-secret-1"),
    )
}

/// `cetx order ARGS` (words split at spaces) at `addr` as demo broker
/// `broker`, with its published secret, its output piped: started, not
/// waited for.
fn spawn_order(addr: &str, broker: u32, args: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_cetx"))
        .args(["order", "--addr", addr, "--broker", &broker.to_string()])
        .args(args.split_whitespace())
        .env("CETX_SECRET", format!("demo-secret-{broker}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cetx runs")
}

#[test]
fn prices_that_do_not_fit_are_named_errors() {
    for (price, said) in [
        ("79228162514264337593543950335", "out of range"),
        ("92233720368547758.08", "out of range"),
        ("90.001", "not a whole number of fen"),
    ] {
        let output = cetx(&[
            "order",
            "--addr",
            "127.0.0.1:9",
            "--broker",
            "1",
            "--account",
            "1001",
            "--symbol",
            "CEA2025",
            "--side",
            "buy",
            "--qty",
            "1",
            "--price",
            price,
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{price}: {stderr}");
        assert!(stderr.contains(said), "{price}: {stderr}");
        assert!(!stderr.contains("panicked"), "{price}: {stderr}");
    }
}

/// A wait of no time, or of more than a day, is refused before anything
/// is sent (an outside
/// tester's `--timeout 0` sent its order, then disowned it: exit 1, "no
/// answer within 0ns", the order accepted all the same), by `cetx order`,
/// `cetx block` and `cetx watch` alike.
#[test]
fn a_timeout_of_zero_is_refused_before_anything_is_sent() {
    for args in [
        &["order", "--addr", "127.0.0.1:9", "--broker", "1"][..],
        &["block", "--addr", "127.0.0.1:9", "--broker", "1", "cancel"][..],
        &["watch", "--feed", "127.0.0.1:9", "CEA2025"][..],
    ] {
        // Nor one past a day (u64::MAX seconds panicked adding it to the
        // clock, after the order was sent).
        for (timeout, said) in [
            ("0", "invalid value '0'"),
            ("86401", "invalid value '86401'"),
        ] {
            let output = cetx(&[args, &["--timeout", timeout]].concat());
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(stderr.contains(said), "{args:?}: {stderr}");
        }
    }
}

/// `cetx order --take`: broker 1 rests a sell (and waits, since the demo
/// brokers cancel on disconnect), broker 2 takes 20 t of it by the
/// exchange order id broker 1 was told; both print their fill.
#[test]
fn a_take_trades_with_the_named_order_at_its_price() {
    use std::io::{BufRead, BufReader};

    let dir = tempfile::tempdir().expect("temp dir");
    let server = common::ServeProcess::start(dir.path());
    let addr = server.addr.to_string();
    let mut seller = spawn_order(
        &addr,
        1,
        "--account 1001 --symbol CEA2025 --side sell --qty 50 --price 92.00 --wait 30",
    );
    let mut lines = BufReader::new(seller.stdout.take().expect("piped")).lines();
    let accepted = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("accepted: exchange order"))
        .expect("the sell is accepted");
    let order_id = accepted
        .split("exchange order ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .expect("an order id");
    let taker = spawn_order(
        &addr,
        2,
        &format!("--account 2001 --symbol CEA2025 --side buy --qty 20 --take {order_id}"),
    );
    let output = output_within(taker, "cetx order --take", Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("sending take"), "{stdout}");
    assert!(
        stdout.contains("Buy 20 t CEA2025 at 92.00 (Limit, Ioc)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("filled: Buy 20 t CEA2025 at 92.00 (trade 1, taker), 0 t still open"),
        "{stdout}"
    );
    let maker_fill = lines
        .map_while(Result::ok)
        .find(|l| l.contains("filled:"))
        .expect("the seller hears its fill");
    assert!(
        maker_fill.contains("Sell 20 t CEA2025 at 92.00 (trade 1, maker), 30 t still open"),
        "{maker_fill}"
    );
    let _ = seller.kill();
    let _ = seller.wait();
    assert!(server.terminate().success());
}

/// A second `cetx order` of the same broker takes the session over and
/// leaves the first one's order in the book, though the demo broker
/// cancels on disconnect (README: a takeover is not a disconnect). An
/// outside tester found the offer gone: `cetx order` logged in twice and
/// closed its first connection in between, which cancelled everything.
/// And the first `cetx order`, whose order was accepted, exits 0 when it
/// is taken over (another tester saw it exit 1 on the 416).
#[test]
fn a_second_order_of_the_broker_leaves_the_first_one_s_in_the_book() {
    use std::io::{BufRead, BufReader};

    let dir = tempfile::tempdir().expect("temp dir");
    let server = common::ServeProcess::start(dir.path());
    let addr = server.addr.to_string();
    // Broker 1 rests a sell, then another from a second `cetx order`; each
    // waits, printing its reports, until it has been accepted.
    let rest = |price: &str| {
        let mut waiting = spawn_order(
            &addr,
            1,
            &format!(
                "--account 1001 --symbol CEA2025 --side sell --qty 50 --price {price} --wait 30"
            ),
        );
        let mut lines = BufReader::new(waiting.stdout.take().expect("piped")).lines();
        let accepted = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("accepted: exchange order"));
        assert!(accepted, "the sell at {price} is accepted");
        (waiting, lines)
    };
    let (mut first, first_lines) = rest("92.00");
    let (mut second, _) = rest("93.00");
    // The first is taken over: it says so and exits 0, its order resting.
    let rest_of_first: Vec<String> = first_lines.map_while(Result::ok).collect();
    assert!(
        rest_of_first
            .iter()
            .any(|l| l.contains("the session ended") && l.contains("416")),
        "{rest_of_first:?}"
    );
    assert!(
        first.wait().expect("it ends").success(),
        "{rest_of_first:?}"
    );
    // The first sell is still there to buy from.
    let buyer = spawn_order(
        &addr,
        2,
        "--account 2001 --symbol CEA2025 --side buy --qty 20 --price 92.00 --tif ioc",
    );
    let output = output_within(buyer, "cetx order", Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("filled: Buy 20 t CEA2025 at 92.00"),
        "{stdout}"
    );
    let _ = second.kill();
    let _ = second.wait();
    assert!(server.terminate().success());
}

/// A trade that takes a holding to its instrument's large-holder
/// threshold is logged as a warning once durable (SETTLEMENT.md,
/// `large_holders`): CEA2025's threshold at 500,500 t, and account 1001,
/// which holds 500,000 t, buys 600 t from 2001.
#[test]
fn a_holding_that_reaches_the_large_holder_threshold_is_warned_about() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = include_str!("../default.toml").replacen(
        "reference_price = \"90.00\"",
        "reference_price = \"90.00\"\nposition_limit_t = 1001000\nlarge_holder_bps = 5000",
        1,
    );
    let config_path = dir.path().join("large.toml");
    std::fs::write(&config_path, config).expect("write the config");
    let config_arg = config_path.to_string_lossy().into_owned();
    let log = dir.path().join("serve.log");
    let server = common::ServeProcess::start_with_logging_to(
        &dir.path().join("data"),
        &["--config", &config_arg],
        &log,
    );
    let addr = server.addr.to_string();
    let order = |broker: u32, account: &str, side: &str| {
        let args = format!("--account {account} --symbol CEA2025 --side {side}");
        spawn_order(
            &addr,
            broker,
            &(args + " --qty 600 --price 90.00 --wait 30"),
        )
    };
    let mut seller = order(2, "2001", "sell");
    let buyer = order(1, "1001", "buy");
    let bought = output_within(buyer, "cetx order (the buy)", Duration::from_secs(30));
    let _ = seller.kill();
    let _ = seller.wait();
    assert!(server.terminate().success());
    let stdout = String::from_utf8_lossy(&bought.stdout);
    assert!(
        stdout.contains("filled: Buy 600 t CEA2025 at 90.00"),
        "{stdout}"
    );
    let said = std::fs::read_to_string(&log).expect("the log");
    let warned: Vec<_> = said
        .lines()
        .filter(|l| l.contains("a holding reached the large-holder threshold"))
        .collect();
    assert_eq!(warned.len(), 1, "{said}");
    for part in [
        "WARN",
        "account=1001",
        "symbol=CEA2025",
        "balance_t=500600",
        "threshold_t=500500",
    ] {
        assert!(warned[0].contains(part), "{part}: {}", warned[0]);
    }
}

/// A time without its offset (an outside tester's `--start-at
/// 2026-12-07T10:00:00` got only "premature end of input") is refused
/// with how to write one, by `cetx serve` and `cetx admin` alike.
#[test]
fn a_time_without_its_offset_says_how_to_write_one() {
    for args in [
        &["serve", "--start-at", "2026-11-27T09:30:00"][..],
        &[
            "admin",
            "--connect",
            "127.0.0.1:9",
            "--operator",
            "9",
            "announce-auction",
            "--auction-id",
            "1",
            "--symbol",
            "CEA2025",
            "--seller",
            "1001",
            "--qty",
            "150000",
            "--floor",
            "85.00",
            "--ceiling",
            "99.00",
            "--start",
            "2026-11-27T09:30:00",
            "--end",
            "2026-11-27T10:30:00+08:00",
        ][..],
    ] {
        let output = cetx(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_ne!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(
            stderr.contains("not an RFC 3339 time with its offset, e.g. 2026-11-27T09:30:00+08:00"),
            "{args:?}: {stderr}"
        );
    }
}
