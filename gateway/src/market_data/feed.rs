//! The feed server: one task per subscriber, on the feed's own listener.
//!
//! A subscriber sends `Subscribe` (symbols and a depth) and gets, for each
//! instrument, a `Snapshot` followed by its levels, then updates: trades,
//! levels that changed within its depth, the day's figures, phase, band
//! and the end of the day. Its task keeps a copy of its instruments
//! ([`View`](super::state::View)), applies each batch from the ring, and sends the difference
//! between what the subscriber was shown and the top `depth` levels now,
//! so a level that comes into view is sent, and one that leaves it is sent
//! as removed. A subscriber that asked for the order view
//! (`SubscribeOrders`) also gets the orders of the best levels the same
//! way: its task keeps the view's levels as the batches made them and
//! sends each that differs from what it was shown.
//!
//! A connection must follow an instrument within
//! `market_data.subscribe_timeout_ms`, or it is closed: it holds a place
//! among `max_subscribers`. `Subscribe`s cost snapshots, so they are
//! budgeted (8 at once, then one a second); one past the budget is
//! answered 407.
//!
//! Each subscriber's updates go out at most every
//! `market_data.flush_interval_ms`: what the ring took meanwhile is sent in
//! one write (trades and all), which keeps the writes, and the wake-ups
//! of a busy market, to a few hundred a second per subscriber.
//!
//! A subscriber that falls behind, in three steps (each in
//! `docs/MARKET_DATA.md`):
//! 1. more than `conflate_after` batches came while its last write waited
//!    on its socket (not counting those of the pause between writes, which
//!    a reader that keeps up also has waiting): it takes all that wait at
//!    once, and is sent only the newest state of each level and the
//!    newest figures; the trades in between are left out, and each
//!    instrument's `seq` jumps by the messages left out, so the gap shows;
//! 2. the ring overwrote batches it had not read: a fresh snapshot of each
//!    of its instruments;
//! 3. a third such snapshot within a minute: `Rejected` 408 and the
//!    connection is closed. A write that takes longer than
//!    `write_timeout` closes it with no message (none could be written).
//!
//! Nothing it does makes the publisher wait: the ring is bounded, and the
//! memory a subscriber holds is its copy of its instruments and one
//! socket buffer.
//!
//! Every connection the server refuses (412, with the limit that was
//! full) or closes for what it sent or did not send (414, 415, the idle
//! timeout, no instrument followed in time) is counted and logged as
//! `closes.rs` says; one that falls behind, as the slow readers above.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use cetx_engine::RejectReason;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, Semaphore};
use tokio::task::JoinSet;
use tokio_util::codec::{Encoder, Framed};
use tokio_util::sync::CancellationToken;

use super::closes::CloseLog;
use super::followed::Followed;
use super::state::Update;
use super::{Batch, Closed, MarketData, OrderViewTicket, Refused, SlowReaderClose};
use crate::codec::{DecodeError, FeedServerCodec};
use crate::config::MarketDataSettings;
use crate::listen::PerAddress;
use crate::protocol::feed::{FeedMessage, FeedRequest, MAX_FEED_FRAME};
use crate::protocol::{HEARTBEAT_INTERVAL, IDLE_TIMEOUT};
use crate::reports::reject_text;
use crate::server::LOG_FLUSH_PERIOD;

/// Fresh snapshots a subscriber may need within [`LAG_WINDOW`] before it
/// is disconnected.
const MAX_RESNAPSHOTS: usize = 2;

/// The window [`MAX_RESNAPSHOTS`] counts in.
const LAG_WINDOW: Duration = Duration::from_secs(60);

/// A bound feed server, ready to [`FeedServer::run`].
#[derive(Debug)]
pub struct FeedServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    market: MarketData,
    settings: MarketDataSettings,
}

