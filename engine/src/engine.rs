//! The engine: a deterministic state machine over all books and accounts.
//!
//! [`Engine::apply`] takes one stamped command, checks it, changes the books
//! and accounts, and appends the resulting events. The same stamped commands
//! give the same events on any machine: the engine reads no clock, draws no
//! random number, and no hash-map iteration decides an output order.
//!
//! The commands are carried out in three files: order commands in
//! `crate::trading`, account and instrument administration in
//! `crate::admin` (both private), and the end of the trading day in
//! [`crate::end_of_day`].

use serde::{Deserialize, Serialize};

use crate::account::{Account, Accounts};
use crate::auction::Auctions;
use crate::book::Book;
use crate::calendar::Calendar;
use crate::command::{Command, CommandKind, Stamp, TransferTerms};
use crate::day_stats::DayStats;
use crate::event::{Event, Rejected};
use crate::instrument::{InstrumentId, InstrumentSpec, Policy, PriceRules, SpecError};
use crate::membership::Membership;
use crate::order::{OrderId, Side};
use crate::phase::Phase;
use crate::reject::RejectReason;

/// What the engine trades, as written in config.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// The instruments; an instrument's [`InstrumentId`] is its position here.
    pub instruments: Vec<InstrumentSpec>,
}

/// Everything the engine keeps about one instrument besides its book.
#[derive(Clone, Debug)]
pub(crate) struct Market {
    /// The spec it was listed or last revised with; its reference price is
    /// the listing's, today's is the book's.
    pub(crate) spec: InstrumentSpec,
    pub(crate) policy: Policy,
    pub(crate) phase: Phase,
    pub(crate) today: DayStats,
    /// Its block-trading rules: the kind's until a `SetBlockRules`.
    pub(crate) block: crate::block::BlockRules,
}

/// A transfer reference remembered: the transfer's terms (`None` for one a
/// snapshot of version 5 or older carried) and the trading day (the
/// engine's count) it was applied on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The transfer's account, asset, direction and amount.
    pub terms: Option<TransferTerms>,
    /// The engine's trading day it was applied on.
    pub trading_day: u32,
}

/// The matching engine: one book per instrument, the accounts, and the
/// engine-wide counters.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) books: Vec<Book>,
    pub(crate) markets: Vec<Market>,
    pub(crate) accounts: Accounts,
    /// Highest order id accepted so far.
    pub(crate) last_order_id: Option<OrderId>,
    pub(crate) next_trade_id: u64,
    pub(crate) trading_day: u32,
    /// The trading date the last dated end of day closed, `YYYYMMDD`.
    pub(crate) closed_date: Option<u32>,
    /// The exchange calendar, once a [`Command::SetCalendar`] set it.
    pub(crate) calendar: Option<Calendar>,
    /// Every reference id a [`Command::Transfer`] was applied under in the
    /// last [`crate::REFERENCE_DAYS`] trading days, with the
    /// transfer's terms (`None` for one a snapshot of version 5 or older
    /// carried, which kept the reference only) and the trading day it was
    /// applied on. Older ones are forgotten at each end of day
    /// ([`Engine::forget_old_references`]), so that it holds a window of
    /// transfers, not the market's whole history.
    pub(crate) references: std::collections::BTreeMap<String, Applied>,
    /// Brokers added by command; brokers and accounts not active.
    pub(crate) membership: Membership,
    /// Open block offers and deals waiting for confirmation.
    pub(crate) blocks: crate::block::Blocks,
    /// Open one-way auctions and the highest auction id announced.
    pub(crate) auctions: Auctions,
}

impl Default for Engine {
    /// An engine with no instrument, no account and no calendar, on trading
    /// day 0: where every journal starts.
    fn default() -> Self {
        Self {
            books: Vec::new(),
            markets: Vec::new(),
            accounts: Accounts::default(),
            last_order_id: None,
            next_trade_id: 1,
            trading_day: 0,
            closed_date: None,
            calendar: None,
            references: std::collections::BTreeMap::new(),
            membership: Membership::default(),
            blocks: crate::block::Blocks::default(),
            auctions: Auctions::default(),
        }
    }
}

