//! One broker session of the load tester: logs in, sends its flow open or
//! closed loop, reads its reports, and records latencies.
//!
//! A session is two OS threads on one blocking TCP connection, not tokio
//! tasks: a **sender** that paces and writes the orders, and a
//! **receiver** that reads the reports and measures. The generator thus
//! keeps its own time, apart from the server's tokio runtime (whose timer
//! wheel has a resolution of 1 ms, too coarse to pace orders tens of
//! microseconds apart), and writes many orders in one `write` when they
//! are due together.
//!
//! **Open loop** ([`Pace::Open`]): order `i` is due at `start + i ×
//! interval`. The sender sleeps until the next due time, but writes at
//! most once every `write_every` (as a broker's gateway gathers what its
//! clients sent meanwhile), then writes every order already due (up to
//! [`BATCH_MAX`]) in one write. Each order's latency is measured from its
//! *due* time, not from when it was written, so a server that falls
//! behind is charged for the wait (no coordinated omission), and so is
//! the wait for the next write.
//!
//! **Closed loop** ([`Pace::Closed`]): at most `in_flight` new orders
//! await their `OrderAccepted` or `OrderRejected`; the sender writes as
//! many as that allows in one write, and waits for the receiver when none
//! may go. Latency is measured from the write.
//!
//! Either way, sending stops at the deadline or after `max_orders`, then
//! the receiver waits up to [`DRAIN`] for the outstanding answers, and logs
//! out (the demo brokers cancel on disconnect, which clears their resting
//! orders).
//!
//! Latencies: order→ack is due time to `OrderAccepted`; order→fill is due
//! time to the first `Fill` of an order that traded on arrival (the Fill's
//! `aggressor` flag). A resting order's fill, which waits on the market
//! rather than on the server, is counted but not timed.
//!
//! The two threads share little: the sender tells the receiver of each
//! order (id, due time, side) on a channel *before* writing it, so the
//! receiver always knows an order before its reports arrive; the receiver
//! counts answers and fills in atomics the sender reads (the closed loop's
//! bound, the flow's position), and marks finished orders in a bitmap, so
//! that the sender cancels only orders that may still rest.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use cetx_engine::RejectReason;
use cetx_gateway::client::ClientError;
use cetx_gateway::codec::ClientCodec;
use cetx_gateway::protocol::{
    ClientMessage, RequestKind, Secret, ServerFrame, ServerMessage, Side, LOGIN_TIMEOUT,
    PROTOCOL_VERSION, RESUME_AFTER_LAST, UNSEQUENCED,
};
use crossbeam_channel::{Receiver, Sender};
use hdrhistogram::Histogram;
use rustc_hash::FxHashMap;
use tokio_util::codec::{Decoder, Encoder};

use super::flow::{MidPath, SessionFlow, RESTING_TARGET};

/// How long a session waits for outstanding answers after it stops sending.
pub const DRAIN: Duration = Duration::from_secs(5);
/// The most orders an open-loop session writes in one go.
pub const BATCH_MAX: u32 = 256;
/// How long the receiver blocks in one read, so it notices the end of the
/// drain and a failed sender.
const READ_POLL: Duration = Duration::from_millis(50);
/// How long the logout waits for the server to close.
const LOGOUT_WAIT: Duration = Duration::from_secs(2);
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Bits in the bitmap of finished orders, indexed by client order id
/// modulo this: far more than the orders a session holds at once.
const GONE_BITS: u64 = 1 << 22;

/// How a session paces its orders.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// One order every `interval`, from the intended send times.
    Open {
        /// Time between two orders' due times.
        interval: Duration,
        /// The least time between two writes' starts: orders due
        /// meanwhile wait for the next write (their latency counts from
        /// their due time all the same). Zero writes each order when due.
        write_every: Duration,
    },
    /// As fast as answers come back, with at most `in_flight` outstanding.
    Closed {
        /// The bound on outstanding new orders.
        in_flight: usize,
    },
}

