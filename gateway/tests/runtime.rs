//! The runtime as a specification, without sockets: the demo market of the
//! embedded config on real journal files in a temporary directory, a
//! manual clock, and the two demo brokers as sessions would use it
//! (`submit`, `connect`, dropping the subscription to disconnect).
//!
//! Nothing sleeps: each test waits on a subscription for the next frame,
//! with a generous timeout that only a broken runtime reaches.

use cetx_engine::journal::{list_snapshots, JournalReader};
use cetx_engine::{Command, RejectReason};
use cetx_gateway::protocol::{
    ClientMessage, RequestKind, ServerFrame, ServerMessage, Side, RESUME_AFTER_LAST,
};
use cetx_gateway::reports::{gateway_reject, order_rejected};
use cetx_gateway::runtime::{
    Clock, Runtime, RuntimeError, RuntimeHandle, RuntimeOptions, RuntimeStatus, SubmitError,
    Subscription, TryRecvError, JOURNAL_DIR,
};
mod runtime_support;

use runtime_support::{
    accepted_id, cst, demo_config, limit, request, saturday_noon, start, submit, Waiter, B1, B2,
    WAIT,
};

#[test]
fn two_brokers_trade_and_each_gets_its_own_fill() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let clock = Clock::manual(saturday_noon());
    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    let mut s2 = handle.connect(B2, 0).unwrap();
    assert_eq!(
        (s1.last_seq(), s2.last_seq()),
        (0, 0),
        "genesis reports nothing"
    );
    assert_eq!(
        s1.trading_date(),
        2026_11_30,
        "the weekend trades for Monday"
    );

    submit(
        &handle,
        B1,
        limit(1, 1001, "CEA2025", Side::Sell, 90_00, 100),
    );
    let sell = wait.next(&mut s1);
    assert_eq!(sell.seq, 1);
    let sell_id = accepted_id(&sell);
    // Both brokers may use client order id 1: ids are per broker.
    submit(&handle, B2, limit(1, 2001, "CEA2025", Side::Buy, 90_50, 60));
    let buy = wait.next(&mut s2);
    assert_eq!(buy.seq, 1);
    let buy_id = accepted_id(&buy);
    assert!(buy_id > sell_id, "order ids rise with the sequence");

    let fill = |coid, order_id, side, leaves_t, aggressor| ServerMessage::Fill {
        client_order_id: coid,
        order_id,
        trade_id: 1,
        symbol: "CEA2025".into(),
        side,
        price_ticks: 90_00,
        quantity_t: 60,
        leaves_t,
        aggressor,
        time_ns: saturday_noon(),
    };
    assert_eq!(
        wait.next(&mut s2),
        ServerFrame {
            seq: 2,
            message: fill(1, buy_id, Side::Buy, 0, true),
        }
    );
    assert_eq!(
        wait.next(&mut s1),
        ServerFrame {
            seq: 2,
            message: fill(1, sell_id, Side::Sell, 40, false),
        }
    );
    drop((s1, s2));
    runtime.shutdown().unwrap();
}

#[test]
fn the_gateway_refuses_what_a_broker_may_not_do_without_journaling_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let clock = Clock::manual(saturday_noon());
    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    let mut s2 = handle.connect(B2, 0).unwrap();
    let refused = |coid, request, reason| gateway_reject(coid, request, reason);

    // Broker 1 trading for broker 2's account.
    submit(&handle, B1, limit(50, 2001, "CEA2025", Side::Buy, 90_00, 1));
    assert_eq!(
        wait.next(&mut s1),
        refused(50, RequestKind::NewOrder, RejectReason::AccountNotOwned)
    );
    // An account that does not exist gets the same answer.
    submit(&handle, B1, limit(51, 9999, "CEA2025", Side::Buy, 90_00, 1));
    assert_eq!(
        wait.next(&mut s1),
        refused(51, RequestKind::NewOrder, RejectReason::AccountNotOwned)
    );
    // An unknown symbol is refused where the message is parsed, at the
    // session: the runtime never sees it (the TCP test checks the 410).
    assert_eq!(
        cetx_gateway::request::parse(&limit(60, 1001, "CEA2099", Side::Buy, 90_00, 1), |s| config
            .instrument_id(s)),
        Some(Err(cetx_gateway::runtime::Refusal {
            client_order_id: 60,
            kind: cetx_engine::CommandKind::Submit,
            reason: RejectReason::UnknownSymbol,
            bounds: None,
        }))
    );

    // The refusals took no sequence number.
    submit(&handle, B1, limit(7, 1001, "CEA2025", Side::Buy, 85_00, 10));
    let first = wait.next(&mut s1);
    assert_eq!(first.seq, 1);
    accepted_id(&first);
    submit(&handle, B1, limit(7, 1001, "CEA2025", Side::Buy, 85_00, 10));
    assert_eq!(
        wait.next(&mut s1),
        refused(
            7,
            RequestKind::NewOrder,
            RejectReason::DuplicateClientOrderId
        )
    );

    // Broker 2 names broker 1's order by its client order id: it names
    // none of its own.
    submit(&handle, B2, ClientMessage::Cancel { client_order_id: 7 });
    assert_eq!(
        wait.next(&mut s2),
        refused(7, RequestKind::Cancel, RejectReason::UnknownClientOrderId)
    );
    let amend = ClientMessage::Amend {
        client_order_id: 7,
        price_ticks: 86_00,
        quantity_t: 5,
    };
    submit(&handle, B2, amend);
    assert_eq!(
        wait.next(&mut s2),
        refused(7, RequestKind::Amend, RejectReason::UnknownClientOrderId)
    );

    // The engine's own rejects are journaled and numbered.
    submit(&handle, B1, limit(8, 1003, "CEA2025", Side::Buy, 85_00, 1));
    assert_eq!(
        wait.next(&mut s1),
        ServerFrame {
            seq: 2,
            message: ServerMessage::OrderRejected {
                client_order_id: 8,
                request: RequestKind::NewOrder,
                reason: RejectReason::ParticipantNotEligible.code(),
                text: "participant not eligible".into(),
            },
        }
    );
    // The order is untouched by broker 2's attempts.
    submit(&handle, B1, ClientMessage::Cancel { client_order_id: 7 });
    assert!(matches!(
        wait.next(&mut s1),
        ServerFrame {
            seq: 3,
            message: ServerMessage::Cancelled {
                client_order_id: 7,
                cancelled_t: 10,
                cause: 0,
                ..
            }
        }
    ));
    // A session message is no request: the session never passes one on.
    assert_eq!(
        cetx_gateway::request::parse(&ClientMessage::Heartbeat, |s| config.instrument_id(s)),
        None
    );
    drop((s1, s2));
    runtime.shutdown().unwrap();

    // Nothing the gateway refused reached the journal.
    let journal = JournalReader::open(dir.path().join(JOURNAL_DIR)).unwrap();
    let submitted: Vec<u64> = journal
        .map(|entry| entry.unwrap().command)
        .filter_map(|command| match command {
            Command::Submit(order) => Some(order.client_order_id),
            _ => None,
        })
        .collect();
    assert_eq!(submitted, [7, 8]);
}

