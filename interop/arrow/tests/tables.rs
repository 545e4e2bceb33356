//! Arrow tables in, results out: the accepted column types give the JSON
//! path's results and hashes, and every batch-level type error fails the
//! whole call, names the column and changes nothing.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::types::{Decimal128Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, Decimal128Array, DictionaryArray, Float64Array, Int64Array, RecordBatch,
    StringArray, StringViewArray, TimestampMillisecondArray, TimestampNanosecondArray,
};
use arrow_schema::{Field, Schema, SchemaRef};
use upline::Engine;
use upline_arrow::{apply_joins, apply_refunds, apply_sales};

const JAN: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const FEB: i64 = 1_769_947_200_000; // 2026-02-01T12:00:00Z

fn table(columns: Vec<(&str, ArrayRef)>) -> (SchemaRef, Vec<RecordBatch>) {
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

fn joins() -> (SchemaRef, Vec<RecordBatch>) {
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

fn joined() -> Engine {
    let mut engine = Engine::new();
    let (schema, batches) = joins();
    let out = apply_joins(&mut engine, &schema, &batches).unwrap();
    assert_eq!(out.column(0).null_count(), 0);
    engine
}

fn decimals(values: Vec<i128>, scale: i8) -> ArrayRef {
    Arc::new(
        Decimal128Array::from(values)
            .with_precision_and_scale(38, scale)
            .unwrap(),
    )
}

#[test]
fn dictionary_and_view_strings_decimals_and_zoned_timestamps_match_the_json_path() {
    let mut engine = joined();
    let mut json = Engine::new();
    for (member, sponsor) in [("ann", "null"), ("bob", "\"ann\""), ("cy", "\"bob\"")] {
        json.apply_json(&format!(
            r#"{{"type":"member_joined","member":"{member}","sponsor":{sponsor},"at":"2026-01-01T00:00:00Z"}}"#
        ))
        .unwrap();
    }
    assert_eq!(engine.audit_head(), json.audit_head());
    let currency: DictionaryArray<Int32Type> = vec!["USD", "USD"].into_iter().collect();
    let (schema, batches) = table(vec![
        ("sale", Arc::new(StringViewArray::from(vec!["s1", "s2"]))),
        ("buyer", Arc::new(StringArray::from(vec!["cy", "bob"]))),
        ("amount", decimals(vec![10_000, 5_005], 2)),
        ("currency", Arc::new(currency)),
        (
            "at",
            Arc::new(
                TimestampNanosecondArray::from(vec![FEB * 1_000_000, FEB * 1_000_000 + 999])
                    .with_timezone("+00:00"),
            ),
        ),
    ]);
    let (results, lines) = apply_sales(&mut engine, &schema, &batches, true).unwrap();
    let seq = results.column(0).as_primitive::<UInt64Type>();
    assert_eq!(seq.values(), &[4, 5]);
    for (sale, buyer, amount) in [("s1", "cy", "100.00"), ("s2", "bob", "50.05")] {
        json.apply_json(&format!(
            r#"{{"type":"sale_recorded","sale":"{sale}","buyer":"{buyer}","amount":"{amount}","currency":"USD","at":"2026-02-01T12:00:00Z"}}"#
        ))
        .unwrap();
    }
    assert_eq!(engine.audit_head(), json.audit_head());
    let hashes = results.column(1).as_fixed_size_binary();
    assert_eq!(hashes.value(1), json.audit_head().hash.0);
    let lines = lines.unwrap();
    let earners: Vec<&str> = lines
        .column(2)
        .as_string::<i32>()
        .iter()
        .flatten()
        .collect();
    assert_eq!(earners, ["bob", "ann", "ann"]);
    let amounts = lines.column(3).as_primitive::<Decimal128Type>();
    assert_eq!(amounts.scale(), 2);
    // 20% of 100.00, 15% of 100.00, 20% of 50.05 = 10.01 (half-even).
    assert_eq!(amounts.values(), &[2_000, 1_500, 1_001]);
    let rates = lines.column(5).as_primitive::<Decimal128Type>();
    assert_eq!(
        (rates.scale(), rates.values().to_vec()),
        (2, vec![20, 15, 20])
    );

    let (schema, batches) = table(vec![
        ("refund", Arc::new(StringArray::from(vec!["r1", "r2"]))),
        ("sale", Arc::new(StringArray::from(vec!["s1", "nope"]))),
        ("amount", Arc::new(StringArray::from(vec!["50.00", "1.00"]))),
        (
            "at",
            Arc::new(StringArray::from(vec![
                "2026-02-02T12:00:00Z",
                "2026-02-02T12:00:00Z",
            ])),
        ),
    ]);
    let results = apply_refunds(&mut engine, &schema, &batches).unwrap();
    let codes = results.column(3).as_string::<i32>();
    assert!(codes.is_null(0));
    assert_eq!(codes.value(1), "unknown_sale");
    json.apply_json(
        r#"{"type":"refund_recorded","refund":"r1","sale":"s1","amount":"50.00","at":"2026-02-02T12:00:00Z"}"#,
    )
    .unwrap();
    assert_eq!(engine.audit_head(), json.audit_head());
}

/// Applies a one-row sales table with `column` replaced, and returns the
/// error's code and field; the engine must be unchanged.
fn sale_error(column: &str, array: ArrayRef) -> (String, String) {
    let mut engine = joined();
    let head = engine.audit_head();
    let mut columns: Vec<(&str, ArrayRef)> = vec![
        ("sale", Arc::new(StringArray::from(vec!["s1"]))),
        ("buyer", Arc::new(StringArray::from(vec!["bob"]))),
        ("amount", decimals(vec![10_000], 2)),
        ("currency", Arc::new(StringArray::from(vec!["USD"]))),
        ("at", utc_millis(vec![FEB])),
    ];
    match columns.iter().position(|(name, _)| *name == column) {
        Some(i) => columns[i].1 = array,
        None => columns.push((column, array)),
    }
    let (schema, batches) = table(columns);
    let err = apply_sales(&mut engine, &schema, &batches, false).unwrap_err();
    assert_eq!(engine.audit_head(), head, "{column}: the engine changed");
    (
        err.code().to_string(),
        err.field().unwrap_or("").to_string(),
    )
}

#[test]
fn a_float_money_column_is_invalid_amount() {
    let floats = Arc::new(Float64Array::from(vec![100.0]));
    assert_eq!(
        sale_error("amount", floats),
        ("invalid_amount".into(), "amount".into())
    );
    let integers = Arc::new(Int64Array::from(vec![100]));
    assert_eq!(
        sale_error("amount", integers),
        ("invalid_amount".into(), "amount".into())
    );
}

#[test]
fn a_timestamp_without_a_zone_is_invalid_time() {
    let naive = Arc::new(TimestampMillisecondArray::from(vec![FEB]));
    assert_eq!(
        sale_error("at", naive),
        ("invalid_time".into(), "at".into())
    );
}

#[test]
fn a_misspelt_column_is_malformed_and_named() {
    let extra = Arc::new(StringArray::from(vec!["books"]));
    assert_eq!(
        sale_error("categroy", extra),
        ("malformed".into(), "categroy".into())
    );
}

#[test]
fn a_missing_column_is_malformed_and_named() {
    let mut engine = joined();
    let (schema, batches) = table(vec![
        ("sale", Arc::new(StringArray::from(vec!["s1"])) as ArrayRef),
        ("amount", decimals(vec![10_000], 2)),
        ("currency", Arc::new(StringArray::from(vec!["USD"]))),
        ("at", utc_millis(vec![FEB])),
    ]);
    let err = apply_sales(&mut engine, &schema, &batches, false).unwrap_err();
    assert_eq!((err.code(), err.field()), ("malformed", Some("buyer")));
}

#[test]
fn nulls_in_a_required_column_are_malformed_and_named() {
    let buyer = Arc::new(StringArray::from(vec![None::<&str>]));
    assert_eq!(
        sale_error("buyer", buyer),
        ("malformed".into(), "buyer".into())
    );
    let amount = Arc::new(
        Decimal128Array::from(vec![None::<i128>])
            .with_precision_and_scale(38, 2)
            .unwrap(),
    );
    assert_eq!(
        sale_error("amount", amount),
        ("malformed".into(), "amount".into())
    );
    let currency: DictionaryArray<Int32Type> = vec![None::<&str>].into_iter().collect();
    assert_eq!(
        sale_error("currency", Arc::new(currency)),
        ("malformed".into(), "currency".into())
    );
}

#[test]
fn a_string_column_of_another_type_is_malformed() {
    let numbers = Arc::new(Int64Array::from(vec![7]));
    assert_eq!(
        sale_error("buyer", numbers),
        ("malformed".into(), "buyer".into())
    );
}

#[test]
fn more_rows_than_the_batch_limit_is_limit_exceeded() {
    let mut engine = Engine::new();
    let n = upline::limits::MAX_BATCH + 1;
    let (schema, batches) = table(vec![
        (
            "member",
            Arc::new(StringArray::from(vec!["m"; n])) as ArrayRef,
        ),
        (
            "sponsor",
            Arc::new(StringArray::from(vec![None::<&str>; n])),
        ),
        ("at", utc_millis(vec![JAN; n])),
    ]);
    let err = apply_joins(&mut engine, &schema, &batches).unwrap_err();
    assert_eq!((err.code(), err.field()), ("limit_exceeded", Some("rows")));
    assert_eq!(engine.audit_head().seq, 0);
}

#[cfg(feature = "ipc")]
#[test]
fn ipc_bytes_round_trip() {
    let (_, batches) = joins();
    let bytes = upline_arrow::ipc::write(&batches[0]).unwrap();
    let (schema, read) = upline_arrow::ipc::read(&bytes).unwrap();
    let mut engine = Engine::new();
    let out = apply_joins(&mut engine, &schema, &read).unwrap();
    assert_eq!(out.num_rows(), 3);
    assert_eq!(engine.audit_head().seq, 3);
    let err = upline_arrow::ipc::read(b"not arrow").unwrap_err();
    assert_eq!(err.code(), "malformed");
}
