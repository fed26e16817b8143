//! How a refusal reads: the reject frames (`OrderRejected`,
//! `BlockRejected`, `BidRejected`), which request each answers, and their
//! text: the reason in words, then, for an engine refusal that carries
//! them ([`RejectReason::has_bounds`]), the limits the request broke
//! ("price outside band: 81.00 to 99.00"). The text comes from the journal's
//! `Rejected` event alone, so a report read back is the same as the one
//! sent live.

use cetx_engine::{Bounds, CommandKind, RejectReason};

use crate::protocol::{
    ClientMessage, RequestKind, ServerFrame, ServerMessage, MAX_TEXT_LEN, UNSEQUENCED,
};

/// An `OrderRejected` for a request, with the reason's code and its
/// [`reject_text`].
#[must_use]
pub fn order_rejected(
    client_order_id: u64,
    request: RequestKind,
    reason: RejectReason,
) -> ServerMessage {
    rejection(client_order_id, Asked::Order(request), reason, None)
}

/// An unsequenced `OrderRejected`: the gateway's own answer to an order
/// request that never reached the engine (seq 0, not stored, not
/// replayed).
#[must_use]
pub fn gateway_reject(
    client_order_id: u64,
    request: RequestKind,
    reason: RejectReason,
) -> ServerFrame {
    ServerFrame {
        seq: UNSEQUENCED,
        message: order_rejected(client_order_id, request, reason),
    }
}

/// What a refused request asked for, as its rejection names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asked {
    /// An order request: answered by `OrderRejected`.
    Order(RequestKind),
    /// A block request (0 `PostBlock`, 1 `AcceptBlock`, 2 `CancelBlock`):
    /// answered by `BlockRejected`.
    Block(u8),
    /// An auction bid's request (0 `Bid`, 1 `CancelBid`, 2 `AmendBid`):
    /// answered by `BidRejected`.
    Bid(u8),
}

impl Asked {
    /// What a request of kind `kind` asked for: a block request is
    /// answered `BlockRejected`, a bid request `BidRejected`, any other
    /// `OrderRejected`.
    #[must_use]
    pub const fn of(kind: CommandKind) -> Self {
        match kind {
            CommandKind::PostBlock => Self::Block(0),
            CommandKind::AcceptBlock => Self::Block(1),
            CommandKind::CancelBlock => Self::Block(2),
            CommandKind::Bid => Self::Bid(0),
            CommandKind::CancelBid => Self::Bid(1),
            CommandKind::AmendBid => Self::Bid(2),
            CommandKind::Cancel => Self::Order(RequestKind::Cancel),
            CommandKind::Amend => Self::Order(RequestKind::Amend),
            CommandKind::Take => Self::Order(RequestKind::Take),
            _ => Self::Order(RequestKind::NewOrder),
        }
    }
}

/// The client order id of a request and what it asks for (the order,
/// block and bid requests); `None` for session messages.
#[must_use]
pub const fn request_of(message: &ClientMessage) -> Option<(u64, Asked)> {
    match *message {
        ClientMessage::NewOrder {
            client_order_id, ..
        } => Some((client_order_id, Asked::Order(RequestKind::NewOrder))),
        ClientMessage::Cancel { client_order_id } => {
            Some((client_order_id, Asked::Order(RequestKind::Cancel)))
        }
        ClientMessage::Amend {
            client_order_id, ..
        } => Some((client_order_id, Asked::Order(RequestKind::Amend))),
        ClientMessage::Take {
            client_order_id, ..
        } => Some((client_order_id, Asked::Order(RequestKind::Take))),
        ClientMessage::PostBlock {
            client_order_id, ..
        } => Some((client_order_id, Asked::Block(0))),
        ClientMessage::AcceptBlock {
            client_order_id, ..
        } => Some((client_order_id, Asked::Block(1))),
        ClientMessage::CancelBlock {
            client_order_id, ..
        } => Some((client_order_id, Asked::Block(2))),
        ClientMessage::Bid {
            client_order_id, ..
        } => Some((client_order_id, Asked::Bid(0))),
        ClientMessage::CancelBid { client_order_id } => Some((client_order_id, Asked::Bid(1))),
        ClientMessage::AmendBid {
            client_order_id, ..
        } => Some((client_order_id, Asked::Bid(2))),
        ClientMessage::Login { .. }
        | ClientMessage::Heartbeat
        | ClientMessage::Logout
        | ClientMessage::Reserved7
        | ClientMessage::Reserved11 => None,
    }
}

