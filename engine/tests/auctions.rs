//! One-way auctions (单向竞价), as a specification: `docs/CEA_RULES.md`
//! §1, §2 and §8.10, and `docs/ENGINE.md` "One-way auctions".
//!
//! Every rule is a row of the table in [`every_rule_is_a_reject_code`];
//! the scenarios after it show the close: ranking by price then time, the
//! marginal bid's partial fill, uniform price and pay-as-bid, and where
//! every fen and tonne goes. After every command the engine's invariants
//! run (every reservation equals what its orders, bids and auctions claim),
//! and a second engine replays the events alone and must end in the same
//! state; the state also survives a snapshot's encoding.

use cetx_engine::journal::{decode_state, encode_state};
use cetx_engine::{
    AccountId, AuctionNotice, BrokerId, CancelCause, Command, Engine, EngineConfig, Event,
    InstrumentId, InstrumentSpec, NewBid, OrderId, ParticipantType, Phase, Pricing, RejectReason,
    Requester, Stamp,
};
use rust_decimal::Decimal;

const CEA: InstrumentId = InstrumentId(0);
const CCER: InstrumentId = InstrumentId(1);
const SELLER: AccountId = AccountId(1);
/// Bidders: accounts 2 to 6, compliance entities.
const B: [AccountId; 5] = [
    AccountId(2),
    AccountId(3),
    AccountId(4),
    AccountId(5),
    AccountId(6),
];
const INSTITUTION: AccountId = AccountId(9);
/// Each bidder's cash: 20,000,000 CNY, less than 200,000 t at 110.00.
const CASH_FEN: i64 = 20_000_000_00;
/// The bidding window: [START, END).
const START: i64 = 1_000;
const END: i64 = 2_000;

/// A market with `CEA2025` and `CCER` at reference 100.00 CNY (band
/// 90.00..=110.00), a seller holding 500,000 t of each, five bidders with
/// [`CASH_FEN`] each and an institution.
struct Market {
    live: Engine,
    replayed: Engine,
    seq: u64,
    time_ns: i64,
}

impl Market {
    fn new() -> Self {
        Self::with(|_| {})
    }

    fn with(adjust: impl FnOnce(&mut [InstrumentSpec])) -> Self {
        let mut instruments = vec![
            InstrumentSpec::cea(2025, Decimal::new(100_00, 2)),
            InstrumentSpec::ccer(Decimal::new(100_00, 2)),
        ];
        adjust(&mut instruments);
        let config = EngineConfig { instruments };
        let mut market = Self {
            live: Engine::new(&config).unwrap(),
            replayed: Engine::new(&config).unwrap(),
            seq: 0,
            time_ns: 0,
        };
        market.open(SELLER, ParticipantType::ComplianceEntity, 0, 500_000);
        for bidder in B {
            market.open(bidder, ParticipantType::ComplianceEntity, CASH_FEN / 100, 0);
        }
        market.open(INSTITUTION, ParticipantType::Institution, 100_000_000, 0);
        market.ok(Command::SetPhase {
            instrument: CEA,
            phase: Phase::Continuous,
        });
        market
    }

    fn open(&mut self, account: AccountId, who: ParticipantType, cash_cny: i64, held_t: u64) {
        self.ok(Command::OpenAccount {
            account,
            participant: who,
            broker: BrokerId(account.0),
        });
        if cash_cny > 0 {
            self.ok(Command::Deposit {
                account,
                amount_fen: cash_cny * 100,
            });
        }
        if held_t > 0 {
            for instrument in [CEA, CCER] {
                self.ok(Command::CreditHoldings {
                    account,
                    instrument,
                    quantity_t: held_t,
                });
            }
        }
    }

    fn at(&mut self, time_ns: i64) -> &mut Self {
        self.time_ns = time_ns;
        self
    }

    fn apply(&mut self, command: Command) -> Vec<Event> {
        self.seq += 1;
        let stamp = Stamp {
            seq: self.seq,
            time_ns: self.time_ns,
        };
        let mut events = Vec::new();
        self.live.apply(&command, stamp, &mut events);
        self.live.check_invariants();
        self.replayed
            .replay(stamp, &command, &events)
            .expect("the events replay");
        self.replayed.check_invariants();
        assert_eq!(
            self.replayed.state(),
            self.live.state(),
            "after {command:?}"
        );
        events
    }

