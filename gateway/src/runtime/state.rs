//! The gateway's own state beside each engine snapshot, so that a restart
//! reads only the journal after the snapshot, once: each broker's report
//! counter, the trading days' marks, the live orders the reports address,
//! today's client order ids (where the day file holds their full chunks,
//! and the last chunk), the day's closed auctions (for the feed) and the
//! time of the last entry.
//!
//! A file `gateway-{seq:020}.snap` in the journal directory, framed as the
//! engine's snapshots are ([`write_framed`]) and written just before the
//! engine's snapshot of the same sequence number, and, like it, not
//! synced: a shortcut, never the truth. One that is missing or fails its
//! checks only means that recovery starts from an older snapshot, or from
//! the journal's first entry.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `CETXGWSN` |
//! | 8 | 4 | version, `u32` LE (5) |
//! | 12 | 8 | the sequence number the state is *after*, `u64` LE |
//! | 20 | 8 | payload length, `u64` LE |
//! | 28 | 4 | CRC32C of the payload, `u32` LE |
//! | 32 | n | [`Stored`], encoded by [`crate::codec::encode_snapshot`] |

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use cetx_engine::journal::{read_framed, write_framed, RecoveryObserver};
use cetx_engine::{
    AuctionClosed, BrokerId, Command, Engine, EngineState, Event, OrderId, Side, Stamp,
};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::client_orders::{read_day, ClientOrderLog, DayRef, Named, Rebuilding};
use crate::codec::{decode_snapshot, encode_snapshot};
use crate::protocol::ServerFrame;
use crate::reports::Reports;

const MAGIC: [u8; 8] = *b"CETXGWSN";
/// 2: today's client order ids are their own index; the reports keep
/// only live orders. 3: the reports keep today's open block offers and
/// pending deals. 4: the day's full chunks of client orders are in a day
/// file. 5: the auctions closed in the day. A file of an older version is
/// passed over like a damaged one (recovery reads the journal further back
/// instead).
const VERSION: u32 = 5;

/// What the gateway rebuilds from the journal, as of one entry.
#[derive(Clone, Debug, Default)]
pub(super) struct GatewayState {
    /// The reports' numbering, marks and live orders (not the recent
    /// reports: a cache). The router copies all but the live orders; the
    /// snapshot thread puts those back from its engine ([`Self::rest`]).
    pub(super) reports: Reports,
    /// Today's client order ids, the sequencer's index of them rebuilt
    /// on reading.
    pub(super) client_orders: ClientOrderLog,
    /// The auctions closed in their instrument's trading day.
    pub(super) closed_auctions: ClosedAuctions,
    /// The time of the last entry, if any.
    pub(super) last_time_ns: Option<i64>,
}

impl GatewayState {
    /// Puts the live orders back into the reports of a copy made for a
    /// snapshot ([`Reports::for_snapshot`]), from `engine`, the engine's
    /// state after the same entry: the orders resting in its books, each
    /// named as today's client orders say. They are the orders the
    /// reports replayed keep: an order is kept from its `Submit` or `Take`
    /// until it is rejected, cancelled, expires or fills, which is when it
    /// stops resting (a take never rests; it fills or is rejected in its
    /// own entry).
    ///
    /// # Errors
    /// A sentence naming a resting order that today's client orders do
    /// not name (a defect: then no snapshot is written of this entry).
    fn rest(&mut self, engine: &EngineState) -> Result<(), String> {
        let resting: FxHashMap<OrderId, Side> = engine
            .instruments
            .iter()
            .flat_map(|instrument| instrument.bids.iter().chain(&instrument.asks))
            .map(|order| (order.order_id, order.side))
            .collect();
        let live = self.client_orders.live_orders(&resting);
        if let Some(order) = resting.keys().find(|id| !live.contains_key(id)) {
            return Err(format!(
                "order {} rests in the book but is not among today's client orders",
                order.0
            ));
        }
        self.reports.set_live_orders(live);
        Ok(())
    }
}

