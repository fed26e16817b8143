//! `cetx`: run the exchange, or send it one order by hand.
//!
//! - `cetx serve [--config FILE] [--listen ADDR] [--data-dir DIR]
//!   [--open-market-now] [--start-at TIME]` recovers the market from its journal and serves
//!   brokers until SIGTERM or Ctrl-C, then drains and syncs the journal and
//!   exits 0. Without `--config` it runs the embedded demo market.
//! - `cetx order --broker N [--secret-file FILE] --account A --symbol SYM
//!   --side buy --qty N [--price 90.00] …` logs in, sends one order and
//!   prints its reports. The secret comes from `--secret-file`, else
//!   `CETX_SECRET`, else a prompt (`secret`); `--secret S` still works,
//!   with a warning, since `ps` shows it.
//! - `cetx replay --journal DIR [--config FILE] [--day YYYYMMDD] [--from-seq N]
//!   [--out DIR] [--format csv|json] [--follow]` verifies and replays a
//!   journal into settlement reports and the clearing file (see
//!   `cetx_engine::settlement::run` for the outputs and the exit codes).
//! - `cetx journal archive --before-seq N [--config FILE] [--data-dir DIR]
//!   [--to DIR]` moves settled segments, wholly before both N and the
//!   oldest kept snapshot, to an archive directory (never deletes; the
//!   server must be stopped).
//! - `cetx watch [--feed ADDR] [--depth N] [--once] SYMBOL…` shows the
//!   market live in the terminal from the market-data feed (`watch`,
//!   drawn by `screen`).
//!
//! Logs go to stderr through `tracing`, filtered by `RUST_LOG` (default
//! `info`).

mod admin;
mod block;
mod requests;
mod screen;
mod secret;
mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use cetx_gateway::admin::AdminServer;
use cetx_gateway::client::{Client, NewOrder};
use cetx_gateway::config::ServerConfig;
use cetx_gateway::market_data::FeedServer;
use cetx_gateway::metrics::{MetricsServer, Sources as MetricsSources};
use cetx_gateway::protocol::{
    OrderType, ServerFrame, ServerMessage, Side, TimeInForce, RESUME_AFTER_LAST,
};
use cetx_gateway::runtime::{Runtime, RuntimeOptions};
use cetx_gateway::server::Server;
use cetx_gateway::web::WebServer;
use clap::{Parser, Subcommand, ValueEnum};
use rust_decimal::Decimal;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// cetx: a matching engine for China's carbon market (CEA and CCER).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the exchange: recover the journal and serve brokers.
    Serve(ServeArgs),
    /// Send one order, or a listing-agreement take (`--take`), and print
    /// its reports.
    Order(OrderArgs),
    /// Cancel a resting order of the broker's, by its client order id, and
    /// print the answer.
    Cancel(requests::CancelArgs),
    /// Change a resting order's price and open quantity, by its client
    /// order id, and print the answer (and the fills it causes).
    Amend(requests::AmendArgs),
    /// Block trades (大宗协议) as a broker: `post`, `accept` or `cancel` a
    /// block offer and print the reports that answer it.
    Block(block::BlockArgs),
    /// One-way auctions (单向竞价) as a broker: `place`, `amend` or `cancel`
    /// a bid and print the reports that answer it.
    Bid(requests::BidArgs),
    /// Settlement from a journal: the clearing file and the day, account,
    /// transfer, large-holder and auction reports (docs/SETTLEMENT.md).
    ///
    /// Exit codes: 0 read, reconciled and conserved; 1 an I/O error, no
    /// journal at the path, or a config that does not load or differs from
    /// the journal's market; 2 bad arguments (usage); 3 a corrupt record;
    /// 4 a sequence gap or a missing segment; 5 not reconciled or not
    /// conserved; 6 a damaged last record inside a trading day that has
    /// ended, whose end of day is missing.
    Replay(ReplayArgs),
    /// Journal maintenance.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// Watch the market live in the terminal: depth, trades and the day's
    /// figures from the market-data feed. `q` quits.
    Watch(watch::WatchArgs),
    /// The operators' channel: open accounts, move cash and allowances,
    /// halt and resume instruments (docs/ADMIN.md).
    ///
    /// Exit codes: 0 every action applied (a transfer applied before
    /// counts: a re-sent file changes nothing); 1 an action refused or the
    /// channel failed; 2 bad arguments.
    Admin(admin::AdminArgs),
}

#[derive(Debug, Subcommand)]
enum JournalCommand {
    /// Move segments wholly before `--before-seq` and before the oldest
    /// kept snapshot to an archive directory, and record that in the
    /// journal's MANIFEST, so readers still find them. Nothing is deleted.
    /// Refuses while a server runs on the data directory.
    Archive(ArchiveArgs),
}

#[derive(Debug, clap::Args)]
struct ArchiveArgs {
    /// Archive only segments whose every entry is before this sequence
    /// number (what the registries have settled).
    #[arg(long, value_name = "SEQ")]
    before_seq: u64,
    /// The server config, for `server.data_dir`; default: the embedded
    /// demo market's.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The data directory (overrides the config's).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Where archived segments go, relative to the journal directory
    /// unless absolute. Once set, the journal's MANIFEST keeps it, and a
    /// later run without `--to` archives there; the first default is
    /// `../archive` (`DATA_DIR/archive`).
    #[arg(long, value_name = "DIR")]
    to: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("selection").args(["day", "from_seq"]).multiple(true)))]
