//! Several OS processes writing one SQLite file through the conditional
//! append (`BEGIN IMMEDIATE`, head checked inside the transaction): four
//! writers, each this test executable again, apply their sales in random
//! batches of 1 to 50, and 10 % of the sales are sent to two writers (the
//! same webhook at two workers). The even writers start with one batch
//! of 1,210 sales each, 110 of them the other's, which race. Once all are
//! done, each catches up and
//! reports its head. Afterwards every writer and a freshly opened engine
//! have the same head, every sale is stored exactly once, at the seq and
//! with the hash its writer was told, the chain verifies, and money is
//! conserved.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rust_decimal::Decimal;
use upline::{Engine, ErrorKind, Event, Timestamp};
use upline_sqlite::SqliteStore;

const WRITERS: u64 = 4;
const MEMBERS: u64 = 30;
/// Sales of one writer alone; each also sends the first `SHARED` sales of
/// the next writer's block (10 % of all sends go to two writers).
const OWN: u64 = 360;
const SHARED: u64 = 40;
/// The even writers' bulk blocks: sales `BULK_BASE…`, `BULK` each, and
/// each writer also sends the first `BULK_SHARED` of the other's.
const BULK_BASE: u64 = 100_000;
const BULK: u64 = 1_100;
const BULK_SHARED: u64 = 110;

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("upline-sqlite-procs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

fn member(i: u64) -> Event {
    let sponsor = if i == 0 {
        "null".to_string()
    } else {
        format!("\"m{}\"", (i - 1) / 2)
    };
    Event::from_json(&format!(
        r#"{{"type":"member_joined","member":"m{i}","sponsor":{sponsor},"at":"2026-01-01T00:00:00Z"}}"#
    ))
    .unwrap()
}

fn sale(n: u64) -> Event {
    Event::from_json(&format!(
        r#"{{"type":"sale_recorded","sale":"p{n}","buyer":"m{}","amount":"{}.{:02}","currency":"USD","at":"2026-02-02T00:00:00Z"}}"#,
        n % MEMBERS,
        10 + n % 90,
        n % 100
    ))
    .unwrap()
}

/// Writer `w`'s sales: its own block and the start of the next one's.
fn writer_sales(w: u64) -> Vec<u64> {
    let mut ids: Vec<u64> = (w * OWN..(w + 1) * OWN).collect();
    let next = (w + 1) % WRITERS;
    ids.extend(next * OWN..next * OWN + SHARED);
    ids
}

/// Writer `w`'s bulk batch (even writers only): its block and the start
/// of the other bulk writer's.
fn bulk_sales(w: u64) -> Vec<u64> {
    if w % 2 == 1 {
        return Vec::new();
    }
    let block = |k: u64| BULK_BASE + k * BULK;
    let (own, other) = (block(w / 2), block(1 - w / 2));
    (own..own + BULK)
        .chain(other..other + BULK_SHARED)
        .collect()
}

fn open(path: &Path) -> Engine {
    Engine::open(Box::new(SqliteStore::open(path).unwrap())).unwrap()
}

/// The child side: applies writer `UPLINE_SQLITE_WRITER`'s sales, shuffled,
/// in random batches, printing `ack <sale> <seq> <hash>` for each; then
/// `done`, waits for a line on stdin, catches up and prints `head <seq>
/// <hash>`.
#[test]
#[ignore = "run by several_processes_on_one_file_agree_and_store_every_sale_once"]
fn sqlite_writer_child() {
    let (Ok(path), Ok(w)) = (
        std::env::var("UPLINE_SQLITE_CHILD_DB"),
        std::env::var("UPLINE_SQLITE_WRITER"),
    ) else {
        return;
    };
    let w: u64 = w.parse().unwrap();
    let mut engine = open(Path::new(&path));
    let mut ids = writer_sales(w);
    let mut state = 0x2545_F491_4F6C_DD1D_u64 ^ (w + 1).wrapping_mul(0x9E37_79B9);
    let mut below = |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    for i in (1..ids.len()).rev() {
        ids.swap(i, below(i as u64 + 1) as usize);
    }
    let mut out = std::io::stdout().lock();
    let bulk = bulk_sales(w);
    while !bulk.is_empty() {
        let events: Vec<Event> = bulk.iter().map(|&n| sale(n)).collect();
        match engine.apply_batch(&events) {
            Ok(results) => {
                for (n, result) in bulk.iter().zip(results) {
                    let applied = result.unwrap();
                    writeln!(out, "ack p{n} {} {}", applied.seq, applied.hash.to_hex()).unwrap();
                }
                break;
            }
            Err(err) if err.kind() == ErrorKind::Conflict => continue,
            Err(err) => panic!("writer {w}: {err}"),
        }
    }
    let mut next = 0;
    while next < ids.len() {
        let size = (1 + below(50) as usize).min(ids.len() - next);
        let events: Vec<Event> = ids[next..next + size].iter().map(|&n| sale(n)).collect();
        match engine.apply_batch(&events) {
            Ok(results) => {
                for (n, result) in ids[next..next + size].iter().zip(results) {
                    let applied = result.unwrap();
                    writeln!(out, "ack p{n} {} {}", applied.seq, applied.hash.to_hex()).unwrap();
                }
                next += size;
            }
            // The others kept winning: the host retries.
            Err(err) if err.kind() == ErrorKind::Conflict => continue,
            Err(err) => panic!("writer {w}: {err}"),
        }
    }
    writeln!(out, "done").unwrap();
    out.flush().unwrap();
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    let head = engine.catch_up().unwrap();
    writeln!(out, "head {} {}", head.seq, head.hash.to_hex()).unwrap();
}

#[test]
fn several_processes_on_one_file_agree_and_store_every_sale_once() {
    let path = temp_path("shared.sqlite");
    let mut setup = open(&path);
    let joins: Vec<Event> = (0..MEMBERS).map(member).collect();
    for result in setup.apply_batch(&joins).unwrap() {
        result.unwrap();
    }
    drop(setup);

    let exe = std::env::current_exe().unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let mut children = Vec::new();
    let mut readers = Vec::new();
    for w in 0..WRITERS {
        let mut child = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "sqlite_writer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("UPLINE_SQLITE_CHILD_DB", &path)
            .env("UPLINE_SQLITE_WRITER", w.to_string())
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
                // The harness prints `test sqlite_writer_child ... ` on
                // the same stdout, sometimes before a line of ours.
                let ours = ["ack ", "head ", "done"]
                    .iter()
                    .filter_map(|tag| line.find(tag))
                    .min()
                    .map(|at| line[at..].to_string());
                let Some(ours) = ours else { continue };
                if ours == "done" && !said_done {
                    said_done = done.send(w).is_ok();
                }
                lines.push(ours);
            }
            // A writer that died before `done` must not keep the others
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
    let mut acknowledged: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut heads = Vec::new();
    for (w, (mut child, reader)) in children.into_iter().zip(readers).enumerate() {
        for line in reader.join().unwrap() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["ack", sale, seq, hash] => {
                    let ack = (seq.parse().unwrap(), hash.to_string());
                    if let Some(before) = acknowledged.insert(sale.to_string(), ack.clone()) {
                        assert_eq!(before, ack, "{sale} acknowledged twice, differently");
                    }
                }
                ["head", seq, hash] => heads.push((seq.parse::<u64>().unwrap(), hash.to_string())),
                _ => {}
            }
        }
        assert!(child.wait().unwrap().success(), "writer {w} failed");
    }

    let fresh = open(&path);
    let head = fresh.audit_head();
    assert_eq!(fresh.verify().unwrap(), head);
    let expected: BTreeSet<String> = (0..WRITERS * OWN)
        .chain(BULK_BASE..BULK_BASE + 2 * BULK)
        .map(|n| format!("p{n}"))
        .collect();
    assert_eq!(head.seq, MEMBERS + expected.len() as u64);
    assert_eq!(heads.len(), WRITERS as usize);
    for (seq, hash) in &heads {
        assert_eq!(
            (*seq, hash.as_str()),
            (head.seq, head.hash.to_hex().as_str())
        );
    }

    // Every sale stored once, where and as its writer was told.
    let db = rusqlite::Connection::open(&path).unwrap();
    let mut query = db
        .prepare("SELECT seq, event, hash FROM events ORDER BY seq")
        .unwrap();
    let mut stored: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let rows = query
        .query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Vec<u8>>(2)?,
            ))
        })
        .unwrap();
    for row in rows {
        let (seq, json, hash) = row.unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        if let Some(sale) = value["sale"].as_str() {
            let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
            assert!(
                stored.insert(sale.to_string(), (seq as u64, hex)).is_none(),
                "{sale} stored twice"
            );
        }
    }
    assert_eq!(stored.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert_eq!(acknowledged, stored);

    // Money: every sale's lines plus what it retains is the sale; every
    // member's balances add up to what it earned net of reversals; what
    // the members earned is what the sales distributed.
    let usd = fresh.currencies().get("USD", "currency").unwrap();
    let mut distributed = Decimal::ZERO;
    for sale in stored.keys() {
        let d = fresh.distribution_of(sale).unwrap();
        let lines: Decimal = d.lines.iter().map(|l| l.amount).sum();
        assert_eq!(lines + d.retained, d.amount, "{sale}");
        distributed += lines;
    }
    let mut earned = Decimal::ZERO;
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
    assert!(distributed > Decimal::ZERO);
}