/// A [`GatewayState`] as its file holds it: the day's client orders as
/// where their full chunks are, and the last chunk.
#[derive(Serialize, Deserialize)]
struct Stored<R, T, A> {
    reports: R,
    day: DayRef,
    tail: T,
    closed_auctions: A,
    last_time_ns: Option<i64>,
}

/// The auctions closed in each instrument's current trading day, by id:
/// what the engine no longer holds and a new feed subscriber's snapshot
/// still shows, after a restart too ([`crate::market_data::MarketData`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ClosedAuctions(BTreeMap<u64, AuctionClosed>);

impl ClosedAuctions {
    /// Takes an entry's events: a close adds its auction, an instrument's
    /// end of day forgets its auctions (as the feed's state does).
    pub(super) fn observe(&mut self, events: &[Event]) {
        for event in events {
            match event {
                Event::AuctionClosed(closed) => {
                    self.0.insert(closed.auction_id, *closed);
                }
                Event::DayClosed(day) => self.0.retain(|_, c| c.instrument != day.instrument),
                _ => {}
            }
        }
    }

    /// The auctions, by id.
    pub(super) fn iter(&self) -> impl Iterator<Item = &AuctionClosed> {
        self.0.values()
    }
}

/// A gateway state's file name, around its sequence number.
const NAME: (&str, &str) = ("gateway-", ".snap");

/// The file name of the gateway's state after entry `seq`.
fn file_name(seq: u64) -> String {
    format!("{}{seq:020}{}", NAME.0, NAME.1)
}

/// Writes the state after entry `seq` into `dir`, its day's full chunks
/// of client orders being where `day` says, once its live orders are put
/// back from `engine`, the engine's state after the same entry
/// ([`GatewayState::rest`]).
///
/// # Errors
/// A sentence saying what failed; no partial file is left under the final
/// name.
pub(super) fn write(
    dir: &Path,
    seq: u64,
    state: &mut GatewayState,
    engine: &EngineState,
    day: DayRef,
) -> Result<PathBuf, String> {
    state.rest(engine)?;
    let stored = Stored {
        reports: &state.reports,
        day,
        tail: state.client_orders.tail(),
        closed_auctions: &state.closed_auctions,
        last_time_ns: state.last_time_ns,
    };
    let payload =
        encode_snapshot(&stored).map_err(|e| format!("encoding the gateway state: {e}"))?;
    let path = dir.join(file_name(seq));
    write_framed(&path, MAGIC, VERSION, seq, &payload).map_err(|e| e.to_string())?;
    Ok(path)
}

/// Reads and checks the state after entry `seq` from `dir`.
///
/// # Errors
/// A sentence saying what is wrong (missing, damaged, another version).
pub(super) fn read(dir: &Path, seq: u64) -> Result<GatewayState, String> {
    let stored = read_stored(dir, seq)?;
    Ok(GatewayState {
        reports: stored.reports,
        client_orders: read_day(dir, stored.day, stored.tail)?,
        closed_auctions: stored.closed_auctions,
        last_time_ns: stored.last_time_ns,
    })
}

/// Where the state after entry `seq` keeps its day's full chunks, if the
/// state reads.
pub(super) fn read_day_ref(dir: &Path, seq: u64) -> Option<DayRef> {
    read_stored(dir, seq).ok().map(|stored| stored.day)
}

fn read_stored(
    dir: &Path,
    seq: u64,
) -> Result<Stored<Reports, Vec<Named>, ClosedAuctions>, String> {
    let path = dir.join(file_name(seq));
    let describe = |why: String| format!("{}: {why}", path.display());
    let (found, payload) = read_framed(&path, MAGIC, VERSION).map_err(describe)?;
    if found != seq {
        return Err(describe(format!("holds the state after seq {found}")));
    }
    decode_snapshot(&payload).map_err(|e| describe(e.to_string()))
}

