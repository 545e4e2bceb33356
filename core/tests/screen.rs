//! Fraud screening (issue 8): every rule matches, nearly matches and
//! misses its signal; ring, ladder and self-referral scenarios to the cent;
//! malformed rules and reviews are refused with the field named.

use serde_json::{json, Value};
use upline::{Applied, Engine, Event};

fn apply(engine: &mut Engine, event: Value) -> upline::Result<Applied> {
    engine.apply(&Event::from_value(event.clone()).unwrap_or_else(|e| panic!("{event}: {e}")))
}

fn ok(engine: &mut Engine, event: Value) -> Value {
    apply(engine, event.clone())
        .unwrap_or_else(|e| panic!("{event}: {e}"))
        .to_json_value()
}

fn join(engine: &mut Engine, member: &str, sponsor: Option<&str>, at: &str, signals: Value) {
    let mut event =
        json!({"type": "member_joined", "member": member, "sponsor": sponsor, "at": at});
    if !signals.is_null() {
        event["signals"] = signals;
    }
    ok(engine, event);
}

/// Applies a USD sale and returns its distribution as JSON.
fn sale(
    engine: &mut Engine,
    id: &str,
    buyer: &str,
    amount: &str,
    at: &str,
    signals: Value,
) -> Value {
    let mut event = json!({"type": "sale_recorded", "sale": id, "buyer": buyer,
        "amount": amount, "currency": "USD", "at": at});
    if !signals.is_null() {
        event["signals"] = signals;
    }
    ok(engine, event)["distribution"].clone()
}

fn rules(engine: &mut Engine, rules: Value) {
    ok(
        engine,
        json!({"type": "screening_rules_set", "id": "rules-1", "rules": rules,
               "at": "2026-01-01T00:00:00Z"}),
    );
}

fn one_rule(engine: &mut Engine, when: Value, action: &str) {
    rules(
        engine,
        json!([{"id": "r", "when": when, "action": action, "reason": "test"}]),
    );
}

fn balance(engine: &Engine, member: &str, as_of: &str, bucket: &str) -> String {
    let b = engine.balances(member, "USD", as_of).unwrap();
    match bucket {
        "pending" => b.pending,
        "available" => b.available,
        "held" => b.held,
        _ => panic!("bucket {bucket}"),
    }
    .to_string()
}

