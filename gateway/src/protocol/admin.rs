//! The operators' channel: what an operator and the server say to each
//! other on the `[admin]` listener. `docs/ADMIN.md` is the byte-by-byte
//! contract; the framing and encoding rules are the broker protocol's.
//!
//! An operator logs in with an id and secret of `[[operators]]` (a
//! broker's credentials are refused), then sends actions, each with its own
//! request id. Every action the server takes becomes a journaled engine
//! command, answered once durable with the entry's sequence number.

use cetx_engine::{Direction, ParticipantType, Pricing, Status};
use serde::{Deserialize, Serialize};

use super::fields::{string_from_str, Secret};
use super::{check_len, FieldTooLong, Symbol, MAX_SECRET_LEN, MAX_SYMBOL_LEN, MAX_TEXT_LEN};

/// The version of this channel's messages.
pub const ADMIN_PROTOCOL_VERSION: u16 = 1;

/// Largest frame payload in either direction.
pub const MAX_ADMIN_FRAME: usize = 1024;

/// Longest broker name, in bytes.
pub const MAX_BROKER_NAME_LEN: usize = cetx_engine::NewBroker::MAX_NAME_LEN;

/// Longest transfer reference id, in bytes.
pub const MAX_REFERENCE_LEN: usize = cetx_engine::Transfer::MAX_REFERENCE_LEN;

/// What an operator sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminRequest {
    /// Tag 0. The first message of a connection.
    Login {
        /// [`ADMIN_PROTOCOL_VERSION`].
        protocol_version: u16,
        /// The operator's id.
        operator: u32,
        /// Its secret.
        secret: Secret,
    },
    /// Tag 1. Do something; answered by `Applied` or `Rejected` with the
    /// same `request_id`.
    Action {
        /// The operator's id for this request, echoed in the answer.
        request_id: u64,
        /// What to do.
        action: AdminAction,
    },
}

