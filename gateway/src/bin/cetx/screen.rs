//! What `cetx watch` shows, drawn from a plain [`Screen`]: per instrument
//! its phase and band, the day's figures, its auctions and public block
//! offers, a depth ladder (asks above bids) and the trades seen since
//! watching began, with the feed's
//! sequence number and gap count. [`render`] draws into a ratatui
//! [`Buffer`], so the live view, `--once` and the tests share one drawing.
//!
//! Prices are ticks of 0.01 CNY, shown as CNY with 2 decimals; times are
//! exchange time (UTC+8 unless `--utc-offset-s` says otherwise). Colours follow the Chinese convention: red above
//! the reference price and for trades a buyer started, green below it and
//! for trades a seller started. Plain text (`--once`) has the same
//! characters without the colours.

use cetx_engine::{Phase, Pricing};
use cetx_gateway::exchange_time::{clock, date_time, day};
use cetx_gateway::market_data::client::Followed;
use cetx_gateway::market_data::{LevelTotals, View};
use cetx_gateway::protocol::Side;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Padding, Paragraph, Widget};

/// Offset of exchange time from UTC, in seconds, unless told otherwise:
/// the market keeps Beijing time (the feed does not say; the calendar's
/// default `utc_offset_s` is the same).
pub const EXCHANGE_UTC_OFFSET_S: i32 = 8 * 3_600;

/// The most lines a panel gives its auctions and block offers, the last
/// one saying how many more there are when they do not fit.
const DEALS_SHOWN: usize = 6;

/// Width of the ladder's column: tag 3, price 9, quantity 9, orders 6,
/// and a space between each.
const LADDER_WIDTH: u16 = 30;

/// Blank columns between the ladder and the trades.
const GUTTER: u16 = 3;

/// The most trades a panel shows (`cetx watch` keeps as many).
pub const TRADES_SHOWN: usize = 15;

/// Everything one frame shows.
#[derive(Clone, Debug)]
pub struct Screen<'a> {
    /// The feed's address, as given.
    pub feed: &'a str,
    /// Levels per side asked for (0: the whole book).
    pub depth: u16,
    /// Exchange time's offset from UTC, in seconds: the server's
    /// `calendar.utc_offset_s`.
    pub utc_offset_s: i32,
    /// What the keys do, when a person is at them.
    pub hint: Option<&'a str>,
    /// What is wrong with the feed, on a line of its own under the title
    /// (the connection lost, and being made again).
    pub status: Option<&'a str>,
    /// Each panel as tall as what it shows now (a `--once` frame), rather
    /// than the room its depth and [`TRADES_SHOWN`] take, which keeps a
    /// live view still as the book and the trades come and go.
    pub fit_content: bool,
    /// The instruments, in the order asked for.
    pub instruments: Vec<Instrument<'a>>,
}

/// One instrument's panel.
#[derive(Clone, Debug)]
pub struct Instrument<'a> {
    /// Its symbol, as asked for.
    pub symbol: &'a str,
    /// What the feed has shown of it; `None` until its snapshot came.
    pub followed: Option<&'a Followed>,
    /// Trades seen since watching began, newest first.
    pub trades: Vec<TradeRow>,
}

/// One trade, as the feed told it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TradeRow {
    /// When, in ns since the Unix epoch.
    pub time_ns: i64,
    /// Price in ticks.
    pub price_ticks: i64,
    /// Tonnes.
    pub quantity_t: u64,
    /// The side of the incoming order.
    pub aggressor: Side,
}

impl Screen<'_> {
    /// Lines a frame needs to show all its panels in full: the height of
    /// a `--once` frame, which no terminal bounds.
    pub fn height(&self) -> u16 {
        let panels: u16 = self.instruments.iter().map(|i| self.panel_height(i)).sum();
        self.head_height() + panels
    }

    /// The title line, and the status's under it.
    fn head_height(&self) -> u16 {
        1 + u16::from(self.status.is_some())
    }

    /// Lines a panel needs to show, at most, its levels within the depth
    /// and its trades; with `fit_content`, those it has (at least one
    /// line each).
    fn panel_height(&self, instrument: &Instrument) -> u16 {
        let Some(followed) = instrument.followed else {
            return 3;
        };
        let view = &followed.view;
        let mut levels = levels_wanted(view, self.depth);
        let mut trades = TRADES_SHOWN;
        if self.fit_content {
            levels = levels.min(view.asks.len().max(view.bids.len()).max(1));
            trades = trades.min(instrument.trades.len().max(1));
        }
        let body = (2 * levels + 1).max(trades);
        let head = head_lines(view, self.utc_offset_s).len();
        // Borders, the head, the column headings, the body.
        u16::try_from(2 + head + 1 + body).unwrap_or(u16::MAX)
    }
}

