//! Durable throughput into PostgreSQL: events/s for batches of 1, 100 and
//! 10,000 with 1, 2 and 4 writers on one programme (each writer a thread
//! with its own engine and connection, as separate processes would have),
//! p50/p99 commit latency of single events, and the PEERS.md peer
//! "PostgreSQL 15, online" (one sale per durable transaction through a
//! recursive-CTE upline walk) measured in the same run.
//!
//! `cargo run --release -p upline-benches --bin postgres -- [--quick]
//! [--url URL] [--members N] [--batches 1,100,10000] [--writers 1,2,4]
//! [--no-peer] [--columns] [--group-commit auto|always|never] [--no-send-ahead]`; the URL defaults to `UPLINE_PG_URL` (`bash
//! .ci/postgres.sh start` prints one). Each run uses a fresh database
//! `upline_bench`. Each row also says where the writers' time went: in the
//! store's `append` (the SQL round trip and the durable commit), in its
//! reads (`head`, `scan`, `hash_at`: catching up and reloading), and the
//! rest (the engine staging and committing in memory), and how many
//! events per event written were read back by catch-ups (scans, and the
//! missing events a conflict's or the fairness lock's answer carried) and
//! by reloads (a batch that met a `conflict` rolls back by reloading the
//! engine), the share of time taking the fairness lock, and the statements
//! sent (round trips) per event written.
//! First, the same sales and batches into a `MemoryStore`: the engine
//! alone.
//!
//! With `--columns`, batches (not single events) go through the bulk API
//! a host loading tables would use, `apply_sale_columns` without lines
//! (the sales' text columns; no `Event` and no record built per row; the
//! same audit hashes), instead of `apply_batch`.
//!
//! Batches of 1,024 events or more send their events ahead while they
//! stage (`Store::send_ahead`: PostgreSQL writes them into a `COPY` as
//! the engine stages the rest); `--no-send-ahead` turns that off, to
//! compare both in one build.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};
use upline::engine::columns::{Amounts, SaleColumns, Times};
use upline::money::DecimalText;
use upline::store::{Appended, HandOff, Missing, TryLock};
use upline::{Engine, ErrorKind, Event, Hash, MemoryStore, Store, StoredEvent};
use upline_benches::{join_events, sponsors, Rng};
use upline_postgres::{GroupCommit, PostgresStore};

/// `--group-commit`: when the writers hand single events off.
static GROUP_COMMIT: std::sync::OnceLock<GroupCommit> = std::sync::OnceLock::new();

/// `--no-send-ahead`: large batches append only once staged.
static NO_SEND_AHEAD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

struct Args {
    url: String,
    quick: bool,
    members: u64,
    batches: Vec<usize>,
    writers: Vec<usize>,
    peer: bool,
    columns: bool,
}

fn list(text: Option<String>, what: &str) -> Vec<usize> {
    text.and_then(|t| t.split(',').map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| panic!("{what} N,N,…"))
}

fn args() -> Args {
    let mut url = std::env::var("UPLINE_PG_URL").unwrap_or_default();
    let mut quick = false;
    let mut members = 10_000;
    let mut batches = vec![1, 100, 10_000];
    let mut writers = vec![1, 2, 4];
    let mut peer = true;
    let mut columns = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--batches" => batches = list(it.next(), "--batches"),
            "--writers" => writers = list(it.next(), "--writers"),
            "--no-peer" => peer = false,
            "--columns" => columns = true,
            "--no-send-ahead" => NO_SEND_AHEAD.store(true, Ordering::Relaxed),
            "--group-commit" => {
                let mode = match it.next().as_deref() {
                    Some("auto") => GroupCommit::Auto,
                    Some("always") => GroupCommit::Always,
                    Some("never") => GroupCommit::Never,
                    _ => panic!("--group-commit auto|always|never"),
                };
                let _ = GROUP_COMMIT.set(mode);
            }
            "--url" => url = it.next().expect("--url URL"),
            "--members" => members = it.next().and_then(|n| n.parse().ok()).expect("--members N"),
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(
        !url.is_empty(),
        "no server: pass --url or set UPLINE_PG_URL (bash .ci/postgres.sh start)"
    );
    Args {
        url,
        quick,
        members,
        batches,
        writers,
        peer,
        columns,
    }
}

