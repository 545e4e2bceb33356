//! The PostgreSQL store against a real server (`UPLINE_PG_URL`, which
//! `.ci/run` sets after starting its own PostgreSQL 15 with
//! `.ci/postgres.sh`): replay with and without a snapshot, tamper detection
//! at the right event, bad schemas, tables of another application,
//! programmes kept apart, errors without secrets, conditional appends, and
//! many writers in separate OS processes on one programme.
//!
//! Without `UPLINE_PG_URL` each test prints why it skips and passes,
//! except under `CI=true`, where a missing server fails the run.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

mod common;

use common::{fresh_db, server};
use postgres::{Client, NoTls};
use upline::store::{Appended, Missing, TryLock};
use upline::{Engine, ErrorKind, Event, Hash, Store, StoredEvent, Timestamp};
use upline_postgres::{GroupCommit, PostgresStore};

/// The same deterministic stream as the SQLite suite: 60 members in a
/// binary tree, then sales and refunds.
fn event(i: u64) -> Event {
    let json = if i < 60 {
        let sponsor = if i == 0 {
            "null".to_string()
        } else {
            format!("\"m{}\"", (i - 1) / 2)
        };
        format!(
            r#"{{"type":"member_joined","member":"m{i}","sponsor":{sponsor},"at":"2026-01-01T00:00:00Z"}}"#
        )
    } else if i.is_multiple_of(7) {
        format!(
            r#"{{"type":"refund_recorded","refund":"r{i}","sale":"s{}","amount":"1.00","at":"2026-02-03T00:00:00Z"}}"#,
            i - 1
        )
    } else {
        format!(
            r#"{{"type":"sale_recorded","sale":"s{i}","buyer":"m{}","amount":"{}.{:02}","currency":"USD","at":"2026-02-02T00:00:00Z"}}"#,
            i % 60,
            10 + i % 90,
            i % 100
        )
    };
    Event::from_json(&json).unwrap()
}

fn open(url: &str, programme: &str) -> Engine {
    Engine::open(Box::new(PostgresStore::open(url, programme).unwrap())).unwrap()
}

fn fill(url: &str, programme: &str, n: u64) -> Engine {
    let mut engine = open(url, programme);
    let events: Vec<Event> = (0..n).map(event).collect();
    for chunk in events.chunks(25) {
        for result in engine.apply_batch(chunk).unwrap() {
            result.unwrap();
        }
    }
    engine
}

fn state(engine: &Engine) -> serde_json::Value {
    serde_json::from_str(&engine.snapshot_json()).unwrap()
}

#[test]
fn reopened_store_equals_the_live_engine_with_and_without_snapshot() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "replay").0;
    let mut live = fill(&url, "acme", 150);
    let head = live.audit_head();
    assert_eq!(head.seq, 150);

    let reopened = open(&url, "acme");
    assert_eq!(reopened.audit_head(), head);
    assert_eq!(state(&reopened), state(&live));
    drop(reopened);

    live.save_snapshot().unwrap();
    for i in 150..180 {
        live.apply(&event(i)).unwrap();
    }
    let from_snapshot = open(&url, "acme");
    assert_eq!(from_snapshot.audit_head(), live.audit_head());
    assert_eq!(state(&from_snapshot), state(&live));
    assert_eq!(from_snapshot.verify().unwrap(), live.audit_head());
}

fn tampered_at(url: &str) -> u64 {
    let store = PostgresStore::open(url, "acme").unwrap();
    upline::engine::verify_store(&store)
        .unwrap()
        .unwrap_err()
        .seq
}

#[test]
fn changing_dropping_reordering_or_inserting_is_detected_at_the_right_event() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "tamper").0;
    drop(fill(&url, "acme", 100));
    let mut db = Client::connect(&url, NoTls).unwrap();
    db.batch_execute("CREATE TABLE backup AS SELECT * FROM upline_events")
        .unwrap();
    let restore = |db: &mut Client| {
        db.batch_execute(
            "DELETE FROM upline_events; INSERT INTO upline_events SELECT * FROM backup",
        )
        .unwrap();
    };

    db.batch_execute(
        r#"UPDATE upline_events SET event = replace(event, '"amount":"72.62"', '"amount":"72.63"') WHERE seq = 63"#,
    )
    .unwrap();
    assert_eq!(tampered_at(&url), 63);
    restore(&mut db);

    db.batch_execute(
        "UPDATE upline_events SET hash = decode(repeat('00', 32), 'hex') WHERE seq = 80",
    )
    .unwrap();
    assert_eq!(tampered_at(&url), 80);
    restore(&mut db);

    db.batch_execute("DELETE FROM upline_events WHERE seq = 70")
        .unwrap();
    assert_eq!(tampered_at(&url), 70);
    restore(&mut db);

    db.batch_execute(
        "BEGIN;
         UPDATE upline_events SET seq = 1000 WHERE seq = 90;
         UPDATE upline_events SET seq = 90 WHERE seq = 91;
         UPDATE upline_events SET seq = 91 WHERE seq = 1000;
         COMMIT;",
    )
    .unwrap();
    assert_eq!(tampered_at(&url), 90);
    restore(&mut db);

    let forged =
        r#"{"type":"member_joined","member":"forged","sponsor":null,"at":"2026-01-01T00:00:00Z"}"#;
    db.batch_execute(
        "BEGIN;
         UPDATE upline_events SET seq = seq + 1000 WHERE seq >= 50;
         UPDATE upline_events SET seq = seq - 999 WHERE seq >= 1000;
         COMMIT;",
    )
    .unwrap();
    db.execute(
        "INSERT INTO upline_events SELECT 'acme', 50, $1, hash FROM backup WHERE seq = 50",
        &[&forged],
    )
    .unwrap();
    assert_eq!(tampered_at(&url), 50);
    restore(&mut db);

    db.execute(
        "INSERT INTO upline_events VALUES ('acme', 101, $1, decode(repeat('00', 32), 'hex'))",
        &[&forged],
    )
    .unwrap();
    assert_eq!(tampered_at(&url), 101);
    restore(&mut db);

    let store = PostgresStore::open(&url, "acme").unwrap();
    assert_eq!(
        upline::engine::verify_store(&store).unwrap().unwrap().seq,
        100
    );
    db.batch_execute("UPDATE upline_events SET event = replace(event, 'm5', 'm6') WHERE seq = 12")
        .unwrap();
    let err = Engine::open(Box::new(PostgresStore::open(&url, "acme").unwrap())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tampered);
}

