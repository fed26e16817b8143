//! One broker connection, from its first byte to its close.
//!
//! A session task owns its socket, framed by [`ServerCodec`]:
//!
//! 1. **Login.** The first frame must arrive within the login timeout and
//!    be a `Login`: a malformed one is answered `ProtocolError`, any other
//!    message `LoginRejected` 401. Then, in the order of
//!    `docs/PROTOCOL.md`: the protocol version (403), the back-off of the
//!    address's failed logins (417), the broker's
//!    credentials, compared in constant time (402, slowed and then 417 as
//!    failures add up: see [`crate::backoff`]), the broker's token bucket
//!    (407: a login takes a token, see [`crate::throttle`]), and the runtime's
//!    [`RuntimeHandle::connect`] (413 for a resume point ahead of the
//!    server). The connection holds a pending-login slot until then, and
//!    trades it for a session slot when the login succeeds (412 when the
//!    session limit is full): see [`crate::admission`].
//! 2. **Logged in.** `LoginAccepted` (seq 0), then the frame limit after
//!    login, then the subscription's frames: the backlog the broker asked
//!    for, then live reports. Every whole frame a read brings is taken
//!    before the session waits again (rejects among the answers go out in
//!    one write), and reports go out as many as are ready per write; one
//!    timer serves the heartbeat and the idle timeout, so a frame costs no
//!    timer. Order requests pass the broker's token
//!    bucket, shared by all its sessions and kept across reconnects
//!    ([`crate::throttle`]; excess: `OrderRejected` 407) into [`RuntimeHandle::submit`]
//!    (a full queue: `OrderRejected` 408); both rejects are unsequenced.
//!    The session heartbeats after `heartbeat_interval` of sending nothing
//!    and closes after `idle_timeout` of hearing nothing.
//! 3. **Close.** On `Logout` (after sending what is due), a takeover (a
//!    new login of the same broker; after a `ProtocolError` 416), a malformed frame
//!    (after a `ProtocolError`), end of file, a timeout, the server's
//!    shutdown, or the router dropping the subscription. Dropping the
//!    [`Subscription`] tells the runtime the broker is gone, which cancels
//!    its resting orders when its config says so.
//!
//! A session never touches the book: everything it decides is about the
//! connection (who is speaking, how fast, in what shape).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cetx_engine::{BrokerId, RejectReason};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use crate::admission::{Admission, PendingSlot, SessionSlot};
use crate::backoff::LoginBackoff;
use crate::codec::{decode_buffered, DecodeError, EncodeError, ServerCodec};
use crate::config::ServerConfig;
use crate::log_tally::SharedTally;
use crate::protocol::{ClientMessage, ServerFrame, ServerMessage, PROTOCOL_VERSION, UNSEQUENCED};
use crate::reports::{refuse, refuse_saying, reject_text, request_of, symbol_of};
use crate::request;
use crate::runtime::{RuntimeHandle, Subscription, SymbolCache};
use crate::throttle::{Bucket, Throttles};
use crate::tls::{ServerTls, Stream};

/// Frames written before one flush when more are ready: bounds the time a
/// busy subscription keeps the session from reading its socket.
const MAX_FRAMES_PER_FLUSH: usize = 256;

/// How long the old session of a taken-over broker is given to send its
/// last frame.
const TAKEOVER_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a `Logout` waits for the answers that a reject of a request
/// sent before it waits for.
const LOGOUT_WAIT: Duration = Duration::from_secs(2);

/// What every session of a server shares.
#[derive(Debug)]
pub(crate) struct SessionContext {
    /// The server's pending-login and session slots.
    pub admission: Arc<Admission>,
    /// Failed logins, for their back-off.
    pub logins: LoginBackoff,
    /// Checks logins of brokers an operator added, one at a time.
    pub verifier: crate::credential::Verifier,
    /// Each broker's message budget, shared by its sessions.
    pub throttles: Throttles,
    /// The server's config: brokers, limits, timeouts.
    pub config: Arc<ServerConfig>,
    /// The way into the engine.
    pub runtime: RuntimeHandle,
    /// How long a new connection may take to send its `Login` (and, with
    /// TLS, as long again for its handshake before that).
    pub login_timeout: Duration,
    /// TLS on the broker port, when `[server.tls]` is set.
    pub tls: Option<ServerTls>,
    /// Sessions closed on a malformed frame: anyone may send one, before
    /// any login, so the log gets a line per interval with their count.
    pub malformed: SharedTally,
    /// Connections closed before a login for what anyone may do without
    /// credentials ([`Ended::before_login`]): a line per interval too.
    pub before_login: SharedTally,
    /// Logins refused after their credentials were checked (407, 412,
    /// 420, 411, 413, ...): a broker's client in a reconnect loop gets
    /// one such refusal a try, so a line per interval too (an outside
    /// tester's loop wrote 650 lines a second).
    pub refused_logins: SharedTally,
    /// Resumes past the broker's last report (413): a warning line per
    /// interval, naming the last.
    pub resumes_ahead: SharedTally,
    /// TLS handshakes that failed or timed out (a client certificate of
    /// another CA or expired, an old TLS version, plain text on the TLS
    /// port): a warning line per interval, and their count.
    pub tls_failures: SharedTally,
    /// Their count since the start, for the metrics.
    pub tls_failed: AtomicU64,
    /// Resumes that failed since the start, for the metrics: refused 413
    /// (past the broker's last report) and 419 (an archived segment not
    /// in place), and ended 421 (a damaged journal).
    pub resumes_failed: [AtomicU64; 3],
    /// Sessions ended since the start because their broker stopped
    /// reading, for the metrics: by [`SLOW_READER_ENDS`].
    pub slow_readers: [AtomicU64; 2],
    /// Each address's budget of TLS handshakes: one past it is closed
    /// before its handshake, and counted as a failed one.
    pub handshakes: crate::throttle::Handshakes,
}

