//! Properties of the engine over random command streams.
//!
//! Whatever brokers and operators send, in any order:
//! - total cash changes only by deposits and withdrawals;
//! - total holdings of each instrument change only by credits and debits;
//! - no balance goes negative and nothing is reserved beyond what is held;
//! - each account's reservations equal what its open orders claim;
//! - the book never crosses;
//! - replaying each command's events onto a second engine (as recovery
//!   does, without matching) gives the same state after every command;
//! - an engine rebuilt from a copy of the state as plain data (as a
//!   snapshot does) is the same engine.
//!
//! The third to fifth are `Engine::check_invariants()`, run after every
//! command.
//! Streams mix orders of every type, cancels, amends, phase changes, the end
//! of the day, and every administration command, over accounts of every
//! participant type with little money, so that the rejections fire too.

use cetx_engine::{Command, Engine, Event, InstrumentId, OrderId, Phase, Stamp};
use proptest::prelude::*;
use proptest::test_runner::{FailurePersistence, FileFailurePersistence};

mod streams;

use streams::{config, genesis, step, Step, INSTRUMENTS};

fn totals(engine: &Engine) -> (i64, Vec<u64>) {
    let cash = engine.accounts().iter().map(|a| a.cash_fen).sum();
    let held = (0..usize::from(INSTRUMENTS))
        .map(|i| {
            engine
                .accounts()
                .iter_with_holdings()
                .map(|(_, holdings)| holdings[i].balance_t)
                .sum()
        })
        .collect();
    (cash, held)
}

/// Where proptest keeps failing cases; committed, and replayed first.
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/proptest-regressions/properties.txt"
);

/// Proptest's defaults, at most 256 cases (each is a few hundred commands
/// with a full state comparison after every one), with failures saved under
/// `engine/proptest-regressions/`.
fn proptest_config() -> ProptestConfig {
    let defaults = ProptestConfig::default();
    let failure_persistence = defaults.failure_persistence.is_some().then(|| {
        Box::new(FileFailurePersistence::Direct(REGRESSIONS)) as Box<dyn FailurePersistence>
    });
    ProptestConfig {
        cases: defaults.cases.min(256),
        failure_persistence,
        ..defaults
    }
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn cash_and_allowances_are_conserved_and_replay_rebuilds_the_state(
        steps in prop::collection::vec(step(), 200..400)
    ) {
        let mut engine = Engine::new(&config()).unwrap();
        let mut replica = Engine::new(&config()).unwrap();
        let mut events = Vec::new();
        let mut seq = 0;
        let mut next_id = 1u64;
        let mut expected_cash = 0i64;
        let mut expected_held = vec![0u64; usize::from(INSTRUMENTS)];
        let mut trades = 0u64;
        let commands = genesis().into_iter().map(Step::Admin).chain(steps);
        for step in commands {
            if matches!(step, Step::Submit { .. }) {
                next_id += 1;
            }
            let command = step.command(OrderId(next_id), |back| OrderId(next_id.saturating_sub(back)));
            let mut commands = vec![command.clone()];
            if matches!(command, Command::EndOfDay { .. }) {
                // As the calendar would at the next open.
                commands.extend((0..INSTRUMENTS).map(|instrument| Command::SetPhase {
                    instrument: InstrumentId(instrument),
                    phase: Phase::Continuous,
                }));
            }
            events.clear();
            for command in &commands {
                seq += 1;
                let stamp = Stamp { seq, time_ns: seq as i64 };
                let first = events.len();
                engine.apply(command, stamp, &mut events);
                engine.check_invariants();
                replica.replay(stamp, command, &events[first..]).map_err(|e| TestCaseError::fail(e.to_string()))?;
                replica.check_invariants();
                prop_assert_eq!(replica.state(), engine.state(), "replay diverged after {:?}", command);
            }
            if seq % 64 == 0 {
                let rebuilt = Engine::from_state(&engine.state()).unwrap();
                rebuilt.check_invariants();
                prop_assert_eq!(rebuilt.state(), engine.state());
            }
            trades += events.iter().filter(|e| matches!(e, Event::Trade(_))).count() as u64;
            for event in &events {
                match event {
                    Event::CashDeposited(c) => expected_cash += c.amount_fen,
                    Event::CashWithdrawn(c) => expected_cash -= c.amount_fen,
                    Event::HoldingsCredited(h) => expected_held[usize::from(h.instrument.0)] += h.quantity_t,
                    Event::HoldingsDebited(h) => expected_held[usize::from(h.instrument.0)] -= h.quantity_t,
                    _ => {}
                }
            }
            let (cash, held) = totals(&engine);
            prop_assert_eq!(cash, expected_cash, "cash after {:?}", command);
            prop_assert_eq!(&held, &expected_held, "holdings after {:?}", command);
            for account in engine.accounts().iter() {
                prop_assert!(account.cash_fen >= 0, "{:?} went negative", account.id);
                prop_assert!(account.reserved_fen <= account.cash_fen);
            }
        }
        // A case that never traded checked nothing of settlement: counted
        // as rejected, so a generator that stopped trading fails the test
        // (too many rejects) rather than passing it.
        prop_assume!(trades > 0, "no trade in this case");
    }
}
