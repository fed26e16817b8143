//! The load tester against a spawned server: a short open-loop run at a
//! low rate and a short closed-loop run, each answered, measured, bounded
//! and summarized in JSON that reads back. Speed is not asserted.

#[path = "../../gateway/tests/common/child.rs"]
mod child;

use std::process::Stdio;
use std::time::{Duration, Instant};

use cetx_bench::load::report::{self, Summary};
use cetx_bench::load::spawn::SpawnedServer;
use cetx_bench::load::{run, LoadOptions, Target};
use cetx_engine::{AccountId, BrokerId, ParticipantType};
use cetx_gateway::config::{AccountConfig, BrokerConfig, Durability, ServerConfig};
use cetx_gateway::protocol::Secret;

fn options(rate_per_s: u64, max_orders: u64) -> LoadOptions {
    LoadOptions {
        target: Target::Spawn(Durability::Os),
        config: ServerConfig::embedded_default(),
        sessions: 2,
        rate_per_s,
        in_flight: 16,
        duration: Duration::from_secs(1),
        write_every: Duration::ZERO,
        max_orders,
        seed: 7,
        progress: false,
        feed_subscribers: 0,
        skip_history: false,
    }
}

/// A server of its own, spawned with the demo config, and `options`
/// pointed at it.
async fn against_a_server(mut options: LoadOptions) -> (SpawnedServer, LoadOptions) {
    let server = SpawnedServer::start(&ServerConfig::embedded_default(), Durability::Os)
        .await
        .unwrap();
    options.target = Target::Addr(server.addr());
    (server, options)
}

/// Waits, bounded, until a run's orders reach `server`.
async fn until_orders_flow(server: &SpawnedServer) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let genesis = server.journal_stats().unwrap().entries;
    while server.journal_stats().unwrap().entries < genesis + 2_000 {
        assert!(Instant::now() < deadline, "no orders reached the server");
        tokio::task::yield_now().await;
    }
}

