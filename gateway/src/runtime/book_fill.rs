//! How full each book is: a warning in the log when a book fills up, past
//! [`WARN_BPS`] of its `max_orders`, once, and again only after it has
//! drained below [`REARM_BPS`], so a book that hovers at the mark does not
//! flood the log; and each book's resting orders and `max_orders`
//! published for the metrics ([`BookLoads`]), so that an alert can fire
//! before the log line. An operator then looks at who is resting what,
//! before orders start to be cancelled `BookFull`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cetx_engine::{Command, Engine, InstrumentId};

use super::symbols::Published;

/// Share of `max_orders`, in basis points, past which a book is reported.
pub(super) const WARN_BPS: u64 = 8_000;
/// Share below which a reported book may be reported again.
pub(super) const REARM_BPS: u64 = 6_000;

/// One book's load, as the metrics read it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BookLoad {
    /// Orders resting in the book.
    pub resting_orders: u64,
    /// The most it may hold (the instrument's `max_orders`).
    pub max_orders: u64,
}

/// One book's counters: resting orders and `max_orders`.
type Counters = [AtomicU64; 2];

/// Each book's load by instrument id: written by the engine thread after
/// each command that changes a book (two relaxed stores into the engine
/// thread's own copy of the table: no lock), read at a metrics scrape.
/// An instrument listed while the server runs gets its counters in a new
/// table, which the engine thread publishes.
#[derive(Debug, Default)]
pub(super) struct BookLoads {
    books: Published<Vec<Counters>>,
}

impl BookLoads {
    /// Room for `instruments` books, each empty.
    pub(super) fn new(instruments: usize) -> Self {
        Self {
            books: Published::new((0..instruments).map(|_| Default::default()).collect()),
        }
    }

    /// Every book's load now, by instrument id.
    pub(super) fn read(&self) -> Vec<BookLoad> {
        self.books
            .load()
            .iter()
            .map(|[resting, max]| BookLoad {
                resting_orders: resting.load(Ordering::Relaxed),
                max_orders: max.load(Ordering::Relaxed),
            })
            .collect()
    }
}

fn publish(books: &[Counters], engine: &Engine, instrument: InstrumentId) {
    let (Some([resting, max]), Some(book)) = (
        books.get(usize::from(instrument.0)),
        engine.book(instrument),
    ) else {
        return;
    };
    resting.store(book.len() as u64, Ordering::Relaxed);
    max.store(u64::from(book.max_orders()), Ordering::Relaxed);
}

/// Which books have been reported and not yet drained, and where their
/// loads are published.
#[derive(Debug)]
pub(super) struct BookFill {
    reported: Vec<bool>,
    loads: Arc<BookLoads>,
    /// The engine thread's copy of the published counters.
    books: Arc<Vec<Counters>>,
}

impl BookFill {
    /// Publishes every book's load in `engine` to `loads`, and watches
    /// from there.
    pub(super) fn new(engine: &Engine, loads: Arc<BookLoads>) -> Self {
        let mut fill = Self {
            reported: Vec::new(),
            books: loads.books.load(),
            loads,
        };
        fill.grow(engine);
        fill
    }

    /// Makes room for every book `engine` has (an instrument listed since
    /// the table was made) and publishes every load.
    fn grow(&mut self, engine: &Engine) {
        let count = engine.instrument_ids().len();
        if self.books.len() < count {
            let books: Vec<Counters> = (0..count)
                .map(|i| {
                    let load = |n: usize| {
                        let value = self
                            .books
                            .get(i)
                            .map_or(0, |c| c[n].load(Ordering::Relaxed));
                        AtomicU64::new(value)
                    };
                    [load(0), load(1)]
                })
                .collect();
            self.books = Arc::new(books);
            self.loads.books.store(Arc::clone(&self.books));
        }
        for instrument in engine.instrument_ids() {
            publish(&self.books, engine, instrument);
        }
    }

    /// Looks at the book `command` changed: publishes its load, and logs a
    /// warning when it passed the mark. Returns whether it did. An end of
    /// day (which empties every book), a suspended or closed account or
    /// broker and a cancel on disconnect (whose resting orders are
    /// cancelled in every book), a revised
    /// instrument (a new `max_orders`) and a listed one (a new book)
    /// publish every book's load.
    pub(super) fn observe(&mut self, engine: &Engine, command: &Command) -> bool {
        let instrument = match command {
            Command::Submit(order) => order.instrument,
            Command::Take(take) => take.instrument,
            Command::Amend { instrument, .. } | Command::Cancel { instrument, .. } => *instrument,
            Command::EndOfDay { .. }
            | Command::ReviseInstrument { .. }
            | Command::ListInstrument(_)
            | Command::SetAccountStatus { .. }
            | Command::SetBrokerStatus { .. }
            | Command::CancelOnDisconnect { .. } => {
                self.grow(engine);
                return false;
            }
            _ => return false,
        };
        publish(&self.books, engine, instrument);
        let Some(book) = engine.book(instrument) else {
            return false;
        };
        let i = usize::from(instrument.0);
        if i >= self.reported.len() {
            self.reported.resize(i + 1, false);
        }
        let filled_bps = book.len() as u64 * 10_000 / u64::from(book.max_orders());
        if !self.reported[i] && filled_bps >= WARN_BPS {
            self.reported[i] = true;
            warn(engine, instrument, book.len(), book.max_orders());
            return true;
        }
        if self.reported[i] && filled_bps < REARM_BPS {
            self.reported[i] = false;
        }
        false
    }
}

