//! cetx-bench: criterion benches of the engine's hot path (`benches/`) and
//! the `cetx-load` load tester.
//!
//! # Layout
//!
//! - [`flow`]: the seeded *mixed stream* (45% passive limit orders, 45%
//!   cancels of resting orders, 10% marketable orders) for one `CEA2025`
//!   book, and [`flow::Harness`], an engine warmed up to a steady ~5,000
//!   resting orders with its flow and a reused event buffer.
//! - [`quantcup`]: the QuantCup 2011 score feed (read from the `lobster`
//!   crate's copy) as stamped commands, with the market it runs in and the
//!   contest's reference quantity.
//! - [`quantcup_c`]: the contest's winning entry, in C (`quantcup_c/`,
//!   compiled by `build.rs`), replaying the same feed: the fastest known
//!   book, for the benches to measure cetx against in one run.
//! - [`stream`]: any order stream in the QuantCup feed's format through
//!   the engine beside the contest's winner, with the market it runs in
//!   (`cetx-stream`, `src/bin/cetx_stream.rs`).
//! - [`scratch`]: the folder the example programs write in, under the
//!   target directory they were built in.
//! - [`load`]: the `cetx-load` load tester (`src/bin/cetx_load.rs`): broker
//!   sessions sending realistic `CEA2025` flow to a server, open or closed
//!   loop, order→ack and order→fill latencies in hdrhistogram, reported as a
//!   table, JSON, `.hgrm` files and an SVG plot.
//! - `benches/engine.rs`: criterion groups `add_passive`, `cancel`, `sweep`
//!   and `mixed`, all through `Engine::apply` on a harness's engine;
//!   `quantcup` and `rest_1m` run cetx, lobster and the contest's winner
//!   on the same stream.
//! - `tests/no_alloc.rs`: a counting global allocator shows that 100,000
//!   mixed commands allocate nothing once the harness is warm;
//!   `tests/quantcup.rs`: cetx, lobster and the winner trade the contest's
//!   quantity.
//!
//! Data flows `MixedFlow → (Command, Stamp) → Engine::apply → Vec<Event> →
//! MixedFlow::observe`: the flow learns from the events which orders still
//! rest, so its cancels always hit.

pub mod flow;
pub mod load;
pub mod quantcup;
pub mod quantcup_c;
pub mod scratch;
pub mod soak;
pub mod stream;

/// A command-line tool's exit: success, or failure with its error in one
/// line on stderr (an error returned from `main` would print a backtrace
/// too where `RUST_BACKTRACE` is set). A cause whose words the error
/// before it already ends with is not said twice.
#[must_use]
pub fn exit(result: anyhow::Result<()>) -> std::process::ExitCode {
    let Err(error) = result else {
        return std::process::ExitCode::SUCCESS;
    };
    let mut line = String::new();
    for cause in error.chain() {
        let words = cause.to_string();
        if !line.ends_with(&words) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&words);
        }
    }
    eprintln!("error: {line}");
    std::process::ExitCode::FAILURE
}
