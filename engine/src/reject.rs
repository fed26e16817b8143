//! Stable numeric reasons for rejecting a command.
//!
//! Codes are grouped by hundreds: 100s validation, 200s risk, 300s book and
//! session, 400s protocol and authentication. They are part of the wire
//! protocol and the journal: never renumber one; retire a code by leaving a
//! gap.
//!
//! The 400s are produced by the gateway, never by the engine: they answer a
//! broker's session (login, ownership, throttling, malformed frames) before
//! anything reaches the engine, and are never written to the journal.

use serde::{Deserialize, Serialize};

/// Why a command was rejected. A rejected command changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u16)]
pub enum RejectReason {
    /// The instrument id names no configured instrument.
    UnknownInstrument = 101,
    /// The price is not a multiple of the instrument's tick.
    PriceNotOnTick = 102,
    /// The price is outside today's band around the reference price.
    PriceOutsideBand = 103,
    /// The quantity is zero.
    QuantityZero = 104,
    /// The quantity is not a whole number of lots.
    QuantityNotWholeLots = 105,
    /// The quantity is below the instrument's minimum order size.
    QuantityBelowMinimum = 106,
    /// The quantity is above the instrument's maximum order size.
    QuantityAboveMaximum = 107,
    /// A cash amount or allowance quantity in an admin command is zero,
    /// negative, or would overflow a balance.
    InvalidAmount = 108,
    /// An instrument's spec is not usable (a symbol that is empty, over 16
    /// bytes or not printable ASCII, a tick off 0.01 CNY, a zero lot,
    /// inconsistent sizes, a band of 100% or more, a reference off the
    /// tick), or a revision changes its symbol or kind, or the instrument
    /// limit is reached.
    InvalidInstrumentSpec = 109,
    /// An instrument with this symbol is listed already.
    SymbolExists = 110,
    /// A transfer's reference id is empty or longer than 64 bytes.
    InvalidReference = 111,
    /// A broker with this id exists already (in the config or the journal),
    /// or did once: ids are not reused.
    BrokerExists = 112,
    /// The account's broker is suspended or closed: no new order for its
    /// accounts, no new account for it.
    BrokerSuspended = 113,
    /// The account is suspended: no new order.
    AccountSuspended = 114,
    /// The account is closed: no order, no transfer, no change.
    AccountClosed = 115,
    /// An account may close only with no cash, no allowances and no open
    /// order.
    AccountNotEmpty = 116,
    /// A broker may close only once each of its accounts is closed.
    BrokerHasOpenAccounts = 117,
    /// A broker or account already has the standing asked for, or is
    /// closed (closure is final).
    InvalidStatusChange = 118,
    /// A new broker's name is empty or longer than 64 bytes, or its
    /// credential has no hashing rounds.
    InvalidBroker = 119,
    /// (Take) the named order does not rest in this instrument's book: it
    /// never existed, or is filled, cancelled or expired.
    TakeTargetNotResting = 120,
    /// (Take) the named order is on the taker's own side: a buy takes a
    /// resting sell, a sell takes a resting buy.
    TakeTargetSameSide = 121,
    /// (Take) the named order's price is not among the opposite side's
    /// best levels a take may reach (CEA: the best 5; CCER: the best).
    TakeTargetTooDeep = 122,
    /// (Take, CCER) the named order is not the first in time at its level.
    TakeTargetNotFirst = 123,
    /// (Take) the take asks for more than the named order has open.
    TakeExceedsTarget = 124,
    /// (Take) the named order belongs to the taker's own account.
    SelfTake = 125,
    /// Block trading is not open for this instrument (CCER by default).
    BlocksNotEnabled = 130,
    /// Outside the instrument's block hours (CEA 13:00–15:00; CCER
    /// 09:30–11:30 and 13:00–15:00), or the instrument is not in continuous
    /// trading (closed, at its break, halted).
    BlockOutsideHours = 131,
    /// A block offer below the block minimum (100,000 t by default), or an
    /// acceptance below it that does not take all that remains.
    BlockBelowMinimum = 132,
    /// A block price outside the block band (±30% of the reference price
    /// by default).
    BlockPriceOutsideBand = 133,
    /// No open block offer (or, for the exchange, no deal waiting for
    /// confirmation) has this id.
    UnknownBlock = 134,
    /// Only the account that posted a block offer may withdraw it.
    BlockNotPoster = 135,
    /// An account may not accept its own block offer, nor direct one at
    /// itself.
    BlockSelfAccept = 136,
    /// The block offer is directed at another account.
    BlockDirectedElsewhere = 137,
    /// The acceptance is larger than what remains of the offer, or would
    /// leave a remainder below the block minimum.
    BlockQuantityInvalid = 138,
    /// The instrument already has as many open block offers and deals
    /// waiting for confirmation as it may (`max_open`).
    BlockLimitReached = 139,
    /// One-way auctions of this instrument are not open (CCER by default:
    /// `auctions` in its config).
    AuctionsNotOpen = 140,
    /// An auction's quantity is below the instrument's `min_auction_t`
    /// (100,000 t by default).
    AuctionTooSmall = 141,
    /// An auction's floor is below today's band (the previous close less
    /// 10%), its ceiling above it (the previous close plus 10%), its floor
    /// above its ceiling, or its window does not end after it starts.
    InvalidAuctionTerms = 142,
    /// A bid's price is outside its auction's floor and ceiling.
    BidOutsideAuctionRange = 143,
    /// No open auction has this id (never announced, or closed).
    UnknownAuction = 144,
    /// The auction id is not above every auction id announced before.
    DuplicateAuctionId = 145,
    /// As many auctions are open as the engine holds (64), or the auction
    /// holds as many bids as it may (4,096).
    AuctionFull = 146,
    /// A bid, a bid's cancel or amend outside its auction's window: before
    /// it starts, or at or after its end.
    AuctionNotBidding = 147,
    /// An auction may close only once its window has ended.
    AuctionStillOpen = 148,
    /// The seller may not bid in its own auction.
    SellerCannotBid = 149,
    /// The account does not exist.
    UnknownAccount = 201,
    /// Not enough unreserved cash for the order's full value (or the
    /// withdrawal).
    InsufficientCash = 202,
    /// Not enough free allowances to sell (or debit).
    InsufficientHoldings = 203,
    /// Enough allowances are held, but some were bought today and may not
    /// be sold until the next trading day (CEA T+1).
    HoldingsLockedUntilNextDay = 204,
    /// The account's participant type may not trade this instrument.
    ParticipantNotEligible = 205,
    /// The order would take the account's holding plus open buys past the
    /// instrument's position limit.
    PositionLimitExceeded = 206,
    /// The account traded, or has an open order, on the opposite side too
    /// recently (CCER: 5 trading days between opposite-side trades).
    OppositeSideTooSoon = 207,
    /// An account with this id is already open.
    AccountExists = 208,
    /// The account already has as many orders resting in this instrument's
    /// book as it may (`max_orders_per_account`); a day limit order, which
    /// may rest, is refused.
    AccountOrderLimit = 209,
    /// The broker's accounts already have as many orders resting in this
    /// instrument's book as the broker may (`max_orders_per_broker`).
    BrokerOrderLimit = 210,
    /// A transfer with this reference id was applied before, with the
    /// same account, asset, direction and amount; nothing changed (a
    /// re-sent transfer).
    DuplicateReference = 211,
    /// A transfer with this reference id was applied before with another
    /// account, asset, direction or amount; nothing changed (the reference
    /// was reused for a different transfer).
    ReferenceReused = 212,
    /// The order id is not above every id accepted before, so it may have
    /// been used already.
    DuplicateOrderId = 301,
    /// The order to cancel or amend is unknown, or already filled, cancelled
    /// or expired.
    UnknownOrder = 302,
    /// The instrument is not in continuous trading (closed, at its break, or
    /// halted).
    MarketClosed = 303,
    /// The reference price may only change while the instrument is not
    /// trading, its book is empty and no block offer, pending block deal
    /// or auction of it is open.
    ReferencePriceLocked = 304,
    /// An instrument's rules may only be revised while it is not trading
    /// and its book is empty.
    InstrumentBusy = 305,
    /// A message other than `Login` arrived before the session logged in.
    NotLoggedIn = 401,
    /// The broker id and secret do not match a configured broker.
    BadCredentials = 402,
    /// The login's protocol version is not one the server speaks.
    UnsupportedProtocolVersion = 403,
    /// The order names an account that the broker does not act for.
    AccountNotOwned = 404,
    /// The order belongs to another broker.
    OrderNotOwned = 405,
    /// The client order id was already used by this broker today.
    DuplicateClientOrderId = 406,
    /// The broker sent more messages than its rate limit allows.
    Throttled = 407,
    /// The server's queue to the engine is full; the message was not taken.
    ServerBusy = 408,
    /// No order of this broker carries that client order id today.
    UnknownClientOrderId = 409,
    /// The symbol in a new order names no instrument.
    UnknownSymbol = 410,
    /// A second `Login` arrived on a session that is already logged in.
    AlreadyLoggedIn = 411,
    /// The server, or this broker, already has as many connections as it
    /// allows.
    TooManyConnections = 412,
    /// The login asked to resume after a sequence number beyond the last one
    /// the server has for this broker.
    ResumeSeqAhead = 413,
    /// A frame could not be decoded: unknown message tag, a field running
    /// past the end of the frame, trailing bytes, invalid UTF-8, an invalid
    /// value or a string longer than its maximum.
    MalformedFrame = 414,
    /// A frame's length prefix is above the session's maximum frame size.
    FrameTooLarge = 415,
    /// A new login of the same broker took this session over; the old
    /// connection is closed.
    SessionTakenOver = 416,
    /// Too many failed logins from this address or for this broker: the
    /// login was not checked; try again later.
    TooManyFailedLogins = 417,
    /// (Operators' channel) the broker an account is opened for is not
    /// configured.
    UnknownBroker = 418,
    /// The login's `resume_from_seq` needs reports older than the journal
    /// the server keeps live: their segments were archived (`cetx journal
    /// archive`). Nothing else happened: no session was taken over.
    HistoryArchived = 419,
    /// The broker is suspended or closed: its logins are refused.
    BrokerNotActive = 420,
    /// A resume's reports could not be read back from the journal (a
    /// damaged segment): the session ends with this `ProtocolError`,
    /// whose text says the earliest resume served from memory. Not the
    /// broker's disconnect: its resting orders stay.
    HistoryUnreadable = 421,
}

