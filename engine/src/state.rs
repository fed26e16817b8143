//! The engine's state as plain data: what a snapshot stores, what recovery
//! compares, and what [`Engine::from_state`] rebuilds an engine from.
//!
//! [`EngineState`] is logical: resting orders in priority order, accounts
//! in the order they were opened, each instrument's phase, reference price
//! and day so far, and the engine-wide counters. It leaves out how the
//! engine happens to lay that out in memory (slab slots, free lists, index
//! capacity), so two engines that behave the same compare equal.

use crate::account::{Account, Holding};
use crate::auction::{Auctions, MAX_BIDS_PER_AUCTION, MAX_OPEN_AUCTIONS};
use crate::block::{BlockDeal, BlockOffer, BlockRules};
use crate::book::RestingOrder;
use crate::calendar::Calendar;
use crate::day_stats::DayStats;
use crate::engine::{Engine, EngineConfig};
use crate::instrument::{InstrumentId, InstrumentSpec, SpecError};
use crate::membership::{Membership, Status};
use crate::order::{OrderId, Side};
use crate::phase::Phase;

/// Everything that decides how the engine handles the next command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineState {
    /// The current trading day, counted from 0.
    pub trading_day: u32,
    /// The trading date the last dated end of day closed, `YYYYMMDD`.
    pub closed_date: Option<u32>,
    /// Highest order id accepted so far.
    pub last_order_id: Option<OrderId>,
    /// Id the next trade will get.
    pub next_trade_id: u64,
    /// The exchange calendar, once the journal set one.
    pub calendar: Option<Calendar>,
    /// One entry per listed instrument, in instrument order.
    pub instruments: Vec<InstrumentState>,
    /// Every account with its holdings, in the order opened.
    pub accounts: Vec<AccountState>,
    /// Every transfer reference id remembered (applied in the last
    /// [`crate::REFERENCE_DAYS`] trading days), in byte order, with
    /// the transfer's terms (`None` when read from a snapshot of version 5
    /// or older, which kept the reference only) and the trading day it was
    /// applied on (a snapshot's own day when read from one of version 6 or
    /// older, which kept none).
    pub references: Vec<(String, Option<crate::command::TransferTerms>, u32)>,
    /// Brokers added by command; brokers and accounts not active.
    pub membership: Membership,
    /// Open one-way auctions with their bids, and the highest auction id
    /// announced.
    pub auctions: Auctions,
    /// Block trading: each instrument's rules, open offers, pending deals.
    pub blocks: BlockState,
}

/// The block-trading part of the state (snapshot version 4).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockState {
    /// Each instrument's block rules, in instrument order. Empty in a
    /// state read from a snapshot older than version 4: every instrument
    /// then has its kind's rules.
    pub rules: Vec<BlockRules>,
    /// The id the next offer or deal gets (0 in an old snapshot: 1).
    pub next_id: u64,
    /// Open offers, in id order.
    pub offers: Vec<BlockOffer>,
    /// Deals waiting for the exchange's confirmation, in id order.
    pub deals: Vec<BlockDeal>,
}

/// One account's state: the account, and its holdings as one list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountState {
    /// The account and its cash.
    pub account: Account,
    /// One holding per instrument, in instrument order. In the engine
    /// they are a row of [`crate::Accounts`]' table of holdings.
    pub holdings: Vec<Holding>,
}

/// One instrument's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentState {
    /// Its spec as listed or last revised (the reference price in it is
    /// the listing's).
    pub spec: InstrumentSpec,
    /// Its trading phase.
    pub phase: Phase,
    /// Today's reference price in ticks; the band follows from it.
    pub reference_ticks: i64,
    /// Its trading so far today.
    pub today: DayStats,
    /// Resting bids, best price first and in time order at each price.
    pub bids: Vec<RestingOrder>,
    /// Resting asks, best price first and in time order at each price.
    pub asks: Vec<RestingOrder>,
}

