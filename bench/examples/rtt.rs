//! Loopback round trip of one order, send → `OrderAccepted`, through the
//! real server: `cargo run --release -p cetx-bench --example rtt [COUNT]`.
//!
//! For each durability mode (`fsync`, then `os`) it starts the runtime and
//! the TCP server in process on `127.0.0.1:0` with the embedded demo config
//! in a temporary directory under the target directory's `tmp`
//! (`cetx_bench::scratch`), logs in demo broker 1, and sends COUNT
//! (default 5,000) IOC buys of 1 t at the band floor, one at a time: each
//! is accepted (journaled, made durable, reported) and its remainder
//! cancelled. The time from writing the order to reading its acceptance
//! goes into an hdrhistogram; p50, p90, p99, p99.9 and max are printed.
//! One order in flight at a time: this is latency, not throughput.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cetx_gateway::client::{Client, NewOrder};
use cetx_gateway::config::{Durability, ServerConfig};
use cetx_gateway::protocol::{OrderType, ServerMessage, Side, TimeInForce};
use cetx_gateway::runtime::{Clock, Runtime, RuntimeOptions};
use cetx_gateway::server::Server;
use hdrhistogram::Histogram;
use tokio_util::sync::CancellationToken;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: u64 = std::env::args().nth(1).map_or(Ok(5_000), |s| s.parse())?;
    println!("loopback round trip, send → OrderAccepted, {count} orders one at a time");
    println!(
        "{:<6} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "mode", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs"
    );
    for (name, durability) in [("fsync", Durability::Fsync), ("os", Durability::Os)] {
        let histogram = measure(durability, count).await?;
        let us = |q: f64| histogram.value_at_quantile(q) as f64 / 1_000.0;
        println!(
            "{name:<6} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            us(0.5),
            us(0.9),
            us(0.99),
            us(0.999),
            histogram.max() as f64 / 1_000.0
        );
    }
    Ok(())
}

async fn measure(
    durability: Durability,
    count: u64,
) -> Result<Histogram<u64>, Box<dyn std::error::Error>> {
    let data = tempfile::tempdir_in(cetx_bench::scratch::target_tmp()?)?;
    let mut config = ServerConfig::embedded_default();
    config.journal.durability = durability;
    for broker in &mut config.brokers {
        // One order at a time never nears a real throttle; lift it so the
        // measurement is of the server, not of the token bucket.
        broker.throttle.rate_per_s = 1_000_000;
        broker.throttle.burst = 1_000_000;
    }
    let config = Arc::new(config);
    let mut options = RuntimeOptions::new(data.path());
    options.open_market_now = true;
    options.clock = Clock::quiet();
    let runtime = Runtime::start(&config, options)?;
    let server = Server::bind(
        Arc::clone(&config),
        runtime.handle(),
        "127.0.0.1:0".parse()?,
    )
    .await?;
    let addr = server.local_addr();
    let stop = CancellationToken::new();
    let serving = tokio::spawn(server.run(stop.clone()));

    let mut client = Client::connect(addr, 1, "demo-secret-1", 0).await?;
    let mut histogram = Histogram::<u64>::new_with_bounds(1_000, 60_000_000_000, 3)?;
    for i in 1..=count {
        let order = NewOrder {
            client_order_id: i,
            account: 1001,
            symbol: "CEA2025".into(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Ioc,
            // The band floor: nothing to buy there, so it never trades.
            price_ticks: 81_00,
            quantity_t: 1,
        };
        let sent = Instant::now();
        client.submit(order).await?;
        loop {
            let frame = client
                .next_report(Duration::from_secs(10))
                .await?
                .ok_or("no report within 10 s")?;
            if matches!(frame.message, ServerMessage::OrderAccepted { client_order_id, .. } if client_order_id == i)
            {
                histogram.record(sent.elapsed().as_nanos() as u64)?;
                break;
            }
        }
    }
    client.logout(Duration::from_secs(1)).await.ok();
    stop.cancel();
    serving.await??;
    runtime.shutdown()?;
    Ok(histogram)
}
