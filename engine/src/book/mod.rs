//! The order book of one instrument: resting orders by price and time.
//!
//! Prices live inside today's band, so each side is a dense ladder of price
//! levels indexed by tick offset from the band floor. Orders live in a slab
//! preallocated to the configured maximum; each level keeps an intrusive FIFO
//! (a doubly linked list through the slab), so a cancel unlinks in O(1). An
//! id → slot index, a ring direct-mapped by the id's low bits (ids only
//! grow), finds an order by id without hashing, and a bitset of occupied
//! levels with a cached best level per side finds the next price in a few
//! word scans.
//!
//! The book has one writer, the engine thread, and needs no lock. The slab,
//! the ladders and the id index are sized from config up front (the index's
//! overflow map when it is first needed), so in steady state the book never
//! allocates.
//!
//! Matching lives in `crate::matching`. Here: the book and its slab
//! (`mod.rs`), one side's ladder of levels (`ladder.rs`), the id index
//! (`index.rs`), the per-member counts (`members.rs`), touching the memory
//! up front (`prefault.rs`, [`crate::Engine::prefault`]), and the check of
//! every structural invariant (`invariants.rs`).

mod index;
mod invariants;
mod ladder;
mod members;
mod prefault;

pub(crate) use ladder::Ladder;

use crate::instrument::{InstrumentId, PriceRules};
use crate::order::{AccountId, OrderId, Side};

/// Marks "no slot" in the intrusive lists and "empty" for a best level.
pub(crate) const NIL: u32 = u32::MAX;

/// A resting order as stored in the slab.
///
/// Half a cache line, aligned to it, so that a cancel or a fill, which
/// reads the whole slot, reads one line, and a line holds two slots. What
/// an order needs besides is reached through where its account is kept:
/// the account id and broker in the book's member counts
/// ([`members::Members`]), the account's cash and holdings in
/// [`crate::account::Accounts`]. Time priority is the order of the level's
/// list; nothing else records it.
#[derive(Clone, Copy, Debug)]
#[repr(align(32))]
pub(crate) struct Slot {
    pub(crate) order_id: OrderId,
    pub(crate) quantity_t: u64,
    /// Where the account is kept in [`crate::account::Accounts`]; unique
    /// per account, so it also tells two orders' accounts apart.
    pub(crate) account_at: u32,
    /// The level index, with [`SELL`] set for an ask; `NIL` for a free
    /// slot.
    pub(crate) place: u32,
    pub(crate) prev: u32,
    /// Next slot in the level's FIFO, or in the free list for a free slot.
    pub(crate) next: u32,
}

const _: () = assert!(size_of::<Slot>() == 32);

/// The bit of [`Slot::place`] that marks an ask. Levels stay far below it:
/// a ladder has at most [`crate::instrument::MAX_PRICE_LEVELS`] of them.
const SELL: u32 = 1 << 31;

const _: () = assert!(crate::instrument::MAX_PRICE_LEVELS < SELL);

impl Slot {
    /// The place of a resting order at `level` on `side`.
    #[inline]
    const fn place(level: u32, side: Side) -> u32 {
        match side {
            Side::Buy => level,
            Side::Sell => level | SELL,
        }
    }

    /// Its level index on its side.
    #[inline]
    pub(crate) const fn level(&self) -> u32 {
        self.place & !SELL
    }

    /// Its side.
    #[inline]
    pub(crate) const fn side(&self) -> Side {
        if self.place & SELL == 0 {
            Side::Buy
        } else {
            Side::Sell
        }
    }
}

/// A resting order, as seen from outside the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestingOrder {
    /// The order.
    pub order_id: OrderId,
    /// Its account.
    pub account: AccountId,
    /// Its side.
    pub side: Side,
    /// Its price in ticks.
    pub price_ticks: i64,
    /// Its open quantity in tonnes.
    pub quantity_t: u64,
}

