//! A journal is input: a registry replays journals it is handed, and a
//! checksum proves only that the bytes were not damaged on the way. An
//! entry whose checksums hold but whose events cannot be true (a reference
//! price of zero or of 10^15, absurd quantities, unknown accounts, balances
//! that do not add up) is refused as corruption by recovery and by `cetx
//! replay` (exit 3), naming the file, the offset and the sequence number:
//! never a panic, never an allocation beyond what the config allows.
//!
//! The table writes each hostile entry after a small legitimate market with
//! the real writer, so every checksum holds. The mutation test then
//! overwrites bytes of the encoded events of a longer journal at random
//! and replays each result in memory: whatever decodes either replays to a
//! state that keeps every invariant or is refused.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use cetx_engine::journal::{
    decode_event, encode_event, recover, Durability, JournalConfig, RecoverError,
};
use cetx_engine::settlement::{exit, run, Format, ReplayArgs};
use cetx_engine::{
    Accepted, AccountId, AccountOpened, Amended, BrokerId, CancelCause, Cancelled, CashMoved,
    Command, DayClosed, DayStarted, Engine, EngineConfig, Event, HoldingsMoved, InstrumentId,
    InstrumentSpec, JournalEntry, JournalError, JournalWriter, NewOrder, OrderId, OrderType,
    ParticipantType, Phase, PhaseChanged, ReferencePriceSet, Side, Stamp, TimeInForce, Trade,
};
use rust_decimal::Decimal;

const CEA: InstrumentId = InstrumentId(0);
const BUYER: AccountId = AccountId(1);
const SELLER: AccountId = AccountId(2);

fn config() -> EngineConfig {
    let mut spec = InstrumentSpec::cea(2025, Decimal::new(90_00, 2));
    spec.max_orders = 64;
    EngineConfig {
        instruments: vec![spec],
    }
}

fn order(
    order_id: u64,
    account: AccountId,
    side: Side,
    price_ticks: i64,
    quantity_t: u64,
) -> Command {
    Command::Submit(NewOrder {
        order_id: OrderId(order_id),
        account,
        instrument: CEA,
        side,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        price_ticks,
        quantity_t,
        client_order_id: order_id,
    })
}

/// A market opened by the live engine: a buyer with cash, a seller with
/// allowances, continuous trading, and the seller's order 1 resting (100 t
/// at 90.00). Then `more`, applied the same way.
fn market(more: &[Command]) -> Vec<JournalEntry> {
    let mut commands = vec![
        Command::ListInstrument(Box::new(config().instruments[0].clone())),
        Command::OpenAccount {
            account: BUYER,
            participant: ParticipantType::ComplianceEntity,
            broker: BrokerId(1),
        },
        Command::OpenAccount {
            account: SELLER,
            participant: ParticipantType::ComplianceEntity,
            broker: BrokerId(2),
        },
        Command::Deposit {
            account: BUYER,
            amount_fen: 10_000_000_000,
        },
        Command::CreditHoldings {
            account: SELLER,
            instrument: CEA,
            quantity_t: 10_000,
        },
        Command::SetPhase {
            instrument: CEA,
            phase: Phase::Continuous,
        },
        order(1, SELLER, Side::Sell, 90_00, 100),
    ];
    commands.extend_from_slice(more);
    let mut engine = Engine::default();
    let mut entries = Vec::new();
    for (i, command) in commands.into_iter().enumerate() {
        let stamp = Stamp {
            seq: i as u64 + 1,
            time_ns: 1_795_743_000_000_000_000 + i as i64 * 1_000,
        };
        let mut events = Vec::new();
        engine.apply(&command, stamp, &mut events);
        assert!(
            !events.iter().any(|e| matches!(e, Event::Rejected(_))),
            "{command:?}: {events:?}"
        );
        entries.push(JournalEntry {
            stamp,
            command,
            events,
            operator: None,
        });
    }
    entries
}

fn write(dir: &Path, entries: &[JournalEntry]) {
    let config = JournalConfig {
        durability: Durability::Os,
        preallocate: false,
        segment_bytes: 1 << 16,
        ..JournalConfig::default()
    };
    let writer = JournalWriter::open(dir, 1, config).unwrap();
    for e in entries {
        writer
            .append_blocking(e.stamp, &e.command, &e.events)
            .unwrap();
    }
    writer.close().unwrap();
}

