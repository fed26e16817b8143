//! Instruments: what is traded, and the numeric rules each order must meet.
//!
//! An [`InstrumentSpec`] is the serde type that config files and tests build:
//! symbol, kind, tick, lot, order-size limits, price band and reference
//! price. [`InstrumentSpec::rules`] checks it once and compiles it into
//! [`PriceRules`], the integer form the book works with.
//!
//! Units: prices inside the engine are integer ticks of 0.01 CNY (one fen),
//! so `price_ticks × quantity_t` is an amount in fen. `Decimal` appears only
//! here, at the edge, in [`price_to_ticks`] and [`ticks_to_price`].

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::participant::ParticipantType;
use crate::reject::RejectReason;

/// Price unit of the engine: 1 tick = 0.01 CNY (one fen).
pub const TICKS_PER_CNY: i64 = 100;

/// Basis points in one whole (100%).
const BPS_PER_ONE: i64 = 10_000;

/// Price levels per side of a book when config sets no
/// `max_price_levels`: a ±10% band around a reference of up to 5,000 CNY at
/// a 0.01 CNY tick. Each level of the band in force costs 48 bytes (24 per
/// side); this is a bound on the band, not memory taken.
pub const DEFAULT_MAX_PRICE_LEVELS: u32 = 100_000;

/// The most `max_orders` a book can index: 2^24 orders. The book reserves
/// 32 bytes of slab per order up front (512 MiB at the bound, of address
/// space, all of it written by `Engine::prefault` at start-up). A new
/// listing or revision is held to [`MAX_OPEN_TOTAL`] too.
pub const MAX_ORDERS: u32 = 1 << 24;

/// The most that every instrument's `max_orders` and blocks' `max_open`
/// may add up to, for a new listing, revision or block rules: 9,437,184
/// (2^23 + 2^20). The end of the trading day expires every resting order,
/// block offer and unconfirmed deal in one journal entry, 25 bytes an
/// event (a broker's disconnect or suspension cancels its own in one
/// too): 225 MiB at this bound, under the format's 256 MiB a record
/// (`journal::format::MAX_RECORD_LEN`), past which the entry could not be
/// written and the market would stop at its close. What a journal already
/// holds is replayed as it was.
pub const MAX_OPEN_TOTAL: u64 = (1 << 23) + (1 << 20);

/// The most resting orders one order may trade with, for a new listing or
/// revision: 2^21, the smaller of its largest size in lots
/// (`max_order_t / lot_t`) and the book's `max_orders`. Its trades go in
/// its one journal entry, 84 bytes each: 168 MiB at this bound, under the
/// format's 256 MiB a record.
pub const MAX_FILLS: u64 = 1 << 21;

/// The most `max_price_levels` config may set: 2^24 levels, 768 MiB of
/// ladder for one instrument.
pub const MAX_PRICE_LEVELS: u32 = 1 << 24;

/// Smallest quantity a one-way auction offers when config sets no
/// `min_auction_t`: 100,000 t (`docs/CEA_RULES.md` §2).
pub const DEFAULT_MIN_AUCTION_T: u64 = 100_000;

/// Dense index of an instrument in the engine's table (its position in the
/// configured list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InstrumentId(pub u16);

/// What an instrument is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum InstrumentKind {
    /// A national emission allowance (CEA) of one vintage year.
    Cea {
        /// Compliance year of the allowances, e.g. 2025 for `CEA2025`.
        vintage: u16,
    },
    /// Certified voluntary emission reductions (CCER). A variant with no
    /// fields rather than a unit one, so that a key beside `type = "ccer"`
    /// (a `vintage`, say) is refused like any unknown key.
    Ccer {},
}