/// What one session is to do.
#[derive(Clone, Debug)]
pub struct SessionPlan {
    /// The server.
    pub addr: SocketAddr,
    /// The broker to log in as.
    pub broker_id: u32,
    /// Its secret.
    pub secret: String,
    /// The account its orders trade for.
    pub account: u32,
    /// The flow's seed.
    pub seed: u64,
    /// The first client order id.
    pub first_client_order_id: u64,
    /// Open or closed loop.
    pub pace: Pace,
    /// When the run starts (order 0 is due then).
    pub start: Instant,
    /// When sending stops.
    pub deadline: Instant,
    /// The most new orders this session sends.
    pub max_orders: u64,
    /// The shared mid price.
    pub mid: Arc<MidPath>,
    /// Resume from the broker's last report instead of from 0
    /// ([`super::LoadOptions::skip_history`]).
    pub skip_history: bool,
}

/// Counters every session adds to, read by the progress line.
#[derive(Debug, Default)]
pub struct Progress {
    /// New orders written.
    pub sent: AtomicU64,
    /// `OrderAccepted` received.
    pub accepted: AtomicU64,
    /// Fills received.
    pub fills: AtomicU64,
}

/// What one session measured.
#[derive(Clone, Debug)]
pub struct SessionStats {
    /// Due time to `OrderAccepted`, nanoseconds.
    pub ack_ns: Histogram<u64>,
    /// Due time to the first aggressor `Fill`, nanoseconds.
    pub fill_ns: Histogram<u64>,
    /// New orders written.
    pub sent: u64,
    /// Cancels written.
    pub cancels_sent: u64,
    /// `OrderAccepted` received.
    pub accepted: u64,
    /// `OrderRejected` of new orders received.
    pub rejected: u64,
    /// `OrderRejected` of cancels: 302 when the order had already traded
    /// or gone, 407 when the broker's throttle refused them.
    pub cancel_rejected: u64,
    /// `Fill` reports received (both sides of the session's trades).
    pub fills: u64,
    /// New orders still unanswered when the drain ended.
    pub unanswered: u64,
    /// When the last order was written, relative to the plan's start.
    pub sending_s: f64,
    /// Tonnes the account bought minus sold.
    pub net_bought_t: i64,
    /// The reject reasons of new orders: (reason, count), by reason.
    pub reject_reasons: Vec<(u16, u64)>,
    /// The reject reasons of cancels: (reason, count), by reason.
    pub cancel_reject_reasons: Vec<(u16, u64)>,
    /// Why the session ended early, if it did.
    pub error: Option<String>,
    /// Reports the broker had before this session that the server sent it
    /// first: those after where it resumed (0, or with
    /// [`SessionPlan::skip_history`] the last one it learned of) up to
    /// `LoginAccepted.last_seq`.
    pub history_reports: u64,
    /// Seconds from the login to the last of those reports read; `None`
    /// while they are still coming (or when there are none).
    pub history_s: Option<f64>,
}

/// A new histogram for latencies from 1 ns to 60 s, 3 significant digits.
#[must_use]
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("constant bounds are valid")
}

/// An order the sender wrote, as the receiver learns of it.
#[derive(Clone, Copy, Debug)]
struct Written {
    client_order_id: u64,
    due: Instant,
    side: Side,
}

/// What the two threads of a session share.
#[derive(Debug)]
struct Shared {
    /// New orders answered (accepted or rejected).
    answered: AtomicU64,
    /// Tonnes bought minus sold, from the fills.
    net_bought_t: AtomicI64,
    /// One bit per client order id (modulo [`GONE_BITS`]): set once the
    /// order is done (filled, cancelled, expired or rejected).
    gone: Vec<AtomicU64>,
    /// New orders written, once the sender has stopped; `u64::MAX` before.
    final_sent: AtomicU64,
    /// Set by the receiver when it fails, so the sender stops.
    failed: AtomicBool,
    /// Whether the sender is parked waiting for answers.
    sender_waiting: AtomicBool,
    sender: Thread,
}

impl Shared {
    fn gone_bit(&self, client_order_id: u64) -> (&AtomicU64, u64) {
        let bit = client_order_id % GONE_BITS;
        // Below GONE_BITS / 64 words, so it fits in usize.
        let word = usize::try_from(bit / 64).unwrap_or(0);
        (&self.gone[word], 1 << (bit % 64))
    }

    fn is_gone(&self, client_order_id: u64) -> bool {
        let (word, mask) = self.gone_bit(client_order_id);
        word.load(Ordering::Relaxed) & mask != 0
    }

