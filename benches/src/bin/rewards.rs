//! Rewards and growth metrics (issue 9): what milestone and metric
//! maintenance adds to joins and to the full apply of a sale, and how long
//! leaderboards, cohort K and network metrics take, on the PEERS.md network.
//!
//! `cargo run --release -p upline-benches --bin rewards [-- --quick]`
//! (`--quick`: 10,000 members and 20,000 sales instead of 1M and 1M;
//! `--variant none|unreachable|default`: only that apply, for profiling).
//! Apply rates are per second of this thread's CPU time (Linux), so a busy
//! shared machine distorts them less; query times are wall-clock.

use std::time::Instant;

use upline::{Engine, Event};
use upline_benches::{join_events, sale_events, sponsors};

fn secs(started: Instant) -> f64 {
    started.elapsed().as_secs_f64()
}

fn ms(started: Instant) -> String {
    format!("{:>9.1} ms", started.elapsed().as_secs_f64() * 1e3)
}

/// Seconds this thread has spent on a CPU (Linux `schedstat`), so that
/// rates do not count the time other processes on a shared machine held the
/// CPU; wall-clock time where it is not available.
fn cpu_secs() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = text.split_whitespace().next()?.parse().ok()?;
    (ns > 0.0).then_some(ns / 1e9)
}

fn apply_all(engine: &mut Engine, events: &[Event]) -> Result<f64, upline::Error> {
    let started = Instant::now();
    let cpu = cpu_secs();
    for chunk in events.chunks(upline::limits::MAX_BATCH) {
        for result in engine.apply_batch(chunk)? {
            result?;
        }
    }
    Ok(match (cpu, cpu_secs()) {
        (Some(before), Some(after)) => after - before,
        _ => secs(started),
    })
}

/// The default set's five milestones with thresholds nobody reaches: the
/// evaluation runs on every qualifying sale, but no award is written.
const UNREACHABLE: &str = r#"{"type":"milestones_set","at":"2026-01-01T00:00:00Z","milestones":[
    {"id":"a","name":"A","threshold":1000000001,"rewards":[{"bonus":{"amount":"10.00","currency":"USD"}}]},
    {"id":"b","name":"B","threshold":1000000010,"rewards":[{"perk":"pro_upgrade"}]},
    {"id":"c","name":"C","threshold":1000000050,"rewards":[{"bonus":{"amount":"500.00","currency":"USD"}}]},
    {"id":"d","name":"D","threshold":1000000100,"rewards":[{"bonus":{"amount":"1000.00","currency":"USD"}}]},
    {"id":"e","name":"E","threshold":1000000500,"rewards":[{"bonus":{"amount":"5000.00","currency":"USD"}}]}]}"#;

/// Joins then sales into a fresh engine, with `set` (a `milestones_set`
/// event) in force from the start; returns the engine and the (joins/s,
/// sales/s) rates.
fn run(
    joins: &[Event],
    sales: &[Event],
    set: Option<&str>,
) -> Result<(Engine, f64, f64), upline::Error> {
    let mut engine = Engine::new();
    if let Some(set) = set {
        engine.apply_json(set)?;
    }
    let join_secs = apply_all(&mut engine, joins)?;
    let sale_secs = apply_all(&mut engine, sales)?;
    Ok((
        engine,
        joins.len() as f64 / join_secs,
        sales.len() as f64 / sale_secs,
    ))
}

