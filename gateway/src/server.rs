//! The TCP server: accepts broker connections and runs one session task per
//! connection (see the private `crate::session`).
//!
//! ```text
//! TcpListener ─accept─► pending slot ─► session task ─login─► session slot
//!                       (see crate::admission; over a limit:
//!                        LoginRejected 412, close at once)
//! ```
//!
//! [`Server::bind`] opens the listener; [`Server::run`] accepts until its
//! [`CancellationToken`] is cancelled or the runtime stops (a failed
//! journal, say), then stops the runtime taking requests (so that resting
//! orders stay for the restart) and closes every session and waits for
//! them. The
//! caller then calls [`crate::runtime::Runtime::shutdown`], which drains
//! the queue and syncs the journal: the server owns sockets, the runtime
//! owns the market.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use cetx_engine::RejectReason;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::codec::Encoder;
use tokio_util::sync::CancellationToken;

use crate::admission::{Admission, Full};
use crate::backoff::LoginBackoff;
use crate::codec::ServerCodec;
use crate::config::ServerConfig;
use crate::log_tally::SharedTally;
use crate::protocol::{ServerFrame, ServerMessage, LOGIN_TIMEOUT, UNSEQUENCED};
use crate::reports::reject_text;
use crate::runtime::{RuntimeHandle, RuntimeStatus};
use crate::session::{self, SessionContext};
use crate::throttle::Throttles;

/// How long a shutdown waits for sessions to close before aborting them.
const SESSION_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// At most one log line per this long about refused connections.
pub(crate) const REFUSED_LOG_INTERVAL: Duration = crate::log_tally::INTERVAL;
/// How often the lines held back by those intervals are looked at, so
/// that a burst's last events are logged even if no other comes.
pub(crate) const LOG_FLUSH_PERIOD: Duration = Duration::from_secs(1);
/// The file in the data directory where the addresses brokers logged in
/// from are kept across restarts ([`Server::with_proven_file`]).
pub const PROVEN_FILE: &str = "broker-addresses.txt";

/// Longest a new connection waits for the pending slot of the oldest
/// pending connection it closed (that one's task frees it at once).
const EVICTION_WAIT: Duration = Duration::from_secs(1);

/// Why [`Server::run`] stopped other than by its token.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The runtime failed (its journal, a thread): no more requests can be
    /// taken. The text is the runtime's.
    #[error("the runtime failed: {0}")]
    RuntimeFailed(String),
}

/// The server's connections, counted at the moment of asking; cheap to
/// clone.
#[derive(Clone, Debug)]
pub struct Connections(Arc<SessionContext>);

