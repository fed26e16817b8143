//! Stable numeric reasons for rejecting a command.
//!
//! Codes are grouped by hundreds: 100s validation, 200s risk, 300s book and
//! session, 400s protocol and authentication. They are part of the wire
//! protocol and the journal: never renumber one; retire a code by leaving a
//! gap.

use serde::{Deserialize, Serialize};

/// Why a command was rejected. A rejected command changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u16)]
pub enum RejectReason {
    /// The instrument id names no configured instrument.
    UnknownInstrument = 101,
    /// The price is not a multiple of the instrument's tick.
    PriceNotOnTick = 102,
    /// The price is outside today's band around the reference price.
    PriceOutsideBand = 103,
    /// The quantity is zero.
    QuantityZero = 104,
    /// The quantity is not a whole number of lots.
    QuantityNotWholeLots = 105,
    /// The quantity is below the instrument's minimum order size.
    QuantityBelowMinimum = 106,
    /// The quantity is above the instrument's maximum order size.
    QuantityAboveMaximum = 107,
    /// The order id is not above every id accepted before, so it may have
    /// been used already.
    DuplicateOrderId = 301,
    /// The order to cancel or amend is unknown, or already filled, cancelled
    /// or expired.
    UnknownOrder = 302,
}

impl RejectReason {
    /// The stable numeric code.
    #[must_use]
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// Every reason, in code order.
    pub const ALL: [Self; 9] = [
        Self::UnknownInstrument,
        Self::PriceNotOnTick,
        Self::PriceOutsideBand,
        Self::QuantityZero,
        Self::QuantityNotWholeLots,
        Self::QuantityBelowMinimum,
        Self::QuantityAboveMaximum,
        Self::DuplicateOrderId,
        Self::UnknownOrder,
    ];

    /// The reason with this code, if there is one.
    #[must_use]
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::RejectReason;

    #[test]
    fn codes_are_pinned() {
        // These numbers are on the wire and in journals: this table may grow,
        // but a line may never change.
        let pinned: Vec<u16> = RejectReason::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(pinned, [101, 102, 103, 104, 105, 106, 107, 301, 302]);
        for reason in RejectReason::ALL {
            assert_eq!(RejectReason::from_code(reason.code()), Some(reason));
        }
        assert_eq!(RejectReason::from_code(100), None);
    }
}