#[test]
fn newer_schemas_and_tables_of_another_application_are_clear_errors() {
    let Some(url) = server() else { return };

    let newer = fresh_db(&url, "newer").0;
    drop(PostgresStore::open(&newer, "acme").unwrap());
    let mut db = Client::connect(&newer, NoTls).unwrap();
    db.batch_execute("UPDATE upline_meta SET value = '99' WHERE key = 'schema_version'")
        .unwrap();
    let err = PostgresStore::open(&newer, "acme").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(err.message().contains("schema version 99"), "{err}");
    assert!(err.message().contains("upgrade Upline"), "{err}");

    let foreign = fresh_db(&url, "foreign").0;
    let mut db = Client::connect(&foreign, NoTls).unwrap();
    db.batch_execute("CREATE TABLE upline_events (id INT PRIMARY KEY, note TEXT)")
        .unwrap();
    let err = PostgresStore::open(&foreign, "acme").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(err.message().contains("another application"), "{err}");
    db.batch_execute("CREATE TABLE upline_meta (id INT PRIMARY KEY)")
        .unwrap();
    let err = PostgresStore::open(&foreign, "acme").unwrap_err();
    assert!(err.message().contains("another application"), "{err}");

    let other = fresh_db(&url, "otherapp").0;
    let mut db = Client::connect(&other, NoTls).unwrap();
    db.batch_execute(
        "CREATE TABLE upline_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         INSERT INTO upline_meta VALUES ('application', 'uplift'), ('schema_version', '1');",
    )
    .unwrap();
    let err = PostgresStore::open(&other, "acme").unwrap_err();
    assert!(err.message().contains("another application"), "{err}");
    assert!(err.message().contains("uplift"), "{err}");

    // A host's own tables beside Upline's are fine.
    let shared = fresh_db(&url, "hosttables").0;
    let mut db = Client::connect(&shared, NoTls).unwrap();
    db.batch_execute("CREATE TABLE orders (id INT PRIMARY KEY)")
        .unwrap();
    drop(fill(&shared, "acme", 5));
    assert_eq!(open(&shared, "acme").audit_head().seq, 5);

    let err = PostgresStore::open(&url, "").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidId);
    assert_eq!(err.field(), Some("programme"));
}

#[test]
fn programmes_in_one_database_keep_their_own_log_and_chain() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "programmes").0;
    let acme = fill(&url, "acme", 80);
    let globex = fill(&url, "globex", 65);
    assert_eq!(acme.audit_head().seq, 80);
    assert_eq!(globex.audit_head().seq, 65);
    // The same first 65 events give the same chain prefix in both.
    let store = PostgresStore::open(&url, "acme").unwrap();
    assert_eq!(store.hash_at(65).unwrap(), Some(globex.audit_head().hash));
    assert_eq!(open(&url, "globex").verify().unwrap(), globex.audit_head());
    assert_eq!(open(&url, "acme").verify().unwrap(), acme.audit_head());
    assert!(PostgresStore::open(&url, "initech")
        .unwrap()
        .is_empty()
        .unwrap());
}

/// A stored event for the store-level tests: JSON `{"n": seq}`, its hash
/// `seq` repeated.
fn stored(seq: u64) -> StoredEvent {
    StoredEvent {
        seq,
        event: format!("{{\"n\":{seq}}}"),
        hash: Hash([seq as u8; 32]),
    }
}

#[test]
fn an_append_that_does_not_follow_the_head_is_a_conflict_and_stores_nothing() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "conflict").0;
    let mut a = PostgresStore::open(&url, "acme").unwrap();
    let mut b = PostgresStore::open(&url, "acme").unwrap();
    a.append(&[stored(1), stored(2)]).unwrap();
    for first in [1, 2, 4] {
        let err = b.append(&[stored(first), stored(first + 1)]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    }
    assert_eq!(b.head().unwrap(), 2);
    b.append(&[stored(3)]).unwrap();
    assert_eq!(a.head().unwrap(), 3);
    assert_eq!(a.hash_at(3).unwrap(), Some(Hash([3; 32])));
}

