//! The checks every loader runs: [`ServerConfig::validate`], section by
//! section, each failure a [`ConfigError`] variant that names the key or
//! entry.

use std::collections::{BTreeMap, BTreeSet};

use cetx_engine::{Calendar, Session};
use chrono::{NaiveTime, Timelike};

use super::{
    millis, ConfigError, ServerConfig, Throttle, MAX_QUEUE_CAPACITY, MAX_SEGMENT_BYTES,
    MAX_UTC_OFFSET_S, MIN_SEGMENT_BYTES,
};
use crate::codec::MAX_FRAME_CEILING;
use crate::protocol::{
    HEARTBEAT_INTERVAL, MAX_FRAME_AFTER_LOGIN, MAX_FRAME_BEFORE_LOGIN, MAX_SECRET_LEN,
};

impl ServerConfig {
    /// Checks everything the server relies on, section by section, and
    /// reports the first problem.
    ///
    /// # Errors
    /// The [`ConfigError`] variant of the first failed check, naming the
    /// key or entry.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_server()?;
        self.validate_journal()?;
        self.validate_market_data()?;
        validate_calendar(&self.calendar)?;
        self.validate_instruments()?;
        self.validate_blocks()?;
        self.validate_brokers()?;
        self.validate_operators()?;
        self.validate_accounts()
    }

    fn validate_operators(&self) -> Result<(), ConfigError> {
        if self.admin.is_some() == self.operators.is_empty() {
            return Err(ConfigError::AdminWithoutOperators);
        }
        let mut seen = BTreeSet::new();
        let client_ca = self
            .admin
            .as_ref()
            .and_then(|a| a.tls.as_ref())
            .and_then(|t| t.client_ca.as_ref());
        for operator in &self.operators {
            let why = if !seen.insert(operator.id) {
                "the id is configured twice"
            } else if let Some(why) = name_problem(&operator.name) {
                why
            } else if operator.secret.expose().is_empty() {
                "secret must not be empty"
            } else if operator.secret.expose().len() > MAX_SECRET_LEN {
                "secret is longer than a login carries (64 bytes)"
            } else if operator.tls_name.is_some() && client_ca.is_none() {
                "tls_name needs [admin.tls] with client_ca, which checks client certificates"
            } else {
                continue;
            };
            return Err(ConfigError::Operator {
                id: operator.id,
                why,
            });
        }
        Ok(())
    }

    fn validate_server(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        let backoff = &s.login_backoff;
        // A broker that has nothing to say heartbeats every
        // HEARTBEAT_INTERVAL: a shorter idle timeout would cut it off.
        if s.idle_timeout_ms <= millis(HEARTBEAT_INTERVAL) {
            return Err(ConfigError::IdleTimeout {
                idle_timeout_ms: s.idle_timeout_ms,
                broker_heartbeat_ms: millis(HEARTBEAT_INTERVAL),
                max: MAX_TIMEOUT_MS,
            });
        }
        // Each count, size and timeout within its range, so that no value
        // can make the server allocate beyond reason at start or as it
        // runs (CONFIG.md states what each costs), nor go without.
        within(&[
            (
                "server.max_connections",
                u64::from(s.max_connections),
                1,
                Some(MAX_SESSIONS),
            ),
            (
                "server.max_pending_logins",
                u64::from(s.max_pending_logins),
                1,
                Some(MAX_SESSIONS),
            ),
            (
                "server.max_pending_per_address",
                u64::from(s.max_pending_per_address),
                1,
                None,
            ),
            (
                "server.queue_capacity",
                s.queue_capacity as u64,
                1,
                Some(MAX_QUEUE_CAPACITY as u64),
            ),
            // Brokers close a connection that has been silent for the
            // protocol's IDLE_TIMEOUT, counting on a heartbeat at least
            // every HEARTBEAT_INTERVAL.
            (
                "server.heartbeat_interval_ms",
                s.heartbeat_interval_ms,
                1,
                Some(millis(HEARTBEAT_INTERVAL)),
            ),
            (
                "server.recent_reports",
                s.recent_reports as u64,
                1,
                Some(MAX_RING),
            ),
            (
                "server.idle_timeout_ms",
                s.idle_timeout_ms,
                millis(HEARTBEAT_INTERVAL) + 1,
                Some(MAX_TIMEOUT_MS),
            ),
            (
                "server.login_backoff.refuse_after",
                u64::from(backoff.refuse_after),
                1,
                None,
            ),
            (
                "server.login_backoff.max_delay_ms",
                backoff.max_delay_ms,
                0,
                Some(MAX_LOGIN_DELAY_MS),
            ),
            (
                "server.login_backoff.forget_after_ms",
                backoff.forget_after_ms,
                1,
                Some(MAX_FORGET_MS),
            ),
        ])?;
        // Spaces alone are a typo too: they would make a folder of that
        // name beside the config.
        if s.data_dir.to_str().is_some_and(|d| d.trim().is_empty()) {
            return Err(ConfigError::EmptyDataDir);
        }
        // An address is refused from its refuse_after-th failure on: free
        // failures up to it or past it would mean no failure is ever
        // slowed before the refusal (backoff.rs).
        if backoff.free_failures >= backoff.refuse_after {
            return Err(ConfigError::LoginBackoffFree {
                free_failures: backoff.free_failures,
                refuse_after: backoff.refuse_after,
            });
        }
        if backoff.first_delay_ms > backoff.max_delay_ms {
            return Err(ConfigError::LoginBackoffDelays {
                first_delay_ms: backoff.first_delay_ms,
                max_delay_ms: backoff.max_delay_ms,
            });
        }
        // Brokers may send frames up to the protocol's maxima; the codec
        // takes nothing above its ceiling.
        let ceiling = Some(MAX_FRAME_CEILING as u64);
        within(&[
            (
                "server.max_frame_before_login",
                s.max_frame_before_login as u64,
                MAX_FRAME_BEFORE_LOGIN as u64,
                ceiling,
            ),
            (
                "server.max_frame_after_login",
                s.max_frame_after_login as u64,
                MAX_FRAME_AFTER_LOGIN as u64,
                ceiling,
            ),
        ])?;
        if s.max_frame_before_login > s.max_frame_after_login {
            return Err(ConfigError::FrameLimits {
                before: s.max_frame_before_login,
                after: s.max_frame_after_login,
            });
        }
        Ok(())
    }

    fn validate_market_data(&self) -> Result<(), ConfigError> {
        if self.http.is_some() && self.market_data.is_none() {
            return Err(ConfigError::HttpWithoutMarketData);
        }
        let Some(m) = &self.market_data else {
            return Ok(());
        };
        within(&[
            ("market_data.buffer", m.buffer as u64, 1, Some(MAX_RING)),
            (
                "market_data.send_buffer",
                m.send_buffer as u64,
                1,
                Some(MAX_SEND_BUFFER),
            ),
            (
                "market_data.max_subscribers",
                m.max_subscribers as u64,
                1,
                Some(MAX_SESSIONS),
            ),
            (
                "market_data.max_subscribers_per_address",
                m.max_subscribers_per_address as u64,
                1,
                Some(MAX_SESSIONS),
            ),
            (
                "market_data.conflate_after",
                m.conflate_after as u64,
                1,
                Some(MAX_RING),
            ),
            (
                "market_data.write_timeout_ms",
                m.write_timeout_ms,
                1,
                Some(MAX_TIMEOUT_MS),
            ),
            (
                "market_data.subscribe_timeout_ms",
                m.subscribe_timeout_ms,
                1,
                Some(MAX_TIMEOUT_MS),
            ),
            (
                "market_data.flush_interval_ms",
                m.flush_interval_ms,
                0,
                Some(MAX_FLUSH_INTERVAL_MS),
            ),
        ])
    }

    fn validate_journal(&self) -> Result<(), ConfigError> {
        let j = &self.journal;
        within(&[
            // A segment is written ahead in full, zeros and all, before
            // the server first listens (1 GiB took 5 s here).
            (
                "journal.segment_bytes",
                j.segment_bytes,
                MIN_SEGMENT_BYTES,
                Some(MAX_SEGMENT_BYTES),
            ),
            ("journal.snapshot_every", j.snapshot_every, 1, None),
            (
                "journal.queue_capacity",
                j.queue_capacity as u64,
                1,
                Some(MAX_QUEUE_CAPACITY as u64),
            ),
            ("journal.keep_snapshots", j.keep_snapshots as u64, 1, None),
            // A tenth of a second between syncs is already a long wait
            // for every acknowledgement.
            (
                "journal.sync_interval_us",
                j.sync_interval_us,
                0,
                Some(100_000),
            ),
        ])
    }

    fn validate_instruments(&self) -> Result<(), ConfigError> {
        if self.instruments.is_empty() {
            return Err(ConfigError::NoInstruments);
        }
        if self.instruments.len() > usize::from(u16::MAX) {
            return Err(ConfigError::TooManyInstruments(self.instruments.len()));
        }
        let mut seen = BTreeSet::new();
        for (i, spec) in self.instruments.iter().enumerate() {
            let symbol = &spec.symbol;
            if spec.check_symbol().is_err() {
                return Err(ConfigError::BadSymbol(symbol.clone()));
            }
            if !seen.insert(symbol.as_str()) {
                return Err(ConfigError::DuplicateSymbol(symbol.clone()));
            }
            let wrap = |error| ConfigError::Instrument {
                symbol: symbol.clone(),
                error,
            };
            spec.rules().map_err(wrap)?;
            spec.policy().map_err(wrap)?;
            spec.check_vintage(self.instruments[..i].iter())
                .map_err(wrap)?;
            // Every quantity is whole lots: a limit between two lots is
            // one the market can never reach, and likely a typo (the
            // engine checks the minimum order itself). Defaults are left
            // alone, so a lot that does not divide them refuses no key
            // the file did not write.
            let lots = [
                ("max_order_t", Some(spec.max_order_t)),
                ("min_auction_t", spec.min_auction_t),
            ];
            whole_lots(symbol, spec.lot_t, &lots)?;
        }
        Ok(())
    }

    /// Each `[[blocks]]` entry names a configured instrument once, and its
    /// rules are usable.
    fn validate_blocks(&self) -> Result<(), ConfigError> {
        let mut seen = BTreeSet::new();
        let bad = |symbol: &str, reason| ConfigError::BadBlocks {
            symbol: symbol.to_owned(),
            reason,
        };
        for entry in &self.blocks {
            let Some(spec) = self.instruments.iter().find(|s| s.symbol == entry.symbol) else {
                return Err(bad(&entry.symbol, "not a configured instrument"));
            };
            if !seen.insert(&entry.symbol) {
                return Err(bad(&entry.symbol, "named twice"));
            }
            whole_lots(
                &entry.symbol,
                spec.lot_t,
                &[("[[blocks]] min_t", entry.min_t)],
            )?;
        }
        for (symbol, rules) in self.block_rules() {
            // As an instrument's own band (`SpecError::Band`): a band of 0
            // leaves blocks the reference price alone. The engine takes one
            // from a journal, where an older config may have put it.
            if !(1..10_000).contains(&rules.band_bps) {
                return Err(bad(symbol, "band_bps must be from 1 to 9999 (below 100%)"));
            }
            if let Some(reason) = rules.problem() {
                return Err(bad(symbol, reason));
            }
        }
        Ok(())
    }

    fn validate_brokers(&self) -> Result<(), ConfigError> {
        let mut seen = BTreeSet::new();
        for broker in &self.brokers {
            let id = broker.id.0;
            if !seen.insert(id) {
                return Err(ConfigError::DuplicateBroker(id));
            }
            if let Some(why) = name_problem(&broker.name) {
                return Err(ConfigError::BrokerName { broker: id, why });
            }
            let len = broker.secret.expose().len();
            if len == 0 {
                return Err(ConfigError::EmptySecret(id));
            }
            if len > MAX_SECRET_LEN {
                return Err(ConfigError::SecretTooLong {
                    broker: id,
                    len,
                    max: MAX_SECRET_LEN,
                });
            }
            let client_ca = self.server.tls.as_ref().and_then(|t| t.client_ca.as_ref());
            if broker.tls_name.is_some() && client_ca.is_none() {
                return Err(ConfigError::TlsNameWithoutClientCa(id));
            }
            let Throttle { rate_per_s, burst } = broker.throttle;
            if rate_per_s == 0 || burst == 0 {
                return Err(ConfigError::Throttle {
                    broker: id,
                    rate_per_s,
                    burst,
                });
            }
        }
        Ok(())
    }

    fn validate_accounts(&self) -> Result<(), ConfigError> {
        let mut seen = BTreeSet::new();
        // Trades only move cash and allowances between accounts, so the
        // engine bounds the market's whole (ADMIN.md, 108): a genesis past
        // it would have its later deposits refused without a word.
        let mut cash_fen: i128 = 0;
        let mut held_t: BTreeMap<&str, u128> = BTreeMap::new();
        for account in &self.accounts {
            let id = account.id.0;
            if !seen.insert(id) {
                return Err(ConfigError::DuplicateAccount(id));
            }
            if self.broker(account.broker).is_none() {
                return Err(ConfigError::UnknownBroker {
                    account: id,
                    broker: account.broker.0,
                });
            }
            cash_fen += i128::from(account.cash_fen()?);
            if cash_fen > i128::from(i64::MAX) {
                return Err(ConfigError::MarketTotal {
                    account: id,
                    what: "cash".into(),
                    max: "2^63 - 1 fen".into(),
                });
            }
            for (symbol, &quantity_t) in &account.holdings {
                let total = held_t.entry(symbol).or_default();
                *total += u128::from(quantity_t);
                if *total > u128::from(u64::MAX) {
                    return Err(ConfigError::MarketTotal {
                        account: id,
                        what: format!("holdings of {symbol}"),
                        max: "2^64 - 1 t".into(),
                    });
                }
            }
            if let Some(symbol) = account
                .holdings
                .keys()
                .find(|s| self.instrument_id(s).is_none())
            {
                return Err(ConfigError::UnknownHoldingSymbol {
                    account: id,
                    symbol: symbol.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Most sessions, pending logins or feed subscribers: each costs a task
/// and its buffers (tens of KiB), so 65,536 of them is already gigabytes.
const MAX_SESSIONS: u64 = 1 << 16;
/// Most entries of a ring kept in memory (reports per broker, feed
/// batches): a report holds up to about 220 bytes resident (CONFIG.md,
/// `recent_reports`), so about 220 MiB a broker at the bound.
const MAX_RING: u64 = 1 << 20;
/// Largest kernel send buffer asked for one feed subscriber: 64 MiB.
const MAX_SEND_BUFFER: u64 = 64 << 20;
/// Longest timeout of a connection (idle broker, feed write or
/// subscription): an hour. Longer ones are typos that leave dead
/// connections holding their slots.
const MAX_TIMEOUT_MS: u64 = 3_600_000;
/// Longest wait before a failed login is answered: a minute. A client
/// waits that long for its answer; longer is no answer at all.
const MAX_LOGIN_DELAY_MS: u64 = 60_000;
/// Longest memory of an address's failed logins: a day.
const MAX_FORGET_MS: u64 = 86_400_000;
/// Longest pause between a feed subscriber's writes: a second. Longer
/// leaves every subscriber's book stale for that long.
const MAX_FLUSH_INTERVAL_MS: u64 = 1_000;

/// [`ConfigError::OutOfRange`] for the first of `ranges` (a key, its
/// value, the least and the most allowed, `None` for no most) whose value
/// is outside its range.
fn within(ranges: &[(&'static str, u64, u64, Option<u64>)]) -> Result<(), ConfigError> {
    for &(key, value, min, max) in ranges {
        if value < min || max.is_some_and(|max| value > max) {
            return Err(ConfigError::OutOfRange {
                key,
                value,
                min,
                max,
            });
        }
    }
    Ok(())
}

/// [`ConfigError::NotWholeLots`] for the first tonnage `limits` (each a
/// key and its value, if written) of instrument `symbol` that is not a
/// whole number of its lots of `lot_t`.
fn whole_lots(
    symbol: &str,
    lot_t: u64,
    limits: &[(&'static str, Option<u64>)],
) -> Result<(), ConfigError> {
    for &(key, value) in limits {
        // A lot of 0 is refused by the instrument's own checks, which
        // run first.
        match value {
            Some(value_t) if lot_t > 0 && !value_t.is_multiple_of(lot_t) => {
                return Err(ConfigError::NotWholeLots {
                    symbol: symbol.to_owned(),
                    key,
                    value_t,
                    lot_t,
                })
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks the calendar: a real UTC offset, at least one session, each
/// opening before it closes, in order, without overlap.
fn validate_calendar(calendar: &Calendar) -> Result<(), ConfigError> {
    // `unsigned_abs`: the absolute value of i32::MIN does not fit an i32.
    if calendar.utc_offset_s.unsigned_abs() > MAX_UTC_OFFSET_S.unsigned_abs() {
        return Err(ConfigError::UtcOffset(calendar.utc_offset_s));
    }
    if calendar.sessions.is_empty() {
        return Err(ConfigError::NoSessions);
    }
    let mut previous_close: Option<NaiveTime> = None;
    for (index, &Session { open, close }) in calendar.sessions.iter().enumerate() {
        // The calendar schedules in whole seconds; a fraction would be
        // dropped silently.
        let whole = open.nanosecond() == 0 && close.nanosecond() == 0;
        if open >= close || !whole {
            return Err(ConfigError::Session { index, open, close });
        }
        if let Some(previous_close) = previous_close.filter(|&c| open <= c) {
            return Err(ConfigError::SessionsOverlap {
                index,
                open,
                previous_close,
            });
        }
        previous_close = Some(close);
    }
    Ok(())
}

/// What is wrong with a broker's or operator's name, if anything: it is
/// printed in the banner and the logs, and carried by `AddBroker`.
pub(crate) fn name_problem(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("name must not be empty")
    } else if name.len() > cetx_engine::NewBroker::MAX_NAME_LEN {
        Some("name is longer than 64 bytes")
    } else if name.chars().any(char::is_control) {
        Some("name must not hold control characters (a line break, an escape)")
    } else {
        None
    }
}
