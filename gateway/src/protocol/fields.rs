//! The field types of the protocol's messages: the small enums that are `u32`
//! tags on the wire, the broker's secret, and strings that decode without
//! allocating before their length is checked.
//!
//! They are re-exported by [`crate::protocol`]; use them from there.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A small enum's tag on the wire was not one of its variants.
///
/// The codec turns this into its own `DecodeError::UnknownTag`. It travels
/// through serde as a custom error message, so [`UnknownTag::parse`] reads
/// back exactly what [`fmt::Display`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownTag {
    /// The enum being decoded, e.g. `"Side"`.
    pub type_name: &'static str,
    /// The tag found on the wire.
    pub tag: u32,
}

/// Enums whose unknown tags [`UnknownTag::parse`] recognises.
const TAGGED_ENUMS: [&str; 4] = ["Side", "OrderType", "TimeInForce", "RequestKind"];

impl UnknownTag {
    /// Reads back a message written by this type's `Display`, if it is one.
    #[must_use]
    pub fn parse(message: &str) -> Option<Self> {
        let rest = message.strip_prefix("unknown ")?;
        let (type_name, tag) = rest.split_once(" tag ")?;
        let type_name = TAGGED_ENUMS.into_iter().find(|n| *n == type_name)?;
        Some(Self {
            type_name,
            tag: tag.parse().ok()?,
        })
    }
}

impl fmt::Display for UnknownTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} tag {}", self.type_name, self.tag)
    }
}

/// Declares a fieldless enum that is a `u32` tag on the wire (the same bytes
/// bincode writes for a derived enum's variant index), with a decoder that
/// names the enum and the tag when the tag is unknown.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $tag:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $tag, )+
        }

        impl $name {
            /// Every variant, in tag order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The tag on the wire.
            #[must_use]
            pub const fn tag(self) -> u32 {
                self as u32
            }

            /// The variant with this tag.
            ///
            /// # Errors
            ///
            /// [`UnknownTag`] when no variant has it.
            pub const fn from_tag(tag: u32) -> Result<Self, UnknownTag> {
                match tag {
                    $( $tag => Ok(Self::$variant), )+
                    _ => Err(UnknownTag { type_name: stringify!($name), tag }),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_u32(self.tag())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let tag = u32::deserialize(deserializer)?;
                Self::from_tag(tag).map_err(de::Error::custom)
            }
        }
    };
}

wire_enum! {
    /// Buy or sell.
    Side {
        /// Buy.
        Buy = 0,
        /// Sell.
        Sell = 1,
    }
}

wire_enum! {
    /// Limit or market.
    OrderType {
        /// Trades at its limit price or better.
        Limit = 0,
        /// Trades at any price inside today's band; never rests.
        Market = 1,
    }
}

wire_enum! {
    /// How long the unfilled part of an order lives.
    TimeInForce {
        /// Rests until filled, cancelled or the end of the trading day.
        Day = 0,
        /// Immediate or cancel: what does not trade at once is cancelled.
        Ioc = 1,
        /// Fill or kill: trades its whole quantity at once, or nothing.
        Fok = 2,
    }
}

wire_enum! {
    /// Which kind of request an `OrderRejected` answers.
    RequestKind {
        /// A `NewOrder`: the order does not exist.
        NewOrder = 0,
        /// A `Cancel`: the order, if it exists, is unchanged.
        Cancel = 1,
        /// An `Amend`: the order, if it exists, is unchanged.
        Amend = 2,
        /// A `Take`: nothing traded.
        Take = 3,
    }
}

wire_enum! {
    /// An instrument's trading phase, on the market-data feed.
    TradingPhase {
        /// Outside trading hours.
        Closed = 0,
        /// Continuous trading.
        Continuous = 1,
        /// The midday break.
        Break = 2,
        /// Halted by the exchange.
        Halted = 3,
    }
}

impl From<cetx_engine::Phase> for TradingPhase {
    fn from(phase: cetx_engine::Phase) -> Self {
        match phase {
            cetx_engine::Phase::Closed => Self::Closed,
            cetx_engine::Phase::Continuous => Self::Continuous,
            cetx_engine::Phase::Break => Self::Break,
            cetx_engine::Phase::Halted => Self::Halted,
        }
    }
}

impl From<TradingPhase> for cetx_engine::Phase {
    fn from(phase: TradingPhase) -> Self {
        match phase {
            TradingPhase::Closed => Self::Closed,
            TradingPhase::Continuous => Self::Continuous,
            TradingPhase::Break => Self::Break,
            TradingPhase::Halted => Self::Halted,
        }
    }
}