fn main() -> Result<(), upline::Error> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (members, sales) = if quick {
        (10_000, 20_000)
    } else {
        (1_000_000, 1_000_000)
    };
    println!(
        "network: {members} members (PEERS.md shape); {sales} sales on 2026-02-01, default 7-level plan"
    );
    let joins = join_events(&sponsors(members, 7));
    let sale_list = sale_events(members, sales, 13);

    // `--variant none|unreachable|default`: one apply of that variant and
    // nothing else, for `perf stat` (instruction counts do not depend on
    // what else the machine runs).
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--variant") {
        let set = match args.get(i + 1).map(String::as_str) {
            Some("unreachable") => Some(UNREACHABLE),
            Some("default") => Some(r#"{"type":"milestones_set","at":"2026-01-01T00:00:00Z"}"#),
            _ => None,
        };
        let (_, joins_per_s, sales_per_s) = run(&joins, &sale_list, set)?;
        println!("joins {joins_per_s:.0}/s, full apply {sales_per_s:.0}/s");
        return Ok(());
    }

    // Best of three rounds each way, interleaved, to damp the noise of a
    // shared machine (quick mode: one round).
    let rounds = if quick { 1 } else { 3 };
    let default_set = r#"{"type":"milestones_set","at":"2026-01-01T00:00:00Z"}"#;
    let variants = [
        ("no milestone set", None),
        ("set, never reached", Some(UNREACHABLE)),
        ("default set", Some(default_set)),
    ];
    let mut best = [(0f64, 0f64); 3];
    let mut engine = None;
    for round in 0..rounds {
        for (i, (_, set)) in variants.iter().enumerate() {
            let (built, joins_per_s, sales_per_s) = run(&joins, &sale_list, *set)?;
            best[i] = (best[i].0.max(joins_per_s), best[i].1.max(sales_per_s));
            if round + 1 == rounds && i == 2 {
                engine = Some(built);
            }
        }
    }
    let overhead = |plain: f64, with: f64| (plain / with - 1.0) * 100.0;
    for (i, (name, _)) in variants.iter().enumerate() {
        println!(
            "joins, {name:<20} {:>10.0} events/s  ({:+.1} % time per join vs no set)",
            best[i].0,
            overhead(best[0].0, best[i].0)
        );
    }
    for (i, (name, _)) in variants.iter().enumerate() {
        println!(
            "full apply, {name:<20}{:>10.0} sales/s   ({:+.1} % time per sale vs no set)",
            best[i].1,
            overhead(best[0].1, best[i].1)
        );
    }
    let Some(engine) = engine else {
        return Ok(());
    };
    let awards: usize = ["u0", "u1", "u2"]
        .iter()
        .map(|m| engine.awards(m).map(|a| a.len()).unwrap_or(0))
        .sum();
    let bonuses = engine
        .ledger()
        .entries()
        .filter(|e| e.kind == upline::ledger::EntryKind::Bonus)
        .count();
    println!("(default set: {bonuses} bonus entries written; awards held by u0..u2: {awards})");

    let month = ("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z");
    for (metric, currency, window) in [
        ("qualified_referrals", None, month),
        ("net_earnings", Some("USD"), month),
        ("sales_volume", Some("USD"), month),
        (
            "downline_growth",
            None,
            ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
        ),
    ] {
        let started = Instant::now();
        let board = engine.leaderboard(metric, window.0, window.1, 100, currency)?;
        println!(
            "leaderboard {metric:<20} top 100 over a month: {}  (#1 {} = {})",
            ms(started),
            board.entries.first().map_or("-", |e| &*e.member),
            board
                .entries
                .first()
                .map_or(String::new(), |e| e.value.to_string()),
        );
    }
    let started = Instant::now();
    let report = engine.viral_coefficient(30, 7, None, None)?;
    println!(
        "cohort K (W = 30 d, weekly cohorts):             {}  (K = {:.3}, cycle {:.1} d)",
        ms(started),
        report.overall.k,
        report.cycle_time_days
    );
    let started = Instant::now();
    let network = engine.network_metrics();
    println!(
        "network metrics:                                 {}  (max depth {}, branching {:.2})",
        ms(started),
        network.max_depth,
        network.mean_branching_factor
    );
    let started = Instant::now();
    let member = engine.member_metrics("u1", Some(month.0), Some(month.1))?;
    println!(
        "member metrics of u1 (downline {}):          {}",
        member.downline_size,
        ms(started)
    );
    let started = Instant::now();
    let projection = engine.projection(30, 12, Some(1000))?;
    println!(
        "projection (measured K, 12 cycles):              {}  (total {:.0})",
        ms(started),
        projection.closed_form_total
    );
    let started = Instant::now();
    let tree = engine.export_subtree_json("u0", 64, 10_000)?;
    println!(
        "subtree export JSON, 10,000 nodes:               {}  ({} nodes)",
        ms(started),
        tree["nodes"]
    );
    let started = Instant::now();
    let dot = engine.export_subtree_dot("u0", 64, 10_000)?;
    println!(
        "subtree export DOT, 10,000 nodes:                {}  ({} bytes)",
        ms(started),
        dot.len()
    );
    let mut engine = engine;
    engine.apply_json(
        r#"{"type":"challenge_created","id":"c1","name":"push","team":{"leader":"u0","depth":3},
            "metric":"sales_volume","from":"2026-02-01T00:00:00Z","to":"2026-03-01T00:00:00Z",
            "target":"1000.00","reward":{"amount":"1000.00","currency":"USD"},"split":"pro_rata"}"#,
    )?;
    let started = Instant::now();
    let status = engine.challenge_status("c1", "2026-03-01T00:00:00Z")?;
    println!(
        "challenge status (u0, depth 3):                  {}  ({} members with progress)",
        ms(started),
        status.members.len()
    );
    let started = Instant::now();
    engine.apply_json(r#"{"type":"challenge_closed","id":"c1","at":"2026-03-01T00:00:00Z"}"#)?;
    println!(
        "challenge close (pro rata split):                {}",
        ms(started)
    );
    Ok(())
}
