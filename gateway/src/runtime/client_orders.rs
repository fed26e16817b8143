//! Today's orders by the broker's client order id: what makes a new id
//! unique per broker and trading day, and what a cancel or an amend names.
//! The one index of the day the runtime keeps; the reports keep only the
//! live orders. It is rebuilt from the journal by the same rules that
//! keep it live ([`ClientOrders::observe`], [`Rebuilding::observe`]), and
//! kept in the gateway's snapshots so that a restart reads only the
//! journal after them (the day's full chunks once each, in a day file
//! beside them: [`day_file`]); a restart indexes a snapshot's day on a
//! thread of its own while it replays the journal after it.
//!
//! **Layout.** The day's orders are a log in the order they were
//! submitted, in chunks of [`CHUNK`]: full chunks never change again, so a
//! snapshot shares them ([`ClientOrders::log`] copies at most one chunk,
//! however long the day, and the engine thread never stops for a copy of
//! the day). Two indexes of positions in the log find an order by
//! `(broker, client order id)`:
//! - **the rises**: per broker, the orders whose id was above all its
//!   earlier ones today, in id order (12 bytes each, 16 with padding).
//!   Brokers mostly number upwards, so most orders go here: a new one is
//!   known new from the last id alone and goes at the end of a list, and
//!   a cancel finds its order by a search from the end of the list;
//! - **the table**: the other orders (an id at or below the broker's
//!   highest), by hash: 8 bytes a slot, the position and 32 bits of the
//!   key's hash, as the keys are in the log. The hash bits let the table
//!   grow, and a lookup pass over other orders, without reading the log
//!   (a read there is a cache miss). An order here came after any order
//!   of the same name among the rises, so it is looked for first.
//!
//! So a day of `n` orders costs about `32 n` bytes of log and `16 n` of
//! rises (or `9 n` to `18 n` of table); a new trading day frees the log
//! and keeps the lists' and the table's room for the next.

use std::hash::BuildHasher;
use std::sync::Arc;

use cetx_engine::{AccountId, BrokerId, Command, Engine, Event, InstrumentId, OrderId, Side};
use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashMap};
use serde::{Deserialize, Serialize};

use crate::reports::OrderInfo;

mod day_file;
pub(super) use day_file::{read as read_day, DayFiles, DayRef};

/// Orders per chunk of the log.
pub(super) const CHUNK: usize = 4_096;

/// An order a broker named by its client order id today.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ClientOrder {
    pub(super) order_id: OrderId,
    pub(super) instrument: InstrumentId,
    pub(super) account: AccountId,
}

/// One line of the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Named {
    broker: BrokerId,
    client_order_id: u64,
    order: ClientOrder,
}

/// The day's orders in submission order: full chunks, shared with the
/// snapshots taken of them, and the chunk being filled. A snapshot writes
/// the full chunks to a day file once ([`DayFiles`]) and keeps the last.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ClientOrderLog {
    full: Vec<Arc<[Named]>>,
    tail: Vec<Named>,
}

impl ClientOrderLog {
    fn len(&self) -> usize {
        self.full.len() * CHUNK + self.tail.len()
    }

    fn get(&self, at: usize) -> &Named {
        match self.full.get(at / CHUNK) {
            Some(chunk) => &chunk[at % CHUNK],
            None => &self.tail[at % CHUNK],
        }
    }

    /// The chunk being filled.
    pub(super) fn tail(&self) -> &[Named] {
        &self.tail
    }

