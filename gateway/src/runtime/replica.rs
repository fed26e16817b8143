//! The snapshot thread's own copy of the engine, kept up from the journal.
//!
//! A snapshot is the engine's state after one entry. Copying the live
//! engine's state on the engine thread stopped every broker for as long as
//! the copy took, which grows with the resting orders: 4 ms with 100,000
//! of them, 218 ms with 1,000,000 (BENCHMARKS.md, *Snapshots off the
//! engine thread*). Instead the snapshot thread keeps a replica: a copy of
//! the engine made once at start, which follows the journal entry by entry
//! ([`cetx_engine::journal::JournalFollower`]) and takes each entry's
//! events as recovery does ([`Engine::replay`]). A snapshot after entry
//! `seq` is the replica's state once it has taken `seq`, which is durable
//! by then. Reading the journal also hands over the record the snapshot is
//! tied to, so its segment is not read again to find it.
//!
//! Between snapshots the replica takes what the journal already holds
//! ([`Replica::catch_up`]), so that its work is spread out rather than
//! done at once when a snapshot or the server's stop asks for it. It never
//! goes past an entry a snapshot may be asked for ([`snapshot_due`]): it
//! waits there for that snapshot, or for a later one if that one was
//! skipped.

use std::path::Path;
use std::time::Duration;

use cetx_engine::journal::{JournalFollower, Tie};
use cetx_engine::{Command, Engine, EngineState, Event};

/// How long the replica waits for an entry that is already durable
/// before it says the journal does not hold it.
const DURABLE_WAIT: Duration = Duration::from_secs(10);

/// Whether a snapshot is taken after entry `seq` of `command`: every
/// `every` entries, and after each end of day (the eve of the next day,
/// which a restart and a registry's `cetx replay --from-snapshot` start
/// from), unless snapshots are off (`every` is `u64::MAX`).
pub(super) fn snapshot_due(seq: u64, command: &Command, every: u64) -> bool {
    seq.is_multiple_of(every) || (matches!(command, Command::EndOfDay { .. }) && every != u64::MAX)
}

/// The replica: see the module docs.
pub(super) struct Replica {
    engine: Engine,
    follower: JournalFollower,
    /// `journal.snapshot_every`: where the replica stops catching up.
    snapshot_every: u64,
    /// Whether the entry taken last is one a snapshot may be asked for.
    at_snapshot: bool,
    /// The events of the entry being taken, one vector reused.
    events: Vec<Event>,
    /// Why the replica stopped following, if it did: no snapshot is
    /// written after that.
    broken: Option<String>,
}

impl Replica {
    /// A replica of `engine`, whose next entry in the journal in `dir` is
    /// `next_seq`, for snapshots as [`snapshot_due`] says with `every`.
    pub(super) fn new(engine: Engine, dir: &Path, next_seq: u64, every: u64) -> Self {
        Self {
            engine,
            follower: JournalFollower::new(dir, next_seq),
            snapshot_every: every,
            at_snapshot: false,
            events: Vec::new(),
            broken: None,
        }
    }

    /// The entry the replica has taken last (0: none).
    pub(super) fn taken(&self) -> u64 {
        self.follower.next_seq() - 1
    }

    /// The engine's state after entry `seq`, and the journal record of
    /// that entry, once the replica has taken every entry up to it.
    ///
    /// # Errors
    /// A sentence: the replica is past `seq`, the journal does not hold it
    /// within [`DURABLE_WAIT`] or cannot be read, or an entry does not
    /// replay onto the replica (the live engine decided otherwise than the
    /// replica would have, a defect). Each but the first leaves the
    /// replica behind the journal, so every later call fails with it too.
    pub(super) fn after(&mut self, seq: u64) -> Result<(Tie, EngineState), String> {
        if let Some(why) = &self.broken {
            return Err(format!(
                "the snapshot thread's engine stopped following the journal: {why}"
            ));
        }
        let taken = self.taken();
        if seq < taken {
            return Err(format!(
                "the snapshot thread's engine has taken entry {taken}, past {seq}"
            ));
        }
        while self.follower.next_seq() <= seq {
            self.take_next(DURABLE_WAIT)?;
        }
        let tie = self.follower.tie().ok_or("no journal record was read")?;
        // This snapshot is served: catching up goes on past it.
        self.at_snapshot = false;
        Ok((tie, self.engine.state()))
    }

    /// Takes the entries the journal holds now, up to `most` of them, and
    /// none past one a snapshot may be asked for. Returns whether it took
    /// `most`: more may be waiting.
    pub(super) fn catch_up(&mut self, most: usize) -> bool {
        for _ in 0..most {
            if self.broken.is_some() || self.at_snapshot {
                return false;
            }
            match self.take_next(Duration::ZERO) {
                Ok(true) => {}
                Ok(false) => return false,
                Err(why) => {
                    tracing::error!(%why, "the snapshot thread's engine stopped following the journal: no snapshot is written until the server restarts");
                    return false;
                }
            }
        }
        true
    }

