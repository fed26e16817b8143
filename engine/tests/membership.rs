//! Membership, as a specification: brokers onboarded by command, and
//! brokers and accounts suspended, reinstated and closed
//! (`engine/src/membership.rs` has the rules). Every command's events are
//! replayed onto a second engine, which must end in the same state, and
//! `check_invariants()` runs after each.

mod replicated;
mod support;

use cetx_engine::{
    AccountId, BrokerId, CancelCause, Command, Credential, Engine, EngineConfig, Event,
    InstrumentId, InstrumentSpec, NewBroker, NewOrder, OrderId, OrderType, ParticipantType, Phase,
    RejectReason, Side, Stamp, Status, TimeInForce,
};
use replicated::Replicated;
use rust_decimal::Decimal;

const CEA: InstrumentId = InstrumentId(0);
const ALICE: AccountId = AccountId(1);
const BOB: AccountId = AccountId(2);
const NEW_BROKER: BrokerId = BrokerId(7);
const CAROL: AccountId = AccountId(3);

/// A live engine and its replica, fed the live engine's events.
struct Market(Replicated);

impl std::ops::Deref for Market {
    type Target = Replicated;
    fn deref(&self) -> &Replicated {
        &self.0
    }
}

impl std::ops::DerefMut for Market {
    fn deref_mut(&mut self) -> &mut Replicated {
        &mut self.0
    }
}

impl Market {
    /// One CEA instrument in continuous trading; ALICE and BOB of broker 1,
    /// funded.
    fn new() -> Self {
        let mut spec = InstrumentSpec::cea(2025, Decimal::new(100_00, 2));
        spec.max_orders = 64;
        let config = EngineConfig {
            instruments: vec![spec],
        };
        let mut live = Engine::new(&config).unwrap();
        let seq = support::open_market(&mut live, &[ALICE, BOB]);
        Self(Replicated::new(live, seq))
    }

    fn apply(&mut self, command: Command) -> Vec<Event> {
        self.0.apply(&command)
    }

    fn rejected(&mut self, command: Command) -> RejectReason {
        match self.apply(command).as_slice() {
            [Event::Rejected(r)] => r.reason,
            other => panic!("expected one rejection, got {other:?}"),
        }
    }

    fn buy(&mut self, account: AccountId, price_ticks: i64, quantity_t: u64) -> Vec<Event> {
        let seq = self.seq;
        self.apply(Command::Submit(NewOrder {
            order_id: OrderId(seq),
            account,
            instrument: CEA,
            side: Side::Buy,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Day,
            price_ticks,
            quantity_t,
            client_order_id: seq,
        }))
    }
}

fn new_broker(broker: BrokerId, name: &str) -> Command {
    Command::AddBroker(Box::new(NewBroker {
        broker,
        name: name.into(),
        credential: Credential {
            iterations: 1,
            salt: [1; 16],
            hash: [2; 32],
        },
    }))
}

fn account_status(account: AccountId, status: Status) -> Command {
    Command::SetAccountStatus { account, status }
}

fn broker_status(broker: BrokerId, status: Status) -> Command {
    Command::SetBrokerStatus { broker, status }
}

#[test]
fn an_added_broker_is_kept_with_its_credential_and_opens_accounts() {
    let mut m = Market::new();
    let events = m.apply(new_broker(NEW_BROKER, "Seventh Securities"));
    assert_eq!(
        events,
        [Event::BrokerAdded(cetx_engine::BrokerAdded {
            broker: NEW_BROKER
        })]
    );
    let added = &m.live.membership().brokers[&NEW_BROKER];
    assert_eq!(added.name, "Seventh Securities");
    assert_eq!(added.credential.hash, [2; 32]);
    let opened = m.apply(Command::OpenAccount {
        account: CAROL,
        participant: ParticipantType::Institution,
        broker: NEW_BROKER,
    });
    assert!(matches!(opened[..], [Event::AccountOpened(_)]));
}

