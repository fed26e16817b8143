//! proptest strategies for every command, event and engine state, with
//! arbitrary field values (the codec does not judge values; the engine
//! does).

use cetx_engine::{
    Accepted, Account, AccountId, AccountOpened, AccountState, Amended, BrokerId, CancelCause,
    Cancelled, CashMoved, Command, CommandKind, DayClosed, DayStarted, DayStats, EngineState,
    Event, Holding, HoldingsMoved, InstrumentId, InstrumentState, LargeHolder, NewOrder, OrderId,
    OrderType, ParticipantType, Phase, PhaseChanged, ReferencePriceSet, RejectReason, Rejected,
    Requester, RestingOrder, Side, TimeInForce, Trade,
};
use cetx_engine::{
    AccountStatusChanged, Bounds, BrokerAdded, BrokerStatusChanged, Credential, Membership,
    NewBroker, Status,
};
use cetx_engine::{
    AuctionAllocation, AuctionBid, AuctionClosed, AuctionNotice, Auctions, BidAccepted, BidAmended,
    BidCancelled, NewBid, OpenAuction, Pricing,
};
use proptest::prelude::*;

/// An instrument spec with arbitrary values (any decimal, any symbol).
pub fn spec() -> impl Strategy<Value = cetx_engine::InstrumentSpec> {
    (
        ("[A-Z0-9]{0,8}", any::<bool>(), any::<u16>()),
        (any::<i64>(), 0u32..=28, any::<i64>(), 0u32..=28),
        (
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            any::<u32>(),
            any::<u32>(),
        ),
        (
            proptest::option::of(proptest::collection::vec(participant(), 0..4)),
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<u32>()),
        ),
        (
            proptest::array::uniform3(proptest::option::of(any::<u32>())),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<u64>()),
        ),
    )
        .prop_map(
            |(
                (symbol, cea, vintage),
                (tick, tick_scale, reference, reference_scale),
                sizes,
                rules,
                ([per_account, per_broker, levels], auctions, min_auction_t),
            )| {
                cetx_engine::InstrumentSpec {
                    symbol,
                    kind: if cea {
                        cetx_engine::InstrumentKind::Cea { vintage }
                    } else {
                        cetx_engine::InstrumentKind::Ccer {}
                    },
                    tick: rust_decimal::Decimal::new(tick, tick_scale),
                    lot_t: sizes.0,
                    min_order_t: sizes.1,
                    max_order_t: sizes.2,
                    band_bps: sizes.3,
                    reference_price: rust_decimal::Decimal::new(reference, reference_scale),
                    max_orders: sizes.4,
                    eligible: rules.0,
                    position_limit_t: rules.1,
                    large_holder_bps: rules.2,
                    t_plus_one: rules.3,
                    opposite_side_gap_days: rules.4,
                    max_orders_per_account: per_account,
                    max_orders_per_broker: per_broker,
                    max_price_levels: levels,
                    auctions,
                    min_auction_t,
                }
            },
        )
}

/// A calendar with arbitrary whole-second sessions and holidays.
pub fn calendar() -> impl Strategy<Value = cetx_engine::Calendar> {
    let time = (0u32..86_400)
        .prop_map(|s| chrono::NaiveTime::from_num_seconds_from_midnight_opt(s, 0).unwrap());
    let date =
        (0i32..3_000_000).prop_map(|d| chrono::NaiveDate::from_num_days_from_ce_opt(d).unwrap());
    (
        any::<i32>(),
        proptest::collection::vec((time.clone(), time), 0..4),
        proptest::collection::btree_set(date, 0..4),
    )
        .prop_map(|(utc_offset_s, sessions, holidays)| cetx_engine::Calendar {
            utc_offset_s,
            sessions: sessions
                .into_iter()
                .map(|(open, close)| cetx_engine::Session { open, close })
                .collect(),
            holidays,
        })
}