/// Draws `screen` into `area` of `buf`: a title line, the status if any,
/// then one panel per instrument, each as tall as it needs when they all
/// fit and an equal share of the height when they do not.
pub fn render(screen: &Screen, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    let head = screen.head_height().min(area.height);
    title_line(screen).render(Rect { height: 1, ..area }, buf);
    if let Some(status) = screen.status.filter(|_| head > 1) {
        let line = Line::styled(format!(" {status}"), Style::new().fg(Color::Red));
        line.render(
            Rect {
                y: area.y + 1,
                height: 1,
                ..area
            },
            buf,
        );
    }
    let needs: Vec<u16> = screen
        .instruments
        .iter()
        .map(|i| screen.panel_height(i))
        .collect();
    let mut y = area.y + head;
    for (instrument, height) in screen
        .instruments
        .iter()
        .zip(fit(&needs, area.height - head))
    {
        let panel = Rect { y, height, ..area };
        render_panel(instrument, screen, panel, buf);
        y += height;
    }
}

/// The rows of `buf` as plain text, trailing blanks trimmed, each ending
/// in a newline.
pub fn text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        for x in area.left()..area.right() {
            if let Some(cell) = buf.cell((x, y)) {
                line.push_str(cell.symbol());
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn title_line<'a>(screen: &Screen<'a>) -> Line<'a> {
    let depth = match screen.depth {
        0 => "all".to_owned(),
        n => n.to_string(),
    };
    let mut spans = vec![
        Span::styled(" cetx watch", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!(
            " · feed {} · depth {depth} · times {}",
            screen.feed,
            utc_name(screen.utc_offset_s)
        )),
    ];
    if let Some(hint) = screen.hint {
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(hint, Style::new().fg(Color::DarkGray)));
    }
    Line::from(spans)
}

/// Heights for panels that need `needs` in `available` lines.
fn fit(needs: &[u16], available: u16) -> Vec<u16> {
    let total: u32 = needs.iter().map(|&n| u32::from(n)).sum();
    if total <= u32::from(available) || needs.is_empty() {
        return needs.to_vec();
    }
    let share = available / u16::try_from(needs.len()).unwrap_or(u16::MAX);
    needs.iter().map(|&n| n.min(share)).collect()
}

/// Levels a panel shows per side when it has the room.
fn levels_wanted(view: &View, depth: u16) -> usize {
    match depth {
        0 => view.asks.len().max(view.bids.len()).max(1),
        n => usize::from(n),
    }
}

fn render_panel(instrument: &Instrument, screen: &Screen, area: Rect, buf: &mut Buffer) {
    let depth = screen.depth;
    let symbol = Span::styled(instrument.symbol, Style::new().add_modifier(Modifier::BOLD));
    let Some(followed) = instrument.followed else {
        let block = Block::bordered()
            .padding(Padding::horizontal(1))
            .title(Line::from(vec![Span::raw(" "), symbol, Span::raw(" ")]));
        let inner = block.inner(area);
        block.render(area, buf);
        Line::styled("waiting for the snapshot", Style::new().fg(Color::DarkGray))
            .render(inner, buf);
        return;
    };
    let view = &followed.view;
    let (phase, color) = phase_name(view.phase);
    let block = Block::bordered()
        .padding(Padding::horizontal(1))
        .title(Line::from(vec![
            Span::raw(" "),
            symbol,
            Span::raw(" · "),
            Span::styled(phase, Style::new().fg(color)),
            Span::raw(" "),
        ]))
        .title(
            Line::from(format!(" seq {}, gaps {} ", followed.seq, followed.gaps)).right_aligned(),
        );
    let inner = block.inner(area);
    block.render(area, buf);
    let head = head_lines(view, screen.utc_offset_s);
    let head_height = u16::try_from(head.len())
        .unwrap_or(u16::MAX)
        .min(inner.height);
    Paragraph::new(head).render(
        Rect {
            height: head_height,
            ..inner
        },
        buf,
    );
    let body = Rect {
        y: inner.y + head_height,
        height: inner.height - head_height,
        ..inner
    };
    let ladder = Rect {
        width: LADDER_WIDTH.min(body.width),
        ..body
    };
    let trades = Rect {
        x: body.x + (LADDER_WIDTH + GUTTER).min(body.width),
        width: body.width.saturating_sub(LADDER_WIDTH + GUTTER),
        ..body
    };
    Paragraph::new(ladder_lines(view, depth, body.height)).render(ladder, buf);
    Paragraph::new(trade_lines(
        &instrument.trades,
        body.height,
        screen.utc_offset_s,
    ))
    .render(trades, buf);
}