struct ReplayArgs {
    /// The journal directory (a server's `DATA_DIR/journal`), or the data
    /// directory itself, whose `journal/` is then read. A path with no
    /// journal in it is an error (exit 1).
    #[arg(long, value_name = "DIR")]
    journal: PathBuf,
    /// Not needed: the journal describes its own market. Given, the
    /// config's instruments and calendar are checked against the
    /// journal's, and the first difference is an error (exit 1).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Only this trading day, `YYYYMMDD` (as the reports print it), in
    /// every output; a date that does not exist is a usage error (exit 2).
    #[arg(long, value_name = "YYYYMMDD", value_parser = parse_date)]
    day: Option<u32>,
    /// Only entries from this sequence number on, in every output.
    #[arg(long, default_value_t = 0)]
    from_seq: u64,
    /// Write the clearing, days, accounts, transfers, large_holders and
    /// auctions files into this directory (default: the clearing file to stdout, the reports to
    /// stderr).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReplayFormat::Csv)]
    format: ReplayFormat,
    /// Keep reading a live journal and print clearing rows as they appear,
    /// until Ctrl-C; reconcile at each end of day and, with `--out`,
    /// rewrite the days, accounts, transfers, large_holders and auctions
    /// files then. With
    /// `--format json` standard output is then JSON Lines (one object per
    /// line), not an array.
    #[arg(long)]
    follow: bool,
    /// Start from the newest snapshot in the journal directory taken
    /// before the selection (`--day` or `--from-seq`, one of which it
    /// needs), not from seq 1: the entries before it are taken on the
    /// snapshot's word, and their segments need not be there. With no such
    /// snapshot, the journal is read from seq 1 and a note says why.
    #[arg(long, requires = "selection")]
    from_snapshot: bool,
}

/// A `--day`: a calendar date written `YYYYMMDD`, as the reports print it.
fn parse_date(text: &str) -> Result<u32, String> {
    let date = chrono::NaiveDate::parse_from_str(text, "%Y%m%d")
        .ok()
        .filter(|_| text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("{text:?} is not a date written YYYYMMDD"))?;
    text.parse()
        .map_err(|_| format!("{date} does not fit a YYYYMMDD number"))
}

