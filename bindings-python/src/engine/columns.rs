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
    let py = table.py();
    let bad = |why: String| {
        raise(
            py,
            Error::new(
                ErrorKind::Malformed,
                "table",
                format!(
                    "table must be an Arrow table or record batch (an object with \
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

#[pymethods]
impl Engine {
    /// Replays the sales recorded in `[from_, to)` under the candidate
    /// `plan`, calculation only; returns `(table, summary)`.
    #[pyo3(signature = (plan, from_, to, *, progress=None, top=10, every=100_000))]
    fn what_if<'py>(
        &self,
        plan: &Bound<'py, PyAny>,
        from_: &Bound<'py, PyAny>,
        to: &Bound<'py, PyAny>,
        progress: Option<Bound<'py, PyAny>>,
        top: usize,
        every: u64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let py = plan.py();
        let spec = conv(
            py,
            convert::to_json(plan, "plan", upline::wire::Root::PlanSpec),
        )?;
        let spec: PlanSpec = serde_json::from_value(spec).map_err(|e| {
            raise(
                py,
                Error::new(ErrorKind::Malformed, "plan", format!("not a plan: {e}")),
            )
        })?;
        let from = conv(py, convert::time_arg(from_, "from_"))?;
        let to = conv(py, convert::time_arg(to, "to"))?;
        if let Some(callback) = &progress {
            if !callback.is_callable() {
                return Err(raise(
                    py,
                    Error::new(
                        ErrorKind::Malformed,
                        "progress",
                        format!("progress must be callable, not {}", type_name(callback)),
                    ),
                ));
            }
        }
        let callback: Option<Py<PyAny>> = progress.map(Bound::unbind);
        let mut raised: Option<PyErr> = None;
        let report = self.read(py, |engine| {
            let from = Timestamp::parse(&from, "from_")?;
            let to = Timestamp::parse(&to, "to")?;
            let mut call = |done: u64, total: u64| -> bool {
                let Some(callback) = &callback else {
                    return true;
                };
                Python::attach(|py| match callback.call1(py, (done, total)) {
                    // Only `False` stops: a callback that returns
                    // nothing (None) lets the run go on.
                    Ok(answer) => !answer.bind(py).is(PyBool::new(py, false)),
                    Err(err) => {
                        raised = Some(err);
                        false
                    }
                })
            };
            let options = WhatIfOptions { top, every };
            engine.what_if(&spec, from, to, options, Some(&mut call))
        })?;
        if let Some(err) = raised {
            return Err(err);
        }
        let table = table_out(
            py,
            upline_arrow::what_if_batch(&report).map_err(|e| raise(py, e))?,
        )?;
        PyTuple::new(py, [table, summary(py, &report)?.into_any()])
    }
}
