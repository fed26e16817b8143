//! What the runtime takes from a broker and what it gives back when it
//! refuses, in the engine's terms: a [`Request`] is parsed once from the
//! wire, at the session ([`crate::request::parse`]); a [`Refusal`] is turned
//! into a frame by the router. The sequencer never sees a protocol message
//! and never makes one.

use cetx_engine::{AccountId, Bounds, CommandKind, NewBid, NewBlock, NewOrder, RejectReason, Take};

/// A broker's order request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// A new order; its `order_id` is given by the sequencer (the sequence
    /// number), whatever it holds here.
    New(NewOrder),
    /// Cancel the broker's order of today with this client order id.
    Cancel {
        /// The order's client order id.
        client_order_id: u64,
    },
    /// Change the price and quantity of the broker's order of today with
    /// this client order id.
    Amend {
        /// The order's client order id.
        client_order_id: u64,
        /// The new limit price, in ticks.
        price_ticks: i64,
        /// The new quantity, in tonnes.
        quantity_t: u64,
    },
    /// A listing-agreement take; its `order_id` is given by the sequencer
    /// (the sequence number), whatever it holds here.
    Take(Take),
    /// Post a block offer for one of the broker's accounts.
    PostBlock(NewBlock),
    /// Accept an open block offer for one of the broker's accounts.
    AcceptBlock {
        /// The broker's id for the request.
        client_order_id: u64,
        /// The accepting account.
        account: AccountId,
        /// The offer.
        block_id: u64,
        /// Tonnes to take.
        quantity_t: u64,
    },
    /// Withdraw a block offer one of the broker's accounts posted.
    CancelBlock {
        /// The broker's id for the request.
        client_order_id: u64,
        /// The poster's account.
        account: AccountId,
        /// The offer.
        block_id: u64,
    },
    /// A sealed bid in a one-way auction; its `bid_id` is given by the
    /// sequencer (the sequence number).
    Bid(NewBid),
    /// Withdraw the broker's open bid with this client order id.
    CancelBid {
        /// The bid's client order id.
        client_order_id: u64,
    },
    /// Change the price and quantity of the broker's open bid with this
    /// client order id.
    AmendBid {
        /// The bid's client order id.
        client_order_id: u64,
        /// The new price, in ticks.
        price_ticks: i64,
        /// The new quantity, in tonnes.
        quantity_t: u64,
    },
}

impl Request {
    /// The broker's client order id the request names.
    #[must_use]
    pub const fn client_order_id(&self) -> u64 {
        match *self {
            Self::New(order) => order.client_order_id,
            Self::Take(take) => take.client_order_id,
            Self::PostBlock(block) => block.client_order_id,
            Self::Bid(bid) => bid.client_order_id,
            Self::Cancel { client_order_id }
            | Self::Amend {
                client_order_id, ..
            }
            | Self::AcceptBlock {
                client_order_id, ..
            }
            | Self::CancelBlock {
                client_order_id, ..
            }
            | Self::CancelBid { client_order_id }
            | Self::AmendBid {
                client_order_id, ..
            } => client_order_id,
        }
    }

    /// The command the request asks for.
    #[must_use]
    pub const fn kind(&self) -> CommandKind {
        match self {
            Self::New(_) => CommandKind::Submit,
            Self::Cancel { .. } => CommandKind::Cancel,
            Self::Amend { .. } => CommandKind::Amend,
            Self::Take(_) => CommandKind::Take,
            Self::PostBlock(_) => CommandKind::PostBlock,
            Self::AcceptBlock { .. } => CommandKind::AcceptBlock,
            Self::CancelBlock { .. } => CommandKind::CancelBlock,
            Self::Bid(_) => CommandKind::Bid,
            Self::CancelBid { .. } => CommandKind::CancelBid,
            Self::AmendBid { .. } => CommandKind::AmendBid,
        }
    }
}

/// A request refused and not journaled: by the gateway before it reached
/// the engine, or by the engine while the market is closed. Answered with
/// an unsequenced `OrderRejected` (`BlockRejected`, `BidRejected`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The request's client order id.
    pub client_order_id: u64,
    /// What it asked for.
    pub kind: CommandKind,
    /// Why not.
    pub reason: RejectReason,
    /// The limits the engine found broken, which the text quotes.
    pub bounds: Option<Bounds>,
}

impl Refusal {
    /// Refuses `request` for `reason`.
    #[must_use]
    pub const fn of(request: &Request, reason: RejectReason) -> Self {
        Self {
            client_order_id: request.client_order_id(),
            kind: request.kind(),
            reason,
            bounds: None,
        }
    }

    /// Refuses a request of `kind` whose symbol names no instrument.
    #[must_use]
    pub const fn unknown_symbol(client_order_id: u64, kind: CommandKind) -> Self {
        Self {
            client_order_id,
            kind,
            reason: RejectReason::UnknownSymbol,
            bounds: None,
        }
    }
}
