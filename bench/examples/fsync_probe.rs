//! How long one `fdatasync` takes on this machine's disk: the floor under
//! every acknowledgement in `fsync` mode, whatever cetx does.
//!
//! `cargo run --release -p cetx-bench --example fsync_probe [SECONDS]`
//!
//! For two record sizes (300 B, about one order's journal entry; 20 KB,
//! a group commit at 50k orders/s), it appends a record and `fdatasync`s
//! it, over and over for SECONDS (default 4) each, in a file under
//! the target directory's `tmp` (`cetx_bench::scratch`): first a file that grows with each append (what the journal
//! does), then a file written with zeros beforehand and overwritten in
//! place (so no sync has to record a new file size). Past 256 MiB it
//! starts again from the front (the growing file emptied first, untimed),
//! so that every row runs its whole SECONDS. It prints the
//! latency percentiles of the syncs in microseconds.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use cetx_bench::load::report::QUANTILES;
use cetx_bench::load::session::latency_histogram;

/// Bytes written with zeros beforehand for the in-place runs.
const PREZEROED_BYTES: u64 = 256 << 20;

fn main() -> std::io::Result<()> {
    let seconds = std::env::args()
        .nth(1)
        .map_or(Ok(4.0), |s| s.parse::<f64>())
        .unwrap_or(4.0);
    let run = Duration::from_secs_f64(seconds);
    let path = cetx_bench::scratch::target_tmp()?.join("fsync-probe.dat");
    println!(
        "fdatasync latency, µs, {seconds} s per row, {}",
        path.display()
    );
    println!(
        "{:<22} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "file, record", "syncs", "p50", "p90", "p99", "p99.9", "max"
    );
    for size in [300_usize, 20_000] {
        for prezeroed in [false, true] {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)?;
            if prezeroed {
                zero_fill(&file)?;
            }
            let record = vec![0x5a_u8; size];
            let mut histogram = latency_histogram();
            let mut offset = 0_u64;
            let until = Instant::now() + run;
            while Instant::now() < until {
                if offset + size as u64 > PREZEROED_BYTES {
                    // The end of the zeros: start again from the front, the
                    // growing file emptied first so that it grows again.
                    if !prezeroed {
                        file.set_len(0)?;
                    }
                    offset = 0;
                }
                file.write_all_at(&record, offset)?;
                offset += size as u64;
                let start = Instant::now();
                file.sync_data()?;
                let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                histogram.saturating_record(ns);
            }
            let us = |q: f64| histogram.value_at_quantile(q) as f64 / 1_000.0;
            let name = format!(
                "{}, {size} B",
                if prezeroed { "prezeroed" } else { "growing" }
            );
            // p50, p90, p99 and p99.9 of the table's quantiles, then max.
            println!(
                "{name:<22} {:>8} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>9.0}",
                histogram.len(),
                us(QUANTILES[0].1),
                us(QUANTILES[1].1),
                us(QUANTILES[2].1),
                us(QUANTILES[3].1),
                histogram.max() as f64 / 1_000.0
            );
        }
    }
    std::fs::remove_file(&path)
}

/// Writes zeros over the whole file and syncs it.
fn zero_fill(file: &File) -> std::io::Result<()> {
    let zeros = vec![0_u8; 1 << 20];
    let mut writer = file;
    for _ in 0..PREZEROED_BYTES / zeros.len() as u64 {
        writer.write_all(&zeros)?;
    }
    file.sync_all()
}
