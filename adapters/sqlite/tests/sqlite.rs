//! The SQLite store: durability, replay, tamper detection, crash safety and
//! bad files.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rusqlite::params;
use upline::{Engine, ErrorKind, Event};
use upline_sqlite::SqliteStore;

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("upline-sqlite-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

/// A deterministic stream: 60 members in a binary tree, then sales,
/// refunds and a payout cycle.
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

fn open(path: &Path) -> Engine {
    Engine::open(Box::new(SqliteStore::open(path).unwrap())).unwrap()
}

fn fill(path: &Path, n: u64) -> Engine {
    let mut engine = open(path);
    let events: Vec<Event> = (0..n).map(event).collect();
    for chunk in events.chunks(25) {
        for result in engine.apply_batch(chunk).unwrap() {
            result.unwrap();
        }
    }
    engine
}

#[test]
fn reopened_store_equals_the_live_engine_with_and_without_snapshot() {
    let path = temp_path("replay.sqlite");
    let mut live = fill(&path, 150);
    let live_state: serde_json::Value = serde_json::from_str(&live.snapshot_json()).unwrap();
    let head = live.audit_head();
    assert_eq!(head.seq, 150);

    let reopened = open(&path);
    assert_eq!(reopened.audit_head(), head);
    let state: serde_json::Value = serde_json::from_str(&reopened.snapshot_json()).unwrap();
    assert_eq!(state, live_state);
    drop(reopened);

    live.save_snapshot().unwrap();
    for i in 150..180 {
        live.apply(&event(i)).unwrap();
    }
    let live_state: serde_json::Value = serde_json::from_str(&live.snapshot_json()).unwrap();
    let head = live.audit_head();
    drop(live);
    let reopened = open(&path);
    assert_eq!(reopened.audit_head(), head);
    let state: serde_json::Value = serde_json::from_str(&reopened.snapshot_json()).unwrap();
    assert_eq!(state, live_state);
    assert_eq!(reopened.verify().unwrap(), head);
}

fn tampered_at(path: &Path) -> u64 {
    let store = SqliteStore::open(path).unwrap();
    let result = upline::engine::verify_store(&store).unwrap();
    result.unwrap_err().seq
}

#[test]
fn changing_dropping_reordering_or_inserting_is_detected_at_the_right_event() {
    let path = temp_path("tamper.sqlite");
    drop(fill(&path, 100));
    let conn = rusqlite::Connection::open(&path).unwrap();
    let backup: Vec<(i64, String, Vec<u8>)> = conn
        .prepare("SELECT seq, event, hash FROM events ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let restore = |conn: &rusqlite::Connection| {
        conn.execute("DELETE FROM events", []).unwrap();
        for (seq, event, hash) in &backup {
            conn.execute(
                "INSERT INTO events VALUES (?1, ?2, ?3)",
                params![seq, event, hash],
            )
            .unwrap();
        }
    };

    // Change one amount byte of sale 62.
    conn.execute(
        "UPDATE events SET event = replace(event, '\"amount\":\"72.62\"', '\"amount\":\"72.63\"') WHERE seq = 63",
        [],
    )
    .unwrap();
    assert_eq!(tampered_at(&path), 63);
    restore(&conn);

    // Change one byte of a stored hash.
    conn.execute("UPDATE events SET hash = zeroblob(32) WHERE seq = 80", [])
        .unwrap();
    assert_eq!(tampered_at(&path), 80);
    restore(&conn);

    // Drop an event.
    conn.execute("DELETE FROM events WHERE seq = 70", [])
        .unwrap();
    assert_eq!(tampered_at(&path), 70);
    restore(&conn);

    // Reorder two events (swap their contents).
    conn.execute_batch(
        "UPDATE events SET seq = -1 WHERE seq = 90;
         UPDATE events SET seq = 90 WHERE seq = 91;
         UPDATE events SET seq = 91 WHERE seq = -1;",
    )
    .unwrap();
    assert_eq!(tampered_at(&path), 90);
    restore(&conn);

    // Insert a forged event with a plausible hash in the middle.
    let forged =
        r#"{"type":"member_joined","member":"forged","sponsor":null,"at":"2026-01-01T00:00:00Z"}"#;
    conn.execute_batch("CREATE TEMP TABLE shifted AS SELECT * FROM events WHERE seq >= 50; DELETE FROM events WHERE seq >= 50; UPDATE shifted SET seq = seq + 1; INSERT INTO events SELECT * FROM shifted;").unwrap();
    conn.execute(
        "INSERT INTO events VALUES (50, ?1, ?2)",
        params![forged, &backup[49].2],
    )
    .unwrap();
    assert_eq!(tampered_at(&path), 50);
    restore(&conn);

    // Appending a forged event at the end is caught too.
    conn.execute(
        "INSERT INTO events VALUES (101, ?1, zeroblob(32))",
        params![forged],
    )
    .unwrap();
    assert_eq!(tampered_at(&path), 101);
    restore(&conn);

    // Restored, the chain verifies again; opening a tampered store fails.
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        upline::engine::verify_store(&store).unwrap().unwrap().seq,
        100
    );
    conn.execute(
        "UPDATE events SET event = replace(event, 'm5', 'm6') WHERE seq = 12",
        [],
    )
    .unwrap();
    let err = Engine::open(Box::new(SqliteStore::open(&path).unwrap())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tampered);
}

