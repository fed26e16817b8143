//! Resumes older than what memory holds: a broker's reports read back from
//! the journal by a thread of their own, so that no lock is held and no
//! other broker waits while a long history is read.
//!
//! The router's lock is taken only to register the subscription and to
//! note where to read from ([`crate::reports::Resume::Journal`]): the last
//! trading day's start before the broker's resume point, and the broker's
//! last report number then, which live reports follow. The thread reads
//! the journal from that mark, turns its entries into reports exactly as
//! the router did ([`ReadBack`]), and hands the broker's in batches to its
//! subscription, which delivers them before any live report.
//!
//! Every read-back together goes at a pace ([`Pace`],
//! `server.resume_reports_per_s`): a resume is work on the session, the
//! socket and the broker's side too, and on a machine of few cores it
//! would otherwise take their turns from the live brokers.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cetx_engine::journal::{JournalError, JournalReader, Manifest};
use tokio::sync::mpsc;

use crate::protocol::ServerFrame;
use crate::reports::ReadBack;

/// Reports handed over at a time.
const BATCH: usize = 1_024;

/// Batches in flight between the reading thread and the session: the
/// thread waits for the session rather than read ahead.
const BATCHES: usize = 4;

/// The nice value of the read-back thread, the snapshot thread and the
/// credential verifier: a resume, the snapshot thread's replica of the
/// engine and an added broker's first login take the CPU that the engine,
/// the journal writer and the live sessions leave, rather than delay the
/// brokers' reports (Linux sets it per thread). Alone it does not keep a
/// read-back from holding a CPU a live thread waits for ([`Courtesy`]).
const NICE: i32 = 10;

/// How often a read-back waiting for its turn looks whether its session
/// has ended.
const GONE_CHECK: Duration = Duration::from_millis(50);

/// Journal entries a read-back reads between two looks at whether its
/// session has ended, besides one at each batch: a read-back whose
/// session left stops within this many, not at the broker's next batch of
/// reports, which for a broker of few reports may be weeks of journal
/// away (an audit: a broker logging in again and again with
/// `resume_from_seq` 0 left threads reading gigabytes for nobody).
const GONE_EVERY: u64 = 4_096;

/// Journal entries a read-back reads between two offers of its CPU
/// ([`Courtesy`]).
const YIELD_EVERY: u64 = 64;

// Both count `Tally::entries`, which restarts at each `GONE_EVERY`: a
// `YIELD_EVERY` that did not divide it would space the offers unevenly.
const _: () = assert!(GONE_EVERY.is_multiple_of(YIELD_EVERY));

/// How often a read-back looks at how long it waited for a CPU
/// ([`Courtesy`]).
const COURTESY_WINDOW: Duration = Duration::from_millis(50);

/// A read-back's offers of its CPU to the live path. At nice 10 alone it
/// kept a CPU for the rest of its slice while a woken session, engine or
/// journal thread waited: the live brokers' p99 rose by 69% while a
/// resume was read back. Offering the CPU every [`YIELD_EVERY`] entries
/// (`sched_yield`; when no thread waits the call returns at once) took
/// that away, but a yield gives up the rest of the slice: while other
/// threads keep the CPUs busy, a thread that yields that often gets next
/// to none (an outside tester's resume of half a million reports took up
/// to 59 s instead of 1 s under three busy loops). So it offers only
/// while it is not starved: each [`COURTESY_WINDOW`] it reads how long it
/// waited for a CPU meanwhile (the kernel's run delay,
/// `/proc/thread-self/schedstat`), and over half the window stops the
/// offers for the next one, reading at its nice-10 share (BENCHMARKS.md,
/// *A resume's read-back yields its CPU while it can*).
struct Courtesy {
    offering: bool,
    since: Instant,
    /// The run delay at `since`; `None` where the kernel does not say
    /// (then no offers).
    delay: Option<Duration>,
}

impl Courtesy {
    fn new() -> Self {
        let delay = run_delay();
        Self {
            offering: delay.is_some(),
            since: Instant::now(),
            delay,
        }
    }

    /// After every [`YIELD_EVERY`]th entry of `entries` read.
    fn after(&mut self, entries: u64) {
        if !entries.is_multiple_of(YIELD_EVERY) {
            return;
        }
        if self.offering {
            rustix::thread::sched_yield();
        }
        let now = Instant::now();
        if now - self.since >= COURTESY_WINDOW {
            self.look(now, run_delay());
        }
    }

