//! The operators' channel: an authenticated session on the `[admin]`
//! listener (TLS with `[admin.tls]`) through which the exchange onboards,
//! suspends and closes brokers and accounts, moves cash and allowances,
//! lists, halts and resumes instruments and sets reference prices, without
//! a restart (`docs/ADMIN.md`).
//!
//! Every action becomes an engine command, journaled and replayed like a
//! trade ([`RuntimeHandle::admin`]); the operator is answered once it is
//! durable, with its sequence number, or with the reject code that refused
//! it. Only `[[operators]]` credentials log in here: a broker's are
//! refused, as is a second login, a malformed frame or a silent peer.

mod client;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use cetx_engine::{
    Asset, AuctionNotice, BrokerId, Command, Event, NewBroker, Phase, RejectReason, Transfer,
};
use futures_util::stream::FuturesOrdered;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use crate::admission::{Admission, Full, PendingSlot, Source};
use crate::backoff::LoginBackoff;
use crate::codec::FrameCodec;
use crate::config::{OperatorConfig, ServerConfig};
use crate::log_tally::SharedTally;
use crate::protocol::admin::{
    AdminAction, AdminReply, AdminRequest, ADMIN_PROTOCOL_VERSION, MAX_ADMIN_FRAME,
};
use crate::protocol::{Secret, LOGIN_TIMEOUT};
use crate::reports::with_limits;
use crate::runtime::{AdminOutcome, RuntimeHandle, SubmitError};
use crate::throttle::{Handshakes, HANDSHAKE_RATE};
use crate::tls::{ServerTls, Stream};

pub use client::{AdminClient, AdminClientError};

/// The file in the data directory where the addresses operators logged
/// in from are kept across restarts ([`AdminServer::with_proven_file`]).
pub const PROVEN_FILE: &str = "operator-addresses.txt";
/// Most operator connections open at once, but for [`KEPT_FOR_PROVEN`].
pub const MAX_CONNECTIONS: usize = 16;
/// Connections past [`MAX_CONNECTIONS`] open to proven addresses only
/// (an operator's from where it logged in before:
/// docs/ADMIN.md): the pending slots kept for them.
pub const KEPT_FOR_PROVEN: usize = MAX_PENDING / 4;
/// Most of them not logged in yet. Past it a new connection takes the
/// place of the oldest of them, which is answered 412 and closed: idle
/// sockets cannot keep an operator out, since a login takes milliseconds.
/// A quarter of them are kept for proven addresses.
pub const MAX_PENDING: usize = 8;
/// Longest wait, when a session ends, for its last answers to be written
/// and for the peer to close its side.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// Longest wait of a new connection for the place of the oldest one not
/// logged in.
const EVICTION_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// Most transfers a session has sent to the engine and not yet answered:
/// past it, the session reads no more requests until the oldest is
/// answered. A batch of transfers goes at the engine's pace, not one a
/// sync.
const IN_FLIGHT: usize = 256;
/// Longest wait, at a shutdown, for sessions to answer the actions they
/// have in flight.
const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// TCP keepalive on an operator's connection: silent this long, the
/// kernel asks the peer whether it is still there, then again at this
/// interval, and this many unanswered asks close the connection. A logged
/// in session may stay idle (the protocol has no heartbeat), but one whose
/// host crashed or whose network went away frees its place among the
/// [`MAX_CONNECTIONS`] in about a minute, not at the next restart (an
/// outside tester's case: 16 such sessions kept every operator out).
const KEEPALIVE: (std::time::Duration, std::time::Duration, u32) = (
    std::time::Duration::from_secs(30),
    std::time::Duration::from_secs(10),
    3,
);
/// Longest an answer sent may go unacknowledged before the connection is
/// closed (`TCP_USER_TIMEOUT`): keepalive asks only a silent connection,
/// and a peer that went away with an answer on its way would otherwise be
/// retried for some 15 minutes.
const UNACKNOWLEDGED: std::time::Duration = std::time::Duration::from_secs(60);

