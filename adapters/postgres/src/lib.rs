//! # upline-postgres
//!
//! The [`Store`] for hosts whose books live in their PostgreSQL: one
//! database holds many programmes (tenants), each its own log and audit
//! chain, in rows keyed by `(programme, seq)`. Many processes (gunicorn
//! workers, a Node cluster, several hosts) may open the same programme,
//! each with its own engine; the log is the single source of truth and
//! every engine a replica of it (see `upline`'s `Engine::catch_up`).
//!
//! ```no_run
//! use upline::Engine;
//! use upline_postgres::PostgresStore;
//!
//! let store = PostgresStore::open("postgresql://app:secret@db.internal:5432/books", "acme")?;
//! let mut engine = Engine::open(Box::new(store))?;
//! engine.apply_json(r#"{"type":"member_joined","member":"ann","sponsor":null,"at":"2026-01-01T00:00:00Z"}"#)?;
//! // Another process appended? Bring this replica up to date before reading.
//! engine.catch_up()?;
//! # Ok::<(), upline::Error>(())
//! ```
//!
//! ## Appends are conditional, conflicts cheap and fair
//!
//! An append is one SQL statement, so one round trip and one durable
//! commit for a whole batch: it inserts events `head + 1 …` only if the
//! programme's head is still `head` (a subquery on the primary key), and
//! the primary key `(programme, seq)` is the final guard: when two writers
//! race, the second one's insert hits a unique violation. Both outcomes,
//! and a serialization failure on databases that run `SERIALIZABLE`, are
//! `conflict`, with nothing stored; the engine catches up and tries again.
//! Durability is the server's: with the default `synchronous_commit = on`
//! an acknowledged event is on disk (and on a synchronous standby, where
//! one is configured).
//!
//! The same statement answers a conflict with what the loser is missing
//! ([`Store::append_or_missing`]): its first row is the head it saw, and
//! when that is not the writer's head, the rows after it (at most the
//! limit asked for). So a loser pays one round trip, not three (append,
//! head, scan). When the winner's insert was still in flight, the
//! loser's insert waits for it and fails on the primary key, and one more
//! query reads the rows it committed.
//!
//! Fairness: each append also takes a `FOR KEY SHARE` lock on the
//! programme's row in `upline_programmes` (appends do not block one
//! another with it). A writer that lost three races in a row takes
//! [`Store::lock_appends`]: `BEGIN`, `SELECT … FOR UPDATE` on that row
//! (which waits for the appends in flight and holds off new ones) and the
//! events after its head, in one round trip; its next append and the
//! `COMMIT` that releases the lock are one more (two for an append of
//! more than 4 KiB of JSON: the prepared statement, then `COMMIT`). So no
//! event starves. A batch writer that met contention takes the lock
//! before staging ([`Store::try_lock_appends`]: `FOR UPDATE SKIP LOCKED`;
//! while another writer holds it, a `FOR KEY SHARE` read waits for that
//! writer's commit and the events it stored are caught up outside the
//! lock), so its batches no longer meet conflicts and are not rolled back
//! by reloads. A writer that dies holding the lock loses its connection,
//! and the server rolls back.
//! Correctness never depends on the lock: the append stays conditional.
//!
//! ## Large batches stream while they stage
//!
//! A batch (or a columnar call) of 1,024 events or more
//! ([`upline::store::SEND_AHEAD_MIN`]) takes the lock before staging, and
//! sends its staged events ahead every 512 ([`Store::send_ahead`]): a
//! thread of the store's own streams them into a binary `COPY` on the
//! lock's connection, so the server writes rows, index and WAL while the
//! engine stages the rest. The append sends the remainder, ends the
//! `COPY`, checks that the event before the group is stored (a writer
//! ahead of the head divides by zero, which aborts the transaction) and
//! commits, in one round trip. The primary key catches a writer behind
//! the head, as in a plain append: `conflict`, nothing stored. Nothing is
//! visible before the commit; a writer that dies mid-stream loses its
//! connection and the server rolls the whole group back. While the main
//! connection streams, the stored hash of an event retried in the batch
//! is read on a second connection (opened at its first use and kept);
//! where none can be had (a role or server out of connections), on the
//! main one, which ends the stream: the batch is then appended whole,
//! without the lock. Under a `statement_timeout` each part goes in a
//! short `COPY` of its own (one `COPY` open while the engine stages would
//! last as long as the staging, and be cut), so the transaction is idle
//! only while the engine stages the next part (and the stream's thread
//! keeps it alive then, see "Server settings"). A connection the server
//! ends mid-stream (an `idle_in_transaction_session_timeout` shorter than
//! a part's staging, a terminated backend) stored nothing of the group:
//! the append stores it whole without the lock, on a new connection, as
//! a group never sent ahead.
//! Batches of 10,000 sales as columns: 1.3–1.65× (`benches/README.md`,
//! "Round 10").
//!
//! ## Group commit across writers, when commits are slow
//!
//! One programme's log takes one durable commit at a time. With the lock
//! alone, writers of single events that contend take turns: a hand-off of
//! the lock and a commit each. When commits are slow (a disk whose flush
//! takes milliseconds, a synchronous standby in another zone), a
//! contended writer instead hands its event to whoever holds the lock
//! ([`Store::hand_off`], the engine's side in `upline`'s `handoff.rs`):
//!
//! - it queues the event in `upline_queue`, on a second connection whose
//!   session commits asynchronously and listens on the `upline_queue`
//!   channel, and tries the lock (`FOR UPDATE SKIP LOCKED`);
//! - the holder takes the whole queue (`DELETE … RETURNING`) in its lock's
//!   transaction, stages every queued event on its replica and stores
//!   the accepted ones in one append. Each ticket's answer (the seq, or
//!   none: refused, or a retry) goes into `upline_answers` and a
//!   `NOTIFY` that names the tickets answered, all in the same
//!   transaction. So a queued event is stored and answered, or neither.
//!   The holder takes the lock and the queue again in the same round trip
//!   while others keep queueing (up to 8 groups);
//! - the others wake on the notification; a writer whose ticket it names
//!   reads its answer with the events stored by then, and catches up (the
//!   others keep waiting for their group). A writer's own event is applied
//!   with records when its catch-up meets it, so its host gets the answer
//!   it would have got applying the event itself. An event the holder
//!   did not store is the writer's to apply again, through the lock.
//!
//! [`GroupCommit::Auto`] (the default) does this once the store's commit
//! time (the fastest of its recent small appends: waiting behind other
//! writers lengthens appends, not commits) is [`SLOW_COMMIT`] or more:
//! with fast commits the lock alone does as much, with a lower latency.
//! `benches/README.md` ("Round 9", "Round 16") has the figures.
//! Notifications only wake writers early: one lost costs a wait of 20 ms,
//! never an event.
//!
//! ## Failover
//!
//! A lost connection is opened again at the next call (before it, when
//! the server's idle timeouts will have closed it: "Server settings"). A
//! URL may list a
//! primary and its standbys with `target_session_attrs=read-write`
//! (`postgresql://app@db1:5432,db2:5432/books?target_session_attrs=read-write`):
//! after the primary dies and a standby is promoted, the store reconnects
//! to whichever server takes writes. With `synchronous_standby_names` set
//! on the primary, no acknowledged event is lost in the switch (the
//! `failover` test kills a primary mid-stream and checks this); an append
//! whose answer was lost is found again by the engine's catch-up.
//!
//! Followers poll ([`Store::head`] is one indexed query). PostgreSQL's
//! `LISTEN/NOTIFY` could wake them; correctness never depends on it, and
//! this version uses it only to wake writers waiting for a group commit.
//!
//! ## SQL dialect: PostgreSQL and CockroachDB
//!
//! The adapter uses only SQL that CockroachDB also accepts: `CREATE TABLE
//! IF NOT EXISTS`, `BIGINT`/`TEXT`/`BYTEA` columns, composite primary
//! keys, `INSERT … SELECT … FROM unnest($1::INT8[], $2::TEXT[],
//! $3::BYTEA[])` and `… FROM (VALUES …)`, a data-modifying `WITH … AS
//! (INSERT … RETURNING …)` with `UNION ALL`, `INSERT … ON CONFLICT … DO
//! NOTHING / DO UPDATE`, `SELECT … FOR UPDATE [SKIP LOCKED]` and `FOR KEY
//! SHARE`, `BEGIN`/`COMMIT`/`ROLLBACK` in a simple query, `E'…'` string
//! literals, `encode`/`decode(…, 'hex')`, `coalesce`,
//! `information_schema.tables`, `current_schema()`, `version()` and `SHOW
//! transaction_read_only`, and on PostgreSQL only (told by `version()`)
//! `SET LOCAL synchronous_commit TO OFF` for a read that waits on a row
//! lock, `SET LOCAL statement_timeout` around a wait for the append lock,
//! `SET lock_timeout` and `pg_settings` (see "Server settings"), and
//! `PREPARE`/`EXECUTE` of the statements the append lock's simple queries
//! run (each main connection prepares them by name when it opens: parsed
//! and planned once a session; CockroachDB gets their SQL). No
//! advisory locks, no `LOCK TABLE`, no PL/pgSQL. Group commit across
//! writers adds `LISTEN`/`NOTIFY`, `nextval`, `DELETE … RETURNING`,
//! `txid_current_if_assigned()` and a session with
//! `synchronous_commit` off: PostgreSQL only, so on CockroachDB (told by
//! `version()`) writers never hand events off, whatever
//! [`GroupCommit`] says. Large batches stream with `COPY … FROM STDIN WITH
//! (FORMAT binary)` on PostgreSQL only; on CockroachDB they append
//! once staged. This build is tested on PostgreSQL 15 only. On
//! PostgreSQL every session of the store runs `READ COMMITTED`, whatever
//! the database's `default_transaction_isolation`. A `SERIALIZABLE`
//! database (CockroachDB's default) reports a racing append as a
//! serialization failure (`40001`), which the adapter maps to `conflict`
//! like a unique violation. CockroachDB takes shared locks (`FOR KEY
//! SHARE`) under `SERIALIZABLE` only with
//! `enable_shared_locking_for_serializable` set (and `SKIP LOCKED` from
//! v22.2): without it the fairness lock does not hold appends off there,
//! and contending writers fall back to bounded optimistic retries, which
//! stay correct.
//!
//! ## Server settings
//!
//! What a DBA or a managed PostgreSQL (RDS, Cloud SQL, Supabase) sets on
//! the database or the role, and what the store does with it (each
//! checked by `tests/server_settings.rs`):
//!
//! - `default_transaction_isolation`: every session runs `READ
//!   COMMITTED`; the protocol is built on row locks and the primary key.
//! - `lock_timeout`: every session runs without one. The only locks the
//!   store waits for are its own (the append lock's row, a racing
//!   append's key, the version row of a migration), each held by a writer
//!   whose transaction commits, rolls back or loses its connection.
//! - `statement_timeout`: kept for every statement, except a wait for the
//!   append lock (which lasts as long as the holder's staging of a large
//!   batch): `SET LOCAL statement_timeout = 0` before it, `TO DEFAULT`
//!   after. An append cut by the timeout (or a cancel) while it waits
//!   behind the lock's holder stored nothing: a `conflict`, and after a
//!   few the engine takes the lock. A holder that hangs idle in its
//!   transaction is the `idle_in_transaction_session_timeout`'s to end.
//! - `idle_session_timeout` and `idle_in_transaction_session_timeout` are
//!   read at open; a connection (main, queue or side) idle for half of the
//!   one that applies to it is opened again before the call rather than
//!   fail it. (A try for the lock that found it busy leaves a transaction
//!   holding nothing open until the next call, to save a round trip.)
//!   That includes the append lock's connection, idle in its transaction
//!   while the engine stages a large batch, unless it holds answers for
//!   queued events: the lock is given up, and the group is appended
//!   without it (every append is conditional on the head). A large batch's
//!   stream starts as soon as the lock is granted (the engine's empty
//!   [`send_ahead`](upline::Store::send_ahead)), before the engine catches
//!   up and stages: from then on an open `COPY`, or under a
//!   `statement_timeout` a `SELECT 1` whenever no part came for a third of
//!   the timeout, keeps the lock's transaction from idling, through a slow
//!   staging and the reading of retries' stored hashes after the last
//!   part. A stream whose connection the server ended anyway (`25P03`, a
//!   terminated backend `57P01`/`57P02`, a lost socket) stored nothing:
//!   its group is appended whole, once, without the lock, on a new
//!   connection; so is a group whose commit was cut for idling. A writer
//!   that then meets a `conflict` takes the lock again (the engine does
//!   after any conflict under a lock it took). Under a
//!   `statement_timeout`, a plain append of more than 512 events goes in
//!   statements of 512 in one transaction, so no statement lasts the
//!   whole group. Any other connection the server ended (a terminated
//!   backend, a restart) fails the call that meets it (a read of a stored
//!   hash is sent again once, on a new connection); the next call
//!   reconnects.
//! - `default_transaction_read_only`, or a standby (`transaction_read_only`
//!   is on at open): nothing is created or migrated; a schema of this
//!   build's version opens (a follower, `Engine::open_follower`, reads and
//!   catches up there), none or an older one is a `storage` error saying
//!   the server takes no writes. Every write is then a `storage` error
//!   with the server's reason (`25006`) and "this server or database takes
//!   no writes …: point writers at the primary"; nothing is stored.
//! - `search_path`: the tables live in its first schema that exists
//!   (`current_schema()`). One naming none (an empty `search_path`) is a
//!   `storage` error naming it (`3F000`); a URL can set one:
//!   `?options=-csearch_path%3Dbooks`.
//! - Least privilege: only the first opening, which creates the tables,
//!   needs `CREATE` on the schema. A role without it opens a database its
//!   owner opened first, with `SELECT, INSERT, UPDATE, DELETE` on the
//!   `upline_*` tables (`UPDATE` for the row locks) and `USAGE` on the
//!   sequence `upline_tickets` (group commit). A missing privilege is a
//!   `storage` error with the server's reason (`42501`) and what to grant,
//!   never "another application's tables".
//! - `synchronous_commit = off`: the server's choice of durability; the
//!   store is correct either way. Session formats (`client_encoding`,
//!   `DateStyle`, `TimeZone`, `bytea_output`, `standard_conforming_strings`,
//!   `extra_float_digits`, `IntervalStyle`) and `plan_cache_mode` change
//!   nothing: events and hashes go as text and bytes in binary, or as
//!   `E'…'` and hex literals.
//! - A connection pooler in transaction mode (PgBouncer's `pool_mode =
//!   transaction`, Supabase's pooler on port 6543) is not supported: it
//!   runs each transaction on any server connection, and the store's
//!   prepared statements, session settings and `LISTEN` stay on one
//!   (`prepared statement "s14" does not exist`, 26000). Session mode,
//!   or a direct connection, works; a session handed on without a reset
//!   keeps the store's named statements, which it prepares again.
//!
//! ## Schema (version 3)
//!
//! In the connection's current schema: `upline_meta(key TEXT PRIMARY KEY,
//! value TEXT)`, with `application = upline` and `schema_version`;
//! `upline_events(programme, seq, event, hash)` and
//! `upline_snapshots(programme, seq, snapshot)`, both keyed by
//! `(programme, seq)`; `upline_programmes(programme, audit_format)`, the
//! audit format ([`upline::audit::FORMAT`]) each programme's hashes are
//! written with; `upline_queue(programme, ticket, event)` and
//! `upline_answers(programme, ticket, seq)`, keyed by `(programme,
//! ticket)`, with tickets from the sequence `upline_tickets` (group
//! commit). Migrations run in one transaction, serialized by a row
//! lock on the version row, so processes may open a fresh database
//! together. A newer schema, or `upline_*` tables that are not Upline's,
//! are a `storage` error, never a panic.
//!
//! Schema 3 added the queue, its answers and the ticket sequence.
//! Schema 2 added `upline_programmes`. Migrating a version-1 database
//! records audit format 2 for every programme that has events or a
//! snapshot (version 1 was only ever written by format-2 builds). Opening
//! a programme with nothing stored records this build's format; one whose
//! recorded format is another is refused by `Engine::open` with a
//! `storage` error naming the format, never read as `tampered`.
//!
//! ## Secrets
//!
//! Error messages name the server by the parsed configuration's host,
//! port, database and user only, and every message is scrubbed of the
//! password, whatever the driver said.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod ahead;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use postgres::config::Host;
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, NoTls, SimpleQueryMessage, Statement};
use upline::store::{check_append, conflict, Appended, HandOff, Missing, Queued, Ticket, TryLock};
use upline::{Error, ErrorKind, Hash, Result, Store, StoredEvent};

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i32 = 3;