#[test]
fn a_full_queue_is_answered_busy_and_nothing_taken_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    config.server.queue_capacity = 1;
    let clock = Clock::manual(saturday_noon());
    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();

    // A burst far faster than the engine thread takes requests (built
    // beforehand, so that the loop only sends): each request is sent again
    // until the queue takes it.
    let requests: Vec<_> = (1..=300)
        .map(|coid| {
            (
                coid,
                request(&limit(coid, 1001, "CEA2025", Side::Buy, 85_00, 1)),
            )
        })
        .collect();
    let mut taken = Vec::new();
    let mut busy = 0;
    for (coid, request) in requests {
        loop {
            match handle.submit(B1, request) {
                Ok(()) => break,
                Err(SubmitError::Busy) => busy += 1,
                Err(other) => panic!("unexpected {other}"),
            }
        }
        taken.push(coid);
    }
    assert!(busy > 0, "a queue of one must overflow in a burst");
    assert_eq!(SubmitError::Busy.reject_reason(), RejectReason::ServerBusy);
    // Every request taken is reported once, in order; the refused tries
    // not at all.
    for (i, &coid) in taken.iter().enumerate() {
        let frame = wait.next(&mut s1);
        assert_eq!(frame.seq, i as u64 + 1);
        assert!(matches!(
            frame.message,
            ServerMessage::OrderAccepted { client_order_id, .. } if client_order_id == coid
        ));
    }
    // And nothing else: the next report is the next request's.
    let sentinel = 5_000;
    let started = std::time::Instant::now();
    while handle
        .submit(
            B1,
            request(&limit(sentinel, 1001, "CEA2025", Side::Buy, 85_00, 1)),
        )
        .is_err()
    {
        assert!(
            started.elapsed() < WAIT,
            "the queue never took the sentinel"
        );
        std::thread::yield_now();
    }
    let frame = wait.next(&mut s1);
    assert_eq!(frame.seq, taken.len() as u64 + 1);
    assert!(matches!(
        frame.message,
        ServerMessage::OrderAccepted {
            client_order_id: 5_000,
            ..
        }
    ));
    drop(s1);
    runtime.shutdown().unwrap();
}

#[test]
fn after_a_restart_brokers_resume_with_no_gap_and_no_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    config.journal.snapshot_every = 7;
    let clock = Clock::manual(saturday_noon());
    let wait = Waiter::new();

    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    let mut s1 = handle.connect(B1, 0).unwrap();
    let mut s2 = handle.connect(B2, 0).unwrap();
    // A second connect of the broker takes its subscription over.
    let again = handle.connect(B1, 0).unwrap();
    assert!(s1.taken_over().is_cancelled());
    assert!(!again.taken_over().is_cancelled());
    s1 = again;
    for coid in 1..=3 {
        submit(
            &handle,
            B1,
            limit(coid, 1001, "CEA2024", Side::Sell, 97_00 + coid as i64, 50),
        );
    }
    submit(&handle, B2, limit(1, 2001, "CEA2024", Side::Buy, 97_01, 80));
    // Broker 1: three accepts and a fill; broker 2: an accept and a fill,
    // its remaining 30 t resting.
    let before_1 = wait.take(&mut s1, 4);
    let before_2 = wait.take(&mut s2, 2);
    assert_eq!(
        before_1.iter().map(|f| f.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    // Shut down with the sessions still connected: their orders stay.
    runtime.shutdown().unwrap();
    assert_eq!(
        handle.submit(B1, request(&ClientMessage::Cancel { client_order_id: 1 })),
        Err(SubmitError::Stopped)
    );
    assert_eq!(*handle.status().borrow(), RuntimeStatus::Stopped);
    assert!(!list_snapshots(&dir.path().join(JOURNAL_DIR))
        .unwrap()
        .is_empty());
    drop((s1, s2));

    // Again on the same directory: the same reports, the same numbers.
    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    assert_eq!(
        handle.connect(B1, 5).unwrap_err(),
        RejectReason::ResumeSeqAhead
    );
    let mut s1 = handle.connect(B1, 1).unwrap();
    assert_eq!(s1.last_seq(), 4);
    assert_eq!(s1.take_backlog(), before_1[1..]);
    let mut s2 = handle.connect(B2, 0).unwrap();
    assert_eq!(s2.take_backlog(), before_2);

    // New reports continue the numbering; today's client order ids are
    // remembered across the restart.
    submit(&handle, B1, limit(3, 1001, "CEA2024", Side::Sell, 97_50, 1));
    assert_eq!(
        wait.next(&mut s1),
        gateway_reject(
            3,
            RequestKind::NewOrder,
            RejectReason::DuplicateClientOrderId
        )
    );
    submit(&handle, B1, ClientMessage::Cancel { client_order_id: 3 });
    assert!(matches!(
        wait.next(&mut s1),
        ServerFrame {
            seq: 5,
            message: ServerMessage::Cancelled {
                client_order_id: 3,
                cancelled_t: 50,
                cause: 0,
                ..
            }
        }
    ));
    submit(&handle, B2, ClientMessage::Cancel { client_order_id: 1 });
    assert!(matches!(
        wait.next(&mut s2),
        ServerFrame {
            seq: 3,
            message: ServerMessage::Cancelled {
                client_order_id: 1,
                cancelled_t: 30,
                cause: 0,
                ..
            }
        }
    ));
    drop((s1, s2));
    runtime.shutdown().unwrap();
}

#[test]
fn the_calendar_opens_the_market_and_ends_the_day() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    // Friday 27 November 2026, before the open.
    let clock = Clock::manual(cst(2026, 11, 27, 9, 0));
    let runtime = start(&config, &clock, false);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    assert_eq!(s1.trading_date(), 2026_11_27);

    // Refused before the open by the gateway: unsequenced, not journaled.
    submit(&handle, B1, limit(1, 1001, "CEA2025", Side::Buy, 85_00, 10));
    assert_eq!(
        wait.next(&mut s1),
        ServerFrame {
            seq: 0,
            message: ServerMessage::OrderRejected {
                client_order_id: 1,
                request: RequestKind::NewOrder,
                reason: RejectReason::MarketClosed.code(),
                text: "market closed".into(),
            },
        }
    );

    handle.set_time(cst(2026, 11, 27, 9, 30)).unwrap();
    submit(&handle, B1, limit(2, 1001, "CEA2025", Side::Buy, 85_00, 10));
    let accepted = wait.next(&mut s1);
    assert_eq!(accepted.seq, 1);
    let order_id = accepted_id(&accepted);

    // 15:00: the close, and the day order expires.
    handle.set_time(cst(2026, 11, 27, 15, 0)).unwrap();
    assert_eq!(
        wait.next(&mut s1),
        ServerFrame {
            seq: 2,
            message: ServerMessage::Expired {
                client_order_id: 2,
                order_id,
                expired_t: 10,
            },
        }
    );
    assert_eq!(handle.trading_date(), 2026_11_30);

    // Monday's open: a new day, so client order id 2 is free again.
    handle.set_time(cst(2026, 11, 30, 9, 30)).unwrap();
    submit(&handle, B1, limit(2, 1001, "CEA2025", Side::Buy, 85_00, 10));
    let monday = wait.next(&mut s1);
    assert_eq!(monday.seq, 3);
    assert!(accepted_id(&monday) > order_id);
    drop(s1);
    runtime.shutdown().unwrap();
}

