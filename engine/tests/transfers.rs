//! Transfer references: a transfer sent again under its reference changes
//! nothing while the reference is remembered, for
//! [`cetx_engine::REFERENCE_DAYS`] trading days; then the reference is
//! forgotten, live and in replay alike, so that the references held are a
//! window of the market's transfers, not all of them.

use cetx_engine::{
    AccountId, Asset, BrokerId, Command, Direction, Engine, EngineConfig, Event, InstrumentSpec,
    ParticipantType, RejectReason, Stamp, Transfer, REFERENCE_DAYS,
};
use rust_decimal::Decimal;

const ALICE: AccountId = AccountId(1);

/// An engine and a replica that replays its events.
struct Market {
    live: Engine,
    replica: Engine,
    seq: u64,
}

impl Market {
    fn new() -> Self {
        let instruments = vec![InstrumentSpec::cea(2025, Decimal::new(100_00, 2))];
        let live = Engine::new(&EngineConfig { instruments }).unwrap();
        let mut market = Self {
            replica: live.clone(),
            live,
            seq: 0,
        };
        market.apply(&Command::OpenAccount {
            account: ALICE,
            participant: ParticipantType::ComplianceEntity,
            broker: BrokerId(1),
        });
        market
    }

    /// Applies `command` live and replays its events on the replica; the
    /// reject, if any.
    fn apply(&mut self, command: &Command) -> Option<RejectReason> {
        self.seq += 1;
        let stamp = Stamp {
            seq: self.seq,
            time_ns: 0,
        };
        let mut events = Vec::new();
        self.live.apply(command, stamp, &mut events);
        self.live.check_invariants();
        self.replica.replay(stamp, command, &events).unwrap();
        assert_eq!(self.replica.state(), self.live.state(), "after {command:?}");
        events.iter().find_map(|e| match e {
            Event::Rejected(r) => Some(r.reason),
            _ => None,
        })
    }

    fn end_days(&mut self, days: u32) {
        for _ in 0..days {
            assert_eq!(self.apply(&Command::EndOfDay { trading_date: None }), None);
        }
    }
}

fn deposit(reference: &str) -> Command {
    Command::Transfer(Box::new(Transfer {
        reference: reference.into(),
        account: ALICE,
        asset: Asset::Cash,
        direction: Direction::In,
        amount: 100,
    }))
}

#[test]
fn a_reference_is_remembered_for_its_window_of_trading_days_then_forgotten() {
    let mut market = Market::new();
    assert_eq!(market.apply(&deposit("BANK-1")), None);
    market.end_days(1);
    assert_eq!(market.apply(&deposit("BANK-2")), None);
    // The last day BANK-1 is remembered: sent again, it changes nothing.
    market.end_days(REFERENCE_DAYS - 2);
    assert_eq!(
        market.apply(&deposit("BANK-1")),
        Some(RejectReason::DuplicateReference)
    );
    // A window after it was applied, it is forgotten (BANK-2, a day
    // younger, is not yet): the same reference is a new transfer.
    market.end_days(1);
    assert_eq!(
        market.apply(&deposit("BANK-2")),
        Some(RejectReason::DuplicateReference)
    );
    assert_eq!(market.apply(&deposit("BANK-1")), None);
    let cash = |m: &Market| m.live.accounts().get(ALICE).unwrap().cash_fen;
    assert_eq!(cash(&market), 300);
    let remembered: Vec<_> = market
        .live
        .state()
        .references
        .into_iter()
        .map(|(reference, _, day)| (reference, day))
        .collect();
    assert_eq!(
        remembered,
        [("BANK-1".into(), REFERENCE_DAYS), ("BANK-2".into(), 1)]
    );
    // A snapshot keeps the days: restored, the window goes on alike.
    let mut bytes = Vec::new();
    cetx_engine::journal::encode_state(&market.live.state(), &mut bytes);
    let restored = cetx_engine::journal::decode_state(&bytes).unwrap();
    assert_eq!(restored, market.live.state());
    market.end_days(1);
    assert_eq!(market.apply(&deposit("BANK-2")), None);
}
