//! An operator's end of the operators' channel: log in, send an action,
//! wait for its answer. `cetx admin` is built on it.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::codec::{DecodeError, EncodeError, FrameCodec};
use crate::protocol::admin::{
    AdminAction, AdminReply, AdminRequest, ADMIN_PROTOCOL_VERSION, MAX_ADMIN_FRAME,
};
use crate::protocol::Secret;
use crate::tls::{ClientTls, Stream};

/// Longest wait for an answer: an action is answered once durable, which
/// takes milliseconds unless the server is stuck.
const ANSWER_WAIT: Duration = Duration::from_secs(30);

/// Most actions [`AdminClient::act_all`] sends ahead of their answers:
/// below the server's own limit of a session's transfers in flight, so
/// that the server always reads what it is sent.
const AHEAD: usize = 128;

/// Why the channel failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    /// The connection could not be made or broke.
    #[error("connecting to {addr}: {source}")]
    Connect {
        /// Where.
        addr: SocketAddr,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The server refused the login or closed the session with a reason.
    #[error("the server refused: {text} (code {reason})")]
    Refused {
        /// The reject code.
        reason: u16,
        /// The reason in words.
        text: String,
    },
    /// The server closed the connection without a word.
    #[error("the server closed the connection")]
    Closed,
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The server's bytes could not be read.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A request could not be sent.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The answer to the login is no operators' channel's (the broker
    /// port's, say).
    #[error(
        "{addr} does not answer as the operators' channel does (the broker port, say, or one that speaks TLS): {error}"
    )]
    NotTheChannel {
        /// Where.
        addr: SocketAddr,
        /// What could not be read.
        error: DecodeError,
    },
    /// An answer that does not belong (another request id, or a login
    /// answer mid-session).
    #[error("unexpected answer: {0:?}")]
    Unexpected(AdminReply),
}

/// A logged-in operator session.
#[derive(Debug)]
pub struct AdminClient {
    conn: Framed<Stream, FrameCodec<AdminReply, AdminRequest>>,
    next_request: u64,
}

impl AdminClient {
    /// Connects to `addr` and logs in as `operator`.
    ///
    /// # Errors
    /// [`AdminClientError::Refused`] for a refused login; the others for
    /// a connection that fails.
    pub async fn connect(
        addr: SocketAddr,
        operator: u32,
        secret: &str,
    ) -> Result<Self, AdminClientError> {
        Self::connect_with(addr, None, operator, secret).await
    }

    /// [`Self::connect`] over TLS (`[admin.tls]`), with `tls` from
    /// [`crate::tls::client`] or [`crate::tls::client_with_certificate`].
    ///
    /// # Errors
    /// As [`Self::connect`]; a failed handshake is
    /// [`AdminClientError::Connect`].
    pub async fn connect_tls(
        addr: SocketAddr,
        tls: &ClientTls,
        operator: u32,
        secret: &str,
    ) -> Result<Self, AdminClientError> {
        Self::connect_with(addr, Some(tls), operator, secret).await
    }

    async fn connect_with(
        addr: SocketAddr,
        tls: Option<&ClientTls>,
        operator: u32,
        secret: &str,
    ) -> Result<Self, AdminClientError> {
        let failed = |source| AdminClientError::Connect { addr, source };
        let stream = TcpStream::connect(addr).await.map_err(failed)?;
        let _ = stream.set_nodelay(true);
        let stream = match tls {
            None => Stream::Plain(stream),
            Some(tls) => tls.connect(stream).await.map_err(failed)?,
        };
        let mut client = Self {
            conn: Framed::new(stream, FrameCodec::new(MAX_ADMIN_FRAME, MAX_ADMIN_FRAME)),
            next_request: 1,
        };
        client
            .conn
            .send(AdminRequest::Login {
                operator,
                secret: Secret::new(secret),
                protocol_version: ADMIN_PROTOCOL_VERSION,
            })
            .await?;
        match client.answer().await {
            Ok(AdminReply::LoggedIn { .. }) => Ok(client),
            Ok(other) => Err(AdminClientError::Unexpected(other)),
            // What answered is not an operators' channel: the broker port
            // answers a login it cannot read with a frame of its own.
            Err(AdminClientError::Decode(error)) if !matches!(error, DecodeError::Io(_)) => {
                Err(AdminClientError::NotTheChannel { addr, error })
            }
            Err(error) => Err(error),
        }
    }

