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

use std::path::{Path, PathBuf};

use cetx_engine::journal::{JournalError, JournalReader};
use tokio::sync::mpsc;

use crate::protocol::ServerFrame;
use crate::reports::ReadBack;

/// Reports handed over at a time.
const BATCH: usize = 1_024;

/// Batches in flight between the reading thread and the session: the
/// thread waits for the session rather than read ahead.
const BATCHES: usize = 4;

/// The read-back thread's nice value: a resume takes the CPU that the
/// engine, the journal writer and the live sessions leave, rather than
/// delay the other brokers' reports (Linux sets it per thread).
const NICE: i32 = 10;

/// What the reading thread hands the subscription: a batch of reports, or
/// why the history could not be read (the subscription then ends).
pub(super) type HistoryBatch = Result<Vec<ServerFrame>, String>;

/// Starts the thread that reads `back` from `from_seq` of the journal in
/// `dir`; its batches come on the returned channel, which closes when it
/// is done.
pub(super) fn read_back(
    dir: PathBuf,
    from_seq: u64,
    mut back: ReadBack,
) -> mpsc::Receiver<HistoryBatch> {
    let (sender, receiver) = mpsc::channel(BATCHES);
    let spawned = std::thread::Builder::new()
        .name("cetx-resume".into())
        .spawn({
            let sender = sender.clone();
            move || {
                yield_to_live_path();
                if let Err(error) = read(&dir, from_seq, &mut back, &sender) {
                    let _ = sender.blocking_send(Err(error));
                }
            }
        });
    if let Err(error) = spawned {
        // The channel has room: nothing was sent yet.
        let _ = sender.try_send(Err(format!("starting the resume thread: {error}")));
    }
    receiver
}

/// Gives the calling thread the nice value [`NICE`] (Linux keeps one per
/// thread). A failure only leaves it as it was.
fn yield_to_live_path() {
    let thread = rustix::thread::gettid();
    if let Err(error) = rustix::process::setpriority_process(Some(thread), NICE) {
        tracing::debug!(%error, "the resume thread keeps its priority");
    }
}

fn read(
    dir: &Path,
    from_seq: u64,
    back: &mut ReadBack,
    sender: &mpsc::Sender<HistoryBatch>,
) -> Result<(), String> {
    let describe = |error: JournalError| format!("reading the journal back: {error}");
    let mut reader = JournalReader::open_from(dir, from_seq).map_err(describe)?;
    let mut events = Vec::new();
    let mut batch = Vec::new();
    while !back.done() {
        let Some((stamp, command)) = reader.next_into(&mut events).map_err(describe)? else {
            return Err(format!(
                "the journal in {} ends before the reports to resume",
                dir.display()
            ));
        };
        back.on_entry(stamp.seq, &command, &events, &mut batch);
        events.clear();
        if batch.len() >= BATCH
            && sender
                .blocking_send(Ok(std::mem::take(&mut batch)))
                .is_err()
        {
            // The session is gone.
            return Ok(());
        }
    }
    if !batch.is_empty() {
        let _ = sender.blocking_send(Ok(batch));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{yield_to_live_path, NICE};

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