#[test]
fn a_conflicted_append_is_answered_with_the_missing_events_in_one_round_trip() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "missing").0;
    let mut a = PostgresStore::open(&url, "acme").unwrap();
    let mut b = PostgresStore::open(&url, "acme").unwrap();
    a.append(&[stored(1), stored(2), stored(3)]).unwrap();
    let before = b.round_trips();
    let answer = b.append_or_missing(&[stored(2)], 10).unwrap();
    assert_eq!(b.round_trips() - before, 1, "one statement");
    assert_eq!(
        answer,
        Appended::Conflict(Missing {
            head: 3,
            events: Some(vec![stored(2), stored(3)]),
        })
    );
    // More missing than asked for: the head only, the writer scans.
    let answer = b.append_or_missing(&[stored(1)], 2).unwrap();
    assert_eq!(
        answer,
        Appended::Conflict(Missing {
            head: 3,
            events: None
        })
    );
    assert_eq!(b.head().unwrap(), 3, "nothing stored by the conflicts");
    let before = b.round_trips();
    assert_eq!(
        b.append_or_missing(&[stored(4)], 10).unwrap(),
        Appended::Stored
    );
    assert_eq!(
        b.round_trips() - before,
        1,
        "a stored append is one statement"
    );
    assert_eq!(a.hash_at(4).unwrap(), Some(Hash([4; 32])));
}