fn check(options: &LoadOptions, summary: &Summary, wall: Duration) {
    assert!(summary.accepted > 0, "{summary:?}");
    assert!(summary.sent <= options.max_orders);
    assert_eq!(
        summary.accepted + summary.rejected + summary.unanswered,
        summary.sent
    );
    assert_eq!(summary.unanswered, 0);
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    assert!(summary.order_to_ack.count > 0);
    assert!(summary.order_to_ack.p50_us > 0.0);
    assert!(summary.order_to_ack.max_us >= summary.order_to_ack.p99_us);
    // A guard against a hang, not a measure of speed: the run is bounded
    // by its duration and its drain (5 s at most) whatever the machine.
    assert!(wall < Duration::from_secs(120), "{wall:?}");
    let json = serde_json::to_string(summary).unwrap();
    let back: Summary = serde_json::from_str(&json).unwrap();
    // Counts read back exactly (floats only to within their printing).
    assert_eq!(
        (
            back.sent,
            back.accepted,
            back.fills,
            back.order_to_ack.count
        ),
        (
            summary.sent,
            summary.accepted,
            summary.fills,
            summary.order_to_ack.count
        )
    );
    assert!((back.order_to_ack.p99_us - summary.order_to_ack.p99_us).abs() < 1e-6);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    for key in [
        "mode",
        "durability",
        "accepted_per_s",
        "order_to_ack",
        "order_to_fill",
    ] {
        assert!(value.get(key).is_some(), "{key} missing from {json}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_at_a_low_rate_is_answered_and_bounded() {
    let options = options(400, 1_000_000);
    let wall = Instant::now();
    let report = run(&options).await.unwrap();
    let summary = Summary::of(&report);
    check(&options, &summary, wall.elapsed());
    assert_eq!(summary.mode, "open");
    // 400 orders/s for 1 s, on a schedule: every order due before the
    // deadline is sent, however busy the machine, and no other.
    assert_eq!(summary.sent, 400, "{summary:?}");
    let hgrm = report::hgrm(&report.ack_ns);
    assert!(hgrm.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)"));
    assert!(hgrm.contains("#[Max     ="));
    let svg = report::svg("smoke", &[("order→ack", &report.ack_ns)]);
    assert!(svg.starts_with("<svg") && svg.contains("<polyline"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_loop_that_writes_seldom_charges_the_wait_to_each_order() {
    let mut options = options(400, 1_000_000);
    options.write_every = Duration::from_millis(250);
    let wall = Instant::now();
    let report = run(&options).await.unwrap();
    let summary = Summary::of(&report);
    check(&options, &summary, wall.elapsed());
    assert_eq!(summary.sent, 400, "{summary:?}");
    assert_eq!(summary.write_every_us, 250_000);
    // Writes 250 ms apart: an order due just after one waits ~250 ms for
    // the next, the middle one ~125 ms, and each is charged from its due
    // time (a sleep never ends early, so these are floors on any machine).
    assert!(summary.order_to_ack.p50_us >= 50_000.0, "{summary:?}");
    assert!(summary.order_to_ack.max_us >= 200_000.0, "{summary:?}");
    assert!(report::table(&summary).contains("writes at most every 250000 µs"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_stops_at_its_order_count() {
    let options = options(0, 2_000);
    let wall = Instant::now();
    let report = run(&options).await.unwrap();
    let summary = Summary::of(&report);
    check(&options, &summary, wall.elapsed());
    assert_eq!(summary.mode, "closed");
    assert!(report.sessions.iter().all(|(_, s)| s.sent <= 1_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_mid_run_ends_it_early_with_what_was_measured() {
    let (server, mut options) = against_a_server(options(0, 100_000_000)).await;
    options.duration = Duration::from_secs(60);
    let load = tokio::spawn(async move { run(&options).await });
    until_orders_flow(&server).await;
    server.stop().await.unwrap();
    let report = tokio::time::timeout(Duration::from_secs(30), load)
        .await
        .expect("the run ends when its server does")
        .unwrap()
        .expect("a run that started reports what it measured");
    let summary = Summary::of(&report);
    assert!(!summary.errors.is_empty(), "{summary:?}");
    assert!(
        summary.errors.iter().all(|e| e.starts_with("broker ")),
        "{:?}",
        summary.errors
    );
    assert!(summary.accepted > 0 && summary.order_to_ack.count > 0);
    assert!(summary.sending_s < 30.0, "{summary:?}");
    assert!(report::table(&summary).contains("ENDED EARLY: broker"));
}

/// A login of the same broker elsewhere takes a session over: the run
/// says so (416), not "the server closed the connection" (an outside
/// tester's run hid the takeover its own client made).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_taken_over_is_said_to_be() {
    let (server, mut options) = against_a_server(options(0, 100_000_000)).await;
    options.duration = Duration::from_secs(60);
    assert_eq!(options.sessions, 2);
    let addr = server.addr();
    let load = tokio::spawn(async move { run(&options).await });
    until_orders_flow(&server).await;
    // Each session's broker logs in elsewhere: every session ends.
    let config = ServerConfig::embedded_default();
    let mut takers = Vec::new();
    for broker in &config.brokers[..2] {
        let secret = broker.secret.expose();
        let taker = cetx_gateway::client::Client::connect(addr, broker.id.0, secret, 0);
        takers.push(taker.await.unwrap());
    }
    let report = tokio::time::timeout(Duration::from_secs(60), load)
        .await
        .expect("the run ends once its sessions do")
        .unwrap()
        .expect("a run that started reports what it measured");
    let summary = Summary::of(&report);
    for broker in &config.brokers[..2] {
        let named = format!("broker {}", broker.id.0);
        assert!(
            summary
                .errors
                .iter()
                .any(|e| e.contains(&named) && e.contains("416")),
            "{named}: {:?}",
            summary.errors
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_with_more_brokers_runs_more_sessions() {
    let mut config = ServerConfig::embedded_default();
    for id in [3_u32, 4] {
        config.brokers.push(BrokerConfig {
            id: BrokerId(id),
            name: format!("load-broker-{id}"),
            secret: Secret::new(format!("load-secret-{id}")),
            cancel_on_disconnect: true,
            throttle: config.brokers[0].throttle,
            tls_name: None,
        });
        config.accounts.push(AccountConfig {
            id: AccountId(id * 1_000 + 1),
            broker: BrokerId(id),
            participant: ParticipantType::ComplianceEntity,
            cash: config.accounts[0].cash,
            holdings: config.accounts[0].holdings.clone(),
        });
    }
    let mut options = options(0, 4_000);
    options.config = config;
    options.sessions = 4;
    let wall = Instant::now();
    let report = run(&options).await.unwrap();
    let summary = Summary::of(&report);
    check(&options, &summary, wall.elapsed());
    let brokers: Vec<u32> = report.sessions.iter().map(|(b, _)| *b).collect();
    assert_eq!(brokers, [1, 2, 3, 4]);
    assert!(report.sessions.iter().all(|(_, s)| s.accepted > 0));
}

#[tokio::test]
async fn more_sessions_than_brokers_is_a_clear_error() {
    let mut options = options(100, 100);
    options.sessions = 3;
    let error = run(&options).await.unwrap_err();
    assert!(
        error.to_string().contains("one session per broker"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn earlier_runs_reports_are_read_back_and_timed_unless_skipped() {
    let (server, options) = against_a_server(options(0, 2_000)).await;
    let first = Summary::of(&run(&options).await.unwrap());
    assert_eq!((first.history_reports, first.history_s), (0, None));
    let second = Summary::of(&run(&options).await.unwrap());
    check(&options, &second, Duration::ZERO);
    // Each session resumed from 0: at least an acknowledgement for each
    // of the first run's orders came first, and was all read.
    assert!(second.history_reports >= first.sent, "{second:?}");
    assert!(second.history_s.is_some_and(|s| s > 0.0), "{second:?}");
    let back: Summary = serde_json::from_str(&serde_json::to_string(&second).unwrap()).unwrap();
    assert_eq!(back.history_reports, second.history_reports);
    assert!(report::table(&second).contains("history: "));
    // A third that skips the history reads none of it, and its own
    // orders are all answered as before.
    let skipping = LoadOptions {
        skip_history: true,
        ..options.clone()
    };
    let third = Summary::of(&run(&skipping).await.unwrap());
    check(&skipping, &third, Duration::ZERO);
    assert_eq!(
        (third.history_reports, third.history_s),
        (0, None),
        "{third:?}"
    );
    assert!(!report::table(&third).contains("history: "));
    server.stop().await.unwrap();
}

/// A run that cannot start says why in one line, each cause once, with no
/// backtrace where `RUST_BACKTRACE` is set (an outside tester's run printed
/// a stack trace under its clear message).
#[test]
fn a_run_that_cannot_start_says_why_in_one_line() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_cetx-load"))
        .args(["--addr", &closed.to_string(), "--duration", "1"])
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = child::output_within(child, "cetx-load", Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(stderr.matches("Connection refused").count(), 1, "{stderr}");
}
