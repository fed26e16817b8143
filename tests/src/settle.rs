//! What a registry gets from a server's journal: `cetx replay --out DIR`'s
//! CSV reports, read back as text.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use cetx_engine::settlement::{run, Format, ReplayArgs};
use cetx_gateway::config::ServerConfig;

/// The CSV reports of one replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reports {
    /// `clearing.csv`.
    pub clearing: String,
    /// `days.csv`.
    pub days: String,
    /// `accounts.csv`.
    pub accounts: String,
    /// `auctions.csv`.
    pub auctions: String,
}

/// Replays the journal of the data directory `data` (its `journal`
/// folder) into CSV reports, reconciling it with the engine; with
/// `expected`, the journal's market must be that config's.
///
/// # Errors
/// The replay's failure: its exit code and message.
///
/// # Panics
/// When a temporary directory or a report cannot be read.
pub fn settle(data: &Path, expected: Option<&ServerConfig>) -> Result<Reports, (u8, String)> {
    let out = tempfile::tempdir().expect("temp dir");
    let args = ReplayArgs {
        journal: data.join("journal"),
        expected: expected.map(ServerConfig::market),
        day: None,
        from_seq: 0,
        out: Some(out.path().to_path_buf()),
        format: Format::Csv,
        follow: false,
        from_snapshot: false,
        now_ns: None,
    };
    run(
        &args,
        &mut Vec::new(),
        &mut Vec::new(),
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .map_err(|failure| (failure.exit_code(), failure.to_string()))?;
    let read = |name: &str| {
        std::fs::read_to_string(out.path().join(format!("{name}.csv"))).expect("a report")
    };
    Ok(Reports {
        clearing: read("clearing"),
        days: read("days"),
        accounts: read("accounts"),
        auctions: read("auctions"),
    })
}

/// [`settle`] of a journal that must settle.
///
/// # Panics
/// When the replay fails.
#[must_use]
pub fn settled(data: &Path) -> Reports {
    settle(data, None).unwrap_or_else(|(code, failure)| {
        panic!("the journal settles and reconciles: {failure} (exit code {code})")
    })
}
