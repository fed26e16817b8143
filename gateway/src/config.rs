//! The server's configuration: one TOML file that says where to listen, how
//! durable the journal is, when the market trades, what it trades, which
//! brokers may log in and which accounts a fresh market starts with.
//!
//! [`ServerConfig::load`] and [`ServerConfig::from_toml_str`] read the file
//! and run [`ServerConfig::validate`], so a config that loads is one the
//! server can use: every check here names the entry that is wrong, before a
//! socket is bound or a journal opened. [`ServerConfig::embedded_default`]
//! is `gateway/default.toml`, a demo market that doubles as the reference
//! for writing a config; `docs/CONFIG.md` lists every key.
//!
//! Units follow the engine: cash is written in CNY as a decimal string and
//! converted exactly to fen (`i64`); holdings are whole tonnes (`u64`);
//! durations are milliseconds; sizes are bytes.
//!
//! # Layout
//!
//! - this file: the sections as serde types, the loaders, and what the
//!   server asks of a config ([`ServerConfig::engine_config`],
//!   [`ServerConfig::genesis`], the broker and account look-ups);
//! - `validate`: [`ServerConfig::validate`], the checks;
//! - `error`: [`ConfigError`];
//! - `position`: the line, column and key of a TOML error;
//! - `values`: how amounts, dates and times may be written;
//! - `exposure`: whether a file with secrets is open to other users;
//! - `metrics`: [`MetricsSettings`], the `[metrics]` section;
//! - `tls`: [`TlsSettings`], the `[server.tls]` section;
//! - `login_backoff`: [`LoginBackoffSettings`], `[server.login_backoff]`.

mod error;
mod exposure;
mod login_backoff;
mod metrics;
mod position;
mod tls;
mod validate;
pub(crate) use validate::name_problem;
mod values;
pub use values::parse_addr;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cetx_engine::journal;
use cetx_engine::{
    AccountId, BrokerId, Calendar, Command, EngineConfig, InstrumentId, InstrumentSpec,
    ParticipantType,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::protocol::{
    Secret, HEARTBEAT_INTERVAL, IDLE_TIMEOUT, MAX_FRAME_AFTER_LOGIN, MAX_FRAME_BEFORE_LOGIN,
};

pub use error::ConfigError;
pub use exposure::open_to_others;
pub use login_backoff::LoginBackoffSettings;
pub use metrics::MetricsSettings;
pub use tls::TlsSettings;

/// The embedded default config, `gateway/default.toml`: a demo market with
/// three instruments, two brokers and funded accounts.
pub const DEFAULT_TOML: &str = include_str!("../default.toml");

/// Fen in one CNY: cash is counted in fen (0.01 CNY).
const FEN_PER_CNY: i64 = 100;
/// Largest engine input queue: its slots are allocated up front.
pub const MAX_QUEUE_CAPACITY: usize = 1 << 24;
/// Smallest journal segment: room for its header and some records.
pub const MIN_SEGMENT_BYTES: u64 = 4_096;
/// The largest `journal.segment_bytes` accepted: 1 GiB.
pub const MAX_SEGMENT_BYTES: u64 = 1 << 30;
/// Furthest exchange time may be from UTC, in seconds (±14 h covers every
/// time zone in use).
pub const MAX_UTC_OFFSET_S: i32 = 14 * 3_600;

/// The whole server configuration, one TOML file.
///
/// Every section may be left out and takes its defaults, except that at
/// least one `[[instruments]]` is required.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `[server]`: network, limits and where data lives.
    #[serde(default)]
    pub server: ServerSettings,
    /// `[journal]`: durability and segment sizes.
    #[serde(default)]
    pub journal: JournalSettings,
    /// `[calendar]`: trading days and hours. Any key left out takes its
    /// default (Asia/Shanghai, 09:30–11:30 and 13:00–15:00, no holidays).
    #[serde(default, deserialize_with = "values::calendar")]
    pub calendar: Calendar,
    /// `[[instruments]]`: what is traded; an instrument's id is its position
    /// here.
    #[serde(default)]
    pub instruments: Vec<InstrumentSpec>,
    /// `[[brokers]]`: who may log in.
    #[serde(default)]
    pub brokers: Vec<BrokerConfig>,
    /// `[[accounts]]`: the accounts a fresh market opens with.
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    /// `[market_data]`: the public feed; none without the section.
    #[serde(default)]
    pub market_data: Option<MarketDataSettings>,
    /// `[http]`: the read-only web view (needs `[market_data]`); none
    /// without the section.
    #[serde(default)]
    pub http: Option<HttpSettings>,
    /// `[metrics]`: the Prometheus endpoint; none without the section.
    #[serde(default)]
    pub metrics: Option<MetricsSettings>,
    /// `[admin]`: the operators' channel (`docs/ADMIN.md`); none without
    /// the section.
    #[serde(default)]
    pub admin: Option<AdminSettings>,
    /// `[[operators]]`: who may use the operators' channel; never a broker.
    #[serde(default)]
    pub operators: Vec<OperatorConfig>,
    /// `[[blocks]]`: block-trading rules of an instrument where they
    /// differ from its kind's defaults (`docs/CONFIG.md`).
    #[serde(default)]
    pub blocks: Vec<BlockConfig>,
}

