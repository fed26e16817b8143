//! Market data: the public view of the market, published from durable
//! journal entries, on a feed of its own.
//!
//! ```text
//! journal writer thread ─(a turn, durable)─► router ─► MarketData::publish
//!     MarketState (levels, order view, day, phase, band) ─► ring of batches
//!                                                   │
//!                      FeedServer: one task per subscriber ◄┘
//!                      (its own copy of its instruments, top-N diffs,
//!                       conflation, a fresh snapshot when it lags)
//! ```
//!
//! [`MarketData`] keeps the [`MarketState`] and a bounded ring (tokio's
//! `broadcast`) of update batches, one per turn. The router publishes
//! each turn right after the reports, under the state's lock, so a
//! subscriber that takes a snapshot and a receiver under the same lock
//! sees every update after its snapshot and none before. A subscriber
//! never slows the market: the ring never waits for a reader, and a
//! reader that falls behind gets its updates conflated, then a fresh
//! snapshot, then a disconnect (see [`feed`] and `docs/MARKET_DATA.md`).
//! Each refusal and close the feed decides is counted here, for the
//! metrics, and logged (`closes.rs`).

pub mod client;
mod closes;
pub mod feed;
mod followed;
mod state;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cetx_engine::{Command, Engine, Event};
use tokio::sync::{broadcast, watch};

pub use client::{FeedClient, FeedError};
pub(crate) use closes::{Closed, Refused, SlowReaderClose};
pub use closes::{CLOSED, REFUSED, SLOW_READER_CLOSES};
pub use feed::FeedServer;
pub use state::{BlockQuote, LevelTotals, MarketState, OrderLevel, Update, View};

/// An instrument's order view: each level's side, price and orders.
pub type OrderView = Vec<(cetx_engine::Side, i64, OrderLevel)>;

/// A subscriber's hold on the order view's changes: while one is held,
/// each batch carries them; dropping it lets them go.
#[derive(Debug)]
pub struct OrderViewTicket(MarketData);

impl Drop for OrderViewTicket {
    fn drop(&mut self) {
        self.0.lock().leave_order_view();
    }
}

/// One turn's updates, as `(instrument id, update)`, in order.
pub type Batch = Arc<Vec<(u16, Update)>>;

/// What [`MarketData::subscribe_with_orders`] gives, all from one moment.
#[derive(Debug)]
pub struct Subscribed {
    /// The instruments asked for, in their order.
    pub views: Vec<View>,
    /// The order view of the instruments asked for with orders.
    pub order_views: Vec<OrderView>,
    /// Every batch after the moment.
    pub updates: broadcast::Receiver<Batch>,
    /// Held while the order view is wanted.
    pub ticket: Option<OrderViewTicket>,
    /// What the replaced receiver had waiting up to the moment, in order;
    /// `None` when it had fallen behind the ring (some batches are lost).
    pub waiting: Option<Vec<Batch>>,
}

/// The public market and its updates; cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct MarketData(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    state: Mutex<MarketState>,
    updates: broadcast::Sender<Batch>,
    /// Feed subscribers closed for not reading, by [`SlowReaderClose`].
    slow_reader_closes: [AtomicU64; 2],
    /// Those closes together, for a caller to wait on
    /// ([`MarketData::follow_slow_reader_closes`]).
    slow_reader_closed: watch::Sender<u64>,
    /// Feed connections refused 412, by [`Refused`].
    refused: [AtomicU64; 2],
    /// Feed subscribers closed for what they sent or did not send, by
    /// [`Closed`].
    closed: [AtomicU64; 4],
}

