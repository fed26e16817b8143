//! Block trades (大宗协议): negotiated offers that never touch the listing
//! book.
//!
//! A broker posts a [`BlockOffer`] for one of its accounts: a side, a
//! price inside the block band (±30% of the reference price by default)
//! and a quantity of at least the block minimum (100,000 t by default),
//! open to every account or directed at one. Another account accepts it
//! whole or in part; each acceptance is a [`BlockDeal`]. A deal settles at
//! once (CEA) or, where the instrument's [`BlockRules`] ask for the
//! exchange's confirmation (CCER), waits until an operator confirms or
//! refuses it. Open offers and unconfirmed deals end with the trading day.
//!
//! Pre-funding is the listing board's: posting reserves the poster's cash
//! (a buy, at the offer price) or allowances (a sell) for the whole offer,
//! and an acceptance reserves the acceptor's side; a pending deal keeps
//! both reservations until it is confirmed or refused. The code that
//! carries the commands out is `crate::block_trading`; this file holds the
//! data.

use std::collections::BTreeMap;

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

use crate::calendar::Session;
use crate::instrument::{InstrumentId, InstrumentKind};
use crate::order::{AccountId, Side};

/// The block minimum when config sets none: 100,000 t (`CEA_RULES.md` §2;
/// for CCER the exchange has not announced one, so the CEA figure stands).
pub const DEFAULT_BLOCK_MIN_T: u64 = 100_000;

/// The block band when config sets none: ±30% (3,000 basis points) of the
/// reference price.
pub const DEFAULT_BLOCK_BAND_BPS: u32 = 3_000;

/// Open offers plus unconfirmed deals one instrument may have at once when
/// config sets no limit.
pub const DEFAULT_MAX_OPEN_BLOCKS: u32 = 4_096;

/// The most open offers plus unconfirmed deals config may allow per
/// instrument.
pub const MAX_OPEN_BLOCKS: u32 = 1 << 20;

/// One instrument's block-trading rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockRules {
    /// Whether block offers may be posted and accepted at all. CEA: yes;
    /// CCER: no, until the exchange opens them (`CEA_RULES.md` §1).
    pub enabled: bool,
    /// Smallest offer, and smallest acceptance that does not take all that
    /// remains, in tonnes.
    pub min_t: u64,
    /// Half-width of the block band in basis points of the reference price.
    pub band_bps: u32,
    /// Whether each deal waits for the exchange's confirmation before it
    /// settles. CEA: no; CCER: yes.
    pub needs_confirmation: bool,
    /// The local times of day (the calendar's UTC offset) at which offers
    /// may be posted and accepted. CEA 13:00–15:00; CCER 09:30–11:30 and
    /// 13:00–15:00.
    pub sessions: Vec<Session>,
    /// Most open offers plus unconfirmed deals at once in this instrument.
    pub max_open: u32,
}

impl BlockRules {
    /// The exchange's rules for an instrument of this kind.
    #[must_use]
    pub fn for_kind(kind: &InstrumentKind) -> Self {
        let at = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("a valid time");
        let afternoon = Session {
            open: at(13, 0),
            close: at(15, 0),
        };
        let cea = matches!(kind, InstrumentKind::Cea { .. });
        let sessions = if cea {
            vec![afternoon]
        } else {
            vec![
                Session {
                    open: at(9, 30),
                    close: at(11, 30),
                },
                afternoon,
            ]
        };
        Self {
            enabled: cea,
            min_t: DEFAULT_BLOCK_MIN_T,
            band_bps: DEFAULT_BLOCK_BAND_BPS,
            needs_confirmation: !cea,
            sessions,
            max_open: DEFAULT_MAX_OPEN_BLOCKS,
        }
    }