/// `[[blocks]]`: one instrument's block-trading rules (大宗协议), each key
/// left out taking the kind's default (`docs/ENGINE.md`, "Block trades").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockConfig {
    /// The instrument.
    pub symbol: String,
    /// Whether blocks may be posted and accepted (CEA yes; CCER no).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The block minimum, in tonnes (100,000).
    #[serde(default)]
    pub min_t: Option<u64>,
    /// The block band in basis points of the reference price (3,000).
    #[serde(default)]
    pub band_bps: Option<u32>,
    /// Whether each deal waits for the exchange's confirmation (CEA no;
    /// CCER yes).
    #[serde(default)]
    pub needs_confirmation: Option<bool>,
    /// Open offers plus pending deals per instrument at most (4,096).
    #[serde(default)]
    pub max_open: Option<u32>,
}

/// `[admin]`: where the operators' channel listens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    /// Address and port operators connect to.
    #[serde(deserialize_with = "values::listen")]
    pub listen: SocketAddr,
    /// `[admin.tls]`: TLS on the channel, as `[server.tls]` is on the
    /// broker port; with `client_ca`, an operator with a `tls_name` logs
    /// in only with a client certificate valid for it.
    pub tls: Option<TlsSettings>,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7880)),
            tls: None,
        }
    }
}

/// `[[operators]]`: one exchange operator who may open accounts, move
/// cash and allowances and halt instruments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    /// The operator's id, sent at login.
    pub id: u32,
    /// A name for logs.
    pub name: String,
    /// The shared secret sent at login; its `Debug` output is redacted.
    pub secret: Secret,
    /// The name (a DNS name among its subject alternative names) the
    /// operator's TLS client certificate must be valid for; when set, the
    /// operator logs in only over TLS with such a certificate, signed by
    /// `admin.tls.client_ca`, and its secret.
    #[serde(default)]
    pub tls_name: Option<String>,
}

/// `[http]`: the read-only web view of the market.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Address and port the page is served on.
    #[serde(deserialize_with = "values::listen")]
    pub listen: SocketAddr,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
}

/// `[market_data]`: the market-data feed (`docs/MARKET_DATA.md`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketDataSettings {
    /// Address and port subscribers connect to.
    #[serde(deserialize_with = "values::listen")]
    pub listen: SocketAddr,
    /// Update batches (one per turn of the engine) the ring holds for
    /// subscribers; one further behind gets a fresh snapshot.
    pub buffer: usize,
    /// Subscribers at once; more are refused with 412.
    pub max_subscribers: usize,
    /// Subscribers at once from one IP address; more from it are refused
    /// with 412, so that one peer cannot take every place.
    pub max_subscribers_per_address: usize,
    /// Batches a subscriber may have waiting before its updates are
    /// conflated.
    pub conflate_after: usize,
    /// How long a write to a subscriber may take before it is closed, in
    /// milliseconds.
    pub write_timeout_ms: u64,
    /// How long a connection may take to subscribe to at least one
    /// instrument before it is closed, in milliseconds: a connection that
    /// follows nothing holds a subscriber's place.
    pub subscribe_timeout_ms: u64,
    /// Bytes the kernel may hold unsent for one subscriber (its socket's
    /// send buffer; Linux doubles it for its own bookkeeping).
    pub send_buffer: usize,
    /// A subscriber's updates go out at most this often, in
    /// milliseconds: what came meanwhile is sent in one write (0: as
    /// they come).
    pub flush_interval_ms: u64,
}