/// (rule, action, levels) of every hit.
fn hits(distribution: &Value) -> Vec<(String, String, Vec<u64>)> {
    let Some(hits) = distribution["screening"]["hits"].as_array() else {
        return Vec::new();
    };
    hits.iter()
        .map(|h| {
            (
                h["rule"].as_str().unwrap().to_string(),
                h["action"].as_str().unwrap().to_string(),
                h["levels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l.as_u64().unwrap())
                    .collect(),
            )
        })
        .collect()
}

fn hit(rule: &str, action: &str, levels: &[u64]) -> Vec<(String, String, Vec<u64>)> {
    vec![(rule.to_string(), action.to_string(), levels.to_vec())]
}

const JAN: &str = "2026-01-01T00:00:00Z";
const FEB: &str = "2026-02-01T12:00:00Z";

/// ann ← bob ← cal, a plain chain of three.
fn chain(signals: [Value; 3]) -> Engine {
    let mut engine = Engine::new();
    let [a, b, c] = signals;
    join(&mut engine, "ann", None, JAN, a);
    join(&mut engine, "bob", Some("ann"), "2026-01-05T00:00:00Z", b);
    join(&mut engine, "cal", Some("bob"), "2026-01-09T00:00:00Z", c);
    engine
}

// ---- self-referral ---------------------------------------------------------

#[test]
fn self_referral_holds_the_line_of_an_earner_in_the_buyers_cluster() {
    // cal's gmail address normalises to ann's.
    let mut engine = chain([
        json!({"email": "ann@gmail.com"}),
        json!({"email": "bob@example.org"}),
        json!({"email": "A.n.n+promo@GoogleMail.com"}),
    ]);
    one_rule(&mut engine, json!({"check": "self_referral"}), "hold");
    let d = sale(&mut engine, "s1", "cal", "200.00", FEB, Value::Null);
    assert_eq!(hits(&d), hit("r", "hold", &[2]));
    let h = &d["screening"]["hits"][0];
    assert_eq!(h["matched"], json!(["email"]));
    assert_eq!(h["members"], json!(["cal", "ann"]));
    assert_eq!(h["amount"], "30.00");
    assert_eq!(d["lines"][1]["held"], true);
    assert_eq!(d["lines"][0]["held"], false);
    assert_eq!(balance(&engine, "ann", FEB, "held"), "30.00");
    assert_eq!(balance(&engine, "bob", FEB, "pending"), "40.00");
}

#[test]
fn self_referral_near_miss_different_identities_pay_normally() {
    let mut engine = chain([
        json!({"email": "ann@gmail.com", "device": "d-ann"}),
        json!({"email": "bob@example.org"}),
        json!({"email": "ann2@gmail.com", "device": "d-cal"}),
    ]);
    one_rule(&mut engine, json!({"check": "self_referral"}), "hold");
    let d = sale(&mut engine, "s1", "cal", "200.00", FEB, Value::Null);
    assert!(d.get("screening").is_none(), "{d}");
    assert_eq!(balance(&engine, "ann", FEB, "pending"), "30.00");
}

#[test]
fn self_referral_missing_signals_never_match() {
    let mut engine = chain([Value::Null, Value::Null, Value::Null]);
    one_rule(&mut engine, json!({"check": "self_referral"}), "hold");
    let d = sale(&mut engine, "s1", "cal", "200.00", FEB, json!({}));
    assert!(d.get("screening").is_none(), "{d}");
}

#[test]
fn a_sales_own_payment_fingerprint_links_the_buyer_to_the_earner() {
    let mut engine = chain([
        json!({"payment_fingerprint": "card-ann"}),
        Value::Null,
        Value::Null,
    ]);
    one_rule(&mut engine, json!({"check": "self_referral"}), "block");
    let d = sale(
        &mut engine,
        "s1",
        "cal",
        "100.00",
        FEB,
        json!({"payment_fingerprint": " card-ann "}),
    );
    assert_eq!(hits(&d), hit("r", "block", &[2]));
    assert_eq!(
        d["unpaid"][0],
        json!({"level": 2, "reason": "fraud_blocked"})
    );
    assert_eq!(d["retained"], "80.00");
    assert_eq!(d["lines"].as_array().unwrap().len(), 1);
}

#[test]
fn nothing_is_screened_before_rules_are_set() {
    let mut engine = chain([
        json!({"device": "d1"}),
        Value::Null,
        json!({"device": "d1"}),
    ]);
    let d = sale(&mut engine, "s1", "cal", "200.00", FEB, Value::Null);
    assert!(d.get("screening").is_none(), "{d}");
    assert_eq!(balance(&engine, "ann", FEB, "held"), "0.00");
}

/// The self-referral scenario end to end: held, partly refunded while
/// held, released, then matured.
#[test]
fn self_referral_scenario_hold_refund_release_to_the_cent() {
    let mut engine = chain([
        json!({"email": "ann@gmail.com", "ip": "203.0.113.5", "user_agent": "Firefox/130"}),
        json!({"email": "bob@example.org", "ip": "198.51.100.20", "user_agent": "Safari/17"}),
        json!({"ip": "203.0.113.5", "user_agent": "Firefox/130", "clicked_at": "2026-01-08T23:00:00Z"}),
    ]);
    ok(
        &mut engine,
        json!({"type": "screening_rules_set", "id": "moderate-1", "at": JAN}),
    );
    let d = sale(&mut engine, "s1", "cal", "200.00", FEB, Value::Null);
    assert_eq!(hits(&d), hit("self_referral", "hold", &[2]));
    assert_eq!(d["screening"]["rules"], "moderate-1");
    assert_eq!(
        d["screening"]["hits"][0]["matched"],
        json!(["ip+user_agent"])
    );
    assert_eq!(d["retained"], "130.00");
    assert_eq!(balance(&engine, "ann", FEB, "held"), "30.00");

    // A quarter refunded while held: 7.50 comes out of held.
    let refund = ok(
        &mut engine,
        json!({"type": "refund_recorded", "refund": "r1", "sale": "s1",
               "amount": "50.00", "at": "2026-02-10T00:00:00Z"}),
    );
    assert_eq!(refund["reversals"][1]["amount"], "7.50");
    assert_eq!(refund["entries"][1]["kind"], "reversal_held");
    assert_eq!(
        balance(&engine, "ann", "2026-02-11T00:00:00Z", "held"),
        "22.50"
    );

    let resolved = ok(
        &mut engine,
        json!({"type": "fraud_review_resolved", "review": "s1", "decision": "release",
               "at": "2026-02-15T00:00:00Z", "note": "ann's household, verified"}),
    );
    assert_eq!(resolved["entries"][0]["kind"], "release");
    assert_eq!(resolved["entries"][0]["amount"], "22.50");
    assert_eq!(
        balance(&engine, "ann", "2026-02-20T00:00:00Z", "held"),
        "0.00"
    );
    assert_eq!(
        balance(&engine, "ann", "2026-02-20T00:00:00Z", "pending"),
        "22.50"
    );
    assert_eq!(
        balance(&engine, "ann", "2026-03-05T00:00:00Z", "available"),
        "22.50"
    );
    // held 30.00 = reversed 7.50 + released 22.50.

    // The same resolution again is a retry; another one is refused.
    let again = apply(
        &mut engine,
        json!({"type": "fraud_review_resolved", "review": "s1", "decision": "release",
               "at": "2026-02-15T00:00:00Z", "note": "ann's household, verified"}),
    )
    .unwrap();
    assert!(again.replayed);
    let before = engine.snapshot_json();
    let err = apply(
        &mut engine,
        json!({"type": "fraud_review_resolved", "review": "s1", "decision": "reverse",
               "at": "2026-02-16T00:00:00Z"}),
    )
    .unwrap_err();
    assert_eq!((err.code(), err.field()), ("review_state", Some("review")));
    assert_eq!(engine.snapshot_json(), before);

    // After the release, a refund reverses from the flow.
    let refund = ok(
        &mut engine,
        json!({"type": "refund_recorded", "refund": "r2", "sale": "s1",
               "amount": "150.00", "at": "2026-02-20T00:00:00Z"}),
    );
    assert_eq!(refund["reversals"][1]["amount"], "22.50");
    assert_eq!(refund["entries"][1]["kind"], "reversal");
    assert_eq!(
        balance(&engine, "ann", "2026-03-05T00:00:00Z", "available"),
        "0.00"
    );
}

// ---- rings -----------------------------------------------------------------

/// rex ← ada ← ben ← ada2 ← cy, two days apart; ada and ada2 pay with the
/// same card.
fn ring_world(ada2_signals: Value) -> Engine {
    let mut engine = Engine::new();
    join(&mut engine, "rex", None, JAN, Value::Null);
    join(
        &mut engine,
        "ada",
        Some("rex"),
        "2026-01-03T00:00:00Z",
        json!({"payment_fingerprint": "card-1", "device": "dev-ada"}),
    );
    join(
        &mut engine,
        "ben",
        Some("ada"),
        "2026-01-05T00:00:00Z",
        json!({"device": "dev-ben"}),
    );
    join(
        &mut engine,
        "ada2",
        Some("ben"),
        "2026-01-07T00:00:00Z",
        ada2_signals,
    );
    join(
        &mut engine,
        "cy",
        Some("ada2"),
        "2026-01-09T00:00:00Z",
        json!({"device": "dev-cy"}),
    );
    engine
}

#[test]
fn ring_scenario_holds_the_ring_and_a_reversal_voids_it_to_the_cent() {
    let mut engine = ring_world(json!({"payment_fingerprint": "card-1"}));
    ok(
        &mut engine,
        json!({"type": "screening_rules_set", "id": "m", "preset": "moderate", "at": JAN}),
    );
    let d = sale(&mut engine, "s1", "cy", "100.00", FEB, Value::Null);
    // ada2 (level 1, 20.00) and ada (level 3, 10.00) are the ring.
    assert_eq!(hits(&d), hit("ring", "hold", &[1, 3]));
    let h = &d["screening"]["hits"][0];
    assert_eq!(h["amount"], "30.00");
    assert_eq!(h["earners"], json!(["ada2", "ada"]));
    assert_eq!(h["members"], json!(["cy", "ada2", "ben", "ada"]));
    assert_eq!(h["matched"], json!(["payment_fingerprint"]));
    assert_eq!(balance(&engine, "ada2", FEB, "held"), "20.00");
    assert_eq!(balance(&engine, "ada", FEB, "held"), "10.00");
    assert_eq!(balance(&engine, "ben", FEB, "pending"), "15.00");

    let resolved = ok(
        &mut engine,
        json!({"type": "fraud_review_resolved", "review": "s1", "decision": "reverse",
               "at": "2026-02-05T00:00:00Z"}),
    );
    let kinds: Vec<&str> = resolved["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["reversal_held", "reversal_held"]);
    let end = "2026-12-31T00:00:00Z";
    for member in ["ada", "ada2"] {
        assert_eq!(balance(&engine, member, end, "held"), "0.00");
        assert_eq!(balance(&engine, member, end, "available"), "0.00");
    }
    // A full refund afterwards reverses only the lines still standing.
    let refund = ok(
        &mut engine,
        json!({"type": "refund_recorded", "refund": "r1", "sale": "s1",
               "amount": "100.00", "at": "2026-02-06T00:00:00Z"}),
    );
    assert_eq!(
        refund["reversals"],
        json!([{"earner": "ben", "level": 2, "amount": "15.00"},
               {"earner": "rex", "level": 4, "amount": "8.00"}])
    );
    assert_eq!(balance(&engine, "ben", end, "available"), "0.00");
}

#[test]
fn ring_near_miss_a_cluster_sponsoring_itself_directly_is_no_ring() {
    // ada2 directly under ada: no other cluster between them.
    let mut engine = Engine::new();
    join(
        &mut engine,
        "ada",
        None,
        JAN,
        json!({"payment_fingerprint": "card-1"}),
    );
    join(
        &mut engine,
        "ada2",
        Some("ada"),
        "2026-01-03T00:00:00Z",
        json!({"payment_fingerprint": "card-1"}),
    );
    join(
        &mut engine,
        "cy",
        Some("ada2"),
        "2026-01-05T00:00:00Z",
        Value::Null,
    );
    one_rule(&mut engine, json!({"check": "ring"}), "hold");
    let d = sale(&mut engine, "s1", "cy", "100.00", FEB, Value::Null);
    assert!(d.get("screening").is_none(), "{d}");
}

#[test]
fn ring_missing_signals_never_match() {
    let mut engine = ring_world(Value::Null);
    one_rule(&mut engine, json!({"check": "ring"}), "hold");
    let d = sale(&mut engine, "s1", "cy", "100.00", FEB, Value::Null);
    assert!(d.get("screening").is_none(), "{d}");
}

// ---- ladders ---------------------------------------------------------------

/// hub (two children) ← l1 ← l2 ← l3 ← leaf, the rungs joined at the given
/// times.
fn ladder_world(rungs: [&str; 3], extra_child_of_l2: bool) -> Engine {
    let mut engine = Engine::new();
    join(&mut engine, "hub", None, JAN, Value::Null);
    join(&mut engine, "side", Some("hub"), JAN, Value::Null);
    join(&mut engine, "l1", Some("hub"), rungs[0], Value::Null);
    join(&mut engine, "l2", Some("l1"), rungs[1], Value::Null);
    join(&mut engine, "l3", Some("l2"), rungs[2], Value::Null);
    if extra_child_of_l2 {
        join(&mut engine, "l3b", Some("l2"), rungs[2], Value::Null);
    }
    // The buyer joins after the last rung (a join is not before its
    // sponsor's).
    let leaf_joined = rungs[2].max("2026-01-10T12:00:00Z");
    join(&mut engine, "leaf", Some("l3"), leaf_joined, Value::Null);
    engine
}

const RUNGS: [&str; 3] = [
    "2026-01-10T01:00:00Z",
    "2026-01-10T05:00:00Z",
    "2026-01-10T09:00:00Z",
];

#[test]
fn ladder_scenario_holds_three_rungs_then_releases_them_to_the_cent() {
    let mut engine = ladder_world(RUNGS, false);
    one_rule(&mut engine, json!({"check": "ladder"}), "hold");
    let d = sale(&mut engine, "s1", "leaf", "100.00", FEB, Value::Null);
    assert_eq!(hits(&d), hit("r", "hold", &[1, 2, 3]));
    assert_eq!(d["screening"]["hits"][0]["amount"], "45.00");
    assert_eq!(
        d["screening"]["hits"][0]["members"],
        json!(["leaf", "l3", "l2", "l1"])
    );
    assert_eq!(balance(&engine, "hub", FEB, "pending"), "8.00");
    for (member, amount) in [("l3", "20.00"), ("l2", "15.00"), ("l1", "10.00")] {
        assert_eq!(balance(&engine, member, FEB, "held"), amount);
    }
    // A 10 % refund while held, then the release of the rest.
    ok(
        &mut engine,
        json!({"type": "refund_recorded", "refund": "r1", "sale": "s1",
               "amount": "10.00", "at": "2026-02-02T00:00:00Z"}),
    );
    ok(
        &mut engine,
        json!({"type": "fraud_review_resolved", "review": "s1", "decision": "release",
               "at": "2026-02-03T00:00:00Z"}),
    );
    let later = "2026-03-10T00:00:00Z";
    for (member, amount) in [("l3", "18.00"), ("l2", "13.50"), ("l1", "9.00")] {
        assert_eq!(balance(&engine, member, later, "held"), "0.00");
        assert_eq!(balance(&engine, member, later, "available"), amount);
    }
}

#[test]
fn ladder_near_miss_rungs_spread_over_more_than_a_day() {
    let mut engine = ladder_world(
        [
            "2026-01-10T01:00:00Z",
            "2026-01-10T05:00:00Z",
            "2026-01-11T02:00:00Z",
        ],
        false,
    );
    one_rule(&mut engine, json!({"check": "ladder"}), "hold");
    let d = sale(&mut engine, "s1", "leaf", "100.00", FEB, Value::Null);
    assert!(d.get("screening").is_none(), "{d}");
}

#[test]
fn ladder_missing_a_single_child_rung_is_no_ladder() {
    let mut engine = ladder_world(RUNGS, true);
    one_rule(&mut engine, json!({"check": "ladder"}), "hold");
    let d = sale(&mut engine, "s1", "leaf", "100.00", FEB, Value::Null);
    assert!(d.get("screening").is_none(), "{d}");
}

// ---- e-mail domains -------------------------------------------------------

fn blocklisted(email: Value) -> Value {
    let mut engine = chain([Value::Null, Value::Null, Value::Null]);
    ok(
        &mut engine,
        json!({"type": "screening_rules_set", "id": "b", "at": JAN,
               "blocklist": ["mailinator.com"],
               "rules": [{"id": "disposable", "when": {"check": "email_domain",
                          "domains": ["trashmail.io"]}, "action": "block", "reason": "disposable"}]}),
    );
    let signals = if email.is_null() {
        json!({"device": "x"})
    } else {
        json!({ "email": email })
    };
    sale(&mut engine, "s1", "cal", "100.00", FEB, signals)
}

#[test]
fn email_domain_blocks_every_line_of_a_blocklisted_buyer() {
    let d = blocklisted(json!("Someone+x@Mailinator.COM"));
    assert_eq!(hits(&d), hit("disposable", "block", &[1, 2]));
    assert_eq!(d["retained"], "100.00");
    assert_eq!(d["lines"], json!([]));
    let d = blocklisted(json!("a@trashmail.io"));
    assert_eq!(hits(&d), hit("disposable", "block", &[1, 2]));
}

#[test]
fn email_domain_near_miss_a_similar_domain_is_not_listed() {
    let d = blocklisted(json!("someone@mailinator.co"));
    assert!(d.get("screening").is_none(), "{d}");
}

#[test]
fn email_domain_missing_email_never_matches() {
    let d = blocklisted(Value::Null);
    assert!(d.get("screening").is_none(), "{d}");
}

// ---- velocity --------------------------------------------------------------

fn velocity(fourth_at: &str, ip: Option<&str>) -> Value {
    let mut engine = chain([Value::Null, Value::Null, Value::Null]);
    one_rule(
        &mut engine,
        json!({"check": "velocity", "signal": "ip", "max": 3, "window_hours": 72}),
        "hold",
    );
    let signals = ip.map_or(Value::Null, |ip| json!({ "ip": ip }));
    for (i, at) in [
        "2026-02-01T00:00:00Z",
        "2026-02-01T10:00:00Z",
        "2026-02-02T20:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        let d = sale(
            &mut engine,
            &format!("s{i}"),
            "cal",
            "10.00",
            at,
            signals.clone(),
        );
        assert!(d.get("screening").is_none(), "{d}");
    }
    sale(&mut engine, "s3", "cal", "10.00", fourth_at, signals)
}

#[test]
fn velocity_a_fourth_conversion_from_one_ip_within_72_hours_matches() {
    let d = velocity("2026-02-03T23:59:59.999Z", Some("198.51.100.7"));
    assert_eq!(hits(&d), hit("r", "hold", &[1, 2]));
    assert_eq!(d["screening"]["hits"][0]["matched"], json!(["ip"]));
}

#[test]
fn velocity_near_miss_the_first_conversion_left_the_window() {
    let d = velocity("2026-02-04T00:00:00Z", Some("198.51.100.7"));
    assert!(d.get("screening").is_none(), "{d}");
}

#[test]
fn velocity_missing_ip_never_matches() {
    let d = velocity("2026-02-03T00:00:00Z", None);
    assert!(d.get("screening").is_none(), "{d}");
}

// ---- timing ----------------------------------------------------------------

fn timing(signals: Value, join_signals: Value) -> Value {
    let mut engine = chain([Value::Null, Value::Null, join_signals]);
    one_rule(
        &mut engine,
        json!({"check": "timing", "min_seconds": 15}),
        "review",
    );
    sale(&mut engine, "s1", "cal", "100.00", FEB, signals)
}

#[test]
fn timing_a_conversion_ten_seconds_after_the_click_matches() {
    let d = timing(json!({"clicked_at": "2026-02-01T11:59:50Z"}), Value::Null);
    assert_eq!(hits(&d), hit("r", "review", &[1, 2]));
    // Reviewed lines are paid, not held.
    assert_eq!(d["lines"][0]["held"], false);
    // The join's click counts when the sale has none.
    let d = timing(Value::Null, json!({"clicked_at": "2026-01-08T23:59:55Z"}));
    assert_eq!(hits(&d), hit("r", "review", &[1, 2]));
}

#[test]
fn timing_near_miss_exactly_fifteen_seconds() {
    let d = timing(json!({"clicked_at": "2026-02-01T11:59:45Z"}), Value::Null);
    assert!(d.get("screening").is_none(), "{d}");
}

#[test]
fn timing_missing_click_never_matches() {
    let d = timing(json!({"ip": "192.0.2.1"}), Value::Null);
    assert!(d.get("screening").is_none(), "{d}");
}

// ---- high value ------------------------------------------------------------

#[test]
fn high_value_flags_only_lines_above_the_amount_and_misses_other_currencies() {
    let mut engine = chain([Value::Null, Value::Null, Value::Null]);
    one_rule(
        &mut engine,
        json!({"check": "high_value", "above": {"USD": "15.00"}}),
        "hold",
    );
    // 20.00 is above, 15.00 (the near miss) is not.
    let d = sale(&mut engine, "s1", "cal", "100.00", FEB, Value::Null);
    assert_eq!(hits(&d), hit("r", "hold", &[1]));
    // No threshold for EUR: the rule's amount is missing, it never matches.
    let eur = ok(
        &mut engine,
        json!({"type": "sale_recorded", "sale": "s2", "buyer": "cal", "amount": "1000.00",
               "currency": "EUR", "at": FEB}),
    );
    assert!(eur["distribution"].get("screening").is_none());
}

// ---- refund rate -----------------------------------------------------------

fn refund_rate(when: Value) -> Value {
    let mut engine = chain([Value::Null, Value::Null, Value::Null]);
    one_rule(&mut engine, when, "hold");
    sale(
        &mut engine,
        "s1",
        "cal",
        "100.00",
        "2026-02-01T00:00:00Z",
        Value::Null,
    );
    sale(
        &mut engine,
        "s2",
        "cal",
        "100.00",
        "2026-02-02T00:00:00Z",
        Value::Null,
    );
    ok(
        &mut engine,
        json!({"type": "refund_recorded", "refund": "r1", "sale": "s1",
               "amount": "10.00", "at": "2026-02-03T00:00:00Z"}),
    );
    sale(
        &mut engine,
        "s3",
        "cal",
        "100.00",
        "2026-02-04T00:00:00Z",
        Value::Null,
    )
}

#[test]
fn refund_rate_above_the_threshold_holds_the_earners_lines() {
    let d = refund_rate(json!({"check": "refund_rate", "above": "0.10", "min_sales": 2}));
    assert_eq!(hits(&d), hit("r", "hold", &[1, 2]));
}

#[test]
fn refund_rate_near_miss_exactly_at_the_threshold() {
    let d = refund_rate(json!({"check": "refund_rate", "above": "0.5", "min_sales": 2}));
    assert!(d.get("screening").is_none(), "{d}");
}

#[test]
fn refund_rate_missing_history_too_few_sales_never_matches() {
    let d = refund_rate(json!({"check": "refund_rate"}));
    assert!(d.get("screening").is_none(), "{d}");
}

// ---- rule order, presets, activation -------------------------------------

#[test]
fn the_first_matching_rule_wins_and_allow_stops_the_search() {
    let mut engine = chain([json!({"device": "d"}), Value::Null, json!({"device": "d"})]);
    rules(
        &mut engine,
        json!([
            {"id": "trusted", "when": {"check": "high_value", "above": {"USD": "0"}},
             "action": "allow", "reason": "whitelisted"},
            {"id": "self", "when": {"check": "self_referral"}, "action": "block", "reason": "x"}
        ]),
    );
    let d = sale(&mut engine, "s1", "cal", "100.00", FEB, Value::Null);
    assert_eq!(hits(&d), hit("trusted", "allow", &[1, 2]));
    assert_eq!(d["retained"], "65.00");
}

#[test]
fn presets_are_valid_rules() {
    for name in ["relaxed", "moderate", "strict"] {
        let mut engine = Engine::new();
        ok(
            &mut engine,
            json!({"type": "screening_rules_set", "id": name, "preset": name, "at": JAN}),
        );
        let rules = upline::screen::preset(name).unwrap();
        let mut again = Engine::new();
        ok(
            &mut again,
            json!({"type": "screening_rules_set", "id": name, "rules": rules, "at": JAN}),
        );
    }
}

#[test]
fn the_same_rules_event_again_is_a_retry_and_other_content_is_a_duplicate() {
    let mut engine = Engine::new();
    let event = json!({"type": "screening_rules_set", "id": "v1", "preset": "strict", "at": JAN});
    ok(&mut engine, event.clone());
    assert!(apply(&mut engine, event).unwrap().replayed);
    let before = engine.snapshot_json();
    let err = apply(
        &mut engine,
        json!({"type": "screening_rules_set", "id": "v1", "preset": "relaxed", "at": JAN}),
    )
    .unwrap_err();
    assert_eq!(err.code(), "duplicate_id");
    assert_eq!(engine.snapshot_json(), before);
}

#[test]
fn rules_apply_only_to_sales_after_their_activation_and_snapshots_keep_them() {
    let mut engine = chain([json!({"device": "d"}), Value::Null, json!({"device": "d"})]);
    let d = sale(&mut engine, "s0", "cal", "100.00", FEB, Value::Null);
    assert!(d.get("screening").is_none());
    ok(
        &mut engine,
        json!({"type": "screening_rules_set", "id": "m", "at": FEB}),
    );
    let mut restored = Engine::from_snapshot_json(&engine.snapshot_json()).unwrap();
    let a = sale(&mut engine, "s1", "cal", "100.00", FEB, Value::Null);
    let b = sale(&mut restored, "s1", "cal", "100.00", FEB, Value::Null);
    assert_eq!(hits(&a), hit("self_referral", "hold", &[2]));
    assert_eq!(a, b);
    assert_eq!(engine.audit_head(), restored.audit_head());
}

// ---- backtest --------------------------------------------------------------

#[test]
fn backtest_reports_per_rule_and_the_difference_without_changing_anything() {
    let history: Vec<Event> = [
        json!({"type": "member_joined", "member": "ann", "sponsor": null, "at": JAN,
               "signals": {"device": "d1"}}),
        json!({"type": "member_joined", "member": "bob", "sponsor": "ann", "at": JAN}),
        json!({"type": "member_joined", "member": "cal", "sponsor": "bob", "at": JAN,
               "signals": {"device": "d1"}}),
        json!({"type": "screening_rules_set", "id": "lax", "preset": "relaxed", "at": JAN}),
        json!({"type": "sale_recorded", "sale": "s1", "buyer": "cal", "amount": "200.00",
               "currency": "USD", "at": FEB}),
    ]
    .into_iter()
    .map(|v| Event::from_value(v).unwrap())
    .collect();
    let live = Engine::replay(&history).unwrap();
    let before = live.snapshot_json();
    let candidate: upline::event::ScreeningRulesSet =
        serde_json::from_value(json!({"id": "strict-1", "preset": "strict", "at": JAN})).unwrap();
    let report = upline::backtest(&history, &candidate).unwrap();
    assert_eq!(live.snapshot_json(), before);
    let report = serde_json::to_value(&report).unwrap();
    assert_eq!(report["sales"], 1);
    assert_eq!(report["sales_changed"], 1);
    assert_eq!(report["rules"][0]["rule"], "self_referral");
    assert_eq!(report["rules"][0]["matches"], 1);
    assert_eq!(report["rules"][0]["blocked"]["USD"], "30.00");
    assert_eq!(report["rules"][0]["earners"], 1);
    assert_eq!(report["rules"][1]["matches"], 0);
    assert_eq!(report["in_force"][0]["rules"], "lax");
    assert_eq!(report["in_force"][0]["reviewed"]["USD"], "30.00");
    assert_eq!(report["blocked_difference"]["USD"], "30.00");
    assert_eq!(report["candidate_totals"]["earners"], 1);
    // Bad candidate rules are refused with the field named.
    let bad: upline::event::ScreeningRulesSet =
        serde_json::from_value(json!({"id": "x", "preset": "paranoid", "at": JAN})).unwrap();
    let err = upline::backtest(&history, &bad).unwrap_err();
    assert_eq!(
        (err.code(), err.field()),
        ("invalid_rules", Some("candidate.preset"))
    );
    // The JSON entry point.
    let text = upline::backtest_json(
        &serde_json::to_string(&history).unwrap(),
        r#"{"type":"screening_rules_set","id":"s","preset":"strict","at":"2026-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    assert!(text.contains("\"sales_changed\":1"));
}

// ---- bad input ---------------------------------------------------------------

fn refused(engine: &mut Engine, event: Value, code: &str, field: Option<&str>) {
    let before = engine.snapshot_json();
    let head = engine.audit_head();
    let err = match Event::from_value(event.clone()) {
        Err(err) => err,
        Ok(decoded) => engine.apply(&decoded).expect_err(&event.to_string()),
    };
    assert_eq!((err.code(), err.field()), (code, field), "{event}: {err}");
    assert_eq!(engine.snapshot_json(), before, "{event} changed the engine");
    assert_eq!(engine.audit_head(), head);
}

fn rules_event(rules: Value) -> Value {
    json!({"type": "screening_rules_set", "id": "bad", "rules": rules, "at": JAN})
}

#[test]
fn malformed_rules_are_refused_at_activation_with_the_field_named() {
    let mut engine = chain([Value::Null, Value::Null, Value::Null]);
    let r = |when: Value, action: &str| json!([{"id": "r", "when": when, "action": action, "reason": ""}]);
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            r(json!({"check": "horoscope"}), "hold"),
            "invalid_rules",
            "rules[0].when.check",
        ),
        (
            r(json!({"check": "velocity", "signal": "fax"}), "hold"),
            "invalid_rules",
            "rules[0].when.signal",
        ),
        (
            r(json!({"check": "velocity", "max": 0}), "hold"),
            "invalid_rules",
            "rules[0].when.max",
        ),
        (
            r(json!({"check": "velocity", "max": "3"}), "hold"),
            "invalid_rules",
            "rules[0].when.max",
        ),
        (
            r(json!({"check": "velocity", "max": 1_000}), "hold"),
            "invalid_rules",
            "rules[0].when.max",
        ),
        (
            r(json!({"check": "timing", "min_seconds": -1}), "hold"),
            "invalid_rules",
            "rules[0].when.min_seconds",
        ),
        (
            r(json!({"check": "refund_rate", "above": "1.5"}), "hold"),
            "invalid_rules",
            "rules[0].when.above",
        ),
        (
            r(json!({"check": "refund_rate", "above": 0.1}), "hold"),
            "invalid_rules",
            "rules[0].when.above",
        ),
        (
            r(
                json!({"check": "high_value", "above": {"USD": "-1"}}),
                "hold",
            ),
            "invalid_rules",
            "rules[0].when.above.USD",
        ),
        (
            r(json!({"check": "high_value"}), "hold"),
            "invalid_rules",
            "rules[0].when.above",
        ),
        (
            r(json!({"check": "ladder", "min_length": 1}), "hold"),
            "invalid_rules",
            "rules[0].when.min_length",
        ),
        (
            r(json!({"check": "ring", "depth": 3}), "hold"),
            "invalid_rules",
            "rules[0].when.depth",
        ),
        (
            r(json!({"check": "email_domain", "domains": ["a b"]}), "hold"),
            "invalid_rules",
            "rules[0].when.domains[0]",
        ),
        (
            r(json!({"check": "ring"}), "quarantine"),
            "invalid_rules",
            "rules[0].action",
        ),
        (
            json!([{"id": "r", "when": {"check": "ring"}, "action": "hold", "priority": 1}]),
            "invalid_rules",
            "rules[0].priority",
        ),
        (
            json!([{"when": {"check": "ring"}, "action": "hold"}]),
            "invalid_rules",
            "rules[0].id",
        ),
        (
            json!([{"id": "r", "action": "hold"}]),
            "invalid_rules",
            "rules[0].when",
        ),
        (json!(["ring"]), "invalid_rules", "rules[0]"),
        (
            json!([{"id": "r", "when": {"check": "ring"}, "action": "hold"},
                {"id": "r", "when": {"check": "ladder"}, "action": "hold"}]),
            "invalid_rules",
            "rules[1].id",
        ),
    ];
    for (rules, code, field) in cases {
        refused(&mut engine, rules_event(rules), code, Some(field));
    }
    refused(
        &mut engine,
        json!({"type": "screening_rules_set", "id": "bad", "preset": "paranoid", "at": JAN}),
        "invalid_rules",
        Some("preset"),
    );
    refused(
        &mut engine,
        json!({"type": "screening_rules_set", "id": "bad", "preset": "strict", "rules": [], "at": JAN}),
        "invalid_rules",
        Some("rules"),
    );
    refused(
        &mut engine,
        json!({"type": "screening_rules_set", "id": "bad", "blocklist": ["@"], "at": JAN}),
        "invalid_rules",
        Some("blocklist[0]"),
    );
    refused(
        &mut engine,
        json!({"type": "screening_rules_set", "id": "", "at": JAN}),
        "invalid_id",
        Some("id"),
    );
    refused(
        &mut engine,
        json!({"type": "screening_rules_set", "id": "x", "at": "2026-01-01T00:00:00"}),
        "invalid_time",
        Some("at"),
    );
    refused(
        &mut engine,
        json!({"type": "screening_rules_set", "id": "x", "at": JAN, "mode": "on"}),
        "malformed",
        Some("mode"),
    );
}

