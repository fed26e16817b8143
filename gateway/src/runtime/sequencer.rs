//! The engine thread: the sequencer, the single writer of the market.
//!
//! It takes brokers' requests from the bounded queue in the order they
//! came, checks what only the gateway can (the symbol, that the broker acts
//! for the account, that a client order id is new today, that a cancel or
//! amend names one of the broker's orders today), and answers a failed
//! check itself with an unsequenced `OrderRejected` that is never
//! journaled. Everything else becomes a command: it gets the next sequence
//! number (a new order's id is that number, so ids rise strictly as the
//! engine requires) and a time from the [`Clock`], is applied to the
//! engine, appended to the journal and handed, with the turn, to the journal
//! writer, whose thread runs the router once it is durable. While the
//! market is closed for the day, a request the engine refuses is answered
//! unsequenced too, its refusal not journaled: nothing a broker sends then
//! grows the journal unless the engine takes it.
//!
//! The journal never falls behind the engine by a refused append: before a
//! broker's request is applied the sequencer makes sure the journal's queue
//! has room for it besides the entries of the turn so far (the engine
//! thread is its only writer), and answers `ServerBusy` when it has not.
//! The runtime's own commands (the calendar's, cancel-on-disconnect's) are
//! never refused, even past the queue's capacity. A journal that fails
//! stops this thread: nothing more may be decided that cannot be recorded.
//!
//! Each turn of the loop, and at least every [`SCHEDULER_TICK`] when no
//! request comes, the thread reads the clock once, the [`Scheduler`] says
//! which calendar commands are due, and they are applied before the
//! requests that turn brought: the first one it waited for and whatever
//! else is queued by then, up to [`MAX_TURN`]. Every command of a turn is
//! stamped with that turn's reading of the clock (never earlier than the
//! last command's time), and the turn's journal entries go to the journal
//! writer with its routes (reports and rejects, in order) riding on them:
//! one hand-off and at most one wake-up per turn rather than per request.
//!
//! An operator's `ListInstrument` is applied here like any command; once
//! the engine lists it, this thread publishes the grown symbol table (for
//! the sessions and the operators' channel), gives the instrument the
//! calendar's phases, and, when the market is in a session, journals the
//! `SetPhase` that opens it at once.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cetx_engine::histogram::Histogram;
use cetx_engine::{
    AccountId, BrokerId, Command, Engine, Event, InstrumentId, JournalBatch, JournalWriter,
    OrderId, Phase, RejectReason, Requester, Stamp,
};
use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::client_orders::{ClientOrder, ClientOrders};
use super::clock::Clock;
use super::pending::{Owed, PendingCancels};
use super::replica::snapshot_due;
use super::request::{Refusal, Request};
use super::router::{Routed, Turn};
use super::scheduler::Scheduler;
use super::symbols::{Published, SymbolTable};
use super::RuntimeError;

/// The longest the engine thread waits for a request before it asks the
/// scheduler again.
pub(super) const SCHEDULER_TICK: Duration = Duration::from_millis(50);

/// The most requests one turn of the engine loop takes from the queue.
pub(super) const MAX_TURN: usize = 256;

/// Buckets of the turn-time histogram, in nanoseconds: 1.024 µs (`2^10`)
/// up to 1.07 s (`2^30`), then larger.
pub(super) const TURN_NS_SHIFT: u32 = 10;
pub(super) const TURN_NS_BUCKETS: usize = 22;

/// What the engine thread takes from its queue.
#[derive(Debug)]
pub(super) enum Input {
    /// A broker's new order, cancel or amend.
    Request {
        /// The logged-in broker that sent it.
        broker: BrokerId,
        /// The request.
        request: Request,
    },
    /// The broker's last session ended: cancel its resting orders if its
    /// config says so, and say when that is durable and among its reports
    /// (so that its next login counts the cancels in its replay).
    Disconnect(BrokerId, tokio::sync::watch::Sender<bool>),
    /// An operator's command, answered once durable.
    Admin {
        /// The operator who asked for it.
        operator: u32,
        /// The command.
        command: Command,
        /// Where the outcome goes.
        reply: tokio::sync::oneshot::Sender<super::AdminOutcome>,
    },
    /// Nothing to do but look at the clock (it was set).
    Wake,
    /// Apply what is queued, then stop.
    Shutdown,
}

