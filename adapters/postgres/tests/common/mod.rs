//! What the PostgreSQL test files share: the test server's URL and a fresh
//! database for each test; and, for the crash and failover tests,
//! throwaway PostgreSQL clusters
//! of their own (started, crashed, promoted and deleted through
//! `.ci/postgres.sh`, each in its own folder under `target/` and on its own
//! port, so the shared server other tests use is never touched), the
//! writer that runs as a child OS process and reports every acknowledged
//! event to a file, and the checks on the books afterwards: no acknowledged
//! event lost, none partial, every id stored once, the chain verifying on a
//! fresh open, money conserved.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};
use rust_decimal::Decimal;
use upline::{Engine, ErrorKind, Event, Timestamp};
use upline_postgres::{GroupCommit, PostgresStore};

/// Where Debian's PostgreSQL 15 binaries live (`.ci/postgres.sh` installs
/// them with apt-get when missing).
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// Members joined before the writers start: `m0 … m59` in a binary tree.
pub const MEMBERS: u64 = 60;

/// The shared test server's URL (`UPLINE_PG_URL`, which `.ci/run` sets
/// after starting its own PostgreSQL 15), or `None` after saying why the
/// test skips. Under `CI=true` a missing server fails the test instead.
pub fn server() -> Option<String> {
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

/// A fresh, empty database `upline_t_<name>_<pid>` on `url`'s server (one
/// left by an earlier run is dropped, connections and all): its URL and
/// its name.
pub fn fresh_db(url: &str, name: &str) -> (String, String) {
    let dbname = format!("upline_t_{name}_{}", std::process::id());
    let mut admin = Client::connect(url, NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {dbname}"))
        .unwrap();
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let start = base.find("://").map_or(0, |i| i + 3);
    let end = base[start..].find('/').map_or(base.len(), |j| start + j);
    (format!("{}/{dbname}{query}", &base[..end]), dbname)
}

/// The repository's root (where `.ci/` and `target/` are).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether this test may run: the PostgreSQL 15 binaries are there, or
/// we are under `CI=true` (where `.ci/postgres.sh` installs them and a
/// skip would hide a failure). Otherwise says why it skips.
pub fn may_run(test: &str) -> bool {
    let present = Path::new(PG_BIN).join("initdb").exists();
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if !present && !ci {
        eprintln!(
            "skipped {test}: the PostgreSQL 15 binaries are not in {PG_BIN} \
             (bash .ci/postgres.sh start installs them; under CI=true this test runs)"
        );
        return false;
    }
    true
}

/// A throwaway cluster of this test's own: folder `target/<name>`, port
/// `port`, extra server options `opts`. Deleted when dropped, also when
/// the test fails.
pub struct Cluster {
    pub dir: String,
    pub port: u16,
    pub opts: String,
}

impl Cluster {
    /// A fresh, running cluster (any folder of an earlier run is deleted).
    pub fn start(name: &str, port: u16, opts: &str) -> Cluster {
        let cluster = Cluster {
            dir: format!("target/{name}"),
            port,
            opts: opts.to_string(),
        };
        cluster.script("destroy", &[]);
        cluster.script("start", &[]);
        cluster
    }

    /// A fresh streaming standby of `primary`, running.
    pub fn standby_of(primary: &Cluster, name: &str, port: u16, opts: &str) -> Cluster {
        let cluster = Cluster {
            dir: format!("target/{name}"),
            port,
            opts: opts.to_string(),
        };
        cluster.script("destroy", &[]);
        let primary_port = primary.port.to_string();
        cluster.script("standby", &[("UPLINE_PG_PRIMARY_PORT", &primary_port)]);
        cluster
    }

    /// Runs `.ci/postgres.sh <command>` for this cluster; panics with its
    /// output when it fails.
    pub fn script(&self, command: &str, env: &[(&str, &str)]) {
        let out = Command::new("bash")
            .arg(".ci/postgres.sh")
            .arg(command)
            .current_dir(repo_root())
            .env("UPLINE_PG_DIR", &self.dir)
            .env("UPLINE_PG_PORT", self.port.to_string())
            .env("UPLINE_PG_OPTS", &self.opts)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("bash .ci/postgres.sh");
        assert!(
            out.status.success(),
            "postgres.sh {command} ({}): {}{}",
            self.dir,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// This cluster's URL (database `postgres`, user `postgres`, trust).
    pub fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Crashes the server: `pg_ctl stop -m immediate`.
    pub fn crash(&self) {
        self.script("stop-immediate", &[]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(".ci/postgres.sh")
            .arg("destroy")
            .current_dir(repo_root())
            .env("UPLINE_PG_DIR", &self.dir)
            .env("UPLINE_PG_PORT", self.port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A folder for the writers' acknowledgement files, empty.
pub fn ack_dir(name: &str) -> PathBuf {
    let dir = repo_root().join("target").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn member_event(i: u64) -> Event {
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

/// The sale id, buyer and amount of [`sale_event`] for each of `ids`, as
/// text: a columnar call's rows (`apply_sale_columns`).
pub fn sale_rows(ids: &[u64]) -> Vec<[String; 3]> {
    ids.iter()
        .map(|&n| {
            [
                format!("w{n}"),
                format!("m{}", n % MEMBERS),
                format!("{}.{:02}", 10 + n % 90, n % 100),
            ]
        })
        .collect()
}

/// Sale `w<n>`: a buyer among the members, an amount with cents.
pub fn sale_event(n: u64) -> Event {
    Event::from_json(&format!(
        r#"{{"type":"sale_recorded","sale":"w{n}","buyer":"m{}","amount":"{}.{:02}","currency":"USD","at":"2026-02-02T00:00:00Z"}}"#,
        n % MEMBERS,
        10 + n % 90,
        n % 100
    ))
    .unwrap()
}

/// Joins the members (once: a retry is a replay).
pub fn join_members(url: &str) {
    let mut engine = open_retrying(url, "acme", Duration::from_secs(30), false);
    let joins: Vec<Event> = (0..MEMBERS).map(member_event).collect();
    for result in engine.apply_batch(&joins).unwrap() {
        result.unwrap();
    }
}

pub struct Xorshift(pub u64);

impl Xorshift {
    pub fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0.max(1);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % n.max(1)
    }
}

/// Opens an engine on `programme`, retrying `storage` errors (a server
/// down, restarting or not yet promoted) until `patience` has passed.
pub fn open_retrying(url: &str, programme: &str, patience: Duration, hand_off: bool) -> Engine {
    let deadline = Instant::now() + patience;
    loop {
        let opened = PostgresStore::open(url, programme).and_then(|mut store| {
            if hand_off {
                store.set_group_commit(GroupCommit::Always);
            }
            Engine::open(Box::new(store))
        });
        match opened {
            Ok(engine) => return engine,
            Err(err) if err.kind() == ErrorKind::Storage && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(err) => panic!("cannot open {programme}: {err}"),
        }
    }
}

/// The writer's environment: which URL, which sales, where to report.
pub const CHILD_URL: &str = "UPLINE_PG_CHILD_URL";
pub const CHILD_IDS: &str = "UPLINE_PG_CHILD_IDS";
pub const CHILD_ACKS: &str = "UPLINE_PG_CHILD_ACKS";
pub const CHILD_SEED: &str = "UPLINE_PG_CHILD_SEED";
/// The batch sizes: `min..=max`.
pub const CHILD_BATCHES: &str = "UPLINE_PG_CHILD_BATCHES";
/// Set: the writer sends single events (`apply`) and hands them off under
/// contention (`GroupCommit::Always`).
pub const CHILD_SINGLE: &str = "UPLINE_PG_CHILD_SINGLE";

/// Starts a writer: this test executable again, running only its ignored
/// `writer_child` test, which calls [`writer_child`]. Sales `ids`
/// (`first..end`), in batches of sizes drawn from `batches`, reports
/// appended to `acks`, stderr to `acks.err`. A `single` writer sends one event at a time and hands them off to the
/// lock's holder under contention.
pub fn spawn_writer(
    url: &str,
    ids: std::ops::Range<u64>,
    acks: &Path,
    seed: u64,
    batches: std::ops::RangeInclusive<u64>,
    single: bool,
) -> Child {
    let err = std::fs::File::create(acks.with_extension("err")).unwrap();
    let mut command = Command::new(std::env::current_exe().unwrap());
    if single {
        command.env(CHILD_SINGLE, "1");
    }
    command
        .args([
            "--ignored",
            "--exact",
            "writer_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URL, url)
        .env(CHILD_IDS, format!("{}..{}", ids.start, ids.end))
        .env(CHILD_ACKS, acks)
        .env(CHILD_SEED, seed.to_string())
        .env(
            CHILD_BATCHES,
            format!("{}..={}", batches.start(), batches.end()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap()
}

/// The child side. Applies its sales, shuffled, in random batches of
/// `min..=max` events (a batch of 1,024 or more sends its events ahead),
/// and after each acknowledged batch appends one line per
/// event, `ack <sale> <seq> <hash>`, to its acknowledgement file in one
/// write (and `opening` / `applying` lines before it opens its engine and
/// before each call, so a killer can tell where it was) (the file outlives a SIGKILL; a killed writer's last batch may be
/// acknowledged and not reported, never reported and not acknowledged).
/// `storage` errors (the server down, restarting, failing over), of the
/// batch or of any of its events, are retried every 20 ms for up to two
/// minutes, `conflict` at once; any other error, or a sale refused for
/// another reason, fails the writer (exit status 101).
/// Without the environment (a plain `--ignored` run) it does nothing.
pub fn writer_child() {
    let (Ok(url), Ok(ids), Ok(acks)) = (
        std::env::var(CHILD_URL),
        std::env::var(CHILD_IDS),
        std::env::var(CHILD_ACKS),
    ) else {
        return;
    };
    let seed: u64 = std::env::var(CHILD_SEED).unwrap().parse().unwrap();
    let batches = std::env::var(CHILD_BATCHES).unwrap();
    let (min_batch, max_batch) = batches.split_once("..=").unwrap();
    let (min_batch, max_batch): (u64, u64) =
        (min_batch.parse().unwrap(), max_batch.parse().unwrap());
    let (first, end) = ids.split_once("..").unwrap();
    let (first, end): (u64, u64) = (first.parse().unwrap(), end.parse().unwrap());
    let mut report = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&acks)
        .unwrap();
    let patience = Duration::from_secs(120);
    // Where a writer is, for the test that kills it: opening, inside an
    // `apply_batch` call, or between calls (after a line of acks).
    report.write_all(b"opening\n").unwrap();
    let single = std::env::var(CHILD_SINGLE).is_ok();
    let mut engine = open_retrying(&url, "acme", patience, single);
    let mut rng = Xorshift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut ids: Vec<u64> = (first..end).collect();
    for i in (1..ids.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        ids.swap(i, j);
    }
    let deadline = Instant::now() + patience;
    let mut next = 0;
    while next < ids.len() {
        let size = match single {
            true => 1,
            false => {
                let size = min_batch + rng.below(max_batch - min_batch + 1);
                (size as usize).min(ids.len() - next)
            }
        };
        let events: Vec<Event> = ids[next..next + size]
            .iter()
            .map(|&n| sale_event(n))
            .collect();
        report.write_all(b"applying\n").unwrap();
        let applied = match single {
            true => engine.apply(&events[0]).map(|applied| vec![Ok(applied)]),
            false => engine.apply_batch(&events),
        };
        match applied {
            Ok(results) => {
                // Every event that succeeded is acknowledged. An engine
                // that lost its store (its reload failed while the server
                // was down) refuses each event with `storage` until a
                // later call reloads it: the batch is sent again, and what
                // was stored comes back as a retry.
                let mut lines = String::new();
                let mut unavailable = false;
                for (n, result) in ids[next..next + size].iter().zip(results) {
                    match result {
                        Ok(applied) => lines.push_str(&format!(
                            "ack w{n} {} {}\n",
                            applied.seq,
                            applied.hash.to_hex()
                        )),
                        Err(err) if err.kind() == ErrorKind::Storage => unavailable = true,
                        Err(err) => panic!("sale w{n} refused: {err}"),
                    }
                }
                report.write_all(lines.as_bytes()).unwrap();
                if unavailable {
                    assert!(
                        Instant::now() < deadline,
                        "writer {first}..{end}: no server"
                    );
                    std::thread::sleep(Duration::from_millis(20));
                } else {
                    next += size;
                }
            }
            Err(err) if err.kind() == ErrorKind::Conflict => continue,
            Err(err) if err.kind() == ErrorKind::Storage && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(err) => panic!("writer {first}..{end}: {err}"),
        }
    }
}

/// One acknowledged event as a writer reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub sale: String,
    pub seq: u64,
    pub hash: String,
}

/// Where a writer was when it was killed, from the last line of its
/// report file: `opening` its engine, `applying` (inside an `apply_batch`
/// call: staging, appending, catching up or reloading), or `between`
/// calls.
pub fn killed_in(acks: &Path) -> &'static str {
    let text = std::fs::read_to_string(acks).unwrap_or_default();
    match text.lines().last() {
        Some("opening") | None => "opening",
        Some("applying") => "applying",
        Some(_) => "between",
    }
}

/// Every acknowledgement in the `*.acks` files of `dir`. A line cut by a
/// SIGKILL in the middle of its write (no newline) is not an
/// acknowledgement report and is skipped.
pub fn read_acks(dir: &Path) -> Vec<Ack> {
    let mut acks = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("acks") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let complete = match text.rfind('\n') {
            Some(end) => &text[..end],
            None => "",
        };
        for line in complete.lines() {
            if line == "opening" || line == "applying" {
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(
                parts.len(),
                4,
                "bad report line in {}: {line:?}",
                path.display()
            );
            assert_eq!(parts[0], "ack");
            acks.push(Ack {
                sale: parts[1].to_string(),
                seq: parts[2].parse().unwrap(),
                hash: parts[3].to_string(),
            });
        }
    }
    acks
}

/// What the books hold after the run, checked.
pub struct Books {
    pub head: u64,
    pub sales: usize,
}

/// The checks after a run on `url`:
/// - none partial: the stored seqs are exactly `1..=head`, every row
///   parses as an event, and a fresh engine opens (recomputing and
///   checking every hash) and verifies to the same head;
/// - no acknowledged event lost: every report names a stored event at its
///   seq, with its sale and its hash;
/// - every sale of `expected` stored exactly once, and nothing else;
/// - money conserved: every sale's lines plus what it retains is the sale,
///   every member's balances add up to what it earned net of reversals,
///   and what all members earned is what the sales distributed.
pub fn check_books(url: &str, acks: &[Ack], expected: &BTreeSet<u64>) -> Books {
    let mut db = Client::connect(url, NoTls).unwrap();
    let rows = db
        .query(
            "SELECT seq, event, hash FROM upline_events WHERE programme = 'acme' ORDER BY seq",
            &[],
        )
        .unwrap();
    let mut stored: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_seq: BTreeMap<u64, (Option<String>, String)> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        let seq = row.get::<_, i64>(0) as u64;
        assert_eq!(seq, i as u64 + 1, "the stored seqs have a gap before {seq}");
        let event = Event::from_json(row.get::<_, &str>(1))
            .unwrap_or_else(|e| panic!("event {seq} is not a whole event: {e}"));
        let hash: Vec<u8> = row.get(2);
        assert_eq!(hash.len(), 32, "event {seq}'s hash");
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        let value = serde_json::to_value(&event).unwrap();
        let sale = value["sale"].as_str().map(str::to_string);
        if let Some(sale) = &sale {
            assert!(
                stored.insert(sale.clone(), seq).is_none(),
                "{sale} stored twice"
            );
        }
        by_seq.insert(seq, (sale, hex));
    }
    let head = rows.len() as u64;

    let fresh = Engine::open(Box::new(PostgresStore::open(url, "acme").unwrap()))
        .expect("a fresh engine opens the stored log, every hash checked");
    assert_eq!(fresh.audit_head().seq, head);
    assert_eq!(fresh.verify().unwrap(), fresh.audit_head());
    assert_eq!(by_seq[&head].1, fresh.audit_head().hash.to_hex());

    for ack in acks {
        let (sale, hash) = by_seq
            .get(&ack.seq)
            .unwrap_or_else(|| panic!("acknowledged {ack:?} lost: the head is {head}"));
        assert_eq!(sale.as_deref(), Some(ack.sale.as_str()), "{ack:?}");
        assert_eq!(hash, &ack.hash, "{ack:?}");
    }

    let expected_names: BTreeSet<String> = expected.iter().map(|n| format!("w{n}")).collect();
    let stored_names: BTreeSet<String> = stored.keys().cloned().collect();
    assert_eq!(
        stored_names.len(),
        expected_names.len(),
        "missing: {:?}, unexpected: {:?}",
        expected_names
            .difference(&stored_names)
            .take(5)
            .collect::<Vec<_>>(),
        stored_names
            .difference(&expected_names)
            .take(5)
            .collect::<Vec<_>>()
    );
    assert_eq!(stored_names, expected_names);
    assert_eq!(head, MEMBERS + expected.len() as u64);

    let usd = fresh.currencies().get("USD", "currency").unwrap();
    let mut earned = Decimal::ZERO;
    let mut distributed = Decimal::ZERO;
    for id in stored.keys() {
        let d = fresh.distribution_of(id).unwrap();
        let lines: Decimal = d.lines.iter().map(|l| l.amount).sum();
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
    assert!(distributed > Decimal::ZERO);
    Books {
        head,
        sales: stored.len(),
    }
}