/// One instrument's trading rules, as written in config.
///
/// Defaults for CEA continuous (listing) trading: tick 0.01 CNY, lot 1 t,
/// orders of 1 to 99,999 t ("under 100,000 t"), band ±10% of the previous
/// close (`docs/CEA_RULES.md` §2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentSpec {
    /// Trading symbol, e.g. `CEA2025` or `CCER`.
    pub symbol: String,
    /// CEA with its vintage, or CCER.
    pub kind: InstrumentKind,
    /// Minimum price increment in CNY; a positive multiple of 0.01.
    #[serde(deserialize_with = "crate::cny::deserialize")]
    pub tick: Decimal,
    /// Lot size in tonnes: every quantity is a whole number of lots.
    pub lot_t: u64,
    /// Smallest order quantity accepted, in tonnes.
    pub min_order_t: u64,
    /// Largest order quantity accepted, in tonnes.
    pub max_order_t: u64,
    /// Half-width of the daily price band in basis points of the reference
    /// price: 1000 means ±10%.
    pub band_bps: u32,
    /// Reference price in CNY (the previous close); the band is built
    /// around it.
    #[serde(deserialize_with = "crate::cny::deserialize")]
    pub reference_price: Decimal,
    /// Most orders that may rest in this instrument's book at once.
    pub max_orders: u32,
    /// Most orders one account may have resting in this book: a day limit
    /// order beyond it is rejected (`AccountOrderLimit`). Default
    /// `max_orders / 64`, at least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_orders_per_account: Option<u32>,
    /// Most orders one broker's accounts may have resting in this book
    /// together (`BrokerOrderLimit`). Default `max_orders / 8`, at least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_orders_per_broker: Option<u32>,
    /// Most price levels one side of the book may have: a reference price
    /// whose band would need more is refused, so no journal or command can
    /// make the book allocate beyond it. [`DEFAULT_MAX_PRICE_LEVELS`] when
    /// unset; at most [`MAX_PRICE_LEVELS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price_levels: Option<u32>,
    /// Participant types that may trade this instrument. Default by kind,
    /// following today's rules: CEA, compliance entities only; CCER,
    /// compliance entities and institutions. Individuals trade nothing until
    /// config opens an instrument to them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligible: Option<Vec<ParticipantType>>,
    /// Most tonnes one account may hold plus have open to buy. No limit by
    /// default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_limit_t: Option<u64>,
    /// Share of the position limit, in basis points, at which an account's
    /// holding is reported as a large holder. Needs a position limit; off by
    /// default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_holder_bps: Option<u32>,
    /// Whether allowances bought today become sellable only on the next
    /// trading day. Default by kind: CEA yes, CCER no.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_plus_one: Option<bool>,
    /// Trading days that must pass between one account's trades on opposite
    /// sides. Default by kind: CEA 0, CCER 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opposite_side_gap_days: Option<u32>,
    /// Whether the exchange may announce one-way auctions (单向竞价) of
    /// this instrument. Default by kind: CEA yes; CCER no, as its auctions
    /// are not open yet (`docs/CEA_RULES.md` §1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auctions: Option<bool>,
    /// Smallest quantity a one-way auction may offer, in tonnes. Default
    /// [`DEFAULT_MIN_AUCTION_T`] (the seller's order is at least 100,000 t,
    /// §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_auction_t: Option<u64>,
}

impl InstrumentSpec {
    /// The longest symbol, in bytes (a symbol is 1 to 16 printable ASCII
    /// bytes).
    pub const MAX_SYMBOL_LEN: usize = 16;

    /// Checks the symbol of a listing: 1 to [`Self::MAX_SYMBOL_LEN`]
    /// printable ASCII bytes.
    ///
    /// # Errors
    /// [`SpecError::Symbol`].
    pub fn check_symbol(&self) -> Result<(), SpecError> {
        let printable = self.symbol.bytes().all(|b| b.is_ascii_graphic());
        if self.symbol.is_empty() || self.symbol.len() > Self::MAX_SYMBOL_LEN || !printable {
            return Err(SpecError::Symbol(self.symbol.clone()));
        }
        Ok(())
    }

