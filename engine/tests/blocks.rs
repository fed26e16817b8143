//! Block trades (大宗协议), as a specification: every rule of
//! `docs/ENGINE.md` "Block trades" is a row of the table below, and the
//! scenarios after it show the whole life of an offer: posted, accepted in
//! part, accepted for the rest, withdrawn, expired, confirmed or refused by
//! the exchange. Sources: `docs/CEA_RULES.md` §1, §2, §8.9.
//!
//! Every command also runs through [`Engine::replay`] on a second engine,
//! which must reach the same state from the events alone, and
//! `check_invariants()` (reservations equal what open orders, offers and
//! pending deals claim) runs after each.

use cetx_engine::{
    AccountId, BlockRules, BrokerId, CancelCause, Command, Engine, EngineConfig, Event,
    InstrumentId, InstrumentSpec, NewBlock, NewOrder, OrderId, OrderType, ParticipantType, Phase,
    RejectReason, Side, Stamp, Status, TimeInForce,
};
use rust_decimal::Decimal;

const CEA: InstrumentId = InstrumentId(0);
const CCER: InstrumentId = InstrumentId(1);
const ALICE: AccountId = AccountId(1);
const BOB: AccountId = AccountId(2);
const CAROL: AccountId = AccountId(3);
/// An institution: not eligible for CEA.
const INST: AccountId = AccountId(4);
/// 13:30 in Beijing (UTC+8) on 1 January 1970: inside every block session.
const AFTERNOON_NS: i64 = (13 * 3_600 + 30 * 60 - 8 * 3_600) * 1_000_000_000;
/// 10:00 in Beijing: CCER block hours, not CEA's.
const MORNING_NS: i64 = (10 * 3_600 - 8 * 3_600) * 1_000_000_000;
const T: u64 = 100_000;

/// A market with `CEA2025` and `CCER` at reference 100.00 CNY (block band
/// 70.00..=130.00), the default calendar, CCER blocks opened, and four
/// funded accounts: ALICE, BOB and CAROL compliance entities, INST an
/// institution, each with 100 M CNY and 1 Mt of both instruments.
struct Market {
    engine: Engine,
    replica: Engine,
    seq: u64,
    time_ns: i64,
}

impl Market {
    fn new() -> Self {
        let instruments = vec![
            InstrumentSpec::cea(2025, Decimal::new(100_00, 2)),
            InstrumentSpec::ccer(Decimal::new(100_00, 2)),
        ];
        let engine = Engine::new(&EngineConfig { instruments }).unwrap();
        let mut market = Self {
            replica: engine.clone(),
            engine,
            seq: 0,
            time_ns: AFTERNOON_NS,
        };
        market.ok(Command::SetCalendar(Box::default()));
        let mut ccer = BlockRules::for_kind(&cetx_engine::InstrumentKind::Ccer {});
        ccer.enabled = true;
        market.ok(Command::SetBlockRules {
            instrument: CCER,
            rules: Box::new(ccer),
        });
        for instrument in [CEA, CCER] {
            market.ok(Command::SetPhase {
                instrument,
                phase: Phase::Continuous,
            });
        }
        for (id, who) in [
            (ALICE, ParticipantType::ComplianceEntity),
            (BOB, ParticipantType::ComplianceEntity),
            (CAROL, ParticipantType::ComplianceEntity),
            (INST, ParticipantType::Institution),
        ] {
            market.ok(Command::OpenAccount {
                account: id,
                participant: who,
                broker: BrokerId(id.0),
            });
            market.ok(Command::Deposit {
                account: id,
                amount_fen: 10_000_000_000,
            });
            for instrument in [CEA, CCER] {
                market.ok(Command::CreditHoldings {
                    account: id,
                    instrument,
                    quantity_t: 1_000_000,
                });
            }
        }
        market
    }

    fn apply(&mut self, command: &Command) -> Vec<Event> {
        self.seq += 1;
        let stamp = Stamp {
            seq: self.seq,
            time_ns: self.time_ns,
        };
        let mut events = Vec::new();
        self.engine.apply(command, stamp, &mut events);
        self.engine.check_invariants();
        self.replica
            .replay(stamp, command, &events)
            .unwrap_or_else(|e| panic!("replay of {command:?}: {e}"));
        self.replica.check_invariants();
        assert_eq!(self.replica.state(), self.engine.state(), "replay differs");
        events
    }

