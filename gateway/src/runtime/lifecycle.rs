//! Starting and stopping the runtime: the lock, recovery (the engine and the
//! gateway's state in one pass over the journal after the newest snapshot),
//! the first commands, the threads, and an orderly shutdown.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

use cetx_engine::histogram::Histogram;
use cetx_engine::journal::{self, JournalLock, OnDurable};
use cetx_engine::{
    AccountId, BrokerId, JournalBatch, JournalError, JournalWriter, ParticipantType, Progress,
};
use tokio::sync::watch;

use super::activity::Activity;
use super::book_fill::{BookFill, BookLoads};
use super::definition;
use super::handle::{Gate, RuntimeHandle, Shared};
use super::history::{self, Pace};
use super::pending::{Owed, PendingCancels};
use super::replica::Replica;
use super::router::{self, Outbound, Router, SnapshotQueue, Turn};
use super::scheduler::{self, Scheduler};
use super::sequencer::{Input, Sequencer, TURN_NS_BUCKETS, TURN_NS_SHIFT};
use super::state::{GatewayState, Rebuild};
use super::symbols::{Published, SymbolTable};
use super::{RuntimeError, RuntimeOptions, RuntimeStatus, JOURNAL_DIR};
use crate::config::ServerConfig;
use crate::market_data::MarketData;

