//! `Engine.apply_joins`, `apply_sales`, `apply_refunds`: Arrow tables in
//! and out, through `upline-arrow`. Input is any object with the Arrow C
//! stream or array interface (pyarrow, polars, duckdb), read with
//! pyo3-arrow; the result is an Arrow table object with
//! `__arrow_c_stream__`, which `pyarrow.table(x)` and `polars.from_arrow(x)`
//! take without a copy. No pyarrow is needed to import `upline`.

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyTuple};
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyTable;
use rust_decimal::Decimal;
use upline::engine::whatif::{Compared, EarnerComparison, WhatIfOptions, WhatIfReport};
use upline::{Error, ErrorKind, PlanSpec, Timestamp};

use super::{conv, raise, type_name, Engine};
use crate::convert;

/// The schema and record batches of an Arrow-compatible object; anything
/// else is `malformed`.
pub(super) fn read_table(table: &Bound<'_, PyAny>) -> PyResult<(SchemaRef, Vec<RecordBatch>)> {
    read_table_as(table, "table")
}

/// [`read_table`] for an argument named `field`.
fn read_table_as(table: &Bound<'_, PyAny>, field: &str) -> PyResult<(SchemaRef, Vec<RecordBatch>)> {
    let py = table.py();
    let bad = |why: String| {
        raise(
            py,
            Error::new(
                ErrorKind::Malformed,
                field,
                format!(
                    "{field} must be an Arrow table or record batch (an object with \
                     __arrow_c_stream__ or __arrow_c_array__, like a pyarrow Table or a \
                     polars DataFrame), not {}: {why}",
                    type_name(table)
                ),
            ),
        )
    };
    let any = table
        .extract::<AnyRecordBatch>()
        .map_err(|e| bad(e.to_string()))?;
    let reader = any.into_reader().map_err(|e| bad(e.to_string()))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, ArrowError>>()
        .map_err(|e| bad(e.to_string()))?;
    Ok((schema, batches))
}

/// An Arrow table object for Python.
pub(super) fn table_out<'py>(py: Python<'py>, batch: RecordBatch) -> PyResult<Bound<'py, PyAny>> {
    let schema = batch.schema();
    PyTable::try_new(vec![batch], schema)?
        .into_pyobject(py)
        .map(Bound::into_any)
}

#[pymethods]
impl Engine {
    /// Applies a table of joins (`member`, `sponsor`, `at`); returns one
    /// result row per input row. See the stub for the column types.
    fn apply_joins<'py>(&self, table: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = table.py();
        let (schema, batches) = read_table(table)?;
        let out = self.write(py, move |engine| {
            upline_arrow::apply_joins(engine, &schema, &batches)
        })?;
        table_out(py, out)
    }

    /// Applies a table of sales; with `lines`, returns `(results, lines)`.
    #[pyo3(signature = (table, *, lines = false))]
    fn apply_sales<'py>(
        &self,
        table: &Bound<'py, PyAny>,
        lines: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = table.py();
        let (schema, batches) = read_table(table)?;
        let (results, found) = self.write(py, move |engine| {
            upline_arrow::apply_sales(engine, &schema, &batches, lines)
        })?;
        let results = table_out(py, results)?;
        match found {
            Some(found) => Ok(PyTuple::new(py, [results, table_out(py, found)?])?.into_any()),
            None => Ok(results),
        }
    }

    /// Applies a table of refunds (`refund`, `sale`, `amount`, `at`).
    fn apply_refunds<'py>(&self, table: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = table.py();
        let (schema, batches) = read_table(table)?;
        let out = self.write(py, move |engine| {
            upline_arrow::apply_refunds(engine, &schema, &batches)
        })?;
        table_out(py, out)
    }
}

/// `decimal.Decimal(text)`.
fn decimal<'py>(py: Python<'py>, value: &Decimal) -> PyResult<Bound<'py, PyAny>> {
    py.import("decimal")?
        .getattr("Decimal")?
        .call1((value.to_string(),))
}