impl Engine {
    /// An engine with empty books for the configured instruments, every one
    /// closed, no accounts, on trading day 0.
    ///
    /// # Errors
    /// A [`SpecError`] for the first instrument that cannot be used, or a
    /// symbol configured twice.
    pub fn new(config: &EngineConfig) -> Result<Self, SpecError> {
        let mut engine = Self::default();
        for spec in &config.instruments {
            engine.list(spec)?;
        }
        Ok(engine)
    }

    /// Adds an instrument with the next id, and a holding of it to every
    /// account.
    pub(crate) fn list(&mut self, spec: &InstrumentSpec) -> Result<InstrumentId, SpecError> {
        let (id, rules, policy) = self.check_listing(spec)?;
        self.books.push(Book::new(id, rules, spec.max_orders));
        self.markets.push(Market {
            spec: spec.clone(),
            policy,
            phase: Phase::Closed,
            today: DayStats::default(),
            block: crate::block::BlockRules::for_kind(&spec.kind),
        });
        self.accounts.list_instrument();
        Ok(id)
    }

    /// The id, rules and policy a listing of `spec` would get beside the
    /// instruments listed, or why it cannot be listed.
    pub(crate) fn check_listing(
        &self,
        spec: &InstrumentSpec,
    ) -> Result<(InstrumentId, PriceRules, Policy), SpecError> {
        if self.markets.iter().any(|m| m.spec.symbol == spec.symbol) {
            return Err(SpecError::DuplicateSymbol(spec.symbol.clone()));
        }
        let id = u16::try_from(self.books.len())
            .ok()
            .filter(|id| *id < u16::MAX)
            .map(InstrumentId)
            .ok_or(SpecError::TooManyInstruments(self.books.len() + 1))?;
        Ok((id, spec.rules()?, spec.policy()?))
    }

    /// What one end of day may expire in its journal entry, every
    /// instrument's `max_orders` and blocks' `max_open` together, with
    /// instrument `instead`'s (or a new one's, `None`) taken as
    /// `max_orders` and `max_open`; refused when over
    /// [`crate::instrument::MAX_OPEN_TOTAL`] and over the total before.
    /// Blocks count at least the offers and deals open (a `max_open`
    /// lowered below them frees nothing until they end).
    pub(crate) fn check_open_total(
        &self,
        instead: Option<usize>,
        max_orders: u32,
        max_open: u32,
    ) -> Result<u64, SpecError> {
        let open = |i: usize, max_open: u32| {
            let instrument = InstrumentId(i as u16);
            u64::from(max_open).max(self.blocks.open_in(instrument) as u64)
        };
        let each =
            |(i, m): (usize, &Market)| u64::from(m.spec.max_orders) + open(i, m.block.max_open);
        let before: u64 = self.markets.iter().enumerate().map(each).sum();
        let replaced = instead.map_or(0, |i| each((i, &self.markets[i])));
        let changed =
            u64::from(max_orders) + instead.map_or(u64::from(max_open), |i| open(i, max_open));
        SpecError::check_open_total(before - replaced + changed, before)
    }

    /// The spec an instrument was listed, or last revised, with. Its
    /// reference price is the listing's; today's is in its book's rules.
    #[must_use]
    pub fn spec(&self, instrument: InstrumentId) -> Option<&InstrumentSpec> {
        self.market(instrument).map(|m| &m.spec)
    }

    /// An instrument as a message names it: its symbol and its id
    /// (`CEA2025 (instrument 1)`), or its id alone if it is not listed.
    pub(crate) fn named(&self, instrument: InstrumentId) -> String {
        match self.spec(instrument) {
            Some(spec) => format!("{} (instrument {})", spec.symbol, instrument.0),
            None => format!("instrument {}", instrument.0),
        }
    }

    /// Every instrument's spec, in instrument order.
    pub fn specs(&self) -> impl ExactSizeIterator<Item = &InstrumentSpec> {
        self.markets.iter().map(|m| &m.spec)
    }

    /// Every instrument's id, in order.
    pub fn instrument_ids(&self) -> impl ExactSizeIterator<Item = InstrumentId> {
        (0..self.books.len()).map(|i| InstrumentId(i as u16))
    }

    /// The exchange calendar the journal set, if it set one.
    #[must_use]
    pub const fn calendar(&self) -> Option<&Calendar> {
        self.calendar.as_ref()
    }

