//! `cetx-soak`: the market's age in one process. The runtime of the load
//! tester's config runs on a manual clock for several trading days, each
//! with a set number of orders from the two demo brokers, and the run
//! measures what a year of trading must not grow: the process's resident
//! memory after each day's close (when every order has expired, so the
//! live book holds nothing), the time a restart takes on what was written,
//! and how fast a broker's whole history is read back on a resume from 0.
//!
//! No sockets: requests go through [`RuntimeHandle::submit`] and reports
//! come back on each broker's [`Subscription`], as a session would use
//! them, so the figures are the runtime's and not the network's.
//!
//! Each broker's flow is the load tester's ([`SessionFlow`]) around a fixed
//! mid, its resting orders held near [`RESTING_TARGET`] by cancels of
//! random ones (some of which have traded by then, and are refused: the
//! rejected-cancel path is part of the history). The clock stands still
//! during a day; between days it moves to one second after the calendar's
//! end of day, then to one second after the next trading day's open, and a
//! probe order waits until the engine has applied both.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cetx_engine::calendar::Transition;
use cetx_engine::{BrokerId, Phase};
use cetx_gateway::config::{Durability, ServerConfig};
use cetx_gateway::protocol::{ClientMessage, RequestKind, ServerFrame, ServerMessage, Side};
use cetx_gateway::request;
use cetx_gateway::runtime::{
    Clock, Request, Runtime, RuntimeHandle, RuntimeOptions, SubmitError, Subscription, TryRecvError,
};

use crate::load::flow::{SessionFlow, MID_START_TICKS, RESTING_TARGET};
use crate::load::spawn::load_config;

/// Monday 30 November 2026, 13:00:05 in Shanghai: a trading day's
/// afternoon session, where the first day trades.
pub const FIRST_DAY_NS: i64 = 1_796_014_805 * 1_000_000_000;

/// New orders a broker may have sent and not yet heard answered.
const WINDOW: u64 = 4_096;

/// The demo brokers and the compliance account each one trades for.
const TRADERS: [(BrokerId, u32); 2] = [(BrokerId(1), 1001), (BrokerId(2), 2001)];

/// What a soak run is asked to do.
#[derive(Clone, Debug)]
pub struct SoakOptions {
    /// Trading days to play.
    pub days: u32,
    /// New orders per day, over both brokers.
    pub orders_per_day: u64,
    /// The journal's durability.
    pub durability: Durability,
    /// Entries between two snapshots (the config's when `None`).
    pub snapshot_every: Option<u64>,
    /// The flows' seed.
    pub seed: u64,
    /// The data directory (it must not hold a journal yet).
    pub data_dir: PathBuf,
    /// Give up after this long.
    pub time_limit: Duration,
    /// Restarts to time on the journal written (at least 1).
    pub restarts: u32,
}

/// What one trading day measured, after its close.
#[derive(Clone, Copy, Debug)]
pub struct DayFigures {
    /// The trading day, `YYYYMMDD`.
    pub trading_date: u32,
    /// New orders sent that day.
    pub orders: u64,
    /// Seconds the day's orders took, first sent to last answered.
    pub seconds: f64,
    /// Resident memory after the close, bytes.
    pub rss_bytes: u64,
}

/// What a soak run measured.
#[derive(Clone, Debug)]
pub struct SoakReport {
    /// Each day, in order.
    pub days: Vec<DayFigures>,
    /// The highest resident memory of the process, bytes.
    pub peak_rss_bytes: u64,
    /// Reports broker 1 had when its history was read back from 0.
    pub resumed_reports: u64,
    /// Seconds that read-back took.
    pub resume_seconds: f64,
    /// Seconds each `Runtime::start` took on the journal the run wrote.
    pub restart_seconds: Vec<f64>,
    /// Resident memory right after that restart, bytes.
    pub restart_rss_bytes: u64,
    /// Entries the journal took during the run (the genesis not counted).
    pub entries: u64,
}