    /// Ends the window at `now`, when the run delay is `delay`: the next
    /// one offers if this one waited for a CPU less than half of it.
    fn look(&mut self, now: Instant, delay: Option<Duration>) {
        let waited = delay
            .zip(self.delay)
            .map(|(now, then)| now.saturating_sub(then));
        self.offering = waited.is_some_and(|waited| waited * 2 < now - self.since);
        self.since = now;
        self.delay = delay;
    }
}

/// How long the calling thread has waited for a CPU while runnable, since
/// it started (the second field of `/proc/thread-self/schedstat`, in ns).
fn run_delay() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_ascii_whitespace().nth(1)?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// The journal's archived segments, as its manifest named them at start:
/// none comes back while the server runs (archiving takes the journal's
/// lock), but the archive directory may be moved away meanwhile.
#[derive(Debug, Default)]
pub(super) struct Archived {
    /// Each archived segment's first sequence number and file, oldest
    /// first; the live segments follow.
    segments: Vec<(u64, PathBuf)>,
    /// The first live segment's first sequence number.
    live_from: u64,
}

impl Archived {
    /// What `manifest` of the journal in `dir` lists as archived.
    pub(super) fn listed(dir: &Path, manifest: Option<&Manifest>) -> Self {
        let Some(manifest) = manifest else {
            return Self::default();
        };
        let segments = manifest
            .segments
            .iter()
            .take_while(|s| s.archived)
            .map(|&s| (s.first_seq, manifest.path_of(dir, s)))
            .collect();
        let live_from = manifest
            .segments
            .iter()
            .find(|s| !s.archived)
            .map_or(1, |s| s.first_seq);
        Self {
            segments,
            live_from,
        }
    }

    /// The first live segment's first sequence number: a read-back from
    /// there on needs no archived segment.
    pub(super) const fn live_from(&self) -> u64 {
        self.live_from
    }

    /// The first archived segment a read-back from `from_seq` needs that
    /// is not where the manifest names it, if any.
    pub(super) fn missing_from(&self, from_seq: u64) -> Option<&Path> {
        let ends = self.segments.iter().skip(1).map(|(first, _)| *first);
        self.segments
            .iter()
            .zip(ends.chain([self.live_from]))
            .filter(|(_, end)| *end > from_seq)
            .map(|((_, path), _)| path.as_path())
            .find(|path| !path.is_file())
    }
}

/// How fast every read-back together may go: a bucket of one batch,
/// refilled at a fixed rate in reports per second, shared by every resume,
/// so that many at once take no more than one would.
#[derive(Debug)]
pub(super) struct Pace {
    reports_per_s: u64,
    /// When the next batch may go.
    next: Mutex<Option<Instant>>,
    /// Journal entries read back so far, every read-back together.
    entries_read: AtomicU64,
}

impl Pace {
    /// A pace of `reports_per_s`; 0 goes as fast as it can.
    pub(super) const fn new(reports_per_s: u64) -> Self {
        Self {
            reports_per_s,
            next: Mutex::new(None),
            entries_read: AtomicU64::new(0),
        }
    }

    /// Journal entries read back so far, every read-back together (each
    /// adds its count every [`GONE_EVERY`] entries, and at its end).
    pub(super) fn entries_read(&self) -> u64 {
        self.entries_read.load(Ordering::Relaxed)
    }

    /// How long `reports` take at this pace.
    fn cost(&self, reports: usize) -> Duration {
        Duration::from_nanos(
            u64::try_from(reports as u128 * 1_000_000_000 / u128::from(self.reports_per_s.max(1)))
                .unwrap_or(u64::MAX),
        )
    }

    /// How long to wait, from `now`, before `reports` more may go; counts
    /// them as gone then. A batch never waits for time left unused before
    /// `now`: what was not sent then is not sent in a burst later.
    fn claim(&self, reports: usize, now: Instant) -> Duration {
        if self.reports_per_s == 0 {
            return Duration::ZERO;
        }
        let cost = self.cost(reports);
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let start = next.map_or(now, |next| next.max(now));
        *next = Some(start + cost);
        start - now
    }

    /// Gives back the time of `reports` claimed and not sent: the reader
    /// left before they went. Later claims come that much sooner (those
    /// already made keep their turn).
    fn release(&self, reports: usize, now: Instant) {
        let cost = self.cost(reports);
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = *next {
            *next = Some(at.checked_sub(cost).map_or(now, |at| at.max(now)));
        }
    }

    /// Waits until `reports` more may go, unless `gone` says the reader
    /// left (checked before the claim, and every [`GONE_CHECK`] while
    /// waiting, so that a resume whose session ended neither sleeps on nor
    /// holds the others' turns); whether they may go.
    fn wait(&self, reports: usize, gone: impl Fn() -> bool) -> bool {
        if gone() {
            return false;
        }
        let until = Instant::now() + self.claim(reports, Instant::now());
        loop {
            let now = Instant::now();
            if now >= until {
                return true;
            }
            if gone() {
                self.release(reports, now);
                return false;
            }
            std::thread::sleep((until - now).min(GONE_CHECK));
        }
    }
}