impl Default for MarketDataSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7879)),
            buffer: 4_096,
            max_subscribers: 256,
            max_subscribers_per_address: 32,
            conflate_after: 256,
            write_timeout_ms: 5_000,
            subscribe_timeout_ms: 5_000,
            send_buffer: 262_144,
            flush_interval_ms: 10,
        }
    }
}

impl MarketDataSettings {
    /// [`Self::flush_interval_ms`] as a duration.
    #[must_use]
    pub const fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_interval_ms)
    }

    /// [`Self::write_timeout_ms`] as a duration.
    #[must_use]
    pub const fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.write_timeout_ms)
    }

    /// [`Self::subscribe_timeout_ms`] as a duration.
    #[must_use]
    pub const fn subscribe_timeout(&self) -> Duration {
        Duration::from_millis(self.subscribe_timeout_ms)
    }
}

/// `[server]`: where to listen and the limits of the network side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address and port to accept broker connections on.
    #[serde(deserialize_with = "values::listen")]
    pub listen: SocketAddr,
    /// Directory of the journal and snapshots; relative paths are relative
    /// to the working directory.
    pub data_dir: PathBuf,
    /// Most logged-in broker sessions open at once. Connections that have
    /// not logged in do not count: see [`Self::max_pending_logins`].
    pub max_connections: u32,
    /// Most connections open at once that have not logged in yet; one over
    /// it is answered `LoginRejected` 412 and closed at once.
    pub max_pending_logins: u32,
    /// Most of those pending connections from one source IP address.
    pub max_pending_per_address: u32,
    /// Slots in the bounded queue from the sessions to the engine thread.
    pub queue_capacity: usize,
    /// Milliseconds of sending nothing after which the server sends a
    /// heartbeat. Default and most: the protocol's `HEARTBEAT_INTERVAL`.
    pub heartbeat_interval_ms: u64,
    /// Milliseconds without any frame from a broker after which its
    /// session is closed. Default: the protocol's `IDLE_TIMEOUT`.
    pub idle_timeout_ms: u64,
    /// Largest frame payload, in bytes, accepted before a successful login.
    /// Default and least: the protocol's `MAX_FRAME_BEFORE_LOGIN`.
    pub max_frame_before_login: usize,
    /// Largest frame payload, in bytes, accepted after login. Default and
    /// least: the protocol's `MAX_FRAME_AFTER_LOGIN`.
    pub max_frame_after_login: usize,
    /// Each broker's newest reports kept in memory for resumes; an older
    /// resume is read back from the journal.
    pub recent_reports: usize,
    /// Reports per second that resumes read back from the journal may
    /// send, all of them together; 0 sends them as fast as they are read.
    pub resume_reports_per_s: u64,
    /// `[server.tls]`: TLS on the broker port; plain TCP without it.
    pub tls: Option<TlsSettings>,
    /// `[server.login_backoff]`: how failed logins are slowed and refused.
    pub login_backoff: LoginBackoffSettings,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7878)),
            data_dir: PathBuf::from("./cetx-data"),
            max_connections: 256,
            max_pending_logins: 64,
            max_pending_per_address: 8,
            queue_capacity: 65_536,
            heartbeat_interval_ms: millis(HEARTBEAT_INTERVAL),
            idle_timeout_ms: millis(IDLE_TIMEOUT),
            max_frame_before_login: MAX_FRAME_BEFORE_LOGIN,
            max_frame_after_login: MAX_FRAME_AFTER_LOGIN,
            recent_reports: 16_384,
            resume_reports_per_s: 500_000,
            tls: None,
            login_backoff: LoginBackoffSettings::default(),
        }
    }
}

/// A protocol duration in whole milliseconds.
const fn millis(duration: Duration) -> u64 {
    // The protocol's durations are seconds: far inside u64 milliseconds.
    duration.as_millis() as u64
}