/// Why a state cannot be loaded into an engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// An instrument's spec is not usable.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// An account does not have one holding per instrument.
    #[error("account {0} has holdings for the wrong number of instruments")]
    Holdings(u32),
    /// Two accounts share an id.
    #[error("account {0} appears twice")]
    DuplicateAccount(u32),
    /// A reference price is not positive or not on the instrument's tick.
    #[error("instrument {0}: reference price {1} ticks is not positive and on the tick, or its band spans more than max_price_levels")]
    ReferencePrice(u16, i64),
    /// An account's reservations do not match its resting orders, or
    /// exceed what it holds.
    #[error("account {0}: {1}")]
    Claims(u32, &'static str),
    /// A standing of an unknown account, an active one listed as an
    /// exception, or an added broker listed under another id.
    #[error("membership: {0}")]
    Membership(&'static str),
    /// Block rules, an offer or a deal that cannot be as given.
    #[error("blocks: {0}")]
    Blocks(&'static str),
    /// An open auction or one of its bids cannot be as given.
    #[error("auctions: {0}")]
    Auctions(&'static str),
    /// A resting order cannot rest as given.
    #[error("instrument {instrument}: order {order} cannot rest: {why}")]
    Order {
        /// The instrument.
        instrument: u16,
        /// The order id.
        order: u64,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// The membership of a state, if it fits the accounts loaded: a
/// snapshot is input like a journal.
fn check_membership(membership: &Membership, engine: &Engine) -> Result<Membership, StateError> {
    let m = membership;
    if m.brokers.iter().any(|(id, b)| *id != b.broker) {
        return Err(StateError::Membership("an added broker under another id"));
    }
    let statuses = m.broker_status.values().chain(m.account_status.values());
    if statuses.into_iter().any(|s| *s == Status::Active) {
        return Err(StateError::Membership("an active standing listed"));
    }
    if m.account_status
        .keys()
        .any(|a| engine.accounts.get(*a).is_none())
    {
        return Err(StateError::Membership("the standing of an unknown account"));
    }
    Ok(m.clone())
}

/// The auctions of a state, if each names a listed instrument, open
/// accounts and bid ids already accepted, within the engine's limits.
fn check_auctions(auctions: &Auctions, engine: &Engine) -> Result<Auctions, StateError> {
    let bad = |why| Err(StateError::Auctions(why));
    if auctions.open.len() > MAX_OPEN_AUCTIONS {
        return bad("more open auctions than the engine holds");
    }
    for (id, auction) in &auctions.open {
        let n = &auction.notice;
        if *id != n.auction_id || Some(*id) > auctions.last_auction_id {
            return bad("an auction under another id, or above the last announced");
        }
        if usize::from(n.instrument.0) >= engine.books.len()
            || engine.accounts.get(n.seller).is_none()
            || n.quantity_t == 0
            || n.floor_ticks > n.ceiling_ticks
        {
            return bad("an auction of an unknown instrument or account, or with impossible terms");
        }
        if auction.bids.len() > MAX_BIDS_PER_AUCTION {
            return bad("an auction holds more bids than it may");
        }
        for bid in &auction.bids {
            let sound = engine.accounts.get(bid.account).is_some()
                && bid.account != n.seller
                && bid.quantity_t > 0
                && (n.floor_ticks..=n.ceiling_ticks).contains(&bid.price_ticks)
                && Some(bid.bid_id) <= engine.last_order_id;
            if !sound {
                return bad("a bid of an unknown account or the seller, outside its range, or never accepted");
            }
        }
    }
    Ok(auctions.clone())
}

impl Engine {
    /// The engine's state as plain data.
    #[must_use]
    pub fn state(&self) -> EngineState {
        EngineState {
            trading_day: self.trading_day,
            closed_date: self.closed_date,
            last_order_id: self.last_order_id,
            next_trade_id: self.next_trade_id,
            calendar: self.calendar.clone(),
            instruments: self
                .books
                .iter()
                .zip(&self.markets)
                .map(|(book, market)| InstrumentState {
                    spec: market.spec.clone(),
                    phase: market.phase,
                    reference_ticks: book.rules().reference_ticks,
                    today: market.today,
                    bids: book.orders(Side::Buy).collect(),
                    asks: book.orders(Side::Sell).collect(),
                })
                .collect(),
            accounts: self
                .accounts
                .iter_with_holdings()
                .map(|(account, holdings)| AccountState {
                    account: account.clone(),
                    holdings: holdings.to_vec(),
                })
                .collect(),
            references: self
                .references
                .iter()
                .map(|(reference, applied)| (reference.clone(), applied.terms, applied.trading_day))
                .collect(),
            membership: self.membership.clone(),
            blocks: BlockState {
                rules: self.markets.iter().map(|m| m.block.clone()).collect(),
                next_id: self.blocks.next_id,
                offers: self.blocks.offers.values().copied().collect(),
                deals: self.blocks.deals.values().copied().collect(),
            },
            auctions: self.auctions.clone(),
        }
    }

    /// An engine in exactly this state.
    ///
    /// # Errors
    /// A [`StateError`] when the state cannot be true: an unusable spec, a
    /// reference price off the tick, an order outside the band or of an
    /// unknown account, a duplicate order id.
    pub fn from_state(state: &EngineState) -> Result<Self, StateError> {
        let mut engine = Self::new(&EngineConfig {
            instruments: state.instruments.iter().map(|i| i.spec.clone()).collect(),
        })?;
        engine.calendar.clone_from(&state.calendar);
        engine.references = state
            .references
            .iter()
            .map(|(reference, terms, trading_day)| {
                let applied = crate::engine::Applied {
                    terms: *terms,
                    trading_day: *trading_day,
                };
                (reference.clone(), applied)
            })
            .collect();
        for AccountState { account, holdings } in &state.accounts {
            if holdings.len() != engine.books.len() {
                return Err(StateError::Holdings(account.id.0));
            }
            if !engine.accounts.restore(account.clone(), Some(holdings)) {
                return Err(StateError::DuplicateAccount(account.id.0));
            }
        }
        for (i, instrument) in state.instruments.iter().enumerate() {
            let id = InstrumentId(i as u16);
            let book = &mut engine.books[i];
            let rules = *book.rules();
            let rules = rules
                .with_reference(instrument.reference_ticks)
                .map_err(|_| StateError::ReferencePrice(id.0, instrument.reference_ticks))?;
            book.rebase(rules);
            let market = &mut engine.markets[i];
            market.phase = instrument.phase;
            market.today = instrument.today;
            for order in instrument.bids.iter().chain(&instrument.asks) {
                let bad = |why| StateError::Order {
                    instrument: id.0,
                    order: order.order_id.0,
                    why,
                };
                let book = &mut engine.books[i];
                if book.rules().check_price(order.price_ticks).is_err() {
                    return Err(bad("price outside the band or off the tick"));
                }
                if order.quantity_t == 0 || book.order(order.order_id).is_some() {
                    return Err(bad("zero quantity or duplicate id"));
                }
                let at = engine
                    .accounts
                    .locate(order.account)
                    .ok_or(bad("unknown account"))?;
                let broker_at = engine.accounts.broker_at(at);
                let book = &mut engine.books[i];
                if !book.insert(
                    order.order_id,
                    (order.account, at, broker_at),
                    order.side,
                    order.price_ticks,
                    order.quantity_t,
                ) {
                    return Err(bad("the book is full"));
                }
            }
        }
        engine.membership = check_membership(&state.membership, &engine)?;
        engine.trading_day = state.trading_day;
        engine.closed_date = state.closed_date;
        engine.last_order_id = state.last_order_id;
        engine.next_trade_id = state.next_trade_id;
        engine.restore_blocks(&state.blocks)?;
        engine.auctions = check_auctions(&state.auctions, &engine)?;
        engine.check_claims()?;
        Ok(engine)
    }

    /// Checks, without panicking, what [`Engine::check_invariants`]
    /// asserts of the accounts: a snapshot is input like a journal (its
    /// checksum proves only that it arrived intact), and one whose
    /// reservations do not match its resting orders, or that reserves more
    /// than is held, would break the arithmetic of later fills and cancels.
    fn check_claims(&self) -> Result<(), StateError> {
        let instruments = self.books.len();
        let mut claimed_fen = vec![0i128; self.accounts.len()];
        let mut claimed_t = vec![[0u128; 2]; self.accounts.len() * instruments];
        for (i, book) in self.books.iter().enumerate() {
            for order in book.orders(Side::Buy).chain(book.orders(Side::Sell)) {
                if Some(order.order_id) > self.last_order_id {
                    return Err(StateError::Claims(
                        order.account.0,
                        "an order id never accepted",
                    ));
                }
                let a = self
                    .accounts
                    .locate(order.account)
                    .map_or(0, |at| at as usize);
                if order.side == Side::Buy {
                    claimed_fen[a] += i128::from(order.price_ticks) * i128::from(order.quantity_t);
                }
                claimed_t[a * instruments + i][order.side as usize] += u128::from(order.quantity_t);
            }
        }
        for (account, instrument, side, price_ticks, quantity_t) in self.blocks.claims() {
            let a = self.accounts.locate(account).map_or(0, |at| at as usize);
            if side == Side::Buy {
                claimed_fen[a] += i128::from(price_ticks) * i128::from(quantity_t);
            }
            claimed_t[a * instruments + usize::from(instrument.0)][side as usize] +=
                u128::from(quantity_t);
        }
        for auction in self.auctions.open.values() {
            let i = usize::from(auction.notice.instrument.0);
            let at = |id| self.accounts.locate(id).map_or(0, |at| at as usize);
            claimed_t[at(auction.notice.seller) * instruments + i][Side::Sell as usize] +=
                u128::from(auction.notice.quantity_t);
            for bid in &auction.bids {
                let a = at(bid.account);
                claimed_fen[a] += i128::from(bid.price_ticks) * i128::from(bid.quantity_t);
                claimed_t[a * instruments + i][Side::Buy as usize] += u128::from(bid.quantity_t);
            }
        }
        for (a, (account, holdings)) in self.accounts.iter_with_holdings().enumerate() {
            let bad = |why| Err(StateError::Claims(account.id.0, why));
            if i128::from(account.reserved_fen) != claimed_fen[a]
                || account.reserved_fen < 0
                || account.reserved_fen > account.cash_fen
            {
                return bad("reserved cash is not what its open buys claim, or above its cash");
            }
            for (i, h) in holdings.iter().enumerate() {
                let [buying_t, selling_t] = claimed_t[a * instruments + i];
                let held = h
                    .reserved_t
                    .checked_add(h.locked_t)
                    .is_some_and(|t| t <= h.balance_t);
                if u128::from(h.buying_t) != buying_t
                    || u128::from(h.reserved_t) != selling_t
                    || !held
                {
                    return bad("a holding's reservations are not what its open orders claim, or above the holding");
                }
            }
        }
        Ok(())
    }

    /// Puts back the block rules, offers and deals of a state, checking
    /// that each names a listed instrument and an open account, and that
    /// no id reaches the next one.
    fn restore_blocks(&mut self, state: &BlockState) -> Result<(), StateError> {
        let bad = |why| Err(StateError::Blocks(why));
        if !state.rules.is_empty() {
            if state.rules.len() != self.markets.len() {
                return bad("not one set of rules per instrument");
            }
            for (market, rules) in self.markets.iter_mut().zip(&state.rules) {
                if !rules.is_valid() {
                    return bad("unusable rules");
                }
                market.block = rules.clone();
            }
        }
        self.blocks.next_id = state.next_id.max(1);
        let instruments = self.markets.len();
        let known = |a: crate::order::AccountId| self.accounts.get(a).is_some();
        for offer in &state.offers {
            let ok = usize::from(offer.instrument.0) < instruments
                && known(offer.account)
                && offer.counterparty.is_none_or(known)
                && offer.quantity_t > 0
                && offer.block_id < self.blocks.next_id;
            if !ok || self.blocks.offers.insert(offer.block_id, *offer).is_some() {
                return bad("an offer of an unknown instrument or account, or a duplicate id");
            }
        }
        for deal in &state.deals {
            let ok = usize::from(deal.instrument.0) < instruments
                && known(deal.poster)
                && known(deal.acceptor)
                && deal.poster != deal.acceptor
                && deal.quantity_t > 0
                && deal.deal_id < self.blocks.next_id;
            if !ok || self.blocks.deals.insert(deal.deal_id, *deal).is_some() {
                return bad("a deal of an unknown instrument or account, or a duplicate id");
            }
        }
        Ok(())
    }
}