#[test]
fn bad_files_are_clear_errors() {
    // Not a database at all.
    let path = temp_path("garbage.sqlite");
    std::fs::write(
        &path,
        b"this is not a database, just some bytes that go on and on".repeat(100),
    )
    .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");

    // A SQLite database of another application.
    let path = temp_path("other.sqlite");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY);")
        .unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(err.message().contains("another application"), "{err}");

    // A newer schema.
    let path = temp_path("newer.sqlite");
    drop(fill(&path, 3));
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(err.message().contains("newer"), "{err}");

    // A truncated file.
    let path = temp_path("truncated.sqlite");
    drop(fill(&path, 100));
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
        .unwrap();
    drop(conn);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let _ = std::fs::remove_file(format!("{}-wal", path.display()));
    let opened = SqliteStore::open(&path).and_then(|store| Engine::open(Box::new(store)));
    let err = opened.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Storage | ErrorKind::Tampered),
        "{err}"
    );
}

/// A store that fails on demand: appends when `fail_append` is set, scans
/// when `fail_scan` is.
#[derive(Debug)]
struct Faulty {
    inner: upline::MemoryStore,
    fail_append: std::sync::Arc<std::sync::atomic::AtomicBool>,
    fail_scan: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Faulty {
    fn new() -> (
        Self,
        std::sync::Arc<std::sync::atomic::AtomicBool>,
        std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) {
        let append = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let scan = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let store = Faulty {
            inner: upline::MemoryStore::new(),
            fail_append: append.clone(),
            fail_scan: scan.clone(),
        };
        (store, append, scan)
    }
}

impl upline::Store for Faulty {
    fn append(&mut self, events: &[upline::StoredEvent]) -> upline::Result<()> {
        if self.fail_append.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(upline::Error::general(ErrorKind::Storage, "disk full"));
        }
        self.inner.append(events)
    }
    fn head(&self) -> upline::Result<u64> {
        self.inner.head()
    }
    fn scan(
        &self,
        from: u64,
        visit: &mut dyn FnMut(upline::StoredEvent) -> upline::Result<()>,
    ) -> upline::Result<()> {
        if self.fail_scan.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(upline::Error::general(ErrorKind::Storage, "disk gone"));
        }
        self.inner.scan(from, visit)
    }
    fn latest_snapshot(&self) -> upline::Result<Option<(u64, String)>> {
        self.inner.latest_snapshot()
    }
    fn save_snapshot(&mut self, seq: u64, snapshot: &str) -> upline::Result<()> {
        self.inner.save_snapshot(seq, snapshot)
    }
}