#[test]
fn a_broker_is_added_once_with_a_usable_name_and_credential() {
    let mut m = Market::new();
    // Broker 1 has accounts (it is the config's): its id is taken.
    assert_eq!(
        m.rejected(new_broker(BrokerId(1), "x")),
        RejectReason::BrokerExists
    );
    assert_eq!(
        m.rejected(new_broker(NEW_BROKER, "")),
        RejectReason::InvalidBroker
    );
    let long = "n".repeat(NewBroker::MAX_NAME_LEN + 1);
    assert_eq!(
        m.rejected(new_broker(NEW_BROKER, &long)),
        RejectReason::InvalidBroker
    );
    let Command::AddBroker(mut no_rounds) = new_broker(NEW_BROKER, "x") else {
        unreachable!()
    };
    no_rounds.credential.iterations = 0;
    assert_eq!(
        m.rejected(Command::AddBroker(no_rounds)),
        RejectReason::InvalidBroker
    );
    m.apply(new_broker(NEW_BROKER, "x"));
    assert_eq!(
        m.rejected(new_broker(NEW_BROKER, "y")),
        RejectReason::BrokerExists
    );
}

#[test]
fn suspending_an_account_cancels_its_resting_orders_and_refuses_new_ones() {
    let mut m = Market::new();
    m.buy(ALICE, 100_00, 10);
    m.buy(BOB, 100_00, 20);
    let reserved_before = m.live.account(ALICE).unwrap().reserved_fen;
    assert!(reserved_before > 0);
    let events = m.apply(account_status(ALICE, Status::Suspended));
    assert!(matches!(
        events[..],
        [
            Event::AccountStatusChanged(_),
            Event::Cancelled(cetx_engine::Cancelled {
                account: ALICE,
                cancelled_t: 10,
                cause: CancelCause::Suspended,
                ..
            })
        ]
    ));
    assert_eq!(m.live.account(ALICE).unwrap().reserved_fen, 0);
    // BOB's order rests on.
    assert_eq!(m.live.book(CEA).unwrap().orders(Side::Buy).count(), 1);
    let refused = m.buy(ALICE, 100_00, 10);
    assert!(matches!(
        refused[..],
        [Event::Rejected(r)] if r.reason == RejectReason::AccountSuspended
    ));
    // Cash still moves for a suspended account.
    assert!(matches!(
        m.apply(Command::Withdraw {
            account: ALICE,
            amount_fen: 1
        })[..],
        [Event::CashWithdrawn(_)]
    ));
    // Reinstated, it trades again.
    m.apply(account_status(ALICE, Status::Active));
    assert!(matches!(m.buy(ALICE, 100_00, 10)[..], [Event::Accepted(_)]));
}

#[test]
fn suspending_a_broker_cancels_every_order_of_its_accounts_and_refuses_new_ones() {
    let mut m = Market::new();
    m.buy(ALICE, 100_00, 10);
    m.buy(BOB, 99_00, 20);
    let events = m.apply(broker_status(BrokerId(1), Status::Suspended));
    let cancelled = events
        .iter()
        .filter(|e| matches!(e, Event::Cancelled(c) if c.cause == CancelCause::Suspended))
        .count();
    assert_eq!(cancelled, 2, "{events:?}");
    assert!(m.live.book(CEA).unwrap().is_empty());
    let refused = m.buy(BOB, 100_00, 10);
    assert!(matches!(
        refused[..],
        [Event::Rejected(r)] if r.reason == RejectReason::BrokerSuspended
    ));
    assert_eq!(
        m.rejected(Command::OpenAccount {
            account: CAROL,
            participant: ParticipantType::Institution,
            broker: BrokerId(1),
        }),
        RejectReason::BrokerSuspended
    );
    assert_eq!(
        m.rejected(broker_status(BrokerId(1), Status::Suspended)),
        RejectReason::InvalidStatusChange
    );
}