impl Connections {
    /// Connections that have not logged in yet.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.0.admission.held().0
    }

    /// Connections that have not logged in yet holding a slot kept for the
    /// addresses brokers logged in from (counted in [`Self::pending`] too).
    #[must_use]
    pub fn pending_kept(&self) -> usize {
        self.0.admission.held_kept()
    }

    /// Logged-in sessions.
    #[must_use]
    pub fn sessions(&self) -> usize {
        self.0.admission.held().1
    }

    /// Connections refused so far because no pending-login slot was free
    /// (for them, or for their address).
    #[must_use]
    pub fn refused(&self) -> u64 {
        self.0.admission.refused()
    }

    /// Logins refused so far for their credentials (402) or their
    /// address's failures (417): the login back-off's count.
    #[must_use]
    pub fn failed_logins(&self) -> u64 {
        self.0.logins.refused()
    }

    /// Resumes that failed so far, by reject code: refused 413 and 419,
    /// ended 421.
    #[must_use]
    pub fn failed_resumes(&self) -> [(u16, u64); 3] {
        let codes = crate::session::RESUME_FAILURES.map(RejectReason::code);
        labelled(&self.0.resumes_failed, codes)
    }

    /// Sessions closed so far because their broker stopped reading, by
    /// why: a write that could not finish in the idle timeout
    /// (`write_timeout`), or reports piled up unread past the subscriber
    /// capacity (`backlog`).
    #[must_use]
    pub fn slow_reader_closes(&self) -> [(&'static str, u64); 2] {
        labelled(&self.0.slow_readers, crate::session::SLOW_READER_ENDS)
    }

    /// TLS handshakes on the broker port that failed or timed out so far.
    #[must_use]
    pub fn failed_tls_handshakes(&self) -> u64 {
        self.0.tls_failed.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A bound server, ready to [`Server::run`].
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    ctx: Arc<SessionContext>,
}

impl Server {
    /// Binds `listen` (port 0 picks a free port; see
    /// [`Server::local_addr`]). The config gives the brokers, the
    /// connection limit, the frame limits, the timeouts and TLS
    /// (`[server.tls]`: its certificate and key are loaded here);
    /// `runtime` is the market the sessions trade on.
    ///
    /// # Errors
    /// The operating system's, when the address cannot be bound;
    /// `InvalidInput` with the reason when the TLS certificate or key
    /// cannot be loaded.
    pub async fn bind(
        config: Arc<ServerConfig>,
        runtime: RuntimeHandle,
        listen: SocketAddr,
    ) -> io::Result<Self> {
        let tls = match &config.server.tls {
            Some(settings) => Some(
                crate::tls::server(&settings.cert, &settings.key, settings.client_ca.as_deref())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            ),
            None => None,
        };
        let listener = TcpListener::bind(listen).await?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
            ctx: Arc::new(SessionContext {
                tls,
                admission: Admission::new(&config.server),
                logins: LoginBackoff::new(config.server.login_backoff),
                verifier: crate::credential::Verifier::start()?,
                throttles: Throttles::new(&config, std::time::Instant::now()),
                config,
                runtime,
                login_timeout: LOGIN_TIMEOUT,
                malformed: SharedTally::new(REFUSED_LOG_INTERVAL),
                before_login: SharedTally::new(REFUSED_LOG_INTERVAL),
                refused_logins: SharedTally::new(REFUSED_LOG_INTERVAL),
                resumes_ahead: SharedTally::new(REFUSED_LOG_INTERVAL),
                tls_failures: SharedTally::new(REFUSED_LOG_INTERVAL),
                tls_failed: std::sync::atomic::AtomicU64::new(0),
                resumes_failed: Default::default(),
                slow_readers: Default::default(),
                handshakes: crate::throttle::Handshakes::new(Instant::now()),
            }),
        })
    }

    /// Sets how long a new connection may take to send its `Login`
    /// (default: the protocol's `LOGIN_TIMEOUT`).
    ///
    /// # Panics
    /// If called after [`Self::connections`], which shares what it sets.
    #[must_use]
    pub fn with_login_timeout(mut self, login_timeout: Duration) -> Self {
        self.unshared().login_timeout = login_timeout;
        self
    }

    /// Keeps the addresses brokers logged in from in `file` across
    /// restarts (read now, written as they change), so that they are
    /// proven from the start (PROTOCOL.md rule 1): `cetx serve` names
    /// [`PROVEN_FILE`] in the data directory.
    ///
    /// # Panics
    /// If called after [`Self::connections`], which shares what it sets.
    #[must_use]
    pub fn with_proven_file(mut self, file: PathBuf) -> Self {
        let ctx = self.unshared();
        ctx.logins = LoginBackoff::with_file(ctx.config.server.login_backoff, file);
        self
    }

    /// The context, for a `with_` setter: one that did nothing once the
    /// context was shared went unnoticed (reviewer 138 F9).
    fn unshared(&mut self) -> &mut SessionContext {
        Arc::get_mut(&mut self.ctx)
            .expect("a Server's settings are set before Server::connections shares them")
    }

    /// A look at the server's connections from elsewhere, for metrics.
    #[must_use]
    pub fn connections(&self) -> Connections {
        Connections(Arc::clone(&self.ctx))
    }

    /// The address the server listens on.
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Accepts connections until `shutdown` is cancelled or the runtime
    /// stops; then stops accepting, stops the runtime taking requests
    /// ([`crate::runtime::RuntimeHandle::stop_taking`]), closes every
    /// session and waits for them (at most a few seconds, then aborts the
    /// rest).
    ///
    /// # Errors
    /// [`ServerError::RuntimeFailed`] when it stopped because the runtime
    /// failed.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ServerError> {
        // Not a child of `shutdown`: the sessions end only after the
        // runtime has stopped taking requests (below).
        let sessions_shutdown = CancellationToken::new();
        let mut sessions = JoinSet::new();
        let mut status = self.ctx.runtime.status();
        let mut result = Ok(());
        let refused = Arc::new(SharedTally::new(REFUSED_LOG_INTERVAL));
        let mut flush = tokio::time::interval(LOG_FLUSH_PERIOD);
        let refusal = refusal_bytes();
        let settings = &self.ctx.config.server;
        // Not said of a server stopped before it served (a stop asked for
        // during its recovery).
        if !shutdown.is_cancelled() {
            tracing::info!(
                addr = %self.local_addr,
                max_connections = settings.max_connections,
                max_pending_logins = settings.max_pending_logins,
                max_pending_per_address = settings.max_pending_per_address,
                "accepting broker connections"
            );
        }
        let mut accept_failures = crate::listen::AcceptFailures::new("broker");
        loop {
            // Finished sessions are collected as we go, so the set stays
            // the size of the open connections.
            while sessions.try_join_next().is_some() {}
            let stopped = |status: &RuntimeStatus| *status != RuntimeStatus::Running;
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = flush.tick() => {
                    let now = Instant::now();
                    self.ctx.logins.flush_log(now);
                    if self.ctx.logins.proven_changed() {
                        let ctx = Arc::clone(&self.ctx);
                        tokio::task::spawn_blocking(move || ctx.logins.write_proven());
                    }
                    self.ctx.flush_logs();
                    log_refused(&refused, None, now);
                }
                failure = async {
                    let changed = status.wait_for(stopped).await;
                    changed.ok().and_then(|s| match &*s {
                        RuntimeStatus::Failed(why) => Some(why.clone()),
                        _ => None,
                    })
                } => {
                    if let Some(why) = failure {
                        result = Err(ServerError::RuntimeFailed(why));
                    }
                    break;
                }
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let source = self.ctx.logins.source(peer.ip());
                        match self.ctx.admission.admit(peer.ip(), source) {
                            Ok(slot) => {
                                tracing::debug!(%peer, "connection accepted");
                                let ctx = Arc::clone(&self.ctx);
                                let token = sessions_shutdown.clone();
                                sessions.spawn(session::run(stream, slot, ctx, token));
                            }
                            Err(Full::Pending) => {
                                // The pool is full: this connection takes the
                                // oldest pending one's place.
                                let ctx = Arc::clone(&self.ctx);
                                let token = sessions_shutdown.clone();
                                let refusal = refusal.clone();
                                let refused = Arc::clone(&refused);
                                sessions.spawn(async move {
                                    match ctx.admission.admit_evicting(peer.ip(), source, EVICTION_WAIT).await {
                                        Ok(slot) => session::run(stream, slot, ctx, token).await,
                                        Err(full) => {
                                            if ctx.tls.is_none() {
                                                refuse(&stream, &refusal);
                                            }
                                            log_refused(&refused, Some((peer.to_string(), format!("{full:?}"))), Instant::now());
                                        }
                                    }
                                });
                            }
                            Err(full) => {
                                // A TLS peer could not read a plain frame: it
                                // is only closed.
                                if self.ctx.tls.is_none() {
                                    refuse(&stream, &refusal);
                                }
                                log_refused(&refused, Some((peer.to_string(), format!("{full:?}"))), Instant::now());
                            }
                        }
                    }
                    Err(error) => accept_failures.after(&error).await,
                },
            }
        }
        drop(self.listener);
        // Before the sessions end: a session closed by a shutdown must not
        // cancel its broker's resting orders.
        self.ctx.runtime.stop_taking();
        sessions_shutdown.cancel();
        let closing = async { while sessions.join_next().await.is_some() {} };
        if tokio::time::timeout(SESSION_CLOSE_TIMEOUT, closing)
            .await
            .is_err()
        {
            tracing::warn!("sessions did not close in time; aborting them");
            sessions.shutdown().await;
        }
        tracing::info!("stopped accepting; every session is closed");
        let ctx = Arc::clone(&self.ctx);
        let _ = tokio::task::spawn_blocking(move || ctx.logins.write_proven()).await;
        result
    }
}