    fn ok(&mut self, command: Command) -> Vec<Event> {
        let events = self.apply(&command);
        assert!(
            !events.iter().any(|e| matches!(e, Event::Rejected(_))),
            "{command:?} was rejected: {events:?}"
        );
        events
    }

    fn reject(&mut self, command: Command) -> RejectReason {
        let before = self.engine.state();
        match self.apply(&command)[..] {
            [Event::Rejected(r)] => {
                assert_eq!(before, self.engine.state(), "a rejection changed the state");
                r.reason
            }
            ref other => panic!("{command:?} was not rejected: {other:?}"),
        }
    }

    /// Posts an offer that must be accepted; returns its id.
    fn post(&mut self, block: NewBlock) -> u64 {
        match self.ok(Command::PostBlock(block))[..] {
            [Event::BlockPosted(p)] => p.block_id,
            ref other => panic!("not posted: {other:?}"),
        }
    }

    fn cash(&self, id: AccountId) -> (i64, i64) {
        let a = self.engine.account(id).unwrap();
        (a.cash_fen, a.reserved_fen)
    }

    fn held(&self, id: AccountId, instrument: InstrumentId) -> (u64, u64, u64) {
        let h = self.engine.holdings(id).unwrap()[usize::from(instrument.0)];
        (h.balance_t, h.reserved_t, h.locked_t)
    }
}

/// ALICE sells 300,000 t of CEA at 100.00, open to all.
fn sell_offer() -> NewBlock {
    NewBlock {
        account: ALICE,
        instrument: CEA,
        side: Side::Sell,
        price_ticks: 10_000,
        quantity_t: 3 * T,
        counterparty: None,
        client_order_id: 1,
    }
}

fn accept(block_id: u64, account: AccountId, quantity_t: u64) -> Command {
    Command::AcceptBlock {
        block_id,
        account,
        quantity_t,
        client_order_id: 2,
    }
}

/// One rule: what to change before, the command, and the reason it gets.
struct Row {
    rule: &'static str,
    setup: fn(&mut Market) -> u64,
    command: fn(u64) -> Command,
    reason: RejectReason,
}

fn nothing(_: &mut Market) -> u64 {
    0
}

fn posted(m: &mut Market) -> u64 {
    m.post(sell_offer())
}

fn posted_to_carol(m: &mut Market) -> u64 {
    m.post(NewBlock {
        counterparty: Some(CAROL),
        ..sell_offer()
    })
}

fn post(change: fn(&mut NewBlock)) -> Command {
    let mut block = sell_offer();
    change(&mut block);
    Command::PostBlock(block)
}