/// Why a soak run stopped.
#[derive(Debug, thiserror::Error)]
pub enum SoakError {
    /// The runtime failed to start or stop.
    #[error("the runtime: {0}")]
    Runtime(#[from] cetx_gateway::runtime::RuntimeError),
    /// The runtime stopped answering or refused a broker.
    #[error("{0}")]
    Broken(String),
    /// The run took longer than its limit.
    #[error("gave up after {0:?} (--time-limit)")]
    TimedOut(Duration),
}

/// One broker as the run drives it.
struct Trader {
    broker: BrokerId,
    flow: SessionFlow,
    subscription: Subscription,
    /// New orders sent and not yet accepted or rejected.
    outstanding: u64,
    /// Client order ids of accepted passive orders, maybe since traded.
    resting: Vec<u64>,
    /// Passive orders sent, by client order id: kept on acceptance.
    passive_sent: rustc_hash::FxHashSet<u64>,
    net_bought_t: i64,
    /// The last report's sequence number.
    last_seq: u64,
}

/// Runs the soak test.
///
/// # Errors
/// See [`SoakError`].
pub fn run(options: &SoakOptions) -> Result<SoakReport, SoakError> {
    let deadline = Instant::now() + options.time_limit;
    let config = soak_config(options);
    let clock = Clock::manual(FIRST_DAY_NS);
    let runtime = start(&config, &clock)?;
    let handle = runtime.handle();
    let mut traders = Vec::new();
    for (i, &(broker, account)) in TRADERS.iter().enumerate() {
        let subscription = handle
            .connect(broker, 0)
            .map_err(|reason| SoakError::Broken(format!("broker {}: {reason:?}", broker.0)))?;
        traders.push(Trader {
            broker,
            flow: SessionFlow::new(options.seed + i as u64, account, 1),
            subscription,
            outstanding: 0,
            resting: Vec::new(),
            passive_sent: rustc_hash::FxHashSet::default(),
            net_bought_t: 0,
            last_seq: 0,
        });
    }
    let mut days = Vec::new();
    for _ in 0..options.days {
        let trading_date = handle.trading_date();
        let started = Instant::now();
        trade_one_day(
            &handle,
            &config,
            &mut traders,
            options.orders_per_day,
            deadline,
        )?;
        let seconds = started.elapsed().as_secs_f64();
        next_transition(
            &handle,
            &config,
            &mut traders,
            |t| matches!(t, Transition::EndOfDay { .. }),
            deadline,
        )?;
        for trader in &mut traders {
            trader.resting.clear();
        }
        days.push(DayFigures {
            trading_date,
            orders: options.orders_per_day,
            seconds,
            rss_bytes: resident_bytes().0,
        });
        next_transition(
            &handle,
            &config,
            &mut traders,
            |t| t == Transition::Phase(Phase::Continuous),
            deadline,
        )?;
    }
    let entries = runtime.journal_stats().map_or(0, |s| s.entries);
    // A resume from 0 takes over broker 1's session and reads it all.
    let last = traders[0].last_seq;
    let started = Instant::now();
    let mut resumed = handle
        .connect(TRADERS[0].0, 0)
        .map_err(|reason| SoakError::Broken(format!("resume: {reason:?}")))?;
    let resumed_reports = read_all(&mut resumed, last, deadline)?;
    let resume_seconds = started.elapsed().as_secs_f64();
    drop(resumed);
    drop(traders);
    runtime.shutdown()?;
    std::fs::write(
        options.data_dir.join(CLOCK_FILE),
        clock.now_ns().to_string(),
    )
    .map_err(|e| SoakError::Broken(format!("writing {CLOCK_FILE}: {e}")))?;
    let (restart_seconds, restart_rss_bytes) = time_restarts(&config, &clock, options.restarts)?;
    Ok(SoakReport {
        days,
        peak_rss_bytes: resident_bytes().1,
        resumed_reports,
        resume_seconds,
        restart_seconds,
        restart_rss_bytes,
        entries,
    })
}

/// The file in a run's data directory that holds its clock at the end,
/// nanoseconds since the epoch, for [`restart_only`].
pub const CLOCK_FILE: &str = "soak-clock";

/// The load tester's config as a soak run uses it.
fn soak_config(options: &SoakOptions) -> ServerConfig {
    let mut config = load_config(&ServerConfig::embedded_default());
    config.journal.durability = options.durability;
    config.server.data_dir.clone_from(&options.data_dir);
    if let Some(every) = options.snapshot_every {
        config.journal.snapshot_every = every;
    }
    config
}

/// Starts and stops the runtime `restarts` times (at least once); the
/// seconds each start took, and the resident memory after the last.
fn time_restarts(
    config: &ServerConfig,
    clock: &Clock,
    restarts: u32,
) -> Result<(Vec<f64>, u64), SoakError> {
    let mut seconds = Vec::new();
    let mut rss_bytes = 0;
    for _ in 0..restarts.max(1) {
        let started = Instant::now();
        let restarted = start(config, clock)?;
        seconds.push(started.elapsed().as_secs_f64());
        rss_bytes = resident_bytes().0;
        restarted.shutdown()?;
    }
    Ok((seconds, rss_bytes))
}

/// Only the restarts, on the data directory of an earlier run
/// (`options.data_dir`, kept), at the clock it ended on: the seconds each
/// start took, and the resident memory after the last.
///
/// # Errors
/// See [`SoakError`]; a directory with no [`CLOCK_FILE`] is not a run's.
pub fn restart_only(options: &SoakOptions) -> Result<(Vec<f64>, u64), SoakError> {
    let path = options.data_dir.join(CLOCK_FILE);
    let clock_ns = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| text.trim().parse::<i64>().ok())
        .ok_or_else(|| SoakError::Broken(format!("{} holds no clock", path.display())))?;
    time_restarts(
        &soak_config(options),
        &Clock::manual(clock_ns),
        options.restarts,
    )
}

