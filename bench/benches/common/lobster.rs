//! cetx commands as lobster orders, so lobster runs the very stream cetx
//! runs. Shared by `benches/engine.rs` and `tests/quantcup.rs`.

use cetx_engine::{Command, OrderType, Side, TimeInForce};

/// The lobster order for a limit Day order (lobster rests what a limit order
/// does not trade) or a cancel.
///
/// # Panics
/// For any other command: lobster has nothing like it.
pub fn to_lobster(command: &Command) -> lobster::OrderType {
    match command {
        Command::Submit(order)
            if order.order_type == OrderType::Limit && order.time_in_force == TimeInForce::Day =>
        {
            lobster::OrderType::Limit {
                id: u128::from(order.order_id.0),
                side: match order.side {
                    Side::Buy => lobster::Side::Bid,
                    Side::Sell => lobster::Side::Ask,
                },
                qty: order.quantity_t,
                price: u64::try_from(order.price_ticks).expect("a positive price"),
            }
        }
        Command::Cancel { order_id, .. } => lobster::OrderType::Cancel {
            id: u128::from(order_id.0),
        },
        other => panic!("lobster has no {other:?}"),
    }
}

/// Tonnes a lobster event says its order traded.
pub fn traded_t(event: &lobster::OrderEvent) -> u64 {
    match event {
        lobster::OrderEvent::Filled { filled_qty, .. }
        | lobster::OrderEvent::PartiallyFilled { filled_qty, .. } => *filled_qty,
        _ => 0,
    }
}