/// Turns [`KEEPALIVE`] and [`UNACKNOWLEDGED`] on for `stream`.
fn keep_alive(stream: &tokio::net::TcpStream) -> std::io::Result<()> {
    let (time, interval, retries) = KEEPALIVE;
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(time)
        .with_interval(interval)
        .with_retries(retries);
    let socket = socket2::SockRef::from(stream);
    socket.set_tcp_keepalive(&keepalive)?;
    socket.set_tcp_user_timeout(Some(UNACKNOWLEDGED))
}

type Conn = Framed<Stream, FrameCodec<AdminRequest, AdminReply>>;

/// The operators' listener.
pub struct AdminServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    runtime: RuntimeHandle,
    config: Arc<ServerConfig>,
    /// `[admin.tls]`, loaded.
    tls: Option<ServerTls>,
    /// Failed operator logins, by address and operator: the broker port's
    /// back-off (`[server.login_backoff]`), counted apart from it.
    logins: Arc<LoginBackoff<u32>>,
    /// The connections not logged in yet ([`MAX_PENDING`]; no share per
    /// address, since operators and whoever else reaches the port often
    /// share loopback).
    pending: Arc<Admission>,
    /// What it refused before looking at it, logged as a count.
    refusals: Arc<Refusals>,
    /// Each address's budget of TLS handshakes, as on the broker port.
    handshakes: Arc<Handshakes>,
}

/// Connections and logins the channel refuses before it looks at them:
/// anyone who reaches the port can cause them, so the log gets one line
/// per [`crate::server::REFUSED_LOG_INTERVAL`] with their count.
struct Refusals(SharedTally);

impl Refusals {
    fn new() -> Self {
        Self(SharedTally::new(crate::server::REFUSED_LOG_INTERVAL))
    }

    /// Counts one, from `peer`, for `why`; or, with `None`, writes what
    /// the interval held back once it has run (on a timer).
    fn count(&self, refused: Option<(SocketAddr, &str)>) {
        let refused = refused.map(|(peer, why)| (peer.to_string(), why.to_owned()));
        if let Some(line) = self.0.due(refused, std::time::Instant::now()) {
            tracing::warn!(
                count = line.count,
                last = line.last,
                reasons = line.reasons,
                "refused operator connections or logins (count: since the last such line)"
            );
        }
    }
}

impl AdminServer {
    /// Binds `listen` for the operators of `config`, with TLS when
    /// `[admin.tls]` is set (its files are loaded here).
    ///
    /// # Errors
    /// When the address cannot be bound, or a TLS file cannot be used.
    pub async fn bind(
        runtime: RuntimeHandle,
        config: Arc<ServerConfig>,
        listen: SocketAddr,
    ) -> std::io::Result<Self> {
        let settings = config.admin.as_ref().and_then(|a| a.tls.as_ref());
        let tls = settings
            .map(|t| crate::tls::server(&t.cert, &t.key, t.client_ca.as_deref()))
            .transpose()
            .map_err(|e| std::io::Error::other(format!("[admin.tls]: {e}")))?;
        let listener = TcpListener::bind(listen).await?;
        let local_addr = listener.local_addr()?;
        let logins = Arc::new(LoginBackoff::new(config.server.login_backoff));
        Ok(Self {
            listener,
            local_addr,
            runtime,
            config,
            tls,
            logins,
            pending: Admission::with_limits(
                MAX_PENDING as u32,
                u32::MAX,
                (MAX_CONNECTIONS + KEPT_FOR_PROVEN) as u32,
            ),
            refusals: Arc::new(Refusals::new()),
            handshakes: Arc::new(Handshakes::new(Instant::now())),
        })
    }

    /// Keeps the addresses operators logged in from in `file` across
    /// restarts, as [`crate::server::Server::with_proven_file`] does
    /// brokers': `cetx serve` names [`PROVEN_FILE`] in the data
    /// directory.
    #[must_use]
    pub fn with_proven_file(mut self, file: std::path::PathBuf) -> Self {
        self.logins = Arc::new(LoginBackoff::with_file(
            self.config.server.login_backoff,
            file,
        ));
        self
    }