#[test]
fn a_disconnect_cancels_resting_orders_when_the_broker_asks_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    config.brokers[1].cancel_on_disconnect = false;
    let clock = Clock::manual(saturday_noon());
    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    let wait = Waiter::new();

    // Broker 1 (cancel on disconnect) rests a bid and an offer.
    let mut s1 = handle.connect(B1, 0).unwrap();
    submit(&handle, B1, limit(1, 1001, "CEA2025", Side::Buy, 85_00, 10));
    submit(
        &handle,
        B1,
        limit(2, 1001, "CEA2025", Side::Sell, 95_00, 20),
    );
    let ids: Vec<u64> = wait.take(&mut s1, 2).iter().map(accepted_id).collect();
    drop(s1);
    let mut s1 = handle.connect(B1, 2).unwrap();
    let cancelled = |seq, coid, order_id, cancelled_t, cause| ServerFrame {
        seq,
        message: ServerMessage::Cancelled {
            client_order_id: coid,
            order_id,
            cancelled_t,
            cause,
        },
    };
    // Cause 6: cancelled on the disconnect, not at the broker's request.
    assert_eq!(
        wait.take(&mut s1, 2),
        [
            cancelled(3, 1, ids[0], 10, 6),
            cancelled(4, 2, ids[1], 20, 6)
        ]
    );

    // Broker 2 (no cancel on disconnect) finds its order still resting.
    let mut s2 = handle.connect(B2, 0).unwrap();
    submit(&handle, B2, limit(1, 2001, "CEA2025", Side::Buy, 84_00, 5));
    let id = accepted_id(&wait.next(&mut s2));
    drop(s2);
    let mut s2 = handle.connect(B2, 1).unwrap();
    submit(&handle, B2, ClientMessage::Cancel { client_order_id: 1 });
    submit(&handle, B2, limit(2, 2001, "CEA2025", Side::Buy, 84_00, 5));
    let frames = wait.take(&mut s2, 2);
    assert_eq!(frames[0], cancelled(2, 1, id, 5, 0));
    assert_eq!(frames[1].seq, 3);
    accepted_id(&frames[1]);
    assert_eq!(s2.try_recv().unwrap_err(), TryRecvError::Empty);
    drop((s1, s2));
    runtime.shutdown().unwrap();
}

/// A login that waits for its broker's last cancels is refused
/// `ServerBusy` once the runtime fails, not at the end of its limit
/// (PROTOCOL.md, *Logging in*, rule 3): the journal that would record the
/// cancels is gone.
#[test]
fn a_login_waiting_for_cancels_the_journal_cannot_record_is_refused_busy() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let clock = Clock::manual(saturday_noon());
    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    submit(&handle, B1, limit(1, 1001, "CEA2025", Side::Buy, 85_00, 1));
    accepted_id(&wait.next(&mut s1));
    // Moved away: the writer refuses the cancels' commit.
    std::fs::rename(dir.path().join(JOURNAL_DIR), dir.path().join("moved")).unwrap();
    drop(s1);
    let limit = std::time::Duration::from_secs(60);
    let started = std::time::Instant::now();
    let login = wait.0.block_on(handle.login(B1, 0, limit));
    assert_eq!(login.err(), Some(RejectReason::ServerBusy));
    assert!(
        started.elapsed() < limit / 2,
        "the login waited for its limit, not for the failure"
    );
    assert!(handle.failure().is_some());
}

#[test]
fn a_failed_journal_stops_the_engine_and_the_runtime_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    // Small segments, so that the writer soon needs a new file.
    config.journal.segment_bytes = 4_096;
    let clock = Clock::manual(saturday_noon());
    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    // The directory goes: the next segment cannot be created.
    std::fs::remove_dir_all(dir.path().join(JOURNAL_DIR)).unwrap();
    let mut status = handle.status();
    for coid in 1..=10_000 {
        let order = limit(coid, 1001, "CEA2025", Side::Buy, 85_00, 1);
        if handle.submit(B1, request(&order)) == Err(SubmitError::Stopped)
            || handle.failure().is_some()
        {
            break;
        }
    }
    let failed = wait.0.block_on(async {
        tokio::time::timeout(
            WAIT,
            status.wait_for(|s| matches!(s, RuntimeStatus::Failed(_))),
        )
        .await
        .expect("the failure is reported in time")
        .map(|s| s.clone())
    });
    let Ok(RuntimeStatus::Failed(why)) = failed else {
        panic!("expected a failure, got {failed:?}");
    };
    assert!(why.contains("journal"), "{why}");
    // Requests are refused from now on, and the subscription ends after
    // the reports of what was durable.
    assert_eq!(
        handle.submit(B1, request(&limit(1, 1001, "CEA2025", Side::Buy, 85_00, 1))),
        Err(SubmitError::Stopped)
    );
    let ended = wait.0.block_on(async {
        tokio::time::timeout(WAIT, async {
            while let Some(frame) = s1.recv().await {
                assert!(frame.seq > 0);
            }
        })
        .await
    });
    assert!(ended.is_ok(), "the subscription ends");
    assert!(matches!(
        runtime.shutdown(),
        Err(cetx_gateway::runtime::RuntimeError::Journal { .. })
    ));
}

#[test]
fn a_resume_older_than_memory_is_read_back_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    // Memory holds each broker's newest three reports; broker 1's orders
    // rest when it disconnects.
    config.server.recent_reports = 3;
    config.brokers[0].cancel_on_disconnect = false;
    let clock = Clock::manual(saturday_noon());
    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    for coid in 1..=10 {
        submit(
            &handle,
            B1,
            limit(coid, 1001, "CEA2025", Side::Buy, 89_00, 1),
        );
    }
    let sent = wait.take(&mut s1, 10);
    drop(s1);

    // Every resume point: the three newest from memory, older ones read
    // back from the journal; the same frames as were sent live.
    for after in 0..=10 {
        let mut again = handle.connect(B1, after).unwrap();
        assert_eq!(again.last_seq(), 10);
        let got = wait.take(&mut again, 10 - after as usize);
        assert_eq!(got, sent[after as usize..], "after {after}");
        assert_eq!(again.try_recv(), Err(TryRecvError::Empty));
    }

    // A live report follows the read-back history with no gap and no
    // duplicate.
    let mut s1 = handle.connect(B1, 2).unwrap();
    submit(&handle, B1, limit(11, 1001, "CEA2025", Side::Buy, 89_00, 1));
    let got = wait.take(&mut s1, 9);
    assert_eq!(got[..8], sent[2..]);
    assert_eq!(got[8].seq, 11);
    drop(s1);

    // Across a restart: the same numbers and frames.
    runtime.shutdown().unwrap();
    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    let mut s1 = handle.connect(B1, 0).unwrap();
    assert_eq!(s1.last_seq(), 11);
    let all = wait.take(&mut s1, 11);
    assert_eq!(all[..10], sent[..]);
    assert_eq!(all[10], got[8]);
    drop(s1);
    runtime.shutdown().unwrap();
}

