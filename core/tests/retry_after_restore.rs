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
    let copy = |engine: &Engine| {
        let mut copy = MemoryStore::new();
        (engine.store().unwrap())
            .scan(1, &mut |e| {
                copy.events_mut().push(e);
                Ok(())
            })
            .unwrap();
        copy
    };
    let mut reopened = Engine::open(Box::new(copy(&engine))).unwrap();
    let retried = apply(&mut reopened, &milestones());
    assert!(retried.replayed, "applied again as seq {}", retried.seq);
    assert_eq!(retried.seq, original.seq);
    let again = Engine::open(Box::new(copy(&reopened))).expect("the store opens");
    assert_eq!(again.audit_head(), engine.audit_head());
}
