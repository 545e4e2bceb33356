//! Audit formats of PostgreSQL programmes (against `UPLINE_PG_URL`, the
//! server `.ci/run` starts): each programme records the audit format its
//! hashes were written with; a programme of another format is refused by
//! `Engine::open` and `verify_store` with a `storage` error naming the
//! format, never `tampered`, while the other programmes of the database
//! open as before; migrating a version-1 database records format 2 for
//! every programme it holds; a programme with events and no recorded
//! format is a clear `storage` error.
//!
//! Without `UPLINE_PG_URL` each test prints why it skips and passes,
//! except under `CI=true`, where a missing server fails the run.

mod common;

use common::{fresh_db, server};
use postgres::{Client, NoTls};
use upline::{Engine, ErrorKind, Event, Store};
use upline_postgres::{PostgresStore, SCHEMA_VERSION};

const JOINS: [&str; 2] = [
    r#"{"type":"member_joined","member":"ann","sponsor":null,"at":"2026-01-01T00:00:00Z"}"#,
    r#"{"type":"member_joined","member":"bob","sponsor":"ann","at":"2026-01-02T00:00:00Z"}"#,
];

fn fill(url: &str, programme: &str) -> Engine {
    let mut engine = Engine::open(Box::new(PostgresStore::open(url, programme).unwrap())).unwrap();
    for join in JOINS {
        engine.apply_json(join).unwrap();
    }
    engine
}

fn recorded(db: &mut Client) -> Vec<(String, i64)> {
    db.query(
        "SELECT programme, audit_format FROM upline_programmes ORDER BY programme",
        &[],
    )
    .unwrap()
    .iter()
    .map(|row| (row.get(0), row.get(1)))
    .collect()
}

#[test]
fn a_format_1_programme_is_refused_as_storage_naming_the_format() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "format1").0;
    drop(fill(&url, "acme"));
    let globex = fill(&url, "globex").audit_head();
    let mut db = Client::connect(&url, NoTls).unwrap();
    assert_eq!(
        recorded(&mut db),
        [
            ("acme".to_string(), i64::from(upline::audit::FORMAT)),
            ("globex".to_string(), i64::from(upline::audit::FORMAT)),
        ]
    );
    // As a format-1 build would have left it.
    db.batch_execute("UPDATE upline_programmes SET audit_format = 1 WHERE programme = 'acme'")
        .unwrap();

    let store = PostgresStore::open(&url, "acme").unwrap();
    assert_eq!(store.audit_format().unwrap(), 1);
    let err = upline::engine::verify_store(&store).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    let err = Engine::open(Box::new(store)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert_eq!(
        err.message(),
        "this store was written with audit format 1; this build reads format 2 only: \
         replay its events into a new store"
    );
    let err =
        Engine::open_follower(Box::new(PostgresStore::open(&url, "acme").unwrap())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    // Opening it again does not change its recorded format.
    assert_eq!(
        PostgresStore::open(&url, "acme")
            .unwrap()
            .audit_format()
            .unwrap(),
        1
    );

    // Its events replay into a new programme, which opens and verifies.
    let mut events = Vec::new();
    PostgresStore::open(&url, "acme")
        .unwrap()
        .scan(1, &mut |stored| {
            events.push(Event::from_json(&stored.event)?);
            Ok(())
        })
        .unwrap();
    let mut moved = Engine::open(Box::new(PostgresStore::open(&url, "acme2").unwrap())).unwrap();
    for result in moved.apply_batch(&events).unwrap() {
        result.unwrap();
    }
    let head = moved.audit_head();
    assert_eq!(head.seq, 2);
    let reopened = Engine::open(Box::new(PostgresStore::open(&url, "acme2").unwrap())).unwrap();
    assert_eq!(reopened.verify().unwrap(), head);

    // The other programme of the database is not affected.
    let other = Engine::open(Box::new(PostgresStore::open(&url, "globex").unwrap())).unwrap();
    assert_eq!(other.verify().unwrap(), globex);
}

#[test]
fn migrating_a_version_1_database_records_format_2_for_its_programmes() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "migrate2").0;
    let mut acme = fill(&url, "acme");
    acme.save_snapshot().unwrap();
    let acme = acme.audit_head();
    drop(fill(&url, "globex"));
    // Back to what a version-1 build left: no upline_programmes, and a
    // programme that has only a snapshot.
    let mut db = Client::connect(&url, NoTls).unwrap();
    db.batch_execute(
        "DROP TABLE upline_programmes;
         UPDATE upline_meta SET value = '1' WHERE key = 'schema_version';
         INSERT INTO upline_snapshots (programme, seq, snapshot) VALUES ('initech', 5, '{}');",
    )
    .unwrap();

    let store = PostgresStore::open(&url, "acme").unwrap();
    let version: String = db
        .query_one(
            "SELECT value FROM upline_meta WHERE key = 'schema_version'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(version, SCHEMA_VERSION.to_string());
    assert_eq!(
        recorded(&mut db),
        [
            ("acme".to_string(), 2),
            ("globex".to_string(), 2),
            ("initech".to_string(), 2),
        ]
    );
    assert_eq!(store.audit_format().unwrap(), 2);
    let engine = Engine::open(Box::new(store)).unwrap();
    assert_eq!(engine.verify().unwrap(), acme);

    // A new programme records this build's format when first opened.
    drop(PostgresStore::open(&url, "hooli").unwrap());
    assert!(recorded(&mut db).contains(&("hooli".to_string(), i64::from(upline::audit::FORMAT))));
}

#[test]
fn a_programme_with_events_and_no_recorded_format_is_a_storage_error() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "noformat").0;
    drop(fill(&url, "acme"));
    let mut db = Client::connect(&url, NoTls).unwrap();
    db.batch_execute("DELETE FROM upline_programmes WHERE programme = 'acme'")
        .unwrap();
    // Opening does not guess a format for books it did not see begin.
    let store = PostgresStore::open(&url, "acme").unwrap();
    assert!(recorded(&mut db).is_empty());
    let err = Engine::open(Box::new(store)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(
        err.message()
            .contains("upline_programmes does not record programme \"acme\"'s audit format"),
        "{err}"
    );
}