#[test]
fn every_block_rule_has_its_reject_code() {
    let rows = [
        Row {
            rule: "an unknown instrument",
            setup: nothing,
            command: |_| post(|b| b.instrument = InstrumentId(9)),
            reason: RejectReason::UnknownInstrument,
        },
        Row {
            rule: "CCER blocks are off until the exchange opens them (130)",
            setup: |m| {
                m.ok(Command::SetBlockRules {
                    instrument: CCER,
                    rules: Box::new(BlockRules::for_kind(&cetx_engine::InstrumentKind::Ccer {})),
                });
                0
            },
            command: |_| post(|b| b.instrument = CCER),
            reason: RejectReason::BlocksNotEnabled,
        },
        Row {
            rule: "CEA blocks only 13:00-15:00 (131)",
            setup: |m| {
                m.time_ns = MORNING_NS;
                0
            },
            command: |_| post(|_| {}),
            reason: RejectReason::BlockOutsideHours,
        },
        Row {
            rule: "no block while the instrument is halted (131)",
            setup: |m| {
                m.ok(Command::SetPhase {
                    instrument: CEA,
                    phase: Phase::Halted,
                });
                0
            },
            command: |_| post(|_| {}),
            reason: RejectReason::BlockOutsideHours,
        },
        Row {
            rule: "an acceptance outside the hours (131)",
            setup: |m| {
                let id = posted(m);
                m.time_ns = MORNING_NS;
                id
            },
            command: |id| accept(id, BOB, 3 * T),
            reason: RejectReason::BlockOutsideHours,
        },
        Row {
            rule: "a zero quantity",
            setup: nothing,
            command: |_| post(|b| b.quantity_t = 0),
            reason: RejectReason::QuantityZero,
        },
        Row {
            rule: "an offer below 100,000 t (132)",
            setup: nothing,
            command: |_| post(|b| b.quantity_t = T - 1),
            reason: RejectReason::BlockBelowMinimum,
        },
        Row {
            rule: "a partial acceptance below 100,000 t (132)",
            setup: posted,
            command: |id| accept(id, BOB, T - 1),
            reason: RejectReason::BlockBelowMinimum,
        },
        Row {
            rule: "a price off the tick",
            setup: |m| {
                let mut rules =
                    BlockRules::for_kind(&cetx_engine::InstrumentKind::Cea { vintage: 2025 });
                rules.min_t = 1;
                m.ok(Command::SetBlockRules {
                    instrument: CEA,
                    rules: Box::new(rules),
                });
                m.ok(Command::SetPhase {
                    instrument: CEA,
                    phase: Phase::Closed,
                });
                let mut spec = InstrumentSpec::cea(2025, Decimal::new(100_00, 2));
                spec.tick = Decimal::new(5, 2);
                m.ok(Command::ReviseInstrument {
                    instrument: CEA,
                    spec: Box::new(spec),
                });
                m.ok(Command::SetPhase {
                    instrument: CEA,
                    phase: Phase::Continuous,
                });
                0
            },
            command: |_| post(|b| b.price_ticks = 10_001),
            reason: RejectReason::PriceNotOnTick,
        },
        Row {
            rule: "a price above reference +30% (133)",
            setup: nothing,
            command: |_| post(|b| b.price_ticks = 13_001),
            reason: RejectReason::BlockPriceOutsideBand,
        },
        Row {
            rule: "a price below reference -30% (133)",
            setup: nothing,
            command: |_| post(|b| b.price_ticks = 6_999),
            reason: RejectReason::BlockPriceOutsideBand,
        },
        Row {
            rule: "an unknown offer (134)",
            setup: nothing,
            command: |_| accept(77, BOB, 3 * T),
            reason: RejectReason::UnknownBlock,
        },
        Row {
            rule: "confirming no pending deal (134)",
            setup: posted,
            command: |id| Command::ConfirmBlock { deal_id: id },
            reason: RejectReason::UnknownBlock,
        },
        Row {
            rule: "only the poster withdraws (135)",
            setup: posted,
            command: |id| Command::CancelBlock {
                block_id: id,
                account: BOB,
                client_order_id: 0,
            },
            reason: RejectReason::BlockNotPoster,
        },
        Row {
            rule: "no self-acceptance (136)",
            setup: posted,
            command: |id| accept(id, ALICE, 3 * T),
            reason: RejectReason::BlockSelfAccept,
        },
        Row {
            rule: "no offer directed at oneself (136)",
            setup: nothing,
            command: |_| post(|b| b.counterparty = Some(ALICE)),
            reason: RejectReason::BlockSelfAccept,
        },
        Row {
            rule: "a directed offer is for its counterparty only (137)",
            setup: posted_to_carol,
            command: |id| accept(id, BOB, 3 * T),
            reason: RejectReason::BlockDirectedElsewhere,
        },
        Row {
            rule: "an acceptance above what remains (138)",
            setup: posted,
            command: |id| accept(id, BOB, 3 * T + 1),
            reason: RejectReason::BlockQuantityInvalid,
        },
        Row {
            rule: "an acceptance that leaves less than the minimum (138)",
            setup: posted,
            command: |id| accept(id, BOB, 2 * T + 1),
            reason: RejectReason::BlockQuantityInvalid,
        },
        Row {
            rule: "the open limit per instrument (139)",
            setup: |m| {
                let mut rules =
                    BlockRules::for_kind(&cetx_engine::InstrumentKind::Cea { vintage: 2025 });
                rules.max_open = 1;
                m.ok(Command::SetBlockRules {
                    instrument: CEA,
                    rules: Box::new(rules),
                });
                posted(m)
            },
            command: |_| post(|_| {}),
            reason: RejectReason::BlockLimitReached,
        },
        Row {
            rule: "an unknown counterparty",
            setup: nothing,
            command: |_| post(|b| b.counterparty = Some(AccountId(99))),
            reason: RejectReason::UnknownAccount,
        },
        Row {
            rule: "the poster pre-funds: cash for a buy",
            setup: nothing,
            command: |_| {
                post(|b| {
                    b.side = Side::Buy;
                    b.quantity_t = 20 * T;
                    b.price_ticks = 13_000;
                })
            },
            reason: RejectReason::InsufficientCash,
        },
        Row {
            rule: "the poster pre-funds: allowances for a sell",
            setup: nothing,
            command: |_| post(|b| b.quantity_t = 11 * T),
            reason: RejectReason::InsufficientHoldings,
        },
        Row {
            rule: "the acceptor pre-funds",
            setup: |m| {
                m.ok(Command::Withdraw {
                    account: BOB,
                    amount_fen: 9_990_000_000,
                });
                posted(m)
            },
            command: |id| accept(id, BOB, 3 * T),
            reason: RejectReason::InsufficientCash,
        },
        Row {
            rule: "CEA T+1: today's block purchase is not sellable today",
            setup: |m| {
                let id = posted(m);
                m.ok(accept(id, BOB, 3 * T));
                m.ok(Command::DebitHoldings {
                    account: BOB,
                    instrument: CEA,
                    quantity_t: 1_000_000,
                });
                0
            },
            command: |_| {
                post(|b| {
                    b.account = BOB;
                    b.quantity_t = 2 * T;
                })
            },
            reason: RejectReason::HoldingsLockedUntilNextDay,
        },
        Row {
            rule: "eligibility: an institution may not trade CEA",
            setup: posted,
            command: |id| accept(id, INST, 3 * T),
            reason: RejectReason::ParticipantNotEligible,
        },
        Row {
            rule: "a suspended account may not post",
            setup: |m| {
                m.ok(Command::SetAccountStatus {
                    account: ALICE,
                    status: Status::Suspended,
                });
                0
            },
            command: |_| post(|_| {}),
            reason: RejectReason::AccountSuspended,
        },
    ];
    for row in rows {
        let mut market = Market::new();
        let id = (row.setup)(&mut market);
        let reason = market.reject((row.command)(id));
        assert_eq!(reason, row.reason, "{}", row.rule);
    }
}