    /// Takes the next entry of the journal, waiting for it at most
    /// `wait`; whether there was one. A failure breaks the replica.
    fn take_next(&mut self, wait: Duration) -> Result<bool, String> {
        let expected = self.follower.next_seq();
        self.events.clear();
        let taken = match self.follower.next_timeout_into(wait, &mut self.events) {
            Ok(None) if wait.is_zero() => return Ok(false),
            Ok(None) => Err(format!(
                "entry {expected} is durable but not in the journal after {} s",
                wait.as_secs()
            )),
            Ok(Some((stamp, command))) => self
                .engine
                .replay(stamp, &command, &self.events)
                .map(|()| snapshot_due(stamp.seq, &command, self.snapshot_every))
                .map_err(|e| format!("entry {expected} does not replay: {e}")),
            Err(e) => Err(format!("reading entry {expected}: {e}")),
        };
        match taken {
            Ok(at_snapshot) => {
                self.at_snapshot = at_snapshot;
                Ok(true)
            }
            Err(why) => {
                self.broken = Some(why.clone());
                Err(why)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cetx_engine::journal::{JournalConfig, JournalWriter};
    use cetx_engine::{EngineConfig, InstrumentId, InstrumentSpec, OrderId, Stamp};
    use rust_decimal::Decimal;

    /// Entries 1..=`last` as a live engine decided them, in a journal of
    /// small segments: refused cancels, and an end of day at `eod`.
    /// Returns the engine before them.
    fn journal(dir: &Path, last: u64, eod: u64) -> Engine {
        let start = Engine::new(&EngineConfig {
            instruments: vec![InstrumentSpec::cea(2025, Decimal::new(90_00, 2))],
        })
        .unwrap();
        let mut live = start.clone();
        let config = JournalConfig {
            segment_bytes: 4096,
            ..JournalConfig::default()
        };
        let writer = JournalWriter::open(dir, 1, config).unwrap();
        let mut events = Vec::new();
        for seq in 1..=last {
            let command = if seq == eod {
                Command::EndOfDay { trading_date: None }
            } else {
                Command::Cancel {
                    instrument: InstrumentId(0),
                    order_id: OrderId(seq),
                    requester: None,
                }
            };
            let stamp = Stamp {
                seq,
                time_ns: i64::try_from(seq).unwrap(),
            };
            events.clear();
            live.apply(&command, stamp, &mut events);
            writer.append_blocking(stamp, &command, &events).unwrap();
        }
        writer.close().unwrap();
        start
    }

    /// Catching up stops at each entry a snapshot may be asked for (each
    /// 10th here, and the end of day at 23), and a snapshot there or past
    /// it is served; one before where the replica is is refused.
    #[test]
    fn catching_up_stops_where_a_snapshot_may_be_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let start = journal(dir.path(), 200, 23);
        let mut replica = Replica::new(start, dir.path(), 1, 10);
        assert!(!replica.catch_up(1_000));
        assert_eq!(replica.follower.next_seq(), 11, "stopped after entry 10");
        assert!(!replica.catch_up(1_000), "still waits at 10");
        assert_eq!(replica.follower.next_seq(), 11);
        // The snapshot at 10 is served, and catching up goes on, to 20.
        let (tie, _) = replica.after(10).unwrap();
        assert!(tie.offset > 0);
        assert!(!replica.catch_up(1_000));
        assert_eq!(replica.follower.next_seq(), 21);
        // The one at 20 was skipped: it waits there until a later one, the
        // end of day's, is asked for.
        assert!(!replica.catch_up(1_000));
        assert_eq!(replica.follower.next_seq(), 21);
        replica.after(23).unwrap();
        let past = replica.after(20).unwrap_err();
        assert!(past.contains("past 20"), "{past}");
        assert!(replica.catch_up(2), "took its most, 24 and 25");
        assert!(!replica.catch_up(1_000));
        assert_eq!(replica.follower.next_seq(), 31);
        // Far ahead, then the end of the journal.
        replica.after(150).unwrap();
        assert!(!replica.catch_up(1_000));
        assert_eq!(replica.follower.next_seq(), 161);
        replica.after(200).unwrap();
        assert!(!replica.catch_up(1_000), "nothing more");
        assert_eq!(replica.follower.next_seq(), 201);
        assert!(replica.broken.is_none());
    }

    /// A replica that cannot give a snapshot's state (here a damaged
    /// record it must read) fails that snapshot and leaves no file of it:
    /// no gateway state, no day file, no engine snapshot (JOURNAL.md,
    /// *Snapshot files*).
    #[test]
    fn a_snapshot_the_replica_cannot_give_leaves_no_file() {
        use super::super::router::{write_snapshots, Snapshot, SnapshotCounts};

        let dir = tempfile::tempdir().unwrap();
        let start = journal(dir.path(), 200, 23);
        let first = cetx_engine::journal::format::list_segments(dir.path()).unwrap()[0]
            .1
            .clone();
        let mut bytes = std::fs::read(&first).unwrap();
        bytes[200] ^= 0x40;
        std::fs::write(&first, bytes).unwrap();
        let before = files(dir.path());

        let (sender, snapshots) = crossbeam_channel::unbounded();
        sender
            .send(Snapshot {
                seq: 10,
                gateway: Box::default(),
                end_of_day: false,
            })
            .unwrap();
        drop(sender);
        let counts = SnapshotCounts::default();
        let replica = Replica::new(start, dir.path(), 1, 10);
        write_snapshots(dir.path(), Some(replica), &snapshots, 2, &counts);
        let stats = counts.stats();
        assert_eq!((stats.written, stats.failed), (0, 1), "{stats:?}");
        assert_eq!(files(dir.path()), before);
    }

    fn files(dir: &Path) -> Vec<std::ffi::OsString> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    }
}
