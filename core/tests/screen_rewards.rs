//! Fraud screening and rewards together: a sale with a fraud-blocked line
//! qualifies no referral (so earns no milestone), and fraud-held money
//! counts in earnings leaderboards only once its review releases it.

use serde_json::{json, Value};
use upline::Engine;

fn apply(engine: &mut Engine, event: Value) -> Value {
    engine
        .apply_json(&event.to_string())
        .unwrap_or_else(|e| panic!("{event}: {e}"))
        .to_json_value()
}

/// lead, and `a` under lead on lead's own device (one identity cluster);
/// `b` under lead on its own device. The default milestones are in force.
fn network(preset: &str) -> Engine {
    let mut e = Engine::new();
    apply(
        &mut e,
        json!({"type": "screening_rules_set", "id": "r", "preset": preset, "at": "2026-01-01T00:00:00Z"}),
    );
    apply(
        &mut e,
        json!({"type": "milestones_set", "at": "2026-01-01T00:00:00Z"}),
    );
    for (member, sponsor, device) in [
        ("lead", None, "dev-lead"),
        ("a", Some("lead"), "dev-lead"),
        ("b", Some("lead"), "dev-b"),
    ] {
        apply(
            &mut e,
            json!({"type": "member_joined", "member": member, "sponsor": sponsor,
            "at": "2026-01-02T00:00:00Z", "signals": {"device": device}}),
        );
    }
    e
}

fn sale(e: &mut Engine, id: &str, buyer: &str, at: &str) -> Value {
    apply(
        e,
        json!({"type": "sale_recorded", "sale": id, "buyer": buyer, "amount": "100.00", "currency": "USD", "at": at}),
    )
}

#[test]
fn a_blocked_self_referral_qualifies_no_referral() {
    let mut e = network("strict");
    let blocked = sale(&mut e, "s1", "a", "2026-02-01T00:00:00Z");
    let d = &blocked["distribution"];
    // strict: self_referral → block. Level 1 (lead, same device) is not paid.
    assert_eq!(
        d["unpaid"][0],
        json!({"level": 1, "reason": "fraud_blocked"})
    );
    assert_eq!(d["retained"], "100.00");
    assert!(
        d.get("awards").is_none(),
        "no First Referral for a blocked sale: {d}"
    );
    assert!(e.awards("lead").unwrap().is_empty());
    // b is a real referral: its sale qualifies it and lead reaches First Referral.
    let clean = sale(&mut e, "s2", "b", "2026-02-02T00:00:00Z");
    assert_eq!(clean["distribution"]["lines"][0]["amount"], "20.00");
    assert_eq!(
        clean["distribution"]["awards"][0]["milestone"],
        "first_referral"
    );
    let b = e.balances("lead", "USD", "2026-02-03T00:00:00Z").unwrap();
    assert_eq!(b.pending.to_string(), "30.00"); // 20.00 commission + 10.00 bonus
}

#[test]
fn fraud_held_money_counts_in_leaderboards_only_once_released() {
    let mut e = network("moderate");
    // moderate: self_referral → hold. The sale is not blocked, so a still
    // qualifies and lead gets its First Referral bonus (10.00, not held).
    let held = sale(&mut e, "s1", "a", "2026-02-01T00:00:00Z");
    assert_eq!(held["distribution"]["lines"][0]["held"], true);
    assert_eq!(
        held["distribution"]["awards"][0]["milestone"],
        "first_referral"
    );
    let board = |e: &Engine| {
        let b = e
            .leaderboard(
                "net_earnings",
                "2026-01-01T00:00:00Z",
                "2026-04-01T00:00:00Z",
                10,
                Some("USD"),
            )
            .unwrap();
        b.entries
            .iter()
            .map(|r| (r.member.to_string(), r.value.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(board(&e), [("lead".to_string(), "10.00".to_string())]);
    let b = e.balances("lead", "USD", "2026-02-02T00:00:00Z").unwrap();
    assert_eq!(
        (b.held.to_string(), b.pending.to_string()),
        ("20.00".into(), "10.00".into())
    );
    apply(
        &mut e,
        json!({"type": "fraud_review_resolved", "review": "s1", "decision": "release", "at": "2026-02-10T00:00:00Z"}),
    );
    assert_eq!(board(&e), [("lead".to_string(), "30.00".to_string())]);
    let b = e.balances("lead", "USD", "2026-02-11T00:00:00Z").unwrap();
    assert_eq!(
        (b.held.to_string(), b.pending.to_string()),
        ("0.00".into(), "30.00".into())
    );
}