#[test]
fn the_append_lock_holds_other_writers_off_until_its_append_is_stored() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "applock").0;
    let mut a = PostgresStore::open(&url, "acme").unwrap();
    let mut b = PostgresStore::open(&url, "acme").unwrap();
    a.append(&[stored(1), stored(2)]).unwrap();
    // b is behind (head 1 for it): the lock answers with event 2, in one
    // round trip.
    let before = b.round_trips();
    let missing = b
        .lock_appends(1, 10)
        .unwrap()
        .expect("postgres has the lock");
    assert_eq!(b.round_trips() - before, 1);
    assert_eq!(
        missing,
        Missing {
            head: 2,
            events: Some(vec![stored(2)])
        }
    );
    // a's next append waits for b's lock, then finds b's event first.
    let racer = std::thread::spawn(move || {
        let answer = a.append_or_missing(&[stored(3)], 10);
        (a, answer)
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!racer.is_finished(), "the other writer waits for the lock");
    assert_eq!(
        b.append_or_missing(&[stored(3)], 10).unwrap(),
        Appended::Stored
    );
    let (mut a, answer) = racer.join().unwrap();
    let Appended::Conflict(missing) = answer.unwrap() else {
        panic!("the writer holding the lock appended first")
    };
    assert_eq!(missing.head, 3);
    assert_eq!(missing.events, Some(vec![stored(3)]));
    // The lock went with b's append; unlocking without one rolls back.
    a.append(&[stored(4)]).unwrap();
    b.lock_appends(4, 10).unwrap();
    b.unlock_appends().unwrap();
    a.append(&[stored(5)]).unwrap();
    assert_eq!(b.head().unwrap(), 5);
    // Trying without queueing: free, it is taken; held by another, the try
    // waits for the holder's commit and answers what it stored.
    assert_eq!(
        b.try_lock_appends(5, 10).unwrap(),
        Some(TryLock::Held(Missing {
            head: 5,
            events: Some(vec![])
        }))
    );
    let trier = std::thread::spawn(move || {
        let answer = a.try_lock_appends(5, 10);
        (a, answer)
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!trier.is_finished(), "the try waits for the holder");
    assert_eq!(
        b.append_or_missing(&[stored(6)], 10).unwrap(),
        Appended::Stored
    );
    let (mut a, answer) = trier.join().unwrap();
    assert_eq!(
        answer.unwrap(),
        Some(TryLock::Busy(Missing {
            head: 6,
            events: Some(vec![stored(6)])
        }))
    );
    // A busy try holds nothing: both write on.
    a.append(&[stored(7)]).unwrap();
    b.append(&[stored(8)]).unwrap();
}

/// Every stored event of `store`, in order.
fn stored_events(store: &dyn Store) -> Vec<StoredEvent> {
    let mut read = Vec::new();
    store
        .scan(1, &mut |e| {
            read.push(e);
            Ok(())
        })
        .unwrap();
    read
}

/// Stored events `from..=to`, some with text the binary `COPY` must keep
/// byte for byte.
fn stored_run(from: u64, to: u64) -> Vec<StoredEvent> {
    (from..=to)
        .map(|seq| match seq % 3 {
            0 => StoredEvent {
                seq,
                event: format!(r#"{{"n":{seq},"t":"it's "q" \ é 💸 	"}}"#),
                hash: Hash([seq as u8; 32]),
            },
            _ => stored(seq),
        })
        .collect()
}

#[test]
fn events_sent_ahead_are_stored_by_their_append_or_not_at_all() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "ahead").0;
    let mut a = PostgresStore::open(&url, "acme").unwrap();
    let mut b = PostgresStore::open(&url, "acme").unwrap();
    a.append(&stored_run(1, 2)).unwrap();
    // Without the lock nothing is sent ahead.
    assert!(!b.send_ahead(&stored_run(3, 10)).unwrap());
    // Under the lock: sent in parts, invisible until the append commits,
    // which sends the rest and stores the group.
    b.lock_appends(2, 10).unwrap().unwrap();
    let group = stored_run(3, 1_500);
    assert!(b.send_ahead(&group[..600]).unwrap());
    assert!(b.send_ahead(&group[600..1_000]).unwrap());
    // A retried event's hash is read while the stream runs.
    assert_eq!(b.hash_at(2).unwrap(), Some(Hash([2; 32])));
    assert_eq!(a.head().unwrap(), 2, "nothing visible before the commit");
    assert_eq!(b.append_or_missing(&group, 10).unwrap(), Appended::Stored);
    assert_eq!(a.head().unwrap(), 1_500);
    let mut all = stored_run(1, 2);
    all.extend(group);
    assert_eq!(stored_events(&a), all);
    // The commit released the lock: the other writer appends at once.
    a.append(&stored_run(1_501, 1_501)).unwrap();

    // Released without an append: nothing stored, the lock free.
    b.lock_appends(1_501, 10).unwrap().unwrap();
    assert!(b.send_ahead(&stored_run(1_502, 1_800)).unwrap());
    b.unlock_appends().unwrap();
    a.append(&stored_run(1_502, 1_502)).unwrap();
    // Any other use of the store ends the stream the same way.
    b.lock_appends(1_502, 10).unwrap().unwrap();
    assert!(b.send_ahead(&stored_run(1_503, 1_600)).unwrap());
    assert_eq!(b.head().unwrap(), 1_502);
    a.append(&stored_run(1_503, 1_503)).unwrap();

    // Parts that do not follow, or an append that does not begin with
    // them: refused, nothing stored, the lock released.
    b.lock_appends(1_503, 10).unwrap().unwrap();
    assert!(b.send_ahead(&stored_run(1_504, 1_600)).unwrap());
    let err = b.send_ahead(&stored_run(1_700, 1_710)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let err = b
        .append_or_missing(&stored_run(1_550, 1_700), 10)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
    a.append(&stored_run(1_504, 1_504)).unwrap();
    assert_eq!(b.head().unwrap(), 1_504);

    // A group that does not follow the head is a conflict, answered with
    // what is missing: behind it (the primary key), or past it (the check
    // before the commit).
    b.lock_appends(1_504, 10).unwrap().unwrap();
    assert!(b.send_ahead(&stored_run(1_503, 2_000)).unwrap());
    assert_eq!(
        b.append_or_missing(&stored_run(1_503, 2_100), 10).unwrap(),
        Appended::Conflict(Missing {
            head: 1_504,
            events: Some(stored_run(1_503, 1_504)),
        })
    );
    b.lock_appends(1_504, 10).unwrap().unwrap();
    assert!(b.send_ahead(&stored_run(1_506, 2_000)).unwrap());
    assert_eq!(
        b.append_or_missing(&stored_run(1_506, 2_000), 10).unwrap(),
        Appended::Conflict(Missing {
            head: 1_505,
            events: Some(vec![]),
        })
    );
    assert_eq!(a.head().unwrap(), 1_504, "neither stored anything");
    a.append(&stored_run(1_505, 1_505)).unwrap();
}

/// A large batch sends its events ahead while it stages them: its answers
/// (new events, retries of events stored long before, refusals) equal a
/// lone engine's, two writers racing such batches store every id once,
/// and the books reopen to the same head.
#[test]
fn large_batches_sent_ahead_answer_as_a_lone_engine_and_store_each_id_once() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "bigbatch").0;
    let mut engine = fill(&url, "acme", 60);
    let mut lone = Engine::open(Box::new(upline::MemoryStore::new())).unwrap();
    for i in 0..60 {
        lone.apply(&event(i)).unwrap();
    }
    let first: Vec<Event> = (0..500).map(sale_event).collect();
    for (a, b) in engine
        .apply_batch(&first)
        .unwrap()
        .into_iter()
        .zip(lone.apply_batch(&first).unwrap())
    {
        assert_eq!(a.unwrap(), b.unwrap());
    }
    // 3,000 events: new sales, retries of the first 500 (their hashes
    // are only in the store now) and sales of an unknown buyer.
    let batch: Vec<Event> = (0..3_000u64)
        .map(|k| match k % 10 {
            3 => sale_event(k / 10),
            7 => Event::from_json(&format!(
                r#"{{"type":"sale_recorded","sale":"x{k}","buyer":"nobody","amount":"1.00","currency":"USD","at":"{SALE_AT}"}}"#
            ))
            .unwrap(),
            _ => sale_event(10_000 + k),
        })
        .collect();
    let ours = engine.apply_batch(&batch).unwrap();
    let theirs = lone.apply_batch(&batch).unwrap();
    for (k, (a, b)) in ours.into_iter().zip(theirs).enumerate() {
        match (a, b) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "event {k}"),
            (Err(a), Err(b)) => assert_eq!((a.kind(), a.to_string()), (b.kind(), b.to_string())),
            (a, b) => panic!("event {k}: {a:?} against {b:?}"),
        }
    }
    assert_eq!(engine.audit_head(), lone.audit_head());
    assert_eq!(open(&url, "acme").audit_head(), lone.audit_head());

    // Two writers race batches of 1,500 (as events and as columns), 10 %
    // of the ids at both.
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut engine = open(&url, "acme");
                let ids: Vec<u64> = (0..3u64)
                    .flat_map(|round| {
                        let base = 100_000 + round * 3_000;
                        (base + w * 1_350..base + (w + 1) * 1_350).chain(base + 2_700..base + 2_850)
                    })
                    .collect();
                for (round, chunk) in ids.chunks(1_500).enumerate() {
                    if (round + w as usize).is_multiple_of(2) {
                        apply_as_columns(&mut engine, chunk).unwrap();
                    } else {
                        let events: Vec<Event> = chunk.iter().map(|&n| sale_event(n)).collect();
                        for result in engine.apply_batch(&events).unwrap() {
                            result.unwrap();
                        }
                    }
                }
                engine
            })
        })
        .collect();
    let mut engines: Vec<Engine> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let heads: Vec<_> = engines.iter_mut().map(|e| e.catch_up().unwrap()).collect();
    let fresh = open(&url, "acme");
    assert_eq!(heads, vec![fresh.audit_head(); 2]);
    assert_eq!(fresh.verify().unwrap(), fresh.audit_head());
    // 60 members, 500 + 2,400 sales, and 3 rounds of 2 × 1,350 + 150.
    assert_eq!(fresh.audit_head().seq, 60 + 500 + 2_400 + 3 * 2_850);
}

