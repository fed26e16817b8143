//! Today's orders by the broker's client order id: what makes a new id
//! unique per broker and trading day, and what a cancel or an amend names.
//! The one index of the day the runtime keeps; the reports keep only the
//! live orders. It is rebuilt from the journal by the same function that
//! keeps it live ([`ClientOrders::observe`]), and kept in the gateway's
//! snapshots so that a restart reads only the journal after them.
//!
//! **Layout.** The day's orders are a log in the order they were
//! submitted, in chunks of [`CHUNK`]: full chunks never change again, so a
//! snapshot shares them ([`ClientOrders::log`] copies at most one chunk,
//! however long the day, and the engine thread never stops for a copy of
//! the day). A hash table of positions in the log finds an order by
//! `(broker, client order id)`: 8 bytes a slot, the position and 32 bits
//! of the key's hash, as the keys are in the log. The hash bits let the
//! table grow, and a lookup pass over other orders, without reading the
//! log (a read there is a cache miss). So a day of `n` orders costs about
//! `32 n` bytes of log and `9 n` to `18 n` of table; a new trading day
//! frees the log and keeps the table's slots for the next.

use std::hash::BuildHasher;
use std::sync::Arc;

use cetx_engine::{AccountId, BrokerId, Command, Engine, Event, InstrumentId, OrderId};
use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Orders per chunk of the log.
const CHUNK: usize = 4_096;

/// An order a broker named by its client order id today.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ClientOrder {
    pub(super) order_id: OrderId,
    pub(super) instrument: InstrumentId,
    pub(super) account: AccountId,
}

/// One line of the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Named {
    broker: BrokerId,
    client_order_id: u64,
    order: ClientOrder,
}

/// The day's orders in submission order: full chunks, shared with the
/// snapshots taken of them, and the chunk being filled. Serialized as one
/// list.
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

    fn iter(&self) -> impl Iterator<Item = &Named> {
        self.full.iter().flat_map(|c| c.iter()).chain(&self.tail)
    }

    fn push(&mut self, named: Named) {
        if self.tail.len() == CHUNK {
            let full = std::mem::replace(&mut self.tail, Vec::with_capacity(CHUNK));
            self.full.push(full.into());
        }
        self.tail.push(named);
    }
}

impl Serialize for ClientOrderLog {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for named in self.iter() {
            seq.serialize_element(named)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for ClientOrderLog {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let list = Vec::<Named>::deserialize(deserializer)?;
        let mut log = Self::default();
        for chunk in list.chunks(CHUNK) {
            if chunk.len() == CHUNK {
                log.full.push(chunk.into());
            } else {
                log.tail = chunk.to_vec();
            }
        }
        Ok(log)
    }
}

/// See the module docs.
#[derive(Debug, Default)]
pub(super) struct ClientOrders {
    log: ClientOrderLog,
    /// Positions in the log, by the hash of `(broker, client order id)`.
    index: HashTable<Slot>,
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
    /// The index of a log from a snapshot.
    pub(super) fn from_log(log: ClientOrderLog) -> Self {
        let mut orders = Self {
            log: ClientOrderLog::default(),
            index: HashTable::with_capacity(log.len()),
        };
        for named in log.iter() {
            orders.insert(*named);
        }
        orders
    }

    /// The day's orders for a snapshot: the full chunks shared, the last
    /// one copied.
    pub(super) fn log(&self) -> ClientOrderLog {
        self.log.clone()
    }

    /// The broker's order of today with this client order id.
    pub(super) fn get(&self, broker: BrokerId, client_order_id: u64) -> Option<ClientOrder> {
        let log = &self.log;
        let tag = tag(broker, client_order_id);
        self.index
            .find(spread(tag), |slot| {
                slot.tag == tag && {
                    let named = log.get(slot.at as usize);
                    named.broker == broker && named.client_order_id == client_order_id
                }
            })
            .map(|slot| log.get(slot.at as usize).order)
    }

    /// Adds an order; a second one with the same name (which only a
    /// journal written by something else can hold) takes its place, as
    /// the same entries replayed always give.
    fn insert(&mut self, named: Named) {
        let Ok(at) = u32::try_from(self.log.len()) else {
            // Four billion orders in a day: beyond what the journal's
            // sequence numbers give a day, and never reached.
            return;
        };
        let tag = tag(named.broker, named.client_order_id);
        let log = &self.log;
        let same = |slot: &Slot| {
            slot.tag == tag && {
                let other = log.get(slot.at as usize);
                other.broker == named.broker && other.client_order_id == named.client_order_id
            }
        };
        if let Some(slot) = self.index.find_mut(spread(tag), same) {
            slot.at = at;
        } else {
            self.index
                .insert_unique(spread(tag), Slot { at, tag }, |slot| spread(slot.tag));
        }
        self.log.push(named);
    }

    /// Takes note of one journal entry, live or replayed at start: a
    /// `Submit` or a `Take` (accepted or not) uses up its client order id for the
    /// day, and a new trading day frees them all. The same function on the
    /// same journal rebuilds the same index.
    pub(super) fn observe(&mut self, engine: &Engine, command: &Command, events: &[Event]) {
        // A take uses up its client order id like a new order.
        let placed = match command {
            Command::Submit(order) => Some((
                order.client_order_id,
                ClientOrder {
                    order_id: order.order_id,
                    instrument: order.instrument,
                    account: order.account,
                },
            )),
            Command::Take(take) => Some((
                take.client_order_id,
                ClientOrder {
                    order_id: take.order_id,
                    instrument: take.instrument,
                    account: take.account,
                },
            )),
            _ => None,
        };
        if let Some((client_order_id, order)) = placed {
            // Accounts never change broker, so the engine's current
            // accounts answer for any entry, replayed or live.
            if let Some(account) = engine.account(order.account) {
                self.insert(Named {
                    broker: account.broker,
                    client_order_id,
                    order,
                });
            }
        }
        if events.iter().any(|e| matches!(e, Event::DayStarted(_))) {
            self.log = ClientOrderLog::default();
            self.index.clear();
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
        let bytes = crate::codec::encode_snapshot(&log).unwrap();
        let back: ClientOrderLog = crate::codec::decode_snapshot(&bytes).unwrap();
        assert_eq!(back, log);
        let again = ClientOrders::from_log(back);
        for i in 0..n {
            let (broker, id) = (BrokerId(1 + (i % 2) as u32), i / 2);
            assert_eq!(again.get(broker, id), orders.get(broker, id), "{i}");
        }
        // What the snapshot shares does not move when the day goes on.
        orders.insert(named(1, n, 1));
        assert_eq!(orders.log().len(), log.len() + 1);
        assert_eq!(log.len() as u64, n + 1);
    }
}
