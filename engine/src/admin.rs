//! Administration commands: the market's instruments, accounts, cash and
//! allowance transfers, trading phases and reference prices.
//!
//! They are commands like orders, stamped and journaled, so a replay of the
//! journal rebuilds accounts and schedules exactly as they were.

use crate::account::{Account, BrokerId, Holding, ParticipantType};
use crate::book::Book;
use crate::command::{Asset, Command, Direction, Transfer, TransferTerms};
use crate::engine::{Applied, Engine};
use crate::event::{
    AccountOpened, CashMoved, Event, HoldingsMoved, LargeHolder, PhaseChanged, ReferencePriceSet,
};
use crate::instrument::{InstrumentId, InstrumentSpec, Policy, PriceRules, SpecError};
use crate::order::AccountId;
use crate::phase::Phase;
use crate::reject::RejectReason;
use crate::risk;

/// Trading days a transfer's reference is remembered for, the day it was
/// applied on included: a transfer naming a reference applied that long
/// ago or longer is a new transfer. About a year of trading days, so that
/// the references held are a window of the market's transfers, not all of
/// them (ADMIN.md).
pub const REFERENCE_DAYS: u32 = 250;

impl Engine {
    /// Remembers a transfer applied today under `reference`.
    pub(crate) fn remember(&mut self, reference: String, terms: TransferTerms) {
        let applied = Applied {
            terms: Some(terms),
            trading_day: self.trading_day,
        };
        self.references.insert(reference, applied);
    }

    /// Forgets the references applied [`REFERENCE_DAYS`] or more trading
    /// days before today's: at each end of day, live and in replay alike.
    pub(crate) fn forget_old_references(&mut self) {
        let today = self.trading_day;
        self.references
            .retain(|_, applied| today.saturating_sub(applied.trading_day) < REFERENCE_DAYS);
    }

    /// The account with this id, or `UnknownAccount`; `AccountClosed`
    /// when it is closed.
    fn account_mut(&mut self, account: AccountId) -> Result<&mut Account, RejectReason> {
        let a = self
            .accounts
            .get_mut(account)
            .ok_or(RejectReason::UnknownAccount)?;
        self.membership.check_open(account)?;
        Ok(a)
    }

    /// An account's holding of an instrument, and the instrument's index:
    /// `UnknownInstrument` is checked first, then `UnknownAccount`.
    fn holding_mut(
        &mut self,
        account: AccountId,
        instrument: InstrumentId,
    ) -> Result<(usize, &mut Holding), RejectReason> {
        let i = self.instrument_index(instrument)?;
        let (_, holding) = self
            .accounts
            .get_with_holding_mut(account, instrument)
            .ok_or(RejectReason::UnknownAccount)?;
        self.membership.check_open(account)?;
        Ok((i, holding))
    }

    pub(crate) fn set_phase(
        &mut self,
        instrument: InstrumentId,
        phase: Phase,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let i = self.instrument_index(instrument)?;
        self.markets[i].phase = phase;
        events.push(Event::PhaseChanged(PhaseChanged { instrument, phase }));
        Ok(())
    }

    pub(crate) fn open_account(
        &mut self,
        account: AccountId,
        participant: ParticipantType,
        broker: BrokerId,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        self.membership.check_broker_active(broker)?;
        if !self.accounts.open(account, participant, broker) {
            return Err(RejectReason::AccountExists);
        }
        events.push(Event::AccountOpened(AccountOpened {
            account,
            participant,
            broker,
        }));
        Ok(())
    }

    pub(crate) fn deposit(
        &mut self,
        account: AccountId,
        amount_fen: i64,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        self.account_mut(account)?;
        // Trades only move cash between accounts, so while the market's
        // whole cash fits an i64 no account's can overflow, whatever it
        // sells: a deposit past that is refused.
        let market_fen = self.accounts.market_fen();
        if amount_fen <= 0 || market_fen + i128::from(amount_fen) > i128::from(i64::MAX) {
            return Err(RejectReason::InvalidAmount);
        }
        let a = self.account_mut(account)?;
        let cash_fen = a.cash_fen + amount_fen;
        a.cash_fen = cash_fen;
        self.accounts.count_cash(amount_fen);
        events.push(Event::CashDeposited(CashMoved {
            account,
            amount_fen,
            cash_fen,
        }));
        Ok(())
    }