#[test]
fn a_locked_append_keeps_quotes_backslashes_and_unicode_byte_for_byte() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "literals").0;
    // The locked path sends the programme and the events as SQL literals.
    let programme = r"o'brien \ ünï";
    let text = r#"{"id":"it's a \"quote\", a \\ backslash, \u0000, é, 💸, E'x'"}"#;
    let event = StoredEvent {
        seq: 1,
        event: text.to_string(),
        hash: Hash([7; 32]),
    };
    let mut store = PostgresStore::open(&url, programme).unwrap();
    let missing = store.lock_appends(0, 10).unwrap().unwrap();
    assert_eq!(missing.events, Some(vec![]));
    assert_eq!(
        store
            .append_or_missing(std::slice::from_ref(&event), 10)
            .unwrap(),
        Appended::Stored
    );
    let mut read = Vec::new();
    store
        .scan(1, &mut |e| {
            read.push(e);
            Ok(())
        })
        .unwrap();
    assert_eq!(read, vec![event.clone()]);
    // Another programme of the same database sees nothing of it.
    assert_eq!(PostgresStore::open(&url, "o").unwrap().head().unwrap(), 0);
    // The lock's answer carries it back the same.
    let missing = store.lock_appends(0, 10).unwrap().unwrap();
    assert_eq!(missing.events, Some(vec![event]));
    store.unlock_appends().unwrap();
}