pub fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}
pub fn order_type() -> impl Strategy<Value = OrderType> {
    prop_oneof![Just(OrderType::Limit), Just(OrderType::Market)]
}
pub fn tif() -> impl Strategy<Value = TimeInForce> {
    prop_oneof![
        Just(TimeInForce::Day),
        Just(TimeInForce::Ioc),
        Just(TimeInForce::Fok)
    ]
}
pub fn phase() -> impl Strategy<Value = Phase> {
    prop_oneof![
        Just(Phase::Closed),
        Just(Phase::Continuous),
        Just(Phase::Break),
        Just(Phase::Halted)
    ]
}
pub fn participant() -> impl Strategy<Value = ParticipantType> {
    prop_oneof![
        Just(ParticipantType::ComplianceEntity),
        Just(ParticipantType::Institution),
        Just(ParticipantType::Individual)
    ]
}
pub fn cause() -> impl Strategy<Value = CancelCause> {
    (0..10u8).prop_map(|c| match c {
        0 => CancelCause::Requested,
        1 => CancelCause::Unfilled,
        2 => CancelCause::FokKilled,
        3 => CancelCause::BookFull,
        4 => CancelCause::SelfTrade,
        5 => CancelCause::Expired,
        6 => CancelCause::Suspended,
        7 => CancelCause::Refused,
        8 => CancelCause::Disconnected,
        _ => CancelCause::AuctionUnfilled,
    })
}
pub fn kind() -> impl Strategy<Value = CommandKind> {
    (0..33u8).prop_map(|k| {
        [
            CommandKind::Submit,
            CommandKind::Cancel,
            CommandKind::Amend,
            CommandKind::SetPhase,
            CommandKind::EndOfDay,
            CommandKind::OpenAccount,
            CommandKind::Deposit,
            CommandKind::Withdraw,
            CommandKind::CreditHoldings,
            CommandKind::DebitHoldings,
            CommandKind::SetReferencePrice,
            CommandKind::ListInstrument,
            CommandKind::ReviseInstrument,
            CommandKind::SetCalendar,
            CommandKind::Transfer,
            CommandKind::DatedEndOfDay,
            CommandKind::AddBroker,
            CommandKind::SetBrokerStatus,
            CommandKind::SetAccountStatus,
            CommandKind::CancelOnDisconnect,
            CommandKind::Take,
            CommandKind::PostBlock,
            CommandKind::AcceptBlock,
            CommandKind::CancelBlock,
            CommandKind::ConfirmBlock,
            CommandKind::RefuseBlock,
            CommandKind::SetBlockRules,
            CommandKind::AnnounceAuction,
            CommandKind::Bid,
            CommandKind::CancelBid,
            CommandKind::AmendBid,
            CommandKind::CloseAuction,
            CommandKind::WithdrawAuction,
        ][usize::from(k)]
    })
}
pub fn reason() -> impl Strategy<Value = RejectReason> {
    proptest::sample::select(RejectReason::ALL.to_vec())
}
pub fn oid() -> impl Strategy<Value = OrderId> {
    any::<u64>().prop_map(OrderId)
}
pub fn acct() -> impl Strategy<Value = AccountId> {
    any::<u32>().prop_map(AccountId)
}
pub fn inst() -> impl Strategy<Value = InstrumentId> {
    any::<u16>().prop_map(InstrumentId)
}
pub fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Active),
        Just(Status::Suspended),
        Just(Status::Closed)
    ]
}
pub fn new_broker() -> impl Strategy<Value = NewBroker> {
    (
        any::<u32>(),
        "[ -~]{0,70}",
        any::<u32>(),
        any::<[u8; 16]>(),
        any::<[u8; 32]>(),
    )
        .prop_map(|(broker, name, iterations, salt, hash)| NewBroker {
            broker: BrokerId(broker),
            name,
            credential: Credential {
                iterations,
                salt,
                hash,
            },
        })
}
/// Membership as a snapshot holds it: no active standing listed.
pub fn membership() -> impl Strategy<Value = Membership> {
    let standing = prop_oneof![Just(Status::Suspended), Just(Status::Closed)];
    (
        proptest::collection::vec(new_broker(), 0..3),
        proptest::collection::btree_map(any::<u32>().prop_map(BrokerId), standing.clone(), 0..3),
        proptest::collection::btree_map(acct(), standing, 0..3),
    )
        .prop_map(|(brokers, broker_status, account_status)| Membership {
            brokers: brokers.into_iter().map(|b| (b.broker, b)).collect(),
            broker_status,
            account_status,
        })
}
/// A cancel's or an amend's requester, or none (both encodings).
pub fn requester() -> impl Strategy<Value = Option<Requester>> {
    proptest::option::of(
        (any::<u32>(), any::<u64>()).prop_map(|(broker, client_order_id)| Requester {
            broker: BrokerId(broker),
            client_order_id,
        }),
    )
}

