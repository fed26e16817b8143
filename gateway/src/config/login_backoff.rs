//! `[server.login_backoff]`: how failed logins are slowed, then refused
//! (`gateway/src/backoff.rs`, `docs/PROTOCOL.md`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[server.login_backoff]`: the back-off of failed logins, per source
/// address and per broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginBackoffSettings {
    /// Failures answered without delay.
    pub free_failures: u32,
    /// The delay of the first failure after the free ones, in ms; each
    /// next one doubles it.
    pub first_delay_ms: u64,
    /// The longest delay, in ms.
    pub max_delay_ms: u64,
    /// Failures at which the answer becomes 417 and the address is
    /// refused.
    pub refuse_after: u32,
    /// Failures are forgotten this long after the last one, in ms.
    pub forget_after_ms: u64,
}

impl Default for LoginBackoffSettings {
    fn default() -> Self {
        Self {
            free_failures: 3,
            first_delay_ms: 50,
            max_delay_ms: 1_000,
            refuse_after: 8,
            forget_after_ms: 60_000,
        }
    }
}

impl LoginBackoffSettings {
    /// `first_delay_ms` as a duration.
    #[must_use]
    pub const fn first_delay(&self) -> Duration {
        Duration::from_millis(self.first_delay_ms)
    }

    /// `max_delay_ms` as a duration.
    #[must_use]
    pub const fn max_delay(&self) -> Duration {
        Duration::from_millis(self.max_delay_ms)
    }

    /// `forget_after_ms` as a duration.
    #[must_use]
    pub const fn forget_after(&self) -> Duration {
        Duration::from_millis(self.forget_after_ms)
    }
}