fn compared<'py>(
    py: Python<'py>,
    out: &Bound<'py, PyDict>,
    currency: &str,
    amounts: &Compared,
) -> PyResult<()> {
    out.set_item("currency", currency)?;
    out.set_item("in_force", decimal(py, &amounts.in_force)?)?;
    out.set_item("candidate", decimal(py, &amounts.candidate)?)?;
    out.set_item("difference", decimal(py, &amounts.difference())?)?;
    Ok(())
}

fn earner_rows<'py>(py: Python<'py>, rows: &[EarnerComparison]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for row in rows {
        let item = PyDict::new(py);
        item.set_item("earner", &*row.earner)?;
        compared(py, &item, row.currency.code(), &row.amounts)?;
        list.append(item)?;
    }
    Ok(list)
}

/// The summary dict of a what-if report (everything but the per-earner
/// rows, which are the table).
fn summary<'py>(py: Python<'py>, report: &WhatIfReport) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("sales", report.sales)?;
    out.set_item("sales_changed", report.sales_changed)?;
    out.set_item("sales_in_period", report.sales_in_period)?;
    out.set_item("sales_refused", report.sales_refused)?;
    let refused = PyList::empty(py);
    for (row, err) in &report.refused {
        let item = PyDict::new(py);
        item.set_item("row", row)?;
        item.set_item("code", err.code())?;
        item.set_item("field", err.field())?;
        item.set_item("message", err.message())?;
        refused.append(item)?;
    }
    out.set_item("refused", refused)?;
    out.set_item("complete", report.complete)?;
    let levels = PyList::empty(py);
    for level in &report.levels {
        let item = PyDict::new(py);
        item.set_item("level", level.level)?;
        compared(py, &item, level.currency.code(), &level.amounts)?;
        levels.append(item)?;
    }
    out.set_item("levels", levels)?;
    out.set_item("gains", earner_rows(py, &report.gains)?)?;
    out.set_item("losses", earner_rows(py, &report.losses)?)?;
    Ok(out)
}

/// A plan argument (a `Plan` or a plan dict) as a spec.
fn plan_spec(plan: &Bound<'_, PyAny>, field: &str) -> PyResult<PlanSpec> {
    let py = plan.py();
    let spec = conv(
        py,
        convert::to_json(plan, field, upline::wire::Root::PlanSpec),
    )?;
    serde_json::from_value(spec).map_err(|e| {
        raise(
            py,
            Error::new(ErrorKind::Malformed, field, format!("not a plan: {e}")),
        )
    })
}

/// A what-if progress callback: called with the GIL; only `False` stops
/// the run; an exception it raises stops it and is kept for the caller.
struct Progress {
    callback: Option<Py<PyAny>>,
    raised: Option<PyErr>,
}

impl Progress {
    fn new(progress: Option<Bound<'_, PyAny>>) -> PyResult<Progress> {
        if let Some(callback) = &progress {
            if !callback.is_callable() {
                return Err(raise(
                    callback.py(),
                    Error::new(
                        ErrorKind::Malformed,
                        "progress",
                        format!("progress must be callable, not {}", type_name(callback)),
                    ),
                ));
            }
        }
        Ok(Progress {
            callback: progress.map(Bound::unbind),
            raised: None,
        })
    }

    fn call(&mut self, done: u64, total: u64) -> bool {
        let Some(callback) = &self.callback else {
            return true;
        };
        Python::attach(|py| match callback.call1(py, (done, total)) {
            // Only `False` stops: a callback that returns nothing (None)
            // lets the run go on.
            Ok(answer) => !answer.bind(py).is(PyBool::new(py, false)),
            Err(err) => {
                self.raised = Some(err);
                false
            }
        })
    }

    /// `(table, summary)` for `report`, or what the callback raised.
    fn finish<'py>(self, py: Python<'py>, report: &WhatIfReport) -> PyResult<Bound<'py, PyTuple>> {
        if let Some(err) = self.raised {
            return Err(err);
        }
        let table = table_out(
            py,
            upline_arrow::what_if_batch(report).map_err(|e| raise(py, e))?,
        )?;
        PyTuple::new(py, [table, summary(py, report)?.into_any()])
    }
}

