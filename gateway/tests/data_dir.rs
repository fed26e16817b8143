//! The data directory as an operator meets it, with the real `cetx`
//! binary: one server per directory (a second exits at once, naming the
//! directory and the holder), replay beside a live server, a missing
//! segment that stops a restart, archiving settled segments, and a banner
//! that prints no secret.

mod common;

use std::path::Path;
use std::process::Command;

use cetx_engine::journal::format::list_segments;
use cetx_engine::journal::{list_snapshots, Manifest, MANIFEST_FILE};
use common::{finish, ServeProcess};

/// `cetx serve`'s listeners, each on a port of the system's choosing.
const ON_LOOPBACK: [&str; 6] = [
    "--listen",
    "127.0.0.1:0",
    "--market-data-listen",
    "127.0.0.1:0",
    "--http-listen",
    "127.0.0.1:0",
];

fn cetx(args: &[&str], data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cetx"));
    command.args(args).arg("--data-dir").arg(data_dir);
    command.env("RUST_LOG", "warn");
    command
}

/// Runs `command` to its end, at most 30 s (then it is killed and the
/// test fails). Its output is read as it comes, so a full pipe never
/// blocks it.
/// `cetx order` of an IOC buy by demo broker 1 that finds no seller, to
/// its end.
fn order(addr: std::net::SocketAddr) -> std::process::Output {
    finish(&mut {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cetx"));
        c.args(["order", "--addr", &addr.to_string()])
            .args([
                "--broker",
                "1",
                "--secret",
                "demo-secret-1",
                "--account",
                "1001",
            ])
            .args(["--symbol", "CEA2025", "--side", "buy", "--price", "85.00"])
            .args(["--qty", "10", "--tif", "ioc"]);
        c
    })
}

/// Runs the server once, with `extra` arguments, and one order sent (an
/// IOC buy that finds no seller): each run journals entries, so each run
/// leaves a segment.
fn run_once(data_dir: &Path, extra: &[&str]) {
    let server = ServeProcess::start_with(data_dir, extra);
    let order = order(server.addr);
    assert_eq!(
        order.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&order.stderr)
    );
    assert_eq!(server.terminate().code(), Some(0));
}

/// A journal directory moved away while the server runs (a clean-up
/// script, an operator's slip): its files stay open and writable, but no
/// later start would read them. The server stops at the next entry, before
/// acknowledging it, exit 1, naming the directory; it went on
/// acknowledging into the moved files, then stopped "cleanly" (tester 52).
#[test]
fn a_journal_directory_moved_away_while_serving_stops_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let server = ServeProcess::start_logging_to(&data, &log);
    assert!(order(server.addr).status.success());
    std::fs::rename(data.join("journal"), tmp.path().join("moved")).unwrap();
    let refused = order(server.addr);
    assert!(
        !refused.status.success(),
        "{}",
        String::from_utf8_lossy(&refused.stdout)
    );
    let status = server.exited_within(std::time::Duration::from_secs(15));
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("was removed, moved or replaced while the server ran"),
        "{log}"
    );
    assert!(log.contains("why=MarketStopped"), "{log}");
}

