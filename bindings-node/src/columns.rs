//! Arrow IPC in and out: `applyJoinsIpc`, `applySalesIpc`,
//! `applyRefundsIpc` and `whatIfIpc`, through `upline-arrow`. The package
//! entry (`upline.js`) wraps them as `applyJoins`, `applySales`,
//! `applyRefunds` and `whatIf`, which also take and give `apache-arrow`
//! Tables (converted there with `tableToIPC` / `tableFromIPC`, so this
//! addon never depends on the JS Arrow library).

use napi::bindgen_prelude::*;
use napi::{Env, ValueType};
use napi_derive::napi;
use serde_json::{json, Value};
use upline::engine::whatif::{Compared, EarnerComparison, WhatIfOptions, WhatIfReport};
use upline::{Error as CoreError, ErrorKind, PlanSpec, Timestamp};

use upline::wire::{Root, Shape};

use crate::{guard, malformed, napi_err, time_arg, to_json, Engine};

fn buffer(bytes: Vec<u8>) -> Buffer {
    Buffer::from(bytes)
}

fn compared(currency: &str, amounts: &Compared) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    out.insert("currency".into(), json!(currency));
    out.insert("in_force".into(), json!(amounts.in_force.to_string()));
    out.insert("candidate".into(), json!(amounts.candidate.to_string()));
    out.insert("difference".into(), json!(amounts.difference().to_string()));
    out
}

fn earner_rows(rows: &[EarnerComparison]) -> Value {
    Value::Array(
        rows.iter()
            .map(|row| {
                let mut item = compared(row.currency.code(), &row.amounts);
                item.insert("earner".into(), json!(&*row.earner));
                Value::Object(item)
            })
            .collect(),
    )
}

/// Everything but the per-earner rows (the table), amounts as decimal
/// strings.
fn summary(report: &WhatIfReport) -> Value {
    let levels: Vec<Value> = report
        .levels
        .iter()
        .map(|level| {
            let mut item = compared(level.currency.code(), &level.amounts);
            item.insert("level".into(), json!(level.level));
            Value::Object(item)
        })
        .collect();
    json!({
        "sales": report.sales,
        "sales_changed": report.sales_changed,
        "sales_in_period": report.sales_in_period,
        "sales_refused": report.sales_refused,
        "refused": report.refused.iter().map(|(row, err)| json!({
            "row": row,
            "code": err.code(),
            "field": err.field(),
            "message": err.message(),
        })).collect::<Vec<Value>>(),
        "complete": report.complete,
        "levels": levels,
        "gains": earner_rows(&report.gains),
        "losses": earner_rows(&report.losses),
    })
}

/// A non-negative integer option.
fn count_option(value: Unknown<'_>, field: &str) -> std::result::Result<Option<u64>, CoreError> {
    if matches!(
        value.get_type().map_err(napi_err)?,
        ValueType::Undefined | ValueType::Null
    ) {
        return Ok(None);
    }
    match to_json(value, field, Shape::plain())? {
        Value::Null => Ok(None),
        Value::Number(n) if n.as_u64().is_some() => Ok(n.as_u64()),
        _ => Err(CoreError::new(
            ErrorKind::Malformed,
            field,
            format!("{field} must be a non-negative integer"),
        )),
    }
}

/// The `whatIfIpc` result: the per-earner table as IPC stream bytes and the
/// summary.
#[napi(object)]
pub struct WhatIfIpc {
    /// IPC stream bytes: `earner`, `currency`, `in_force`, `candidate`,
    /// `difference`.
    pub table: Buffer,
    /// Sales, changes, per-level totals, gains and losses.
    pub summary: Value,
}

#[napi]
impl Engine {
    /// Applies an Arrow IPC table of joins; returns the results as IPC.
    #[napi]
    pub fn apply_joins_ipc(&self, env: Env, table: Uint8Array) -> napi::Result<Buffer> {
        let (schema, batches) = guard(&env, || upline_arrow::ipc::read(&table))?;
        let out = self.with(&env, |engine| {
            let results = upline_arrow::apply_joins(engine, &schema, &batches)?;
            upline_arrow::ipc::write(&results)
        })?;
        Ok(buffer(out))
    }

