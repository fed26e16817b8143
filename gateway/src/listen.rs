//! What every listening port shares: the pause after a failed `accept`,
//! places per IP address, and the HTTP ports' server (the web view and
//! `/metrics`) with bounded connections and a timeout for requests that
//! never come.
//!
//! Every port's connections are bounded, so that the process's file
//! descriptors are too: a port that held any number of idle sockets let
//! one peer exhaust them, and then the journal could not open a segment
//! and the market stopped.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::log_tally::LogTally;

/// How long an accept loop waits after a failed `accept` (out of file
/// descriptors, say, which lasts until something closes) before it tries
/// again: a loop that went straight back wrote millions of log lines.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The kernel send buffer of an HTTP port's connection: room for the page
/// and several of the web view's events, while a reader that stopped
/// reading fills it, and so meets the write timeout, within seconds, not
/// minutes (an outside tester's non-reader held its place 165 s, and
/// some 3 MB of kernel memory, with the kernel's own sizing). Linux
/// doubles what is asked, to 128 KiB. (No `TCP_USER_TIMEOUT` here: it
/// also counts a reader's window held shut, and cut live readers with
/// small buffers after a minute.)
const HTTP_SEND_BUFFER: usize = 64 << 10;

/// At most one log line per this long about a port's failed accepts.
const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// A port's failed accepts: each waits [`ACCEPT_BACKOFF`], and they are
/// logged as a count, a line per [`ACCEPT_LOG_INTERVAL`].
#[derive(Debug)]
pub(crate) struct AcceptFailures {
    port: &'static str,
    tally: LogTally,
}

impl AcceptFailures {
    /// The failures of the `port` named in the log.
    pub(crate) const fn new(port: &'static str) -> Self {
        Self {
            port,
            tally: LogTally::new(ACCEPT_LOG_INTERVAL),
        }
    }

    /// Counts `error` (logging the count when a line is due) and waits.
    pub(crate) async fn after(&mut self, error: &io::Error) {
        if let Some(count) = self.tally.count(std::time::Instant::now()) {
            tracing::warn!(%error, port = self.port, count, "accepting connections failed (count: since the last such line)");
        }
        tokio::time::sleep(ACCEPT_BACKOFF).await;
    }
}

