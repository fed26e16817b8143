//! `cetx admin list-instrument`: a new instrument's spec from the command
//! line, with the exchange's defaults for CEA continuous trading
//! (`docs/CEA_RULES.md` §2: tick 0.01 CNY, lot 1 t, orders of 1 to
//! 99,999 t, a ±10% band); only the kind, the vintage of a CEA and the
//! reference price must be given. `revise-instrument` takes an
//! instrument's new rules from a config file's entry instead, so that no
//! rule is reset to a default by being left out.

use std::path::Path;

use anyhow::{bail, Context, Result};
use cetx_gateway::config::ServerConfig;
use cetx_gateway::protocol::admin::{Listing, ListingKind};
use clap::ValueEnum;
use rust_decimal::Decimal;

use super::{fen, Participant};

/// What kind of instrument is listed.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(super) enum Kind {
    /// A national allowance of one vintage (`--vintage`).
    Cea,
    /// Certified voluntary emission reductions.
    Ccer,
}

/// `list-instrument`'s arguments: the fields of a config's
/// `[[instruments]]` entry (docs/CONFIG.md).
#[derive(Debug, clap::Args)]
pub(super) struct ListArgs {
    /// `cea` (with `--vintage`) or `ccer`.
    #[arg(long, value_enum)]
    kind: Kind,
    /// The CEA's compliance year, e.g. 2026.
    #[arg(long, required_if_eq("kind", "cea"))]
    vintage: Option<u16>,
    /// Its trading symbol (default `CEA{vintage}`, or `CCER`).
    #[arg(long)]
    symbol: Option<String>,
    /// The reference price in CNY, e.g. `95.00`: the first band is built
    /// around it.
    #[arg(long, value_parser = cetx_engine::parse_cny)]
    reference: Decimal,
    /// The tick in CNY.
    #[arg(long, value_parser = cetx_engine::parse_cny, default_value = "0.01")]
    tick: Decimal,
    /// The lot in tonnes.
    #[arg(long, default_value_t = 1)]
    lot: u64,
    /// The smallest order, in tonnes.
    #[arg(long, default_value_t = 1)]
    min_order: u64,
    /// The largest order, in tonnes.
    #[arg(long, default_value_t = 99_999)]
    max_order: u64,
    /// The band's half-width in basis points of the reference price
    /// (1000: ±10%).
    #[arg(long, default_value_t = 1_000)]
    band_bps: u32,
    /// Most orders resting in its book.
    #[arg(long, default_value_t = 1 << 18)]
    max_orders: u32,
    /// Most orders of one account resting in its book (default
    /// `max_orders / 64`).
    #[arg(long)]
    max_orders_per_account: Option<u32>,
    /// Most orders of one broker's accounts resting in its book (default
    /// `max_orders / 8`).
    #[arg(long)]
    max_orders_per_broker: Option<u32>,
    /// Most price levels one side of its book may have (default 100000).
    #[arg(long)]
    max_price_levels: Option<u32>,
    /// Who may trade it, e.g. `compliance-entity,institution` (default by
    /// kind: CEA compliance entities; CCER compliance entities and
    /// institutions).
    #[arg(long, value_enum, value_delimiter = ',')]
    eligible: Option<Vec<Participant>>,
    /// Most tonnes one account may hold plus have open to buy.
    #[arg(long)]
    position_limit: Option<u64>,
    /// Large-holder share of the position limit, in basis points.
    #[arg(long)]
    large_holder_bps: Option<u32>,
    /// Whether today's purchases are sellable only tomorrow (default: CEA
    /// yes, CCER no).
    #[arg(long)]
    t_plus_one: Option<bool>,
    /// Trading days between an account's trades on opposite sides
    /// (default: CEA 0, CCER 5).
    #[arg(long)]
    opposite_side_gap_days: Option<u32>,
    /// Whether one-way auctions of it may be announced (default: CEA yes,
    /// CCER no).
    #[arg(long)]
    auctions: Option<bool>,
    /// Smallest quantity an auction may offer, in tonnes (default
    /// 100000).
    #[arg(long)]
    min_auction: Option<u64>,
}

impl ListArgs {
    /// The listing these arguments ask for; the engine checks the rest.
    pub(super) fn listing(&self) -> Result<Listing> {
        let kind = match (self.kind, self.vintage) {
            (Kind::Cea, Some(vintage)) => ListingKind::Cea { vintage },
            (Kind::Cea, None) => bail!("a CEA needs --vintage"),
            (Kind::Ccer, None) => ListingKind::Ccer,
            (Kind::Ccer, Some(_)) => bail!("a CCER has no vintage"),
        };
        let symbol = match (&self.symbol, kind) {
            (Some(symbol), _) => symbol.clone(),
            (None, ListingKind::Cea { vintage }) => format!("CEA{vintage}"),
            (None, ListingKind::Ccer) => "CCER".to_owned(),
        };
        if let Some(twice) = self.eligible.as_ref().and_then(|list| {
            list.iter()
                .enumerate()
                .find_map(|(i, p)| list[..i].contains(p).then_some(p))
        }) {
            bail!("--eligible names {twice:?} twice");
        }
        let ticks = |cny: Decimal, what: &str| -> Result<i64> {
            i64::try_from(fen(what, cny)?).with_context(|| format!("the {what} is too large"))
        };
        Ok(Listing {
            symbol: symbol.as_str().into(),
            kind,
            step_ticks: ticks(self.tick, "tick")?,
            lot_t: self.lot,
            min_order_t: self.min_order,
            max_order_t: self.max_order,
            band_bps: self.band_bps,
            reference_price_ticks: ticks(self.reference, "reference price")?,
            max_orders: self.max_orders,
            max_orders_per_account: self.max_orders_per_account,
            max_orders_per_broker: self.max_orders_per_broker,
            max_price_levels: self.max_price_levels,
            eligible: self
                .eligible
                .as_ref()
                .map(|list| list.iter().map(|p| p.participant_type()).collect()),
            position_limit_t: self.position_limit,
            large_holder_bps: self.large_holder_bps,
            t_plus_one: self.t_plus_one,
            opposite_side_gap_days: self.opposite_side_gap_days,
            auctions: self.auctions,
            min_auction_t: self.min_auction,
        })
    }
}

/// The rules of `symbol` as the config file `path` gives them, for
/// `revise-instrument`.
pub(super) fn from_config(path: &Path, symbol: &str) -> Result<Listing> {
    let config = ServerConfig::load(path)?;
    let spec = config
        .instruments
        .iter()
        .find(|spec| spec.symbol == symbol)
        .with_context(|| format!("{} has no instrument {symbol}", path.display()))?;
    Listing::of(spec).with_context(|| format!("{symbol}'s prices are not whole ticks"))
}
