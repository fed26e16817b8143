//! The Prometheus endpoint: `cetx serve` with `[metrics] listen` (or
//! `--metrics-listen`) serves `GET /metrics`, every metric listed in
//! `docs/OPERATIONS.md`.
//!
//! ```text
//! router (journal writer thread) ── counts per durable turn ──┐
//! journal writer ── counters, histograms (atomics) ───────────┤
//! engine thread ── turn-time histogram (atomics) ─────────────┼─► GET /metrics
//! server ── pending and session slots ────────────────────────┤   (read at the
//! market data ── feed readers and ring backlog ───────────────┤    scrape)
//! /proc/self/status ── resident memory ───────────────────────┘
//! ```
//!
//! Nothing is pushed per order: a scrape reads what the threads keep
//! anyway (or keep for it at the cost of a relaxed addition per turn), so
//! an endpoint nobody scrapes costs nothing, and one that is scraped costs
//! the scraper's thread a copy of a few small maps under the router's
//! lock. Metrics start from zero with each process, as Prometheus expects
//! of counters.
//!
//! `exposition.rs` writes the text format.

mod exposition;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use cetx_engine::RejectReason;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::runtime::{BookLoad, RuntimeHandle, RuntimeStatus, Traded};
use crate::server::Connections;
use exposition::{Exposition, Kind, Unit};

/// A counter by instrument: its name, its help, and its figure from an
/// instrument's [`Traded`].
type Counted = (&'static str, &'static str, fn(Traded) -> u64);

/// Most connections open at once on the port: a few scrapers.
pub const MAX_CONNECTIONS: usize = 16;

/// The port's connections: [`MAX_CONNECTIONS`], 4 from one address,
/// each request's headers within 10 s (CONFIG.md, `[metrics]`).
pub(crate) const LIMITS: crate::listen::HttpLimits = crate::listen::HttpLimits {
    connections: MAX_CONNECTIONS,
    per_address: 4,
    header_timeout: std::time::Duration::from_secs(10),
    write_timeout: std::time::Duration::from_secs(10),
};

/// What a scrape reads.
#[derive(Clone, Debug)]
pub struct Sources {
    /// The market.
    pub runtime: RuntimeHandle,
    /// The broker server's connections, when it runs.
    pub connections: Option<Connections>,
}

/// A bound metrics endpoint, ready to [`MetricsServer::run`].
#[derive(Debug)]
pub struct MetricsServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    sources: Arc<Sources>,
}

