//! Idempotent retries after the engine was rebuilt: an event retried after
//! a snapshot was restored, or after a store was reopened, is the same
//! no-op that returns the original result as before it. Counts (milestone
//! thresholds, challenge targets) may arrive as JSON numbers, but an event
//! is stored and snapshotted with them as strings: the retry must still be
//! recognised, or it is applied a second time and the store no longer
//! replays to its own chain.

use serde_json::{json, Value};
use upline::{Applied, Engine, Event, MemoryStore};

fn apply(engine: &mut Engine, value: &Value) -> Applied {
    let event = Event::from_value(value.clone()).expect("decodes");
    engine
        .apply(&event)
        .unwrap_or_else(|err| panic!("{value} refused: {err}"))
}

const T0: &str = "2026-01-01T00:00:00Z";

/// A milestone set whose count threshold is a JSON number, as
/// `core/tests/rewards.rs` and the docs write it.
fn milestones() -> Value {
    json!({"type": "milestones_set", "at": T0, "milestones": [
        {"id": "own2", "name": "Two sales", "metric": "own_sales", "threshold": 2,
         "rewards": [{"bonus": {"amount": "1.00", "currency": "USD"}}]}
    ]})
}

fn challenge() -> Value {
    json!({"type": "challenge_created", "id": "c1", "name": "Spring push",
           "team": {"leader": "a", "depth": 2}, "metric": "direct_referrals",
           "from": "2026-02-01T00:00:00Z", "to": "2026-03-01T00:00:00Z",
           "target": 2, "reward": {"amount": "5.00", "currency": "USD"}, "split": "leader"})
}

fn joins(engine: &mut Engine) {
    for (member, sponsor) in [("a", Value::Null), ("b", json!("a"))] {
        apply(
            engine,
            &json!({"type": "member_joined", "member": member, "sponsor": sponsor, "at": T0}),
        );
    }
}

#[test]
fn a_milestone_set_retried_after_a_snapshot_is_restored_is_a_retry() {
    let mut engine = Engine::new();
    joins(&mut engine);
    let original = apply(&mut engine, &milestones());
    let mut restored = Engine::from_snapshot_json(&engine.snapshot_json()).unwrap();
    let retried = apply(&mut restored, &milestones());
    assert!(retried.replayed, "applied again as seq {}", retried.seq);
    assert_eq!((retried.seq, retried.hash), (original.seq, original.hash));
    assert_eq!(restored.audit_head(), engine.audit_head());
}

#[test]
fn a_challenge_retried_after_a_snapshot_is_restored_is_a_retry() {
    let mut engine = Engine::new();
    joins(&mut engine);
    let original = apply(&mut engine, &challenge());
    let mut restored = Engine::from_snapshot_json(&engine.snapshot_json()).unwrap();
    let retried = apply(&mut restored, &challenge());
    assert!(retried.replayed, "applied again as seq {}", retried.seq);
    assert_eq!((retried.seq, retried.hash), (original.seq, original.hash));
}

/// The store case: the retry after a reopen is stored as a new event,
/// and the next open replays it as a retry, so the store is `tampered`.
#[test]
fn a_milestone_set_retried_after_a_reopen_leaves_a_store_that_opens() {
    let mut engine = Engine::open(Box::new(MemoryStore::new())).unwrap();
    joins(&mut engine);
    let original = apply(&mut engine, &milestones());
    let copy = |engine: &Engine| MemoryStore::copy_of(engine.store().unwrap()).unwrap();
    let mut reopened = Engine::open(Box::new(copy(&engine))).unwrap();
    let retried = apply(&mut reopened, &milestones());
    assert!(retried.replayed, "applied again as seq {}", retried.seq);
    assert_eq!(retried.seq, original.seq);
    let again = Engine::open(Box::new(copy(&reopened))).expect("the store opens");
    assert_eq!(again.audit_head(), engine.audit_head());
}

