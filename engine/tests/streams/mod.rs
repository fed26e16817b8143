//! Random command streams for the engine's property tests
//! (`properties.rs`, `refusals.rs`): a small market of two instruments and
//! six accounts of every participant type with little money, so that
//! orders meet and the refusals fire too.

use cetx_engine::{
    AccountId, BrokerId, Command, EngineConfig, InstrumentId, InstrumentSpec, NewOrder, OrderId,
    OrderType, ParticipantType, Phase, Side, TimeInForce,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

pub const INSTRUMENTS: u16 = 2;
pub const ACCOUNTS: u32 = 6;

pub fn config() -> EngineConfig {
    // Reference 1.00 CNY, band 0.90..=1.10, so prices collide often.
    let mut cea = InstrumentSpec::cea(2025, Decimal::new(1_00, 2));
    let mut ccer = InstrumentSpec::ccer(Decimal::new(1_00, 2));
    for spec in [&mut cea, &mut ccer] {
        spec.max_order_t = 50;
        spec.max_orders = 16;
        spec.position_limit_t = Some(400);
        spec.large_holder_bps = Some(5_000);
    }
    ccer.opposite_side_gap_days = Some(1);
    EngineConfig {
        instruments: vec![cea, ccer],
    }
}

pub fn account() -> impl Strategy<Value = AccountId> {
    // Sometimes one id more than is ever opened, to reach UnknownAccount.
    prop_oneof![19 => (0..ACCOUNTS).prop_map(AccountId), 1 => Just(AccountId(ACCOUNTS))]
}

pub fn instrument() -> impl Strategy<Value = InstrumentId> {
    // Mostly real instruments, sometimes one that does not exist.
    prop_oneof![19 => (0..INSTRUMENTS).prop_map(InstrumentId), 1 => Just(InstrumentId(7))]
}

/// A command whose order ids are offsets, made absolute by the runner.
#[derive(Clone, Debug)]
pub enum Step {
    Submit {
        account: AccountId,
        instrument: InstrumentId,
        side: Side,
        order_type: OrderType,
        tif: TimeInForce,
        price_ticks: i64,
        quantity_t: u64,
    },
    Cancel {
        instrument: InstrumentId,
        back: u64,
    },
    Amend {
        instrument: InstrumentId,
        back: u64,
        price_ticks: i64,
        quantity_t: u64,
    },
    Admin(Command),
}

impl Step {
    /// The step's command: a new order with the id `order_id`, a cancel
    /// or amend of the order `back_id` names from the step's `back`.
    pub fn command(self, order_id: OrderId, back_id: impl Fn(u64) -> OrderId) -> Command {
        match self {
            Self::Submit {
                account,
                instrument,
                side,
                order_type,
                tif,
                price_ticks,
                quantity_t,
            } => Command::Submit(NewOrder {
                order_id,
                account,
                instrument,
                side,
                order_type,
                time_in_force: tif,
                price_ticks,
                quantity_t,
                client_order_id: 0,
            }),
            Self::Cancel { instrument, back } => Command::Cancel {
                instrument,
                order_id: back_id(back),
                requester: None,
            },
            Self::Amend {
                instrument,
                back,
                price_ticks,
                quantity_t,
            } => Command::Amend {
                instrument,
                order_id: back_id(back),
                price_ticks,
                quantity_t,
                requester: None,
            },
            Self::Admin(command) => command,
        }
    }
}

pub fn step() -> impl Strategy<Value = Step> {
    let side = prop_oneof![Just(Side::Buy), Just(Side::Sell)];
    let order_type = prop_oneof![4 => Just(OrderType::Limit), 1 => Just(OrderType::Market)];
    let tif = prop_oneof![
        4 => Just(TimeInForce::Day),
        1 => Just(TimeInForce::Ioc),
        1 => Just(TimeInForce::Fok)
    ];
    // Mostly inside the band and the size limits, sometimes just outside;
    // buyers lean higher and sellers lower, so that orders meet.
    let priced = side.prop_flat_map(|side| {
        let lean = match side {
            Side::Buy => 2,
            Side::Sell => -2,
        };
        let price = prop_oneof![19 => 94i64..=106, 1 => 88i64..=112];
        (Just(side), price.prop_map(move |p| p + lean))
    });
    let quantity = prop_oneof![19 => 1u64..=30, 1 => 0u64..=60];
    let submit = (account(), instrument(), priced, order_type, tif, quantity).prop_map(
        |(account, instrument, (side, price_ticks), order_type, tif, quantity_t)| Step::Submit {
            account,
            instrument,
            side,
            order_type,
            tif,
            price_ticks,
            quantity_t,
        },
    );
    let cancel =
        (instrument(), 0u64..6).prop_map(|(instrument, back)| Step::Cancel { instrument, back });
    let amend = (instrument(), 0u64..6, 92i64..=108, 1u64..=30).prop_map(
        |(instrument, back, price_ticks, quantity_t)| Step::Amend {
            instrument,
            back,
            price_ticks,
            quantity_t,
        },
    );
    let phase = prop_oneof![
        6 => Just(Phase::Continuous),
        1 => Just(Phase::Break),
        1 => Just(Phase::Halted),
        1 => Just(Phase::Closed)
    ];
    let admin = prop_oneof![
        4 => (instrument(), phase).prop_map(|(instrument, phase)| Command::SetPhase { instrument, phase }),
        1 => Just(Command::EndOfDay { trading_date: None }),
        1 => (account(), -100i64..50_000).prop_map(|(account, amount_fen)| Command::Deposit {
            account,
            amount_fen
        }),
        1 => (account(), -100i64..50_000).prop_map(|(account, amount_fen)| Command::Withdraw {
            account,
            amount_fen
        }),
        1 => (account(), instrument(), 0u64..100).prop_map(|(account, instrument, quantity_t)| {
            Command::CreditHoldings {
                account,
                instrument,
                quantity_t,
            }
        }),
        1 => (account(), instrument(), 0u64..100).prop_map(|(account, instrument, quantity_t)| {
            Command::DebitHoldings {
                account,
                instrument,
                quantity_t,
            }
        }),
        1 => (instrument(), 80i64..=120).prop_map(|(instrument, price_ticks)| {
            Command::SetReferencePrice {
                instrument,
                price_ticks,
            }
        }),
    ];
    prop_oneof![
        10 => submit,
        4 => cancel,
        3 => amend,
        2 => admin.prop_map(Step::Admin),
    ]
}

/// Opens accounts 0..ACCOUNTS, of every participant type, with a little cash
/// and a few allowances each.
pub fn genesis() -> Vec<Command> {
    let types = [
        ParticipantType::ComplianceEntity,
        ParticipantType::Institution,
        ParticipantType::Individual,
        ParticipantType::ComplianceEntity,
        ParticipantType::ComplianceEntity,
        ParticipantType::Institution,
    ];
    let mut commands = Vec::new();
    for (i, participant) in types.into_iter().enumerate() {
        let account = AccountId(i as u32);
        commands.push(Command::OpenAccount {
            account,
            participant,
            broker: BrokerId(1),
        });
        commands.push(Command::Deposit {
            account,
            amount_fen: 50_000,
        });
        for instrument in 0..INSTRUMENTS {
            commands.push(Command::CreditHoldings {
                account,
                instrument: InstrumentId(instrument),
                quantity_t: 60,
            });
        }
    }
    for instrument in 0..INSTRUMENTS {
        commands.push(Command::SetPhase {
            instrument: InstrumentId(instrument),
            phase: Phase::Continuous,
        });
    }
    commands
}