    /// Checks a CEA's vintage for a listing beside the instruments `listed`:
    /// a year of four digits that its symbol holds, and no other instrument
    /// has it. Only a listing is checked (a config's instruments,
    /// `ListInstrument`), never a journal's replay: what was listed stays
    /// listed.
    ///
    /// # Errors
    /// [`SpecError::VintageNotAYear`], [`SpecError::VintageNotInSymbol`] or
    /// [`SpecError::VintageListed`].
    pub fn check_vintage<'a>(
        &self,
        mut listed: impl Iterator<Item = &'a Self>,
    ) -> Result<(), SpecError> {
        let InstrumentKind::Cea { vintage } = self.kind else {
            return Ok(());
        };
        if !(1000..=9999).contains(&vintage) {
            return Err(SpecError::VintageNotAYear { vintage });
        }
        if !self.symbol.contains(&format!("{vintage}")) {
            return Err(SpecError::VintageNotInSymbol { vintage });
        }
        match listed.find(|other| other.kind == self.kind) {
            Some(other) => Err(SpecError::VintageListed {
                vintage,
                listed: other.symbol.clone(),
            }),
            None => Ok(()),
        }
    }

    /// A CEA instrument of `vintage` with the exchange's continuous-trading
    /// defaults around `reference_price`.
    #[must_use]
    pub fn cea(vintage: u16, reference_price: Decimal) -> Self {
        Self {
            symbol: format!("CEA{vintage}"),
            kind: InstrumentKind::Cea { vintage },
            tick: Decimal::new(1, 2),
            lot_t: 1,
            min_order_t: 1,
            max_order_t: 99_999,
            band_bps: 1_000,
            reference_price,
            max_orders: 1 << 18,
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

    /// The CCER instrument with the exchange's listing defaults around
    /// `reference_price`.
    #[must_use]
    pub fn ccer(reference_price: Decimal) -> Self {
        Self {
            symbol: "CCER".to_owned(),
            kind: InstrumentKind::Ccer {},
            ..Self::cea(0, reference_price)
        }
    }

    /// The same spec with each optional rule that has a default written
    /// out as that default, and the eligible types in order, once each:
    /// two specs that trade alike compare equal (a config that writes a
    /// default out is no change to the journal's spec that left it out).
    #[must_use]
    pub fn with_defaults(&self) -> Self {
        let cea = matches!(self.kind, InstrumentKind::Cea { .. });
        let mut eligible = self.eligible.clone().unwrap_or_else(|| {
            if cea {
                vec![ParticipantType::ComplianceEntity]
            } else {
                vec![
                    ParticipantType::ComplianceEntity,
                    ParticipantType::Institution,
                ]
            }
        });
        eligible.sort_unstable();
        eligible.dedup();
        let share =
            |set: Option<u32>, divisor: u32| set.or(Some((self.max_orders / divisor).max(1)));
        Self {
            eligible: Some(eligible),
            t_plus_one: self.t_plus_one.or(Some(cea)),
            opposite_side_gap_days: self
                .opposite_side_gap_days
                .or(Some(if cea { 0 } else { 5 })),
            max_orders_per_account: share(self.max_orders_per_account, 64),
            max_orders_per_broker: share(self.max_orders_per_broker, 8),
            max_price_levels: self.max_price_levels.or(Some(DEFAULT_MAX_PRICE_LEVELS)),
            auctions: self.auctions.or(Some(cea)),
            min_auction_t: self.min_auction_t.or(Some(DEFAULT_MIN_AUCTION_T)),
            ..self.clone()
        }
    }

    /// Checks and resolves the account rules: eligibility, position limit,
    /// holding rules, with each default filled in from the kind.
    ///
    /// # Errors
    /// [`SpecError::LargeHolder`] for a large-holder share without a
    /// position limit, or outside (0, 100%].
    pub fn policy(&self) -> Result<Policy, SpecError> {
        let cea = matches!(self.kind, InstrumentKind::Cea { .. });
        // Every default is written out there, once for the whole engine:
        // the `unwrap_or_default`s below never take theirs.
        let spec = self.with_defaults();
        if spec.eligible.as_ref().is_some_and(Vec::is_empty) {
            return Err(SpecError::NoneEligible);
        }
        if spec.position_limit_t == Some(0) {
            return Err(SpecError::PositionLimit);
        }
        let large_holder_t = match (spec.large_holder_bps, spec.position_limit_t) {
            (None, _) => None,
            (Some(bps), Some(limit)) if bps > 0 && i64::from(bps) <= BPS_PER_ONE => {
                let t = u128::from(limit) * u128::from(bps) / BPS_PER_ONE as u128;
                Some(u64::try_from(t).expect("a share of a u64 fits in u64"))
            }
            (Some(bps), _) => return Err(SpecError::LargeHolder(bps)),
        };
        let limit = |set: Option<u32>, key| match set {
            Some(limit) if limit > 0 => Ok(limit),
            _ => Err(SpecError::MemberLimit(key)),
        };
        Ok(Policy {
            eligible: spec
                .eligible
                .unwrap_or_default()
                .iter()
                .fold(0, |mask, p| mask | 1 << *p as u8),
            position_limit_t: spec.position_limit_t.unwrap_or(u64::MAX),
            large_holder_t,
            t_plus_one: spec.t_plus_one.unwrap_or_default(),
            opposite_side_gap_days: spec.opposite_side_gap_days.unwrap_or_default(),
            max_orders_per_account: limit(spec.max_orders_per_account, "max_orders_per_account")?,
            max_orders_per_broker: limit(spec.max_orders_per_broker, "max_orders_per_broker")?,
            take_levels: if cea {
                CEA_TAKE_LEVELS
            } else {
                CCER_TAKE_LEVELS
            },
            take_first_in_time: !cea,
            auctions: spec.auctions.unwrap_or_default(),
            min_auction_t: match spec.min_auction_t {
                Some(t) if t > 0 => t,
                _ => return Err(SpecError::AuctionSize),
            },
        })
    }

    /// The bounds a new listing or revision is held to, beside
    /// [`Self::rules`] (which a journal's own listings are read with): one
    /// order meets no more than [`MAX_FILLS`] resting orders.
    ///
    /// # Errors
    /// [`SpecError::Fills`].
    pub fn check_new(&self) -> Result<(), SpecError> {
        let fills = (self.max_order_t / self.lot_t.max(1)).min(u64::from(self.max_orders));
        if fills > MAX_FILLS {
            return Err(SpecError::Fills(fills));
        }
        Ok(())
    }

    /// Checks the spec and compiles it into integer [`PriceRules`].
    ///
    /// # Errors
    /// A [`SpecError`] naming the first field that is not usable.
    pub fn rules(&self) -> Result<PriceRules, SpecError> {
        let step_ticks = price_to_ticks(self.tick).map_err(|_| SpecError::Tick(self.tick))?;
        if step_ticks <= 0 {
            return Err(SpecError::Tick(self.tick));
        }
        if self.lot_t == 0 {
            return Err(SpecError::Lot);
        }
        if self.min_order_t < self.lot_t || !self.min_order_t.is_multiple_of(self.lot_t) {
            return Err(SpecError::MinOrderLots {
                min_order_t: self.min_order_t,
                lot_t: self.lot_t,
            });
        }
        if self.min_order_t > self.max_order_t {
            return Err(SpecError::MinOrderAboveMax {
                min_order_t: self.min_order_t,
                max_order_t: self.max_order_t,
            });
        }
        if self.band_bps == 0 || i64::from(self.band_bps) >= BPS_PER_ONE {
            return Err(SpecError::Band(self.band_bps));
        }
        if self.max_orders == 0 || self.max_orders > MAX_ORDERS {
            return Err(SpecError::MaxOrders(self.max_orders));
        }
        let max_levels = self.max_price_levels.unwrap_or(DEFAULT_MAX_PRICE_LEVELS);
        if max_levels == 0 || max_levels > MAX_PRICE_LEVELS {
            return Err(SpecError::MaxPriceLevels(max_levels));
        }
        let reference_ticks = price_to_ticks(self.reference_price)
            .map_err(|_| SpecError::ReferencePrice(self.reference_price))?;
        PriceRules::new(
            step_ticks,
            self.lot_t,
            self.min_order_t,
            self.max_order_t,
            self.band_bps,
            max_levels,
            reference_ticks,
        )
        .map_err(|e| match e {
            SpecError::ReferencePrice(_) => SpecError::ReferencePrice(self.reference_price),
            other => other,
        })
    }
}

/// Why an [`InstrumentSpec`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The tick is not a positive multiple of 0.01 CNY (that fits).
    #[error("tick {0} must be a positive multiple of 0.01 CNY, at most 2^63 - 1 fen")]
    Tick(Decimal),
    /// The lot is zero.
    #[error("lot_t must be at least 1 t")]
    Lot,
    /// The smallest order is not one or more whole lots.
    #[error("min_order_t ({min_order_t} t) must be 1 or more whole lots of lot_t ({lot_t} t)")]
    MinOrderLots {
        /// Configured minimum.
        min_order_t: u64,
        /// Configured lot.
        lot_t: u64,
    },
    /// The smallest order is larger than the largest.
    #[error("min_order_t ({min_order_t} t) must not be over max_order_t ({max_order_t} t)")]
    MinOrderAboveMax {
        /// Configured minimum.
        min_order_t: u64,
        /// Configured maximum.
        max_order_t: u64,
    },
    /// The band is empty, or 100% or wider.
    #[error("band_bps {0} must be from 1 to 9999 (below 100%)")]
    Band(u32),
    /// The book limit is zero or too large to index.
    #[error("max_orders {0} must be between 1 and {MAX_ORDERS} (2^24)")]
    MaxOrders(u32),
    /// The bound on price levels is zero or above [`MAX_PRICE_LEVELS`].
    #[error("max_price_levels {0} must be between 1 and {MAX_PRICE_LEVELS}")]
    MaxPriceLevels(u32),
    /// The band around a reference price has more levels than the book may
    /// have.
    #[error("the band around {} CNY has {levels} levels, over max_price_levels {max_levels}", ticks_to_price(*.reference_ticks))]
    TooManyLevels {
        /// The reference price, in ticks.
        reference_ticks: i64,
        /// Levels its band would need per side.
        levels: i128,
        /// The configured bound.
        max_levels: u32,
    },
    /// The reference price is not positive, not on the tick, or too large
    /// to count in ticks.
    #[error("reference {0} CNY must be above 0, on the tick, at most {max}", max = ticks_to_price(i64::MAX))]
    ReferencePrice(Decimal),
    /// No participant type may trade the instrument.
    #[error("eligible must name at least one participant type")]
    NoneEligible,
    /// A position limit of 0 t: no account could buy.
    #[error("position_limit_t must be at least 1 t")]
    PositionLimit,
    /// A large-holder share without a position limit, or outside (0, 100%].
    #[error("large_holder_bps {0} needs a position_limit_t and must be in 1..=10000")]
    LargeHolder(u32),
    /// A per-account or per-broker limit on resting orders (the key
    /// named) is zero.
    #[error("{0} must be at least 1")]
    MemberLimit(&'static str),
    /// The smallest auction quantity is zero.
    #[error("min_auction_t must be at least 1 t")]
    AuctionSize,
    /// Two instruments share one symbol.
    #[error("symbol {0} is configured twice")]
    DuplicateSymbol(String),
    /// A symbol that is empty, too long or not printable ASCII.
    #[error("a symbol must be 1 to 16 printable ASCII bytes, not {}", shown(.0))]
    Symbol(String),
    /// A revision that would change an instrument's symbol or kind.
    #[error("a revision of {0} must keep its symbol and kind")]
    RevisionChangesIdentity(String),
    /// A revision whose tick today's reference price is not on.
    #[error("today's reference {} CNY is not on the new tick {tick} CNY", ticks_to_price(*.reference_ticks))]
    ReferenceOffTick {
        /// Today's reference price, in ticks of 0.01 CNY.
        reference_ticks: i64,
        /// The new tick.
        tick: Decimal,
    },
    /// A CEA's vintage is not a year of four digits.
    #[error("vintage {vintage} is not a year of four digits")]
    VintageNotAYear {
        /// The vintage.
        vintage: u16,
    },
    /// A CEA's symbol does not hold its vintage year (`CEA2025` for 2025):
    /// a typo in either would list a vintage under another's name.
    #[error("a CEA's symbol must hold its vintage year ({vintage}), as CEA{vintage} does")]
    VintageNotInSymbol {
        /// The vintage.
        vintage: u16,
    },
    /// A CEA of a vintage that another instrument is listed for already:
    /// one instrument per vintage.
    #[error("vintage {vintage} is listed already, as {listed}")]
    VintageListed {
        /// The vintage.
        vintage: u16,
        /// The symbol it is listed under.
        listed: String,
    },
    /// More instruments than an [`InstrumentId`] can index.
    #[error("too many instruments ({0})")]
    TooManyInstruments(usize),
    /// One order could trade with more resting orders than
    /// [`MAX_FILLS`]: it is as many lots as that, and the book holds as
    /// many orders.
    #[error("one order of max_order_t could trade with {0} resting orders, over {MAX_FILLS}")]
    Fills(u64),
    /// Every instrument's `max_orders` and blocks' `max_open` together
    /// would be over [`MAX_OPEN_TOTAL`].
    #[error(
        "max_orders plus blocks' max_open of all instruments would be {0}, over {MAX_OPEN_TOTAL}"
    )]
    OpenTotal(u64),
}