/// Removes every gateway state in `dir` whose sequence number is not in
/// `keep` (those of the engine snapshots kept).
///
/// # Errors
/// A sentence saying what failed.
pub(super) fn prune(dir: &Path, keep: &[u64]) -> Result<Vec<PathBuf>, String> {
    remove_numbered(dir, NAME, keep)
}

/// Removes every file in `dir` named `{prefix}{n}{suffix}` whose number
/// `n` is not in `keep`, and says which.
///
/// # Errors
/// A sentence saying what failed.
pub(super) fn remove_numbered(
    dir: &Path,
    (prefix, suffix): (&str, &str),
    keep: &[u64],
) -> Result<Vec<PathBuf>, String> {
    let listing = fs::read_dir(dir).map_err(|e| format!("listing {}: {e}", dir.display()))?;
    let mut removed = Vec::new();
    for entry in listing.flatten() {
        let name = entry.file_name();
        let seq = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|n| n.strip_suffix(suffix))
            .and_then(|n| n.parse::<u64>().ok());
        if seq.is_some_and(|seq| !keep.contains(&seq)) {
            fs::remove_file(entry.path())
                .map_err(|e| format!("removing {}: {e}", entry.path().display()))?;
            removed.push(entry.path());
        }
    }
    Ok(removed)
}

/// Rebuilds the gateway's state in recovery's one pass over the journal:
/// from its own state at the engine snapshot recovery starts from, or from
/// nothing.
pub(super) struct Rebuild<'a> {
    dir: &'a Path,
    symbols: Vec<String>,
    recent_reports: usize,
    /// The reports and the last entry's time (its `client_orders` stay
    /// empty: they are indexed in `client_orders` here).
    pub(super) state: GatewayState,
    pub(super) client_orders: Rebuilding,
    scratch: Vec<(BrokerId, ServerFrame)>,
}

impl<'a> Rebuild<'a> {
    pub(super) fn new(dir: &'a Path, symbols: Vec<String>, recent_reports: usize) -> Self {
        Self {
            dir,
            state: GatewayState {
                reports: Reports::new(symbols.clone(), recent_reports),
                ..GatewayState::default()
            },
            symbols,
            recent_reports,
            client_orders: Rebuilding::default(),
            scratch: Vec::new(),
        }
    }
}

impl RecoveryObserver for Rebuild<'_> {
    fn start_after(&mut self, snapshot_seq: Option<u64>) -> Result<(), String> {
        let Some(seq) = snapshot_seq else {
            self.state = GatewayState {
                reports: Reports::new(self.symbols.clone(), self.recent_reports),
                ..GatewayState::default()
            };
            self.client_orders = Rebuilding::default();
            return Ok(());
        };
        let mut state = read(self.dir, seq)?;
        state.reports.keep_recent(self.recent_reports);
        let log = std::mem::take(&mut state.client_orders);
        self.client_orders = Rebuilding::from_log(log);
        self.state = state;
        Ok(())
    }

    fn entry(&mut self, engine: &Engine, stamp: Stamp, command: &Command, events: &[Event]) {
        let state = &mut self.state;
        state
            .reports
            .on_entry_into(stamp, command, events, &mut self.scratch);
        self.client_orders.observe(engine, command, events);
        state.closed_auctions.observe(events);
        self.scratch.clear();
        state.last_time_ns = Some(stamp.time_ns);
    }
}

/// What [`archive`] did: the engine's account of it, and the first entry
/// kept live for the brokers' resumes.
#[derive(Clone, Debug)]
pub struct ArchiveOutcome {
    /// The segments moved, and the snapshot's limit.
    pub archived: cetx_engine::journal::Archived,
    /// Entries from here on stay live: the start of the trading day of the
    /// oldest snapshot kept (1 when no snapshot has its gateway state, or
    /// no day is marked in it).
    pub resume_floor: u64,
}