    /// The address it listens on.
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves operators until `shutdown` is cancelled, each connection on
    /// a task of its own. Operators are few: past [`MAX_CONNECTIONS`] open
    /// at once (logged in or not), a new connection is closed at once,
    /// unless it comes from a proven address and [`KEPT_FOR_PROVEN`] more
    /// are not open either.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut sessions = JoinSet::new();
        let open = Arc::new(AtomicUsize::new(0));
        let mut flush = tokio::time::interval(crate::server::LOG_FLUSH_PERIOD);
        tracing::info!(addr = %self.local_addr, "serving operators");
        let mut accept_failures = crate::listen::AcceptFailures::new("operators");
        loop {
            while sessions.try_join_next().is_some() {}
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = flush.tick() => {
                    self.logins.flush_log(Instant::now());
                    if self.logins.proven_changed() {
                        let logins = Arc::clone(&self.logins);
                        tokio::task::spawn_blocking(move || logins.write_proven());
                    }
                    self.refusals.count(None);
                }
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        // Room past the 16 is kept for the logins of
                        // operators from where they logged in before.
                        let source = self.logins.source(peer.ip());
                        let room = match source {
                            Source::Proven => MAX_CONNECTIONS + KEPT_FOR_PROVEN,
                            Source::Unproven => MAX_CONNECTIONS,
                        };
                        if open.load(Ordering::Acquire) >= room {
                            let why = format!("{room} connections are open");
                            self.refusals.count(Some((peer, &why)));
                            continue;
                        }
                        let _ = stream.set_nodelay(true);
                        if let Err(error) = keep_alive(&stream) {
                            tracing::warn!(%peer, %error, "an operator's connection has no TCP keepalive: if its peer goes away unseen, it keeps its place until it closes");
                        }
                        let session = Session {
                            runtime: self.runtime.clone(),
                            config: Arc::clone(&self.config),
                            logins: Arc::clone(&self.logins),
                            refusals: Arc::clone(&self.refusals),
                            handshakes: Arc::clone(&self.handshakes),
                            peer,
                            _open: OpenSlot::take(&open),
                        };
                        let pending = Arc::clone(&self.pending);
                        let (tls, shutdown) = (self.tls.clone(), shutdown.clone());
                        sessions.spawn(async move {
                            // No share per address: only the pool is ever full.
                            let slot = match pending.admit(peer.ip(), source) {
                                Ok(slot) => slot,
                                Err(Full::Pending | Full::Address) => {
                                    match pending.admit_evicting(peer.ip(), source, EVICTION_WAIT).await {
                                        Ok(slot) => slot,
                                        Err(_) => {
                                            session.refusals.count(Some((peer, "no place was freed among those not logged in")));
                                            return;
                                        }
                                    }
                                }
                            };
                            session.start(stream, slot, tls, shutdown).await;
                        });
                    }
                    Err(error) => accept_failures.after(&error).await,
                },
            }
        }
        // Each session ends at its next request (it watches `shutdown`
        // too): one whose action is in flight gets its answer first, since
        // the runtime stops only after this returns. Aborting them lost the
        // answer to an action already journaled.
        let drained = tokio::time::timeout(DRAIN_WAIT, async {
            while sessions.join_next().await.is_some() {}
        });
        if drained.await.is_err() {
            sessions.shutdown().await;
        }
        let logins = Arc::clone(&self.logins);
        let _ = tokio::task::spawn_blocking(move || logins.write_proven()).await;
    }
}

/// One operator's connection.
struct Session {
    runtime: RuntimeHandle,
    config: Arc<ServerConfig>,
    logins: Arc<LoginBackoff<u32>>,
    refusals: Arc<Refusals>,
    /// Each address's budget of TLS handshakes, as on the broker port.
    handshakes: Arc<Handshakes>,
    peer: SocketAddr,
    /// Its place among the [`MAX_CONNECTIONS`] open.
    _open: OpenSlot,
}

