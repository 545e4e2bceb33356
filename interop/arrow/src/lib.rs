//! Arrow ↔ Upline columns, for both bindings.
//!
//! A table of joins, sales or refunds (Arrow record batches that share one
//! schema) becomes the borrowed columns of [`upline::engine::columns`]
//! without copying its strings, goes through the engine, and the results
//! come back as a record batch: one row per input row (`seq`, `hash`,
//! `replayed`, `error_code`, `error_message`), and for sales, when asked,
//! the distribution lines (`sale`, `level`, `earner`, `amount`, `currency`,
//! `rate`).
//!
//! What a column may be:
//!
//! - ids and codes: `utf8`, `large_utf8`, `utf8_view`, or a dictionary of
//!   one of those;
//! - money: `decimal128` (or `decimal32` / `decimal64`), or decimal strings
//!   (hashed as the host wrote them); a float column is `invalid_amount`,
//!   and so is an integer column (whole units or cents? the table does not
//!   say);
//! - instants: `timestamp` with a time zone (any unit; Arrow stores UTC, so
//!   the zone only has to be there), or RFC 3339 strings; a timestamp
//!   without a zone is `invalid_time`.
//!
//! A table that does not fit fails the whole call before anything is
//! applied, with an error naming the column: a missing column or one the
//! kind does not have (a misspelt name) is `malformed`, and so are nulls in
//! a required column; more rows than [`MAX_BATCH`] is `limit_exceeded`
//! (what-if has no limit: it keeps nothing per row).
//! A row the engine refuses fails only that row, in its `error_code`.
//!
//! What-if reads the same sales table ([`what_if_sales`], and
//! [`what_if_members`] with a members table in the joins' columns and no
//! engine), calculation only and with no row limit; its per-earner rows
//! come back as a record batch ([`what_if_batch`]).
//!
//! This crate owns the mapping and its errors; every rule about
//! commissions stays in the core.

#[cfg(feature = "ipc")]
pub mod ipc;

