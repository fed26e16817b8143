//! The load tester's outputs: a table, a JSON summary, `.hgrm` percentile
//! distributions (HdrHistogram's text format) and an SVG latency plot.
//!
//! Latencies are recorded in nanoseconds and shown in microseconds.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::{LoadReport, SessionStats};

/// The quantiles of the table and the JSON summary.
pub const QUANTILES: [(&str, f64); 5] = [
    ("p50", 0.5),
    ("p90", 0.9),
    ("p99", 0.99),
    ("p99.9", 0.999),
    ("p99.99", 0.9999),
];

/// One histogram's summary, in microseconds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LatencySummary {
    /// Values recorded.
    pub count: u64,
    /// p50, p90, p99, p99.9, p99.99.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p99_9_us: f64,
    /// 99.99th percentile.
    pub p99_99_us: f64,
    /// The largest value.
    pub max_us: f64,
    /// The mean.
    pub mean_us: f64,
}

impl LatencySummary {
    /// The summary of `histogram` (nanoseconds).
    #[must_use]
    pub fn of(histogram: &Histogram<u64>) -> Self {
        let us = |q: f64| histogram.value_at_quantile(q) as f64 / 1_000.0;
        Self {
            count: histogram.len(),
            p50_us: us(0.5),
            p90_us: us(0.9),
            p99_us: us(0.99),
            p99_9_us: us(0.999),
            p99_99_us: us(0.9999),
            max_us: histogram.max() as f64 / 1_000.0,
            mean_us: histogram.mean() / 1_000.0,
        }
    }
}

/// The `--json` summary.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// `"open"` or `"closed"`.
    pub mode: String,
    /// `"fsync"`, `"os"`, `"none"`, or `"external"` for `--addr`.
    pub durability: String,
    /// Sessions.
    pub sessions: usize,
    /// The asked rate, new orders per second (0: closed loop).
    pub rate_per_s: u64,
    /// Closed loop's bound per session.
    pub in_flight: usize,
    /// The asked duration in seconds.
    pub duration_s: f64,
    /// Open loop: the least time between two writes of a session, µs
    /// (`--write-every-us`).
    #[serde(default)]
    pub write_every_us: u64,
    /// The seed.
    pub seed: u64,
    /// New orders written.
    pub sent: u64,
    /// Cancels written.
    pub cancels_sent: u64,
    /// Orders accepted.
    pub accepted: u64,
    /// New orders rejected.
    pub rejected: u64,
    /// Cancels rejected: 302 when their order had gone, 407 when
    /// throttled (`cancel_reject_reasons`).
    pub cancel_rejected: u64,
    /// Fill reports read before the sessions stopped (a session stops
    /// once its own orders are answered: a later fill of one of its
    /// resting orders is not counted).
    pub fills: u64,
    /// New orders unanswered after the drain.
    pub unanswered: u64,
    /// New orders' reject reasons: (reason code, count), by code.
    pub reject_reasons: Vec<(u16, u64)>,
    /// Cancels' reject reasons: (reason code, count), by code.
    #[serde(default)]
    pub cancel_reject_reasons: Vec<(u16, u64)>,
    /// Seconds spent sending.
    pub sending_s: f64,
    /// Accepted orders per second of sending.
    pub accepted_per_s: f64,
    /// Requests (new orders and cancels) written per second of sending.
    pub requests_per_s: f64,
    /// The spawned server's group commits; absent against `--addr`.
    pub journal: Option<JournalSummary>,
    /// Sessions that ended early, and why; their figures up to then are
    /// counted above.
    #[serde(default)]
    pub errors: Vec<String>,
    /// Market-data subscribers during the run.
    #[serde(default)]
    pub feed_subscribers: usize,
    /// Feed messages they read, over all of them.
    #[serde(default)]
    pub feed_messages: u64,
    /// Reports the sessions' brokers had before the run that the server
    /// sent first (all of them when sessions resume from 0, as they do
    /// unless `skip_history`), over all sessions.
    #[serde(default)]
    pub history_reports: u64,
    /// Seconds from login until the slowest session had read all of its
    /// history; `None` when there was none, or a session did not get to
    /// its end.
    #[serde(default)]
    pub history_s: Option<f64>,
    /// Order→ack.
    pub order_to_ack: LatencySummary,
    /// Order→fill (orders that traded on arrival).
    pub order_to_fill: LatencySummary,
}