    /// Applies an Arrow IPC table of sales; returns `[results]`, or
    /// `[results, lines]` with `lines`.
    #[napi]
    pub fn apply_sales_ipc(
        &self,
        env: Env,
        table: Uint8Array,
        lines: bool,
    ) -> napi::Result<Vec<Buffer>> {
        let (schema, batches) = guard(&env, || upline_arrow::ipc::read(&table))?;
        let out = self.with(&env, |engine| {
            let (results, found) = upline_arrow::apply_sales(engine, &schema, &batches, lines)?;
            let mut out = vec![upline_arrow::ipc::write(&results)?];
            if let Some(found) = found {
                out.push(upline_arrow::ipc::write(&found)?);
            }
            Ok(out)
        })?;
        Ok(out.into_iter().map(buffer).collect())
    }

    /// Applies an Arrow IPC table of refunds; returns the results as IPC.
    #[napi]
    pub fn apply_refunds_ipc(&self, env: Env, table: Uint8Array) -> napi::Result<Buffer> {
        let (schema, batches) = guard(&env, || upline_arrow::ipc::read(&table))?;
        let out = self.with(&env, |engine| {
            let results = upline_arrow::apply_refunds(engine, &schema, &batches)?;
            upline_arrow::ipc::write(&results)
        })?;
        Ok(buffer(out))
    }

    /// What-if on a candidate plan (see `whatIf` in `index.d.ts`).
    #[napi(
        ts_args_type = "plan: unknown, from: Date | string, to: Date | string, options?: { top?: number; every?: number; progress?: (done: number, total: number) => boolean | void } | null"
    )]
    pub fn what_if_ipc(
        &self,
        env: Env,
        plan: Unknown,
        from: Unknown,
        to: Unknown,
        options: Option<Unknown>,
    ) -> napi::Result<WhatIfIpc> {
        let (spec, from, to, args) = guard(&env, || {
            let spec = plan_arg(plan, "plan")?;
            let from = Timestamp::parse(&time_arg(from, "from")?, "from")?;
            let to = Timestamp::parse(&time_arg(to, "to")?, "to")?;
            let args = WhatIfArgs::read(options, false)?;
            Ok((spec, from, to, args))
        })?;
        let mut callback = Callback::new(args.progress);
        let report = self.with(&env, |engine| {
            let mut call = |done, total| callback.call(done, total);
            engine.what_if(&spec, from, to, args.settings, Some(&mut call))
        })?;
        callback.finish(&env, &report)
    }

    /// What-if over a sales table given as IPC bytes (see `whatIf` in
    /// `index.d.ts`).
    #[napi(
        ts_args_type = "plan: unknown, sales: Uint8Array, options?: { top?: number; every?: number; progress?: (done: number, total: number) => boolean | void } | null"
    )]
    pub fn what_if_sales_ipc(
        &self,
        env: Env,
        plan: Unknown,
        sales: Uint8Array,
        options: Option<Unknown>,
    ) -> napi::Result<WhatIfIpc> {
        let (spec, args, (schema, batches)) = guard(&env, || {
            let spec = plan_arg(plan, "plan")?;
            let args = WhatIfArgs::read(options, false)?;
            Ok((spec, args, upline_arrow::ipc::read_as(&sales, "sales")?))
        })?;
        let mut callback = Callback::new(args.progress);
        let report = self.with(&env, |engine| {
            let mut call = |done, total| callback.call(done, total);
            upline_arrow::what_if_sales(
                engine,
                &spec,
                &schema,
                &batches,
                args.settings,
                Some(&mut call),
            )
        })?;
        callback.finish(&env, &report)
    }
}

/// What-if with no engine: members and sales tables as IPC bytes (see
/// `whatIf` in `index.d.ts`).
#[napi(
    ts_args_type = "plan: unknown, members: Uint8Array, sales: Uint8Array, options?: { current?: unknown; top?: number; every?: number; progress?: (done: number, total: number) => boolean | void } | null"
)]
pub fn what_if_tables_ipc(
    env: Env,
    plan: Unknown,
    members: Uint8Array,
    sales: Uint8Array,
    options: Option<Unknown>,
) -> napi::Result<WhatIfIpc> {
    let (spec, args, members, sales) = guard(&env, || {
        let spec = plan_arg(plan, "plan")?;
        let args = WhatIfArgs::read(options, true)?;
        let members = upline_arrow::ipc::read_as(&members, "members")?;
        let sales = upline_arrow::ipc::read_as(&sales, "sales")?;
        Ok((spec, args, members, sales))
    })?;
    let mut callback = Callback::new(args.progress);
    let report = guard(&env, || {
        let mut call = |done, total| callback.call(done, total);
        upline_arrow::what_if_members(
            &spec,
            args.current.as_ref(),
            (&members.0, &members.1),
            (&sales.0, &sales.1),
            args.settings,
            Some(&mut call),
        )
    })?;
    callback.finish(&env, &report)
}