/// What an operator can do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminAction {
    /// Tag 0. Open an empty account for a broker of the config or one
    /// added.
    OpenAccount {
        /// The new account's id.
        account: u32,
        /// The broker that acts for it.
        broker: u32,
        /// Who owns it; decides what it may trade.
        participant: ParticipantType,
    },
    /// Tag 1. Move cash (no symbol; fen) or allowances (tonnes) into or out
    /// of an account, once per reference id.
    Transfer {
        /// The settlement bank's or the registry's reference id.
        #[serde(deserialize_with = "string_from_str")]
        reference: String,
        /// The account.
        account: u32,
        /// The instrument, for allowances; none for cash.
        symbol: Option<Symbol>,
        /// In or out.
        direction: Direction,
        /// Fen or tonnes; positive.
        amount: u64,
    },
    /// Tag 2. Halt an instrument: no order is taken until `Resume`; the
    /// calendar's phases pass it by.
    Halt {
        /// The instrument.
        #[serde(deserialize_with = "string_from_str")]
        symbol: Symbol,
    },
    /// Tag 3. Resume a halted instrument in the phase the calendar gives
    /// it now.
    Resume {
        /// The instrument.
        #[serde(deserialize_with = "string_from_str")]
        symbol: Symbol,
    },
    /// Tag 4. Set an instrument's reference price, and with it the band
    /// (while it is not trading and its book is empty).
    SetReferencePrice {
        /// The instrument.
        #[serde(deserialize_with = "string_from_str")]
        symbol: Symbol,
        /// The price in ticks of 0.01 CNY.
        price_ticks: i64,
    },
    /// Tag 5. Onboard a broker: it may log in at once. The server keeps
    /// a salted hash of the secret, never the secret.
    AddBroker {
        /// Its id, not the config's or another broker's.
        broker: u32,
        /// A name for logs and reports, 1 to [`MAX_BROKER_NAME_LEN`] bytes.
        #[serde(deserialize_with = "string_from_str")]
        name: String,
        /// Its login secret, 1 to 64 bytes.
        secret: Secret,
    },
    /// Tag 6. Suspend, reinstate or close a broker.
    SetBrokerStatus {
        /// The broker.
        broker: u32,
        /// Its new standing.
        status: Status,
    },
    /// Tag 7. Suspend, reinstate or close an account.
    SetAccountStatus {
        /// The account.
        account: u32,
        /// Its new standing.
        status: Status,
    },
    /// Tag 8. List a new instrument (a new CEA vintage, a CCER): it is
    /// journaled, gets the next instrument id, and joins the market in its
    /// phase of the moment. Boxed: a spec is larger than every other
    /// action.
    ListInstrument(Box<Listing>),
    /// Tag 9. Replace a listed instrument's rules with these (only while
    /// it is not trading and its book is empty): the symbol names it, and
    /// it and the kind must not change; today's reference price stays.
    ReviseInstrument(Box<Listing>),
    /// Tag 10. Confirm a block deal that waits for the exchange's
    /// confirmation (CCER): it settles.
    ConfirmBlock {
        /// The deal's id (`BlockDeal.deal_id`).
        deal_id: u64,
    },
    /// Tag 11. Refuse a block deal that waits for the exchange's
    /// confirmation: both sides get their reservations back.
    RefuseBlock {
        /// The deal's id.
        deal_id: u64,
    },
    /// Tag 12. Announce a one-way auction: the seller's quantity is locked
    /// at once; bids are taken in the window; the server closes it when
    /// the window ends.
    AnnounceAuction {
        /// Its id: above every auction id announced before.
        auction_id: u64,
        /// The instrument.
        #[serde(deserialize_with = "string_from_str")]
        symbol: Symbol,
        /// The selling account.
        seller: u32,
        /// Tonnes offered (at least the instrument's `min_auction_t`).
        quantity_t: u64,
        /// Lowest bid price, in ticks.
        floor_ticks: i64,
        /// Highest bid price, in ticks.
        ceiling_ticks: i64,
        /// The window's start, ns since the Unix epoch.
        start_ns: i64,
        /// The window's end (excluded), ns since the Unix epoch.
        end_ns: i64,
        /// Uniform price or pay-as-bid.
        pricing: Pricing,
    },
    /// Tag 13. Close an auction whose window has ended. The server closes
    /// each itself at its end, before it takes an operator's action, so a
    /// current server answers it 144 then (`docs/ADMIN.md`).
    CloseAuction {
        /// The auction.
        auction_id: u64,
    },
    /// Tag 14. Withdraw an open auction before its window ends: it
    /// sells nothing, and every bid and the seller's allowances are
    /// released.
    WithdrawAuction {
        /// The auction.
        auction_id: u64,
    },
}

/// A new instrument's rules, as an operator lists it: the fields of a
/// config's `[[instruments]]` entry (`docs/CONFIG.md`), prices in ticks of
/// 0.01 CNY.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// Its trading symbol, 1 to 16 printable ASCII bytes, new.
    #[serde(deserialize_with = "string_from_str")]
    pub symbol: Symbol,
    /// A CEA of a vintage, or CCER.
    pub kind: ListingKind,
    /// The tick in ticks of 0.01 CNY (1: 0.01 CNY).
    pub step_ticks: i64,
    /// The lot in tonnes.
    pub lot_t: u64,
    /// The smallest order, in tonnes.
    pub min_order_t: u64,
    /// The largest order, in tonnes.
    pub max_order_t: u64,
    /// The band's half-width, in basis points of the reference price.
    pub band_bps: u32,
    /// The reference price in ticks; the first band is built around it.
    pub reference_price_ticks: i64,
    /// Most orders resting in its book.
    pub max_orders: u32,
    /// Most orders of one account resting in its book (default by
    /// `max_orders`).
    pub max_orders_per_account: Option<u32>,
    /// Most orders of one broker's accounts resting in its book.
    pub max_orders_per_broker: Option<u32>,
    /// Most price levels one side of its book may have.
    pub max_price_levels: Option<u32>,
    /// Who may trade it (default by kind).
    pub eligible: Option<Vec<ParticipantType>>,
    /// Most tonnes an account may hold plus have open to buy.
    pub position_limit_t: Option<u64>,
    /// Large-holder share of the position limit, in basis points.
    pub large_holder_bps: Option<u32>,
    /// Whether today's purchases are sellable only tomorrow (default by
    /// kind).
    pub t_plus_one: Option<bool>,
    /// Trading days between an account's trades on opposite sides
    /// (default by kind).
    pub opposite_side_gap_days: Option<u32>,
    /// Whether one-way auctions of it may be announced (default by kind:
    /// CEA yes, CCER no).
    pub auctions: Option<bool>,
    /// Smallest quantity an auction may offer, in tonnes (default
    /// 100,000 t).
    pub min_auction_t: Option<u64>,
}