fn phase_name(phase: Phase) -> (&'static str, Color) {
    match phase {
        Phase::Closed => ("closed", Color::Yellow),
        Phase::Continuous => ("continuous trading", Color::Green),
        Phase::Break => ("midday break", Color::Yellow),
        Phase::Halted => ("halted", Color::Red),
    }
}

/// The band, the day's figures, the auctions and block offers, and a
/// blank line.
fn head_lines(view: &View, utc_offset_s: i32) -> Vec<Line<'static>> {
    let day = &view.day;
    let traded = day.trade_count > 0;
    let price = |ticks: i64| if traded { cny(ticks) } else { "-".to_owned() };
    vec![
        Line::from(vec![
            label("band "),
            Span::raw(format!(
                "{} – {}",
                cny(view.floor_ticks),
                cny(view.ceiling_ticks)
            )),
            label("  reference "),
            Span::raw(cny(view.reference_ticks)),
        ]),
        Line::from(vec![
            label("open "),
            Span::raw(price(day.open_ticks)),
            label("  high "),
            Span::raw(price(day.high_ticks)),
            label("  low "),
            Span::raw(price(day.low_ticks)),
            label("  last "),
            Span::styled(
                price(day.last_ticks),
                price_style(day.last_ticks, view.reference_ticks).add_modifier(Modifier::BOLD),
            ),
            label("  vwap "),
            Span::raw(price(day.vwap_ticks)),
        ]),
        Line::from(vec![
            label("volume "),
            Span::raw(format!("{} t", grouped(day.volume_t))),
            label("  turnover "),
            Span::raw(format!("{} CNY", cny(day.turnover_fen))),
            label("  trades "),
            Span::raw(grouped(day.trade_count)),
        ]),
    ]
    .into_iter()
    .chain(deal_lines(view, utc_offset_s))
    .chain([Line::default()])
    .collect()
}

/// A line per open one-way auction, per auction closed today and per
/// block offer open to every account, at most [`DEALS_SHOWN`].
fn deal_lines(view: &View, utc_offset_s: i32) -> Vec<Line<'static>> {
    let open = view.auctions.values().map(|a| {
        Line::from(vec![
            label(format!("auction {} ", a.auction_id)),
            Span::raw(format!(
                "{} t, {} to {}, {}, bids {}",
                grouped(a.quantity_t),
                cny(a.floor_ticks),
                cny(a.ceiling_ticks),
                a.pricing.name(),
                window(a.start_ns, a.end_ns, utc_offset_s),
            )),
        ])
    });
    let closed = view.closed_auctions.values().map(|c| {
        let outcome = match c.sold_t {
            0 => "nothing sold".to_owned(),
            sold_t => format!(
                "{} t sold {} {}, {} t unsold",
                grouped(sold_t),
                if c.pricing == Pricing::Uniform {
                    "at"
                } else {
                    "down to"
                },
                cny(c.clearing_ticks),
                grouped(c.unsold_t),
            ),
        };
        Line::from(vec![
            label(format!("auction {} closed ", c.auction_id)),
            Span::raw(outcome),
        ])
    });
    let offers = view.offers.iter().map(|(id, offer)| {
        let side = match offer.side {
            cetx_engine::Side::Buy => "buys",
            cetx_engine::Side::Sell => "sells",
        };
        Line::from(vec![
            label(format!("block offer {id} ")),
            Span::raw(format!(
                "{side} {} t at {}",
                grouped(offer.quantity_t),
                cny(offer.price_ticks)
            )),
        ])
    });
    let kinds = [
        (open.len(), "auction", "auctions"),
        (closed.len(), "closed auction", "closed auctions"),
        (offers.len(), "block offer", "block offers"),
    ];
    let mut lines: Vec<Line<'static>> = open.chain(closed).chain(offers).collect();
    if lines.len() > DEALS_SHOWN {
        lines.truncate(DEALS_SHOWN - 1);
        lines.push(Line::from(label(more_deals(kinds, DEALS_SHOWN - 1))));
    }
    lines
}