impl ServerSettings {
    /// [`Self::heartbeat_interval_ms`] as a duration.
    #[must_use]
    pub const fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval_ms)
    }

    /// [`Self::idle_timeout_ms`] as a duration.
    #[must_use]
    pub const fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }
}

/// When the journal counts a write as done; the config's spelling of
/// [`journal::Durability`], into which it converts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// `fdatasync` once per batch before acknowledging it: an acknowledged
    /// command survives a power cut.
    #[default]
    Fsync,
    /// Written to the operating system's page cache: survives the process
    /// crashing, not the machine.
    Os,
    /// Not written before acknowledging: for benchmarks only.
    None,
}

impl Durability {
    /// Every durability, in the order CONFIG.md lists them.
    const ALL: [Self; 3] = [Self::Fsync, Self::Os, Self::None];
}

/// Read by name; anything else, a number too, is told the names (toml's
/// own words for a number were "wanted string or table").
impl<'de> Deserialize<'de> for Durability {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl serde::de::Visitor<'_> for Name {
            type Value = Durability;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("one of \"fsync\", \"os\", \"none\"")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Durability, E> {
                Durability::ALL
                    .into_iter()
                    .find(|d| journal::Durability::from(*d).name() == name)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(name), &self))
            }
        }
        deserializer.deserialize_str(Name)
    }
}

impl From<Durability> for journal::Durability {
    fn from(durability: Durability) -> Self {
        match durability {
            Durability::Fsync => Self::Fsync,
            Durability::Os => Self::Os,
            Durability::None => Self::None,
        }
    }
}

/// `[journal]`: how durable the journal is and how it is cut into files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalSettings {
    /// When a write counts as done.
    pub durability: Durability,
    /// Bytes after which the journal starts a new segment file.
    pub segment_bytes: u64,
    /// Commands between two snapshots of the engine state.
    pub snapshot_every: u64,
    /// Entries the queue from the engine thread to the journal writer
    /// holds; past it the engine answers brokers `ServerBusy`.
    pub queue_capacity: usize,
    /// Fill the next segment file with zeros ahead of time, off the
    /// engine's path, so that a group commit's sync only overwrites
    /// blocks already written.
    pub preallocate: bool,
    /// Least microseconds from the start of one group commit to the start
    /// of the next (`fsync` only); 0 syncs each batch as soon as the one
    /// before it is synced.
    pub sync_interval_us: u64,
    /// Snapshots kept; older ones are removed after each new one.
    pub keep_snapshots: usize,
}

impl Default for JournalSettings {
    fn default() -> Self {
        Self {
            durability: Durability::Fsync,
            segment_bytes: journal::format::DEFAULT_SEGMENT_BYTES,
            snapshot_every: 1_000_000,
            queue_capacity: journal::JournalConfig::default().queue_capacity,
            preallocate: true,
            sync_interval_us: 250,
            keep_snapshots: 2,
        }
    }
}

impl JournalSettings {
    /// The journal writer's settings: these, and the writer's own default
    /// for the rest (its largest group commit).
    #[must_use]
    pub fn journal_config(&self) -> journal::JournalConfig {
        journal::JournalConfig {
            segment_bytes: self.segment_bytes,
            durability: self.durability.into(),
            queue_capacity: self.queue_capacity,
            preallocate: self.preallocate,
            sync_interval: Duration::from_micros(self.sync_interval_us),
            ..journal::JournalConfig::default()
        }
    }
}

/// `[[brokers]]`: an exchange member that logs in and acts for its accounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    /// The broker's id, sent at login.
    pub id: BrokerId,
    /// A name for logs and reports.
    pub name: String,
    /// The shared secret sent at login; its `Debug` output is redacted.
    pub secret: Secret,
    /// Whether the broker's resting orders are cancelled when its last
    /// session disconnects.
    #[serde(default = "yes")]
    pub cancel_on_disconnect: bool,
    /// The token bucket that limits the broker's message rate.
    #[serde(default)]
    pub throttle: Throttle,
    /// The name (a DNS name among its subject alternative names) the
    /// broker's TLS client certificate must be valid for; when set, the
    /// broker logs in only over TLS with such a certificate, signed by
    /// `server.tls.client_ca`, and its secret.
    #[serde(default)]
    pub tls_name: Option<String>,
}

