//! TLS on the operators' channel (`[admin.tls]`), over loopback with
//! certificates made at test time: a plain connection gets no session, an
//! operator logs in over TLS, and with `client_ca` an operator with a
//! `tls_name` logs in only with a client certificate valid for that name.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use cetx_engine::{ParticipantType, RejectReason};
use cetx_gateway::admin::{AdminClient, AdminClientError, AdminServer, MAX_PENDING};
use cetx_gateway::config::{ServerConfig, DEFAULT_TOML};
use cetx_gateway::protocol::admin::{AdminAction, AdminReply};
use cetx_gateway::runtime::{Runtime, RuntimeOptions};
use cetx_gateway::tls;
use common::TestCertificates;
use tokio_util::sync::CancellationToken;

/// The demo market with a TLS channel that checks client certificates:
/// operator 8 with a secret only, operator 9 with `tls_name` too.
fn config(certs: &TestCertificates) -> ServerConfig {
    let text = format!(
        "{DEFAULT_TOML}
[admin]
listen = \"127.0.0.1:0\"

[admin.tls]
cert = {:?}
key = {:?}
client_ca = {:?}

[[operators]]
id = 8
name = \"desk\"
secret = \"secret-8\"

[[operators]]
id = 9
name = \"certified desk\"
secret = \"secret-9\"
tls_name = \"broker-1.cetx\"
",
        certs.cert.display().to_string(),
        certs.key.display().to_string(),
        certs.ca.display().to_string(),
    );
    ServerConfig::from_toml_str(&text).unwrap()
}

fn refused_with(result: Result<AdminClient, AdminClientError>, code: RejectReason) {
    match result {
        Err(AdminClientError::Refused { reason, .. }) => assert_eq!(reason, code.code()),
        Err(other) => panic!("refused otherwise: {other}"),
        Ok(_) => panic!("logged in"),
    }
}

/// A market of `config` in `dir`, with its operators' channel on loopback.
struct Channel {
    runtime: Runtime,
    addr: SocketAddr,
    shutdown: CancellationToken,
    served: tokio::task::JoinHandle<()>,
}

