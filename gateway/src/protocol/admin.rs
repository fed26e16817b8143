//! The operators' channel: what an operator and the server say to each
//! other on the `[admin]` listener. `docs/ADMIN.md` is the byte-by-byte
//! contract; the framing and encoding rules are the broker protocol's.
//!
//! An operator logs in with an id and secret of `[[operators]]` (a
//! broker's credentials are refused), then sends actions, each with its own
//! request id. Every action the server takes becomes a journaled engine
//! command, answered once durable with the entry's sequence number.

use cetx_engine::{Direction, ParticipantType, Status};
use serde::{Deserialize, Serialize};

use super::fields::{string_from_str, Secret};
use super::{check_len, FieldTooLong, Symbol, MAX_SECRET_LEN, MAX_SYMBOL_LEN, MAX_TEXT_LEN};

/// The version of this channel's messages.
pub const ADMIN_PROTOCOL_VERSION: u16 = 1;

/// Largest frame payload in either direction.
pub const MAX_ADMIN_FRAME: usize = 1024;

/// Longest broker name, in bytes.
pub const MAX_BROKER_NAME_LEN: usize = cetx_engine::NewBroker::MAX_NAME_LEN;

/// Longest transfer reference id, in bytes.
pub const MAX_REFERENCE_LEN: usize = cetx_engine::Transfer::MAX_REFERENCE_LEN;

/// What an operator sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminRequest {
    /// Tag 0. The first message of a connection.
    Login {
        /// [`ADMIN_PROTOCOL_VERSION`].
        protocol_version: u16,
        /// The operator's id.
        operator: u32,
        /// Its secret.
        secret: Secret,
    },
    /// Tag 1. Do something; answered by `Applied` or `Rejected` with the
    /// same `request_id`.
    Action {
        /// The operator's id for this request, echoed in the answer.
        request_id: u64,
        /// What to do.
        action: AdminAction,
    },
}

/// What an operator can do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminAction {
    /// Tag 0. Open an empty account for a broker of the config or one
    /// added.
    OpenAccount {
        /// The new account's id.
        account: u32,
        /// The broker that acts for it.
        broker: u32,
        /// Who owns it; decides what it may trade.
        participant: ParticipantType,
    },
    /// Tag 1. Move cash (no symbol; fen) or allowances (tonnes) into or out
    /// of an account, once per reference id.
    Transfer {
        /// The settlement bank's or the registry's reference id.
        #[serde(deserialize_with = "string_from_str")]
        reference: String,
        /// The account.
        account: u32,
        /// The instrument, for allowances; none for cash.
        symbol: Option<Symbol>,
        /// In or out.
        direction: Direction,
        /// Fen or tonnes; positive.
        amount: u64,
    },
    /// Tag 2. Halt an instrument: no order is taken until `Resume`; the
    /// calendar's phases pass it by.
    Halt {
        /// The instrument.
        #[serde(deserialize_with = "string_from_str")]
        symbol: Symbol,
    },
    /// Tag 3. Resume a halted instrument in the phase the calendar gives
    /// it now.
    Resume {
        /// The instrument.
        #[serde(deserialize_with = "string_from_str")]
        symbol: Symbol,
    },
    /// Tag 4. Set an instrument's reference price, and with it the band
    /// (while it is not trading and its book is empty).
    SetReferencePrice {
        /// The instrument.
        #[serde(deserialize_with = "string_from_str")]
        symbol: Symbol,
        /// The price in ticks of 0.01 CNY.
        price_ticks: i64,
    },
    /// Tag 5. Onboard a broker: it may log in at once. The server keeps
    /// a salted hash of the secret, never the secret.
    AddBroker {
        /// Its id, not the config's or another broker's.
        broker: u32,
        /// A name for logs and reports, 1 to [`MAX_BROKER_NAME_LEN`] bytes.
        #[serde(deserialize_with = "string_from_str")]
        name: String,
        /// Its login secret, 1 to 64 bytes.
        secret: Secret,
    },
    /// Tag 6. Suspend, reinstate or close a broker.
    SetBrokerStatus {
        /// The broker.
        broker: u32,
        /// Its new standing.
        status: Status,
    },
    /// Tag 7. Suspend, reinstate or close an account.
    SetAccountStatus {
        /// The account.
        account: u32,
        /// Its new standing.
        status: Status,
    },
    /// Tag 8: reserved (instrument listing); this build refuses it.
    #[doc(hidden)]
    Reserved8,
    /// Tag 9: reserved, as tag 8.
    #[doc(hidden)]
    Reserved9,
    /// Tag 10. Confirm a block deal that waits for the exchange's
    /// confirmation (CCER): it settles.
    ConfirmBlock {
        /// The deal's id (`BlockDeal.deal_id`).
        deal_id: u64,
    },
    /// Tag 11. Refuse a block deal that waits for the exchange's
    /// confirmation: both sides get their reservations back.
    RefuseBlock {
        /// The deal's id.
        deal_id: u64,
    },
}