/// A connection's peer for a log line: its address, or `unknown` when the
/// socket could not tell it.
fn peer_text(peer: Option<SocketAddr>) -> String {
    peer.map_or_else(|| "unknown".to_owned(), |peer| peer.to_string())
}

impl SessionContext {
    /// Counts a resume that failed for `reason`, if it is one of
    /// [`RESUME_FAILURES`] (any other is not counted here), before the
    /// broker is told, so that a metrics page read once it knows counts
    /// it.
    fn count_failed_resume(&self, reason: RejectReason) {
        if let Some(at) = RESUME_FAILURES.iter().position(|&r| r == reason) {
            self.resumes_failed[at].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a session closed on a malformed frame; logs the count when
    /// its interval has run (or, with `event` `None`, on the server's
    /// timer, what the interval held back).
    pub(crate) fn log_malformed(&self, event: Option<(Option<SocketAddr>, &DecodeError)>) {
        let event = event.map(|(peer, error)| (peer_text(peer), error.to_string()));
        if let Some(line) = self.malformed.due(event, std::time::Instant::now()) {
            tracing::warn!(
                count = line.count,
                last = line.last,
                reasons = line.reasons,
                "closed sessions on a malformed frame (count: since the last such line)"
            );
        }
    }

    /// As [`Self::log_malformed`], for a connection closed before a login
    /// ([`Ended::before_login`]).
    fn log_before_login(&self, event: Option<(Option<SocketAddr>, &Ended)>) {
        let event = event.map(|(peer, why)| (peer_text(peer), format!("{why:?}")));
        if let Some(line) = self.before_login.due(event, std::time::Instant::now()) {
            tracing::info!(
                count = line.count,
                last = line.last,
                reasons = line.reasons,
                "closed connections before a login (count: since the last such line)"
            );
        }
    }

    /// As [`Self::log_malformed`], for a login refused after its
    /// credentials were checked: the broker and the code.
    fn log_refused_login(&self, event: Option<(Option<SocketAddr>, BrokerId, RejectReason)>) {
        // The broker with the peer, not in the reason: a reason's runs of
        // 4 digits or more are `N` (reviewer 163 F2: brokers 1000 and up
        // were counted as one).
        let event = event.map(|(peer, broker, reason)| {
            let who = format!("{} broker {}", peer_text(peer), broker.0);
            (who, format!("{reason:?} ({})", reason.code()))
        });
        if let Some(line) = self.refused_logins.due(event, std::time::Instant::now()) {
            tracing::info!(
                count = line.count,
                last = line.last,
                reasons = line.reasons,
                "refused logins (count: since the last such line)"
            );
        }
    }

    /// As [`Self::log_malformed`], for a resume past the broker's last
    /// report (413): the peer, and the broker's numbers.
    fn log_resume_ahead(&self, event: Option<(Option<SocketAddr>, String)>) {
        let event = event.map(|(peer, why)| (peer_text(peer), why));
        if let Some(line) = self.resumes_ahead.due(event, std::time::Instant::now()) {
            tracing::warn!(
                count = line.count,
                last = line.last,
                "refusing resumes past the broker's last report (413) (count: since the last such line)"
            );
        }
    }

    /// Counts a failed TLS handshake (`event`: the peer and why), or on
    /// the timer (`None`) logs what the interval held back.
    fn log_tls_failure(&self, event: Option<(Option<SocketAddr>, &str)>) {
        if event.is_some() {
            self.tls_failed.fetch_add(1, Ordering::Relaxed);
        }
        let event = event.map(|(peer, why)| (peer_text(peer), why.to_owned()));
        if let Some(line) = self.tls_failures.due(event, std::time::Instant::now()) {
            tracing::warn!(
                count = line.count,
                last = line.last,
                reasons = line.reasons,
                "failed TLS handshakes (count: since the last such line)"
            );
        }
    }

    /// The timer's look at what the intervals of the per-interval lines
    /// held back.
    pub(crate) fn flush_logs(&self) {
        self.log_malformed(None);
        self.log_before_login(None);
        self.log_refused_login(None);
        self.log_resume_ahead(None);
        self.log_tls_failure(None);
    }
}

/// Longest wait, when a session ends, for the peer to close its side.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// A connection framed by the server's codec.
type Connection = Framed<Stream, ServerCodec>;

/// Why a session ended, for the log.
#[derive(Debug)]
enum Ended {
    Logout,
    Eof,
    IdleTimeout,
    LoginTimeout,
    Shutdown,
    /// The runtime failed (its journal, most often) and dropped every
    /// subscription.
    MarketStopped,
    SubscriptionDropped,
    TakenOver,
    /// The history to resume could not be read back from the journal.
    HistoryUnreadable,
    Malformed(DecodeError),
    /// Reading failed: the peer reset the connection, say.
    ReadFailed(std::io::Error),
    LoginRefused(RejectReason),
    /// A login refused after its credentials were checked: the broker's
    /// own (suspended, over its throttle, at the session limit, or asking
    /// to resume past its last report).
    BrokerRefused(BrokerId, RejectReason),
    /// A newer connection from its address took its pending-login slot
    /// (it was told `LoginRejected` 412).
    Evicted,
    Write(EncodeError),
    WriteTimeout,
}

/// The reasons a resume fails, in the order of
/// [`SessionContext::resumes_failed`].
pub const RESUME_FAILURES: [RejectReason; 3] = [
    RejectReason::ResumeSeqAhead,
    RejectReason::HistoryArchived,
    RejectReason::HistoryUnreadable,
];

/// The ends of a session whose broker stopped reading, in the order of
/// [`SessionContext::slow_readers`], as the metrics name them.
pub const SLOW_READER_ENDS: [&str; 2] = ["write_timeout", "backlog"];

impl Ended {
    /// Where in [`SLOW_READER_ENDS`] this end is, if its broker stopped
    /// reading: a write that could not finish in the idle timeout, or a
    /// subscription dropped for its backlog.
    const fn slow_reader(&self) -> Option<usize> {
        match self {
            Self::WriteTimeout => Some(0),
            Self::SubscriptionDropped => Some(1),
            _ => None,
        }
    }

    /// An end before a login that anyone may cause without credentials:
    /// no login (or a first frame that is not one), a wrong protocol
    /// version, a slot taken by a newer connection, a closed socket.
    /// Logged a line per interval, as malformed frames are; a refusal
    /// after the credentials were checked is a broker's, logged on its own.
    const fn before_login(&self) -> bool {
        matches!(
            self,
            // ServerBusy: a secret not checked in time, which anyone may
            // cause with wrong ones.
            Self::LoginRefused(
                RejectReason::NotLoggedIn
                    | RejectReason::UnsupportedProtocolVersion
                    | RejectReason::ServerBusy
            ) | Self::Evicted
                | Self::LoginTimeout
                | Self::Eof
                | Self::ReadFailed(_)
                | Self::Write(_)
        )
    }
}

/// Why a session ended when the runtime stopped it (its shutdown, or its
/// subscription dropped): [`Ended::MarketStopped`] once the market has
/// failed, whichever came first, else `otherwise`.
fn stopped(runtime: &RuntimeHandle, otherwise: Ended) -> Ended {
    if runtime.failure().is_some() {
        Ended::MarketStopped
    } else {
        otherwise
    }
}

/// Runs one connection to its end. Never panics on anything the peer
/// sends; every way out is logged.
pub(crate) async fn run(
    stream: TcpStream,
    pending: PendingSlot,
    ctx: Arc<SessionContext>,
    shutdown: CancellationToken,
) {
    let peer = stream.peer_addr().ok();
    // Small frames, each one a decision a broker waits for.
    let _ = stream.set_nodelay(true);
    let evicted = pending.evicted();
    let stream = match &ctx.tls {
        None => Stream::Plain(stream),
        // An address past its budget of handshakes is closed before one.
        Some(_)
            if peer.is_some_and(|p| !ctx.handshakes.take(p.ip(), std::time::Instant::now())) =>
        {
            let why = format!(
                "refused before the handshake: its address started more than {} a second",
                crate::throttle::HANDSHAKE_RATE
            );
            ctx.log_tls_failure(Some((peer, &why)));
            return;
        }
        // The handshake runs under the pending slot, bounded like a login,
        // and gives the slot up to a newer connection like one (only
        // closed: it cannot read a frame yet).
        Some(tls) => match tokio::select! {
            () = evicted.cancelled() => {
                pending.gave_way();
                tracing::debug!(?peer, "closed a connection in its TLS handshake for a newer one");
                ctx.log_before_login(Some((peer, &Ended::Evicted)));
                return;
            }
            accepted = timeout(ctx.login_timeout, tls.accept(stream)) => accepted,
        } {
            Ok(Ok(stream)) => stream,
            Ok(Err(failed)) => {
                ctx.log_tls_failure(Some((peer, &failed.error.to_string())));
                failed.close().await;
                return;
            }
            Err(_) => {
                ctx.log_tls_failure(Some((peer, "timed out")));
                return;
            }
        },
    };
    let settings = &ctx.config.server;
    let codec = ServerCodec::new(
        settings.max_frame_before_login,
        settings.max_frame_after_login,
    );
    let mut conn = Framed::new(stream, codec);
    let (broker, ended) = match login(&mut conn, &ctx, &shutdown, pending).await {
        Ok((broker, subscription, slot)) => {
            let ended = serve(&mut conn, &ctx, &shutdown, broker, subscription).await;
            drop(slot);
            (Some(broker), ended)
        }
        Err(ended) => (None, ended),
    };
    // Logged as the session ends, before the wait for the peer below: a
    // disconnect's cancel (logged once durable) is not a second behind.
    log_end(&ctx, peer, broker, &ended);
    // A peer that is gone cannot be told anything more. What it has not
    // read yet of what was sent is read before the socket goes, even with
    // requests still unread in it (after a `Logout`, say). A broker that
    // stopped reading is not waited for: its connection goes at once.
    if let Some(at) = ended.slow_reader() {
        ctx.slow_readers[at].fetch_add(1, Ordering::Relaxed);
    } else if timeout(ctx.login_timeout, SinkExt::<ServerFrame>::close(&mut conn))
        .await
        .is_ok_and(|closed| closed.is_ok())
    {
        conn.get_mut().drain_unread(CLOSE_WAIT).await;
    }
}

/// Logs how a connection or a session ended.
fn log_end(
    ctx: &SessionContext,
    peer: Option<SocketAddr>,
    broker: Option<BrokerId>,
    ended: &Ended,
) {
    match ended {
        ended if broker.is_none() && ended.before_login() => {
            tracing::debug!(?peer, why = ?ended, "closed a connection before a login");
            ctx.log_before_login(Some((peer, ended)));
        }
        Ended::Malformed(error) => {
            tracing::debug!(?peer, broker = broker.map(|b| b.0), %error, "closed a session on a malformed frame");
            ctx.log_malformed(Some((peer, error)));
        }
        // The peer went away while it was being written to.
        Ended::Write(EncodeError::Io(error))
            if matches!(
                error.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ) =>
        {
            tracing::info!(?peer, broker = broker.map(|b| b.0), %error, "session closed: the connection failed");
        }
        Ended::Write(error) => {
            tracing::warn!(?peer, broker = broker.map(|b| b.0), %error, "closed a session that could not be written");
        }
        Ended::ReadFailed(error) => {
            tracing::info!(?peer, broker = broker.map(|b| b.0), %error, "session closed: the connection failed");
        }
        // Counted and logged a line per interval by the back-off.
        Ended::LoginRefused(
            reason @ (RejectReason::BadCredentials | RejectReason::TooManyFailedLogins),
        ) => {
            tracing::debug!(?peer, reason = reason.code(), "refused a login");
        }
        Ended::LoginRefused(reason) => match broker {
            Some(broker) => {
                tracing::debug!(
                    ?peer,
                    broker = broker.0,
                    reason = reason.code(),
                    "refused a login"
                );
                ctx.log_refused_login(Some((peer, broker, *reason)));
            }
            None => tracing::info!(?peer, reason = reason.code(), "refused a login"),
        },
        Ended::BrokerRefused(refused, reason) => {
            tracing::debug!(
                ?peer,
                broker = refused.0,
                reason = reason.code(),
                "refused a login"
            );
            ctx.log_refused_login(Some((peer, *refused, *reason)));
        }
        other => {
            tracing::info!(?peer, broker = broker.map(|b| b.0), why = ?other, "session closed");
        }
    }
}

/// Sends one frame and flushes it.
async fn send(conn: &mut Connection, frame: &ServerFrame) -> Result<(), EncodeError> {
    conn.send(frame).await
}

/// Sends a session message (seq 0).
async fn send_unsequenced(
    conn: &mut Connection,
    message: ServerMessage,
) -> Result<(), EncodeError> {
    send(
        conn,
        &ServerFrame {
            seq: UNSEQUENCED,
            message,
        },
    )
    .await
}

/// `ProtocolError` for a frame that could not be accepted, when the
/// connection can still carry one.
async fn protocol_error(conn: &mut Connection, error: DecodeError) -> Ended {
    let error = match gone(error) {
        Ok(error) => error,
        Err(ended) => return ended,
    };
    if let Some(reason) = error.reject_reason() {
        let mut text = error.to_string();
        truncate_text(&mut text);
        let _ = send_unsequenced(
            conn,
            ServerMessage::ProtocolError {
                reason: reason.code(),
                text,
            },
        )
        .await;
    }
    Ended::Malformed(error)
}

/// How the session ended when reading failed rather than a frame being
/// wrong (`Err`); the error itself when a frame was.
fn gone(error: DecodeError) -> Result<DecodeError, Ended> {
    match error {
        // A TLS peer that closes without `close_notify` has only gone away,
        // as a plain one does with its end of file.
        DecodeError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => Err(Ended::Eof),
        // So has one that closes in the middle of a frame: there is no one
        // left to tell, and a reset there is a closed socket too.
        DecodeError::UnexpectedEof { .. } => Err(Ended::Eof),
        // A reset is a closed socket, not a frame of the peer's.
        DecodeError::Io(io) => Err(Ended::ReadFailed(io)),
        error => Ok(error),
    }
}

/// Cuts a text to the protocol's maximum on a character boundary.
pub(crate) fn truncate_text(text: &mut String) {
    let max = crate::protocol::MAX_TEXT_LEN;
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

/// `LoginRejected` with the reason's words, then the session ends.
async fn refuse_login(conn: &mut Connection, reason: RejectReason) -> Ended {
    refuse_login_saying(conn, reason, reject_text(reason)).await
}

/// [`refuse_login`] with words of its own.
async fn refuse_login_saying(conn: &mut Connection, reason: RejectReason, text: String) -> Ended {
    let _ = send_unsequenced(
        conn,
        ServerMessage::LoginRejected {
            reason: reason.code(),
            text,
        },
    )
    .await;
    Ended::LoginRefused(reason)
}

/// Reads and checks the first frame; on success the broker is subscribed,
/// the pending slot traded for a session slot, and `LoginAccepted` sent.
async fn login(
    conn: &mut Connection,
    ctx: &SessionContext,
    shutdown: &CancellationToken,
    pending: PendingSlot,
) -> Result<(BrokerId, Subscription, SessionSlot), Ended> {
    let evicted = pending.evicted();
    let first = tokio::select! {
        () = shutdown.cancelled() => return Err(Ended::Shutdown),
        // A newer connection took this one's pending slot.
        () = evicted.cancelled() => {
            pending.gave_way();
            refuse_login(conn, RejectReason::TooManyConnections).await;
            return Err(Ended::Evicted);
        }
        first = timeout(ctx.login_timeout, conn.next()) => first,
    };
    let message = match first {
        Err(_) => return Err(Ended::LoginTimeout),
        Ok(None) => return Err(Ended::Eof),
        Ok(Some(Err(error))) => return Err(protocol_error(conn, error).await),
        Ok(Some(Ok(message))) => message,
    };
    let ClientMessage::Login {
        protocol_version,
        broker_id,
        secret,
        resume_from_seq,
    } = message
    else {
        return Err(refuse_login(conn, RejectReason::NotLoggedIn).await);
    };
    if protocol_version != PROTOCOL_VERSION {
        return Err(refuse_login(conn, RejectReason::UnsupportedProtocolVersion).await);
    }
    let addr = pending.addr();
    let broker = BrokerId(broker_id);
    // A client certificate for the broker's `tls_name` is proof no guesser
    // at its address has: that login's secret is checked all the same.
    let certified = ctx
        .config
        .broker(broker)
        .and_then(|config| config.tls_name.as_ref())
        .is_some_and(|name| conn.get_ref().peer_certificate_is_for(name));
    if !certified && ctx.logins.refuse_at_once(addr, std::time::Instant::now()) {
        return Err(refuse_login(conn, RejectReason::TooManyFailedLogins).await);
    }
    // A check may wait its turn behind other logins' (an added broker's
    // first since the start): the login is no idle socket to evict
    // meanwhile, and one not checked within the login timeout is told the
    // server is busy.
    pending.checking();
    let check = tokio::select! {
        () = shutdown.cancelled() => return Err(Ended::Shutdown),
        check = timeout(ctx.login_timeout, check_login(conn, ctx, broker, &secret)) => {
            check.unwrap_or(LoginCheck::Unchecked)
        }
    };
    if check == LoginCheck::Unchecked {
        refuse_login_saying(
            conn,
            RejectReason::ServerBusy,
            "server busy: the secret could not be checked in time; try again".to_owned(),
        )
        .await;
        return Err(Ended::LoginRefused(RejectReason::ServerBusy));
    }
    if check == LoginCheck::NotActive {
        // Right credentials: the refusal says why, and is no failure.
        refuse_login(conn, RejectReason::BrokerNotActive).await;
        return Err(Ended::BrokerRefused(broker, RejectReason::BrokerNotActive));
    }
    if check != LoginCheck::Accepted {
        let known = check == LoginCheck::Refused;
        let answer = ctx
            .logins
            .failed(addr, broker, known, std::time::Instant::now());
        tokio::select! {
            () = shutdown.cancelled() => return Err(Ended::Shutdown),
            () = tokio::time::sleep(answer.delay) => {}
        }
        let reason = if answer.refuse {
            RejectReason::TooManyFailedLogins
        } else {
            RejectReason::BadCredentials
        };
        return Err(refuse_login(conn, reason).await);
    }
    // A login takes from the broker's budget like any request, so that
    // logging out and in cannot go faster than its rate; only once the
    // credentials are right, so that no one else can spend it.
    if !ctx.throttles.bucket(broker).take(std::time::Instant::now()) {
        refuse_login(conn, RejectReason::Throttled).await;
        return Err(Ended::BrokerRefused(broker, RejectReason::Throttled));
    }
    // A takeover gives the old session's slot back as the old session
    // closes: at the session limit, only a takeover gets one, over it.
    let slot = ctx.admission.try_session();
    if slot.is_none() && !ctx.runtime.is_connected(broker) {
        refuse_login(conn, RejectReason::TooManyConnections).await;
        return Err(Ended::BrokerRefused(
            broker,
            RejectReason::TooManyConnections,
        ));
    }
    // The login is no idle connection from here: it leaves the pending
    // pool, where a newer connection could evict it, before it waits for
    // its last session's cancels, if they are still on their way to the
    // journal: they come in this login's replay, before anything it sends
    // (not settled in time, it is refused 408 ServerBusy).
    drop(pending);
    let login = tokio::select! {
        () = shutdown.cancelled() => return Err(Ended::Shutdown),
        login = ctx.runtime.login(broker, resume_from_seq, ctx.login_timeout) => login,
    };
    let subscription = match login {
        Ok(subscription) => subscription,
        Err(reason) => {
            // A refused login holds no slot while it is told why: a client
            // that knows it is refused finds the connections counted
            // without it.
            drop(slot);
            ctx.count_failed_resume(reason);
            let text = match reason {
                // Which resume would be served, since the broker cannot
                // tell.
                RejectReason::HistoryArchived => {
                    resume_from(reason, ctx.runtime.earliest_resume(broker))
                }
                // Where the broker's reports end, so that it can resume
                // from there; a broker ahead of the journal may have been
                // told of entries it no longer holds (a data directory
                // restored from an older copy: OPERATIONS.md).
                RejectReason::ResumeSeqAhead => {
                    let last = ctx.runtime.last_report(broker);
                    // A line per interval: a client that resumes from
                    // the same number again and again gets a refusal a
                    // try (reviewer 163 F1).
                    let why = format!(
                        "broker {broker_id} resume_from_seq {resume_from_seq} last_seq {last}"
                    );
                    let peer = conn.get_ref().tcp().peer_addr().ok();
                    ctx.log_resume_ahead(Some((peer, why)));
                    format!("{}: the last report is {last}", reject_text(reason))
                }
                _ => reject_text(reason),
            };
            refuse_login_saying(conn, reason, text).await;
            return Err(Ended::BrokerRefused(broker, reason));
        }
    };
    let slot = slot.unwrap_or_else(|| ctx.admission.takeover_session());
    let accepted = ServerMessage::LoginAccepted {
        trading_day: subscription.trading_date(),
        last_seq: subscription.last_seq(),
    };
    if let Err(error) = send_unsequenced(conn, accepted).await {
        return Err(Ended::Write(error));
    }
    conn.codec_mut().set_logged_in(true);
    ctx.logins
        .succeeded(addr, broker, std::time::Instant::now());
    tracing::info!(
        broker = broker_id,
        resume_from_seq,
        last_seq = subscription.last_seq(),
        "logged in"
    );
    Ok((broker, subscription, slot))
}

/// What a login's credentials come to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LoginCheck {
    /// No broker of the config or the journal has this id.
    Unknown,
    /// A known broker, but the wrong secret (or no client certificate for
    /// its `tls_name`).
    Refused,
    /// The right credentials of a broker that is suspended or closed.
    NotActive,
    /// An added broker's secret that could not be checked in time.
    Unchecked,
    /// Log in.
    Accepted,
}

/// Checks a login against the config's brokers and those an operator
/// added (whose salted hash is checked by the [`crate::credential::Verifier`]:
/// it takes [`crate::credential::ITERATIONS`] rounds), then the broker's
/// standing.
async fn check_login(
    conn: &Connection,
    ctx: &SessionContext,
    broker: BrokerId,
    secret: &crate::protocol::Secret,
) -> LoginCheck {
    let accepted = if let Some(config) = ctx.config.broker(broker) {
        // A broker with a `tls_name` needs a client certificate for it too.
        let certified = |name: &String| conn.get_ref().peer_certificate_is_for(name);
        let right_secret = config.accepts(secret);
        let certificate = config.tls_name.as_ref().is_none_or(certified);
        if right_secret && !certificate {
            // The broker is told only 402; the exchange is told why.
            tracing::warn!(
                broker = broker.0,
                tls_name = config.tls_name.as_deref(),
                "a login with the right secret had no client certificate valid for the broker's tls_name"
            );
        }
        right_secret && certificate
    } else if let Some(credential) = ctx.runtime.standing(broker).credential {
        match ctx.verifier.verify(credential, secret).await {
            Some(accepted) => accepted,
            None => return LoginCheck::Unchecked,
        }
    } else {
        return LoginCheck::Unknown;
    };
    // Read after the check, which may have waited: a suspension meanwhile
    // counts.
    if !accepted {
        LoginCheck::Refused
    } else if ctx.runtime.standing(broker).status == cetx_engine::Status::Active {
        LoginCheck::Accepted
    } else {
        LoginCheck::NotActive
    }
}

/// The logged-in session: frames out from the subscription, requests in
/// to the runtime, heartbeats and the idle timeout.
async fn serve(
    conn: &mut Connection,
    ctx: &SessionContext,
    shutdown: &CancellationToken,
    broker: BrokerId,
    mut subscription: Subscription,
) -> Ended {
    let settings = &ctx.config.server;
    let bucket = ctx.throttles.bucket(broker);
    let mut symbols = ctx.runtime.symbol_cache();
    let heartbeat_interval = settings.heartbeat_interval();
    let idle_timeout = settings.idle_timeout();
    let mut last_sent = Instant::now();
    let mut last_heard = Instant::now();
    // One timer serves the heartbeat and the idle timeout. It is moved only
    // when it fires (to whichever is due next by then), not on every frame:
    // a frame costs no timer.
    let timer = sleep_until((last_sent + heartbeat_interval).min(last_heard + idle_timeout));
    tokio::pin!(timer);
    let cancelled = shutdown.cancelled();
    tokio::pin!(cancelled);
    let taken_over_token = subscription.taken_over();
    let taken_over = taken_over_token.cancelled();
    tokio::pin!(taken_over);
    let dropped_token = subscription.dropped();
    let dropped = dropped_token.cancelled();
    tokio::pin!(dropped);
    loop {
        tokio::select! {
            () = &mut cancelled => return stopped(&ctx.runtime, Ended::Shutdown),
            () = &mut taken_over => return taken_over_end(conn, &mut subscription).await,
            () = &mut dropped => return stopped(&ctx.runtime, Ended::SubscriptionDropped),
            frame = subscription.recv() => {
                let Some(frame) = frame else {
                    // A takeover closes the old live channel too (after
                    // cancelling the token): whichever is seen first.
                    if taken_over_token.is_cancelled() {
                        return taken_over_end(conn, &mut subscription).await;
                    }
                    if let Some(earliest) = subscription.unreadable_history() {
                        ctx.count_failed_resume(RejectReason::HistoryUnreadable);
                        return unreadable_end(conn, &mut subscription, earliest).await;
                    }
                    return stopped(&ctx.runtime, Ended::SubscriptionDropped);
                };
                let write = send_ready(conn, &mut subscription, frame);
                if let Err(ended) = bounded_write(write, idle_timeout, &dropped_token, &ctx.runtime).await {
                    return ended;
                }
                // A long backlog (a resume) is sent a flush at a time, and
                // other sessions run between: it never holds a worker.
                tokio::task::yield_now().await;
                last_sent = Instant::now();
            }
            () = &mut timer => {
                let now = Instant::now();
                if now >= last_heard + idle_timeout {
                    return Ended::IdleTimeout;
                }
                if now >= last_sent + heartbeat_interval {
                    let write = send_unsequenced(conn, ServerMessage::Heartbeat);
                    if let Err(ended) = bounded_write(write, idle_timeout, &dropped_token, &ctx.runtime).await {
                        return ended;
                    }
                    last_sent = Instant::now();
                }
                timer.as_mut().reset((last_sent + heartbeat_interval).min(last_heard + idle_timeout));
            }
            incoming = conn.next() => {
                last_heard = Instant::now();
                let mut message = match incoming {
                    None => return Ended::Eof,
                    Some(Err(error)) => return malformed(conn, &mut subscription, error).await,
                    Some(Ok(message)) => message,
                };
                // Every whole frame the read brought is handled now; a
                // request refused here waits for the answers to the
                // requests taken before it, and goes out with them.
                loop {
                    match message {
                        ClientMessage::Heartbeat => {}
                        ClientMessage::Logout => {
                            return logout(conn, &mut subscription).await;
                        }
                        ClientMessage::Login { .. } => {
                            // As for a malformed frame: the answers to the
                            // requests before it come first.
                            if let Err(ended) = answer_owed(conn, &mut subscription).await {
                                return ended;
                            }
                            let _ = send_unsequenced(conn, ServerMessage::ProtocolError {
                                reason: RejectReason::AlreadyLoggedIn.code(),
                                text: reject_text(RejectReason::AlreadyLoggedIn),
                            }).await;
                            return Ended::LoginRefused(RejectReason::AlreadyLoggedIn);
                        }
                        request => {
                            if let Some(reject) = submit(&subscription, &bucket, &mut symbols, last_heard, &request) {
                                if !subscription.reject(reject) {
                                    return Ended::SubscriptionDropped;
                                }
                            }
                        }
                    }
                    message = match decode_buffered(conn) {
                        Ok(Some(message)) => message,
                        Ok(None) => break,
                        Err(error) => return malformed(conn, &mut subscription, error).await,
                    };
                }
            }
        }
    }
}

/// A write of the logged-in session. A broker that stops reading must not
/// hold its session (and its subscription) forever: the write ends the
/// session when it cannot finish in the idle timeout, or at once when the
/// runtime drops the subscription meanwhile for its backlog (`dropped`).
async fn bounded_write(
    write: impl std::future::Future<Output = Result<(), EncodeError>>,
    idle_timeout: Duration,
    dropped: &CancellationToken,
    runtime: &RuntimeHandle,
) -> Result<(), Ended> {
    tokio::select! {
        sent = timeout(idle_timeout, write) => match sent {
            Err(_) => Err(Ended::WriteTimeout),
            Ok(Err(error)) => Err(Ended::Write(error)),
            Ok(Ok(())) => Ok(()),
        },
        () = dropped.cancelled() => Err(stopped(runtime, Ended::SubscriptionDropped)),
    }
}

/// Throttles, parses and submits one order request; the unsequenced
/// reject to send when it was not taken.
fn submit(
    subscription: &Subscription,
    bucket: &Bucket,
    symbols: &mut SymbolCache,
    now: Instant,
    message: &ClientMessage,
) -> Option<ServerFrame> {
    let (client_order_id, kind) = request_of(message)?;
    if !bucket.take(now.into_std()) {
        return Some(refuse(client_order_id, kind, RejectReason::Throttled));
    }
    let request = match request::parse(message, |symbol| symbols.resolve(symbol))? {
        Ok(request) => request,
        Err(refusal) => {
            // An unknown symbol is named, as the feed's 410 names it.
            let words = reject_text(refusal.reason);
            let text = match symbol_of(message) {
                Some(symbol) if refusal.reason == RejectReason::UnknownSymbol => {
                    format!("{words} {symbol}")
                }
                _ => words,
            };
            return Some(refuse_saying(client_order_id, kind, refusal.reason, text));
        }
    };
    subscription
        .submit(request)
        .err()
        .map(|error| refuse(client_order_id, kind, error.reject_reason()))
}

/// Writes `first` and whatever else the subscription has ready (up to
/// [`MAX_FRAMES_PER_FLUSH`]), then flushes once.
async fn send_ready(
    conn: &mut Connection,
    subscription: &mut Subscription,
    first: ServerFrame,
) -> Result<(), EncodeError> {
    conn.feed(&first).await?;
    for _ in 1..MAX_FRAMES_PER_FLUSH {
        match subscription.try_recv() {
            Ok(frame) => conn.feed(&frame).await?,
            Err(_) => break,
        }
    }
    SinkExt::<ServerFrame>::flush(conn).await
}

/// The last frames of a session a new login took over, given a short time
/// together (the old connection is often dead): the rejects the session
/// made for requests of this connection, which were waiting for answers
/// that now go to the new one (else no connection would get them), then
/// `ProtocolError` 416.
async fn taken_over_end(conn: &mut Connection, subscription: &mut Subscription) -> Ended {
    let reason = RejectReason::SessionTakenOver;
    last_words(conn, subscription, reason, reject_text(reason)).await;
    Ended::TakenOver
}

/// The last frames of a session whose history could not be read back from
/// the journal: the rejects it held, as at a takeover, then
/// `ProtocolError` 421 naming the earliest resume served from memory.
async fn unreadable_end(
    conn: &mut Connection,
    subscription: &mut Subscription,
    earliest: u64,
) -> Ended {
    let reason = RejectReason::HistoryUnreadable;
    last_words(conn, subscription, reason, resume_from(reason, earliest)).await;
    Ended::HistoryUnreadable
}

/// The words of a refusal for history the server cannot serve (419,
/// 421), with the earliest resume it does serve.
fn resume_from(reason: RejectReason, earliest: u64) -> String {
    format!("{}: resume from {earliest} or later", reject_text(reason))
}

/// Sends the rejects `subscription` holds, then `ProtocolError` `reason`
/// with `text`, given a short time together.
async fn last_words(
    conn: &mut Connection,
    subscription: &mut Subscription,
    reason: RejectReason,
    text: String,
) {
    let last = ServerFrame {
        seq: UNSEQUENCED,
        message: ServerMessage::ProtocolError {
            reason: reason.code(),
            text,
        },
    };
    let held = subscription.take_held_rejects();
    let _ = timeout(TAKEOVER_WRITE_TIMEOUT, async {
        for frame in held.iter().chain([&last]) {
            conn.feed(frame).await?;
        }
        SinkExt::<ServerFrame>::flush(conn).await
    })
    .await;
}

/// `Logout`: sends the answers to every request sent before it, then ends
/// the session.
async fn logout(conn: &mut Connection, subscription: &mut Subscription) -> Ended {
    match answer_owed(conn, subscription).await {
        Ok(()) => Ended::Logout,
        Err(ended) => ended,
    }
}

/// A malformed frame after login: the answers to every request sent
/// before it, then `ProtocolError`, as a `Logout` would (the session's own
/// rejects, unsequenced, would else be lost for good). A connection that
/// failed (`DecodeError::Io`) is not written to.
async fn malformed(
    conn: &mut Connection,
    subscription: &mut Subscription,
    error: DecodeError,
) -> Ended {
    if error.reject_reason().is_some() {
        if let Err(ended) = answer_owed(conn, subscription).await {
            return ended;
        }
    }
    protocol_error(conn, error).await
}

/// Sends the answers to every request taken so far (the engine's, once
/// durable, and the rejects the session made, which wait for the answers
/// before them), waiting at most [`LOGOUT_WAIT`] for them, and flushes.
/// A takeover meanwhile ends the session as any takeover does
/// ([`taken_over_end`]): the answers still owed go to the new connection,
/// and this one gets the session's own rejects and its 416.
async fn answer_owed(conn: &mut Connection, subscription: &mut Subscription) -> Result<(), Ended> {
    let deadline = tokio::time::Instant::now() + LOGOUT_WAIT;
    let requests = subscription.requests_taken();
    let taken_over = subscription.taken_over();
    loop {
        if taken_over.is_cancelled() {
            return Err(taken_over_end(conn, subscription).await);
        }
        while let Ok(frame) = subscription.try_recv() {
            conn.feed(&frame).await.map_err(Ended::Write)?;
        }
        if !subscription.awaits_answers(requests) {
            break;
        }
        let received = tokio::select! {
            () = taken_over.cancelled() => continue,
            received = tokio::time::timeout_at(deadline, subscription.recv()) => received,
        };
        match received {
            Ok(Some(frame)) => conn.feed(&frame).await.map_err(Ended::Write)?,
            // A takeover closes the live channel too, after its token.
            Ok(None) if taken_over.is_cancelled() => {}
            Ok(None) | Err(_) => break,
        }
    }
    SinkExt::<ServerFrame>::flush(conn)
        .await
        .map_err(Ended::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_on_a_character_boundary() {
        let mut text = "é".repeat(100);
        truncate_text(&mut text);
        assert!(text.len() <= crate::protocol::MAX_TEXT_LEN);
        assert_eq!(text.chars().count(), 64);
    }

    #[test]
    fn a_reset_or_a_closed_socket_even_mid_frame_is_a_peer_gone_not_a_malformed_frame() {
        use std::io::{Error, ErrorKind};
        let reset = DecodeError::Io(Error::from(ErrorKind::ConnectionReset));
        assert!(matches!(gone(reset), Err(Ended::ReadFailed(_))));
        let eof = DecodeError::Io(Error::from(ErrorKind::UnexpectedEof));
        assert!(matches!(gone(eof), Err(Ended::Eof)));
        let cut = DecodeError::UnexpectedEof { buffered: 3 };
        assert!(matches!(gone(cut), Err(Ended::Eof)));
        let wrong = DecodeError::FrameTooLarge {
            len: 5_000,
            max: 4_096,
        };
        assert!(matches!(gone(wrong), Ok(DecodeError::FrameTooLarge { .. })));
    }
}
