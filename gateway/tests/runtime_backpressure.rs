//! The runtime under back-pressure: a broker that does not read its
//! reports loses its subscription once more frames wait for it than the
//! subscriber capacity, and nothing else, because it resumes from its
//! history when it connects again; and a journal that cannot keep up makes
//! the engine answer `ServerBusy` to what it cannot record, never take it
//! and lose it.

mod runtime_support;

use cetx_engine::RejectReason;
use cetx_gateway::protocol::{RequestKind, ServerMessage, Side};
use cetx_gateway::runtime::{Clock, Runtime, RuntimeOptions, TryRecvError};
use runtime_support::{demo_config, limit, saturday_noon, start, submit, Waiter, B1, B2};

/// Frames a subscription may hold in this test.
const CAPACITY: usize = 8;
/// Orders broker 1 sends without reading: more than the engine thread
/// takes in one turn (256), so its reports come in more than one batch,
/// and the batches after the first find the channel not empty.
const ORDERS: u64 = 600;

#[test]
fn a_broker_that_does_not_read_loses_its_subscription_not_its_reports() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let mut options = RuntimeOptions::new(&config.server.data_dir);
    options.clock = Clock::manual(saturday_noon());
    options.open_market_now = true;
    options.subscriber_capacity = CAPACITY;
    let runtime = Runtime::start(&config, options).expect("the runtime starts");
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut slow = handle.connect(B1, 0).unwrap();
    let mut other = handle.connect(B2, 0).unwrap();

    for coid in 1..=ORDERS {
        submit(
            &handle,
            B1,
            limit(coid, 1001, "CEA2025", Side::Buy, 85_00, 1),
        );
    }
    // Broker 2's order comes after all of broker 1's, and the router takes
    // them in order: once broker 2 hears of it, broker 1's reports have
    // all been delivered or found no room.
    submit(&handle, B2, limit(1, 2001, "CEA2025", Side::Buy, 84_00, 1));
    let frame = wait.next(&mut other);
    assert!(matches!(
        frame.message,
        ServerMessage::OrderAccepted {
            client_order_id: 1,
            ..
        }
    ));

    // The slow broker finds at most the capacity's worth of its reports
    // (plus one turn's batch into an empty channel), then the end.
    let mut seen = Vec::new();
    loop {
        match slow.try_recv() {
            Ok(frame) => seen.push(frame),
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => panic!(
                "the subscription of a broker {ORDERS} frames behind must be dropped, \
                 not left open; it got {} frames",
                seen.len()
            ),
        }
    }
    // One turn's batch (256 requests, a frame each here) into the empty
    // channel, and batches after it only while they fit the capacity.
    assert!(
        !seen.is_empty() && seen.len() <= CAPACITY + 256,
        "{} frames",
        seen.len()
    );
    let last_seen = seen.last().unwrap().seq;
    drop(slow);

    // Connecting again from the last report it read, it gets every other
    // one, once, in order.
    let mut again = handle.connect(B1, last_seen).unwrap();
    assert_eq!(again.last_seq(), ORDERS);
    let backlog = again.take_backlog();
    let all: Vec<_> = seen.iter().chain(&backlog).collect();
    assert_eq!(all.len(), ORDERS as usize);
    for (i, frame) in all.iter().enumerate() {
        let n = i as u64 + 1;
        assert_eq!(frame.seq, n);
        assert!(
            matches!(
                frame.message,
                ServerMessage::OrderAccepted { client_order_id, .. } if client_order_id == n
            ),
            "{frame:?}"
        );
    }
    drop(again);
    drop(other);
    runtime.shutdown().unwrap();
}

