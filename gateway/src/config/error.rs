//! [`ConfigError`]: every reason a config cannot be used, each naming the
//! file, line, key or entry it is about, so an operator can fix it without
//! reading code.

use std::path::PathBuf;

use cetx_engine::SpecError;
use chrono::NaiveTime;
use rust_decimal::Decimal;

use super::MAX_UTC_OFFSET_S;
use crate::protocol::MAX_SYMBOL_LEN;

/// Why a config cannot be used. Each message is complete on its own and
/// names the file, line or entry it is about: inner errors are part of the
/// message, not a `source()`, so one `{}` prints everything once.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A `[[blocks]]` entry names no configured instrument, or one named
    /// twice, or gives rules that cannot be used (a zero minimum or limit,
    /// a band of 0 or of 100% or more).
    #[error("[[blocks]] {symbol}: {reason}")]
    BadBlocks {
        /// The entry's symbol.
        symbol: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The file could not be read.
    #[error("cannot read config file {}: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        reason: String,
    },
    /// The text is not TOML, or not the shape of a config.
    #[error("{}{message}", position(*line, *column, key.as_deref()))]
    Parse {
        /// Line of the error, from 1, where TOML gives a position.
        line: Option<usize>,
        /// Column of the error, in characters from 1.
        column: Option<usize>,
        /// Dotted path of the key at the error, e.g. `accounts[2].cash`,
        /// where it can be told.
        key: Option<String>,
        /// What is wrong, from the TOML reader.
        message: String,
    },
    /// An error in a config file, with the file's name.
    #[error("config file {}: {error}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        error: Box<ConfigError>,
    },
    /// `[http]` is set but `[market_data]` is not: the page shows the
    /// market data.
    #[error("[http] needs a [market_data] section: the web view shows the market data")]
    HttpWithoutMarketData,
    /// A count, size or time is outside the range the server allows.
    #[error("{key} = {value} is out of its range, {}", range_words(*min, *max))]
    OutOfRange {
        /// The key, e.g. `server.max_connections`.
        key: &'static str,
        /// The configured value.
        value: u64,
        /// The least allowed.
        min: u64,
        /// The most allowed, if there is a most.
        max: Option<u64>,
    },
    /// `server.data_dir` is empty, or only spaces.
    #[error("server.data_dir must not be empty or only spaces")]
    EmptyDataDir,
    /// The idle timeout would cut off brokers that only send heartbeats.
    #[error(
        "server.idle_timeout_ms = {idle_timeout_ms} is out of its range, {} to {max}: \
         it must be longer than the protocol's heartbeat interval ({broker_heartbeat_ms} ms), \
         or an idle broker is cut off between heartbeats",
        broker_heartbeat_ms + 1
    )]
    IdleTimeout {
        /// Configured idle timeout.
        idle_timeout_ms: u64,
        /// How often a quiet broker heartbeats, by the protocol.
        broker_heartbeat_ms: u64,
        /// The longest allowed.
        max: u64,
    },
    /// The frame limit before login is above the one after it.
    #[error(
        "server.max_frame_before_login ({before}) must not exceed \
         server.max_frame_after_login ({after})"
    )]
    FrameLimits {
        /// Configured limit before login.
        before: usize,
        /// Configured limit after login.
        after: usize,
    },
    /// The calendar's UTC offset is not a real time zone's.
    #[error("calendar.utc_offset_s = {0} is out of its range, -{MAX_UTC_OFFSET_S} to {MAX_UTC_OFFSET_S} (±14 hours)")]
    UtcOffset(i32),
    /// The calendar has no session, so the market would never open or
    /// end a day.
    #[error("calendar.sessions must list at least one session")]
    NoSessions,
    /// A session does not open before it closes, or a time has a fraction of
    /// a second.
    #[error(
        "calendar.sessions[{index}]: open {open} must be before close {close}, \
         in whole seconds"
    )]
    Session {
        /// Position of the session, from 0.
        index: usize,
        /// Its open.
        open: NaiveTime,
        /// Its close.
        close: NaiveTime,
    },
    /// A session opens before the previous one has closed.
    #[error(
        "calendar.sessions[{index}] opens at {open}, not after the previous \
         session closes at {previous_close}"
    )]
    SessionsOverlap {
        /// Position of the later session, from 0.
        index: usize,
        /// Its open.
        open: NaiveTime,
        /// The previous session's close.
        previous_close: NaiveTime,
    },
    /// No instrument is configured.
    #[error("at least one [[instruments]] entry is required")]
    NoInstruments,
    /// More instruments than the engine can index.
    #[error("{0} instruments configured; at most {max}", max = u16::MAX)]
    TooManyInstruments(usize),
    /// A symbol is empty, too long for the protocol, or has characters
    /// other than printable ASCII.
    #[error(
        "instrument symbol {0:?} must be 1 to {MAX_SYMBOL_LEN} characters of \
         printable ASCII, without spaces"
    )]
    BadSymbol(String),
    /// Two instruments share one symbol.
    #[error("instrument symbol {0} is configured twice")]
    DuplicateSymbol(String),
    /// An instrument spec that the engine refuses.
    #[error("instrument {symbol}: {error}")]
    Instrument {
        /// The instrument's symbol.
        symbol: String,
        /// What the engine found wrong.
        error: SpecError,
    },
    /// A tonnage limit of an instrument (its key named) is not a whole
    /// number of its lots, so no quantity can ever be exactly it.
    #[error("instrument {symbol}: {key} ({value_t} t) must be a whole number of lots of lot_t ({lot_t} t)")]
    NotWholeLots {
        /// The instrument's symbol.
        symbol: String,
        /// The key: `max_order_t`, `min_auction_t` or `[[blocks]] min_t`.
        key: &'static str,
        /// Its value, in tonnes.
        value_t: u64,
        /// The instrument's lot, in tonnes.
        lot_t: u64,
    },
    /// The back-off's free failures reach its refusal: an address would
    /// be refused before any of its failures is slowed.
    #[error(
        "server.login_backoff.free_failures ({free_failures}) must be below \
         server.login_backoff.refuse_after ({refuse_after}): an address is refused \
         at its refuse_after-th failed login, so no failure would be slowed first"
    )]
    LoginBackoffFree {
        /// `free_failures`.
        free_failures: u32,
        /// `refuse_after`.
        refuse_after: u32,
    },
    /// The back-off's first delay is longer than its longest.
    #[error("server.login_backoff.first_delay_ms ({first_delay_ms}) must not exceed max_delay_ms ({max_delay_ms})")]
    LoginBackoffDelays {
        /// `first_delay_ms`.
        first_delay_ms: u64,
        /// `max_delay_ms`.
        max_delay_ms: u64,
    },
    /// A broker has a `tls_name` but no CA checks client certificates.
    #[error(
        "broker {0}: tls_name needs [server.tls] with client_ca, which checks client certificates"
    )]
    TlsNameWithoutClientCa(u32),
    /// Two brokers share one id.
    #[error("broker id {0} is configured twice")]
    DuplicateBroker(u32),
    /// An operator entry that cannot be used: a duplicate id, no name, or
    /// a secret empty or longer than a login carries.
    #[error("operator {id}: {why}")]
    Operator {
        /// The operator's id.
        id: u32,
        /// What is wrong.
        why: &'static str,
    },
    /// `[admin]` without an operator, or operators without `[admin]`.
    #[error("[admin] and [[operators]] go together: the channel needs an operator, and an operator needs the channel")]
    AdminWithoutOperators,
    /// A broker's name that is empty, too long or holds control
    /// characters.
    #[error("broker {broker}: {why}")]
    BrokerName {
        /// The broker.
        broker: u32,
        /// What is wrong.
        why: &'static str,
    },
    /// A broker without a secret.
    #[error("broker {0}: secret must not be empty")]
    EmptySecret(u32),
    /// A secret longer than a login can carry.
    #[error("broker {broker}: secret is {len} bytes; a login carries at most {max}")]
    SecretTooLong {
        /// The broker.
        broker: u32,
        /// The secret's length in bytes.
        len: usize,
        /// The protocol's most.
        max: usize,
    },
    /// A throttle that would never let a message through.
    #[error("broker {broker}: throttle rate_per_s ({rate_per_s}) and burst ({burst}) must be at least 1")]
    Throttle {
        /// The broker.
        broker: u32,
        /// Configured rate.
        rate_per_s: u32,
        /// Configured burst.
        burst: u32,
    },
    /// Two accounts share one id.
    #[error("account id {0} is configured twice")]
    DuplicateAccount(u32),
    /// An account names a broker that is not configured.
    #[error("account {account}: broker {broker} is not configured")]
    UnknownBroker {
        /// The account.
        account: u32,
        /// The broker it names.
        broker: u32,
    },
    /// An account holds an instrument that is not configured.
    #[error("account {account}: holdings name {symbol}, which is not an instrument")]
    UnknownHoldingSymbol {
        /// The account.
        account: u32,
        /// The symbol it names.
        symbol: String,
    },
    /// An account opens with negative cash.
    #[error("account {account}: cash {cash} CNY must not be negative")]
    NegativeCash {
        /// The account.
        account: u32,
        /// Configured cash.
        cash: Decimal,
    },
    /// An account's cash has a fraction of a fen.
    #[error("account {account}: cash {cash} CNY is not a whole number of fen (0.01 CNY)")]
    CashNotWholeFen {
        /// The account.
        account: u32,
        /// Configured cash.
        cash: Decimal,
    },
    /// An account's cash does not fit the engine's `i64` fen.
    #[error("account {account}: cash {cash} CNY is too large")]
    CashOutOfRange {
        /// The account.
        account: u32,
        /// Configured cash.
        cash: Decimal,
    },
    /// The accounts' opening cash, or their holdings of one instrument,
    /// add up past what the engine lets the whole market hold (its
    /// deposits would be refused: 108).
    #[error("account {account}: {what} takes all the accounts' together past {max}, the most the whole market may hold")]
    MarketTotal {
        /// The account whose opening amount passes the bound.
        account: u32,
        /// Which amount: "cash" or "holdings of SYMBOL".
        what: String,
        /// The bound, in its unit.
        max: String,
    },
}

/// A range in words: "1 to 65536", or "1 or more" with no most.
fn range_words(min: u64, max: Option<u64>) -> String {
    match max {
        Some(max) => format!("{min} to {max}"),
        None => format!("{min} or more"),
    }
}

/// The "line L, column C, at `key`: " prefix of a parse error's message.
fn position(line: Option<usize>, column: Option<usize>, key: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(line) = line {
        out += &format!("line {line}");
        if let Some(column) = column {
            out += &format!(", column {column}");
        }
    }
    if let Some(key) = key {
        if !out.is_empty() {
            out += ", ";
        }
        out += &format!("at `{key}`");
    }
    if !out.is_empty() {
        out += ": ";
    }
    out
}
