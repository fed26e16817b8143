//! `cetx-load`, the load tester: N broker sessions send realistic `CEA2025`
//! order flow to a cetx server, open loop at a fixed rate or closed loop
//! with a bounded number of orders in flight, and report order→ack and
//! order→fill latencies from hdrhistogram.
//!
//! [`run`] starts a server in process when asked ([`spawn`]), plans one
//! session per broker ([`session`]) around a shared mid price
//! ([`flow`]), runs them, and merges what they measured into a
//! [`LoadReport`], which [`report`] renders as a table, a JSON summary,
//! `.hgrm` percentile distributions and an SVG plot.
//!
//! The sessions are the config's brokers in config order (by default the
//! embedded demo config's brokers 1 and 2), each trading for its first
//! account (in the demo, the compliance entities 1001 and 2001). The server
//! takes one connection per broker, so `--sessions` is at most the number
//! of configured brokers; a config with more brokers (`--config`) allows
//! more sessions.

pub mod flow;
pub mod report;
pub mod session;
pub mod spawn;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cetx_gateway::client::ClientError;
use cetx_gateway::config::{Durability, ServerConfig};
use cetx_gateway::market_data::{FeedClient, FeedError};
use hdrhistogram::Histogram;
use tokio_util::sync::CancellationToken;

use flow::{MidPath, Rng};
use session::{latency_histogram, Pace, Progress, SessionPlan, SessionStats};
use spawn::SpawnedServer;

/// Why a load run failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// More sessions than configured brokers.
    #[error("--sessions {asked}: the config has {brokers} brokers and the server takes one session per broker")]
    TooManySessions {
        /// Sessions asked for.
        asked: usize,
        /// Brokers configured.
        brokers: usize,
    },
    /// More feed subscribers than the server takes from one address
    /// (they all come from this process's).
    #[error("--feed-subscribers {asked}: the server takes {most} subscribers from one address ([market_data] max_subscribers_per_address), and these all come from this machine's; raise it in the server's config")]
    TooManySubscribers {
        /// Subscribers asked for.
        asked: usize,
        /// The config's `max_subscribers_per_address`.
        most: usize,
    },
    /// No sessions, or a zero duration.
    #[error("nothing to run: {0}")]
    Empty(&'static str),
    /// A broker has no account in the config.
    #[error("broker {0} has no account")]
    NoAccount(u32),
    /// The config does not list the instrument the flow trades.
    #[error("the config has no {0} instrument, which the load flow trades")]
    NoInstrument(&'static str),
    /// A session's client failed.
    #[error("broker {broker}")]
    Client {
        /// The broker.
        broker: u32,
        /// What failed.
        #[source]
        source: ClientError,
    },
    /// Files or sockets.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The spawned runtime.
    #[error(transparent)]
    Runtime(#[from] cetx_gateway::runtime::RuntimeError),
    /// The spawned server.
    #[error(transparent)]
    Server(#[from] cetx_gateway::server::ServerError),
    /// A task panicked or was cancelled.
    #[error("a task failed: {0}")]
    Task(String),
}

/// Where the server is.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// An already running server.
    Addr(SocketAddr),
    /// A server started in process with this durability.
    Spawn(Durability),
}

/// One load run's parameters.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// The server.
    pub target: Target,
    /// The brokers, secrets and accounts the sessions use, and the config
    /// a spawned server runs (throttles lifted, accounts funded): the
    /// server's own config against `--addr`.
    pub config: ServerConfig,
    /// Broker sessions, at most the configured brokers.
    pub sessions: usize,
    /// New orders per second over all sessions; 0 is closed loop.
    pub rate_per_s: u64,
    /// Closed loop: outstanding new orders per session.
    pub in_flight: usize,
    /// How long the sessions send.
    pub duration: Duration,
    /// Open loop: the least time between two writes of a session; the
    /// orders due meanwhile go out together in the next one, their
    /// latency counted from their due time. Zero writes each when due.
    pub write_every: Duration,
    /// The most new orders over all sessions.
    pub max_orders: u64,
    /// The flow's seed (the mid path and every session's draws).
    pub seed: u64,
    /// Whether to draw a progress line on stderr (it is hidden anyway
    /// when stderr is not a terminal).
    pub progress: bool,
    /// Market-data subscribers reading the feed during the run (half at
    /// depth 5, half at full depth), to measure what they cost the
    /// brokers.
    pub feed_subscribers: usize,
    /// Whether each session leaves its broker's reports from before the
    /// run unread: it logs in resuming after the broker's last report
    /// (`RESUME_AFTER_LAST`), as a broker that has seen them all.
    /// Otherwise it resumes from 0, as a broker that has seen nothing, and
    /// reads them all first (the summary's `history`).
    pub skip_history: bool,
}

impl LoadOptions {
    /// `"open"` or `"closed"`.
    #[must_use]
    pub const fn mode(&self) -> &'static str {
        if self.rate_per_s == 0 {
            "closed"
        } else {
            "open"
        }
    }
}

