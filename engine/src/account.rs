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

mod index;

use serde::{Deserialize, Serialize};

use crate::order::AccountId;

pub(crate) use index::IdTable;

/// Marks an id with no account in [`Accounts`]' index.
const NO_ACCOUNT: u32 = u32::MAX;

/// Identifies a broker (an exchange member that connects and acts for its
/// client accounts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BrokerId(pub u32);

/// The kind of participant an account belongs to; instruments list which
/// kinds may trade them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum ParticipantType {
    /// A key emitting entity (重点排放单位) with a compliance obligation.
    ComplianceEntity = 0,
    /// An institution: a legal person or organisation without an obligation.
    Institution = 1,
    /// A natural person.
    Individual = 2,
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

/// A trading account.
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
    /// One holding per instrument, indexed by instrument id.
    pub holdings: Vec<Holding>,
}

impl Account {
    /// Cash that a new buy order or a withdrawal may use now, in fen.
    #[must_use]
    pub const fn available_fen(&self) -> i64 {
        self.cash_fen - self.reserved_fen
    }

    /// Panics unless every balance is consistent: nothing negative, nothing
    /// reserved beyond what is held.
    ///
    /// # Panics
    /// When a balance is broken; the message names the account.
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
        for (i, h) in self.holdings.iter().enumerate() {
            assert!(
                h.reserved_t + h.locked_t <= h.balance_t,
                "{:?}: instrument {i} reserves {} t and locks {} t of {} t",
                self.id,
                h.reserved_t,
                h.locked_t,
                h.balance_t
            );
        }
    }
}

/// All accounts, in the order they were opened.
///
/// Each account is kept at a dense place, its position in the order
/// opened, which resting orders remember; an order's account id finds its
/// place through an `IdTable`, a direct lookup by the id's bits rather
/// than a hash.
#[derive(Clone, Debug)]
pub struct Accounts {
    index: IdTable,
    list: Vec<Account>,
}

impl Default for Accounts {
    fn default() -> Self {
        Self {
            index: IdTable::new(NO_ACCOUNT),
            list: Vec::new(),
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

    /// Where the account with this id is kept. Resting orders remember it,
    /// so that a cancel or a fill reaches its account without a lookup.
    pub(crate) fn locate(&self, id: AccountId) -> Option<u32> {
        Some(self.index.get(id.0)).filter(|&at| at != NO_ACCOUNT)
    }

    /// The account kept at a place [`Accounts::locate`] returned.
    pub(crate) fn at(&self, at: u32) -> &Account {
        &self.list[at as usize]
    }

    /// The account kept at a place [`Accounts::locate`] returned.
    pub(crate) fn at_mut(&mut self, at: u32) -> &mut Account {
        &mut self.list[at as usize]
    }

    /// Two different accounts at once, for the two sides of a trade.
    ///
    /// # Panics
    /// If `a` and `b` are the same place: self-trade prevention rules that
    /// out for a trade.
    pub(crate) fn pair_at_mut(&mut self, a: u32, b: u32) -> [&mut Account; 2] {
        self.list
            .get_disjoint_mut([a as usize, b as usize])
            .expect("the two accounts of a trade differ")
    }

    /// Every account, in the order opened.
    pub fn iter(&self) -> impl Iterator<Item = &Account> {
        self.list.iter()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Account> {
        self.list.iter_mut()
    }

    /// Opens an account with nothing in it. Returns `false` if the id is taken.
    pub(crate) fn open(
        &mut self,
        id: AccountId,
        participant: ParticipantType,
        broker: BrokerId,
        instruments: usize,
    ) -> bool {
        self.restore(Account {
            id,
            participant,
            broker,
            cash_fen: 0,
            reserved_fen: 0,
            holdings: vec![Holding::default(); instruments],
        })
    }

    /// Puts back an account as it was. Returns `false` if the id is taken
    /// (or, beyond any real market, every place of a `u32` is).
    pub(crate) fn restore(&mut self, account: Account) -> bool {
        let Ok(at) = u32::try_from(self.list.len()) else {
            return false;
        };
        let place = self.index.entry(account.id.0);
        if *place != NO_ACCOUNT || at == NO_ACCOUNT {
            return false;
        }
        *place = at;
        self.list.push(account);
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
}