fn replay_args(journal: &Path) -> ReplayArgs {
    ReplayArgs {
        journal: journal.to_path_buf(),
        expected: None,
        day: None,
        from_seq: 0,
        out: None,
        format: Format::Csv,
        follow: false,
        from_snapshot: false,
        now_ns: None,
    }
}

/// The end of day's cancel of the resting order 1 (the entries below are
/// all the end of day's).
fn cancel_order_1() -> Event {
    Event::Cancelled(Cancelled {
        order_id: OrderId(1),
        account: SELLER,
        instrument: CEA,
        side: Side::Sell,
        cancelled_t: 100,
        cause: CancelCause::Expired,
    })
}

/// [`cancel_order_1`], changed.
fn cancel_order_1_but(change: impl FnOnce(&mut Cancelled)) -> Event {
    let Event::Cancelled(mut cancelled) = cancel_order_1() else {
        unreachable!()
    };
    change(&mut cancelled);
    Event::Cancelled(cancelled)
}

fn reference(price_ticks: i64, floor_ticks: i64, ceiling_ticks: i64) -> Event {
    Event::ReferencePriceSet(ReferencePriceSet {
        instrument: CEA,
        price_ticks,
        floor_ticks,
        ceiling_ticks,
    })
}

fn accepted(
    order_id: u64,
    account: AccountId,
    side: Side,
    price_ticks: i64,
    quantity_t: u64,
) -> Event {
    Event::Accepted(Accepted {
        order_id: OrderId(order_id),
        account,
        instrument: CEA,
        side,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        price_ticks,
        quantity_t,
    })
}

/// The time of the hostile entry, seq 8.
const ENTRY_TIME_NS: i64 = 1_795_743_001_000_000_000;

fn trade(
    quantity_t: u64,
    aggressor: Side,
    taker_account: AccountId,
    taker_remaining_t: u64,
) -> Event {
    Event::Trade(Trade {
        trade_id: 1,
        seq: 8,
        time_ns: ENTRY_TIME_NS,
        instrument: CEA,
        price_ticks: 90_00,
        quantity_t,
        aggressor,
        maker_order_id: OrderId(1),
        maker_account: SELLER,
        maker_remaining_t: 100u64.wrapping_sub(quantity_t),
        taker_order_id: OrderId(2),
        taker_account,
        taker_remaining_t,
    })
}

/// `trade` with the seq and time it repeats set to these.
fn stamped(trade: Event, seq: u64, time_ns: i64) -> Event {
    match trade {
        Event::Trade(t) => Event::Trade(Trade { seq, time_ns, ..t }),
        other => other,
    }
}

fn cash(account: AccountId, amount_fen: i64, cash_fen: i64) -> CashMoved {
    CashMoved {
        account,
        amount_fen,
        cash_fen,
    }
}

fn holdings(account: AccountId, quantity_t: u64, balance_t: u64) -> HoldingsMoved {
    HoldingsMoved {
        account,
        instrument: CEA,
        quantity_t,
        balance_t,
    }
}

fn amended(quantity_t: u64, price_ticks: i64, priority_kept: bool) -> Event {
    Event::Amended(Amended {
        order_id: OrderId(1),
        account: SELLER,
        instrument: CEA,
        side: Side::Sell,
        price_ticks,
        quantity_t,
        priority_kept,
    })
}

