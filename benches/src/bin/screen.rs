//! The cost of fraud screening (issue 8): full applies of sales with and
//! without the `moderate` preset on a network with realistic signals, and
//! the time to backtest a year of history under candidate rules.
//!
//! `cargo run --release -p upline-benches --bin screen [-- --quick]`
//! (`--quick`: 10,000 members, for a smoke run).

use std::time::Instant;

use rust_decimal::Decimal;
use serde_json::json;
use upline::event::{MemberJoined, SaleRecorded, ScreeningRulesSet, Signals};
use upline::{Engine, Event, Timestamp};
use upline_benches::{apply_all, network, Rng, Shape};

const DAY_MS: i64 = 86_400_000;
/// 2025-01-01T00:00:00Z: members join over the year from here.
const JOINS_FROM_MS: i64 = 1_735_689_600_000;
/// 2026-01-01T00:00:00Z: sales happen over the year from here.
const SALES_FROM_MS: i64 = 1_767_225_600_000;

fn time(ms: i64) -> String {
    Timestamp::from_millis(ms).expect("in range").to_string()
}

/// What a member looks like to the host: one IP from a shared pool (NAT),
/// one of 50 user agents, its own device and card, except that 1 % reuse
/// their sponsor's device and card (self-referrals) and 0.5 % sign up with
/// a disposable address.
struct Identity {
    ip: u32,
    agent: u8,
    device: u64,
    card: u64,
}

fn identities(network: &[Option<u64>], seed: u64) -> Vec<Identity> {
    let mut rng = Rng(seed);
    let pool = (network.len() as u64 / 2).max(1);
    let mut out: Vec<Identity> = Vec::with_capacity(network.len());
    for (i, sponsor) in network.iter().enumerate() {
        let ip = rng.below(pool) as u32;
        let agent = rng.below(50) as u8;
        let (device, card) = match sponsor {
            Some(s) if rng.below(100) == 0 => (out[*s as usize].device, out[*s as usize].card),
            _ => (i as u64, i as u64),
        };
        out.push(Identity {
            ip,
            agent,
            device,
            card,
        });
    }
    out
}

fn ip_text(ip: u32) -> String {
    format!("10.{}.{}.{}", (ip >> 16) & 255, (ip >> 8) & 255, ip & 255)
}

fn joins(network: &[Option<u64>], ids: &[Identity], signals: bool, seed: u64) -> Vec<Event> {
    let mut rng = Rng(seed);
    let step = 365 * DAY_MS / network.len().max(1) as i64;
    network
        .iter()
        .enumerate()
        .map(|(i, sponsor)| {
            let at = JOINS_FROM_MS + i as i64 * step;
            let id = &ids[i];
            let domain = if rng.below(200) == 0 {
                "mailinator.com"
            } else {
                "example.com"
            };
            Event::MemberJoined(MemberJoined {
                member: format!("u{i}"),
                sponsor: sponsor.map(|s| format!("u{s}")),
                at: time(at),
                signals: signals.then(|| Signals {
                    ip: Some(ip_text(id.ip)),
                    device: Some(format!("dev-{}", id.device)),
                    email: Some(format!("user{i}@{domain}")),
                    payment_fingerprint: None,
                    user_agent: Some(format!("Mozilla/5.0 agent-{}", id.agent)),
                    clicked_at: Some(time(at - 5_000 - rng.below(600_000) as i64)),
                }),
            })
        })
        .collect()
}

/// `count` sales spread evenly over a year, buyers uniform, 1.00–999.99
/// USD; with signals, each carries the buyer's IP, device and card; about
/// 5 % are refunded by half two days later.
fn sales(ids: &[Identity], count: u64, signals: bool, refunds: bool, seed: u64) -> Vec<Event> {
    let mut rng = Rng(seed);
    let step = 365 * DAY_MS / count.max(1) as i64;
    let mut out = Vec::with_capacity(count as usize * 21 / 20);
    for s in 0..count {
        let buyer = rng.below(ids.len() as u64) as usize;
        let cents = 100 + rng.below(99_900) as i64;
        let at = SALES_FROM_MS + s as i64 * step;
        let id = &ids[buyer];
        out.push(Event::SaleRecorded(SaleRecorded {
            sale: format!("s{s}"),
            buyer: format!("u{buyer}"),
            amount: upline::money::DecimalText::new(Decimal::new(cents, 2).to_string()),
            currency: "USD".to_string(),
            at: time(at),
            category: None,
            signals: signals.then(|| Signals {
                ip: Some(ip_text(id.ip)),
                device: Some(format!("dev-{}", id.device)),
                payment_fingerprint: Some(format!("card-{}", id.card)),
                ..Signals::default()
            }),
            fx: None,
        }));
        if refunds && rng.below(20) == 0 {
            out.push(Event::RefundRecorded(upline::event::RefundRecorded {
                refund: format!("r{s}"),
                sale: format!("s{s}"),
                amount: upline::money::DecimalText::new(Decimal::new(cents / 2, 2).to_string()),
                at: time(at + 2 * DAY_MS),
            }));
        }
    }
    out
}