    pub(crate) fn withdraw(
        &mut self,
        account: AccountId,
        amount_fen: i64,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let a = self.account_mut(account)?;
        if amount_fen <= 0 {
            return Err(RejectReason::InvalidAmount);
        }
        if amount_fen > a.available_fen() {
            return Err(RejectReason::InsufficientCash);
        }
        a.cash_fen -= amount_fen;
        let cash_fen = a.cash_fen;
        self.accounts.count_cash(-amount_fen);
        events.push(Event::CashWithdrawn(CashMoved {
            account,
            amount_fen,
            cash_fen,
        }));
        Ok(())
    }

    pub(crate) fn credit(
        &mut self,
        account: AccountId,
        instrument: InstrumentId,
        quantity_t: u64,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let (i, _) = self.holding_mut(account, instrument)?;
        // As for cash: trades only move allowances between accounts, so
        // while all accounts' allowances of the instrument fit a u64, no
        // account's can overflow, whatever it buys.
        let market_t = self.accounts.market_t(i);
        if quantity_t == 0 || market_t + u128::from(quantity_t) > u128::from(u64::MAX) {
            return Err(RejectReason::InvalidAmount);
        }
        let (_, h) = self.holding_mut(account, instrument)?;
        let before_t = h.balance_t;
        let balance_t = before_t + quantity_t;
        h.balance_t = balance_t;
        self.accounts.count_held(i, true, quantity_t);
        events.push(Event::HoldingsCredited(HoldingsMoved {
            account,
            instrument,
            quantity_t,
            balance_t,
        }));
        if let Some(threshold_t) = risk::crossed(&self.markets[i].policy, before_t, balance_t) {
            events.push(Event::LargeHolder(LargeHolder {
                account,
                instrument,
                balance_t,
                threshold_t,
            }));
        }
        Ok(())
    }

    pub(crate) fn debit(
        &mut self,
        account: AccountId,
        instrument: InstrumentId,
        quantity_t: u64,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let (i, h) = self.holding_mut(account, instrument)?;
        if quantity_t == 0 {
            return Err(RejectReason::InvalidAmount);
        }
        risk::check_sellable(h, quantity_t)?;
        h.balance_t -= quantity_t;
        let balance_t = h.balance_t;
        self.accounts.count_held(i, false, quantity_t);
        events.push(Event::HoldingsDebited(HoldingsMoved {
            account,
            instrument,
            quantity_t,
            balance_t,
        }));
        Ok(())
    }

    pub(crate) fn set_reference_price(
        &mut self,
        instrument: InstrumentId,
        price_ticks: i64,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let i = self.instrument_index(instrument)?;
        let book = &mut self.books[i];
        let rules = *book.rules();
        if price_ticks <= 0 {
            return Err(RejectReason::InvalidAmount);
        }
        if price_ticks % rules.step_ticks != 0 {
            return Err(RejectReason::PriceNotOnTick);
        }
        if self.markets[i].phase.accepts_orders() || !book.is_empty() {
            return Err(RejectReason::ReferencePriceLocked);
        }
        // Their prices were checked against today's band, which would move
        // under them.
        if self.deals_open(instrument) {
            return Err(RejectReason::ReferencePriceLocked);
        }
        let book = &mut self.books[i];
        // A band wider than the book's bound on price levels is refused.
        let rules = rules
            .with_reference(price_ticks)
            .map_err(|_| RejectReason::InvalidAmount)?;
        book.rebase(rules);
        events.push(Event::ReferencePriceSet(ReferencePriceSet {
            instrument,
            price_ticks,
            floor_ticks: rules.floor_ticks,
            ceiling_ticks: rules.ceiling_ticks,
        }));
        Ok(())
    }