/// Entry 7's events, each of which cannot be true after [`market`].
fn hostile_entries() -> Vec<(&'static str, Vec<Event>)> {
    let buy = |q| accepted(2, BUYER, Side::Buy, 90_00, q);
    vec![
        (
            "a reference price of zero",
            vec![cancel_order_1(), reference(0, 0, 0)],
        ),
        (
            "a negative reference price",
            vec![cancel_order_1(), reference(-90_00, -99_00, -81_00)],
        ),
        (
            "a reference price of 10^15 ticks (a 4.8 PB ladder)",
            vec![
                cancel_order_1(),
                reference(
                    1_000_000_000_000_000,
                    900_000_000_000_000,
                    1_100_000_000_000_000,
                ),
            ],
        ),
        (
            "a reference price of i64::MAX",
            vec![cancel_order_1(), reference(i64::MAX, 0, i64::MAX)],
        ),
        (
            "a band that is not the reference's",
            vec![cancel_order_1(), reference(90_00, 1, i64::MAX)],
        ),
        (
            "a reference that moves under resting orders",
            vec![reference(95_00, 85_50, 104_50)],
        ),
        (
            "a cancel that names another account than the order's",
            vec![cancel_order_1_but(|c| c.account = BUYER)],
        ),
        (
            "a cancel of the other side than the order's",
            vec![cancel_order_1_but(|c| c.side = Side::Buy)],
        ),
        (
            "an end of day's cancel with a broker's cause",
            vec![cancel_order_1_but(|c| c.cause = CancelCause::Requested)],
        ),
        (
            "an end of day's cancel with a disconnect's cause",
            vec![cancel_order_1_but(|c| c.cause = CancelCause::Disconnected)],
        ),
        ("an order of 10^18 t", vec![buy(1_000_000_000_000_000_000)]),
        ("an order of zero tonnes", vec![buy(0)]),
        (
            "an order priced at zero",
            vec![accepted(2, BUYER, Side::Buy, 0, 10)],
        ),
        (
            "an order priced at i64::MIN",
            vec![accepted(2, BUYER, Side::Buy, i64::MIN, 10)],
        ),
        (
            "an order of an unknown account",
            vec![accepted(2, AccountId(99), Side::Buy, 90_00, 10)],
        ),
        (
            "an order of an unknown instrument",
            vec![Event::Accepted(Accepted {
                instrument: InstrumentId(500),
                ..match buy(10) {
                    Event::Accepted(a) => a,
                    _ => unreachable!(),
                }
            })],
        ),
        (
            "an order id that is not new",
            vec![accepted(1, BUYER, Side::Buy, 90_00, 10)],
        ),
        (
            "a buy without the cash",
            vec![accepted(2, SELLER, Side::Buy, 90_00, 10)],
        ),
        (
            "a sell without the allowances",
            vec![accepted(2, BUYER, Side::Sell, 90_00, 10)],
        ),
        (
            "a trade that says another entry's seq",
            vec![
                buy(10),
                stamped(trade(10, Side::Buy, BUYER, 0), 7, ENTRY_TIME_NS),
            ],
        ),
        (
            "a trade that says another time than its entry's",
            vec![
                buy(10),
                stamped(trade(10, Side::Buy, BUYER, 0), 8, ENTRY_TIME_NS + 1),
            ],
        ),
        (
            "a trade without an incoming order",
            vec![trade(10, Side::Buy, BUYER, 0)],
        ),
        (
            "a trade larger than the maker",
            vec![buy(1_000), trade(1_000, Side::Buy, BUYER, 0)],
        ),
        (
            "a trade larger than the taker",
            vec![buy(10), trade(50, Side::Buy, BUYER, 0)],
        ),
        (
            "a trade with the wrong aggressor",
            vec![buy(10), trade(10, Side::Sell, BUYER, 0)],
        ),
        (
            "a trade naming another taker account",
            vec![buy(10), trade(10, Side::Buy, SELLER, 0)],
        ),
        (
            "a cancel of an unknown order",
            vec![Event::Cancelled(Cancelled {
                order_id: OrderId(42),
                ..match cancel_order_1() {
                    Event::Cancelled(c) => c,
                    _ => unreachable!(),
                }
            })],
        ),
        (
            "a cancel of more than rests",
            vec![Event::Cancelled(Cancelled {
                cancelled_t: u64::MAX,
                ..match cancel_order_1() {
                    Event::Cancelled(c) => c,
                    _ => unreachable!(),
                }
            })],
        ),
        ("an amend to zero tonnes", vec![amended(0, 90_00, true)]),
        (
            "an amend that grows and keeps its place",
            vec![amended(200, 90_00, true)],
        ),
        (
            "an amend to 10^18 t",
            vec![amended(1_000_000_000_000_000_000, 90_00, false)],
        ),
        (
            "an amend outside the band",
            vec![amended(100, 1_000_00, false)],
        ),
        (
            "a deposit that overflows",
            vec![Event::CashDeposited(cash(BUYER, i64::MAX, i64::MAX))],
        ),
        (
            "a deposit that does not add up",
            vec![Event::CashDeposited(cash(BUYER, 1, 5))],
        ),
        (
            "a negative deposit",
            vec![Event::CashDeposited(cash(BUYER, -1, 9_999_999_999))],
        ),
        (
            "a withdrawal beyond the cash",
            vec![Event::CashWithdrawn(cash(
                BUYER,
                20_000_000_000,
                -10_000_000_000,
            ))],
        ),
        (
            "cash for an unknown account",
            vec![Event::CashDeposited(cash(AccountId(99), 1, 1))],
        ),
        (
            "a credit that overflows",
            vec![Event::HoldingsCredited(holdings(
                SELLER,
                u64::MAX,
                u64::MAX,
            ))],
        ),
        (
            "a credit that does not add up",
            vec![Event::HoldingsCredited(holdings(SELLER, 1, 1))],
        ),
        (
            "a debit of reserved allowances",
            vec![Event::HoldingsDebited(holdings(SELLER, 10_000, 0))],
        ),
        (
            "a debit below zero",
            vec![Event::HoldingsDebited(holdings(BUYER, 1, u64::MAX))],
        ),
        (
            "an account opened twice",
            vec![Event::AccountOpened(AccountOpened {
                account: BUYER,
                participant: ParticipantType::Institution,
                broker: BrokerId(2),
            })],
        ),
        (
            "a phase of an unknown instrument",
            vec![Event::PhaseChanged(PhaseChanged {
                instrument: InstrumentId(500),
                phase: Phase::Closed,
            })],
        ),
        (
            "a trading day from far ahead",
            vec![Event::DayStarted(DayStarted {
                trading_day: u32::MAX,
            })],
        ),
        (
            "a day that starts twice",
            vec![Event::DayStarted(DayStarted { trading_day: 0 })],
        ),
        (
            "a close its trades do not make",
            vec![Event::DayClosed(DayClosed {
                trading_day: 0,
                instrument: CEA,
                open_ticks: 1,
                high_ticks: i64::MAX,
                low_ticks: i64::MIN,
                close_ticks: 1_000_000_000_000_000,
                volume_t: u64::MAX,
                turnover_fen: i64::MAX,
                trade_count: 7,
            })],
        ),
    ]
}

