//! Transfer references: a transfer sent again under its reference changes
//! nothing while the reference is remembered, for
//! [`cetx_engine::REFERENCE_DAYS`] trading days; then the reference is
//! forgotten, live and in replay alike, so that the references held are a
//! window of the market's transfers, not all of them.

mod replicated;

use cetx_engine::{
    AccountId, Asset, BrokerId, Command, Direction, Engine, EngineConfig, Event, InstrumentSpec,
    ParticipantType, RejectReason, Transfer, REFERENCE_DAYS,
};
use replicated::Replicated;
use rust_decimal::Decimal;

const ALICE: AccountId = AccountId(1);

/// A market of one CEA instrument and ALICE's account, applied live and
/// replayed.
struct Market(Replicated);

impl Market {
    fn new() -> Self {
        let instruments = vec![InstrumentSpec::cea(2025, Decimal::new(100_00, 2))];
        let live = Engine::new(&EngineConfig { instruments }).unwrap();
        let mut market = Self(Replicated::new(live, 1));
        market.apply(&Command::OpenAccount {
            account: ALICE,
            participant: ParticipantType::ComplianceEntity,
            broker: BrokerId(1),
        });
        market
    }

    /// Applies `command` live and in replay; the reject, if any.
    fn apply(&mut self, command: &Command) -> Option<RejectReason> {
        self.0.apply(command).iter().find_map(|e| match e {
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
    let cash = |m: &Market| m.0.live.accounts().get(ALICE).unwrap().cash_fen;
    assert_eq!(cash(&market), 300);
    let remembered: Vec<_> = market
        .0
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
    cetx_engine::journal::encode_state(&market.0.live.state(), &mut bytes);
    let restored = cetx_engine::journal::decode_state(&bytes).unwrap();
    assert_eq!(restored, market.0.live.state());
    market.end_days(1);
    assert_eq!(market.apply(&deposit("BANK-2")), None);
}
