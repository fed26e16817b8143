//! The read-only web view: `cetx serve` with `[http] listen` serves a page
//! that shows each instrument's depth ladder, the trade tape, an intraday
//! chart of one-minute candles with volume, the day's figures and the
//! phase, its one-way auctions and public block offers, updating live over
//! server-sent events.
//!
//! ```text
//! MarketData ─batches─► tape task (trades, candles) ─version─┐
//!      │                                                     ▼
//!      └──── views (levels, day, phase, band) ──► GET /api/market (JSON)
//!                                                 GET /events (SSE: the same
//!                                                 JSON, at most 4 times a second)
//! GET / (the page, with the market now inside it), /app.js, /style.css:
//! compiled into the binary
//! ```
//!
//! The page's figures come from the same durable entries as the feed's.
//! The tape and the candles start when the server does (nothing before
//! is read back); levels, figures, phase and band are the market's own.
//! A browser that reads slowly only ever gets the newest state: each
//! event is the whole view, never a change. At most 256 event streams are
//! open at once; one more is answered 503.

mod assets;
mod tape;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use futures_util::Stream;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::market_data::MarketData;
use tape::Tape;

/// Shortest time between two events to one browser.
const EVENT_INTERVAL: Duration = Duration::from_millis(250);

/// Levels per side the page shows.
const DEPTH: usize = 10;

/// Event streams open at once; one more is answered 503.
const MAX_VIEWERS: usize = 256;

/// Most connections open at once on the port: the event streams and 128
/// more for the page, its assets and `/api/market`.
pub const MAX_CONNECTIONS: usize = MAX_VIEWERS + 128;

/// The port's connections: [`MAX_CONNECTIONS`], 32 from one address, so
/// that one cannot take every stream; a request's headers within 10 s of
/// the connection's opening or its last response, and a write taken by
/// its reader within 10 s (CONFIG.md, `[http]`).
pub(crate) const LIMITS: crate::listen::HttpLimits = crate::listen::HttpLimits {
    connections: MAX_CONNECTIONS,
    per_address: 32,
    header_timeout: Duration::from_secs(10),
    write_timeout: Duration::from_secs(10),
};

#[derive(Clone)]
struct Shared {
    market: MarketData,
    tape: Arc<Tape>,
    version: watch::Receiver<u64>,
    /// One permit per open event stream.
    viewers: Arc<Semaphore>,
}

/// A bound web view, ready to [`WebServer::run`].
#[derive(Debug)]
pub struct WebServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    market: MarketData,
    utc_offset_s: i32,
}

impl WebServer {
    /// Binds `listen` (port 0 picks a free port); times are shown at
    /// `utc_offset_s` (the exchange's, from the calendar).
    ///
    /// # Errors
    /// The operating system's, when the address cannot be bound.
    pub async fn bind(
        market: MarketData,
        listen: SocketAddr,
        utc_offset_s: i32,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
            market,
            utc_offset_s,
        })
    }

    /// The address the page is served on.
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` is cancelled.
    ///
    /// # Errors
    /// The server's I/O error, if it stops on one.
    pub async fn run(self, shutdown: CancellationToken) -> io::Result<()> {
        let (tape, version) = Tape::follow(&self.market, self.utc_offset_s, shutdown.clone());
        let shared = Shared {
            market: self.market,
            tape,
            version,
            viewers: Arc::new(Semaphore::new(MAX_VIEWERS)),
        };
        let app = Router::new()
            .route("/", get(page))
            .route("/app.js", get(script))
            .route("/style.css", get(style))
            .route("/api/market", get(market))
            .route("/events", get(events))
            .with_state(shared)
            .layer(axum::middleware::map_response(locked_down));
        tracing::info!(addr = %self.local_addr, "serving the web view");
        crate::listen::serve_http(self.listener, app, LIMITS, shutdown).await;
        Ok(())
    }
}

/// What every answer says of itself to a browser (CONFIG.md, `[http]`): it
/// loads only its own script and style, is never framed by another site,
/// is never sniffed as another type, and sends no referrer on.
const LOCKED_DOWN: [(header::HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
];

async fn locked_down(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    for (name, value) in LOCKED_DOWN {
        headers.insert(name, header::HeaderValue::from_static(value));
    }
    response
}

/// The page, with the market as it is now inside it, so that it shows the
/// market as soon as it is loaded (the events then keep it current).
async fn page(State(shared): State<Shared>) -> impl IntoResponse {
    let view = shared.tape.market_json(&shared.market.views(), DEPTH);
    // `</` cannot end the script element from inside a JSON string.
    let json = serde_json::to_string(&view)
        .unwrap_or_else(|_| "null".into())
        .replace("</", "<\\/");
    let initial = format!(r#"<script id="initial" type="application/json">{json}</script>"#);
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        assets::INDEX_HTML.replace("<!--initial-->", &initial),
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        assets::APP_JS,
    )
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        assets::STYLE_CSS,
    )
}

async fn market(State(shared): State<Shared>) -> Json<tape::MarketJson> {
    Json(shared.tape.market_json(&shared.market.views(), DEPTH))
}

/// The whole view as an event each time the market moved, at most every
/// [`EVENT_INTERVAL`]; 503 past [`MAX_VIEWERS`] open streams.
async fn events(
    State(shared): State<Shared>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, (StatusCode, &'static str)> {
    let viewer = Arc::clone(&shared.viewers)
        .try_acquire_owned()
        .map_err(|_| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "too many viewers; try again later",
            )
        })?;
    let start = (shared, true, viewer);
    let stream = futures_util::stream::unfold(start, |(mut shared, first, viewer)| async move {
        if !first {
            tokio::time::sleep(EVENT_INTERVAL).await;
            shared.version.changed().await.ok()?;
        }
        shared.version.borrow_and_update();
        let view = shared.tape.market_json(&shared.market.views(), DEPTH);
        let event = Event::default()
            .event("market")
            .json_data(&view)
            .unwrap_or_else(|_| Event::default().comment("unencodable"));
        Some((Ok(event), (shared, false, viewer)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