impl FeedServer {
    /// Binds `settings.listen` (port 0 picks a free port).
    ///
    /// # Errors
    /// The operating system's, when the address cannot be bound.
    pub async fn bind(market: MarketData, settings: MarketDataSettings) -> io::Result<Self> {
        let listener = TcpListener::bind(settings.listen).await?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
            market,
            settings,
        })
    }

    /// The address the feed listens on.
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Accepts subscribers until `shutdown` is cancelled, then closes
    /// them.
    pub async fn run(self, shutdown: CancellationToken) {
        let limit = Arc::new(Semaphore::new(self.settings.max_subscribers));
        let per_address = PerAddress::default();
        let log = Arc::new(CloseLog::new());
        let mut flush = tokio::time::interval(LOG_FLUSH_PERIOD);
        let mut tasks = JoinSet::new();
        tracing::info!(addr = %self.local_addr, "publishing market data");
        let mut accept_failures = crate::listen::AcceptFailures::new("market data");
        let refusal = refusal_bytes();
        loop {
            while tasks.try_join_next().is_some() {}
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = flush.tick() => log.flush(),
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let address = per_address.take(peer.ip(), self.settings.max_subscribers_per_address);
                        let place = Arc::clone(&limit).try_acquire_owned().ok();
                        match (address, place) {
                            (Some(address), Some(place)) => {
                                tracing::debug!(%peer, "feed connection accepted");
                                let _ = stream.set_nodelay(true);
                                let _ = socket2::SockRef::from(&stream)
                                    .set_send_buffer_size(self.settings.send_buffer);
                                let conn = Framed::new(stream, codec());
                                let subscriber = Subscriber::new(conn, peer, self.market.clone(), self.settings.clone());
                                let (token, log) = (shutdown.clone(), Arc::clone(&log));
                                tasks.spawn(async move {
                                    subscriber.run(token, &log).await;
                                    drop((address, place));
                                });
                            }
                            (address, _) => {
                                let why = if address.is_none() {
                                    Refused::MaxSubscribersPerAddress
                                } else {
                                    Refused::MaxSubscribers
                                };
                                // Before it is told, so that a metrics page
                                // read once it knows counts it.
                                self.market.count_refused(why);
                                log.refused(peer, why);
                                crate::server::refuse(&stream, &refusal);
                            }
                        }
                    }
                    Err(error) => accept_failures.after(&error).await,
                },
            }
        }
        tasks.shutdown().await;
    }
}

fn codec() -> FeedServerCodec {
    let mut codec = FeedServerCodec::new(MAX_FEED_FRAME, MAX_FEED_FRAME);
    codec.set_logged_in(true);
    codec
}

fn rejected(reason: RejectReason) -> FeedMessage {
    rejected_saying(reason, reject_text(reason))
}

/// A `Rejected` with `text`, cut to what the feed carries (128 bytes, at
/// a character's edge).
fn rejected_saying(reason: RejectReason, mut text: String) -> FeedMessage {
    crate::session::truncate_text(&mut text);
    FeedMessage::Rejected {
        reason: reason.code(),
        text,
    }
}

/// The bytes of `Rejected` 412, the answer to a connection over a
/// subscriber limit.
fn refusal_bytes() -> BytesMut {
    let mut bytes = BytesMut::new();
    codec()
        .encode(rejected(RejectReason::TooManyConnections), &mut bytes)
        .expect("a Rejected 412 fits any frame limit");
    bytes
}

/// `Subscribe`s a subscriber may send at once; beyond them, one every
/// [`SUBSCRIBE_INTERVAL`]. More are answered `Rejected` 407 and change
/// nothing: each costs a snapshot of every instrument it names (up to
/// about 30 KB for a deep book), for a 30-byte request.
const SUBSCRIBE_BURST: u32 = 8;
/// See [`SUBSCRIBE_BURST`].
const SUBSCRIBE_INTERVAL: Duration = Duration::from_secs(1);