/// What the reading thread hands the subscription: a batch of reports, or
/// why the history could not be read (the subscription then ends).
pub(super) type HistoryBatch = Result<Vec<ServerFrame>, Unreadable>;

/// Why a history could not be read back, and from where it can be.
#[derive(Debug)]
pub(super) struct Unreadable {
    /// The reader's error, for the log.
    pub(super) why: String,
    /// The first sequence number a read back can start at and not meet
    /// the failure: that of the segment after the damaged one (a read
    /// checks its first segment from the start); `None` when no later
    /// segment is known.
    pub(super) readable_from: Option<u64>,
}

/// Starts the thread that reads `back` from `from_seq` of the journal in
/// `dir` at `pace`; its batches come on the returned channel, which closes
/// when it is done.
pub(super) fn read_back(
    dir: PathBuf,
    from_seq: u64,
    mut back: ReadBack,
    pace: Arc<Pace>,
) -> mpsc::Receiver<HistoryBatch> {
    let (sender, receiver) = mpsc::channel(BATCHES);
    let spawned = std::thread::Builder::new()
        .name("cetx-resume".into())
        .spawn({
            let sender = sender.clone();
            move || {
                yield_to_live_path();
                if let Err(unreadable) = read(&dir, from_seq, &mut back, &pace, &sender) {
                    let _ = sender.blocking_send(Err(unreadable));
                }
            }
        });
    if let Err(error) = spawned {
        // The channel has room: nothing was sent yet.
        let _ = sender.try_send(Err(Unreadable {
            why: format!("starting the resume thread: {error}"),
            readable_from: None,
        }));
    }
    receiver
}

/// Gives the calling thread the nice value [`NICE`] (Linux keeps one per
/// thread). A failure only leaves it as it was.
pub(crate) fn yield_to_live_path() {
    let thread = rustix::thread::gettid();
    if let Err(error) = rustix::process::setpriority_process(Some(thread), NICE) {
        tracing::debug!(%error, "a background thread keeps its priority");
    }
}

fn read(
    dir: &Path,
    from_seq: u64,
    back: &mut ReadBack,
    pace: &Pace,
    sender: &mpsc::Sender<HistoryBatch>,
) -> Result<(), Unreadable> {
    let describe = |error: JournalError| format!("reading the journal back: {error}");
    let mut reader = JournalReader::open_from(dir, from_seq).map_err(|error| Unreadable {
        why: describe(error),
        readable_from: None,
    })?;
    let mut events = Vec::new();
    let mut batch = Vec::new();
    let mut read = Tally { pace, entries: 0 };
    let mut courtesy = Courtesy::new();
    // The batch the reading ends with, however it ends.
    let send_last = |batch: Vec<ServerFrame>| {
        if !batch.is_empty() && pace.wait(batch.len(), || sender.is_closed()) {
            let _ = sender.blocking_send(Ok(batch));
        }
    };
    while !back.done() {
        let next = reader.next_into(&mut events).map_err(describe);
        let next = next.and_then(|entry| {
            entry.ok_or_else(|| {
                format!(
                    "the journal in {} ends before the reports to resume",
                    dir.display()
                )
            })
        });
        let (stamp, command) = match next {
            Ok(entry) => entry,
            Err(why) => {
                // The reports read before the damage are the broker's, and
                // exact: they go first, then why the rest cannot.
                send_last(batch);
                return Err(Unreadable {
                    why,
                    readable_from: reader.next_segment_seq(),
                });
            }
        };
        back.on_entry(stamp, &command, &events, &mut batch);
        events.clear();
        read.entries += 1;
        courtesy.after(read.entries);
        if read.entries == GONE_EVERY {
            read.flush();
            if sender.is_closed() {
                // The session is gone.
                return Ok(());
            }
        }
        if batch.len() >= BATCH {
            if !pace.wait(batch.len(), || sender.is_closed()) {
                // The session is gone.
                return Ok(());
            }
            if sender
                .blocking_send(Ok(std::mem::take(&mut batch)))
                .is_err()
            {
                // The session is gone.
                return Ok(());
            }
        }
    }
    send_last(batch);
    Ok(())
}

/// The entries one read-back read and has not yet added to its
/// [`Pace`]'s count: added every [`GONE_EVERY`], and when it ends,
/// however it ends.
struct Tally<'a> {
    pace: &'a Pace,
    entries: u64,
}