/// The connections held from each IP address, for a per-address limit.
#[derive(Clone, Debug, Default)]
pub(crate) struct PerAddress(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One connection's place among its address's; given back when dropped.
#[derive(Debug)]
pub(crate) struct AddressPlace {
    counts: PerAddress,
    ip: IpAddr,
}

impl PerAddress {
    /// A place for one more connection from `ip`, unless it has `max`.
    pub(crate) fn take(&self, ip: IpAddr, max: usize) -> Option<AddressPlace> {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let held = counts.entry(ip).or_default();
        if *held >= max {
            return None;
        }
        *held += 1;
        Some(AddressPlace {
            counts: self.clone(),
            ip,
        })
    }
}

impl Drop for AddressPlace {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = counts.get_mut(&self.ip) {
            *held -= 1;
            if *held == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// The bounds of an HTTP port.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HttpLimits {
    /// Connections open at once; one more is answered 503 and closed.
    pub(crate) connections: usize,
    /// Connections open at once from one IP address; one more from it is
    /// answered 503 and closed.
    pub(crate) per_address: usize,
    /// How long a connection may take to send a request's headers, from
    /// when it opens or its last response ended: an idle or half-sent
    /// request is closed then.
    pub(crate) header_timeout: Duration,
    /// How long a write to the connection may wait for its peer to read:
    /// past it the connection is closed, so a web-view event stream whose
    /// reader stopped reading gives its place back (an outside tester's
    /// 224 such streams stayed open for good).
    pub(crate) write_timeout: Duration,
}

/// What a connection over the limits is sent before it is closed.
const OVER_LIMIT: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 37\r\nconnection: close\r\n\r\ntoo many connections; try again later";

/// Serves `app` over HTTP/1.1 on `listener` within `limits` until
/// `shutdown` is cancelled, then lets each connection finish its response
/// (as `axum::serve` with a graceful shutdown does).
pub(crate) async fn serve_http(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
) {
    let open = Arc::new(Semaphore::new(limits.connections));
    let addresses = PerAddress::default();
    let mut connections = JoinSet::new();
    let mut failures = AcceptFailures::new("http");
    loop {
        // Those that ended give back their entries.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    failures.after(&error).await;
                    continue;
                }
            },
        };
        let places = Arc::clone(&open)
            .try_acquire_owned()
            .ok()
            .zip(addresses.take(peer.ip(), limits.per_address));
        let Some(places) = places else {
            refuse(stream);
            continue;
        };
        connections.spawn(connection(
            stream,
            peer,
            app.clone(),
            limits,
            places,
            shutdown.clone(),
        ));
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Answers 503 and closes, at once: a fresh socket's send buffer takes
/// the whole answer, so nothing is left waiting on a peer (a task per
/// refusal would hold a descriptor each, as many as a flood sends).
fn refuse(stream: TcpStream) {
    if let Ok(stream) = stream.into_std() {
        let _ = (&stream).write(OVER_LIMIT);
    }
}

/// One connection, holding its places until it ends.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: HttpLimits,
    places: (OwnedSemaphorePermit, AddressPlace),
    shutdown: CancellationToken,
) {
    let service = TowerToHyperService::new(
        app.map_request(|request: hyper::Request<Incoming>| request.map(Body::new)),
    );
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    if let Err(error) = socket2::SockRef::from(&stream).set_send_buffer_size(HTTP_SEND_BUFFER) {
        tracing::debug!(%peer, %error, "an HTTP connection keeps the kernel's send buffer");
    }
    let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
    stream.set_write_timeout(Some(limits.write_timeout));
    let conn = builder.serve_connection(TokioIo::new(Box::pin(stream)), service);
    tokio::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(error) = ended {
        tracing::debug!(%peer, %error, "an HTTP connection ended");
    }
    drop(places);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::routing::get;
    use axum::Router;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_util::sync::CancellationToken;

    use super::{serve_http, HttpLimits};

    /// Longest wait for anything in these tests.
    const WAIT: Duration = Duration::from_secs(10);

    async fn server(limits: HttpLimits) -> (std::net::SocketAddr, CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        // `/endless`: a body that never ends, as an event stream's.
        let endless = || async {
            let chunk = axum::body::Bytes::from(vec![b'x'; 64 << 10]);
            let chunks = futures_util::stream::repeat_with(move || {
                Ok::<_, std::convert::Infallible>(chunk.clone())
            });
            axum::body::Body::from_stream(chunks)
        };
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .route("/endless", get(endless));
        tokio::spawn(serve_http(listener, app, limits, shutdown.clone()));
        (addr, shutdown)
    }

    /// A connection to `addr` from the loopback address `ip`.
    async fn connect_from(ip: [u8; 4], addr: std::net::SocketAddr) -> TcpStream {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((ip, 0).into()).unwrap();
        socket.connect(addr).await.unwrap()
    }

    /// What the server sends until it closes the connection.
    async fn rest(stream: &mut TcpStream) -> String {
        let mut read = Vec::new();
        tokio::time::timeout(WAIT, stream.read_to_end(&mut read))
            .await
            .expect("the server closes the connection in time")
            .unwrap();
        String::from_utf8_lossy(&read).into_owned()
    }

    #[tokio::test]
    async fn a_connection_that_never_finishes_its_request_is_closed() {
        let (addr, shutdown) = server(HttpLimits {
            connections: 8,
            per_address: 8,
            header_timeout: Duration::from_millis(200),
            write_timeout: WAIT,
        })
        .await;
        let mut half = TcpStream::connect(addr).await.unwrap();
        half.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let mut silent = TcpStream::connect(addr).await.unwrap();
        for stream in [&mut half, &mut silent] {
            assert!(!rest(stream).await.contains("200 OK"));
        }
        // One that asks is answered, and then closed when it asks no more.
        let mut asks = TcpStream::connect(addr).await.unwrap();
        asks.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        assert!(rest(&mut asks).await.starts_with("HTTP/1.1 200 OK"));
        shutdown.cancel();
    }

    #[tokio::test]
    async fn connections_past_the_limits_are_answered_503_and_closed() {
        let (addr, shutdown) = server(HttpLimits {
            connections: 3,
            per_address: 2,
            header_timeout: WAIT * 6,
            write_timeout: WAIT,
        })
        .await;
        let held = [
            TcpStream::connect(addr).await.unwrap(),
            TcpStream::connect(addr).await.unwrap(),
        ];
        // A third from this address is over its share.
        let mut third = TcpStream::connect(addr).await.unwrap();
        let refused = rest(&mut third).await;
        assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
        // Its body is all there, as long as its header says.
        let (head, body) = refused.split_once("\r\n\r\n").unwrap();
        assert_eq!(body, "too many connections; try again later");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        // Another address has one place left of the port's three.
        let _fourth = connect_from([127, 0, 0, 2], addr).await;
        let mut fifth = connect_from([127, 0, 0, 3], addr).await;
        assert!(rest(&mut fifth).await.starts_with("HTTP/1.1 503"));
        // A place given back is taken again.
        drop(held);
        let mut again = None;
        for _ in 0..100 {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream
                .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .await
                .unwrap();
            let answer = rest(&mut stream).await;
            if answer.starts_with("HTTP/1.1 200 OK") {
                again = Some(answer);
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(again.is_some(), "a place given back was never taken again");
        shutdown.cancel();
    }

    /// A reader that stops reading an endless answer is closed once a
    /// write has waited the write timeout, and its place is free again.
    #[tokio::test]
    async fn a_connection_that_stops_reading_is_closed() {
        let (addr, shutdown) = server(HttpLimits {
            connections: 8,
            per_address: 1,
            header_timeout: WAIT,
            write_timeout: Duration::from_millis(200),
        })
        .await;
        let mut stalled = connect_from([127, 0, 0, 4], addr).await;
        stalled
            .write_all(b"GET /endless HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        // The address's one place is the stalled reader's until the
        // server gives up on it; then another connection from it is
        // answered (every 50 ms, within the wait).
        let mut answered = None;
        for _ in 0..WAIT.as_millis() / 50 {
            let mut next = connect_from([127, 0, 0, 4], addr).await;
            next.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .await
                .unwrap();
            // A refusal closes with the request unread: a reset may cut
            // its 503 short.
            let mut said = Vec::new();
            let read = tokio::time::timeout(WAIT, next.read_to_end(&mut said)).await;
            let said = String::from_utf8_lossy(&said).into_owned();
            if said.starts_with("HTTP/1.1 200 OK") {
                answered = Some(said);
                break;
            }
            assert!(read.is_ok(), "no answer in time");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(answered.is_some(), "the stalled reader kept its place");
        drop(stalled);
        shutdown.cancel();
    }
}
