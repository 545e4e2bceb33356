//! Module functions of fraud screening: `upline.backtest` and
//! `upline.screening_preset`.

use pyo3::prelude::*;
use pyo3::types::PyString;
use serde_json::Value;
use upline::wire::Root;
use upline::{Error, ErrorKind};

use crate::convert;
use crate::engine::{conv, event_list};
use crate::guard;

fn internal(e: serde_json::Error) -> Error {
    Error::general(ErrorKind::Internal, e.to_string())
}

/// Replays `history` (a list of event dicts, or the JSON text of an event
/// array) under the `candidate` screening rules (a `screening_rules_set`
/// dict, `type` optional) and reports what they would hold, block and flag
/// per rule, against the rules in force. Changes nothing.
#[pyfunction]
pub fn backtest<'py>(
    history: &Bound<'py, PyAny>,
    candidate: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = history.py();
    let history: String = match history.cast::<PyString>() {
        Ok(text) => text.to_cow()?.into_owned(),
        Err(_) => {
            let events = event_list(history)?;
            serde_json::to_string(&events).map_err(|e| crate::errors::to_py(py, &internal(e)))?
        }
    };
    let candidate = conv(
        py,
        convert::to_json(candidate, "candidate", Root::ScreeningRulesSet),
    )?;
    let candidate = candidate.to_string();
    let report = guard::call(py, move || {
        let text = upline::backtest_json(&history, &candidate)?;
        serde_json::from_str::<Value>(&text).map_err(internal)
    })?;
    convert::to_py(py, &report, Root::BacktestReport)
}

/// The rules of a screening preset (`relaxed`, `moderate`, `strict`) as a
/// list of rule dicts, or None for an unknown name.
#[pyfunction]
pub fn screening_preset<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    match upline::screen::preset(name) {
        Some(rules) => convert::to_py(py, &rules, Root::ScreeningRules),
        None => Ok(py.None().into_bound(py)),
    }
}