/// Applies a batch of sales, every one of which must be accepted: through
/// `apply_batch`, or with `columns` as the sales' text columns through
/// `apply_sale_columns` without lines.
fn apply_sales(engine: &mut Engine, chunk: &[Event], columns: bool) -> upline::Result<()> {
    if !columns {
        for result in engine.apply_batch(chunk)? {
            result.expect("every sale is accepted");
        }
        return Ok(());
    }
    let mut sale = Vec::with_capacity(chunk.len());
    let mut buyer = Vec::with_capacity(chunk.len());
    let mut amount = Vec::with_capacity(chunk.len());
    let mut currency = Vec::with_capacity(chunk.len());
    let mut at = Vec::with_capacity(chunk.len());
    for event in chunk {
        let Event::SaleRecorded(e) = event else {
            panic!("a sale")
        };
        let DecimalText::Text(text) = &e.amount else {
            panic!("amounts are text")
        };
        sale.push(e.sale.as_str());
        buyer.push(e.buyer.as_str());
        amount.push(text.as_str());
        currency.push(e.currency.as_str());
        at.push(e.at.as_str());
    }
    let results = engine.apply_sale_columns(
        &SaleColumns {
            sale: &sale,
            buyer: &buyer,
            amount: Amounts::Text(&amount),
            currency: &currency,
            at: Times::Text(&at),
            category: None,
        },
        false,
    )?;
    assert!(results.errors.is_empty(), "every sale is accepted");
    Ok(())
}

fn with_db(url: &str, dbname: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base[start..].find('/').map(|j| start + j))
        .unwrap_or(base.len());
    format!("{}/{dbname}{query}", &base[..end])
}

/// Sales `from..from + count` (ids `s{n}`), buyers uniform, amounts
/// uniform in 1.00–999.99 USD, deterministic in `n`.
fn sales(members: u64, from: u64, count: u64) -> Vec<Event> {
    (from..from + count)
        .map(|n| {
            let mut rng = Rng(n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5A1E);
            let cents = 100 + rng.below(99_900);
            Event::from_json(&format!(
                r#"{{"type":"sale_recorded","sale":"s{n}","buyer":"u{}","amount":"{}.{:02}","currency":"USD","at":"2026-02-01T12:00:00Z"}}"#,
                rng.below(members),
                cents / 100,
                cents % 100
            ))
            .expect("valid sale")
        })
        .collect()
}

/// Nanoseconds the writers spent in the store, by kind of call.
#[derive(Default)]
struct StoreTime {
    append: AtomicU64,
    read: AtomicU64,
    /// Events read back by catch-ups (a scan from after the head) and by
    /// reloads (a scan from event 1: a batch that met a `conflict` is
    /// rolled back by reloading the engine).
    caught_up: AtomicU64,
    reloaded: AtomicU64,
    /// Time waiting for (and taking) the fairness lock.
    lock: AtomicU64,
    /// Statements sent to the server (one round trip each).
    round_trips: AtomicU64,
    /// Events a lock holder took from the queue for other writers
    /// (group commit across writers, `Store::hand_off`).
    handed: AtomicU64,
    /// Holds of the lock that took the queue, groups appended in them,
    /// and nanoseconds held.
    leads: AtomicU64,
    groups: AtomicU64,
    held: AtomicU64,
    /// The commit time the last writer to append measured
    /// (`PostgresStore::commit_time`, what `GroupCommit::Auto` compares
    /// with `SLOW_COMMIT`), in microseconds.
    floor: AtomicU64,
}

impl std::fmt::Debug for StoreTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreTime")
    }
}

/// A store that times its inner store's calls into a shared [`StoreTime`].
#[derive(Debug)]
struct Timed {
    inner: PostgresStore,
    time: Arc<StoreTime>,
    /// When this handle's current hold of a taken queue began.
    leading: Option<Instant>,
}