    /// Sends one action and waits for its answer: `Applied` or `Rejected`.
    ///
    /// # Errors
    /// When the session fails or the server closes it.
    pub async fn act(&mut self, action: AdminAction) -> Result<AdminReply, AdminClientError> {
        let request_id = self.next_request;
        self.next_request += 1;
        self.conn
            .send(AdminRequest::Action { request_id, action })
            .await?;
        match self.answer().await? {
            reply @ (AdminReply::Applied { request_id: id, .. }
            | AdminReply::Rejected { request_id: id, .. })
                if id == request_id =>
            {
                Ok(reply)
            }
            other => Err(AdminClientError::Unexpected(other)),
        }
    }

    /// Sends `actions` in order, up to `AHEAD` (128) of them before their
    /// answers, and calls `each` with each one's index and answer, in
    /// order. A server answers a session's actions in the order sent; it
    /// carries out transfers without waiting for each to be durable, so a
    /// batch of them goes at the engine's pace (ADMIN.md).
    ///
    /// A send that fails (the server stopped) ends the sending, not the
    /// reading: the answers the server sent before it stopped are still
    /// read and given to `each` (an outside tester's batch printed 2,182
    /// lines of 2,308 rows applied), then the reading's end is the error.
    ///
    /// # Errors
    /// When the session fails or the server closes it; the actions not yet
    /// answered then have no answer.
    pub async fn act_all(
        &mut self,
        actions: Vec<AdminAction>,
        mut each: impl FnMut(usize, AdminReply),
    ) -> Result<(), AdminClientError> {
        let first = self.next_request;
        let count = actions.len();
        let mut actions = actions.into_iter();
        let mut answered = 0;
        let mut sending = Ok(());
        while answered < count {
            if sending.is_ok() {
                let up_to = first + (answered + AHEAD).min(count) as u64;
                sending = self.send_up_to(up_to, &mut actions).await;
            }
            let expected = first + answered as u64;
            if expected == self.next_request {
                // The send failed before this one went.
                return sending;
            }
            match self.answer().await? {
                reply @ (AdminReply::Applied { request_id: id, .. }
                | AdminReply::Rejected { request_id: id, .. })
                    if id == expected =>
                {
                    each(answered, reply);
                }
                other => return Err(AdminClientError::Unexpected(other)),
            }
            answered += 1;
        }
        Ok(())
    }

    /// Sends the next of `actions` until `up_to` is the next request id,
    /// flushed; a request id is taken only by an action written. What was
    /// written before a failure is flushed too, so that its answers come
    /// (reviewer 160 F9: an action that did not encode left those before
    /// it unsent, and the batch waited for their answers in vain).
    async fn send_up_to(
        &mut self,
        up_to: u64,
        actions: &mut impl Iterator<Item = AdminAction>,
    ) -> Result<(), AdminClientError> {
        let mut sent = Ok(());
        while self.next_request < up_to {
            let action = actions.next().expect("fewer sent than there are");
            let request_id = self.next_request;
            let fed = self.conn.feed(AdminRequest::Action { request_id, action });
            if let Err(error) = fed.await {
                sent = Err(error.into());
                break;
            }
            self.next_request += 1;
        }
        let flushed = SinkExt::<AdminRequest>::flush(&mut self.conn).await;
        sent.and(flushed.map_err(Into::into))
    }

    /// The next message from the server; an `Error` is turned into
    /// [`AdminClientError::Refused`].
    async fn answer(&mut self) -> Result<AdminReply, AdminClientError> {
        match tokio::time::timeout(ANSWER_WAIT, self.conn.next()).await {
            Err(_) => Err(AdminClientError::Timeout(ANSWER_WAIT)),
            Ok(None) => Err(AdminClientError::Closed),
            Ok(Some(Err(e))) => Err(e.into()),
            Ok(Some(Ok(AdminReply::Error { reason, text }))) => {
                Err(AdminClientError::Refused { reason, text })
            }
            Ok(Some(Ok(reply))) => Ok(reply),
        }
    }
}