/// One connection counted as open, from its accept until its session is
/// done: counted by the session itself, so that a connection that ended
/// no longer counts when the next one comes (the accept loop reaps ended
/// tasks only when it wakes).
struct OpenSlot(Arc<AtomicUsize>);

impl OpenSlot {
    fn take(open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(open))
    }
}

impl Drop for OpenSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Session {
    /// Runs the TLS handshake, if the channel has TLS (bounded like the
    /// login), then the session.
    async fn start(
        self,
        stream: TcpStream,
        pending: PendingSlot,
        tls: Option<ServerTls>,
        shutdown: CancellationToken,
    ) {
        let evicted = pending.evicted();
        let stream = match tls {
            None => Stream::Plain(stream),
            Some(_) if !self.handshakes.take(self.peer.ip(), Instant::now()) => {
                let why = format!(
                    "refused before its TLS handshake: its address started more than {HANDSHAKE_RATE} a second"
                );
                self.refusals.count(Some((self.peer, &why)));
                return;
            }
            // A handshake that drags on can be made to give its place up
            // too: it is only closed, since it cannot read a frame yet.
            Some(tls) => match tokio::select! {
                () = evicted.cancelled() => {
                    pending.gave_way();
                    return;
                }
                accepted = tokio::time::timeout(LOGIN_TIMEOUT, tls.accept(stream)) => accepted,
            } {
                Ok(Ok(stream)) => stream,
                Ok(Err(failed)) => {
                    let why = format!("its TLS handshake failed: {}", failed.error);
                    self.refusals.count(Some((self.peer, &why)));
                    failed.close().await;
                    return;
                }
                Err(_) => {
                    let why = "its TLS handshake timed out";
                    self.refusals.count(Some((self.peer, why)));
                    return;
                }
            },
        };
        let mut conn = Framed::new(stream, FrameCodec::new(MAX_ADMIN_FRAME, MAX_ADMIN_FRAME));
        self.run(&mut conn, pending, shutdown).await;
        // Its place is free before the peer sees the connection close.
        drop(self);
        // The answers written are read before the socket goes, even with
        // requests still unread in it (a shutdown's).
        if tokio::time::timeout(CLOSE_WAIT, SinkExt::<AdminReply>::close(&mut conn))
            .await
            .is_ok()
        {
            conn.get_mut().drain_unread(CLOSE_WAIT).await;
        }
    }