fn start(config: &ServerConfig, clock: &Clock) -> Result<Runtime, SoakError> {
    let mut options = RuntimeOptions::new(&config.server.data_dir);
    options.clock = clock.clone();
    Ok(Runtime::start(config, options)?)
}

/// Sends `orders` new orders over the traders, with cancels keeping their
/// resting orders near the target, and waits until each is answered.
fn trade_one_day(
    handle: &RuntimeHandle,
    config: &ServerConfig,
    traders: &mut [Trader],
    orders: u64,
    deadline: Instant,
) -> Result<(), SoakError> {
    let per_trader = orders / traders.len() as u64;
    let mut sent = vec![0_u64; traders.len()];
    loop {
        let mut idle = true;
        for (trader, sent) in traders.iter_mut().zip(&mut sent) {
            while *sent < per_trader && trader.outstanding < WINDOW {
                if trader.resting.len() > RESTING_TARGET {
                    let at = trader.flow.pick(trader.resting.len());
                    let client_order_id = trader.resting.swap_remove(at);
                    let cancel = ClientMessage::Cancel { client_order_id };
                    if !submit(handle, config, trader.broker, &cancel)? {
                        trader.resting.push(client_order_id);
                        break;
                    }
                }
                let (order, passive) = trader.flow.next_order(MID_START_TICKS);
                let client_order_id = order.client_order_id;
                if !submit(handle, config, trader.broker, &order.into())? {
                    // Busy: the same id is sent again as a fresh order.
                    break;
                }
                if passive {
                    trader.passive_sent.insert(client_order_id);
                }
                trader.outstanding += 1;
                *sent += 1;
                idle = false;
            }
            idle &= !drain(trader)?;
        }
        let done = traders
            .iter()
            .zip(&sent)
            .all(|(t, &s)| s == per_trader && t.outstanding == 0);
        if done {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(SoakError::TimedOut(deadline.elapsed()));
        }
        if idle {
            std::thread::yield_now();
        }
    }
}

