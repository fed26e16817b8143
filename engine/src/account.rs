//! Accounts: who may trade, and what they own.
//!
//! Each account belongs to one participant (compliance entity, institution
//! or individual) and one broker. It holds cash in fen and, per instrument,
//! allowances split into what is free, what open sell orders have reserved,
//! and (CEA) what was bought today and may not be sold until the next
//! trading day.
//!
//! Pre-funding is full: a buy reserves price × quantity of cash, a sell
//! reserves the allowances it sells. The engine keeps these numbers; this
//! file keeps them consistent.
//!
//! Layout: [`Accounts`] keeps every account at a dense place given when it
//! opens (found through `IdTable`, without hashing), and every holding in
//! one flat table beside them, row by account place and column by
//! instrument id. An order's risk check, reservation or fill reaches its
//! account and its holding by two indexed loads, with no pointer to chase.

mod index;

use serde::{Deserialize, Serialize};

use crate::instrument::InstrumentId;
use crate::order::AccountId;

pub use crate::participant::ParticipantType;
pub(crate) use index::IdTable;

/// Marks an id with no account in [`Accounts`]' index.
const NO_ACCOUNT: u32 = u32::MAX;
/// A broker id with no place: none of its accounts was opened.
const NO_BROKER: u32 = u32::MAX;

/// Identifies a broker (an exchange member that connects and acts for its
/// client accounts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BrokerId(pub u32);

/// The number alone, as configs and logs write it.
impl std::fmt::Display for BrokerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One account's position in one instrument, in tonnes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Holding {
    /// Allowances held, whatever their state.
    pub balance_t: u64,
    /// Held allowances reserved by open sell orders.
    pub reserved_t: u64,
    /// Allowances bought today: held, but not sellable until the next
    /// trading day (T+1). Zero for instruments without T+1.
    pub locked_t: u64,
    /// Open quantity of this account's buy orders, counted against the
    /// position limit.
    pub buying_t: u64,
    /// Trading day of the last buy trade.
    pub last_buy_day: Option<u32>,
    /// Trading day of the last sell trade.
    pub last_sell_day: Option<u32>,
}

impl Holding {
    /// Allowances that a new sell order may reserve now.
    #[must_use]
    pub const fn sellable_t(&self) -> u64 {
        self.balance_t - self.reserved_t - self.locked_t
    }
}

/// A trading account: who owns it and its cash. Its holdings are kept in
/// [`Accounts`]' table ([`Accounts::holdings_of`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The account.
    pub id: AccountId,
    /// Who owns it.
    pub participant: ParticipantType,
    /// The broker that acts for it.
    pub broker: BrokerId,
    /// Cash held, in fen (0.01 CNY), reserved or not.
    pub cash_fen: i64,
    /// Cash reserved by open buy orders, in fen.
    pub reserved_fen: i64,
}

impl Account {
    /// Cash that a new buy order or a withdrawal may use now, in fen.
    #[must_use]
    pub const fn available_fen(&self) -> i64 {
        self.cash_fen - self.reserved_fen
    }

    /// Panics unless the cash is consistent: nothing negative reserved,
    /// nothing reserved beyond what is held. [`Accounts::check_invariants`]
    /// checks this and every holding.
    ///
    /// # Panics
    /// When the cash is broken; the message names the account.
    pub fn check_invariants(&self) {
        assert!(
            self.reserved_fen >= 0,
            "{:?}: negative reserved cash",
            self.id
        );
        assert!(
            self.reserved_fen <= self.cash_fen,
            "{:?}: reserves {} fen of {} held",
            self.id,
            self.reserved_fen,
            self.cash_fen
        );
    }
}

/// All accounts, in the order they were opened, and all their holdings.
///
/// Each account is kept at a dense place, its position in the order
/// opened, which resting orders remember; an order's account id finds its
/// place through an `IdTable`, a direct lookup by the id's bits rather
/// than a hash. The holdings are one flat table: the account at place `at`
/// holds instrument `i` in cell `at × instruments + i`. Listing an
/// instrument widens every row, which lays the table out anew (rare, and
/// never while orders flow). Each account's broker has a dense place too,
/// given as its first account opens, so that the books count a broker's
/// resting orders in a plain list.
#[derive(Clone, Debug)]
pub struct Accounts {
    index: IdTable,
    list: Vec<Account>,
    /// The place of the broker of the account at each place.
    broker_at: Vec<u32>,
    /// Each broker's place, by broker id: its order among the brokers of
    /// the accounts opened.
    broker_places: IdTable,
    /// Brokers placed.
    brokers: u32,
    /// Row `at` is the holdings of the account at place `at`, one per
    /// instrument in instrument order.
    holdings: Vec<Holding>,
    /// Instruments listed: the length of each row.
    instruments: usize,
    /// The market's totals: every account's cash together, in fen, and
    /// each instrument's allowances held together, in tonnes. Trades only
    /// move cash and allowances between accounts; deposits, withdrawals
    /// and transfers change these ([`Accounts::count_cash`],
    /// [`Accounts::count_held`]), so that they can be bounded (ADMIN.md,
    /// 108) without a sum over every account.
    totals: Box<Totals>,
}