impl SpecError {
    /// `total`, the sum of every instrument's `max_orders` and blocks'
    /// `max_open` after a change, unless it is over [`MAX_OPEN_TOTAL`] and
    /// over `before`, the sum before it (a market over the bound, from a
    /// journal older than it, may come down, never go up).
    ///
    /// # Errors
    /// [`SpecError::OpenTotal`].
    pub(crate) const fn check_open_total(total: u64, before: u64) -> Result<u64, Self> {
        if total > MAX_OPEN_TOTAL && total > before {
            Err(Self::OpenTotal(total))
        } else {
            Ok(total)
        }
    }
}

/// A symbol as a refusal quotes it: escaped, and cut after 40 bytes of
/// escapes at a whole one (`…`), so that the rule's text stays whole in an
/// operator's reply of 128 bytes.
fn shown(symbol: &str) -> String {
    let mut quoted = String::from("\"");
    for c in symbol.chars() {
        let escaped = c.escape_debug().to_string();
        if quoted.len() + escaped.len() > 41 {
            quoted.push('…');
            break;
        }
        quoted.push_str(&escaped);
    }
    quoted.push('"');
    quoted
}

/// The integer rules an order is checked against: tick, lot, size limits and
/// today's band. Built by [`InstrumentSpec::rules`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceRules {
    /// Price increment in ticks of 0.01 CNY.
    pub step_ticks: i64,
    /// Lot size in tonnes.
    pub lot_t: u64,
    /// Smallest order in tonnes.
    pub min_order_t: u64,
    /// Largest order in tonnes.
    pub max_order_t: u64,
    /// Band half-width in basis points.
    pub band_bps: u32,
    /// Most price levels the band may span (per side of the book).
    pub max_levels: u32,
    /// Today's reference price in ticks.
    pub reference_ticks: i64,
    /// Lowest price accepted today, on the tick.
    pub floor_ticks: i64,
    /// Highest price accepted today, on the tick.
    pub ceiling_ticks: i64,
}