#[test]
fn malformed_signals_are_refused_with_the_field_named() {
    let mut engine = chain([Value::Null, Value::Null, Value::Null]);
    let join_with = |signals: Value| json!({"type": "member_joined", "member": "new", "sponsor": "ann", "at": FEB, "signals": signals});
    let sale_with = |signals: Value| {
        json!({"type": "sale_recorded", "sale": "s9", "buyer": "cal", "amount": "1.00",
               "currency": "USD", "at": FEB, "signals": signals})
    };
    for event in [join_with as fn(Value) -> Value, sale_with] {
        refused(
            &mut engine,
            event(json!({"ip": "999.1.1.1"})),
            "invalid_signal",
            Some("signals.ip"),
        );
        refused(
            &mut engine,
            event(json!({"email": "nobody"})),
            "invalid_signal",
            Some("signals.email"),
        );
        refused(
            &mut engine,
            event(json!({"device": "  "})),
            "invalid_signal",
            Some("signals.device"),
        );
        refused(
            &mut engine,
            event(json!({"clicked_at": "2026-02-01T12:00:01Z"})),
            "invalid_signal",
            Some("signals.clicked_at"),
        );
        refused(
            &mut engine,
            event(json!({"clicked_at": "2026-02-01T11:00:00"})),
            "invalid_time",
            Some("signals.clicked_at"),
        );
        refused(
            &mut engine,
            event(json!({"fax": "1"})),
            "malformed",
            Some("signals.fax"),
        );
    }
}