    /// What the reports keep of each of today's orders among `resting`
    /// (an order id and its side): who named it and how. An order id the
    /// log holds twice (only a journal not written by cetx's sequencer
    /// can: it numbers orders by their entry) is taken as the later
    /// one's. One the log does not name is not in the map.
    pub(super) fn live_orders(
        &self,
        resting: &FxHashMap<OrderId, Side>,
    ) -> FxHashMap<OrderId, OrderInfo> {
        let mut live = FxHashMap::default();
        live.reserve(resting.len());
        let (Some(&low), Some(&high)) = (resting.keys().min(), resting.keys().max()) else {
            return live;
        };
        let named = self.full.iter().flat_map(|chunk| chunk.iter());
        for named in named.chain(&self.tail) {
            let order = named.order;
            // Most of a day's orders are done: a comparison passes over
            // those outside the resting orders' ids without a lookup.
            if !(low..=high).contains(&order.order_id) {
                continue;
            }
            if let Some(&side) = resting.get(&order.order_id) {
                let info = OrderInfo {
                    broker: named.broker,
                    account: order.account,
                    client_order_id: named.client_order_id,
                    instrument: order.instrument,
                    side,
                };
                live.insert(order.order_id, info);
            }
        }
        live
    }

    fn push(&mut self, named: Named) {
        if self.tail.len() == CHUNK {
            let full = std::mem::replace(&mut self.tail, Vec::with_capacity(CHUNK));
            self.full.push(full.into());
        }
        self.tail.push(named);
    }
}

/// See the module docs.
#[derive(Debug, Default)]
pub(super) struct ClientOrders {
    log: ClientOrderLog,
    /// The orders whose id rose above their broker's earlier ones.
    rises: Rises,
    /// The others' positions in the log, by the hash of `(broker,
    /// client order id)`.
    index: HashTable<Slot>,
}

/// An order whose client order id was above every earlier one of its
/// broker's today, and its position in the log.
#[derive(Clone, Copy, Debug)]
struct Rise {
    client_order_id: u64,
    at: u32,
}

/// Each broker's orders whose id rose above all its earlier ones today,
/// in the order they came, so in id order. Brokers mostly number their
/// orders upwards: then a new order is known new by the last id alone,
/// goes at the end of a list (no cache miss, where an insert into a table
/// of tens of MB was a quarter of the engine thread's time in a
/// closed-loop run), and is found again by [`Rises::find`].
#[derive(Debug, Default)]
struct Rises(FxHashMap<BrokerId, Vec<Rise>>);

impl Rises {
    /// Whether `client_order_id` is above every one the broker used today.
    fn above(&self, broker: BrokerId, client_order_id: u64) -> bool {
        self.0
            .get(&broker)
            .and_then(|run| run.last())
            .is_none_or(|last| client_order_id > last.client_order_id)
    }

    /// Keeps the order at `at` if its id rises; says whether it did.
    fn push(&mut self, broker: BrokerId, client_order_id: u64, at: u32) -> bool {
        let run = self.0.entry(broker).or_default();
        let rises = run
            .last()
            .is_none_or(|last| client_order_id > last.client_order_id);
        if rises {
            run.push(Rise {
                client_order_id,
                at,
            });
        }
        rises
    }

    /// Where the broker's order with this id is, if its id rose. Cancels
    /// mostly name recent orders, so the search gallops back from the
    /// end (steps of 1, 2, 4, … orders) before it halves, and stays among
    /// the lines the latest orders warmed.
    fn find(&self, broker: BrokerId, client_order_id: u64) -> Option<u32> {
        let run = self.0.get(&broker)?;
        // Every rise from `end` on has a higher id.
        let (mut end, mut step) = (run.len(), 1);
        let start = loop {
            let probe = end.saturating_sub(step);
            if probe == 0 || run[probe].client_order_id <= client_order_id {
                break probe;
            }
            end = probe;
            step *= 2;
        };
        let i = run[start..end]
            .binary_search_by_key(&client_order_id, |rise| rise.client_order_id)
            .ok()?;
        Some(run[start + i].at)
    }

    /// Empties the lists, keeping their room for the next day.
    fn clear(&mut self) {
        self.0.values_mut().for_each(Vec::clear);
    }
}

/// A place in the index: a position in the log and the high 32 bits of
/// its key's hash, from which the table's own hash is made again.
#[derive(Clone, Copy, Debug)]
struct Slot {
    at: u32,
    tag: u32,
}