pub fn pricing() -> impl Strategy<Value = Pricing> {
    prop_oneof![Just(Pricing::Uniform), Just(Pricing::PayAsBid)]
}

pub fn notice() -> impl Strategy<Value = AuctionNotice> {
    (
        (any::<u64>(), inst(), acct(), any::<u64>()),
        (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>()),
        pricing(),
    )
        .prop_map(
            |(
                (auction_id, instrument, seller, quantity_t),
                (floor, ceiling, start, end),
                pricing,
            )| {
                AuctionNotice {
                    auction_id,
                    instrument,
                    seller,
                    quantity_t,
                    floor_ticks: floor,
                    ceiling_ticks: ceiling,
                    start_ns: start,
                    end_ns: end,
                    pricing,
                }
            },
        )
}

/// The commands of one-way auctions.
pub fn auction_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        notice().prop_map(|n| Command::AnnounceAuction(Box::new(n))),
        (
            (oid(), any::<u64>(), acct()),
            (any::<i64>(), any::<u64>(), any::<u64>())
        )
            .prop_map(|((bid_id, auction_id, account), (p, q, client))| {
                Command::Bid(NewBid {
                    bid_id,
                    auction_id,
                    account,
                    price_ticks: p,
                    quantity_t: q,
                    client_order_id: client,
                })
            }),
        (any::<u64>(), oid(), requester()).prop_map(|(auction_id, bid_id, requester)| {
            Command::CancelBid {
                auction_id,
                bid_id,
                requester,
            }
        }),
        (any::<u64>(), oid(), any::<i64>(), any::<u64>(), requester()).prop_map(
            |(auction_id, bid_id, p, q, requester)| Command::AmendBid {
                auction_id,
                bid_id,
                price_ticks: p,
                quantity_t: q,
                requester,
            }
        ),
        any::<u64>().prop_map(|auction_id| Command::CloseAuction { auction_id }),
        any::<u64>().prop_map(|auction_id| Command::WithdrawAuction { auction_id }),
    ]
}

