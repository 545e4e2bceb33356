//! Milestones, team challenges and leaderboards (issue 9), with the
//! numbers worked out beside each assertion.

use serde_json::{json, Value};
use upline::{Applied, Engine, Event};

const T0: &str = "2026-01-01T00:00:00Z";

fn apply(engine: &mut Engine, event: Value) -> Applied {
    let decoded = Event::from_value(event.clone()).unwrap_or_else(|e| panic!("{event}: {e}"));
    engine
        .apply(&decoded)
        .unwrap_or_else(|e| panic!("{event}: {e}"))
}

fn out(engine: &mut Engine, event: Value) -> Value {
    apply(engine, event).to_json_value()
}

/// Applies `event`, expects the error `code` naming `field`, and checks
/// that nothing changed.
fn refuse(engine: &mut Engine, event: Value, code: &str, field: &str) {
    let before = engine.snapshot_json();
    let head = engine.audit_head();
    let err = match Event::from_value(event.clone()) {
        Ok(decoded) => engine.apply(&decoded).expect_err(&event.to_string()),
        Err(err) => err,
    };
    assert_eq!(err.code(), code, "{event}: {err}");
    assert_eq!(err.field(), Some(field), "{event}: {err}");
    assert_eq!(engine.snapshot_json(), before, "{event} changed the engine");
    assert_eq!(engine.audit_head(), head);
}

fn join(engine: &mut Engine, member: &str, sponsor: Option<&str>, at: &str) -> Value {
    out(
        engine,
        json!({"type": "member_joined", "member": member, "sponsor": sponsor, "at": at}),
    )
}

fn sale(engine: &mut Engine, id: &str, buyer: &str, amount: &str, at: &str) -> Value {
    out(
        engine,
        json!({"type": "sale_recorded", "sale": id, "buyer": buyer, "amount": amount,
               "currency": "USD", "at": at}),
    )
}

fn refund(engine: &mut Engine, id: &str, sale: &str, amount: &str, at: &str) -> Value {
    out(
        engine,
        json!({"type": "refund_recorded", "refund": id, "sale": sale, "amount": amount, "at": at}),
    )
}

fn default_set(on_refund: &str) -> Value {
    json!({"type": "milestones_set", "on_refund": on_refund, "at": T0})
}

fn balances(engine: &Engine, member: &str, as_of: &str) -> Value {
    serde_json::to_value(engine.balances(member, "USD", as_of).unwrap()).unwrap()
}