/// The high 32 bits of a key's hash.
fn tag(broker: BrokerId, client_order_id: u64) -> u32 {
    (FxBuildHasher.hash_one((broker, client_order_id)) >> 32) as u32
}

/// The table's hash of a tag: spread over 64 bits (the table takes its
/// bucket from the low bits and a check byte from the high ones).
const fn spread(tag: u32) -> u64 {
    (tag as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl ClientOrders {
    /// The day's orders for a snapshot: the full chunks shared, the last
    /// one copied.
    pub(super) fn log(&self) -> ClientOrderLog {
        self.log.clone()
    }

    /// The broker's order of today with this client order id.
    pub(super) fn get(&self, broker: BrokerId, client_order_id: u64) -> Option<ClientOrder> {
        if self.rises.above(broker, client_order_id) {
            return None;
        }
        let log = &self.log;
        // The table first: an order there came after one of the same name
        // in the rises (whose ids only rise), and took its place.
        let in_table = (!self.index.is_empty())
            .then(|| {
                let tag = tag(broker, client_order_id);
                self.index.find(spread(tag), |slot| {
                    slot.tag == tag && {
                        let named = log.get(slot.at as usize);
                        named.broker == broker && named.client_order_id == client_order_id
                    }
                })
            })
            .flatten()
            .map(|slot| slot.at);
        let at = in_table.or_else(|| self.rises.find(broker, client_order_id))?;
        Some(log.get(at as usize).order)
    }

    /// Adds an order; a second one with the same name (which only a
    /// journal written by something else can hold) takes its place, as
    /// the same entries replayed always give.
    fn insert(&mut self, named: Named) {
        let at = u32::try_from(self.log.len());
        self.log.push(named);
        let Ok(at) = at else {
            // Four billion orders in a day: beyond what the journal's
            // sequence numbers give a day, and never reached.
            return;
        };
        if !self.rises.push(named.broker, named.client_order_id, at) {
            let tag = tag(named.broker, named.client_order_id);
            insert_slot(&mut self.index, &self.log, Slot { at, tag });
        }
    }

    /// Takes note of one live journal entry: a `Submit` or a `Take`
    /// (accepted or not) uses up its client order id for the day, and a
    /// new trading day frees them all. [`Rebuilding::observe`] follows the
    /// same rules at recovery, so the same journal gives the same index.
    pub(super) fn observe(&mut self, engine: &Engine, command: &Command, events: &[Event]) {
        if let Some(named) = named(engine, command) {
            self.insert(named);
        }
        if starts_a_day(events) {
            self.log = ClientOrderLog::default();
            self.index.clear();
            self.rises.clear();
        }
    }
}

/// The log entry a journal entry adds, if any: a `Submit` or a `Take`
/// (accepted or not) uses up its client order id for the day.
fn named(engine: &Engine, command: &Command) -> Option<Named> {
    // A take uses up its client order id like a new order.
    let (client_order_id, order) = match command {
        Command::Submit(order) => (
            order.client_order_id,
            ClientOrder {
                order_id: order.order_id,
                instrument: order.instrument,
                account: order.account,
            },
        ),
        Command::Take(take) => (
            take.client_order_id,
            ClientOrder {
                order_id: take.order_id,
                instrument: take.instrument,
                account: take.account,
            },
        ),
        _ => return None,
    };
    // Accounts never change broker, so the engine's current accounts
    // answer for any entry, replayed or live.
    let account = engine.account(order.account)?;
    Some(Named {
        broker: account.broker,
        client_order_id,
        order,
    })
}

/// Whether an entry starts a trading day, which frees the day's ids.
fn starts_a_day(events: &[Event]) -> bool {
    events.iter().any(|e| matches!(e, Event::DayStarted(_)))
}

/// Puts `slot` in the index, in the place of an earlier order with the
/// same name if there is one. The log is read only when two tags agree.
fn insert_slot(index: &mut HashTable<Slot>, log: &ClientOrderLog, slot: Slot) {
    let same = |other: &Slot| {
        other.tag == slot.tag && {
            let (named, other) = (log.get(slot.at as usize), log.get(other.at as usize));
            other.broker == named.broker && other.client_order_id == named.client_order_id
        }
    };
    if let Some(found) = index.find_mut(spread(slot.tag), same) {
        found.at = slot.at;
    } else {
        index.insert_unique(spread(slot.tag), slot, |slot| spread(slot.tag));
    }
}

/// The table is cut into this many regions (as a power of two) for
/// [`index_from`]'s sort.
const REGIONS_LOG2: u32 = 16;

/// A log's rises and the table of its other orders.
type Indexed = (Rises, HashTable<Slot>);

/// The index of a whole log.
fn index_of(log: &ClientOrderLog) -> Indexed {
    let mut indexed = Indexed::default();
    index_from(&mut indexed, log, 0);
    indexed
}

/// Indexes the log's entries from `from` on: each rise at the end of its
/// broker's list, as [`ClientOrders::insert`] does, and the other orders
/// in the table, in the order of its buckets rather than the log's.
///
/// Millions of inserts taken in log order land all over a table of tens
/// of MB, a cache miss or two each: they were 42% of a restart's CPU time
/// after a 3.6M-order day when every order went in the table. So the
/// slots of the orders that do (none, when brokers number upwards) are
/// first sorted by the region of the table their hash falls in (a
/// counting sort) and inserted region by region, each insert near the
/// last. The sort is stable, so orders with the same name keep their log
/// order and the last one still wins.
fn index_from((rises, index): &mut Indexed, log: &ClientOrderLog, from: usize) {
    let mut others = Vec::new();
    for at in from..log.len() {
        // Past four billion orders (never reached) the rest is not
        // indexed, as in `ClientOrders::insert`.
        let Ok(at) = u32::try_from(at) else { break };
        let named = log.get(at as usize);
        if !rises.push(named.broker, named.client_order_id, at) {
            let tag = tag(named.broker, named.client_order_id);
            others.push(Slot { at, tag });
        }
    }
    if others.is_empty() {
        return;
    }
    index.reserve(others.len(), |slot| spread(slot.tag));
    // hashbrown keeps a power of two of buckets, fills seven eighths of
    // them, and takes a hash's bucket from its low bits. A wrong guess
    // here would cost speed, never correctness.
    let buckets = (index.capacity() / 7 * 8).next_power_of_two();
    let shift = buckets.trailing_zeros().saturating_sub(REGIONS_LOG2);
    let region = |slot: &Slot| (spread(slot.tag) as usize & (buckets - 1)) >> shift;
    let mut next = vec![0_usize; (buckets >> shift) + 1];
    for slot in &others {
        next[region(slot) + 1] += 1;
    }
    for r in 1..next.len() {
        next[r] += next[r - 1];
    }
    let mut sorted = vec![Slot { at: 0, tag: 0 }; others.len()];
    for slot in others {
        let r = region(&slot);
        sorted[next[r]] = slot;
        next[r] += 1;
    }
    for slot in sorted {
        insert_slot(index, log, slot);
    }
}

/// Below this many orders a snapshot's log is indexed when recovery ends,
/// with the entries replayed after it; from this many on, on a thread of
/// its own while recovery replays (a day of millions of orders, even
/// when they are all rises, is a pass worth overlapping with the replay).
const BUILD_APART: usize = 1 << 16;

/// The day's index while recovery replays the journal: the snapshot's
/// log is indexed on a thread of its own, and the entries replayed after
/// it are logged and indexed when [`Rebuilding::finish`] joins that
/// thread. Recovery only adds to the index; nothing reads it before the
/// runtime starts.
#[derive(Debug, Default)]
pub(super) struct Rebuilding {
    log: ClientOrderLog,
    /// The index of the log's first `upto` entries, being built.
    building: Option<(std::thread::JoinHandle<Indexed>, usize)>,
}

impl Rebuilding {
    /// Starts indexing a snapshot's log.
    pub(super) fn from_log(log: ClientOrderLog) -> Self {
        let upto = log.len();
        if upto < BUILD_APART {
            return Self {
                log,
                building: None,
            };
        }
        let shared = log.clone();
        let spawned = std::thread::Builder::new()
            .name("cetx-recover-ids".into())
            .spawn(move || index_of(&shared));
        match spawned {
            Ok(handle) => Self {
                log,
                building: Some((handle, upto)),
            },
            // No thread to be had: index it here, as a small log is.
            Err(why) => {
                tracing::warn!(%why, "indexing the day's client order ids on the recovery thread");
                Self {
                    log,
                    building: None,
                }
            }
        }
    }

    /// [`ClientOrders::observe`] for a replayed entry.
    pub(super) fn observe(&mut self, engine: &Engine, command: &Command, events: &[Event]) {
        if let Some(named) = named(engine, command) {
            self.log.push(named);
        }
        if starts_a_day(events) {
            // The snapshot's day is over: its index is not needed (the
            // thread ends on its own).
            *self = Self::default();
        }
    }

    /// The day's index: the snapshot's part joined, the replayed entries
    /// added after it.
    pub(super) fn finish(self) -> ClientOrders {
        let (mut indexed, from) = match self.building {
            Some((handle, upto)) => match handle.join() {
                Ok(built) => (built, upto),
                // The build cannot panic short of running out of memory;
                // if it did, index the whole log here.
                Err(_) => (Default::default(), 0),
            },
            None => (Default::default(), 0),
        };
        index_from(&mut indexed, &self.log, from);
        let (rises, index) = indexed;
        ClientOrders {
            log: self.log,
            rises,
            index,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(broker: u32, client_order_id: u64, order_id: u64) -> Named {
        Named {
            broker: BrokerId(broker),
            client_order_id,
            order: ClientOrder {
                order_id: OrderId(order_id),
                instrument: InstrumentId(0),
                account: AccountId(1001),
            },
        }
    }

    #[test]
    fn orders_are_found_by_broker_and_id_across_chunks_and_a_snapshot() {
        let mut orders = ClientOrders::default();
        let n = 3 * CHUNK as u64 + 17;
        for i in 0..n {
            orders.insert(named(1 + (i % 2) as u32, i / 2, 100 + i));
        }
        // The same id of the other broker is another order.
        assert_eq!(orders.get(BrokerId(1), 5).unwrap().order_id, OrderId(110));
        assert_eq!(orders.get(BrokerId(2), 5).unwrap().order_id, OrderId(111));
        assert_eq!(orders.get(BrokerId(3), 5), None);
        assert_eq!(orders.get(BrokerId(1), n), None);
        // A name used again points at the later order.
        orders.insert(named(1, 5, 9_999));
        assert_eq!(orders.get(BrokerId(1), 5).unwrap().order_id, OrderId(9_999));

        let log = orders.log();
        let dir = tempfile::tempdir().unwrap();
        let day = DayFiles::default().write(dir.path(), 7, &log).unwrap();
        let back = read_day(dir.path(), day, log.tail().to_vec()).unwrap();
        assert_eq!(back, log);
        let again = Rebuilding::from_log(back).finish();
        for i in 0..n {
            let (broker, id) = (BrokerId(1 + (i % 2) as u32), i / 2);
            assert_eq!(again.get(broker, id), orders.get(broker, id), "{i}");
        }
        // What the snapshot shares does not move when the day goes on.
        orders.insert(named(1, n, 1));
        assert_eq!(orders.log().len(), log.len() + 1);
        assert_eq!(log.len() as u64, n + 1);
    }

    proptest::proptest! {
        /// Against a map of the last order of each name: ids mostly
        /// rising, some going down, names used again, a rebuild from
        /// the log part way.
        #[test]
        fn the_index_finds_the_last_order_of_each_name(
            steps in proptest::collection::vec((1_u32..4, 0_u64..12, proptest::bool::ANY), 1..300),
            rebuild_at in 0_usize..300,
        ) {
            let mut orders = ClientOrders::default();
            let mut model = std::collections::HashMap::new();
            let mut next_id = [0_u64; 4];
            for (i, &(broker, back, rising)) in steps.iter().enumerate() {
                let b = broker as usize;
                let id = if rising {
                    next_id[b] += 1 + back % 3;
                    next_id[b]
                } else {
                    next_id[b].saturating_sub(back)
                };
                let order_id = 1_000 + i as u64;
                orders.insert(named(broker, id, order_id));
                model.insert((broker, id), order_id);
                if i == rebuild_at {
                    orders = Rebuilding::from_log(orders.log()).finish();
                }
            }
            for broker in 0..5 {
                for id in 0..next_id.iter().max().unwrap() + 3 {
                    let found = orders.get(BrokerId(broker), id).map(|o| o.order_id.0);
                    proptest::prop_assert_eq!(found, model.get(&(broker, id)).copied());
                }
            }
        }
    }

    #[test]
    fn ids_that_go_down_are_found_and_checked_like_ids_that_go_up() {
        let mut orders = ClientOrders::default();
        for (id, order_id) in [(10, 1), (3, 2), (7, 3), (20, 4)] {
            orders.insert(named(1, id, order_id));
        }
        orders.insert(named(2, 5, 5));
        for (id, order_id) in [(3, 2), (7, 3), (10, 1), (20, 4)] {
            assert_eq!(
                orders.get(BrokerId(1), id).unwrap().order_id,
                OrderId(order_id)
            );
        }
        // Below the highest but never used; above it; another broker's.
        for id in [4, 19, 21] {
            assert_eq!(orders.get(BrokerId(1), id), None, "{id}");
        }
        assert_eq!(orders.get(BrokerId(2), 3), None);
        // A name used again below the highest takes the earlier's place.
        orders.insert(named(1, 7, 9));
        assert_eq!(orders.get(BrokerId(1), 7).unwrap().order_id, OrderId(9));
        // Rebuilt, the highest ids come back with the log.
        let again = Rebuilding::from_log(orders.log()).finish();
        for id in [3, 7, 10, 20] {
            assert_eq!(again.get(BrokerId(1), id), orders.get(BrokerId(1), id));
        }
        assert_eq!(again.get(BrokerId(2), 5).unwrap().order_id, OrderId(5));
    }

    #[test]
    fn a_large_snapshot_is_indexed_apart_and_the_replayed_orders_after_it() {
        let mut orders = ClientOrders::default();
        let n = BUILD_APART as u64 + 3 * CHUNK as u64 + 5;
        for i in 0..n {
            orders.insert(named(1 + (i % 3) as u32, i / 3, 100 + i));
        }
        // A name used again inside the snapshot's log: the index built
        // apart (in the table's order, not the log's) keeps the later.
        orders.insert(named(3, 7, 4_242));
        let mut rebuilding = Rebuilding::from_log(orders.log());
        assert!(
            rebuilding.building.is_some(),
            "a day this long is indexed apart"
        );
        // Replayed after the snapshot: a new order, and a name used again.
        for more in [named(2, n, 7), named(1, 5, 8)] {
            rebuilding.log.push(more);
            orders.insert(more);
        }
        let again = rebuilding.finish();
        assert_eq!(again.get(BrokerId(2), n).unwrap().order_id, OrderId(7));
        assert_eq!(again.get(BrokerId(1), 5).unwrap().order_id, OrderId(8));
        assert_eq!(again.get(BrokerId(3), 7).unwrap().order_id, OrderId(4_242));
        for i in 0..n {
            let (broker, id) = (BrokerId(1 + (i % 3) as u32), i / 3);
            assert_eq!(again.get(broker, id), orders.get(broker, id), "{i}");
        }
        assert_eq!(again.get(BrokerId(1), n), None);
    }
}
