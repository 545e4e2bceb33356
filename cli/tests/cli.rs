//! The `upline` binary, run as an operator would: on SQLite stores built
//! here, checking exit codes, messages and the numbers printed.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{json, Value};
use upline::{Engine, Event};
use upline_sqlite::SqliteStore;

/// ann ← bob ← cal; two sales by cal (100.00 and 50.00 USD), a partial
/// refund of the first, a batch that pays ann, settled.
fn events() -> Vec<Value> {
    let mut events = vec![];
    for (member, sponsor) in [("ann", None), ("bob", Some("ann")), ("cal", Some("bob"))] {
        events.push(
            json!({"type": "member_joined", "member": member, "sponsor": sponsor,
                           "at": "2026-01-01T00:00:00Z"}),
        );
    }
    events.push(
        json!({"type": "payout_profile_set", "member": "ann", "method": "bank", "verified": true}),
    );
    events.push(
        json!({"type": "sale_recorded", "sale": "s1", "buyer": "cal", "amount": "100.00",
                       "currency": "USD", "at": "2026-02-01T00:00:00Z"}),
    );
    events.push(
        json!({"type": "sale_recorded", "sale": "s2", "buyer": "cal", "amount": "50.00",
                       "currency": "USD", "at": "2026-02-02T00:00:00Z"}),
    );
    events.push(
        json!({"type": "refund_recorded", "refund": "r1", "sale": "s1", "amount": "40.00",
                       "at": "2026-02-03T00:00:00Z"}),
    );
    events.push(
        json!({"type": "payouts_prepared", "batch": "b1", "as_of": "2026-03-10T00:00:00Z",
                       "policy": {}}),
    );
    events.push(
        json!({"type": "payout_settled", "payout": "b1:ann:USD", "at": "2026-03-11T00:00:00Z",
                       "reference": "wire"}),
    );
    events
}

fn build(dir: &Path) -> PathBuf {
    let path = dir.join("books.sqlite");
    let mut engine = Engine::open(Box::new(SqliteStore::open(&path).unwrap())).unwrap();
    for value in events() {
        engine.apply(&Event::from_value(value).unwrap()).unwrap();
    }
    path
}

