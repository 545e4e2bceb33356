//! The SQLite demo: a realistic referral network and a month of sales and
//! refunds, applied durably in batches; top earners, a payout batch and the
//! audit head; then the file is reopened, verified, and one stored byte is
//! changed to show that tampering is detected.
//!
//! Run: `cargo run --release -p upline-examples --bin demo [-- PATH MEMBERS SALES]`
//! (defaults: `target/upline-demo.sqlite`, 100000 members, 200000 sales).

use std::io::Write;
use std::time::Instant;

use rust_decimal::Decimal;
use serde_json::json;
use upline::{Engine, Event, Outcome, Store};
use upline_sqlite::SqliteStore;

/// SplitMix64: a small, seeded, deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn time(day: u64, millis_of_day: u64) -> String {
    // Day 0 is 2026-01-01; at most 90 days are used, all in Q1 2026.
    let (month, day_of_month) = match day {
        0..=30 => (1, day + 1),
        31..=58 => (2, day - 30),
        _ => (3, day - 58),
    };
    let secs = millis_of_day / 1000;
    format!(
        "2026-{month:02}-{day_of_month:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        millis_of_day % 1000
    )
}

fn event(value: serde_json::Value) -> Event {
    match Event::from_value(value) {
        Ok(event) => event,
        Err(err) => panic!("the demo builds only valid events: {err}"),
    }
}