/// Who asked for a command, for an answer not journaled (busy, or the
/// engine's refusal while the market is closed).
#[derive(Clone, Copy, Debug)]
struct Caller {
    broker: BrokerId,
    request: Request,
}

/// The engine thread's state; see the module docs.
pub(super) struct Sequencer {
    pub(super) engine: Engine,
    /// Takes each turn's entries, and the turn for the router with them.
    pub(super) journal: Arc<JournalWriter<Turn>>,
    /// Turns the router is done with, to be filled again: their vectors
    /// keep their capacity, so a turn allocates nothing.
    pub(super) recycled: Receiver<Turn>,
    /// What this turn has for the router, in order; sent at its end.
    pub(super) turn: Turn,
    /// This turn's journal entries, handed to the writer at its end.
    pub(super) journal_batch: JournalBatch,
    pub(super) clock: Clock,
    pub(super) scheduler: Scheduler,
    /// Where the trading date the journal is in is published (for logins).
    pub(super) open_date: Arc<AtomicU32>,
    pub(super) client_orders: ClientOrders,
    /// The sequence number the next command gets.
    pub(super) next_seq: u64,
    /// The time of the last command: no command is stamped earlier.
    pub(super) last_time_ns: i64,
    /// Where it is published at the end of each turn (for the market's
    /// time: [`super::RuntimeHandle::market_time_ns`]).
    pub(super) last_time: Arc<AtomicI64>,
    /// The clock as this turn read it: the time its commands get.
    pub(super) now_ns: i64,
    /// Commands between two snapshots.
    pub(super) snapshot_every: u64,
    /// Brokers whose resting orders are cancelled when they disconnect.
    pub(super) cancel_on_disconnect: BTreeSet<BrokerId>,
    pub(super) pending: Arc<PendingCancels>,
    /// The owed cancels taken from `pending`, waiting for the inputs
    /// queued before them.
    pub(super) owed: Owed,
    /// Which books have been reported filling up.
    pub(super) book_fill: super::book_fill::BookFill,
    /// How long each turn that took a request ran, for metrics: two
    /// readings of the monotonic clock and two relaxed additions a turn,
    /// which decide nothing.
    pub(super) turn_ns: Arc<Histogram>,
    /// Every instrument's symbol, published for the sessions, the
    /// operators' channel and the metrics: this thread adds each
    /// instrument it lists.
    pub(super) symbols: Arc<Published<SymbolTable>>,
    /// The phase the market was last given, by the calendar or at start
    /// (continuous with `open_market_now`): an instrument listed while the
    /// server runs joins it.
    pub(super) market_phase: Phase,
}

impl Sequencer {
    /// The engine loop: runs until [`Input::Shutdown`], then applies what
    /// was queued before it.
    ///
    /// # Errors
    /// [`RuntimeError::Journal`] when the journal fails: the thread stops
    /// at once, since nothing more can be recorded or reported.
    pub(super) fn run(mut self, inputs: &Receiver<Input>) -> Result<(), RuntimeError> {
        'turns: loop {
            let input = inputs.recv_timeout(SCHEDULER_TICK);
            let started = input.is_ok().then(Instant::now);
            self.run_schedule()?;
            match input {
                Ok(Input::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(input) => self.handle(input)?,
                Err(RecvTimeoutError::Timeout) => {}
            }
            let mut handled = usize::from(started.is_some());
            for _ in 1..MAX_TURN {
                match inputs.try_recv() {
                    Ok(Input::Shutdown) => break 'turns,
                    Ok(input) => self.handle(input)?,
                    Err(_) => break,
                }
                handled += 1;
            }
            self.cancel_pending(handled, || inputs.len())?;
            self.flush_routes()?;
            if let Some(started) = started {
                let took_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                self.turn_ns.record(took_ns);
            }
        }
        // Shutting down: every request taken before the shutdown is applied.
        while let Ok(input) = inputs.try_recv() {
            self.handle(input)?;
        }
        // Everything queued is handled: every owed cancel goes, those
        // marked while others waited too.
        for (broker, settled) in self.owed.all(&self.pending) {
            self.cancel_owed(broker, settled)?;
        }
        self.flush_routes()
    }