/// Moves the clock one second past the next calendar transition that
/// `wanted` picks, and waits until the engine has applied it: a probe
/// order from the first trader is answered after it.
fn next_transition(
    handle: &RuntimeHandle,
    config: &ServerConfig,
    traders: &mut [Trader],
    wanted: impl Fn(Transition) -> bool,
    deadline: Instant,
) -> Result<(), SoakError> {
    let now = handle.now_ns();
    let week_ns = 7 * 86_400 * 1_000_000_000;
    let Some((at, _)) = handle
        .calendar()
        .transitions(now, now + week_ns)
        .into_iter()
        .find(|&(_, t)| wanted(t))
    else {
        return Err(SoakError::Broken("no transition within a week".into()));
    };
    handle
        .set_time(at + 1_000_000_000)
        .map_err(|e| SoakError::Broken(e.to_string()))?;
    let trader = &mut traders[0];
    let (mut probe, _) = trader.flow.next_order(MID_START_TICKS);
    probe.quantity_t = 1;
    while !submit(handle, config, trader.broker, &probe.clone().into())? {
        drain(trader)?;
    }
    trader.outstanding += 1;
    loop {
        drain(trader)?;
        if trader.outstanding == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(SoakError::TimedOut(deadline.elapsed()));
        }
        std::thread::yield_now();
    }
}

/// Submits a message; `false` when the engine's queue is full.
fn submit(
    handle: &RuntimeHandle,
    config: &ServerConfig,
    broker: BrokerId,
    message: &ClientMessage,
) -> Result<bool, SoakError> {
    let request: Request = match request::parse(message, |s| config.instrument_id(s)) {
        Some(Ok(request)) => request,
        other => return Err(SoakError::Broken(format!("not a request: {other:?}"))),
    };
    match handle.submit(broker, request) {
        Ok(()) => Ok(true),
        Err(SubmitError::Busy) => Ok(false),
        Err(SubmitError::Stopped) => Err(SoakError::Broken("the runtime stopped".into())),
    }
}

/// Takes every report waiting for the trader; whether there was any.
fn drain(trader: &mut Trader) -> Result<bool, SoakError> {
    let mut any = false;
    loop {
        match trader.subscription.try_recv() {
            Ok(frame) => {
                any = true;
                take(trader, &frame);
            }
            Err(TryRecvError::Empty) => return Ok(any),
            Err(TryRecvError::Disconnected) => {
                return Err(SoakError::Broken(format!(
                    "broker {}'s subscription ended",
                    trader.broker.0
                )))
            }
        }
    }
}

fn take(trader: &mut Trader, frame: &ServerFrame) {
    trader.last_seq = trader.last_seq.max(frame.seq);
    match frame.message {
        ServerMessage::OrderAccepted {
            client_order_id, ..
        } => {
            trader.outstanding -= 1;
            if trader.passive_sent.remove(&client_order_id) {
                trader.resting.push(client_order_id);
            }
        }
        ServerMessage::OrderRejected {
            client_order_id,
            request: RequestKind::NewOrder,
            ..
        } => {
            trader.outstanding -= 1;
            trader.passive_sent.remove(&client_order_id);
        }
        ServerMessage::Fill {
            side, quantity_t, ..
        } => {
            let signed = i64::try_from(quantity_t).unwrap_or(i64::MAX);
            trader.net_bought_t += if side == Side::Buy { signed } else { -signed };
            trader.flow.set_net_bought_t(trader.net_bought_t);
        }
        _ => {}
    }
}

/// Reads a resumed subscription until its report `last`; how many came.
fn read_all(
    subscription: &mut Subscription,
    last: u64,
    deadline: Instant,
) -> Result<u64, SoakError> {
    let mut count = 0;
    loop {
        match subscription.try_recv() {
            Ok(frame) => {
                count += 1;
                if frame.seq >= last {
                    return Ok(count);
                }
            }
            Err(TryRecvError::Empty) => std::thread::yield_now(),
            Err(TryRecvError::Disconnected) => {
                return Err(SoakError::Broken("the resumed subscription ended".into()))
            }
        }
        if Instant::now() > deadline {
            return Err(SoakError::TimedOut(deadline.elapsed()));
        }
    }
}

/// This process's resident memory now and at its highest (`VmRSS`,
/// `VmHWM`), bytes; 0 where `/proc` does not say.
#[must_use]
pub fn resident_bytes() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A fresh data directory for a run under `parent`.
///
/// # Errors
/// Creating it.
pub fn temp_dir(parent: &Path) -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("cetx-soak-")
        .tempdir_in(parent)
}