/// The network: 70% of sponsors among the 50 most recent members, 30%
/// uniform among all earlier ones (the comparison network of PEERS.md).
fn generate(members: u64, sales: u64) -> Vec<Event> {
    let mut rng = Rng(2026);
    let mut events = Vec::with_capacity((members * 2 + sales * 11 / 10) as usize);
    let mut joined: Vec<String> = Vec::with_capacity(members as usize);
    for i in 0..members {
        let sponsor = match i {
            0 => None,
            _ if rng.below(100) < 70 => Some(i - 1 - rng.below(i.min(50))),
            _ => Some(rng.below(i)),
        };
        // Not before the sponsor joined (the engine refuses that as
        // `invalid_time`); the texts have one format, so they sort as times.
        let drawn = time(i * 31 / members, rng.below(86_400_000));
        let at = match sponsor {
            Some(s) if joined[s as usize] > drawn => joined[s as usize].clone(),
            _ => drawn,
        };
        joined.push(at.clone());
        events.push(event(json!({
            "type": "member_joined", "member": format!("u{i:06}"),
            "sponsor": sponsor.map(|s| format!("u{s:06}")), "at": at,
        })));
        if rng.below(10) < 8 {
            events.push(event(json!({
                "type": "payout_profile_set", "member": format!("u{i:06}"),
                "method": if rng.below(4) == 0 { "crypto" } else { "bank" },
                "verified": rng.below(10) < 9,
            })));
        }
    }
    // A month of sales in February, in time order, and refunds for ~5%.
    let mut refunds = Vec::new();
    for s in 0..sales {
        let millis = s * (28 * 86_400_000) / sales;
        let day = 31 + millis / 86_400_000;
        let amount = Decimal::new(100 + rng.below(99_900) as i64, 2);
        events.push(event(json!({
            "type": "sale_recorded", "sale": format!("s{s:07}"),
            "buyer": format!("u{:06}", rng.below(members)),
            "amount": amount.to_string(), "currency": "USD",
            "at": time(day, millis % 86_400_000),
        })));
        if rng.below(100) < 5 {
            let part = if rng.below(2) == 0 {
                amount
            } else {
                (amount / Decimal::TWO).round_dp(2)
            };
            refunds.push((s, part, (day + 3 + rng.below(10)).min(89)));
        }
    }
    for (s, amount, day) in refunds {
        events.push(event(json!({
            "type": "refund_recorded", "refund": format!("r{s:07}"), "sale": format!("s{s:07}"),
            "amount": amount.to_string(), "at": time(day, 0),
        })));
    }
    events
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "target/upline-demo.sqlite".into());
    let members: u64 = args.get(2).map_or(Ok(100_000), |a| a.parse())?;
    let sales: u64 = args.get(3).map_or(Ok(200_000), |a| a.parse())?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
    if let Some(dir) = std::path::Path::new(&path).parent() {
        std::fs::create_dir_all(dir)?;
    }

    println!("Upline demo: {members} members, {sales} sales in February 2026, SQLite file {path}");
    let started = Instant::now();
    let events = generate(members, sales);
    println!(
        "generated {} events in {:.2?}",
        events.len(),
        started.elapsed()
    );

    let mut engine = Engine::open(Box::new(SqliteStore::open(&path)?))?;
    let started = Instant::now();
    let mut refused = 0;
    for (i, chunk) in events.chunks(10_000).enumerate() {
        refused += engine
            .apply_batch(chunk)?
            .iter()
            .filter(|r| r.is_err())
            .count();
        let done = (i * 10_000 + chunk.len()) as f64;
        print!(
            "\rapplying: {:>7} / {} events, {:>8.0} events/s (durable, one transaction per 10,000)",
            done,
            events.len(),
            done / started.elapsed().as_secs_f64()
        );
        std::io::stdout().flush()?;
    }
    println!("\napplied in {:.2?}; {refused} refused", started.elapsed());
    // The demo's events are all valid: a refusal is a bug (CI runs this).
    if refused > 0 {
        return Err(format!("{refused} of the demo's own events were refused").into());
    }

    // Top earners by commissions earned in USD, net of reversals.
    let usd = engine.currencies().get("USD", "currency")?;
    let mut earners: Vec<(Decimal, String)> = engine
        .ledger()
        .accounts()
        .filter(|(_, currency)| *currency == usd)
        .map(|(earner, currency)| {
            let t = engine.ledger().totals(
                earner,
                currency,
                upline::Timestamp::MIN,
                upline::Timestamp::MAX,
            );
            (t.earned - t.reversed, engine.graph().id(earner).to_string())
        })
        .collect();
    earners.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    println!("\nTop earners (USD, net of clawbacks)");
    println!(
        "  {:<8} {:>12} {:>10} {:>9} {:>10}",
        "member", "earned", "directs", "downline", "available*"
    );
    for (earned, member) in earners.iter().take(10) {
        let directs = engine.direct_referrals(member)?.len();
        let downline = engine.downline_size(member)?;
        let b = engine.balances(member, "USD", "2026-03-31T00:00:00Z")?;
        println!(
            "  {member:<8} {earned:>12} {directs:>10} {downline:>9} {:>10}",
            b.available
        );
    }
    println!("  * as of 2026-03-31, after the 30-day hold");

    let applied = engine.apply(&event(json!({
        "type": "payouts_prepared", "batch": "2026-03", "as_of": "2026-03-31T00:00:00Z",
        "policy": {"minimum": {"USD": "50.00"},
                   "fees": {"bank": {"flat": "0.25", "percent": "1"}, "crypto": {"percent": "2"}}},
    })))?;
    if let Outcome::Batch(batch) = &applied.outcome {
        let sum = |f: fn(&upline::event::PayoutItem) -> Decimal| {
            batch.items.iter().map(f).sum::<Decimal>()
        };
        println!(
            "\nPayout batch {}: {} payouts, gross {} fee {} net {} USD",
            batch.batch,
            batch.items.len(),
            sum(|i| i.gross),
            sum(|i| i.fee),
            sum(|i| i.net)
        );
        for item in batch.items.iter().take(3) {
            println!(
                "  {} {} gross {} fee {} net {}",
                item.payout, item.method, item.gross, item.fee, item.net
            );
        }
        let mut reasons = std::collections::BTreeMap::new();
        for skipped in &batch.skipped {
            let reason = serde_json::to_value(skipped.reason)?;
            *reasons
                .entry(reason.as_str().unwrap_or("?").to_string())
                .or_insert(0) += 1;
        }
        println!("  left out: {reasons:?}");
    }
    let head = engine.audit_head();
    println!("\nAudit head: seq {} hash {}", head.seq, head.hash);
    drop(engine);

    let started = Instant::now();
    let reopened = Engine::open(Box::new(SqliteStore::open(&path)?))?;
    println!(
        "\nreopened (replayed {} events) in {:.2?}",
        reopened.audit_head().seq,
        started.elapsed()
    );
    let started = Instant::now();
    let verified = reopened.verify()?;
    println!(
        "verified the whole chain in {:.2?}: head seq {} matches: {}",
        started.elapsed(),
        verified.seq,
        verified == head
    );
    drop(reopened);

    // Change one byte of one stored sale and verify again.
    let store = SqliteStore::open(&path)?;
    let target = head.seq / 2;
    let original: String = store.connection().query_row(
        "SELECT event FROM events WHERE seq = ?1",
        [target as i64],
        |row| row.get(0),
    )?;
    let forged = original.replacen("\"u0", "\"u1", 1);
    store.connection().execute(
        "UPDATE events SET event = ?1 WHERE seq = ?2",
        rusqlite::params![forged, target as i64],
    )?;
    println!("\nchanged one byte of stored event {target}:");
    match upline::engine::verify_store(&store)? {
        Ok(head) => println!("  NOT detected (head {})", head.seq),
        Err(at) => println!("  tampering detected at event {}", at.seq),
    }
    store.connection().execute(
        "UPDATE events SET event = ?1 WHERE seq = ?2",
        rusqlite::params![original, target as i64],
    )?;
    let mut scanned = 0u64;
    store.scan(1, &mut |_| {
        scanned += 1;
        Ok(())
    })?;
    println!(
        "restored; the chain of {scanned} events verifies again: {}",
        upline::engine::verify_store(&store)?.is_ok()
    );
    Ok(())
}