#[test]
fn four_writers_handing_single_events_off_store_each_once_with_their_answers() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "handoff").0;
    drop(fill(&url, "acme", 60));
    let per_writer = 150u64;
    // Each writer sends its own sales, every 10th sale of the next writer
    // too (the same webhook at two workers), and every 25th a refund of a
    // sale that does not exist (refused, whoever stages it).
    let plan = |w: u64| -> Vec<Event> {
        let mut events = Vec::new();
        for n in w * per_writer..(w + 1) * per_writer {
            events.push(sale_event(n));
            let other = ((w + 1) % 4) * per_writer + (n - w * per_writer);
            if n % 10 == 0 {
                events.push(sale_event(other));
            }
            if n % 25 == 0 {
                events.push(
                    Event::from_json(&format!(
                        r#"{{"type":"refund_recorded","refund":"x{n}","sale":"nope{n}","amount":"1.00","at":"{SALE_AT}"}}"#
                    ))
                    .unwrap(),
                );
            }
        }
        events
    };
    let refused_alone = fill(&url, "alone", 60)
        .apply(&plan(0)[2])
        .expect_err("a refund of an unknown sale is refused")
        .kind();
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let url = url.clone();
            let events = plan(w);
            std::thread::spawn(move || {
                let mut store = PostgresStore::open(&url, "acme").unwrap();
                store.set_group_commit(GroupCommit::Always);
                let mut engine = Engine::open(Box::new(store)).unwrap();
                events
                    .iter()
                    .map(|event| (event.clone(), engine.apply(event)))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    // Per sale id: every answer.
    let mut answers: BTreeMap<String, Vec<upline::Applied>> = BTreeMap::new();
    let mut refused = 0;
    for writer in writers {
        for (event, result) in writer.join().unwrap() {
            match (&event, result) {
                (Event::SaleRecorded(sale), Ok(applied)) => answers
                    .entry(sale.sale.to_string())
                    .or_default()
                    .push(applied),
                (Event::RefundRecorded(_), Err(err)) => {
                    assert_eq!(err.kind(), refused_alone, "{err}");
                    refused += 1;
                }
                (_, outcome) => panic!("{event:?}: {outcome:?}"),
            }
        }
    }
    assert_eq!(refused, 4 * 6);
    assert_eq!(answers.len(), 4 * per_writer as usize);
    // What applying the stored log one event at a time answers, per seq.
    let store = PostgresStore::open(&url, "acme").unwrap();
    let mut reference = Engine::new();
    let mut expected = BTreeMap::new();
    store
        .scan(1, &mut |stored| {
            let applied = reference.apply(&Event::from_json(&stored.event)?)?;
            assert_eq!(applied.hash, stored.hash);
            expected.insert(stored.seq, applied);
            Ok(())
        })
        .unwrap();
    for (sale, got) in &answers {
        // Stored once: exactly one answer is not a retry, and it is the
        // answer (records and entries included) that applying the log
        // gives; every retry names the same stored event.
        let first: Vec<_> = got.iter().filter(|a| !a.replayed).collect();
        assert_eq!(first.len(), 1, "{sale}: {got:?}");
        assert_eq!(Some(first[0]), expected.get(&first[0].seq), "{sale}");
        for applied in got {
            assert_eq!((applied.seq, applied.hash), (first[0].seq, first[0].hash));
        }
    }
    let fresh = open(&url, "acme");
    assert_eq!(fresh.audit_head().seq, 60 + 4 * per_writer);
    assert_eq!(fresh.verify().unwrap(), fresh.audit_head());
    // The writers queued events, and nothing is left in the queue.
    let mut db = Client::connect(&url, NoTls).unwrap();
    let queued: i64 = db
        .query_one("SELECT last_value FROM upline_tickets", &[])
        .unwrap()
        .get(0);
    assert!(queued > 0, "no event was handed off");
    let left: i64 = db
        .query_one("SELECT count(*) FROM upline_queue", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

#[test]
fn four_writers_of_single_events_never_see_a_conflict() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "fair").0;
    drop(fill(&url, "acme", 60));
    let per_writer = 400u64;
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut engine = open(&url, "acme");
                let mut errors = Vec::new();
                for n in w * per_writer..(w + 1) * per_writer {
                    if let Err(err) = engine.apply(&sale_event(n)) {
                        errors.push(err);
                    }
                }
                errors
            })
        })
        .collect();
    for writer in writers {
        let errors = writer.join().unwrap();
        assert!(errors.is_empty(), "{errors:?}");
    }
    let fresh = open(&url, "acme");
    assert_eq!(fresh.audit_head().seq, 60 + 4 * per_writer);
    assert_eq!(fresh.verify().unwrap(), fresh.audit_head());
}

#[test]
fn two_engines_on_one_programme_see_each_other_and_store_a_webhook_once() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "twoengines").0;
    let mut a = fill(&url, "acme", 60);
    let mut b = open(&url, "acme");
    let first = a.apply(&event(61)).unwrap();
    let second = b.apply(&event(61)).unwrap();
    assert!(second.replayed);
    assert_eq!((second.seq, second.hash), (first.seq, first.hash));
    b.apply(&event(62)).unwrap();
    assert_eq!(a.catch_up().unwrap(), b.audit_head());
    let mut follower =
        Engine::open_follower(Box::new(PostgresStore::open(&url, "acme").unwrap())).unwrap();
    assert_eq!(
        follower.apply(&event(63)).unwrap_err().kind(),
        ErrorKind::ReadOnly
    );
    assert_eq!(follower.audit_head(), a.audit_head());
}

