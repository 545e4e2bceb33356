//! Arrow IPC bytes in and out (the Node binding's form): the stream format
//! that `apache-arrow`'s `tableToIPC` writes by default, or the file format
//! (read only).

use std::io::Cursor;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_ipc::reader::{FileReader, StreamReader};
use arrow_ipc::writer::StreamWriter;
use arrow_schema::SchemaRef;
use upline::{Error, ErrorKind, Result};

/// The file format's leading magic bytes.
const FILE_MAGIC: &[u8] = b"ARROW1";

/// The schema and record batches of IPC `bytes` (stream or file format).
pub fn read(bytes: &[u8]) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    read_as(bytes, "table")
}

/// [`read`] for an argument named `field` (the error's field).
pub fn read_as(bytes: &[u8], field: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let malformed = |err: arrow_schema::ArrowError| {
        Error::new(
            ErrorKind::Malformed,
            field,
            format!("{field} is not an Arrow IPC stream or file: {err}"),
        )
    };
    if bytes.starts_with(FILE_MAGIC) {
        let reader = FileReader::try_new(Cursor::new(bytes), None).map_err(malformed)?;
        let schema = reader.schema();
        let batches = reader
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(malformed)?;
        return Ok((schema, batches));
    }
    let reader = StreamReader::try_new(Cursor::new(bytes), None).map_err(malformed)?;
    let schema = reader.schema();
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(malformed)?;
    Ok((schema, batches))
}

/// `batch` as IPC stream bytes.
pub fn write(batch: &RecordBatch) -> Result<Vec<u8>> {
    let internal = |e: arrow_schema::ArrowError| Error::general(ErrorKind::Internal, e.to_string());
    let mut out = Vec::new();
    let mut writer =
        StreamWriter::try_new(&mut out, &Arc::clone(&batch.schema())).map_err(internal)?;
    writer.write(batch).map_err(internal)?;
    writer.finish().map_err(internal)?;
    drop(writer);
    Ok(out)
}
