//! Listing a new instrument over the operators' channel, on a running
//! market and without a restart: the operator lists CEA2026, sets its
//! reference price, brings allowances in to one account and cash to
//! another; two brokers trade it at once, the feed and the metrics show it;
//! and all of it, the listing too, survives a restart with the unchanged
//! config, and settles from the journal. A wrong spec gets its named
//! reject and is never applied.
//!
//! The market runs on a manual clock inside a session, so the calendar's
//! phase (which a resume goes back to) is continuous trading whenever the
//! test runs. Every wait is a read with a timeout; every loop is bounded.

use std::net::SocketAddr;
use std::time::Duration;

use cetx_engine::{Direction, RejectReason};
use cetx_gateway::admin::AdminClient;
use cetx_gateway::client::{Client, NewOrder};
use cetx_gateway::config::{ServerConfig, DEFAULT_TOML};
use cetx_gateway::market_data::FeedClient;
use cetx_gateway::protocol::admin::{AdminAction, AdminReply, Listing, ListingKind};
use cetx_gateway::protocol::feed::FeedMessage;
use cetx_gateway::protocol::{ServerFrame, ServerMessage, Side};
use cetx_gateway::runtime::Clock;
use cetx_tests::operators::{operator, OPERATOR_SECRET};
use cetx_tests::server::TestServer;
use cetx_tests::settle::{settle, settled, Reports};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Longest wait for any one answer.
const WAIT: Duration = Duration::from_secs(10);

/// Wednesday 2 December 2026, 10:00 in Shanghai (02:00 UTC): in the
/// demo calendar's morning session.
const IN_SESSION_NS: i64 = 1_796_176_800_000_000_000;

/// The operators' market with metrics on, where broker 1's resting
/// orders outlive its session (so that one rests across the restart).
fn config() -> ServerConfig {
    let text = format!(
        "{}\n[admin]\nlisten = \"127.0.0.1:0\"\n\n[[operators]]\nid = 9\nname = \"desk\"\nsecret = \"{OPERATOR_SECRET}\"\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
        DEFAULT_TOML.replacen("cancel_on_disconnect = true", "cancel_on_disconnect = false", 1)
    );
    ServerConfig::from_toml_str(&text).expect("a valid config")
}

fn applied(reply: &AdminReply) -> u64 {
    match reply {
        AdminReply::Applied { seq, .. } => *seq,
        other => panic!("not applied: {other:?}"),
    }
}

fn rejected(reply: &AdminReply) -> (u64, u16) {
    match reply {
        AdminReply::Rejected { seq, reason, .. } => (*seq, *reason),
        other => panic!("not rejected: {other:?}"),
    }
}

/// The text of a refusal.
fn refusal_text(reply: &AdminReply) -> &str {
    match reply {
        AdminReply::Rejected { text, .. } => text,
        other => panic!("not rejected: {other:?}"),
    }
}

async fn report(client: &mut Client) -> ServerFrame {
    client
        .next_report(WAIT)
        .await
        .expect("the connection works")
        .expect("a report within the wait")
}

/// A fill's trade id, symbol, price and quantity.
type Fill = (u64, String, i64, u64);

/// Waits for the next fill among `client`'s reports.
async fn next_fill(client: &mut Client) -> Fill {
    for _ in 0..10 {
        if let ServerMessage::Fill {
            trade_id,
            symbol,
            price_ticks,
            quantity_t,
            ..
        } = report(client).await.message
        {
            return (trade_id, symbol.to_string(), price_ticks, quantity_t);
        }
    }
    panic!("no fill among ten reports");
}

fn order(id: u64, account: u32, side: Side, price_ticks: i64, quantity_t: u64) -> NewOrder {
    NewOrder::limit(id, account, "CEA2026", side, price_ticks, quantity_t)
}

async fn act(desk: &mut AdminClient, action: AdminAction) -> AdminReply {
    desk.act(action).await.expect("the channel works")
}

