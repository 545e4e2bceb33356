//! # upline-sqlite
//!
//! The embedded default [`Store`] for Upline: one SQLite file (bundled
//! SQLite, nothing to install), WAL journal, `synchronous = FULL`, and one
//! transaction per append, so `Engine::apply_batch` of N events is one
//! durable commit (group commit). A process killed at any point loses no
//! committed event and leaves no partial one.
//!
//! Several processes on one machine may open the same file, each with its
//! own engine: an append takes SQLite's write lock first (`BEGIN
//! IMMEDIATE`), checks that the file's head is still the engine's, and
//! stores nothing otherwise (`conflict`: the engine catches up and tries
//! again). A writer waits up to [`BUSY_TIMEOUT`] for the lock.
//!
//! ```
//! use upline::Engine;
//! use upline_sqlite::SqliteStore;
//!
//! let dir = std::env::temp_dir().join(format!("upline-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).map_err(|e| upline::Error::general(upline::ErrorKind::Storage, e.to_string()))?;
//! let path = dir.join("books.sqlite");
//! # let _ = std::fs::remove_file(&path);
//! let mut engine = Engine::open(Box::new(SqliteStore::open(&path)?))?;
//! engine.apply_json(r#"{"type":"member_joined","member":"ann","sponsor":null,"at":"2026-01-01T00:00:00Z"}"#)?;
//! let head = engine.audit_head();
//! drop(engine);
//!
//! let reopened = Engine::open(Box::new(SqliteStore::open(&path)?))?;
//! assert_eq!(reopened.audit_head(), head);
//! assert_eq!(reopened.verify()?, head);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), upline::Error>(())
//! ```
//!
//! ## Schema (version 2)
//!
//! `PRAGMA application_id` is `0x55504C4E` ("UPLN") and `PRAGMA
//! user_version` the schema version. Tables: `events(seq INTEGER PRIMARY
//! KEY, event TEXT, hash BLOB)`, `snapshots(seq INTEGER PRIMARY KEY,
//! snapshot TEXT)` and `meta(key TEXT PRIMARY KEY, value TEXT)`, whose
//! `audit_format` row is the audit format of the stored hashes
//! ([`upline::audit::FORMAT`]). Opening a file of another application, a
//! newer schema or a damaged file is a `storage` error, never a panic.
//!
//! Schema 2 added `meta`. Migrating a version-1 file records audit format
//! 1 when it holds any event or snapshot (its hashes are of that format),
//! so `Engine::open` refuses it with a `storage` error naming the format;
//! its events can still be read ([`Store::scan`]) and replayed into a new
//! store. An empty version-1 file becomes an ordinary format-2 store.
//! [`SqliteStore::open_read_only`] never writes, not even to migrate: it
//! reads a version-1 file as it is (the `upline` command's read commands
//! use it).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use upline::store::check_append;
use upline::{Error, ErrorKind, Hash, Result, Store, StoredEvent};

/// How long a writer waits for another process's write lock on the file.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// `PRAGMA application_id` of an Upline database ("UPLN").
pub const APPLICATION_ID: i32 = 0x5550_4C4E;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i32 = 2;

/// Migrations: element `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE events (
         seq INTEGER PRIMARY KEY,
         event TEXT NOT NULL,
         hash BLOB NOT NULL CHECK (length(hash) = 32)
     );
     CREATE TABLE snapshots (
         seq INTEGER PRIMARY KEY,
         snapshot TEXT NOT NULL
     );",
    // Version 2: the audit format of the stored hashes. A file that already
    // holds books was written with audit format 1.
    "CREATE TABLE meta (
         key TEXT PRIMARY KEY,
         value TEXT NOT NULL
     );
     INSERT INTO meta (key, value) SELECT 'audit_format',
         CASE WHEN EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM snapshots)
              THEN '1' ELSE '2' END;",
];

/// An Upline store in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    /// The file's schema version: [`SCHEMA_VERSION`] once opened for
    /// writing; a read-only store keeps an older file's version as it is.
    schema: i32,
    /// Opened with [`SqliteStore::open_read_only`]: writes are refused.
    read_only: bool,
}

fn storage(context: &str, err: rusqlite::Error) -> Error {
    Error::general(ErrorKind::Storage, format!("sqlite: {context}: {err}"))
}