/// What a listed instrument is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListingKind {
    /// Tag 0. A national allowance of one vintage year.
    Cea {
        /// Its compliance year.
        vintage: u16,
    },
    /// Tag 1. Certified voluntary emission reductions.
    Ccer,
}

impl Listing {
    /// The most participant types `eligible` may name (there are three).
    pub const MAX_ELIGIBLE: usize = 3;

    /// A CEA of `vintage` with the exchange's continuous-trading defaults
    /// (`InstrumentSpec::cea`): tick 0.01 CNY, lot 1 t, orders of 1 to
    /// 99,999 t, a ±10% band, 262,144 resting orders, around
    /// `reference_price_ticks`.
    #[must_use]
    pub fn cea(vintage: u16, reference_price_ticks: i64) -> Self {
        let spec = cetx_engine::InstrumentSpec::cea(vintage, rust_decimal::Decimal::ZERO);
        Self {
            symbol: Symbol::from(spec.symbol.as_str()),
            kind: ListingKind::Cea { vintage },
            step_ticks: 1,
            lot_t: spec.lot_t,
            min_order_t: spec.min_order_t,
            max_order_t: spec.max_order_t,
            band_bps: spec.band_bps,
            reference_price_ticks,
            max_orders: spec.max_orders,
            max_orders_per_account: None,
            max_orders_per_broker: None,
            max_price_levels: None,
            eligible: None,
            position_limit_t: None,
            large_holder_bps: None,
            t_plus_one: None,
            opposite_side_gap_days: None,
            auctions: None,
            min_auction_t: None,
        }
    }

    /// The listing of a config's instrument, if its prices are whole
    /// ticks.
    #[must_use]
    pub fn of(spec: &cetx_engine::InstrumentSpec) -> Option<Self> {
        Some(Self {
            symbol: Symbol::from(spec.symbol.as_str()),
            kind: match spec.kind {
                cetx_engine::InstrumentKind::Cea { vintage } => ListingKind::Cea { vintage },
                cetx_engine::InstrumentKind::Ccer {} => ListingKind::Ccer,
            },
            step_ticks: cetx_engine::price_to_ticks(spec.tick).ok()?,
            lot_t: spec.lot_t,
            min_order_t: spec.min_order_t,
            max_order_t: spec.max_order_t,
            band_bps: spec.band_bps,
            reference_price_ticks: cetx_engine::price_to_ticks(spec.reference_price).ok()?,
            max_orders: spec.max_orders,
            max_orders_per_account: spec.max_orders_per_account,
            max_orders_per_broker: spec.max_orders_per_broker,
            max_price_levels: spec.max_price_levels,
            eligible: spec.eligible.clone(),
            position_limit_t: spec.position_limit_t,
            large_holder_bps: spec.large_holder_bps,
            t_plus_one: spec.t_plus_one,
            opposite_side_gap_days: spec.opposite_side_gap_days,
            auctions: spec.auctions,
            min_auction_t: spec.min_auction_t,
        })
    }

    /// The engine's spec of this listing (the engine checks it).
    #[must_use]
    pub fn spec(&self) -> cetx_engine::InstrumentSpec {
        cetx_engine::InstrumentSpec {
            symbol: self.symbol.to_string(),
            kind: match self.kind {
                ListingKind::Cea { vintage } => cetx_engine::InstrumentKind::Cea { vintage },
                ListingKind::Ccer => cetx_engine::InstrumentKind::Ccer {},
            },
            tick: rust_decimal::Decimal::new(self.step_ticks, 2),
            lot_t: self.lot_t,
            min_order_t: self.min_order_t,
            max_order_t: self.max_order_t,
            band_bps: self.band_bps,
            reference_price: rust_decimal::Decimal::new(self.reference_price_ticks, 2),
            max_orders: self.max_orders,
            max_orders_per_account: self.max_orders_per_account,
            max_orders_per_broker: self.max_orders_per_broker,
            max_price_levels: self.max_price_levels,
            eligible: self.eligible.clone(),
            position_limit_t: self.position_limit_t,
            large_holder_bps: self.large_holder_bps,
            t_plus_one: self.t_plus_one,
            opposite_side_gap_days: self.opposite_side_gap_days,
            auctions: self.auctions,
            min_auction_t: self.min_auction_t,
        }
    }
}