    async fn run(&self, conn: &mut Conn, pending: PendingSlot, shutdown: CancellationToken) {
        let Some(operator) = self.log_in(conn, &pending, &shutdown).await else {
            return;
        };
        // Logged in: its place among those waiting is free.
        drop(pending);
        tracing::info!(operator, peer = %self.peer, "operator logged in");
        // Transfers taken and not yet answered, answered in the order taken.
        let mut in_flight = FuturesOrdered::new();
        loop {
            let request = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(reply) = in_flight.next() => {
                    if conn.send(reply).await.is_err() {
                        return;
                    }
                    continue;
                }
                request = conn.next(), if in_flight.len() < IN_FLIGHT => request,
            };
            let reply = match request {
                None => break,
                Some(Ok(AdminRequest::Action { request_id, action })) => {
                    if matches!(action, AdminAction::Transfer { .. }) {
                        // Its only check of the gateway's own state is the
                        // symbol, which no transfer changes: it goes to the
                        // engine now, behind those in flight.
                        let submitted = self.submit(operator, request_id, &action).await;
                        in_flight.push_back(submitted.answer(operator, request_id, action));
                        continue;
                    }
                    // Other actions check state (brokers, symbols, the
                    // phase) that those before them may change: they wait
                    // for every answer before them.
                    if !answer_all(conn, &mut in_flight).await {
                        return;
                    }
                    let submitted = self.submit(operator, request_id, &action).await;
                    submitted.answer(operator, request_id, action).await
                }
                Some(Ok(AdminRequest::Login { .. })) => {
                    if answer_all(conn, &mut in_flight).await {
                        let _ = conn
                            .send(error(RejectReason::AlreadyLoggedIn, "already logged in"))
                            .await;
                    }
                    return;
                }
                Some(Err(e)) => {
                    if answer_all(conn, &mut in_flight).await {
                        if let Some(reason) = e.reject_reason() {
                            let _ = conn.send(error(reason, &e.to_string())).await;
                        }
                    }
                    return;
                }
            };
            if conn.send(reply).await.is_err() {
                return;
            }
        }
        // Stopping, or the operator closed its side: what was taken is
        // answered.
        answer_all(conn, &mut in_flight).await;
    }

    /// Waits for the login and checks it; answers it either way. Returns
    /// the operator's id if it is accepted.
    async fn log_in(
        &self,
        conn: &mut Conn,
        pending: &PendingSlot,
        shutdown: &CancellationToken,
    ) -> Option<u32> {
        let evicted = pending.evicted();
        let first = tokio::select! {
            biased;
            () = shutdown.cancelled() => return None,
            () = evicted.cancelled() => {
                pending.gave_way();
                let text = "a newer connection took this one's place among those not logged in";
                let _ = conn.send(error(RejectReason::TooManyConnections, text)).await;
                return None;
            }
            first = tokio::time::timeout(LOGIN_TIMEOUT, conn.next()) => first,
        };
        // Its first frame came: no idle socket for a newer connection to
        // close, which could not take the place of one that waits out its
        // back-off below.
        pending.checking();
        let refusal = match first {
            Err(_) => error(RejectReason::NotLoggedIn, "no login in time"),
            Ok(None) => return None,
            Ok(Some(Err(e))) => match e.reject_reason() {
                Some(reason) => error(reason, &e.to_string()),
                None => return None,
            },
            Ok(Some(Ok(AdminRequest::Login {
                operator,
                secret,
                protocol_version,
            }))) => {
                let addr = self.peer.ip();
                if protocol_version != ADMIN_PROTOCOL_VERSION {
                    error(
                        RejectReason::UnsupportedProtocolVersion,
                        &format!("this server speaks version {ADMIN_PROTOCOL_VERSION}"),
                    )
                } else if !certified(&self.config.operators, operator, conn.get_ref())
                    && self.logins.refuse_at_once(addr, Instant::now())
                {
                    let why = "its address failed too many logins (417)";
                    self.refusals.count(Some((self.peer, why)));
                    error(
                        RejectReason::TooManyFailedLogins,
                        "too many failed logins from this address: try again later",
                    )
                } else if find(&self.config.operators, operator, &secret, conn.get_ref()) {
                    self.logins.succeeded(addr, operator, Instant::now());
                    conn.send(AdminReply::LoggedIn { operator }).await.ok()?;
                    return Some(operator);
                } else {
                    tracing::warn!(operator, peer = %self.peer, "operator login refused");
                    let known = self.config.operators.iter().any(|o| o.id == operator);
                    let answer = self.logins.failed(addr, operator, known, Instant::now());
                    tokio::select! {
                        () = shutdown.cancelled() => return None,
                        () = tokio::time::sleep(answer.delay) => {}
                    }
                    if answer.refuse {
                        error(
                            RejectReason::TooManyFailedLogins,
                            "too many failed logins: try again later",
                        )
                    } else {
                        error(
                            RejectReason::BadCredentials,
                            "unknown operator or wrong secret",
                        )
                    }
                }
            }
            Ok(Some(Ok(AdminRequest::Action { .. }))) => {
                error(RejectReason::NotLoggedIn, "log in first")
            }
        };
        let _ = conn.send(refusal).await;
        None
    }

    /// Checks one action and sends it to the engine, or refuses it.
    async fn submit(&self, operator: u32, request_id: u64, action: &AdminAction) -> Submitted {
        let refused = |reason: RejectReason, text: &str| {
            Submitted::Answered(AdminReply::Rejected {
                request_id,
                seq: 0,
                reason: reason.code(),
                text: text.to_owned(),
            })
        };
        let command = match self.command(action).await {
            Ok(command) => command,
            Err((reason, text)) => return refused(reason, &text),
        };
        match self.runtime.admin(operator, command).await {
            Ok(outcome) => Submitted::Sent(outcome),
            Err(SubmitError::Busy) => {
                refused(RejectReason::ServerBusy, "the engine's queue is full")
            }
            Err(SubmitError::Stopped) => {
                refused(RejectReason::ServerBusy, "the server is stopping")
            }
        }
    }

    /// The engine command an action asks for, or why the gateway refuses
    /// it first.
    async fn command(&self, action: &AdminAction) -> Result<Command, (RejectReason, String)> {
        let instrument = |symbol: &str| {
            self.runtime.instrument_id(symbol).ok_or_else(|| {
                (
                    RejectReason::UnknownSymbol,
                    format!("no instrument {symbol}"),
                )
            })
        };
        Ok(match action {
            AdminAction::OpenAccount {
                account,
                broker,
                participant,
            } => {
                self.known_broker(*broker)?;
                Command::OpenAccount {
                    account: cetx_engine::AccountId(*account),
                    participant: *participant,
                    broker: BrokerId(*broker),
                }
            }
            AdminAction::Transfer {
                reference,
                account,
                symbol,
                direction,
                amount,
            } => Command::Transfer(Box::new(Transfer {
                reference: reference.clone(),
                account: cetx_engine::AccountId(*account),
                asset: match symbol {
                    None => Asset::Cash,
                    Some(symbol) => Asset::Allowances(instrument(symbol)?),
                },
                direction: *direction,
                amount: *amount,
            })),
            AdminAction::Halt { symbol } => Command::SetPhase {
                instrument: instrument(symbol)?,
                phase: Phase::Halted,
            },
            // Any phase but `Halted` stands for a resume: the engine
            // thread gives it the market's phase of the moment it applies
            // it (`Sequencer::admin`).
            AdminAction::Resume { symbol } => Command::SetPhase {
                instrument: instrument(symbol)?,
                phase: Phase::Continuous,
            },
            AdminAction::SetReferencePrice {
                symbol,
                price_ticks,
            } => Command::SetReferencePrice {
                instrument: instrument(symbol)?,
                price_ticks: *price_ticks,
            },
            AdminAction::AddBroker {
                broker,
                name,
                secret,
            } => self.add_broker(BrokerId(*broker), name, secret).await?,
            AdminAction::SetBrokerStatus { broker, status } => {
                self.known_broker(*broker)?;
                Command::SetBrokerStatus {
                    broker: BrokerId(*broker),
                    status: *status,
                }
            }
            AdminAction::SetAccountStatus { account, status } => Command::SetAccountStatus {
                account: cetx_engine::AccountId(*account),
                status: *status,
            },
            AdminAction::ListInstrument(listing) => {
                Command::ListInstrument(Box::new(listing.spec()))
            }
            AdminAction::ReviseInstrument(listing) => Command::ReviseInstrument {
                instrument: instrument(&listing.symbol)?,
                spec: Box::new(listing.spec()),
            },
            AdminAction::ConfirmBlock { deal_id } => Command::ConfirmBlock { deal_id: *deal_id },
            AdminAction::RefuseBlock { deal_id } => Command::RefuseBlock { deal_id: *deal_id },
            AdminAction::AnnounceAuction {
                auction_id,
                symbol,
                seller,
                quantity_t,
                floor_ticks,
                ceiling_ticks,
                start_ns,
                end_ns,
                pricing,
            } => Command::AnnounceAuction(Box::new(AuctionNotice {
                auction_id: *auction_id,
                instrument: instrument(symbol)?,
                seller: cetx_engine::AccountId(*seller),
                quantity_t: *quantity_t,
                floor_ticks: *floor_ticks,
                ceiling_ticks: *ceiling_ticks,
                start_ns: *start_ns,
                end_ns: *end_ns,
                pricing: *pricing,
            })),
            AdminAction::CloseAuction { auction_id } => Command::CloseAuction {
                auction_id: *auction_id,
            },
            AdminAction::WithdrawAuction { auction_id } => Command::WithdrawAuction {
                auction_id: *auction_id,
            },
        })
    }

    /// `UnknownBroker` unless the broker is the config's or was added.
    fn known_broker(&self, broker: u32) -> Result<(), (RejectReason, String)> {
        if self.runtime.is_broker(BrokerId(broker)) {
            Ok(())
        } else {
            Err((
                RejectReason::UnknownBroker,
                format!("no broker {broker} in the config or the journal"),
            ))
        }
    }

    /// The command that onboards a broker: its secret hashed under a new
    /// salt (off the async workers: the hash takes its rounds), so the
    /// journal never holds it. The config's ids are refused here (the
    /// engine knows only the brokers with accounts).
    async fn add_broker(
        &self,
        broker: BrokerId,
        name: &str,
        secret: &Secret,
    ) -> Result<Command, (RejectReason, String)> {
        if self.config.broker(broker).is_some() {
            let text = format!("broker {} is in the config", broker.0);
            return Err((RejectReason::BrokerExists, text));
        }
        // A name the config would refuse: the banner and the logs print it.
        if let Some(problem) = crate::config::name_problem(name) {
            return Err((RejectReason::InvalidBroker, problem.to_owned()));
        }
        if secret.expose().is_empty() {
            let text = "the secret is empty".to_owned();
            return Err((RejectReason::InvalidBroker, text));
        }
        let secret = secret.clone();
        let credential = tokio::task::spawn_blocking(move || crate::credential::hash(&secret))
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| {
                (
                    RejectReason::ServerBusy,
                    "no salt could be drawn".to_owned(),
                )
            })?;
        Ok(Command::AddBroker(Box::new(NewBroker {
            broker,
            name: name.to_owned(),
            credential,
        })))
    }
}

