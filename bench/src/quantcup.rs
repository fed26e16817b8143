//! The QuantCup 2011 score feed, as `Engine::apply` commands.
//!
//! The feed is the public stream the QuantCup 2011 order-book contest was
//! scored on: 35,759 messages for one symbol, 17,894 limit orders and 17,865
//! cancels. It ships as `data/orders.csv` inside the `lobster` crate (a
//! dev-dependency of this package), with one message a line:
//! `trader_id,side,price,qty`. A line with price 0 is a cancel, and its
//! `qty` names the order: the n-th limit order of the feed, from 1. A cancel
//! may name an order that no longer rests, or has not arrived yet; the
//! contest's engines ignore those, cetx rejects them (`UnknownOrder`).
//!
//! # The market it runs in
//!
//! Every rule stays on; the market is set up so that the feed's orders pass
//! them, as a real participant's would:
//!
//! - Prices are in cents (47.99 to 48.46), which are cetx's ticks of
//!   0.01 CNY. The reference price is [`REFERENCE_TICKS`] (48.00 CNY), so the
//!   exchange's default band of ±10% (43.20 to 52.80 CNY) holds every price.
//! - Sizes run from 100 to 100,000 t. One order of the feed is 100,000 t, a
//!   block-trade size for CEA listings (at most 99,999 t), so this instrument
//!   allows 100,000 t per order: the size check runs, with the feed's limit.
//! - The feed's ten traders each trade from two accounts, one for buying and
//!   one for selling ([`account`]). QuantCup has no self-trade rule and its
//!   reference quantity counts trades of a trader with itself; with one
//!   account per trader, self-trade prevention would cancel 1,527 of the
//!   feed's orders and trade 6,838,166 t. Two accounts a trader keep the rule
//!   on and the stream the contest's.
//! - Accounts are those of [`crate::flow::genesis`]: compliance entities,
//!   funded and holding enough allowances for every order (pre-funding, T+1
//!   and the position checks all run).
//!
//! Replayed from an empty book, the feed trades [`REFERENCE_TRADED_T`] t,
//! the contest's reference; `tests/quantcup.rs` checks it for cetx and for
//! lobster.

use std::path::PathBuf;

use rust_decimal::Decimal;

use cetx_engine::{
    AccountId, Command, EngineConfig, Event, InstrumentSpec, NewOrder, OrderId, OrderType, Side,
    Stamp, TimeInForce,
};

use crate::flow::{INSTRUMENT, START_TIME_NS};

/// Tonnes the feed trades when replayed from an empty book: the QuantCup
/// 2011 reference.
pub const REFERENCE_TRADED_T: u64 = 8_445_790;

/// Messages in the feed.
pub const FEED_MESSAGES: usize = 35_759;

/// The reference price: 48.00 CNY, near the feed's prices.
pub const REFERENCE_TICKS: i64 = 48_00;

/// Largest order of the feed, in tonnes.
pub const MAX_ORDER_T: u64 = 100_000;

/// Nanoseconds between two messages' stamps.
const GAP_NS: i64 = 1_000;

/// One message of the feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    /// A limit order that trades what it can and rests the rest.
    Limit {
        /// The feed's trader, `0..=9`.
        trader: u8,
        /// Buy (`Bid`) or sell (`Ask`).
        side: Side,
        /// Limit price in cents, which are cetx ticks.
        price_ticks: i64,
        /// Size in tonnes.
        quantity_t: u64,
    },
    /// A cancel of the `nth` limit order of the feed (from 1).
    Cancel {
        /// Which limit order, counted from 1 in feed order.
        nth: u64,
    },
}

/// The feed's file inside the lobster package.
const FEED_IN_LOBSTER: &str = "data/orders.csv";

/// Overrides where the feed is read from, for a run with no Cargo at hand
/// (a copied binary, say) or a feed of its own.
pub const FEED_PATH_VAR: &str = "CETX_QUANTCUP_FEED";

/// This package's manifest, whose dependencies name the lobster package.
const MANIFEST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");

