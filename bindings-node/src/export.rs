//! `engine.exportLedger(pathOrStream, { format, fromSeq, toSeq })`: the
//! core's ledger export (JSON Lines or CSV) to a file path or to a writable
//! stream (anything with a `write(chunk)` method: each chunk, about 64 KiB
//! of whole lines, is passed as a `Buffer`). Returns the head `{ seq, hash }`.

use napi::bindgen_prelude::*;
use napi::{Env, ValueType};
use napi_derive::napi;
use serde_json::Value;
use std::result::Result;
use upline::{Error as CoreError, ErrorKind, ExportFormat};

use crate::{guard, head_value, lock, malformed, napi_err, to_json, Engine};
use upline::wire::Shape;

#[napi]
impl Engine {
    /// Streams the stored events with their audit hashes and records as JSON
    /// Lines (default) or CSV to a path or a writable stream; returns the
    /// head of the exported range. Needs a store (`storage` without one).
    #[napi(
        ts_args_type = "pathOrStream: string | { write(chunk: Uint8Array): unknown }, options?: { format?: 'jsonl' | 'csv'; fromSeq?: number | null; toSeq?: number | null } | null",
        ts_return_type = "{ seq: number; hash: string }"
    )]
    pub fn export_ledger(
        &self,
        env: Env,
        target: Unknown,
        options: Option<Unknown>,
    ) -> napi::Result<Value> {
        let (format, from_seq, to_seq) = guard(&env, || export_options(options))?;
        let kind = target.get_type()?;
        if kind == ValueType::String {
            let path: String = unsafe { target.cast::<String>() }?;
            return guard(&env, || {
                let engine = lock(&self.inner)?;
                let file = std::fs::File::create(&path).map_err(|err| {
                    CoreError::new(
                        ErrorKind::Storage,
                        "pathOrStream",
                        format!("cannot create {path}: {err}"),
                    )
                })?;
                let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
                head_value(engine.export_ledger(&mut out, format, from_seq, to_seq)?)
            });
        }
        let stream: Option<Object> = if kind == ValueType::Object {
            Some(unsafe { target.cast::<Object>() }?)
        } else {
            None
        };
        let write = stream
            .as_ref()
            .map(|s| s.get_named_property::<Unknown>("write"))
            .transpose()?
            .filter(|w| w.get_type().ok() == Some(ValueType::Function));
        let (Some(stream), Some(write)) = (stream, write) else {
            return guard(&env, || {
                Err(CoreError::new(
                    ErrorKind::Malformed,
                    "pathOrStream",
                    "pathOrStream must be a path string or a stream with a write() method",
                ))
            });
        };
        let write: Function<BufferSlice, Unknown> = unsafe { write.cast() }?;
        guard(&env, || {
            let engine = lock(&self.inner)?;
            let mut out = StreamWriter {
                env: &env,
                stream: &stream,
                write: &write,
            };
            head_value(engine.export_ledger(&mut out, format, from_seq, to_seq)?)
        })
    }
}

/// `{ format, fromSeq, toSeq }`, each optional.
fn export_options(
    options: Option<Unknown>,
) -> Result<(ExportFormat, Option<u64>, Option<u64>), CoreError> {
    let map = match options {
        None => return Ok((ExportFormat::JsonLines, None, None)),
        Some(options) => match to_json(options, "options", Shape::plain())? {
            Value::Null => return Ok((ExportFormat::JsonLines, None, None)),
            Value::Object(map) => map,
            _ => {
                return Err(malformed(
                    "options must be an object like { format, fromSeq, toSeq }",
                ))
            }
        },
    };
    for key in map.keys() {
        if !["format", "fromSeq", "toSeq"].contains(&key.as_str()) {
            return Err(malformed(format!(
                "unknown option {key:?}; the options are: format, fromSeq, toSeq"
            )));
        }
    }
    let format = match map.get("format") {
        None | Some(Value::Null) => ExportFormat::JsonLines,
        Some(Value::String(text)) => ExportFormat::parse(text)?,
        Some(_) => {
            return Err(CoreError::new(
                ErrorKind::Malformed,
                "format",
                "options.format must be \"jsonl\" or \"csv\"",
            ))
        }
    };
    let seq = |name: &str| match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(_) => Err(CoreError::new(
            ErrorKind::Malformed,
            name,
            format!("options.{name} must be a non-negative integer"),
        )),
    };
    Ok((format, seq("fromSeq")?, seq("toSeq")?))
}

/// Calls `stream.write(buffer)` for each chunk (on the JS thread).
struct StreamWriter<'a, 'env> {
    env: &'a Env,
    stream: &'a Object<'env>,
    write: &'a Function<'env, BufferSlice<'env>, Unknown<'env>>,
}

impl std::io::Write for StreamWriter<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let chunk = BufferSlice::from_data(self.env, buf.to_vec())
            .map_err(|e| std::io::Error::other(napi_err(e).message().to_string()))?;
        self.write
            .apply(self.stream, chunk)
            .map_err(|e| std::io::Error::other(format!("stream.write failed: {}", e.reason)))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