/// Why a subscriber's task ends.
enum End {
    /// The subscriber left: its socket ended (inside a frame too) or
    /// failed.
    Left,
    /// The server is stopping (or the market's updates ended).
    Stopping,
    /// It broke a rule of the feed (what was wrong, in words: the frame's
    /// fault, or the timeout's): told the reject code if the rule has one
    /// ([`Closed::told`]) with those words, then closed.
    Broke(Closed, String),
    /// It needed a third fresh snapshot within [`LAG_WINDOW`]: told 408,
    /// then closed.
    FellBehind,
    /// A write did not finish within the write timeout: the connection is
    /// dropped at once, its buffers unflushed (they are full).
    Stuck,
}

struct Subscriber {
    conn: Framed<TcpStream, FeedServerCodec>,
    /// Its address, for the log.
    peer: SocketAddr,
    market: MarketData,
    settings: MarketDataSettings,
    followed: Vec<Followed>,
    depth: usize,
    updates: Option<broadcast::Receiver<Batch>>,
    /// Held while it follows an order view.
    order_view: Option<OrderViewTicket>,
    /// When the last fresh snapshots for lagging were sent.
    resnapshots: Vec<Instant>,
    /// When it connected: it must follow an instrument within
    /// `subscribe_timeout_ms` of it.
    connected: Instant,
    /// When its budget of `Subscribe`s is full again (see
    /// [`SUBSCRIBE_BURST`]).
    subscribes_full_at: Instant,
    last_sent: Instant,
    last_heard: Instant,
    /// Batches are not read before this: what comes meanwhile goes out in
    /// one write.
    next_flush: Instant,
    /// Batches waiting when its last write ended, which came while the
    /// write waited on its socket: how far it is behind. Those that come
    /// in the pause between two writes do not count; they are the pace's,
    /// not the reader's.
    behind: usize,
}

impl Subscriber {
    fn new(
        conn: Framed<TcpStream, FeedServerCodec>,
        peer: SocketAddr,
        market: MarketData,
        settings: MarketDataSettings,
    ) -> Self {
        let now = Instant::now();
        Self {
            conn,
            peer,
            market,
            settings,
            followed: Vec::new(),
            depth: usize::MAX,
            updates: None,
            order_view: None,
            resnapshots: Vec::new(),
            connected: now,
            subscribes_full_at: now,
            last_sent: now,
            last_heard: now,
            next_flush: now,
            behind: 0,
        }
    }