/// PROTOCOL.md, *Logging out*: a broker's session ends and the exchange
/// cancels its accounts' resting orders, cause 6 `Disconnected`, book
/// by book, bids then asks; another broker's order rests on, and a
/// replay that leaves one of them resting is refused.
#[test]
fn a_cancel_on_disconnect_cancels_the_broker_s_orders_and_no_other() {
    let mut m = Market::new();
    m.buy(ALICE, 99_00, 10);
    m.apply(Command::CreditHoldings {
        account: BOB,
        instrument: CEA,
        quantity_t: 20,
    });
    let ask = m.seq;
    let rested = m.apply(Command::Submit(NewOrder {
        order_id: OrderId(ask),
        account: BOB,
        instrument: CEA,
        side: Side::Sell,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        price_ticks: 101_00,
        quantity_t: 20,
        client_order_id: ask,
    }));
    assert!(matches!(rested[..], [Event::Accepted(_)]), "{rested:?}");
    m.apply(new_broker(NEW_BROKER, "Seventh Securities"));
    m.apply(Command::OpenAccount {
        account: CAROL,
        participant: ParticipantType::ComplianceEntity,
        broker: NEW_BROKER,
    });
    m.apply(Command::Deposit {
        account: CAROL,
        amount_fen: 1_000_000,
    });
    let carol = m.buy(CAROL, 98_00, 1);
    assert!(matches!(carol[..], [Event::Accepted(_)]), "{carol:?}");
    let disconnect = Command::CancelOnDisconnect {
        broker: BrokerId(1),
    };
    let before = m.replica.state();
    let events = m.apply(disconnect.clone());
    let cancelled: Vec<(AccountId, u64)> = events
        .iter()
        .map(|e| match e {
            Event::Cancelled(c) if c.cause == CancelCause::Disconnected => {
                (c.account, c.cancelled_t)
            }
            other => panic!("{other:?} from a cancel on disconnect"),
        })
        .collect();
    assert_eq!(cancelled, [(ALICE, 10), (BOB, 20)]);
    assert_eq!(m.live.account(ALICE).unwrap().reserved_fen, 0);
    let left: Vec<AccountId> = m
        .live
        .book(CEA)
        .unwrap()
        .orders(Side::Buy)
        .map(|o| o.account)
        .collect();
    assert_eq!(left, [CAROL]);
    assert!(!m.live.has_resting_of_broker(BrokerId(1)));
    assert!(m.live.has_resting_of_broker(NEW_BROKER));
    // Nothing rests: nothing to cancel, and nothing refused.
    assert!(m.apply(disconnect.clone()).is_empty());

    // A journal whose cancel on disconnect leaves an order resting, gives
    // them in another order, or cancels another broker's order too.
    let stamp = Stamp {
        seq: m.seq,
        time_ns: 0,
    };
    let Event::Accepted(carol_order) = carol[0] else {
        panic!("{carol:?}");
    };
    let mut another_broker_s = events.clone();
    another_broker_s.push(Event::Cancelled(cetx_engine::Cancelled {
        order_id: carol_order.order_id,
        account: CAROL,
        instrument: CEA,
        side: Side::Buy,
        cancelled_t: 1,
        cause: CancelCause::Disconnected,
    }));
    let mut swapped = events.clone();
    swapped.reverse();
    for forged in [events[..1].to_vec(), swapped, another_broker_s] {
        let mut replica = Engine::from_state(&before).unwrap();
        let error = replica.replay(stamp, &disconnect, &forged).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("but broker 1's 2 resting orders, in book order, are"),
            "{error}"
        );
    }
    let mut replica = Engine::from_state(&before).unwrap();
    replica.replay(stamp, &disconnect, &events).unwrap();
}

