//! proptest strategies for the block commands, events and the snapshot's
//! block section, with arbitrary field values.

use cetx_engine::{
    AccountId, BlockAccepted, BlockCancelled, BlockDeal, BlockOffer, BlockPosted, BlockRules,
    BlockState, BlockTraded, Command, Event, NewBlock, Session,
};
use proptest::prelude::*;

use super::strategies::{acct, cause, inst, side};

fn counterparty() -> impl Strategy<Value = Option<AccountId>> {
    proptest::option::of(acct())
}

pub fn rules() -> impl Strategy<Value = BlockRules> {
    let time = (0u32..86_400)
        .prop_map(|s| chrono::NaiveTime::from_num_seconds_from_midnight_opt(s, 0).unwrap());
    (
        any::<bool>(),
        any::<u64>(),
        any::<u32>(),
        any::<bool>(),
        proptest::collection::vec((time.clone(), time), 0..4),
        any::<u32>(),
    )
        .prop_map(
            |(enabled, min_t, band_bps, needs_confirmation, sessions, max_open)| BlockRules {
                enabled,
                min_t,
                band_bps,
                needs_confirmation,
                sessions: sessions
                    .into_iter()
                    .map(|(open, close)| Session { open, close })
                    .collect(),
                max_open,
            },
        )
}

pub fn block_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        (
            acct(),
            inst(),
            side(),
            any::<i64>(),
            any::<u64>(),
            counterparty(),
            any::<u64>()
        )
            .prop_map(|(account, instrument, side, p, q, counterparty, client)| {
                Command::PostBlock(NewBlock {
                    account,
                    instrument,
                    side,
                    price_ticks: p,
                    quantity_t: q,
                    counterparty,
                    client_order_id: client,
                })
            }),
        (any::<u64>(), acct(), any::<u64>(), any::<u64>()).prop_map(|(block_id, account, q, c)| {
            Command::AcceptBlock {
                block_id,
                account,
                quantity_t: q,
                client_order_id: c,
            }
        }),
        (any::<u64>(), acct(), any::<u64>()).prop_map(|(block_id, account, client_order_id)| {
            Command::CancelBlock {
                block_id,
                account,
                client_order_id,
            }
        }),
        any::<u64>().prop_map(|deal_id| Command::ConfirmBlock { deal_id }),
        any::<u64>().prop_map(|deal_id| Command::RefuseBlock { deal_id }),
        (inst(), rules()).prop_map(|(instrument, rules)| Command::SetBlockRules {
            instrument,
            rules: Box::new(rules),
        }),
    ]
}

pub fn block_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (
            any::<u64>(),
            acct(),
            inst(),
            side(),
            any::<i64>(),
            any::<u64>(),
            counterparty()
        )
            .prop_map(
                |(block_id, account, instrument, side, p, q, counterparty)| {
                    Event::BlockPosted(BlockPosted {
                        block_id,
                        account,
                        instrument,
                        side,
                        price_ticks: p,
                        quantity_t: q,
                        counterparty,
                    })
                }
            ),
        (
            any::<u64>(),
            any::<u64>(),
            acct(),
            any::<u64>(),
            any::<u64>(),
            any::<bool>()
        )
            .prop_map(|(block_id, deal_id, account, q, r, pending)| {
                Event::BlockAccepted(BlockAccepted {
                    block_id,
                    deal_id,
                    account,
                    quantity_t: q,
                    remaining_t: r,
                    pending,
                })
            }),
        (
            (any::<u64>(), any::<u64>(), any::<i64>()),
            (any::<u64>(), any::<u64>(), inst()),
            (any::<i64>(), any::<u64>()),
            (acct(), acct(), side())
        )
            .prop_map(
                |(
                    (trade_id, seq, time_ns),
                    (deal_id, block_id, instrument),
                    (p, q),
                    (b, s, ps),
                )| {
                    Event::BlockTraded(BlockTraded {
                        trade_id,
                        seq,
                        time_ns,
                        deal_id,
                        block_id,
                        instrument,
                        price_ticks: p,
                        quantity_t: q,
                        buyer_account: b,
                        seller_account: s,
                        poster_side: ps,
                    })
                }
            ),
        (any::<u64>(), acct(), inst(), side(), any::<u64>(), cause()).prop_map(
            |(block_id, account, instrument, side, q, cause)| {
                Event::BlockCancelled(BlockCancelled {
                    block_id,
                    account,
                    instrument,
                    side,
                    cancelled_t: q,
                    cause,
                })
            }
        ),
    ]
}

pub fn block_state() -> impl Strategy<Value = BlockState> {
    let offer = (
        any::<u64>(),
        acct(),
        inst(),
        side(),
        any::<i64>(),
        any::<u64>(),
        counterparty(),
    )
        .prop_map(
            |(block_id, account, instrument, side, p, q, counterparty)| BlockOffer {
                block_id,
                account,
                instrument,
                side,
                price_ticks: p,
                quantity_t: q,
                counterparty,
            },
        );
    let deal = (
        (any::<u64>(), any::<u64>(), inst()),
        (any::<i64>(), any::<u64>()),
        (acct(), side(), acct()),
    )
        .prop_map(
            |((deal_id, block_id, instrument), (p, q), (poster, poster_side, acceptor))| {
                BlockDeal {
                    deal_id,
                    block_id,
                    instrument,
                    price_ticks: p,
                    quantity_t: q,
                    poster,
                    poster_side,
                    acceptor,
                }
            },
        );
    (
        proptest::collection::vec(rules(), 0..3),
        any::<u64>(),
        proptest::collection::vec(offer, 0..3),
        proptest::collection::vec(deal, 0..3),
    )
        .prop_map(|(rules, next_id, offers, deals)| BlockState {
            rules,
            next_id,
            offers,
            deals,
        })
}
