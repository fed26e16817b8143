//! The journal's binary encoding of the market's definition: an
//! [`InstrumentSpec`] and a [`Calendar`], carried by the
//! `ListInstrument`, `ReviseInstrument` and `SetCalendar` commands and by
//! snapshots.
//!
//! Same primitives as the rest of the journal ([`super::codec`]), fields
//! in declaration order. A decimal is exact: its `i128` mantissa and its
//! `u8` scale (0 to 28). A string is a `u32` byte count and UTF-8 bytes.
//! A time of day is its `u32` second after midnight, a date its `u32`
//! `YYYYMMDD`. `docs/JOURNAL.md` has the tables.

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};
use rust_decimal::Decimal;

use crate::calendar::{Calendar, Session};
use crate::instrument::{InstrumentKind, InstrumentSpec};

use super::codec::{Cursor, DecodeError, Put};

/// Smallest encoded [`InstrumentSpec`]: an empty symbol, CCER, every
/// option absent.
pub(crate) const MIN_SPEC_BYTES: usize =
    4 + 1 + DECIMAL_BYTES + 8 + 8 + 8 + 4 + DECIMAL_BYTES + 4 + 8;
const DECIMAL_BYTES: usize = 16 + 1;
const SESSION_BYTES: usize = 4 + 4;
const DATE_BYTES: usize = 4;
const SECONDS_PER_DAY: u32 = 86_400;

/// Appends the encoding of an instrument spec.
pub(crate) fn encode_spec(spec: &InstrumentSpec, out: &mut Vec<u8>) {
    put_str(out, &spec.symbol);
    match spec.kind {
        InstrumentKind::Cea { vintage } => {
            out.put_u8(0);
            out.put_u16(vintage);
        }
        InstrumentKind::Ccer {} => out.put_u8(1),
    }
    put_decimal(out, spec.tick);
    out.put_u64(spec.lot_t);
    out.put_u64(spec.min_order_t);
    out.put_u64(spec.max_order_t);
    out.put_u32(spec.band_bps);
    put_decimal(out, spec.reference_price);
    out.put_u32(spec.max_orders);
    match &spec.eligible {
        None => out.put_u8(0),
        Some(list) => {
            out.put_u8(1);
            out.put_count(list.len());
            for participant in list {
                out.put_u8(*participant as u8);
            }
        }
    }
    put_option(out, spec.position_limit_t, Put::put_u64);
    put_option(out, spec.large_holder_bps, Put::put_u32);
    put_option(out, spec.t_plus_one, Put::put_bool);
    put_option(out, spec.opposite_side_gap_days, Put::put_u32);
    put_option(out, spec.max_orders_per_account, Put::put_u32);
    put_option(out, spec.max_orders_per_broker, Put::put_u32);
    put_option(out, spec.max_price_levels, Put::put_u32);
}

/// Whether a spec sets one of the auction fields, which follow its other
/// fields only then (so that a spec without them keeps its bytes).
pub(crate) const fn has_auction_fields(spec: &InstrumentSpec) -> bool {
    spec.auctions.is_some() || spec.min_auction_t.is_some()
}

/// Appends a spec's auction fields: `auctions` and `min_auction_t`, each
/// an option.
pub(crate) fn encode_spec_auctions(spec: &InstrumentSpec, out: &mut Vec<u8>) {
    put_option(out, spec.auctions, Put::put_bool);
    put_option(out, spec.min_auction_t, Put::put_u64);
}

/// Reads a spec's auction fields into it.
pub(crate) fn read_spec_auctions(
    c: &mut Cursor<'_>,
    spec: &mut InstrumentSpec,
) -> Result<(), DecodeError> {
    spec.auctions = read_option(c, "InstrumentSpec.auctions", Cursor::bool)?;
    spec.min_auction_t = read_option(c, "InstrumentSpec.min_auction_t", Cursor::u64)?;
    Ok(())
}

/// Reads a command's spec, and its auction fields after it when the
/// command's tag says they follow.
pub(crate) fn read_command_spec(
    c: &mut Cursor<'_>,
    with_auctions: bool,
) -> Result<InstrumentSpec, DecodeError> {
    let mut spec = read_spec(c)?;
    if with_auctions {
        read_spec_auctions(c, &mut spec)?;
    }
    Ok(spec)
}

