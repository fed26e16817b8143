//! A live engine and its replica, fed the live engine's events: the tests
//! that specify a rule through both (membership, transfer references)
//! share it.

use cetx_engine::{Command, Engine, Event, Stamp};

/// A live engine and a replica that replays its events.
pub struct Replicated {
    pub live: Engine,
    pub replica: Engine,
    /// The sequence number the next command is stamped with.
    pub seq: u64,
}

impl Replicated {
    /// `live`, whose commands so far took the sequence numbers before
    /// `seq`, and a replica restored from its state.
    pub fn new(live: Engine, seq: u64) -> Self {
        let replica = Engine::from_state(&live.state()).unwrap();
        Self { live, replica, seq }
    }

    /// Applies `command` live and replays its events on the replica; both
    /// keep their invariants and end in the same state.
    pub fn apply(&mut self, command: &Command) -> Vec<Event> {
        let stamp = Stamp {
            seq: self.seq,
            time_ns: 0,
        };
        self.seq += 1;
        let mut events = Vec::new();
        self.live.apply(command, stamp, &mut events);
        self.live.check_invariants();
        self.replica.replay(stamp, command, &events).unwrap();
        self.replica.check_invariants();
        assert_eq!(self.replica.state(), self.live.state(), "after {command:?}");
        events
    }
}