impl SqliteStore {
    /// Opens (or creates) the store at `path`, migrating an older schema.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let path = path.as_ref();
        let conn = Connection::open(path)
            .map_err(|e| storage(&format!("cannot open {}", path.display()), e))?;
        SqliteStore::init(conn)
    }

    /// Opens an existing store for reading only: the file is never
    /// written, not even to migrate an older schema (a version-1 file is
    /// read as it is; one that holds books reports audit format 1, which
    /// `Engine::open` refuses). For operators' read commands (`upline
    /// verify`, `head`, `export`, `statement`) on books another process
    /// writes, or on a copy that must stay byte for byte as it was.
    ///
    /// Errors: `storage` when `path` does not exist, is not an Upline
    /// store, or has a newer schema; [`Store::append`] and
    /// [`Store::save_snapshot`] on the store are `storage` ("read-only").
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let path = path.as_ref();
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| storage(&format!("cannot open {} read-only", path.display()), e))?;
        let schema = SqliteStore::check(&conn)?;
        if schema == 0 {
            return Err(Error::general(
                ErrorKind::Storage,
                format!("{} holds no Upline store", path.display()),
            ));
        }
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| storage("cannot set the busy timeout", e))?;
        Ok(SqliteStore {
            conn,
            schema,
            read_only: true,
        })
    }

    /// A store in memory (for tests).
    pub fn open_in_memory() -> Result<SqliteStore> {
        let conn = Connection::open_in_memory().map_err(|e| storage("cannot open", e))?;
        SqliteStore::init(conn)
    }

    /// Checks that `conn` is an Upline store (or an empty database) of a
    /// schema this build reads, and returns its schema version (0: empty).
    fn check(conn: &Connection) -> Result<i32> {
        let pragma = |name: &str| -> Result<i32> {
            conn.query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))
                .map_err(|e| storage(&format!("not a readable SQLite database ({name})"), e))
        };
        let application_id = pragma("application_id")?;
        let version = pragma("user_version")?;
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
            .map_err(|e| storage("not a readable SQLite database", e))?;
        if tables > 0 && application_id != APPLICATION_ID {
            return Err(Error::general(
                ErrorKind::Storage,
                format!(
                    "the file is a SQLite database of another application \
                     (application_id {application_id:#x}), not an Upline store"
                ),
            ));
        }
        if version > SCHEMA_VERSION {
            return Err(Error::general(
                ErrorKind::Storage,
                format!(
                    "the store has schema version {version}, newer than the {SCHEMA_VERSION} \
                     this build knows; upgrade Upline"
                ),
            ));
        }
        Ok(version)
    }

    fn init(conn: Connection) -> Result<SqliteStore> {
        let version = SqliteStore::check(&conn)?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| storage("cannot set the busy timeout", e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| storage("cannot enable WAL", e))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| storage("cannot set synchronous", e))?;
        let mut store = SqliteStore {
            conn,
            schema: SCHEMA_VERSION,
            read_only: false,
        };
        store.migrate(version)?;
        Ok(store)
    }

    fn migrate(&mut self, from: i32) -> Result<()> {
        if from == SCHEMA_VERSION {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction()
            .map_err(|e| storage("cannot start migration", e))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(from.max(0) as usize) {
            tx.execute_batch(sql)
                .map_err(|e| storage(&format!("migration to version {}", i + 1), e))?;
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(|e| storage("cannot set application_id", e))?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(|e| storage("cannot set user_version", e))?;
        tx.commit()
            .map_err(|e| storage("cannot commit migration", e))
    }

    /// Number of stored events.
    pub fn len(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT count(*) FROM events", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(|e| storage("cannot count events", e))
    }

    /// Whether no event is stored.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// `storage` when the store was opened read-only.
    fn writable(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::general(
                ErrorKind::Storage,
                "sqlite: the store was opened read-only (SqliteStore::open_read_only)",
            ));
        }
        Ok(())
    }

    /// The underlying connection, for hosts that add their own tables (and
    /// for tamper tests). Writing to Upline's tables breaks verification,
    /// by design.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

