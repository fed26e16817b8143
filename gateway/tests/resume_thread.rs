//! A resume read back from the journal runs on a thread of its own, at the
//! pace all resumes share (`server.resume_reports_per_s`). When its session
//! ends while the thread waits for its turn, the thread must end too, not
//! sleep out a turn it will never use (a broker that logs in again and
//! again would pile such threads up, and their turns would hold back the
//! resumes that are still read).
//!
//! A binary of its own: it counts the process's resume threads by name,
//! which other tests' resumes would add to; its tests take turns
//! ([`ONE_AT_A_TIME`]) for the same reason.

use std::time::Instant;

use cetx_gateway::protocol::{ClientMessage, OrderType, Side, TimeInForce};
use cetx_gateway::runtime::Clock;

mod runtime_support;

use runtime_support::{demo_config, limit, saturday_noon, start, submit, Waiter, B1, B2, WAIT};

/// Held by each test while it runs: each counts every resume thread of
/// the process.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

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
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
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

/// A read-back whose session ends while it reads a long stretch of other
/// brokers' entries stops there, not at the end of the stretch: it looks
/// whether its session is gone every 4,096 entries, not only at its next
/// batch of its broker's reports (an audit: for a broker of few reports
/// that is weeks of journal, read for nobody, by as many threads as
/// logins).
#[test]
fn a_resume_whose_session_ends_stops_reading_others_entries() {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    const STRETCH: u64 = 50_000;
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    // Memory holds one report: broker 1's resume from 0 is read back.
    config.server.recent_reports = 1;
    config.brokers[0].cancel_on_disconnect = false;
    let runtime = start(&config, &Clock::manual(saturday_noon()), true);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    submit(&handle, B1, limit(1, 1001, "CEA2025", Side::Buy, 89_00, 1));
    wait.take(&mut s1, 1);
    drop(s1);
    // Broker 2's IOC buys, with no seller: a journal entry each (and two
    // reports, accepted and cancelled), none of them broker 1's.
    let mut s2 = handle.connect(B2, 0).unwrap();
    for chunk in 0..STRETCH / 5_000 {
        for n in 1..=5_000 {
            let message = ClientMessage::NewOrder {
                client_order_id: chunk * 5_000 + n,
                account: 2001,
                symbol: "CEA2025".into(),
                side: Side::Buy,
                order_type: OrderType::Limit,
                time_in_force: TimeInForce::Ioc,
                price_ticks: 89_00,
                quantity_t: 1,
            };
            submit(&handle, B2, message);
        }
        wait.take(&mut s2, 10_000);
    }
    // Its first report again (from memory), then its second.
    let mut s1 = handle.connect(B1, 0).unwrap();
    submit(&handle, B1, limit(2, 1001, "CEA2025", Side::Buy, 89_00, 1));
    assert_eq!(wait.take(&mut s1, 2)[1].seq, 2);
    drop(s1);
    let read_before = handle.stats().resume_entries_read;

    // Broker 1 resumes from 0 and leaves at once: its read-back reads the
    // day from the start, broker 2's stretch before its second report.
    let back = handle.connect(B1, 0).unwrap();
    drop(back);
    // Done once it has counted what it read (every 4,096 entries, and at
    // its end) and its thread is gone (named once it runs).
    let started = Instant::now();
    let read = loop {
        let read = handle.stats().resume_entries_read - read_before;
        if read > 0 && resume_threads() == 0 {
            break read;
        }
        assert!(started.elapsed() < WAIT, "the resume thread reads on");
        std::thread::yield_now();
    };
    assert!(
        read < STRETCH / 2,
        "{read} entries read back for a session that had ended"
    );
    runtime.shutdown().unwrap();
}