    fn ok(&mut self, command: Command) -> Vec<Event> {
        let events = self.apply(command.clone());
        assert!(
            !events.iter().any(|e| matches!(e, Event::Rejected(_))),
            "{command:?} was rejected: {events:?}"
        );
        events
    }

    fn reject(&mut self, command: Command) -> RejectReason {
        let before = self.live.state();
        match self.apply(command.clone())[..] {
            [Event::Rejected(r)] => {
                assert_eq!(before, self.live.state(), "a rejection changed the state");
                r.reason
            }
            ref other => panic!("{command:?} was not rejected: {other:?}"),
        }
    }

    fn cash_fen(&self, account: AccountId) -> (i64, i64) {
        let a = self.live.account(account).unwrap();
        (a.cash_fen, a.reserved_fen)
    }

    /// (balance, reserved) of CEA.
    fn cea_t(&self, account: AccountId) -> (u64, u64) {
        let h = self.live.holdings(account).unwrap()[0];
        (h.balance_t, h.reserved_t)
    }
}

fn notice(auction_id: u64, pricing: Pricing) -> AuctionNotice {
    AuctionNotice {
        auction_id,
        instrument: CEA,
        seller: SELLER,
        quantity_t: 200_000,
        floor_ticks: 95_00,
        ceiling_ticks: 110_00,
        start_ns: START,
        end_ns: END,
        pricing,
    }
}

fn announce(n: AuctionNotice) -> Command {
    Command::AnnounceAuction(Box::new(n))
}

fn bid(
    bid_id: u64,
    auction_id: u64,
    account: AccountId,
    price_ticks: i64,
    quantity_t: u64,
) -> Command {
    Command::Bid(NewBid {
        bid_id: OrderId(bid_id),
        auction_id,
        account,
        price_ticks,
        quantity_t,
        client_order_id: bid_id,
    })
}

fn cancel(auction_id: u64, bid_id: u64) -> Command {
    Command::CancelBid {
        auction_id,
        bid_id: OrderId(bid_id),
        requester: Some(Requester {
            broker: BrokerId(2),
            client_order_id: bid_id,
        }),
    }
}

fn amend(auction_id: u64, bid_id: u64, price_ticks: i64, quantity_t: u64) -> Command {
    Command::AmendBid {
        auction_id,
        bid_id: OrderId(bid_id),
        price_ticks,
        quantity_t,
        requester: None,
    }
}

const fn close(auction_id: u64) -> Command {
    Command::CloseAuction { auction_id }
}

/// A market with auction 1 (uniform) announced and bid 100 by B[0] at
/// 100.00 for 50,000 t, at time START.
fn announced() -> Market {
    let mut m = Market::new();
    m.ok(announce(notice(1, Pricing::Uniform)));
    m.at(START).ok(bid(100, 1, B[0], 100_00, 50_000));
    m
}