use std::borrow::Cow;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal128Type, Decimal32Type, Decimal64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Decimal128Array, FixedSizeBinaryArray, RecordBatch, StringArray,
    UInt64Array, UInt8Array,
};
use arrow_buffer::{Buffer, NullBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use rust_decimal::Decimal;
use upline::engine::columns::{
    Amounts, JoinColumns, LineColumns, RefundColumns, RowResults, SaleColumns, Times,
};
use upline::engine::whatif::{self, Compared, WhatIfOptions, WhatIfReport};
use upline::limits::MAX_BATCH;
use upline::{Engine, Error, ErrorKind, PlanSpec, Result};

/// The columns of a joins table.
pub const JOIN_COLUMNS: &[&str] = &["member", "sponsor", "at"];
/// The columns of a sales table (`category` may be left out).
pub const SALE_COLUMNS: &[&str] = &["sale", "buyer", "amount", "currency", "at", "category"];
/// The columns of a refunds table.
pub const REFUND_COLUMNS: &[&str] = &["refund", "sale", "amount", "at"];

/// Applies a table of joins (`member`, `sponsor`, `at`), through
/// [`Engine::apply_join_columns`]: with a store, one conditional append,
/// and on a `conflict` a catch-up and the rows staged again (the
/// many-writers protocol of `apply_batch`).
pub fn apply_joins(
    engine: &mut Engine,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<RecordBatch> {
    let table = Table::new(schema, batches, JOIN_COLUMNS, &[], Some(MAX_BATCH))?;
    let member = table.required_strings("member")?;
    let sponsor = table.strings("sponsor")?;
    let at = table.times("at")?;
    let out = engine.apply_join_columns(&JoinColumns {
        member: &member,
        sponsor: &sponsor,
        at: at.borrow(),
    })?;
    results_batch(out)
}

/// Applies a table of sales (`sale`, `buyer`, `amount`, `currency`, `at`,
/// and optionally `category`); with `lines`, also returns their
/// distribution lines. With a store, as [`apply_joins`] (a sale another
/// writer stored first comes back as a retry, `replayed`).
pub fn apply_sales(
    engine: &mut Engine,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    lines: bool,
) -> Result<(RecordBatch, Option<RecordBatch>)> {
    let table = Table::new(
        schema,
        batches,
        SALE_COLUMNS,
        &["category"],
        Some(MAX_BATCH),
    )?;
    let sales = Sales::read(&table)?;
    let mut out = engine.apply_sale_columns(&sales.columns(), lines)?;
    let lines = match out.lines.take() {
        Some(found) => Some(lines_batch(found, &sales.sale, &sales.currency)?),
        None => None,
    };
    Ok((results_batch(out)?, lines))
}

/// The columns of a sales table, read out of its record batches.
struct Sales<'a> {
    sale: Vec<&'a str>,
    buyer: Vec<&'a str>,
    amount: OwnedAmounts<'a>,
    currency: Vec<&'a str>,
    at: OwnedTimes<'a>,
    category: Option<Vec<Option<&'a str>>>,
}

impl<'a> Sales<'a> {
    fn read(table: &Table<'a>) -> Result<Sales<'a>> {
        Ok(Sales {
            sale: table.required_strings("sale")?,
            buyer: table.required_strings("buyer")?,
            amount: table.amounts("amount")?,
            currency: table.required_strings("currency")?,
            at: table.times("at")?,
            category: match table.has("category") {
                true => Some(table.strings("category")?),
                false => None,
            },
        })
    }

    fn columns(&self) -> SaleColumns<'_> {
        SaleColumns {
            sale: &self.sale,
            buyer: &self.buyer,
            amount: self.amount.borrow(),
            currency: &self.currency,
            at: self.at.borrow(),
            category: self.category.as_deref(),
        }
    }
}

/// What-if over a table of sales (the columns of [`apply_sales`], any
/// number of rows) under `candidate`, against the plan in force: see
/// [`Engine::what_if_sale_columns`]. Nothing in the engine changes. A
/// table that does not fit fails the call with the errors of
/// [`apply_sales`] (but for the batch limit, which what-if does not have);
/// a row the engine would refuse is counted in the report.
pub fn what_if_sales(
    engine: &Engine,
    candidate: &PlanSpec,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    options: WhatIfOptions,
    progress: Option<&mut dyn FnMut(u64, u64) -> bool>,
) -> Result<WhatIfReport> {
    let table = Table::new(schema, batches, SALE_COLUMNS, &["category"], None)?;
    let sales = Sales::read(&table)?;
    engine.what_if_sale_columns(candidate, &sales.columns(), options, progress)
}

/// The same error with its field prefixed (`members` + `at` gives
/// `members.at`), for calls that take two tables.
fn within(prefix: &str, err: Error) -> Error {
    let field = match err.field() {
        Some(field) => format!("{prefix}.{field}"),
        None => prefix.to_string(),
    };
    Error::new(err.kind(), field, err.message().to_string())
}

/// What-if with no engine: a throwaway in-memory engine is built from a
/// members table (the columns of [`apply_joins`]: `member`, `sponsor`,
/// `at`, any number of rows), with `current` in force (the default plan
/// when `None`), and a sales table is replayed on it under `candidate`
/// (see [`whatif::what_if_members`]). Column errors name the table:
/// `members.sponsor`, `sales.amount`.
pub fn what_if_members(
    candidate: &PlanSpec,
    current: Option<&PlanSpec>,
    members: (&SchemaRef, &[RecordBatch]),
    sales: (&SchemaRef, &[RecordBatch]),
    options: WhatIfOptions,
    progress: Option<&mut dyn FnMut(u64, u64) -> bool>,
) -> Result<WhatIfReport> {
    let joins = Table::new(members.0, members.1, JOIN_COLUMNS, &[], None)
        .map_err(|e| within("members", e))?;
    let member = joins
        .required_strings("member")
        .map_err(|e| within("members", e))?;
    let sponsor = joins.strings("sponsor").map_err(|e| within("members", e))?;
    let joined = joins.times("at").map_err(|e| within("members", e))?;
    let table = Table::new(sales.0, sales.1, SALE_COLUMNS, &["category"], None)
        .map_err(|e| within("sales", e))?;
    let sales = Sales::read(&table).map_err(|e| within("sales", e))?;
    whatif::what_if_members(
        candidate,
        current,
        &JoinColumns {
            member: &member,
            sponsor: &sponsor,
            at: joined.borrow(),
        },
        &sales.columns(),
        options,
        progress,
    )
    .map_err(|e| match e.field() {
        // The sales table's row errors are in the report; what fails here
        // is a column length, named after the sales table's column.
        Some(field) if SALE_COLUMNS.contains(&field) => within("sales", e),
        _ => e,
    })
}

/// Applies a table of refunds (`refund`, `sale`, `amount`, `at`); with a
/// store, as [`apply_joins`].
pub fn apply_refunds(
    engine: &mut Engine,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<RecordBatch> {
    let table = Table::new(schema, batches, REFUND_COLUMNS, &[], Some(MAX_BATCH))?;
    let refund = table.required_strings("refund")?;
    let sale = table.required_strings("sale")?;
    let amount = table.amounts("amount")?;
    let at = table.times("at")?;
    let out = engine.apply_refund_columns(&RefundColumns {
        refund: &refund,
        sale: &sale,
        amount: amount.borrow(),
        at: at.borrow(),
    })?;
    results_batch(out)
}

/// The record batches of one call, checked against a kind's columns.
struct Table<'a> {
    schema: &'a Schema,
    batches: &'a [RecordBatch],
}

fn malformed(column: &str, message: String) -> Error {
    Error::new(ErrorKind::Malformed, column, message)
}

impl<'a> Table<'a> {
    fn new(
        schema: &'a SchemaRef,
        batches: &'a [RecordBatch],
        columns: &[&str],
        optional: &[&str],
        limit: Option<usize>,
    ) -> Result<Table<'a>> {
        for field in schema.fields() {
            if !columns.contains(&field.name().as_str()) {
                return Err(malformed(
                    field.name(),
                    format!(
                        "the table has a column {:?} this kind does not have; the columns are {}",
                        field.name(),
                        columns.join(", ")
                    ),
                ));
            }
        }
        for column in columns {
            if !optional.contains(column) && schema.index_of(column).is_err() {
                return Err(malformed(
                    column,
                    format!("the table has no column {column:?}"),
                ));
            }
        }
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if let Some(limit) = limit.filter(|&limit| rows > limit) {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                "rows",
                format!("the table has {rows} rows; the limit is {limit} a call"),
            ));
        }
        if let Some(batch) = batches
            .iter()
            .find(|b| b.schema().fields() != schema.fields())
        {
            return Err(malformed(
                "schema",
                format!(
                    "a record batch's schema ({}) differs from the table's ({})",
                    batch.schema(),
                    schema
                ),
            ));
        }
        Ok(Table {
            schema: schema.as_ref(),
            batches,
        })
    }

    fn has(&self, column: &str) -> bool {
        self.schema.index_of(column).is_ok()
    }

    /// The column's data type and its array in each batch.
    fn column(&self, name: &str) -> Result<(&'a DataType, Vec<&'a ArrayRef>)> {
        let index = self
            .schema
            .index_of(name)
            .map_err(|_| malformed(name, format!("the table has no column {name:?}")))?;
        let field: &'a Field = self.schema.field(index);
        Ok((
            field.data_type(),
            self.batches.iter().map(|b| b.column(index)).collect(),
        ))
    }

    fn strings(&self, name: &str) -> Result<Vec<Option<&'a str>>> {
        let (_, arrays) = self.column(name)?;
        let mut out = Vec::new();
        for array in arrays {
            push_strings(array.as_ref(), name, &mut out)?;
        }
        Ok(out)
    }

    fn required_strings(&self, name: &str) -> Result<Vec<&'a str>> {
        let values = self.strings(name)?;
        no_nulls(name, &values)?;
        Ok(values.into_iter().map(Option::unwrap_or_default).collect())
    }

    fn amounts(&self, name: &str) -> Result<OwnedAmounts<'a>> {
        let (data_type, arrays) = self.column(name)?;
        let scale = match data_type {
            DataType::Decimal32(_, scale)
            | DataType::Decimal64(_, scale)
            | DataType::Decimal128(_, scale) => *scale,
            DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Dictionary(..) => {
                return Ok(OwnedAmounts::Text(self.required_strings(name)?));
            }
            other => {
                let what = if matches!(
                    other,
                    DataType::Float16 | DataType::Float32 | DataType::Float64
                ) {
                    "a float column; money is never a float"
                } else {
                    "neither decimal nor text"
                };
                return Err(Error::new(
                    ErrorKind::InvalidAmount,
                    name,
                    format!(
                        "column {name} is {other} ({what}): give decimal128 or decimal strings"
                    ),
                ));
            }
        };
        let scale = u32::try_from(scale).map_err(|_| {
            Error::new(
                ErrorKind::InvalidAmount,
                name,
                format!("column {name} has a negative decimal scale ({scale})"),
            )
        })?;
        for array in &arrays {
            if array.null_count() > 0 {
                return Err(nulls(name, array.as_ref()));
            }
        }
        // One decimal128 batch (a pyarrow slice, an IPC message): its
        // values are borrowed as they are, no copy.
        if let [array] = arrays.as_slice() {
            if let DataType::Decimal128(..) = array.data_type() {
                let values: &'a [i128] = array.as_primitive::<Decimal128Type>().values();
                return Ok(OwnedAmounts::Decimal(Cow::Borrowed(values), scale));
            }
        }
        let mut mantissa = Vec::new();
        for array in arrays {
            match array.data_type() {
                DataType::Decimal128(..) => {
                    mantissa.extend_from_slice(array.as_primitive::<Decimal128Type>().values())
                }
                DataType::Decimal64(..) => mantissa.extend(
                    array
                        .as_primitive::<Decimal64Type>()
                        .values()
                        .iter()
                        .map(|&v| i128::from(v)),
                ),
                _ => mantissa.extend(
                    array
                        .as_primitive::<Decimal32Type>()
                        .values()
                        .iter()
                        .map(|&v| i128::from(v)),
                ),
            }
        }
        Ok(OwnedAmounts::Decimal(Cow::Owned(mantissa), scale))
    }

    fn times(&self, name: &str) -> Result<OwnedTimes<'a>> {
        let (data_type, arrays) = self.column(name)?;
        let unit = match data_type {
            DataType::Timestamp(unit, Some(_)) => *unit,
            DataType::Timestamp(_, None) => {
                return Err(Error::new(
                    ErrorKind::InvalidTime,
                    name,
                    format!(
                        "column {name} is a timestamp without a time zone; give it one \
                         (UTC) or RFC 3339 strings with an offset"
                    ),
                ));
            }
            DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Dictionary(..) => {
                return Ok(OwnedTimes::Text(self.required_strings(name)?));
            }
            other => {
                return Err(Error::new(
                    ErrorKind::InvalidTime,
                    name,
                    format!(
                        "column {name} is {other}: give a timestamp with a time zone or \
                         RFC 3339 strings"
                    ),
                ));
            }
        };
        for array in &arrays {
            if array.null_count() > 0 {
                return Err(nulls(name, array.as_ref()));
            }
        }
        // One batch in milliseconds: borrowed as it is, no copy.
        if let ([array], TimeUnit::Millisecond) = (arrays.as_slice(), unit) {
            let values: &'a [i64] = array.as_primitive::<TimestampMillisecondType>().values();
            return Ok(OwnedTimes::Millis(Cow::Borrowed(values)));
        }
        let mut millis = Vec::new();
        for array in arrays {
            // Sub-millisecond digits are dropped, as RFC 3339 text with more
            // than three decimals is read.
            match unit {
                TimeUnit::Second => {
                    for &seconds in array.as_primitive::<TimestampSecondType>().values() {
                        millis.push(seconds.checked_mul(1000).ok_or_else(|| {
                            Error::new(
                                ErrorKind::InvalidTime,
                                name,
                                format!("column {name}: {seconds} s is out of range"),
                            )
                        })?);
                    }
                }
                TimeUnit::Millisecond => millis
                    .extend_from_slice(array.as_primitive::<TimestampMillisecondType>().values()),
                TimeUnit::Microsecond => millis.extend(
                    array
                        .as_primitive::<TimestampMicrosecondType>()
                        .values()
                        .iter()
                        .map(|v| v.div_euclid(1000)),
                ),
                TimeUnit::Nanosecond => millis.extend(
                    array
                        .as_primitive::<TimestampNanosecondType>()
                        .values()
                        .iter()
                        .map(|v| v.div_euclid(1_000_000)),
                ),
            }
        }
        Ok(OwnedTimes::Millis(Cow::Owned(millis)))
    }
}