/// ENGINE.md: a new order's account is checked before its broker, so a
/// suspended account of a suspended broker is refused for the account.
#[test]
fn an_order_names_its_account_s_standing_before_its_broker_s() {
    let mut m = Market::new();
    m.apply(account_status(ALICE, Status::Suspended));
    m.apply(broker_status(BrokerId(1), Status::Suspended));
    assert!(matches!(
        m.buy(ALICE, 100_00, 10)[..],
        [Event::Rejected(r)] if r.reason == RejectReason::AccountSuspended
    ));
    m.apply(account_status(ALICE, Status::Active));
    assert!(matches!(
        m.buy(ALICE, 100_00, 10)[..],
        [Event::Rejected(r)] if r.reason == RejectReason::BrokerSuspended
    ));
}

/// ADMIN.md, PROTOCOL.md (113, 114): the phase is checked before the
/// standing, so out of continuous trading a suspended account's order
/// gets 303 as everyone's does; and reinstating its broker does not lift
/// the account's own suspension.
#[test]
fn a_suspended_account_s_order_gets_303_in_a_break_and_its_broker_s_reinstatement_keeps_it_suspended(
) {
    let mut m = Market::new();
    m.apply(account_status(ALICE, Status::Suspended));
    m.apply(broker_status(BrokerId(1), Status::Suspended));
    m.apply(Command::SetPhase {
        instrument: CEA,
        phase: Phase::Break,
    });
    assert!(matches!(
        m.buy(ALICE, 100_00, 10)[..],
        [Event::Rejected(r)] if r.reason == RejectReason::MarketClosed
    ));
    m.apply(Command::SetPhase {
        instrument: CEA,
        phase: Phase::Continuous,
    });
    m.apply(broker_status(BrokerId(1), Status::Active));
    assert!(matches!(
        m.buy(ALICE, 100_00, 10)[..],
        [Event::Rejected(r)] if r.reason == RejectReason::AccountSuspended
    ));
    assert!(matches!(m.buy(BOB, 100_00, 10)[..], [Event::Accepted(_)]));
}

#[test]
fn an_account_closes_only_when_empty_and_then_for_good() {
    let mut m = Market::new();
    assert_eq!(
        m.rejected(account_status(ALICE, Status::Closed)),
        RejectReason::AccountNotEmpty
    );
    assert_eq!(
        m.rejected(account_status(AccountId(99), Status::Closed)),
        RejectReason::UnknownAccount
    );
    // Empty it: all cash and allowances out.
    let cash_fen = m.live.account(ALICE).unwrap().cash_fen;
    let held_t = m.live.holdings(ALICE).unwrap()[0].balance_t;
    m.apply(Command::Withdraw {
        account: ALICE,
        amount_fen: cash_fen,
    });
    assert_eq!(
        m.rejected(account_status(ALICE, Status::Closed)),
        RejectReason::AccountNotEmpty
    );
    m.apply(Command::DebitHoldings {
        account: ALICE,
        instrument: CEA,
        quantity_t: held_t,
    });
    assert!(matches!(
        m.apply(account_status(ALICE, Status::Closed))[..],
        [Event::AccountStatusChanged(_)]
    ));
    assert_eq!(
        m.rejected(Command::Deposit {
            account: ALICE,
            amount_fen: 1
        }),
        RejectReason::AccountClosed
    );
    let refused = m.buy(ALICE, 100_00, 1);
    assert!(matches!(
        refused[..],
        [Event::Rejected(r)] if r.reason == RejectReason::AccountClosed
    ));
    assert_eq!(
        m.rejected(account_status(ALICE, Status::Active)),
        RejectReason::InvalidStatusChange
    );
}

