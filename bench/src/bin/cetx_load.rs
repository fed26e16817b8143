//! `cetx-load`: the load tester's command line. See `cetx_bench::load`.
//!
//! `cargo run --release -p cetx-bench --bin cetx-load -- --spawn-server
//! --durability fsync --rate 50000 --duration 10`

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use cetx_bench::load::report::{self, Summary};
use cetx_bench::load::{self, DurabilityArg, LoadOptions, Target};
use cetx_gateway::config::{MetricsSettings, ServerConfig};
use clap::{ArgGroup, Parser};

/// Load tester for a cetx server: realistic CEA2025 order flow from the demo
/// brokers, open loop at a fixed rate or closed loop, with order→ack and
/// order→fill latencies.
#[derive(Debug, Parser)]
#[command(name = "cetx-load", version)]
#[command(group(ArgGroup::new("server").required(true).args(["addr", "spawn_server"])))]
struct Cli {
    /// A running server, HOST:PORT (its brokers must be the demo config's).
    #[arg(long)]
    addr: Option<String>,
    /// Start the runtime and server in process on 127.0.0.1:0 with the
    /// embedded demo config (temporary directory under the current one,
    /// market open on a clock that starts at the next Saturday noon in
    /// Beijing, so that no session closes during the run; throttles
    /// lifted).
    #[arg(long)]
    spawn_server: bool,
    /// The server config whose brokers, secrets and accounts the sessions
    /// use (a spawned server runs it, throttles lifted and accounts
    /// funded); default: the embedded demo config.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The spawned server's journal durability.
    #[arg(long, value_enum, default_value = "fsync", requires = "spawn_server")]
    durability: DurabilityArg,
    /// Serve the spawned server's Prometheus endpoint here (`GET
    /// /metrics`, docs/OPERATIONS.md), to watch a run with curl.
    #[arg(long, value_name = "ADDR", requires = "spawn_server")]
    metrics_listen: Option<SocketAddr>,
    /// Broker sessions: at most the configured brokers (the demo config has
    /// 2), since the server takes one session per broker.
    #[arg(long, default_value_t = 2)]
    sessions: usize,
    /// New orders per second over all sessions; 0 is closed loop.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Closed loop: new orders awaiting an answer, per session. The
    /// default is deep enough for the largest group commits (maximum
    /// throughput); a small one measures latency under load instead.
    #[arg(long, default_value_t = 8192)]
    in_flight: usize,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Open loop: the least time between two writes of a session, in µs.
    /// Orders due meanwhile go out together in the next write, as a
    /// broker's gateway gathers its clients' orders; their latency still
    /// counts from their due time. 0 writes each order when it is due.
    #[arg(long, default_value_t = 100)]
    write_every_us: u64,
    /// The most new orders over all sessions.
    #[arg(long, default_value_t = 100_000_000)]
    max_orders: u64,
    /// The order flow's seed.
    #[arg(long, default_value_t = 2025)]
    seed: u64,
    /// Market-data subscribers reading the feed meanwhile (half at depth
    /// 5, half at full depth): what they cost the brokers. Against
    /// `--addr`, the feed is at the `[market_data] listen` of `--config`
    /// (the demo config's 127.0.0.1:7879 without it). All come from one
    /// address: past the server's `max_subscribers_per_address` (32 in
    /// the demo config) the run stops, saying so (412).
    #[arg(long, default_value_t = 0)]
    feed_subscribers: usize,
    /// Against a reused server: leave the brokers' reports from earlier
    /// runs unread (each session logs in resuming after the broker's last
    /// report, `resume_from_seq` 2^64 - 1). Without it each session resumes
    /// from 0 and reads them all first, and the summary says how long
    /// that took (`history`).
    #[arg(long)]
    skip_history: bool,
    /// Write the JSON summary here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write PREFIX-ack.hgrm and PREFIX-fill.hgrm percentile distributions.
    #[arg(long)]
    hgrm: Option<String>,
    /// Write an SVG latency-percentile plot here.
    #[arg(long)]
    svg: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    cetx_bench::exit(run(Cli::parse()).await)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let target = match &cli.addr {
        Some(addr) => {
            let addr: SocketAddr = tokio::net::lookup_host(addr)
                .await
                .with_context(|| format!("resolving {addr}"))?
                .next()
                .with_context(|| format!("{addr} resolves to nothing"))?;
            Target::Addr(addr)
        }
        None => Target::Spawn(cli.durability.into()),
    };
    anyhow::ensure!(
        cli.duration.is_finite() && cli.duration > 0.0 && cli.duration <= 86_400.0,
        "--duration must be in (0, 86400] seconds"
    );
    let mut config = match &cli.config {
        Some(path) => {
            ServerConfig::load(path).with_context(|| format!("loading {}", path.display()))?
        }
        None => ServerConfig::embedded_default(),
    };
    if let Some(listen) = cli.metrics_listen {
        config.metrics = Some(MetricsSettings { listen });
    }
    let options = LoadOptions {
        target,
        config,
        sessions: cli.sessions,
        rate_per_s: cli.rate,
        in_flight: cli.in_flight,
        duration: Duration::from_secs_f64(cli.duration),
        write_every: Duration::from_micros(cli.write_every_us),
        max_orders: cli.max_orders,
        seed: cli.seed,
        progress: true,
        feed_subscribers: cli.feed_subscribers,
        skip_history: cli.skip_history,
    };
    let report = load::run(&options).await.context("load run")?;
    let summary = Summary::of(&report);
    // Its sockets may still be open, so SIGPIPE stays ignored: a closed
    // output pipe (`| head`) ends the printing quietly instead.
    match std::io::stdout().write_all(report::table(&summary).as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(e).context("writing the results");
        }
        _ => {}
    }
    if let Some(path) = &cli.json {
        let text = serde_json::to_string_pretty(&summary)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(prefix) = &cli.hgrm {
        for (name, histogram) in [("ack", &report.ack_ns), ("fill", &report.fill_ns)] {
            let path = format!("{prefix}-{name}.hgrm");
            std::fs::write(&path, report::hgrm(histogram))
                .with_context(|| format!("writing {path}"))?;
        }
    }
    if let Some(path) = &cli.svg {
        let title = format!(
            "cetx-load: {} loop, {} orders/s, {}, {} sessions",
            summary.mode, summary.rate_per_s, summary.durability, summary.sessions
        );
        let text = report::svg(
            &title,
            &[
                ("order→ack", &report.ack_ns),
                ("order→fill", &report.fill_ns),
            ],
        );
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    anyhow::ensure!(
        summary.errors.is_empty(),
        "the run ended early: {}",
        summary.errors.join("; ")
    );
    Ok(())
}