impl Channel {
    async fn start(config: ServerConfig, dir: &std::path::Path) -> Self {
        let config = Arc::new(config);
        let runtime = Runtime::start(&config, RuntimeOptions::new(dir.join("data"))).unwrap();
        let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let admin = AdminServer::bind(runtime.handle(), Arc::clone(&config), local)
            .await
            .unwrap();
        let addr = admin.local_addr();
        let shutdown = CancellationToken::new();
        let served = tokio::spawn(admin.run(shutdown.clone()));
        Self {
            runtime,
            addr,
            shutdown,
            served,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.served.await.unwrap();
        self.runtime.shutdown().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_log_in_over_tls_and_a_tls_name_needs_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path());
    let channel = Channel::start(config(&certs), dir.path()).await;
    let addr = channel.addr;

    // Plain TCP gets no session.
    assert!(AdminClient::connect(addr, 8, "secret-8").await.is_err());
    // A client that trusts another CA gets none either.
    let other_dir = tempfile::tempdir().unwrap();
    let elsewhere = TestCertificates::generate(other_dir.path());
    let untrusting = tls::client(&elsewhere.ca, "127.0.0.1").unwrap();
    assert!(matches!(
        AdminClient::connect_tls(addr, &untrusting, 8, "secret-8").await,
        Err(AdminClientError::Connect { .. } | AdminClientError::Closed)
    ));

    let tls = tls::client(&certs.ca, "127.0.0.1").unwrap();
    let mut desk = AdminClient::connect_tls(addr, &tls, 8, "secret-8")
        .await
        .expect("operator 8 logs in over TLS");
    let open = AdminAction::OpenAccount {
        account: 3001,
        broker: 2,
        participant: ParticipantType::Institution,
    };
    assert!(matches!(
        desk.act(open).await.unwrap(),
        AdminReply::Applied { .. }
    ));

    // Operator 9's secret alone is not enough, nor another name's
    // certificate; its own is.
    refused_with(
        AdminClient::connect_tls(addr, &tls, 9, "secret-9").await,
        RejectReason::BadCredentials,
    );
    let [(own_cert, own_key), (other_cert, other_key)] = &certs.clients;
    let other =
        tls::client_with_certificate(&certs.ca, "127.0.0.1", other_cert, other_key).unwrap();
    refused_with(
        AdminClient::connect_tls(addr, &other, 9, "secret-9").await,
        RejectReason::BadCredentials,
    );
    let own = tls::client_with_certificate(&certs.ca, "127.0.0.1", own_cert, own_key).unwrap();
    AdminClient::connect_tls(addr, &own, 9, "secret-9")
        .await
        .expect("operator 9 logs in with its certificate");
    // `cetx admin` over TLS without a certificate, refused 402, says that
    // one may be what is missing (the server does not say which part of
    // the login was wrong).
    let ca = certs.ca.clone();
    let refused = tokio::task::spawn_blocking(move || {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_cetx"))
            .args(["admin", "--connect", &addr.to_string(), "--operator", "9"])
            .arg("--tls-ca")
            .arg(&ca)
            .args(["halt", "--symbol", "CCER"])
            .env("CETX_ADMIN_SECRET", "secret-9")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("cetx admin runs");
        common::output_within(child, "cetx admin", std::time::Duration::from_secs(30))
    })
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(
        said.contains("give --tls-cert and --tls-key") && said.contains("402"),
        "{said}"
    );

    // Connections that never start their handshake hold every place among
    // those waiting to log in: an operator's handshake takes the oldest's.
    let mut stalled = Vec::new();
    for _ in 0..MAX_PENDING {
        stalled.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    // A connect returns once the kernel has the connection, before the
    // server's task for it has taken a place: on a busy machine a stalled
    // one may take its place after the operator's, and then, being the
    // newest, evict the oldest, the operator's (a CI run saw a broken
    // pipe). Once every stalled one holds a place, the operator's next
    // try takes the oldest's.
    let mut tries = 0;
    let operator = loop {
        tries += 1;
        match AdminClient::connect_tls(addr, &tls, 8, "secret-8").await {
            Ok(operator) => break operator,
            Err(error) if tries < 3 => drop(error),
            Err(error) => panic!("an operator gets in past stalled handshakes: {error}"),
        }
    };
    drop((operator, stalled));

    drop(desk);
    channel.stop().await;
}

/// Someone failing logins at the operators' address cannot lock out an
/// operator whose client certificate names it: an address refused for its
/// failures still lets that operator in with its secret (ADMIN.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certified_operator_logs_in_from_an_address_refused_for_others_guesses() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path());
    let mut config = config(&certs);
    config.server.login_backoff.free_failures = 0;
    config.server.login_backoff.first_delay_ms = 1;
    config.server.login_backoff.refuse_after = 2;
    let channel = Channel::start(config, dir.path()).await;
    let addr = channel.addr;
    let tls = tls::client(&certs.ca, "127.0.0.1").unwrap();
    refused_with(
        AdminClient::connect_tls(addr, &tls, 9, "guess").await,
        RejectReason::BadCredentials,
    );
    refused_with(
        AdminClient::connect_tls(addr, &tls, 9, "guess").await,
        RejectReason::TooManyFailedLogins,
    );
    // The address is refused: operator 8, who has no certificate to show,
    // with its right secret too.
    refused_with(
        AdminClient::connect_tls(addr, &tls, 8, "secret-8").await,
        RejectReason::TooManyFailedLogins,
    );
    let [(own_cert, own_key), _] = &certs.clients;
    let own = tls::client_with_certificate(&certs.ca, "127.0.0.1", own_cert, own_key).unwrap();
    refused_with(
        AdminClient::connect_tls(addr, &own, 9, "guess").await,
        RejectReason::TooManyFailedLogins,
    );
    AdminClient::connect_tls(addr, &own, 9, "secret-9")
        .await
        .expect("operator 9 logs in with its certificate");
    channel.stop().await;
}

/// One address starting TLS handshakes on the operators' channel as fast
/// as it can gets a burst, then 16 a second, as on the broker port: the
/// rest are closed before the handshake; another address is not held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_s_tls_handshakes_are_held_to_a_rate() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path());
    let channel = Channel::start(config(&certs), dir.path()).await;
    let client = tls::client(&certs.ca, "127.0.0.1").unwrap();
    common::assert_handshakes_held_to_the_budget(channel.addr, &client).await;
    channel.stop().await;
}

#[test]
fn an_operator_tls_name_needs_a_ca_that_checks_client_certificates() {
    let text = format!(
        "{DEFAULT_TOML}\n[admin]\n\n[[operators]]\nid = 9\nname = \"desk\"\nsecret = \"s\"\ntls_name = \"desk-9.cetx\"\n"
    );
    let error = ServerConfig::from_toml_str(&text).unwrap_err().to_string();
    assert!(error.contains("tls_name needs [admin.tls]"), "{error}");
}

/// A TLS client pointed at a port that speaks plain TCP is told so, not
/// only rustls's "received corrupt message of type InvalidContentType"
/// (an outside operator's `cetx admin --tls-ca` against the broker port).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_client_at_a_plain_port_is_told_it_speaks_plain_tcp() {
    use tokio::io::AsyncWriteExt;

    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path());
    // A plain port answers the client's hello with a frame of its own.
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = plain.local_addr().unwrap();
    let answering = tokio::spawn(async move {
        let (mut socket, _) = plain.accept().await.unwrap();
        socket.write_all(b"\x00\x00\x00\x04abcd").await.unwrap();
        socket
    });
    let tls = tls::client(&certs.ca, "127.0.0.1").unwrap();
    let said = match AdminClient::connect_tls(addr, &tls, 8, "secret-8").await {
        Err(error) => error.to_string(),
        Ok(_) => panic!("a plain port gave a TLS session"),
    };
    assert!(
        said.contains("the answer is no TLS record: the port speaks plain TCP"),
        "{said}"
    );
    drop(answering.await.unwrap());
}
