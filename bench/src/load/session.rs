//! One broker session of the load tester: logs in, sends its flow open or
//! closed loop, reads its reports, and records latencies.
//!
//! **Open loop** ([`Pace::Open`]): order `i` is due at `start + i ×
//! interval`. Whenever the session is free it sends every order already
//! due, and each order's latency is measured from its *due* time, not from
//! when it was written, so a server that falls behind is charged for the
//! wait (no coordinated omission).
//!
//! **Closed loop** ([`Pace::Closed`]): at most `in_flight` new orders
//! await their `OrderAccepted` or `OrderRejected`; the session sends
//! whenever one comes back. Latency is measured from the write.
//!
//! Either way, sending stops at the deadline or after `max_orders`, then
//! the session waits up to [`DRAIN`] for the outstanding answers, and logs
//! out (the demo brokers cancel on disconnect, which clears their resting
//! orders).
//!
//! Latencies: order→ack is due time to `OrderAccepted`; order→fill is due
//! time to the first `Fill` of an order that traded on arrival (the Fill's
//! `aggressor` flag). A resting order's fill, which waits on the market
//! rather than on the server, is counted but not timed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cetx_gateway::client::{Client, ClientError};
use cetx_gateway::protocol::{ClientMessage, RequestKind, ServerMessage, Side};
use hdrhistogram::Histogram;
use rustc_hash::FxHashMap;
use tokio::time::{sleep_until, Instant};

use super::flow::{MidPath, SessionFlow, RESTING_TARGET};

/// How long a session waits for outstanding answers after it stops sending.
pub const DRAIN: Duration = Duration::from_secs(5);
/// The most orders an open-loop session writes in one go before it reads
/// its reports again, so a late session does not starve its reader.
const BATCH_MAX: u32 = 256;

/// How a session paces its orders.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// One order every `interval`, from the intended send times.
    Open {
        /// Time between two orders' due times.
        interval: Duration,
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
    /// `OrderRejected` of cancels (the order had already traded or gone).
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
}

/// A new histogram for latencies from 1 ns to 60 s, 3 significant digits.
#[must_use]
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("constant bounds are valid")
}

/// An order the session still hears about.
#[derive(Clone, Copy, Debug)]
struct Live {
    due: Instant,
    side: Side,
    acked: bool,
    timed_fill: bool,
}

struct State {
    flow: SessionFlow,
    live: FxHashMap<u64, Live>,
    /// Accepted passive orders, some of which may since have gone: a
    /// cancel candidate is checked against `live` when picked.
    resting: Vec<u64>,
    outstanding: usize,
    stats: SessionStats,
    reject_reasons: FxHashMap<u16, u64>,
}

/// Runs one session to the end of its plan.
///
/// # Errors
/// The client's failures: login, the connection, a sequence gap.
pub async fn run_session(
    plan: SessionPlan,
    progress: Arc<Progress>,
) -> Result<SessionStats, ClientError> {
    let mut client = connect(&plan).await?;
    let mut state = State {
        flow: SessionFlow::new(plan.seed, plan.account, plan.first_client_order_id),
        live: FxHashMap::default(),
        resting: Vec::with_capacity(RESTING_TARGET * 2),
        outstanding: 0,
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
        },
        reject_reasons: FxHashMap::default(),
    };
    let mut next_due = plan.start;
    sleep_until(plan.start).await;
    loop {
        let now = Instant::now();
        if now >= plan.deadline || state.stats.sent >= plan.max_orders {
            break;
        }
        match plan.pace {
            Pace::Open { interval } => {
                tokio::select! {
                    biased;
                    () = sleep_until(next_due) => {
                        let mut batch = 0;
                        while next_due <= Instant::now()
                            && next_due < plan.deadline
                            && state.stats.sent < plan.max_orders
                            && batch < BATCH_MAX
                        {
                            send_one(&mut client, &mut state, &plan, next_due).await?;
                            progress.sent.fetch_add(1, Ordering::Relaxed);
                            next_due += interval;
                            batch += 1;
                        }
                        client.flush().await?;
                    }
                    report = client.next_report(Duration::from_secs(1)) => {
                        if let Some(frame) = report? {
                            handle(&mut state, &progress, frame.message);
                        }
                        drain_buffered(&mut client, &mut state, &progress)?;
                    }
                }
            }
            Pace::Closed { in_flight } => {
                let now = Instant::now();
                while state.outstanding < in_flight && state.stats.sent < plan.max_orders {
                    send_one(&mut client, &mut state, &plan, now).await?;
                    progress.sent.fetch_add(1, Ordering::Relaxed);
                }
                client.flush().await?;
                let wait = plan.deadline.saturating_duration_since(Instant::now());
                if let Some(frame) = client.next_report(wait).await? {
                    handle(&mut state, &progress, frame.message);
                }
                drain_buffered(&mut client, &mut state, &progress)?;
            }
        }
    }
    state.stats.sending_s = plan.start.elapsed().as_secs_f64();
    let drain_until = Instant::now() + DRAIN;
    while state.outstanding > 0 {
        let wait = drain_until.saturating_duration_since(Instant::now());
        match client.next_report(wait).await? {
            Some(frame) => handle(&mut state, &progress, frame.message),
            None => break,
        }
    }
    state.stats.unanswered = state.outstanding as u64;
    state.stats.net_bought_t = state.flow.net_bought_t();
    let mut reasons: Vec<(u16, u64)> = state.reject_reasons.into_iter().collect();
    reasons.sort_unstable();
    state.stats.reject_reasons = reasons;
    // The reports the logout brings (cancels of the resting orders) are
    // not measured.
    client.logout(Duration::from_secs(2)).await.ok();
    Ok(state.stats)
}