/// The `application` value in `upline_meta`.
pub const APPLICATION: &str = "upline";

/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Rows read per query while scanning the log.
const SCAN_PAGE: i64 = 10_000;

/// Migrations: element `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS upline_events (
         programme TEXT NOT NULL,
         seq BIGINT NOT NULL CHECK (seq > 0),
         event TEXT NOT NULL,
         hash BYTEA NOT NULL CHECK (length(hash) = 32),
         PRIMARY KEY (programme, seq)
     );
     CREATE TABLE IF NOT EXISTS upline_snapshots (
         programme TEXT NOT NULL,
         seq BIGINT NOT NULL,
         snapshot TEXT NOT NULL,
         PRIMARY KEY (programme, seq)
     );",
    // Version 2: each programme's audit format. Version 1 was written by
    // audit-format-2 builds only.
    "CREATE TABLE IF NOT EXISTS upline_programmes (
         programme TEXT PRIMARY KEY,
         audit_format INT8 NOT NULL CHECK (audit_format > 0)
     );
     INSERT INTO upline_programmes (programme, audit_format)
         SELECT known.programme, 2 FROM (
             SELECT programme FROM upline_events
             UNION SELECT programme FROM upline_snapshots
         ) AS known
         ON CONFLICT (programme) DO NOTHING;",
    // Version 3: the queue of events handed to the append lock's holder
    // (group commit across writers) and the holder's answers.
    "CREATE SEQUENCE IF NOT EXISTS upline_tickets;
     CREATE TABLE IF NOT EXISTS upline_queue (
         programme TEXT NOT NULL,
         ticket BIGINT NOT NULL,
         event TEXT NOT NULL,
         PRIMARY KEY (programme, ticket)
     );
     CREATE TABLE IF NOT EXISTS upline_answers (
         programme TEXT NOT NULL,
         ticket BIGINT NOT NULL,
         seq BIGINT,
         PRIMARY KEY (programme, ticket)
     );",
];

/// `storage` when the database holds nothing of `programme`: no row in
/// `upline_programmes` (a writer registers it at open), no events, no
/// snapshot. On a server that takes no writes the message says so: the
/// programme cannot be registered there.
fn check_programme(
    client: &mut Client,
    server: &Server,
    programme: &str,
    takes_no_writes: bool,
) -> Result<()> {
    let known: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM upline_programmes WHERE programme = $1::TEXT)
                 OR EXISTS (SELECT 1 FROM upline_events WHERE programme = $1::TEXT)
                 OR EXISTS (SELECT 1 FROM upline_snapshots WHERE programme = $1::TEXT)",
            &[&programme],
        )
        .and_then(|row| row.try_get(0))
        .map_err(|e| server.failed("cannot look the programme up", &e))?;
    if known {
        return Ok(());
    }
    if takes_no_writes {
        return Err(server.error(
            "cannot open the store",
            format!(
                "this server or database takes no writes (default_transaction_read_only is \
                 on, or it is a standby) and holds no programme {programme:?}; open it once \
                 where it takes writes (nothing was changed)"
            ),
        ));
    }
    Err(server.error(
        "cannot open the store",
        format!(
            "the database holds no programme {programme:?} (nothing stored, never opened by a \
             writer); check --programme (nothing was changed)"
        ),
    ))
}

/// Records this build's audit format for a programme with nothing stored
/// (and no recorded format); one with events keeps what it has.
const REGISTER: &str = "INSERT INTO upline_programmes (programme, audit_format)
     SELECT $1::TEXT, $2::INT8
     WHERE NOT EXISTS (SELECT 1 FROM upline_events WHERE programme = $1::TEXT)
       AND NOT EXISTS (SELECT 1 FROM upline_snapshots WHERE programme = $1::TEXT)
     ON CONFLICT (programme) DO NOTHING";
const AUDIT_FORMAT: &str = "SELECT audit_format FROM upline_programmes WHERE programme = $1";

/// The conditional append, answering a conflict with the missing events,
/// in one statement (one round trip): the first row is the programme's
/// head (its `event` NULL); when it is not `$5`, nothing was inserted and
/// the other rows are the events after `$5`, at most `$6`. Each append
/// takes a `FOR KEY SHARE` lock on the programme's row, which appends do
/// not take from one another but which waits for a writer holding the
/// fairness lock (`FOR UPDATE`, [`LOCK`]), taken only when the head check
/// passed. The primary key stays the final guard.
/// Rows per statement of an append in parts ([`PostgresStore::append_in_parts`]):
/// as many as a part sent ahead.
const PART: usize = upline::store::SEND_AHEAD_EVERY;

/// The parts after the first of an append in parts: plain rows, which a
/// racing writer's stop on the primary key.
const INSERT_PART: &str = "INSERT INTO upline_events (programme, seq, event, hash)
     SELECT $1, t.seq, t.event, t.hash
     FROM unnest($2::INT8[], $3::TEXT[], $4::BYTEA[]) AS t(seq, event, hash)";

const APPEND: &str = "WITH fair AS (
         SELECT 1 FROM upline_programmes WHERE programme = $1 FOR KEY SHARE
     ),
     head AS (
         SELECT coalesce(max(seq), 0)::INT8 AS seq FROM upline_events WHERE programme = $1
     ),
     stored AS (
         INSERT INTO upline_events (programme, seq, event, hash)
         SELECT $1, t.seq, t.event, t.hash
         FROM unnest($2::INT8[], $3::TEXT[], $4::BYTEA[]) AS t(seq, event, hash)
         WHERE (SELECT seq FROM head) = $5 AND (SELECT count(*) FROM fair) >= 0
         RETURNING 1
     )
     SELECT head.seq, NULL::TEXT, NULL::BYTEA FROM head
     UNION ALL
     (SELECT e.seq, e.event, e.hash FROM upline_events e
      WHERE e.programme = $1 AND e.seq > $5 AND (SELECT seq FROM head) <> $5
      ORDER BY e.seq LIMIT $6)";
const HEAD: &str = "SELECT coalesce(max(seq), 0)::INT8 FROM upline_events WHERE programme = $1";
const SCAN: &str = "SELECT seq, event, hash FROM upline_events
     WHERE programme = $1 AND seq >= $2 ORDER BY seq LIMIT $3";
const HASH_AT: &str = "SELECT hash FROM upline_events WHERE programme = $1 AND seq = $2";

/// The fairness lock ([`Store::lock_appends`]), in one round trip as one
/// simple query: begin, lock the programme's row `FOR UPDATE` (which waits
/// for appends in flight and holds off new ones), then read the events
/// after the writer's head (a statement of its own, so it sees every
/// append committed before the lock was granted). `{programme}`, `{after}`
/// and `{limit}` are filled in as literals (simple queries take no
/// parameters).
///
/// On PostgreSQL the wait runs without the database's
/// `statement_timeout` (`{unbounded}`, [`UNBOUNDED`]), and the statements
/// after it with it again (`{bounded}`, [`BOUNDED`]): the wait lasts as
/// long as the holder's staging (a large batch's), which a timeout
/// shorter than that cut with `57014` (`storage`). A holder that hangs
/// idle in its transaction is the `idle_in_transaction_session_timeout`'s
/// to end; one that dies loses its connection.
///
/// `{lock_row}` and `{events_after}` are the statements of
/// [`SESSION_STATEMENTS`] (`EXECUTE upline_lock_row(…)`, `EXECUTE
/// upline_events_after(…)`) on PostgreSQL, and their SQL on CockroachDB
/// ([`fill`]).
const LOCK: &str = "BEGIN;{unbounded}
     {lock_row};{bounded}
     {events_after}";

/// A wait for the append lock without the `statement_timeout`, for the
/// rest of its transaction or until [`BOUNDED`] (PostgreSQL only).
const UNBOUNDED: &str = "\n     SET LOCAL statement_timeout = 0;";

/// The session's `statement_timeout` again after a wait for the lock
/// (`TO DEFAULT`: the database's, role's or connection's setting).
const BOUNDED: &str = "\n     SET LOCAL statement_timeout TO DEFAULT;";

/// Largest append (bytes of event JSON) sent as literals in one simple
/// query under the fairness lock: single events and small batches. A
/// larger one is the prepared statement and a `COMMIT`: one more round
/// trip, but SQL text of many rows costs the server (and the client) more
/// than that round trip (batches of 100: about 0.8 ms more a batch).
const LOCKED_SQL_BYTES: usize = 4 * 1024;

/// [`LOCK`] without queueing: `SKIP LOCKED` answers no row when another
/// writer holds the lock (or an append is in flight).
const TRY_LOCK: &str = "BEGIN;
     {lock_row};
     {events_after}";

/// After a busy [`TRY_LOCK`]: ends its transaction, waits until the
/// holder's transaction ends (a `FOR KEY SHARE` read waits for `FOR
/// UPDATE`, not for other appends, and does not queue for the lock), and
/// reads what was stored by then. Runs as one transaction, each
/// statement with its own snapshot.
///
/// The `FOR KEY SHARE` lock marks the row, which makes the read a writing
/// transaction whose commit would wait for the disk like an append's (one
/// flush per wait): on PostgreSQL it commits asynchronously, since it
/// stores nothing. CockroachDB, whose commits are durable whatever the
/// session says, gets [`WAIT_PLAIN`].
const WAIT: &str = "ROLLBACK;
     BEGIN;
     SET LOCAL synchronous_commit TO OFF;
     SET LOCAL statement_timeout = 0;
     SELECT 1 FROM upline_programmes WHERE programme = {programme} FOR KEY SHARE;
     {events_after};
     COMMIT";

/// [`WAIT`] without `SET LOCAL synchronous_commit`, for CockroachDB.
const WAIT_PLAIN: &str = "ROLLBACK;
     SELECT 1 FROM upline_programmes WHERE programme = {programme} FOR KEY SHARE;
     {events_after}";

/// The hand-off's lock and queue ([`Store::hand_off`]), after the
/// writer's event is queued: begin, lock the programme's row
/// (`{lock_row}`: `upline_try_row`, or `upline_lock_row` to queue), read
/// the writer's answer, the events after its head and, only when the lock is this
/// transaction's, take the whole queue (a `DELETE … RETURNING`). The
/// lock is the transaction's only write before the `DELETE`, so it has a
/// transaction ID (`txid_current_if_assigned()`) exactly when the first
/// statement locked the row; a `SKIP LOCKED` that skipped it assigns
/// none. (The `DELETE` used to lock the row again with `EXISTS (… FOR
/// UPDATE SKIP LOCKED)`, which, when the holder let the lock go after the
/// first statement skipped it, took the lock and the queue in a
/// transaction the store took for one holding nothing: every other
/// writer then waited for this writer's next call.) Rows are told apart
/// by their width: the lock's row has one column, the answer two, the
/// events three, the queued four. A wait for the lock runs without the
/// `statement_timeout` (as in [`LOCK`]); a try does not wait. PostgreSQL
/// only, as is all of group commit: the statements are those of
/// [`SESSION_STATEMENTS`].
const HAND_OFF: &str = "BEGIN;{unbounded}
     {lock_row};{bounded}
     EXECUTE upline_answer_of({programme}, {ticket});
     {events_after};
     EXECUTE upline_take_queue({programme})";

/// The statements a PostgreSQL main connection prepares by name when it
/// is opened (`PREPARE`), for the simple queries of the append lock, the
/// hand-off and the locked append, which take no parameters: they run
/// them as `EXECUTE name(…)` with literal arguments, parsed and planned
/// once a session rather than once a call, and still several statements
/// in one round trip (each of the extended protocol's prepared statements
/// is one). With 4 writers handing single events off on local commits, a
/// holder held the lock 1.14–1.59 ms a group with the SQL spelled out and
/// 0.92–1.16 ms this way; the group's simple query alone, replayed on an
/// idle server, took 0.62–0.68 and 0.49 ms (`benches/README.md`, "Round
/// 16"). CockroachDB keeps the SQL itself.
///
/// - `upline_lock_row`, `upline_try_row`: the append lock, waiting for it
///   or not (`SKIP LOCKED`); one row (one column) when taken;
/// - `upline_events_after(programme, after, limit)`: the stored events
///   after a writer's head (three columns: seq, event, hash in hex);
/// - `upline_answer_of(programme, ticket)`: a queued event's answer (two
///   columns); `upline_take_queue`: the whole queue, taken by the lock's
///   holder (four columns);
/// - `upline_answer_put(programme, tickets, seqs)`: a holder's answers;
/// - `upline_put(programme, seqs, events, hashes, expected)`: the locked
///   append, conditional on the head (a division by zero when nothing was
///   inserted, which aborts the transaction before its `COMMIT`).
const SESSION_STATEMENTS: &str = "
    PREPARE upline_lock_row(TEXT) AS
        SELECT 1 FROM upline_programmes WHERE programme = $1 FOR UPDATE;
    PREPARE upline_try_row(TEXT) AS
        SELECT 1 FROM upline_programmes WHERE programme = $1 FOR UPDATE SKIP LOCKED;
    PREPARE upline_events_after(TEXT, INT8, INT8) AS
        SELECT seq, event, encode(hash, 'hex') FROM upline_events
        WHERE programme = $1 AND seq > $2 ORDER BY seq LIMIT $3;
    PREPARE upline_answer_of(TEXT, INT8) AS
        SELECT 'answer'::TEXT, seq::TEXT FROM upline_answers
        WHERE programme = $1 AND ticket = $2;
    PREPARE upline_take_queue(TEXT) AS
        DELETE FROM upline_queue WHERE programme = $1
            AND txid_current_if_assigned() IS NOT NULL
            RETURNING 'queued'::TEXT, ticket::TEXT, event, ''::TEXT;
    PREPARE upline_answer_put(TEXT, INT8[], INT8[]) AS
        INSERT INTO upline_answers (programme, ticket, seq)
        SELECT $1, t.ticket, t.seq FROM unnest($2, $3) AS t(ticket, seq)
        ON CONFLICT (programme, ticket) DO UPDATE SET seq = excluded.seq;
    PREPARE upline_put(TEXT, INT8[], TEXT[], BYTEA[], INT8) AS
        WITH stored AS (
            INSERT INTO upline_events (programme, seq, event, hash)
            SELECT $1, t.seq, t.event, t.hash FROM unnest($2, $3, $4) AS t(seq, event, hash)
            WHERE (SELECT coalesce(max(seq), 0) FROM upline_events WHERE programme = $1) = $5
            RETURNING 1)
        SELECT 'stored'::TEXT, (1 / count(*)::INT)::TEXT FROM stored";

/// The channel a holder notifies when it commits a group of queued
/// events, so that waiting writers read their answers at once rather than
/// wait for the lock (which a holder that keeps leading takes again in the
/// same round trip). The payload is three lines: the programme; `1` when
/// the holder keeps the lock, `0` when it lets it go; and the tickets the
/// group answered, comma-separated (left out past
/// [`NOTIFY_TICKETS_BYTES`]). A writer whose ticket is not named keeps
/// waiting without a read while the holder keeps leading; without the
/// third line (a payload of an earlier version), every writer reads.
/// The payload is only a hint: what a writer reads is its answer row.
const CHANNEL: &str = "upline_queue";

/// How long a writer whose event is queued waits for a notification
/// before it tries the lock again; and how many times it reads its
/// answer in one call, after a notification that may answer it.
/// Correctness never depends on the notifications: a lost one costs this
/// wait.
const NOTIFY_WAIT: Duration = Duration::from_millis(20);
const NOTIFY_ROUNDS: usize = 8;
/// How many notifications a waiting writer hears in one call, counting
/// those of groups that did not answer it.
const NOTIFY_NOTES: usize = 64;

/// A holder's notification, as a waiting writer hears it.
#[derive(Debug, PartialEq, Eq)]
struct Notified {
    /// The holder tries to keep leading (`0` in the payload: it let the
    /// lock go, and a waiting writer tries it).
    leading: bool,
    /// The group answered this writer's ticket, or the payload does not
    /// say.
    answered: bool,
}

impl Notified {
    /// Whether the writer reads its answer now: the group may hold it, or
    /// the holder let the lock go (the writer then tries it).
    fn reads_now(&self) -> bool {
        self.answered || !self.leading
    }

