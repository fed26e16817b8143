//! `cetx-soak`: several trading days through the runtime in one process,
//! with its memory after each close, a resume from 0 and a restart timed
//! (see `cetx_bench::soak`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use cetx_bench::load::DurabilityArg;
use cetx_bench::soak::{self, SoakOptions};
use clap::Parser;

/// Plays trading days through the runtime of the load tester's config on
/// a manual clock and prints the resident memory after each day's close,
/// a resume of broker 1's history from 0, and a restart on the journal.
#[derive(Debug, Parser)]
#[command(name = "cetx-soak", version)]
struct Cli {
    /// Trading days to play.
    #[arg(long, default_value_t = 5)]
    days: u32,
    /// New orders per day over both brokers.
    #[arg(long, default_value_t = 2_000_000)]
    orders_per_day: u64,
    /// The journal's durability.
    #[arg(long, value_enum, default_value = "os")]
    durability: DurabilityArg,
    /// Entries between two snapshots (default: the config's).
    #[arg(long)]
    snapshot_every: Option<u64>,
    /// The flows' seed.
    #[arg(long, default_value_t = 2025)]
    seed: u64,
    /// Where the run's temporary data directory goes.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Restarts to time on the journal written.
    #[arg(long, default_value_t = 3)]
    restarts: u32,
    /// Keep the data directory (its path is printed).
    #[arg(long)]
    keep: bool,
    /// Only time restarts on a kept data directory of an earlier run (with
    /// the same --durability and --snapshot-every).
    #[arg(long, value_name = "DIR")]
    restart_only: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 1_800)]
    time_limit_s: u64,
}

fn main() -> std::process::ExitCode {
    // Its sessions are in process (no sockets), so a closed output pipe
    // (`| head`) may end it as it ends any Unix tool, not with a panic.
    cetx_gateway::sigpipe::restore_default();
    cetx_bench::exit(run(Cli::parse()))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let options = |data_dir: PathBuf| SoakOptions {
        days: cli.days,
        orders_per_day: cli.orders_per_day,
        durability: cli.durability.into(),
        snapshot_every: cli.snapshot_every,
        seed: cli.seed,
        data_dir,
        time_limit: Duration::from_secs(cli.time_limit_s),
        restarts: cli.restarts,
    };
    if let Some(dir) = &cli.restart_only {
        let (seconds, rss_bytes) = soak::restart_only(&options(dir.clone()))?;
        print_restarts(&seconds, rss_bytes);
        return Ok(());
    }
    let data = soak::temp_dir(&cli.dir).context("creating the data directory")?;
    let options = options(data.path().to_path_buf());
    let report = soak::run(&options)?;
    let mb = |bytes: u64| bytes as f64 / 1e6;
    println!("| day | orders | seconds | RSS after the close (MB) |");
    println!("|---|---|---|---|");
    for day in &report.days {
        println!(
            "| {} | {} | {:.1} | {:.0} |",
            day.trading_date,
            day.orders,
            day.seconds,
            mb(day.rss_bytes)
        );
    }
    println!();
    println!("journal entries: {}", report.entries);
    println!("peak RSS: {:.0} MB", mb(report.peak_rss_bytes));
    println!(
        "resume from 0: {} reports in {:.2} s",
        report.resumed_reports, report.resume_seconds
    );
    print_restarts(&report.restart_seconds, report.restart_rss_bytes);
    if cli.keep {
        println!("data kept in {}", data.keep().display());
    }
    Ok(())
}

fn print_restarts(seconds: &[f64], rss_bytes: u64) {
    let restarts: Vec<String> = seconds.iter().map(|s| format!("{s:.2}")).collect();
    println!(
        "restarts: {} s, RSS after the last {:.0} MB",
        restarts.join(" / "),
        rss_bytes as f64 / 1e6
    );
}
