//! Crashes against a real PostgreSQL 15: writers in separate OS processes
//! append sales to one programme while the test kills 50 of them with
//! SIGKILL at random moments (three in four, where possible, inside an
//! `apply_batch` call: mid-staging, mid-append, mid-catch-up; the others
//! anywhere, often mid-open; the summary line counts where each landed) and
//! stops the server 5 times with `pg_ctl stop -m immediate`, restarting it
//! after a random pause. Every fourth block is one batch of 1,100 sales,
//! which sends its events ahead into a `COPY` that the kills and crashes
//! cut. A killed writer's block of sales is sent again by
//! a new writer, as a host retries webhooks a dead worker had taken.
//! Afterwards no acknowledged event is lost (each writer reported every
//! acknowledged event's sale, seq and hash to a file after the ack), none
//! is partial (the stored seqs have no gap, every row is a whole event,
//! and a fresh engine recomputes and checks every hash), every sale is
//! stored once, and money is conserved.
//!
//! The server is this test's own throwaway cluster (`target/pg-crash`,
//! port 54351, through `.ci/postgres.sh`), never the shared one of the
//! other tests. Ignored by a plain `cargo test`; `.ci/run` runs it with
//! `--ignored`. It skips, saying why, when the PostgreSQL 15 binaries are
//! absent, except under `CI=true`. `UPLINE_PG_CRASH_SEED` picks the
//! random moments (printed at the start).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Cluster, Xorshift};

/// Writers killed with SIGKILL.
const KILLS: usize = 50;
/// Server crashes (`pg_ctl stop -m immediate`) and restarts.
const SERVER_CRASHES: usize = 5;
/// Writers running at once.
const SLOTS: usize = 6;
/// Sales in one block; a block also sends the first `OVERLAP` sales of the
/// next one (the same webhook at two workers).
const BLOCK: u64 = 150;
const OVERLAP: u64 = 15;
/// Every fourth block is a bulk one: this many sales (its own and those
/// of the blocks after it, which send them too) in one `apply_batch`
/// call, large enough to send its events ahead into a `COPY`, which the
/// kills and crashes then cut.
const BULK: u64 = 1_100;

/// Block `block`'s sales.
fn block_ids(block: u64) -> std::ops::Range<u64> {
    let first = block * BLOCK;
    // Odd blocks send single events: bulk ones are among the even.
    match block % 4 {
        2 => first..first + BULK,
        _ => first..first + BLOCK + OVERLAP,
    }
}

#[test]
#[ignore = "run by the crash and failover tests as a child process"]
fn writer_child() {
    common::writer_child();
}

struct Running {
    child: Child,
    block: u64,
}