#[test]
fn every_rule_is_a_reject_code() {
    type Row = (&'static str, fn(&mut Market) -> Command, RejectReason);
    let rows: [Row; 28] = [
        (
            "an auction id not above the last",
            |_| announce(notice(1, Pricing::Uniform)),
            RejectReason::DuplicateAuctionId,
        ),
        (
            "an unknown instrument",
            |_| {
                announce(AuctionNotice {
                    instrument: InstrumentId(9),
                    ..notice(2, Pricing::Uniform)
                })
            },
            RejectReason::UnknownInstrument,
        ),
        (
            "CCER auctions are not open by default",
            |_| {
                announce(AuctionNotice {
                    instrument: CCER,
                    ..notice(2, Pricing::Uniform)
                })
            },
            RejectReason::AuctionsNotOpen,
        ),
        (
            "a zero quantity",
            |_| {
                announce(AuctionNotice {
                    quantity_t: 0,
                    ..notice(2, Pricing::Uniform)
                })
            },
            RejectReason::QuantityZero,
        ),
        (
            "under 100,000 t",
            |_| {
                announce(AuctionNotice {
                    quantity_t: 99_999,
                    ..notice(2, Pricing::Uniform)
                })
            },
            RejectReason::AuctionTooSmall,
        ),
        (
            "a bid of an unknown account",
            |_| bid(200, 1, AccountId(77), 100_00, 1),
            RejectReason::UnknownAccount,
        ),
        (
            "a floor below the previous close less 10%",
            |_| {
                announce(AuctionNotice {
                    floor_ticks: 89_99,
                    ..notice(2, Pricing::Uniform)
                })
            },
            RejectReason::InvalidAuctionTerms,
        ),
        (
            "a ceiling above the previous close plus 10%",
            |_| {
                announce(AuctionNotice {
                    ceiling_ticks: 110_01,
                    ..notice(2, Pricing::Uniform)
                })
            },
            RejectReason::InvalidAuctionTerms,
        ),
        (
            "a floor above the ceiling",
            |_| {
                announce(AuctionNotice {
                    floor_ticks: 105_00,
                    ceiling_ticks: 104_00,
                    ..notice(2, Pricing::Uniform)
                })
            },
            RejectReason::InvalidAuctionTerms,
        ),
        (
            "a window that ends before it starts",
            |_| {
                announce(AuctionNotice {
                    end_ns: START,
                    ..notice(2, Pricing::Uniform)
                })
            },
            RejectReason::InvalidAuctionTerms,
        ),
        (
            "a window that has ended by the announcement",
            |m| {
                m.at(END);
                announce(notice(2, Pricing::Uniform))
            },
            RejectReason::InvalidAuctionTerms,
        ),
        (
            "a seller that does not exist",
            |_| {
                announce(AuctionNotice {
                    seller: AccountId(77),
                    ..notice(2, Pricing::Uniform)
                })
            },
            RejectReason::UnknownAccount,
        ),
        (
            "a seller without the allowances free (200,000 of 500,000 t locked)",
            |_| {
                announce(AuctionNotice {
                    quantity_t: 400_000,
                    ..notice(2, Pricing::Uniform)
                })
            },
            RejectReason::InsufficientHoldings,
        ),
        (
            "a bid id not above the last",
            |_| bid(100, 1, B[1], 100_00, 1),
            RejectReason::DuplicateOrderId,
        ),
        (
            "a bid in an auction never announced",
            |_| bid(200, 9, B[1], 100_00, 1),
            RejectReason::UnknownAuction,
        ),
        (
            "a bid before the window opens",
            |m| {
                m.at(START - 1);
                bid(200, 1, B[1], 100_00, 1)
            },
            RejectReason::AuctionNotBidding,
        ),
        (
            "a bid at the window's end",
            |m| {
                m.at(END);
                bid(200, 1, B[1], 100_00, 1)
            },
            RejectReason::AuctionNotBidding,
        ),
        (
            "a bid of zero tonnes",
            |_| bid(200, 1, B[1], 100_00, 0),
            RejectReason::QuantityZero,
        ),
        (
            "a bid above the quantity offered",
            |_| bid(200, 1, B[1], 100_00, 200_001),
            RejectReason::QuantityAboveMaximum,
        ),
        (
            "an amend above the ceiling",
            |_| amend(1, 100, 110_01, 1),
            RejectReason::BidOutsideAuctionRange,
        ),
        (
            "a bid below the floor",
            |_| bid(200, 1, B[1], 94_99, 1),
            RejectReason::BidOutsideAuctionRange,
        ),
        (
            "a bid above the ceiling",
            |_| bid(200, 1, B[1], 110_01, 1),
            RejectReason::BidOutsideAuctionRange,
        ),
        (
            "the seller bidding in its own auction",
            |_| bid(200, 1, SELLER, 100_00, 1),
            RejectReason::SellerCannotBid,
        ),
        (
            "a bidder not eligible for the instrument",
            |_| bid(200, 1, INSTITUTION, 100_00, 1),
            RejectReason::ParticipantNotEligible,
        ),
        (
            "a bid it cannot pre-fund",
            |_| bid(200, 1, B[1], 110_00, 200_000),
            RejectReason::InsufficientCash,
        ),
        (
            "a cancel of an unknown bid",
            |_| cancel(1, 555),
            RejectReason::UnknownOrder,
        ),
        (
            "an amend after the window",
            |m| {
                m.at(END);
                amend(1, 100, 100_00, 1)
            },
            RejectReason::AuctionNotBidding,
        ),
        (
            "a close before the window ends",
            |m| {
                m.at(END - 1);
                close(1)
            },
            RejectReason::AuctionStillOpen,
        ),
    ];
    for (rule, command, reason) in rows {
        let mut m = announced();
        let command = command(&mut m);
        assert_eq!(m.reject(command), reason, "{rule}");
    }
}

#[test]
fn the_remaining_codes_suspension_unknown_auction_and_limits() {
    // A closed auction is unknown to later commands.
    let mut m = announced();
    m.at(END).ok(close(1));
    assert_eq!(m.reject(close(1)), RejectReason::UnknownAuction);
    assert_eq!(
        m.at(START).reject(bid(300, 1, B[1], 100_00, 1)),
        RejectReason::UnknownAuction
    );
    // A suspended bidder may not bid; CCER auctions open by config.
    let mut m = Market::with(|specs| specs[1].auctions = Some(true));
    m.ok(announce(AuctionNotice {
        instrument: CCER,
        ..notice(1, Pricing::Uniform)
    }));
    m.ok(Command::SetAccountStatus {
        account: B[2],
        status: cetx_engine::Status::Suspended,
    });
    assert_eq!(
        m.at(START).reject(bid(10, 1, B[2], 100_00, 1)),
        RejectReason::AccountSuspended
    );
    // A bidder suspended after bidding keeps its bid and may cancel it,
    // but not change it (an outside tester raised a suspended account's
    // bid to the whole offer, and it won); nor may the bidders of a
    // suspended broker.
    m.ok(bid(11, 1, B[3], 100_00, 10));
    m.ok(bid(12, 1, B[0], 100_00, 10));
    m.ok(Command::SetAccountStatus {
        account: B[3],
        status: cetx_engine::Status::Suspended,
    });
    assert_eq!(
        m.reject(amend(1, 11, 100_00, 1_000)),
        RejectReason::AccountSuspended
    );
    m.ok(cancel(1, 11));
    m.ok(Command::SetBrokerStatus {
        // Each account has a broker of its own id.
        broker: BrokerId(B[0].0),
        status: cetx_engine::Status::Suspended,
    });
    assert_eq!(
        m.reject(amend(1, 12, 100_00, 1_000)),
        RejectReason::BrokerSuspended
    );
    // Prices are on the instrument's tick (here 0.05 CNY), quantities in
    // whole lots (here 10 t).
    let mut m = Market::with(|specs| {
        specs[0].tick = Decimal::new(5, 2);
        specs[0].lot_t = 10;
        specs[0].min_order_t = 10;
    });
    assert_eq!(
        m.reject(announce(AuctionNotice {
            floor_ticks: 95_01,
            ..notice(1, Pricing::Uniform)
        })),
        RejectReason::PriceNotOnTick
    );
    assert_eq!(
        m.reject(announce(AuctionNotice {
            quantity_t: 200_005,
            ..notice(1, Pricing::Uniform)
        })),
        RejectReason::QuantityNotWholeLots
    );
    m.ok(announce(notice(1, Pricing::Uniform)));
    assert_eq!(
        m.at(START).reject(bid(10, 1, B[0], 100_01, 10)),
        RejectReason::PriceNotOnTick
    );
    assert_eq!(
        m.reject(bid(10, 1, B[0], 100_00, 15)),
        RejectReason::QuantityNotWholeLots
    );
    // The auction minimum is configurable.
    let mut m = Market::with(|specs| specs[0].min_auction_t = Some(1_000));
    m.ok(announce(AuctionNotice {
        quantity_t: 1_000,
        ..notice(1, Pricing::Uniform)
    }));
    // At most 64 auctions open at once.
    let mut m = Market::with(|specs| specs[0].min_auction_t = Some(1));
    for id in 1..=64 {
        m.ok(announce(AuctionNotice {
            quantity_t: 1,
            ..notice(id, Pricing::Uniform)
        }));
    }
    assert_eq!(
        m.reject(announce(AuctionNotice {
            quantity_t: 1,
            ..notice(65, Pricing::Uniform)
        })),
        RejectReason::AuctionFull
    );
}

/// An allocation as (bid, buyer, price, quantity).
type Allocation = (u64, AccountId, i64, u64);

/// What the close said: the allocations, the unfilled cancellations as
/// (bid, tonnes), and the outcome.
fn outcome(events: &[Event]) -> (Vec<Allocation>, Vec<(u64, u64)>, cetx_engine::AuctionClosed) {
    let allocations = events
        .iter()
        .filter_map(|e| match e {
            Event::AuctionAllocation(a) => Some((a.bid_id.0, a.buyer, a.price_ticks, a.quantity_t)),
            _ => None,
        })
        .collect();
    let unfilled = events
        .iter()
        .filter_map(|e| match e {
            Event::BidCancelled(c) => {
                assert_eq!(c.cause, CancelCause::AuctionUnfilled);
                Some((c.bid_id.0, c.cancelled_t))
            }
            _ => None,
        })
        .collect();
    let Some(Event::AuctionClosed(closed)) = events.last() else {
        panic!("the close ends with its outcome: {events:?}");
    };
    (allocations, unfilled, *closed)
}

/// Five bids for 200,000 t; one amends (and loses its time priority), one
/// cancels.
fn five_bidders(pricing: Pricing) -> (Market, Vec<Event>) {
    let mut m = Market::new();
    m.ok(announce(notice(1, pricing)));
    assert_eq!(
        m.cea_t(SELLER),
        (500_000, 200_000),
        "the seller's quantity is locked"
    );
    m.at(START);
    m.ok(bid(10, 1, B[0], 105_00, 80_000));
    m.ok(bid(11, 1, B[1], 101_00, 60_000));
    m.ok(bid(12, 1, B[2], 101_00, 50_000));
    m.ok(bid(13, 1, B[3], 99_00, 70_000));
    m.ok(bid(14, 1, B[4], 96_00, 40_000));
    assert_eq!(m.cash_fen(B[1]), (CASH_FEN, 101_00 * 60_000));
    // B[1] raises its quantity: it goes behind B[2] at 101.00.
    m.ok(amend(1, 11, 101_00, 65_000));
    // B[4] withdraws: its cash comes back at once.
    m.ok(cancel(1, 14));
    assert_eq!(m.cash_fen(B[4]), (CASH_FEN, 0));
    assert_eq!(
        m.at(END).reject(cancel(1, 13)),
        RejectReason::AuctionNotBidding
    );
    let events = m.ok(close(1));
    (m, events)
}

#[test]
fn uniform_price_ranks_by_price_then_time_and_all_pay_the_lowest_accepted_bid() {
    let (m, events) = five_bidders(Pricing::Uniform);
    let (allocations, unfilled, closed) = outcome(&events);
    // 80,000 + 50,000 fill; B[1]'s 65,000 (behind B[2] since its amend)
    // fill; B[3] gets the last 5,000 of 70,000 at 99.00, the clearing price.
    assert_eq!(
        allocations,
        [
            (10, B[0], 99_00, 80_000),
            (12, B[2], 99_00, 50_000),
            (11, B[1], 99_00, 65_000),
            (13, B[3], 99_00, 5_000),
        ]
    );
    assert_eq!(unfilled, [(13, 65_000)]);
    assert_eq!(
        (closed.clearing_ticks, closed.sold_t, closed.unsold_t),
        (99_00, 200_000, 0)
    );
    assert_eq!(closed.turnover_fen, 99_00 * 200_000);
    // Trade ids come from the one counter, in rank order.
    let ids: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::AuctionAllocation(a) => Some(a.trade_id),
            _ => None,
        })
        .collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    // Each winner paid 99.00 a tonne and has nothing reserved: the 6.00 a
    // tonne B[0] reserved above the clearing price came back.
    assert_eq!(m.cash_fen(B[0]), (CASH_FEN - 99_00 * 80_000, 0));
    assert_eq!(m.cash_fen(B[3]), (CASH_FEN - 99_00 * 5_000, 0));
    assert_eq!(m.cea_t(B[0]), (80_000, 0));
    assert_eq!(m.cash_fen(SELLER), (99_00 * 200_000, 0));
    assert_eq!(m.cea_t(SELLER), (300_000, 0));
    // CEA T+1: what was bought is not sellable today.
    assert_eq!(m.live.holdings(B[0]).unwrap()[0].locked_t, 80_000);
    // The listing board's day is untouched: no trade, no volume.
    assert_eq!(m.live.today(CEA).unwrap().volume_t, 0);
    assert!(m.live.auctions().open.is_empty());
}