impl MarketData {
    /// The market as `engine` has it now, with the auctions closed
    /// earlier in the day (`closed`, which the engine no longer holds),
    /// and a ring of `buffer` batches (at least 1) for subscribers.
    #[must_use]
    pub fn new<'a>(
        engine: &Engine,
        closed: impl IntoIterator<Item = &'a cetx_engine::AuctionClosed>,
        buffer: usize,
    ) -> Self {
        let (updates, _) = broadcast::channel(buffer.max(1));
        let mut state = MarketState::of(engine);
        state.remember_closed_auctions(closed);
        Self(Arc::new(Inner {
            state: Mutex::new(state),
            updates,
            slow_reader_closes: Default::default(),
            slow_reader_closed: watch::Sender::new(0),
            refused: Default::default(),
            closed: Default::default(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, MarketState> {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes one turn's durable entries (each entry's command and its
    /// events) and publishes what changed as one batch. An instrument
    /// listed in the turn is in the state from its entry on, so a
    /// subscriber can follow it at once.
    pub fn publish<'a>(&self, entries: impl IntoIterator<Item = (&'a Command, &'a [Event])>) {
        let mut out = Vec::new();
        let mut state = self.lock();
        // A subscriber joins under the lock, so none can come in between.
        state.set_watched(self.0.updates.receiver_count() > 0);
        for (command, events) in entries {
            if let (Command::ListInstrument(spec), Some(Event::InstrumentListed(band))) =
                (command, events.first())
            {
                state.list(spec, band);
            }
            if let (Command::ReviseInstrument { spec, .. }, Some(Event::InstrumentRevised(band))) =
                (command, events.first())
            {
                state.revise(spec, band);
            }
            state.apply(events, &mut out);
        }
        if !out.is_empty() {
            // No receiver is no error: nobody is watching.
            let _ = self.0.updates.send(Arc::new(out));
        }
    }

    /// The instrument with this symbol.
    #[must_use]
    pub fn find(&self, symbol: &str) -> Option<u16> {
        self.lock().find(symbol)
    }

    /// The instruments `ids` now, and a receiver of every batch after that
    /// moment.
    #[must_use]
    pub fn subscribe(&self, ids: &[u16]) -> (Vec<View>, broadcast::Receiver<Batch>) {
        let subscribed = self.subscribe_with_orders(ids, &[], None);
        (subscribed.views, subscribed.updates)
    }

    /// As [`Self::subscribe`], with the order view now of the instruments
    /// `with_orders` (in their order; see [`MarketState::order_view`]).
    /// The batches carry the order view's changes while the ticket
    /// returned (when `with_orders` is not empty) is held. A subscriber
    /// that already reads updates gives its receiver as `replacing`: what
    /// waits in it up to the same moment is returned, so that nothing
    /// published before the new receiver is lost between the two.
    #[must_use]
    pub fn subscribe_with_orders(
        &self,
        ids: &[u16],
        with_orders: &[u16],
        replacing: Option<broadcast::Receiver<Batch>>,
    ) -> Subscribed {
        let mut state = self.lock();
        // Under the lock, which every publish holds: the batches waiting
        // now are exactly those before the views below.
        let waiting = replacing.map_or(Some(Vec::new()), |mut old| {
            let mut batches = Vec::new();
            loop {
                match old.try_recv() {
                    Ok(batch) => batches.push(batch),
                    Err(
                        broadcast::error::TryRecvError::Empty
                        | broadcast::error::TryRecvError::Closed,
                    ) => {
                        return Some(batches);
                    }
                    Err(broadcast::error::TryRecvError::Lagged(_)) => return None,
                }
            }
        });
        let ticket = (!with_orders.is_empty()).then(|| {
            state.join_order_view();
            OrderViewTicket(self.clone())
        });
        let order_views = with_orders.iter().map(|&id| state.order_view(id)).collect();
        let views = ids
            .iter()
            .map(|&id| {
                state
                    .instruments()
                    .get(usize::from(id))
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        Subscribed {
            views,
            order_views,
            updates: self.0.updates.subscribe(),
            ticket,
            waiting,
        }
    }

    /// Readers of the updates (feed subscribers, and the web view's tape
    /// when it runs), and the batches the slowest of them has not read
    /// yet (at most the ring's size).
    #[must_use]
    pub fn backlog(&self) -> (usize, usize) {
        (self.0.updates.receiver_count(), self.0.updates.len())
    }

    pub(crate) fn count_slow_reader_close(&self, why: SlowReaderClose) {
        self.0.slow_reader_closes[why as usize].fetch_add(1, Ordering::Relaxed);
        self.0.slow_reader_closed.send_modify(|closed| *closed += 1);
    }

    /// Follows how many feed subscribers were closed for not reading (both
    /// whys together): changed at each, after it is counted in
    /// [`Self::slow_reader_closes`], so that a caller can wait for one.
    #[must_use]
    pub fn follow_slow_reader_closes(&self) -> watch::Receiver<u64> {
        self.0.slow_reader_closed.subscribe()
    }

    /// Feed subscribers closed since the start for not reading, beside
    /// their label ([`SLOW_READER_CLOSES`]).
    #[must_use]
    pub fn slow_reader_closes(&self) -> [(&'static str, u64); 2] {
        crate::server::labelled(&self.0.slow_reader_closes, SLOW_READER_CLOSES)
    }

    pub(crate) fn count_refused(&self, why: Refused) {
        self.0.refused[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Feed connections refused since the start (`Rejected` 412), beside
    /// the limit that was full ([`REFUSED`]).
    #[must_use]
    pub fn refused(&self) -> [(&'static str, u64); 2] {
        crate::server::labelled(&self.0.refused, REFUSED)
    }

    pub(crate) fn count_closed(&self, why: Closed) {
        self.0.closed[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Feed subscribers closed since the start for what they sent or did
    /// not send: a malformed frame (414), one too long (415), nothing
    /// heard for the idle timeout, no instrument followed in time; beside
    /// their label ([`CLOSED`]).
    #[must_use]
    pub fn closed(&self) -> [(&'static str, u64); 4] {
        crate::server::labelled(&self.0.closed, CLOSED)
    }

    /// The whole public market now.
    #[must_use]
    pub fn views(&self) -> Vec<View> {
        self.lock().instruments().to_vec()
    }
}
