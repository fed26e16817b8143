//! `cetx admin` as a process against a real `cetx serve`: a batch file
//! applied, then re-sent with no effect (exit 0 both times, each row
//! answered), a row the engine refuses (exit 1), a wrong secret (exit 1),
//! a broker onboarded and an account suspended, and the journal settling
//! the deposit once and showing the suspension; and what a disconnect and
//! a suspension cancelled, in the log.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{output_within, ServeProcess};

const SECRET: &str = "desk-secret";

/// Runs `cetx admin --connect ADDR --operator 9 ARGS` with `secret` in
/// the environment: exit code and standard output (and error).
fn admin(addr: &str, secret: &str, args: &[&str]) -> (i32, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_cetx"))
        .args(["admin", "--connect", addr, "--operator", "9"])
        .args(args)
        .env("CETX_ADMIN_SECRET", secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cetx admin runs");
    let output = output_within(child, "cetx admin", Duration::from_secs(30));
    (
        output.status.code().expect("exited"),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// The demo config with the operators' channel on a free port and
/// operator 9 (`SECRET`), written in `dir`: its path.
fn operators_config(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("cetx.toml");
    write(
        &config,
        &format!(
            "{}\n[admin]\nlisten = \"127.0.0.1:0\"\n\n[[operators]]\nid = 9\nname = \"desk\"\nsecret = \"{SECRET}\"\n",
            cetx_gateway::config::DEFAULT_TOML
        ),
    );
    config
}

/// Where `server` serves operators, from its banner.
fn operators_addr(server: &ServeProcess) -> String {
    server
        .banner
        .iter()
        .find_map(|line| line.strip_prefix("operators on "))
        .expect("the banner names the operators' channel")
        .to_owned()
}

/// A server that stops in the middle of a batch whose output is read
/// slowly (piped into `tee` or `less`): `cetx admin` prints a line for
/// every row the server applied, then says the server closed the
/// connection (exit 1). It was killed by `SIGPIPE` instead, silently,
/// by a `writev` to the closed connection: an outside tester's run
/// printed 2,182 lines of 2,308 rows applied.
#[test]
fn a_batch_cut_by_a_stopping_server_prints_every_row_it_applied() {
    use std::io::Read;
    const ROWS: usize = 5_000;
    let tmp = tempfile::tempdir().unwrap();
    let config = operators_config(tmp.path());
    let data = tmp.path().join("data");
    let config_args = ["--config", config.to_str().unwrap()];
    let server = ServeProcess::start_with(&data, &config_args);
    let batch = tmp.path().join("many.csv");
    let rows: String = (0..ROWS)
        .map(|i| format!("deposit,1001,,,1.00,CUT-{i}\n"))
        .collect();
    write(
        &batch,
        &format!("action,account,symbol,quantity,amount,reference\n{rows}"),
    );
    let journal = data.join(cetx_gateway::runtime::JOURNAL_DIR);
    let applied = || {
        cetx_engine::journal::durable_mark(&journal)
            .unwrap()
            .unwrap_or(0)
    };
    let before = applied();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cetx"))
        .args([
            "admin",
            "--connect",
            &operators_addr(&server),
            "--operator",
            "9",
        ])
        .args(["batch", batch.to_str().unwrap()])
        .env("CETX_ADMIN_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cetx admin runs");
    // Its output is not read yet: the pipe, made one page (4 KiB, some
    // 140 lines of ~30 bytes), fills and the client waits on it. Once the
    // server has applied more rows than that (its durable mark says so;
    // the client sends 128 ahead of its answers), answers wait unread in
    // the client's socket; then the server stops.
    let stdout = child.stdout.as_ref().unwrap();
    // SAFETY: `fcntl(F_SETPIPE_SZ)` on the pipe's open descriptor reads no
    // memory of this process.
    #[allow(unsafe_code)]
    let resized = unsafe {
        libc::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(stdout),
            libc::F_SETPIPE_SZ,
            4_096,
        )
    };
    assert!(resized >= 4_096, "{}", std::io::Error::last_os_error());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while applied() < before + 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the batch went no further"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(server.terminate().success());
    let mut printed = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut printed)
        .unwrap();
    let output = output_within(child, "cetx admin", Duration::from_secs(30));
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{:?}: {said}", output.status);
    assert!(said.contains("the server closed the connection"), "{said}");
    let lines = printed.matches("applied at seq").count();
    assert!(lines > 0 && lines < ROWS, "{lines} lines");
    // Every row applied has its line: sent again, those are the rows
    // already applied, and the rest are applied now.
    let server = ServeProcess::start_with(&data, &config_args);
    let (_, again) = admin(
        &operators_addr(&server),
        SECRET,
        &["batch", batch.to_str().unwrap()],
    );
    assert_eq!(again.matches("already applied").count(), lines, "{again}");
    assert_eq!(again.matches("applied at seq").count(), ROWS - lines);
}

#[test]
fn a_batch_is_applied_once_and_a_resent_one_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let config = operators_config(tmp.path());
    let data = tmp.path().join("data");
    let server = ServeProcess::start_with(&data, &["--config", config.to_str().unwrap()]);
    let addr = operators_addr(&server);

    let batch = tmp.path().join("daily.csv");
    write(
        &batch,
        "action,account,symbol,quantity,amount,reference\n\
         deposit,1001,,,2500.50,BANK-1\n\
         transfer-in,2001,CEA2025,700,,REG-1\n\
         transfer-out,2001,CEA2025,200,,REG-2\n",
    );
    let (code, first) = admin(&addr, SECRET, &["batch", batch.to_str().unwrap()]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(first.matches("applied at seq").count(), 3, "{first}");
    let (code, again) = admin(&addr, SECRET, &["batch", batch.to_str().unwrap()]);
    assert_eq!(code, 0, "a re-sent file is not an error: {again}");
    assert_eq!(again.matches("already applied").count(), 3, "{again}");
    assert!(again.contains("line 2: already applied"), "{again}");
    // The same reference for another quantity is a mistake, not a re-send:
    // refused, exit 1, and nothing moves. Its answer names the file's line
    // (a blank line before it, which the reader passes over, counts).
    let reused = tmp.path().join("reused.csv");
    write(
        &reused,
        "action,account,symbol,quantity,amount,reference\n\
         \n\
         \x20  \n\
         transfer-in,2001,CEA2025,7000,,REG-1\n",
    );
    // A line of spaces is passed over as an empty one (as in cetx-stream's
    // files; it was refused as a row of one field).
    let (code, out) = admin(&addr, SECRET, &["batch", reused.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    // What the reference was used for (tester 157 F2).
    assert!(
        out.contains(
            "line 4: rejected: ReferenceReused: it named a transfer in of 700 t of CEA2025 \
             for account 2001, today (code 212"
        ),
        "{out}"
    );
    // A refusal of the gateway's names no entry (an outside tester was
    // shown "seq 0").
    let (code, out) = admin(&addr, SECRET, &["halt", "--symbol", "NOPE"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("rejected: no instrument NOPE (code 410, not journaled)"),
        "{out}"
    );

    // More than the account holds: refused, exit 1, quoting what it may
    // move (500,000 t of the demo config, 700 in, 200 out).
    let (code, refused) = admin(
        &addr,
        SECRET,
        &[
            "transfer-out",
            "--account",
            "2001",
            "--symbol",
            "CEA2025",
            "--qty",
            "99999999",
            "--ref",
            "REG-3",
        ],
    );
    assert_eq!(code, 1, "{refused}");
    assert!(
        refused.contains("InsufficientHoldings: 500500 t free (code 203"),
        "{refused}"
    );
    let (code, wrong) = admin(&addr, "demo-secret-1", &["halt", "--symbol", "CCER"]);
    assert_eq!(code, 1, "{wrong}");
    assert!(wrong.contains("code 402"), "{wrong}");

    // Onboarding and standing: the new broker's secret from a file.
    let secret_file = tmp.path().join("broker-12.secret");
    write(&secret_file, "twelfth-secret\n");
    let secret_arg = secret_file.to_str().unwrap();
    let add = ["add-broker", "--broker", "12", "--name", "Twelfth"];
    let (code, added) = admin(
        &addr,
        SECRET,
        &[&add[..], &["--broker-secret-file", secret_arg]].concat(),
    );
    assert_eq!(code, 0, "{added}");
    assert!(added.contains("applied at seq"), "{added}");
    let (code, suspended) = admin(&addr, SECRET, &["suspend-account", "--account", "1003"]);
    assert_eq!(code, 0, "{suspended}");
    let (code, closed) = admin(&addr, SECRET, &["close-broker", "--broker", "1"]);
    assert_eq!(code, 1, "{closed}");
    assert!(
        closed.contains("BrokerHasOpenAccounts (code 117"),
        "{closed}"
    );
    assert!(server.terminate().success());
    // Where operator 9 logged in from is kept for the next start
    // (ADMIN.md: places kept for it among the connections).
    let addresses =
        std::fs::read_to_string(data.join(cetx_gateway::admin::PROVEN_FILE)).unwrap_or_default();
    assert!(addresses.contains("\n9 127.0.0.1 "), "{addresses}");

    // The journal settles the deposit once: 100,000,000.00 + 2,500.50.
    let out = tmp.path().join("reports");
    let replay = Command::new(env!("CARGO_BIN_EXE_cetx"))
        .args(["replay", "--journal"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let replayed = output_within(replay, "cetx replay", Duration::from_secs(30));
    assert!(replayed.status.success(), "{replayed:?}");
    let accounts = std::fs::read_to_string(out.join("accounts.csv")).unwrap();
    let line = accounts
        .lines()
        .find(|l| l.starts_with("1001,") && l.contains(",CEA2025,"))
        .expect("account 1001's CEA2025 line");
    assert!(line.ends_with(",100002500.50,active"), "{line}");
    let suspended = accounts
        .lines()
        .filter(|l| l.starts_with("1003,"))
        .collect::<Vec<_>>();
    assert!(!suspended.is_empty(), "{accounts}");
    assert!(
        suspended.iter().all(|l| l.ends_with(",suspended")),
        "{accounts}"
    );
    let line = accounts
        .lines()
        .find(|l| l.starts_with("2001,") && l.contains(",CEA2025,"))
        .expect("account 2001's CEA2025 line");
    assert!(line.contains(",500500,"), "500,000 + 700 - 200: {line}");
    // Each transfer once, with the registry's and the bank's reference ids,
    // and the operator who made it, as journaled (the genesis's own lines
    // name none).
    let transfers = std::fs::read_to_string(out.join("transfers.csv")).unwrap();
    assert!(
        transfers.starts_with("seq,")
            && transfers
                .lines()
                .next()
                .unwrap()
                .ends_with(",amount_cny,operator"),
        "{transfers}"
    );
    let with_reference: Vec<&str> = transfers
        .lines()
        .filter(|l| l.contains(",BANK-1,") || l.contains(",REG-"))
        .collect();
    assert_eq!(with_reference.len(), 3, "{transfers}");
    assert!(
        with_reference.iter().all(|l| l.ends_with(",9")),
        "{transfers}"
    );
    assert!(
        with_reference[1].ends_with(",REG-1,2001,2,CEA2025,in,700,0.00,9"),
        "{transfers}"
    );
    let genesis = transfers.lines().nth(1).unwrap();
    assert!(
        genesis.contains(",,1001,") && genesis.ends_with(','),
        "{genesis}"
    );
}

/// `cetx order ARGS` (words split at spaces) as demo broker `broker`,
/// waiting: returned once it prints that its order was accepted, still
/// connected.
fn rest(addr: &str, broker: u32, args: &str) -> std::process::Child {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_cetx"))
        .args(["order", "--addr", addr, "--broker", &broker.to_string()])
        .args(args.split_whitespace())
        .args(["--wait", "30"])
        .env("CETX_SECRET", format!("demo-secret-{broker}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cetx order runs");
    let accepted = BufReader::new(child.stdout.take().expect("piped"))
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("accepted: exchange order"));
    assert!(accepted, "{args}: accepted");
    child
}

/// What a disconnect and a suspension cancelled is logged (OPERATIONS.md,
/// *Metrics*, the log lines): the operator's `applied at seq N` says nothing of it, and
/// a disconnect's `session closed` line comes before the cancel (tester
/// 82). Broker 1 (cancel on disconnect) rests two sells and goes away;
/// account 2001 rests a sell and a buy and is suspended, then suspended
/// again, which is refused and logs no cancel.
#[test]
fn what_a_disconnect_or_a_suspension_cancelled_is_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let config = operators_config(tmp.path());
    let log = tmp.path().join("serve.log");
    let server = ServeProcess::start_with_logging_to(
        &tmp.path().join("data"),
        &["--config", config.to_str().unwrap()],
        &log,
    );
    let addr = server.addr.to_string();
    let admin_addr = operators_addr(&server);
    let sell = "--symbol CEA2025 --side sell --qty 50";

    // Account 2001 rests a buy and a sell, and is suspended: the line is
    // written before the operator's answer (both follow the entry's
    // durability, the line first).
    let buy = "--account 2001 --symbol CEA2025 --side buy --qty 10 --price 88.00";
    let mut buyer = rest(&addr, 2, buy);
    let mut seller = rest(&addr, 2, &format!("--account 2001 {sell} --price 94.00"));
    let (code, out) = admin(
        &admin_addr,
        SECRET,
        &["suspend-account", "--account", "2001"],
    );
    assert_eq!(code, 0, "{out}");
    for child in [&mut buyer, &mut seller] {
        let _ = child.kill();
        let _ = child.wait();
    }
    // A second suspension is refused (118): journaled, it cancelled
    // nothing, and no line says it did.
    let (code, out) = admin(
        &admin_addr,
        SECRET,
        &["suspend-account", "--account", "2001"],
    );
    assert!(code != 0 && out.contains("118"), "{code}: {out}");

    // Broker 1 rests two sells, the only asks left, and goes away. The
    // feed shows the book without them once the cancel is durable; the
    // line is written in the same turn, before the server stops.
    let mut first = rest(&addr, 1, &format!("--account 1001 {sell} --price 92.00"));
    let mut second = rest(&addr, 1, &format!("--account 1001 {sell} --price 93.00"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let asks = |feed: &cetx_gateway::market_data::FeedClient| {
        feed.instrument("CEA2025").map_or(0, |f| f.view.asks.len())
    };
    // Its two sells shown first (the subscription's snapshot, read before
    // broker 1 goes away, so that the cancel cannot come before it)...
    let (mut feed, shown_both) = runtime.block_on(async {
        let mut feed = cetx_gateway::market_data::FeedClient::connect(server.market_data)
            .await
            .unwrap();
        feed.subscribe(0, &["CEA2025"]).await.unwrap();
        let shown_both = tokio::time::timeout(Duration::from_secs(30), async {
            while asks(&feed) != 2 {
                feed.next().await.unwrap();
            }
        })
        .await;
        (feed, shown_both)
    });
    assert!(shown_both.is_ok(), "broker 1's two sells were shown");
    // The first was taken over by the second; the second goes away.
    let _ = first.wait();
    second.kill().unwrap();
    let _ = second.wait();
    // ...then none.
    let emptied = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), async {
            while asks(&feed) != 0 {
                feed.next().await.unwrap();
            }
        })
        .await
    });
    assert!(emptied.is_ok(), "broker 1's sells were cancelled");
    assert!(server.terminate().success());

    let said = std::fs::read_to_string(&log).unwrap();
    let lines = |what: &str| -> Vec<&str> { said.lines().filter(|l| l.contains(what)).collect() };
    let suspension = lines("cancelled an account's resting orders");
    assert!(
        matches!(&suspension[..], [line] if line.contains("account=2001")
            && line.contains("status=Suspended")
            && line.contains("orders=2")
            && line.contains("offers=0")),
        "{suspension:?}"
    );
    // Broker 2 had nothing left resting when it went away: no line for it.
    let disconnect = lines("cancelled a disconnected broker's resting orders");
    assert!(
        matches!(&disconnect[..], [line] if line.contains("broker=1") && line.contains("orders=2")),
        "{disconnect:?}"
    );
}

/// ADMIN.md, "Exit codes": what the command line or its files got wrong
/// is a bad argument (exit 2), told before anything is sent: no server
/// listens at the address, so nothing could be.
#[test]
fn bad_arguments_exit_2_before_anything_is_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let nowhere = "127.0.0.1:9";
    let deposit = |amount: &str| {
        admin(
            nowhere,
            SECRET,
            &[
                "deposit",
                "--account",
                "1001",
                "--amount",
                amount,
                "--ref",
                "BANK-1",
            ],
        )
    };
    // A negative amount too, given as its own argument (`--amount -5`,
    // which clap once took for an unknown flag).
    for amount in ["12.345", "0", "-5"] {
        let (code, said) = deposit(amount);
        assert_eq!(code, 2, "{amount}: {said}");
        assert!(said.contains("amount"), "{said}");
        assert!(said.contains("exact to the fen"), "{said}");
    }
    // A price is named a price, not an amount.
    let (code, said) = admin(
        nowhere,
        SECRET,
        &["set-reference", "--symbol", "CEA2025", "--price", "90.001"],
    );
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("price 90.001 CNY is not positive and exact to the fen"),
        "{said}"
    );
    // Money is digits with at most one point: each of these once moved
    // real cash (an outside tester's deposits of "1e3", "+1000", ...).
    for amount in ["1e3", "+1000", "1_000.00", "1000.", ".50"] {
        let (code, said) = deposit(amount);
        assert_eq!(code, 2, "{amount}: {said}");
        assert!(said.contains("not an amount of CNY"), "{amount}: {said}");
    }
    let batch = tmp.path().join("batch.csv");
    let batch_of = |row: &str| {
        write(
            &batch,
            &format!("action,account,symbol,quantity,amount,reference\n{row}\n"),
        );
        admin(nowhere, SECRET, &["batch", batch.to_str().unwrap()])
    };
    let (code, said) = batch_of("deposit,1001,,,1e3,B-6");
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("not an amount of CNY"), "{said}");
    let (code, said) = batch_of("bogus,5001,,,1.00,B-7");
    assert_eq!(code, 2, "{said}");
    // A cash row that names a symbol and a quantity too contradicts itself.
    let (code, said) = batch_of("deposit,3001,CEA2025,5,10.00,B-8");
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("moves cash"), "{said}");
    let (code, said) = batch_of("transfer-in,1001,CEA2025,0,,B-9");
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("line 2: a quantity of 0 t"), "{said}");
    // A value its column cannot hold, and a short row, are told by the
    // column's name and rule (the csv reader's words were "field 3:
    // number too large to fit in target type").
    let (code, said) = batch_of("transfer-in,1001,CEA2025,18446744073709551616,,B-9");
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("line 2: `quantity` must be whole tonnes, from 1 to 2^64 - 1"),
        "{said}"
    );
    let (code, said) = batch_of("deposit,1001,,5.00,B-9");
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("line 2: 5 fields where the header has 6"),
        "{said}"
    );
    // A header and no row sends nothing, and says so.
    write(&batch, "action,account,symbol,quantity,amount,reference\n");
    let (code, said) = admin(nowhere, SECRET, &["batch", batch.to_str().unwrap()]);
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("no rows after the header line"), "{said}");
    // A file that lost its header line, or has no line at all, is refused,
    // not read as a file without rows (an outside tester's one-row file
    // without a header exited 0 and applied nothing).
    // Lines are the file's, empty ones before counted.
    for (lost, line) in [
        ("deposit,1001,,,5.00,B-10\n", 1),
        ("\n\ndeposit,1001,,,5.00,B-10\n", 3),
        (" \n\n  deposit,1001,,,5.00,B-10\n", 3),
    ] {
        write(&batch, lost);
        let (code, said) = admin(nowhere, SECRET, &["batch", batch.to_str().unwrap()]);
        assert_eq!(code, 2, "{lost:?}: {said}");
        assert!(
            said.contains(&format!(
                "line {line}: the header names no `action` (it must be action,account,"
            )),
            "{lost:?}: {said}"
        );
    }
    for empty in ["", "\n", "  \n \n"] {
        write(&batch, empty);
        let (code, said) = admin(nowhere, SECRET, &["batch", batch.to_str().unwrap()]);
        assert_eq!(code, 2, "{empty:?}: {said}");
        assert!(
            said.contains("the file is empty: its first line must be the header action,account,"),
            "{empty:?}: {said}"
        );
    }
    write(
        &batch,
        "action,account,symbol,quantity,amount,reference\n\n  \ntransfer-in,1001,CEA2025,18446744073709551616,,B-9\n",
    );
    let (code, said) = admin(nowhere, SECRET, &["batch", batch.to_str().unwrap()]);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("line 4: `quantity` must be whole tonnes"),
        "{said}"
    );
    let (code, said) = deposit("99999999999999999999");
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("more than an amount can hold (2^64 - 1 fen)"),
        "{said}"
    );
    // What the server would not decode (414) or apply (108) is told here.
    let long_ref = "R".repeat(65);
    let transfer = |qty: &str, reference: &str| {
        let args = [
            "transfer-in",
            "--account",
            "1001",
            "--symbol",
            "CEA2025",
            "--qty",
            qty,
            "--ref",
            reference,
        ];
        admin(nowhere, SECRET, &args)
    };
    for (qty, reference, says) in [
        ("0", "T-1", "a quantity of 0 t: it must be at least 1 t"),
        (
            "5",
            long_ref.as_str(),
            "reference is 65 bytes, above the maximum of 64",
        ),
    ] {
        let (code, said) = transfer(qty, reference);
        assert_eq!(code, 2, "{qty} {reference}: {said}");
        assert!(said.contains(says), "{said}");
    }
    // In a batch, by the file and its line as every batch error is.
    write(
        &batch,
        &format!(
            "action,account,symbol,quantity,amount,reference\ndeposit,1001,,,5.00,{long_ref}\n"
        ),
    );
    let (code, said) = admin(nowhere, SECRET, &["batch", batch.to_str().unwrap()]);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains(&format!(
            "{}: line 2: reference is 65 bytes, above the maximum of 64",
            batch.display()
        )),
        "{said}"
    );
    // A header ending in a comma, as spreadsheets write them, has a
    // column without a name, which holds nothing: the rows are read.
    write(
        &batch,
        "action,account,symbol,quantity,amount,reference,\ndeposit,1001,,,1e3,B-12,\n",
    );
    let (code, said) = admin(nowhere, SECRET, &["batch", batch.to_str().unwrap()]);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("line 2: \"1e3\" is not an amount of CNY"),
        "{said}"
    );
    // A column it does not know is named, not passed over: a misspelt
    // `amount` left every row without one ("deposit needs an amount").
    write(
        &batch,
        "action,account,symbol,quantity,ammount,reference\ndeposit,1001,,,5.00,B-11\n",
    );
    let (code, said) = admin(nowhere, SECRET, &["batch", batch.to_str().unwrap()]);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains(
            "line 1: the header names `ammount`, which is no column (it must be action,account,"
        ),
        "{said}"
    );
    let (code, said) = admin(nowhere, SECRET, &["halt", "--symbol", "CEA20250000000000"]);
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("symbol is 17 bytes"), "{said}");
    let listing = [
        "list-instrument",
        "--kind",
        "cea",
        "--vintage",
        "2028",
        "--reference",
        "95.00",
        "--eligible",
        "institution,institution",
    ];
    let (code, said) = admin(nowhere, SECRET, &listing);
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("twice"), "{said}");
    // No secret in the environment or a file.
    let (code, said) = admin(nowhere, "", &["halt", "--symbol", "CCER"]);
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("secret"), "{said}");
    // With a server to refuse it, a wrong secret is still exit 1 (above);
    // here the channel cannot be reached at all: exit 1, not 2.
    let (code, said) = deposit("1.00");
    assert_eq!(code, 1, "{said}");
}
