//! Latency of a single `Engine::apply` of a sale: on a network of N
//! members (default 1,000,000), applies S sales (default 200,000) one at a
//! time, times each with `Instant`, and prints percentiles in microseconds,
//! and the five slowest sales with their place in the run (a pause that a
//! growing table causes comes back at the same places run after run; one
//! the machine causes does not).
//!
//! Then a control, in the same run: the same number of timings of a fixed
//! piece of arithmetic that allocates nothing and touches no memory, sized
//! to the mean `apply`. Whatever its tail shows (a preempted vCPU, a timer
//! interrupt, the other core's neighbour) is the machine's, not the
//! engine's: the floor under any p99 or max measured here.
//!
//! With `--rules PRESET` (`moderate`, `strict`, …) a screening rule set
//! of that preset is in force before the sales (the sales carry no
//! signals: what the rules cost a sale that gives them nothing to match).
//!
//! `cargo run --release -p upline-benches --bin latency [-- --members N] [--sales S] [--shape deep] [--rules PRESET]`

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
    if let Some(preset) = arg("--rules") {
        println!("screening: the {preset} preset in force");
        engine.apply_json(&format!(
            r#"{{"type":"screening_rules_set","id":"bench","preset":"{preset}","at":"2025-01-01T00:00:00Z"}}"#
        ))?;
    }
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
    let mean = total / count as u32;
    let mut slowest: Vec<(Duration, usize)> = times.iter().copied().zip(0..).collect();
    slowest.sort_unstable_by(|a, b| b.cmp(a));
    println!(
        "mean {:.2} µs ({:.0} sales/s including the timer)",
        micros(total) / count as f64,
        count as f64 / total.as_secs_f64()
    );
    print_percentiles("apply", &mut times);
    let slowest: Vec<String> = slowest[..5.min(slowest.len())]
        .iter()
        .map(|(d, i)| format!("#{i} {:.0} µs", micros(*d)))
        .collect();
    println!("slowest applies: {}", slowest.join(", "));

    // The control: fixed arithmetic of about the mean apply's length.
    let rounds = calibrate(mean);
    let mut control = Vec::with_capacity(times.len());
    for i in 0..times.len() {
        let t = Instant::now();
        std::hint::black_box(work(i as u64, rounds));
        control.push(t.elapsed());
    }
    print_percentiles("control (fixed arithmetic, no memory)", &mut control);
    Ok(())
}

/// A dependent chain of multiply-adds on registers only: the same work
/// every call, no allocation, no memory beyond the stack.
fn work(seed: u64, rounds: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..rounds {
        x = std::hint::black_box(x.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1));
    }
    x
}

/// The rounds of [`work`] that take about `target` (at least 1).
fn calibrate(target: Duration) -> u64 {
    let probe = 100_000;
    let t = Instant::now();
    for i in 0..10 {
        std::hint::black_box(work(i, probe));
    }
    let per_round = t.elapsed().as_secs_f64() / (10 * probe) as f64;
    ((target.as_secs_f64() / per_round) as u64).max(1)
}

fn print_percentiles(what: &str, times: &mut [Duration]) {
    times.sort_unstable();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "{what}: p50 {:.2} µs  p90 {:.2} µs  p99 {:.2} µs  p99.9 {:.2} µs  max {:.2} µs",
        micros(at(0.50)),
        micros(at(0.90)),
        micros(at(0.99)),
        micros(at(0.999)),
        micros(times[times.len() - 1])
    );
}