/// One price level, as seen from outside the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelView {
    /// Price in ticks.
    pub price_ticks: i64,
    /// Total open quantity at this price, in tonnes.
    pub quantity_t: u64,
    /// Number of orders at this price.
    pub orders: u32,
}

/// The order book of one instrument.
#[derive(Debug)]
pub struct Book {
    instrument: InstrumentId,
    pub(crate) rules: PriceRules,
    pub(crate) bids: Ladder,
    pub(crate) asks: Ladder,
    /// Every slot ever used; never longer than `max_orders`.
    pub(crate) slots: Vec<Slot>,
    max_orders: u32,
    /// Head of the list of released slots, reused before new ones.
    free_head: u32,
    live: u32,
    index: index::OrderIndex,
    /// Resting orders per account and per broker, and the account and
    /// broker kept at each account place.
    members: members::Members,
}

impl Clone for Book {
    /// A copy with the same room: the slab keeps its reservation of
    /// `max_orders`, so the copy does not allocate in steady state either.
    fn clone(&self) -> Self {
        let mut slots = Vec::with_capacity(self.max_orders as usize);
        slots.extend_from_slice(&self.slots);
        Self {
            instrument: self.instrument,
            rules: self.rules,
            bids: self.bids.clone(),
            asks: self.asks.clone(),
            slots,
            max_orders: self.max_orders,
            free_head: self.free_head,
            live: self.live,
            index: self.index.clone(),
            members: self.members.clone(),
        }
    }
}

impl Book {
    /// An empty book for `instrument` under `rules`, with room for
    /// `max_orders` resting orders.
    ///
    /// # Panics
    /// If `max_orders` is zero or `u32::MAX` (the spec check rules both out).
    #[must_use]
    pub fn new(instrument: InstrumentId, rules: PriceRules, max_orders: u32) -> Self {
        assert!(max_orders > 0 && max_orders < NIL);
        Self {
            instrument,
            rules,
            bids: Ladder::new(Side::Buy, rules.level_count()),
            asks: Ladder::new(Side::Sell, rules.level_count()),
            // Reserved, not filled: the memory is claimed now, so the book
            // never reallocates, but pages are touched only as orders arrive.
            slots: Vec::with_capacity(max_orders as usize),
            max_orders,
            free_head: NIL,
            live: 0,
            index: index::OrderIndex::new(max_orders),
            members: members::Members::default(),
        }
    }

    /// Moves an empty book to new rules (a new reference price and band),
    /// keeping its memory.
    ///
    /// # Panics
    /// If an order still rests.
    pub(crate) fn rebase(&mut self, rules: PriceRules) {
        assert!(self.is_empty(), "only an empty book moves its band");
        self.rules = rules;
        self.bids = Ladder::new(Side::Buy, rules.level_count());
        self.asks = Ladder::new(Side::Sell, rules.level_count());
        self.slots.clear();
        self.free_head = NIL;
        self.index.clear();
        self.members.clear();
    }

    /// The instrument this book trades.
    #[must_use]
    pub const fn instrument(&self) -> InstrumentId {
        self.instrument
    }

    /// The tick, lot, size and band rules orders are checked against.
    #[must_use]
    pub const fn rules(&self) -> &PriceRules {
        &self.rules
    }