/// Whether the connection's client certificate is valid for the
/// `tls_name` of operator `id`: proof no guesser at its address has, so its
/// login is not refused for the address's failures (its secret is checked
/// all the same).
fn certified(operators: &[OperatorConfig], id: u32, stream: &Stream) -> bool {
    operators
        .iter()
        .filter(|o| o.id == id)
        .filter_map(|o| o.tls_name.as_ref())
        .any(|name| stream.peer_certificate_is_for(name))
}

/// Whether `operators` has `id` with this secret (every secret compared in
/// full, so the time taken tells nothing) and, for an operator with a
/// `tls_name`, a client certificate valid for it on `stream`.
fn find(operators: &[OperatorConfig], id: u32, secret: &Secret, stream: &Stream) -> bool {
    operators.iter().filter(|o| o.id == id).any(|o| {
        let certified = |name: &String| stream.peer_certificate_is_for(name);
        let right_secret = o.secret.matches(secret);
        let certificate = o.tls_name.as_ref().is_none_or(certified);
        if right_secret && !certificate {
            // The operator is told only 402; the exchange is told why.
            tracing::warn!(
                operator = id,
                tls_name = o.tls_name.as_deref(),
                "a login with the right secret had no client certificate valid for the operator's tls_name"
            );
        }
        right_secret && certificate
    })
}