/// A running runtime: its threads and the journal. Dropping it shuts it
/// down as [`Runtime::shutdown`] does, without telling how that went.
pub struct Runtime {
    handle: RuntimeHandle,
    engine_thread: Option<JoinHandle<Result<(), RuntimeError>>>,
    snapshot_thread: Option<JoinHandle<()>>,
    journal: Option<Arc<JournalWriter<Turn>>>,
    /// The market's accounts when it started, by id: the journal's, which
    /// a config's `[[accounts]]` only opens on a new market.
    accounts: Vec<(AccountId, BrokerId, ParticipantType)>,
    /// Held from before recovery until the runtime is dropped: one
    /// process per data directory.
    _lock: JournalLock,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Recovers the market from `options.data_dir` and starts it; see the
    /// module docs for the steps.
    ///
    /// # Errors
    /// [`RuntimeError::Recover`] for a journal that cannot be recovered;
    /// [`RuntimeError::Journal`] when it cannot be read or the writer not
    /// opened, or the first commands not journaled;
    /// [`RuntimeError::Spawn`] when a thread cannot be started;
    /// [`RuntimeError::InvalidOption`] for a zero subscriber capacity.
    pub fn start(config: &ServerConfig, options: RuntimeOptions) -> Result<Self, RuntimeError> {
        if options.subscriber_capacity == 0 {
            return Err(RuntimeError::InvalidOption(
                "subscriber_capacity must be positive",
            ));
        }
        let began = Instant::now();
        let journal_dir = options.data_dir.join(JOURNAL_DIR);
        let lock = JournalLock::acquire(&journal_dir).map_err(|source| RuntimeError::Journal {
            context: "locking the journal directory",
            source,
        })?;
        let symbols = config
            .instruments
            .iter()
            .map(|i| i.symbol.clone())
            .collect();
        let mut rebuild = Rebuild::new(&journal_dir, symbols, config.server.recent_reports);
        // The journal is taken to have been written as the config says
        // now: in `fsync`, a snapshot ahead of its end is damage.
        let durability = config.journal.durability.into();
        // Recovery may cut a torn tail or trim a segment: in a directory
        // the writer could not go on in, refuse before changing anything.
        if durability == journal::Durability::None {
            let segments = journal::format::list_segments(&journal_dir).map_err(|source| {
                RuntimeError::Journal {
                    context: "listing the journal directory",
                    source,
                }
            })?;
            if !segments.is_empty() {
                return Err(RuntimeError::UnjournaledMarket(journal_dir));
            }
            tracing::warn!("durability = \"none\": nothing is journaled; every order, fill and transfer of this run is gone when it stops (benchmarks only)");
        } else {
            journal::check_writable(&journal_dir).map_err(|source| RuntimeError::Journal {
                context: "checking the journal directory",
                source,
            })?;
        }
        // The first segment the writer will start is written ahead while
        // recovery reads: the server listens only once it is ready
        // (`JournalWriter::open_ahead`), and a restart does not wait twice.
        let journal_config = config.journal.journal_config();
        let ahead =
            journal::WriteAhead::start(&journal_dir, &journal_config).map_err(|source| {
                RuntimeError::Journal {
                    context: "starting to write segments ahead",
                    source,
                }
            })?;
        let recovered = journal::recover_with(&journal_dir, durability, &mut rebuild)?;
        let manifest =
            journal::Manifest::read(&journal_dir).map_err(|source| RuntimeError::Journal {
                context: "reading the journal's manifest",
                source,
            })?;
        let archived = super::history::Archived::listed(&journal_dir, manifest.as_ref());
        if let Some(torn) = &recovered.torn_tail {
            tracing::warn!(file = %torn.file.display(), offset = torn.offset,
                saved_to = %torn.saved_to.display(), "cut a torn tail off the journal");
        }
        if recovered.written_in.is_none() && recovered.next_seq > 1 {
            tracing::warn!(
                configured = durability.name(),
                "the journal does not say the durability it was written in (no journal/DURABILITY: an older build's journal, or the file was removed): its end was judged by this server's"
            );
        }
        let changed = |w: &journal::Durability| *w != durability && recovered.next_seq > 1;
        if let Some(written_in) = recovered.written_in.filter(changed) {
            tracing::warn!(
                written_in = written_in.name(),
                configured = durability.name(),
                "the journal was last written in another durability: its end was judged by the one it was written in; from now on it is written in this server's"
            );
        }
        for (path, why) in &recovered.skipped_snapshots {
            tracing::warn!(path = %path.display(), why, "skipped a snapshot");
        }
        if !recovered.closed_cleanly {
            // Told, since a kill's end cannot be checked as a clean stop's
            // can (docs/JOURNAL.md, What the format promises).
            tracing::warn!(
                last_seq = recovered.next_seq - 1,
                "the journal's last server did not stop cleanly (killed, the machine stopped, or it stopped on an error such as a full disk, which its log names): the journal ends where its data ends"
            );
        }
        let client_orders = rebuild.client_orders.finish();
        let GatewayState {
            mut reports,
            closed_auctions,
            last_time_ns,
            ..
        } = rebuild.state;
        let now_ns = options.clock.now_ns();
        if options.accept_config_change {
            definition::check_day_begun(&recovered.engine, &config.calendar, last_time_ns)?;
        }
        let definition = definition::plan(
            recovered.engine,
            &config.market(),
            &config.block_rules(),
            options.accept_config_change,
            recovered.next_seq,
            last_time_ns.map_or(now_ns, |last| last.max(now_ns)),
        )?;
        // The accounts of a new market are opened by the engine thread
        // (`start_up`), but tried first: a genesis the engine refuses
        // refuses the start with nothing journaled.
        let genesis = if recovered.next_seq == 1 {
            tracing::info!(journal = %journal_dir.display(),
                "the journal is empty: a new market begins, from the config");
            config.account_genesis()
        } else {
            Vec::new()
        };
        definition::check_genesis(
            &definition,
            genesis.clone(),
            recovered.next_seq + definition.entries.len() as u64,
            now_ns,
        )?;
        let mut engine = definition.engine;
        // A new market's are opened from the config once the engine
        // thread runs (`start_up`).
        let opened = engine
            .accounts()
            .iter()
            .map(|a| (a.id, a.broker, a.participant));
        let from_config = config
            .accounts
            .iter()
            .map(|a| (a.id, a.broker, a.participant));
        let mut accounts: Vec<_> = if recovered.next_seq == 1 {
            opened.chain(from_config).collect()
        } else {
            if !config.accounts.is_empty() {
                tell_accounts_are_the_journals(&engine, &config.accounts);
            }
            opened.collect()
        };
        accounts.sort_unstable_by_key(|&(id, ..)| id);
        let next_seq = recovered.next_seq + definition.entries.len() as u64;
        // A snapshot is tied to its journal record: without a journal
        // (`none`, benchmarks only) there is none to write.
        let snapshot_every = if durability == journal::Durability::None {
            u64::MAX
        } else {
            config.journal.snapshot_every.max(1)
        };
        // The snapshot thread's copy, before the live engine's books are
        // mapped in full: it follows the journal from here.
        let replica = (snapshot_every != u64::MAX)
            .then(|| Replica::new(engine.clone(), &journal_dir, next_seq, snapshot_every));
        // Map every page the books may use now, so that no order waits for
        // the kernel to map one (docs/CONFIG.md: what each capacity costs).
        engine.prefault();
        // The journal's market, with what the definition's entries just
        // listed (they are journaled here, not routed).
        let symbols = SymbolTable::of(&engine);
        for (id, symbol) in symbols.symbols().iter().enumerate() {
            let id = cetx_engine::InstrumentId(u16::try_from(id).unwrap_or(u16::MAX));
            reports.list(id, symbol);
        }
        let added = &engine.membership().brokers;
        if let Some(broker) = config.brokers.iter().find(|b| added.contains_key(&b.id)) {
            return Err(RuntimeError::BrokerInConfigAndJournal(broker.id.0));
        }
        // The calendar's progress is the journal's as recovery found it:
        // the definition's entries are stamped now, but a close missed
        // while the server was down has still to run.
        let calendar_done_ns = last_time_ns;
        let last_time_ns = definition
            .entries
            .last()
            .map_or(last_time_ns, |e| Some(e.0.time_ns));
        let calendar = engine
            .calendar()
            .cloned()
            .expect("the market's definition sets a calendar");
        let instruments: Vec<_> = engine.instrument_ids().collect();
        let market = config
            .market_data
            .as_ref()
            .map(|settings| MarketData::new(&engine, closed_auctions.iter(), settings.buffer));
        let snapshot = recovered
            .snapshot_seq
            .map_or_else(|| "none".to_owned(), |seq| seq.to_string());
        tracing::info!(next_seq = recovered.next_seq, %snapshot,
            replayed = recovered.replayed, ms = began.elapsed().as_millis(),
            "recovered the journal");

        let (status, _) = watch::channel(RuntimeStatus::Running);
        let brokers = config.brokers.iter().map(|b| b.id);
        let shared = Arc::new(Shared {
            outbound: Mutex::new(Outbound {
                reports,
                subscribers: BTreeMap::new(),
                capacity: options.subscriber_capacity,
                answered: BTreeMap::new(),
                activity: Activity::default(),
                members: engine.membership().clone(),
                closed_auctions,
                disconnecting: BTreeMap::new(),
            }),
            gate: Gate::default(),
            pending: Arc::new(PendingCancels::new(brokers.clone())),
            brokers: brokers.collect(),
            cancel_on_disconnect: config
                .brokers
                .iter()
                .filter(|b| b.cancel_on_disconnect)
                .map(|b| b.id)
                .collect(),
            calendar: calendar.clone(),
            open_date: Arc::default(),
            last_time: Arc::new(AtomicI64::new(i64::MIN)),
            book_loads: Arc::new(BookLoads::new(instruments.len())),
            clock: options.clock.clone(),
            status,
            next_subscription: AtomicU64::new(1),
            journal_dir: journal_dir.clone(),
            archived,
            archive_refusals: crate::log_tally::SharedTally::new(crate::log_tally::INTERVAL),
            resume_pace: Arc::new(Pace::new(config.server.resume_reports_per_s)),
            market: market.clone(),
            taken: std::sync::RwLock::new(
                config
                    .brokers
                    .iter()
                    .map(|b| (b.id, Arc::new(AtomicU64::new(0))))
                    .collect(),
            ),
            journal: OnceLock::new(),
            turn_ns: Arc::new(Histogram::new(TURN_NS_SHIFT, TURN_NS_BUCKETS)),
            snapshot_counts: Arc::default(),
            queue_capacity: config.server.queue_capacity,
            session_refusals: std::sync::Mutex::default(),
            symbols: Arc::new(Published::new(symbols)),
        });
        let (inputs, input_queue) = crossbeam_channel::bounded(config.server.queue_capacity);
        // A few spare turns are enough: the router finishes one while the
        // engine fills the next.
        let (recycle, recycled) = crossbeam_channel::bounded(4);
        let keep_snapshots = config.journal.keep_snapshots;
        let (snapshots, snapshot_queue) = SnapshotQueue::new(keep_snapshots);
        let delivery = Delivering {
            router: Router::new(
                recycle,
                snapshots,
                Arc::clone(&shared.snapshot_counts),
                market,
            ),
            shared: Arc::clone(&shared),
        };
        let journal = JournalWriter::open_ahead(
            &journal_dir,
            recovered.next_seq,
            recovered.read_from,
            journal_config,
            delivery,
            ahead,
        )
        .map_err(|source| RuntimeError::Journal {
            context: "opening the journal writer",
            source,
        })?;
        definition::journal(&journal, &definition.entries, durability)?;
        let journal = Arc::new(journal);
        let _ = shared.journal.set(journal.probe());
        let mut runtime = Self {
            handle: RuntimeHandle {
                shared: Arc::clone(&shared),
                inputs,
            },
            engine_thread: None,
            snapshot_thread: None,
            journal: Some(Arc::clone(&journal)),
            accounts,
            _lock: lock,
        };
        let counts = Arc::clone(&shared.snapshot_counts);
        runtime.snapshot_thread = Some(spawn("cetx-snapshot", move || {
            history::yield_to_live_path();
            router::write_snapshots(
                &journal_dir,
                replica,
                &snapshot_queue,
                keep_snapshots,
                &counts,
            );
        })?);

        let progress = Progress {
            closed_date: engine.closed_date(),
            done_ns: calendar_done_ns.unwrap_or(now_ns),
        };
        let book_fill = BookFill::new(&engine, Arc::clone(&shared.book_loads));
        let mut sequencer = Sequencer {
            engine,
            journal,
            recycled,
            turn: Turn::default(),
            journal_batch: JournalBatch::default(),
            clock: options.clock,
            // After a restart, the transitions missed while the server was
            // down are due (a missed close still ends its day).
            scheduler: Scheduler::new(calendar, instruments, progress),
            open_date: Arc::clone(&shared.open_date),
            client_orders,
            next_seq,
            last_time_ns: last_time_ns.unwrap_or(i64::MIN),
            last_time: Arc::clone(&shared.last_time),
            now_ns,
            snapshot_every,
            cancel_on_disconnect: shared.cancel_on_disconnect.clone(),
            pending: Arc::clone(&shared.pending),
            owed: Owed::default(),
            book_fill,
            turn_ns: Arc::clone(&shared.turn_ns),
            symbols: Arc::clone(&shared.symbols),
            market_phase: cetx_engine::Phase::Closed,
        };
        sequencer.publish_open_date();
        let started = start_up(&mut sequencer, genesis, options.open_market_now).and_then(|()| {
            // A runtime that has started has its first commands on disk
            // and routed: a replay beside it finds them, and a feed
            // subscriber's first snapshot has them (durable is
            // published after the riders are handed over).
            let last = sequencer.next_seq - 1;
            while !sequencer
                .journal
                .wait_durable(last, std::time::Duration::from_secs(1))
                .map_err(|source| RuntimeError::Journal {
                    context: "making the first commands durable",
                    source,
                })?
            {}
            Ok(())
        });
        if let Err(error) = started {
            drop(sequencer);
            // The threads stop; the error that matters is the first.
            let _ = runtime.stop();
            return Err(error);
        }
        // An operator starting on a weekend or a holiday learns here, not
        // from a broker's refused order, that the market is closed, and
        // which trading day it is in (tester 150 F2).
        tracing::info!(
            phase = ?sequencer.market_phase,
            trading_date = sequencer.scheduler.open_date(),
            "the market's phase at the start, and its trading day"
        );
        let engine_shared = Arc::clone(&shared);
        runtime.engine_thread = Some(spawn("cetx-engine", move || {
            let result = sequencer.run(&input_queue);
            if let Err(error) = &result {
                tracing::error!(%error, "the engine thread stopped: no request is taken any more");
                engine_shared.fail(format!("the engine thread stopped: {error}"));
            }
            result
        })?);
        tracing::info!(ms = began.elapsed().as_millis(), "the runtime is running");
        Ok(runtime)
    }