impl Timed {
    /// Keeps the commit time this writer's store measures now.
    fn note_floor(&self) {
        if let Some(floor) = self.inner.commit_time() {
            let micros = u64::try_from(floor.as_micros()).unwrap_or(u64::MAX);
            self.time.floor.store(micros, Ordering::Relaxed);
        }
    }

    /// Ends a hold of a taken queue, if one is on.
    fn end_hold(&mut self) {
        if let Some(since) = self.leading.take() {
            self.time
                .held
                .fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
    }

    fn time<T>(&self, counter: &AtomicU64, work: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let trips = self.inner.round_trips();
        let out = work();
        counter.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.time
            .round_trips
            .fetch_add(self.inner.round_trips() - trips, Ordering::Relaxed);
        out
    }

    /// Counts the events a conflict or lock answer carried as caught up.
    fn count_missing(&self, missing: &Missing) {
        if let Some(events) = &missing.events {
            self.time
                .caught_up
                .fetch_add(events.len() as u64, Ordering::Relaxed);
        }
    }
}

impl Store for Timed {
    fn append(&mut self, events: &[StoredEvent]) -> upline::Result<()> {
        let time = Arc::clone(&self.time);
        let inner = &mut self.inner;
        let started = Instant::now();
        let trips = inner.round_trips();
        let out = inner.append(events);
        time.append
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        time.round_trips
            .fetch_add(inner.round_trips() - trips, Ordering::Relaxed);
        out
    }
    fn append_or_missing(
        &mut self,
        events: &[StoredEvent],
        limit: usize,
    ) -> upline::Result<Appended> {
        let time = Arc::clone(&self.time);
        let started = Instant::now();
        let trips = self.inner.round_trips();
        let out = self.inner.append_or_missing(events, limit);
        time.append
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.note_floor();
        if self.leading.is_some() {
            time.groups.fetch_add(1, Ordering::Relaxed);
            self.end_hold();
        }
        time.round_trips
            .fetch_add(self.inner.round_trips() - trips, Ordering::Relaxed);
        if let Ok(Appended::Conflict(missing)) = &out {
            self.count_missing(missing);
        }
        out
    }
    fn lock_appends(&mut self, after: u64, limit: usize) -> upline::Result<Option<Missing>> {
        let time = Arc::clone(&self.time);
        let started = Instant::now();
        let trips = self.inner.round_trips();
        let out = self.inner.lock_appends(after, limit);
        time.lock
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        time.round_trips
            .fetch_add(self.inner.round_trips() - trips, Ordering::Relaxed);
        if let Ok(Some(missing)) = &out {
            self.count_missing(missing);
        }
        out
    }
    fn try_lock_appends(&mut self, after: u64, limit: usize) -> upline::Result<Option<TryLock>> {
        let time = Arc::clone(&self.time);
        let started = Instant::now();
        let trips = self.inner.round_trips();
        let out = self.inner.try_lock_appends(after, limit);
        time.lock
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        time.round_trips
            .fetch_add(self.inner.round_trips() - trips, Ordering::Relaxed);
        if let Ok(Some(TryLock::Held(missing) | TryLock::Busy(missing))) = &out {
            self.count_missing(missing);
        }
        out
    }
    fn hand_off(
        &mut self,
        event: &str,
        ticket: Option<u64>,
        wait: bool,
        after: u64,
        limit: usize,
    ) -> upline::Result<Option<HandOff>> {
        let time = Arc::clone(&self.time);
        let started = Instant::now();
        let trips = self.inner.round_trips();
        let out = self.inner.hand_off(event, ticket, wait, after, limit);
        time.lock
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        time.round_trips
            .fetch_add(self.inner.round_trips() - trips, Ordering::Relaxed);
        if let Ok(Some(answer)) = &out {
            self.count_missing(&answer.missing);
            let others = answer.queued.iter().filter(|q| q.ticket != answer.ticket);
            time.handed
                .fetch_add(others.count() as u64, Ordering::Relaxed);
            if answer.lead {
                self.leading = Some(Instant::now());
                time.leads.fetch_add(1, Ordering::Relaxed);
            }
        }
        out
    }
    fn append_and_lead(
        &mut self,
        events: &[StoredEvent],
        limit: usize,
    ) -> upline::Result<(Appended, Option<HandOff>)> {
        let time = Arc::clone(&self.time);
        let started = Instant::now();
        let trips = self.inner.round_trips();
        let out = self.inner.append_and_lead(events, limit);
        time.append
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.note_floor();
        time.round_trips
            .fetch_add(self.inner.round_trips() - trips, Ordering::Relaxed);
        if self.leading.is_some() {
            time.groups.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok((_, Some(next))) = &out {
            self.count_missing(&next.missing);
            time.handed
                .fetch_add(next.queued.len() as u64, Ordering::Relaxed);
        } else {
            self.end_hold();
        }
        out
    }
    fn answer_queued(&mut self, answers: &[(u64, Option<u64>)]) -> upline::Result<()> {
        self.inner.answer_queued(answers)
    }
    fn withdraw(&mut self, ticket: u64) -> upline::Result<bool> {
        let time = Arc::clone(&self.time);
        let started = Instant::now();
        let out = self.inner.withdraw(ticket);
        time.lock
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        out
    }
    fn send_ahead(&mut self, events: &[StoredEvent]) -> upline::Result<bool> {
        if NO_SEND_AHEAD.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let time = Arc::clone(&self.time);
        let started = Instant::now();
        let out = self.inner.send_ahead(events);
        time.append
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        out
    }
    fn unlock_appends(&mut self) -> upline::Result<()> {
        let trips = self.inner.round_trips();
        let out = self.inner.unlock_appends();
        self.end_hold();
        self.time
            .round_trips
            .fetch_add(self.inner.round_trips() - trips, Ordering::Relaxed);
        out
    }
    fn head(&self) -> upline::Result<u64> {
        self.time(&self.time.read, || self.inner.head())
    }
    fn scan(
        &self,
        from: u64,
        visit: &mut dyn FnMut(StoredEvent) -> upline::Result<()>,
    ) -> upline::Result<()> {
        // Includes the engine's work on each scanned event (a catch-up
        // or a reload replays what it reads).
        let counter = if from <= 1 {
            &self.time.reloaded
        } else {
            &self.time.caught_up
        };
        let mut counted = |event: StoredEvent| {
            counter.fetch_add(1, Ordering::Relaxed);
            visit(event)
        };
        self.time(&self.time.read, || self.inner.scan(from, &mut counted))
    }
    fn hash_at(&self, seq: u64) -> upline::Result<Option<Hash>> {
        self.time(&self.time.read, || self.inner.hash_at(seq))
    }
    fn audit_format(&self) -> upline::Result<u32> {
        self.inner.audit_format()
    }
    fn latest_snapshot(&self) -> upline::Result<Option<(u64, String)>> {
        self.time(&self.time.read, || self.inner.latest_snapshot())
    }
    fn save_snapshot(&mut self, seq: u64, snapshot: &str) -> upline::Result<()> {
        self.inner.save_snapshot(seq, snapshot)
    }
}

fn open_timed(url: &str, programme: &str, time: Arc<StoreTime>) -> Engine {
    let mut inner = PostgresStore::open(url, programme).expect("the server answers");
    inner.set_group_commit(GROUP_COMMIT.get().copied().unwrap_or_default());
    Engine::open(Box::new(Timed {
        inner,
        time,
        leading: None,
    }))
    .expect("the programme opens")
}

fn open(url: &str, programme: &str) -> Engine {
    Engine::open(Box::new(
        PostgresStore::open(url, programme).expect("the server answers"),
    ))
    .expect("the programme opens")
}

struct Run {
    events_per_s: f64,
    latencies: Vec<Duration>,
    conflicts: u64,
    /// Shares of the writers' summed wall time: in `append`, in reads.
    append_share: f64,
    read_share: f64,
    /// Events read back by catch-ups and by reloads, per event written.
    caught_up: f64,
    reloaded: f64,
    lock_share: f64,
    /// Statements sent per event written.
    round_trips: f64,
    /// Events stored by another writer holding the lock, per event written.
    handed: f64,
    /// Holds of the lock that took the queue, groups they appended, and
    /// the milliseconds they held the lock in all.
    leads: u64,
    groups: u64,
    held_ms: f64,
    append_ms: f64,
    /// The commit time the last writer to append measured, in ms.
    floor_ms: f64,
}

/// `writers` threads each apply `per_writer` sales in batches of `batch`
/// on `programme` (whose network is already stored).
fn run(
    url: &str,
    programme: &str,
    members: u64,
    batch: usize,
    writers: usize,
    per_writer: u64,
    columns: bool,
) -> Run {
    let barrier = Arc::new(Barrier::new(writers + 1));
    let time = Arc::new(StoreTime::default());
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let url = url.to_string();
            let programme = programme.to_string();
            let barrier = Arc::clone(&barrier);
            let time = Arc::clone(&time);
            std::thread::spawn(move || {
                let mut engine = open_timed(&url, &programme, Arc::clone(&time));
                time.append.store(0, Ordering::Relaxed);
                time.read.store(0, Ordering::Relaxed);
                time.caught_up.store(0, Ordering::Relaxed);
                time.reloaded.store(0, Ordering::Relaxed);
                time.lock.store(0, Ordering::Relaxed);
                time.round_trips.store(0, Ordering::Relaxed);
                time.handed.store(0, Ordering::Relaxed);
                let events = sales(members, 1_000_000_000 + w as u64 * per_writer, per_writer);
                let mut latencies = Vec::new();
                let mut conflicts = 0;
                barrier.wait();
                for chunk in events.chunks(batch) {
                    loop {
                        let started = Instant::now();
                        let result = if batch == 1 {
                            engine.apply(&chunk[0]).map(|_| ())
                        } else {
                            apply_sales(&mut engine, chunk, columns)
                        };
                        match result {
                            Ok(()) => {
                                latencies.push(started.elapsed());
                                break;
                            }
                            Err(err) if err.kind() == ErrorKind::Conflict => conflicts += 1,
                            Err(err) => panic!("writer {w}: {err}"),
                        }
                    }
                }
                (latencies, conflicts)
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut conflicts = 0;
    for handle in handles {
        let (l, c) = handle.join().expect("a writer panicked");
        latencies.extend(l);
        conflicts += c;
    }
    let elapsed = started.elapsed();
    let busy = elapsed.as_nanos() as f64 * writers as f64;
    Run {
        events_per_s: (writers as u64 * per_writer) as f64 / elapsed.as_secs_f64(),
        latencies,
        conflicts,
        append_share: time.append.load(Ordering::Relaxed) as f64 / busy,
        read_share: time.read.load(Ordering::Relaxed) as f64 / busy,
        caught_up: time.caught_up.load(Ordering::Relaxed) as f64
            / (writers as u64 * per_writer) as f64,
        reloaded: time.reloaded.load(Ordering::Relaxed) as f64
            / (writers as u64 * per_writer) as f64,
        lock_share: time.lock.load(Ordering::Relaxed) as f64 / busy,
        round_trips: time.round_trips.load(Ordering::Relaxed) as f64
            / (writers as u64 * per_writer) as f64,
        handed: time.handed.load(Ordering::Relaxed) as f64 / (writers as u64 * per_writer) as f64,
        leads: time.leads.load(Ordering::Relaxed),
        groups: time.groups.load(Ordering::Relaxed),
        held_ms: time.held.load(Ordering::Relaxed) as f64 / 1e6,
        append_ms: time.append.load(Ordering::Relaxed) as f64 / 1e6,
        floor_ms: time.floor.load(Ordering::Relaxed) as f64 / 1e3,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The PEERS.md peer: one sale per durable transaction, the upline walked
/// by a recursive CTE joined to a 7-level rate table, all lines inserted
/// by one `INSERT … SELECT`, NUMERIC money.
fn peer(url: &str, sponsors_of: &[u64], sales_count: u64) -> (f64, Duration, Duration) {
    let mut db = Client::connect(url, NoTls).expect("the server answers");
    db.batch_execute(
        "DROP TABLE IF EXISTS peer_lines, peer_sales, peer_members, peer_rates;
         CREATE TABLE peer_members (id BIGINT PRIMARY KEY, sponsor BIGINT);
         CREATE TABLE peer_rates (level INT PRIMARY KEY, rate NUMERIC NOT NULL);
         INSERT INTO peer_rates VALUES (1, 0.20), (2, 0.15), (3, 0.10), (4, 0.08),
                                      (5, 0.05), (6, 0.03), (7, 0.02);
         CREATE TABLE peer_sales (id BIGINT PRIMARY KEY, buyer BIGINT NOT NULL, amount NUMERIC NOT NULL);
         CREATE TABLE peer_lines (sale BIGINT NOT NULL, level INT NOT NULL, earner BIGINT NOT NULL,
                                  amount NUMERIC NOT NULL, PRIMARY KEY (sale, level));",
    )
    .expect("peer schema");
    let ids: Vec<i64> = (0..sponsors_of.len() as i64).collect();
    let sponsor: Vec<Option<i64>> = sponsors_of
        .iter()
        .enumerate()
        .map(|(i, &s)| (i > 0).then_some(s as i64))
        .collect();
    db.execute(
        "INSERT INTO peer_members SELECT * FROM unnest($1::INT8[], $2::INT8[])",
        &[&ids, &sponsor],
    )
    .expect("peer members");
    let insert_sale = db
        .prepare("INSERT INTO peer_sales VALUES ($1, $2, $3::TEXT::NUMERIC)")
        .expect("prepare");
    let insert_lines = db
        .prepare(
            "INSERT INTO peer_lines
             WITH RECURSIVE up(level, earner) AS (
                 SELECT 1, m.sponsor FROM peer_members m WHERE m.id = $2 AND m.sponsor IS NOT NULL
                 UNION ALL
                 SELECT up.level + 1, m.sponsor FROM up JOIN peer_members m ON m.id = up.earner
                 WHERE up.level < 7 AND m.sponsor IS NOT NULL
             )
             SELECT $1, up.level, up.earner, round($3::TEXT::NUMERIC * r.rate, 2)
             FROM up JOIN peer_rates r ON r.level = up.level",
        )
        .expect("prepare");
    let members = sponsors_of.len() as u64;
    let mut latencies = Vec::with_capacity(sales_count as usize);
    let started = Instant::now();
    for n in 0..sales_count {
        let mut rng = Rng(n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5A1E);
        let cents = 100 + rng.below(99_900);
        let buyer = rng.below(members) as i64;
        let amount = format!("{}.{:02}", cents / 100, cents % 100);
        let one = Instant::now();
        let mut tx = db.transaction().expect("begin");
        tx.execute(&insert_sale, &[&(n as i64), &buyer, &amount])
            .expect("sale");
        tx.execute(&insert_lines, &[&(n as i64), &buyer, &amount])
            .expect("lines");
        tx.commit().expect("commit");
        latencies.push(one.elapsed());
    }
    let rate = sales_count as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    (
        rate,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
    )
}

fn main() {
    let args = args();
    let mut admin = Client::connect(&args.url, NoTls).expect("the server answers");
    admin
        .batch_execute("DROP DATABASE IF EXISTS upline_bench")
        .expect("drop");
    admin
        .batch_execute("CREATE DATABASE upline_bench")
        .expect("create");
    let url = with_db(&args.url, "upline_bench");
    let members = if args.quick { 1_000 } else { args.members };
    let network = sponsors(members, 42);
    let joins = join_events(&network);
    println!(
        "PostgreSQL durable throughput, one programme per row, {members} members, default 7-level plan"
    );
    // The engine alone, same sales and batches into a MemoryStore: what
    // PostgreSQL adds is the difference.
    for &batch in &args.batches {
        let total = if args.quick { 20_000 } else { 200_000 };
        let mut engine = Engine::open(Box::new(MemoryStore::new())).expect("memory store");
        for chunk in joins.chunks(10_000) {
            engine.apply_batch(chunk).expect("the network is stored");
        }
        let events = sales(members, 1_000_000_000, total);
        let started = Instant::now();
        for chunk in events.chunks(batch) {
            apply_sales(&mut engine, chunk, args.columns && batch > 1).expect("stored");
        }
        println!(
            "engine alone (MemoryStore), batches of {batch}{}: {:.0} events/s ({total} sales)",
            if args.columns && batch > 1 {
                " as columns"
            } else {
                ""
            },
            total as f64 / started.elapsed().as_secs_f64()
        );
    }
    println!();
    println!(
        "| batch | writers | events | events/s | conflicts met | p50 ms | p99 ms | in append | in reads | in lock | caught up | reloaded | round trips | stored by another writer |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let writer_counts: &[usize] = &args.writers;
    for &batch in &args.batches {
        let total: u64 = match (batch, args.quick) {
            (1, true) => 200,
            (1, false) => 4_000,
            (100, true) => 2_000,
            (100, false) => 40_000,
            (_, true) => 20_000,
            (_, false) => 200_000,
        }
        .max(batch as u64);
        for &writers in writer_counts {
            let programme = format!("b{batch}-w{writers}");
            let mut setup = open(&url, &programme);
            for chunk in joins.chunks(10_000) {
                setup.apply_batch(chunk).expect("the network is stored");
            }
            drop(setup);
            let per_writer = total / writers as u64;
            let mut result = run(
                &url,
                &programme,
                members,
                batch,
                writers,
                per_writer,
                args.columns,
            );
            result.latencies.sort();
            let (p50, p99) = if batch == 1 {
                (
                    format!("{:.2}", ms(percentile(&result.latencies, 0.5))),
                    format!("{:.2}", ms(percentile(&result.latencies, 0.99))),
                )
            } else {
                ("".into(), "".into())
            };
            println!(
                "| {batch} | {writers} | {} | {:.0} | {} | {p50} | {p99} | {:.0} % | {:.0} % | {:.0} % | {:.2} | {:.2} | {:.2} | {:.2} |",
                per_writer * writers as u64,
                result.events_per_s,
                result.conflicts,
                result.append_share * 100.0,
                result.read_share * 100.0,
                result.lock_share * 100.0,
                result.caught_up,
                result.reloaded,
                result.round_trips,
                result.handed
            );
            if batch == 1 && writers > 1 {
                let measured = match result.floor_ms > 0.0 {
                    true => format!("{:.3} ms", result.floor_ms),
                    false => "not measured".to_string(),
                };
                eprintln!(
                    "  batch 1, {writers} writers: commit time measured at the end {measured} \
                     (GroupCommit::Auto hands off from {:.3} ms; a holder's times include \
                     its group's hand-off)",
                    upline_postgres::SLOW_COMMIT.as_secs_f64() * 1e3
                );
            }
            if result.leads > 0 {
                eprintln!(
                    "  batch {batch}, {writers} writers: {} holds of the queue, {} groups, \
                     {:.3} ms held a group, {:.3} ms in append a group",
                    result.leads,
                    result.groups,
                    result.held_ms / result.groups.max(1) as f64,
                    result.append_ms / result.groups.max(1) as f64
                );
            }
            let check = open(&url, &programme);
            assert_eq!(
                check.audit_head().seq,
                members + per_writer * writers as u64,
                "every sale stored once"
            );
        }
    }
    if !args.peer {
        return;
    }
    let peer_sales = if args.quick { 200 } else { 4_000 };
    let (rate, p50, p99) = peer(&url, &network, peer_sales);
    println!(
        "\npeer \"PostgreSQL 15, online\" (one sale per transaction, recursive CTE, one client): \
         {rate:.0} sales/s, p50 {:.2} ms, p99 {:.2} ms ({peer_sales} sales)",
        ms(p50),
        ms(p99)
    );
}