/// `cetx journal archive`: moves the settled segments of the journal in
/// `dir` (those wholly before `before_seq`) to `archive_dir` (`None`: the
/// one its manifest names, else `../archive`), as
/// [`cetx_engine::journal::archive_segments`] does, but never one holding
/// an entry of the oldest kept snapshot's trading day or later. A broker
/// resuming from a report of that day reads it back from the day's start
/// (`history.rs`), and the archive is only for what is older.
///
/// # Errors
/// As [`cetx_engine::journal::archive_segments`].
pub fn archive(
    dir: &Path,
    archive_dir: Option<&Path>,
    before_seq: u64,
) -> Result<ArchiveOutcome, cetx_engine::JournalError> {
    let archive_dir = match archive_dir {
        Some(given) => given.to_path_buf(),
        None => cetx_engine::journal::Manifest::read(dir)?
            .and_then(|manifest| manifest.archive_dir)
            .unwrap_or_else(|| PathBuf::from("../archive")),
    };
    let resume_floor = resume_floor(dir)?;
    let archived =
        cetx_engine::journal::archive_segments(dir, &archive_dir, before_seq.min(resume_floor))?;
    Ok(ArchiveOutcome {
        archived,
        resume_floor,
    })
}

/// The first entry that a restart from the oldest snapshot that reads with
/// its gateway state, or a resume read back from its trading day, may
/// read.
fn resume_floor(dir: &Path) -> Result<u64, cetx_engine::JournalError> {
    let oldest = cetx_engine::journal::list_snapshots(dir)?
        .into_iter()
        .rev()
        .filter(|(_, path)| cetx_engine::journal::read_snapshot(path).is_ok())
        .find_map(|(seq, _)| read_stored(dir, seq).ok().map(|stored| (seq, stored)));
    Ok(oldest.map_or(1, |(seq, stored)| {
        stored
            .reports
            .last_day_start()
            .map_or(1, |start| start.min(seq))
    }))
}

#[cfg(test)]
mod tests {
    use cetx_engine::{AccountId, DayClosed, InstrumentId, Pricing};

    use super::*;

    fn closed(auction_id: u64, instrument: u16) -> AuctionClosed {
        AuctionClosed {
            auction_id,
            instrument: InstrumentId(instrument),
            seller: AccountId(2001),
            pricing: Pricing::Uniform,
            clearing_ticks: 92_00,
            sold_t: 150_000,
            unsold_t: 0,
            turnover_fen: 13_800_000_00,
        }
    }

    fn day_closed(instrument: u16) -> Event {
        Event::DayClosed(DayClosed {
            trading_day: 3,
            instrument: InstrumentId(instrument),
            open_ticks: 0,
            high_ticks: 0,
            low_ticks: 0,
            close_ticks: 0,
            volume_t: 0,
            turnover_fen: 0,
            trade_count: 0,
        })
    }

    #[test]
    fn the_day_s_closed_auctions_last_until_their_instrument_s_day_ends_and_are_read_back() {
        let mut auctions = ClosedAuctions::default();
        auctions.observe(&[
            Event::AuctionClosed(closed(1, 0)),
            Event::AuctionClosed(closed(2, 1)),
        ]);
        auctions.observe(&[Event::AuctionClosed(closed(3, 0)), day_closed(1)]);
        let ids: Vec<u64> = auctions.iter().map(|a| a.auction_id).collect();
        assert_eq!(ids, [1, 3]);

        let dir = tempfile::tempdir().unwrap();
        let mut state = GatewayState {
            closed_auctions: auctions.clone(),
            ..GatewayState::default()
        };
        let engine = Engine::default().state();
        write(dir.path(), 9, &mut state, &engine, DayRef::default()).unwrap();
        assert_eq!(read(dir.path(), 9).unwrap().closed_auctions, auctions);

        auctions.observe(&[day_closed(0)]);
        assert_eq!(auctions.iter().count(), 0);
    }