impl PriceRules {
    /// Builds the rules and today's band around `reference_ticks`.
    ///
    /// The band edges are rounded inward to the tick, so no accepted price is
    /// ever more than `band_bps` away from the reference.
    ///
    /// # Errors
    /// [`SpecError::Tick`] for a step that is not positive,
    /// [`SpecError::ReferencePrice`] for a reference price that is not a
    /// positive multiple of the step, and [`SpecError::TooManyLevels`] when
    /// the band would span more than `max_levels` levels (so that a hostile
    /// journal or command cannot make a book allocate without bound).
    pub fn new(
        step_ticks: i64,
        lot_t: u64,
        min_order_t: u64,
        max_order_t: u64,
        band_bps: u32,
        max_levels: u32,
        reference_ticks: i64,
    ) -> Result<Self, SpecError> {
        if step_ticks <= 0 {
            return Err(SpecError::Tick(ticks_to_price(step_ticks)));
        }
        if reference_ticks <= 0 || reference_ticks % step_ticks != 0 {
            return Err(SpecError::ReferencePrice(ticks_to_price(reference_ticks)));
        }
        let reference = i128::from(reference_ticks);
        let bps = i128::from(band_bps.min(BPS_PER_ONE as u32));
        let one = i128::from(BPS_PER_ONE);
        let step = i128::from(step_ticks);
        // Lowest price p with p >= reference × (1 - band), rounded up to the tick.
        let low = (reference * (one - bps)).div_euclid(one)
            + i128::from((reference * (one - bps)).rem_euclid(one) != 0);
        let floor = ((low + step - 1).div_euclid(step) * step).max(step);
        // Highest price p with p <= reference × (1 + band), rounded down to the tick.
        let ceiling = (reference * (one + bps)).div_euclid(one).div_euclid(step) * step;
        let levels = (ceiling - floor) / step + 1;
        let too_many = SpecError::TooManyLevels {
            reference_ticks,
            levels,
            max_levels,
        };
        if levels > i128::from(max_levels) {
            return Err(too_many);
        }
        Ok(Self {
            step_ticks,
            lot_t,
            min_order_t,
            max_order_t,
            band_bps,
            max_levels,
            reference_ticks,
            floor_ticks: i64::try_from(floor).map_err(|_| too_many.clone())?,
            ceiling_ticks: i64::try_from(ceiling).map_err(|_| too_many)?,
        })
    }

