//! `--spawn-server`: the runtime and the TCP server in process on
//! `127.0.0.1:0`, with the load's config (the embedded demo config unless
//! `--config` names another) in a temporary directory under the current
//! one, the market open now on [`Clock::quiet`] (a Saturday noon in
//! Beijing: no session opens or closes under a run), the brokers' throttles
//! lifted (a load test measures the server, not the token bucket) and the
//! pending-login limits wide enough for every session to log in at once
//! from one address. With `[metrics]` in the config (`cetx-load
//! --metrics-listen`), its Prometheus endpoint too, to watch a run.
//!
//! The accounts are funded for a load test too: [`LOAD_CASH_CNY`] and
//! [`LOAD_HOLDINGS_T`] of `CEA2025` each. The demo's 10 M CNY and 50,000 t
//! last seconds at these rates: CEA is T+1 (allowances bought today may
//! not be sold until tomorrow, reject 204), so an account can sell no more
//! than its opening holdings in a day, and the flow trades thousands of
//! tonnes a second.

use std::net::SocketAddr;
use std::sync::Arc;

use cetx_engine::journal::JournalStats;
use cetx_gateway::config::{Durability, MarketDataSettings, ServerConfig};
use cetx_gateway::market_data::FeedServer;
use cetx_gateway::metrics::{MetricsServer, Sources};
use cetx_gateway::runtime::{Clock, Runtime, RuntimeOptions};
use cetx_gateway::server::Server;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::LoadError;

/// Each account's cash in a spawned server, CNY (10^13 fen, far inside `i64`).
pub const LOAD_CASH_CNY: i64 = 100_000_000_000;
/// Each account's opening `CEA2025` holdings in a spawned server, tonnes.
pub const LOAD_HOLDINGS_T: u64 = 100_000_000;

/// `config` as a load test runs it: throttles lifted, every session let
/// in at once from one address, and the accounts funded.
#[must_use]
pub fn load_config(config: &ServerConfig) -> ServerConfig {
    let mut config = config.clone();
    // Every session logs in from this machine's one address at once.
    let brokers = u32::try_from(config.brokers.len()).unwrap_or(u32::MAX);
    config.server.max_pending_logins = config.server.max_pending_logins.max(brokers);
    config.server.max_pending_per_address = config.server.max_pending_logins;
    for broker in &mut config.brokers {
        broker.throttle.rate_per_s = 100_000_000;
        broker.throttle.burst = 100_000_000;
    }
    for account in &mut config.accounts {
        account.cash = LOAD_CASH_CNY.into();
        account
            .holdings
            .insert(super::flow::SYMBOL.to_owned(), LOAD_HOLDINGS_T);
    }
    config
}

/// A server started in process; [`SpawnedServer::stop`] ends it.
#[derive(Debug)]
pub struct SpawnedServer {
    addr: SocketAddr,
    /// The market-data feed, when the config has `[market_data]`.
    feed: Option<SocketAddr>,
    stop: CancellationToken,
    serving: JoinHandle<Result<(), cetx_gateway::server::ServerError>>,
    runtime: Runtime,
    // Removed on drop, after the runtime has stopped.
    _data: tempfile::TempDir,
}

impl SpawnedServer {
    /// Starts one on `config` (throttles lifted, accounts funded) with
    /// `durability`.
    ///
    /// # Errors
    /// Creating the directory, starting the runtime, binding the socket.
    pub async fn start(config: &ServerConfig, durability: Durability) -> Result<Self, LoadError> {
        let data = tempfile::Builder::new()
            .prefix("cetx-load-")
            .tempdir_in(std::env::current_dir()?)?;
        let mut config = load_config(config);
        config.journal.durability = durability;
        let config = Arc::new(config);
        let mut options = RuntimeOptions::new(data.path());
        // The market opened at start, on a clock no session closes under
        // until Monday, whatever the hour the run starts at.
        options.open_market_now = true;
        options.clock = Clock::quiet();
        let runtime = Runtime::start(&config, options)?;
        let server = Server::bind(
            Arc::clone(&config),
            runtime.handle(),
            "127.0.0.1:0".parse().expect("a valid address"),
        )
        .await?;
        let addr = server.local_addr();
        let stop = CancellationToken::new();
        let feed = match (runtime.handle().market_data(), &config.market_data) {
            (Some(market), Some(settings)) => {
                // Every subscriber of the run comes from this process.
                let settings = MarketDataSettings {
                    listen: "127.0.0.1:0".parse().expect("a valid address"),
                    max_subscribers_per_address: settings.max_subscribers,
                    ..settings.clone()
                };
                let feed = FeedServer::bind(market, settings).await?;
                let feed_addr = feed.local_addr();
                tokio::spawn(feed.run(stop.clone()));
                Some(feed_addr)
            }
            _ => None,
        };
        if let Some(settings) = &config.metrics {
            let sources = Sources {
                runtime: runtime.handle(),
                connections: Some(server.connections()),
            };
            let metrics = MetricsServer::bind(sources, settings.listen).await?;
            eprintln!("metrics on http://{}/metrics", metrics.local_addr());
            tokio::spawn(metrics.run(stop.clone()));
        }
        let serving = tokio::spawn(server.run(stop.clone()));
        Ok(Self {
            addr,
            feed,
            stop,
            serving,
            runtime,
            _data: data,
        })
    }

    /// Where it listens.
    #[must_use]
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where its market-data feed listens, if it publishes one.
    #[must_use]
    pub const fn feed_addr(&self) -> Option<SocketAddr> {
        self.feed
    }

    /// What its journal has done so far.
    #[must_use]
    pub fn journal_stats(&self) -> Option<JournalStats> {
        self.runtime.journal_stats()
    }

    /// Stops the server and the runtime, and says what the journal did.
    ///
    /// # Errors
    /// The server's or the runtime's failure.
    pub async fn stop(self) -> Result<Option<JournalStats>, LoadError> {
        self.stop.cancel();
        self.serving
            .await
            .map_err(|e| LoadError::Task(e.to_string()))??;
        let stats = self.runtime.journal_stats();
        self.runtime.shutdown()?;
        Ok(stats)
    }
}