/// docs/CONFIG.md: a secret is never printed, not even a demo one; the
/// banner says where a newcomer reads them instead.
#[test]
fn the_demo_banner_names_the_brokers_but_never_a_secret() {
    let data = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(data.path());
    let banner = server.banner.join("\n");
    assert!(
        banner.contains("broker 1 \"demo-broker-1\"")
            && banner.contains("broker 2 \"demo-broker-2\"")
            && banner.contains("gateway/default.toml"),
        "{banner}"
    );
    assert!(!banner.contains("demo-secret"), "{banner}");
    assert!(
        banner.contains("accounts 1001 (compliance_entity)"),
        "{banner}"
    );
    assert_eq!(server.terminate().code(), Some(0));

    // On a market that already ran, the accounts are the journal's: one
    // the config adds now is not opened, so the banner does not name it.
    let config = data.path().join("more.toml");
    let more = "\n[[accounts]]\nid = 3001\nbroker = 1\nparticipant = \"compliance_entity\"\ncash = \"777.00\"\n";
    std::fs::write(
        &config,
        format!("{}{more}", cetx_gateway::config::DEFAULT_TOML),
    )
    .unwrap();
    let server = ServeProcess::start_with(data.path(), &["--config", config.to_str().unwrap()]);
    let banner = server.banner.join("\n");
    assert!(
        banner.contains("accounts 1001 (compliance_entity)"),
        "{banner}"
    );
    // On the brokers' lines (the address's port may hold those digits:
    // CI's was 43001).
    let accounts = server
        .banner
        .iter()
        .filter(|line| line.starts_with("broker "));
    assert!(
        !accounts.clone().any(|line| line.contains("3001")),
        "{banner}"
    );
    assert_eq!(accounts.count(), 2, "{banner}");
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn a_second_server_on_the_same_data_directory_exits_at_once() {
    let data = tempfile::tempdir().unwrap();
    let first = ServeProcess::start(data.path());
    let journal_dir = data.path().join("journal");
    // On ports of its own, and on the first server's broker port (the
    // same config twice): either way it is told who holds the directory,
    // not that an address is in use (an outside tester's case).
    let first_port = first.addr.to_string();
    for listen in ["127.0.0.1:0", first_port.as_str()] {
        let second = finish(&mut cetx(
            &[
                "serve",
                "--market-data-listen",
                "127.0.0.1:0",
                "--http-listen",
                "127.0.0.1:0",
                "--open-market-now",
                "--listen",
                listen,
            ],
            data.path(),
        ));
        let stderr = String::from_utf8_lossy(&second.stderr);
        assert_eq!(second.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("in use by another cetx process")
                && stderr.contains(&*journal_dir.to_string_lossy())
                && stderr.contains("pid "),
            "{stderr}"
        );
        // It never listened.
        let stdout = String::from_utf8_lossy(&second.stdout);
        assert!(!stdout.contains("listening"), "{stdout}");
    }

    // Nor may one on a data directory of its own whose segments link to
    // the first's (JOURNAL.md, One writer): refused before recovery
    // changes anything.
    let linked = tempfile::tempdir().unwrap();
    let linked_journal = linked.path().join("journal");
    std::fs::create_dir(&linked_journal).unwrap();
    for entry in std::fs::read_dir(&journal_dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_owned();
        if path.extension().is_some_and(|e| e == "seg") {
            std::os::unix::fs::symlink(&path, linked_journal.join(&name)).unwrap();
        } else if name == "MANIFEST" || name == "DURABILITY" {
            std::fs::copy(&path, linked_journal.join(&name)).unwrap();
        }
    }
    let second = finish(cetx(&["serve", "--open-market-now"], linked.path()).args(ON_LOOPBACK));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is being written by another process")
            && stderr.contains("nothing was changed"),
        "{stderr}"
    );

    // Replay only reads: it works beside the live server.
    let replay = finish(&mut {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cetx"));
        c.args(["replay", "--journal"]).arg(&journal_dir);
        c
    });
    assert_eq!(
        replay.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );

    // The lock goes with the process, however it ends: after SIGKILL a new
    // server starts.
    first.kill();
    let again = ServeProcess::start(data.path());
    assert_eq!(again.terminate().code(), Some(0));
}