fn upline() -> Command {
    Command::cargo_bin("upline").unwrap()
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = upline().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn verify_of_good_books_exits_0_with_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path());
    let (code, out, err) = run(&["verify", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok: 9 events verified, head "), "{out}");
    let (code, head, _) = run(&["head", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0);
    let head: Value = serde_json::from_str(&head).unwrap();
    assert_eq!(head["seq"], 9);
    assert!(out.trim_end().ends_with(head["hash"].as_str().unwrap()));
}

#[test]
fn a_tampered_copy_exits_1_naming_the_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path());
    let copy = dir.path().join("copy.sqlite");
    std::fs::copy(&path, &copy).unwrap();
    let conn = rusqlite::Connection::open(&copy).unwrap();
    conn.execute(
        "UPDATE events SET event = replace(event, '50.00', '50.01') WHERE seq = 6",
        [],
    )
    .unwrap();
    drop(conn);
    let (code, _, err) = run(&["verify", copy.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("verification failed: event 6 "), "{err}");
    // The original still verifies.
    assert_eq!(run(&["verify", path.to_str().unwrap()]).0, 0);
}

#[test]
fn a_missing_store_exits_2_with_a_clear_message_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.sqlite");
    for command in ["verify", "head", "snapshot"] {
        let (code, _, err) = run(&[command, missing.to_str().unwrap()]);
        assert_eq!(code, 2, "{command}: {err}");
        assert!(
            err.contains("storage: no store at ") && err.contains("no such file"),
            "{err}"
        );
    }
    assert!(!missing.exists());
    let not_a_store = dir.path().join("notes.txt");
    std::fs::write(
        &not_a_store,
        "not a database at all, just some text that is long enough",
    )
    .unwrap();
    let (code, _, err) = run(&["verify", not_a_store.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.starts_with("upline: storage: "), "{err}");
}

#[test]
fn read_commands_never_write_to_the_books() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path());
    // Close the WAL so the file alone holds the books, then remember it.
    drop(SqliteStore::open(&path).unwrap());
    let before = std::fs::read(&path).unwrap();
    let p = path.to_str().unwrap();
    for args in [
        vec!["verify", p],
        vec!["head", p],
        vec!["--format", "csv", "export", p],
        vec!["statement", p, "ann"],
        vec!["balances", p, "ann"],
        vec!["tax", p, "2026"],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the books are byte for byte as they were"
    );

    // A version-1 file (an older build's) is refused naming its audit
    // format, and stays version 1: `head` does not migrate it.
    let old = dir.path().join("old.sqlite");
    let conn = rusqlite::Connection::open(&old).unwrap();
    conn.execute_batch(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, event TEXT NOT NULL,
                              hash BLOB NOT NULL CHECK (length(hash) = 32));
         CREATE TABLE snapshots (seq INTEGER PRIMARY KEY, snapshot TEXT NOT NULL);
         PRAGMA application_id = 0x55504C4E;
         PRAGMA user_version = 1;
         INSERT INTO events VALUES (1, '{\"type\":\"member_joined\",\"member\":\"ann\",\"sponsor\":null,\"at\":\"2026-01-01T00:00:00Z\"}', zeroblob(32));",
    )
    .unwrap();
    drop(conn);
    let before = std::fs::read(&old).unwrap();
    let (code, _, err) = run(&["verify", old.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("storage") && err.contains("audit format 1"),
        "{err}"
    );
    assert_eq!(std::fs::read(&old).unwrap(), before);
}

#[test]
fn a_failed_write_to_stdout_exits_2_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path());
    let p = path.to_str().unwrap();
    for args in [
        vec!["verify", p],
        vec!["head", p],
        vec!["balances", p, "ann"],
        vec!["--format", "json", "tax", p, "2026"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("upline"))
            .args(&args)
            .stdout(full)
            .output()
            .unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("upline: storage: cannot write the output"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn statement_csv_parses_and_shows_states() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path());
    let (code, out, err) = run(&[
        "statement",
        path.to_str().unwrap(),
        "bob",
        "--format",
        "csv",
        "--as-of",
        "2026-02-05T00:00:00Z",
    ]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0][..4], ["seq", "kind", "amount", "currency"]);
    assert!(rows.iter().all(|r| r.len() == rows[0].len()));
    let lines: Vec<(&str, &str, &str, &str)> = rows[1..]
        .iter()
        .map(|r| (r[1], r[2], r[11], r[12]))
        .collect();
    assert_eq!(
        lines,
        [
            ("commission", "20.00", "pending", "12.00"),
            ("commission", "10.00", "pending", "10.00"),
            ("reversal", "8.00", "reversed", ""),
        ]
    );
}