/// The symbol a request names (a new order, a take, a block offer).
#[must_use]
pub fn symbol_of(message: &ClientMessage) -> Option<&str> {
    match message {
        ClientMessage::NewOrder { symbol, .. }
        | ClientMessage::Take { symbol, .. }
        | ClientMessage::PostBlock { symbol, .. } => Some(symbol),
        _ => None,
    }
}

/// The gateway's own unsequenced answer to a request that never reached
/// the engine (seq 0, not stored, not replayed): its [`rejection`].
#[must_use]
pub fn refuse(client_order_id: u64, asked: Asked, reason: RejectReason) -> ServerFrame {
    refuse_quoting(client_order_id, asked, reason, None)
}

/// [`refuse`], its text quoting the limits the engine found broken (a
/// refusal of the engine's not journaled, while the market is closed).
#[must_use]
pub fn refuse_quoting(
    client_order_id: u64,
    asked: Asked,
    reason: RejectReason,
    bounds: Option<Bounds>,
) -> ServerFrame {
    refuse_saying(client_order_id, asked, reason, refusal_text(reason, bounds))
}

/// [`refuse`], its text `text`.
#[must_use]
pub fn refuse_saying(
    client_order_id: u64,
    asked: Asked,
    reason: RejectReason,
    text: String,
) -> ServerFrame {
    ServerFrame {
        seq: UNSEQUENCED,
        message: worded(client_order_id, asked, reason.code(), text),
    }
}

/// The refusal of a request: `OrderRejected` for an order request,
/// `BlockRejected` for a block request, `BidRejected` for a bid request;
/// its text quotes the limits the engine found broken, if any
/// ([`with_limits`]).
#[must_use]
pub fn rejection(
    client_order_id: u64,
    asked: Asked,
    reason: RejectReason,
    bounds: Option<Bounds>,
) -> ServerMessage {
    worded(
        client_order_id,
        asked,
        reason.code(),
        refusal_text(reason, bounds),
    )
}

/// The rejection message `asked` is answered by, with `code` and `text`.
fn worded(client_order_id: u64, asked: Asked, code: u16, text: String) -> ServerMessage {
    match asked {
        Asked::Order(request) => ServerMessage::OrderRejected {
            client_order_id,
            request,
            reason: code,
            text,
        },
        Asked::Block(request) => ServerMessage::BlockRejected {
            client_order_id,
            request,
            reason: code,
            text,
        },
        Asked::Bid(request) => ServerMessage::BidRejected {
            client_order_id,
            request,
            reason: code,
            text,
        },
    }
}

/// A reason's name in words, for people: `InsufficientCash` is
/// "insufficient cash". Always shorter than the protocol's `MAX_TEXT_LEN`.
#[must_use]
pub fn reject_text(reason: RejectReason) -> String {
    let name = format!("{reason:?}");
    let mut text = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                text.push(' ');
            }
            text.push(c.to_ascii_lowercase());
        } else {
            text.push(c);
        }
    }
    text
}

/// [`reject_text`], then the limits the request broke when the engine
/// quoted them ([`with_limits`]).
fn refusal_text(reason: RejectReason, bounds: Option<Bounds>) -> String {
    with_limits(reject_text(reason), reason, bounds)
}

/// `words`, then `: ` and the limits a refused request broke when the
/// engine quoted them (`limits_text`); `words` alone if that would not
/// fit in [`MAX_TEXT_LEN`]. The operators' channel puts the reason's name
/// first instead of its words.
#[must_use]
pub fn with_limits(words: String, reason: RejectReason, bounds: Option<Bounds>) -> String {
    match limits_text(reason, bounds) {
        Some(limits) if words.len() + 2 + limits.len() <= MAX_TEXT_LEN => {
            format!("{words}: {limits}")
        }
        _ => words,
    }
}