/// The events of one-way auctions.
pub fn auction_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        notice().prop_map(Event::AuctionAnnounced),
        (
            (any::<u64>(), oid(), acct()),
            (any::<u64>(), any::<i64>(), any::<u64>())
        )
            .prop_map(|((auction_id, bid_id, account), (client, p, q))| {
                Event::BidAccepted(BidAccepted {
                    auction_id,
                    bid_id,
                    account,
                    client_order_id: client,
                    price_ticks: p,
                    quantity_t: q,
                })
            }),
        (
            (any::<u64>(), oid(), acct()),
            (any::<u64>(), any::<u64>(), cause())
        )
            .prop_map(|((auction_id, bid_id, account), (client, q, cause))| {
                Event::BidCancelled(BidCancelled {
                    auction_id,
                    bid_id,
                    account,
                    client_order_id: client,
                    cancelled_t: q,
                    cause,
                })
            }),
        (
            (any::<u64>(), oid(), acct()),
            (any::<u64>(), any::<i64>(), any::<u64>(), any::<bool>())
        )
            .prop_map(|((auction_id, bid_id, account), (client, p, q, kept))| {
                Event::BidAmended(BidAmended {
                    auction_id,
                    bid_id,
                    account,
                    client_order_id: client,
                    price_ticks: p,
                    quantity_t: q,
                    priority_kept: kept,
                })
            }),
        (
            (
                any::<u64>(),
                any::<u64>(),
                any::<i64>(),
                any::<u64>(),
                inst()
            ),
            (oid(), acct(), any::<u64>(), acct()),
            (any::<i64>(), any::<u64>())
        )
            .prop_map(
                |(
                    (trade_id, seq, t, auction_id, instrument),
                    (bid_id, buyer, client, seller),
                    (p, q),
                )| {
                    Event::AuctionAllocation(AuctionAllocation {
                        trade_id,
                        seq,
                        time_ns: t,
                        auction_id,
                        instrument,
                        bid_id,
                        buyer,
                        client_order_id: client,
                        seller,
                        price_ticks: p,
                        quantity_t: q,
                    })
                }
            ),
        (
            (any::<u64>(), inst(), acct(), pricing()),
            (any::<i64>(), any::<u64>(), any::<u64>(), any::<i64>())
        )
            .prop_map(
                |((auction_id, instrument, seller, pricing), (c, sold, unsold, turnover))| {
                    Event::AuctionClosed(AuctionClosed {
                        auction_id,
                        instrument,
                        seller,
                        pricing,
                        clearing_ticks: c,
                        sold_t: sold,
                        unsold_t: unsold,
                        turnover_fen: turnover,
                    })
                }
            ),
    ]
}

/// The open auctions of a snapshot.
pub fn auctions() -> impl Strategy<Value = Auctions> {
    let bid = (
        (oid(), acct(), any::<i64>()),
        (any::<u64>(), any::<u64>(), any::<u64>()),
    )
        .prop_map(
            |((bid_id, account, price_ticks), (quantity_t, client_order_id, priority_seq))| {
                AuctionBid {
                    bid_id,
                    account,
                    price_ticks,
                    quantity_t,
                    client_order_id,
                    priority_seq,
                }
            },
        );
    (
        proptest::option::of(any::<u64>()),
        proptest::collection::vec((notice(), proptest::collection::vec(bid, 0..3)), 0..3),
    )
        .prop_map(|(last_auction_id, open)| Auctions {
            last_auction_id,
            open: open
                .into_iter()
                .map(|(notice, bids)| (notice.auction_id, OpenAuction { notice, bids }))
                .collect(),
        })
}

