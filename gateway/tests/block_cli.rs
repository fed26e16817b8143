//! The README's block walk-through, command by command: `cetx serve` on
//! the embedded demo config with its clock in CEA block hours, demo broker
//! 1 posts a block offer directed at account 2001 with `cetx block post`,
//! demo broker 2 accepts part and then the rest with `cetx block accept`,
//! a `cetx block cancel` of the finished offer is a named refusal (exit
//! 1), and one of an open offer withdraws it (exit 0).

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{output_within, ServeProcess};

fn cetx(addr: &str, broker: &str, secret: &str, args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_cetx"))
        .args(["block", "--addr", addr, "--broker", broker])
        .args(args)
        .env("CETX_SECRET", secret)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cetx runs");
    output_within(child, "cetx block", Duration::from_secs(60))
}

/// Broker 1 offers CEA2025 from account 1001 with `cetx block post`.
fn sell_offer(addr: &str, price: &str, qty: &str, more: &[&str]) -> Output {
    let args = [
        "post",
        "--account",
        "1001",
        "--symbol",
        "CEA2025",
        "--side",
        "sell",
        "--price",
        price,
        "--qty",
        qty,
    ];
    let args: Vec<&str> = args.iter().chain(more).copied().collect();
    cetx(addr, "1", "demo-secret-1", &args)
}

#[test]
fn the_readme_block_walk_through_works_as_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServeProcess::start_with(dir.path(), &["--start-at", "2026-11-27T13:30:00+08:00"]);
    let addr = server.addr.to_string();
    let post = sell_offer(&addr, "90.00", "300000", &["--counterparty", "2001"]);
    let stdout = String::from_utf8_lossy(&post.stdout);
    assert!(
        post.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&post.stderr)
    );
    assert!(
        stdout.contains("block 1 posted: Sell 300000 t CEA2025 at 90.00, directed"),
        "{stdout}"
    );

    let accept = |qty: &str| {
        cetx(
            &addr,
            "2",
            "demo-secret-2",
            &["accept", "--account", "2001", "--block", "1", "--qty", qty],
        )
    };
    let first = accept("100000");
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{stdout}");
    assert!(
        stdout.contains("deal 2: Buy 100000 t CEA2025 at 90.00, traded (trade 1); 200000 t of the offer still open"),
        "{stdout}"
    );
    let rest = accept("200000");
    let stdout = String::from_utf8_lossy(&rest.stdout);
    assert!(rest.status.success(), "{stdout}");
    assert!(stdout.contains("traded (trade 2); 0 t"), "{stdout}");

    let cancel = cetx(
        &addr,
        "1",
        "demo-secret-1",
        &["cancel", "--account", "1001", "--block", "1"],
    );
    let stdout = String::from_utf8_lossy(&cancel.stdout);
    assert_eq!(cancel.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("rejected: 134 unknown block"), "{stdout}");

    // An open offer withdrawn: exit 0, and the offer's end is printed.
    let post = sell_offer(&addr, "91.00", "100000", &[]);
    let stdout = String::from_utf8_lossy(&post.stdout);
    assert!(stdout.contains("block 4 posted"), "{stdout}");
    let cancel = cetx(
        &addr,
        "1",
        "demo-secret-1",
        &["cancel", "--account", "1001", "--block", "4"],
    );
    let stdout = String::from_utf8_lossy(&cancel.stdout);
    assert!(cancel.status.success(), "{stdout}");
    assert!(
        stdout.contains("block 4 ended: 100000 t (withdrawn by its poster)"),
        "{stdout}"
    );
    // Stopped, it says the market time a restart's --start-at goes on
    // from: the demo's clock ran on from 13:30 (a minute is plenty).
    let stopped_at = |server: ServeProcess| {
        let (status, stdout) = server.terminate_with_stdout();
        assert!(status.success(), "{status:?}");
        let last = stdout.last().expect("a line at the stop").clone();
        let at = last
            .strip_prefix("stopped at market time ")
            .and_then(|rest| rest.strip_suffix(" goes on from there"))
            .and_then(|rest| rest.split_once(": --start-at "))
            .filter(|(at, again)| at == again)
            .map(|(at, _)| chrono::DateTime::parse_from_rfc3339(at).expect("RFC 3339"))
            .unwrap_or_else(|| panic!("{stdout:?}"));
        (at, last)
    };
    let (at, last) = stopped_at(server);
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-27T13:30:00+08:00").unwrap();
    assert!(
        at >= start && at < start + chrono::Duration::minutes(1),
        "{last}"
    );
    assert_eq!(at.offset(), start.offset(), "in the offset given: {last}");
    // Started again half an hour earlier, the market stays at its last
    // entry's time until the clock passes it: that is the time to go on
    // from, not the clock's (an outside tester's restart was told the
    // clock's, and would have found the market frozen again).
    let server = ServeProcess::start_with(dir.path(), &["--start-at", "2026-11-27T13:00:00+08:00"]);
    let (again, last) = stopped_at(server);
    assert!(
        again >= start && again <= at,
        "{last}: the last entry's time is between {start} and {at}"
    );
}