/// PROTOCOL.md, *Reject reasons*: a post refused outside the block hours
/// quotes the next block session (later today, else the day's first); one
/// refused within the hours, for the instrument's phase, quotes none.
#[test]
fn a_block_outside_the_hours_quotes_the_next_block_session() {
    const HOUR_NS: i64 = 3_600 * 1_000_000_000;
    let refusal = |m: &mut Market, command: Command| match m.apply(&command)[..] {
        [Event::Rejected(r)] => (r.reason, r.bounds.map(|b| (b.low, b.high))),
        ref other => panic!("{command:?} was not rejected: {other:?}"),
    };
    let outside = |low, high| (RejectReason::BlockOutsideHours, Some((low, high)));
    let mut m = Market::new();
    let mut ccer_rules = BlockRules::for_kind(&cetx_engine::InstrumentKind::Ccer {});
    ccer_rules.enabled = true;
    m.ok(Command::SetBlockRules {
        instrument: CCER,
        rules: Box::new(ccer_rules),
    });
    let ccer = || post(|b| b.instrument = CCER);
    // 10:00: CEA's one session (13:00 to 15:00) is next; CCER is in its
    // morning session, so its offer is not refused for the hours.
    m.time_ns = MORNING_NS;
    assert_eq!(refusal(&mut m, post(|_| {})), outside(46_800, 54_000));
    // 12:00: CCER's afternoon session is next.
    m.time_ns = MORNING_NS + 2 * HOUR_NS;
    assert_eq!(refusal(&mut m, ccer()), outside(46_800, 54_000));
    // 16:00: tomorrow's first, 09:30 to 11:30 for CCER.
    m.time_ns = MORNING_NS + 6 * HOUR_NS;
    assert_eq!(refusal(&mut m, ccer()), outside(34_200, 41_400));
    // 13:30, halted: within the hours, so no session to quote.
    m.time_ns = AFTERNOON_NS;
    m.ok(Command::SetPhase {
        instrument: CEA,
        phase: Phase::Halted,
    });
    assert_eq!(
        refusal(&mut m, post(|_| {})),
        (RejectReason::BlockOutsideHours, None)
    );
}