#[test]
fn connection_errors_name_the_host_and_reason_and_never_the_password() {
    let Some(url) = server() else { return };
    let secret = "s3cr3t-Pw";
    // Nobody listens on port 1.
    let err = PostgresStore::open(
        &format!("postgresql://app:{secret}@127.0.0.1:1/books"),
        "acme",
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    let text = err.to_string();
    assert!(text.contains("127.0.0.1:1/books as app"), "{text}");
    assert!(text.contains("cannot connect"), "{text}");
    assert!(
        text.to_lowercase().contains("refused"),
        "the reason: {text}"
    );
    assert!(!text.contains(secret), "{text}");

    // An unknown role on the real server.
    let port = url
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap();
    let err = PostgresStore::open(
        &format!("postgresql://nobody:{secret}@127.0.0.1:{port}/postgres"),
        "acme",
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{port}/postgres as nobody")),
        "{text}"
    );
    assert!(text.contains("nobody"), "{text}");
    // The server's reason, with its SQLSTATE (28000: invalid authorization).
    assert!(text.contains("role \"nobody\" does not exist"), "{text}");
    assert!(text.contains("(28000)"), "{text}");
    assert!(!text.contains(secret), "{text}");

    // Unparsable URLs, in both forms.
    for bad in [
        format!("postgresql://app:{secret}@127.0.0.1:notaport/books"),
        format!("host=127.0.0.1 password={secret} port=x"),
        format!("postgresql://app:{secret}@[::1/books"),
    ] {
        let err = PostgresStore::open(&bad, "acme").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert!(!err.to_string().contains(secret), "{err}");
        assert!(!format!("{err:?}").contains(secret), "{err:?}");
    }
}

// ---- many writers in many processes ---------------------------------------

const WRITERS: usize = 4;
const MEMBERS: u64 = 60;

/// Sale `n`'s id, buyer and amount.
fn sale_row(n: u64) -> [String; 3] {
    [
        format!("w{n}"),
        format!("m{}", n % MEMBERS),
        format!("{}.{:02}", 10 + n % 90, n % 100),
    ]
}

const SALE_AT: &str = "2026-02-02T00:00:00Z";

fn sale_event(n: u64) -> Event {
    let [sale, buyer, amount] = sale_row(n);
    Event::from_json(&format!(
        r#"{{"type":"sale_recorded","sale":"{sale}","buyer":"{buyer}","amount":"{amount}","currency":"USD","at":"{SALE_AT}"}}"#,
    ))
    .unwrap()
}

/// Applies sales `ids` as columns (an Arrow table from a host): each
/// row's sequence number, or the call's error.
fn apply_as_columns(engine: &mut Engine, ids: &[u64]) -> upline::Result<Vec<u64>> {
    use upline::engine::columns::{Amounts, SaleColumns, Times};
    let rows: Vec<[String; 3]> = ids.iter().map(|&n| sale_row(n)).collect();
    let column = |k: usize| rows.iter().map(|r| r[k].as_str()).collect::<Vec<_>>();
    let (sale, buyer, amount) = (column(0), column(1), column(2));
    let out = engine.apply_sale_columns(
        &SaleColumns {
            sale: &sale,
            buyer: &buyer,
            amount: Amounts::Text(&amount),
            currency: &vec!["USD"; ids.len()],
            at: Times::Text(&vec![SALE_AT; ids.len()]),
            category: None,
        },
        false,
    )?;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    Ok(out.seq)
}

/// Writer `w`'s ids: 90 % its own, and two blocks of 5 % it shares with
/// the writers before and after it, who send them too: 10 % of the sends
/// are the same webhook at two writers.
fn writer_ids(w: usize, per_writer: u64) -> Vec<u64> {
    let own = per_writer * 9 / 10;
    let half = (per_writer - own) / 2;
    let total_own = WRITERS as u64 * own;
    let block = |k: usize| total_own + k as u64 * half..total_own + (k as u64 + 1) * half;
    let mut ids: Vec<u64> = (w as u64 * own..(w as u64 + 1) * own).collect();
    ids.extend(block(w));
    ids.extend(block((w + WRITERS - 1) % WRITERS));
    ids
}

struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % n
    }
}

/// The child side: applies writer `UPLINE_PG_WRITER`'s events in random
/// batches of 1 to 100, printing `ack <seq> <id>` for every applied event
/// and `head <seq> <hash>` once caught up at the end. Odd writers send
/// their batches as sale columns (the Arrow path), even ones as events.
#[test]
#[ignore = "run by many_writers_in_four_processes as a child process"]
fn writer_child() {
    let (Ok(url), Ok(w)) = (
        std::env::var("UPLINE_PG_CHILD_URL"),
        std::env::var("UPLINE_PG_WRITER"),
    ) else {
        return;
    };
    let w: usize = w.parse().unwrap();
    let per_writer: u64 = std::env::var("UPLINE_PG_PER_WRITER")
        .unwrap()
        .parse()
        .unwrap();
    let mut engine = open(&url, "acme");
    let mut rng = Xorshift(0x9E37_79B9 + w as u64 * 7919);
    let mut ids = writer_ids(w, per_writer);
    for i in (1..ids.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        ids.swap(i, j);
    }
    let mut out = std::io::stdout().lock();
    let mut next = 0;
    while next < ids.len() {
        let size = (1 + rng.below(100) as usize).min(ids.len() - next);
        let batch = &ids[next..next + size];
        let applied = if w % 2 == 1 {
            apply_as_columns(&mut engine, batch)
        } else {
            let events: Vec<Event> = batch.iter().map(|&n| sale_event(n)).collect();
            engine
                .apply_batch(&events)
                .map(|results| results.into_iter().map(|r| r.unwrap().seq).collect())
        };
        match applied {
            Ok(seqs) => {
                for (n, seq) in batch.iter().zip(seqs) {
                    writeln!(out, "ack {seq} w{n}").unwrap();
                }
                next += size;
            }
            // Other writers kept winning: the host retries.
            Err(err) if err.kind() == ErrorKind::Conflict => continue,
            Err(err) => panic!("writer {w}: {err}"),
        }
    }
    // Wait until every writer is done, then catch up.
    writeln!(out, "done").unwrap();
    out.flush().unwrap();
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    let head = engine.catch_up().unwrap();
    writeln!(out, "head {} {}", head.seq, head.hash.to_hex()).unwrap();
}

