//! What-if on a candidate plan: under the plan in force nothing changes;
//! under a hand-built candidate the cents are the ones worked out below;
//! the books are untouched; progress can stop a run.

use rust_decimal::Decimal;
use upline::engine::whatif::{WhatIfOptions, WhatIfReport};
use upline::{Engine, PlanSpec, Timestamp};

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text, "at").unwrap()
}

/// ann ← bob ← cy ← dee; s1 (dee, 100.00) and s2 (cy, 33.33) in February,
/// s3 (dee, 50.00) in March.
fn books() -> Engine {
    let mut engine = Engine::new();
    for (member, sponsor) in [
        ("ann", "null"),
        ("bob", "\"ann\""),
        ("cy", "\"bob\""),
        ("dee", "\"cy\""),
    ] {
        engine
            .apply_json(&format!(
                r#"{{"type":"member_joined","member":"{member}","sponsor":{sponsor},"at":"2026-01-01T00:00:00Z"}}"#
            ))
            .unwrap();
    }
    for (sale, buyer, amount, day) in [
        ("s1", "dee", "100.00", "2026-02-01"),
        ("s2", "cy", "33.33", "2026-02-10"),
        ("s3", "dee", "50.00", "2026-03-05"),
    ] {
        engine
            .apply_json(&format!(
                r#"{{"type":"sale_recorded","sale":"{sale}","buyer":"{buyer}","amount":"{amount}","currency":"USD","at":"{day}T12:00:00Z"}}"#
            ))
            .unwrap();
    }
    engine
}

fn february(engine: &Engine, candidate: &PlanSpec) -> WhatIfReport {
    engine
        .what_if(
            candidate,
            at("2026-02-01T00:00:00Z"),
            at("2026-03-01T00:00:00Z"),
            WhatIfOptions::default(),
            None,
        )
        .unwrap()
}

fn rows(report: &WhatIfReport) -> Vec<(String, String, String, String)> {
    report
        .earners
        .iter()
        .map(|e| {
            (
                e.earner.to_string(),
                e.amounts.in_force.to_string(),
                e.amounts.candidate.to_string(),
                e.amounts.difference().to_string(),
            )
        })
        .collect()
}

#[test]
fn under_the_plan_in_force_every_difference_is_zero_and_in_force_is_what_was_paid() {
    let engine = books();
    let in_force = engine.plan_at(at("2026-02-01T00:00:00Z")).spec().clone();
    let report = february(&engine, &in_force);
    // s1: cy 20% = 20.00, bob 15% = 15.00, ann 10% = 10.00;
    // s2 (33.33): bob 20% = 6.666 → 6.67, ann 15% = 4.9995 → 5.00.
    assert_eq!(
        rows(&report),
        [
            ("ann".into(), "15.00".into(), "15.00".into(), "0.00".into()),
            ("bob".into(), "21.67".into(), "21.67".into(), "0.00".into()),
            ("cy".into(), "20.00".into(), "20.00".into(), "0.00".into()),
        ]
    );
    assert_eq!(
        (report.sales, report.sales_changed, report.sales_in_period),
        (2, 0, 2)
    );
    assert!(report.gains.is_empty() && report.losses.is_empty() && report.complete);
}

#[test]
fn a_hand_built_candidate_gives_the_cents_worked_out_by_hand() {
    let engine = books();
    let head = engine.audit_head();
    let snapshot = engine.snapshot_json();
    let candidate: PlanSpec = serde_json::from_str(
        r#"{"id":"flat","version":1,"levels":[{"rate":"0.25"},{"rate":"0.05"}]}"#,
    )
    .unwrap();
    let report = february(&engine, &candidate);
    // s1 (100.00): cy 25% = 25.00, bob 5% = 5.00, ann no level 3.
    // s2 (33.33): bob 25% = 8.3325 → 8.33, ann 5% = 1.6665 → 1.67.
    assert_eq!(
        rows(&report),
        [
            ("ann".into(), "15.00".into(), "1.67".into(), "-13.33".into()),
            ("bob".into(), "21.67".into(), "13.33".into(), "-8.34".into()),
            ("cy".into(), "20.00".into(), "25.00".into(), "5.00".into()),
        ]
    );
    let levels: Vec<(u8, String, String)> = report
        .levels
        .iter()
        .map(|l| {
            (
                l.level,
                l.amounts.in_force.to_string(),
                l.amounts.candidate.to_string(),
            )
        })
        .collect();
    assert_eq!(
        levels,
        [
            (1, "26.67".into(), "33.33".into()),
            (2, "20.00".into(), "6.67".into()),
            (3, "10.00".into(), "0.00".into()),
        ]
    );
    let gains: Vec<&str> = report.gains.iter().map(|e| &*e.earner).collect();
    let losses: Vec<&str> = report.losses.iter().map(|e| &*e.earner).collect();
    assert_eq!((gains, losses), (vec!["cy"], vec!["ann", "bob"]));
    assert_eq!((report.sales, report.sales_changed), (2, 2));
    let total: Decimal = report.earners.iter().map(|e| e.amounts.difference()).sum();
    assert_eq!(total.to_string(), "-16.67");
    assert_eq!(engine.audit_head(), head);
    assert_eq!(engine.snapshot_json(), snapshot);
}

