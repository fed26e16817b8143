//! The snapshot thread's own copy of the engine, kept up from the journal.
//!
//! A snapshot is the engine's state after one entry. Copying the live
//! engine's state on the engine thread stopped every broker for as long as
//! the copy took, which grows with the resting orders: 5 ms with 100,000
//! of them, 230 ms with 1,000,000 (BENCHMARKS.md, *Snapshots off the
//! engine thread*). Instead the snapshot thread keeps a replica: a copy of
//! the engine made once at start, which follows the journal entry by entry
//! ([`cetx_engine::journal::JournalFollower`]) and takes each entry's
//! events as recovery does ([`Engine::replay`]). A snapshot after entry
//! `seq` is the replica's state once it has taken `seq`, which is durable
//! by then. Reading the journal also hands over the record the snapshot is
//! tied to, so its segment is not read again to find it.

use std::path::Path;
use std::time::Duration;

use cetx_engine::journal::{JournalFollower, Tie};
use cetx_engine::{Engine, EngineState, Event};

/// How long the replica waits for an entry that is already durable
/// before it says the journal does not hold it.
const DURABLE_WAIT: Duration = Duration::from_secs(10);

/// The replica: see the module docs.
pub(super) struct Replica {
    engine: Engine,
    follower: JournalFollower,
    /// The events of the entry being taken, one vector reused.
    events: Vec<Event>,
    /// Why the replica stopped following, if it did: no snapshot is
    /// written after that.
    broken: Option<String>,
}

impl Replica {
    /// A replica of `engine`, whose next entry in the journal in `dir` is
    /// `next_seq`.
    pub(super) fn new(engine: Engine, dir: &Path, next_seq: u64) -> Self {
        Self {
            engine,
            follower: JournalFollower::new(dir, next_seq),
            events: Vec::new(),
            broken: None,
        }
    }

    /// The engine's state after entry `seq`, and the journal record of
    /// that entry, once the replica has taken every entry up to it.
    ///
    /// # Errors
    /// A sentence: `seq` is behind the replica, the journal does not hold
    /// it within [`DURABLE_WAIT`] or cannot be read, or an entry does not
    /// replay onto the replica (the live engine decided otherwise than the
    /// replica would have, a defect). Each but the first leaves the
    /// replica behind the journal, so every later call fails with it too.
    pub(super) fn after(&mut self, seq: u64) -> Result<(Tie, EngineState), String> {
        if let Some(why) = &self.broken {
            return Err(format!(
                "the snapshot thread's engine stopped following the journal: {why}"
            ));
        }
        if seq < self.follower.next_seq() {
            return Err(format!(
                "entry {seq} is behind the snapshot thread's engine, at {}",
                self.follower.next_seq()
            ));
        }
        while self.follower.next_seq() <= seq {
            if let Err(why) = self.take_next() {
                self.broken = Some(why.clone());
                return Err(why);
            }
        }
        let tie = self.follower.tie().ok_or("no journal record was read")?;
        Ok((tie, self.engine.state()))
    }

    /// Takes the next entry of the journal.
    fn take_next(&mut self) -> Result<(), String> {
        let expected = self.follower.next_seq();
        self.events.clear();
        let (stamp, command) = self
            .follower
            .next_timeout_into(DURABLE_WAIT, &mut self.events)
            .map_err(|e| format!("reading entry {expected}: {e}"))?
            .ok_or_else(|| {
                format!(
                    "entry {expected} is durable but not in the journal after {} s",
                    DURABLE_WAIT.as_secs()
                )
            })?;
        self.engine
            .replay(stamp, &command, &self.events)
            .map_err(|e| format!("entry {expected} does not replay: {e}"))
    }
}
