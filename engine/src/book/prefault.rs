//! Touching a book's memory up front, so that the hot path never waits for
//! the kernel to map a page.
//!
//! A book claims its slab for `max_orders` orders when it is made, but the
//! kernel maps each page only when it is first written: without this, the
//! first order to land in each new 4 KiB of the slab pays a minor page
//! fault (about a microsecond) inside `Engine::apply`. The id index ring
//! and the ladders are filled when they are made, so they are mapped
//! already; the per-member counts are sized to the accounts and brokers
//! that exist.
//! [`Engine::prefault`] does this for every book; the server calls it once
//! at start-up, after recovery. Memory per book, all of it resident after
//! this (docs/CONFIG.md):
//!
//! - slab: `size_of::<Slot>()` (32 bytes, half a cache line) × `max_orders`;
//! - id index ring: 4 bytes × `max_orders` × 2, rounded up to a power of two;
//! - ladders: 2 × 24 bytes × the band's price levels, plus their bitsets;
//! - member counts: 12 bytes per account, and 16 KiB per block of 4,096
//!   broker ids in use.

use super::{Book, Slot, NIL};
use crate::account::Accounts;
use crate::engine::Engine;
use crate::order::OrderId;

const _: () = assert!(
    size_of::<Slot>() == 32,
    "the memory figures above and in CONFIG.md"
);

/// Slots written apart: less than a page apart, so every page of the
/// slab holds the start of one.
const SLOTS_PER_PAGE: usize = 4096 / size_of::<Slot>();

/// What unused slab room is written with: a free slot, linked to nothing.
const UNUSED: Slot = Slot {
    order_id: OrderId(0),
    quantity_t: 0,
    account_at: NIL,
    place: NIL,
    prev: NIL,
    next: NIL,
};

impl Book {
    /// Writes every page of the slab's room and sizes the per-member
    /// counts for `accounts` accounts and their brokers, changing nothing
    /// the book holds.
    pub(crate) fn prefault(&mut self, accounts: &Accounts) {
        // One slot written per 4,096 bytes maps every page without pulling
        // the whole slab through the cache; the last slot covers the end.
        let room = self.slots.spare_capacity_mut();
        for slot in room.iter_mut().step_by(SLOTS_PER_PAGE) {
            slot.write(UNUSED);
        }
        if let Some(last) = room.last_mut() {
            last.write(UNUSED);
        }
        self.members
            .reserve(accounts.len(), accounts.brokers() as usize);
    }
}

impl Engine {
    /// Maps every page the books may use up to their configured capacity
    /// (see the module docs), so that no order waits for a page fault.
    /// Idempotent; it takes a few milliseconds per book of 2^18 orders
    /// and makes the slab (8 MiB there) resident. The accounts and their
    /// table of holdings need nothing here: every cell is written when its
    /// account opens (or the engine is cloned or restored), and orders
    /// reach no cell beyond them.
    pub fn prefault(&mut self) {
        for book in &mut self.books {
            book.prefault(&self.accounts);
        }
    }
}