pub(crate) fn read_spec(c: &mut Cursor<'_>) -> Result<InstrumentSpec, DecodeError> {
    let symbol = read_str(c, "InstrumentSpec.symbol")?;
    let kind = match c.tag("InstrumentKind", |t| (t <= 1).then_some(t))? {
        0 => InstrumentKind::Cea {
            vintage: c.u16("InstrumentKind.vintage")?,
        },
        _ => InstrumentKind::Ccer {},
    };
    let tick = read_decimal(c, "InstrumentSpec.tick")?;
    let lot_t = c.u64("InstrumentSpec.lot_t")?;
    let min_order_t = c.u64("InstrumentSpec.min_order_t")?;
    let max_order_t = c.u64("InstrumentSpec.max_order_t")?;
    let band_bps = c.u32("InstrumentSpec.band_bps")?;
    let reference_price = read_decimal(c, "InstrumentSpec.reference_price")?;
    let max_orders = c.u32("InstrumentSpec.max_orders")?;
    let eligible = if c.present("InstrumentSpec.eligible")? {
        let count = c.count("InstrumentSpec.eligible", 1)?;
        let mut list = Vec::with_capacity(count);
        for _ in 0..count {
            list.push(c.participant()?);
        }
        Some(list)
    } else {
        None
    };
    let position_limit_t = read_option(c, "InstrumentSpec.position_limit_t", Cursor::u64)?;
    let large_holder_bps = read_option(c, "InstrumentSpec.large_holder_bps", Cursor::u32)?;
    let t_plus_one = read_option(c, "InstrumentSpec.t_plus_one", Cursor::bool)?;
    let opposite_side_gap_days =
        read_option(c, "InstrumentSpec.opposite_side_gap_days", Cursor::u32)?;
    let max_orders_per_account =
        read_option(c, "InstrumentSpec.max_orders_per_account", Cursor::u32)?;
    let max_orders_per_broker =
        read_option(c, "InstrumentSpec.max_orders_per_broker", Cursor::u32)?;
    let max_price_levels = read_option(c, "InstrumentSpec.max_price_levels", Cursor::u32)?;
    Ok(InstrumentSpec {
        symbol,
        kind,
        tick,
        lot_t,
        min_order_t,
        max_order_t,
        band_bps,
        reference_price,
        max_orders,
        eligible,
        position_limit_t,
        large_holder_bps,
        t_plus_one,
        opposite_side_gap_days,
        max_orders_per_account,
        max_orders_per_broker,
        max_price_levels,
        auctions: None,
        min_auction_t: None,
    })
}

/// Appends the encoding of a calendar.
pub(crate) fn encode_calendar(calendar: &Calendar, out: &mut Vec<u8>) {
    out.put_u32(calendar.utc_offset_s.cast_unsigned());
    out.put_count(calendar.sessions.len());
    for session in &calendar.sessions {
        out.put_u32(session.open.num_seconds_from_midnight());
        out.put_u32(session.close.num_seconds_from_midnight());
    }
    out.put_count(calendar.holidays.len());
    for date in &calendar.holidays {
        out.put_u32(yyyymmdd(*date));
    }
}

pub(crate) fn read_calendar(c: &mut Cursor<'_>) -> Result<Calendar, DecodeError> {
    let utc_offset_s = c.u32("Calendar.utc_offset_s")?.cast_signed();
    let count = c.count("Calendar.sessions", SESSION_BYTES)?;
    let mut sessions = Vec::with_capacity(count);
    for _ in 0..count {
        sessions.push(Session {
            open: read_time(c, "Session.open")?,
            close: read_time(c, "Session.close")?,
        });
    }
    let count = c.count("Calendar.holidays", DATE_BYTES)?;
    let mut holidays = std::collections::BTreeSet::new();
    for _ in 0..count {
        let offset = c.pos();
        let value = c.u32("Calendar.holidays")?;
        let date = from_yyyymmdd(value).ok_or(DecodeError::InvalidValue {
            what: "Calendar.holidays",
            value: value.into(),
            offset,
        })?;
        holidays.insert(date);
    }
    Ok(Calendar {
        utc_offset_s,
        sessions,
        holidays,
    })
}

/// A date as the number `YYYYMMDD`.
#[must_use]
pub(crate) fn yyyymmdd(date: NaiveDate) -> u32 {
    let year = u32::try_from(date.year()).unwrap_or(0);
    year * 10_000 + date.month() * 100 + date.day()
}