impl Summary {
    /// The summary of `report`.
    #[must_use]
    pub fn of(report: &LoadReport) -> Self {
        let o = &report.options;
        Self {
            mode: o.mode().to_owned(),
            durability: match o.target {
                super::Target::Addr(_) => "external".to_owned(),
                super::Target::Spawn(d) => durability_name(d).to_owned(),
            },
            sessions: o.sessions,
            rate_per_s: o.rate_per_s,
            in_flight: o.in_flight,
            duration_s: o.duration.as_secs_f64(),
            write_every_us: u64::try_from(o.write_every.as_micros()).unwrap_or(u64::MAX),
            seed: o.seed,
            sent: report.total(|s| s.sent),
            cancels_sent: report.total(|s| s.cancels_sent),
            accepted: report.total(|s| s.accepted),
            rejected: report.total(|s| s.rejected),
            cancel_rejected: report.total(|s| s.cancel_rejected),
            fills: report.total(|s| s.fills),
            unanswered: report.total(|s| s.unanswered),
            reject_reasons: merged(&report.sessions, |s| &s.reject_reasons),
            cancel_reject_reasons: merged(&report.sessions, |s| &s.cancel_reject_reasons),
            sending_s: report.sending_s,
            accepted_per_s: report.accepted_per_s(),
            requests_per_s: report.requests_per_s(),
            journal: report.journal.map(|j| JournalSummary {
                group_commits: j.batches,
                entries: j.entries,
                mean_group_commit: if j.batches == 0 {
                    0.0
                } else {
                    j.entries as f64 / j.batches as f64
                },
                largest_group_commit: j.largest_batch,
                bytes: j.bytes,
                syncs: j.syncs,
                segments_preallocated: j.segments_preallocated,
                segments_grown: j.segments_grown,
            }),
            order_to_ack: LatencySummary::of(&report.ack_ns),
            order_to_fill: LatencySummary::of(&report.fill_ns),
            errors: report.errors.clone(),
            feed_subscribers: report.options.feed_subscribers,
            feed_messages: report.feed_messages,
            history_reports: report.total(|s| s.history_reports),
            history_s: slowest_history(report),
        }
    }
}

/// What the spawned server's journal writer did over the run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JournalSummary {
    /// Group commits (one write, and one sync in `fsync` mode, each).
    pub group_commits: u64,
    /// Entries (commands) journaled.
    pub entries: u64,
    /// Entries per group commit, on average.
    pub mean_group_commit: f64,
    /// Entries in the largest group commit.
    pub largest_group_commit: u64,
    /// Record bytes written.
    pub bytes: u64,
    /// `fdatasync` calls.
    pub syncs: u64,
    /// Segments started from a file written ahead.
    #[serde(default)]
    pub segments_preallocated: u64,
    /// Segments started as growing files.
    #[serde(default)]
    pub segments_grown: u64,
}

/// The name of a durability mode as the config spells it.
#[must_use]
pub const fn durability_name(durability: cetx_gateway::config::Durability) -> &'static str {
    match durability {
        cetx_gateway::config::Durability::Fsync => "fsync",
        cetx_gateway::config::Durability::Os => "os",
        cetx_gateway::config::Durability::None => "none",
    }
}

/// Seconds until the slowest session with a history had read all of it;
/// `None` when none had one, or one did not get to its end.
fn slowest_history(report: &LoadReport) -> Option<f64> {
    let mut slowest = None;
    for (_, session) in report
        .sessions
        .iter()
        .filter(|(_, s)| s.history_reports > 0)
    {
        let took = session.history_s?;
        slowest = Some(slowest.map_or(took, |m: f64| m.max(took)));
    }
    slowest
}