#[test]
fn a_missing_segment_stops_a_restart_and_names_the_file() {
    let data = tempfile::tempdir().unwrap();
    // Two runs: two segments.
    for _ in 0..2 {
        run_once(data.path(), &[]);
    }
    let journal_dir = data.path().join("journal");
    let segments = list_segments(&journal_dir).unwrap();
    assert!(segments.len() >= 2, "{segments:?}");
    for gone in [&segments[0].1, &segments[segments.len() - 1].1] {
        let saved = std::fs::read(gone).unwrap();
        std::fs::remove_file(gone).unwrap();
        let serve = finish(&mut cetx(
            &[&["serve"], &ON_LOOPBACK[..]].concat(),
            data.path(),
        ));
        let stderr = String::from_utf8_lossy(&serve.stderr);
        assert_eq!(serve.status.code(), Some(1), "{stderr}");
        let name = gone.file_name().unwrap().to_string_lossy();
        assert!(
            stderr.contains("is missing") && stderr.contains(&*name),
            "{stderr}"
        );
        std::fs::write(gone, saved).unwrap();
    }
    let server = ServeProcess::start(data.path());
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn archiving_moves_settled_segments_and_replay_still_finds_them() {
    let data = tempfile::tempdir().unwrap();
    let journal_dir = data.path().join("journal");
    // A snapshot after every entry (while none is being written), and only
    // the newest kept besides those of the last two ends of day (which
    // the second run journaled, in the second segment).
    let config = data.path().join("cetx.toml");
    std::fs::write(
        &config,
        cetx_gateway::config::DEFAULT_TOML
            .replace("snapshot_every = 1000000", "snapshot_every = 1")
            .replace("keep_snapshots = 2", "keep_snapshots = 1"),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    // Three runs, three segments: Friday 27 November, then Tuesday 1
    // December twice. The second run's start closes Monday, which the
    // market missed: Tuesday's trading day starts in the second segment.
    for start_at in [
        "2026-11-27T10:00:00+08:00",
        "2026-12-01T10:00:00+08:00",
        "2026-12-01T10:05:00+08:00",
    ] {
        run_once(data.path(), &["--config", config, "--start-at", start_at]);
    }
    let before = finish(&mut {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cetx"));
        c.args(["replay", "--journal"]).arg(&journal_dir);
        c
    });
    assert_eq!(before.status.code(), Some(0));
    let segments = list_segments(&journal_dir).unwrap();
    assert_eq!(segments.len(), 3, "{segments:?}");
    let snapshots = list_snapshots(&journal_dir).unwrap();
    assert!(
        snapshots[0].0 >= segments[2].0
            && snapshots[1..]
                .iter()
                .all(|&(seq, _)| (segments[1].0..segments[2].0).contains(&seq)),
        "{snapshots:?} {segments:?}"
    );

    // Not while a server runs. (On the third run's day: on the system's
    // clock its start would close the days since, and the snapshot it may
    // write of them would move what may be archived.)
    let server = ServeProcess::start_with(
        data.path(),
        &[
            "--config",
            config,
            "--start-at",
            "2026-12-01T10:06:00+08:00",
        ],
    );
    let everything = u64::MAX.to_string();
    // On another disk, say: an absolute directory.
    let archive_dir = data.path().join("elsewhere");
    let to = archive_dir.to_str().unwrap();
    let archive = [
        "journal",
        "archive",
        "--config",
        config,
        "--before-seq",
        &everything,
        "--to",
        to,
    ];
    let refused = finish(&mut cetx(&archive, data.path()));
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("in use"));
    assert_eq!(server.terminate().code(), Some(0));

    // Everything settled: the ends of day's snapshots are in the second
    // segment, which also holds the start of Tuesday's trading day, which
    // a broker's resume reads back from. Only Friday's goes.
    let archived = finish(&mut cetx(&archive, data.path()));
    let stdout = String::from_utf8_lossy(&archived.stdout);
    assert_eq!(
        archived.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&archived.stderr)
    );
    let (first_seq, friday) = &segments[0];
    assert!(!friday.exists(), "{} is still live", friday.display());
    assert!(archive_dir.join(friday.file_name().unwrap()).exists());
    assert!(
        stdout.contains(&format!("from seq {first_seq}")),
        "{stdout}"
    );
    let day_starts: u64 = stdout
        .split("brokers' resumes read back its trading day from seq ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|seq| seq.parse().ok())
        .unwrap_or_else(|| panic!("where the day starts: {stdout}"));
    assert!(
        (segments[1].0..segments[2].0).contains(&day_starts),
        "{stdout}"
    );
    for (_, live) in &segments[1..] {
        assert!(live.exists(), "{} was archived", live.display());
    }
    let manifest = Manifest::read(&journal_dir).unwrap().unwrap();
    assert_eq!(manifest.archive_dir.as_deref(), Some(archive_dir.as_path()));
    assert!(manifest.segments[0].archived && !manifest.segments[1].archived);
    assert!(std::fs::read_to_string(journal_dir.join(MANIFEST_FILE))
        .unwrap()
        .contains("archived"));

    // Replay reads the archived segments through the manifest, and settles
    // the same.
    let after = finish(&mut {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cetx"));
        c.args(["replay", "--journal"]).arg(&journal_dir);
        c
    });
    assert_eq!(after.status.code(), Some(0));
    assert_eq!(after.stdout, before.stdout);
    // Later runs archive where the manifest says, with no `--to`; another
    // directory is refused, and named as such, not as damage.
    let again = finish(&mut cetx(&archive[..6], data.path()));
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let mut other = archive;
    other[7] = "../archive";
    let refused = finish(&mut cetx(&other, data.path()));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("archived in {to}")) && !stderr.contains("corrupt"),
        "{stderr}"
    );
    // The server restarts without the archive.
    std::fs::rename(&archive_dir, data.path().join("cold")).unwrap();
    let server = ServeProcess::start_with(data.path(), &["--config", config]);
    assert_eq!(server.terminate().code(), Some(0));
}

