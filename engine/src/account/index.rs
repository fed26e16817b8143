//! A table from `u32` ids to `u32` values, without hashing.
//!
//! Accounts and brokers are named by `u32` ids that the exchange hands out
//! in runs (a broker's accounts are numbered together), so the ids in use
//! cluster in a few ranges. The table is two levels over the id's bits: a
//! list of blocks by `id >> 12`, and per block in use 4,096 values in one
//! flat list. A lookup is a shift, two loads and no compare of keys; the
//! first level is small enough to stay in cache.
//!
//! Memory: 4 bytes per block of 4,096 ids up to the highest id in use (at
//! most 4 MiB, for ids near `u32::MAX`), plus 16 KiB per block that holds
//! an id. Both grow only when a new id is set, never on a lookup.

/// Values of `u32` ids; ids never set read as `empty`.
#[derive(Clone, Debug)]
pub(crate) struct IdTable {
    /// `blocks[id >> 12]`: one more than the block's number in `values`,
    /// or 0 when no id of the block was ever set.
    blocks: Vec<u32>,
    /// The blocks' values, 4,096 a block.
    values: Vec<u32>,
    empty: u32,
}

/// Ids a block covers, as a shift.
const BLOCK_BITS: u32 = 12;
const BLOCK_LEN: usize = 1 << BLOCK_BITS;
const IN_BLOCK: u32 = (1 << BLOCK_BITS) - 1;

impl IdTable {
    /// An empty table whose ids read as `empty`.
    pub(crate) const fn new(empty: u32) -> Self {
        Self {
            blocks: Vec::new(),
            values: Vec::new(),
            empty,
        }
    }

    /// Where `id`'s value is kept, if its block is in use.
    #[inline]
    fn place(&self, id: u32) -> Option<usize> {
        let block = *self.blocks.get((id >> BLOCK_BITS) as usize)?;
        (block != 0).then(|| (block as usize - 1) * BLOCK_LEN + (id & IN_BLOCK) as usize)
    }

    /// The value of `id` (`empty` if it was never set).
    #[inline]
    pub(crate) fn get(&self, id: u32) -> u32 {
        self.place(id).map_or(self.empty, |at| self.values[at])
    }

    /// The value of `id` to change, making room for its block if needed.
    #[inline]
    pub(crate) fn entry(&mut self, id: u32) -> &mut u32 {
        let at = match self.place(id) {
            Some(at) => at,
            None => self.add_block(id),
        };
        &mut self.values[at]
    }

    /// Makes the block of `id`, every value `empty`, and returns where
    /// `id`'s value is kept: once per block, never on a lookup.
    #[cold]
    fn add_block(&mut self, id: u32) -> usize {
        let b = (id >> BLOCK_BITS) as usize;
        if b >= self.blocks.len() {
            self.blocks.resize(b + 1, 0);
        }
        let number = self.values.len() / BLOCK_LEN;
        self.values
            .resize(self.values.len() + BLOCK_LEN, self.empty);
        self.blocks[b] = u32::try_from(number + 1).expect("fewer than 2^20 blocks");
        number * BLOCK_LEN + (id & IN_BLOCK) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_far_apart_keep_their_own_values() {
        let mut table = IdTable::new(u32::MAX);
        let ids = [
            0,
            1,
            4_095,
            4_096,
            1_001,
            2_001,
            1 << 20,
            u32::MAX - 1,
            u32::MAX,
        ];
        for (value, &id) in ids.iter().enumerate() {
            assert_eq!(table.get(id), u32::MAX, "{id} before it is set");
            *table.entry(id) = value as u32;
        }
        for (value, &id) in ids.iter().enumerate() {
            assert_eq!(table.get(id), value as u32, "{id}");
        }
        for absent in [2, 4_097, 3_000, (1 << 20) + 1, u32::MAX - 2] {
            assert_eq!(table.get(absent), u32::MAX, "{absent} was never set");
        }
        // Blocks in use: 0, 1, 256 and the last one.
        assert_eq!(table.values.len(), 4 * BLOCK_LEN);
    }

    #[test]
    fn counts_start_at_the_empty_value() {
        let mut counts = IdTable::new(0);
        *counts.entry(7) += 1;
        *counts.entry(7) += 1;
        *counts.entry(9_000) += 1;
        assert_eq!((counts.get(7), counts.get(9_000), counts.get(8)), (2, 1, 0));
    }
}