    /// The same rules around another reference price.
    ///
    /// # Errors
    /// As [`PriceRules::new`]: a reference price that is not positive or
    /// off the tick, or whose band spans more than `max_levels` levels.
    pub fn with_reference(&self, reference_ticks: i64) -> Result<Self, SpecError> {
        Self::new(
            self.step_ticks,
            self.lot_t,
            self.min_order_t,
            self.max_order_t,
            self.band_bps,
            self.max_levels,
            reference_ticks,
        )
    }

    /// The same rules with a band of `band_bps` around today's reference,
    /// bounded only by [`MAX_PRICE_LEVELS`]: the block band.
    ///
    /// # Errors
    /// As [`PriceRules::new`].
    pub fn with_band(&self, band_bps: u32) -> Result<Self, SpecError> {
        Self::new(
            self.step_ticks,
            self.lot_t,
            self.min_order_t,
            self.max_order_t,
            band_bps,
            MAX_PRICE_LEVELS,
            self.reference_ticks,
        )
    }

    /// Checks an order quantity: not zero, whole lots, within the size
    /// limits, in that order.
    ///
    /// # Errors
    /// The first rule the quantity breaks.
    #[inline]
    pub const fn check_quantity(&self, quantity_t: u64) -> Result<(), RejectReason> {
        if quantity_t == 0 {
            Err(RejectReason::QuantityZero)
        } else if self.lot_t != 1 && !quantity_t.is_multiple_of(self.lot_t) {
            Err(RejectReason::QuantityNotWholeLots)
        } else if quantity_t < self.min_order_t {
            Err(RejectReason::QuantityBelowMinimum)
        } else if quantity_t > self.max_order_t {
            Err(RejectReason::QuantityAboveMaximum)
        } else {
            Ok(())
        }
    }

