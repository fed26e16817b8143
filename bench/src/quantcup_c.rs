//! The QuantCup 2011 winner, the contest's fastest book, in C
//! (`quantcup_c/`, compiled by `build.rs`), for the benches to run on the
//! same feed as cetx.
//!
//! It has no accounts, no rules, no events and no order ids of its own:
//! what it does for a message is the least any price-time book can do. The
//! feed goes to it as the contest's `score.c` gave it: one call replays the
//! whole feed from an empty book, the loop in C, so that nothing of Rust's
//! lies between the messages.
//!
//! Its state is global in C, so one [`Book`] at a time exists in a
//! process: [`Book::new`] waits for the last one to finish.

// Outside tests, the only unsafe code of the workspace: calls into the C
// book. Each is sound because the C side keeps to what its comment says,
// `Feed::new` lets no feed reach past the C book's arrays, and the lock in
// `Book` keeps its global state to one thread.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_ulong, c_ushort};
use std::sync::{Mutex, MutexGuard, PoisonError};

use cetx_engine::Side;

use crate::quantcup::Message;

/// `t_order` of the contest's `types.h`: a limit order, or, with price 0,
/// a cancel of the order whose id is `size`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct Order {
    symbol: [u8; 5],
    trader: [u8; 5],
    side: c_int,
    price: c_ushort,
    size: c_ulong,
}

extern "C" {
    /// Empties the book and the traded count (`init()`, which clears its
    /// price points and order arena, 25 MB).
    fn quantcup_c_start();
    /// Applies `len` messages from `feed` in turn; reads nothing else.
    fn quantcup_c_feed(feed: *const Order, len: c_ulong);
    /// Tonnes traded since the last `quantcup_c_start`.
    fn quantcup_c_traded() -> c_ulong;
    /// `sizeof(t_order)`.
    fn quantcup_c_order_size() -> c_ulong;
    /// Places in the order arena (`MAX_NUM_ORDERS`), which the C side
    /// indexes by order id without a check.
    fn quantcup_c_arena_orders() -> c_ulong;
}

/// The one book's lock: its state is C's globals.
static ONE_BOOK: Mutex<()> = Mutex::new(());

/// Why the feed cannot go to the C book.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// A limit price outside `t_price` (1 to 65,535 cents).
    #[error("message {number}: price {price_ticks} is not a C book price (1..=65535)")]
    Price {
        /// Its place in the feed, from 1.
        number: usize,
        /// Its price in ticks.
        price_ticks: i64,
    },
    /// More limit orders than the C book's arena holds (its ids count
    /// from 1 and index the arena).
    #[error("{limits} limit orders: the C book's arena holds ids below {arena}")]
    TooManyOrders {
        /// Limit orders in the feed.
        limits: u64,
        /// Places in the arena.
        arena: u64,
    },
    /// A cancel of an id past the C book's arena.
    #[error("message {number}: a cancel of order {nth}, past the C book's arena of {arena}")]
    CancelPastArena {
        /// Its place in the feed, from 1.
        number: usize,
        /// The id it cancels.
        nth: u64,
        /// Places in the arena.
        arena: u64,
    },
    /// Limit orders whose sizes add up past what the C book's count of
    /// tonnes traded holds: it would wrap.
    #[error("the limit orders' sizes add up to {total} t, past the C book's count of 2^64 - 1")]
    TooMuchQuantity {
        /// Their sum.
        total: u128,
    },
    /// This build's `t_order` is not the layout [`Feed`] writes.
    #[error("the C book's t_order is {0} bytes, not the {1} this side writes")]
    Layout(c_ulong, usize),
}

/// The feed as the C book reads it.
#[derive(Clone, Debug)]
pub struct Feed {
    orders: Vec<Order>,
}

impl Feed {
    /// Translates the feed's messages.
    ///
    /// # Errors
    /// [`FeedError::Price`] for a price the C book cannot hold,
    /// [`FeedError::TooManyOrders`] and [`FeedError::CancelPastArena`] for
    /// ids past its arena (which it would write out of bounds), and
    /// [`FeedError::TooMuchQuantity`] when its count of tonnes traded could
    /// wrap, and [`FeedError::Layout`] when its `t_order` is not laid out
    /// as here.
    pub fn new(messages: &[Message]) -> Result<Self, FeedError> {
        // SAFETY: each reads a constant.
        let (c_size, arena) = unsafe { (quantcup_c_order_size(), quantcup_c_arena_orders()) };
        if usize::try_from(c_size).ok() != Some(size_of::<Order>()) {
            return Err(FeedError::Layout(c_size, size_of::<Order>()));
        }
        let limits = messages
            .iter()
            .filter(|message| matches!(message, Message::Limit { .. }))
            .count() as u64;
        if limits >= arena {
            return Err(FeedError::TooManyOrders { limits, arena });
        }
        let total: u128 = messages
            .iter()
            .map(|message| match *message {
                Message::Limit { quantity_t, .. } => u128::from(quantity_t),
                Message::Cancel { .. } => 0,
            })
            .sum();
        if total > u128::from(c_ulong::MAX) {
            return Err(FeedError::TooMuchQuantity { total });
        }
        let orders = messages
            .iter()
            .enumerate()
            .map(|(index, message)| match *message {
                Message::Limit {
                    trader,
                    side,
                    price_ticks,
                    quantity_t,
                } => Ok(Order {
                    symbol: *b"CEA\0\0",
                    trader: [b'T', b'0', b'0' + trader / 10 % 10, b'0' + trader % 10, 0],
                    side: match side {
                        Side::Buy => 0,
                        Side::Sell => 1,
                    },
                    price: c_ushort::try_from(price_ticks)
                        .ok()
                        .filter(|&price| price > 0)
                        .ok_or(FeedError::Price {
                            number: index + 1,
                            price_ticks,
                        })?,
                    size: quantity_t,
                }),
                Message::Cancel { nth } if nth >= arena => Err(FeedError::CancelPastArena {
                    number: index + 1,
                    nth,
                    arena,
                }),
                Message::Cancel { nth } => Ok(Order {
                    symbol: [0; 5],
                    trader: [0; 5],
                    side: 0,
                    price: 0,
                    size: nth,
                }),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { orders })
    }

    /// Messages in the feed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    /// Whether the feed has no message.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }
}

/// The C book, empty, and this thread's alone until it is dropped.
#[derive(Debug)]
pub struct Book {
    _only: MutexGuard<'static, ()>,
}

impl Book {
    /// An empty book, once no other [`Book`] exists (the contest's
    /// `init()`: it clears 25 MB).
    #[must_use]
    pub fn new() -> Self {
        // A panic while another thread held the book leaves nothing
        // half-done that `quantcup_c_start` does not clear.
        let only = ONE_BOOK.lock().unwrap_or_else(PoisonError::into_inner);
        // SAFETY: the lock is held, so no other thread uses the globals.
        unsafe { quantcup_c_start() };
        Self { _only: only }
    }

    /// Replays the feed into this empty book and returns the tonnes it
    /// traded.
    #[must_use]
    pub fn replay(self, feed: &Feed) -> u64 {
        let len = c_ulong::try_from(feed.orders.len()).unwrap_or(c_ulong::MAX);
        // SAFETY: the C side reads `len` orders from the pointer, which
        // the feed's vector holds, laid out as `t_order` (checked in
        // `Feed::new`), and the lock is held.
        unsafe {
            quantcup_c_feed(feed.orders.as_ptr(), len);
            quantcup_c_traded()
        }
    }
}

impl Default for Book {
    fn default() -> Self {
        Self::new()
    }
}