    fn handle(&mut self, input: Input) -> Result<(), RuntimeError> {
        match input {
            Input::Request { broker, request } => self.request(broker, request),
            Input::Disconnect(broker, settled) => self.cancel_owed(broker, settled),
            Input::Admin {
                operator,
                command,
                reply,
            } => self.admin(operator, command, reply),
            // The clock was moved (a manual one): what it made due comes
            // before the requests behind the wake, even in the same turn.
            Input::Wake => self.run_schedule(),
            Input::Shutdown => Ok(()),
        }
    }

    /// Applies the auction closes and the calendar's commands due by now,
    /// in the order of their times: each auction whose window has ended
    /// (in order of its end, then of its id) after the calendar's commands
    /// due before that end. So an auction that ended after a close is
    /// closed in the next trading day whether the server was up then, late
    /// for a turn, or down (a restart closes at once what ended meanwhile).
    /// Each is a journaled `CloseAuction`, so a replay needs no clock.
    pub(super) fn run_schedule(&mut self) -> Result<(), RuntimeError> {
        self.now_ns = self.clock.now_ns();
        let auctions_ns = self.now_ns.max(self.last_time_ns);
        let mut ended: Vec<(i64, u64)> = self
            .engine
            .auctions()
            .open
            .values()
            .filter(|a| a.notice.end_ns <= auctions_ns)
            .map(|a| (a.notice.end_ns, a.notice.auction_id))
            .collect();
        ended.sort_unstable();
        let mut ends_a_day = false;
        for (end_ns, auction_id) in ended {
            ends_a_day |= self.run_calendar(end_ns.saturating_sub(1).min(self.now_ns))?;
            self.execute(Command::CloseAuction { auction_id }, None)?;
        }
        ends_a_day |= self.run_calendar(self.now_ns)?;
        if ends_a_day {
            self.publish_open_date();
        }
        Ok(())
    }

    /// Applies the calendar's commands due by `until_ns`; whether one
    /// ended a day.
    fn run_calendar(&mut self, until_ns: i64) -> Result<bool, RuntimeError> {
        let due = self.scheduler.due(until_ns);
        let ends_a_day = due.iter().any(|c| matches!(c, Command::EndOfDay { .. }));
        for command in due {
            // A halted instrument stays halted through the calendar's
            // phases until an operator resumes it.
            let halted =
                |instrument| self.engine.phase(instrument) == Some(cetx_engine::Phase::Halted);
            if let Command::SetPhase { phase, .. } = command {
                if phase != self.market_phase {
                    tracing::info!(?phase, "the calendar moves the market to a new phase");
                }
                self.market_phase = phase;
            }
            if let Command::EndOfDay { trading_date } = command {
                // Undated only in a journal of before the dated close.
                let trading_date =
                    trading_date.map_or_else(|| "undated".to_owned(), |date| date.to_string());
                tracing::info!(%trading_date, "ending the trading day (its close)");
            }
            if matches!(command, Command::SetPhase { instrument, .. } if halted(instrument)) {
                continue;
            }
            self.execute(command, None)?;
        }
        Ok(ends_a_day)
    }

    /// Publishes the trading date the journal is in, for logins.
    pub(super) fn publish_open_date(&self) {
        self.open_date
            .store(self.scheduler.open_date(), Ordering::Release);
    }