    /// `payload` ([`CHANNEL`]'s) as heard by the writer of `ticket` (in
    /// decimal) on `programme`; `None` when it is another programme's.
    fn read(payload: &str, programme: &str, ticket: &str) -> Option<Notified> {
        let mut lines = payload.split('\n');
        if lines.next() != Some(programme) {
            return None;
        }
        let leading = lines.next() == Some("1");
        // No list (an earlier version's, or too long): maybe answered.
        let answered = lines
            .next()
            .is_none_or(|tickets| tickets.split(',').any(|t| t == ticket));
        Some(Notified { leading, answered })
    }
}

/// On a writer's queue connection ([`QueueConn`]): queues its event
/// (committed asynchronously: the session has `synchronous_commit` off)
/// and drops the answer of its previous one (`$3`, or -1).
const ENQUEUE: &str = "WITH gone AS (
         DELETE FROM upline_answers WHERE programme = $1 AND ticket = $3
     )
     INSERT INTO upline_queue (programme, ticket, event)
     VALUES ($1, nextval('upline_tickets'), $2) RETURNING ticket";

/// On a writer's queue connection: its answer (the first row: whether it
/// is answered, and the seq) and the events after `$3`, at most `$4`, in
/// one statement, so one snapshot: a stored answer's seq is among them.
const ANSWER: &str = "SELECT 0::INT8, NULL::TEXT, NULL::BYTEA,
         (SELECT count(*) FROM upline_answers WHERE programme = $1 AND ticket = $2)::INT8,
         (SELECT seq FROM upline_answers WHERE programme = $1 AND ticket = $2)::INT8
     UNION ALL
     (SELECT seq, event, hash, -1::INT8, NULL::INT8 FROM upline_events
      WHERE programme = $1 AND seq > $3 ORDER BY seq LIMIT $4)";

/// `template` ([`LOCK`], [`TRY_LOCK`], [`WAIT`], [`HAND_OFF`]) with
/// its statements and literals filled in: `{lock_row}` takes the
/// append lock, waiting for it when `waits` (then, on PostgreSQL,
/// without the `statement_timeout`: `{unbounded}` … `{bounded}`) or
/// not; `{events_after}` reads the events after `after`, at most
/// `limit + 1`; `{ticket}` is `ticket` ([`HAND_OFF`]'s, -1 for none).
/// On PostgreSQL (`cockroach` false) these are `EXECUTE`s of
/// [`SESSION_STATEMENTS`]; on CockroachDB, their SQL.
fn fill(
    template: &str,
    cockroach: bool,
    waits: bool,
    programme: &str,
    after: i64,
    limit: usize,
    ticket: i64,
) -> String {
    let (lock_row, events_after) = match cockroach {
        false => (
            match waits {
                true => "EXECUTE upline_lock_row({programme})",
                false => "EXECUTE upline_try_row({programme})",
            },
            "EXECUTE upline_events_after({programme}, {after}, {limit})",
        ),
        true => (
            match waits {
                true => "SELECT 1 FROM upline_programmes WHERE programme = {programme} FOR UPDATE",
                false => {
                    "SELECT 1 FROM upline_programmes WHERE programme = {programme} \
                          FOR UPDATE SKIP LOCKED"
                }
            },
            "SELECT seq, event, encode(hash, 'hex') FROM upline_events \
             WHERE programme = {programme} AND seq > {after} ORDER BY seq LIMIT {limit}",
        ),
    };
    let (unbounded, bounded) = match waits && !cockroach {
        true => (UNBOUNDED, BOUNDED),
        false => ("", ""),
    };
    template
        .replace("{unbounded}", unbounded)
        .replace("{bounded}", bounded)
        .replace("{lock_row}", lock_row)
        .replace("{events_after}", events_after)
        .replace("{after}", &after.to_string())
        .replace("{limit}", &limit.saturating_add(1).to_string())
        .replace("{ticket}", &ticket.to_string())
        // Last: a programme id may hold braces (`a{limit}`).
        .replace("{programme}", &literal(programme))
}

/// The locked append of `events` after `expected` on `programme`, as one
/// statement of a simple query: `EXECUTE upline_put(…)` of
/// [`SESSION_STATEMENTS`] on PostgreSQL, its SQL with the rows spelled out
/// on CockroachDB. Its one row is `('stored', 1 / rows inserted)`: when the
/// head is not `expected`, nothing is inserted and the division by zero
/// aborts the transaction. `storage` when a seq is past `i64::MAX`.
fn put_sql(
    cockroach: bool,
    programme: &str,
    events: &[StoredEvent],
    expected: u64,
) -> Result<String> {
    let expected_param = PostgresStore::seq_param(expected)?;
    let programme = literal(programme);
    if cockroach {
        let mut rows = String::with_capacity(events.len() * 400);
        for (i, event) in events.iter().enumerate() {
            if i > 0 {
                rows.push_str(", ");
            }
            rows.push_str(&format!(
                "({}::INT8, {}, decode('{}', 'hex'))",
                PostgresStore::seq_param(event.seq)?,
                literal(&event.event),
                hex(&event.hash.0)
            ));
        }
        return Ok(format!(
            "WITH stored AS (
                 INSERT INTO upline_events (programme, seq, event, hash)
                 SELECT {programme}, t.seq, t.event, t.hash
                 FROM (VALUES {rows}) AS t(seq, event, hash)
                 WHERE (SELECT coalesce(max(seq), 0) FROM upline_events
                        WHERE programme = {programme}) = {expected_param}
                 RETURNING 1)
             SELECT 'stored'::TEXT, (1 / count(*)::INT)::TEXT FROM stored"
        ));
    }
    let mut seqs = Vec::with_capacity(events.len());
    let mut texts = Vec::with_capacity(events.len());
    let mut hashes = Vec::with_capacity(events.len());
    for event in events {
        seqs.push(PostgresStore::seq_param(event.seq)?.to_string());
        texts.push(literal(&event.event));
        hashes.push(format!("decode('{}', 'hex')", hex(&event.hash.0)));
    }
    Ok(format!(
        "EXECUTE upline_put({programme}, ARRAY[{}]::INT8[], ARRAY[{}]::TEXT[], \
         ARRAY[{}]::BYTEA[], {expected_param})",
        seqs.join(", "),
        texts.join(", "),
        hashes.join(", ")
    ))
}

/// `text` as an SQL string literal: an escape string (`E'…'`), which reads
/// the same whatever `standard_conforming_strings` says.
fn literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// Where the store connects, for messages: never the password.
#[derive(Clone)]
struct Server {
    name: String,
    password: Option<String>,
}

impl Server {
    fn of(config: &Config) -> Server {
        // One port for all hosts, or one per host (a multi-host URL:
        // `postgresql://user@primary:5432,standby:5432/books`).
        let ports = config.get_ports();
        let port_of = |i: usize| {
            ports
                .get(i)
                .or_else(|| ports.first())
                .copied()
                .unwrap_or(5432)
        };
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| match host {
                Host::Tcp(name) => format!("{name}:{}", port_of(i)),
                Host::Unix(path) => format!("{}:{}", path.display(), port_of(i)),
            })
            .collect();
        let hosts = if hosts.is_empty() {
            format!("localhost:{}", port_of(0))
        } else {
            hosts.join(",")
        };
        let dbname = config.get_dbname().unwrap_or("(default database)");
        let user = config.get_user().unwrap_or("(default user)");
        Server {
            name: format!("{hosts}/{dbname} as {user}"),
            password: config
                .get_password()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
        }
    }

    /// [`error`](Self::error) for a failed statement or connection: the
    /// server's reason and code, or the cause of a lost connection, not
    /// only rust-postgres' "db error".
    fn failed(&self, context: &str, err: &postgres::Error) -> Error {
        self.error(context, detail(err))
    }

    fn error(&self, context: &str, reason: impl fmt::Display) -> Error {
        let mut message = format!("postgres {}: {context}: {reason}", self.name);
        if let Some(password) = self.password.as_deref().filter(|p| !p.is_empty()) {
            message = message.replace(password, "***");
        }
        Error::general(ErrorKind::Storage, message)
    }
}

/// The holder's answers for the queue it took ([`Store::answer_queued`]):
/// their `INSERT`, and the tickets they answer, named in the `NOTIFY` that
/// wakes their writers (a hint: a writer whose ticket is not named keeps
/// waiting without a read).
#[derive(Default)]
struct Answers {
    sql: String,
    tickets: String,
}

/// Longest list of tickets a notification names; a longer one is left
/// out, and every waiting writer reads (payloads stop at 8,000 bytes).
const NOTIFY_TICKETS_BYTES: usize = 6000;

impl Answers {
    /// `answers` (each ticket, and the seq it was stored at or none) of a
    /// queue taken on `programme`: one `upline_answer_put`
    /// ([`SESSION_STATEMENTS`]), and the tickets as [`Notified::read`]
    /// reads them.
    fn of(programme: &str, answers: &[(u64, Option<u64>)]) -> Result<Answers> {
        let mut tickets = Vec::with_capacity(answers.len());
        let mut seqs = Vec::with_capacity(answers.len());
        for (ticket, seq) in answers {
            tickets.push(PostgresStore::seq_param(*ticket)?.to_string());
            seqs.push(match seq {
                Some(seq) => PostgresStore::seq_param(*seq)?.to_string(),
                None => "NULL".to_string(),
            });
        }
        Ok(Answers {
            sql: format!(
                "EXECUTE upline_answer_put({}, ARRAY[{}]::INT8[], ARRAY[{}]::INT8[]);\n",
                literal(programme),
                tickets.join(", "),
                seqs.join(", ")
            ),
            tickets: tickets.join(","),
        })
    }

    fn is_empty(&self) -> bool {
        self.sql.is_empty()
    }

    fn clear(&mut self) {
        self.sql.clear();
        self.tickets.clear();
    }

    /// The `INSERT` of the answers and the `NOTIFY` on [`CHANNEL`] (the
    /// payload: the programme, `1` when the holder tries to keep leading or
    /// `0`, and the tickets answered), or nothing when there are none.
    fn statements(&self, programme: &str, leading: bool) -> String {
        if self.sql.is_empty() {
            return String::new();
        }
        let leading = if leading { "1" } else { "0" };
        let payload = match self.tickets.len() <= NOTIFY_TICKETS_BYTES {
            true => format!("{programme}\n{leading}\n{}", self.tickets),
            false => format!("{programme}\n{leading}"),
        };
        format!("{}NOTIFY {CHANNEL}, {};\n", self.sql, literal(&payload))
    }
}

/// Prepares [`SESSION_STATEMENTS`] on a new PostgreSQL connection, first
/// dropping any of theirs the session holds already: a session a pooler
/// hands on without resetting it (`server_reset_query` empty) keeps them,
/// and `PREPARE` of a name taken fails (`42P05`). One round trip more than
/// the `PREPARE`s alone.
fn prepare_session(client: &mut Client) -> std::result::Result<(), postgres::Error> {
    let held = client
        .simple_query("SELECT name FROM pg_prepared_statements WHERE left(name, 7) = 'upline_'")?;
    let mut sql = String::new();
    for message in held {
        if let SimpleQueryMessage::Row(row) = message {
            if let Some(name) = row.get(0) {
                // Names are the store's own, `upline_` and letters.
                if name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                    sql.push_str(&format!("DEALLOCATE {name};\n"));
                }
            }
        }
    }
    sql.push_str(SESSION_STATEMENTS);
    client.batch_execute(&sql)
}

/// A connection and its prepared statements (one round trip a call).
struct Conn {
    client: Client,
    append: Statement,
    head: Statement,
    scan: Statement,
    hash_at: Statement,
    /// In a transaction holding the programme's fairness lock.
    locked: bool,
    /// The holder's answers for the queue it took ([`Store::answer_queued`]),
    /// as an `INSERT` run just before the lock's `COMMIT`; empty when
    /// none were given (then releasing the lock rolls the taking back).
    answers: Answers,
    /// A transaction that holds nothing is open (a try for the lock that
    /// found it busy): rolled back before the next statement.
    open_tx: bool,
    /// When its last statement ended ([`stale`]).
    used: Instant,
}

impl Conn {
    /// Prepares the statements on a new main connection, and on
    /// PostgreSQL (`named`) the [`SESSION_STATEMENTS`] too.
    fn prepare(mut client: Client, named: bool) -> std::result::Result<Conn, postgres::Error> {
        if named {
            prepare_session(&mut client)?;
        }
        Ok(Conn {
            append: client.prepare(APPEND)?,
            head: client.prepare(HEAD)?,
            scan: client.prepare(SCAN)?,
            hash_at: client.prepare(HASH_AT)?,
            locked: false,
            answers: Answers::default(),
            open_tx: false,
            used: Instant::now(),
            client,
        })
    }
}

/// The session settings the store's protocol needs on PostgreSQL,
/// whatever the database's (or role's) defaults:
///
/// - `READ COMMITTED` for every transaction: the protocol is built on row
///   locks and the primary key, not on the isolation level. Under
///   `SERIALIZABLE` its queue, answers and lock transactions fail with
///   serialization failures (40001) that hold no conflict over the log
///   (writers handing events off then failed with `storage`);
/// - no `lock_timeout`: the only locks the store waits for are its own
///   (the append lock's row, a racing append's key, the version row of a
///   migration), each held by a writer whose transaction commits, rolls
///   back or loses its connection. A `lock_timeout` shorter than a large
///   batch's staging cut contended writers' waits with `55P03` (`storage`).
///   The `statement_timeout` stays the database's, except while waiting
///   for the append lock (see [`LOCK`]).
///
/// PostgreSQL only: CockroachDB runs `SERIALIZABLE`, and its appends are
/// not handed off.
fn session_defaults(client: &mut Client) -> std::result::Result<(), postgres::Error> {
    client.batch_execute(
        "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED;
         SET lock_timeout = 0",
    )
}

/// The server's idle timeouts for this session, read at open: a
/// connection idle for half of one is opened again before use
/// ([`stale`]).
#[derive(Clone, Copy, Default)]
struct IdleLimits {
    /// `idle_session_timeout` (PostgreSQL 14 and later): outside a
    /// transaction.
    session: Option<Duration>,
    /// `idle_in_transaction_session_timeout`: a connection left in a
    /// transaction that holds nothing (a busy try for the lock, rolled
    /// back lazily by the next call).
    transaction: Option<Duration>,
}

impl IdleLimits {
    /// The limits set for this session (none where 0, or unknown).
    fn read(client: &mut Client) -> std::result::Result<IdleLimits, postgres::Error> {
        let mut limits = IdleLimits::default();
        for row in client.query(
            "SELECT name::TEXT, setting::TEXT FROM pg_settings
                 WHERE name IN ('idle_session_timeout', 'idle_in_transaction_session_timeout')",
            &[],
        )? {
            let name: String = row.try_get(0)?;
            let millis: String = row.try_get(1)?;
            let limit = millis
                .parse::<u64>()
                .ok()
                .filter(|&ms| ms > 0)
                .map(Duration::from_millis);
            match name.as_str() {
                "idle_session_timeout" => limits.session = limit,
                _ => limits.transaction = limit,
            }
        }
        Ok(limits)
    }

    /// Whether `conn` has sat idle long enough for the server to end it
    /// before a statement reaches it. A connection holding the append lock
    /// counts too, while it holds no answers for queued events (those
    /// commit with the lock or not at all): the engine staged a large
    /// group under the lock for longer than half the
    /// `idle_in_transaction_session_timeout`. Giving the lock up then is
    /// safe: every append is conditional on the head, with or without it.
    fn outlived(&self, conn: &Conn) -> bool {
        match (conn.locked, conn.open_tx) {
            (true, _) => conn.answers.is_empty() && stale(conn.used, self.transaction),
            (false, true) => stale(conn.used, self.transaction),
            (false, false) => stale(conn.used, self.session),
        }
    }
}

/// Whether `e` says the server ended the connection, and with it any
/// transaction on it: its message (`25P03` for an idle transaction,
/// `57P01`/`57P02` for a terminated backend), or, when the socket closed
/// before it was read, an error of the connection (no SQL state).
fn ended_by_server(e: &postgres::Error) -> bool {
    e.code().is_none_or(|code| {
        [
            SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
        ]
        .contains(code)
    })
}

