//! A large group's events sent ahead of its append
//! ([`Store::send_ahead`](upline::Store::send_ahead)): a thread of the
//! store's own ([`upline::store::ahead::Ahead`]) inserts them on the
//! connection that holds the write lock (`BEGIN IMMEDIATE`), after
//! checking that they follow its head, while the engine stages the rest
//! on the caller's thread. The append takes the connection back and
//! commits; nothing is visible to another connection before that.

use std::sync::mpsc;

use rusqlite::{params, Connection};
use upline::store::ahead::{Ahead, Part};
use upline::StoredEvent;

/// The insert of one stored event.
pub(crate) const INSERT: &str = "INSERT INTO events (seq, event, hash) VALUES (?1, ?2, ?3)";

/// What the writer thread answers.
#[derive(Debug)]
pub(crate) enum Written {
    /// Every row received was inserted: how many.
    Stored(u64),
    /// The file's head was not the one before the first event: nothing
    /// inserted.
    Behind(u64),
    /// An insert failed.
    Failed(rusqlite::Error),
    /// The stream was abandoned before it finished.
    Abandoned,
}

/// A stream in flight.
pub(crate) type Stream = Ahead<Connection, Written>;

/// Starts the writer thread on `conn` (in its write transaction) with
/// `events`, whose seqs the caller checked.
pub(crate) fn start(conn: Connection, events: &[StoredEvent]) -> Stream {
    let expected = events.first().map_or(0, |e| e.seq.saturating_sub(1));
    Ahead::start(conn, events, move |conn, parts| {
        match write(conn, expected, parts) {
            Ok(written) => written,
            Err(e) => Written::Failed(e),
        }
    })
}

fn write(
    conn: &Connection,
    expected: u64,
    parts: &mpsc::Receiver<Part>,
) -> rusqlite::Result<Written> {
    let head: i64 = conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |row| {
        row.get(0)
    })?;
    let head = u64::try_from(head).unwrap_or(0);
    if head != expected {
        return Ok(Written::Behind(head));
    }
    let mut insert = conn.prepare_cached(INSERT)?;
    let mut rows = 0u64;
    while let Ok(part) = parts.recv() {
        match part {
            Part::Rows(events) => {
                for event in &events {
                    let seq = i64::try_from(event.seq)
                        .map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, i64::MAX))?;
                    insert.execute(params![seq, event.event, &event.hash.0[..]])?;
                    rows += 1;
                }
            }
            Part::Finish => return Ok(Written::Stored(rows)),
        }
    }
    Ok(Written::Abandoned)
}