    /// Checks a limit price: on the tick, then inside today's band.
    ///
    /// # Errors
    /// The first rule the price breaks.
    #[inline(always)]
    pub const fn check_price(&self, price_ticks: i64) -> Result<(), RejectReason> {
        // Most instruments trade in whole ticks: skip the division then.
        if self.step_ticks != 1 && price_ticks % self.step_ticks != 0 {
            Err(RejectReason::PriceNotOnTick)
        } else if price_ticks < self.floor_ticks || price_ticks > self.ceiling_ticks {
            Err(RejectReason::PriceOutsideBand)
        } else {
            Ok(())
        }
    }

    /// Number of price levels in today's band: at most `max_levels`.
    #[must_use]
    pub const fn level_count(&self) -> usize {
        ((self.ceiling_ticks - self.floor_ticks) / self.step_ticks + 1) as usize
    }
}

/// The account rules of one instrument, resolved from its spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Bit `p` is set when [`ParticipantType`] `p` may trade.
    eligible: u8,
    /// Most tonnes held plus open to buy per account; `u64::MAX` for none.
    pub position_limit_t: u64,
    /// Holding at which a large-holder event fires.
    pub large_holder_t: Option<u64>,
    /// Whether today's purchases are sellable only tomorrow.
    pub t_plus_one: bool,
    /// Trading days between one account's opposite-side trades.
    pub opposite_side_gap_days: u32,
    /// Most orders one account may have resting in the book.
    pub max_orders_per_account: u32,
    /// Most orders one broker's accounts may have resting in the book.
    pub max_orders_per_broker: u32,
    /// How many of the opposite side's best price levels a
    /// listing-agreement take may reach into: [`CEA_TAKE_LEVELS`] for CEA,
    /// [`CCER_TAKE_LEVELS`] for CCER (`docs/ENGINE.md`, *Listing-agreement
    /// takes*).
    pub take_levels: u32,
    /// Whether a take may name only the order first in time at its level
    /// (CCER), rather than any order there (CEA).
    pub take_first_in_time: bool,
    /// Whether one-way auctions of the instrument may be announced.
    pub auctions: bool,
    /// Smallest quantity an auction may offer, in tonnes.
    pub min_auction_t: u64,
}