fn symbol_action(
    symbol: &str,
    make: fn(cetx_gateway::protocol::Symbol) -> AdminAction,
) -> AdminAction {
    make(symbol.into())
}

/// The value of `series` on the metrics page, if it is there.
async fn metric(addr: SocketAddr, series: &str) -> Option<u64> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = "GET /metrics HTTP/1.1\r\nHost: cetx\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    let answer = String::from_utf8(answer).expect("the page is text");
    answer.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok())?
    })
}

/// CEA2026's trades on the web view's tape, once it shows `count` of
/// them: read from the page's event stream (`/events`), which sends the
/// whole market at once and again after each change.
async fn web_tape(addr: SocketAddr, count: usize) -> Vec<serde_json::Value> {
    use tokio::io::AsyncBufReadExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = "GET /events HTTP/1.1\r\nHost: cetx\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut lines = tokio::io::BufReader::new(stream).lines();
    let shown = async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the event stream stays open");
            let Some(data) = line.strip_prefix("data: ") else {
                continue;
            };
            let market: serde_json::Value = serde_json::from_str(data).expect("JSON");
            let tape = market["instruments"]
                .as_array()
                .expect("instruments")
                .iter()
                .find(|i| i["symbol"] == "CEA2026")
                .and_then(|i| i["tape"].as_array().cloned())
                .unwrap_or_default();
            if tape.len() >= count {
                return tape;
            }
        }
    };
    tokio::time::timeout(WAIT, shown)
        .await
        .unwrap_or_else(|_| panic!("the web view's tape never showed {count} CEA2026 trades"))
}

/// A feed subscriber to CEA2026's book, after its snapshot and the levels
/// that follow it.
async fn feed(addr: SocketAddr) -> FeedClient {
    let mut feed = FeedClient::connect(addr).await.expect("the feed connects");
    feed.subscribe(5, &["CEA2026"])
        .await
        .expect("the subscription is sent");
    let FeedMessage::Snapshot {
        bid_levels,
        ask_levels,
        ..
    } = next(&mut feed).await
    else {
        panic!("no snapshot of CEA2026 first");
    };
    for _ in 0..bid_levels + ask_levels {
        assert!(matches!(next(&mut feed).await, FeedMessage::Level { .. }));
    }
    feed
}

/// The next trade on the feed: its id, price and quantity.
async fn trade_on_feed(feed: &mut FeedClient) -> (u64, i64, u64) {
    for _ in 0..20 {
        if let FeedMessage::Trade {
            trade_id,
            price_ticks,
            quantity_t,
            ..
        } = next(feed).await
        {
            return (trade_id, price_ticks, quantity_t);
        }
    }
    panic!("no trade among twenty messages");
}

