//! `cetx watch SYMBOL…`: the market as a person watches it, live in the
//! terminal, from the market-data feed (`docs/MARKET_DATA.md`).
//!
//! It connects with [`FeedClient`], subscribes, waits until each
//! instrument's snapshot and its levels arrived, then either prints one
//! plain-text frame and exits (`--once`, for scripts and tests) or takes
//! over the terminal: it reads the feed as fast as it comes and redraws
//! at most [`FRAME_INTERVAL`] apart ([`crate::screen`] draws). `q`, Esc
//! or Ctrl-C quits; the terminal is restored on every way out, a panic
//! included (ratatui's panic hook). A live view whose connection is lost
//! (the server stopped or restarted, or closed it as too slow) says so and
//! reconnects, as `docs/MARKET_DATA.md` asks of a client, until it quits.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, IsTerminal};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use cetx_engine::RejectReason;
use cetx_gateway::codec::DecodeError;
use cetx_gateway::exchange_time;
use cetx_gateway::market_data::client::Followed;
use cetx_gateway::market_data::{FeedClient, FeedError};
use cetx_gateway::protocol::feed::{FeedMessage, MAX_SUBSCRIBE_SYMBOLS};
use cetx_gateway::runtime::Clock;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::DefaultTerminal;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::screen::{self, Instrument, Screen, TradeRow, TRADES_SHOWN};

/// Shortest time between two frames: at most 20 a second, however fast
/// the feed comes; messages in between are taken without drawing.
const FRAME_INTERVAL: Duration = Duration::from_millis(50);

/// Width of a `--once` frame: wide enough for the longest line the frame
/// draws (an auction whose window spans days, `auction 7 200,000 t, 82.00
/// to 98.00, uniform, bids 2026-12-01 13:00:00 to 2026-12-02 13:45:00`,
/// cut at 80 columns before 2026-12-07), since a script cannot widen it.
pub(crate) const ONCE_WIDTH: u16 = 132;

/// How long the keyboard thread waits for a key before it looks whether
/// it should stop.
const KEY_POLL: Duration = Duration::from_millis(100);

/// What the live view says about its keys.
const HINT: &str = "q quits";

/// The first pause before connecting again after the connection was
/// lost; each failed try doubles it, up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(250);

/// The longest pause between two tries to connect again.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// `cetx watch`'s arguments.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// The instruments, e.g. CEA2025.
    #[arg(required = true, value_name = "SYMBOL")]
    symbols: Vec<String>,
    /// The market-data feed (`cetx serve` prints `market data on ADDR`).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7879")]
    feed: SocketAddr,
    /// Price levels shown per side (0: the whole book).
    #[arg(long, value_name = "N", default_value_t = 10)]
    depth: u16,
    /// Print one frame as plain text once the snapshots arrived, and exit;
    /// needs no terminal.
    #[arg(long)]
    once: bool,
    /// Seconds to wait for the connection and the snapshots (1 to 86,400).
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: u64,
    /// Exchange time's offset from UTC in seconds, for the times shown:
    /// the server's `calendar.utc_offset_s` (the feed does not carry it).
    #[arg(long, value_name = "SECONDS", default_value_t = screen::EXCHANGE_UTC_OFFSET_S, allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(-i64::from(cetx_gateway::config::MAX_UTC_OFFSET_S)..=i64::from(cetx_gateway::config::MAX_UTC_OFFSET_S)))]
    utc_offset_s: i32,
}