#[test]
fn many_writers_in_four_processes_store_every_id_once_and_agree() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "writers").0;
    let per_writer: u64 = std::env::var("UPLINE_PG_PER_WRITER")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000);
    let mut setup = open(&url, "acme");
    let joins: Vec<Event> = (0..MEMBERS).map(event).collect();
    for result in setup.apply_batch(&joins).unwrap() {
        result.unwrap();
    }
    let exe = std::env::current_exe().unwrap();
    let started = std::time::Instant::now();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let mut children = Vec::new();
    let mut readers = Vec::new();
    for w in 0..WRITERS {
        let mut child = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "writer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("UPLINE_PG_CHILD_URL", &url)
            .env("UPLINE_PG_WRITER", w.to_string())
            .env("UPLINE_PG_PER_WRITER", per_writer.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let done = done_tx.clone();
        readers.push(std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut said_done = false;
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                if line.contains("done") && !said_done {
                    said_done = done.send(w).is_ok();
                }
                lines.push(line);
            }
            // A writer that died before "done" must not keep the others
            // waiting: its exit status fails the test below.
            if !said_done {
                let _ = done.send(w);
            }
            lines
        }));
        children.push(child);
    }
    drop(done_tx);
    for _ in 0..WRITERS {
        if done_rx.recv().is_err() {
            break;
        }
    }
    for child in &mut children {
        if let Some(stdin) = child.stdin.as_mut() {
            let _ = stdin.write_all(b"go\n");
        }
    }
    let mut acknowledged: BTreeMap<String, u64> = BTreeMap::new();
    let mut heads = Vec::new();
    for (w, (mut child, reader)) in children.into_iter().zip(readers).enumerate() {
        for line in reader.join().unwrap() {
            // The test harness prints `test writer_child ... ` before the
            // child's first line, on the same line.
            let line = match (line.find("ack "), line.find("head ")) {
                (Some(at), _) | (None, Some(at)) => line[at..].to_string(),
                (None, None) => continue,
            };
            let mut parts = line.split_whitespace();
            match parts.next() {
                Some("ack") => {
                    let seq: u64 = parts.next().unwrap().parse().unwrap();
                    let id = parts.next().unwrap().to_string();
                    if let Some(before) = acknowledged.insert(id.clone(), seq) {
                        assert_eq!(before, seq, "{id} acknowledged at two seqs");
                    }
                }
                Some("head") => heads.push(line.clone()),
                _ => {}
            }
        }
        assert!(child.wait().unwrap().success(), "writer {w} failed");
    }
    let elapsed = started.elapsed();
    let fresh = open(&url, "acme");
    let head = fresh.audit_head();
    let expected_ids: BTreeSet<u64> = (0..WRITERS)
        .flat_map(|w| writer_ids(w, per_writer))
        .collect();
    eprintln!(
        "{WRITERS} writers, {} distinct sales, {} sends, head {} in {elapsed:?}",
        expected_ids.len(),
        WRITERS as u64 * per_writer,
        head.seq
    );
    assert_eq!(head.seq, MEMBERS + expected_ids.len() as u64);
    assert_eq!(acknowledged.len(), expected_ids.len());
    for line in &heads {
        assert_eq!(line, &format!("head {} {}", head.seq, head.hash.to_hex()));
    }
    assert_eq!(heads.len(), WRITERS);
    let mut db = Client::connect(&url, NoTls).unwrap();
    let rows = db
        .query(
            "SELECT seq, event FROM upline_events WHERE programme = 'acme' ORDER BY seq",
            &[],
        )
        .unwrap();
    let mut stored: BTreeMap<String, i64> = BTreeMap::new();
    for row in &rows {
        let event = Event::from_json(row.get::<_, &str>(1)).unwrap();
        let value = serde_json::to_value(&event).unwrap();
        if let Some(sale) = value["sale"].as_str() {
            assert!(
                stored.insert(sale.to_string(), row.get(0)).is_none(),
                "{sale} stored twice"
            );
        }
    }
    for (id, seq) in &acknowledged {
        assert_eq!(stored.get(id).copied(), Some(*seq as i64), "{id}");
    }
    assert_eq!(fresh.verify().unwrap(), head);
    // Money: every sale's lines plus what it retains is the sale; every
    // account's balances add up to what it earned.
    let usd = fresh.currencies().get("USD", "currency").unwrap();
    let mut earned = rust_decimal::Decimal::ZERO;
    let mut distributed = rust_decimal::Decimal::ZERO;
    for id in stored.keys() {
        let d = fresh.distribution_of(id).unwrap();
        let lines: rust_decimal::Decimal = d.lines.iter().map(|l| l.amount).sum();
        assert_eq!(lines + d.retained, d.amount, "{id}");
        distributed += lines;
    }
    for m in 0..MEMBERS {
        let totals = fresh
            .ledger()
            .totals(m as u32, usd, Timestamp::MIN, Timestamp::MAX);
        let balances = fresh
            .balances(&format!("m{m}"), "USD", "9999-12-31T00:00:00Z")
            .unwrap();
        assert_eq!(totals.earned - totals.reversed, balances.total(), "m{m}");
        earned += totals.earned;
    }
    assert_eq!(earned, distributed);
}
