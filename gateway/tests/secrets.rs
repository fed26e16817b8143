//! Secrets and private files with the real `cetx` binary: the data
//! directory is created `0700`; `cetx order` takes the broker's secret from
//! `--secret-file`, `CETX_SECRET`, or (with a warning) `--secret`, and
//! without any of them and no terminal to ask on says so; `cetx serve`
//! warns when its config file, which holds the secrets, is open to other
//! users, or when others may write in its data directory.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::ServeProcess;

fn finish(mut command: Command) -> Output {
    common::finish(command.env("RUST_LOG", "warn"))
}

/// `cetx order` for broker 1 (an IOC buy that finds no seller), with the
/// secret given by `secret` and `CETX_SECRET` removed unless `env` sets it.
fn order(addr: &str, secret: &[&str], env: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cetx"));
    c.args([
        "order",
        "--addr",
        addr,
        "--broker",
        "1",
        "--account",
        "1001",
    ])
    .args(secret)
    .args(["--symbol", "CEA2025", "--side", "buy", "--price", "85.00"])
    .args(["--qty", "10", "--tif", "ioc"])
    .env_remove("CETX_SECRET");
    if let Some(value) = env {
        c.env("CETX_SECRET", value);
    }
    finish(c)
}

fn write_private(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_secret_comes_from_a_file_the_environment_or_with_a_warning_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = ServeProcess::start(&data);
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the data directory is {mode:o}");
    let addr = server.addr.to_string();

    let good = tmp.path().join("secret");
    write_private(&good, "demo-secret-1\n", 0o600);
    let wrong = tmp.path().join("wrong");
    write_private(&wrong, "not-the-secret\n", 0o600);
    let file = |path: &Path| ["--secret-file".to_owned(), path.display().to_string()];

    let from_file = order(&addr, &file(&good).each_ref().map(String::as_str), None);
    assert_eq!(from_file.status.code(), Some(0), "{}", stderr(&from_file));
    assert!(
        !stderr(&from_file).contains("WARN"),
        "{}",
        stderr(&from_file)
    );

    let wrong_file = order(&addr, &file(&wrong).each_ref().map(String::as_str), None);
    assert_eq!(wrong_file.status.code(), Some(1), "{}", stderr(&wrong_file));

    let from_env = order(&addr, &[], Some("demo-secret-1"));
    assert_eq!(from_env.status.code(), Some(0), "{}", stderr(&from_env));

    let inline = order(&addr, &["--secret", "demo-secret-1"], None);
    assert_eq!(inline.status.code(), Some(0), "{}", stderr(&inline));
    assert!(
        stderr(&inline).contains("--secret shows the secret to every local user"),
        "{}",
        stderr(&inline)
    );

    let none = order(&addr, &[], None);
    assert_eq!(none.status.code(), Some(1));
    assert!(
        stderr(&none).contains("no secret for broker 1"),
        "{}",
        stderr(&none)
    );

    assert_eq!(server.terminate().code(), Some(0));
}

/// `cetx serve --config config` with its broker port `listen` taken, so
/// that it stops (exit 1) right after reading its config and recovering.
fn serve_on_a_taken_port(config: &Path, listen: &str, data: &Path) -> Output {
    let mut serve = Command::new(env!("CARGO_BIN_EXE_cetx"));
    serve
        .args(["serve", "--listen", listen])
        .args(["--market-data-listen", "127.0.0.1:0"])
        .args(["--http-listen", "127.0.0.1:0"])
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data);
    finish(serve)
}

#[test]
fn a_config_file_with_secrets_open_to_others_is_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("cetx.toml");
    // The broker port is taken, so that the server stops right after
    // reading its config and recovering.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    for (mode, warned) in [(0o644, true), (0o640, true), (0o600, false)] {
        write_private(&config, cetx_gateway::config::DEFAULT_TOML, mode);
        let output = serve_on_a_taken_port(&config, &listen, &tmp.path().join("data"));
        let said = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{said}");
        assert!(said.contains("listening for brokers on"), "{said}");
        assert_eq!(
            said.contains("holds secrets and is open to its group or other users"),
            warned,
            "mode {mode:o}: {said}"
        );
    }
}

/// A data directory made beforehand keeps its mode; one others may write
/// in (and so move the journal out of) is warned about, a sticky one not.
#[test]
fn a_data_directory_others_may_write_in_is_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    for (mode, warned) in [
        (0o777, true),
        (0o770, true),
        (0o1777, false),
        (0o755, false),
    ] {
        let data = tmp.path().join(format!("data-{mode:o}"));
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(mode)).unwrap();
        let log = tmp.path().join(format!("serve-{mode:o}.log"));
        let server = ServeProcess::start_logging_to(&data, &log);
        assert_eq!(server.terminate().code(), Some(0));
        let said = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            said.contains("is writable by its group or other users"),
            warned,
            "mode {mode:o}: {said}"
        );
    }
}

/// A config's secrets that are short, or the demo config's published ones,
/// are warned about at start, naming the broker, never the secret.
#[test]
fn short_or_published_secrets_are_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("cetx.toml");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let demo = cetx_gateway::config::DEFAULT_TOML;
    assert!(
        demo.contains("secret = \"demo-secret-1\"") && demo.contains("secret = \"demo-secret-2\"")
    );
    let text = demo
        .replace("secret = \"demo-secret-1\"", "secret = \"short-1\"")
        .replace(
            "secret = \"demo-secret-2\"",
            "secret = \"Zq3v9Xc0pLm2Rt8WkY4sBn\"",
        );
    for (text, said_of_1, said_of_2) in [
        (
            demo.to_owned(),
            "broker 1's secret is one the demo config or the docs publish",
            true,
        ),
        (text, "broker 1's secret is 7 characters", false),
    ] {
        write_private(&config, &text, 0o600);
        let said = stderr(&serve_on_a_taken_port(
            &config,
            &listen,
            &tmp.path().join("data"),
        ));
        assert!(said.contains(said_of_1), "{said}");
        assert_eq!(said.contains("broker 2's secret"), said_of_2, "{said}");
        assert!(
            !said.contains("short-1") && !said.contains("demo-secret"),
            "{said}"
        );
    }
}