const fn yes() -> bool {
    true
}

impl BrokerConfig {
    /// Whether a login's secret is this broker's. Every byte is compared
    /// whatever the first difference, so the time taken does not tell how
    /// much of a guess was right.
    #[must_use]
    pub fn accepts(&self, candidate: &Secret) -> bool {
        self.secret.matches(candidate)
    }
}

/// A token bucket: `burst` messages at once, refilled at `rate_per_s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Throttle {
    /// Tokens added per second.
    pub rate_per_s: u32,
    /// Most tokens the bucket holds.
    pub burst: u32,
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            rate_per_s: 1_000,
            burst: 2_000,
        }
    }
}

/// `[[accounts]]`: an account the market opens with, funded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The account's id.
    pub id: AccountId,
    /// The broker that acts for it.
    pub broker: BrokerId,
    /// Who owns it.
    pub participant: ParticipantType,
    /// Opening cash in CNY, exact to the fen. Written as a string
    /// (`"1000000.00"`) or a whole number; a float is refused so that no
    /// rounding happens on the way in.
    #[serde(
        default,
        deserialize_with = "cetx_engine::cny::deserialize_without_floats"
    )]
    pub cash: Decimal,
    /// Opening allowances per instrument symbol, in tonnes.
    #[serde(default)]
    pub holdings: BTreeMap<String, u64>,
}

impl AccountConfig {
    /// The opening cash in fen.
    ///
    /// # Errors
    /// [`ConfigError::NegativeCash`], [`ConfigError::CashNotWholeFen`] or
    /// [`ConfigError::CashOutOfRange`], naming the account.
    pub fn cash_fen(&self) -> Result<i64, ConfigError> {
        let account = self.id.0;
        let cash = self.cash;
        if cash.is_sign_negative() && !cash.is_zero() {
            return Err(ConfigError::NegativeCash { account, cash });
        }
        let fen = cash
            .checked_mul(Decimal::from(FEN_PER_CNY))
            .ok_or(ConfigError::CashOutOfRange { account, cash })?;
        if !fen.fract().is_zero() {
            return Err(ConfigError::CashNotWholeFen { account, cash });
        }
        i64::try_from(fen).map_err(|_| ConfigError::CashOutOfRange { account, cash })
    }
}