/// The journal directory `cetx replay` reads: `path` itself, or, when
/// `path` is a data directory (it has a `journal/` and no segment of its
/// own), its `journal/`.
fn journal_dir(path: PathBuf) -> PathBuf {
    let inner = path.join(cetx_gateway::runtime::JOURNAL_DIR);
    let has_segments = |dir: &std::path::Path| {
        cetx_engine::journal::journal_segments(dir).is_ok_and(|s| !s.is_empty())
    };
    if inner.is_dir() && !has_segments(&path) {
        inner
    } else {
        path
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ReplayFormat {
    Csv,
    Json,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Server config (TOML, see docs/CONFIG.md); default: the embedded demo
    /// market.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to accept brokers on (overrides `server.listen`).
    #[arg(long, value_name = "ADDR", value_parser = cetx_gateway::config::parse_addr)]
    listen: Option<SocketAddr>,
    /// Address of the market-data feed (overrides `market_data.listen`;
    /// needs a `[market_data]` section, as the embedded config has).
    #[arg(long, value_name = "ADDR", value_parser = cetx_gateway::config::parse_addr)]
    market_data_listen: Option<SocketAddr>,
    /// Address of the web view (overrides `http.listen`; needs an
    /// `[http]` section, as the embedded config has).
    #[arg(long, value_name = "ADDR", value_parser = cetx_gateway::config::parse_addr)]
    http_listen: Option<SocketAddr>,
    /// Address of the Prometheus endpoint, `GET /metrics` (overrides
    /// `metrics.listen`; turns metrics on without a `[metrics]` section).
    #[arg(long, value_name = "ADDR", value_parser = cetx_gateway::config::parse_addr)]
    metrics_listen: Option<SocketAddr>,
    /// Address of the operators' channel (overrides `admin.listen`; needs
    /// an `[admin]` section and `[[operators]]` in the config).
    #[arg(long, value_name = "ADDR", value_parser = cetx_gateway::config::parse_addr)]
    admin_listen: Option<SocketAddr>,
    /// Directory of the journal and snapshots (overrides
    /// `server.data_dir`).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Open every instrument for continuous trading now, whatever the
    /// calendar says (for demos and tests); the calendar takes over at its
    /// next transition.
    #[arg(long)]
    open_market_now: bool,
    /// Start although the config's instruments or calendar differ from
    /// the market the journal describes, and journal the config's (a new
    /// calendar, an instrument listed or revised) from here on. Without
    /// it, such a start is refused and the first difference named.
    #[arg(long)]
    accept_config_change: bool,
    /// Run the market's clock from this moment instead of now (RFC 3339,
    /// e.g. `2026-11-27T09:29:50+08:00`), at the normal pace: for demos of
    /// the calendar's open, break and close. Commands are never stamped
    /// earlier than the journal's last one, and a moment behind the
    /// journal re-runs none of its transitions nor reopens a day it has
    /// closed.
    #[arg(long, value_name = "TIME", value_parser = time_arg)]
    start_at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

#[derive(Debug, clap::Args)]
struct OrderArgs {
    /// The server.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: String,
    /// The broker's id.
    #[arg(long)]
    broker: u32,
    /// The broker's secret on the command line: every local user sees it
    /// (`ps`, shell history), so prefer `--secret-file`, `CETX_SECRET` or
    /// the prompt (asked when neither is given).
    #[arg(long, conflicts_with = "secret_file")]
    secret: Option<String>,
    /// A file whose first line is the broker's secret (keep it `chmod
    /// 600`).
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// The account to trade for.
    #[arg(long)]
    account: u32,
    /// The instrument, e.g. CEA2025.
    #[arg(long)]
    symbol: String,
    /// Buy or sell.
    #[arg(long)]
    side: SideArg,
    /// Limit or market.
    #[arg(long = "type", default_value = "limit")]
    order_type: TypeArg,
    /// Time in force.
    #[arg(long, default_value = "day")]
    tif: TifArg,
    /// Limit price in CNY, e.g. 90.00 (ignored for market orders).
    #[arg(long, value_parser = price_arg, allow_negative_numbers = true)]
    price: Option<Decimal>,
    /// Quantity in tonnes.
    #[arg(long)]
    qty: u64,
    /// A listing-agreement take instead of a new order: trade `--qty` of
    /// the resting order with this public order id (the market-data
    /// feed's order view, docs/MARKET_DATA.md) at its price. `--side` is the taker's;
    /// `--type`, `--tif` and `--price` do not apply.
    #[arg(long, value_name = "ORDER_ID", conflicts_with = "price")]
    take: Option<u64>,
    /// The broker's id for the order; default: from the clock.
    #[arg(long)]
    client_order_id: Option<u64>,
    /// Seconds to wait for the login and the first answer (1 to 86,400).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: u64,
    /// Seconds to stay connected while the order rests, printing its
    /// fills. The demo brokers cancel their resting orders when they
    /// disconnect, so an order rests only while this command waits (up to
    /// 86,400).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(..=86_400))]
    wait: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SideArg {
    Buy,
    Sell,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TypeArg {
    Limit,
    Market,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TifArg {
    Day,
    Ioc,
    Fok,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        cetx_gateway::sigpipe::restore_default();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting tokio: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::Order(args) => runtime.block_on(order(args)),
        Command::Cancel(args) => runtime.block_on(requests::cancel(args)),
        Command::Amend(args) => runtime.block_on(requests::amend(args)),
        Command::Block(args) => runtime.block_on(block::run(args)),
        Command::Bid(args) => runtime.block_on(requests::bid(args)),
        Command::Replay(args) => return runtime.block_on(replay(args)),
        Command::Journal(JournalCommand::Archive(args)) => archive(&args),
        Command::Watch(args) => runtime.block_on(watch::run(args)),
        Command::Admin(args) => return runtime.block_on(admin::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error_text(&error));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes in one line, as `{:#}` gives them, but each
/// cause said once: the library's errors name their source in their own
/// text (so that a log line alone says it), which `{:#}` repeated.
pub(crate) fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let said = cause.to_string();
        if text.contains(&said) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&said);
    }
    text
}

/// `cetx replay`: runs the settlement replay on a blocking thread, with a
/// progress line on a terminal and Ctrl-C ending `--follow`.
async fn replay(args: ReplayArgs) -> ExitCode {
    use cetx_engine::settlement::{self, exit, Format};
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicBool, Ordering};

    let expected = match &args.config {
        Some(path) => match ServerConfig::load(path) {
            Ok(config) => Some(config.market()),
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(exit::FAILURE);
            }
        },
        None => None,
    };
    let replay_args = settlement::ReplayArgs {
        journal: journal_dir(args.journal),
        expected,
        day: args.day,
        from_seq: args.from_seq,
        out: args.out,
        format: match args.format {
            ReplayFormat::Csv => Format::Csv,
            ReplayFormat::Json => Format::Json,
        },
        follow: args.follow,
        from_snapshot: args.from_snapshot,
        now_ns: Some(cetx_gateway::runtime::Clock::system().now_ns()),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stopper = Arc::clone(&stop);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stopper.store(true, Ordering::SeqCst);
        }
    });
    let work = tokio::task::spawn_blocking(move || {
        let progress = if std::io::stderr().is_terminal() {
            indicatif::ProgressBar::new_spinner()
        } else {
            indicatif::ProgressBar::hidden()
        };
        progress.set_message("replaying");
        let mut tick = |seq: u64| {
            if seq.is_multiple_of(4096) {
                progress.set_message(format!("replayed through seq {seq}"));
                progress.tick();
            }
        };
        let (mut stdout, mut stderr) = (std::io::stdout().lock(), std::io::stderr());
        let result = settlement::run(&replay_args, &mut stdout, &mut stderr, &mut tick, &stop);
        progress.finish_and_clear();
        result
    });
    match work.await {
        Ok(Ok(summary)) => {
            eprintln!("{}", replay_summary(&summary));
            ExitCode::from(exit::OK)
        }
        Ok(Err(failure)) => {
            eprintln!("error: {failure}");
            ExitCode::from(failure.exit_code())
        }
        Err(panic) => {
            eprintln!("error: the replay thread failed: {panic}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

/// The last line of `cetx replay`: what it read and how far it reconciled.
fn replay_summary(summary: &cetx_engine::settlement::ReplaySummary) -> String {
    let after = summary.snapshot_seq.map_or(String::new(), |seq| {
        format!(" after the snapshot at seq {seq}")
    });
    let mut line = format!(
        "replayed {} entries{after} through seq {}: {} clearing rows",
        summary.entries, summary.last_seq, summary.rows
    );
    if summary.followed > 0 {
        line += &format!(" ({} of the entries followed live)", summary.followed);
    }
    if summary.reconciled_seq == summary.last_seq {
        line += "; reconciled";
    } else {
        line += &format!(
            "; reconciled through seq {}; the {} entries after it are settled but not reconciled (a follow reconciles at each end of day)",
            summary.reconciled_seq,
            summary.last_seq - summary.reconciled_seq
        );
    }
    line
}

fn archive(args: &ArchiveArgs) -> Result<()> {
    let config = match &args.config {
        Some(path) => ServerConfig::load(path)?,
        None => ServerConfig::embedded_default(),
    };
    let data_dir = args.data_dir.as_ref().unwrap_or(&config.server.data_dir);
    let journal_dir = data_dir.join(cetx_gateway::runtime::JOURNAL_DIR);
    if !journal_dir.is_dir() {
        bail!("{} is not a journal directory", journal_dir.display());
    }
    let outcome = cetx_gateway::runtime::archive(&journal_dir, args.to.as_deref(), args.before_seq)
        .with_context(|| format!("archiving segments of {}", journal_dir.display()))?;
    let archived = &outcome.archived;
    for (first_seq, path) in &archived.moved {
        println!(
            "archived segment from seq {first_seq} to {}",
            path.display()
        );
    }
    match archived.snapshot_limit {
        None => println!("no snapshot reads: recovery needs every segment, so none was archived"),
        Some(limit) => println!(
            "entries before seq {} are archived (asked: before {}; the oldest kept snapshot was taken after seq {}, whose record stays live, and brokers' resumes read back its trading day from seq {} on, the close before it included: a resume from an earlier report needs the archive in place)",
            archived.archived_before,
            args.before_seq,
            limit,
            outcome.resume_floor
        ),
    }
    Ok(())
}

/// The shortest secret not warned about: 16 characters. PROTOCOL.md asks
/// for 22 base64 characters (128 bits); the back-off only slows guessing.
const SHORT_SECRET: usize = 16;

/// The example secret the docs and `default.toml`'s comments show.
const EXAMPLE_SECRET: &str = "a long random secret";

/// Warns of each configured broker's or operator's secret that is short, or
/// one the embedded demo config or the docs publish.
fn warn_of_weak_secrets(config: &ServerConfig) {
    let demo = ServerConfig::embedded_default();
    let published = |secret: &cetx_gateway::protocol::Secret| {
        let secret = secret.expose();
        secret == EXAMPLE_SECRET
            || demo.brokers.iter().any(|b| b.secret.expose() == secret)
            || demo.operators.iter().any(|o| o.secret.expose() == secret)
    };
    let secrets = config
        .brokers
        .iter()
        .map(|b| ("broker", b.id.0, &b.secret))
        .chain(
            config
                .operators
                .iter()
                .map(|o| ("operator", o.id, &o.secret)),
        );
    for (who, id, secret) in secrets {
        let length = secret.expose().chars().count();
        if published(secret) {
            tracing::warn!("{who} {id}'s secret is one the demo config or the docs publish (gateway/default.toml, the README, CONFIG.md): anyone can log in as it; give it a long random one");
        } else if length < SHORT_SECRET {
            tracing::warn!("{who} {id}'s secret is {length} characters: make secrets long and random, 22 base64 characters (128 bits) or more (PROTOCOL.md, Logging in), since the back-off of failed logins only slows guessing");
        }
    }
}

/// Warns when others than its owner may write in the data directory (an
/// existing one keeps its mode), unless it is sticky: they could rename
/// the journal away or put files in its place.
fn warn_if_writable_by_others(data_dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(metadata) = std::fs::metadata(data_dir) else {
        return;
    };
    let mode = metadata.permissions().mode() & 0o7777;
    // A sticky directory (/tmp's 1777) lets no one else move what is ours.
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        tracing::warn!(
            "the data directory {} is writable by its group or other users (mode {mode:o}): they could move the journal away; chmod 700 it",
            data_dir.display()
        );
    }
}

/// Files the server may hold open at once with `config`: every port's
/// connections at their limits (those of the broker port and the feed
/// from the config, the operators', the web view's and `/metrics`'s
/// fixed), and 128 for the journal, snapshots, listeners and the rest
/// (OPERATIONS.md, *Open files*).
fn open_files_needed(config: &ServerConfig) -> u64 {
    let brokers =
        u64::from(config.server.max_connections) + u64::from(config.server.max_pending_logins);
    let feed = config.market_data.as_ref().map_or(0, |m| m.max_subscribers);
    let operators = config.admin.as_ref().map_or(0, |_| {
        cetx_gateway::admin::MAX_CONNECTIONS + cetx_gateway::admin::KEPT_FOR_PROVEN
    });
    let web = config
        .http
        .as_ref()
        .map_or(0, |_| cetx_gateway::web::MAX_CONNECTIONS);
    let metrics = config
        .metrics
        .as_ref()
        .map_or(0, |_| cetx_gateway::metrics::MAX_CONNECTIONS);
    brokers + (feed + operators + web + metrics + 128) as u64
}

/// Raises the soft limit on open files to the hard one (a process may, as
/// `ulimit -n -S` may): every port's connections are bounded by the config,
/// and with the journal's files they must fit under it, or a busy port
/// would take the file the journal needs next. Warns, naming both, when
/// even the hard limit is below what the config may open
/// ([`open_files_needed`]).
fn raise_open_files(needed: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let mut current = limit.current;
    // `None` is no limit; the kernel keeps one for open files anyway, so
    // only a finite hard limit is raised to.
    if limit.maximum.is_some()
        && limit
            .current
            .is_some_and(|current| Some(current) < limit.maximum)
    {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => current = limit.maximum,
            Err(error) => tracing::debug!(%error, "the open-files limit stays as it was"),
        }
    }
    if let Some(current) = current.filter(|&current| current < needed) {
        tracing::warn!(
            limit = current,
            needed,
            "the process may open {current} files, and this config's connection limits with the journal's files come to {needed}: raise the limit (ulimit -n, LimitNOFILE=) or lower the limits (OPERATIONS.md, Open files)"
        );
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let embedded = args.config.is_none();
    let mut config = match &args.config {
        Some(path) => ServerConfig::load(path)?,
        None => ServerConfig::embedded_default(),
    };
    let holds_secrets = !config.brokers.is_empty() || !config.operators.is_empty();
    if let Some(path) = args.config.as_ref().filter(|_| holds_secrets) {
        warn_if_open_to_others(path);
        warn_of_weak_secrets(&config);
    }
    let now_s = cetx_gateway::runtime::Clock::system().now_ns() / 1_000_000_000;
    for (section, _, tls) in tls_sections(&config) {
        if let Some(why) = cetx_gateway::tls::validity_warning(&tls.cert, now_s) {
            tracing::warn!("the certificate {} of {section}: {why}", tls.cert.display());
        }
    }
    for key in tls_sections(&config).map(|(_, _, t)| &t.key) {
        if let Ok(Some(mode)) = cetx_gateway::config::open_to_others(key) {
            tracing::warn!(
                "the TLS private key {} is open to its group or other users (mode {mode:o}); chmod 600 it",
                key.display()
            );
        }
    }
    if let Some(addr) = args.market_data_listen {
        let settings = config
            .market_data
            .as_mut()
            .context("--market-data-listen needs a [market_data] section in the config")?;
        settings.listen = addr;
    }
    if let Some(addr) = args.http_listen {
        let settings = config
            .http
            .as_mut()
            .context("--http-listen needs an [http] section in the config")?;
        settings.listen = addr;
    }
    if let Some(addr) = args.metrics_listen {
        config.metrics.get_or_insert_with(Default::default).listen = addr;
    }
    if let Some(addr) = args.admin_listen {
        let settings = config
            .admin
            .as_mut()
            .context("--admin-listen needs an [admin] section in the config")?;
        settings.listen = addr;
    }
    raise_open_files(open_files_needed(&config));
    let listen = args.listen.unwrap_or(config.server.listen);
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| config.server.data_dir.clone());
    if data_dir.to_str().is_some_and(|d| d.trim().is_empty()) {
        bail!("--data-dir must not be empty or only spaces");
    }
    // A second server on the same config would fail on its first port,
    // the first server's: say what is in the way instead.
    cetx_engine::journal::JournalLock::check_free(
        &data_dir.join(cetx_gateway::runtime::JOURNAL_DIR),
    )
    .with_context(|| format!("starting the market from {}", data_dir.display()))?;
    check_before_start(&config, listen)?;
    // From here on a SIGTERM or Ctrl-C stops the server cleanly, even one
    // that comes during recovery (then it stops once recovered).
    let shutdown = CancellationToken::new();
    stop_on_signal(shutdown.clone()).context("listening for SIGTERM and SIGINT")?;
    if data_dir.exists() && !data_dir.is_dir() {
        bail!(
            "the data directory {} is a file, not a directory",
            data_dir.display()
        );
    }
    cetx_engine::journal::private::create_dir(&data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    warn_if_writable_by_others(&data_dir);
    let mut options = RuntimeOptions::new(&data_dir);
    options.open_market_now = args.open_market_now;
    options.accept_config_change = args.accept_config_change;
    if let Some(start) = args.start_at {
        let start_ns = start
            .timestamp_nanos_opt()
            .context("--start-at is outside the years 1677–2262")?;
        options.clock = cetx_gateway::runtime::Clock::starting_at(start_ns);
    }
    let runtime = Runtime::start(&config, options)
        .with_context(|| format!("starting the market from {}", data_dir.display()))?;
    let config = Arc::new(config);
    let server = match Server::bind(Arc::clone(&config), runtime.handle(), listen).await {
        Ok(server) => server.with_proven_file(data_dir.join(cetx_gateway::server::PROVEN_FILE)),
        Err(error) => {
            let _ = tokio::task::spawn_blocking(move || runtime.shutdown()).await;
            return Err(error).with_context(|| format!("listening on {listen}"));
        }
    };
    let feed = match (runtime.handle().market_data(), &config.market_data) {
        (Some(market), Some(settings)) => match FeedServer::bind(market, settings.clone()).await {
            Ok(feed) => Some(feed),
            Err(error) => {
                let _ = tokio::task::spawn_blocking(move || runtime.shutdown()).await;
                return Err(error)
                    .with_context(|| format!("listening for market data on {}", settings.listen));
            }
        },
        _ => None,
    };
    let web = match (runtime.handle().market_data(), &config.http) {
        (Some(market), Some(http)) => {
            match WebServer::bind(market, http.listen, config.calendar.utc_offset_s).await {
                Ok(web) => Some(web),
                Err(error) => {
                    let _ = tokio::task::spawn_blocking(move || runtime.shutdown()).await;
                    return Err(error)
                        .with_context(|| format!("serving the web view on {}", http.listen));
                }
            }
        }
        _ => None,
    };
    let metrics = match &config.metrics {
        Some(settings) => {
            match MetricsServer::bind(metrics_sources(&runtime, &server), settings.listen).await {
                Ok(metrics) => Some(metrics),
                Err(error) => {
                    let _ = tokio::task::spawn_blocking(move || runtime.shutdown()).await;
                    return Err(error)
                        .with_context(|| format!("serving metrics on {}", settings.listen));
                }
            }
        }
        None => None,
    };
    let admin = match &config.admin {
        Some(settings) => {
            match AdminServer::bind(runtime.handle(), Arc::clone(&config), settings.listen).await {
                Ok(admin) => {
                    Some(admin.with_proven_file(data_dir.join(cetx_gateway::admin::PROVEN_FILE)))
                }
                Err(error) => {
                    let _ = tokio::task::spawn_blocking(move || runtime.shutdown()).await;
                    return Err(error)
                        .with_context(|| format!("serving operators on {}", settings.listen));
                }
            }
        }
        None => None,
    };
    // A stop asked for during a long recovery is kept: the server stops
    // now, without saying it listens or starting what it would serve.
    let stopping = shutdown.is_cancelled();
    if !stopping {
        print_banner(&config, &runtime, server.local_addr(), &data_dir, embedded);
    }
    let (admin, feed, web, metrics) = if stopping {
        (None, None, None, None)
    } else {
        (admin, feed, web, metrics)
    };
    let admin = admin.map(|admin| {
        println!("operators on {}", admin.local_addr());
        tokio::spawn(admin.run(shutdown.clone()))
    });
    let feed = feed.map(|feed| {
        println!("market data on {}", feed.local_addr());
        tokio::spawn(feed.run(shutdown.clone()))
    });
    let web = web.map(|web| {
        println!("web view on http://{}/", web.local_addr());
        tokio::spawn(web.run(shutdown.clone()))
    });
    let metrics = metrics.map(|metrics| {
        println!("metrics on http://{}/metrics", metrics.local_addr());
        tokio::spawn(metrics.run(shutdown.clone()))
    });
    let served = server.run(shutdown.clone()).await;
    shutdown.cancel();
    if let Some(metrics) = metrics {
        if let Ok(Err(error)) = metrics.await {
            tracing::warn!(%error, "the metrics endpoint stopped with an error");
        }
    }
    if let Some(feed) = feed {
        let _ = feed.await;
    }
    if let Some(admin) = admin {
        let _ = admin.await;
    }
    if let Some(web) = web {
        if let Ok(Err(error)) = web.await {
            tracing::warn!(%error, "the web view stopped with an error");
        }
    }
    tracing::info!("draining the queue and syncing the journal");
    let handle = runtime.handle();
    let stopped = tokio::task::spawn_blocking(move || runtime.shutdown())
        .await
        .context("waiting for the runtime to stop")?;
    // The later of the clock and the last entry: a clock behind the
    // journal started again here would find the market frozen at it.
    let stopped_ns = handle.market_time_ns();
    stopped.context("the market stopped with an error")?;
    served.context("the server stopped")?;
    tracing::info!("stopped cleanly");
    if let Some(start) = args.start_at {
        // A restart's `--start-at` starts the clock again where it says:
        // the time to give it to go on from here, in the offset given.
        let at = chrono::DateTime::from_timestamp_nanos(stopped_ns)
            .with_timezone(start.offset())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        println!("stopped at market time {at}: --start-at {at} goes on from there");
    }
    Ok(())
}

/// What the metrics endpoint reads: the market and the broker server.
fn metrics_sources(runtime: &Runtime, server: &Server) -> MetricsSources {
    MetricsSources {
        runtime: runtime.handle(),
        connections: Some(server.connections()),
    }
}

/// Listens for SIGTERM and Ctrl-C (SIGINT) from now on, so that a signal
/// sent during start-up (a long recovery, say) is not lost and does not
/// kill the process, and cancels `shutdown` at the first.
fn stop_on_signal(shutdown: CancellationToken) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::info!("stop requested");
        shutdown.cancel();
    });
    Ok(())
}

