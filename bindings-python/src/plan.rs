//! `upline.Plan`: a plan validated by the core.

use pyo3::prelude::*;
use pyo3::types::PyType;

use upline::wire::Root;
use upline::{Currencies, Error, ErrorKind, PlanSpec};

use crate::convert;
use crate::guard;

/// A commission plan, validated by the core (an `InvalidPlan`,
/// `InvalidAmount`, … on any broken rule, naming the field).
#[pyclass(module = "upline", frozen)]
pub struct Plan {
    spec: PlanSpec,
    value: serde_json::Value,
}

impl Plan {
    pub fn spec_value(&self) -> serde_json::Value {
        self.value.clone()
    }

    fn from_value(value: serde_json::Value) -> upline::Result<Plan> {
        let spec: PlanSpec = serde_json::from_value(value)
            .map_err(|e| Error::general(ErrorKind::Malformed, format!("undecodable plan: {e}")))?;
        spec.validate(&Currencies::default())?;
        let value = serde_json::to_value(&spec)
            .map_err(|e| Error::general(ErrorKind::Internal, e.to_string()))?;
        Ok(Plan { spec, value })
    }
}

#[pymethods]
impl Plan {
    /// Validates a plan given as a dict (the wire form, amounts as Decimal,
    /// int or str).
    #[classmethod]
    fn from_dict(_cls: &Bound<'_, PyType>, plan: &Bound<'_, PyAny>) -> PyResult<Plan> {
        let py = plan.py();
        let value = convert::to_json(plan, "", Root::PlanSpec).map_err(|e| e.into_py(py))?;
        guard::call(py, move || Plan::from_value(value))
    }

    /// Validates a plan given as JSON text.
    #[classmethod]
    fn from_json(cls: &Bound<'_, PyType>, text: String) -> PyResult<Plan> {
        let py = cls.py();
        guard::call(py, move || {
            if text.len() > upline::limits::MAX_JSON_BYTES {
                return Err(Error::general(
                    ErrorKind::LimitExceeded,
                    format!(
                        "the JSON input is {} bytes; the limit is {}",
                        text.len(),
                        upline::limits::MAX_JSON_BYTES
                    ),
                ));
            }
            let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                Error::general(ErrorKind::Malformed, format!("undecodable plan: {e}"))
            })?;
            Plan::from_value(value)
        })
    }

    /// The plan's id.
    #[getter]
    fn id(&self) -> &str {
        &self.spec.id
    }

    /// The plan's version.
    #[getter]
    fn version(&self) -> u32 {
        self.spec.version
    }

    /// The plan as a dict (amounts and rates as Decimal).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_py(py, &self.value, Root::PlanSpec)
    }

    /// The plan as compact JSON text.
    fn to_json(&self) -> String {
        self.value.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Plan(id={:?}, version={})", self.spec.id, self.spec.version)
    }
}