    /// Number of resting orders.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.live as usize
    }

    /// Whether no order rests.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Most orders that may rest in the book.
    #[must_use]
    pub const fn max_orders(&self) -> u32 {
        self.max_orders
    }

    /// Orders resting for the account kept at `account_at`.
    #[inline]
    pub(crate) fn resting_of_account(&self, account_at: u32) -> u32 {
        self.members.of_account(account_at)
    }

    /// Orders resting for the accounts of the broker kept at `broker_at`
    /// ([`crate::account::Accounts::broker_at`]).
    #[inline]
    pub(crate) fn resting_of_broker(&self, broker_at: u32) -> u32 {
        self.members.of_broker(broker_at)
    }

    /// Whether the book holds as many orders as it may.
    #[must_use]
    pub const fn is_full(&self) -> bool {
        self.live == self.max_orders
    }

    /// The best bid: price in ticks and total quantity there.
    #[must_use]
    pub fn best_bid(&self) -> Option<LevelView> {
        self.level_view(&self.bids, self.bids.best)
    }

    /// The best ask: price in ticks and total quantity there.
    #[must_use]
    pub fn best_ask(&self) -> Option<LevelView> {
        self.level_view(&self.asks, self.asks.best)
    }

    /// The resting order with this id.
    #[must_use]
    pub fn order(&self, order_id: OrderId) -> Option<RestingOrder> {
        self.find(order_id).map(|(_, order)| order)
    }

    /// The slot and contents of the resting order with this id.
    pub(crate) fn find(&self, order_id: OrderId) -> Option<(u32, RestingOrder)> {
        let slot = self.index.get(order_id, &self.slots)?;
        Some((slot, self.resting(&self.slots[slot as usize])))
    }

    /// Levels of one side, best first.
    pub fn depth(&self, side: Side) -> impl Iterator<Item = LevelView> + '_ {
        let ladder = self.ladder(side);
        std::iter::successors(Some(ladder.best).filter(|&l| l != NIL), move |&l| {
            Some(ladder.next_worse(l)).filter(|&n| n != NIL)
        })
        .filter_map(move |level| self.level_view(ladder, level))
    }

    /// Orders of one side in priority order: best price first, then time.
    pub fn orders(&self, side: Side) -> impl Iterator<Item = RestingOrder> + '_ {
        let ladder = self.ladder(side);
        std::iter::successors(Some(ladder.best).filter(|&l| l != NIL), move |&l| {
            Some(ladder.next_worse(l)).filter(|&n| n != NIL)
        })
        .flat_map(move |level| {
            let head = ladder.levels[level as usize].head;
            std::iter::successors(Some(head).filter(|&s| s != NIL), move |&s| {
                Some(self.slots[s as usize].next).filter(|&n| n != NIL)
            })
            .map(move |slot| self.resting(&self.slots[slot as usize]))
        })
    }

    /// Price in ticks of a level index.
    #[inline]
    pub(crate) fn price_of(&self, level: u32) -> i64 {
        self.rules.floor_ticks + i64::from(level) * self.rules.step_ticks
    }

    /// Level index of a price that passed the tick and band checks.
    #[inline]
    pub(crate) fn level_of(&self, price_ticks: i64) -> u32 {
        debug_assert!(price_ticks >= self.rules.floor_ticks);
        debug_assert!(price_ticks <= self.rules.ceiling_ticks);
        let offset_ticks = price_ticks - self.rules.floor_ticks;
        // Most instruments trade in whole ticks: skip the division then
        // (a 64-bit divide costs more than the rest of an insert's
        // arithmetic together).
        let level = if self.rules.step_ticks == 1 {
            offset_ticks
        } else {
            offset_ticks / self.rules.step_ticks
        };
        level as u32
    }

    #[inline]
    pub(crate) fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn ladder_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn level_view(&self, ladder: &Ladder, level: u32) -> Option<LevelView> {
        (level != NIL).then(|| {
            let l = &ladder.levels[level as usize];
            LevelView {
                price_ticks: self.price_of(level),
                quantity_t: l.total_t,
                orders: l.count,
            }
        })
    }

    fn resting(&self, slot: &Slot) -> RestingOrder {
        RestingOrder {
            order_id: slot.order_id,
            account: self.members.account(slot.account_at),
            side: slot.side(),
            price_ticks: self.price_of(slot.level()),
            quantity_t: slot.quantity_t,
        }
    }

    /// The account kept at `account_at`, as the book saw it when one of
    /// its orders rested.
    #[inline]
    pub(crate) fn account_of(&self, account_at: u32) -> AccountId {
        self.members.account(account_at)
    }

    /// Puts an order at the back of its price level. Returns `false`, and
    /// changes nothing, when the book is full.
    pub(crate) fn insert(
        &mut self,
        order_id: OrderId,
        (account, account_at, broker_at): (AccountId, u32, u32),
        side: Side,
        price_ticks: i64,
        quantity_t: u64,
    ) -> bool {
        if self.is_full() {
            return false;
        }
        let level = self.level_of(price_ticks);
        let order = Slot {
            order_id,
            quantity_t,
            account_at,
            place: Slot::place(level, side),
            prev: NIL,
            next: NIL,
        };
        let slot = if self.free_head == NIL {
            self.slots.push(order);
            self.slots.len() as u32 - 1
        } else {
            let slot = self.free_head;
            self.free_head = self.slots[slot as usize].next;
            self.slots[slot as usize] = order;
            slot
        };
        self.live += 1;
        self.members.add(account_at, account, broker_at);
        self.index.insert(order_id, slot, &self.slots);
        self.link(slot, side, level, quantity_t);
        true
    }

    /// Appends a slot that already holds its order to the back of its level.
    fn link_tail(&mut self, slot: u32) {
        let s = self.slots[slot as usize];
        self.link(slot, s.side(), s.level(), s.quantity_t);
    }

    /// [`Book::link_tail`] of a slot whose side, level and quantity the
    /// caller already knows.
    #[inline(always)]
    fn link(&mut self, slot: u32, side: Side, level: u32, quantity_t: u64) {
        let ladder = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        let l = &mut ladder.levels[level as usize];
        let old_tail = l.tail;
        l.tail = slot;
        l.count += 1;
        l.total_t += quantity_t;
        if old_tail == NIL {
            l.head = slot;
            ladder.occupy(level);
        } else {
            self.slots[old_tail as usize].next = slot;
            self.slots[slot as usize].prev = old_tail;
        }
    }

    /// Takes a slot out of its level's FIFO, leaving it allocated.
    #[inline(always)]
    fn unlink(&mut self, slot: u32) {
        let s = self.slots[slot as usize];
        self.splice_out(slot, &s);
        let s = &mut self.slots[slot as usize];
        s.prev = NIL;
        s.next = NIL;
    }

    /// Takes `s`, the order in `slot`, out of its level's FIFO, leaving the
    /// slot's own links as they were.
    #[inline(always)]
    fn splice_out(&mut self, slot: u32, s: &Slot) {
        let (level, quantity_t, prev, next) = (s.level(), s.quantity_t, s.prev, s.next);
        if prev != NIL {
            self.slots[prev as usize].next = next;
        }
        if next != NIL {
            self.slots[next as usize].prev = prev;
        }
        let ladder = self.ladder_mut(s.side());
        let l = &mut ladder.levels[level as usize];
        if l.head == slot {
            l.head = next;
        }
        if l.tail == slot {
            l.tail = prev;
        }
        l.count -= 1;
        l.total_t -= quantity_t;
        if l.count == 0 {
            ladder.vacate(level);
        }
    }

    /// Returns an unlinked slot to the free list and forgets its id.
    #[inline(always)]
    pub(crate) fn release(&mut self, slot: u32) {
        self.index.forget(self.slots[slot as usize].order_id, slot);
        self.free(slot);
    }

    /// Returns an unlinked slot whose id is already forgotten to the free
    /// list.
    #[inline(always)]
    fn free(&mut self, slot: u32) {
        let account_at = self.slots[slot as usize].account_at;
        self.free_of(slot, account_at);
    }

    /// [`Book::free`] of a slot whose order's account is kept at
    /// `account_at`.
    #[inline(always)]
    fn free_of(&mut self, slot: u32, account_at: u32) {
        let s = &mut self.slots[slot as usize];
        s.place = NIL;
        s.quantity_t = 0;
        s.next = self.free_head;
        self.free_head = slot;
        self.live -= 1;
        self.members.remove(account_at);
    }

    /// Removes an order from the book entirely.
    #[inline(always)]
    pub(crate) fn remove(&mut self, slot: u32) {
        let s = self.slots[slot as usize];
        self.remove_read(slot, &s);
    }

    /// [`Book::remove`] of `s`, the order in `slot`, read already: the
    /// slot is not read again.
    #[inline(always)]
    fn remove_read(&mut self, slot: u32, s: &Slot) {
        self.splice_out(slot, s);
        self.index.forget(s.order_id, slot);
        self.free_of(slot, s.account_at);
    }

    /// [`Book::remove`] of the first order of `level` on the `side`
    /// ladder, the order matching fills first, when a trade fills all of
    /// its open `quantity_t`. Its place is known, so nothing is looked up
    /// but its successor.
    #[inline(always)]
    pub(crate) fn remove_head(&mut self, side: Side, level: u32, slot: u32, quantity_t: u64) {
        let next = self.slots[slot as usize].next;
        if next != NIL {
            self.slots[next as usize].prev = NIL;
        }
        let ladder = self.ladder_mut(side);
        let l = &mut ladder.levels[level as usize];
        debug_assert_eq!(l.head, slot);
        l.head = next;
        l.count -= 1;
        l.total_t -= quantity_t;
        if next == NIL {
            l.tail = NIL;
            ladder.vacate(level);
        }
        self.release(slot);
    }

    /// [`Book::reduce`] of the first order of `level` on the `side` ladder
    /// to `quantity_t`.
    #[inline(always)]
    pub(crate) fn reduce_head(&mut self, side: Side, level: u32, slot: u32, quantity_t: u64) {
        let s = &mut self.slots[slot as usize];
        let cut = s.quantity_t - quantity_t;
        s.quantity_t = quantity_t;
        self.ladder_mut(side).levels[level as usize].total_t -= cut;
    }

    /// The slot of the order with this id, if it rests here.
    #[inline]
    pub(crate) fn slot_of(&self, order_id: OrderId) -> Option<u32> {
        self.index.get(order_id, &self.slots)
    }

    /// Removes the order with this id and returns what it was and where its
    /// account is kept, or `None` when no such order rests.
    pub(crate) fn take(&mut self, order_id: OrderId) -> Option<(RestingOrder, u32)> {
        let slot = self.slot_of(order_id)?;
        Some(self.take_slot(slot))
    }

    /// Removes the order in `slot` and returns what it was and where its
    /// account is kept.
    #[inline(always)]
    pub(crate) fn take_slot(&mut self, slot: u32) -> (RestingOrder, u32) {
        let s = self.slots[slot as usize];
        let taken = (self.resting(&s), s.account_at);
        self.remove_read(slot, &s);
        taken
    }

    /// Where the account of the order in `slot` is kept.
    pub(crate) fn account_at(&self, slot: u32) -> u32 {
        self.slots[slot as usize].account_at
    }

    /// Lowers a resting order's quantity in place, keeping its priority.
    pub(crate) fn reduce(&mut self, slot: u32, quantity_t: u64) {
        let s = &mut self.slots[slot as usize];
        debug_assert!(quantity_t > 0 && quantity_t <= s.quantity_t);
        let cut = s.quantity_t - quantity_t;
        s.quantity_t = quantity_t;
        let (side, level) = (s.side(), s.level());
        self.ladder_mut(side).levels[level as usize].total_t -= cut;
    }

    /// Unlinks an order and gives it a new price and quantity, keeping its
    /// slot: the caller matches it and then rests it with
    /// [`Book::relink`] or releases it.
    pub(crate) fn detach(&mut self, slot: u32, price_ticks: i64, quantity_t: u64) {
        self.unlink(slot);
        let level = self.level_of(price_ticks);
        let s = &mut self.slots[slot as usize];
        s.place = Slot::place(level, s.side());
        s.quantity_t = quantity_t;
    }

    /// Rests a detached order at the back of its level, with new time
    /// priority.
    pub(crate) fn relink(&mut self, slot: u32, quantity_t: u64) {
        self.slots[slot as usize].quantity_t = quantity_t;
        self.link_tail(slot);
    }
}