#[test]
fn a_broker_closes_only_once_its_accounts_are_closed() {
    let mut m = Market::new();
    m.apply(new_broker(NEW_BROKER, "Seventh"));
    m.apply(Command::OpenAccount {
        account: CAROL,
        participant: ParticipantType::Institution,
        broker: NEW_BROKER,
    });
    assert_eq!(
        m.rejected(broker_status(NEW_BROKER, Status::Closed)),
        RejectReason::BrokerHasOpenAccounts
    );
    m.apply(account_status(CAROL, Status::Closed));
    assert!(matches!(
        m.apply(broker_status(NEW_BROKER, Status::Closed))[..],
        [Event::BrokerStatusChanged(_)]
    ));
    assert_eq!(
        m.rejected(broker_status(NEW_BROKER, Status::Active)),
        RejectReason::InvalidStatusChange
    );
    // Its id is not given out again.
    assert_eq!(
        m.rejected(new_broker(NEW_BROKER, "again")),
        RejectReason::BrokerExists
    );
}

/// A suspension's cancels are the suspended account's own resting
/// orders, with cause `Suspended`: a journal whose suspension leaves one
/// resting, cancels another account's order too, or gives another cause,
/// does not replay.
#[test]
fn a_journal_whose_suspension_cancels_another_account_s_order_does_not_replay() {
    let mut m = Market::new();
    m.buy(ALICE, 100_00, 10);
    let bob = m.buy(BOB, 99_00, 20);
    let Event::Accepted(bob_order) = bob[0] else {
        panic!("{bob:?}");
    };
    let command = account_status(ALICE, Status::Suspended);
    let stamp = Stamp {
        seq: m.seq,
        time_ns: 0,
    };
    let mut events = Vec::new();
    m.live.apply(&command, stamp, &mut events);
    let before = m.replica.state();

    // ALICE's order left resting, or BOB's cancelled too, named as BOB's
    // or as the suspended ALICE's.
    let mut left_resting = events.clone();
    left_resting.retain(|e| !matches!(e, Event::Cancelled(_)));
    let bob_s = |account| {
        let mut forged = events.clone();
        forged.push(Event::Cancelled(cetx_engine::Cancelled {
            order_id: bob_order.order_id,
            account,
            instrument: CEA,
            side: Side::Buy,
            cancelled_t: 20,
            cause: CancelCause::Suspended,
        }));
        forged
    };
    for forged in [left_resting, bob_s(BOB), bob_s(ALICE)] {
        let mut replica = Engine::from_state(&before).unwrap();
        let error = replica.replay(stamp, &command, &forged).unwrap_err();
        assert!(
            error
                .what
                .contains("but account 1's 1 resting orders, in book order, are"),
            "{error}"
        );
    }

    let mut wrong_cause = events.clone();
    for event in &mut wrong_cause {
        if let Event::Cancelled(c) = event {
            c.cause = CancelCause::Disconnected;
        }
    }
    let mut replica = Engine::from_state(&before).unwrap();
    let error = replica.replay(stamp, &command, &wrong_cause).unwrap_err();
    assert!(
        error
            .what
            .contains("a SetAccountStatus cancels resting order 8 with cause Disconnected"),
        "{error}"
    );

    // The journal's own events replay.
    let mut replica = Engine::from_state(&before).unwrap();
    replica.replay(stamp, &command, &events).unwrap();
}

#[test]
fn a_journal_cannot_accept_an_order_of_a_suspended_account() {
    let mut m = Market::new();
    m.apply(account_status(ALICE, Status::Suspended));
    // A hostile entry: the account is suspended, but the journal says the
    // order was accepted.
    let order = NewOrder {
        order_id: OrderId(m.seq),
        account: ALICE,
        instrument: CEA,
        side: Side::Buy,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        price_ticks: 100_00,
        quantity_t: 1,
        client_order_id: 1,
    };
    let accepted = Event::Accepted(cetx_engine::Accepted {
        order_id: order.order_id,
        account: ALICE,
        instrument: CEA,
        side: Side::Buy,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        price_ticks: 100_00,
        quantity_t: 1,
    });
    let stamp = Stamp {
        seq: m.seq,
        time_ns: 0,
    };
    let error = m
        .replica
        .replay(stamp, &Command::Submit(order), &[accepted])
        .unwrap_err();
    assert!(error.what.contains("AccountSuspended"), "{error}");
}