    fn set_gone(&self, client_order_id: u64, gone: bool) {
        let (word, mask) = self.gone_bit(client_order_id);
        if gone {
            word.fetch_or(mask, Ordering::Relaxed);
        } else {
            word.fetch_and(!mask, Ordering::Relaxed);
        }
    }

    fn wake_sender(&self) {
        if self.sender_waiting.load(Ordering::Acquire) {
            self.sender.unpark();
        }
    }
}

/// A connection's framing: the codec and the bytes read but not decoded.
struct Wire {
    stream: TcpStream,
    codec: ClientCodec,
    read_buf: BytesMut,
    chunk: Box<[u8]>,
    /// The highest sequence number seen.
    last_seq: u64,
}

impl Wire {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            codec: ClientCodec::default(),
            read_buf: BytesMut::with_capacity(READ_CHUNK),
            chunk: vec![0; READ_CHUNK].into_boxed_slice(),
            last_seq: 0,
        }
    }

    /// The next frame already read, if a whole one is there.
    fn buffered(&mut self) -> Result<Option<ServerFrame>, ClientError> {
        Ok(self.codec.decode(&mut self.read_buf)?)
    }

    /// Reads what the socket has (blocking up to its read timeout):
    /// `Ok(false)` when the timeout passed with nothing.
    fn fill(&mut self) -> Result<bool, ClientError> {
        match self.stream.read(&mut self.chunk) {
            Ok(0) => Err(ClientError::Closed),
            Ok(n) => {
                self.read_buf.extend_from_slice(&self.chunk[..n]);
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(false)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(true),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks a frame's sequence number: each sequenced report must be
    /// the next one.
    fn check_seq(&mut self, frame: &ServerFrame) -> Result<(), ClientError> {
        if frame.seq != UNSEQUENCED {
            if frame.seq != self.last_seq + 1 {
                return Err(ClientError::SequenceGap {
                    expected: self.last_seq + 1,
                    got: frame.seq,
                });
            }
            self.last_seq = frame.seq;
        }
        Ok(())
    }
}

/// Encodes one message at the end of `out`.
fn encode(
    codec: &mut ClientCodec,
    message: &ClientMessage,
    out: &mut BytesMut,
) -> Result<(), ClientError> {
    codec.encode(message, out)?;
    Ok(())
}

/// Runs one session to the end of its plan, on the calling thread (the
/// sender) and a receiver thread it starts. A failure after login (the
/// server closed the connection, a sequence gap) ends the session early:
/// its figures so far come back with [`SessionStats::error`] set.
///
/// # Errors
/// Connecting and logging in.
pub fn run_session(
    plan: &SessionPlan,
    progress: &Arc<Progress>,
) -> Result<SessionStats, ClientError> {
    let logging_in = Instant::now();
    let (mut wire, backlog_end) = login(plan)?;
    let writer = wire.stream.try_clone()?;
    let shared = Arc::new(Shared {
        answered: AtomicU64::new(0),
        net_bought_t: AtomicI64::new(0),
        gone: (0..GONE_BITS / 64).map(|_| AtomicU64::new(0)).collect(),
        final_sent: AtomicU64::new(u64::MAX),
        failed: AtomicBool::new(false),
        sender_waiting: AtomicBool::new(false),
        sender: thread::current(),
    });
    let (written_tx, written_rx) = crossbeam_channel::unbounded();
    wire.stream.set_read_timeout(Some(READ_POLL))?;
    let receiver = {
        let shared = Arc::clone(&shared);
        let progress = Arc::clone(progress);
        thread::Builder::new()
            .name(format!("load-recv-{}", plan.broker_id))
            .spawn(move || {
                let (stats, result) = receive(
                    &mut wire,
                    (backlog_end, logging_in),
                    &shared,
                    &progress,
                    &written_rx,
                );
                if result.is_err() {
                    shared.failed.store(true, Ordering::Release);
                    shared.sender.unpark();
                }
                (stats, result)
            })?
    };
    let mut counts = SentStats::default();
    let sent = send(plan, writer, &shared, progress, &written_tx, &mut counts);
    let sending_s = plan.start.elapsed().as_secs_f64();
    // However sending ended, the receiver learns it is over.
    shared.final_sent.store(counts.sent, Ordering::Release);
    drop(written_tx);
    let (mut stats, received) = receiver
        .join()
        .map_err(|_| ClientError::Io(io::Error::other("the receiver thread panicked")))?;
    stats.sent = counts.sent;
    stats.cancels_sent = counts.cancels_sent;
    stats.sending_s = sending_s;
    stats.unanswered = counts.sent.saturating_sub(stats.accepted + stats.rejected);
    // The receiver's error is the first cause when both failed (a closed
    // connection breaks the writes too).
    stats.error = received.err().or(sent.err()).map(|e| e.to_string());
    Ok(stats)
}

/// Connects, logs in, and says up to which sequence number the reports
/// are from earlier runs (a reused server has them): the receiver skips
/// those. With [`SessionPlan::skip_history`] it logs in resuming after
/// the broker's last report ([`RESUME_AFTER_LAST`]), so that the server
/// sends none of them. An earlier run's last reports (the cancels of its
/// resting orders as its sessions ended) may still be coming: it logs in
/// again, resuming after the number it learned, until the number holds
/// still (at most [`SKIP_PROBES`] times).
fn login(plan: &SessionPlan) -> Result<(Wire, u64), ClientError> {
    if plan.skip_history {
        let (mut probe, mut last_seq) = login_from(plan, RESUME_AFTER_LAST)?;
        for _ in 0..SKIP_PROBES {
            // Each connection closes as the next takes the session over.
            let (next, now) = login_from(plan, last_seq)?;
            if now == last_seq {
                return Ok((next, now));
            }
            (probe, last_seq) = (next, now);
        }
        drop(probe);
        login_from(plan, last_seq)
    } else {
        // A history partly archived (and not in place) cannot be read from
        // 0: say the way on, which reads none of it.
        login_from(plan, 0).map_err(|error| match error {
            ClientError::LoginRejected { reason, text }
                if reason == RejectReason::HistoryArchived.code() =>
            {
                ClientError::LoginRejected {
                    reason,
                    text: format!("{text} (--skip-history logs in reading none of the history)"),
                }
            }
            other => other,
        })
    }
}

/// Most logins [`login`] makes to find an earlier run's last report.
const SKIP_PROBES: usize = 20;

/// Connects and logs in with `resume_from_seq`; returns the connection
/// and `LoginAccepted.last_seq`.
fn login_from(plan: &SessionPlan, resume_from_seq: u64) -> Result<(Wire, u64), ClientError> {
    let stream = TcpStream::connect(plan.addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(LOGIN_TIMEOUT * 2))?;
    let mut wire = Wire::new(stream);
    let mut out = BytesMut::new();
    encode(
        &mut wire.codec,
        &ClientMessage::Login {
            protocol_version: PROTOCOL_VERSION,
            broker_id: plan.broker_id,
            secret: Secret::new(&plan.secret),
            resume_from_seq,
        },
        &mut out,
    )?;
    wire.stream.write_all(&out)?;
    let frame = loop {
        if let Some(frame) = wire.buffered()? {
            break frame;
        }
        if !wire.fill()? {
            return Err(ClientError::LoginTimeout(LOGIN_TIMEOUT * 2));
        }
    };
    match frame.message {
        ServerMessage::LoginAccepted { last_seq, .. } => {
            wire.codec.set_logged_in(true);
            // The next report is the one after the resume point.
            wire.last_seq = resume_from_seq;
            Ok((wire, last_seq))
        }
        ServerMessage::LoginRejected { reason, text } => {
            Err(ClientError::LoginRejected { reason, text })
        }
        ServerMessage::ProtocolError { reason, text } => {
            Err(ClientError::ProtocolError { reason, text })
        }
        other => Err(ClientError::UnexpectedMessage(other.name())),
    }
}

/// What the sender counted.
#[derive(Debug, Default)]
struct SentStats {
    sent: u64,
    cancels_sent: u64,
}

/// The sender: paces the flow and writes it, batch by batch, counting in
/// `counts` what it has written (also when a write fails).
fn send(
    plan: &SessionPlan,
    mut stream: TcpStream,
    shared: &Shared,
    progress: &Progress,
    written: &Sender<Written>,
    counts: &mut SentStats,
) -> Result<(), ClientError> {
    let mut codec = ClientCodec::default();
    codec.set_logged_in(true);
    let mut flow = SessionFlow::new(plan.seed, plan.account, plan.first_client_order_id);
    let mut resting: Vec<u64> = Vec::with_capacity(RESTING_TARGET * 2);
    let mut out = BytesMut::with_capacity(READ_CHUNK);
    let mut next_due = plan.start;
    // An order's latency runs from its due time: a sleep that overran
    // would be charged to the server.
    if let Pace::Open { .. } = plan.pace {
        cetx_engine::timer_slack::precise_sleeps();
    }
    sleep_until(plan.start);
    let mut next_write = plan.start;
    loop {
        if shared.failed.load(Ordering::Acquire) {
            break;
        }
        let now = Instant::now();
        let done = match plan.pace {
            // Every order due before the deadline is sent, however late:
            // the last ones are the most delayed, and leaving them out
            // would hide them from the percentiles.
            Pace::Open { .. } => next_due >= plan.deadline,
            Pace::Closed { .. } => now >= plan.deadline,
        };
        if done || counts.sent >= plan.max_orders {
            break;
        }
        // How many orders go in this batch, and when each was due.
        let batch = match plan.pace {
            Pace::Open {
                interval,
                write_every,
            } => {
                if next_due > now || next_write > now {
                    sleep_until(next_due.max(next_write));
                    continue;
                }
                next_write = now + write_every;
                let per = interval.as_nanos().max(1);
                let late = now.saturating_duration_since(next_due);
                let due_now = late.as_nanos() / per + 1;
                let left = plan
                    .deadline
                    .saturating_duration_since(next_due)
                    .as_nanos()
                    .div_ceil(per);
                u64::try_from(due_now.min(left))
                    .unwrap_or(u64::MAX)
                    .min(u64::from(BATCH_MAX))
            }
            Pace::Closed { in_flight } => {
                let outstanding = counts.sent - shared.answered.load(Ordering::Acquire);
                let room = (in_flight as u64).saturating_sub(outstanding);
                if room == 0 {
                    wait_for_answers(shared, plan.deadline);
                    continue;
                }
                next_due = now;
                room
            }
        };
        let batch = batch.min(plan.max_orders - counts.sent);
        flow.set_net_bought_t(shared.net_bought_t.load(Ordering::Relaxed));
        out.clear();
        let mut cancels = 0;
        for _ in 0..batch {
            while resting.len() > RESTING_TARGET {
                let id = resting.swap_remove(flow.pick(resting.len()));
                if !shared.is_gone(id) {
                    encode(
                        &mut codec,
                        &ClientMessage::Cancel {
                            client_order_id: id,
                        },
                        &mut out,
                    )?;
                    cancels += 1;
                    break;
                }
            }
            let mid_ticks = plan
                .mid
                .mid_ticks(next_due.saturating_duration_since(plan.start));
            let (order, passive) = flow.next_order(mid_ticks);
            let id = order.client_order_id;
            shared.set_gone(id, false);
            // The receiver hears of the order before the server does.
            let _ = written.send(Written {
                client_order_id: id,
                due: next_due,
                side: order.side,
            });
            encode(&mut codec, &order.into(), &mut out)?;
            if passive {
                resting.push(id);
            }
            if let Pace::Open { interval, .. } = plan.pace {
                next_due += interval;
            }
        }
        stream.write_all(&out)?;
        counts.sent += batch;
        counts.cancels_sent += cancels;
        progress.sent.fetch_add(batch, Ordering::Relaxed);
    }
    Ok(())
}

/// Parks the sender until the receiver has taken answers (or a short
/// while has passed, or the deadline).
fn wait_for_answers(shared: &Shared, deadline: Instant) {
    shared.sender_waiting.store(true, Ordering::Release);
    let left = deadline.saturating_duration_since(Instant::now());
    thread::park_timeout(left.min(Duration::from_millis(1)));
    shared.sender_waiting.store(false, Ordering::Release);
}

/// Sleeps until `when` (at once if it has passed).
fn sleep_until(when: Instant) {
    let left = when.saturating_duration_since(Instant::now());
    if !left.is_zero() {
        thread::sleep(left);
    }
}

/// An order the receiver still hears about.
#[derive(Clone, Copy, Debug)]
struct Live {
    due: Instant,
    side: Side,
    acked: bool,
    timed_fill: bool,
}

/// Counts by reject code, in the order of the codes.
fn by_code(counts: FxHashMap<u16, u64>) -> Vec<(u16, u64)> {
    let mut counts: Vec<(u16, u64)> = counts.into_iter().collect();
    counts.sort_unstable();
    counts
}

/// The receiver's state and figures.
struct Receiving<'a> {
    shared: &'a Shared,
    progress: &'a Progress,
    live: FxHashMap<u64, Live>,
    stats: SessionStats,
    reject_reasons: FxHashMap<u16, u64>,
    cancel_reject_reasons: FxHashMap<u16, u64>,
    net_bought_t: i64,
    /// Counts of the frames of one read, published to the shared
    /// counters once per read.
    chunk: Chunk,
}

/// What one read's frames add to the counters the sender and the
/// progress line watch.
#[derive(Debug, Default)]
struct Chunk {
    answered: u64,
    accepted: u64,
    fills: u64,
}

/// The receiver: reads reports until every order written is answered
/// after the sender stopped (or the drain ends), then logs out. The
/// reports up to `backlog_end`, from before the login at `logging_in`,
/// are timed but not taken.
fn receive(
    wire: &mut Wire,
    (backlog_end, logging_in): (u64, Instant),
    shared: &Shared,
    progress: &Progress,
    written: &Receiver<Written>,
) -> (SessionStats, Result<(), ClientError>) {
    let mut state = Receiving {
        shared,
        progress,
        live: FxHashMap::default(),
        stats: SessionStats {
            ack_ns: latency_histogram(),
            fill_ns: latency_histogram(),
            sent: 0,
            cancels_sent: 0,
            accepted: 0,
            rejected: 0,
            cancel_rejected: 0,
            fills: 0,
            unanswered: 0,
            sending_s: 0.0,
            net_bought_t: 0,
            reject_reasons: Vec::new(),
            cancel_reject_reasons: Vec::new(),
            error: None,
            // The wire's last report is where the login resumed.
            history_reports: backlog_end.saturating_sub(wire.last_seq),
            history_s: None,
        },
        reject_reasons: FxHashMap::default(),
        cancel_reject_reasons: FxHashMap::default(),
        net_bought_t: 0,
        chunk: Chunk::default(),
    };
    let result = state.run(wire, (backlog_end, logging_in), written);
    state.stats.net_bought_t = state.net_bought_t;
    state.stats.reject_reasons = by_code(state.reject_reasons);
    state.stats.cancel_reject_reasons = by_code(state.cancel_reject_reasons);
    if result.is_ok() {
        logout(wire);
    }
    (state.stats, result)
}

/// Logs out and reads until the server closes (the reports the logout
/// brings, cancels of the resting orders, are not measured).
fn logout(wire: &mut Wire) {
    let mut out = BytesMut::new();
    if encode(&mut wire.codec, &ClientMessage::Logout, &mut out).is_err()
        || wire.stream.write_all(&out).is_err()
    {
        return;
    }
    let until = Instant::now() + LOGOUT_WAIT;
    while Instant::now() < until {
        wire.read_buf.clear();
        if wire.fill().is_err() {
            return;
        }
    }
}

impl Receiving<'_> {
    /// Reads and takes reports until every order written is answered
    /// after the sender stopped, or the drain ends.
    fn run(
        &mut self,
        wire: &mut Wire,
        (backlog_end, logging_in): (u64, Instant),
        written: &Receiver<Written>,
    ) -> Result<(), ClientError> {
        let mut drain_until = None;
        loop {
            // One reading of the clock for all the frames one read brought.
            let now = Instant::now();
            // Every order whose reports that read brought was written, and
            // so announced, before it.
            for order in written.try_iter() {
                self.live.insert(
                    order.client_order_id,
                    Live {
                        due: order.due,
                        side: order.side,
                        acked: false,
                        timed_fill: false,
                    },
                );
            }
            while let Some(frame) = wire.buffered()? {
                // The server's last frame before it closes (416: another
                // login took the session over), said as such.
                if let ServerMessage::ProtocolError { reason, text } = frame.message {
                    return Err(ClientError::ProtocolError { reason, text });
                }
                wire.check_seq(&frame)?;
                if frame.seq != UNSEQUENCED && frame.seq <= backlog_end {
                    if frame.seq == backlog_end {
                        self.stats.history_s = Some((now - logging_in).as_secs_f64());
                    }
                    continue;
                }
                self.handle(frame.message, now);
            }
            self.publish();
            self.shared.wake_sender();
            let final_sent = self.shared.final_sent.load(Ordering::Acquire);
            if final_sent != u64::MAX {
                let answered = self.shared.answered.load(Ordering::Acquire);
                let until = *drain_until.get_or_insert_with(|| Instant::now() + DRAIN);
                if answered >= final_sent || Instant::now() >= until {
                    return Ok(());
                }
            }
            wire.fill()?;
        }
    }

    fn answered(&mut self) {
        self.chunk.answered += 1;
    }

    /// Publishes one read's counts and the position.
    fn publish(&mut self) {
        let chunk = std::mem::take(&mut self.chunk);
        if chunk.answered > 0 {
            self.shared
                .answered
                .fetch_add(chunk.answered, Ordering::Release);
        }
        if chunk.accepted > 0 {
            self.progress
                .accepted
                .fetch_add(chunk.accepted, Ordering::Relaxed);
        }
        if chunk.fills > 0 {
            self.progress
                .fills
                .fetch_add(chunk.fills, Ordering::Relaxed);
            self.shared
                .net_bought_t
                .store(self.net_bought_t, Ordering::Relaxed);
        }
    }

    fn gone(&mut self, client_order_id: u64) {
        self.live.remove(&client_order_id);
        self.shared.set_gone(client_order_id, true);
    }

    /// Takes one report, read at `now`, into the session's state and
    /// statistics.
    fn handle(&mut self, message: ServerMessage, now: Instant) {
        match message {
            ServerMessage::OrderAccepted {
                client_order_id, ..
            } => {
                if let Some(live) = self.live.get_mut(&client_order_id) {
                    if !live.acked {
                        live.acked = true;
                        let ns = nanos(now.saturating_duration_since(live.due));
                        self.stats.ack_ns.saturating_record(ns);
                        self.stats.accepted += 1;
                        self.chunk.accepted += 1;
                        self.answered();
                    }
                }
            }
            ServerMessage::OrderRejected {
                client_order_id,
                request,
                reason,
                ..
            } => match request {
                // The load never takes; a take would be answered as an order.
                RequestKind::NewOrder | RequestKind::Take => {
                    if let Some(live) = self.live.get(&client_order_id) {
                        if !live.acked {
                            self.answered();
                        }
                    }
                    self.gone(client_order_id);
                    self.stats.rejected += 1;
                    *self.reject_reasons.entry(reason).or_insert(0) += 1;
                }
                RequestKind::Cancel | RequestKind::Amend => {
                    self.stats.cancel_rejected += 1;
                    *self.cancel_reject_reasons.entry(reason).or_insert(0) += 1;
                }
            },
            ServerMessage::Fill {
                client_order_id,
                quantity_t,
                leaves_t,
                aggressor,
                ..
            } => {
                self.stats.fills += 1;
                self.chunk.fills += 1;
                if let Some(live) = self.live.get_mut(&client_order_id) {
                    let quantity_t = i64::try_from(quantity_t).unwrap_or(i64::MAX);
                    self.net_bought_t = match live.side {
                        Side::Buy => self.net_bought_t.saturating_add(quantity_t),
                        Side::Sell => self.net_bought_t.saturating_sub(quantity_t),
                    };
                    if aggressor && !live.timed_fill {
                        live.timed_fill = true;
                        let ns = nanos(now.saturating_duration_since(live.due));
                        self.stats.fill_ns.saturating_record(ns);
                    }
                    if leaves_t == 0 {
                        self.gone(client_order_id);
                    }
                }
            }
            ServerMessage::Cancelled {
                client_order_id, ..
            }
            | ServerMessage::Expired {
                client_order_id, ..
            } => self.gone(client_order_id),
            _ => {}
        }
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
