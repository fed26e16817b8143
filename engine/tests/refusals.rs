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
    AccountId, AuctionNotice, BlockRules, Command, Engine, EngineConfig, Event, InstrumentId,
    NewBid, NewBlock, OrderId, Pricing, Side, Stamp, Take,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

mod streams;

use streams::{account, instrument, Step as OrderStep, INSTRUMENTS};

/// The streams' market, with one-way auctions open.
fn config() -> EngineConfig {
    let mut config = streams::config();
    for spec in &mut config.instruments {
        spec.auctions = Some(true);
        spec.min_auction_t = Some(10);
    }
    config
}

/// An order step of the streams, or a take, block or bid step; order ids
/// are offsets, made absolute by the runner.
#[derive(Clone, Debug)]
enum Step {
    Order(OrderStep),
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
    let side = || prop_oneof![Just(Side::Buy), Just(Side::Sell)];
    let take = (account(), instrument(), side(), 0u64..8, 0u64..=40).prop_map(
        |(account, instrument, side, back, quantity_t)| Step::Take {
            account,
            instrument,
            side,
            back,
            quantity_t,
        },
    );
    let post = (account(), instrument(), side(), 60i64..=140, 0u64..=40).prop_map(
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
        19 => streams::step().prop_map(Step::Order),
        3 => take,
        2 => post,
        2 => accept,
        1 => cancel_block,
        2 => bid,
        1 => cancel_bid,
        1 => amend_bid,
    ]
}

/// The streams' genesis, then blocks opened on both instruments (a small
/// minimum and few open offers, so that every block rule fires) and one
/// auction bidding all along, account 0 selling.
fn genesis() -> Vec<Command> {
    let mut commands = streams::genesis();
    for instrument in 0..INSTRUMENTS {
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
    let commands = genesis()
        .into_iter()
        .map(|c| Step::Order(OrderStep::Admin(c)))
        .chain(steps);
    for step in commands {
        let next_id = seq + 1;
        let back_id = |back: u64| OrderId(next_id.saturating_sub(back + 1));
        // The bid accepted `back` bids before the last (an id of no bid past
        // the first).
        let bid_back = |back: u64| {
            let back = usize::try_from(back).unwrap_or(usize::MAX);
            bids.iter().rev().nth(back).copied().unwrap_or(next_id)
        };
        let (command, broker) = match step {
            Step::Order(order) => {
                let broker = !matches!(order, OrderStep::Admin(_));
                (order.command(OrderId(next_id), back_id), broker)
            }
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
                let bid_id = bid_back(back);
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
                let bid_id = bid_back(back);
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