/// Most accounts the banner names per broker.
const BANNER_ACCOUNTS: usize = 8;

fn print_banner(
    config: &ServerConfig,
    runtime: &Runtime,
    addr: SocketAddr,
    data_dir: &std::path::Path,
    embedded: bool,
) {
    println!(
        "cetx listening on {addr} (journal in {})",
        data_dir.display()
    );
    for (_, port, t) in tls_sections(config) {
        let clients = match &t.client_ca {
            Some(ca) => format!(", client certificates checked against {}", ca.display()),
            None => String::new(),
        };
        println!(
            "{port} speaks TLS (certificate {}{clients})",
            t.cert.display()
        );
    }
    // The journal's market: the config's instruments and any an operator
    // listed since.
    let symbols = runtime.handle().symbols();
    let symbols: Vec<&str> = symbols.symbols().iter().map(|s| s.as_str()).collect();
    println!("instruments: {}", symbols.join(", "));
    // The market's accounts, which on a market that already ran are the
    // journal's: the config's `[[accounts]]` opened them on the first start.
    for broker in &config.brokers {
        let mut accounts: Vec<String> = runtime
            .accounts_at_start()
            .iter()
            .filter(|&&(_, of, _)| of == broker.id)
            .map(|(id, _, participant)| format!("{} ({})", id.0, participant.config_name()))
            .collect();
        if accounts.len() > BANNER_ACCOUNTS {
            let more = accounts.len() - BANNER_ACCOUNTS;
            accounts.truncate(BANNER_ACCOUNTS);
            accounts.push(format!("and {more} more"));
        }
        if accounts.is_empty() {
            accounts.push("none yet".to_owned());
        }
        // Secrets are never printed, not even the demo's (docs/CONFIG.md):
        // output is copied into logs and tickets.
        println!(
            "broker {} \"{}\": accounts {}",
            broker.id.0,
            broker.name,
            accounts.join(", ")
        );
    }
    if embedded {
        println!(
            "demo brokers: their published secrets are in gateway/default.toml and the README; \
             never expose this server to a network others can reach"
        );
    }
}

