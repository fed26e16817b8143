//! `cetx-stream` runs any stream in the QuantCup feed's format through cetx
//! and the contest's winner, says what each traded and what cetx refused,
//! and writes each order's fills; a stream it cannot run is named.

#[path = "../../gateway/tests/common/child.rs"]
mod child;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cetx_bench::quantcup::{self, Message, REFERENCE_TRADED_T};
use cetx_bench::stream::{self, StreamError};
use cetx_engine::{RejectReason, Side};

fn cetx_stream(args: &[&str]) -> Output {
    run(Command::new(env!("CARGO_BIN_EXE_cetx-stream")).args(args))
}

/// Runs `command` (stdin empty, its output collected) to its end within
/// a minute.
fn run(command: &mut Command) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cetx-stream runs");
    child::output_within(child, "cetx-stream", Duration::from_secs(60))
}

fn written(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Two asks rest, a bid sweeps both, a later bid rests and is hit, one
/// order is cancelled, and one cancel names an order that never came.
const SMALL: &str = "trader_id,side,price,qty
0,Ask,4810,100
1,Ask,4805,50
2,Bid,4810,120
0,Bid,4800,10
3,Ask,4800,5
0,Bid,0,1
0,Bid,0,9
";

#[test]
fn a_small_stream_trades_what_a_price_time_book_trades() {
    let dir = tempfile::tempdir().unwrap();
    let file = written(dir.path(), "small.csv", SMALL);
    let fills = dir.path().join("fills.csv");
    let output = cetx_stream(&[&file, "--repeat", "3", "--fills", fills.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "7 messages, 5 limit orders, 2 cancels",
        "market: CEA2025 around 48.05 CNY, band ±10.00% (4325..=5285 cents), orders up to 99999 t, 8 resting at most",
        "cetx: traded 125 t in 3 trades; 1 orders rest at the end",
        "  refused 1: 302 UnknownOrder",
        "the QuantCup winner (C): traded 125 t, the same",
        "median of 3 replays, ns a message: cetx ",
    ] {
        assert!(stdout.contains(line), "{line:?} in\n{stdout}");
    }
    assert_eq!(
        std::fs::read_to_string(&fills).unwrap(),
        "order,traded_t\n1,70\n2,50\n3,120\n4,5\n5,5\n"
    );
}

/// What `cetx-stream` says of the stream `text` it refuses to run.
fn refused(dir: &Path, name: &str, text: &str) -> String {
    let path = written(dir, name, text);
    let output = cetx_stream(&[&path]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "{name}: {stderr}");
    stderr
}

#[test]
fn a_stream_it_cannot_run_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    for (name, text, says) in [
        (
            "side.csv",
            "trader_id,side,price,qty\n0,Ask,4810,1\n1,Buy,4810,1\n",
            "line 3: side \"Buy\" is neither Bid nor Ask",
        ),
        // Told by the file's line, blank lines before it counted.
        (
            "blank_lines.csv",
            "trader_id,side,price,qty\n0,Ask,4810,1\n\n\n1,Buy,4810,1\n",
            "line 5: side \"Buy\" is neither Bid nor Ask",
        ),
        (
            "blank_lines_value.csv",
            "trader_id,side,price,qty\n0,Ask,4810,1\n\n1,Bid,x,1\n",
            "line 4: `price` must be a whole number of cents",
        ),
        // A cancel's side is not used, but it is read as any line's.
        (
            "cancel_side.csv",
            "trader_id,side,price,qty\n0,Ask,4810,1\n0,Xyz,0,1\n",
            "line 3: side \"Xyz\" is neither Bid nor Ask",
        ),
        (
            "wide.csv",
            "trader_id,side,price,qty\n0,Ask,1,1\n1,Bid,100000,1\n",
            "prices from 1 to 100000 cents: no band around one reference price holds both (a band is whole basis points below 100%",
        ),
        (
            "no_header.csv",
            "0,Ask,4810,1\n1,Bid,4810,1\n",
            "line 1: the header names no `trader_id`",
        ),
        (
            "twice.csv",
            "trader_id,side,price,qty,qty\n1,Bid,5000,10,3\n",
            "line 1: the header names more than once `qty`",
        ),
        ("empty.csv", "", "the file is empty"),
        ("newline.csv", "\n", "the file is empty"),
        ("spaces.csv", "  \n \n", "the file is empty"),
        (
            "late_header.csv",
            "  \n\n0,Ask,4810,1\n",
            "line 3: the header names no `trader_id`",
        ),
        (
            "negative.csv",
            "trader_id,side,price,qty\n0,Ask,4810,1\n0,Bid,0,1\n1,Bid,-5,1\n",
            "line 4: price -5 is negative",
        ),
        // A value out of its column's range, and a short row, are told by
        // the column's name and rule, not the csv reader's field index.
        (
            "trader.csv",
            "trader_id,side,price,qty\n0,Ask,4810,1\n300,Bid,4810,1\n",
            "line 3: `trader_id` must be a whole number from 0 to 255",
        ),
        (
            "short.csv",
            "trader_id,side,price,qty\n0,Ask,4810,1\n1,Bid,4810\n",
            "line 3: 3 fields where the header has 4",
        ),
    ] {
        let stderr = refused(dir, name, text);
        assert!(stderr.contains(says), "{name}: {stderr}");
    }

    // One line, with no backtrace where `RUST_BACKTRACE` is set.
    let output = run(Command::new(env!("CARGO_BIN_EXE_cetx-stream"))
        .arg(dir)
        .env("RUST_BACKTRACE", "1"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("it is a directory, not a file"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let missing = dir.join("missing.csv");
    let output = cetx_stream(&[missing.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("missing.csv"), "{stderr}");
}

/// Without a file it runs the QuantCup feed, which it finds in the lobster
/// package through `cargo metadata`; where that cannot run, it says in one
/// line what it looked for, how, and how to name the feed instead.
#[test]
fn without_a_file_it_says_where_it_looked_for_the_feed() {
    let output = run(Command::new(env!("CARGO_BIN_EXE_cetx-stream"))
        .env("CARGO", "/nonexistent/cargo")
        .env_remove(quantcup::FEED_PATH_VAR)
        .env("RUST_BACKTRACE", "1"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for says in [
        "the lobster package",
        "data/orders.csv",
        "cargo metadata --manifest-path",
        "bench/Cargo.toml",
        "running /nonexistent/cargo",
        "set CETX_QUANTCUP_FEED to the feed's path",
    ] {
        assert!(stderr.contains(says), "{says}: {stderr}");
    }
}

/// Spaces around fields and header names are not part of them, and the
/// columns may come in any order; the winner is not run where its count
/// of tonnes traded would wrap (it said "0 t, the same" to a tester).
#[test]
fn spaces_and_column_order_are_read_and_a_wrapping_winner_is_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let spaced = written(
        dir.path(),
        "spaced.csv",
        // A line of spaces is blank, as an empty one (a tester's was
        // refused, "1 fields where the header has 4").
        // Before the header too (another's was refused, "the file is
        // empty"). A cancel's trader_id is not read: empty, or out of
        // range, it stops nothing.
        "   \nqty, side , price,trader_id\n 10, Ask,4810,0\n   \n\n10 ,Bid , 4810 ,1\n5,Bid,0,\n5,Ask,0,999\n",
    );
    let output = cetx_stream(&[&spaced, "--repeat", "1"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("cetx: traded 10 t in 1 trades"), "{stdout}");

    // The winner's refusal names the message counting from 1, as the
    // summary does: the second here.
    let high = written(
        dir.path(),
        "high.csv",
        "trader_id,side,price,qty\n1,Ask,4810,5\n2,Bid,70000,3\n",
    );
    let stdout =
        String::from_utf8_lossy(&cetx_stream(&[&high, "--repeat", "1"]).stdout).into_owned();
    assert!(
        stdout.contains("not run: message 2: price 70000 is not a C book price"),
        "{stdout}"
    );

    let huge = u64::MAX / 2 + 1;
    let wrapping = written(
        dir.path(),
        "wrapping.csv",
        &format!("trader_id,side,price,qty\n0,Ask,5000,{huge}\n1,Bid,5000,{huge}\n"),
    );
    let output = cetx_stream(&[&wrapping, "--repeat", "1"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("the QuantCup winner (C): not run: the limit orders' sizes add up to 18446744073709551616 t"),
        "{stdout}"
    );
}

#[test]
fn the_market_widens_the_band_only_as_far_as_the_prices_need() {
    let limit = |price_ticks, quantity_t| Message::Limit {
        trader: 0,
        side: Side::Buy,
        price_ticks,
        quantity_t,
    };
    // 100 to 300 cents around 200: ±50%, exactly.
    let spec = stream::market_for(&[limit(100, 1), limit(300, 150_000)]).unwrap();
    let rules = spec.rules().unwrap();
    assert_eq!(
        (spec.reference_price.to_string(), spec.band_bps),
        ("2.00".into(), 5_000)
    );
    assert_eq!((rules.floor_ticks, rules.ceiling_ticks), (100, 300));
    assert_eq!((spec.max_order_t, spec.max_orders), (150_000, 2));

    // 1 and 2 cents: around 1 cent no band below 100% reaches 2; around
    // 2 cents, ±50% does (an outside tester's case).
    let spec = stream::market_for(&[limit(1, 1), limit(2, 1)]).unwrap();
    assert_eq!(
        (spec.reference_price.to_string(), spec.band_bps),
        ("0.02".into(), 5_000)
    );

    // All at 838,860.80 CNY: ±10% around it needs one level more than a
    // book holds (2^24 + 1); a tick lower, 2^24 - 1 (an outside tester's
    // case: the first refusal stopped it).
    let spec = stream::market_for(&[limit(83_886_080, 1)]).unwrap();
    assert_eq!(
        (spec.reference_price.to_string(), spec.band_bps),
        ("838860.79".into(), 1_000)
    );
    assert!(spec.max_price_levels.unwrap() < 1 << 24);
    // Past it, the refusal says why.
    assert!(matches!(
        stream::market_for(&[limit(90_000_000, 1)]),
        Err(StreamError::Spec(_))
    ));

    assert!(matches!(
        stream::market_for(&[limit(0, 1)]),
        Err(StreamError::Price {
            number: 1,
            price_ticks: 0
        })
    ));
    assert!(matches!(
        stream::market_for(&[Message::Cancel { nth: 1 }]),
        Err(StreamError::NoLimitOrder)
    ));
}

#[test]
fn the_contests_feed_runs_in_its_own_market_and_trades_the_contests_quantity() {
    let feed = quantcup::load().expect("the feed in the lobster crate");
    let spec = stream::market_for(&feed).unwrap();
    assert_eq!(spec.band_bps, 1_000, "±10% holds the feed's prices");
    let outcome = stream::outcome(stream::open(&spec), &quantcup::commands(&feed));
    assert_eq!(outcome.traded_t, REFERENCE_TRADED_T);
    assert_eq!(
        outcome.traded_by_order.iter().sum::<u64>(),
        2 * REFERENCE_TRADED_T
    );
    assert_eq!(outcome.refused, [(RejectReason::UnknownOrder, 17_551)]);
    assert!(outcome.cancelled.is_empty(), "{:?}", outcome.cancelled);
}

/// Past 2^24 limit orders, the most a book holds, a stream gets a note
/// saying cetx refuses what a book without the limit takes (tester 145
/// F1: the README promised room for all of them).
#[test]
fn a_stream_of_more_limit_orders_than_a_book_holds_is_told_so() {
    let stream = [Message::Limit {
        trader: 1,
        side: Side::Buy,
        price_ticks: 100,
        quantity_t: 1,
    }];
    let mut spec = stream::market_for(&stream).expect("a market");
    assert_eq!(stream::room_note(1, &spec), None);
    assert_eq!(spec.max_orders, 1);
    let note = stream::room_note(2, &spec).expect("a note");
    assert!(
        note.contains("2 limit orders, more than a book holds at once (1)"),
        "{note}"
    );
    spec.max_orders = cetx_engine::MAX_ORDERS;
    assert!(stream::room_note(1 << 24, &spec).is_none());
    assert!(stream::room_note((1 << 24) + 1, &spec).is_some());
}
