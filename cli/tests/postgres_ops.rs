//! The `upline` command on PostgreSQL as an operator meets it: `replay`
//! filling an empty programme, read commands that create nothing (an
//! unknown programme is an error, not an empty programme; a read-only
//! database serves every read and refuses `snapshot`), and a malformed URL
//! named by its field, never with its password.
//!
//! The tests that need a server use `UPLINE_PG_URL` (`bash
//! .ci/postgres.sh start` prints it) and skip without it, except under
//! `CI=true`, where a missing server fails the run.

use assert_cmd::Command;
use postgres::{Client, NoTls};
use serde_json::Value;

/// ann ← bob ← cal, a sale of 100.00 USD by cal and one of 50.00.
const LOG: &str = r#"{"type":"member_joined","member":"ann","sponsor":null,"at":"2026-01-01T00:00:00Z"}
{"type":"member_joined","member":"bob","sponsor":"ann","at":"2026-01-01T00:00:00Z"}
{"type":"member_joined","member":"cal","sponsor":"bob","at":"2026-01-01T00:00:00Z"}
{"type":"sale_recorded","sale":"s1","buyer":"cal","amount":"100.00","currency":"USD","at":"2026-02-01T00:00:00Z"}
{"type":"sale_recorded","sale":"s2","buyer":"cal","amount":"50.00","currency":"USD","at":"2026-02-02T00:00:00Z"}
"#;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("upline")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn server() -> Option<String> {
    match std::env::var("UPLINE_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "UPLINE_PG_URL is unset under CI=true: .ci/run starts PostgreSQL and sets it"
            );
            eprintln!("skipped: UPLINE_PG_URL is unset (bash .ci/postgres.sh start prints it)");
            None
        }
    }
}

