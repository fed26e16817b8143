//! [`TestServer`]: a real server in the test's process on `127.0.0.1:0`,
//! with a real journal in a temporary directory and the market opened at
//! start; its market-data feed, web view and metrics endpoint too when the
//! config has them (also on free ports).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cetx_gateway::admin::AdminServer;
use cetx_gateway::config::ServerConfig;
use cetx_gateway::market_data::{FeedServer, MarketData};
use cetx_gateway::metrics::{MetricsServer, Sources};
use cetx_gateway::runtime::{Clock, Runtime, RuntimeOptions};
use cetx_gateway::server::{Connections, Server, ServerError};
use cetx_gateway::web::WebServer;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A temporary data directory whose proven-address `file`
/// (`cetx_gateway::server::PROVEN_FILE` or `cetx_gateway::admin::PROVEN_FILE`)
/// says `id` logged in from 127.0.0.1 an hour ago: that address is proven
/// from the start (an address is proven a minute after it came into a list).
///
/// # Panics
/// If the directory or the file cannot be made.
pub fn dir_with_proven(file: &str, id: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    std::fs::write(
        dir.path().join(file),
        format!("{id} 127.0.0.1 {}\n", now_s - 3_600),
    )
    .expect("write the proven-address file");
    dir
}

/// Longest wait for the server to stop.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// A server and its market, stopped by [`TestServer::stop`].
#[derive(Debug)]
pub struct TestServer {
    /// Where brokers connect.
    pub addr: SocketAddr,
    /// Where the feed listens, when the config has `[market_data]`.
    pub feed: Option<SocketAddr>,
    /// Where the page is served, when the config has `[http]`.
    pub web: Option<SocketAddr>,
    /// Where `/metrics` is served, when the config has `[metrics]`.
    pub metrics: Option<SocketAddr>,
    /// Where operators connect, when the config has `[admin]`.
    pub admin: Option<SocketAddr>,
    /// The broker port's connections, counted when asked.
    pub connections: Connections,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), ServerError>>,
    /// The operators' channel, awaited before the runtime stops, as
    /// `cetx serve` does: it answers the actions in flight first.
    admin_task: Option<JoinHandle<()>>,
    runtime: Runtime,
    dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts one on `config`.
    ///
    /// # Panics
    /// If the runtime does not start or a socket cannot be bound.
    pub async fn start(config: ServerConfig) -> Self {
        Self::start_in(config, tempfile::tempdir().expect("temp dir")).await
    }

    /// Starts one on `config` with its data in `dir` (a restart, when it
    /// holds a journal), on [`Clock::quiet`]: a Saturday noon in Beijing,
    /// the same in every test of the process, so that no session closes
    /// under a test whenever it runs, and a restart goes on from where the
    /// last server stopped.
    ///
    /// # Panics
    /// As [`TestServer::start`].
    pub async fn start_in(config: ServerConfig, dir: tempfile::TempDir) -> Self {
        Self::start_at(config, dir, Clock::quiet()).await
    }

    /// Starts one on `config` whose market clock runs from `start_ns`
    /// (nanoseconds since the epoch) at the normal pace, as
    /// `cetx serve --start-at` does: for rules that depend on the time of
    /// day, such as block hours.
    ///
    /// # Panics
    /// As [`TestServer::start`].
    pub async fn start_running_from(config: ServerConfig, start_ns: i64) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_at(config, dir, Clock::starting_at(start_ns)).await
    }

    /// [`TestServer::start_in`] on `clock` (a manual one, for a test that
    /// needs the calendar's phase to be known).
    ///
    /// # Panics
    /// As [`TestServer::start`].
    pub async fn start_at(config: ServerConfig, dir: tempfile::TempDir, clock: Clock) -> Self {
        let mut options = RuntimeOptions::new(dir.path());
        options.open_market_now = true;
        options.clock = clock;
        let runtime = Runtime::start(&config, options).expect("runtime starts");
        let local: SocketAddr = "127.0.0.1:0".parse().expect("address");
        let shutdown = CancellationToken::new();
        let market = runtime.handle().market_data();
        let feed = match (&market, &config.market_data) {
            (Some(market), Some(settings)) => {
                let settings = cetx_gateway::config::MarketDataSettings {
                    listen: local,
                    ..settings.clone()
                };
                let feed = FeedServer::bind(market.clone(), settings)
                    .await
                    .expect("bind the feed");
                let addr = feed.local_addr();
                tokio::spawn(feed.run(shutdown.clone()));
                Some(addr)
            }
            _ => None,
        };
        let web = match (market, config.http.is_some()) {
            (Some(market), true) => {
                let web = WebServer::bind(market, local, config.calendar.utc_offset_s)
                    .await
                    .expect("bind the web view");
                let addr = web.local_addr();
                tokio::spawn(web.run(shutdown.clone()));
                Some(addr)
            }
            _ => None,
        };
        let config = Arc::new(config);
        let (admin, admin_task) = match &config.admin {
            Some(_) => {
                let admin = AdminServer::bind(runtime.handle(), Arc::clone(&config), local)
                    .await
                    .expect("bind the operators' channel")
                    .with_proven_file(dir.path().join(cetx_gateway::admin::PROVEN_FILE));
                let addr = admin.local_addr();
                (Some(addr), Some(tokio::spawn(admin.run(shutdown.clone()))))
            }
            None => (None, None),
        };
        // The addresses logins came from are kept as `cetx serve` keeps
        // them: a test proves one by writing the file before the start.
        let server = Server::bind(Arc::clone(&config), runtime.handle(), local)
            .await
            .expect("bind")
            .with_proven_file(dir.path().join(cetx_gateway::server::PROVEN_FILE));
        let addr = server.local_addr();
        let metrics = match &config.metrics {
            Some(_) => {
                let sources = Sources {
                    runtime: runtime.handle(),
                    connections: Some(server.connections()),
                };
                let metrics = MetricsServer::bind(sources, local)
                    .await
                    .expect("bind the metrics endpoint");
                let addr = metrics.local_addr();
                tokio::spawn(metrics.run(shutdown.clone()));
                Some(addr)
            }
            None => None,
        };
        let connections = server.connections();
        let task = tokio::spawn(server.run(shutdown.clone()));
        Self {
            addr,
            feed,
            web,
            metrics,
            admin,
            connections,
            shutdown,
            task,
            admin_task,
            runtime,
            dir,
        }
    }

    /// Sets the market clock of a server started on a manual clock
    /// ([`TestServer::start_at`]) and wakes the engine thread, so that the
    /// calendar and the auctions act on the new time at once.
    ///
    /// # Panics
    /// When the server's clock is not a manual one.
    pub fn set_time(&self, time_ns: i64) {
        self.runtime
            .handle()
            .set_time(time_ns)
            .expect("a manual clock");
    }

    /// The market clock's time, nanoseconds since the epoch.
    #[must_use]
    pub fn now_ns(&self) -> i64 {
        self.runtime.handle().now_ns()
    }

    /// What the metrics count: requests, rejects by code, trades.
    #[must_use]
    pub fn stats(&self) -> cetx_gateway::runtime::RuntimeStats {
        self.runtime.handle().stats()
    }

    /// Waits, at most `limit`, until what the snapshot thread has done
    /// satisfies `done`, and returns it (`None` if it never did in time).
    pub async fn snapshots_until(
        &self,
        limit: std::time::Duration,
        done: impl FnMut(&cetx_gateway::runtime::SnapshotStats) -> bool,
    ) -> Option<cetx_gateway::runtime::SnapshotStats> {
        let mut snapshots = self.runtime.handle().snapshots();
        let stats = match tokio::time::timeout(limit, snapshots.wait_for(done)).await {
            Ok(Ok(stats)) => *stats,
            _ => return None,
        };
        Some(stats)
    }

    /// The public market, when the config has `[market_data]`.
    #[must_use]
    pub fn market(&self) -> Option<MarketData> {
        self.runtime.handle().market_data()
    }

    /// Stops the server (within a few seconds) and the runtime, which must
    /// stop cleanly. Returns its data directory, for a test that reads the
    /// journal after.
    ///
    /// # Panics
    /// If either fails or does not stop in time.
    pub async fn stop(self) -> tempfile::TempDir {
        self.shutdown.cancel();
        let served = tokio::time::timeout(STOP_WAIT, self.task)
            .await
            .expect("the server stops in time")
            .expect("the server task does not panic");
        assert!(served.is_ok(), "{served:?}");
        if let Some(admin) = self.admin_task {
            tokio::time::timeout(STOP_WAIT, admin)
                .await
                .expect("the operators' channel stops in time")
                .expect("the operators' channel does not panic");
        }
        let runtime = self.runtime;
        tokio::task::spawn_blocking(move || runtime.shutdown())
            .await
            .expect("shutdown does not panic")
            .expect("the runtime stops cleanly");
        self.dir
    }
}

/// An answer to a new order: its client order id and reject code (0 when
/// accepted).
///
/// # Panics
/// On any other message.
#[must_use]
pub fn order_answer(message: &cetx_gateway::protocol::ServerMessage) -> (u64, u16) {
    use cetx_gateway::protocol::ServerMessage;
    match *message {
        ServerMessage::OrderAccepted {
            client_order_id, ..
        } => (client_order_id, 0),
        ServerMessage::OrderRejected {
            client_order_id,
            reason,
            ..
        } => (client_order_id, reason),
        ref other => panic!("not an answer to a new order: {other:?}"),
    }
}