fn nulls(name: &str, array: &dyn Array) -> Error {
    let row = (0..array.len()).find(|&i| array.is_null(i)).unwrap_or(0);
    malformed(
        name,
        format!(
            "column {name} has {} nulls (the first at row {row} of its record batch); it is required",
            array.null_count()
        ),
    )
}

fn no_nulls(name: &str, values: &[Option<&str>]) -> Result<()> {
    match values.iter().position(Option::is_none) {
        Some(row) => Err(malformed(
            name,
            format!("column {name} has a null at row {row}; it is required"),
        )),
        None => Ok(()),
    }
}

/// Appends the strings of `array` (plain, large, view or dictionary).
fn push_strings<'a>(
    array: &'a dyn Array,
    name: &str,
    out: &mut Vec<Option<&'a str>>,
) -> Result<()> {
    match array.data_type() {
        DataType::Utf8 => out.extend(array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => out.extend(array.as_string::<i64>().iter()),
        DataType::Utf8View => out.extend(array.as_string_view().iter()),
        DataType::Dictionary(_, _) => {
            let dictionary = array.as_any_dictionary();
            let mut values = Vec::new();
            push_strings(dictionary.values().as_ref(), name, &mut values)?;
            if values.is_empty() {
                // Every key is null (`normalized_keys` panics on an empty
                // dictionary).
                out.extend(std::iter::repeat_n(None, array.len()));
                return Ok(());
            }
            let keys = dictionary.normalized_keys();
            let nulls = array.logical_nulls();
            for (row, key) in keys.into_iter().enumerate() {
                let valid = nulls.as_ref().is_none_or(|n| n.is_valid(row));
                out.push(if valid {
                    values.get(key).copied().flatten()
                } else {
                    None
                });
            }
        }
        other => {
            return Err(malformed(
                name,
                format!("column {name} is {other}; it must hold strings"),
            ));
        }
    }
    Ok(())
}

/// Amounts taken out of a table: mantissas (borrowed from one decimal128
/// batch, else copied and widened to `i128`) or text (borrowed).
enum OwnedAmounts<'a> {
    Decimal(Cow<'a, [i128]>, u32),
    Text(Vec<&'a str>),
}

impl OwnedAmounts<'_> {
    fn borrow(&self) -> Amounts<'_> {
        match self {
            OwnedAmounts::Decimal(mantissa, scale) => Amounts::Decimal {
                mantissa,
                scale: *scale,
            },
            OwnedAmounts::Text(text) => Amounts::Text(text),
        }
    }
}

