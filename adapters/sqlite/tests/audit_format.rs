//! Audit formats in SQLite files: a file written by a format-1 build (schema
//! version 1 with books in it) is refused by `Engine::open` and by
//! `verify_store` with a `storage` error naming the format, never
//! `tampered`; its events can still be read and replayed into a new store;
//! an empty version-1 file becomes an ordinary format-2 store.

use std::path::PathBuf;

use rusqlite::params;
use upline::{Engine, ErrorKind, Event, Store};
use upline_sqlite::{SqliteStore, SCHEMA_VERSION};

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("upline-sqlite-format-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

const JOINS: [&str; 2] = [
    r#"{"type":"member_joined","member":"ann","sponsor":null,"at":"2026-01-01T00:00:00Z"}"#,
    r#"{"type":"member_joined","member":"bob","sponsor":"ann","at":"2026-01-02T00:00:00Z"}"#,
];

/// A file as a format-1 build left it: schema version 1, `events` and
/// `snapshots` only, `events` rows carrying format-1 hashes.
fn version_1_file(name: &str, events: &[&str]) -> PathBuf {
    let path = temp_path(name);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE events (
             seq INTEGER PRIMARY KEY,
             event TEXT NOT NULL,
             hash BLOB NOT NULL CHECK (length(hash) = 32)
         );
         CREATE TABLE snapshots (
             seq INTEGER PRIMARY KEY,
             snapshot TEXT NOT NULL
         );
         PRAGMA application_id = 0x55504C4E;
         PRAGMA user_version = 1;",
    )
    .unwrap();
    for (i, event) in events.iter().enumerate() {
        conn.execute(
            "INSERT INTO events (seq, event, hash) VALUES (?1, ?2, ?3)",
            params![i as i64 + 1, event, &[7u8; 32][..]],
        )
        .unwrap();
    }
    path
}

#[test]
fn a_format_1_store_is_refused_as_storage_naming_the_format() {
    let path = version_1_file("v1.sqlite", &JOINS);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.audit_format().unwrap(), 1);
    let err = upline::engine::verify_store(&store).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    let err = Engine::open(Box::new(store)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert_eq!(
        err.message(),
        "this store was written with audit format 1; this build reads format 2 only: \
         replay its events into a new store"
    );
    // Opening it again does not change its recorded format.
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.audit_format().unwrap(), 1);
    let version: i32 = store
        .connection()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);

    // Its events replay into a new store, which opens and verifies.
    let mut events = Vec::new();
    store
        .scan(1, &mut |stored| {
            events.push(Event::from_json(&stored.event)?);
            Ok(())
        })
        .unwrap();
    let fresh = temp_path("v2.sqlite");
    let mut engine = Engine::open(Box::new(SqliteStore::open(&fresh).unwrap())).unwrap();
    for result in engine.apply_batch(&events).unwrap() {
        result.unwrap();
    }
    let head = engine.audit_head();
    assert_eq!(head.seq, 2);
    drop(engine);
    let reopened = Engine::open(Box::new(SqliteStore::open(&fresh).unwrap())).unwrap();
    assert_eq!(reopened.verify().unwrap(), head);
}

#[test]
fn a_format_1_store_with_only_a_snapshot_is_refused_too() {
    let path = version_1_file("v1-snapshot.sqlite", &[]);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO snapshots (seq, snapshot) VALUES (5, '{\"format\":1}')",
        [],
    )
    .unwrap();
    drop(conn);
    let err = Engine::open(Box::new(SqliteStore::open(&path).unwrap())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(err.message().contains("audit format 1"), "{err}");
}

#[test]
fn an_empty_version_1_file_becomes_a_format_2_store() {
    let path = version_1_file("v1-empty.sqlite", &[]);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.audit_format().unwrap(), upline::audit::FORMAT);
    let mut engine = Engine::open(Box::new(store)).unwrap();
    engine.apply_json(JOINS[0]).unwrap();
    let head = engine.audit_head();
    drop(engine);
    let reopened = Engine::open(Box::new(SqliteStore::open(&path).unwrap())).unwrap();
    assert_eq!(reopened.verify().unwrap(), head);
}

