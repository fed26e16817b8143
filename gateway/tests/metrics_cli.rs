//! `cetx serve --metrics-listen`: the real binary serves `/metrics` on the
//! address given (no `[metrics]` section needed), with an order counted,
//! and still stops cleanly.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{scrape, ServeProcess};

#[test]
fn serve_with_metrics_listen_counts_an_order() {
    let data = tempfile::tempdir().unwrap();
    let server = ServeProcess::start_with(data.path(), &["--metrics-listen", "127.0.0.1:0"]);
    let metrics = server.metrics.expect("a metrics address");
    let before = scrape(metrics);
    assert!(before.starts_with("HTTP/1.1 200"), "{before}");
    assert!(before.contains("\ncetx_running 1\n"), "{before}");
    // How far the snapshot thread's replica of the engine follows.
    assert!(
        before.contains("\n# TYPE cetx_snapshot_replica_seq gauge\ncetx_snapshot_replica_seq "),
        "{before}"
    );
    assert!(
        before.contains("\ncetx_requests_total{kind=\"order\"} 0\n"),
        "{before}"
    );

    let order = Command::new(env!("CARGO_BIN_EXE_cetx"))
        .args(["order", "--addr", &server.addr.to_string()])
        .args([
            "--broker",
            "1",
            "--secret",
            "demo-secret-1",
            "--account",
            "1001",
        ])
        .args(["--symbol", "CEA2025", "--side", "buy", "--price", "85.00"])
        .args(["--qty", "10", "--tif", "ioc"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cetx order runs");
    let order = common::output_within(order, "cetx order", Duration::from_secs(30));
    assert_eq!(order.status.code(), Some(0));

    let after = scrape(metrics);
    assert!(
        after.contains("\ncetx_requests_total{kind=\"order\"} 1\n"),
        "{after}"
    );
    assert_eq!(server.terminate().code(), Some(0));
}