    async fn run(mut self, shutdown: CancellationToken, log: &CloseLog) {
        let end = tokio::select! {
            () = shutdown.cancelled() => End::Stopping,
            end = self.serve() => end,
        };
        // Each is counted before the subscriber is told, so that a metrics
        // page read once it knows counts it.
        let told = match end {
            End::Stuck => {
                self.market
                    .count_slow_reader_close(SlowReaderClose::WriteTimeout);
                tracing::info!(peer = %self.peer, timeout_ms = self.settings.write_timeout_ms,
                    "closed a feed subscriber that does not read: a write waited past the write timeout");
                return;
            }
            End::FellBehind => {
                self.market
                    .count_slow_reader_close(SlowReaderClose::Resnapshots);
                tracing::info!(peer = %self.peer,
                    "closed a feed subscriber that fell behind: a third fresh snapshot within a minute (408)");
                // The feed's 408 is the reader's "too slow", not the
                // server's "busy" (MARKET_DATA.md, *Slow readers*).
                let reason = RejectReason::ServerBusy;
                let text = "too slow: a third fresh snapshot within a minute".to_owned();
                Some(rejected_saying(reason, text))
            }
            End::Broke(why, detail) => {
                self.market.count_closed(why);
                // What was wrong, as the broker port says it too.
                let told = why.told().map(|reason| {
                    rejected_saying(reason, format!("{}: {detail}", reject_text(reason)))
                });
                log.closed(self.peer, why, why.words(&detail));
                told
            }
            End::Left => {
                tracing::debug!(peer = %self.peer, "feed subscriber left");
                None
            }
            End::Stopping => None,
        };
        if let Some(rejected) = told {
            let _ = tokio::time::timeout(self.settings.write_timeout(), async {
                let _ = self.conn.send(rejected).await;
            })
            .await;
        }
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            SinkExt::<FeedMessage>::close(&mut self.conn),
        )
        .await;
    }

    async fn serve(&mut self) -> End {
        // One timer serves the heartbeat, the idle timeout and the
        // deadline to subscribe: moved only when it fires, to whichever is
        // due next by then.
        let timer = tokio::time::sleep_until(self.next_due().into());
        tokio::pin!(timer);
        loop {
            let updates = self.updates.as_mut();
            tokio::select! {
                request = self.conn.next() => match request {
                    None => return End::Left,
                    Some(Err(error)) => return End::from(error),
                    Some(Ok(request)) => {
                        self.last_heard = Instant::now();
                        if let Err(end) = self.request(request).await {
                            return end;
                        }
                    }
                },
                batch = async {
                    // What comes meanwhile waits in the ring, to go out in
                    // the same write.
                    tokio::time::sleep_until(self.next_flush.into()).await;
                    recv(updates).await
                } => {
                    if let Err(end) = self.batch(batch).await {
                        return end;
                    }
                    self.next_flush = Instant::now() + self.settings.flush_interval();
                }
                () = &mut timer => {
                    let now = Instant::now();
                    if now >= self.last_heard + IDLE_TIMEOUT {
                        let words = format!("nothing heard for {} s", IDLE_TIMEOUT.as_secs());
                        return End::Broke(Closed::IdleTimeout, words);
                    }
                    // Heartbeats alone do not hold a subscriber's place.
                    if self.followed.is_empty() && self.subscribe_by().is_some_and(|by| now >= by) {
                        let words = format!(
                            "followed no instrument within subscribe_timeout_ms ({} ms)",
                            self.settings.subscribe_timeout_ms
                        );
                        return End::Broke(Closed::SubscribeTimeout, words);
                    }
                    if now >= self.last_sent + HEARTBEAT_INTERVAL {
                        if let Err(end) = self.send(&[FeedMessage::Heartbeat]).await {
                            return end;
                        }
                    }
                    timer.as_mut().reset(self.next_due().into());
                }
            }
        }
    }

    /// When it must have followed an instrument by (`None`: beyond any
    /// time an `Instant` can hold).
    fn subscribe_by(&self) -> Option<Instant> {
        self.connected
            .checked_add(self.settings.subscribe_timeout())
    }

    /// The next moment the timer has something to check: a heartbeat to
    /// send, the idle timeout, or (while it follows nothing) the deadline
    /// to subscribe.
    fn next_due(&self) -> Instant {
        let due = (self.last_sent + HEARTBEAT_INTERVAL).min(self.last_heard + IDLE_TIMEOUT);
        match self.subscribe_by() {
            Some(by) if self.followed.is_empty() => due.min(by),
            _ => due,
        }
    }

    /// Takes one `Subscribe` from the subscriber's budget: each costs a
    /// snapshot of every instrument it names, so they come
    /// [`SUBSCRIBE_BURST`] at once, then one every [`SUBSCRIBE_INTERVAL`].
    fn take_subscribe(&mut self, now: Instant) -> bool {
        let full_at = self.subscribes_full_at.max(now) + SUBSCRIBE_INTERVAL;
        if full_at > now + SUBSCRIBE_INTERVAL * SUBSCRIBE_BURST {
            return false;
        }
        self.subscribes_full_at = full_at;
        true
    }

    async fn request(&mut self, request: FeedRequest) -> Result<(), End> {
        let (depth, symbols, with_orders) = match request {
            FeedRequest::Subscribe { depth, symbols } => (depth, symbols, false),
            FeedRequest::SubscribeOrders { depth, symbols } => (depth, symbols, true),
            FeedRequest::Heartbeat => return Ok(()),
        };
        if !self.take_subscribe(Instant::now()) {
            return self.send(&[rejected(RejectReason::Throttled)]).await;
        }
        let mut ids = Vec::new();
        for symbol in &symbols {
            match self.market.find(symbol) {
                Some(id) => ids.push(id),
                None => {
                    let refusal = FeedMessage::Rejected {
                        reason: RejectReason::UnknownSymbol.code(),
                        text: format!("{} {symbol}", reject_text(RejectReason::UnknownSymbol)),
                    };
                    return self.send(&[refusal]).await;
                }
            }
        }
        self.depth = if depth == 0 {
            usize::MAX
        } else {
            usize::from(depth)
        };
        // Old and new instruments are taken from one moment, with a fresh
        // receiver; the new ones get a snapshot, the others what changed.
        for id in ids.iter().copied() {
            self.followed.retain(|f| f.id != id);
            self.followed.push(Followed::new(id, with_orders));
        }
        self.refresh(&ids).await
    }

    /// Takes every followed instrument anew from the market: a snapshot
    /// for those in `snapshot`, the differences for the others. What the
    /// old receiver still held goes out first, for the others: their
    /// trades, phases and the like published before the new receiver are
    /// not lost (where it fell behind the ring, every instrument gets a
    /// snapshot).
    async fn refresh(&mut self, snapshot: &[u16]) -> Result<(), End> {
        let ids: Vec<u16> = self.followed.iter().map(|f| f.id).collect();
        let with_orders: Vec<u16> = self
            .followed
            .iter()
            .filter(|f| f.with_orders)
            .map(|f| f.id)
            .collect();
        let subscribed = self
            .market
            .subscribe_with_orders(&ids, &with_orders, self.updates.take());
        self.updates = Some(subscribed.updates);
        self.order_view = subscribed.ticket;
        let mut out = Vec::new();
        let snapshot = match &subscribed.waiting {
            Some(batches) => {
                for batch in batches {
                    self.take(batch, false, snapshot, &mut out);
                }
                snapshot
            }
            None => &ids,
        };
        let depth = self.depth;
        let mut order_views = subscribed.order_views.into_iter();
        for (followed, view) in self.followed.iter_mut().zip(subscribed.views) {
            if followed.with_orders {
                let mut now = [BTreeMap::new(), BTreeMap::new()];
                for (side, price_ticks, level) in order_views.next().unwrap_or_default() {
                    now[usize::from(side == cetx_engine::Side::Sell)].insert(price_ticks, level);
                }
                followed.orders_now = now;
            }
            if snapshot.contains(&followed.id) {
                followed.view = view;
                followed.snapshot(depth, &mut out);
            } else {
                if followed.view.day != view.day {
                    followed.figures_moved = true;
                }
                let offers = std::mem::replace(&mut followed.view, view).offers;
                followed.levels_moved = true;
                followed.changes(depth, &mut out);
                followed.offer_changes(&offers, &mut out);
            }
        }
        self.send(&out).await
    }

    async fn batch(&mut self, batch: Result<Batch, RecvError>) -> Result<(), End> {
        let batch = match batch {
            Ok(batch) => batch,
            Err(RecvError::Closed) => return Err(End::Stopping),
            Err(RecvError::Lagged(_)) => return self.lagged().await,
        };
        let mut out = Vec::new();
        // Past the bound, only the newest state of what is waiting is sent.
        let conflate = self.behind > self.settings.conflate_after;
        self.take(&batch, conflate, &[], &mut out);
        // Everything already waiting goes in the same write.
        while let Some(next) = self.updates.as_mut().map(broadcast::Receiver::try_recv) {
            match next {
                Ok(batch) => self.take(&batch, conflate, &[], &mut out),
                Err(TryRecvError::Lagged(_)) => return self.lagged().await,
                Err(TryRecvError::Closed) => return Err(End::Stopping),
                Err(TryRecvError::Empty) => break,
            }
        }
        let depth = self.depth;
        for followed in &mut self.followed {
            followed.changes(depth, &mut out);
        }
        self.send(&out).await
    }

    /// The ring moved past what this subscriber had read: a fresh snapshot
    /// of each of its instruments, unless it needed too many lately.
    async fn lagged(&mut self) -> Result<(), End> {
        let now = Instant::now();
        self.resnapshots
            .retain(|t| now.duration_since(*t) < LAG_WINDOW);
        if self.resnapshots.len() >= MAX_RESNAPSHOTS {
            return Err(End::FellBehind);
        }
        self.resnapshots.push(now);
        let all: Vec<u16> = self.followed.iter().map(|f| f.id).collect();
        self.refresh(&all).await
    }

    /// Applies a batch to the followed instruments but those in `skip`
    /// (about to get a snapshot); trades, phases, bands and ends of day go
    /// into `out` (trades only when not conflating, or `seq` counts them as
    /// left out).
    fn take(&mut self, batch: &Batch, conflate: bool, skip: &[u16], out: &mut Vec<FeedMessage>) {
        for (id, update) in batch.iter() {
            if skip.contains(id) {
                continue;
            }
            let Some(followed) = self.followed.iter_mut().find(|f| f.id == *id) else {
                continue;
            };
            followed.view.update(update);
            match *update {
                Update::Level {
                    side, price_ticks, ..
                } if self.depth == usize::MAX => followed.touched.push((side, price_ticks)),
                Update::Level {
                    side, price_ticks, ..
                } => {
                    if followed.may_show(self.depth, side, price_ticks) {
                        followed.levels_moved = true;
                    }
                }
                Update::Statistics(_) => followed.figures_moved = true,
                Update::Orders {
                    side,
                    price_ticks,
                    ref level,
                } => {
                    if followed.with_orders {
                        let levels =
                            &mut followed.orders_now[usize::from(side == cetx_engine::Side::Sell)];
                        if level.order_count == 0 {
                            levels.remove(&price_ticks);
                        } else {
                            levels.insert(price_ticks, level.clone());
                        }
                    }
                }
                Update::Trade { .. } if conflate => followed.seq += 1,
                _ => out.push(followed.message(update)),
            }
        }
    }

    /// Sends messages and flushes, within the write timeout.
    async fn send(&mut self, messages: &[FeedMessage]) -> Result<(), End> {
        if messages.is_empty() {
            return Ok(());
        }
        let conn = &mut self.conn;
        let written = tokio::time::timeout(self.settings.write_timeout(), async {
            for message in messages {
                conn.feed(message).await?;
            }
            SinkExt::<&FeedMessage>::flush(conn).await
        })
        .await;
        self.last_sent = Instant::now();
        self.behind = self.updates.as_ref().map_or(0, broadcast::Receiver::len);
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Left),
            Err(_) => Err(End::Stuck),
        }
    }
}

/// The next batch, or never when not subscribed yet.
async fn recv(updates: Option<&mut broadcast::Receiver<Batch>>) -> Result<Batch, RecvError> {
    match updates {
        Some(updates) => updates.recv().await,
        None => std::future::pending().await,
    }
}

impl From<DecodeError> for End {
    /// A frame that is no request, or too long, breaks a rule; a socket
    /// that ended inside a frame or failed is a subscriber that left (as
    /// the broker port has it), not a malformed frame.
    fn from(error: DecodeError) -> Self {
        match error.reject_reason() {
            Some(RejectReason::FrameTooLarge) => {
                Self::Broke(Closed::FrameTooLong, error.to_string())
            }
            Some(_) => Self::Broke(Closed::MalformedFrame, error.to_string()),
            None => Self::Left,
        }
    }
}
