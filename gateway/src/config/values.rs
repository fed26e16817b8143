//! How values may be written in a config, where serde's defaults would be
//! wrong or unkind: amounts of CNY (never a float; prices a float only
//! where it reads exactly as written), calendar dates and times
//! (a string or TOML's own date and time), a `[calendar]` table whose keys
//! may each be left out, and listen addresses (told, when a host name is
//! given, that only an IP address will do).

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;

use cetx_engine::{Calendar, Session};
use chrono::{NaiveDate, NaiveTime, Timelike};
use rust_decimal::Decimal;
use serde::de::{Error as _, MapAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};

/// The `[calendar]` table with every key optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarKeys {
    utc_offset_s: Option<i32>,
    sessions: Option<Vec<SessionKeys>>,
    holidays: Option<Holidays>,
}

/// One `[[calendar.sessions]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionKeys {
    open: LocalTime,
    close: LocalTime,
}

/// Reads `[calendar]`, filling each key left out from [`Calendar::default`],
/// so that a config may list only its holidays.
pub(super) fn calendar<'de, D: Deserializer<'de>>(d: D) -> Result<Calendar, D::Error> {
    let keys = CalendarKeys::deserialize(d)?;
    let default = Calendar::default();
    let sessions = keys.sessions.map(|list| {
        list.into_iter()
            .map(|s| Session {
                open: s.open.0,
                close: s.close.0,
            })
            .collect()
    });
    let holidays = keys.holidays.map(|h| h.0);
    Ok(Calendar {
        utc_offset_s: keys.utc_offset_s.unwrap_or(default.utc_offset_s),
        sessions: sessions.unwrap_or(default.sessions),
        holidays: holidays.unwrap_or(default.holidays),
    })
}

/// `calendar.holidays`: dates, each listed once. A date listed twice is
/// most likely a typo for another day, which would then trade.
struct Holidays(BTreeSet<NaiveDate>);

impl<'de> Deserialize<'de> for Holidays {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut holidays = BTreeSet::new();
        for LocalDate(date) in Vec::<LocalDate>::deserialize(d)? {
            if !holidays.insert(date) {
                return Err(D::Error::custom(format!(
                    "the holiday {date} is listed twice (a typo for another date?)"
                )));
            }
        }
        Ok(Self(holidays))
    }
}

/// A date, written `"2026-10-01"` or as a TOML local date `2026-10-01`.
struct LocalDate(NaiveDate);

impl<'de> Deserialize<'de> for LocalDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DateOrTime {
            expected: "a date, \"YYYY-MM-DD\"",
            parse: |s| s.parse().ok().map(Self),
        })
    }
}

/// A time of day in whole seconds, written `"09:30:00"` or as a TOML local
/// time `09:30:00`.
struct LocalTime(NaiveTime);

impl<'de> Deserialize<'de> for LocalTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DateOrTime {
            expected: "a time of day, \"HH:MM:SS\"",
            // A leap second (`23:59:60`) is no time a session can open or
            // close at.
            parse: |s| {
                NaiveTime::parse_from_str(s, "%H:%M:%S")
                    .ok()
                    .filter(|t| t.nanosecond() < 1_000_000_000)
                    .map(Self)
            },
        })
    }
}

/// Reads a date or a time from a string or from TOML's own date-time value,
/// which reaches serde as a one-entry map holding its text. Reading it here,
/// inside the value, keeps the value's position for an error.
struct DateOrTime<T> {
    expected: &'static str,
    parse: fn(&str) -> Option<T>,
}

impl<'de, T> Visitor<'de> for DateOrTime<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expected)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let text = match map.next_entry::<String, String>()? {
            Some((_, text)) if map.next_key::<String>()?.is_none() => text,
            _ => return Err(A::Error::invalid_type(Unexpected::Map, &self)),
        };
        self.visit_str(&text)
    }
}

/// Reads an address to listen on: an IP address and a port. Host names are
/// not resolved, and the error says so.
pub(super) fn listen<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    parse_addr(&text).map_err(D::Error::custom)
}

/// An IP address and a port, as a config or a flag gives one; the error
/// says that host names are not resolved.
///
/// # Errors
/// A sentence for any other text.
pub fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    text.trim().parse().map_err(|_| {
        format!(
            "{text:?} is not an IP address and port such as \"127.0.0.1:7878\" (host names are not resolved)"
        )
    })
}

/// The keys of an `[[instruments]]` entry that hold money, as written:
/// the rest of the file is ignored here.
#[derive(Deserialize)]
struct WrittenPrices {
    #[serde(default)]
    instruments: Vec<WrittenSpec>,
}

#[derive(Deserialize)]
struct WrittenSpec {
    tick: Option<toml::Spanned<toml::Value>>,
    reference_price: Option<toml::Spanned<toml::Value>>,
}

/// Refuses an instrument's `tick` or `reference_price` written as a TOML
/// float that was not read as exactly the number written: serde hands
/// over an `f64`, which holds about 16 significant digits, so
/// `90.000000000000001` was read as 90 without a word. A float that reads
/// exactly (`90.07`, `1e3`) is taken, as CONFIG.md has always said.
/// `config` is `text` as read.
pub(super) fn check_float_prices(
    text: &str,
    config: &super::ServerConfig,
) -> Result<(), super::ConfigError> {
    let Ok(written) = toml::from_str::<WrittenPrices>(text) else {
        // The whole file has been read already; this cannot fail.
        return Ok(());
    };
    for (spec, written) in config.instruments.iter().zip(&written.instruments) {
        let prices = [
            (spec.tick, &written.tick),
            (spec.reference_price, &written.reference_price),
        ];
        for (read, value) in prices {
            let Some(value) = value.as_ref().filter(|v| v.get_ref().is_float()) else {
                continue;
            };
            let literal = text[value.span()].replace('_', "");
            let exact = if literal.contains(['e', 'E']) {
                Decimal::from_scientific(&literal).ok()
            } else {
                literal.parse::<Decimal>().ok()
            };
            if exact != Some(read) {
                return Err(super::position::error_at(
                    text,
                    value.span().start,
                    format!(
                        "the float {literal} is read as {read}, not as written (a float holds about 16 digits): write money as a decimal string, \"{literal}\""
                    ),
                ));
            }
        }
    }
    Ok(())
}
