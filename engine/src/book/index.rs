//! The book's order id → slot index, without hashing on the hot path.
//!
//! Order ids only grow (the engine refuses an id that is not above every id
//! before it), so the orders resting in a book mostly have recent ids. The
//! index is a ring of slots, direct-mapped by the id's low bits: `ring[id
//! mod R]` is the slot of the resting order with that id, if any, and the
//! slab's copy of the id tells it apart from ids `R` apart. `R` is a power
//! of two at least twice the book's `max_orders`, so a resting order keeps
//! its place until `R` newer ids have been handed out; an order that is
//! still resting then moves, when the newer id takes its place, to an
//! overflow map. A lookup is a mask, a load and a compare of the slab's id;
//! the map is read only when it is not empty.
//!
//! Memory, claimed when the book is made: the ring, 4 bytes × `R` (2 MiB for
//! the default 2^18 orders), filled at once, so its pages never fault on
//! the hot path; the overflow map, with room for twice `max_orders` ids,
//! claimed the first time an order outlives `R` ids (about 68 bytes ×
//! `max_orders` of address space, of which 4 bytes × `max_orders` are
//! touched at once and the rest as it fills). So the index allocates at most
//! once after the book is made, and never in steady state.

use rustc_hash::FxHashMap;

use super::{Slot, NIL};
use crate::order::OrderId;

/// Order id → slot of every resting order of one book.
#[derive(Clone, Debug)]
pub(crate) struct OrderIndex {
    /// `ring[id & mask]`: the slot of the resting order with that id, or
    /// `NIL`. Its order's id, in the slab, has those low bits.
    ring: Box<[u32]>,
    mask: u64,
    /// Resting orders whose ring place a newer id took.
    overflow: FxHashMap<OrderId, u32>,
    /// Most ids the book may hold.
    max_orders: usize,
    len: usize,
}

impl OrderIndex {
    /// An empty index for a book of at most `max_orders` resting orders.
    pub(crate) fn new(max_orders: u32) -> Self {
        let places = (2 * max_orders as usize).next_power_of_two();
        Self {
            ring: vec![NIL; places].into_boxed_slice(),
            mask: places as u64 - 1,
            overflow: FxHashMap::default(),
            max_orders: max_orders as usize,
            len: 0,
        }
    }

    /// Number of ids in the index.
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    const fn place(&self, order_id: OrderId) -> usize {
        (order_id.0 & self.mask) as usize
    }

    /// The slot of a resting id.
    #[inline]
    pub(crate) fn get(&self, order_id: OrderId, slots: &[Slot]) -> Option<u32> {
        let slot = self.ring[self.place(order_id)];
        if slot != NIL && slots[slot as usize].order_id == order_id {
            return Some(slot);
        }
        if self.overflow.is_empty() {
            return None;
        }
        self.overflow.get(&order_id).copied()
    }

    /// Records that `order_id` rests in `slot`. `slots` is the slab, which
    /// already holds the order.
    #[inline(always)]
    pub(crate) fn insert(&mut self, order_id: OrderId, slot: u32, slots: &[Slot]) {
        let place = self.place(order_id);
        let older = std::mem::replace(&mut self.ring[place], slot);
        if older != NIL {
            self.insert_overflow(older, slots);
        }
        self.len += 1;
    }

    /// Moves the order in slot `older`, whose ring place a newer id took,
    /// to the overflow map.
    #[cold]
    fn insert_overflow(&mut self, older: u32, slots: &[Slot]) {
        if self.overflow.capacity() == 0 {
            // Twice the most it can hold: with half its room free,
            // hashbrown clears deleted entries in place instead of
            // growing.
            self.overflow.reserve(2 * self.max_orders);
        }
        let older_id = slots[older as usize].order_id;
        let previous = self.overflow.insert(older_id, older);
        debug_assert!(previous.is_none(), "{older_id:?} indexed twice");
    }

    /// Forgets `order_id`, which the index holds at `slot`: the caller
    /// knows the slot, so the ring needs no look at the slab.
    #[inline(always)]
    pub(crate) fn forget(&mut self, order_id: OrderId, slot: u32) {
        let place = self.place(order_id);
        if self.ring[place] == slot {
            self.ring[place] = NIL;
            self.len -= 1;
        } else {
            self.forget_overflow(order_id, slot);
        }
    }

    /// [`OrderIndex::forget`] of an order that outlived its ring place.
    #[cold]
    fn forget_overflow(&mut self, order_id: OrderId, slot: u32) {
        let forgotten = self.overflow.remove(&order_id);
        debug_assert_eq!(forgotten, Some(slot), "{order_id:?} was not indexed");
        self.len -= 1;
    }

    /// Forgets every id, keeping the memory.
    pub(crate) fn clear(&mut self) {
        self.ring.fill(NIL);
        self.overflow.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(order_id: u64) -> Slot {
        Slot {
            order_id: OrderId(order_id),
            quantity_t: 1,
            account_at: 0,
            place: 0,
            prev: NIL,
            next: NIL,
        }
    }

    #[test]
    fn an_order_that_outlives_the_ring_is_still_found() {
        // Room for 4 orders: a ring of 8 places.
        let mut index = OrderIndex::new(4);
        let mut slots = vec![slot(3), slot(11)];
        index.insert(OrderId(3), 0, &slots);
        assert_eq!(index.get(OrderId(3), &slots), Some(0));
        // Id 11 takes id 3's place; 3 moves to the overflow map.
        index.insert(OrderId(11), 1, &slots);
        assert_eq!(index.len(), 2);
        assert_eq!(index.get(OrderId(3), &slots), Some(0));
        assert_eq!(index.get(OrderId(11), &slots), Some(1));
        for absent in [0, 2, 19, 27, u64::MAX] {
            assert_eq!(index.get(OrderId(absent), &slots), None, "{absent}");
        }
        index.forget(OrderId(3), 0);
        assert_eq!(index.get(OrderId(3), &slots), None);
        index.forget(OrderId(11), 1);
        assert_eq!(index.len(), 0);
        // A freed slot reused by a newer id is not mistaken for the old one.
        slots[1] = slot(19);
        index.insert(OrderId(19), 1, &slots);
        assert_eq!(index.get(OrderId(11), &slots), None);
        assert_eq!(index.get(OrderId(19), &slots), Some(1));
        index.clear();
        assert_eq!((index.len(), index.get(OrderId(19), &slots)), (0, None));
    }

    #[test]
    fn an_order_is_forgotten_by_its_slot_in_the_ring_or_the_overflow() {
        let mut index = OrderIndex::new(4);
        // Ids 3 and 11 share a ring place: 3 moves to the overflow.
        let slots = vec![slot(3), slot(11), slot(4)];
        for at in 0..3 {
            index.insert(slots[at as usize].order_id, at, &slots);
        }
        index.forget(OrderId(3), 0);
        assert_eq!(index.get(OrderId(3), &slots), None);
        assert_eq!(index.get(OrderId(11), &slots), Some(1));
        index.forget(OrderId(11), 1);
        assert_eq!(index.get(OrderId(11), &slots), None);
        assert_eq!((index.len(), index.get(OrderId(4), &slots)), (1, Some(2)));
    }
}
