//! Golden audit hashes: any change of the canonical encoding, of the hash
//! construction or of what an event records changes these hashes. Such a
//! change must be deliberate: bump `audit::TAG`, say so in CHANGELOG.md, and
//! regenerate with `UPLINE_BLESS=1 cargo test -p upline --test audit_golden`.

use std::path::PathBuf;

use serde_json::{json, Value};
use upline::{Engine, Event};

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/audit_golden.json")
}

fn stream() -> Vec<Value> {
    let mut events = vec![];
    for i in 0..4 {
        let sponsor = if i == 0 {
            Value::Null
        } else {
            json!(format!("m{}", i - 1))
        };
        events.push(json!({"type": "member_joined", "member": format!("m{i}"), "sponsor": sponsor, "at": "2026-01-01T00:00:00Z"}));
    }
    events.extend([
        json!({"type": "member_hold_set", "member": "m1", "on": true, "reason": "review", "at": "2026-01-02T00:00:00Z"}),
        json!({"type": "plan_activated", "effective_from": "2026-01-01T00:00:00Z", "plan": {"id": "p", "version": 1, "levels": [{"rate": "0.1", "caps": {"USD": "5.00"}}, {"rate": "0.05"}], "compression": true}}),
        json!({"type": "sale_recorded", "sale": "s1", "buyer": "m3", "amount": "33.33", "currency": "USD", "at": "2026-01-03T00:00:00Z", "category": "x"}),
        json!({"type": "refund_recorded", "refund": "r1", "sale": "s1", "amount": "10.00", "at": "2026-01-04T00:00:00Z"}),
        json!({"type": "member_hold_set", "member": "m1", "on": false, "reason": "cleared", "at": "2026-01-05T00:00:00Z"}),
        json!({"type": "payout_profile_set", "member": "m2", "method": "bank", "verified": true}),
        json!({"type": "payouts_prepared", "batch": "b1", "as_of": "2026-03-01T00:00:00Z", "policy": {"minimum": {"USD": "1.00"}, "fees": {"bank": {"flat": "0.10", "percent": "1.5"}}}}),
        json!({"type": "payout_settled", "payout": "b1:m2:USD", "at": "2026-03-02T00:00:00Z", "reference": "w1"}),
        json!({"type": "currency_registered", "currency": "PTS", "minor_units": 0}),
        json!({"type": "member_status_changed", "member": "m0", "status": "inactive", "at": "2026-03-03T00:00:00Z"}),
        json!({"type": "sponsor_changed", "member": "m3", "sponsor": "m0", "reason": "fix", "at": "2026-03-04T00:00:00Z"}),
    ]);
    events
}

#[test]
fn audit_hashes_match_the_golden_file() {
    let mut engine = Engine::new();
    let hashes: Vec<String> = stream()
        .into_iter()
        .map(|v| {
            engine
                .apply(&Event::from_value(v).unwrap())
                .unwrap()
                .hash
                .to_hex()
        })
        .collect();
    if std::env::var_os("UPLINE_BLESS").is_some() {
        let text =
            serde_json::to_string_pretty(&json!({"tag": "upline/audit/v2", "hashes": hashes}))
                .unwrap();
        std::fs::write(golden_path(), text + "\n").unwrap();
    }
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(golden_path()).unwrap()).unwrap();
    assert_eq!(golden["tag"], "upline/audit/v2");
    let expected: Vec<String> = serde_json::from_value(golden["hashes"].clone()).unwrap();
    assert_eq!(
        hashes, expected,
        "the audit encoding changed: see the module docs"
    );
}
