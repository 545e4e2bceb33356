//! Criterion benchmarks of the core (issue 7): the calculation alone, the
//! full `apply`, `apply_batch` of 1,000 sales, replay and `verify` of a
//! 10k-event log, a `balances` query, and durable SQLite `apply_batch` at
//! batch sizes 1, 100 and 10,000.
//!
//! ```sh
//! cargo bench -p upline-benches                 # full run (a few minutes)
//! cargo bench -p upline-benches -- --quick      # smoke (CI)
//! cargo bench -p upline-benches -- calculate    # one group (networks are still built)
//! ```
//!
//! Every network, event log and sale is generated once, outside the timed
//! loops; the benches that apply sales generate each sample's fresh sales
//! (unique ids) before its timer starts, through `iter_custom`. The engine
//! under `apply` keeps growing as samples run, as a real one does. Each
//! network first takes `min(2 × members, 200,000)` sales, so `balances`
//! reads members with a few ledger entries each (its cost grows with them).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use upline::calc::{self, Calculation, SaleInput};
use upline::{Engine, MemoryStore, Plan, Timestamp};
use upline_benches::{
    apply_all, build_engine, buyers, event_log, joins, network, sales, Rng, Shape,
};
use upline_sqlite::SqliteStore;

/// Small samples and short measurements: the whole suite fits in a few
/// minutes on two shared cores, and `--quick` in well under one.
fn group<'a>(c: &'a mut Criterion, name: &str, elements: u64) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(elements));
    group
}

fn size_name(members: u64) -> String {
    match members {
        m if m >= 1_000_000 && m % 1_000_000 == 0 => format!("{}M", m / 1_000_000),
        m if m >= 1_000 && m % 1_000 == 0 => format!("{}k", m / 1_000),
        m => m.to_string(),
    }
}

/// Calculation, apply, apply_batch and balances on one network, built once.
fn on_network(c: &mut Criterion, shape: Shape, members: u64) {
    let id = format!("{}/{}", shape.name(), size_name(members));
    let mut engine = build_engine(shape, members, 7).expect("network builds");
    let who = buyers(shape, members);
    let width = who.end - who.start;
    let preload = (2 * members).min(200_000);
    apply_all(&mut engine, &sales(0, preload, who.clone(), 5)).expect("sales apply");
    let mut next_sale = preload;

    // The calculation alone: sale -> distribution into a reused buffer.
    let plan = Plan::default_plan();
    let usd = engine
        .currencies()
        .get("USD", "currency")
        .expect("USD is built in");
    let at = Timestamp::parse(upline_benches::SOLD_AT, "at").expect("valid time");
    let mut rng = Rng(11);
    let inputs: Vec<SaleInput> = (0..1 << 16)
        .map(|_| SaleInput {
            buyer: (who.start + rng.below(width)) as u32,
            amount: rust_decimal::Decimal::new(100 + rng.below(99_900) as i64, 2),
            currency: usd,
            at,
        })
        .collect();
    let mut out = Calculation::default();
    {
        let mut g = group(c, "calculate", 1);
        let mut next = 0usize;
        g.bench_function(&id, |b| {
            b.iter(|| {
                let input = inputs[next & (inputs.len() - 1)];
                next += 1;
                calc::calculate(&plan, plan.levels(), engine.graph(), input, &mut out)
                    .expect("calculates");
                black_box(out.retained)
            })
        });
        g.finish();
    }
    {
        let mut g = group(c, "calculate_batch_1000", 1_000);
        let mut next = 0usize;
        g.bench_function(&id, |b| {
            b.iter(|| {
                let start = next & (inputs.len() - 1_000 - 1);
                next += 1_000;
                let mut retained = rust_decimal::Decimal::ZERO;
                for input in &inputs[start..start + 1_000] {
                    calc::calculate(&plan, plan.levels(), engine.graph(), *input, &mut out)
                        .expect("calculates");
                    retained += out.retained;
                }
                black_box(retained)
            })
        });
        g.finish();
    }

    // A balances query (id lookup + a walk of the member's entry chain, so
    // its cost grows with the member's entries): on the network after
    // `preload` sales, before the apply benches add more.
    let mut rng = Rng(19);
    let ids: Vec<String> = (0..4_096)
        .map(|_| format!("u{}", rng.below(members)))
        .collect();
    {
        let mut g = group(c, "balances", 1);
        let mut next = 0usize;
        g.bench_function(&id, |b| {
            b.iter(|| {
                let member = &ids[next & (ids.len() - 1)];
                next += 1;
                black_box(
                    engine
                        .balances(member, "USD", "2026-03-15T00:00:00Z")
                        .expect("a member"),
                )
            })
        });
        g.finish();
    }

    // The full apply: calculation + ledger + records + audit hash.
    {
        let mut g = group(c, "apply", 1);
        g.bench_function(&id, |b| {
            b.iter_custom(|iters| {
                let events = sales(next_sale, iters, who.clone(), 13);
                next_sale += iters;
                let started = Instant::now();
                for event in &events {
                    black_box(engine.apply(event).expect("applies"));
                }
                started.elapsed()
            })
        });
        g.finish();
    }
    {
        let mut g = group(c, "apply_batch_1000", 1_000);
        g.bench_function(&id, |b| {
            b.iter_custom(|iters| {
                let events = sales(next_sale, iters * 1_000, who.clone(), 17);
                next_sale += iters * 1_000;
                let started = Instant::now();
                for chunk in events.chunks(1_000) {
                    black_box(engine.apply_batch(chunk).expect("applies"));
                }
                started.elapsed()
            })
        });
        g.finish();
    }
}