pub fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        auction_command(),
        (
            oid(),
            acct(),
            inst(),
            side(),
            order_type(),
            tif(),
            any::<i64>(),
            (any::<u64>(), any::<u64>())
        )
            .prop_map(
                |(order_id, account, instrument, side, t, tif, p, (q, client))| {
                    Command::Submit(NewOrder {
                        order_id,
                        account,
                        instrument,
                        side,
                        order_type: t,
                        time_in_force: tif,
                        price_ticks: p,
                        quantity_t: q,
                        client_order_id: client,
                    })
                }
            ),
        (inst(), oid(), requester()).prop_map(|(instrument, order_id, requester)| {
            Command::Cancel {
                instrument,
                order_id,
                requester,
            }
        }),
        (inst(), oid(), any::<i64>(), any::<u64>(), requester()).prop_map(
            |(instrument, order_id, p, q, requester)| Command::Amend {
                instrument,
                order_id,
                price_ticks: p,
                quantity_t: q,
                requester,
            }
        ),
        (inst(), phase()).prop_map(|(instrument, phase)| Command::SetPhase { instrument, phase }),
        Just(Command::EndOfDay { trading_date: None }),
        date().prop_map(|date| Command::EndOfDay {
            trading_date: Some(date),
        }),
        (acct(), participant(), any::<u32>()).prop_map(|(account, participant, b)| {
            Command::OpenAccount {
                account,
                participant,
                broker: BrokerId(b),
            }
        }),
        (acct(), any::<i64>()).prop_map(|(account, amount_fen)| Command::Deposit {
            account,
            amount_fen
        }),
        (acct(), any::<i64>()).prop_map(|(account, amount_fen)| Command::Withdraw {
            account,
            amount_fen
        }),
        (acct(), inst(), any::<u64>()).prop_map(|(account, instrument, quantity_t)| {
            Command::CreditHoldings {
                account,
                instrument,
                quantity_t,
            }
        }),
        (acct(), inst(), any::<u64>()).prop_map(|(account, instrument, quantity_t)| {
            Command::DebitHoldings {
                account,
                instrument,
                quantity_t,
            }
        }),
        (inst(), any::<i64>()).prop_map(|(instrument, price_ticks)| {
            Command::SetReferencePrice {
                instrument,
                price_ticks,
            }
        }),
        spec().prop_map(|spec| Command::ListInstrument(Box::new(spec))),
        (inst(), spec()).prop_map(|(instrument, spec)| Command::ReviseInstrument {
            instrument,
            spec: Box::new(spec),
        }),
        calendar().prop_map(|calendar| Command::SetCalendar(Box::new(calendar))),
        ("[ -~]{0,70}", transfer_terms()).prop_map(|(reference, terms)| {
            Command::Transfer(Box::new(cetx_engine::Transfer {
                reference,
                account: terms.account,
                asset: terms.asset,
                direction: terms.direction,
                amount: terms.amount,
            }))
        }),
        new_broker().prop_map(|b| Command::AddBroker(Box::new(b))),
        (any::<u32>(), status()).prop_map(|(broker, status)| Command::SetBrokerStatus {
            broker: BrokerId(broker),
            status
        }),
        (acct(), status())
            .prop_map(|(account, status)| Command::SetAccountStatus { account, status }),
        any::<u32>().prop_map(|broker| Command::CancelOnDisconnect {
            broker: BrokerId(broker)
        }),
        (
            (oid(), acct(), inst(), side()),
            (oid(), any::<u64>(), any::<u64>())
        )
            .prop_map(
                |((order_id, account, instrument, side), (target, quantity_t, client))| {
                    Command::Take(cetx_engine::Take {
                        order_id,
                        account,
                        instrument,
                        side,
                        target,
                        quantity_t,
                        client_order_id: client,
                    })
                }
            ),
        super::blocks::block_command(),
    ]
}

pub fn trade() -> impl Strategy<Value = Trade> {
    (
        (
            any::<u64>(),
            any::<u64>(),
            any::<i64>(),
            inst(),
            any::<i64>(),
        ),
        (any::<u64>(), side(), oid(), acct(), any::<u64>()),
        (oid(), acct(), any::<u64>()),
    )
        .prop_map(
            |((id, seq, t, instrument, p), (q, a, mo, ma, mr), (to, ta, tr))| Trade {
                trade_id: id,
                seq,
                time_ns: t,
                instrument,
                price_ticks: p,
                quantity_t: q,
                aggressor: a,
                maker_order_id: mo,
                maker_account: ma,
                maker_remaining_t: mr,
                taker_order_id: to,
                taker_account: ta,
                taker_remaining_t: tr,
            },
        )
}

pub fn cash() -> impl Strategy<Value = CashMoved> {
    (acct(), any::<i64>(), any::<i64>()).prop_map(|(account, amount_fen, cash_fen)| CashMoved {
        account,
        amount_fen,
        cash_fen,
    })
}

pub fn holdings() -> impl Strategy<Value = HoldingsMoved> {
    (acct(), inst(), any::<u64>(), any::<u64>()).prop_map(|(account, instrument, q, b)| {
        HoldingsMoved {
            account,
            instrument,
            quantity_t: q,
            balance_t: b,
        }
    })
}