/// Broker 1 rests a one-tonne buy for each client order id of `coids`,
/// and reads their reports (nothing else may be journaled meanwhile).
/// Each snapshot due among them (`journal.snapshot_every`) is written
/// before the orders after it go: a snapshot due while the one before is
/// still being written is skipped, and the tests that count snapshots
/// held only while orders came slower than snapshots were written.
fn rest_buys(
    handle: &RuntimeHandle,
    wait: &Waiter,
    session: &mut Subscription,
    coids: std::ops::RangeInclusive<u64>,
    snapshot_every: u64,
) -> Vec<ServerFrame> {
    let coids: Vec<u64> = coids.collect();
    let mut frames = Vec::with_capacity(coids.len());
    // The journal's sequence number of the next order, once one is known
    // (an order's id is its entry's).
    let mut next_seq: Option<u64> = None;
    while frames.len() < coids.len() {
        // Up to the next snapshot's entry; one first, to learn where.
        let chunk = next_seq.map_or(1, |seq| {
            usize::try_from(seq.next_multiple_of(snapshot_every) - seq + 1).unwrap()
        });
        let chunk = &coids[frames.len()..coids.len().min(frames.len() + chunk)];
        for &coid in chunk {
            submit(
                handle,
                B1,
                limit(coid, 1001, "CEA2025", Side::Buy, 89_00, 1),
            );
        }
        frames.extend(wait.take(session, chunk.len()));
        // The first is accepted; those after it follow it in the journal
        // (refused past the account's limit of resting orders, or not).
        let first_seq = accepted_id(&frames[0]);
        let last_seq = first_seq + frames.len() as u64 - 1;
        if last_seq.is_multiple_of(snapshot_every) {
            let started = std::time::Instant::now();
            while handle.stats().snapshots.last_seq < last_seq {
                assert!(started.elapsed() < WAIT, "the snapshot at {last_seq}");
                std::thread::yield_now();
            }
        }
        next_seq = Some(last_seq + 1);
    }
    frames
}

/// Each of broker 1's client order ids `known` is refused as used today,
/// and `new` is taken: its report.
fn known_then_new(
    handle: &RuntimeHandle,
    wait: &Waiter,
    session: &mut Subscription,
    known: &[u64],
    new: u64,
) -> ServerFrame {
    for &coid in known {
        submit(
            handle,
            B1,
            limit(coid, 1001, "CEA2025", Side::Buy, 89_00, 1),
        );
        assert_eq!(
            wait.next(session),
            gateway_reject(
                coid,
                RequestKind::NewOrder,
                RejectReason::DuplicateClientOrderId
            )
        );
    }
    submit(handle, B1, limit(new, 1001, "CEA2025", Side::Buy, 89_00, 1));
    wait.next(session)
}

/// A snapshot is the state after its entry, whoever takes it: each one
/// written, before and after a restart, equals the state of an engine that
/// replayed the journal from its start to that entry. (The snapshot thread
/// takes it from a replica of the engine that follows the journal, across
/// segment rolls and from where a restart left it.)
#[test]
fn every_snapshot_is_the_state_after_its_entry_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    config.journal.snapshot_every = 5;
    config.journal.keep_snapshots = 1_000;
    config.journal.segment_bytes = 4096;
    let clock = Clock::manual(saturday_noon());
    let mut newest = Vec::new();
    for run in 0..2 {
        let runtime = start(&config, &clock, true);
        let handle = runtime.handle();
        let wait = Waiter::new();
        let mut s1 = handle.connect(B1, RESUME_AFTER_LAST).unwrap();
        // Sells rest at rising prices; each buy takes part of the best.
        for k in 1..=20 {
            let coid = run * 100 + k;
            let price = 90_00 + i64::try_from(k).unwrap();
            submit(
                &handle,
                B1,
                limit(coid, 1001, "CEA2025", Side::Sell, price, 10),
            );
            submit(
                &handle,
                B2,
                limit(coid, 2001, "CEA2025", Side::Buy, 91_00, 7),
            );
        }
        // Broker 1's last report comes after every entry before it.
        let last = run * 100 + 99;
        submit(
            &handle,
            B1,
            limit(last, 1001, "CEA2025", Side::Buy, 89_00, 1),
        );
        while !matches!(
            wait.next(&mut s1).message,
            ServerMessage::OrderAccepted { client_order_id, .. } if client_order_id == last
        ) {}
        // A snapshot due while one is written is skipped: on a fast
        // machine the 40 orders above may all come while the first is
        // written. More, one at a time, until this run wrote two.
        let started = std::time::Instant::now();
        for coid in run * 100 + 50.. {
            if handle.stats().snapshots.written >= 2 {
                break;
            }
            assert!(started.elapsed() < WAIT && coid < run * 100 + 99);
            submit(
                &handle,
                B1,
                limit(coid, 1001, "CEA2025", Side::Buy, 89_00, 1),
            );
            accepted_id(&wait.next(&mut s1));
        }
        drop(s1);
        runtime.shutdown().unwrap();
        // The stop waits for the snapshots asked for: none failed.
        let stats = handle.stats().snapshots;
        assert_eq!(stats.failed, 0, "run {run}: {stats:?}");
        assert!(stats.replica_seq >= stats.last_seq, "run {run}: {stats:?}");
        newest.push(stats.last_seq);
    }
    assert!(
        newest[1] > newest[0],
        "snapshots after the restart: {newest:?}"
    );

    let journal_dir = dir.path().join(JOURNAL_DIR);
    let segments = cetx_engine::journal::format::list_segments(&journal_dir).unwrap();
    assert!(segments.len() > 2, "{segments:?}");
    let snapshots = list_snapshots(&journal_dir).unwrap();
    assert!(snapshots.len() >= 4, "{snapshots:?}");
    for (seq, path) in snapshots {
        let (_, state) = cetx_engine::journal::read_snapshot(&path).unwrap();
        let mut engine = cetx_engine::Engine::default();
        let mut reader = JournalReader::open(&journal_dir).unwrap();
        let mut events = Vec::new();
        while let Some((stamp, command)) = reader.next_into(&mut events).unwrap() {
            engine.replay(stamp, &command, &events).unwrap();
            events.clear();
            if stamp.seq == seq {
                break;
            }
        }
        assert!(engine.state() == state, "the snapshot after entry {seq}");
    }
}

