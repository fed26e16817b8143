//! The Python broker client (`tests/python/broker_client.py`, standard
//! library only, written from `docs/PROTOCOL.md`) logs in to a real
//! `cetx serve`, trades between the two demo brokers and reads both
//! fills, and takes a resting order by its public id (a listing-agreement
//! take). Skipped, with a note, where `python3` is not installed.

mod common;

use std::path::Path;
use std::process::Command;

use common::{free_port, ServeProcess};

#[test]
fn the_python_client_trades_with_the_server() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("note: python3 not found; skipping the Python client test");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/broker_client.py");
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServeProcess::start(dir.path(), free_port());
    let output = Command::new("python3")
        .arg(&script)
        .arg("--demo")
        .arg(server.addr.to_string())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python demo failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("demo ok"), "{stdout}");
    assert!(
        stdout.contains("trade 1: 50 t CEA2025 at 90.00"),
        "{stdout}"
    );
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn the_python_client_takes_a_resting_order_by_its_public_id() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("note: python3 not found; skipping the Python client test");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/broker_client.py");
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServeProcess::start(dir.path(), free_port());
    let output = Command::new("python3")
        .arg(&script)
        .arg("--take-demo")
        .arg(server.addr.to_string())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python take demo failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("take ok"), "{stdout}");
    // The third-best ask was the seller's third order; nothing traded
    // before the take.
    assert!(
        stdout.contains("take: trade 1: 20 t CEA2025 at 92.00 of order"),
        "{stdout}"
    );
    assert!(stdout.contains("30 t of it still rest"), "{stdout}");
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

/// The Python client's block messages against a real server whose clock
/// starts in CEA block hours (13:30 Beijing time, a Friday).
#[test]
fn the_python_client_negotiates_a_block() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("note: python3 not found; skipping the Python client test");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/broker_client.py");
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServeProcess::start_with(
        dir.path(),
        free_port(),
        &["--start-at", "2026-11-27T13:30:00+08:00"],
    );
    let output = Command::new("python3")
        .arg(&script)
        .arg("--block-demo")
        .arg(server.addr.to_string())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python block demo failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("block demo ok"), "{stdout}");
    assert!(
        stdout.contains("trade 1: 100000 t CEA2025 at 90.00"),
        "{stdout}"
    );
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}
