//! A `cetx serve` child process on a free loopback port, for the tests
//! that need the real binary (restart after SIGKILL, the Python client).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cetx_gateway::runtime::Clock;

mod child;
pub use child::output_within;

/// Longest wait for the server to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `cetx serve`; killed (SIGKILL) when dropped.
pub struct ServeProcess {
    child: Option<Child>,
    pub addr: SocketAddr,
    /// Where it publishes market data (its "market data on" line).
    pub market_data: SocketAddr,
    /// Where it serves `/metrics`, when started with `--metrics-listen`
    /// (its "metrics on" line).
    pub metrics: Option<SocketAddr>,
    /// What it printed before that line: the banner.
    pub banner: Vec<String>,
    /// The lines of its stdout after the banner, as they come (a thread
    /// reads them, so the process never blocks on a full pipe).
    rest: Option<mpsc::Receiver<String>>,
}

/// `GET /metrics` at `addr` ([`ServeProcess::metrics`]): the whole
/// answer, head and body, within 10 s.
pub fn scrape(addr: SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to /metrics");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: cetx\r\nConnection: close\r\n\r\n")
        .expect("send the request");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("the answer in time");
    answer
}

/// Runs `command` to its end (stdin empty, so no prompt waits; stdout and
/// stderr collected), within 30 s: its output.
pub fn finish(command: &mut Command) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cetx runs");
    output_within(child, "cetx", Duration::from_secs(30))
}

/// Whether `python3` runs here. Where it does not, a test of a Python
/// client is skipped with a note naming `what`, unless
/// `CETX_REQUIRE_PYTHON` is set (CI sets it), which fails it instead.
pub fn python3_runs(what: &str) -> bool {
    let version = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    if let Ok(child) = version {
        output_within(child, "python3 --version", Duration::from_secs(60));
        return true;
    }
    assert!(
        std::env::var_os("CETX_REQUIRE_PYTHON").is_none(),
        "CETX_REQUIRE_PYTHON is set but python3 does not run: {what} cannot be tested"
    );
    eprintln!("note: python3 not found; skipping {what}");
    false
}

/// TLS files made now, for a test: a CA, and a certificate for
/// `localhost` and 127.0.0.1 that it signed, with its key. Nothing
/// private is committed.
pub struct TestCertificates {
    /// The CA's certificate (PEM): what clients trust.
    pub ca: PathBuf,
    /// The server's certificate (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM, PKCS#8).
    pub key: PathBuf,
    /// Client certificates (PEM) signed by the same CA, for the names
    /// `broker-1.cetx` and `broker-2.cetx`, with their keys.
    pub clients: [(PathBuf, PathBuf); 2],
}

impl TestCertificates {
    /// Makes them and writes them into `dir`.
    pub fn generate(dir: &Path) -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "cetx test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("the CA certificate");
        let key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &ca).expect("the server certificate");
        let clients = [1, 2].map(|n| {
            let key = KeyPair::generate().expect("client key");
            let name = format!("broker-{n}.cetx");
            let params = CertificateParams::new(vec![name.clone()]).expect("client params");
            let cert = params.signed_by(&key, &ca).expect("a client certificate");
            let (cert_path, key_path) = (
                dir.join(format!("{name}.pem")),
                dir.join(format!("{name}-key.pem")),
            );
            std::fs::write(&cert_path, cert.pem()).expect("write a client certificate");
            std::fs::write(&key_path, key.serialize_pem()).expect("write a client key");
            (cert_path, key_path)
        });
        let files = Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server-key.pem"),
            clients,
        };
        std::fs::write(&files.ca, ca.pem()).expect("write ca.pem");
        std::fs::write(&files.cert, cert.pem()).expect("write server.pem");
        std::fs::write(&files.key, key.serialize_pem()).expect("write server-key.pem");
        files
    }
}

/// A loopback port where nothing listens, for as long as the returned
/// socket lives: it is bound there but never listens, so a connection to
/// it is refused, and no server started meanwhile on port 0 (another
/// test's, in parallel) can be given it, as it could a port that was
/// free a moment ago.
pub fn port_with_no_listener() -> (socket2::Socket, u16) {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a socket");
    let any: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    socket.bind(&any.into()).expect("bind a free port");
    let port = socket
        .local_addr()
        .expect("local address")
        .as_socket()
        .expect("an IP address")
        .port();
    (socket, port)
}