/// Instants taken out of a table (milliseconds borrowed from one batch in
/// that unit, else converted).
enum OwnedTimes<'a> {
    Millis(Cow<'a, [i64]>),
    Text(Vec<&'a str>),
}

impl OwnedTimes<'_> {
    fn borrow(&self) -> Times<'_> {
        match self {
            OwnedTimes::Millis(millis) => Times::Millis(millis),
            OwnedTimes::Text(text) => Times::Text(text),
        }
    }
}

/// The schema of the results of [`apply_joins`], [`apply_sales`] and
/// [`apply_refunds`].
pub fn results_schema() -> Schema {
    Schema::new(vec![
        Field::new("seq", DataType::UInt64, true),
        Field::new("hash", DataType::FixedSizeBinary(32), true),
        Field::new("replayed", DataType::Boolean, false),
        Field::new("error_code", DataType::Utf8, true),
        Field::new("error_message", DataType::Utf8, true),
    ])
}

fn internal(err: impl std::fmt::Display) -> Error {
    Error::general(ErrorKind::Internal, err.to_string())
}

fn results_batch(out: RowResults) -> Result<RecordBatch> {
    let rows = out.seq.len();
    // Without refused rows (the usual case) the error columns are all null
    // and nothing is built per row for them.
    let (nulls, codes, messages) = if out.errors.is_empty() {
        (
            None,
            StringArray::new_null(rows),
            StringArray::new_null(rows),
        )
    } else {
        let mut valid = vec![true; rows];
        let mut codes: Vec<Option<&str>> = vec![None; rows];
        let mut messages: Vec<Option<&str>> = vec![None; rows];
        for (row, err) in &out.errors {
            valid[*row] = false;
            codes[*row] = Some(err.code());
            messages[*row] = Some(err.message());
        }
        (
            Some(NullBuffer::from(valid)),
            StringArray::from(codes),
            StringArray::from(messages),
        )
    };
    let mut hashes = Vec::with_capacity(rows * 32);
    for hash in &out.hash {
        hashes.extend_from_slice(&hash.0);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::new(out.seq.into(), nulls.clone())),
        Arc::new(FixedSizeBinaryArray::new(
            32,
            Buffer::from_vec(hashes),
            nulls,
        )),
        Arc::new(BooleanArray::from(out.replayed)),
        Arc::new(codes),
        Arc::new(messages),
    ];
    RecordBatch::try_new(Arc::new(results_schema()), columns).map_err(internal)
}

