//! Amounts of CNY as people write them, in a config, on a command line or
//! in a batch file: digits, with at most one point and digits after it
//! (`"1000"`, `"1000.5"`, `"97.49"`), and a leading `-` (refused later, by
//! name, where an amount must be positive). Anything looser is a likely
//! typo that a general decimal parser would read as something else than
//! written: `"+1000"`, `" 1000"`, `"1_000.00"`, `"1000."`, `".50"`,
//! `"1e6"`.

use std::fmt;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::Deserialize;

/// A text that is not an amount of CNY as [`parse_cny`] reads one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an amount of CNY: digits with at most one point, such as \"1000.00\"")]
pub struct NotCny(pub String);

/// Reads `text` as an amount of CNY, exactly (see the module docs).
///
/// # Errors
/// [`NotCny`] for anything but digits with at most one point (and a
/// leading `-`), or a number too large for a [`Decimal`].
pub fn parse_cny(text: &str) -> Result<Decimal, NotCny> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return Err(NotCny(text.to_owned()));
    }
    text.parse().map_err(|_| NotCny(text.to_owned()))
}

/// Deserializes a [`Decimal`] written as a string ([`parse_cny`]'s form) or
/// a number; a float is read as `rust_decimal` reads one (a config checks
/// that it reads as written).
///
/// # Errors
/// The deserializer's error, naming what was found.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    d.deserialize_any(Cny { floats: true })
}

/// [`deserialize`] that refuses a float: `0.1` as a float is not 0.1.
///
/// # Errors
/// As [`deserialize`], and for a float.
pub fn deserialize_without_floats<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    d.deserialize_any(Cny { floats: false })
}

/// What [`deserialize`] and [`deserialize_without_floats`] take.
struct Cny {
    floats: bool,
}

impl Visitor<'_> for Cny {
    type Value = Decimal;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an amount of CNY as a string of digits with at most one point, e.g. \"1000000.00\", or a whole number")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        parse_cny(v).map_err(|_| E::invalid_value(Unexpected::Str(v), &self))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        if !self.floats {
            return Err(E::invalid_type(Unexpected::Float(v), &self));
        }
        <Decimal as Deserialize>::deserialize(de::value::F64Deserializer::<E>::new(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_with_at_most_one_point_and_nothing_else() {
        for (text, cny) in [
            ("1000", "1000"),
            ("1000.5", "1000.5"),
            ("97.49", "97.49"),
            ("-1.00", "-1.00"),
            ("0.001", "0.001"),
        ] {
            assert_eq!(parse_cny(text), Ok(cny.parse().unwrap()), "{text}");
        }
        for typo in [
            "", "+1000", " 1000", "1000 ", "1_000.00", "1000.", ".50", "1e6", "1,000.00", "1.0.0",
            "-", "--1", "１０",
        ] {
            assert_eq!(parse_cny(typo), Err(NotCny(typo.to_owned())), "{typo}");
        }
        assert!(parse_cny("99999999999999999999999999999999").is_err());
    }
}
