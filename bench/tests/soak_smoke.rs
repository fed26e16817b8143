//! `cetx-soak` in small: two trading days of a few thousand orders, then
//! a resume from 0 and restarts, also on the kept directory alone. Speed
//! is not asserted.

use std::time::Duration;

use cetx_bench::soak::{self, SoakOptions};
use cetx_gateway::config::Durability;

#[test]
fn two_small_days_are_played_read_back_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let options = SoakOptions {
        days: 2,
        orders_per_day: 3_000,
        durability: Durability::None,
        snapshot_every: Some(2_000),
        seed: 7,
        data_dir: dir.path().to_path_buf(),
        time_limit: Duration::from_secs(120),
        restarts: 2,
    };
    let report = soak::run(&options).unwrap();
    let dates: Vec<u32> = report.days.iter().map(|d| d.trading_date).collect();
    assert_eq!(
        dates,
        [2026_11_30, 2026_12_01],
        "a day each, by the calendar"
    );
    assert!(report
        .days
        .iter()
        .all(|d| d.rss_bytes > 0 && d.orders == 3_000));
    // Every order is answered at least once, and a cancel or a fill adds
    // more: broker 1's history, read back whole, is at least its orders.
    assert!(report.resumed_reports >= 3_000, "{report:?}");
    assert!(report.entries >= 6_000, "{report:?}");
    assert_eq!(report.restart_seconds.len(), 2);

    let (again, rss) = soak::restart_only(&options).unwrap();
    assert_eq!(again.len(), 2);
    assert!(rss > 0);
    // A directory that is not a run's is refused with its reason.
    let empty = tempfile::tempdir().unwrap();
    let other = SoakOptions {
        data_dir: empty.path().to_path_buf(),
        ..options
    };
    let refused = soak::restart_only(&other).unwrap_err();
    assert!(refused.to_string().contains("holds no clock"), "{refused}");
}