/// The market's totals, out of line: only admin commands read them, and
/// an `i128` in [`Accounts`] itself aligns it, and the engine around it, to
/// 16 bytes, which cost the order path 1.1% more instructions (callgrind,
/// `apply_count quantcup 4`: 50,998,139 against 50,354,779 boxed).
#[derive(Clone, Debug, Default)]
struct Totals {
    /// Every account's cash, in fen.
    fen: i128,
    /// Each instrument's allowances held, in tonnes, by instrument.
    t: Vec<u128>,
}

impl Default for Accounts {
    fn default() -> Self {
        Self {
            index: IdTable::new(NO_ACCOUNT),
            list: Vec::new(),
            broker_at: Vec::new(),
            broker_places: IdTable::new(NO_BROKER),
            brokers: 0,
            holdings: Vec::new(),
            instruments: 0,
            totals: Box::default(),
        }
    }
}

impl Accounts {
    /// The account with this id.
    #[must_use]
    pub fn get(&self, id: AccountId) -> Option<&Account> {
        self.locate(id).map(|at| &self.list[at as usize])
    }

    pub(crate) fn get_mut(&mut self, id: AccountId) -> Option<&mut Account> {
        self.locate(id).map(|at| &mut self.list[at as usize])
    }

    /// The account with this id and its holding of `instrument`.
    ///
    /// # Panics
    /// If the instrument is not listed.
    pub(crate) fn get_with_holding(
        &self,
        id: AccountId,
        instrument: InstrumentId,
    ) -> Option<(&Account, &Holding)> {
        self.locate(id).map(|at| self.with_holding(at, instrument))
    }

    /// The account with this id and its holding of `instrument`, both
    /// mutable.
    ///
    /// # Panics
    /// If the instrument is not listed.
    pub(crate) fn get_with_holding_mut(
        &mut self,
        id: AccountId,
        instrument: InstrumentId,
    ) -> Option<(&mut Account, &mut Holding)> {
        self.locate(id)
            .map(|at| self.with_holding_mut(at, instrument))
    }

    /// The holdings of the account with this id, one per instrument in
    /// instrument order.
    #[must_use]
    pub fn holdings_of(&self, id: AccountId) -> Option<&[Holding]> {
        self.locate(id).map(|at| self.holdings_at(at))
    }

    /// Where the account with this id is kept. Resting orders remember it,
    /// so that a cancel or a fill reaches its account without a lookup.
    #[inline]
    pub(crate) fn locate(&self, id: AccountId) -> Option<u32> {
        Some(self.index.get(id.0)).filter(|&at| at != NO_ACCOUNT)
    }

    /// The account kept at a place [`Accounts::locate`] returned.
    #[inline]
    pub(crate) fn at(&self, at: u32) -> &Account {
        &self.list[at as usize]
    }

    /// The place of the broker of the account at `at`: below
    /// [`Accounts::brokers`].
    #[inline(always)]
    pub(crate) fn broker_at(&self, at: u32) -> u32 {
        self.broker_at[at as usize]
    }

    /// Where `broker` is kept, if an account of it was opened.
    pub(crate) fn broker_place(&self, broker: BrokerId) -> Option<u32> {
        Some(self.broker_places.get(broker.0)).filter(|&at| at != NO_BROKER)
    }

    /// Brokers with an account: their places are `0..brokers()`.
    pub(crate) const fn brokers(&self) -> u32 {
        self.brokers
    }

    /// The holdings of the account at a place [`Accounts::locate`]
    /// returned: its row of the table.
    pub(crate) fn holdings_at(&self, at: u32) -> &[Holding] {
        let row = at as usize * self.instruments;
        &self.holdings[row..row + self.instruments]
    }

    /// Where in the table the account at `at` holds `instrument`.
    ///
    /// # Panics
    /// If the instrument is not listed: its cell would be another
    /// account's. Callers check the instrument first.
    #[inline(always)]
    fn cell(&self, at: u32, instrument: InstrumentId) -> usize {
        let i = usize::from(instrument.0);
        assert!(i < self.instruments, "instrument {i} is not listed");
        at as usize * self.instruments + i
    }

    /// The holding of `instrument` of the account at `at`.
    #[inline(always)]
    pub(crate) fn holding(&self, at: u32, instrument: InstrumentId) -> &Holding {
        &self.holdings[self.cell(at, instrument)]
    }