/// OPERATIONS.md, "Start-up": an address in use, or a TLS file that cannot
/// be used, stops a first start before it journals anything, so the
/// operator fixes the config and starts again on the same, still empty,
/// directory.
#[test]
fn a_first_start_that_cannot_serve_journals_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let data = tmp.path().join("taken");
    let output = finish(&mut cetx(
        &[
            "serve",
            "--listen",
            &taken,
            "--market-data-listen",
            "127.0.0.1:0",
        ],
        &data,
    ));
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!("listening for brokers on {taken}")),
        "{said}"
    );
    assert!(!data.join("journal").exists(), "{said}");

    // Two of its own addresses on one port: each is free alone (a helper's
    // start journaled the market, then found the clash).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = tmp.path().join("clash");
    let output = finish(&mut cetx(
        &[
            "serve",
            "--listen",
            &format!("0.0.0.0:{port}"),
            "--market-data-listen",
            &format!("127.0.0.1:{port}"),
        ],
        &data,
    ));
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{said}");
    // Both named by what they serve.
    assert!(
        said.contains(&format!(
            "listening for market data on 127.0.0.1:{port}: it would also be listening for brokers on 0.0.0.0:{port}, on the same port"
        )),
        "{said}"
    );
    assert!(!data.join("journal").exists(), "{said}");

    let config = tmp.path().join("tls.toml");
    let toml = format!(
        "{}\n[server.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        cetx_gateway::config::DEFAULT_TOML,
        tmp.path().join("no-cert.pem").display(),
        tmp.path().join("no-key.pem").display(),
    );
    std::fs::write(&config, toml).unwrap();
    let data = tmp.path().join("tls");
    let with_config = ["serve", "--config", config.to_str().unwrap()];
    let output = finish(&mut cetx(
        &[&with_config[..], &ON_LOOPBACK[..]].concat(),
        &data,
    ));
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(said.contains("[server.tls]"), "{said}");
    assert!(!data.join("journal").exists(), "{said}");
}

/// A data directory that is a file, or only spaces, is refused before
/// anything listens, and the message says which (an outside tester's
/// cases: `File exists (os error 17)`, and a folder named "   ").
#[test]
fn a_data_directory_that_is_a_file_or_blank_is_refused_by_name() {
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("afile");
    std::fs::write(&file, "not a directory").unwrap();
    let serve = finish(&mut cetx(&[&["serve"], &ON_LOOPBACK[..]].concat(), &file));
    let stderr = String::from_utf8_lossy(&serve.stderr);
    assert_eq!(serve.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is a file, not a directory"), "{stderr}");

    let serve = finish(&mut {
        let mut c = cetx(&[&["serve"], &ON_LOOPBACK[..]].concat(), Path::new("   "));
        c.current_dir(scratch.path());
        c
    });
    let stderr = String::from_utf8_lossy(&serve.stderr);
    assert_eq!(serve.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("must not be empty or only spaces"),
        "{stderr}"
    );
    assert!(!scratch.path().join("   ").exists());
}

/// A flag's address is an IP address and a port, as a config's is, and
/// its error says so (clap's own words were "invalid socket address
/// syntax", which did not say that host names are not resolved).
#[test]
fn a_host_name_given_to_listen_on_is_refused_saying_why() {
    let data = tempfile::tempdir().unwrap();
    for flag in ["--listen", "--metrics-listen"] {
        let refused = finish(&mut cetx(&["serve", flag, "localhost:7878"], data.path()));
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("\"localhost:7878\" is not an IP address and port such as \"127.0.0.1:7878\" (host names are not resolved)"),
            "{stderr}"
        );
    }
}

/// OPERATIONS.md, *Start-up*: the log says at the start whether the market
/// is closed and which trading day it is in, so that an operator starting
/// on a weekend learns it there (tester 150 F2), and with
/// `--open-market-now` that it is open.
#[test]
fn the_log_gives_the_market_s_phase_and_trading_day_at_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    // Saturday 12 December 2026: the next trading day is Monday the 14th.
    let saturday = ["--start-at", "2026-12-12T10:00:00+08:00"];
    let said = |log: &Path| {
        std::fs::read_to_string(log)
            .unwrap()
            .lines()
            .filter(|line| line.contains("the market's phase at the start"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let log = tmp.path().join("closed.log");
    let server =
        ServeProcess::start_on_the_calendar_logging_to(&tmp.path().join("a"), &saturday, &log);
    assert_eq!(server.terminate().code(), Some(0));
    let lines = said(&log);
    assert!(
        matches!(&lines[..], [line] if line.contains("phase=Closed") && line.contains("trading_date=20261214")),
        "{lines:?}"
    );
    let log = tmp.path().join("open.log");
    let server = ServeProcess::start_with_logging_to(&tmp.path().join("b"), &saturday, &log);
    assert_eq!(server.terminate().code(), Some(0));
    let lines = said(&log);
    assert!(
        matches!(&lines[..], [line] if line.contains("phase=Continuous")),
        "{lines:?}"
    );
}
