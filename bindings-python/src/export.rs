//! `Engine.export_ledger`: the core's ledger export (JSON Lines or CSV) to
//! a path or a Python file object (binary or text). The export runs without
//! the GIL; writes to a file object take it back for each chunk (about
//! 64 KiB, whole lines).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyInt, PyString};
use upline::{Error, ErrorKind, ExportFormat};

use crate::engine::Engine;

/// Where the export goes.
enum Target {
    Path(String),
    File { file: Py<PyAny>, text: bool },
}

pub(crate) fn export_ledger<'py>(
    engine: &Engine,
    target: &Bound<'py, PyAny>,
    format: &str,
    from_seq: Option<&Bound<'py, PyAny>>,
    to_seq: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = target.py();
    let raise = |err: Error| crate::errors::to_py(py, &err);
    let format = ExportFormat::parse(format).map_err(raise)?;
    let from_seq = seq_arg(from_seq, "from_seq")?;
    let to_seq = seq_arg(to_seq, "to_seq")?;
    let target = if target.hasattr("write")? {
        let text = target.is_instance(&py.import("io")?.getattr("TextIOBase")?)?;
        Target::File {
            file: target.clone().unbind(),
            text,
        }
    } else {
        let fspath = py
            .import("os")?
            .getattr("fspath")?
            .call1((target,))
            .map_err(|_| {
                raise(Error::new(
                    ErrorKind::Malformed,
                    "path_or_file",
                    "path_or_file must be a str, an os.PathLike or a file object with write()",
                ))
            })?;
        match fspath.cast::<PyString>() {
            Ok(path) => Target::Path(path.to_cow()?.into_owned()),
            Err(_) => {
                return Err(raise(Error::new(
                    ErrorKind::Malformed,
                    "path_or_file",
                    "path_or_file must be a str path (bytes paths are not supported)",
                )))
            }
        }
    };
    let head = engine.read_engine(py, move |e| match target {
        Target::Path(path) => {
            let file = std::fs::File::create(&path).map_err(|err| {
                Error::new(
                    ErrorKind::Storage,
                    "path_or_file",
                    format!("cannot create {path}: {err}"),
                )
            })?;
            let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
            e.export_ledger(&mut out, format, from_seq, to_seq)
        }
        Target::File { file, text } => {
            let mut out = PyWriter { file, text };
            e.export_ledger(&mut out, format, from_seq, to_seq)
        }
    })?;
    let value = serde_json::to_value(head)
        .map_err(|err| raise(Error::general(ErrorKind::Internal, err.to_string())))?;
    crate::convert::to_py(py, &value, upline::wire::Root::Head)
}

/// A positive sequence number or `None`.
fn seq_arg(obj: Option<&Bound<'_, PyAny>>, field: &str) -> PyResult<Option<u64>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let bad = |why: String| {
        crate::errors::to_py(
            obj.py(),
            &Error::new(ErrorKind::Malformed, field, format!("{field} {why}")),
        )
    };
    if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
        let name = obj
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default();
        return Err(bad(format!("must be an int or None, not {name}")));
    }
    match obj.extract::<i128>() {
        Ok(n) if n < 0 => Err(bad("must not be negative".into())),
        Ok(n) => Ok(Some(u64::try_from(n).unwrap_or(u64::MAX))),
        Err(_) => Ok(Some(u64::MAX)),
    }
}

/// Writes to a Python file object, taking the GIL for each chunk. Chunks
/// are whole lines, so a text file gets valid UTF-8 each time.
struct PyWriter {
    file: Py<PyAny>,
    text: bool,
}

impl std::io::Write for PyWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Python::attach(|py| {
            let file = self.file.bind(py);
            let written = if self.text {
                let text = std::str::from_utf8(buf).map_err(std::io::Error::other)?;
                file.call_method1("write", (text,))
            } else {
                file.call_method1("write", (PyBytes::new(py, buf),))
            };
            written.map_err(|err| std::io::Error::other(err.to_string()))?;
            Ok(buf.len())
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Python::attach(|py| {
            let file = self.file.bind(py);
            if file.hasattr("flush").unwrap_or(false) {
                file.call_method0("flush")
                    .map_err(|err| std::io::Error::other(err.to_string()))?;
            }
            Ok(())
        })
    }
}