#[test]
fn a_directed_offer_is_accepted_in_part_then_for_the_rest() {
    let mut m = Market::new();
    let id = m.post(NewBlock {
        counterparty: Some(BOB),
        ..sell_offer()
    });
    // Posting reserves ALICE's 300,000 t.
    assert_eq!(m.held(ALICE, CEA), (1_000_000, 3 * T, 0));
    let events = m.ok(accept(id, BOB, T));
    let [Event::BlockAccepted(a), Event::BlockTraded(t)] = events[..] else {
        panic!("{events:?}");
    };
    assert_eq!((a.quantity_t, a.remaining_t, a.pending), (T, 2 * T, false));
    assert_eq!((t.trade_id, t.deal_id, t.block_id), (1, a.deal_id, id));
    assert_eq!((t.buyer_account, t.seller_account), (BOB, ALICE));
    assert_eq!(
        (t.price_ticks, t.quantity_t, t.poster_side),
        (10_000, T, Side::Sell)
    );
    assert_eq!(m.held(ALICE, CEA), (900_000, 2 * T, 0));
    // BOB's purchase is locked until tomorrow (T+1).
    assert_eq!(m.held(BOB, CEA), (1_100_000, 0, T));
    assert_eq!(m.cash(BOB), (9_000_000_000, 0));
    assert_eq!(m.cash(ALICE), (11_000_000_000, 0));
    let events = m.ok(accept(id, BOB, 2 * T));
    assert!(matches!(
        events[..],
        [Event::BlockAccepted(a), Event::BlockTraded(t)] if a.remaining_t == 0 && t.trade_id == 2
    ));
    assert!(m.engine.blocks().offers.is_empty());
    assert_eq!(m.reject(accept(id, BOB, T)), RejectReason::UnknownBlock);
    // Blocks are not in the close: the day closes at the reference.
    let events = m.ok(Command::EndOfDay { trading_date: None });
    let close = events.iter().find_map(|e| match e {
        Event::DayClosed(d) if d.instrument == CEA => Some(*d),
        _ => None,
    });
    let close = close.unwrap();
    assert_eq!(
        (close.close_ticks, close.volume_t, close.trade_count),
        (10_000, 0, 0)
    );
}

#[test]
fn a_block_does_not_move_the_close_of_listing_trades() {
    let mut m = Market::new();
    let id = m.post(NewBlock {
        price_ticks: 12_500,
        ..sell_offer()
    });
    m.ok(accept(id, BOB, 3 * T));
    let order = |order_id, account, side| {
        Command::Submit(NewOrder {
            order_id: OrderId(order_id),
            account,
            instrument: CEA,
            side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Day,
            price_ticks: 10_100,
            quantity_t: 10,
            client_order_id: 0,
        })
    };
    m.ok(order(1, CAROL, Side::Sell));
    let events = m.ok(order(2, ALICE, Side::Buy));
    // The listing trade takes the next trade id after the block's.
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Trade(t) if t.trade_id == 2)));
    let events = m.ok(Command::EndOfDay { trading_date: None });
    let close = events
        .iter()
        .find_map(|e| match e {
            Event::DayClosed(d) if d.instrument == CEA => Some(*d),
            _ => None,
        })
        .unwrap();
    assert_eq!((close.close_ticks, close.volume_t), (10_100, 10));
}

#[test]
fn the_poster_withdraws_and_open_offers_expire_at_the_end_of_the_day() {
    let mut m = Market::new();
    let first = m.post(sell_offer());
    let second = m.post(NewBlock {
        side: Side::Buy,
        price_ticks: 9_000,
        quantity_t: 2 * T,
        ..sell_offer()
    });
    assert_eq!(m.cash(ALICE), (10_000_000_000, 1_800_000_000));
    let events = m.ok(Command::CancelBlock {
        block_id: first,
        account: ALICE,
        client_order_id: 0,
    });
    assert!(matches!(
        events[..],
        [Event::BlockCancelled(c)] if c.block_id == first
            && c.cancelled_t == 3 * T
            && c.cause == CancelCause::Requested
    ));
    assert_eq!(m.held(ALICE, CEA), (1_000_000, 0, 0));
    let events = m.ok(Command::EndOfDay { trading_date: None });
    assert!(matches!(
        events[0],
        Event::BlockCancelled(c) if c.block_id == second
            && c.side == Side::Buy
            && c.cause == CancelCause::Expired
    ));
    assert_eq!(m.cash(ALICE), (10_000_000_000, 0));
    assert!(m.engine.blocks().offers.is_empty());
}

