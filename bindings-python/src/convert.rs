//! Python values ↔ the core's JSON form. No business rule lives here: the
//! conversions only refuse what JSON cannot carry faithfully (floats,
//! non-finite decimals, naive datetimes, foreign types).
//!
//! In:
//! - `dict` (str keys) / `list` / `tuple` / `str` / `int` / `bool` / `None` → JSON;
//! - `decimal.Decimal` → its plain decimal string (scale kept, no exponent);
//!   NaN and infinities → `invalid_amount`;
//! - `float` anywhere → `invalid_amount` naming the field path, never converted;
//! - `int` at a money or rate key (`amount`, `rate`, `flat`, `percent`, and
//!   the values inside `caps`, `min_sale`, `minimum`) → its decimal string;
//!   other ints stay JSON integers;
//! - aware `datetime` → RFC 3339; a naive one → `invalid_time`;
//! - an `upline.Plan` → its plan object;
//! - anything else → `malformed`.
//!
//! Out: JSON → Python, where strings at money keys become `Decimal` (scale
//! kept) and strings at time keys become aware UTC `datetime`s.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use serde_json::{Map, Number, Value};

use upline::{Error, ErrorKind, Timestamp};

/// Deepest nesting accepted on input (no event needs more than a handful).
pub const MAX_INPUT_DEPTH: usize = 64;
/// Deepest nesting converted on output (subtree exports of deep chains).
pub const MAX_OUTPUT_DEPTH: usize = 2048;

/// Keys whose values are money or rates.
const MONEY_KEYS_IN: &[&str] = &["amount", "rate", "flat", "percent"];
/// Keys whose object values map a currency to money.
const MONEY_MAPS_IN: &[&str] = &["caps", "min_sale", "minimum"];
const MONEY_KEYS_OUT: &[&str] = &[
    "amount",
    "base",
    "retained",
    "refunded_total",
    "gross",
    "fee",
    "net",
    "pending",
    "available",
    "held",
    "reserved",
    "paid",
    "earned",
    "rate",
    "remaining",
    // rewards and metrics
    "value",
    "threshold",
    "target",
    "total",
    "progress",
    "lifetime",
    "period",
];
/// Keys whose object values map a currency to money.
const MONEY_MAPS_OUT: &[&str] = &[
    "earnings",
    "held",
    "blocked",
    "reviewed",
    "held_difference",
    "blocked_difference",
];
const TIME_KEYS_OUT: &[&str] = &[
    "at",
    "as_of",
    "available_at",
    "effective_from",
    "from",
    "to",
    "reached_at",
    "joined_at",
    "start",
    "window",
];

/// A conversion failure: a typed Upline error, or a Python exception
/// raised by a Python object while it was read.
pub enum ConvError {
    Upline(Error),
    Py(PyErr),
}

impl From<PyErr> for ConvError {
    fn from(e: PyErr) -> Self {
        ConvError::Py(e)
    }
}

impl ConvError {
    pub fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            ConvError::Upline(e) => crate::errors::to_py(py, &e),
            ConvError::Py(e) => e,
        }
    }
}

type ConvResult<T> = Result<T, ConvError>;

fn fail<T>(kind: ErrorKind, field: &str, message: String) -> ConvResult<T> {
    Err(ConvError::Upline(if field.is_empty() {
        Error::general(kind, message)
    } else {
        Error::new(kind, field, message)
    }))
}

struct Types {
    decimal: Py<PyType>,
    datetime: Py<PyType>,
    timedelta: Py<PyType>,
    epoch: Py<PyAny>,
}

static TYPES: PyOnceLock<Types> = PyOnceLock::new();

fn types(py: Python<'_>) -> PyResult<&Types> {
    TYPES.get_or_try_init(py, || {
        let decimal = py
            .import("decimal")?
            .getattr("Decimal")?
            .cast_into::<PyType>()?;
        let dt = py.import("datetime")?;
        let datetime = dt.getattr("datetime")?.cast_into::<PyType>()?;
        let timedelta = dt.getattr("timedelta")?.cast_into::<PyType>()?;
        let utc = dt.getattr("timezone")?.getattr("utc")?;
        let epoch = datetime.call1((1970, 1, 1, 0, 0, 0, 0, utc))?;
        Ok(Types {
            decimal: decimal.unbind(),
            datetime: datetime.unbind(),
            timedelta: timedelta.unbind(),
            epoch: epoch.unbind(),
        })
    })
}