    /// The journal writer's counters so far (group commits, entries,
    /// bytes, syncs); `None` once the runtime has stopped.
    #[must_use]
    pub fn journal_stats(&self) -> Option<cetx_engine::journal::JournalStats> {
        self.journal.as_ref().map(|journal| journal.stats())
    }

    /// The market's accounts when it started, by id, with their broker
    /// and participant type.
    #[must_use]
    pub fn accounts_at_start(&self) -> &[(AccountId, BrokerId, ParticipantType)] {
        &self.accounts
    }

    /// A handle for sessions to submit, connect and control the clock.
    #[must_use]
    pub fn handle(&self) -> RuntimeHandle {
        self.handle.clone()
    }

    /// Stops taking requests (and connections), applies every request
    /// already taken, delivers the reports due, closes the journal (a last
    /// sync) and joins the threads. Subscriptions end. Resting orders stay
    /// for the restart: cancel-on-disconnect does not apply to a shutdown.
    ///
    /// # Errors
    /// The first failure of the run or of the shutdown: the journal's
    /// ([`RuntimeError::Journal`]), a stopped router, a panicked thread.
    pub fn shutdown(mut self) -> Result<(), RuntimeError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), RuntimeError> {
        let shared = Arc::clone(&self.handle.shared);
        shared.gate.close();
        shared.status.send_if_modified(|status| {
            let running = *status == RuntimeStatus::Running;
            if running {
                *status = RuntimeStatus::Stopping;
            }
            running
        });
        // The queue may be full; the engine thread is taking from it. When
        // the thread is gone, there is no one to tell.
        let _ = self.handle.inputs.send(Input::Shutdown);
        let mut first: Option<RuntimeError> = None;
        let mut keep = |error: RuntimeError| {
            if first.is_none() {
                first = Some(error);
            }
        };
        if let Some(thread) = self.engine_thread.take() {
            match thread.join() {
                Ok(result) => result.unwrap_or_else(&mut keep),
                Err(_) => keep(RuntimeError::Panicked("engine")),
            }
        }
        // Closing the journal syncs what was queued and delivers its
        // reports; the router goes with the writer thread, and with it the
        // snapshot thread's queue.
        if let Some(journal) = self.journal.take() {
            match Arc::try_unwrap(journal) {
                Ok(journal) => journal.close().unwrap_or_else(|source| {
                    keep(RuntimeError::Journal {
                        context: "closing the journal",
                        source,
                    });
                }),
                // Every thread that held it has been joined.
                Err(_) => unreachable!("the journal is shared only with joined threads"),
            }
        }
        if let Some(thread) = self.snapshot_thread.take() {
            if thread.join().is_err() {
                keep(RuntimeError::Panicked("snapshot"));
            }
        }
        router::lock(&shared.outbound).subscribers.clear();
        match first {
            None => {
                shared.status.send_if_modified(|status| {
                    let failed = matches!(status, RuntimeStatus::Failed(_));
                    if !failed {
                        *status = RuntimeStatus::Stopped;
                    }
                    !failed
                });
                Ok(())
            }
            Some(error) => {
                shared.fail(error.to_string());
                Err(error)
            }
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.journal.is_some() {
            if let Err(error) = self.stop() {
                tracing::error!(%error, "the runtime stopped with an error");
            }
        }
    }
}