/// The feed's next message, within the wait.
async fn next(feed: &mut FeedClient) -> FeedMessage {
    tokio::time::timeout(WAIT, feed.next())
        .await
        .expect("a message in time")
        .expect("the feed works")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vintage_listed_on_a_running_market_trades_at_once_and_survives_a_restart() {
    let clock = Clock::manual(IN_SESSION_NS);
    let server = TestServer::start_at(config(), tempfile::tempdir().unwrap(), clock).await;
    let mut desk = operator(&server).await;
    let mut seller = Client::connect(server.addr, 1, "demo-secret-1", 0)
        .await
        .unwrap();
    let mut buyer = Client::connect(server.addr, 2, "demo-secret-2", 0)
        .await
        .unwrap();

    // Not listed yet: brokers and operators are told so.
    seller
        .submit(order(1, 1001, Side::Sell, 96_50, 100))
        .await
        .unwrap();
    assert!(matches!(
        report(&mut seller).await.message,
        ServerMessage::OrderRejected { reason, .. } if reason == RejectReason::UnknownSymbol.code()
    ));
    let halt = symbol_action("CEA2026", |symbol| AdminAction::Halt { symbol });
    assert_eq!(
        rejected(&act(&mut desk, halt.clone()).await),
        (0, RejectReason::UnknownSymbol.code())
    );

    // A wrong spec gets its named reject from the engine and changes
    // nothing: a symbol that is listed, a zero tick, a band of 100%, a
    // symbol with a space, a vintage listed already, a symbol without its
    // vintage. The text says which rule a 109 breaks.
    let list = |listing: Listing| AdminAction::ListInstrument(Box::new(listing));
    let cea2026 = Listing::cea(2026, 95_00);
    let wrong = [
        (
            Listing {
                symbol: "CEA2025".into(),
                ..cea2026.clone()
            },
            RejectReason::SymbolExists,
            "SymbolExists",
        ),
        (
            Listing {
                step_ticks: 0,
                ..cea2026.clone()
            },
            RejectReason::InvalidInstrumentSpec,
            "InvalidInstrumentSpec: tick 0.00 must be a positive multiple of 0.01 CNY, at most 2^63 - 1 fen",
        ),
        (
            Listing {
                band_bps: 10_000,
                ..cea2026.clone()
            },
            RejectReason::InvalidInstrumentSpec,
            "InvalidInstrumentSpec: band_bps 10000 must be from 1 to 9999 (below 100%)",
        ),
        (
            Listing {
                symbol: "CEA 2026".into(),
                ..cea2026.clone()
            },
            RejectReason::InvalidInstrumentSpec,
            "InvalidInstrumentSpec: a symbol must be 1 to 16 printable ASCII bytes, not \"CEA 2026\"",
        ),
        (
            Listing {
                symbol: "CEA2025B".into(),
                kind: ListingKind::Cea { vintage: 2025 },
                ..cea2026.clone()
            },
            RejectReason::InvalidInstrumentSpec,
            "InvalidInstrumentSpec: vintage 2025 is listed already, as CEA2025",
        ),
        (
            Listing {
                symbol: "CEA2062".into(),
                ..cea2026.clone()
            },
            RejectReason::InvalidInstrumentSpec,
            "InvalidInstrumentSpec: a CEA's symbol must hold its vintage year (2026), as CEA2026 does",
        ),
    ];
    // A symbol of control characters is quoted escaped, cut at a whole
    // escape: the operator's reply stays whole, under the protocol's 128
    // bytes (every rule's own words fit: `SpecError`'s unit test). It was
    // cut at 128 bytes in the middle of an escape.
    let reply = act(
        &mut desk,
        list(Listing {
            symbol: "\u{1}".repeat(16).into(),
            ..cea2026.clone()
        }),
    )
    .await;
    let text = refusal_text(&reply);
    assert_eq!(
        text,
        format!(
            "InvalidInstrumentSpec: a symbol must be 1 to 16 printable ASCII bytes, not \"{}…\"",
            "\\u{1}".repeat(8)
        )
    );
    assert!(text.len() <= 128, "{text}");
    for (listing, reason, text) in wrong {
        let reply = act(&mut desk, list(listing.clone())).await;
        let (seq, code) = rejected(&reply);
        assert!(seq > 0, "the engine refused {listing:?}");
        assert_eq!(code, reason.code(), "{listing:?}");
        assert_eq!(refusal_text(&reply), text, "{listing:?}");
    }
    assert_eq!(
        rejected(&act(&mut desk, halt.clone()).await),
        (0, RejectReason::UnknownSymbol.code()),
        "no wrong spec was listed"
    );

    // Listed: it joins the session at once, so its reference price is
    // locked while it trades; halted, the price can be set.
    applied(&act(&mut desk, list(cea2026.clone())).await);
    assert_eq!(
        rejected(&act(&mut desk, list(cea2026)).await).1,
        RejectReason::SymbolExists.code(),
        "listed once"
    );
    let reference = |price_ticks| AdminAction::SetReferencePrice {
        symbol: "CEA2026".into(),
        price_ticks,
    };
    assert_eq!(
        rejected(&act(&mut desk, reference(96_00)).await).1,
        RejectReason::ReferencePriceLocked.code()
    );
    applied(&act(&mut desk, halt).await);
    applied(&act(&mut desk, reference(96_00)).await);
    let resume = symbol_action("CEA2026", |symbol| AdminAction::Resume { symbol });
    applied(&act(&mut desk, resume).await);

    // Allowances in to the seller's account, cash to the buyer's.
    let transfer = |reference: &str, account, symbol: Option<&str>, amount| AdminAction::Transfer {
        reference: reference.into(),
        account,
        symbol: symbol.map(Into::into),
        direction: Direction::In,
        amount,
    };
    applied(
        &act(
            &mut desk,
            transfer("REG-2026-1", 1001, Some("CEA2026"), 1_000),
        )
        .await,
    );
    applied(&act(&mut desk, transfer("BANK-2026-1", 2001, None, 500_000_00)).await);

    // The feed follows it, at its new band (96.00 ± 10%).
    let feed_addr = server.feed.expect("the demo config has a feed");
    let mut watcher = feed(feed_addr).await;
    let view = &watcher.instrument("CEA2026").expect("followed").view;
    assert_eq!(
        (view.reference_ticks, view.floor_ticks, view.ceiling_ticks),
        (96_00, 86_40, 105_60)
    );

    // Two brokers trade it at once; the band is the new reference's.
    // A price outside it is refused, and the refusal quotes the band.
    seller
        .submit(order(2, 1001, Side::Sell, 106_00, 100))
        .await
        .unwrap();
    let outside = report(&mut seller).await;
    assert!(
        matches!(
            &outside.message,
            ServerMessage::OrderRejected { reason, text, .. }
                if *reason == RejectReason::PriceOutsideBand.code()
                    && text == "price outside band: 86.40 to 105.60"
        ),
        "{outside:?}"
    );
    seller
        .submit(order(3, 1001, Side::Sell, 96_50, 400))
        .await
        .unwrap();
    assert!(matches!(
        report(&mut seller).await.message,
        ServerMessage::OrderAccepted { .. }
    ));
    buyer
        .submit(order(1, 2001, Side::Buy, 96_50, 100))
        .await
        .unwrap();
    let fill = next_fill(&mut buyer).await;
    assert_eq!(next_fill(&mut seller).await, fill, "one trade, both sides");
    assert_eq!((&fill.1[..], fill.2, fill.3), ("CEA2026", 96_50, 100));
    assert_eq!(
        trade_on_feed(&mut watcher).await,
        (fill.0, 96_50, 100),
        "the feed shows the trade"
    );
    let tape = web_tape(server.web.expect("the demo config serves the page"), 1).await;
    assert_eq!(tape[0]["quantity"], 100, "{tape:?}");
    let metrics = server.metrics.expect("metrics are on");
    assert_eq!(
        metric(metrics, "cetx_trades_total{instrument=\"CEA2026\"}").await,
        Some(1)
    );
    assert_eq!(
        metric(metrics, "cetx_book_orders{instrument=\"CEA2026\"}").await,
        Some(1),
        "the rest of the sell order rests"
    );
    let resume_from = buyer.last_seq();
    drop((seller, buyer, desk, watcher));
    let data = server.stop().await;

    // A restart with the unchanged config (which does not name CEA2026):
    // the journal's listing stands, with its book, band and holdings.
    let server = TestServer::start_at(config(), data, Clock::manual(IN_SESSION_NS)).await;
    let mut buyer = Client::connect(server.addr, 2, "demo-secret-2", resume_from)
        .await
        .unwrap();
    let mut watcher = feed(server.feed.unwrap()).await;
    let view = &watcher.instrument("CEA2026").expect("followed").view;
    assert_eq!(view.reference_ticks, 96_00, "the band survives");
    // The refusal read back from the journal (memory holds no report
    // after a restart) is the one sent live, its band and all.
    let mut seller = Client::connect(server.addr, 1, "demo-secret-1", outside.seq - 1)
        .await
        .unwrap();
    assert_eq!(report(&mut seller).await, outside);
    assert_eq!(
        view.asks.get(&96_50).map(|level| level.quantity_t),
        Some(300),
        "the resting sell survives: {view:?}"
    );
    buyer
        .submit(order(2, 2001, Side::Buy, 96_50, 300))
        .await
        .unwrap();
    let second = next_fill(&mut buyer).await;
    assert_eq!((&second.1[..], second.2, second.3), ("CEA2026", 96_50, 300));
    assert_eq!(
        trade_on_feed(&mut watcher).await,
        (second.0, 96_50, 300),
        "the feed goes on after the restart"
    );
    let mut desk = operator(&server).await;
    assert_eq!(
        rejected(
            &act(
                &mut desk,
                transfer("REG-2026-1", 1001, Some("CEA2026"), 1_000)
            )
            .await
        )
        .1,
        RejectReason::DuplicateReference.code(),
        "the transfer is remembered"
    );

    // Its rules are revised on the running market, only while it does not
    // trade: a ±5% band.
    let narrower = Listing {
        band_bps: 500,
        ..Listing::cea(2026, 95_00)
    };
    let revise = |listing: Listing| AdminAction::ReviseInstrument(Box::new(listing));
    assert_eq!(
        rejected(&act(&mut desk, revise(narrower.clone())).await).1,
        RejectReason::InstrumentBusy.code(),
        "not while it trades"
    );
    let as_ccer = Listing {
        kind: ListingKind::Ccer,
        ..narrower.clone()
    };
    applied(
        &act(
            &mut desk,
            symbol_action("CEA2026", |symbol| AdminAction::Halt { symbol }),
        )
        .await,
    );
    let reply = act(&mut desk, revise(as_ccer)).await;
    assert_eq!(
        rejected(&reply).1,
        RejectReason::InvalidInstrumentSpec.code(),
        "its kind stays"
    );
    assert_eq!(
        refusal_text(&reply),
        "InvalidInstrumentSpec: a revision of CEA2026 must keep its symbol and kind"
    );
    applied(&act(&mut desk, revise(narrower)).await);
    applied(
        &act(
            &mut desk,
            symbol_action("CEA2026", |symbol| AdminAction::Resume { symbol }),
        )
        .await,
    );
    buyer
        .submit(order(3, 2001, Side::Buy, 101_00, 1))
        .await
        .unwrap();
    assert!(matches!(
        report(&mut buyer).await.message,
        ServerMessage::OrderRejected { reason, .. } if reason == RejectReason::PriceOutsideBand.code()
    ));
    drop((buyer, desk, watcher));
    let data = server.stop().await;

    // The journal settles alone and against the config that lacks the
    // listing: both trades, and the seller's allowances moved.
    let reports = settled(data.path());
    assert_eq!(settle(data.path(), Some(&config())), Ok(reports.clone()));
    let Reports {
        clearing, accounts, ..
    } = reports;
    let rows: Vec<(u64, String, u64)> = clearing
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (
                f[3].parse().unwrap(),
                f[4].to_owned(),
                f[9].parse().unwrap(),
            )
        })
        .filter(|(_, symbol, _)| symbol == "CEA2026")
        .collect();
    assert_eq!(
        rows,
        [
            (fill.0, "CEA2026".to_owned(), 100),
            (second.0, "CEA2026".to_owned(), 300)
        ],
        "{clearing}"
    );
    // account, broker, instrument, bought, sold, net, open and close
    // holdings: 1,000 t came in from the registry, 400 t were sold.
    let seller: Vec<&str> = accounts
        .lines()
        .find(|l| l.starts_with("1001,1,CEA2026,"))
        .unwrap_or_else(|| panic!("no CEA2026 line of 1001 in {accounts}"))
        .split(',')
        .collect();
    assert_eq!(
        (seller[3], seller[4], seller[5], seller[6], seller[7]),
        ("0", "400", "38600.00", "0", "600"),
        "{accounts}"
    );
}
