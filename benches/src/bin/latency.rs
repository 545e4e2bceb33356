//! Latency of a single `Engine::apply` of a sale: on a network of N
//! members (default 1,000,000), applies S sales (default 200,000) one at a
//! time, times each with `Instant`, and prints percentiles in microseconds.
//!
//! `cargo run --release -p upline-benches --bin latency [-- --members N] [--sales S] [--shape deep]`

use std::time::{Duration, Instant};

use upline_benches::{build_engine, buyers, sales, Shape};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() -> Result<(), upline::Error> {
    let members: u64 = arg("--members").map_or(1_000_000, |n| n.parse().expect("--members N"));
    let count: u64 = arg("--sales")
        .map_or(200_000, |n| n.parse().expect("--sales N"))
        .max(1);
    let shape = match arg("--shape").as_deref() {
        Some("deep") => Shape::DeepChains,
        _ => Shape::Preferential,
    };
    println!(
        "latency: {members} members ({}), {count} single sales with Engine::apply (in memory)",
        shape.name()
    );
    let mut engine = build_engine(shape, members, 7)?;
    let events = sales(0, count, buyers(shape, members), 13);
    let mut times = Vec::with_capacity(events.len());
    let started = Instant::now();
    for event in &events {
        let t = Instant::now();
        let applied = engine.apply(event)?;
        times.push(t.elapsed());
        std::hint::black_box(applied);
    }
    let total = started.elapsed();
    times.sort_unstable();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "mean {:.2} µs ({:.0} sales/s including the timer)",
        micros(total) / count as f64,
        count as f64 / total.as_secs_f64()
    );
    println!(
        "p50 {:.2} µs  p90 {:.2} µs  p99 {:.2} µs  p99.9 {:.2} µs  max {:.2} µs",
        micros(at(0.50)),
        micros(at(0.90)),
        micros(at(0.99)),
        micros(at(0.999)),
        micros(times[times.len() - 1])
    );
    Ok(())
}
