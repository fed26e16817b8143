//! `cetx-stream`: an order stream in the QuantCup feed's format through
//! the engine, every rule on, and through the QuantCup 2011 winner (C), in
//! one run: what each traded, and how fast (see `cetx_bench::stream`).

use std::path::PathBuf;

use anyhow::Context as _;
use cetx_bench::quantcup::{self, Message};
use cetx_bench::{quantcup_c, stream};
use clap::Parser;

/// Replays an order stream through cetx's engine and the QuantCup 2011
/// winner, and prints what each traded and its median time a message.
#[derive(Debug, Parser)]
#[command(name = "cetx-stream", version)]
struct Cli {
    /// The stream: CSV with the header `trader_id,side,price,qty`, one
    /// message a line (`side` Bid or Ask, `price` in cents; price 0 cancels
    /// the n-th limit order, n in `qty`). Default: the QuantCup 2011 feed
    /// inside the lobster crate.
    file: Option<PathBuf>,
    /// Timed replays of each book, each from an empty book (1 to 100,000).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    repeat: u32,
    /// Write what each limit order traded, in tonnes, to this CSV file
    /// (`order,traded_t`; `order` counts limit orders from 1).
    #[arg(long, value_name = "FILE")]
    fills: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    cetx_gateway::sigpipe::restore_default();
    cetx_bench::exit(run(&cli))
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let path = match &cli.file {
        Some(path) => path.clone(),
        None => quantcup::feed_path()?,
    };
    let messages = stream::load(&path)?;
    let limits = messages
        .iter()
        .filter(|m| matches!(m, Message::Limit { .. }))
        .count();
    println!(
        "stream {}: {} messages, {limits} limit orders, {} cancels",
        path.display(),
        messages.len(),
        messages.len() - limits
    );
    let spec = stream::market_for(&messages)?;
    let rules = spec.rules()?;
    println!(
        "market: {} around {} CNY, band ±{}.{:02}% ({}..={} cents), orders up to {} t, {} resting at most",
        spec.symbol,
        spec.reference_price,
        spec.band_bps / 100,
        spec.band_bps % 100,
        rules.floor_ticks,
        rules.ceiling_ticks,
        spec.max_order_t,
        spec.max_orders,
    );

    if let Some(note) = stream::room_note(limits, &spec) {
        println!("{note}");
    }
    let commands = quantcup::commands(&messages);
    let market = stream::open(&spec);
    let outcome = stream::outcome(market.clone(), &commands);
    println!(
        "cetx: traded {} t in {} trades; {} orders rest at the end",
        outcome.traded_t, outcome.trades, outcome.resting
    );
    for (reason, n) in &outcome.refused {
        println!("  refused {n}: {} {reason:?}", reason.code());
    }
    for (cause, n) in &outcome.cancelled {
        println!("  cancelled by the engine {n}: {cause:?}");
    }
    if let Some(fills) = &cli.fills {
        write_fills(fills, &outcome.traded_by_order)
            .with_context(|| format!("writing {}", fills.display()))?;
    }

    let winner = match quantcup_c::Feed::new(&messages) {
        Ok(feed) => {
            let traded_t = quantcup_c::Book::new().replay(&feed);
            let agree = if traded_t == outcome.traded_t {
                "the same"
            } else {
                "NOT the same: see what cetx refused and cancelled above"
            };
            println!("the QuantCup winner (C): traded {traded_t} t, {agree}");
            Some(feed)
        }
        Err(why) => {
            println!("the QuantCup winner (C): not run: {why}");
            None
        }
    };

    let mut events = Vec::new();
    let mut cetx_ns = Vec::new();
    let mut winner_ns = Vec::new();
    for _ in 0..cli.repeat {
        let mut engine = market.clone();
        cetx_ns.push(stream::timed_replay(&mut engine, &commands, &mut events));
        if let Some(feed) = &winner {
            let book = quantcup_c::Book::new();
            let start = std::time::Instant::now();
            std::hint::black_box(book.replay(std::hint::black_box(feed)));
            winner_ns.push(start.elapsed().as_nanos() as f64 / feed.len() as f64);
        }
    }
    let cetx = median(&mut cetx_ns);
    print!(
        "median of {} replays, ns a message: cetx {cetx:.2}",
        cli.repeat
    );
    match median(&mut winner_ns) {
        winner if winner > 0.0 => {
            println!(
                ", the winner {winner:.2} (cetx ÷ winner {:.2})",
                cetx / winner
            );
        }
        _ => println!(),
    }
    Ok(())
}

/// The middle value, or the mean of the two middle ones (0 for none).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let half = values.len() / 2;
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[half],
        _ => (values[half - 1] + values[half]) / 2.0,
    }
}

/// `order,traded_t`, one line a limit order.
fn write_fills(path: &std::path::Path, traded_by_order: &[u64]) -> anyhow::Result<()> {
    let mut out = csv::Writer::from_path(path)?;
    out.write_record(["order", "traded_t"])?;
    for (n, traded_t) in (1_u64..).zip(traded_by_order) {
        out.serialize((n, traded_t))?;
    }
    out.flush()?;
    Ok(())
}