#[test]
fn a_suspension_withdraws_the_accounts_offers() {
    let mut m = Market::new();
    let id = m.post(sell_offer());
    let events = m.ok(Command::SetAccountStatus {
        account: ALICE,
        status: Status::Suspended,
    });
    assert!(events.iter().any(|e| matches!(
        e,
        Event::BlockCancelled(c) if c.block_id == id && c.cause == CancelCause::Suspended
    )));
    assert_eq!(m.held(ALICE, CEA), (1_000_000, 0, 0));
}

impl Market {
    /// Applies `command` and returns its events, with the replica as it
    /// was before and the command's stamp, to replay forged events on.
    fn apply_keeping_before(&mut self, command: &Command) -> (Vec<Event>, Engine, Stamp) {
        let before = self.replica.clone();
        let stamp = Stamp {
            seq: self.seq + 1,
            time_ns: self.time_ns,
        };
        (self.ok(command.clone()), before, stamp)
    }
}

/// Replays `events` as `command`'s onto a copy of `before`: what it says
/// when it refuses them.
fn replay_refused(before: &Engine, stamp: Stamp, command: &Command, events: &[Event]) -> String {
    let mut replica = before.clone();
    match replica.replay(stamp, command, events) {
        Ok(()) => panic!("{command:?} replayed with {events:?}"),
        Err(error) => error.to_string(),
    }
}

/// A journal must end the blocks the engine ends, all of them, in its
/// order (id order; an end of day's before anything else, a suspension's
/// after its orders) and with its cause: a registry settles from them.
#[test]
fn a_journal_ends_exactly_the_blocks_the_engine_ends() {
    let mut m = Market::new();
    let (a, b) = (m.post(sell_offer()), m.post(sell_offer()));
    let bob_s = m.post(NewBlock {
        account: BOB,
        ..sell_offer()
    });
    let suspend = Command::SetAccountStatus {
        account: ALICE,
        status: Status::Suspended,
    };
    let (events, before, stamp) = m.apply_keeping_before(&suspend);
    let ended: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::BlockCancelled(c) => Some(c.block_id),
            _ => None,
        })
        .collect();
    assert_eq!(ended, [a, b]);
    let change = |edit: &dyn Fn(&mut Vec<Event>)| {
        let mut forged = events.clone();
        edit(&mut forged);
        forged
    };
    let with_cause = |cause| {
        change(&|forged: &mut Vec<Event>| {
            if let Some(Event::BlockCancelled(c)) = forged.last_mut() {
                c.cause = cause;
            }
        })
    };
    let bob_s_too = change(&|forged: &mut Vec<Event>| {
        let Some(&Event::BlockCancelled(c)) = forged.last() else {
            unreachable!()
        };
        forged.push(Event::BlockCancelled(cetx_engine::BlockCancelled {
            block_id: bob_s,
            account: BOB,
            ..c
        }));
    });
    for forged in [
        change(&|forged: &mut Vec<Event>| forged.swap(1, 2)),
        change(&|forged: &mut Vec<Event>| {
            forged.pop();
        }),
        bob_s_too,
        with_cause(CancelCause::Requested),
    ] {
        let said = replay_refused(&before, stamp, &suspend, &forged);
        assert!(said.contains("where the engine ends"), "{said}");
    }

    // An end of day: BOB's offer and a deal pending confirmation.
    m.ok(Command::SetAccountStatus {
        account: ALICE,
        status: Status::Active,
    });
    let ccer = m.post(NewBlock {
        instrument: CCER,
        ..sell_offer()
    });
    let [Event::BlockAccepted(deal)] = m.ok(accept(ccer, CAROL, 3 * T))[..] else {
        panic!("the CCER deal waits for the exchange");
    };
    let end = Command::EndOfDay { trading_date: None };
    let (events, before, stamp) = m.apply_keeping_before(&end);
    assert!(matches!(
        events[..2],
        [Event::BlockCancelled(o), Event::BlockCancelled(d)]
            if (o.block_id, d.block_id) == (bob_s, deal.deal_id)
    ));
    let mut dropped = events.clone();
    dropped.remove(1);
    let mut requested = events.clone();
    if let Event::BlockCancelled(c) = &mut requested[0] {
        c.cause = CancelCause::Requested;
    }
    let mut late = events.clone();
    let first = late.remove(0);
    late.insert(3, first);
    for forged in [dropped, requested, late] {
        let said = replay_refused(&before, stamp, &end, &forged);
        assert!(said.contains("ends") && said.contains("blocks"), "{said}");
    }
}

