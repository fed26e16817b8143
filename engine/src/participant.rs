//! Who an account belongs to, as the instruments' eligibility rules name
//! them. On its own, below both accounts and instruments, which use it.

use serde::{Deserialize, Serialize};

/// The kind of participant an account belongs to; instruments list which
/// kinds may trade them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum ParticipantType {
    /// A key emitting entity (重点排放单位) with a compliance obligation.
    ComplianceEntity = 0,
    /// An institution: a legal person or organisation without an obligation.
    Institution = 1,
    /// A natural person.
    Individual = 2,
}

impl ParticipantType {
    /// The name a config writes (`"compliance_entity"`, `"institution"`,
    /// `"individual"`), serde's.
    #[must_use]
    pub const fn config_name(self) -> &'static str {
        match self {
            Self::ComplianceEntity => "compliance_entity",
            Self::Institution => "institution",
            Self::Individual => "individual",
        }
    }
}