/// What a run measured, over all sessions.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// The run's parameters.
    pub options: LoadOptions,
    /// Order→ack latencies, nanoseconds.
    pub ack_ns: Histogram<u64>,
    /// Order→fill latencies (orders that traded on arrival), nanoseconds.
    pub fill_ns: Histogram<u64>,
    /// Each session's figures, in broker order.
    pub sessions: Vec<(u32, SessionStats)>,
    /// Seconds from the start to the last session's last send.
    pub sending_s: f64,
    /// Seconds from the start to the end of the drain.
    pub elapsed_s: f64,
    /// What the spawned server's journal did over the whole run (start-up
    /// and the logouts' cancels included); `None` against `--addr`.
    pub journal: Option<cetx_engine::journal::JournalStats>,
    /// The sessions that ended early, and why (`broker N: …`): their
    /// figures up to then are in the rest of the report.
    pub errors: Vec<String>,
    /// Feed messages the market-data subscribers read, over all of them.
    pub feed_messages: u64,
}

impl LoadReport {
    /// Sum of a session counter.
    #[must_use]
    pub fn total(&self, counter: impl Fn(&SessionStats) -> u64) -> u64 {
        self.sessions.iter().map(|(_, s)| counter(s)).sum()
    }

    /// Accepted orders per second of sending.
    #[must_use]
    pub fn accepted_per_s(&self) -> f64 {
        per_second(self.total(|s| s.accepted), self.sending_s)
    }

    /// Requests (new orders and cancels) written per second of sending.
    #[must_use]
    pub fn requests_per_s(&self) -> f64 {
        per_second(
            self.total(|s| s.sent) + self.total(|s| s.cancels_sent),
            self.sending_s,
        )
    }
}

fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// Runs one load test.
///
/// # Errors
/// See [`LoadError`].
pub async fn run(options: &LoadOptions) -> Result<LoadReport, LoadError> {
    if options.sessions == 0 {
        return Err(LoadError::Empty("--sessions 0"));
    }
    if options.duration.is_zero() || options.max_orders == 0 {
        return Err(LoadError::Empty("a zero duration or --max-orders"));
    }
    let config = &options.config;
    if !config.instruments.iter().any(|i| i.symbol == flow::SYMBOL) {
        return Err(LoadError::NoInstrument(flow::SYMBOL));
    }
    if options.sessions > config.brokers.len() {
        return Err(LoadError::TooManySessions {
            asked: options.sessions,
            brokers: config.brokers.len(),
        });
    }
    if let (Target::Addr(_), Some(settings)) = (options.target, &config.market_data) {
        if options.feed_subscribers > settings.max_subscribers_per_address {
            return Err(LoadError::TooManySubscribers {
                asked: options.feed_subscribers,
                most: settings.max_subscribers_per_address,
            });
        }
    }
    let spawned = match options.target {
        Target::Spawn(durability) => Some(SpawnedServer::start(config, durability).await?),
        Target::Addr(_) => None,
    };
    let addr = match (&spawned, options.target) {
        (Some(server), _) => server.addr(),
        (None, Target::Addr(addr)) => addr,
        (None, Target::Spawn(_)) => unreachable!("a spawn target has a server"),
    };
    let feed_addr = match &spawned {
        Some(server) => server.feed_addr(),
        None => config.market_data.as_ref().map(|m| m.listen),
    };
    let watching = CancellationToken::new();
    let subscribers = match (options.feed_subscribers, feed_addr) {
        (0, _) => Vec::new(),
        (_, None) => return Err(LoadError::Empty("--feed-subscribers without [market_data]")),
        (n, Some(feed)) => (0..n)
            .map(|i| tokio::spawn(watch_feed(feed, i, watching.clone())))
            .collect(),
    };
    let mut result = drive(options, config, addr).await;
    watching.cancel();
    let mut feed_messages = 0;
    for subscriber in subscribers {
        let read = subscriber
            .await
            .map_err(|e| LoadError::Task(e.to_string()))?;
        match read {
            Ok(messages) => feed_messages += messages,
            Err(error) => {
                if let Ok(report) = &mut result {
                    report.errors.push(format!("feed subscriber: {error}"));
                }
            }
        }
    }
    if let Ok(report) = &mut result {
        report.feed_messages = feed_messages;
    }
    if let Some(server) = spawned {
        let journal = server.stop().await?;
        if let Ok(report) = &mut result {
            report.journal = journal;
        }
    }
    result
}