#[test]
fn a_format_1_snapshot_in_a_format_2_store_is_refused_as_storage() {
    let path = temp_path("snap.sqlite");
    let mut engine = Engine::open(Box::new(SqliteStore::open(&path).unwrap())).unwrap();
    for join in JOINS {
        engine.apply_json(join).unwrap();
    }
    engine.save_snapshot().unwrap();
    drop(engine);
    // Rewrite the snapshot as a format-1 build wrote it (snapshot format 2).
    let conn = rusqlite::Connection::open(&path).unwrap();
    let text: String = conn
        .query_row("SELECT snapshot FROM snapshots", [], |row| row.get(0))
        .unwrap();
    let current = format!("{{\"format\":{},", upline::engine::SNAPSHOT_FORMAT);
    assert!(text.starts_with(&current), "{}", &text[..20]);
    let old = text.replacen(&current, "{\"format\":2,", 1);
    conn.execute("UPDATE snapshots SET snapshot = ?1", params![old])
        .unwrap();
    drop(conn);
    let err = Engine::open(Box::new(SqliteStore::open(&path).unwrap())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(
        err.message()
            .starts_with("this snapshot (snapshot format 2) was written with audit format 1"),
        "{err}"
    );
}

/// Snapshot format 3 (before sale lines read their facts from their
/// ledger entries) is outdated, not refused: a SQLite store whose latest
/// snapshot says format 3 opens by replaying its events, and verifies.
#[test]
fn a_store_whose_snapshot_is_format_3_opens_by_replaying_its_events() {
    let path = temp_path("snap-3.sqlite");
    let mut engine = Engine::open(Box::new(SqliteStore::open(&path).unwrap())).unwrap();
    for join in JOINS {
        engine.apply_json(join).unwrap();
    }
    engine.save_snapshot().unwrap();
    let head = engine.audit_head();
    drop(engine);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let text: String = conn
        .query_row("SELECT snapshot FROM snapshots", [], |row| row.get(0))
        .unwrap();
    let current = format!("{{\"format\":{},", upline::engine::SNAPSHOT_FORMAT);
    let old = text.replacen(&current, "{\"format\":3,", 1);
    assert_ne!(old, text);
    conn.execute("UPDATE snapshots SET snapshot = ?1", params![old])
        .unwrap();
    drop(conn);
    let mut reopened = Engine::open(Box::new(SqliteStore::open(&path).unwrap())).unwrap();
    assert_eq!(reopened.audit_head(), head);
    assert_eq!(reopened.verify().unwrap(), head);
    assert_eq!(
        Engine::from_snapshot_json(&old).unwrap_err().kind(),
        ErrorKind::Storage
    );
    reopened
        .apply_json(
            r#"{"type":"member_joined","member":"cal","sponsor":"bob","at":"2026-01-03T00:00:00Z"}"#,
        )
        .unwrap();
    assert_eq!(reopened.audit_head().seq, 3);
}

#[test]
fn a_read_only_open_never_writes_not_even_to_migrate_a_version_1_file() {
    let path = version_1_file("v1-read-only.sqlite", &JOINS);
    let before = std::fs::read(&path).unwrap();
    let store = SqliteStore::open_read_only(&path).unwrap();
    // Read as it is: what migration 2 would record, without migrating.
    assert_eq!(store.audit_format().unwrap(), 1);
    let err = Engine::open(Box::new(store)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(err.message().contains("audit format 1"), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is byte for byte as it was"
    );
    let version: i32 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 1);

    // An empty version-1 file reads as an empty format-2 store.
    let empty = version_1_file("v1-read-only-empty.sqlite", &[]);
    let store = SqliteStore::open_read_only(&empty).unwrap();
    assert_eq!(store.audit_format().unwrap(), upline::audit::FORMAT);
    assert_eq!(Engine::open(Box::new(store)).unwrap().audit_head().seq, 0);
}

#[test]
fn a_read_only_store_reads_the_books_and_refuses_every_write() {
    let path = temp_path("read-only.sqlite");
    let mut engine = Engine::open(Box::new(SqliteStore::open(&path).unwrap())).unwrap();
    for event in JOINS {
        engine.apply_json(event).unwrap();
    }
    let head = engine.audit_head();
    drop(engine);

    let mut engine = Engine::open(Box::new(SqliteStore::open_read_only(&path).unwrap())).unwrap();
    assert_eq!(engine.audit_head(), head);
    assert_eq!(engine.verify().unwrap(), head);
    let err = engine
        .apply_json(
            r#"{"type":"member_joined","member":"cy","sponsor":"ann","at":"2026-01-03T00:00:00Z"}"#,
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(err.message().contains("read-only"), "{err}");
    assert_eq!(engine.audit_head(), head, "a refused write changes nothing");
    let err = engine.save_snapshot().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    drop(engine);
    let reopened = Engine::open(Box::new(SqliteStore::open(&path).unwrap())).unwrap();
    assert_eq!(reopened.audit_head(), head);

    // A path with nothing there, and a file that is not a database.
    let err = SqliteStore::open_read_only(temp_path("nothing.sqlite")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    let junk = temp_path("junk.sqlite");
    std::fs::write(&junk, b"not a database at all, just some bytes").unwrap();
    let err = SqliteStore::open_read_only(&junk).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    let empty = temp_path("empty.sqlite");
    std::fs::write(&empty, b"").unwrap();
    let err = SqliteStore::open_read_only(&empty).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(err.message().contains("holds no Upline store"), "{err}");
}