/// Runs `cetx watch`.
///
/// # Errors
/// The feed cannot be reached, refuses the subscription (an unknown
/// symbol), sends no snapshot in time or closes; the terminal fails.
pub async fn run(args: WatchArgs) -> Result<()> {
    let mut symbols: Vec<String> = Vec::new();
    for symbol in args.symbols {
        if !symbols.contains(&symbol) {
            symbols.push(symbol);
        }
    }
    if symbols.len() > MAX_SUBSCRIBE_SYMBOLS {
        bail!("at most {MAX_SUBSCRIBE_SYMBOLS} symbols can be watched at once");
    }
    if !args.once && !io::stdout().is_terminal() {
        bail!("standard output is not a terminal: run `cetx watch` in one, or pass --once for one plain-text frame");
    }
    let wait = Duration::from_secs(args.timeout);
    let mut watch = Watch::start(args.feed, args.depth, args.utc_offset_s, symbols, wait).await?;
    if args.once {
        tokio::time::timeout(wait, watch.until_snapshots_end())
            .await
            .with_context(|| {
                format!(
                    "the feed at {} did not finish its snapshots within {wait:?}",
                    watch.feed
                )
            })?
            .map_err(plain)
            .with_context(|| format!("reading the snapshots from the feed at {}", watch.feed))?;
        print!("{}", watch.once());
        return Ok(());
    }
    let mut signals = Signals::new().context("listening for SIGTERM, SIGHUP and SIGINT")?;
    // Declared before the terminal, so it restores the terminal after
    // everything else is dropped, on an error too.
    let _restore = RestoreTerminal;
    let mut terminal = ratatui::try_init().context("setting up the terminal")?;
    watch.live(&mut terminal, &mut signals).await
}

/// The feed, followed, and what the screen needs beyond the client's copy.
struct Watch {
    client: FeedClient,
    addr: SocketAddr,
    feed: String,
    depth: u16,
    utc_offset_s: i32,
    symbols: Vec<String>,
    seen: Seen,
    /// Since the connection was lost: why, and the tries to connect again.
    lost: Option<Lost>,
}

/// A lost connection: what the screen says, and the task connecting
/// again (stopped when this is dropped).
struct Lost {
    status: String,
    retry: JoinHandle<FeedClient>,
}

impl Drop for Lost {
    fn drop(&mut self) {
        self.retry.abort();
    }
}

/// What [`Watch::step`] saw.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// A message; a heartbeat changes nothing shown.
    Message { shown: bool },
    /// The connection was lost: it is being made again.
    Lost,
    /// Connected and subscribed again: the snapshots follow.
    Reconnected,
}

impl Watch {
    /// Connects, subscribes and reads until every instrument is shown.
    async fn start(
        addr: SocketAddr,
        depth: u16,
        utc_offset_s: i32,
        symbols: Vec<String>,
        wait: Duration,
    ) -> Result<Self> {
        let client = tokio::time::timeout(wait, FeedClient::connect(addr))
            .await
            .with_context(|| format!("no connection to the feed at {addr} within {wait:?}"))?
            .map_err(plain)
            .with_context(|| format!("connecting to the feed at {addr}"))?;
        let mut watch = Self {
            client,
            addr,
            feed: addr.to_string(),
            depth,
            utc_offset_s,
            symbols,
            seen: Seen::default(),
            lost: None,
        };
        let names = watch.symbols.join(", ");
        let refs: Vec<&str> = watch.symbols.iter().map(String::as_str).collect();
        watch
            .client
            .subscribe(depth, &refs)
            .await
            .map_err(plain)
            .with_context(|| format!("subscribing to {names} on the feed at {addr}"))?;
        tokio::time::timeout(wait, watch.until_shown())
            .await
            .with_context(|| {
                format!("no snapshot of {names} from the feed at {addr} within {wait:?}")
            })?
            .map_err(plain)
            .with_context(|| format!("subscribing to {names} on the feed at {addr}"))?;
        Ok(watch)
    }

    async fn until_shown(&mut self) -> Result<(), FeedError> {
        while !self.shown() {
            let message = self.client.next().await?;
            self.seen.take(&message);
        }
        Ok(())
    }