    /// The account at `at` and its holding of `instrument`: what a
    /// pre-trade check reads.
    #[inline(always)]
    pub(crate) fn with_holding(&self, at: u32, instrument: InstrumentId) -> (&Account, &Holding) {
        (self.at(at), self.holding(at, instrument))
    }

    /// The account at `at` and its holding of `instrument`, both mutable:
    /// what an order's reservation changes.
    #[inline(always)]
    pub(crate) fn with_holding_mut(
        &mut self,
        at: u32,
        instrument: InstrumentId,
    ) -> (&mut Account, &mut Holding) {
        let cell = self.cell(at, instrument);
        (&mut self.list[at as usize], &mut self.holdings[cell])
    }

    /// Two different accounts at once, each with its holding of
    /// `instrument`, for the two sides of a trade.
    ///
    /// # Panics
    /// If `a` and `b` are the same place (self-trade prevention rules that
    /// out for a trade), or if the instrument is not listed.
    #[inline]
    pub(crate) fn pair_at_mut(
        &mut self,
        a: u32,
        b: u32,
        instrument: InstrumentId,
    ) -> [(&mut Account, &mut Holding); 2] {
        let cells = [self.cell(a, instrument), self.cell(b, instrument)];
        let [account_a, account_b] = self
            .list
            .get_disjoint_mut([a as usize, b as usize])
            .expect("the two accounts of a trade differ");
        let [holding_a, holding_b] = self
            .holdings
            .get_disjoint_mut(cells)
            .expect("the two accounts of a trade differ");
        [(account_a, holding_a), (account_b, holding_b)]
    }

    /// Every account, in the order opened.
    pub fn iter(&self) -> impl Iterator<Item = &Account> {
        self.list.iter()
    }

    /// Every account with its holdings, in the order opened.
    pub fn iter_with_holdings(&self) -> impl Iterator<Item = (&Account, &[Holding])> {
        self.list
            .iter()
            .zip(0..)
            .map(|(account, at)| (account, self.holdings_at(at)))
    }

    /// Frees every allowance bought today (T+1): the next trading day has
    /// begun.
    pub(crate) fn unlock_bought_today(&mut self) {
        for holding in &mut self.holdings {
            holding.locked_t = 0;
        }
    }

    /// Gives every account an empty holding of a newly listed instrument,
    /// at the end of its row. Every row moves, so the table is laid out
    /// anew.
    pub(crate) fn list_instrument(&mut self) {
        let width = self.instruments;
        let mut holdings = Vec::with_capacity(self.list.len() * (width + 1));
        for row in 0..self.list.len() {
            holdings.extend_from_slice(&self.holdings[row * width..(row + 1) * width]);
            holdings.push(Holding::default());
        }
        self.holdings = holdings;
        self.instruments = width + 1;
        self.totals.t.push(0);
    }

    /// Every account's cash together, in fen.
    pub(crate) const fn market_fen(&self) -> i128 {
        self.totals.fen
    }

    /// Every account's allowances of instrument `i` together, in tonnes.
    pub(crate) fn market_t(&self, i: usize) -> u128 {
        self.totals.t[i]
    }

    /// Counts cash paid into the market (`fen` > 0) or out of it.
    pub(crate) fn count_cash(&mut self, fen: i64) {
        self.totals.fen += i128::from(fen);
    }

    /// Counts allowances of instrument `i` credited into the market
    /// (`credit`) or debited out of it.
    pub(crate) fn count_held(&mut self, i: usize, credit: bool, quantity_t: u64) {
        let total = &mut self.totals.t[i];
        if credit {
            *total += u128::from(quantity_t);
        } else {
            *total -= u128::from(quantity_t);
        }
    }

    /// Opens an account with nothing in it. Returns `false` if the id is taken.
    pub(crate) fn open(
        &mut self,
        id: AccountId,
        participant: ParticipantType,
        broker: BrokerId,
    ) -> bool {
        let account = Account {
            id,
            participant,
            broker,
            cash_fen: 0,
            reserved_fen: 0,
        };
        self.restore(account, None)
    }

    /// Puts back an account as it was, with its holdings (one per
    /// instrument), or with empty holdings when `holdings` is `None`.
    /// Returns `false` if the id is taken, if `holdings` is not one per
    /// instrument, or (beyond any real market) if every place of a `u32`
    /// is taken.
    pub(crate) fn restore(&mut self, account: Account, holdings: Option<&[Holding]>) -> bool {
        if holdings.is_some_and(|h| h.len() != self.instruments) {
            return false;
        }
        let Ok(at) = u32::try_from(self.list.len()) else {
            return false;
        };
        let place = self.index.entry(account.id.0);
        if *place != NO_ACCOUNT || at == NO_ACCOUNT {
            return false;
        }
        *place = at;
        let broker = self.broker_places.entry(account.broker.0);
        if *broker == NO_BROKER {
            *broker = self.brokers;
            self.brokers += 1;
        }
        self.broker_at.push(*broker);
        self.totals.fen += i128::from(account.cash_fen);
        self.list.push(account);
        match holdings {
            Some(holdings) => {
                for (total, h) in self.totals.t.iter_mut().zip(holdings) {
                    *total += u128::from(h.balance_t);
                }
                self.holdings.extend_from_slice(holdings);
            }
            None => {
                let len = self.holdings.len() + self.instruments;
                self.holdings.resize(len, Holding::default());
            }
        }
        true
    }

