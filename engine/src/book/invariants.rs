//! The book's structural invariants, checked after every step in tests.

use super::{Book, NIL};

impl Book {
    /// Checks every structural invariant and panics, naming the first broken
    /// one. Tests call it after every step.
    ///
    /// # Panics
    /// When the book is inconsistent: crossed, a level total or count that
    /// does not add up, a broken FIFO link, a stale index entry or
    /// occupied bit, a wrong cached best, or a lost slot.
    pub fn check_invariants(&self) {
        let mut reachable = 0usize;
        for ladder in [&self.bids, &self.asks] {
            let mut best = NIL;
            for (level, l) in ladder.levels.iter().enumerate() {
                let level = level as u32;
                assert_eq!(
                    ladder.is_occupied(level),
                    l.count > 0,
                    "occupied bit of {:?} level {level} disagrees with its count",
                    ladder.side
                );
                let (mut count, mut total, mut prev, mut slot) = (0u32, 0u64, NIL, l.head);
                while slot != NIL {
                    let s = &self.slots[slot as usize];
                    assert_eq!(
                        s.level(),
                        level,
                        "slot {slot} is linked into the wrong level"
                    );
                    assert_eq!(s.side(), ladder.side, "slot {slot} is on the wrong side");
                    assert_eq!(s.prev, prev, "slot {slot} has a broken back link");
                    assert!(s.quantity_t > 0, "slot {slot} rests with zero quantity");
                    assert_eq!(
                        self.index.get(s.order_id, &self.slots),
                        Some(slot),
                        "index does not point at slot {slot}"
                    );
                    count += 1;
                    total += s.quantity_t;
                    prev = slot;
                    slot = s.next;
                }
                assert_eq!(
                    l.tail, prev,
                    "tail of {:?} level {level} is stale",
                    ladder.side
                );
                assert_eq!(l.count, count, "count of {:?} level {level}", ladder.side);
                assert_eq!(l.total_t, total, "total of {:?} level {level}", ladder.side);
                if count > 0 && (best == NIL || ladder.better(level, best)) {
                    best = level;
                }
                reachable += count as usize;
            }
            assert_eq!(
                ladder.best, best,
                "cached best of {:?} is stale",
                ladder.side
            );
        }
        assert_eq!(
            reachable, self.live as usize,
            "live count disagrees with levels"
        );
        assert_eq!(
            self.index.len(),
            self.live as usize,
            "index holds stale ids"
        );
        let mut free = 0usize;
        let mut slot = self.free_head;
        while slot != NIL {
            assert_eq!(
                self.slots[slot as usize].place, NIL,
                "free slot {slot} is linked"
            );
            free += 1;
            slot = self.slots[slot as usize].next;
        }
        assert_eq!(free + reachable, self.slots.len(), "slots leaked");
        assert!(
            self.slots.len() <= self.max_orders as usize,
            "slab outgrew its limit"
        );
        if let (Some(bid), Some(ask)) = (self.best_bid(), self.best_ask()) {
            assert!(
                bid.price_ticks < ask.price_ticks,
                "book crossed: bid {} >= ask {}",
                bid.price_ticks,
                ask.price_ticks
            );
        }
    }
}
