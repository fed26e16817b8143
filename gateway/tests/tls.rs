//! TLS on the broker port (`[server.tls]`), with certificates made at test
//! time: a real `cetx serve` with a TLS config, two brokers that trade
//! through the Rust client over TLS, then the standard-library Python
//! client's demo over TLS against the same server. A plain client and a
//! client that trusts another CA get no session. With `client_ca`, a
//! broker with a `tls_name` logs in only with a client certificate valid
//! for that name.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use cetx_gateway::client::{Client, ClientError, NewOrder};
use cetx_gateway::protocol::{ServerMessage, Side};
use cetx_gateway::tls;
use common::{output_within, ServeProcess, TestCertificates};

const WAIT: Duration = Duration::from_secs(10);

/// The embedded demo config with `[server.tls]` (and `more` after it)
/// added, written into `dir`.
fn tls_config(dir: &Path, certs: &TestCertificates, more: &str) -> std::path::PathBuf {
    let demo = include_str!("../default.toml");
    let config = format!(
        "{demo}\n[server.tls]\ncert = {:?}\nkey = {:?}\n{more}",
        certs.cert.display().to_string(),
        certs.key.display().to_string()
    );
    let path = dir.join("tls.toml");
    std::fs::write(&path, config).expect("write tls.toml");
    path
}

/// [`tls_config`] checking client certificates against the test CA, with
/// broker 1 mapped to its certificate (`tls_name`; broker 2 is not) and
/// each `(from, to)` of `edits` made in the demo config's text.
fn certified_config(dir: &Path, certs: &TestCertificates, edits: &[(&str, &str)]) -> String {
    let client_ca = format!("client_ca = {:?}\n", certs.ca.display().to_string());
    let config = tls_config(dir, certs, &client_ca);
    let mut text = std::fs::read_to_string(&config).unwrap().replacen(
        "secret = \"demo-secret-1\"",
        "secret = \"demo-secret-1\"\ntls_name = \"broker-1.cetx\"",
        1,
    );
    assert!(
        text.contains("tls_name"),
        "the demo config names broker 1's secret"
    );
    for (from, to) in edits {
        assert!(text.contains(from), "the demo config has {from}");
        text = text.replacen(from, to, 1);
    }
    std::fs::write(&config, text).unwrap();
    config.to_string_lossy().into_owned()
}

/// The next report that is not a heartbeat.
async fn report(client: &mut Client) -> ServerMessage {
    client
        .next_report(WAIT)
        .await
        .expect("the connection works")
        .expect("a report in time")
        .message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brokers_trade_over_tls_with_the_rust_and_the_python_client() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path());
    let config = tls_config(dir.path(), &certs, "");
    let data = dir.path().join("data");
    let config_arg = config.to_string_lossy().into_owned();
    let server = ServeProcess::start_with(&data, &["--config", &config_arg]);
    let addr = server.addr;
    assert!(
        server
            .banner
            .iter()
            .any(|line| line.starts_with("the broker port speaks TLS (certificate ")),
        "{:?}",
        server.banner
    );

    // The Rust client, checking the certificate against 127.0.0.1.
    let client_tls = tls::client(&certs.ca, "127.0.0.1").expect("client TLS");
    let mut seller = Client::connect_tls(addr, client_tls.clone(), 1, "demo-secret-1", 0)
        .await
        .expect("broker 1 logs in over TLS");
    let mut buyer = Client::connect_tls(addr, client_tls, 2, "demo-secret-2", 0)
        .await
        .expect("broker 2 logs in over TLS");
    seller
        .submit(NewOrder::limit(1, 1001, "CEA2025", Side::Sell, 90_00, 30))
        .await
        .unwrap();
    assert!(matches!(
        report(&mut seller).await,
        ServerMessage::OrderAccepted { .. }
    ));
    buyer
        .submit(NewOrder::limit(1, 2001, "CEA2025", Side::Buy, 90_00, 30))
        .await
        .unwrap();
    assert!(matches!(
        report(&mut buyer).await,
        ServerMessage::OrderAccepted { .. }
    ));
    for client in [&mut buyer, &mut seller] {
        match report(client).await {
            ServerMessage::Fill {
                quantity_t,
                leaves_t,
                price_ticks,
                ..
            } => assert_eq!((quantity_t, leaves_t, price_ticks), (30, 0, 90_00)),
            other => panic!("expected a fill, got {other:?}"),
        }
    }
    // A reconnect is over TLS too, and resumes.
    seller.reconnect().await.expect("a TLS reconnect");
    drop((seller, buyer));

    // A plain client gets no session from a TLS port.
    let plain = Client::connect(addr, 1, "demo-secret-1", 0).await;
    assert!(plain.is_err(), "a plain login on a TLS port: {plain:?}");
    // Nor does a client that trusts another CA.
    let other = TestCertificates::generate(&{
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        other
    });
    let wrong = tls::client(&other.ca, "localhost").expect("client TLS");
    match Client::connect_tls(addr, wrong, 1, "demo-secret-1", 0).await {
        Err(ClientError::Io(_)) => {}
        other => panic!("a certificate from an untrusted CA was accepted: {other:?}"),
    }

    python_demo(addr, &certs.ca);
    assert!(server.terminate().success());
}

