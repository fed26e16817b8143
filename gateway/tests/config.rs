//! The server config as a specification: what loads, what each section
//! defaults to, which check names which mistake, and that the embedded
//! default sets up a market the engine accepts without a single reject.

use std::path::PathBuf;

use cetx_engine::{
    AccountId, BrokerId, Command, Engine, Event, InstrumentId, ParticipantType, Session, SpecError,
    Stamp,
};
use cetx_gateway::config::{ConfigError, Durability, ServerConfig, Throttle, DEFAULT_TOML};
use cetx_gateway::protocol::{self, Secret};
use chrono::{NaiveDate, NaiveTime};
use rust_decimal::Decimal;

/// The smallest config that loads: one instrument, nothing else.
const MINIMAL: &str = r#"
[[instruments]]
symbol = "CEA2025"
kind = { type = "cea", vintage = 2025 }
tick = "0.01"
lot_t = 1
min_order_t = 1
max_order_t = 99999
band_bps = 1000
reference_price = "90.00"
max_orders = 1024
"#;

/// `MINIMAL` plus a broker and an account, the base of most checks.
fn with_account(account: &str) -> String {
    format!(
        "{MINIMAL}
[[brokers]]
id = 7
name = \"b\"
secret = \"s\"

[[accounts]]
id = 1
broker = 7
participant = \"compliance_entity\"
{account}
"
    )
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

#[test]
fn the_embedded_default_loads_and_describes_the_demo_market() {
    let config = ServerConfig::embedded_default();
    assert_eq!(config, ServerConfig::from_toml_str(DEFAULT_TOML).unwrap());
    let symbols: Vec<&str> = config
        .instruments
        .iter()
        .map(|s| s.symbol.as_str())
        .collect();
    assert_eq!(symbols, ["CEA2024", "CEA2025", "CCER"]);
    // The 2024 year-end close (CEA_RULES.md §7).
    assert_eq!(config.instruments[0].reference_price, dec("97.49"));
    assert_eq!(config.brokers.len(), 2);
    // Each demo broker has one account of each participant type.
    for broker in [BrokerId(1), BrokerId(2)] {
        let mut types: Vec<ParticipantType> = config
            .accounts_of(broker)
            .map(|id| config.accounts.iter().find(|a| a.id == id).unwrap())
            .map(|a| a.participant)
            .collect();
        types.sort();
        assert_eq!(
            types,
            [
                ParticipantType::ComplianceEntity,
                ParticipantType::Institution,
                ParticipantType::Individual
            ]
        );
    }
}

#[test]
fn the_default_genesis_sets_up_the_configured_balances_without_a_reject() {
    let config = ServerConfig::embedded_default();
    let mut engine = Engine::default();
    let mut events = Vec::new();
    for (seq, command) in config.genesis().iter().enumerate() {
        let stamp = Stamp {
            seq: seq as u64 + 1,
            time_ns: 0,
        };
        engine.apply(command, stamp, &mut events);
    }
    let rejects: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::Rejected(_)))
        .collect();
    assert!(rejects.is_empty(), "{rejects:?}");
    engine.check_invariants();
    assert_eq!(engine.accounts().len(), config.accounts.len());
    for account in &config.accounts {
        let opened = engine.account(account.id).unwrap();
        assert_eq!(opened.participant, account.participant);
        assert_eq!(opened.broker, account.broker);
        assert_eq!(opened.cash_fen, account.cash_fen().unwrap());
        for (i, spec) in config.instruments.iter().enumerate() {
            let configured = account.holdings.get(&spec.symbol).copied().unwrap_or(0);
            let held = engine.holdings(account.id).unwrap()[i];
            assert_eq!(held.balance_t, configured, "{}", spec.symbol);
        }
    }
    // Spot check one number against the file: 100,000,000.00 CNY in fen
    // (enough for a block trade).
    assert_eq!(
        engine.account(AccountId(1001)).unwrap().cash_fen,
        10_000_000_000
    );
}