/// A fresh, empty database `upline_cli_<name>_<pid>` on `url`'s server:
/// its URL.
fn fresh_db(url: &str, name: &str) -> String {
    let db = format!("upline_cli_{name}_{}", std::process::id());
    let mut admin = Client::connect(url, NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let start = base.find("://").map_or(0, |i| i + 3);
    let end = base[start..].find('/').map_or(base.len(), |j| start + j);
    format!("{}/{db}{query}", &base[..end])
}

/// Every row of `sql` (one text column) on `url`.
fn texts(url: &str, sql: &str) -> Vec<String> {
    let mut db = Client::connect(url, NoTls).unwrap();
    db.query(sql, &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// `replay` into a PostgreSQL programme: the same head as a SQLite
/// replay of the log; a second replay into it is refused, nothing added;
/// a log with a refused line stores nothing, not even the programme.
#[test]
fn replay_fills_an_empty_programme_and_a_refused_line_stores_nothing() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "replay");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    std::fs::write(&log, LOG).unwrap();
    let log = log.to_str().unwrap();
    let sqlite = dir.path().join("books.sqlite");
    let (code, want, err) = run(&["replay", log, sqlite.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");

    let (code, got, err) = run(&[
        "replay",
        log,
        &url,
        "--programme",
        "acme",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{got}{err}");
    assert_eq!(got, want, "the same head as the SQLite replay");
    let head: Value = serde_json::from_str(&got).unwrap();
    assert_eq!(head["seq"], 5);

    let (code, out, err) = run(&["replay", log, &url, "--programme", "acme"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("already holds 5 events"), "{err}");
    let (code, out, _) = run(&["head", &url, "--programme", "acme", "--format", "json"]);
    assert_eq!((code, out), (0, want));

    let bad = dir.path().join("bad.jsonl");
    let refused = r#"{"type":"sale_recorded","sale":"s9","buyer":"zed","amount":"1.00","currency":"USD","at":"2026-02-03T00:00:00Z"}"#;
    std::fs::write(&bad, format!("{LOG}{refused}\n")).unwrap();
    let (code, out, err) = run(&[
        "replay",
        bad.to_str().unwrap(),
        &url,
        "--programme",
        "other",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.starts_with("upline: line 6: "), "{err}");
    let programmes = texts(
        &url,
        "SELECT programme FROM upline_programmes ORDER BY programme",
    );
    assert_eq!(programmes, ["acme"], "nothing of `other` stored");
}

/// A read command on a programme the database holds nothing of (a typo)
/// is a `storage` error naming it, and registers nothing; on a database
/// with no Upline schema it creates no table.
#[test]
fn reads_of_an_unknown_programme_fail_and_create_nothing() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "unknown");
    for args in [
        vec!["head", url.as_str(), "--programme", "acme"],
        vec!["verify", url.as_str(), "--programme", "acme"],
        vec!["snapshot", url.as_str(), "--programme", "acme"],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains("holds no Upline schema yet"), "{err}");
    }
    let tables = texts(
        &url,
        "SELECT table_name::TEXT FROM information_schema.tables WHERE table_name LIKE 'upline%'",
    );
    assert!(tables.is_empty(), "a read created {tables:?}");

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    std::fs::write(&log, LOG).unwrap();
    let (code, _, err) = run(&["replay", log.to_str().unwrap(), &url, "--programme", "acme"]);
    assert_eq!(code, 0, "{err}");
    for args in [
        vec!["head", url.as_str(), "--programme", "acmee"],
        vec!["export", url.as_str(), "--programme", "acmee"],
        vec!["balances", url.as_str(), "ann", "--programme", "acmee"],
        vec!["snapshot", url.as_str(), "--programme", "acmee"],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains("holds no programme \"acmee\""), "{err}");
        assert!(out.is_empty(), "{out}");
    }
    let programmes = texts(&url, "SELECT programme FROM upline_programmes");
    assert_eq!(programmes, ["acme"], "a read registered a programme");
}

/// On a database with `default_transaction_read_only = on` every read
/// command works; `snapshot` fails naming why and stores nothing.
#[test]
fn read_commands_work_on_a_read_only_database_and_snapshot_is_refused() {
    let Some(url) = server() else { return };
    let url = fresh_db(&url, "readonly");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    std::fs::write(&log, LOG).unwrap();
    let (code, want, err) = run(&[
        "replay",
        log.to_str().unwrap(),
        &url,
        "--programme",
        "acme",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    Client::connect(&url, NoTls)
        .unwrap()
        .batch_execute(&format!(
            "ALTER DATABASE {db} SET default_transaction_read_only = on"
        ))
        .unwrap();
    let p = ["--programme", "acme"];
    let (code, out, err) = run(&[&["head", &url, "--format", "json"][..], &p].concat());
    assert_eq!((code, out.as_str()), (0, want.as_str()), "{err}");
    let (code, out, err) = run(&[&["verify", &url][..], &p].concat());
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok: 5 events verified"), "{out}");
    let (code, out, err) = run(&[&["statement", &url, "bob", "--format", "csv"][..], &p].concat());
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(",commission,20.00,USD,"),
        "s1: 0.2 of 100.00: {out}"
    );
    assert!(
        out.contains(",commission,10.00,USD,"),
        "s2: 0.2 of 50.00: {out}"
    );
    let (code, out, err) = run(&[&["export", &url, "--format", "csv"][..], &p].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().count(),
        8,
        "header, prev, 5 events, head: {out}"
    );
    assert!(out.trim_end().ends_with(",head,,"), "{out}");
    let (code, out, err) = run(&[&["snapshot", &url][..], &p].concat());
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("takes no writes"), "{err}");
    let snapshots = texts(&url, "SELECT programme FROM upline_snapshots");
    assert!(snapshots.is_empty(), "{snapshots:?}");
}

/// A URL the driver cannot parse names the option at fault, never the
/// password; no server needed.
#[test]
fn a_malformed_url_names_the_option_and_not_the_password() {
    for (url, option) in [
        (
            "postgresql://ops:s3cret-pw@127.0.0.1:notaport/books",
            "port",
        ),
        (
            "postgresql://ops:s3cret-pw@127.0.0.1:5432/books?sslmode=bogus",
            "sslmode",
        ),
    ] {
        let (code, out, err) = run(&["head", url, "--programme", "acme"]);
        assert_eq!(code, 2, "{out}{err}");
        assert!(err.contains("cannot parse the connection URL"), "{err}");
        assert!(err.contains(option), "names {option}: {err}");
        assert!(
            !err.contains("s3cret-pw") && !out.contains("s3cret-pw"),
            "{err}"
        );
    }
}

/// A libpq `key=value` connection string (which the adapter accepts) is a
/// PostgreSQL store, not a SQLite path: it needs `--programme`, and no
/// message prints it (it was `no store at host=… password=…: no such
/// file`, and `replay` created a SQLite file named after it).
#[test]
fn a_key_value_connection_string_is_postgres_and_never_printed() {
    let conn = "host=127.0.0.1 port=1 user=ops password=s3cret-pw dbname=books";
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    std::fs::write(&log, LOG).unwrap();
    let log = log.to_str().unwrap();
    let runs = [
        (vec!["head", conn], "--programme"),
        (
            vec!["head", conn, "--programme", "acme"],
            "127.0.0.1:1/books as ops",
        ),
        (vec!["replay", log, conn], "--programme"),
        (
            vec!["replay", log, conn, "--programme", "acme"],
            "127.0.0.1:1/books as ops",
        ),
    ];
    for (args, names) in runs {
        let out = Command::cargo_bin("upline")
            .unwrap()
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        let (out, err) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned() + &out.status.to_string(),
        );
        assert!(err.contains("exit status: 2"), "{args:?}: {out}{err}");
        assert!(err.contains(names), "{args:?}: {err}");
        assert!(
            !err.contains("s3cret-pw") && !out.contains("s3cret-pw"),
            "{err}"
        );
    }
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "only the log: {files:?}");
}