/// The Python client's demo over TLS, checking the certificate against
/// `localhost`; skipped, with a note, where `python3` is not installed.
fn python_demo(addr: std::net::SocketAddr, ca: &Path) {
    if !common::python3_runs("the Python TLS client") {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/broker_client.py");
    let child = Command::new("python3")
        .arg(&script)
        .args([
            "--demo",
            &addr.to_string(),
            "--tls-server-name",
            "localhost",
        ])
        .arg("--tls-ca")
        .arg(ca)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python3");
    let output = output_within(child, "the Python TLS demo", Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("demo ok"),
        "python demo over TLS failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(" t CEA2025 at 90.00"), "{stdout}");
}

/// What a login as `broker` with `tls` gets: accepted, or the reject code.
async fn login_as(addr: std::net::SocketAddr, tls: tls::ClientTls, broker: u32) -> Result<(), u16> {
    let secret = format!("demo-secret-{broker}");
    match Client::connect_tls(addr, tls, broker, &secret, 0).await {
        Ok(_) => Ok(()),
        Err(ClientError::LoginRejected { reason, .. }) => Err(reason),
        Err(other) => panic!("broker {broker}: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_with_a_tls_name_logs_in_only_with_its_own_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path());
    // Broker 1 is mapped to its certificate; broker 2 is not.
    let config_arg = certified_config(
        dir.path(),
        &certs,
        &[("max_pending_logins = 64", "max_pending_logins = 4")],
    );
    let data = dir.path().join("data");
    let log = dir.path().join("serve.log");
    let server = ServeProcess::start_with_logging_to(
        &data,
        &["--config", &config_arg, "--metrics-listen", "127.0.0.1:0"],
        &log,
    );
    let addr = server.addr;
    let with_cert = |n: usize| {
        let (cert, key) = &certs.clients[n];
        tls::client_with_certificate(&certs.ca, "localhost", cert, key).expect("client TLS")
    };
    let without_cert = tls::client(&certs.ca, "localhost").expect("client TLS");

    assert_eq!(login_as(addr, with_cert(0), 1).await, Ok(()));
    // Broker 2's certificate, or none, does not do for broker 1: 402.
    assert_eq!(login_as(addr, with_cert(1), 1).await, Err(402));
    assert_eq!(login_as(addr, without_cert.clone(), 1).await, Err(402));
    // A broker without a tls_name logs in with its secret alone.
    assert_eq!(login_as(addr, without_cert, 2).await, Ok(()));
    // A client certificate the server cannot verify (another CA's) fails
    // the handshake, whichever broker presents it: no LoginRejected at all
    // (PROTOCOL.md, TLS).
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let rogue = TestCertificates::generate(&elsewhere);
    let (cert, key) = &rogue.clients[1];
    let untrusted = tls::client_with_certificate(&certs.ca, "localhost", cert, key).unwrap();
    match Client::connect_tls(addr, untrusted.clone(), 2, "demo-secret-2", 0).await {
        Err(ClientError::LoginRejected { reason, .. }) => {
            panic!("refused at login ({reason}), not in the handshake")
        }
        Err(_) => {}
        Ok(_) => panic!("a certificate of another CA was accepted"),
    }
    // Nor is the alert lost when the client sent more behind its side of
    // the handshake (TLS 1.3 lets it) than the server read before it
    // refused the certificate: the server reads that before it closes,
    // since a socket closed with input unread is reset, which a client
    // sees instead of the alert (a tester's Java client: `Broken pipe`).
    let refused = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut stream = untrusted
            .connect(tcp)
            .await
            .expect("the client's side of it");
        for _ in 0..64 {
            stream
                .write_all(&[0; 4096])
                .await
                .expect("the server reads what comes");
            stream.flush().await.expect("the server reads what comes");
        }
        let mut read = Vec::new();
        stream.read_to_end(&mut read).await.map(|_| read)
    };
    match tokio::time::timeout(WAIT, refused)
        .await
        .expect("refused in time")
    {
        Err(error) => assert!(
            error.to_string().contains("received fatal alert"),
            "{error}"
        ),
        Ok(read) => panic!("read {} bytes and no alert", read.len()),
    }
    // Connections that never start their handshake hold every pending
    // slot: a broker's handshake takes the oldest one's place.
    let mut stalled = Vec::new();
    for _ in 0..4 {
        stalled.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let without_cert = tls::client(&certs.ca, "localhost").expect("client TLS");
    assert_eq!(login_as(addr, without_cert, 2).await, Ok(()));
    // Each closed to make room is counted refused (OPERATIONS.md): the
    // slot the broker took was given back after that, so one at least
    // is counted by now (the fourth stalled one made room too, or took
    // the room the broker's made).
    let page = common::scrape(server.metrics.expect("a metrics address"));
    let refused: u64 = page
        .lines()
        .find_map(|line| line.strip_prefix("cetx_connections_refused_total "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{page}"));
    assert!((1..=2).contains(&refused), "{refused}");
    drop(stalled);
    assert!(server.terminate().success());
    // The one closed in its handshake to make room is logged as such
    // (OPERATIONS.md; a tester found it counted, never logged).
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.lines()
            .any(|l| l.contains("closed connections before a login") && l.contains("why=Evicted")),
        "{said}"
    );
}

/// An address refused for its failed logins (someone guessing there)
/// still lets in a broker whose client certificate names it, with its
/// secret: the certificate is proof no guesser has. Without it, the
/// address is refused, whatever the secret (PROTOCOL.md, Logging in).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certified_broker_logs_in_from_an_address_refused_for_others_guesses() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path());
    let config_arg = certified_config(
        dir.path(),
        &certs,
        &[
            ("free_failures = 3", "free_failures = 0"),
            ("first_delay_ms = 50", "first_delay_ms = 1"),
            ("refuse_after = 8", "refuse_after = 2"),
        ],
    );
    let server = ServeProcess::start_with(&dir.path().join("data"), &["--config", &config_arg]);
    let addr = server.addr;
    let without_cert = || tls::client(&certs.ca, "localhost").expect("client TLS");
    let guess = |n: u32| {
        let tls = without_cert();
        async move {
            match Client::connect_tls(addr, tls, 2, &format!("guess-{n}"), 0).await {
                Err(ClientError::LoginRejected { reason, .. }) => reason,
                other => panic!("a guess was not refused: {:?}", other.map(|_| ())),
            }
        }
    };
    assert_eq!((guess(1).await, guess(2).await), (402, 417));
    // The address is refused now: broker 2's right secret too, and broker
    // 1's without its certificate.
    assert_eq!(login_as(addr, without_cert(), 2).await, Err(417));
    assert_eq!(login_as(addr, without_cert(), 1).await, Err(417));
    let (cert, key) = &certs.clients[0];
    let certified = tls::client_with_certificate(&certs.ca, "localhost", cert, key).unwrap();
    assert_eq!(login_as(addr, certified, 1).await, Ok(()));
    assert!(server.terminate().success());
}

/// A failed TLS handshake is logged as a warning, counted in a line per
/// interval with the last peer and why (OPERATIONS.md): here plain text
/// on the TLS port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_tls_handshakes_are_warned_about() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path());
    let client_ca = format!("client_ca = {:?}\n", certs.ca.display().to_string());
    let config = tls_config(dir.path(), &certs, &client_ca);
    let config_arg = config.to_string_lossy().into_owned();
    let log = dir.path().join("serve.log");
    let server = ServeProcess::start_with_logging_to(
        &dir.path().join("data"),
        &["--config", &config_arg],
        &log,
    );
    let mut plain = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    plain
        .write_all(b"\x10\x00\x00\x00hello, plain text")
        .await
        .unwrap();
    // The server answers with a TLS alert and closes.
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, plain.read_to_end(&mut answer))
        .await
        .expect("closed in time")
        .ok();
    assert!(server.terminate().success());
    let said = std::fs::read_to_string(&log).unwrap();
    let line = said
        .lines()
        .find(|l| l.contains("failed TLS handshakes (count: since the last such line)"))
        .unwrap_or_else(|| panic!("no warning in\n{said}"));
    assert!(
        line.contains("WARN") && line.contains("count=1") && line.contains("InvalidContentType"),
        "{line}"
    );
    // Its reasons, counted one by one (here the one).
    assert!(
        line.contains("reasons=\"1: received corrupt message of type InvalidContentType\""),
        "{line}"
    );
}

/// One address starting TLS handshakes as fast as it can gets its burst,
/// then 16 a second: the rest are closed before the handshake (a full one
/// costs the server about a millisecond of CPU), and another address is
/// not held by it (CONFIG.md, `[server.tls]`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_s_tls_handshakes_are_held_to_a_rate() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path());
    let config = tls_config(dir.path(), &certs, "");
    let config_arg = config.to_string_lossy().into_owned();
    let server = ServeProcess::start_with(&dir.path().join("data"), &["--config", &config_arg]);
    let client = tls::client(&certs.ca, "localhost").expect("client TLS");
    common::assert_handshakes_held_to_the_budget(server.addr, &client).await;
    assert!(server.terminate().success());
}

/// A key that is not its certificate's, or a file with no key in it, is
/// named with its files and what was wanted.
#[test]
fn a_wrong_or_missing_key_is_named_by_its_files() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(tmp.path());
    let other_key = &certs.clients[0].1;
    let mismatch = tls::server(&certs.cert, other_key, None)
        .expect_err("another certificate's key is refused")
        .to_string();
    for named in [
        certs.cert.display().to_string(),
        other_key.display().to_string(),
    ] {
        assert!(mismatch.contains(&named), "{mismatch}");
    }
    let no_key = tls::server(&certs.cert, &certs.cert, None)
        .expect_err("a certificate is no key")
        .to_string();
    assert!(no_key.contains("no private key"), "{no_key}");
    assert!(
        no_key.contains(&certs.cert.display().to_string()),
        "{no_key}"
    );
}

