//! The Python feed client (`tests/python/feed_client.py`, standard library
//! only, written from `docs/MARKET_DATA.md`) checks the doc's hex examples,
//! then follows a real `cetx serve`'s feed while the two demo brokers trade
//! a random flow of orders, and compares its books with a fresh snapshot
//! and with the brokers' own reports. Skipped, with a note, where `python3`
//! is not installed. Every wait is bounded.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::{output_within, ServeProcess};

fn python3_missing() -> bool {
    !common::python3_runs("the Python feed client test")
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/feed_client.py")
}

fn spawn(args: &[&str]) -> Child {
    Command::new("python3")
        .arg(script())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3")
}

/// The child's stdout, after asserting it succeeded and printed `needle`.
fn expect_success(output: &Output, what: &str, needle: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(needle),
        "{what}: no {needle:?} in\n{stdout}"
    );
    stdout
}

#[test]
fn the_python_feed_client_matches_the_doc_examples() {
    if python3_missing() {
        return;
    }
    let output = output_within(spawn(&["--selftest"]), "selftest", Duration::from_secs(60));
    let stdout = expect_success(&output, "feed_client.py --selftest", " 0 failed");
    eprintln!("{stdout}");
}

#[test]
fn the_python_feed_client_follows_the_server() {
    if python3_missing() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServeProcess::start(dir.path());
    let broker = server.addr.to_string();
    let feed = server.market_data.to_string();

    // Heartbeats and the 15 s rule, on an instrument nobody trades, while
    // the rest runs.
    let idle = spawn(&["--idle", &feed, "--seconds", "17"]);

    let probe = output_within(spawn(&["--probe", &feed]), "probe", Duration::from_secs(60));
    let stdout = expect_success(&probe, "feed_client.py --probe", " 0 failed");
    eprintln!("{stdout}");

    let check = output_within(
        spawn(&[
            "--check", &broker, &feed, "--orders", "3000", "--seed", "20250314",
        ]),
        "check",
        Duration::from_secs(240),
    );
    let stdout = expect_success(&check, "feed_client.py --check", "feed check ok");
    eprintln!("{stdout}");

    let idle = output_within(idle, "idle", Duration::from_secs(60));
    let stdout = expect_success(&idle, "feed_client.py --idle", "feed idle ok");
    eprintln!("{stdout}");

    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn the_python_feed_client_follows_the_close_of_the_day() {
    if python3_missing() {
        return;
    }
    // The market's clock starts thirty seconds before the day's last close
    // (15:00 exchange time, on a Friday) and runs in real time (`cetx
    // serve` has no clock a test can move): time to start Python, trade
    // and see the orders on the feed, then the close. The script says so
    // and fails, rather than mistaking it, if the close comes first.
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServeProcess::start_with(dir.path(), &["--start-at", "2026-11-27T14:59:30+08:00"]);
    let broker = server.addr.to_string();
    let feed = server.market_data.to_string();
    let close = output_within(
        spawn(&["--close", &broker, &feed]),
        "close",
        Duration::from_secs(150),
    );
    let stdout = expect_success(&close, "feed_client.py --close", "feed close ok");
    eprintln!("{stdout}");
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}