    /// Whether the rules can be used: a positive minimum, a band under
    /// 100%, sessions that open before they close, a limit of 1 to
    /// [`MAX_OPEN_BLOCKS`].
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.problem().is_none()
    }

    /// What makes the rules unusable, in words, if anything does.
    #[must_use]
    pub fn problem(&self) -> Option<&'static str> {
        if self.min_t == 0 {
            Some("min_t must be at least 1 t")
        } else if self.band_bps >= 10_000 {
            Some("band_bps must be below 10000")
        } else if self.sessions.len() > 16 {
            Some("at most 16 sessions")
        } else if self.sessions.iter().any(|s| s.open >= s.close) {
            Some("each session must open before it closes")
        } else if !(1..=MAX_OPEN_BLOCKS).contains(&self.max_open) {
            Some("max_open must be 1 to 1048576")
        } else {
            None
        }
    }

    /// Whether a local second of the day lies in one of the sessions
    /// (from the open, before the close).
    #[must_use]
    pub fn in_hours(&self, local_s: u32) -> bool {
        use chrono::Timelike;
        self.sessions.iter().any(|s| {
            s.open.num_seconds_from_midnight() <= local_s
                && local_s < s.close.num_seconds_from_midnight()
        })
    }
}

/// An open block offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockOffer {
    /// Its id (offers and deals share one counter).
    pub block_id: u64,
    /// The poster's account.
    pub account: AccountId,
    /// The instrument.
    pub instrument: InstrumentId,
    /// The poster's side.
    pub side: Side,
    /// Price in ticks.
    pub price_ticks: i64,
    /// Tonnes still open.
    pub quantity_t: u64,
    /// The one account that may accept it, or `None` for every account.
    pub counterparty: Option<AccountId>,
}

/// An acceptance waiting for the exchange's confirmation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockDeal {
    /// Its id.
    pub deal_id: u64,
    /// The offer it was struck from.
    pub block_id: u64,
    /// The instrument.
    pub instrument: InstrumentId,
    /// Price in ticks (the offer's).
    pub price_ticks: i64,
    /// Tonnes.
    pub quantity_t: u64,
    /// The poster's account.
    pub poster: AccountId,
    /// The poster's side.
    pub poster_side: Side,
    /// The acceptor's account.
    pub acceptor: AccountId,
}

impl BlockDeal {
    /// The buying and the selling account.
    #[must_use]
    pub const fn buyer_seller(&self) -> (AccountId, AccountId) {
        match self.poster_side {
            Side::Buy => (self.poster, self.acceptor),
            Side::Sell => (self.acceptor, self.poster),
        }
    }
}

/// Every open offer and unconfirmed deal, by id, and the next id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocks {
    /// The id the next offer or deal gets; from 1.
    pub next_id: u64,
    /// Open offers by id.
    pub offers: BTreeMap<u64, BlockOffer>,
    /// Deals waiting for confirmation, by id.
    pub deals: BTreeMap<u64, BlockDeal>,
}

impl Default for Blocks {
    fn default() -> Self {
        Self {
            next_id: 1,
            offers: BTreeMap::new(),
            deals: BTreeMap::new(),
        }
    }
}

impl Blocks {
    /// Open offers plus pending deals of one instrument.
    #[must_use]
    pub fn open_in(&self, instrument: InstrumentId) -> usize {
        self.offers
            .values()
            .filter(|o| o.instrument == instrument)
            .count()
            + self
                .deals
                .values()
                .filter(|d| d.instrument == instrument)
                .count()
    }

    /// Every reservation blocks hold: (account, instrument, side, price,
    /// tonnes), offers by id then both sides of each deal by id.
    pub fn claims(&self) -> impl Iterator<Item = (AccountId, InstrumentId, Side, i64, u64)> + '_ {
        let offers = self
            .offers
            .values()
            .map(|o| (o.account, o.instrument, o.side, o.price_ticks, o.quantity_t));
        let deals = self.deals.values().flat_map(|d| {
            let (buyer, seller) = d.buyer_seller();
            [
                (buyer, d.instrument, Side::Buy, d.price_ticks, d.quantity_t),
                (
                    seller,
                    d.instrument,
                    Side::Sell,
                    d.price_ticks,
                    d.quantity_t,
                ),
            ]
        });
        offers.chain(deals)
    }

    /// Takes an id for a new offer or deal.
    pub(crate) fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}