impl ServeProcess {
    /// Starts `cetx serve` with the embedded demo config on a port of its
    /// own (`--listen 127.0.0.1:0`, read back from its banner), its
    /// journal in `data_dir`, the market open, the feed and the web view
    /// on free ports, and waits for its "market data on" line (printed
    /// once it listens for brokers too). Its clock starts at the time of
    /// this process's [`Clock::quiet`] (`--start-at`): a Saturday noon
    /// in Beijing, so that no session closes under a test, and a server
    /// restarted on the same data goes on from where the last stopped.
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[])
    }

    /// [`ServeProcess::start`] with more arguments for `cetx serve`, e.g.
    /// `["--start-at", "2026-11-27T14:59:50+08:00"]`.
    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Self {
        Self::spawn(data_dir, extra, None, true)
    }

    /// [`ServeProcess::start`] logging at `info` into the file `log`
    /// (rather than at `warn` into the test's stderr).
    pub fn start_logging_to(data_dir: &Path, log: &Path) -> Self {
        Self::spawn(data_dir, &[], Some(log), true)
    }

    /// [`ServeProcess::start_with`], logging as [`ServeProcess::start_logging_to`].
    pub fn start_with_logging_to(data_dir: &Path, extra: &[&str], log: &Path) -> Self {
        Self::spawn(data_dir, extra, Some(log), true)
    }

    /// [`ServeProcess::start_with_logging_to`] without `--open-market-now`:
    /// the market in the phase its calendar gives.
    pub fn start_on_the_calendar_logging_to(data_dir: &Path, extra: &[&str], log: &Path) -> Self {
        Self::spawn(data_dir, extra, Some(log), false)
    }

    fn spawn(data_dir: &Path, extra: &[&str], log: Option<&Path>, open: bool) -> Self {
        let (level, stderr) = match log {
            Some(log) => (
                "info",
                Stdio::from(std::fs::File::create(log).expect("the log file")),
            ),
            None => ("warn", Stdio::inherit()),
        };
        let quiet = chrono::DateTime::from_timestamp_nanos(Clock::quiet().now_ns()).to_rfc3339();
        let start_at = if extra.contains(&"--start-at") {
            None
        } else {
            Some(["--start-at", quiet.as_str()])
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_cetx"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(["--market-data-listen", "127.0.0.1:0"])
            .args(["--http-listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(open.then_some("--open-market-now"))
            .args(start_at.iter().flatten())
            .args(extra)
            .env("RUST_LOG", level)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn cetx serve");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let wants_metrics = extra.contains(&"--metrics-listen");
        let mut market_data = None;
        let mut metrics = None;
        let mut banner = Vec::new();
        while market_data.is_none() || (wants_metrics && metrics.is_none()) {
            match received.recv_timeout(START_TIMEOUT) {
                Ok(line) => {
                    if let Some(feed) = line.strip_prefix("market data on ") {
                        market_data = Some(feed.parse().expect("the market-data address"));
                    }
                    if let Some(url) = line.strip_prefix("metrics on http://") {
                        let addr = url.strip_suffix("/metrics").expect("a /metrics URL");
                        metrics = Some(addr.parse().expect("the metrics address"));
                    }
                    if market_data.is_none() {
                        banner.push(line);
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    panic!("cetx serve did not start listening: {e}");
                }
            }
        }
        let market_data = market_data.expect("read above");
        let addr = banner
            .iter()
            .find_map(|line| line.strip_prefix("cetx listening on "))
            .and_then(|rest| rest.split(' ').next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no \"cetx listening on\" line in {banner:?}"));
        Self {
            child: Some(child),
            addr,
            market_data,
            metrics,
            banner,
            rest: Some(received),
        }
    }

    /// [`ServeProcess::terminate`], and what it printed after its banner.
    pub fn terminate_with_stdout(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let rest = self.rest.take().expect("kept until now");
        let status = self.terminate();
        // The thread ends at the end of the pipe, once the process is gone.
        (status, rest.iter().collect())
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
    }

    /// SIGTERM, and the exit status once it stopped (within 15 s).
    pub fn terminate(self) -> std::process::ExitStatus {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid}");
        self.exited_within(Duration::from_secs(15))
    }

    /// The exit status once it stops by itself, within `limit` (else the
    /// test fails, and the process is killed).
    pub fn exited_within(mut self, limit: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = child.id().to_string();
        let (done, exited) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(child.wait());
        });
        match exited.recv_timeout(limit) {
            Ok(status) => status.expect("wait"),
            Err(_) => {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
                panic!("cetx serve did not stop within {limit:?}")
            }
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts 100 TLS handshakes with `client` on `addr`, one after another,
/// from 127.0.0.1, then one from 127.0.0.2, and checks the per-address
/// budget (CONFIG.md, `[server.tls]`): the first address gets its burst of
/// 32 and no more than 16 a second after it, the second gets in.
pub async fn assert_handshakes_held_to_the_budget(
    addr: SocketAddr,
    client: &cetx_gateway::tls::ClientTls,
) {
    let handshake = |from: [u8; 4]| async move {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((from, 0).into()).unwrap();
        let stream = socket.connect(addr).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), client.connect(stream))
            .await
            .expect("an answer in time")
            .is_ok()
    };
    let started = std::time::Instant::now();
    let mut done = 0_u64;
    for _ in 0..100 {
        done += u64::from(handshake([127, 0, 0, 1]).await);
    }
    let allowed = 32 + 16 * started.elapsed().as_secs() + 16;
    assert!(
        done >= 32 && done <= allowed,
        "{done} of 100 in {:?}",
        started.elapsed()
    );
    assert!(
        handshake([127, 0, 0, 2]).await,
        "another address has its own budget"
    );
}

/// The next server message on a raw broker connection within `wait`;
/// `None` once the server has closed it.
pub async fn read_frame(
    stream: &mut tokio::net::TcpStream,
    codec: &mut cetx_gateway::codec::ClientCodec,
    input: &mut bytes::BytesMut,
    wait: Duration,
) -> Option<cetx_gateway::protocol::ServerMessage> {
    use tokio::io::AsyncReadExt;
    use tokio_util::codec::Decoder;
    loop {
        if let Some(frame) = codec.decode(input).expect("the server's frames decode") {
            return Some(frame.message);
        }
        let read = tokio::time::timeout(wait, stream.read_buf(input))
            .await
            .expect("the server answers or closes within the wait");
        match read {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}