#[test]
fn reviews_that_do_not_exist_or_were_resolved_are_refused() {
    let mut engine = chain([json!({"device": "d"}), Value::Null, json!({"device": "d"})]);
    one_rule(&mut engine, json!({"check": "self_referral"}), "review");
    sale(&mut engine, "flagged", "cal", "10.00", FEB, Value::Null);
    let resolve = |review: &str, decision: &str| json!({"type": "fraud_review_resolved", "review": review, "decision": decision, "at": FEB});
    refused(
        &mut engine,
        resolve("ghost", "release"),
        "unknown_review",
        Some("review"),
    );
    // Flagged but not held: nothing to resolve.
    refused(
        &mut engine,
        resolve("flagged", "release"),
        "unknown_review",
        Some("review"),
    );
    refused(
        &mut engine,
        resolve("flagged", "approve"),
        "malformed",
        Some("decision"),
    );
    one_rule_again(&mut engine);
    sale(&mut engine, "held", "cal", "10.00", FEB, Value::Null);
    ok(&mut engine, resolve("held", "reverse"));
    refused(
        &mut engine,
        resolve("held", "release"),
        "review_state",
        Some("review"),
    );
}

fn one_rule_again(engine: &mut Engine) {
    ok(
        engine,
        json!({"type": "screening_rules_set", "id": "rules-2", "at": JAN,
               "rules": [{"id": "r", "when": {"check": "self_referral"}, "action": "hold", "reason": ""}]}),
    );
}