/// The human-readable table.
#[must_use]
pub fn table(summary: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} loop, {} sessions, rate {} orders/s, durability {}, {:.1} s of sending",
        summary.mode, summary.sessions, summary.rate_per_s, summary.durability, summary.sending_s
    );
    if summary.mode == "open" {
        let pace = match summary.write_every_us {
            0 => "each session writes each order when due".to_owned(),
            us => format!("each session writes at most every {us} µs"),
        };
        let _ = writeln!(out, "{pace}; latency counts from each order's due time");
    }
    let _ = writeln!(
        out,
        "sent {}  accepted {}  rejected {}  cancels {} ({} refused)  fills {}  unanswered {}",
        summary.sent,
        summary.accepted,
        summary.rejected,
        summary.cancels_sent,
        summary.cancel_rejected,
        summary.fills,
        summary.unanswered
    );
    if summary.feed_subscribers > 0 {
        let _ = writeln!(
            out,
            "market data: {} subscribers read {} messages",
            summary.feed_subscribers, summary.feed_messages
        );
    }
    if summary.history_reports > 0 {
        let _ = match summary.history_s {
            Some(took) => writeln!(
                out,
                "history: {} reports from before the run, all read {took:.2} s after login ({:.0} reports/s)",
                summary.history_reports,
                summary.history_reports as f64 / took.max(f64::MIN_POSITIVE)
            ),
            None => writeln!(
                out,
                "history: {} reports from before the run, not all read by the end",
                summary.history_reports
            ),
        };
    }
    for error in &summary.errors {
        let _ = writeln!(out, "ENDED EARLY: {error} (figures up to then)");
    }
    if !summary.reject_reasons.is_empty() {
        let _ = writeln!(
            out,
            "reject reasons (code, count): {:?}",
            summary.reject_reasons
        );
    }
    if !summary.cancel_reject_reasons.is_empty() {
        let _ = writeln!(
            out,
            "cancel reject reasons (code, count): {:?}",
            summary.cancel_reject_reasons
        );
    }
    let _ = writeln!(
        out,
        "throughput {:.0} orders/s accepted; {:.0} requests/s sent, cancels included (refused or not)",
        summary.accepted_per_s, summary.requests_per_s
    );
    if let Some(j) = &summary.journal {
        let _ = writeln!(
            out,
            "journal: {} entries in {} group commits (mean {:.0}, largest {}), {:.1} MB, {} syncs, segments {} preallocated + {} grown",
            j.entries,
            j.group_commits,
            j.mean_group_commit,
            j.largest_group_commit,
            j.bytes as f64 / 1e6,
            j.syncs,
            j.segments_preallocated,
            j.segments_grown
        );
    }
    let _ = writeln!(
        out,
        "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "latency µs", "p50", "p90", "p99", "p99.9", "p99.99", "max", "count"
    );
    for (name, l) in [
        ("order→ack", &summary.order_to_ack),
        ("order→fill", &summary.order_to_fill),
    ] {
        let _ = writeln!(
            out,
            "{name:<12} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>10}",
            l.p50_us, l.p90_us, l.p99_us, l.p99_9_us, l.p99_99_us, l.max_us, l.count
        );
    }
    out
}

