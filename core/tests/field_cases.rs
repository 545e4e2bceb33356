//! Situations real programmes hit, beyond the shared vectors: time order
//! for settlements, failures and reviews, tax accrual across years, and a
//! sale paid in another currency seen by payouts and tax summaries
//! (DESIGN.md, "Identifiers and time", "Payouts and tax summaries",
//! "Paying in another currency").

use std::collections::BTreeMap;

use serde_json::{json, Value};
use upline::{Engine, Event};

fn apply(engine: &mut Engine, value: Value) -> upline::Result<upline::Applied> {
    engine.apply(&Event::from_value(value).expect("the test's events decode"))
}

/// `a` sponsors `b`; `a` has a verified bank profile.
fn two_members() -> upline::Result<Engine> {
    let mut engine = Engine::new();
    for event in [
        json!({"type": "member_joined", "member": "a", "sponsor": null, "at": "2026-01-01T00:00:00Z"}),
        json!({"type": "member_joined", "member": "b", "sponsor": "a", "at": "2026-01-01T00:00:00Z"}),
        json!({"type": "payout_profile_set", "member": "a", "method": "bank", "verified": true}),
    ] {
        apply(&mut engine, event)?;
    }
    Ok(engine)
}

fn sale(id: &str, amount: &str, at: &str) -> Value {
    json!({"type": "sale_recorded", "sale": id, "buyer": "b", "amount": amount, "currency": "USD", "at": at})
}

/// Facts that presuppose a member (DESIGN.md: "Where one fact presupposes
/// another, time order is enforced with `invalid_time`"): a join under a
/// sponsor who had not joined yet, and a status change, sponsor change or
/// hold dated before the member joined; and a release dated before a held
/// sale it would release. Each is refused and changes nothing.
#[test]
fn facts_before_the_member_they_presuppose_are_invalid_time() -> upline::Result<()> {
    let mut engine = two_members()?;
    apply(
        &mut engine,
        json!({"type": "member_joined", "member": "c", "sponsor": "a", "at": "2026-03-01T00:00:00Z"}),
    )?;
    let refused = [
        json!({"type": "member_joined", "member": "d", "sponsor": "c", "at": "2026-02-01T00:00:00Z"}),
        json!({"type": "member_status_changed", "member": "c", "status": "inactive", "at": "2026-02-01T00:00:00Z"}),
        json!({"type": "sponsor_changed", "member": "c", "sponsor": "b", "reason": "fix", "at": "2026-02-01T00:00:00Z"}),
        json!({"type": "sponsor_changed", "member": "b", "sponsor": "c", "reason": "fix", "at": "2026-02-01T00:00:00Z"}),
        json!({"type": "member_hold_set", "member": "c", "on": true, "reason": "kyc", "at": "2026-02-01T00:00:00Z"}),
    ];
    for event in refused {
        let head = engine.audit_head();
        let before = engine.snapshot_json();
        let err = apply(&mut engine, event.clone()).expect_err("refused");
        assert_eq!(err.code(), "invalid_time", "{event}: {err}");
        assert_eq!(err.field(), Some("at"), "{event}");
        assert_eq!(engine.audit_head(), head);
        assert_eq!(engine.snapshot_json(), before, "{event} changed nothing");
    }
    // The same facts on or after the join are accepted.
    apply(
        &mut engine,
        json!({"type": "member_joined", "member": "d", "sponsor": "c", "at": "2026-03-01T00:00:00Z"}),
    )?;

    // A release dated before a held sale it would release.
    let hold = |on: bool, at: &str| json!({"type": "member_hold_set", "member": "a", "on": on, "reason": "kyc", "at": at});
    apply(&mut engine, hold(true, "2026-01-10T00:00:00Z"))?;
    apply(&mut engine, sale("s1", "100.00", "2026-01-12T00:00:00Z"))?;
    let err = apply(&mut engine, hold(false, "2026-01-11T00:00:00Z")).expect_err("refused");
    assert_eq!(err.code(), "invalid_time", "{err}");
    assert!(err.message().contains("\"s1\""), "{err}");
    apply(&mut engine, hold(false, "2026-01-12T00:00:00Z"))?;
    let balances = engine.balances("a", "USD", "2026-01-13T00:00:00Z")?;
    assert_eq!(balances.held.to_string(), "0.00");
    assert_eq!(balances.pending.to_string(), "20.00");
    Ok(())
}