fn rules(id: &str, preset: &str) -> ScreeningRulesSet {
    serde_json::from_value(json!({"id": id, "preset": preset,
        "blocklist": ["mailinator.com"], "at": "2025-01-01T00:00:00Z"}))
    .expect("valid rules")
}

/// Nanoseconds this thread has spent on a CPU (Linux; `None` elsewhere).
/// The machine may be shared: CPU time is what a sale costs, wall time
/// also counts waiting for a core.
fn cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Sales per CPU second (wall second where CPU time is not available) of
/// applying `sales` (after `setup`) on a fresh engine.
fn run(label: &str, setup: &[Event], sales: &[Event]) -> Result<f64, upline::Error> {
    let mut engine = Engine::new();
    apply_all(&mut engine, setup)?;
    let cpu = cpu_ns();
    let started = Instant::now();
    apply_all(&mut engine, sales)?;
    let wall = started.elapsed().as_secs_f64();
    let seconds = match (cpu, cpu_ns()) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
        _ => wall,
    };
    let rate = sales.len() as f64 / seconds;
    let held: usize = engine
        .ledger()
        .entries()
        .filter(|e| e.kind == upline::ledger::EntryKind::Hold)
        .count();
    println!(
        "{label:<32} {rate:>9.0} sales/CPU-s {:>9.0} sales/s wall  ({held} lines held)",
        sales.len() as f64 / wall
    );
    Ok(rate)
}

fn flag(name: &str) -> Option<String> {
    std::env::args().find_map(|a| a.strip_prefix(&format!("--{name}=")).map(str::to_string))
}

fn main() -> Result<(), upline::Error> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (mut members, mut count, mut year) = if quick {
        (10_000u64, 20_000u64, 20_000u64)
    } else {
        (1_000_000, 500_000, 1_000_000)
    };
    // --members=N --sales=N --year=N override the sizes; --only=plain|signals|moderate|backtest
    // runs one measurement (for profiling).
    let number =
        |name: &str, default: u64| flag(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    members = number("members", members);
    count = number("sales", count);
    year = number("year", year);
    let only = flag("only");
    let wants = |what: &str| only.as_deref().is_none_or(|o| o == what);
    let rounds = number("rounds", if quick { 3 } else { 2 });
    println!(
        "network: {members} members (PEERS.md shape), joined over 2025; {count} sales over 2026"
    );
    let net = network(Shape::Preferential, members, 7);
    let ids = identities(&net, 8);
    let plain_joins = joins(&net, &ids, false, 9);
    let signal_joins = joins(&net, &ids, true, 9);

    // The best of three rounds each, so a noisy neighbour counts less.
    let mut best = [0f64; 3];
    for _ in 0..rounds {
        if wants("plain") {
            let plain = sales(&ids, count, false, false, 10);
            best[0] = best[0].max(run("no screening, no signals", &plain_joins, &plain)?);
        }
        let signalled = sales(&ids, count, true, false, 10);
        if wants("signals") {
            best[1] = best[1].max(run(
                "signals recorded, no rules",
                &signal_joins,
                &signalled,
            )?);
        }
        if wants("moderate") {
            let mut setup = signal_joins.clone();
            let mut ruleset = rules("moderate", "moderate");
            // --drop=ring,ladder: the moderate preset without those rules
            // (to see what each rule costs).
            if let Some(drop) = flag("drop") {
                let kept: Vec<serde_json::Value> = upline::screen::preset("moderate")
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|r| !drop.split(',').any(|d| r["id"] == d))
                    .collect();
                ruleset.preset = None;
                ruleset.rules = Some(kept);
            }
            setup.push(Event::ScreeningRulesSet(ruleset));
            best[2] = best[2].max(run("signals + moderate preset", &setup, &signalled)?);
        }
    }
    if only.is_none() {
        println!(
            "time per sale vs no screening: signals {:+.1} %, signals + moderate {:+.1} %; \
             moderate vs signals alone {:+.1} %  (best of {rounds} rounds)",
            (best[0] / best[1] - 1.0) * 100.0,
            (best[0] / best[2] - 1.0) * 100.0,
            (best[1] / best[2] - 1.0) * 100.0
        );
    }
    if !wants("backtest") {
        return Ok(());
    }

    // Backtest: a year of history (joins, the moderate rules, sales with
    // 5 % refunds) replayed under the strict preset.
    let mut history = signal_joins;
    history.push(Event::ScreeningRulesSet(rules("moderate", "moderate")));
    history.extend(sales(&ids, year, true, true, 11));
    let cpu = cpu_ns();
    let started = Instant::now();
    let report = upline::backtest(&history, &rules("strict", "strict"))?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu
        .zip(cpu_ns())
        .map_or(wall, |(a, b)| b.saturating_sub(a) as f64 / 1e9);
    println!(
        "backtest of {} events ({} sales) under strict: {cpu:.1} CPU-s ({wall:.1} s wall); \
         {} sales changed, strict blocks {} USD more",
        history.len(),
        report.sales,
        report.sales_changed,
        report
            .blocked_difference
            .get("USD")
            .copied()
            .unwrap_or_default()
    );
    Ok(())
}