/// Logs in as `broker` at `addr` for what comes next, within `timeout`:
/// resuming after the broker's last report ([`RESUME_AFTER_LAST`]), so
/// that its earlier reports (millions, for a busy broker) are not read.
async fn log_in_for_what_comes(
    addr: &str,
    broker: u32,
    secret: &str,
    timeout: Duration,
) -> Result<Client> {
    tokio::time::timeout(
        timeout,
        Client::connect(addr, broker, secret, RESUME_AFTER_LAST),
    )
    .await
    .with_context(|| format!("no answer to the login from {addr} within {timeout:?}"))?
    .with_context(|| format!("logging in to {addr}"))
}

async fn order(args: OrderArgs) -> Result<()> {
    let price_ticks = match (args.order_type, args.price) {
        _ if args.take.is_some() => 0,
        (TypeArg::Limit, None) => bail!("a limit order needs --price"),
        (_, Some(price)) => price_to_ticks(price)?,
        (TypeArg::Market, None) => 0,
    };
    let client_order_id = args.client_order_id.unwrap_or_else(requests::id_from_clock);
    let timeout = Duration::from_secs(args.timeout);
    let secret = secret::resolve(
        secret::SecretArgs {
            inline: args.secret.clone(),
            file: args.secret_file.clone(),
        },
        args.broker,
    )?;
    let mut client = log_in_for_what_comes(&args.addr, args.broker, &secret, timeout).await?;
    println!(
        "logged in as broker {} (trading day {}); sending {} {client_order_id}",
        args.broker,
        client.trading_day(),
        if args.take.is_some() { "take" } else { "order" },
    );
    let side = match args.side {
        SideArg::Buy => Side::Buy,
        SideArg::Sell => Side::Sell,
    };
    if let Some(target) = args.take {
        let (account, symbol) = (args.account, args.symbol.as_str());
        client
            .send_take(client_order_id, account, symbol, target, side, args.qty)
            .await?;
    } else {
        client
            .submit(NewOrder {
                client_order_id,
                account: args.account,
                symbol: args.symbol.as_str().into(),
                side: match args.side {
                    SideArg::Buy => Side::Buy,
                    SideArg::Sell => Side::Sell,
                },
                order_type: match args.order_type {
                    TypeArg::Limit => OrderType::Limit,
                    TypeArg::Market => OrderType::Market,
                },
                time_in_force: match args.tif {
                    TifArg::Day => TimeInForce::Day,
                    TifArg::Ioc => TimeInForce::Ioc,
                    TifArg::Fok => TimeInForce::Fok,
                },
                price_ticks,
                quantity_t: args.qty,
            })
            .await?;
    }

    let mut deadline = Instant::now() + timeout;
    let mut accepted = false;
    let mut later = 0_u32;
    // Each report is bounded by the deadline, and a finished order ends
    // the loop. Reports of the broker's other orders are passed over; the
    // count of later ones is a backstop against a chatty server.
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let report = match client.next_report(left).await {
            Err(error) if accepted => return session_ended(&error),
            report => report?,
        };
        let Some(frame) = report else {
            if accepted {
                println!(
                    "resting in the book; {}",
                    disconnect_notice(client_order_id)
                );
                return Ok(());
            }
            bail!("no answer for order {client_order_id} within {timeout:?}");
        };
        later += 1;
        if later > 1_000_000 {
            bail!("order {client_order_id}: a million reports and no end of it; giving up");
        }
        if report_client_order_id(&frame) != Some(client_order_id) {
            continue;
        }
        println!("{}", describe(&frame));
        match frame.message {
            ServerMessage::OrderAccepted { .. } => {
                accepted = true;
                // Fills of the first match come with the acceptance; after
                // that, wait as long as asked for.
                deadline =
                    Instant::now() + Duration::from_millis(500).max(Duration::from_secs(args.wait));
            }
            ServerMessage::Fill { leaves_t: 0, .. }
            | ServerMessage::Cancelled { .. }
            | ServerMessage::Expired { .. } => return Ok(()),
            ServerMessage::OrderRejected { .. } => bail!("order {client_order_id} was rejected"),
            _ => {}
        }
    }
}