/// Takes every report already read from the socket, without waiting.
fn drain_buffered(
    client: &mut Client,
    state: &mut State,
    progress: &Progress,
) -> Result<(), ClientError> {
    while let Some(frame) = client.try_next_report()? {
        handle(state, progress, frame.message);
    }
    Ok(())
}

/// Logs in and skips the reports of earlier runs (a reused server has
/// them): the session starts from the server's last sequence number.
async fn connect(plan: &SessionPlan) -> Result<Client, ClientError> {
    let mut client = Client::connect(plan.addr, plan.broker_id, &plan.secret, 0).await?;
    let backlog_end = client.server_last_seq();
    while client.last_seq() < backlog_end {
        if client.next_report(Duration::from_secs(10)).await?.is_none() {
            return Err(ClientError::Closed);
        }
    }
    Ok(client)
}

/// Queues the flow's next order, due at `due`, and a cancel of one of the
/// session's resting orders first when it holds more than its target; the
/// caller flushes the batch.
async fn send_one(
    client: &mut Client,
    state: &mut State,
    plan: &SessionPlan,
    due: Instant,
) -> Result<(), ClientError> {
    while state.resting.len() > RESTING_TARGET {
        let index = state.flow.pick(state.resting.len());
        let id = state.resting.swap_remove(index);
        if state.live.contains_key(&id) {
            client
                .feed(ClientMessage::Cancel {
                    client_order_id: id,
                })
                .await?;
            state.stats.cancels_sent += 1;
            break;
        }
    }
    let mid_ticks = plan
        .mid
        .mid_ticks(due.saturating_duration_since(plan.start));
    let (order, passive) = state.flow.next_order(mid_ticks);
    let id = order.client_order_id;
    let side = order.side;
    client.feed(order.into()).await?;
    state.live.insert(
        id,
        Live {
            due,
            side,
            acked: false,
            timed_fill: false,
        },
    );
    if passive {
        state.resting.push(id);
    }
    state.outstanding += 1;
    state.stats.sent += 1;
    Ok(())
}

/// Takes one report into the session's state and statistics.
fn handle(state: &mut State, progress: &Progress, message: ServerMessage) {
    let now = Instant::now();
    match message {
        ServerMessage::OrderAccepted {
            client_order_id, ..
        } => {
            if let Some(live) = state.live.get_mut(&client_order_id) {
                if !live.acked {
                    live.acked = true;
                    state.outstanding -= 1;
                    state.stats.accepted += 1;
                    progress.accepted.fetch_add(1, Ordering::Relaxed);
                    let ns = nanos(now.saturating_duration_since(live.due));
                    state.stats.ack_ns.saturating_record(ns);
                }
            }
        }
        ServerMessage::OrderRejected {
            client_order_id,
            request,
            reason,
            ..
        } => match request {
            RequestKind::NewOrder => {
                if let Some(live) = state.live.remove(&client_order_id) {
                    if !live.acked {
                        state.outstanding -= 1;
                    }
                }
                state.stats.rejected += 1;
                *state.reject_reasons.entry(reason).or_insert(0) += 1;
            }
            RequestKind::Cancel | RequestKind::Amend => state.stats.cancel_rejected += 1,
        },
        ServerMessage::Fill {
            client_order_id,
            quantity_t,
            leaves_t,
            aggressor,
            ..
        } => {
            state.stats.fills += 1;
            progress.fills.fetch_add(1, Ordering::Relaxed);
            if let Some(live) = state.live.get_mut(&client_order_id) {
                state.flow.observe_fill(live.side, quantity_t);
                if aggressor && !live.timed_fill {
                    live.timed_fill = true;
                    let ns = nanos(now.saturating_duration_since(live.due));
                    state.stats.fill_ns.saturating_record(ns);
                }
                if leaves_t == 0 {
                    state.live.remove(&client_order_id);
                }
            }
        }
        ServerMessage::Cancelled {
            client_order_id, ..
        }
        | ServerMessage::Expired {
            client_order_id, ..
        } => {
            state.live.remove(&client_order_id);
        }
        _ => {}
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