#[test]
fn a_retried_sale_with_other_signals_is_a_duplicate() {
    let mut engine = chain([Value::Null, Value::Null, Value::Null]);
    sale(
        &mut engine,
        "s1",
        "cal",
        "10.00",
        FEB,
        json!({"ip": "192.0.2.1"}),
    );
    let again = apply(
        &mut engine,
        json!({"type": "sale_recorded", "sale": "s1", "buyer": "cal", "amount": "10.00",
               "currency": "USD", "at": FEB, "signals": {"ip": "192.0.2.1"}}),
    )
    .unwrap();
    assert!(again.replayed);
    refused(
        &mut engine,
        json!({"type": "sale_recorded", "sale": "s1", "buyer": "cal", "amount": "10.00",
               "currency": "USD", "at": FEB, "signals": {"ip": "192.0.2.2"}}),
        "duplicate_id",
        Some("sale"),
    );
}

#[test]
fn identity_clusters_and_whole_graph_rings_can_be_queried() {
    let engine = ring_world(json!({"payment_fingerprint": "card-1"}));
    let ids = |v: Vec<std::sync::Arc<str>>| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        ids(engine.identity_cluster("ada2").unwrap()),
        ["ada2", "ada"]
    );
    assert_eq!(ids(engine.identity_cluster("ben").unwrap()), ["ben"]);
    let rings: Vec<Vec<String>> = engine.screening_rings().into_iter().map(ids).collect();
    assert_eq!(rings, [["ada", "ben", "ada2"]]);
    assert!(ring_world(Value::Null).screening_rings().is_empty());
    assert_eq!(
        engine.identity_cluster("ghost").unwrap_err().code(),
        "unknown_member"
    );
}