/// Whether a connection last used at `used` may have been closed by the
/// server's `idle_session_timeout` or `idle_in_transaction_session_timeout`
/// (`limit`) by the time a statement reaches it: idle for half the limit
/// or more. Such a connection holding nothing is opened again before the
/// call rather than fail it (before, the call after a pause failed with
/// `57P05`, or `25P03` after a busy try for the lock). Half leaves the statement
/// the other half to arrive; a connection the server ended otherwise (a
/// terminated backend, a restart) still fails the call that meets it.
fn stale(used: Instant, limit: Option<Duration>) -> bool {
    limit.is_some_and(|limit| used.elapsed() >= limit / 2)
}

/// When a writer that meets contention hands its single events to the
/// append lock's holder (group commit across writers, see the crate docs)
/// instead of taking the lock in turn. [`PostgresStore::set_group_commit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupCommit {
    /// When this store's durable commits are slow: its commit time
    /// ([`PostgresStore::commit_time`], the fastest of its recent small
    /// appends) is at least [`SLOW_COMMIT`] (a disk whose flush takes
    /// milliseconds, a synchronous standby in another zone). With fast
    /// local commits the lock alone does as much with a lower latency
    /// (`benches/README.md`, "Round 9" and "Round 16").
    #[default]
    Auto,
    /// Always, under contention (tests, and hosts that know their commits
    /// are slow).
    Always,
    /// Never: the append lock alone.
    Never,
}

impl GroupCommit {
    /// The mode named `auto`, `always` or `never` (what the Python and Node
    /// bindings take); anything else is `malformed`, naming `field`.
    pub fn parse(text: &str, field: &str) -> Result<GroupCommit> {
        match text {
            "auto" => Ok(GroupCommit::Auto),
            "always" => Ok(GroupCommit::Always),
            "never" => Ok(GroupCommit::Never),
            other => Err(Error::new(
                ErrorKind::Malformed,
                field,
                format!("{field} is {other:?}; it is \"auto\", \"always\" or \"never\""),
            )),
        }
    }
}

/// The commit time from which [`GroupCommit::Auto`] hands events
/// off. Measured on the 2-core machine of `benches/README.md`, 4 writers
/// of single events: with 4 ms commits the hand-off got 1.5-1.6x the
/// lock's rate (and 1.6-1.8x one writer's; round 9); with a synchronous
/// standby (commits of 0.5-0.6 ms) 1.06-1.36x since its statements are
/// prepared (round 16; 1.09-1.22x before); with local 0.3 ms commits about
/// 1x, with a lower latency for the lock (rounds 11 and 16). It stays at
/// 1 ms because the commit time a store measures rises with contention
/// on a loaded machine: at the end of round 16's runs it was 0.27-0.59 ms
/// with local commits and 0.53-0.85 ms with the standby, so no lower
/// threshold told the two apart, and a writer whose time wavered about
/// one (0.5 ms, tried) switched paths back and forth, with waits of 20 ms.
pub const SLOW_COMMIT: Duration = Duration::from_millis(1);

/// Appends of at most this many events are timed for [`GroupCommit::Auto`]
/// (a large batch's time is its rows', not its commit's).
pub const TIMED_APPEND_EVENTS: usize = 16;

/// A writer's second connection, for handing events off: its session
/// commits asynchronously (queueing an event stores nothing a crash must
/// keep: a holder's durable commit flushes it with everything before it)
/// and listens on [`CHANNEL`], so a waiting writer hears the holder's
/// commits while the main connection stays free.
struct QueueConn {
    client: Client,
    enqueue: Statement,
    answer: Statement,
    /// When it was opened, or its last statement ended ([`stale`]).
    used: Instant,
}

impl QueueConn {
    fn open(config: &Config) -> std::result::Result<QueueConn, postgres::Error> {
        let mut client = config.connect(NoTls)?;
        session_defaults(&mut client)?;
        client.batch_execute(&format!("SET synchronous_commit TO OFF; LISTEN {CHANNEL}"))?;
        Ok(QueueConn {
            enqueue: client.prepare(ENQUEUE)?,
            answer: client.prepare(ANSWER)?,
            used: Instant::now(),
            client,
        })
    }
}

/// An Upline store: one programme's log in a PostgreSQL (or CockroachDB)
/// database.
pub struct PostgresStore {
    /// `None` after a failed reconnection (the next call tries again).
    conn: RefCell<Option<Conn>>,
    config: Config,
    server: Server,
    programme: String,
    /// Statements sent to the server (each one round trip).
    round_trips: Cell<u64>,
    /// This handle's last queued event's ticket: its answer row is
    /// dropped when the next event is queued.
    last_ticket: Cell<Option<u64>>,
    /// The queue connection, opened at the first hand-off.
    queue: RefCell<Option<QueueConn>>,
    /// The busy lock's wait: [`WAIT`] on PostgreSQL, [`WAIT_PLAIN`] on
    /// CockroachDB (told by `version()` at open).
    wait: &'static str,
    /// The server is CockroachDB (`version()` at open).
    cockroach: bool,
    /// When to hand events off, and this handle's commit time in
    /// microseconds ([`PostgresStore::commit_time`]; 0 until measured).
    group_commit: GroupCommit,
    commit_micros: Cell<u64>,
    /// A large group's events streaming into a `COPY` under the append
    /// lock ([`Store::send_ahead`]); the connection is its thread's.
    ahead: RefCell<Option<ahead::Stream>>,
    /// A second connection for the reads a stream's stager makes (the
    /// stored hash of a retried event) while the first streams.
    side: RefCell<Option<(Client, Instant)>>,
    /// The server's idle timeouts, read at open ([`IdleLimits`]).
    idle: IdleLimits,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("server", &self.server.name)
            .field("programme", &self.programme)
            .finish_non_exhaustive()
    }
}

/// The connection that held the append lock was lost before its commit,
/// so its transaction rolled back: nothing of the append was stored.
fn lock_lost() -> Error {
    Error::general(
        ErrorKind::Storage,
        "postgres: the connection holding the append lock was lost before its commit; \
         nothing was stored",
    )
}

/// What a refusal to write (`25006`) adds: why, and what to do.
const READ_ONLY_HINT: &str = "; this server or database takes no writes \
     (default_transaction_read_only is on, or it is a standby): point writers at the primary";

/// What a missing privilege (`42501`) adds: what the store needs.
const PRIVILEGE_HINT: &str = "; a role without CREATE on the schema opens a database \
     whose owner opened it first, with GRANT SELECT, INSERT, UPDATE, DELETE ON the upline_* \
     tables and GRANT USAGE ON SEQUENCE upline_tickets";

/// What a session without a schema (`3F000`: an empty `search_path`, or
/// one naming no schema that exists) adds.
const SCHEMA_HINT: &str = "; the session's search_path names no schema that exists: \
     the store's tables live in the first one (set it for the role or database, or in the URL: \
     ?options=-csearch_path%3Dbooks)";

/// An error with its causes: rust-postgres shows a server's refusal as
/// "db error" and a failed connection as "error connecting to server", the
/// reason (authentication failed, connection refused, no such database)
/// being in its source.
fn detail(err: &postgres::Error) -> String {
    let mut text = err.to_string();
    if let Some(db) = err.as_db_error() {
        text = format!("{text}: {} ({})", db.message(), db.code().code());
        if db.code() == &SqlState::READ_ONLY_SQL_TRANSACTION {
            text.push_str(READ_ONLY_HINT);
        } else if db.code() == &SqlState::INSUFFICIENT_PRIVILEGE {
            text.push_str(PRIVILEGE_HINT);
        } else if db.code() == &SqlState::INVALID_SCHEMA_NAME {
            text.push_str(SCHEMA_HINT);
        }
        return text;
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// Removes a password from a connection string's own error text: the
/// `user:password@` of a URL and a `password=` pair.
fn scrub(text: &str, url: &str) -> String {
    let mut out = text.to_string();
    if let Some(rest) = url.split_once("://").map(|(_, rest)| rest) {
        let userinfo = rest.split(['/', '?']).next().unwrap_or("");
        if let Some((info, _)) = userinfo.rsplit_once('@') {
            if let Some((_, password)) = info.split_once(':') {
                if !password.is_empty() {
                    out = out.replace(password, "***");
                }
            }
        }
    }
    for pair in url.split_whitespace() {
        if let Some(password) = pair.strip_prefix("password=") {
            if !password.is_empty() {
                out = out.replace(password, "***");
            }
        }
    }
    out
}

impl PostgresStore {
    /// Connects to `url` (`postgresql://user:password@host:port/dbname`,
    /// or the `key=value` form) and opens `programme`'s log, creating or
    /// migrating the schema. `storage` naming the host and the reason when
    /// the URL is bad, the server unreachable or the credentials wrong;
    /// `invalid_id` for a bad programme id.
    pub fn open(url: &str, programme: &str) -> Result<PostgresStore> {
        PostgresStore::connect(url, programme, true)
    }

    /// Opens `programme`'s log for a reader that must not create anything
    /// (the `upline` command's `verify`, `head`, `export`, …): the schema
    /// is never created or migrated and the programme never registered,
    /// even where the server takes writes. A database without this build's
    /// schema, or a programme it holds nothing of (no events, no snapshot,
    /// never opened by a writer), is a `storage` error naming it, so a
    /// mistyped name is not read as an empty programme. Writes through the
    /// store are not refused: the server decides.
    pub fn open_existing(url: &str, programme: &str) -> Result<PostgresStore> {
        PostgresStore::connect(url, programme, false)
    }

    /// [`open`](Self::open) (`create`) or [`open_existing`](Self::open_existing).
    fn connect(url: &str, programme: &str, create: bool) -> Result<PostgresStore> {
        upline::check_id(programme, "programme")?;
        let mut config = Config::from_str(url).map_err(|e| {
            Error::general(
                ErrorKind::Storage,
                format!(
                    "postgres: cannot parse the connection URL \
                     (postgresql://user:password@host:port/dbname): {}",
                    scrub(&detail(&e), url)
                ),
            )
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let server = Server::of(&config);
        let mut client = config
            .connect(NoTls)
            .map_err(|e| server.error("cannot connect", scrub(&detail(&e), url)))?;
        let version: String = client
            .query_one("SELECT version()", &[])
            .and_then(|row| row.try_get(0))
            .map_err(|e| server.failed("cannot read the server's version", &e))?;
        let cockroach = version.contains("CockroachDB");
        if !cockroach {
            session_defaults(&mut client).map_err(|e| server.failed("cannot connect", &e))?;
        }
        let read_only = client
            .simple_query("SHOW transaction_read_only")
            .map(|messages| {
                messages
                    .iter()
                    .any(|m| matches!(m, SimpleQueryMessage::Row(row) if row.get(0) == Some("on")))
            })
            .map_err(|e| server.failed("cannot tell whether the server takes writes", &e))?;
        let idle = match cockroach {
            true => IdleLimits::default(),
            false => IdleLimits::read(&mut client)
                .map_err(|e| server.failed("cannot read the idle timeouts", &e))?,
        };
        if read_only || !create {
            // A standby, or `default_transaction_read_only`: followers
            // read here; writers are refused at their first write.
            check_schema(&mut client, &server, read_only)?;
            check_programme(&mut client, &server, programme, read_only)?;
        } else {
            if let Err(first) = migrate(&mut client, &server) {
                // The server ended the connection inside the migration's
                // transaction: an `idle_in_transaction_session_timeout`
                // shorter than a pause of this process between two of its
                // statements (a loaded machine), or a terminated backend.
                // The migration is idempotent: once more, on a new
                // connection.
                if !client.is_closed() {
                    return Err(first);
                }
                client = config
                    .connect(NoTls)
                    .map_err(|e| server.error("cannot connect", scrub(&detail(&e), url)))?;
                if !cockroach {
                    session_defaults(&mut client)
                        .map_err(|e| server.failed("cannot connect", &e))?;
                }
                migrate(&mut client, &server)?;
            }
            let format = i64::from(upline::audit::FORMAT);
            client
                .execute(REGISTER, &[&programme, &format])
                .map_err(|e| server.failed("cannot record the programme's audit format", &e))?;
        }
        let wait = if cockroach { WAIT_PLAIN } else { WAIT };
        let conn =
            Conn::prepare(client, !cockroach).map_err(|e| server.failed("cannot prepare", &e))?;
        Ok(PostgresStore {
            conn: RefCell::new(Some(conn)),
            config,
            server,
            programme: programme.to_string(),
            round_trips: Cell::new(0),
            last_ticket: Cell::new(None),
            queue: RefCell::new(None),
            wait,
            cockroach,
            group_commit: GroupCommit::default(),
            commit_micros: Cell::new(0),
            ahead: RefCell::new(None),
            side: RefCell::new(None),
            idle,
        })
    }

    /// How many statements (each one round trip to the server) this store
    /// has sent since it was opened, not counting the connection's own
    /// set-up: for tests and benchmarks that count what a call costs.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.get()
    }

    /// The programme this store holds.
    pub fn programme(&self) -> &str {
        &self.programme
    }

    /// Sets when this writer hands its single events to the append lock's
    /// holder under contention ([`GroupCommit`]; [`GroupCommit::Auto`] by
    /// default).
    pub fn set_group_commit(&mut self, mode: GroupCommit) {
        self.group_commit = mode;
    }

    /// When this writer hands its single events off.
    pub fn group_commit(&self) -> GroupCommit {
        self.group_commit
    }

    /// This handle's commit time: the fastest of its recent durable
    /// appends of at most [`TIMED_APPEND_EVENTS`] events, let rise 1/64 an
    /// append (`None` before the first): what [`GroupCommit::Auto`]
    /// compares with [`SLOW_COMMIT`]. Not an average: waiting behind other
    /// writers lengthens appends, not commits.
    pub fn commit_time(&self) -> Option<Duration> {
        let micros = self.commit_micros.get();
        (micros > 0).then(|| Duration::from_micros(micros))
    }

    /// Adds a stored append's time to the commit-time floor (appends of
    /// at most [`TIMED_APPEND_EVENTS`] events).
    fn time_commit(&self, events: usize, started: std::time::Instant) {
        if events == 0 || events > TIMED_APPEND_EVENTS {
            return;
        }
        // At least 1: 0 means nothing measured yet.
        let micros = u64::try_from(started.elapsed().as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        // Contention only adds to an append's time (waiting behind the
        // lock's holder), so the commit's own cost is the floor: the
        // fastest recent append, let rise 1/64 an append so that a disk
        // that slows down is seen within a few hundred appends.
        let floor = self.commit_micros.get();
        self.commit_micros.set(match floor {
            0 => micros,
            _ => micros.min(floor.saturating_add(floor / 64 + 1)),
        });
    }

    /// Whether this writer hands its events off now.
    fn hands_off(&self) -> bool {
        if self.cockroach {
            // No LISTEN/NOTIFY there.
            return false;
        }
        match self.group_commit {
            GroupCommit::Always => true,
            GroupCommit::Never => false,
            GroupCommit::Auto => u128::from(self.commit_micros.get()) >= SLOW_COMMIT.as_micros(),
        }
    }

    /// Number of stored events of this programme.
    pub fn len(&self) -> Result<u64> {
        self.head()
    }

    /// Whether no event of this programme is stored.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.head()? == 0)
    }

    /// Runs `work` on the connection, reconnecting first when the last
    /// one was closed (a server restart, a network cut).
    fn with_conn<T>(
        &self,
        context: &str,
        work: impl FnOnce(&mut Conn) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        // Any other use of the store ends a stream that was never appended.
        self.abandon_ahead();
        let mut slot = self.conn.try_borrow_mut().map_err(|_| {
            Error::general(ErrorKind::Internal, "the store was entered twice at once")
        })?;
        // A connection the server closed between calls, holding nothing,
        // is opened again rather than fail this call.
        if slot.as_ref().is_some_and(|conn| self.idle.outlived(conn)) {
            *slot = None;
        }
        if slot.as_ref().is_none_or(|conn| conn.client.is_closed()) {
            *slot = None;
            let mut client = self
                .config
                .connect(NoTls)
                .map_err(|e| self.server.failed("cannot reconnect", &e))?;
            if !self.cockroach {
                session_defaults(&mut client)
                    .map_err(|e| self.server.failed("cannot reconnect", &e))?;
            }
            let conn = Conn::prepare(client, !self.cockroach)
                .map_err(|e| self.server.failed("cannot prepare", &e))?;
            *slot = Some(conn);
        }
        self.round_trips.set(self.round_trips.get() + 1);
        if let Some(conn) = slot.as_mut().filter(|conn| conn.open_tx) {
            conn.open_tx = false;
            self.round_trips.set(self.round_trips.get() + 1);
            conn.client
                .batch_execute("ROLLBACK")
                .map_err(|e| self.server.failed(context, &e))?;
        }
        match slot.as_mut() {
            Some(conn) => {
                let done = work(conn).map_err(|e| self.server.failed(context, &e));
                conn.used = Instant::now();
                done
            }
            None => Err(Error::general(ErrorKind::Internal, "no connection")),
        }
    }

    fn seq_param(seq: u64) -> Result<i64> {
        i64::try_from(seq)
            .map_err(|_| Error::general(ErrorKind::Storage, "sequence number out of range"))
    }
}

/// Creates or migrates the schema, refusing tables of another
/// application and newer schemas.
fn migrate(client: &mut Client, server: &Server) -> Result<()> {
    let err = |context: &str| {
        let server = server.clone();
        let context = context.to_string();
        move |e: postgres::Error| server.failed(&context, &e)
    };
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::TEXT FROM information_schema.tables
                 WHERE table_schema = current_schema()
                   AND table_name IN ('upline_meta', 'upline_events', 'upline_snapshots',
                                      'upline_programmes', 'upline_queue', 'upline_answers')",
            &[],
        )
        .map_err(err("cannot list tables"))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let has_meta = tables.iter().any(|t| t == "upline_meta");
    if !has_meta && !tables.is_empty() {
        return Err(foreign(
            server,
            &format!("it has {} but no upline_meta", tables.join(", ")),
        ));
    }
    if !has_meta {
        client
                .batch_execute(
                    "CREATE TABLE IF NOT EXISTS upline_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                )
                .map_err(err("cannot create upline_meta"))?;
    }
    let mut tx = client
        .transaction()
        .map_err(err("cannot start the migration"))?;
    // Locks the version row: processes opening a fresh database
    // together migrate one after the other.
    let marked = tx.execute(
        "INSERT INTO upline_meta (key, value) VALUES ('application', $1), ('schema_version', '0')
             ON CONFLICT (key) DO NOTHING",
        &[&APPLICATION],
    );
    if let Err(e) = marked {
        drop(tx);
        // Columns or constraints that are not Upline's are another
        // application's table; anything else (a missing privilege, a
        // read-only server, a lost connection) is said as it is.
        let code = e.code().map_or("", |code| code.code());
        let theirs = (code.starts_with("42") && code != "42501") || code.starts_with("23");
        return Err(match theirs {
            true => foreign(
                server,
                &format!("upline_meta is not Upline's ({})", detail(&e)),
            ),
            false => server.failed("cannot mark the schema's version", &e),
        });
    }
    let rows = tx
        .query(
            "SELECT key, value FROM upline_meta
                 WHERE key IN ('application', 'schema_version') FOR UPDATE",
            &[],
        )
        .map_err(err("cannot read upline_meta"))?;
    let mut application = None;
    let mut version = None;
    for row in &rows {
        let key: String = row.get(0);
        let value: String = row.get(1);
        match key.as_str() {
            "application" => application = Some(value),
            _ => version = Some(value),
        }
    }
    if application.as_deref() != Some(APPLICATION) {
        drop(tx);
        return Err(foreign(
            server,
            &format!(
                "upline_meta names the application {:?}",
                application.unwrap_or_default()
            ),
        ));
    }
    let version: i32 = version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| server.error("upline_meta", "schema_version is not a number"))?;
    if version > SCHEMA_VERSION {
        return Err(server.error(
            "cannot open the store",
            format!(
                "the database has Upline schema version {version}, newer than the \
                     {SCHEMA_VERSION} this build knows; upgrade Upline"
            ),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        tx.batch_execute(sql)
            .map_err(err(&format!("migration to version {}", i + 1)))?;
    }
    if version < SCHEMA_VERSION {
        tx.execute(
            "UPDATE upline_meta SET value = $1 WHERE key = 'schema_version'",
            &[&SCHEMA_VERSION.to_string()],
        )
        .map_err(err("cannot record the schema version"))?;
    }
    tx.commit().map_err(err("cannot commit the migration"))
}

/// On a server that takes no writes (`transaction_read_only`: a standby,
/// or `default_transaction_read_only`), where nothing can be created or
/// migrated: checks that the schema is Upline's and this build's version.
fn check_schema(client: &mut Client, server: &Server, takes_no_writes: bool) -> Result<()> {
    let read_only = |why: &str| match takes_no_writes {
        true => server.error(
            "cannot open the store",
            format!(
                "this server or database takes no writes (default_transaction_read_only is \
                 on, or it is a standby) and {why}; open it once where it takes writes"
            ),
        ),
        false => server.error(
            "cannot open the store",
            format!(
                "the database {why}; a writer's first opening creates or migrates it (nothing \
                 was changed)"
            ),
        ),
    };
    let rows = client
        .query(
            "SELECT key, value FROM upline_meta WHERE key IN ('application', 'schema_version')",
            &[],
        )
        .map_err(|e| match e.code() {
            Some(&SqlState::UNDEFINED_TABLE) => read_only("holds no Upline schema yet"),
            _ => server.failed("cannot read upline_meta", &e),
        })?;
    let value = |key: &str| {
        rows.iter()
            .find(|row| row.try_get::<_, String>(0).ok().as_deref() == Some(key))
            .and_then(|row| row.try_get::<_, String>(1).ok())
    };
    if value("application").as_deref() != Some(APPLICATION) {
        return Err(foreign(server, "upline_meta names another application"));
    }
    let version: i32 = value("schema_version")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| server.error("upline_meta", "schema_version is not a number"))?;
    match version.cmp(&SCHEMA_VERSION) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Less => Err(read_only(&format!(
            "has Upline schema version {version}, older than the {SCHEMA_VERSION} this build \
             reads"
        ))),
        std::cmp::Ordering::Greater => Err(server.error(
            "cannot open the store",
            format!(
                "the database has Upline schema version {version}, newer than the \
                 {SCHEMA_VERSION} this build knows; upgrade Upline"
            ),
        )),
    }
}

/// What a hand-off query answered ([`PostgresStore::hand_off_query`]).
#[derive(Default)]
struct HandOffRows {
    held: bool,
    own: Ticket,
    events: Vec<StoredEvent>,
    queued: Vec<Queued>,
}

fn foreign(server: &Server, why: &str) -> Error {
    server.error(
        "cannot open the store",
        format!(
            "the database holds upline_* tables of another application, not an \
                 Upline store ({why})"
        ),
    )
}

/// Lowercase hexadecimal text of `bytes`.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    text
}

/// Bytes from hexadecimal text (`encode(hash, 'hex')`); a damaged text
/// reads as no bytes, which no event's hash matches.
fn unhex(text: &str) -> Vec<u8> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return Vec::new();
    }
    let value = |d: u8| (d as char).to_digit(16);
    let mut bytes = Vec::with_capacity(digits.len() / 2);
    for pair in digits.chunks(2) {
        match (value(pair[0]), value(pair[1])) {
            (Some(high), Some(low)) => bytes.push((high * 16 + low) as u8),
            _ => return Vec::new(),
        }
    }
    bytes
}