#[test]
fn progress_runs_every_n_sales_and_false_stops_the_run() {
    let engine = books();
    let in_force = engine.plan_at(Timestamp::MIN).spec().clone();
    let mut calls = Vec::new();
    let mut progress = |done: u64, total: u64| {
        calls.push((done, total));
        done < 2
    };
    let report = engine
        .what_if(
            &in_force,
            Timestamp::MIN,
            Timestamp::MAX,
            WhatIfOptions { top: 10, every: 1 },
            Some(&mut progress),
        )
        .unwrap();
    assert_eq!(calls, [(1, 3), (2, 3)]);
    assert_eq!(
        (report.sales, report.sales_in_period, report.complete),
        (2, 3, false)
    );
}

#[test]
fn an_invalid_candidate_is_invalid_plan() {
    let engine = books();
    let candidate: PlanSpec = serde_json::from_str(
        r#"{"id":"bad","version":1,"levels":[{"rate":"0.80"},{"rate":"0.80"}]}"#,
    )
    .unwrap();
    let err = engine
        .what_if(
            &candidate,
            Timestamp::MIN,
            Timestamp::MAX,
            WhatIfOptions::default(),
            None,
        )
        .unwrap_err();
    assert_eq!(err.code(), "invalid_plan");
}

/// Totals past the exact decimal range are `limit_exceeded`, never a panic
/// (found by a break test: earners of 10^10 TOK each, a currency of 18
/// decimals, whose level total leaves the 96-bit mantissa); a period that
/// ends before it starts is `invalid_time`. Neither changes the books.
#[test]
fn totals_beyond_the_decimal_range_are_limit_exceeded_and_a_reversed_period_invalid_time() {
    let mut engine = Engine::new();
    engine
        .apply_json(r#"{"type":"currency_registered","currency":"TOK","minor_units":18}"#)
        .unwrap();
    for i in 1..=9 {
        for (member, sponsor) in [
            (format!("a{i}"), "null".to_string()),
            (format!("b{i}"), format!("\"a{i}\"")),
        ] {
            engine
                .apply_json(&format!(
                    r#"{{"type":"member_joined","member":"{member}","sponsor":{sponsor},"at":"2026-01-01T00:00:00Z"}}"#
                ))
                .unwrap();
        }
        engine
            .apply_json(&format!(
                r#"{{"type":"sale_recorded","sale":"s{i}","buyer":"b{i}","amount":"50000000000","currency":"TOK","at":"2026-02-01T12:00:00Z"}}"#
            ))
            .unwrap();
    }
    let head = engine.audit_head();
    let in_force: PlanSpec = serde_json::from_str(
        r#"{"id":"default","version":1,"levels":[{"rate":"0.20"},{"rate":"0.15"},{"rate":"0.10"},{"rate":"0.08"},{"rate":"0.05"},{"rate":"0.03"},{"rate":"0.02"}]}"#,
    )
    .unwrap();
    let err = engine
        .what_if(
            &in_force,
            Timestamp::MIN,
            Timestamp::MAX,
            WhatIfOptions::default(),
            None,
        )
        .unwrap_err();
    assert_eq!(err.code(), "limit_exceeded", "{err}");
    assert!(err.message().contains("TOK"), "{err}");
    let err = engine
        .what_if(
            &in_force,
            at("2026-03-01T00:00:00Z"),
            at("2026-02-01T00:00:00Z"),
            WhatIfOptions::default(),
            None,
        )
        .unwrap_err();
    assert_eq!((err.code(), err.field()), ("invalid_time", Some("to")));
    assert_eq!(engine.audit_head(), head);
}