#[test]
fn pay_as_bid_charges_each_winner_its_own_price() {
    let (m, events) = five_bidders(Pricing::PayAsBid);
    let (allocations, unfilled, closed) = outcome(&events);
    assert_eq!(
        allocations,
        [
            (10, B[0], 105_00, 80_000),
            (12, B[2], 101_00, 50_000),
            (11, B[1], 101_00, 65_000),
            (13, B[3], 99_00, 5_000),
        ]
    );
    assert_eq!(unfilled, [(13, 65_000)]);
    let turnover = 105_00 * 80_000 + 101_00 * 115_000 + 99_00 * 5_000;
    assert_eq!(
        (closed.clearing_ticks, closed.turnover_fen),
        (99_00, turnover)
    );
    assert_eq!(m.cash_fen(B[0]), (CASH_FEN - 105_00 * 80_000, 0));
    assert_eq!(m.cash_fen(SELLER), (turnover, 0));
}

#[test]
fn unsold_volume_returns_to_the_seller_and_an_auction_without_bids_sells_nothing() {
    let mut m = Market::new();
    m.ok(announce(notice(1, Pricing::Uniform)));
    m.at(START).ok(bid(10, 1, B[0], 97_00, 30_000));
    // Lowering the quantity at the same price keeps priority.
    let events = m.ok(amend(1, 10, 97_00, 20_000));
    assert!(matches!(events[..], [Event::BidAmended(a)] if a.priority_kept));
    let (allocations, unfilled, closed) = outcome(&m.at(END + 5).ok(close(1)));
    assert_eq!(allocations, [(10, B[0], 97_00, 20_000)]);
    assert!(unfilled.is_empty());
    assert_eq!((closed.sold_t, closed.unsold_t), (20_000, 180_000));
    assert_eq!(
        m.cea_t(SELLER),
        (480_000, 0),
        "the unsold 180,000 t are free again"
    );

    m.ok(announce(AuctionNotice {
        start_ns: END + 10,
        end_ns: END + 20,
        ..notice(2, Pricing::PayAsBid)
    }));
    let (allocations, _, closed) = outcome(&m.at(END + 20).ok(close(2)));
    assert!(allocations.is_empty());
    assert_eq!(
        (closed.clearing_ticks, closed.sold_t, closed.unsold_t),
        (0, 0, 200_000)
    );
    assert_eq!(m.cea_t(SELLER), (480_000, 0));
}

