//! Python binding of Upline (`import upline`): a thin PyO3 layer. Every
//! rule lives in the core; this crate converts values and errors only.
//! Documentation of the Python API is in `python/upline/__init__.pyi`.

use pyo3::prelude::*;

mod convert;
mod engine;
mod errors;
mod export;
mod guard;
mod plan;
mod screen;

#[pymodule]
fn _upline(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_class::<engine::Engine>()?;
    m.add_class::<plan::Plan>()?;
    m.add_function(wrap_pyfunction!(screen::backtest, m)?)?;
    m.add_function(wrap_pyfunction!(screen::screening_preset, m)?)?;
    m.add_function(wrap_pyfunction!(engine::what_if, m)?)?;
    Ok(())
}