/// What leaving a session does to order `client_order_id` (the command
/// cannot know the broker's setting).
fn disconnect_notice(client_order_id: u64) -> String {
    format!(
        "disconnecting: if the exchange cancels this broker's orders on a disconnect (its \
         cancel_on_disconnect, on by default), order {client_order_id} is cancelled now if it \
         still rests; else it rests (`cetx cancel --client-order-id {client_order_id}` cancels it)"
    )
}

/// After its request was answered, the end of the session (taken over by a
/// newer login of the broker, 416, or the connection closed) ends a
/// command's wait, not the command: it exits 0 (README, `cetx order`).
fn session_ended(error: &cetx_gateway::client::ClientError) -> Result<()> {
    println!("the session ended: {error}");
    Ok(())
}

/// The TLS sections the config sets: each section's name, its port in
/// words, and its settings.
fn tls_sections(
    config: &ServerConfig,
) -> impl Iterator<
    Item = (
        &'static str,
        &'static str,
        &cetx_gateway::config::TlsSettings,
    ),
> {
    let admin = config.admin.as_ref().and_then(|a| a.tls.as_ref());
    [
        (
            "[server.tls]",
            "the broker port",
            config.server.tls.as_ref(),
        ),
        ("[admin.tls]", "the operators' port", admin),
    ]
    .into_iter()
    .filter_map(|(section, port, settings)| Some((section, port, settings?)))
}

