//! Failover against real PostgreSQL 15 servers: a primary with
//! `synchronous_commit = on` and `synchronous_standby_names` naming a
//! streaming standby (made with `pg_basebackup -R`). Four writers in
//! separate OS processes append sales to one programme through a
//! multi-host URL with `target_session_attrs=read-write`; mid-stream the
//! primary is killed (`pg_ctl stop -m immediate`) and the standby promoted
//! (`pg_ctl promote`), and the writers' stores reconnect to it by
//! themselves. Afterwards, on the promoted server: no acknowledged event
//! is lost (every event a writer reported after its ack, before the kill
//! or after, is stored at its seq with its hash), none is partial, every
//! sale is stored once, the chain verifies on a fresh open, and money is
//! conserved.
//!
//! Both servers are this test's own throwaway clusters
//! (`target/pg-failover-primary` on port 54353, `target/pg-failover-standby`
//! on 54354, through `.ci/postgres.sh`). Ignored by a plain `cargo test`;
//! `.ci/run` runs it with `--ignored`. It skips, saying why, when the
//! PostgreSQL 15 binaries are absent, except under `CI=true`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::Cluster;
use postgres::{Client, NoTls};

const WRITERS: u64 = 4;
/// Sales per writer; each also sends the first `OVERLAP` of the next
/// writer's (the same webhook at two workers).
const BLOCK: u64 = 800;
const OVERLAP: u64 = 80;
/// Acknowledged events before the primary is killed.
const BEFORE_KILL: usize = 600;

#[test]
#[ignore = "run by the crash and failover tests as a child process"]
fn writer_child() {
    common::writer_child();
}

/// Waits until the primary reports its standby as synchronous.
fn wait_for_sync_standby(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut db = Client::connect(url, NoTls).unwrap();
    loop {
        let row = db
            .query_opt(
                "SELECT application_name, sync_state FROM pg_stat_replication",
                &[],
            )
            .unwrap();
        if let Some(row) = row {
            let (name, state): (String, String) = (row.get(0), row.get(1));
            if state == "sync" {
                assert_eq!(name, "upline_standby");
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the standby did not become synchronous"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[ignore = "starts, kills and promotes its own PostgreSQL clusters: .ci/run runs it with --ignored"]
fn a_promoted_synchronous_standby_has_every_acknowledged_event() {
    if !common::may_run("the failover test") {
        return;
    }
    let started = Instant::now();
    let primary = Cluster::start(
        "pg-failover-primary",
        54353,
        "-c synchronous_standby_names=upline_standby",
    );
    let standby = Cluster::standby_of(
        &primary,
        "pg-failover-standby",
        54354,
        "-c cluster_name=upline_standby",
    );
    wait_for_sync_standby(&primary.url());
    // What a host configures: both servers, the writable one wanted.
    let url = format!(
        "postgresql://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
        primary.port, standby.port
    );
    common::join_members(&url);
    let acks = common::ack_dir("pg-failover-acks");
    let mut writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let first = w * BLOCK;
            common::spawn_writer(
                &url,
                first..first + BLOCK + OVERLAP,
                &acks.join(format!("w{w}.acks")),
                w + 1,
                1..=50,
                // Odd writers: single events, handed to the lock's holder.
                w % 2 == 1,
            )
        })
        .collect();

    // Mid-stream: once the writers have enough acknowledged, kill the
    // primary, read what was acknowledged by then, promote the standby.
    let deadline = Instant::now() + Duration::from_secs(120);
    while common::read_acks(&acks).len() < BEFORE_KILL {
        assert!(Instant::now() < deadline, "the writers did not get going");
        for (w, writer) in writers.iter_mut().enumerate() {
            if let Some(status) = writer.try_wait().unwrap() {
                panic!(
                    "writer {w} ended before the failover ({status}): {}",
                    std::fs::read_to_string(acks.join(format!("w{w}.err"))).unwrap_or_default()
                );
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    primary.crash();
    let killed_at = Instant::now();
    let before = common::read_acks(&acks);
    std::thread::sleep(Duration::from_millis(300));
    standby.script("promote", &[]);
    let promoted_after = killed_at.elapsed();

    for (w, writer) in writers.iter_mut().enumerate() {
        let status = writer.wait().unwrap();
        assert!(
            status.success(),
            "writer {w} failed ({status}): {}",
            std::fs::read_to_string(acks.join(format!("w{w}.err"))).unwrap_or_default()
        );
    }
    let all = common::read_acks(&acks);
    // Every event acknowledged before the kill is reported again, the
    // same, among all reports (files are only appended to).
    let reported: BTreeMap<(String, u64), String> = all
        .iter()
        .map(|a| ((a.sale.clone(), a.seq), a.hash.clone()))
        .collect();
    for ack in &before {
        assert_eq!(
            reported.get(&(ack.sale.clone(), ack.seq)),
            Some(&ack.hash),
            "{ack:?}"
        );
    }
    assert!(all.len() > before.len(), "no write after the failover");
    let expected: BTreeSet<u64> = (0..WRITERS * BLOCK + OVERLAP).collect();
    // The promoted standby alone: the old primary stays down.
    let books = common::check_books(&standby.url(), &all, &expected);
    eprintln!(
        "failover test: {} acknowledged before the primary was killed, {} in all; \
         standby promoted {promoted_after:.1?} after the kill; {} sales stored once; \
         head {}; {:.1?}",
        before.len(),
        all.len(),
        books.sales,
        books.head,
        started.elapsed()
    );
}