    /// Applies an operator's command like one of the runtime's own, and
    /// routes its outcome back behind its entry.
    fn admin(
        &mut self,
        operator: u32,
        command: Command,
        reply: tokio::sync::oneshot::Sender<super::AdminOutcome>,
    ) -> Result<(), RuntimeError> {
        // The calendar's steps and the auction closes due by now come
        // first, as for a turn's requests: this command's time is now, and
        // so is that of the requests behind it in the turn (reviewer 151
        // F1: an order queued behind an operator's action that straddled
        // 15:00 traded stamped 15:00, before the close).
        self.run_schedule()?;
        // A resume takes the market's phase as this thread has it: the
        // operator's session read the calendar at its own moment, before
        // a step due since (an open, a close) and whatever
        // `open_market_now` did (reviewer 147 F2: an instrument resumed
        // just before the close traded all night).
        let command = match command {
            Command::SetPhase { instrument, phase } if phase != Phase::Halted => {
                Command::SetPhase {
                    instrument,
                    phase: self.market_phase,
                }
            }
            command => command,
        };
        let seq = self.next_seq;
        let first_event = self.turn.events.len();
        let command_again = command.clone();
        self.execute_as(command, None, Some(operator))?;
        let events = self.turn.events[first_event..].to_vec();
        // A refusal left the state as it was: asked of it now.
        let why = match events.first() {
            Some(Event::Rejected(r)) => self.engine.why_refused(&command_again, r.reason),
            _ => None,
        };
        let outcome = super::AdminOutcome { seq, events, why };
        let listed = match outcome.events.first() {
            Some(Event::InstrumentListed(band)) => Some(band.instrument),
            _ => None,
        };
        self.turn.items.push(Routed::Answer { outcome, reply });
        // A new instrument joins the market in its phase of the moment
        // (it is listed closed): in a session, it trades at once.
        if let Some(instrument) = listed.filter(|_| self.market_phase != Phase::Closed) {
            let phase = self.market_phase;
            self.execute(Command::SetPhase { instrument, phase }, None)?;
        }
        Ok(())
    }

    fn request(&mut self, broker: BrokerId, request: Request) -> Result<(), RuntimeError> {
        let requester = Caller { broker, request };
        match self.command_for(broker, &request) {
            Ok(command) => self.execute(command, Some(requester)),
            Err(reason) => {
                self.refuse(requester, reason);
                Ok(())
            }
        }
    }

    /// The command a request asks for, or the gateway's reason to refuse
    /// it, checked in the order `docs/PROTOCOL.md` gives (the symbol was
    /// checked when the request was parsed).
    fn command_for(&self, broker: BrokerId, request: &Request) -> Result<Command, RejectReason> {
        match *request {
            Request::New(order) => {
                self.own_account(broker, order.account)?;
                self.new_client_order_id(broker, order.client_order_id)?;
                Ok(Command::Submit(order))
            }
            Request::Take(take) => {
                // Checked like a new order: the account, then the client
                // order id (shared with new orders).
                self.own_account(broker, take.account)?;
                self.new_client_order_id(broker, take.client_order_id)?;
                Ok(Command::Take(take))
            }
            Request::Cancel { client_order_id } => {
                let order = self.owned_order(broker, client_order_id)?;
                Ok(Command::Cancel {
                    instrument: order.instrument,
                    order_id: order.order_id,
                    requester: Some(Requester {
                        broker,
                        client_order_id,
                    }),
                })
            }
            Request::Amend {
                client_order_id,
                price_ticks,
                quantity_t,
            } => {
                let order = self.owned_order(broker, client_order_id)?;
                Ok(Command::Amend {
                    instrument: order.instrument,
                    order_id: order.order_id,
                    price_ticks,
                    quantity_t,
                    requester: Some(Requester {
                        broker,
                        client_order_id,
                    }),
                })
            }
            Request::PostBlock(block) => {
                self.own_account(broker, block.account)?;
                Ok(Command::PostBlock(block))
            }
            Request::AcceptBlock {
                client_order_id,
                account,
                block_id,
                quantity_t,
            } => {
                self.own_account(broker, account)?;
                Ok(Command::AcceptBlock {
                    block_id,
                    account,
                    quantity_t,
                    client_order_id,
                })
            }
            Request::CancelBlock {
                client_order_id,
                account,
                block_id,
            } => {
                self.own_account(broker, account)?;
                Ok(Command::CancelBlock {
                    block_id,
                    account,
                    client_order_id,
                })
            }
            Request::Bid(bid) => {
                self.own_account(broker, bid.account)?;
                self.new_client_order_id(broker, bid.client_order_id)?;
                if self.open_bid(broker, bid.client_order_id).is_some() {
                    return Err(RejectReason::DuplicateClientOrderId);
                }
                Ok(Command::Bid(bid))
            }
            Request::CancelBid { client_order_id } => {
                let (auction_id, bid_id) = self
                    .open_bid(broker, client_order_id)
                    .ok_or(RejectReason::UnknownClientOrderId)?;
                Ok(Command::CancelBid {
                    auction_id,
                    bid_id,
                    requester: Some(Requester {
                        broker,
                        client_order_id,
                    }),
                })
            }
            Request::AmendBid {
                client_order_id,
                price_ticks,
                quantity_t,
            } => {
                let (auction_id, bid_id) = self
                    .open_bid(broker, client_order_id)
                    .ok_or(RejectReason::UnknownClientOrderId)?;
                Ok(Command::AmendBid {
                    auction_id,
                    bid_id,
                    price_ticks,
                    quantity_t,
                    requester: Some(Requester {
                        broker,
                        client_order_id,
                    }),
                })
            }
        }
    }