/// The percentile distribution of `histogram` (nanoseconds) in
/// HdrHistogram's `.hgrm` text format, values in microseconds, five
/// reporting steps per halving of the remaining distance to 100%, as
/// `outputPercentileDistribution` writes it.
#[must_use]
pub fn hgrm(histogram: &Histogram<u64>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if histogram.is_empty() {
        return out;
    }
    // TotalCount is the running count up to each row, as the format has it.
    let mut total = 0;
    for v in histogram.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        let value_us = v.value_iterated_to() as f64 / 1_000.0;
        total += v.count_since_last_iteration();
        if q < 1.0 {
            let _ = writeln!(
                out,
                "{value_us:>12.3} {q:>14.12} {total:>10} {:>14.2}",
                1.0 / (1.0 - q)
            );
        } else {
            let _ = writeln!(out, "{value_us:>12.3} {q:>14.12} {total:>10}");
        }
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]",
        histogram.mean() / 1_000.0,
        histogram.stdev() / 1_000.0
    );
    let _ = writeln!(
        out,
        "#[Max     = {:>12.3}, Total count    = {:>12}]",
        histogram.max() as f64 / 1_000.0,
        histogram.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        histogram.buckets(),
        histogram.distinct_values()
    );
    out
}

/// An SVG plot of latency against percentile: the x axis in "nines"
/// (0%, 90%, 99%, …, 99.999%, evenly spaced as log10 of 1/(1-p)), the y axis
/// log10 of microseconds, one polyline per histogram.
#[must_use]
pub fn svg(title: &str, series: &[(&str, &Histogram<u64>)]) -> String {
    const W: f64 = 800.0;
    const H: f64 = 480.0;
    const LEFT: f64 = 70.0;
    const RIGHT: f64 = 20.0;
    const TOP: f64 = 40.0;
    const BOTTOM: f64 = 50.0;
    const NINES: f64 = 5.0;
    const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
    let max_us = series
        .iter()
        .map(|(_, h)| h.max() as f64 / 1_000.0)
        .fold(1.0, f64::max);
    let min_us = series
        .iter()
        .filter(|(_, h)| !h.is_empty())
        .map(|(_, h)| h.min() as f64 / 1_000.0)
        .fold(max_us, f64::min)
        .max(0.1);
    let (lo, hi) = (
        min_us.log10().floor(),
        max_us.log10().ceil().max(min_us.log10().floor() + 1.0),
    );
    let x_of =
        |q: f64| LEFT + (W - LEFT - RIGHT) * ((1.0 / (1.0 - q).max(1e-5)).log10() / NINES).min(1.0);
    let y_of = |us: f64| TOP + (H - TOP - BOTTOM) * (1.0 - (us.max(0.1).log10() - lo) / (hi - lo));
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        W / 2.0,
        escape(title)
    );
    for n in 0..=5 {
        let q = 1.0 - 10f64.powi(-n);
        let x = x_of(q);
        let label =
            ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"][usize::try_from(n).unwrap_or(0)];
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            H - BOTTOM,
            H - BOTTOM + 16.0
        );
    }
    let mut decade = lo;
    while decade <= hi {
        let us = 10f64.powf(decade);
        let y = y_of(us);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{us} µs</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0
        );
        decade += 1.0;
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">percentile</text>"#,
        W / 2.0,
        H - 12.0
    );
    for (i, (name, histogram)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut points = String::new();
        if !histogram.is_empty() {
            for v in histogram.iter_quantiles(5) {
                let q = v.quantile_iterated_to();
                let us = v.value_iterated_to() as f64 / 1_000.0;
                let _ = write!(points, "{:.1},{:.1} ", x_of(q), y_of(us));
            }
        }
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.trim_end()
        );
        let ly = TOP + 16.0 * (i as f64 + 1.0);
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{ly:.1}" fill="{colour}">{}</text>"#,
            LEFT + 10.0,
            escape(name)
        );
    }
    out.push_str("</svg>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The sessions' counts by reject code, summed, in the order of the codes.
fn merged(
    sessions: &[(u32, SessionStats)],
    counts: impl Fn(&SessionStats) -> &[(u16, u64)],
) -> Vec<(u16, u64)> {
    let mut merged = std::collections::BTreeMap::new();
    for (_, session) in sessions {
        for &(reason, count) in counts(session) {
            *merged.entry(reason).or_insert(0) += count;
        }
    }
    merged.into_iter().collect()
}