/// What a start would otherwise find only after the runtime has started,
/// which on an empty data directory journals the config's market for good:
/// a TLS file that cannot be used, an address another process holds, or
/// two of the config's own addresses on one port. The addresses are bound
/// together, then let go (port 0 is always free).
fn check_before_start(config: &ServerConfig, listen: std::net::SocketAddr) -> Result<()> {
    for (section, _, t) in tls_sections(config) {
        cetx_gateway::tls::server(&t.cert, &t.key, t.client_ca.as_deref()).context(section)?;
    }
    let addresses = [
        Some(("listening for brokers on", listen)),
        config
            .market_data
            .as_ref()
            .map(|m| ("listening for market data on", m.listen)),
        config
            .http
            .as_ref()
            .map(|h| ("serving the web view on", h.listen)),
        config
            .metrics
            .as_ref()
            .map(|m| ("serving metrics on", m.listen)),
        config
            .admin
            .as_ref()
            .map(|a| ("serving operators on", a.listen)),
    ];
    let addresses: Vec<_> = addresses
        .into_iter()
        .flatten()
        .filter(|(_, addr)| addr.port() != 0)
        .collect();
    for (i, &(what, addr)) in addresses.iter().enumerate() {
        let overlaps = |other: &std::net::SocketAddr| {
            other.port() == addr.port()
                && (other.ip() == addr.ip()
                    || other.ip().is_unspecified()
                    || addr.ip().is_unspecified())
        };
        if let Some((first, other)) = addresses[..i].iter().find(|(_, other)| overlaps(other)) {
            bail!("{what} {addr}: it would also be {first} {other}, on the same port");
        }
    }
    let mut bound = Vec::with_capacity(addresses.len());
    for (what, addr) in addresses {
        bound.push(std::net::TcpListener::bind(addr).with_context(|| format!("{what} {addr}"))?);
    }
    Ok(())
}