/// A row's hash; a damaged one reads as a hash no event matches, so
/// verification reports it at its sequence number.
fn hash_of(bytes: &[u8]) -> Hash {
    <[u8; 32]>::try_from(bytes).map(Hash).unwrap_or(Hash::ZERO)
}

/// The statements of [`PostgresStore::append_in_parts`] on `conn`: `BEGIN`
/// unless `locked`, the first part in the conditional [`APPEND`], the rest
/// in [`INSERT_PART`], then (unless `locked`) `COMMIT`, or `ROLLBACK` when
/// the first part found the head moved. Answers the head the first part read (the group's
/// `expected` when it stored) and, when it did not store, the events
/// after `expected` it returned.
fn insert_parts(
    conn: &mut Conn,
    events: &[StoredEvent],
    locked: bool,
    programme: &str,
    expected: i64,
    page: i64,
) -> std::result::Result<(Option<i64>, Vec<postgres::Row>), postgres::Error> {
    if !locked {
        conn.client.batch_execute("BEGIN")?;
    }
    let mut head = None;
    let mut missing = Vec::new();
    for (i, part) in events.chunks(PART).enumerate() {
        // Seqs were checked to fit an INT8 by the caller.
        let seqs: Vec<i64> = part
            .iter()
            .map(|e| i64::try_from(e.seq).unwrap_or(i64::MAX))
            .collect();
        let texts: Vec<&str> = part.iter().map(|e| e.event.as_str()).collect();
        let hashes: Vec<&[u8]> = part.iter().map(|e| &e.hash.0[..]).collect();
        if i > 0 {
            conn.client
                .execute(INSERT_PART, &[&programme, &seqs, &texts, &hashes])?;
            continue;
        }
        let rows = conn.client.query(
            &conn.append,
            &[&programme, &seqs, &texts, &hashes, &expected, &page],
        )?;
        for row in rows {
            match row.try_get::<_, Option<String>>(1)? {
                None => head = Some(row.try_get::<_, i64>(0)?),
                Some(_) => missing.push(row),
            }
        }
        if head != Some(expected) {
            break;
        }
    }
    if !locked {
        // Ended here, on the connection that began it: nothing between the
        // statements and their `COMMIT` could swap the connection.
        let end = if head == Some(expected) {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        conn.client.batch_execute(end)?;
    }
    Ok((head, missing))
}

impl PostgresStore {
    /// Ends a stream of events sent ahead that no append took: its `COPY`
    /// is aborted and the lock's transaction rolled back (the writer's
    /// engine rolls its group back as after any failed append).
    fn abandon_ahead(&self) {
        let Some(ahead) = self.ahead.try_borrow_mut().ok().and_then(|mut a| a.take()) else {
            return;
        };
        if let (Some(mut conn), Ok(mut slot)) = (ahead.abandon(), self.conn.try_borrow_mut()) {
            conn.locked = false;
            conn.answers.clear();
            // Failed: the connection is reopened by the next call.
            if conn.client.batch_execute("ROLLBACK").is_ok() {
                *slot = Some(conn);
            }
        }
    }

    /// The append of a group whose first events were sent ahead: the rest
    /// goes to the stream, the `COPY` ends, and one simple query checks
    /// that the group follows the locked head (the event before it is
    /// stored) and commits, which releases the lock. A primary key
    /// violation in the `COPY`, or a failed check, is a `conflict`.
    fn append_ahead(&mut self, events: &[StoredEvent], limit: usize) -> Result<Appended> {
        let Some(ahead) = self.ahead.get_mut().take() else {
            return Err(Error::general(
                ErrorKind::Internal,
                "no events were sent ahead",
            ));
        };
        // A stream begun empty and never sent to: the group starts it.
        let first = ahead.first().or(events.first().map(|e| e.seq));
        let Some(first) = first else {
            // Nothing to store: the stream ends, and with it the lock.
            *self.ahead.get_mut() = Some(ahead);
            self.abandon_ahead();
            return Ok(Appended::Stored);
        };
        let expected = first.saturating_sub(1);
        // Consecutive from the first event sent: then its first `sent`
        // are the seqs that were sent.
        let begins = events.len() >= ahead.sent() && check_append(expected, events).is_ok();
        if !begins {
            *self.ahead.get_mut() = Some(ahead);
            self.abandon_ahead();
            return Err(Error::general(
                ErrorKind::Internal,
                format!(
                    "an append that does not continue the events sent ahead from seq {}",
                    expected.saturating_add(1)
                ),
            ));
        }
        let rest = &events[ahead.sent()..];
        Self::seq_param(expected.saturating_add(events.len() as u64))?;
        let Some((conn, copied)) = ahead.finish(rest) else {
            return Err(self.server.error(
                "append",
                "the stream's writer stopped; the connection is reopened",
            ));
        };
        if let Err(e) = &copied {
            if ended_by_server(e) && conn.answers.is_empty() {
                // The server ended the lock's transaction with its
                // connection before the commit was sent: the engine staged
                // a part for longer than the session's
                // `idle_in_transaction_session_timeout`, or an admin
                // terminated the backend. None of the group was stored,
                // and the lock is free. The group goes whole in a plain
                // conditional append, on a new connection, as a group
                // that was never sent ahead.
                drop(conn);
                *self.conn.get_mut() = None;
                return self.append_or_missing(events, limit);
            }
        }
        // The stream's thread used it until now.
        let mut conn = conn;
        conn.used = Instant::now();
        *self.conn.get_mut() = Some(conn);
        let failed = match copied {
            Ok(Some(rows)) if rows == events.len() as u64 => None,
            Ok(rows) => Some(self.server.error(
                "append",
                format!("the COPY stored {rows:?} rows of {}", events.len()),
            )),
            Err(e)
                if matches!(
                    e.code(),
                    Some(&SqlState::UNIQUE_VIOLATION) | Some(&SqlState::T_R_SERIALIZATION_FAILURE)
                ) =>
            {
                // Raced (the lock was lost with its connection), or a
                // `SERIALIZABLE` transaction refused: nothing stored.
                self.end_lock(false)?;
                return Ok(Appended::Conflict(self.missing(expected, limit)?));
            }
            Err(e) => Some(self.server.failed(
                &format!("cannot store events from {}", expected.saturating_add(1)),
                &e,
            )),
        };
        if let Some(err) = failed {
            let _ = self.end_lock(false);
            return Err(err);
        }
        let programme = literal(&self.programme);
        let queue_answered = self
            .conn
            .get_mut()
            .as_ref()
            .is_some_and(|conn| !conn.answers.is_empty());
        let answered = self.with_conn("append", |conn| {
            let notify = std::mem::take(&mut conn.answers).statements(&self.programme, false);
            // A connection opened again holds no transaction to commit.
            if !conn.locked {
                return Ok(None);
            }
            // Nothing before the group (a writer behind its head) divides
            // by zero, which aborts the transaction before the `COMMIT`.
            let answered = conn.client.simple_query(&format!(
                "SELECT 'follows'::TEXT, (1 / ({expected} = 0 OR EXISTS (
                     SELECT 1 FROM upline_events WHERE programme = {programme}
                     AND seq = {expected}))::INT)::TEXT;
                 {notify}COMMIT"
            ));
            conn.locked = false;
            Ok(Some(answered))
        })?;
        let Some(answered) = answered else {
            return Err(lock_lost());
        };
        match answered {
            Ok(_) => Ok(Appended::Stored),
            Err(e)
                if matches!(
                    e.code(),
                    Some(&SqlState::DIVISION_BY_ZERO) | Some(&SqlState::T_R_SERIALIZATION_FAILURE)
                ) =>
            {
                self.with_conn("cannot roll back", |conn| {
                    conn.client.batch_execute("ROLLBACK")
                })?;
                Ok(Appended::Conflict(self.missing(expected, limit)?))
            }
            Err(e)
                if e.code() == Some(&SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT)
                    && !queue_answered =>
            {
                // The server ended the lock's transaction before the
                // check and `COMMIT` reached it (idle while the engine read
                // the stored hashes of retries after the last part, say):
                // nothing was stored. As for a stream cut above.
                *self.conn.get_mut() = None;
                self.append_or_missing(events, limit)
            }
            Err(e) => {
                let err = self.server.failed(
                    &format!("cannot store events from {}", expected.saturating_add(1)),
                    &e,
                );
                let _ = self.with_conn("cannot roll back", |conn| {
                    conn.client.batch_execute("ROLLBACK")
                });
                Err(err)
            }
        }
    }

    /// A query on the side connection (opened at its first use): reads a
    /// stream's stager makes while the main connection streams.
    fn side_query(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Option<postgres::Row>> {
        let mut slot = self.side.try_borrow_mut().map_err(|_| {
            Error::general(ErrorKind::Internal, "the store was entered twice at once")
        })?;
        if slot
            .as_ref()
            .is_none_or(|(client, used)| client.is_closed() || stale(*used, self.idle.session))
        {
            let mut client = self
                .config
                .connect(NoTls)
                .map_err(|e| self.server.failed("cannot connect", &e))?;
            session_defaults(&mut client).map_err(|e| self.server.failed("cannot connect", &e))?;
            *slot = Some((client, Instant::now()));
        }
        self.round_trips.set(self.round_trips.get() + 1);
        match slot.as_mut() {
            Some((client, used)) => {
                let row = client
                    .query_opt(sql, params)
                    .map_err(|e| self.server.failed("cannot read a stored hash", &e));
                *used = Instant::now();
                row
            }
            None => Err(Error::general(ErrorKind::Internal, "no connection")),
        }
    }

    /// Ends the fairness lock's transaction, if this connection holds one:
    /// `COMMIT` after a stored append, else `ROLLBACK`.
    fn end_lock(&self, commit: bool) -> Result<()> {
        if !self.holds_lock() {
            return Ok(());
        }
        let committed = self.with_conn("cannot end the append lock", |conn| {
            // A connection opened again (the lock's was lost) holds no
            // transaction: its `COMMIT` would commit nothing.
            if !std::mem::replace(&mut conn.locked, false) && commit {
                return Ok(false);
            }
            let answers = std::mem::take(&mut conn.answers).statements(&self.programme, false);
            if commit {
                conn.client.batch_execute(&format!("{answers}COMMIT"))?;
            } else {
                conn.client.batch_execute("ROLLBACK")?;
            }
            Ok(true)
        })?;
        match committed {
            true => Ok(()),
            false => Err(lock_lost()),
        }
    }

    /// [`fill`] for this store's dialect and programme.
    fn fill(
        &self,
        template: &str,
        waits: bool,
        after: u64,
        limit: usize,
        ticket: Option<u64>,
    ) -> Result<String> {
        let ticket = match ticket {
            Some(ticket) => Self::seq_param(ticket)?,
            None => -1,
        };
        Ok(fill(
            template,
            self.cockroach,
            waits,
            &self.programme,
            Self::seq_param(after)?,
            limit,
            ticket,
        ))
    }

    /// Runs one of the lock queries ([`LOCK`], [`TRY_LOCK`], [`WAIT`]):
    /// whether the programme's row came back (locked), and the events
    /// after `after`, at most `limit`; `waits` when the template waits for
    /// the lock ([`LOCK`]). The connection is then in the lock's
    /// transaction (noted as holding the lock); on a failure it is rolled
    /// back.
    fn lock_query(
        &self,
        template: &str,
        waits: bool,
        after: u64,
        limit: usize,
    ) -> Result<(bool, Missing)> {
        let sql = self.fill(template, waits, after, limit, None)?;
        let answered = self.with_conn("cannot take the append lock", |conn| {
            let answered = conn.client.simple_query(&sql);
            conn.locked = answered.is_ok();
            Ok(answered)
        })?;
        let messages = match answered {
            Ok(messages) => messages,
            Err(e) => {
                let err = self.server.failed("cannot take the append lock", &e);
                // A failed statement may leave the transaction open.
                let _ = self.with_conn("cannot roll back", |conn| {
                    conn.client.batch_execute("ROLLBACK")
                });
                return Err(err);
            }
        };
        let mut held = false;
        let mut events = Vec::new();
        for message in messages {
            let SimpleQueryMessage::Row(row) = message else {
                continue;
            };
            // The lock's own row has one column.
            if row.len() != 3 {
                held = true;
                continue;
            }
            let seq = row.get(0).and_then(|seq| seq.parse::<u64>().ok());
            let Some(seq) = seq else {
                let _ = self.end_lock(false);
                return Err(self.server.error("append lock", "a row without a seq"));
            };
            let hash = row.get(2).map(unhex).unwrap_or_default();
            events.push(StoredEvent {
                seq,
                event: row.get(1).unwrap_or_default().to_string(),
                hash: hash_of(&hash),
            });
        }
        let head = events.last().map_or(after, |e| e.seq);
        Ok((
            held,
            Missing {
                head,
                events: (events.len() <= limit).then_some(events),
            },
        ))
    }

    /// Notes that the lock's transaction ended.
    fn forget_lock(&self) {
        if let Ok(mut slot) = self.conn.try_borrow_mut() {
            if let Some(conn) = slot.as_mut() {
                conn.locked = false;
                conn.answers.clear();
            }
        }
    }

    /// [`with_conn`](Self::with_conn) for a read, tried once more on a new
    /// connection when the server had ended the first (`25P03`, a
    /// terminated backend `57P01`/`57P02`, or an error of the connection
    /// rather than of the query: typically the append lock's, idle in its
    /// transaction while the engine staged a large group; the lock went
    /// with it, and a read needs none). A read is safe to send again; a
    /// server that is really gone fails the second try too.
    fn with_read_conn<T>(
        &self,
        context: &str,
        work: impl Fn(&mut Conn) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        let mut ended = false;
        let first = self.with_conn(context, |conn| {
            work(conn).inspect_err(|e| ended = ended_by_server(e))
        });
        match first {
            Err(_) if ended => {
                // Whatever the client knows yet, the next try opens anew.
                if let Ok(mut slot) = self.conn.try_borrow_mut() {
                    *slot = None;
                }
                self.with_conn(context, work)
            }
            done => done,
        }
    }

    /// Whether this session has a `statement_timeout` (one round trip).
    fn statement_bounded(&self) -> Result<bool> {
        self.with_conn("cannot read the statement_timeout", |conn| {
            conn.client
                .query_one("SELECT current_setting('statement_timeout') <> '0'", &[])?
                .try_get(0)
        })
    }

    /// A plain append of a group larger than [`PART`] under a
    /// `statement_timeout`: one transaction (the lock's, when this handle
    /// holds it) of short statements, so that no statement lasts the
    /// whole group. The first part goes in the conditional [`APPEND`]
    /// (a writer behind the head gets the missing events, nothing
    /// stored); the rest in plain inserts of [`PART`] rows each, which a
    /// racing writer's rows stop on the primary key (`conflict`, rolled
    /// back). The group is stored whole, or not at all, as by one
    /// statement. (A large group is streamed in parts while it stages
    /// when the lock is held; this is the path without a stream: a lock
    /// given up, or a store without one.)
    fn append_in_parts(
        &mut self,
        events: &[StoredEvent],
        expected: u64,
        limit: usize,
    ) -> Result<Appended> {
        let locked = self.holds_lock();
        let page = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let programme = self.programme.as_str();
        let expected_param = Self::seq_param(expected)?;
        let started = std::time::Instant::now();
        let answered = self.with_conn("append", |conn| {
            Ok(insert_parts(
                conn,
                events,
                locked,
                programme,
                expected_param,
                page,
            ))
        })?;
        let (head, rows) = match answered {
            Ok(answer) => answer,
            Err(e) => {
                // Whatever failed, the transaction is aborted: nothing of
                // the group is stored.
                let _ = self.end_plain(locked);
                let raced = matches!(
                    e.code(),
                    Some(&SqlState::UNIQUE_VIOLATION) | Some(&SqlState::T_R_SERIALIZATION_FAILURE)
                );
                // Cut by a `statement_timeout` while it waited behind a
                // racing append: a lost race, as in the one-statement
                // append.
                let cut = !locked && e.code() == Some(&SqlState::QUERY_CANCELED);
                if raced || cut {
                    return Ok(Appended::Conflict(self.missing(expected, limit)?));
                }
                return Err(self.server.failed(
                    &format!("cannot store events from {}", expected.saturating_add(1)),
                    &e,
                ));
            }
        };
        let head = head.map_or(0, |seq| u64::try_from(seq).unwrap_or(0));
        if head == expected {
            if locked {
                self.end_lock(true)?;
            }
            self.time_commit(events.len(), started);
            return Ok(Appended::Stored);
        }
        // Behind the head: nothing stored (rolled back, or a held lock
        // stays held).
        let mut missing = rows
            .iter()
            .map(|row| self.stored_row(row))
            .collect::<Result<Vec<_>>>()?;
        missing.sort_by_key(|e| e.seq);
        let events = (missing.len() <= limit && limit > 0).then_some(missing);
        Ok(Appended::Conflict(Missing { head, events }))
    }

    /// Rolls back the transaction of [`append_in_parts`](Self::append_in_parts)
    /// (the lock's with it, when `locked`).
    fn end_plain(&self, locked: bool) -> Result<()> {
        match locked {
            true => self.end_lock(false),
            false => self.with_conn("cannot roll back", |conn| {
                conn.client.batch_execute("ROLLBACK")
            }),
        }
    }

    /// Whether the lock's connection sat idle in its transaction long
    /// enough that the server may have ended it ([`IdleLimits::outlived`]):
    /// the next use of the store opens a new connection, without the lock.
    fn lock_outlived(&self) -> bool {
        self.conn
            .try_borrow()
            .map(|slot| slot.as_ref().is_some_and(|conn| self.idle.outlived(conn)))
            .unwrap_or(false)
    }

    /// Whether this connection holds the fairness lock.
    fn holds_lock(&self) -> bool {
        self.conn
            .try_borrow()
            .map(|slot| slot.as_ref().is_some_and(|conn| conn.locked))
            .unwrap_or(false)
    }

    /// An append under the fairness lock, and the `COMMIT` that releases
    /// it, in one round trip: one simple query, the events as literals.
    /// Still conditional (a writer behind gets `conflict`, the lock then
    /// released).
    fn append_locked(
        &mut self,
        events: &[StoredEvent],
        expected: u64,
        limit: usize,
    ) -> Result<Appended> {
        self.append_locked_then(events, expected, limit, None)
            .map(|(appended, _)| appended)
    }

    /// [`append_locked`](Self::append_locked), followed in the same simple
    /// query by `then` (a [`HAND_OFF`] query: the lock and the queue taken
    /// again) once the `COMMIT` is done; its rows are read back.
    fn append_locked_then(
        &mut self,
        events: &[StoredEvent],
        expected: u64,
        limit: usize,
        then: Option<&str>,
    ) -> Result<(Appended, Option<HandOffRows>)> {
        // Nothing inserted (the writer is behind) divides by zero, which
        // aborts the transaction before the `COMMIT`: the lock's taking
        // of the queue and its answers roll back with it.
        let put = put_sql(self.cockroach, &self.programme, events, expected)?;
        let started = std::time::Instant::now();
        let answered = self.with_conn("append", |conn| {
            // Waiting writers read their answers now; leading: this holder
            // tries to keep leading, else it lets the lock go.
            let answers =
                std::mem::take(&mut conn.answers).statements(&self.programme, then.is_some());
            let sql = format!("{put};\n{answers}COMMIT;{}", then.unwrap_or(""));
            let answered = conn.client.simple_query(&sql);
            // Committed: the lock is released, unless `then` took it again.
            // Failed: the transaction is still open (aborted), and is
            // rolled back by `end_lock` before the next statement.
            conn.locked = then.is_some() || answered.is_err();
            Ok(answered)
        })?;
        match answered {
            Ok(messages) => {
                self.time_commit(events.len(), started);
                if then.is_none() {
                    return Ok((Appended::Stored, None));
                }
                let rows = match self.read_hand_off(messages) {
                    Ok(rows) if rows.held => rows,
                    // Stored; another writer took the lock (or the answer
                    // was unreadable): the transaction `then` began holds
                    // nothing, and is rolled back before the next statement.
                    _ => {
                        self.forget_lock();
                        self.mark_open_tx();
                        return Ok((Appended::Stored, None));
                    }
                };
                Ok((Appended::Stored, Some(rows)))
            }
            Err(e)
                if matches!(
                    e.code(),
                    Some(&SqlState::DIVISION_BY_ZERO)
                        | Some(&SqlState::UNIQUE_VIOLATION)
                        | Some(&SqlState::T_R_SERIALIZATION_FAILURE)
                ) =>
            {
                self.end_lock(false)?;
                Ok((Appended::Conflict(self.missing(expected, limit)?), None))
            }
            Err(e) => {
                let err = self.server.failed(
                    &format!("cannot store events from {}", expected.saturating_add(1)),
                    &e,
                );
                let _ = self.end_lock(false);
                Err(err)
            }
        }
    }

    /// Runs a hand-off query (`sql`: [`HAND_OFF`], maybe after a
    /// `ROLLBACK`) and reads its rows: whether the lock's row came
    /// back, the writer's answer, the events,
    /// the queue taken. The connection is then in the query's transaction
    /// (noted as holding the lock); on a failure it is rolled back.
    fn hand_off_query(&self, sql: &str) -> Result<HandOffRows> {
        let send = |sql: &str| {
            self.with_conn("cannot hand the event off", |conn| {
                let answered = conn.client.simple_query(sql);
                conn.locked = answered.is_ok();
                conn.answers.clear();
                Ok(answered)
            })
        };
        let answered = match send(sql)? {
            // The server had ended the connection (typically idle in the
            // transaction a busy try left open: an idle timeout, or an
            // admin's `pg_terminate_backend`): that transaction, and this
            // query's work with it, rolled back. Sent once more on a new
            // connection, with no transaction to roll back first.
            Err(e) if ended_by_server(&e) => {
                self.forget_lock();
                if let Ok(mut slot) = self.conn.try_borrow_mut() {
                    *slot = None;
                }
                send(sql.strip_prefix("ROLLBACK;\n").unwrap_or(sql))?
            }
            answered => answered,
        };
        let messages = match answered {
            Ok(messages) => messages,
            Err(e) => {
                let err = self.server.failed("cannot hand the event off", &e);
                self.forget_lock();
                let _ = self.with_conn("cannot roll back", |conn| {
                    conn.client.batch_execute("ROLLBACK")
                });
                return Err(err);
            }
        };
        self.read_hand_off(messages)
    }

    /// Runs `work` on the queue connection, opening it first when needed.
    fn with_queue<T>(
        &self,
        context: &str,
        work: impl FnOnce(&mut QueueConn) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        let mut slot = self.queue.try_borrow_mut().map_err(|_| {
            Error::general(ErrorKind::Internal, "the store was entered twice at once")
        })?;
        if slot.as_ref().is_none_or(|queue| queue.client.is_closed()) {
            *slot = None;
            let queue = QueueConn::open(&self.config)
                .map_err(|e| self.server.failed("cannot open the queue connection", &e))?;
            *slot = Some(queue);
        }
        match slot.as_mut() {
            Some(queue) => {
                let done = work(queue).map_err(|e| self.server.failed(context, &e));
                queue.used = Instant::now();
                done
            }
            None => Err(Error::general(ErrorKind::Internal, "no queue connection")),
        }
    }

    /// Queues `event` (one round trip on the queue connection, committed
    /// asynchronously) and answers its ticket. Notifications buffered
    /// before are dropped: they are of commits that cannot hold it.
    fn enqueue(&self, event: &str) -> Result<u64> {
        // A queue connection idle long enough for the server to close it
        // is opened again (it is used again within the call).
        if let Ok(mut slot) = self.queue.try_borrow_mut() {
            if slot
                .as_ref()
                .is_some_and(|queue| stale(queue.used, self.idle.session))
            {
                *slot = None;
            }
        }
        let programme = self.programme.as_str();
        let previous = match self.last_ticket.get() {
            Some(previous) => Self::seq_param(previous)?,
            None => -1,
        };
        self.round_trips.set(self.round_trips.get() + 1);
        let ticket: i64 = self.with_queue("cannot queue the event", |queue| {
            let row = queue
                .client
                .query_one(&queue.enqueue, &[&programme, &event, &previous])?;
            let mut stale = queue.client.notifications();
            let mut buffered = stale.iter();
            while buffered.next()?.is_some() {}
            row.try_get(0)
        })?;
        Ok(u64::try_from(ticket).unwrap_or(0))
    }

    /// Waits up to `timeout` for a holder's commit of this programme's
    /// queued events: what its notification tells the writer of `ticket`
    /// ([`Notified`]) when one came, `None` when none did.
    fn wait_notified(&self, timeout: Duration, ticket: u64) -> Result<Option<Notified>> {
        let programme = self.programme.as_str();
        let ticket = ticket.to_string();
        self.with_queue("cannot wait for the queue", |queue| {
            let mut notifications = queue.client.notifications();
            let mut pending = notifications.timeout_iter(timeout);
            while let Some(note) = pending.next()? {
                if let Some(notified) = Notified::read(note.payload(), programme, &ticket) {
                    return Ok(Some(notified));
                }
            }
            Ok(None)
        })
    }

    /// The writer's answer and the events after `after` (at most
    /// `limit + 1`), in one statement on the queue connection.
    fn read_answer(
        &self,
        ticket: u64,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<StoredEvent>, Ticket)> {
        let programme = self.programme.as_str();
        let ticket = Self::seq_param(ticket)?;
        let from = Self::seq_param(after)?;
        let page = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        self.round_trips.set(self.round_trips.get() + 1);
        let rows = self.with_queue("cannot read the answer", |queue| {
            queue
                .client
                .query(&queue.answer, &[&programme, &ticket, &from, &page])
        })?;
        let mut own = Ticket::Waiting;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            let answered: i64 = row
                .try_get(3)
                .map_err(|e| self.server.failed("bad answer", &e))?;
            if answered < 0 {
                events.push(self.stored_row(row)?);
            } else if answered > 0 {
                own = match row.try_get::<_, Option<i64>>(4) {
                    Ok(Some(seq)) => Ticket::Stored(u64::try_from(seq).unwrap_or(0)),
                    _ => Ticket::Dropped,
                };
            }
        }
        Ok((events, own))
    }

    /// Notes that the connection is in a transaction holding nothing.
    fn mark_open_tx(&self) {
        if let Ok(mut slot) = self.conn.try_borrow_mut() {
            if let Some(conn) = slot.as_mut() {
                conn.open_tx = true;
            }
        }
    }

    /// Whether a transaction holding nothing was open (now forgotten: the
    /// caller's next query starts with `ROLLBACK`).
    /// One idle long enough for the server to have ended it is dropped
    /// instead (it held nothing), and the caller's query opens another.
    fn take_open_tx(&self) -> bool {
        match self.conn.try_borrow_mut() {
            Ok(mut slot) => match slot.as_mut() {
                Some(conn) if self.idle.outlived(conn) => {
                    *slot = None;
                    false
                }
                Some(conn) => std::mem::replace(&mut conn.open_tx, false),
                None => false,
            },
            Err(_) => false,
        }
    }

    /// The rows of a hand-off query (see [`hand_off_query`](Self::hand_off_query));
    /// an append's own row (`stored`) is skipped.
    fn read_hand_off(&self, messages: Vec<SimpleQueryMessage>) -> Result<HandOffRows> {
        let mut rows = HandOffRows::default();
        let bad = |what: &str| {
            self.server
                .error("hand-off", format!("a {what} row is unreadable"))
        };
        for message in messages {
            let SimpleQueryMessage::Row(row) = message else {
                continue;
            };
            let number = |i: usize| row.get(i).and_then(|text| text.parse::<u64>().ok());
            match (row.len(), row.get(0)) {
                (1, _) => rows.held = true,
                (2, Some("stored")) => {}
                (2, Some("answer")) => {
                    rows.own = match row.get(1) {
                        None => Ticket::Dropped,
                        Some(_) => Ticket::Stored(number(1).ok_or_else(|| bad("answer"))?),
                    }
                }
                (3, _) => {
                    let seq = number(0).ok_or_else(|| bad("event"))?;
                    let hash = row.get(2).map(unhex).unwrap_or_default();
                    rows.events.push(StoredEvent {
                        seq,
                        event: row.get(1).unwrap_or_default().to_string(),
                        hash: hash_of(&hash),
                    });
                }
                (4, Some("queued")) => rows.queued.push(Queued {
                    ticket: number(1).ok_or_else(|| bad("queued"))?,
                    event: row.get(2).unwrap_or_default().to_string(),
                }),
                _ => return Err(bad("hand-off")),
            }
        }
        rows.queued.sort_by_key(|q| q.ticket);
        Ok(rows)
    }

    /// The stored events after `after`, at most `limit` (`None` when there
    /// are more), and the last one's `seq`.
    fn missing(&self, after: u64, limit: usize) -> Result<Missing> {
        if limit == 0 {
            return Ok(Missing {
                head: 0,
                events: None,
            });
        }
        let programme = self.programme.as_str();
        let from = Self::seq_param(after.saturating_add(1))?;
        let page = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = self.with_conn("cannot read the missing events", |conn| {
            conn.client.query(&conn.scan, &[&programme, &from, &page])
        })?;
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            events.push(self.stored_row(&row)?);
        }
        let head = events.last().map_or(after, |e| e.seq);
        Ok(Missing {
            head,
            events: (events.len() <= limit).then_some(events),
        })
    }

    fn stored_row(&self, row: &postgres::Row) -> Result<StoredEvent> {
        let seq: i64 = row
            .try_get(0)
            .map_err(|e| self.server.failed("bad seq", &e))?;
        let event: String = row.try_get(1).unwrap_or_default();
        let hash: Vec<u8> = row.try_get(2).unwrap_or_default();
        Ok(StoredEvent {
            seq: u64::try_from(seq).unwrap_or(0),
            event,
            hash: hash_of(&hash),
        })
    }
}