#[test]
fn settlement_or_failure_before_the_batch_as_of_is_invalid_time() -> upline::Result<()> {
    let mut engine = two_members()?;
    apply(&mut engine, sale("s1", "100.00", "2026-02-01T00:00:00Z"))?;
    apply(
        &mut engine,
        json!({"type": "payouts_prepared", "batch": "p1", "as_of": "2026-03-05T00:00:00Z", "policy": {}}),
    )?;
    let head = engine.audit_head();
    for early in [
        json!({"type": "payout_settled", "payout": "p1:a:USD", "at": "2026-03-04T23:59:59.999Z", "reference": "w"}),
        json!({"type": "payout_failed", "payout": "p1:a:USD", "at": "2026-03-01T00:00:00Z", "reason": "bounced"}),
    ] {
        let err = apply(&mut engine, early).unwrap_err();
        assert_eq!(err.code(), "invalid_time");
        assert_eq!(err.field(), Some("at"));
    }
    assert_eq!(engine.audit_head(), head, "refusals change nothing");
    let reserved = engine.balances("a", "USD", "2026-03-06T00:00:00Z")?;
    assert_eq!(reserved.reserved.to_string(), "20.00");
    apply(
        &mut engine,
        json!({"type": "payout_settled", "payout": "p1:a:USD", "at": "2026-03-05T00:00:00Z", "reference": "w"}),
    )?;
    let paid = engine.balances("a", "USD", "2026-03-06T00:00:00Z")?;
    assert_eq!(paid.paid.to_string(), "20.00");
    assert_eq!(paid.reserved.to_string(), "0.00");
    Ok(())
}

#[test]
fn review_before_the_sale_it_reviews_is_invalid_time() -> upline::Result<()> {
    let mut engine = two_members()?;
    apply(
        &mut engine,
        json!({"type": "screening_rules_set", "id": "r", "at": "2026-01-01T00:00:00Z", "rules": [
            {"id": "too_fast", "when": {"check": "timing", "min_seconds": 15}, "action": "hold", "reason": "bot-like"}
        ]}),
    )?;
    let mut held = sale("s1", "100.00", "2026-02-01T00:00:00Z");
    held["signals"] = json!({"clicked_at": "2026-01-31T23:59:55Z"});
    apply(&mut engine, held)?;
    let err = apply(
        &mut engine,
        json!({"type": "fraud_review_resolved", "review": "s1", "decision": "release", "at": "2026-01-31T00:00:00Z"}),
    )
    .unwrap_err();
    assert_eq!(err.code(), "invalid_time");
    apply(
        &mut engine,
        json!({"type": "fraud_review_resolved", "review": "s1", "decision": "release", "at": "2026-02-02T00:00:00Z"}),
    )?;
    let after = engine.balances("a", "USD", "2026-03-05T00:00:00Z")?;
    assert_eq!(after.available.to_string(), "20.00");
    assert_eq!(after.held.to_string(), "0.00");
    Ok(())
}

fn tax(engine: &Engine, year: i32) -> upline::Result<Vec<(String, String, String, String)>> {
    Ok(engine
        .tax_summary(year, &BTreeMap::new())?
        .into_iter()
        .map(|line| {
            (
                line.earner.to_string(),
                line.currency,
                line.earned.to_string(),
                line.paid.to_string(),
            )
        })
        .collect())
}

/// Earned is accrual by entry date: a refund recorded in 2027 of a 2026
/// sale reduces 2027's earned and leaves the closed year 2026 as it was.
#[test]
fn reversal_in_a_later_year_reduces_that_years_earned_only() -> upline::Result<()> {
    let mut engine = two_members()?;
    apply(&mut engine, sale("s1", "100.00", "2026-12-20T00:00:00Z"))?;
    let closed = tax(&engine, 2026)?;
    assert_eq!(
        closed,
        [("a".into(), "USD".into(), "20.00".into(), "0.00".into())]
    );
    apply(
        &mut engine,
        json!({"type": "refund_recorded", "refund": "r1", "sale": "s1", "amount": "25.00", "at": "2027-01-10T00:00:00Z"}),
    )?;
    assert_eq!(tax(&engine, 2026)?, closed, "a closed year never changes");
    assert_eq!(
        tax(&engine, 2027)?,
        [("a".into(), "USD".into(), "-5.00".into(), "0.00".into())]
    );
    Ok(())
}