/// Warns when the config file, which holds brokers' or operators'
/// secrets, is open to the file's group or other users.
fn warn_if_open_to_others(path: &std::path::Path) {
    if let Ok(Some(mode)) = cetx_gateway::config::open_to_others(path) {
        tracing::warn!(
            "the config file {} holds secrets and is open to its group or other users (mode {mode:o}); chmod 600 it",
            path.display()
        );
    }
}

/// A `--price` in ticks: a named error, never an overflow, for a price
/// that is not whole fen or does not fit.
/// A time argument: RFC 3339, its offset included (a time without one
/// would be read in no particular zone).
fn time_arg(text: &str) -> Result<chrono::DateTime<chrono::FixedOffset>, String> {
    chrono::DateTime::parse_from_rfc3339(text).map_err(|error| {
        format!("{text}: not an RFC 3339 time with its offset, e.g. 2026-11-27T09:30:00+08:00 ({error})")
    })
}

/// A price argument: CNY, more than 0 ([`cetx_engine::parse_cny`]).
fn price_arg(text: &str) -> Result<Decimal, String> {
    let price = cetx_engine::parse_cny(text).map_err(|error| error.to_string())?;
    if price <= Decimal::ZERO {
        return Err(format!("{text}: a price is more than 0 CNY, e.g. 90.00"));
    }
    Ok(price)
}

fn price_to_ticks(price: Decimal) -> Result<i64> {
    Ok(cetx_engine::price_to_ticks(price)?)
}

/// Ticks as CNY, e.g. 9000 as 90.00.
fn ticks_to_cny(ticks: i64) -> Decimal {
    Decimal::new(ticks, 2)
}

fn report_client_order_id(frame: &ServerFrame) -> Option<u64> {
    match frame.message {
        ServerMessage::OrderAccepted {
            client_order_id, ..
        }
        | ServerMessage::OrderRejected {
            client_order_id, ..
        }
        | ServerMessage::Fill {
            client_order_id, ..
        }
        | ServerMessage::Cancelled {
            client_order_id, ..
        }
        | ServerMessage::Amended {
            client_order_id, ..
        }
        | ServerMessage::Expired {
            client_order_id, ..
        } => Some(client_order_id),
        _ => None,
    }
}

/// One report in words.
fn describe(frame: &ServerFrame) -> String {
    let seq = frame.seq;
    match &frame.message {
        ServerMessage::OrderAccepted {
            order_id,
            symbol,
            side,
            order_type,
            time_in_force,
            price_ticks,
            quantity_t,
            ..
        } => format!(
            "#{seq} accepted: exchange order {order_id}, {side:?} {quantity_t} t {symbol} at {} ({order_type:?}, {time_in_force:?})",
            ticks_to_cny(*price_ticks)
        ),
        ServerMessage::OrderRejected { reason, text, .. } => {
            format!("#{seq} rejected: {reason} {text}")
        }
        ServerMessage::Fill {
            trade_id,
            symbol,
            side,
            price_ticks,
            quantity_t,
            leaves_t,
            aggressor,
            ..
        } => format!(
            "#{seq} filled: {side:?} {quantity_t} t {symbol} at {} (trade {trade_id}, {}), {leaves_t} t still open",
            ticks_to_cny(*price_ticks),
            if *aggressor { "taker" } else { "maker" }
        ),
        ServerMessage::Cancelled {
            cancelled_t, cause, ..
        } => {
            let why = match cause {
                0 => "on request",
                1 => "unfilled remainder",
                2 => "fill or kill: not filled whole",
                3 => "book full",
                4 => "self-trade prevented",
                6 => "the broker's session ended: cancelled on disconnect",
                20 => "its account or broker was suspended",
                _ => "other cause",
            };
            format!("#{seq} cancelled: {cancelled_t} t ({why})")
        }
        ServerMessage::Amended {
            price_ticks,
            quantity_t,
            priority_kept,
            ..
        } => format!(
            "#{seq} amended: {quantity_t} t at {}, {}",
            ticks_to_cny(*price_ticks),
            if *priority_kept {
                "keeping its place"
            } else {
                "behind those at its price"
            }
        ),
        ServerMessage::Expired { expired_t, .. } => {
            format!("#{seq} expired at the close: {expired_t} t")
        }
        other => format!("#{seq} {}", other.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::error_text;

    #[derive(Debug, thiserror::Error)]
    #[error("locking the journal: {source}")]
    struct Locking {
        source: std::io::Error,
    }

    #[test]
    fn a_cause_already_said_is_not_said_again() {
        let busy = std::io::Error::other("in use by pid 7");
        let error = anyhow::Error::new(Locking { source: busy }).context("starting the market");
        assert_eq!(
            format!("{error:#}"),
            "starting the market: locking the journal: in use by pid 7: in use by pid 7"
        );
        assert_eq!(
            error_text(&error),
            "starting the market: locking the journal: in use by pid 7"
        );
        let plain = anyhow::anyhow!("no answer").context("cancelling");
        assert_eq!(error_text(&plain), "cancelling: no answer");
    }
}
