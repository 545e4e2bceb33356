//! Every call into the core runs here: without the GIL (`py.detach`) and
//! inside `catch_unwind`, so a panic becomes an `internal` error instead of
//! reaching Python.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::prelude::*;

use crate::errors;

/// Runs `f` without the GIL; a core error or a panic becomes the matching
/// Python exception.
pub fn call<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: FnOnce() -> upline::Result<T> + Send,
    T: Send,
{
    let result = py.detach(|| run(f));
    result.map_err(|e| errors::to_py(py, &e))
}

/// `f` with panics caught and turned into `internal` errors.
pub fn run<T>(f: impl FnOnce() -> upline::Result<T>) -> upline::Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(errors::internal_from_panic(payload.as_ref())),
    }
}