/// Decimals at one scale, the largest of `values` (so every value keeps
/// all its digits), as a `decimal128(38, scale)` array.
fn decimal_array(values: &[Decimal]) -> Result<Decimal128Array> {
    decimal_array_at(values, values.iter().map(Decimal::scale).max().unwrap_or(0))
}

/// Decimals rescaled to `scale` (at least each value's own), as a
/// `decimal128(38, scale)` array.
fn decimal_array_at(values: &[Decimal], scale: u32) -> Result<Decimal128Array> {
    let mantissa: Vec<i128> = values
        .iter()
        .map(|value| {
            let mut value = *value;
            value.rescale(scale);
            value.mantissa()
        })
        .collect();
    let scale = i8::try_from(scale).map_err(internal)?;
    Decimal128Array::from(mantissa)
        .with_precision_and_scale(38, scale)
        .map_err(internal)
}

/// The schema of the lines [`apply_sales`] returns (the amounts' and
/// rates' scales are those of the batch).
fn lines_batch(lines: LineColumns, sale: &[&str], currency: &[&str]) -> Result<RecordBatch> {
    let sale_ids: Vec<&str> = lines.row.iter().map(|&r| sale[r as usize]).collect();
    let currencies: Vec<&str> = lines.row.iter().map(|&r| currency[r as usize]).collect();
    let earners: Vec<&str> = lines.earner.iter().map(|e| &**e).collect();
    let amount = decimal_array(&lines.amount)?;
    let rates: Vec<Decimal> = lines.rate.iter().map(|r| r.value()).collect();
    let rate = decimal_array(&rates)?;
    let schema = Schema::new(vec![
        Field::new("sale", DataType::Utf8, false),
        Field::new("level", DataType::UInt8, false),
        Field::new("earner", DataType::Utf8, false),
        Field::new("amount", amount.data_type().clone(), false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("rate", rate.data_type().clone(), false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(sale_ids)),
        Arc::new(UInt8Array::from(lines.level)),
        Arc::new(StringArray::from(earners)),
        Arc::new(amount),
        Arc::new(StringArray::from(currencies)),
        Arc::new(rate),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).map_err(internal)
}

/// A what-if report's per-earner rows as a record batch: `earner`,
/// `currency`, `in_force`, `candidate`, `difference` (decimals at the
/// largest scale of the report's currencies).
pub fn what_if_batch(report: &WhatIfReport) -> Result<RecordBatch> {
    let rows = &report.earners;
    let earner: Vec<&str> = rows.iter().map(|r| &*r.earner).collect();
    let currency: Vec<&str> = rows.iter().map(|r| r.currency.code()).collect();
    let scale = rows
        .iter()
        .map(|r| u32::from(r.currency.minor_units()))
        .max()
        .unwrap_or(0);
    let column = |value: fn(&Compared) -> Decimal| -> Result<Decimal128Array> {
        let values: Vec<Decimal> = rows.iter().map(|r| value(&r.amounts)).collect();
        decimal_array_at(&values, scale)
    };
    let in_force = column(|c| c.in_force)?;
    let candidate = column(|c| c.candidate)?;
    let difference = column(Compared::difference)?;
    let schema = Schema::new(vec![
        Field::new("earner", DataType::Utf8, false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("in_force", in_force.data_type().clone(), false),
        Field::new("candidate", candidate.data_type().clone(), false),
        Field::new("difference", difference.data_type().clone(), false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(earner)),
        Arc::new(StringArray::from(currency)),
        Arc::new(in_force),
        Arc::new(candidate),
        Arc::new(difference),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).map_err(internal)
}