    /// Reads the rest of the snapshots: the block offers, auctions and
    /// auction results that follow the levels. No message marks their end
    /// (MARKET_DATA.md), but the feed answers requests in order, after
    /// what it sent before: a `Subscribe` of a symbol no instrument can
    /// have (an empty one) is answered `Rejected` 410 once everything the
    /// first `Subscribe` brought is out, and subscribes nothing.
    async fn until_snapshots_end(&mut self) -> Result<(), FeedError> {
        self.client.subscribe(self.depth, &[""]).await?;
        loop {
            match self.client.next().await {
                Ok(message) => self.seen.take(&message),
                Err(FeedError::Rejected { reason, .. })
                    if reason == RejectReason::UnknownSymbol.code() =>
                {
                    return Ok(());
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Whether every instrument's snapshot and the levels it announced
    /// arrived.
    fn shown(&self) -> bool {
        self.symbols.iter().all(|symbol| {
            self.followed(symbol)
                .is_some_and(|(id, _)| self.seen.levels_due.get(&id) == Some(&0))
        })
    }

    fn followed(&self, symbol: &str) -> Option<(u16, &Followed)> {
        self.client
            .instruments()
            .iter()
            .find(|(_, f)| f.view.symbol == symbol)
            .map(|(&id, f)| (id, f))
    }

    /// What to draw: for a person at the keys (`live`), or for `--once`.
    fn screen(&self, live: bool) -> Screen<'_> {
        let instruments = self
            .symbols
            .iter()
            .map(|symbol| {
                let followed = self.followed(symbol);
                Instrument {
                    symbol,
                    followed: followed.map(|(_, f)| f),
                    trades: followed
                        .and_then(|(id, _)| self.seen.tapes.get(&id))
                        .map(|tape| tape.iter().copied().collect())
                        .unwrap_or_default(),
                }
            })
            .collect();
        Screen {
            feed: &self.feed,
            depth: self.depth,
            utc_offset_s: self.utc_offset_s,
            hint: live.then_some(HINT),
            status: self.lost.as_ref().map(|lost| lost.status.as_str()),
            fit_content: !live,
            instruments,
        }
    }

    /// One frame as plain text.
    fn once(&self) -> String {
        let screen = self.screen(false);
        let area = Rect::new(0, 0, ONCE_WIDTH, screen.height());
        let mut buf = Buffer::empty(area);
        screen::render(&screen, area, &mut buf);
        screen::text(&buf)
    }

    /// Follows the feed and redraws until a key or a signal says stop.
    async fn live(mut self, terminal: &mut DefaultTerminal, signals: &mut Signals) -> Result<()> {
        let mut keys = Keys::spawn();
        let mut dirty = true;
        let mut frame_due = Instant::now();
        loop {
            // Keys first, then a due frame, then the feed: a busy feed
            // neither delays `q` nor starves the screen. `FeedClient::next`
            // is cancel-safe, so losing the race loses no message.
            tokio::select! {
                biased;
                input = keys.inputs.recv() => match input {
                    Some(Input::Redraw) => dirty = true,
                    Some(Input::Quit) | None => return Ok(()),
                    Some(Input::Failed(error)) => return Err(error).context("reading the keyboard"),
                },
                () = signals.recv() => return Ok(()),
                () = tokio::time::sleep_until(frame_due), if dirty => {
                    let screen = self.screen(true);
                    terminal
                        .draw(|frame| screen::render(&screen, frame.area(), frame.buffer_mut()))
                        .context("drawing to the terminal")?;
                    dirty = false;
                    frame_due = Instant::now() + FRAME_INTERVAL;
                }
                step = self.step() => {
                    dirty |= step? != Step::Message { shown: false };
                }
            }
        }
    }

    /// Reads the next message, or, while the connection is lost, waits
    /// until it is made again. Cancel-safe, as [`FeedClient::next`].
    ///
    /// # Errors
    /// The feed refused the subscription (an unknown symbol: the server
    /// now running has another market), or sent what cannot be read.
    async fn step(&mut self) -> Result<Step> {
        if let Some(lost) = &mut self.lost {
            let client = (&mut lost.retry)
                .await
                .context("connecting to the feed again")?;
            self.client = client;
            // A restarted server may number its instruments otherwise, and
            // the trades in between are not sent: the tape starts again.
            self.seen = Seen::default();
            self.lost = None;
            return Ok(Step::Reconnected);
        }
        match self.client.next().await {
            Ok(message) => {
                self.seen.take(&message);
                let shown = !matches!(message, FeedMessage::Heartbeat);
                Ok(Step::Message { shown })
            }
            Err(error) if lost(&error) => {
                let now = exchange_time::clock(Clock::system().now_ns(), self.utc_offset_s);
                self.lost = Some(Lost {
                    status: format!(
                        "feed lost at {now} ({error}): reconnecting, the view is as it was"
                    ),
                    retry: tokio::spawn(reconnect(self.addr, self.depth, self.symbols.clone())),
                });
                Ok(Step::Lost)
            }
            Err(error) => {
                Err(plain(error)).with_context(|| format!("following the feed at {}", self.feed))
            }
        }
    }
}

/// Whether the feed was lost, rather than refused: the connection closed
/// or broke (a server stopped, restarted or killed), or the server closed
/// it as too slow (408) or full (412), each of which a later connection
/// may not be.
fn lost(error: &FeedError) -> bool {
    match error {
        FeedError::Closed
        | FeedError::Io(_)
        | FeedError::Decode(DecodeError::UnexpectedEof { .. } | DecodeError::Io(_)) => true,
        FeedError::Rejected { reason, .. } => matches!(*reason, 408 | 412),
        FeedError::Encode(_) | FeedError::Decode(_) | FeedError::Unknown(_) => false,
    }
}

/// Connects and subscribes again, pausing before each try, longer after
/// each that fails, until one succeeds.
async fn reconnect(addr: SocketAddr, depth: u16, symbols: Vec<String>) -> FeedClient {
    let refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
    let mut pause = RETRY_FIRST;
    loop {
        tokio::time::sleep(pause).await;
        let subscribed = async {
            let mut client = FeedClient::connect(addr).await?;
            client.subscribe(depth, &refs).await?;
            Ok::<_, FeedError>(client)
        };
        if let Ok(Ok(client)) = tokio::time::timeout(RETRY_MAX, subscribed).await {
            return client;
        }
        pause = (pause * 2).min(RETRY_MAX);
    }
}

/// A feed error as its message alone: the message already names its
/// cause, which anyhow's chain would print a second time.
fn plain(error: FeedError) -> anyhow::Error {
    anyhow!("{error}")
}

/// What the feed showed beyond the client's copy of each instrument: its
/// trades, and the levels its last snapshot announced but did not send
/// yet.
#[derive(Debug, Default)]
struct Seen {
    /// Up to [`TRADES_SHOWN`] trades per instrument id, newest first.
    tapes: BTreeMap<u16, VecDeque<TradeRow>>,
    /// `Level` messages still to come after each instrument's snapshot.
    levels_due: BTreeMap<u16, u32>,
}

impl Seen {
    fn take(&mut self, message: &FeedMessage) {
        match *message {
            FeedMessage::Snapshot {
                instrument,
                bid_levels,
                ask_levels,
                ..
            } => {
                self.levels_due
                    .insert(instrument, bid_levels.saturating_add(ask_levels));
            }
            FeedMessage::Level { instrument, .. } => {
                if let Some(due) = self.levels_due.get_mut(&instrument) {
                    *due = due.saturating_sub(1);
                }
            }
            FeedMessage::Trade {
                instrument,
                price_ticks,
                quantity_t,
                aggressor,
                time_ns,
                ..
            } => {
                let tape = self.tapes.entry(instrument).or_default();
                tape.push_front(TradeRow {
                    time_ns,
                    price_ticks,
                    quantity_t,
                    aggressor,
                });
                tape.truncate(TRADES_SHOWN);
            }
            _ => {}
        }
    }
}

/// Restores the terminal (raw mode off, the main screen back) when
/// dropped.
struct RestoreTerminal;

impl Drop for RestoreTerminal {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// What the keyboard thread says.
#[derive(Debug)]
enum Input {
    Quit,
    Redraw,
    Failed(io::Error),
}

/// The keyboard, read on a thread of its own (crossterm's reads block),
/// which stops within [`KEY_POLL`] of this being dropped.
struct Keys {
    inputs: mpsc::Receiver<Input>,
    stop: Arc<AtomicBool>,
}

impl Keys {
    fn spawn() -> Self {
        let (sender, inputs) = mpsc::channel(16);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let Some(input) = read_input() else {
                    continue;
                };
                let last = !matches!(input, Input::Redraw);
                if sender.blocking_send(input).is_err() || last {
                    break;
                }
            }
        });
        Self { inputs, stop }
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The next input that matters, or `None` after [`KEY_POLL`] without one.
fn read_input() -> Option<Input> {
    match event::poll(KEY_POLL) {
        Ok(false) => None,
        Ok(true) => match event::read() {
            Ok(Event::Key(key)) if quits(&key) => Some(Input::Quit),
            Ok(Event::Resize(..)) => Some(Input::Redraw),
            Ok(_) => None,
            Err(error) => Some(Input::Failed(error)),
        },
        Err(error) => Some(Input::Failed(error)),
    }
}

/// `q`, Esc or Ctrl-C (in raw mode Ctrl-C is a key, not SIGINT).
fn quits(key: &KeyEvent) -> bool {
    key.kind == KeyEventKind::Press
        && match key.code {
            KeyCode::Char('q' | 'Q') | KeyCode::Esc => true,
            KeyCode::Char('c') => key.modifiers.contains(KeyModifiers::CONTROL),
            _ => false,
        }
}

/// SIGTERM, SIGHUP (the ssh session went away) and SIGINT: each ends the
/// view as `q` does, so the terminal is restored.
struct Signals {
    terminate: Signal,
    hangup: Signal,
    interrupt: Signal,
}

impl Signals {
    fn new() -> io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.hangup.recv() => {}
            _ = self.interrupt.recv() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cetx_gateway::codec::FeedServerCodec;
    use cetx_gateway::protocol::feed::{FeedRequest, MAX_FEED_FRAME};
    use cetx_gateway::protocol::{Side, TradingPhase};
    use tokio_util::codec::Framed;

    fn snapshot(instrument: u16, bid_levels: u32, ask_levels: u32) -> FeedMessage {
        FeedMessage::Snapshot {
            instrument,
            symbol: "CEA2025".into(),
            seq: 1,
            phase: TradingPhase::Continuous,
            reference_ticks: 85_00,
            floor_ticks: 76_50,
            ceiling_ticks: 93_50,
            step_ticks: 1,
            day: Default::default(),
            bid_levels,
            ask_levels,
        }
    }

    fn level(instrument: u16) -> FeedMessage {
        FeedMessage::Level {
            instrument,
            seq: 2,
            side: Side::Buy,
            price_ticks: 84_90,
            quantity_t: 40,
            orders: 1,
        }
    }

    fn trade(instrument: u16, trade_id: u64) -> FeedMessage {
        FeedMessage::Trade {
            instrument,
            seq: 3,
            trade_id,
            price_ticks: 85_00,
            quantity_t: trade_id,
            aggressor: Side::Sell,
            time_ns: 0,
        }
    }

    /// A feed server of one connection at a time on `listener`: takes the
    /// `Subscribe`, then sends `messages`.
    async fn serve_one(
        listener: &tokio::net::TcpListener,
        messages: &[FeedMessage],
    ) -> Framed<tokio::net::TcpStream, FeedServerCodec> {
        use futures_util::{SinkExt, StreamExt};
        let (stream, _) = listener.accept().await.unwrap();
        let mut codec = FeedServerCodec::new(MAX_FEED_FRAME, MAX_FEED_FRAME);
        codec.set_logged_in(true);
        let mut conn = Framed::new(stream, codec);
        let subscribe = conn.next().await.unwrap().unwrap();
        assert!(matches!(
            subscribe,
            FeedRequest::Subscribe { depth: 10, .. }
        ));
        for message in messages {
            conn.send(message).await.unwrap();
        }
        conn
    }

    fn reference(watch: &Watch) -> Option<i64> {
        watch
            .followed("CEA2025")
            .map(|(_, f)| f.view.reference_ticks)
    }

    /// The server goes away (a stop, a restart): the live view says so,
    /// keeps what it showed, and connects and subscribes again, taking the
    /// new server's snapshot; one that refuses the symbol ends it.
    #[tokio::test]
    async fn a_lost_feed_is_followed_again_once_a_server_takes_the_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let first = snapshot(1, 0, 0);
        let (watch, conn) = tokio::join!(
            Watch::start(addr, 10, 0, vec!["CEA2025".into()], Duration::from_secs(10)),
            serve_one(&listener, std::slice::from_ref(&first)),
        );
        let mut watch = watch.unwrap();
        watch.seen.take(&trade(1, 7));
        assert_eq!(reference(&watch), Some(85_00));

        drop(conn);
        assert_eq!(watch.step().await.unwrap(), Step::Lost);
        let status = watch.screen(true).status.unwrap().to_owned();
        assert!(
            status.contains("the feed server closed the connection"),
            "{status}"
        );
        assert_eq!(reference(&watch), Some(85_00), "the view is as it was");

        // The restarted server's market moved on.
        let mut second = first;
        if let FeedMessage::Snapshot {
            reference_ticks, ..
        } = &mut second
        {
            *reference_ticks += 1_00;
        }
        let (step, conn) = tokio::join!(
            watch.step(),
            serve_one(&listener, std::slice::from_ref(&second))
        );
        assert_eq!(step.unwrap(), Step::Reconnected);
        assert!(watch.screen(true).status.is_none());
        assert!(watch.seen.tapes.is_empty(), "the tape starts again");
        assert_eq!(watch.step().await.unwrap(), Step::Message { shown: true });
        assert_eq!(reference(&watch), Some(86_00));

        // A server of another market, without the symbol.
        drop(conn);
        assert_eq!(watch.step().await.unwrap(), Step::Lost);
        let refused = FeedMessage::Rejected {
            reason: 410,
            text: "unknown symbol".into(),
        };
        let (step, _conn) = tokio::join!(
            async {
                assert_eq!(watch.step().await.unwrap(), Step::Reconnected);
                watch.step().await
            },
            serve_one(&listener, std::slice::from_ref(&refused)),
        );
        let error = format!("{:#}", step.unwrap_err());
        assert!(error.contains("refused: 410"), "{error}");
    }

    #[test]
    fn a_snapshot_is_shown_once_the_levels_it_announced_came() {
        let mut seen = Seen::default();
        seen.take(&snapshot(1, 1, 1));
        assert_eq!(seen.levels_due[&1], 2);
        seen.take(&level(1));
        seen.take(&level(0));
        assert_eq!(seen.levels_due[&1], 1);
        seen.take(&level(1));
        assert_eq!(seen.levels_due[&1], 0);
        seen.take(&level(1));
        assert_eq!(seen.levels_due[&1], 0, "updates after the snapshot");
        seen.take(&snapshot(1, 0, 3));
        assert_eq!(seen.levels_due[&1], 3, "a fresh snapshot starts over");
    }

    #[test]
    fn the_tape_keeps_the_newest_trades_first_and_no_more() {
        let mut seen = Seen::default();
        for trade_id in 1..=40 {
            seen.take(&trade(2, trade_id));
        }
        seen.take(&trade(3, 99));
        let kept: Vec<u64> = seen.tapes[&2].iter().map(|t| t.quantity_t).collect();
        assert_eq!(kept, (26..=40).rev().collect::<Vec<u64>>());
        assert_eq!(seen.tapes[&3].len(), 1);
    }

    #[test]
    fn q_esc_and_ctrl_c_quit_and_other_keys_do_not() {
        let key = |code, modifiers| KeyEvent::new(code, modifiers);
        assert!(quits(&key(KeyCode::Char('q'), KeyModifiers::NONE)));
        assert!(quits(&key(KeyCode::Esc, KeyModifiers::NONE)));
        assert!(quits(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)));
        assert!(!quits(&key(KeyCode::Char('c'), KeyModifiers::NONE)));
        assert!(!quits(&key(KeyCode::Char('x'), KeyModifiers::NONE)));
    }
}