impl Store for PostgresStore {
    fn append(&mut self, events: &[StoredEvent]) -> Result<()> {
        match self.append_or_missing(events, 0)? {
            Appended::Stored => Ok(()),
            Appended::Conflict(missing) => {
                Err(conflict(missing.head, events.first().map_or(0, |e| e.seq)))
            }
        }
    }

    /// One statement: the conditional insert, and on a conflict the
    /// missing events (one round trip). When the other writer's append
    /// was still in flight, the insert waits for it and fails on the
    /// primary key; its rows are then read by a second query. Under the
    /// fairness lock, a stored append commits the lock's transaction (a
    /// second round trip) and releases the lock.
    fn append_or_missing(&mut self, events: &[StoredEvent], limit: usize) -> Result<Appended> {
        if self.ahead.get_mut().is_some() {
            return self.append_ahead(events, limit);
        }
        let Some(first) = events.first() else {
            return Ok(Appended::Stored);
        };
        let expected = first.seq.saturating_sub(1);
        // Consecutive, and starting after something: the rest is the
        // database's to decide.
        check_append(expected, events)?;
        // A lock whose connection idled too long is given up here, not
        // inside the append: an append under the lock assumes its
        // transaction.
        if self.lock_outlived() {
            *self.conn.get_mut() = None;
        }
        let seqs = events
            .iter()
            .map(|e| Self::seq_param(e.seq))
            .collect::<Result<Vec<i64>>>()?;
        let texts: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
        let hashes: Vec<&[u8]> = events.iter().map(|e| &e.hash.0[..]).collect();
        let expected_param = Self::seq_param(expected)?;
        if self.holds_lock() && texts.iter().map(|t| t.len()).sum::<usize>() <= LOCKED_SQL_BYTES {
            return self.append_locked(events, expected, limit);
        }
        if events.len() > PART && !self.cockroach && self.statement_bounded()? {
            return self.append_in_parts(events, expected, limit);
        }
        let page = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let programme = self.programme.as_str();
        let started = std::time::Instant::now();
        let answered = self.with_conn("append", |conn| {
            Ok(conn.client.query(
                &conn.append,
                &[&programme, &seqs, &texts, &hashes, &expected_param, &page],
            ))
        })?;
        let rows = match answered {
            Ok(rows) => rows,
            Err(e)
                if matches!(
                    e.code(),
                    Some(&SqlState::UNIQUE_VIOLATION) | Some(&SqlState::T_R_SERIALIZATION_FAILURE)
                ) =>
            {
                // Raced by an append in flight: it is committed now.
                self.end_lock(false)?;
                return Ok(Appended::Conflict(self.missing(expected, limit)?));
            }
            Err(e)
                if !self.holds_lock()
                    && matches!(
                        e.code(),
                        Some(&SqlState::QUERY_CANCELED) | Some(&SqlState::LOCK_NOT_AVAILABLE)
                    ) =>
            {
                // Cut by a `statement_timeout` (or a cancel) while it
                // waited behind the lock's holder or a racing append:
                // nothing stored, a lost race. After a few the engine
                // takes the lock, whose wait has no timeout.
                return Ok(Appended::Conflict(self.missing(expected, limit)?));
            }
            Err(e) => {
                let err = self
                    .server
                    .failed(&format!("cannot store events from {}", first.seq), &e);
                // A failed statement ends the lock's transaction.
                let _ = self.end_lock(false);
                return Err(err);
            }
        };
        let mut head = None;
        let mut missing = Vec::with_capacity(rows.len().saturating_sub(1));
        for row in &rows {
            match row.try_get::<_, Option<String>>(1) {
                Ok(None) => {
                    let seq: i64 = row
                        .try_get(0)
                        .map_err(|e| self.server.failed("bad head", &e))?;
                    head = Some(u64::try_from(seq).unwrap_or(0));
                }
                _ => missing.push(self.stored_row(row)?),
            }
        }
        let Some(head) = head else {
            return Err(self.server.error("append", "no head in the answer"));
        };
        if head == expected {
            self.end_lock(true)?;
            self.time_commit(events.len(), started);
            return Ok(Appended::Stored);
        }
        // Nothing stored; a held lock stays held.
        missing.sort_by_key(|e| e.seq);
        let events = (missing.len() <= limit && limit > 0).then_some(missing);
        Ok(Appended::Conflict(Missing { head, events }))
    }