#[test]
fn genesis_opens_deposits_and_credits_in_order_and_skips_zeros() {
    let text = format!(
        "{MINIMAL}
[[instruments]]
symbol = \"CCER\"
kind = {{ type = \"ccer\" }}
tick = \"0.01\"
lot_t = 1
min_order_t = 1
max_order_t = 99999
band_bps = 1000
reference_price = \"85.00\"
max_orders = 1024

[[brokers]]
id = 7
name = \"b\"
secret = \"s\"

[[accounts]]
id = 2
broker = 7
participant = \"institution\"
cash = \"1234.56\"
holdings = {{ CCER = 5, CEA2025 = 3 }}

[[accounts]]
id = 1
broker = 7
participant = \"individual\"
holdings = {{ CEA2025 = 0 }}
"
    );
    let config = ServerConfig::from_toml_str(&text).unwrap();
    let (cea, ccer) = (InstrumentId(0), InstrumentId(1));
    assert_eq!(
        config.account_genesis(),
        vec![
            Command::OpenAccount {
                account: AccountId(2),
                participant: ParticipantType::Institution,
                broker: BrokerId(7),
            },
            Command::Deposit {
                account: AccountId(2),
                amount_fen: 123_456,
            },
            // Instrument order, not the order written in the table.
            Command::CreditHoldings {
                account: AccountId(2),
                instrument: cea,
                quantity_t: 3,
            },
            Command::CreditHoldings {
                account: AccountId(2),
                instrument: ccer,
                quantity_t: 5,
            },
            // No cash and a zero holding: only the account.
            Command::OpenAccount {
                account: AccountId(1),
                participant: ParticipantType::Individual,
                broker: BrokerId(7),
            },
        ]
    );
}

#[test]
fn every_section_but_instruments_has_defaults() {
    let config = ServerConfig::from_toml_str(MINIMAL).unwrap();
    let s = &config.server;
    assert_eq!(s.listen.to_string(), "127.0.0.1:7878");
    assert_eq!(s.data_dir, PathBuf::from("./cetx-data"));
    assert_eq!(
        (s.max_connections, s.queue_capacity),
        (256, 65_536),
        "connections, queue"
    );
    // The protocol's numbers, which brokers follow (docs/PROTOCOL.md).
    assert_eq!(s.heartbeat_interval(), protocol::HEARTBEAT_INTERVAL);
    assert_eq!(s.idle_timeout(), protocol::IDLE_TIMEOUT);
    assert_eq!(
        (s.heartbeat_interval_ms, s.idle_timeout_ms),
        (5_000, 15_000)
    );
    assert_eq!(
        (s.max_frame_before_login, s.max_frame_after_login),
        (256, 4_096)
    );
    let j = &config.journal;
    assert_eq!(j.durability, Durability::Fsync);
    assert_eq!((j.segment_bytes, j.snapshot_every), (64 << 20, 1_000_000));
    assert_eq!(config.calendar, cetx_engine::Calendar::default());
    assert!(config.brokers.is_empty() && config.accounts.is_empty());
}

#[test]
fn journal_settings_become_the_writers() {
    use cetx_engine::journal;
    for (text, durability) in [
        ("fsync", journal::Durability::Fsync),
        ("os", journal::Durability::Os),
        ("none", journal::Durability::None),
    ] {
        let config = ServerConfig::from_toml_str(&format!(
            "[journal]\ndurability = \"{text}\"\nsegment_bytes = 8192\n{MINIMAL}"
        ))
        .unwrap();
        let writer = config.journal.journal_config();
        assert_eq!(writer.durability, durability);
        assert_eq!(writer.segment_bytes, 8_192);
        assert_eq!(
            writer.queue_capacity,
            journal::JournalConfig::default().queue_capacity
        );
    }
    let config =
        ServerConfig::from_toml_str(&format!("[journal]\nqueue_capacity = 128\n{MINIMAL}"))
            .unwrap();
    assert_eq!(config.journal.journal_config().queue_capacity, 128);
}

#[test]
fn keys_left_out_of_a_section_take_their_defaults() {
    let text = format!(
        "[server]
listen = \"0.0.0.0:9000\"

[journal]
durability = \"os\"

[calendar]
holidays = [\"2026-10-01\"]
{MINIMAL}
[[brokers]]
id = 1
name = \"b\"
secret = \"s\"
throttle = {{ rate_per_s = 10 }}
"
    );
    let config = ServerConfig::from_toml_str(&text).unwrap();
    assert_eq!(config.server.listen.port(), 9000);
    assert_eq!(config.server.max_connections, 256);
    assert_eq!(config.journal.durability, Durability::Os);
    assert_eq!(config.journal.segment_bytes, 64 << 20);
    // Only the holidays are given: the sessions are the exchange's.
    assert_eq!(
        config.calendar.sessions,
        cetx_engine::Calendar::default().sessions
    );
    assert_eq!(config.calendar.holidays.len(), 1);
    let broker = config.broker(BrokerId(1)).unwrap();
    assert!(broker.cancel_on_disconnect);
    assert_eq!(
        broker.throttle,
        Throttle {
            rate_per_s: 10,
            burst: 2_000
        }
    );
    assert!(config.broker(BrokerId(2)).is_none());
}

#[test]
fn calendar_dates_and_times_are_strings_or_toml_values() {
    let text = format!(
        "[calendar]
holidays = [2026-10-01, \"2026-10-02\"]
[[calendar.sessions]]
open = 09:00:00
close = \"10:00:00\"
{MINIMAL}"
    );
    let config = ServerConfig::from_toml_str(&text).unwrap();
    assert_eq!(config.calendar.utc_offset_s, 8 * 3_600);
    assert_eq!(
        config.calendar.sessions,
        [Session {
            open: time(9, 0),
            close: time(10, 0)
        }]
    );
    let day = |d| NaiveDate::from_ymd_opt(2026, 10, d).unwrap();
    assert_eq!(
        config.calendar.holidays.iter().copied().collect::<Vec<_>>(),
        [day(1), day(2)]
    );
    // A moment with a zone is not a date, nor a time with a fraction a time.
    for bad in [
        "holidays = [2026-10-01T00:00:00Z]",
        "sessions = [{ open = 09:00:00.5, close = 10:00:00 }]",
    ] {
        let err = ServerConfig::from_toml_str(&format!("[calendar]\n{bad}\n{MINIMAL}"));
        assert!(
            matches!(err, Err(ConfigError::Parse { line: Some(2), .. })),
            "{err:?}"
        );
    }
}

#[test]
fn cash_converts_exactly_to_fen() {
    let cases: [(&str, Result<i64, ConfigError>); 6] = [
        ("cash = \"1234.56\"", Ok(123_456)),
        ("cash = \"0.10\"", Ok(10)),
        ("cash = 5000", Ok(500_000)),
        ("", Ok(0)),
        (
            "cash = \"0.001\"",
            Err(ConfigError::CashNotWholeFen {
                account: 1,
                cash: dec("0.001"),
            }),
        ),
        (
            "cash = \"-1.00\"",
            Err(ConfigError::NegativeCash {
                account: 1,
                cash: dec("-1.00"),
            }),
        ),
    ];
    for (line, expected) in cases {
        let got = ServerConfig::from_toml_str(&with_account(line))
            .map(|c| c.accounts[0].cash_fen().unwrap());
        assert_eq!(got, expected, "{line}");
    }
    // A string is digits with at most one point: each of these once read
    // as an amount (an outside tester's), some not as written.
    for typo in [
        "+1000.00", " 1000.00", "1_000.00", "1000.", ".50", "1e6", "1,000.00",
    ] {
        let read = ServerConfig::from_toml_str(&with_account(&format!("cash = \"{typo}\"")));
        let said = read.expect_err(typo).to_string();
        assert!(
            said.contains("accounts[0].cash") && said.contains("digits with at most one point"),
            "{typo}: {said}"
        );
    }
    // A float is refused, as CONFIG.md's example says.
    let float = ServerConfig::from_toml_str(&with_account("cash = 0.1"));
    let said = float.expect_err("a float").to_string();
    assert!(
        said.contains("accounts[0].cash")
            && said.contains("invalid type: floating point `0.1`, expected an amount of CNY as a string of digits with at most one point"),
        "{said}"
    );
    // The same for an instrument's money (an outside tester's "9e1" and
    // ".01").
    for (from, typo) in [
        ("reference_price = \"90.00\"", "reference_price = \"9e1\""),
        (
            "reference_price = \"90.00\"",
            "reference_price = \"+90.00\"",
        ),
        ("reference_price = \"90.00\"", "reference_price = \"90.\""),
        ("tick = \"0.01\"", "tick = \".01\""),
    ] {
        let read = ServerConfig::from_toml_str(&edit(&with_account(""), from, typo));
        let said = read.expect_err(typo).to_string();
        assert!(
            said.contains("digits with at most one point"),
            "{typo}: {said}"
        );
    }
    let huge = ServerConfig::from_toml_str(&with_account("cash = \"100000000000000000\""));
    assert!(matches!(
        huge,
        Err(ConfigError::CashOutOfRange { account: 1, .. })
    ));
    // Each fits, but not together: the engine bounds the market's whole
    // (a registry helper's second account started with no cash at all).
    let more = |id: u32, cash: &str, holdings: &str| {
        format!(
            "\n[[accounts]]\nid = {id}\nbroker = 7\nparticipant = \"compliance_entity\"\ncash = \"{cash}\"\nholdings = {{ CEA2025 = {holdings} }}\n"
        )
    };
    let first = "cash = \"92233720368547758.00\"\nholdings = { CEA2025 = 9223372036854775807 }";
    let config = |second: &str, third: &str| {
        ServerConfig::from_toml_str(&(with_account(first) + second + third))
    };
    let ok = config(&more(2, "0.07", "9223372036854775807"), &more(3, "0", "1"));
    assert!(ok.is_ok(), "{ok:?}");
    assert!(matches!(
        config(&more(2, "0.08", "0"), ""),
        Err(ConfigError::MarketTotal { account: 2, ref what, .. }) if what == "cash"
    ));
    assert!(matches!(
        config(&more(2, "0", "9223372036854775807"), &more(3, "0", "2")),
        Err(ConfigError::MarketTotal { account: 3, ref what, .. }) if what == "holdings of CEA2025"
    ));
}

#[test]
fn cash_as_a_float_is_refused_where_it_is_written() {
    let err = ServerConfig::from_toml_str(&with_account("cash = 0.1")).unwrap_err();
    let ConfigError::Parse {
        line, key, message, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(*line, Some(22));
    assert_eq!(key.as_deref(), Some("accounts[0].cash"));
    assert!(message.contains("as a string"), "{message}");
}

/// The line, from 1, of the first `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).unwrap()].matches('\n').count() + 1
}

/// Replaces the first `from` in `text` with `to`, which must be there.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the text");
    text.replacen(from, to, 1)
}

#[test]
fn each_check_names_the_entry_that_is_wrong() {
    let base = with_account("cash = \"100.00\"\nholdings = { CEA2025 = 10 }");
    let cases: Vec<(String, ConfigError)> = vec![
        (
            format!("[server]\nmax_connections = 0\n{base}"),
            ConfigError::OutOfRange {
                key: "server.max_connections",
                value: 0,
                min: 1,
                max: Some(65_536),
            },
        ),
        (
            format!("[server]\nqueue_capacity = 100000000\n{base}"),
            ConfigError::OutOfRange {
                key: "server.queue_capacity",
                value: 100_000_000,
                min: 1,
                max: Some(1 << 24),
            },
        ),
        (
            format!("[server]\ndata_dir = \"\"\n{base}"),
            ConfigError::EmptyDataDir,
        ),
        (
            format!("[server]\ndata_dir = \"   \"\n{base}"),
            ConfigError::EmptyDataDir,
        ),
        (
            format!("[server]\nidle_timeout_ms = 3600001\n{base}"),
            ConfigError::OutOfRange {
                key: "server.idle_timeout_ms",
                value: 3_600_001,
                min: 5_001,
                max: Some(3_600_000),
            },
        ),
        (
            format!("[server.login_backoff]\nmax_delay_ms = 60001\n{base}"),
            ConfigError::OutOfRange {
                key: "server.login_backoff.max_delay_ms",
                value: 60_001,
                min: 0,
                max: Some(60_000),
            },
        ),
        (
            format!("[server.login_backoff]\nforget_after_ms = 86400001\n{base}"),
            ConfigError::OutOfRange {
                key: "server.login_backoff.forget_after_ms",
                value: 86_400_001,
                min: 1,
                max: Some(86_400_000),
            },
        ),
        (
            format!("[server.login_backoff]\nrefuse_after = 0\n{base}"),
            ConfigError::OutOfRange {
                key: "server.login_backoff.refuse_after",
                value: 0,
                min: 1,
                max: None,
            },
        ),
        (
            // The 8th failure is refused: 8 free ones are never slowed
            // first (an outside tester's loaded).
            format!("[server.login_backoff]\nfree_failures = 8\n{base}"),
            ConfigError::LoginBackoffFree {
                free_failures: 8,
                refuse_after: 8,
            },
        ),
        (
            format!("[server.login_backoff]\nfree_failures = 9\nrefuse_after = 8\n{base}"),
            ConfigError::LoginBackoffFree {
                free_failures: 9,
                refuse_after: 8,
            },
        ),
        (
            format!("[server.login_backoff]\nfirst_delay_ms = 2000\n{base}"),
            ConfigError::LoginBackoffDelays {
                first_delay_ms: 2_000,
                max_delay_ms: 1_000,
            },
        ),
        (
            format!("[server]\nheartbeat_interval_ms = 6000\n{base}"),
            ConfigError::OutOfRange {
                key: "server.heartbeat_interval_ms",
                value: 6_000,
                min: 1,
                max: Some(5_000),
            },
        ),
        (
            // A quiet broker heartbeats every 5 s: 5 s of silence is normal.
            format!("[server]\nheartbeat_interval_ms = 1000\nidle_timeout_ms = 5000\n{base}"),
            ConfigError::IdleTimeout {
                idle_timeout_ms: 5_000,
                broker_heartbeat_ms: 5_000,
                max: 3_600_000,
            },
        ),
        (
            format!("[server]\nmax_frame_before_login = 100\n{base}"),
            ConfigError::OutOfRange {
                key: "server.max_frame_before_login",
                value: 100,
                min: 256,
                max: Some(65_536),
            },
        ),
        (
            format!("[server]\nmax_frame_after_login = 1000000\n{base}"),
            ConfigError::OutOfRange {
                key: "server.max_frame_after_login",
                value: 1_000_000,
                min: 4_096,
                max: Some(65_536),
            },
        ),
        (
            format!("[server]\nmax_frame_before_login = 8192\n{base}"),
            ConfigError::FrameLimits {
                before: 8_192,
                after: 4_096,
            },
        ),
        (
            format!("[journal]\nsegment_bytes = 100\n{base}"),
            ConfigError::OutOfRange {
                key: "journal.segment_bytes",
                value: 100,
                min: 4_096,
                max: Some(1 << 30),
            },
        ),
        (
            format!("[journal]\nsnapshot_every = 0\n{base}"),
            ConfigError::OutOfRange {
                key: "journal.snapshot_every",
                value: 0,
                min: 1,
                max: None,
            },
        ),
        (
            format!("[journal]\nqueue_capacity = 0\n{base}"),
            ConfigError::OutOfRange {
                key: "journal.queue_capacity",
                value: 0,
                min: 1,
                max: Some(16_777_216),
            },
        ),
        (
            format!("[journal]\nqueue_capacity = 16777217\n{base}"),
            ConfigError::OutOfRange {
                key: "journal.queue_capacity",
                value: 16_777_217,
                min: 1,
                max: Some(16_777_216),
            },
        ),
        (
            format!("[calendar]\nutc_offset_s = 86400\n{base}"),
            ConfigError::UtcOffset(86_400),
        ),
        (
            format!("[calendar]\nsessions = []\n{base}"),
            ConfigError::NoSessions,
        ),
        (
            format!(
                "[calendar]\nsessions = [{{ open = \"11:30:00\", close = \"09:30:00\" }}]\n{base}"
            ),
            ConfigError::Session {
                index: 0,
                open: time(11, 30),
                close: time(9, 30),
            },
        ),
        (
            format!(
                "[calendar]\nsessions = [{{ open = \"09:30:00\", close = \"11:30:00\" }}, \
                 {{ open = \"11:00:00\", close = \"15:00:00\" }}]\n{base}"
            ),
            ConfigError::SessionsOverlap {
                index: 1,
                open: time(11, 0),
                previous_close: time(11, 30),
            },
        ),
        (
            "[server]\nlisten = \"127.0.0.1:1\"\n".to_owned(),
            ConfigError::NoInstruments,
        ),
        (
            edit(&base, "symbol = \"CEA2025\"", "symbol = \"CEA 2025\""),
            ConfigError::BadSymbol("CEA 2025".to_owned()),
        ),
        (
            edit(
                &base,
                "symbol = \"CEA2025\"",
                "symbol = \"CEA2025-VERY-LONG\"",
            ),
            ConfigError::BadSymbol("CEA2025-VERY-LONG".to_owned()),
        ),
        (
            format!("{MINIMAL}{base}"),
            ConfigError::DuplicateSymbol("CEA2025".to_owned()),
        ),
        (
            edit(&base, "tick = \"0.01\"", "tick = \"0.005\""),
            ConfigError::Instrument {
                symbol: "CEA2025".into(),
                error: SpecError::Tick(dec("0.005")),
            },
        ),
        (
            // A typo in the vintage (an outside tester's): vintage 2024 as
            // CEA2025 would keep the real 2025 out for good.
            edit(&base, "vintage = 2025", "vintage = 2024"),
            ConfigError::Instrument {
                symbol: "CEA2025".into(),
                error: SpecError::VintageNotInSymbol { vintage: 2024 },
            },
        ),
        (
            format!(
                "{}{base}",
                MINIMAL.replace("symbol = \"CEA2025\"", "symbol = \"CEA2025B\"")
            ),
            ConfigError::Instrument {
                symbol: "CEA2025".into(),
                error: SpecError::VintageListed {
                    vintage: 2025,
                    listed: "CEA2025B".into(),
                },
            },
        ),
        // Bounds that once wrapped or aborted (issue 19): each is named.
        (
            format!("[server]\nmax_connections = 65537\n{base}"),
            ConfigError::OutOfRange {
                key: "server.max_connections",
                value: 65_537,
                min: 1,
                max: Some(65_536),
            },
        ),
        (
            // A feed that writes once in ten minutes shows a stale book
            // (an outside tester's 600000).
            format!("[market_data]\nflush_interval_ms = 1001\n{base}"),
            ConfigError::OutOfRange {
                key: "market_data.flush_interval_ms",
                value: 1_001,
                min: 0,
                max: Some(1_000),
            },
        ),
        (
            format!("[market_data]\nwrite_timeout_ms = 9223372036854775807\n{base}"),
            ConfigError::OutOfRange {
                key: "market_data.write_timeout_ms",
                value: i64::MAX as u64,
                min: 1,
                max: Some(3_600_000),
            },
        ),
        (
            format!("[market_data]\nsubscribe_timeout_ms = 3600001\n{base}"),
            ConfigError::OutOfRange {
                key: "market_data.subscribe_timeout_ms",
                value: 3_600_001,
                min: 1,
                max: Some(3_600_000),
            },
        ),
        (
            format!("[market_data]\nbuffer = 1048577\n{base}"),
            ConfigError::OutOfRange {
                key: "market_data.buffer",
                value: 1_048_577,
                min: 1,
                max: Some(1_048_576),
            },
        ),
        (
            format!("[server]\nrecent_reports = 4294967296\n{base}"),
            ConfigError::OutOfRange {
                key: "server.recent_reports",
                value: 4_294_967_296,
                min: 1,
                max: Some(1_048_576),
            },
        ),
        (
            format!("[journal]\nsegment_bytes = 1073741825\n{base}"),
            ConfigError::OutOfRange {
                key: "journal.segment_bytes",
                value: (1 << 30) + 1,
                min: 4_096,
                max: Some(1 << 30),
            },
        ),
        (
            format!("[journal]\nsync_interval_us = 100001\n{base}"),
            ConfigError::OutOfRange {
                key: "journal.sync_interval_us",
                value: 100_001,
                min: 0,
                max: Some(100_000),
            },
        ),
        (
            format!("[calendar]\nutc_offset_s = -2147483648\n{base}"),
            ConfigError::UtcOffset(i32::MIN),
        ),
        (
            edit(&base, "max_orders = 1024", "max_orders = 4294967294"),
            ConfigError::Instrument {
                symbol: "CEA2025".into(),
                error: SpecError::MaxOrders(4_294_967_294),
            },
        ),
        (
            edit(&base, "max_orders = 1024", "max_orders = 16777217"),
            ConfigError::Instrument {
                symbol: "CEA2025".into(),
                error: SpecError::MaxOrders(16_777_217),
            },
        ),
        (
            edit(
                &base,
                "max_orders = 1024",
                "max_orders = 1024\nmax_price_levels = 16777217",
            ),
            ConfigError::Instrument {
                symbol: "CEA2025".into(),
                error: SpecError::MaxPriceLevels(16_777_217),
            },
        ),
        (
            edit(
                &base,
                "max_orders = 1024",
                "max_orders = 1024\nmax_price_levels = 10",
            ),
            ConfigError::Instrument {
                symbol: "CEA2025".into(),
                error: SpecError::TooManyLevels {
                    reference_ticks: 90_00,
                    levels: 1_801,
                    max_levels: 10,
                },
            },
        ),
        (
            edit(&base, "band_bps = 1000", "band_bps = 0"),
            ConfigError::Instrument {
                symbol: "CEA2025".into(),
                error: SpecError::Band(0),
            },
        ),
        (
            edit(
                &base,
                "max_orders = 1024",
                "max_orders = 1024\neligible = []",
            ),
            ConfigError::Instrument {
                symbol: "CEA2025".into(),
                error: SpecError::NoneEligible,
            },
        ),
        (
            edit(
                &base,
                "max_orders = 1024",
                "max_orders = 1024\nposition_limit_t = 0",
            ),
            ConfigError::Instrument {
                symbol: "CEA2025".into(),
                error: SpecError::PositionLimit,
            },
        ),
        (
            edit(
                &base,
                "max_orders = 1024",
                "max_orders = 1024\nmax_orders_per_account = 0",
            ),
            ConfigError::Instrument {
                symbol: "CEA2025".into(),
                error: SpecError::MemberLimit("max_orders_per_account"),
            },
        ),
        (
            edit(
                &base,
                "max_orders = 1024",
                "max_orders = 1024\nlarge_holder_bps = 500",
            ),
            ConfigError::Instrument {
                symbol: "CEA2025".into(),
                error: SpecError::LargeHolder(500),
            },
        ),
        (
            format!("{base}\n[[brokers]]\nid = 7\nname = \"again\"\nsecret = \"x\"\n"),
            ConfigError::DuplicateBroker(7),
        ),
        (
            edit(&base, "name = \"b\"", "name = \" \""),
            ConfigError::BrokerName {
                broker: 7,
                why: "name must not be empty",
            },
        ),
        (
            edit(
                &base,
                "name = \"b\"",
                &format!("name = \"{}\"", "b".repeat(65)),
            ),
            ConfigError::BrokerName {
                broker: 7,
                why: "name is longer than 64 bytes",
            },
        ),
        (
            edit(
                &base,
                "name = \"b\"",
                "name = \"b\\ncetx listening on 6.6.6.6:1\"",
            ),
            ConfigError::BrokerName {
                broker: 7,
                why: "name must not hold control characters (a line break, an escape)",
            },
        ),
        (
            edit(&base, "secret = \"s\"", "secret = \"\""),
            ConfigError::EmptySecret(7),
        ),
        (
            edit(
                &base,
                "secret = \"s\"",
                &format!("secret = \"{}\"", "x".repeat(65)),
            ),
            ConfigError::SecretTooLong {
                broker: 7,
                len: 65,
                max: 64,
            },
        ),
        (
            edit(
                &base,
                "secret = \"s\"",
                "secret = \"s\"\nthrottle = { rate_per_s = 0 }",
            ),
            ConfigError::Throttle {
                broker: 7,
                rate_per_s: 0,
                burst: 2_000,
            },
        ),
        (
            edit(
                &base,
                "secret = \"s\"",
                "secret = \"s\"\ntls_name = \"broker-7.cetx\"",
            ),
            ConfigError::TlsNameWithoutClientCa(7),
        ),
        (
            format!("{base}\n[[accounts]]\nid = 1\nbroker = 7\nparticipant = \"individual\"\n"),
            ConfigError::DuplicateAccount(1),
        ),
        (
            edit(&base, "broker = 7", "broker = 8"),
            ConfigError::UnknownBroker {
                account: 1,
                broker: 8,
            },
        ),
        (
            edit(&base, "CEA2025 = 10", "CEA2099 = 10"),
            ConfigError::UnknownHoldingSymbol {
                account: 1,
                symbol: "CEA2099".into(),
            },
        ),
    ];
    assert!(ServerConfig::from_toml_str(&base).is_ok());
    for (text, expected) in cases {
        assert_eq!(
            ServerConfig::from_toml_str(&text),
            Err(expected.clone()),
            "{expected}"
        );
    }
}

/// A value out of its range is told the whole range, both ends (an
/// outside tester's: "must be at least 1" named one), or that it has no
/// most.
#[test]
fn a_value_out_of_range_is_told_its_range() {
    let base = with_account("cash = \"100.00\"");
    for (text, said) in [
        (
            "[server]\nmax_connections = 0",
            "server.max_connections = 0 is out of its range, 1 to 65536",
        ),
        (
            "[server]\nmax_connections = 65537",
            "server.max_connections = 65537 is out of its range, 1 to 65536",
        ),
        (
            "[journal]\nsnapshot_every = 0",
            "journal.snapshot_every = 0 is out of its range, 1 or more",
        ),
        (
            "[journal]\nsegment_bytes = 100",
            "journal.segment_bytes = 100 is out of its range, 4096 to 1073741824",
        ),
        // Each end of a range checked apart says the whole range too (an
        // outside tester's idle_timeout_ms).
        (
            "[server]\nidle_timeout_ms = 3600001",
            "server.idle_timeout_ms = 3600001 is out of its range, 5001 to 3600000",
        ),
        (
            "[server]\nidle_timeout_ms = 5000",
            "server.idle_timeout_ms = 5000 is out of its range, 5001 to 3600000: it must be longer than the protocol's heartbeat interval (5000 ms), or an idle broker is cut off between heartbeats",
        ),
        (
            "[calendar]\nutc_offset_s = 86400",
            "calendar.utc_offset_s = 86400 is out of its range, -50400 to 50400 (±14 hours)",
        ),
    ] {
        let error = ServerConfig::from_toml_str(&format!("{text}\n{base}")).unwrap_err();
        assert_eq!(error.to_string(), said);
    }
}

#[test]
fn parse_errors_give_line_column_and_key() {
    struct Case {
        text: String,
        line: usize,
        column: usize,
        key: &'static str,
        message: &'static str,
    }
    let cases = [
        Case {
            text: format!("[server]\nlisten = \"nowhere\"\n{MINIMAL}"),
            line: 2,
            column: 10,
            key: "server.listen",
            message: "\"nowhere\" is not an IP address and port such as \"127.0.0.1:7878\" (host names are not resolved)",
        },
        // A value of the wrong type is told what it must be, not the
        // reader's Rust type ("expected u32", an outside tester's case).
        Case {
            text: format!("[server]\nmax_connections = \"10\"\n{MINIMAL}"),
            line: 2,
            column: 19,
            key: "server.max_connections",
            message: "invalid type: string \"10\", expected a whole number from 0 to 4294967295",
        },
        Case {
            text: format!("[server]\nlisten_on = \"127.0.0.1:1\"\n{MINIMAL}"),
            line: 2,
            column: 1,
            key: "server.listen_on",
            message: "unknown field `listen_on`",
        },
        Case {
            text: format!("[journal]\ndurability = \"always\"\n{MINIMAL}"),
            line: 2,
            column: 14,
            key: "journal.durability",
            message: "invalid value: string \"always\", expected one of \"fsync\", \"os\", \"none\"",
        },
        // A number is told the names too, not toml's "wanted string or
        // table" (an outside tester's case).
        Case {
            text: format!("[journal]\ndurability = 1\n{MINIMAL}"),
            line: 2,
            column: 14,
            key: "journal.durability",
            message: "invalid type: integer `1`, expected one of \"fsync\", \"os\", \"none\"",
        },
        Case {
            text: with_account("participant2 = \"institution\""),
            line: 22,
            column: 1,
            key: "accounts[0].participant2",
            message: "unknown field `participant2`",
        },
        Case {
            text: edit(
                &with_account(""),
                "secret = \"s\"",
                "secret = \"s\"\nthrottle = { rate_per_s = 5, burst = -1 }",
            ),
            line: 17,
            column: 38,
            key: "brokers[0].throttle.burst",
            message: "invalid value: integer `-1`",
        },
        Case {
            text: with_account("holdings = { CEA2025 = \"many\" }"),
            line: 22,
            column: 24,
            key: "accounts[0].holdings.CEA2025",
            message: "invalid type: string",
        },
        Case {
            text: format!("{MINIMAL}\n[[brokers]]\nid = 1\nname = \"b\"\n"),
            line: 13,
            column: 1,
            key: "brokers[0]",
            message: "missing field `secret`",
        },
        Case {
            text: format!(
                "[calendar]\nholidays = [\n  \"2026-10-01\",\n  \"10/02\",\n]\n{MINIMAL}"
            ),
            line: 4,
            column: 3,
            key: "calendar.holidays",
            message: "expected a date, \"YYYY-MM-DD\"",
        },
        Case {
            text: edit(DEFAULT_TOML, "open = \"13:00:00\"", "open = \"1pm\""),
            line: line_of(DEFAULT_TOML, "open = \"13:00:00\""),
            column: 8,
            key: "calendar.sessions[1].open",
            message: "expected a time of day",
        },
        Case {
            // A leap second: chrono reads it, no session may use it.
            text: edit(DEFAULT_TOML, "close = \"15:00:00\"", "close = \"23:59:60\""),
            line: line_of(DEFAULT_TOML, "close = \"15:00:00\""),
            column: 9,
            key: "calendar.sessions[1].close",
            message: "expected a time of day",
        },
        Case {
            text: edit(
                DEFAULT_TOML,
                "reference_price = \"90.00\"",
                "reference_price = []",
            ),
            line: line_of(DEFAULT_TOML, "reference_price = \"90.00\""),
            column: 19,
            key: "instruments[1].reference_price",
            message: "invalid type: sequence",
        },
        Case {
            text: "[server\n".to_owned(),
            line: 1,
            column: 8,
            key: "server",
            message: "invalid table header",
        },
    ];
    for case in cases {
        let err = ServerConfig::from_toml_str(&case.text).unwrap_err();
        let ConfigError::Parse {
            line,
            column,
            key,
            message,
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(
            (*line, *column, key.as_deref()),
            (Some(case.line), Some(case.column), Some(case.key)),
            "{err}"
        );
        assert!(message.contains(case.message), "{message}");
        assert!(!err.to_string().contains('\n'), "one line: {err}");
    }
}

#[test]
fn load_names_the_file() {
    let dir = std::env::temp_dir().join(format!("cetx-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(&good, DEFAULT_TOML).unwrap();
    assert_eq!(
        ServerConfig::load(&good).unwrap(),
        ServerConfig::embedded_default()
    );

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        format!("[server]\nmax_connections = \"many\"\n{MINIMAL}"),
    )
    .unwrap();
    let err = ServerConfig::load(&bad).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("config file {}: line 2, column 19", bad.display())),
        "{text}"
    );
    assert!(text.contains("server.max_connections"), "{text}");

    let invalid = dir.join("invalid.toml");
    std::fs::write(&invalid, "[server]\n").unwrap();
    assert_eq!(
        ServerConfig::load(&invalid),
        Err(ConfigError::InFile {
            path: invalid.clone(),
            error: Box::new(ConfigError::NoInstruments),
        })
    );

    let missing = dir.join("missing.toml");
    let err = ServerConfig::load(&missing).unwrap_err();
    assert!(matches!(&err, ConfigError::Read { path, .. } if *path == missing));
    assert!(err.to_string().contains("missing.toml"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn broker_secrets_are_compared_whole_and_never_printed() {
    let config = ServerConfig::embedded_default();
    let broker = config.broker(BrokerId(1)).unwrap();
    assert!(broker.accepts(&Secret::new("demo-secret-1")));
    for wrong in ["demo-secret-2", "demo-secret-", "demo-secret-11", ""] {
        assert!(!broker.accepts(&Secret::new(wrong)), "{wrong:?}");
    }
    assert!(!format!("{config:?}").contains("demo-secret"));
}

#[test]
fn accounts_of_lists_a_brokers_accounts_in_config_order() {
    let config = ServerConfig::embedded_default();
    let ids = |b| {
        config
            .accounts_of(BrokerId(b))
            .map(|a| a.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(1), [1001, 1002, 1003]);
    assert_eq!(ids(2), [2001, 2002, 2003]);
    assert!(ids(3).is_empty());
    assert_eq!(config.instrument_id("CCER"), Some(InstrumentId(2)));
    assert_eq!(config.instrument_ids().len(), 3);
}

#[test]
fn a_config_written_out_reads_back_the_same() {
    let config = ServerConfig::embedded_default();
    let text = toml::to_string(&config).unwrap();
    assert_eq!(ServerConfig::from_toml_str(&text).unwrap(), config);
}

#[test]
fn blocks_take_the_kinds_defaults_and_entries_are_checked() {
    let config = ServerConfig::embedded_default();
    let rules = config.block_rules();
    let ccer = usize::from(config.instrument_id("CCER").unwrap().0);
    assert!(rules[0].1.enabled && !rules[0].1.needs_confirmation);
    assert_eq!(rules[ccer].0, "CCER");
    assert!(!rules[ccer].1.enabled && rules[ccer].1.needs_confirmation);
    assert_eq!(rules[ccer].1.min_t, 100_000);

    let open = ServerConfig::from_toml_str(&format!(
        "{}\n[[blocks]]\nsymbol = \"CEA2025\"\nmin_t = 500\nmax_open = 3\n",
        with_account("")
    ))
    .unwrap();
    let rules = open.block_rules();
    assert_eq!(
        (rules[0].1.min_t, rules[0].1.max_open, rules[0].1.band_bps),
        (500, 3, 3_000)
    );

    for (bad, why) in [
        (
            "[[blocks]]\nsymbol = \"NOPE\"\n",
            "not a configured instrument",
        ),
        ("[[blocks]]\nsymbol = \"CEA2025\"\nmin_t = 0\n", "min_t"),
        (
            "[[blocks]]\nsymbol = \"CEA2025\"\nband_bps = 10000\n",
            "band_bps must be from 1 to 9999",
        ),
        // As an instrument's band 0 is (an outside tester's was taken).
        (
            "[[blocks]]\nsymbol = \"CEA2025\"\nband_bps = 0\n",
            "band_bps must be from 1 to 9999",
        ),
        (
            "[[blocks]]\nsymbol = \"CEA2025\"\nmax_open = 1048577\n",
            "max_open",
        ),
        (
            "[[blocks]]\nsymbol = \"CEA2025\"\n[[blocks]]\nsymbol = \"CEA2025\"\n",
            "named twice",
        ),
    ] {
        let error =
            ServerConfig::from_toml_str(&format!("{}\n{bad}", with_account(""))).expect_err(bad);
        let said = error.to_string();
        assert!(
            said.contains("[[blocks]]") && said.contains(why),
            "{bad}: {said}"
        );
    }
}

/// CONFIG.md, "Unknown keys are errors, in every table": a key beside
/// `type = "ccer"` too (a CCER has no vintage).
#[test]
fn a_ccer_kind_with_a_vintage_is_refused() {
    let text = edit(
        MINIMAL,
        "kind = { type = \"cea\", vintage = 2025 }",
        "kind = { type = \"ccer\", vintage = 2025 }",
    );
    let error = ServerConfig::from_toml_str(&text).expect_err("a CCER has no vintage");
    assert!(error.to_string().contains("vintage"), "{error}");
}

/// Every quantity is whole lots, so a tonnage limit between two lots can
/// never be met exactly (an outside tester's `lot_t = 10`,
/// `max_order_t = 99995` loaded): each key written is named with the lot.
#[test]
fn tonnage_limits_are_whole_lots() {
    let lots = |text: &str| {
        edit(
            &edit(text, "lot_t = 1\n", "lot_t = 10\n"),
            "min_order_t = 1\n",
            "min_order_t = 10\n",
        )
    };
    let ten = lots(&with_account(""));
    let ok = edit(&ten, "max_order_t = 99999", "max_order_t = 99990");
    assert!(ServerConfig::from_toml_str(&ok).is_ok());
    // The defaults (100,000 t) are whole lots of 10; with a lot of 3 they
    // are not, but a key left out is not the operator's to fix.
    let three = edit(
        &edit(&ok, "lot_t = 10", "lot_t = 3"),
        "min_order_t = 10",
        "min_order_t = 3",
    );
    let three = edit(&three, "max_order_t = 99990", "max_order_t = 99999");
    assert!(ServerConfig::from_toml_str(&three).is_ok());
    let not_whole = |key: &'static str, value_t: u64| ConfigError::NotWholeLots {
        symbol: "CEA2025".into(),
        key,
        value_t,
        lot_t: 10,
    };
    for (text, expected) in [
        (
            edit(&ok, "max_order_t = 99990", "max_order_t = 99995"),
            not_whole("max_order_t", 99_995),
        ),
        (
            edit(
                &ok,
                "max_orders = 1024",
                "max_orders = 1024\nmin_auction_t = 100005",
            ),
            not_whole("min_auction_t", 100_005),
        ),
        (
            format!("{ok}\n[[blocks]]\nsymbol = \"CEA2025\"\nmin_t = 55\n"),
            not_whole("[[blocks]] min_t", 55),
        ),
    ] {
        let error = ServerConfig::from_toml_str(&text).unwrap_err();
        assert_eq!(error, expected);
        let said = error.to_string();
        assert!(said.contains("whole number of lots"), "{said}");
    }
    // 0 t was already refused, by the engine's own checks.
    let zero = edit(&ok, "max_order_t = 99990", "max_order_t = 0");
    assert!(matches!(
        ServerConfig::from_toml_str(&zero),
        Err(ConfigError::Instrument {
            error: SpecError::MinOrderAboveMax { max_order_t: 0, .. },
            ..
        })
    ));
}

/// A holiday listed twice is most likely a typo for another date, which
/// would then trade (an outside tester's loaded): refused, naming the date
/// and where it is. A Saturday or Sunday is closed anyway: listed, it
/// changes nothing, and loads.
#[test]
fn a_holiday_listed_twice_is_refused_and_a_weekend_one_is_taken() {
    let text =
        format!("[calendar]\nholidays = [\"2026-10-01\", \"2026-10-02\", 2026-10-01]\n{MINIMAL}");
    let error = ServerConfig::from_toml_str(&text).unwrap_err();
    let ConfigError::Parse {
        line, key, message, ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(*line, Some(2));
    assert_eq!(key.as_deref(), Some("calendar.holidays"));
    assert!(message.contains("2026-10-01 is listed twice"), "{message}");
    // 2026-10-03 is a Saturday.
    let weekend = format!("[calendar]\nholidays = [\"2026-10-03\"]\n{MINIMAL}");
    let config = ServerConfig::from_toml_str(&weekend).unwrap();
    let saturday = NaiveDate::from_ymd_opt(2026, 10, 3).unwrap();
    assert!(config.calendar.holidays.contains(&saturday));
    assert!(!config.calendar.is_trading_day(saturday));
    assert!(!ServerConfig::from_toml_str(MINIMAL)
        .unwrap()
        .calendar
        .is_trading_day(saturday));
}

/// A price written as a TOML float reaches the config as an `f64`: one
/// that reads exactly as written is taken (CONFIG.md), one that does not
/// (an outside tester's `90.000000000000001`, read as 90) is refused at
/// its key, asking for a decimal string. Cash takes no float at all.
#[test]
fn a_float_price_is_taken_only_where_it_reads_as_written() {
    let price = |key: &str, value: &str| {
        let from = if key == "tick" {
            "tick = \"0.01\""
        } else {
            "reference_price = \"90.00\""
        };
        ServerConfig::from_toml_str(&edit(MINIMAL, from, &format!("{key} = {value}")))
    };
    for (key, value, read) in [
        ("reference_price", "90.07", "90.07"),
        ("reference_price", "9.007e1", "90.07"),
        ("reference_price", "1e3", "1000"),
        ("reference_price", "1_000.5", "1000.5"),
        ("tick", "1e-2", "0.01"),
        ("tick", "0.05", "0.05"),
    ] {
        let config = price(key, value).unwrap_or_else(|e| panic!("{key} = {value}: {e}"));
        let spec = &config.instruments[0];
        let got = if key == "tick" {
            spec.tick
        } else {
            spec.reference_price
        };
        assert_eq!(got, dec(read), "{key} = {value}");
    }
    for (key, value) in [
        ("reference_price", "90.000000000000001"),
        ("reference_price", "90.0700000000000001"),
        ("tick", "0.010000000000000001"),
        ("reference_price", "9.0000000000000001e1"),
    ] {
        let error = price(key, value).expect_err(value);
        let ConfigError::Parse {
            line,
            key: at,
            message,
            ..
        } = &error
        else {
            panic!("{key} = {value}: {error:?}");
        };
        assert_eq!(*line, Some(line_of(MINIMAL, key)), "{error}");
        assert_eq!(at.as_deref(), Some(&*format!("instruments[0].{key}")));
        assert!(
            message.contains(&format!("the float {value} is read as"))
                && message.contains(&format!("decimal string, \"{value}\"")),
            "{message}"
        );
    }
    // Cash refuses a float whatever it is, 1e3 and 1e20 alike.
    for cash in ["1e3", "1e20"] {
        let error = ServerConfig::from_toml_str(&with_account(&format!("cash = {cash}")));
        assert!(
            matches!(&error, Err(ConfigError::Parse { message, .. }) if message.contains("as a string")),
            "{error:?}"
        );
    }
}