/// Why the feed could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// `cargo metadata` did not run, failed, or answered what does not
    /// parse.
    #[error(
        "looking for the lobster package (which holds the feed, {FEED_IN_LOBSTER}) with \
         `cargo metadata --manifest-path {MANIFEST}`: {0} (set {FEED_PATH_VAR} to the feed's path)"
    )]
    Metadata(String),
    /// `cargo metadata` lists no lobster 0.7 package.
    #[error(
        "no lobster 0.7.* package among the dependencies of {MANIFEST} as `cargo metadata` \
         lists them (set {FEED_PATH_VAR} to the feed's path)"
    )]
    NoLobster,
    /// The lobster package has no feed file where 0.7 has it.
    #[error(
        "no feed file at {0}, where lobster 0.7 keeps it (set {FEED_PATH_VAR} to the feed's path)"
    )]
    NoFeed(PathBuf),
    /// The file could not be read or a line is not a message.
    #[error("reading {path}: {reason}")]
    Read {
        /// The feed file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// Where the feed lies: [`FEED_PATH_VAR`] when set, else
/// `data/orders.csv` in the lobster 0.7 package this package's
/// dev-dependency resolves to, wherever Cargo keeps it (a registry under
/// any `CARGO_HOME`, a vendor directory): `cargo metadata` of this
/// package's manifest names it. Cargo is `$CARGO` (set under `cargo test`,
/// `cargo bench` and `cargo run`), else `cargo` on the `PATH`. Building
/// this package's tests or benches fetches the package.
///
/// # Errors
/// [`FeedError::Metadata`] when `cargo metadata` fails,
/// [`FeedError::NoLobster`] when it lists no lobster 0.7 package, and
/// [`FeedError::NoFeed`] when that package has no feed file.
pub fn feed_path() -> Result<PathBuf, FeedError> {
    if let Some(path) = std::env::var_os(FEED_PATH_VAR) {
        return Ok(path.into());
    }
    let package = lobster_package()?;
    let feed = package.join(FEED_IN_LOBSTER);
    if feed.is_file() {
        Ok(feed)
    } else {
        Err(FeedError::NoFeed(feed))
    }
}

/// What `cargo metadata` says of the packages, of which only these
/// fields are read.
#[derive(serde::Deserialize)]
struct Metadata {
    packages: Vec<Package>,
}

/// See [`Metadata`].
#[derive(serde::Deserialize)]
struct Package {
    name: String,
    version: String,
    manifest_path: PathBuf,
}

/// The directory of the lobster 0.7 package among this package's
/// dependencies.
fn lobster_package() -> Result<PathBuf, FeedError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = std::process::Command::new(&cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--manifest-path",
            MANIFEST,
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|error| FeedError::Metadata(format!("running {}: {error}", cargo.display())))?;
    if !output.status.success() {
        // On one line, as every error of the tools is.
        let said = String::from_utf8_lossy(&output.stderr);
        let said: Vec<&str> = said
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let failed = match said.as_slice() {
            [] => output.status.to_string(),
            said => format!("{}: {}", output.status, said.join("; ")),
        };
        return Err(FeedError::Metadata(failed));
    }
    let metadata: Metadata = serde_json::from_slice(&output.stdout)
        .map_err(|error| FeedError::Metadata(format!("its answer: {error}")))?;
    metadata
        .packages
        .into_iter()
        .find(|package| package.name == "lobster" && package.version.starts_with("0.7."))
        .and_then(|package| package.manifest_path.parent().map(PathBuf::from))
        .ok_or(FeedError::NoLobster)
}

/// One line of the feed file, as written. `trader_id` is read as a
/// number on a limit line only: a cancel does not use it.
#[derive(serde::Deserialize)]
struct Line {
    trader_id: String,
    side: String,
    price: i64,
    qty: u64,
}

/// Reads the whole feed from [`feed_path`].
///
/// # Errors
/// Those of [`feed_path`], and [`FeedError::Read`] when the file cannot be
/// read or a line is not a message.
pub fn load() -> Result<Vec<Message>, FeedError> {
    load_from(&feed_path()?)
}