/// A file that is missing, or an empty path, is named by the key that
/// gave it: a missing `client_ca` once read as a missing certificate (an
/// outside tester's case), and `cert = ""` as a file with no name.
#[test]
fn a_missing_file_or_an_empty_path_is_named_by_its_key() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(tmp.path());
    let nope = tmp.path().join("nope.pem");
    let said =
        |result: Result<tls::ServerTls, tls::TlsError>| result.expect_err("refused").to_string();
    let missing_ca = said(tls::server(&certs.cert, &certs.key, Some(&nope)));
    assert!(
        missing_ca.contains("(client_ca)") && missing_ca.contains("nope.pem"),
        "{missing_ca}"
    );
    let missing_key = said(tls::server(&certs.cert, &nope, None));
    assert!(missing_key.contains("(key)"), "{missing_key}");
    for blank in ["", "  "] {
        let empty_cert = said(tls::server(Path::new(blank), &certs.key, None));
        assert_eq!(empty_cert, "the certificate file (cert): the path is empty");
    }
}

/// CONFIG.md, `[server.tls]` `key`: "keep it readable by the server's user
/// only"; `cetx serve` warns when it is not.
#[test]
fn a_private_key_open_to_others_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path());
    let config = tls_config(dir.path(), &certs, "");
    // The broker port is taken: the server stops before it serves.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    for (mode, warned) in [(0o644, true), (0o600, false)] {
        std::fs::set_permissions(&certs.key, std::fs::Permissions::from_mode(mode)).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_cetx"))
            .args(["serve", "--listen", &listen])
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let output = output_within(child, "cetx serve", WAIT);
        let said = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{said}");
        assert_eq!(
            said.contains("TLS private key"),
            warned,
            "mode {mode:o}: {said}"
        );
    }
}