#[test]
fn a_failing_append_leaves_the_engine_unchanged() {
    use std::sync::atomic::Ordering;

    let (store, fail, _) = Faulty::new();
    let mut engine = Engine::open(Box::new(store)).unwrap();
    for i in 0..70 {
        engine.apply(&event(i)).unwrap();
    }
    let before = engine.snapshot_json();
    let head = engine.audit_head();
    fail.store(true, Ordering::SeqCst);

    let err = engine.apply(&event(70)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert_eq!(engine.snapshot_json(), before);

    let batch: Vec<Event> = (70..90).map(event).collect();
    let err = engine.apply_batch(&batch).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert_eq!(engine.audit_head(), head);
    let state: serde_json::Value = serde_json::from_str(&engine.snapshot_json()).unwrap();
    let expected: serde_json::Value = serde_json::from_str(&before).unwrap();
    assert_eq!(
        state, expected,
        "a failed group commit leaves none of the batch"
    );

    fail.store(false, Ordering::SeqCst);
    engine.apply(&event(70)).unwrap();
    assert_eq!(engine.verify().unwrap().seq, 71);
}

/// A batch of 3,000 events (more than `SEND_AHEAD_MIN`: the engine's
/// large-group path) answers as a lone engine and reopens the same.
#[test]
fn a_large_batch_into_sqlite_answers_as_a_lone_engine() {
    let path = temp_path("bulk.sqlite");
    let mut engine = fill(&path, 60);
    let mut lone = Engine::new();
    for i in 0..60 {
        lone.apply(&event(i)).unwrap();
    }
    // New sales and refunds, retries of stored ones, unknown buyers.
    let batch: Vec<Event> = (60..3_060u64)
        .map(|i| match i % 11 {
            4 => event(60 + i % 50),
            9 => Event::from_json(&format!(
                r#"{{"type":"sale_recorded","sale":"x{i}","buyer":"nobody","amount":"1.00","currency":"USD","at":"2026-02-02T00:00:00Z"}}"#
            ))
            .unwrap(),
            _ => event(i),
        })
        .collect();
    let ours = engine.apply_batch(&batch).unwrap();
    let theirs = lone.apply_batch(&batch).unwrap();
    for (k, (a, b)) in ours.into_iter().zip(theirs).enumerate() {
        match (a, b) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "event {k}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "event {k}"),
            (a, b) => panic!("event {k}: {a:?} against {b:?}"),
        }
    }
    assert_eq!(engine.audit_head(), lone.audit_head());
    drop(engine);
    let reopened = open(&path);
    assert_eq!(reopened.audit_head(), lone.audit_head());
    assert_eq!(reopened.verify().unwrap(), lone.audit_head());
}

/// The child side of the crash test: applies the stream in batches and
/// prints the acknowledged head after each durable batch.
#[test]
#[ignore = "run by crash_test as a child process"]
fn crash_child() {
    let Ok(path) = std::env::var("UPLINE_CRASH_DB") else {
        return;
    };
    let mut engine = open(Path::new(&path));
    let mut next = engine.audit_head().seq;
    let mut size = 1 + next % 37;
    loop {
        let batch: Vec<Event> = (next..next + size).map(event).collect();
        for result in engine.apply_batch(&batch).unwrap() {
            result.unwrap();
        }
        next += size;
        println!("acked {}", engine.audit_head().seq);
        size = 1 + (size * 7 + 3) % 41;
    }
}