/// The limits a refused request broke, for people, as `reason` reads its
/// `bounds` ([`RejectReason::has_bounds`]): prices in CNY (the protocol's
/// ticks of 0.01 CNY), tonnes as whole numbers; `None` without bounds.
fn limits_text(reason: RejectReason, bounds: Option<Bounds>) -> Option<String> {
    let Bounds { low, high } = bounds?;
    if reason == RejectReason::OppositeSideTooSoon {
        return opposite_side_text(low, high);
    }
    let range = |show: fn(i64) -> String, unit: &str| match high {
        i64::MAX => format!("at least {}{unit}", show(low)),
        _ => format!("{} to {}{unit}", show(low), show(high)),
    };
    Some(match reason {
        RejectReason::PriceOutsideBand
        | RejectReason::BlockPriceOutsideBand
        | RejectReason::BidOutsideAuctionRange => range(cny, ""),
        RejectReason::InvalidAuctionTerms => format!(
            "floor and ceiling within {}, floor not above ceiling, end after start and now",
            range(cny, "")
        ),
        RejectReason::BlockQuantityInvalid | RejectReason::BlockBelowMinimum
            if high != i64::MAX =>
        {
            // An acceptance: all that is open, or at least the minimum and
            // leaving at least the minimum.
            let partial = high.saturating_sub(low);
            if partial >= low {
                format!("take all {high} t, or {low} to {partial} t")
            } else {
                format!("take all {high} t")
            }
        }
        RejectReason::BlockOutsideHours => format!(
            "the next block session is {} to {}",
            time_of_day(low),
            time_of_day(high)
        ),
        RejectReason::InsufficientCash => format!("{} CNY free", cny(high)),
        RejectReason::InsufficientHoldings => format!("{high} t free"),
        RejectReason::HoldingsLockedUntilNextDay => format!("{high} t free today"),
        // A bound stops at `i64::MAX`: a limit that large, or none (what a
        // holding can count), reads the same (a reviewer's case).
        RejectReason::PositionLimitExceeded if high == i64::MAX => {
            "at most 2^63 - 1 t or more held and open to buy (with no limit, 2^64 - 1 t: what a holding can count)".to_owned()
        }
        RejectReason::PositionLimitExceeded => {
            format!("at most {high} t held and open to buy")
        }
        RejectReason::AccountOrderLimit | RejectReason::BrokerOrderLimit => {
            format!("at most {high} resting orders")
        }
        _ => range(|t| t.to_string(), " t"),
    })
}

/// A 207's limits: `days` until the account may trade this way, and the
/// tonnes it has open the other way (`open_t`); `None` when neither.
fn opposite_side_text(days: i64, open_t: i64) -> Option<String> {
    let when = match days {
        0 => None,
        1 => Some("this way from the next trading day".to_owned()),
        days => Some(format!("this way in {days} trading days")),
    };
    let open = (open_t > 0).then(|| format!("{open_t} t open the other way"));
    match (open, when) {
        (Some(open), Some(when)) => Some(format!("{open}; {when}")),
        (open, when) => open.or(when),
    }
}