fn bonus_entries(applied: &Value) -> Vec<(String, String, String)> {
    applied["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "bonus" || e["kind"] == "bonus_reversal")
        .map(|e| {
            (
                e["earner"].as_str().unwrap().to_string(),
                e["kind"].as_str().unwrap().to_string(),
                e["amount"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn award_ids(awards: &Value) -> Vec<String> {
    awards
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    format!(
                        "{}:{}",
                        x["member"].as_str().unwrap(),
                        x["milestone"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

// ---- milestones ------------------------------------------------------------

#[test]
fn no_milestone_is_evaluated_before_milestones_set() {
    let mut engine = Engine::new();
    join(&mut engine, "a", None, T0);
    join(&mut engine, "b", Some("a"), T0);
    let applied = sale(&mut engine, "s1", "b", "100.00", "2026-02-01T00:00:00Z");
    assert!(applied["distribution"].get("awards").is_none());
    assert!(bonus_entries(&applied).is_empty());
    // a earns only its 20 % commission.
    assert_eq!(
        balances(&engine, "a", "2026-12-31T00:00:00Z")["available"],
        "20.00"
    );
}

#[test]
fn first_referral_is_awarded_at_the_sale_that_qualifies_the_referral() {
    let mut engine = Engine::new();
    assert!(out(&mut engine, default_set("keep"))
        .get("awards")
        .is_none());
    join(&mut engine, "a", None, T0);
    // Joining is not enough under `counts: purchased` (the default).
    assert!(join(&mut engine, "b", Some("a"), T0)
        .get("awards")
        .is_none());
    let applied = sale(&mut engine, "s1", "b", "100.00", "2026-02-01T00:00:00Z");
    let awards = &applied["distribution"]["awards"];
    assert_eq!(award_ids(awards), ["a:first_referral"]);
    assert_eq!(awards[0]["name"], "First Referral");
    assert_eq!(awards[0]["metric"], "qualified_referrals");
    assert_eq!(awards[0]["threshold"], "1");
    assert_eq!(awards[0]["value"], "1");
    assert_eq!(
        awards[0]["bonuses"],
        json!([{"amount": "10.00", "currency": "USD"}])
    );
    assert_eq!(awards[0]["perks"], json!([]));
    // One bonus entry of 10.00 for a, referenced by the milestone id and
    // held for the plan's 30 days like the commission: 2026-02-01 + 30 d.
    let bonus = applied["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "bonus")
        .unwrap();
    assert_eq!(bonus["earner"], "a");
    assert_eq!(bonus["amount"], "10.00");
    assert_eq!(bonus["reference"], "first_referral");
    assert_eq!(bonus["available_at"], "2026-03-03T00:00:00Z");
    // a: commission 20.00 + bonus 10.00, pending until 2026-03-03.
    assert_eq!(
        balances(&engine, "a", "2026-02-02T00:00:00Z")["pending"],
        "30.00"
    );
    assert_eq!(
        balances(&engine, "a", "2026-03-03T00:00:00Z")["available"],
        "30.00"
    );
}

#[test]
fn each_default_milestone_is_crossed_once_at_its_threshold() {
    let mut engine = Engine::new();
    out(&mut engine, default_set("keep"));
    join(&mut engine, "a", None, T0);
    // 500 referrals, each buying once: referral n qualifies at sale n.
    let mut crossed = Vec::new();
    for n in 1..=500 {
        let member = format!("r{n:03}");
        join(&mut engine, &member, Some("a"), T0);
        let applied = sale(
            &mut engine,
            &format!("s{n}"),
            &member,
            "1.00",
            "2026-02-01T00:00:00Z",
        );
        for award in applied["distribution"]["awards"]
            .as_array()
            .into_iter()
            .flatten()
        {
            crossed.push((
                n,
                award["milestone"].as_str().unwrap().to_string(),
                award["bonuses"].clone(),
                award["perks"].clone(),
            ));
        }
        // A second sale by the same referral qualifies nobody new.
        let again = sale(
            &mut engine,
            &format!("t{n}"),
            &member,
            "1.00",
            "2026-02-01T00:00:00Z",
        );
        assert!(again["distribution"].get("awards").is_none());
    }
    let usd = |a: &str| json!([{"amount": a, "currency": "USD"}]);
    assert_eq!(
        crossed,
        vec![
            (1, "first_referral".into(), usd("10.00"), json!([])),
            (
                10,
                "viral_starter".into(),
                json!([]),
                json!(["pro_upgrade"])
            ),
            (50, "network_builder".into(), usd("500.00"), json!([])),
            (
                100,
                "viral_master".into(),
                usd("1000.00"),
                json!(["showcase"])
            ),
            (
                500,
                "growth_legend".into(),
                usd("5000.00"),
                json!(["partnership"])
            ),
        ]
    );
    // Bonuses 10 + 500 + 1000 + 5000 = 6510.00; commissions 1000 sales ×
    // 0.20 = 200.00; all mature 30 days after 2026-02-01.
    assert_eq!(
        balances(&engine, "a", "2026-04-01T00:00:00Z")["available"],
        "6710.00"
    );
    let held: Vec<String> = engine
        .awards("a")
        .unwrap()
        .iter()
        .map(|a| a.milestone.to_string())
        .collect();
    assert_eq!(held.len(), 5);
}

#[test]
fn counts_joined_awards_at_the_join() {
    let mut engine = Engine::new();
    out(
        &mut engine,
        json!({"type": "milestones_set", "counts": "joined", "at": T0}),
    );
    join(&mut engine, "a", None, T0);
    let applied = join(&mut engine, "b", Some("a"), "2026-01-05T00:00:00Z");
    assert_eq!(award_ids(&applied["awards"]), ["a:first_referral"]);
    assert_eq!(
        bonus_entries(&applied),
        [("a".to_string(), "bonus".to_string(), "10.00".to_string())]
    );
    // The retry of that join returns the original award and writes nothing.
    let retry = apply(
        &mut engine,
        json!({"type": "member_joined", "member": "b", "sponsor": "a", "at": "2026-01-05T00:00:00Z"}),
    );
    assert!(retry.replayed);
    assert_eq!(
        award_ids(&retry.to_json_value()["awards"]),
        ["a:first_referral"]
    );
    assert!(retry.entries.is_empty());
}

#[test]
fn retries_and_replays_never_award_twice() {
    let mut engine = Engine::new();
    let mut events = Vec::new();
    let mut run = |engine: &mut Engine, event: Value| {
        events.push(Event::from_value(event.clone()).unwrap());
        out(engine, event)
    };
    run(&mut engine, default_set("keep"));
    run(
        &mut engine,
        json!({"type": "member_joined", "member": "a", "sponsor": null, "at": T0}),
    );
    run(
        &mut engine,
        json!({"type": "member_joined", "member": "b", "sponsor": "a", "at": T0}),
    );
    let s1 = json!({"type": "sale_recorded", "sale": "s1", "buyer": "b", "amount": "5.00",
                    "currency": "USD", "at": "2026-02-01T00:00:00Z"});
    let first = run(&mut engine, s1.clone());
    let ledger_len = engine.ledger().len();
    let retry = apply(&mut engine, s1);
    assert!(retry.replayed);
    assert_eq!(retry.to_json_value()["distribution"], first["distribution"]);
    assert_eq!(engine.ledger().len(), ledger_len);
    // The same set again is a retry; nothing is re-evaluated.
    assert!(apply(&mut engine, default_set("keep")).replayed);
    let replayed = Engine::replay(events.iter()).unwrap();
    assert_eq!(replayed.audit_head(), engine.audit_head());
    assert_eq!(replayed.snapshot_json(), engine.snapshot_json());
    // A restored snapshot remembers the award: a second qualifying
    // referral crosses nothing at threshold 1.
    let mut restored = Engine::from_snapshot_json(&engine.snapshot_json()).unwrap();
    join(&mut restored, "c", Some("a"), T0);
    let later = sale(&mut restored, "s2", "c", "5.00", "2026-02-02T00:00:00Z");
    assert!(later["distribution"].get("awards").is_none());
    assert_eq!(restored.awards("a").unwrap().len(), 1);
}

#[test]
fn keep_leaves_the_award_after_a_full_refund_and_never_awards_again() {
    let mut engine = Engine::new();
    out(&mut engine, default_set("keep"));
    join(&mut engine, "a", None, T0);
    join(&mut engine, "b", Some("a"), T0);
    sale(&mut engine, "s1", "b", "50.00", "2026-02-01T00:00:00Z");
    // A partial refund leaves b qualified: nothing to record.
    let partial = refund(&mut engine, "r1", "s1", "20.00", "2026-02-05T00:00:00Z");
    assert!(partial.get("milestone_reversals").is_none());
    // The rest of the refund takes a back to 0 qualified referrals.
    let full = refund(&mut engine, "r2", "s1", "30.00", "2026-02-06T00:00:00Z");
    assert_eq!(
        full["milestone_reversals"],
        json!([{"member": "a", "milestone": "first_referral", "value": "0",
                "applied": "keep", "reversed": []}])
    );
    assert!(bonus_entries(&full).is_empty());
    // a keeps the 10.00 bonus; the 10.00 commission was reversed in full.
    assert_eq!(
        balances(&engine, "a", "2026-04-01T00:00:00Z")["available"],
        "10.00"
    );
    // Qualifying again does not award again.
    let again = sale(&mut engine, "s2", "b", "5.00", "2026-02-10T00:00:00Z");
    assert!(again["distribution"].get("awards").is_none());
}

#[test]
fn clawback_reverses_the_bonus_and_a_new_crossing_awards_it_anew() {
    let mut engine = Engine::new();
    out(&mut engine, default_set("clawback"));
    join(&mut engine, "a", None, T0);
    join(&mut engine, "b", Some("a"), T0);
    sale(&mut engine, "s1", "b", "50.00", "2026-02-01T00:00:00Z");
    // Before the full refund a has 10.00 commission + 10.00 bonus pending.
    assert_eq!(
        balances(&engine, "a", "2026-02-05T00:00:00Z")["pending"],
        "20.00"
    );
    let full = refund(&mut engine, "r1", "s1", "50.00", "2026-02-05T00:00:00Z");
    assert_eq!(
        full["milestone_reversals"],
        json!([{"member": "a", "milestone": "first_referral", "value": "0",
                "applied": "clawback", "reversed": [{"amount": "10.00", "currency": "USD"}]}])
    );
    assert_eq!(
        bonus_entries(&full),
        [(
            "a".to_string(),
            "bonus_reversal".to_string(),
            "10.00".to_string()
        )]
    );
    // Everything reversed: 0 in every bucket, before and after maturity.
    for as_of in ["2026-02-06T00:00:00Z", "2026-04-01T00:00:00Z"] {
        let b = balances(&engine, "a", as_of);
        assert_eq!(
            (b["pending"].as_str(), b["available"].as_str()),
            (Some("0.00"), Some("0.00"))
        );
    }
    assert!(engine.awards("a").unwrap().is_empty());
    // b buys again: a crosses 1 again and is awarded again.
    let again = sale(&mut engine, "s2", "b", "5.00", "2026-02-10T00:00:00Z");
    assert_eq!(
        award_ids(&again["distribution"]["awards"]),
        ["a:first_referral"]
    );
}

#[test]
fn custom_metrics_cross_at_their_thresholds() {
    let mut engine = Engine::new();
    out(
        &mut engine,
        json!({"type": "milestones_set", "at": T0, "milestones": [
            {"id": "d2", "name": "Two directs", "metric": "direct_referrals", "threshold": 2,
             "rewards": [{"perk": "badge"}]},
            {"id": "t3", "name": "Team of three", "metric": "downline_size", "threshold": "3",
             "rewards": [{"bonus": {"amount": "3.00", "currency": "USD"}}]},
            {"id": "own2", "name": "Two sales", "metric": "own_sales", "threshold": 2,
             "rewards": [{"bonus": {"amount": "1.00", "currency": "USD"}}]},
            {"id": "e15", "name": "Earned 15", "metric": "net_earnings", "currency": "USD",
             "threshold": "15.00", "rewards": [{"bonus": {"amount": "500", "currency": "JPY"}}]}
        ]}),
    );
    join(&mut engine, "a", None, T0);
    join(&mut engine, "b", Some("a"), T0);
    // a: 2 directs (d2), downline b, c = 2.
    assert_eq!(
        award_ids(&join(&mut engine, "c", Some("a"), T0)["awards"]),
        ["a:d2"]
    );
    // d under b: a's downline reaches 3 (t3).
    assert_eq!(
        award_ids(&join(&mut engine, "d", Some("b"), T0)["awards"]),
        ["a:t3"]
    );
    // b's first sale of 50.00: a earns 20 % = 10.00 (not yet 15.00).
    let s1 = sale(&mut engine, "s1", "b", "50.00", "2026-02-01T00:00:00Z");
    assert!(s1["distribution"].get("awards").is_none());
    // b's second sale: own_sales 2 for b; a earns another 5.00 → 15.00.
    let s2 = sale(&mut engine, "s2", "b", "25.00", "2026-02-02T00:00:00Z");
    assert_eq!(
        award_ids(&s2["distribution"]["awards"]),
        ["b:own2", "a:e15"]
    );
    assert_eq!(
        bonus_entries(&s2),
        [
            ("b".to_string(), "bonus".to_string(), "1.00".to_string()),
            ("a".to_string(), "bonus".to_string(), "500".to_string())
        ]
    );
}

#[test]
fn an_inactive_member_is_awarded_at_its_next_increase_once_active() {
    let mut engine = Engine::new();
    out(
        &mut engine,
        json!({"type": "milestones_set", "counts": "joined", "at": T0}),
    );
    join(&mut engine, "a", None, T0);
    out(
        &mut engine,
        json!({"type": "member_status_changed", "member": "a", "status": "inactive", "at": T0}),
    );
    assert!(join(&mut engine, "b", Some("a"), T0)
        .get("awards")
        .is_none());
    out(
        &mut engine,
        json!({"type": "member_status_changed", "member": "a", "status": "active", "at": T0}),
    );
    // a has 2 ≥ 1 qualified referrals after c joins: awarded now.
    assert_eq!(
        award_ids(&join(&mut engine, "c", Some("a"), T0)["awards"]),
        ["a:first_referral"]
    );
}

#[test]
fn bad_milestone_sets_are_refused_naming_the_field() {
    let mut engine = Engine::new();
    join(&mut engine, "a", None, T0);
    let set =
        |milestones: Value| json!({"type": "milestones_set", "at": T0, "milestones": milestones});
    let m = |extra: Value| {
        let mut base = json!({"id": "x", "name": "X", "threshold": 1, "rewards": []});
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    };
    refuse(
        &mut engine,
        set(json!([m(json!({})), m(json!({"threshold": 0}))])),
        "invalid_reward",
        "milestones[1].id",
    );
    refuse(
        &mut engine,
        set(json!([m(json!({})), m(json!({"id": "y", "threshold": 0}))])),
        "invalid_reward",
        "milestones[1].threshold",
    );
    refuse(
        &mut engine,
        set(json!([m(json!({"threshold": 1.5}))])),
        "invalid_reward",
        "milestones[0].threshold",
    );
    refuse(
        &mut engine,
        set(json!([m(json!({"metric": "karma"}))])),
        "invalid_reward",
        "milestones[0].metric",
    );
    refuse(
        &mut engine,
        set(json!([m(
            json!({"metric": "net_earnings", "threshold": "1.00"})
        )])),
        "invalid_reward",
        "milestones[0].currency",
    );
    refuse(
        &mut engine,
        set(json!([m(
            json!({"metric": "net_earnings", "currency": "USD", "threshold": "1.001"})
        )])),
        "invalid_amount",
        "milestones[0].threshold",
    );
    refuse(
        &mut engine,
        set(json!([m(
            json!({"rewards": [{"bonus": {"amount": "-1.00", "currency": "USD"}}]})
        )])),
        "invalid_amount",
        "milestones[0].rewards[0].bonus.amount",
    );
    refuse(
        &mut engine,
        set(json!([m(
            json!({"rewards": [{"bonus": {"amount": "1.00", "currency": "usd"}}]})
        )])),
        "invalid_currency",
        "milestones[0].rewards[0].bonus.currency",
    );
    refuse(
        &mut engine,
        set(json!([m(
            json!({"rewards": [{"bonus": {"amount": 1, "currency": "USD"}}]})
        )])),
        "invalid_amount",
        "milestones[0].rewards[0].bonus.amount",
    );
    refuse(
        &mut engine,
        json!({"type": "milestones_set", "at": T0, "on_refund": "maybe"}),
        "invalid_reward",
        "on_refund",
    );
    refuse(
        &mut engine,
        json!({"type": "milestones_set", "at": T0, "counts": "clicked"}),
        "invalid_reward",
        "counts",
    );
    refuse(
        &mut engine,
        json!({"type": "milestones_set", "at": "2026-01-01T00:00:00"}),
        "invalid_time",
        "at",
    );
    let many: Vec<Value> = (0..65).map(|i| m(json!({"id": format!("m{i}")}))).collect();
    refuse(
        &mut engine,
        set(Value::Array(many)),
        "limit_exceeded",
        "milestones",
    );
    let err =
        Event::from_value(json!({"type": "milestones_set", "at": T0, "extra": 1})).unwrap_err();
    assert_eq!(err.code(), "malformed");
}

// ---- leaderboards ----------------------------------------------------------

#[test]
fn leaderboard_ties_break_by_who_reached_the_value_first_then_id() {
    let mut engine = Engine::new();
    for leader in ["x", "y", "z", "w"] {
        join(&mut engine, leader, None, T0);
    }
    // x, y and z each get 2 qualified referrals; w gets 1. y's second one
    // qualifies on Feb 3, x's and z's both on Feb 4 (same instant).
    let plan = [
        ("x", "2026-02-01T00:00:00Z"),
        ("x", "2026-02-04T00:00:00Z"),
        ("y", "2026-02-02T00:00:00Z"),
        ("y", "2026-02-03T00:00:00Z"),
        ("z", "2026-02-01T00:00:00Z"),
        ("z", "2026-02-04T00:00:00Z"),
        ("w", "2026-02-01T00:00:00Z"),
    ];
    for (i, (leader, at)) in plan.iter().enumerate() {
        let member = format!("{leader}{i}");
        join(&mut engine, &member, Some(leader), T0);
        sale(&mut engine, &format!("s{i}"), &member, "10.00", at);
    }
    let board = engine
        .leaderboard(
            "qualified_referrals",
            "2026-02-01T00:00:00Z",
            "2026-03-01T00:00:00Z",
            10,
            None,
        )
        .unwrap();
    let rows: Vec<(u32, String, String)> = board
        .entries
        .iter()
        .map(|e| (e.rank, e.member.to_string(), e.value.to_string()))
        .collect();
    assert_eq!(
        rows,
        [
            (1, "y".into(), "2".into()),
            (2, "x".into(), "2".into()),
            (3, "z".into(), "2".into()),
            (4, "w".into(), "1".into())
        ]
    );
    // The window is half-open: [Feb 1, Feb 4) leaves out the Feb 4 ones.
    let early = engine
        .leaderboard(
            "qualified_referrals",
            "2026-02-01T00:00:00Z",
            "2026-02-04T00:00:00Z",
            2,
            None,
        )
        .unwrap();
    let rows: Vec<String> = early
        .entries
        .iter()
        .map(|e| format!("{}={}", e.member, e.value))
        .collect();
    assert_eq!(rows, ["y=2", "w=1"]);
    // Terminated members are left out.
    out(
        &mut engine,
        json!({"type": "member_status_changed", "member": "y", "status": "terminated", "at": T0}),
    );
    let after = engine
        .leaderboard(
            "qualified_referrals",
            "2026-02-01T00:00:00Z",
            "2026-03-01T00:00:00Z",
            1,
            None,
        )
        .unwrap();
    assert_eq!(after.entries[0].member.as_ref(), "x");
}

#[test]
fn leaderboards_of_money_count_held_money_only_once_released() {
    let mut engine = Engine::new();
    join(&mut engine, "a", None, T0);
    join(&mut engine, "b", Some("a"), T0);
    join(&mut engine, "c", Some("b"), T0);
    join(&mut engine, "h", None, T0);
    join(&mut engine, "i", Some("h"), T0);
    out(
        &mut engine,
        json!({"type": "member_hold_set", "member": "h", "on": true, "reason": "review", "at": T0}),
    );
    // c buys 100.00: b earns 20.00, a 15.00. i buys 200.00: h earns 40.00
    // held.
    sale(&mut engine, "s1", "c", "100.00", "2026-02-01T00:00:00Z");
    sale(&mut engine, "s2", "i", "200.00", "2026-02-02T00:00:00Z");
    let board = |engine: &Engine| -> Vec<String> {
        engine
            .leaderboard(
                "net_earnings",
                "2026-02-01T00:00:00Z",
                "2026-03-01T00:00:00Z",
                10,
                Some("USD"),
            )
            .unwrap()
            .entries
            .iter()
            .map(|e| format!("{}={}", e.member, e.value))
            .collect()
    };
    assert_eq!(board(&engine), ["b=20.00", "a=15.00"]);
    out(
        &mut engine,
        json!({"type": "member_hold_set", "member": "h", "on": false, "reason": "ok",
               "at": "2026-02-10T00:00:00Z"}),
    );
    assert_eq!(board(&engine), ["h=40.00", "b=20.00", "a=15.00"]);
    // Sales volume of the downline: a has b's and c's sales (100.00), b has
    // c's (100.00); a reached it at the same instant, so id order.
    let volume = engine
        .leaderboard(
            "sales_volume",
            "2026-02-01T00:00:00Z",
            "2026-03-01T00:00:00Z",
            10,
            Some("USD"),
        )
        .unwrap();
    let rows: Vec<String> = volume
        .entries
        .iter()
        .map(|e| format!("{}={}", e.member, e.value))
        .collect();
    assert_eq!(rows, ["h=200.00", "a=100.00", "b=100.00"]);
    let growth = engine
        .leaderboard(
            "downline_growth",
            "2026-01-01T00:00:00Z",
            "2026-01-02T00:00:00Z",
            10,
            None,
        )
        .unwrap();
    let rows: Vec<String> = growth
        .entries
        .iter()
        .map(|e| format!("{}={}", e.member, e.value))
        .collect();
    assert_eq!(rows, ["a=2", "b=1", "h=1"]);
    for (metric, currency, from, to, code, field) in [
        (
            "karma",
            None,
            "2026-01-01T00:00:00Z",
            "2026-02-01T00:00:00Z",
            "invalid_reward",
            "metric",
        ),
        (
            "net_earnings",
            None,
            "2026-01-01T00:00:00Z",
            "2026-02-01T00:00:00Z",
            "invalid_currency",
            "currency",
        ),
        (
            "sales_volume",
            Some("XX"),
            "2026-01-01T00:00:00Z",
            "2026-02-01T00:00:00Z",
            "invalid_currency",
            "currency",
        ),
        (
            "downline_growth",
            None,
            "2026-02-01T00:00:00Z",
            "2026-02-01T00:00:00Z",
            "invalid_time",
            "to",
        ),
    ] {
        let err = engine
            .leaderboard(metric, from, to, 10, currency)
            .unwrap_err();
        assert_eq!((err.code(), err.field()), (code, Some(field)), "{metric}");
    }
}

// ---- team challenges -------------------------------------------------------

fn challenge(split: &str, metric: &str, target: Value, reward: &str) -> Value {
    json!({"type": "challenge_created", "id": format!("c-{split}"), "name": "Spring push",
           "team": {"leader": "L", "depth": 2}, "metric": metric,
           "from": "2026-02-01T00:00:00Z", "to": "2026-03-01T00:00:00Z",
           "target": target, "reward": {"amount": reward, "currency": "USD"}, "split": split})
}

/// L ← p, q; p ← r; r ← s (s is 3 levels below L, outside a depth-2 team).
/// Sales in February: p 30.00, q 20.00, r 10.00, s 1000.00; L 5.00 in
/// January (outside the window).
fn team() -> Engine {
    let mut engine = Engine::new();
    join(&mut engine, "L", None, T0);
    join(&mut engine, "p", Some("L"), T0);
    join(&mut engine, "q", Some("L"), T0);
    join(&mut engine, "r", Some("p"), T0);
    join(&mut engine, "s", Some("r"), T0);
    sale(&mut engine, "l1", "L", "5.00", "2026-01-15T00:00:00Z");
    sale(&mut engine, "p1", "p", "30.00", "2026-02-02T00:00:00Z");
    sale(&mut engine, "q1", "q", "20.00", "2026-02-03T00:00:00Z");
    sale(&mut engine, "r1", "r", "10.00", "2026-02-04T00:00:00Z");
    sale(&mut engine, "s1", "s", "1000.00", "2026-02-05T00:00:00Z");
    engine
}

fn close(engine: &mut Engine, id: &str) -> Value {
    out(
        engine,
        json!({"type": "challenge_closed", "id": id, "at": "2026-03-01T00:00:00Z"}),
    )
}

fn shares(closed: &Value) -> Vec<String> {
    closed["challenge"]["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}={}",
                s["member"].as_str().unwrap(),
                s["amount"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn pro_rata_split_is_exact_with_the_remainder_to_the_largest_fractions() {
    let mut engine = team();
    out(
        &mut engine,
        challenge("pro_rata", "sales_volume", json!("60.00"), "100.00"),
    );
    let status = engine
        .challenge_status("c-pro_rata", "2026-02-28T00:00:00Z")
        .unwrap();
    // Team total 30 + 20 + 10 = 60.00 (s is too deep, L's sale too early).
    assert_eq!(status.total.to_string(), "60.00");
    assert!(status.met);
    let closed = close(&mut engine, "c-pro_rata");
    // 100.00 × 30/60 = 50.00; × 20/60 = 33.333… → 33.33; × 10/60 =
    // 16.666… → 16.66; 99.99 given, the cent goes to r (.666 > .333).
    assert_eq!(shares(&closed), ["p=50.00", "q=33.33", "r=16.67"]);
    let paid: Vec<String> = bonus_entries(&closed).iter().map(|e| e.2.clone()).collect();
    assert_eq!(paid, ["50.00", "33.33", "16.67"]);
    assert_eq!(closed["challenge"]["met"], true);
    // Closing again at the same instant is a retry; at another is refused.
    let retry = apply(
        &mut engine,
        json!({"type": "challenge_closed", "id": "c-pro_rata", "at": "2026-03-01T00:00:00Z"}),
    );
    assert!(retry.replayed);
    refuse(
        &mut engine,
        json!({"type": "challenge_closed", "id": "c-pro_rata", "at": "2026-03-02T00:00:00Z"}),
        "challenge_state",
        "id",
    );
}

#[test]
fn equal_and_leader_splits_are_exact() {
    let mut engine = team();
    out(
        &mut engine,
        challenge("equal", "sales_volume", json!("60.00"), "100.00"),
    );
    out(
        &mut engine,
        challenge("leader", "sales_volume", json!("60.00"), "100.00"),
    );
    // 100.00 / 3 = 33.33 each, 0.01 left: equal fractions, so the larger
    // progress (p, 30.00) gets it.
    assert_eq!(
        shares(&close(&mut engine, "c-equal")),
        ["p=33.34", "q=33.33", "r=33.33"]
    );
    assert_eq!(shares(&close(&mut engine, "c-leader")), ["L=100.00"]);
    // L earned 100.00 in bonuses plus its commissions; conservation holds
    // by construction (bonus entries add to the flow).
    let totals = engine.ledger().totals(
        engine.graph().index_of("L").unwrap(),
        engine.currencies().get("USD", "c").unwrap(),
        upline::Timestamp::MIN,
        upline::Timestamp::MAX,
    );
    assert_eq!(totals.bonuses.to_string(), "100.00");
}

#[test]
fn a_missed_target_pays_nothing() {
    let mut engine = team();
    out(
        &mut engine,
        challenge("pro_rata", "sales_volume", json!("60.01"), "100.00"),
    );
    let closed = close(&mut engine, "c-pro_rata");
    assert_eq!(closed["challenge"]["met"], false);
    assert!(shares(&closed).is_empty());
    assert!(bonus_entries(&closed).is_empty());
}

#[test]
fn count_challenges_and_status_progress() {
    let mut engine = team();
    // New direct referrals in February: L gets t, u; p gets v.
    join(&mut engine, "t", Some("L"), "2026-02-10T00:00:00Z");
    join(&mut engine, "u", Some("L"), "2026-02-11T00:00:00Z");
    join(&mut engine, "v", Some("p"), "2026-02-12T00:00:00Z");
    out(
        &mut engine,
        challenge("pro_rata", "direct_referrals", json!(3), "10.00"),
    );
    let mid = engine
        .challenge_status("c-pro_rata", "2026-02-11T12:00:00Z")
        .unwrap();
    // Up to Feb 11 12:00: t and u (2 of 3).
    assert_eq!(
        (mid.total.to_string(), mid.met, mid.state),
        ("2".into(), false, "open")
    );
    let closed = close(&mut engine, "c-pro_rata");
    // 10.00 × 2/3 = 6.666… → 6.66, × 1/3 = 3.333… → 3.33; the cent to L.
    assert_eq!(shares(&closed), ["L=6.67", "p=3.33"]);
    let after = engine
        .challenge_status("c-pro_rata", "2026-12-01T00:00:00Z")
        .unwrap();
    assert_eq!(after.state, "closed");
    assert!(after.result.is_some());
    // Qualified referrals in February: p and q (sponsor L), r (sponsor p)
    // and s (sponsor r, who is 2 levels below L, so in the team).
    out(
        &mut engine,
        challenge("leader", "qualified_referrals", json!("3"), "1.00"),
    );
    let status = engine
        .challenge_status("c-leader", "2026-03-01T00:00:00Z")
        .unwrap();
    let rows: Vec<String> = status
        .members
        .iter()
        .map(|m| format!("{}={}", m.member, m.progress))
        .collect();
    assert_eq!(rows, ["L=2", "p=1", "r=1"]);
}

#[test]
fn bad_challenges_are_refused_naming_the_field() {
    let mut engine = team();
    let good = challenge("equal", "sales_volume", json!("10.00"), "100.00");
    let with = |path: &[&str], value: Value| {
        let mut event = good.clone();
        let mut slot = &mut event;
        for key in path {
            slot = &mut slot[*key];
        }
        *slot = value;
        event
    };
    refuse(
        &mut engine,
        with(&["team", "leader"], json!("ghost")),
        "unknown_member",
        "team.leader",
    );
    refuse(
        &mut engine,
        with(&["team", "depth"], json!(65)),
        "limit_exceeded",
        "team.depth",
    );
    refuse(
        &mut engine,
        with(&["metric"], json!("karma")),
        "invalid_reward",
        "metric",
    );
    refuse(
        &mut engine,
        with(&["target"], json!("0.00")),
        "invalid_amount",
        "target",
    );
    refuse(
        &mut engine,
        with(&["target"], json!("10.001")),
        "invalid_amount",
        "target",
    );
    refuse(
        &mut engine,
        with(&["reward", "amount"], json!("-5.00")),
        "invalid_amount",
        "reward.amount",
    );
    refuse(
        &mut engine,
        with(&["reward", "currency"], json!("EURO")),
        "invalid_currency",
        "reward.currency",
    );
    refuse(
        &mut engine,
        with(&["to"], json!("2026-02-01T00:00:00Z")),
        "invalid_time",
        "to",
    );
    refuse(
        &mut engine,
        with(&["split"], json!("random")),
        "invalid_reward",
        "split",
    );
    refuse(&mut engine, with(&["id"], json!("")), "invalid_id", "id");
    refuse(
        &mut engine,
        json!({"type": "challenge_closed", "id": "nope", "at": T0}),
        "unknown_challenge",
        "id",
    );
    out(&mut engine, good.clone());
    // The same id again: identical is a retry, different is duplicate_id.
    assert!(apply(&mut engine, good.clone()).replayed);
    refuse(
        &mut engine,
        with(&["name"], json!("Other")),
        "duplicate_id",
        "id",
    );
}

/// The referral counters milestones read are built when the first set is
/// activated, not kept from the first join: a set activated after joins,
/// sales, a full refund and a sponsor change sees the same counts (and
/// awards the same milestone) as one in force from the start, and member
/// metrics count qualified referrals the same way either way.
#[test]
fn counters_built_at_a_late_milestones_set_match_counters_kept_from_the_start() {
    let set = json!({"type": "milestones_set", "at": T0, "milestones": [
        {"id": "three", "name": "Three", "metric": "qualified_referrals", "threshold": 3,
         "rewards": [{"perk": "badge"}]}]});
    let history = |engine: &mut Engine| {
        join(engine, "lead", None, T0);
        join(engine, "other", None, T0);
        for (member, sponsor) in [("a", "lead"), ("b", "lead"), ("c", "lead"), ("d", "other")] {
            join(engine, member, Some(sponsor), "2026-01-02T00:00:00Z");
        }
        sale(engine, "sa", "a", "10.00", "2026-01-03T00:00:00Z");
        sale(engine, "sb", "b", "10.00", "2026-01-03T00:00:00Z");
        sale(engine, "sd", "d", "10.00", "2026-01-03T00:00:00Z");
        refund(engine, "rb", "sb", "10.00", "2026-01-04T00:00:00Z");
        out(
            engine,
            json!({"type": "sponsor_changed", "member": "d", "sponsor": "lead", "reason": "merge", "at": "2026-01-05T00:00:00Z"}),
        );
    };
    let qualified = |engine: &Engine| {
        engine
            .member_metrics("lead", None, None)
            .expect("lead exists")
            .qualified_referrals
    };
    let mut early = Engine::new();
    apply(&mut early, set.clone());
    history(&mut early);
    let mut late = Engine::new();
    history(&mut late);
    assert_eq!(
        qualified(&late),
        2,
        "a and d have live sales; b was refunded"
    );
    apply(&mut late, set);
    assert_eq!(qualified(&early), 2);
    assert_eq!(qualified(&late), 2);
    // One more qualified referral reaches the milestone in both.
    for engine in [&mut early, &mut late] {
        let reached = sale(engine, "sc", "c", "10.00", "2026-01-06T00:00:00Z");
        assert_eq!(reached["distribution"]["awards"][0]["milestone"], "three");
        assert_eq!(reached["distribution"]["awards"][0]["member"], "lead");
        assert_eq!(qualified(engine), 3);
    }
}