    pub(crate) fn transfer(
        &mut self,
        transfer: &Transfer,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let reference = &transfer.reference;
        if reference.is_empty() || reference.len() > Transfer::MAX_REFERENCE_LEN {
            return Err(RejectReason::InvalidReference);
        }
        match self.references.get(reference) {
            Some(Applied {
                terms: Some(terms), ..
            }) if *terms != transfer.terms() => return Err(RejectReason::ReferenceReused),
            Some(_) => return Err(RejectReason::DuplicateReference),
            None => {}
        }
        let (account, amount) = (transfer.account, transfer.amount);
        match (transfer.asset, transfer.direction) {
            (Asset::Cash, direction) => {
                let amount_fen = i64::try_from(amount).map_err(|_| RejectReason::InvalidAmount)?;
                match direction {
                    Direction::In => self.deposit(account, amount_fen, events),
                    Direction::Out => self.withdraw(account, amount_fen, events),
                }
            }
            (Asset::Allowances(instrument), Direction::In) => {
                self.credit(account, instrument, amount, events)
            }
            (Asset::Allowances(instrument), Direction::Out) => {
                self.debit(account, instrument, amount, events)
            }
        }?;
        self.remember(reference.clone(), transfer.terms());
        Ok(())
    }

    // Rare, and kept out of `Engine::apply`: inlined there, its checks
    // cost every order 7 instructions (callgrind, QuantCup feed).
    #[inline(never)]
    pub(crate) fn list_instrument(
        &mut self,
        spec: &InstrumentSpec,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        self.listing_error(spec).map_err(|e| match e {
            SpecError::DuplicateSymbol(_) => RejectReason::SymbolExists,
            _ => RejectReason::InvalidInstrumentSpec,
        })?;
        self.list_checked(spec, events)
    }

    /// [`Self::list_instrument`] as a journal holds it: a listing the
    /// engine took then is taken again, held to its symbol, vintage and
    /// the rules that make a book ([`Self::journaled_listing_error`]),
    /// not to the bounds on new ones (`InstrumentSpec::check_new`,
    /// `MAX_OPEN_TOTAL`), which a journal written before them may pass
    /// (reviewer 160 F2).
    pub(crate) fn list_journaled_instrument(
        &mut self,
        spec: &InstrumentSpec,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        self.journaled_listing_error(spec)
            .map_err(|_| RejectReason::InvalidInstrumentSpec)?;
        self.list_checked(spec, events)
    }

    /// Lists `spec`, checked already.
    fn list_checked(
        &mut self,
        spec: &InstrumentSpec,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let instrument = self
            .list(spec)
            .map_err(|_| RejectReason::InvalidInstrumentSpec)?;
        events.push(Event::InstrumentListed(self.band(instrument)));
        Ok(())
    }

    /// Why the engine refuses a listing or revision `command` for its
    /// spec (109 `InvalidInstrumentSpec`; 102 `PriceNotOnTick` for
    /// [`SpecError::ReferenceOffTick`]): the rule it breaks, for an
    /// operator's answer, since the journal keeps only the code. `None`
    /// for other commands, and for a spec this engine would take.
    #[must_use]
    pub fn spec_error(&self, command: &Command) -> Option<SpecError> {
        match command {
            Command::ListInstrument(spec) => self.listing_error(spec).err(),
            Command::ReviseInstrument { instrument, spec } => {
                let i = self.instrument_index(*instrument).ok()?;
                self.revision_error(i, spec).err()
            }
            _ => None,
        }
    }

    /// Revises an instrument's rules while it does not trade and nothing
    /// of it is open: no resting order and, under [`OpenDeals::Refuse`],
    /// no block offer, pending deal or auction, whose prices and
    /// quantities were checked under the rules they would then break.
    pub(crate) fn revise_instrument(
        &mut self,
        instrument: InstrumentId,
        spec: &InstrumentSpec,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        self.revise(instrument, spec, OpenDeals::Refuse, events)
    }

    /// Why an operator's listing of `spec` cannot be: its symbol (a
    /// config's symbols are checked as it loads), a symbol listed already
    /// (whatever its vintage says), a rule, or its vintage.
    fn listing_error(&self, spec: &InstrumentSpec) -> Result<(), SpecError> {
        self.journaled_listing_error(spec)?;
        spec.check_new()?;
        let block = crate::block::BlockRules::for_kind(&spec.kind);
        self.check_open_total(None, spec.max_orders, block.max_open)?;
        Ok(())
    }

    /// [`Self::listing_error`] but the bounds on new specs: what a listing
    /// a journal holds was checked for when it was made.
    fn journaled_listing_error(&self, spec: &InstrumentSpec) -> Result<(), SpecError> {
        spec.check_symbol()?;
        self.check_listing(spec)?;
        spec.check_vintage(self.specs())
    }