impl RejectReason {
    /// The stable numeric code.
    #[must_use]
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// Whether the engine's `Rejected` for this reason carries the limits
    /// the command broke ([`crate::Bounds`], `low` to `high`):
    /// - `PriceOutsideBand`: today's band, in ticks;
    /// - `QuantityBelowMinimum`, `QuantityAboveMaximum`: an order's (or a
    ///   take's) smallest and largest size, in tonnes; for an auction bid
    ///   (`QuantityAboveMaximum` only), a lot to the auction's quantity;
    /// - `BidOutsideAuctionRange`: the auction's floor and ceiling;
    /// - `InvalidAuctionTerms`: today's band, which the floor and ceiling
    ///   must lie in;
    /// - `AuctionTooSmall`: the instrument's `min_auction_t`, no upper limit;
    /// - `BlockPriceOutsideBand`: the block band, in ticks;
    /// - `BlockBelowMinimum`: for an offer, the block minimum and no upper
    ///   limit; for an acceptance, as `BlockQuantityInvalid`;
    /// - `BlockQuantityInvalid`: the block minimum and what is open of the
    ///   offer (an acceptance takes all that is open, or at least the
    ///   minimum and leaves at least the minimum);
    /// - `InsufficientCash`: 0 to the account's free cash, in fen;
    ///   `InsufficientHoldings`, `HoldingsLockedUntilNextDay`: 0 to the
    ///   tonnes of the instrument it may sell now; for a new order, a take,
    ///   a bid, a block offer or acceptance, and an auction's seller (not
    ///   for an amend or a transfer);
    /// - `PositionLimitExceeded`: 0 to the instrument's position limit, in
    ///   tonnes held and open to buy (the same commands);
    /// - `OppositeSideTooSoon`: the trading days until the account may
    ///   trade this way (0 when the gap does not stop it), and the tonnes
    ///   it has open the other way (the same commands, and an amend);
    /// - `AccountOrderLimit`, `BrokerOrderLimit`: 0 to the most orders the
    ///   account, or its broker, may have resting in the book.
    ///
    /// Only the engine's refusals carry them, and only those made since
    /// 2026-12-06 (older journal entries have none; a 207's, since
    /// 2026-12-07).
    #[must_use]
    pub const fn has_bounds(self) -> bool {
        matches!(
            self,
            Self::PriceOutsideBand
                | Self::QuantityBelowMinimum
                | Self::QuantityAboveMaximum
                | Self::BidOutsideAuctionRange
                | Self::InvalidAuctionTerms
                | Self::AuctionTooSmall
                | Self::BlockPriceOutsideBand
                | Self::BlockOutsideHours
                | Self::BlockBelowMinimum
                | Self::BlockQuantityInvalid
                | Self::InsufficientCash
                | Self::InsufficientHoldings
                | Self::HoldingsLockedUntilNextDay
                | Self::PositionLimitExceeded
                | Self::OppositeSideTooSoon
                | Self::AccountOrderLimit
                | Self::BrokerOrderLimit
        )
    }