/// Reads a stream in the feed's format from `path`: the header
/// `trader_id,side,price,qty`, then one message a line.
///
/// # Errors
/// [`FeedError::Read`] when the file cannot be read or a line is not a
/// message (the error names the line).
pub fn load_from(path: &std::path::Path) -> Result<Vec<Message>, FeedError> {
    let failed = |reason: String| FeedError::Read {
        path: path.to_owned(),
        reason,
    };
    if path.is_dir() {
        return Err(failed("it is a directory, not a file".to_owned()));
    }
    let text = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
    let Some(mut rows) = cetx_gateway::csv_input::Rows::new(&text, true).map_err(failed)? else {
        return Err(failed(
            "the file is empty: its first line must be the header trader_id,side,price,qty"
                .to_owned(),
        ));
    };
    for name in ["trader_id", "side", "price", "qty"] {
        let why = match rows.header().iter().filter(|h| *h == name).count() {
            1 => continue,
            0 => "names no",
            _ => "names more than once",
        };
        return Err(failed(format!(
            "line {}: the header {why} `{name}` (it must be trader_id,side,price,qty, in any order)",
            rows.header_line()
        )));
    }
    let must_be = [
        ("price", "a whole number of cents (0 cancels)"),
        ("qty", "a whole number from 0 to 2^64 - 1"),
    ];
    let mut feed = Vec::with_capacity(FEED_MESSAGES);
    while let Some(line_number) = rows.next_row().map_err(failed)? {
        let line: Line = rows.deserialize(&must_be).map_err(failed)?;
        // Checked on a cancel too, though it does not use it.
        let side = match line.side.as_str() {
            "Bid" => Side::Buy,
            "Ask" => Side::Sell,
            other => {
                return Err(failed(format!(
                    "line {line_number}: side {other:?} is neither Bid nor Ask"
                )))
            }
        };
        let message = if line.price == 0 {
            Message::Cancel { nth: line.qty }
        } else if line.price < 0 {
            return Err(failed(format!(
                "line {line_number}: price {} is negative (0 cancels; a limit price is above 0, in cents)",
                line.price
            )));
        } else {
            let trader = line.trader_id.parse().map_err(|e| {
                failed(format!(
                    "line {line_number}: `trader_id` must be a whole number from 0 to 255 ({e})"
                ))
            })?;
            Message::Limit {
                trader,
                side,
                price_ticks: line.price,
                quantity_t: line.qty,
            }
        };
        feed.push(message);
    }
    Ok(feed)
}

/// The account a trader buys or sells from: `2 × trader + 1` for buying,
/// `2 × trader + 2` for selling, all within [`crate::flow::ACCOUNTS`].
#[must_use]
pub fn account(trader: u8, side: Side) -> AccountId {
    let base = 2 * u32::from(trader);
    match side {
        Side::Buy => AccountId(base + 1),
        Side::Sell => AccountId(base + 2),
    }
}

/// The instrument the feed trades in: `CEA2025` around
/// [`REFERENCE_TICKS`], with orders up to [`MAX_ORDER_T`] and the book's
/// limit for the one broker of [`crate::flow::genesis`].
#[must_use]
pub fn instrument_spec() -> InstrumentSpec {
    let mut spec = InstrumentSpec::cea(2025, Decimal::new(REFERENCE_TICKS, 2));
    spec.max_order_t = MAX_ORDER_T;
    spec.max_orders_per_broker = Some(spec.max_orders);
    spec
}

/// An engine config with [`instrument_spec`] as its only instrument
/// ([`INSTRUMENT`]).
#[must_use]
pub fn engine_config() -> EngineConfig {
    EngineConfig {
        instruments: vec![instrument_spec()],
    }
}

/// The feed as stamped commands: the n-th limit order is a limit Day order
/// with `OrderId(n)` from its trader's account for its side, a cancel
/// cancels `OrderId(nth)`. Stamps count up from `seq` 1, 1 µs apart, from
/// the flow's start of trading.
#[must_use]
pub fn commands(feed: &[Message]) -> Vec<(Command, Stamp)> {
    let mut limits = 0;
    let mut time_ns = START_TIME_NS;
    let mut commands = Vec::with_capacity(feed.len());
    for (seq, message) in (1..).zip(feed) {
        time_ns += GAP_NS;
        let command = match *message {
            Message::Limit {
                trader,
                side,
                price_ticks,
                quantity_t,
            } => {
                limits += 1;
                Command::Submit(NewOrder {
                    order_id: OrderId(limits),
                    account: account(trader, side),
                    instrument: INSTRUMENT,
                    side,
                    order_type: OrderType::Limit,
                    time_in_force: TimeInForce::Day,
                    price_ticks,
                    quantity_t,
                    client_order_id: limits,
                })
            }
            Message::Cancel { nth } => Command::Cancel {
                instrument: INSTRUMENT,
                order_id: OrderId(nth),
                requester: None,
            },
        };
        commands.push((command, Stamp { seq, time_ns }));
    }
    commands
}

/// Tonnes traded in `events`.
#[must_use]
pub fn traded_t(events: &[Event]) -> u64 {
    events
        .iter()
        .map(|event| match event {
            Event::Trade(trade) => trade.quantity_t,
            _ => 0,
        })
        .sum()
}