#[test]
fn a_full_journal_queue_is_answered_busy_and_nothing_taken_is_lost() {
    const BURST: u64 = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    // Room for one entry: every request after the first in a turn of the
    // engine loop finds the journal's queue full.
    config.journal.queue_capacity = 1;
    // The orders rest across the restart below: only requests are reported.
    for broker in &mut config.brokers {
        broker.cancel_on_disconnect = false;
    }
    let mut options = RuntimeOptions::new(&config.server.data_dir);
    options.clock = Clock::manual(saturday_noon());
    options.open_market_now = true;
    let runtime = Runtime::start(&config, options).expect("the runtime starts");
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();

    // Far faster than one entry per turn.
    for coid in 1..=BURST {
        submit(
            &handle,
            B1,
            limit(coid, 1001, "CEA2025", Side::Buy, 85_00, 1),
        );
    }
    let (mut accepted, mut busy) = (0, 0);
    let mut last_accepted = 0;
    for _ in 0..BURST {
        let frame = wait.next(&mut s1);
        match frame.message {
            ServerMessage::OrderAccepted {
                client_order_id, ..
            } => {
                accepted += 1;
                // Numbered in order, one report per request taken.
                assert_eq!(frame.seq, accepted);
                assert!(client_order_id > last_accepted);
                last_accepted = client_order_id;
            }
            ServerMessage::OrderRejected {
                request: RequestKind::NewOrder,
                reason,
                ..
            } => {
                assert_eq!(reason, RejectReason::ServerBusy.code());
                assert_eq!(frame.seq, 0, "a busy answer is not journaled");
                busy += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(accepted + busy, BURST);
    assert!(busy > 0, "a queue of one entry must refuse some of a burst");
    assert!(accepted > 0);
    // The journal holds exactly the requests taken: after a restart the
    // broker's history is the accepted reports, nothing more.
    drop(s1);
    runtime.shutdown().unwrap();
    let mut options = RuntimeOptions::new(&config.server.data_dir);
    options.clock = Clock::manual(saturday_noon());
    let runtime = Runtime::start(&config, options).expect("the runtime restarts");
    let again = runtime.handle().connect(B1, 0).unwrap();
    assert_eq!(again.last_seq(), accepted);
    drop(again);
    runtime.shutdown().unwrap();
}

/// A broker that took one large batch of reports into its session and
/// then stops reading holds them in the session, not in the router's
/// channel: they count against its capacity all the same, and show in the
/// metrics' backlog. Before, the router counted only what the channel
/// held, so such a session could hold any number of frames.
#[test]
fn frames_a_session_took_and_did_not_hand_on_count_against_its_capacity() {
    const RESTING: u64 = 40;
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let mut options = RuntimeOptions::new(&config.server.data_dir);
    options.clock = Clock::manual(saturday_noon());
    options.open_market_now = true;
    options.subscriber_capacity = 30;
    let runtime = Runtime::start(&config, options).expect("the runtime starts");
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut slow = handle.connect(B1, 0).unwrap();
    let mut other = handle.connect(B2, 0).unwrap();
    // Broker 1 rests 40 one-tonne buys, reading each answer.
    for coid in 1..=RESTING {
        submit(
            &handle,
            B1,
            limit(coid, 1001, "CEA2025", Side::Buy, 85_00, 1),
        );
        wait.next(&mut slow);
    }
    // One sell fills them all: one entry, 40 fills for broker 1 in one
    // batch, more than its capacity, into an empty channel.
    submit(
        &handle,
        B2,
        limit(1, 2001, "CEA2025", Side::Sell, 85_00, RESTING),
    );
    // Its acceptance and its 40 fills.
    wait.take(&mut other, RESTING as usize + 1);
    // Broker 1's session takes the batch, hands on one frame, and stops.
    assert!(matches!(
        wait.next(&mut slow).message,
        ServerMessage::Fill { .. }
    ));
    assert!(handle.stats().report_backlog_frames >= RESTING - 1);
    // Its next report finds it over its capacity: the subscription goes.
    submit(
        &handle,
        B1,
        limit(RESTING + 1, 1001, "CEA2025", Side::Buy, 84_00, 1),
    );
    // Broker 2's order comes after it, and the router takes them in order.
    submit(&handle, B2, limit(2, 2001, "CEA2025", Side::Buy, 84_00, 1));
    assert!(matches!(
        wait.next(&mut other).message,
        ServerMessage::OrderAccepted {
            client_order_id: 2,
            ..
        }
    ));
    let mut held = 0;
    loop {
        match slow.try_recv() {
            Ok(_) => held += 1,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                panic!("a session holding {held} frames over its capacity of 30 must be dropped")
            }
        }
    }
    assert_eq!(held, RESTING - 1, "what it had taken, and nothing after");
    drop((slow, other));
    runtime.shutdown().unwrap();
}

/// A disconnect that finds the engine's queue full owes its broker's
/// cancels: they are made once the requests queued before it are handled,
/// however full others keep the queue, and the broker's next login waits
/// for them and finds them in its replay. (They once waited for a turn to
/// end on an empty queue: a flood of another broker's requests held them
/// back, and the login was refused 408 after its 5 s.)
#[test]
fn a_disconnect_that_finds_the_queue_full_is_cancelled_while_others_keep_it_full() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use cetx_gateway::protocol::ClientMessage;
    use cetx_gateway::runtime::SubmitError;

    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    // Room for fewer requests than a turn takes (256), which a flood
    // keeps full most of the time (on 2 cores, not every turn: the
    // engine thread finds it empty now and then).
    config.server.queue_capacity = 64;
    let runtime = start(&config, &Clock::manual(saturday_noon()), true);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    submit(&handle, B1, limit(1, 1001, "CEA2025", Side::Buy, 85_00, 1));
    assert!(matches!(
        wait.next(&mut s1).message,
        ServerMessage::OrderAccepted { .. }
    ));

    // Broker 2 keeps the queue full: cancels of an order it never
    // sent, each refused 404 when taken. Bounded in time.
    let (stop, busy) = (AtomicBool::new(false), AtomicU64::new(0));
    let cancel = runtime_support::request(&ClientMessage::Cancel { client_order_id: 9 });
    let again = std::thread::scope(|scope| {
        scope.spawn(|| {
            let until = Instant::now() + Duration::from_secs(30);
            while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                match handle.submit(B2, cancel) {
                    Ok(()) => {}
                    Err(SubmitError::Busy) => {
                        busy.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
        });
        let until = Instant::now() + Duration::from_secs(20);
        while busy.load(Ordering::Relaxed) == 0 {
            assert!(
                Instant::now() < until,
                "the flood never found the queue full"
            );
            std::thread::yield_now();
        }
        // The disconnect finds the queue full (or, rarely, a free slot:
        // then it is queued, and all the same must settle).
        drop(s1);
        let login = wait
            .0
            .block_on(handle.login(B1, 0, Duration::from_secs(10)));
        stop.store(true, Ordering::Relaxed);
        login.map_err(|refused| format!("the owed cancel waited for an empty queue: {refused:?}"))
    });
    let mut again = again.unwrap();
    assert_eq!(again.last_seq(), 2, "the order's acceptance and its cancel");
    let frames = wait.take(&mut again, 2);
    assert!(
        matches!(
            frames[1].message,
            ServerMessage::Cancelled {
                client_order_id: 1,
                ..
            }
        ),
        "{frames:?}"
    );
    drop(again);
    runtime.shutdown().unwrap();
}