impl Policy {
    /// Whether participants of this type may trade the instrument.
    #[must_use]
    #[inline]
    pub const fn admits(&self, participant: ParticipantType) -> bool {
        self.eligible & (1 << participant as u8) != 0
    }
}

/// How many of the opposite side's best levels a CEA listing-agreement
/// take may reach into (挂牌协议: "best 5 levels", `docs/CEA_RULES.md`
/// §1), any order at a level.
pub const CEA_TAKE_LEVELS: u32 = 5;

/// How many levels a CCER take may reach into: the best only, and there
/// only the order first in time.
pub const CCER_TAKE_LEVELS: u32 = 1;

/// Why a decimal price cannot be expressed in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    /// The price has a fraction smaller than 0.01 CNY.
    #[error("price {0} is not a whole number of fen (0.01 CNY)")]
    NotOnTick(Decimal),
    /// The price does not fit the engine's integer range.
    #[error("price {0} is out of range")]
    OutOfRange(Decimal),
}

/// Converts a price in CNY into ticks of 0.01 CNY, exactly.
///
/// # Errors
/// [`PriceError::NotOnTick`] for a fraction of a fen, and
/// [`PriceError::OutOfRange`] for a price beyond `i64` ticks.
pub fn price_to_ticks(price: Decimal) -> Result<i64, PriceError> {
    let scaled = price
        .checked_mul(Decimal::from(TICKS_PER_CNY))
        .ok_or(PriceError::OutOfRange(price))?;
    if !scaled.fract().is_zero() {
        return Err(PriceError::NotOnTick(price));
    }
    i64::try_from(scaled).map_err(|_| PriceError::OutOfRange(price))
}

/// Converts ticks of 0.01 CNY into a price in CNY with two decimal places.
#[must_use]
pub fn ticks_to_price(ticks: i64) -> Decimal {
    Decimal::new(ticks, 2)
}

#[cfg(test)]
mod tests;
