//! Plan activations: effective dating and idempotent re-activation.

use upline::{Engine, Event, Timestamp};

fn activate(engine: &mut Engine, id: &str, rate: &str, from: &str) -> upline::Applied {
    let json = format!(
        r#"{{"type":"plan_activated","effective_from":"{from}","plan":{{"id":"{id}","version":1,"levels":[{{"rate":"{rate}"}}]}}}}"#
    );
    engine.apply(&Event::from_json(&json).unwrap()).unwrap()
}

fn in_force(engine: &Engine, at: &str) -> String {
    engine
        .plan_at(Timestamp::parse(at, "at").unwrap())
        .id()
        .to_string()
}

/// Activating the same plan at the same instant again, while it is still
/// the plan in force from then, is a retry: same seq, nothing appended.
#[test]
fn the_same_activation_twice_is_a_retry() {
    let mut engine = Engine::new();
    let first = activate(&mut engine, "a", "0.1", "2026-01-01T00:00:00Z");
    let head = engine.audit_head();
    let again = activate(&mut engine, "a", "0.1", "2026-01-01T00:00:00Z");
    assert!(again.replayed);
    assert_eq!((again.seq, again.hash), (first.seq, first.hash));
    assert_eq!(engine.audit_head(), head);
}

/// Re-activating a plan after another one took over at the same instant is
/// a real change: the latest activation at an instant wins.
#[test]
fn reactivating_after_another_plan_at_the_same_instant_takes_over_again() {
    let mut engine = Engine::new();
    activate(&mut engine, "a", "0.1", "2026-01-01T00:00:00Z");
    activate(&mut engine, "b", "0.2", "2026-01-01T00:00:00Z");
    assert_eq!(in_force(&engine, "2026-02-01T00:00:00Z"), "b");
    let again = activate(&mut engine, "a", "0.1", "2026-01-01T00:00:00Z");
    assert!(!again.replayed);
    assert_eq!(in_force(&engine, "2026-02-01T00:00:00Z"), "a");
    assert_eq!(in_force(&engine, "2025-12-31T23:59:59.999Z"), "default");
}

/// A plan can be put in force from the start of time (what the bindings'
/// `Engine(plan=...)` does).
#[test]
fn a_plan_from_the_start_of_time_replaces_the_default_everywhere() {
    let mut engine = Engine::new();
    activate(&mut engine, "mine", "0.3", "0001-01-01T00:00:00Z");
    assert_eq!(in_force(&engine, "0001-01-01T00:00:00Z"), "mine");
    assert_eq!(in_force(&engine, "2030-01-01T00:00:00Z"), "mine");
    let again = activate(&mut engine, "mine", "0.3", "0001-01-01T00:00:00Z");
    assert!(again.replayed);
}
