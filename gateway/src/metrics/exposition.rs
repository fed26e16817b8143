//! Prometheus's text exposition format (version 0.0.4), written by hand:
//! a scrape reads the counters the threads already keep, so there is no
//! registry to feed, only a page to write.

use std::fmt::Write;

use cetx_engine::histogram::HistogramSnapshot;

/// The content type of the page.
pub(super) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A page of metrics being written.
#[derive(Debug, Default)]
pub(super) struct Exposition {
    out: String,
}

/// A metric's kind, as `# TYPE` names it.
#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Exposition {
    /// Starts a metric family: its help text and kind. Its samples follow.
    pub(super) fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample of a whole number.
    pub(super) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.name_and_labels(name, labels, None);
        let _ = writeln!(self.out, " {value}");
    }

    /// A family with one unlabelled sample.
    pub(super) fn single(&mut self, name: &str, kind: Kind, help: &str, value: u64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// A counter family with a sample per `why` label.
    pub(super) fn counted_by_why<'a>(
        &mut self,
        name: &str,
        help: &str,
        counts: impl IntoIterator<Item = (&'a str, u64)>,
    ) {
        self.family(name, Kind::Counter, help);
        for (why, count) in counts {
            self.sample(name, &[("why", why)], count);
        }
    }

    /// A histogram family; `unit` says how its values are shown.
    pub(super) fn histogram(
        &mut self,
        name: &str,
        help: &str,
        snapshot: &HistogramSnapshot,
        unit: Unit,
    ) {
        self.family(name, Kind::Histogram, help);
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        for (i, count) in snapshot.counts.iter().enumerate() {
            cumulative += count;
            let le = match snapshot.upper_bounds.get(i) {
                Some(&bound) => unit.show(bound),
                None => "+Inf".to_owned(),
            };
            self.name_and_labels(&bucket, &[], Some(&le));
            let _ = writeln!(self.out, " {cumulative}");
        }
        let sum = unit.show(snapshot.sum);
        let _ = writeln!(self.out, "{name}_sum {sum}\n{name}_count {cumulative}");
    }

    fn name_and_labels(&mut self, name: &str, labels: &[(&str, &str)], le: Option<&str>) {
        self.out.push_str(name);
        if labels.is_empty() && le.is_none() {
            return;
        }
        self.out.push('{');
        let le = le.map(|le| ("le", le));
        for (i, (key, value)) in labels.iter().copied().chain(le).enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let value = value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            let _ = write!(self.out, "{key}=\"{value}\"");
        }
        self.out.push('}');
    }

    /// The page.
    pub(super) fn finish(self) -> String {
        self.out
    }
}

/// How a histogram's whole-number values are shown.
#[derive(Clone, Copy, Debug)]
pub(super) enum Unit {
    /// As they are (entries, say).
    Count,
    /// Nanoseconds, shown as seconds (Prometheus's base unit), exactly.
    NanosAsSeconds,
}

impl Unit {
    fn show(self, value: u64) -> String {
        match self {
            Self::Count => value.to_string(),
            Self::NanosAsSeconds => {
                let fraction = format!("{:09}", value % 1_000_000_000);
                let fraction = fraction.trim_end_matches('0');
                let fraction = if fraction.is_empty() { "0" } else { fraction };
                format!("{}.{fraction}", value / 1_000_000_000)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Exposition, Kind, Unit};
    use cetx_engine::histogram::HistogramSnapshot;

    #[test]
    fn families_samples_and_histograms_are_written_as_prometheus_reads_them() {
        let mut page = Exposition::default();
        page.family("cetx_trades_total", Kind::Counter, "Trades.");
        page.sample("cetx_trades_total", &[("instrument", "CEA\"24")], 3);
        page.single("cetx_sessions", Kind::Gauge, "Sessions.", 2);
        let snapshot = HistogramSnapshot {
            upper_bounds: vec![1024, 2048],
            counts: vec![1, 0, 2],
            sum: 10_000,
        };
        page.histogram(
            "cetx_sync_seconds",
            "Syncs.",
            &snapshot,
            Unit::NanosAsSeconds,
        );
        assert_eq!(
            page.finish(),
            "# HELP cetx_trades_total Trades.\n# TYPE cetx_trades_total counter\n\
             cetx_trades_total{instrument=\"CEA\\\"24\"} 3\n\
             # HELP cetx_sessions Sessions.\n# TYPE cetx_sessions gauge\ncetx_sessions 2\n\
             # HELP cetx_sync_seconds Syncs.\n# TYPE cetx_sync_seconds histogram\n\
             cetx_sync_seconds_bucket{le=\"0.000001024\"} 1\n\
             cetx_sync_seconds_bucket{le=\"0.000002048\"} 1\n\
             cetx_sync_seconds_bucket{le=\"+Inf\"} 3\n\
             cetx_sync_seconds_sum 0.00001\ncetx_sync_seconds_count 3\n"
        );
    }
}