/// The last deal line when they do not all fit: how many of each kind
/// (count, singular, plural; in the order shown) the first `shown` lines
/// leave out, "and 1 more auction, 2 more block offers".
fn more_deals(kinds: [(usize, &str, &str); 3], shown: usize) -> String {
    let mut before = 0;
    let mut parts = Vec::new();
    for (count, one, many) in kinds {
        let hidden = (before + count).saturating_sub(shown.max(before));
        before += count;
        if hidden > 0 {
            parts.push(format!(
                "{hidden} more {}",
                if hidden == 1 { one } else { many }
            ));
        }
    }
    format!("and {}", parts.join(", "))
}

/// The column headings, then the asks (best lowest, padded above so the
/// best sits on the spread), the spread, and the bids best first, as
/// many per side as `height` holds.
fn ladder_lines(view: &View, depth: u16, height: u16) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(
        format!("{:<3} {:>9} {:>9} {:>6}", "", "price", "qty (t)", "orders"),
        heading(),
    )];
    let rows = usize::from(height.saturating_sub(1));
    if rows == 0 {
        return lines;
    }
    let per_side = levels_wanted(view, depth).min((rows - 1) / 2);
    let asks: Vec<(&i64, &LevelTotals)> = view.asks.iter().take(per_side).collect();
    lines.extend((asks.len()..per_side).map(|_| Line::default()));
    for (&price_ticks, level) in asks.into_iter().rev() {
        lines.push(level_line("ask", price_ticks, level, view.reference_ticks));
    }
    lines.push(spread_line(view));
    for (&price_ticks, level) in view.bids.iter().rev().take(per_side) {
        lines.push(level_line("bid", price_ticks, level, view.reference_ticks));
    }
    lines
}

fn level_line(tag: &str, price_ticks: i64, level: &LevelTotals, reference: i64) -> Line<'static> {
    Line::from(vec![
        Span::raw(format!("{tag:<3} ")),
        Span::styled(
            format!("{:>9}", cny(price_ticks)),
            price_style(price_ticks, reference),
        ),
        Span::raw(format!(
            " {:>9} {:>6}",
            grouped(level.quantity_t),
            level.orders
        )),
    ])
}

fn spread_line(view: &View) -> Line<'static> {
    let spread = match (view.asks.keys().next(), view.bids.keys().next_back()) {
        (Some(ask), Some(bid)) => cny(ask - bid),
        _ => "-".to_owned(),
    };
    Line::styled(
        format!("{:<3} {spread:>9} spread", ""),
        Style::new().fg(Color::DarkGray),
    )
}

/// The column headings, then the newest trades that `height` holds.
fn trade_lines(trades: &[TradeRow], height: u16, utc_offset_s: i32) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(
        format!(
            "{:<8} {:>9} {:>9}  {}",
            "time", "price", "qty (t)", "aggressor"
        ),
        heading(),
    )];
    if trades.is_empty() {
        lines.push(Line::styled(
            "none since watching began",
            Style::new().fg(Color::DarkGray),
        ));
    }
    let rows = usize::from(height.saturating_sub(1)).min(TRADES_SHOWN);
    for trade in trades.iter().take(rows) {
        let (side, color) = match trade.aggressor {
            Side::Buy => ("buy", Color::Red),
            Side::Sell => ("sell", Color::Green),
        };
        lines.push(Line::from(vec![
            Span::raw(format!(
                "{:<8} {:>9} {:>9}  ",
                clock(trade.time_ns, utc_offset_s),
                cny(trade.price_ticks),
                grouped(trade.quantity_t)
            )),
            Span::styled(side, Style::new().fg(color)),
        ]));
    }
    lines
}

