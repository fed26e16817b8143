//! The runtime: the threads that turn brokers' requests into durable
//! decisions and reports, without sockets. The tokio server's sessions
//! call it through a [`RuntimeHandle`].
//!
//! ```text
//! session ─submit─► bounded queue ─► engine thread ─commit─► journal writer thread
//!                   (crossbeam,       (sequencer: checks,     (group commit, fdatasync;
//!                    try_send: a       seq + time, apply,      then, on the same thread,
//!                    full queue is     scheduler; a turn's     the router: Reports, each
//!                    ServerBusy)       entries + routes)       broker's batch) ─► Subscription
//!                                                                              (backlog, then
//!                                                                               live frames)
//! ```
//!
//! An order crosses three threads: the session's tokio worker, the engine
//! thread and the journal writer thread, which sends the reports right
//! after the sync that made them durable (the turn's routes ride on its
//! journal batch, [`cetx_engine::journal::OnDurable`]).
//!
//! - [`Runtime::start`] recovers the engine from `data_dir/journal` and,
//!   in the same single pass over the journal after the newest snapshot,
//!   the gateway's state from its own file beside that snapshot:
//!   [`Reports`](crate::reports::Reports) (every broker's report numbers,
//!   the trading days' marks, as sent before) and the sequencer's index of
//!   today's client order ids; then it opens the journal writer after the
//!   last entry, brings the
//!   market to the calendar's phase (or opens it, with
//!   [`RuntimeOptions::open_market_now`]), and starts the engine and
//!   snapshot threads.
//! - [`RuntimeHandle::submit`] queues a broker's `NewOrder`, `Cancel` or
//!   `Amend` without waiting; a full queue is [`SubmitError::Busy`], for
//!   the session to answer `ServerBusy` (408).
//! - [`RuntimeHandle::connect`] gives a logged-in broker a [`Subscription`]:
//!   the reports after its `resume_from_seq` (from memory, or read back
//!   from the journal by a thread of its own when they are older), then
//!   the live ones, with no gap and no duplicate between them. Dropping it is the disconnect,
//!   which cancels the broker's resting orders when its config says
//!   `cancel_on_disconnect`.
//! - [`Runtime::shutdown`] stops taking requests, applies what was queued,
//!   delivers what is due, closes (syncs) the journal and joins the
//!   threads.
//!
//! Files: `lifecycle.rs` starts and stops a [`Runtime`]; `handle.rs` is
//! the sessions' side ([`RuntimeHandle`], [`Subscription`]);
//! `sequencer.rs` the engine thread; `router.rs` the outbound router (run
//! by the journal writer thread) and the snapshot writer; `state.rs` the gateway's state beside each
//! snapshot; `history.rs` the resumes read back from the journal;
//! `pending.rs` the cancels owed at a disconnect; `scheduler.rs` the calendar's commands; `clock.rs`
//! the [`Clock`]; `book_fill.rs` the warning and the load of a book filling up;
//! `activity.rs` the counts and figures behind the metrics
//! ([`RuntimeHandle::stats`]); `definition.rs` the market's definition at
//! start-up; `symbols.rs` the symbol table, which grows when an operator
//! lists an instrument.

mod activity;
mod book_fill;
mod client_orders;
mod clock;
mod definition;
mod handle;
mod history;
pub(crate) use history::yield_to_live_path;
mod lifecycle;
mod pending;
mod replica;
mod request;
mod router;
mod scheduler;
mod sequencer;
mod state;
mod symbols;

use std::path::PathBuf;

use cetx_engine::journal::RecoverError;
use cetx_engine::{JournalError, RejectReason};

pub use activity::{Activity, RuntimeStats, SnapshotStats, Traded};
pub use book_fill::BookLoad;
pub use clock::{Clock, ClockError};
pub use handle::{RuntimeHandle, Standing, Subscription};
pub use lifecycle::Runtime;
pub use request::{Refusal, Request};
pub use state::{archive, ArchiveOutcome};
pub use symbols::{SymbolCache, SymbolTable};
/// What [`Subscription::try_recv`] says when no frame is there.
pub use tokio::sync::mpsc::error::TryRecvError;

/// The journal's directory inside the data directory.
pub const JOURNAL_DIR: &str = "journal";

/// Frames a subscription's live channel holds by default before the
/// router gives up on a broker that does not read them.
pub const DEFAULT_SUBSCRIBER_CAPACITY: usize = 65_536;

/// What an operator's command did ([`RuntimeHandle::admin`]): the
/// journal entry it became, durable, and the engine's events (one
/// `Rejected` if the engine refused it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminOutcome {
    /// The entry's sequence number.
    pub seq: u64,
    /// What the engine decided.
    pub events: Vec<cetx_engine::Event>,
    /// What a refusal's code alone does not say, which the journal does
    /// not keep: the rule a listing or revision refused 109
    /// (`InvalidInstrumentSpec`) breaks, or what to fix for a 116, 305,
    /// 212 or 108 ([`cetx_engine::Engine::why_refused`]).
    pub why: Option<String>,
}

