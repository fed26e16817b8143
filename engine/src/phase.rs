//! Trading phases of an instrument.

use serde::{Deserialize, Serialize};

/// What an instrument's book accepts right now. Phase changes are commands
/// ([`crate::Command::SetPhase`]), so they are journaled and replayed like
/// orders; the engine never looks at a clock to decide the phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Phase {
    /// Outside trading hours: new orders and amends are rejected.
    #[default]
    Closed = 0,
    /// Continuous trading: everything is accepted.
    Continuous = 1,
    /// The midday break: cancels are accepted, new orders and amends are not.
    Break = 2,
    /// Halted by the exchange: cancels are accepted, new orders and amends
    /// are not. A halt does not extend the session.
    Halted = 3,
}

impl Phase {
    /// Whether new orders and amends are accepted.
    #[must_use]
    #[inline]
    pub const fn accepts_orders(self) -> bool {
        matches!(self, Self::Continuous)
    }
}