#[test]
fn statement_pages_print_the_cursor_to_follow() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path());
    let store = path.to_str().unwrap();
    let (code, out, _) = run(&[
        "statement",
        store,
        "ann",
        "--limit",
        "2",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let first: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(first["entries"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().unwrap();
    let (code, out, _) = run(&[
        "statement",
        store,
        "ann",
        "--after",
        next,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let second: Value = serde_json::from_str(&out).unwrap();
    let kinds: Vec<&str> = second["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["reversal", "payout_reserve", "payout_settle"]);
    assert_eq!(second["entries"][1]["state"], "paid");
    assert_eq!(second["entries"][1]["amount"], "16.50");
}

#[test]
fn bad_queries_exit_2_with_the_error_code() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path());
    let store = path.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["statement", store, "ghost"], "unknown_member"),
        (
            &["statement", store, "ann", "--after", "not-a-cursor"],
            "malformed",
        ),
        (
            &["statement", store, "ann", "--limit", "10001"],
            "limit_exceeded",
        ),
        (
            &[
                "statement",
                store,
                "ann",
                "--from",
                "2026-03-01T00:00:00Z",
                "--to",
                "2026-02-01T00:00:00Z",
            ],
            "invalid_time",
        ),
        (&["balances", store, "ghost"], "unknown_member"),
    ];
    for (args, expected) in cases {
        let (code, _, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.starts_with(&format!("upline: {expected}: ")),
            "{args:?}: {err}"
        );
    }
    // clap's own usage errors exit 2 as well.
    assert_eq!(run(&["statement", store]).0, 2);
    assert_eq!(run(&["frobnicate"]).0, 2);
}

#[test]
fn balances_and_tax_print_exact_amounts() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path());
    let store = path.to_str().unwrap();
    let (code, out, err) = run(&[
        "balances",
        store,
        "bob",
        "--as-of",
        "2026-03-05T00:00:00Z",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "currency,pending,available,held,reserved,paid\nUSD,0.00,22.00,0.00,0.00,0.00\n"
    );
    let (code, out, err) = run(&[
        "tax",
        store,
        "2026",
        "--threshold",
        "USD=10.00",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "earner,currency,earned,paid,reaches_threshold\n\
         ann,USD,16.50,16.50,true\n\
         bob,USD,22.00,0.00,false\n"
    );
    let (code, _, err) = run(&["tax", store, "2026", "--threshold", "USD"]);
    assert_eq!(code, 2);
    assert!(err.contains("CURRENCY=AMOUNT"), "{err}");
}

/// The last year an `i32` holds is refused as outside 1..=9999 (its next
/// year overflowed: a panic, exit 101, in a debug build).
#[test]
fn tax_of_the_largest_year_is_refused_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path());
    let (code, out, err) = run(&["tax", path.to_str().unwrap(), "2147483647"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.starts_with("upline: invalid_time: "), "{err}");
    assert!(err.contains("outside 1..=9999"), "{err}");
}

#[test]
fn replay_writes_a_new_store_with_the_same_head_and_snapshot_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path());
    let log = dir.path().join("events.jsonl");
    let text: String = events().iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(&log, text).unwrap();
    let new = dir.path().join("new.sqlite");
    let (code, out, err) = run(&[
        "replay",
        log.to_str().unwrap(),
        new.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let (_, head, _) = run(&["head", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out, head);
    assert_eq!(run(&["verify", new.to_str().unwrap()]).0, 0);
    // Replaying onto an existing store is refused.
    let (code, _, err) = run(&["replay", log.to_str().unwrap(), new.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("already exists"), "{err}");
    // A refused event names its line and leaves no store.
    let bad_log = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad_log,
        format!("{}\n\n{}\n", events()[0], json!({"type": "member_joined", "member": "x", "sponsor": "ghost", "at": "2026-01-01T00:00:00Z"})),
    )
    .unwrap();
    let bad = dir.path().join("bad.sqlite");
    let (code, _, err) = run(&["replay", bad_log.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("line 3: unknown_member"), "{err}");
    assert!(!bad.exists());
    assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("bad.partial")));
    // A snapshot keeps the head and the store still verifies.
    let (code, out, _) = run(&["snapshot", new.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(out, head);
    assert_eq!(run(&["verify", new.to_str().unwrap()]).0, 0);
}

#[test]
fn export_streams_every_event_and_ends_on_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path());
    let store = path.to_str().unwrap();
    let (_, head, _) = run(&["head", store, "--format", "json"]);
    let head: Value = serde_json::from_str(&head).unwrap();
    let (code, out, err) = run(&["export", store]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 11, "a header, 9 events, a trailer");
    assert_eq!(lines[1]["seq"], 1);
    assert_eq!(lines[10]["head"], head);
    // To a file, as CSV, for a range.
    let file = dir.path().join("out.csv");
    let (code, _, err) = run(&[
        "export",
        store,
        "--format",
        "csv",
        "--from-seq",
        "5",
        "--to-seq",
        "6",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let csv = std::fs::read_to_string(&file).unwrap();
    assert!(csv.starts_with("seq,hash,type,event,records\n"), "{csv}");
    let firsts: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(
        firsts,
        ["4", "5", "6", "6"],
        "prev row, two events, head row"
    );
    // A tampered store stops the export with exit 1, naming the event.
    let copy = dir.path().join("copy.sqlite");
    std::fs::copy(&path, &copy).unwrap();
    let conn = rusqlite::Connection::open(&copy).unwrap();
    conn.execute(
        "UPDATE events SET event = replace(event, 'r1', 'r9') WHERE seq = 7",
        [],
    )
    .unwrap();
    drop(conn);
    let (code, _, err) = run(&["export", copy.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("verification failed: tampered: stored event 7 does not match"),
        "{err}"
    );
}

#[test]
fn an_export_replays_into_a_store_with_the_same_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(dir.path());
    let export = dir.path().join("books.jsonl");
    let (code, _, err) = run(&[
        "export",
        path.to_str().unwrap(),
        "-o",
        export.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let copy = dir.path().join("copy.sqlite");
    let (code, out, err) = run(&[
        "replay",
        export.to_str().unwrap(),
        copy.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let (_, head, _) = run(&["head", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out, head);
}

/// A PostgreSQL URL needs `--programme`; a server that cannot be reached is
/// a storage error (exit 2) naming the host, never the password, replay
/// into it too.
#[test]
fn postgres_urls_fail_clearly_and_never_print_the_password() {
    let url = "postgresql://ops:s3cret-pw@127.0.0.1:1/books";
    let (code, out, err) = run(&["head", url]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("--programme"), "{err}");
    assert!(
        !err.contains("s3cret-pw") && !out.contains("s3cret-pw"),
        "{err}"
    );
    let (code, out, err) = run(&["verify", url, "--programme", "acme"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("storage"), "{err}");
    assert!(err.contains("127.0.0.1"), "names the host: {err}");
    assert!(
        !err.contains("s3cret-pw") && !out.contains("s3cret-pw"),
        "{err}"
    );
    let (code, _, err) = run(&["replay", "log.jsonl", url, "--programme", "acme"]);
    assert_eq!(code, 2);
    assert!(!err.contains("s3cret-pw"), "{err}");
    let (code, _, err) = run(&["head", "books.sqlite", "--programme", "acme"]);
    assert_eq!(code, 2);
    assert!(err.contains("--programme"), "{err}");
}

/// With the test server (`UPLINE_PG_URL`, started by `.ci/run`): the same
/// commands work on a programme's log in PostgreSQL. Without it the test
/// says so and passes, except under CI, where the server must be there.
#[test]
fn verify_head_and_balances_work_on_a_postgres_programme() {
    let Ok(url) = std::env::var("UPLINE_PG_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "UPLINE_PG_URL must be set under CI (.ci/run starts the server)"
        );
        eprintln!("UPLINE_PG_URL is not set: skipping the PostgreSQL CLI test");
        return;
    };
    let programme = format!(
        "cli-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let store = upline_postgres::PostgresStore::open(&url, &programme).expect("test server");
    let mut engine = Engine::open(Box::new(store)).expect("empty programme");
    for event in events() {
        engine
            .apply(&Event::from_json(&event.to_string()).expect("decodes"))
            .expect("applies");
    }
    let want = engine.audit_head();
    let (code, out, err) = run(&["verify", &url, "--programme", &programme]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.trim_end().ends_with(&want.hash.to_hex()), "{out}");
    let (code, out, err) = run(&["head", &url, "--programme", &programme, "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let got: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(got["seq"], want.seq);
}