    /// A market of three accounts of two brokers, whose entries are
    /// followed by the reports and today's client orders as the router
    /// and the sequencer follow them.
    struct Market {
        engine: cetx_engine::Engine,
        reports: Reports,
        client_orders: super::super::client_orders::ClientOrders,
        seq: u64,
        next_client_order_id: u64,
        orders: Vec<OrderId>,
    }

    const CEA: InstrumentId = InstrumentId(0);
    const ACCOUNTS: [(u32, u32); 3] = [(11, 1), (12, 1), (21, 2)];

    impl Market {
        fn new() -> Self {
            let spec = cetx_engine::InstrumentSpec::cea(2025, cetx_engine::Decimal::new(90_00, 2));
            let engine = cetx_engine::Engine::new(&cetx_engine::EngineConfig {
                instruments: vec![spec],
            })
            .unwrap();
            let mut market = Self {
                engine,
                reports: Reports::new(vec!["CEA2025".into()], 16),
                client_orders: super::super::client_orders::ClientOrders::default(),
                seq: 0,
                next_client_order_id: 0,
                orders: Vec::new(),
            };
            for (account, broker) in ACCOUNTS {
                let account = AccountId(account);
                market.apply(Command::OpenAccount {
                    account,
                    participant: cetx_engine::ParticipantType::ComplianceEntity,
                    broker: BrokerId(broker),
                });
                market.apply(Command::Deposit {
                    account,
                    amount_fen: 1_000_000_00,
                });
                market.apply(Command::CreditHoldings {
                    account,
                    instrument: CEA,
                    quantity_t: 100_000,
                });
            }
            market.open();
            market
        }

        fn open(&mut self) {
            self.apply(Command::SetPhase {
                instrument: CEA,
                phase: cetx_engine::Phase::Continuous,
            });
        }

        fn apply(&mut self, mut command: Command) {
            self.seq += 1;
            let seq = self.seq;
            match &mut command {
                Command::Submit(order) => order.order_id = OrderId(seq),
                Command::Take(take) => take.order_id = OrderId(seq),
                _ => {}
            }
            let stamp = Stamp {
                seq,
                time_ns: i64::try_from(seq).unwrap(),
            };
            let mut events = Vec::new();
            self.engine.apply(&command, stamp, &mut events);
            self.client_orders.observe(&self.engine, &command, &events);
            let mut out = Vec::new();
            self.reports
                .on_entry_into(stamp, &command, &events, &mut out);
            if matches!(command, Command::Submit(_) | Command::Take(_)) {
                self.orders.push(OrderId(seq));
            }
        }