    /// The id of the instrument with this symbol.
    #[must_use]
    pub fn instrument_id(&self, symbol: &str) -> Option<InstrumentId> {
        self.markets
            .iter()
            .position(|m| m.spec.symbol == symbol)
            .map(|i| InstrumentId(i as u16))
    }

    /// The symbol of an instrument.
    #[must_use]
    pub fn symbol(&self, instrument: InstrumentId) -> Option<&str> {
        self.market(instrument).map(|m| m.spec.symbol.as_str())
    }

    /// The trading phase of an instrument.
    #[must_use]
    pub fn phase(&self, instrument: InstrumentId) -> Option<Phase> {
        self.market(instrument).map(|m| m.phase)
    }

    /// An instrument's trading day so far.
    #[must_use]
    pub fn today(&self, instrument: InstrumentId) -> Option<DayStats> {
        self.market(instrument).map(|m| m.today)
    }

    /// The account rules of an instrument.
    #[must_use]
    pub fn policy(&self, instrument: InstrumentId) -> Option<&Policy> {
        self.market(instrument).map(|m| &m.policy)
    }

    /// The book of an instrument.
    #[must_use]
    pub fn book(&self, instrument: InstrumentId) -> Option<&Book> {
        self.books.get(usize::from(instrument.0))
    }

    /// All books, in instrument order.
    #[must_use]
    pub fn books(&self) -> &[Book] {
        &self.books
    }

    /// The account with this id.
    #[must_use]
    pub fn account(&self, id: crate::order::AccountId) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// The holdings of the account with this id, one per instrument in
    /// instrument order.
    #[must_use]
    pub fn holdings(&self, id: crate::order::AccountId) -> Option<&[crate::account::Holding]> {
        self.accounts.holdings_of(id)
    }

    /// All accounts, in the order they were opened.
    #[must_use]
    pub const fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// The current trading day, counted from 0.
    #[must_use]
    pub const fn trading_day(&self) -> u32 {
        self.trading_day
    }

    /// The trading date the journal's last dated end of day closed,
    /// `YYYYMMDD` (`None` before the first): the day the market is in is
    /// the calendar's next trading date.
    #[must_use]
    pub const fn closed_date(&self) -> Option<u32> {
        self.closed_date
    }

    /// An instrument's block-trading rules.
    #[must_use]
    pub fn block_rules(&self, instrument: InstrumentId) -> Option<&crate::block::BlockRules> {
        self.market(instrument).map(|m| &m.block)
    }

    /// Open block offers and deals waiting for the exchange's confirmation.
    #[must_use]
    pub const fn blocks(&self) -> &crate::block::Blocks {
        &self.blocks
    }

    fn market(&self, instrument: InstrumentId) -> Option<&Market> {
        self.markets.get(usize::from(instrument.0))
    }

    /// Applies one stamped command and appends what happened to `events`.
    ///
    /// Business outcomes are events, not errors: a command that breaks a rule
    /// yields one [`Event::Rejected`] and changes nothing. `events` is only
    /// appended to; reuse one vector to keep the steady state free of
    /// allocation.
    #[inline]
    pub fn apply(&mut self, command: &Command, stamp: Stamp, events: &mut Vec<Event>) {
        // A cancel, most often of an order that has traded already, takes
        // a function of its own: the rest of `apply`, with every command
        // inlined, saves and restores every register and sets up a large
        // frame, which was as much work as such a cancel's own.
        if let Command::Cancel {
            instrument,
            order_id,
            ..
        } = *command
        {
            self.apply_cancel(instrument, order_id, events);
        } else {
            self.apply_any(command, stamp, events);
        }
    }

    /// [`Engine::apply`] of a `Cancel`.
    #[inline(never)]
    fn apply_cancel(
        &mut self,
        instrument: InstrumentId,
        order_id: OrderId,
        events: &mut Vec<Event>,
    ) {
        if let Err(reason) = self.cancel(instrument, order_id, events) {
            events.push(Event::Rejected(Rejected {
                command: CommandKind::Cancel,
                order_id: Some(order_id),
                reason,
                bounds: None,
            }));
        }
    }