#[test]
fn a_restart_reads_only_the_journal_after_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    config.journal.snapshot_every = 60;
    config.journal.segment_bytes = 4096;
    config.brokers[0].cancel_on_disconnect = false;
    let clock = Clock::manual(saturday_noon());
    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    // More orders than a chunk of the day's client order ids (4,096): the
    // later snapshots keep theirs in a day file.
    const N: u64 = 4_300;
    let sent = rest_buys(
        &handle,
        &wait,
        &mut s1,
        1..=N,
        config.journal.snapshot_every,
    );
    drop(s1);
    runtime.shutdown().unwrap();

    // Each kept engine snapshot has the gateway's state beside it. (The
    // first, at seq 60, is always written; a later one may be skipped while
    // the one before is being written.)
    let journal_dir = dir.path().join(JOURNAL_DIR);
    let snapshots = list_snapshots(&journal_dir).unwrap();
    assert!(
        snapshots.len() <= 2,
        "journal.keep_snapshots: {snapshots:?}"
    );
    for (seq, _) in &snapshots {
        assert!(journal_dir.join(format!("gateway-{seq:020}.snap")).exists());
    }
    let named = |prefix: &str| {
        std::fs::read_dir(&journal_dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(prefix)
            })
            .count()
    };
    let gateway_states = named("gateway-");
    // One run, one day: one day file, the older ones' chunks appended.
    assert_eq!(named("orders-"), 1, "the day's client orders in one file");
    assert_eq!(
        gateway_states,
        snapshots.len(),
        "old gateway states go with their snapshots"
    );

    // Move every segment the oldest snapshot covers out of reach: a
    // restart must not need them.
    let oldest = snapshots.last().unwrap().0;
    let archived = cetx_engine::journal::archive_segments(
        &journal_dir,
        std::path::Path::new("../archive"),
        u64::MAX,
    )
    .unwrap();
    assert!(!archived.moved.is_empty(), "{archived:?}");
    assert_eq!(archived.snapshot_limit, Some(oldest));
    std::fs::rename(dir.path().join("archive"), dir.path().join("cold")).unwrap();

    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    // The numbering goes on, and today's client order ids are known.
    let mut s1 = handle.connect(B1, N).unwrap();
    assert_eq!(s1.last_seq(), N);
    // One from the day file's first chunk, one from the snapshot's tail.
    let next = known_then_new(&handle, &wait, &mut s1, &[1, N - 1], N + 1);
    assert_eq!(next.seq, N + 1);
    drop(s1);
    // A resume from the newest reports is served; one that needs the
    // segments put away is refused 419 (nothing is made up), and the
    // session the broker has goes on, not taken over.
    let mut recent = handle.connect(B1, N - 1).unwrap();
    assert_eq!(
        wait.take(&mut recent, 2),
        [sent[N as usize - 1].clone(), next]
    );
    assert_eq!(
        handle.connect(B1, 0).err(),
        Some(RejectReason::HistoryArchived)
    );
    let after = known_then_new(&handle, &wait, &mut recent, &[], N + 2);
    assert_eq!(after.seq, N + 2, "the session it had still serves it");
    drop(recent);
    // A login that asks for no earlier report needs no segment: served,
    // its first report the next one made.
    let mut fresh = handle.connect(B1, RESUME_AFTER_LAST).unwrap();
    assert_eq!(fresh.last_seq(), N + 2);
    let newest = known_then_new(&handle, &wait, &mut fresh, &[], N + 3);
    assert_eq!(newest.seq, N + 3);
    drop(fresh);
    // The earliest resume served is the oldest memory holds (no trading
    // day is marked, and the journal's start is away); one before it is
    // refused.
    let earliest = handle.earliest_resume(B1);
    assert!(earliest > 0 && earliest < N, "{earliest}");
    assert_eq!(
        handle.connect(B1, earliest - 1).err(),
        Some(RejectReason::HistoryArchived)
    );
    let mut served = handle.connect(B1, earliest).unwrap();
    assert_eq!(wait.take(&mut served, 1)[0].seq, earliest + 1);
    drop(served);
    // With the archive back in place, the resume reads it.
    std::fs::rename(dir.path().join("cold"), dir.path().join("archive")).unwrap();
    let mut old = handle.connect(B1, 0).unwrap();
    assert_eq!(wait.take(&mut old, 2), sent[..2]);
    drop(old);
    runtime.shutdown().unwrap();
}

#[test]
fn a_damaged_day_file_sends_a_restart_to_an_older_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    config.journal.snapshot_every = 1_000;
    config.brokers[0].cancel_on_disconnect = false;
    let clock = Clock::manual(saturday_noon());
    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    // The snapshot at seq 5,000 has a full chunk of client order ids (in
    // a day file); the one at 4,000 has not (its log is all in itself).
    const N: u64 = 5_200;
    rest_buys(
        &handle,
        &wait,
        &mut s1,
        1..=N,
        config.journal.snapshot_every,
    );
    drop(s1);
    runtime.shutdown().unwrap();

    let journal_dir = dir.path().join(JOURNAL_DIR);
    let kept: Vec<u64> = list_snapshots(&journal_dir)
        .unwrap()
        .iter()
        .map(|(seq, _)| *seq)
        .collect();
    assert_eq!(kept, [5_000, 4_000], "newest first");
    let day_file = journal_dir.join("orders-00000000000000005000.log");
    // One bit of the first order's client order id (after the 20-byte
    // header, the chunk's length and checksum, the list's length and the
    // broker, fixed-width integers): read as it is, order 1 would be
    // unknown.
    let mut bytes = std::fs::read(&day_file).unwrap();
    assert_eq!(
        bytes[40..48],
        1_u64.to_le_bytes(),
        "order 1's client order id"
    );
    bytes[40] ^= 0x40;
    std::fs::write(&day_file, bytes).unwrap();

    // The server starts from the snapshot at 4,000 and replays the rest:
    // every client order id of the day is still known.
    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    let mut s1 = handle.connect(B1, N).unwrap();
    let next = known_then_new(&handle, &wait, &mut s1, &[1, 4_500, N], N + 1);
    assert_eq!(next.seq, N + 1);
    drop(s1);
    runtime.shutdown().unwrap();
}

/// A market that ran with a journal is not restarted with
/// `durability = "none"`: its fills would be acknowledged and then gone at
/// the next start (an outside tester's case). A fresh directory is fine.
#[test]
fn a_market_with_a_journal_is_not_started_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    let clock = Clock::manual(saturday_noon());
    start(&config, &clock, true).shutdown().unwrap();
    config.journal.durability = cetx_gateway::config::Durability::None;
    let mut options = RuntimeOptions::new(&config.server.data_dir);
    options.clock = clock.clone();
    let refused = Runtime::start(&config, options);
    assert!(
        matches!(refused, Err(RuntimeError::UnjournaledMarket(ref journal)) if journal.starts_with(dir.path())),
        "{:?}",
        refused.err()
    );
    let fresh = tempfile::tempdir().unwrap();
    config.server.data_dir = fresh.path().to_path_buf();
    start(&config, &clock, true).shutdown().unwrap();
}