fn networks(c: &mut Criterion) {
    for members in [1_000, 1_000_000] {
        for shape in [Shape::Preferential, Shape::DeepChains] {
            on_network(c, shape, members);
        }
    }
}

/// Replay and verify of a 10k-event log (1k-member preferential network,
/// sales, refunds for ~5 % of them).
fn log(c: &mut Criterion) {
    let log = event_log(Shape::Preferential, 1_000, 10_000, 23);
    let id = format!("{}-events", log.len());
    {
        let mut g = group(c, "replay", log.len() as u64);
        g.bench_function(&id, |b| {
            b.iter_with_large_drop(|| Engine::replay(&log).expect("replays"))
        });
        g.finish();
    }
    let mut engine = Engine::open(Box::new(MemoryStore::new())).expect("opens");
    apply_all(&mut engine, &log).expect("applies");
    {
        let mut g = group(c, "verify", log.len() as u64);
        g.bench_function(&id, |b| b.iter(|| engine.verify().expect("verifies")));
        g.finish();
    }
}

/// Durable `apply_batch` on SQLite (WAL, one transaction a batch) in a
/// fresh temporary file per batch size, on a 10k-member network.
fn sqlite(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("upline-criterion-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let members = 10_000;
    let net = network(Shape::Preferential, members, 7);
    let network_joins = joins(&net, 0..net.len());
    for batch in [1u64, 100, 10_000] {
        let path = dir.join(format!("batch-{batch}.sqlite"));
        let store = SqliteStore::open(&path).expect("opens the file");
        let mut engine = Engine::open(Box::new(store)).expect("opens");
        apply_all(&mut engine, &network_joins).expect("joins");
        let mut next_sale = 0u64;
        let mut g = group(c, "sqlite_apply_batch", batch);
        g.bench_function(format!("batch-{batch}"), |b| {
            b.iter_custom(|iters| {
                let events = sales(next_sale, iters * batch, 0..members, 29);
                next_sale += iters * batch;
                let started = Instant::now();
                for chunk in events.chunks(batch as usize) {
                    black_box(engine.apply_batch(chunk).expect("applies"));
                }
                started.elapsed()
            })
        });
        g.finish();
    }
    std::fs::remove_dir_all(&dir).ok();
}

criterion_group!(benches, networks, log, sqlite);
criterion_main!(benches);
