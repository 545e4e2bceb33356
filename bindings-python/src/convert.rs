//! Python values ↔ the core's JSON form. No business rule lives here: the
//! conversions only refuse what JSON cannot carry faithfully (floats,
//! non-finite decimals, naive datetimes, foreign types).
//!
//! In:
//! - `dict` (str keys) / `list` / `tuple` / `str` / `int` / `bool` / `None` → JSON;
//! - `decimal.Decimal` → its plain decimal string (scale kept, no exponent);
//!   NaN and infinities → `invalid_amount`;
//! - `float` anywhere → `invalid_amount` naming the field path, never converted;
//! - `int` where the declared type ([`upline::wire::Shape`]) is money or a
//!   rate → its decimal string; other ints stay JSON integers;
//! - aware `datetime` → RFC 3339; a naive one → `invalid_time`;
//! - an `upline.Plan` → its plan object;
//! - anything else → `malformed`.
//!
//! Out: JSON → Python, where strings whose declared type is money become
//! `Decimal` (scale kept) and strings whose declared type is a time become
//! aware UTC `datetime`s, at any depth. No key name is looked at: the shape
//! of each result type is generated from the Rust types (`upline::wire`),
//! and a field that is not money is never converted, whatever its name.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use serde_json::{Map, Number, Value};

use upline::wire::{Root, Shape};
use upline::{Error, ErrorKind, Timestamp};

/// Deepest nesting accepted on input (no event needs more than a handful).
pub const MAX_INPUT_DEPTH: usize = 64;
/// Deepest nesting converted on output (subtree exports of deep chains).
pub const MAX_OUTPUT_DEPTH: usize = 2048;

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

/// Converts a Python value, given as the wire type `root`, to JSON. `path`
/// names it in errors.
pub fn to_json(obj: &Bound<'_, PyAny>, path: &str, root: Root) -> ConvResult<Value> {
    let types = types(obj.py())?;
    value(obj, path, Shape::of(root), 0, types)
}

/// The variant of a tagged shape a dict is (by its tag's value).
fn dict_variant(dict: &Bound<'_, PyDict>, shape: Shape) -> PyResult<Shape> {
    let Some(tag) = shape.tag() else {
        return Ok(shape);
    };
    let value = dict.get_item(tag)?;
    let text = value.as_ref().and_then(|v| v.cast::<PyString>().ok());
    let text = match text {
        Some(t) => Some(t.to_cow()?.into_owned()),
        None => None,
    };
    Ok(shape.variant(text.as_deref()))
}

fn value(
    obj: &Bound<'_, PyAny>,
    path: &str,
    shape: Shape,
    depth: usize,
    types: &Types,
) -> ConvResult<Value> {
    let py = obj.py();
    let money = shape.is_money();
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
    if obj.is_instance_of::<PyFloat>() && shape.is_time() {
        return fail(
            ErrorKind::InvalidTime,
            path,
            format!(
                "{} is the float {}; a time is an aware datetime or an RFC 3339 string",
                shown(path),
                obj.repr().map(|r| r.to_string()).unwrap_or_default()
            ),
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
        let shape = dict_variant(dict, shape)?;
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
            map.insert(
                key.to_string(),
                value(&v, &sub, shape.field(key), depth + 1, types)?,
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
                shape.item(),
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
    match value(obj, field, Shape::money(), 0, types)? {
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

/// Converts core JSON, the wire form of `root`, to Python.
pub fn to_py<'py>(py: Python<'py>, v: &Value, root: Root) -> PyResult<Bound<'py, PyAny>> {
    let types = types(py)?;
    out(py, v, Shape::of(root), 0, types)
}

fn out<'py>(
    py: Python<'py>,
    v: &Value,
    shape: Shape,
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
        Value::String(s) if shape.is_money() => types.decimal.bind(py).call1((s.as_str(),))?,
        Value::String(s) if shape.is_time() => time_out(py, s, types)?,
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            let item = shape.item();
            for v in items {
                list.append(out(py, v, item, depth + 1, types)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            let shape = match shape.tag() {
                Some(tag) => shape.variant(map.get(tag).and_then(Value::as_str)),
                None => shape,
            };
            for (k, v) in map {
                dict.set_item(k, out(py, v, shape.field(k), depth + 1, types)?)?;
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
