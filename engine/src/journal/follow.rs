//! Following a live journal: entries as the writer makes them, across
//! segment rolls, for registries, a standby, or `cetx replay --follow`.
//!
//! A follower reads like [`super::JournalReader`] and checks the same
//! things, with one difference: the end of what is written is not an error
//! but "not yet". An incomplete record, or zeros, at the end of the newest
//! segment is a write in progress (or space written ahead), so the
//! follower waits for it rather than calling it torn. It moves to the next segment once that segment exists (the writer
//! finishes a segment before it creates the next), after reading whatever
//! is left of the current one; and reads the newest segment again from
//! its start when a restarted writer replaced it (the empty one a killed
//! writer left).
//!
//! Waiting is polling with a short sleep, always bounded by the caller: a
//! timeout ([`JournalFollower::next_timeout`]) or a stop flag
//! ([`JournalFollower::until`]). The writer may be in another process, so
//! there is nothing to be woken by.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::format::{decode_entry_payload_into, list_segments, segment_file_name};
use super::manifest::{journal_segments, written_to};
use super::segment::{entry_payload, Header, Raw, SegmentFile};
use super::{JournalEntry, JournalError, Tie};
use crate::{Command, Event, Stamp};

/// Default pause between looks at a journal with nothing new.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(1);

/// Tails a journal directory from a given sequence number on.
pub struct JournalFollower {
    dir: PathBuf,
    /// The next entry to return.
    next_seq: u64,
    segment: Option<SegmentFile>,
    /// The sequence number the next record of the file must have.
    cursor: Option<u64>,
    /// The record of the entry returned last.
    tie: Option<Tie>,
    poll_interval: Duration,
}

impl JournalFollower {
    /// Follows `dir` from `from_seq` on. Opens nothing yet: the directory
    /// may still be empty or missing.
    #[must_use]
    pub fn new(dir: impl AsRef<Path>, from_seq: u64) -> Self {
        Self {
            dir: dir.as_ref().to_path_buf(),
            next_seq: from_seq.max(1),
            segment: None,
            cursor: None,
            tie: None,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }

    /// Sets the pause between looks at a journal with nothing new.
    #[must_use]
    pub fn with_poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval;
        self
    }