impl MetricsServer {
    /// Binds `listen` (port 0 picks a free port).
    ///
    /// # Errors
    /// The operating system's, when the address cannot be bound.
    pub async fn bind(sources: Sources, listen: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
            sources: Arc::new(sources),
        })
    }

    /// The address `/metrics` is served on.
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` is cancelled.
    ///
    /// # Errors
    /// The server's I/O error, if it stops on one.
    pub async fn run(self, shutdown: CancellationToken) -> io::Result<()> {
        let app = Router::new()
            .route("/metrics", get(metrics))
            .with_state(self.sources);
        tracing::info!(addr = %self.local_addr, "serving metrics");
        crate::listen::serve_http(self.listener, app, LIMITS, shutdown).await;
        Ok(())
    }
}

async fn metrics(State(sources): State<Arc<Sources>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, exposition::CONTENT_TYPE)],
        render(&sources),
    )
}

/// The page: every metric of `docs/OPERATIONS.md`, in its order.
#[must_use]
pub fn render(sources: &Sources) -> String {
    let mut page = Exposition::default();
    market(&mut page, sources);
    connections(&mut page, sources);
    let rss = resident_bytes();
    page.single(
        "process_resident_memory_bytes",
        Kind::Gauge,
        "Resident memory of the cetx process (VmRSS of /proc/self/status).",
        rss.unwrap_or(0),
    );
    page.finish()
}

fn market(page: &mut Exposition, sources: &Sources) {
    let stats = sources.runtime.stats();
    let activity = &stats.activity;
    page.family(
        "cetx_requests_total",
        Kind::Counter,
        "Brokers' requests decided (by the engine or refused by the gateway), by kind.",
    );
    for (kind, count) in [
        ("order", activity.orders),
        ("cancel", activity.cancels),
        ("amend", activity.amends),
    ] {
        page.sample("cetx_requests_total", &[("kind", kind)], count);
    }
    page.family(
        "cetx_rejects_total",
        Kind::Counter,
        "Brokers' requests rejected, by reason code (PROTOCOL.md).",
    );
    for (&code, &count) in &activity.rejects {
        let reason = RejectReason::from_code(code).map_or_else(String::new, |r| format!("{r:?}"));
        let code = code.to_string();
        page.sample(
            "cetx_rejects_total",
            &[("code", &code), ("reason", &reason)],
            count,
        );
    }
    let traded = |id: usize| {
        let id = cetx_engine::InstrumentId(u16::try_from(id).unwrap_or(u16::MAX));
        activity.trades.get(&id).copied().unwrap_or_default()
    };
    // The market's instruments now, those listed since the start too.
    let symbols = sources.runtime.symbols();
    let symbols = symbols.symbols();
    let per_instrument: [Counted; 3] = [
        ("cetx_trades_total", "Trades, by instrument.", |t| t.trades),
        (
            "cetx_traded_tonnes_total",
            "Tonnes traded, by instrument.",
            |t| t.volume_t,
        ),
        (
            "cetx_large_holders_total",
            "Holdings that reached the instrument's large-holder threshold, by instrument.",
            |t| t.large_holders,
        ),
    ];
    for (name, help, value) in per_instrument {
        page.family(name, Kind::Counter, help);
        for (id, symbol) in symbols.iter().enumerate() {
            page.sample(name, &[("instrument", symbol.as_str())], value(traded(id)));
        }
    }
    books(page, symbols, &stats.books);
    let running = *sources.runtime.status().borrow() == RuntimeStatus::Running;
    page.single(
        "cetx_running",
        Kind::Gauge,
        "1 while the market takes requests; 0 once it stops or fails.",
        u64::from(running),
    );
    page.single(
        "cetx_engine_queue_depth",
        Kind::Gauge,
        "Requests waiting in the queue to the engine thread.",
        stats.queue_depth,
    );
    page.single(
        "cetx_engine_queue_capacity",
        Kind::Gauge,
        "Size of that queue (server.queue_capacity).",
        stats.queue_capacity,
    );
    page.histogram(
        "cetx_engine_turn_seconds",
        "Time of each turn of the engine loop that took requests.",
        &stats.engine_turn_ns,
        Unit::NanosAsSeconds,
    );
    page.single(
        "cetx_report_subscriptions",
        Kind::Gauge,
        "Brokers with a live report subscription.",
        stats.subscribers,
    );
    page.single(
        "cetx_report_backlog_frames",
        Kind::Gauge,
        "Report frames routed to sessions and not yet taken by them, all together.",
        stats.report_backlog_frames,
    );
    page.single(
        "cetx_report_backlog_frames_max",
        Kind::Gauge,
        "The largest such backlog of one session.",
        stats.report_backlog_frames_max,
    );
    page.single(
        "cetx_resume_entries_read_total",
        Kind::Counter,
        "Journal entries read back for resumes older than what memory holds.",
        stats.resume_entries_read,
    );
    if let Some(market) = sources.runtime.market_data() {
        let (readers, batches) = market.backlog();
        page.single(
            "cetx_feed_readers",
            Kind::Gauge,
            "Readers of the market-data updates (feed subscribers, the web view).",
            readers as u64,
        );
        page.single(
            "cetx_feed_backlog_batches",
            Kind::Gauge,
            "Update batches in the ring not yet read by the slowest reader.",
            batches as u64,
        );
        page.counted_by_why(
            "cetx_feed_slow_reader_closes_total",
            "Feed subscribers closed for not reading: a write past the write timeout, or a third fresh snapshot within a minute (408).",
            market.slow_reader_closes(),
        );
        page.counted_by_why(
            "cetx_feed_connections_refused_total",
            "Feed connections refused with 412, by the limit that was full: max_subscribers, or max_subscribers_per_address from one IP address.",
            market.refused(),
        );
        page.counted_by_why(
            "cetx_feed_closes_total",
            "Feed connections closed for what they sent or did not send: a malformed frame (414), a frame too long (415), nothing heard for the idle timeout, no instrument followed within subscribe_timeout_ms.",
            market.closed(),
        );
    }
    journal_stats(page, &stats);
}

/// Each book's resting orders and its `max_orders`: their ratio is how
/// full it is (the log warns from 80%).
fn books(page: &mut Exposition, symbols: &[crate::protocol::Symbol], books: &[BookLoad]) {
    let mut gauge = |name, help, value: fn(&BookLoad) -> u64| {
        page.family(name, Kind::Gauge, help);
        for (symbol, book) in symbols.iter().zip(books) {
            page.sample(name, &[("instrument", symbol.as_str())], value(book));
        }
    };
    gauge(
        "cetx_book_orders",
        "Orders resting in the book, by instrument.",
        |b| b.resting_orders,
    );
    gauge(
        "cetx_book_max_orders",
        "The most orders the book may hold (max_orders), by instrument.",
        |b| b.max_orders,
    );
}

fn journal_stats(page: &mut Exposition, stats: &crate::runtime::RuntimeStats) {
    let journal = &stats.journal;
    page.single(
        "cetx_journal_queue_depth",
        Kind::Gauge,
        "Journal entries handed to the writer and not yet taken by it.",
        stats.journal_queue_depth,
    );
    page.single(
        "cetx_journal_durable_seq",
        Kind::Gauge,
        "The last durable sequence number.",
        stats.durable_seq,
    );
    for (name, help, value) in [
        (
            "cetx_journal_commits_total",
            "Group commits.",
            journal.batches,
        ),
        (
            "cetx_journal_entries_total",
            "Entries made durable.",
            journal.entries,
        ),
        (
            "cetx_journal_bytes_total",
            "Record bytes written.",
            journal.bytes,
        ),
        (
            "cetx_journal_syncs_total",
            "fdatasync calls.",
            journal.syncs,
        ),
        (
            "cetx_journal_segments_grown_total",
            "Segments started as growing files: none was written ahead in time (slower syncs).",
            journal.segments_grown,
        ),
    ] {
        page.single(name, Kind::Counter, help, value);
    }
    let snapshots = &stats.snapshots;
    for (name, help, value) in [
        (
            "cetx_snapshots_written_total",
            "Snapshots written.",
            snapshots.written,
        ),
        (
            "cetx_snapshot_failures_total",
            "Snapshots that could not be written (the log says why).",
            snapshots.failed,
        ),
        (
            "cetx_snapshots_skipped_total",
            "Periodic snapshots skipped while an earlier one was being written.",
            snapshots.skipped,
        ),
    ] {
        page.single(name, Kind::Counter, help, value);
    }
    page.single(
        "cetx_snapshot_last_seq",
        Kind::Gauge,
        "The entry the newest snapshot written since the start was taken after (0: none yet).",
        snapshots.last_seq,
    );
    page.single(
        "cetx_snapshot_replica_seq",
        Kind::Gauge,
        "The entry the snapshot thread's replica of the engine has taken last (0: none yet).",
        snapshots.replica_seq,
    );
    page.histogram(
        "cetx_journal_commit_entries",
        "Entries per group commit.",
        &stats.journal_batch_entries,
        Unit::Count,
    );
    page.histogram(
        "cetx_journal_sync_seconds",
        "Time of each fdatasync of a segment (durability fsync only).",
        &stats.journal_sync_ns,
        Unit::NanosAsSeconds,
    );
}

fn connections(page: &mut Exposition, sources: &Sources) {
    let Some(connections) = &sources.connections else {
        return;
    };
    page.single(
        "cetx_sessions",
        Kind::Gauge,
        "Logged-in broker sessions.",
        connections.sessions() as u64,
    );
    page.single(
        "cetx_pending_connections",
        Kind::Gauge,
        "Broker connections that have not logged in yet.",
        connections.pending() as u64,
    );
    page.single(
        "cetx_pending_connections_kept",
        Kind::Gauge,
        "Of the broker connections that have not logged in yet, those in a slot kept for the addresses brokers logged in from.",
        connections.pending_kept() as u64,
    );
    page.single(
        "cetx_connections_refused_total",
        Kind::Counter,
        "Connections refused with 412 for want of a pending-login slot, the oldest pending ones closed to make room included.",
        connections.refused(),
    );
    page.single(
        "cetx_failed_logins_total",
        Kind::Counter,
        "Broker logins refused for their credentials (402) or their address's failures (417).",
        connections.failed_logins(),
    );
    page.family(
        "cetx_resume_failures_total",
        Kind::Counter,
        "Resumes that failed, by reject code: refused 413 (past the broker's last report) or 419 (an archived segment not in place), or ended 421 (the journal could not be read back).",
    );
    for (code, count) in connections.failed_resumes() {
        page.sample(
            "cetx_resume_failures_total",
            &[("code", &code.to_string())],
            count,
        );
    }
    page.counted_by_why(
        "cetx_slow_reader_closes_total",
        "Sessions closed because their broker stopped reading, by why: a write that could not finish in the idle timeout (write_timeout), or reports piled up unread past 65,536 frames (backlog).",
        connections.slow_reader_closes(),
    );
    page.single(
        "cetx_tls_handshake_failures_total",
        Kind::Counter,
        "TLS handshakes on the broker port that failed, timed out, or were refused for their address's budget.",
        connections.failed_tls_handshakes(),
    );
}

/// The process's resident memory, from `VmRSS` in `/proc/self/status`
/// (in kB there, so no page size is needed); `None` off Linux.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