/// The router on the journal writer thread, with the runtime's state: it
/// sends each turn's reports once the turn is durable, and when the
/// journal fails, fails the runtime and ends every subscription (after the
/// reports of what was durable).
struct Delivering {
    router: Router,
    shared: Arc<Shared>,
}

impl OnDurable<Turn> for Delivering {
    fn durable(&mut self, turn: Turn) {
        self.router.route(turn, &self.shared.outbound);
    }

    fn failed(&mut self, error: &JournalError) {
        tracing::error!(%error, "the journal failed: no report after the last durable entry is sent");
        self.shared.fail(format!("the journal failed: {error}"));
        router::lock(&self.shared.outbound).subscribers.clear();
    }

    fn preallocation_failed(&mut self, error: &JournalError) {
        tracing::warn!(%error, "segments can no longer be written ahead: each new segment grows as it is written, and syncs cost more (free disk space, then restart)");
    }
}

/// Applies the first commands on the calling thread, before the engine
/// thread starts: the genesis of a fresh market, the calendar's commands
/// missed while the server was down, and the phases for now.
fn start_up(
    sequencer: &mut Sequencer,
    genesis: Vec<cetx_engine::Command>,
    open_market_now: bool,
) -> Result<(), RuntimeError> {
    for command in genesis {
        sequencer.execute_own(command)?;
    }
    sequencer.run_schedule()?;
    // The phases of the moment the schedule was run to, not of the
    // clock's reading before recovery, which may be seconds older (the
    // calendar reads a time behind its progress as that moment anyway:
    // `Calendar::resume`; reviewer 152 asked).
    let now_ns = sequencer.now_ns;
    sequencer.market_phase = if open_market_now {
        cetx_engine::Phase::Continuous
    } else {
        sequencer.scheduler.phase(now_ns)
    };
    let phases = scheduler::startup_phases(
        &sequencer.engine,
        &sequencer.scheduler,
        now_ns,
        open_market_now,
    );
    for command in phases {
        sequencer.execute_own(command)?;
    }
    sequencer.flush_routes()
}

/// Says, on a market that has begun, that the config's `[[accounts]]`
/// change nothing: an operator who edits them is told so, and warned of
/// those the journal never opened.
fn tell_accounts_are_the_journals(
    engine: &cetx_engine::Engine,
    accounts: &[crate::config::AccountConfig],
) {
    let missing: Vec<_> = accounts
        .iter()
        .filter(|a| engine.account(a.id).is_none())
        .map(|a| a.id.0)
        .collect();
    if missing.is_empty() {
        tracing::info!(
            "the config's [[accounts]] opened this market when it began; edits to them change nothing now (its accounts are its journal's: open and fund them with cetx admin, docs/ADMIN.md)"
        );
    } else {
        tracing::warn!(
            ?missing,
            "accounts in the config's [[accounts]] are not in this market and were not opened: a market's accounts are its journal's once it has begun (open them with cetx admin open-account, docs/ADMIN.md)"
        );
    }
}

/// Starts a named thread.
fn spawn<T: Send + 'static>(
    name: &'static str,
    body: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, RuntimeError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(body)
        .map_err(|source| RuntimeError::Spawn { name, source })
}