#[test]
fn without_a_journal_a_resume_older_than_memory_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    config.journal.durability = cetx_gateway::config::Durability::None;
    config.server.recent_reports = 1;
    config.brokers[0].cancel_on_disconnect = false;
    let clock = Clock::manual(saturday_noon());
    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    for coid in 1..=3 {
        submit(
            &handle,
            B1,
            limit(coid, 1001, "CEA2025", Side::Buy, 89_00, 1),
        );
    }
    let sent = wait.take(&mut s1, 3);
    drop(s1);
    // The newest report is in memory.
    let mut newest = handle.connect(B1, 2).unwrap();
    assert_eq!(wait.next(&mut newest), sent[2]);
    drop(newest);
    // Older ones would be read from a journal there is none of.
    let mut old = handle.connect(B1, 0).unwrap();
    let ended = wait
        .0
        .block_on(async { tokio::time::timeout(WAIT, old.recv()).await })
        .expect("an answer in time");
    assert_eq!(ended, None);
    drop(old);
    runtime.shutdown().unwrap();
}

#[test]
fn a_cancel_or_amend_of_a_filled_order_is_answered_live_after_a_restart_and_read_back() {
    // The reports keep only live orders; an answer to a cancel or an amend
    // of an order that is done by then is addressed by the requester the
    // journal carries, the same live, after a restart (from a snapshot
    // taken after the fill) and read back from the journal.
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    config.journal.snapshot_every = 3;
    config.server.recent_reports = 1;
    let clock = Clock::manual(saturday_noon());
    let wait = Waiter::new();
    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    let mut s1 = handle.connect(B1, 0).unwrap();
    let mut s2 = handle.connect(B2, 0).unwrap();
    submit(
        &handle,
        B1,
        limit(7, 1001, "CEA2024", Side::Sell, 97_01, 50),
    );
    submit(&handle, B2, limit(9, 2001, "CEA2024", Side::Buy, 97_01, 50));
    // Accepted and filled, both sides wholly.
    let mut live_1 = wait.take(&mut s1, 2);
    let mut live_2 = wait.take(&mut s2, 2);
    assert!(matches!(
        live_2[1].message,
        ServerMessage::Fill { leaves_t: 0, .. }
    ));
    submit(&handle, B1, ClientMessage::Cancel { client_order_id: 7 });
    submit(
        &handle,
        B2,
        ClientMessage::Amend {
            client_order_id: 9,
            price_ticks: 97_00,
            quantity_t: 10,
        },
    );
    let cancel = wait.next(&mut s1);
    let amend = wait.next(&mut s2);
    assert_eq!(
        cancel,
        ServerFrame {
            seq: 3,
            message: order_rejected(7, RequestKind::Cancel, RejectReason::UnknownOrder),
        }
    );
    assert_eq!(
        amend,
        ServerFrame {
            seq: 3,
            message: order_rejected(9, RequestKind::Amend, RejectReason::UnknownOrder),
        }
    );
    live_1.push(cancel);
    live_2.push(amend);
    // Read back from the journal (memory holds one report each).
    let mut back = handle.connect(B1, 0).unwrap();
    assert_eq!(wait.take(&mut back, 3), live_1);
    drop((back, s2));
    runtime.shutdown().unwrap();

    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    for (broker, live) in [(B1, &live_1), (B2, &live_2)] {
        let mut again = handle.connect(broker, 0).unwrap();
        assert_eq!(again.last_seq(), 3);
        assert_eq!(&wait.take(&mut again, 3), live);
    }
    runtime.shutdown().unwrap();
}

/// A config whose books and blocks together pass what one end of day can
/// journal (`MAX_OPEN_TOTAL`; reviewer 158 F1: the market stopped at its
/// close) refuses a fresh market's start, saying so; nothing journaled.
#[test]
fn a_genesis_past_what_an_end_of_day_can_journal_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    let total = cetx_engine::MAX_OPEN_TOTAL;
    config.instruments[0].max_orders = u32::try_from(total).unwrap();
    let mut options = RuntimeOptions::new(dir.path());
    options.clock = Clock::manual(saturday_noon());
    let error = Runtime::start(&config, options).unwrap_err();
    let said = error.to_string();
    let symbol = &config.instruments[0].symbol;
    assert!(
        said.contains(&format!(
            "the engine refuses the listing of {symbol}: InvalidInstrumentSpec: max_orders plus blocks' max_open of all instruments would be {}, over {total} (code 109); nothing was journaled",
            total + 4_096
        )),
        "{said}"
    );
    // Block rules past it, named by their symbol (tester 164 F4: by the
    // instrument's number).
    let mut config = demo_config(dir.path());
    let others: u64 = config.instruments[1..]
        .iter()
        .map(|spec| u64::from(spec.max_orders) + 4_096)
        .sum();
    config.instruments[0].max_orders = u32::try_from(total - others - 4_096).unwrap();
    config.blocks.retain(|b| b.symbol != *symbol);
    config.blocks.push(cetx_gateway::config::BlockConfig {
        symbol: symbol.clone(),
        enabled: None,
        min_t: None,
        band_bps: None,
        needs_confirmation: None,
        max_open: Some(4_097),
    });
    let mut options = RuntimeOptions::new(dir.path());
    options.clock = Clock::manual(saturday_noon());
    let said = Runtime::start(&config, options).unwrap_err().to_string();
    assert!(
        said.contains(&format!(
            "the engine refuses the block rules of {symbol} ([[blocks]]): InvalidInstrumentSpec: max_orders plus blocks' max_open of all instruments would be {}, over {total}",
            total + 1
        )),
        "{said}"
    );
    // One order that could meet more resting orders than one entry
    // holds trades for (`MAX_FILLS`): refused too.
    let mut config = demo_config(dir.path());
    config.instruments[0].max_orders = 1 << 22;
    config.instruments[0].max_order_t = 1 << 22;
    let mut options = RuntimeOptions::new(dir.path());
    options.clock = Clock::manual(saturday_noon());
    let said = Runtime::start(&config, options).unwrap_err().to_string();
    assert!(
        said.contains(&format!(
            "the engine refuses the listing of {symbol}: InvalidInstrumentSpec: one order of max_order_t could trade with {} resting orders, over {}",
            1 << 22,
            cetx_engine::MAX_FILLS
        )),
        "{said}"
    );
}