    /// The sequence number of the next entry this follower returns.
    #[must_use]
    pub const fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The journal record of the entry returned last (its `header_crc`
    /// and where it starts in its segment): what a snapshot taken after
    /// that entry is tied to.
    #[must_use]
    pub const fn tie(&self) -> Option<Tie> {
        self.tie
    }

    /// The next entry if it is already written, without waiting.
    ///
    /// # Errors
    /// [`JournalError::Corrupt`] or [`JournalError::Gap`] for a journal
    /// that is damaged (a bad record with more after it, a segment that
    /// does not follow), [`JournalError::Io`] when a file cannot be read.
    /// An incomplete tail is not an error.
    pub fn try_next(&mut self) -> Result<Option<JournalEntry>, JournalError> {
        let mut events = Vec::new();
        Ok(self
            .next_with(&mut events)?
            .map(|(stamp, command, operator)| JournalEntry {
                stamp,
                command,
                events,
                operator,
            }))
    }

    /// [`JournalFollower::try_next`] into `events` (appended to, so a
    /// caller that clears and reuses one vector allocates nothing per
    /// entry): the entry's stamp and command.
    ///
    /// # Errors
    /// As [`JournalFollower::try_next`].
    pub fn try_next_into(
        &mut self,
        events: &mut Vec<Event>,
    ) -> Result<Option<(Stamp, Command)>, JournalError> {
        Ok(self
            .next_with(events)?
            .map(|(stamp, command, _)| (stamp, command)))
    }

    /// The next entry, its events appended to `events`, and its operator.
    fn next_with(
        &mut self,
        events: &mut Vec<Event>,
    ) -> Result<Option<(Stamp, Command, Option<u32>)>, JournalError> {
        let mut next_seen = false;
        loop {
            if self.segment.is_none() && !self.open_segment()? {
                return Ok(None);
            }
            let Some(segment) = self.segment.as_mut() else {
                return Ok(None);
            };
            let expected = self.cursor.unwrap_or(segment.first_seq);
            match segment.read_record()? {
                Raw::Record {
                    seq,
                    offset,
                    record_type,
                    header_crc,
                } => {
                    if seq != expected {
                        return Err(JournalError::Gap {
                            file: segment.path.clone(),
                            offset,
                            expected,
                            found: seq,
                        });
                    }
                    self.cursor = Some(seq + 1);
                    if seq < self.next_seq {
                        continue;
                    }
                    let corrupt = |reason: String| JournalError::Corrupt {
                        file: segment.path.clone(),
                        offset,
                        seq,
                        reason,
                    };
                    let (payload, operator) =
                        entry_payload(record_type, segment.payload()).map_err(corrupt)?;
                    let (stamp, command) = decode_entry_payload_into(seq, payload, events)
                        .map_err(|e| corrupt(format!("the entry does not decode: {e}")))?;
                    self.next_seq = seq + 1;
                    self.tie = Some(Tie { header_crc, offset });
                    return Ok(Some((stamp, command, operator)));
                }
                end @ (Raw::End | Raw::Zero { .. } | Raw::Bad { .. }) => {
                    if segment.refresh_len()? {
                        continue;
                    }
                    // A restarted writer replaced this file (an empty
                    // newest segment a kill left): read the new one under
                    // the same name from its start, the entries already
                    // returned skipped.
                    if segment.is_replaced()? {
                        self.cursor = Some(segment.first_seq);
                        self.segment = None;
                        continue;
                    }
                    // The next segment starts at the entry expected. Before
                    // this segment's first record is whole that name is
                    // this segment's own (the writer may still be writing
                    // the record), so look for any later one instead.
                    // (A next segment archived while this follower was
                    // behind is no longer here, but a later one is: the
                    // newest segment is never archived.)
                    // Only one that holds a record counts: an empty one
                    // may be a start a crash cut short, left behind.
                    let after = if expected == segment.first_seq {
                        segment.first_seq + 1
                    } else {
                        expected
                    };
                    let mut later = false;
                    for (seq, path) in list_segments(&self.dir)? {
                        if seq >= after && written_to(&path, seq)? {
                            later = true;
                            break;
                        }
                    }
                    if !later {
                        return Ok(None);
                    }
                    // The writer wrote all of this segment before it created
                    // the next, so read its end once more before judging.
                    if !next_seen {
                        next_seen = true;
                        segment.refresh_len()?;
                        continue;
                    }
                    if let Raw::Bad { offset, reason, .. } = end {
                        return Err(JournalError::Corrupt {
                            file: segment.path.clone(),
                            offset,
                            seq: expected,
                            reason: format!("{reason}, and the next segment exists"),
                        });
                    }
                    self.segment = None;
                    next_seen = false;
                }
            }
        }
    }

    /// Opens the segment that holds the next record, if it is there and
    /// its header is written.
    fn open_segment(&mut self) -> Result<bool, JournalError> {
        let (first_seq, path) = match self.cursor {
            Some(seq) => (seq, self.dir.join(segment_file_name(seq))),
            None => {
                if !self.dir.exists() {
                    return Ok(false);
                }
                let segments = journal_segments(&self.dir)?;
                let Some(at) = segments.iter().rposition(|(s, _)| *s <= self.next_seq) else {
                    return match segments.into_iter().next() {
                        None => Ok(false),
                        Some((found, file)) => Err(JournalError::Gap {
                            file,
                            offset: 0,
                            expected: self.next_seq,
                            found,
                        }),
                    };
                };
                let (first_seq, path) = segments[at].clone();
                if !path.exists() {
                    return Err(JournalError::MissingSegment {
                        file: path,
                        first_seq,
                    });
                }
                (first_seq, path)
            }
        };
        let path = if path.exists() {
            path
        } else {
            // The next segment may have been archived while this follower
            // was behind: the MANIFEST says where it went. One it does
            // not list yet is not written yet.
            match journal_segments(&self.dir)?
                .into_iter()
                .find(|(first, _)| *first == first_seq)
            {
                Some((_, moved)) if moved.exists() => moved,
                Some((_, moved)) => {
                    return Err(JournalError::MissingSegment {
                        file: moved,
                        first_seq,
                    })
                }
                None => return Ok(false),
            }
        };
        let mut segment = SegmentFile::open(&path, first_seq)?;
        match segment.read_header()? {
            Header::Good => {}
            // A segment just created: its header is on its way.
            Header::Short
            | Header::Bad {
                torn_like: true, ..
            } => return Ok(false),
            Header::Bad { reason, .. } => {
                return Err(JournalError::Corrupt {
                    file: path,
                    offset: 0,
                    seq: first_seq,
                    reason,
                })
            }
        }
        self.cursor = Some(first_seq);
        self.segment = Some(segment);
        Ok(true)
    }

    /// The next entry, waiting for it at most `timeout`; `None` when none
    /// came in time.
    ///
    /// # Errors
    /// As [`JournalFollower::try_next`].
    pub fn next_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<JournalEntry>, JournalError> {
        self.wait_for(timeout, Self::try_next)
    }

    /// [`JournalFollower::next_timeout`] into `events`, as
    /// [`JournalFollower::try_next_into`].
    ///
    /// # Errors
    /// As [`JournalFollower::try_next`].
    pub fn next_timeout_into(
        &mut self,
        timeout: Duration,
        events: &mut Vec<Event>,
    ) -> Result<Option<(Stamp, Command)>, JournalError> {
        self.wait_for(timeout, |follower| follower.try_next_into(events))
    }

    /// What `next` finds, looking again after each pause until `timeout`.
    fn wait_for<T>(
        &mut self,
        timeout: Duration,
        mut next: impl FnMut(&mut Self) -> Result<Option<T>, JournalError>,
    ) -> Result<Option<T>, JournalError> {
        let start = Instant::now();
        loop {
            if let Some(entry) = next(self)? {
                return Ok(Some(entry));
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Ok(None);
            }
            std::thread::sleep(self.poll_interval.min(timeout - waited));
        }
    }

    /// Entries as they come, until `stop` is set and everything written by
    /// then has been returned. The iterator ends after an error.
    pub fn until<'a>(&'a mut self, stop: &'a AtomicBool) -> FollowUntil<'a> {
        FollowUntil {
            follower: self,
            stop,
            done: false,
        }
    }
}

/// The iterator of [`JournalFollower::until`].
pub struct FollowUntil<'a> {
    follower: &'a mut JournalFollower,
    stop: &'a AtomicBool,
    done: bool,
}

impl Iterator for FollowUntil<'_> {
    type Item = Result<JournalEntry, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            // Read the flag before looking, so that an entry written before
            // the flag was set is never missed.
            let stopping = self.stop.load(Ordering::Acquire);
            match self.follower.try_next() {
                Ok(Some(entry)) => return Some(Ok(entry)),
                Ok(None) if stopping => self.done = true,
                Ok(None) => std::thread::sleep(self.follower.poll_interval),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}
