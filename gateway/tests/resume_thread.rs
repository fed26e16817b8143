//! A resume read back from the journal runs on a thread of its own, at the
//! pace all resumes share (`server.resume_reports_per_s`). When its session
//! ends while the thread waits for its turn, the thread must end too, not
//! sleep out a turn it will never use (a broker that logs in again and
//! again would pile such threads up, and their turns would hold back the
//! resumes that are still read).
//!
//! A binary of its own: it counts the process's resume threads by name,
//! which other tests' resumes would add to.

use std::time::Instant;

use cetx_gateway::protocol::Side;
use cetx_gateway::runtime::Clock;

mod runtime_support;

use runtime_support::{demo_config, limit, saturday_noon, start, submit, Waiter, B1, WAIT};

/// The process's threads named `cetx-resume`.
fn resume_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end() == "cetx-resume")
        .count()
}

#[test]
fn a_resume_whose_session_ends_while_it_waits_for_its_turn_ends_its_thread() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    // Memory holds one report; resumes go at a report a second, so that
    // after the first batch (1,024 reports, at once) the next one's turn
    // is 17 minutes away.
    config.server.recent_reports = 1;
    config.server.resume_reports_per_s = 1;
    config.brokers[0].cancel_on_disconnect = false;
    let runtime = start(&config, &Clock::manual(saturday_noon()), true);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    for coid in 1..=1_100 {
        submit(
            &handle,
            B1,
            limit(coid, 1001, "CEA2025", Side::Buy, 89_00, 1),
        );
    }
    wait.take(&mut s1, 1_100);
    drop(s1);

    let mut back = handle.connect(B1, 0).unwrap();
    assert_eq!(wait.next(&mut back).seq, 1);
    assert_eq!(resume_threads(), 1);
    drop(back);
    let started = Instant::now();
    while resume_threads() > 0 {
        assert!(
            started.elapsed() < WAIT,
            "the resume thread still waits for a turn its session will not use"
        );
        // No timer: the thread's end is the event, looked for between
        // yields until it comes or the wait is over.
        std::thread::yield_now();
    }
    runtime.shutdown().unwrap();
}