    /// [`Self::revised`], and the bounds a new spec is held to (an
    /// operator's revision, not one a journal holds).
    fn revision_error(
        &self,
        i: usize,
        spec: &InstrumentSpec,
    ) -> Result<(PriceRules, Policy), SpecError> {
        let revised = self.revised(i, spec)?;
        spec.check_new()?;
        self.check_open_total(Some(i), spec.max_orders, self.markets[i].block.max_open)?;
        Ok(revised)
    }

    /// The rules and policy `spec` gives instrument `i`, today's reference
    /// price kept, or why it cannot: a change of symbol or kind, a rule
    /// as for a listing, today's reference off the new tick, or its band
    /// beyond the new bound on price levels.
    fn revised(&self, i: usize, spec: &InstrumentSpec) -> Result<(PriceRules, Policy), SpecError> {
        let listed = &self.markets[i].spec;
        if listed.symbol != spec.symbol || listed.kind != spec.kind {
            return Err(SpecError::RevisionChangesIdentity(listed.symbol.clone()));
        }
        let (rules, policy) = (spec.rules()?, spec.policy()?);
        let reference_ticks = self.books[i].rules().reference_ticks;
        if reference_ticks % rules.step_ticks != 0 {
            return Err(SpecError::ReferenceOffTick {
                reference_ticks,
                tick: spec.tick,
            });
        }
        Ok((rules.with_reference(reference_ticks)?, policy))
    }

    /// [`Self::revise_instrument`] as a journal holds it: a journal written
    /// before block offers, pending deals and auctions counted (before
    /// 2026-12-04) may hold a revision that left them open, which replay
    /// applies as it was.
    pub(crate) fn revise_journaled_instrument(
        &mut self,
        instrument: InstrumentId,
        spec: &InstrumentSpec,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        self.revise(instrument, spec, OpenDeals::Allow, events)
    }

    // Rare, and kept out of `Engine::apply` as `list_instrument` is: its
    // checks, inlined there, changed how the compiler laid out the hot
    // path (1% slower on the QuantCup feed, paired runs).
    #[inline(never)]
    fn revise(
        &mut self,
        instrument: InstrumentId,
        spec: &InstrumentSpec,
        open_deals: OpenDeals,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let i = self.instrument_index(instrument)?;
        let revised = match open_deals {
            OpenDeals::Refuse => self.revision_error(i, spec),
            OpenDeals::Allow => self.revised(i, spec),
        };
        // A change of symbol or kind is refused first, busy or not.
        let busy = self.markets[i].phase.accepts_orders()
            || !self.books[i].is_empty()
            || (open_deals == OpenDeals::Refuse && self.deals_open(instrument));
        if busy && !matches!(revised, Err(SpecError::RevisionChangesIdentity(_))) {
            return Err(RejectReason::InstrumentBusy);
        }
        let (rules, policy) = revised.map_err(|e| match e {
            SpecError::ReferenceOffTick { .. } => RejectReason::PriceNotOnTick,
            _ => RejectReason::InvalidInstrumentSpec,
        })?;
        self.books[i] = Book::new(instrument, rules, spec.max_orders);
        let market = &mut self.markets[i];
        market.spec = spec.clone();
        market.policy = policy;
        events.push(Event::InstrumentRevised(self.band(instrument)));
        Ok(())
    }

    /// Whether the instrument has a block offer, a pending block deal or an
    /// auction open.
    fn deals_open(&self, instrument: InstrumentId) -> bool {
        self.blocks.open_in(instrument) > 0
            || self
                .auctions
                .open
                .values()
                .any(|a| a.notice.instrument == instrument)
    }

    /// An instrument's reference price and band as they stand.
    fn band(&self, instrument: InstrumentId) -> ReferencePriceSet {
        let rules = self.books[usize::from(instrument.0)].rules();
        ReferencePriceSet {
            instrument,
            price_ticks: rules.reference_ticks,
            floor_ticks: rules.floor_ticks,
            ceiling_ticks: rules.ceiling_ticks,
        }
    }
}

/// Whether a revision may leave block offers, pending block deals and
/// auctions open, and pass the bounds on new specs: never for a command,
/// only as a journal holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpenDeals {
    Refuse,
    Allow,
}