#[test]
#[ignore = "starts and crashes its own PostgreSQL cluster: .ci/run runs it with --ignored"]
fn killed_writers_and_a_crashing_server_lose_no_acknowledged_event() {
    if !common::may_run("the crash test") {
        return;
    }
    let seed: u64 = std::env::var("UPLINE_PG_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash test: UPLINE_PG_CRASH_SEED={seed}");
    let mut rng = Xorshift(seed | 1);
    let started = Instant::now();
    let cluster = Arc::new(Cluster::start("pg-crash", 54351, ""));
    let url = cluster.url();
    common::join_members(&url);
    let acks = common::ack_dir("pg-crash-acks");

    // The server crashes on a thread of its own, at random moments while
    // the writers run and are being killed.
    let crashes_done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let crasher = {
        let cluster = Arc::clone(&cluster);
        let done = Arc::clone(&crashes_done);
        let stop = Arc::clone(&stop);
        let mut rng = Xorshift(seed.rotate_left(17) | 1);
        std::thread::spawn(move || {
            for _ in 0..SERVER_CRASHES {
                std::thread::sleep(Duration::from_millis(800 + rng.below(1500)));
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                cluster.crash();
                std::thread::sleep(Duration::from_millis(100 + rng.below(600)));
                cluster.script("start", &[]);
                done.fetch_add(1, Ordering::SeqCst);
            }
        })
    };

    let mut next_block = 0u64;
    let mut pending: Vec<u64> = Vec::new();
    let mut running: Vec<Running> = Vec::new();
    let mut spawned = 0u64;
    let mut kills = 0usize;
    let mut killed_in: BTreeMap<&str, usize> = BTreeMap::new();
    let mut finished_blocks = 0usize;
    let mut next_kill = Instant::now() + Duration::from_millis(300 + rng.below(400));
    let deadline = Instant::now() + Duration::from_secs(240);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loop {
        assert!(Instant::now() < deadline, "the crash test did not settle");
        // Reap writers that finished or failed by themselves.
        let mut i = 0;
        while i < running.len() {
            match running[i].child.try_wait().unwrap() {
                None => i += 1,
                Some(status) => {
                    let done = running.swap_remove(i);
                    let err = acks.join(format!("b{}.err", done.block));
                    assert!(
                        status.success(),
                        "writer of block {} failed ({status}): {}",
                        done.block,
                        std::fs::read_to_string(err).unwrap_or_default()
                    );
                    finished_blocks += 1;
                }
            }
        }
        let chaos = kills < KILLS || crashes_done.load(Ordering::SeqCst) < SERVER_CRASHES;
        if !chaos && pending.is_empty() && running.is_empty() {
            return;
        }
        // Keep every slot busy: first the blocks of killed writers, then
        // new blocks while the chaos lasts.
        while running.len() < SLOTS {
            let block = match pending.pop() {
                Some(block) => block,
                None if chaos => {
                    next_block += 1;
                    next_block - 1
                }
                None => break,
            };
            let ids = block_ids(block);
            let batches = match ids.end - ids.start {
                BULK => BULK..=BULK,
                _ => 1..=20,
            };
            let child = common::spawn_writer(
                &url,
                ids,
                &acks.join(format!("b{block}.acks")),
                seed ^ spawned,
                batches,
                // Odd blocks: single events, handed to the lock's holder.
                block % 2 == 1,
            );
            spawned += 1;
            running.push(Running { child, block });
        }
        if kills < KILLS && Instant::now() >= next_kill && !running.is_empty() {
            // A writer's life is mostly opening (a debug build replaying
            // the log) or applying: three kills in four go to a writer
            // inside apply_batch when there is one, the rest to any.
            let applying: Vec<usize> = (0..running.len())
                .filter(|&i| {
                    common::killed_in(&acks.join(format!("b{}.acks", running[i].block)))
                        == "applying"
                })
                .collect();
            let victim = if !applying.is_empty() && rng.below(4) < 3 {
                applying[rng.below(applying.len() as u64) as usize]
            } else {
                rng.below(running.len() as u64) as usize
            };
            let mut gone = running.swap_remove(victim);
            // Child::kill sends SIGKILL.
            gone.child.kill().unwrap();
            let status = gone.child.wait().unwrap();
            if status.success() {
                // It finished just before the signal: nothing to redo.
                finished_blocks += 1;
            } else {
                use std::os::unix::process::ExitStatusExt;
                let err = acks.join(format!("b{}.err", gone.block));
                assert_eq!(
                    status.signal(),
                    Some(9),
                    "writer of block {} failed ({status}) before it was killed: {}",
                    gone.block,
                    std::fs::read_to_string(err).unwrap_or_default()
                );
                kills += 1;
                let at = common::killed_in(&acks.join(format!("b{}.acks", gone.block)));
                *killed_in.entry(at).or_insert(0) += 1;
                pending.push(gone.block);
            }
            next_kill = Instant::now() + Duration::from_millis(100 + rng.below(500));
        }
        std::thread::sleep(Duration::from_millis(5));
    }));
    stop.store(true, Ordering::SeqCst);
    for mut left in running.drain(..) {
        let _ = left.child.kill();
        let _ = left.child.wait();
    }
    crasher.join().unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    assert_eq!(kills, KILLS);
    // Most writers spend their time inside apply_batch: the signal must
    // have found some there (mid-staging, mid-append or mid-catch-up).
    assert!(
        killed_in.get("applying").copied().unwrap_or(0) > 0,
        "{killed_in:?}"
    );
    assert_eq!(crashes_done.load(Ordering::SeqCst), SERVER_CRASHES);

    let acks = common::read_acks(&acks);
    let expected: BTreeSet<u64> = (0..next_block).flat_map(block_ids).collect();
    // A sale acknowledged twice (a retry, or at two writers) has one seq.
    let mut seen: BTreeMap<&str, u64> = BTreeMap::new();
    for ack in &acks {
        let before = seen.insert(&ack.sale, ack.seq);
        assert!(
            before.is_none_or(|seq| seq == ack.seq),
            "{ack:?} vs {before:?}"
        );
    }
    let books = common::check_books(&url, &acks, &expected);
    eprintln!(
        "crash test: {spawned} writers, {kills} killed with SIGKILL (where: {killed_in:?}), \
         {SERVER_CRASHES} server crashes; {} blocks finished; {} acknowledgements checked; \
         {} sales stored once; head {}; {:.1?}",
        finished_blocks,
        acks.len(),
        books.sales,
        books.head,
        started.elapsed()
    );
}