        /// One step of a random day: `op` picks what, the rest its terms.
        fn step(&mut self, (op, account, pick, price, quantity): (u8, usize, usize, i64, u64)) {
            let (account, broker) = ACCOUNTS[account % ACCOUNTS.len()];
            let (account, broker) = (AccountId(account), BrokerId(broker));
            let side = if pick % 2 == 0 { Side::Buy } else { Side::Sell };
            let price_ticks = 89_95 + price;
            let named = self.orders.get(pick % self.orders.len().max(1)).copied();
            self.next_client_order_id += 1;
            let client_order_id = self.next_client_order_id;
            let requester = Some(cetx_engine::Requester {
                broker,
                client_order_id,
            });
            let new = |order_type, time_in_force| {
                Command::Submit(cetx_engine::NewOrder {
                    order_id: OrderId(0),
                    account,
                    instrument: CEA,
                    side,
                    order_type,
                    time_in_force,
                    price_ticks,
                    quantity_t: quantity,
                    client_order_id,
                })
            };
            use cetx_engine::{OrderType, TimeInForce};
            let command = match op {
                0..=4 => new(OrderType::Limit, TimeInForce::Day),
                5 => new(OrderType::Limit, TimeInForce::Ioc),
                6 => new(OrderType::Limit, TimeInForce::Fok),
                7 => new(OrderType::Market, TimeInForce::Ioc),
                8 | 9 => Command::Cancel {
                    instrument: CEA,
                    order_id: named.unwrap_or(OrderId(1)),
                    requester,
                },
                10 | 11 => Command::Amend {
                    instrument: CEA,
                    order_id: named.unwrap_or(OrderId(1)),
                    price_ticks,
                    quantity_t: quantity,
                    requester,
                },
                12 | 13 => Command::Take(cetx_engine::Take {
                    order_id: OrderId(0),
                    account,
                    instrument: CEA,
                    side,
                    target: named.unwrap_or(OrderId(1)),
                    quantity_t: quantity,
                    client_order_id,
                }),
                14 => Command::SetAccountStatus {
                    account,
                    status: if pick % 3 == 0 {
                        cetx_engine::Status::Suspended
                    } else {
                        cetx_engine::Status::Active
                    },
                },
                _ => {
                    self.apply(Command::EndOfDay { trading_date: None });
                    self.orders.clear();
                    self.open();
                    return;
                }
            };
            self.apply(command);
        }

        /// The gateway's state for a snapshot of now, its live orders put
        /// back from the engine's state.
        fn snapshot(&self) -> GatewayState {
            let mut state = GatewayState {
                reports: self.reports.for_snapshot(),
                client_orders: self.client_orders.log(),
                ..GatewayState::default()
            };
            state.rest(&self.engine.state()).unwrap();
            state
        }
    }

    proptest::proptest! {
        /// After any entry, the live orders a snapshot takes from the
        /// engine's resting orders are the orders the reports keep:
        /// orders that rest, fill in part, are cancelled, amended, taken,
        /// expire, are cancelled by a suspension; takes, IOC, FOK and
        /// market orders that never rest; refused requests of each kind.
        #[test]
        fn a_snapshot_s_live_orders_are_the_reports_own(
            steps in proptest::collection::vec(
                (0_u8..16, 0_usize..3, 0_usize..64, 0_i64..10, 1_u64..40),
                1..120,
            ),
        ) {
            let mut market = Market::new();
            for step in steps {
                market.step(step);
                let state = market.snapshot();
                proptest::prop_assert_eq!(
                    state.reports.live_orders(),
                    market.reports.live_orders()
                );
            }
        }
    }

    /// A day longer than a chunk of the client order log (4,096 orders):
    /// orders resting from the full chunks and the one being filled.
    #[test]
    fn live_orders_are_found_across_the_log_s_chunks() {
        let mut market = Market::new();
        for i in 0..6_000_u64 {
            // Rests, one price level a side per account; every seventh
            // buys and trades.
            let account = usize::try_from(i % 3).unwrap();
            let pick = usize::from(i % 7 == 0);
            market.step((0, account, pick, i64::try_from(i % 5).unwrap(), 1 + i % 4));
        }
        let state = market.snapshot();
        assert!(
            state.reports.live_orders().len() > super::super::client_orders::CHUNK,
            "{}",
            state.reports.live_orders().len()
        );
        assert_eq!(state.reports.live_orders(), market.reports.live_orders());
    }

    /// An order resting that today's client orders do not name is a
    /// defect the snapshot says, and is not written.
    #[test]
    fn a_resting_order_with_no_client_order_fails_the_snapshot() {
        let mut market = Market::new();
        market.step((0, 0, 0, 0, 5));
        let mut state = GatewayState {
            reports: market.reports.for_snapshot(),
            ..GatewayState::default()
        };
        let error = state.rest(&market.engine.state()).unwrap_err();
        assert!(
            error.contains("is not among today's client orders"),
            "{error}"
        );
        assert_eq!(market.snapshot().reports.live_orders().len(), 1);
    }
}
