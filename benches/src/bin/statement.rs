//! Statement pages on a big ledger: a member with 100,000 ledger entries in
//! an engine of 1,000,000 members, its entries interleaved with everyone
//! else's. Times the first, a middle and the last page of 100 entries (with
//! and without `as_of`), pages whose lines were refunded (their state needs
//! a walk to the refund), and walking the whole statement page by page.
//!
//! `cargo run --release -p upline-benches --bin statement [-- --members N] [--entries E]`

use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use upline::event::{Event, RefundRecorded};
use upline::{Engine, StatementQuery};
use upline_benches::{apply_all, build_engine, join, sale, Rng, Shape};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// This thread's time on a CPU so far (Linux `schedstat`; zero elsewhere):
/// the machine is shared, and wall time includes waiting for a core.
fn cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Median and 99th percentile of `runs` timings of `f`, in microseconds.
fn time(runs: usize, mut f: impl FnMut() -> usize) -> (f64, f64, usize) {
    let mut times = Vec::with_capacity(runs);
    let mut lines = 0;
    for _ in 0..runs {
        let t = Instant::now();
        lines = f();
        times.push(t.elapsed());
    }
    times.sort();
    (
        micros(times[runs / 2]),
        micros(times[(runs * 99 / 100).min(runs - 1)]),
        lines,
    )
}

fn page(engine: &Engine, member: &str, after: Option<String>, as_of: Option<&str>) -> usize {
    let query = StatementQuery {
        after,
        as_of: as_of.map(str::to_string),
        limit: 100,
        ..StatementQuery::default()
    };
    match engine.statement(member, &query) {
        Ok(page) => page.entries.len(),
        Err(err) => panic!("statement: {err}"),
    }
}

fn main() -> Result<(), upline::Error> {
    let members: u64 = arg("--members").map_or(1_000_000, |n| n.parse().expect("--members N"));
    let entries: u64 = arg("--entries").map_or(100_000, |n| n.parse().expect("--entries E"));
    let buyers_of_star = 1_000u64;
    println!(
        "statement: {members} members; member u1000 earns level 1 on {entries} sales \
         by its {buyers_of_star} direct referrals, 4 other sales between two of them, \
         every 20th of its sales half refunded"
    );
    let started = Instant::now();
    let base = members - buyers_of_star;
    let mut engine = build_engine(Shape::Preferential, base, 7)?;
    let star = 1_000u64;
    let referrals: Vec<Event> = (base..members).map(|m| join(m, Some(star))).collect();
    apply_all(&mut engine, &referrals)?;
    let mut rng = Rng(99);
    let mut events = Vec::new();
    let mut sale_id = 0u64;
    for n in 0..entries {
        let cents = 100 + rng.below(99_900);
        events.push(sale(sale_id, base + n % buyers_of_star, cents));
        if n % 20 == 0 {
            events.push(Event::RefundRecorded(RefundRecorded {
                refund: format!("r{sale_id}"),
                sale: format!("s{sale_id}"),
                amount: upline::money::DecimalText::new(
                    Decimal::new((cents / 2) as i64, 2).to_string(),
                ),
                at: "2026-02-20T00:00:00Z".to_string(),
            }));
        }
        sale_id += 1;
        for _ in 0..4 {
            events.push(sale(sale_id, rng.below(base), 100 + rng.below(99_900)));
            sale_id += 1;
        }
        if events.len() >= upline::limits::MAX_BATCH - 10 {
            apply_all(&mut engine, &events)?;
            events.clear();
        }
    }
    apply_all(&mut engine, &events)?;
    let member = format!("u{star}");
    let own = engine.ledger().earner_entries(star as u32).count();
    println!(
        "  built in {:.1} s: {} ledger entries, {} of them u1000's",
        started.elapsed().as_secs_f64(),
        engine.ledger().len(),
        own
    );

    // Cursors for a middle and the last page.
    let mut cursors = Vec::new();
    let mut after = None;
    let walk = Instant::now();
    let mut pages = 0;
    let mut seen = 0;
    loop {
        let query = StatementQuery {
            after: after.clone(),
            limit: 100,
            ..StatementQuery::default()
        };
        let page = engine.statement(&member, &query)?;
        seen += page.entries.len();
        pages += 1;
        cursors.push(after);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let walked = walk.elapsed();
    assert_eq!(seen, own, "the pages stitch into the whole statement");
    let middle = cursors[cursors.len() / 2].clone();
    let last = cursors[cursors.len() - 1].clone();
    let as_of = Some("2026-02-15T00:00:00Z");
    println!("  page of 100 entries (median / p99 of 1000 runs, µs):");
    for (name, cursor, as_of) in [
        ("first page", None, None),
        ("middle page", middle.clone(), None),
        ("last page", last.clone(), None),
        ("middle page, as_of", middle, as_of),
        ("first page, as_of", None, as_of),
    ] {
        let (p50, p99, lines) = time(1000, || page(&engine, &member, cursor.clone(), as_of));
        println!("    {name:<20} {p50:>8.1} / {p99:>8.1}  ({lines} lines)");
    }
    println!(
        "  whole statement, first walk: {pages} pages of 100 in {:.1} ms ({:.1} µs a page)",
        walked.as_secs_f64() * 1e3,
        micros(walked) / pages as f64
    );
    let (again, cpu_before) = (Instant::now(), cpu());
    for cursor in &cursors {
        page(&engine, &member, cursor.clone(), None);
    }
    let (again, on_cpu) = (again.elapsed(), cpu() - cpu_before);
    println!(
        "  whole statement, second walk: {:.1} ms wall, {:.1} ms on a CPU ({:.1} µs a page)",
        again.as_secs_f64() * 1e3,
        on_cpu.as_secs_f64() * 1e3,
        micros(on_cpu) / pages as f64
    );
    // Pages at cursors spread over the whole statement, each run another.
    let mut rng = Rng(5);
    // (Per page, only wall time: `schedstat` moves in scheduler ticks.)
    let mut times = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let cursor = cursors[rng.below(cursors.len() as u64) as usize].clone();
        let t = Instant::now();
        page(&engine, &member, cursor, as_of);
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "  page of 100 at 1000 random cursors, as_of: wall median {:.1} µs, p99 {:.1} µs",
        micros(times[500]),
        micros(times[990]),
    );
    Ok(())
}