    /// `AccountNotOwned` unless the broker acts for the account (one that
    /// does not exist gets the same answer, so neither is revealed).
    fn own_account(&self, broker: BrokerId, account: AccountId) -> Result<(), RejectReason> {
        if self
            .engine
            .account(account)
            .is_none_or(|a| a.broker != broker)
        {
            Err(RejectReason::AccountNotOwned)
        } else {
            Ok(())
        }
    }

    /// `DuplicateClientOrderId` if the broker sent an order or a take of
    /// today with this client order id.
    fn new_client_order_id(
        &self,
        broker: BrokerId,
        client_order_id: u64,
    ) -> Result<(), RejectReason> {
        if self.client_orders.get(broker, client_order_id).is_some() {
            Err(RejectReason::DuplicateClientOrderId)
        } else {
            Ok(())
        }
    }

    /// The broker's open auction bid with this client order id, as
    /// (auction id, bid id). Open bids are few (at most 64 auctions of
    /// 4,096 bids), so they are searched rather than indexed.
    fn open_bid(&self, broker: BrokerId, client_order_id: u64) -> Option<(u64, OrderId)> {
        self.engine
            .auctions()
            .open
            .values()
            .flat_map(|a| a.bids.iter().map(move |b| (a.notice.auction_id, b)))
            .find(|(_, b)| {
                b.client_order_id == client_order_id
                    && self
                        .engine
                        .account(b.account)
                        .is_some_and(|a| a.broker == broker)
            })
            .map(|(auction_id, b)| (auction_id, b.bid_id))
    }

    /// The broker's order of today with this client order id.
    fn owned_order(
        &self,
        broker: BrokerId,
        client_order_id: u64,
    ) -> Result<ClientOrder, RejectReason> {
        let order = self
            .client_orders
            .get(broker, client_order_id)
            .ok_or(RejectReason::UnknownClientOrderId)?;
        // Client order ids are the broker's own, so the index only finds
        // the broker's orders; this holds unless an account changed hands.
        if self
            .engine
            .account(order.account)
            .is_none_or(|a| a.broker != broker)
        {
            return Err(RejectReason::OrderNotOwned);
        }
        Ok(order)
    }

