//! What-if over a sales table given as columns, and with no engine of the
//! host's (`what_if_members`): under the plan in force nothing changes;
//! under a hand-built candidate the cents are the ones worked out below;
//! the plan in force at each sale's time is the in-force side; refused rows
//! are counted with their errors and change nothing; the books are
//! untouched; progress can stop a run; bad columns fail the call.

use upline::engine::columns::{Amounts, JoinColumns, SaleColumns, Times};
use upline::engine::whatif::{what_if_members, WhatIfOptions, WhatIfReport};
use upline::{Engine, PlanSpec, Timestamp};

/// ann ← bob ← cy ← dee, all on 2026-01-01.
const MEMBERS: JoinColumns<'static> = JoinColumns {
    member: &["ann", "bob", "cy", "dee"],
    sponsor: &[None, Some("ann"), Some("bob"), Some("cy")],
    at: Times::Text(&["2026-01-01T00:00:00Z"; 4]),
};

fn joined() -> Engine {
    let mut engine = Engine::new();
    let out = engine.apply_join_columns(&MEMBERS).unwrap();
    assert!(out.errors.is_empty());
    engine
}

fn plan(json: &str) -> PlanSpec {
    serde_json::from_str(json).unwrap()
}

fn flat() -> PlanSpec {
    plan(r#"{"id":"flat","version":1,"levels":[{"rate":"0.25"},{"rate":"0.05"}]}"#)
}

fn default_plan(engine: &Engine) -> PlanSpec {
    engine.plan_at(Timestamp::MIN).spec().clone()
}

/// s1 (dee, 100.00) and s2 (cy, 33.33) in February, as millis and
/// mantissas.
const FEB_MS: [i64; 2] = [1_769_947_200_000, 1_770_724_800_000];

fn february() -> SaleColumns<'static> {
    SaleColumns {
        sale: &["s1", "s2"],
        buyer: &["dee", "cy"],
        amount: Amounts::Decimal {
            mantissa: &[10_000, 3_333],
            scale: 2,
        },
        currency: &["USD", "USD"],
        at: Times::Millis(&FEB_MS),
        category: None,
    }
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

fn row(
    earner: &str,
    in_force: &str,
    candidate: &str,
    difference: &str,
) -> (String, String, String, String) {
    (
        earner.into(),
        in_force.into(),
        candidate.into(),
        difference.into(),
    )
}

#[test]
fn under_the_plan_in_force_every_difference_is_zero() {
    let engine = joined();
    let report = engine
        .what_if_sale_columns(
            &default_plan(&engine),
            &february(),
            WhatIfOptions::default(),
            None,
        )
        .unwrap();
    // s1: cy 20% = 20.00, bob 15% = 15.00, ann 10% = 10.00;
    // s2 (33.33): bob 20% = 6.666 → 6.67, ann 15% = 4.9995 → 5.00.
    assert_eq!(
        rows(&report),
        [
            row("ann", "15.00", "15.00", "0.00"),
            row("bob", "21.67", "21.67", "0.00"),
            row("cy", "20.00", "20.00", "0.00"),
        ]
    );
    assert_eq!(
        (
            report.sales,
            report.sales_changed,
            report.sales_in_period,
            report.sales_refused
        ),
        (2, 0, 2, 0)
    );
    assert!(report.gains.is_empty() && report.losses.is_empty() && report.complete);
}

#[test]
fn a_table_gives_what_the_recorded_sales_give() {
    // The same sales recorded, then replayed from the engine's own books:
    // both what-ifs report the same rows.
    let mut recorded = joined();
    recorded
        .apply_sale_columns(&february(), false)
        .map(|out| assert!(out.errors.is_empty()))
        .unwrap();
    let from_books = recorded
        .what_if(
            &flat(),
            Timestamp::MIN,
            Timestamp::MAX,
            WhatIfOptions::default(),
            None,
        )
        .unwrap();
    let from_table = joined()
        .what_if_sale_columns(&flat(), &february(), WhatIfOptions::default(), None)
        .unwrap();
    assert_eq!(from_table.earners, from_books.earners);
    assert_eq!(from_table.levels, from_books.levels);
    assert_eq!(from_table.gains, from_books.gains);
    assert_eq!(from_table.losses, from_books.losses);
    assert_eq!(from_table.sales_changed, from_books.sales_changed);
}

#[test]
fn a_hand_built_candidate_gives_the_cents_worked_out_by_hand_and_changes_nothing() {
    let engine = joined();
    let head = engine.audit_head();
    let snapshot = engine.snapshot_json();
    // Text columns this time, with three rows the engine would refuse.
    let report = engine
        .what_if_sale_columns(
            &flat(),
            &SaleColumns {
                sale: &["s1", "bad1", "s2", "bad2", "bad3"],
                buyer: &["dee", "eve", "cy", "dee", "dee"],
                amount: Amounts::Text(&["100.00", "5.00", "33.33", "1.005", "-2.00"]),
                currency: &["USD"; 5],
                at: Times::Text(&[
                    "2026-02-01T12:00:00Z",
                    "2026-02-01T12:00:00Z",
                    "2026-02-10T12:00:00Z",
                    "2026-02-10T12:00:00Z",
                    "2026-02-10T12:00:00Z",
                ]),
                category: None,
            },
            WhatIfOptions::default(),
            None,
        )
        .unwrap();
    // s1 (100.00): cy 25% = 25.00, bob 5% = 5.00, ann no level 3.
    // s2 (33.33): bob 25% = 8.3325 → 8.33, ann 5% = 1.6665 → 1.67.
    assert_eq!(
        rows(&report),
        [
            row("ann", "15.00", "1.67", "-13.33"),
            row("bob", "21.67", "13.33", "-8.34"),
            row("cy", "20.00", "25.00", "5.00"),
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
    assert_eq!(
        (
            report.sales,
            report.sales_changed,
            report.sales_in_period,
            report.sales_refused
        ),
        (2, 2, 5, 3)
    );
    let refused: Vec<(u64, &str, Option<&str>)> = report
        .refused
        .iter()
        .map(|(row, err)| (*row, err.code(), err.field()))
        .collect();
    assert_eq!(
        refused,
        [
            (1, "unknown_member", Some("buyer")),
            (3, "invalid_amount", Some("amount")),
            (4, "invalid_amount", Some("amount")),
        ]
    );
    assert_eq!(engine.audit_head(), head);
    assert_eq!(engine.snapshot_json(), snapshot);
}

#[test]
fn the_in_force_side_is_the_plan_in_force_at_each_sale_and_categories_get_their_table() {
    let mut engine = joined();
    // From March, a 10% one-level plan with a 30% table for "books".
    engine
        .apply_json(
            r#"{"type":"plan_activated","plan":{"id":"march","version":1,"levels":[{"rate":"0.10"}],"overrides":{"books":[{"rate":"0.30"}]}},"effective_from":"2026-03-01T00:00:00Z"}"#,
        )
        .unwrap();
    let candidate = plan(
        r#"{"id":"c","version":1,"levels":[{"rate":"0.01"}],"overrides":{"books":[{"rate":"0.02"}]}}"#,
    );
    let report = engine
        .what_if_sale_columns(
            &candidate,
            &SaleColumns {
                sale: &["s1", "s2", "s3", "s4"],
                buyer: &["dee"; 4],
                amount: Amounts::Decimal {
                    mantissa: &[10_000, 10_000, 10_000, 10_000],
                    scale: 2,
                },
                currency: &["USD"; 4],
                at: Times::Text(&[
                    "2026-02-01T12:00:00Z",
                    "2026-03-01T12:00:00Z",
                    "2026-03-02T12:00:00Z",
                    "2026-02-02T12:00:00Z",
                ]),
                category: Some(&[None, None, Some("books"), Some("books")]),
            },
            WhatIfOptions::default(),
            None,
        )
        .unwrap();
    // In force: s1 and s4 (February, default plan, no override) pay cy 20,
    // bob 15, ann 10; s2 (March) cy 10.00; s3 (March, books) cy 30.00.
    // Candidate: s1, s2 cy 1.00 each; s3, s4 (books) cy 2.00 each.
    assert_eq!(
        rows(&report),
        [
            row("ann", "20.00", "0.00", "-20.00"),
            row("bob", "30.00", "0.00", "-30.00"),
            row("cy", "80.00", "6.00", "-74.00"),
        ]
    );
    assert_eq!((report.sales, report.sales_changed), (4, 4));
}

#[test]
fn progress_counts_rows_refused_ones_too_and_false_stops_the_run() {
    let engine = joined();
    let mut calls = Vec::new();
    let mut progress = |done: u64, total: u64| {
        calls.push((done, total));
        done < 2
    };
    let report = engine
        .what_if_sale_columns(
            &flat(),
            &SaleColumns {
                sale: &["s1", "bad", "s2"],
                buyer: &["dee", "eve", "cy"],
                amount: Amounts::Text(&["100.00", "1.00", "33.33"]),
                currency: &["USD"; 3],
                at: Times::Millis(&[FEB_MS[0], FEB_MS[0], FEB_MS[1]]),
                category: None,
            },
            WhatIfOptions { top: 10, every: 1 },
            Some(&mut progress),
        )
        .unwrap();
    assert_eq!(calls, [(1, 3), (2, 3)]);
    assert_eq!(
        (
            report.sales,
            report.sales_refused,
            report.sales_in_period,
            report.complete
        ),
        (1, 1, 3, false)
    );
    // Only s1 is in the sums: cy 25.00 and bob 5.00 against 20, 15, 10.
    assert_eq!(
        rows(&report),
        [
            row("ann", "10.00", "0.00", "-10.00"),
            row("bob", "15.00", "5.00", "-10.00"),
            row("cy", "20.00", "25.00", "5.00"),
        ]
    );
}

#[test]
fn columns_of_different_lengths_fail_the_call_naming_the_column() {
    let engine = joined();
    let mut columns = february();
    columns.currency = &["USD"];
    let err = engine
        .what_if_sale_columns(&flat(), &columns, WhatIfOptions::default(), None)
        .unwrap_err();
    assert_eq!((err.code(), err.field()), ("malformed", Some("currency")));
}

#[test]
fn without_an_engine_the_members_table_is_the_network() {
    let report = what_if_members(
        &flat(),
        None,
        &MEMBERS,
        &february(),
        WhatIfOptions::default(),
        None,
    )
    .unwrap();
    assert_eq!(
        rows(&report),
        [
            row("ann", "15.00", "1.67", "-13.33"),
            row("bob", "21.67", "13.33", "-8.34"),
            row("cy", "20.00", "25.00", "5.00"),
        ]
    );
    // With the candidate in force, nothing changes.
    let same = what_if_members(
        &flat(),
        Some(&flat()),
        &MEMBERS,
        &february(),
        WhatIfOptions::default(),
        None,
    )
    .unwrap();
    assert!(same
        .earners
        .iter()
        .all(|e| e.amounts.difference().is_zero()));
    assert_eq!(same.earners.len(), 3);
    assert_eq!(same.sales_changed, 0);
    // A 3% one-level plan in force: cy 3.00 on s1, bob 1.00 on s2 (0.9999).
    let current = plan(r#"{"id":"now","version":1,"levels":[{"rate":"0.03"}]}"#);
    let report = what_if_members(
        &flat(),
        Some(&current),
        &MEMBERS,
        &february(),
        WhatIfOptions::default(),
        None,
    )
    .unwrap();
    assert_eq!(
        rows(&report),
        [
            row("ann", "0.00", "1.67", "1.67"),
            row("bob", "1.00", "13.33", "12.33"),
            row("cy", "3.00", "25.00", "22.00"),
        ]
    );
}

#[test]
fn without_an_engine_a_refused_member_row_fails_the_call_naming_it() {
    let members = JoinColumns {
        member: &["ann", "bob"],
        sponsor: &[None, Some("eve")],
        at: Times::Text(&["2026-01-01T00:00:00Z"; 2]),
    };
    let err = what_if_members(
        &flat(),
        None,
        &members,
        &february(),
        WhatIfOptions::default(),
        None,
    )
    .unwrap_err();
    assert_eq!(
        (err.code(), err.field()),
        ("unknown_member", Some("members.sponsor"))
    );
    assert!(
        err.message().starts_with("members row 1: "),
        "{}",
        err.message()
    );
    let bad = plan(r#"{"id":"bad","version":1,"levels":[{"rate":"0.80"},{"rate":"0.80"}]}"#);
    let err = what_if_members(
        &flat(),
        Some(&bad),
        &MEMBERS,
        &february(),
        WhatIfOptions::default(),
        None,
    )
    .unwrap_err();
    assert_eq!(err.code(), "invalid_plan");
    assert!(
        err.field().is_some_and(|f| f.starts_with("current.plan")),
        "{:?}",
        err.field()
    );
}

#[test]
fn without_an_engine_more_members_than_one_batch_are_joined() {
    // 100,001 members (one more than a columnar call takes): a root and a
    // star under it; the last one buys.
    let n = upline::limits::MAX_BATCH + 1;
    let ids: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    let member: Vec<&str> = ids.iter().map(String::as_str).collect();
    let sponsor: Vec<Option<&str>> = (0..n).map(|i| (i > 0).then_some("m0")).collect();
    let at = vec![1_767_225_600_000i64; n];
    let last = ids[n - 1].as_str();
    let buyer = [last];
    let report = what_if_members(
        &flat(),
        None,
        &JoinColumns {
            member: &member,
            sponsor: &sponsor,
            at: Times::Millis(&at),
        },
        &SaleColumns {
            sale: &["s1"],
            buyer: &buyer,
            amount: Amounts::Text(&["10.00"]),
            currency: &["USD"],
            at: Times::Millis(&[FEB_MS[0]]),
            category: None,
        },
        WhatIfOptions::default(),
        None,
    )
    .unwrap();
    assert_eq!(rows(&report), [row("m0", "2.00", "2.50", "0.50")]);
}
