//! Reading the books from Python: `Engine.statement` and
//! `Engine.tax_summary_csv` (and the year and thresholds arguments they
//! share with `Engine.tax_summary`). Conversion only; the rules are in
//! the core (`upline::statement`).

use std::collections::BTreeMap;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt};
use upline::wire::Root;
use upline::{Error, ErrorKind, StatementQuery};

use super::{conv, json_of, opt_count, opt_str, opt_time, raise, str_arg, type_name, Engine};
use crate::convert;

/// The keyword arguments of `Engine.statement`, as given.
pub(super) struct StatementArgs<'a, 'py> {
    pub currency: Option<&'a Bound<'py, PyAny>>,
    pub from: Option<&'a Bound<'py, PyAny>>,
    pub to: Option<&'a Bound<'py, PyAny>>,
    pub as_of: Option<&'a Bound<'py, PyAny>>,
    pub after: Option<&'a Bound<'py, PyAny>>,
    pub limit: Option<&'a Bound<'py, PyAny>>,
}

pub(super) fn statement<'py>(
    engine: &Engine,
    member: &Bound<'py, PyAny>,
    args: StatementArgs<'_, 'py>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = member.py();
    let member = str_arg(member, "member")?;
    let query = StatementQuery {
        currency: opt_str(args.currency, "currency")?,
        from: opt_time(args.from, "from")?,
        to: opt_time(args.to, "to")?,
        as_of: opt_time(args.as_of, "as_of")?,
        after: opt_str(args.after, "after")?,
        limit: opt_count(args.limit, "limit", upline::limits::DEFAULT_STATEMENT_PAGE)?,
    };
    let value = engine.read(py, move |e| json_of(e.statement(&member, &query)?))?;
    convert::to_py(py, &value, Root::Statement)
}

/// `year` (an `int`) and `thresholds` (a dict of currency → money).
pub(super) fn year_and_thresholds(
    year: &Bound<'_, PyAny>,
    thresholds: Option<&Bound<'_, PyAny>>,
) -> PyResult<(i32, BTreeMap<String, String>)> {
    let py = year.py();
    if year.is_instance_of::<PyBool>() || !year.is_instance_of::<PyInt>() {
        return Err(raise(
            py,
            Error::new(
                ErrorKind::Malformed,
                "year",
                format!("year must be an int, not {}", type_name(year)),
            ),
        ));
    }
    let year: i32 = year
        .extract::<i64>()
        .ok()
        .and_then(|y| i32::try_from(y).ok())
        .unwrap_or(i32::MAX);
    let mut limits = BTreeMap::new();
    if let Some(t) = thresholds.filter(|t| !t.is_none()) {
        let Ok(dict) = t.cast::<PyDict>() else {
            return Err(raise(
                py,
                Error::new(
                    ErrorKind::Malformed,
                    "thresholds",
                    format!("thresholds must be a dict, not {}", type_name(t)),
                ),
            ));
        };
        for (k, v) in dict.iter() {
            let code = str_arg(&k, "thresholds")?;
            let field = format!("thresholds.{code}");
            let amount = conv(py, convert::money_arg(&v, &field))?;
            limits.insert(code, amount);
        }
    }
    Ok((year, limits))
}

pub(super) fn tax_summary_csv(
    engine: &Engine,
    year: &Bound<'_, PyAny>,
    thresholds: Option<&Bound<'_, PyAny>>,
) -> PyResult<String> {
    let py = year.py();
    let (year, limits) = year_and_thresholds(year, thresholds)?;
    engine.read(py, move |e| e.tax_summary_csv(year, &limits))
}