    /// `BEGIN`, `SELECT … FOR UPDATE` on the programme's row and the events
    /// after `after`, in one round trip (the `LOCK` query). The lock is held
    /// until this store's next stored append commits, or
    /// [`unlock_appends`](Store::unlock_appends) rolls back; a lost
    /// connection releases it (the server rolls back).
    fn lock_appends(&mut self, after: u64, limit: usize) -> Result<Option<Missing>> {
        if self.holds_lock() {
            return self.missing(after, limit).map(Some);
        }
        let (held, missing) = self.lock_query(LOCK, true, after, limit)?;
        if !held {
            // The programme has no row to lock (never the case for a
            // store this build opened): the append stays conditional.
            let _ = self.end_lock(false);
            return Ok(None);
        }
        Ok(Some(missing))
    }

    /// `FOR UPDATE SKIP LOCKED` instead of waiting in the queue; when the
    /// row is locked, a second round trip rolls back, waits for the holder
    /// with a `FOR KEY SHARE` read (which does not queue for the lock) and
    /// reads the events stored by then (the `WAIT` query).
    fn try_lock_appends(&mut self, after: u64, limit: usize) -> Result<Option<TryLock>> {
        if self.holds_lock() {
            return self.missing(after, limit).map(|m| Some(TryLock::Held(m)));
        }
        let (held, missing) = self.lock_query(TRY_LOCK, false, after, limit)?;
        if held {
            return Ok(Some(TryLock::Held(missing)));
        }
        self.forget_lock();
        let (_, missing) = self.lock_query(self.wait, false, after, limit)?;
        self.forget_lock();
        Ok(Some(TryLock::Busy(missing)))
    }

    /// `ROLLBACK`, or, when the holder of a taken queue gave its answers,
    /// those answers and `COMMIT` (the taking and the answers together).
    fn unlock_appends(&mut self) -> Result<()> {
        // A stream's transaction rolls back with it.
        self.abandon_ahead();
        let answered = self
            .conn
            .try_borrow()
            .map(|slot| slot.as_ref().is_some_and(|conn| !conn.answers.is_empty()))
            .unwrap_or(false);
        self.end_lock(answered)
    }

    /// Under the append lock, on PostgreSQL: the events go to a thread of
    /// the store's own that streams them into a binary `COPY` on the
    /// lock's connection (module `ahead`); the append ends it. `false`
    /// without the lock, and on CockroachDB.
    ///
    /// The engine's first, empty call (as the lock is granted) starts the
    /// stream with no events: from then on the lock's transaction is the
    /// thread's to keep alive (an open `COPY`, or under a
    /// `statement_timeout` a `SELECT 1` after a third of the
    /// `idle_in_transaction_session_timeout`), while the engine catches up
    /// and stages the first part.
    fn send_ahead(&mut self, events: &[StoredEvent]) -> Result<bool> {
        if let Some(ahead) = self.ahead.get_mut() {
            let Some(first) = events.first() else {
                return Ok(true);
            };
            // The events follow those sent before, or start the stream.
            let after = ahead.next().unwrap_or(first.seq).saturating_sub(1);
            check_append(after, events)?;
            Self::seq_param(first.seq.saturating_add(events.len() as u64))?;
            // A writer that stopped tells why at the append.
            ahead.send(events);
            return Ok(true);
        }
        if self.cockroach || !self.holds_lock() || self.lock_outlived() {
            return Ok(false);
        }
        if let Some(first) = events.first() {
            check_append(first.seq.saturating_sub(1), events)?;
            Self::seq_param(first.seq.saturating_add(events.len() as u64))?;
        }
        let Some(conn) = self.conn.get_mut().take() else {
            return Ok(false);
        };
        self.round_trips.set(self.round_trips.get() + 1);
        let keep_alive = self.idle.transaction.map(|limit| limit / 3);
        *self.ahead.get_mut() = Some(ahead::start(
            conn,
            self.programme.clone(),
            events,
            keep_alive,
        ));
        Ok(true)
    }

    /// `None` unless this writer hands events off now ([`GroupCommit`]).
    /// Else queues the event on the queue connection (`upline_queue`,
    /// committed asynchronously) and tries the lock on the main one,
    /// reading the writer's answer, the events after its head and, when
    /// the lock was granted, taking the queue. While another writer holds
    /// the lock it waits for that holder's notifications (each a group
    /// committed) and reads its answer on the queue connection after each
    /// that may hold it (`Notified::reads_now`); when the holder lets the
    /// lock go, or none comes within 20 ms, it answers `Waiting`, and the
    /// engine's next call tries the lock again.
    fn hand_off(
        &mut self,
        event: &str,
        ticket: Option<u64>,
        wait: bool,
        after: u64,
        limit: usize,
    ) -> Result<Option<HandOff>> {
        if ticket.is_none() && !self.hands_off() {
            return Ok(None);
        }
        if self.holds_lock() {
            // A lock held across calls is the engine's error; never take
            // the queue inside another transaction.
            self.end_lock(false)?;
        }
        let ticket = match ticket {
            Some(ticket) => ticket,
            None => {
                let ticket = self.enqueue(event)?;
                self.last_ticket.set(Some(ticket));
                ticket
            }
        };
        let mut sql = String::new();
        if self.take_open_tx() {
            sql.push_str("ROLLBACK;\n");
        }
        sql.push_str(&self.fill(HAND_OFF, wait, after, limit, Some(ticket))?);
        let rows = self.hand_off_query(&sql)?;
        let answer = |events: Vec<StoredEvent>, queued, own, lead| HandOff {
            ticket,
            lead,
            missing: Missing {
                head: events.last().map_or(after, |e| e.seq),
                events: (events.len() <= limit).then_some(events),
            },
            queued,
            own,
        };
        if rows.held {
            return Ok(Some(answer(rows.events, rows.queued, rows.own, true)));
        }
        // Another writer holds the lock: this transaction holds nothing.
        self.forget_lock();
        self.mark_open_tx();
        if rows.own != Ticket::Waiting {
            return Ok(Some(answer(rows.events, Vec::new(), rows.own, false)));
        }
        // Wait for the holder's commits, reading the answer on the queue
        // connection after each that may hold it; when the holder lets the
        // lock go (or none comes), the writer tries the lock again (the
        // engine's next call).
        let mut events = rows.events;
        let mut own = Ticket::Waiting;
        let (mut reads, mut notes) = (0, 0);
        while reads < NOTIFY_ROUNDS && notes < NOTIFY_NOTES {
            let Some(note) = self.wait_notified(NOTIFY_WAIT, ticket)? else {
                break;
            };
            notes += 1;
            if !note.reads_now() {
                // Another writer's group: this one's answer is not in it.
                continue;
            }
            reads += 1;
            let (read, answered) = self.read_answer(ticket, after, limit)?;
            events = read;
            own = answered;
            if own != Ticket::Waiting || !note.leading {
                break;
            }
        }
        Ok(Some(answer(events, Vec::new(), own, false)))
    }

    /// Kept until the lock's `COMMIT` (the holder's append, or
    /// [`unlock_appends`](Store::unlock_appends)): one `INSERT` of every
    /// answer.
    fn answer_queued(&mut self, answers: &[(u64, Option<u64>)]) -> Result<()> {
        if answers.is_empty() {
            return Ok(());
        }
        let answers = Answers::of(&self.programme, answers)?;
        let mut slot = self.conn.try_borrow_mut().map_err(|_| {
            Error::general(ErrorKind::Internal, "the store was entered twice at once")
        })?;
        match slot.as_mut() {
            Some(conn) if conn.locked => {
                conn.answers = answers;
                Ok(())
            }
            _ => Err(Error::general(
                ErrorKind::Storage,
                "answers for a queue this store does not hold the lock of",
            )),
        }
    }