/// A plan argument as a spec.
fn plan_arg(plan: Unknown<'_>, field: &str) -> std::result::Result<PlanSpec, CoreError> {
    let spec = to_json(plan, field, Shape::of(Root::PlanSpec))?;
    serde_json::from_value(spec)
        .map_err(|e| CoreError::new(ErrorKind::Malformed, field, format!("not a plan: {e}")))
}

type ProgressFn<'a> = Function<'a, FnArgs<(f64, f64)>, Unknown<'a>>;

/// The options of a what-if call.
struct WhatIfArgs<'a> {
    settings: WhatIfOptions,
    progress: Option<ProgressFn<'a>>,
    current: Option<PlanSpec>,
}

impl<'a> WhatIfArgs<'a> {
    /// `{ top, every, progress }`, and `current` when `with_current`.
    fn read(
        options: Option<Unknown<'a>>,
        with_current: bool,
    ) -> std::result::Result<WhatIfArgs<'a>, CoreError> {
        let mut args = WhatIfArgs {
            settings: WhatIfOptions::default(),
            progress: None,
            current: None,
        };
        let Some(options) = options else {
            return Ok(args);
        };
        let keys: &[&str] = if with_current {
            &["current", "top", "every", "progress"]
        } else {
            &["top", "every", "progress"]
        };
        match options.get_type().map_err(napi_err)? {
            ValueType::Undefined | ValueType::Null => return Ok(args),
            ValueType::Object => {}
            _ => {
                return Err(malformed(format!(
                    "options must be an object like {{ {} }}",
                    keys.join(", ")
                )))
            }
        }
        let object: Object = unsafe { options.cast() }.map_err(napi_err)?;
        for key in Object::keys(&object).map_err(napi_err)? {
            if !keys.contains(&key.as_str()) {
                return Err(malformed(format!(
                    "unknown option {key:?}; the options are: {}",
                    keys.join(", ")
                )));
            }
        }
        let get = |key: &str| object.get_named_property::<Unknown>(key);
        if let Some(top) = count_option(get("top").map_err(napi_err)?, "options.top")? {
            args.settings.top = usize::try_from(top).unwrap_or(usize::MAX);
        }
        if let Some(every) = count_option(get("every").map_err(napi_err)?, "options.every")? {
            args.settings.every = every;
        }
        let callback = get("progress").map_err(napi_err)?;
        match callback.get_type().map_err(napi_err)? {
            ValueType::Undefined | ValueType::Null => {}
            ValueType::Function => {
                args.progress = Some(unsafe { callback.cast() }.map_err(napi_err)?)
            }
            other => {
                return Err(CoreError::new(
                    ErrorKind::Malformed,
                    "options.progress",
                    format!("options.progress must be a function, not a JS {other}"),
                ))
            }
        }
        if with_current {
            let current = get("current").map_err(napi_err)?;
            if !matches!(
                current.get_type().map_err(napi_err)?,
                ValueType::Undefined | ValueType::Null
            ) {
                args.current = Some(plan_arg(current, "current")?);
            }
        }
        Ok(args)
    }
}

/// A what-if progress callback: only `false` stops the run; a throw stops
/// it and is kept for the caller.
struct Callback<'a> {
    function: Option<ProgressFn<'a>>,
    thrown: Option<napi::Error>,
}

impl<'a> Callback<'a> {
    fn new(function: Option<ProgressFn<'a>>) -> Callback<'a> {
        Callback {
            function,
            thrown: None,
        }
    }

    fn call(&mut self, done: u64, total: u64) -> bool {
        let Some(function) = &self.function else {
            return true;
        };
        match function.call(FnArgs::from((done as f64, total as f64))) {
            // Only `false` stops; a callback returning nothing lets the
            // run go on.
            Ok(answer) => !matches!(
                answer.get_type(),
                Ok(ValueType::Boolean) if unsafe { answer.cast::<bool>() }.is_ok_and(|b| !b)
            ),
            Err(err) => {
                self.thrown = Some(err);
                false
            }
        }
    }

    /// The result for `report`, or what the callback threw.
    fn finish(self, env: &Env, report: &WhatIfReport) -> napi::Result<WhatIfIpc> {
        if let Some(err) = self.thrown {
            return Err(err);
        }
        let table = guard(env, || {
            upline_arrow::ipc::write(&upline_arrow::what_if_batch(report)?)
        })?;
        Ok(WhatIfIpc {
            table: buffer(table),
            summary: summary(report),
        })
    }
}