#[test]
fn snapshots_written_before_screening_existed_still_load() {
    let mut engine = chain([Value::Null, Value::Null, Value::Null]);
    sale(&mut engine, "s1", "cal", "100.00", FEB, Value::Null);
    let mut old: Value = serde_json::from_str(&engine.snapshot_json()).unwrap();
    // Strip everything this issue added to the snapshot format.
    let state = old["engine"].as_object_mut().unwrap();
    assert!(state.remove("screen").is_some());
    for join in state["joins"].as_array_mut().unwrap() {
        join.as_object_mut().unwrap().remove("signals");
    }
    for sale in state["sales"].as_array_mut().unwrap() {
        let sale = sale.as_object_mut().unwrap();
        for field in ["screening", "review", "signals"] {
            sale.remove(field);
        }
        for line in sale["lines"].as_array_mut().unwrap() {
            line.as_object_mut().unwrap().remove("screened");
            line.as_object_mut().unwrap().remove("voided");
        }
    }
    let mut restored = Engine::from_snapshot_json(&old.to_string()).unwrap();
    assert_eq!(restored.audit_head(), engine.audit_head());
    // And it goes on exactly like the live engine, screening included.
    for e in [&mut engine, &mut restored] {
        ok(
            e,
            json!({"type": "screening_rules_set", "id": "m", "at": FEB}),
        );
    }
    let a = sale(
        &mut engine,
        "s2",
        "cal",
        "100.00",
        FEB,
        json!({"device": "x"}),
    );
    let b = sale(
        &mut restored,
        "s2",
        "cal",
        "100.00",
        FEB,
        json!({"device": "x"}),
    );
    assert_eq!(a, b);
    assert_eq!(engine.audit_head(), restored.audit_head());
}