/// An operator withdraws an auction in its window (an outside tester's:
/// a typo in a window could never be undone): nothing is sold, every bid
/// is cancelled as unfilled, and the seller's and bidders' reservations
/// are released. Withdrawn, it is no auction to close or withdraw again.
#[test]
fn a_withdrawn_auction_sells_nothing_and_frees_what_it_held() {
    let mut m = Market::new();
    m.ok(announce(AuctionNotice {
        end_ns: i64::MAX,
        ..notice(1, Pricing::Uniform)
    }));
    assert_eq!(m.cea_t(SELLER), (500_000, 200_000));
    m.at(START).ok(bid(10, 1, B[0], 105_00, 80_000));
    m.ok(bid(11, 1, B[1], 101_00, 60_000));
    assert_eq!(m.at(END).reject(close(1)), RejectReason::AuctionStillOpen);
    let withdraw = Command::WithdrawAuction { auction_id: 1 };
    let (allocations, unfilled, closed) = outcome(&m.ok(withdraw.clone()));
    assert!(allocations.is_empty());
    assert_eq!(unfilled, [(10, 80_000), (11, 60_000)], "in rank order");
    assert_eq!(
        (
            closed.clearing_ticks,
            closed.sold_t,
            closed.unsold_t,
            closed.turnover_fen
        ),
        (0, 0, 200_000, 0)
    );
    assert_eq!(m.cea_t(SELLER), (500_000, 0));
    assert_eq!(m.cash_fen(B[0]), (CASH_FEN, 0));
    assert_eq!(m.cash_fen(B[1]), (CASH_FEN, 0));
    assert_eq!(m.reject(withdraw), RejectReason::UnknownAuction);
    assert_eq!(m.reject(close(1)), RejectReason::UnknownAuction);
    assert_eq!(
        m.reject(Command::WithdrawAuction { auction_id: 9 }),
        RejectReason::UnknownAuction
    );
    // Once its window has ended, the bids stand: it is closed, not
    // withdrawn.
    m.ok(announce(AuctionNotice {
        start_ns: END + 10,
        end_ns: END + 20,
        ..notice(2, Pricing::Uniform)
    }));
    m.at(END + 10).ok(bid(20, 2, B[0], 99_00, 10_000));
    assert_eq!(
        m.at(END + 20)
            .reject(Command::WithdrawAuction { auction_id: 2 }),
        RejectReason::AuctionNotBidding
    );
    let (allocations, _, _) = outcome(&m.ok(close(2)));
    assert_eq!(allocations, [(20, B[0], 99_00, 10_000)]);
}

