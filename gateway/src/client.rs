//! A broker's side of the protocol, for Rust brokers, the tests and
//! `cetx order`.
//!
//! [`Client::connect`] opens a connection and logs in; [`Client::submit`],
//! [`Client::cancel`] and [`Client::amend`] send requests;
//! [`Client::next_report`] reads the next report (heartbeats are answered
//! and skipped). The client remembers the highest sequence number it has
//! handed out, checks that each sequenced report is the next one (a gap or
//! a duplicate is a [`ClientError::SequenceGap`]), and
//! [`Client::reconnect`] logs in again resuming from it, so that a broker
//! misses nothing and sees nothing twice. [`Client::connect_tls`] does
//! the same over TLS ([`crate::tls::client`]), and so does its reconnect.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::time::{sleep_until, Instant};
use tokio_util::codec::Framed;

use crate::codec::{decode_buffered, ClientCodec, DecodeError, EncodeError};
use crate::protocol::{
    resumed_after, ClientMessage, OrderType, Secret, ServerFrame, ServerMessage, Side, Symbol,
    TimeInForce, HEARTBEAT_INTERVAL, LOGIN_TIMEOUT, PROTOCOL_VERSION, UNSEQUENCED,
};
use crate::tls::{ClientTls, Stream};

/// `TooManyConnections`: the server is at a connection limit for now.
const TOO_MANY_CONNECTIONS: u16 = 412;
/// `ServerBusy`: the login's cancels or its secret's check did not come in
/// time; PROTOCOL.md says to try again.
const SERVER_BUSY: u16 = 408;
/// How often [`Client::reconnect`] tries again while the server still
/// holds the previous connection, and how long it waits between tries.
const RECONNECT_ATTEMPTS: u32 = 40;
const RECONNECT_BACKOFF: Duration = Duration::from_millis(50);
/// How long [`Client::reconnect`] waits for the server to close the old
/// connection.
const RECONNECT_CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Why the client could not go on. After any of these but
/// [`ClientError::LoginRejected`], [`Client::reconnect`] is the way back.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting or reading the socket failed.
    #[error("connection: {0}")]
    Io(#[from] io::Error),
    /// The server's bytes did not decode.
    #[error("a server frame did not decode: {0}")]
    Decode(#[from] DecodeError),
    /// A message could not be encoded (a string over its maximum, say).
    #[error("a message could not be sent: {0}")]
    Encode(#[from] EncodeError),
    /// The server refused the login.
    #[error("login rejected: {reason} {text}")]
    LoginRejected {
        /// The reject reason code.
        reason: u16,
        /// The server's words.
        text: String,
    },
    /// The server closed the session for a frame it could not accept.
    #[error("protocol error from the server: {reason} {text}")]
    ProtocolError {
        /// The reject reason code.
        reason: u16,
        /// The server's words.
        text: String,
    },
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
    /// No answer to the login in time.
    #[error("no answer to the login within {0:?}")]
    LoginTimeout(Duration),
    /// The first answer was neither `LoginAccepted` nor `LoginRejected`.
    #[error("unexpected answer to the login: {0}")]
    UnexpectedMessage(&'static str),
    /// A sequenced report was not the next number: the server skipped or
    /// repeated one.
    #[error("expected report {expected}, got {got}")]
    SequenceGap {
        /// The number that should have come.
        expected: u64,
        /// The number that came.
        got: u64,
    },
}

/// A new order, in the protocol's units (ticks of 0.01 CNY, tonnes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// The broker's id for it, unique per broker per trading day.
    pub client_order_id: u64,
    /// The account it trades for.
    pub account: u32,
    /// The instrument, e.g. `CEA2025`.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// Limit or market.
    pub order_type: OrderType,
    /// Day, IOC or FOK.
    pub time_in_force: TimeInForce,
    /// Limit price in ticks; ignored for market orders.
    pub price_ticks: i64,
    /// Quantity in tonnes.
    pub quantity_t: u64,
}

impl NewOrder {
    /// A limit day order.
    #[must_use]
    pub fn limit(
        client_order_id: u64,
        account: u32,
        symbol: &str,
        side: Side,
        price_ticks: i64,
        quantity_t: u64,
    ) -> Self {
        Self {
            client_order_id,
            account,
            symbol: symbol.into(),
            side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Day,
            price_ticks,
            quantity_t,
        }
    }
}

impl From<NewOrder> for ClientMessage {
    fn from(order: NewOrder) -> Self {
        Self::NewOrder {
            client_order_id: order.client_order_id,
            account: order.account,
            symbol: order.symbol,
            side: order.side,
            order_type: order.order_type,
            time_in_force: order.time_in_force,
            price_ticks: order.price_ticks,
            quantity_t: order.quantity_t,
        }
    }
}

/// A logged-in broker connection.
#[derive(Debug)]
pub struct Client {
    conn: Framed<Stream, ClientCodec>,
    addr: SocketAddr,
    tls: Option<ClientTls>,
    broker_id: u32,
    secret: Secret,
    last_seq: u64,
    trading_day: u32,
    server_last_seq: u64,
    last_sent: Instant,
}

impl Client {
    /// Connects to `addr` and logs in as `broker_id`, asking for every
    /// report after `resume_from_seq` (0: every report the broker has;
    /// [`crate::protocol::RESUME_AFTER_LAST`]: none made before this login).
    ///
    /// # Errors
    /// [`ClientError::LoginRejected`] with the server's reason; otherwise
    /// the connection's failures.
    pub async fn connect(
        addr: impl ToSocketAddrs,
        broker_id: u32,
        secret: &str,
        resume_from_seq: u64,
    ) -> Result<Self, ClientError> {
        Self::open(addr, None, broker_id, secret, resume_from_seq).await
    }

    /// [`Client::connect`] over TLS: `tls` says which CA to trust and which
    /// name the server's certificate must carry.
    ///
    /// # Errors
    /// As [`Client::connect`]; a failed handshake is [`ClientError::Io`].
    pub async fn connect_tls(
        addr: impl ToSocketAddrs,
        tls: ClientTls,
        broker_id: u32,
        secret: &str,
        resume_from_seq: u64,
    ) -> Result<Self, ClientError> {
        Self::open(addr, Some(tls), broker_id, secret, resume_from_seq).await
    }

    async fn open(
        addr: impl ToSocketAddrs,
        tls: Option<ClientTls>,
        broker_id: u32,
        secret: &str,
        resume_from_seq: u64,
    ) -> Result<Self, ClientError> {
        let stream = TcpStream::connect(addr).await?;
        let addr = stream.peer_addr()?;
        let secret = Secret::new(secret);
        Self::login(stream, addr, tls, broker_id, secret, resume_from_seq).await
    }

    async fn login(
        stream: TcpStream,
        addr: SocketAddr,
        tls: Option<ClientTls>,
        broker_id: u32,
        secret: Secret,
        resume_from_seq: u64,
    ) -> Result<Self, ClientError> {
        stream.set_nodelay(true)?;
        let wait = LOGIN_TIMEOUT * 2;
        let stream = match &tls {
            None => Stream::Plain(stream),
            Some(tls) => tokio::time::timeout(wait, tls.connect(stream))
                .await
                .map_err(|_| ClientError::LoginTimeout(wait))??,
        };
        let mut conn = Framed::new(stream, ClientCodec::default());
        conn.send(ClientMessage::Login {
            protocol_version: PROTOCOL_VERSION,
            broker_id,
            secret: secret.clone(),
            resume_from_seq,
        })
        .await?;
        let answer = tokio::time::timeout(wait, conn.next())
            .await
            .map_err(|_| ClientError::LoginTimeout(wait))?;
        let frame = match answer {
            None => return Err(ClientError::Closed),
            Some(frame) => frame?,
        };
        match frame.message {
            ServerMessage::LoginAccepted {
                trading_day,
                last_seq,
            } => {
                conn.codec_mut().set_logged_in(true);
                Ok(Self {
                    conn,
                    addr,
                    tls,
                    broker_id,
                    secret,
                    last_seq: resumed_after(resume_from_seq, last_seq),
                    trading_day,
                    server_last_seq: last_seq,
                    last_sent: Instant::now(),
                })
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

    /// Closes this connection and logs in again, resuming after the last
    /// report handed out: the next report is the one after it.
    ///
    /// # Errors
    /// As [`Client::connect`].
    pub async fn reconnect(&mut self) -> Result<(), ClientError> {
        let _ = SinkExt::<ClientMessage>::close(&mut self.conn).await;
        // Waits (a little) for the server to close its side: it ends the
        // session before, so the new login is a new session, not a
        // takeover of this one (which would, for one, not cancel on
        // disconnect). What comes meanwhile is resumed after the login.
        let _ = tokio::time::timeout(RECONNECT_CLOSE_WAIT, async {
            while let Some(Ok(_)) = self.conn.next().await {}
        })
        .await;
        *self = self.log_in_again().await?;
        Ok(())
    }

    /// A new connection of the same broker to the same server, resuming
    /// after `last_seq`. The server may be at a connection limit or busy
    /// for a moment: 412 and 408 are retried for a while.
    async fn log_in_again(&self) -> Result<Self, ClientError> {
        let mut attempts = 0;
        loop {
            let stream = TcpStream::connect(self.addr).await?;
            let login = Self::login(
                stream,
                self.addr,
                self.tls.clone(),
                self.broker_id,
                self.secret.clone(),
                self.last_seq,
            )
            .await;
            match login {
                Err(ClientError::LoginRejected { reason, .. })
                    if (reason == TOO_MANY_CONNECTIONS || reason == SERVER_BUSY)
                        && attempts < RECONNECT_ATTEMPTS =>
                {
                    attempts += 1;
                    tokio::time::sleep(RECONNECT_BACKOFF).await;
                }
                result => return result,
            }
        }
    }

    /// The highest sequence number handed out by [`Client::next_report`]
    /// (or resumed from): what to resume from after a reconnect.
    #[must_use]
    pub const fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// `LoginAccepted.last_seq` of this connection: reports numbered up to
    /// it had been produced before this login.
    #[must_use]
    pub const fn server_last_seq(&self) -> u64 {
        self.server_last_seq
    }

    /// `LoginAccepted.trading_day`, `YYYYMMDD`.
    #[must_use]
    pub const fn trading_day(&self) -> u32 {
        self.trading_day
    }

    /// The server's address.
    #[must_use]
    pub const fn server_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends any message as it is.
    ///
    /// # Errors
    /// The connection's failures, or [`ClientError::Encode`].
    pub async fn send(&mut self, message: ClientMessage) -> Result<(), ClientError> {
        self.conn.send(message).await?;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// Queues a message without writing it to the socket: it goes out
    /// with the next [`Client::flush`] or [`Client::send`], or when the
    /// write buffer fills. A broker that has many requests ready sends
    /// them in one write this way, instead of one write each.
    ///
    /// # Errors
    /// As [`Client::send`] (a full buffer is written out here).
    pub async fn feed(&mut self, message: ClientMessage) -> Result<(), ClientError> {
        self.conn.feed(message).await?;
        Ok(())
    }

    /// Writes out every message queued by [`Client::feed`].
    ///
    /// # Errors
    /// The connection's failures.
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        SinkExt::<ClientMessage>::flush(&mut self.conn).await?;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// Sends a new order.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn submit(&mut self, order: NewOrder) -> Result<(), ClientError> {
        self.send(order.into()).await
    }

    /// Sends a listing-agreement take: trade `quantity_t` of the resting
    /// order `order_id` (its public id, from the feed's order view) at its
    /// price; `side` is the taker's.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn send_take(
        &mut self,
        client_order_id: u64,
        account: u32,
        symbol: &str,
        order_id: u64,
        side: Side,
        quantity_t: u64,
    ) -> Result<(), ClientError> {
        self.send(ClientMessage::Take {
            client_order_id,
            account,
            symbol: symbol.into(),
            order_id,
            side,
            quantity_t,
        })
        .await
    }

    /// Asks to cancel an order.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn cancel(&mut self, client_order_id: u64) -> Result<(), ClientError> {
        self.send(ClientMessage::Cancel { client_order_id }).await
    }

    /// Asks to set a resting order's price and open quantity.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn amend(
        &mut self,
        client_order_id: u64,
        price_ticks: i64,
        quantity_t: u64,
    ) -> Result<(), ClientError> {
        self.send(ClientMessage::Amend {
            client_order_id,
            price_ticks,
            quantity_t,
        })
        .await
    }

    /// Posts a block offer (see `docs/PROTOCOL.md`, `PostBlock`);
    /// `counterparty` 0 opens it to all.
    ///
    /// # Errors
    /// As [`Client::send`].
    #[allow(clippy::too_many_arguments)]
    pub async fn post_block(
        &mut self,
        client_order_id: u64,
        account: u32,
        symbol: &str,
        side: Side,
        price_ticks: i64,
        quantity_t: u64,
        counterparty: u32,
    ) -> Result<(), ClientError> {
        self.send(ClientMessage::PostBlock {
            client_order_id,
            account,
            symbol: symbol.into(),
            side,
            price_ticks,
            quantity_t,
            counterparty,
        })
        .await
    }

    /// Accepts `quantity_t` of an open block offer for `account`.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn accept_block(
        &mut self,
        client_order_id: u64,
        account: u32,
        block_id: u64,
        quantity_t: u64,
    ) -> Result<(), ClientError> {
        self.send(ClientMessage::AcceptBlock {
            client_order_id,
            account,
            block_id,
            quantity_t,
        })
        .await
    }

    /// Withdraws a block offer `account` posted.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn cancel_block(
        &mut self,
        client_order_id: u64,
        account: u32,
        block_id: u64,
    ) -> Result<(), ClientError> {
        self.send(ClientMessage::CancelBlock {
            client_order_id,
            account,
            block_id,
        })
        .await
    }

    /// Sends a heartbeat.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn heartbeat(&mut self) -> Result<(), ClientError> {
        self.send(ClientMessage::Heartbeat).await
    }

    /// Logs out and reads what the server sends before it closes, for at
    /// most `wait`: the reports that were due.
    ///
    /// # Errors
    /// As [`Client::next_report`], except that the close is the expected
    /// end.
    pub async fn logout(mut self, wait: Duration) -> Result<Vec<ServerFrame>, ClientError> {
        self.send(ClientMessage::Logout).await?;
        let deadline = Instant::now() + wait;
        let mut reports = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_report(left).await {
                Ok(Some(frame)) => reports.push(frame),
                Ok(None) | Err(ClientError::Closed) => return Ok(reports),
                Err(error) => return Err(error),
            }
        }
    }

    /// The next report within `wait`: a sequenced order report, or an
    /// unsequenced `OrderRejected` (throttled, busy, a gateway check).
    /// Heartbeats are skipped, and one is sent whenever this client has
    /// sent nothing for the protocol's heartbeat interval. `Ok(None)` when
    /// `wait` passed with no report.
    ///
    /// # Errors
    /// [`ClientError::Closed`] when the server closed the connection;
    /// [`ClientError::ProtocolError`] when it closed it for a frame of
    /// ours; [`ClientError::SequenceGap`] when a report is not the next
    /// number; the connection's failures.
    pub async fn next_report(
        &mut self,
        wait: Duration,
    ) -> Result<Option<ServerFrame>, ClientError> {
        // A broker that only reads still heartbeats, even while every
        // report it wants is already buffered.
        if Instant::now() >= self.last_sent + HEARTBEAT_INTERVAL {
            self.heartbeat().await?;
        }
        // Frames already read come first, without a timer.
        if let Some(frame) = self.try_next_report()? {
            return Ok(Some(frame));
        }
        let deadline = Instant::now() + wait;
        loop {
            let heartbeat_due = self.last_sent + HEARTBEAT_INTERVAL;
            let frame = tokio::select! {
                () = sleep_until(deadline) => return Ok(None),
                () = sleep_until(heartbeat_due) => {
                    self.heartbeat().await?;
                    continue;
                }
                frame = self.conn.next() => frame,
            };
            let frame = match frame {
                None => return Err(ClientError::Closed),
                Some(frame) => frame?,
            };
            if let Some(frame) = self.take(frame)? {
                return Ok(Some(frame));
            }
            // A heartbeat: whatever came with it is in the buffer.
            if let Some(frame) = self.try_next_report()? {
                return Ok(Some(frame));
            }
        }
    }

    /// The next report if a whole one has already been read from the
    /// socket, without waiting and without reading the socket; checked
    /// as in [`Client::next_report`]. A broker that has just received a
    /// report takes the rest of the batch it came in this way.
    ///
    /// # Errors
    /// As [`Client::next_report`].
    pub fn try_next_report(&mut self) -> Result<Option<ServerFrame>, ClientError> {
        while let Some(frame) = decode_buffered(&mut self.conn)? {
            if let Some(frame) = self.take(frame)? {
                return Ok(Some(frame));
            }
        }
        Ok(None)
    }

    /// Checks a frame from the server: `None` for a heartbeat (skipped),
    /// the report otherwise, its sequence number taken.
    fn take(&mut self, frame: ServerFrame) -> Result<Option<ServerFrame>, ClientError> {
        match frame.message {
            ServerMessage::Heartbeat => return Ok(None),
            ServerMessage::ProtocolError { reason, text } => {
                return Err(ClientError::ProtocolError { reason, text });
            }
            _ => {}
        }
        if frame.seq != UNSEQUENCED {
            if frame.seq != self.last_seq + 1 {
                return Err(ClientError::SequenceGap {
                    expected: self.last_seq + 1,
                    got: frame.seq,
                });
            }
            self.last_seq = frame.seq;
        }
        Ok(Some(frame))
    }
}