/// The bytes of `LoginRejected` 412, unsequenced: the answer to a
/// connection with no pending-login slot.
fn refusal_bytes() -> BytesMut {
    let frame = ServerFrame {
        seq: UNSEQUENCED,
        message: ServerMessage::LoginRejected {
            reason: RejectReason::TooManyConnections.code(),
            text: reject_text(RejectReason::TooManyConnections),
        },
    };
    let mut bytes = BytesMut::new();
    ServerCodec::default()
        .encode(&frame, &mut bytes)
        .expect("a LoginRejected fits any frame limit");
    bytes
}

/// Counts a connection refused for want of a pending-login slot (`event`:
/// its peer and which limit was full), and logs the interval's line when
/// it is due (`event` none: only that).
fn log_refused(tally: &SharedTally, event: Option<(String, String)>, now: Instant) {
    if let Some(line) = tally.due(event, now) {
        tracing::warn!(
            count = line.count,
            last = line.last,
            reasons = line.reasons,
            "refused connections that had no pending-login slot (count: since the last such line)"
        );
    }
}

/// Tells a connection refused at accept (here, no pending-login slot; the
/// feed's subscriber limits) why, before anything is read from it; the
/// caller then closes it (by dropping it). One write into the fresh
/// socket's empty buffer, without waiting: a flood of connections costs
/// no task and no timer each. A peer that already sent bytes may see a
/// reset instead, as the unread bytes are discarded.
pub(crate) fn refuse(stream: &TcpStream, refusal: &[u8]) {
    let _ = stream.try_write(refusal);
}

/// Each of `counts` beside its label, for a labelled metric.
pub(crate) fn labelled<L: Copy, const N: usize>(
    counts: &[std::sync::atomic::AtomicU64; N],
    labels: [L; N],
) -> [(L, u64); N] {
    std::array::from_fn(|i| {
        let count = counts[i].load(std::sync::atomic::Ordering::Relaxed);
        (labels[i], count)
    })
}
