//! The engine benches' streams through `Engine::apply`, for counting
//! instructions and cache misses under valgrind rather than timing them.
//!
//! Criterion's medians on a shared 2-core VM move by ±15% between
//! neighbouring runs of one binary, more than most single changes to the
//! hot path gain. Valgrind counts what a change does to the work itself,
//! the same on every run whatever else the machine does:
//!
//! ```text
//! cargo build --release -p cetx-bench --example apply_count
//! valgrind --tool=callgrind --toggle-collect='cetx_bench::stream::replay' \
//!     target/release/examples/apply_count quantcup 4
//! valgrind --tool=cachegrind --cache-sim=yes target/release/examples/apply_count mixed 4
//! ```
//!
//! `quantcup N` replays the QuantCup 2011 feed N times, each from a fresh
//! copy of its market (as `benches/engine.rs` `quantcup/cetx` does), and
//! checks the traded quantity each time. `mixed N` warms a book up to 5,000
//! resting orders and applies N × 10,000 commands of the mixed stream (as
//! `mixed/resting_5000`). With `--toggle-collect` as above, callgrind
//! counts only the replays (`replay`, the commands applied and nothing
//! of the set-up, which applies commands too): divide its totals by the
//! commands the driver prints. `--cache-sim=yes` adds simulated cache
//! misses. Cachegrind counts the whole process, set-up included, so
//! compare its figures between builds, not per command.
//!
//! `quantcup_c N` replays the feed N times through the contest's winner
//! (C, `cetx_bench::quantcup_c`), each from an empty book, to time beside
//! cetx; valgrind counts it too, but not inside `replay`.
//!
//! A third argument, `time`, also prints the median over the replays
//! (QuantCup) or the batches of 10,000 (mixed) of the nanoseconds a
//! command took, timed around each as criterion times it. The
//! process takes under a second, so two builds can run in turn many
//! times, and their ratio be taken pair by pair, where criterion's own
//! rounds of a few minutes each drift with the machine:
//!
//! ```text
//! for i in $(seq 41); do
//!     A/apply_count quantcup 60 time | tail -1
//!     B/apply_count quantcup 60 time | tail -1
//! done
//! ```

use cetx_bench::flow::{open_market, Harness, INSTRUMENT};
use cetx_bench::quantcup::{self, REFERENCE_TRADED_T};
use cetx_bench::quantcup_c;
use cetx_bench::stream::timed_replay;

/// The seed and warm book of `benches/engine.rs`.
const SEED: u64 = 2025;
const RESTING: usize = 5_000;
const MIXED_BATCH: usize = 10_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let stream = args.next().unwrap_or_default();
    let times: usize = args.next().as_deref().unwrap_or("1").parse()?;
    let timed = args.next().as_deref() == Some("time");
    let mut events = Vec::new();
    let mut ns_per_command = Vec::new();
    let applied = match stream.as_str() {
        "quantcup" => {
            let commands = quantcup::commands(&quantcup::load()?);
            let market = open_market(&quantcup::engine_config());
            for _ in 0..times {
                let mut engine = market.clone();
                engine.prefault();
                ns_per_command.push(timed_replay(&mut engine, &commands, &mut events));
                let traded_t = engine.today(INSTRUMENT).map(|today| today.volume_t);
                if traded_t != Some(REFERENCE_TRADED_T) {
                    return Err(format!("cetx traded {traded_t:?} t").into());
                }
            }
            println!(
                "each of {times} replays traded {REFERENCE_TRADED_T} t, the contest's quantity"
            );
            times * commands.len()
        }
        "mixed" => {
            let warm = Harness::warmed_up(SEED, RESTING);
            let commands = warm.clone().record(times * MIXED_BATCH);
            let mut engine = warm.engine.clone();
            engine.prefault();
            for batch in commands.chunks(MIXED_BATCH) {
                ns_per_command.push(timed_replay(&mut engine, batch, &mut events));
            }
            commands.len()
        }
        "quantcup_c" => {
            let feed = quantcup_c::Feed::new(&quantcup::load()?)?;
            for _ in 0..times {
                let book = quantcup_c::Book::new();
                let start = std::time::Instant::now();
                let traded_t = book.replay(std::hint::black_box(&feed));
                ns_per_command.push(start.elapsed().as_nanos() as f64 / feed.len() as f64);
                if traded_t != REFERENCE_TRADED_T {
                    return Err(format!("the C book traded {traded_t} t").into());
                }
            }
            println!(
                "each of {times} replays traded {REFERENCE_TRADED_T} t, the contest's quantity"
            );
            times * feed.len()
        }
        other => {
            return Err(format!("unknown stream {other:?}: quantcup, mixed or quantcup_c").into())
        }
    };
    println!("{applied} commands applied");
    ns_per_command.sort_by(f64::total_cmp);
    if let (true, Some(median)) = (timed, ns_per_command.get(ns_per_command.len() / 2)) {
        println!("median {median:.2} ns per command");
    }
    Ok(())
}