/// A fresh market's genesis that the engine refuses (here an account
/// opened twice, past the config's checks) refuses the start, naming the
/// command and the engine's reason, and journals nothing: the calendar and
/// instruments alone would be a market without accounts for the next
/// start, which would then open none of them.
#[test]
fn a_genesis_the_engine_refuses_refuses_the_start_and_journals_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let mut twice = config.clone();
    twice.accounts.push(config.accounts[0].clone());
    let clock = Clock::manual(saturday_noon());
    let refused = || {
        let mut options = RuntimeOptions::new(dir.path());
        options.clock = clock.clone();
        Runtime::start(&twice, options).unwrap_err()
    };
    for _ in 0..2 {
        let error = refused();
        assert!(
            matches!(
                error,
                RuntimeError::DefinitionRefused {
                    reason: RejectReason::AccountExists,
                    ..
                }
            ),
            "{error}"
        );
        let said = error.to_string();
        assert!(
            said.contains("the opening of account 1001 for broker 1")
                && said.contains("AccountExists")
                && said.contains("nothing was journaled"),
            "{said}"
        );
        let entries = JournalReader::open(dir.path().join(JOURNAL_DIR))
            .map(Iterator::count)
            .unwrap_or(0);
        assert_eq!(entries, 0, "nothing is journaled");
    }
    // The config put right, the market starts fresh: every account opened.
    let runtime = start(&config, &clock, false);
    assert_eq!(runtime.accounts_at_start().len(), config.accounts.len());
    runtime.shutdown().unwrap();
}

/// PROTOCOL.md, rule 7: when a new login takes a session over, the rejects
/// the session made for the old connection's requests go to the old
/// connection, also one already let go behind answers the old session had
/// not received yet (those answers are the new connection's replay; the
/// reject, unsequenced, is no one else's). It used to be dropped with them.
#[test]
fn a_takeover_gives_the_old_session_a_reject_let_go_but_not_yet_received() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    config.brokers[0].cancel_on_disconnect = false;
    let runtime = start(&config, &Clock::manual(saturday_noon()), true);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut old = handle.connect(B1, 0).unwrap();
    for coid in 1..=2 {
        submit(
            &handle,
            B1,
            limit(coid, 1001, "CEA2025", Side::Buy, 89_00, 1),
        );
    }
    // The session refuses its third request itself: the reject waits for
    // the answers to the two taken before it.
    let refused = ServerFrame {
        seq: 0,
        message: order_rejected(3, RequestKind::NewOrder, RejectReason::UnknownSymbol),
    };
    assert!(old.reject(refused.clone()));
    // Both answers received: the reject is let go behind them, and waits
    // to be received.
    let answers = wait.take(&mut old, 2);
    assert_eq!(answers.iter().map(|f| f.seq).collect::<Vec<_>>(), [1, 2]);
    let new = handle.connect(B1, 2).unwrap();
    assert!(old.taken_over().is_cancelled());
    assert_eq!(old.take_held_rejects(), [refused]);
    drop((old, new));
    runtime.shutdown().unwrap();
}

/// Tester 153 F1: while the market is closed every refusal is
/// unsequenced, and those the router had delivered to a session that a
/// new login then takes over, not yet received, went to neither
/// connection. They go to the old one, before its 416, as the session's
/// own held rejects do (PROTOCOL.md, rule 7).
#[test]
fn a_takeover_gives_the_old_session_the_refusals_delivered_but_not_yet_received() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    // A Saturday on the calendar: the market is closed.
    let runtime = start(&config, &Clock::manual(saturday_noon()), false);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut old = handle.connect(B1, 0).unwrap();
    let mut two = handle.connect(B2, 0).unwrap();
    for coid in 1..=50 {
        submit(
            &handle,
            B1,
            limit(coid, 1001, "CEA2025", Side::Buy, 89_00, 1),
        );
    }
    // Broker 2's answer comes after broker 1's 50, in the engine's order:
    // once it is received, those are in the old session's channel.
    submit(&handle, B2, limit(1, 2001, "CEA2025", Side::Sell, 95_00, 1));
    assert_eq!(
        wait.next(&mut two),
        order_rejected_frame(1, RejectReason::MarketClosed)
    );
    let new = handle.connect(B1, 0).unwrap();
    assert!(old.taken_over().is_cancelled());
    let held = old.take_held_rejects();
    assert_eq!(
        held,
        (1..=50)
            .map(|coid| order_rejected_frame(coid, RejectReason::MarketClosed))
            .collect::<Vec<_>>()
    );
    drop((old, new, two));
    runtime.shutdown().unwrap();
}

/// An unsequenced `OrderRejected` of a `NewOrder`.
fn order_rejected_frame(client_order_id: u64, reason: RejectReason) -> ServerFrame {
    ServerFrame {
        seq: 0,
        message: order_rejected(client_order_id, RequestKind::NewOrder, reason),
    }
}

/// A reject the session makes goes after the reports the router has
/// delivered to the broker before it, not only after the answers to the
/// broker's own requests: a maker's `Fill` from another broker's order,
/// then a `NewOrder` with an unknown symbol, gave the 410 first (an outside
/// tester, once in 200 tries over TCP; here every time).
#[test]
fn a_reject_comes_after_a_maker_fill_delivered_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let runtime = start(&config, &Clock::manual(saturday_noon()), true);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    let mut s2 = handle.connect(B2, 0).unwrap();
    submit(&handle, B2, limit(1, 2001, "CEA2025", Side::Sell, 90_00, 1));
    assert_eq!(wait.next(&mut s2).seq, 1);
    // Broker 1 takes it, then sends another order: once broker 1 has the
    // answer to that, the router has delivered broker 2's fill, which
    // broker 2's session has not received yet.
    submit(&handle, B1, limit(1, 1001, "CEA2025", Side::Buy, 90_00, 1));
    submit(&handle, B1, limit(2, 1001, "CEA2025", Side::Buy, 89_00, 1));
    assert_eq!(wait.take(&mut s1, 3).len(), 3);
    let refused = ServerFrame {
        seq: 0,
        message: order_rejected(2, RequestKind::NewOrder, RejectReason::UnknownSymbol),
    };
    assert!(s2.reject(refused.clone()));
    let [fill, reject] = <[ServerFrame; 2]>::try_from(wait.take(&mut s2, 2)).unwrap();
    assert!(
        matches!(
            fill.message,
            ServerMessage::Fill {
                aggressor: false,
                ..
            }
        ),
        "{fill:?}"
    );
    assert_eq!(fill.seq, 2);
    assert_eq!(reject, refused);
    drop((s1, s2));
    runtime.shutdown().unwrap();
}

/// The same while the broker's history is read back from the journal: the
/// fill waits behind the history, and the reject behind the fill. It was
/// let go as the history ended, ahead of the live reports delivered
/// before it (an outside reviewer, from the code).
#[test]
fn a_reject_made_while_a_resume_is_read_back_comes_after_a_maker_fill_delivered_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_config(dir.path());
    // Memory holds one report, so a resume from 0 is read back.
    config.server.recent_reports = 1;
    config.brokers[1].cancel_on_disconnect = false;
    let runtime = start(&config, &Clock::manual(saturday_noon()), true);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    let mut s2 = handle.connect(B2, 0).unwrap();
    for coid in 1..=3 {
        submit(
            &handle,
            B2,
            limit(coid, 2001, "CEA2025", Side::Sell, 90_00 + coid as i64, 1),
        );
    }
    let history = wait.take(&mut s2, 3);
    drop(s2);
    // Nothing is received from it until the reject is made, so its history
    // is still being read back then.
    let mut back = handle.connect(B2, 0).unwrap();
    submit(&handle, B1, limit(1, 1001, "CEA2025", Side::Buy, 90_01, 1));
    assert_eq!(wait.take(&mut s1, 2).len(), 2);
    let refused = ServerFrame {
        seq: 0,
        message: order_rejected(4, RequestKind::NewOrder, RejectReason::UnknownSymbol),
    };
    assert!(back.reject(refused.clone()));
    let frames = wait.take(&mut back, 5);
    assert_eq!(frames[..3], history);
    assert!(
        matches!(
            frames[3].message,
            ServerMessage::Fill {
                aggressor: false,
                ..
            }
        ),
        "{frames:?}"
    );
    assert_eq!(frames[3].seq, 4);
    assert_eq!(frames[4], refused);
    drop((s1, back));
    runtime.shutdown().unwrap();
}

