//! Reading the books from Node: `engine.statement(member, options)` and
//! `engine.taxSummaryCsv(year, thresholds)` (and the thresholds argument
//! they share with `taxSummary`). Conversion only; the rules are in the
//! core (`upline::statement`).

use std::collections::BTreeMap;
use std::result::Result;

use napi::bindgen_prelude::*;
use napi::Env;
use napi_derive::napi;
use serde_json::Value;
use upline::wire::{Root, Shape};
use upline::{Error as CoreError, ErrorKind, StatementQuery};

use super::{guard, malformed, serialize, to_json, Engine};

/// The option names of `statement`, as JavaScript spells them.
const STATEMENT_OPTIONS: [&str; 6] = ["currency", "from", "to", "asOf", "after", "limit"];

/// `{ currency?, from?, to?, asOf?, after?, limit? }` (each may be null or
/// left out; times are `Date`s or RFC 3339 strings).
fn statement_query(options: Option<Unknown<'_>>) -> Result<StatementQuery, CoreError> {
    let mut query = StatementQuery::default();
    let Some(options) = options else {
        return Ok(query);
    };
    let map = match to_json(options, "options", Shape::plain())? {
        Value::Null => return Ok(query),
        Value::Object(map) => map,
        _ => {
            return Err(malformed(
                "options must be an object like { currency, from, to, asOf, after, limit }",
            ))
        }
    };
    for (key, value) in map {
        if !STATEMENT_OPTIONS.contains(&key.as_str()) {
            return Err(malformed(format!(
                "unknown option {key:?}; the options are: {}",
                STATEMENT_OPTIONS.join(", ")
            )));
        }
        let field = if key == "asOf" { "as_of" } else { key.as_str() };
        if value.is_null() {
            continue;
        }
        if field == "limit" {
            query.limit = match value.as_i64() {
                Some(n) if n < 0 => {
                    return Err(CoreError::new(
                        ErrorKind::Malformed,
                        "limit",
                        "limit must not be negative",
                    ))
                }
                Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                None if value.is_u64() => usize::MAX,
                None => {
                    return Err(CoreError::new(
                        ErrorKind::Malformed,
                        "limit",
                        "limit must be an integer",
                    ))
                }
            };
            continue;
        }
        let Value::String(text) = value else {
            let expected = match field {
                "from" | "to" | "as_of" => "a Date or an RFC 3339 string",
                _ => "a string",
            };
            return Err(CoreError::new(
                ErrorKind::Malformed,
                field,
                format!("{key} must be {expected}"),
            ));
        };
        let slot = match field {
            "currency" => &mut query.currency,
            "from" => &mut query.from,
            "to" => &mut query.to,
            "as_of" => &mut query.as_of,
            _ => &mut query.after,
        };
        *slot = Some(text);
    }
    Ok(query)
}

/// `{ [currency]: decimal string }`, or nothing.
pub(super) fn thresholds_arg(
    thresholds: Option<Unknown<'_>>,
) -> Result<BTreeMap<String, String>, CoreError> {
    let mut out = BTreeMap::new();
    if let Some(t) = thresholds {
        match to_json(t, "thresholds", Shape::of(Root::Thresholds))? {
            Value::Null => {}
            Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        Value::String(s) => {
                            out.insert(k, s);
                        }
                        _ => {
                            return Err(CoreError::new(
                                ErrorKind::InvalidAmount,
                                format!("thresholds.{k}"),
                                format!("thresholds.{k} must be a decimal string"),
                            ))
                        }
                    }
                }
            }
            _ => return Err(malformed("thresholds must be an object of decimal strings")),
        }
    }
    Ok(out)
}

#[napi]
impl Engine {
    /// One page of `member`'s statement: its ledger entries oldest first,
    /// each with its source and its state as of `asOf`, and the cursor of
    /// the next page (`null` on the last).
    #[napi(
        ts_args_type = "member: string, options?: { currency?: string | null; from?: Date | string | null; to?: Date | string | null; asOf?: Date | string | null; after?: string | null; limit?: number | null } | null"
    )]
    pub fn statement(
        &self,
        env: Env,
        member: String,
        options: Option<Unknown>,
    ) -> napi::Result<Value> {
        let query = guard(&env, || statement_query(options))?;
        self.with(&env, |engine| {
            serialize(&engine.statement(&member, &query)?)
        })
    }

    /// `taxSummary` as CSV text: a header row, then one row per earner and
    /// currency, amounts as exact decimal strings.
    #[napi]
    pub fn tax_summary_csv(
        &self,
        env: Env,
        year: i32,
        thresholds: Option<Unknown>,
    ) -> napi::Result<String> {
        let thresholds = guard(&env, || thresholds_arg(thresholds))?;
        self.with(&env, |engine| engine.tax_summary_csv(year, &thresholds))
    }
}