#[test]
fn the_market_itself_recovers_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &market(&[]));
    let recovered = recover(dir.path()).unwrap();
    assert_eq!(recovered.next_seq, 8);
    let summary = run(
        &replay_args(dir.path()),
        &mut Vec::new(),
        &mut Vec::new(),
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(summary.last_seq, 7);
}

#[test]
fn hostile_entries_with_good_checksums_are_corruption() {
    for (what, events) in hostile_entries() {
        let mut entries = market(&[]);
        entries.push(JournalEntry {
            stamp: Stamp {
                seq: 8,
                time_ns: ENTRY_TIME_NS,
            },
            command: Command::EndOfDay { trading_date: None },
            events,
            operator: None,
        });
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &entries);

        match recover(dir.path()) {
            Err(RecoverError::Journal(JournalError::Corrupt {
                file,
                offset,
                seq,
                reason,
            })) => {
                assert_eq!(seq, 8, "{what}: {reason}");
                assert!(offset > 0, "{what}: {reason}");
                assert!(file.to_string_lossy().contains("journal-"), "{what}");
                assert!(reason.contains("does not replay"), "{what}: {reason}");
            }
            other => panic!("{what}: recovery gave {other:?}"),
        }

        let failure = run(
            &replay_args(dir.path()),
            &mut Vec::new(),
            &mut Vec::new(),
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .unwrap_err();
        assert_eq!(failure.exit_code(), exit::CORRUPT, "{what}: {failure}");
        let message = failure.to_string();
        for word in ["journal-", "offset", "(seq 8)"] {
            assert!(message.contains(word), "{what}: {message}");
        }
        // A listed instrument is named by its symbol, as the reports name
        // it (an outside registry saw only the engine's numbers).
        let names_it = [
            "a close its trades do not make",
            "a band that is not the reference's",
            "a reference that moves under resting orders",
        ];
        if names_it.contains(&what) {
            assert!(
                message.contains("CEA2025 (instrument 0)"),
                "{what}: {message}"
            );
        }
    }
}

