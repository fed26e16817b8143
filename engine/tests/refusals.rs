//! A broker's command the engine refuses changes nothing a later command
//! can see (reviewer 152). The runtime relies on it: while the market is
//! closed it does not journal such a refusal and gives its sequence number
//! to the next command (PROTOCOL.md, *After the close*), so an engine
//! rebuilt from the journal never sees it.
//!
//! Random streams of every broker command (orders of every type, cancels,
//! amends, takes, block posts, acceptances and withdrawals, auction bids,
//! their cancels and amends) mixed with phase changes, ends of day and
//! administration commands, over accounts with little money so that the
//! refusals fire: one engine applies everything, as the live server does;
//! another only what would be journaled. Each refusal leaves the first
//! engine's state as it was, and every journaled command gives both the
//! same events and the same state.

use cetx_engine::{
    AccountId, AuctionNotice, BlockRules, BrokerId, Command, Engine, EngineConfig, Event,
    InstrumentId, InstrumentSpec, NewBid, NewBlock, NewOrder, OrderId, OrderType, ParticipantType,
    Phase, Pricing, Side, Stamp, Take, TimeInForce,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rust_decimal::Decimal;

const INSTRUMENTS: u16 = 2;
const ACCOUNTS: u32 = 6;

fn config() -> EngineConfig {
    // Reference 1.00 CNY, band 0.90..=1.10, so prices collide often.
    let mut cea = InstrumentSpec::cea(2025, Decimal::new(1_00, 2));
    let mut ccer = InstrumentSpec::ccer(Decimal::new(1_00, 2));
    for spec in [&mut cea, &mut ccer] {
        spec.auctions = Some(true);
        spec.min_auction_t = Some(10);
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

fn account() -> impl Strategy<Value = AccountId> {
    // Sometimes one id more than is ever opened, to reach UnknownAccount.
    prop_oneof![19 => (0..ACCOUNTS).prop_map(AccountId), 1 => Just(AccountId(ACCOUNTS))]
}

fn instrument() -> impl Strategy<Value = InstrumentId> {
    // Mostly real instruments, sometimes one that does not exist.
    prop_oneof![19 => (0..INSTRUMENTS).prop_map(InstrumentId), 1 => Just(InstrumentId(7))]
}

/// A command whose order ids are offsets, made absolute by the runner.
#[derive(Clone, Debug)]
enum Step {
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
    Take {
        account: AccountId,
        instrument: InstrumentId,
        side: Side,
        back: u64,
        quantity_t: u64,
    },
    PostBlock {
        account: AccountId,
        instrument: InstrumentId,
        side: Side,
        price_ticks: i64,
        quantity_t: u64,
    },
    AcceptBlock {
        account: AccountId,
        block_id: u64,
        quantity_t: u64,
    },
    CancelBlock {
        account: AccountId,
        block_id: u64,
    },
    Bid {
        account: AccountId,
        price_ticks: i64,
        quantity_t: u64,
    },
    CancelBid {
        back: u64,
    },
    AmendBid {
        back: u64,
        price_ticks: i64,
        quantity_t: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
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
    let side2 = || prop_oneof![Just(Side::Buy), Just(Side::Sell)];
    let take = (account(), instrument(), side2(), 0u64..8, 0u64..=40).prop_map(
        |(account, instrument, side, back, quantity_t)| Step::Take {
            account,
            instrument,
            side,
            back,
            quantity_t,
        },
    );
    let post = (account(), instrument(), side2(), 60i64..=140, 0u64..=40).prop_map(
        |(account, instrument, side, price_ticks, quantity_t)| Step::PostBlock {
            account,
            instrument,
            side,
            price_ticks,
            quantity_t,
        },
    );
    let accept = (account(), 0u64..12, 0u64..=40).prop_map(|(account, block_id, quantity_t)| {
        Step::AcceptBlock {
            account,
            block_id,
            quantity_t,
        }
    });
    let cancel_block = (account(), 0u64..12)
        .prop_map(|(account, block_id)| Step::CancelBlock { account, block_id });
    let bid = (account(), 85i64..=112, 0u64..=40).prop_map(|(account, price_ticks, quantity_t)| {
        Step::Bid {
            account,
            price_ticks,
            quantity_t,
        }
    });
    let cancel_bid = (0u64..8).prop_map(|back| Step::CancelBid { back });
    let amend_bid =
        (0u64..8, 85i64..=112, 0u64..=40).prop_map(|(back, price_ticks, quantity_t)| {
            Step::AmendBid {
                back,
                price_ticks,
                quantity_t,
            }
        });
    prop_oneof![
        10 => submit,
        4 => cancel,
        3 => amend,
        2 => admin.prop_map(Step::Admin),
        3 => take,
        2 => post,
        2 => accept,
        1 => cancel_block,
        2 => bid,
        1 => cancel_bid,
        1 => amend_bid,
    ]
}

/// Opens accounts 0..ACCOUNTS, of every participant type, with a little cash
/// and a few allowances each.
fn genesis() -> Vec<Command> {
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
        let mut rules = BlockRules::for_kind(&config().instruments[usize::from(instrument)].kind);
        rules.enabled = true;
        rules.min_t = 5;
        rules.max_open = 4;
        commands.push(Command::SetBlockRules {
            instrument: InstrumentId(instrument),
            rules: Box::new(rules),
        });
    }
    commands.push(Command::AnnounceAuction(Box::new(AuctionNotice {
        auction_id: 1,
        instrument: InstrumentId(0),
        seller: AccountId(0),
        quantity_t: 40,
        floor_ticks: 92,
        ceiling_ticks: 108,
        start_ns: 0,
        end_ns: i64::MAX,
        pricing: Pricing::Uniform,
    })));
    commands
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The runtime while the market is closed: a broker command refused
    /// (its events exactly one `Rejected`) is not journaled and its seq is
    /// reused. `live` applied it; `restarted` (rebuilt from the journal)
    /// never saw it. Every later journaled command must give the same
    /// events on both, and the states must agree.
    #[test]
    fn a_refusal_left_out_of_the_journal_changes_nothing_later(
        steps in prop::collection::vec(step(), 200..400)
    ) {
        journal_without_refusals(steps)?;
    }
}

/// Runs `steps` on the live engine and on the one rebuilt from what would
/// be journaled, as the module says.
fn journal_without_refusals(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut live = Engine::new(&config()).unwrap();
    let mut restarted = Engine::new(&config()).unwrap();
    let mut seq = 0u64;
    let mut skipped = 0u32;
    let mut bids: Vec<u64> = Vec::new();
    let commands = genesis().into_iter().map(Step::Admin).chain(steps);
    for step in commands {
        let next_id = seq + 1;
        let back_id = |back: u64| OrderId(next_id.saturating_sub(back + 1));
        let (command, broker) = match step {
            Step::Submit {
                account,
                instrument,
                side,
                order_type,
                tif,
                price_ticks,
                quantity_t,
            } => (
                Command::Submit(NewOrder {
                    order_id: OrderId(next_id),
                    account,
                    instrument,
                    side,
                    order_type,
                    time_in_force: tif,
                    price_ticks,
                    quantity_t,
                    client_order_id: 0,
                }),
                true,
            ),
            Step::Cancel { instrument, back } => (
                Command::Cancel {
                    instrument,
                    order_id: back_id(back),
                    requester: None,
                },
                true,
            ),
            Step::Amend {
                instrument,
                back,
                price_ticks,
                quantity_t,
            } => (
                Command::Amend {
                    instrument,
                    order_id: back_id(back),
                    price_ticks,
                    quantity_t,
                    requester: None,
                },
                true,
            ),
            Step::Take {
                account,
                instrument,
                side,
                back,
                quantity_t,
            } => (
                Command::Take(Take {
                    order_id: OrderId(next_id),
                    account,
                    instrument,
                    side,
                    target: back_id(back),
                    quantity_t,
                    client_order_id: 0,
                }),
                true,
            ),
            Step::PostBlock {
                account,
                instrument,
                side,
                price_ticks,
                quantity_t,
            } => (
                Command::PostBlock(NewBlock {
                    account,
                    instrument,
                    side,
                    price_ticks,
                    quantity_t,
                    counterparty: None,
                    client_order_id: 0,
                }),
                true,
            ),
            Step::AcceptBlock {
                account,
                block_id,
                quantity_t,
            } => (
                Command::AcceptBlock {
                    block_id,
                    account,
                    quantity_t,
                    client_order_id: 0,
                },
                true,
            ),
            Step::CancelBlock { account, block_id } => (
                Command::CancelBlock {
                    block_id,
                    account,
                    client_order_id: 0,
                },
                true,
            ),
            Step::Bid {
                account,
                price_ticks,
                quantity_t,
            } => (
                Command::Bid(NewBid {
                    bid_id: OrderId(next_id),
                    auction_id: 1,
                    account,
                    price_ticks,
                    quantity_t,
                    client_order_id: 0,
                }),
                true,
            ),
            Step::CancelBid { back } => {
                let bid_id = bids
                    .iter()
                    .rev()
                    .nth(back as usize)
                    .copied()
                    .unwrap_or(next_id);
                (
                    Command::CancelBid {
                        auction_id: 1,
                        bid_id: OrderId(bid_id),
                        requester: None,
                    },
                    true,
                )
            }
            Step::AmendBid {
                back,
                price_ticks,
                quantity_t,
            } => {
                let bid_id = bids
                    .iter()
                    .rev()
                    .nth(back as usize)
                    .copied()
                    .unwrap_or(next_id);
                (
                    Command::AmendBid {
                        auction_id: 1,
                        bid_id: OrderId(bid_id),
                        price_ticks,
                        quantity_t,
                        requester: None,
                    },
                    true,
                )
            }
            Step::Admin(command) => (command, false),
        };
        let stamp = Stamp {
            seq: seq + 1,
            time_ns: (seq + 1) as i64,
        };
        let mut events = Vec::new();
        let before = live.state();
        live.apply(&command, stamp, &mut events);
        live.check_invariants();
        if broker && matches!(events.as_slice(), [Event::Rejected(_)]) {
            // Not journaled; the seq goes to the next command.
            prop_assert_eq!(
                &before,
                &live.state(),
                "refused {:?} changed the state",
                command
            );
            skipped += 1;
            continue;
        }
        seq += 1;
        if let Command::Bid(b) = &command {
            if matches!(events.first(), Some(Event::BidAccepted(_))) {
                bids.push(b.bid_id.0);
            }
        }
        let mut again = Vec::new();
        restarted.apply(&command, stamp, &mut again);
        prop_assert_eq!(&events, &again, "diverged at seq {} on {:?}", seq, command);
        prop_assert_eq!(live.state(), restarted.state());
    }
    prop_assert!(skipped > 0);
    Ok(())
}