impl Store for SqliteStore {
    fn append(&mut self, events: &[StoredEvent]) -> Result<()> {
        self.writable()?;
        if events.is_empty() {
            return Ok(());
        }
        // IMMEDIATE takes the write lock before the head is read, so no
        // other process can append between the check and the inserts.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| storage("cannot begin", e))?;
        {
            let head: i64 = tx
                .prepare_cached("SELECT coalesce(max(seq), 0) FROM events")
                .and_then(|mut query| query.query_row([], |row| row.get(0)))
                .map_err(|e| storage("cannot read the head", e))?;
            check_append(u64::try_from(head).unwrap_or(0), events)?;
            let mut insert = tx
                .prepare_cached("INSERT INTO events (seq, event, hash) VALUES (?1, ?2, ?3)")
                .map_err(|e| storage("cannot prepare insert", e))?;
            for event in events {
                let seq = i64::try_from(event.seq).map_err(|_| {
                    Error::general(ErrorKind::Storage, "sequence number out of range")
                })?;
                insert
                    .execute(params![seq, event.event, &event.hash.0[..]])
                    .map_err(|e| storage(&format!("cannot store event {}", event.seq), e))?;
            }
        }
        tx.commit().map_err(|e| storage("cannot commit", e))
    }

    fn head(&self) -> Result<u64> {
        let head: i64 = self
            .conn
            .prepare_cached("SELECT coalesce(max(seq), 0) FROM events")
            .and_then(|mut query| query.query_row([], |row| row.get(0)))
            .map_err(|e| storage("cannot read the head", e))?;
        Ok(u64::try_from(head).unwrap_or(0))
    }

    fn scan(&self, from: u64, visit: &mut dyn FnMut(StoredEvent) -> Result<()>) -> Result<()> {
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let mut query = self
            .conn
            .prepare_cached("SELECT seq, event, hash FROM events WHERE seq >= ?1 ORDER BY seq")
            .map_err(|e| storage("cannot prepare scan", e))?;
        let mut rows = query
            .query(params![from])
            .map_err(|e| storage("cannot scan", e))?;
        while let Some(row) = rows.next().map_err(|e| storage("cannot read event", e))? {
            let seq: i64 = row.get(0).map_err(|e| storage("bad seq", e))?;
            // A damaged row reads as an event that cannot match its hash,
            // so verification reports it at its sequence number.
            let event: String = row.get(1).unwrap_or_default();
            let hash: Vec<u8> = row.get(2).unwrap_or_default();
            let hash = <[u8; 32]>::try_from(hash.as_slice())
                .map(Hash)
                .unwrap_or(Hash::ZERO);
            visit(StoredEvent {
                seq: u64::try_from(seq).unwrap_or(0),
                event,
                hash,
            })?;
        }
        Ok(())
    }

    fn hash_at(&self, seq: u64) -> Result<Option<Hash>> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        let hash: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT hash FROM events WHERE seq = ?1")
            .and_then(|mut query| query.query_row(params![seq], |row| row.get(0)).optional())
            .map_err(|e| storage("cannot read a stored hash", e))?;
        Ok(hash.map(|hash| {
            <[u8; 32]>::try_from(hash.as_slice())
                .map(Hash)
                .unwrap_or(Hash::ZERO)
        }))
    }

    fn audit_format(&self) -> Result<u32> {
        if self.schema < 2 {
            // A version-1 file read as it is: what migration 2 would record.
            let books: bool = self
                .conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM snapshots)",
                    [],
                    |row| row.get(0),
                )
                .map_err(|e| storage("cannot read the store", e))?;
            return Ok(if books { 1 } else { upline::audit::FORMAT });
        }
        let value: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'audit_format'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| storage("cannot read the audit format", e))?;
        let value = value.ok_or_else(|| {
            Error::general(
                ErrorKind::Storage,
                "sqlite: the store does not record its audit format",
            )
        })?;
        value.parse().map_err(|_| {
            Error::general(
                ErrorKind::Storage,
                format!("sqlite: the store records an unreadable audit format {value:?}"),
            )
        })
    }

    fn latest_snapshot(&self) -> Result<Option<(u64, String)>> {
        self.conn
            .query_row(
                "SELECT seq, snapshot FROM snapshots ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, String>(1)?)),
            )
            .optional()
            .map_err(|e| storage("cannot read snapshot", e))
    }

    fn save_snapshot(&mut self, seq: u64, snapshot: &str) -> Result<()> {
        self.writable()?;
        let seq = i64::try_from(seq)
            .map_err(|_| Error::general(ErrorKind::Storage, "sequence number out of range"))?;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO snapshots (seq, snapshot) VALUES (?1, ?2)",
                params![seq, snapshot],
            )
            .map(|_| ())
            .map_err(|e| storage("cannot save snapshot", e))
    }
}
