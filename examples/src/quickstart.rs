//! Quickstart: a small network, the first programme, a few sales and a
//! refund, printed as tables. Run: `cargo run -p upline-examples --bin quickstart`.

use serde_json::json;
use upline::{Engine, Outcome};

fn reason_name<T: serde::Serialize>(reason: &T) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn main() -> Result<(), upline::Error> {
    let mut engine = Engine::new(); // default plan: 20/15/10/8/5/3/2%, 30-day hold
    let names = [
        "ava", "ben", "cleo", "dev", "eli", "fay", "gus", "hana", "ivan",
    ];
    for (i, name) in names.iter().enumerate() {
        let sponsor = i.checked_sub(1).map(|s| names[s]);
        engine.apply_json(
            &json!({"type": "member_joined", "member": name, "sponsor": sponsor,
                    "at": "2026-01-05T09:00:00Z"})
            .to_string(),
        )?;
    }
    println!("A chain of nine members: {}\n", names.join(" <- "));

    let sales = [
        ("s1", "ivan", "100.00", "2026-02-01T12:00:00Z"),
        ("s2", "ivan", "0.25", "2026-02-02T12:00:00Z"),
        ("s3", "dev", "49.99", "2026-02-03T12:00:00Z"),
    ];
    for (sale, buyer, amount, at) in sales {
        let applied = engine.apply_json(
            &json!({"type": "sale_recorded", "sale": sale, "buyer": buyer,
                    "amount": amount, "currency": "USD", "at": at})
            .to_string(),
        )?;
        let Outcome::Distribution(d) = &applied.outcome else {
            continue;
        };
        println!(
            "Sale {sale}: {amount} USD by {buyer} (plan {} v{})",
            d.plan, d.plan_version
        );
        println!(
            "  {:<6} {:<6} {:>6} {:>8}",
            "level", "earner", "rate", "amount"
        );
        for line in &d.lines {
            println!(
                "  {:<6} {:<6} {:>6} {:>8}",
                line.level, line.earner, line.rate, line.amount
            );
        }
        for unpaid in &d.unpaid {
            println!(
                "  {:<6} {:<6} {:>6} {:>8}",
                unpaid.level,
                "-",
                "-",
                reason_name(&unpaid.reason)
            );
        }
        println!("  retained by the platform: {}\n", d.retained);
    }

    let applied = engine.apply_json(
        r#"{"type": "refund_recorded", "refund": "r1", "sale": "s1", "amount": "40.00",
            "at": "2026-02-10T08:00:00Z"}"#,
    )?;
    if let Outcome::Refund(r) = &applied.outcome {
        println!(
            "Refund r1: 40.00 of s1 (refunded so far {})",
            r.refunded_total
        );
        for rev in &r.reversals {
            println!("  level {} {:<6} -{}", rev.level, rev.earner, rev.amount);
        }
        println!();
    }

    for as_of in ["2026-02-15T00:00:00Z", "2026-03-15T00:00:00Z"] {
        println!("Balances as of {as_of}");
        println!(
            "  {:<6} {:>8} {:>10} {:>6}",
            "member", "pending", "available", "held"
        );
        for name in names {
            let b = engine.balances(name, "USD", as_of)?;
            println!(
                "  {:<6} {:>8} {:>10} {:>6}",
                name, b.pending, b.available, b.held
            );
        }
        println!();
    }
    println!(
        "Audit head: seq {} hash {}",
        engine.audit_head().seq,
        engine.audit_head().hash
    );
    Ok(())
}