    /// Every reason, in code order.
    pub const ALL: [Self; 83] = [
        Self::UnknownInstrument,
        Self::PriceNotOnTick,
        Self::PriceOutsideBand,
        Self::QuantityZero,
        Self::QuantityNotWholeLots,
        Self::QuantityBelowMinimum,
        Self::QuantityAboveMaximum,
        Self::InvalidAmount,
        Self::InvalidInstrumentSpec,
        Self::SymbolExists,
        Self::InvalidReference,
        Self::BrokerExists,
        Self::BrokerSuspended,
        Self::AccountSuspended,
        Self::AccountClosed,
        Self::AccountNotEmpty,
        Self::BrokerHasOpenAccounts,
        Self::InvalidStatusChange,
        Self::InvalidBroker,
        Self::TakeTargetNotResting,
        Self::TakeTargetSameSide,
        Self::TakeTargetTooDeep,
        Self::TakeTargetNotFirst,
        Self::TakeExceedsTarget,
        Self::SelfTake,
        Self::BlocksNotEnabled,
        Self::BlockOutsideHours,
        Self::BlockBelowMinimum,
        Self::BlockPriceOutsideBand,
        Self::UnknownBlock,
        Self::BlockNotPoster,
        Self::BlockSelfAccept,
        Self::BlockDirectedElsewhere,
        Self::BlockQuantityInvalid,
        Self::BlockLimitReached,
        Self::AuctionsNotOpen,
        Self::AuctionTooSmall,
        Self::InvalidAuctionTerms,
        Self::BidOutsideAuctionRange,
        Self::UnknownAuction,
        Self::DuplicateAuctionId,
        Self::AuctionFull,
        Self::AuctionNotBidding,
        Self::AuctionStillOpen,
        Self::SellerCannotBid,
        Self::UnknownAccount,
        Self::InsufficientCash,
        Self::InsufficientHoldings,
        Self::HoldingsLockedUntilNextDay,
        Self::ParticipantNotEligible,
        Self::PositionLimitExceeded,
        Self::OppositeSideTooSoon,
        Self::AccountExists,
        Self::AccountOrderLimit,
        Self::BrokerOrderLimit,
        Self::DuplicateReference,
        Self::ReferenceReused,
        Self::DuplicateOrderId,
        Self::UnknownOrder,
        Self::MarketClosed,
        Self::ReferencePriceLocked,
        Self::InstrumentBusy,
        Self::NotLoggedIn,
        Self::BadCredentials,
        Self::UnsupportedProtocolVersion,
        Self::AccountNotOwned,
        Self::OrderNotOwned,
        Self::DuplicateClientOrderId,
        Self::Throttled,
        Self::ServerBusy,
        Self::UnknownClientOrderId,
        Self::UnknownSymbol,
        Self::AlreadyLoggedIn,
        Self::TooManyConnections,
        Self::ResumeSeqAhead,
        Self::MalformedFrame,
        Self::FrameTooLarge,
        Self::SessionTakenOver,
        Self::TooManyFailedLogins,
        Self::UnknownBroker,
        Self::HistoryArchived,
        Self::BrokerNotActive,
        Self::HistoryUnreadable,
    ];

    /// The reason with this code, if there is one.
    #[must_use]
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::RejectReason;

    #[test]
    fn codes_are_pinned() {
        // These numbers are on the wire and in journals: this table may grow,
        // but a line may never change.
        let pinned: Vec<u16> = RejectReason::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(
            pinned,
            [
                101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116,
                117, 118, 119, 120, 121, 122, 123, 124, 125, 130, 131, 132, 133, 134, 135, 136,
                137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 201, 202, 203,
                204, 205, 206, 207, 208, 209, 210, 211, 212, 301, 302, 303, 304, 305, 401, 402,
                403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418,
                419, 420, 421
            ]
        );
        for reason in RejectReason::ALL {
            assert_eq!(RejectReason::from_code(reason.code()), Some(reason));
        }
        assert_eq!(RejectReason::from_code(100), None);
        assert_eq!(RejectReason::from_code(400), None);
        assert!(RejectReason::ALL
            .windows(2)
            .all(|w| w[0].code() < w[1].code()));
    }
}