#[test]
fn a_ccer_deal_waits_for_the_exchange_then_settles_or_is_refused() {
    let mut m = Market::new();
    // CCER blocks trade in the morning session too.
    m.time_ns = MORNING_NS;
    let id = m.post(NewBlock {
        instrument: CCER,
        ..sell_offer()
    });
    let events = m.ok(accept(id, BOB, T));
    let [Event::BlockAccepted(first)] = events[..] else {
        panic!("{events:?}");
    };
    assert!(first.pending);
    // Both sides stay locked while the deal waits.
    assert_eq!(m.held(ALICE, CCER), (1_000_000, 3 * T, 0));
    assert_eq!(m.cash(BOB), (10_000_000_000, 1_000_000_000));
    let events = m.ok(Command::ConfirmBlock {
        deal_id: first.deal_id,
    });
    assert!(matches!(
        events[..],
        [Event::BlockTraded(t)] if t.deal_id == first.deal_id && t.quantity_t == T
    ));
    // CCER has no T+1: nothing is locked.
    assert_eq!(m.held(BOB, CCER), (1_100_000, 0, 0));
    assert_eq!(m.cash(BOB), (9_000_000_000, 0));
    let events = m.ok(accept(id, BOB, 2 * T));
    let [Event::BlockAccepted(second)] = events[..] else {
        panic!("{events:?}");
    };
    let events = m.ok(Command::RefuseBlock {
        deal_id: second.deal_id,
    });
    assert!(matches!(
        events[..],
        [Event::BlockCancelled(c)] if c.block_id == second.deal_id
            && c.account == BOB
            && c.side == Side::Buy
            && c.cause == CancelCause::Refused
    ));
    assert_eq!(m.cash(BOB), (9_000_000_000, 0));
    assert_eq!(m.held(ALICE, CCER), (900_000, 0, 0));
    assert_eq!(
        m.reject(Command::RefuseBlock {
            deal_id: second.deal_id
        }),
        RejectReason::UnknownBlock
    );
}

/// With `max_open` offers and deals open, an offer accepted whole still
/// trades: its deal, which waits, takes the offer's place (an outside
/// tester found a full instrument's block market stuck until offers were
/// withdrawn). A partial acceptance would add a deal beside the offer's
/// rest, and is refused.
#[test]
fn a_full_instrument_still_trades_an_offer_accepted_whole() {
    let mut m = Market::new();
    m.time_ns = MORNING_NS;
    let mut ccer = BlockRules::for_kind(&cetx_engine::InstrumentKind::Ccer {});
    ccer.enabled = true;
    ccer.max_open = 1;
    m.ok(Command::SetBlockRules {
        instrument: CCER,
        rules: Box::new(ccer),
    });
    let id = m.post(NewBlock {
        instrument: CCER,
        ..sell_offer()
    });
    assert_eq!(
        m.reject(accept(id, BOB, T)),
        RejectReason::BlockLimitReached
    );
    let events = m.ok(accept(id, BOB, 3 * T));
    assert!(
        matches!(events[..], [Event::BlockAccepted(deal)] if deal.pending && deal.quantity_t == 3 * T),
        "{events:?}"
    );
    // The deal holds the one place now.
    assert_eq!(
        m.reject(post(|b| b.instrument = CCER)),
        RejectReason::BlockLimitReached
    );
}

