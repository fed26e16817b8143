//! A broker's wire message becomes a runtime [`Request`], once, at the
//! session: the edge where protocol types end.

use cetx_engine::{
    AccountId, CommandKind, InstrumentId, NewBid, NewBlock, NewOrder, OrderId, Take,
};

use crate::protocol::ClientMessage;
use crate::runtime::{Refusal, Request};

/// The request a message asks for, or the refusal of one naming an
/// instrument the market does not trade (**410**); `None` for a session
/// message (login, heartbeat, logout), which is no request. `resolve`
/// gives a symbol's instrument: a session's
/// [`SymbolCache`](crate::runtime::SymbolCache), which knows every
/// instrument listed so far, the journal's as well as the config's.
#[must_use]
pub fn parse(
    message: &ClientMessage,
    mut resolve: impl FnMut(&str) -> Option<InstrumentId>,
) -> Option<Result<Request, Refusal>> {
    let request = match *message {
        ClientMessage::NewOrder {
            client_order_id,
            account,
            ref symbol,
            side,
            order_type,
            time_in_force,
            price_ticks,
            quantity_t,
        } => {
            let Some(instrument) = resolve(symbol) else {
                return Some(Err(Refusal::unknown_symbol(
                    client_order_id,
                    CommandKind::Submit,
                )));
            };
            Request::New(NewOrder {
                // The sequencer gives the order its sequence number as id.
                order_id: OrderId(0),
                account: AccountId(account),
                instrument,
                side: side.into(),
                order_type: order_type.into(),
                time_in_force: time_in_force.into(),
                price_ticks,
                quantity_t,
                client_order_id,
            })
        }
        ClientMessage::Cancel { client_order_id } => Request::Cancel { client_order_id },
        ClientMessage::Amend {
            client_order_id,
            price_ticks,
            quantity_t,
        } => Request::Amend {
            client_order_id,
            price_ticks,
            quantity_t,
        },
        ClientMessage::Take {
            client_order_id,
            account,
            ref symbol,
            order_id,
            side,
            quantity_t,
        } => {
            let Some(instrument) = resolve(symbol) else {
                return Some(Err(Refusal::unknown_symbol(
                    client_order_id,
                    CommandKind::Take,
                )));
            };
            Request::Take(Take {
                // The sequencer gives the take its sequence number as id.
                order_id: OrderId(0),
                account: AccountId(account),
                instrument,
                side: side.into(),
                target: OrderId(order_id),
                quantity_t,
                client_order_id,
            })
        }
        ClientMessage::PostBlock {
            client_order_id,
            account,
            ref symbol,
            side,
            price_ticks,
            quantity_t,
            counterparty,
        } => {
            let Some(instrument) = resolve(symbol) else {
                return Some(Err(Refusal::unknown_symbol(
                    client_order_id,
                    CommandKind::PostBlock,
                )));
            };
            Request::PostBlock(NewBlock {
                account: AccountId(account),
                instrument,
                side: side.into(),
                price_ticks,
                quantity_t,
                counterparty: (counterparty != 0).then_some(AccountId(counterparty)),
                client_order_id,
            })
        }
        ClientMessage::AcceptBlock {
            client_order_id,
            account,
            block_id,
            quantity_t,
        } => Request::AcceptBlock {
            client_order_id,
            account: AccountId(account),
            block_id,
            quantity_t,
        },
        ClientMessage::CancelBlock {
            client_order_id,
            account,
            block_id,
        } => Request::CancelBlock {
            client_order_id,
            account: AccountId(account),
            block_id,
        },
        ClientMessage::Bid {
            client_order_id,
            auction_id,
            account,
            price_ticks,
            quantity_t,
        } => Request::Bid(NewBid {
            // The sequencer gives the bid its sequence number as id.
            bid_id: OrderId(0),
            auction_id,
            account: AccountId(account),
            price_ticks,
            quantity_t,
            client_order_id,
        }),
        ClientMessage::CancelBid { client_order_id } => Request::CancelBid { client_order_id },
        ClientMessage::AmendBid {
            client_order_id,
            price_ticks,
            quantity_t,
        } => Request::AmendBid {
            client_order_id,
            price_ticks,
            quantity_t,
        },
        ClientMessage::Login { .. }
        | ClientMessage::Heartbeat
        | ClientMessage::Logout
        | ClientMessage::Reserved7
        | ClientMessage::Reserved11 => return None,
    };
    Some(Ok(request))
}