/// Reviewer 151 F1: an operator's action reads the clock for its stamp,
/// and the requests behind it in the same turn take that reading, so the
/// calendar's steps due by then must come first. A turn that starts at
/// 14:59:59 (nothing due) and whose operator action is handled once the
/// clock shows 15:00 applies the close before the broker's buy behind it,
/// which is then refused 303, unsequenced. Without the calendar there, the
/// buy was taken in continuous trading, stamped 15:00, and traded at the
/// close's moment, before the close.
///
/// The clock is moved without a wake, as a wall clock moves, while the
/// engine thread lists an instrument with a large book (it fills the id
/// index, some tens of milliseconds): the turn began with the filler at
/// 14:59:59, and the deposit behind the listing reads 15:00. Should the
/// engine thread reach the deposit or the buy before the clock moves (this
/// thread held up for that long), the buy trades stamped before the
/// close, which is right: the test checks only that.
#[test]
fn an_order_behind_an_operators_action_at_the_close_comes_after_the_close() {
    use cetx_engine::{AccountId, InstrumentSpec};
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let close = cst(2026, 11, 27, 15, 0);
    let clock = Clock::manual(close - 1_000_000_000);
    let runtime = start(&config, &clock, false);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    let mut s2 = handle.connect(B2, 0).unwrap();
    submit(
        &handle,
        B1,
        limit(1, 1001, "CEA2025", Side::Sell, 90_00, 100),
    );
    accepted_id(&wait.next(&mut s1));

    let mut spec = InstrumentSpec::cea(2026, rust_decimal::Decimal::new(95_00, 2));
    spec.max_orders = 1 << 22;
    let filler = request(&limit(2, 1001, "CEA2025", Side::Sell, 95_00, 1));
    let buy = request(&limit(1, 2001, "CEA2025", Side::Buy, 90_00, 100));
    handle.submit(B1, filler).unwrap();
    let listed = wait
        .0
        .block_on(handle.admin(9, Command::ListInstrument(Box::new(spec))))
        .unwrap();
    let deposit = Command::Deposit {
        account: AccountId(2001),
        amount_fen: 100,
    };
    let deposited = wait.0.block_on(handle.admin(9, deposit)).unwrap();
    handle.submit(B2, buy).unwrap();
    // The engine thread took the filler (its turn's clock: 14:59:59) and
    // the listing; the deposit is still queued. The wall clock passes
    // 15:00 now.
    while handle.stats().queue_depth > 2 {
        std::hint::spin_loop();
    }
    clock.set(close).unwrap();
    wait.0.block_on(listed).unwrap();
    wait.0.block_on(deposited).unwrap();
    // The buy is behind the clock's 15:00: the calendar's close comes
    // first, and the engine refuses it, unsequenced while closed.
    let answer = wait.next(&mut s2);
    if let ServerMessage::OrderAccepted { .. } = answer.message {
        let fill = wait.next(&mut s2);
        let ServerMessage::Fill { time_ns, .. } = fill.message else {
            panic!("{fill:?}");
        };
        assert!(
            time_ns < close,
            "the buy traded before the close, at the close's time: {answer:?}, then {fill:?}"
        );
        drop(runtime);
        return;
    }
    assert_eq!(
        answer,
        gateway_reject(1, RequestKind::NewOrder, RejectReason::MarketClosed)
    );
    drop(runtime);
}

/// Reviewer 151 F2: the market closed with an offer and an order still
/// open. A server started with `open_market_now` on a Saturday trades in
/// the block hours; restarted without it the same afternoon, the market is
/// closed (the weekend), but no end of day has ended the offer or the
/// order. The engine refuses an `AcceptBlock` of that offer (131) and an
/// `Amend` of the order (303), as often as the broker's throttle allows:
/// while the market is closed such refusals are answered unsequenced and
/// not journaled, so that they cannot grow the journal all weekend.
#[test]
fn an_offer_left_open_while_the_market_is_closed_is_refused_unsequenced() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let clock = Clock::manual(cst(2026, 11, 28, 13, 30));
    let runtime = start(&config, &clock, true);
    let handle = runtime.handle();
    let wait = Waiter::new();
    let mut s1 = handle.connect(B1, 0).unwrap();
    submit(
        &handle,
        B1,
        ClientMessage::PostBlock {
            client_order_id: 1,
            account: 1001,
            symbol: "CEA2025".into(),
            side: Side::Sell,
            price_ticks: 90_00,
            quantity_t: 100_000,
            counterparty: 0,
        },
    );
    let posted = wait.next(&mut s1);
    let ServerMessage::BlockPosted { block_id, .. } = posted.message else {
        panic!("not posted: {posted:?}");
    };
    submit(&handle, B1, limit(2, 1001, "CEA2025", Side::Sell, 95_00, 1));
    accepted_id(&wait.next(&mut s1));
    runtime.shutdown().unwrap();
    drop(s1);

    clock.set(cst(2026, 11, 28, 13, 31)).unwrap();
    let runtime = start(&config, &clock, false);
    let handle = runtime.handle();
    let mut s1 = handle.connect(B1, RESUME_AFTER_LAST).unwrap();
    let mut s2 = handle.connect(B2, RESUME_AFTER_LAST).unwrap();
    for coid in 1..=3 {
        submit(
            &handle,
            B2,
            ClientMessage::AcceptBlock {
                client_order_id: coid,
                account: 2001,
                block_id,
                quantity_t: 100_000,
            },
        );
        submit(
            &handle,
            B1,
            ClientMessage::Amend {
                client_order_id: 2,
                price_ticks: 96_00,
                quantity_t: 1,
            },
        );
    }
    for _ in 1..=3 {
        let frame = wait.next(&mut s2);
        match frame.message {
            ServerMessage::BlockRejected { reason, .. } => {
                assert_eq!(frame.seq, 0, "not journaled");
                assert_eq!(reason, 131);
            }
            ref other => panic!("{other:?}"),
        }
        let frame = wait.next(&mut s1);
        match frame.message {
            ServerMessage::OrderRejected { reason, .. } => {
                assert_eq!(frame.seq, 0, "not journaled");
                assert_eq!(reason, 303);
            }
            ref other => panic!("{other:?}"),
        }
    }
    runtime.shutdown().unwrap();
}