/// An action sent to the engine, or refused before.
enum Submitted {
    /// Refused by the gateway, or not taken by the engine.
    Answered(AdminReply),
    /// Taken: the engine's outcome once it is durable.
    Sent(tokio::sync::oneshot::Receiver<AdminOutcome>),
}

impl Submitted {
    /// The answer to `action`, once there is one; logged.
    async fn answer(self, operator: u32, request_id: u64, action: AdminAction) -> AdminReply {
        let reply = match self {
            Self::Answered(reply) => reply,
            Self::Sent(outcome) => reply_to(request_id, outcome.await),
        };
        tracing::info!(operator, ?action, ?reply, "operator action");
        reply
    }
}

/// The answer to request `request_id` from the engine's outcome.
fn reply_to(
    request_id: u64,
    outcome: Result<AdminOutcome, tokio::sync::oneshot::error::RecvError>,
) -> AdminReply {
    let Ok(outcome) = outcome else {
        return AdminReply::Rejected {
            request_id,
            seq: 0,
            reason: RejectReason::ServerBusy.code(),
            text: "the journal failed before the action was durable".to_owned(),
        };
    };
    match outcome.events.first() {
        Some(Event::Rejected(rejected)) => {
            // A spec's refusal says which rule it breaks (cut to fit); one
            // of a limit, the limit, where it fits whole.
            let name = format!("{:?}", rejected.reason);
            let mut text = match &outcome.why {
                // Cut where it passes the limit, and said to be (reviewer
                // 163 F3: an amount cut short read as another).
                Some(why) => cut_marked(format!("{name}: {why}")),
                None => with_limits(name, rejected.reason, rejected.bounds),
            };
            crate::session::truncate_text(&mut text);
            AdminReply::Rejected {
                request_id,
                seq: outcome.seq,
                reason: rejected.reason.code(),
                text,
            }
        }
        _ => AdminReply::Applied {
            request_id,
            seq: outcome.seq,
        },
    }
}

