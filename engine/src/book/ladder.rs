//! One side of a book: a level per price in the band, a bitset of the
//! occupied levels, and the best one.

use super::NIL;
use crate::order::Side;

/// One price on one side: the FIFO of its orders and their total.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Level {
    pub(crate) head: u32,
    pub(crate) tail: u32,
    pub(crate) count: u32,
    pub(crate) total_t: u64,
}

impl Level {
    pub(crate) const EMPTY: Self = Self {
        head: NIL,
        tail: NIL,
        count: 0,
        total_t: 0,
    };
}

/// One side of the book: a level per price in the band, a bitset of the
/// occupied ones, and the best.
#[derive(Clone, Debug)]
pub(crate) struct Ladder {
    pub(crate) levels: Vec<Level>,
    occupied: Vec<u64>,
    /// Index of the best occupied level, or [`NIL`].
    pub(crate) best: u32,
    pub(crate) side: Side,
}

impl Ladder {
    pub(crate) fn new(side: Side, level_count: usize) -> Self {
        Self {
            levels: vec![Level::EMPTY; level_count],
            occupied: vec![0; level_count.div_ceil(64)],
            best: NIL,
            side,
        }
    }

    /// Whether level `a` is a better price than level `b` for this side.
    pub(crate) fn better(&self, a: u32, b: u32) -> bool {
        match self.side {
            Side::Buy => a > b,
            Side::Sell => a < b,
        }
    }

    /// Records that `level` now has orders.
    pub(crate) fn occupy(&mut self, level: u32) {
        self.occupied[level as usize / 64] |= 1 << (level % 64);
        if self.best == NIL || self.better(level, self.best) {
            self.best = level;
        }
    }

    /// Records that `level` is now empty, and moves the best on if it was.
    pub(crate) fn vacate(&mut self, level: u32) {
        self.occupied[level as usize / 64] &= !(1 << (level % 64));
        if level == self.best {
            self.best = self.next_worse(level);
        }
    }

    /// The best occupied level strictly worse than `level`, or [`NIL`].
    pub(crate) fn next_worse(&self, level: u32) -> u32 {
        match self.side {
            Side::Buy => self.occupied_below(level),
            Side::Sell => self.occupied_above(level),
        }
    }

    fn occupied_below(&self, level: u32) -> u32 {
        if level == 0 {
            return NIL;
        }
        let from = level - 1;
        let mut word = from as usize / 64;
        let mut bits = self.occupied[word] & (u64::MAX >> (63 - from % 64));
        loop {
            if bits != 0 {
                return word as u32 * 64 + 63 - bits.leading_zeros();
            }
            if word == 0 {
                return NIL;
            }
            word -= 1;
            bits = self.occupied[word];
        }
    }

    fn occupied_above(&self, level: u32) -> u32 {
        let from = level + 1;
        let mut word = from as usize / 64;
        if word >= self.occupied.len() {
            return NIL;
        }
        let mut bits = self.occupied[word] & (u64::MAX << (from % 64));
        loop {
            if bits != 0 {
                let found = word as u32 * 64 + bits.trailing_zeros();
                return if (found as usize) < self.levels.len() {
                    found
                } else {
                    NIL
                };
            }
            word += 1;
            if word == self.occupied.len() {
                return NIL;
            }
            bits = self.occupied[word];
        }
    }

    pub(crate) fn is_occupied(&self, level: u32) -> bool {
        self.occupied[level as usize / 64] & (1 << (level % 64)) != 0
    }
}