/// How a runtime is started, besides its config.
#[derive(Clone, Debug)]
pub struct RuntimeOptions {
    /// Where the journal (`data_dir/journal`) and its snapshots live;
    /// usually the config's `server.data_dir` or the `--data-dir` flag.
    pub data_dir: PathBuf,
    /// The time the sequencer stamps and the scheduler follows.
    pub clock: Clock,
    /// For demos and tests: put every instrument into continuous trading
    /// at start, whatever the calendar says (journaled `SetPhase`
    /// commands). The calendar takes over again at its next transition
    /// (a break, a close, an open).
    pub open_market_now: bool,
    /// Journal the config's market definition where it differs from the
    /// journal's, instead of refusing to start.
    pub accept_config_change: bool,
    /// Frames a subscription's live channel holds; a broker further behind
    /// than this loses its subscription and resumes by logging in again.
    pub subscriber_capacity: usize,
}

impl RuntimeOptions {
    /// Options for `data_dir` on the system clock, following the calendar.
    #[must_use]
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            clock: Clock::system(),
            open_market_now: false,
            accept_config_change: false,
            subscriber_capacity: DEFAULT_SUBSCRIBER_CAPACITY,
        }
    }
}

/// How the runtime is doing, as [`RuntimeHandle::status`] tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeStatus {
    /// Taking requests.
    Running,
    /// [`Runtime::shutdown`] has begun: no more requests are taken.
    Stopping,
    /// Shut down cleanly.
    Stopped,
    /// Stopped by a failure (the journal's, say): the process should exit
    /// with an error. The text says what failed.
    Failed(String),
}

/// Why the runtime could not start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The journal could not be recovered (damage, an unusable config).
    #[error(transparent)]
    Recover(#[from] RecoverError),
    /// The journal failed: reading it at start, opening the writer, an
    /// append, or closing it. Nothing after the last durable entry was
    /// reported to anyone.
    #[error("{context}: {source}")]
    Journal {
        /// What was being done.
        context: &'static str,
        /// The journal's error.
        #[source]
        source: JournalError,
    },
    /// A thread could not be started.
    #[error("starting the {name} thread: {source}")]
    Spawn {
        /// Which thread.
        name: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A thread panicked.
    #[error("the {0} thread panicked")]
    Panicked(&'static str),
    /// An option that cannot be used.
    #[error("invalid runtime option: {0}")]
    InvalidOption(&'static str),
    /// A broker of the config has the id of one an operator added: whose
    /// credentials would log in is not clear.
    #[error("broker {0} is in the config and was added by an operator (in the journal): remove it from the config, or give it another id")]
    BrokerInConfigAndJournal(u32),
    /// `durability = "none"` on a data directory whose journal holds a
    /// market: what the server did would be gone at its next start.
    #[error("durability = \"none\" writes nothing, but {0} holds the journal of a market that ran: its orders and fills would go on in memory only and be gone at the next start; use \"fsync\" (or \"os\") for this market, and a fresh data directory for a benchmark")]
    UnjournaledMarket(std::path::PathBuf),
    /// The config describes another market than the journal's, and the
    /// change was not accepted (or cannot be journaled).
    #[error("the config differs from the market in the journal: {0}; start with --accept-config-change to journal the config's definition from here on")]
    ConfigDiffers(cetx_engine::Difference),
    /// The config's calendar makes a holiday of the trading day the
    /// journal has begun and not closed, or dates it otherwise.
    #[error("the config's calendar makes {trading_date} a holiday, or dates it otherwise, but the journal's trading day {trading_date} has begun and is not closed: a day that has begun keeps its end of day (its day orders expire, its trades settle as its own); to stop trading for the rest of it, halt the instruments (cetx admin halt), and add the holiday once the day has closed, or for later days only; if its close passed while the server was down, start once with the journal's calendar so that it runs, then with the new one")]
    DayBegun {
        /// The day, `YYYYMMDD`.
        trading_date: u32,
    },
    /// The engine refuses a change of the market's definition, or a
    /// command of a new market's account genesis (tried before anything
    /// is journaled).
    #[error("the engine refuses {command}: {reason:?}{why} (code {}); nothing was journaled{hint}", reason.code())]
    DefinitionRefused {
        /// The command, in a few words.
        command: String,
        /// Why.
        reason: cetx_engine::RejectReason,
        /// The rule it breaks, after `: `, where the code alone does not
        /// say (empty otherwise).
        why: String,
        /// What the operator can do, if there is something to say.
        hint: &'static str,
    },
}

/// Why a request was not taken. Nothing was queued; the session answers
/// the broker itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The queue to the engine is full: answer `ServerBusy` (408).
    #[error("the queue to the engine is full; the request was not taken")]
    Busy,
    /// The runtime is shutting down or has stopped: answer `ServerBusy`.
    #[error("the runtime is not taking requests; the request was not taken")]
    Stopped,
}

impl SubmitError {
    /// The reason to put in the unsequenced `OrderRejected` answering the
    /// request (see [`crate::reports::gateway_reject`]).
    #[must_use]
    pub const fn reject_reason(&self) -> RejectReason {
        match self {
            Self::Busy | Self::Stopped => RejectReason::ServerBusy,
        }
    }
}
