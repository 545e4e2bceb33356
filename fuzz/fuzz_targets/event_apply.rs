//! Any bytes as one JSON event, applied to a seeded engine: never a panic;
//! a refused event changes nothing; an accepted sale splits exactly, and
//! its audit block hashes the same through the direct encoder as through
//! serde's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upline::{audit, Engine, Event, Outcome};

fn seeded() -> Engine {
    let mut engine = Engine::new();
    // Milestones (the default set), an open challenge and the moderate
    // screening preset are in force, and members sent signals (m3 shares
    // m1's device), so joins, sales and refunds also run the rewards and
    // screening code.
    let mut events = vec![
        r#"{"type":"milestones_set","at":"2026-01-01T00:00:00Z","on_refund":"clawback"}"#
            .to_string(),
        r#"{"type":"screening_rules_set","id":"r","preset":"moderate","blocklist":["mailinator.com"],"at":"2026-01-01T00:00:00Z"}"#
            .to_string(),
    ];
    for i in 0..12 {
        let sponsor = if i == 0 {
            "null".to_string()
        } else {
            format!("\"m{}\"", (i - 1) / 2)
        };
        let device = if i == 3 { 1 } else { i };
        events.push(format!(r#"{{"type":"member_joined","member":"m{i}","sponsor":{sponsor},"at":"2026-01-01T00:00:00Z","signals":{{"device":"d{device}","ip":"10.0.0.{i}","email":"m{i}@example.com","clicked_at":"2025-12-31T23:59:00Z"}}}}"#));
    }
    events.push(r#"{"type":"sale_recorded","sale":"s1","buyer":"m11","amount":"33.33","currency":"USD","at":"2026-01-02T00:00:00Z"}"#.into());
    // A self-referral (m3 on its sponsor m1's device): held for review.
    events.push(r#"{"type":"sale_recorded","sale":"s2","buyer":"m3","amount":"50.00","currency":"USD","at":"2026-01-03T00:00:00Z"}"#.into());
    events.push(r#"{"type":"challenge_created","id":"c1","name":"C","team":{"leader":"m1","depth":3},"metric":"sales_volume","from":"2026-01-01T00:00:00Z","to":"2026-02-01T00:00:00Z","target":"10.00","reward":{"amount":"10.01","currency":"USD"},"split":"pro_rata"}"#.into());
    events.push(
        r#"{"type":"payout_profile_set","member":"m5","method":"bank","verified":true}"#.into(),
    );
    events.push(
        r#"{"type":"payouts_prepared","batch":"b1","as_of":"2026-03-01T00:00:00Z","policy":{}}"#
            .into(),
    );
    for event in events {
        engine.apply_json(&event).expect("seed events are valid");
    }
    engine
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(event) = Event::from_json(text) else {
        return;
    };
    let mut engine = seeded();
    let before = engine.snapshot_json();
    match engine.apply(&event) {
        Err(_) => assert_eq!(
            engine.snapshot_json(),
            before,
            "a refused event changed the engine"
        ),
        Ok(applied) => {
            if let Outcome::Distribution(d) = &applied.outcome {
                let total: rust_decimal::Decimal = d.lines.iter().map(|l| l.amount).sum();
                assert_eq!(total + d.retained, d.amount);
            }
            // The engine's block hash (a plain sale's event written
            // directly) is the chain over serde's encoding of the event.
            let previous = upline::Hash::ZERO;
            let direct =
                audit::block_hash(1, &previous, &event, &applied.outcome, &applied.entries);
            let via_serde = audit::encode(&event).and_then(|e| {
                audit::encode_records(&applied.outcome, &applied.entries)
                    .map(|r| audit::chain(1, &previous, &e, &r))
            });
            assert_eq!(
                direct, via_serde,
                "the direct encoding differs from serde's"
            );
        }
    }
});