    /// [`Engine::apply`] of any command but a `Cancel`.
    #[inline(never)]
    fn apply_any(&mut self, command: &Command, stamp: Stamp, events: &mut Vec<Event>) {
        let outcome = match *command {
            Command::Submit(ref order) => self.submit(order, stamp, events),
            Command::Amend {
                instrument,
                order_id,
                price_ticks,
                quantity_t,
                ..
            } => self.amend(instrument, order_id, price_ticks, quantity_t, stamp, events),
            _ => self.apply_other(command, stamp, events),
        };
        if let Err(reason) = outcome {
            self.refuse(command, reason, stamp.time_ns, events);
        }
    }

    /// [`Engine::apply_any`] of every command but a submit and an amend,
    /// out of line and cold, so that `apply_any` saves and sets up only
    /// what those two need (5.7% fewer instructions a QuantCup message
    /// than with every command in `apply_any`, 7.7% a mixed one;
    /// callgrind, `apply_count`).
    #[cold]
    #[inline(never)]
    fn apply_other(
        &mut self,
        command: &Command,
        stamp: Stamp,
        events: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        match *command {
            Command::ListInstrument(ref spec) => self.list_instrument(spec, events),
            Command::ReviseInstrument {
                instrument,
                ref spec,
            } => self.revise_instrument(instrument, spec, events),
            Command::Transfer(ref transfer) => self.transfer(transfer, events),
            Command::AddBroker(ref broker) => self.add_broker(broker, events),
            Command::SetBrokerStatus { broker, status } => {
                self.set_broker_status(broker, status, events)
            }
            Command::SetAccountStatus { account, status } => {
                self.set_account_status(account, status, events)
            }
            Command::CancelOnDisconnect { broker } => {
                self.cancel_on_disconnect(broker, events);
                Ok(())
            }
            Command::SetCalendar(ref calendar) => {
                self.calendar = Some((**calendar).clone());
                events.push(Event::CalendarSet);
                Ok(())
            }
            Command::AnnounceAuction(ref notice) => self.announce_auction(notice, stamp, events),
            Command::Bid(bid) => self.place_bid(&bid, stamp, events),
            Command::CancelBid {
                auction_id, bid_id, ..
            } => self.cancel_bid(auction_id, bid_id, stamp, events),
            Command::AmendBid {
                auction_id,
                bid_id,
                price_ticks,
                quantity_t,
                ..
            } => self.amend_bid(auction_id, bid_id, price_ticks, quantity_t, stamp, events),
            Command::CloseAuction { auction_id } => {
                self.end_auction(auction_id, stamp, true, events)
            }
            Command::WithdrawAuction { auction_id } => {
                self.end_auction(auction_id, stamp, false, events)
            }
            Command::Take(take) => self.take(&take, stamp, events),
            Command::Cancel {
                instrument,
                order_id,
                ..
            } => self.cancel(instrument, order_id, events),
            // Taken by `apply_any` before it calls this; a second call
            // site here would stop `submit` from being inlined there
            // (8.8% more instructions a QuantCup message).
            Command::Submit(_) | Command::Amend { .. } => {
                unreachable!("apply_any applies submits and amends itself")
            }
            Command::SetPhase { instrument, phase } => self.set_phase(instrument, phase, events),
            Command::EndOfDay { trading_date } => {
                self.end_of_day(events);
                self.closed_date = trading_date.or(self.closed_date);
                Ok(())
            }
            Command::OpenAccount {
                account,
                participant,
                broker,
            } => self.open_account(account, participant, broker, events),
            Command::Deposit {
                account,
                amount_fen,
            } => self.deposit(account, amount_fen, events),
            Command::Withdraw {
                account,
                amount_fen,
            } => self.withdraw(account, amount_fen, events),
            Command::CreditHoldings {
                account,
                instrument,
                quantity_t,
            } => self.credit(account, instrument, quantity_t, events),
            Command::DebitHoldings {
                account,
                instrument,
                quantity_t,
            } => self.debit(account, instrument, quantity_t, events),
            Command::SetReferencePrice {
                instrument,
                price_ticks,
            } => self.set_reference_price(instrument, price_ticks, events),
            Command::PostBlock(ref block) => self.post_block(block, stamp, events),
            Command::AcceptBlock {
                block_id,
                account,
                quantity_t,
                ..
            } => self.accept_block(block_id, account, quantity_t, stamp, events),
            Command::CancelBlock {
                block_id, account, ..
            } => self.cancel_block(block_id, account, events),
            Command::ConfirmBlock { deal_id } => self.confirm_block(deal_id, stamp, events),
            Command::RefuseBlock { deal_id } => self.refuse_block(deal_id, events),
            Command::SetBlockRules {
                instrument,
                ref rules,
            } => self.set_block_rules(instrument, rules),
        }
    }