async fn drive(
    options: &LoadOptions,
    config: &ServerConfig,
    addr: SocketAddr,
) -> Result<LoadReport, LoadError> {
    let mid = Arc::new(MidPath::new(options.seed, options.duration));
    // Client order ids must be unique per broker per day, and a reused
    // server has seen earlier runs': start from the wall clock in
    // milliseconds times a million (a run sends far fewer than a million
    // orders per millisecond it lasts), plus a seeded offset.
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    let mut seeds = Rng::new(options.seed);
    let id_base = now_ms.saturating_mul(1_000_000) + seeds.below(1_000);
    let sessions = u64::try_from(options.sessions).unwrap_or(1);
    let pace = if options.rate_per_s == 0 {
        Pace::Closed {
            in_flight: options.in_flight.max(1),
        }
    } else {
        let per_session = options.rate_per_s.div_ceil(sessions).max(1);
        Pace::Open {
            interval: Duration::from_nanos(1_000_000_000 / per_session)
                .max(Duration::from_nanos(1)),
            write_every: options.write_every,
        }
    };
    // Leave the sessions time to log in before order 0 is due.
    let start = Instant::now() + Duration::from_millis(200);
    let deadline = start + options.duration;
    let progress = Arc::new(Progress::default());
    let mut tasks = Vec::with_capacity(options.sessions);
    for (i, broker) in config.brokers.iter().take(options.sessions).enumerate() {
        let account = config
            .accounts_of(broker.id)
            .next()
            .ok_or(LoadError::NoAccount(broker.id.0))?
            .0;
        let index = u64::try_from(i).unwrap_or(0);
        let max_orders =
            options.max_orders / sessions + u64::from(index < options.max_orders % sessions);
        let plan = SessionPlan {
            addr,
            broker_id: broker.id.0,
            secret: broker.secret.expose().to_owned(),
            account,
            seed: seeds.next_u64(),
            first_client_order_id: id_base,
            pace,
            start,
            deadline,
            max_orders,
            mid: Arc::clone(&mid),
            skip_history: options.skip_history,
        };
        let progress = Arc::clone(&progress);
        let broker_id = broker.id.0;
        tasks.push((
            broker_id,
            // Each session runs on threads of its own (see `session`).
            tokio::task::spawn_blocking(move || session::run_session(&plan, &progress)),
        ));
    }
    let ticker = options
        .progress
        .then(|| spawn_progress(Arc::clone(&progress), start, options.duration));
    let mut ack_ns = latency_histogram();
    let mut fill_ns = latency_histogram();
    let mut stats = Vec::with_capacity(tasks.len());
    let mut errors = Vec::new();
    let mut first_error = None;
    for (broker, task) in tasks {
        match task.await {
            Ok(Ok(s)) => {
                ack_ns.add(&s.ack_ns).expect("same bounds");
                fill_ns.add(&s.fill_ns).expect("same bounds");
                if let Some(error) = &s.error {
                    errors.push(format!("broker {broker}: {error}"));
                }
                stats.push((broker, s));
            }
            Ok(Err(source)) => {
                first_error.get_or_insert(LoadError::Client { broker, source });
            }
            Err(e) => {
                first_error.get_or_insert(LoadError::Task(e.to_string()));
            }
        }
    }
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    let elapsed_s = start.elapsed().as_secs_f64();
    let sending_s = stats.iter().map(|(_, s)| s.sending_s).fold(0.0, f64::max);
    Ok(LoadReport {
        options: options.clone(),
        ack_ns,
        fill_ns,
        sessions: stats,
        sending_s,
        elapsed_s,
        journal: None,
        errors,
        feed_messages: 0,
    })
}

/// One market-data subscriber: reads the feed until `stop`; says how many
/// messages it read.
async fn watch_feed(
    addr: SocketAddr,
    index: usize,
    stop: CancellationToken,
) -> Result<u64, FeedError> {
    let mut feed = FeedClient::connect(addr).await?;
    let depth = if index.is_multiple_of(2) { 5 } else { 0 };
    feed.subscribe(depth, &[flow::SYMBOL]).await?;
    let mut messages = 0;
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(messages),
            message = feed.next() => {
                message?;
                messages += 1;
            }
        }
    }
}

/// Once a second, a line on stderr: elapsed, sent, accepted, fills and the
/// rates of the last second.
fn spawn_progress(
    progress: Arc<Progress>,
    start: Instant,
    duration: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(indicatif::ProgressStyle::with_template("{msg}").expect("a valid template"));
        let first = tokio::time::Instant::from_std(start) + Duration::from_secs(1);
        let mut tick = tokio::time::interval_at(first, Duration::from_secs(1));
        let mut last_accepted = 0;
        loop {
            tick.tick().await;
            let sent = progress.sent.load(Ordering::Relaxed);
            let accepted = progress.accepted.load(Ordering::Relaxed);
            let fills = progress.fills.load(Ordering::Relaxed);
            bar.set_message(format!(
                "{:>4.0}/{} s  sent {sent}  accepted {accepted} ({}/s)  fills {fills}",
                start.elapsed().as_secs_f64(),
                duration.as_secs(),
                accepted - last_accepted
            ));
            last_accepted = accepted;
        }
    })
}

/// A journal durability on the command line.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum DurabilityArg {
    /// `fsync`: answered once on disk.
    Fsync,
    /// `os`: answered once written to the OS.
    Os,
    /// `none`: answered at once.
    None,
}

impl From<DurabilityArg> for Durability {
    fn from(value: DurabilityArg) -> Self {
        match value {
            DurabilityArg::Fsync => Self::Fsync,
            DurabilityArg::Os => Self::Os,
            DurabilityArg::None => Self::None,
        }
    }
}