    /// Refuses a request; the router answers it in order with the
    /// broker's reports.
    fn refuse(&mut self, requester: Caller, reason: RejectReason) {
        self.turn.items.push(Routed::Refused {
            broker: requester.broker,
            refusal: Refusal::of(&requester.request, reason),
        });
    }

    /// Applies one of the runtime's own commands (genesis, the calendar's,
    /// the start-up phases): stamped, journaled and routed like any other,
    /// never refused.
    ///
    /// # Errors
    /// As [`Self::run`].
    pub(super) fn execute_own(&mut self, command: Command) -> Result<(), RuntimeError> {
        self.now_ns = self.clock.now_ns();
        self.execute(command, None)
    }

    /// Stamps, applies, stages for the journal and routes one command. A
    /// broker's command is refused with `ServerBusy` when the journal's
    /// queue has no room for it besides the turn's entries, and one the
    /// engine refuses while the market is closed is not journaled
    /// ([`Self::refused_while_closed`]); the runtime's own always go.
    fn execute(&mut self, command: Command, requester: Option<Caller>) -> Result<(), RuntimeError> {
        self.execute_as(command, requester, None)
    }

    /// While the market is closed, a broker's command the engine refused
    /// (its events from `first_event` on are one `Rejected`) is answered
    /// unsequenced and not journaled: whether it was. A refusal changes
    /// nothing, so the journal loses nothing a replay would do (it passes
    /// over a journaled one), and nights, weekends and holidays of a
    /// broker's requests at its throttle, which could only be refused, no
    /// longer grow the journal (some 20 GB a weekend: reviewer 146 F2,
    /// tester 148 F3) nor the day's client order ids. The stamp's number
    /// goes to the next command.
    fn refused_while_closed(&mut self, requester: Caller, first_event: usize) -> bool {
        let (Phase::Closed, &[Event::Rejected(rejected)]) =
            (self.market_phase, &self.turn.events[first_event..])
        else {
            return false;
        };
        self.turn.events.truncate(first_event);
        let mut refusal = Refusal::of(&requester.request, rejected.reason);
        refusal.bounds = rejected.bounds;
        self.turn.items.push(Routed::Refused {
            broker: requester.broker,
            refusal,
        });
        true
    }

    /// [`Sequencer::execute`] for a command that `operator` asked for,
    /// whom its journal record names.
    fn execute_as(
        &mut self,
        mut command: Command,
        requester: Option<Caller>,
        operator: Option<u32>,
    ) -> Result<(), RuntimeError> {
        if let Some(requester) = requester {
            let staged = usize::try_from(self.journal_batch.len()).unwrap_or(usize::MAX);
            if self.journal.queue_room() <= staged {
                self.refuse(requester, RejectReason::ServerBusy);
                return Ok(());
            }
        }
        let seq = self.next_seq;
        match &mut command {
            Command::Submit(order) => order.order_id = OrderId(seq),
            Command::Take(take) => take.order_id = OrderId(seq),
            _ => {}
        }
        if let Command::Bid(bid) = &mut command {
            bid.bid_id = OrderId(seq);
        }
        let stamp = Stamp {
            seq,
            time_ns: self.now_ns.max(self.last_time_ns),
        };
        let first_event = self.turn.events.len();
        self.engine.apply(&command, stamp, &mut self.turn.events);
        if requester.is_some_and(|r| self.refused_while_closed(r, first_event)) {
            return Ok(());
        }
        let events = &self.turn.events[first_event..];
        // Any error here means the journal has failed. A record beyond
        // the format's size cannot come: the largest entry, an end of day
        // expiring every order and block the market's bounds allow
        // (`MAX_OPEN_TOTAL`), fits in one (`journal::format`'s test).
        self.journal
            .append_by_to(&mut self.journal_batch, stamp, operator, &command, events)
            .map_err(|source| RuntimeError::Journal {
                context: "appending to the journal",
                source,
            })?;
        self.next_seq += 1;
        self.last_time_ns = stamp.time_ns;
        self.client_orders.observe(&self.engine, &command, events);
        self.book_fill.observe(&self.engine, &command);
        if let (Command::ListInstrument(spec), Some(Event::InstrumentListed(band))) =
            (&command, events.first())
        {
            self.listed(band.instrument, &spec.symbol);
        }
        let events = first_event..self.turn.events.len();
        // The command says whether a snapshot follows, with no look at its
        // events (at an end of day the books are empty and it is small).
        let ends_a_day = matches!(command, Command::EndOfDay { .. });
        let snapshot = snapshot_due(seq, &command, self.snapshot_every);
        self.turn.items.push(Routed::Entry {
            stamp,
            command,
            events,
            requester: requester.map(|r| r.broker),
        });
        if snapshot {
            self.turn.items.push(Routed::Snapshot {
                seq,
                client_orders: Box::new(self.client_orders.log()),
                last_time_ns: stamp.time_ns,
                end_of_day: ends_a_day,
            });
        }
        Ok(())
    }

