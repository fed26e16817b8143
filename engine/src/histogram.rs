//! A histogram of `u64` values in power-of-two buckets, kept in atomics so
//! that the thread that measures records without a lock and a metrics
//! scrape on another thread reads it at any time.
//!
//! It exists for the operator's metrics (journal sync latency, group-commit
//! size, engine turn time): a recording is one relaxed `fetch_add` on each
//! of two counters, and nothing it holds ever decides an outcome.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counts of values in buckets with upper bounds `2^shift`, `2^(shift+1)`,
/// …, `2^(shift+buckets-2)`, then one for everything larger; with their sum.
#[derive(Debug)]
pub struct Histogram {
    shift: u32,
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

/// What a [`Histogram`] held when it was read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Each bucket's upper bound (inclusive); the last bucket, not listed
    /// here, has none.
    pub upper_bounds: Vec<u64>,
    /// Values in each bucket (not cumulative): one more than the bounds.
    pub counts: Vec<u64>,
    /// The sum of every value recorded (wrapping, as a Prometheus counter
    /// may reset).
    pub sum: u64,
}

impl HistogramSnapshot {
    /// Values recorded.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

impl Histogram {
    /// Buckets bounded by `2^shift` up to `2^(shift + buckets - 2)`, and an
    /// overflow bucket.
    ///
    /// # Panics
    /// When `buckets` is below 2 or the largest bound does not fit a `u64`.
    #[must_use]
    pub fn new(shift: u32, buckets: usize) -> Self {
        assert!(buckets >= 2, "a histogram needs a bucket and an overflow");
        let top = u32::try_from(buckets - 2).expect("a few dozen buckets");
        assert!(shift + top < 64, "bucket bounds must fit a u64");
        Self {
            shift,
            counts: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// Counts `value` in its bucket.
    pub fn record(&self, value: u64) {
        let bits = 64 - value.saturating_sub(1).leading_zeros();
        let index = (bits.saturating_sub(self.shift) as usize).min(self.counts.len() - 1);
        self.counts[index].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// The counts now. Recordings made while it reads may show in one
    /// bucket and not yet in the sum, which a scrape tolerates.
    #[must_use]
    pub fn snapshot(&self) -> HistogramSnapshot {
        let buckets = self.counts.len();
        HistogramSnapshot {
            upper_bounds: (0..buckets - 1)
                .map(|i| 1_u64 << (self.shift as usize + i))
                .collect(),
            counts: self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            sum: self.sum.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Histogram;

    #[test]
    fn values_fall_in_the_bucket_of_the_next_power_of_two() {
        let histogram = Histogram::new(2, 4); // ≤4, ≤8, ≤16, larger
        for value in [0, 1, 4, 5, 8, 9, 16, 17, u64::MAX / 2] {
            histogram.record(value);
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.upper_bounds, vec![4, 8, 16]);
        assert_eq!(snapshot.counts, vec![3, 2, 2, 2]);
        assert_eq!(snapshot.count(), 9);
        assert_eq!(snapshot.sum, 60 + u64::MAX / 2);
    }
}