    /// Number of accounts.
    #[must_use]
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are no accounts.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Panics unless every account's cash ([`Account::check_invariants`])
    /// and every holding are consistent: nothing reserved or locked beyond
    /// what is held.
    ///
    /// # Panics
    /// When a balance is broken; the message names the account and the
    /// instrument.
    pub fn check_invariants(&self) {
        assert_eq!(
            self.holdings.len(),
            self.list.len() * self.instruments,
            "one holding per account and instrument"
        );
        let cash: i128 = self.list.iter().map(|a| i128::from(a.cash_fen)).sum();
        assert_eq!(self.totals.fen, cash, "the market's cash");
        for (i, total) in self.totals.t.iter().enumerate() {
            let held: u128 = (0..self.list.len())
                .map(|at| u128::from(self.holdings[at * self.instruments + i].balance_t))
                .sum();
            assert_eq!(*total, held, "the market's allowances of instrument {i}");
        }
        for (account, holdings) in self.iter_with_holdings() {
            account.check_invariants();
            for (i, h) in holdings.iter().enumerate() {
                assert!(
                    h.reserved_t
                        .checked_add(h.locked_t)
                        .is_some_and(|t| t <= h.balance_t),
                    "{:?}: instrument {i} reserves {} t and locks {} t of {} t",
                    account.id,
                    h.reserved_t,
                    h.locked_t,
                    h.balance_t
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CEA: InstrumentId = InstrumentId(0);
    const CCER: InstrumentId = InstrumentId(1);

    fn opened(ids: &[u32]) -> Accounts {
        let mut accounts = Accounts::default();
        accounts.list_instrument();
        for &id in ids {
            assert!(accounts.open(AccountId(id), ParticipantType::Institution, BrokerId(1)));
        }
        accounts
    }

    #[test]
    fn listing_an_instrument_keeps_every_holding_in_its_row() {
        let mut accounts = opened(&[7, 3, 9]);
        for (at, balance_t) in [(0, 70), (1, 30), (2, 90)] {
            accounts.with_holding_mut(at, CEA).1.balance_t = balance_t;
        }
        accounts.list_instrument();
        accounts.with_holding_mut(1, CCER).1.reserved_t = 5;
        for (id, cea_t) in [(7, 70), (3, 30), (9, 90)] {
            let row = accounts.holdings_of(AccountId(id)).unwrap();
            assert_eq!(row.len(), 2);
            assert_eq!(row[0].balance_t, cea_t);
            let ccer_reserved_t = if id == 3 { 5 } else { 0 };
            assert_eq!(row[1].reserved_t, ccer_reserved_t);
        }
        assert!(accounts.open(AccountId(1), ParticipantType::Individual, BrokerId(2)));
        assert_eq!(
            accounts.holdings_of(AccountId(1)),
            Some(&[Holding::default(); 2][..])
        );
    }

    #[test]
    fn the_two_sides_of_a_trade_get_their_own_account_and_holding() {
        let mut accounts = opened(&[1, 2]);
        accounts.list_instrument();
        let [(buyer, bought), (seller, sold)] = accounts.pair_at_mut(1, 0, CCER);
        buyer.cash_fen = -10;
        bought.balance_t = 1;
        seller.cash_fen = 10;
        sold.balance_t = 4;
        assert_eq!(accounts.get(AccountId(2)).unwrap().cash_fen, -10);
        assert_eq!(accounts.holdings_of(AccountId(2)).unwrap()[1].balance_t, 1);
        assert_eq!(accounts.holdings_of(AccountId(1)).unwrap()[1].balance_t, 4);
        assert_eq!(
            accounts.holdings_of(AccountId(1)).unwrap()[0],
            Holding::default()
        );
    }

    #[test]
    fn a_restored_account_needs_one_holding_per_instrument() {
        let mut accounts = opened(&[]);
        let account = Account {
            id: AccountId(4),
            participant: ParticipantType::ComplianceEntity,
            broker: BrokerId(1),
            cash_fen: 0,
            reserved_fen: 0,
        };
        assert!(!accounts.restore(account.clone(), Some(&[])));
        assert!(accounts.is_empty());
        assert!(accounts.restore(account, Some(&[Holding::default()])));
        accounts.check_invariants();
    }
}
