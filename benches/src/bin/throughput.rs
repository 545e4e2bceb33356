//! Throughput on one core: the calculation alone, the full in-memory apply
//! (calculation + ledger + audit hash), and durable apply on SQLite at
//! batch sizes 1, 100 and 10,000. It also prints a floor: the lockstep
//! calculation plus SHA-256 of each sale's audit block, work every full
//! apply does, so no full apply on this core can run faster than it.
//!
//! `cargo run --release -p upline-benches --bin throughput [-- --quick] [--members N] [--sales N]`
//! (default 1,000,000 members and sales; `--quick` 10,000 and 20,000)

use std::time::Instant;

use upline::calc::{self, Calculation, SaleInput};
use upline::engine::columns::{Amounts, SaleColumns, Times};
use upline::{audit, Engine, Event, Timestamp};
use upline_benches::{join_events, sale_events, sponsors, Rng};
use upline_sqlite::SqliteStore;

fn rate(n: usize, started: Instant) -> f64 {
    n as f64 / started.elapsed().as_secs_f64()
}

fn encode_error(e: audit::EncodeError) -> upline::Error {
    upline::Error::general(upline::ErrorKind::Internal, e.to_string())
}

fn main() -> Result<(), upline::Error> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let option = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (members, sales) = if quick {
        (10_000, 20_000)
    } else {
        (option("--members", 1_000_000), option("--sales", 1_000_000))
    };
    println!("network: {members} members (PEERS.md shape); {sales} sales, default 7-level plan");

    let joins = join_events(&sponsors(members, 7));
    let mut engine = Engine::new();
    let started = Instant::now();
    for result in engine.apply_batch(&joins[..joins.len().min(upline::limits::MAX_BATCH)])? {
        result?;
    }
    for chunk in
        joins[joins.len().min(upline::limits::MAX_BATCH)..].chunks(upline::limits::MAX_BATCH)
    {
        for result in engine.apply_batch(chunk)? {
            result?;
        }
    }
    println!(
        "joins (in memory):            {:>10.0} events/s",
        rate(joins.len(), started)
    );

    // The calculation alone: sale -> distribution into a reused buffer.
    let plan = upline::Plan::default_plan();
    let usd = engine.currencies().get("USD", "currency")?;
    let at = Timestamp::parse("2026-02-01T12:00:00Z", "at")?;
    let mut rng = Rng(11);
    let inputs: Vec<SaleInput> = (0..sales)
        .map(|_| SaleInput {
            buyer: rng.below(members) as u32,
            amount: rust_decimal::Decimal::new(100 + rng.below(99_900) as i64, 2),
            currency: usd,
            at,
        })
        .collect();
    let mut out = Calculation::default();
    let mut paid = rust_decimal::Decimal::ZERO;
    let started = Instant::now();
    for input in &inputs {
        calc::calculate(&plan, plan.levels(), engine.graph(), *input, &mut out)?;
        paid += out.retained;
    }
    println!(
        "calculation only:             {:>10.0} sales/s  (checksum {paid})",
        rate(inputs.len(), started)
    );

    // The same sales through the lockstep batch calculation.
    let mut outs = Vec::new();
    let mut paid_batch = rust_decimal::Decimal::ZERO;
    let started = Instant::now();
    for chunk in inputs.chunks(10_000) {
        calc::calculate_batch(&plan, plan.levels(), engine.graph(), chunk, &mut outs)?;
        paid_batch += outs
            .iter()
            .map(|o| o.retained)
            .sum::<rust_decimal::Decimal>();
    }
    let calc_lockstep = started.elapsed().as_secs_f64() / inputs.len().max(1) as f64;
    println!(
        "calculation, lockstep batches:{:>10.0} sales/s  (checksum {paid_batch})",
        1.0 / calc_lockstep
    );
    assert_eq!(paid, paid_batch, "batch and single calculations agree");

    // The full apply, in memory.
    let sale_list = sale_events(members, sales, 13);
    let started = Instant::now();
    for event in &sale_list {
        engine.apply(event)?;
    }
    println!(
        "full apply (ledger + audit):  {:>10.0} sales/s",
        rate(sale_list.len(), started)
    );

    // The same sales through `apply_batch` (groups of sales read ahead in
    // lockstep) on a fresh engine with the same network.
    let head = engine.audit_head();
    drop(engine);
    let mut batched = Engine::new();
    for chunk in joins.chunks(upline::limits::MAX_BATCH) {
        for result in batched.apply_batch(chunk)? {
            result?;
        }
    }
    let started = Instant::now();
    for chunk in sale_list.chunks(upline::limits::MAX_BATCH) {
        for result in batched.apply_batch(chunk)? {
            result?;
        }
    }
    println!(
        "full apply, apply_batch:      {:>10.0} sales/s",
        rate(sale_list.len(), started)
    );
    assert_eq!(batched.audit_head(), head, "apply and apply_batch agree");
    drop(batched);

    // The same sales as columns, with their lines and without any records
    // (the lean path: each sale's records are hashed from the engine's
    // state, never built), each on a fresh engine with the same network.
    let mut rng = Rng(13);
    let (mut ids, mut buyers, mut mantissas) = (Vec::new(), Vec::new(), Vec::new());
    for s in 0..sales {
        mantissas.push(i128::from(100 + rng.below(99_900)));
        buyers.push(format!("u{}", rng.below(members)));
        ids.push(format!("s{s}"));
    }
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let buyers: Vec<&str> = buyers.iter().map(String::as_str).collect();
    let currency = vec!["USD"; upline::limits::MAX_BATCH];
    let millis = vec![at.as_millis(); upline::limits::MAX_BATCH];
    for lines in [true, false] {
        let mut columns = Engine::new();
        for chunk in joins.chunks(upline::limits::MAX_BATCH) {
            for result in columns.apply_batch(chunk)? {
                result?;
            }
        }
        let started = Instant::now();
        for (k, chunk) in ids.chunks(upline::limits::MAX_BATCH).enumerate() {
            let from = k * upline::limits::MAX_BATCH;
            let rows = chunk.len();
            let out = columns.apply_sale_columns(
                &SaleColumns {
                    sale: chunk,
                    buyer: &buyers[from..from + rows],
                    amount: Amounts::Decimal {
                        mantissa: &mantissas[from..from + rows],
                        scale: 2,
                    },
                    currency: &currency[..rows],
                    at: Times::Millis(&millis[..rows]),
                    category: None,
                },
                lines,
            )?;
            assert!(out.errors.is_empty(), "{:?}", out.errors.first());
        }
        println!(
            "full apply, columns, {}:{:>10.0} sales/s",
            if lines { "lines     " } else { "no records" },
            rate(ids.len(), started)
        );
        assert_eq!(
            columns.audit_head(),
            head,
            "the columnar paths end on the same head"
        );
    }

    // Replay: a store holding the network and the sales, opened again
    // (every event decoded, applied and its hash checked: what `open`,
    // `verify` and a replica's catch-up do).
    let shared = upline::SharedStore::new(upline::MemoryStore::new());
    let mut writer = Engine::open(Box::new(shared.clone()))?;
    for chunk in joins.chunks(upline::limits::MAX_BATCH) {
        for result in writer.apply_batch(chunk)? {
            result?;
        }
    }
    // The audit blocks of the first sales (the canonical bytes of each
    // event and of the records it returned), kept for the floor below:
    // encoded here, outside any timed loop, into one buffer read in order
    // (the engine hashes a block it has just written, in cache).
    let kept = sale_list.len().min(200_000);
    let mut bytes: Vec<u8> = Vec::new();
    let mut blocks: Vec<(usize, usize, usize)> = Vec::with_capacity(kept);
    for chunk in sale_list.chunks(upline::limits::MAX_BATCH) {
        for (event, result) in chunk.iter().zip(writer.apply_batch(chunk)?) {
            let applied = result?;
            if blocks.len() < kept {
                let start = bytes.len();
                bytes.extend(audit::encode(event).map_err(encode_error)?);
                let middle = bytes.len();
                bytes.extend(
                    audit::encode_records(&applied.outcome, &applied.entries)
                        .map_err(encode_error)?,
                );
                blocks.push((start, middle, bytes.len()));
            }
        }
    }
    drop(writer);

    // What no full apply can go below on this core: the lockstep
    // calculation above plus SHA-256 of each sale's audit block (format 2,
    // the bytes the chain hashes), timed alone over the kept blocks.
    let mut hash = upline::Hash::ZERO;
    let started = Instant::now();
    for (seq, &(start, middle, end)) in blocks.iter().enumerate() {
        let (event_bytes, record_bytes) = (&bytes[start..middle], &bytes[middle..end]);
        hash = audit::chain(seq as u64 + 1, &hash, event_bytes, record_bytes);
    }
    let hash_each = started.elapsed().as_secs_f64() / blocks.len().max(1) as f64;
    std::hint::black_box(hash);
    println!(
        "floor: SHA-256 of a sale's block ({:.0} B): {:.3} µs; + lockstep calculation {:.3} µs = {:.3} µs, at most {:.0} sales/s",
        bytes.len() as f64 / blocks.len().max(1) as f64,
        hash_each * 1e6,
        calc_lockstep * 1e6,
        (hash_each + calc_lockstep) * 1e6,
        1.0 / (hash_each + calc_lockstep)
    );
    drop((blocks, bytes));

    let started = Instant::now();
    let reopened = Engine::open(Box::new(shared.clone()))?;
    println!(
        "replay (open a MemoryStore):  {:>10.0} events/s",
        rate(joins.len() + sale_list.len(), started)
    );
    assert_eq!(
        reopened.audit_head(),
        head,
        "the replay ends on the same head"
    );
    drop(reopened);
    drop(shared);

    // Durable apply on SQLite at three batch sizes.
    let dir = std::env::temp_dir().join(format!("upline-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| upline::Error::general(upline::ErrorKind::Storage, e.to_string()))?;
    let small_network = join_events(&sponsors(10_000, 7));
    for batch in [1usize, 100, 10_000] {
        let path = dir.join(format!("b{batch}.sqlite"));
        let mut durable = Engine::open(Box::new(SqliteStore::open(&path)?))?;
        for result in durable.apply_batch(&small_network)? {
            result?;
        }
        let count = match (quick, batch) {
            (true, 1) => 200,
            (true, _) => 20_000,
            (false, 1) => 2_000,
            (false, _) => 200_000,
        };
        let events: Vec<Event> = sale_events(10_000, count, 17);
        let started = Instant::now();
        for chunk in events.chunks(batch) {
            for result in durable.apply_batch(chunk)? {
                result?;
            }
        }
        println!(
            "durable SQLite, batch {batch:>6}:  {:>10.0} sales/s",
            rate(events.len(), started)
        );
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