/// Every kind of event with an id a host may retry (a currency
/// registration has none: registering one again is a new event that
/// changes nothing), applied once, then retried on the
/// live engine, on one restored from its snapshot and on one reopened from
/// its store: all three answer each retry the same (a retry keeps its seq
/// and hash; anything else, the same error code), and none moves the
/// audit head.
#[test]
fn every_retry_answers_the_same_live_restored_and_reopened() {
    let march = "2026-03-01T00:00:00Z";
    let events = [
        json!({"type": "member_joined", "member": "a", "sponsor": null, "at": T0,
               "signals": {"email": "a@example.org", "ip": "203.0.113.5"}}),
        json!({"type": "member_joined", "member": "b", "sponsor": "a", "at": T0}),
        json!({"type": "member_joined", "member": "c", "sponsor": "b", "at": T0,
               "signals": {"email": "A@example.org"}}),
        json!({"type": "plan_activated", "effective_from": T0, "plan": {"id": "p", "version": 1,
               "levels": [{"rate": "0.1", "caps": {"USD": "5.00"}}, {"rate": "0.05"}],
               "compression": true, "hold_days": 0}}),
        json!({"type": "screening_rules_set", "id": "r1", "at": T0, "rules": [
            {"id": "self", "when": {"check": "self_referral"}, "action": "hold", "reason": "t"},
            {"id": "fast", "when": {"check": "velocity", "signal": "ip", "max": 3,
             "window_hours": 72}, "action": "hold"}]}),
        milestones(),
        challenge(),
        json!({"type": "payout_profile_set", "member": "b", "method": "bank", "verified": true}),
        json!({"type": "sale_recorded", "sale": "s1", "buyer": "c", "amount": "120.00",
               "currency": "USD", "at": "2026-02-02T00:00:00Z"}),
        json!({"type": "refund_recorded", "refund": "f1", "sale": "s1", "amount": "20.00",
               "at": "2026-02-03T00:00:00Z"}),
        json!({"type": "fraud_review_resolved", "review": "s1", "decision": "release",
               "at": "2026-02-04T00:00:00Z", "note": "checked"}),
        json!({"type": "payouts_prepared", "batch": "b1", "as_of": march,
               "policy": {"minimum": {"USD": "1.00"},
                          "fees": {"bank": {"flat": "0.10", "percent": "1.5"}}}}),
        json!({"type": "payout_settled", "payout": "b1:b:USD", "at": march, "reference": "w1"}),
        json!({"type": "challenge_closed", "id": "c1", "at": march}),
    ];
    // Without a store, so the snapshot keeps every audit hash a retry
    // answers with (one with a store reads them back from it).
    let mut live = Engine::new();
    let mut first = Vec::new();
    for e in &events {
        first.push(apply(&mut live, e));
    }
    let mut restored = Engine::from_snapshot_json(&live.snapshot_json()).unwrap();
    // A store with a snapshot halfway and the events after it.
    let mut stored = Engine::open(Box::new(MemoryStore::new())).unwrap();
    for (i, e) in events.iter().enumerate() {
        apply(&mut stored, e);
        if i == events.len() / 2 {
            stored.save_snapshot().unwrap();
        }
    }
    let copy = MemoryStore::copy_of(stored.store().unwrap()).unwrap();
    let mut reopened = Engine::open(Box::new(copy)).unwrap();
    let head = live.audit_head();
    for (e, original) in events.iter().zip(&first) {
        if e["type"] == "payout_profile_set" {
            // A setting, not an id: set again, it is a new event.
            continue;
        }
        let event = Event::from_value(e.clone()).unwrap();
        let answer = |engine: &mut Engine| match engine.apply(&event) {
            Ok(a) => Ok((a.seq, a.hash, a.replayed)),
            Err(err) => Err(err.code()),
        };
        let expected = answer(&mut live);
        if let Ok((seq, hash, replayed)) = expected {
            assert!(replayed, "{e}: {:?}", (seq, original.seq));
            assert_eq!((seq, hash), (original.seq, original.hash), "{e}");
        }
        assert_eq!(answer(&mut restored), expected, "restored: {e}");
        assert_eq!(answer(&mut reopened), expected, "reopened: {e}");
    }
    for engine in [&live, &restored, &reopened] {
        assert_eq!(engine.audit_head(), head);
    }
}