    /// Under the lock, with at most 4 KiB of events: the append, its
    /// `COMMIT` and a query that takes the lock (`SKIP LOCKED`) and the
    /// queue again, in one simple query. Otherwise the plain append.
    fn append_and_lead(
        &mut self,
        events: &[StoredEvent],
        limit: usize,
    ) -> Result<(Appended, Option<HandOff>)> {
        let Some(last) = events.last() else {
            return Ok((Appended::Stored, None));
        };
        let expected = events[0].seq.saturating_sub(1);
        check_append(expected, events)?;
        let bytes: usize = events.iter().map(|e| e.event.len()).sum();
        if !self.holds_lock() || bytes > LOCKED_SQL_BYTES {
            return Ok((self.append_or_missing(events, 0)?, None));
        }
        let then = self.fill(HAND_OFF, false, last.seq, limit, None)?;
        let (appended, rows) = self.append_locked_then(events, expected, 0, Some(&then))?;
        let next = rows.map(|rows| HandOff {
            ticket: 0,
            lead: true,
            missing: Missing {
                head: rows.events.last().map_or(last.seq, |e| e.seq),
                events: (rows.events.len() <= limit).then_some(rows.events),
            },
            queued: rows.queued,
            own: Ticket::Waiting,
        });
        Ok((appended, next))
    }

    /// `DELETE … RETURNING` of the ticket: it waits for a holder that took
    /// it, so `false` means that holder committed its answer.
    fn withdraw(&mut self, ticket: u64) -> Result<bool> {
        if self.holds_lock() {
            self.end_lock(false)?;
        }
        let ticket = Self::seq_param(ticket)?;
        let programme = self.programme.as_str();
        let deleted = self.with_conn("cannot take the event back from the queue", |conn| {
            conn.client.execute(
                "DELETE FROM upline_queue WHERE programme = $1 AND ticket = $2",
                &[&programme, &ticket],
            )
        })?;
        Ok(deleted > 0)
    }

    fn head(&self) -> Result<u64> {
        let programme = self.programme.as_str();
        let head: i64 = self.with_conn("cannot read the head", |conn| {
            conn.client.query_one(&conn.head, &[&programme])?.try_get(0)
        })?;
        Ok(u64::try_from(head).unwrap_or(0))
    }

    fn scan(&self, from: u64, visit: &mut dyn FnMut(StoredEvent) -> Result<()>) -> Result<()> {
        let programme = self.programme.as_str();
        let mut next = i64::try_from(from).unwrap_or(i64::MAX);
        loop {
            // A page at a time, with the connection released before the
            // engine sees the events.
            let rows = self.with_conn("cannot scan events", |conn| {
                conn.client
                    .query(&conn.scan, &[&programme, &next, &SCAN_PAGE])
            })?;
            let count = rows.len();
            for row in rows {
                let seq: i64 = row
                    .try_get(0)
                    .map_err(|e| self.server.failed("bad seq", &e))?;
                let event: String = row.try_get(1).unwrap_or_default();
                let hash: Vec<u8> = row.try_get(2).unwrap_or_default();
                next = seq.saturating_add(1);
                visit(StoredEvent {
                    seq: u64::try_from(seq).unwrap_or(0),
                    event,
                    hash: hash_of(&hash),
                })?;
            }
            if (count as i64) < SCAN_PAGE {
                return Ok(());
            }
        }
    }

    fn hash_at(&self, seq: u64) -> Result<Option<Hash>> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        let programme = self.programme.as_str();
        let streaming = self.ahead.try_borrow().map(|a| a.is_some()).unwrap_or(true);
        // While the main connection streams, on the side connection; when
        // that cannot be had (a server or role out of connections, the
        // side connection lost), on the main one, which ends the stream:
        // the group is then appended without it, as by a store that does
        // not stream.
        let side = match streaming {
            true => self.side_query(HASH_AT, &[&programme, &seq]).ok(),
            false => None,
        };
        let row = match side {
            Some(row) => row,
            None => self.with_read_conn("cannot read a stored hash", |conn| {
                conn.client.query_opt(&conn.hash_at, &[&programme, &seq])
            })?,
        };
        Ok(row.map(|row| hash_of(&row.try_get::<_, Vec<u8>>(0).unwrap_or_default())))
    }

    fn audit_format(&self) -> Result<u32> {
        let programme = self.programme.as_str();
        let row = self.with_conn("cannot read the audit format", |conn| {
            conn.client.query_opt(AUDIT_FORMAT, &[&programme])
        })?;
        let Some(row) = row else {
            return Err(self.server.error(
                "cannot open the store",
                format!("upline_programmes does not record programme {programme:?}'s audit format"),
            ));
        };
        let format: i64 = row
            .try_get(0)
            .map_err(|e| self.server.failed("cannot read the audit format", &e))?;
        u32::try_from(format).map_err(|_| {
            self.server.error(
                "cannot open the store",
                format!("programme {programme:?} records an unreadable audit format {format}"),
            )
        })
    }

    fn latest_snapshot(&self) -> Result<Option<(u64, String)>> {
        let programme = self.programme.as_str();
        let row = self.with_conn("cannot read the latest snapshot", |conn| {
            conn.client.query_opt(
                "SELECT seq, snapshot FROM upline_snapshots WHERE programme = $1
                 ORDER BY seq DESC LIMIT 1",
                &[&programme],
            )
        })?;
        match row {
            None => Ok(None),
            Some(row) => {
                let seq: i64 = row
                    .try_get(0)
                    .map_err(|e| self.server.failed("bad snapshot", &e))?;
                let snapshot: String = row
                    .try_get(1)
                    .map_err(|e| self.server.failed("bad snapshot", &e))?;
                Ok(Some((u64::try_from(seq).unwrap_or(0), snapshot)))
            }
        }
    }

    fn save_snapshot(&mut self, seq: u64, snapshot: &str) -> Result<()> {
        let seq = Self::seq_param(seq)?;
        let programme = self.programme.as_str();
        self.with_conn("cannot save a snapshot", |conn| {
            conn.client.execute(
                "INSERT INTO upline_snapshots (programme, seq, snapshot) VALUES ($1, $2, $3)
                 ON CONFLICT (programme, seq) DO UPDATE SET snapshot = excluded.snapshot",
                &[&programme, &seq, &snapshot],
            )
        })
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::{
        fill, put_sql, Answers, Notified, HAND_OFF, LOCK, NOTIFY_TICKETS_BYTES, TRY_LOCK, WAIT,
        WAIT_PLAIN,
    };
    use upline::store::StoredEvent;
    use upline::Hash;

    /// Spaces and newlines folded, to compare SQL.
    fn folded(sql: &str) -> String {
        sql.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn postgresql_runs_the_lock_queries_through_the_session_statements() {
        assert_eq!(
            folded(&fill(LOCK, false, true, "acme", 41, 10, -1)),
            "BEGIN; SET LOCAL statement_timeout = 0; EXECUTE upline_lock_row(E'acme'); \
             SET LOCAL statement_timeout TO DEFAULT; \
             EXECUTE upline_events_after(E'acme', 41, 11)"
        );
        assert_eq!(
            folded(&fill(TRY_LOCK, false, false, "acme", 41, 10, -1)),
            "BEGIN; EXECUTE upline_try_row(E'acme'); EXECUTE upline_events_after(E'acme', 41, 11)"
        );
        // A try does not wait, so it keeps the statement_timeout.
        assert_eq!(
            folded(&fill(HAND_OFF, false, false, "acme", 41, 10, 9)),
            "BEGIN; EXECUTE upline_try_row(E'acme'); \
             EXECUTE upline_answer_of(E'acme', 9); \
             EXECUTE upline_events_after(E'acme', 41, 11); EXECUTE upline_take_queue(E'acme')"
        );
        assert!(
            folded(&fill(HAND_OFF, false, true, "acme", 41, 10, 9)).starts_with(
                "BEGIN; SET LOCAL statement_timeout = 0; EXECUTE upline_lock_row(E'acme');"
            )
        );
    }

    #[test]
    fn cockroachdb_keeps_the_sql_spelled_out() {
        // The statements these templates sent before round 16, on any server.
        assert_eq!(
            folded(&fill(LOCK, true, true, "acme", 41, 10, -1)),
            "BEGIN; SELECT 1 FROM upline_programmes WHERE programme = E'acme' FOR UPDATE; \
             SELECT seq, event, encode(hash, 'hex') FROM upline_events \
             WHERE programme = E'acme' AND seq > 41 ORDER BY seq LIMIT 11"
        );
        assert_eq!(
            folded(&fill(TRY_LOCK, true, false, "acme", 41, 10, -1)),
            "BEGIN; SELECT 1 FROM upline_programmes WHERE programme = E'acme' \
             FOR UPDATE SKIP LOCKED; SELECT seq, event, encode(hash, 'hex') FROM upline_events \
             WHERE programme = E'acme' AND seq > 41 ORDER BY seq LIMIT 11"
        );
        assert_eq!(
            folded(&fill(WAIT_PLAIN, true, false, "acme", 41, 10, -1)),
            "ROLLBACK; SELECT 1 FROM upline_programmes WHERE programme = E'acme' FOR KEY SHARE; \
             SELECT seq, event, encode(hash, 'hex') FROM upline_events \
             WHERE programme = E'acme' AND seq > 41 ORDER BY seq LIMIT 11"
        );
        assert!(!fill(LOCK, true, true, "acme", 41, 10, -1).contains("EXECUTE"));
        // PostgreSQL's wait commits without a flush, and reads through the
        // session statement.
        assert_eq!(
            folded(&fill(WAIT, false, false, "acme", 41, 10, -1)),
            "ROLLBACK; BEGIN; SET LOCAL synchronous_commit TO OFF; \
             SET LOCAL statement_timeout = 0; \
             SELECT 1 FROM upline_programmes WHERE programme = E'acme' FOR KEY SHARE; \
             EXECUTE upline_events_after(E'acme', 41, 11); COMMIT"
        );
    }

    #[test]
    fn a_holders_answers_are_one_statement_and_the_list_a_waiter_reads() {
        let answers = Answers::of("acme", &[(5, Some(11)), (7, None)]).unwrap();
        assert_eq!(
            answers.sql,
            "EXECUTE upline_answer_put(E'acme', ARRAY[5, 7]::INT8[], ARRAY[11, NULL]::INT8[]);\n"
        );
        // The list in the payload is the one `Notified::read` splits.
        let sql = answers.statements("acme", true);
        let payload = sql
            .rsplit_once("NOTIFY upline_queue, E'")
            .and_then(|(_, tail)| tail.strip_suffix("';\n"))
            .unwrap();
        for (ticket, answered) in [("5", true), ("7", true), ("11", false)] {
            let heard = Notified::read(payload, "acme", ticket).unwrap();
            assert_eq!(heard.answered, answered, "ticket {ticket}");
            assert_eq!(heard.reads_now(), answered, "ticket {ticket}");
        }
        // A seq past what PostgreSQL's BIGINT holds is refused, not wrapped.
        let err = Answers::of("acme", &[(u64::MAX, Some(1))]).err().unwrap();
        assert_eq!(err.kind(), upline::ErrorKind::Storage);
    }

    #[test]
    fn a_locked_append_is_one_prepared_statement_on_postgresql() {
        let events = [
            StoredEvent {
                seq: 42,
                event: r#"{"type":"note","text":"it's a \"quote\"\n"}"#.to_string(),
                hash: Hash([0xab; 32]),
            },
            StoredEvent {
                seq: 43,
                event: "{}".to_string(),
                hash: Hash([1; 32]),
            },
        ];
        let hash = |byte: &str| byte.repeat(32);
        assert_eq!(
            put_sql(false, "acme", &events, 41).unwrap(),
            format!(
                "EXECUTE upline_put(E'acme', ARRAY[42, 43]::INT8[], \
                 ARRAY[E'{{\"type\":\"note\",\"text\":\"it''s a \\\\\"quote\\\\\"\\\\n\"}}', E'{{}}']::TEXT[], \
                 ARRAY[decode('{}', 'hex'), decode('{}', 'hex')]::BYTEA[], 41)",
                hash("ab"),
                hash("01")
            )
        );
        let cockroach = folded(&put_sql(true, "acme", &events, 41).unwrap());
        assert!(cockroach.starts_with("WITH stored AS ( INSERT INTO upline_events"));
        assert!(cockroach.contains("(42::INT8, E'{\"type\""));
        assert!(cockroach.contains("WHERE programme = E'acme') = 41 RETURNING 1)"));
        assert!(!cockroach.contains("EXECUTE"));
    }

    /// Against `UPLINE_PG_URL` when set (`.ci/run` sets it; skipped
    /// otherwise): a session that holds the statements already (one a
    /// pooler hands on without a reset) prepares them again.
    #[test]
    fn a_session_that_holds_the_statements_prepares_them_again() {
        let Ok(url) = std::env::var("UPLINE_PG_URL") else {
            return;
        };
        let db = format!("upline_u_session_{}", std::process::id());
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        for sql in [
            format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            format!("CREATE DATABASE {db}"),
        ] {
            admin.batch_execute(&sql).unwrap();
        }
        let db_url = match url.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{db}"),
            None => unreachable!("a URL with a database"),
        };
        // The store creates the schema and prepares its own session.
        let store = super::PostgresStore::open(&db_url, "acme").unwrap();
        let mut client = postgres::Client::connect(&db_url, postgres::NoTls).unwrap();
        super::prepare_session(&mut client).unwrap();
        super::prepare_session(&mut client).unwrap();
        let rows = client
            .simple_query("EXECUTE upline_events_after(E'acme', 0, 10)")
            .unwrap();
        assert!(rows
            .iter()
            .all(|m| !matches!(m, postgres::SimpleQueryMessage::Row(_))));
        drop((store, client));
        admin
            .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
            .unwrap();
    }

    #[test]
    fn a_programme_id_with_braces_stays_a_literal() {
        let sql = fill(TRY_LOCK, false, false, "a{limit}{after}", 41, 10, -1);
        assert_eq!(
            folded(&sql),
            "BEGIN; EXECUTE upline_try_row(E'a{limit}{after}'); \
             EXECUTE upline_events_after(E'a{limit}{after}', 41, 11)"
        );
    }

    #[test]
    fn a_group_notification_names_the_tickets_it_answered() {
        let answers = Answers {
            sql: "EXECUTE upline_answer_put(E'acme', ARRAY[5, 7]::INT8[], ARRAY[11, NULL]::INT8[]);\n"
                .to_string(),
            tickets: "5,7".to_string(),
        };
        let sql = answers.statements("acme", true);
        assert!(sql.starts_with("EXECUTE upline_answer_put("));
        assert!(
            sql.ends_with("NOTIFY upline_queue, E'acme\n1\n5,7';\n"),
            "{sql}"
        );
        assert!(answers
            .statements("acme", false)
            .ends_with("NOTIFY upline_queue, E'acme\n0\n5,7';\n"));
        // No answers: no statement at all (nothing to wake anyone for).
        assert_eq!(Answers::default().statements("acme", true), "");
    }

    #[test]
    fn a_list_of_tickets_too_long_for_a_payload_is_left_out() {
        let tickets: Vec<String> = (1_000_000_000_000u64..)
            .take(500)
            .map(|t| t.to_string())
            .collect();
        let answers = Answers {
            sql: "EXECUTE upline_answer_put(…);\n".to_string(),
            tickets: tickets.join(","),
        };
        assert!(answers.tickets.len() > NOTIFY_TICKETS_BYTES);
        assert!(answers
            .statements("acme", true)
            .ends_with("NOTIFY upline_queue, E'acme\n1';\n"));
    }

    #[test]
    fn a_waiting_writer_reads_only_after_a_group_that_may_answer_it() {
        let heard = |payload: &str, ticket: &str| Notified::read(payload, "acme", ticket);
        let notified = |leading, answered| Some(Notified { leading, answered });
        // Another programme's group: not heard at all.
        assert_eq!(heard("acme2\n1\n7", "7"), None);
        assert_eq!(heard("acm\n1\n7", "7"), None);
        // Its own ticket among those answered, and only a whole number.
        assert_eq!(heard("acme\n1\n5,7", "7"), notified(true, true));
        assert_eq!(heard("acme\n1\n5,17", "7"), notified(true, false));
        assert_eq!(heard("acme\n1\n5,70", "7"), notified(true, false));
        // The holder let the lock go: the writer tries it, answered or not.
        assert_eq!(heard("acme\n0\n5", "7"), notified(false, false));
        // No list (an earlier version's payload, or one too long): maybe.
        assert_eq!(heard("acme\n1", "7"), notified(true, true));
        assert_eq!(heard("acme\n0", "7"), notified(false, true));
    }
}
