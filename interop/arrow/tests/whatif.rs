//! What-if over Arrow tables: a sales table against an engine, and a
//! members table plus a sales table with no engine. The cents are worked
//! out by hand; bad columns fail the call with their errors, named after
//! their table when there are two.

use std::sync::Arc;

use arrow_array::{ArrayRef, Decimal128Array, Float64Array, RecordBatch, StringArray};
use arrow_array::{TimestampMillisecondArray, TimestampNanosecondArray};
use arrow_schema::{Field, Schema, SchemaRef};
use upline::engine::whatif::WhatIfOptions;
use upline::{Engine, PlanSpec};
use upline_arrow::{apply_joins, what_if_batch, what_if_members, what_if_sales};

const JAN: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const FEB: i64 = 1_769_947_200_000; // 2026-02-01T12:00:00Z

type Table = (SchemaRef, Vec<RecordBatch>);

fn table(columns: Vec<(&str, ArrayRef)>) -> Table {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    (schema, vec![batch])
}

fn utc_millis(values: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from(values).with_timezone("UTC"))
}

/// ann ← bob ← cy.
fn members() -> Table {
    table(vec![
        (
            "member",
            Arc::new(StringArray::from(vec!["ann", "bob", "cy"])),
        ),
        (
            "sponsor",
            Arc::new(StringArray::from(vec![None, Some("ann"), Some("bob")])),
        ),
        ("at", utc_millis(vec![JAN; 3])),
    ])
}

/// cy buys 100.00 and 0.33; "ghost" buys 5.00 (refused).
fn sales(amount: Option<ArrayRef>) -> Table {
    let amount = amount.unwrap_or_else(|| {
        Arc::new(
            Decimal128Array::from(vec![10_000, 33, 500])
                .with_precision_and_scale(12, 2)
                .unwrap(),
        )
    });
    table(vec![
        ("sale", Arc::new(StringArray::from(vec!["s1", "s2", "s3"]))),
        (
            "buyer",
            Arc::new(StringArray::from(vec!["cy", "cy", "ghost"])),
        ),
        ("amount", amount),
        ("currency", Arc::new(StringArray::from(vec!["USD"; 3]))),
        ("at", utc_millis(vec![FEB; 3])),
    ])
}

fn flat() -> PlanSpec {
    serde_json::from_str(r#"{"id":"flat","version":1,"levels":[{"rate":"0.25"}]}"#).unwrap()
}

fn joined() -> Engine {
    let mut engine = Engine::new();
    let (schema, batches) = members();
    apply_joins(&mut engine, &schema, &batches).unwrap();
    engine
}

/// `(earner, in force, candidate, difference)` from the result batch.
fn rows(report: &upline::engine::whatif::WhatIfReport) -> Vec<String> {
    let batch = what_if_batch(report).unwrap();
    let earner = batch
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let text = |column: usize, row: usize| {
        let array = batch
            .column(column)
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .unwrap();
        array.value_as_string(row)
    };
    (0..batch.num_rows())
        .map(|row| {
            format!(
                "{} {} {} {}",
                earner.value(row),
                text(2, row),
                text(3, row),
                text(4, row)
            )
        })
        .collect()
}

#[test]
fn a_sales_table_against_an_engine() {
    let engine = joined();
    let head = engine.audit_head();
    let (schema, batches) = sales(None);
    let report = what_if_sales(
        &engine,
        &flat(),
        &schema,
        &batches,
        WhatIfOptions::default(),
        None,
    )
    .unwrap();
    // Default plan: s1 bob 20.00, ann 15.00; s2 (0.33) bob 0.066 → 0.07,
    // ann 0.0495 → 0.05. Flat 25%: s1 bob 25.00; s2 bob 0.0825 → 0.08.
    assert_eq!(
        rows(&report),
        ["ann 15.05 0.00 -15.05", "bob 20.07 25.08 5.01"]
    );
    assert_eq!((report.sales, report.sales_refused), (2, 1));
    assert_eq!(report.refused[0].0, 2);
    assert_eq!(report.refused[0].1.code(), "unknown_member");
    assert_eq!(engine.audit_head(), head);
}

#[test]
fn bad_sales_columns_fail_with_the_columnar_paths_errors() {
    let engine = joined();
    let (schema, batches) = sales(Some(Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0]))));
    let err = what_if_sales(
        &engine,
        &flat(),
        &schema,
        &batches,
        WhatIfOptions::default(),
        None,
    )
    .unwrap_err();
    assert_eq!(
        (err.code(), err.field()),
        ("invalid_amount", Some("amount"))
    );
    let (schema, batches) = table(vec![
        ("sale", Arc::new(StringArray::from(vec!["s1"]))),
        ("buyer", Arc::new(StringArray::from(vec!["cy"]))),
        ("amount", Arc::new(StringArray::from(vec!["1.00"]))),
        ("currency", Arc::new(StringArray::from(vec!["USD"]))),
        ("at", Arc::new(TimestampNanosecondArray::from(vec![0]))),
    ]);
    let err = what_if_sales(
        &engine,
        &flat(),
        &schema,
        &batches,
        WhatIfOptions::default(),
        None,
    )
    .unwrap_err();
    assert_eq!((err.code(), err.field()), ("invalid_time", Some("at")));
}

#[test]
fn without_an_engine_the_members_table_is_the_network() {
    let (m_schema, m_batches) = members();
    let (s_schema, s_batches) = sales(None);
    let report = what_if_members(
        &flat(),
        None,
        (&m_schema, &m_batches),
        (&s_schema, &s_batches),
        WhatIfOptions::default(),
        None,
    )
    .unwrap();
    assert_eq!(
        rows(&report),
        ["ann 15.05 0.00 -15.05", "bob 20.07 25.08 5.01"]
    );
    // The candidate in force: no difference.
    let report = what_if_members(
        &flat(),
        Some(&flat()),
        (&m_schema, &m_batches),
        (&s_schema, &s_batches),
        WhatIfOptions::default(),
        None,
    )
    .unwrap();
    assert_eq!(rows(&report), ["bob 25.08 25.08 0.00"]);
}

#[test]
fn without_an_engine_column_errors_name_their_table() {
    let (m_schema, m_batches) = table(vec![
        ("member", Arc::new(StringArray::from(vec!["ann"]))),
        ("sponsor", Arc::new(StringArray::from(vec![None::<&str>]))),
        ("at", Arc::new(TimestampNanosecondArray::from(vec![0]))),
    ]);
    let (s_schema, s_batches) = sales(None);
    let err = what_if_members(
        &flat(),
        None,
        (&m_schema, &m_batches),
        (&s_schema, &s_batches),
        WhatIfOptions::default(),
        None,
    )
    .unwrap_err();
    assert_eq!(
        (err.code(), err.field()),
        ("invalid_time", Some("members.at"))
    );
    let (m_schema, m_batches) = members();
    let (s_schema, s_batches) = sales(Some(Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0]))));
    let err = what_if_members(
        &flat(),
        None,
        (&m_schema, &m_batches),
        (&s_schema, &s_batches),
        WhatIfOptions::default(),
        None,
    )
    .unwrap_err();
    assert_eq!(
        (err.code(), err.field()),
        ("invalid_amount", Some("sales.amount"))
    );
}