/// A deposit, a withdrawal or a transfer moves what its command asks:
/// events that add up but move another amount, or for another account,
/// cannot come from that command (registries settle from the events, and
/// the command is what the bank or registry sent).
#[test]
fn cash_and_allowances_move_as_their_command_asks() {
    let transfer = |amount| {
        Command::Transfer(Box::new(cetx_engine::Transfer {
            reference: "BANK-1".into(),
            account: BUYER,
            asset: cetx_engine::Asset::Cash,
            direction: cetx_engine::Direction::In,
            amount,
        }))
    };
    let deposit = |amount_fen| Command::Deposit {
        account: BUYER,
        amount_fen,
    };
    let cash_after = 10_000_000_000;
    let cases = [
        (
            "a transfer of 100 fen that deposits 200",
            transfer(100),
            vec![Event::CashDeposited(cash(BUYER, 200, cash_after + 200))],
        ),
        (
            "a deposit of 100 fen that deposits 200",
            deposit(100),
            vec![Event::CashDeposited(cash(BUYER, 200, cash_after + 200))],
        ),
        (
            "a deposit for the buyer that goes to the seller",
            deposit(100),
            vec![Event::CashDeposited(cash(SELLER, 100, 100))],
        ),
        (
            "a deposit that withdraws",
            deposit(100),
            vec![Event::CashWithdrawn(cash(BUYER, 100, cash_after - 100))],
        ),
        ("a transfer that moves nothing", transfer(100), vec![]),
    ];
    for (what, command, events) in cases {
        let mut entries = market(&[]);
        entries.push(JournalEntry {
            stamp: Stamp {
                seq: 8,
                time_ns: ENTRY_TIME_NS,
            },
            command,
            events,
            operator: None,
        });
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &entries);
        match recover(dir.path()) {
            Err(RecoverError::Journal(JournalError::Corrupt { seq, reason, .. })) => {
                assert_eq!(seq, 8, "{what}: {reason}");
                assert!(reason.contains("but its events move"), "{what}: {reason}");
            }
            other => panic!("{what}: recovery gave {:?}", other.map(|r| r.next_seq)),
        }
    }
    // The same, told truly, replays.
    let mut entries = market(&[]);
    entries.push(JournalEntry {
        stamp: Stamp {
            seq: 8,
            time_ns: ENTRY_TIME_NS,
        },
        command: transfer(100),
        events: vec![Event::CashDeposited(cash(BUYER, 100, cash_after + 100))],
        operator: None,
    });
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &entries);
    assert_eq!(recover(dir.path()).unwrap().next_seq, 9);
}

/// Ends of day name the dates they close, and those rise: an end of day
/// that closes a date already closed (or an earlier one) cannot be true,
/// and is corruption like any other.
#[test]
fn an_end_of_day_that_closes_a_closed_date_again_is_corruption() {
    let dated = |date| Command::EndOfDay {
        trading_date: Some(date),
    };
    // The live engine journals what it is given; replay checks the dates.
    for second in [2026_11_27, 2026_11_26] {
        let entries = market(&[dated(2026_11_27), dated(second)]);
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &entries);
        match recover(dir.path()) {
            Err(RecoverError::Journal(JournalError::Corrupt { seq, reason, .. })) => {
                assert_eq!(seq, 9, "{reason}");
                assert!(
                    reason.contains(&format!("end of day closes {second}, not after 20261127")),
                    "{reason}"
                );
            }
            other => panic!("recovery gave {other:?}"),
        }
    }
    // Rising dates replay, and the engine knows the last one.
    let entries = market(&[dated(2026_11_26), dated(2026_11_27)]);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &entries);
    let recovered = recover(dir.path()).unwrap();
    assert_eq!(recovered.engine.closed_date(), Some(2026_11_27));
}