/// A EUR sale paid in USD: the USD lines are what payouts and tax
/// summaries see; nothing is owed in EUR.
#[test]
fn a_sale_paid_in_another_currency_is_paid_out_and_taxed_in_that_currency() -> upline::Result<()> {
    let mut engine = two_members()?;
    let mut paid_in_usd = sale("s1", "99.99", "2026-02-01T00:00:00Z");
    paid_in_usd["currency"] = json!("EUR");
    paid_in_usd["fx"] = json!({"currency": "USD", "rate": "1.0832"});
    let applied = apply(&mut engine, paid_in_usd.clone())?;
    let distribution = applied.to_json_value()["distribution"].clone();
    assert_eq!(distribution["currency"], "EUR");
    assert_eq!(distribution["amount"], "99.99");
    assert_eq!(
        distribution["fx"],
        json!({"currency": "USD", "rate": "1.0832", "base": "108.31"})
    );
    assert_eq!(distribution["lines"][0]["base"], "108.31");
    assert_eq!(distribution["lines"][0]["amount"], "21.66");
    assert_eq!(distribution["retained"], "86.65");
    // The same webhook again, the rate spelt with a trailing zero: a retry.
    paid_in_usd["fx"]["rate"] = json!("1.08320");
    assert!(apply(&mut engine, paid_in_usd.clone())?.replayed);
    // Another rate is another event.
    paid_in_usd["fx"]["rate"] = json!("1.09");
    assert_eq!(
        apply(&mut engine, paid_in_usd).unwrap_err().code(),
        "duplicate_id"
    );
    let batch = apply(
        &mut engine,
        json!({"type": "payouts_prepared", "batch": "p1", "as_of": "2026-03-05T00:00:00Z", "policy": {}}),
    )?;
    let items = batch.to_json_value()["batch"]["items"].clone();
    assert_eq!(items.as_array().map(Vec::len), Some(1));
    assert_eq!(items[0]["currency"], "USD");
    assert_eq!(items[0]["gross"], "21.66");
    assert_eq!(
        tax(&engine, 2026)?,
        [("a".into(), "USD".into(), "21.66".into(), "0.00".into())]
    );
    Ok(())
}

/// A reporting threshold below zero would mark every earner as reached,
/// even one paid nothing: refused as `invalid_amount` naming the currency.
#[test]
fn a_negative_tax_threshold_is_invalid_amount() -> upline::Result<()> {
    let mut engine = two_members()?;
    apply(&mut engine, sale("s1", "100.00", "2026-02-01T00:00:00Z"))?;
    let thresholds = |text: &str| BTreeMap::from([("USD".to_string(), text.to_string())]);
    let err = engine
        .tax_summary(2026, &thresholds("-1.00"))
        .expect_err("refused");
    assert_eq!(err.code(), "invalid_amount");
    assert_eq!(err.field(), Some("thresholds.USD"));
    let lines = engine.tax_summary(2026, &thresholds("0"))?;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].earned.to_string(), "20.00");
    Ok(())
}

/// A refund that arrives after a hold release but is dated before it would
/// reverse a line that was held at the refund's time out of `available`
/// (a negative available beside a held balance): refused as
/// `invalid_time`; dated after the release it is applied.
#[test]
fn a_refund_dated_before_the_release_of_a_line_it_reverses_is_invalid_time() -> upline::Result<()> {
    let mut engine = two_members()?;
    let hold = |on: bool, at: &str| json!({"type": "member_hold_set", "member": "a", "on": on, "reason": "kyc", "at": at});
    apply(&mut engine, hold(true, "2026-01-10T00:00:00Z"))?;
    apply(&mut engine, sale("s1", "100.00", "2026-02-01T00:00:00Z"))?;
    apply(&mut engine, hold(false, "2026-03-10T00:00:00Z"))?;
    let refund = |id: &str, at: &str| json!({"type": "refund_recorded", "refund": id, "sale": "s1", "amount": "50.00", "at": at});
    let before = engine.snapshot_json();
    let err = apply(&mut engine, refund("r1", "2026-03-01T00:00:00Z")).expect_err("refused");
    assert_eq!(err.code(), "invalid_time", "{err}");
    assert!(err.message().contains("release"), "{err}");
    assert_eq!(
        engine.snapshot_json(),
        before,
        "a refused refund changes nothing"
    );
    apply(&mut engine, refund("r1", "2026-03-11T00:00:00Z"))?;
    let balances = engine.balances("a", "USD", "2026-03-12T00:00:00Z")?;
    assert_eq!(balances.held.to_string(), "0.00");
    assert_eq!(balances.available.to_string(), "10.00");
    Ok(())
}
