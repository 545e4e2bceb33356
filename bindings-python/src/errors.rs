//! Core errors → Python exceptions.
//!
//! `UplineError` is the base (made with `create_exception!`). Each
//! `upline::ErrorKind` gets one subclass, named by its code in CamelCase
//! (`invalid_amount` → `InvalidAmount`). Kinds whose Python meaning is "a bad
//! value" also subclass `ValueError`, and `unknown_*` kinds also subclass
//! `KeyError`. `create_exception!` takes a single base, so the subclasses
//! are made at import time with `type(name, bases, namespace)` from the list
//! `upline::ErrorKind::ALL`; a kind added to the core gets its class
//! without a change here.

use std::borrow::Cow;

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

use upline::{Error, ErrorKind};

create_exception!(
    upline,
    UplineError,
    PyException,
    "Base of every error Upline raises: `.code` (stable snake_case), `.field` (the input's path, or None), `.message`."
);

/// One exception class per error kind, in the order of `ErrorKind::ALL`.
static CLASSES: PyOnceLock<Vec<(&'static str, Py<PyType>)>> = PyOnceLock::new();

/// `invalid_amount` → `InvalidAmount`.
pub fn class_name(code: &str) -> String {
    code.split('_')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn extra_base<'py>(py: Python<'py>, code: &str) -> Option<Bound<'py, PyType>> {
    if code.starts_with("invalid_") || code == "malformed" {
        Some(py.get_type::<PyValueError>())
    } else if code.starts_with("unknown_") {
        Some(py.get_type::<PyKeyError>())
    } else {
        None
    }
}

fn build(py: Python<'_>) -> PyResult<Vec<(&'static str, Py<PyType>)>> {
    let base = py.get_type::<UplineError>();
    let type_type = py.get_type::<PyType>();
    let mut out = Vec::with_capacity(ErrorKind::ALL.len());
    for kind in ErrorKind::ALL {
        let code = kind.code();
        let name = class_name(code);
        let extra = extra_base(py, code);
        let bases = match &extra {
            Some(extra) => PyTuple::new(py, [base.clone(), extra.clone()])?,
            None => PyTuple::new(py, [base.clone()])?,
        };
        let namespace = PyDict::new(py);
        namespace.set_item("__module__", "upline")?;
        namespace.set_item("__qualname__", &name)?;
        namespace.set_item("code", code)?;
        namespace.set_item(
            "__doc__",
            format!("Upline error with code {code:?} (see upline.UplineError)."),
        )?;
        if code.starts_with("unknown_") {
            // KeyError quotes its message in str(); keep the plain text.
            let exc_str = py.get_type::<PyException>().getattr("__str__")?;
            namespace.set_item("__str__", exc_str)?;
        }
        let class = type_type.call1((name, bases, namespace))?;
        out.push((code, class.cast_into::<PyType>()?.unbind()));
    }
    Ok(out)
}

/// Adds `UplineError` and every subclass to the module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let base = py.get_type::<UplineError>();
    base.setattr("code", "internal")?;
    base.setattr("field", py.None())?;
    base.setattr("message", "")?;
    module.add("UplineError", base)?;
    let classes = CLASSES.get_or_try_init(py, || build(py))?;
    for (code, class) in classes {
        module.add(class_name(code).as_str(), class.clone_ref(py))?;
    }
    let codes: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
    module.add("ERROR_CODES", PyTuple::new(py, codes)?)?;
    Ok(())
}

fn class_for<'py>(py: Python<'py>, code: &str) -> Bound<'py, PyType> {
    CLASSES
        .get(py)
        .and_then(|classes| classes.iter().find(|(c, _)| *c == code))
        .map(|(_, class)| class.bind(py).clone())
        .unwrap_or_else(|| py.get_type::<UplineError>())
}

/// The Python exception for a core error: the kind's class, with `.code`,
/// `.field` and `.message` set; `str(e)` is `"code: message"`.
pub fn to_py(py: Python<'_>, err: &Error) -> PyErr {
    match instance(py, err) {
        Ok(exc) => PyErr::from_value(exc),
        Err(failure) => failure,
    }
}

fn instance<'py>(py: Python<'py>, err: &Error) -> PyResult<Bound<'py, PyAny>> {
    let class = class_for(py, err.code());
    let exc = class.call1((err.to_string(),))?;
    exc.setattr("code", err.code())?;
    exc.setattr("field", err.field())?;
    exc.setattr("message", err.message())?;
    Ok(exc)
}

/// The `{"code", "message", "field"}` form of an error (batch slots).
pub fn to_dict<'py>(py: Python<'py>, err: &Error) -> PyResult<Bound<'py, PyDict>> {
    let inner = PyDict::new(py);
    inner.set_item("code", err.code())?;
    inner.set_item("message", err.message())?;
    inner.set_item("field", err.field())?;
    let outer = PyDict::new(py);
    outer.set_item("error", inner)?;
    Ok(outer)
}

/// The text of a panic payload.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> Cow<'_, str> {
    if let Some(s) = payload.downcast_ref::<&str>() {
        Cow::Borrowed(s)
    } else if let Some(s) = payload.downcast_ref::<String>() {
        Cow::Borrowed(s.as_str())
    } else {
        Cow::Borrowed("a panic without a message")
    }
}

/// A panic caught at the binding's edge, as an `internal` error.
pub fn internal_from_panic(payload: &(dyn std::any::Any + Send)) -> Error {
    Error::general(
        ErrorKind::Internal,
        format!(
            "a bug in Upline (panic: {}); please report it",
            panic_text(payload)
        ),
    )
}