/// Converts between a protocol enum and the engine's enum of the same name,
/// variant by variant.
macro_rules! engine_conversions {
    ($name:ident { $($variant:ident),+ }) => {
        impl From<$name> for cetx_engine::$name {
            fn from(value: $name) -> Self {
                match value {
                    $( $name::$variant => Self::$variant, )+
                }
            }
        }

        impl From<cetx_engine::$name> for $name {
            fn from(value: cetx_engine::$name) -> Self {
                match value {
                    $( cetx_engine::$name::$variant => Self::$variant, )+
                }
            }
        }
    };
}

engine_conversions!(Side { Buy, Sell });
engine_conversions!(OrderType { Limit, Market });
engine_conversions!(TimeInForce { Day, Ioc, Fok });

/// A broker's shared secret. On the wire it is a plain string; in memory its
/// `Debug` hides it, so a logged `Login` never shows it, and `==` compares
/// every byte whatever the first difference, so the time it takes does not
/// tell how much of a guess was right.
#[derive(Clone, Eq, Serialize, Deserialize)]
pub struct Secret(#[serde(deserialize_with = "string_from_str")] String);

impl Secret {
    /// Wraps a secret.
    #[must_use]
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for checking it against the configured one.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is this secret. Every byte is compared whatever
    /// the first difference, so the time taken does not tell how much of a
    /// guess was right.
    #[must_use]
    pub fn matches(&self, candidate: &Self) -> bool {
        let secret = self.0.as_bytes();
        let candidate = candidate.0.as_bytes();
        let mut diff = u8::from(secret.len() != candidate.len());
        for (i, &c) in candidate.iter().enumerate() {
            diff |= c ^ secret.get(i).copied().unwrap_or(!c);
        }
        diff == 0
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        let (secret, candidate) = (self.0.as_bytes(), other.0.as_bytes());
        let mut diff = u8::from(secret.len() != candidate.len());
        for (i, &c) in candidate.iter().enumerate() {
            diff |= c ^ secret.get(i).copied().unwrap_or(!c);
        }
        diff == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Deserializes a string (a `String` or a [`super::Symbol`]) through
/// `deserialize_str`, so that a decoder that can lend the bytes (the codec
/// decodes from the frame's slice) checks the string's length against the
/// bytes actually present before anything is allocated.
/// `deserialize_string` would allocate the claimed length first.
pub(super) fn string_from_str<'de, D, S>(deserializer: D) -> Result<S, D::Error>
where
    D: Deserializer<'de>,
    S: for<'a> From<&'a str>,
{
    struct StrVisitor<S>(std::marker::PhantomData<S>);

    impl<S: for<'a> From<&'a str>> Visitor<'_> for StrVisitor<S> {
        type Value = S;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a UTF-8 string")
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<S, E> {
            Ok(S::from(value))
        }
    }

    deserializer.deserialize_str(StrVisitor(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tag_reads_back_what_it_writes() {
        for type_name in TAGGED_ENUMS {
            let error = UnknownTag { type_name, tag: 7 };
            assert_eq!(UnknownTag::parse(&error.to_string()), Some(error));
        }
        assert_eq!(UnknownTag::parse("unknown Foo tag 7"), None);
        assert_eq!(UnknownTag::parse("unknown Side tag x"), None);
        assert_eq!(
            Side::from_tag(2).unwrap_err().to_string(),
            "unknown Side tag 2"
        );
        assert_eq!(
            RequestKind::from_tag(4).unwrap_err().type_name,
            "RequestKind"
        );
    }

    #[test]
    fn tags_follow_variant_order() {
        for (i, side) in Side::ALL.iter().enumerate() {
            assert_eq!(side.tag() as usize, i);
        }
        for (i, t) in OrderType::ALL.iter().enumerate() {
            assert_eq!(t.tag() as usize, i);
        }
        for (i, t) in TimeInForce::ALL.iter().enumerate() {
            assert_eq!(t.tag() as usize, i);
        }
        for (i, t) in RequestKind::ALL.iter().enumerate() {
            assert_eq!(t.tag() as usize, i);
        }
    }

    #[test]
    fn engine_enums_convert_both_ways() {
        for &side in Side::ALL {
            assert_eq!(Side::from(cetx_engine::Side::from(side)), side);
        }
        assert_eq!(cetx_engine::Side::from(Side::Sell), cetx_engine::Side::Sell);
        for &t in OrderType::ALL {
            assert_eq!(OrderType::from(cetx_engine::OrderType::from(t)), t);
        }
        assert_eq!(
            cetx_engine::OrderType::from(OrderType::Market),
            cetx_engine::OrderType::Market
        );
        for &t in TimeInForce::ALL {
            assert_eq!(TimeInForce::from(cetx_engine::TimeInForce::from(t)), t);
        }
        assert_eq!(
            cetx_engine::TimeInForce::from(TimeInForce::Fok),
            cetx_engine::TimeInForce::Fok
        );
    }
}