impl ServerConfig {
    /// Reads, parses and validates a config file.
    ///
    /// # Errors
    /// [`ConfigError::Read`] when the file cannot be read; otherwise any
    /// error of [`Self::from_toml_str`], inside [`ConfigError::InFile`] so
    /// that the message names the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Self::from_toml_str(&text).map_err(|error| ConfigError::InFile {
            path: path.to_owned(),
            error: Box::new(error),
        })
    }

    /// Parses and validates a config from TOML text.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] for text that is not TOML or has an unknown
    /// key or a value of the wrong type, with the line, column and key where
    /// TOML tells them; otherwise the first failed check of
    /// [`Self::validate`].
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| position::parse_error(text, &e))?;
        values::check_float_prices(text, &config)?;
        config.validate()?;
        Ok(config)
    }

    /// The embedded default config, `gateway/default.toml`: a demo market
    /// ready to trade.
    ///
    /// # Panics
    /// If the embedded file does not load; a test makes sure it does.
    #[must_use]
    pub fn embedded_default() -> Self {
        Self::from_toml_str(DEFAULT_TOML)
            .unwrap_or_else(|e| panic!("the embedded default.toml is broken: {e}"))
    }

    /// What the engine trades: the configured instruments, in order.
    #[must_use]
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            instruments: self.instruments.clone(),
        }
    }

    /// Each instrument's symbol and block rules, in the config's order:
    /// its kind's rules, with the config's `[[blocks]]` entry over them.
    /// The symbol, not the place in this list, names the instrument: a
    /// journal's ids need not follow the config's order.
    #[must_use]
    pub fn block_rules(&self) -> Vec<(&str, cetx_engine::BlockRules)> {
        self.instruments
            .iter()
            .map(|spec| {
                let mut rules = cetx_engine::BlockRules::for_kind(&spec.kind);
                if let Some(set) = self.blocks.iter().find(|b| b.symbol == spec.symbol) {
                    rules.enabled = set.enabled.unwrap_or(rules.enabled);
                    rules.min_t = set.min_t.unwrap_or(rules.min_t);
                    rules.band_bps = set.band_bps.unwrap_or(rules.band_bps);
                    rules.needs_confirmation =
                        set.needs_confirmation.unwrap_or(rules.needs_confirmation);
                    rules.max_open = set.max_open.unwrap_or(rules.max_open);
                }
                (spec.symbol.as_str(), rules)
            })
            .collect()
    }

    /// The market this config describes: its instruments and calendar,
    /// which a fresh journal starts with and a journal's must match.
    #[must_use]
    pub fn market(&self) -> cetx_engine::MarketDefinition {
        cetx_engine::MarketDefinition {
            instruments: self.instruments.clone(),
            calendar: self.calendar.clone(),
        }
    }

    /// The ids of every instrument, in order.
    #[must_use]
    pub fn instrument_ids(&self) -> Vec<InstrumentId> {
        (0..self.instruments.len())
            .map(|i| InstrumentId(u16::try_from(i).expect("validated: at most u16::MAX")))
            .collect()
    }

    /// The id of the instrument with this symbol.
    #[must_use]
    pub fn instrument_id(&self, symbol: &str) -> Option<InstrumentId> {
        self.instruments
            .iter()
            .position(|spec| spec.symbol == symbol)
            .and_then(|i| u16::try_from(i).ok())
            .map(InstrumentId)
    }

    /// The broker with this id.
    #[must_use]
    pub fn broker(&self, id: BrokerId) -> Option<&BrokerConfig> {
        self.brokers.iter().find(|b| b.id == id)
    }

    /// The accounts a broker acts for, in config order.
    pub fn accounts_of(&self, broker: BrokerId) -> impl Iterator<Item = AccountId> + '_ {
        self.accounts
            .iter()
            .filter(move |a| a.broker == broker)
            .map(|a| a.id)
    }

    /// The commands a fresh journal of this config starts with: the
    /// market's definition ([`cetx_engine::MarketDefinition::genesis`]:
    /// the calendar, then each instrument), then
    /// [`Self::account_genesis`]. Applied to an empty
    /// [`cetx_engine::Engine::default`].
    ///
    /// # Panics
    /// As [`Self::account_genesis`].
    #[must_use]
    pub fn genesis(&self) -> Vec<Command> {
        let mut commands = self.market().genesis();
        commands.extend(self.account_genesis());
        commands
    }

    /// The admin commands that open the config's accounts, in a fixed
    /// order: for each account in config order, `OpenAccount`, then a
    /// `Deposit` of its cash (none for zero), then a `CreditHoldings` for
    /// each holding in instrument order (none for zero). Trading phases are
    /// the scheduler's, not set here.
    ///
    /// # Panics
    /// On a config that does not pass [`Self::validate`] (cash not exact to
    /// the fen, holdings of an unknown symbol); every loader validates.
    #[must_use]
    pub fn account_genesis(&self) -> Vec<Command> {
        let mut commands = Vec::new();
        for account in &self.accounts {
            commands.push(Command::OpenAccount {
                account: account.id,
                participant: account.participant,
                broker: account.broker,
            });
            let amount_fen = account
                .cash_fen()
                .unwrap_or_else(|e| panic!("genesis of an unvalidated config: {e}"));
            if amount_fen > 0 {
                commands.push(Command::Deposit {
                    account: account.id,
                    amount_fen,
                });
            }
            if let Some(symbol) = account
                .holdings
                .keys()
                .find(|s| self.instrument_id(s).is_none())
            {
                panic!("genesis of an unvalidated config: unknown holding {symbol}");
            }
            for (instrument, spec) in self.instrument_ids().into_iter().zip(&self.instruments) {
                let quantity_t = account.holdings.get(&spec.symbol).copied().unwrap_or(0);
                if quantity_t > 0 {
                    commands.push(Command::CreditHoldings {
                        account: account.id,
                        instrument,
                        quantity_t,
                    });
                }
            }
        }
        commands
    }
}