fn label(text: impl Into<std::borrow::Cow<'static, str>>) -> Span<'static> {
    Span::styled(text, Style::new().fg(Color::DarkGray))
}

fn heading() -> Style {
    Style::new()
        .fg(Color::DarkGray)
        .add_modifier(Modifier::UNDERLINED)
}

/// Red above the reference price, green below it.
fn price_style(price_ticks: i64, reference_ticks: i64) -> Style {
    match price_ticks.cmp(&reference_ticks) {
        std::cmp::Ordering::Greater => Style::new().fg(Color::Red),
        std::cmp::Ordering::Less => Style::new().fg(Color::Green),
        std::cmp::Ordering::Equal => Style::new(),
    }
}

/// Fen (or ticks of 0.01 CNY) as CNY: 1234567 as `12,345.67`.
pub fn cny(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", grouped(abs / 100), abs % 100)
}

/// A count with thousands separators: 1234567 as `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A bidding window in exchange time: `10:00:00 to 10:30:00` within a
/// day, each end with its date (`2026-11-27 14:44:00 to 2026-11-30
/// 10:00:00`) across days.
pub fn window(start_ns: i64, end_ns: i64, utc_offset_s: i32) -> String {
    let show = if day(start_ns, utc_offset_s) == day(end_ns, utc_offset_s) {
        clock
    } else {
        date_time
    };
    format!(
        "{} to {}",
        show(start_ns, utc_offset_s),
        show(end_ns, utc_offset_s)
    )
}

/// An offset from UTC as people write it: `UTC`, `UTC+8`, `UTC-3:30`,
/// and to the second if it has seconds (`UTC+0:00:01`).
pub fn utc_name(utc_offset_s: i32) -> String {
    let sign = if utc_offset_s < 0 { '-' } else { '+' };
    let s = utc_offset_s.unsigned_abs();
    match (s / 3_600, s / 60 % 60, s % 60) {
        (0, 0, 0) => "UTC".to_owned(),
        (hours, 0, 0) => format!("UTC{sign}{hours}"),
        (hours, minutes, 0) => format!("UTC{sign}{hours}:{minutes:02}"),
        (hours, minutes, seconds) => format!("UTC{sign}{hours}:{minutes:02}:{seconds:02}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cetx_gateway::market_data::LevelTotals;
    use cetx_gateway::protocol::feed::DayFigures;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn at(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_nanos_opt()
            .unwrap()
    }

    fn level(quantity_t: u64, orders: u32) -> LevelTotals {
        LevelTotals { quantity_t, orders }
    }

    /// CEA2025 after two trades, with two levels a side.
    fn cea2025() -> Followed {
        Followed {
            view: View {
                symbol: "CEA2025".to_owned(),
                step_ticks: 1,
                phase: Phase::Continuous,
                reference_ticks: 85_00,
                floor_ticks: 76_50,
                ceiling_ticks: 93_50,
                bids: [(84_90, level(40, 1)), (84_80, level(1_200, 3))].into(),
                asks: [(85_10, level(40, 1)), (85_30, level(250, 2))].into(),
                day: DayFigures {
                    open_ticks: 85_00,
                    high_ticks: 85_10,
                    low_ticks: 85_00,
                    last_ticks: 85_10,
                    vwap_ticks: 85_06,
                    volume_t: 100,
                    turnover_fen: 8_506_00,
                    trade_count: 2,
                },
                offers: std::collections::BTreeMap::new(),
                auctions: std::collections::BTreeMap::new(),
                closed_auctions: std::collections::BTreeMap::new(),
            },
            seq: 42,
            gaps: 3,
            orders: Default::default(),
        }
    }

    fn trades() -> Vec<TradeRow> {
        vec![
            TradeRow {
                time_ns: at("2026-06-15T10:31:05+08:00"),
                price_ticks: 85_10,
                quantity_t: 60,
                aggressor: Side::Buy,
            },
            TradeRow {
                time_ns: at("2026-06-15T10:30:00.5+08:00"),
                price_ticks: 85_00,
                quantity_t: 40,
                aggressor: Side::Sell,
            },
        ]
    }

    fn draw(screen: &Screen, width: u16, height: u16) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal
            .draw(|frame| render(screen, frame.area(), frame.buffer_mut()))
            .unwrap();
        text(terminal.backend().buffer())
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_frame_shows_the_ladder_the_trades_and_the_day() {
        let followed = cea2025();
        let screen = Screen {
            feed: "127.0.0.1:7879",
            depth: 2,
            utc_offset_s: EXCHANGE_UTC_OFFSET_S,
            hint: Some("q quits"),
            status: None,
            fit_content: true,
            instruments: vec![Instrument {
                symbol: "CEA2025",
                followed: Some(&followed),
                trades: trades(),
            }],
        };
        assert_eq!(screen.height(), 13);
        let expected = [
            " cetx watch · feed 127.0.0.1:7879 · depth 2 · times UTC+8 · q quits",
            "┌ CEA2025 · continuous trading ──────────────────────────────── seq 42, gaps 3 ┐",
            "│ band 76.50 – 93.50  reference 85.00                                          │",
            "│ open 85.00  high 85.10  low 85.00  last 85.10  vwap 85.06                    │",
            "│ volume 100 t  turnover 8,506.00 CNY  trades 2                                │",
            "│                                                                              │",
            "│         price   qty (t) orders   time         price   qty (t)  aggressor     │",
            "│ ask     85.30       250      2   10:31:05     85.10        60  buy           │",
            "│ ask     85.10        40      1   10:30:00     85.00        40  sell          │",
            "│          0.20 spread                                                         │",
            "│ bid     84.90        40      1                                               │",
            "│ bid     84.80     1,200      3                                               │",
            "└──────────────────────────────────────────────────────────────────────────────┘",
        ];
        assert_eq!(draw(&screen, 80, screen.height()), expected);
    }

    /// `followed` alone, depth 1, no trades, as tall as it needs.
    fn draw_one(followed: &Followed) -> Vec<String> {
        draw_one_at(followed, 80)
    }

    fn draw_one_at(followed: &Followed, width: u16) -> Vec<String> {
        let screen = Screen {
            feed: "127.0.0.1:7879",
            depth: 1,
            utc_offset_s: EXCHANGE_UTC_OFFSET_S,
            hint: None,
            status: None,
            fit_content: true,
            instruments: vec![Instrument {
                symbol: "CEA2025",
                followed: Some(followed),
                trades: Vec::new(),
            }],
        };
        draw(&screen, width, screen.height())
    }

    #[test]
    fn a_window_across_days_gives_its_dates() {
        let offset = EXCHANGE_UTC_OFFSET_S;
        let (start, end) = (
            at("2026-11-27T14:44:00+08:00"),
            at("2026-11-27T15:00:00+08:00"),
        );
        assert_eq!(window(start, end, offset), "14:44:00 to 15:00:00");
        // Past midnight in Beijing, though the same UTC day.
        let monday = at("2026-11-30T10:00:00+08:00");
        assert_eq!(
            window(start, monday, offset),
            "2026-11-27 14:44:00 to 2026-11-30 10:00:00"
        );
        let late = at("2026-11-28T00:30:00+08:00");
        assert_eq!(
            window(at("2026-11-27T23:30:00+08:00"), late, offset),
            "2026-11-27 23:30:00 to 2026-11-28 00:30:00"
        );
    }

    #[test]
    fn a_frame_shows_the_auctions_and_block_offers_under_the_day() {
        use cetx_engine::{AccountId, AuctionClosed, AuctionNotice, InstrumentId};
        use cetx_gateway::market_data::BlockQuote;

        let mut followed = cea2025();
        let view = &mut followed.view;
        let notice = |auction_id, pricing| AuctionNotice {
            auction_id,
            instrument: InstrumentId(0),
            seller: AccountId(0),
            quantity_t: 150_000,
            floor_ticks: 80_00,
            ceiling_ticks: 93_50,
            start_ns: at("2026-06-15T10:00:00+08:00"),
            end_ns: at("2026-06-15T10:30:00+08:00"),
            pricing,
        };
        view.auctions.insert(4, notice(4, Pricing::PayAsBid));
        let closed = |auction_id, sold_t| AuctionClosed {
            auction_id,
            instrument: InstrumentId(0),
            seller: AccountId(0),
            pricing: Pricing::Uniform,
            clearing_ticks: if sold_t > 0 { 84_00 } else { 0 },
            sold_t,
            unsold_t: 150_000 - sold_t,
            turnover_fen: 0,
        };
        view.closed_auctions.insert(2, closed(2, 120_000));
        view.closed_auctions.insert(3, closed(3, 0));
        view.offers.insert(
            9,
            BlockQuote {
                side: cetx_engine::Side::Sell,
                price_ticks: 86_00,
                quantity_t: 200_000,
            },
        );
        let frame = draw_one(&followed);
        assert_eq!(
            frame[4..10],
            [
                "│ volume 100 t  turnover 8,506.00 CNY  trades 2                                │",
                "│ auction 4 150,000 t, 80.00 to 93.50, pay-as-bid, bids 10:00:00 to 10:30:00   │",
                "│ auction 2 closed 120,000 t sold at 84.00, 30,000 t unsold                    │",
                "│ auction 3 closed nothing sold                                                │",
                "│ block offer 9 sells 200,000 t at 86.00                                       │",
                "│                                                                              │",
            ],
            "{frame:#?}"
        );
        // Past six lines, the last says how many more there are.
        for id in 10..15 {
            followed.view.offers.insert(
                id,
                BlockQuote {
                    side: cetx_engine::Side::Buy,
                    price_ticks: 84_00,
                    quantity_t: 100_000,
                },
            );
        }
        let frame = draw_one(&followed);
        assert_eq!(
            frame[10],
            "│ and 4 more block offers                                                      │"
        );
        assert_eq!(
            frame[11],
            "│                                                                              │"
        );
    }

    /// A `--once` frame holds the whole of an auction's window over two
    /// days (a tester's was cut at 80 columns, `bids 2026-12-01 13:00:00
    /// to 20`).
    #[test]
    fn a_once_frame_holds_an_auction_window_over_days() {
        use cetx_engine::{AccountId, AuctionNotice, InstrumentId};

        let mut followed = cea2025();
        followed.view.auctions.insert(
            7,
            AuctionNotice {
                auction_id: 7,
                instrument: InstrumentId(0),
                seller: AccountId(0),
                quantity_t: 200_000,
                floor_ticks: 82_00,
                ceiling_ticks: 98_00,
                start_ns: at("2026-12-01T13:00:00+08:00"),
                end_ns: at("2026-12-02T13:45:00+08:00"),
                pricing: Pricing::Uniform,
            },
        );
        let frame = draw_one_at(&followed, crate::watch::ONCE_WIDTH);
        let whole = "auction 7 200,000 t, 82.00 to 98.00, uniform, bids 2026-12-01 13:00:00 to 2026-12-02 13:45:00";
        assert!(frame.iter().any(|line| line.contains(whole)), "{frame:#?}");
    }

    #[test]
    fn the_last_deal_line_names_what_it_leaves_out() {
        let kinds = |open, closed, offers| {
            [
                (open, "auction", "auctions"),
                (closed, "closed auction", "closed auctions"),
                (offers, "block offer", "block offers"),
            ]
        };
        // Tester 75: six auctions and two block offers showed "and 3
        // more", with no sign of the offers.
        assert_eq!(
            more_deals(kinds(6, 0, 2), 5),
            "and 1 more auction, 2 more block offers"
        );
        assert_eq!(
            more_deals(kinds(2, 4, 1), 5),
            "and 1 more closed auction, 1 more block offer"
        );
        assert_eq!(more_deals(kinds(0, 0, 9), 5), "and 4 more block offers");
    }

    #[test]
    fn prices_are_red_above_the_reference_and_green_below() {
        let followed = cea2025();
        let screen = Screen {
            feed: "127.0.0.1:7879",
            depth: 2,
            utc_offset_s: EXCHANGE_UTC_OFFSET_S,
            hint: None,
            status: None,
            fit_content: true,
            instruments: vec![Instrument {
                symbol: "CEA2025",
                followed: Some(&followed),
                trades: trades(),
            }],
        };
        let area = Rect::new(0, 0, 80, screen.height());
        let mut buf = Buffer::empty(area);
        render(&screen, area, &mut buf);
        let lines: Vec<String> = text(&buf).lines().map(str::to_owned).collect();
        let colour = |row: usize, word: &str| {
            let byte = lines[row].find(word).unwrap();
            let x = lines[row][..byte].chars().count();
            buf[(u16::try_from(x).unwrap(), u16::try_from(row).unwrap())].fg
        };
        // Rows 7 and 8: the asks beside the trades; row 10: the best bid.
        assert_eq!(colour(8, "85.10"), Color::Red);
        assert_eq!(colour(10, "84.90"), Color::Green);
        assert_eq!(colour(7, "buy"), Color::Red);
        assert_eq!(colour(8, "sell"), Color::Green);
        assert_eq!(colour(3, "85.10  vwap"), Color::Red, "the last price");
    }

    /// Words of each line, single-spaced: column widths aside.
    fn words(frame: &[String]) -> Vec<String> {
        frame
            .iter()
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }

    #[test]
    fn a_small_terminal_shows_the_best_levels_and_newest_trades_it_holds() {
        let followed = cea2025();
        let screen = Screen {
            feed: "127.0.0.1:7879",
            depth: 10,
            utc_offset_s: EXCHANGE_UTC_OFFSET_S,
            hint: Some("q quits"),
            status: None,
            fit_content: false,
            instruments: vec![Instrument {
                symbol: "CEA2025",
                followed: Some(&followed),
                trades: trades(),
            }],
        };
        let frame = words(&draw(&screen, 80, 11));
        assert_eq!(
            frame[7..10],
            [
                "│ ask 85.10 40 1 10:31:05 85.10 60 buy │",
                "│ 0.20 spread 10:30:00 85.00 40 sell │",
                "│ bid 84.90 40 1 │",
            ]
        );
        assert_eq!(frame[10], format!("└{}┘", "─".repeat(78)));
    }

    #[test]
    fn an_instrument_without_its_snapshot_waits_and_nothing_is_too_small() {
        let followed = cea2025();
        let screen = Screen {
            feed: "127.0.0.1:7879",
            depth: 10,
            utc_offset_s: EXCHANGE_UTC_OFFSET_S,
            hint: None,
            status: None,
            fit_content: false,
            instruments: vec![
                Instrument {
                    symbol: "CCER",
                    followed: None,
                    trades: Vec::new(),
                },
                Instrument {
                    symbol: "CEA2025",
                    followed: Some(&followed),
                    trades: trades(),
                },
            ],
        };
        let frame = words(&draw(&screen, 80, 40));
        assert_eq!(frame[1], format!("┌ CCER {}┐", "─".repeat(72)));
        assert_eq!(frame[2], "│ waiting for the snapshot │");
        for (width, height) in [(1, 1), (10, 3), (30, 8), (80, 2)] {
            draw(&screen, width, height);
        }
    }

    #[test]
    fn money_counts_and_times_read_as_a_person_writes_them() {
        assert_eq!(cny(0), "0.00");
        assert_eq!(cny(85_10), "85.10");
        assert_eq!(cny(1_234_567_89), "1,234,567.89");
        assert_eq!(cny(-5), "-0.05");
        assert_eq!(cny(i64::MIN), "-92,233,720,368,547,758.08");
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(u64::MAX), "18,446,744,073,709,551,615");
        let beijing = EXCHANGE_UTC_OFFSET_S;
        assert_eq!(
            clock(at("2026-06-15T23:59:59.999+08:00"), beijing),
            "23:59:59"
        );
        assert_eq!(clock(at("2026-06-15T00:00:00+08:00"), beijing), "00:00:00");
        assert_eq!(clock(-1, beijing), "07:59:59");
        // Another calendar's offset (an outside tester's UTC market read
        // as UTC+8).
        assert_eq!(clock(at("2026-06-15T04:40:06+00:00"), 0), "04:40:06");
        assert_eq!(clock(0, -12_600), "20:30:00");
        assert_eq!(utc_name(beijing), "UTC+8");
        assert_eq!(utc_name(0), "UTC");
        assert_eq!(utc_name(-12_600), "UTC-3:30");
        assert_eq!(utc_name(19_800), "UTC+5:30");
        assert_eq!(utc_name(1), "UTC+0:00:01");
        assert_eq!(utc_name(-50_399), "UTC-13:59:59");
    }
}