fn describe(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn shown(path: &str) -> &str {
    if path.is_empty() {
        "the value"
    } else {
        path
    }
}

/// Converts a Python value to JSON. `path` names it in errors; `money`
/// says whether an `int` here is an amount or a rate.
pub fn to_json(obj: &Bound<'_, PyAny>, path: &str) -> ConvResult<Value> {
    let types = types(obj.py())?;
    value(obj, path, false, 0, types)
}

fn value(
    obj: &Bound<'_, PyAny>,
    path: &str,
    money: bool,
    depth: usize,
    types: &Types,
) -> ConvResult<Value> {
    let py = obj.py();
    if depth > MAX_INPUT_DEPTH {
        return fail(
            ErrorKind::LimitExceeded,
            path,
            format!(
                "{} is nested deeper than {MAX_INPUT_DEPTH} levels",
                shown(path)
            ),
        );
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        // Passed through: the core refuses a bool where money is expected.
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if money {
            return match obj.extract::<i128>() {
                Ok(n) => Ok(Value::String(n.to_string())),
                Err(_) => fail(
                    ErrorKind::InvalidAmount,
                    path,
                    format!("{} is an integer too large for an amount", shown(path)),
                ),
            };
        }
        if let Ok(n) = obj.extract::<i64>() {
            return Ok(Value::Number(Number::from(n)));
        }
        if let Ok(n) = obj.extract::<u64>() {
            return Ok(Value::Number(Number::from(n)));
        }
        return fail(
            ErrorKind::Malformed,
            path,
            format!("{} is an integer out of the 64-bit range", shown(path)),
        );
    }
    if obj.is_instance_of::<PyFloat>() {
        return fail(
            ErrorKind::InvalidAmount,
            path,
            format!(
                "{} is the float {}; floats are never accepted (money must be exact): \
                 pass a decimal.Decimal, an int or a decimal string",
                shown(path),
                obj.repr().map(|r| r.to_string()).unwrap_or_default()
            ),
        );
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut map = Map::new();
        let money_map = MONEY_MAPS_IN.iter().any(|k| path_ends_with_key(path, k));
        for (k, v) in dict.iter() {
            let Ok(key) = k.cast::<PyString>() else {
                return fail(
                    ErrorKind::Malformed,
                    path,
                    format!(
                        "{} has a key of type {}; keys must be str",
                        shown(path),
                        describe(&k)
                    ),
                );
            };
            let key = key.to_cow()?;
            let key: &str = &key;
            let sub = child(path, key);
            let is_money = money_map || MONEY_KEYS_IN.contains(&key);
            map.insert(
                key.to_string(),
                value(&v, &sub, is_money, depth + 1, types)?,
            );
        }
        return Ok(Value::Object(map));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for (i, item) in obj.try_iter()?.enumerate() {
            let item = item?;
            out.push(value(
                &item,
                &format!("{path}[{i}]"),
                money,
                depth + 1,
                types,
            )?);
        }
        return Ok(Value::Array(out));
    }
    if obj.is_instance(types.decimal.bind(py))? {
        return Ok(Value::String(decimal_text(obj, path)?));
    }
    if obj.is_instance(types.datetime.bind(py))? {
        return Ok(Value::String(datetime_text(obj, path)?));
    }
    if let Ok(plan) = obj.cast::<crate::plan::Plan>() {
        return Ok(plan.get().spec_value());
    }
    fail(
        ErrorKind::Malformed,
        path,
        format!(
            "{} is of type {}, which Upline does not accept (use dict, list, str, int, \
             bool, None, decimal.Decimal or an aware datetime)",
            shown(path),
            describe(obj)
        ),
    )
}

/// Whether the last segment of `path` is the key `key`.
fn path_ends_with_key(path: &str, key: &str) -> bool {
    path == key || path.ends_with(&format!(".{key}"))
}

/// A `Decimal` as a plain decimal string, keeping its scale.
fn decimal_text(obj: &Bound<'_, PyAny>, path: &str) -> ConvResult<String> {
    if !obj.call_method0("is_finite")?.is_truthy()? {
        return fail(
            ErrorKind::InvalidAmount,
            path,
            format!(
                "{} is {}, not a finite amount",
                shown(path),
                obj.str().map(|s| s.to_string()).unwrap_or_default()
            ),
        );
    }
    // Refuse absurd exponents before formatting (Decimal('1E+999999') would
    // print a million digits); the core limits the text's length anyway.
    let adjusted: i64 = obj.call_method0("adjusted")?.extract()?;
    let exponent: i64 = obj
        .getattr("as_tuple")?
        .call0()?
        .getattr("exponent")?
        .extract()?;
    if !(-64..=64).contains(&adjusted) || !(-64..=64).contains(&exponent) {
        return fail(
            ErrorKind::InvalidAmount,
            path,
            format!("{} is out of the range of amounts", shown(path)),
        );
    }
    Ok(obj
        .call_method1("__format__", ("f",))?
        .extract::<String>()?)
}

/// An aware `datetime` as RFC 3339 (the core truncates below a millisecond).
fn datetime_text(obj: &Bound<'_, PyAny>, path: &str) -> ConvResult<String> {
    if obj.call_method0("utcoffset")?.is_none() {
        return fail(
            ErrorKind::InvalidTime,
            path,
            format!(
                "{} is a naive datetime ({}); pass a timezone-aware one \
                 (e.g. tzinfo=datetime.timezone.utc)",
                shown(path),
                obj.str().map(|s| s.to_string()).unwrap_or_default()
            ),
        );
    }
    Ok(obj.call_method0("isoformat")?.extract::<String>()?)
}

/// A time argument (`as_of`): an aware `datetime` or an RFC 3339 string.
pub fn time_arg(obj: &Bound<'_, PyAny>, field: &str) -> ConvResult<String> {
    let types = types(obj.py())?;
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if obj.is_instance(types.datetime.bind(obj.py()))? {
        return datetime_text(obj, field);
    }
    fail(
        ErrorKind::InvalidTime,
        field,
        format!(
            "{field} is of type {}; pass an aware datetime or an RFC 3339 string",
            describe(obj)
        ),
    )
}

/// A money argument (`thresholds[...]`): Decimal, int or decimal string.
pub fn money_arg(obj: &Bound<'_, PyAny>, field: &str) -> ConvResult<String> {
    let types = types(obj.py())?;
    match value(obj, field, true, 0, types)? {
        Value::String(s) => Ok(s),
        _ => fail(
            ErrorKind::InvalidAmount,
            field,
            format!(
                "{field} is of type {}; pass a decimal.Decimal, an int or a decimal string",
                describe(obj)
            ),
        ),
    }
}

/// Converts core JSON to Python.
pub fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    let types = types(py)?;
    out(py, v, None, 0, types)
}

