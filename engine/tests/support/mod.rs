//! Shared set-up for the engine's integration tests: a market that is open,
//! with accounts that can afford anything the tests throw at them, so that
//! a test about matching is not about money.

use cetx_engine::{
    AccountId, BrokerId, Command, Engine, Event, InstrumentId, ParticipantType, Phase, Stamp,
};

/// Cash given to each account: 10 billion CNY, in fen.
pub const RICH_FEN: i64 = 1_000_000_000_000;
/// Allowances given to each account in each instrument, in tonnes.
pub const RICH_T: u64 = 100_000_000;

/// Opens `accounts` as compliance entities of broker 1, funds each with
/// [`RICH_FEN`] and [`RICH_T`] of every instrument, and puts every
/// instrument into continuous trading. Uses sequence numbers from 1 and
/// returns the next free one.
pub fn open_market(engine: &mut Engine, accounts: &[AccountId]) -> u64 {
    let instruments: Vec<InstrumentId> = engine.books().iter().map(|b| b.instrument()).collect();
    let mut commands = Vec::new();
    for &account in accounts {
        commands.push(Command::OpenAccount {
            account,
            participant: ParticipantType::ComplianceEntity,
            broker: BrokerId(1),
        });
        commands.push(Command::Deposit {
            account,
            amount_fen: RICH_FEN,
        });
        for &instrument in &instruments {
            commands.push(Command::CreditHoldings {
                account,
                instrument,
                quantity_t: RICH_T,
            });
        }
    }
    for &instrument in &instruments {
        commands.push(Command::SetPhase {
            instrument,
            phase: Phase::Continuous,
        });
    }
    let mut events = Vec::new();
    let mut seq = 1;
    for command in &commands {
        engine.apply(command, Stamp { seq, time_ns: 0 }, &mut events);
        seq += 1;
    }
    assert!(
        !events.iter().any(|e| matches!(e, Event::Rejected(_))),
        "set-up rejected: {events:?}"
    );
    seq
}
