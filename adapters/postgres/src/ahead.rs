//! A large group's events sent ahead of its append ([`Store::send_ahead`]):
//! while the engine stages a group of thousands of events under the append
//! lock, a thread of the store's own ([`upline::store::ahead::Ahead`])
//! streams the events staged so far into a binary `COPY` on the connection
//! that holds the lock, so the server writes them (heap, primary key, WAL)
//! on its core while the engine stages the rest on another. The append
//! then sends the remainder, ends the `COPY`, checks that the group
//! follows the locked head and commits, in one more round trip; a
//! conflict is still the primary key's and the head check's to find, and
//! nothing is visible before the commit.
//!
//! Under a `statement_timeout` each part goes in a short `COPY` of its
//! own (see `write`).
//!
//! The connection is the thread's from the engine's first, empty send (as
//! soon as the lock is granted, before the engine catches up and stages)
//! until the append (or the lock's release, or any other use of the store,
//! which ends the stream and rolls its transaction back) takes it back.
//! While it is the thread's, the lock's transaction never sits idle: a
//! `COPY` is open, or under a `statement_timeout` the thread keeps it alive
//! between parts (see [`start`]).
//!
//! [`Store::send_ahead`]: upline::Store::send_ahead

use std::sync::mpsc;
use std::time::Duration;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use upline::store::ahead::{Ahead, Part};
use upline::StoredEvent;

use crate::Conn;

/// The `COPY` the events stream into; the row shape of [`TYPES`].
const COPY: &str =
    "COPY upline_events (programme, seq, event, hash) FROM STDIN WITH (FORMAT binary)";
const TYPES: [Type; 4] = [Type::TEXT, Type::INT8, Type::TEXT, Type::BYTEA];

/// The rows the `COPY` stored, or its error; `None` for a stream
/// abandoned (the `COPY` aborted).
pub(crate) type Copied = Result<Option<u64>, postgres::Error>;

/// A stream in flight.
pub(crate) type Stream = Ahead<Conn, Copied>;

/// Starts the writer thread on `conn` (which holds the append lock) with
/// `events`, whose seqs the caller checked.
///
/// `keep_alive`: under an `idle_in_transaction_session_timeout`, a third
/// of it. Between parts (each in a `COPY` of its own, see [`write`]) the
/// thread then runs `SELECT 1` whenever no part came for that long, so
/// the lock's transaction never idles as long as the timeout while the
/// engine stages, or reads the stored hashes of retries after the last
/// part.
pub(crate) fn start(
    conn: Conn,
    programme: String,
    events: &[StoredEvent],
    keep_alive: Option<Duration>,
) -> Stream {
    Ahead::start(conn, events, move |conn, parts| {
        write(&mut conn.client, &programme, parts, keep_alive)
    })
}

/// The writer thread: one `COPY` of every row received until `Finish`; on
/// a closed channel the writer is dropped unfinished, which aborts it.
///
/// Under a `statement_timeout` each part goes in a `COPY` of its own: one
/// `COPY` open while the engine stages would last as long as the staging,
/// which the timeout would cut (a large batch would then never be
/// stored). Holding the rows until the append instead would leave the
/// transaction idle for the whole staging, which an
/// `idle_in_transaction_session_timeout` would cut. A part's `COPY` lasts
/// only its own writing, and the transaction is idle only while the
/// engine stages the next part ([`SEND_AHEAD_EVERY`] events, a few
/// milliseconds).
///
/// [`SEND_AHEAD_EVERY`]: upline::store::SEND_AHEAD_EVERY
fn write(
    client: &mut postgres::Client,
    programme: &str,
    parts: &mpsc::Receiver<Part>,
    keep_alive: Option<Duration>,
) -> Copied {
    let bounded: bool = client
        .query_one("SELECT current_setting('statement_timeout') <> '0'", &[])?
        .try_get(0)?;
    if !bounded {
        let mut writer = BinaryCopyInWriter::new(client.copy_in(COPY)?, &TYPES);
        while let Ok(part) = parts.recv() {
            match part {
                Part::Rows(rows) => put(&mut writer, programme, &rows)?,
                Part::Finish => return writer.finish().map(Some),
            }
        }
        return Ok(None);
    }
    let mut stored = 0;
    loop {
        let part = match keep_alive {
            Some(every) => match parts.recv_timeout(every) {
                Ok(part) => part,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    client.simple_query("SELECT 1")?;
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            },
            None => match parts.recv() {
                Ok(part) => part,
                Err(_) => break,
            },
        };
        match part {
            // The empty start (the lock just granted): nothing to write.
            Part::Rows(rows) if rows.is_empty() => {}
            Part::Rows(rows) => {
                let mut writer = BinaryCopyInWriter::new(client.copy_in(COPY)?, &TYPES);
                put(&mut writer, programme, &rows)?;
                stored += writer.finish()?;
            }
            Part::Finish => return Ok(Some(stored)),
        }
    }
    Ok(None)
}

/// Writes `rows` into the `COPY`.
fn put(
    writer: &mut BinaryCopyInWriter<'_>,
    programme: &str,
    rows: &[StoredEvent],
) -> Result<(), postgres::Error> {
    for event in rows {
        // Seqs were checked to fit an INT8 before they were sent.
        let seq = i64::try_from(event.seq).unwrap_or(i64::MAX);
        writer.write(&[&programme, &seq, &event.event.as_str(), &&event.hash.0[..]])?;
    }
    Ok(())
}