fn out<'py>(
    py: Python<'py>,
    v: &Value,
    key: Option<&str>,
    depth: usize,
    types: &Types,
) -> PyResult<Bound<'py, PyAny>> {
    if depth > MAX_OUTPUT_DEPTH {
        return Err(crate::errors::to_py(
            py,
            &Error::general(
                ErrorKind::LimitExceeded,
                format!(
                    "a result nested deeper than {MAX_OUTPUT_DEPTH} levels (ask for less depth)"
                ),
            ),
        ));
    }
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else if let Some(f) = n.as_f64() {
                // Only statistics (viral coefficient, projections) are
                // floats; money never is.
                f.into_pyobject(py)?.into_any()
            } else {
                PyString::new(py, &n.to_string()).into_any()
            }
        }
        Value::String(s) => match key {
            Some(k) if MONEY_KEYS_OUT.contains(&k) => {
                types.decimal.bind(py).call1((s.as_str(),))?
            }
            Some(k) if TIME_KEYS_OUT.contains(&k) => time_out(py, s, types)?,
            _ => PyString::new(py, s).into_any(),
        },
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                // A list's strings keep its key (money or times); a list's
                // objects do not: `{"USD": "1.00"}` maps are money only
                // directly under their key, not as rows of a list (member
                // metrics' `earnings` rows are objects with a `currency`).
                let item_key = if item.is_object() { None } else { key };
                list.append(out(py, item, item_key, depth + 1, types)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            // `{"USD": "15.00"}` maps (earnings on exported nodes): the
            // values are money whatever the currency key.
            let money_map = key.is_some_and(|k| MONEY_MAPS_OUT.contains(&k));
            for (k, item) in map {
                let child_key = if money_map { "amount" } else { k.as_str() };
                dict.set_item(k, out(py, item, Some(child_key), depth + 1, types)?)?;
            }
            dict.into_any()
        }
    })
}

fn time_out<'py>(py: Python<'py>, text: &str, types: &Types) -> PyResult<Bound<'py, PyAny>> {
    match Timestamp::parse(text, "time") {
        Ok(t) => {
            let delta = types.timedelta.bind(py).call(
                (),
                Some(&[("milliseconds", t.as_millis())].into_py_dict(py)?),
            )?;
            types.epoch.bind(py).call_method1("__add__", (delta,))
        }
        Err(_) => Ok(PyString::new(py, text).into_any()),
    }
}

use pyo3::types::IntoPyDict;