#[test]
fn an_unconfirmed_deal_lapses_at_the_end_of_the_day() {
    let mut m = Market::new();
    let id = m.post(NewBlock {
        instrument: CCER,
        ..sell_offer()
    });
    let events = m.ok(accept(id, BOB, 3 * T));
    let [Event::BlockAccepted(deal)] = events[..] else {
        panic!("{events:?}");
    };
    assert!(m.engine.blocks().offers.is_empty());
    let events = m.ok(Command::EndOfDay { trading_date: None });
    assert!(matches!(
        events[0],
        Event::BlockCancelled(c) if c.block_id == deal.deal_id && c.cause == CancelCause::Expired
    ));
    assert_eq!(m.cash(BOB), (10_000_000_000, 0));
    assert_eq!(m.held(ALICE, CCER), (1_000_000, 0, 0));
}

#[test]
fn open_offers_and_pending_deals_survive_a_snapshot() {
    let mut m = Market::new();
    let id = m.post(NewBlock {
        instrument: CCER,
        counterparty: Some(BOB),
        ..sell_offer()
    });
    m.ok(accept(id, BOB, T));
    let state = m.engine.state();
    assert_eq!(
        (state.blocks.offers.len(), state.blocks.deals.len()),
        (1, 1)
    );
    let restored = Engine::from_state(&state).unwrap();
    assert_eq!(restored.state(), state);
    restored.check_invariants();
}

#[test]
fn open_offers_and_pending_deals_keep_their_instrument_s_rules() {
    let mut m = Market::new();
    let block_id = m.post(sell_offer());
    m.ok(Command::SetPhase {
        instrument: CEA,
        phase: Phase::Halted,
    });
    // The offer's price and quantity were checked under the rules of the
    // moment; a lot of 7 t would leave it impossible to take whole.
    let mut spec = InstrumentSpec::cea(2025, Decimal::new(100_00, 2));
    spec.lot_t = 7;
    spec.min_order_t = 7;
    spec.max_order_t -= spec.max_order_t % 7;
    let revise = Command::ReviseInstrument {
        instrument: CEA,
        spec: Box::new(spec),
    };
    assert_eq!(m.reject(revise.clone()), RejectReason::InstrumentBusy);
    // Its price was checked against today's band, which may not move.
    let reference = Command::SetReferencePrice {
        instrument: CEA,
        price_ticks: 80_00,
    };
    assert_eq!(m.reject(reference), RejectReason::ReferencePriceLocked);

    // A journal written before open offers counted may hold just such a
    // revision: replay applies it as it was.
    let mut before = m.engine.clone();
    m.ok(Command::CancelBlock {
        block_id,
        account: ALICE,
        client_order_id: 0,
    });
    let events = m.ok(revise.clone());
    let stamp = Stamp {
        seq: m.seq + 1,
        time_ns: m.time_ns,
    };
    before
        .replay(stamp, &revise, &events)
        .expect("a revision beside an open offer, journaled by an older build, replays");
    assert_eq!(
        before.blocks().offers.len(),
        1,
        "the offer is still open in the older journal"
    );
}

/// Block rules lowered below the offers open free nothing of the market's
/// total until those offers end (reviewer 160 F4: a `max_open` lowered
/// mid-day let other instruments take the room while the offers stayed
/// open, and the end of day could pass one journal record): the total
/// counts the offers open where they are more than `max_open`.
#[test]
fn offers_open_past_a_lowered_max_open_still_count_in_the_market_s_total() {
    let mut m = Market::new();
    for _ in 0..3 {
        posted(&mut m);
    }
    let mut one = BlockRules::for_kind(&m.engine.spec(CEA).unwrap().kind);
    one.max_open = 1;
    m.ok(Command::SetBlockRules {
        instrument: CEA,
        rules: Box::new(one),
    });
    let books: u64 = [CEA, CCER]
        .iter()
        .map(|&i| u64::from(m.engine.spec(i).unwrap().max_orders))
        .sum();
    // CEA's blocks count 3 (open), not 1; CCER's 4,096; the new one's 4,096.
    let room = cetx_engine::MAX_OPEN_TOTAL - books - 3 - 4_096 - 4_096;
    let listing = |max_orders: u64| {
        let mut spec = InstrumentSpec::cea(2026, Decimal::new(100_00, 2));
        spec.max_orders = u32::try_from(max_orders).unwrap();
        Command::ListInstrument(Box::new(spec))
    };
    assert_eq!(
        m.reject(listing(room + 1)),
        RejectReason::InvalidInstrumentSpec
    );
    m.ok(listing(room));
}
