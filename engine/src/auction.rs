//! One-way auctions (单向竞价): one seller, sealed bids, one close.
//!
//! The exchange announces an auction ([`Command::AnnounceAuction`]): an
//! instrument, a seller account whose allowances are locked at once, the
//! quantity offered, a floor and a ceiling, a bidding window and a pricing
//! rule. Eligible buyers bid inside the window, each bid pre-funded at its
//! own price; they may cancel or amend a bid until the window ends. A
//! [`Command::CloseAuction`] stamped at or after the window's end ranks the
//! bids by price, highest first, then by time, fills them up to the
//! quantity offered (the marginal bid partly), prices the fills (uniform:
//! the lowest accepted price for all; pay-as-bid: each bid's own price) and
//! settles each fill as a trade with the engine's next trade id. Unsold
//! allowances, unfilled bids and, under a uniform price, what a winning bid
//! reserved above the clearing price return to their accounts.
//!
//! The engine keeps only open auctions and their bids, bounded by
//! [`MAX_OPEN_AUCTIONS`] and [`MAX_BIDS_PER_AUCTION`]; a closed auction
//! lives on in the journal only.
//!
//! [`Command::AnnounceAuction`]: crate::Command::AnnounceAuction
//! [`Command::CloseAuction`]: crate::Command::CloseAuction

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::instrument::InstrumentId;
use crate::order::{AccountId, OrderId};

/// Most auctions open at once. A further announcement is refused with
/// [`crate::RejectReason::AuctionFull`].
pub const MAX_OPEN_AUCTIONS: usize = 64;

/// Most bids one auction holds. A further bid is refused with
/// [`crate::RejectReason::AuctionFull`].
pub const MAX_BIDS_PER_AUCTION: usize = 4_096;

/// How the winning bids are priced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Pricing {
    /// Every winning bid pays the lowest accepted bid's price.
    Uniform = 0,
    /// Every winning bid pays its own price.
    PayAsBid = 1,
}

impl Pricing {
    /// Its name for people: `uniform` or `pay-as-bid`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Uniform => "uniform",
            Self::PayAsBid => "pay-as-bid",
        }
    }
}

/// What the exchange announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuctionNotice {
    /// The auction's id: above every auction id announced before.
    pub auction_id: u64,
    /// The instrument sold.
    pub instrument: InstrumentId,
    /// The selling account; the quantity is locked in it until the close.
    pub seller: AccountId,
    /// Tonnes offered.
    pub quantity_t: u64,
    /// Lowest bid price accepted, in ticks.
    pub floor_ticks: i64,
    /// Highest bid price accepted, in ticks.
    pub ceiling_ticks: i64,
    /// First instant of the bidding window, nanoseconds since the Unix
    /// epoch (UTC).
    pub start_ns: i64,
    /// End of the bidding window (excluded), nanoseconds since the Unix
    /// epoch: a bid must be stamped before it, the close at or after it.
    pub end_ns: i64,
    /// Uniform price or pay-as-bid.
    pub pricing: Pricing,
}

/// A sealed bid in an open auction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuctionBid {
    /// The bid's id, from the order ids.
    pub bid_id: OrderId,
    /// The bidding account.
    pub account: AccountId,
    /// Price in ticks; its cash is reserved at it.
    pub price_ticks: i64,
    /// Tonnes bid.
    pub quantity_t: u64,
    /// The broker's id for the bid, kept for its reports.
    pub client_order_id: u64,
    /// The sequence number that gave the bid its time priority: the bid's,
    /// or that of the last amend that lost priority.
    pub priority_seq: u64,
}

/// An auction that is announced and not closed yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenAuction {
    /// Its announcement.
    pub notice: AuctionNotice,
    /// Its bids, in the order they were placed.
    pub bids: Vec<AuctionBid>,
}

/// The engine's auctions: those open, and the highest id announced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Auctions {
    /// Highest auction id announced so far.
    pub last_auction_id: Option<u64>,
    /// Open auctions by id.
    pub open: BTreeMap<u64, OpenAuction>,
}