#[test]
fn backtest_json_refuses_an_oversized_candidate_and_undecodable_history() {
    let candidate = json!({"id": "c", "preset": "strict", "at": "2026-01-01T00:00:00Z",
        "blocklist": vec!["x".repeat(60); 20_000]})
    .to_string();
    assert!(candidate.len() > upline::limits::MAX_JSON_BYTES);
    let err = upline::backtest_json("[]", &candidate).unwrap_err();
    assert_eq!(
        (err.code(), err.field()),
        ("limit_exceeded", Some("candidate"))
    );
    let small = json!({"id": "c", "preset": "strict", "at": "2026-01-01T00:00:00Z"}).to_string();
    let err = upline::backtest_json("[{\"type\":\"nope\"}]", &small).unwrap_err();
    assert_eq!(err.code(), "malformed");
    let report: Value =
        serde_json::from_str(&upline::backtest_json("[]", &small).unwrap()).unwrap();
    assert_eq!(report["sales"], 0);
}

/// Screening keeps two maps keyed by signal hashes (the first member seen
/// with each key, recent sales per ip / device key). A map restored from a
/// snapshot is filled in another order than the live one; a snapshot must
/// still be the same bytes, or `verify` of a store holding one reports the
/// snapshot as tampered. (Found by the `event_sequence` fuzz target.)
#[test]
fn a_restored_engine_writes_its_screening_state_in_the_same_bytes() {
    let mut engine = Engine::open(Box::new(upline::MemoryStore::new())).unwrap();
    join(
        &mut engine,
        "m0",
        None,
        JAN,
        json!({"device": "d0", "email": "a@x.test", "ip": "10.0.0.1"}),
    );
    for i in 1..40 {
        let signals = json!({"device": format!("d{}", i % 7), "email": format!("u{i}@x{}.test", i % 5),
                             "ip": format!("10.0.{}.{}", i % 3, i)});
        join(
            &mut engine,
            &format!("m{i}"),
            Some(&format!("m{}", i - 1)),
            JAN,
            signals,
        );
    }
    for i in 0..30 {
        let signals = json!({"ip": format!("10.1.0.{}", i % 11), "device": format!("s{}", i % 13)});
        sale(
            &mut engine,
            &format!("s{i}"),
            &format!("m{}", 39 - i),
            "10.00",
            FEB,
            signals,
        );
    }
    let text = engine.snapshot_json();
    let restored = Engine::from_snapshot_json(&text).unwrap();
    assert_eq!(restored.snapshot_json(), text);
    engine.save_snapshot().unwrap();
    assert_eq!(engine.verify().unwrap(), engine.audit_head());
}