#[test]
fn killed_writers_lose_no_acknowledged_event_and_leave_no_partial_one() {
    let path = temp_path("crash.sqlite");
    let exe = std::env::current_exe().unwrap();
    let kills = 12;
    let mut last_acked = 0u64;
    for round in 0..kills {
        // The batch boundaries the child will write from here on: the store
        // must end on one of them after the kill.
        let start = if path.exists() {
            SqliteStore::open(&path).unwrap().len().unwrap()
        } else {
            0
        };
        let mut boundaries = vec![start];
        let (mut next, mut size) = (start, 1 + start % 37);
        while next < start + 100_000 {
            next += size;
            boundaries.push(next);
            size = 1 + (size * 7 + 3) % 41;
        }
        let mut child = Command::new(&exe)
            .args([
                "crash_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("UPLINE_CRASH_DB", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let wait_for = 1 + (round * 5 % 9) as usize;
        let mut acks = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(seq) = line.strip_prefix("acked ") {
                last_acked = seq.trim().parse().unwrap();
                acks += 1;
                if acks >= wait_for {
                    break;
                }
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();

        let store = SqliteStore::open(&path).unwrap();
        let stored = store.len().unwrap();
        let head = upline::engine::verify_store(&store).unwrap().unwrap();
        assert_eq!(
            head.seq, stored,
            "round {round}: the chain covers every stored event"
        );
        assert!(
            stored >= last_acked,
            "round {round}: {stored} stored < {last_acked} acknowledged"
        );
        assert!(
            boundaries.contains(&stored),
            "round {round}: {stored} events stored is inside a batch"
        );
        // No partial batch: the store holds whole batches only, so the
        // reopened engine replays cleanly and can go on.
        let engine = Engine::open(Box::new(store)).unwrap();
        assert_eq!(engine.audit_head(), head);
    }
    assert!(last_acked > 0);
}

#[test]
fn verify_replays_to_the_snapshot_and_finds_a_forged_one() {
    let path = temp_path("forged-snapshot.sqlite");
    let mut engine = fill(&path, 80);
    engine.save_snapshot().unwrap();
    // More events after the snapshot, so the check is not only at the head.
    for i in 80..95 {
        engine.apply(&event(i)).unwrap();
    }
    let head = engine.audit_head();
    assert_eq!(
        engine.verify().unwrap(),
        head,
        "an honest snapshot verifies"
    );
    drop(engine);

    // Someone with write access to the file lowers a sale's refunded
    // total in the snapshot: the events and hashes are untouched.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let text: String = conn
        .query_row("SELECT snapshot FROM snapshots WHERE seq = 80", [], |r| {
            r.get(0)
        })
        .unwrap();
    let forged = text.replacen("\"refunded\":\"1.00\"", "\"refunded\":\"0.01\"", 1);
    assert_ne!(forged, text, "the snapshot holds a refunded sale");
    conn.execute(
        "UPDATE snapshots SET snapshot = ?1 WHERE seq = 80",
        [&forged],
    )
    .unwrap();
    drop(conn);

    let store = SqliteStore::open(&path).unwrap();
    let at = upline::engine::verify_store(&store).unwrap().unwrap_err();
    assert_eq!(at.seq, 80, "reported at the snapshot's seq");
    let engine = open(&path);
    let err = engine.verify().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tampered, "{err}");
}

#[test]
fn a_snapshot_that_is_not_on_the_stored_chain_is_refused() {
    let path = temp_path("graft.sqlite");
    let mut engine = fill(&path, 80);
    engine.save_snapshot().unwrap();
    drop(engine);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE events SET hash = zeroblob(32) WHERE seq = 80", [])
        .unwrap();
    let err = Engine::open(Box::new(SqliteStore::open(&path).unwrap())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tampered);
    assert!(err.message().contains("80"), "{err}");
}

#[test]
fn an_engine_whose_store_cannot_be_reloaded_refuses_every_later_change() {
    use std::sync::atomic::Ordering;

    let (store, fail_append, fail_scan) = Faulty::new();
    let mut engine = Engine::open(Box::new(store)).unwrap();
    for i in 0..65 {
        engine.apply(&event(i)).unwrap();
    }
    fail_append.store(true, Ordering::SeqCst);
    fail_scan.store(true, Ordering::SeqCst);
    let batch: Vec<Event> = (65..70).map(event).collect();
    assert_eq!(
        engine.apply_batch(&batch).unwrap_err().kind(),
        ErrorKind::Storage
    );
    let err = engine.apply(&event(70)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(err.message().contains("open it again"), "{err}");
}

/// An engine with a store keeps only its audit head in memory: a retry of
/// an older event reads that event's hash back from the store (SQLite's
/// indexed `hash_at`, or the trait's default through `scan`), and a retry
/// inside a batch not yet appended finds it in memory.
#[test]
fn retries_of_old_events_read_their_hash_from_the_store() {
    let path = temp_path("retry.sqlite");
    let mut engine = open(&path);
    let mut first = Vec::new();
    let events: Vec<Event> = (0..100).map(event).collect();
    for chunk in events.chunks(25) {
        for result in engine.apply_batch(chunk).unwrap() {
            let applied = result.unwrap();
            first.push((applied.seq, applied.hash));
        }
    }
    let snapshot: serde_json::Value = serde_json::from_str(&engine.snapshot_json()).unwrap();
    assert_eq!(snapshot["format"], upline::engine::SNAPSHOT_FORMAT);
    assert_eq!(snapshot["engine"]["hashes_dropped"], 99);
    assert_eq!(snapshot["engine"]["hashes"].as_array().unwrap().len(), 1);

    for i in [0usize, 5, 70, 99] {
        let again = engine.apply(&events[i]).unwrap();
        assert!(again.replayed, "event {i} is a retry");
        assert_eq!((again.seq, again.hash), first[i], "event {i}");
    }

    // A retry of an event earlier in the same batch: not in the store yet.
    let twice = vec![event(100), event(100)];
    let results = engine.apply_batch(&twice).unwrap();
    let (a, b) = (results[0].as_ref().unwrap(), results[1].as_ref().unwrap());
    assert!(!a.replayed && b.replayed);
    assert_eq!((a.seq, a.hash), (b.seq, b.hash));
    assert_eq!(a.seq, 101);
    let head = engine.audit_head();
    drop(engine);

    // Reopened (replay trims as it goes): the same answers.
    let mut engine = open(&path);
    assert_eq!(engine.audit_head(), head);
    let again = engine.apply(&events[5]).unwrap();
    assert_eq!((again.seq, again.hash), first[5]);

    // A trimmed snapshot restored without a store still knows its head and
    // answers retries of the head event, but not of older ones: it says so.
    let alone = Engine::from_snapshot_json(&engine.snapshot_json()).unwrap();
    assert_eq!(alone.audit_head(), head);
    let mut alone = alone;
    let err = alone.apply(&events[0]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(err.to_string().contains("event 1"), "{err}");
    assert!(alone.apply(&event(100)).unwrap().replayed);

    // The trait's default `hash_at` (through `scan`).
    let (store, _, _) = Faulty::new();
    let mut engine = Engine::open(Box::new(store)).unwrap();
    let mut first = Vec::new();
    for e in &events[..70] {
        let applied = engine.apply(e).unwrap();
        first.push((applied.seq, applied.hash));
    }
    for i in [0usize, 3, 69] {
        let again = engine.apply(&events[i]).unwrap();
        assert_eq!((again.seq, again.hash), first[i], "event {i}");
    }

    // Without a store every hash stays (and none is dropped).
    let mut memory = Engine::new();
    for e in &events[..10] {
        memory.apply(e).unwrap();
    }
    let snapshot: serde_json::Value = serde_json::from_str(&memory.snapshot_json()).unwrap();
    assert_eq!(snapshot["format"], upline::engine::SNAPSHOT_FORMAT);
    assert!(snapshot["engine"].get("hashes_dropped").is_none());
    assert_eq!(snapshot["engine"]["hashes"].as_array().unwrap().len(), 10);
}