pub fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        auction_event(),
        (
            oid(),
            acct(),
            inst(),
            side(),
            order_type(),
            tif(),
            any::<i64>(),
            any::<u64>()
        )
            .prop_map(|(order_id, account, instrument, side, t, tif, p, q)| {
                Event::Accepted(Accepted {
                    order_id,
                    account,
                    instrument,
                    side,
                    order_type: t,
                    time_in_force: tif,
                    price_ticks: p,
                    quantity_t: q,
                })
            }),
        (
            kind(),
            proptest::option::of(oid()),
            reason(),
            proptest::option::of((any::<i64>(), any::<i64>()))
        )
            .prop_map(|(command, order_id, reason, bounds)| {
                Event::Rejected(Rejected {
                    command,
                    order_id,
                    reason,
                    bounds: bounds.map(|(low, high)| Bounds::new(low, high)),
                })
            }),
        trade().prop_map(Event::Trade),
        (oid(), acct(), inst(), side(), any::<u64>(), cause()).prop_map(
            |(order_id, account, instrument, side, cancelled_t, cause)| {
                Event::Cancelled(Cancelled {
                    order_id,
                    account,
                    instrument,
                    side,
                    cancelled_t,
                    cause,
                })
            }
        ),
        (
            oid(),
            acct(),
            inst(),
            side(),
            any::<i64>(),
            any::<u64>(),
            any::<bool>()
        )
            .prop_map(|(order_id, account, instrument, side, p, q, kept)| {
                Event::Amended(Amended {
                    order_id,
                    account,
                    instrument,
                    side,
                    price_ticks: p,
                    quantity_t: q,
                    priority_kept: kept,
                })
            }),
        (acct(), participant(), any::<u32>()).prop_map(|(account, participant, b)| {
            Event::AccountOpened(AccountOpened {
                account,
                participant,
                broker: BrokerId(b),
            })
        }),
        cash().prop_map(Event::CashDeposited),
        cash().prop_map(Event::CashWithdrawn),
        holdings().prop_map(Event::HoldingsCredited),
        holdings().prop_map(Event::HoldingsDebited),
        (inst(), phase()).prop_map(|(instrument, phase)| Event::PhaseChanged(PhaseChanged {
            instrument,
            phase
        })),
        (inst(), any::<i64>(), any::<i64>(), any::<i64>()).prop_map(|(instrument, p, f, c)| {
            Event::ReferencePriceSet(ReferencePriceSet {
                instrument,
                price_ticks: p,
                floor_ticks: f,
                ceiling_ticks: c,
            })
        }),
        (acct(), inst(), any::<u64>(), any::<u64>()).prop_map(|(account, instrument, b, t)| {
            Event::LargeHolder(LargeHolder {
                account,
                instrument,
                balance_t: b,
                threshold_t: t,
            })
        }),
        (
            (
                any::<u32>(),
                inst(),
                any::<i64>(),
                any::<i64>(),
                any::<i64>()
            ),
            (any::<i64>(), any::<u64>(), any::<i64>(), any::<u64>())
        )
            .prop_map(|((day, instrument, o, h, l), (c, v, turnover, n))| {
                Event::DayClosed(DayClosed {
                    trading_day: day,
                    instrument,
                    open_ticks: o,
                    high_ticks: h,
                    low_ticks: l,
                    close_ticks: c,
                    volume_t: v,
                    turnover_fen: turnover,
                    trade_count: n,
                })
            }),
        any::<u32>().prop_map(|trading_day| Event::DayStarted(DayStarted { trading_day })),
        (
            inst(),
            any::<i64>(),
            any::<i64>(),
            any::<i64>(),
            any::<bool>()
        )
            .prop_map(
                |(instrument, price_ticks, floor_ticks, ceiling_ticks, listed)| {
                    let band = ReferencePriceSet {
                        instrument,
                        price_ticks,
                        floor_ticks,
                        ceiling_ticks,
                    };
                    if listed {
                        Event::InstrumentListed(band)
                    } else {
                        Event::InstrumentRevised(band)
                    }
                }
            ),
        Just(Event::CalendarSet),
        any::<u32>().prop_map(|b| Event::BrokerAdded(BrokerAdded {
            broker: BrokerId(b)
        })),
        (any::<u32>(), status()).prop_map(|(b, status)| {
            Event::BrokerStatusChanged(BrokerStatusChanged {
                broker: BrokerId(b),
                status,
            })
        }),
        (acct(), status()).prop_map(|(account, status)| {
            Event::AccountStatusChanged(AccountStatusChanged { account, status })
        }),
        super::blocks::block_event(),
    ]
}