    /// The `Rejected` of a refused command (any but a `Cancel`). Out of
    /// line and cold: inlined into `apply_any` with [`Self::bounds_of`],
    /// it cost every command 2.5% more instructions; apart, 2.8% fewer
    /// than before the bounds (callgrind, `apply_count`).
    #[cold]
    #[inline(never)]
    fn refuse(
        &self,
        command: &Command,
        reason: RejectReason,
        time_ns: i64,
        events: &mut Vec<Event>,
    ) {
        events.push(Event::Rejected(Rejected {
            command: command.kind(),
            order_id: command.order_id(),
            reason,
            bounds: self.bounds_of(command, reason, time_ns),
        }));
    }

    /// The book and market of an instrument, or `UnknownInstrument`.
    pub(crate) fn instrument_index(&self, instrument: InstrumentId) -> Result<usize, RejectReason> {
        let i = usize::from(instrument.0);
        if i < self.books.len() {
            Ok(i)
        } else {
            Err(RejectReason::UnknownInstrument)
        }
    }

    /// Checks every book's invariants, every account's balances, and that
    /// each account's reservations equal what its open orders claim.
    ///
    /// # Panics
    /// When any invariant is broken; the message names it.
    pub fn check_invariants(&self) {
        let instruments = self.books.len();
        let mut claimed_fen = vec![0i64; self.accounts.len()];
        let mut claimed_t = vec![[0u64; 2]; self.accounts.len() * instruments];
        let position = |id| {
            self.accounts
                .iter()
                .position(|a| a.id == id)
                .expect("every resting order has an account")
        };
        for (i, book) in self.books.iter().enumerate() {
            book.check_invariants();
            for side in [Side::Buy, Side::Sell] {
                for order in book.orders(side) {
                    assert!(
                        Some(order.order_id) <= self.last_order_id,
                        "resting order {:?} was never accepted",
                        order.order_id
                    );
                    let a = position(order.account);
                    if side == Side::Buy {
                        claimed_fen[a] +=
                            crate::risk::value_fen(order.price_ticks, order.quantity_t);
                    }
                    claimed_t[a * instruments + i][side as usize] += order.quantity_t;
                }
            }
        }
        for (account, instrument, side, price_ticks, quantity_t) in self.blocks.claims() {
            let a = position(account);
            if side == Side::Buy {
                claimed_fen[a] += crate::risk::value_fen(price_ticks, quantity_t);
            }
            claimed_t[a * instruments + usize::from(instrument.0)][side as usize] += quantity_t;
        }
        for auction in self.auctions.open.values() {
            let i = usize::from(auction.notice.instrument.0);
            claimed_t[position(auction.notice.seller) * instruments + i][Side::Sell as usize] +=
                auction.notice.quantity_t;
            for bid in &auction.bids {
                let a = position(bid.account);
                claimed_fen[a] += crate::risk::value_fen(bid.price_ticks, bid.quantity_t);
                claimed_t[a * instruments + i][Side::Buy as usize] += bid.quantity_t;
            }
        }
        self.accounts.check_invariants();
        for (a, (account, holdings)) in self.accounts.iter_with_holdings().enumerate() {
            assert_eq!(
                account.reserved_fen, claimed_fen[a],
                "{:?}: reserved cash differs from its open buys",
                account.id
            );
            for (i, h) in holdings.iter().enumerate() {
                let [buying_t, selling_t] = claimed_t[a * instruments + i];
                assert_eq!(h.buying_t, buying_t, "{:?}: open buys in {i}", account.id);
                assert_eq!(
                    h.reserved_t, selling_t,
                    "{:?}: open sells in {i}",
                    account.id
                );
            }
        }
    }
}