/// What the server sends an operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminReply {
    /// Tag 0. The login is accepted.
    LoggedIn {
        /// The operator's id.
        operator: u32,
    },
    /// Tag 1. The action was applied: journaled at `seq`, durable.
    Applied {
        /// The request's id.
        request_id: u64,
        /// The journal entry's sequence number.
        seq: u64,
    },
    /// Tag 2. The action was refused and changed nothing.
    Rejected {
        /// The request's id.
        request_id: u64,
        /// The journal entry of the refusal (the engine's), or 0 when the
        /// gateway refused it before the engine (an unknown symbol).
        seq: u64,
        /// The reject code (`docs/ENGINE.md`, `docs/PROTOCOL.md`).
        reason: u16,
        /// The reason in words.
        #[serde(deserialize_with = "string_from_str")]
        text: String,
    },
    /// Tag 3. The connection is refused or closed after this (a failed
    /// login, a malformed frame, a message out of place).
    Error {
        /// The reject code.
        reason: u16,
        /// The reason in words.
        #[serde(deserialize_with = "string_from_str")]
        text: String,
    },
}

impl AdminRequest {
    /// How many variants the enum has.
    pub const TAG_COUNT: u32 = 2;

    /// Checks every string against its maximum length.
    ///
    /// # Errors
    /// The first field that is too long.
    pub fn validate(&self) -> Result<(), FieldTooLong> {
        match self {
            Self::Login { secret, .. } => check_len("secret", secret.expose(), MAX_SECRET_LEN),
            Self::Action { action, .. } => match action {
                AdminAction::OpenAccount { .. }
                | AdminAction::SetBrokerStatus { .. }
                | AdminAction::SetAccountStatus { .. }
                | AdminAction::ConfirmBlock { .. }
                | AdminAction::RefuseBlock { .. }
                | AdminAction::CloseAuction { .. }
                | AdminAction::WithdrawAuction { .. } => Ok(()),
                AdminAction::AddBroker { name, secret, .. } => {
                    check_len("name", name, MAX_BROKER_NAME_LEN)?;
                    check_len("secret", secret.expose(), MAX_SECRET_LEN)
                }
                AdminAction::Transfer {
                    reference, symbol, ..
                } => {
                    check_len("reference", reference, MAX_REFERENCE_LEN)?;
                    symbol
                        .as_ref()
                        .map_or(Ok(()), |s| check_len("symbol", s, MAX_SYMBOL_LEN))
                }
                AdminAction::Halt { symbol }
                | AdminAction::Resume { symbol }
                | AdminAction::SetReferencePrice { symbol, .. }
                | AdminAction::AnnounceAuction { symbol, .. } => {
                    check_len("symbol", symbol, MAX_SYMBOL_LEN)
                }
                AdminAction::ListInstrument(listing) | AdminAction::ReviseInstrument(listing) => {
                    check_len("symbol", &listing.symbol, MAX_SYMBOL_LEN)?;
                    let eligible = listing.eligible.as_ref().map_or(0, Vec::len);
                    if eligible > Listing::MAX_ELIGIBLE {
                        return Err(FieldTooLong {
                            field: "eligible",
                            len: eligible,
                            max: Listing::MAX_ELIGIBLE,
                        });
                    }
                    Ok(())
                }
            },
        }
    }
}

impl AdminReply {
    /// How many variants the enum has.
    pub const TAG_COUNT: u32 = 4;

    /// Checks every string against its maximum length.
    ///
    /// # Errors
    /// The first field that is too long.
    pub fn validate(&self) -> Result<(), FieldTooLong> {
        match self {
            Self::Rejected { text, .. } | Self::Error { text, .. } => {
                check_len("text", text, MAX_TEXT_LEN)
            }
            Self::LoggedIn { .. } | Self::Applied { .. } => Ok(()),
        }
    }
}
