//! `cetx order` turns bad input into a named error and exit 1, never a
//! panic: a price that overflows the engine's ticks (issue 19 repro) or
//! is not whole fen is refused before anything is sent.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::output_within;

#[test]
fn prices_that_do_not_fit_are_named_errors() {
    for (price, said) in [
        ("79228162514264337593543950335", "out of range"),
        ("92233720368547758.08", "out of range"),
        ("90.001", "not a whole number of fen"),
    ] {
        let child = Command::new(env!("CARGO_BIN_EXE_cetx"))
            .args(["order", "--addr", "127.0.0.1:9", "--broker", "1"])
            .args(["--account", "1001", "--symbol", "CEA2025", "--side", "buy"])
            .args(["--qty", "1", "--price", price])
            .env("CETX_SECRET", "demo-secret-1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cetx runs");
        let output = output_within(child, "cetx order", Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{price}: {stderr}");
        assert!(stderr.contains(said), "{price}: {stderr}");
        assert!(!stderr.contains("panicked"), "{price}: {stderr}");
    }
}
