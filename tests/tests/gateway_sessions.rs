//! The gateway's sessions under pressure, end to end over loopback: slots
//! that credentials earn (a flood of idle connections never refuses a
//! broker), session takeover, and the back-off of failed logins. A real
//! server in this process on `127.0.0.1:0`, the embedded demo config
//! (brokers 1 and 2); clients bind other loopback addresses
//! (`127.0.0.x`) to come from different sources.
//!
//! Every wait is a read with a timeout; every loop is bounded.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cetx_gateway::codec::ClientCodec;
use cetx_gateway::config::ServerConfig;
use cetx_gateway::protocol::{ClientMessage, Secret, ServerFrame, ServerMessage, PROTOCOL_VERSION};
use cetx_gateway::runtime::{Runtime, RuntimeOptions};
use cetx_gateway::server::{Server, ServerError};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

/// Longest wait for any one answer.
const WAIT: Duration = Duration::from_secs(10);

const SECRET_1: &str = "demo-secret-1";

type Raw = Framed<TcpStream, ClientCodec>;

/// A server and its market, stopped by [`TestServer::stop`].
struct TestServer {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), ServerError>>,
    runtime: Runtime,
    _dir: tempfile::TempDir,
}

impl TestServer {
    async fn start(config: ServerConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut options = RuntimeOptions::new(dir.path());
        options.open_market_now = true;
        let runtime = Runtime::start(&config, options).expect("runtime starts");
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("address");
        let server = Server::bind(Arc::new(config), runtime.handle(), addr)
            .await
            .expect("bind");
        let addr = server.local_addr();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(server.run(shutdown.clone()));
        Self {
            addr,
            shutdown,
            task,
            runtime,
            _dir: dir,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let served = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the server stops in time")
            .expect("the server task does not panic");
        assert!(served.is_ok(), "{served:?}");
        let runtime = self.runtime;
        tokio::task::spawn_blocking(move || runtime.shutdown())
            .await
            .expect("shutdown does not panic")
            .expect("the runtime stops cleanly");
    }
}

/// The loopback address `127.0.0.<last>`.
fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A raw connection from `from`.
async fn raw_from(server: &TestServer, from: IpAddr) -> Raw {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(from, 0)).expect("bind");
    let stream = socket.connect(server.addr).await.expect("connect");
    Framed::new(stream, ClientCodec::default())
}

fn login_message(broker_id: u32, secret: &str, resume_from_seq: u64) -> ClientMessage {
    ClientMessage::Login {
        protocol_version: PROTOCOL_VERSION,
        broker_id,
        secret: Secret::new(secret),
        resume_from_seq,
    }
}

/// The next frame within [`WAIT`]; `None` once the server has closed.
async fn next_frame(conn: &mut Raw) -> Option<ServerFrame> {
    match tokio::time::timeout(WAIT, conn.next())
        .await
        .expect("the server answers or closes within the wait")
    {
        Some(Ok(frame)) => Some(frame),
        Some(Err(_)) | None => None,
    }
}

/// Sends a login from `from` and returns the connection and the answer.
async fn try_login(
    server: &TestServer,
    from: IpAddr,
    broker: u32,
    secret: &str,
    resume_from_seq: u64,
) -> (Raw, Option<ServerFrame>) {
    let mut conn = raw_from(server, from).await;
    conn.send(login_message(broker, secret, resume_from_seq))
        .await
        .expect("send login");
    let answer = next_frame(&mut conn).await;
    if matches!(
        answer,
        Some(ServerFrame {
            message: ServerMessage::LoginAccepted { .. },
            ..
        })
    ) {
        conn.codec_mut().set_logged_in(true);
    }
    (conn, answer)
}

fn is_accepted(answer: Option<&ServerFrame>) -> bool {
    matches!(
        answer,
        Some(ServerFrame {
            message: ServerMessage::LoginAccepted { .. },
            ..
        })
    )
}

fn login_rejected(answer: Option<&ServerFrame>) -> Option<u16> {
    match answer {
        Some(ServerFrame {
            seq: 0,
            message: ServerMessage::LoginRejected { reason, .. },
        }) => Some(*reason),
        _ => None,
    }
}

/// Connections that never log in.
const FLOOD: usize = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_connections_never_refuses_a_broker() {
    let server = TestServer::start(ServerConfig::embedded_default()).await;
    let per_address = ServerConfig::embedded_default()
        .server
        .max_pending_per_address as usize;
    // 1,000 idle sockets from one address: its share is kept open, the rest
    // are told 412 and closed at once. The test holds the 1,000 client
    // sockets, so it needs an open-file limit a little above 1,000 (the
    // usual soft limit is 1,024; CI machines often have more).
    let mut idle = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        idle.push(raw_from(&server, loopback(1)).await);
    }
    let mut refused = 0;
    for conn in &mut idle[per_address..] {
        assert_eq!(login_rejected(next_frame(conn).await.as_ref()), Some(412));
        assert!(next_frame(conn).await.is_none(), "then closed");
        refused += 1;
    }
    assert_eq!(refused, FLOOD - per_address);
    // A broker from elsewhere logs in at once, while the flood's share is
    // still open.
    let started = Instant::now();
    let (_broker, answer) = try_login(&server, loopback(2), 1, SECRET_1, 0).await;
    let took = started.elapsed();
    assert!(is_accepted(answer.as_ref()), "{answer:?}");
    eprintln!("a broker logged in {took:?} after a flood of {FLOOD} idle connections");
    // Generous for a busy machine; the point is that it is not refused.
    assert!(took < Duration::from_secs(5), "{took:?}");
    drop(idle);
    server.stop().await;
}