#[test]
fn open_auctions_and_their_bids_survive_a_snapshot() {
    let mut m = Market::with(|specs| specs[0].min_auction_t = Some(50_000));
    m.ok(announce(AuctionNotice {
        quantity_t: 50_000,
        ..notice(7, Pricing::PayAsBid)
    }));
    m.at(START).ok(bid(10, 7, B[0], 100_00, 30_000));
    m.ok(bid(11, 7, B[1], 102_00, 40_000));
    let state = m.live.state();
    let mut bytes = Vec::new();
    encode_state(&state, &mut bytes);
    let decoded = decode_state(&bytes).expect("a version 5 state decodes");
    assert_eq!(decoded, state);
    let restored = Engine::from_state(&decoded).expect("the state loads");
    assert_eq!(restored.state(), state);
    assert_eq!(restored.auctions().open[&7].bids.len(), 2);
    assert_eq!(restored.spec(CEA).unwrap().min_auction_t, Some(50_000));
    // A state whose bid claims more than its account reserves is refused.
    let mut broken = state;
    broken.auctions.open.get_mut(&7).unwrap().bids[0].quantity_t += 1;
    assert!(Engine::from_state(&broken).is_err());
}

#[test]
fn an_open_auction_keeps_its_instrument_s_rules_until_it_closes() {
    let mut m = announced();
    m.ok(Command::SetPhase {
        instrument: CEA,
        phase: Phase::Halted,
    });
    // Its floor, ceiling and bids were checked under the rules of the
    // moment: a revision (a tick of 0.05, say) would leave them off them.
    let mut spec = InstrumentSpec::cea(2025, Decimal::new(100_00, 2));
    spec.tick = Decimal::new(5, 2);
    let revise = Command::ReviseInstrument {
        instrument: CEA,
        spec: Box::new(spec),
    };
    assert_eq!(m.reject(revise.clone()), RejectReason::InstrumentBusy);
    // Nor may its band move under it: a bid at the old ceiling would sell
    // outside the new band.
    let reference = Command::SetReferencePrice {
        instrument: CEA,
        price_ticks: 80_00,
    };
    assert_eq!(
        m.reject(reference.clone()),
        RejectReason::ReferencePriceLocked
    );
    m.at(END + 5).ok(close(1));
    m.ok(revise);
    m.ok(reference);
}

/// ENGINE.md, PROTOCOL.md (146): at most 4,096 bids open in an auction.
/// One more is refused 146; an amend of a bid already in is never refused
/// 146; a cancelled bid no longer counts.
#[test]
fn an_auction_holds_4096_open_bids_and_an_amend_is_never_refused_for_it() {
    let mut m = Market::new();
    m.ok(announce(notice(1, Pricing::Uniform)));
    let m = m.at(START);
    for id in 1_000..1_000 + 4_096 {
        m.ok(bid(id, 1, B[0], 100_00, 10));
    }
    assert_eq!(
        m.reject(bid(9_000, 1, B[1], 100_00, 10)),
        RejectReason::AuctionFull
    );
    m.ok(amend(1, 1_000, 101_00, 20));
    m.ok(Command::CancelBid {
        auction_id: 1,
        bid_id: OrderId(1_001),
        requester: None,
    });
    m.ok(bid(9_000, 1, B[1], 100_00, 10));
    assert_eq!(
        m.reject(bid(9_001, 1, B[1], 100_00, 10)),
        RejectReason::AuctionFull
    );
}