fn from_yyyymmdd(value: u32) -> Option<NaiveDate> {
    let year = i32::try_from(value / 10_000).ok()?;
    NaiveDate::from_ymd_opt(year, value / 100 % 100, value % 100)
}

pub(crate) fn read_time(c: &mut Cursor<'_>, what: &'static str) -> Result<NaiveTime, DecodeError> {
    let offset = c.pos();
    let seconds = c.u32(what)?;
    (seconds < SECONDS_PER_DAY)
        .then(|| NaiveTime::from_num_seconds_from_midnight_opt(seconds, 0))
        .flatten()
        .ok_or(DecodeError::InvalidValue {
            what,
            value: seconds.into(),
            offset,
        })
}

fn put_decimal(out: &mut Vec<u8>, value: Decimal) {
    out.put_i128(value.mantissa());
    out.put_u8(u8::try_from(value.scale()).expect("a decimal's scale is at most 28"));
}

fn read_decimal(c: &mut Cursor<'_>, what: &'static str) -> Result<Decimal, DecodeError> {
    let offset = c.pos();
    let mantissa = c.i128(what)?;
    let scale = c.u8(what)?;
    Decimal::try_from_i128_with_scale(mantissa, u32::from(scale)).map_err(|_| {
        DecodeError::InvalidValue {
            what,
            value: u64::from(scale),
            offset,
        }
    })
}

pub(crate) fn put_str(out: &mut Vec<u8>, value: &str) {
    out.put_count(value.len());
    out.extend_from_slice(value.as_bytes());
}

pub(crate) fn read_str(c: &mut Cursor<'_>, what: &'static str) -> Result<String, DecodeError> {
    let offset = c.pos();
    let len = c.count(what, 1)?;
    let bytes = c.bytes(len);
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::InvalidValue {
        what,
        value: len as u64,
        offset,
    })
}

fn put_option<T>(out: &mut Vec<u8>, value: Option<T>, put: impl FnOnce(&mut Vec<u8>, T)) {
    match value {
        None => out.put_u8(0),
        Some(v) => {
            out.put_u8(1);
            put(out, v);
        }
    }
}

fn read_option<'a, T>(
    c: &mut Cursor<'a>,
    what: &'static str,
    read: impl FnOnce(&mut Cursor<'a>, &'static str) -> Result<T, DecodeError>,
) -> Result<Option<T>, DecodeError> {
    if c.present(what)? {
        read(c, what).map(Some)
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_and_a_calendar_come_back_as_they_were() {
        let mut spec = InstrumentSpec::ccer(Decimal::new(8_500, 2));
        spec.tick = Decimal::new(5, 2);
        spec.eligible = Some(vec![crate::account::ParticipantType::Individual]);
        spec.position_limit_t = Some(1_000_000);
        spec.large_holder_bps = Some(500);
        spec.t_plus_one = Some(true);
        let mut calendar = Calendar::default();
        calendar
            .holidays
            .insert(NaiveDate::from_ymd_opt(2026, 10, 1).expect("a date"));
        let mut out = Vec::new();
        encode_spec(&spec, &mut out);
        encode_calendar(&calendar, &mut out);
        let mut c = Cursor::new(&out);
        assert_eq!(read_spec(&mut c).expect("a spec"), spec);
        assert_eq!(read_calendar(&mut c).expect("a calendar"), calendar);
        assert_eq!(c.remaining(), 0);
    }

    #[test]
    fn impossible_times_dates_and_scales_are_refused() {
        let mut out = Vec::new();
        out.put_u32(0);
        out.put_count(1);
        out.put_u32(SECONDS_PER_DAY);
        out.put_u32(0);
        out.put_count(0);
        assert!(matches!(
            read_calendar(&mut Cursor::new(&out)),
            Err(DecodeError::InvalidValue {
                what: "Session.open",
                ..
            })
        ));
        let mut out = Vec::new();
        out.put_u32(0);
        out.put_count(0);
        out.put_count(1);
        out.put_u32(2026_13_26);
        assert!(matches!(
            read_calendar(&mut Cursor::new(&out)),
            Err(DecodeError::InvalidValue {
                what: "Calendar.holidays",
                ..
            })
        ));
        let mut out = Vec::new();
        out.put_i128(1);
        out.put_u8(29);
        assert!(read_decimal(&mut Cursor::new(&out), "d").is_err());
    }
}