/// `text` within a reply's limit: cut at a character where it passes it,
/// ending in `…`.
fn cut_marked(mut text: String) -> String {
    let max = crate::protocol::MAX_TEXT_LEN;
    if text.len() > max {
        let mut end = max - '…'.len_utf8();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// Writes the answers of every action in flight, in order, as each comes.
/// Returns `false` if the connection failed.
async fn answer_all(
    conn: &mut Conn,
    in_flight: &mut FuturesOrdered<impl std::future::Future<Output = AdminReply>>,
) -> bool {
    while let Some(reply) = in_flight.next().await {
        if conn.send(reply).await.is_err() {
            return false;
        }
    }
    true
}

fn error(reason: RejectReason, text: &str) -> AdminReply {
    let mut text = text.to_owned();
    crate::session::truncate_text(&mut text);
    AdminReply::Error {
        reason: reason.code(),
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reason past the reply's 128 bytes is cut at a character and
    /// says so; one within is whole.
    #[test]
    fn a_long_reason_is_cut_and_marked() {
        let short = "AccountNotEmpty: it holds 12.00 CNY".to_owned();
        assert_eq!(cut_marked(short.clone()), short);
        let long = format!("AccountNotEmpty: it holds {}", "9 t 碳排放, ".repeat(20));
        let cut = cut_marked(long.clone());
        assert!(cut.len() <= crate::protocol::MAX_TEXT_LEN, "{}", cut.len());
        assert!(cut.ends_with('…'), "{cut}");
        assert!(long.starts_with(cut.trim_end_matches('…')));
    }

    /// An operator's connection asks a silent peer whether it is there,
    /// so one that went away unseen does not keep its place for good.
    #[tokio::test]
    async fn an_operator_s_connection_keeps_alive() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        let (stream, _) = accepted.unwrap();
        keep_alive(&stream).unwrap();
        let socket = socket2::SockRef::from(&stream);
        let (time, interval, retries) = KEEPALIVE;
        assert!(socket.keepalive().unwrap());
        assert_eq!(socket.tcp_keepalive_time().unwrap(), time);
        assert_eq!(socket.tcp_keepalive_interval().unwrap(), interval);
        assert_eq!(socket.tcp_keepalive_retries().unwrap(), retries);
        assert_eq!(socket.tcp_user_timeout().unwrap(), Some(UNACKNOWLEDGED));
        drop(client);
    }
}