/// What the server sends an operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminReply {
    /// Tag 0. The login is accepted.
    LoggedIn {
        /// The operator's id.
        operator: u32,
    },
    /// Tag 1. The action was applied: journaled at `seq`, durable.
    Applied {
        /// The request's id.
        request_id: u64,
        /// The journal entry's sequence number.
        seq: u64,
    },
    /// Tag 2. The action was refused and changed nothing.
    Rejected {
        /// The request's id.
        request_id: u64,
        /// The journal entry of the refusal (the engine's), or 0 when the
        /// gateway refused it before the engine (an unknown symbol).
        seq: u64,
        /// The reject code (`docs/ENGINE.md`, `docs/PROTOCOL.md`).
        reason: u16,
        /// The reason in words.
        #[serde(deserialize_with = "string_from_str")]
        text: String,
    },
    /// Tag 3. The connection is refused or closed after this (a failed
    /// login, a malformed frame, a message out of place).
    Error {
        /// The reject code.
        reason: u16,
        /// The reason in words.
        #[serde(deserialize_with = "string_from_str")]
        text: String,
    },
}

impl AdminRequest {
    /// How many variants the enum has.
    pub const TAG_COUNT: u32 = 2;

    /// Checks every string against its maximum length.
    ///
    /// # Errors
    /// The first field that is too long.
    pub fn validate(&self) -> Result<(), FieldTooLong> {
        match self {
            Self::Login { secret, .. } => check_len("secret", secret.expose(), MAX_SECRET_LEN),
            Self::Action { action, .. } => match action {
                AdminAction::OpenAccount { .. }
                | AdminAction::SetBrokerStatus { .. }
                | AdminAction::SetAccountStatus { .. }
                | AdminAction::Reserved8
                | AdminAction::Reserved9
                | AdminAction::ConfirmBlock { .. }
                | AdminAction::RefuseBlock { .. } => Ok(()),
                AdminAction::AddBroker { name, secret, .. } => {
                    check_len("name", name, MAX_BROKER_NAME_LEN)?;
                    check_len("secret", secret.expose(), MAX_SECRET_LEN)
                }
                AdminAction::Transfer {
                    reference, symbol, ..
                } => {
                    check_len("reference", reference, MAX_REFERENCE_LEN)?;
                    symbol
                        .as_ref()
                        .map_or(Ok(()), |s| check_len("symbol", s, MAX_SYMBOL_LEN))
                }
                AdminAction::Halt { symbol }
                | AdminAction::Resume { symbol }
                | AdminAction::SetReferencePrice { symbol, .. } => {
                    check_len("symbol", symbol, MAX_SYMBOL_LEN)
                }
            },
        }
    }
}

impl AdminReply {
    /// How many variants the enum has.
    pub const TAG_COUNT: u32 = 4;

    /// Checks every string against its maximum length.
    ///
    /// # Errors
    /// The first field that is too long.
    pub fn validate(&self) -> Result<(), FieldTooLong> {
        match self {
            Self::Rejected { text, .. } | Self::Error { text, .. } => {
                check_len("text", text, MAX_TEXT_LEN)
            }
            Self::LoggedIn { .. } | Self::Applied { .. } => Ok(()),
        }
    }
}