/// A small, fixed pseudo-random generator (xorshift64*), so a failure
/// reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Values that break arithmetic and allocations, as 8 little-endian bytes.
const HOSTILE: [u64; 10] = [
    0,
    1,
    u64::MAX,
    i64::MAX as u64,
    i64::MIN as u64,
    1_000_000_000_000_000,
    u32::MAX as u64,
    99_999,
    100_000,
    9_000,
];

#[test]
fn random_hostile_bytes_in_events_replay_or_are_refused() {
    let entries = market(&[
        order(2, BUYER, Side::Buy, 90_10, 150),
        Command::Amend {
            instrument: CEA,
            order_id: OrderId(2),
            price_ticks: 90_10,
            quantity_t: 20,
            requester: None,
        },
        order(3, SELLER, Side::Sell, 89_00, 30),
        Command::Withdraw {
            account: BUYER,
            amount_fen: 1_000,
        },
        Command::DebitHoldings {
            account: SELLER,
            instrument: CEA,
            quantity_t: 5,
        },
        Command::EndOfDay { trading_date: None },
        Command::SetPhase {
            instrument: CEA,
            phase: Phase::Continuous,
        },
        order(4, SELLER, Side::Sell, 89_50, 10),
        order(5, BUYER, Side::Buy, 89_50, 10),
    ]);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut replayed, mut refused) = (0, 0);
    for _ in 0..3_000 {
        let mut mutated = entries.clone();
        let entry = &mut mutated[rng.below(entries.len())];
        if entry.events.is_empty() {
            continue;
        }
        let at = rng.below(entry.events.len());
        let mut bytes = Vec::new();
        encode_event(&entry.events[at], &mut bytes);
        let value = HOSTILE[rng.below(HOSTILE.len())].to_le_bytes();
        let start = rng.below(bytes.len());
        let width = 1 + rng.below(8);
        for (i, byte) in value.iter().take(width).enumerate() {
            if let Some(b) = bytes.get_mut(start + i) {
                *b = *byte;
            }
        }
        // What does not decode is the codec's to refuse, and it does.
        let Ok(event) = decode_event(&bytes) else {
            continue;
        };
        entry.events[at] = event;
        let mut engine = Engine::default();
        let outcome = mutated
            .iter()
            .try_for_each(|e| engine.replay(e.stamp, &e.command, &e.events));
        match outcome {
            Ok(()) => {
                engine.check_invariants();
                replayed += 1;
            }
            Err(_) => refused += 1,
        }
    }
    // Both outcomes happen: the mutations reach past the codec, and some
    // leave a journal that could be true (a changed time or cause).
    assert!(
        refused > 100 && replayed > 10,
        "{refused} refused, {replayed} replayed"
    );
}

/// A snapshot is input too: one whose checksum holds but whose state
/// cannot be true (reservations that are not its orders', a band too wide
/// for the book) is skipped, and recovery replays the journal instead.
#[test]
fn hostile_snapshots_are_skipped_not_trusted() {
    type Breaker = fn(&mut cetx_engine::EngineState);
    let breakers: [(&str, Breaker); 4] = [
        ("reserved cash that no order claims", |s| {
            s.accounts[0].account.reserved_fen = 5;
        }),
        ("reserved allowances above the holding", |s| {
            s.accounts[1].holdings[0].reserved_t = u64::MAX;
        }),
        ("a reference price of 10^15 ticks", |s| {
            s.instruments[0].reference_ticks = 1_000_000_000_000_000;
        }),
        ("an order id never accepted", |s| {
            s.last_order_id = None;
        }),
    ];
    let entries = market(&[]);
    for (what, break_it) in breakers {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &entries);
        let mut engine = Engine::default();
        for e in &entries {
            engine.replay(e.stamp, &e.command, &e.events).unwrap();
        }
        let mut state = engine.state();
        break_it(&mut state);
        cetx_engine::journal::write_snapshot(dir.path(), 7, &state).unwrap();
        let recovered = recover(dir.path()).unwrap();
        assert_eq!(recovered.snapshot_seq, None, "{what}");
        assert_eq!(recovered.skipped_snapshots.len(), 1, "{what}");
        assert_eq!(recovered.engine.state(), engine.state(), "{what}");
    }
}