impl Tally<'_> {
    fn flush(&mut self) {
        self.pace
            .entries_read
            .fetch_add(std::mem::take(&mut self.entries), Ordering::Relaxed);
    }
}

impl Drop for Tally<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{run_delay, yield_to_live_path, Archived, Courtesy, Pace, NICE};

    #[test]
    fn a_read_back_needs_the_archived_segments_from_its_start_on() {
        let dir = tempfile::tempdir().unwrap();
        let [first, second] = ["a.seg", "b.seg"].map(|name| dir.path().join(name));
        let archived = Archived {
            segments: vec![(1, first.clone()), (10, second.clone())],
            live_from: 20,
        };
        std::fs::write(&second, b"").unwrap();
        assert_eq!(archived.missing_from(1), Some(first.as_path()));
        assert_eq!(archived.missing_from(9), Some(first.as_path()));
        assert_eq!(archived.missing_from(10), None, "only the second is needed");
        assert_eq!(archived.missing_from(20), None, "live");
        std::fs::remove_file(&second).unwrap();
        assert_eq!(archived.missing_from(19), Some(second.as_path()));
        assert_eq!(Archived::default().missing_from(1), None);
    }

    #[test]
    fn a_pace_spaces_batches_by_their_size() {
        let pace = Pace::new(1_000);
        let now = Instant::now();
        // The first batch goes at once; each next one a millisecond a
        // report after the one before it.
        assert_eq!(pace.claim(100, now), Duration::ZERO);
        assert_eq!(pace.claim(100, now), Duration::from_millis(100));
        assert_eq!(pace.claim(50, now), Duration::from_millis(200));
        // Later, less is left to wait.
        let later = now + Duration::from_millis(120);
        assert_eq!(pace.claim(10, later), Duration::from_millis(130));
    }

    #[test]
    fn a_batch_released_unsent_gives_its_time_back_to_later_claims() {
        let pace = Pace::new(1_000);
        let now = Instant::now();
        assert_eq!(pace.claim(100, now), Duration::ZERO);
        assert_eq!(pace.claim(100, now), Duration::from_millis(100));
        // The second reader leaves before its turn: the next claim waits
        // only for the first batch, not for both.
        pace.release(100, now);
        assert_eq!(pace.claim(10, now), Duration::from_millis(100));
        // Never back before now.
        pace.release(1_000, now);
        assert_eq!(pace.claim(10, now), Duration::ZERO);
    }

    #[test]
    fn a_pace_saves_no_time_for_a_burst() {
        let pace = Pace::new(1_000);
        let now = Instant::now();
        assert_eq!(pace.claim(100, now), Duration::ZERO);
        // A second idle: the next batch goes at once, and the one after
        // it waits its full share rather than spend the idle second.
        let idle = now + Duration::from_secs(1);
        assert_eq!(pace.claim(100, idle), Duration::ZERO);
        assert_eq!(pace.claim(100, idle), Duration::from_millis(100));
    }

    #[test]
    fn a_read_back_stops_offering_its_cpu_while_starved() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let mut courtesy = Courtesy {
            offering: true,
            since: start,
            delay: Some(ms(7)),
        };
        // Waited 30 ms of 50 for a CPU: starved, it keeps the CPU.
        courtesy.look(start + ms(50), Some(ms(37)));
        assert!(!courtesy.offering);
        // Waited 5 ms of the next 50: it offers again.
        courtesy.look(start + ms(100), Some(ms(42)));
        assert!(courtesy.offering);
        // Where the kernel does not say, no offers.
        courtesy.look(start + ms(150), None);
        assert!(!courtesy.offering);
        courtesy.look(start + ms(200), Some(ms(42)));
        assert!(!courtesy.offering, "no earlier reading to compare");
        // This kernel says.
        let delay = run_delay();
        assert!(delay.is_some(), "/proc/thread-self/schedstat");
        assert!(Courtesy::new().offering);
    }

    #[test]
    fn a_pace_of_zero_never_waits() {
        let pace = Pace::new(0);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(pace.claim(1_000_000, now), Duration::ZERO);
        }
    }

    /// The nice value of the calling thread, from `/proc` (field 19 of its
    /// `stat`, after the command name in parentheses).
    fn own_nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }

    #[test]
    fn the_resume_thread_alone_yields() {
        let before = own_nice();
        let lowered = std::thread::spawn(|| {
            yield_to_live_path();
            own_nice()
        })
        .join()
        .unwrap();
        // Tests run at a nice value below the resume thread's.
        assert!(before < NICE, "the tests run at nice {before}");
        assert_eq!(lowered, NICE);
        // Only that thread: this one keeps its value.
        assert_eq!(own_nice(), before);
    }
}