/// Seconds since midnight as a time of day: 46800 as `13:00`, with the
/// seconds when there are any (`09:30:30`).
fn time_of_day(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if s == 0 {
        format!("{h:02}:{m:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// Ticks of 0.01 CNY as CNY: 8100 as `81.00`.
fn cny(ticks: i64) -> String {
    let sign = if ticks < 0 { "-" } else { "" };
    let abs = ticks.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_texts_are_words_and_fit_the_protocol() {
        assert_eq!(
            reject_text(RejectReason::InsufficientCash),
            "insufficient cash"
        );
        assert_eq!(
            reject_text(RejectReason::HoldingsLockedUntilNextDay),
            "holdings locked until next day"
        );
        for reason in RejectReason::ALL {
            assert!(reject_text(reason).len() <= MAX_TEXT_LEN);
        }
        let frame = gateway_reject(9, RequestKind::Cancel, RejectReason::OrderNotOwned);
        assert_eq!(frame.seq, UNSEQUENCED);
        let frame = refuse(9, Asked::Bid(2), RejectReason::UnknownClientOrderId);
        assert!(matches!(
            frame.message,
            ServerMessage::BidRejected {
                client_order_id: 9,
                request: 2,
                reason: 409,
                ..
            }
        ));
        assert_eq!(frame.seq, UNSEQUENCED);
    }

    #[test]
    fn a_refusal_quotes_the_limits_the_engine_found_broken() {
        use RejectReason as R;
        let text = |reason, low, high| refusal_text(reason, Some(Bounds::new(low, high)));
        let cases = [
            (R::PriceOutsideBand, 8_100, 9_900, "price outside band: 81.00 to 99.00"),
            (R::QuantityAboveMaximum, 1, 99_999, "quantity above maximum: 1 to 99999 t"),
            (R::QuantityBelowMinimum, 10, 500, "quantity below minimum: 10 to 500 t"),
            (R::BidOutsideAuctionRange, 8_500, 9_500, "bid outside auction range: 85.00 to 95.00"),
            (R::BlockPriceOutsideBand, 6_300, 11_700, "block price outside band: 63.00 to 117.00"),
            (R::AuctionTooSmall, 100_000, i64::MAX, "auction too small: at least 100000 t"),
            (R::BlockBelowMinimum, 100_000, i64::MAX, "block below minimum: at least 100000 t"),
            (
                R::BlockQuantityInvalid,
                100_000,
                250_000,
                "block quantity invalid: take all 250000 t, or 100000 to 150000 t",
            ),
            (R::BlockBelowMinimum, 100_000, 150_000, "block below minimum: take all 150000 t"),
            (R::InsufficientCash, 0, 499_900, "insufficient cash: 4999.00 CNY free"),
            (R::InsufficientHoldings, 0, 300, "insufficient holdings: 300 t free"),
            (
                R::HoldingsLockedUntilNextDay,
                0,
                40,
                "holdings locked until next day: 40 t free today",
            ),
            (
                R::PositionLimitExceeded,
                0,
                100_000,
                "position limit exceeded: at most 100000 t held and open to buy",
            ),
            (
                R::OppositeSideTooSoon,
                1,
                0,
                "opposite side too soon: this way from the next trading day",
            ),
            (
                R::OppositeSideTooSoon,
                4,
                0,
                "opposite side too soon: this way in 4 trading days",
            ),
            (
                R::OppositeSideTooSoon,
                0,
                40,
                "opposite side too soon: 40 t open the other way",
            ),
            (
                R::OppositeSideTooSoon,
                3,
                40,
                "opposite side too soon: 40 t open the other way; this way in 3 trading days",
            ),
            // A limit of 2^63 - 1 t or more, or none: a bound stops at
            // 2^63 - 1, so the words say both (a reviewer's case).
            (
                R::PositionLimitExceeded,
                0,
                i64::MAX,
                "position limit exceeded: at most 2^63 - 1 t or more held and open to buy (with no limit, 2^64 - 1 t: what a holding can count)",
            ),
            (
                R::BlockOutsideHours,
                46_800,
                54_000,
                "block outside hours: the next block session is 13:00 to 15:00",
            ),
            (
                R::BlockOutsideHours,
                34_230,
                41_400,
                "block outside hours: the next block session is 09:30:30 to 11:30",
            ),
            (R::AccountOrderLimit, 0, 64, "account order limit: at most 64 resting orders"),
            (R::BrokerOrderLimit, 0, 512, "broker order limit: at most 512 resting orders"),
            (
                R::InvalidAuctionTerms,
                8_100,
                9_900,
                "invalid auction terms: floor and ceiling within 81.00 to 99.00, floor not above ceiling, end after start and now",
            ),
        ];
        for (reason, low, high, want) in cases {
            assert!(reason.has_bounds(), "{reason:?}");
            assert_eq!(text(reason, low, high), want);
            assert!(want.len() <= MAX_TEXT_LEN, "{want}");
        }
        // Without limits (a journal from before them, or a reason without
        // any), the reason's words alone; a text too long for the
        // protocol, too.
        assert_eq!(
            refusal_text(R::PriceOutsideBand, None),
            "price outside band"
        );
        assert_eq!(
            text(R::InvalidAuctionTerms, i64::MIN, i64::MAX - 1),
            "invalid auction terms"
        );
        let message = rejection(
            4,
            Asked::Bid(0),
            R::BidOutsideAuctionRange,
            Some(Bounds::new(8_500, 9_500)),
        );
        assert_eq!(
            message,
            ServerMessage::BidRejected {
                client_order_id: 4,
                request: 0,
                reason: 143,
                text: "bid outside auction range: 85.00 to 95.00".into(),
            }
        );
    }
}