pub fn resting() -> impl Strategy<Value = RestingOrder> {
    (oid(), acct(), side(), any::<i64>(), any::<u64>()).prop_map(
        |(order_id, account, side, price_ticks, quantity_t)| RestingOrder {
            order_id,
            account,
            side,
            price_ticks,
            quantity_t,
        },
    )
}

pub fn instrument_state() -> impl Strategy<Value = InstrumentState> {
    (
        phase(),
        any::<i64>(),
        (
            any::<i64>(),
            any::<i64>(),
            any::<i64>(),
            any::<u64>(),
            any::<i128>(),
            any::<u64>(),
            any::<i64>(),
        ),
        proptest::collection::vec(resting(), 0..5),
        proptest::collection::vec(resting(), 0..5),
        spec(),
    )
        .prop_map(
            |(phase, reference_ticks, (o, h, l, v, t, n, last), bids, asks, spec)| {
                InstrumentState {
                    spec,
                    phase,
                    reference_ticks,
                    today: DayStats {
                        open_ticks: o,
                        high_ticks: h,
                        low_ticks: l,
                        volume_t: v,
                        turnover_fen: t,
                        trade_count: n,
                        last_ticks: last,
                    },
                    bids,
                    asks,
                }
            },
        )
}

pub fn holding() -> impl Strategy<Value = Holding> {
    (
        any::<[u64; 4]>(),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|([b, r, l, y], buy, sell)| Holding {
            balance_t: b,
            reserved_t: r,
            locked_t: l,
            buying_t: y,
            last_buy_day: buy,
            last_sell_day: sell,
        })
}

pub fn account() -> impl Strategy<Value = AccountState> {
    (
        acct(),
        participant(),
        any::<u32>(),
        any::<i64>(),
        any::<i64>(),
        proptest::collection::vec(holding(), 0..4),
    )
        .prop_map(
            |(id, participant, b, cash, reserved, holdings)| AccountState {
                account: Account {
                    id,
                    participant,
                    broker: BrokerId(b),
                    cash_fen: cash,
                    reserved_fen: reserved,
                },
                holdings,
            },
        )
}

/// A real date, `YYYYMMDD`.
pub fn date() -> impl Strategy<Value = u32> {
    (2000u32..2100, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| y * 10_000 + m * 100 + d)
}

fn transfer_terms() -> impl Strategy<Value = cetx_engine::TransferTerms> {
    (
        acct(),
        proptest::option::of(inst()),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(
            |(account, instrument, out, amount)| cetx_engine::TransferTerms {
                account,
                asset: instrument.map_or(cetx_engine::Asset::Cash, cetx_engine::Asset::Allowances),
                direction: if out {
                    cetx_engine::Direction::Out
                } else {
                    cetx_engine::Direction::In
                },
                amount,
            },
        )
}

pub fn state() -> impl Strategy<Value = EngineState> {
    (
        (any::<u32>(), proptest::option::of(date())),
        proptest::option::of(oid()),
        any::<u64>(),
        proptest::collection::vec(instrument_state(), 0..4),
        proptest::collection::vec(account(), 0..6),
        proptest::option::of(calendar()),
        proptest::collection::vec(
            (
                "[ -~]{1,64}",
                proptest::option::of(transfer_terms()),
                any::<u32>(),
            ),
            0..4,
        ),
        (membership(), super::blocks::block_state(), auctions()),
    )
        .prop_map(
            |(
                (trading_day, closed_date),
                last_order_id,
                next_trade_id,
                instruments,
                accounts,
                calendar,
                references,
                (membership, blocks, auctions),
            )| {
                EngineState {
                    trading_day,
                    closed_date,
                    last_order_id,
                    next_trade_id,
                    calendar,
                    instruments,
                    accounts,
                    references,
                    membership,
                    blocks,
                    auctions,
                }
            },
        )
}