    /// Makes a newly listed instrument known: its symbol to the sessions,
    /// its phases to the scheduler.
    fn listed(&mut self, instrument: InstrumentId, symbol: &str) {
        let table = self.symbols.load().with(instrument, symbol);
        self.symbols.store(Arc::new(table));
        self.scheduler.add(instrument);
        tracing::info!(symbol, id = instrument.0, "listed an instrument");
    }

    /// Hands the journal writer this turn's entries in one piece, with
    /// what the turn produced riding on them for the router.
    ///
    /// # Errors
    /// [`RuntimeError::Journal`] when the journal has failed.
    pub(super) fn flush_routes(&mut self) -> Result<(), RuntimeError> {
        self.last_time.store(self.last_time_ns, Ordering::Relaxed);
        let committed = if self.turn.items.is_empty() {
            self.journal.commit_batch(&mut self.journal_batch)
        } else {
            let next = self.recycled.try_recv().unwrap_or_default();
            let turn = std::mem::replace(&mut self.turn, next);
            self.journal.commit_with(&mut self.journal_batch, turn)
        };
        committed.map_err(|source| RuntimeError::Journal {
            context: "appending to the journal",
            source,
        })
    }

    /// Cancels the orders of brokers whose disconnect found the queue full
    /// (see `RuntimeHandle`'s disconnect) once the inputs queued before
    /// them are handled ([`super::pending::Owed`]), after `handled` more.
    fn cancel_pending(
        &mut self,
        handled: usize,
        queued: impl FnOnce() -> usize,
    ) -> Result<(), RuntimeError> {
        for (broker, settled) in self.owed.due(&self.pending, handled, queued) {
            self.cancel_owed(broker, settled)?;
        }
        Ok(())
    }

    /// Cancels every resting order of the broker at its disconnect, if its
    /// config asks for cancel-on-disconnect: one journaled
    /// [`Command::CancelOnDisconnect`] when any rests (the engine cancels
    /// them book by book, bids then asks, in priority order), none when
    /// nothing does. `settled` is told once the cancels are durable and
    /// among the broker's reports, with the rest of the turn's; at once
    /// when the turn has nothing to report, so that a disconnect with
    /// nothing to cancel costs the journal no commit.
    fn cancel_owed(
        &mut self,
        broker: BrokerId,
        settled: tokio::sync::watch::Sender<bool>,
    ) -> Result<(), RuntimeError> {
        // A broker an operator added has the config's default: cancel.
        let added = self.engine.membership().brokers.contains_key(&broker);
        let cancels = (self.cancel_on_disconnect.contains(&broker) || added)
            && self.engine.has_resting_of_broker(broker);
        if cancels {
            self.execute(Command::CancelOnDisconnect { broker }, None)?;
        }
        // Routed behind the turn's reports when it has any (its cancels,
        // or the old session's last answers): a login then counts them.
        // An empty turn tells at once, costing the journal no commit.
        if self.turn.items.is_empty() {
            settled.send_replace(true);
        } else {
            self.turn.items.push(Routed::Settled(settled));
        }
        Ok(())
    }
}