fn warn(engine: &Engine, instrument: InstrumentId, resting: usize, max_orders: u32) {
    tracing::warn!(
        symbol = engine.symbol(instrument).unwrap_or("?"),
        resting,
        max_orders,
        "a book is {}% full or more: past max_orders, new remainders are cancelled BookFull; see max_orders_per_account and max_orders_per_broker",
        WARN_BPS / 100
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use cetx_engine::{
        AccountId, BrokerId, EngineConfig, InstrumentSpec, NewOrder, OrderId, OrderType,
        ParticipantType, Phase, Side, Stamp, Status, TimeInForce,
    };
    use rust_decimal::Decimal;

    #[test]
    fn a_book_is_reported_once_past_the_mark_and_again_after_draining() {
        let mut spec = InstrumentSpec::cea(2025, Decimal::new(90_00, 2));
        spec.max_orders = 10;
        spec.max_orders_per_account = Some(10);
        spec.max_orders_per_broker = Some(10);
        let mut engine = Engine::new(&EngineConfig {
            instruments: vec![spec],
        })
        .unwrap();
        let instrument = InstrumentId(0);
        let mut seq = 0;
        let mut apply = |engine: &mut Engine, command: &Command| {
            seq += 1;
            engine.apply(command, Stamp { seq, time_ns: 0 }, &mut Vec::new());
        };
        for command in [
            Command::OpenAccount {
                account: AccountId(1),
                participant: ParticipantType::ComplianceEntity,
                broker: BrokerId(1),
            },
            Command::Deposit {
                account: AccountId(1),
                amount_fen: 1_000_000_000,
            },
            Command::SetPhase {
                instrument,
                phase: Phase::Continuous,
            },
        ] {
            apply(&mut engine, &command);
        }
        let buy = |id: u64| {
            Command::Submit(NewOrder {
                order_id: OrderId(id),
                account: AccountId(1),
                instrument,
                side: Side::Buy,
                order_type: OrderType::Limit,
                time_in_force: TimeInForce::Day,
                price_ticks: 81_00,
                quantity_t: 1,
                client_order_id: id,
            })
        };
        let loads = Arc::new(BookLoads::new(1));
        let mut fill = BookFill::new(&engine, Arc::clone(&loads));
        let load = |resting_orders| {
            vec![BookLoad {
                resting_orders,
                max_orders: 10,
            }]
        };
        assert_eq!(loads.read(), load(0));
        // Eight of ten is the mark.
        let reported: Vec<bool> = (1..=10)
            .map(|id| {
                apply(&mut engine, &buy(id));
                fill.observe(&engine, &buy(id))
            })
            .collect();
        assert_eq!(reported.iter().filter(|r| **r).count(), 1);
        assert!(reported[7]);
        assert_eq!(loads.read(), load(10));
        // Down to seven (70%) does not re-arm; down to five (50%) does.
        for id in 1..=5 {
            let cancel = Command::Cancel {
                instrument,
                order_id: OrderId(id),
                requester: None,
            };
            apply(&mut engine, &cancel);
            assert!(!fill.observe(&engine, &cancel));
        }
        assert_eq!(loads.read(), load(5));
        assert_eq!(loads.read(), load(5));
        for id in 11..=13 {
            apply(&mut engine, &buy(id));
            assert_eq!(fill.observe(&engine, &buy(id)), id == 13, "order {id}");
        }
        // A suspended account's resting orders are cancelled: its book's
        // load drops with them, and comes back when it trades again.
        let standing = |status| Command::SetAccountStatus {
            account: AccountId(1),
            status,
        };
        for (status, resting) in [(Status::Suspended, 0), (Status::Active, 0)] {
            apply(&mut engine, &standing(status));
            assert!(!fill.observe(&engine, &standing(status)));
            assert_eq!(loads.read(), load(resting), "{status:?}");
        }
        for id in 21..=25 {
            apply(&mut engine, &buy(id));
            assert!(!fill.observe(&engine, &buy(id)));
        }
        assert_eq!(loads.read(), load(5));
        // The end of day expires every order.
        let end_of_day = Command::EndOfDay { trading_date: None };
        apply(&mut engine, &end_of_day);
        assert!(!fill.observe(&engine, &end_of_day));
        assert_eq!(loads.read(), load(0));
    }
}