fn malformed_arg(py: Python<'_>, field: &str, message: &str) -> PyErr {
    raise(py, Error::new(ErrorKind::Malformed, field, message))
}

#[pymethods]
impl Engine {
    /// Replays the sales recorded in `[from_, to)`, or the sales table
    /// `sales`, under the candidate `plan`, calculation only; returns
    /// `(table, summary)`.
    #[pyo3(signature = (plan, from_=None, to=None, *, sales=None, progress=None, top=10, every=100_000))]
    #[allow(clippy::too_many_arguments)]
    fn what_if<'py>(
        &self,
        plan: &Bound<'py, PyAny>,
        from_: Option<&Bound<'py, PyAny>>,
        to: Option<&Bound<'py, PyAny>>,
        sales: Option<&Bound<'py, PyAny>>,
        progress: Option<Bound<'py, PyAny>>,
        top: usize,
        every: u64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let py = plan.py();
        let spec = plan_spec(plan, "plan")?;
        let options = WhatIfOptions { top, every };
        let from_ = from_.filter(|o| !o.is_none());
        let to = to.filter(|o| !o.is_none());
        let mut progress = Progress::new(progress)?;
        if let Some(sales) = sales.filter(|o| !o.is_none()) {
            if from_.is_some() || to.is_some() {
                let field = if from_.is_some() { "from_" } else { "to" };
                return Err(malformed_arg(
                    py,
                    field,
                    "from_ and to select the engine's own sales; with a sales table, \
                     leave them out (filter the table instead)",
                ));
            }
            let (schema, batches) = read_table_as(sales, "sales")?;
            let report = self.read(py, |engine| {
                let mut call = |done, total| progress.call(done, total);
                upline_arrow::what_if_sales(
                    engine,
                    &spec,
                    &schema,
                    &batches,
                    options,
                    Some(&mut call),
                )
            })?;
            return progress.finish(py, &report);
        }
        let (Some(from_), Some(to)) = (from_, to) else {
            let field = if from_.is_none() { "from_" } else { "to" };
            return Err(malformed_arg(
                py,
                field,
                "what_if needs from_ and to (the period of the engine's own sales), \
                 or a sales table as sales=",
            ));
        };
        let from = conv(py, convert::time_arg(from_, "from_"))?;
        let to = conv(py, convert::time_arg(to, "to"))?;
        let report = self.read(py, |engine| {
            let from = Timestamp::parse(&from, "from_")?;
            let to = Timestamp::parse(&to, "to")?;
            let mut call = |done, total| progress.call(done, total);
            engine.what_if(&spec, from, to, options, Some(&mut call))
        })?;
        progress.finish(py, &report)
    }
}

/// `upline.what_if(plan, *, members, sales, current=None, ...)`: what-if
/// with no engine (a throwaway one is built from the members table).
#[pyfunction]
#[pyo3(signature = (plan, *, members, sales, current=None, progress=None, top=10, every=100_000))]
#[allow(clippy::too_many_arguments)]
pub fn what_if<'py>(
    plan: &Bound<'py, PyAny>,
    members: &Bound<'py, PyAny>,
    sales: &Bound<'py, PyAny>,
    current: Option<&Bound<'py, PyAny>>,
    progress: Option<Bound<'py, PyAny>>,
    top: usize,
    every: u64,
) -> PyResult<Bound<'py, PyTuple>> {
    let py = plan.py();
    let spec = plan_spec(plan, "plan")?;
    let current = match current.filter(|o| !o.is_none()) {
        Some(current) => Some(plan_spec(current, "current")?),
        None => None,
    };
    let mut progress = Progress::new(progress)?;
    let members = read_table_as(members, "members")?;
    let sales = read_table_as(sales, "sales")?;
    let options = WhatIfOptions { top, every };
    let report = crate::guard::call(py, || {
        let mut call = |done, total| progress.call(done, total);
        upline_arrow::what_if_members(
            &spec,
            current.as_ref(),
            (&members.0, &members.1),
            (&sales.0, &sales.1),
            options,
            Some(&mut call),
        )
    })?;
    progress.finish(py, &report)
}
